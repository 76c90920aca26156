//! Rule expressions: the rhai sandbox they run in, idic's builtins, compilation to diagnostics,
//! the names they read, their static types and a dry run that catches runaway expressions.
//!
//! Typical use by `check`:
//!
//! 1. [`engine`] once, with the rule set's `as_of` date;
//! 2. [`compile`] every expression with the names in scope (unknown names, syntax errors);
//! 3. [`references`] to build the dependency graph among metrics and segments;
//! 4. [`infer`] with the types of fields and metrics (certain type errors; conditions should
//!    infer [`ValueType::Bool`] or [`ValueType::Unknown`]);
//! 5. [`dry_run`] in a [`sample_scope`] to catch endless loops and huge values.
//!
//! `check` compiles each expression once; the plan keeps the ASTs (rhai's `sync` feature makes
//! them `Send + Sync`) and every worker thread evaluates them with its own [`engine`], fields
//! bound in a reused `Scope` (`as_of` needs no binding; rewind the scope after each
//! evaluation, an expression may declare variables). The builtins are listed in [`BUILTINS`]
//! and `docs/expressions.md`.
//!
//! Most rule expressions are simple (comparisons, `&&`, `??`, `if`, `switch`, the builtins):
//! [`native::Native::lower`] turns such an AST into native code that evaluates 2 to 10 times
//! faster, is `Send + Sync`, and bails to rhai whenever it could differ from it. What rhai
//! evaluates runs in a [`fast_engine`] when [`decimal_free`] says no decimal can appear in it.

mod builtins;
mod clv;
mod compile;
mod fast_operators;
pub mod native;
mod position;
mod sandbox;
mod types;

pub(crate) use builtins::{describe as describe_value, round, round_to};
pub use builtins::{Builtin, BUILTINS, DATETIME_TYPE, DATE_TYPE};
pub use compile::{compile, compile_in, parse_diagnostic, references, Asts, Visible};
pub use fast_operators::{decimal_free, NO_DECIMAL_FROM};
pub(crate) use position::Offsets;
pub use position::{offset_of, span_at, span_at_len};
pub use sandbox::{
    dry_run, dry_run_at, engine, error_text, fast_engine, function_names, limit_message,
    runtime_message, sandbox, Clock, DryRunError, LimitError, TimeLimit, MAX_ARRAY_SIZE,
    MAX_CALL_LEVELS, MAX_CUSTOMER_TIME, MAX_EVAL_TIME, MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH,
    MAX_MAP_SIZE, MAX_OPERATIONS, MAX_STRING_SIZE,
};
pub use types::{infer, sample_scope, sample_value, Inferred, TypeError, ValueType, SAMPLES};

use crate::diagnostics::{Code, Diagnostic};
use crate::model;

/// Puts `value` in `slot`. The value it replaces is dropped only when it may own memory: `()`,
/// a boolean, a whole number or a decimal owns none, and dropping one is a call that finds
/// nothing to do, once per cell read and per rule written for every customer.
#[inline]
pub fn overwrite(slot: &mut rhai::Dynamic, value: rhai::Dynamic) {
    let old = std::mem::replace(slot, value);
    if !old.is_shared() && (old.is_unit() || old.is_bool() || old.is_int() || old.is_float()) {
        std::mem::forget(old);
    }
}

/// A diagnostic (code `expr-runtime`) for an evaluation of `expr` that failed, naming the rule,
/// e.g. "metric `recency` failed: `days_since` needs a date, not a string".
pub fn runtime_diagnostic(
    expr: &model::Expr,
    rule_kind: &str,
    rule_name: &str,
    err: &rhai::EvalAltResult,
) -> Diagnostic {
    Diagnostic::error(
        Code::ExprRuntime,
        runtime_message(rule_kind, rule_name, err),
    )
    .at(span_at(expr, err.position()))
}

/// A diagnostic for a [`TypeError`] found in `expr` (code `expr-type`).
pub fn type_diagnostic(expr: &model::Expr, err: &TypeError) -> Diagnostic {
    let span = span_at_len(expr, err.pos, err.len.max(1));
    let diag = Diagnostic::error(Code::ExprType, err.message.clone()).at(span);
    match &err.help {
        Some(help) => diag.help(help.clone()),
        None => diag,
    }
}

