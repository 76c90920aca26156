//! Reading an export in batches of raw rows, each row with the line it starts on.
//!
//! The reading thread only cuts the file into batches at row boundaries (a scan for quotes and
//! line ends, with `memchr`); CSV fields are split and typed later by the workers, in parallel.
//! A CSV line end inside a quoted field does not end a row: the cut follows the `csv` crate's
//! rules (a quote opens a quoted field only at the start of a field; `""` inside is a quote).

use memchr::{memchr, memchr2, memchr2_iter, memchr3, memrchr};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::ops::Range;
use std::path::Path;

/// The longest row (CSV, quoted line breaks included) or line (JSONL, text) an input may hold:
/// 1 MiB. A longer one stops the read with an error: it is a quote left open, or not an export
/// (`/dev/zero`), and reading on would hold it all in memory.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// The most standard input, a named pipe or a device is copied to a temporary file before a
/// run reads it (twice): 16 GiB.
pub const MAX_SPOOL_BYTES: u64 = 16 << 30;

/// The error for a row longer than [`MAX_ROW_BYTES`] starting at `line`.
pub fn row_too_long(line: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the row at line {line} runs over {} MiB, the most one row may hold: is a quote left \
             open, or is this not an export?",
            MAX_ROW_BYTES >> 20
        ),
    )
}

/// The export at `path` as a file that can be read more than once: a regular file as it is;
/// standard input (`-`), a named pipe or a device copied first to an anonymous temporary file
/// (see [`spool`]).
pub fn open_export(path: &Path) -> io::Result<File> {
    if path == Path::new("-") {
        return spool(&mut io::stdin().lock());
    }
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() {
        Ok(file)
    } else if meta.is_dir() {
        Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory, not an export",
        ))
    } else {
        spool(&mut file)
    }
}

/// `input` copied to an anonymous temporary file (deleted when closed), at most
/// [`MAX_SPOOL_BYTES`], and refused as soon as a line runs over [`MAX_ROW_BYTES`] (an endless
/// stream of bytes without a line end is not an export).
pub fn spool(input: &mut dyn Read) -> io::Result<File> {
    spool_within(input, MAX_SPOOL_BYTES)
}

fn spool_within(input: &mut dyn Read, most: u64) -> io::Result<File> {
    let mut file = tempfile::tempfile()?;
    let mut buffer = vec![0; 1 << 16];
    let (mut total, mut since_break, mut line) = (0u64, 0usize, 1u64);
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buffer[..n];
        match memchr::memrchr(b'\n', chunk) {
            Some(last) => {
                line += memchr::memchr_iter(b'\n', chunk).count() as u64;
                since_break = n - last - 1;
            }
            None => since_break += n,
        }
        if since_break > MAX_ROW_BYTES {
            return Err(row_too_long(line));
        }
        total += n as u64;
        if total > most {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the input runs over {} bytes, the most idic copies from a stream: save it \
                     to a file and name the file",
                    crate::text::group(most)
                ),
            ));
        }
        file.write_all(chunk)?;
    }
    file.rewind()?;
    Ok(file)
}

/// The UTF-8 byte-order mark, which some programs write at the start of a text file.
pub(crate) const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

/// The formats an export can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line, keyed by column name.
    Jsonl,
}

impl InputFormat {
    /// The format a file's extension names: `.csv`, `.jsonl` or `.ndjson`.
    pub fn of(path: &Path) -> Option<InputFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(InputFormat::Csv),
            "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }

    /// The format's name, as on the command line.
    pub fn word(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::Jsonl => "jsonl",
        }
    }
}

/// Whole rows of an export, as read, for one worker.
#[derive(Debug)]
pub struct RawRows {
    format: InputFormat,
    text: Vec<u8>,
    /// The line the text starts on (1-based).
    first_line: u64,
    /// Where the text starts in the file.
    first_byte: u64,
}

/// Where a row is in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// The line it starts on (1-based; a CSV header is line 1).
    pub line: u64,
    /// The line it ends on: after `line` when a quoted CSV cell holds line breaks (or a quote
    /// is never closed, and the lines after it are read into its cell).
    pub last_line: u64,
    /// A CSV row whose quote is never closed: it runs to the end of the export.
    pub unclosed: bool,
    /// The byte offset of its start in the file.
    pub byte: u64,
}

/// One raw row: a CSV record (fields split, not typed) or a JSONL line.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    Csv(CsvRow<'a>),
    Json(&'a [u8]),
}

/// A CSV row's cells, as the `csv` crate splits them (quoted cells unescaped; a byte-order mark
/// is taken off the start of the export alone, by [`BatchReader`], where the crate takes one
/// off the start of whatever it is given): slices of the export's text for a row without
/// quotes, else of its [`CsvScratch`].
#[derive(Debug, Clone, Copy)]
pub struct CsvRow<'a> {
    text: &'a [u8],
    bounds: &'a [Range<usize>],
}

