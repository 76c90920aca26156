#!/usr/bin/env bash
# What one rule costs a run: the retail schema alone (no rules), then the same schema with 20
# rules of one kind each, and the retail rules built up part by part; each run over one
# generated export and timed as a whole process.
#
#   benches/rule_costs.sh              # 1,000,000 customers, medians of 5
#   RUNS=7 benches/rule_costs.sh 500000
#
# The export is generated once (seed 7, under target/bench/); the rule sets are written to
# target/bench/rule-costs/ from rules/retail/retail.idic (its `ruleset` header without the
# settings that need triggers, and its `customer` block), and checked. The variants run in
# turns, `RUNS` rounds, so that the machine's slower moments fall on all alike. For each it
# prints the medians of CPU time (user + system) and wall time, and for the 20-rule variants
# what a rule of that kind costs per customer: (variant's CPU - the schema's CPU) /
# (20 * customers). GNU time counts in steps of 10 ms, so that figure moves in steps of
# 0.01 s / (20 * customers): 0.5 ns at 1,000,000 customers (the script prints it). The
# segments never hold, so the decisions written are the same size as the schema's; the metrics
# are not written. The whole cost of having rules is shared among the 20.
#
# The retail rules built up: `retail_segments` adds the retail metrics and segments to the
# schema, `retail_stages` the tiers and lifecycle stages too, and `retail` is the whole rule
# set, triggers, policy and actions included.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
n=${1:-1000000}
as_of=2026-11-01
dir=target/bench/rule-costs
retail=rules/retail/retail.idic

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p "$dir"
export_file=target/bench/customers-$n.csv
[ -f "$export_file" ] || target/release/examples/generate_customers \
  --customers "$n" --seed 7 --out "$export_file"

# The lines of the retail rules from the heading matching $1 to the one before the heading
# matching $2.
part() { sed -n "/^\/\/ ---- $1/,/^\/\/ ---- $2/p" "$retail" | sed '$d'; }
# The retail rule set down to its customer block, without the settings triggers need.
schema=$(sed -n '1,/^\/\/ ---- DIFFERENTIATE: metrics/p' "$retail" | sed '$d' |
  grep -vE '^ *(max_triggers|holdout|cap|exclude) ')
kinds=(schema compare coalesce_or text_equals in_list days_since arithmetic)
builds=(retail_segments retail_stages retail)
rule() {
  case $1 in
    compare) echo "segment r$2 = spent >= 1000000" ;;
    coalesce_or) echo "segment r$2 = (nps ?? 10) <= -1 || open_tickets > 100" ;;
    text_equals) echo "segment r$2 = country == \"XX\"" ;;
    in_list) echo "segment r$2 = country in [\"XX\", \"YY\"]" ;;
    days_since) echo "metric r$2 = days_since(last_order)" ;;
    arithmetic) echo "metric r$2 = if orders > 0 { spent / orders } else { 0.0 }" ;;
  esac
}
for kind in "${kinds[@]}" "${builds[@]}"; do
  mkdir -p "$dir/$kind"
  {
    case $kind in
      schema) echo "$schema" ;;
      retail_segments)
        echo "$schema"
        part 'DIFFERENTIATE: metrics' 'DIFFERENTIATE: value tiers'
        ;;
      retail_stages)
        echo "$schema"
        part 'DIFFERENTIATE: metrics' 'INTERACT'
        ;;
      retail) cat "$retail" ;;
      *)
        echo "$schema"
        for i in $(seq 1 20); do rule "$kind" "$i"; done
        ;;
    esac
  } > "$dir/$kind/rules.idic"
  target/release/idic check "$dir/$kind" > /dev/null
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
times=$dir/times.txt
: > "$times"
for _ in $(seq "$runs"); do
  for kind in "${kinds[@]}" "${builds[@]}"; do
    /usr/bin/time -f "$kind %e %U %S" -a -o "$times" \
      target/release/idic run "$dir/$kind" --customers "$export_file" --as-of "$as_of" \
      --out "$dir/$kind/decisions.csv" --quiet 2> "$dir/$kind/stderr.txt" ||
      { cat "$dir/$kind/stderr.txt" >&2; exit 1; }
  done
done

echo "$n customers, $(nproc) cores, medians of $runs"
printf '%-16s %9s %9s %22s\n' rules "wall (s)" "CPU (s)" "ns per rule+customer"
base=$(awk '$1 == "schema" {print $3 + $4}' "$times" | median)
for kind in "${kinds[@]}" "${builds[@]}"; do
  wall=$(awk -v k="$kind" '$1 == k {print $2}' "$times" | median)
  cpu=$(awk -v k="$kind" '$1 == k {print $3 + $4}' "$times" | median)
  per=$(awk -v c="$cpu" -v b="$base" -v n="$n" -v k="$kind" \
    'BEGIN {if (k == "schema" || k ~ /^retail/) print "-"; else printf "%.1f", (c - b) / (20 * n) * 1e9}')
  printf '%-16s %9s %9s %22s\n' "$kind" "$wall" "$cpu" "$per"
done
awk -v n="$n" 'BEGIN {printf "(per rule+customer in steps of %.1f ns: GNU time counts 10 ms)\n", 0.01 / (20 * n) * 1e9}'
