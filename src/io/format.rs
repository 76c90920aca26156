//! The output formats ([`OutputFormat`]) and how CSV cells are written ([`CsvCells`]), for
//! every file idic writes.

use crate::text::{defused_by_spreadsheet_cell, spreadsheet_cell};
use std::borrow::Cow;

/// How decisions (and rejects) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl OutputFormat {
    /// The format a file's extension names: `.csv`, `.jsonl` or `.ndjson`.
    pub fn of(path: &std::path::Path) -> Option<OutputFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(OutputFormat::Csv),
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            _ => None,
        }
    }
}

/// How CSV cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvCells {
    /// Safe to open in a spreadsheet ([`spreadsheet_cell`]): a cell starting with `=`, `+`,
    /// `-`, `@`, a tab or a carriage return gets a leading `'`, and control characters other
    /// than tab and line breaks are written as `\u001b`. For files people open.
    #[default]
    Safe,
    /// Every cell exactly as it is, for programs that read the file (`--raw-csv`).
    Raw,
}

impl CsvCells {
    /// `cell` as this mode writes it.
    pub fn cell(self, cell: &str) -> Cow<'_, str> {
        match self {
            CsvCells::Safe => spreadsheet_cell(cell),
            CsvCells::Raw => Cow::Borrowed(cell),
        }
    }

    /// Whether [`CsvCells::cell_bytes`] may change a cell's bytes.
    pub fn defuses(self, cell: &[u8]) -> bool {
        self == CsvCells::Safe && defused_by_spreadsheet_cell(cell)
    }

    /// [`CsvCells::cell`] of a cell's UTF-8 bytes, read as text only when the defusing may
    /// change them ([`defused_by_spreadsheet_cell`]): most cells are written as they are.
    pub fn cell_bytes(self, cell: &[u8]) -> Cow<'_, [u8]> {
        if !self.defuses(cell) {
            return Cow::Borrowed(cell);
        }
        let text = String::from_utf8_lossy(cell);
        match (&text, spreadsheet_cell(&text)) {
            // A suspect byte that is no control (`£` starts with 0xC2): written as it is.
            (Cow::Borrowed(_), Cow::Borrowed(_)) => Cow::Borrowed(cell),
            (_, defused) => Cow::Owned(defused.into_owned().into_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CsvCells;
    use proptest::prelude::*;

    proptest! {
        /// A cell's bytes are written as its text is, in both modes.
        #[test]
        fn cell_bytes_are_the_cells_text(cell in "[a =+@\\-\t\r\n£\u{1}\u{7f}\u{85}é]{0,6}") {
            for mode in [CsvCells::Safe, CsvCells::Raw] {
                let (bytes, text) = (mode.cell_bytes(cell.as_bytes()), mode.cell(&cell));
                prop_assert_eq!(&*bytes, text.as_bytes());
            }
        }
    }
}