impl<'a> CsvRow<'a> {
    /// How many cells the row has.
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    /// Whether the row has no cells (a row of an export always has one, maybe empty).
    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// The cell at `i`, when the row has one.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.bounds.get(i).map(|r| &self.text[r.clone()])
    }

    /// The cells in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let text = self.text;
        self.bounds.iter().map(move |r| &text[r.clone()])
    }

    /// The text from the first cell's start to the last one's end, which holds every cell:
    /// its UTF-8 can be checked once for the whole row ([`CsvRow::range`] finds a cell in it).
    pub fn whole(&self) -> &'a [u8] {
        match (self.bounds.first(), self.bounds.last()) {
            (Some(first), Some(last)) => &self.text[first.start..last.end],
            _ => &[],
        }
    }

    /// Where the cell at `i` is in [`CsvRow::whole`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        let start = self.bounds.first()?.start;
        self.bounds.get(i).map(|r| r.start - start..r.end - start)
    }
}

/// Room a CSV row is split into, kept from row to row so that splitting allocates nothing once
/// it is warm.
#[derive(Debug, Default)]
pub struct CsvScratch {
    /// The cells of a row with quotes, unescaped, end to end.
    text: Vec<u8>,
    /// Where each cell is: in the export's text for a row without quotes, else in `text`.
    bounds: Vec<Range<usize>>,
}

impl CsvScratch {
    /// `cells` as a row's cells.
    #[cfg(test)]
    pub fn cells<'s, C: AsRef<[u8]>>(
        &'s mut self,
        cells: impl IntoIterator<Item = C>,
    ) -> CsvRow<'s> {
        self.text.clear();
        self.bounds.clear();
        for cell in cells {
            self.push(cell.as_ref());
        }
        CsvRow {
            text: &self.text,
            bounds: &self.bounds,
        }
    }

    fn push(&mut self, cell: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(cell);
        self.bounds.push(start..self.text.len());
    }

    /// Pushes the cells of `line`, a stretch of a row without quotes.
    fn split(&mut self, line: &[u8]) {
        each_cell(line, |cell| self.push(&line[cell]));
    }
}

impl RawRows {
    /// Calls `f` with each row and where it is; `scratch` is room to split CSV rows in. Blank
    /// lines hold no row.
    pub fn each(&self, scratch: &mut CsvScratch, mut f: impl FnMut(At, Row<'_>)) {
        match self.format {
            InputFormat::Csv => self.each_csv_row(|start, lines| {
                let (end, quoted) = csv_row(&self.text, start, scratch);
                let cells = CsvRow {
                    text: if quoted { &scratch.text } else { &self.text },
                    bounds: &scratch.bounds,
                };
                f(self.at(lines, start, end, quoted), Row::Csv(cells));
                end
            }),
            InputFormat::Jsonl => {
                let mut byte = self.first_byte;
                let ends = memchr::memchr_iter(b'\n', &self.text).chain([self.text.len()]);
                let mut start = 0;
                let lines = ends.map(|end| {
                    let text = &self.text[start..end];
                    start = end + 1;
                    text
                });
                for (line, text) in (self.first_line..).zip(lines) {
                    let at = At {
                        line,
                        last_line: line,
                        unclosed: false,
                        byte,
                    };
                    byte += text.len() as u64 + 1;
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if !text.iter().all(u8::is_ascii_whitespace) {
                        f(at, Row::Json(text));
                    }
                }
            }
        }
    }

    /// Where the row from `start` of the text to `end` (after its line end, if it has one) is;
    /// `quoted`: whether a cell of it is quoted (only such a cell holds a line break).
    fn at(&self, lines: &mut Lines<'_>, start: usize, end: usize, quoted: bool) -> At {
        let line = lines.at(start);
        let last = end.max(start + 1) - 1;
        if !quoted {
            // One line: no break to look for before its last byte.
            lines.pass(last);
        }
        At {
            line,
            // The line of its last byte: its line end, or its last character.
            last_line: lines.at(last),
            // Only the last row of an export can end without its line end.
            unclosed: end == self.text.len() && quote_left_open(&self.text[start.min(end)..end]),
            byte: self.first_byte + start as u64,
        }
    }
}

impl RawRows {
    /// Calls `f` with where each CSV row starts and its cells at `columns` (in that order;
    /// `None` for a cell the row is too short to have), splitting the row only as far as the
    /// last of them: the survey reads ids and the population's few cells this way, several
    /// times faster than splitting every cell. Cells read as the `csv` crate reads them (quoted
    /// cells unescaped); rows as [`RawRows::each`] finds them.
    pub fn each_cells(&self, columns: &[usize], mut f: impl FnMut(At, &[Option<Cow<'_, [u8]>>])) {
        let text = self.text.as_slice();
        let last = columns.iter().copied().max();
        let mut cells: Vec<Option<Cow<'_, [u8]>>> = vec![None; columns.len()];
        self.each_csv_row(|start, lines| {
            cells.iter_mut().for_each(|c| *c = None);
            let mut pos = start;
            let mut index = 0;
            let mut quoted = false;
            loop {
                let (value, next, row_ended) = csv_field(text, pos);
                quoted |= text.get(pos) == Some(&b'"');
                pos = next;
                for (cell, _) in cells.iter_mut().zip(columns).filter(|(_, &c)| c == index) {
                    *cell = Some(value.clone());
                }
                if Some(index) >= last {
                    if !row_ended {
                        let rest_quoted;
                        (pos, rest_quoted) = csv_row_rest(text, pos);
                        quoted |= rest_quoted;
                    }
                    break;
                }
                if row_ended {
                    break;
                }
                index += 1;
            }
            f(self.at(lines, start, pos, quoted), &cells);
            pos
        });
    }

    /// Calls `row` with where each CSV row starts (a blank line holds none) and the text's
    /// line numbers; `row` reads the row and gives where the next one starts.
    fn each_csv_row(&self, mut row: impl FnMut(usize, &mut Lines<'_>) -> usize) {
        let mut lines = Lines::new(&self.text, self.first_line);
        let mut pos = 0;
        while pos < self.text.len() {
            if matches!(self.text[pos], b'\r' | b'\n') {
                pos += 1; // a blank line holds no row
                continue;
            }
            pos = row(pos, &mut lines);
        }
    }
}

/// Line numbers of byte offsets in a batch, for offsets asked in increasing order.
struct Lines<'a> {
    text: &'a [u8],
    /// The offset up to which the line breaks are counted.
    counted: usize,
    /// The line of the byte at `counted`.
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8], first_line: u64) -> Lines<'a> {
        Lines {
            text,
            counted: 0,
            line: first_line,
        }
    }

