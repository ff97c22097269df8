//! Tests of panels, ticks and figure output.

use std::path::PathBuf;

use super::ticks::{make_axis, tick_label};
use super::{draw_panels, Panel, PlotError, Series, SeriesStyle};

/// A fresh, empty scratch directory for test `name`.
pub(super) fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-plot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn series(label: &str, style: SeriesStyle, color: usize, x: &[f64], y: &[f64]) -> Series {
    Series {
        label: label.to_string(),
        style,
        color,
        x: x.to_vec(),
        y: y.to_vec(),
        lo: None,
        hi: None,
    }
}

fn demo_panels() -> Vec<Panel> {
    let t: Vec<f64> = (0..200).map(|i| f64::from(i) * 0.05).collect();
    let theory: Vec<f64> = t.iter().map(|&t| 1.0 - (-0.8 * t).exp()).collect();
    let sim: Vec<f64> = t
        .iter()
        .map(|&t| 1.0 - (-0.8 * t).exp() + 0.02 * (3.0 * t).sin())
        .collect();
    let mut s = series("mode 1 simulation", SeriesStyle::Simulation, 0, &t, &sim);
    s.lo = Some(sim.iter().map(|v| v - 0.06).collect());
    s.hi = Some(sim.iter().map(|v| v + 0.06).collect());
    let theory2: Vec<f64> = t.iter().map(|&t| 0.5 * (1.0 - (-0.3 * t).exp())).collect();
    let xm: Vec<f64> = (0..10).map(f64::from).collect();
    let ym: Vec<f64> = xm
        .iter()
        .map(|&t| 0.5 * (1.0 - (-0.3 * t).exp()) + 0.01)
        .collect();
    let lin = Panel {
        title: "Mode strengths".to_string(),
        x_label: "time t".to_string(),
        y_label: "singular value".to_string(),
        log_x: false,
        log_y: false,
        series: vec![
            s,
            series("mode 1 theory", SeriesStyle::Theory, 0, &t, &theory),
            series("mode 2 theory", SeriesStyle::Theory, 1, &t, &theory2),
            series("mode 2 samples", SeriesStyle::Marker, 1, &xm, &ym),
        ],
    };
    let steps: Vec<f64> = (0..120).map(|i| 10f64.powf(f64::from(i) / 30.0)).collect();
    let loss: Vec<f64> = steps.iter().map(|&s| 2.0 / (1.0 + 0.05 * s)).collect();
    let loss_sim: Vec<f64> = steps
        .iter()
        .map(|&s| 2.0 / (1.0 + 0.05 * s) * (1.0 + 0.1 * (s.ln()).sin()))
        .collect();
    let mut ls = series("simulation", SeriesStyle::Simulation, 2, &steps, &loss_sim);
    ls.lo = Some(loss_sim.iter().map(|v| v * 0.7).collect());
    ls.hi = Some(loss_sim.iter().map(|v| v * 1.4).collect());
    let log = Panel {
        title: "Loss".to_string(),
        x_label: "step".to_string(),
        y_label: "loss".to_string(),
        log_x: true,
        log_y: true,
        series: vec![
            ls,
            series("theory", SeriesStyle::Theory, 2, &steps, &loss),
            series(
                "",
                SeriesStyle::Marker,
                6,
                &[0.0, -1.0, 10.0],
                &[1.0, 1.0, 0.1],
            ),
        ],
    };
    vec![lin, log]
}

