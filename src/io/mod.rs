//! The edges of a run: exports read in batches ([`input`]) or one row at a time ([`find`]),
//! rows typed per the schema ([`records`], cell by cell with [`cells`]), decisions and rejects
//! encoded ([`encode`]) and written to files that appear only when complete ([`output`]).

pub mod cells;
pub mod encode;
pub mod find;
pub mod input;
pub mod output;
pub mod records;

pub use encode::{CsvCells, Encoder, OutputFormat};
pub use find::{find_row, FindError, FoundRow};
pub use input::{BatchReader, InputFormat, RawRows};
pub use output::Output;
pub use records::{ColumnMap, HeaderError, RecordReader, Reject, RejectCode};
