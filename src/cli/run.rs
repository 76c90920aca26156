//! `idic run RULES --customers FILE`: decide for every customer of an export.
//!
//! Arguments become a validated plan before any row is read: the rule set must check clean,
//! the `as_of` date must be known, the formats must be clear from flags or file names, and
//! every output must be creatable. Exit codes: 0 the run finished (rejected rows included),
//! 1 the rule set has errors or `--strict`/`--max-errors` stopped the run, 2 usage or I/O.

use super::{named, Exit};
use idic::batch::{self, summary::RunInfo, Options, RunError, Sinks, Summary};
use idic::check::Checked;
use idic::diagnostics::{render, Format};
use idic::history::store::{self, Store};
use idic::history::{Index, Keep, Reader, Recording, RunKind, RunRecord, Window};
use idic::io::do_not_contact::DoNotContact;
use idic::io::guard::Std;
use idic::io::{commit_all, open_export, Files, InputFormat, Output, OutputFormat};
use idic::model::AsOf;
use idic::plan::Program;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// A rule file (`.idic` or `.toml`) or a directory of them.
    rules: PathBuf,
    /// The customer export: CSV with a header row, or JSONL; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    customers: PathBuf,
    /// The export's format [default: from its extension; csv for standard input].
    #[arg(long, value_enum, value_name = "FORMAT")]
    input_format: Option<InputFormat>,
    /// The orders file (CSV with a header, JSONL, or whitespace-separated `.txt`), read as the
    /// rule set's `orders` block says.
    #[arg(long, value_name = "FILE")]
    orders: Option<PathBuf>,
    /// The date to decide at: YYYY-MM-DD, or `today` for the wall-clock date [default: the rule
    /// set's `as_of`].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Where decisions go; `-` is standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: PathBuf,
    /// The decisions' format [default: from --out's extension, else jsonl].
    #[arg(long, value_enum, value_name = "FORMAT")]
    out_format: Option<OutputFormat>,
    /// Write every rejected row with its line and reason (`.jsonl` for JSONL, else CSV); `-` is
    /// standard error.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Write the run's summary; `-` is standard error.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    /// The summary's format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    summary_format: SummaryFormat,
    /// Worker threads [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Stop (exit 1) once more than N rows are rejected.
    #[arg(long, value_name = "N")]
    max_errors: Option<u64>,
    /// Stop (exit 1) at the first rejected row.
    #[arg(long, conflicts_with = "max_errors")]
    strict: bool,
    /// Stop (exit 1) once more than this share of the export's rows is rejected, e.g. `5%`.
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    max_reject_rate: Option<f64>,
    /// The contact history: a SQLite file, or a directory to keep `history.sqlite` in (created
    /// when missing). Cooldowns and re-entry read it; the run's contacts are recorded in it once
    /// every output is written.
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,
    /// A do-not-contact list: CSV with an `id` column and, optionally, `channel` (empty: every
    /// channel). No trigger, service ones included, contacts a listed customer there.
    #[arg(long, value_name = "FILE")]
    suppress: Option<PathBuf>,
    /// Read the contact history but record nothing.
    #[arg(long, requires = "history")]
    dry_run: bool,
    /// No progress bar (it only shows when standard error is a terminal).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    reads: super::ReadArgs,
    #[command(flatten)]
    csv: super::CsvArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SummaryFormat {
    Text,
    Json,
}

const NOTHING_WRITTEN: &str = "nothing was written: the previous outputs, if any, are untouched";

/// `5%`, `0.5%` or `5` (a percentage, 0 to 100) as a share from 0 to 1.
fn percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!(
            "`{text}` is not a percentage from 0 to 100 (e.g. `5%`)"
        )),
    }
}

/// A usage or I/O problem: said on standard error, exit 2.
pub(super) fn usage(message: impl std::fmt::Display) -> Exit {
    say!("error: {message}");
    Exit::Usage
}

