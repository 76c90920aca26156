//! `idic watch RULES --customers SAMPLE`: keep a rule set loaded while it is edited, and show
//! after each save what it now decides for a sample export.
//!
//! The rule set is loaded, checked and tested ([`Reloader`]), the sample run in memory with the
//! batch machinery, and the counts per segment, tier and trigger printed. After each change
//! that loads, checks and passes its tests, the counts that changed are printed against the
//! previous good version, with the time from the change to the refreshed counts; a change that
//! fails says why and keeps the version. Exit codes: 0 stopped with Ctrl-C; 1 the rule set has
//! errors or failing tests at start (unless `--allow-failing-tests`); 2 usage or I/O (a missing rule set, an unreadable or
//! ill-fitting sample).

use super::run::resolve_as_of;
use super::Exit;
use idic::batch::{self, Options as RunOptions, RunError, Sinks};
use idic::diagnostics::{render, Format};
use idic::io::{InputFormat, OutputFormat};
use idic::plan::Program;
use idic::reload::{self, FailingTests, Loaded, Options, ReloadError, ReloadEvent, Reloader};
use idic::text::group;
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// A directory of rule files (`.idic`, `.toml`), or one rule file.
    rules: PathBuf,
    /// A sample export to decide for after every change (CSV with a header row, or JSONL).
    #[arg(long, value_name = "FILE")]
    customers: PathBuf,
    /// How long the rule files must be quiet before a reload, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    debounce: u64,
    /// The date to decide at: YYYY-MM-DD, or `today` [default: the rule set's `as_of`].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// The orders file, for a rule set that reads one (read again for each version).
    #[arg(long, value_name = "FILE")]
    orders: Option<PathBuf>,
    /// Take in a version whose tests fail (they are listed), as a test-first loop needs;
    /// otherwise it is kept out until they pass.
    #[arg(long)]
    allow_failing_tests: bool,
    #[command(flatten)]
    reads: super::ReadArgs,
}

/// What the watch hears: a reload, or Ctrl-C.
enum Message {
    Reload(ReloadEvent),
    Stop,
}

/// A usage or I/O problem: said on standard error, exit 2.
fn usage(message: impl std::fmt::Display) -> Exit {
    say!("error: {message}");
    Exit::Usage
}

pub fn run(args: Args) -> Exit {
    let debounce = Duration::from_millis(args.debounce);
    let access = match args.reads.access(&args.rules) {
        Ok(access) => access,
        Err(message) => return usage(message),
    };
    let options = Options {
        debounce,
        access: Some(access),
        failing_tests: if args.allow_failing_tests {
            FailingTests::Allow
        } else {
            FailingTests::Refuse
        },
    };
    let reloader = match Reloader::watch(&args.rules, options) {
        Ok(reloader) => reloader,
        Err(reload::Error::Rules(error)) => {
            report(&error);
            say!(
                "error: `{}` cannot be watched until this is fixed",
                args.rules.display()
            );
            return if error.is_io() {
                Exit::Usage
            } else {
                Exit::Findings
            };
        }
        Err(e) => return usage(e),
    };
    let sample = match Sample::open(args.customers, args.as_of, args.orders) {
        Ok(sample) => sample,
        Err(message) => return usage(message),
    };
    let loaded = reloader.current();
    let mut good = match sample.count(&loaded.program) {
        Ok(counts) => counts,
        Err(message) => return usage(message),
    };
    print_version(&loaded, "");
    super::out(&good.table());

    let (messages, received) = mpsc::channel();
    let stop = messages.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop.send(Message::Stop);
    }) {
        return usage(format!("cannot catch Ctrl-C: {e}"));
    }
    let events = reloader.subscribe();
    std::thread::spawn(move || {
        for event in events {
            if messages.send(Message::Reload(event)).is_err() {
                break;
            }
        }
    });
    show!(
        "watching `{}` for changes (debounce {} ms); Ctrl-C stops",
        args.rules.display(),
        debounce.as_millis()
    );

    let mut failing = false;
    while let Ok(Message::Reload(event)) = received.recv() {
        match event {
            ReloadEvent::Swapped { change, .. } => {
                failing = false;
                let loaded = reloader.current();
                let files: Vec<String> = change
                    .paths
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect();
                print_version(&loaded, &files.join(", "));
                match sample.count(&loaded.program) {
                    Ok(counts) => {
                        super::out(&counts.changes_from(&good));
                        good = counts;
                    }
                    // The new version is in use, but says nothing about this sample.
                    Err(message) => say!("error: {message}"),
                }
                let now = Instant::now();
                show!(
                    "counts refreshed {} ms after the change (debounce {} ms, then {} ms to load, test and count)",
                    now.duration_since(change.first_event).as_millis(),
                    debounce.as_millis(),
                    now.duration_since(change.settled).as_millis(),
                );
            }
            ReloadEvent::Kept { version, error, .. } => {
                failing = true;
                report(&error);
                say!("keeping version {version}");
            }
            ReloadEvent::Unchanged { version, .. } => {
                if std::mem::take(&mut failing) {
                    show!("the rule files are back to version {version}");
                }
            }
        }
    }
    say!("stopped");
    Exit::Ok
}

