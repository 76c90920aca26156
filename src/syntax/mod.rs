//! Front doors: the DSL ([`dsl`]) and TOML ([`toml`]) both read into one [`RuleSet`]; the
//! printers write it back ([`printer`] for the DSL, [`toml::print`] for TOML).

pub mod dsl;
pub mod printer;
pub mod toml;

use crate::diagnostics::{Code, Diagnostic};
use crate::model::RuleSet;
use crate::source::{FileId, SourceFile, Sources, Span};
use std::path::{Path, PathBuf};

/// The two rule-file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleFormat {
    /// The idic DSL (`.idic`).
    Dsl,
    /// TOML (`.toml`).
    Toml,
}

impl RuleFormat {
    /// The format a path's extension names, if any.
    pub fn of(path: &Path) -> Option<RuleFormat> {
        match path.extension()?.to_str()? {
            "idic" => Some(RuleFormat::Dsl),
            "toml" => Some(RuleFormat::Toml),
            _ => None,
        }
    }
}

/// A loaded rule set: its files, the merged model and what loading found wrong.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Sources,
    pub rules: RuleSet,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The largest rule file read (16 MiB): a rule set is text written by people.
pub const MAX_RULE_FILE: u64 = 16 << 20;

/// The rule files of a path: the file itself, or a directory's `.idic` and `.toml` files in
/// name order. A directory's rule files are its own: one that is a link to a file outside it
/// is refused (a link in a pull request must not make `check` print another file's lines).
/// `Err` is an I/O problem (missing path, unreadable directory, such a link).
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let root = std::fs::canonicalize(path).map_err(|e| io_error(path, &e))?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| io_error(path, &e))? {
        let p = entry.map_err(|e| io_error(path, &e))?.path();
        if !is_rule_file(&p) || !p.is_file() {
            continue;
        }
        let real = std::fs::canonicalize(&p).map_err(|e| io_error(&p, &e))?;
        if !real.starts_with(&root) {
            return Err(Diagnostic::error(
                Code::Io,
                format!(
                    "`{}` is a link to a file outside the rule set's directory: a rule set is \
                     read from its own files only",
                    p.display()
                ),
            ));
        }
        files.push(p);
    }
    files.sort();
    Ok(files)
}

