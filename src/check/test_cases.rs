//! Test cases (their names are checked with the other names): a date to decide at, a customer that can be built (known fields, values of the
//! right type, every required field, an export row that exists), and expectations that name
//! segments, tiers, triggers and action parameters the rule set has.

use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::io::test_customer;
use crate::io::ReadAccess;
use crate::model::{
    AsOf, ExpectParam, Field, Ident, RuleSet, Spanned, Suppression, TestCase, TestValue,
};
use crate::source::Sources;
use std::collections::HashMap;

pub fn check(rules: &RuleSet, sources: &Sources, access: &ReadAccess, out: &mut Vec<Diagnostic>) {
    for test in &rules.tests {
        date(rules, test, out);
        expectations(rules, test, out);
        if let Some(schema) = &rules.schema {
            built(
                &schema.fields,
                rules.missing_words(),
                &rules.population_fields(),
                test,
                sources,
                access,
                out,
            );
        }
    }
}

/// A test decides at a fixed date: its own, or the rule set's when that is not `today`.
fn date(rules: &RuleSet, test: &TestCase, out: &mut Vec<Diagnostic>) {
    if test.as_of.is_some() {
        return;
    }
    let set = rules.settings.as_ref().and_then(|s| s.as_of.as_ref());
    let why = match set.map(|a| &a.value) {
        Some(AsOf::Date(_)) => return,
        Some(AsOf::Today) => "the rule set decides as of `today`, which changes every day",
        None => "the rule set gives no `as_of`",
    };
    out.push(
        Diagnostic::error(
            Code::TestNeedsDate,
            format!("test `{}` has no date to decide at: {why}", test.name.value),
        )
        .at(test.name.span)
        .help("give the test its own `as_of` date, so that it gives the same result every day"),
    );
}

/// Every name an expectation uses exists, no name is both wanted and not, and something is
/// expected at all.
fn expectations(rules: &RuleSet, test: &TestCase, out: &mut Vec<Diagnostic>) {
    let expect = &test.expect;
    if expect.is_empty() {
        out.push(
            Diagnostic::warning(
                Code::EmptyTest,
                format!(
                    "test `{}` expects nothing, so it cannot fail",
                    test.name.value
                ),
            )
            .at(test.name.span)
            .help(
                "expect segments, a tier, a stage, triggers that fire or not, or action parameters",
            ),
        );
    }
    let segments: Vec<&str> = rules
        .segments
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    let tiers: Vec<&str> = rules
        .tiers
        .iter()
        .flat_map(|t| &t.tiers)
        .map(|t| t.name.value.as_str())
        .collect();
    let triggers: Vec<&str> = rules
        .triggers
        .iter()
        .map(|t| t.name.value.as_str())
        .collect();
    let groups = [
        ("segment", &segments, &expect.segments, &expect.not_segments),
        ("trigger", &triggers, &expect.fires, &expect.not_fires),
    ];
    for (kind, known, wanted, unwanted) in groups {
        for name in wanted.iter().chain(unwanted) {
            known_name(kind, name, known, out);
        }
        for name in unwanted {
            if wanted.iter().any(|w| w.value == name.value) {
                out.push(
                    Diagnostic::error(
                        Code::ContradictoryTest,
                        format!(
                            "test `{}` expects {kind} `{}` both to match and not to",
                            test.name.value, name.value
                        ),
                    )
                    .at(name.span)
                    .help("keep one of the two expectations"),
                );
            }
        }
    }
    if let Some(tier) = &expect.tier {
        known_name("tier", tier, &tiers, out);
    }
    if let Some(stage) = &expect.stage {
        let stages: Vec<&str> = rules
            .lifecycle
            .iter()
            .flat_map(|t| &t.tiers)
            .map(|t| t.name.value.as_str())
            .collect();
        known_name("stage", stage, &stages, out);
    }
    for (trigger, reason) in &expect.suppressed {
        known_name("trigger", trigger, &triggers, out);
        if let Some(t) = rules
            .triggers
            .iter()
            .position(|t| t.name.value == trigger.value)
        {
            if let Err(d) = reason_of(rules, t, reason) {
                out.push(d);
            }
        }
    }
    history(rules, test, &triggers, out);
    for p in &expect.params {
        if let Err((message, help)) = param_path(rules, &p.path.value) {
            let mut d = Diagnostic::error(Code::UnknownName, message).at(p.path.span);
            if let Some(help) = help {
                d = d.help(help);
            }
            out.push(d);
        }
    }
}

