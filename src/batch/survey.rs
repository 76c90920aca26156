//! The survey: a first pass over the whole export, before any customer is evaluated, for what
//! needs the population. Today that is duplicate ids: the first row with an id is decided,
//! every later row with the same id is rejected, and that must be known before the first
//! decision is written. (The same reading of the export observes the population: see
//! [`super::scan`].)
//!
//! Memory stays bounded whatever the export's size, and does not depend on how long ids are:
//! workers note each row's id as a 64-bit fingerprint with the row's line and byte offset
//! ([`Ids`], 24 bytes a row); the collector keeps up to [`CHUNK`] of them in memory, sorts a
//! full chunk by fingerprint and spills it to a temporary file, and merges the chunks at the
//! end. Rows that share a fingerprint have their ids read again from the export and compared
//! in full, so a fingerprint collision never makes two customers duplicates.

use crate::io::input::At;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::io::{self, BufWriter, Write};

/// Rows held in memory before a chunk is spilled (24 bytes each).
pub const CHUNK: usize = 1_000_000;

/// What the survey learned about the export.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Survey {
    /// Rows that repeat an earlier row's id: (line, line of the first row with that id),
    /// ordered by line.
    duplicates: Vec<(u64, u64)>,
}

impl Survey {
    /// The line of the first row with the same id, when the row at `line` repeats one.
    pub fn duplicate_of(&self, line: u64) -> Option<u64> {
        if self.duplicates.is_empty() {
            return None;
        }
        self.duplicates
            .binary_search_by_key(&line, |&(l, _)| l)
            .ok()
            .map(|i| self.duplicates[i].1)
    }

    /// How many rows repeat an earlier id.
    pub fn duplicates(&self) -> usize {
        self.duplicates.len()
    }
}

/// (fingerprint, line, byte offset) of a row.
type Entry = (u64, u64, u64);

/// The ids of some rows, as a worker notes them from a batch.
#[derive(Debug, Default)]
pub struct Ids {
    entries: Vec<Entry>,
}

impl Ids {
    /// Notes the id of the row at `at`.
    pub fn push(&mut self, id: &[u8], at: At) {
        self.entries.push((fingerprint(id), at.line, at.byte));
    }

    /// Empties it, keeping its buffer.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Gathers the ids of a whole export, then finds the repeated ones.
pub struct IdCollector {
    chunk: Vec<Entry>,
    runs: Vec<std::fs::File>,
}

impl Default for IdCollector {
    fn default() -> Self {
        IdCollector::new()
    }
}

impl IdCollector {
    pub fn new() -> IdCollector {
        IdCollector {
            // Reserved whole: pages count only once written.
            chunk: Vec::with_capacity(CHUNK),
            runs: Vec::new(),
        }
    }

    /// Adds a batch's ids.
    pub fn add(&mut self, ids: &Ids) -> io::Result<()> {
        for &entry in &ids.entries {
            if self.chunk.len() == CHUNK {
                self.spill()?;
            }
            self.chunk.push(entry);
        }
        Ok(())
    }

    /// Sorts the chunk and writes it to a temporary file (on one thread: the workers still
    /// read the export).
    fn spill(&mut self) -> io::Result<()> {
        sort(&mut self.chunk, false);
        let mut file = tempfile::tempfile()?;
        {
            let mut out = BufWriter::new(&mut file);
            for &(fp, line, byte) in &self.chunk {
                out.write_all(&fp.to_le_bytes())?;
                out.write_all(&line.to_le_bytes())?;
                out.write_all(&byte.to_le_bytes())?;
            }
            out.flush()?;
        }
        self.runs.push(file);
        self.chunk.clear();
        Ok(())
    }