#[test]
fn draws_two_panel_figure() {
    let dir = scratch_dir("two");
    let stem = dir.join("fig.v1");
    draw_panels(&demo_panels(), &stem, (520, 400)).unwrap();
    let png = std::fs::read(dir.join("fig.v1.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("fig.v1.svg")).unwrap();
    assert!(svg.contains("<svg"));
    assert!(svg.contains("mode 1 theory"));
    assert!(svg.contains("mode 2 samples"));
    // No temporary file left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 3, "png, svg and csv, no temporaries: {left:?}");
    if let Ok(keep) = std::env::var("LEARNDYN_PLOT_KEEP") {
        std::fs::copy(dir.join("fig.v1.png"), format!("{keep}.png")).unwrap();
        std::fs::copy(dir.join("fig.v1.svg"), format!("{keep}.svg")).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_panel_without_positive_data_is_no_data() {
    let dir = scratch_dir("nodata");
    let p = Panel {
        title: "bad".to_string(),
        x_label: "x".to_string(),
        y_label: "y".to_string(),
        log_x: false,
        log_y: true,
        series: vec![series(
            "s",
            SeriesStyle::Simulation,
            0,
            &[1.0, 2.0, 3.0],
            &[0.0, -1.0, f64::NAN],
        )],
    };
    let err = draw_panels(&[p], &dir.join("f"), (400, 300)).unwrap_err();
    assert!(matches!(err, PlotError::NoData { ref panel, .. } if panel == "bad"));
    assert!(!dir.join("f.png").exists());
    let err = draw_panels(&[], &dir.join("f"), (400, 300)).unwrap_err();
    assert!(matches!(err, PlotError::NoData { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nan_and_odd_input_do_not_panic() {
    let dir = scratch_dir("nan");
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let mut sim = series(
        "sim",
        SeriesStyle::Simulation,
        9,
        &[0.0, 1.0, nan, 3.0, 4.0, 5.0],
        &[1.0, nan, 2.0, inf, 3.0],
    );
    sim.lo = Some(vec![0.5, 0.5, nan]);
    sim.hi = Some(vec![1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
    let panels = vec![
        Panel {
            title: "nan".to_string(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            log_y: false,
            series: vec![
                sim,
                series("empty", SeriesStyle::Theory, 1, &[], &[1.0]),
                series("one", SeriesStyle::Theory, 2, &[2.0], &[2.0]),
            ],
        },
        Panel {
            title: String::new(),
            x_label: "x".to_string(),
            y_label: "y".to_string(),
            log_x: true,
            log_y: true,
            series: vec![series(
                "const",
                SeriesStyle::Marker,
                3,
                &[0.0, 5.0, nan],
                &[1e-300, 1e-300, 1e-300],
            )],
        },
        Panel {
            title: "constant".to_string(),
            x_label: "x".to_string(),
            y_label: "y".to_string(),
            log_x: false,
            log_y: false,
            series: vec![series(
                "c",
                SeriesStyle::Theory,
                0,
                &[1e300, 1e300, -1e300],
                &[0.0, 0.0, 0.0],
            )],
        },
        Panel {
            title: "tiny".to_string(),
            x_label: "x".to_string(),
            y_label: "y".to_string(),
            log_x: false,
            log_y: false,
            series: vec![series(
                "t",
                SeriesStyle::Simulation,
                0,
                &[1e-9, 2e-9, 3e-9],
                &[-1e-7, 2e-7, 1e6],
            )],
        },
        Panel {
            title: "extremes".to_string(),
            x_label: "x".to_string(),
            y_label: "y".to_string(),
            log_x: false,
            log_y: false,
            series: vec![
                series("max", SeriesStyle::Marker, 0, &[f64::MAX], &[f64::MAX]),
                series("sub", SeriesStyle::Marker, 1, &[5e-324], &[-f64::MAX]),
            ],
        },
        Panel {
            title: "subnormal".to_string(),
            x_label: "x".to_string(),
            y_label: "y".to_string(),
            log_x: true,
            log_y: false,
            series: vec![series(
                "s",
                SeriesStyle::Theory,
                0,
                &[5e-324, 1e-320, f64::MAX],
                &[5e-324, 0.0, 1e-320],
            )],
        },
    ];
    draw_panels(&panels, &dir.join("nan"), (10, 10)).unwrap();
    if let Ok(keep) = std::env::var("LEARNDYN_PLOT_KEEP") {
        std::fs::copy(dir.join("nan.png"), format!("{keep}-nan.png")).unwrap();
    }
    assert!(dir.join("nan.png").exists());
    assert!(dir.join("nan.svg").exists());
    let only_nan = Panel {
        title: "all nan".to_string(),
        x_label: String::new(),
        y_label: String::new(),
        log_x: false,
        log_y: false,
        series: vec![series("n", SeriesStyle::Theory, 0, &[nan], &[nan])],
    };
    assert!(matches!(
        draw_panels(&[only_nan], &dir.join("n2"), (400, 300)),
        Err(PlotError::NoData { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unwritable_target_is_backend_error() {
    let dir = scratch_dir("backend");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = draw_panels(&demo_panels(), &file.join("fig"), (400, 300)).unwrap_err();
    assert!(matches!(err, PlotError::Backend { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tick_labels_are_tidy() {
    let a = make_axis(0.0, 1.0, false, 5);
    let labels: Vec<String> = a.ticks.iter().map(|&t| tick_label(&a, t)).collect();
    assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    let l = make_axis(-3.2, 0.5, true, 6);
    assert_eq!((l.lo, l.hi), (-4.0, 1.0));
    assert_eq!(tick_label(&l, -3.0), "10⁻³");
    let n = make_axis(-2.0, -1.0, false, 5);
    assert!(n
        .ticks
        .iter()
        .any(|&t| tick_label(&n, t).starts_with('\u{2212}')));
}

/// The legend hides no data (issue 16 item 9): a legend whose every inside corner covers a
/// line gets headroom above the data, or (when headroom would squash the data) goes outside
/// the plotting area; the chosen placement then covers no sampled point.
#[test]
fn legends_never_hide_data() {
    use super::legend::choose_legend;
    use super::panels::prepare_panel;
    let size = (560, 440);
    let t: Vec<f64> = (0..400).map(|i| f64::from(i) * 0.025).collect();
    let curve = |f: &dyn Fn(f64) -> f64| -> Vec<f64> { t.iter().map(|&x| f(x)).collect() };
    // Lines through all four corners.
    let panel = |n: usize, long: bool| Panel {
        title: "crowded".into(),
        x_label: "t".into(),
        y_label: "y".into(),
        log_x: false,
        log_y: false,
        series: (0..n)
            .map(|k| {
                let a = k as f64 * 0.1;
                let label = if long {
                    format!("series {k} with a long label (mean, min-max over seeds)")
                } else {
                    format!("s{k}")
                };
                let y = curve(&|x: f64| {
                    if k % 2 == 0 {
                        a + x / 10.0
                    } else {
                        1.0 + a - x / 10.0
                    }
                });
                series(&label, SeriesStyle::Theory, k, &t, &y)
            })
            .collect(),
    };
    for (n, long) in [(2, true), (4, true), (8, true), (16, false)] {
        let p = panel(n, long);
        let pp = prepare_panel(&p, size).unwrap();
        if pp.legend_outside == 0 {
            let (_, covered) = choose_legend(&p, &pp.series, &pp.x, &pp.y, size);
            assert_eq!(covered, 0, "{n} series: the legend inside hides data");
        } else {
            assert!(pp.legend_outside <= size.0 / 2);
        }
    }
    // It draws, both ways.
    let dir = scratch_dir("legend");
    let short = panel(16, false);
    assert!(prepare_panel(&short, size).unwrap().legend_outside > 0);
    draw_panels(
        &[panel(2, true), panel(8, true), short],
        &dir.join("crowded"),
        size,
    )
    .unwrap();
}
