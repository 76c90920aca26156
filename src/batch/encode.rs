//! Decisions and rejects as bytes, in the output formats.
//!
//! - JSONL decisions: one object per line, see [`Decision::write_json`].
//! - CSV decisions: the columns of [`csv_header`]; lists are joined with `;` (segments,
//!   triggers, actions as `trigger.action`, and each action's template and offer in the same
//!   order, empty where an action has none), suppressed triggers as `trigger=reason`, and
//!   `params` is a JSON object keyed by `trigger.action` holding each action's parameters.
//! - Rejects: CSV `line,id,column,rule,code,reason`, or JSONL objects with those keys.
//!
//! CSV is spreadsheet-safe unless asked otherwise ([`CsvCells`]); JSONL is written as it is.
//! One [`Encoder`] per thread.

use crate::engine::{csv_header, CellSource, Decision};
use crate::io::{CsvCells, OutputFormat, Reject};
use crate::plan::Program;
use crate::text::defused_by_spreadsheet_cell;
use std::borrow::Cow;

/// The columns of a CSV rejects file.
pub const REJECT_HEADER: [&str; 6] = ["line", "id", "column", "rule", "code", "reason"];

/// Encodes rows of one format into a buffer taken with [`Encoder::take`]; one per thread.
pub struct Encoder {
    format: OutputFormat,
    cells: CsvCells,
    json: Vec<u8>,
    csv: csv::Writer<Vec<u8>>,
    /// A CSV cell's text while it is written.
    scratch: Vec<u8>,
}

fn csv_writer(buffer: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(buffer)
}

impl Encoder {
    /// An encoder of `format`; `cells` says how CSV cells are written.
    pub fn new(format: OutputFormat, cells: CsvCells) -> Encoder {
        Encoder {
            format,
            cells,
            json: Vec::new(),
            csv: csv_writer(Vec::new()),
            scratch: Vec::new(),
        }
    }

    /// The bytes encoded since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.take_into(&mut out);
        out
    }

    /// Puts the bytes encoded since the last call in `out` (replacing what it held); `out`'s
    /// buffer is kept for the next rows.
    pub fn take_into(&mut self, out: &mut Vec<u8>) {
        out.clear();
        match self.format {
            OutputFormat::Jsonl => std::mem::swap(&mut self.json, out),
            OutputFormat::Csv => {
                let spare = std::mem::take(out);
                let full = std::mem::replace(&mut self.csv, csv_writer(spare));
                // Writing to a Vec cannot fail.
                *out = full.into_inner().unwrap_or_default();
            }
        }
    }

    /// The header of a decisions file (CSV only).
    pub fn decisions_header(&mut self, program: &Program) {
        if self.format == OutputFormat::Csv {
            self.csv_row(&csv_header(program));
        }
    }

    /// The header of a rejects file (CSV only).
    pub fn rejects_header(&mut self) {
        if self.format == OutputFormat::Csv {
            self.csv_row(&REJECT_HEADER);
        }
    }

    /// Encodes one decision.
    pub fn decision(&mut self, program: &Program, decision: &Decision) {
        match self.format {
            OutputFormat::Jsonl => decision.write_json(program, &mut self.json),
            OutputFormat::Csv => {
                let (mode, csv) = (self.cells, &mut self.csv);
                decision.csv_cells(program, &mut self.scratch, &mut |_, text, source| {
                    // Names are safe as they are; only outside text may need defusing.
                    // Writing to a Vec cannot fail.
                    // Only a cell the defusing may change is read as text (it is UTF-8).
                    let defuse = source == CellSource::Outside
                        && mode == CsvCells::Safe
                        && defused_by_spreadsheet_cell(text);
                    let _ = if defuse {
                        let text = std::str::from_utf8(text).expect("cells are UTF-8");
                        csv.write_field(mode.cell(text).as_bytes())
                    } else {
                        csv.write_field(text)
                    };
                });
                let _ = csv.write_record(None::<&[u8]>);
            }
        }
    }

    /// Encodes one reject.
    pub fn reject(&mut self, reject: &Reject) {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        match self.format {
            OutputFormat::Csv => {
                let cells = [
                    reject.line.to_string(),
                    opt(&reject.id),
                    opt(&reject.column),
                    opt(&reject.rule),
                    reject.code.as_str().to_string(),
                    reject.reason.clone(),
                ];
                self.csv_row(&cells);
            }
            OutputFormat::Jsonl => {
                let object = serde_json::json!({
                    "line": reject.line,
                    "id": reject.id,
                    "column": reject.column,
                    "rule": reject.rule,
                    "code": reject.code.as_str(),
                    "reason": reject.reason,
                });
                crate::text::write_json(&mut self.json, &object)
                    .expect("writing to a Vec cannot fail");
                self.json.push(b'\n');
            }
        }
    }

    fn csv_row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let mode = self.cells;
        // Writing to a Vec cannot fail.
        let _ = self
            .csv
            .write_record(cells.iter().map(|c| bytes(mode.cell(c.as_ref()))));
    }
}

/// A cell's text as bytes, borrowed when it is.
fn bytes(cell: Cow<'_, str>) -> Cow<'_, [u8]> {
    match cell {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}
