//! One evaluation of a retail rule expression: natively ([`idic::expr::native::Native`]) and
//! with rhai in a reused `Scope` (the batch engine's fallback), on one realistic customer.
//!
//! Run: `cargo bench --bench expr`; each benchmark is `<path>/<expression>`.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use idic::expr::{compile, engine, native::Native};
use idic::model::Expr;
use idic::source::Span;
use rhai::{Dynamic, Scope};
use std::hint::black_box;

const EXPRESSIONS: &[&str] = &[
    "orders >= 4 && recency <= 90",
    "(nps ?? 10) <= 6 || open_tickets > 0",
    "if orders > 0 { round_money(spent / orders) } else { 0.0 }",
    "switch tier { \"platinum\" => 20, \"gold\" => 15, _ => 10 }",
    "days_since(last_order)",
    "\"vip\" in (tags ?? [])",
    "unhappy && tier in [\"platinum\", \"gold\"] && !is_missing(phone)",
];

fn bench(c: &mut Criterion) {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let engine = engine(as_of);
    // A regular who never answered the survey.
    let customer: Vec<(&str, Dynamic)> = vec![
        ("orders", 6_i64.into()),
        ("recency", 42_i64.into()),
        ("nps", Dynamic::UNIT),
        ("open_tickets", 0_i64.into()),
        ("spent", 742.5_f64.into()),
        ("tier", "gold".into()),
        (
            "last_order",
            Dynamic::from(NaiveDate::from_ymd_opt(2026, 9, 20).unwrap()),
        ),
        (
            "tags",
            Dynamic::from_array(vec!["newsletter".into(), "vip".into()]),
        ),
        ("unhappy", true.into()),
        ("phone", "+1 212-555-0142".into()),
    ];
    let names: Vec<&str> = customer.iter().map(|(n, _)| *n).collect();
    let slots: Vec<Dynamic> = customer.iter().map(|(_, v)| v.clone()).collect();
    let mut scope = Scope::new();
    for (name, value) in &customer {
        scope.push_dynamic(*name, value.clone());
    }

    let mut group = c.benchmark_group("expr");
    for source in EXPRESSIONS {
        let expr = Expr {
            source: source.to_string(),
            span: Span::default(),
            verbatim: true,
        };
        let ast = compile(&engine, &expr, &names).unwrap();
        let slot_of = |name: &str| names.iter().position(|n| *n == name);
        let native = Native::lower(&ast, &slot_of).expect("lowers");
        let expected = engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
            .unwrap();
        assert_eq!(
            native.eval(&slots, as_of).unwrap().to_string(),
            expected.to_string()
        );
        group.bench_with_input(BenchmarkId::new("native", source), &slots, |b, slots| {
            b.iter(|| native.eval(black_box(slots), as_of).unwrap())
        });
        group.bench_function(BenchmarkId::new("rhai", source), |b| {
            b.iter(|| {
                let len = scope.len();
                let value = engine
                    .eval_ast_with_scope::<Dynamic>(&mut scope, black_box(&ast))
                    .unwrap();
                scope.rewind(len);
                value
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