    /// Passes over the bytes up to `offset`, which the caller knows hold no line break.
    fn pass(&mut self, offset: usize) {
        self.counted = self.counted.max(offset);
    }

    /// The line of the byte at `offset`.
    fn at(&mut self, offset: usize) -> u64 {
        // Searched afresh from where the last search stopped: no iterator kept between calls.
        while self.counted < offset {
            let Some(i) = memchr2(b'\n', b'\r', &self.text[self.counted..offset]) else {
                self.counted = offset;
                break;
            };
            let i = self.counted + i;
            self.line += u64::from(is_break(self.text, i));
            self.counted = i + 1;
        }
        self.line
    }
}

/// The offsets of the line breaks in `text`: each `\n`, and each `\r` not followed by one (a
/// `\r\n` is one break).
fn line_breaks(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr2_iter(b'\n', b'\r', text).filter(move |&i| is_break(text, i))
}

/// Whether the `\n` or `\r` at `i` of `text` is a line break (a `\r` followed by `\n` is not:
/// the `\n` is).
fn is_break(text: &[u8], i: usize) -> bool {
    text[i] == b'\n' || text.get(i + 1) != Some(&b'\n')
}

/// The CSV cell starting at `pos`: its value, where the next cell or row starts, and whether
/// the row ended. A quote opens a quoted cell only as its first byte; inside, `""` is a quote;
/// after the closing quote, bytes up to the delimiter are kept as they are (as `csv` does).
fn csv_field(text: &[u8], pos: usize) -> (Cow<'_, [u8]>, usize, bool) {
    let (value, mut at): (Cow<'_, [u8]>, usize) = if text.get(pos) == Some(&b'"') {
        let mut value: Cow<'_, [u8]> = Cow::Borrowed(&[]);
        let mut from = pos + 1;
        loop {
            let Some(q) = memchr(b'"', &text[from..]).map(|q| from + q) else {
                // Never closed: the cell runs to the end.
                append(&mut value, &text[from..]);
                return (value, text.len(), true);
            };
            append(&mut value, &text[from..q]);
            if text.get(q + 1) == Some(&b'"') {
                value.to_mut().push(b'"');
                from = q + 2;
            } else {
                break (value, q + 1);
            }
        }
    } else {
        (Cow::Borrowed(&[][..]), pos)
    };
    let quoted = at > pos;
    let end = memchr3(b',', b'\n', b'\r', &text[at..]).map_or(text.len(), |e| at + e);
    let value = if quoted {
        let mut value = value;
        append(&mut value, &text[at..end]);
        value
    } else {
        Cow::Borrowed(&text[pos..end])
    };
    at = end;
    match text.get(at) {
        Some(b',') => (value, at + 1, false),
        _ => (value, line_end(text, at), true),
    }
}

/// Splits the CSV row starting at `start` into `scratch`, as the `csv` crate reads it: where
/// the next row starts, and whether the cells are in `scratch` (a row with quotes) rather than
/// in `text`. A line without quotes (most of an export) is cut at its commas in one sweep, its
/// cells left in `text`. In a line with quotes, the cells before the one that holds the next
/// quote are cut at their commas too, and that cell is read by [`csv_field`] (a quoted cell
/// may hold commas and line breaks); then the rest of the row is looked at again.
fn csv_row(text: &[u8], start: usize, scratch: &mut CsvScratch) -> (usize, bool) {
    scratch.bounds.clear();
    scratch.text.clear();
    let mut pos = start;
    loop {
        let end = memchr2(b'\n', b'\r', &text[pos..]).map_or(text.len(), |e| pos + e);
        let line = &text[pos..end];
        let Some(quote) = memchr(b'"', line) else {
            if pos == start {
                each_cell(line, |cell| {
                    scratch.bounds.push(pos + cell.start..pos + cell.end)
                });
                return (line_end(text, end), false);
            }
            scratch.split(line);
            return (line_end(text, end), true);
        };
        let cell = memrchr(b',', &line[..quote]).map_or(0, |c| c + 1);
        if cell > 0 {
            scratch.split(&line[..cell - 1]);
        }
        let (value, next, row_ended) = csv_field(text, pos + cell);
        scratch.push(&value);
        if row_ended {
            return (next, true);
        }
        pos = next;
    }
}

