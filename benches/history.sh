#!/usr/bin/env bash
# What the contact history costs a run: `idic run` with the shipped retail rules on a generated
# export, without a history, reading one (`--dry-run`), and reading and recording one.
#
#   benches/history.sh                        # 1,000,000 customers, 3,000,000 earlier contacts
#   benches/history.sh 200000 600000          # other sizes
#   RUNS=5 THREADS=1 benches/history.sh       # best of 5, on one thread
#
# The export is generated once (deterministic, seed 7, under target/bench/). The history is
# made by idic (its schema) and filled by `benches/fill_history.py` with the given number of
# contacts over 30 earlier nights (as_of 2026-10-01 to 2026-10-30), each a random customer of
# the export and a random retail trigger, then fingerprinted (`idic history compact`, which a
# history idic records itself does not need). The retail rules read every contact (their
# welcome is entered once, `reentry never`). Each recording run starts from a fresh copy of the
# history.
# The three runs take turns $RUNS times; prints the best wall time and the largest peak RSS
# (GNU time) of each.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
threads=${THREADS:-2}
customers=${1:-1000000}
contacts=${2:-3000000}

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p target/bench
export_file=target/bench/customers-$customers.csv
[ -f "$export_file" ] || target/release/examples/generate_customers \
  --customers "$customers" --seed 7 --out "$export_file"

history=target/bench/history-v3-$customers-$contacts.sqlite
if [ ! -f "$history" ]; then
  head -2 "$export_file" > target/bench/one.csv
  target/release/idic run rules/retail --customers target/bench/one.csv --as-of 2026-09-30 \
    --history "$history" --out /dev/null --quiet 2>/dev/null
  python3 benches/fill_history.py "$export_file" "$history" 2026-10-01 30 $((contacts / 30))
  # Rows written by another program: fingerprinted for fast reading, as idic does for its own.
  target/release/idic history compact "$history" --keep 100000d --as-of 2026-11-01 2>/dev/null
fi

# One run of mode $1 (none, dry, record): its wall time and peak RSS (KB) appended to
# target/bench/$1.txt.
once() {
  local extra=()
  case $1 in
    dry) extra=(--history target/bench/history-run.sqlite --dry-run) ;;
    record) extra=(--history target/bench/history-run.sqlite) ;;
  esac
  cp "$history" target/bench/history-run.sqlite
  /usr/bin/time -f '%e %M' -a -o "target/bench/$1.txt" target/release/idic run rules/retail \
    --customers "$export_file" --as-of 2026-11-01 --out target/bench/decisions-history.jsonl \
    --threads "$threads" --quiet "${extra[@]}" 2>/dev/null
}

# The modes take turns, so that a machine's slower moments fall on all three alike.
rm -f target/bench/{none,dry,record}.txt
for _ in $(seq "$runs"); do
  for mode in none dry record; do once "$mode"; done
done

# Label, mode: the best wall time and the largest peak RSS of the mode's runs.
report() {
  sort -n "target/bench/$2.txt" | awk -v label="$1" \
    'NR == 1 {best = $1} $2 > rss {rss = $2} END {printf "%-34s %10.2f %10.1f\n", label, best, rss / 1024}'
}

printf '%s customers, %s earlier contacts, %s threads, best of %s (taking turns)\n' \
  "$customers" "$contacts" "$threads" "$runs"
printf '%-34s %10s %10s\n' run "wall (s)" "RSS (MB)"
report "no history" none
report "reading the history (--dry-run)" dry
report "reading and recording" record
