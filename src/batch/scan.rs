//! Pass 1 row by row: each row's id for the [survey](super::survey) and, when the rules need
//! the population, the few fields it observes, typed, in the same reading of the export. A
//! CSV row is split only as far as the last of those columns.

use super::survey::Ids;
use crate::engine::population::Observed;
use crate::engine::Population;
use crate::io::input::{At, CsvScratch, Row};
use crate::io::records::id_cell;
use crate::io::{ColumnMap, RawRows, RecordReader};
use crate::plan::Program;
use rhai::Dynamic;

/// How pass 1 reads rows: shared by every worker.
pub struct Scan<'a> {
    program: &'a Program,
    population: &'a Population,
    records: &'a RecordReader,
    /// The export's header map (`None`: JSONL, or CSV without a header).
    map: Option<&'a ColumnMap>,
    /// Whether the population is observed (else only ids are read).
    observing: bool,
    /// The fields the population observes (by index, ascending).
    wanted: Vec<usize>,
    /// The columns split out of a CSV row: the id's, then the wanted fields'.
    columns: Vec<usize>,
}

/// A worker's scratch space for [`Scan`].
pub struct Scratch {
    record: CsvScratch,
    /// The row's values: the wanted fields typed, the others left as they were.
    values: Vec<Dynamic>,
}

/// What a worker noted of one batch in pass 1.
#[derive(Default)]
pub struct Scanned {
    pub ids: Ids,
    pub observed: Observed,
    /// The rows of the batch.
    pub rows: u64,
}

/// Types a row's wanted fields into their slots; `false` when one does not read.
type Typed<'r> = &'r dyn Fn(&mut [Dynamic]) -> bool;

impl<'a> Scan<'a> {
    /// How to read the rows of an export whose header `map` gives.
    pub fn new(
        program: &'a Program,
        population: &'a Population,
        records: &'a RecordReader,
        map: Option<&'a ColumnMap>,
    ) -> Scan<'a> {
        let observing = population.needs_pass(program);
        let wanted = if observing {
            population.observed_fields()
        } else {
            Vec::new()
        };
        let columns = map.map_or_else(Vec::new, |m| {
            std::iter::once(records.key_field())
                .chain(wanted.iter().copied())
                .map(|i| m.index(i))
                .collect()
        });
        Scan {
            program,
            population,
            records,
            map,
            observing,
            wanted,
            columns,
        }
    }

    /// Whether the rows are observed for the population, not only surveyed for ids.
    pub fn observing(&self) -> bool {
        self.observing
    }

    /// A worker's scratch space.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            record: CsvScratch::default(),
            values: vec![Dynamic::UNIT; self.program.fields().len()],
        }
    }

    /// Notes a batch's ids (unless `survey` is given: the ids are known) and observes its rows
    /// (those `survey` does not find repeating an earlier id).
    pub fn batch(
        &self,
        rows: &RawRows,
        scratch: &mut Scratch,
        survey: Option<&super::Survey>,
        out: &mut Scanned,
    ) {
        out.ids.clear();
        out.rows = 0;
        let Scratch { record, values } = scratch;
        self.each(rows, record, |at, id, typed| {
            out.rows += 1;
            if survey.is_none() {
                if let Some(id) = id {
                    out.ids.push(id, at);
                }
            }
            if !self.observing || survey.is_some_and(|s| s.duplicate_of(at.line).is_some()) {
                return;
            }
            if typed(values) {
                self.population
                    .observe(self.program, at.line, values, &mut out.observed);
            }
        });
    }

    /// Calls `f` with each row's place, its id (trimmed; `None` when empty or missing) and a
    /// way to type its wanted fields (a row whose fields do not read is rejected when
    /// deciding).
    pub fn each(
        &self,
        rows: &RawRows,
        record: &mut CsvScratch,
        mut f: impl FnMut(At, Option<&[u8]>, Typed<'_>),
    ) {
        if self.map.is_some() {
            rows.each_cells(&self.columns, |at, cells| {
                let cell = |j: usize| cells[j].as_deref().unwrap_or_default();
                let id = id_cell(cell(0));
                f(at, id, &|values| {
                    self.records
                        .read_some(&self.wanted, |j| cell(j + 1), values)
                });
            });
        } else {
            rows.each(record, |at, row: Row<'_>| {
                let id = self.records.id(self.map, row);
                f(at, id.as_deref().map(str::as_bytes), &|values| match row {
                    Row::Json(text) => self.records.read_some_json(&self.wanted, text, values),
                    // A CSV row without a header is rejected when deciding.
                    Row::Csv(_) => false,
                });
            });
        }
    }
}