/// Where the next row starts after a line that ends at `end` (on its `\r`, `\n` or `\r\n`, or
/// at the end of the text).
fn line_end(text: &[u8], end: usize) -> usize {
    match &text[end..] {
        [b'\r', b'\n', ..] => end + 2,
        [] => end,
        _ => end + 1,
    }
}

/// Calls `f` with where each cell of `line` (a stretch of a row without quotes) is: its text
/// between commas.
fn each_cell(line: &[u8], mut f: impl FnMut(Range<usize>)) {
    let mut start = 0;
    each_comma(line, |comma| {
        f(start..comma);
        start = comma + 1;
    });
    f(start..line.len());
}

/// Calls `f` with the offset of each comma in `line`, in order. Eight bytes are looked at a
/// time: the bytes equal to a comma are found with integer arithmetic on them as one `u64`.
fn each_comma(line: &[u8], mut f: impl FnMut(usize)) {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COMMAS: u64 = u64::from_ne_bytes([b','; 8]);
    let mut words = line.chunks_exact(8);
    for (n, word) in words.by_ref().enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A byte of `zero` is 0 where `word` has a comma; the top bit of each byte of `found`
        // is set where `zero`'s byte is 0 (adding 0x7f to its low 7 bits carries into the top
        // bit unless they are all 0, and never into the next byte).
        let zero = word ^ COMMAS;
        let mut found = !(((zero & LOW) + LOW) | zero | LOW);
        while found != 0 {
            f(n * 8 + found.trailing_zeros() as usize / 8);
            found &= found - 1;
        }
    }
    let rest = words.remainder();
    let base = line.len() - rest.len();
    rest.iter()
        .enumerate()
        .filter(|(_, &b)| b == b',')
        .for_each(|(i, _)| f(base + i));
}

/// Appends `more` to `value`, borrowing while it is the only piece.
fn append<'t>(value: &mut Cow<'t, [u8]>, more: &'t [u8]) {
    if value.is_empty() {
        *value = Cow::Borrowed(more);
    } else if !more.is_empty() {
        value.to_mut().extend_from_slice(more);
    }
}

/// Skips the rest of a CSV row from the start of a cell: where the next row starts, and
/// whether a cell of that rest is quoted.
fn csv_row_rest(text: &[u8], mut pos: usize) -> (usize, bool) {
    // Where the current cell starts: a quote there opens a quoted cell.
    let mut cell_start = pos;
    let mut quoted = false;
    loop {
        // Cells without quotes are skipped a line end at a time.
        let Some(at) = memchr3(b'"', b'\n', b'\r', &text[pos..]).map(|a| pos + a) else {
            return (text.len(), quoted);
        };
        match text[at] {
            b'\n' | b'\r' => return (line_end(text, at), quoted),
            _ if at == cell_start || text[at - 1] == b',' => {
                quoted = true;
                let (_, next, row_ended) = csv_field(text, at);
                if row_ended {
                    return (next, quoted);
                }
                pos = next;
                cell_start = next;
            }
            _ => pos = at + 1,
        }
    }
}

/// An export opened for reading in batches.
pub struct BatchReader {
    format: InputFormat,
    /// Read by [`BatchReader::fill`] alone, straight into a batch's spare room: a wrapper
    /// implementing only `Read::read` would have std zero that room before every read.
    file: File,
    /// Bytes read from `file` so far.
    read: u64,
    /// The start of a row read with the last batch, for the next one.
    carry: Vec<u8>,
    /// The line the carried text starts on.
    line: u64,
    /// Where the carried text starts in the file.
    byte: u64,
    eof: bool,
    batch_bytes: usize,
}

impl BatchReader {
    /// Opens `file` from its start, for batches of about `batch_bytes`; for CSV, also returns
    /// the header's column names.
    pub fn open(
        file: &File,
        format: InputFormat,
        batch_bytes: usize,
    ) -> io::Result<(BatchReader, Option<Vec<String>>)> {
        let mut file = file.try_clone()?;
        file.rewind()?;
        let mut reader = BatchReader {
            format,
            file,
            read: 0,
            carry: Vec::new(),
            line: 1,
            byte: 0,
            eof: false,
            batch_bytes: batch_bytes.max(1),
        };
        reader.skip_byte_order_mark()?;
        let header = match format {
            InputFormat::Csv => Some(reader.header()?),
            InputFormat::Jsonl => None,
        };
        Ok((reader, header))
    }

    /// The row that starts at `byte` of `file`, alone (its line is not known: 0).
    pub fn row_at(file: &File, format: InputFormat, byte: u64) -> io::Result<Option<RawRows>> {
        let mut file = file.try_clone()?;
        file.seek(io::SeekFrom::Start(byte))?;
        let mut reader = BatchReader {
            format,
            file,
            read: 0,
            carry: Vec::new(),
            line: 0,
            byte,
            eof: false,
            batch_bytes: 4096,
        };
        reader.batch(Vec::new(), true)
    }

