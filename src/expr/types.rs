//! Static types of expressions: a conservative inference over the rhai AST that reports only
//! what is certainly wrong (comparing a date with a number, arithmetic on a date, `&&` on a
//! number, a date function given text...). Anything unknown stays quiet.

use super::builtins::{parse_date, parse_datetime};
use crate::model::FieldType;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rhai::{
    Array, Dynamic, Expr, FnCallExpr, ImmutableString, Position, Scope, Stmt, AST, FLOAT, INT,
};
use std::fmt;

/// The static type of a value in an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Bool,
    Int,
    /// A decimal number (also money).
    Decimal,
    Str,
    Date,
    DateTime,
    /// A list (of strings, for fields).
    List,
    /// `()`: no value.
    Unit,
    /// Not known statically; never reported.
    Unknown,
}

impl From<FieldType> for ValueType {
    fn from(ty: FieldType) -> Self {
        match ty {
            FieldType::String => ValueType::Str,
            FieldType::Int => ValueType::Int,
            FieldType::Decimal | FieldType::Money => ValueType::Decimal,
            FieldType::Bool => ValueType::Bool,
            FieldType::Date => ValueType::Date,
            FieldType::DateTime => ValueType::DateTime,
            FieldType::List => ValueType::List,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl ValueType {
    /// The type's name as in schemas: `bool`, `int`, `decimal`, `string`, `date`...
    pub fn word(self) -> &'static str {
        match self {
            ValueType::Bool => "bool",
            ValueType::Int => "int",
            ValueType::Decimal => "decimal",
            ValueType::Str => "string",
            ValueType::Date => "date",
            ValueType::DateTime => "datetime",
            ValueType::List => "list",
            ValueType::Unit => "()",
            ValueType::Unknown => "unknown",
        }
    }

    /// The type in a sentence: "a date", "a number", "true/false"...
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Bool => "true/false",
            ValueType::Int | ValueType::Decimal => "a number",
            ValueType::Str => "a string",
            ValueType::Date => "a date",
            ValueType::DateTime => "a date-time",
            ValueType::List => "a list",
            ValueType::Unit => "a missing value",
            ValueType::Unknown => "a value",
        }
    }

    /// The type of a runtime value.
    pub fn of(value: &Dynamic) -> ValueType {
        if value.is_unit() {
            ValueType::Unit
        } else if value.is_bool() {
            ValueType::Bool
        } else if value.is_int() {
            ValueType::Int
        } else if value.is_float() {
            ValueType::Decimal
        } else if value.is_string() {
            ValueType::Str
        } else if value.is_array() {
            ValueType::List
        } else if value.is::<NaiveDate>() {
            ValueType::Date
        } else if value.is::<NaiveDateTime>() {
            ValueType::DateTime
        } else {
            ValueType::Unknown
        }
    }

    /// The type of a value that is one of `self` or `other`.
    pub fn join(self, other: ValueType) -> ValueType {
        use ValueType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Int | Decimal, Int | Decimal) => Decimal,
            _ => Unknown,
        }
    }

    /// A date or a date-time.
    pub fn is_moment(self) -> bool {
        matches!(self, ValueType::Date | ValueType::DateTime)
    }

    fn is_number(self) -> bool {
        matches!(self, ValueType::Int | ValueType::Decimal)
    }

    /// Known and not missing: a type worth checking.
    pub fn is_concrete(self) -> bool {
        !matches!(self, ValueType::Unit | ValueType::Unknown)
    }

    /// Values of one class compare with each other; `None` for unknown or missing.
    fn class(self) -> Option<u8> {
        match self {
            ValueType::Bool => Some(0),
            ValueType::Int | ValueType::Decimal => Some(1),
            ValueType::Str => Some(2),
            ValueType::Date | ValueType::DateTime => Some(3),
            ValueType::List => Some(4),
            ValueType::Unit | ValueType::Unknown => None,
        }
    }
}

/// A certain type error in an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeError {
    /// Lowercase, one sentence, user input in backticks.
    pub message: String,
    /// Where in the expression (see [`super::span_at_len`]).
    pub pos: Position,
    /// How many characters from `pos` the culprit spans (a name's length; 1 if unknown).
    pub len: usize,
    /// Advice, if any.
    pub help: Option<String>,
}

/// The result of [`infer`]: the expression's type and what is certainly wrong in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    pub ty: ValueType,
    pub errors: Vec<TypeError>,
}

