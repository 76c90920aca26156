//! `idic fmt RULES [--check]`: canonical layout for DSL files.

use super::Exit;
use idic::diagnostics::{render, Format};
use idic::syntax::{self, Loaded, RuleFormat};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// DSL rule files or directories holding them (TOML files are left alone, with a note).
    #[arg(required = true)]
    rules: Vec<PathBuf>,
    /// Change nothing; list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    check: bool,
    /// Print the formatted text instead of rewriting the files.
    #[arg(long, conflicts_with = "check")]
    stdout: bool,
}

pub fn run(args: Args) -> Exit {
    let mut exit = Exit::Ok;
    for path in &args.rules {
        let files = match syntax::rule_files(path) {
            Ok(files) => files,
            Err(io) => {
                super::err(&render(&[io], &Default::default(), Format::Human, false));
                return Exit::Usage;
            }
        };
        for file in files {
            if RuleFormat::of(&file) == Some(RuleFormat::Toml) {
                say!(
                    "note: left {} as it is: `idic fmt` lays out DSL files only (a TOML \
                     formatter such as `taplo fmt` lays out TOML)",
                    file.display()
                );
                continue;
            }
            let bytes = match syntax::read_rule_file(&file) {
                Ok(bytes) => bytes,
                Err(io) => {
                    say!("error: {}", io.message);
                    return Exit::Usage;
                }
            };
            let mut loaded = Loaded::default();
            let (_, fragment) = syntax::load_bytes(&mut loaded, &file, bytes);
            let errors: Vec<_> = loaded
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect();
            let Some(fragment) = fragment.filter(|_| errors.is_empty()) else {
                let color = super::color_stderr();
                super::err(&render(&errors, &loaded.sources, Format::Human, color));
                say!("{}: not formatted: fix the errors first", file.display());
                exit = Exit::Findings;
                continue;
            };
            let formatted = syntax::printer::print(&fragment);
            let original = &loaded.sources.iter().next().expect("one file").1.text;
            if args.stdout {
                super::out(&formatted);
            } else if formatted != *original {
                if args.check {
                    show!("{}", file.display());
                    exit = Exit::Findings;
                } else if let Err(e) =
                    super::write_texts(vec![(format!("`{}`", file.display()), &file, formatted)])
                {
                    say!("error: {e}");
                    return Exit::Usage;
                } else {
                    say!("formatted {}", file.display());
                }
            }
        }
    }
    exit
}
