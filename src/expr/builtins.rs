//! The functions idic adds to rhai for marketers: dates, money rounding, text and lists.
//!
//! Every function is listed in [`BUILTINS`] (signature, meaning, example, result), which the
//! tests evaluate and `docs/expressions.md` presents. Two rules hold throughout:
//!
//! * a **missing** value (`()`, an optional field with no value) given to a function that
//!   computes a value gives a missing result (`days_since(())` is `()`), and to a function
//!   answering yes or no gives `false` (`starts_with((), "a")`); a missing list counts as empty;
//! * a value of the wrong kind is an error naming the function, e.g. "`days_since` needs a
//!   date, not a string".
//!
//! Functions are callable as functions or as methods: `month(d)` is `d.month()`.

use super::float_word;
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Module, FLOAT, INT};
use std::cmp::Ordering;

/// The type name of dates in rhai (`type_of(as_of)` is `"Date"`).
pub const DATE_TYPE: &str = "Date";
/// The type name of date-times in rhai.
pub const DATETIME_TYPE: &str = "DateTime";

/// One documented builtin; `example` evaluates to `result` as of 2026-01-31 (both are rhai).
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Name and parameters with their types, e.g. `days_since(d: date) -> int`.
    pub signature: &'static str,
    /// What it computes, one sentence.
    pub meaning: &'static str,
    /// An expression using it.
    pub example: &'static str,
    /// What `example` evaluates to, written as rhai.
    pub result: &'static str,
}

const fn b(
    signature: &'static str,
    meaning: &'static str,
    example: &'static str,
    result: &'static str,
) -> Builtin {
    Builtin {
        signature,
        meaning,
        example,
        result,
    }
}

/// Every builtin idic adds, in documentation order (examples are evaluated as of 2026-01-31).
#[rustfmt::skip]
pub const BUILTINS: &[Builtin] = &[
    b("as_of", "the date the rules are evaluated at (a constant, never the wall clock)", "as_of", "date(\"2026-01-31\")"),
    b("date(text) -> date", "the date written as `YYYY-MM-DD`; a date-time gives its day", "date(\"2026-01-31\")", "date(2026, 1, 31)"),
    b("date(year, month, day) -> date", "the date with these parts", "date(2026, 2, 1) > as_of", "true"),
    b("datetime(text) -> datetime", "the date-time written as `YYYY-MM-DD HH:MM[:SS]` (or with `T`); a date gives its midnight", "datetime(\"2026-01-31 18:30\") > as_of", "true"),
    b("days_since(d) -> int", "whole days from `d` (a date or date-time) to `as_of`; negative when `d` is later", "days_since(date(\"2026-01-01\"))", "30"),
    b("days_between(a, b) -> int", "whole days from `a` to `b` (`b - a`); times of day are ignored", "days_between(date(\"2026-01-01\"), date(\"2026-03-01\"))", "59"),
    b("months_since(d) -> int", "whole calendar months from `d` to `as_of` (Jan 31 to Feb 28 is one month)", "months_since(date(\"2025-11-30\"))", "2"),
    b("add_days(d, n) -> date", "the date (or date-time) `n` days after `d`; `n` may be negative", "add_days(date(\"2026-01-31\"), 30)", "date(\"2026-03-02\")"),
    b("add_months(d, n) -> date", "the date (or date-time) `n` calendar months after `d`, kept within the month: a day the month lacks becomes its last day", "add_months(date(\"2026-01-31\"), 1)", "date(\"2026-02-28\")"),
    b("a - b -> int", "whole days from date `b` to date `a`, as `days_between(b, a)`: times of day are ignored", "as_of - date(\"2026-01-01\")", "30"),
    b("days_until(d) -> int", "whole days from `as_of` to `d`; negative when `d` is past", "days_until(date(\"2026-02-14\"))", "14"),
    b("start_of_week(d) -> date", "the Monday of the ISO week of `d`", "start_of_week(date(\"2026-01-31\"))", "date(\"2026-01-26\")"),
    b("start_of_month(d) -> date", "the first day of the month of `d`", "start_of_month(as_of)", "date(\"2026-01-01\")"),
    b("start_of_quarter(d) -> date", "the first day of the quarter of `d` (January, April, July, October)", "start_of_quarter(date(\"2026-05-20\"))", "date(\"2026-04-01\")"),
    b("start_of_year(d) -> date", "January 1st of the year of `d`", "start_of_year(as_of)", "date(\"2026-01-01\")"),
    b("year(d) -> int", "the year of a date or date-time", "year(as_of)", "2026"),
    b("month(d) -> int", "the month, 1 (January) to 12", "as_of.month()", "1"),
    b("day(d) -> int", "the day of the month, 1 to 31", "day(as_of)", "31"),
    b("weekday(d) -> int", "the ISO day of the week, 1 (Monday) to 7 (Sunday)", "weekday(date(\"2026-01-31\"))", "6"),
    b("round_money(x) -> decimal", "`x` rounded to cents (2 decimals), halves away from zero", "round_money(2.675)", "2.68"),
    b("round_to(x, digits) -> decimal", "`x` rounded to `digits` decimals (negative: tens, hundreds...), halves away from zero", "round_to(1234.5678, 1)", "1234.6"),
    b("clv_historic(revenue, margin) -> decimal", "lifetime value so far: revenue times the margin rate (0 to 1)", "clv_historic(1200, 0.3)", "360.0"),
    b("clv_simple(aov, per_year, years, margin) -> decimal", "average order value x purchases per year x expected years x margin rate", "clv_simple(50, 4, 3, 0.3)", "180.0"),
    b("clv_retention(m, r, d) -> decimal", "margin per period `m` times `r / (1 + d - r)`, for retention rate `r` and discount rate `d` per period", "round_to(clv_retention(100, 0.8, 0.1), 2)", "266.67"),
    b("lower(s) -> string", "the text in lowercase", "lower(\"VIP\")", "\"vip\""),
    b("upper(s) -> string", "the text in uppercase", "upper(\"vip\")", "\"VIP\""),
    b("trim(s) -> string", "the text without leading and trailing spaces", "trim(\"  gold \")", "\"gold\""),
    b("contains(s, part) -> bool", "whether the text contains `part` (also `part in s`)", "contains(\"newsletter\", \"news\")", "true"),
    b("starts_with(s, prefix) -> bool", "whether the text starts with `prefix`", "\"DE-1234\".starts_with(\"DE-\")", "true"),
    b("ends_with(s, suffix) -> bool", "whether the text ends with `suffix`", "ends_with(\"a@shop.com\", \"@shop.com\")", "true"),
    b("matches(s, pattern) -> bool", "whether a part of the text matches the regular expression `pattern` (a quoted text; `^...$` for the whole text)", "matches(\"DE-1234\", \"^[A-Z]{2}-[0-9]+$\")", "true"),
    b("split(s, separator) -> list", "the parts of the text between separators (rhai's own; a missing text gives a missing value)", "split(\"vip;beta\", \";\")", "[\"vip\", \"beta\"]"),
    b("has_any(list, wanted) -> bool", "whether the list holds at least one item of `wanted`", "has_any([\"vip\", \"beta\"], [\"beta\", \"staff\"])", "true"),
    b("has_all(list, wanted) -> bool", "whether the list holds every item of `wanted`", "has_all([\"vip\", \"beta\"], [\"vip\", \"staff\"])", "false"),
    b("is_missing(x) -> bool", "whether `x` has no value (an optional field left empty)", "is_missing(())", "true"),
];

