//! The customer schema: a key field, formats that fit their field's type, sane defaults.

use super::a;
use crate::diagnostics::{Code, Diagnostic};
use crate::io::cells::{day_month_swapped, decimal_mark, thousands_problem};
use crate::model::{Field, FieldType, FormatOption, Literal, RuleSet, Spanned};
use std::fmt::Write as _;

pub fn check(rules: &RuleSet, out: &mut Vec<Diagnostic>) {
    let Some(schema) = &rules.schema else {
        let at = rules
            .settings
            .as_ref()
            .map(|s| s.span)
            .or_else(|| rules.metrics.first().map(|m| m.span))
            .or_else(|| rules.segments.first().map(|s| s.span))
            .or_else(|| rules.tiers.as_ref().map(|t| t.span))
            .or_else(|| rules.triggers.first().map(|t| t.span));
        let mut d = Diagnostic::error(Code::NoSchema, "the rule set has no `customer` schema")
            .help("declare the export's columns in a `customer { ... }` block");
        if let Some(at) = at {
            d = d.at(at);
        }
        out.push(d);
        return;
    };
    let keys: Vec<&Field> = schema.fields.iter().filter(|f| f.key).collect();
    match keys.as_slice() {
        [] => out.push(
            Diagnostic::error(Code::NoKey, "no field is marked as the customer id")
                .at(schema.span)
                .help("add `key` to the id field, e.g. `id string from \"Customer ID\" key`"),
        ),
        [_, more @ ..] => {
            for f in more {
                out.push(
                    Diagnostic::error(
                        Code::DuplicateKey,
                        format!("`{}` is a second customer id field", f.name.value),
                    )
                    .at(f.name.span)
                    .help("exactly one field carries `key`"),
                );
            }
        }
    }
    let everywhere = rules.missing_words();
    missing_words(everywhere, out);
    for f in &schema.fields {
        field(f, everywhere, out);
    }
}

/// The `missing` words `words` are not empty and none is given twice.
fn missing_words(words: &[Spanned<String>], out: &mut Vec<Diagnostic>) {
    for (i, w) in words.iter().enumerate() {
        if w.value.trim().is_empty() {
            out.push(
                Diagnostic::error(Code::BadFormat, "a `missing` word cannot be empty")
                    .at(w.span)
                    .help("an empty cell is missing already: write the text the export puts for no value, such as `N/A`"),
            );
        } else if words[..i]
            .iter()
            .any(|before| before.value.trim() == w.value.trim())
        {
            out.push(
                Diagnostic::warning(Code::DuplicateWord, format!("`{}` is given twice", w.value))
                    .at(w.span)
                    .help("keep one of them"),
            );
        }
    }
}

