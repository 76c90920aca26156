//! Semantic validation of a loaded rule set: every finding a [`Diagnostic`] with a span.
//!
//! Passes, each in its own module: [`schema`] (fields, key, formats), [`names`] (one namespace
//! for fields, metrics and segments; duplicates), [`tiers`] (catch-all, unreachable tiers),
//! [`population`] (orders, scores, tables over score cells, the model),
//! [`triggers`] (activity, channel, consent, actions, caps, exclusions), [`contacts`] (a
//! contact log's columns), [`exprs`] (compile every expression,
//! unknown names, cycles, types, resource limits, lints) and [`test_cases`] (dates, customers
//! and expectations of the tests a rule set carries). Semantic checks run only when the
//! files parsed: a syntax error would otherwise cause a cascade of false findings.

mod allows;
mod contacts;
mod exprs;
mod names;
mod population;
mod schema;
mod test_cases;
mod tiers;
mod triggers;

use crate::diagnostics::{Code, Diagnostic};
use crate::expr;
use crate::io::ReadAccess;
use crate::model::RuleSet;
use crate::source::Sources;
use crate::syntax::{self, Loaded};
use std::path::{Path, PathBuf};

pub use names::{is_reserved, Kind, Names};

/// A checked rule set: its sources, its model and every diagnostic (loading and checking),
/// ordered by file and position.
pub struct Checked {
    pub sources: Sources,
    pub rules: RuleSet,
    pub diagnostics: Vec<Diagnostic>,
    /// What the rule set's tests may read.
    pub access: ReadAccess,
    /// Every expression that compiled, compiled once for the plan to take.
    pub asts: expr::Asts,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The rule files read.
    pub fn rule_files(&self) -> Vec<PathBuf> {
        self.sources.iter().map(|(_, f)| f.path.clone()).collect()
    }

    /// The exports the rule set's tests start from.
    pub fn test_files(&self) -> Vec<PathBuf> {
        let tests = self.rules.tests.iter();
        tests
            .filter_map(|test| {
                let base = self.sources.path(test.span.file).parent();
                let row = test.from.as_ref()?;
                Some(base.unwrap_or(Path::new("")).join(&row.file.value))
            })
            .collect()
    }
}

/// Loads and checks the rule set at `path`, whose tests may read inside its directory tree.
/// `Err` is an I/O problem.
pub fn check_path(path: &Path) -> Result<Checked, Diagnostic> {
    check_path_with(path, ReadAccess::rule_set(path))
}

/// [`check_path`], the tests reading what `access` allows.
pub fn check_path_with(path: &Path, access: ReadAccess) -> Result<Checked, Diagnostic> {
    let loaded = syntax::load(path)?;
    Ok(check_with(loaded, path, access))
}

/// Checks a loaded rule set (`origin` names it when the whole set is at fault, e.g. empty; its
/// tests may read inside its directory tree).
pub fn check(loaded: Loaded, origin: &Path) -> Checked {
    check_with(loaded, origin, ReadAccess::rule_set(origin))
}

/// [`check`], the tests reading what `access` allows.
pub fn check_with(loaded: Loaded, origin: &Path, access: ReadAccess) -> Checked {
    let Loaded {
        sources,
        rules,
        mut diagnostics,
    } = loaded;
    let mut asts = expr::Asts::default();
    if !diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.extend(check_rules(&rules, &sources, origin, &access, &mut asts));
        allows::apply(&rules, &mut diagnostics);
    }
    diagnostics.sort_by_key(|d| {
        let span = d.span();
        (span.map(|s| s.file.0), span.map(|s| s.start), d.severity)
    });
    Checked {
        sources,
        rules,
        diagnostics,
        access,
        asts,
    }
}

/// `a date`, `an int`: a word with its indefinite article.
fn a(word: impl std::fmt::Display) -> String {
    let word = word.to_string();
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {word}")
}

/// All semantic checks of a rule set that parsed; the expressions that compile go into `asts`.
fn check_rules(
    rules: &RuleSet,
    sources: &Sources,
    origin: &Path,
    access: &ReadAccess,
    asts: &mut expr::Asts,
) -> Vec<Diagnostic> {
    if rules.is_empty() {
        return vec![
            Diagnostic::error(Code::EmptyRuleSet, "the rule set declares nothing")
                .in_file(origin)
                .help("start with a `customer` schema, then segments, tiers and triggers"),
        ];
    }
    let mut out = Vec::new();
    schema::check(rules, &mut out);
    names::check_spelling(rules, &mut out);
    let names = Names::collect(rules, sources, &mut out);
    tiers::check(rules, &mut out);
    population::check(rules, &names, &mut out);
    triggers::check(rules, &names, &mut out);
    if let Some(log) = &rules.contacts {
        contacts::check(log, &mut out);
    }
    exprs::check(rules, &names, sources, &mut out, asts);
    test_cases::check(rules, sources, access, &mut out);
    // What uses a segment is only known when every expression compiled.
    if out.iter().any(Diagnostic::is_error) {
        out.retain(|d| d.code != Code::UnusedSegment);
    }
    out
}
