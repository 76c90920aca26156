//! A native fast path for simple rule expressions: [`Native::lower`] turns a compiled rhai
//! expression into a small tree of Rust operations, and [`Native::eval`] evaluates it without
//! rhai (tens of nanoseconds instead of hundreds; `cargo bench --bench expr`).
//!
//! ```
//! use idic::expr::{compile, engine, native::Native};
//! # use idic::{model::Expr, source::Span};
//! let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
//! let engine = engine(as_of);
//! let source = "orders >= 4 && recency <= 90";
//! let expr = Expr { source: source.into(), span: Span::default(), verbatim: true };
//! let ast = compile(&engine, &expr, &["orders", "recency"]).unwrap();
//! let slot_of = |name: &str| ["orders", "recency"].iter().position(|n| *n == name);
//! let native = Native::lower(&ast, &slot_of).unwrap();
//! let slots = [rhai::Dynamic::from(5_i64), rhai::Dynamic::UNIT]; // never ordered: `recency` is ()
//! assert_eq!(native.eval(&slots, as_of).unwrap().as_bool(), Ok(false));
//! ```
//!
//! # The contract
//!
//! Whenever [`Native::eval`] returns `Ok(v)`, rhai's evaluation of the same AST with the same
//! variable values returns `Ok` with a value of the same type and the same value (floats
//! bit-identical or both NaN). Whenever the native path cannot be sure of that (a runtime error
//! such as a type mismatch, an integer overflow or a division of whole numbers by zero, a value
//! over the sandbox's size limits, or a combination of types it does not handle) it returns
//! `Err(Bail)`, and the caller evaluates the expression with rhai, which gives the value or the
//! error message. Bailing is always correct, only slower; the tests hold the native path to
//! this against rhai itself (`native/tests.rs`, a differential property test).
//!
//! # The subset
//!
//! [`Native::lower`] gives `None` for anything else:
//!
//! * literals: whole numbers, decimals, strings, `true`/`false`, `()`, lists of supported
//!   expressions;
//! * variables with a slot, and `as_of` (the date evaluated at, unless it has a slot);
//! * `!x`, `-x`; `+ - * / % **` with rhai's rules: whole numbers stay whole (overflow and
//!   division by zero bail), a whole number with a decimal gives a decimal, `+` joins strings
//!   (and `() + s` is `s`); any other combination bails;
//! * `== != < <= > >=` with rhai's rules: numbers compare across whole and decimal with rhai's
//!   relative epsilon, strings by bytes, `true > false`, dates and date-times through idic's
//!   comparisons (a date is its midnight), lists element by element (`==`, `!=` only), values
//!   of different kinds are unequal and unordered;
//! * `&&`, `||` (short-circuit, a non-boolean operand bails), `??`;
//! * `x in y` and `x !in y`: lists (rhai's `==` per item), text in text, and `()` as the
//!   container of a text (`false`);
//! * `if`/`else if`/`else` as expressions (a non-boolean condition bails; no `else` gives `()`),
//!   `switch` with literal cases and `_` (matched by rhai's own value hashes, so `1` does not
//!   match `1.0`) but without case conditions or ranges, blocks and parentheses holding one
//!   expression;
//! * `date - date` (whole days; `()` when a side is missing);
//! * `matches(text, "pattern")` with a literal pattern, compiled once when lowered;
//! * calls, as functions or methods (`as_of.month()`), of idic's `days_since`, `days_until`,
//!   `days_between`, `months_since`, `add_days`, `add_months`, `start_of_week`,
//!   `start_of_month`, `start_of_quarter`, `start_of_year`, `year`, `month`, `day`, `weekday`,
//!   `round_money`, `round_to`, `is_missing`, `has_any`, `has_all`, `lower`, `upper`, and
//!   rhai's `len` (text: characters; lists: items) and `contains`. The builtins run the same
//!   Rust functions rhai calls (`expr::builtins`); an argument of a kind no overload takes
//!   bails.
//!
//! Slots hold `()`, booleans, `i64`, `f64`, strings, dates, date-times and lists; a value of
//! another kind (a map, a character) bails.
//!
//! # rhai's rules it copies (each one tested)
//!
//! * Decimals (and a whole number against a decimal) compare with a relative epsilon:
//!   `0.1 + 0.2 == 0.3` is `true`, `NaN == 0.0` is `true`, `inf == inf` is `false`, and
//!   `NaN != 1.0` is `false` as well as `NaN == 1.0`.
//! * `switch` finds its case by rhai's hash of the value: `1` does not match `1.0`, `-0.0` does
//!   not match `0.0`, and dates cannot be hashed, so they take `_`.
//! * `() + "a"` is `"a"`; `"a" + 1` and `"a" - "b"` are left to rhai (it formats and removes).
//! * `x in ()` is `false` only for a text `x` (idic's `contains((), text)`); else an error.
//! * `&&` and `||` decide before looking at the other operand: `true || ()` is `true`.
//! * Whole-number `%` keeps the dividend's sign; `i64::MIN / -1`, `i64::MIN % -1`, `-i64::MIN`
//!   and `2 ** -1` are errors.
//! * After a call taking its object by reference, rhai checks a variable object against the
//!   size limits (`len(tags)` fails when `tags` has more than 10,000 items): calls on oversized
//!   values bail.
//!
//! A [`Native`] is `Send + Sync` and does not depend on the date it evaluates at: lower once,
//! share between workers and runs.

use super::builtins::{self, Moment, Part, Period, Step};
use super::{MAX_ARRAY_SIZE, MAX_STRING_SIZE};
use chrono::{NaiveDate, NaiveDateTime};
use rhai::{
    ASTFlags, Array, Dynamic, DynamicReadLock, Expr, FnCallExpr, ImmutableString, Stmt,
    SwitchCasesCollection, Token, AST, FLOAT, INT,
};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::OnceLock;

mod columns;
pub use columns::{Rows, SlotColumns, Split};

/// An expression lowered to native code, evaluated without rhai.
#[derive(Debug)]
pub struct Native {
    root: Node,
}

/// The native path cannot be sure to give rhai's result: evaluate the expression with rhai.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

impl fmt::Display for Bail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the native path cannot evaluate this expression: evaluate it with rhai")
    }
}

impl std::error::Error for Bail {}

/// Expressions with more nodes than this are left to rhai (which counts operations).
const MAX_NODES: usize = 10_000;

impl Native {
    /// Lowers a compiled expression (from `expr::compile_in` with an `expr::engine`), or
    /// `None` when it uses anything outside the supported subset (see the module
    /// documentation). `slot_of` gives the slot of a variable the expression reads (`None`: not
    /// a slot; then lowering fails, except `as_of`, the date evaluated at).
    pub fn lower(ast: &AST, slot_of: &dyn Fn(&str) -> Option<usize>) -> Option<Native> {
        // Closures are compiled into functions of the AST; nothing here calls them.
        if ast.iter_functions().next().is_some() {
            return None;
        }
        let mut lowering = Lowering { slot_of, nodes: 0 };
        let root = lowering.block(ast.statements())?;
        Some(Native { root })
    }

    /// Evaluates as of `as_of` (for `as_of` and `days_since`, like an `expr::engine(as_of)`),
    /// with variables read from `slots` (indexed by the `slot_of` given to
    /// [`Native::lower`]). `Err(Bail)` whenever the native path cannot be sure to give exactly
    /// rhai's result (a runtime error such as a type mismatch, integer overflow, division of
    /// whole numbers by zero, or a case it does not handle): then evaluate the same expression
    /// with rhai, which gives the value or the error message.
    pub fn eval(&self, slots: &[Dynamic], as_of: NaiveDate) -> Result<Dynamic, Bail> {
        At { as_of }.value(&self.root, slots)
    }

