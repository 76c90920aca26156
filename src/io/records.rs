//! Rows of an export turned into typed field values per the schema, or a [`Reject`] that says
//! which line, which column and why.

use super::cells::{CellError, CellReader};
use super::input::{At, CsvRow, Row};
use super::jsonl::{self, json_error_text, json_kind};
use crate::diagnostics;
use crate::text::printable;
use rhai::Dynamic;
use std::fmt;

/// Why a row was rejected, as a stable code (summaries count by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectCode {
    /// A CSV row with more or fewer cells than the header.
    FieldCount,
    /// A line that is not a JSON object.
    BadJson,
    /// A cell that is not UTF-8 text.
    NotUtf8,
    /// A required field's cell is empty.
    MissingValue,
    /// A cell that does not fit its field's type or format.
    BadValue,
    /// An id seen on an earlier row.
    DuplicateId,
    /// A rule failed at run time for this customer.
    RuleFailed,
    /// The customer has no orders, and the rule set rejects such customers.
    NoOrders,
    /// A CSV row opens a quote it never closes: the rest of the export is in its cell.
    OpenQuote,
}

impl RejectCode {
    /// The code as written in rejects files and summaries, e.g. `bad-value`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::FieldCount => "field-count",
            RejectCode::BadJson => "bad-json",
            RejectCode::NotUtf8 => "not-utf8",
            RejectCode::MissingValue => "missing-value",
            RejectCode::BadValue => "bad-value",
            RejectCode::DuplicateId => "duplicate-id",
            RejectCode::RuleFailed => "rule-failed",
            RejectCode::NoOrders => "no-orders",
            RejectCode::OpenQuote => "open-quote",
        }
    }
}

/// An input row that was not decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The line of the input the row starts on (1-based; a CSV header is line 1).
    pub line: u64,
    /// The customer id, when it could be read.
    pub id: Option<String>,
    /// The export column at fault, if one is.
    pub column: Option<String>,
    /// The rule at fault, if one is (e.g. `metric aov`).
    pub rule: Option<String>,
    pub code: RejectCode,
    /// A sentence saying what was found and what was expected.
    pub reason: String,
}

impl Reject {
    /// The reject of a row on `line` whose id (read from `key_column`) an earlier row, on line
    /// `first`, already has: a customer is decided at most once.
    pub fn duplicate(line: u64, id: Option<String>, key_column: &str, first: u64) -> Reject {
        let shown = id.as_deref().unwrap_or("").to_string();
        Reject {
            line,
            id,
            column: Some(key_column.to_string()),
            rule: None,
            code: RejectCode::DuplicateId,
            reason: format!(
                "duplicate id `{shown}`, first on line {first}: only the first row with an id is considered"
            ),
        }
    }

    /// The reject of a customer without orders, under `customers_without_orders reject`.
    pub fn no_orders(line: u64, id: String) -> Reject {
        Reject {
            line,
            id: Some(id),
            column: None,
            rule: Some("orders".into()),
            code: RejectCode::NoOrders,
            reason: "the customer has no orders (`customers_without_orders reject`)".into(),
        }
    }
}

/// The reject as one line for people, control characters escaped ([`printable`]).
impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(id) = &self.id {
            write!(f, " (id `{}`)", printable(id))?;
        }
        f.write_str(": ")?;
        if let Some(column) = &self.column {
            write!(f, "column `{}`: ", printable(column))?;
        }
        f.write_str(&printable(&self.reason))
    }
}

/// A declared column that the export does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    /// What is wrong, column names with their control characters escaped ([`printable`]).
    pub message: String,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a header may not be read as the export means it: another separator than the comma, or
/// another encoding than UTF-8.
pub fn header_hint(header: &[String]) -> Option<&'static str> {
    let text = header.concat();
    let nuls = text.chars().filter(|&c| c == '\0').count();
    // UTF-16 read as UTF-8 puts a NUL beside every ASCII letter; one stray NUL is just a typo.
    if nuls > 0 && nuls * 4 >= text.chars().count() {
        Some("the header is mostly NUL characters: is the export UTF-16? save it as UTF-8")
    } else if header.len() == 1 && text.contains(';') {
        Some("the header is one column holding `;`: is the export separated by semicolons? idic reads commas")
    } else if header.len() == 1 && text.contains('\t') {
        Some("the header is one column holding tabs: is the export separated by tabs? idic reads commas")
    } else {
        None
    }
}

