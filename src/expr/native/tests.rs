//! The native path held to its contract against rhai itself: whenever [`Native::eval`] gives
//! `Ok(v)`, rhai's evaluation of the same AST with the same values gives `Ok` with the same
//! type and value. A differential property test over random expressions and values, targeted
//! cases for each operator's traps, and the shipped retail rule set on the example export.

use super::{Bail, Native};
use crate::expr::{compile_in, engine, Visible};
use crate::model;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rhai::{Array, Dynamic, Engine, Scope, AST};
use std::cell::Cell;

fn as_of() -> NaiveDate {
    date(2026, 11, 1)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn datetime(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, min, 0).unwrap()
}

/// Same type and same value; floats bit for bit (or both NaN), lists item by item.
fn same(a: &Dynamic, b: &Dynamic) -> bool {
    if a.type_id() != b.type_id() {
        return false;
    }
    if a.is_unit() {
        true
    } else if let (Ok(x), Ok(y)) = (a.as_float(), b.as_float()) {
        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
    } else if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        x == y
    } else if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        x == y
    } else if let (Ok(x), Ok(y)) = (a.as_char(), b.as_char()) {
        x == y
    } else if let (Ok(x), Ok(y)) = (a.as_immutable_string_ref(), b.as_immutable_string_ref()) {
        x.as_str() == y.as_str()
    } else if let (Some(x), Some(y)) = (a.read_lock::<NaiveDate>(), b.read_lock::<NaiveDate>()) {
        *x == *y
    } else if let (Some(x), Some(y)) = (
        a.read_lock::<NaiveDateTime>(),
        b.read_lock::<NaiveDateTime>(),
    ) {
        *x == *y
    } else if let (Some(x), Some(y)) = (a.read_lock::<Array>(), b.read_lock::<Array>()) {
        x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same(x, y))
    } else {
        false
    }
}

/// An engine with names in scope, as `check` and the batch engine compile expressions.
struct Lab {
    engine: Engine,
    names: Vec<String>,
    visible: Visible,
}

impl Lab {
    fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Lab {
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        Lab {
            engine: engine(as_of()),
            visible: Visible::new(names.iter().map(String::as_str)),
            names,
        }
    }

    fn compile(&self, source: &str) -> Result<AST, String> {
        let expr = model::Expr {
            source: source.to_string(),
            span: crate::source::Span::default(),
            verbatim: true,
        };
        compile_in(&self.engine, &expr, &self.visible).map_err(|d| d.message)
    }

    fn lower(&self, ast: &AST) -> Option<Native> {
        let slot_of = |name: &str| self.names.iter().position(|n| n == name);
        Native::lower(ast, &slot_of)
    }

    /// rhai's evaluation with the values bound in a scope (`as_of` from the engine).
    fn rhai(&self, ast: &AST, values: &[Dynamic]) -> Result<Dynamic, String> {
        let mut scope = Scope::new();
        for (name, value) in self.names.iter().zip(values) {
            scope.push_dynamic(name.as_str(), value.clone());
        }
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, ast)
            .map_err(|e| e.to_string())
    }
}

/// The contract: a native value is rhai's value.
fn contract(
    source: &str,
    native: &Result<Dynamic, Bail>,
    rhai: &Result<Dynamic, String>,
) -> Result<(), String> {
    let Ok(v) = native else { return Ok(()) };
    match rhai {
        Ok(w) if same(v, w) => Ok(()),
        Ok(w) => Err(format!(
            "`{source}`: native gave {v:?} ({}), rhai {w:?} ({})",
            v.type_name(),
            w.type_name()
        )),
        Err(e) => Err(format!("`{source}`: native gave {v:?}, rhai failed: {e}")),
    }
}

/// [`Native::test`] gives a truth only where [`Native::eval`] (held to rhai by [`contract`])
/// gives that boolean, and bails where it gives anything else; it may bail more.
fn test_contract(
    source: &str,
    test: &Result<bool, Bail>,
    eval: &Result<Dynamic, Bail>,
) -> Result<(), String> {
    match (test, eval) {
        (Err(Bail), _) => Ok(()),
        (Ok(b), Ok(v)) if v.as_bool() == Ok(*b) => Ok(()),
        (Ok(b), v) => Err(format!("`{source}`: test gave {b}, eval {v:?}")),
    }
}

// ---- Targeted cases --------------------------------------------------------------------------

/// The variables of the targeted cases.
fn vars() -> Vec<(&'static str, Dynamic)> {
    vec![
        ("i", 4_i64.into()),
        ("zero", 0_i64.into()),
        ("max", i64::MAX.into()),
        ("min", i64::MIN.into()),
        ("f", 2.5_f64.into()),
        ("nan", f64::NAN.into()),
        ("inf", f64::INFINITY.into()),
        ("s", "gold".into()),
        ("t", "Zoë".into()),
        ("b", true.into()),
        ("d", Dynamic::from(date(2026, 10, 2))),
        ("e", Dynamic::from(datetime(2026, 10, 2, 9, 30))),
        ("midnight", Dynamic::from(datetime(2026, 10, 2, 0, 0))),
        ("last", Dynamic::from(NaiveDate::MAX)),
        ("l", Dynamic::from_array(vec!["vip".into(), "beta".into()])),
        ("u", Dynamic::UNIT),
        ("long", "x".repeat(super::MAX_STRING_SIZE + 1).into()),
        (
            "many",
            Dynamic::from_array(vec![Dynamic::UNIT; super::MAX_ARRAY_SIZE + 1]),
        ),
        (
            "tagged",
            Dynamic::from_array(vec!["a".into(); super::MAX_ARRAY_SIZE + 1]),
        ),
        (
            "wordy",
            Dynamic::from_array(vec!["w".repeat(super::MAX_STRING_SIZE / 2 + 1).into(); 2]),
        ),
    ]
}

/// Both evaluations of `source` with [`vars`], after checking the contract; the expression
/// must lower.
fn both(source: &str) -> (Result<Dynamic, Bail>, Result<Dynamic, String>) {
    let vars = vars();
    let lab = Lab::new(vars.iter().map(|(n, _)| *n));
    let values: Vec<Dynamic> = vars.into_iter().map(|(_, v)| v).collect();
    let ast = lab
        .compile(source)
        .unwrap_or_else(|e| panic!("`{source}`: {e}"));
    let native = lab
        .lower(&ast)
        .unwrap_or_else(|| panic!("`{source}` does not lower"));
    let test = native.test(&values, as_of());
    let native = native.eval(&values, as_of());
    let rhai = lab.rhai(&ast, &values);
    if let Err(e) = contract(source, &native, &rhai).and(test_contract(source, &test, &native)) {
        panic!("{e}");
    }
    (native, rhai)
}

/// `source` evaluates natively to what `expected` gives in rhai (same type and value).
fn is(source: &str, expected: &str) {
    let (native, _) = both(source);
    let native = native.unwrap_or_else(|_| panic!("`{source}` bailed"));
    let expected = Lab::new([])
        .engine
        .eval::<Dynamic>(expected)
        .unwrap_or_else(|e| panic!("{expected}: {e}"));
    assert!(
        same(&native, &expected),
        "`{source}` gave {native:?}, expected {expected:?}"
    );
}

/// `source` bails and rhai fails: a runtime error the caller gets from rhai.
fn fails(source: &str) {
    let (native, rhai) = both(source);
    assert_eq!(native.err(), Some(Bail), "`{source}` should bail");
    assert!(rhai.is_err(), "`{source}` should fail in rhai: {rhai:?}");
}

/// `source` bails (rhai may or may not succeed: the native path plays safe).
fn bails(source: &str) {
    assert_eq!(both(source).0.err(), Some(Bail), "`{source}` should bail");
}