fn field(f: &Field, everywhere: &[Spanned<String>], out: &mut Vec<Diagnostic>) {
    let ty = f.ty.value;
    let name = &f.name.value;
    if f.key && f.optional {
        out.push(
            Diagnostic::error(
                Code::OptionalKey,
                format!("the customer id `{name}` cannot be optional"),
            )
            .at(f.ty.span)
            .help("remove the `?`: every row needs an id"),
        );
    }
    let fmt = &f.format;
    for (option, span) in fmt.given() {
        let (fits, types) = match option {
            FormatOption::Format => (
                matches!(ty, FieldType::Date | FieldType::DateTime),
                "date and datetime",
            ),
            FormatOption::Words => (ty == FieldType::Bool, "bool"),
            FormatOption::Currency | FormatOption::Decimal => (
                matches!(ty, FieldType::Money | FieldType::Decimal),
                "money and decimal",
            ),
            FormatOption::Thousands => (ty.is_numeric(), "int, decimal and money"),
            FormatOption::Separator => (ty == FieldType::List, "list"),
        };
        if !fits {
            let option = option.word();
            out.push(
                Diagnostic::error(
                    Code::MisplacedFormat,
                    format!("`{option}` does not apply to `{name}`, {} field", a(ty)),
                )
                .at(span)
                .help(format!("`{option}` applies to {types} fields")),
            );
        }
    }
    date_formats(f, &fmt.dates, out);
    missing_words(&fmt.missing, out);
    if let Some(words) = &fmt.words {
        let (yes, no) = &words.value;
        if yes.eq_ignore_ascii_case(no) || yes.is_empty() || no.is_empty() {
            out.push(
                Diagnostic::error(Code::BadFormat, "the words for true and false must differ")
                    .at(words.span),
            );
        }
    }
    // A cell that is both a value and no value says nothing for sure.
    let standard = ["true", "false", "yes", "no", "y", "n", "1", "0"];
    let values: Vec<&str> = match &fmt.words {
        Some(words) => vec![words.value.0.as_str(), words.value.1.as_str()],
        None if ty == FieldType::Bool => standard.to_vec(),
        None => Vec::new(),
    };
    let all = fmt.missing.iter().chain(everywhere);
    for w in all.filter(|w| {
        values
            .iter()
            .any(|v| v.trim().eq_ignore_ascii_case(w.value.trim()))
    }) {
        out.push(
            Diagnostic::error(
                Code::BadFormat,
                format!(
                    "`{}` is both a `missing` word and one of the words of `{name}`",
                    w.value
                ),
            )
            .at(w.span)
            .help(if fmt.words.is_some() {
                "a cell must read one way: drop it from `missing` or from `words`"
            } else {
                "a cell must read one way: a boolean reads `true`/`false`, `yes`/`no`, `y`/`n` and `1`/`0` unless it declares its `words`"
            }),
        );
    }
    let fractional = matches!(ty, FieldType::Decimal | FieldType::Money);
    let point = match decimal_mark(fmt) {
        Ok(point) => point,
        Err(e) => {
            let at = fmt.decimal.as_ref().map_or(f.span, |d| d.span);
            out.push(
                Diagnostic::error(Code::BadFormat, format!("`{name}`: {e}"))
                    .at(at)
                    .help(
                        "write `decimal \",\"` for amounts such as `1.234,50`; `.` is the default",
                    ),
            );
            '.'
        }
    };
    if let Some(sep) = fmt.thousands.as_ref().filter(|_| ty.is_numeric()) {
        let number_point = fractional.then_some(point);
        if let Some(problem) = thousands_problem(&sep.value, number_point) {
            let help = match number_point {
                Some('.') if sep.value == "." => {
                    "for amounts such as `1.234,50`, declare the decimal comma too: `decimal \",\"`"
                }
                Some(_) if !sep.value.is_empty() => {
                    "group thousands with another mark than the decimal one, such as a space, or leave out `thousands`"
                }
                _ => "write the character that groups thousands, such as `,` or a space",
            };
            out.push(
                Diagnostic::error(
                    Code::BadFormat,
                    format!(
                        "the thousands separator `{}` of `{name}` {problem}",
                        sep.value
                    ),
                )
                .at(sep.span)
                .help(help),
            );
        }
    }
    if let Some(v) = fmt.separator.as_ref().filter(|v| v.value.is_empty()) {
        out.push(Diagnostic::error(Code::BadFormat, "`separator` cannot be empty").at(v.span));
    }
    if let Some(default) = &f.default {
        let fits = match (&default.value, ty) {
            (Literal::Str(_), FieldType::String | FieldType::List) => true,
            // (A year of four digits, as cells need.)
            (Literal::Str(s), FieldType::Date) => {
                crate::syntax::dsl::parse_date(s).is_some_and(|d| crate::io::cells::full_year(&d))
            }
            (Literal::Int(_), t) => t.is_numeric(),
            (Literal::Decimal(_), FieldType::Decimal | FieldType::Money) => true,
            (Literal::Bool(_), FieldType::Bool) => true,
            _ => false,
        };
        if !fits {
            out.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("the default `{}` is not {}", default.value, a(ty)),
                )
                .at(default.span)
                .help(format!("`{name}` is {} field", a(ty))),
            );
        }
    }
}