pub fn run(args: Args) -> Exit {
    // A JSON summary on standard error is all a successful run writes there, so that the stream
    // reads as one JSON value: the summary carries the counts, the rejects' and the warnings'.
    let stderr_is_json = args.summary.as_deref() == Some(Path::new("-"))
        && args.summary_format == SummaryFormat::Json;
    let rejects_on_stderr = args.rejects.as_deref().is_some_and(|r| {
        r == Path::new("-") || idic::io::guard::same_file(r, Path::new("/dev/stderr"))
    });
    if stderr_is_json && rejects_on_stderr {
        return usage(
            "`--rejects` and a JSON `--summary -` would share standard error: send one of them to a file",
        );
    }
    let (program, checked) = match load(&args.rules, &args.reads, "nothing was run") {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let warnings = checked.diagnostics.len();
    if warnings > 0 && !stderr_is_json {
        say!(
            "warning: the rule set has {warnings} warning{}; `idic check {}` shows them",
            if warnings == 1 { "" } else { "s" },
            args.rules.display()
        );
    }

    let as_of = match resolve_as_of(args.as_of.as_deref(), program.default_as_of()) {
        Ok(date) => date,
        Err(message) => return usage(message),
    };
    let stdin = args.customers == Path::new("-");
    let format = match input_format(args.input_format, &args.customers) {
        Ok(format) => format,
        Err(exit) => return exit,
    };
    let out_format = args
        .out_format
        .or_else(|| OutputFormat::of(&args.out))
        .unwrap_or(OutputFormat::Jsonl);
    let rejects_format = args
        .rejects
        .as_deref()
        .and_then(OutputFormat::of)
        .unwrap_or(OutputFormat::Csv);

    // No output may replace an input, a rule file or another output.
    let mut files = Files::default();
    files
        .rule_set(&args.rules, &checked.rule_files(), &checked.test_files())
        .reads(named("--customers", &args.customers), &args.customers)
        .writes(named("--out", &args.out), &args.out, Std::Out);
    if let Some(orders) = &args.orders {
        files.reads(named("--orders", orders), orders);
    }
    if let Some(list) = &args.suppress {
        files.reads(named("--suppress", list), list);
    }
    let history_path = args.history.as_deref().map(store::resolve);
    if let (Some(flag), Some(path)) = (&args.history, &history_path) {
        if flag == Path::new("-") {
            return usage(
                "`--history -`: the contact history is a file or a directory, not a stream",
            );
        }
        files.writes(named("--history", flag), path, Std::Out);
        for sidecar in store::sidecars(path) {
            files.reads(format!("the history's `{}`", sidecar.display()), &sidecar);
        }
    }
    for (flag, path) in [("--rejects", &args.rejects), ("--summary", &args.summary)] {
        if let Some(path) = path {
            files.writes(named(flag, path), path, Std::Err);
        }
    }
    if let Err(clash) = files.check() {
        return usage(clash);
    }

    // Outputs first: an unwritable target fails before any work.
    let create = |path: &Path, stream: fn() -> Output| {
        Output::to(path, stream)
            .map_err(|e| usage(format!("cannot write `{}`: {e}", path.display())))
    };
    let mut out = match create(&args.out, Output::stdout) {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let mut rejects = match args.rejects.as_deref().map(|p| create(p, Output::stderr)) {
        Some(Err(exit)) => return exit,
        Some(Ok(o)) => Some(o),
        None => None,
    };
    let summary_out = match args.summary.as_deref().map(|p| create(p, Output::stderr)) {
        Some(Err(exit)) => return exit,
        Some(Ok(o)) => Some(o),
        None => None,
    };

    let input = match open_export(&args.customers) {
        Ok(file) => file,
        Err(e) if stdin => return usage(format!("cannot read standard input: {e}")),
        Err(e) => return usage(format!("cannot read `{}`: {e}", args.customers.display())),
    };

    let do_not_contact = match args.suppress.as_deref().map(DoNotContact::read) {
        Some(Ok(list)) => Some(std::sync::Arc::new(list)),
        Some(Err(message)) => return usage(format!("{message}; nothing was run")),
        None => None,
    };
    let options = Options {
        threads: args
            .threads
            .map_or_else(|| Options::default().threads, usize::from),
        max_errors: if args.strict {
            Some(0)
        } else {
            args.max_errors
        },
        max_reject_rate: args.max_reject_rate,
        progress: !args.quiet && !stderr_is_json && std::io::stderr().is_terminal(),
        orders: args.orders.clone(),
        csv_cells: args.csv.cells(),
        do_not_contact,
        ..Options::default()
    };
    let started = Instant::now();
    let mut history = match &history_path {
        Some(path) => match open_history(
            path,
            &program,
            as_of,
            &input,
            &args,
            if stdin {
                "(standard input)".to_string()
            } else {
                args.customers.display().to_string()
            },
            options.do_not_contact.as_deref(),
        ) {
            Ok(history) => Some(history),
            Err(message) => return usage(message),
        },
        None => None,
    };
    let sinks = Sinks {
        decisions: &mut out,
        decisions_format: out_format,
        rejects: rejects
            .as_mut()
            .map(|r| (r as &mut (dyn Write + Send), rejects_format)),
    };
    let memory = match history.as_mut() {
        Some(h) => batch::History {
            read: h.read.take().map(|r| r.into_reader(&program)),
            record: match &mut h.outcome {
                Recorded::Now(recording) => Some(&mut **recording),
                _ => None,
            },
        },
        None => batch::History::default(),
    };
    let run = batch::run_with_history(&program, as_of, &input, format, &options, sinks, memory);
    let outcome = match run {
        Ok(outcome) => outcome,
        Err(e @ RunError::TooManyRejects { .. }) | Err(e @ RunError::Rules(_)) => {
            say!("error: {e}");
            say!("{NOTHING_WRITTEN}");
            return Exit::Findings;
        }
        Err(e @ RunError::Internal(_)) => {
            say!("error: {e}");
            say!("{NOTHING_WRITTEN}");
            return Exit::Usage;
        }
        Err(e) => return usage(e),
    };

    let customers = args.customers.display().to_string();
    let rules = args.rules.display().to_string();
    let summary = Summary::new(
        &program,
        &outcome.tally,
        &RunInfo {
            rules_path: &rules,
            rule_warnings: warnings,
            input_path: if stdin {
                "(standard input)"
            } else {
                &customers
            },
            input_format: format.word(),
            as_of,
            threads: options.threads,
            elapsed_seconds: started.elapsed().as_secs_f64(),
        },
    )
    .with_population(outcome.population.clone());
    // Every output is written before any is put in place.
    let mut outputs = vec![(named("--out", &args.out), out)];
    if let (Some(path), Some(rejects)) = (&args.rejects, rejects) {
        outputs.push((named("--rejects", path), rejects));
    }
    if let (Some(path), Some(mut output)) = (&args.summary, summary_out) {
        let text = match args.summary_format {
            SummaryFormat::Text => summary.to_text(),
            SummaryFormat::Json => summary.to_json(),
        };
        if let Err(e) = output.write_all(text.as_bytes()) {
            return usage(format!("cannot write the summary: {e}; {NOTHING_WRITTEN}"));
        }
        outputs.push((named("--summary", path), output));
    }
    if let Err(message) = commit_all(outputs) {
        return usage(message);
    }
    // The contacts are recorded once the decisions are in place.
    let read = outcome.history_read;
    let recorded = match history.map(|h| h.finish(read)).transpose() {
        Ok(recorded) => recorded,
        Err(e) => {
            return usage(format!(
                "{e}; the decisions were written, but their contacts were not recorded: run again to record them"
            ))
        }
    };
    if stderr_is_json {
        return Exit::Ok;
    }

    let rows = summary.rows;
    say!(
        "{} rows read: {} decided, {} rejected ({:.2} s)",
        idic::text::group(rows.read),
        idic::text::group(rows.decided),
        idic::text::group(rows.rejected),
        summary.elapsed_seconds
    );
    if let Some(spanning) = &summary.spanning {
        say!("  note: {}", spanning.sentence());
    }
    match recorded {
        Some(line) => say!("  {line}"),
        None if program.history_reach().is_some() => say!(
            "  note: no contact history (`--history`): cooldowns, re-entry and caps saw no earlier contacts, and none were recorded"
        ),
        None => {}
    }
    let orders = summary.population.orders.as_ref();
    if let Some(tally) = orders.and_then(|o| o.tally.as_ref()) {
        if tally.rejected > 0 {
            say!(
                "  {} rows of the orders file rejected, the first at {} (`--summary` lists them)",
                idic::text::group(tally.rejected),
                tally
                    .rejects
                    .first()
                    .map_or_else(String::new, ToString::to_string)
            );
        }
    }
    if args.rejects.is_none() && rows.rejected > 0 {
        for reject in &outcome.first_rejects {
            say!("  rejected {reject}");
        }
        let more = rows.rejected - outcome.first_rejects.len() as u64;
        if more > 0 {
            say!("  ... and {} more", idic::text::group(more));
        }
        say!("  (write every rejected row with `--rejects FILE`)");
    }
    Exit::Ok
}

/// The contact history of a run: what it read and, unless a dry run or already recorded,
/// the recording under way.
struct Opened {
    path: String,
    /// What the policy reads, when it reads the history.
    read: Option<Read>,
    outcome: Recorded,
}

/// What a run does with the history once its outputs are written.
enum Recorded {
    /// Commits its contacts.
    Now(Box<Recording>),
    /// Nothing: the same run was recorded before.
    Before(store::Recorded),
    /// Nothing: a dry run.
    DryRun,
    /// Nothing: a dry run, and no history there yet.
    NoHistory,
}

/// Opens the history at `path` for a run of `program` as of `as_of` over `input`: locks it
/// (unless `--dry-run`), finds an earlier recording of the same run, reads what the policy
/// needs and starts recording.
fn open_history(
    path: &Path,
    program: &Program,
    as_of: chrono::NaiveDate,
    input: &std::fs::File,
    args: &Args,
    input_name: String,
    suppress: Option<&DoNotContact>,
) -> Result<Opened, String> {
    let (key, input_hash) = run_key(program, as_of, input, args.orders.as_deref(), suppress)?;
    let as_of_text = as_of.format("%Y-%m-%d").to_string();
    let store = if args.dry_run {
        Store::read(path)
    } else {
        Store::lock(path).map(Some)
    }
    .map_err(|e| e.to_string())?;
    let shown = path.display().to_string();
    let Some(store) = store else {
        // A dry run on a history not created yet: nothing earlier.
        return Ok(Opened {
            path: shown,
            read: None,
            outcome: Recorded::NoHistory,
        });
    };
    let previous = store.recorded(&key).map_err(|e| e.to_string())?;
    let read = program.history_reach().map(|reach| Read {
        reader: store.reader(),
        until: as_of,
        before_run: previous.as_ref().map(|p| p.run),
        keep: Keep::Policy(reach),
    });
    let outcome = match previous {
        _ if args.dry_run => Recorded::DryRun,
        Some(previous) => Recorded::Before(previous),
        None => {
            let run = RunRecord {
                kind: RunKind::Run,
                key,
                as_of: Some(as_of_text),
                ruleset: program.name().to_string(),
                ruleset_hash: program.content_hash().to_string(),
                input: input_name,
                input_hash,
            };
            Recorded::Now(Box::new(store.record(&run).map_err(|e| e.to_string())?))
        }
    };
    Ok(Opened {
        path: shown,
        read,
        outcome,
    })
}

/// The key of a run of `program` as of `as_of` over the export `input` (with the orders file
/// and do-not-contact list given), and the export's digest: the same key is the same run.
pub(super) fn run_key(
    program: &Program,
    as_of: chrono::NaiveDate,
    input: &std::fs::File,
    orders: Option<&Path>,
    suppress: Option<&DoNotContact>,
) -> Result<(String, String), String> {
    let digest = |file: &std::fs::File, what: &str| {
        idic::io::digest::sha256(file).map_err(|e| format!("cannot read {what}: {e}"))
    };
    let input_hash = digest(input, "the export")?;
    let orders = match orders {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            digest(&file, &format!("`{}`", path.display()))?
        }
        None => String::new(),
    };
    // Digested as it was read.
    let suppress = suppress.map_or("", DoNotContact::digest);
    let as_of = as_of.format("%Y-%m-%d").to_string();
    let key = store::run_key(&[
        program.content_hash(),
        &input_hash,
        &orders,
        suppress,
        &as_of,
    ]);
    Ok((key, input_hash))
}

/// What a run's policy reads of the history: the contacts up to `until` (from as far back as
/// `keep` reads), of the runs before `before_run`, of which the index keeps `keep`.
pub(super) struct Read {
    pub(super) reader: Reader,
    pub(super) until: chrono::NaiveDate,
    pub(super) before_run: Option<i64>,
    pub(super) keep: Keep,
}

impl Read {
    /// The contacts, indexed for `program`'s triggers and channels.
    pub(super) fn load(&self, program: &Program) -> Result<Index, String> {
        let triggers: Vec<&str> = program.trigger_names().collect();
        let channels = program.channel_names();
        let window = Window {
            since: None,
            until: self.until,
            before_run: self.before_run,
            triggers: &triggers,
            channels: &channels,
            keep: self.keep.clone(),
        };
        self.reader.load(&window).map_err(|e| e.to_string())
    }

    /// Reads for `program`, on the thread the batch gives it.
    fn into_reader(self, program: &Program) -> batch::HistoryReader<'_> {
        Box::new(move || self.load(program))
    }
}

