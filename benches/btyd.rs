//! Fitting BG/NBD (and Gamma-Gamma) on the CDNOW sample's 2,357 customers at the end of the
//! 39-week calibration (`as_of` 1997-09-30, weeks); reading and aggregating the 6,919 orders is
//! timed apart. The target for the BG/NBD fit: at most 0.1 s, the reference Python
//! implementation's time.
//!
//! Run: `cargo bench --bench btyd`.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use idic::analytics::btyd::{BgNbd, GammaGamma};
use idic::analytics::orders::{read_orders, OrderColumns, OrderFormat};
use idic::model::Period;
use std::hint::black_box;
use std::path::Path;

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cdnow_sample.txt");
    let as_of = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let read = || read_orders(&path, OrderFormat::Text, &OrderColumns::cdnow(), as_of).unwrap();
    let summary = read().btyd(Period::Week);
    c.bench_function("cdnow read orders and summarise", |b| {
        b.iter(|| black_box(read().btyd(Period::Week)))
    });
    c.bench_function("cdnow fit BG/NBD", |b| {
        b.iter(|| BgNbd::fit(black_box(&summary)).unwrap())
    });
    c.bench_function("cdnow fit Gamma-Gamma", |b| {
        b.iter(|| GammaGamma::fit(black_box(&summary)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