    /// [`Native::eval`] of a condition, without making a value: `Ok` only when the value is
    /// `true` or `false` (anything else bails, and rhai says what it is).
    pub fn test(&self, slots: &[Dynamic], as_of: NaiveDate) -> Result<bool, Bail> {
        At { as_of }.truth(&self.root, slots)
    }
}

/// Evaluation as of a date.
#[derive(Clone, Copy)]
struct At {
    as_of: NaiveDate,
}

impl At {
    /// The value of the whole expression: conditions and numbers are computed without
    /// building intermediate values.
    fn value(&self, node: &Node, slots: &[Dynamic]) -> Result<Dynamic, Bail> {
        Ok(match node {
            Node::Compare(..) | Node::And(_) | Node::Or(_) | Node::Not(_) => {
                Dynamic::from_bool(self.truth(node, slots)?)
            }
            Node::If(x) => {
                let branch = if self.truth(&x[0], slots)? {
                    &x[1]
                } else {
                    &x[2]
                };
                return self.value(branch, slots);
            }
            Node::Arith(..) | Node::Neg(_) | Node::Coalesce(_) => self.number(node, slots)?,
            Node::Call(func, _) if func.gives_number() => self.number(node, slots)?,
            node => self.node(node, slots)?.to_dynamic(),
        })
    }

    fn number(&self, node: &Node, slots: &[Dynamic]) -> Result<Dynamic, Bail> {
        self.scalar_value(node, self.scalar(node, slots)?, slots)
    }

    /// The value of `node`, whose scalar is `scalar`: the number or `()` itself, or for
    /// [`Scalar::Other`] the node's value.
    fn scalar_value(
        &self,
        node: &Node,
        scalar: Scalar,
        slots: &[Dynamic],
    ) -> Result<Dynamic, Bail> {
        Ok(match scalar {
            Scalar::Int(i) => Dynamic::from_int(i),
            Scalar::Float(f) => Dynamic::from_float(f),
            Scalar::Unit => Dynamic::UNIT,
            Scalar::Other => self.node(node, slots)?.to_dynamic(),
        })
    }
}

// ---- The lowered tree ----------------------------------------------------------------------

/// A constant.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    Str(String),
    List(Vec<Lit>),
}

