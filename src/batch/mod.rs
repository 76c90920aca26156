//! Batch runs: a rule set applied to every customer of an export, streaming with bounded
//! memory.
//!
//! ```text
//!            ┌── worker 1: cut the next batch (whole rows) ─► split, type, evaluate, encode ──┐
//!  export ───┤                                                                               ├─► in input order ─► pass 1: ids (survey) and
//!            └── worker N: ...                                                               ┘                      the population (scan)
//!                                                                                                                  pass 2: decisions, rejects,
//!                                                                                                                          tally, --max-errors
//! ```
//!
//! Both passes run the same parallel machinery ([`in_parallel`]): N workers and no other busy
//! thread. A worker cuts its next batch of whole rows from the export itself, splits and types
//! the fields and, in pass 2, evaluates them with its own [`Evaluator`] (its own rhai engine:
//! engines shared across threads do not scale) and encodes the decisions; whichever worker
//! finishes the batch next in input order hands the finished batches to the writing step. At
//! most a fixed number of batches are in flight, so memory does not grow with the export. The
//! output is the same bytes for any number of threads: batches are cut at the same places
//! whoever cuts them, and everything is written and counted in input order.
//!
//! Pass 1 splits each row only as far as the columns it needs: the id, and the few fields the
//! population observes when the rules have scores, a model or an orders file. Only when the
//! survey finds rows repeating an id is the population observed again, without those rows.

pub mod encode;
mod scan;
pub mod summary;
mod survey;

pub use encode::Encoder;
pub use summary::{Summary, Tally};
pub use survey::Survey;

use crate::engine::population::{Observed, PopulationReport};
use crate::engine::volume::{Ranking, VolumeCut};
use crate::engine::{Customers, Decision, Evaluator, Population};
use crate::history::{Index, Member, NewContact, Recording};
use crate::io::do_not_contact::DoNotContact;
use crate::io::input::{At, CsvScratch};
use crate::io::{
    BatchReader, ColumnMap, CsvCells, HeaderError, InputFormat, OutputFormat, RawRows,
    RecordReader, Reject,
};
use crate::plan::Program;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scan::{Scan, Scanned};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (at least one).
    pub threads: usize,
    /// Stop once more rows than this are rejected (`Some(0)`: at the first bad row).
    pub max_errors: Option<u64>,
    /// Stop once more than this share of the export's rows (0 to 1) is rejected.
    pub max_reject_rate: Option<f64>,
    /// About how many bytes of the export a batch holds (whole rows).
    pub batch_bytes: usize,
    /// Show a progress bar on standard error (only drawn when it is a terminal).
    pub progress: bool,
    /// The orders file, for a rule set with an `orders` block naming its columns.
    pub orders: Option<std::path::PathBuf>,
    /// How the cells of CSV decisions and rejects are written (spreadsheet-safe by default).
    pub csv_cells: CsvCells,
    /// Customers no trigger may contact (`--suppress`).
    pub do_not_contact: Option<std::sync::Arc<DoNotContact>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            max_errors: None,
            max_reject_rate: None,
            batch_bytes: 256 * 1024,
            progress: false,
            orders: None,
            csv_cells: CsvCells::default(),
            do_not_contact: None,
        }
    }
}

/// Where a run writes.
pub struct Sinks<'a> {
    pub decisions: &'a mut (dyn Write + Send),
    pub decisions_format: OutputFormat,
    /// Every reject, when wanted.
    pub rejects: Option<(&'a mut (dyn Write + Send), OutputFormat)>,
}

/// The contact history of a run: what its treatment policy reads, and where it records the
/// contacts it decides.
#[derive(Default)]
pub struct History<'a> {
    /// Reads the earlier contacts for the run's `as_of`, before the first pass.
    pub read: Option<HistoryReader<'a>>,
    /// Where the run's contacts go (uncommitted until the caller commits).
    pub record: Option<&'a mut Recording>,
}

/// Reads a contact history, or says why it cannot.
pub type HistoryReader<'a> = Box<dyn FnOnce() -> Result<Index, String> + Send + 'a>;

