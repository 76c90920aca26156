//! Columnar evaluation of the retail rules over one batch of 256 customers of the example
//! export: [`Evaluator::differentiate`] (every metric, segment, tier, lifecycle stage and
//! trigger condition, a rule at a time over the batch), the part of `run` that evaluates
//! rules. Reading the export and writing decisions are not in it; `benches/rule_costs.sh`
//! times whole runs.
//!
//! Run: `cargo bench --bench differentiate`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use idic::batch::CHUNK;
use idic::engine::{Customers, Evaluator};
use idic::io::input::CsvScratch;

mod example;

fn bench(c: &mut Criterion) {
    let example = example::retail();
    let (program, reader, map) = (&example.program, &example.reader, &example.map);
    let mut batch = Customers::new(program);
    example.rows.each(&mut CsvScratch::default(), |at, row| {
        if batch.len() < CHUNK {
            let mut values = reader
                .read(Some(map), row, at)
                .expect("the example customers read");
            batch.push(&mut values);
        }
    });
    assert_eq!(
        batch.len(),
        CHUNK,
        "the example export has {CHUNK} customers"
    );
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut evaluator = Evaluator::new(program, as_of);

    let mut group = c.benchmark_group("differentiate");
    group.throughput(Throughput::Elements(CHUNK as u64));
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
