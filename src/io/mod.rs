//! The edges of a run: what a rule set may read ([`access`]), exports read in batches
//! ([`input`]) or one row at a time ([`find`]),
//! rows typed per the schema ([`records`], cell by cell with [`cells`]), decisions and rejects
//! written to files that appear only when complete ([`output`]) and never replace an input
//! ([`guard`]); a do-not-contact list ([`do_not_contact`]).

pub mod access;
pub mod cells;
pub mod digest;
pub mod do_not_contact;
pub mod find;
pub mod format;
pub mod guard;
pub mod input;
pub mod jsonl;
pub mod output;
pub mod records;
pub mod test_customer;

pub use access::{AccessError, ReadAccess, MAX_TEST_FILE};
pub use find::{find_row, FindError, FoundRow};
pub use format::{CsvCells, OutputFormat};
pub use guard::Files;
pub use input::{open_export, BatchReader, InputFormat, RawRows, MAX_ROW_BYTES, MAX_SPOOL_BYTES};
pub use output::{commit_all, Output};
pub use records::{ColumnMap, HeaderError, RecordReader, Reject, RejectCode};

/// Reads from `file` at byte `at` into `buffer`, leaving the file's offset where it is (so that
/// a reader sharing the handle is not disturbed); how many bytes it read, 0 at the end.
#[cfg(unix)]
pub fn read_at(file: &std::fs::File, buffer: &mut [u8], at: u64) -> std::io::Result<usize> {
    loop {
        match std::os::unix::fs::FileExt::read_at(file, buffer, at) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads from `file` at byte `at` into `buffer`; how many bytes it read, 0 at the end.
#[cfg(windows)]
pub fn read_at(file: &std::fs::File, buffer: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, at)
}

/// Fills `buffer` from `file` at byte `at` ([`read_at`]); an error if the file ends first.
pub fn read_exact_at(
    file: &std::fs::File,
    mut buffer: &mut [u8],
    mut at: u64,
) -> std::io::Result<()> {
    while !buffer.is_empty() {
        match read_at(file, buffer, at)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}