/// A test's earlier contacts name the rule set's triggers and fall within the days a contact
/// history holds.
fn history(rules: &RuleSet, test: &TestCase, triggers: &[&str], out: &mut Vec<Diagnostic>) {
    let as_of = test.as_of.as_ref().map(|d| d.value).or_else(|| {
        match rules
            .settings
            .as_ref()
            .and_then(|s| s.as_of.as_ref())?
            .value
        {
            AsOf::Date(d) => Some(d),
            AsOf::Today => None,
        }
    });
    for past in &test.history {
        known_name("trigger", &past.trigger, triggers, out);
        let days = u64::from(past.ago.value.days());
        let when = as_of.and_then(|d| d.checked_sub_days(chrono::Days::new(days)));
        if as_of.is_some() && when.and_then(crate::history::index::day_of).is_none() {
            out.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!(
                        "`{} ago` is before 2000, earlier than a contact history goes",
                        past.ago.value
                    ),
                )
                .at(past.ago.span)
                .help("give a contact within the days a history holds (2000 to 2179)"),
            );
        }
    }
}

/// The reason `code` names for trigger `t` ([`RuleSet::reasons`]) in a test, which decides a
/// customer alone (so not `volume`, which ranks the whole export), or an error that lists them.
fn reason_of(rules: &RuleSet, t: usize, code: &Spanned<String>) -> Result<Suppression, Diagnostic> {
    let name = &rules.triggers[t].name.value;
    let reasons = rules.reasons(t);
    let reasons: Vec<&(Suppression, String)> = reasons
        .iter()
        .filter(|(why, _)| *why != Suppression::Volume)
        .collect();
    if code.value == "volume" {
        return Err(Diagnostic::error(
            Code::UnknownName,
            "a test cannot expect `volume`: it decides one customer alone, and a volume ranks \
             the whole export",
        )
        .at(code.span)
        .help("`idic run` and `idic explain` apply volumes; a test sees the trigger fire"));
    }
    if let Some((why, _)) = reasons.iter().find(|(_, c)| *c == code.value) {
        return Ok(*why);
    }
    let codes: Vec<String> = reasons.iter().map(|(_, c)| format!("`{c}`")).collect();
    let list = crate::text::listing(&codes, "or");
    let help = match suggest(&code.value, reasons.iter().map(|(_, c)| c.as_str())) {
        Some(did_you_mean) => format!("{did_you_mean} Its rules can suppress it as {list}"),
        None => format!("its rules can suppress it as {list}"),
    };
    Err(Diagnostic::error(
        Code::UnknownName,
        format!("trigger `{name}` is never suppressed as `{}`", code.value),
    )
    .at(code.span)
    .help(help))
}

fn known_name(kind: &str, name: &Ident, known: &[&str], out: &mut Vec<Diagnostic>) {
    if known.contains(&name.value.as_str()) {
        return;
    }
    let mut d = Diagnostic::error(
        Code::UnknownName,
        format!("unknown {kind} `{}`", name.value),
    )
    .at(name.span);
    if let Some(help) = suggest(&name.value, known.iter().copied()) {
        d = d.help(help);
    }
    out.push(d);
}