fn does_not_lower(source: &str) {
    let vars = vars();
    let lab = Lab::new(vars.iter().map(|(n, _)| *n));
    let ast = lab
        .compile(source)
        .unwrap_or_else(|e| panic!("`{source}`: {e}"));
    assert!(lab.lower(&ast).is_none(), "`{source}` should not lower");
}

#[test]
fn a_native_expression_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Native>();
}

#[test]
fn arithmetic_mixes_whole_numbers_and_decimals_as_rhai_does() {
    is("i + 0.5", "4.5");
    is("0.5 + i", "4.5");
    is("i * 1.5", "6.0");
    is("i / 8", "0");
    is("i / 8.0", "0.5");
    is("-7 / 2", "-3");
    is("-7 % 3", "-1");
    is("7 % -3", "1");
    is("f % 1", "0.5");
    is("-f % 1", "-0.5");
    is("2 ** 10", "1024");
    is("2.0 ** 0.5", "1.4142135623730951");
    is("i ** 0.5", "2.0");
    is("f ** 2", "6.25");
    is("i - i", "0");
    is("-f", "-2.5");
    is("-i", "-4");
    is("- -i", "4");
    is("-(switch i { 4 => 1, _ => 2.5 })", "-1");
    is("-(switch i { 5 => 1, _ => 2.5 })", "-2.5");
    is("0.1 + 0.2", "0.30000000000000004");
    is("max - 1", "9223372036854775806");
}

#[test]
fn integer_errors_bail_and_rhai_reports_them() {
    fails("max + 1");
    fails("min - 1");
    fails("max * 2");
    fails("-min");
    fails("i / zero");
    fails("i % zero");
    fails("min / -1");
    fails("min % -1");
    fails("2 ** 63");
    fails("2 ** -1");
    // Nor may decimals leave the finite numbers: division by zero and overflow fail too.
    fails("1 / 0.0");
    fails("f / 0");
    fails("i / 0.0");
    fails("zero / 0.0");
    fails("f % 0");
    fails("1e308 * f");
    fails("-1e308 - 1e308");
    fails("f ** 1e308");
    fails("(-f) ** 0.5");
}

#[test]
fn text_joins_and_other_mixtures_bail() {
    is("s + t", "\"goldZoë\"");
    is("s + \"\"", "\"gold\"");
    is("u + s", "\"gold\"");
    is("s + u", "\"gold\"");
    // rhai formats these (`"gold" + 1` is "gold1"): left to rhai.
    bails("s + 1");
    bails("1 + s");
    bails("s + d");
    bails("l + l");
    // rhai removes the text (`"gold" - "ol"` is "gd"): left to rhai.
    bails("s - t");
    fails("s * 2");
    fails("u + 1");
    fails("u + u");
    fails("b + b");
    fails("d + 1");
    // A string over the sandbox's limit.
    fails("long + \"x\"");
}

#[test]
fn numbers_compare_across_kinds_with_rhai_epsilon() {
    is("1 == 1.0", "true");
    is("1.0 != 1", "false");
    is("0.1 + 0.2 == 0.3", "true");
    is("0.1 + 0.2 > 0.3", "false");
    is("0.1 + 0.2 >= 0.3", "true");
    is("1.0 < 1.0000000000000002", "false");
    is("1.0 < 1.000000000000001", "true");
    is("max == 9223372036854775807.0", "true");
    is("max == max - 1", "false");
    is("max > max - 1", "true");
    is("max - 1 == 9223372036854775807.0", "true");
    is("i < f", "false");
    is("f < i", "true");
    is("zero == 0.0", "true");
    is("zero == -0.0", "true");
    // NaN against zero counts as equal in rhai; infinity does not equal itself.
    is("nan == 0.0", "true");
    is("nan == 1.0", "false");
    is("nan != 1.0", "false");
    is("nan < 1.0", "false");
    is("nan == nan", "false");
    is("inf == inf", "false");
    is("inf > 1.0", "false");
    is("inf >= inf", "false");
    is("inf == i", "false");
}