/// The date formats of field `f`, each valid and reading back its dates, and none given twice
/// or as the day-for-month swap of an earlier one (`%m/%d/%Y` then `%d/%m/%Y`: a day of 12 or
/// less would be read month first).
pub(super) fn date_formats(f: &Field, dates: &[Spanned<String>], out: &mut Vec<Diagnostic>) {
    for (i, date) in dates.iter().enumerate() {
        date_format(f, date, out);
        let swapped = day_month_swapped(&date.value);
        let earlier = &dates[..i];
        if let Some(twin) = earlier.iter().find(|e| e.value == date.value) {
            out.push(
                Diagnostic::warning(
                    Code::AmbiguousFormat,
                    format!("the date format `{}` is given twice", twin.value),
                )
                .at(date.span)
                .help("keep one of them"),
            );
        } else if let Some(first) = earlier
            .iter()
            .find(|e| e.value == swapped && swapped != date.value)
        {
            // 1 February written the second way, read the first way.
            let example = chrono::NaiveDate::from_ymd_opt(2026, 2, 1)
                .and_then(|d| d.and_hms_opt(9, 30, 0))
                .expect("a date-time");
            let mut written = String::new();
            let misread = write!(written, "{}", example.format(&date.value))
                .ok()
                .and_then(|()| {
                    chrono::NaiveDateTime::parse_from_str(&written, &first.value)
                        .map(|t| t.date())
                        .or_else(|_| chrono::NaiveDate::parse_from_str(&written, &first.value))
                        .ok()
                })
                .map(|day| {
                    format!(
                        ", so `{written}` is {}, not 1 February 2026",
                        day.format("%-d %B %Y")
                    )
                })
                .unwrap_or_default();
            out.push(
                Diagnostic::warning(
                    Code::AmbiguousFormat,
                    format!(
                        "`{}` swaps the day and month of `{}`: a cell both read is read by the \
                         first{misread}",
                        date.value, first.value
                    ),
                )
                .at(date.span)
                .help("an export writes its dates one way: keep the format it uses"),
            );
        }
    }
}

/// The date format `date` (one of field `f`'s) is valid chrono and reads back the dates it
/// writes.
pub(super) fn date_format(f: &Field, date: &Spanned<String>, out: &mut Vec<Diagnostic>) {
    let bad = chrono::format::StrftimeItems::new(&date.value)
        .any(|item| matches!(item, chrono::format::Item::Error));
    if bad || date.value.trim().is_empty() {
        let message = match bad_code(&date.value) {
            Some(code) => format!(
                "the date format `{}` has an unknown code `{code}`",
                date.value
            ),
            None => format!("`{}` is not a valid date format", date.value),
        };
        out.push(
            Diagnostic::error(Code::BadFormat, message)
                .at(date.span)
                .help("use chrono/strftime codes such as `%d/%m/%Y` or `%Y-%m-%d %H:%M`"),
        );
    } else if !reads_its_own_dates(f, date) {
        out.push(
            Diagnostic::error(
                Code::BadFormat,
                format!(
                    "the date format `{}` cannot read back the dates it writes: every \
                     cell would be rejected",
                    date.value
                ),
            )
            .at(date.span)
            .help("a date format needs a year, a month and a day, e.g. `%d/%m/%Y`"),
        );
    }
}

/// Whether a cell written in `format` (31 January 2026, 09:30) reads back, as a run reads
/// it with that format alone, as that day: `%e` or `%H:%M` alone never can.
fn reads_its_own_dates(f: &Field, format: &Spanned<String>) -> bool {
    let mut alone = f.clone();
    alone.format.dates = vec![format.clone()];
    let Ok(reader) = crate::io::cells::CellReader::new(&alone) else {
        return true;
    };
    let format = format.value.as_str();
    let Some(sample) =
        chrono::NaiveDate::from_ymd_opt(2026, 1, 31).and_then(|d| d.and_hms_opt(9, 30, 0))
    else {
        return true;
    };
    // `write!`, not `to_string`: chrono reports a format it cannot apply as an error. (In
    // UTC, so that an offset, `%z`, is written too.)
    let mut cell = String::new();
    let utc = chrono::TimeZone::from_utc_datetime(&chrono::Utc, &sample);
    if write!(cell, "{}", utc.format(format)).is_err() {
        return false;
    }
    match reader.read(&cell) {
        Ok(value) => {
            let day = value.clone().try_cast::<chrono::NaiveDate>().or_else(|| {
                value
                    .try_cast::<chrono::NaiveDateTime>()
                    .map(|dt| dt.date())
            });
            day == Some(sample.date())
        }
        Err(_) => false,
    }
}

/// The first `%` code of a date format that chrono does not know (`%Q`), if one is to blame.
fn bad_code(format: &str) -> Option<&str> {
    let mut rest = format;
    while let Some(at) = rest.find('%') {
        let after = &rest[at + 1..];
        // Flags and widths (`%-d`, `%.3f`, `%::z`) up to the letter that names the code.
        let len = after
            .find(|c: char| c.is_ascii_alphabetic() || c == '%')
            .map_or(after.len(), |i| i + 1);
        let code = &rest[at..at + 1 + len];
        let bad = chrono::format::StrftimeItems::new(code)
            .any(|item| matches!(item, chrono::format::Item::Error));
        if bad {
            return Some(code);
        }
        rest = &after[len..];
    }
    None
}