type Res = Result<Dynamic, Box<EvalAltResult>>;

/// Registers the date types, `as_of` and every builtin of [`BUILTINS`] in `engine`.
pub(crate) fn register(engine: &mut Engine, as_of: NaiveDate) {
    engine
        .register_type_with_name::<NaiveDate>(DATE_TYPE)
        .register_type_with_name::<NaiveDateTime>(DATETIME_TYPE);

    // `as_of` is a module constant, found after the scope: no binding needed per customer.
    let mut constants = Module::new();
    constants.set_var("as_of", as_of);
    engine.register_global_module(constants.into());

    register_printing(engine);
    register_comparisons(engine);
    register_finite_arithmetic(engine);

    engine
        .register_fn("date", date)
        .register_fn("date", date_from_parts)
        .register_fn("datetime", datetime)
        .register_fn("days_since", move |d: Dynamic| -> Res {
            Ok(missing_or(days_since(as_of, moment("days_since", &d)?)))
        })
        .register_fn("days_between", |a: Dynamic, b: Dynamic| -> Res {
            let (a, b) = (moment("days_between", &a)?, moment("days_between", &b)?);
            Ok(missing_or(days_between(a, b)))
        })
        .register_fn("months_since", move |d: Dynamic| -> Res {
            Ok(missing_or(months_since(as_of, moment("months_since", &d)?)))
        })
        .register_fn("days_until", move |d: Dynamic| -> Res {
            Ok(missing_or(days_until(as_of, moment("days_until", &d)?)))
        })
        .register_fn("add_days", |d: Dynamic, n: Dynamic| {
            shift_dynamic(Step::Days, d, n)
        })
        .register_fn("add_months", |d: Dynamic, n: Dynamic| {
            shift_dynamic(Step::Months, d, n)
        });
    for period in [Period::Week, Period::Month, Period::Quarter, Period::Year] {
        engine.register_fn(period.function(), move |d: Dynamic| -> Res {
            let day = start_of(period, moment(period.function(), &d)?);
            Ok(day.map_or(Dynamic::UNIT, Dynamic::from))
        });
    }
    for p in [Part::Year, Part::Month, Part::Day, Part::Weekday] {
        engine.register_fn(p.name(), move |d: Dynamic| -> Res {
            Ok(missing_or(part(p, moment(p.name(), &d)?)))
        });
    }
    engine
        .register_fn("round_money", |x: Dynamic| -> Res {
            Ok(missing_or(round_to(number("round_money", &x)?, 2)))
        })
        .register_fn("round_to", |x: Dynamic, digits: INT| -> Res {
            Ok(missing_or(round_to(number("round_to", &x)?, digits)))
        })
        .register_fn("clv_historic", |revenue: Dynamic, margin: Dynamic| -> Res {
            clv("clv_historic", &[revenue, margin], |a| {
                super::clv::historic(a[0], a[1])
            })
        })
        .register_fn(
            "clv_simple",
            |aov: Dynamic, per_year: Dynamic, years: Dynamic, margin: Dynamic| -> Res {
                clv("clv_simple", &[aov, per_year, years, margin], |a| {
                    super::clv::simple(a[0], a[1], a[2], a[3])
                })
            },
        )
        .register_fn(
            "clv_retention",
            |m: Dynamic, r: Dynamic, d: Dynamic| -> Res {
                clv("clv_retention", &[m, r, d], |a| {
                    super::clv::retention_based(a[0], a[1], a[2])
                })
            },
        );

    // Text: exact types shadow rhai's own `trim` (which trims in place and returns nothing).
    engine
        .register_fn("lower", |s: ImmutableString| lower(&s))
        .register_fn("upper", |s: ImmutableString| upper(&s))
        .register_fn("trim", |s: ImmutableString| -> ImmutableString {
            if s.trim().len() == s.len() {
                s
            } else {
                s.trim().into()
            }
        });
    for name in ["lower", "upper", "trim"] {
        engine.register_fn(name, |_: ()| ());
    }
    for name in ["contains", "starts_with", "ends_with"] {
        engine.register_fn(name, |_: (), _: ImmutableString| false);
    }

    engine
        .register_fn(
            "matches",
            |s: ImmutableString, pattern: ImmutableString| -> Res {
                matches(&s, &pattern).map(Dynamic::from).map_err(Into::into)
            },
        )
        .register_fn("matches", |_: (), _: ImmutableString| false)
        .register_fn("split", |_: (), _: ImmutableString| ());

    engine
        .register_fn("has_any", |list: Dynamic, wanted: Dynamic| {
            lists("has_any", &list, &wanted, has_any)
        })
        .register_fn("has_all", |list: Dynamic, wanted: Dynamic| {
            lists("has_all", &list, &wanted, has_all)
        })
        .register_fn("is_missing", |x: Dynamic| x.is_unit());

    // rhai's own turns NaN into 0.
    engine.register_fn("to_int", |x: FLOAT| -> Result<INT, Box<EvalAltResult>> {
        let whole = x.trunc();
        if whole.is_finite() && whole >= INT::MIN as FLOAT && whole < INT::MAX as FLOAT {
            Ok(whole as INT)
        } else {
            Err(format!("`to_int` cannot turn {} into a whole number", float_word(x)).into())
        }
    });
}

