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
use crate::io::read_exact_at;
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
    /// Sort and merge on two threads. (The workers wait while a chunk is spilled.)
    two_threads: bool,
}

impl IdCollector {
    /// A collector for a run on `threads` threads.
    pub fn new(threads: usize) -> IdCollector {
        IdCollector {
            // Reserved whole: pages count only once written.
            chunk: Vec::with_capacity(CHUNK),
            runs: Vec::new(),
            two_threads: threads > 1,
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

    /// Sorts the chunk and writes it to a temporary file.
    fn spill(&mut self) -> io::Result<()> {
        sort(&mut self.chunk, self.two_threads);
        let mut file = tempfile::tempfile()?;
        {
            let mut out = BufWriter::new(&mut file);
            for &entry in &self.chunk {
                out.write_all(&encode(entry))?;
            }
            out.flush()?;
        }
        self.runs.push(file);
        self.chunk.clear();
        Ok(())
    }

    /// Lists the rows whose id an earlier row had; `id_at` reads the id of the row starting at
    /// a byte offset again (for rows whose fingerprints match).
    pub fn finish(
        mut self,
        mut id_at: impl FnMut(u64) -> io::Result<Option<Vec<u8>>>,
    ) -> io::Result<Survey> {
        sort(&mut self.chunk, self.two_threads);
        let mut shared = merge(&self.runs, &self.chunk, self.two_threads)?;
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

/// The first fingerprint of the upper half: two threads sort and merge the halves apart.
const HALF: u64 = 1 << 63;

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
    // Partition in place: the lower half first.
    let (mut lo, mut hi) = (0, entries.len());
    while lo < hi {
        if entries[lo].0 < HALF {
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
    /// Sees the next entry in fingerprint order.
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

/// The size of an entry in a spilled chunk: its three words, little-endian.
const ENTRY_BYTES: usize = 24;

fn encode((fp, line, byte): Entry) -> [u8; ENTRY_BYTES] {
    let mut raw = [0; ENTRY_BYTES];
    for (at, word) in [fp, line, byte].into_iter().enumerate() {
        raw[at * 8..at * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    raw
}

fn decode(raw: &[u8]) -> Entry {
    let word = |at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&raw[at * 8..at * 8 + 8]);
        u64::from_le_bytes(bytes)
    };
    (word(0), word(1), word(2))
}

/// The entries of the spilled chunks and of `chunk` (each in fingerprint order) whose
/// fingerprint another entry has: a k-way merge of the lower half of the fingerprints, then of
/// the upper half, or both at once on two threads.
fn merge(runs: &[std::fs::File], chunk: &[Entry], two_threads: bool) -> io::Result<Vec<Entry>> {
    let (mut low, mut high) = (Vec::new(), Vec::new());
    for run in runs {
        let len = run.metadata()?.len() / ENTRY_BYTES as u64;
        let middle = first_at_least(run, len, HALF)?;
        low.push(Source::spilled(run, 0..middle));
        high.push(Source::spilled(run, middle..len));
    }
    let middle = chunk.partition_point(|e| e.0 < HALF);
    low.push(Source::held(&chunk[..middle]));
    high.push(Source::held(&chunk[middle..]));
    let (low, high) = if two_threads {
        std::thread::scope(|scope| {
            let high = scope.spawn(|| shared_of(high));
            let low = shared_of(low);
            (
                low,
                high.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            )
        })
    } else {
        (shared_of(low), shared_of(high))
    };
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
        read_exact_at(run, &mut word, mid * ENTRY_BYTES as u64)?;
        if u64::from_le_bytes(word) < fp {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
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
    /// The spilled chunk, if the entries come from one.
    file: Option<&'a std::fs::File>,
    /// Entries of the file not yet read into `block`.
    left: std::ops::Range<u64>,
    /// The entries at hand: all of them when held, the last block read when spilled.
    block: Cow<'a, [Entry]>,
    /// The next entry of `block`.
    next: usize,
    /// A block's bytes as read (its room kept from block to block).
    raw: Vec<u8>,
}

impl<'a> Source<'a> {
    /// Entries read at once.
    const BLOCK: u64 = 2048;

    /// Entries `range` of the spilled chunk `file`.
    fn spilled(file: &'a std::fs::File, range: std::ops::Range<u64>) -> Source<'a> {
        Source {
            file: Some(file),
            left: range,
            block: Cow::Owned(Vec::new()),
            next: 0,
            raw: Vec::new(),
        }
    }

    /// Entries held in memory.
    fn held(entries: &'a [Entry]) -> Source<'a> {
        Source {
            file: None,
            left: 0..0,
            block: Cow::Borrowed(entries),
            next: 0,
            raw: Vec::new(),
        }
    }

    /// The fingerprint of the next entry, reading the next block when needed.
    fn peek(&mut self) -> io::Result<Option<u64>> {
        if self.next == self.block.len() {
            let Some(file) = self.file.filter(|_| !self.left.is_empty()) else {
                return Ok(None);
            };
            let count = Self::BLOCK.min(self.left.end - self.left.start);
            self.raw.resize(count as usize * ENTRY_BYTES, 0);
            read_exact_at(file, &mut self.raw, self.left.start * ENTRY_BYTES as u64)?;
            self.left.start += count;
            let block = self.block.to_mut();
            block.clear();
            block.extend(self.raw.chunks_exact(ENTRY_BYTES).map(decode));
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

    /// The survey, on `threads` threads, of the rows of `ids` noted as `entries` (fingerprint,
    /// index into `ids`: on line index + 2, at byte index) in that order, spilled before the
    /// entry at each position in `spills` (the length of `entries`: at the end); and how many
    /// ids it read again.
    fn noted(
        ids: &[&str],
        entries: &[(u64, u64)],
        spills: &[usize],
        threads: usize,
    ) -> (Survey, usize) {
        let mut c = IdCollector::new(threads);
        let spill_at = |c: &mut IdCollector, k| {
            for _ in spills.iter().filter(|&&at| at == k) {
                c.spill().unwrap();
            }
        };
        for (k, &(fp, i)) in entries.iter().enumerate() {
            spill_at(&mut c, k);
            let mut batch = Ids::default();
            batch.entries.push((fp, i + 2, i));
            c.add(&batch).unwrap();
        }
        spill_at(&mut c, entries.len());
        let mut reads = 0;
        let s = c
            .finish(|byte| {
                reads += 1;
                Ok(Some(ids[byte as usize].as_bytes().to_vec()))
            })
            .unwrap();
        (s, reads)
    }

    /// [`noted`] on one thread and on two, which must agree.
    fn on_both(ids: &[&str], entries: &[(u64, u64)], spills: &[usize]) -> (Survey, usize) {
        let one = noted(ids, entries, spills, 1);
        let two = noted(ids, entries, spills, 2);
        assert_eq!(one, two, "one thread or two");
        two
    }

    /// The survey of `ids` on lines 2, 3, ... (each id's byte offset is its index), spilling
    /// after every `spill_every` ids.
    fn survey(ids: &[&str], spill_every: Option<usize>) -> Survey {
        let entries: Vec<(u64, u64)> = (ids.iter().enumerate())
            .map(|(i, id)| (fingerprint(id.as_bytes()), i as u64))
            .collect();
        let spills: Vec<usize> =
            spill_every.map_or_else(Vec::new, |n| (n..=ids.len()).step_by(n).collect());
        on_both(ids, &entries, &spills).0
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
        let entries: Vec<(u64, u64)> = noted.map(|i| (7, i)).collect();
        let spills = if spill { vec![entries.len()] } else { vec![] };
        on_both(ids, &entries, &spills)
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

    #[test]
    fn fingerprints_either_side_of_where_the_halves_part() {
        // 12 ids on 40 rows; ids 0, 4 and 8 share fingerprint 0, ids 1, 5 and 9 2^63 - 1, and so
        // on with 2^63 and the largest: rows in three spilled chunks (one of them empty) and in
        // memory.
        let ids: Vec<String> = (0..40).map(|i| format!("c{}", i % 12)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let edges = [0, (1 << 63) - 1, 1 << 63, u64::MAX];
        let entries: Vec<(u64, u64)> = (0..40).map(|i| (edges[i as usize % 4], i)).collect();
        for spills in [&[10, 10, 25][..], &[], &[40]] {
            let (s, reads) = on_both(&ids, &entries, spills);
            assert_eq!(s.duplicates, naive(&ids), "spills: {spills:?}");
            assert_eq!(reads, 40, "every row shares its fingerprint");
        }
        // Each id on two rows, under one of those fingerprints: the first row in a spilled
        // chunk, the second in memory or in another chunk.
        let ids = ["e0", "e1", "e2", "e3", "e0", "e1", "e2", "e3"];
        let entries: Vec<(u64, u64)> = (0..8).map(|i| (edges[i as usize % 4], i)).collect();
        for spills in [&[4][..], &[4, 8]] {
            let (s, _) = on_both(&ids, &entries, spills);
            assert_eq!(s.duplicates, [(6, 2), (7, 3), (8, 4), (9, 5)], "{spills:?}");
        }
    }

    #[test]
    fn an_id_that_cannot_be_read_again_fails_the_survey() {
        for threads in [1, 2] {
            let mut c = IdCollector::new(threads);
            let mut batch = Ids::default();
            batch.entries.extend([(7, 2, 0), (7, 3, 1)]);
            c.add(&batch).unwrap();
            let e = c.finish(|_| Err(io::Error::other("gone"))).unwrap_err();
            assert_eq!(e.to_string(), "gone");
        }
    }
}
