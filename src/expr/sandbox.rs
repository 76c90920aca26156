//! The hardened rhai engine every rule expression runs in, the dry run that catches runaway
//! expressions, and the messages for their failures.
//!
//! The engine holds only the functions of [`ALLOWED_FUNCTIONS`]: rhai's packages for
//! arithmetic, logic, maths, text, lists, maps and closures, and idic's builtins. rhai's
//! language-core package is left out (`sleep`, `exit`, `parse_json`, tags, function metadata),
//! so no expression can touch the clock, the process, files or the network. `eval` is disabled,
//! `print`/`debug` go nowhere, and every evaluation is bounded by the limits below, in
//! operations, sizes and depth, and in time ([`MAX_EVAL_TIME`], [`MAX_CUSTOMER_TIME`]): one
//! operation may scan a list of 10,000 items, so counting operations alone does not bound the
//! time. "Today" is the `as_of` date given to [`engine`].

use super::builtins;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage,
    Package,
};
use rhai::{
    ASTNode, Dynamic, Engine, EvalAltResult, OptimizationLevel, Position, Scope, Stmt, AST,
};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most operations one evaluation may take (a loop iteration, a call, an operator...).
pub const MAX_OPERATIONS: u64 = 100_000;
/// Longest one evaluation may run, in wall-clock time, however few its operations.
pub const MAX_EVAL_TIME: Duration = Duration::from_millis(100);
/// Longest the evaluations for one customer may run together (see [`Clock`]).
pub const MAX_CUSTOMER_TIME: Duration = Duration::from_secs(1);
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

/// How often, in operations, an evaluation looks at the clock (an operation takes at most a
/// few milliseconds: a scan of the longest list).
const CLOCK_EVERY: u64 = 16;

/// The time an engine from [`sandbox`] has spent: on the evaluation under way, and on the
/// customer under way once [`Clock::start_customer`] is called. Cheap to clone (shared).
#[derive(Clone)]
pub struct Clock(Arc<Times>);

/// Moments as nanoseconds after `base`, plus one (0: none); atomics only so that an engine
/// holding the clock is `Send + Sync`: one thread uses it at a time.
struct Times {
    base: Instant,
    /// When the evaluation under way began.
    evaluation: AtomicU64,
    /// When the first evaluation for the customer under way began.
    customer: AtomicU64,
    /// A customer was started and none of its evaluations has begun yet.
    pending: AtomicBool,
    /// The time, in nanoseconds, the customer had already spent when it was started or
    /// resumed (counted against its limit, not in `customer`).
    carried: AtomicU64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock(Arc::new(Times {
            base: Instant::now(),
            evaluation: AtomicU64::new(0),
            customer: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            carried: AtomicU64::new(0),
        }))
    }
}

impl Times {
    fn moment(&self, at: &AtomicU64) -> Option<Instant> {
        match at.load(Relaxed) {
            0 => None,
            nanos => Some(self.base + Duration::from_nanos(nanos - 1)),
        }
    }

    /// The time the customer under way has spent: what it carried when it was started or
    /// resumed, and the time since its first evaluation after that (`now` is read only if
    /// there was one).
    fn customer_spent(&self, now: impl FnOnce() -> Instant) -> Duration {
        let carried = Duration::from_nanos(self.carried.load(Relaxed));
        match self.moment(&self.customer) {
            Some(start) => carried + now().duration_since(start),
            None => carried,
        }
    }

    /// `Some` when the customer under way has spent more than [`MAX_CUSTOMER_TIME`] by `now`.
    fn customer_over(&self, now: Instant) -> Option<Dynamic> {
        (self.customer_spent(|| now) > MAX_CUSTOMER_TIME)
            .then(|| Dynamic::from(TimeLimit::Customer))
    }

    fn set(&self, at: &AtomicU64, now: Instant) {
        let nanos = u64::try_from(now.duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        at.store(nanos.saturating_add(1), Relaxed);
    }
}

impl Clock {
    /// Starts a customer: from the next evaluation on, the evaluations together may take
    /// [`MAX_CUSTOMER_TIME`]. Reads no clock until rhai evaluates (the native path never does).
    pub fn start_customer(&self) {
        self.resume_customer(Duration::ZERO);
    }

    /// Resumes a customer that has already spent `spent` on earlier evaluations (a batch
    /// evaluated in columns takes its customers' evaluations in turns): the limit counts on
    /// from there. Reads no clock.
    pub fn resume_customer(&self, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.0.carried.store(nanos, Relaxed);
        self.0.customer.store(0, Relaxed);
        self.0.pending.store(true, Relaxed);
    }

