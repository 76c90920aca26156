#!/usr/bin/env bash
# Makes the worked example of `idic measure` (README, "Measuring the effect"): three monthly
# runs of the shipped retail rules over a generated export of 12,000 customers, recorded in
# examples/measure/history.sqlite, and their orders in examples/measure/orders.csv (with a
# known effect: see make_outcomes.py). Deterministic; the export goes under target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --bin idic --example generate_customers
mkdir -p target/measure-example
export_file=target/measure-example/customers.csv
target/release/examples/generate_customers --customers 12000 --seed 11 --out "$export_file"
rm -f examples/measure/history.sqlite
for as_of in 2026-09-01 2026-10-01 2026-11-01; do
  target/release/idic run rules/retail --customers "$export_file" --as-of "$as_of" \
    --history examples/measure/history.sqlite --out "target/measure-example/$as_of.jsonl" --quiet
done
python3 examples/measure/make_outcomes.py "$export_file" examples/measure/history.sqlite \
  examples/measure/orders.csv
