#!/usr/bin/env bash
# A year of nightly runs in one contact history: how big it grows, what reading it costs a run,
# and what `idic history compact` gives back.
#
#   benches/history_year.sh                 # 100,000 customers (13.3M contacts in a year)
#   benches/history_year.sh 1000000         # the full scale (133M contacts; ~5 GB, slow)
#   KEEP=14d benches/history_year.sh         # compact to 14 days (the retail rules' longest cap)
#
# The export is generated (seed 7, under target/bench/). The history is made by idic and
# filled by `benches/fill_history.py` with 365 nights (2025-11-01 to 2026-10-31) of contacts,
# each night contacting 36.5 % of the customers (the rate of the retail rules on this export)
# at random with a random retail trigger, then fingerprinted (`idic history compact`, which a
# history idic records itself does not need). Then, on that history: a run that reads it
# (`--dry-run`, as of 2026-11-01), `compact --keep $KEEP` (90d unless given), the same run
# again, then one more night's contacts and the compaction a nightly job would then make (as of
# 2026-11-02). Prints the file size, wall time and peak RSS (GNU time) of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-100000}
keep=${KEEP:-90d}

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p target/bench
export_file=target/bench/customers-$customers.csv
[ -f "$export_file" ] || target/release/examples/generate_customers \
  --customers "$customers" --seed 7 --out "$export_file"

history=target/bench/history-year-$customers.sqlite
rm -f "$history" "$history"-wal "$history"-shm
head -2 "$export_file" > target/bench/one.csv
target/release/idic run rules/retail --customers target/bench/one.csv --as-of 2025-10-01 \
  --history "$history" --out /dev/null --quiet 2>/dev/null
python3 benches/fill_history.py "$export_file" "$history" 2025-11-01 365 \
  $((customers * 365 / 1000))

size() { du -m "$history" | cut -f1; }
# Step label, then the command: its wall time and peak RSS.
step() {
  local label=$1
  shift
  /usr/bin/time -f '%e %M' -o target/bench/year-step.txt "$@" >/dev/null 2>&1
  read -r wall rss < target/bench/year-step.txt
  printf '%-44s %8.2f s %8.1f MB   history %6s MB\n' "$label" "$wall" "$((rss / 1024))" "$(size)"
}
contacts=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM contacted').fetchone()[0])" "$history")
printf '%s customers, %s contacts over 365 nights\n' "$customers" "$contacts"
step "fingerprinting the runs Python wrote" \
  target/release/idic history compact "$history" --keep 100000d --as-of 2026-11-01
run=(target/release/idic run rules/retail --customers "$export_file" --as-of 2026-11-01
  --history "$history" --dry-run --out target/bench/year-decisions.jsonl --quiet)
step "a run reading the whole year (--dry-run)" "${run[@]}"
step "compact --keep $keep" \
  target/release/idic history compact "$history" --keep "$keep" --as-of 2026-11-01
step "the same run after compacting" "${run[@]}"
python3 benches/fill_history.py "$export_file" "$history" 2026-11-01 1 $((customers * 365 / 1000))
step "a night later: compact as of 2026-11-02" \
  target/release/idic history compact "$history" --keep "$keep" --as-of 2026-11-02
