//! `idic convert PATH --to dsl|toml`: a rule file, or a whole rule set's directory, from one
//! format into the other.

use super::Exit;
use idic::diagnostics::{render, Format};
use idic::model::RuleSet;
use idic::syntax::{self, Loaded, RuleFormat};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The rule file to convert (its format comes from its extension), or a rule set's
    /// directory (then `--out` names the directory to write it into).
    file: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    to: RuleFormat,
    /// Write here instead of standard output (a directory, for a directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    if args.file.is_dir() {
        return convert_dir(&args);
    }
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
    let text = match load(&args.file).and_then(|(_, rules)| write_as(&args.file, &rules, args.to)) {
        Ok(text) => text,
        Err(exit) => return exit,
    };
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

/// Converts every rule file of directory `args.file` into directory `--out`, each under its
/// own name with the new extension; a file already in the format is copied as it is. All are
/// written together, or none.
fn convert_dir(args: &Args) -> Exit {
    let Some(out_dir) = &args.out else {
        say!(
            "error: `{}` is a directory: name the directory to write the converted rule set \
             into with `--out DIR`",
            args.file.display()
        );
        return Exit::Usage;
    };
    if out_dir == Path::new("-") {
        say!("error: a rule set is written into a directory: name one with `--out DIR`");
        return Exit::Usage;
    }
    // A directory that holds rules already would mix them with the converted ones.
    if let Err(message) = super::refuse_rules_in(out_dir) {
        say!("error: {message}");
        return Exit::Usage;
    }
    let files = match syntax::rule_files(&args.file) {
        Ok(files) => files,
        Err(io) => {
            say!("error: {}", io.message);
            return Exit::Usage;
        }
    };
    if files.is_empty() {
        say!(
            "error: `{}` holds no `.idic` or `.toml` file",
            args.file.display()
        );
        return Exit::Usage;
    }
    let extension = match args.to {
        RuleFormat::Dsl => "idic",
        RuleFormat::Toml => "toml",
    };
    let mut guard = idic::io::Files::default();
    guard.rule_set(&args.file, &files, &[]);
    let mut converted: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut exports = TestExports::new(&args.file, out_dir);
    let mut copied = 0;
    for file in &files {
        let stem = file.file_stem().unwrap_or_default();
        let target = out_dir.join(stem).with_extension(extension);
        if let Some((earlier, _)) = converted.iter().find(|(t, _)| *t == target) {
            say!(
                "error: `{}` and another rule file would both become `{}`: rename one",
                file.display(),
                earlier.display()
            );
            return Exit::Usage;
        }
        let (original, rules) = match load(file) {
            Ok(loaded) => loaded,
            Err(exit) => return exit,
        };
        // A file already in the format keeps its layout and comments.
        let text = if RuleFormat::of(file) == Some(args.to) {
            copied += 1;
            original
        } else {
            match write_as(file, &rules, args.to) {
                Ok(text) => text,
                Err(exit) => return exit,
            }
        };
        exports.add(file, &rules);
        converted.push((target, text.into_bytes()));
    }
    // The exports as they are, bytes for bytes.
    for (export, target) in exports.copies {
        match std::fs::read(&export) {
            Ok(bytes) => {
                guard.reads(format!("`{}`", export.display()), &export);
                converted.push((target, bytes));
            }
            Err(e) => {
                say!("error: cannot read `{}`: {e}", export.display());
                return Exit::Usage;
            }
        }
    }
    for (target, _) in &converted {
        guard.writes(
            super::named("--out", target),
            target,
            idic::io::guard::Std::Out,
        );
    }
    if let Err(clash) = guard.check() {
        say!("error: {clash}");
        return Exit::Usage;
    }
    for dir in converted.iter().filter_map(|(target, _)| target.parent()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            say!("error: cannot create `{}`: {e}", dir.display());
            return Exit::Usage;
        }
    }
    let texts = converted
        .iter()
        .map(|(path, text)| (super::named("--out", path), path.as_path(), text.as_slice()))
        .collect();
    if let Err(message) = super::write_texts(texts) {
        say!("error: {message}");
        return Exit::Usage;
    }
    say!(
        "converted {} rule file{} into {}{}",
        files.len() - copied,
        if files.len() - copied == 1 { "" } else { "s" },
        out_dir.display(),
        match copied {
            0 => String::new(),
            n => format!(" ({n} already {extension}, copied as they were)"),
        }
    );
    for (target, _) in &converted[files.len()..] {
        say!("copied {}, which its tests read", target.display());
    }
    Exit::Ok
}

