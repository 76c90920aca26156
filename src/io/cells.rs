//! Typed reading of one export cell per the schema.
//!
//! A [`CellReader`] is built once per schema field and per run ([`CellReader::new`] does all
//! the preparation: parsed date formats, words, separators, the default, the error wording), then
//! reads millions of cells from any number of threads. Reading allocates nothing but the value
//! itself (the text of a string, the items of a list, the box of a date), and
//! [`CellReader::read_over`] not even that when the slot it reads into holds a string or date
//! of its own from an earlier row; error texts are only built for cells that fail.
//!
//! Values are rhai [`Dynamic`]s, as expressions see them: string: [`ImmutableString`]; int:
//! `i64`; decimal and money: `f64`; bool: `bool`; date: [`NaiveDate`]; datetime:
//! [`NaiveDateTime`]; list: [`Array`] of strings; a missing value: `()`.
//!
//! How a cell reads, by field type:
//! - **empty** (nothing but whitespace, one of the field's or the rule set's `missing` words
//!   such as `N/A`, compared after trimming, case and all, or a list without items): the
//!   field's default if it declares one, else `()` for an optional field (`?`), else
//!   [`CellError::Missing`];
//! - **string**: the text as it is, spaces included;
//! - **int**: an optional sign and digits, surrounding spaces ignored; with `thousands ","`,
//!   `1,234,567` (groups of three digits after the first group of one to three);
//! - **decimal**: like int, plus an optional fraction (`.5`) and exponent (`1e3`); `NaN` and
//!   infinities are refused; a percentage reads as its fraction (`12%`, `12.5 %`: 0.12, 0.125);
//! - **money**: a decimal with the declared currency symbol, which may be left out or written
//!   before or after the amount, before or after a minus sign, with or without a space:
//!   `$1,234.50`, `-$12.00`, `$-12.00`, `12.00 $`, `1234.5`; below [`MAX_MONEY`] (ten
//!   trillion) in absolute value; a currency code is declared as a symbol is (`currency
//!   "USD"`: `USD 12.00`, `12.00 USD`);
//! - decimal and money alike: an amount in parentheses is negative, as accounting exports
//!   write it (`(12.50)`, `($1,234.50)`);
//! - **bool**: the declared `words` (`yes`/`no`), or without them `true`/`false`, `yes`/`no`,
//!   `y`/`n`, `1`/`0`, all case-insensitive;
//! - **date**: the declared formats (chrono/strftime), the first that reads the cell, or ISO
//!   `2026-01-31`, or without a declared format an ISO date-time whose date (as written, before
//!   any offset) is kept; a year of fewer than four digits (`12/31/25` read by `%Y`) is refused,
//!   as `%y` reads two-digit years only where declared;
//! - **datetime**: likewise, or ISO `2026-01-31 09:30[:00[.250]]` (or with `T`), optionally
//!   ending in `Z` or an offset such as `+02:00` (converted to UTC, as is an offset a declared
//!   format reads with `%z`), or a date (its midnight);
//! - **list**: items split at the declared `separator` (default `;`), each trimmed, empty items
//!   dropped.
//!
//! The decimal mark is `.` unless a field declares `decimal ","` (`1.234,50`); a thousands
//! separator that is also the decimal mark is refused.

use crate::model::{Field, FieldFormat, FieldType, Literal};
use crate::text::printable;
use chrono::format::{Item, Numeric, Pad, Parsed, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use rhai::{Array, Dynamic, ImmutableString};
use std::fmt::{self, Write as _};

/// Money amounts are below ten trillion (in absolute value): there, a decimal read from the
/// cell is within a fifth of a cent of the amount written, so it rounds back to its cents
/// exactly and sums of money are exact.
pub const MAX_MONEY: f64 = 10_000_000_000_000.0;

/// The error for a money amount of [`MAX_MONEY`] or more.
fn too_large(found: String) -> CellError {
    CellError::Invalid {
        found,
        expected: "an amount below 10,000,000,000,000 (ten trillion)".to_string(),
    }
}

/// The error for a text or list longer than the rules' values may be
/// ([`crate::expr::MAX_STRING_SIZE`] bytes, [`crate::expr::MAX_ARRAY_SIZE`] items).
fn too_long(found: &str) -> CellError {
    CellError::Invalid {
        found: format!("{} ({} bytes)", shown(found), found.len()),
        expected: format!(
            "a text of at most {} bytes, the most a value may hold in the rules",
            crate::text::group(crate::expr::MAX_STRING_SIZE as u64)
        ),
    }
}

/// How many characters of an offending cell an error message shows.
const FOUND_MAX: usize = 40;

/// ISO `%Y-%m-%d`, for dates chrono reads leniently (`2026-1-5`).
const ISO_DATE: &[Item<'static>] = &[
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
];

/// How one schema field reads its cells; built once per run, used for millions of cells.
///
/// `Send + Sync + Clone`: share one per field across worker threads (or clone it).
#[derive(Debug, Clone)]
pub struct CellReader {
    kind: Kind,
    /// Texts that read as an empty cell (trimmed).
    missing: Box<[Box<str>]>,
    optional: bool,
    /// The declared default, already a value of the field's type.
    default: Option<Dynamic>,
    /// What the field expects, in words with an example (for [`CellError::Invalid`]).
    expected: Box<str>,
}

/// Why a cell could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum CellError {
    /// The cell is empty but the field is required (no `?`, no default).
    Missing,
    /// The text does not fit the field's type or declared format.
    Invalid {
        /// The offending text (trimmed; at most 40 characters, then `...`).
        found: String,
        /// What the field expects, in words with an example, e.g. "a whole number such as `42`".
        expected: String,
    },
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellError::Missing => f.write_str("the cell is empty, but the field is required"),
            CellError::Invalid { found, expected } => {
                write!(f, "expected {expected}, found `{found}`")
            }
        }
    }
}

impl std::error::Error for CellError {}

/// The per-type reading rules, prepared.
#[derive(Debug, Clone)]
enum Kind {
    String,
    Int {
        thousands: Option<Box<[u8]>>,
    },
    /// Decimal and money: both may carry a currency symbol; money stays below [`MAX_MONEY`].
    Number {
        thousands: Option<Box<[u8]>>,
        currency: Option<Box<str>>,
        money: bool,
        /// The decimal mark, `.` or `,`.
        point: u8,
    },
    Bool(Words),
    /// The formats, tried in order (ISO alone when none is declared).
    Date(Box<[DateFormat]>),
    DateTime(Box<[DateFormat]>),
    List(Separator),
}

#[derive(Debug, Clone)]
enum Words {
    /// `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0`.
    Standard,
    Declared {
        yes: Box<str>,
        no: Box<str>,
        /// Both words are ASCII: compare with `eq_ignore_ascii_case` only.
        ascii: bool,
    },
}

#[derive(Debug, Clone)]
enum DateFormat {
    Iso,
    /// A chrono format, and its fixed-width reading when it has one.
    Declared(Box<[Item<'static>]>, Option<FixedWidth>),
}

/// A declared format made only of zero-padded `%Y %m %d %H %M %S` and ASCII literals (such as
/// `%d/%m/%Y`), read by hand when a cell has exactly its width; chrono reads everything else.
#[derive(Debug, Clone)]
struct FixedWidth {
    parts: Box<[Part]>,
    width: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Byte(u8),
}

#[derive(Debug, Clone)]
enum Separator {
    Char(char),
    Str(Box<str>),
}

/// What reading one cell gave, before the empty rules apply.
enum Read<'t> {
    Value(Dynamic),
    /// A string field's text.
    Text(&'t str),
    Date(NaiveDate),
    Empty,
    Invalid,
    /// A money amount of [`MAX_MONEY`] or more.
    TooLarge,
    /// A text or list longer than a value may be in the rules.
    TooLong,
}

/// An amount read, as a money field keeps it: [`Read::TooLarge`] from [`MAX_MONEY`] on.
fn amount(x: Option<f64>, money: bool) -> Read<'static> {
    match x {
        Some(x) if money && x.abs() >= MAX_MONEY => Read::TooLarge,
        x => x.map(Dynamic::from_float).into(),
    }
}

impl From<Option<Dynamic>> for Read<'_> {
    fn from(value: Option<Dynamic>) -> Self {
        value.map_or(Read::Invalid, Read::Value)
    }
}

/// Why `sep` cannot be a thousands separator (of a field whose numbers have the decimal mark
/// `point`, `None` for whole numbers), as the end of a sentence; `None` when it can.
pub fn thousands_problem(sep: &str, point: Option<char>) -> Option<String> {
    if sep.is_empty() || sep.bytes().any(|b| b.is_ascii_digit()) {
        Some("must be a non-empty text without digits".to_string())
    } else if let Some(point) = point.filter(|p| sep.contains(*p)) {
        Some(format!(
            "is also the decimal mark `{point}`: a number would read two ways"
        ))
    } else if point.is_some() && sep.contains(['e', 'E', '+', '-']) {
        Some("clashes with the signs and exponents of decimal numbers".to_string())
    } else {
        None
    }
}

/// The decimal mark a field declares (`decimal`), `.` by default; `Err` when it is neither
/// `.` nor `,`.
pub fn decimal_mark(format: &FieldFormat) -> Result<char, String> {
    match format.decimal.as_ref().map(|d| d.value.as_str()) {
        None | Some(".") => Ok('.'),
        Some(",") => Ok(','),
        Some(other) => Err(format!(
            "the decimal mark must be `.` or `,`, not `{other}`"
        )),
    }
}

