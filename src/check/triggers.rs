//! Triggers: what each must declare, the consent field that governs its channel, service
//! triggers, actions that do something, and holdouts (the global one and each trigger's own).

use super::a;
use super::names::{Kind, Names};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::model::{
    Activity, Cap, CapScope, Exclusion, FieldType, Holdout, RuleSet, Spanned, Trigger,
};
use crate::text::listing;

pub fn check(rules: &RuleSet, names: &Names, out: &mut Vec<Diagnostic>) {
    for t in &rules.triggers {
        trigger(t, names, out);
    }
    if let Some(s) = &rules.settings {
        if let Some(h) = &s.holdout {
            holdout(h, out);
        }
        caps(rules, &s.caps, out);
        exclusions(rules, &s.exclusions, out);
        for (limit, word) in [
            (&s.max_triggers, "max_triggers"),
            (&s.max_per_channel, "max_per_channel"),
        ] {
            if let Some(n) = limit.as_ref().filter(|n| n.value == 0) {
                out.push(
                    Diagnostic::error(Code::BadValue, format!("`{word} 0` lets no trigger fire"))
                        .at(n.span)
                        .help(format!("give at least 1, or remove `{word}` for no limit")),
                );
            }
        }
    }
}

/// Each cap counts a channel some trigger uses (or `marketing`), allows at least one contact
/// over at least one day, and is declared once.
fn caps(rules: &RuleSet, caps: &[Cap], out: &mut Vec<Diagnostic>) {
    // Service triggers pass caps: only a marketing trigger's channel can be capped.
    let mut used: Vec<String> = Vec::new();
    for t in rules.triggers.iter().filter(|t| t.service.is_none()) {
        if let Some(word) = t.channel.as_ref().map(|c| c.kind.value.to_string()) {
            if !used.contains(&word) {
                used.push(word);
            }
        }
    }
    for (i, cap) in caps.iter().enumerate() {
        if let CapScope::Channel(channel) = &cap.scope.value {
            let word = channel.to_string();
            if !used.contains(&word) {
                let mut d = Diagnostic::error(
                    Code::UnknownName,
                    format!("no marketing trigger uses the channel `{channel}` this cap counts"),
                )
                .at(cap.scope.span);
                d = match suggest(&word, used.iter().map(String::as_str)) {
                    Some(help) => d.help(help),
                    None if used.is_empty() => {
                        d.help("the rule set has no marketing trigger: a cap has nothing to count")
                    }
                    None => d.help(format!(
                        "the marketing triggers use {}; `marketing` counts every channel",
                        listing(
                            &used.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>(),
                            "and"
                        )
                    )),
                };
                out.push(d);
            }
        }
        if cap.max.value == 0 {
            out.push(
                Diagnostic::error(Code::BadValue, "a cap of 0 lets no contact through")
                    .at(cap.max.span)
                    .help("give at least 1; to stop a channel, remove its triggers"),
            );
        }
        if cap.window.value.days() == 0 {
            out.push(
                Diagnostic::error(Code::BadValue, "a cap's window must be at least one day")
                    .at(cap.window.span)
                    .help("write a window such as `per 7d`"),
            );
        }
        let same = |c: &Cap| {
            c.scope.value == cap.scope.value && c.window.value.days() == cap.window.value.days()
        };
        if caps[..i].iter().any(same) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateProperty,
                    format!("the cap `{}` is declared twice", cap.code()),
                )
                .at(cap.span)
                .help("keep one of them"),
            );
        }
    }
}

