//! The equation-ID index `theory/README.md` is complete and true (issue 10 item 7).
//!
//! An equation ID is `PREFIX-N` (one to three capitals, a hyphen, a number: `DL-5`, `IN-10`).
//! A note *defines* an ID where it names it in a heading or in a bold span (`**AR-2 (...)**`);
//! every other occurrence is a reference. Math (`$...$`, `$$...$$`) is skipped, so `A-1` in
//! `$|A-1|$` is not an ID. Only prefixes of defined IDs count as IDs elsewhere, so `AVX-512` or
//! `UTF-8` are not. A range `RN-1..RN-3` names every ID from the first to the last.
//!
//! The index has one table per note (a `### [note.md](note.md): ...` heading) and one row per ID:
//! `| ID | statement | code | tests |`. Code items are backticked paths relative to `src/`
//! (`theory::riccati::stable_square`); tests are backticked `file::test` (`tests/file.rs`,
//! function `test`), or the cell starts with `none` and says why (other backticked words there
//! are not tests).
//!
//! A test *names* an ID if its doc comment (`///` above `#[test]`) or its name does
//! (`ar2_...` names AR-2; the prefix in lower case joined to the number).
//!
//! The checks below fail when
//! - an ID defined in a note is missing from the index, listed twice, or under the wrong note;
//! - a note, doc page, figure README, source or test cites an ID that no note defines;
//! - the tests listed for an ID differ from the tests that name it (so a test that checks an ID
//!   must name it, and the index must list it);
//! - a code item of the index no longer exists (its module file is gone, or the item's name no
//!   longer occurs in it).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files in `dir` (not recursive) whose name ends with `suffix`, sorted.
fn files_in(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// All `.rs` files under `dir`, recursively, sorted.
fn rust_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Reading IDs
// ---------------------------------------------------------------------------------------------

/// An equation ID, ordered by prefix, then number (`DL-2` < `DL-10`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Id {
    prefix: String,
    n: u32,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.prefix, self.n)
    }
}

/// `(id, start, end)` byte spans of the ID-shaped tokens of `text`: a maximal run of one to three
/// ASCII capitals not preceded by an identifier character or `-`, then `-`, digits, and no
/// identifier character after them.
fn tokens(text: &str) -> Vec<(Id, usize, usize)> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_uppercase() || (i > 0 && (ident(b[i - 1]) || b[i - 1] == b'-')) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_uppercase() {
            j += 1;
        }
        let mut k = j + 1;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        let ok = (1..=3).contains(&(j - i))
            && j < b.len()
            && b[j] == b'-'
            && k > j + 1
            && (k == b.len() || !ident(b[k]));
        if ok {
            let id = Id {
                prefix: text[i..j].to_string(),
                n: text[j + 1..k].parse().unwrap(),
            };
            out.push((id, i, k));
            i = k;
        } else {
            i = j;
        }
    }
    out
}

/// The IDs `text` names: its tokens, plus the IDs inside ranges `X-a..X-b` (spaces allowed
/// around `..`).
fn ids_in(text: &str) -> BTreeSet<Id> {
    let toks = tokens(text);
    let mut out: BTreeSet<Id> = toks.iter().map(|t| t.0.clone()).collect();
    for w in toks.windows(2) {
        let ((a, _, a_end), (z, z_start, _)) = (&w[0], &w[1]);
        if text[*a_end..*z_start].trim() == ".." && a.prefix == z.prefix && a.n < z.n {
            for n in a.n..z.n {
                out.insert(Id {
                    prefix: a.prefix.clone(),
                    n,
                });
            }
        }
    }
    out
}

