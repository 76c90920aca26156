//! `idic completions SHELL` and `idic man`: what a shell and `man` need to know the commands.

use super::{Cli, Exit};
use clap::CommandFactory as _;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CompletionArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script for `args.shell`.
pub fn completions(args: CompletionArgs) -> Exit {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "idic", &mut script);
    super::out(&String::from_utf8_lossy(&script));
    Exit::Ok
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `idic.1` and a page per command (`idic-run.1`, `idic-history-show.1`...) into
    /// DIR, instead of printing `idic.1`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints the manual page of `idic`, or writes every command's page into a directory.
pub fn man(args: ManArgs) -> Exit {
    let command = Cli::command();
    let Some(dir) = args.out else {
        return match page(&command) {
            Ok(text) => {
                super::out(&text);
                Exit::Ok
            }
            Err(e) => super::run::usage(e),
        };
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return super::run::usage(format!("cannot create `{}`: {e}", dir.display()));
    }
    let mut pages = Vec::new();
    collect(&command, "idic", &mut pages);
    let mut texts = Vec::new();
    for (name, command) in &pages {
        match page(command) {
            Ok(text) => texts.push((dir.join(format!("{name}.1")), text)),
            Err(e) => return super::run::usage(e),
        }
    }
    let written = texts
        .iter()
        .map(|(path, text)| (super::named("--out", path), path.as_path(), text.as_str()))
        .collect();
    match super::write_texts(written) {
        Ok(()) => {
            say!("wrote {} manual pages into {}", texts.len(), dir.display());
            Exit::Ok
        }
        Err(e) => super::run::usage(e),
    }
}

/// `command` and its subcommands, each named as its page is: `idic`, `idic-history-show`.
fn collect(command: &clap::Command, name: &str, out: &mut Vec<(String, clap::Command)>) {
    let page = command
        .clone()
        .display_name(name.to_string())
        .bin_name(name.replace('-', " "))
        .version(env!("CARGO_PKG_VERSION"));
    out.push((name.to_string(), page));
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        collect(sub, &format!("{name}-{}", sub.get_name()), out);
    }
}

/// The roff text of `command`'s manual page.
fn page(command: &clap::Command) -> Result<String, String> {
    let mut text = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut text)
        .map_err(|e| format!("cannot write the manual page: {e}"))?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}