impl CellReader {
    /// Prepares the reading of `field`'s cells.
    ///
    /// Err (a sentence saying why): the field's declared default does not fit its type, or one
    /// of its formats cannot be used (an invalid chrono date format, empty words, separator or
    /// thousands separator, equal true and false words, `thousands "."` on a decimal or money
    /// field). `check` reports all of these before a run.
    pub fn new(field: &Field) -> Result<CellReader, String> {
        let name = &field.name.value;
        let format = &field.format;
        let point = decimal_mark(format).map_err(|e| format!("`{name}`: {e}"))?;
        let thousands = |number_point: Option<char>| -> Result<Option<Box<[u8]>>, String> {
            let Some(sep) = &format.thousands else {
                return Ok(None);
            };
            let sep = sep.value.as_str();
            if let Some(problem) = thousands_problem(sep, number_point) {
                return Err(format!(
                    "the thousands separator `{sep}` of `{name}` {problem}"
                ));
            }
            Ok(Some(sep.as_bytes().into()))
        };
        let date_format = || -> Result<Box<[DateFormat]>, String> {
            if format.dates.is_empty() {
                return Ok(Box::new([DateFormat::Iso]));
            }
            let declared = format.dates.iter().map(|text| {
                match StrftimeItems::new(&text.value).parse_to_owned() {
                    Ok(items) if !text.value.trim().is_empty() => {
                        let fixed = FixedWidth::new(&items);
                        Ok(DateFormat::Declared(items.into_boxed_slice(), fixed))
                    }
                    _ => Err(format!(
                        "the date format `{}` of `{name}` is not a valid chrono format",
                        text.value
                    )),
                }
            });
            declared.collect()
        };
        let kind = match field.ty.value {
            FieldType::String => Kind::String,
            FieldType::Int => Kind::Int {
                thousands: thousands(None)?,
            },
            FieldType::Decimal | FieldType::Money => Kind::Number {
                money: field.ty.value == FieldType::Money,
                thousands: thousands(Some(point))?,
                currency: format
                    .currency
                    .as_ref()
                    .map(|c| c.value.trim())
                    .filter(|c| !c.is_empty())
                    .map(Box::from),
                point: point as u8,
            },
            FieldType::Bool => Kind::Bool(match &format.words {
                None => Words::Standard,
                Some(words) => {
                    let (yes, no) = (words.value.0.trim(), words.value.1.trim());
                    if yes.is_empty() || no.is_empty() || same_word(yes, no, false) {
                        return Err(format!(
                            "the words `{yes}` and `{no}` of `{name}` must be two different words"
                        ));
                    }
                    Words::Declared {
                        yes: yes.into(),
                        no: no.into(),
                        ascii: yes.is_ascii() && no.is_ascii(),
                    }
                }
            }),
            FieldType::Date => Kind::Date(date_format()?),
            FieldType::DateTime => Kind::DateTime(date_format()?),
            FieldType::List => Kind::List(match &format.separator {
                None => Separator::Char(';'),
                Some(sep) => {
                    let mut chars = sep.value.chars();
                    match (chars.next(), chars.next()) {
                        (None, _) => {
                            return Err(format!("the list separator of `{name}` is empty"));
                        }
                        (Some(c), None) => Separator::Char(c),
                        _ => Separator::Str(sep.value.as_str().into()),
                    }
                }
            }),
        };
        let formats: Vec<&str> = format.dates.iter().map(|d| d.value.as_str()).collect();
        let expected = expected(&kind, field.ty.value, &formats).into_boxed_str();
        let mut reader = CellReader {
            kind,
            missing: Box::new([]),
            optional: field.optional,
            default: None,
            expected,
        };
        reader = reader.with_missing(&format.missing);
        if let Some(default) = &field.default {
            reader.default = Some(reader.default_value(&default.value).ok_or_else(|| {
                format!(
                    "the default `{}` of `{name}` is not {}",
                    default.value, reader.expected
                )
            })?);
        }
        Ok(reader)
    }

    /// The reader with the texts `words` (the rule set's `missing` words) read as an empty
    /// cell too.
    pub fn with_missing(mut self, words: &[crate::model::Spanned<String>]) -> CellReader {
        if !words.is_empty() {
            let mut missing = self.missing.into_vec();
            missing.extend(words.iter().map(|w| Box::from(w.value.trim())));
            self.missing = missing.into_boxed_slice();
        }
        self
    }

    /// Reads one CSV cell's text.
    pub fn read(&self, text: &str) -> Result<Dynamic, CellError> {
        let mut value = Dynamic::UNIT;
        self.read_over(text, &mut value).map(|()| value)
    }

    /// Reads one CSV cell's text into `slot`, over the value it held: a string or date read
    /// over a string or date of its own reuses its room, so that reading rows into the same
    /// slots allocates nothing once they are warm. `slot` is left as it was on an error.
    pub fn read_over(&self, text: &str, slot: &mut Dynamic) -> Result<(), CellError> {
        self.settle(self.parse(text), slot, || text.into())
    }

    /// Puts what was read into `slot`, or gives the error; `found` gives the cell's text as
    /// the error shows it.
    fn settle(
        &self,
        read: Read,
        slot: &mut Dynamic,
        found: impl FnOnce() -> String,
    ) -> Result<(), CellError> {
        match read {
            Read::Value(value) => crate::expr::overwrite(slot, value),
            Read::Text(text) => string_over(slot, text),
            Read::Date(date) => date_over(slot, date),
            Read::Empty => crate::expr::overwrite(slot, self.empty()?),
            Read::Invalid => return Err(self.invalid(shown(found().trim()))),
            Read::TooLarge => return Err(too_large(shown(found().trim()))),
            Read::TooLong => return Err(too_long(&found())),
        }
        Ok(())
    }

    /// Reads one JSONL value (`None`: the key is absent).
    ///
    /// Absent and `null` are empty; a string reads like a CSV cell; a number fits int (when
    /// integral and in range), decimal, money and string (as its JSON text) fields; `true` and
    /// `false` fit bool and string fields; an array of strings fits list fields.
    pub fn read_json(&self, value: Option<&serde_json::Value>) -> Result<Dynamic, CellError> {
        let mut slot = Dynamic::UNIT;
        self.read_json_over(value, &mut slot).map(|()| slot)
    }

    /// [`CellReader::read_json_over`] of a value given as its JSON text (`None`: absent), as
    /// [`super::jsonl::Line::get`] gives it: a string without escapes is read in place, as a
    /// CSV cell. (A text serde_json cannot read, which such a line never holds, is invalid.)
    pub fn read_json_text_over(
        &self,
        value: Option<&serde_json::value::RawValue>,
        slot: &mut Dynamic,
    ) -> Result<(), CellError> {
        let Some(raw) = value else {
            return self.read_json_over(None, slot);
        };
        if let Some(text) = super::jsonl::plain_string(raw) {
            return self.read_over(text, slot);
        }
        match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(value) => self.read_json_over(Some(&value), slot),
            Err(_) => Err(self.invalid(shown(raw.get()))),
        }
    }

    /// [`CellReader::read_json`] into `slot`, over the value it held, as
    /// [`CellReader::read_over`] reads a CSV cell.
    pub fn read_json_over(
        &self,
        value: Option<&serde_json::Value>,
        slot: &mut Dynamic,
    ) -> Result<(), CellError> {
        use serde_json::Value as Json;
        let read = match (value, &self.kind) {
            (None | Some(Json::Null), _) => Read::Empty,
            (Some(Json::String(s)), _) => return self.read_over(s, slot),
            (Some(Json::Number(n)), Kind::Int { .. }) => json_int(n).map(Dynamic::from_int).into(),
            (Some(Json::Number(n)), Kind::Number { money, .. }) => {
                amount(n.as_f64().filter(|f| f.is_finite()), *money)
            }
            (Some(Json::Number(n)), Kind::String) => {
                Read::Value(Dynamic::from(ImmutableString::from(n.to_string())))
            }
            (Some(Json::Bool(b)), Kind::Bool(_)) => Read::Value(Dynamic::from_bool(*b)),
            (Some(Json::Bool(b)), Kind::String) => Read::Text(if *b { "true" } else { "false" }),
            (Some(Json::Array(items)), Kind::List(_)) => json_list(items),
            _ => Read::Invalid,
        };
        let found = || value.map_or_else(String::new, |v| v.to_string());
        self.settle(read, slot, found)
    }

    /// The value of an empty cell.
    fn empty(&self) -> Result<Dynamic, CellError> {
        match &self.default {
            Some(default) => Ok(default.clone()),
            None if self.optional => Ok(Dynamic::UNIT),
            None => Err(CellError::Missing),
        }
    }

    fn invalid(&self, found: String) -> CellError {
        CellError::Invalid {
            found,
            expected: self.expected.to_string(),
        }
    }

    /// Reads `text` per the field's type; the hot path.
    fn parse<'t>(&self, text: &'t str) -> Read<'t> {
        let t = trimmed(text);
        if t.is_empty() || self.missing.iter().any(|w| **w == *t) {
            return Read::Empty;
        }
        let long = text.len() > crate::expr::MAX_STRING_SIZE;
        match &self.kind {
            Kind::String | Kind::List(_) if long => Read::TooLong,
            Kind::String => Read::Text(text),
            Kind::Int { thousands } => parse_int(t.as_bytes(), thousands.as_deref())
                .map(Dynamic::from_int)
                .into(),
            Kind::Number {
                thousands,
                currency,
                money,
                point,
            } => amount(
                parse_number(t, thousands.as_deref(), currency.as_deref(), *money, *point),
                *money,
            ),
            Kind::Bool(words) => words.read(t).map(Dynamic::from_bool).into(),
            Kind::Date(formats) => formats
                .iter()
                .find_map(|f| f.date(t))
                .map_or(Read::Invalid, Read::Date),
            Kind::DateTime(formats) => formats
                .iter()
                .find_map(|f| f.datetime(t))
                .map(Dynamic::from)
                .into(),
            Kind::List(sep) => {
                let items = match sep {
                    Separator::Char(c) => list(text.split(*c)),
                    Separator::Str(s) => list(text.split(&**s)),
                };
                if items.is_empty() {
                    Read::Empty
                } else {
                    Read::Value(Dynamic::from_array(items))
                }
            }
        }
    }

    /// The declared default as a value of the field's type, if it fits.
    fn default_value(&self, literal: &Literal) -> Option<Dynamic> {
        Some(match (literal, &self.kind) {
            (Literal::Str(s), Kind::String) => string(s),
            (Literal::Str(s), Kind::List(sep)) => {
                let items: Vec<&str> = match sep {
                    Separator::Char(c) => s.split(*c).collect(),
                    Separator::Str(sep) => s.split(&**sep).collect(),
                };
                let items = items.iter().map(|i| i.trim()).filter(|i| !i.is_empty());
                Dynamic::from_array(items.map(string).collect())
            }
            // Like a cell; an ISO date also fits (that is what `check` accepts).
            (Literal::Str(s), Kind::Date(formats)) => Dynamic::from(
                formats
                    .iter()
                    .chain([&DateFormat::Iso])
                    .find_map(|f| f.date(s.trim()))?,
            ),
            (Literal::Str(s), Kind::DateTime(formats)) => Dynamic::from(
                formats
                    .iter()
                    .chain([&DateFormat::Iso])
                    .find_map(|f| f.datetime(s.trim()))?,
            ),
            (Literal::Int(i), Kind::Int { .. }) => Dynamic::from_int(*i),
            (Literal::Int(i), Kind::Number { .. }) => Dynamic::from_float(*i as f64),
            (Literal::Decimal(d), Kind::Number { .. }) if d.is_finite() => Dynamic::from_float(*d),
            (Literal::Bool(b), Kind::Bool(_)) => Dynamic::from_bool(*b),
            _ => return None,
        })
    }
}

/// A rhai string value.
fn string(s: &str) -> Dynamic {
    Dynamic::from(ImmutableString::from(s))
}

/// `text` as a rhai string in `slot`, written over the string it holds when no one else holds
/// that string.
fn string_over(slot: &mut Dynamic, text: &str) {
    if let Some(mut old) = slot.write_lock::<ImmutableString>() {
        if let Some(room) = old.get_mut() {
            // Not `clear`, which lets go of a buffer.
            room.truncate(0);
            room.push_str(text);
            return;
        }
    }
    *slot = string(text);
}

