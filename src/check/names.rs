//! The names a rule set defines. Fields, metrics and segments share one namespace (they are all
//! variables in expressions); tiers, triggers and each trigger's actions have their own.

use crate::diagnostics::{Code, Diagnostic};
use crate::model::{FieldType, Ident, Origin, RuleSet, Spanned, TableBody};
use crate::source::{Sources, Span};
use std::collections::HashMap;

/// What an expression variable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Field(FieldType),
    /// Computed from the whole population before any customer is decided (order variables,
    /// scores, tables, model variables); typed like a field.
    Population(Origin, FieldType),
    Metric,
    Segment,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Field(_) => "field",
            Kind::Population(origin, _) => origin.word(),
            Kind::Metric => "metric",
            Kind::Segment => "segment",
        }
    }
}

/// Names visible to expressions, besides fields, metrics and segments.
pub const BUILTIN_NAMES: [&str; 3] = ["as_of", "tier", "stage"];

/// The variables of a rule set, first definition wins.
#[derive(Debug, Default)]
pub struct Names {
    pub vars: HashMap<String, (Kind, Span)>,
}

impl Names {
    /// Collects the variables and reports duplicate or reserved names everywhere.
    pub fn collect(rules: &RuleSet, sources: &Sources, out: &mut Vec<Diagnostic>) -> Names {
        let mut names = Names::default();
        let fields = rules.schema.iter().flat_map(|s| &s.fields);
        let population: Vec<(Ident, Kind)> = rules
            .population_variables()
            .into_iter()
            .map(|v| {
                (
                    Spanned::new(v.name, v.span),
                    Kind::Population(v.origin, v.ty),
                )
            })
            .collect();
        let vars = fields
            .map(|f| (&f.name, Kind::Field(f.ty.value)))
            .chain(population.iter().map(|(name, kind)| (name, *kind)))
            .chain(rules.metrics.iter().map(|m| (&m.name, Kind::Metric)))
            .chain(rules.segments.iter().map(|s| (&s.name, Kind::Segment)));
        for (name, kind) in vars {
            if is_reserved(&name.value) {
                out.push(
                    Diagnostic::error(
                        Code::ReservedName,
                        format!("`{}` is a reserved name", name.value),
                    )
                    .at(name.span)
                    .help("choose another name"),
                );
                continue;
            }
            match names.vars.get(&name.value) {
                Some(&(first, at)) => {
                    out.push(duplicate(name, kind.word(), first.word(), at, sources))
                }
                None => {
                    names.vars.insert(name.value.clone(), (kind, name.span));
                }
            }
        }
        if let Some(tiers) = &rules.tiers {
            unique(tiers.tiers.iter().map(|t| &t.name), "tier", sources, out);
        }
        if let Some(stages) = &rules.lifecycle {
            unique(stages.tiers.iter().map(|t| &t.name), "stage", sources, out);
        }
        unique(
            rules.triggers.iter().map(|t| &t.name),
            "trigger",
            sources,
            out,
        );
        unique(rules.tests.iter().map(|t| &t.name), "test", sources, out);
        for t in &rules.triggers {
            unique(t.actions.iter().map(|a| &a.name), "action", sources, out);
            for a in &t.actions {
                unique(a.params.iter().map(|p| &p.name), "parameter", sources, out);
            }
        }
        names
    }

    /// Every variable name, for suggestions.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    pub fn kind(&self, name: &str) -> Option<Kind> {
        self.vars.get(name).map(|&(k, _)| k)
    }
}

/// The longest name a rule set may declare, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Reports every declared name that is not one expressions and the DSL can write (ASCII letters,
/// digits and `_`, not starting with a digit: a TOML key can be any text) or that is longer
/// than [`MAX_NAME_CHARS`].
pub fn check_spelling(rules: &RuleSet, out: &mut Vec<Diagnostic>) {
    let mut declared: Vec<(&Ident, &str)> = Vec::new();
    let fields = rules.schema.iter().flat_map(|s| &s.fields);
    declared.extend(fields.map(|f| (&f.name, "field")));
    declared.extend(rules.metrics.iter().map(|m| (&m.name, "metric")));
    declared.extend(rules.segments.iter().map(|s| (&s.name, "segment")));
    declared.extend(rules.scores.iter().map(|s| (&s.name, "score")));
    for t in &rules.tables {
        declared.push((&t.name, "table"));
        if let TableBody::Rules(cells) = &t.body {
            declared.extend(cells.iter().map(|c| (&c.name, "table segment")));
        }
    }
    for (list, kind) in [(&rules.tiers, "tier"), (&rules.lifecycle, "stage")] {
        declared.extend(list.iter().flat_map(|l| &l.tiers).map(|t| (&t.name, kind)));
    }
    for t in &rules.triggers {
        declared.push((&t.name, "trigger"));
        for a in &t.actions {
            declared.push((&a.name, "action"));
            declared.extend(a.params.iter().map(|p| (&p.name, "parameter")));
        }
    }
    for (name, kind) in declared {
        let chars = name.value.chars().count();
        if chars > MAX_NAME_CHARS {
            let start: String = name.value.chars().take(20).collect();
            out.push(
                Diagnostic::error(
                    Code::NameTooLong,
                    format!(
                        "{kind} name `{start}...` is {} characters long",
                        crate::text::group(chars as u64)
                    ),
                )
                .at(name.span)
                .help(format!("names are at most {MAX_NAME_CHARS} characters")),
            );
        } else if !is_identifier(&name.value) {
            out.push(
                Diagnostic::error(
                    Code::BadName,
                    format!("`{}` is not a valid {kind} name", name.value),
                )
                .at(name.span)
                .help("a name is ASCII letters, digits and `_`, and does not start with a digit"),
            );
        }
    }
}

/// A name as the DSL and expressions write it: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn duplicate(name: &Ident, kind: &str, first: &str, at: Span, sources: &Sources) -> Diagnostic {
    let message = if kind == first {
        format!("{kind} `{}` is already defined", name.value)
    } else {
        format!("{kind} `{}` has the same name as a {first}", name.value)
    };
    Diagnostic::error(Code::DuplicateName, message)
        .at(name.span)
        .help(format!(
            "the {first} `{}` is at {}; rename one of them",
            name.value,
            sources.describe(at)
        ))
}

fn unique<'a>(
    idents: impl Iterator<Item = &'a Ident>,
    kind: &str,
    sources: &Sources,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for name in idents {
        match seen.get(name.value.as_str()) {
            Some(&at) => out.push(duplicate(name, kind, kind, at, sources)),
            None => {
                seen.insert(&name.value, name.span);
            }
        }
    }
}

/// Whether `name` cannot name a field, metric or segment: `as_of`, `tier`, `stage` or a word
/// rhai reserves.
pub fn is_reserved(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name) || is_rhai_keyword(name)
}

/// Words rhai reserves, which cannot be variable names.
fn is_rhai_keyword(name: &str) -> bool {
    const KEYWORDS: [&str; 36] = [
        "true",
        "false",
        "let",
        "const",
        "if",
        "else",
        "switch",
        "do",
        "while",
        "until",
        "loop",
        "for",
        "in",
        "continue",
        "break",
        "return",
        "throw",
        "try",
        "catch",
        "fn",
        "private",
        "import",
        "export",
        "as",
        "global",
        "this",
        "is",
        "is_def_var",
        "is_def_fn",
        "is_shared",
        "Fn",
        "call",
        "curry",
        "type_of",
        "print",
        "debug",
    ];
    KEYWORDS.contains(&name) || name == "eval"
}