/// `text` with `$$...$$` blocks and `$...$` spans (within one line) blanked out, keeping line
/// breaks so line numbers stay right.
fn strip_math(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find('$') {
        out.push_str(&rest[..p]);
        let after = &rest[p..];
        let (open, close_at) = if let Some(inner) = after.strip_prefix("$$") {
            (2, inner.find("$$").map(|q| q + 2))
        } else {
            (1, after[1..].find(['$', '\n']).map(|q| q + 1))
        };
        match close_at {
            Some(q) if after[q..].starts_with('$') => {
                let skipped = &after[..q + open];
                out.extend(skipped.chars().filter(|&c| c == '\n'));
                rest = &after[q + open..];
            }
            _ => {
                out.push_str(&after[..open]);
                rest = &after[open..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The theory notes (`theory/*.md` without the index).
fn notes() -> Vec<PathBuf> {
    files_in(&root().join("theory"), ".md")
        .into_iter()
        .filter(|p| !p.ends_with("README.md"))
        .collect()
}

/// ID -> the notes that define it (headings and bold spans, math skipped).
fn definitions() -> BTreeMap<Id, BTreeSet<String>> {
    let mut defs: BTreeMap<Id, BTreeSet<String>> = BTreeMap::new();
    for path in notes() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for line in strip_math(&read(&path)).lines() {
            let mut spans: Vec<&str> = Vec::new();
            if line.starts_with('#') {
                spans.push(line);
            }
            spans.extend(line.split("**").skip(1).step_by(2));
            for span in spans {
                for id in ids_in(span) {
                    defs.entry(id).or_default().insert(name.clone());
                }
            }
        }
    }
    defs
}

fn known_prefixes(defs: &BTreeMap<Id, BTreeSet<String>>) -> BTreeSet<String> {
    defs.keys().map(|id| id.prefix.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading tests and the index
// ---------------------------------------------------------------------------------------------

/// `file::test` -> the IDs the test names in its doc comment or its name.
fn tests_naming(prefixes: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<Id>> {
    let mut out = BTreeMap::new();
    for path in files_in(&root().join("tests"), ".rs") {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let Some(sig) = t.strip_prefix("fn ").or_else(|| t.strip_prefix("pub fn ")) else {
                continue;
            };
            let name: String = sig
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // The attributes, doc and plain comments directly above the function.
            let (mut doc, mut is_test) = (String::new(), false);
            for above in lines[..i].iter().rev().map(|l| l.trim()) {
                if let Some(d) = above.strip_prefix("///") {
                    doc = format!("{d} {doc}");
                } else if above.starts_with("#[") {
                    is_test |= above == "#[test]";
                } else if !above.starts_with("//") || above.starts_with("//!") {
                    break;
                }
            }
            if is_test {
                let mut ids: BTreeSet<Id> = ids_in(&doc)
                    .into_iter()
                    .filter(|id| prefixes.contains(&id.prefix))
                    .collect();
                ids.extend(ids_in_name(&name, prefixes));
                out.insert(format!("{stem}::{name}"), ids);
            }
        }
    }
    out
}

/// IDs in a snake_case test name: a part that is a known prefix in lower case followed by the
/// number, `ar2` or `in10`. (Two parts `in`, `2` are not read as IN-2: too easily a word.)
fn ids_in_name(name: &str, prefixes: &BTreeSet<String>) -> BTreeSet<Id> {
    let mut out = BTreeSet::new();
    for part in name.split('_') {
        let letters: String = part
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        let digits = &part[letters.len()..];
        let prefix = letters.to_ascii_uppercase();
        if prefixes.contains(&prefix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            out.insert(Id {
                prefix,
                n: digits.parse().unwrap(),
            });
        }
    }
    out
}

/// One row of the index.
#[derive(Debug)]
struct Row {
    id: Id,
    note: Option<String>,
    statement: String,
    code: Vec<String>,
    tests: Vec<String>,
    tests_cell: String,
    line: usize,
}

/// Backticked spans of a cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Cells of a table row, split at pipes that are not escaped as `\|`.
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    if out.last().is_some_and(|c| c.trim().is_empty()) {
        out.pop();
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The rows of `theory/README.md` whose first cell is an ID, with the note of their section.
fn index_rows() -> Vec<Row> {
    let text = read(&root().join("theory/README.md"));
    let mut note = None;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("### ") {
            note = line
                .split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .map(|(n, _)| n.to_string());
            continue;
        }
        if !line.starts_with('|') {
            continue;
        }
        let c = cells(line);
        let first = tokens(&c[0]);
        if first.len() != 1 || first[0].1 != 0 || first[0].2 != c[0].len() {
            continue;
        }
        assert_eq!(c.len(), 4, "theory/README.md:{}: expected 4 cells", i + 1);
        rows.push(Row {
            id: first[0].0.clone(),
            note: note.clone(),
            statement: c[1].clone(),
            code: backticked(&c[2]),
            tests: backticked(&c[3])
                .into_iter()
                .filter(|t| t.contains("::"))
                .collect(),
            tests_cell: c[3].clone(),
            line: i + 1,
        });
    }
    rows
}

fn report(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "{what} ({} problems):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

#[test]
fn id_scanner_reads_ids_ranges_and_skips_math() {
    let ids = |s: &str| -> Vec<String> { ids_in(s).iter().map(|i| i.to_string()).collect() };
    assert_eq!(
        ids("**DL-5 (x)**, RN-1..RN-3 and IN-10."),
        ["DL-5", "IN-10", "RN-1", "RN-2", "RN-3"]
    );
    assert_eq!(ids("FP-1 .. FP-2, C-6's"), ["C-6", "FP-1", "FP-2"]);
    assert_eq!(
        ids("AVX-512F, xDL-5, DL-5a, SIMD-4, -C-3"),
        Vec::<String>::new()
    );
    assert_eq!(ids("AVX-512 RC-6"), ["AVX-512", "RC-6"]);
    let stripped = strip_math("a $|A-1|$ b\n$$\nT-1\n$$ KU-2 $5 and");
    assert_eq!(stripped, "a  b\n\n\n KU-2 $5 and");
    let p: BTreeSet<String> = ["AR".to_string(), "IN".to_string(), "RC".to_string()].into();
    let named =
        |n: &str| -> Vec<String> { ids_in_name(n, &p).iter().map(|i| i.to_string()).collect() };
    assert_eq!(named("ar2_rate_rc6_x"), ["AR-2", "RC-6"]);
    assert_eq!(named("done_in_2_steps_rc_6"), Vec::<String>::new());
    assert_eq!(named("a1_a2_end_to_end"), Vec::<String>::new());
    assert_eq!(
        cells(r"| RL-2 | `1 - \|K\|` | `a::b` | none |"),
        ["RL-2", "`1 - |K|`", "`a::b`", "none"]
    );
}

/// Every ID a note defines has exactly one row, in the section of the note that defines it,
/// with a statement; the index lists no ID that no note defines; each ID is defined by one note.
#[test]
fn every_defined_id_is_in_the_index_under_its_note() {
    let defs = definitions();
    let rows = index_rows();
    let mut problems = Vec::new();
    for (id, in_notes) in &defs {
        if in_notes.len() != 1 {
            problems.push(format!("{id} is defined in several notes: {in_notes:?}"));
        }
        let listed: Vec<&Row> = rows.iter().filter(|r| &r.id == id).collect();
        match listed.as_slice() {
            [] => problems.push(format!(
                "{id} (defined in {}) is missing from theory/README.md",
                in_notes.iter().next().unwrap()
            )),
            [row] => {
                if !row.note.as_ref().is_some_and(|n| in_notes.contains(n)) {
                    problems.push(format!(
                        "theory/README.md:{}: {id} is listed under {:?} but defined in \
                         {in_notes:?}",
                        row.line, row.note
                    ));
                }
                if row.statement.is_empty() {
                    problems.push(format!(
                        "theory/README.md:{}: {id} has no statement",
                        row.line
                    ));
                }
            }
            _ => problems.push(format!("{id} is listed {} times", listed.len())),
        }
    }
    for row in &rows {
        if !defs.contains_key(&row.id) {
            problems.push(format!(
                "theory/README.md:{}: {} is not defined by any note",
                row.line, row.id
            ));
        }
    }
    assert!(
        defs.len() >= 80,
        "only {} IDs found: is the scanner broken?",
        defs.len()
    );
    report(&problems, "theory/README.md does not index every ID");
}

/// Every ID cited in the notes, docs, figure READMEs, sources and tests is defined by a note
/// (no dangling or mistyped citation).
#[test]
fn every_cited_id_is_defined() {
    let defs = definitions();
    let prefixes = known_prefixes(&defs);
    let r = root();
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for dir in ["theory", "docs"] {
        files.extend(files_in(&r.join(dir), ".md").into_iter().map(|p| (p, true)));
    }
    for fig in std::fs::read_dir(r.join("figures")).unwrap() {
        let readme = fig.unwrap().path().join("README.md");
        if readme.is_file() {
            files.push((readme, true));
        }
    }
    files.extend(
        rust_files_under(&r.join("src"))
            .into_iter()
            .map(|p| (p, false)),
    );
    files.extend(
        rust_files_under(&r.join("tests"))
            .into_iter()
            .map(|p| (p, false)),
    );
    let mut problems = Vec::new();
    for (path, markdown) in files {
        let raw = read(&path);
        let text = if markdown { strip_math(&raw) } else { raw };
        for (k, line) in text.lines().enumerate() {
            for id in ids_in(line) {
                if prefixes.contains(&id.prefix) && !defs.contains_key(&id) {
                    problems.push(format!("{}:{}: {id} is not defined", rel(&path), k + 1));
                }
            }
        }
    }
    report(&problems, "citations of undefined IDs");
}

/// For every ID, the index lists exactly the tests that name it (doc comment or name), or says
/// `none` when no test does.
#[test]
fn index_tests_are_the_tests_naming_each_id() {
    let defs = definitions();
    let naming = tests_naming(&known_prefixes(&defs));
    let mut by_id: BTreeMap<&Id, BTreeSet<&str>> = BTreeMap::new();
    for (test, ids) in &naming {
        for id in ids {
            by_id.entry(id).or_default().insert(test.as_str());
        }
    }
    let mut problems = Vec::new();
    for row in index_rows() {
        let listed: BTreeSet<&str> = row.tests.iter().map(String::as_str).collect();
        let actual = by_id.remove(&row.id).unwrap_or_default();
        if listed.is_empty() && !row.tests_cell.starts_with("none") {
            problems.push(format!(
                "theory/README.md:{}: {}: list its tests or say `none` and why",
                row.line, row.id
            ));
        }
        for t in listed.difference(&actual) {
            problems.push(format!(
                "theory/README.md:{}: {} lists `{t}`, which does not exist or does not name {} in \
                 its name or doc comment",
                row.line, row.id, row.id
            ));
        }
        for t in actual.difference(&listed) {
            problems.push(format!(
                "theory/README.md:{}: `{t}` names {} but is not listed for it",
                row.line, row.id
            ));
        }
    }
    for (id, tests) in by_id {
        problems.push(format!(
            "{tests:?} name {id}, which has no row in theory/README.md"
        ));
    }
    assert!(
        naming.len() >= 100,
        "only {} tests found: is the scanner broken?",
        naming.len()
    );
    report(
        &problems,
        "theory/README.md and the tests' doc comments disagree",
    );
}

/// The module file or directory of the longest module prefix of `segments` under `src/`, and
/// the number of segments it covers.
fn module_of(segments: &[&str]) -> Option<(Vec<PathBuf>, usize)> {
    let src = root().join("src");
    for k in (1..segments.len()).rev() {
        let base = segments[..k].iter().fold(src.clone(), |p, s| p.join(s));
        let file = base.with_extension("rs");
        if file.is_file() {
            return Some((vec![file], k));
        }
        if base.join("mod.rs").is_file() {
            return Some((rust_files_under(&base), k));
        }
    }
    None
}

fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        !text[..i].chars().next_back().is_some_and(ident)
            && !text[i + word.len()..].chars().next().is_some_and(ident)
    })
}

/// Every code item of the index exists: its module is a file (or directory) under `src/`, and
/// each remaining path segment occurs as a word in it.
#[test]
fn index_code_items_exist() {
    let mut problems = Vec::new();
    for row in index_rows() {
        if row.code.is_empty() {
            problems.push(format!(
                "theory/README.md:{}: {} lists no code",
                row.line, row.id
            ));
        }
        for item in &row.code {
            let segments: Vec<&str> = item.split("::").collect();
            let Some((files, k)) = module_of(&segments) else {
                problems.push(format!(
                    "theory/README.md:{}: {}: no module file for `{item}` under src/",
                    row.line, row.id
                ));
                continue;
            };
            let text: String = files.iter().map(|f| read(f)).collect::<Vec<_>>().join("\n");
            for seg in &segments[k..] {
                if !has_word(&text, seg) {
                    problems.push(format!(
                        "theory/README.md:{}: {}: `{seg}` of `{item}` not found in {}",
                        row.line,
                        row.id,
                        rel(&files[0])
                    ));
                }
            }
        }
    }
    report(&problems, "theory/README.md names code that does not exist");
}
