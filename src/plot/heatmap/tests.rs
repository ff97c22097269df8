//! Tests of heatmaps: drawing, missing cells, bad input, label layout and
//! the helpers (colour map, value labels, cell edges, log ticks).

use std::path::Path;

use plotters::style::{BLACK, WHITE};

use super::*;
use crate::plot::color::{text_on, viridis};
use crate::plot::tests::scratch_dir;
use crate::plot::ticks::log_ticks;

/// A 4×5 heatmap over a logarithmic learning-rate axis, with a missing cell.
fn demo_heatmap() -> Heatmap {
    let x = vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0];
    let y = vec![1.0, 2.0, 3.0, 4.0];
    let z = y
        .iter()
        .map(|&w: &f64| {
            x.iter()
                .map(|&lr: &f64| (-(lr.log10() + 2.0).powi(2) / (2.0 * w)).exp() * w.sqrt())
                .collect()
        })
        .collect::<Vec<Vec<f64>>>();
    let mut z = z;
    z[1][3] = f64::NAN;
    Heatmap {
        title: "Final test accuracy".to_string(),
        x_label: "learning rate η".to_string(),
        y_label: "depth".to_string(),
        z_label: "accuracy gain".to_string(),
        x,
        y,
        z,
        log_x: true,
        log_y: false,
        log_z: false,
    }
}

fn keep(dir: &Path, stem: &str, suffix: &str) {
    if let Ok(keep) = std::env::var("LEARNDYN_PLOT_KEEP") {
        std::fs::copy(
            dir.join(format!("{stem}.png")),
            format!("{keep}-{suffix}.png"),
        )
        .unwrap();
        std::fs::copy(
            dir.join(format!("{stem}.svg")),
            format!("{keep}-{suffix}.svg"),
        )
        .unwrap();
    }
}

