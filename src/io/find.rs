//! One row of an export, found by customer id or by its position and read exactly as `idic run`
//! reads it: the same typing, the same rejects (a later row repeating an earlier row's id is a
//! `duplicate-id`, as in a run). `idic explain` and tests that start from a row use it.

use super::input::{BatchReader, CsvScratch, InputFormat};
use super::records::{HeaderError, RecordReader, Reject};
use crate::model::{Field, RowSelect};
use rhai::Dynamic;
use std::collections::HashMap;
use std::fs::File;

/// A row found and typed.
#[derive(Debug, Clone)]
pub struct FoundRow {
    /// Its position among the data rows, 1-based (the header is not a row).
    pub row: u64,
    /// The input line it starts on (a CSV header is line 1).
    pub line: u64,
    /// The values of the schema's fields, in declaration order.
    pub values: Vec<Dynamic>,
}

/// Why a row could not be found or read.
#[derive(Debug)]
pub enum FindError {
    /// The file cannot be read to the end of the row.
    Read(std::io::Error),
    /// The schema cannot read exports (a field's default does not fit its type).
    Rules(String),
    /// A declared column is not in the CSV header.
    Header(HeaderError),
    /// No row is selected: the id is not in the export, or it has fewer rows; `rows` counts
    /// its data rows.
    NotFound { rows: u64 },
    /// The row is there, but `idic run` rejects it; `row` is its position.
    Rejected { row: u64, reject: Reject },
}

/// Finds the row `select` names in the export `file` and reads it into the values of `fields`
/// (one of them the key, `missing` the rule set's words for no value), as `idic run` would.
pub fn find_row(
    fields: &[Field],
    missing: &[crate::model::Spanned<String>],
    file: &File,
    format: InputFormat,
    select: &RowSelect,
) -> Result<FoundRow, FindError> {
    let records = RecordReader::for_fields(fields, missing).map_err(FindError::Rules)?;
    let (mut reader, header) = BatchReader::open(file, format, 1 << 16).map_err(FindError::Read)?;
    let map = match &header {
        Some(h) => Some(records.map_header(h).map_err(FindError::Header)?),
        None => None,
    };
    let map = map.as_ref();
    let mut seen = 0u64;
    // The first line of each id on the rows before the one selected by position.
    let mut first_lines: HashMap<String, u64> = HashMap::new();
    let mut found = None;
    let mut scratch = CsvScratch::default();
    while let Some(batch) = reader.next_batch(None).map_err(FindError::Read)? {
        batch.each(&mut scratch, |at, r| {
            if found.is_some() {
                return;
            }
            seen += 1;
            let id = records.id(map, r);
            let hit = match select {
                RowSelect::Row(n) => seen == *n,
                RowSelect::Id(wanted) => id.as_deref() == Some(wanted.as_str()),
            };
            if !hit {
                if let (RowSelect::Row(_), Some(id)) = (select, id) {
                    first_lines.entry(id).or_insert(at.line);
                }
                return;
            }
            let first = id.as_ref().and_then(|id| first_lines.get(id).copied());
            let values = match first {
                Some(first) => Err(Reject::duplicate(at.line, id, records.key_column(), first)),
                None => records.read(map, r, at),
            };
            found = Some(match values {
                Ok(values) => Ok(FoundRow {
                    row: seen,
                    line: at.line,
                    values,
                }),
                Err(reject) => Err(FindError::Rejected { row: seen, reject }),
            });
        });
        if found.is_some() {
            break;
        }
    }
    found.unwrap_or(Err(FindError::NotFound { rows: seen }))
}
