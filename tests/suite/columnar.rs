//! Columnar evaluation against row-by-row evaluation: random rule sets (metrics, segments
//! reading them, tiers, a lifecycle, triggers with consent, priorities and a cap on triggers
//! per customer, parameters) over random exports give every customer the same decision, or
//! the same error, both ways. Row by row ([`Evaluator::evaluate`]) is what `explain`, `test`
//! and `watch` run; columnar ([`idic::engine::Customers`]) is what `run` runs.

use crate::common::decide_in_chunks;
use crate::fuzz::{config, expression, typed, Ty};
use idic::engine::Evaluator;
use idic::plan::Program;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::cell::Cell;

const SCHEMA: &str = r#"customer {
  id     string from "Id" key
  orders int?   from "Orders"
  spent  money  from "Spent"
  email  bool?  from "Email"
  tags   list?  from "Tags"
  last   date?  from "Last"
  name   string from "Name"
}
"#;

/// One export row's cells, in [`SCHEMA`]'s order after the id: ordinary values, empty cells
/// and extremes.
fn row() -> impl Strategy<Value = [String; 6]> {
    let pick = |cells: &[&str]| {
        prop::sample::select(cells.iter().map(|c| c.to_string()).collect::<Vec<_>>())
    };
    (
        prop_oneof![
            pick(&["", "0", "1", "-1", "9223372036854775807"]),
            (0i64..40).prop_map(|i| i.to_string())
        ],
        prop_oneof![
            pick(&["0", "0.01", "-5.25", "9999999999999.99"]),
            (0u32..3000).prop_map(|c| format!("{c}.50"))
        ],
        pick(&["yes", "no", ""]),
        pick(&["", "vip", "vip;x", ";;", "x"]),
        pick(&[
            "",
            "2026-10-01",
            "1970-01-01",
            "9999-12-31",
            "2025-02-28",
            "2026-11-01",
        ]),
        pick(&["Ada", "", "Zoë", "a\"b"]),
    )
        .prop_map(|(o, s, e, t, l, n)| [o, s, e, t, l, n])
}

/// A rule set whose every kind of rule holds a generated expression.
fn rules(
    metric: &str,
    segments: &[String; 2],
    tiers: &[String; 2],
    stage: &str,
    triggers: &[String; 2],
) -> String {
    let [a, b] = segments;
    let [top, mid] = tiers;
    let [t1, t2] = triggers;
    format!(
        r#"ruleset "columnar" {{ as_of "2026-11-01" max_triggers 1 }}
{SCHEMA}
metric m = {metric}
metric n = if is_missing(orders) {{ 0 }} else {{ orders * 2 }}
segment a = {a}
segment b = ({b}) || (a && n > 3)
tiers {{
  top when {top}
  mid when {mid} || b
  low otherwise
}}
lifecycle {{
  first activity welcome   when {stage}
  quiet activity winback   when (days_since(last) ?? 0) > 365
  rest  activity retention otherwise
}}
trigger one {{
  activity retention
  when     {t1}
  channel  email consent email
  priority 10
  action x template "x" {{
    v = m
  }}
}}
trigger two {{
  activity dissatisfaction
  service  "a reply the customer asked for"
  when     ({t2}) && tier != "low"
  channel  email
  priority 20
  action y template "y" {{
    w    = tier
    hi   = "Hello {{name}}"
  }}
}}
"#
    )
}

fn condition() -> BoxedStrategy<String> {
    prop_oneof![
        3 => typed(Ty::Bool, 2),
        2 => prop::sample::select(vec![
            "orders >= 2 && spent > 100.0",
            "(orders ?? 0) > 3 || email",
            "!a && \"vip\" in (tags ?? [])",
            "m > 10",
            "spent >= 1500.0 || (b && orders > 1)",
            "is_missing(last) || days_since(last) > 30",
            // Fails (out of bounds) for some customers: several rules can fail for one.
            "(tags ?? [])[orders ?? 0] == \"vip\"",
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

#[test]
fn columnar_and_row_by_row_decisions_agree() {
    let config = config(300);
    let cases = config.cases;
    let (loaded, decided, failed) = (Cell::new(0_u32), Cell::new(0_u32), Cell::new(0_u32));
    let metric = prop_oneof![typed(Ty::Int, 2), typed(Ty::Dec, 2), expression()];
    let strategy = (
        metric,
        [condition(), condition()],
        [condition(), condition()],
        condition(),
        [condition(), condition()],
        prop::collection::vec(row(), 1..16),
    );
    TestRunner::new(config)
        .run(
            &strategy,
            |(metric, segments, tiers, stage, triggers, rows)| {
                let text = rules(&metric, &segments, &tiers, &stage, &triggers);
                let dir = tempfile::tempdir().unwrap();
                std::fs::write(dir.path().join("rules.idic"), &text).unwrap();
                // A generated rule that fails for every sample customer is refused by `check`.
                let Ok(program) = Program::load(dir.path()) else {
                    return Ok(());
                };
                loaded.set(loaded.get() + 1);
                let reader = program.record_reader().unwrap();
                let columns = ["Orders", "Spent", "Email", "Tags", "Last", "Name"];
                let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
                let mut by_rows = Evaluator::new(&program, as_of);
                let (mut expected, mut read) = (Vec::new(), Vec::new());
                for (i, cells) in rows.iter().enumerate() {
                    let id = format!("C{i}");
                    let cell = |column: &str| match column {
                        "Id" => Some(id.as_str()),
                        column => columns
                            .iter()
                            .position(|c| *c == column)
                            .map(|k| cells[k].as_str()),
                    };
                    // A row the reader rejects is decided neither way.
                    let Ok(values) = reader.read_cells(cell, i as u64 + 2) else {
                        continue;
                    };
                    let decision = by_rows.evaluate(values.clone());
                    let counter = if decision.is_ok() { &decided } else { &failed };
                    counter.set(counter.get() + 1);
                    expected.push(format!("{decision:?}"));
                    read.push(values);
                }
                // 1 to 4 rows a chunk: several chunks reuse the batch's rows.
                let size = 1 + read.len() % 4;
                let decided = decide_in_chunks(&program, as_of, &mut read, size);
                for (at, got) in decided.iter().enumerate() {
                    prop_assert_eq!(
                        &format!("{got:?}"),
                        &expected[at],
                        "row {} of\n{}",
                        at,
                        text
                    );
                }
                Ok(())
            },
        )
        .unwrap();
    let (loaded, decided, failed) = (loaded.get(), decided.get(), failed.get());
    eprintln!("{loaded} of {cases} rule sets loaded: {decided} customers decided, {failed} failed");
    // Not vacuous: many rule sets load (`check` refuses those with a rule that fails for every
    // sample customer), and customers are both decided and failed.
    assert!(
        loaded >= cases / 3,
        "only {loaded} of {cases} rule sets loaded"
    );
    assert!(
        decided >= loaded && failed > 0,
        "{decided} decided, {failed} failed"
    );
}