/// Says why a rule set did not load: diagnostics with their source lines, or the failing tests.
fn report(error: &ReloadError) {
    match error {
        ReloadError::Load(e) => super::err(&render(
            &e.diagnostics,
            &e.sources,
            Format::Human,
            super::color_stderr(),
        )),
        ReloadError::Tests(report) => {
            failures(report);
            let failed = report.failures().count();
            say!("error: {failed} of {} tests failed", report.cases.len());
        }
        ReloadError::Watch(_) | ReloadError::Internal(_) => say!("error: {error}"),
    }
}

/// The failing tests of `report`, each with what it expected and what happened.
fn failures(report: &idic::testing::TestReport) {
    for case in report.failures() {
        super::err(&case.to_text());
    }
}

fn print_version(loaded: &Loaded, changed: &str) {
    let tests = match (&loaded.failing, loaded.tests) {
        (Some(report), n) => {
            failures(report);
            format!("{} of {n} tests failing", report.failures().count())
        }
        (None, 1) => "1 test passed".to_string(),
        (None, n) => format!("{n} tests passed"),
    };
    let changed = if changed.is_empty() {
        String::new()
    } else {
        format!(" ({changed} changed)")
    };
    show!(
        "version {}  {}  {tests}{changed}",
        loaded.version,
        loaded.hash()
    );
}

/// The sample export, opened once and read again for each version.
struct Sample {
    path: PathBuf,
    file: File,
    format: InputFormat,
    as_of: Option<String>,
    orders: Option<PathBuf>,
}

impl Sample {
    fn open(
        path: PathBuf,
        as_of: Option<String>,
        orders: Option<PathBuf>,
    ) -> Result<Sample, String> {
        let file = idic::io::open_export(&path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let format = InputFormat::of(&path).unwrap_or(InputFormat::Csv);
        Ok(Sample {
            orders,
            path,
            file,
            format,
            as_of,
        })
    }

    /// Decides for every customer of the sample with `program`, writing nothing.
    fn count(&self, program: &Program) -> Result<Counts, String> {
        let as_of = resolve_as_of(self.as_of.as_deref(), program.default_as_of())?;
        let sinks = Sinks {
            decisions: &mut std::io::sink(),
            decisions_format: OutputFormat::Jsonl,
            rejects: None,
        };
        let outcome = batch::run(
            program,
            as_of,
            &self.file,
            self.format,
            &RunOptions {
                orders: self.orders.clone(),
                ..RunOptions::default()
            },
            sinks,
        )
        .map_err(|e| match e {
            RunError::Header(e) => format!(
                "the sample `{}` does not fit the rule set's schema: {e}",
                self.path.display()
            ),
            e => format!("cannot run the sample `{}`: {e}", self.path.display()),
        })?;
        let t = &outcome.tally;
        let mut lines = vec![
            Line::new("rows", "decided", t.decided),
            Line::new("rows", "rejected", t.rejected),
        ];
        let names = |kind, names: &mut dyn Iterator<Item = &str>, counts: &[u64]| {
            names
                .zip(counts)
                .map(|(n, &c)| Line::new(kind, n, c))
                .collect::<Vec<_>>()
        };
        lines.extend(names("segment", &mut program.segment_names(), &t.segments));
        lines.extend(names("tier", &mut program.tier_names(), &t.tiers));
        lines.extend(names("stage", &mut program.stage_names(), &t.stages));
        lines.extend(names("trigger", &mut program.trigger_names(), &t.fired));
        // Why eligible triggers did not fire, over all triggers.
        let reasons = program.reason_columns();
        for (c, (why, label)) in reasons.iter().enumerate() {
            let total = (0..program.trigger_names().len())
                .map(|i| t.suppressed[i * reasons.len() + c])
                .sum();
            // The list is the run's: shown when it keeps anyone out.
            if *why == idic::engine::Suppression::SuppressedList && total == 0 {
                continue;
            }
            lines.push(Line::new("reason", label, total));
        }
        Ok(Counts {
            lines,
            as_of: as_of.format("%Y-%m-%d").to_string(),
        })
    }
}

/// One count: `segment loyal 52`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    kind: &'static str,
    name: String,
    count: u64,
}

