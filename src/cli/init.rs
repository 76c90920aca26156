//! `idic init [DIR] --from EXPORT`: a first rule set, guessed from an export, that checks,
//! runs and passes its test at once.

use super::Exit;
use idic::scaffold::scaffold;
use std::io::Read as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The directory to write the rule set into (created if missing; it must hold no rule
    /// file yet).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The customer export to guess from (CSV with a header row).
    #[arg(long, value_name = "EXPORT")]
    from: PathBuf,
    /// The date to decide at [default: the latest date in the export].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// The rule set's name [default: the export's file name without extension].
    #[arg(long)]
    name: Option<String>,
}

/// The most bytes of the export read: enough for the sample's rows.
const READ_AT_MOST: u64 = 8 << 20;

pub fn run(args: Args) -> Exit {
    let as_of = match args
        .as_of
        .as_deref()
        .map(|d| d.parse::<chrono::NaiveDate>())
    {
        None => None,
        Some(Ok(day)) => Some(day),
        Some(Err(_)) => return super::run::usage("`--as-of` takes a date written YYYY-MM-DD"),
    };
    if idic::io::InputFormat::of(&args.from) == Some(idic::io::InputFormat::Jsonl) {
        return super::run::usage(
            "`idic init` guesses from a CSV export with a header row; JSONL has no column order \
             to keep",
        );
    }
    if let Err(message) = super::refuse_rules_in(&args.dir) {
        return super::run::usage(message);
    }
    let text = match head(&args.from) {
        Ok(text) => text,
        Err(e) => return super::run::usage(format!("cannot read `{}`: {e}", args.from.display())),
    };
    let file_name = args
        .from
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export.csv".into());
    let name = args.name.clone().unwrap_or_else(|| {
        Path::new(&file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "customers".into())
    });
    let guessed = match scaffold(&text, &name, &file_name, as_of) {
        Ok(guessed) => guessed,
        Err(e) => {
            return super::run::usage(format!("cannot guess from `{}`: {e}", args.from.display()))
        }
    };
    let rules = args.dir.join(format!("{}.idic", file_stem(&name)));
    let tests = args.dir.join("tests.idic");
    let rows = args.dir.join("testdata").join(&file_name);
    let mut guard = idic::io::Files::default();
    guard.reads(format!("`{}`", args.from.display()), &args.from);
    let outputs = [
        (rules.clone(), guessed.rules),
        (tests.clone(), guessed.tests),
        (rows.clone(), guessed.test_rows),
    ];
    for (path, _) in &outputs {
        guard.writes(
            format!("`{}`", path.display()),
            path,
            idic::io::guard::Std::Out,
        );
    }
    if let Err(clash) = guard.check() {
        return super::run::usage(clash);
    }
    for dir in [&args.dir, &args.dir.join("testdata")] {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return super::run::usage(format!("cannot create `{}`: {e}", dir.display()));
        }
    }
    let texts = outputs
        .iter()
        .map(|(path, text)| {
            (
                format!("`{}`", path.display()),
                path.as_path(),
                text.as_str(),
            )
        })
        .collect();
    if let Err(e) = super::write_texts(texts) {
        return super::run::usage(e);
    }
    for note in &guessed.notes {
        say!("note: {note}");
    }
    // What was written checks clean and passes its test: anything else is a mistake of the
    // guess, said plainly.
    let bug = "a bug in `idic init`: mend them by hand";
    let (program, checked) =
        match super::run::load(&args.dir, &super::ReadArgs::default(), "nothing was tested") {
            Ok(loaded) => loaded,
            Err(_) => {
                say!("error: the guessed rules do not check, {bug}");
                return Exit::Findings;
            }
        };
    if !checked.diagnostics.is_empty() {
        super::err(&idic::diagnostics::render(
            &checked.diagnostics,
            &checked.sources,
            idic::diagnostics::Format::Human,
            super::color_stderr(),
        ));
        say!("error: the guessed rules do not check clean, {bug}");
        return Exit::Findings;
    }
    let report = idic::testing::run_tests(&program, None);
    if !report.passed() {
        super::err(&report.render(idic::testing::Format::Human));
        say!("error: the guessed rules fail their test, {bug}");
        return Exit::Findings;
    }
    say!(
        "wrote {}, {} and {} (the export's first rows, for the test)",
        rules.display(),
        tests.display(),
        rows.display()
    );
    let dir = args.dir.display();
    say!(
        "next: `idic check {dir}`, `idic test {dir}`, `idic run {dir} --customers {} --out decisions.csv`",
        args.from.display()
    );
    Exit::Ok
}

/// The start of the export, up to the last whole line within [`READ_AT_MOST`] bytes: more than
/// the rows guessed from need.
fn head(path: &Path) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(READ_AT_MOST)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 == READ_AT_MOST {
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A file name from a rule set's name: its letters, digits, `-` and `_`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        "rules".into()
    } else {
        stem
    }
}