#[test]
fn draws_log_x_heatmap_with_missing_cell() {
    let dir = scratch_dir("heat");
    let map = demo_heatmap();
    draw_heatmap(&map, &dir.join("heat.v1"), (640, 460)).unwrap();
    let png = std::fs::read(dir.join("heat.v1.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("heat.v1.svg")).unwrap();
    for label in [
        "Final test accuracy",
        "learning rate η",
        "depth",
        "accuracy gain",
        "10⁻³",
        "missing",
    ] {
        assert!(svg.contains(label), "{label} not in the SVG");
    }
    // 4×5 cells: values are written in the cells.
    assert!(svg.contains(&value_label(map.z[0][2])));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 3, "png, svg and csv, no temporaries: {left:?}");
    keep(&dir, "heat.v1", "heat");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_z_heatmap_treats_non_positive_as_missing() {
    let dir = scratch_dir("heatlogz");
    let x: Vec<f64> = (0..14).map(|i| f64::from(i) * 0.25).collect();
    let y: Vec<f64> = (0..12)
        .map(|i| 10f64.powf(f64::from(i) / 4.0 - 2.0))
        .collect();
    let z: Vec<Vec<f64>> = y
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            x.iter()
                .enumerate()
                .map(|(j, &t)| match (i + j) % 17 {
                    0 => 0.0,
                    5 => -1.0,
                    _ => s * (-t).exp() * 1e3,
                })
                .collect()
        })
        .collect();
    let map = Heatmap {
        title: "Loss".to_string(),
        x_label: "time t".to_string(),
        y_label: "init scale σ".to_string(),
        z_label: "loss".to_string(),
        x,
        y,
        z,
        log_x: false,
        log_y: true,
        log_z: true,
    };
    let p = prepare_heatmap(&map, (640, 460)).unwrap();
    assert!(p.any_missing);
    assert!(p.cells[0][0].is_none() && p.cells[0][5].is_none());
    assert!(p.annotate.is_none(), "14×12 grid is not annotated");
    assert!(p.z_ticks.iter().all(|t| t.at >= p.z_lo && t.at <= p.z_hi));
    draw_heatmap(&map, &dir.join("logz"), (640, 460)).unwrap();
    let svg = std::fs::read_to_string(dir.join("logz.svg")).unwrap();
    assert!(svg.contains("init scale σ") && svg.contains("10⁻¹"));
    keep(&dir, "logz", "heat-logz");
    // Only non-positive values: nothing to draw on a log colour scale.
    let mut bad = map.clone();
    bad.z = bad
        .z
        .iter()
        .map(|r| r.iter().map(|v| -v.abs()).collect())
        .collect();
    assert!(matches!(
        draw_heatmap(&bad, &dir.join("bad"), (640, 460)),
        Err(PlotError::NoData { .. })
    ));
    assert!(!dir.join("bad.png").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_heatmaps_are_no_data() {
    let dir = scratch_dir("heatbad");
    let nan = f64::NAN;
    let base = Heatmap {
        title: "bad".to_string(),
        x: vec![1.0, 2.0],
        y: vec![1.0],
        z: vec![vec![1.0, 2.0]],
        ..Heatmap::default()
    };
    let cases = [
        Heatmap::default(),
        Heatmap {
            x: vec![],
            z: vec![vec![]],
            ..base.clone()
        },
        Heatmap {
            z: vec![],
            ..base.clone()
        },
        Heatmap {
            z: vec![vec![1.0]],
            ..base.clone()
        },
        Heatmap {
            z: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
            ..base.clone()
        },
        Heatmap {
            z: vec![vec![nan, f64::INFINITY]],
            ..base.clone()
        },
        Heatmap {
            x: vec![2.0, 1.0],
            ..base.clone()
        },
        Heatmap {
            x: vec![1.0, 1.0],
            ..base.clone()
        },
        Heatmap {
            x: vec![0.0, 1.0],
            log_x: true,
            ..base.clone()
        },
        Heatmap {
            y: vec![nan],
            ..base.clone()
        },
        Heatmap {
            x: vec![f64::MAX, f64::MAX],
            ..base.clone()
        },
        Heatmap {
            x: vec![-f64::MAX, f64::MAX],
            ..base.clone()
        },
    ];
    for (k, map) in cases.iter().enumerate() {
        let r = draw_heatmap(map, &dir.join(format!("b{k}")), (400, 300));
        match r {
            Err(PlotError::NoData { message, .. }) => assert!(!message.is_empty()),
            other => panic!("case {k}: {other:?}"),
        }
    }
    let left = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(left, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn odd_heatmaps_draw() {
    let dir = scratch_dir("heatodd");
    let nan = f64::NAN;
    let cases = [
        // A single cell.
        Heatmap {
            x: vec![3.0],
            y: vec![0.0],
            z: vec![vec![0.25]],
            ..Heatmap::default()
        },
        // Constant z, on log axes, with a missing cell.
        Heatmap {
            title: "constant".to_string(),
            z_label: "z".to_string(),
            x: vec![1e-3, 1e-2],
            y: vec![5.0, 50.0],
            z: vec![vec![7.0, 7.0], vec![nan, 7.0]],
            log_x: true,
            log_y: true,
            log_z: true,
            ..Heatmap::default()
        },
        // Constant zero, tiny and huge coordinates, extreme values.
        Heatmap {
            x: vec![1e-300, 2e-300, 3e-300],
            y: vec![-1e300, 1e300],
            z: vec![vec![0.0, 0.0, 0.0], vec![0.0, nan, 0.0]],
            ..Heatmap::default()
        },
        Heatmap {
            x: vec![5e-324],
            y: vec![f64::MAX],
            z: vec![vec![-f64::MAX]],
            log_x: true,
            log_y: true,
            ..Heatmap::default()
        },
        Heatmap {
            x: vec![0.0, 1.0],
            y: vec![0.0, 1.0],
            z: vec![vec![-f64::MAX, f64::MAX], vec![5e-324, 0.0]],
            ..Heatmap::default()
        },
        // Many cells: nice ticks, no values written.
        Heatmap {
            x: (0..300).map(|i| 10f64.powf(f64::from(i) / 50.0)).collect(),
            y: (0..200).map(f64::from).collect(),
            z: (0..200)
                .map(|i| (0..300).map(|j| f64::from(i * j % 97)).collect())
                .collect(),
            log_x: true,
            ..Heatmap::default()
        },
        // A narrow logarithmic axis (less than a factor of two).
        Heatmap {
            x: (0..12).map(|i| 1.0 + f64::from(i) * 0.05).collect(),
            y: vec![1.0, 1.1],
            z: vec![(0..12).map(f64::from).collect(); 2],
            log_x: true,
            log_z: true,
            ..Heatmap::default()
        },
    ];
    for (k, map) in cases.iter().enumerate() {
        draw_heatmap(map, &dir.join(format!("o{k}")), (10, 10))
            .unwrap_or_else(|e| panic!("case {k}: {e}"));
        assert!(dir.join(format!("o{k}.png")).exists());
        keep(&dir, &format!("o{k}"), &format!("heat-odd{k}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crowded_heatmap_labels_do_not_overlap() {
    let dir = scratch_dir("heatcrowd");
    // Ten columns at half-decade steps: a tick per centre, labels thinned.
    let x: Vec<f64> = (0..10)
        .map(|k| 10f64.powf(f64::from(k) / 2.0 - 4.0))
        .collect();
    let y: Vec<f64> = (1..=8).map(|k| f64::from(k) * 0.125).collect();
    let z: Vec<Vec<f64>> = (0..8)
        .map(|i| (0..10).map(|j| f64::from(i * 10 + j) * 1234.5).collect())
        .collect();
    let map = Heatmap {
        title: "Crowded".to_string(),
        x_label: "step size".to_string(),
        y_label: "fraction".to_string(),
        z_label: "steps to converge".to_string(),
        x,
        y,
        z,
        log_x: true,
        ..Heatmap::default()
    };
    for size in [(400, 300), (640, 460), (1200, 800)] {
        let p = prepare_heatmap(&map, size).unwrap();
        assert_eq!(p.x_ticks.len(), 10);
        let l = p.layout;
        let spans: Vec<(i32, i32)> = p
            .x_ticks
            .iter()
            .filter_map(|t| {
                let s = t.label.as_deref()?;
                let c = to_px(t.at, p.x.lo(), p.x.hi(), l.left, l.right);
                let w = text_width(s, TICK_PX) as i32;
                Some((c - w / 2, c + w / 2))
            })
            .collect();
        assert!(spans.len() >= 2, "{size:?}");
        assert!(
            spans.windows(2).all(|w| w[0].1 < w[1].0),
            "{size:?}: {spans:?}"
        );
        assert!(spans[0].0 >= 0 && spans[spans.len() - 1].1 < l.bar_left);
        assert!(l.left < l.right && l.right < l.bar_left && l.top < l.bottom);
        assert!(p.annotate.is_none(), "ten columns are not annotated");
    }
    // An 8×8 grid: values written, in a font that fits the cells.
    let mut small = map.clone();
    small.x.truncate(8);
    for row in &mut small.z {
        row.truncate(8);
    }
    let p = prepare_heatmap(&small, (640, 460)).unwrap();
    let px = p.annotate.expect("8×8 grid is annotated");
    assert!((ANNOTATE_PX.1..=ANNOTATE_PX.0).contains(&px));
    draw_heatmap(&map, &dir.join("crowd"), (640, 460)).unwrap();
    keep(&dir, "crowd", "heat-crowd");
    draw_heatmap(&small, &dir.join("crowd8"), (640, 460)).unwrap();
    keep(&dir, "crowd8", "heat-crowd8");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn heatmap_helpers() {
    assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
    assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
    assert_eq!(viridis(f64::NAN), viridis(0.0));
    assert_eq!(text_on(viridis(0.0)), WHITE);
    assert_eq!(text_on(viridis(1.0)), BLACK);
    assert_eq!(value_label(0.123456), "0.123");
    assert_eq!(value_label(-12.345), "\u{2212}12.3");
    assert_eq!(value_label(1234.5), "1230");
    assert_eq!(value_label(2.5e-5), "2.5×10⁻⁵");
    assert_eq!(value_label(1e6), "10⁶");
    assert_eq!(value_label(86437.0), "86400");
    assert_eq!(value_label(123456.0), "1.23×10⁵");
    assert_eq!(
        centre_labels(&[1e-3, 3e-3, 1e-2], true),
        ["10⁻³", "3×10⁻³", "10⁻²"]
    );
    assert_eq!(
        centre_labels(&[0.5, 1.0, 1.5], false),
        ["0.5", "1.0", "1.5"]
    );
    assert_eq!(centre_labels(&[1.0, 2.0, 4.0], false), ["1", "2", "4"]);
    let a = HeatAxis::new("x", &[1e-3, 1e-2, 1e-1], true).unwrap();
    assert_eq!(a.edges.len(), 4);
    assert!((a.edges[0] + 3.5).abs() < 1e-12 && (a.edges[1] + 2.5).abs() < 1e-12);
    let l = HeatAxis::new("x", &[1.0, 2.0, 4.0], false).unwrap();
    assert!((l.edges[0] - 0.5).abs() < 1e-12 && (l.edges[3] - 5.0).abs() < 1e-12);
    let t: Vec<String> = log_ticks(-3.2, 0.4, 6)
        .into_iter()
        .filter_map(|t| t.label)
        .collect();
    assert_eq!(t, ["10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
}
