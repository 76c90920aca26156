//! `idic check RULES`: load, check and compile a rule set; print its diagnostics.

use super::Exit;
use idic::diagnostics::{render, summary_line, Format};
use idic::text::printable;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A rule file (`.idic` or `.toml`) or a directory of them.
    rules: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Fail (exit 1) on warnings too, as CI should: silence one on purpose with `allow
    /// <warning> on <name>` in the `ruleset` block.
    #[arg(long)]
    deny_warnings: bool,
    #[command(flatten)]
    reads: super::ReadArgs,
}

pub fn run(args: Args) -> Exit {
    let access = match args.reads.access(&args.rules) {
        Ok(access) => access,
        Err(message) => return super::run::usage(message),
    };
    let checked = match idic::check::check_path_with(&args.rules, access) {
        Ok(checked) => checked,
        Err(io) => {
            let text = render(
                &[io],
                &Default::default(),
                args.format,
                super::color_stderr(),
            );
            super::err(&text);
            return Exit::Usage;
        }
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let diags = &checked.diagnostics;
    let mut out = render(diags, &checked.sources, args.format, color);
    if args.format == Format::Human {
        out.push_str(&format!(
            "{}: {}\n",
            printable(&args.rules.display().to_string()),
            summary_line(diags)
        ));
    }
    // A closed pipe (`idic check ... | head`) is not an error worth a panic.
    super::out(&out);
    if args.deny_warnings && diags.iter().any(|d| !d.is_error()) {
        say!("error: warnings fail the check (`--deny-warnings`)");
    }
    if diags.iter().any(|d| d.is_error() || args.deny_warnings) {
        Exit::Findings
    } else {
        Exit::Ok
    }
}