/// Infers the type of a compiled expression; `env` gives the types of the names in scope
/// (`as_of` is a date unless `env` says otherwise). Closure bodies are not inspected.
///
/// ```
/// use idic::expr::{compile, engine, infer, ValueType};
/// # use idic::{model::Expr, source::{FileId, Span}};
/// let engine = engine(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
/// let expr = Expr { source: "last_order > 30".into(), span: Span::new(FileId(0), 0, 15), verbatim: true };
/// let ast = compile(&engine, &expr, &["last_order"]).unwrap();
/// let inferred = infer(&ast, &|name| (name == "last_order").then_some(ValueType::Date));
/// assert_eq!(inferred.errors[0].message, "cannot compare `last_order` (a date) with a number");
/// ```
pub fn infer(ast: &AST, env: &dyn Fn(&str) -> Option<ValueType>) -> Inferred {
    let mut infer = Infer {
        env,
        locals: Vec::new(),
        errors: Vec::new(),
    };
    let ty = infer.block(ast.statements());
    Inferred {
        ty,
        errors: infer.errors,
    }
}

/// How many sample customers a dry run tries: [`sample_value`]'s variants.
pub const SAMPLES: usize = 3;

/// A value of type `ty` for sample customer `variant` (`0..SAMPLES`) of a dry run: a typical
/// one (dates 30 days before `as_of`), one of zeros and empties (dates on `as_of`), and a large
/// one (dates 400 days back).
pub fn sample_value(ty: ValueType, as_of: NaiveDate, variant: usize) -> Dynamic {
    let back = [30, 0, 400][variant % SAMPLES];
    let day = as_of
        .checked_sub_signed(chrono::TimeDelta::days(back))
        .unwrap_or(as_of);
    let text = |t: &str| Dynamic::from(ImmutableString::from(t));
    match ty {
        ValueType::Bool => (variant != 1).into(),
        ValueType::Int => Dynamic::from([10, 0, 1000][variant % SAMPLES] as INT),
        ValueType::Decimal => Dynamic::from([125.5, 0.0, 3000.75][variant % SAMPLES] as FLOAT),
        ValueType::Str => text(["sample", "", "10"][variant % SAMPLES]),
        ValueType::Date => Dynamic::from(day),
        ValueType::DateTime => {
            Dynamic::from(day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN)))
        }
        ValueType::List => Dynamic::from(match variant % SAMPLES {
            0 => Array::from([text("sample")]),
            1 => Array::new(),
            _ => Array::from([text("a"), text("b"), text("c")]),
        }),
        ValueType::Unit | ValueType::Unknown => Dynamic::UNIT,
    }
}

/// A scope holding a [`sample_value`] of `variant` for each name, for [`super::dry_run`].
pub fn sample_scope<'a>(
    names: impl IntoIterator<Item = (&'a str, ValueType)>,
    as_of: NaiveDate,
    variant: usize,
) -> Scope<'static> {
    let mut scope = Scope::new();
    for (name, ty) in names {
        scope.push_dynamic(name.to_string(), sample_value(ty, as_of, variant));
    }
    scope
}

struct Infer<'e> {
    env: &'e dyn Fn(&str) -> Option<ValueType>,
    /// Variables the expression declared, innermost last.
    locals: Vec<(ImmutableString, ValueType)>,
    errors: Vec<TypeError>,
}

