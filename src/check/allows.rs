//! `allow unused-segment on vip_watch`: warnings silenced on purpose, one declaration each.
//!
//! An allow names a warning `check` gives and a declaration; the warnings of that name whose
//! place lies inside a declaration of that name (a stage may share its name with a segment)
//! are dropped, so neither `check` nor `run`, `test` or `watch` repeat them. An allow that
//! names no warning, no declaration, or silences nothing is reported, so allows do not
//! outlive their reason.

use crate::diagnostics::{closest, suggest, Code, Diagnostic, Severity};
use crate::model::{Allow, RuleSet};
use crate::source::Span;

/// The warnings an allow may name: those about a declaration an allow can name.
pub const WARNINGS: &[Code] = &[
    Code::AlwaysFails,
    Code::AmbiguousFormat,
    Code::ConstantCondition,
    Code::DuplicateWord,
    Code::MissingFallback,
    Code::NoAction,
    Code::OverlappingRules,
    Code::TiesUnused,
    Code::UncoveredCells,
    Code::UnusedSegment,
];

/// Warnings about what an allow cannot name, with that place.
const ABOUT_OTHER_PLACES: [(Code, &str); 2] = [
    (Code::EmptyTest, "a test"),
    (Code::LookbackUnused, "the `orders` block"),
];

/// Reports the allows of `rules` that cannot apply and drops the warnings the others
/// silence from `diagnostics`.
pub fn apply(rules: &RuleSet, diagnostics: &mut Vec<Diagnostic>) {
    let allows: Vec<&Allow> = rules.settings.iter().flat_map(|s| &s.allows).collect();
    // Each allow's warning and the declarations it covers; `None` for one that cannot apply.
    let targets: Vec<Option<(Code, Vec<Span>)>> = allows
        .iter()
        .map(|allow| target(rules, allow).map_err(|d| diagnostics.push(d)).ok())
        .collect();
    let mut used = vec![false; allows.len()];
    diagnostics.retain(|d| {
        let Some(at) = d.span().filter(|_| d.severity == Severity::Warning) else {
            return true;
        };
        let silenced = (0..allows.len()).find(|&i| {
            targets[i].as_ref().is_some_and(|(code, spans)| {
                *code == d.code
                    && spans
                        .iter()
                        .any(|s| s.file == at.file && s.start <= at.start && at.end <= s.end)
            })
        });
        if let Some(i) = silenced {
            used[i] = true;
        }
        silenced.is_none()
    });
    for (i, allow) in allows.iter().enumerate() {
        if !used[i] && targets[i].is_some() {
            diagnostics.push(
                Diagnostic::warning(
                    Code::UnusedAllow,
                    format!(
                        "`{}` gives no `{}` warning to allow",
                        allow.on.value, allow.warning.value
                    ),
                )
                .at(allow.span)
                .help("remove the `allow`: what it silenced is gone"),
            );
        }
    }
}

/// The warning `allow` silences and the spans of the declarations it silences it on (never
/// none), or why it cannot.
fn target(rules: &RuleSet, allow: &Allow) -> Result<(Code, Vec<Span>), Diagnostic> {
    let code = allow.warning.value.as_str();
    let named = Code::named(code);
    if let Some((_, place)) = ABOUT_OTHER_PLACES.iter().find(|(c, _)| Some(*c) == named) {
        return Err(Diagnostic::error(
            Code::UnknownWarning,
            format!("`{code}` is about {place}, which an allow cannot name"),
        )
        .at(allow.warning.span)
        .help("mend what it says instead"));
    }
    let Some(warning) = named.filter(|c| WARNINGS.contains(c)) else {
        let names = || WARNINGS.iter().map(|w| w.as_str());
        let help = match closest(code, names()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "only warnings can be allowed: {}; errors must be mended",
                names().collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(Diagnostic::error(
            Code::UnknownWarning,
            format!("`{code}` is not a warning `check` gives"),
        )
        .at(allow.warning.span)
        .help(help));
    };
    let spans = rules.declarations(&allow.on.value);
    if !spans.is_empty() {
        return Ok((warning, spans));
    }
    let mut d = Diagnostic::error(
        Code::UnknownName,
        format!("`{}` is not declared in the rule set", allow.on.value),
    )
    .at(allow.on.span);
    if let Some(help) = suggest(
        &allow.on.value,
        rules.declared().map(|(n, _)| n.value.as_str()),
    ) {
        d = d.help(help);
    }
    Err(d)
}

#[cfg(test)]
mod tests {
    use super::{ABOUT_OTHER_PLACES, WARNINGS};
    use crate::diagnostics::Code;

    /// Every warning the source gives is one an allow may name, or one it cannot name for a
    /// reason it gives.
    #[test]
    fn every_warning_code_is_listed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root];
        let mut codes = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // The code, not its tests (this one names the call in a string).
                    let code = text.split("#[cfg(test)]").next().unwrap();
                    for part in code.split("Diagnostic::warning(").skip(1) {
                        let code = part.trim_start();
                        let variant = code
                            .strip_prefix("Code::")
                            .unwrap_or_else(|| panic!("{}", path.display()));
                        let end = variant.find(|c: char| !c.is_alphanumeric()).unwrap();
                        let named = Code::ALL
                            .iter()
                            .find(|c| format!("{c:?}") == variant[..end]);
                        codes.push(*named.unwrap());
                    }
                }
            }
        }
        assert!(codes.len() >= WARNINGS.len(), "{codes:?}");
        // The warning about an allow that silences nothing, which no allow silences.
        assert!(codes.contains(&Code::UnusedAllow));
        for code in codes.into_iter().filter(|c| *c != Code::UnusedAllow) {
            let elsewhere = ABOUT_OTHER_PLACES.iter().any(|(c, _)| *c == code);
            assert!(
                WARNINGS.contains(&code) || elsewhere,
                "`{code}` is in neither list"
            );
        }
        assert!(!WARNINGS.contains(&Code::UnusedAllow));
    }
}