/// Why a run stopped before the end of the export.
#[derive(Debug)]
pub enum RunError {
    /// The export could not be read or an output written (exit code 2).
    Io(String),
    /// A declared column is not in the export's header (exit code 2).
    Header(HeaderError),
    /// The rule set cannot read exports (a field's default does not fit its type).
    Rules(String),
    /// The population cannot be worked out: no orders file where one is needed, one that
    /// cannot be read, or orders that match no customer (exit code 2).
    Population(String),
    /// A worker stopped on a bug (a panic); nothing may be written (exit code 2).
    Internal(String),
    /// More rows were rejected than `max_errors` or `max_reject_rate` allows (exit code 1);
    /// `last` is the reject that went over the limit, `tally` counts what was written before
    /// its batch.
    TooManyRejects {
        limit: RejectLimit,
        last: Box<Reject>,
        tally: Box<Tally>,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Io(e)
            | RunError::Rules(e)
            | RunError::Population(e)
            | RunError::Internal(e) => f.write_str(e),
            RunError::Header(e) => write!(f, "{e}"),
            RunError::TooManyRejects { limit, last, .. } => match limit {
                RejectLimit::Count(0) => write!(f, "stopped at the first rejected row: {last}"),
                RejectLimit::Count(n) => write!(
                    f,
                    "stopped: more than {} rows rejected; the last was {last}",
                    crate::text::group(*n)
                ),
                RejectLimit::Share { rate, rows, count } => write!(
                    f,
                    "stopped: more than {}% of the {} rows ({}) rejected; the last was {last}",
                    // As written: 0.0001, not 0.00009999999999999999.
                    (rate * 100.0 * 1e9).round() / 1e9,
                    crate::text::group(*rows),
                    crate::text::group(*count)
                ),
            },
        }
    }
}

/// The most rejects a run allows before it stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RejectLimit {
    /// `--max-errors` (0 for `--strict`).
    Count(u64),
    /// `--max-reject-rate`: `count` is `rate` of the export's `rows`, rounded down.
    Share { rate: f64, rows: u64, count: u64 },
}

impl RejectLimit {
    /// The stricter of the limits `options` sets, for an export of `rows` rows.
    fn of(options: &Options, rows: u64) -> Option<RejectLimit> {
        let share = options.max_reject_rate.map(|rate| RejectLimit::Share {
            rate,
            rows,
            count: (rate * rows as f64).floor() as u64,
        });
        let count = options.max_errors.map(RejectLimit::Count);
        match (count, share) {
            (Some(c), Some(s)) => Some(if c.count() <= s.count() { c } else { s }),
            (c, s) => c.or(s),
        }
    }

    /// How many rejects are allowed.
    pub fn count(&self) -> u64 {
        match *self {
            RejectLimit::Count(n) => n,
            RejectLimit::Share { count, .. } => count,
        }
    }
}

/// What a finished run counted, and its first rejects (for a report when no rejects file was
/// asked for).
#[derive(Debug)]
pub struct Outcome {
    pub tally: Tally,
    pub survey: Survey,
    /// Orders, score edges and the model, as the rules saw them.
    pub population: PopulationReport,
    /// The first [`Outcome::FIRST_REJECTS`] rejects, in input order.
    pub first_rejects: Vec<Reject>,
    /// How many earlier contacts the policy read, when it read the contact history.
    pub history_read: Option<u64>,
}

impl Outcome {
    /// How many rejects [`Outcome::first_rejects`] keeps.
    pub const FIRST_REJECTS: usize = 10;
}

fn read_error(e: std::io::Error) -> RunError {
    RunError::Io(format!("cannot read the export: {e}"))
}

/// Runs `program` as of `as_of` over the export in `file`, without a contact history.
pub fn run(
    program: &Program,
    as_of: NaiveDate,
    file: &File,
    format: InputFormat,
    options: &Options,
    sinks: Sinks<'_>,
) -> Result<Outcome, RunError> {
    run_with_history(
        program,
        as_of,
        file,
        format,
        options,
        sinks,
        History::default(),
    )
}