/// Where each field's column sits in a CSV header.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// Per field (schema order), the index of its column.
    index: Vec<usize>,
    /// How many columns the header has.
    width: usize,
}

impl ColumnMap {
    /// The header position of field `field`'s column.
    pub fn index(&self, field: usize) -> usize {
        self.index[field]
    }
}

struct FieldReader {
    column: String,
    /// The column's number in [`RecordReader::json`].
    json: usize,
    cells: CellReader,
}

/// Reads rows into the values of the schema's fields (in declaration order).
pub struct RecordReader {
    fields: Vec<FieldReader>,
    /// The columns read from a JSONL line.
    json: jsonl::Columns,
    key: usize,
    /// The capacity of the values a row reads into: room for what a run appends.
    room: usize,
}

impl RecordReader {
    /// How rows with these fields (one of them the key) read, the texts `missing` (the rule
    /// set's `missing` words) meaning no value in any of them.
    pub fn for_fields(
        fields: &[crate::model::Field],
        missing: &[crate::model::Spanned<String>],
    ) -> Result<RecordReader, String> {
        let key = fields.iter().position(|f| f.key).unwrap_or(0);
        let mut json = jsonl::Columns::default();
        let fields: Vec<FieldReader> = fields
            .iter()
            .map(|f| {
                Ok(FieldReader {
                    column: f.column.value.clone(),
                    json: json.add(&f.column.value),
                    cells: CellReader::new(f)
                        .map_err(|e| format!("field `{}`: {e}", f.name.value))?
                        .with_missing(missing),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(RecordReader {
            room: fields.len(),
            fields,
            json,
            key,
        })
    }

    /// The reader with room for `room` values a row (at least its fields): what a run appends
    /// after them.
    pub fn with_room(mut self, room: usize) -> RecordReader {
        self.room = room.max(self.fields.len());
        self
    }

    /// The index of the customer-id field.
    pub fn key_field(&self) -> usize {
        self.key
    }

    /// The column of the customer id.
    pub fn key_column(&self) -> &str {
        &self.fields[self.key].column
    }

    /// Finds every declared column in a CSV header. Every column missing from the header is
    /// named, with the closest header names; a declared column that appears twice is an error
    /// too. Extra columns are fine.
    pub fn map_header(&self, header: &[String]) -> Result<ColumnMap, HeaderError> {
        if header.is_empty() || header.iter().all(|h| h.is_empty()) {
            return Err(HeaderError {
                message: "the export has no header row: its first line must name the columns"
                    .into(),
            });
        }
        let mut index = Vec::with_capacity(self.fields.len());
        let mut problems = Vec::new();
        for f in &self.fields {
            let found: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| h.trim() == f.column)
                .map(|(i, _)| i)
                .collect();
            match found.as_slice() {
                [i] => index.push(*i),
                [] => {
                    let mut line =
                        format!("column `{}` is not in the header", printable(&f.column));
                    let close = closest(&f.column, header);
                    if !close.is_empty() {
                        line.push_str(&format!(
                            " (closest: {})",
                            close
                                .iter()
                                .map(|c| format!("`{}`", printable(c)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    problems.push(line);
                }
                many => problems.push(format!(
                    "column `{}` appears {} times in the header (columns {})",
                    printable(&f.column),
                    many.len(),
                    many.iter()
                        .map(|i| (i + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        if problems.is_empty() {
            Ok(ColumnMap {
                index,
                width: header.len(),
            })
        } else {
            let mut message = match problems.as_slice() {
                [one] => one.clone(),
                many => format!(
                    "{} columns of the schema do not match the export's header:\n  {}",
                    many.len(),
                    many.join("\n  ")
                ),
            };
            if let Some(hint) = header_hint(header) {
                message.push_str(&format!("\n  {hint}"));
            }
            Err(HeaderError { message })
        }
    }

    /// The id of a row, trimmed, when it has one (`map` is the CSV header's; JSONL needs none).
    /// This is all the survey reads.
    pub fn id(&self, map: Option<&ColumnMap>, row: Row<'_>) -> Option<String> {
        match (row, map) {
            (Row::Csv(record), Some(map)) => self.csv_id(map, record).map(lossy),
            (Row::Json(text), _) => self.json.line(text).ok()?.id(self.fields[self.key].json),
            (Row::Csv(_), None) => None,
        }
    }

    /// Reads one row (`at` is where it is) into the values of the schema's fields.
    pub fn read(
        &self,
        map: Option<&ColumnMap>,
        row: Row<'_>,
        at: At,
    ) -> Result<Vec<Dynamic>, Reject> {
        let mut values = Vec::new();
        self.read_into(map, row, at, &mut values).map(|()| values)
    }

    /// [`RecordReader::read`] into `values`, whose room is kept from row to row: the values
    /// it holds for the fields are read over ([`CellReader::read_over`]: a string or date
    /// reuses the room of the one it replaces), any after them are dropped. After a reject,
    /// the values are unspecified.
    pub fn read_into(
        &self,
        map: Option<&ColumnMap>,
        row: Row<'_>,
        at: At,
        values: &mut Vec<Dynamic>,
    ) -> Result<(), Reject> {
        let fields = self.fields.len();
        values.resize(fields, Dynamic::UNIT);
        values.reserve(self.room - fields);
        match (row, map) {
            (Row::Csv(record), Some(map)) => self.read_csv(map, record, at, values),
            (Row::Json(text), _) => self.read_json(text, at.line, values),
            (Row::Csv(_), None) => Err(Reject {
                line: at.line,
                id: None,
                column: None,
                rule: None,
                code: RejectCode::FieldCount,
                reason: "a CSV row without a header".into(),
            }),
        }
    }

    fn csv_id<'r>(&self, map: &ColumnMap, row: CsvRow<'r>) -> Option<&'r [u8]> {
        id_cell(row.get(map.index[self.key])?)
    }

    /// Types only the fields `wanted` (indexes, ascending) into their slots of `values`,
    /// leaving the others as they are; `cell(j)` gives the bytes of field `wanted[j]` (a CSV
    /// row split only that far). `false`: one of them does not read, and deciding will reject
    /// the row with the reason.
    pub fn read_some<'c>(
        &self,
        wanted: &[usize],
        cell: impl Fn(usize) -> &'c [u8],
        values: &mut [Dynamic],
    ) -> bool {
        wanted.iter().enumerate().all(|(j, &i)| {
            std::str::from_utf8(cell(j))
                .is_ok_and(|text| self.fields[i].cells.read_over(text, &mut values[i]).is_ok())
        })
    }

    /// [`RecordReader::read_some`] for a JSONL line.
    pub fn read_some_json(&self, wanted: &[usize], text: &[u8], values: &mut [Dynamic]) -> bool {
        let Ok(line) = self.json.line(text) else {
            return false;
        };
        wanted.iter().all(|&i| {
            let f = &self.fields[i];
            (f.cells
                .read_json_text_over(line.get(f.json), &mut values[i]))
            .is_ok()
        })
    }

    fn read_csv(
        &self,
        map: &ColumnMap,
        row: CsvRow<'_>,
        at: At,
        values: &mut [Dynamic],
    ) -> Result<(), Reject> {
        let line = at.line;
        let id = || self.csv_id(map, row).map(lossy);
        if at.unclosed {
            return Err(Reject {
                line,
                id: id(),
                column: None,
                rule: None,
                code: RejectCode::OpenQuote,
                reason: if at.last_line == at.line {
                    "a quote opened in this row is never closed".to_string()
                } else {
                    format!(
                        "a quote opened in this row is never closed, so lines {} to {}, to the \
                         end of the export, were read into the cell it opens rather than as rows \
                         of their own",
                        at.line + 1,
                        at.last_line
                    )
                },
            });
        }
        if row.len() != map.width {
            return Err(Reject {
                line,
                id: id(),
                column: None,
                rule: None,
                code: RejectCode::FieldCount,
                reason: field_count(row.len(), map.width, at),
            });
        }
        let mut bad = BadCells::default();
        // The row's text checked once, rather than cell by cell; a cell is then a slice of it,
        // unless a character straddles two cells (each half is then not UTF-8 by itself).
        let whole = std::str::from_utf8(row.whole()).ok();
        for ((f, &i), slot) in self.fields.iter().zip(&map.index).zip(values.iter_mut()) {
            let cell = whole
                .zip(row.range(i))
                .and_then(|(whole, at)| whole.get(at));
            let bytes = || row.get(i).unwrap_or_default();
            let Some(text) = cell.or_else(|| std::str::from_utf8(bytes()).ok()) else {
                bad.add(f, RejectCode::NotUtf8, "the cell is not UTF-8 text".into());
                continue;
            };
            if let Err(e) = f.cells.read_over(text, slot) {
                bad.cell(f, e);
            }
        }
        bad.into_result(line, id)
    }

    /// Reads a customer whose cells `cell` gives by column name (`None`: no such column, read
    /// as an empty cell), e.g. from a form or a message in a service; `line` names it in a
    /// reject.
    pub fn read_cells<'c>(
        &self,
        cell: impl Fn(&str) -> Option<&'c str>,
        line: u64,
    ) -> Result<Vec<Dynamic>, Reject> {
        let id = cell(&self.fields[self.key].column)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let mut values = Vec::with_capacity(self.room);
        let mut bad = BadCells::default();
        for f in &self.fields {
            match f.cells.read(cell(&f.column).unwrap_or("")) {
                Ok(v) => values.push(v),
                Err(e) => bad.cell(f, e),
            }
        }
        bad.into_result(line, || id).map(|()| values)
    }

    /// Reads one JSONL line: a JSON object whose keys are column names.
    fn read_json(&self, text: &[u8], line: u64, values: &mut [Dynamic]) -> Result<(), Reject> {
        let bad = |reason: String| Reject {
            line,
            id: None,
            column: None,
            rule: None,
            code: RejectCode::BadJson,
            reason,
        };
        let line_values = self.json.line(text).map_err(|e| {
            // Not an object at all: say what it is.
            match serde_json::from_slice::<serde_json::Value>(text) {
                Ok(value) if !value.is_object() => bad(format!(
                    "expected a JSON object with one key per column, found {}",
                    json_kind(&value)
                )),
                _ => bad(format!(
                    "invalid JSON at column {}: {}",
                    e.column(),
                    json_error_text(&e)
                )),
            }
        })?;
        let mut bad = BadCells::default();
        for (f, slot) in self.fields.iter().zip(values.iter_mut()) {
            if let Err(e) = f.cells.read_json_text_over(line_values.get(f.json), slot) {
                bad.cell(f, e);
            }
        }
        bad.into_result(line, || line_values.id(self.fields[self.key].json))
    }
}

/// Why a row with `cells` cells does not fit a header of `width` columns. A row that runs over
/// several lines most often holds a quote that is never closed: the lines after it were read
/// into its cell, and their customers are in this one reject.
fn field_count(cells: usize, width: usize, at: At) -> String {
    let found = format!("the row has {cells} cells, the header has {width} columns");
    if at.last_line == at.line {
        return found;
    }
    format!(
        "{found}: it runs over lines {} to {}, as a quote that opens one of its cells is \
         probably never closed, so lines {} to {} were read into it rather than as rows of \
         their own",
        at.line,
        at.last_line,
        at.line + 1,
        at.last_line
    )
}

/// The cells of a row that could not be read: its reject names every one.
#[derive(Default)]
struct BadCells {
    /// Each cell's column, code and reason, in the schema's order.
    cells: Vec<(String, RejectCode, String)>,
}

impl BadCells {
    fn add(&mut self, f: &FieldReader, code: RejectCode, reason: String) {
        self.cells.push((f.column.clone(), code, reason));
    }

    fn cell(&mut self, f: &FieldReader, e: CellError) {
        let code = match e {
            CellError::Missing => RejectCode::MissingValue,
            CellError::Invalid { .. } => RejectCode::BadValue,
        };
        self.add(f, code, e.to_string());
    }

    /// `Ok` when every cell of the row read; else its reject (on `line`, of the customer
    /// `id` gives), with the first bad cell's column and code, and a reason naming every one:
    /// "2 cells cannot be read: `Total Spent`: expected ..., found `N/A`; `Signed Up`: ...".
    fn into_result(self, line: u64, id: impl FnOnce() -> Option<String>) -> Result<(), Reject> {
        let mut cells = self.cells.into_iter();
        let Some((column, code, reason)) = cells.next() else {
            return Ok(());
        };
        let more: Vec<String> = cells
            .map(|(column, _, reason)| format!("`{column}`: {reason}"))
            .collect();
        let reason = if more.is_empty() {
            reason
        } else {
            format!(
                "{} cells cannot be read: `{column}`: {reason}; {}",
                more.len() + 1,
                more.join("; ")
            )
        };
        Err(Reject {
            line,
            id: id(),
            column: Some(column),
            rule: None,
            code,
            reason,
        })
    }
}

/// An id cell, trimmed, unless it is empty.
pub(crate) fn id_cell(cell: &[u8]) -> Option<&[u8]> {
    let id = cell.trim_ascii();
    (!id.is_empty()).then_some(id)
}

/// Bytes as text, invalid UTF-8 replaced.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Header names close to `wanted`: those equal to it but for case, spaces and punctuation, or
/// containing it, or the closest by spelling; at most three, in header order.
fn closest(wanted: &str, header: &[String]) -> Vec<String> {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let want = squash(wanted);
    let spelled = diagnostics::closest(wanted, header.iter().map(String::as_str));
    header
        .iter()
        .filter(|h| {
            let h_squashed = squash(h);
            let related =
                h_squashed.len() >= 3 && (h_squashed.contains(&want) || want.contains(&h_squashed));
            related || spelled == Some(h.as_str())
        })
        .take(3)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{parse, RuleFormat};
    use proptest::prelude::*;

    /// A reader of one field of each kind that reads into a slot over an earlier value.
    fn reader() -> RecordReader {
        let text = r#"customer {
  id    string  from "Id" key
  name  string? from "Name"
  day   date?   from "Day"
  count int     from "Count"  default 0
  tags  list?   from "Tags"
}
"#;
        let (rules, diagnostics) = parse(Default::default(), text, RuleFormat::Dsl);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        RecordReader::for_fields(&rules.schema.unwrap().fields, &[]).unwrap()
    }

    fn cell() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"".to_vec()),
            Just(b"  ".to_vec()),
            Just(b"2026-01-31".to_vec()),
            Just(b"31/01/2026".to_vec()),
            Just(b"12".to_vec()),
            Just(b"a text long enough to need a buffer of its own".to_vec()),
            Just(b"vip;new".to_vec()),
            Just(b"caf\xe9".to_vec()),
            // Each half of a character: the row may be UTF-8, these cells are not.
            Just(b"Ren\xc3".to_vec()),
            Just(b"\xa9e".to_vec()),
            "[a-c ]{1,5}".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        /// Reading row after row over the same values gives each row what reading it afresh
        /// gives: values, or the same reject; CSV rows and JSONL lines alike.
        #[test]
        fn reading_over_earlier_rows_is_reading_afresh(
            rows in prop::collection::vec(prop::collection::vec(cell(), 5), 1..12)
        ) {
            let reader = reader();
            let header: Vec<String> =
                ["Id", "Name", "Day", "Count", "Tags"].map(String::from).to_vec();
            let map = reader.map_header(&header).unwrap();
            let (mut values, mut json_values) = (Vec::new(), Vec::new());
            for (i, cells) in rows.iter().enumerate() {
                let mut scratch = crate::io::input::CsvScratch::default();
                let record = scratch.cells(cells);
                // The same row as a JSONL line: its cells as JSON strings.
                let object: serde_json::Map<String, serde_json::Value> = header
                    .iter()
                    .zip(cells)
                    .map(|(h, c)| (h.clone(), String::from_utf8_lossy(c).into_owned().into()))
                    .collect();
                let line = serde_json::to_vec(&object).unwrap();
                let at = At { line: i as u64 + 2, last_line: i as u64 + 2, unclosed: false, byte: 0 };
                for (row, map, values) in [
                    (Row::Csv(record), Some(&map), &mut values),
                    (Row::Json(&line), None, &mut json_values),
                ] {
                    let fresh = reader.read(map, row, at);
                    let over = reader.read_into(map, row, at, values);
                    prop_assert_eq!(
                        format!("{:?}", over.map(|()| &*values)),
                        format!("{:?}", fresh.as_ref())
                    );
                }
            }
        }
    }
}
