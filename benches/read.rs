//! Reading the export: the 400 rows of the example export, as one batch, split into cells
//! ([`RawRows::each`]) and typed into the retail schema's fields
//! ([`RecordReader::read_into`]), the first steps of `run` for each row. The whole run, rules
//! and writing included, is timed by `benches/rule_costs.sh` (its `schema` line is reading
//! and writing alone).
//!
//! Run: `cargo bench --bench read`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use idic::io::input::{CsvScratch, Row};

mod example;

fn bench(c: &mut Criterion) {
    let example = example::retail();
    let (reader, map, rows) = (&example.reader, &example.map, &example.rows);
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
    // A row's room, as `run` keeps it: the fields, then the population variables.
    let mut values = Vec::with_capacity(example.program.inputs());
    group.bench_function("split_and_type", |b| {
        b.iter(|| {
            let mut read = 0;
            rows.each(&mut scratch, |at, row| {
                read += usize::from(reader.read_into(Some(map), row, at, &mut values).is_ok());
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