/// Checks `action.param` or `trigger.action.param`: exactly one action of that name (in that
/// trigger) has the parameter. `Err` holds the message and help.
fn param_path(rules: &RuleSet, path: &str) -> Result<(), (String, Option<String>)> {
    let Some((trigger, action, param)) = ExpectParam::parts(path) else {
        return Err((
            format!("`{path}` is not a parameter path"),
            Some("write `action.parameter` or `trigger.action.parameter`".into()),
        ));
    };
    if let Some(t) = trigger {
        if !rules.triggers.iter().any(|x| x.name.value == t) {
            let names = rules.triggers.iter().map(|x| x.name.value.as_str());
            return Err((format!("unknown trigger `{t}`"), suggest(t, names)));
        }
    }
    let actions: Vec<(&str, &crate::model::Action)> = rules
        .triggers
        .iter()
        .filter(|x| trigger.is_none_or(|t| x.name.value == t))
        .flat_map(|x| x.actions.iter().map(move |a| (x.name.value.as_str(), a)))
        .collect();
    let named: Vec<&(&str, &crate::model::Action)> = actions
        .iter()
        .filter(|(_, a)| a.name.value == action)
        .collect();
    match named.as_slice() {
        [] => Err((
            format!("unknown action `{action}`"),
            suggest(action, actions.iter().map(|(_, a)| a.name.value.as_str())),
        )),
        [(_, a)] => {
            if a.params.iter().any(|p| p.name.value == param) {
                Ok(())
            } else {
                Err((
                    format!("action `{action}` has no parameter `{param}`"),
                    suggest(param, a.params.iter().map(|p| p.name.value.as_str())),
                ))
            }
        }
        several => {
            let owners: Vec<String> = several.iter().map(|(t, _)| format!("`{t}`")).collect();
            Err((
                format!(
                    "action `{action}` is in several triggers ({})",
                    owners.join(", ")
                ),
                Some(format!(
                    "name the trigger: `{}.{action}.{param}`",
                    several[0].0
                )),
            ))
        }
    }
}

/// The test's customer can be built as `idic test` builds it, and gives every required field.
fn built(
    fields: &[Field],
    missing: &[Spanned<String>],
    population: &[Field],
    test: &TestCase,
    sources: &Sources,
    access: &ReadAccess,
    out: &mut Vec<Diagnostic>,
) {
    let base = sources
        .path(test.span.file)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut given: HashMap<&str, &crate::model::TestField> = HashMap::new();
    for v in &test.values {
        if let Some(earlier) = given.insert(&v.name.value, v) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("the customer gives `{}` twice", v.name.value),
                )
                .at(v.name.span)
                .help(format!(
                    "the first value is at {}; keep one",
                    sources.describe(earlier.name.span)
                )),
            );
        }
    }
    // Every value is checked here, not only the first wrong one `test_customer::values` stops at.
    let mut value_errors = false;
    for v in &test.values {
        let known = || fields.iter().chain(population);
        let Some(field) = known().find(|f| f.name.value == v.name.value) else {
            value_errors = true;
            let mut d = Diagnostic::error(
                Code::UnknownName,
                format!("the customer schema has no field `{}`", v.name.value),
            )
            .at(v.name.span);
            if let Some(help) = suggest(&v.name.value, known().map(|f| f.name.value.as_str())) {
                d = d.help(help);
            }
            out.push(d);
            continue;
        };
        if let Err(message) = test_customer::typed(field, &v.value.value) {
            value_errors = true;
            out.push(Diagnostic::error(Code::TypeMismatch, message).at(v.value.span));
        }
        let required = !field.optional && field.default.is_none();
        if required && v.value.value == TestValue::Missing {
            value_errors = true;
            out.push(
                Diagnostic::error(
                    Code::MissingValue,
                    format!(
                        "field `{}` is required, so it cannot be `missing`",
                        field.name.value
                    ),
                )
                .at(v.value.span)
                .help("`idic run` rejects a row without it; give a value"),
            );
        }
    }
    if test.from.is_none() {
        let absent: Vec<String> = fields
            .iter()
            .filter(|f| !f.optional && f.default.is_none())
            .filter(|f| !given.contains_key(f.name.value.as_str()))
            .map(|f| format!("`{}`", f.name.value))
            .collect();
        if !absent.is_empty() {
            out.push(
                Diagnostic::error(
                    Code::MissingValue,
                    format!(
                        "test `{}` gives no value for {}, which the schema requires",
                        test.name.value,
                        absent.join(", ")
                    ),
                )
                .at(test.name.span)
                .help("add them to the test's customer, or start from a row of an export (`from`)"),
            );
        }
    } else if !value_errors {
        if let Err(e) = test_customer::values(fields, missing, population, test, &base, access) {
            let mut d = Diagnostic::error(Code::BadTestRow, e.message).at(e.span);
            if let Some(help) = e.help {
                d = d.help(help);
            }
            out.push(d);
        }
    }
}
