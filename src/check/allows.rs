//! `allow unused-segment on vip_watch`: warnings silenced on purpose, one declaration each.
//!
//! An allow names a warning `check` gives and a declaration; the warnings of that name whose
//! place lies inside the declaration are dropped, so neither `check` nor `run`, `test` or
//! `watch` repeat them. An allow that names no warning, no declaration, or silences nothing
//! is reported, so allows do not outlive their reason.

use crate::diagnostics::{closest, suggest, Diagnostic, Severity};
use crate::model::{Allow, RuleSet};

/// Every warning `check` gives: the codes an allow may name.
pub const WARNINGS: &[&str] = &[
    "always-fails",
    "ambiguous-format",
    "constant-condition",
    "duplicate-word",
    "empty-test",
    "lookback-unused",
    "missing-fallback",
    "no-action",
    "overlapping-rules",
    "ties-unused",
    "uncovered-cells",
    "unused-segment",
];

/// The warning about an allow that silences nothing, which no allow silences.
const UNUSED_ALLOW: &str = "unused-allow";

/// Reports the allows of `rules` that cannot apply and drops the warnings the others
/// silence from `diagnostics`.
pub fn apply(rules: &RuleSet, diagnostics: &mut Vec<Diagnostic>) {
    let allows = rules.settings.iter().flat_map(|s| &s.allows);
    let mut found = Vec::new();
    for allow in allows {
        match target(rules, allow) {
            Ok(span) => found.push((allow, span)),
            Err(d) => diagnostics.push(d),
        }
    }
    let mut used = vec![false; found.len()];
    diagnostics.retain(|d| {
        if d.severity != Severity::Warning {
            return true;
        }
        let Some(at) = d.span() else { return true };
        let silenced = found.iter().position(|(allow, span)| {
            allow.warning.value == d.code
                && span.file == at.file
                && span.start <= at.start
                && at.end <= span.end
        });
        if let Some(i) = silenced {
            used[i] = true;
        }
        silenced.is_none()
    });
    for ((allow, _), used) in found.iter().zip(used) {
        if !used {
            diagnostics.push(
                Diagnostic::warning(
                    UNUSED_ALLOW,
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

/// The span of the declaration `allow` silences a warning on, or why it cannot.
fn target(rules: &RuleSet, allow: &Allow) -> Result<crate::source::Span, Diagnostic> {
    let code = allow.warning.value.as_str();
    if !WARNINGS.contains(&code) {
        let mut d = Diagnostic::error(
            "unknown-warning",
            format!("`{code}` is not a warning `check` gives"),
        )
        .at(allow.warning.span);
        d = d.help(match closest(code, WARNINGS.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "only warnings can be allowed: {}; errors must be mended",
                WARNINGS.join(", ")
            ),
        });
        return Err(d);
    }
    rules.declaration(&allow.on.value).ok_or_else(|| {
        let mut d = Diagnostic::error(
            "unknown-name",
            format!("`{}` is not declared in the rule set", allow.on.value),
        )
        .at(allow.on.span);
        if let Some(help) = suggest(&allow.on.value, declared_names(rules)) {
            d = d.help(help);
        }
        d
    })
}

/// The names an allow may be on.
fn declared_names(rules: &RuleSet) -> impl Iterator<Item = &str> {
    let fields = rules.schema.iter().flat_map(|s| &s.fields).map(|f| &f.name);
    let tiers = rules
        .tiers
        .iter()
        .chain(&rules.lifecycle)
        .flat_map(|t| &t.tiers);
    fields
        .chain(rules.metrics.iter().map(|m| &m.name))
        .chain(rules.segments.iter().map(|s| &s.name))
        .chain(rules.scores.iter().map(|s| &s.name))
        .chain(rules.tables.iter().map(|t| &t.name))
        .chain(tiers.map(|t| &t.name))
        .chain(rules.triggers.iter().map(|t| &t.name))
        .map(|n| n.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::{UNUSED_ALLOW, WARNINGS};

    /// Every warning the source gives is one an allow may name.
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
                        if let Some(code) = code.strip_prefix('"') {
                            codes.push(code[..code.find('"').unwrap()].to_string());
                        } else {
                            assert!(code.starts_with("UNUSED_ALLOW"), "{}", path.display());
                        }
                    }
                }
            }
        }
        assert!(codes.len() >= WARNINGS.len(), "{codes:?}");
        for code in codes {
            assert!(
                WARNINGS.contains(&code.as_str()),
                "`{code}` is not in WARNINGS"
            );
        }
        assert!(!WARNINGS.contains(&UNUSED_ALLOW));
    }
}
