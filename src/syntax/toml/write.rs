//! Writes a rule set as TOML that reads back into an equal rule set.

use crate::model::{
    Action, CellTable, ContactLog, Expr, Field, Holdout, Ident, Literal, Model, Orders, ParamValue,
    RowSelect, RuleSet, Score, Settings, Spanned, TableBody, TestCase, TestValue, Tier, Ties,
    Trigger, BGNBD_PARAMS, GAMMA_GAMMA_PARAMS,
};
use std::fmt::Write as _;

/// Keys longer than this are not padded to, so one long name does not push every `=` right.
const MAX_ALIGN: usize = 24;

/// Prints a rule set (see [`super::print`]).
pub(super) fn print(rules: &RuleSet) -> String {
    let mut sections: Vec<String> = Vec::new();
    // An empty tier list has no `[[tiers]]` table to stand for it; a root key must come before
    // the first table header. The same for an empty lifecycle.
    if rules.tiers.as_ref().is_some_and(|t| t.tiers.is_empty()) {
        sections.push("tiers = []\n".to_string());
    }
    if rules.lifecycle.as_ref().is_some_and(|t| t.tiers.is_empty()) {
        sections.push("lifecycle = []\n".to_string());
    }
    if let Some(settings) = &rules.settings {
        sections.push(settings_section(settings));
    }
    if let Some(schema) = &rules.schema {
        let rows: Vec<_> = schema
            .fields
            .iter()
            .map(|f| (key(&f.name.value), field(f)))
            .collect();
        sections.push(format!("[customer]\n{}", aligned(&rows)));
    }
    if let Some(o) = &rules.orders {
        sections.push(orders(o));
    }
    if let Some(log) = &rules.contacts {
        sections.push(contacts(log));
    }
    if !rules.metrics.is_empty() {
        let rows: Vec<_> = rules
            .metrics
            .iter()
            .map(|m| (key(&m.name.value), text(&m.expr.source)))
            .collect();
        sections.push(format!("[metrics]\n{}", aligned(&rows)));
    }
    if !rules.segments.is_empty() {
        let rows: Vec<_> = rules
            .segments
            .iter()
            .map(|s| (key(&s.name.value), text(&s.condition.source)))
            .collect();
        sections.push(format!("[segments]\n{}", aligned(&rows)));
    }
    sections.extend(rules.scores.iter().map(score));
    for t in &rules.tables {
        table(t, &mut sections);
    }
    if let Some(m) = &rules.model {
        sections.push(model(m));
    }
    if let Some(tiers) = &rules.tiers {
        sections.extend(tiers.tiers.iter().map(|t| tier("tiers", t)));
    }
    if let Some(stages) = &rules.lifecycle {
        sections.extend(stages.tiers.iter().map(|t| tier("lifecycle", t)));
    }
    for t in &rules.triggers {
        trigger(t, &mut sections);
    }
    for t in &rules.tests {
        test(t, &mut sections);
    }
    sections.join("\n")
}

/// A `[[tests]]` table with its `customer` and `expect` tables.
fn test(t: &TestCase, sections: &mut Vec<String>) {
    let mut out = format!("[[tests]]\nname = {}\n", string(&t.name.value));
    if let Some(d) = &t.as_of {
        let _ = writeln!(
            out,
            "as_of = {}",
            string(&d.value.format("%Y-%m-%d").to_string())
        );
    }
    if let Some(row) = &t.from {
        let which = match &row.select.value {
            RowSelect::Id(id) => format!("id = {}", string(id)),
            RowSelect::Row(n) => format!("row = {n}"),
        };
        let _ = writeln!(
            out,
            "from = {{ file = {}, {which} }}",
            string(&row.file.value)
        );
    }
    if !t.history.is_empty() {
        let items: Vec<String> = t
            .history
            .iter()
            .map(|p| {
                let arm = p.arm.as_ref().map_or_else(String::new, |a| {
                    format!(", arm = {}", string(a.value.word()))
                });
                format!(
                    "{{ trigger = {}, ago = {}{arm} }}",
                    string(&p.trigger.value),
                    string(&p.ago.value.to_string())
                )
            })
            .collect();
        let _ = writeln!(out, "history = [{}]", items.join(", "));
    }
    sections.push(out);
    if !t.values.is_empty() {
        let rows: Vec<_> = t
            .values
            .iter()
            .map(|f| (key(&f.name.value), test_value(&f.value.value)))
            .collect();
        sections.push(format!("[tests.customer]\n{}", aligned(&rows)));
    }
    let e = &t.expect;
    let names = |names: &[Ident]| {
        let items: Vec<String> = names.iter().map(|n| string(&n.value)).collect();
        format!("[{}]", items.join(", "))
    };
    let mut rows = Vec::new();
    for (k, list) in [("segments", &e.segments), ("not_segments", &e.not_segments)] {
        if !list.is_empty() {
            rows.push((k.to_string(), names(list)));
        }
    }
    if let Some(tier) = &e.tier {
        rows.push(("tier".to_string(), string(&tier.value)));
    }
    if let Some(stage) = &e.stage {
        rows.push(("stage".to_string(), string(&stage.value)));
    }
    for (k, list) in [("fires", &e.fires), ("not_fires", &e.not_fires)] {
        if !list.is_empty() {
            rows.push((k.to_string(), names(list)));
        }
    }
    if !rows.is_empty() {
        sections.push(format!("[tests.expect]\n{}", aligned(&rows)));
    }
    if !e.params.is_empty() {
        let rows: Vec<_> = e
            .params
            .iter()
            .map(|p| (key(&p.path.value), test_value(&p.value.value)))
            .collect();
        sections.push(format!("[tests.expect.params]\n{}", aligned(&rows)));
    }
    if !e.suppressed.is_empty() {
        let rows: Vec<_> = e
            .suppressed
            .iter()
            .map(|(t, why)| (key(&t.value), string(&why.value)))
            .collect();
        sections.push(format!("[tests.expect.suppressed]\n{}", aligned(&rows)));
    }
}