    /// Lists the rows whose id an earlier row had; `id_at` reads the id of the row starting at
    /// a byte offset again (for rows whose fingerprints match). Sorting and merging use two
    /// threads when `threads` allows.
    pub fn finish(
        mut self,
        threads: usize,
        mut id_at: impl FnMut(u64) -> io::Result<Option<Vec<u8>>>,
    ) -> io::Result<Survey> {
        let two_threads = threads > 1;
        sort(&mut self.chunk, two_threads);
        let mut shared = merge(&self.runs, &self.chunk, two_threads)?;
        // The rows of each fingerprint together, in line order.
        shared.sort_unstable();
        let mut duplicates = Vec::new();
        for group in shared.chunk_by(|a, b| a.0 == b.0) {
            repeats(group, &mut id_at, &mut duplicates)?;
        }
        duplicates.sort_unstable();
        Ok(Survey { duplicates })
    }
}

/// Sorts by fingerprint alone (one word compares faster than two; the rare rows that share a
/// fingerprint are put in line order when they are compared); on two threads, the lower and
/// upper halves of the fingerprints apart.
fn sort(entries: &mut [Entry], two_threads: bool) {
    fn sort_one(entries: &mut [Entry]) {
        entries.sort_unstable_by_key(|&(fp, _, _)| fp);
    }
    if !two_threads {
        return sort_one(entries);
    }
    // Partition in place: fingerprints below 2^63 first.
    let (mut lo, mut hi) = (0, entries.len());
    while lo < hi {
        if entries[lo].0 >> 63 == 0 {
            lo += 1;
        } else {
            hi -= 1;
            entries.swap(lo, hi);
        }
    }
    let (low, high) = entries.split_at_mut(lo);
    std::thread::scope(|scope| {
        scope.spawn(|| sort_one(low));
        sort_one(high);
    });
}

/// The entries whose fingerprint another entry has, kept from entries seen in fingerprint
/// order.
#[derive(Default)]
struct Shared {
    /// The last entry seen, and whether it is kept already.
    last: Option<(Entry, bool)>,
    entries: Vec<Entry>,
}

impl Shared {
    fn see(&mut self, entry: Entry) {
        match &mut self.last {
            Some((last, kept)) if last.0 == entry.0 => {
                if !*kept {
                    self.entries.push(*last);
                    *kept = true;
                }
                self.entries.push(entry);
            }
            _ => self.last = Some((entry, false)),
        }
    }
}

/// Of rows sharing one fingerprint, in line order, those that repeat an earlier row's id:
/// (line, first line).
fn repeats(
    group: &[Entry],
    id_at: &mut impl FnMut(u64) -> io::Result<Option<Vec<u8>>>,
    duplicates: &mut Vec<(u64, u64)>,
) -> io::Result<()> {
    let mut seen: Vec<(Vec<u8>, u64)> = Vec::with_capacity(group.len());
    for &(_, line, byte) in group {
        let Some(id) = id_at(byte)? else { continue };
        match seen.iter().find(|(other, _)| *other == id) {
            Some(&(_, first)) => duplicates.push((line, first)),
            None => seen.push((id, line)),
        }
    }
    Ok(())
}

/// The size of an entry in a spilled chunk.
const ENTRY_BYTES: u64 = 24;

/// The entries of the spilled chunks and of `chunk` (each in fingerprint order) whose
/// fingerprint another entry has: a k-way merge, on two threads the lower and upper halves of
/// the fingerprints apart.
fn merge(runs: &[std::fs::File], chunk: &[Entry], two_threads: bool) -> io::Result<Vec<Entry>> {
    const HALF: u64 = 1 << 63;
    let (mut low, mut high) = (Vec::new(), Vec::new());
    for run in runs {
        let len = run.metadata()?.len() / ENTRY_BYTES;
        let middle = if two_threads {
            first_at_least(run, len, HALF)?
        } else {
            len
        };
        low.push(Source::spilled(run, 0..middle));
        high.push(Source::spilled(run, middle..len));
    }
    let middle = if two_threads {
        chunk.partition_point(|e| e.0 < HALF)
    } else {
        chunk.len()
    };
    low.push(Source::held(&chunk[..middle]));
    high.push(Source::held(&chunk[middle..]));
    if !two_threads {
        return shared_of(low);
    }
    let (low, high) = std::thread::scope(|scope| {
        let high = scope.spawn(|| shared_of(high));
        (
            shared_of(low),
            high.join().expect("the merge does not panic"),
        )
    });
    let mut low = low?;
    low.extend(high?);
    Ok(low)
}

/// The index of the first entry of a spilled chunk of `len` entries whose fingerprint is at
/// least `fp` (a binary search reading one fingerprint a step).
fn first_at_least(run: &std::fs::File, len: u64, fp: u64) -> io::Result<u64> {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let mut word = [0u8; 8];
        read_exact_at(run, &mut word, mid * ENTRY_BYTES)?;
        if u64::from_le_bytes(word) < fp {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

fn read_exact_at(file: &std::fs::File, mut buffer: &mut [u8], mut at: u64) -> io::Result<()> {
    while !buffer.is_empty() {
        match crate::io::read_at(file, buffer, at)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}

/// The entries of `sources` whose fingerprint another entry has, merged in fingerprint order.
fn shared_of(mut sources: Vec<Source<'_>>) -> io::Result<Vec<Entry>> {
    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, source) in sources.iter_mut().enumerate() {
        if let Some(fp) = source.peek()? {
            heap.push(Reverse((fp, i)));
        }
    }
    let mut shared = Shared::default();
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((_, i)) = *top;
        let source = &mut sources[i];
        shared.see(source.take());
        match source.peek()? {
            Some(fp) => *top = Reverse((fp, i)),
            None => drop(PeekMut::pop(top)),
        }
    }
    Ok(shared.entries)
}

/// Entries in fingerprint order for a merge: held in memory, or a range of a spilled chunk read
/// a block at a time at its own offsets (the two threads of a merge read the same files).
struct Source<'a> {
    file: Option<&'a std::fs::File>,
    /// Entries of the file not yet read into `block`.
    left: std::ops::Range<u64>,
    block: Cow<'a, [Entry]>,
    next: usize,
}

impl<'a> Source<'a> {
    /// Entries read at once.
    const BLOCK: u64 = 2048;