    /// Skips the UTF-8 byte-order mark some programs (spreadsheets, Windows tools) write first,
    /// or the several a chain of them may leave (as many as a row's room holds): they are not
    /// part of the first column's name or the first JSON line. A byte-order mark anywhere else
    /// is text like any other.
    fn skip_byte_order_mark(&mut self) -> io::Result<()> {
        let mut start = std::mem::take(&mut self.carry);
        let mut skip = 0;
        while skip < MAX_ROW_BYTES {
            self.fill(&mut start, skip + BYTE_ORDER_MARK.len())?;
            if !start[skip..].starts_with(BYTE_ORDER_MARK) {
                break;
            }
            skip += BYTE_ORDER_MARK.len();
        }
        start.drain(..skip);
        self.byte = skip as u64;
        self.carry = start;
        Ok(())
    }

    /// Reads the first row as column names.
    fn header(&mut self) -> io::Result<Vec<String>> {
        let Some(rows) = self.batch(Vec::new(), true)? else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        rows.each(&mut CsvScratch::default(), |_, row| {
            if let Row::Csv(record) = row {
                names = record
                    .iter()
                    .map(|h| String::from_utf8_lossy(h).into_owned())
                    .collect();
            }
        });
        Ok(names)
    }

    /// Bytes consumed from the file so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The next batch of whole rows, reusing the buffer of `recycled` when given; `None` at the
    /// end.
    pub fn next_batch(&mut self, recycled: Option<RawRows>) -> io::Result<Option<RawRows>> {
        self.batch(recycled.map(|r| r.text).unwrap_or_default(), false)
    }

    /// Reads about `batch_bytes` into `text` (after the carried start of a row) and keeps the
    /// whole rows, carrying the rest to the next batch; with `one_row`, only the first row.
    fn batch(&mut self, mut text: Vec<u8>, one_row: bool) -> io::Result<Option<RawRows>> {
        text.clear();
        text.append(&mut self.carry);
        let mut want = self.batch_bytes;
        loop {
            self.fill(&mut text, want)?;
            let cut = match self.format {
                InputFormat::Csv => csv_rows(&text, one_row),
                InputFormat::Jsonl => {
                    let last = if one_row {
                        memchr(b'\n', &text)
                    } else {
                        memchr::memrchr(b'\n', &text)
                    };
                    last.map(|i| {
                        let end = i + 1;
                        (end, memchr::memchr_iter(b'\n', &text[..end]).count() as u64)
                    })
                }
            };
            let (end, breaks) = match cut {
                Some(cut) => cut,
                None if text.len() > MAX_ROW_BYTES => return Err(row_too_long(self.line)),
                // The last row has no line end.
                None if self.eof => (text.len(), line_breaks(&text).count() as u64),
                // A row longer than the batch: read more.
                None => {
                    want = text.len() + self.batch_bytes;
                    continue;
                }
            };
            if end == 0 {
                return Ok(None);
            }
            self.carry.extend_from_slice(&text[end..]);
            text.truncate(end);
            let (first_line, first_byte) = (self.line, self.byte);
            self.line += breaks;
            self.byte += end as u64;
            return Ok(Some(RawRows {
                format: self.format,
                text,
                first_line,
                first_byte,
            }));
        }
    }

    /// Reads into `text` until it holds `want` bytes or the file ends.
    fn fill(&mut self, text: &mut Vec<u8>, want: usize) -> io::Result<()> {
        if self.eof || text.len() >= want {
            return Ok(());
        }
        let more = (want - text.len()) as u64;
        text.reserve(want - text.len());
        // `read_to_end` appends without zeroing the buffer first.
        let read = (&mut self.file).take(more).read_to_end(text)?;
        self.read += read as u64;
        if (read as u64) < more {
            self.eof = true;
        }
        Ok(())
    }
}

/// Whether a quote that opens a quoted cell of the CSV `row` is never closed (the rules of
/// [`csv_rows`]).
fn quote_left_open(row: &[u8]) -> bool {
    let mut i = 0;
    while let Some(at) = memchr(b'"', &row[i..]).map(|a| i + a) {
        i = at + 1;
        if at > 0 && !matches!(row[at - 1], b',' | b'\n' | b'\r') {
            continue;
        }
        loop {
            let Some(q) = memchr(b'"', &row[i..]).map(|q| i + q) else {
                return true;
            };
            if row.get(q + 1) == Some(&b'"') {
                i = q + 2;
            } else {
                i = q + 1;
                break;
            }
        }
    }
    false
}