/// Decimal arithmetic and maths that fail instead of giving NaN or an infinity (which would
/// compare wrongly, `NaN == 0.0` being true in rhai, and reach the outputs): `+ - * / % **`
/// between decimals and whole numbers, and rhai's functions that can leave the finite numbers
/// (`sqrt(-1.0)`, `ln(0.0)`, `exp(1e308)`, `parse_float("inf")`...). They shadow rhai's own,
/// which the sandbox allows by turning rhai's fast operators off.
fn register_finite_arithmetic(engine: &mut Engine) {
    type Checked = Result<FLOAT, Box<EvalAltResult>>;
    fn finite(op: &'static str, x: FLOAT, y: FLOAT, result: FLOAT) -> Checked {
        if result.is_finite() {
            return Ok(result);
        }
        let why = if y == 0.0 && matches!(op, "/" | "%") {
            "division by zero"
        } else if result.is_nan() {
            "not a number"
        } else {
            "overflow"
        };
        Err(format!("{why}: {} {op} {}", float_word(x), float_word(y)).into())
    }
    // `x op= y` on a decimal `x` too (rhai's own would not call the operators above).
    macro_rules! assignments {
        ($($op:tt $assign:tt => $f:expr),*) => {$(
            engine
                .register_fn($op, |x: FLOAT, y: FLOAT| finite($op, x, y, $f(x, y)))
                .register_fn($op, |x: FLOAT, y: INT| finite($op, x, y as FLOAT, $f(x, y as FLOAT)))
                .register_fn($op, |x: INT, y: FLOAT| finite($op, x as FLOAT, y, $f(x as FLOAT, y)))
                .register_fn($assign, |x: &mut FLOAT, y: FLOAT| -> Result<(), Box<EvalAltResult>> {
                    *x = finite($op, *x, y, $f(*x, y))?;
                    Ok(())
                })
                .register_fn($assign, |x: &mut FLOAT, y: INT| -> Result<(), Box<EvalAltResult>> {
                    *x = finite($op, *x, y as FLOAT, $f(*x, y as FLOAT))?;
                    Ok(())
                });
        )*};
    }
    assignments!(
        "+" "+=" => |x: FLOAT, y: FLOAT| x + y,
        "-" "-=" => |x: FLOAT, y: FLOAT| x - y,
        "*" "*=" => |x: FLOAT, y: FLOAT| x * y,
        "/" "/=" => |x: FLOAT, y: FLOAT| x / y,
        "%" "%=" => |x: FLOAT, y: FLOAT| x % y,
        "**" "**=" => |x: FLOAT, y: FLOAT| x.powf(y)
    );
    type Maths = (&'static str, fn(FLOAT) -> FLOAT);
    let maths: [Maths; 12] = [
        ("sqrt", FLOAT::sqrt),
        ("ln", FLOAT::ln),
        ("log", FLOAT::log10),
        ("exp", FLOAT::exp),
        ("sinh", FLOAT::sinh),
        ("cosh", FLOAT::cosh),
        ("asin", FLOAT::asin),
        ("acos", FLOAT::acos),
        ("asinh", FLOAT::asinh),
        ("acosh", FLOAT::acosh),
        ("atanh", FLOAT::atanh),
        ("to_degrees", FLOAT::to_degrees),
    ];
    // `result`, or the failure `why` says when it is a NaN or an infinity.
    fn finite_or(result: FLOAT, why: impl FnOnce() -> String) -> Checked {
        if result.is_finite() {
            Ok(result)
        } else {
            Err(why().into())
        }
    }
    for (name, f) in maths {
        engine.register_fn(name, move |x: FLOAT| -> Checked {
            finite_or(f(x), || {
                format!("`{name}` of {} is not a finite number", float_word(x))
            })
        });
    }
    engine
        .register_fn("log", |x: FLOAT, base: FLOAT| -> Checked {
            finite_or(x.log(base), || {
                format!(
                    "`log` of {} to base {} is not a finite number",
                    float_word(x),
                    float_word(base)
                )
            })
        })
        .register_fn("hypot", |x: FLOAT, y: FLOAT| -> Checked {
            finite_or(x.hypot(y), || {
                format!(
                    "`hypot` of {} and {} is too large for a decimal",
                    float_word(x),
                    float_word(y)
                )
            })
        })
        .register_fn("parse_float", |text: &str| -> Checked {
            match text.trim().parse::<FLOAT>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(format!("`parse_float` cannot read `{text}` as a finite number").into()),
            }
        });
}

fn register_printing(engine: &mut Engine) {
    engine
        .register_fn("to_string", |d: &mut NaiveDate| format_date(d))
        .register_fn("to_debug", |d: &mut NaiveDate| {
            format!("date(\"{}\")", format_date(d))
        })
        .register_fn("to_string", |d: &mut NaiveDateTime| format_datetime(d))
        .register_fn("to_debug", |d: &mut NaiveDateTime| {
            format!("datetime(\"{}\")", format_datetime(d))
        });
}

/// `==`, `!=`, `<`, `<=`, `>`, `>=` between dates, between date-times, and across the two (a
/// date counts as its midnight), all through [`compare_moments`].
fn register_comparisons(engine: &mut Engine) {
    macro_rules! compare {
        ($($op:tt),*) => {$(
            engine
                .register_fn(stringify!($op), |a: NaiveDate, b: NaiveDate| {
                    compare_moments(Moment::Date(a), Moment::Date(b)) $op Ordering::Equal
                })
                .register_fn(stringify!($op), |a: NaiveDateTime, b: NaiveDateTime| {
                    compare_moments(Moment::DateTime(a), Moment::DateTime(b)) $op Ordering::Equal
                })
                .register_fn(stringify!($op), |a: NaiveDate, b: NaiveDateTime| {
                    compare_moments(Moment::Date(a), Moment::DateTime(b)) $op Ordering::Equal
                })
                .register_fn(stringify!($op), |a: NaiveDateTime, b: NaiveDate| {
                    compare_moments(Moment::DateTime(a), Moment::Date(b)) $op Ordering::Equal
                });
        )*};
    }
    compare!(==, !=, <, <=, >, >=);

    // `a - b` between dates: whole days, as `days_between(b, a)`.
    fn minus(a: Moment, b: Moment) -> INT {
        days_from(b, a)
    }
    engine
        .register_fn("-", |a: NaiveDate, b: NaiveDate| {
            minus(Moment::Date(a), Moment::Date(b))
        })
        .register_fn("-", |a: NaiveDateTime, b: NaiveDateTime| {
            minus(Moment::DateTime(a), Moment::DateTime(b))
        })
        .register_fn("-", |a: NaiveDate, b: NaiveDateTime| {
            minus(Moment::Date(a), Moment::DateTime(b))
        })
        .register_fn("-", |a: NaiveDateTime, b: NaiveDate| {
            minus(Moment::DateTime(a), Moment::Date(b))
        });
    // A missing date on either side gives a missing number of days, as `days_between` does.
    engine
        .register_fn("-", |_: NaiveDate, _: ()| ())
        .register_fn("-", |_: (), _: NaiveDate| ())
        .register_fn("-", |_: NaiveDateTime, _: ()| ())
        .register_fn("-", |_: (), _: NaiveDateTime| ());
}