impl Opened {
    /// Commits the recording; says what was read (`read` contacts) and recorded.
    fn finish(self, read: Option<u64>) -> Result<String, String> {
        let read = match read {
            _ if matches!(self.outcome, Recorded::NoHistory) => "none there yet".to_string(),
            Some(n) => format!(
                "read {} earlier contact{}",
                idic::text::group(n),
                if n == 1 { "" } else { "s" }
            ),
            None => "read nothing (no cooldown, re-entry rule or cap needs it)".to_string(),
        };
        let path = &self.path;
        let done = match self.outcome {
            Recorded::Now(recording) => {
                let run = recording.run();
                let n = recording.commit().map_err(|e| e.to_string())?;
                format!(
                    "recorded {} contact{} as run {run}",
                    idic::text::group(n),
                    if n == 1 { "" } else { "s" }
                )
            }
            Recorded::DryRun | Recorded::NoHistory => "a dry run: recorded nothing".to_string(),
            Recorded::Before(previous) => format!(
                "this run (the same rules, export and as_of) was recorded as run {} at {}: recorded nothing again",
                previous.run, previous.recorded_at
            ),
        };
        Ok(format!("history `{path}`: {read}; {done}"))
    }
}

/// Loads, checks and plans the rule set at `rules`. Problems are printed on standard error like
/// `idic check` prints them, followed by "`RULES` has errors; {nothing}" when there are errors:
/// exit 2 for I/O, 1 for errors. The checked rule set comes along for its warnings.
pub(super) fn load(
    rules: &Path,
    reads: &super::ReadArgs,
    nothing: &str,
) -> Result<(Program, Checked), Exit> {
    let access = reads.access(rules).map_err(usage)?;
    let checked = match idic::check::check_path_with(rules, access) {
        Ok(checked) => checked,
        Err(io) => {
            super::err(&render(
                &[io],
                &Default::default(),
                Format::Human,
                super::color_stderr(),
            ));
            return Err(Exit::Usage);
        }
    };
    match Program::new(&checked) {
        Ok(program) => Ok((program, checked)),
        Err(errors) => {
            super::err(&render(
                &errors,
                &checked.sources,
                Format::Human,
                super::color_stderr(),
            ));
            say!("error: `{}` has errors; {nothing}", rules.display());
            Err(Exit::Findings)
        }
    }
}

