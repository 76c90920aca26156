#!/usr/bin/env bash
# What one rule costs a run: the retail schema alone (no rules), then the same schema with 20
# rules of one kind each, run over one generated export and timed as whole processes.
#
#   benches/rule_costs.sh              # 1,000,000 customers, medians of 5
#   RUNS=7 benches/rule_costs.sh 200000
#
# The export is generated once (seed 7, under target/bench/); the rule sets are written to
# target/bench/rule-costs/ from rules/retail/retail.idic (its `ruleset` header without the
# settings that need triggers, and its `customer` block), and checked. The variants run in
# turns, `RUNS` rounds, so that the machine's slower moments fall on all alike. For each it
# prints the medians of CPU time (user + system) and wall time, and what a rule of that kind
# costs per customer: (variant's CPU - the schema's CPU) / (20 * customers). The segments never
# hold, so the decisions written are the same size as the schema's; the metrics are not written.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
n=${1:-1000000}
as_of=2026-11-01
dir=target/bench/rule-costs

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p "$dir"
export_file=target/bench/customers-$n.csv
[ -f "$export_file" ] || target/release/examples/generate_customers \
  --customers "$n" --seed 7 --out "$export_file"

# The retail rule set down to its customer block, without the settings triggers need.
schema=$(sed -n '1,/^\/\/ ---- DIFFERENTIATE: metrics/p' rules/retail/retail.idic |
  grep -vE '^ *(max_triggers|holdout|cap|exclude) ')
kinds=(schema compare coalesce_or text_equals in_list days_since arithmetic)
rule() {
  case $1 in
    compare) echo "segment r$2 = spent >= 1000000" ;;
    coalesce_or) echo "segment r$2 = (nps ?? 10) <= -1 || open_tickets > 100" ;;
    days_since) echo "metric r$2 = days_since(last_order)" ;;
    arithmetic) echo "metric r$2 = if orders > 0 { spent / orders } else { 0.0 }" ;;
    text_equals) echo "segment r$2 = country == \"XX\"" ;;
    in_list) echo "segment r$2 = country in [\"XX\", \"YY\"]" ;;
  esac
}
for kind in "${kinds[@]}"; do
  mkdir -p "$dir/$kind"
  {
    echo "$schema"
    if [ "$kind" != schema ]; then
      for i in $(seq 1 20); do rule "$kind" "$i"; done
    fi
  } > "$dir/$kind/rules.idic"
  target/release/idic check "$dir/$kind" > /dev/null
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
times=$dir/times.txt
: > "$times"
for _ in $(seq "$runs"); do
  for kind in "${kinds[@]}"; do
    /usr/bin/time -f "$kind %e %U %S" -a -o "$times" \
      target/release/idic run "$dir/$kind" --customers "$export_file" --as-of "$as_of" \
      --out "$dir/$kind/decisions.csv" --quiet 2> /dev/null
  done
done

echo "$n customers, $(nproc) cores, medians of $runs"
printf '%-12s %9s %9s %18s\n' rules "wall (s)" "CPU (s)" "ns per rule+customer"
base=$(awk '$1 == "schema" {print $3 + $4}' "$times" | median)
for kind in "${kinds[@]}"; do
  wall=$(awk -v k="$kind" '$1 == k {print $2}' "$times" | median)
  cpu=$(awk -v k="$kind" '$1 == k {print $3 + $4}' "$times" | median)
  per=$(awk -v c="$cpu" -v b="$base" -v n="$n" -v k="$kind" \
    'BEGIN {if (k == "schema") print "-"; else printf "%.1f", (c - b) / (20 * n) * 1e9}')
  printf '%-12s %9s %9s %18s\n' "$kind" "$wall" "$cpu" "$per"
done