    fn spilled(file: &'a std::fs::File, range: std::ops::Range<u64>) -> Source<'a> {
        Source {
            file: Some(file),
            left: range,
            block: Cow::Owned(Vec::new()),
            next: 0,
        }
    }

    fn held(entries: &'a [Entry]) -> Source<'a> {
        Source {
            file: None,
            left: 0..0,
            block: Cow::Borrowed(entries),
            next: 0,
        }
    }

    /// The fingerprint of the next entry, reading the next block when needed.
    fn peek(&mut self) -> io::Result<Option<u64>> {
        if self.next == self.block.len() {
            let Some(file) = self.file.filter(|_| !self.left.is_empty()) else {
                return Ok(None);
            };
            let count = Self::BLOCK.min(self.left.end - self.left.start);
            let mut raw = vec![0u8; (count * ENTRY_BYTES) as usize];
            read_exact_at(file, &mut raw, self.left.start * ENTRY_BYTES)?;
            self.left.start += count;
            let block = self.block.to_mut();
            block.clear();
            block.extend(raw.chunks_exact(ENTRY_BYTES as usize).map(|raw| {
                let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8"));
                (word(0), word(8), word(16))
            }));
            self.next = 0;
        }
        Ok(self.block.get(self.next).map(|e| e.0))
    }

    /// The next entry, after [`Source::peek`] found one.
    fn take(&mut self) -> Entry {
        self.next += 1;
        self.block[self.next - 1]
    }
}

/// A 64-bit fingerprint of an id, the same throughout a process. Rows whose fingerprints
/// collide have their ids compared in full, so the survey's answer does not depend on the
/// hash; a seed drawn afresh by each process (from the system's random source, through std's
/// `RandomState`, not the clock) makes ids precomputed to collide (which would make that
/// comparison slow) impractical.
fn fingerprint(id: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    static STATE: std::sync::LazyLock<foldhash::quality::FixedState> =
        std::sync::LazyLock::new(|| {
            let seed = std::hash::RandomState::new().hash_one(0_u8);
            foldhash::quality::FixedState::with_seed(seed)
        });
    STATE.hash_one(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek;

    /// The survey of `ids` on lines 2, 3, ... (each id's byte offset is its index), spilling
    /// after every `spill_every` ids.
    fn survey(ids: &[&str], spill_every: Option<usize>) -> Survey {
        let mut c = IdCollector::new();
        for (i, id) in ids.iter().enumerate() {
            let mut batch = Ids::default();
            batch.push(
                id.as_bytes(),
                At {
                    line: i as u64 + 2,
                    last_line: i as u64 + 2,
                    unclosed: false,
                    byte: i as u64,
                },
            );
            c.add(&batch).unwrap();
            if spill_every.is_some_and(|n| (i + 1) % n == 0) {
                c.spill().unwrap();
            }
        }
        let mut again = IdCollector::new();
        again.chunk.clone_from(&c.chunk);
        for run in &c.runs {
            let mut copy = tempfile::tempfile().unwrap();
            (&*run).rewind().unwrap();
            std::io::copy(&mut &*run, &mut copy).unwrap();
            again.runs.push(copy);
        }
        let id_at = |byte: u64| Ok(Some(ids[byte as usize].as_bytes().to_vec()));
        let on_one = again.finish(1, id_at).unwrap();
        let on_two = c.finish(2, id_at).unwrap();
        assert_eq!(on_one, on_two, "one thread or two");
        on_two
    }

    #[test]
    fn later_rows_repeat_the_first() {
        for spills in [None, Some(1), Some(2), Some(4)] {
            let s = survey(&["a", "b", "a", "c", "b", "a"], spills);
            assert_eq!(s.duplicates, [(4, 2), (6, 3), (7, 2)], "spills: {spills:?}");
            assert_eq!(s.duplicate_of(7), Some(2));
            assert_eq!(s.duplicate_of(3), None);
        }
    }

    /// What the survey must find: each row whose id an earlier row had, with that row's line.
    fn naive(ids: &[&str]) -> Vec<(u64, u64)> {
        let mut first = std::collections::HashMap::new();
        let mut found = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let line = i as u64 + 2;
            match first.get(id) {
                Some(&f) => found.push((line, f)),
                None => {
                    first.insert(id, line);
                }
            }
        }
        found
    }

    /// The survey of `ids` (as [`survey`] places them) all under one fingerprint, noted in the
    /// order of `noted` (indices into `ids`), spilled once when `spill`; and how many ids it
    /// read again.
    fn one_fingerprint(
        ids: &[&str],
        noted: impl Iterator<Item = u64>,
        spill: bool,
    ) -> (Survey, usize) {
        let mut c = IdCollector::new();
        let mut batch = Ids::default();
        batch.entries.extend(noted.map(|i| (7, i + 2, i)));
        c.add(&batch).unwrap();
        if spill {
            c.spill().unwrap();
        }
        let mut reads = 0;
        let s = c
            .finish(2, |byte| {
                reads += 1;
                Ok(Some(ids[byte as usize].as_bytes().to_vec()))
            })
            .unwrap();
        (s, reads)
    }

    #[test]
    fn many_repeats_are_found_in_line_order_with_or_without_spills() {
        // 3,000 ids, each on three lines 3,000 apart: in memory, or spilled in runs of 3,600 or
        // 4,500 rows, enough rows for the sorts to move an id's rows out of line order; spilled
        // in runs of 2,100, an id's rows are in different runs; runs of 5,000 are read in more
        // than one block.
        let ids: Vec<String> = (0..9000)
            .map(|i| format!("c{}", (i * 7919) % 3000))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for spills in [None, Some(2100), Some(3600), Some(4500), Some(5000)] {
            let s = survey(&ids, spills);
            assert_eq!(s.duplicates, naive(&ids), "spills: {spills:?}");
        }
    }

    #[test]
    fn rows_of_one_fingerprint_are_compared_in_line_order() {
        // 200 rows under one fingerprint (10 ids), noted last line first: the first row of each
        // id is still the one decided.
        let ids: Vec<String> = (0..200).map(|i| format!("id{}", i % 10)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for spill in [false, true] {
            let (s, _) = one_fingerprint(&ids, (0..200).rev(), spill);
            assert_eq!(s.duplicates, naive(&ids), "spill: {spill}");
        }
    }

    #[test]
    fn no_duplicates_no_findings() {
        assert_eq!(survey(&["x", "y", "z"], Some(2)).duplicates(), 0);
        assert_eq!(survey(&["x", "y", "z"], None).duplicates(), 0);
        assert_eq!(survey(&[], None).duplicates(), 0);
    }

    #[test]
    fn a_shared_fingerprint_is_not_a_duplicate() {
        for spill in [false, true] {
            // Force a collision: three rows under one fingerprint, two of them the same id.
            let (s, reads) = one_fingerprint(&["a", "b", "a"], 0..3, spill);
            assert_eq!(s.duplicates, [(4, 2)], "spill: {spill}");
            assert_eq!(reads, 3, "only rows sharing a fingerprint are read again");
        }
    }
}