    /// The time the customer under way has spent so far, its resumed time included: zero when
    /// none of its evaluations ran rhai (reads the clock only when one did).
    pub fn customer_spent(&self) -> Duration {
        self.0.customer_spent(Instant::now)
    }

    /// rhai's progress callback: `Some` stops the evaluation, naming the limit.
    fn tick(&self, operations: u64) -> Option<Dynamic> {
        let times = &*self.0;
        if operations == 1 {
            let now = Instant::now();
            times.set(&times.evaluation, now);
            if times.pending.swap(false, Relaxed) {
                times.set(&times.customer, now);
            }
            return times.customer_over(now);
        }
        if !operations.is_multiple_of(CLOCK_EVERY) {
            return None;
        }
        let now = Instant::now();
        over(
            times.moment(&times.evaluation),
            now,
            MAX_EVAL_TIME,
            TimeLimit::Evaluation,
        )
        .or_else(|| times.customer_over(now))
    }
}

fn over(
    since: Option<Instant>,
    now: Instant,
    limit: Duration,
    which: TimeLimit,
) -> Option<Dynamic> {
    since
        .filter(|&start| now.duration_since(start) > limit)
        .map(|_| Dynamic::from(which))
}

/// Which time limit stopped an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimit {
    /// [`MAX_EVAL_TIME`].
    Evaluation,
    /// [`MAX_CUSTOMER_TIME`].
    Customer,
}

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
/// assert!(engine.eval::<()>("sleep(1)").is_err());
/// ```
pub fn engine(as_of: chrono::NaiveDate) -> Engine {
    sandbox(as_of).0
}

/// [`engine`], with the [`Clock`] that bounds its evaluations per customer.
pub fn sandbox(as_of: chrono::NaiveDate) -> (Engine, Clock) {
    let clock = Clock::default();
    (build(as_of, &clock, false), clock)
}

/// [`engine`] with rhai's fast operators, bounded by `clock` too: for the expressions
/// [`super::decimal_free`] accepts only, on which it computes what [`engine`] does, faster.
pub fn fast_engine(as_of: chrono::NaiveDate, clock: &Clock) -> Engine {
    build(as_of, clock, true)
}

fn build(as_of: chrono::NaiveDate, clock: &Clock, fast_operators: bool) -> Engine {
    let mut engine = Engine::new_raw();
    ArithmeticPackage::new().register_into_engine(&mut engine);
    LogicPackage::new().register_into_engine(&mut engine);
    BitFieldPackage::new().register_into_engine(&mut engine);
    BasicMathPackage::new().register_into_engine(&mut engine);
    BasicStringPackage::new().register_into_engine(&mut engine);
    MoreStringPackage::new().register_into_engine(&mut engine);
    BasicIteratorPackage::new().register_into_engine(&mut engine);
    BasicArrayPackage::new().register_into_engine(&mut engine);
    BasicMapPackage::new().register_into_engine(&mut engine);
    BasicFnPackage::new().register_into_engine(&mut engine);
    engine.set_strict_variables(true);
    // Off, idic's checked decimal arithmetic shadows rhai's built-in operators.
    engine.set_fast_operators(fast_operators);
    engine.set_optimization_level(OptimizationLevel::None);
    // Keywords beyond what a rule needs: calling functions by name, and looking at the engine.
    for keyword in [
        "eval",
        "Fn",
        "call",
        "curry",
        "is_def_fn",
        "is_def_var",
        "is_shared",
    ] {
        engine.disable_symbol(keyword);
    }
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    let ticking = clock.clone();
    engine.on_progress(move |operations| ticking.tick(operations));
    builtins::register(&mut engine, as_of);
    engine
}

/// The names of every function an expression may call (rhai's operators included), sorted;
/// `docs/expressions.md` lists the same set, and a test holds the engine to it.
pub fn function_names(engine: &Engine) -> Vec<String> {
    let mut names = engine.collect_fn_metadata(None, |f| Some(f.metadata.name.to_string()), true);
    names.sort();
    names.dedup();
    names
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
    /// Ran out of time: [`MAX_EVAL_TIME`] for the evaluation, or [`MAX_CUSTOMER_TIME`] for the
    /// customer.
    TooSlow(TimeLimit),
}