/// The order of two dates or date-times, a date counting as its midnight (`a < b` is
/// `compare_moments(a, b) < Ordering::Equal`).
pub(crate) fn compare_moments(a: Moment, b: Moment) -> Ordering {
    match (a, b) {
        (Moment::Date(a), Moment::Date(b)) => a.cmp(&b),
        (a, b) => a.midnight().cmp(&b.midnight()),
    }
}

fn format_date(d: &NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn format_datetime(d: &NaiveDateTime) -> String {
    d.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A date written `YYYY-MM-DD` (surrounding spaces allowed).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// A date-time written `YYYY-MM-DD HH:MM[:SS[.fff]]` (or with `T`), or a date (its midnight).
pub(crate) fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| parse_date(text).map(|d| d.and_time(NaiveTime::MIN)))
}

/// How a value is described in error messages: "a string", "a date"...
pub(crate) fn describe(v: &Dynamic) -> String {
    if v.is_unit() {
        "a missing value".into()
    } else if v.is_bool() {
        "true/false".into()
    } else if v.is_int() || v.is_float() {
        "a number".into()
    } else if v.is_string() || v.is_char() {
        "a string".into()
    } else if v.is_array() {
        "a list".into()
    } else if v.is::<NaiveDate>() {
        "a date".into()
    } else if v.is::<NaiveDateTime>() {
        "a date-time".into()
    } else {
        format!("a value of type `{}`", v.type_name())
    }
}

/// A date or a date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

impl Moment {
    fn day(self) -> NaiveDate {
        match self {
            Moment::Date(d) => d,
            Moment::DateTime(t) => t.date(),
        }
    }

    /// The date-time; a date counts as its midnight.
    fn midnight(self) -> NaiveDateTime {
        match self {
            Moment::Date(d) => d.and_time(NaiveTime::MIN),
            Moment::DateTime(t) => t,
        }
    }
}

impl From<Moment> for Dynamic {
    fn from(m: Moment) -> Dynamic {
        match m {
            Moment::Date(d) => Dynamic::from(d),
            Moment::DateTime(t) => Dynamic::from(t),
        }
    }
}

/// A computed value, or `()` when an input was missing.
fn missing_or<T: Into<Dynamic>>(value: Option<T>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Into::into)
}

/// The date in `v`; `None` when missing; an error naming `func` for any other value.
fn moment(func: &str, v: &Dynamic) -> Result<Option<Moment>, Box<EvalAltResult>> {
    if v.is_unit() {
        Ok(None)
    } else if let Some(d) = v.read_lock::<NaiveDate>() {
        Ok(Some(Moment::Date(*d)))
    } else if let Some(t) = v.read_lock::<NaiveDateTime>() {
        Ok(Some(Moment::DateTime(*t)))
    } else {
        let hint = if v.is_string() {
            ": write `date(\"2026-01-31\")` to turn text into a date"
        } else {
            ""
        };
        Err(format!("`{func}` needs a date, not {}{hint}", describe(v)).into())
    }
}

/// `date(text)`: parses `YYYY-MM-DD`.
///
/// ```text
/// date("2026-01-31")          // 2026-01-31
/// date(last_login)            // the day of a date-time
/// date(())                    // ()
/// ```
fn date(v: Dynamic) -> Res {
    if let Some(text) = v.read_lock::<ImmutableString>() {
        return parse_date(&text).map(Dynamic::from).ok_or_else(|| {
            format!(
                "`{}` is not a date: write it as `YYYY-MM-DD`, e.g. `2026-01-31`",
                text.as_str()
            )
            .into()
        });
    }
    Ok(moment_or_text("date", &v)?.map_or(Dynamic::UNIT, |m| Dynamic::from(m.day())))
}

/// [`moment`] for `date` and `datetime`, whose error asks for text.
fn moment_or_text(func: &str, v: &Dynamic) -> Result<Option<Moment>, Box<EvalAltResult>> {
    moment(func, v).map_err(|_| {
        format!(
            "`{func}` needs a text such as `\"2026-01-31\"` or a date, not {}",
            describe(v)
        )
        .into()
    })
}

/// `date(year, month, day)`.
///
/// ```text
/// date(2026, 2, 1)            // 2026-02-01
/// ```
fn date_from_parts(year: INT, month: INT, day: INT) -> Res {
    let parts = (
        i32::try_from(year),
        u32::try_from(month),
        u32::try_from(day),
    );
    match parts {
        (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    }
    .map(Dynamic::from)
    .ok_or_else(|| format!("{year}-{month}-{day} is not a date").into())
}

/// `datetime(text)`: parses `YYYY-MM-DD HH:MM[:SS]`.
///
/// ```text
/// datetime("2026-01-31 18:30")   // 2026-01-31 18:30:00
/// datetime(as_of)                // 2026-01-31 00:00:00
/// ```
fn datetime(v: Dynamic) -> Res {
    if let Some(text) = v.read_lock::<ImmutableString>() {
        return parse_datetime(&text).map(Dynamic::from).ok_or_else(|| {
            format!(
                "`{}` is not a date-time: write it as `YYYY-MM-DD HH:MM:SS`",
                text.as_str()
            )
            .into()
        });
    }
    Ok(match moment_or_text("datetime", &v)? {
        None => Dynamic::UNIT,
        Some(Moment::Date(d)) => Dynamic::from(d.and_time(NaiveTime::MIN)),
        Some(Moment::DateTime(t)) => Dynamic::from(t),
    })
}

/// `days_since(d)`: days from `d` to `as_of`; `None` when `d` is missing.
///
/// ```text
/// days_since(date("2026-01-01"))   // 30 (as of 2026-01-31)
/// days_since(())                   // ()
/// ```
pub(crate) fn days_since(as_of: NaiveDate, d: Option<Moment>) -> Option<INT> {
    d.map(|d| (as_of - d.day()).num_days())
}

/// `days_between(a, b)`: `b - a` in days; `None` when either is missing.
///
/// ```text
/// days_between(date("2026-01-01"), date("2026-03-01"))   // 59
/// ```
pub(crate) fn days_between(a: Option<Moment>, b: Option<Moment>) -> Option<INT> {
    Some(days_from(a?, b?))
}

/// Whole days from `a` to `b`, a date-time counting as its date.
fn days_from(a: Moment, b: Moment) -> INT {
    (b.day() - a.day()).num_days()
}

/// Whole months from `from` to `to` (`from <= to`): the most `n` with `from + n months <= to`,
/// where adding months clamps to the end of a shorter month.
fn whole_months(from: NaiveDate, to: NaiveDate) -> INT {
    let mut n = (INT::from(to.year()) - INT::from(from.year())) * 12 + INT::from(to.month())
        - INT::from(from.month());
    let after = |n: INT| {
        u32::try_from(n)
            .ok()
            .and_then(|n| from.checked_add_months(Months::new(n)))
            .is_none_or(|d| d > to)
    };
    while n > 0 && after(n) {
        n -= 1;
    }
    n.max(0)
}

/// `months_since(d)`: whole calendar months from `d` to `as_of`; `None` when `d` is missing.
///
/// ```text
/// months_since(date("2025-11-30"))   // 2 (as of 2026-01-31)
/// months_since(date("2025-12-31"))   // 1
/// ```
pub(crate) fn months_since(as_of: NaiveDate, d: Option<Moment>) -> Option<INT> {
    let d = d?.day();
    Some(if d <= as_of {
        whole_months(d, as_of)
    } else {
        -whole_months(as_of, d)
    })
}

/// `days_until(d)`: days from `as_of` to `d`; `None` when `d` is missing.
///
/// ```text
/// days_until(date("2026-02-14"))   // 14 (as of 2026-01-31)
/// ```
pub(crate) fn days_until(as_of: NaiveDate, d: Option<Moment>) -> Option<INT> {
    days_since(as_of, d).map(|n| -n)
}

/// What `add_days` and `add_months` move a date by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Days,
    Months,
}

