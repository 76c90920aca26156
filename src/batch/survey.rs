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
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

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
    /// Sort on two threads.
    two_threads: bool,
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
            two_threads: false,
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
            for &(fp, line, byte) in &self.chunk {
                out.write_all(&fp.to_le_bytes())?;
                out.write_all(&line.to_le_bytes())?;
                out.write_all(&byte.to_le_bytes())?;
            }
            out.flush()?;
        }
        file.rewind()?;
        self.runs.push(file);
        self.chunk.clear();
        Ok(())
    }

    /// Lists the rows whose id an earlier row had; `id_at` reads the id of the row starting at
    /// a byte offset again (for rows whose fingerprints match). Sorting uses two threads when
    /// `threads` allows.
    pub fn finish(
        mut self,
        threads: usize,
        mut id_at: impl FnMut(u64) -> io::Result<Option<Vec<u8>>>,
    ) -> io::Result<Survey> {
        self.two_threads = threads > 1;
        let mut duplicates = Vec::new();
        // The rows in fingerprint order: those of one fingerprint gathered, then put in line
        // order and compared when the last of them has come.
        let mut group = Vec::new();
        let mut visit = |line, byte, last_of_fp| -> io::Result<()> {
            group.push((line, byte));
            if last_of_fp {
                if group.len() > 1 {
                    group.sort_unstable();
                    repeats(&group, &mut id_at, &mut duplicates)?;
                }
                group.clear();
            }
            Ok(())
        };
        if self.runs.is_empty() {
            // Everything fits in memory: sort, and look at runs of equal fingerprints.
            sort(&mut self.chunk, self.two_threads);
            for (i, &(fp, line, byte)) in self.chunk.iter().enumerate() {
                visit(
                    line,
                    byte,
                    self.chunk.get(i + 1).is_none_or(|next| next.0 != fp),
                )?;
            }
        } else {
            if !self.chunk.is_empty() {
                self.spill()?;
            }
            merge(self.runs, visit)?;
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

/// Of rows sharing one fingerprint, in line order as (line, byte), those that repeat an
/// earlier row's id: (line, first line).
fn repeats(
    group: &[(u64, u64)],
    id_at: &mut impl FnMut(u64) -> io::Result<Option<Vec<u8>>>,
    duplicates: &mut Vec<(u64, u64)>,
) -> io::Result<()> {
    let mut seen: Vec<(Vec<u8>, u64)> = Vec::with_capacity(group.len());
    for &(line, byte) in group {
        let Some(id) = id_at(byte)? else { continue };
        match seen.iter().find(|(other, _)| *other == id) {
            Some(&(_, first)) => duplicates.push((line, first)),
            None => seen.push((id, line)),
        }
    }
    Ok(())
}

/// A k-way merge of spilled chunks in fingerprint order; `visit` gets each row's line
/// and byte offset, and whether it is the last with its fingerprint.
fn merge(
    runs: Vec<std::fs::File>,
    mut visit: impl FnMut(u64, u64, bool) -> io::Result<()>,
) -> io::Result<()> {
    let mut sources: Vec<BufReader<std::fs::File>> = runs.into_iter().map(BufReader::new).collect();
    let mut heap = BinaryHeap::new();
    for (i, source) in sources.iter_mut().enumerate() {
        if let Some((fp, line, byte)) = next_entry(source)? {
            heap.push(Reverse((fp, line, byte, i)));
        }
    }
    while let Some(Reverse((fp, line, byte, i))) = heap.pop() {
        if let Some((fp, line, byte)) = next_entry(&mut sources[i])? {
            heap.push(Reverse((fp, line, byte, i)));
        }
        let last_of_fp = heap.peek().is_none_or(|Reverse(next)| next.0 != fp);
        visit(line, byte, last_of_fp)?;
    }
    Ok(())
}

/// The next entry of a spilled chunk.
fn next_entry(reader: &mut BufReader<std::fs::File>) -> io::Result<Option<Entry>> {
    let mut raw = [0u8; 24];
    match reader.read_exact(&mut raw) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
    Ok(Some((word(0), word(8), word(16))))
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
        c.finish(2, |byte| Ok(Some(ids[byte as usize].as_bytes().to_vec())))
            .unwrap()
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
        // 1,000 ids, each on three lines 1,000 apart: in memory, or spilled in runs of 1,200 or
        // 1,500 rows, enough rows for the sorts to move an id's rows out of line order; spilled
        // in runs of 700, an id's rows are in different runs.
        let ids: Vec<String> = (0..3000)
            .map(|i| format!("c{}", (i * 7919) % 1000))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for spills in [None, Some(700), Some(1200), Some(1500)] {
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
