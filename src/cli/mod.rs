//! Subcommands, one file each. Exit codes: 0 success (warnings allowed), 1 findings (errors in
//! rule files, files needing formatting), 2 usage or I/O errors.

/// A line for people on standard error ([`err`]): the control characters of the message
/// (paths, names, data) are escaped, except the line breaks between its lines
/// ([`idic::text::printable_lines`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::err(&format!("{}\n", idic::text::printable_lines(&format!($($arg)*))))
    };
}

/// [`say!`] on standard output ([`out`]).
macro_rules! show {
    ($($arg:tt)*) => {
        $crate::cli::out(&format!("{}\n", idic::text::printable_lines(&format!($($arg)*))))
    };
}

mod analyze;
mod check;
mod convert;
mod explain;
mod fmt;
mod history;
mod init;
mod measure;
mod order_flags;
mod run;
mod shell;
mod test;
mod watch;

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// The first failure to write standard output, other than its reader going away.
static OUT_FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Writes `text` to standard output. A reader that went away (`idic test | head`) ends the
/// output quietly; any other failure (`> /dev/full`) is kept for [`out_failure`]: never a
/// panic, as `print!` would.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failed = OUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| format!("cannot write to standard output: {e}"));
        }
    }
}

/// Writes `text` to standard error; a failure there has nowhere to be told, and is no panic.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Why standard output could not be written, if it could not.
pub fn out_failure() -> Option<String> {
    OUT_FAILED.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// A declarative rules engine for customer management.
#[derive(Parser)]
#[command(name = "idic", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a rule set from a customer export: fields with guessed types, tiers, a trigger
    /// and a test.
    Init(init::Args),
    /// Load a rule set, compile its expressions and report what is wrong.
    Check(check::Args),
    /// Print DSL rule files in the canonical layout (in place unless --check or --stdout).
    Fmt(fmt::Args),
    /// Convert a rule file between the DSL and TOML.
    Convert(convert::Args),
    /// Decide for every customer of an export: segments, tier, triggers and actions.
    Run(run::Args),
    /// Run the test cases a rule set carries.
    Test(test::Args),
    /// A portfolio view of an orders file: BTYD and RFM per customer, fitted BG/NBD and
    /// Gamma-Gamma, value per RFM segment (no rule set needed).
    Analyze(analyze::Args),
    /// Explain the decision for one customer: values, conditions part by part, triggers.
    Explain(explain::Args),
    /// Reload a rule set whenever it is saved, showing how its counts on a sample change.
    Watch(watch::Args),
    /// What a contact history holds: one customer's contacts, counts, or all of it as CSV or
    /// JSONL.
    History(history::Args),
    /// What each trigger and the global holdout caused, measured against their holdouts from
    /// the contact history and an orders or events file; `plan`: the customers a holdout needs.
    Measure(measure::Args),
    /// Print a completion script for a shell (bash, zsh, fish, powershell, elvish).
    Completions(shell::CompletionArgs),
    /// Print the manual page, or write every command's page into a directory.
    Man(shell::ManArgs),
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Findings = 1,
    Usage = 2,
}

impl Cli {
    pub fn run(self) -> Exit {
        match self.command {
            Command::Init(args) => init::run(args),
            Command::Check(args) => check::run(args),
            Command::Fmt(args) => fmt::run(args),
            Command::Convert(args) => convert::run(args),
            Command::Run(args) => run::run(args),
            Command::Test(args) => test::run(args),
            Command::Analyze(args) => analyze::run(args),
            Command::Explain(args) => explain::run(args),
            Command::Watch(args) => watch::run(args),
            Command::History(args) => history::run(args),
            Command::Measure(args) => measure::run(args),
            Command::Completions(args) => shell::completions(args),
            Command::Man(args) => shell::man(args),
        }
    }
}

/// What a rule set's tests may read besides the rule set's own directory.
#[derive(clap::Args, Default)]
pub struct ReadArgs {
    /// Let the rule set's tests read export rows under DIR too (repeatable); otherwise they
    /// read only inside the rule set's directory.
    #[arg(long = "allow-read", value_name = "DIR")]
    allow_read: Vec<std::path::PathBuf>,
}

impl ReadArgs {
    /// What the tests of the rule set at `rules` may read; an error for a `--allow-read` that
    /// is not a directory.
    fn access(&self, rules: &std::path::Path) -> Result<idic::io::ReadAccess, String> {
        idic::io::ReadAccess::rule_set(rules).allowing(&self.allow_read)
    }
}

/// Writes each text to its path (`-`: standard output), named as the user named it: files that
/// appear only when complete, all put in place together once every one is written
/// ([`idic::io::commit_all`]). The error says what was written and what was not.
fn write_texts<T: AsRef<[u8]>>(texts: Vec<(String, &std::path::Path, T)>) -> Result<(), String> {
    use std::io::Write;
    let mut outputs = Vec::with_capacity(texts.len());
    for (name, path, text) in texts {
        let mut out = idic::io::Output::to(path, idic::io::Output::stdout)
            .map_err(|e| format!("cannot write {name}: {e}"))?;
        out.write_all(text.as_ref())
            .map_err(|e| format!("cannot write {name}: {e}"))?;
        outputs.push((name, out));
    }
    idic::io::commit_all(outputs)
}

/// How the user named a file on the command line: `` `--out x.csv` ``.
/// Refuses `dir` as where new rules go when it holds rule files already, which the new ones
/// would mix with.
fn refuse_rules_in(dir: &std::path::Path) -> Result<(), String> {
    match idic::syntax::rule_files(dir) {
        Ok(files) if !files.is_empty() => Err(format!(
            "`{}` holds rule files already ({}): name an empty or new directory",
            dir.display(),
            files[0].display()
        )),
        _ => Ok(()),
    }
}

fn named(flag: &str, path: &std::path::Path) -> String {
    format!("`{flag} {}`", path.display())
}

/// How a command that writes CSV for people writes its cells: the same flag on every one.
#[derive(clap::Args)]
struct CsvArgs {
    /// Write CSV cells exactly as they are, for programs to read [default: spreadsheet-safe: a
    /// cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, and
    /// control characters show as `\u001b`].
    #[arg(long)]
    raw_csv: bool,
}

impl CsvArgs {
    fn cells(&self) -> idic::io::CsvCells {
        if self.raw_csv {
            idic::io::CsvCells::Raw
        } else {
            idic::io::CsvCells::Safe
        }
    }
}

/// Whether to color human output on stderr.
fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
