//! SGD and Adam as simulation sources (`sgd`, `adam`): full-batch SGD is GD, Adam's first step
//! has a closed form, minibatch runs are reproducible from the seed.
use learndyn::experiment::family::Family;
use learndyn::experiment::{self, load_builtin, Observable, Record, Source};
use learndyn::model::DeepLinearModel;
use learndyn::model::DeepLinearNet;
use learndyn::random;
use learndyn::train::{self, Optimizer, TrainSettings, Trainer};

const BASE: &str = "[model]\nhidden = 5\n[task]\nd_in = 4\nd_out = 3\nsingular_values = [2.0, 1.0]\nsamples = 40\nnoise_std = 0.1\n\
                    [init]\nkind = \"gaussian\"\nscale = 0.3\n[train]\nsteps = 300\nlr = 0.02\nseeds = [0, 1]\n\
                    [theory]\nsources = []\n[output]\nrecords = 31\nfigure = false\n";

fn sim(records: &[Record]) -> Vec<(u64, String, Option<usize>, f64)> {
    records
        .iter()
        .filter(|r| r.source.is_simulation())
        .map(|r| (r.seed.unwrap(), r.observable.to_string(), r.index, r.value))
        .collect()
}

#[test]
fn full_batch_sgd_is_gd() {
    let gd = experiment::run(&load_builtin("t", BASE, &[]).unwrap(), &mut |_| {}).unwrap();
    let sgd = experiment::run(
        &load_builtin("t", BASE, &["train.optimizer=\"sgd\"".into()]).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    assert!(sgd.records.iter().any(|r| r.source == Source::Sgd));
    assert!(sgd.records.iter().all(|r| r.source != Source::Gd));
    // Bitwise: the same updates on the same moment gradient.
    assert_eq!(sim(&gd.records), sim(&sgd.records));
}

#[test]
fn minibatch_sgd_is_reproducible_and_learns() {
    let sets = [
        "train.optimizer=\"sgd\"".to_string(),
        "train.batch_size=8".into(),
    ];
    let a = experiment::run(&load_builtin("t", BASE, &sets).unwrap(), &mut |_| {}).unwrap();
    let b = experiment::run(&load_builtin("t", BASE, &sets).unwrap(), &mut |_| {}).unwrap();
    assert_eq!(sim(&a.records), sim(&b.records), "same seed, same numbers");
    let loss = |out: &experiment::RunOutput, first: bool| {
        let l: Vec<f64> = out
            .records
            .iter()
            .filter(|r| {
                r.source == Source::Sgd && r.observable == Observable::Loss && r.seed == Some(0)
            })
            .map(|r| r.value)
            .collect();
        if first {
            l[0]
        } else {
            *l.last().unwrap()
        }
    };
    assert!(
        loss(&a, false) < 0.2 * loss(&a, true),
        "{} -> {}",
        loss(&a, true),
        loss(&a, false)
    );
    // Different seeds draw different batches (and inits).
    let s0: Vec<f64> = a
        .records
        .iter()
        .filter(|r| r.seed == Some(0) && r.observable == Observable::Loss)
        .map(|r| r.value)
        .collect();
    let s1: Vec<f64> = a
        .records
        .iter()
        .filter(|r| r.seed == Some(1) && r.observable == Observable::Loss)
        .map(|r| r.value)
        .collect();
    assert_ne!(s0, s1);
}

#[test]
fn adam_first_step_has_its_closed_form() {
    // With bias correction, m_hat = g and v_hat = g^2 after one step:
    // delta = -lr g / (|g| + eps).
    let loaded = load_builtin("t", BASE, &[]).unwrap();
    let p = experiment::DeepLinearFamily::build(&loaded).unwrap();
    let theta0 = p.initial_params(0).unwrap();
    let mut g = vec![0.0; theta0.len()];
    let net: &DeepLinearNet = &p.net;
    net.loss_and_grad(&theta0, &p.task.moments, &mut g, &mut net.workspace());
    let (lr, eps) = (0.02, 1e-8);
    let mut theta = theta0.clone();
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps,
    };
    let status = Trainer::new(TrainSettings::new(lr, 1, adam))
        .train(
            &mut DeepLinearModel::new(net, &p.task.moments, None),
            &mut theta,
            &mut random::rng(0, 11),
            &[],
            &mut |_, _| {},
        )
        .unwrap();
    assert_eq!(status, train::TrainStatus::Completed);
    for i in 0..theta.len() {
        let want = theta0[i] - lr * g[i] / (g[i].abs() + eps);
        assert!(
            (theta[i] - want).abs() <= 1e-15 * (1.0 + want.abs()),
            "{i}: {} vs {want}",
            theta[i]
        );
    }
}

#[test]
fn optimizer_config_errors() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["train.optimizer=\"sgd\"", "task.samples=0"],
            "task.samples",
        ),
        (&["train.batch_size=4"], "train.batch_size"),
        (
            &["train.optimizer=\"adam\"", "train.batch_size=400"],
            "train.batch_size",
        ),
        (&["train.optimizer=\"lbfgs\""], "adam"),
        (&["train.optimizer=\"adam\"", "train.beta2=1.0"], "beta"),
    ];
    for (sets, frag) in cases {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let err = load_builtin("t", BASE, &sets).unwrap_err().to_string();
        assert!(err.contains(frag), "{sets:?}: {err}");
    }
}