/// `text` without the whitespace around it, as [`str::trim`] gives it, at no cost for the
/// usual cell that starts and ends with a visible ASCII character (never whitespace).
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// `date` in `slot`, written over the date it holds (whose box is then kept).
fn date_over(slot: &mut Dynamic, date: NaiveDate) {
    if let Some(mut old) = slot.write_lock::<NaiveDate>() {
        *old = date;
        return;
    }
    *slot = Dynamic::from(date);
}

/// The trimmed, non-empty items of a split cell.
fn list<'t>(parts: impl Iterator<Item = &'t str> + Clone) -> Array {
    let items = parts.map(trimmed).filter(|i| !i.is_empty());
    let mut out = Array::with_capacity(items.clone().count());
    out.extend(items.map(string));
    out
}

fn json_list(items: &[serde_json::Value]) -> Read<'static> {
    let bytes: usize = items.iter().filter_map(|i| i.as_str()).map(str::len).sum();
    if bytes > crate::expr::MAX_STRING_SIZE || items.len() > crate::expr::MAX_ARRAY_SIZE {
        return Read::TooLong;
    }
    let mut out = Array::with_capacity(items.len());
    for item in items {
        let serde_json::Value::String(s) = item else {
            return Read::Invalid;
        };
        let s = s.trim();
        if !s.is_empty() {
            out.push(string(s));
        }
    }
    if out.is_empty() {
        Read::Empty
    } else {
        Read::Value(Dynamic::from_array(out))
    }
}

/// An integral JSON number that fits `i64` (`3.0` does; `3.5` and `1e20` do not).
fn json_int(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        return None;
    }
    // A decimal such as `3.0`, or a whole number beyond 64 bits that the JSON reader made a
    // decimal: only whole values a decimal holds exactly (to 2^53) are sure to be the number
    // written, as in a CSV cell; the others are out of range.
    let f = n.as_f64()?;
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (f.fract() == 0.0 && (-EXACT..=EXACT).contains(&f)).then_some(f as i64)
}

/// `text` as shown in an error: at most [`FOUND_MAX`] characters, control characters escaped
/// ([`printable`]).
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(FOUND_MAX).collect();
    if out.len() < text.len() {
        out.push_str("...");
    }
    printable(&out).into_owned()
}

/// "a whole number such as `42`" and the like, for a prepared field.
fn expected(kind: &Kind, ty: FieldType, formats: &[&str]) -> String {
    let sep = |thousands: &Option<Box<[u8]>>| {
        thousands
            .as_deref()
            .map_or("", |t| std::str::from_utf8(t).unwrap_or(""))
            .to_string()
    };
    match kind {
        Kind::String => "text such as `Ada`".into(),
        Kind::Int { thousands } => match thousands {
            None => "a whole number such as `42`".into(),
            Some(_) => format!("a whole number such as `1{}234`", sep(thousands)),
        },
        Kind::Number {
            thousands,
            currency,
            point,
            ..
        } => {
            let cur = currency.as_deref().map_or(String::new(), |c| {
                // `EUR 12.50`, but `$12.50`.
                if c.ends_with(|ch: char| ch.is_alphabetic()) {
                    format!("{c} ")
                } else {
                    c.to_string()
                }
            });
            let (sep, point) = (sep(thousands), char::from(*point));
            if ty == FieldType::Money {
                format!("an amount such as `{cur}1{sep}234{point}50`")
            } else if thousands.is_some() || currency.is_some() {
                format!("a number such as `{cur}1{sep}234{point}5`")
            } else {
                format!("a number such as `12{point}5`")
            }
        }
        Kind::Bool(Words::Standard) => "`true`/`false`, `yes`/`no`, `y`/`n` or `1`/`0`".into(),
        Kind::Bool(Words::Declared { yes, no, .. }) => format!("`{yes}` or `{no}`"),
        Kind::Date(dates) | Kind::DateTime(dates) => {
            let date = ty == FieldType::Date;
            let what = if date { "a date" } else { "a date-time" };
            let sample = NaiveDate::from_ymd_opt(2026, 1, 31)
                .and_then(|d| d.and_hms_opt(9, 30, 0))
                .map(|dt| Utc.from_utc_datetime(&dt));
            let shown = dates
                .iter()
                .zip(formats.iter().map(Some).chain(std::iter::repeat(None)));
            let ways: Vec<String> = shown
                .map(|(d, format)| match (d, format) {
                    (DateFormat::Declared(items, _), Some(format)) => {
                        let mut example = String::new();
                        let formatted = sample.is_some_and(|s| {
                            write!(example, "{}", s.format_with_items(items.iter())).is_ok()
                        });
                        if formatted && !example.trim().is_empty() {
                            format!("`{example}` (format `{format}`)")
                        } else {
                            format!("the format `{format}`")
                        }
                    }
                    _ if date => "`2026-01-31`".to_string(),
                    _ => "`2026-01-31 09:30:00`".to_string(),
                })
                .collect();
            format!("{what} such as {}", ways.join(" or "))
        }
        Kind::List(_) => "a list of texts such as `[\"vip\", \"newsletter\"]`".into(),
    }
}

/// Case-insensitive word equality (Unicode-aware unless both words are known to be ASCII).
fn same_word(cell: &str, word: &str, ascii: bool) -> bool {
    cell.eq_ignore_ascii_case(word)
        || (!ascii
            && !cell.is_ascii()
            && cell
                .chars()
                .flat_map(char::to_lowercase)
                .eq(word.chars().flat_map(char::to_lowercase)))
}

impl Words {
    /// The boolean a trimmed, non-empty cell names.
    fn read(&self, t: &str) -> Option<bool> {
        match self {
            Words::Standard => match t.as_bytes() {
                [b'1' | b'y' | b'Y'] => Some(true),
                [b'0' | b'n' | b'N'] => Some(false),
                _ if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("yes") => Some(true),
                _ if t.eq_ignore_ascii_case("false") || t.eq_ignore_ascii_case("no") => Some(false),
                _ => None,
            },
            Words::Declared { yes, no, ascii } => {
                if same_word(t, yes, *ascii) {
                    Some(true)
                } else if same_word(t, no, *ascii) {
                    Some(false)
                } else {
                    None
                }
            }
        }
    }
}

/// A run of digits, possibly in thousands groups.
struct Digits {
    /// Index after the run.
    end: usize,
    /// How many digits (separators not counted).
    count: usize,
    /// A thousands separator was seen.
    grouped: bool,
    /// The digits as a number, `None` past `u64::MAX`.
    value: Option<u64>,
}

/// Digits from `i` with optional thousands separators between groups of three (the first group
/// one to three digits); `None` when separators are misplaced. Zero digits is allowed (the
/// caller decides).
fn digit_groups(b: &[u8], mut i: usize, sep: Option<&[u8]>) -> Option<Digits> {
    let mut value = Some(0u64);
    let mut count = 0;
    let mut group = 0;
    let mut groups = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            value = value.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(c - b'0')));
            count += 1;
            group += 1;
            i += 1;
        } else if let Some(len) = sep
            .filter(|_| group > 0)
            .and_then(|s| separator_at(&b[i..], s))
        {
            if (groups == 0 && group > 3) || (groups > 0 && group != 3) {
                return None;
            }
            groups += 1;
            group = 0;
            i += len;
        } else {
            break;
        }
    }
    if groups > 0 && group != 3 {
        return None;
    }
    Some(Digits {
        end: i,
        count,
        grouped: groups > 0,
        value,
    })
}

/// An optional sign, then digits in thousands groups; the whole text, nothing else.
fn parse_int(b: &[u8], sep: Option<&[u8]>) -> Option<i64> {
    let (neg, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let digits = digit_groups(b, start, sep)?;
    if digits.end != b.len() || digits.count == 0 {
        return None;
    }
    let magnitude = digits.value?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Powers of ten exactly representable as `f64`, for the fast path of [`parse_decimal`].
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The length of the thousands separator `sep` at the start of `b`, if it is there. A space
/// separator also takes the no-break spaces exports put between thousands (U+00A0, and U+202F
/// as French typography writes it).
fn separator_at(b: &[u8], sep: &[u8]) -> Option<usize> {
    if b.starts_with(sep) {
        return Some(sep.len());
    }
    if sep != b" " {
        return None;
    }
    ["\u{a0}", "\u{202f}"]
        .iter()
        .find(|space| b.starts_with(space.as_bytes()))
        .map(|space| space.len())
}

/// A decimal: optional sign (when `signed`), digits in thousands groups, optional `.` fraction,
/// optional exponent. Finite results only.
fn parse_decimal(t: &str, sep: Option<&[u8]>, point: u8, signed: bool) -> Option<f64> {
    let b = t.as_bytes();
    let sign = usize::from(signed && matches!(b.first(), Some(b'-' | b'+')));
    let int = digit_groups(b, sign, sep)?;
    let mut i = int.end;
    let mut mantissa = int.value;
    let mut frac_digits = 0;
    if b.get(i) == Some(&point) {
        i += 1;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            mantissa = mantissa.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(c - b'0')));
            i += 1;
            frac_digits += 1;
        }
    }
    if int.count == 0 && frac_digits == 0 {
        return None;
    }
    let mut exponent = false;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        exponent = true;
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    // Up to 15 digits and no exponent: both operands are exact, so the one IEEE division is the
    // correctly rounded value, the same as `str::parse` gives.
    if let (false, true, Some(m)) = (exponent, int.count + frac_digits <= 15, mantissa) {
        let value = m as f64 / POW10[frac_digits];
        return Some(if sign == 1 && b[0] == b'-' {
            -value
        } else {
            value
        });
    }
    let value: f64 = if int.grouped || point != b'.' {
        // Copy without the separators and with a decimal point; everything kept is ASCII.
        let kept = b[..int.end]
            .iter()
            .enumerate()
            .filter(|&(j, c)| c.is_ascii_digit() || j < sign)
            .map(|(_, c)| *c)
            .chain(
                b[int.end..]
                    .iter()
                    .map(|&c| if c == point { b'.' } else { c }),
            );
        let mut buf = [0u8; 64];
        if b.len() <= buf.len() {
            let mut n = 0;
            for c in kept {
                buf[n] = c;
                n += 1;
            }
            std::str::from_utf8(&buf[..n]).ok()?.parse().ok()?
        } else {
            kept.map(char::from).collect::<String>().parse().ok()?
        }
    } else {
        t.parse().ok()?
    };
    value.is_finite().then_some(value)
}

/// A number cell as a `decimal` (or, `money`, a `money`) field with thousands separator `sep`
/// and currency `currency` reads it, the decimal mark `.`; `None` when it does not.
pub(crate) fn read_number(
    t: &str,
    sep: Option<&str>,
    currency: Option<&str>,
    money: bool,
) -> Option<f64> {
    parse_number(t, sep.map(str::as_bytes), currency, money, b'.')
}