/// Where the whole CSV rows of `text` (which starts at a row boundary) end, and how many line
/// breaks come before that: after the last row end, or after the first with `first`; `None`
/// when no row ends in `text` yet. Line ends inside quoted fields do not end a row; a `\r`
/// ends one when no `\n` follows (a `\r\n` ends after its `\n`).
fn csv_rows(text: &[u8], first: bool) -> Option<(usize, u64)> {
    let mut found = None;
    let mut breaks = 0;
    let mut i = 0;
    while let Some(at) = memchr3(b'"', b'\n', b'\r', &text[i..]).map(|a| i + a) {
        i = at + 1;
        if text[at] != b'"' {
            match (text[at], text.get(at + 1)) {
                // The `\r` of a `\r\n`: the `\n` ends the row.
                (b'\r', Some(b'\n')) => continue,
                // A last `\r`: whether a `\n` follows is not known yet.
                (b'\r', None) => break,
                _ => {}
            }
            breaks += 1;
            found = Some((i, breaks));
            if first {
                break;
            }
            continue;
        }
        // A quote opens a quoted field only at the start of a field.
        if at > 0 && !matches!(text[at - 1], b',' | b'\n' | b'\r') {
            continue;
        }
        // Inside quotes until a quote that is not doubled; line breaks inside count.
        let closed = loop {
            let Some(q) = memchr(b'"', &text[i..]).map(|q| i + q) else {
                break false;
            };
            match text.get(q + 1) {
                Some(b'"') => i = q + 2,
                // The text ends right after a quote: doubled or closing is not known yet.
                None => break false,
                Some(_) => {
                    breaks += line_breaks(&text[at..q]).count() as u64;
                    i = q + 1;
                    break true;
                }
            }
        };
        if !closed {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_spool_copies_whole_lines_and_stops_at_its_limits() {
        let text = "Id\nC1\nC2\n".repeat(1000);
        let mut file = super::spool(&mut text.as_bytes()).unwrap();
        let mut back = String::new();
        std::io::Read::read_to_string(&mut file, &mut back).unwrap();
        assert_eq!(back, text);
        let err = super::spool_within(&mut text.as_bytes(), 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the input runs over 100 bytes, the most idic copies from a stream: save it to a \
             file and name the file"
        );
        let mut endless = std::io::Read::take(std::io::repeat(b'x'), 3 << 20);
        let err = super::spool(&mut endless).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the row at line 1 runs over 1 MiB"),
            "{err}"
        );
    }

    #[test]
    fn a_row_longer_than_the_limit_stops_the_reading() {
        let mut file = tempfile::tempfile().unwrap();
        let long = "x".repeat(super::MAX_ROW_BYTES + 10);
        std::io::Write::write_all(&mut file, format!("Id\nC1\n\"{long}\n").as_bytes()).unwrap();
        let (mut reader, _) =
            super::BatchReader::open(&file, super::InputFormat::Csv, 1 << 16).unwrap();
        let mut rows = 0;
        let err = loop {
            match reader.next_batch(None) {
                Ok(Some(_)) => rows += 1,
                Ok(None) => panic!("read to the end"),
                Err(e) => break e,
            }
        };
        assert_eq!(rows, 1);
        assert!(
            err.to_string()
                .starts_with("the row at line 3 runs over 1 MiB"),
            "{err}"
        );
    }

    use super::*;
    use std::io::Write;

    /// The first bytes a row's text starts with: its first cell unless quoted (CSV), its first
    /// character (JSON).
    fn first_bytes(row: Row<'_>) -> Vec<u8> {
        match row {
            Row::Csv(r) => r
                .get(0)
                .unwrap_or_default()
                .iter()
                .take_while(|&&b| b != b'"')
                .copied()
                .collect(),
            Row::Json(t) => t[..1].to_vec(),
        }
    }

    /// Every row of `text` read in batches of `size` bytes: (line, fields).
    fn rows(text: &str, format: InputFormat, size: usize) -> Vec<(u64, Vec<String>)> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        let (mut reader, header) = BatchReader::open(&file, format, size).unwrap();
        let mut out = Vec::new();
        if let Some(h) = header {
            out.push((1, h));
        }
        let mut scratch = CsvScratch::default();
        while let Some(batch) = reader.next_batch(None).unwrap() {
            // What the progress bar shows never runs past the file.
            assert!(reader.bytes_read() <= text.len() as u64);
            batch.each(&mut scratch, |at, row| {
                let fields = match row {
                    Row::Csv(r) => r
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into())
                        .collect(),
                    Row::Json(t) => vec![String::from_utf8_lossy(t).into_owned()],
                };
                // The row starts where its place says.
                assert!(text.as_bytes()[at.byte as usize..].starts_with(&first_bytes(row)));
                out.push((at.line, fields));
            });
        }
        assert_eq!(
            reader.bytes_read(),
            text.len() as u64,
            "batches of {size} bytes"
        );
        out
    }

    /// The fields of each row as the `csv` crate reads the whole text at once.
    fn csv_crate(text: &str) -> Vec<Vec<String>> {
        csv_crate_places(text.as_bytes())
            .into_iter()
            .map(|(_, cells)| {
                cells
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn csv_batches_cut_only_between_rows() {
        let text = "a,b,c\n1,\"x\ny\",3\n2,\"say \"\"hi\"\"\n\",4\r\n3,5\" screen,6\n\n4,\"\",\"q\"\"\"\n5,a\"\nb,c";
        let fields = csv_crate(text);
        // The line each row starts on, as an editor shows it.
        let lines = [1, 2, 4, 6, 8, 9, 10];
        let whole: Vec<(u64, Vec<String>)> = lines.into_iter().zip(fields).collect();
        for size in 1..text.len() + 2 {
            assert_eq!(
                rows(text, InputFormat::Csv, size),
                whole,
                "batches of {size}"
            );
        }
    }

    /// A whole CSV text as one batch, from line 1.
    fn whole_csv(text: &[u8]) -> RawRows {
        RawRows {
            format: InputFormat::Csv,
            text: text.to_vec(),
            first_line: 1,
            first_byte: 0,
        }
    }

    /// Every row's place and cells of a whole text, through [`RawRows::each`].
    fn places(text: &[u8]) -> Vec<(At, Vec<Vec<u8>>)> {
        let rows = whole_csv(text);
        let mut out = Vec::new();
        rows.each(&mut CsvScratch::default(), |at, row| {
            if let Row::Csv(r) = row {
                out.push((at, r.iter().map(<[u8]>::to_vec).collect()));
            }
        });
        out
    }

    /// Every row's place and cells of a whole text, as the `csv` crate splits it: the
    /// reference [`RawRows::each`] is held to.
    fn csv_crate_places(text: &[u8]) -> Vec<(At, Vec<Vec<u8>>)> {
        let rows = whole_csv(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            // The crate's byte offsets count the line end before a row: skip it.
            let mut start = record.position().map_or(0, |p| p.byte() as usize);
            while matches!(text.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            let end = reader.position().byte() as usize;
            let cells = record.iter().map(<[u8]>::to_vec).collect();
            // The lines counted here byte by byte, not by the `Lines` under test.
            let at = At {
                line: naive_line(text, start),
                last_line: naive_line(text, end.max(start + 1) - 1),
                ..rows.at(&mut Lines::new(text, 1), start, end, true)
            };
            out.push((at, cells));
        }
        out
    }

    /// The line of the byte at `offset`: one more than the line breaks before it.
    fn naive_line(text: &[u8], offset: usize) -> u64 {
        let breaks = (0..offset)
            .filter(|&i| text[i] == b'\n' || (text[i] == b'\r' && text.get(i + 1) != Some(&b'\n')));
        1 + breaks.count() as u64
    }

    /// Every row's line and cells of a whole text, through [`RawRows::each`].
    fn whole(text: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        places(text)
            .into_iter()
            .map(|(at, cells)| (at.line, cells))
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Reading some cells of each row agrees with the `csv` crate's full split, row for row.
        #[test]
        fn some_cells_read_as_the_csv_crate_splits(
            text in proptest::collection::vec(
                proptest::sample::select(&b"ab,,\"\"\n\r "[..]), 0..60),
            columns in proptest::collection::vec(0usize..5, 1..4),
        ) {
            let rows = whole_csv(&text);
            let mut got = Vec::new();
            rows.each_cells(&columns, |at, cells| {
                let cells: Vec<_> = cells.iter().map(|c| c.as_ref().map(|c| c.to_vec())).collect();
                got.push((at, cells));
            });
            let want: Vec<(At, Vec<Option<Vec<u8>>>)> = places(&text)
                .into_iter()
                .map(|(at, cells)| (at, columns.iter().map(|&c| cells.get(c).cloned()).collect()))
                .collect();
            proptest::prop_assert_eq!(got, want);
        }

        /// The commas of any bytes are found where they are, and only those.
        #[test]
        fn commas_are_found_eight_bytes_at_a_time(line in proptest::collection::vec(
            proptest::prop_oneof![proptest::prelude::Just(b','), proptest::prelude::any::<u8>()], 0..40)) {
            let mut found = Vec::new();
            each_comma(&line, |i| found.push(i));
            let want: Vec<usize> = (0..line.len()).filter(|&i| line[i] == b',').collect();
            proptest::prop_assert_eq!(found, want);
        }

        /// Rows are split as the `csv` crate splits them, in the same places, whatever quotes,
        /// commas and line ends they hold.
        #[test]
        fn rows_split_as_the_csv_crate_splits(
            text in proptest::collection::vec(
                proptest::sample::select(&b"ab,,\"\"\n\r x"[..]), 0..80),
        ) {
            proptest::prop_assert_eq!(places(&text), csv_crate_places(&text));
        }

        /// Batches of any size hold whole rows: reading in batches gives the rows and lines of
        /// reading the text at once.
        #[test]
        fn batches_of_any_size_keep_rows_whole(
            text in proptest::collection::vec(
                proptest::sample::select(&b"ab,\"\n\r"[..]), 0..80),
            size in 1usize..40,
        ) {
            let text = String::from_utf8(text).unwrap();
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(text.as_bytes()).unwrap();
            let (mut reader, _) = BatchReader::open(&file, InputFormat::Jsonl, size).unwrap();
            // Read as CSV without a header: reuse the JSONL opening, then cut as CSV.
            reader.format = InputFormat::Csv;
            let mut got = Vec::new();
            while let Some(batch) = reader.next_batch(None).unwrap() {
                batch.each(&mut CsvScratch::default(), |at, row| {
                    if let Row::Csv(r) = row {
                        got.push((at.line, r.iter().map(<[u8]>::to_vec).collect::<Vec<_>>()));
                    }
                });
            }
            proptest::prop_assert_eq!(got, whole(text.as_bytes()));
        }
    }

    #[test]
    fn lines_count_every_kind_of_line_end() {
        let lines: Vec<(u64, u64)> = places(b"a\r\nb\rc\n\"x\r\ny\"\nd")
            .iter()
            .map(|(at, _)| (at.line, at.last_line))
            .collect();
        assert_eq!(lines, [(1, 1), (2, 2), (3, 3), (4, 5), (6, 6)]);
    }

    #[test]
    fn a_quote_never_closed_runs_the_row_to_the_last_line() {
        let text = "id,name\nC1,\"Ada\nC2,Bo\r\nC3,Cy\n";
        for size in [1, 7, 100] {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(text.as_bytes()).unwrap();
            let (mut reader, _) = BatchReader::open(&file, InputFormat::Csv, size).unwrap();
            let mut got = Vec::new();
            while let Some(batch) = reader.next_batch(None).unwrap() {
                batch.each(&mut CsvScratch::default(), |at, _| {
                    got.push((at.line, at.last_line))
                });
                batch.each_cells(&[0], |at, _| got.push((at.line, at.last_line)));
            }
            assert_eq!(got, [(2, 4), (2, 4)], "batches of {size}");
        }
    }

    #[test]
    fn windows_line_ends_count_once() {
        let got = rows("id\r\nC1\r\nC2\r\n\r\nC3", InputFormat::Csv, 4);
        let lines: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 3, 5]);
    }

    #[test]
    fn jsonl_lines_keep_their_numbers() {
        let text = "{\"a\":1}\n\n  \n{\"a\":2}\r\n{\"a\":3}";
        for size in [1, 5, 100] {
            let got = rows(text, InputFormat::Jsonl, size);
            let lines: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
            assert_eq!(lines, [1, 4, 5], "batches of {size}");
            assert_eq!(got[1].1, ["{\"a\":2}"]);
        }
    }

    #[test]
    fn a_header_without_rows_and_an_empty_file() {
        assert_eq!(
            rows("x,y", InputFormat::Csv, 10),
            [(1, vec!["x".to_string(), "y".to_string()])]
        );
        assert_eq!(rows("", InputFormat::Csv, 10), [(1, Vec::<String>::new())]);
        assert!(rows("", InputFormat::Jsonl, 10).is_empty());
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let got = rows("\u{feff}Customer ID,Name\nC1,Ada\n", InputFormat::Csv, 100);
        assert_eq!(got[0].1, ["Customer ID", "Name"]);
        assert_eq!(got[1], (2, vec!["C1".to_string(), "Ada".to_string()]));
        // A quoted first name opens its quotes right after the mark.
        let got = rows(
            "\u{feff}\"Customer ID\",\"a,b\"\nC1,2\n",
            InputFormat::Csv,
            100,
        );
        assert_eq!(got[0].1, ["Customer ID", "a,b"]);
        // Marks written twice are skipped too; one in a later row is part of its text.
        let got = rows("\u{feff}\u{feff}Id\n\u{feff}C1\n", InputFormat::Csv, 2);
        assert_eq!(
            got,
            [
                (1, vec!["Id".to_string()]),
                (2, vec!["\u{feff}C1".to_string()])
            ]
        );
        // A file of marks alone is read as far as a row's room, not into memory whole.
        let marks = "\u{feff}".repeat(MAX_ROW_BYTES.div_ceil(BYTE_ORDER_MARK.len()) + 2);
        let got = rows(&format!("{marks}Id\n"), InputFormat::Csv, 1 << 16);
        assert_eq!(got[0].1, ["\u{feff}\u{feff}Id".to_string()]);
    }

    #[test]
    fn the_bytes_read_are_the_files_length_at_the_end() {
        // `rows` holds every file read to that; here, marks, a header, quoted rows with
        // Windows line ends and a last row without one, read in batches of several sizes.
        let mut text = String::from("\u{feff}\u{feff}id,x\r\n");
        for i in 0..2000 {
            text.push_str(&format!("C{i},\"a,\"\"{i}\"\"\"\r\n"));
        }
        text.push_str("C-last,z");
        for size in [1, 7, 1 << 10, 1 << 18] {
            let got = rows(&text, InputFormat::Csv, size);
            assert_eq!(got[0].1, ["id", "x"]);
            assert_eq!(got.len(), 2002, "batch size {size}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_json_line() {
        for size in [1, 2, 3, 4, 100] {
            let got = rows("\u{feff}{\"a\":1}\n{\"a\":2}\n", InputFormat::Jsonl, size);
            assert_eq!(
                got,
                [
                    (1, vec!["{\"a\":1}".to_string()]),
                    (2, vec!["{\"a\":2}".to_string()])
                ],
                "batches of {size}"
            );
        }
        // Only a whole mark at the very start is one; a file shorter than it is read as it is.
        assert_eq!(
            rows("{}", InputFormat::Jsonl, 100),
            [(1, vec!["{}".to_string()])]
        );
        assert_eq!(
            rows("\n\u{feff}{}", InputFormat::Jsonl, 100)[0].1,
            ["\u{feff}{}"]
        );
    }
}