/// Runs `program` as of `as_of` over the export in `file`, its policy reading and recording
/// the contact history as `history` says.
pub fn run_with_history(
    program: &Program,
    as_of: NaiveDate,
    file: &File,
    format: InputFormat,
    options: &Options,
    sinks: Sinks<'_>,
    history: History<'_>,
) -> Result<Outcome, RunError> {
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = progress_bar(options.progress, total);
    // Read first: the readers' memory is in place before the workers' (reading later, or
    // beside the first pass, makes the peak larger and the run no faster).
    let index = history
        .read
        .map(|read| {
            progress.set_message("reading history");
            crate::panics::catch(read).and_then(|index| index)
        })
        .transpose()
        .map_err(RunError::Io)?;
    let Prepared {
        rows,
        records,
        map,
        survey,
        population,
    } = prepare(program, as_of, file, format, options, &progress)?;
    let map = map.as_ref();
    let open = || BatchReader::open(file, format, options.batch_bytes).map_err(read_error);

    let cx = Context {
        as_of,
        records: &records,
        map,
        survey: &survey,
        population: &population,
        limit: RejectLimit::of(options, rows),
        history: index.as_ref(),
        as_of_text: as_of.format("%Y-%m-%d").to_string(),
        recording: history.record.is_some(),
        volume_cut: None,
    };
    // Volumes rank the customers of the whole export: one more pass finds the cutoffs.
    let cut = if program.has_volume() {
        progress.set_message("ranking for volumes");
        Some(rank_volumes(
            program,
            &|| Ok(open()?.0),
            &cx,
            options,
            &progress,
        )?)
    } else {
        None
    };
    let cx = Context {
        volume_cut: cut.as_ref(),
        ..cx
    };

    // Pass 2: decide.
    progress.set_message("deciding");
    progress.set_position(0);
    let (reader, _) = open()?;
    let written = write_decisions(
        program,
        reader,
        &cx,
        options,
        &progress,
        sinks,
        history.record,
    );
    progress.finish_and_clear();
    let (tally, first_rejects) = written?;
    Ok(Outcome {
        tally,
        survey,
        population: population.report().clone(),
        first_rejects,
        history_read: index.map(|i| i.read()),
    })
}

/// The population of `program` over the export in `file` as `idic run` works it out (ids
/// surveyed, scores, model and orders settled), for deciding one customer alone (`explain`).
pub fn population(
    program: &Program,
    as_of: NaiveDate,
    file: &File,
    format: InputFormat,
    options: &Options,
) -> Result<Population, RunError> {
    let progress = ProgressBar::hidden();
    prepare(program, as_of, file, format, options, &progress).map(|p| p.population)
}

/// The cutoffs of `program`'s volumes over the export in `file` as `idic run` ranks it (with
/// the earlier contacts of `history`), for deciding one customer alone (`explain`).
pub fn volume_cut(
    program: &Program,
    as_of: NaiveDate,
    file: &File,
    format: InputFormat,
    options: &Options,
    history: Option<&Index>,
) -> Result<VolumeCut, RunError> {
    let progress = ProgressBar::hidden();
    let p = prepare(program, as_of, file, format, options, &progress)?;
    let cx = Context {
        as_of,
        records: &p.records,
        map: p.map.as_ref(),
        survey: &p.survey,
        population: &p.population,
        limit: None,
        history,
        as_of_text: String::new(),
        recording: false,
        volume_cut: None,
    };
    let open = || {
        BatchReader::open(file, format, options.batch_bytes)
            .map(|(reader, _)| reader)
            .map_err(read_error)
    };
    rank_volumes(program, &open, &cx, options, &progress)
}

/// What pass 1 leaves for deciding.
struct Prepared {
    /// The export's rows.
    rows: u64,
    records: RecordReader,
    map: Option<ColumnMap>,
    survey: Survey,
    population: Population,
}

