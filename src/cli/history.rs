//! `idic history show|stats|export HISTORY`: what a contact history holds, read without
//! changing it; `idic history import HISTORY LOG --rules RULES`: contacts made outside idic
//! added to it. Exit codes: 0 done, 1 the rule set has errors or `--strict` met a reject, 2
//! usage or I/O (no such history, an unwritable output, a log without a mapped column).

use super::run::usage;
use super::{named, Exit};
use idic::history::store::{self, Stats};
use idic::history::{HistoryError, NewContact, Store};
use idic::io::guard::Std;
use idic::io::{Files, Output, OutputFormat};
use idic::text::{pad, printable, spreadsheet_cell};
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// One customer's contacts, oldest first.
    Show {
        /// The contact history: a SQLite file, or the directory holding `history.sqlite`.
        history: PathBuf,
        /// The customer's id.
        id: String,
        /// How to print them.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Runs and contacts, per trigger, channel and arm, and per day.
    Stats {
        /// The contact history: a SQLite file, or the directory holding `history.sqlite`.
        history: PathBuf,
        /// How to print them.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Adds the contacts of a log made outside idic (a send log, a call list), its columns
    /// mapped by the rule set's `contacts` block; a log imported before is not imported again.
    Import {
        /// The contact history: a SQLite file, or the directory holding `history.sqlite`,
        /// created when missing.
        history: PathBuf,
        /// The log: CSV with a header, or JSONL.
        log: PathBuf,
        /// The rule set whose `contacts` block maps the log's columns.
        #[arg(long, value_name = "RULES")]
        rules: PathBuf,
        /// The log's format [default: from its extension].
        #[arg(long, value_enum, value_name = "FORMAT")]
        input_format: Option<idic::io::InputFormat>,
        /// Import nothing, with exit code 1, when a row is rejected.
        #[arg(long)]
        strict: bool,
    },
    /// Keeps, of the contacts older than `--keep`, only each customer's last per trigger,
    /// channel and arm (what re-entry and cooldowns read), and shrinks the file.
    Compact {
        /// The contact history: a SQLite file, or the directory holding `history.sqlite`.
        history: PathBuf,
        /// How far back every contact is kept, counted from `--as-of`: a duration such as
        /// `400d`, `52w` or `13m`; at least the longest cap window of the rules that read it.
        #[arg(long, value_name = "DURATION")]
        keep: String,
        /// The date `--keep` counts back from, `YYYY-MM-DD`, or `today`.
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// Rule sets that read the history (repeatable): a `--keep` shorter than one of their
        /// caps is refused, as it would let that cap count too few contacts.
        #[arg(long, value_name = "RULES")]
        rules: Vec<PathBuf>,
    },
    /// Every contact, in the order recorded, as CSV or JSONL.
    Export {
        /// The contact history: a SQLite file, or the directory holding `history.sqlite`.
        history: PathBuf,
        /// Where the contacts go; `-` is standard output.
        #[arg(long, value_name = "FILE", default_value = "-")]
        out: PathBuf,
        /// The format [default: from --out's extension, else csv].
        #[arg(long, value_enum, value_name = "FORMAT")]
        out_format: Option<OutputFormat>,
        #[command(flatten)]
        csv: super::CsvArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// The columns of an export, in order.
const COLUMNS: [&str; 12] = [
    "run", "date", "customer", "trigger", "action", "channel", "activity", "service", "arm",
    "tier", "stage", "segments",
];

pub fn run(args: Args) -> Exit {
    let result = match args.command {
        Command::Show {
            history,
            id,
            format,
        } => open(&history).and_then(|store| show(&store, &id, format)),
        Command::Stats { history, format } => open(&history).and_then(|store| {
            let stats = store.stats().map_err(|e| e.to_string())?;
            super::out(&match format {
                Format::Text => stats_text(&stats),
                Format::Json => idic::text::json_pretty(&stats),
            });
            Ok(Exit::Ok)
        }),
        Command::Export {
            history,
            out,
            out_format,
            csv,
        } => export(&history, &out, out_format, csv.cells()),
        Command::Import {
            history,
            log,
            rules,
            input_format,
            strict,
        } => import(&history, &log, &rules, input_format, strict),
        Command::Compact {
            history,
            keep,
            as_of,
            rules,
        } => compact(&history, &keep, &as_of, &rules),
    };
    result.unwrap_or_else(usage)
}

/// The history at `path` (a directory holds `history.sqlite`), which must exist.
fn open(path: &Path) -> Result<Store, String> {
    let file = store::resolve(path);
    match Store::read(&file).map_err(|e| e.to_string())? {
        Some(store) => Ok(store),
        None => Err(format!("no contact history at `{}`", file.display())),
    }
}

fn show(store: &Store, id: &str, format: Format) -> Result<Exit, String> {
    let mut contacts: Vec<(i64, NewContact<'static>)> = Vec::new();
    store
        .each_contact(Some(id.trim()), |run, c| {
            contacts.push((run, c.clone()));
            Ok::<(), HistoryError>(())
        })
        .map_err(|e| e.to_string())?;
    if format == Format::Json {
        let rows: Vec<Row<'_>> = contacts.iter().map(|(r, c)| json(*r, c)).collect();
        super::out(&idic::text::json_pretty(&rows));
        return Ok(Exit::Ok);
    }
    let mut text = format!(
        "customer {}: {} contact{} in `{}`\n",
        printable(id),
        contacts.len(),
        if contacts.len() == 1 { "" } else { "s" },
        store.path()
    );
    let trigger = |c: &NewContact<'_>| printable(c.trigger.as_deref().unwrap_or("-")).into_owned();
    let wide = contacts
        .iter()
        .map(|(_, c)| trigger(c).chars().count())
        .max();
    for (run, c) in &contacts {
        let service = if c.service { ", a service message" } else { "" };
        text.push_str(&format!(
            "  {}  run {run}  {}  {} on {}, {}{service}\n",
            c.date,
            pad(&trigger(c), wide.unwrap_or(0)),
            printable(c.action.as_deref().unwrap_or("-")),
            printable(&c.channel),
            c.arm.word(),
        ));
    }
    super::out(&text);
    Ok(Exit::Ok)
}

fn stats_text(stats: &Stats) -> String {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut text = format!(
        "{} run{}, {} contact{}\n",
        stats.runs,
        plural(stats.runs),
        stats.contacts,
        plural(stats.contacts)
    );
    if !stats.by_trigger.is_empty() {
        let rows: Vec<[String; 4]> = stats
            .by_trigger
            .iter()
            .map(|t| {
                [
                    printable(t.trigger.as_deref().unwrap_or("(none)")).into_owned(),
                    printable(&t.channel).into_owned(),
                    printable(&t.arm).into_owned(),
                    t.contacts.to_string(),
                ]
            })
            .chain(std::iter::once(
                ["trigger", "channel", "arm", "contacts"].map(str::to_string),
            ))
            .collect();
        let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let (a, b, c, d) = (width(0), width(1), width(2), width(3));
        let line = |r: &[String; 4]| {
            format!(
                "{}  {}  {}  {:>d$}\n",
                pad(&r[0], a),
                pad(&r[1], b),
                pad(&r[2], c),
                r[3]
            )
        };
        text.push('\n');
        text.push_str(&line(&rows[rows.len() - 1]));
        for r in &rows[..rows.len() - 1] {
            text.push_str(&line(r));
        }
    }
    if !stats.by_day.is_empty() {
        text.push_str("\ndate        contacts\n");
        for d in &stats.by_day {
            text.push_str(&format!("{}  {:>8}\n", printable(&d.date), d.contacts));
        }
    }
    text
}

/// A contact as JSON, keyed by [`COLUMNS`] in their order.
#[derive(serde::Serialize)]
struct Row<'a> {
    run: i64,
    date: &'a str,
    customer: &'a str,
    trigger: Option<&'a str>,
    action: Option<&'a str>,
    channel: &'a str,
    activity: Option<&'a str>,
    service: bool,
    arm: &'static str,
    tier: Option<&'a str>,
    stage: Option<&'a str>,
    segments: Option<&'a str>,
}

fn json<'a>(run: i64, c: &'a NewContact<'_>) -> Row<'a> {
    Row {
        run,
        date: &c.date,
        customer: &c.customer,
        trigger: c.trigger.as_deref(),
        action: c.action.as_deref(),
        channel: &c.channel,
        activity: c.activity.as_deref(),
        service: c.service,
        arm: c.arm.word(),
        tier: c.tier.as_deref(),
        stage: c.stage.as_deref(),
        segments: c.segments.as_deref(),
    }
}

fn export(
    history: &Path,
    out: &Path,
    format: Option<OutputFormat>,
    cells: idic::io::CsvCells,
) -> Result<Exit, String> {
    let file = store::resolve(history);
    let mut files = Files::default();
    files
        .reads(format!("the history `{}`", file.display()), &file)
        .writes(named("--out", out), out, Std::Out);
    for sidecar in store::sidecars(&file) {
        files.reads(format!("the history's `{}`", sidecar.display()), &sidecar);
    }
    files.check()?;
    let store = open(history)?;
    let format = format
        .or_else(|| OutputFormat::of(out))
        .unwrap_or(OutputFormat::Csv);
    let mut output = Output::to(out, Output::stdout)
        .map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    let fail = |e: std::io::Error| HistoryError::Sqlite {
        path: out.display().to_string(),
        error: format!("cannot write: {e}"),
    };
    let safe = |cell: &str| -> String {
        match cells {
            idic::io::CsvCells::Safe => spreadsheet_cell(cell).into_owned(),
            idic::io::CsvCells::Raw => cell.to_string(),
        }
    };
    let mut buffer = Vec::new();
    match format {
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut output);
            writer.write_record(COLUMNS).map_err(|e| e.to_string())?;
            store
                .each_contact(None, |run, c| {
                    let opt = |v: &Option<Cow<'_, str>>| v.as_deref().map(safe).unwrap_or_default();
                    writer
                        .write_record([
                            run.to_string(),
                            c.date.to_string(),
                            safe(&c.customer),
                            opt(&c.trigger),
                            opt(&c.action),
                            safe(&c.channel),
                            opt(&c.activity),
                            u8::from(c.service).to_string(),
                            c.arm.word().to_string(),
                            opt(&c.tier),
                            opt(&c.stage),
                            opt(&c.segments),
                        ])
                        .map_err(|e| fail(e.into()))
                })
                .map_err(|e| e.to_string())?;
            writer.flush().map_err(|e| e.to_string())?;
        }
        OutputFormat::Jsonl => {
            store
                .each_contact(None, |run, c| {
                    buffer.clear();
                    idic::text::write_json(&mut buffer, &json(run, c))
                        .map_err(|e| fail(e.into()))?;
                    buffer.push(b'\n');
                    output.write_all(&buffer).map_err(fail)
                })
                .map_err(|e| e.to_string())?;
        }
    }
    output
        .commit()
        .map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
    Ok(Exit::Ok)
}

/// How many rejects `import` shows; the count says how many there were.
const REJECTS_SHOWN: usize = 10;

fn import(
    history: &Path,
    log: &Path,
    rules: &Path,
    format: Option<idic::io::InputFormat>,
    strict: bool,
) -> Result<Exit, String> {
    use idic::history::import::{read_log, LogReject};
    use idic::history::{store::run_key, RunKind, RunRecord};
    let (program, _) =
        match super::run::load(rules, &super::ReadArgs::default(), "nothing imported") {
            Ok(loaded) => loaded,
            Err(exit) => return Ok(exit),
        };
    let Some(mapping) = program.rules().contacts.as_ref() else {
        return Err(format!(
            "`{}` has no `contacts` block to map the log's columns: add one, with a line per \
             column, e.g. `customer from \"Customer ID\"`, `date from \"Sent At\"` and \
             `channel email`",
            rules.display()
        ));
    };
    let format = match super::run::input_format(format, log) {
        Ok(format) => format,
        Err(exit) => return Ok(exit),
    };
    let shown = log.display().to_string();
    let path = store::resolve(history);
    let history_files = std::iter::once(path.clone()).chain(store::sidecars(&path));
    if history_files
        .into_iter()
        .any(|f| idic::io::guard::same_file(log, &f))
    {
        return Err(format!(
            "`{shown}` is the contact history itself: import a log of contacts into it"
        ));
    }
    let file = idic::io::open_export(log).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let digest =
        idic::io::digest::sha256(&file).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    // The log and how it is read: an edit elsewhere in the rules does not import it again.
    let key = run_key(&[
        "import",
        &digest,
        &idic::history::import::mapping_text(mapping),
    ]);
    // A history this import creates is removed again when it imports nothing.
    let created = !path.exists();
    let forget = |recording: idic::history::Recording| {
        drop(recording);
        if created {
            let _ = std::fs::remove_file(&path);
            for sidecar in store::sidecars(&path) {
                let _ = std::fs::remove_file(sidecar);
            }
        }
    };
    let store = Store::lock(&path).map_err(|e| e.to_string())?;
    if let Some(before) = store.recorded(&key).map_err(|e| e.to_string())? {
        say!(
            "`{shown}` was imported into `{}` before, as run {} on {} ({} contacts): nothing imported",
            path.display(),
            before.run,
            before.recorded_at,
            before.contacts
        );
        return Ok(Exit::Ok);
    }
    let mut recording = store
        .record(&RunRecord {
            kind: RunKind::Import,
            key,
            as_of: None,
            ruleset: program.name().to_string(),
            ruleset_hash: program.content_hash().to_string(),
            input: shown.clone(),
            input_hash: digest,
        })
        .map_err(|e| e.to_string())?;
    let mut shown_rejects: Vec<LogReject> = Vec::new();
    let tally = read_log(
        &file,
        format,
        mapping,
        program.rules(),
        |contacts| recording.add(contacts).map_err(|e| e.to_string()),
        |reject| {
            if shown_rejects.len() < REJECTS_SHOWN {
                shown_rejects.push(reject);
            }
        },
    )
    .map_err(|e| format!("`{shown}`: {e}"))?;
    for r in &shown_rejects {
        let column = r
            .column
            .as_ref()
            .map(|c| format!(" `{}`", printable(c)))
            .unwrap_or_default();
        say!(
            "reject: {shown}:{}{column}: {}",
            r.line,
            printable(&r.reason)
        );
    }
    if tally.rejects > shown_rejects.len() as u64 {
        say!(
            "... and {} more rejects",
            tally.rejects - shown_rejects.len() as u64
        );
    }
    if strict && tally.rejects > 0 {
        // Dropped without a commit: nothing is recorded.
        forget(recording);
        say!(
            "error: {} of {} rows of `{shown}` rejected; with --strict nothing was imported",
            tally.rejects,
            tally.rows
        );
        return Ok(Exit::Findings);
    }
    if tally.contacts == 0 {
        // Dropped without a commit: no empty run is recorded.
        forget(recording);
        say!(
            "no contact to import from `{shown}` ({} row{}, all rejected); nothing was imported",
            tally.rows,
            if tally.rows == 1 { "" } else { "s" }
        );
        return Ok(if tally.rows > 0 {
            Exit::Findings
        } else {
            Exit::Ok
        });
    }
    let run = recording.run();
    let n = recording.commit().map_err(|e| e.to_string())?;
    say!(
        "imported {n} contact{} from `{shown}` into `{}` as run {run}; {} row{} rejected",
        if n == 1 { "" } else { "s" },
        path.display(),
        tally.rejects,
        if tally.rejects == 1 { "" } else { "s" }
    );
    Ok(Exit::Ok)
}

fn compact(history: &Path, keep: &str, as_of: &str, rules: &[PathBuf]) -> Result<Exit, String> {
    let keep: idic::model::Duration = keep.parse().map_err(|e| format!("`--keep {keep}`: {e}"))?;
    for path in rules {
        let (program, _) =
            match super::run::load(path, &super::ReadArgs::default(), "nothing compacted") {
                Ok(loaded) => loaded,
                Err(exit) => return Ok(exit),
            };
        let caps = program.rules().settings.iter().flat_map(|s| &s.caps);
        if let Some(cap) = caps.max_by_key(|c| c.window.value.days()) {
            let window = cap.window.value;
            if keep.days() < window.days() {
                return Err(format!(
                    "`--keep {keep}` is shorter than the cap `{} {} per {window}` of `{}`, \
                     which would then count too few contacts: keep at least {window}; nothing \
                     compacted",
                    cap.scope.value,
                    cap.max.value,
                    path.display()
                ));
            }
        }
    }
    let as_of = super::run::resolve_as_of(Some(as_of), None)?;
    let before = as_of
        .checked_sub_days(chrono::Days::new(u64::from(keep.days())))
        .ok_or_else(|| format!("`--keep {keep}` goes back before any date"))?;
    let file = store::resolve(history);
    // (Locking refuses a file that is not a history.)
    if !file.exists() {
        return Err(format!("no contact history at `{}`", file.display()));
    }
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let was = size();
    let store = Store::lock(&file).map_err(|e| e.to_string())?;
    let done = store.compact(before).map_err(|e| e.to_string())?;
    let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    say!(
        "compacted `{}`: of the contacts dated before {before}, removed {} and kept {} (each \
         customer's last per trigger, channel and arm); fingerprinted {} run{} for fast \
         reading; {}",
        file.display(),
        done.removed,
        done.kept,
        done.fingerprinted,
        if done.fingerprinted == 1 { "" } else { "s" },
        if done.vacuumed {
            format!("the file went from {} to {}", mb(was), mb(size()))
        } else if done.free > 0 {
            format!(
                "the file is {}, {} of it free for the next runs to fill",
                mb(size()),
                mb(done.free)
            )
        } else {
            format!("the file is {}", mb(size()))
        }
    );
    Ok(Exit::Ok)
}