/// Decimals a few steps apart, far apart, or special, compared with every operator: natively
/// as rhai does (which divides by the larger magnitude; the native path skips the division
/// when the sign alone decides).
#[test]
fn decimal_comparisons_near_ties_follow_rhai() {
    let lab = Lab::new(["x", "y"]);
    let ops = ["==", "!=", "<", "<=", ">", ">="];
    let asts: Vec<_> = ops
        .iter()
        .map(|op| {
            let ast = lab.compile(&format!("x {op} y")).unwrap();
            let native = lab.lower(&ast).unwrap();
            (ast, native)
        })
        .collect();
    // `y` is `x` moved by a number of units in the last place, or scaled by a factor.
    let steps = |x: f64, k: i64| {
        let bits = x.to_bits() as i64;
        f64::from_bits(bits.wrapping_add(k) as u64)
    };
    let pair = prop_oneof![
        (float(), -20_i64..=20).prop_map(move |(x, k)| (x, steps(x, k))),
        (
            float(),
            prop::sample::select(vec![0.5, 1.0 - 1e-15, 1.0 + 3e-16, 2.0, -1.0])
        )
            .prop_map(|(x, f)| (x, x * f)),
        (float(), float()),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 20_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&pair, |(x, y)| {
            let values = [Dynamic::from(x), Dynamic::from(y)];
            for ((ast, native), op) in asts.iter().zip(ops) {
                let source = format!("{x:e} {op} {y:e}");
                let result = native.eval(&values, as_of());
                prop_assert!(result.is_ok(), "`{source}` bailed");
                contract(&source, &result, &lab.rhai(ast, &values)).map_err(TestCaseError::fail)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn other_comparisons_follow_rhai() {
    is("true > false", "true");
    is("b == true", "true");
    is("t < s", "true");
    is("\"Z\" < \"a\"", "true");
    is("\"é\" > \"z\"", "true");
    is("s == \"gold\"", "true");
    is("s >= \"gold\"", "true");
    is("\"\" < s", "true");
    // Different kinds: unequal and unordered.
    is("1 == \"1\"", "false");
    is("1 != \"1\"", "true");
    is("s < 1", "false");
    is("s >= 1", "false");
    is("b == 1", "false");
    is("l == s", "false");
    is("l != s", "true");
    is("() == ()", "true");
    is("u == ()", "true");
    is("u != ()", "false");
    is("u < u", "false");
    is("u <= u", "false");
    is("u == 0", "false");
    is("u != 0", "true");
    is("u < 1", "false");
    is("u >= 1", "false");
    is("u == \"\"", "false");
    is("u != s", "true");
    is("s > u", "false");
    is("d == u", "false");
    is("d != u", "true");
    is("d < 5", "false");
    is("d != \"2026-10-02\"", "true");
}

#[test]
fn dates_compare_through_idic_comparisons() {
    is("d < as_of", "true");
    is("as_of > d", "true");
    is("d == d", "true");
    is("d <= e", "true");
    is("e > d", "true");
    is("d == midnight", "true");
    is("midnight == d", "true");
    is("d >= midnight", "true");
    is("d < midnight", "false");
    is("e != d", "true");
    is("as_of", "date(2026, 11, 1)");
}

#[test]
fn lists_compare_item_by_item() {
    is("l == [\"vip\", \"beta\"]", "true");
    is("l == [\"beta\", \"vip\"]", "false");
    is("l != [\"vip\"]", "true");
    is("[1, 2] == [1, 2.0]", "true");
    is("[1, \"a\"] == [1, \"a\"]", "true");
    is("[1] == [\"1\"]", "false");
    is("[] == []", "true");
    is("[[1], ()] == [[1.0], ()]", "true");
    is("[d] == [midnight]", "true");
    is("[nan] == [0.0]", "true");
    fails("[1] < [2]");
    fails("l >= l");
}

#[test]
fn missing_values_everywhere() {
    is("u ?? 5", "5");
    is("5 ?? u", "5");
    is("u ?? u", "()");
    is("u ?? u ?? s", "\"gold\"");
    is("is_missing(u)", "true");
    is("is_missing(s)", "false");
    is("u.is_missing()", "true");
    is("days_since(u)", "()");
    is("months_since(u)", "()");
    is("days_between(d, u)", "()");
    is("add_days(u, 3)", "()");
    is("add_days(d, u)", "()");
    is("year(u)", "()");
    is("u.weekday()", "()");
    is("round_money(u)", "()");
    is("round_to(u, 1)", "()");
    is("lower(u)", "()");
    is("upper(u)", "()");
    is("\"vip\" in u", "false");
    is("has_any(u, [\"vip\"])", "false");
    is("has_all(u, [])", "true");
    is("has_all(l, u)", "true");
    is("days_since(u) > 30", "false");
    is("(u ?? 9999) > 365", "true");
    is("if b { u } else { 1 }", "()");
    is("if !b { 1 }", "()");
    fails("-u");
    fails("!u");
    fails("u && true");
    fails("false || u");
    // Short-circuit: the missing value is never looked at.
    is("true || u", "true");
    fails("if u { 1 } else { 2 }");
    fails("len(u)");
    fails("1 in u");
}

#[test]
fn logic_short_circuits_and_needs_booleans() {
    is("b || i / zero == 1", "true");
    is("!b && i / zero == 1", "false");
    is("b && i > 3 && s == \"gold\"", "true");
    is("!b || s == \"x\"", "false");
    is("!(i > 3)", "false");
    fails("b && i");
    fails("i || b");
    fails("!i");
    fails("!b || s");
    // Short-circuit decides before a bad operand is reached.
    is("!b && s", "false");
}

#[test]
fn switch_matches_exactly_as_rhai_hashes() {
    is(
        "switch i { 4 => \"four\", 5 => \"five\", _ => \"many\" }",
        "\"four\"",
    );
    // A whole number does not match a decimal case, nor a decimal a whole one.
    is("switch i { 4.0 => \"decimal\", _ => \"none\" }", "\"none\"");
    is("switch 4.0 { 4 => \"whole\", _ => \"none\" }", "\"none\"");
    is(
        "switch f { 2.5 => \"decimal\", 2 => \"whole\", _ => \"none\" }",
        "\"decimal\"",
    );
    is("switch -0.0 { 0.0 => 1, _ => 2 }", "2");
    is("switch s { \"gold\" => 1, \"silver\" => 2 }", "1");
    is("switch t { \"gold\" => 1, \"silver\" => 2 }", "()");
    is("switch u { () => 1, _ => 2 }", "1");
    is("switch b { true => 1, false => 2 }", "1");
    // Dates cannot be hashed: always the default.
    is("switch d { _ => 3 }", "3");
    is("switch as_of { () => 1 }", "()");
    is("switch l { \"vip\" => 1, _ => 2 }", "2");
    is(
        "switch s { \"gold\" => if b { 1 } else { 2 }, _ => 0 }",
        "1",
    );
    is(
        "switch s { \"gold\" => { \"block\" }, _ => \"default\" }",
        "\"block\"",
    );
    does_not_lower("switch i { 4 if b => 1, _ => 2 }");
    does_not_lower("switch i { 1..5 => 1, _ => 2 }");
}

#[test]
fn in_looks_through_lists_and_text() {
    is("\"vip\" in l", "true");
    is("\"VIP\" in l", "false");
    is("\"x\" !in l", "true");
    is("\"vip\" !in l", "false");
    is("s in [\"platinum\", \"gold\"]", "true");
    is("1 in [1.0, 2]", "true");
    is("1.0 in [1, 2]", "true");
    is("1 in [\"1\"]", "false");
    is("() in [()]", "true");
    is("() in []", "false");
    is("d in [midnight]", "true");
    is("as_of in [d, e]", "false");
    is("[1] in [[1], 2]", "true");
    is("\"ne\" in \"newsletter\"", "true");
    is("\"\" in \"\"", "true");
    is("\"ë\" in t", "true");
    is("\"vip\" in (u ?? [])", "false");
    is("\"vip\" in (l ?? [])", "true");
    is("contains(l, \"beta\")", "true");
    is("l.contains(\"beta\")", "true");
    is("s.contains(\"ol\")", "true");
    fails("1 in s");
    fails("s in 1");
    fails("s in d");
}

#[test]
fn matches_runs_its_pattern_compiled_once() {
    is("matches(s, \"^go\")", "true");
    is("s.matches(\"L+\")", "false");
    is("matches(t, \"ë$\")", "true");
    is("matches(u, \"x\")", "false");
    fails("matches(i, \"x\")");
    bails("matches(long, \"x\")");
    // A pattern that does not compile is left to rhai, which fails with its message.
    does_not_lower("matches(s, \"(\")");
    // Only a literal pattern is compiled.
    does_not_lower("matches(s, s)");
}

#[test]
fn date_minus_date_counts_whole_days_natively() {
    is("as_of - d", "30");
    is("d - as_of", "-30");
    is("e - d", "0");
    is("as_of - e", "30");
    is("d - u", "()");
    is("u - e", "()");
    fails("u - u");
    fails("d - i");
}

#[test]
fn builtins_run_idic_functions() {
    is("days_until(d)", "-30");
    is("days_until(u)", "()");
    is("start_of_week(d)", "date(\"2026-09-28\")");
    is("start_of_month(e)", "date(\"2026-10-01\")");
    is("start_of_quarter(d)", "date(\"2026-10-01\")");
    is("d.start_of_year()", "date(\"2026-01-01\")");
    is("start_of_year(u)", "()");
    is("days_since(d)", "30");
    is("days_since(e)", "30");
    is("days_since(as_of)", "0");
    is("d.days_since()", "30");
    is("days_between(d, as_of)", "30");
    is("days_between(e, d)", "0");
    is("months_since(add_days(as_of, -32))", "1");
    is("months_since(add_days(as_of, 400))", "-13");
    is("months_since(d)", "0");
    is("add_days(d, 30)", "date(\"2026-11-01\")");
    is("add_days(e, -1)", "datetime(\"2026-10-01 09:30\")");
    is("d.add_days(i)", "date(\"2026-10-06\")");
    is("year(d)", "2026");
    is("as_of.month()", "11");
    is("day(e)", "2");
    is("weekday(as_of)", "7");
    is("round_money(2.675)", "2.68");
    is("round_money(i)", "4.0");
    is("round_to(1234.5678, 1)", "1234.6");
    is("round_to(i, -1)", "0.0");
    is("round_to(f, 0)", "3.0");
    is("lower(\"VIP Gold\")", "\"vip gold\"");
    is("t.upper()", "\"ZOË\"");
    is("\"İ\".lower().len()", "2");
    is("t.len()", "3");
    is("len(l)", "2");
    is("[].len()", "0");
    is("has_any(l, [\"x\", \"beta\"])", "true");
    is("l.has_all([\"beta\", \"vip\"])", "true");
    is("has_any([1, 2], [2.0])", "true");
    is("has_all([d], [midnight])", "false");
    is("is_missing(l)", "false");
    fails("days_since(s)");
    fails("days_since(i)");
    fails("month(3)");
    fails("add_days(d, 1.5)");
    fails("add_days(last, 1)");
    fails("round_money(s)");
    fails("round_to(f, 1.5)");
    fails("lower(1)");
    fails("has_any(s, l)");
    fails("len(i)");
    fails("len(d)");
    // After a call taking its object by reference (a list's `len`, `contains`), rhai checks
    // a variable object against the size limits.
    fails("many.len()");
    fails("len(many)");
    fails("1 in many");
    // Other calls on oversized values succeed in rhai; the native path bails all the same.
    bails("(many ?? 1).len()");
    bails("has_any(many, [])");
    bails("long.len()");
    bails("is_missing(long)");
    // A text looked for in a list field of texts, read in one walk: sizes still count.
    is("\"vip\" in l", "true");
    is("\"vip\" in (l ?? [])", "true");
    is("\"gold\" in (l ?? [])", "false");
    is("\"vip\" in (u ?? [])", "false");
    bails("\"vip\" in (tagged ?? [])");
    bails("\"a\" in tagged");
    bails("\"vip\" in (wordy ?? [])");
}

#[test]
fn lists_are_built_within_the_limits() {
    is("[i, s, u]", "[4, \"gold\", ()]");
    is("[[d], []]", "[[date(2026, 10, 2)], []]");
    is("[]", "[]");
    fails("[long]");
}

#[test]
fn conditionals_blocks_and_parentheses() {
    is("if i > 3 { \"big\" } else { \"small\" }", "\"big\"");
    is("if i > 9 { 1 } else if i > 3 { 2 } else { 3 }", "2");
    is("if i > 9 { 1 } else if i > 5 { 2 }", "()");
    is("if b {}", "()");
    is("{ i }", "4");
    is("{}", "()");
    is("((i))", "4");
    is("{ { s } }", "\"gold\"");
    is("if i > 0 { round_money(f / i) } else { 0.0 }", "0.63");
}

#[test]
fn what_is_outside_the_subset_does_not_lower() {
    for source in [
        "`${i}`",
        "l[0]",
        "let x = 1; x",
        "i; i",
        "abs(i)",
        "to_string(i)",
        "type_of(i)",
        "'c'",
        "s.len",
        "s?.len()",
        "#{a: 1}",
        "l.filter(|t| t == s).len()",
        "i << 1",
        "b | b",
        "1..3",
        "i += 1",
        "trim(s)",
        "date(\"2026-01-01\")",
        "starts_with(s, \"g\")",
        "days_since(d, d)",
        "len(s, 1)",
    ] {
        does_not_lower(source);
    }
}

/// One lowering serves every date: evaluated at two dates, it gives what rhai engines built
/// for each date give.
#[test]
fn one_lowering_evaluates_at_any_date() {
    let lab = Lab::new(["d"]);
    let values = [Dynamic::from(date(2026, 10, 2))];
    let later = date(2027, 3, 15);
    for source in [
        "as_of",
        "days_since(d)",
        "days_until(d) + months_since(d)",
        "d in [as_of]",
        "[as_of, d]",
        "as_of > d && as_of.year() == 2026",
        "switch as_of.month() { 11 => \"nov\", 3 => \"mar\", _ => \"other\" }",
        "as_of - d",
    ] {
        let ast = lab.compile(source).unwrap();
        let native = lab
            .lower(&ast)
            .unwrap_or_else(|| panic!("`{source}` does not lower"));
        for (when, rhai) in [(as_of(), engine(as_of())), (later, engine(later))] {
            let mut scope = Scope::new();
            scope.push_dynamic("d", values[0].clone());
            let expected = rhai
                .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
                .unwrap();
            let got = native
                .eval(&values, when)
                .unwrap_or_else(|_| panic!("`{source}` bailed"));
            assert!(
                same(&got, &expected),
                "`{source}` at {when}: {got:?}, rhai {expected:?}"
            );
        }
        let (first, second) = (native.eval(&values, as_of()), native.eval(&values, later));
        assert!(
            source == "d in [as_of]" || !same(&first.unwrap(), &second.unwrap()),
            "`{source}` does not depend on the date"
        );
    }
}

#[test]
fn variables_need_a_slot_except_as_of() {
    let lab = Lab::new(["x"]);
    let ast = lab.compile("x > 1").unwrap();
    assert!(Native::lower(&ast, &|_| None).is_none());
    // `as_of` is the date evaluated at, or the value of its slot when it has one.
    let ast = lab.compile("as_of").unwrap();
    let constant = Native::lower(&ast, &|_| None).unwrap();
    assert!(same(
        &constant.eval(&[], as_of()).unwrap(),
        &Dynamic::from(as_of())
    ));
    let slotted = Native::lower(&ast, &|n| (n == "as_of").then_some(0)).unwrap();
    assert_eq!(
        slotted.eval(&[5_i64.into()], as_of()).unwrap().as_int(),
        Ok(5)
    );
    // A missing slot or a value of an unsupported kind bails.
    let ast = lab.compile("x").unwrap();
    let native = Native::lower(&ast, &|_| Some(3)).unwrap();
    assert_eq!(native.eval(&[], as_of()).err(), Some(Bail));
    let native = Native::lower(&ast, &|_| Some(0)).unwrap();
    assert_eq!(native.eval(&['c'.into()], as_of()).err(), Some(Bail));
    assert_eq!(
        native
            .eval(&[Dynamic::from_map(rhai::Map::new())], as_of())
            .err(),
        Some(Bail)
    );
}

// ---- The retail rule set ---------------------------------------------------------------------

/// A cell of the example export, typed per its schema field (what the batch reader will do).
fn cell_value(field: &model::Field, cell: &str) -> Dynamic {
    use model::FieldType;
    let cell = cell.trim();
    if cell.is_empty() {
        return match field.default.as_ref().map(|d| &d.value) {
            Some(model::Literal::Int(i)) => (*i).into(),
            Some(model::Literal::Decimal(x)) => (*x).into(),
            Some(model::Literal::Str(s)) => s.clone().into(),
            Some(model::Literal::Bool(b)) => (*b).into(),
            None => Dynamic::UNIT,
        };
    }
    let format = &field.format;
    match field.ty.value {
        FieldType::String => cell.into(),
        FieldType::Int => cell.parse::<i64>().unwrap().into(),
        FieldType::Decimal | FieldType::Money => {
            let mut text = cell.to_string();
            for strip in [&format.currency, &format.thousands].into_iter().flatten() {
                text = text.replace(&strip.value, "");
            }
            text.parse::<f64>().unwrap().into()
        }
        FieldType::Bool => {
            let (yes, no) = format
                .words
                .as_ref()
                .map_or(("true".into(), "false".into()), |w| w.value.clone());
            assert!(cell == yes || cell == no, "{cell}");
            (cell == yes).into()
        }
        FieldType::Date => {
            let f = format.dates.first().map_or("%Y-%m-%d", |f| &f.value);
            Dynamic::from(NaiveDate::parse_from_str(cell, f).unwrap())
        }
        FieldType::DateTime => {
            let f = format
                .dates
                .first()
                .map_or("%Y-%m-%d %H:%M:%S", |f| &f.value);
            Dynamic::from(NaiveDateTime::parse_from_str(cell, f).unwrap())
        }
        FieldType::List => {
            let sep = format.separator.as_ref().map_or(",", |s| &s.value);
            let items: Array = cell
                .split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Dynamic::from(s.to_string()))
                .collect();
            Dynamic::from_array(items)
        }
    }
}

/// The customers of `examples/customers.csv`, one value per schema field, and a few made-up
/// ones at the edges (nothing optional filled in, no orders, a brand-new account).
fn retail_customers(schema: &model::Schema) -> Vec<Vec<Dynamic>> {
    let mut reader = csv::Reader::from_path("examples/customers.csv").unwrap();
    let header = reader.headers().unwrap().clone();
    let columns: Vec<usize> = schema
        .fields
        .iter()
        .map(|f| header.iter().position(|h| h == f.column.value).unwrap())
        .collect();
    let mut customers: Vec<Vec<Dynamic>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            schema
                .fields
                .iter()
                .zip(&columns)
                .map(|(f, &c)| cell_value(f, &r[c]))
                .collect()
        })
        .collect();
    let made_up = |cells: &[(&str, &str)]| -> Vec<Dynamic> {
        schema
            .fields
            .iter()
            .map(|f| {
                let cell = cells
                    .iter()
                    .find(|(n, _)| *n == f.name.value)
                    .map_or("", |(_, c)| *c);
                cell_value(f, cell)
            })
            .collect()
    };
    let base = [
        ("id", "X1"),
        ("first_name", "Ada"),
        ("last_name", "Zoë"),
        ("email", "ada@example.com"),
        ("signup", "2026-10-25"),
        ("spent", "$0.00"),
        ("email_ok", "yes"),
        ("sms_ok", "no"),
        ("country", "CA"),
    ];
    customers.push(made_up(&base));
    let mut unhappy_vip = base.to_vec();
    unhappy_vip.extend([
        ("last_order", "20/10/2026"),
        ("orders", "14"),
        ("spent", "$2,400.50"),
        ("tags", "vip;newsletter"),
        ("nps", "2"),
        ("open_tickets", "1"),
        ("phone", "+1 555 0100"),
        ("signup", "2020-01-01"),
    ]);
    customers.push(made_up(&unhappy_vip));
    let mut lapsed = base.to_vec();
    lapsed.extend([
        ("last_order", "01/02/2024"),
        ("orders", "3"),
        ("spent", "$320.00"),
        ("tags", ";"),
        ("signup", "2019-05-05"),
    ]);
    customers.push(made_up(&lapsed));
    customers
}

#[test]
fn every_retail_expression_evaluates_natively_on_realistic_customers() {
    let checked = crate::check::check_path(std::path::Path::new("rules/retail")).unwrap();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let rules = &checked.rules;
    let as_of_date = match rules
        .settings
        .as_ref()
        .unwrap()
        .as_of
        .as_ref()
        .unwrap()
        .value
    {
        model::AsOf::Date(d) => d,
        model::AsOf::Today => unreachable!(),
    };
    assert_eq!(as_of_date, as_of());
    let schema = rules.schema.as_ref().unwrap();

    // One slot per field, metric, segment, and `tier`.
    let mut names: Vec<&str> = schema
        .fields
        .iter()
        .map(|f| f.name.value.as_str())
        .collect();
    names.extend(rules.metrics.iter().map(|m| m.name.value.as_str()));
    names.extend(rules.segments.iter().map(|s| s.name.value.as_str()));
    names.push("tier");
    let lab = Lab::new(names.iter().copied());
    let slot = |name: &str| names.iter().position(|n| *n == name).unwrap();

    let prepare = |what: &str, expr: &model::Expr| -> (String, AST, Native) {
        let ast = lab.compile(&expr.source).unwrap();
        let native = lab
            .lower(&ast)
            .unwrap_or_else(|| panic!("{what} `{}` does not lower", expr.source));
        (format!("{what} `{}`", expr.source), ast, native)
    };
    let metrics: Vec<_> = rules
        .metrics
        .iter()
        .map(|m| (slot(&m.name.value), prepare("metric", &m.expr)))
        .collect();
    let segments: Vec<_> = rules
        .segments
        .iter()
        .map(|s| (slot(&s.name.value), prepare("segment", &s.condition)))
        .collect();
    let tiers: Vec<_> = rules
        .tiers
        .as_ref()
        .unwrap()
        .tiers
        .iter()
        .map(|t| {
            let condition = t.condition.as_ref().map(|c| prepare("tier", c));
            (t.name.value.clone(), condition)
        })
        .collect();
    let mut triggered = Vec::new();
    for t in &rules.triggers {
        if let Some(c) = &t.condition {
            triggered.push(prepare("trigger", c));
        }
        for p in t.actions.iter().flat_map(|a| &a.params) {
            if let model::ParamValue::Expr(e) = &p.value {
                triggered.push(prepare("parameter", e));
            }
        }
    }
    let count = metrics.len() + segments.len() + tiers.len() + triggered.len();
    assert!(count >= 30, "only {count} expressions");

    // Evaluates natively (it must not bail), checks against rhai, and gives the value.
    let evaluate = |(what, ast, native): &(String, AST, Native), values: &[Dynamic]| {
        let rhai = lab.rhai(ast, values);
        let native = native.eval(values, as_of());
        let Ok(value) = &native else {
            panic!("{what} bailed for {values:?} (rhai: {rhai:?})");
        };
        if let Err(e) = contract(what, &native, &rhai) {
            panic!("{e} for {values:?}");
        }
        value.clone()
    };

    let customers = retail_customers(schema);
    assert!(customers.len() > 300);
    let (mut evaluated, mut no_recency, mut no_nps, mut no_tags) = (0, 0, 0, 0);
    let mut tiers_seen = std::collections::BTreeSet::new();
    for fields in customers {
        let mut values = fields;
        values.resize(names.len(), Dynamic::UNIT);
        for (slot, unit) in metrics.iter().chain(&segments) {
            values[*slot] = evaluate(unit, &values);
            evaluated += 1;
        }
        let tier = tiers
            .iter()
            .find(|(_, condition)| {
                condition.as_ref().is_none_or(|c| {
                    evaluated += 1;
                    evaluate(c, &values).as_bool().unwrap()
                })
            })
            .map(|(name, _)| name.clone())
            .unwrap();
        tiers_seen.insert(tier.clone());
        values[slot("tier")] = tier.into();
        for unit in &triggered {
            let _ = evaluate(unit, &values);
            evaluated += 1;
        }
        no_recency += usize::from(values[slot("recency")].is_unit());
        no_nps += usize::from(values[slot("nps")].is_unit());
        no_tags += usize::from(values[slot("tags")].is_unit());
    }
    // The missing values the rules are written for all occur.
    assert!(no_recency > 0 && no_nps > 0 && no_tags > 0);
    assert_eq!(tiers_seen.len(), 4, "{tiers_seen:?}");
    assert!(evaluated > 300 * 25, "{evaluated}");
}

// ---- The differential property test ----------------------------------------------------------

/// A value of a variable: every kind the native path reads, and a few it does not.
#[derive(Debug, Clone)]
enum Value {
    Unit,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    List(Vec<Value>),
    Char(char),
}

impl Value {
    fn dynamic(&self) -> Dynamic {
        match self {
            Value::Unit => Dynamic::UNIT,
            Value::Int(i) => (*i).into(),
            Value::Float(f) => (*f).into(),
            Value::Str(s) => s.clone().into(),
            Value::Bool(b) => (*b).into(),
            Value::Date(d) => Dynamic::from(*d),
            Value::DateTime(t) => Dynamic::from(*t),
            Value::List(l) => Dynamic::from_array(l.iter().map(Value::dynamic).collect()),
            Value::Char(c) => (*c).into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Float,
    Str,
    Bool,
    Date,
    DateTime,
    List,
    Any,
}

/// The variables of the property test and the kind each mostly holds.
const VARIABLES: &[(&str, Kind)] = &[
    ("i", Kind::Int),
    ("j", Kind::Int),
    ("f", Kind::Float),
    ("g", Kind::Float),
    ("s", Kind::Str),
    ("t", Kind::Str),
    ("b", Kind::Bool),
    ("c", Kind::Bool),
    ("d", Kind::Date),
    ("e", Kind::DateTime),
    ("l", Kind::List),
    ("k", Kind::List),
    ("m", Kind::Any),
];

const TEXTS: &[&str] = &[
    "", "gold", "silver", "vip", "beta", "Zoë", "GOLD", "a", "ab", "日本", "İ", " vip ",
];

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => -5_i64..=5,
        2 => -1000_i64..=1000,
        1 => prop::sample::select(vec![
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            i64::MAX - 1,
            1 << 53,
            (1 << 53) + 1,
            1 << 62,
            -(1 << 32),
        ]),
        1 => any::<i64>(),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-1000_i64..=1000).prop_map(|i| i as f64 / 8.0),
        2 => (-100_i64..=100).prop_map(|i| i as f64),
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            0.1,
            0.2,
            0.3,
            2.675,
            1e300,
            -1e300,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_223_372_036_854_775_807.0,
        ]),
        1 => any::<f64>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(TEXTS).prop_map(str::to_string),
        1 => "[a-cA-C]{0,3}",
        1 => "\\PC{0,4}",
    ]
}