fn prepare(
    program: &Program,
    as_of: NaiveDate,
    file: &File,
    format: InputFormat,
    options: &Options,
    progress: &ProgressBar,
) -> Result<Prepared, RunError> {
    let records = program.record_reader().map_err(RunError::Rules)?;
    let mut population =
        Population::new(program, as_of, options.orders.as_deref()).map_err(RunError::Population)?;
    let open = || BatchReader::open(file, format, options.batch_bytes).map_err(read_error);

    // Pass 1: the ids and, when the rules need it, the population (score edges, the model, how
    // the orders matched), in one reading of the export.
    progress.set_message("surveying");
    let (reader, header) = open()?;
    let map = match &header {
        Some(header) => Some(records.map_header(header).map_err(RunError::Header)?),
        None => None,
    };
    let scan = Scan::new(program, &population, &records, map.as_ref());
    let mut ids = survey::IdCollector::new(options.threads);
    let mut observed = Observed::default();
    let mut rows = 0;
    in_parallel(
        reader,
        options.threads,
        progress,
        || scan.scratch(),
        |scratch, rows, out: &mut Scanned| scan.batch(rows, scratch, None, out),
        |out| {
            observed.merge(&mut out.observed);
            rows += out.rows;
            ids.add(&out.ids).map_err(read_error)
        },
    )?;
    let survey = ids
        .finish(|byte| {
            let mut id = None;
            if let Some(row) = BatchReader::row_at(file, format, byte)? {
                scan.each(&row, &mut CsvScratch::default(), |_, found, _| {
                    id = id.take().or(found.map(<[u8]>::to_vec));
                });
            }
            Ok(id)
        })
        .map_err(read_error)?;

    // Rows that repeat an earlier id were observed too: only then is the population observed
    // again, without them.
    if survey.duplicates() > 0 && scan.observing() {
        progress.set_message("resurveying");
        progress.set_position(0);
        observed = Observed::default();
        let (reader, _) = open()?;
        in_parallel(
            reader,
            options.threads,
            progress,
            || scan.scratch(),
            |scratch, rows, out: &mut Scanned| scan.batch(rows, scratch, Some(&survey), out),
            |out| {
                observed.merge(&mut out.observed);
                Ok(())
            },
        )?;
    }
    drop(scan);
    population
        .settle(program, observed)
        .map_err(RunError::Population)?;

    Ok(Prepared {
        rows,
        records,
        map,
        survey,
        population,
    })
}

fn progress_bar(wanted: bool, total: u64) -> ProgressBar {
    if !wanted {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Starts a named thread in `scope` (names show in profilers and debuggers).
fn spawn<'scope, 'env, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    name: String,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, f)
        .expect("the system can start a thread")
}

