//! Population scores for 1,000,000 customers: every customer pushed into a
//! [`idic::analytics::scores::Collector`], the edges found (`finish`), and every customer
//! scored, as a run's two passes would (ids and values made beforehand, not timed).
//!
//! `cargo bench --bench scores`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use idic::analytics::scores::{Collector, Method, Spec};
use std::hint::black_box;

const CUSTOMERS: usize = 1_000_000;

/// A deterministic stream of `u64`s (splitmix64).
fn stream(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// (recency days, purchase days, spend) per customer: recency uniform over two years,
/// frequency geometric (half the customers buy once), spend skewed with cents.
fn population() -> (Vec<String>, [Vec<f64>; 3]) {
    let mut next = stream(7);
    let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    let ids = (0..CUSTOMERS).map(|i| format!("C{i:07}")).collect();
    let mut metrics = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..CUSTOMERS {
        metrics[0].push((unit() * 730.0).floor());
        metrics[1].push(1.0 + (unit().ln() / 0.5f64.ln()).floor());
        metrics[2].push((unit().powi(3) * 500_000.0).round() / 100.0);
    }
    (ids, metrics)
}

/// Both passes for one metric; the sum of the scores.
fn score_all(spec: &Spec, ids: &[String], values: &[f64]) -> u64 {
    let mut c = Collector::new(spec.clone());
    for (v, id) in values.iter().zip(ids) {
        c.push(*v, id).unwrap();
    }
    let s = c.finish();
    values
        .iter()
        .zip(ids)
        .map(|(v, id)| u64::from(s.score(*v, id).unwrap()))
        .sum()
}

fn scores(c: &mut Criterion) {
    let (ids, metrics) = population();
    let together = |reverse| Spec::new(5, reverse, Method::Together).unwrap();
    let hash = |reverse| {
        let salt = "bench".to_string();
        Spec::new(5, reverse, Method::Hash { salt }).unwrap()
    };
    let mut group = c.benchmark_group("scores_1m");
    group.sample_size(10);
    for (name, spec, metric) in [
        ("together/monetary", together(false), 2),
        ("together/frequency", together(false), 1),
        ("hash/monetary", hash(false), 2),
        ("hash/frequency", hash(false), 1),
    ] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(score_all(&spec, &ids, &metrics[metric])))
        });
    }
    // R, F and M: what an RFM rule set scores.
    let rfm = [together(true), together(false), together(false)];
    group.bench_function(BenchmarkId::from_parameter("together/r+f+m"), |b| {
        b.iter(|| {
            let sum: u64 = (0..3).map(|i| score_all(&rfm[i], &ids, &metrics[i])).sum();
            black_box(sum)
        })
    });
    let rfm = [hash(true), hash(false), hash(false)];
    group.bench_function(BenchmarkId::from_parameter("hash/r+f+m"), |b| {
        b.iter(|| {
            let sum: u64 = (0..3).map(|i| score_all(&rfm[i], &ids, &metrics[i])).sum();
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, scores);
criterion_main!(benches);