fn a_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        // Around `as_of`, so dates and date-times meet.
        4 => (0_u64..=60).prop_map(|n| date(2026, 10, 1) + chrono::Days::new(n)),
        4 => (0_u64..=20_000).prop_map(|n| date(2000, 1, 1) + chrono::Days::new(n)),
        1 => Just(NaiveDate::MAX),
        1 => Just(NaiveDate::MIN),
    ]
}

fn value_of(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Int => int().prop_map(Value::Int).boxed(),
        Kind::Float => float().prop_map(Value::Float).boxed(),
        Kind::Str => text().prop_map(Value::Str).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Date => a_date().prop_map(Value::Date).boxed(),
        Kind::DateTime => (a_date(), prop_oneof![Just(0_u32), 0_u32..86_400])
            .prop_map(|(d, s)| {
                let time = NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap();
                Value::DateTime(d.and_time(time))
            })
            .boxed(),
        Kind::List => prop_oneof![
            4 => prop::collection::vec(text().prop_map(Value::Str), 0..4),
            1 => prop::collection::vec(value_of(Kind::Any), 0..3),
        ]
        .prop_map(Value::List)
        .boxed(),
        Kind::Any => prop_oneof![
            Just(Value::Unit),
            int().prop_map(Value::Int),
            float().prop_map(Value::Float),
            text().prop_map(Value::Str),
            any::<bool>().prop_map(Value::Bool),
            a_date().prop_map(Value::Date),
            prop::collection::vec(text().prop_map(Value::Str), 0..3).prop_map(Value::List),
            Just(Value::Char('x')),
        ]
        .boxed(),
    }
}