/// Runs `work` on every batch of `reader` in `threads` threads, each with its own state from
/// `state` (made in the thread), and hands the results to `sink` in input order.
///
/// There is no reader or writer thread: a worker cuts its next batch from the export itself
/// (holding the reader), and whichever worker finishes the batch that is next in input order
/// hands it, and the finished ones after it, to `sink` (holding the writer). So `--threads N`
/// keeps at most N cores busy. A worker waits rather than take a batch more than `4 * threads`
/// ahead of the writer, which bounds memory; results and batch buffers are reused. The first
/// error, from `sink` or from reading, stops every worker and is returned.
fn in_parallel<S, T: Send + Default>(
    reader: BatchReader,
    threads: usize,
    progress: &ProgressBar,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &RawRows, &mut T) + Sync,
    sink: impl FnMut(&mut T) -> Result<(), RunError> + Send,
) -> Result<(), RunError> {
    /// The export, cut batch by batch.
    struct Input {
        reader: BatchReader,
        seq: u64,
        done: bool,
    }
    /// Finished batches on their way to the sink, in order.
    struct Output<T> {
        waiting: BTreeMap<u64, T>,
        /// A worker is handing batches to the sink: the others leave theirs and go on.
        writing: bool,
        error: Option<RunError>,
    }
    fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    let threads = threads.max(1);
    let ahead = threads as u64 * 4;
    let input = Mutex::new(Input {
        reader,
        seq: 0,
        done: false,
    });
    let output = Mutex::new(Output {
        waiting: BTreeMap::new(),
        writing: false,
        error: None,
    });
    // Taken by the worker writing, outside `output`, so that the others never wait for it.
    let sink = Mutex::new(sink);
    // The next batch the sink takes (changed with `output` held).
    let next = AtomicU64::new(0);
    // Results the sink is done with, for the workers to fill again.
    let spare: Mutex<Vec<T>> = Mutex::new(Vec::new());
    // Signalled when the writer moves on, or everything stops.
    let moved = Condvar::new();
    let stop = AtomicBool::new(false);
    let fail = |error: RunError| {
        let mut out = lock(&output);
        out.error.get_or_insert(error);
        stop.store(true, Ordering::Relaxed);
        drop(out);
        moved.notify_all();
    };

    std::thread::scope(|scope| {
        for i in 0..threads {
            let (input, output, moved, stop, fail) = (&input, &output, &moved, &stop, &fail);
            let (next, spare, sink) = (&next, &spare, &sink);
            let (state, work) = (&state, &work);
            spawn(scope, format!("idic-worker-{i}"), move || {
                // A panic is the run's failure, never a hang: the other workers stop too.
                let worked = crate::panics::catch(|| {
                    let mut state = state();
                    let mut buffer = None;
                    loop {
                        let (seq, rows) = {
                            let mut input = lock(input);
                            if input.done || stop.load(Ordering::Relaxed) {
                                break;
                            }
                            let seq = input.seq;
                            if seq >= next.load(Ordering::Acquire) + ahead {
                                let mut out = lock(output);
                                while seq >= next.load(Ordering::Acquire) + ahead
                                    && !stop.load(Ordering::Relaxed)
                                {
                                    out = moved.wait(out).unwrap_or_else(PoisonError::into_inner);
                                }
                            }
                            match input.reader.next_batch(buffer.take()) {
                                Ok(Some(rows)) => {
                                    input.seq += 1;
                                    progress.set_position(input.reader.bytes_read());
                                    (seq, rows)
                                }
                                Ok(None) => {
                                    input.done = true;
                                    break;
                                }
                                Err(e) => {
                                    input.done = true;
                                    drop(input);
                                    fail(read_error(e));
                                    break;
                                }
                            }
                        };
                        let mut result = lock(spare).pop().unwrap_or_default();
                        work(&mut state, &rows, &mut result);
                        buffer = Some(rows);

                        let mut out = lock(output);
                        out.waiting.insert(seq, result);
                        if out.writing {
                            continue;
                        }
                        // This worker writes every batch that is next, until none is.
                        out.writing = true;
                        loop {
                            let now = next.load(Ordering::Acquire);
                            let Some(mut ready) = out.waiting.remove(&now) else {
                                out.writing = false;
                                break;
                            };
                            drop(out);
                            let written = if stop.load(Ordering::Relaxed) {
                                Ok(())
                            } else {
                                (lock(sink))(&mut ready)
                            };
                            lock(spare).push(ready);
                            out = lock(output);
                            if let Err(e) = written {
                                out.error.get_or_insert(e);
                                stop.store(true, Ordering::Relaxed);
                            }
                            // Moved on with `output` held, so that no waiting worker misses it.
                            next.store(now + 1, Ordering::Release);
                            moved.notify_all();
                        }
                    }
                });
                if let Err(bug) = worked {
                    fail(RunError::Internal(bug));
                }
            });
        }
    });
    match output
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .error
    {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// What workers need to type rows and decide, and when to stop.
struct Context<'a> {
    as_of: NaiveDate,
    records: &'a RecordReader,
    map: Option<&'a ColumnMap>,
    survey: &'a Survey,
    population: &'a Population,
    limit: Option<RejectLimit>,
    /// Earlier contacts, for the treatment policy.
    history: Option<&'a Index>,
    /// `as_of` as the history writes dates.
    as_of_text: String,
    /// The run records its contacts.
    recording: bool,
    /// The cutoffs of the triggers' volumes, once ranked.
    volume_cut: Option<&'a VolumeCut>,
}

/// The cutoffs of the triggers' volumes: for each volume-limited trigger, highest priority
/// first, every customer decided once with the cutoffs found so far in place, and its volume
/// keeping the best it allows.
fn rank_volumes(
    program: &Program,
    open: &dyn Fn() -> Result<BatchReader, RunError>,
    cx: &Context<'_>,
    options: &Options,
    progress: &ProgressBar,
) -> Result<VolumeCut, RunError> {
    let triggers = program.trigger_names().len();
    let mut order: Vec<usize> = (0..triggers)
        .filter(|&t| program.trigger_volume(t).is_some())
        .collect();
    order.sort_by_key(|&t| std::cmp::Reverse(program.trigger_priority(t)));
    let mut cut = VolumeCut::keep_all(triggers);
    for t in order {
        // Only this trigger's volume is ranked in this pass.
        let one =
            || Ranking::new((0..triggers).map(|u| program.trigger_volume(u).filter(|_| u == t)));
        let mut ranking = one();
        let cx = Context {
            volume_cut: Some(&cut),
            as_of_text: String::new(),
            ..*cx
        };
        progress.set_position(0);
        in_parallel(
            open()?,
            options.threads,
            progress,
            || {
                Worker::new(
                    program,
                    &cx,
                    options.do_not_contact.as_deref(),
                    options.csv_cells,
                    OutputFormat::Jsonl,
                    None,
                )
            },
            |worker: &mut Worker<'_>, rows: &RawRows, done: &mut Ranking| {
                if done.is_empty() {
                    *done = one();
                }
                worker.in_chunks(rows, |worker, _, row| {
                    // A row that fails is rejected when deciding.
                    let Ok(r) = row else { return };
                    let (customers, decision) = (&mut worker.customers, &mut worker.decision);
                    if worker.evaluator.decide_row(customers, r, decision).is_ok() {
                        for (u, key) in worker.evaluator.ranked() {
                            done.offer(*u, key.clone());
                        }
                    }
                });
            },
            |done: &mut Ranking| {
                ranking.merge(std::mem::take(done));
                Ok(())
            },
        )?;
        let cutoff = ranking.cutoff(t);
        cut.set(t, cutoff);
    }
    Ok(cut)
}

