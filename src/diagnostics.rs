//! One diagnostic type for every finding (syntax, model, check), and its three renderings:
//! `human` (source snippet with a caret), `plain` (one stable line, for snapshots and grep)
//! and `json` (for CI tools). The text renderings show control characters from rule files
//! escaped ([`printable`]); JSON escapes them its own way.

use crate::source::{Sources, Span};
use crate::text::printable;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

/// How serious a finding is: errors fail `check` (exit 1), warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Declares [`Code`]: each variant with its stable kebab-case name.
macro_rules! codes {
    ($($variant:ident => $name:literal,)*) => {
        /// What a finding is about. Logic matches on the variant; the output shows its stable
        /// kebab-case name ([`Code::as_str`]), which tests, tooling and `allow` use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Code {
            /// Every code, in name order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case name, e.g. `unknown-name`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }
        }
    };
}

codes! {
    AlwaysFails => "always-fails",
    AmbiguousFormat => "ambiguous-format",
    BadFormat => "bad-format",
    BadName => "bad-name",
    BadOption => "bad-option",
    BadPlaceholder => "bad-placeholder",
    BadRange => "bad-range",
    BadScore => "bad-score",
    BadScoreSource => "bad-score-source",
    BadTable => "bad-table",
    BadTestRow => "bad-test-row",
    BadValue => "bad-value",
    BudgetExceeded => "budget-exceeded",
    ConstantCondition => "constant-condition",
    ContradictoryTest => "contradictory-test",
    Cycle => "cycle",
    DuplicateBlock => "duplicate-block",
    DuplicateKey => "duplicate-key",
    DuplicateName => "duplicate-name",
    DuplicateProperty => "duplicate-property",
    DuplicateWord => "duplicate-word",
    EmptyAction => "empty-action",
    EmptyLifecycle => "empty-lifecycle",
    EmptyRuleSet => "empty-rule-set",
    EmptyTest => "empty-test",
    EmptyTiers => "empty-tiers",
    ExprRuntime => "expr-runtime",
    ExprSyntax => "expr-syntax",
    ExprType => "expr-type",
    IncompleteOrders => "incomplete-orders",
    Io => "io",
    LookbackUnused => "lookback-unused",
    MisplacedFormat => "misplaced-format",
    MissingConsent => "missing-consent",
    MissingFallback => "missing-fallback",
    MissingKey => "missing-key",
    MissingProperty => "missing-property",
    MissingValue => "missing-value",
    ModelWithoutAges => "model-without-ages",
    ModelWithoutOrders => "model-without-orders",
    NameTooLong => "name-too-long",
    NoAction => "no-action",
    NoCatchAll => "no-catch-all",
    NoKey => "no-key",
    NoSchema => "no-schema",
    NotBoolean => "not-boolean",
    NotUtf8 => "not-utf8",
    OptionalKey => "optional-key",
    OverlappingRules => "overlapping-rules",
    ReservedName => "reserved-name",
    ServiceConsent => "service-consent",
    ServiceHoldout => "service-holdout",
    ServiceMarketing => "service-marketing",
    ShadowedRule => "shadowed-rule",
    Syntax => "syntax",
    TestNeedsDate => "test-needs-date",
    TiesUnused => "ties-unused",
    TomlSyntax => "toml-syntax",
    TypeMismatch => "type-mismatch",
    UncoveredCells => "uncovered-cells",
    UnknownFunction => "unknown-function",
    UnknownKey => "unknown-key",
    UnknownName => "unknown-name",
    UnknownPreset => "unknown-preset",
    UnknownWarning => "unknown-warning",
    UnreachableStage => "unreachable-stage",
    UnreachableTier => "unreachable-tier",
    UnusedAllow => "unused-allow",
    UnusedSegment => "unused-segment",
    WrongType => "wrong-type",
}

impl Code {
    /// The code named `name`, if any.
    pub fn named(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a diagnostic points: a span in a loaded file, or a whole file that could not be read
/// as text (a missing file, non-UTF-8 bytes before it was loaded).
#[derive(Debug, Clone)]
pub enum Location {
    Span(Span),
    File(PathBuf),
}

/// A finding about a rule set. Messages follow one style: lowercase, one sentence, user input
/// in backticks; advice goes in `help`.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// What it is about (shown as a stable kebab-case code such as `unknown-name`).
    pub code: Code,
    pub message: String,
    pub location: Option<Location>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.location = Some(Location::Span(span));
        self
    }

