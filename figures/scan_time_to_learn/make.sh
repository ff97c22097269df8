#!/usr/bin/env bash
# Regenerate figures/scan_time_to_learn from configs/scan_time_to_learn.toml (~1 s on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
here=figures/scan_time_to_learn
target/release/learndyn scan configs/scan_time_to_learn.toml --out "$here/data" --restart
target/release/learndyn plot "$here/data/results.csv" --x init.u0 --y model.depth --z t_half_gd_m0 --out "$here/heatmap"
target/release/learndyn plot "$here/data/results.csv" --x init.u0 --z t_half_gd_m0,t_half_theory_m0 --group model.depth --out "$here/lines"