/// A decimal in a sentence: `NaN`, `infinity` and `-infinity` by name, others as written.
pub fn float_word(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "infinity" } else { "-infinity" }.to_string()
    } else if x != 0.0 && !(1e-6..1e16).contains(&x.abs()) {
        // `1e308`, not 309 digits.
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// `text` with its first character lowercased (rhai's messages start uppercase).
pub(crate) fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, LineCol, SourceFile, Span};
    use chrono::NaiveDate;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
    }

    fn placed(before: &str, source: &str) -> (SourceFile, model::Expr) {
        let expr = model::Expr {
            source: source.to_string(),
            span: Span::new(FileId(0), before.len(), before.len() + source.len()),
            verbatim: true,
        };
        (
            SourceFile::new("r.idic", format!("{before}{source}\n")),
            expr,
        )
    }

    #[test]
    fn type_errors_underline_the_operand() {
        let (file, expr) = placed("segment lapsed =\n  ", "orders > 1 && last_order > 30");
        let engine = engine(as_of());
        let ast = compile(&engine, &expr, &["orders", "last_order"]).unwrap();
        let inferred = infer(&ast, &|n| {
            Some(match n {
                "orders" => ValueType::Int,
                _ => ValueType::Date,
            })
        });
        assert_eq!(inferred.ty, ValueType::Bool);
        let diag = type_diagnostic(&expr, &inferred.errors[0]);
        assert_eq!(diag.code.as_str(), "expr-type");
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "last_order");
        assert_eq!(
            file.line_col(span.start),
            LineCol {
                line: 2,
                column: 17
            }
        );
    }

    #[test]
    fn runtime_errors_name_the_rule_and_point_at_the_call() {
        let (file, expr) = placed("metric m = ", "1 + days_since(name)");
        let engine = engine(as_of());
        let ast = compile(&engine, &expr, &["name"]).unwrap();
        let mut scope = sample_scope([("name", ValueType::Str)], as_of(), 0);
        let err = engine
            .eval_ast_with_scope::<rhai::Dynamic>(&mut scope, &ast)
            .unwrap_err();
        // Only limits count in a dry run.
        assert_eq!(dry_run(&engine, &ast, &mut scope), Ok(()));
        let diag = runtime_diagnostic(&expr, "metric", "m", &err);
        assert_eq!(diag.code.as_str(), "expr-runtime");
        assert!(diag
            .message
            .starts_with("metric `m` failed: `days_since` needs a date, not a string"));
        assert_eq!(file.line_col(diag.span().unwrap().start).column, 16);
    }

    #[test]
    fn the_check_flow_finds_a_loop() {
        let (_, expr) = placed(
            "segment spin = ",
            "let n = orders; while n > 0 { n += 1 } true",
        );
        let engine = engine(as_of());
        let ast = compile(&engine, &expr, &["orders"]).unwrap();
        assert_eq!(references(&ast).len(), 1);
        let mut scope = sample_scope([("orders", ValueType::Int)], as_of(), 0);
        let err = dry_run(&engine, &ast, &mut scope).unwrap_err();
        assert_eq!(
            limit_message("segment", "spin", &err),
            "segment `spin` was stopped after 100000 operations: does it loop forever?"
        );
    }

    #[test]
    fn lowercase_first_keeps_the_rest() {
        assert_eq!(lowercase_first("Expecting ')'"), "expecting ')'");
        assert_eq!(lowercase_first(""), "");
    }

    #[test]
    fn overwrite_puts_the_value_and_drops_what_owns_memory() {
        use rhai::Dynamic;
        use std::sync::Arc;
        let owner = Arc::new(());
        let olds = || {
            [
                Dynamic::UNIT,
                Dynamic::TRUE,
                Dynamic::from_int(7),
                Dynamic::from_float(0.5),
                Dynamic::from("text"),
                Dynamic::from_array(vec![Dynamic::from("a")]),
                Dynamic::from(Arc::clone(&owner)),
                Dynamic::from(Arc::clone(&owner)).into_shared(),
                Dynamic::from_int(7).into_shared(),
            ]
        };
        for new in [Dynamic::from_int(1), Dynamic::from("new")] {
            for mut slot in olds() {
                super::overwrite(&mut slot, new.clone());
                assert_eq!(slot.to_string(), new.to_string());
            }
            // Each old value holding the owner, plain or shared, let go of it.
            assert_eq!(Arc::strong_count(&owner), 1);
        }
    }
}