impl Step {
    fn function(self) -> &'static str {
        match self {
            Step::Days => "add_days",
            Step::Months => "add_months",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Step::Days => "days",
            Step::Months => "months",
        }
    }
}

/// `add_days(d, n)` and `add_months(d, n)` for rhai: checks the kinds, then [`shift`].
fn shift_dynamic(step: Step, d: Dynamic, n: Dynamic) -> Res {
    let d = moment(step.function(), &d)?;
    // The number is not looked at when the date is missing.
    let n = if d.is_none() || n.is_unit() {
        None
    } else {
        Some(n.as_int().map_err(|_| {
            format!(
                "`{}` needs a whole number of {}, not {}",
                step.function(),
                step.unit(),
                describe(&n)
            )
        })?)
    };
    Ok(missing_or(shift(step, d, n)?))
}

/// `add_days(d, n)` and `add_months(d, n)`: the date `n` days or calendar months after `d` (a
/// date-time stays a date-time; a month keeps its day, or takes its last day when it has no
/// such day); `None` when either is missing; an error past the supported dates.
///
/// ```text
/// add_days(date("2026-01-31"), 30)     // 2026-03-02
/// add_months(date("2026-01-31"), 1)    // 2026-02-28
/// add_months(date("2026-03-31"), -1)   // 2026-02-28
/// ```
pub(crate) fn shift(
    step: Step,
    d: Option<Moment>,
    n: Option<INT>,
) -> Result<Option<Moment>, String> {
    let (Some(d), Some(n)) = (d, n) else {
        return Ok(None);
    };
    let moved = match step {
        Step::Days => chrono::TimeDelta::try_days(n).and_then(|n| match d {
            Moment::Date(d) => d.checked_add_signed(n).map(Moment::Date),
            Moment::DateTime(t) => t.checked_add_signed(n).map(Moment::DateTime),
        }),
        Step::Months => u32::try_from(n.unsigned_abs()).ok().and_then(|m| {
            let m = Months::new(m);
            match (d, n < 0) {
                (Moment::Date(d), false) => d.checked_add_months(m).map(Moment::Date),
                (Moment::Date(d), true) => d.checked_sub_months(m).map(Moment::Date),
                (Moment::DateTime(t), false) => t.checked_add_months(m).map(Moment::DateTime),
                (Moment::DateTime(t), true) => t.checked_sub_months(m).map(Moment::DateTime),
            }
        }),
    };
    moved.map(Some).ok_or_else(|| {
        format!(
            "`{}` went past the supported dates by adding {n} {}",
            step.function(),
            step.unit()
        )
    })
}

/// A calendar period whose first day `start_of_week`, `start_of_month`... give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    /// The builtin's name.
    pub(crate) fn function(self) -> &'static str {
        match self {
            Period::Week => "start_of_week",
            Period::Month => "start_of_month",
            Period::Quarter => "start_of_quarter",
            Period::Year => "start_of_year",
        }
    }
}

/// The first day of the period holding `d` (a week starts on Monday); `None` when missing.
///
/// ```text
/// start_of_week(date("2026-01-31"))       // 2026-01-26, a Monday
/// start_of_quarter(date("2026-05-20"))    // 2026-04-01
/// ```
pub(crate) fn start_of(period: Period, d: Option<Moment>) -> Option<NaiveDate> {
    let d = d?.day();
    match period {
        Period::Week => d.checked_sub_signed(chrono::TimeDelta::days(
            d.weekday().num_days_from_monday().into(),
        )),
        Period::Month => d.with_day(1),
        Period::Quarter => NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1),
        Period::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1),
    }
}

/// The most compiled patterns one thread keeps for `matches`: a rule set's patterns are
/// literals (`check` requires it), so this only bounds what a long `watch` session collects.
const PATTERNS_KEPT: usize = 256;

thread_local! {
    static PATTERNS: std::cell::RefCell<std::collections::HashMap<ImmutableString, regex::Regex>> =
        std::cell::RefCell::default();
}

/// A pattern of `matches`, compiled: linear-time matching, the compiled program at most 1 MB.
pub(crate) fn compile_pattern(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                format!("the pattern `{pattern}` is too large (over 1 MB compiled)")
            }
            e => format!(
                "`{pattern}` is not a valid pattern: {}",
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
            ),
        })
}

/// `matches(s, pattern)`: whether a part of `s` matches `pattern`, compiled once per thread.
///
/// ```text
/// matches("DE-1234", "^[A-Z]{2}-[0-9]+$")   // true
/// ```
fn matches(s: &str, pattern: &ImmutableString) -> Result<bool, String> {
    PATTERNS.with_borrow_mut(|kept| {
        if let Some(re) = kept.get(pattern) {
            return Ok(re.is_match(s));
        }
        let re = compile_pattern(pattern).map_err(|e| format!("`matches`: {e}"))?;
        if kept.len() >= PATTERNS_KEPT {
            kept.clear();
        }
        let found = re.is_match(s);
        kept.insert(pattern.clone(), re);
        Ok(found)
    })
}

/// A part of a date: `year(d)`, `month(d)`, `day(d)`, `weekday(d)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Year,
    Month,
    Day,
    Weekday,
}

impl Part {
    /// The builtin's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Part::Year => "year",
            Part::Month => "month",
            Part::Day => "day",
            Part::Weekday => "weekday",
        }
    }
}