/// A rule file's bytes: a regular file of at most [`MAX_RULE_FILE`] bytes (not `/dev/zero`).
pub fn read_rule_file(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    use std::io::Read;
    // Opening a named pipe would wait for a writer: look before opening.
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    let file = match meta.is_file() {
        true => std::fs::File::open(path).map_err(|e| io_error(path, &e))?,
        false => {
            return Err(Diagnostic::error(
                Code::Io,
                format!("`{}` is not a regular file", path.display()),
            ))
        }
    };
    let meta = file.metadata().map_err(|e| io_error(path, &e))?;
    if !meta.is_file() {
        return Err(Diagnostic::error(
            Code::Io,
            format!("`{}` is not a regular file", path.display()),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_RULE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > MAX_RULE_FILE {
        return Err(Diagnostic::error(
            Code::Io,
            format!(
                "`{}` holds more than {} MiB, the most a rule file may: is it a rule file?",
                path.display(),
                MAX_RULE_FILE >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// Whether a directory's entry at `path` is a rule file by its name: `.idic` or `.toml`, but
/// not an editor's lock or autosave file (`.#x.idic`, `#x.idic`); swap, backup and temporary
/// files (`.x.idic.swp`, `x.idic~`, `x.idic.tmp`, `4913`) have other extensions anyway.
pub fn is_rule_file(path: &Path) -> bool {
    RuleFormat::of(path).is_some()
        && !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('#') || n.starts_with(".#"))
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(Code::Io, format!("cannot read `{}`: {e}", path.display()))
}

/// Loads a rule file or directory. `Err` is an I/O problem (exit code 2); anything wrong with
/// the files' contents is in [`Loaded::diagnostics`].
pub fn load(path: &Path) -> Result<Loaded, Diagnostic> {
    let files = rule_files(path)?;
    let mut loaded = Loaded::default();
    if files.is_empty() {
        loaded.diagnostics.push(
            Diagnostic::error(
                Code::EmptyRuleSet,
                "the directory holds no `.idic` or `.toml` files",
            )
            .in_file(path),
        );
        return Ok(loaded);
    }
    for file in files {
        let bytes = read_rule_file(&file)?;
        if let (_, Some(fragment)) = load_bytes(&mut loaded, &file, bytes) {
            merge(&mut loaded, fragment);
        }
    }
    Ok(loaded)
}

/// Reads one file's bytes into `loaded.sources` and parses it; `None` when it is not text.
pub fn load_bytes(loaded: &mut Loaded, path: &Path, bytes: Vec<u8>) -> (FileId, Option<RuleSet>) {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let id = loaded.sources.add(SourceFile::new(path, text));
            // The invalid bytes read as U+FFFD in the stored text: point at it.
            let at = Span::new(id, valid, valid + char::REPLACEMENT_CHARACTER.len_utf8());
            loaded.diagnostics.push(
                Diagnostic::error(Code::NotUtf8, "the file is not valid UTF-8 text")
                    .at(at)
                    .help("save the file as UTF-8"),
            );
            return (id, None);
        }
    };
    let id = loaded.sources.add(SourceFile::new(path, text));
    let file = loaded.sources.get(id);
    let format = RuleFormat::of(path).unwrap_or(RuleFormat::Dsl);
    let (rules, diags) = parse(id, &file.text, format);
    loaded.diagnostics.extend(diags);
    (id, Some(rules))
}

/// Parses one file's text in the given format.
pub fn parse(file: FileId, text: &str, format: RuleFormat) -> (RuleSet, Vec<Diagnostic>) {
    match format {
        RuleFormat::Dsl => dsl::parse(file, text),
        RuleFormat::Toml => toml::parse(file, text),
    }
}

/// Adds one file's rules to the rule set; a part that may be declared once (settings,
/// customer schema, tiers, lifecycle, orders, model) declared in two files is an error.
fn merge(loaded: &mut Loaded, fragment: RuleSet) {
    let Loaded {
        sources,
        rules,
        diagnostics,
    } = loaded;
    let mut once = |what: &str, first: Span, again: Span| {
        diagnostics.push(
            Diagnostic::error(
                Code::DuplicateBlock,
                format!("{what} is declared a second time"),
            )
            .at(again)
            .help(format!(
                "declare {what} once per rule set; the first is at {}",
                sources.describe(first)
            )),
        )
    };
    if let Some(s) = fragment.settings {
        match &rules.settings {
            Some(first) => once("`ruleset`", first.span, s.span),
            None => rules.settings = Some(s),
        }
    }
    if let Some(s) = fragment.schema {
        match &rules.schema {
            Some(first) => once("`customer`", first.span, s.span),
            None => rules.schema = Some(s),
        }
    }
    if let Some(t) = fragment.tiers {
        match &rules.tiers {
            Some(first) => once("`tiers`", first.span, t.span),
            None => rules.tiers = Some(t),
        }
    }
    if let Some(l) = fragment.lifecycle {
        match &rules.lifecycle {
            Some(first) => once("`lifecycle`", first.span, l.span),
            None => rules.lifecycle = Some(l),
        }
    }
    if let Some(log) = fragment.contacts {
        match &rules.contacts {
            Some(first) => once("`contacts`", first.span, log.span),
            None => rules.contacts = Some(log),
        }
    }
    if let Some(o) = fragment.orders {
        match &rules.orders {
            Some(first) => once("`orders`", first.span, o.span),
            None => rules.orders = Some(o),
        }
    }
    if let Some(m) = fragment.model {
        match &rules.model {
            Some(first) => once("`model`", first.span, m.span),
            None => rules.model = Some(m),
        }
    }
    rules.metrics.extend(fragment.metrics);
    rules.segments.extend(fragment.segments);
    rules.scores.extend(fragment.scores);
    rules.tables.extend(fragment.tables);
    rules.triggers.extend(fragment.triggers);
    rules.tests.extend(fragment.tests);
}

/// How many comments a rule set carries (what a conversion to TOML drops).
pub fn count_comments(rules: &RuleSet) -> usize {
    use crate::model::{Comments, InnerComments};
    /// Blank lines kept between leading comments are empty entries, not comments.
    fn c(c: &Comments) -> usize {
        c.leading.iter().filter(|l| !l.is_empty()).count() + usize::from(c.trailing.is_some())
    }
    fn inner(i: &InnerComments) -> usize {
        i.0.values().map(c).sum()
    }
    let mut n = c(&rules.end_comments);
    if let Some(s) = &rules.settings {
        n += c(&s.comments) + inner(&s.inner);
        n += s.caps.iter().map(|cap| c(&cap.comments)).sum::<usize>();
        n += s.exclusions.iter().map(|e| c(&e.comments)).sum::<usize>();
    }
    if let Some(s) = &rules.schema {
        n += c(&s.comments) + inner(&s.inner);
        n += s.fields.iter().map(|f| c(&f.comments)).sum::<usize>();
    }
    n += rules.metrics.iter().map(|m| c(&m.comments)).sum::<usize>();
    n += rules.segments.iter().map(|s| c(&s.comments)).sum::<usize>();
    for t in rules.tiers.iter().chain(&rules.lifecycle) {
        n += c(&t.comments) + inner(&t.inner);
        n += t.tiers.iter().map(|t| c(&t.comments)).sum::<usize>();
    }
    if let Some(log) = &rules.contacts {
        n += c(&log.comments) + inner(&log.inner);
        n += log.columns.iter().map(|l| c(&l.comments)).sum::<usize>();
    }
    if let Some(o) = &rules.orders {
        n += c(&o.comments) + inner(&o.inner);
        n += o.columns.iter().map(|l| c(&l.comments)).sum::<usize>();
        n += o.totals.iter().map(|l| c(&l.comments)).sum::<usize>();
    }
    n += rules.scores.iter().map(|s| c(&s.comments)).sum::<usize>();
    for t in &rules.tables {
        n += c(&t.comments) + inner(&t.inner);
        if let crate::model::TableBody::Rules(rules) = &t.body {
            n += rules.iter().map(|r| c(&r.comments)).sum::<usize>();
        }
    }
    if let Some(m) = &rules.model {
        n += c(&m.comments) + inner(&m.inner);
    }
    for t in &rules.triggers {
        n += c(&t.comments) + inner(&t.inner);
        for a in &t.actions {
            n += c(&a.comments) + inner(&a.inner);
            n += a.params.iter().map(|p| c(&p.comments)).sum::<usize>();
        }
    }
    n += rules
        .tests
        .iter()
        .map(|t| c(&t.comments) + inner(&t.inner))
        .sum::<usize>();
    n
}