/// The exports a converted rule set's tests read rows from: those inside the rule set's
/// directory are copied to the same place under the new one, so that the tests read them
/// there; for those outside, a note when the new place would not find them.
struct TestExports {
    /// The rule set's directory, resolved.
    root: Option<PathBuf>,
    out_dir: PathBuf,
    /// Each export to copy and where.
    copies: Vec<(PathBuf, PathBuf)>,
    noted: Vec<String>,
}

impl TestExports {
    fn new(dir: &Path, out_dir: &Path) -> TestExports {
        TestExports {
            root: std::fs::canonicalize(dir).ok(),
            out_dir: out_dir.to_path_buf(),
            copies: Vec::new(),
            noted: Vec::new(),
        }
    }

    /// The exports the tests of `rules`, read from `file`, name.
    fn add(&mut self, file: &Path, rules: &RuleSet) {
        for test in &rules.tests {
            let Some(row) = &test.from else { continue };
            let path = &row.file.value;
            let Ok(real) = std::fs::canonicalize(dir_of(file).join(path)) else {
                continue; // `check` says that the file is missing.
            };
            let inside = self.root.as_ref().and_then(|r| real.strip_prefix(r).ok());
            if let Some(relative) = inside {
                let target = self.out_dir.join(relative);
                if !self.copies.iter().any(|(_, t)| *t == target) {
                    self.copies.push((real.clone(), target));
                }
            } else if std::fs::canonicalize(self.out_dir.join(path)).ok() != Some(real)
                && !self.noted.contains(path)
            {
                say!(
                    "note: tests read `{path}` relative to their file, outside the rule set: \
                     from `{}` that is another file or none; mend the path",
                    self.out_dir.display()
                );
                self.noted.push(path.clone());
            }
        }
    }
}

/// The directory a file's relative paths start from.
fn dir_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A rule file's text and the rules it holds; `Err` once the reason is said.
fn load(file: &Path) -> Result<(String, RuleSet), Exit> {
    let bytes = match syntax::read_rule_file(file) {
        Ok(bytes) => bytes,
        Err(io) => {
            say!("error: {}", io.message);
            return Err(Exit::Usage);
        }
    };
    let mut loaded = Loaded::default();
    let (_, fragment) = syntax::load_bytes(&mut loaded, file, bytes);
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
        return Err(Exit::Findings);
    };
    let original = loaded
        .sources
        .iter()
        .next()
        .expect("one file")
        .1
        .text
        .clone();
    Ok((original, rules))
}

/// `rules`, read from `file`, written in format `to`: refused when the written text would not
/// read back as the same rules.
fn write_as(file: &Path, rules: &RuleSet, to: RuleFormat) -> Result<String, Exit> {
    let text = match to {
        RuleFormat::Dsl => syntax::printer::print(rules),
        RuleFormat::Toml => {
            let dropped = syntax::count_comments(rules);
            if dropped > 0 {
                say!(
                    "note: TOML output keeps no comments ({dropped} dropped from {})",
                    file.display()
                );
            }
            syntax::toml::print(rules)
        }
    };
    // Refuse rather than write a file that means something else (e.g. a TOML expression with a
    // line break outside brackets has no DSL spelling).
    let (back, diags) = syntax::parse(Default::default(), &text, to);
    if !diags.is_empty() || back != *rules {
        say!(
            "error[convert]: `{}` cannot be written as {} without changing its meaning",
            file.display(),
            match to {
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
        return Err(Exit::Findings);
    }
    Ok(text)
}
