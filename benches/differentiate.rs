//! Columnar evaluation of the retail rules over one batch of 256 customers of the example
//! export: [`Evaluator::differentiate`] (every metric, segment, tier, lifecycle stage and
//! trigger condition, a rule at a time over the batch), the part of `run` that evaluates
//! rules. Reading the export and writing decisions are not in it; `benches/rule_costs.sh`
//! times whole runs.
//!
//! Run: `cargo bench --bench differentiate`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use idic::engine::{Customers, Evaluator};
use idic::plan::Program;
use std::collections::HashMap;
use std::path::Path;

/// The batch size `run` uses.
const BATCH: usize = 256;

fn bench(c: &mut Criterion) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let program = Program::load(&repo.join("rules/retail")).expect("the retail rules load");
    let reader = program.record_reader().expect("the retail schema reads");
    let mut export = csv::Reader::from_path(repo.join("examples/customers.csv")).unwrap();
    let header: Vec<String> = export
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut batch = Customers::new(&program);
    for (i, record) in export.records().take(BATCH).enumerate() {
        let record = record.unwrap();
        let cells: HashMap<&str, &str> = header.iter().map(String::as_str).zip(&record).collect();
        let mut values = reader
            .read_cells(|column| cells.get(column).copied(), i as u64 + 2)
            .expect("the example customers read");
        batch.push(&mut values);
    }
    assert_eq!(
        batch.len(),
        BATCH,
        "the example export has {BATCH} customers"
    );
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut evaluator = Evaluator::new(&program, as_of);

    let mut group = c.benchmark_group("differentiate");
    group.throughput(Throughput::Elements(BATCH as u64));
    // The batch's inputs stay as they are: each round evaluates the same customers again.
    group.bench_function("retail", |b| b.iter(|| evaluator.differentiate(&mut batch)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