impl Infer<'_> {
    /// Reports `message` about the operand `at`.
    fn error(&mut self, at: &Expr, message: String, help: Option<String>) {
        self.errors.push(TypeError {
            message,
            pos: at.start_position(),
            len: operand_len(at),
            help,
        });
    }

    fn var(&self, name: &str, local: bool) -> ValueType {
        if local {
            return self
                .locals
                .iter()
                .rev()
                .find(|(n, _)| n.as_str() == name)
                .map_or(ValueType::Unknown, |(_, t)| *t);
        }
        (self.env)(name).unwrap_or(if name == "as_of" {
            ValueType::Date
        } else {
            ValueType::Unknown
        })
    }

    /// The value of a block is its last statement's; its declarations end with it.
    fn block(&mut self, stmts: &[Stmt]) -> ValueType {
        let mark = self.locals.len();
        let mut ty = ValueType::Unit;
        for stmt in stmts {
            ty = self.stmt(stmt);
        }
        self.locals.truncate(mark);
        ty
    }

    fn stmt(&mut self, stmt: &Stmt) -> ValueType {
        match stmt {
            Stmt::Noop(_) => ValueType::Unit,
            Stmt::Var(x, ..) => {
                let ty = self.expr(&x.1);
                self.locals.push((x.0.name.clone(), ty));
                ValueType::Unit
            }
            Stmt::Expr(e) => self.expr(e),
            Stmt::FnCall(f, _) => self.call(f, None),
            Stmt::Block(b) => self.block(b.statements()),
            Stmt::If(x, _) => {
                self.condition(&x.expr, "if");
                let then = self.block(x.body.statements());
                let otherwise = self.block(x.branch.statements());
                then.join(otherwise)
            }
            Stmt::While(x, _) | Stmt::Do(x, ..) => {
                if !x.expr.is_unit() {
                    self.condition(&x.expr, "while");
                }
                self.block(x.body.statements());
                ValueType::Unit
            }
            Stmt::For(x, _) => {
                self.expr(&x.2.expr);
                let mark = self.locals.len();
                self.locals.push((x.0.name.clone(), ValueType::Unknown));
                if let Some(counter) = &x.1 {
                    self.locals.push((counter.name.clone(), ValueType::Int));
                }
                self.block(x.2.body.statements());
                self.locals.truncate(mark);
                ValueType::Unit
            }
            Stmt::Assignment(x) => {
                self.expr(&x.1.rhs);
                if let Expr::Variable(v, ..) = &x.1.lhs {
                    // Its type may change: forget it.
                    if let Some(local) = self.locals.iter_mut().rev().find(|(n, _)| *n == v.1) {
                        local.1 = ValueType::Unknown;
                    }
                }
                ValueType::Unit
            }
            Stmt::Switch(x, _) => {
                self.expr(&x.0);
                // Case values are constants; each case's guard and value are expressions.
                let mut ty = None;
                for case in x.1.expressions.iter() {
                    self.expr(&case.lhs);
                    let t = self.expr(&case.rhs);
                    ty = Some(ty.map_or(t, |ty: ValueType| ty.join(t)));
                }
                match (ty, x.1.def_case) {
                    (Some(ty), Some(_)) => ty,
                    // Without `_ =>`, an unmatched value gives `()`.
                    _ => ValueType::Unknown,
                }
            }
            Stmt::Return(Some(e), ..) | Stmt::BreakLoop(Some(e), ..) => {
                self.expr(e);
                ValueType::Unknown
            }
            _ => ValueType::Unknown,
        }
    }

    fn condition(&mut self, e: &Expr, keyword: &str) {
        let ty = self.expr(e);
        if !matches!(ty, ValueType::Bool | ValueType::Unknown) {
            self.error(
                e,
                format!(
                    "the condition of `{keyword}` must be true or false, not {}",
                    operand(e, ty)
                ),
                None,
            );
        }
    }

    fn expr(&mut self, e: &Expr) -> ValueType {
        match e {
            Expr::DynamicConstant(v, _) => ValueType::of(v),
            Expr::BoolConstant(..) => ValueType::Bool,
            Expr::IntegerConstant(..) => ValueType::Int,
            Expr::FloatConstant(..) => ValueType::Decimal,
            Expr::StringConstant(..) => ValueType::Str,
            Expr::InterpolatedString(parts, _) => {
                for part in parts.iter() {
                    self.expr(part);
                }
                ValueType::Str
            }
            Expr::Array(items, _) => {
                for item in items.iter() {
                    self.expr(item);
                }
                ValueType::List
            }
            Expr::Map(x, _) => {
                for (_, value) in x.0.iter() {
                    self.expr(value);
                }
                ValueType::Unknown
            }
            Expr::Unit(_) => ValueType::Unit,
            Expr::Variable(x, ..) => self.var(&x.1, x.0.is_some()),
            Expr::Stmt(block) => self.block(block.statements()),
            Expr::FnCall(f, _) | Expr::MethodCall(f, _) => self.call(f, None),
            Expr::Dot(x, ..) => {
                let ty = self.expr(&x.lhs);
                self.chain(ty, &x.lhs, &x.rhs)
            }
            Expr::Index(x, ..) => {
                self.expr(&x.lhs);
                self.expr(&x.rhs);
                ValueType::Unknown
            }
            Expr::And(operands, _) | Expr::Or(operands, _) => {
                let op = if matches!(e, Expr::And(..)) {
                    "&&"
                } else {
                    "||"
                };
                for operand_expr in operands.iter() {
                    let ty = self.expr(operand_expr);
                    if !matches!(ty, ValueType::Bool | ValueType::Unknown) {
                        self.error(
                            operand_expr,
                            format!(
                                "`{op}` needs true or false on both sides, not {}",
                                operand(operand_expr, ty)
                            ),
                            None,
                        );
                    }
                }
                ValueType::Bool
            }
            Expr::Coalesce(operands, _) => {
                let mut ty = ValueType::Unit;
                for operand_expr in operands.iter() {
                    let t = self.expr(operand_expr);
                    if t != ValueType::Unit {
                        ty = if ty == ValueType::Unit { t } else { ty.join(t) };
                    }
                }
                ty
            }
            _ => ValueType::Unknown,
        }
    }

    /// The type of `obj.rhs` where `obj` (written `obj_expr`) has type `obj_ty`.
    fn chain(&mut self, obj_ty: ValueType, obj_expr: &Expr, rhs: &Expr) -> ValueType {
        match rhs {
            Expr::MethodCall(f, _) => self.call(f, Some((obj_ty, obj_expr))),
            Expr::Property(x, _) if x.2.as_str() == "len" => {
                if matches!(obj_ty, ValueType::Str | ValueType::List) {
                    ValueType::Int
                } else {
                    ValueType::Unknown
                }
            }
            Expr::Dot(x, ..) | Expr::Index(x, ..) => {
                let ty = self.chain(obj_ty, obj_expr, &x.lhs);
                if matches!(rhs, Expr::Dot(..)) {
                    self.chain(ty, &x.lhs, &x.rhs)
                } else {
                    self.expr(&x.rhs);
                    ValueType::Unknown
                }
            }
            _ => ValueType::Unknown,
        }
    }

    /// A function or operator call; `this` is the object of a method call.
    fn call(&mut self, f: &FnCallExpr, this: Option<(ValueType, &Expr)>) -> ValueType {
        let mut args: Vec<(ValueType, &Expr)> = this.into_iter().collect();
        for arg in f.args.iter() {
            let ty = self.expr(arg);
            args.push((ty, arg));
        }
        let name = f.name.as_str();
        let types: Vec<ValueType> = args.iter().map(|a| a.0).collect();
        use ValueType::*;
        match (name, types.as_slice()) {
            ("==" | "!=" | "<" | "<=" | ">" | ">=", [_, _]) if f.is_operator_call() => {
                self.compare(name, args[0], args[1]);
                Bool
            }
            ("+" | "-" | "*" | "/" | "%" | "**", [_, _]) if f.is_operator_call() => {
                self.arithmetic(name, args[0], args[1])
            }
            ("-" | "+", [t]) if f.is_operator_call() => {
                if t.is_moment() || *t == Bool {
                    self.no_arithmetic(args[0], name);
                }
                if t.is_number() {
                    *t
                } else {
                    Unknown
                }
            }
            ("!", [t]) => {
                if !matches!(t, Bool | Unknown) {
                    self.error(
                        args[0].1,
                        format!("`!` needs true or false, not {}", operand(args[0].1, *t)),
                        None,
                    );
                }
                Bool
            }
            ("&" | "|" | "^", [a, b]) if f.is_operator_call() => match (a, b) {
                (Bool, Bool) => Bool,
                (Int, Int) => Int,
                _ => Unknown,
            },
            _ => self.builtin(name, &args),
        }
    }

    fn compare(&mut self, op: &str, a: (ValueType, &Expr), b: (ValueType, &Expr)) {
        let (Some(ca), Some(cb)) = (a.0.class(), b.0.class()) else {
            return;
        };
        if ca == cb {
            return;
        }
        // Point at the date (the usual culprit), else at the left operand.
        let (at, other) = if b.0.is_moment() { (b, a) } else { (a, b) };
        let help = if at.0.is_moment() && other.0.is_number() {
            let days = match at.1 {
                Expr::Variable(x, ..) => format!("days_since({})", x.1),
                _ => "days_since(...)".to_string(),
            };
            Some(format!("count days with `{days}`, e.g. `{days} {op} 30`"))
        } else if at.0.is_moment() && other.0 == ValueType::Str {
            Some("turn text into a date with `date(\"2026-01-31\")`".to_string())
        } else if a.0 == ValueType::List || b.0 == ValueType::List {
            Some("to test whether a list holds a value, write `value in list`".to_string())
        } else {
            None
        };
        self.error(
            at.1,
            format!(
                "cannot compare {} with {}",
                operand(a.1, a.0),
                operand(b.1, b.0)
            ),
            help,
        );
    }

    fn arithmetic(&mut self, op: &str, a: (ValueType, &Expr), b: (ValueType, &Expr)) -> ValueType {
        use ValueType::*;
        // `+` with a string (or what may be one) joins text.
        let may_join = op == "+" && (matches!(a.0, Str | Unknown) || matches!(b.0, Str | Unknown));
        // `a - b` between dates counts the days between them.
        if op == "-" && a.0.is_moment() && b.0.is_moment() {
            return Int;
        }
        if !may_join {
            for side in [a, b] {
                if side.0.is_moment() || side.0 == Bool {
                    self.no_arithmetic(side, op);
                    return Unknown;
                }
            }
        }
        match (a.0, b.0) {
            (Str, _) | (_, Str) if op == "+" => Str,
            (Int, Int) => Int,
            (Int | Decimal, Int | Decimal) => Decimal,
            (List, List) if op == "+" => List,
            _ => Unknown,
        }
    }

    fn no_arithmetic(&mut self, side: (ValueType, &Expr), op: &str) {
        let help = side.0.is_moment().then(|| {
            "move a date with `add_days(d, n)`; count days with `days_since(d)` or `a - b` between two dates"
                .to_string()
        });
        self.error(
            side.1,
            format!("cannot use `{op}` on {}", operand(side.1, side.0)),
            help,
        );
    }

    /// Requires argument `i` to be acceptable to `func`, reporting it otherwise.
    fn need(&mut self, func: &str, args: &[(ValueType, &Expr)], i: usize, what: Need) {
        let Some(&(ty, e)) = args.get(i) else { return };
        let ok = !ty.is_concrete()
            || match what {
                Need::Moment => ty.is_moment(),
                Need::MomentOrText => ty.is_moment() || ty == ValueType::Str,
                Need::Number => ty.is_number(),
                Need::Int => ty == ValueType::Int,
                Need::Text => ty == ValueType::Str,
                Need::List => ty == ValueType::List,
            };
        if ok {
            return;
        }
        let (wanted, help) = match what {
            Need::Moment => (
                "a date",
                (ty == ValueType::Str)
                    .then(|| "turn text into a date with `date(\"2026-01-31\")`".to_string()),
            ),
            Need::MomentOrText => ("a text such as `\"2026-01-31\"` or a date-time", None),
            Need::Number => ("a number", None),
            Need::Int => ("a whole number", None),
            Need::Text => ("a string", None),
            Need::List => ("a list", None),
        };
        self.error(
            e,
            format!("`{func}` needs {wanted}, not {}", operand(e, ty)),
            help,
        );
    }

    /// Checks the pattern of `matches`: a quoted text that compiles, so that it is compiled
    /// once and cannot fail at run time.
    fn pattern(&mut self, e: &Expr) {
        let Expr::StringConstant(pattern, _) = e else {
            self.error(
                e,
                "the pattern of `matches` must be a quoted text".to_string(),
                Some("write it in the rule, e.g. `matches(code, \"^[A-Z]{2}-[0-9]+$\")`".into()),
            );
            return;
        };
        if let Err(why) = super::builtins::compile_pattern(pattern) {
            self.error(e, why, None);
        }
    }

    /// Checks a literal date given to `date` or `datetime`.
    fn literal_date(&mut self, func: &str, arg: Option<&(ValueType, &Expr)>) {
        let Some((_, e @ Expr::StringConstant(text, _))) = arg else {
            return;
        };
        let valid = if func == "date" {
            parse_date(text).is_some()
        } else {
            parse_datetime(text).is_some()
        };
        if !valid {
            let form = if func == "date" {
                "`YYYY-MM-DD`, e.g. `2026-01-31`"
            } else {
                "`YYYY-MM-DD HH:MM:SS`, e.g. `2026-01-31 18:30:00`"
            };
            self.error(
                e,
                format!("`{text}` is not a valid {func}"),
                Some(format!("write it as {form}")),
            );
        }
    }

    fn builtin(&mut self, name: &str, args: &[(ValueType, &Expr)]) -> ValueType {
        use ValueType::*;
        let arg = |i: usize| args.get(i).map_or(Unknown, |a| a.0);
        match (name, args.len()) {
            (
                "days_since" | "days_until" | "months_since" | "year" | "month" | "day" | "weekday",
                1,
            ) => {
                self.need(name, args, 0, Need::Moment);
                Int
            }
            ("days_between", 2) => {
                self.need(name, args, 0, Need::Moment);
                self.need(name, args, 1, Need::Moment);
                Int
            }
            ("start_of_week" | "start_of_month" | "start_of_quarter" | "start_of_year", 1) => {
                self.need(name, args, 0, Need::Moment);
                Date
            }
            ("add_days" | "add_months", 2) => {
                self.need(name, args, 0, Need::Moment);
                self.need(name, args, 1, Need::Int);
                if arg(0).is_moment() {
                    arg(0)
                } else {
                    Unknown
                }
            }
            ("date" | "datetime", 1) => {
                self.need(name, args, 0, Need::MomentOrText);
                self.literal_date(name, args.first());
                if name == "date" {
                    Date
                } else {
                    DateTime
                }
            }
            ("date", 3) => {
                for i in 0..3 {
                    self.need(name, args, i, Need::Int);
                }
                Date
            }
            ("clv_historic", 2) | ("clv_simple", 4) | ("clv_retention", 3) => {
                for i in 0..args.len() {
                    self.need(name, args, i, Need::Number);
                }
                Decimal
            }
            ("round_money", 1) | ("round_to", 2) => {
                self.need(name, args, 0, Need::Number);
                self.need(name, args, 1, Need::Int);
                Decimal
            }
            ("lower" | "upper" | "trim", 1) => {
                self.need(name, args, 0, Need::Text);
                Str
            }
            ("matches", 2) => {
                self.need(name, args, 0, Need::Text);
                self.pattern(args[1].1);
                Bool
            }
            ("starts_with" | "ends_with", 2) => {
                self.need(name, args, 0, Need::Text);
                self.need(name, args, 1, Need::Text);
                Bool
            }
            ("has_any" | "has_all", 2) => {
                self.need(name, args, 0, Need::List);
                self.need(name, args, 1, Need::List);
                Bool
            }
            ("contains" | "is_missing" | "is_empty" | "is_string" | "is_int" | "is_float", _) => {
                Bool
            }
            ("len" | "to_int" | "sign", 1) => Int,
            ("to_float", 1) => Decimal,
            ("to_string" | "to_debug" | "to_lower" | "to_upper" | "type_of" | "sub_string", _) => {
                Str
            }
            ("split", _) => List,
            ("abs", 1) if arg(0).is_number() => arg(0),
            ("floor" | "ceiling" | "round" | "sqrt", 1) if arg(0) == Decimal => Decimal,
            ("min" | "max", 2) if arg(0).is_number() && arg(1).is_number() => arg(0).join(arg(1)),
            _ => Unknown,
        }
    }
}

