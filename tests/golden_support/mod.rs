//! Running one golden case through the `learndyn` binary, normalising its output files,
//! and comparing them with (or blessing them as) the references in `tests/golden/<case>/`.

pub mod compare;
pub mod json;

use compare::{Mismatches, Rule};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a case runs.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// `learndyn run <config> --out DIR --set ...`; the path is relative to the repository.
    Run(&'static str),
    /// `learndyn scan <spec> --out DIR`; the path is relative to the repository.
    Scan(&'static str),
    /// `learndyn figure <id> --quick --dir <repo>/figures`, run in a temporary folder, so its
    /// `target/figures-quick/<id>/` is private to the case.
    Figure(&'static str),
}

/// One golden case: a name (also its folder under `tests/golden/`), what it runs, and the
/// `--set` overrides of a run.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Folder name under `tests/golden/`.
    pub name: &'static str,
    /// What runs.
    pub source: Source,
    /// `section.key=value` overrides (runs only).
    pub set: &'static [&'static str],
}

/// Members dropped from every JSON file before comparing: they record when, where and by
/// which build the files were made, not what was computed (`timings_s` holds the wall-clock
/// seconds of each stage and of the whole run; `files_sha256` hashes files whose floats may
/// differ in the last digits on another machine, which the comparison allows for).
pub const DROPPED_KEYS: &[&str] = &[
    "timings_s",
    "git_revision",
    "learndyn_version",
    "files_sha256",
];

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether this is a blessing run (`LEARNDYN_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var("LEARNDYN_BLESS").is_ok_and(|v| v == "1")
}

/// The machine fingerprint: target, the x86 SIMD features that select faer's and gemm's
/// kernels at run time, the faer version in Cargo.lock, and the C library (its libm gives
/// `exp`, `tanh`, ...). Equal fingerprints promise bit-identical floats.
pub fn fingerprint() -> String {
    let mut parts = vec![format!(
        "{}-{}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(target_env = "gnu") {
            "gnu"
        } else {
            "other"
        }
    )];
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        parts.push(format!("avx2={}", is_x86_feature_detected!("avx2")));
        parts.push(format!("avx512f={}", is_x86_feature_detected!("avx512f")));
        parts.push(format!("fma={}", is_x86_feature_detected!("fma")));
    }
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap_or_default();
    let faer = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"faer\"\n"))
        .and_then(|p| p.split("version = \"").nth(1))
        .and_then(|v| v.split('"').next())
        .unwrap_or("unknown");
    parts.push(format!("faer={faer}"));
    parts.push(format!("libc={}", libc_version()));
    parts.join(" ")
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn libc_version() -> String {
    // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    format!("glibc-{}", v.to_string_lossy())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn libc_version() -> String {
    "unknown".into()
}

/// A fresh private folder for one case, removed when the case passes.
fn scratch(case: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-golden-{}-{case}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Worker threads of scans and scan figures: `LEARNDYN_GOLDEN_THREADS`, default 1 (the test
/// harness already runs cases in parallel). Scan tables do not depend on it.
fn threads() -> String {
    std::env::var("LEARNDYN_GOLDEN_THREADS").unwrap_or_else(|_| "1".into())
}

/// Runs the case in `tmp` and returns the folder holding its outputs.
fn run(case: &Case, tmp: &Path) -> PathBuf {
    let bin = env!("CARGO_BIN_EXE_learndyn");
    let mut cmd = Command::new(bin);
    cmd.current_dir(tmp);
    let out = match case.source {
        Source::Run(config) => {
            let out = tmp.join("out");
            cmd.arg("run")
                .arg(repo().join(config))
                .arg("--out")
                .arg(&out);
            for s in case.set {
                cmd.args(["--set", s]);
            }
            out
        }
        Source::Scan(spec) => {
            assert!(case.set.is_empty(), "scan cases take no --set");
            let out = tmp.join("out");
            cmd.arg("scan")
                .arg(repo().join(spec))
                .arg("--out")
                .arg(&out);
            cmd.args(["--threads", &threads()]);
            out
        }
        Source::Figure(id) => {
            assert!(
                case.set.is_empty(),
                "figure cases take their spec's quick overrides"
            );
            cmd.args(["figure", id, "--quick", "--dir"])
                .arg(repo().join("figures"));
            cmd.args(["--threads", &threads()]);
            tmp.join("target").join("figures-quick").join(id)
        }
    };
    let o = cmd.output().expect("cannot start the learndyn binary");
    assert!(
        o.status.success(),
        "{}: {:?} failed ({}):\n{}",
        case.name,
        cmd,
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The compared files under `dir` (CSV, JSON and `.npy`, not the images), by path relative
/// to `dir` with `/` separators, normalised: JSON without [`DROPPED_KEYS`] and with the
/// machine's paths replaced by placeholders, CSV with the same path replacement, `.npy` as
/// written.
fn collect(dir: &Path, tmp: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut subst: Vec<(String, &str)> = Vec::new();
    for (p, name) in [
        (PathBuf::from(env!("CARGO_BIN_EXE_learndyn")), "learndyn"),
        (tmp.to_path_buf(), "<tmp>"),
        (repo(), "<repo>"),
    ] {
        if let Ok(c) = p.canonicalize() {
            subst.push((c.display().to_string(), name));
        }
        subst.push((p.display().to_string(), name));
    }
    let replace = |s: &str| {
        subst.iter().fold(s.to_string(), |acc, (from, to)| {
            acc.replace(from.as_str(), to)
        })
    };
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap();
            let rel = rel
                .iter()
                .map(|c| c.to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(&p).unwrap();
            let kept = match p.extension().and_then(|x| x.to_str()) {
                _ if name.starts_with('.') => None,
                Some("npy") => Some(bytes),
                Some("csv") => Some(replace(&String::from_utf8(bytes).unwrap()).into_bytes()),
                Some("json") => {
                    let text = String::from_utf8(bytes).unwrap();
                    let mut v = json::parse(&text)
                        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
                    json::normalize(&mut v, DROPPED_KEYS, &replace);
                    Some(json::pretty(&v).into_bytes())
                }
                _ => None,
            };
            if let Some(b) = kept {
                files.insert(rel, b);
            }
        }
    }
    files
}

/// Reads the committed references of a case (every file but `fingerprint.txt`).
fn references(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "fingerprint.txt") {
                let rel = p.strip_prefix(dir).unwrap();
                let rel = rel
                    .iter()
                    .map(|c| c.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

/// Writes the references of a case, replacing the old ones.
fn bless(refdir: &Path, got: &BTreeMap<String, Vec<u8>>, fp: &str) {
    let _ = std::fs::remove_dir_all(refdir);
    for (rel, bytes) in got {
        let p = refdir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    std::fs::write(refdir.join("fingerprint.txt"), format!("{fp}\n")).unwrap();
}

/// Compares every file of a case with its reference; returns the mismatches.
pub fn compare_files(
    want: &BTreeMap<String, Vec<u8>>,
    got: &BTreeMap<String, Vec<u8>>,
    rule: Rule,
) -> Mismatches {
    let mut m = Mismatches::default();
    for (rel, w) in want {
        let Some(g) = got.get(rel) else {
            m.push(rel, "file".into(), "present".into(), "missing".into());
            continue;
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if rel.ends_with(".npy") {
            compare::npy(rel, w, g, rule, &mut m);
        } else if rel.ends_with(".csv") {
            compare::csv(rel, &text(w), &text(g), rule, &mut m);
        } else {
            compare::json(rel, &text(w), &text(g), rule, &mut m);
        }
    }
    for rel in got.keys().filter(|k| !want.contains_key(*k)) {
        m.push(rel, "file".into(), "missing".into(), "present".into());
    }
    m
}

/// Runs a case and compares it with its references (or blesses them).
pub fn check(case: &Case) {
    let started = std::time::Instant::now();
    let tmp = scratch(case.name);
    let out = run(case, &tmp);
    let got = collect(&out, &tmp);
    assert!(!got.is_empty(), "{}: the run wrote no files", case.name);
    let refdir = repo().join("tests").join("golden").join(case.name);
    let fp = fingerprint();
    if blessing() {
        bless(&refdir, &got, &fp);
        eprintln!("{}: blessed {} files", case.name, got.len());
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    let fp_file = refdir.join("fingerprint.txt");
    let Ok(ref_fp) = std::fs::read_to_string(&fp_file) else {
        panic!(
            "{}: no reference in {}; create it with LEARNDYN_BLESS=1 cargo test --release --test golden",
            case.name,
            refdir.display()
        );
    };
    let rule = if ref_fp.trim() == fp {
        Rule::Exact
    } else {
        eprintln!(
            "note: {}: references were written on `{}`, this machine is `{fp}`: floats are compared with relative tolerance {:e} instead of bit for bit",
            case.name,
            ref_fp.trim(),
            compare::RTOL
        );
        Rule::Tolerant
    };
    let m = compare_files(&references(&refdir), &got, rule);
    eprintln!(
        "{}: {} files compared ({:?}) in {:.2} s",
        case.name,
        got.len(),
        rule,
        started.elapsed().as_secs_f64()
    );
    if m.total == 0 {
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    let mut msg = format!(
        "golden case `{}`: {} mismatch(es) against {} ({:?} comparison); the first {}:\n",
        case.name,
        m.total,
        refdir.display(),
        rule,
        m.first.len()
    );
    for x in &m.first {
        msg.push_str(&format!(
            "  {} {}: expected {}, got {}\n",
            x.file, x.at, x.expected, x.got
        ));
    }
    msg.push_str(&format!(
        "This run's files are in {}.\nIf the change is intended, regenerate the references with \
         LEARNDYN_BLESS=1 cargo test --release --test golden and list the change and its reason \
         in CHANGELOG.md (see tests/golden/README.md).",
        out.display()
    ));
    panic!("{msg}");
}