/// A test value: `missing` is `{ missing = true }`.
fn test_value(v: &TestValue) -> String {
    match v {
        TestValue::Str(s) => string(s),
        TestValue::Int(i) => i.to_string(),
        TestValue::Decimal(d) => float(*d),
        TestValue::Bool(b) => b.to_string(),
        TestValue::List(items) => {
            let items: Vec<String> = items.iter().map(|i| string(i)).collect();
            format!("[{}]", items.join(", "))
        }
        TestValue::Missing => "{ missing = true }".to_string(),
    }
}

fn settings_section(s: &Settings) -> String {
    let mut out = format!("[ruleset]\nname = {}\n", string(&s.name.value));
    if let Some(as_of) = &s.as_of {
        let _ = writeln!(out, "as_of = {}", string(&as_of.value.to_string()));
    }
    if let Some(max) = &s.max_triggers {
        let _ = writeln!(out, "max_triggers = {}", max.value);
    }
    if let Some(max) = &s.max_per_channel {
        let _ = writeln!(out, "max_per_channel = {}", max.value);
    }
    if let Some(h) = &s.holdout {
        let _ = writeln!(out, "holdout = {}", holdout(h));
    }
    if !s.missing.is_empty() {
        let _ = writeln!(out, "missing = {}", strings(&s.missing));
    }
    if !s.caps.is_empty() {
        let caps: Vec<String> = s
            .caps
            .iter()
            .map(|c| {
                format!(
                    "  {{ channel = {}, max = {}, per = {} }},\n",
                    string(&c.scope.value.to_string()),
                    c.max.value,
                    string(&c.window.value.to_string())
                )
            })
            .collect();
        let _ = writeln!(out, "caps = [\n{}]", caps.concat());
    }
    if !s.exclusions.is_empty() {
        let pairs: Vec<String> = s
            .exclusions
            .iter()
            .map(|e| {
                format!(
                    "  {{ trigger = {}, with = {} }},\n",
                    string(&e.first.value),
                    string(&e.second.value)
                )
            })
            .collect();
        let _ = writeln!(out, "exclusions = [\n{}]", pairs.concat());
    }
    if !s.allows.is_empty() {
        let allows: Vec<String> = s
            .allows
            .iter()
            .map(|a| {
                format!(
                    "  {{ warning = {}, on = {} }},\n",
                    string(&a.warning.value),
                    string(&a.on.value)
                )
            })
            .collect();
        let _ = writeln!(out, "allow = [\n{}]", allows.concat());
    }
    out
}