/// Each exclusion names two different triggers of the rule set.
fn exclusions(rules: &RuleSet, exclusions: &[Exclusion], out: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = rules
        .triggers
        .iter()
        .map(|t| t.name.value.as_str())
        .collect();
    for (i, e) in exclusions.iter().enumerate() {
        let pair = |x: &Exclusion| {
            let mut names = [x.first.value.clone(), x.second.value.clone()];
            names.sort_unstable();
            names
        };
        if exclusions[..i].iter().any(|x| pair(x) == pair(e)) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateProperty,
                    format!(
                        "`{}` and `{}` are excluded twice",
                        e.first.value, e.second.value
                    ),
                )
                .at(e.span)
                .help("an exclusion works both ways: keep one of them"),
            );
        }
        for name in [&e.first, &e.second] {
            if !names.contains(&name.value.as_str()) {
                let mut d = Diagnostic::error(
                    Code::UnknownName,
                    format!("unknown trigger `{}` in an exclusion", name.value),
                )
                .at(name.span);
                if let Some(help) = suggest(&name.value, names.iter().copied()) {
                    d = d.help(help);
                }
                out.push(d);
            }
        }
        if e.first.value == e.second.value {
            out.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!("trigger `{}` is excluded with itself", e.first.value),
                )
                .at(e.second.span)
                .help("an exclusion names two triggers that never fire together"),
            );
        }
    }
}

/// A share from 0 to 100 % in steps of 0.01 (a bucket of 10,000), and a salt.
fn holdout(h: &Holdout, out: &mut Vec<Diagnostic>) {
    let percent = h.percent.value;
    let hundredths = percent * 100.0;
    if !(0.0..=100.0).contains(&percent) || (hundredths - hundredths.round()).abs() > 1e-9 {
        out.push(
            Diagnostic::error(
                Code::BadValue,
                format!("the holdout must be 0% to 100% in steps of 0.01%, found {percent}%"),
            )
            .at(h.percent.span)
            .help("customers fall in 10,000 buckets: write a share such as `5%` or `2.5%`"),
        );
    }
    if h.salt.value.is_empty() {
        out.push(
            Diagnostic::error(Code::BadValue, "the holdout's salt is empty")
                .at(h.salt.span)
                .help("give it a name such as `holdout-2026`: another salt draws another group"),
        );
    }
}

/// A service trigger: a reason, an activity that is not marketing, no consent field.
fn service(t: &Trigger, reason: &Spanned<String>, out: &mut Vec<Diagnostic>) {
    let name = &t.name.value;
    if reason.value.trim().is_empty() {
        out.push(
            Diagnostic::error(
                Code::BadValue,
                format!("service trigger `{name}` gives no reason"),
            )
            .at(reason.span)
            .help("say why it needs no marketing consent, e.g. `service \"reply to a complaint\"`"),
        );
    }
    if let Some(activity) = &t.activity {
        let offer = t.actions.iter().find_map(|a| a.offer.as_ref());
        let marketing = match (&activity.value, offer) {
            (Activity::Welcome, Some(offer)) => Some(format!(
                "a welcome with an offer (`{}`) is marketing",
                offer.value
            )),
            (a, _) if a.is_marketing() => Some(format!("`{a}` is a marketing activity")),
            _ => None,
        };
        if let Some(why) = marketing {
            out.push(
                Diagnostic::error(
                    Code::ServiceMarketing,
                    format!("service trigger `{name}` cannot serve marketing: {why}"),
                )
                .at(activity.span)
                .help(
                    "a service message needs no marketing consent, so it may only serve \
                     `dissatisfaction`, a `welcome` without an offer or a `custom:` activity; \
                     remove `service` to make it a marketing trigger",
                ),
            );
        }
    }
    if let Some(consent) = t.channel.as_ref().and_then(|c| c.consent.as_ref()) {
        out.push(
            Diagnostic::error(
                Code::ServiceConsent,
                format!(
                    "service trigger `{name}` names the consent field `{}`",
                    consent.value
                ),
            )
            .at(consent.span)
            .help(format!(
                "a service message goes out without marketing consent: remove `consent {}`, \
                 or remove `service` to make it a marketing trigger",
                consent.value
            )),
        );
    }
}

