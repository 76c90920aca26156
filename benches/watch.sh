#!/usr/bin/env bash
# Times `idic watch`: from saving a rule file to the refreshed counts on a sample export.
#
#   benches/watch.sh                          # 10 edits, 10,000 customers, debounce 100 ms
#   EDITS=20 DEBOUNCE=50 benches/watch.sh     # other settings
#   CUSTOMERS=100000 benches/watch.sh
#
# A temporary copy of rules/retail is watched with a generated sample (deterministic, seed 7,
# under target/bench/). Each edit changes the `big_spenders` threshold and saves the file the
# way editors do (a temporary file renamed over it), then waits for watch to print its timing
# line: the time from the first file-system event of the save to the counts printed, and the
# part of it after the debounce interval settled (loading, checking, testing the rule set and
# deciding for the whole sample). Prints each edit's times, then the median and the maximum.
set -euo pipefail
cd "$(dirname "$0")/.."
edits=${EDITS:-10}
customers=${CUSTOMERS:-10000}
debounce=${DEBOUNCE:-100}
target=${CARGO_TARGET_DIR:-target}

cargo build --release --quiet --bin idic --example generate_customers
mkdir -p "$target/bench"
sample=$target/bench/customers-$customers.csv
[ -f "$sample" ] || "$target/release/examples/generate_customers" \
  --customers "$customers" --seed 7 --out "$sample"

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# The rule set's tests read ../../examples/customers.csv.
mkdir -p "$work/rules" "$work/examples"
cp -r rules/retail "$work/rules/"
cp examples/customers.csv "$work/examples/"
rules=$work/rules/retail
log=$work/watch.log

"$target/release/idic" watch "$rules" --customers "$sample" --debounce "$debounce" >"$log" 2>&1 &
pid=$!

# Waits until $log holds at least $2 lines matching $1 (10 s at most).
await() {
  for _ in $(seq 1000); do
    if [ "$(grep -c -- "$1" "$log" || true)" -ge "$2" ]; then return 0; fi
    sleep 0.01
  done
  echo "timed out waiting for '$1'; the log so far:" >&2
  cat "$log" >&2
  exit 1
}
await '^watching' 1

printf '%-5s %10s %16s\n' edit "total (ms)" "after debounce"
for i in $(seq "$edits"); do
  sleep 1 # edits spaced apart, as a person saves
  # Thresholds from 1510 to 1590, each unlike the one before: every test still passes (its
  # big spender has $1,940).
  sed "s/segment big_spenders = spent >= 1500/segment big_spenders = spent >= $((1500 + (i % 9 + 1) * 10))/" \
    rules/retail/retail.idic >"$rules/.retail.idic.tmp"
  mv "$rules/.retail.idic.tmp" "$rules/retail.idic"
  await 'counts refreshed' "$i"
  grep 'counts refreshed' "$log" | tail -1 |
    sed -E 's/.*refreshed ([0-9]+) ms .*then ([0-9]+) ms.*/\1 \2/' |
    { read -r total after; printf '%-5s %10s %16s\n' "$i" "$total" "$after"; }
done

if grep -q 'keeping version' "$log"; then
  echo "an edit was refused; the log:" >&2
  cat "$log" >&2
  exit 1
fi
times=$(grep 'counts refreshed' "$log" | sed -E 's/.*refreshed ([0-9]+) ms .*then ([0-9]+) ms.*/\1 \2/')
# The median (the upper one of an even count) and the maximum of column $1.
stats() { cut -d' ' -f"$1" <<<"$times" | sort -n | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1], v[NR] }'; }
read -r total_median total_max < <(stats 1)
read -r after_median after_max < <(stats 2)
echo
echo "$edits edits, $customers customers, debounce $debounce ms"
echo "save to refreshed counts:         median $total_median ms, max $total_max ms"
echo "after the debounce settled:       median $after_median ms, max $after_max ms"
echo "beyond the debounce interval:     median $((total_median - debounce)) ms, max $((total_max - debounce)) ms"
printf 'machine: %s cores, %s\n' "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