/// A field's inline table.
fn field(f: &Field) -> String {
    let mut parts = vec![
        format!("type = {}", string(f.ty.value.word())),
        format!("from = {}", string(&f.column.value)),
    ];
    if f.key {
        parts.push("key = true".to_string());
    }
    if f.optional {
        parts.push("optional = true".to_string());
    }
    if let Some(default) = &f.default {
        parts.push(format!("default = {}", literal(&default.value)));
    }
    let fmt = &f.format;
    if !fmt.dates.is_empty() {
        parts.push(format!("format = {}", strings(&fmt.dates)));
    }
    if !fmt.missing.is_empty() {
        parts.push(format!("missing = {}", strings(&fmt.missing)));
    }
    if let Some(words) = &fmt.words {
        let (yes, no) = &words.value;
        parts.push(format!("words = [{}, {}]", string(yes), string(no)));
    }
    for (name, value) in [
        ("currency", &fmt.currency),
        ("thousands", &fmt.thousands),
        ("decimal", &fmt.decimal),
        ("separator", &fmt.separator),
    ] {
        if let Some(value) = value {
            parts.push(format!("{name} = {}", string(&value.value)));
        }
    }
    format!("{{ {} }}", parts.join(", "))
}

/// One text as a string, several as an array: `"%d/%m/%Y"`, `["N/A", "-"]`.
fn strings(texts: &[Spanned<String>]) -> String {
    match texts {
        [one] => string(&one.value),
        _ => {
            let items: Vec<String> = texts.iter().map(|t| string(&t.value)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// The `[contacts]` table: a line per column, then the one channel.
fn contacts(log: &ContactLog) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    for c in &log.columns {
        let mut value = format!("{{ from = {}", string(&c.column.value));
        if !c.formats.is_empty() {
            let _ = write!(value, ", format = {}", strings(&c.formats));
        }
        value.push_str(" }");
        rows.push((c.role.value.word().to_string(), value));
    }
    if let Some(channel) = &log.channel {
        rows.push(("channel".to_string(), string(&channel.value.to_string())));
    }
    format!("[contacts]\n{}", aligned(&rows))
}

/// The `[orders]` table: columns, totals and settings lined up, the two policies apart.
fn orders(o: &Orders) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    for c in &o.columns {
        let mut parts = vec![format!("from = {}", string(&c.column.value))];
        if !c.format.dates.is_empty() {
            parts.push(format!("format = {}", strings(&c.format.dates)));
        }
        for (name, value) in [
            ("currency", &c.format.currency),
            ("thousands", &c.format.thousands),
            ("decimal", &c.format.decimal),
        ] {
            if let Some(value) = value {
                parts.push(format!("{name} = {}", string(&value.value)));
            }
        }
        let value = format!("{{ {} }}", parts.join(", "));
        rows.push((c.role.value.word().to_string(), value));
    }
    for t in &o.totals {
        rows.push((t.kind.value.word().to_string(), string(&t.field.value)));
    }
    if let Some(p) = &o.period {
        rows.push(("period".to_string(), string(p.value.word())));
    }
    if let Some(l) = &o.lookback {
        rows.push(("lookback".to_string(), string(&l.value.to_string())));
    }
    let mut policies = Vec::new();
    if let Some(u) = &o.unmatched {
        policies.push(("unmatched_orders".to_string(), string(u.value.word())));
    }
    if let Some(w) = &o.without_orders {
        let value = string(w.value.word());
        policies.push(("customers_without_orders".to_string(), value));
    }
    format!("[orders]\n{}{}", aligned(&rows), aligned(&policies))
}

/// A `[[scores]]` table.
fn score(s: &Score) -> String {
    let mut out = format!(
        "[[scores]]\nname = {}\nof = {}\n",
        string(&s.name.value),
        string(&s.source.value)
    );
    if let Some(bins) = &s.bins {
        let _ = writeln!(out, "bins = {}", bins.value);
    }
    if s.reverse {
        out.push_str("reverse = true\n");
    }
    match s.ties.as_ref().map(|t| &t.value) {
        Some(Ties::Together) => out.push_str("ties = \"together\"\n"),
        Some(Ties::Hash(salt)) => {
            let _ = writeln!(out, "ties = {{ hash = {} }}", string(salt));
        }
        None => {}
    }
    if let Some(edges) = &s.edges {
        let edges: Vec<String> = edges.value.iter().map(|x| float(*x)).collect();
        let _ = writeln!(out, "edges = [{}]", edges.join(", "));
    }
    out
}

/// A `[[tables]]` table and its `[[tables.rules]]`: a range is `"4..5"`, or an integer when it
/// is one score. The ranges go in `ranges = { ... }` when a score is named like a rule's key.
fn table(t: &CellTable, sections: &mut Vec<String>) {
    let over: Vec<String> = t.over.iter().map(|o| string(&o.value)).collect();
    let mut out = format!(
        "[[tables]]\nname = {}\nover = [{}]\n",
        string(&t.name.value),
        over.join(", ")
    );
    let rules = match &t.body {
        TableBody::Preset(preset) => {
            let _ = writeln!(out, "preset = {}", string(&preset.value));
            sections.push(out);
            return;
        }
        TableBody::Rules(rules) => rules,
    };
    sections.push(out);
    for rule in rules {
        let mut out = format!("[[tables.rules]]\nname = {}\n", string(&rule.name.value));
        let ranges: Vec<(String, String)> = rule
            .ranges
            .iter()
            .map(|r| {
                let (lo, hi) = r.range.value;
                let value = if lo == hi {
                    lo.to_string()
                } else {
                    string(&format!("{lo}..{hi}"))
                };
                (key(&r.score.value), value)
            })
            .collect();
        let clash = rule
            .ranges
            .iter()
            .any(|r| ["name", "ranges"].contains(&r.score.value.as_str()));
        if clash {
            let parts: Vec<String> = ranges.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let _ = writeln!(out, "ranges = {{ {} }}", parts.join(", "));
        } else {
            for (k, v) in ranges {
                let _ = writeln!(out, "{k} = {v}");
            }
        }
        sections.push(out);
    }
}

/// The `[model]` table; the pinned parameters as inline tables.
fn model(m: &Model) -> String {
    let mut out = "[model]\n".to_string();
    if let Some(h) = &m.horizon {
        let _ = writeln!(out, "horizon = {}", string(&h.value.to_string()));
    }
    if let Some(d) = &m.discount {
        let _ = writeln!(out, "discount = {}", float(d.value));
    }
    let params = |names: &[&str], values: &[f64]| {
        let parts: Vec<String> = names
            .iter()
            .zip(values)
            .map(|(n, v)| format!("{n} = {}", float(*v)))
            .collect();
        format!("{{ {} }}", parts.join(", "))
    };
    if let Some(p) = &m.bgnbd {
        let _ = writeln!(out, "bgnbd = {}", params(&BGNBD_PARAMS, &p.value));
    }
    if let Some(p) = &m.gamma_gamma {
        let _ = writeln!(
            out,
            "gamma_gamma = {}",
            params(&GAMMA_GAMMA_PARAMS, &p.value)
        );
    }
    out
}

/// A tier or lifecycle stage as a `[[tiers]]` or `[[lifecycle]]` (`table`) table.
fn tier(table: &str, t: &Tier) -> String {
    let mut out = format!("[[{table}]]\nname = {}\n", string(&t.name.value));
    if let Some(activity) = &t.activity {
        let _ = writeln!(out, "activity = {}", string(&activity.value.to_string()));
    }
    match &t.condition {
        Some(condition) => {
            let _ = writeln!(out, "when = {}", text(&condition.source));
        }
        None => out.push_str("otherwise = true\n"),
    }
    out
}

/// `{ percent = 5.0, salt = "..." }`.
fn holdout(h: &Holdout) -> String {
    format!(
        "{{ percent = {:?}, salt = {} }}",
        h.percent.value,
        string(&h.salt.value)
    )
}

fn trigger(t: &Trigger, sections: &mut Vec<String>) {
    let path = format!("triggers.{}", key(&t.name.value));
    let mut out = format!("[{path}]\n");
    if let Some(activity) = &t.activity {
        let _ = writeln!(out, "activity = {}", string(&activity.value.to_string()));
    }
    if let Some(reason) = &t.service {
        let _ = writeln!(out, "service = {}", string(&reason.value));
    }
    if let Some(condition) = &t.condition {
        let _ = writeln!(out, "when = {}", text(&condition.source));
    }
    if let Some(channel) = &t.channel {
        let _ = writeln!(out, "channel = {}", string(&channel.kind.value.to_string()));
        if let Some(consent) = &channel.consent {
            let _ = writeln!(out, "consent = {}", string(&consent.value));
        }
        if let Some(address) = &channel.address {
            let _ = writeln!(out, "address = {}", string(&address.value));
        }
    }
    if let Some(priority) = &t.priority {
        let _ = writeln!(out, "priority = {}", priority.value);
    }
    if let Some(cooldown) = &t.cooldown {
        let _ = writeln!(out, "cooldown = {}", string(&cooldown.value.to_string()));
    }
    if let Some(reentry) = &t.reentry {
        let _ = writeln!(out, "reentry = {}", string(&reentry.value.to_string()));
    }
    if let Some(h) = &t.holdout {
        let _ = writeln!(out, "holdout = {}", holdout(h));
    }
    if let Some(v) = &t.volume {
        let by = text(&v.rank.source);
        let _ = writeln!(out, "volume = {{ max = {}, by = {by} }}", v.max.value);
    }
    sections.push(out);
    for a in &t.actions {
        action(a, &path, sections);
    }
}

fn action(a: &Action, trigger_path: &str, sections: &mut Vec<String>) {
    let mut out = format!(
        "[[{trigger_path}.actions]]\nname = {}\n",
        string(&a.name.value)
    );
    if let Some(template) = &a.template {
        let _ = writeln!(out, "template = {}", string(&template.value));
    }
    if let Some(offer) = &a.offer {
        let _ = writeln!(out, "offer = {}", string(&offer.value));
    }
    sections.push(out);
    if !a.params.is_empty() {
        let rows: Vec<_> = a
            .params
            .iter()
            .map(|p| {
                let value = match &p.value {
                    ParamValue::Template(t) => text(&t.value),
                    ParamValue::Expr(expr) => param_expr(expr),
                };
                (key(&p.name.value), value)
            })
            .collect();
        sections.push(format!(
            "[{trigger_path}.actions.params]\n{}",
            aligned(&rows)
        ));
    }
}

/// A parameter expression: a bare TOML number or boolean when that reads back as the same
/// verbatim source text, else `{ expr = "..." }`.
fn param_expr(expr: &Expr) -> String {
    let source = expr.source.as_str();
    let canonical = ::toml::from_str::<::toml::Table>(&format!("v = {source}"))
        .ok()
        .filter(|t| t.len() == 1)
        .and_then(|t| match t.get("v")? {
            ::toml::Value::Integer(i) => Some(i.to_string()),
            ::toml::Value::Float(x) => Some(Literal::Decimal(*x).to_string()),
            ::toml::Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        });
    if expr.verbatim && canonical.as_deref() == Some(source) {
        source.to_string()
    } else {
        format!("{{ expr = {} }}", text(&expr.source))
    }
}

/// `key = value` lines with the `=` aligned.
fn aligned(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .filter(|&w| w <= MAX_ALIGN)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$} = {v}");
    }
    out
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => string(s),
        Literal::Int(i) => i.to_string(),
        Literal::Decimal(x) => float(*x),
        Literal::Bool(b) => b.to_string(),
    }
}