/// A batch of decisions as a worker finished it.
#[derive(Default)]
struct Decided<'p> {
    decisions: Vec<u8>,
    rejects_out: Vec<u8>,
    rejects: Vec<Reject>,
    tally: Tally,
    /// The contacts decided, when the run records them.
    contacts: Vec<NewContact<'p>>,
    /// The customers of the global holdout's experiment, when the run records them.
    members: Vec<Member<'p>>,
}

/// Pass 2: decides for every row and writes decisions and rejects in input order.
fn write_decisions(
    program: &Program,
    reader: BatchReader,
    cx: &Context<'_>,
    options: &Options,
    progress: &ProgressBar,
    mut sinks: Sinks<'_>,
    mut record: Option<&mut Recording>,
) -> Result<(Tally, Vec<Reject>), RunError> {
    let io = |e: std::io::Error| RunError::Io(format!("cannot write the output: {e}"));
    let mut tally = Tally::new(program);
    let mut first_rejects = Vec::new();

    let cells = options.csv_cells;
    let mut header = Encoder::new(sinks.decisions_format, cells);
    header.decisions_header(program);
    sinks.decisions.write_all(&header.take()).map_err(io)?;
    if let Some((out, format)) = sinks.rejects.as_mut() {
        let mut header = Encoder::new(*format, cells);
        header.rejects_header();
        out.write_all(&header.take()).map_err(io)?;
    }

    let decisions_format = sinks.decisions_format;
    let rejects_format = sinks.rejects.as_ref().map(|(_, f)| *f);
    in_parallel(
        reader,
        options.threads,
        progress,
        || {
            Worker::new(
                program,
                cx,
                options.do_not_contact.as_deref(),
                cells,
                decisions_format,
                rejects_format,
            )
        },
        Worker::batch,
        |batch: &mut Decided| {
            if let Some(limit) = cx.limit {
                if tally.rejected + batch.tally.rejected > limit.count() {
                    // The reject that goes over the limit.
                    let over = (limit.count() - tally.rejected) as usize;
                    return Err(RunError::TooManyRejects {
                        limit,
                        last: Box::new(batch.rejects[over].clone()),
                        tally: Box::new(tally.clone()),
                    });
                }
            }
            sinks.decisions.write_all(&batch.decisions).map_err(io)?;
            if let Some((out, _)) = sinks.rejects.as_mut() {
                out.write_all(&batch.rejects_out).map_err(io)?;
            }
            if let Some(record) = record.as_mut() {
                record
                    .add(&batch.contacts)
                    .and_then(|()| record.add_members(&cx.as_of_text, &batch.members))
                    .map_err(|e| RunError::Io(e.to_string()))?;
                batch.contacts.clear();
                batch.members.clear();
            }
            tally.add(&batch.tally);
            let room = Outcome::FIRST_REJECTS.saturating_sub(first_rejects.len());
            first_rejects.extend(batch.rejects.drain(..).take(room));
            Ok(())
        },
    )?;
    sinks.decisions.flush().map_err(io)?;
    if let Some((out, _)) = sinks.rejects.as_mut() {
        out.flush().map_err(io)?;
    }
    Ok((tally, first_rejects))
}

