//! Reading the export: the 400 rows of the example export, as one batch, split into cells
//! ([`RawRows::each`]) and typed into the retail schema's fields
//! ([`RecordReader::read_into`]), the first steps of `run` for each row. The whole run, rules
//! and writing included, is timed by `benches/rule_costs.sh` (its `schema` line is reading
//! and writing alone).
//!
//! Run: `cargo bench --bench read`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use idic::io::input::{CsvScratch, Row};
use idic::io::{BatchReader, InputFormat};
use idic::plan::Program;
use std::fs::File;
use std::path::Path;

fn bench(c: &mut Criterion) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let program = Program::load(&repo.join("rules/retail")).expect("the retail rules load");
    let reader = program.record_reader().expect("the retail schema reads");
    let export = File::open(repo.join("examples/customers.csv")).unwrap();
    let (mut batches, header) = BatchReader::open(&export, InputFormat::Csv, 1 << 20).unwrap();
    let map = reader
        .map_header(&header.expect("a CSV export has a header"))
        .expect("the export has the schema's columns");
    let rows = batches
        .next_batch(None)
        .unwrap()
        .expect("the export has rows");
    let mut scratch = CsvScratch::default();
    let mut count = 0;
    rows.each(&mut scratch, |_, _| count += 1);
    assert_eq!(
        count, 400,
        "the example export has 400 customers in one batch"
    );

    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(count));
    group.bench_function("split", |b| {
        b.iter(|| {
            let mut cells = 0;
            rows.each(&mut scratch, |_, row| {
                if let Row::Csv(row) = row {
                    cells += row.len();
                }
            });
            cells
        })
    });
    let mut values = Vec::new();
    group.bench_function("split_and_type", |b| {
        b.iter(|| {
            let mut read = 0;
            rows.each(&mut scratch, |at, row| {
                read += usize::from(reader.read_into(Some(&map), row, at, &mut values).is_ok());
            });
            assert_eq!(read, 400, "every example customer reads");
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