/// Mostly the variable's kind, sometimes missing, sometimes anything.
fn variable(kind: Kind) -> BoxedStrategy<Value> {
    prop_oneof![
        7 => value_of(kind),
        2 => Just(Value::Unit),
        1 => value_of(Kind::Any),
    ]
    .boxed()
}

fn values() -> impl Strategy<Value = Vec<Value>> {
    VARIABLES
        .iter()
        .map(|(_, kind)| variable(*kind))
        .collect::<Vec<_>>()
}

const LITERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "30",
    "90",
    "365",
    "9223372036854775807",
    "-9223372036854775808",
    "4611686018427387904",
    "0.0",
    "-0.0",
    "0.5",
    "1.0",
    "2.5",
    "-2.5",
    "0.1",
    "2.675",
    "1e300",
    "\"\"",
    "\"gold\"",
    "\"silver\"",
    "\"vip\"",
    "\"Zoë\"",
    "\"GOLD\"",
    "\"a\"",
    "true",
    "false",
    "()",
];

/// idic's builtins and rhai's `len` and `contains`, with their arity.
const FUNCTIONS: &[(&str, usize)] = &[
    ("days_since", 1),
    ("days_until", 1),
    ("start_of_week", 1),
    ("start_of_quarter", 1),
    ("days_between", 2),
    ("months_since", 1),
    ("add_days", 2),
    ("add_months", 2),
    ("year", 1),
    ("month", 1),
    ("day", 1),
    ("weekday", 1),
    ("round_money", 1),
    ("round_to", 2),
    ("is_missing", 1),
    ("has_any", 2),
    ("has_all", 2),
    ("lower", 1),
    ("upper", 1),
    ("len", 1),
    ("contains", 2),
];