/// Customers decided together, a chunk at a time: enough for the rules' loops to pay, few
/// enough that their values stay in the caches and the allocator's quick lists.
pub const CHUNK: usize = 256;

/// One worker thread's state in pass 2.
struct Worker<'a> {
    program: &'a Program,
    evaluator: Evaluator<'a>,
    cx: &'a Context<'a>,
    decisions: Encoder,
    rejects: Option<Encoder>,
    money: Vec<usize>,
    record: CsvScratch,
    /// A row's values, its money and its decision, their room kept from row to row.
    values: Vec<rhai::Dynamic>,
    money_values: Vec<Option<f64>>,
    decision: Decision,
    /// The chunk's customers, decided together, and each row of the chunk in input order:
    /// where it is and its customer, or its reject (boxed: most rows have none, and a row's
    /// place is copied as it is noted).
    customers: Customers,
    order: Vec<(At, Result<usize, Box<Reject>>)>,
}

impl<'a> Worker<'a> {
    fn new(
        program: &'a Program,
        cx: &'a Context<'a>,
        do_not_contact: Option<&'a DoNotContact>,
        cells: CsvCells,
        decisions: OutputFormat,
        rejects: Option<OutputFormat>,
    ) -> Worker<'a> {
        let mut evaluator = Evaluator::new(program, cx.as_of);
        if let Some(history) = cx.history {
            evaluator = evaluator.with_history(history);
        }
        if let Some(cut) = cx.volume_cut {
            evaluator = evaluator.with_volume_cut(cut);
        }
        if let Some(list) = do_not_contact {
            evaluator = evaluator.with_do_not_contact(list);
        }
        Worker {
            program,
            evaluator,
            cx,
            decisions: Encoder::new(decisions, cells),
            rejects: rejects.map(|format| Encoder::new(format, cells)),
            money: program.money_fields(),
            record: CsvScratch::default(),
            values: Vec::new(),
            money_values: Vec::new(),
            decision: Decision::default(),
            customers: Customers::new(program),
            order: Vec::new(),
        }
    }

    /// Decides the batch's rows and writes each row's decision (or its reject) in input order.
    fn batch(&mut self, rows: &RawRows, done: &mut Decided<'a>) {
        done.tally.reset(self.program);
        done.rejects.clear();
        self.in_chunks(rows, |worker, at, row| {
            done.tally.row_at(at.line, at.last_line);
            worker.row(at.line, row, done);
        });
        self.decisions.take_into(&mut done.decisions);
        if let Some(rejects) = self.rejects.as_mut() {
            rejects.take_into(&mut done.rejects_out);
        }
    }

    /// Reads `rows` and evaluates their customers' rules a chunk of [`CHUNK`] at a
    /// time; `finish` then gets each row in input order: where it is, and its customer in
    /// [`Worker::customers`] (to finish with [`Evaluator::decide_row`]) or its reject.
    fn in_chunks(
        &mut self,
        rows: &RawRows,
        mut finish: impl FnMut(&mut Self, At, Result<usize, Box<Reject>>),
    ) {
        self.each_row(rows, |worker, at, read| {
            let row = read
                .map(|()| worker.customers.push(&mut worker.values))
                .map_err(Box::new);
            worker.order.push((at, row));
            if worker.customers.len() == CHUNK {
                worker.decide_chunk(&mut finish);
            }
        });
        self.decide_chunk(&mut finish);
    }

    /// Evaluates the chunk read so far and gives `finish` its rows in input order.
    fn decide_chunk(&mut self, finish: &mut impl FnMut(&mut Self, At, Result<usize, Box<Reject>>)) {
        if self.order.is_empty() {
            return;
        }
        self.evaluator.differentiate(&mut self.customers);
        let mut order = std::mem::take(&mut self.order);
        for (at, row) in order.drain(..) {
            finish(self, at, row);
        }
        self.order = order;
        self.customers.clear();
    }

    /// Gives `f` each row of `rows`: `Ok` with its values typed, and its population variables,
    /// in [`Worker::values`]; or its reject.
    fn each_row(&mut self, rows: &RawRows, mut f: impl FnMut(&mut Self, At, Result<(), Reject>)) {
        let mut record = std::mem::take(&mut self.record);
        let (cx, program) = (self.cx, self.program);
        rows.each(&mut record, |at, row| {
            let line = at.line;
            let values = &mut self.values;
            let read = match cx.survey.duplicate_of(line) {
                Some(first) => Err(Reject::duplicate(
                    line,
                    cx.records.id(cx.map, row),
                    cx.records.key_column(),
                    first,
                )),
                None => cx.records.read_into(cx.map, row, at, values),
            };
            let read = read.and_then(|()| cx.population.inputs(program, line, values));
            f(self, at, read);
        });
        self.record = record;
    }

    /// Finishes the decision of a row of [`Worker::customers`] and writes it, or counts its
    /// reject.
    fn row(&mut self, line: u64, row: Result<usize, Box<Reject>>, done: &mut Decided<'a>) {
        let result = row.map_err(|reject| *reject).and_then(|r| {
            let values = self.customers.row(r);
            self.money_values.clear();
            (self.money.iter()).for_each(|&i| self.money_values.push(values[i].as_float().ok()));
            let decided = (self.evaluator).decide_row(&mut self.customers, r, &mut self.decision);
            // The decision holds the customer's id from its start.
            decided.map_err(|e| e.reject(line, std::mem::take(&mut self.decision.id)))
        });
        match result {
            Ok(()) => {
                let (decision, money) = (&self.decision, &self.money_values);
                self.decisions.decision(self.program, decision);
                done.tally.decided(self.program, decision, money);
                if self.cx.recording {
                    let date = &self.cx.as_of_text;
                    decision.record(self.program, date, &mut done.contacts, &mut done.members);
                }
            }
            Err(reject) => {
                if let Some(enc) = self.rejects.as_mut() {
                    enc.reject(&reject);
                }
                done.tally.rejected(&reject);
                done.rejects.push(reject);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    /// A CSV export of `rows` one-column rows, in batches of about 64 bytes.
    fn export(rows: usize) -> (File, BatchReader) {
        let mut file = tempfile::tempfile().unwrap();
        writeln!(file, "Id").unwrap();
        for i in 0..rows {
            writeln!(file, "C{i:05}").unwrap();
        }
        file.rewind().unwrap();
        let (reader, _) = BatchReader::open(&file, InputFormat::Csv, 64).unwrap();
        (file, reader)
    }

    #[test]
    fn a_panicking_worker_fails_the_run_instead_of_hanging_it() {
        for threads in [1, 2, 4] {
            let (_file, reader) = export(2_000);
            let seen = AtomicU64::new(0);
            let result = in_parallel(
                reader,
                threads,
                &ProgressBar::hidden(),
                || (),
                |_, _rows, _out: &mut u64| {
                    // The fifth batch is a bug.
                    if seen.fetch_add(1, Ordering::SeqCst) == 4 {
                        panic!("worker bug");
                    }
                },
                |_| Ok(()),
            );
            match result {
                Err(RunError::Internal(message)) => assert_eq!(
                    message,
                    "internal error (a bug in idic, please report it): worker bug"
                ),
                other => panic!("{threads} threads: {other:?}"),
            }
        }
    }

    #[test]
    fn a_panicking_sink_fails_the_run_too() {
        let (_file, reader) = export(2_000);
        let mut taken = 0;
        let result = in_parallel(
            reader,
            2,
            &ProgressBar::hidden(),
            || (),
            |_, _rows, _out: &mut u64| {},
            |_| {
                taken += 1;
                assert!(taken < 3, "sink bug");
                Ok(())
            },
        );
        assert!(
            matches!(&result, Err(RunError::Internal(m)) if m.ends_with("sink bug")),
            "{result:?}"
        );
    }
}
