#!/usr/bin/env bash
# Times `idic run` with the shipped retail rule set on generated storefront exports.
#
#   benches/run.sh                    # 1,000,000 and 5,000,000 customers
#   benches/run.sh 200000             # other sizes
#   RUNS=5 benches/run.sh 1000000     # best of 5 instead of 3
#
# For each size: the export is generated once (deterministic, seed 7, under target/bench/),
# then `idic run` writes JSONL decisions to a file on 1 and on 2 threads, alternately. Prints the
# best wall time of $RUNS runs, the largest peak RSS (GNU time), customers per second and the
# speedup of 2 threads over 1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 5000000)

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p target/bench
printf '%-12s %-8s %10s %10s %14s %8s\n' customers threads "wall (s)" "RSS (MB)" "customers/s" speedup
for n in "${sizes[@]}"; do
  export_file=target/bench/customers-$n.csv
  [ -f "$export_file" ] || target/release/examples/generate_customers \
    --customers "$n" --seed 7 --out "$export_file"
  # Runs on 1 and 2 threads alternate, so a slower spell of the machine hits both alike.
  declare -A best=() rss=([1]=0 [2]=0)
  for _ in $(seq "$runs"); do
    for threads in 1 2; do
      /usr/bin/time -f '%e %M' -o target/bench/time.txt target/release/idic run rules/retail \
        --customers "$export_file" --out target/bench/decisions-$n.jsonl \
        --threads "$threads" --quiet 2>/dev/null
      read -r wall kb < target/bench/time.txt
      if [ -z "${best[$threads]:-}" ] || awk "BEGIN{exit !($wall < ${best[$threads]})}"; then
        best[$threads]=$wall
      fi
      if [ "$kb" -gt "${rss[$threads]}" ]; then rss[$threads]=$kb; fi
    done
  done
  for threads in 1 2; do
    awk -v n="$n" -v t="$threads" -v w="${best[$threads]}" -v kb="${rss[$threads]}" \
      -v one="${best[1]}" 'BEGIN {
      printf "%-12s %-8s %10.2f %10.1f %14.0f %7.2fx\n", n, t, w, kb / 1024, n / w, one / w }'
  done
  unset best rss
done