#[derive(Clone, Copy)]
enum Need {
    Moment,
    MomentOrText,
    Number,
    Int,
    Text,
    List,
}

/// The characters worth underlining for an operand: a name, a call's name or a string.
fn operand_len(e: &Expr) -> usize {
    match e {
        Expr::Variable(x, ..) => x.1.chars().count(),
        Expr::FnCall(f, _) if !f.is_operator_call() => f.name.chars().count(),
        Expr::StringConstant(s, _) => s.chars().count() + 2,
        _ => 1,
    }
}

/// An operand in a message: "`last_order` (a date)" for a name or a call, else "a date".
fn operand(e: &Expr, ty: ValueType) -> String {
    match e {
        Expr::Variable(x, ..) => format!("`{}` ({})", x.1, ty.describe()),
        Expr::FnCall(f, _) if !f.is_operator_call() && f.name.as_str() != "contains" => {
            format!("`{}(...)` ({})", f.name, ty.describe())
        }
        Expr::StringConstant(s, _) => format!("the string `{s:?}`"),
        _ => ty.describe().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{compile, engine};
    use crate::model::Expr as ModelExpr;
    use crate::source::{FileId, Span};

    fn env(name: &str) -> Option<ValueType> {
        Some(match name {
            "last_order" | "signup" => ValueType::Date,
            "last_login" => ValueType::DateTime,
            "spent" => ValueType::Decimal,
            "orders" => ValueType::Int,
            "name" | "tier" => ValueType::Str,
            "vip" | "loyal" => ValueType::Bool,
            "tags" => ValueType::List,
            "mystery" => ValueType::Unknown,
            _ => return None,
        })
    }

    const NAMES: &[&str] = &[
        "last_order",
        "signup",
        "last_login",
        "spent",
        "orders",
        "name",
        "tier",
        "vip",
        "loyal",
        "tags",
        "mystery",
    ];

    fn run(source: &str) -> Inferred {
        let engine = engine(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        let expr = ModelExpr {
            source: source.to_string(),
            span: Span::new(FileId(0), 0, source.len()),
            verbatim: true,
        };
        let ast =
            compile(&engine, &expr, NAMES).unwrap_or_else(|d| panic!("{source}: {}", d.message));
        infer(&ast, &env)
    }

    fn ok(source: &str, ty: ValueType) {
        let inferred = run(source);
        assert_eq!(inferred.errors, [], "{source}");
        assert_eq!(inferred.ty, ty, "{source}");
    }

    fn wrong(source: &str, message: &str) -> TypeError {
        let inferred = run(source);
        assert_eq!(inferred.errors.len(), 1, "{source}: {:?}", inferred.errors);
        assert_eq!(inferred.errors[0].message, message, "{source}");
        inferred.errors[0].clone()
    }

    #[test]
    fn field_types_convert() {
        assert_eq!(ValueType::from(FieldType::Money), ValueType::Decimal);
        assert_eq!(ValueType::from(FieldType::List), ValueType::List);
        assert_eq!(ValueType::from(FieldType::DateTime).to_string(), "datetime");
    }

    #[test]
    fn comparing_a_date_with_a_number_is_reported_at_the_date() {
        let err = wrong(
            "last_order > 30",
            "cannot compare `last_order` (a date) with a number",
        );
        assert_eq!(err.pos, Position::new(1, 1));
        assert_eq!(
            err.help.as_deref(),
            Some("count days with `days_since(last_order)`, e.g. `days_since(last_order) > 30`")
        );
        let err = wrong(
            "30 < last_login",
            "cannot compare a number with `last_login` (a date-time)",
        );
        assert_eq!(err.pos, Position::new(1, 6));
        wrong(
            "signup == \"2026-01-01\"",
            "cannot compare `signup` (a date) with the string `\"2026-01-01\"`",
        );
        wrong(
            "name >= 3",
            "cannot compare `name` (a string) with a number",
        );
        let err = wrong(
            "tags == \"vip\"",
            "cannot compare `tags` (a list) with the string `\"vip\"`",
        );
        assert!(err.help.unwrap().contains("value in list"));
    }

    #[test]
    fn dates_subtract_to_days_and_patterns_compile_at_check() {
        ok("as_of - last_order", ValueType::Int);
        ok("last_login - signup > 30", ValueType::Bool);
        ok("add_months(last_login, 1)", ValueType::DateTime);
        ok("start_of_quarter(last_login)", ValueType::Date);
        ok("days_until(signup) < 0", ValueType::Bool);
        ok("matches(name, \"^[A-Z]\")", ValueType::Bool);
        wrong("last_order - 30", "cannot use `-` on `last_order` (a date)");
        wrong(
            "matches(name, \"[A-Z\")",
            "`[A-Z` is not a valid pattern: unclosed character class",
        );
        wrong(
            "matches(name, name)",
            "the pattern of `matches` must be a quoted text",
        );
        wrong(
            "start_of_month(name)",
            "`start_of_month` needs a date, not `name` (a string)",
        );
    }

    #[test]
    fn sound_expressions_pass() {
        ok("spent >= 1000", ValueType::Bool);
        ok("days_since(last_order) > 30", ValueType::Bool);
        ok("orders + 1", ValueType::Int);
        ok("orders * 1.5", ValueType::Decimal);
        ok("spent / orders", ValueType::Decimal);
        ok("\"x\" + 1", ValueType::Str);
        ok("\"last: \" + last_order", ValueType::Str);
        ok("last_order < as_of", ValueType::Bool);
        ok("last_login > signup", ValueType::Bool);
        ok("last_order == ()", ValueType::Bool);
        ok("vip && (orders > 3 || spent > 500.0)", ValueType::Bool);
        ok("!vip", ValueType::Bool);
        ok("\"vip\" in tags", ValueType::Bool);
        ok(
            "has_any(tags, [\"a\"]) && is_missing(signup)",
            ValueType::Bool,
        );
        ok("last_order.month() == 12", ValueType::Bool);
        ok("add_days(last_login, 3)", ValueType::DateTime);
        ok("date(\"2026-02-28\")", ValueType::Date);
        ok("round_money(spent * 0.1)", ValueType::Decimal);
        ok("spent ?? 0.0", ValueType::Decimal);
        ok("signup ?? as_of", ValueType::Date);
        ok("if vip { 10 } else { 5 }", ValueType::Int);
        ok("if vip { 10 } else { 2.5 }", ValueType::Decimal);
        ok("if vip { 10 }", ValueType::Unknown);
        ok(
            "switch tier { \"gold\" => 20, \"silver\" if vip => 15, _ => 10 }",
            ValueType::Int,
        );
        ok("switch tier { \"gold\" => 20 }", ValueType::Unknown);
        ok(
            "switch orders { 1 => \"one\", 2..5 => \"few\", _ => \"many\" }",
            ValueType::Str,
        );
        ok("let d = days_since(signup); d > 3", ValueType::Bool);
        ok("name.len() > 3", ValueType::Bool);
        ok("name.len > 3", ValueType::Bool);
        ok("lower(name).starts_with(\"a\")", ValueType::Bool);
        ok("tier == \"gold\"", ValueType::Bool);
        ok("tags.filter(|t| t > 3).len()", ValueType::Int);
    }

    #[test]
    fn unknown_stays_quiet() {
        ok("mystery > 30", ValueType::Bool);
        ok("mystery + last_order", ValueType::Unknown);
        ok("days_since(mystery)", ValueType::Int);
        ok("mystery && vip", ValueType::Bool);
        ok("mystery.frob > 3", ValueType::Bool);
    }

    #[test]
    fn arithmetic_on_dates_is_reported() {
        let err = wrong("last_order - 30", "cannot use `-` on `last_order` (a date)");
        assert!(err.help.unwrap().contains("add_days"));
        wrong("orders * signup", "cannot use `*` on `signup` (a date)");
        wrong("last_order + 1", "cannot use `+` on `last_order` (a date)");
        wrong("-last_order", "cannot use `-` on `last_order` (a date)");
        wrong("vip + 1", "cannot use `+` on `vip` (true/false)");
    }

    #[test]
    fn logic_on_non_booleans_is_reported() {
        wrong(
            "orders && vip",
            "`&&` needs true or false on both sides, not `orders` (a number)",
        );
        wrong(
            "vip || name",
            "`||` needs true or false on both sides, not `name` (a string)",
        );
        wrong("!spent", "`!` needs true or false, not `spent` (a number)");
        wrong(
            "if orders { 1 } else { 2 }",
            "the condition of `if` must be true or false, not `orders` (a number)",
        );
        wrong(
            "switch tier { \"gold\" => last_order > 3, _ => false }",
            "cannot compare `last_order` (a date) with a number",
        );
    }

    #[test]
    fn date_functions_given_non_dates_are_reported() {
        let err = wrong(
            "days_since(name) > 3",
            "`days_since` needs a date, not `name` (a string)",
        );
        assert_eq!(err.pos, Position::new(1, 12));
        assert!(err.help.unwrap().contains("date(\""));
        wrong(
            "orders.month()",
            "`month` needs a date, not `orders` (a number)",
        );
        wrong(
            "days_between(signup, 3)",
            "`days_between` needs a date, not a number",
        );
        wrong(
            "add_days(signup, 1.5)",
            "`add_days` needs a whole number, not a number",
        );
        wrong(
            "date(\"2026-02-30\") < signup",
            "`2026-02-30` is not a valid date",
        );
        wrong(
            "round_money(name)",
            "`round_money` needs a number, not `name` (a string)",
        );
        wrong(
            "has_any(name, tags)",
            "`has_any` needs a list, not `name` (a string)",
        );
        wrong(
            "days_since(date(\"2026-01-01\")) > date(\"2026-01-01\")",
            "cannot compare `days_since(...)` (a number) with `date(...)` (a date)",
        );
    }

    #[test]
    fn samples_have_their_types() {
        let as_of = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        for ty in [
            ValueType::Bool,
            ValueType::Int,
            ValueType::Decimal,
            ValueType::Str,
            ValueType::Date,
            ValueType::DateTime,
            ValueType::List,
            ValueType::Unit,
        ] {
            for variant in 0..SAMPLES {
                assert_eq!(ValueType::of(&sample_value(ty, as_of, variant)), ty);
            }
        }
        let orders = |variant| {
            sample_scope([("orders", ValueType::Int)], as_of, variant).get_value::<INT>("orders")
        };
        assert_eq!(
            [orders(0), orders(1), orders(2)],
            [Some(10), Some(0), Some(1000)]
        );
    }
}
