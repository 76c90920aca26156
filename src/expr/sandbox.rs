//! The hardened rhai engine every rule expression runs in, the dry run that catches runaway
//! expressions, and the messages for their failures.
//!
//! The engine cannot touch files, the network or the clock (rhai's core has no such functions
//! and none is registered), `eval` is disabled, `print`/`debug` go nowhere, and every
//! evaluation is bounded by the limits below. "Today" is the `as_of` date given to [`engine`].

use super::builtins;
use rhai::{
    ASTNode, Dynamic, Engine, EvalAltResult, OptimizationLevel, Position, Scope, Stmt, AST,
};
use std::fmt;

/// Most operations one evaluation may take (a loop iteration, a call, an operator...).
pub const MAX_OPERATIONS: u64 = 100_000;
/// Deepest nesting of function calls (closures included).
pub const MAX_CALL_LEVELS: usize = 32;
/// Deepest nesting of an expression (at the top level).
pub const MAX_EXPR_DEPTH: usize = 64;
/// Deepest nesting of an expression inside a closure.
pub const MAX_FN_EXPR_DEPTH: usize = 32;
/// Longest string a value may hold, in bytes (characters for plain ASCII text).
pub const MAX_STRING_SIZE: usize = 10_000;
/// Most items of a list.
pub const MAX_ARRAY_SIZE: usize = 10_000;
/// Most entries of an object map.
pub const MAX_MAP_SIZE: usize = 1_000;

/// A sandboxed engine with idic's builtins, evaluating as of `as_of` (never the wall clock).
///
/// Strict variables are on: compile with [`super::compile`], which declares the names in scope.
/// The optimizer is off, so the AST mirrors the source (for [`super::references`] and
/// [`super::infer`]) and evaluation never depends on optimizer subtleties.
///
/// ```
/// let engine = idic::expr::engine(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
/// assert_eq!(engine.eval::<i64>("days_since(date(\"2026-01-01\"))").unwrap(), 30);
/// assert!(engine.eval::<i64>("eval(\"1\")").is_err());
/// ```
pub fn engine(as_of: chrono::NaiveDate) -> Engine {
    let mut engine = Engine::new();
    engine.set_strict_variables(true);
    engine.set_optimization_level(OptimizationLevel::None);
    engine.disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    builtins::register(&mut engine, as_of);
    engine
}

/// A resource limit an evaluation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// More than [`MAX_OPERATIONS`] operations: usually an endless loop.
    TooManyOperations,
    /// A string longer than [`MAX_STRING_SIZE`].
    StringTooLong,
    /// A list longer than [`MAX_ARRAY_SIZE`].
    ListTooLong,
    /// A map with more than [`MAX_MAP_SIZE`] entries.
    MapTooLarge,
    /// Calls nested deeper than [`MAX_CALL_LEVELS`]: usually endless recursion.
    TooDeep,
}

impl LimitError {
    /// The limit behind a rhai error, looking through "in call to function" wrappers; `None`
    /// for every other error.
    pub fn from_eval(err: &EvalAltResult) -> Option<LimitError> {
        match err.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => Some(LimitError::TooManyOperations),
            EvalAltResult::ErrorStackOverflow(_) => Some(LimitError::TooDeep),
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                let what = what.to_ascii_lowercase();
                Some(if what.contains("string") {
                    LimitError::StringTooLong
                } else if what.contains("map") {
                    LimitError::MapTooLarge
                } else {
                    LimitError::ListTooLong
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for LimitError {
    /// The tail of [`limit_message`], after the rule's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::TooManyOperations => write!(
                f,
                "was stopped after {MAX_OPERATIONS} operations: does it loop forever?"
            ),
            LimitError::StringTooLong => {
                write!(f, "built a string longer than {MAX_STRING_SIZE} characters")
            }
            LimitError::ListTooLong => {
                write!(f, "built a list longer than {MAX_ARRAY_SIZE} items")
            }
            LimitError::MapTooLarge => {
                write!(f, "built a map with more than {MAX_MAP_SIZE} entries")
            }
            LimitError::TooDeep => write!(
                f,
                "nested calls more than {MAX_CALL_LEVELS} levels deep: does it call itself forever?"
            ),
        }
    }
}

impl std::error::Error for LimitError {}

/// Evaluates `ast` once in `scope` and reports only a resource limit it ran into.
///
/// Other runtime errors (a type mismatch, a missing value) are ignored here: sample values are
/// not real customers. Variables the expression declares are removed from `scope` afterwards.
pub fn dry_run(engine: &Engine, ast: &AST, scope: &mut Scope) -> Result<(), LimitError> {
    dry_run_at(engine, ast, scope).map_err(|(limit, _)| limit)
}

/// [`dry_run`], also giving where the limit was hit: the innermost loop around the operation
/// that ran out of budget (the loop that does not end), else that operation (the `+=` that grew
/// a value too large).
pub fn dry_run_at(
    engine: &Engine,
    ast: &AST,
    scope: &mut Scope,
) -> Result<(), (LimitError, Position)> {
    let len = scope.len();
    let result = engine.eval_ast_with_scope::<Dynamic>(scope, ast);
    scope.rewind(len);
    let Err(err) = result else { return Ok(()) };
    let Some(limit) = LimitError::from_eval(&err) else {
        return Ok(());
    };
    let pos = err.unwrap_inner().position();
    if limit != LimitError::TooManyOperations {
        return Err((limit, pos));
    }
    let key = |p: Position| (p.line().unwrap_or(0), p.position().unwrap_or(0));
    let mut innermost = None;
    let mut path = Vec::new();
    for stmt in ast.statements() {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            let found = match nodes.last() {
                Some(ASTNode::Stmt(Stmt::While(x, at) | Stmt::Do(x, _, at))) => {
                    Some((*at, x.body.span().end()))
                }
                Some(ASTNode::Stmt(Stmt::For(x, at))) => Some((*at, x.2.body.span().end())),
                _ => None,
            };
            if let Some((at, end)) = found {
                if key(at) <= key(pos) && key(pos) <= key(end) {
                    innermost = Some(at);
                }
            }
            true
        });
    }
    Err((limit, innermost.unwrap_or(pos)))
}