/// Forms outside the subset (`@` stands for a generated expression).
const UNSUPPORTED: &[&str] = &[
    "`${@}`",
    "(@)[0]",
    "abs(@)",
    "to_string(@)",
    "type_of(@)",
    "{ let z = @; z }",
    "(@)?.len()",
    "switch @ { 1 if true => 1, _ => 2 }",
    "switch @ { 1..3 => 1, _ => 2 }",
    "'c'",
    "(@) | true",
];

fn leaf() -> impl Strategy<Value = String> {
    let names: Vec<&str> = VARIABLES.iter().map(|(n, _)| *n).collect();
    prop_oneof![
        6 => prop::sample::select(names).prop_map(str::to_string),
        1 => Just("as_of".to_string()),
        5 => prop::sample::select(LITERALS).prop_map(str::to_string),
        1 => Just("[]".to_string()),
    ]
}

/// Any expression of the grammar, kinds mixed at random (mostly runtime errors, which must
/// bail, and the odd surprise).
fn untyped() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 40, 3, |inner| {
        let operators = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "??",
            "in", "!in",
        ]);
        let call = (
            prop::sample::select(FUNCTIONS),
            prop::collection::vec(inner.clone(), 2),
            any::<bool>(),
            0_u8..8,
        )
            .prop_map(|((name, arity), args, method, wrong)| {
                // Now and then one argument too many or too few.
                let arity = match wrong {
                    0 => arity + 1,
                    1 => arity - 1,
                    _ => arity,
                };
                let args: Vec<&String> = args.iter().cycle().take(arity).collect();
                match args.split_first() {
                    Some((object, rest)) if method => {
                        let rest: Vec<&str> = rest.iter().map(|a| a.as_str()).collect();
                        format!("({object}).{name}({})", rest.join(", "))
                    }
                    _ => {
                        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
                        format!("{name}({})", args.join(", "))
                    }
                }
            });
        prop_oneof![
            6 => (inner.clone(), operators, inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            1 => inner.clone().prop_map(|a| format!("!{a}")),
            1 => inner.clone().prop_map(|a| format!("-{a}")),
            2 => (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("if ({c}) {{ {a} }} else {{ {b} }}")),
            1 => (inner.clone(), inner.clone())
                .prop_map(|(c, a)| format!("if ({c}) {{ {a} }}")),
            1 => prop::collection::vec(inner.clone(), 5).prop_map(|x| format!(
                "if ({}) {{ {} }} else if ({}) {{ {} }} else {{ {} }}",
                x[0], x[1], x[2], x[3], x[4]
            )),
            2 => switch(inner.clone(), inner.clone()),
            4 => call,
            1 => prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            1 => inner.clone().prop_map(|a| format!("{{ {a} }}")),
            1 => (prop::sample::select(UNSUPPORTED), inner.clone())
                .prop_map(|(form, a)| form.replace('@', &a)),
        ]
    })
}

