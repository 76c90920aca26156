#!/usr/bin/env bash
# What `idic measure` costs: 1,000,000 customers' contacts over 30 nightly runs (3,000,000
# contacts, the retail triggers, a tenth of them controls; each run also records the global
# holdout's experiment: 10,000 controls and 40,000 treated of 200,000) against 5,000,000
# orders, measured with `--by tier`.
#
#   benches/measure.sh                  # 1,000,000 customers, 3,000,000 contacts, 5,000,000 orders
#   RUNS=5 benches/measure.sh           # best of 5 instead of 3
#
# The history and the orders are generated once (seeded) under target/bench/ by
# benches/fill_measure.py. Prints the best wall time and the peak RSS (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
customers=${CUSTOMERS:-1000000}
cargo build --release --quiet --bin idic
mkdir -p target/bench
history=target/bench/measure-$customers.sqlite
orders=target/bench/measure-orders-$customers.csv
if [ ! -f "$history" ] || [ ! -f "$orders" ]; then
  rm -f "$history" "$orders"
  # A history of idic's schema: one run of the shipped example, then the generated runs.
  target/release/idic run rules/retail --customers examples/customers.csv --as-of 2026-01-01 \
    --history "$history" --out target/bench/measure-seed.jsonl --quiet
  python3 benches/fill_measure.py "$history" "$orders" "$customers"
fi
best= rss=0
for _ in $(seq "$runs"); do
  /usr/bin/time -f '%e %M' -o target/bench/time.txt target/release/idic measure \
    --history "$history" --outcomes "$orders" --by tier --format json \
    --out target/bench/measure.json
  read -r wall kb < target/bench/time.txt
  if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; fi
  [ "$kb" -gt "$rss" ] && rss=$kb
done
echo "measure: best of $runs ${best} s wall, peak RSS $((rss / 1024)) MB"