#[derive(Debug)]
enum Node {
    Lit(Lit),
    Slot(usize),
    /// A list literal with items computed at run time.
    List(Vec<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Arith(Arith, Box<[Node; 2]>),
    Compare(Cmp, Box<[Node; 2]>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Coalesce(Vec<Node>),
    /// Condition, then, else.
    If(Box<[Node; 3]>),
    Switch(Box<Switch>),
    Call(Func, Vec<Node>),
    /// `matches(text, "pattern")` with its literal pattern compiled once, when lowered.
    Matches(Box<Node>, Box<regex::Regex>),
    /// The date evaluated at (`as_of` without a slot).
    AsOf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// Whether the comparison holds for values in this order.
    fn holds(self, order: Ordering) -> bool {
        match self {
            Cmp::Eq => order == Ordering::Equal,
            Cmp::Ne => order != Ordering::Equal,
            Cmp::Lt => order == Ordering::Less,
            Cmp::Le => order != Ordering::Greater,
            Cmp::Gt => order == Ordering::Greater,
            Cmp::Ge => order != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    DaysSince,
    DaysUntil,
    DaysBetween,
    MonthsSince,
    /// `start_of_week`, `start_of_month`, `start_of_quarter` or `start_of_year`.
    StartOf(Period),
    /// `add_days` or `add_months`.
    Shift(Step),
    Part(Part),
    RoundMoney,
    RoundTo,
    IsMissing,
    HasAny,
    HasAll,
    Lower,
    Upper,
    Len,
    Contains,
}

impl Func {
    /// Whether the function gives a number or `()`.
    fn gives_number(self) -> bool {
        matches!(
            self,
            Func::DaysSince
                | Func::DaysUntil
                | Func::DaysBetween
                | Func::MonthsSince
                | Func::Part(_)
                | Func::RoundMoney
                | Func::RoundTo
                | Func::Len
        )
    }

    /// The function a call of `name` with `arity` arguments resolves to.
    fn of(name: &str, arity: usize) -> Option<Func> {
        Some(match (name, arity) {
            ("days_since", 1) => Func::DaysSince,
            ("days_until", 1) => Func::DaysUntil,
            ("start_of_week", 1) => Func::StartOf(Period::Week),
            ("start_of_month", 1) => Func::StartOf(Period::Month),
            ("start_of_quarter", 1) => Func::StartOf(Period::Quarter),
            ("start_of_year", 1) => Func::StartOf(Period::Year),
            ("days_between", 2) => Func::DaysBetween,
            ("months_since", 1) => Func::MonthsSince,
            ("add_days", 2) => Func::Shift(Step::Days),
            ("add_months", 2) => Func::Shift(Step::Months),
            ("year", 1) => Func::Part(Part::Year),
            ("month", 1) => Func::Part(Part::Month),
            ("day", 1) => Func::Part(Part::Day),
            ("weekday", 1) => Func::Part(Part::Weekday),
            ("round_money", 1) => Func::RoundMoney,
            ("round_to", 2) => Func::RoundTo,
            ("is_missing", 1) => Func::IsMissing,
            ("has_any", 2) => Func::HasAny,
            ("has_all", 2) => Func::HasAll,
            ("lower", 1) => Func::Lower,
            ("upper", 1) => Func::Upper,
            ("len", 1) => Func::Len,
            ("contains", 2) => Func::Contains,
            _ => return None,
        })
    }
}

/// A `switch` without case conditions or ranges.
#[derive(Debug)]
struct Switch {
    value: Node,
    /// rhai's hash of a case's value and the arm it selects, sorted by hash.
    cases: Vec<(u64, usize)>,
    arms: Vec<Node>,
    default: Option<usize>,
}

// ---- Lowering ------------------------------------------------------------------------------

struct Lowering<'s> {
    slot_of: &'s dyn Fn(&str) -> Option<usize>,
    nodes: usize,
}

impl Lowering<'_> {
    /// A block evaluates to its one statement, or to `()` when empty.
    fn block(&mut self, stmts: &[Stmt]) -> Option<Node> {
        match stmts {
            [] => Some(Node::Lit(Lit::Unit)),
            [stmt] => self.stmt(stmt),
            _ => None,
        }
    }

    fn stmt(&mut self, stmt: &Stmt) -> Option<Node> {
        self.count()?;
        match stmt {
            Stmt::Noop(_) => Some(Node::Lit(Lit::Unit)),
            Stmt::Expr(e) => self.expr(e),
            Stmt::FnCall(f, _) => self.call(f, None),
            Stmt::Block(b) => self.block(b.statements()),
            Stmt::If(x, _) => {
                let cond = self.expr(&x.expr)?;
                let then = self.block(x.body.statements())?;
                let other = self.block(x.branch.statements())?;
                Some(Node::If(Box::new([cond, then, other])))
            }
            Stmt::Switch(x, _) => self.switch(&x.0, &x.1),
            _ => None,
        }
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    fn exprs(&mut self, exprs: &[Expr]) -> Option<Vec<Node>> {
        exprs.iter().map(|e| self.expr(e)).collect()
    }

    fn expr(&mut self, expr: &Expr) -> Option<Node> {
        self.count()?;
        Some(match expr {
            Expr::Unit(_) => Node::Lit(Lit::Unit),
            Expr::BoolConstant(b, _) => Node::Lit(Lit::Bool(*b)),
            Expr::IntegerConstant(i, _) => Node::Lit(Lit::Int(*i)),
            Expr::FloatConstant(f, _) => Node::Lit(Lit::Float(**f)),
            Expr::StringConstant(s, _) => Node::Lit(Lit::Str(s.to_string())),
            Expr::DynamicConstant(d, _) => Node::Lit(literal(d)?),
            Expr::Array(items, _) => {
                let items = self.exprs(items)?;
                if items.iter().all(|n| matches!(n, Node::Lit(_))) {
                    let lits: Vec<Lit> = items
                        .into_iter()
                        .map(|n| match n {
                            Node::Lit(l) => l,
                            _ => unreachable!("all items are constants"),
                        })
                        .collect();
                    // rhai would refuse to build it.
                    let (arrays, strings) = lit_sizes(&lits);
                    if arrays > MAX_ARRAY_SIZE || strings > MAX_STRING_SIZE {
                        return None;
                    }
                    Node::Lit(Lit::List(lits))
                } else {
                    Node::List(items)
                }
            }
            // An index means a variable the expression declared itself.
            Expr::Variable(x, short, _) if x.0.is_none() && short.is_none() => {
                match (self.slot_of)(&x.1) {
                    Some(slot) => Node::Slot(slot),
                    None if x.1 == "as_of" => Node::AsOf,
                    None => return None,
                }
            }
            Expr::Stmt(block) => self.block(block.statements())?,
            Expr::FnCall(f, _) => self.call(f, None)?,
            // `x.f(...)`, without `?.`.
            Expr::Dot(x, flags, _) if !flags.intersects(ASTFlags::NEGATED) => {
                let object = self.expr(&x.lhs)?;
                self.chain(object, &x.rhs)?
            }
            Expr::And(x, _) => Node::And(self.exprs(x)?),
            Expr::Or(x, _) => Node::Or(self.exprs(x)?),
            Expr::Coalesce(x, _) => Node::Coalesce(self.exprs(x)?),
            _ => return None,
        })
    }

    /// Method calls on `object`: `.f(...)` or `.f(...).g(...)...`.
    fn chain(&mut self, object: Node, rhs: &Expr) -> Option<Node> {
        self.count()?;
        match rhs {
            Expr::MethodCall(f, _) => self.call(f, Some(object)),
            Expr::Dot(x, flags, _) if !flags.intersects(ASTFlags::NEGATED) => {
                let object = self.chain(object, &x.lhs)?;
                self.chain(object, &x.rhs)
            }
            _ => None,
        }
    }

    /// A function or operator call; `object` is the object of a method call.
    fn call(&mut self, f: &FnCallExpr, object: Option<Node>) -> Option<Node> {
        if f.capture_parent_scope {
            return None;
        }
        let is_method = object.is_some();
        let mut args: Vec<Node> = Vec::with_capacity(f.args.len() + 1);
        args.extend(object);
        for a in f.args.iter() {
            args.push(self.expr(a)?);
        }
        let operator = f.op_token.as_ref().filter(|_| !is_method);
        if let (None, "matches", [_, Node::Lit(Lit::Str(pattern))]) =
            (operator, f.name.as_str(), args.as_slice())
        {
            // A pattern that does not compile fails in rhai, with its message.
            let pattern = Box::new(builtins::compile_pattern(pattern).ok()?);
            let text = args.swap_remove(0);
            return Some(Node::Matches(Box::new(text), pattern));
        }
        match (operator, args.len()) {
            // `x !in y` is `!contains(y, x)`, the call carrying the `!in` token.
            (Some(Token::NotIn), _) | (None, _) => {
                Func::of(&f.name, args.len()).map(|func| Node::Call(func, args))
            }
            (Some(Token::Bang), 1) => Some(Node::Not(Box::new(args.pop()?))),
            (Some(Token::Minus | Token::UnaryMinus), 1) => Some(Node::Neg(Box::new(args.pop()?))),
            (Some(token), 2) => {
                let rhs = args.pop()?;
                let lhs = args.pop()?;
                let pair = Box::new([lhs, rhs]);
                let arith = match token {
                    Token::Plus => Arith::Add,
                    Token::Minus => Arith::Sub,
                    Token::Multiply => Arith::Mul,
                    Token::Divide => Arith::Div,
                    Token::Modulo => Arith::Rem,
                    Token::PowerOf => Arith::Pow,
                    token => {
                        let cmp = match token {
                            Token::EqualsTo => Cmp::Eq,
                            Token::NotEqualsTo => Cmp::Ne,
                            Token::LessThan => Cmp::Lt,
                            Token::LessThanEqualsTo => Cmp::Le,
                            Token::GreaterThan => Cmp::Gt,
                            Token::GreaterThanEqualsTo => Cmp::Ge,
                            _ => return None,
                        };
                        return Some(Node::Compare(cmp, pair));
                    }
                };
                Some(Node::Arith(arith, pair))
            }
            _ => None,
        }
    }

    fn switch(&mut self, value: &Expr, cases: &SwitchCasesCollection) -> Option<Node> {
        if !cases.ranges.is_empty() || !switch_hashes_agree() {
            return None;
        }
        let value = self.expr(value)?;
        let mut arms = Vec::with_capacity(cases.expressions.len());
        for case in cases.expressions.iter() {
            // `case if condition => ...` is not supported: its condition is not a constant.
            if !matches!(case.lhs, Expr::BoolConstant(..)) {
                return None;
            }
            arms.push(self.expr(&case.rhs)?);
        }
        let mut by_hash = HashMap::with_capacity(cases.cases.len());
        for (hash, list) in cases.cases.iter() {
            // The first arm whose (constant) condition holds, as rhai picks it.
            let first = list.blocks.iter().copied().find(|&i| {
                matches!(
                    cases.expressions.get(i).map(|c| &c.lhs),
                    Some(Expr::BoolConstant(true, _))
                )
            });
            if let Some(arm) = first {
                by_hash.insert(*hash, arm);
            }
        }
        if cases.def_case.is_some_and(|i| i >= arms.len()) {
            return None;
        }
        let mut by_hash: Vec<(u64, usize)> = by_hash.into_iter().collect();
        by_hash.sort_unstable();
        Some(Node::Switch(Box::new(Switch {
            value,
            cases: by_hash,
            arms,
            default: cases.def_case,
        })))
    }
}

/// A constant rhai value as a literal, if of a supported kind.
fn literal(value: &Dynamic) -> Option<Lit> {
    if value.is_unit() {
        Some(Lit::Unit)
    } else if let Ok(b) = value.as_bool() {
        Some(Lit::Bool(b))
    } else if let Ok(i) = value.as_int() {
        Some(Lit::Int(i))
    } else if let Ok(f) = value.as_float() {
        Some(Lit::Float(f))
    } else if let Some(s) = value.read_lock::<ImmutableString>() {
        Some(Lit::Str(s.to_string()))
    } else if let Some(a) = value.read_lock::<Array>() {
        a.iter().map(literal).collect::<Option<_>>().map(Lit::List)
    } else {
        None
    }
}

/// [`sizes`] of a constant list.
fn lit_sizes(items: &[Lit]) -> (usize, usize) {
    let (mut arrays, mut strings) = (0, 0);
    for item in items {
        arrays += 1;
        match item {
            Lit::Str(s) => strings += s.len(),
            Lit::List(l) => {
                let (a, s) = lit_sizes(l);
                arrays += a;
                strings += s;
            }
            _ => {}
        }
    }
    (arrays, strings)
}

// ---- rhai's `switch` hashes ----------------------------------------------------------------

/// The hash rhai gives a value to find its `switch` case (`calc_switch_value_hash`: the
/// engine's ahash hasher over the `Dynamic`).
fn switch_hash(value: &Dynamic) -> u64 {
    let mut hasher = match rhai::config::hashing::get_hashing_seed() {
        Some([a, b, c, d]) if (a | b | c | d) != 0 => {
            ahash::RandomState::with_seeds(*a, *b, *c, *d).build_hasher()
        }
        _ => ahash::AHasher::default(),
    };
    value.hash(&mut hasher);
    hasher.finish()
}

/// Whether [`switch_hash`] gives the hashes rhai's parser stores for `switch` cases, checked
/// once on a probe: if a rhai upgrade changed them, `switch` is simply left to rhai.
fn switch_hashes_agree() -> bool {
    static AGREE: OnceLock<bool> = OnceLock::new();
    *AGREE.get_or_init(|| {
        let values: [Dynamic; 8] = [
            "gold".into(),
            "".into(),
            "Zoë".into(),
            0_i64.into(),
            (-7_i64).into(),
            2.5_f64.into(),
            true.into(),
            Dynamic::UNIT,
        ];
        let probe = r#"switch x { "gold" => 0, "" => 1, "Zoë" => 2, 0 => 3, -7 => 4, 2.5 => 5, true => 6, () => 7 }"#;
        let engine = rhai::Engine::new_raw();
        let mut scope = rhai::Scope::new();
        scope.push_dynamic("x", Dynamic::UNIT);
        let Ok(ast) = engine.compile_with_scope(&scope, probe) else {
            return false;
        };
        let Some(Stmt::Switch(x, _)) = ast.statements().first() else {
            return false;
        };
        let cases = &x.1.cases;
        cases.len() == values.len()
            && cases.iter().all(|(hash, list)| {
                list.blocks
                    .first()
                    .and_then(|&i| values.get(i))
                    .is_some_and(|v| switch_hash(v) == *hash)
            })
    })
}

// ---- Values --------------------------------------------------------------------------------

/// A value during evaluation, borrowed from the slots or the tree where possible. Every variant
/// fits in a pointer (or a date-time), so a value is 16 bytes and moves in registers.
enum Val<'a> {
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    /// A slot holding a string.
    SlotStr(&'a Dynamic),
    LitStr(&'a String),
    OwnStr(ImmutableString),
    RefStr(&'a ImmutableString),
    /// A slot holding a list.
    SlotList(&'a Dynamic),
    LitList(&'a Vec<Lit>),
    // Boxed to keep values small; built lists are rare.
    #[allow(clippy::box_collection)]
    OwnList(Box<Vec<Val<'a>>>),
    RefList(&'a Vec<Val<'a>>),
}

/// The text of a value, borrowed.
enum TextRef<'b> {
    Lock(DynamicReadLock<'b, ImmutableString>),
    Str(&'b str),
}

impl Deref for TextRef<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            TextRef::Lock(s) => s.as_str(),
            TextRef::Str(s) => s,
        }
    }
}

/// The items of a list value, borrowed.
enum ListRef<'b> {
    Lock(DynamicReadLock<'b, Array>),
    Lit(&'b [Lit]),
    Vals(&'b [Val<'b>]),
}

impl ListRef<'_> {
    fn len(&self) -> usize {
        match self {
            ListRef::Lock(a) => a.len(),
            ListRef::Lit(a) => a.len(),
            ListRef::Vals(a) => a.len(),
        }
    }

    /// The items as values.
    fn vals(&self) -> Result<Vec<Val<'_>>, Bail> {
        match self {
            ListRef::Lock(a) => a.iter().map(load).collect(),
            ListRef::Lit(a) => Ok(a.iter().map(lit).collect()),
            ListRef::Vals(a) => Ok(a.iter().map(Val::reborrow).collect()),
        }
    }

    /// Whether `test` holds for an item (stops at the first).
    fn any(&self, mut test: impl FnMut(&Val<'_>) -> Result<bool, Bail>) -> Result<bool, Bail> {
        match self {
            ListRef::Lock(a) => {
                for item in a.iter() {
                    if test(&load(item)?)? {
                        return Ok(true);
                    }
                }
            }
            ListRef::Lit(a) => {
                for item in a.iter() {
                    if test(&lit(item))? {
                        return Ok(true);
                    }
                }
            }
            ListRef::Vals(a) => {
                for item in a.iter() {
                    if test(item)? {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// The items as rhai values.
    fn to_array(&self) -> Array {
        match self {
            ListRef::Lock(a) => a.to_vec(),
            ListRef::Lit(a) => a.iter().map(|l| lit(l).to_dynamic()).collect(),
            ListRef::Vals(a) => a.iter().map(Val::to_dynamic).collect(),
        }
    }

    /// rhai's data sizes of the list: items (nested ones included) and bytes of strings.
    fn sizes(&self) -> Result<(usize, usize), Bail> {
        Ok(match self {
            ListRef::Lock(a) => array_sizes(a)?,
            ListRef::Lit(a) => lit_sizes(a),
            ListRef::Vals(a) => {
                let (mut arrays, mut strings) = (0, 0);
                for item in a.iter() {
                    let (a, s) = sizes(item)?;
                    arrays += 1 + a;
                    strings += s;
                }
                (arrays, strings)
            }
        })
    }
}

/// A literal as a value.
fn lit(l: &Lit) -> Val<'_> {
    match l {
        Lit::Unit => Val::Unit,
        Lit::Bool(b) => Val::Bool(*b),
        Lit::Int(i) => Val::Int(*i),
        Lit::Float(f) => Val::Float(*f),
        Lit::Str(s) => Val::LitStr(s),
        Lit::List(l) => Val::LitList(l),
    }
}

/// A slot's value (`None`: no such slot) as a [`Scalar`].
fn slot_scalar(d: Option<&Dynamic>) -> Scalar {
    match d {
        Some(d) if d.is_shared() => Scalar::Other,
        Some(d) if d.is_int() => d.as_int().map_or(Scalar::Other, Scalar::Int),
        Some(d) if d.is_float() => d.as_float().map_or(Scalar::Other, Scalar::Float),
        Some(d) if d.is_unit() => Scalar::Unit,
        _ => Scalar::Other,
    }
}

/// The truth of a slot's value (`None`: no such slot): [`load`]'s, asking only for a bool.
fn slot_truth(d: Option<&Dynamic>) -> Result<bool, Bail> {
    match d {
        Some(d) if !d.is_shared() => d.as_bool().map_err(|_| Bail),
        _ => Err(Bail),
    }
}

/// A rhai value as a value; values of other kinds (maps, characters...) bail.
#[inline]
fn load(d: &Dynamic) -> Result<Val<'_>, Bail> {
    // Kind first: `as_int()` and friends name the type when they fail, which costs.
    let value = if d.is_shared() {
        // Captured by a closure: never in the slots; left to rhai.
        None
    } else if d.is_int() {
        d.as_int().ok().map(Val::Int)
    } else if d.is_string() {
        Some(Val::SlotStr(d))
    } else if d.is_unit() {
        Some(Val::Unit)
    } else if d.is_float() {
        d.as_float().ok().map(Val::Float)
    } else if d.is_bool() {
        d.as_bool().ok().map(Val::Bool)
    } else if d.is_array() {
        Some(Val::SlotList(d))
    } else if let Some(x) = d.read_lock::<NaiveDate>() {
        Some(Val::Date(*x))
    } else {
        d.read_lock::<NaiveDateTime>().map(|x| Val::DateTime(*x))
    };
    value.ok_or(Bail)
}

impl Val<'_> {
    fn text(&self) -> Option<TextRef<'_>> {
        match self {
            Val::SlotStr(d) => d.read_lock::<ImmutableString>().map(TextRef::Lock),
            Val::LitStr(s) => Some(TextRef::Str(s)),
            Val::OwnStr(s) => Some(TextRef::Str(s)),
            Val::RefStr(s) => Some(TextRef::Str(s)),
            _ => None,
        }
    }

    fn is_text(&self) -> bool {
        matches!(
            self,
            Val::SlotStr(_) | Val::LitStr(_) | Val::OwnStr(_) | Val::RefStr(_)
        )
    }

    fn list(&self) -> Option<ListRef<'_>> {
        match self {
            Val::SlotList(d) => d.read_lock::<Array>().map(ListRef::Lock),
            Val::LitList(l) => Some(ListRef::Lit(l)),
            Val::OwnList(l) => Some(ListRef::Vals(l)),
            Val::RefList(l) => Some(ListRef::Vals(l)),
            _ => None,
        }
    }

    fn moment(&self) -> Option<Moment> {
        match self {
            Val::Date(d) => Some(Moment::Date(*d)),
            Val::DateTime(t) => Some(Moment::DateTime(*t)),
            _ => None,
        }
    }

    fn to_dynamic(&self) -> Dynamic {
        match self {
            Val::Unit => Dynamic::UNIT,
            Val::Bool(b) => Dynamic::from_bool(*b),
            Val::Int(i) => Dynamic::from_int(*i),
            Val::Float(f) => Dynamic::from_float(*f),
            Val::Date(d) => Dynamic::from(*d),
            Val::DateTime(t) => Dynamic::from(*t),
            Val::SlotStr(d) | Val::SlotList(d) => (*d).clone(),
            Val::LitStr(s) => Dynamic::from(ImmutableString::from(s.as_str())),
            Val::OwnStr(s) => Dynamic::from(s.clone()),
            Val::RefStr(s) => Dynamic::from((*s).clone()),
            Val::LitList(_) | Val::OwnList(_) | Val::RefList(_) => {
                Dynamic::from_array(self.list().expect("a list").to_array())
            }
        }
    }

    /// The same value, borrowing from this one.
    fn reborrow(&self) -> Val<'_> {
        match self {
            Val::Unit => Val::Unit,
            Val::Bool(b) => Val::Bool(*b),
            Val::Int(i) => Val::Int(*i),
            Val::Float(f) => Val::Float(*f),
            Val::Date(d) => Val::Date(*d),
            Val::DateTime(t) => Val::DateTime(*t),
            Val::SlotStr(d) => Val::SlotStr(d),
            Val::LitStr(s) => Val::LitStr(s),
            Val::OwnStr(s) => Val::RefStr(s),
            Val::RefStr(s) => Val::RefStr(s),
            Val::SlotList(d) => Val::SlotList(d),
            Val::LitList(l) => Val::LitList(l),
            Val::OwnList(l) => Val::RefList(l),
            Val::RefList(l) => Val::RefList(l),
        }
    }
}

/// rhai's data sizes of a value (items of lists, nested ones included; bytes of strings), as
/// its limits count them.
fn sizes(v: &Val<'_>) -> Result<(usize, usize), Bail> {
    if let Some(s) = v.text() {
        Ok((0, s.len()))
    } else if let Some(l) = v.list() {
        l.sizes()
    } else {
        Ok((0, 0))
    }
}

/// [`sizes`] of a rhai array (items of any kind; maps and blobs bail).
fn array_sizes(items: &[Dynamic]) -> Result<(usize, usize), Bail> {
    let (mut arrays, mut strings) = (0, 0);
    for item in items {
        arrays += 1;
        if let Some(s) = item.read_lock::<ImmutableString>() {
            strings += s.len();
        } else if let Some(a) = item.read_lock::<Array>() {
            let (a, s) = array_sizes(&a)?;
            arrays += a;
            strings += s;
        } else if item.is_map() || item.is_blob() || item.is_shared() {
            return Err(Bail);
        }
    }
    Ok((arrays, strings))
}

/// Whether rhai's size limits reject `v` (as a value built, or as the object of a call, which
/// rhai checks after calls taking it by reference).
fn oversized(v: &Val<'_>) -> Result<bool, Bail> {
    let (arrays, strings) = sizes(v)?;
    Ok(arrays > MAX_ARRAY_SIZE || strings > MAX_STRING_SIZE)
}

// ---- Evaluation ----------------------------------------------------------------------------

impl At {
    fn node<'a>(&self, node: &'a Node, slots: &'a [Dynamic]) -> Result<Val<'a>, Bail> {
        Ok(match node {
            Node::Lit(l) => lit(l),
            Node::AsOf => Val::Date(self.as_of),
            Node::Slot(i) => load(slots.get(*i).ok_or(Bail)?)?,
            Node::List(items) => {
                let items = items
                    .iter()
                    .map(|n| self.node(n, slots))
                    .collect::<Result<Vec<_>, _>>()?;
                let list = Val::OwnList(Box::new(items));
                if oversized(&list)? {
                    return Err(Bail);
                }
                list
            }
            Node::Neg(x) => match self.scalar(x, slots)? {
                Scalar::Int(i) => Val::Int(i.checked_neg().ok_or(Bail)?),
                Scalar::Float(f) => Val::Float(-f),
                Scalar::Unit => return Err(Bail),
                Scalar::Other => match self.node(x, slots)? {
                    Val::Int(i) => Val::Int(i.checked_neg().ok_or(Bail)?),
                    Val::Float(f) => Val::Float(-f),
                    _ => return Err(Bail),
                },
            },
            Node::Arith(op, x) => match self.scalar(node, slots)? {
                Scalar::Int(i) => Val::Int(i),
                Scalar::Float(f) => Val::Float(f),
                Scalar::Unit => Val::Unit,
                Scalar::Other => arith(*op, self.node(&x[0], slots)?, self.node(&x[1], slots)?)?,
            },
            Node::Compare(..) | Node::And(_) | Node::Or(_) | Node::Not(_) => {
                Val::Bool(self.truth(node, slots)?)
            }
            Node::Coalesce(xs) => {
                let mut value = Val::Unit;
                for x in xs {
                    value = self.node(x, slots)?;
                    if !matches!(value, Val::Unit) {
                        break;
                    }
                }
                value
            }
            Node::If(x) => {
                if self.truth(&x[0], slots)? {
                    self.node(&x[1], slots)?
                } else {
                    self.node(&x[2], slots)?
                }
            }
            Node::Switch(s) => {
                let value = self.node(&s.value, slots)?;
                let arm = if hashable(&value)? {
                    let hash = match &value {
                        Val::SlotStr(d) | Val::SlotList(d) => switch_hash(d),
                        value => switch_hash(&value.to_dynamic()),
                    };
                    s.cases
                        .binary_search_by_key(&hash, |(h, _)| *h)
                        .ok()
                        .map(|i| s.cases[i].1)
                } else {
                    None
                };
                match arm.or(s.default) {
                    Some(arm) => self.node(&s.arms[arm], slots)?,
                    None => Val::Unit,
                }
            }
            Node::Call(func, args) => self.call(*func, args, slots)?,
            Node::Matches(text, pattern) => match self.node(text, slots)? {
                Val::Unit => Val::Bool(false),
                // rhai checks a variable argument against its size limits.
                value if oversized(&value)? => return Err(Bail),
                value => Val::Bool(pattern.is_match(&value.text().ok_or(Bail)?)),
            },
        })
    }

    /// A value that must be `true` or `false` (an operand of `&&`, `||`, `!`, a condition):
    /// evaluated without building values where it can; anything else bails, as rhai fails.
    fn truth(&self, node: &Node, slots: &[Dynamic]) -> Result<bool, Bail> {
        if let Node::Call(Func::IsMissing, args) = node {
            if let Some(missing) = missing_in_place(args, slots) {
                return Ok(missing);
            }
        }
        match node {
            Node::Lit(Lit::Bool(b)) => Ok(*b),
            Node::Slot(i) => slot_truth(slots.get(*i)),
            Node::Not(x) => Ok(!self.truth(x, slots)?),
            Node::And(xs) => {
                for x in xs {
                    if !self.truth(x, slots)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(xs) => {
                for x in xs {
                    if self.truth(x, slots)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Compare(op, x) => self.compare(*op, &x[0], &x[1], slots),
            Node::If(x) => {
                let branch = if self.truth(&x[0], slots)? {
                    &x[1]
                } else {
                    &x[2]
                };
                self.truth(branch, slots)
            }
            node => match self.node(node, slots)? {
                Val::Bool(b) => Ok(b),
                _ => Err(Bail),
            },
        }
    }

    /// [`compare`] of two expressions; numbers and texts of slots and literals are compared
    /// where they are, without building values.
    fn compare(&self, op: Cmp, a: &Node, b: &Node, slots: &[Dynamic]) -> Result<bool, Bail> {
        if let Some(holds) = compare_scalars(op, &self.scalar(a, slots)?, &self.scalar(b, slots)?) {
            return Ok(holds);
        }
        self.compare_other(op, a, b, slots)
    }

    /// [`At::compare`] once a side is known not to be a number or `()`.
    fn compare_other(&self, op: Cmp, a: &Node, b: &Node, slots: &[Dynamic]) -> Result<bool, Bail> {
        if let (Some(x), Some(y)) = (text_in_place(a, slots), text_in_place(b, slots)) {
            return Ok(op.holds((*x).cmp(&*y)));
        }
        compare(op, &self.node(a, slots)?, &self.node(b, slots)?)
    }

    /// A number or `()`, computed without building values where the expression is numeric;
    /// [`Scalar::Other`] when it is not (then evaluate it with [`At::node`]).
    #[inline(always)]
    fn scalar(&self, node: &Node, slots: &[Dynamic]) -> Result<Scalar, Bail> {
        Ok(match node {
            Node::Lit(Lit::Int(i)) => Scalar::Int(*i),
            Node::Lit(Lit::Float(f)) => Scalar::Float(*f),
            Node::Lit(Lit::Unit) => Scalar::Unit,
            Node::Slot(i) => slot_scalar(slots.get(*i)),
            Node::Lit(_) | Node::List(_) | Node::AsOf => Scalar::Other,
            node => self.computed_scalar(node, slots)?,
        })
    }

    /// [`At::scalar`] of an expression that computes.
    fn computed_scalar(&self, node: &Node, slots: &[Dynamic]) -> Result<Scalar, Bail> {
        if let Node::Call(Func::DaysSince, args) = node {
            if let Some(days) = self.days_since_in_place(args, slots) {
                return Ok(days);
            }
        }
        Ok(match node {
            Node::Arith(op, x) => match self.scalar(&x[0], slots)? {
                Scalar::Other => Scalar::Other,
                a => arith_scalars(*op, a, self.scalar(&x[1], slots)?)?,
            },
            Node::Neg(x) => neg_scalar(self.scalar(x, slots)?)?,
            Node::Coalesce(xs) => {
                for x in xs {
                    match self.scalar(x, slots)? {
                        Scalar::Unit => {}
                        other => return Ok(other),
                    }
                }
                Scalar::Unit
            }
            Node::If(x) => {
                let branch = if self.truth(&x[0], slots)? {
                    &x[1]
                } else {
                    &x[2]
                };
                self.scalar(branch, slots)?
            }
            Node::Call(func, args) if func.gives_number() => {
                match self.call(*func, args, slots)? {
                    Val::Int(i) => Scalar::Int(i),
                    Val::Float(f) => Scalar::Float(f),
                    Val::Unit => Scalar::Unit,
                    _ => Scalar::Other,
                }
            }
            _ => Scalar::Other,
        })
    }

    /// `days_since(field)` of a date or `()`, read in place; `None` for anything else (then
    /// evaluate the call).
    #[inline]
    fn days_since_in_place(&self, args: &[Node], slots: &[Dynamic]) -> Option<Scalar> {
        let value = slot_arg(args, slots)?;
        if value.is_unit() {
            return Some(Scalar::Unit);
        }
        let day = *value.read_lock::<NaiveDate>()?;
        let days = builtins::days_since(self.as_of, Some(Moment::Date(day)));
        Some(days.map_or(Scalar::Unit, Scalar::Int))
    }

    fn call<'a>(
        &self,
        func: Func,
        args: &'a [Node],
        slots: &'a [Dynamic],
    ) -> Result<Val<'a>, Bail> {
        if func == Func::Contains {
            if let Some(found) = text_in_list_in_place(args, slots) {
                return Ok(Val::Bool(found));
            }
            if let Some(found) = literal_in_list_field(args, slots) {
                return found.map(Val::Bool);
            }
        }
        let (first, second) = match args {
            [a] => (self.node(a, slots)?, None),
            [a, b] => (self.node(a, slots)?, Some(self.node(b, slots)?)),
            _ => return Err(Bail),
        };
        // rhai checks a variable object of some calls against its size limits: an oversized
        // object bails (literals were checked when lowered).
        if !matches!(args[0], Node::Lit(_)) && oversized(&first)? {
            return Err(Bail);
        }
        let a = &first;
        let b = || second.as_ref().ok_or(Bail);
        let whole = |n: Option<INT>| n.map_or(Val::Unit, Val::Int);
        Ok(match func {
            Func::DaysSince => whole(builtins::days_since(self.as_of, moment(a)?)),
            Func::DaysUntil => whole(builtins::days_until(self.as_of, moment(a)?)),
            Func::StartOf(period) => {
                builtins::start_of(period, moment(a)?).map_or(Val::Unit, Val::Date)
            }
            Func::DaysBetween => whole(builtins::days_between(moment(a)?, moment(b()?)?)),
            Func::MonthsSince => whole(builtins::months_since(self.as_of, moment(a)?)),
            Func::Shift(step) => {
                let days = match b()? {
                    Val::Unit => None,
                    Val::Int(n) => Some(*n),
                    _ => return Err(Bail),
                };
                match builtins::shift(step, moment(a)?, days) {
                    Ok(None) => Val::Unit,
                    Ok(Some(Moment::Date(d))) => Val::Date(d),
                    Ok(Some(Moment::DateTime(t))) => Val::DateTime(t),
                    Err(_) => return Err(Bail),
                }
            }
            Func::Part(p) => whole(builtins::part(p, moment(a)?)),
            Func::RoundMoney => builtins::round_to(number(a)?, 2).map_or(Val::Unit, Val::Float),
            Func::RoundTo => match b()? {
                Val::Int(digits) => {
                    builtins::round_to(number(a)?, *digits).map_or(Val::Unit, Val::Float)
                }
                _ => return Err(Bail),
            },
            Func::IsMissing => Val::Bool(matches!(a, Val::Unit)),
            Func::HasAny => Val::Bool(builtins::has_any(&items(a)?, &items(b()?)?)),
            Func::HasAll => Val::Bool(builtins::has_all(&items(a)?, &items(b()?)?)),
            Func::Lower | Func::Upper => match (a, a.text()) {
                (_, Some(s)) => {
                    let text = if func == Func::Lower {
                        builtins::lower(&s)
                    } else {
                        builtins::upper(&s)
                    };
                    if text.len() > MAX_STRING_SIZE {
                        return Err(Bail);
                    }
                    Val::OwnStr(text.into())
                }
                (Val::Unit, None) => Val::Unit,
                _ => return Err(Bail),
            },
            // rhai's `len`: characters of a text, items of a list.
            Func::Len => {
                let len = if let Some(s) = a.text() {
                    s.chars().count()
                } else if let Some(l) = a.list() {
                    l.len()
                } else {
                    return Err(Bail);
                };
                Val::Int(INT::try_from(len).unwrap_or(INT::MAX))
            }
            Func::Contains => Val::Bool(contains(a, b()?)?),
        })
    }
}

/// The value of a call's only argument when it is a variable (never a shared value, which
/// [`load`] leaves to rhai).
#[inline]
fn slot_arg<'a>(args: &[Node], slots: &'a [Dynamic]) -> Option<&'a Dynamic> {
    match args {
        [Node::Slot(i)] => slots.get(*i).filter(|d| !d.is_shared()),
        _ => None,
    }
}

/// `is_missing(field)` of `()`, a number or a boolean, read in place; `None` for anything else
/// (texts and lists, which rhai checks against its size limits, go through the call).
#[inline]
fn missing_in_place(args: &[Node], slots: &[Dynamic]) -> Option<bool> {
    let value = slot_arg(args, slots)?;
    if value.is_unit() {
        Some(true)
    } else if value.is_int() || value.is_float() || value.is_bool() {
        Some(false)
    } else {
        None
    }
}

/// `x in [texts]` (`contains([texts], x)`) of a text field or literal and a list of literal
/// texts, read in place ([`text_in_place`]); `None` for anything else (then evaluate the call).
#[inline]
fn text_in_list_in_place(args: &[Node], slots: &[Dynamic]) -> Option<bool> {
    let [Node::Lit(Lit::List(items)), item] = args else {
        return None;
    };
    let text = text_in_place(item, slots)?;
    // As `contains`: the first equal item answers; an item that is not a text goes to it.
    for item in items {
        match item {
            Lit::Str(s) if *s == *text => return Some(true),
            Lit::Str(_) => {}
            _ => return None,
        }
    }
    Some(false)
}

/// `"text" in field` or `"text" in (field ?? [])` (`contains(list, "text")`) of a list field
/// whose items are all texts: one walk over the items, which also counts their sizes against
/// rhai's limits ([`oversized`] bails, as the call does); `None` for anything else.
fn literal_in_list_field(args: &[Node], slots: &[Dynamic]) -> Option<Result<bool, Bail>> {
    let [list, Node::Lit(Lit::Str(text))] = args else {
        return None;
    };
    let (slot, or_empty) = match list {
        Node::Slot(i) => (*i, false),
        Node::Coalesce(xs) => match xs.as_slice() {
            [Node::Slot(i), Node::Lit(Lit::List(empty))] if empty.is_empty() => (*i, true),
            _ => return None,
        },
        _ => return None,
    };
    let value = slots.get(slot).filter(|d| !d.is_shared())?;
    if or_empty && value.is_unit() {
        return Some(Ok(false));
    }
    let items = value.read_lock::<Array>()?;
    let (mut found, mut bytes) = (false, 0);
    for item in items.iter() {
        if item.is_shared() {
            return None;
        }
        let item = item.read_lock::<ImmutableString>()?;
        bytes += item.len();
        found |= item.as_str() == text.as_str();
    }
    if items.len() > MAX_ARRAY_SIZE || bytes > MAX_STRING_SIZE {
        return Some(Err(Bail));
    }
    Some(Ok(found))
}

/// A text of a slot or literal, read in place.
#[inline]
fn text_in_place<'a>(node: &'a Node, slots: &'a [Dynamic]) -> Option<TextRef<'a>> {
    match node {
        Node::Lit(Lit::Str(s)) => Some(TextRef::Str(s)),
        Node::Slot(i) => slots
            .get(*i)
            .filter(|d| !d.is_shared())
            .and_then(|d| d.read_lock::<ImmutableString>())
            .map(TextRef::Lock),
        _ => None,
    }
}

/// A number, `()` or anything else, for [`At::scalar`].
#[derive(Clone, Copy)]
enum Scalar {
    Int(INT),
    Float(FLOAT),
    Unit,
    Other,
}

/// A comparison of numbers and `()`: `None` when a side is something else.
#[inline]
fn compare_scalars(op: Cmp, a: &Scalar, b: &Scalar) -> Option<bool> {
    #[allow(clippy::cast_precision_loss)]
    let float = |x: INT| x as FLOAT;
    Some(match (*a, *b) {
        (Scalar::Int(x), Scalar::Int(y)) => op.holds(x.cmp(&y)),
        (Scalar::Int(x), Scalar::Float(y)) => float_compare(op, float(x), y),
        (Scalar::Float(x), Scalar::Int(y)) => float_compare(op, x, float(y)),
        (Scalar::Float(x), Scalar::Float(y)) => float_compare(op, x, y),
        (Scalar::Unit, Scalar::Unit) => op == Cmp::Eq,
        (Scalar::Unit, Scalar::Int(_) | Scalar::Float(_))
        | (Scalar::Int(_) | Scalar::Float(_), Scalar::Unit) => op == Cmp::Ne,
        _ => return None,
    })
}

/// Arithmetic on numbers (a whole number with a decimal gives a decimal); `Other` when a
/// side is not a number (`() + text` is text; other mixtures fail in rhai).
#[inline]
fn arith_scalars(op: Arith, a: Scalar, b: Scalar) -> Result<Scalar, Bail> {
    #[allow(clippy::cast_precision_loss)]
    let float = |x: INT| x as FLOAT;
    Ok(match (a, b) {
        (Scalar::Int(a), Scalar::Int(b)) => Scalar::Int(int_arith(op, a, b).ok_or(Bail)?),
        (Scalar::Int(a), Scalar::Float(b)) => {
            Scalar::Float(float_arith(op, float(a), b).ok_or(Bail)?)
        }
        (Scalar::Float(a), Scalar::Int(b)) => {
            Scalar::Float(float_arith(op, a, float(b)).ok_or(Bail)?)
        }
        (Scalar::Float(a), Scalar::Float(b)) => Scalar::Float(float_arith(op, a, b).ok_or(Bail)?),
        _ => Scalar::Other,
    })
}

/// `-x` of a number; `-()` fails in rhai.
#[inline]
fn neg_scalar(x: Scalar) -> Result<Scalar, Bail> {
    Ok(match x {
        Scalar::Int(i) => Scalar::Int(i.checked_neg().ok_or(Bail)?),
        Scalar::Float(f) => Scalar::Float(-f),
        Scalar::Unit => return Err(Bail),
        Scalar::Other => Scalar::Other,
    })
}

/// A date argument: `None` when missing; other kinds bail (rhai reports them).
fn moment(v: &Val<'_>) -> Result<Option<Moment>, Bail> {
    match v {
        Val::Unit => Ok(None),
        v => v.moment().map(Some).ok_or(Bail),
    }
}

/// A number argument (a whole number converts): `None` when missing; other kinds bail.
fn number(v: &Val<'_>) -> Result<Option<FLOAT>, Bail> {
    match v {
        Val::Unit => Ok(None),
        Val::Float(f) => Ok(Some(*f)),
        #[allow(clippy::cast_precision_loss)]
        Val::Int(i) => Ok(Some(*i as FLOAT)),
        _ => Err(Bail),
    }
}

/// The items of a list argument of `has_any`/`has_all` as rhai values.
enum Items<'b> {
    Lock(DynamicReadLock<'b, Array>),
    Own(Array),
}

impl Deref for Items<'_> {
    type Target = [Dynamic];

    fn deref(&self) -> &[Dynamic] {
        match self {
            Items::Lock(a) => a,
            Items::Own(a) => a,
        }
    }
}

/// A list argument of `has_any`/`has_all`: a missing list is empty.
fn items<'v>(v: &'v Val<'_>) -> Result<Items<'v>, Bail> {
    match (v, v.list()) {
        (Val::Unit, _) => Ok(Items::Own(Array::new())),
        (_, Some(ListRef::Lock(a))) => Ok(Items::Lock(a)),
        (_, Some(l)) => Ok(Items::Own(l.to_array())),
        (_, None) => Err(Bail),
    }
}

/// `item in container` (rhai's `contains(container, item)`).
fn contains(container: &Val<'_>, item: &Val<'_>) -> Result<bool, Bail> {
    if let Some(l) = container.list() {
        // rhai's `contains` on arrays: `==` on each item; text among texts compared in place.
        let Some(text) = item.text() else {
            return l.any(|x| compare(Cmp::Eq, x, item));
        };
        let text: &str = &text;
        match &l {
            ListRef::Lock(items) => {
                for x in items.iter() {
                    let equal = match x.read_lock::<ImmutableString>() {
                        Some(s) if !x.is_shared() => s.as_str() == text,
                        _ => compare(Cmp::Eq, &load(x)?, item)?,
                    };
                    if equal {
                        return Ok(true);
                    }
                }
                return Ok(false);
            }
            ListRef::Lit(items) => {
                for x in items.iter() {
                    let equal = match x {
                        Lit::Str(s) => s == text,
                        x => compare(Cmp::Eq, &lit(x), item)?,
                    };
                    if equal {
                        return Ok(true);
                    }
                }
                return Ok(false);
            }
            ListRef::Vals(_) => return l.any(|x| compare(Cmp::Eq, x, item)),
        }
    }
    match (container.text(), item.text()) {
        (Some(s), Some(part)) => Ok(s.contains(&*part)),
        // idic's `contains((), text)`.
        (None, Some(_)) if matches!(container, Val::Unit) => Ok(false),
        _ => Err(Bail),
    }
}

/// Whether rhai can hash the value to look up a `switch` case (dates cannot: they go to `_`).
fn hashable(v: &Val<'_>) -> Result<bool, Bail> {
    match (v, v.list()) {
        (Val::Date(_) | Val::DateTime(_), _) => Ok(false),
        (_, Some(l)) => l.any(|x| Ok(!hashable(x)?)).map(|unhashable| !unhashable),
        _ => Ok(true),
    }
}

/// rhai's `+ - * / % **` on the kinds the native path handles; every other combination bails
/// (rhai either fails or, like `"a" + 1`, formats values).
fn arith<'a>(op: Arith, a: Val<'a>, b: Val<'a>) -> Result<Val<'a>, Bail> {
    #[allow(clippy::cast_precision_loss)]
    let float = |x: INT| x as FLOAT;
    Ok(match (a, b) {
        (Val::Int(x), Val::Int(y)) => Val::Int(int_arith(op, x, y).ok_or(Bail)?),
        (Val::Float(x), Val::Float(y)) => Val::Float(float_arith(op, x, y).ok_or(Bail)?),
        (Val::Int(x), Val::Float(y)) => Val::Float(float_arith(op, float(x), y).ok_or(Bail)?),
        (Val::Float(x), Val::Int(y)) => Val::Float(float_arith(op, x, float(y)).ok_or(Bail)?),
        // rhai's `() + text` and `text + ()` give the text.
        (Val::Unit, s) | (s, Val::Unit) if op == Arith::Add && s.is_text() => s,
        // idic's `date - date` in whole days, missing when a side is.
        (a, b) if op == Arith::Sub && dated_or_missing(&a, &b) => {
            builtins::days_between(b.moment(), a.moment()).map_or(Val::Unit, Val::Int)
        }
        (a, b) if op == Arith::Add => match (a.text(), b.text()) {
            (Some(x), Some(y)) => {
                if x.len() + y.len() > MAX_STRING_SIZE {
                    return Err(Bail);
                }
                let mut joined = String::with_capacity(x.len() + y.len());
                joined.push_str(&x);
                joined.push_str(&y);
                Val::OwnStr(joined.into())
            }
            _ => return Err(Bail),
        },
        _ => return Err(Bail),
    })
}

/// Two dates or date-times, or one and `()`: what idic's `-` between dates takes.
fn dated_or_missing(a: &Val<'_>, b: &Val<'_>) -> bool {
    let dated = |v: &Val<'_>| matches!(v, Val::Date(_) | Val::DateTime(_));
    let missing = |v: &Val<'_>| matches!(v, Val::Unit);
    (dated(a) || dated(b)) && (dated(a) || missing(a)) && (dated(b) || missing(b))
}

/// rhai's checked arithmetic on whole numbers: `None` on overflow and division by zero.
fn int_arith(op: Arith, x: INT, y: INT) -> Option<INT> {
    match op {
        Arith::Add => x.checked_add(y),
        Arith::Sub => x.checked_sub(y),
        Arith::Mul => x.checked_mul(y),
        // Division by zero included.
        Arith::Div => x.checked_div(y),
        Arith::Rem => x.checked_rem(y),
        // Negative powers and powers beyond `u32` fail in rhai.
        Arith::Pow => u32::try_from(y).ok().and_then(|y| x.checked_pow(y)),
    }
}

/// idic's arithmetic on decimals: `None` when the result is NaN or an infinity, which the
/// sandbox's operators refuse (division by zero, overflow).
fn float_arith(op: Arith, x: FLOAT, y: FLOAT) -> Option<FLOAT> {
    let result = match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div => x / y,
        Arith::Rem => x % y,
        Arith::Pow => x.powf(y),
    };
    result.is_finite().then_some(result)
}

/// rhai's comparison of decimals (and of a whole number with a decimal): relative to the
/// larger magnitude, within `FLOAT::EPSILON` counts as equal (so `NaN == 0.0` and
/// `inf != inf`, as in rhai).
fn float_compare(op: Cmp, x: FLOAT, y: FLOAT) -> bool {
    let max = if x * y == 0.0 {
        1.0
    } else {
        x.abs().max(y.abs())
    };
    if max == 0.0 {
        return matches!(op, Cmp::Eq | Cmp::Le | Cmp::Ge);
    }
    match op {
        Cmp::Eq => (x - y).abs() / max <= FLOAT::EPSILON,
        Cmp::Ne => (x - y).abs() / max > FLOAT::EPSILON,
        Cmp::Gt => (x - y) / max > FLOAT::EPSILON,
        Cmp::Ge => (x - y) / max > -FLOAT::EPSILON,
        Cmp::Lt => (y - x) / max > FLOAT::EPSILON,
        Cmp::Le => (y - x) / max > -FLOAT::EPSILON,
    }
}

/// rhai's `== != < <= > >=`.
fn compare(op: Cmp, a: &Val<'_>, b: &Val<'_>) -> Result<bool, Bail> {
    #[allow(clippy::cast_precision_loss)]
    let float = |x: INT| x as FLOAT;
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => return Ok(op.holds(x.cmp(y))),
        (Val::Float(x), Val::Float(y)) => return Ok(float_compare(op, *x, *y)),
        (Val::Int(x), Val::Float(y)) => return Ok(float_compare(op, float(*x), *y)),
        (Val::Float(x), Val::Int(y)) => return Ok(float_compare(op, *x, float(*y))),
        (Val::Bool(x), Val::Bool(y)) => return Ok(op.holds(x.cmp(y))),
        // `()` equals itself and is not ordered.
        (Val::Unit, Val::Unit) => return Ok(op == Cmp::Eq),
        (Val::Date(_) | Val::DateTime(_), Val::Date(_) | Val::DateTime(_)) => {
            return match (a.moment(), b.moment()) {
                (Some(a), Some(b)) => Ok(op.holds(builtins::compare_moments(a, b))),
                _ => Err(Bail),
            }
        }
        _ => {}
    }
    if let (Some(x), Some(y)) = (a.text(), b.text()) {
        return Ok(op.holds((*x).cmp(&*y)));
    }
    if let (Some(x), Some(y)) = (a.list(), b.list()) {
        return match op {
            Cmp::Eq => lists_equal(&x, &y),
            Cmp::Ne => lists_equal(&x, &y).map(|equal| !equal),
            // rhai has no ordering of lists.
            _ => Err(Bail),
        };
    }
    // Different kinds: unequal and unordered.
    Ok(op == Cmp::Ne)
}

/// rhai's `==` on lists: same length and `==` item by item.
fn lists_equal(x: &ListRef<'_>, y: &ListRef<'_>) -> Result<bool, Bail> {
    if x.len() != y.len() {
        return Ok(false);
    }
    for (a, b) in x.vals()?.iter().zip(&y.vals()?) {
        if !compare(Cmp::Eq, a, b)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
