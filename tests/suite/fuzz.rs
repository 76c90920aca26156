//! The fuzz targets: no input a user controls makes idic panic, hang, lose a row or touch an
//! input. One target per entry point:
//!
//! - rule text, DSL and TOML: mutated copies of the shipped rule files and random text must
//!   give a result, with a diagnostic when the file is broken;
//! - expressions in a valid rule set: generated from rhai's grammar and idic's builtins, they
//!   must check and, when they check, decide or reject every customer of a small export;
//! - CSV and JSONL rows: mutated copies of the example export must be read to the end with
//!   every row decided or rejected, or refused with an error;
//! - CLI paths: `idic run` with its inputs and outputs drawn from files, links, directories,
//!   devices and names to come must exit 0, 1 or 2 and leave every input as it was.
//!
//! And one differential target: an expression in which no decimal can appear computes the same
//! in the batch engine's fast rhai engine as in the checked one.
//!
//! The suite runs each with a fixed seed and a few hundred cases; a long run sets
//! `IDIC_FUZZ_CASES` (and `IDIC_FUZZ_SEED` for other cases):
//!
//! ```sh
//! IDIC_FUZZ_CASES=20000 IDIC_FUZZ_SEED=7 cargo test --release --test suite fuzz
//! ```

use idic::batch::{self, Options, Sinks};
use idic::io::{InputFormat, OutputFormat};
use idic::plan::Program;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::path::Path;

/// `cases` for the suite, or `IDIC_FUZZ_CASES`; the seed is fixed (`IDIC_FUZZ_SEED`).
pub(crate) fn config(cases: u32) -> ProptestConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: env("IDIC_FUZZ_CASES").map_or(cases, |n: u64| n as u32),
        rng_seed: RngSeed::Fixed(env("IDIC_FUZZ_SEED").unwrap_or(20261206)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The shipped DSL and TOML rule files, the seeds for mutation.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).expect("rules/") {
        let dir = dir.expect("entry").path();
        for file in idic::syntax::rule_files(&dir).expect("rule files") {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read(&file).expect("read")));
        }
    }
    assert!(!out.is_empty(), "no seed rule files");
    out
}

/// Loads and checks bytes as the only file of a rule set, as `idic check` does (parse, merge,
/// every semantic pass): must return, never panic.
fn check_bytes(name: &str, bytes: Vec<u8>) -> idic::check::Checked {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    idic::check::check_path(&path).unwrap()
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Swap(usize, usize),
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match *edit {
        Edit::Insert(at, b) => bytes.insert(at % (n + 1), b),
        Edit::Delete(at) => {
            bytes.remove(at % n);
        }
        Edit::Swap(a, b) => bytes.swap(a % n, b % n),
    }
}

/// Byte edits whose inserted bytes favour `favoured` (what matters to the format).
fn edit(favoured: &'static [u8]) -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![prop::sample::select(favoured.to_vec()), any::<u8>()];
    prop_oneof![
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn mutated_rule_files_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(RULE_BYTES), 1..6),
    ) {
        let seeds = seeds();
        let (name, mut bytes) = seeds[seed.index(seeds.len())].clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let checked = check_bytes(&name, bytes.clone());
        // A changed file that no longer parses must say so.
        if String::from_utf8(bytes).is_err() {
            prop_assert!(checked.diagnostics.iter().any(|d| d.code.as_str() == "not-utf8"));
        }
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}", toml in any::<bool>()) {
        let name = if toml { "random.toml" } else { "random.idic" };
        let checked = check_bytes(name, text.into_bytes());
        let _ = checked.has_errors();
    }
}

#[test]
fn deeply_nested_input_is_refused_not_crashed() {
    for (name, open) in [
        ("deep.idic", "segment s = "),
        ("deep.toml", "[segments]\ns = "),
    ] {
        let text = format!("{open}{}", "(".repeat(100_000));
        let checked = check_bytes(name, text.into_bytes());
        assert!(
            checked.has_errors(),
            "{name}: unbalanced input must be an error"
        );
    }
}

