#!/usr/bin/env bash
# idic beside DuckDB, the peer a data-savvy marketer would pick: the retail rule set's tiers,
# stages, segments and trigger conditions written as one SQL query (benches/duckdb_retail.sql),
# run by DuckDB from PyPI in a virtual environment this script creates (target/bench/venv).
#
#   benches/duckdb.sh                    # 1,000,000 customers
#   benches/duckdb.sh 1000000 5000000    # several sizes
#   RUNS=7 benches/duckdb.sh             # 7 runs of each instead of 5
#
# For each size: the export is generated once (seed 7, under target/bench/); one idic run's
# decisions are checked against the query's answers, customer by customer (any difference
# fails the script); then idic (`run`, CSV decisions) and DuckDB (the query, its answers
# COPYed to a CSV file) run alternately, each as a whole process. Prints the medians of wall
# time and CPU time (user + system) and the largest peak RSS (GNU time). Both use every core.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000)
as_of=2026-11-01

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p target/bench
venv=target/bench/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import duckdb' 2>/dev/null || "$venv/bin/pip" install --quiet 'duckdb>=1.3'
python=$venv/bin/python
echo "DuckDB $("$python" -c 'import duckdb; print(duckdb.__version__)'), $(nproc) cores"

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-12s %-7s %10s %10s %10s\n' customers tool "wall (s)" "CPU (s)" "RSS (MB)"
for n in "${sizes[@]}"; do
  export_file=target/bench/customers-$n.csv
  [ -f "$export_file" ] || target/release/examples/generate_customers \
    --customers "$n" --seed 7 --out "$export_file"
  target/release/idic run rules/retail --customers "$export_file" --as-of "$as_of" \
    --out target/bench/duckdb-check-$n.jsonl --quiet 2>/dev/null
  "$python" benches/duckdb_query.py check "$export_file" "$as_of" target/bench/duckdb-check-$n.jsonl
  : > target/bench/duckdb-times.txt
  for _ in $(seq "$runs"); do
    /usr/bin/time -f 'idic %e %U %S %M' -a -o target/bench/duckdb-times.txt \
      target/release/idic run rules/retail --customers "$export_file" --as-of "$as_of" \
      --out target/bench/duckdb-idic-$n.csv --quiet 2>/dev/null
    /usr/bin/time -f 'duckdb %e %U %S %M' -a -o target/bench/duckdb-times.txt \
      "$python" benches/duckdb_query.py run "$export_file" "$as_of" target/bench/duckdb-sql-$n.csv
  done
  for tool in idic duckdb; do
    wall=$(awk -v t=$tool '$1 == t {print $2}' target/bench/duckdb-times.txt | median)
    cpu=$(awk -v t=$tool '$1 == t {print $3 + $4}' target/bench/duckdb-times.txt | median)
    rss=$(awk -v t=$tool '$1 == t && $5 > m {m = $5} END {print int(m / 1024)}' \
      target/bench/duckdb-times.txt)
    printf '%-12s %-7s %10s %10s %10s\n' "$n" "$tool" "$wall" "$cpu" "$rss"
  done
done