    pub fn in_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.location = Some(Location::File(path.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The span, if the diagnostic points into a loaded file.
    pub fn span(&self) -> Option<Span> {
        match self.location {
            Some(Location::Span(s)) => Some(s),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// "did you mean `x`?" for the known name closest to `wanted`, if any is close enough.
pub fn suggest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(wanted, known).map(|k| format!("did you mean `{k}`?"))
}

/// The known name closest to `wanted` by edit distance, if any is close enough (a third of its
/// length). A swap of two neighbouring letters counts as one edit (`nsp` is one from `nps`).
pub fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (strsim::osa_distance(wanted, k), k))
        .filter(|&(d, _)| d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// Output format of `check` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Source snippet with a caret under the span and a help line.
    #[default]
    Human,
    /// One stable line per diagnostic: `severity[code] file:line:col-line:col: message`.
    Plain,
    /// A JSON array with one object per diagnostic.
    Json,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: Code,
    message: &'a str,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    help: Option<&'a str>,
}

/// Renders diagnostics in the chosen format (diagnostics are printed in the order given).
pub fn render(diags: &[Diagnostic], sources: &Sources, format: Format, color: bool) -> String {
    match format {
        Format::Plain => diags.iter().map(|d| render_plain(d, sources)).collect(),
        Format::Json => {
            let objects: Vec<_> = diags.iter().map(|d| json_object(d, sources)).collect();
            crate::text::json_pretty(&objects)
        }
        Format::Human => diags
            .iter()
            .map(|d| render_human(d, sources, color))
            .collect(),
    }
}

/// A count line such as `2 errors, 1 warning`.
pub fn summary_line(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A path as text renderings show it.
fn shown_path(path: &std::path::Path) -> String {
    printable(&path.display().to_string()).into_owned()
}

fn location_text(d: &Diagnostic, sources: &Sources) -> Option<String> {
    match d.location.as_ref()? {
        Location::File(path) => Some(shown_path(path)),
        Location::Span(span) => {
            let file = sources.get(span.file);
            let (a, b) = (file.line_col(span.start), file.line_col(span.end));
            Some(format!(
                "{}:{}:{}-{}:{}",
                shown_path(&file.path),
                a.line,
                a.column,
                b.line,
                b.column
            ))
        }
    }
}

fn render_plain(d: &Diagnostic, sources: &Sources) -> String {
    let mut out = format!("{}[{}]", severity_word(d.severity), d.code);
    if let Some(loc) = location_text(d, sources) {
        let _ = write!(out, " {loc}");
    }
    let _ = writeln!(out, ": {}", printable(&d.message));
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  help: {}", printable(help));
    }
    out
}

fn json_object<'a>(d: &'a Diagnostic, sources: &Sources) -> JsonDiagnostic<'a> {
    let mut obj = JsonDiagnostic {
        severity: d.severity,
        code: d.code,
        message: &d.message,
        file: None,
        line: None,
        column: None,
        end_line: None,
        end_column: None,
        help: d.help.as_deref(),
    };
    match &d.location {
        Some(Location::File(path)) => obj.file = Some(path.display().to_string()),
        Some(Location::Span(span)) => {
            let file = sources.get(span.file);
            let (a, b) = (file.line_col(span.start), file.line_col(span.end));
            obj.file = Some(file.path.display().to_string());
            (obj.line, obj.column) = (Some(a.line), Some(a.column));
            (obj.end_line, obj.end_column) = (Some(b.line), Some(b.column));
        }
        None => {}
    }
    obj
}

/// Rust-style: a header, the source line with carets under the span, then help.
fn render_human(d: &Diagnostic, sources: &Sources, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let tone = match d.severity {
        Severity::Error => "1;31",
        Severity::Warning => "1;33",
    };
    let header = format!("{}[{}]", severity_word(d.severity), d.code);
    let message = printable(&d.message);
    let mut out = format!("{}: {}\n", paint(tone, &header), paint("1", &message));
    match &d.location {
        Some(Location::Span(span)) => {
            let file = sources.get(span.file);
            let (a, b) = (file.line_col(span.start), file.line_col(span.end));
            let line: Vec<char> = file
                .text
                .lines()
                .nth(a.line - 1)
                .unwrap_or("")
                .chars()
                .collect();
            // A tab shows as one space, other control characters escaped; the carets go under
            // what is shown.
            let shown = |chars: &[char]| -> String {
                let text: String = chars
                    .iter()
                    .map(|&c| if c == '\t' { ' ' } else { c })
                    .collect();
                printable(&text).into_owned()
            };
            let start = (a.column - 1).min(line.len());
            let end = if b.line == a.line {
                (b.column - 1).clamp(start, line.len())
            } else {
                line.len()
            };
            let gutter = a.line.to_string().len();
            let pad = " ".repeat(gutter);
            let bar = paint("1;34", "|");
            let _ = writeln!(
                out,
                "{pad}{} {}:{}:{}",
                paint("1;34", "-->"),
                shown_path(&file.path),
                a.line,
                a.column
            );
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(
                out,
                "{} {bar} {}",
                paint("1;34", &a.line.to_string()),
                shown(&line)
            );
            let carets = "^".repeat(shown(&line[start..end]).chars().count().max(1));
            let indent = " ".repeat(shown(&line[..start]).chars().count());
            let _ = writeln!(out, "{pad} {bar} {indent}{}", paint(tone, &carets));
        }
        Some(Location::File(path)) => {
            let _ = writeln!(out, " {} {}", paint("1;34", "-->"), shown_path(path));
        }
        None => {}
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  {} {}", paint("1;36", "= help:"), printable(help));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kebab_case_names_in_order_each_found_by_its_name() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "in name order, each once");
        for code in Code::ALL {
            let name = code.as_str();
            assert!(name.split('-').all(|w| !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())));
            assert_eq!(Code::named(name), Some(*code));
            assert_eq!(code.to_string(), name);
        }
        assert_eq!(Code::named("no-such-code"), None);
    }

    #[test]
    fn suggests_the_closest_known_name() {
        let known = ["orders", "spent", "order_count"];
        assert_eq!(
            suggest("ordrs", known).as_deref(),
            Some("did you mean `orders`?")
        );
        assert_eq!(suggest("zzzzzz", known), None);
    }

    #[test]
    fn a_swap_of_two_letters_is_one_edit() {
        assert_eq!(
            suggest("nsp", ["nps", "spent"]).as_deref(),
            Some("did you mean `nps`?")
        );
        assert_eq!(
            suggest("teir", ["tier", "tiers"]).as_deref(),
            Some("did you mean `tier`?")
        );
    }
}
