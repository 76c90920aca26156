//! `idic explain RULES --customers FILE --id ID | --row N`: why the rules decided what they did
//! for one customer of an export.
//!
//! The row is read and decided exactly as `idic run` reads and decides it. Exit codes: 0
//! explained, 1 the rule set has errors or `idic run` would reject the row, 2 usage or I/O
//! (no such file, id or row).

use super::run::{input_format, load, resolve_as_of, usage};
use super::Exit;
use idic::batch::{self, Options};
use idic::engine::{explain, Explanation};
use idic::history::Keep;
use idic::io::do_not_contact::DoNotContact;
use idic::io::{find_row, FindError, InputFormat, Reject};
use idic::model::RowSelect;
use idic::text::printable;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("customer").required(true).args(["id", "row"])))]
pub struct Args {
    /// A rule file (`.idic` or `.toml`) or a directory of them.
    rules: PathBuf,
    /// The customer export: CSV with a header row, or JSONL.
    #[arg(long, value_name = "FILE")]
    customers: PathBuf,
    /// The customer's id.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// The customer's row: the N-th data row of the export, 1-based (the header is not a row).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    row: Option<u64>,
    /// The export's format [default: from its extension].
    #[arg(long, value_enum, value_name = "FORMAT")]
    input_format: Option<InputFormat>,
    /// The date to decide at: YYYY-MM-DD, or `today` for the wall-clock date [default: the rule
    /// set's `as_of`].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// The orders file, for a rule set that reads one (scores and the model are worked out over
    /// the whole export, as `idic run` does).
    #[arg(long, value_name = "FILE")]
    orders: Option<PathBuf>,
    /// The contact history (a file or a directory, as `idic run --history`): read, never
    /// written, to show the customer's earlier contacts and the cooldowns and re-entry rules
    /// they trigger.
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,
    /// A do-not-contact list, as `idic run --suppress` reads it.
    #[arg(long, value_name = "FILE")]
    suppress: Option<PathBuf>,
    /// How to print the explanation.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "human")]
    format: ExplainFormat,
    #[command(flatten)]
    reads: super::ReadArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExplainFormat {
    Human,
    Json,
}

/// The explanation with the row it is about (`--format json`).
#[derive(Serialize)]
struct Report<'a> {
    file: String,
    row: u64,
    line: u64,
    #[serde(flatten)]
    explanation: &'a Explanation,
}