// Expressions in a valid rule set.

/// A schema with every kind of field, and a trigger showing the metric as a parameter.
const SCHEMA: &str = r#"ruleset "fuzz" { as_of "2026-11-01" }
customer {
  id     string from "Id" key
  orders int    from "Orders"
  spent  money  from "Spent"
  email  bool   from "Email"
  tags   list?  from "Tags"
  last   date?  from "Last"
  name   string from "Name"
}
trigger t {
  activity retention
  when     email
  channel  email consent email
  action a template "a" {
    v = m
  }
}
"#;

/// Five customers, one with every optional cell empty and one with extreme values.
const CUSTOMERS: &str = "Id,Orders,Spent,Email,Tags,Last,Name\n\
C1,3,120.50,yes,vip;x,2026-10-01,Ada\n\
C2,0,0,no,,,\n\
C3,-1,-5.25,yes,x,1970-01-01,Zoë\n\
C4,9223372036854775807,9999999999999.99,yes,vip,9999-12-31,a\"b\n\
C5,1,0.01,no,;;,2026-11-01, \n";

/// rhai expressions over the schema's fields, typed so that most check: each type's
/// operators, builtins and rhai functions, conditionals, closures and short loops.
pub(crate) fn typed(ty: Ty, depth: u32) -> BoxedStrategy<String> {
    let leaves: BoxedStrategy<String> = match ty {
        Ty::Int => prop_oneof![
            Just("orders".to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            (-3i64..50).prop_map(|i| i.to_string()),
            Just("9223372036854775807".to_string()),
        ]
        .boxed(),
        Ty::Dec => prop_oneof![
            Just("spent".to_string()),
            prop::sample::select(vec![
                "0.0", "0.1", "1.5", "-2.25", "1e308", "-1e308", "1e-300"
            ])
            .prop_map(String::from),
        ]
        .boxed(),
        Ty::Bool => prop::sample::select(vec!["email", "true", "false", "is_missing(last)"])
            .prop_map(String::from)
            .boxed(),
        Ty::Str => prop_oneof![
            Just("name".to_string()),
            "[a-z ;x]{0,6}".prop_map(|s| format!("\"{s}\"")),
        ]
        .boxed(),
        Ty::Date => prop::sample::select(vec!["(last ?? as_of)", "as_of", "date(\"2026-01-31\")"])
            .prop_map(String::from)
            .boxed(),
        Ty::List => prop::sample::select(vec!["(tags ?? [])", "[\"vip\", \"x\"]", "[]"])
            .prop_map(String::from)
            .boxed(),
    };
    if depth == 0 {
        return leaves;
    }
    let d = depth - 1;
    let int = || typed(Ty::Int, d);
    let dec = || typed(Ty::Dec, d);
    let bool = || typed(Ty::Bool, d);
    let text = || typed(Ty::Str, d);
    let date = || typed(Ty::Date, d);
    let list = || typed(Ty::List, d);
    let same = || typed(ty, d);
    let op = |ops: &[&'static str]| prop::sample::select(ops.to_vec());
    let general = prop_oneof![
        (bool(), same(), same()).prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
        (int(), same(), same())
            .prop_map(|(k, a, b)| format!("switch {k} {{ 1 => {a}, _ => {b} }}")),
        (same(), same()).prop_map(|(a, b)| format!("({a} ?? {b})")),
    ];
    let specific: BoxedStrategy<String> = match ty {
        Ty::Int => prop_oneof![
            (int(), op(&["+", "-", "*", "/", "%", "**"]), int())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (op(&["abs", "sign"]), int()).prop_map(|(f, a)| format!("{f}({a})")),
            (op(&["max", "min"]), int(), int()).prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            dec().prop_map(|a| format!("to_int({a})")),
            text().prop_map(|a| format!("len({a})")),
            list().prop_map(|a| format!("{a}.len()")),
            (
                op(&[
                    "year",
                    "month",
                    "day",
                    "weekday",
                    "days_since",
                    "months_since"
                ]),
                date()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (date(), date()).prop_map(|(a, b)| format!("days_between({a}, {b})")),
            (0u8..30, int())
                .prop_map(|(n, a)| format!("{{ let t = 0; for i in 0..{n} {{ t += {a}; }} t }}")),
            text().prop_map(|a| format!("parse_int({a})")),
        ]
        .boxed(),
        Ty::Dec => prop_oneof![
            (dec(), op(&["+", "-", "*", "/", "%"]), dec())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (dec(), int()).prop_map(|(a, b)| format!("({a} * {b})")),
            (op(&["round_money", "abs", "floor", "sqrt", "ln"]), dec())
                .prop_map(|(f, a)| format!("{f}({a})")),
            (dec(), -3i64..4).prop_map(|(a, n)| format!("round_to({a}, {n})")),
            int().prop_map(|a| format!("to_float({a})")),
            (dec(), dec()).prop_map(|(a, b)| format!("clv_historic({a}, {b})")),
            (dec(), dec(), dec()).prop_map(|(m, r, d)| format!("clv_retention({m}, {r}, {d})")),
            text().prop_map(|a| format!("parse_float({a})")),
        ]
        .boxed(),
        Ty::Bool => prop_oneof![
            (int(), op(&["==", "!=", "<", "<=", ">", ">="]), int())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (dec(), op(&["<", ">="]), dec()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (date(), op(&["<", "=="]), date()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (bool(), op(&["&&", "||"]), bool()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            bool().prop_map(|a| format!("!({a})")),
            (text(), list()).prop_map(|(a, b)| format!("({a} in {b})")),
            (text(), text()).prop_map(|(a, b)| format!("({a} in {b})")),
            (
                op(&["starts_with", "ends_with", "contains"]),
                text(),
                text()
            )
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            (op(&["has_any", "has_all"]), list(), list())
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
        ]
        .boxed(),
        Ty::Str => prop_oneof![
            (text(), text()).prop_map(|(a, b)| format!("({a} + {b})")),
            (op(&["lower", "upper", "trim"]), text()).prop_map(|(f, a)| format!("{f}({a})")),
            int().prop_map(|a| format!("to_string({a})")),
            (text(), int(), int()).prop_map(|(a, b, c)| format!("sub_string({a}, {b}, {c})")),
            (text(), int()).prop_map(|(a, n)| format!("`${{{a}}}-${{{n}}}`")),
            (list(), int()).prop_map(|(l, i)| format!("({l}[{i}] ?? \"\")")),
        ]
        .boxed(),
        Ty::Date => prop_oneof![
            (date(), int()).prop_map(|(a, n)| format!("add_days({a}, {n})")),
            (int(), int(), int()).prop_map(|(y, m, d)| format!("date({y}, {m}, {d})")),
        ]
        .boxed(),
        Ty::List => prop_oneof![
            (text(), text()).prop_map(|(a, b)| format!("split({a}, {b})")),
            (list(), bool()).prop_map(|(l, b)| format!("{l}.filter(|x| {b} || x == \"vip\")")),
            (list(), text()).prop_map(|(l, t)| format!("{l}.map(|x| x + {t})")),
            (text(), text()).prop_map(|(a, b)| format!("[{a}, {b}]")),
        ]
        .boxed(),
    };
    prop_oneof![3 => leaves, 2 => general, 6 => specific].boxed()
}

/// The types of [`typed`] expressions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Int,
    Dec,
    Bool,
    Str,
    Date,
    List,
}

/// A typed expression, or (one in eight) one drawn without regard to type.
pub(crate) fn expression() -> impl Strategy<Value = String> {
    let types = prop::sample::select(vec![
        Ty::Int,
        Ty::Dec,
        Ty::Bool,
        Ty::Str,
        Ty::Date,
        Ty::List,
    ]);
    prop_oneof![
        7 => types.prop_flat_map(|ty| typed(ty, 3)),
        1 => untyped(),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "orders", "spent", "email", "tags", "last", "name", "as_of", "()", "true",
        ])
        .prop_map(String::from),
        any::<i64>().prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "2",
            "9223372036854775807",
            "0.0",
            "1e308",
            "-1e308",
            "0.1",
            "1.5",
        ])
        .prop_map(String::from),
        "[a-z ;]{0,6}".prop_map(|s| format!("\"{s}\"")),
        Just(r#"date("2026-01-31")"#.to_string()),
        Just(r#"["vip", "x"]"#.to_string()),
    ]
}

/// Any mix of operators, functions and values over the schema's fields, most of which `check`
/// refuses.
fn untyped() -> impl Strategy<Value = String> {
    let binary = prop::sample::select(vec![
        "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "??", "in",
    ]);
    let one = prop::sample::select(vec![
        "days_since",
        "months_since",
        "to_int",
        "to_float",
        "len",
        "abs",
        "lower",
        "upper",
        "trim",
        "round_money",
        "is_missing",
        "parse_int",
        "parse_float",
        "month",
        "year",
        "weekday",
        "to_string",
        "floor",
        "sqrt",
        "ln",
        "sign",
        "date",
        "datetime",
        "keys",
        "to_chars",
        "reverse",
        "sort",
    ]);
    let two = prop::sample::select(vec![
        "add_days",
        "days_between",
        "max",
        "min",
        "round_to",
        "contains",
        "starts_with",
        "has_any",
        "has_all",
        "index_of",
        "split",
        "pad",
        "get",
        "clv_historic",
        "sub_string",
        "truncate",
        "crop",
        "push",
        "append",
    ]);
    leaf().prop_recursive(4, 48, 3, move |inner| {
        prop_oneof![
            (inner.clone(), binary.clone(), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (prop::sample::select(vec!["!", "-"]), inner.clone())
                .prop_map(|(op, a)| format!("{op}({a})")),
            (one.clone(), inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (two.clone(), inner.clone(), inner.clone())
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
            (inner.clone(), inner.clone())
                .prop_map(|(list, body)| format!("{list}.filter(|x| {body})")),
            (0u8..40, inner.clone())
                .prop_map(|(n, a)| format!("{{ let t = (); for i in 0..{n} {{ t = {a}; }} t }}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("switch {a} {{ 1 => {b}, _ => 0 }}")),
        ]
    })
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn expressions_check_and_every_customer_is_decided_or_rejected(
        metric in expression(),
        segment in typed(Ty::Bool, 3),
    ) {
        let text = format!("{SCHEMA}metric m = {metric}\nsegment s = {segment}\n");
        let checked = check_bytes("fuzz.idic", text.into_bytes());
        let Ok(program) = Program::new(&checked) else {
            return Ok(());
        };
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("customers.csv");
        std::fs::write(&export, CUSTOMERS).unwrap();
        let file = std::fs::File::open(&export).unwrap();
        let mut decisions = Vec::new();
        let sinks = Sinks {
            decisions: &mut decisions,
            decisions_format: OutputFormat::Jsonl,
            rejects: None,
        };
        let options = Options { threads: 1, ..Options::default() };
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let outcome = batch::run(&program, as_of, &file, InputFormat::Csv, &options, sinks)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let t = &outcome.tally;
        prop_assert_eq!((t.rows, t.decided + t.rejected), (5, 5));
        prop_assert_eq!(decisions.iter().filter(|&&b| b == b'\n').count() as u64, t.decided);
        // Decisions are JSON with numbers, never a NaN's `null` where a value was computed.
        for line in String::from_utf8(decisions).unwrap().lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            prop_assert!(value["id"].is_string());
        }
    }
}

/// The schema's fields as an evaluation scope holds them for three customers, with the type of
/// each name.
fn scopes() -> (
    Vec<rhai::Scope<'static>>,
    impl Fn(&str) -> Option<idic::expr::ValueType>,
) {
    use chrono::NaiveDate;
    use idic::expr::ValueType;
    use rhai::{Array, Dynamic};
    let list = |items: &[&'static str]| {
        Dynamic::from(
            items
                .iter()
                .map(|&s| Dynamic::from(s.to_string()))
                .collect::<Array>(),
        )
    };
    let date = |y, m, d| Dynamic::from(NaiveDate::from_ymd_opt(y, m, d).unwrap());
    let rows = [
        (
            3,
            120.5,
            true,
            list(&["vip", "x"]),
            date(2026, 10, 1),
            "Ada",
        ),
        (0, 0.0, false, Dynamic::UNIT, Dynamic::UNIT, ""),
        (
            i64::MAX,
            1e13,
            true,
            list(&[""]),
            date(9999, 12, 31),
            "a\"b",
        ),
    ];
    let scopes = rows
        .into_iter()
        .map(|(orders, spent, email, tags, last, name)| {
            let mut scope = rhai::Scope::new();
            scope.push("orders", orders);
            scope.push("spent", spent);
            scope.push("email", email);
            scope.push_dynamic("tags", tags);
            scope.push_dynamic("last", last);
            scope.push("name", name.to_string());
            scope
        })
        .collect();
    let types = |name: &str| {
        Some(match name {
            "orders" => ValueType::Int,
            "spent" => ValueType::Decimal,
            "email" => ValueType::Bool,
            "tags" => ValueType::List,
            "last" => ValueType::Date,
            "name" => ValueType::Str,
            "as_of" => ValueType::Date,
            _ => return None,
        })
    };
    (scopes, types)
}

proptest! {
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..config(300) })]

    /// The batch engine runs an expression in which no decimal can appear with rhai's fast
    /// operators: it must compute exactly what the checked engine computes.
    #[test]
    fn decimal_free_expressions_compute_the_same_with_fast_operators(metric in expression()) {
        use idic::expr;
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let (checked, clock) = expr::sandbox(as_of);
        let fast = expr::fast_engine(as_of, &clock);
        let source = idic::model::Expr {
            span: idic::source::Span::new(idic::source::FileId(0), 0, metric.len()),
            source: metric,
            verbatim: true,
        };
        let names = ["orders", "spent", "email", "tags", "last", "name"];
        let Ok(ast) = expr::compile(&checked, &source, &names) else {
            return Err(TestCaseError::reject("does not compile"));
        };
        let (scopes, types) = scopes();
        prop_assume!(expr::decimal_free(&ast, &types));
        for mut scope in scopes {
            let rewind = scope.len();
            let exact = checked.eval_ast_with_scope::<rhai::Dynamic>(&mut scope, &ast);
            scope.rewind(rewind);
            let quick = fast.eval_ast_with_scope::<rhai::Dynamic>(&mut scope, &ast);
            scope.rewind(rewind);
            match (exact, quick) {
                (Ok(a), Ok(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}")),
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "checked {:?}, fast {:?}", a, b),
            }
        }
    }
}

// CSV and JSONL rows.

/// The retail rules, loaded once.
fn retail() -> &'static Program {
    static RETAIL: std::sync::OnceLock<Program> = std::sync::OnceLock::new();
    RETAIL.get_or_init(|| Program::load(&crate::common::repo().join("rules/retail")).unwrap())
}

/// The first 30 customers of the example export, as CSV and as JSONL.
fn exports() -> &'static [(InputFormat, Vec<u8>); 2] {
    static EXPORTS: std::sync::OnceLock<[(InputFormat, Vec<u8>); 2]> = std::sync::OnceLock::new();
    EXPORTS.get_or_init(|| {
        use idic_generate::{write_export, ExportFormat, ExportSpec};
        let mut out = [
            (InputFormat::Csv, Vec::new()),
            (InputFormat::Jsonl, Vec::new()),
        ];
        for (format, bytes) in &mut out {
            let spec = ExportSpec {
                customers: 30,
                format: match format {
                    InputFormat::Csv => ExportFormat::Csv,
                    InputFormat::Jsonl => ExportFormat::Jsonl,
                },
                ..ExportSpec::default()
            };
            write_export(&spec, &mut *bytes).unwrap();
        }
        out
    })
}

/// What matters to the rule grammar, and to CSV and JSON.
const RULE_BYTES: &[u8] = b"{}()[]\"'`;,=/*?:\n \t#_-.0123456789abcdexyz";
const ROW_BYTES: &[u8] = b",\"\n\r{}[]:\\0123456789-.$ \t";

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn every_row_of_a_mutated_export_is_decided_or_rejected(
        jsonl in any::<bool>(),
        edits in prop::collection::vec(edit(ROW_BYTES), 1..10),
        threads in 1usize..3,
    ) {
        let (format, bytes) = &exports()[usize::from(jsonl)];
        let mut bytes = bytes.clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        let (mut decisions, mut rejects) = (Vec::new(), Vec::new());
        let sinks = Sinks {
            decisions: &mut decisions,
            decisions_format: OutputFormat::Jsonl,
            rejects: Some((&mut rejects, OutputFormat::Jsonl)),
        };
        let options = Options { threads, batch_bytes: 512, ..Options::default() };
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        match batch::run(retail(), as_of, &file, *format, &options, sinks) {
            Ok(outcome) => {
                let t = &outcome.tally;
                prop_assert_eq!(t.rows, t.decided + t.rejected);
                let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count() as u64;
                prop_assert_eq!(lines(&decisions), t.decided);
                prop_assert_eq!(lines(&rejects), t.rejected);
            }
            // A header that lost a column is refused as a whole; a bug never is.
            Err(e) => prop_assert!(
                matches!(e, batch::RunError::Header(_) | batch::RunError::Io(_)),
                "{e}"
            ),
        }
    }
}

