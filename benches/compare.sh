#!/usr/bin/env bash
# What a change costs a normal run: times `idic run` with the shipped retail rule set on a
# generated storefront export, for two builds of idic, alternately, on 1 and 2 threads, with
# JSONL and CSV decisions.
#
#   benches/compare.sh BEFORE_BIN AFTER_BIN          # 1,000,000 customers, best of 5
#   RUNS=7 benches/compare.sh BEFORE_BIN AFTER_BIN 200000
#   EXTRA=benches/rhai.idic benches/compare.sh BEFORE_BIN AFTER_BIN   # retail + a rule file
#
# BEFORE_BIN is an `idic` built from the commit to compare with, e.g.
#   git worktree add ../base <commit> && (cd ../base && cargo build --release --bin idic)
# The export is generated once (deterministic, seed 7, under target/bench/). Every
# combination runs RUNS times, the two builds one after the other each time, so that a slower
# spell of the machine hits both alike. Prints the best wall time of each and the change.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1 after=$2 n=${3:-1000000} runs=${RUNS:-5} rules=rules/retail

cargo build --release --quiet --example generate_customers
mkdir -p target/bench
if [ -n "${EXTRA:-}" ]; then
  rules=target/bench/retail-extra
  rm -rf "$rules" && mkdir -p "$rules"
  cp rules/retail/retail.idic "$EXTRA" "$rules/"
fi
export_file=target/bench/customers-$n.csv
[ -f "$export_file" ] || target/release/examples/generate_customers \
  --customers "$n" --seed 7 --out "$export_file"

printf '%-6s %-8s %12s %12s %8s\n' out threads "before (s)" "after (s)" change
for format in jsonl csv; do
  for threads in 1 2; do
    declare -A best=()
    for _ in $(seq "$runs"); do
      for which in before after; do
        bin=$before; [ "$which" = after ] && bin=$after
        /usr/bin/time -f '%e' -o target/bench/time.txt "$bin" run "$rules" \
          --customers "$export_file" --out "target/bench/compare-$which.$format" \
          --threads "$threads" --quiet 2>/dev/null
        wall=$(cat target/bench/time.txt)
        if [ -z "${best[$which]:-}" ] || awk "BEGIN{exit !($wall < ${best[$which]})}"; then
          best[$which]=$wall
        fi
      done
    done
    awk -v f="$format" -v t="$threads" -v b="${best[before]}" -v a="${best[after]}" 'BEGIN {
      printf "%-6s %-8s %12.2f %12.2f %+7.1f%%\n", f, t, b, a, (a - b) / b * 100 }'
    unset best
  done
done