pub fn run(args: Args) -> Exit {
    let (program, _) = match load(&args.rules, &args.reads, "nothing was explained") {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let as_of = match resolve_as_of(args.as_of.as_deref(), program.default_as_of()) {
        Ok(date) => date,
        Err(message) => return usage(message),
    };
    let file = args.customers.display().to_string();
    if args.customers == Path::new("-") {
        return usage("`idic explain` reads the export from a file, not standard input");
    }
    let format = match input_format(args.input_format, &args.customers) {
        Ok(format) => format,
        Err(exit) => return exit,
    };
    let select = match (&args.id, args.row) {
        (Some(id), _) => RowSelect::Id(id.clone()),
        (None, Some(n)) => RowSelect::Row(n),
        (None, None) => return usage("say which customer: `--id ID` or `--row N`"),
    };
    let rejected = |reject: &Reject, row: u64| {
        say!("error: {reject}");
        say!(
            "`idic run` rejects row {row} of `{file}` ({}), so there is no decision to explain",
            reject.code.as_str()
        );
        Exit::Findings
    };
    let export = match idic::io::open_export(&args.customers) {
        Ok(export) => export,
        Err(e) => return usage(format!("cannot read `{file}`: {e}")),
    };
    let missing = program.rules().missing_words();
    let found = match find_row(program.fields(), missing, &export, format, &select) {
        Ok(found) => found,
        Err(FindError::Read(e)) => return usage(format!("cannot read `{file}`: {e}")),
        Err(FindError::Header(e)) => return usage(format!("`{file}`: {e}")),
        Err(FindError::Rules(e)) => {
            say!("error: {e}");
            return Exit::Findings;
        }
        Err(FindError::Rejected { row, reject }) => return rejected(&reject, row),
        Err(FindError::NotFound { rows }) => {
            return usage(match &select {
                RowSelect::Id(id) => {
                    format!("no customer with id `{id}` in `{file}` ({rows} rows)")
                }
                RowSelect::Row(n) => format!(
                    "`--row {n}` is out of range: `{file}` has {rows} row{}",
                    if rows == 1 { "" } else { "s" }
                ),
            })
        }
    };
    let key = found.values[program.key_field()].clone();
    let mut values = found.values;
    if program.inputs() > program.fields().len() || args.orders.is_some() {
        let options = Options {
            orders: args.orders.clone(),
            ..Options::default()
        };
        let population = match batch::population(&program, as_of, &export, format, &options) {
            Ok(p) => p,
            Err(e) => return usage(e),
        };
        if let Err(reject) = population.inputs(&program, found.line, &mut values) {
            return rejected(&reject, found.row);
        }
    }
    let do_not_contact = match args.suppress.as_deref().map(DoNotContact::read) {
        Some(Ok(list)) => Some(std::sync::Arc::new(list)),
        Some(Err(message)) => return usage(message),
        None => None,
    };
    // The customer's earlier contacts; a volume ranks every customer of the export, as `idic
    // run` does, with what the policy reads of everyone's.
    let list = do_not_contact.as_deref();
    let history = args
        .history
        .as_deref()
        .map(|path| open_history(path, &program, as_of, &export, args.orders.as_deref(), list));
    let history = match history.transpose() {
        Ok(history) => history,
        Err(message) => return usage(message),
    };
    let read = |keep: Keep| {
        history
            .as_ref()
            .map(|(reader, before_run)| {
                super::run::Read {
                    reader: reader.clone(),
                    until: as_of,
                    before_run: *before_run,
                    keep,
                }
                .load(&program)
            })
            .transpose()
    };
    let index = match read(Keep::Customer(idic::engine::text(&key))) {
        Ok(index) => index,
        Err(message) => return usage(message),
    };
    let volume_cut = if program.has_volume() {
        let options = Options {
            orders: args.orders.clone(),
            do_not_contact: do_not_contact.clone(),
            ..Options::default()
        };
        let reach = program.history_reach();
        let everyone = match reach.map(|reach| read(Keep::Policy(reach))).transpose() {
            Ok(index) => index.flatten(),
            Err(message) => return usage(message),
        };
        match batch::volume_cut(
            &program,
            as_of,
            &export,
            format,
            &options,
            everyone.as_ref(),
        ) {
            Ok(cut) => Some(cut),
            Err(e) => return usage(e),
        }
    } else {
        None
    };
    let explanation = match explain(
        &program,
        as_of,
        values,
        index.as_ref(),
        do_not_contact.as_deref(),
        volume_cut.as_ref(),
    ) {
        Ok(explanation) => explanation,
        Err(e) => return rejected(&e.reject(found.line, idic::engine::text(&key)), found.row),
    };
    let text = match args.format {
        ExplainFormat::Human => format!(
            "customer {}: row {} (line {}) of {}, as of {}\n\n{}",
            printable(&explanation.id),
            found.row,
            found.line,
            printable(&file),
            explanation.as_of,
            explanation.to_text()
        ),
        ExplainFormat::Json => {
            let report = Report {
                file,
                row: found.row,
                line: found.line,
                explanation: &explanation,
            };
            idic::text::json_pretty(&report)
        }
    };
    // A closed pipe (`idic explain ... | head`) is not an error worth a panic.
    super::out(&text);
    Exit::Ok
}

/// The history at `path` as `idic run` reads it for the same export, orders file and
/// do-not-contact list: its reader, and when that run was recorded, the run before which it
/// reads.
fn open_history(
    path: &Path,
    program: &idic::plan::Program,
    as_of: chrono::NaiveDate,
    export: &std::fs::File,
    orders: Option<&Path>,
    suppress: Option<&DoNotContact>,
) -> Result<(idic::history::Reader, Option<i64>), String> {
    use idic::history::{store, Store};
    let path = store::resolve(path);
    let Some(store) = Store::read(&path).map_err(|e| e.to_string())? else {
        return Err(format!("no contact history at `{}`", path.display()));
    };
    let (key, _) = super::run::run_key(program, as_of, export, orders, suppress)?;
    let previous = store.recorded(&key).map_err(|e| e.to_string())?;
    Ok((store.reader(), previous.map(|p| p.run)))
}
