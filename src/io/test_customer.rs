//! A test's customer as field values: from a row of an export (read exactly as `idic run` reads
//! it), the field values the test writes on top, and defaults or missing values for the rest.

use super::input::InputFormat;
use super::{find_row, AccessError, FindError, ReadAccess};
use crate::model::{Field, FieldType, RowSelect, Spanned, TestCase, TestRow, TestValue};
use crate::source::Span;
use chrono::{NaiveDate, NaiveDateTime};
use rhai::{Array, Dynamic, ImmutableString};
use std::path::Path;

/// Why a test's customer cannot be built: a sentence and where in the rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerError {
    pub message: String,
    pub help: Option<String>,
    pub span: Span,
}

/// The values of `fields` for `test`'s customer, in schema order, then those of the population
/// variables (`population`, see [`crate::model::RuleSet::population_fields`]: missing unless
/// the test gives them); `missing` are the rule set's words for no value in a row it starts
/// from, `base` the directory its `from` path is relative to, and `access` what it may read.
pub fn values(
    fields: &[Field],
    missing: &[Spanned<String>],
    population: &[Field],
    test: &TestCase,
    base: &Path,
    access: &ReadAccess,
) -> Result<Vec<Dynamic>, CustomerError> {
    let mut values = match &test.from {
        Some(row) => read_row(fields, missing, row, base, access)?,
        None => fields.iter().map(default_of).collect(),
    };
    values.extend(population.iter().map(|_| Dynamic::UNIT));
    let all: Vec<&Field> = fields.iter().chain(population).collect();
    for given in &test.values {
        let Some(i) = all.iter().position(|f| f.name.value == given.name.value) else {
            return Err(CustomerError {
                message: format!("the customer schema has no field `{}`", given.name.value),
                help: crate::diagnostics::suggest(
                    &given.name.value,
                    all.iter().map(|f| f.name.value.as_str()),
                ),
                span: given.name.span,
            });
        };
        values[i] = typed(all[i], &given.value.value).map_err(|message| CustomerError {
            message,
            help: None,
            span: given.value.span,
        })?;
    }
    Ok(values)
}

/// A field's value when a test does not give one: its default, else missing.
fn default_of(f: &Field) -> Dynamic {
    let Some(default) = &f.default else {
        return Dynamic::UNIT;
    };
    let value = match &default.value {
        crate::model::Literal::Str(s) => TestValue::Str(s.clone()),
        crate::model::Literal::Int(i) => TestValue::Int(*i),
        crate::model::Literal::Decimal(d) => TestValue::Decimal(*d),
        crate::model::Literal::Bool(b) => TestValue::Bool(*b),
    };
    typed(f, &value).unwrap_or(Dynamic::UNIT)
}

/// A test value as a value of `f`'s type; `Err` says what was expected.
pub fn typed(f: &Field, v: &TestValue) -> Result<Dynamic, String> {
    let name = &f.name.value;
    let ty = f.ty.value;
    let wrong = |expected: &str| {
        format!(
            "field `{name}` is {expected}; the test gives {}",
            describe(v)
        )
    };
    Ok(match (ty, v) {
        (_, TestValue::Missing) => Dynamic::UNIT,
        (FieldType::String, TestValue::Str(s)) => Dynamic::from(ImmutableString::from(s.as_str())),
        (FieldType::String, _) => return Err(wrong("text: write it in quotes")),
        (FieldType::Int, TestValue::Int(i)) => Dynamic::from(*i),
        (FieldType::Int, _) => return Err(wrong("a whole number")),
        (FieldType::Decimal | FieldType::Money, TestValue::Int(i)) => Dynamic::from(*i as f64),
        (FieldType::Decimal | FieldType::Money, TestValue::Decimal(d)) => Dynamic::from(*d),
        (FieldType::Decimal | FieldType::Money, _) => return Err(wrong("a number")),
        (FieldType::Bool, TestValue::Bool(b)) => Dynamic::from(*b),
        (FieldType::Bool, _) => return Err(wrong("`true` or `false`")),
        (FieldType::Date, TestValue::Str(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Dynamic::from)
            .map_err(|_| wrong("a date written `\"YYYY-MM-DD\"`"))?,
        (FieldType::Date, _) => return Err(wrong("a date written `\"YYYY-MM-DD\"`")),
        (FieldType::DateTime, TestValue::Str(s)) => parse_datetime(s)
            .map(Dynamic::from)
            .ok_or_else(|| wrong("a date-time written `\"YYYY-MM-DD HH:MM:SS\"`"))?,
        (FieldType::DateTime, _) => {
            return Err(wrong("a date-time written `\"YYYY-MM-DD HH:MM:SS\"`"))
        }
        (FieldType::List, TestValue::List(items)) => Dynamic::from(
            items
                .iter()
                .map(|i| Dynamic::from(ImmutableString::from(i.as_str())))
                .collect::<Array>(),
        ),
        (FieldType::List, _) => return Err(wrong("a list such as `[\"vip\", \"newsletter\"]`")),
    })
}

fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

fn describe(v: &TestValue) -> String {
    match v {
        TestValue::Str(s) => format!("the text `{s}`"),
        TestValue::Int(i) => format!("the number `{i}`"),
        TestValue::Decimal(d) => format!("the number `{d}`"),
        TestValue::Bool(b) => format!("`{b}`"),
        TestValue::List(_) => "a list".to_string(),
        TestValue::Missing => "`missing`".to_string(),
    }
}

/// The values of the export row a test starts from, read as `idic run` reads them.
fn read_row(
    fields: &[Field],
    missing: &[Spanned<String>],
    row: &TestRow,
    base: &Path,
    access: &ReadAccess,
) -> Result<Vec<Dynamic>, CustomerError> {
    let path = base.join(&row.file.value);
    let at_file = |message: String, help: Option<String>| CustomerError {
        message,
        help,
        span: row.file.span,
    };
    let at_row = |message: String| CustomerError {
        message,
        help: None,
        span: row.select.span,
    };
    let (file, real) = access.open(&path).map_err(|e| match e {
        AccessError::Missing(_) => at_file(
            format!("there is no file `{}`", path.display()),
            Some("the path is relative to the directory of this rule file".to_string()),
        ),
        e => at_file(format!("`{}` cannot be read: {e}", row.file.value), None),
    })?;
    // The file read, after links, must say its format too.
    let format = InputFormat::of(&path)
        .filter(|f| InputFormat::of(&real) == Some(*f))
        .ok_or_else(|| {
            at_file(
                format!("`{}` is neither `.csv` nor `.jsonl`", row.file.value),
                None,
            )
        })?;
    match find_row(fields, missing, &file, format, &row.select.value) {
        Ok(found) => Ok(found.values),
        Err(FindError::Read(e)) => Err(at_file(
            format!("cannot read `{}`: {e}", path.display()),
            None,
        )),
        Err(FindError::Rules(e)) => Err(at_file(e, None)),
        Err(FindError::Header(e)) => Err(at_file(format!("`{}`: {e}", row.file.value), None)),
        Err(FindError::Rejected { reject, .. }) => {
            Err(at_row(format!("the row cannot be read: {reject}")))
        }
        Err(FindError::NotFound { rows }) => Err(at_row(match &row.select.value {
            RowSelect::Id(id) => format!(
                "no row with id `{id}` in `{}` ({rows} rows)",
                row.file.value
            ),
            RowSelect::Row(n) => format!("`{}` has {rows} rows, not {n}", row.file.value),
        })),
    }
}
