//! idic as a library, the way `examples/embed.rs` uses it: load, evaluate one customer,
//! evaluate a stream.

use crate::common::{csv_rows, decide_in_chunks, repo};
use idic::batch::{self, Options, Sinks};
use idic::engine::Evaluator;
use idic::io::{InputFormat, OutputFormat};
use idic::plan::Program;
use rhai::Dynamic;

fn retail() -> Program {
    Program::load(&repo().join("rules/retail")).unwrap()
}

/// The retail rule set as `check` leaves it, for plans made from it by hand.
fn retail_checked() -> idic::check::Checked {
    idic::check::check_path(&repo().join("rules/retail")).unwrap()
}

#[test]
fn one_customer_from_cells() {
    let program = retail();
    assert_eq!(program.name(), "retail");
    assert!(program.content_hash().starts_with("sha256:"));
    let cells = [
        ("Customer ID", "C900003"), // in neither the global nor the win-back holdout
        ("First Name", "Ada"),
        ("Last Name", "Byron"),
        ("Email", "ada@example.com"),
        ("Signup Date", "2021-03-14"),
        ("Last Order Date", "02/02/2025"),
        ("Total Orders", "7"),
        ("Total Spent", "$1,940.00"),
        ("Accepts Email Marketing", "yes"),
        ("Accepts SMS Marketing", "no"),
        ("Country", "GB"),
    ];
    let cell = |column: &str| cells.iter().find(|(c, _)| *c == column).map(|(_, v)| *v);
    let values = program
        .record_reader()
        .unwrap()
        .read_cells(cell, 1)
        .unwrap();
    let decision = Evaluator::new(&program, as_of()).evaluate(values).unwrap();
    // 7 orders, $1,940, last order 637 days before as_of, no survey, no ticket: a big spender
    // who lapsed; platinum; the win-back email at 25% (spent $1,000 or more).
    let segments: Vec<&str> = decision
        .segments
        .iter()
        .map(|&s| program.segment_name(s))
        .collect();
    assert_eq!(segments, ["big_spenders", "lapsed"]);
    assert_eq!(program.tier_name(decision.tier.unwrap()), "platinum");
    let fired: Vec<&str> = decision
        .fired
        .iter()
        .map(|&t| program.trigger_name(t))
        .collect();
    assert_eq!(fired, ["winback_lapsed"]);
    assert_eq!(decision.actions[0].params[0].as_int(), Ok(25));

    // A cell that does not fit is a reject naming its column.
    let reject = program
        .record_reader()
        .unwrap()
        .read_cells(
            |c| {
                if c == "Total Orders" {
                    Some("many")
                } else {
                    cell(c)
                }
            },
            7,
        )
        .unwrap_err();
    assert_eq!(reject.line, 7);
    assert_eq!(reject.column.as_deref(), Some("Total Orders"));
}

#[test]
fn a_stream_into_memory() {
    let program = retail();
    let export = std::fs::File::open(repo().join("examples/customers.csv")).unwrap();
    let mut decisions = Vec::new();
    let outcome = batch::run(
        &program,
        as_of(),
        &export,
        InputFormat::Csv,
        &Options {
            threads: 2,
            ..Options::default()
        },
        Sinks {
            decisions: &mut decisions,
            decisions_format: OutputFormat::Jsonl,
            rejects: None,
        },
    )
    .unwrap();
    assert_eq!((outcome.tally.rows, outcome.tally.decided), (400, 400));
    assert_eq!(decisions.iter().filter(|&&b| b == b'\n').count(), 400);
}

#[test]
fn a_rule_set_with_errors_does_not_load() {
    let err = Program::load(&repo().join("tests/corpus/dsl_unknown_field.idic")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("error[unknown-name]"), "{text}");
    assert!(text.contains("dsl_unknown_field.idic:"), "{text}");
}

/// A `Checked` made without `check`'s compiled expressions (by hand, or kept from elsewhere)
/// still plans: its expressions are compiled then, and decide as `check`'s do; one that does
/// not compile is refused with its diagnostic, never planned empty.
#[test]
fn a_plan_compiles_what_check_did_not() {
    let mut checked = retail_checked();
    let program = Program::new(&checked).unwrap();
    checked.asts = idic::expr::Asts::default();
    let compiled_now = Program::new(&checked).unwrap();
    let (mut one, mut other) = (
        Evaluator::new(&program, as_of()),
        Evaluator::new(&compiled_now, as_of()),
    );
    let mut decided = 0;
    for (line, values) in example_customers(&program).take_while(|(line, _)| *line <= 61) {
        let (a, b) = (one.evaluate(values.clone()), other.evaluate(values));
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "line {line}");
        decided += 1;
    }
    assert!(decided > 40, "{decided}");

    let broken = idic::model::Expr {
        source: "orders >".into(),
        ..checked.rules.segments[0].condition.clone()
    };
    checked.rules.segments[0].condition = broken;
    let Err(errors) = Program::new(&checked) else {
        panic!("a broken expression is refused")
    };
    assert!(errors.iter().any(|d| d.is_error()), "{errors:?}");
}

/// The bundled example export's customers as `program` reads them, each with its line (those
/// it rejects left out).
fn example_customers(program: &Program) -> impl Iterator<Item = (u64, Vec<Dynamic>)> + '_ {
    let rows = csv_rows(&std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap());
    let reader = program.record_reader().unwrap();
    rows.into_iter().enumerate().filter_map(move |(i, row)| {
        let line = i as u64 + 2;
        let cell = |column: &str| row.get(column).map(String::as_str);
        reader
            .read_cells(cell, line)
            .ok()
            .map(|values| (line, values))
    })
}

fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

/// A plan whose tiers leave some customers without one (made without `check`, which ends the
/// list with `otherwise`) leaves them without a tier in columns too, whatever the chunk's row
/// held for an earlier customer.
#[test]
fn a_customer_no_tier_takes_has_none_in_columns_too() {
    let mut checked = retail_checked();
    // `bronze otherwise`.
    checked.rules.tiers.as_mut().unwrap().tiers.pop();
    let program = Program::new(&checked).unwrap();
    let mut by_rows = Evaluator::new(&program, as_of());
    let (lines, mut customers): (Vec<u64>, Vec<Vec<Dynamic>>) = example_customers(&program).unzip();
    let expected: Vec<_> = customers
        .iter()
        .map(|v| by_rows.evaluate(v.clone()))
        .collect();
    // Chunks of one: each customer reuses the row the customers before it left.
    let decided = decide_in_chunks(&program, as_of(), &mut customers, 1);
    let mut untiered = 0;
    for ((line, got), expected) in lines.iter().zip(&decided).zip(&expected) {
        assert_eq!(format!("{got:?}"), format!("{expected:?}"), "line {line}");
        untiered += usize::from(expected.as_ref().is_ok_and(|d| d.tier.is_none()));
    }
    assert!(untiered > 0, "every customer got a tier");
}