// CLI paths.

/// The paths a flag may name, relative to a fresh directory holding the rule set `rules/`
/// (`rules/rules.idic`), the export `x.csv`, links to both and an empty directory `sub`.
const PATHS: &[&str] = &[
    "x.csv",
    "link.csv",
    "sub/../x.csv",
    "rules/rules.idic",
    "rlink.idic",
    "rules",
    "a.csv",
    "./a.csv",
    "b.jsonl",
    "rules/new.toml",
    "sub",
    "/dev/null",
    "-",
    "missing/x.csv",
];

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn no_combination_of_paths_harms_an_input(
        paths in prop::collection::vec(prop::sample::select(PATHS), 4),
        with_rejects in any::<bool>(),
        with_summary in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let at = |p: &str| dir.path().join(p);
        let rules = std::fs::read_to_string(crate::common::repo().join("tests/fixtures/paths.idic")).unwrap();
        std::fs::create_dir_all(at("rules")).unwrap();
        std::fs::write(at("rules/rules.idic"), &rules).unwrap();
        let export = "Id,Email\nC1,yes\nC2,no\n";
        std::fs::write(at("x.csv"), export).unwrap();
        std::os::unix::fs::symlink(at("x.csv"), at("link.csv")).unwrap();
        std::os::unix::fs::symlink(at("rules/rules.idic"), at("rlink.idic")).unwrap();
        std::fs::create_dir(at("sub")).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_idic"));
        command
            .current_dir(dir.path())
            .args(["run", "rules", "--customers", paths[0], "--out", paths[1]])
            .stdin(std::process::Stdio::null());
        if with_rejects {
            command.args(["--rejects", paths[2]]);
        }
        if with_summary {
            command.args(["--summary", paths[3]]);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(matches!(out.status.code(), Some(0..=2)), "{paths:?}: {stderr}");
        prop_assert!(!stderr.contains("panicked"), "{paths:?}: {stderr}");
        prop_assert_eq!(std::fs::read_to_string(at("x.csv")).unwrap(), export);
        prop_assert_eq!(std::fs::read_to_string(at("rules/rules.idic")).unwrap(), rules);
        prop_assert!(std::fs::symlink_metadata(at("link.csv")).unwrap().is_symlink());
        prop_assert!(!at("rules/new.toml").exists());
        // No temporary is left.
        for entry in std::fs::read_dir(dir.path()).unwrap().chain(std::fs::read_dir(at("rules")).unwrap()) {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            prop_assert!(!name.ends_with(".idic-tmp"), "{name}");
        }
    }
}
