//! Semantic validation of a loaded rule set: every finding a [`Diagnostic`] with a span.
//!
//! Passes, each in its own module: [`schema`] (fields, key, formats), [`names`] (one namespace
//! for fields, metrics and segments; duplicates), [`tiers`] (catch-all, unreachable tiers),
//! [`population`] (orders, scores, tables over score cells, the model),
//! [`triggers`] (activity, channel, consent, actions), [`exprs`] (compile every expression,
//! unknown names, cycles, types, resource limits, lints) and [`test_cases`] (dates, customers
//! and expectations of the tests a rule set carries). Semantic checks run only when the
//! files parsed: a syntax error would otherwise cause a cascade of false findings.

mod exprs;
mod names;
mod population;
mod schema;
mod test_cases;
mod tiers;
mod triggers;

use crate::diagnostics::Diagnostic;
use crate::model::RuleSet;
use crate::source::Sources;
use crate::syntax::{self, Loaded};
use std::path::Path;

pub use names::{Kind, Names};

/// A checked rule set: its sources, its model and every diagnostic (loading and checking),
/// ordered by file and position.
pub struct Checked {
    pub sources: Sources,
    pub rules: RuleSet,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads and checks the rule set at `path`. `Err` is an I/O problem.
pub fn check_path(path: &Path) -> Result<Checked, Diagnostic> {
    let loaded = syntax::load(path)?;
    Ok(check(loaded, path))
}

/// Checks a loaded rule set (`origin` names it when the whole set is at fault, e.g. empty).
pub fn check(loaded: Loaded, origin: &Path) -> Checked {
    let Loaded {
        sources,
        rules,
        mut diagnostics,
    } = loaded;
    if !diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.extend(check_rules(&rules, &sources, origin));
    }
    diagnostics.sort_by_key(|d| {
        let span = d.span();
        (span.map(|s| s.file.0), span.map(|s| s.start), d.severity)
    });
    Checked {
        sources,
        rules,
        diagnostics,
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

/// All semantic checks of a rule set that parsed.
pub fn check_rules(rules: &RuleSet, sources: &Sources, origin: &Path) -> Vec<Diagnostic> {
    if rules.is_empty() {
        return vec![
            Diagnostic::error("empty-rule-set", "the rule set declares nothing")
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
    exprs::check(rules, &names, sources, &mut out);
    test_cases::check(rules, sources, &mut out);
    // What uses a segment is only known when every expression compiled.
    if out.iter().any(Diagnostic::is_error) {
        out.retain(|d| d.code != "unused-segment");
    }
    out
}
