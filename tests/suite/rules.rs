//! The shipped rule sets: they check clean, their DSL and TOML twins are one model, every rule
//! file in the repo is a fixed point of `fmt`, and `convert` round-trips.

use crate::common::repo;
use idic::model::RuleSet;
use idic::syntax::{self, printer, Loaded, RuleFormat};
use std::path::{Path, PathBuf};

/// Every `.idic` and `.toml` file under `rules/` and `tests/`.
fn rule_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("rules"), repo().join("tests")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if RuleFormat::of(&path).is_some() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Parses one file; `None` when it has errors (the broken corpus).
fn parse_file(path: &Path) -> Option<RuleSet> {
    let mut loaded = Loaded::default();
    let (_, rules) = syntax::load_bytes(&mut loaded, path, std::fs::read(path).unwrap());
    rules.filter(|_| !loaded.has_errors())
}

fn parse_text(text: &str, format: RuleFormat) -> RuleSet {
    let (rules, diags) = syntax::parse(Default::default(), text, format);
    assert!(diags.is_empty(), "{diags:#?}\n--- in ---\n{text}");
    rules
}

#[test]
fn shipped_rule_sets_check_clean() {
    for entry in std::fs::read_dir(repo().join("rules")).unwrap() {
        let dir = entry.unwrap().path();
        let checked = idic::check::check_path(&dir).unwrap();
        assert!(
            checked.diagnostics.is_empty(),
            "{}: {:#?}",
            dir.display(),
            checked.diagnostics
        );
    }
}

#[test]
fn dsl_and_toml_twins_load_to_equal_models() {
    let dsl_dir = repo().join("rules/retail");
    let toml_dir = repo().join("rules/retail-toml");
    let dsl = parse_file(&dsl_dir.join("retail.idic")).expect("retail.idic parses");
    let toml = parse_file(&toml_dir.join("retail.toml")).expect("retail.toml parses");
    assert_eq!(dsl, toml);
    let dsl_tests = parse_file(&dsl_dir.join("tests.idic")).expect("tests.idic parses");
    let toml_tests = parse_file(&toml_dir.join("tests.toml")).expect("tests.toml parses");
    assert!(
        dsl_tests.tests.len() >= 10,
        "the shipped rules carry real tests"
    );
    assert_eq!(dsl_tests, toml_tests);
    // Equality must be able to fail: a changed threshold is a different model.
    let mut changed = toml.clone();
    changed.segments[0].condition.source.push_str(" && true");
    assert_ne!(dsl, changed);
}

#[test]
fn fmt_is_idempotent_on_every_rule_file() {
    let mut formatted = 0;
    for path in rule_files() {
        if RuleFormat::of(&path) != Some(RuleFormat::Dsl) {
            continue;
        }
        let Some(rules) = parse_file(&path) else {
            continue;
        };
        let once = printer::print(&rules);
        let twice = printer::print(&parse_text(&once, RuleFormat::Dsl));
        assert_eq!(once, twice, "{}", path.display());
        assert_eq!(
            parse_text(&once, RuleFormat::Dsl),
            rules,
            "{}",
            path.display()
        );
        formatted += 1;
    }
    assert!(formatted >= 2, "too few DSL files formatted: {formatted}");
}

#[test]
fn shipped_dsl_files_are_formatted() {
    for path in rule_files()
        .into_iter()
        .filter(|p| p.starts_with(repo().join("rules")))
    {
        if RuleFormat::of(&path) == Some(RuleFormat::Dsl) {
            let text = std::fs::read_to_string(&path).unwrap();
            let rules = parse_text(&text, RuleFormat::Dsl);
            assert_eq!(
                printer::print(&rules),
                text,
                "{} is not formatted",
                path.display()
            );
        }
    }
}

#[test]
fn fmt_keeps_every_comment() {
    for file in ["rules/retail/retail.idic", "rules/cdnow/cdnow.idic"] {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let comments: Vec<&str> = text
            .lines()
            .filter_map(|l| l.find("//").map(|i| l[i..].trim_end()))
            .collect();
        assert!(comments.len() >= 5, "{file}: the rules should be commented");
        let rules = parse_text(&text, RuleFormat::Dsl);
        assert_eq!(syntax::count_comments(&rules), comments.len(), "{file}");
        let printed = printer::print(&rules);
        for c in comments {
            assert!(printed.contains(c), "{file}: lost comment {c:?}");
        }
    }
}

#[test]
fn convert_round_trips_through_both_formats() {
    let mut converted = 0;
    for path in rule_files() {
        let Some(rules) = parse_file(&path) else {
            continue;
        };
        let via_toml = parse_text(&syntax::toml::print(&rules), RuleFormat::Toml);
        assert_eq!(via_toml, rules, "{} -> toml -> model", path.display());
        let via_dsl = parse_text(&printer::print(&rules), RuleFormat::Dsl);
        assert_eq!(via_dsl, rules, "{} -> dsl -> model", path.display());
        converted += 1;
    }
    assert!(converted >= 2, "too few rule files converted: {converted}");
}

#[test]
fn retail_schema_reads_the_example_export() {
    let rules = parse_file(&repo().join("rules/retail/retail.idic")).unwrap();
    let csv = std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.len() >= 300,
        "a few hundred customers, got {}",
        rows.len()
    );
    let schema = rules.schema.unwrap();
    for field in &schema.fields {
        assert!(
            header.contains(&field.column.value.as_str()),
            "column `{}` of field `{}` is not in the export header {header:?}",
            field.column.value,
            field.name.value
        );
    }
    // The declared date format is the export's: every non-empty Last Order Date parses.
    let last_order = schema
        .fields
        .iter()
        .find(|f| f.name.value == "last_order")
        .unwrap();
    let format = &last_order.format.dates[0].value;
    let at = header
        .iter()
        .position(|h| *h == last_order.column.value)
        .unwrap();
    let mut parsed = 0;
    for row in &rows {
        // The columns before Last Order Date hold no quoted commas.
        let cell = row.split(',').nth(at).unwrap();
        if !cell.is_empty() {
            chrono::NaiveDate::parse_from_str(cell, format).unwrap();
            parsed += 1;
        }
    }
    assert!(parsed > rows.len() / 2, "most customers have ordered");
}