/// `year(d)`, `month(d)`, `day(d)`, `weekday(d)`: a part of a date; `None` when missing.
///
/// ```text
/// year(as_of)      // 2026
/// as_of.month()    // 1
/// day(as_of)       // 31
/// weekday(as_of)   // 6 (Saturday; Monday is 1)
/// ```
pub(crate) fn part(p: Part, d: Option<Moment>) -> Option<INT> {
    let d = d?.day();
    Some(match p {
        Part::Year => d.year().into(),
        Part::Month => d.month().into(),
        Part::Day => d.day().into(),
        Part::Weekday => d.weekday().number_from_monday().into(),
    })
}

/// The number in `x` as a decimal (a whole number converts); `None` when missing; an error
/// naming `func` for any other value.
fn number(func: &str, x: &Dynamic) -> Result<Option<FLOAT>, Box<EvalAltResult>> {
    if x.is_unit() {
        return Ok(None);
    }
    match (x.as_float(), x.as_int()) {
        (Ok(f), _) => Ok(Some(f)),
        #[allow(clippy::cast_precision_loss)]
        (_, Ok(i)) => Ok(Some(i as FLOAT)),
        _ => Err(format!("`{func}` needs a number, not {}", describe(x)).into()),
    }
}

/// A CLV formula of `super::clv` over number arguments: missing when one is missing, an
/// error naming `func` for a value of the wrong kind or out of range.
fn clv(
    func: &str,
    args: &[Dynamic],
    formula: impl Fn(&[FLOAT]) -> Result<FLOAT, super::clv::ClvError>,
) -> Res {
    let mut numbers = Vec::with_capacity(args.len());
    for a in args {
        match number(func, a)? {
            Some(x) => numbers.push(x),
            None => return Ok(Dynamic::UNIT),
        }
    }
    formula(&numbers)
        .map(Dynamic::from)
        .map_err(|e| format!("`{func}`: {e}").into())
}

/// `round_money(x)` (2 digits) and `round_to(x, digits)`: halves away from zero; `None` when
/// `x` is missing.
///
/// ```text
/// round_money(2.675)         // 2.68
/// round_to(1234.5678, 1)     // 1234.6
/// round_to(1234, -2)         // 1200.0
/// ```
pub(crate) fn round_to(x: Option<FLOAT>, digits: INT) -> Option<FLOAT> {
    x.map(|x| round_half_away(x, digits))
}

/// `x.round()`, halves away from zero, without the call into the C library that `round` is
/// on a CPU without SSE4.1's rounding instruction (the baseline this is built for): the same
/// value for every float, NaN and the infinities included.
#[inline]
pub(crate) fn round(x: FLOAT) -> FLOAT {
    // From 2^52 on, every float is a whole number; NaN and the infinities are their own.
    if x.is_nan() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    // Below 2^52 both are exact: the whole part (toward zero), and the rest beside it.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let whole = x as i64;
    #[allow(clippy::cast_precision_loss)]
    let rest = x - whole as FLOAT;
    let rounded = whole + i64::from(rest >= 0.5) - i64::from(rest <= -0.5);
    // `-0.3` rounds to `-0.0`, as `round` has it.
    #[allow(clippy::cast_precision_loss)]
    (rounded as FLOAT).copysign(x)
}

/// Rounds to `digits` decimals, halves away from zero, treating binary noise (2.675 is
/// stored as 2.67499999...) as the decimal the user wrote.
pub(crate) fn round_half_away(x: FLOAT, digits: INT) -> FLOAT {
    // i32 fits: clamped to ±15 (more digits than a float holds).
    #[allow(clippy::cast_possible_truncation)]
    let digits = digits.clamp(-15, 15) as i32;
    let factor = 10_f64.powi(digits.abs());
    let scaled = if digits >= 0 { x * factor } else { x / factor };
    if !scaled.is_finite() {
        // So large a number has no decimals left to round.
        return x;
    }
    let cleaned = if scaled.abs() < 1e9 {
        round(scaled * 1e6) / 1e6
    } else {
        scaled
    };
    let rounded = round(cleaned);
    if digits >= 0 {
        rounded / factor
    } else {
        rounded * factor
    }
}

/// Runs `test` on two lists; a missing list counts as empty.
fn lists(
    func: &str,
    list: &Dynamic,
    wanted: &Dynamic,
    test: impl Fn(&[Dynamic], &[Dynamic]) -> bool,
) -> Res {
    fn as_list<'a>(
        func: &str,
        v: &'a Dynamic,
    ) -> Result<Option<rhai::DynamicReadLock<'a, Array>>, Box<EvalAltResult>> {
        if v.is_unit() {
            Ok(None)
        } else if let Some(a) = v.read_lock::<Array>() {
            Ok(Some(a))
        } else {
            Err(format!("`{func}` needs two lists, not {}", describe(v)).into())
        }
    }
    let (list, wanted) = (as_list(func, list)?, as_list(func, wanted)?);
    let list = list.as_deref().map_or(&[][..], Vec::as_slice);
    let wanted = wanted.as_deref().map_or(&[][..], Vec::as_slice);
    Ok(test(list, wanted).into())
}

/// `has_any(list, wanted)`: whether `list` holds at least one item of `wanted`.
pub(crate) fn has_any(list: &[Dynamic], wanted: &[Dynamic]) -> bool {
    wanted.iter().any(|w| list.iter().any(|x| same(x, w)))
}

/// `has_all(list, wanted)`: whether `list` holds every item of `wanted`.
pub(crate) fn has_all(list: &[Dynamic], wanted: &[Dynamic]) -> bool {
    wanted.iter().all(|w| list.iter().any(|x| same(x, w)))
}

/// `lower(s)`: the text in lowercase.
pub(crate) fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// `upper(s)`: the text in uppercase.
pub(crate) fn upper(s: &str) -> String {
    s.to_uppercase()
}

