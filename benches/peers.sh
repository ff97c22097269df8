#!/usr/bin/env bash
# Time learndyn beside the Python peers (../shared/peers) in ONE run, same machine, same thread
# settings, and print the merged tables.
#
#   bash benches/peers.sh                 # ODE workload (3), single thread
#   WORKLOADS="ode gd rnn fit" THREADS_LIST="1 2" bash benches/peers.sh
#   PY=/path/to/python ...                # for fit: a python with jax (default: setup.sh venv)
#
# Output: $OUT (default target/peers/results.jsonl), then the tables of make_table.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS="${PEERS:-../shared/peers}"
OUT="${OUT:-target/peers/results.jsonl}"
WORKLOADS="${WORKLOADS:-ode}"
THREADS_LIST="${THREADS_LIST:-1}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
cargo build --release --quiet
BIN=target/release/learndyn

only=""
for w in $WORKLOADS; do
  case "$w" in
    ode) only="${only:+$only|}gradient_flow_ode" ;;
    gd) only="${only:+$only|}deep_linear_gd" ;;
    rnn) only="${only:+$only|}rnn_bptt" ;;
    fit) ;; # gru_fit.py is not in run_all.sh: run below
  esac
done

for TH in $THREADS_LIST; do
  # Peers first (they wait for an idle machine themselves), then learndyn under the same
  # pinning and environment as run_all.sh uses for that thread count.
  if [ -n "$only" ]; then
    ONLY="$only" THREADS_LIST="$TH" APPEND=1 OUT="$OUT" bash "$PEERS/run_all.sh" >/dev/null
  fi
  case " $WORKLOADS " in
    *" fit "*)
      # Workload 4 (gru_fit.py, JAX) under run_all.sh's thread settings for $TH.
      PY="${PY:-$(bash "$PEERS/setup.sh" | tail -n 1)}"
      (
        export OPENBLAS_NUM_THREADS="$TH" OMP_NUM_THREADS="$TH" PEERS_THREADS="$TH"
        pin=()
        if [ "$TH" = 1 ]; then
          export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
          pin=(taskset -c 0)
        fi
        cd "$PEERS"
        "${pin[@]}" "$PY" gru_fit.py --repeats 5 >> "$OUT"
        "${pin[@]}" "$PY" gru_fit.py --N 128 --T 500 --B 128 --steps 3 --repeats 5 --no-check >> "$OUT"
      )
      ;;
  esac
  pre=()
  if [ "$TH" = 1 ]; then pre=(taskset -c 0); fi
  for w in $WORKLOADS; do
    case "$w" in
      ode) PEERS_THREADS="$TH" "${pre[@]}" "$BIN" bench ode --json >> "$OUT" ;;
      *) if "$BIN" bench "$w" --help >/dev/null 2>&1; then
           PEERS_THREADS="$TH" "${pre[@]}" "$BIN" bench "$w" --json >> "$OUT"
         fi ;;
    esac
  done
done
python3 "$PEERS/make_table.py" "$OUT" || echo "peers.sh: make_table.py could not tabulate every line (it predates workload 4, gru_fit); the JSON lines are in $OUT" >&2
