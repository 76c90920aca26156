//! The survey: a first pass over the whole export, before any customer is evaluated, for what
//! needs the population. Today that is duplicate ids: the first row with an id is decided,
//! every later row with the same id is rejected, and that must be known before the first
//! decision is written. (The same reading of the export observes the population: see
//! [`super::scan`].)
//!
//! Memory stays bounded whatever the export's size, and does not depend on how long ids are:
//! workers note each row's id as a 64-bit fingerprint with the row's line and byte offset
//! ([`Ids`], 24 bytes a row); the collector keeps up to [`CHUNK`] of them in memory. An export
//! with more rows has them spilled to [`PARTS`] temporary files by their fingerprints' top
//! bits, and at the end each file is sorted by itself (two at a time on two threads). Rows that share a fingerprint have their ids read again from the export and compared
//! in full, so a fingerprint collision never makes two customers duplicates.

use crate::io::input::At;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, BufWriter, Read, Seek, Write};

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

/// Temporary files the rows of a large export are spread over, by their fingerprints' top
/// bits: rows with one fingerprint share a file, and each file is sorted by itself.
const PARTS: usize = 256;

/// Gathers the ids of a whole export, then finds the repeated ones.
pub struct IdCollector {
    chunk: Vec<Entry>,
    /// Once a chunk has been spilled: the rows spilled so far, spread over [`PARTS`] files.
    parts: Vec<BufWriter<File>>,
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
            parts: Vec::new(),
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

    /// Appends the chunk's rows to the temporary files, each to its fingerprint's.
    fn spill(&mut self) -> io::Result<()> {
        if self.parts.is_empty() {
            self.parts = (0..PARTS)
                .map(|_| tempfile::tempfile().map(BufWriter::new))
                .collect::<io::Result<_>>()?;
        }
        for &(fp, line, byte) in &self.chunk {
            let out = &mut self.parts[part_of(fp)];
            out.write_all(&fp.to_le_bytes())?;
            out.write_all(&line.to_le_bytes())?;
            out.write_all(&byte.to_le_bytes())?;
        }
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
        let mut check = |sorted: &[Entry]| -> io::Result<()> {
            for group in sorted.chunk_by(|a, b| a.0 == b.0) {
                if group.len() > 1 {
                    repeats(group, &mut id_at, &mut duplicates)?;
                }
            }
            Ok(())
        };
        if self.parts.is_empty() {
            // Everything fits in memory: sort, and look at runs of equal fingerprints.
            sort(&mut self.chunk, self.two_threads);
            check(&self.chunk)?;
        } else {
            if !self.chunk.is_empty() {
                self.spill()?;
            }
            let mut files = Vec::with_capacity(PARTS);
            for part in self.parts.drain(..) {
                let mut file = part.into_inner().map_err(io::IntoInnerError::into_error)?;
                file.rewind()?;
                files.push(file);
            }
            // The files one by one, or two at a time on two threads.
            let mut sorted = [Vec::new(), Vec::new()];
            for pair in files.chunks_mut(if self.two_threads { 2 } else { 1 }) {
                let (one, other) = pair.split_at_mut(1);
                let [first, second] = &mut sorted;
                second.clear();
                std::thread::scope(|scope| {
                    let other = (other.first_mut())
                        .map(|file| scope.spawn(move || read_sorted(file, second)));
                    let read = read_sorted(&mut one[0], first);
                    read.and(other.map_or(Ok(()), |o| o.join().expect("a sort does not panic")))
                })?;
                for entries in &sorted {
                    check(entries)?;
                }
            }
        }
        duplicates.sort_unstable();
        Ok(Survey { duplicates })
    }
}

/// The temporary file of the rows with fingerprint `fp`.
fn part_of(fp: u64) -> usize {
    (fp >> (64 - PARTS.trailing_zeros())) as usize
}

/// Reads a temporary file's rows into `entries` (emptied first), sorted.
fn read_sorted(file: &mut File, entries: &mut Vec<Entry>) -> io::Result<()> {
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)?;
    entries.clear();
    entries.extend(raw.chunks_exact(24).map(|raw| {
        let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
        (word(0), word(8), word(16))
    }));
    sort(entries, false);
    Ok(())
}

/// Sorts by fingerprint, then line; on two threads, the lower and upper halves of the
/// fingerprints apart.
fn sort(entries: &mut [Entry], two_threads: bool) {
    fn sort_one(entries: &mut [Entry]) {
        entries.sort_unstable_by_key(|&(fp, line, _)| (fp, line));
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

/// A 64-bit fingerprint of an id (deterministic within a process).
fn fingerprint(id: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
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
            let ids = ["a", "b", "a"];
            let mut c = IdCollector::new();
            let mut batch = Ids::default();
            batch.entries.extend([(7, 2, 0), (7, 3, 1), (7, 4, 2)]);
            c.add(&batch).unwrap();
            if spill {
                c.spill().unwrap();
            }
            let mut reads = 0;
            let s = c
                .finish(1, |byte| {
                    reads += 1;
                    Ok(Some(ids[byte as usize].as_bytes().to_vec()))
                })
                .unwrap();
            assert_eq!(s.duplicates, [(4, 2)], "spill: {spill}");
            assert_eq!(reads, 3, "only rows sharing a fingerprint are read again");
        }
    }
}
