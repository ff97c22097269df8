#!/usr/bin/env bash
# Time learndyn beside the Python peers (../shared/peers) in ONE run, same machine, same thread
# settings, and print the merged tables.
#
#   bash benches/peers.sh                 # ODE workload (3), single thread
#   WORKLOADS="ode gd rnn" THREADS_LIST="1 2" bash benches/peers.sh
#
# Output: $OUT (default target/peers/results.jsonl), then the tables of make_table.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS="${PEERS:-../shared/peers}"
OUT="${OUT:-target/peers/results.jsonl}"
WORKLOADS="${WORKLOADS:-ode}"
THREADS_LIST="${THREADS_LIST:-1}"
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
  esac
done

for TH in $THREADS_LIST; do
  # Peers first (they wait for an idle machine themselves), then learndyn under the same
  # pinning and environment as run_all.sh uses for that thread count.
  ONLY="$only" THREADS_LIST="$TH" APPEND=1 OUT="$OUT" bash "$PEERS/run_all.sh" >/dev/null
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
python3 "$PEERS/make_table.py" "$OUT"
