//! `idic convert FILE --to dsl|toml`: one rule file from one format into the other.

use super::Exit;
use idic::diagnostics::{render, Format};
use idic::syntax::{self, Loaded, RuleFormat};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The rule file to convert (its format comes from its extension).
    file: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    to: RuleFormat,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    if let Some(out) = &args.out {
        let mut files = idic::io::Files::default();
        files.reads(format!("`{}`", args.file.display()), &args.file);
        let out_stream = idic::io::guard::Std::Out;
        if let Err(clash) = files
            .writes(super::named("--out", out), out, out_stream)
            .check()
        {
            say!("error: {clash}");
            return Exit::Usage;
        }
    }
    let bytes = match syntax::read_rule_file(&args.file) {
        Ok(bytes) => bytes,
        Err(io) => {
            say!("error: {}", io.message);
            return Exit::Usage;
        }
    };
    let mut loaded = Loaded::default();
    let (_, fragment) = syntax::load_bytes(&mut loaded, &args.file, bytes);
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    let Some(rules) = fragment.filter(|_| errors.is_empty()) else {
        super::err(&render(
            &errors,
            &loaded.sources,
            Format::Human,
            super::color_stderr(),
        ));
        return Exit::Findings;
    };
    let text = match args.to {
        RuleFormat::Dsl => syntax::printer::print(&rules),
        RuleFormat::Toml => {
            let dropped = syntax::count_comments(&rules);
            if dropped > 0 {
                say!("note: TOML output keeps no comments ({dropped} dropped)");
            }
            syntax::toml::print(&rules)
        }
    };
    // Refuse rather than write a file that means something else (e.g. a TOML expression with a
    // line break outside brackets has no DSL spelling).
    let (back, diags) = syntax::parse(Default::default(), &text, args.to);
    if !diags.is_empty() || back != rules {
        say!(
            "error[convert]: `{}` cannot be written as {} without changing its meaning",
            args.file.display(),
            match args.to {
                RuleFormat::Dsl => "DSL",
                RuleFormat::Toml => "TOML",
            }
        );
        if let Some(d) = diags.first() {
            say!("  the converted text would read: {}", d.message);
        }
        say!(
            "  = help: an expression in the DSL must be balanced and end its line outside brackets"
        );
        return Exit::Findings;
    }
    match &args.out {
        Some(path) => {
            if let Err(message) =
                super::write_texts(vec![(super::named("--out", path), path, text)])
            {
                say!("error: {message}");
                return Exit::Usage;
            }
        }
        None => super::out(&text),
    }
    Exit::Ok
}