impl Line {
    fn new(kind: &'static str, name: &str, count: u64) -> Line {
        Line {
            kind,
            name: name.to_string(),
            count,
        }
    }
}

/// What a version decides for the sample.
struct Counts {
    /// Rows decided and rejected, customers per segment and tier, firings per trigger,
    /// suppressions per reason.
    lines: Vec<Line>,
    as_of: String,
}

impl Counts {
    fn width(&self) -> usize {
        self.lines.iter().map(|l| l.name.len()).max().unwrap_or(0)
    }

    /// Every count, a table per kind.
    fn table(&self) -> String {
        let w = self.width().max(8);
        let count = |name: &str| {
            self.lines
                .iter()
                .find(|l| l.kind == "rows" && l.name == name)
                .map_or(0, |l| l.count)
        };
        let mut out = format!(
            "as of {}: {} customers decided, {} rows rejected\n",
            self.as_of,
            group(count("decided")),
            group(count("rejected"))
        );
        let mut kind = "rows";
        for line in self.lines.iter().filter(|l| l.kind != "rows") {
            if line.kind != kind {
                kind = line.kind;
                let heading = match kind {
                    "trigger" => "fired",
                    "reason" => "suppressed",
                    _ => "customers",
                };
                out.push_str(&format!("\n{kind:<w$}  {heading:>10}\n"));
            }
            out.push_str(&format!("{:<w$}  {:>10}\n", line.name, group(line.count)));
        }
        out.push('\n');
        out
    }

    /// The counts that differ from `before`'s (by kind and name), one line each:
    /// `  segment  loyal   52 -> 61 (+9)`; new and removed names say so.
    fn changes_from(&self, before: &Counts) -> String {
        let find = |counts: &Counts, line: &Line| {
            counts
                .lines
                .iter()
                .find(|l| l.kind == line.kind && l.name == line.name)
                .map(|l| l.count)
        };
        let w = self.width().max(before.width());
        let mut out = String::new();
        let mut same = 0;
        let mut say = |kind: &str, name: &str, change: String| {
            out.push_str(&format!("  {kind:<8} {name:<w$}  {change}\n"));
        };
        if self.as_of != before.as_of {
            say("as of", "", format!("{} -> {}", before.as_of, self.as_of));
        }
        for line in &self.lines {
            match find(before, line) {
                Some(old) if old == line.count => same += 1,
                Some(old) => {
                    let delta = line.count as i128 - old as i128;
                    let sign = if delta > 0 { "+" } else { "-" };
                    say(
                        line.kind,
                        &line.name,
                        format!(
                            "{:>8} -> {:>8} ({sign}{})",
                            group(old),
                            group(line.count),
                            group(delta.unsigned_abs() as u64)
                        ),
                    );
                }
                None => say(line.kind, &line.name, format!("new: {}", group(line.count))),
            }
        }
        for line in &before.lines {
            if find(self, line).is_none() {
                say(
                    line.kind,
                    &line.name,
                    format!("{} -> removed", group(line.count)),
                );
            }
        }
        if out.is_empty() {
            out.push_str("  no count changed\n");
        } else if same > 0 {
            out.push_str(&format!(
                "  ({same} other count{} unchanged)\n",
                if same == 1 { "" } else { "s" }
            ));
        }
        out
    }
}
