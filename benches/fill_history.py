"""Fills an empty idic contact history (schema 3) with generated nightly runs, for the benches.

    python3 benches/fill_history.py EXPORT HISTORY FIRST_DATE NIGHTS PER_NIGHT

Night n (from 0) is a run as of FIRST_DATE + n days contacting PER_NIGHT customers of EXPORT
(its first column), each drawn at random (seed 7) with one of the retail rules' triggers: one
`treatments` row per trigger a night, one `contacted` row per contact. The runs have no
fingerprints (`contact_keys`): `idic history compact` makes them, as idic does for its own.
"""
import csv
import datetime
import random
import sqlite3
import sys

export, path, first, nights, per_night = sys.argv[1:6]
nights, per_night = int(nights), int(per_night)
first = datetime.date.fromisoformat(first)
with open(export, newline="") as f:
    ids = [row[0] for row in csv.reader(f)][1:]
triggers = [("service_call", "call_back", "call", "dissatisfaction", 1),
            ("service_email", "apology", "email", "dissatisfaction", 1),
            ("retention_save", "save_offer", "email", "retention", 0),
            ("welcome_new", "welcome_series", "email", "welcome", 0),
            ("champion_early_access", "early_access", "email", "custom:advocacy", 0),
            ("upsell_next_tier", "tier_progress", "email", "value_development", 0),
            ("second_order_nudge", "sms_nudge", "sms", "value_development", 0),
            ("winback_lapsed", "come_back", "email", "winback", 0)]
rng = random.Random(7)
db = sqlite3.connect(path)
for night in range(nights):
    date = (first + datetime.timedelta(days=night)).isoformat()
    run = db.execute(
        "INSERT INTO runs (kind, key, as_of, ruleset, ruleset_hash, input, input_hash,"
        " recorded_at, contacts)"
        " VALUES ('run', ?, ?, 'retail', 'bench', 'bench', 'bench', '2026-12-06T00:00:00Z', ?)",
        (f"bench-{date}", date, per_night)).lastrowid
    numbers = [db.execute(
        "INSERT INTO treatments (run, date, trigger, action, channel, activity, service, arm,"
        " tier, stage, segments) VALUES (?,?,?,?,?,?,?,'treated','silver','active','loyal')",
        (run, date) + t).lastrowid for t in triggers]
    db.executemany("INSERT INTO contacted (treatment, customer) VALUES (?, ?)",
                   ((numbers[rng.randrange(len(numbers))], ids[rng.randrange(len(ids))])
                    for _ in range(per_night)))
db.commit()
db.execute("VACUUM")
db.close()
