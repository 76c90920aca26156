#!/usr/bin/env bash
# What population scores cost a run: `idic run` of the shipped retail rules, alone and with
# benches/rfm.idic added (RFM from the export's totals, three quintile scores, the rfm10
# table), on the same generated export.
#
#   benches/scores.sh                 # 1,000,000 customers
#   benches/scores.sh 200000          # another size
#   RUNS=5 benches/scores.sh          # best of 5 instead of 3
#
# Prints the best wall time of $RUNS runs for each rule set on 1 and 2 threads, the peak RSS,
# and the time scoring adds.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
n=${1:-1000000}

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p target/bench/retail-rfm
cp rules/retail/retail.idic benches/rfm.idic target/bench/retail-rfm/
export_file=target/bench/customers-$n.csv
[ -f "$export_file" ] || target/release/examples/generate_customers \
  --customers "$n" --seed 7 --out "$export_file"

printf '%-12s %-8s %10s %10s\n' rules threads "wall (s)" "RSS (MB)"
for threads in 1 2; do
  declare -A best=() rss=([plain]=0 [scored]=0)
  for _ in $(seq "$runs"); do
    # The two rule sets alternate, so a slower spell of the machine hits both alike.
    for kind in plain scored; do
      rules=rules/retail
      [ "$kind" = scored ] && rules=target/bench/retail-rfm
      /usr/bin/time -f '%e %M' -o target/bench/time.txt target/release/idic run "$rules" \
        --customers "$export_file" --out target/bench/decisions-scores.jsonl \
        --threads "$threads" --quiet 2>/dev/null
      read -r wall kb < target/bench/time.txt
      if [ -z "${best[$kind]:-}" ] || awk "BEGIN{exit !($wall < ${best[$kind]})}"; then
        best[$kind]=$wall
      fi
      if [ "$kb" -gt "${rss[$kind]}" ]; then rss[$kind]=$kb; fi
    done
  done
  for kind in plain scored; do
    awk -v k="$kind" -v t="$threads" -v w="${best[$kind]}" -v kb="${rss[$kind]}" \
      'BEGIN { printf "%-12s %-8s %10.2f %10.0f\n", k, t, w, kb / 1024 }'
  done
  awk -v a="${best[plain]}" -v b="${best[scored]}" -v t="$threads" \
    'BEGIN { printf "scoring adds %.0f%% on %s thread(s)\n", (b / a - 1) * 100, t }'
  unset best rss
done
