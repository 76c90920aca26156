//! Tiers and lifecycle stages (first-match lists): a final catch-all, and no entry that an
//! earlier one always takes first.
//!
//! Unreachable tiers are found by comparing conditions made of simple comparisons joined by
//! `&&` (`spent >= 500 && orders > 2`): a tier is unreachable when every customer it would
//! take already satisfies an earlier tier's condition. Other conditions are compared as text.

use crate::diagnostics::{Code, Diagnostic};
use crate::model::{RuleSet, Tier, Tiers};

pub fn check(rules: &RuleSet, out: &mut Vec<Diagnostic>) {
    if let Some(tiers) = &rules.tiers {
        list(tiers, List::Tiers, out);
    }
    if let Some(stages) = &rules.lifecycle {
        list(stages, List::Stages, out);
    }
}

/// Which first-match list is checked, and how its findings are worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Tiers,
    Stages,
}

impl List {
    /// One entry of the list, in words.
    fn entry(self) -> &'static str {
        match self {
            List::Tiers => "tier",
            List::Stages => "stage",
        }
    }

    /// The list, in words.
    fn name(self) -> &'static str {
        match self {
            List::Tiers => "the tier list",
            List::Stages => "the lifecycle",
        }
    }

    fn empty(self) -> (Code, &'static str) {
        match self {
            List::Tiers => (
                Code::EmptyTiers,
                "list tiers best first and end with one that has `otherwise`",
            ),
            List::Stages => (
                Code::EmptyLifecycle,
                "list stages in the order they are tried and end with one that has `otherwise`",
            ),
        }
    }

    fn unreachable(self) -> Code {
        match self {
            List::Tiers => Code::UnreachableTier,
            List::Stages => Code::UnreachableStage,
        }
    }

    /// A catch-all entry to end the list with, after `last`.
    fn catch_all(self, last: &str) -> String {
        match self {
            List::Tiers => format!("`standard otherwise` after `{last}`"),
            List::Stages => format!("`active activity retention otherwise` after `{last}`"),
        }
    }
}

/// One first-match list: tiers, or lifecycle stages.
fn list(tiers: &Tiers, kind: List, out: &mut Vec<Diagnostic>) {
    let (what, list_name) = (kind.entry(), kind.name());
    let Some(last) = tiers.tiers.last() else {
        let (code, help) = kind.empty();
        out.push(
            Diagnostic::error(code, format!("{list_name} is empty"))
                .at(tiers.span)
                .help(help),
        );
        return;
    };
    for (i, tier) in tiers.tiers.iter().enumerate() {
        if let Some(earlier) = tiers.tiers[..i].iter().find(|e| takes_all_of(e, tier)) {
            let why = match &earlier.condition {
                None => format!("`{}` before it takes every customer", earlier.name.value),
                Some(_) => format!(
                    "every customer it would take matches `{}` first",
                    earlier.name.value
                ),
            };
            out.push(
                Diagnostic::error(
                    kind.unreachable(),
                    format!("{what} `{}` can never be reached: {why}", tier.name.value),
                )
                .at(tier.name.span)
                .help(format!(
                    "{what}s are tried in order and the first match wins: put stricter {what}s first"
                )),
            );
        }
    }
    if tiers.tiers.iter().all(|t| t.condition.is_some()) {
        out.push(
            Diagnostic::error(
                Code::NoCatchAll,
                format!(
                    "{list_name} has no final catch-all, so some customers would get no {what}"
                ),
            )
            .at(last.span)
            .help(format!(
                "end the list with an unconditional {what}, e.g. {}",
                kind.catch_all(&last.name.value)
            )),
        );
    }
}

/// Whether every customer matching `later` also matches `earlier`.
fn takes_all_of(earlier: &Tier, later: &Tier) -> bool {
    let Some(e) = &earlier.condition else {
        return true;
    };
    let Some(l) = &later.condition else {
        return false;
    };
    if normalize(&e.source) == normalize(&l.source) {
        return true;
    }
    match (conjunction(&e.source), conjunction(&l.source)) {
        (Some(e), Some(l)) => e.iter().all(|c| l.iter().any(|d| d.implies(c))),
        _ => false,
    }
}

fn normalize(source: &str) -> String {
    source.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `name op number`.
#[derive(Debug, PartialEq)]
struct Comparison<'a> {
    name: &'a str,
    op: &'a str,
    value: f64,
}

impl Comparison<'_> {
    /// Whether `self` holding guarantees `other` holds.
    fn implies(&self, other: &Comparison<'_>) -> bool {
        if self.name != other.name {
            return false;
        }
        let (a, b) = (self.value, other.value);
        match (self.op, other.op) {
            (">=", ">=") | ("==", ">=") | (">", ">") => a >= b,
            (">", ">=") => a >= b,
            (">=", ">") | ("==", ">") => a > b,
            ("<=", "<=") | ("==", "<=") | ("<", "<") | ("<", "<=") => a <= b,
            ("<=", "<") | ("==", "<") => a < b,
            ("==", "==") => a == b,
            _ => false,
        }
    }
}

/// A condition made only of comparisons with numbers joined by `&&`, if it is one.
fn conjunction(source: &str) -> Option<Vec<Comparison<'_>>> {
    let source = source.trim();
    let source = source
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(source);
    source.split("&&").map(comparison).collect()
}

fn comparison(part: &str) -> Option<Comparison<'_>> {
    let part = part.trim();
    for op in [">=", "<=", "==", ">", "<"] {
        if let Some((name, value)) = part.split_once(op) {
            let name = name.trim();
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            let value = value.trim().replace('_', "").parse().ok()?;
            return valid.then_some(Comparison { name, op, value });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn implied(later: &str, earlier: &str) -> bool {
        let (l, e) = (conjunction(later).unwrap(), conjunction(earlier).unwrap());
        e.iter().all(|c| l.iter().any(|d| d.implies(c)))
    }

    #[test]
    fn stricter_thresholds_are_taken_by_looser_earlier_ones() {
        assert!(implied("spent >= 1000", "spent >= 500"));
        assert!(implied("spent >= 1000 && orders > 5", "spent >= 500"));
        assert!(!implied("spent >= 500", "spent >= 1000"));
        assert!(!implied("spent >= 1000", "spent >= 500 && orders > 5"));
        assert!(implied("recency < 30", "recency <= 60"));
        assert!(!implied("orders > 2", "spent > 2"));
    }

    #[test]
    fn only_simple_comparisons_are_understood() {
        assert!(conjunction("spent >= 1000 || vip").is_none());
        assert!(conjunction("days_since(x) > 3").is_none());
        assert_eq!(conjunction("(a > 1 && b <= 2)").unwrap().len(), 2);
    }
}