/// A decimal or money cell ([`parse_amount`]), or the same in parentheses for a negative
/// amount, as accounting exports write one (`(12.50)`, `($12.50)`, `$(12.50)`), or for a
/// decimal a percentage (`12%`, `12.5 %`, `(12%)`: 0.12, 0.125 and -0.12).
fn parse_number(
    t: &str,
    sep: Option<&[u8]>,
    currency: Option<&str>,
    money: bool,
    point: u8,
) -> Option<f64> {
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        let inner = inner.trim();
        // A sign inside too (`(-12)`, `($-12.50)`) says two things: refused.
        if inner.is_empty() || inner.contains(['-', '+', '(']) {
            return None;
        }
        // (`+ 0.0`: a negative zero is zero.) A percentage may be in parentheses: `(12%)`.
        return parse_number(inner, sep, currency, money, point).map(|v| -v + 0.0);
    }
    // The currency outside the parentheses: `$(12.50)`, `(12.50) EUR`.
    if let Some(cur) = currency.filter(|_| t.contains('(')) {
        let rest = t
            .strip_prefix(cur)
            .or_else(|| t.strip_suffix(cur))
            .map(str::trim);
        if let Some(inner) = rest.filter(|r| r.starts_with('(') && r.ends_with(')')) {
            return parse_number(inner, sep, None, money, point);
        }
    }
    match t.strip_suffix('%') {
        // Read as `1.1e-2`, not 1.1 / 100: the nearest decimal to what is written.
        Some(percent) if !money && !percent.trim_end().is_empty() => {
            let body = percent.trim_end();
            let plain = body
                .bytes()
                .all(|b| b.is_ascii_digit() || b == point || b == b'-' || b == b'+');
            if plain {
                parse_decimal(&format!("{body}e-2"), sep, point, true)
            } else {
                parse_amount(body, sep, currency, point).map(|v| v / 100.0)
            }
        }
        _ => parse_amount(t, sep, currency, point),
    }
}

/// A decimal with an optional currency symbol or code before or after it, before or after a
/// minus sign, with or without a space: `$1,234.50`, `-$12.00`, `$-12.00`, `12.00 $`, `1234.5`.
fn parse_amount(t: &str, sep: Option<&[u8]>, currency: Option<&str>, point: u8) -> Option<f64> {
    let Some(cur) = currency else {
        return parse_decimal(t, sep, point, true);
    };
    let (neg, rest) = match t.as_bytes()[0] {
        b'-' => (Some(true), &t[1..]),
        b'+' => (Some(false), &t[1..]),
        _ => (None, t),
    };
    let body = if let Some(r) = rest.strip_prefix(cur) {
        r.trim_start()
    } else if let Some(r) = rest.strip_suffix(cur) {
        r.trim_end()
    } else {
        rest
    };
    let value = parse_decimal(body, sep, point, neg.is_none())?;
    Some(if neg == Some(true) { -value } else { value })
}