/// The format of the export at `path`: the flag, else its extension; standard input (`-`) is
/// CSV unless told. Exit 2 when neither says.
pub(super) fn input_format(flag: Option<InputFormat>, path: &Path) -> Result<InputFormat, Exit> {
    match (flag, InputFormat::of(path)) {
        (Some(f), _) | (None, Some(f)) => Ok(f),
        (None, None) if path == Path::new("-") => Ok(InputFormat::Csv),
        (None, None) => Err(usage(format!(
            "cannot tell the format of `{}` from its name: pass `--input-format csv` or `--input-format jsonl`",
            path.display()
        ))),
    }
}

/// The date a run decides at: the flag, else the rule set's; `today` only when written.
pub(super) fn resolve_as_of(
    flag: Option<&str>,
    rules: Option<AsOf>,
) -> Result<chrono::NaiveDate, String> {
    let today = || chrono::Local::now().date_naive();
    match flag {
        Some("today") => Ok(today()),
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            format!("`--as-of {text}` is not a date: write it as YYYY-MM-DD (e.g. 2026-11-01) or `today`")
        }),
        None => match rules {
            Some(AsOf::Date(date)) => Ok(date),
            Some(AsOf::Today) => Ok(today()),
            None => Err(
                "no as_of date: pass `--as-of YYYY-MM-DD`, or set `as_of` in the rule set's `ruleset` block"
                    .to_string(),
            ),
        },
    }
}