/// `switch (value) { literal => arm, ... [_ => arm] }`.
fn switch(
    value: impl Strategy<Value = String>,
    arm: impl Strategy<Value = String> + Clone,
) -> impl Strategy<Value = String> {
    (
        value,
        prop::collection::vec((prop::sample::select(LITERALS), arm.clone()), 1..4),
        prop::option::of(arm),
    )
        .prop_map(|(value, cases, default)| {
            let mut arms: Vec<String> = cases.iter().map(|(l, e)| format!("{l} => {e}")).collect();
            arms.extend(default.map(|d| format!("_ => {d}")));
            format!("switch ({value}) {{ {} }}", arms.join(", "))
        })
}

fn pick(items: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(items).prop_map(str::to_string).boxed()
}

/// Conditions over the variables, as rules write them (the leaves of typed expressions).
fn condition() -> BoxedStrategy<String> {
    prop_oneof![
        pick(&[
            "b",
            "c",
            "true",
            "false",
            "(m ?? false)",
            "is_missing(m)",
            "is_missing(l)"
        ]),
        (
            pick(&[
                "i",
                "j",
                "f",
                "g",
                "2",
                "2.5",
                "(m ?? 0)",
                "days_since(d)",
                "s.len()"
            ]),
            pick(&["==", "!=", "<", "<=", ">", ">="]),
            pick(&["i", "j", "f", "g", "0", "1", "0.1", "90", "-1", "365"])
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        (
            pick(&["s", "t", "lower(t)", "\"gold\""]),
            pick(&["==", "!=", "<", ">="]),
            pick(&["s", "t", "\"gold\"", "\"\"", "\"Zoë\""])
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        (
            pick(&["d", "e", "as_of", "add_days(d, 30)"]),
            pick(&["==", "!=", "<", "<=", ">", ">="]),
            pick(&["d", "e", "as_of", "add_days(e, -1)"])
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        pick(&[
            "(s in l)",
            "(\"vip\" in (l ?? []))",
            "(t in [\"gold\", \"Zoë\", 1])",
            "(\"o\" in s)",
            "(s !in k)",
            "has_any(l, k)",
            "has_all(k, [\"vip\"])",
            "(l == k)",
            "(l != [\"vip\"])",
            "(m == i)",
            "(m != s)",
            "(i in [1, 2.0, m])",
        ]),
    ]
    .boxed()
}

/// Numbers: whole, decimal, mixed.
fn number() -> impl Strategy<Value = String> {
    let leaves = pick(&[
        "i",
        "j",
        "f",
        "g",
        "0",
        "1",
        "-1",
        "2",
        "7",
        "2.5",
        "0.1",
        "90",
        "365",
        "9223372036854775807",
        "-9223372036854775808",
        "(m ?? 0)",
        "(i ?? j)",
        "days_since(d)",
        "days_since(e)",
        "months_since(d)",
        "days_between(d, e)",
        "s.len()",
        "len(l)",
        "year(d)",
        "d.day()",
        "as_of.month()",
        "weekday(e)",
        "round_money(f)",
        "round_to(g, 1)",
    ]);
    leaves.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            5 => (inner.clone(), pick(&["+", "-", "*", "/", "%", "**"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            1 => inner.clone().prop_map(|a| format!("-{a}")),
            2 => (condition(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} ?? {b})")),
            1 => inner.clone().prop_map(|a| format!("round_money({a})")),
            1 => (inner.clone(), -3_i64..4).prop_map(|(a, d)| format!("round_to({a}, {d})")),
            1 => switch(inner.clone(), inner.clone()),
        ]
    })
}

/// Text.
fn text_expression() -> impl Strategy<Value = String> {
    let leaves = pick(&[
        "s",
        "t",
        "\"\"",
        "\"gold\"",
        "\"Zoë\"",
        "\"vip\"",
        "(m ?? \"x\")",
        "lower(s)",
        "t.upper()",
        "()",
    ]);
    leaves.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            3 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            2 => (condition(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} ?? {b})")),
            1 => inner.clone().prop_map(|a| format!("lower({a})")),
            1 => inner.clone().prop_map(|a| format!("({a}).upper()")),
            2 => switch(inner.clone(), inner.clone()),
        ]
    })
}

/// Conditions built from numbers, text, dates and lists.
fn boolean() -> impl Strategy<Value = String> {
    let compare = pick(&["==", "!=", "<", "<=", ">", ">="]);
    let leaves = prop_oneof![
        3 => condition(),
        3 => (number(), compare.clone(), number())
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => (text_expression(), compare, text_expression())
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => (text_expression(), text_expression())
            .prop_map(|(a, b)| format!("({a} in [{b}, \"gold\"])")),
        // Literal texts only: the list read in place.
        1 => text_expression().prop_map(|a| format!("({a} in [\"gold\", \"Zoë\", \"\"])")),
    ];
    leaves.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            3 => (inner.clone(), pick(&["&&", "||"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            1 => inner.clone().prop_map(|a| format!("!{a}")),
            1 => (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} ?? {b})")),
        ]
    })
}

/// Expressions as rules write them (kinds fit, so many evaluate) and random mixtures.
fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => untyped(),
        3 => boolean(),
        2 => number(),
        1 => text_expression(),
    ]
}

#[test]
fn native_results_are_rhai_results_on_random_expressions() {
    let cases: u32 = std::env::var("NATIVE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let lab = Lab::new(VARIABLES.iter().map(|(n, _)| *n));
    let (compiled, lowered, native_ok, bailed) = (
        Cell::new(0_u32),
        Cell::new(0_u32),
        Cell::new(0_u32),
        Cell::new(0_u32),
    );
    let bailed_rhai_ok = Cell::new(0_u32);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&(expression(), values()), |(source, values)| {
            let Ok(ast) = lab.compile(&source) else {
                return Ok(());
            };
            compiled.set(compiled.get() + 1);
            let Some(native) = lab.lower(&ast) else {
                return Ok(());
            };
            lowered.set(lowered.get() + 1);
            let values: Vec<Dynamic> = values.iter().map(Value::dynamic).collect();
            let result = native.eval(&values, as_of());
            let rhai = lab.rhai(&ast, &values);
            match &result {
                Ok(_) => native_ok.set(native_ok.get() + 1),
                Err(Bail) => {
                    bailed.set(bailed.get() + 1);
                    if rhai.is_ok() {
                        if std::env::var_os("NATIVE_SHOW_BAILS").is_some() {
                            eprintln!("bailed, rhai gave {rhai:?}: `{source}` with {values:?}");
                        }
                        bailed_rhai_ok.set(bailed_rhai_ok.get() + 1);
                    }
                }
            }
            contract(&source, &result, &rhai).map_err(TestCaseError::fail)?;
            let test = native.test(&values, as_of());
            test_contract(&source, &test, &result).map_err(TestCaseError::fail)
        })
        .unwrap();
    let (compiled, lowered, native_ok, bailed) =
        (compiled.get(), lowered.get(), native_ok.get(), bailed.get());
    eprintln!(
        "{cases} cases: {compiled} compiled, {lowered} lowered, {native_ok} evaluated natively, \
         {bailed} bailed ({} of which rhai evaluated)",
        bailed_rhai_ok.get()
    );
    // Not vacuous: most generated expressions compile and lower, and a good share of them
    // evaluate natively (the rest bail on the runtime errors the random values provoke).
    assert!(compiled >= cases / 2, "only {compiled} of {cases} compiled");
    assert!(
        lowered >= compiled * 6 / 10,
        "only {lowered} of {compiled} lowered"
    );
    assert!(
        native_ok >= cases / 4,
        "only {native_ok} of {cases} natively"
    );
    assert!(bailed > 0 && lowered < compiled);
}