/// A sentence naming the rule that hit a limit, e.g.
/// "segment `spin` was stopped after 100000 operations: does it loop forever?".
pub fn limit_message(rule_kind: &str, rule_name: &str, err: &LimitError) -> String {
    format!("{rule_kind} `{rule_name}` {err}")
}

/// A sentence naming the rule whose evaluation failed, for the batch engine, e.g.
/// "metric `recency` failed: `days_since` needs a date, not a string".
pub fn runtime_message(rule_kind: &str, rule_name: &str, err: &EvalAltResult) -> String {
    if let Some(limit) = LimitError::from_eval(err) {
        return limit_message(rule_kind, rule_name, &limit);
    }
    format!("{rule_kind} `{rule_name}` failed: {}", error_text(err))
}

/// The cause of a runtime error as one lowercase clause, without rhai's position suffix.
pub fn error_text(err: &EvalAltResult) -> String {
    let inner = err.unwrap_inner();
    match inner {
        EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            format!("there is no function `{signature}`")
        }
        EvalAltResult::ErrorVariableNotFound(name, _) => format!("unknown name `{name}`"),
        _ => {
            let text = inner.to_string();
            let text = match text.rfind(" (line ") {
                Some(at) if text.ends_with(')') => &text[..at],
                _ => &text,
            };
            super::lowercase_first(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn sandbox() -> Engine {
        engine(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
    }

    fn limit(script: &str) -> Option<LimitError> {
        let engine = sandbox();
        let err = engine.eval::<Dynamic>(script).expect_err(script);
        LimitError::from_eval(&err)
    }

    #[test]
    fn eval_is_disabled() {
        let err = sandbox().eval::<i64>("eval(\"1\")").unwrap_err();
        assert!(matches!(*err, EvalAltResult::ErrorParsing(..)), "{err}");
    }

    #[test]
    fn print_and_debug_print_nothing_and_evaluate() {
        // The handlers are no-ops; the calls themselves still work.
        assert!(sandbox().eval::<()>("print(\"x\"); debug(\"y\")").is_ok());
    }

    #[test]
    fn endless_loops_stop() {
        assert_eq!(limit("loop {}"), Some(LimitError::TooManyOperations));
        assert_eq!(limit("while true {}"), Some(LimitError::TooManyOperations));
        assert_eq!(
            limit("let n = 0; while n >= 0 { n += 1 }"),
            Some(LimitError::TooManyOperations)
        );
    }

    #[test]
    fn growing_data_stops() {
        assert_eq!(
            limit("let s = \"ab\"; loop { s += s }"),
            Some(LimitError::StringTooLong)
        );
        assert_eq!(
            limit("let a = [1]; loop { a += a }"),
            Some(LimitError::ListTooLong)
        );
        assert_eq!(
            limit("let m = #{}; for i in 0..2000 { m[`k${i}`] = i } m.len()"),
            Some(LimitError::MapTooLarge)
        );
    }

    #[test]
    fn deep_recursion_stops() {
        assert_eq!(
            limit("fn f(n) { f(n + 1) } f(0)"),
            Some(LimitError::TooDeep)
        );
    }

    #[test]
    fn other_errors_are_not_limits() {
        assert_eq!(limit("1 + true"), None);
        assert_eq!(limit("throw \"x\""), None);
    }

    #[test]
    fn dry_run_reports_only_limits_and_restores_the_scope() {
        let engine = sandbox();
        let mut scope = Scope::new();
        scope.push("orders", 3_i64);
        let spin = engine.compile_with_scope(&scope, "let i = 0; while true { i += 1 }");
        assert_eq!(
            dry_run(&engine, &spin.unwrap(), &mut scope),
            Err(LimitError::TooManyOperations)
        );
        assert_eq!(scope.len(), 1);
        let mismatch = engine.compile_with_scope(&scope, "orders + true").unwrap();
        assert_eq!(dry_run(&engine, &mismatch, &mut scope), Ok(()));
    }

    #[test]
    fn messages_name_the_rule() {
        assert_eq!(
            limit_message("segment", "spin", &LimitError::TooManyOperations),
            "segment `spin` was stopped after 100000 operations: does it loop forever?"
        );
        assert_eq!(
            limit_message("metric", "huge", &LimitError::StringTooLong),
            "metric `huge` built a string longer than 10000 characters"
        );
        let engine = sandbox();
        let err = engine.eval::<Dynamic>("days_since(\"x\")").unwrap_err();
        assert_eq!(
            runtime_message("metric", "recency", &err),
            "metric `recency` failed: `days_since` needs a date, not a string: \
             write `date(\"2026-01-31\")` to turn text into a date"
        );
        let err = engine.eval::<Dynamic>("1 + true").unwrap_err();
        assert_eq!(
            runtime_message("metric", "m", &err),
            "metric `m` failed: there is no function `+ (i64, bool)`"
        );
    }
}