/// Two ASCII digits, or four, at `at`.
fn number(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let mut v = 0;
    for &c in b.get(at..at + len)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// `YYYY-MM-DD` at the start of `b` (exact widths), a real calendar date.
fn iso_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(number(b, 0, 4)? as i32, number(b, 5, 2)?, number(b, 8, 2)?)
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS[.fff]][ ][Z|±HH[:MM]]]`: the date-time as written and its offset
/// east of UTC in seconds.
fn iso_datetime(b: &[u8]) -> Option<(NaiveDateTime, i32)> {
    let date = iso_date(b)?;
    if b.len() == 10 {
        return Some((date.and_time(NaiveTime::MIN), 0));
    }
    if !matches!(b[10], b' ' | b'T' | b't') || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (number(b, 11, 2)?, number(b, 14, 2)?);
    let mut i = 16;
    let (mut second, mut nano) = (0, 0);
    if b.get(i) == Some(&b':') {
        second = number(b, i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut scale = 100_000_000;
            while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                nano += u32::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    if b.get(i) == Some(&b' ') && i + 1 < b.len() {
        i += 1;
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let hours = number(b, i + 1, 2)?;
            let mut j = i + 3;
            let minutes = if j == b.len() {
                0
            } else {
                if b[j] == b':' {
                    j += 1;
                }
                let m = number(b, j, 2)?;
                j += 2;
                m
            };
            if j != b.len() || hours > 23 || minutes > 59 {
                return None;
            }
            let secs = (hours * 3600 + minutes * 60) as i32;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?;
    Some((date.and_time(time), offset))
}

impl FixedWidth {
    /// The fixed-width reading of a format, if it has one: a year, month and day, optionally an
    /// hour and minute (and second), each at most once, and ASCII literals that are not digits.
    fn new(items: &[Item<'static>]) -> Option<FixedWidth> {
        let mut parts = Vec::new();
        for item in items {
            match item {
                Item::Numeric(n, Pad::Zero) => parts.push(match n {
                    Numeric::Year => Part::Year,
                    Numeric::Month => Part::Month,
                    Numeric::Day => Part::Day,
                    Numeric::Hour => Part::Hour,
                    Numeric::Minute => Part::Minute,
                    Numeric::Second => Part::Second,
                    _ => return None,
                }),
                Item::Literal(text) => literal(&mut parts, text)?,
                Item::OwnedLiteral(text) => literal(&mut parts, text)?,
                // chrono skips any whitespace there; exactly one space is one of those cases.
                Item::Space(" ") => parts.push(Part::Byte(b' ')),
                Item::OwnedSpace(text) if &**text == " " => parts.push(Part::Byte(b' ')),
                _ => return None,
            }
        }
        let count = |part| parts.iter().filter(|&&p| p == part).count();
        let date = [Part::Year, Part::Month, Part::Day].map(count) == [1, 1, 1];
        let time = matches!(
            [Part::Hour, Part::Minute, Part::Second].map(count),
            [0, 0, 0] | [1, 1, 0] | [1, 1, 1]
        );
        let width = parts
            .iter()
            .map(|p| match p {
                Part::Year => 4,
                Part::Byte(_) => 1,
                _ => 2,
            })
            .sum();
        (date && time).then(|| FixedWidth {
            parts: parts.into_boxed_slice(),
            width,
        })
    }

    /// The date-time in `b` if it has exactly this width and shape; `None` leaves it to chrono.
    fn read(&self, b: &[u8]) -> Option<NaiveDateTime> {
        if b.len() != self.width {
            return None;
        }
        let (mut year, mut month, mut day) = (0, 0, 0);
        let (mut hour, mut minute, mut second) = (0, 0, 0);
        let mut at = 0;
        for part in self.parts.iter() {
            match *part {
                Part::Year => {
                    year = number(b, at, 4)?;
                    at += 4;
                    continue;
                }
                Part::Byte(c) => {
                    if b[at] != c {
                        return None;
                    }
                    at += 1;
                    continue;
                }
                Part::Month => month = number(b, at, 2)?,
                Part::Day => day = number(b, at, 2)?,
                Part::Hour => hour = number(b, at, 2)?,
                Part::Minute => minute = number(b, at, 2)?,
                Part::Second => second = number(b, at, 2)?,
            }
            at += 2;
        }
        NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, minute, second)
    }
}

/// Appends a format literal's bytes; `None` when it holds anything but ASCII non-digits.
fn literal(parts: &mut Vec<Part>, text: &str) -> Option<()> {
    for c in text.bytes() {
        if !c.is_ascii() || c.is_ascii_digit() || c.is_ascii_whitespace() && c != b' ' {
            return None;
        }
        parts.push(Part::Byte(c));
    }
    Some(())
}

/// Parses `t` with prepared chrono items.
fn parse_items(t: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, t, items.iter()).ok()?;
    Some(parsed)
}

/// A date format with its day and month swapped (`%m/%d/%Y` for `%d/%m/%Y`): a format read
/// after its swap misreads every cell both read (`01/02/2026`).
pub(crate) fn day_month_swapped(format: &str) -> String {
    format
        .replace("%d", "\u{0}")
        .replace("%m", "%d")
        .replace('\u{0}', "%m")
}

/// Whether `date`'s year has four digits: one of fewer (`12/31/25` read by `%Y`, `25-1-5`) is
/// a mistake, not the first century.
pub(crate) fn full_year(date: &NaiveDate) -> bool {
    (1000..=9999).contains(&chrono::Datelike::year(date))
}

impl DateFormat {
    /// The date a trimmed, non-empty cell holds.
    fn date(&self, t: &str) -> Option<NaiveDate> {
        self.any_date(t).filter(full_year)
    }

    /// The date-time (in UTC when the cell carries an offset) a trimmed, non-empty cell holds.
    fn datetime(&self, t: &str) -> Option<NaiveDateTime> {
        self.any_datetime(t).filter(|dt| full_year(&dt.date()))
    }

    /// [`DateFormat::date`], whatever the year.
    fn any_date(&self, t: &str) -> Option<NaiveDate> {
        match self {
            DateFormat::Declared(items, fixed) => {
                if let Some(dt) = fixed.as_ref().and_then(|f| f.read(t.as_bytes())) {
                    return Some(dt.date());
                }
                parse_items(t, items)?.to_naive_date().ok()
            }
            DateFormat::Iso => {
                let b = t.as_bytes();
                let fast = match b.len() {
                    10 => iso_date(b),
                    11.. if matches!(b[10], b' ' | b'T' | b't') => {
                        return iso_datetime(b).map(|(dt, _)| dt.date());
                    }
                    _ => None,
                };
                // chrono also reads unpadded forms such as `2026-1-5`.
                fast.or_else(|| parse_items(t, ISO_DATE)?.to_naive_date().ok())
            }
        }
    }

    /// [`DateFormat::datetime`], whatever the year.
    fn any_datetime(&self, t: &str) -> Option<NaiveDateTime> {
        match self {
            DateFormat::Declared(items, fixed) => {
                if let Some(dt) = fixed.as_ref().and_then(|f| f.read(t.as_bytes())) {
                    return Some(dt);
                }
                let parsed = parse_items(t, items)?;
                if parsed.offset().is_some() {
                    return parsed.to_datetime().ok().map(|dt| dt.naive_utc());
                }
                parsed
                    .to_naive_datetime_with_offset(0)
                    .ok()
                    .or_else(|| Some(parsed.to_naive_date().ok()?.and_time(NaiveTime::MIN)))
            }
            DateFormat::Iso => match iso_datetime(t.as_bytes()) {
                Some((local, offset)) => {
                    local.checked_sub_signed(TimeDelta::seconds(i64::from(offset)))
                }
                None => Some(
                    parse_items(t, ISO_DATE)?
                        .to_naive_date()
                        .ok()?
                        .and_time(NaiveTime::MIN),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{parse, RuleFormat};
    use proptest::prelude::*;
    use serde_json::json;

    /// The fields of a `customer { ... }` block holding `lines`.
    fn fields(lines: &str) -> Vec<Field> {
        let text = format!("customer {{\n{lines}\n}}\n");
        let (rules, diagnostics) = parse(Default::default(), &text, RuleFormat::Dsl);
        assert!(diagnostics.is_empty(), "{text}: {diagnostics:?}");
        rules.schema.expect("a schema").fields
    }

    /// The reader of the one field declared by `line`, e.g. `x int from "X"`.
    fn reader(line: &str) -> CellReader {
        let fields = fields(line);
        assert_eq!(fields.len(), 1);
        CellReader::new(&fields[0]).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn new_error(line: &str) -> String {
        CellReader::new(&fields(line)[0]).expect_err(line)
    }

    fn int(r: &CellReader, text: &str) -> i64 {
        let v = r.read(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert!(v.is_int(), "`{text}` gave {v:?}");
        v.as_int().unwrap()
    }

    fn float(r: &CellReader, text: &str) -> f64 {
        let v = r.read(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert!(v.is_float(), "`{text}` gave {v:?}");
        v.as_float().unwrap()
    }

    fn boolean(r: &CellReader, text: &str) -> bool {
        let v = r.read(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        v.as_bool().unwrap()
    }

    fn text(v: Dynamic) -> String {
        assert!(v.is_string(), "{v:?} is not a string");
        v.into_immutable_string().unwrap().to_string()
    }

    fn date(v: Dynamic) -> NaiveDate {
        v.clone()
            .try_cast::<NaiveDate>()
            .unwrap_or_else(|| panic!("{v:?} is not a date"))
    }

    fn datetime(v: Dynamic) -> NaiveDateTime {
        v.clone()
            .try_cast::<NaiveDateTime>()
            .unwrap_or_else(|| panic!("{v:?} is not a date-time"))
    }

    fn items(v: Dynamic) -> Vec<String> {
        assert!(v.is_array(), "{v:?} is not a list");
        v.into_array().unwrap().into_iter().map(text).collect()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn ymd_hms(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        ymd(y, m, d).and_hms_opt(h, mi, s).unwrap()
    }

    /// The error message for `text`, which must be invalid.
    fn invalid(r: &CellReader, text: &str) -> String {
        match r.read(text) {
            Err(e @ CellError::Invalid { .. }) => e.to_string(),
            other => panic!("`{text}` should be invalid, got {other:?}"),
        }
    }

    #[test]
    fn readers_are_send_sync_and_clone() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<CellReader>();
    }

    #[test]
    fn strings_are_kept_as_written() {
        let r = reader(r#"name string from "Name""#);
        assert_eq!(text(r.read("  Ada Lovelace ").unwrap()), "  Ada Lovelace ");
        assert_eq!(
            text(r.read("Müller, \"Hans\"").unwrap()),
            "Müller, \"Hans\""
        );
        assert_eq!(r.read("").unwrap_err(), CellError::Missing);
        assert_eq!(r.read(" \t ").unwrap_err(), CellError::Missing);
        let optional = reader(r#"phone string? from "Phone""#);
        assert!(optional.read("  ").unwrap().is_unit());
        let default = reader(r#"country string from "Country" default "US""#);
        assert_eq!(text(default.read("").unwrap()), "US");
        assert_eq!(text(default.read("IE").unwrap()), "IE");
    }

    #[test]
    fn reading_over_a_slot_reuses_only_what_no_one_else_holds() {
        let r = reader(r#"name string from "Name""#);
        let address = |v: &Dynamic| v.read_lock::<ImmutableString>().unwrap().as_ptr();
        let mut slot = string("a text too long to be kept inline, so it has a buffer");
        let buffer = address(&slot);
        r.read_over("Ada", &mut slot).unwrap();
        assert_eq!(text(slot.clone()), "Ada");
        assert_eq!(
            address(&slot),
            buffer,
            "the string's own buffer is written over"
        );
        // A string someone else holds is left as it is: the slot gets a string of its own.
        let held = slot.clone();
        r.read_over("Grace", &mut slot).unwrap();
        assert_eq!(
            (text(slot.clone()), text(held)),
            ("Grace".into(), "Ada".into())
        );
        // A cell that does not read leaves the slot as it was; another type replaces it.
        let count = reader(r#"n int from "N""#);
        assert!(count.read_over("many", &mut slot).is_err());
        assert_eq!(text(slot.clone()), "Grace");
        count.read_over("7", &mut slot).unwrap();
        assert_eq!(slot.as_int(), Ok(7));
        r.read_over("Ada", &mut slot).unwrap();
        assert_eq!(text(slot.clone()), "Ada");

        let day = reader(r#"d date from "D""#);
        let mut slot = day.read("2026-01-31").unwrap();
        let held = slot.clone();
        day.read_over("2026-02-01", &mut slot).unwrap();
        assert_eq!(
            date(slot.clone()),
            NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
        );
        assert_eq!(date(held), NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        let optional = reader(r#"d date? from "D""#);
        optional.read_over("", &mut slot).unwrap();
        assert!(slot.is_unit());
    }

    #[test]
    fn ints_take_sign_digits_and_declared_thousands() {
        let r = reader(r#"n int from "N""#);
        assert_eq!(int(&r, "42"), 42);
        assert_eq!(int(&r, "  -7 "), -7);
        assert_eq!(int(&r, "+3"), 3);
        assert_eq!(int(&r, "007"), 7);
        assert_eq!(int(&r, "9223372036854775807"), i64::MAX);
        assert_eq!(int(&r, "-9223372036854775808"), i64::MIN);
        for bad in [
            "12.5",
            "12abc",
            "1,234",
            "9223372036854775808",
            "-9223372036854775809",
            "- 5",
            "--5",
            "+",
            "-",
            "1 234",
            "0x10",
            "١٢",
        ] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, " 12.5 "),
            "expected a whole number such as `42`, found `12.5`"
        );

        let r = reader(r#"n int from "N" thousands ",""#);
        assert_eq!(int(&r, "1,234"), 1234);
        assert_eq!(int(&r, "-1,234,567"), -1_234_567);
        assert_eq!(int(&r, "1234567"), 1_234_567);
        assert_eq!(int(&r, "999"), 999);
        for bad in [
            "1,23", "12,5", "1234,567", ",123", "1,", "1,,234", "1,234,56", "1.234",
        ] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, "1,23"),
            "expected a whole number such as `1,234`, found `1,23`"
        );

        let dots = reader(r#"n int from "N" thousands ".""#);
        assert_eq!(int(&dots, "1.234.567"), 1_234_567);
        let spaces = reader(r#"n int from "N" thousands " ""#);
        assert_eq!(int(&spaces, " 12 345 "), 12_345);
    }

    #[test]
    fn decimals_take_fractions_and_exponents_but_not_infinities() {
        let r = reader(r#"x decimal from "X""#);
        assert_eq!(float(&r, "12.5"), 12.5);
        assert_eq!(float(&r, "12"), 12.0);
        assert_eq!(float(&r, " -0.25 "), -0.25);
        assert_eq!(float(&r, "+.5"), 0.5);
        assert_eq!(float(&r, "5."), 5.0);
        assert_eq!(float(&r, "1e3"), 1000.0);
        assert_eq!(float(&r, "1.5E-2"), 0.015);
        for bad in [
            "NaN", "nan", "inf", "-inf", "infinity", "1e999", "1.2.3", "e5", ".", "1e", "1e+",
            "12,5", "1,234.5", "$12", "12 5", "0x1p3",
        ] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, "inf"),
            "expected a number such as `12.5`, found `inf`"
        );

        let r = reader(r#"x decimal from "X" thousands ",""#);
        assert_eq!(float(&r, "1,234.5"), 1234.5);
        assert_eq!(float(&r, "-12,345,678.125e-3"), -12_345.678125);
        invalid(&r, "12,5");
        invalid(&r, "1,234,5.0");
        assert_eq!(
            invalid(&r, "1,2"),
            "expected a number such as `1,234.5`, found `1,2`"
        );
        // A number with more characters than the copy buffer holds.
        let long = format!("1,{}.5", vec!["000"; 30].join(","));
        assert_eq!(float(&r, &long), 1e90 + 0.5);
    }

    #[test]
    fn money_takes_the_declared_symbol_anywhere_sensible() {
        let r = reader(r#"spent money from "Total Spent" currency "$" thousands ",""#);
        for (cell, want) in [
            ("$1,234.50", 1234.5),
            ("-$12.00", -12.0),
            ("$-12.00", -12.0),
            ("12.00 $", 12.0),
            ("12.00$", 12.0),
            ("-12.00 $", -12.0),
            ("$ 1,234", 1234.0),
            ("+$3", 3.0),
            ("1234.5", 1234.5),
            ("-7", -7.0),
            (" $0.99 ", 0.99),
        ] {
            assert_eq!(float(&r, cell), want, "{cell}");
        }
        for bad in [
            "€12",
            "$",
            "$$12",
            "-$-12",
            "$12$",
            "12 $ 3",
            "1,23.00",
            "-",
            "$ -$12",
            "USD 12",
            "12 €",
            "$1.234,50",
        ] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, "€12"),
            "expected an amount such as `$1,234.50`, found `€12`"
        );

        let plain = reader(r#"spent money from "Spent""#);
        assert_eq!(float(&plain, "1234.5"), 1234.5);
        assert_eq!(
            invalid(&plain, "$12"),
            "expected an amount such as `1234.50`, found `$12`"
        );
        let euros = reader(r#"spent money from "Spent" currency "EUR" thousands " ""#);
        assert_eq!(float(&euros, "EUR 1 234.50"), 1234.5);
        assert_eq!(float(&euros, "-12.5 EUR"), -12.5);
        assert_eq!(
            invalid(&euros, "12,50 EUR"),
            "expected an amount such as `EUR 1 234.50`, found `12,50 EUR`"
        );
        // A decimal field may declare a currency too (`check` allows it).
        let decimal = reader(r#"x decimal from "X" currency "£""#);
        assert_eq!(float(&decimal, "£12.5"), 12.5);
    }

    #[test]
    fn a_thousands_separator_that_is_the_decimal_mark_is_refused_up_front() {
        assert_eq!(
            new_error(r#"spent money from "S" thousands ".""#),
            "the thousands separator `.` of `spent` is also the decimal mark `.`: a number would \
             read two ways"
        );
        assert!(new_error(r#"x decimal from "X" thousands "e""#).contains("exponents"));
    }

    #[test]
    fn bools_take_declared_or_standard_words() {
        let r = reader(r#"ok bool from "OK""#);
        for yes in ["true", "TRUE", "Yes", "y", "Y", "1", "  yes  "] {
            assert!(boolean(&r, yes), "{yes}");
        }
        for no in ["false", "False", "NO", "n", "0", " N "] {
            assert!(!boolean(&r, no), "{no}");
        }
        for bad in ["maybe", "2", "ja", "yess", "t", "on"] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, "maybe"),
            "expected `true`/`false`, `yes`/`no`, `y`/`n` or `1`/`0`, found `maybe`"
        );

        let r = reader(r#"ok bool from "OK" words ja/nein"#);
        assert!(boolean(&r, "JA"));
        assert!(boolean(&r, " ja "));
        assert!(!boolean(&r, "Nein"));
        assert_eq!(invalid(&r, "yes"), "expected `ja` or `nein`, found `yes`");
        invalid(&r, "1");

        let r = reader(r#"ok bool from "OK" words "SÍ"/"no""#);
        assert!(boolean(&r, "sí"));
        assert!(!boolean(&r, "NO"));
        invalid(&r, "si");

        // Words of several words, in any case.
        let r = reader(r#"ok bool from "OK" words "opted in"/"opted out""#);
        assert!(boolean(&r, "Opted In"));
        assert!(!boolean(&r, " OPTED OUT "));
        invalid(&r, "opted");
    }

    #[test]
    fn iso_dates_are_read_by_hand_and_validated() {
        let r = reader(r#"d date from "D""#);
        let read = |t: &str| date(r.read(t).unwrap_or_else(|e| panic!("`{t}`: {e}")));
        assert_eq!(read("2026-01-31"), ymd(2026, 1, 31));
        assert_eq!(read(" 2024-02-29 "), ymd(2024, 2, 29));
        assert_eq!(read("2026-11-01T09:30:00Z"), ymd(2026, 11, 1));
        assert_eq!(read("2026-11-01 09:30"), ymd(2026, 11, 1));
        // The date as written, not moved by the offset.
        assert_eq!(read("2026-11-01T23:30:00-05:00"), ymd(2026, 11, 1));
        assert_eq!(read("2026-1-5"), ymd(2026, 1, 5));
        for bad in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "31/01/2026",
            "2026/01/31",
            "2026-11-01Tnope",
            "2026-11-01T25:00",
            "2026-11-01x",
            "20260131",
            "yesterday",
        ] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, "2026-02-30"),
            "expected a date such as `2026-01-31`, found `2026-02-30`"
        );
    }

    #[test]
    fn dates_follow_the_declared_format() {
        let r = reader(r#"d date from "D" format "%d/%m/%Y""#);
        assert_eq!(date(r.read("31/01/2026").unwrap()), ymd(2026, 1, 31));
        assert_eq!(date(r.read("02/05/2026").unwrap()), ymd(2026, 5, 2));
        assert_eq!(
            invalid(&r, "2025-13-01"),
            "expected a date such as `31/01/2026` (format `%d/%m/%Y`), found `2025-13-01`"
        );
        invalid(&r, "2026-01-31");
        invalid(&r, "31/02/2026");
        invalid(&r, "01/31/2026");

        let r = reader(r#"d date from "D" format "%b %d, %Y""#);
        assert_eq!(date(r.read("Jan 31, 2026").unwrap()), ymd(2026, 1, 31));
        assert_eq!(
            invalid(&r, "31 Jan 2026"),
            "expected a date such as `Jan 31, 2026` (format `%b %d, %Y`), found `31 Jan 2026`"
        );
        assert!(new_error(r#"d date from "D" format "%Q""#).contains("not a valid chrono format"));
    }

    #[test]
    fn several_formats_are_tried_in_order_and_short_years_refused() {
        let r = reader(r#"d date from "D" format "%m/%d/%Y", "%Y-%m-%d""#);
        assert_eq!(date(r.read("12/31/2025").unwrap()), ymd(2025, 12, 31));
        assert_eq!(date(r.read("2025-12-31").unwrap()), ymd(2025, 12, 31));
        // The first that reads the cell wins: `01/02/2026` is January.
        assert_eq!(date(r.read("01/02/2026").unwrap()), ymd(2026, 1, 2));
        assert_eq!(
            invalid(&r, "31/12/2025"),
            "expected a date such as `01/31/2026` (format `%m/%d/%Y`) or `2026-01-31` (format \
             `%Y-%m-%d`), found `31/12/2025`"
        );
        // `%Y` reading two digits is a mistake, not the year 25; `%y` reads them where declared.
        assert_eq!(
            invalid(&r, "12/31/25"),
            "expected a date such as `01/31/2026` (format `%m/%d/%Y`) or `2026-01-31` (format \
             `%Y-%m-%d`), found `12/31/25`"
        );
        invalid(&reader(r#"d date from "D""#), "25-1-5");
        let r = reader(r#"d date from "D" format "%m/%d/%Y", "%m/%d/%y""#);
        assert_eq!(date(r.read("12/31/25").unwrap()), ymd(2025, 12, 31));
        assert_eq!(date(r.read("12/31/2025").unwrap()), ymd(2025, 12, 31));
        // A date-time's offset, read by `%z`, is taken to UTC.
        let r = reader(r#"t datetime from "T" format "%d.%m.%Y %H:%M %z", "%d.%m.%Y""#);
        assert_eq!(
            datetime(r.read("31.01.2026 23:30 -0500").unwrap()),
            ymd_hms(2026, 2, 1, 4, 30, 0)
        );
        assert_eq!(
            datetime(r.read("31.01.2026").unwrap()),
            ymd_hms(2026, 1, 31, 0, 0, 0)
        );
    }

    #[test]
    fn accounting_negatives_percentages_and_currency_codes() {
        let r = reader(r#"m money from "M" currency "$" thousands ",""#);
        assert_eq!(float(&r, "(12.50)"), -12.5);
        assert_eq!(float(&r, "($1,234.50)"), -1234.5);
        assert_eq!(float(&r, "( $3 )"), -3.0);
        assert_eq!(float(&r, "(0.00)").to_bits(), 0.0f64.to_bits());
        // The currency outside the parentheses.
        assert_eq!(float(&r, "$(12.50)"), -12.5);
        assert_eq!(float(&r, "$ (1,234.50)"), -1234.5);
        for bad in [
            "(-12)",
            "()",
            "(12",
            "12)",
            "((12))",
            "12%",
            "(12%)",
            "($-12.50)",
            "(1e+2)",
            "$($12)",
            "$(-12)",
        ] {
            invalid(&r, bad);
        }
        let r = reader(r#"m money from "M" currency "USD""#);
        assert_eq!(float(&r, "USD 12.00"), 12.0);
        assert_eq!(float(&r, "12.00 USD"), 12.0);
        assert_eq!(float(&r, "(USD 7.25)"), -7.25);
        let r = reader(r#"x decimal from "X""#);
        assert_eq!(float(&r, "12%"), 0.12);
        assert_eq!(float(&r, "12.5 %"), 0.125);
        assert_eq!(float(&r, "(2.5)"), -2.5);
        assert_eq!(float(&r, "-3%"), -0.03);
        assert_eq!(float(&r, "(12%)"), -0.12);
        invalid(&r, "(-12%)");
        // A space separator takes the no-break spaces of exports too.
        let r = reader(r#"x decimal from "X" thousands " ""#);
        assert_eq!(float(&r, "1 234.5"), 1234.5);
        assert_eq!(float(&r, "1\u{a0}234.5"), 1234.5);
        assert_eq!(float(&r, "12\u{202f}345\u{202f}678"), 12_345_678.0);
        invalid(&r, "1\u{a0}23.5");
        // The nearest decimal to what is written, not 1.1 / 100.
        assert_eq!(float(&r, "1.1%"), 0.011);
        assert_eq!(float(&r, "0.07%"), 0.0007);
        for bad in ["%", "12%%", "% 12"] {
            invalid(&r, bad);
        }
    }

    #[test]
    fn decimal_commas_where_declared() {
        let r = reader(r#"m money from "M" currency "€" thousands "." decimal ",""#);
        assert_eq!(float(&r, "1.234,50 €"), 1234.5);
        assert_eq!(float(&r, "€-12,5"), -12.5);
        assert_eq!(float(&r, "(1.000,00)"), -1000.0);
        assert_eq!(
            invalid(&r, "1,234.50"),
            "expected an amount such as `€1.234,50`, found `1,234.50`"
        );
        let r = reader(r#"x decimal from "X" thousands " " decimal ",""#);
        assert_eq!(float(&r, "1 234,5"), 1234.5);
        assert_eq!(float(&r, "12,5%"), 0.125);
        invalid(&r, "1 234.5");
        // The default is the point; a mark is `.` or `,`; never both for one number.
        assert_eq!(
            float(&reader(r#"x decimal from "X" decimal ".""#), "2.5"),
            2.5
        );
        assert!(new_error(r#"x decimal from "X" decimal ";""#).contains("must be `.` or `,`"));
        assert!(new_error(r#"x decimal from "X" thousands "," decimal ",""#)
            .contains("is also the decimal mark `,`"));
        assert!(
            new_error(r#"x money from "X" thousands ".""#).contains("is also the decimal mark `.`")
        );
    }

    #[test]
    fn missing_words_read_as_an_empty_cell() {
        let r = reader(r#"x money? from "X" currency "$" missing "N/A", "-""#);
        assert!(r.read(" N/A ").unwrap().is_unit());
        assert!(r.read("-").unwrap().is_unit());
        assert_eq!(float(&r, "$12.50"), 12.5);
        // Case and all: `n/a` is not one of them.
        invalid(&r, "n/a");
        // The rule set's words come on top of the field's.
        let everywhere = [crate::model::Spanned::new(
            "n/a".to_string(),
            Default::default(),
        )];
        let r = r.with_missing(&everywhere);
        assert!(r.read("n/a").unwrap().is_unit());
        assert!(r.read("N/A").unwrap().is_unit());
        // A required field says the cell is empty; a default fills it.
        let r = reader(r#"x int from "X" missing "unknown""#);
        assert_eq!(r.read("unknown").unwrap_err(), CellError::Missing);
        let r = reader(r#"x int from "X" default 0 missing "unknown""#);
        assert_eq!(int(&r, "unknown"), 0);
        // JSONL strings alike.
        assert_eq!(
            r.read_json(Some(&json!("unknown"))).unwrap().as_int(),
            Ok(0)
        );
    }

    #[test]
    fn plain_numeric_formats_are_read_by_hand() {
        let fixed = |format: &str| {
            let items = StrftimeItems::new(format).parse_to_owned().unwrap();
            FixedWidth::new(&items).map(|f| f.width)
        };
        assert_eq!(fixed("%d/%m/%Y"), Some(10));
        assert_eq!(fixed("%F %T"), Some(19));
        assert_eq!(fixed("%Y%m%d%H%M"), Some(12));
        for chrono_only in [
            "%e/%m/%Y",
            "%-d/%m/%Y",
            "%d %b %Y",
            "%d/%m/%y",
            "%d/%m",
            "%F %H",
            "%F %z",
        ] {
            assert_eq!(fixed(chrono_only), None, "{chrono_only}");
        }
        // Unpadded cells miss the fixed width and go to chrono, which reads them.
        let r = reader(r#"d date from "D" format "%d/%m/%Y""#);
        assert_eq!(date(r.read("2/5/2026").unwrap()), ymd(2026, 5, 2));
        let r = reader(r#"t datetime from "T" format "%Y-%m-%d %H:%M:%S""#);
        assert_eq!(
            datetime(r.read("2026-01-31  09:30:00").unwrap()),
            ymd_hms(2026, 1, 31, 9, 30, 0)
        );
    }

    #[test]
    fn iso_datetimes_take_fractions_offsets_and_plain_dates() {
        let r = reader(r#"t datetime from "T""#);
        let read = |t: &str| datetime(r.read(t).unwrap_or_else(|e| panic!("`{t}`: {e}")));
        assert_eq!(read("2026-01-31 09:30"), ymd_hms(2026, 1, 31, 9, 30, 0));
        assert_eq!(read("2026-01-31T09:30:15"), ymd_hms(2026, 1, 31, 9, 30, 15));
        assert_eq!(
            read("2026-01-31T09:30:15.25"),
            ymd(2026, 1, 31).and_hms_milli_opt(9, 30, 15, 250).unwrap()
        );
        assert_eq!(
            read("2026-01-31 09:30:15.123456789"),
            ymd(2026, 1, 31)
                .and_hms_nano_opt(9, 30, 15, 123_456_789)
                .unwrap()
        );
        assert_eq!(read("2026-01-31T09:30:00Z"), ymd_hms(2026, 1, 31, 9, 30, 0));
        assert_eq!(
            read("2026-01-31T09:30:00+02:00"),
            ymd_hms(2026, 1, 31, 7, 30, 0)
        );
        assert_eq!(
            read("2026-01-31 09:30 +0530"),
            ymd_hms(2026, 1, 31, 4, 0, 0)
        );
        assert_eq!(read("2026-01-31T21:00-03"), ymd_hms(2026, 2, 1, 0, 0, 0));
        assert_eq!(
            read("2026-01-31T00:30:00+01:00"),
            ymd_hms(2026, 1, 30, 23, 30, 0)
        );
        assert_eq!(read("2026-01-31"), ymd_hms(2026, 1, 31, 0, 0, 0));
        for bad in [
            "2026-01-31 9:30",
            "2026-01-31T24:00",
            "2026-01-31T09:60",
            "2026-01-31T09:30:00+2",
            "2026-01-31T09:30:00+02:",
            "2026-01-31T09:30:00+24:00",
            "2026-01-31T09:30:00Zx",
            "2026-01-31T09:30:",
            "2026-01-31 09:30:00.",
            "2026-01-31T",
            "2026-02-30 10:00",
            "31/01/2026 09:30",
        ] {
            invalid(&r, bad);
        }
        assert_eq!(
            invalid(&r, "2026-01-31 9:30"),
            "expected a date-time such as `2026-01-31 09:30:00`, found `2026-01-31 9:30`"
        );
    }

    #[test]
    fn datetimes_follow_the_declared_format() {
        let r = reader(r#"t datetime from "T" format "%d/%m/%Y %H:%M""#);
        assert_eq!(
            datetime(r.read("31/01/2026 09:30").unwrap()),
            ymd_hms(2026, 1, 31, 9, 30, 0)
        );
        assert_eq!(
            invalid(&r, "2026-01-31 09:30"),
            "expected a date-time such as `31/01/2026 09:30` (format `%d/%m/%Y %H:%M`), found `2026-01-31 09:30`"
        );
        let zoned = reader(r#"t datetime from "T" format "%Y-%m-%d %H:%M %z""#);
        assert_eq!(
            datetime(zoned.read("2026-01-31 09:30 +0200").unwrap()),
            ymd_hms(2026, 1, 31, 7, 30, 0)
        );
        let day_only = reader(r#"t datetime from "T" format "%d/%m/%Y""#);
        assert_eq!(
            datetime(day_only.read("31/01/2026").unwrap()),
            ymd_hms(2026, 1, 31, 0, 0, 0)
        );
    }

    #[test]
    fn lists_split_trim_and_drop_empty_items() {
        let r = reader(r#"tags list? from "Tags""#);
        assert_eq!(
            items(r.read("vip; newsletter ;;").unwrap()),
            ["vip", "newsletter"]
        );
        assert_eq!(items(r.read("a,b").unwrap()), ["a,b"]);
        assert!(r.read(" ; ;").unwrap().is_unit());
        assert!(r.read("").unwrap().is_unit());
        let required = reader(r#"tags list from "Tags" separator "|""#);
        assert_eq!(items(required.read("a | b|c").unwrap()), ["a", "b", "c"]);
        assert_eq!(required.read("|").unwrap_err(), CellError::Missing);
        let long_sep = reader(r#"tags list from "Tags" separator "::""#);
        assert_eq!(items(long_sep.read("a::b:c:: ").unwrap()), ["a", "b:c"]);
        let default = reader(r#"tags list from "Tags" default "new; web""#);
        assert_eq!(items(default.read(";").unwrap()), ["new", "web"]);
    }

    #[test]
    fn empty_cells_take_the_default_then_unit_then_fail() {
        let orders = reader(r#"orders int from "Orders" default 0"#);
        assert_eq!(int(&orders, ""), 0);
        assert_eq!(int(&orders, "   "), 0);
        assert_eq!(int(&orders, "3"), 3);
        let both = reader(r#"orders int? from "Orders" default 1"#);
        assert_eq!(int(&both, ""), 1);
        // An int default of a decimal or money field is a float.
        let spent = reader(r#"spent money from "Spent" currency "$" default 0"#);
        assert_eq!(float(&spent, ""), 0.0);
        let rate = reader(r#"rate decimal from "Rate" default 0.5"#);
        assert_eq!(float(&rate, " "), 0.5);
        let flag = reader(r#"ok bool from "OK" default true"#);
        assert!(boolean(&flag, ""));
        // A string default of a date field reads like a cell, or as ISO (what `check` accepts).
        let like_cell = reader(r#"d date from "D" format "%d/%m/%Y" default "01/02/2026""#);
        assert_eq!(date(like_cell.read("").unwrap()), ymd(2026, 2, 1));
        let iso = reader(r#"d date from "D" format "%d/%m/%Y" default "2026-02-01""#);
        assert_eq!(date(iso.read("").unwrap()), ymd(2026, 2, 1));
        let at = reader(r#"t datetime from "T" default "2026-02-01 08:00""#);
        assert_eq!(datetime(at.read("").unwrap()), ymd_hms(2026, 2, 1, 8, 0, 0));

        let optional = reader(r#"nps int? from "NPS""#);
        assert!(optional.read("").unwrap().is_unit());
        let required = reader(r#"nps int from "NPS""#);
        assert_eq!(required.read("").unwrap_err(), CellError::Missing);
        assert_eq!(
            CellError::Missing.to_string(),
            "the cell is empty, but the field is required"
        );
    }

    #[test]
    fn defaults_that_do_not_fit_are_refused() {
        assert_eq!(
            new_error(r#"orders int from "Orders" default "none""#),
            r#"the default `"none"` of `orders` is not a whole number such as `42`"#
        );
        assert_eq!(
            new_error(r#"d date from "D" format "%d/%m/%Y" default "2026-13-01""#),
            r#"the default `"2026-13-01"` of `d` is not a date such as `31/01/2026` (format `%d/%m/%Y`)"#
        );
        assert!(new_error(r#"orders int from "Orders" default 1.5"#).contains("whole number"));
        assert!(new_error(r#"ok bool from "OK" default 1"#).contains("`1`"));
        assert!(new_error(r#"name string from "Name" default 3"#).contains("text"));
        assert!(new_error(r#"ok bool from "OK" words yes/YES"#).contains("two different words"));
        assert!(new_error(r#"tags list from "Tags" separator """#).contains("empty"));
        assert!(new_error(r#"n int from "N" thousands """#).contains("thousands"));
    }

    #[test]
    fn long_and_odd_cells_are_shown_shortened_and_escaped() {
        let r = reader(r#"n int from "N""#);
        let long = "x".repeat(100);
        assert_eq!(
            r.read(&long).unwrap_err(),
            CellError::Invalid {
                found: format!("{}...", "x".repeat(40)),
                expected: "a whole number such as `42`".into(),
            }
        );
        let exactly = "é".repeat(40);
        assert!(invalid(&r, &exactly).ends_with(&format!("`{exactly}`")));
        assert_eq!(
            invalid(&r, "1\n2"),
            "expected a whole number such as `42`, found `1\\u{a}2`"
        );
    }

    #[test]
    fn json_values_read_by_type() {
        let orders = reader(r#"orders int from "Orders""#);
        assert_eq!(orders.read_json(Some(&json!(42))).unwrap().as_int(), Ok(42));
        assert_eq!(orders.read_json(Some(&json!(3.0))).unwrap().as_int(), Ok(3));
        assert_eq!(
            orders.read_json(Some(&json!(" 7 "))).unwrap().as_int(),
            Ok(7)
        );
        assert_eq!(
            orders.read_json(Some(&json!(-9.0e15))).unwrap().as_int(),
            Ok(-9_000_000_000_000_000)
        );
        // Beyond 2^53 a decimal may not be the number written: below i64::MIN, say, which the
        // JSON reader makes a decimal that would read as i64::MIN. Refused, as in CSV.
        let below: serde_json::Value = serde_json::from_str("-9223372036854775809").unwrap();
        for beyond in [below, json!(-9.0e18), json!(1.0e16)] {
            assert!(orders.read_json(Some(&beyond)).is_err(), "{beyond}");
        }
        assert_eq!(orders.read_json(None).unwrap_err(), CellError::Missing);
        assert_eq!(
            orders.read_json(Some(&json!(null))).unwrap_err(),
            CellError::Missing
        );
        assert_eq!(
            orders.read_json(Some(&json!(""))).unwrap_err(),
            CellError::Missing
        );
        for bad in [
            json!(3.5),
            json!(1e20),
            json!(u64::MAX),
            json!(true),
            json!([1]),
        ] {
            assert!(
                matches!(orders.read_json(Some(&bad)), Err(CellError::Invalid { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            orders.read_json(Some(&json!(3.5))).unwrap_err().to_string(),
            "expected a whole number such as `42`, found `3.5`"
        );

        let spent = reader(r#"spent money? from "Spent" currency "$" thousands ",""#);
        let amount = |v: serde_json::Value| spent.read_json(Some(&v)).unwrap();
        assert_eq!(amount(json!(12.5)).as_float(), Ok(12.5));
        assert_eq!(amount(json!(7)).as_float(), Ok(7.0));
        assert_eq!(amount(json!("$1,234.50")).as_float(), Ok(1234.5));
        assert!(spent.read_json(None).unwrap().is_unit());
        assert!(spent.read_json(Some(&json!({"amount": 1}))).is_err());

        let name = reader(r#"name string from "Name""#);
        let as_text = |v: serde_json::Value| text(name.read_json(Some(&v)).unwrap());
        assert_eq!(as_text(json!(" Ada ")), " Ada ");
        assert_eq!(as_text(json!(42)), "42");
        assert_eq!(as_text(json!(12.5)), "12.5");
        assert_eq!(as_text(json!(true)), "true");
        assert_eq!(
            name.read_json(Some(&json!({"first": "Ada"})))
                .unwrap_err()
                .to_string(),
            r#"expected text such as `Ada`, found `{"first":"Ada"}`"#
        );
        assert_eq!(
            name.read_json(Some(&json!("  "))).unwrap_err(),
            CellError::Missing
        );

        let ok = reader(r#"ok bool from "OK" words yes/no"#);
        assert_eq!(
            ok.read_json(Some(&json!(true))).unwrap().as_bool(),
            Ok(true)
        );
        assert_eq!(
            ok.read_json(Some(&json!("No"))).unwrap().as_bool(),
            Ok(false)
        );
        assert_eq!(
            ok.read_json(Some(&json!(1))).unwrap_err().to_string(),
            "expected `yes` or `no`, found `1`"
        );

        let tags = reader(r#"tags list? from "Tags""#);
        assert_eq!(
            items(tags.read_json(Some(&json!(["vip", " a ", ""]))).unwrap()),
            ["vip", "a"]
        );
        assert_eq!(
            items(tags.read_json(Some(&json!("vip;b"))).unwrap()),
            ["vip", "b"]
        );
        assert!(tags.read_json(Some(&json!([]))).unwrap().is_unit());
        assert!(tags.read_json(Some(&json!([" "]))).unwrap().is_unit());
        assert_eq!(
            tags.read_json(Some(&json!(["vip", 1])))
                .unwrap_err()
                .to_string(),
            r#"expected a list of texts such as `["vip", "newsletter"]`, found `["vip",1]`"#
        );

        let day = reader(r#"d date from "D""#);
        assert_eq!(
            date(day.read_json(Some(&json!("2026-01-31"))).unwrap()),
            ymd(2026, 1, 31)
        );
        assert!(day.read_json(Some(&json!(20260131))).is_err());

        let long = json!(["x".repeat(60)]);
        match name.read_json(Some(&long)) {
            Err(CellError::Invalid { found, .. }) => {
                assert_eq!(found, format!("[\"{}...", "x".repeat(38)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_retail_schema_reads_the_example_export() {
        let rules_text = include_str!("../../rules/retail/retail.idic");
        let (rules, diagnostics) = parse(Default::default(), rules_text, RuleFormat::Dsl);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let schema = rules.schema.unwrap();
        let export = include_str!("../../examples/customers.csv");
        let mut csv = csv::Reader::from_reader(export.as_bytes());
        let header = csv.headers().unwrap().clone();
        let columns: Vec<(String, usize, CellReader)> = schema
            .fields
            .iter()
            .map(|f| {
                let at = header.iter().position(|h| h == f.column.value).unwrap();
                (f.name.value.clone(), at, CellReader::new(f).unwrap())
            })
            .collect();
        let mut customers = Vec::new();
        for row in csv.records() {
            let row = row.unwrap();
            let customer: std::collections::HashMap<String, Dynamic> = columns
                .iter()
                .map(|(name, at, reader)| {
                    let value = reader
                        .read(&row[*at])
                        .unwrap_or_else(|e| panic!("{} column `{}`: {e}", &row[0], &header[*at]));
                    (name.clone(), value)
                })
                .collect();
            customers.push(customer);
        }
        assert_eq!(customers.len(), 400);

        let by_id = |id: &str| {
            customers
                .iter()
                .find(|c| text(c["id"].clone()) == id)
                .unwrap()
        };
        // C000101,Ruby,Taylor,ruby.taylor101@example.org,2019-01-12,03/12/2024,15,$675.33,yes,no,
        //   +49 30 55506256,DE,newsletter,10,0,
        let c = &customers[0];
        assert_eq!(text(c["id"].clone()), "C000101");
        assert_eq!(text(c["first_name"].clone()), "Ruby");
        assert_eq!(text(c["email"].clone()), "ruby.taylor101@example.org");
        assert_eq!(date(c["signup"].clone()), ymd(2019, 1, 12));
        assert_eq!(date(c["last_order"].clone()), ymd(2024, 12, 3));
        assert_eq!(c["orders"].as_int(), Ok(15));
        assert_eq!(c["spent"].as_float(), Ok(675.33));
        assert_eq!(c["email_ok"].as_bool(), Ok(true));
        assert_eq!(c["sms_ok"].as_bool(), Ok(false));
        assert_eq!(text(c["phone"].clone()), "+49 30 55506256");
        assert_eq!(text(c["country"].clone()), "DE");
        assert_eq!(items(c["tags"].clone()), ["newsletter"]);
        assert_eq!(c["nps"].as_int(), Ok(10));
        assert_eq!(c["open_tickets"].as_int(), Ok(0));

        // C000103: NPS empty, two tags.
        let c = &customers[2];
        assert!(c["nps"].is_unit());
        assert_eq!(items(c["tags"].clone()), ["returned-item", "newsletter"]);
        assert_eq!(c["open_tickets"].as_int(), Ok(1));

        // C000104: no phone, no tags, no consent.
        let c = &customers[3];
        assert!(c["phone"].is_unit());
        assert!(c["tags"].is_unit());
        assert_eq!(c["sms_ok"].as_bool(), Ok(false));

        // C000121,José,Tran,...,"$2,680.17",no,no,...
        let c = by_id("C000121");
        assert_eq!(text(c["first_name"].clone()), "José");
        assert_eq!(c["spent"].as_float(), Ok(2680.17));
        assert_eq!(c["email_ok"].as_bool(), Ok(false));

        // C000124: Open Support Tickets is blank.
        let c = by_id("C000124");
        assert_eq!(
            c["open_tickets"].as_int(),
            Ok(0),
            "the default fills the blank"
        );

        // C000280: "$1,993.01", three tags.
        let c = by_id("C000280");
        assert_eq!(c["spent"].as_float(), Ok(1993.01));
        assert_eq!(
            items(c["tags"].clone()),
            ["newsletter", "birthday-club", "vip"]
        );
        assert!(customers.iter().any(|c| c["last_order"].is_unit()));
    }

    /// Formats `n` with `,` between groups of three digits.
    fn grouped(n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    fn every_type() -> Vec<CellReader> {
        fields(
            r#"s string from "S"
            i int from "I" thousands ","
            d decimal? from "D" thousands " "
            m money from "M" currency "$" thousands ","
            e money from "E" currency "EUR"
            b bool from "B"
            w bool from "W" words "sí"/no
            a date from "A"
            f date from "F" format "%d/%m/%Y"
            t datetime from "T"
            z datetime from "Z" format "%Y-%m-%d %H:%M %z"
            l list from "L"
            k list from "K" separator "::""#,
        )
        .iter()
        .map(|f| CellReader::new(f).unwrap())
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// The quick trim is `str::trim`, for any text, whitespace of every kind included.
        #[test]
        fn trimmed_is_str_trim(text in "[ \t\r\n\u{a0}\u{3000}\u{85}a,é]{0,6}") {
            prop_assert_eq!(trimmed(&text), text.trim());
        }

        #[test]
        fn no_text_panics_any_type(text in "\\PC{0,30}|[-+$ .,:0-9eEZTzn/]{0,30}") {
            for r in every_type() {
                let _ = r.read(&text);
                let _ = r.read_json(Some(&serde_json::Value::String(text.clone())));
            }
        }

        #[test]
        fn no_json_number_panics_any_type(i in any::<i64>(), u in any::<u64>(), f in any::<f64>()) {
            let numbers = [json!(i), json!(u), json!(f), json!([f]), json!({"n": i})];
            for r in every_type() {
                for n in &numbers {
                    let _ = r.read_json(Some(n));
                }
            }
        }

        #[test]
        fn grouped_ints_read_back(n in any::<i64>()) {
            let r = reader(r#"n int from "N" thousands ",""#);
            let sign = if n < 0 { "-" } else { "" };
            let cell = format!("{sign}{}", grouped(n.unsigned_abs()));
            prop_assert_eq!(r.read(&cell).unwrap().as_int(), Ok(n));
        }

        #[test]
        fn money_amounts_read_back(amount in -1e12f64..1e12) {
            let r = reader(r#"m money from "M" currency "$" thousands ",""#);
            let cents = (amount.abs() * 100.0).round() as u64;
            let sign = if amount < 0.0 && cents > 0 { "-" } else { "" };
            let cell = format!("{sign}${}.{:02}", grouped(cents / 100), cents % 100);
            let read = r.read(&cell).unwrap().as_float().unwrap();
            prop_assert!((read - amount).abs() <= 0.005 + amount.abs() * 1e-15, "{} -> {}", cell, read);
        }

        #[test]
        fn fast_decimals_equal_str_parse(int in "[0-9]{1,12}", frac in "[0-9]{0,9}", neg in any::<bool>()) {
            let r = reader(r#"x decimal from "X""#);
            let cell = format!("{}{int}.{frac}", if neg { "-" } else { "" });
            let want: f64 = cell.parse().unwrap();
            let got = r.read(&cell).unwrap().as_float().unwrap();
            prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", cell);
        }

        #[test]
        fn fixed_width_formats_agree_with_chrono(
            year in 0u32..10_000, month in 0u32..14, day in 0u32..33,
            hour in 0u32..26, minute in 0u32..62, second in 0u32..62,
        ) {
            let day_first = format!("{day:02}/{month:02}/{year:04}");
            let r = reader(r#"d date from "D" format "%d/%m/%Y""#);
            // (A year before 1000 is refused: fewer than four digits are a mistake.)
            let want = NaiveDate::parse_from_str(&day_first, "%d/%m/%Y").ok().filter(full_year);
            prop_assert_eq!(r.read(&day_first).ok().map(date), want, "{}", day_first);

            let format = "%Y-%m-%d %H:%M:%S";
            let stamp = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
            let r = reader(&format!(r#"t datetime from "T" format "{format}""#));
            let want = NaiveDateTime::parse_from_str(&stamp, format).ok().filter(|t| full_year(&t.date()));
            prop_assert_eq!(r.read(&stamp).ok().map(datetime), want, "{}", stamp);

            let compact = format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}");
            let r = reader(r#"t datetime from "T" format "%Y%m%d%H%M""#);
            let want = NaiveDateTime::parse_from_str(&compact, "%Y%m%d%H%M").ok().filter(|t| full_year(&t.date()));
            prop_assert_eq!(r.read(&compact).ok().map(datetime), want, "{}", compact);
        }

        #[test]
        fn formatted_dates_read_back(days in 0i64..200_000, format in prop::sample::select(vec![
            "%d/%m/%Y", "%Y-%m-%d", "%m-%d-%Y", "%e %b %Y", "%Y%m%d", "%A %d %B %Y", "%d.%m.%Y",
        ])) {
            let day = ymd(1900, 1, 1) + TimeDelta::days(days);
            let r = reader(&format!(r#"d date from "D" format "{format}""#));
            let cell = day.format(format).to_string();
            prop_assert_eq!(date(r.read(&cell).unwrap()), day, "{}", cell);
            let iso = reader(r#"d date from "D""#);
            prop_assert_eq!(date(iso.read(&day.format("%Y-%m-%d").to_string()).unwrap()), day);
        }
    }
}