fn trigger(t: &Trigger, names: &Names, out: &mut Vec<Diagnostic>) {
    let name = &t.name.value;
    let missing = |what: &str, example: &str| {
        Diagnostic::error(
            Code::MissingProperty,
            format!("trigger `{name}` has no `{what}`"),
        )
        .at(t.name.span)
        .help(format!("add a line such as `{example}`"))
    };
    if t.activity.is_none() {
        out.push(missing("activity", "activity retention"));
    }
    if let Some(reason) = &t.service {
        service(t, reason, out);
    }
    if let Some(h) = &t.holdout {
        holdout(h, out);
        if t.service.is_some() {
            out.push(
                Diagnostic::error(
                    Code::ServiceHoldout,
                    format!("service trigger `{name}` has a holdout"),
                )
                .at(h.span)
                .help(
                    "a service message goes to everyone it concerns: holdouts measure \
                     marketing; remove the holdout, or `service`",
                ),
            );
        }
    }
    if t.condition.is_none() {
        out.push(missing("when", "when at_risk"));
    }
    if let Some(v) = t.volume.as_ref().filter(|v| v.max.value == 0) {
        out.push(
            Diagnostic::error(
                Code::BadValue,
                format!("trigger `{name}` has a volume of 0"),
            )
            .at(v.max.span)
            .help("give the most customers it may contact in a run, at least 1"),
        );
    }
    match &t.channel {
        None => out.push(missing("channel", "channel email consent email_ok")),
        // A service trigger names no consent: `service` reports one.
        Some(_) if t.service.is_some() => {}
        Some(channel) => match &channel.consent {
            None => out.push(
                Diagnostic::error(
                    Code::MissingConsent,
                    format!(
                        "trigger `{name}` uses the `{}` channel without a consent field",
                        channel.kind.value
                    ),
                )
                .at(channel.span)
                .help(format!(
                    "name the bool field that records consent: `channel {} consent <field>`",
                    channel.kind.value
                )),
            ),
            Some(consent) => channel_field(
                consent,
                FieldType::Bool,
                "consent",
                "consent must be a bool field of the customer schema",
                names,
                out,
            ),
        },
    }
    if let Some(address) = t.channel.as_ref().and_then(|c| c.address.as_ref()) {
        channel_field(
            address,
            FieldType::String,
            "address",
            "an address is a string field of the customer schema, such as `email string from \"Email\"`",
            names,
            out,
        );
    }
    if t.actions.is_empty() {
        out.push(
            Diagnostic::warning(Code::NoAction, format!("trigger `{name}` takes no action"))
                .at(t.name.span)
                .help("add `action <name> template \"...\"`"),
        );
    }
    for a in &t.actions {
        if a.template.is_none() && a.offer.is_none() {
            out.push(
                Diagnostic::error(
                    Code::EmptyAction,
                    format!(
                        "action `{}` has neither a template nor an offer",
                        a.name.value
                    ),
                )
                .at(a.name.span)
                .help("add `template \"...\"` or `offer \"...\"`"),
            );
        }
    }
}

/// A field a channel names (its `consent`, its `address`): a field of the customer schema of
/// type `ty`; `role` names it in messages.
fn channel_field(
    field: &crate::model::Ident,
    ty: FieldType,
    role: &str,
    help: &str,
    names: &Names,
    out: &mut Vec<Diagnostic>,
) {
    match names.kind(&field.value) {
        Some(Kind::Field(t)) if t == ty => {}
        Some(kind) => out.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!(
                    "the {role} `{}` is {}, not {} field",
                    field.value,
                    match kind {
                        Kind::Field(t) => a(format!("{t} field")),
                        other => a(other.word()),
                    },
                    a(ty)
                ),
            )
            .at(field.span)
            .help(help),
        ),
        None => {
            let of_type = names
                .vars
                .iter()
                .filter_map(|(n, (k, _))| (*k == Kind::Field(ty)).then_some(n.as_str()));
            let mut d = Diagnostic::error(
                Code::UnknownName,
                format!("unknown {role} field `{}`", field.value),
            )
            .at(field.span);
            if let Some(help) = suggest(&field.value, of_type) {
                d = d.help(help);
            }
            out.push(d);
        }
    }
}