/// A TOML float that reads back to the same `f64`.
fn float(x: f64) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        // Debug is the shortest text that reads back exactly, always with `.` or an exponent.
        format!("{x:?}")
    }
}

/// A key: bare when TOML allows, else quoted.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        basic(name)
    }
}

/// A TOML control character: not allowed raw in any string except tab (and newline in
/// multi-line strings).
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{7f}'
}

/// A single-line string for a name or setting: `"..."` when nothing needs escaping, else
/// `'...'` when a literal string can hold it, else `"..."` with escapes.
fn string(s: &str) -> String {
    let plain = !s.chars().any(is_control);
    if plain && !s.contains(['"', '\\']) {
        return format!("\"{s}\"");
    }
    if plain && !s.contains('\'') {
        return format!("'{s}'");
    }
    basic(s)
}

/// A text or expression: written as is when TOML can, multi-line when it has line breaks.
fn text(s: &str) -> String {
    verbatim(s).unwrap_or_else(|| basic(s))
}

/// A string whose text between the delimiters is `s` byte for byte, if TOML has one:
/// `"..."`, `'...'`, `'''...'''` or `"""..."""` (the last two on lines of their own when `s`
/// has line breaks; the line break after the opening delimiter is not part of the value).
fn verbatim(s: &str) -> Option<String> {
    if s.chars().any(|c| c != '\n' && is_control(c)) {
        return None;
    }
    let multi_line = s.contains('\n');
    let quote_or_backslash = s.contains(['"', '\\']);
    if !multi_line && !quote_or_backslash {
        return Some(format!("\"{s}\""));
    }
    if !multi_line && !s.contains('\'') {
        return Some(format!("'{s}'"));
    }
    let newline = if multi_line { "\n" } else { "" };
    if !s.contains("'''") {
        return Some(format!("'''{newline}{s}'''"));
    }
    if !quote_or_backslash {
        return Some(format!("\"\"\"{newline}{s}\"\"\""));
    }
    None
}

/// A basic string with every character that needs it escaped.
fn basic(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        escape_into(&mut out, c);
    }
    out.push('"');
    out
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if is_control(c) => unicode_escape(out, c),
        c => out.push(c),
    }
}

/// `\uXXXX`, or `\UXXXXXXXX` beyond the basic multilingual plane.
fn unicode_escape(out: &mut String, c: char) {
    let _ = match u32::from(c) {
        n @ 0..=0xFFFF => write!(out, "\\u{n:04X}"),
        n => write!(out, "\\U{n:08X}"),
    };
}
