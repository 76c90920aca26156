"""Fills an idic contact history (schema 4) and writes an orders file, for benches/measure.sh.

    python3 benches/fill_measure.py HISTORY ORDERS CUSTOMERS

30 nightly runs (as_of 2026-10-01 to 2026-10-30) each contact CUSTOMERS / 10 customers drawn
at random (ids C0000000...), each with one of the retail rules' marketing triggers, a tenth of
them in the control arm, in one of four tiers; each run also records the global holdout's
experiment: CUSTOMERS / 100 controls and four times as many treated, of CUSTOMERS / 5 counted.
The orders: 5 per customer on average, dated 2026-09-01 to 2026-12-31, amounts 5 to 200.
Seeded (7): the same sizes give the same files.
"""
import datetime
import random
import sqlite3
import sys

path, orders, customers = sys.argv[1], sys.argv[2], int(sys.argv[3])
ids = [f"C{i:07d}" for i in range(customers)]
triggers = [("retention_save", "save_offer", "email", "retention"),
            ("welcome_new", "welcome_series", "email", "welcome"),
            ("upsell_next_tier", "tier_progress", "email", "value_development"),
            ("second_order_nudge", "sms_nudge", "sms", "value_development"),
            ("winback_lapsed", "come_back", "email", "winback")]
tiers = ["platinum", "gold", "silver", "bronze"]
rng = random.Random(7)
db = sqlite3.connect(path)
first = datetime.date(2026, 10, 1)
for night in range(30):
    date = (first + datetime.timedelta(days=night)).isoformat()
    per_night = customers // 10
    run = db.execute(
        "INSERT INTO runs (kind, key, as_of, ruleset, ruleset_hash, input, input_hash,"
        " recorded_at, contacts) VALUES ('run', ?, ?, 'retail', 'bench', 'bench', 'bench',"
        " '2026-12-06T00:00:00Z', ?)", (f"bench-{date}", date, per_night)).lastrowid
    numbers = {}
    for t in triggers:
        for arm in ("treated", "control"):
            for tier in tiers:
                numbers[(t[0], arm, tier)] = db.execute(
                    "INSERT INTO treatments (run, date, trigger, action, channel, activity,"
                    " service, arm, tier, stage, segments) VALUES (?,?,?,?,?,?,0,?,?,'active','loyal')",
                    (run, date) + t + (arm, tier)).lastrowid
    db.executemany("INSERT INTO contacted (treatment, customer) VALUES (?, ?)",
                   ((numbers[(rng.choice(triggers)[0],
                              "control" if rng.random() < 0.1 else "treated",
                              rng.choice(tiers))], rng.choice(ids))
                    for _ in range(per_night)))
    groups = {}
    for arm, counted in (("control", customers // 100), ("treated", customers // 5)):
        for tier in tiers:
            groups[(arm, tier)] = db.execute(
                "INSERT INTO holdout_groups (run, date, arm, tier, stage, segments, customers)"
                " VALUES (?, ?, ?, ?, 'active', 'loyal', ?)",
                (run, date, arm, tier, counted // len(tiers))).lastrowid
    members = [("control", customers // 100), ("treated", 4 * customers // 100)]
    db.executemany("INSERT INTO holdout_members (grp, customer) VALUES (?, ?)",
                   ((groups[(arm, rng.choice(tiers))], rng.choice(ids))
                    for arm, n in members for _ in range(n)))
db.commit()
db.close()
start = datetime.date(2026, 9, 1).toordinal()
with open(orders, "w") as f:
    f.write("customer_id,date,amount\n")
    for _ in range(5 * customers):
        day = datetime.date.fromordinal(start + rng.randrange(122)).isoformat()
        f.write(f"{rng.choice(ids)},{day},{rng.randrange(500, 20000) / 100:.2f}\n")
