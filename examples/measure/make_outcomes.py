"""Writes the orders of the worked example of `idic measure` (README), with a known effect.

    python3 examples/measure/make_outcomes.py EXPORT HISTORY ORDERS

(`examples/measure/make.sh` runs it.)

Each customer of the export orders within the 30 days after each run's as_of with probability
8%, and 12% (4 points more) when a marketing trigger contacted them in that run; and once more
at random in the 60 days before the first run. Amounts are lognormal (median about 45).
Seeded: the same inputs give the same file.
"""
import csv
import datetime
import random
import sqlite3
import sys

export, history, out = sys.argv[1:4]
with open(export, newline="") as f:
    ids = [row[0] for row in csv.reader(f)][1:]
db = sqlite3.connect(history)
runs = [(run, datetime.date.fromisoformat(as_of))
        for run, as_of in db.execute("SELECT run, as_of FROM runs WHERE kind = 'run' ORDER BY run")]
treated = set(db.execute(
    "SELECT run, customer FROM contacts WHERE arm = 'treated' AND service = 0"))
rng = random.Random(2026)
rows = []
for customer in ids:
    first = runs[0][1]
    rows.append((customer, first - datetime.timedelta(days=rng.randrange(1, 61))))
    for run, as_of in runs:
        p = 0.12 if (run, customer) in treated else 0.08
        if rng.random() < p:
            rows.append((customer, as_of + datetime.timedelta(days=rng.randrange(1, 31))))
rows.sort(key=lambda r: (r[1], r[0]))
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["customer_id", "date", "amount"])
    for customer, date in rows:
        w.writerow([customer, date.isoformat(), f"{rng.lognormvariate(3.8, 0.6):.2f}"])
