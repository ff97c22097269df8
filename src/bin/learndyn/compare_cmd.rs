//! `learndyn recovery compare`: DSA between datasets and fitted models
//! (`learndyn::recovery::compare`; docs/recovery.md "Comparing systems by DSA").

use super::{input, Failure};
use learndyn::npy::{self, Array3};
use learndyn::recovery::compare::{self, DsaSettings, Pair, Scores, Separation};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The embedding options of the command (`None`: M7's choice).
pub struct Embedding {
    pub components: Option<usize>,
    pub delays: Option<usize>,
    pub rank: Option<usize>,
    pub trials: usize,
}

/// The trajectories of an input: a dataset folder's observations, a model folder's latents,
/// or a `.npy` file.
fn trajectories(p: &Path) -> Result<Array3, Failure> {
    let file = if p.is_dir() {
        let obs = p.join("observations.npy");
        if obs.is_file() {
            obs
        } else {
            p.join("latents.npy")
        }
    } else {
        p.to_path_buf()
    };
    if !file.is_file() {
        return Err(Failure::Input(anyhow::anyhow!(
            "{}: not a dataset folder (observations.npy), a model folder (latents.npy) or a \
             .npy file",
            p.display()
        )));
    }
    input(npy::read_array3(&file))
}

/// Run the comparison and write `out/dsa.csv` and `out/dsa.json`.
pub fn compare(
    inputs: &[PathBuf],
    labels: Option<Vec<String>>,
    e: Embedding,
    seed: u64,
    out: &Path,
) -> Result<(), Failure> {
    if let Some(l) = &labels {
        if l.len() != inputs.len() {
            return Err(Failure::Input(anyhow::anyhow!(
                "--labels: {} labels for {} inputs; give one label per input",
                l.len(),
                inputs.len()
            )));
        }
    }
    if e.trials == 0 {
        return Err(Failure::Input(anyhow::anyhow!(
            "--trials: must be at least 1"
        )));
    }
    let sets = inputs
        .iter()
        .map(|p| trajectories(p))
        .collect::<Result<Vec<_>, _>>()?;
    let time = sets.iter().map(|a| a.shape[1]).min().unwrap_or(0);
    let dims = sets.iter().map(|a| a.shape[2]).min().unwrap_or(0);
    let components = e.components.unwrap_or(dims);
    if components == 0 {
        return Err(Failure::Input(anyhow::anyhow!(
            "--components: must be at least 1"
        )));
    }
    let mut s = DsaSettings::for_shape(time, components);
    s.trials = e.trials;
    if let Some(d) = e.delays {
        s.n_delays = d.max(1);
        s.rank = (2 * components).min(s.n_delays * components);
    }
    if let Some(r) = e.rank {
        s.rank = r.max(1);
    }
    let pairs = input(compare::dsa_matrix(&sets, &s, seed))?;
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let labels = labels.unwrap_or_else(|| names.clone());
    let sep_w = compare::separation(&pairs, &labels, |x: &Scores| Some(x.wasserstein));
    let sep_a = compare::separation(&pairs, &labels, |x: &Scores| x.angular);
    write(out, &names, &labels, &s, &pairs, [sep_w, sep_a]).map_err(Failure::Run)?;
    print_matrix(&labels, &pairs, inputs.len());
    for (name, sep) in [("wasserstein", sep_w), ("angular", sep_a)] {
        if let Some(x) = sep {
            println!(
                "{name}: largest within-class {:.4e}, smallest between-class {:.4e}: {}",
                x.max_within,
                x.min_between,
                if x.separated {
                    "the classes are separate clusters"
                } else {
                    "the classes are NOT separate clusters"
                }
            );
        }
    }
    eprintln!("wrote dsa.csv and dsa.json to {}", out.display());
    Ok(())
}

/// The Wasserstein scores as a lower-triangular matrix, one row per input.
fn print_matrix(labels: &[String], pairs: &[Pair], n: usize) {
    let mut m = vec![vec![0.0; n]; n];
    for p in pairs {
        m[p.i][p.j] = p.scores.wasserstein;
        m[p.j][p.i] = p.scores.wasserstein;
    }
    println!("DSA Wasserstein score (eigenvalues of the delay-embedding operators):");
    for (i, row) in m.iter().enumerate() {
        let cells: Vec<String> = row[..i].iter().map(|v| format!("{v:10.3e}")).collect();
        println!("  {:>3} {:<12} {}", i, labels[i], cells.join(" "));
    }
}

fn write(
    out: &Path,
    names: &[String],
    labels: &[String],
    s: &DsaSettings,
    pairs: &[Pair],
    seps: [Option<Separation>; 2],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut csv = String::from("a,b,label_a,label_b,wasserstein,angular\n");
    let q = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
    for p in pairs {
        csv.push_str(&format!(
            "{},{},{},{},{:e},{}\n",
            q(&names[p.i]),
            q(&names[p.j]),
            q(&labels[p.i]),
            q(&labels[p.j]),
            p.scores.wasserstein,
            p.scores
                .angular
                .map(|v| format!("{v:e}"))
                .unwrap_or_default()
        ));
    }
    npy::write_atomic(&out.join("dsa.csv"), csv.as_bytes())?;
    let doc = json!({
        "format": "learndyn-recovery-compare",
        "learndyn_version": env!("CARGO_PKG_VERSION"),
        "inputs": names,
        "labels": labels,
        "settings": s,
        "implementation": "learndyn HAVOK-DMD (theory/recovery.md RM-5, RM-14), not the DSA package",
        "pairs": pairs,
        "separation": {"wasserstein": seps[0], "angular": seps[1]},
    });
    npy::write_atomic(
        &out.join("dsa.json"),
        serde_json::to_string_pretty(&doc)?.as_bytes(),
    )?;
    Ok(())
}
