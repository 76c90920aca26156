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

use crate::engine::{csv_header, CellSource, Decision, Fill, Quotes};
use crate::io::{CsvCells, OutputFormat, Reject};
use crate::plan::Program;

/// The columns of a CSV rejects file.
pub const REJECT_HEADER: [&str; 6] = ["line", "id", "column", "rule", "code", "reason"];

/// Encodes rows of one format into a buffer taken with [`Encoder::take`]; one per thread.
pub struct Encoder {
    format: OutputFormat,
    cells: CsvCells,
    json: Vec<u8>,
    csv: CsvRows,
    /// A CSV cell's text while it is written.
    scratch: Vec<u8>,
}

impl Encoder {
    /// An encoder of `format`; `cells` says how CSV cells are written.
    pub fn new(format: OutputFormat, cells: CsvCells) -> Encoder {
        Encoder {
            format,
            cells,
            json: Vec::new(),
            csv: CsvRows::default(),
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
            OutputFormat::Csv => self.csv.take_into(out),
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
                let (mode, csv, scratch) = (self.cells, &mut self.csv, &mut self.scratch);
                decision.csv_cells(program, &mut |_, source, fill| match source {
                    // Names are safe as they are, and need no quotes: written in place.
                    CellSource::Names => {
                        csv.separate();
                        let start = csv.out.len();
                        fill(&mut csv.out, Quotes::Plain);
                        debug_assert!(!csv.out[start..].iter().any(|&b| needs_quotes(b)));
                    }
                    // Only outside text may need defusing.
                    CellSource::Outside => {
                        scratch.clear();
                        fill(scratch, Quotes::Plain);
                        csv.field(&mode.cell_bytes(scratch));
                    }
                    CellSource::Json => csv.json_field(mode, scratch, fill),
                });
                csv.end();
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
        for cell in cells {
            self.csv.field(&mode.cell_bytes(cell.as_ref().as_bytes()));
        }
        self.csv.end();
    }
}

/// CSV rows written into a buffer: cells separated by `,`, rows ended by `\n`, and a cell
/// quoted (its quotes doubled) only when it holds `,`, `"`, `\r` or `\n`, or when it is
/// all its row holds and empty. These are the bytes the `csv` crate's writer writes, with a
/// copy and a state machine less per cell (a test holds the two together).
#[derive(Default)]
struct CsvRows {
    out: Vec<u8>,
    /// Where the row being written starts in `out`.
    row_start: usize,
    /// The cells of that row written so far.
    cells: usize,
}

impl CsvRows {
    /// Writes the next cell of the row.
    fn field(&mut self, text: &[u8]) {
        self.separate();
        self.body(text);
    }

    /// Writes the next cell of the row, a JSON text that `fill` writes: in place, its quotes
    /// doubled as they are written, unless `mode` defuses it, which [`CsvRows::field`] then
    /// does (`scratch` holds the text meanwhile).
    fn json_field(&mut self, mode: CsvCells, scratch: &mut Vec<u8>, fill: Fill<'_>) {
        self.separate();
        let start = self.out.len();
        self.out.push(b'"');
        fill(&mut self.out, Quotes::Doubled);
        let written = &self.out[start + 1..];
        if mode.defuses(written) {
            self.out.truncate(start);
            scratch.clear();
            fill(scratch, Quotes::Plain);
            self.body(&mode.cell_bytes(scratch));
        } else if written.iter().any(|&b| needs_quotes(b)) {
            self.out.push(b'"');
        } else {
            // Nothing to quote (`{}`): the cell as it is.
            self.out.remove(start);
        }
    }

    /// Writes the text of the cell just started, quoted (its quotes doubled) when it needs.
    fn body(&mut self, text: &[u8]) {
        if !text.iter().any(|&b| needs_quotes(b)) {
            self.out.extend_from_slice(text);
            return;
        }
        self.out.push(b'"');
        crate::text::push_quotes_doubled(&mut self.out, text);
        self.out.push(b'"');
    }

    /// Starts the next cell.
    fn separate(&mut self) {
        if self.cells > 0 {
            self.out.push(b',');
        }
        self.cells += 1;
    }

    /// Ends the row.
    fn end(&mut self) {
        if self.out.len() == self.row_start {
            // No cell, or one empty: a blank line would read back as no row.
            self.out.extend_from_slice(b"\"\"");
        }
        self.out.push(b'\n');
        self.row_start = self.out.len();
        self.cells = 0;
    }

    /// Exchanges the rows written since the last call for `out`, an empty buffer the next
    /// rows are written into.
    fn take_into(&mut self, out: &mut Vec<u8>) {
        debug_assert!(out.is_empty());
        std::mem::swap(&mut self.out, out);
        self.row_start = 0;
    }
}

/// Whether a cell holding `byte` is quoted.
fn needs_quotes(byte: u8) -> bool {
    matches!(byte, b',' | b'"' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::CsvRows;
    use crate::engine::Quotes;
    use crate::io::CsvCells;
    use proptest::prelude::*;

    /// The rows as the `csv` crate's writer writes them.
    fn csv_crates<S: AsRef<[u8]>>(rows: &[Vec<S>]) -> String {
        let mut theirs = csv::WriterBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        for row in rows {
            theirs.write_record(row).unwrap();
        }
        String::from_utf8(theirs.into_inner().unwrap()).unwrap()
    }

    /// What `ours` wrote.
    fn written(mut ours: CsvRows) -> String {
        let mut written = Vec::new();
        ours.take_into(&mut written);
        String::from_utf8(written).unwrap()
    }

    proptest! {
        /// The rows are those the `csv` crate writes, cell for cell: quoting, doubled quotes,
        /// a lone empty cell.
        #[test]
        fn csv_rows_are_the_csv_crates(
            rows in prop::collection::vec(
                prop::collection::vec("[a,\"\r\n é]{0,6}", 1..5),
                0..6,
            )
        ) {
            let mut ours = CsvRows::default();
            for row in &rows {
                for cell in row {
                    ours.field(cell.as_bytes());
                }
                ours.end();
            }
            prop_assert_eq!(written(ours), csv_crates(&rows));
        }

        /// A JSON cell written in place, its quotes doubled on the way, is the cell the `csv`
        /// crate writes of the JSON text defused as `mode` says: quoted or not (`{}`), and
        /// defused (controls, a formula's first byte) in safe mode.
        #[test]
        fn json_cells_are_the_csv_crates(
            cells in prop::collection::vec(
                prop::option::of("[a,\"\\=\r\n é\u{1}\u{7f}\u{85}£]{0,6}"), 1..4),
            safe in any::<bool>(),
        ) {
            let mode = if safe { CsvCells::Safe } else { CsvCells::Raw };
            // `{}`, or an object of one text, with its quotes as asked.
            let json = |value: &Option<String>, quotes: Quotes| match value {
                None => "{}".to_string(),
                Some(value) => {
                    let text = format!("{{\"k\":{}}}", serde_json::to_string(value).unwrap());
                    match quotes {
                        Quotes::Plain => text,
                        Quotes::Doubled => text.replace('"', "\"\""),
                    }
                }
            };
            let mut ours = CsvRows::default();
            let mut scratch = Vec::new();
            for cell in &cells {
                let mut fill = |out: &mut Vec<u8>, quotes| out.extend(json(cell, quotes).bytes());
                ours.json_field(mode, &mut scratch, &mut fill);
            }
            ours.end();
            let plain: Vec<String> = cells
                .iter()
                .map(|cell| mode.cell(&json(cell, Quotes::Plain)).into_owned())
                .collect();
            prop_assert_eq!(written(ours), csv_crates(&[plain]));
        }
    }
}
