//! Shipped example configs (the files in `configs/`, embedded in the binary).

/// An example config: name, one-line description, TOML text.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// Name used by `learndyn example NAME`.
    pub name: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

/// Every shipped example; the first is the built-in demo.
pub const EXAMPLES: [Example; 18] = [
    Example {
        name: "demo",
        about:
            "two-layer net, 3 modes (s = 3, 2, 1), small balanced aligned init, 5 seeds (Saxe 2014)",
        text: include_str!("../../configs/demo.toml"),
    },
    Example {
        name: "unbalanced",
        about: "two-layer modes with lambda = b^2 - a^2 = 2, one mode starting with the wrong sign",
        text: include_str!("../../configs/unbalanced.toml"),
    },
    Example {
        name: "deep_balanced",
        about: "depth-4 network from a balanced aligned init: long plateaus, log-spaced records",
        text: include_str!("../../configs/deep_balanced.toml"),
    },
    Example {
        name: "gaussian_init",
        about: "small random Gaussian init: mode theories skipped, full gradient flow vs GD",
        text: include_str!("../../configs/gaussian_init.toml"),
    },
    Example {
        name: "finite_samples",
        about: "P = 200 noisy whitened samples: empirical moments, theory on the empirical modes",
        text: include_str!("../../configs/finite_samples.toml"),
    },
    Example {
        name: "lambda_balanced",
        about: "unaligned lambda-balanced two-layer init: exact matrix Riccati solution (RC-3)",
        text: include_str!("../../configs/lambda_balanced.toml"),
    },
    Example {
        name: "sgd_adam",
        about: "minibatch SGD (or Adam) on 256 noisy samples beside the theory",
        text: include_str!("../../configs/sgd_adam.toml"),
    },
    Example {
        name: "non_whitened",
        about:
            "non-whitened finite inputs: mode theories skipped (reason in the manifest), flow exact",
        text: include_str!("../../configs/non_whitened.toml"),
    },
    Example {
        name: "scan_time_to_learn",
        about: "scan spec: time to learn over (init strength x depth), theory beside GD",
        text: include_str!("../../configs/scan_time_to_learn.toml"),
    },
    Example {
        name: "scan_lr_width",
        about: "scan spec: theory-vs-GD error over (learning rate x width)",
        text: include_str!("../../configs/scan_lr_width.toml"),
    },
    Example {
        name: "scan_smoke",
        about: "scan spec: a tiny 4-point scan (tests, SLURM smoke test)",
        text: include_str!("../../configs/scan_smoke.toml"),
    },
    Example {
        name: "rnn_integrator",
        about: "linear RNN learning a leaky integrator: the outlier eigenvalue, theory vs BPTT",
        text: include_str!("../../configs/rnn_integrator.toml"),
    },
    Example {
        name: "rnn_integrator_bulk",
        about: "linear RNN with a random bulk learning to integrate: one outlier leaves the bulk",
        text: include_str!("../../configs/rnn_integrator_bulk.toml"),
    },
    Example {
        name: "rnn_integrator_lowrank",
        about: "rank-one linear RNN learning to integrate: the overlap-space ODE vs the full flow",
        text: include_str!("../../configs/rnn_integrator_lowrank.toml"),
    },
    Example {
        name: "rnn_temporal_precedence",
        about: "linear RNN, geometric lag profile: lag products learned in order of lag (LR-2)",
        text: include_str!("../../configs/rnn_temporal_precedence.toml"),
    },
    Example {
        name: "rnn_partial_observation",
        about: "student of 2 observed units of a 6-unit linear teacher RNN beside the stationary student (PO-10)",
        text: include_str!("../../configs/rnn_partial_observation.toml"),
    },
    Example {
        name: "rnn_flip_flop",
        about: "tanh RNN trained on the 3-bit flip-flop with Adam, then its fixed points",
        text: include_str!("../../configs/rnn_flip_flop.toml"),
    },
    Example {
        name: "gru_flip_flop",
        about: "GRU trained on the 3-bit flip-flop with Adam, then its 8 stable fixed points",
        text: include_str!("../../configs/gru_flip_flop.toml"),
    },
];

/// Look up an example by name.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}