impl LimitError {
    /// The limit behind a rhai error, looking through "in call to function" wrappers; `None`
    /// for every other error.
    pub fn from_eval(err: &EvalAltResult) -> Option<LimitError> {
        match err.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => Some(LimitError::TooManyOperations),
            EvalAltResult::ErrorStackOverflow(_) => Some(LimitError::TooDeep),
            EvalAltResult::ErrorTerminated(token, _) => token
                .clone()
                .try_cast::<TimeLimit>()
                .map(LimitError::TooSlow),
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
            LimitError::TooSlow(TimeLimit::Evaluation) => write!(
                f,
                "was stopped after {} ms, the time limit of one evaluation: does it scan long \
                 lists or texts in a loop?",
                MAX_EVAL_TIME.as_millis()
            ),
            LimitError::TooSlow(TimeLimit::Customer) => write!(
                f,
                "was stopped: the rules had run for {} s for this customer, the time limit of one \
                 customer",
                MAX_CUSTOMER_TIME.as_secs()
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
    match dry_run_at(engine, ast, scope) {
        Err(DryRunError::Limit(limit, _)) => Err(limit),
        _ => Ok(()),
    }
}

/// Why a dry run did not give a value.
#[derive(Debug)]
pub enum DryRunError {
    /// A resource limit, and where: the innermost loop around the operation that ran out of
    /// budget (the loop that does not end), else that operation (the `+=` that grew a value
    /// too large).
    Limit(LimitError, Position),
    /// Any other error (a division by zero, a type mismatch...).
    Failed(Box<EvalAltResult>),
}

/// [`dry_run`], also giving where a limit was hit, or the error of a failed evaluation.
pub fn dry_run_at(engine: &Engine, ast: &AST, scope: &mut Scope) -> Result<(), DryRunError> {
    let len = scope.len();
    let result = engine.eval_ast_with_scope::<Dynamic>(scope, ast);
    scope.rewind(len);
    let Err(err) = result else { return Ok(()) };
    let Some(limit) = LimitError::from_eval(&err) else {
        return Err(DryRunError::Failed(err));
    };
    let pos = err.unwrap_inner().position();
    if !matches!(
        limit,
        LimitError::TooManyOperations | LimitError::TooSlow(_)
    ) {
        return Err(DryRunError::Limit(limit, pos));
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
    Err(DryRunError::Limit(limit, innermost.unwrap_or(pos)))
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

    /// A sandbox, its clock and `script` compiled in it.
    fn clocked(script: &str) -> (Engine, Clock, AST) {
        let (engine, clock) = super::sandbox(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        let ast = engine.compile(script).unwrap();
        (engine, clock, ast)
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

    /// The names of the list "The functions an expression may call" in docs/expressions.md.
    fn documented_functions() -> Vec<String> {
        let doc = include_str!("../../docs/expressions.md");
        let section = doc
            .split("### The functions an expression may call")
            .nth(1)
            .expect("the section");
        let block = section
            .split("```text\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("its list");
        let mut names: Vec<String> = block
            .split_whitespace()
            .filter(|word| !word.ends_with(':'))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_engine_has_exactly_the_documented_functions() {
        let engine = sandbox();
        let names = function_names(&engine);
        let documented = documented_functions();
        let undocumented: Vec<&String> = names.iter().filter(|n| !documented.contains(n)).collect();
        assert!(
            undocumented.is_empty(),
            "functions the engine has that docs/expressions.md does not allow (review each: \
             does it touch time, I/O or the process?): {undocumented:?}"
        );
        let absent: Vec<&String> = documented.iter().filter(|n| !names.contains(n)).collect();
        assert!(
            absent.is_empty(),
            "documented but not in the engine: {absent:?}"
        );
    }

    #[test]
    fn no_function_or_operator_makes_a_nan_or_an_infinity_from_finite_values() {
        let engine = sandbox();
        let values = [
            "0.0",
            "-1.0",
            "2.0",
            "0.5",
            "1e308",
            "-1e308",
            "1.7e308",
            "-1.7e308",
            "1e-308",
            "0",
            "-1",
            "2",
            "9223372036854775807",
            "\"nan\"",
            "\"inf\"",
            "\"-inf\"",
            "\"1e400\"",
        ];
        let mut found = Vec::new();
        let mut calls = Vec::new();
        for name in function_names(&engine) {
            let operator = !name.starts_with(|c: char| c.is_alphabetic() || c == '_');
            if name.starts_with("get$") || name == "E" || name == "PI" {
                continue;
            }
            for a in values {
                if operator {
                    calls.extend(values.iter().map(|b| format!("{a} {name} {b}")));
                } else {
                    calls.push(format!("{name}({a})"));
                    calls.extend(values.iter().map(|b| format!("{name}({a}, {b})")));
                }
            }
        }
        // A literal beyond the decimals (`1e400`) is refused when compiling (`expr::compile`).
        calls.extend(
            [
                "let x = 1e308; x += 1e308; x",
                "let x = 1e308; x *= 10; x",
                "let x = 2.0; x /= 0; x",
            ]
            .map(String::from),
        );
        for call in &calls {
            if let Ok(value) = engine.eval::<Dynamic>(call) {
                if value.as_float().is_ok_and(|x| !x.is_finite()) {
                    found.push(format!("{call} = {value}"));
                }
            }
        }
        assert!(
            found.is_empty(),
            "{} of {} calls: {found:#?}",
            found.len(),
            calls.len()
        );
    }

    #[test]
    fn nothing_reaches_the_clock_the_process_or_files() {
        let engine = sandbox();
        for script in [
            "sleep(1)",
            "sleep(1e300)",
            "sleep(9223372036854775807)",
            "exit()",
            "exit(3)",
            "parse_json(\"{}\")",
            "get_fn_metadata_list()",
            "let x = 1; take(x)",
            "let x = 1; x.tag",
            "timestamp()",
            "Fn(\"to_string\").call(1)",
            "curry(Fn(\"x\"), 1)",
            "is_def_var(\"x\")",
            "is_def_fn(\"a\", 1)",
        ] {
            let err = engine.eval::<Dynamic>(script).expect_err(script);
            assert!(
                matches!(
                    *err,
                    EvalAltResult::ErrorFunctionNotFound(..)
                        | EvalAltResult::ErrorDotExpr(..)
                        | EvalAltResult::ErrorParsing(..)
                ),
                "{script}: {err}"
            );
        }
    }

    #[test]
    fn a_slow_evaluation_stops_at_the_time_limit() {
        // Few operations, each a scan of a long list (about 2 ms): within the operation
        // budget, but 20 s of work without the clock.
        let script = "let a = []; a.pad(9999, \"x\"); let n = 0; \
                      for i in 0..10000 { if \"y\" in a { n += 1 } } n";
        let started = std::time::Instant::now();
        assert_eq!(
            limit(script),
            Some(LimitError::TooSlow(TimeLimit::Evaluation))
        );
        assert!(
            started.elapsed() < MAX_EVAL_TIME * 20,
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_customer_stops_at_its_time_limit_across_evaluations() {
        let (engine, clock, ast) = clocked(
            "let a = []; a.pad(9999, \"x\"); let n = 0; for i in 0..2 { if \"y\" in a { n += 1 } } n",
        );
        clock.start_customer();
        let mut stopped = None;
        // Each evaluation takes a small share of the evaluation's limit, whatever the machine.
        for evaluation in 0..100_000 {
            if let Err(err) = engine.eval_ast::<Dynamic>(&ast) {
                stopped = Some((evaluation, LimitError::from_eval(&err)));
                break;
            }
        }
        let (after, limit) = stopped.expect("the customer's time runs out");
        assert_eq!(limit, Some(LimitError::TooSlow(TimeLimit::Customer)));
        assert!(after > 1, "each evaluation alone is within its limit");
        // A new customer starts afresh.
        clock.start_customer();
        assert!(engine.eval_ast::<Dynamic>(&ast).is_ok());
    }

    #[test]
    fn a_resumed_customer_keeps_the_time_it_spent() {
        let (engine, clock, ast) = clocked("let n = 0; for i in 0..100 { n += i } n");
        // Evaluated in turns with other customers, it carries its time from turn to turn.
        clock.resume_customer(Duration::from_millis(7));
        assert!(
            clock.customer_spent() >= Duration::from_millis(7),
            "no clock read yet"
        );
        assert!(engine.eval_ast::<Dynamic>(&ast).is_ok());
        let spent = clock.customer_spent();
        assert!(spent >= Duration::from_millis(7), "{spent:?}");
        // Resumed with its whole allowance spent, its next evaluation stops, however short:
        // as a customer evaluated row by row stops at the first operation past its limit.
        let over = MAX_CUSTOMER_TIME + Duration::from_millis(1);
        for script in [
            "let n = 0; for i in 0..100 { n += i } n",
            "let x = 1; x + 2",
        ] {
            clock.resume_customer(over);
            let err = engine.eval::<Dynamic>(script).unwrap_err();
            assert_eq!(
                LimitError::from_eval(&err),
                Some(LimitError::TooSlow(TimeLimit::Customer)),
                "{script}"
            );
        }
        // Started afresh, it runs.
        clock.start_customer();
        assert!(engine.eval_ast::<Dynamic>(&ast).is_ok());
        assert!(clock.customer_spent() < MAX_CUSTOMER_TIME);
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