/// Equality of two list items (strings, numbers, booleans, dates).
fn same(a: &Dynamic, b: &Dynamic) -> bool {
    if let (Some(a), Some(b)) = (
        a.read_lock::<ImmutableString>(),
        b.read_lock::<ImmutableString>(),
    ) {
        return *a == *b;
    }
    if let (Ok(a), Ok(b)) = (a.as_int(), b.as_int()) {
        return a == b;
    }
    let number = |v: &Dynamic| {
        #[allow(clippy::cast_precision_loss)]
        v.as_float()
            .ok()
            .or_else(|| v.as_int().ok().map(|i| i as FLOAT))
    };
    if let (Some(a), Some(b)) = (number(a), number(b)) {
        return a == b;
    }
    if let (Ok(a), Ok(b)) = (a.as_bool(), b.as_bool()) {
        return a == b;
    }
    if let (Ok(a), Ok(b)) = (a.as_char(), b.as_char()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (a.read_lock::<NaiveDate>(), b.read_lock::<NaiveDate>()) {
        return *a == *b;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::engine;
    use rhai::Scope;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
    }

    const NAMES: &[&str] = &["missing", "last_order", "tags", "orders", "spent"];

    /// Compiles like `check` does (so `as_of` comes from the engine) and evaluates.
    fn run(script: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let engine = engine(as_of());
        let expr = crate::model::Expr {
            source: script.to_string(),
            span: crate::source::Span::default(),
            verbatim: true,
        };
        let ast = crate::expr::compile(&engine, &expr, NAMES)
            .unwrap_or_else(|d| panic!("{script}: {}", d.message));
        let mut scope = Scope::new();
        scope.push_dynamic("missing", Dynamic::UNIT);
        scope.push("last_order", NaiveDate::from_ymd_opt(2025, 12, 1).unwrap());
        scope.push("tags", vec![Dynamic::from("vip"), Dynamic::from("beta")]);
        scope.push("orders", 4_i64);
        scope.push("spent", 1250.5_f64);
        engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
    }

    fn eval(script: &str) -> Dynamic {
        run(script).unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    fn is(script: &str, expected: &str) {
        let check =
            format!("let a = {script}; let b = {expected}; type_of(a) == type_of(b) && a == b");
        assert!(
            eval(&check).as_bool().unwrap(),
            "`{script}` gave {:?}, expected {expected}",
            eval(script)
        );
    }

    fn fails(script: &str, message: &str) {
        let err = run(script).unwrap_err();
        let text = crate::expr::error_text(&err);
        assert!(text.contains(message), "`{script}` failed with {text:?}");
    }

    #[test]
    fn every_documented_example_gives_its_result() {
        for b in BUILTINS {
            is(b.example, b.result);
        }
    }

    #[test]
    fn every_builtin_is_in_the_documentation() {
        let docs = include_str!("../../docs/expressions.md");
        for b in BUILTINS {
            let row = format!(
                "| `{}` | {} | `{}` | `{}` |",
                b.signature, b.meaning, b.example, b.result
            );
            assert!(
                docs.contains(&row),
                "docs/expressions.md lacks the row {row}"
            );
        }
    }

    #[test]
    fn calendar_months_periods_and_differences() {
        // Month ends are kept within the month, leap years included.
        is(
            "add_months(date(\"2024-01-31\"), 1)",
            "date(\"2024-02-29\")",
        );
        is(
            "add_months(date(\"2026-03-31\"), -1)",
            "date(\"2026-02-28\")",
        );
        is(
            "add_months(date(\"2026-01-15\"), 12)",
            "date(\"2027-01-15\")",
        );
        is(
            "add_months(datetime(\"2026-01-31 10:00\"), 1)",
            "datetime(\"2026-02-28 10:00\")",
        );
        is("add_months(missing, 1)", "()");
        fails(
            "add_months(as_of, 1.5)",
            "`add_months` needs a whole number of months",
        );
        fails("add_months(as_of, 99999999999)", "`add_months` went past");
        is("days_until(date(\"2026-01-01\"))", "-30");
        is("days_until(missing)", "()");
        // A Monday is its own week's start; a Sunday belongs to the week before.
        is(
            "start_of_week(date(\"2026-01-26\"))",
            "date(\"2026-01-26\")",
        );
        is(
            "start_of_week(date(\"2026-02-01\"))",
            "date(\"2026-01-26\")",
        );
        is(
            "start_of_week(date(\"2026-01-01\"))",
            "date(\"2025-12-29\")",
        );
        is(
            "start_of_quarter(date(\"2026-12-31\"))",
            "date(\"2026-10-01\")",
        );
        is(
            "start_of_quarter(date(\"2026-03-31\"))",
            "date(\"2026-01-01\")",
        );
        is(
            "start_of_month(datetime(\"2026-02-10 23:59\"))",
            "date(\"2026-02-01\")",
        );
        is("start_of_year(missing)", "()");
        // Between dates, `-` counts whole days; times of day are ignored.
        is("date(\"2026-03-01\") - date(\"2026-01-01\")", "59");
        is(
            "datetime(\"2026-01-31 01:00\") - datetime(\"2026-01-30 23:00\")",
            "1",
        );
        is("as_of - datetime(\"2026-01-30 23:00\")", "1");
        is("as_of - missing", "()");
        is("missing - as_of", "()");
        fails("as_of - 30", "");
    }

    #[test]
    fn patterns_match_parts_of_texts() {
        is("matches(\"DE-1234\", \"[0-9]{4}\")", "true");
        is("matches(\"DE-1234\", \"^[0-9]\")", "false");
        is("\"a@SHOP.com\".matches(\"(?i)@shop\\\\.com$\")", "true");
        is("matches(missing, \"x\")", "false");
        fails("matches(\"a\", \"[a-\")", "`[a-` is not a valid pattern");
        is("split(missing, \";\")", "()");
        is("split(\"vip;beta\", \";\").len()", "2");
    }

    #[test]
    fn documented_rhai_examples_hold() {
        is("\"vip\" in [\"vip\", \"beta\"]", "true");
        is("() ?? 10", "10");
        is("\"Zoë\".len()", "3");
        is("min(3, 2.5)", "2.5");
        is("floor(2.7)", "2.0");
        is("to_int(2.9)", "2");
        is("parse_int(\"42\")", "42");
        is("\"abcdef\".sub_string(1, 3)", "\"bcd\"");
        is("\"DE\".to_lower()", "\"de\"");
        is("tags.filter(|t| t.starts_with(\"vip\")).len()", "1");
        is("7 / 2", "3");
        is("7 / 2.0", "3.5");
        is("(missing ?? 9999) > 365", "true");
        is("missing == ()", "true");
        is("lower(\"DE\") == \"de\"", "true");
    }

    #[test]
    fn dates() {
        is("as_of", "date(2026, 1, 31)");
        is("type_of(as_of)", "\"Date\"");
        is("date(\" 2026-01-31 \")", "as_of");
        is("date(datetime(\"2026-01-31T23:59:59\"))", "as_of");
        is("datetime(as_of)", "datetime(\"2026-01-31 00:00:00\")");
        is(
            "datetime(\"2026-01-31T08:15\").to_string()",
            "\"2026-01-31 08:15:00\"",
        );
        is("`${as_of}`", "\"2026-01-31\"");
        is("\"as of \" + as_of", "\"as of 2026-01-31\"");
        is("days_since(last_order)", "61");
        is("days_since(datetime(\"2026-01-30 23:00\"))", "1");
        is("days_since(date(\"2026-02-10\"))", "-10");
        is("days_between(as_of, last_order)", "-61");
        is("months_since(date(\"2025-12-31\"))", "1");
        is("months_since(date(\"2026-01-01\"))", "0");
        is("months_since(date(\"2024-02-29\"))", "23");
        is("months_since(date(\"2026-03-31\"))", "-2");
        is("add_days(as_of, -31)", "date(\"2025-12-31\")");
        is(
            "add_days(datetime(\"2026-01-31 10:00\"), 1)",
            "datetime(\"2026-02-01 10:00\")",
        );
        is("last_order.year()", "2025");
        is("as_of.weekday()", "6");
        is("weekday(date(\"2026-02-01\"))", "7");
        is("weekday(date(\"2026-02-02\"))", "1");
    }

    #[test]
    fn date_comparisons() {
        is("last_order < as_of", "true");
        is("last_order <= last_order", "true");
        is("last_order >= as_of", "false");
        is("last_order != as_of", "true");
        is("as_of == date(\"2026-01-31\")", "true");
        is("datetime(\"2026-01-31 00:00\") == as_of", "true");
        is("datetime(\"2026-01-31 09:00\") > as_of", "true");
        is("as_of < datetime(\"2026-01-31 09:00\")", "true");
    }

    #[test]
    fn missing_values_propagate() {
        for f in [
            "days_since",
            "months_since",
            "year",
            "month",
            "day",
            "weekday",
            "date",
            "datetime",
            "round_money",
            "lower",
            "upper",
            "trim",
        ] {
            is(&format!("{f}(missing)"), "()");
        }
        is("missing.month()", "()");
        is("days_between(missing, as_of)", "()");
        is("days_between(as_of, missing)", "()");
        is("add_days(missing, 3)", "()");
        is("add_days(as_of, missing)", "()");
        is("round_to(missing, 1)", "()");
        is("days_since(missing) > 30", "false");
        for f in ["contains", "starts_with", "ends_with"] {
            is(&format!("{f}(missing, \"a\")"), "false");
        }
        is("\"vip\" in missing", "false");
        is("has_any(missing, [\"vip\"])", "false");
        is("has_all(missing, [])", "true");
        is("has_all(tags, missing)", "true");
        is("is_missing(missing)", "true");
        is("is_missing(tags)", "false");
        is("missing ?? 0", "0");
        is("(missing ?? as_of) == as_of", "true");
    }

    #[test]
    fn wrong_kinds_fail_with_the_function_name() {
        fails(
            "days_since(\"2026-01-01\")",
            "`days_since` needs a date, not a string",
        );
        fails("month(3)", "`month` needs a date, not a number");
        fails(
            "date(20260131)",
            "`date` needs a text such as `\"2026-01-31\"` or a date, not a number",
        );
        fails(
            "datetime(true)",
            "`datetime` needs a text such as `\"2026-01-31\"` or a date, not true/false",
        );
        fails("date(\"2026-02-30\")", "`2026-02-30` is not a date");
        fails("date(2026, 2, 30)", "2026-2-30 is not a date");
        fails(
            "add_days(as_of, 1.5)",
            "`add_days` needs a whole number of days",
        );
        fails(
            "round_money(\"12\")",
            "`round_money` needs a number, not a string",
        );
        fails(
            "has_any(\"vip\", tags)",
            "`has_any` needs two lists, not a string",
        );
        fails("as_of - 1", "there is no function `-");
    }

    #[test]
    fn money() {
        is("round_money(2.675)", "2.68");
        is("round_money(-2.675)", "-2.68");
        is("round_money(1.005)", "1.01");
        is("round_money(0.125)", "0.13");
        is("round_money(10)", "10.0");
        is("round_money(spent / 3)", "416.83");
        is("round_to(2.5, 0)", "3.0");
        is("round_to(-2.5, 0)", "-3.0");
        is("round_to(1234, -2)", "1200.0");
        is("round_to(1250, -2)", "1300.0");
        assert_eq!(round_half_away(123_456_789.125, 2), 123_456_789.13);
    }

    #[test]
    fn clv_formulas_take_numbers_and_refuse_rates_out_of_range() {
        is("clv_historic(spent, 0.5)", "625.25");
        is("clv_historic((), 0.5)", "()");
        is("clv_retention(100, 0.8, 0.1) > 266.6", "true");
        fails("clv_historic(100, 1.5)", "`clv_historic`");
        fails("clv_retention(100, 1.0, 0.1)", "`clv_retention`");
        fails(
            "clv_simple(50, \"4\", 3, 0.3)",
            "`clv_simple` needs a number, not a string",
        );
    }

    #[test]
    fn numbers_mix_ints_and_decimals() {
        is("orders + 0.5", "4.5");
        is("spent > orders", "true");
        is("orders == 4.0", "true");
        is("spent * orders", "5002.0");
        is("orders / 8", "0");
        is("orders / 8.0", "0.5");
    }

    #[test]
    fn text() {
        is("lower(\"VIP Gold\")", "\"vip gold\"");
        is("\"vip\".upper()", "\"VIP\"");
        is("trim(\"\\t gold \\n\")", "\"gold\"");
        is("\" gold \".trim()", "\"gold\"");
        is("contains(\"newsletter\", \"news\")", "true");
        is("\"news\" in \"newsletter\"", "true");
        is("starts_with(\"DE-1\", \"AT-\")", "false");
        is("\"x@a.com\".ends_with(\"@a.com\")", "true");
    }

    #[test]
    fn lists() {
        is("\"vip\" in tags", "true");
        is("\"staff\" in tags", "false");
        is("!(\"staff\" in tags)", "true");
        is("has_any(tags, [\"staff\", \"beta\"])", "true");
        is("tags.has_any([\"staff\"])", "false");
        is("has_all(tags, [\"beta\", \"vip\"])", "true");
        is("has_all(tags, [\"beta\", \"staff\"])", "false");
        is("has_any([1, 2], [2.0])", "true");
        is("tags.len()", "2");
    }

    proptest::proptest! {
        /// `round` is `f64::round` on any float, whatever its bits.
        #[test]
        fn round_is_the_libraries(bits in proptest::prelude::any::<u64>(), scale in 0u32..60) {
            let x = f64::from_bits(bits);
            // Also floats near the whole numbers and halves, where rounding decides.
            let near = (x.fract() * f64::from(1u32 << 20)).trunc() / 2.0 + f64::from(scale);
            for x in [x, near, -near, near + 0.5, near - 0.5] {
                proptest::prop_assert_eq!(round(x).to_bits(), x.round().to_bits(), "{}", x);
            }
        }
    }

    #[test]
    fn round_agrees_at_the_edges() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.49999999999999994,
            -0.49999999999999994,
            1.5,
            2.5,
            -2.5,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for x in edges {
            assert_eq!(round(x).to_bits(), x.round().to_bits(), "{x}");
        }
        assert!(round(f64::NAN).is_nan());
    }
}