/// Columnar evaluation ([`Native::test_rows`], [`Native::eval_rows`]) gives every row of a
/// random batch exactly what the row evaluation gives it, bails included, and leaves the rows
/// outside the selection alone: read from the slots, and through their typed columns (half the
/// batches hold only values of each variable's kind, so that whole columns of numbers occur).
#[test]
fn columnar_results_are_row_results_on_random_batches() {
    use super::{Rows, SlotColumns, Split};
    let cases: u32 = std::env::var("NATIVE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .map_or(3_000, |n: u32| n / 4);
    let lab = Lab::new(VARIABLES.iter().map(|(n, _)| *n));
    let (batches, decided, bailed) = (Cell::new(0_u32), Cell::new(0_u32), Cell::new(0_u32));
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let typed = VARIABLES
        .iter()
        .map(|(_, kind)| value_of(*kind))
        .collect::<Vec<_>>();
    let batch = prop_oneof![
        prop::collection::vec((values(), any::<bool>()), 1..24),
        prop::collection::vec((typed, any::<bool>()), 1..24),
    ];
    TestRunner::new(config)
        .run(
            &(expression(), batch, any::<bool>()),
            |(source, batch, typed)| {
                let Ok(ast) = lab.compile(&source) else {
                    return Ok(());
                };
                let Some(native) = lab.lower(&ast) else {
                    return Ok(());
                };
                batches.set(batches.get() + 1);
                let stride = VARIABLES.len();
                let slots: Vec<Dynamic> = batch
                    .iter()
                    .flat_map(|(values, _)| values.iter().map(Value::dynamic))
                    .collect();
                let mut columns = SlotColumns::default();
                columns.reset(stride);
                let rows = match typed {
                    true => Rows::new(&slots, stride).with_columns(&columns),
                    false => Rows::new(&slots, stride),
                };
                // Every other row's turn comes last: a selection need not be in order.
                let sel: Vec<u32> = (0..batch.len() as u32)
                    .filter(|&r| batch[r as usize].1)
                    .rev()
                    .collect();
                let mut split = Split::default();
                native.test_rows(rows, &sel, as_of(), &mut split);
                let (mut values, mut bail) = (Vec::new(), Vec::new());
                native.eval_rows(rows, &sel, as_of(), &mut values, &mut bail);
                let seen = split.yes.len() + split.no.len() + split.bail.len();
                prop_assert_eq!(
                    seen,
                    sel.len(),
                    "`{}`: test_rows lost or doubled rows",
                    source
                );
                prop_assert_eq!(
                    values.len() + bail.len(),
                    sel.len(),
                    "`{}`: eval_rows",
                    source
                );
                for &r in &sel {
                    let row = rows.row(r);
                    let test = match native.test(row, as_of()) {
                        Ok(true) => &split.yes,
                        Ok(false) => &split.no,
                        Err(Bail) => &split.bail,
                    };
                    prop_assert!(
                        test.contains(&r),
                        "`{}`: row {} test {:?}",
                        source,
                        r,
                        split
                    );
                    match native.eval(row, as_of()) {
                        Ok(v) => {
                            let got = values.iter().find(|(at, _)| *at == r).map(|(_, v)| v);
                            prop_assert!(
                                got.is_some_and(|w| same(&v, w)),
                                "`{}`: row {} eval {:?}, columns {:?}",
                                source,
                                r,
                                v,
                                got
                            );
                            decided.set(decided.get() + 1);
                        }
                        Err(Bail) => {
                            prop_assert!(bail.contains(&r), "`{}`: row {} should bail", source, r);
                            bailed.set(bailed.get() + 1);
                        }
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    let (batches, decided, bailed) = (batches.get(), decided.get(), bailed.get());
    eprintln!("{batches} batches: {decided} rows evaluated, {bailed} bailed");
    // Not vacuous: most batches lower, and rows both evaluate and bail (random values
    // provoke many runtime errors).
    assert!(batches >= cases / 3, "only {batches} of {cases} lowered");
    assert!(
        decided >= cases && bailed > 0,
        "{decided} evaluated, {bailed} bailed"
    );
}

/// A slot's typed column compared with a constant ([`super::SlotColumns`]: whole numbers,
/// decimals, or a mixture) sorts every selected row as the row evaluation and rhai do, near
/// ties included: the columns' values and the constants are drawn from one small set.
#[test]
fn typed_columns_compare_with_constants_as_rows_do() {
    use super::{Rows, SlotColumns, Split};
    const INTS: &[&str] = &["-2", "0", "1", "3", "9223372036854775807"];
    const FLOATS: &[&str] = &[
        "-2.0",
        "0.0",
        "-0.0",
        "0.1",
        "0.3",
        "1.0",
        "2.675",
        "3.0",
        "9223372036854775807.0",
    ];
    // Held by the columns only (no literal names them): NaN, infinities, and decimals within
    // `FLOAT::EPSILON` of a constant, where rhai's comparison differs from IEEE's.
    const ODD: &[f64] = &[
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.300_000_000_000_000_04,
        2.999_999_999_999_999_6,
    ];
    fn number(text: &str) -> Value {
        match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(text.parse().expect("a decimal")),
        }
    }
    let lab = Lab::new(["x"]);
    let ints = prop::sample::select(INTS).prop_map(number);
    let floats = prop_oneof![
        4 => prop::sample::select(FLOATS).prop_map(number),
        1 => prop::sample::select(ODD).prop_map(Value::Float),
    ];
    let mixed = prop_oneof![ints.clone(), floats.clone(), Just(Value::Unit)];
    let column = prop_oneof![
        prop::collection::vec(ints, 1..40),
        prop::collection::vec(floats, 1..40),
        prop::collection::vec(mixed, 1..40),
    ];
    let op = prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]);
    let constant = prop::sample::select([INTS, FLOATS].concat());
    let (ties, rows_seen) = (Cell::new(0_u32), Cell::new(0_u32));
    let config = Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&(column, op, constant), |(column, op, constant)| {
            let source = format!("x {op} {constant}");
            let ast = lab.compile(&source).expect("compiles");
            let native = lab.lower(&ast).expect("lowers");
            let slots: Vec<Dynamic> = column.iter().map(Value::dynamic).collect();
            let mut columns = SlotColumns::default();
            columns.reset(1);
            let rows = Rows::new(&slots, 1).with_columns(&columns);
            let sel: Vec<u32> = (0..slots.len() as u32).rev().collect();
            let mut split = Split::default();
            native.test_rows(rows, &sel, as_of(), &mut split);
            for (r, (value, cell)) in slots.iter().zip(&column).enumerate() {
                let r = r as u32;
                let rhai = lab.rhai(&ast, std::slice::from_ref(value));
                let row = native.test(std::slice::from_ref(value), as_of());
                let sorted = match (split.yes.contains(&r), split.no.contains(&r)) {
                    (true, false) => Ok(true),
                    (false, true) => Ok(false),
                    (false, false) if split.bail.contains(&r) => Err(Bail),
                    other => panic!("`{source}`: row {r} sorted as {other:?}"),
                };
                prop_assert_eq!(sorted, row, "`{}` on {:?}", source, value);
                if let Ok(holds) = sorted {
                    prop_assert_eq!(rhai.map(|v| v.as_bool()), Ok(Ok(holds)), "`{}`", source);
                }
                rows_seen.set(rows_seen.get() + 1);
                let tie = match (cell, number(constant)) {
                    (Value::Int(x), Value::Int(y)) => *x == y,
                    (Value::Float(x), Value::Float(y)) => *x == y,
                    _ => false,
                };
                ties.set(ties.get() + u32::from(tie));
            }
            Ok(())
        })
        .unwrap();
    let (ties, rows_seen) = (ties.get(), rows_seen.get());
    // Not vacuous: many rows hold the very constant they are compared with.
    assert!(ties > rows_seen / 20, "{ties} ties in {rows_seen} rows");
}
