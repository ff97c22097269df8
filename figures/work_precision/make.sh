#!/usr/bin/env bash
# Regenerate figures/work_precision: error vs wall time and vs RHS evaluations of learndyn's
# integrators beside scipy and diffrax, over rtol = 1e-3 .. 1e-12 (atol = rtol / 100), on the
# peers' workload-3 problems (K = 100 Saxe modes; two-layer matrix flow N = 16), one thread.
#   bash figures/work_precision/make.sh        (peers are skipped if their venv is missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=figures/work_precision
rtols="1e-3 1e-4 1e-5 1e-6 1e-7 1e-8 1e-9 1e-10 1e-11 1e-12"
cargo build --release --quiet
data="$here/data.jsonl"
: > "$data"
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" target/release/learndyn bench ode --json --modes 100 --matrix 16 \
  --rtol "$(echo $rtols | tr ' ' ',')" --repeats 3 >> "$data"
PY="${PY:-$HOME/.cache/learndyn-peers-venv/bin/python}"
PEERS="${PEERS:-../shared/peers}"
if [ -x "$PY" ] && [ -f "$PEERS/gradient_flow_ode.py" ]; then
  export PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
  export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
  for r in $rtols; do
    a=$(python3 -c "print($r / 100)")
    for args in "--problem modes --K 100" "--problem matrix --N 16"; do
      # --err-tol 1: at loose tolerances the peers' own accuracy check would fail by design.
      "${pin[@]}" "$PY" "$PEERS/gradient_flow_ode.py" $args --rtol "$r" --atol "$a" \
        --repeats 3 --err-tol 1 >> "$data" 2>/dev/null || true
    done
  done
else
  echo "peers venv not found ($PY): plotting learndyn only (bash $PEERS/setup.sh installs it)" >&2
fi
target/release/learndyn bench plot-wp "$data" --out "$here/work_precision"
