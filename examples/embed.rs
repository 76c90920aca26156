//! idic as a library: load a rule set, decide for one customer, then for a whole export.
//!
//! ```sh
//! cargo run --release --example embed
//! ```

use idic::batch::{self, Options, Sinks};
use idic::engine::Evaluator;
use idic::io::{InputFormat, OutputFormat};
use idic::plan::Program;
use std::collections::HashMap;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Load: parse, check and plan the rule set (errors come with file:line:column).
    let program = Program::load(Path::new("rules/retail"))?;
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a valid date");

    // One customer: cells by export column, typed by the rule set's schema.
    let cells: HashMap<&str, &str> = [
        ("Customer ID", "C900001"),
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
    ]
    .into_iter()
    .collect();
    let reader = program.record_reader()?;
    let values = reader
        .read_cells(|column| cells.get(column).copied(), 1)
        .map_err(|reject| reject.to_string())?;
    // One evaluator per thread (its own engines and values; the program's compiled
    // expressions are shared).
    let mut evaluator = Evaluator::new(&program, as_of);
    let decision = evaluator.evaluate(values)?;
    let mut line = Vec::new();
    decision.write_json(&program, &mut line);
    print!("one customer: {}", String::from_utf8(line)?);

    // A stream: the bundled export, decisions as CSV into memory, on two threads.
    let export = std::fs::File::open("examples/customers.csv")?;
    let mut decisions = Vec::new();
    let options = Options {
        threads: 2,
        ..Options::default()
    };
    let sinks = Sinks {
        decisions: &mut decisions,
        decisions_format: OutputFormat::Csv,
        rejects: None,
    };
    let outcome = batch::run(&program, as_of, &export, InputFormat::Csv, &options, sinks)
        .map_err(|e| e.to_string())?;
    let t = &outcome.tally;
    println!(
        "the export: {} rows read, {} decided, {} rejected; {} bytes of CSV decisions",
        t.rows,
        t.decided,
        t.rejected,
        decisions.len()
    );
    Ok(())
}
