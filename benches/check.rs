//! `check` on a generated rule set with 1,000 segments and 1,000 triggers: parse, build the
//! model, compile and type every expression, run every check.
//!
//! Run: `cargo bench --bench check`. The generated file is also written to
//! `target/bench-rules/large.idic` so the CLI can be timed on it:
//! `time target/release/idic check target/bench-rules/large.idic`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::fmt::Write as _;
use std::path::Path;

/// A rule set of `n` segments and `n` triggers over a storefront schema. Segments use fields,
/// metrics and earlier segments; triggers use segments and the tier.
fn generate(n: usize) -> String {
    let mut s = String::from(
        "ruleset \"large\" { as_of \"2026-11-01\" }\n\ncustomer {\n\
         \x20 id string from \"Customer ID\" key\n\
         \x20 last_order date? from \"Last Order Date\"\n\
         \x20 orders int from \"Total Orders\"\n\
         \x20 spent money from \"Total Spent\"\n\
         \x20 email_ok bool from \"Accepts Email Marketing\"\n\
         \x20 country string from \"Country\"\n\
         \x20 tags list? from \"Tags\"\n}\n\n\
         metric recency = days_since(last_order) ?? 9999\n\
         metric aov = if orders > 0 { spent / orders } else { 0.0 }\n\n",
    );
    for i in 0..n {
        let prev = if i > 0 {
            format!(" || s{}", i - 1)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "segment s{i} = (orders >= {} && spent > {}.5 && recency < {}){prev}",
            i % 20,
            i * 3,
            30 + i % 400
        );
    }
    s.push_str(
        "\ntiers {\n  gold when spent >= 1000\n  silver when spent >= 200\n  bronze otherwise\n}\n",
    );
    for i in 0..n {
        let _ = write!(
            s,
            "\ntrigger t{i} {{\n  activity retention\n  when s{i} && tier != \"bronze\"\n\
             \x20 channel email consent email_ok\n  priority {}\n\
             \x20 action a{i} template \"tpl_{i}\" {{\n    discount = min({}, orders * 2)\n\
             \x20   subject = \"Hello {{id}}, {}\"\n  }}\n}}\n",
            i % 50,
            5 + i % 20,
            i
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = generate(1000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-rules");
    std::fs::create_dir_all(&dir).expect("create target/bench-rules");
    let path = dir.join("large.idic");
    std::fs::write(&path, &text).expect("write the generated rule set");

    let checked = idic::check::check_path(&path).expect("readable");
    assert!(
        !checked.has_errors(),
        "the generated rule set must be clean: {:?}",
        checked.diagnostics.first()
    );
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.bench_function("1000 segments + 1000 triggers", |b| {
        b.iter(|| idic::check::check_path(&path).expect("readable"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
