//! The canonical DSL printer behind `fmt` and `convert --to dsl`.
//!
//! One layout: blocks in a fixed order (ruleset, customer, orders, metrics, segments, scores,
//! tables, model, tiers, lifecycle, triggers, tests), two-space indentation, columns aligned inside
//! a block (and across the `score` lines), one blank line between blocks, comments and blank-line
//! grouping kept. Expressions are printed as written; numbers (score edges, model parameters) in
//! Rust's shortest form that reads back to the same value.

use super::dsl::quote_text;
use crate::model::*;
use crate::text::pad;
use crate::text::quote;
use std::fmt::Write as _;

const INDENT: &str = "  ";

/// Prints a rule set as canonical DSL.
pub fn print(rules: &RuleSet) -> String {
    let mut p = Printer::default();
    if let Some(s) = &rules.settings {
        p.settings(s);
    }
    if let Some(s) = &rules.schema {
        p.schema(s);
    }
    if let Some(o) = &rules.orders {
        p.orders(o);
    }
    if let Some(log) = &rules.contacts {
        p.contacts(log);
    }
    for (i, m) in rules.metrics.iter().enumerate() {
        let line = format!("metric {} = {}", m.name.value, m.expr.source);
        p.one_liner(i == 0, &m.comments, &line);
    }
    for (i, s) in rules.segments.iter().enumerate() {
        let line = format!("segment {} = {}", s.name.value, s.condition.source);
        p.one_liner(i == 0, &s.comments, &line);
    }
    p.scores(&rules.scores);
    let mut after_block = true;
    for t in &rules.tables {
        after_block = p.table(after_block, t);
    }
    if let Some(m) = &rules.model {
        p.model(m);
    }
    if let Some(t) = &rules.tiers {
        p.tiers("tiers", t);
    }
    if let Some(l) = &rules.lifecycle {
        p.tiers("lifecycle", l);
    }
    for t in &rules.triggers {
        p.trigger(t);
    }
    for t in &rules.tests {
        p.test(t);
    }
    if !rules.end_comments.leading.is_empty() {
        p.separate();
        p.leading(&rules.end_comments, 0);
    }
    p.out
}

#[derive(Default)]
struct Printer {
    out: String,
}

impl Printer {
    /// One blank line before a new block (none at the start of the file).
    fn separate(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn leading(&mut self, c: &Comments, depth: usize) {
        for line in &c.leading {
            if line.is_empty() {
                self.out.push('\n');
                continue;
            }
            for (i, part) in line.lines().enumerate() {
                // Continuation lines of a block comment keep their own indentation.
                let indent = if i == 0 {
                    INDENT.repeat(depth)
                } else {
                    String::new()
                };
                let _ = writeln!(self.out, "{indent}{}", part.trim_end());
            }
        }
    }

    fn line(&mut self, depth: usize, c: &Comments, text: &str) {
        let _ = write!(self.out, "{}{}", INDENT.repeat(depth), text.trim_end());
        if let Some(t) = &c.trailing {
            let _ = write!(self.out, " {t}");
        }
        self.out.push('\n');
    }

    /// A line inside a block: blank line kept, comments above, trailing comment after.
    fn entry(&mut self, first: bool, depth: usize, c: &Comments, text: &str) {
        if c.blank_before && !first {
            self.out.push('\n');
        }
        self.leading(c, depth);
        self.line(depth, c, text);
    }

    /// A top-level one-line declaration; runs of them stay together unless a blank line
    /// separated them.
    fn one_liner(&mut self, first_of_kind: bool, c: &Comments, text: &str) {
        if first_of_kind || c.blank_before || !c.leading.is_empty() {
            self.separate();
        }
        self.leading(c, 0);
        self.line(0, c, text);
    }

    fn open(&mut self, c: &Comments, head: &str) {
        self.separate();
        self.leading(c, 0);
        let _ = writeln!(self.out, "{head} {{");
    }

    fn close(&mut self, depth: usize, inner: &InnerComments, c: &Comments) {
        let end = inner.get("}");
        if end.blank_before && !self.out.ends_with("{\n") {
            self.out.push('\n');
        }
        self.leading(&end, depth + 1);
        self.line(depth, c, "}");
    }

    fn settings(&mut self, s: &Settings) {
        self.open(&s.comments, &format!("ruleset {}", quote(&s.name.value)));
        let mut props: Vec<(&str, String)> = Vec::new();
        if let Some(as_of) = &s.as_of {
            let value = match as_of.value {
                AsOf::Today => "today".to_string(),
                date => quote(&date.to_string()),
            };
            props.push(("as_of", value));
        }
        if let Some(m) = &s.max_triggers {
            props.push(("max_triggers", m.value.to_string()));
        }
        if let Some(m) = &s.max_per_channel {
            props.push(("max_per_channel", m.value.to_string()));
        }
        if let Some(h) = &s.holdout {
            props.push(("holdout", holdout(h)));
        }
        if !s.missing.is_empty() {
            props.push(("missing", quoted_list(&s.missing)));
        }
        // Caps, exclusions and allows repeat, each with its own comments.
        let repeated: Vec<(&str, String, &Comments)> = s
            .caps
            .iter()
            .map(|c| {
                let text = format!("{} {} per {}", c.scope.value, c.max.value, c.window.value);
                ("cap", text, &c.comments)
            })
            .chain(s.exclusions.iter().map(|e| {
                let text = format!("{} with {}", e.first.value, e.second.value);
                ("exclude", text, &e.comments)
            }))
            .chain(s.allows.iter().map(|a| {
                let text = format!("{} on {}", a.warning.value, a.on.value);
                ("allow", text, &a.comments)
            }))
            .collect();
        let keys = width(
            props
                .iter()
                .map(|(k, _)| k.len())
                .chain(repeated.iter().map(|(k, _, _)| k.len())),
        );
        for (i, (kw, value)) in props.iter().enumerate() {
            let text = format!("{} {value}", pad(kw, keys));
            self.entry(i == 0, 1, &s.inner.get(kw), &text);
        }
        for (i, (kw, value, comments)) in repeated.iter().enumerate() {
            let text = format!("{} {value}", pad(kw, keys));
            self.entry(i == 0 && props.is_empty(), 1, comments, &text);
        }
        self.close(0, &s.inner, &s.comments);
    }

    /// `keyword value` lines with the values aligned.
    fn properties(&mut self, props: &[(&str, String)], inner: &InnerComments) {
        let keys = width(props.iter().map(|(k, _)| k.len()));
        for (i, (kw, value)) in props.iter().enumerate() {
            self.entry(
                i == 0,
                1,
                &inner.get(kw),
                &format!("{} {value}", pad(kw, keys)),
            );
        }
    }

    fn schema(&mut self, s: &Schema) {
        self.open(&s.comments, "customer");
        let names = width(s.fields.iter().map(|f| f.name.value.len()));
        let types = width(s.fields.iter().map(|f| type_text(f).len()));
        let froms = width(
            s.fields
                .iter()
                .filter(|f| has_options(f))
                .map(|f| quote(&f.column.value).chars().count() + 5),
        );
        for (i, f) in s.fields.iter().enumerate() {
            let mut text = format!(
                "{} {} ",
                pad(&f.name.value, names),
                pad(&type_text(f), types)
            );
            let from = format!("from {}", quote(&f.column.value));
            if has_options(f) {
                let _ = write!(text, "{}", pad(&from, froms));
            } else {
                text.push_str(&from);
            }
            if f.key {
                text.push_str(" key");
            }
            if let Some(d) = &f.default {
                let _ = write!(text, " default {}", literal(&d.value));
            }
            let fmt = &f.format;
            if !fmt.dates.is_empty() {
                let _ = write!(text, " format {}", quoted_list(&fmt.dates));
            }
            if !fmt.missing.is_empty() {
                let _ = write!(text, " missing {}", quoted_list(&fmt.missing));
            }
            if let Some(v) = &fmt.words {
                let _ = write!(text, " words {}/{}", word(&v.value.0), word(&v.value.1));
            }
            for (kw, v) in [
                ("currency", &fmt.currency),
                ("thousands", &fmt.thousands),
                ("decimal", &fmt.decimal),
                ("separator", &fmt.separator),
            ] {
                if let Some(v) = v {
                    let _ = write!(text, " {kw} {}", quote(&v.value));
                }
            }
            self.entry(i == 0, 1, &f.comments, &text);
        }
        self.close(0, &s.inner, &s.comments);
    }

    /// A `tiers` or `lifecycle` block (`keyword`); stages' activities line up too.
    fn tiers(&mut self, keyword: &str, t: &Tiers) {
        self.open(&t.comments, keyword);
        let names = width(t.tiers.iter().map(|t| t.name.value.len()));
        let activity = |tier: &crate::model::Tier| {
            tier.activity
                .as_ref()
                .map(|a| format!("activity {} ", a.value))
        };
        let activities = width(t.tiers.iter().filter_map(|t| activity(t).map(|a| a.len())));
        for (i, tier) in t.tiers.iter().enumerate() {
            let condition = match &tier.condition {
                Some(e) => format!("when {}", e.source),
                None => "otherwise".to_string(),
            };
            let rest = match activity(tier) {
                Some(a) => format!("{}{condition}", pad(&a, activities)),
                None => condition,
            };
            let text = format!("{} {rest}", pad(&tier.name.value, names));
            self.entry(i == 0, 1, &tier.comments, &text);
        }
        self.close(0, &t.inner, &t.comments);
    }

    fn trigger(&mut self, t: &Trigger) {
        self.open(&t.comments, &format!("trigger {}", t.name.value));
        let mut props: Vec<(&str, String)> = Vec::new();
        if let Some(a) = &t.activity {
            props.push(("activity", a.value.to_string()));
        }
        if let Some(reason) = &t.service {
            props.push(("service", quote(&reason.value)));
        }
        if let Some(c) = &t.condition {
            props.push(("when", c.source.clone()));
        }
        if let Some(c) = &t.channel {
            let mut text = c.kind.value.to_string();
            if let Some(consent) = &c.consent {
                let _ = write!(text, " consent {}", consent.value);
            }
            if let Some(address) = &c.address {
                let _ = write!(text, " address {}", address.value);
            }
            props.push(("channel", text));
        }
        if let Some(p) = &t.priority {
            props.push(("priority", p.value.to_string()));
        }
        if let Some(d) = &t.cooldown {
            props.push(("cooldown", d.value.to_string()));
        }
        if let Some(r) = &t.reentry {
            props.push(("reentry", r.value.to_string()));
        }
        if let Some(h) = &t.holdout {
            props.push(("holdout", holdout(h)));
        }
        if let Some(v) = &t.volume {
            props.push(("volume", format!("{} by {}", v.max.value, v.rank.source)));
        }
        self.properties(&props, &t.inner);
        for (i, a) in t.actions.iter().enumerate() {
            self.action(i == 0 && props.is_empty(), a);
        }
        self.close(0, &t.inner, &t.comments);
    }

    fn action(&mut self, first: bool, a: &Action) {
        let mut head = format!("action {}", a.name.value);
        if let Some(t) = &a.template {
            let _ = write!(head, " template {}", quote(&t.value));
        }
        if let Some(o) = &a.offer {
            let _ = write!(head, " offer {}", quote(&o.value));
        }
        if a.params.is_empty() && a.inner.get("}").is_empty() {
            self.entry(first, 1, &a.comments, &head);
            return;
        }
        head.push_str(" {");
        self.entry(
            first,
            1,
            &Comments {
                trailing: None,
                ..a.comments.clone()
            },
            &head,
        );
        let names = width(a.params.iter().map(|p| p.name.value.len()));
        for (i, p) in a.params.iter().enumerate() {
            let value = match &p.value {
                ParamValue::Expr(e) => e.source.clone(),
                ParamValue::Template(t) => quote_text(&t.value),
            };
            let text = format!("{} = {value}", pad(&p.name.value, names));
            self.entry(i == 0, 2, &p.comments, &text);
        }
        self.close(1, &a.inner, &a.comments);
    }
}

impl Printer {
    fn test(&mut self, t: &TestCase) {
        self.open(&t.comments, &format!("test {}", quote(&t.name.value)));
        let mut props: Vec<(&str, String)> = Vec::new();
        if let Some(d) = &t.as_of {
            props.push(("as_of", quote(&d.value.format("%Y-%m-%d").to_string())));
        }
        if let Some(row) = &t.from {
            let which = match &row.select.value {
                RowSelect::Id(id) => format!("id {}", quote(id)),
                RowSelect::Row(n) => format!("row {n}"),
            };
            props.push(("from", format!("{} {which}", quote(&row.file.value))));
        }
        self.properties(&props, &t.inner);
        let mut first = props.is_empty();
        if !t.values.is_empty() || !t.inner.get("customer}").is_empty() {
            self.entry(first, 1, &t.inner.get("customer"), "customer {");
            let names = width(t.values.iter().map(|f| f.name.value.len()));
            for (i, f) in t.values.iter().enumerate() {
                let text = format!("{} = {}", pad(&f.name.value, names), f.value.value);
                self.entry(i == 0, 2, &f.comments, &text);
            }
            self.close(
                1,
                &rename_close(&t.inner, "customer}"),
                &Comments::default(),
            );
            first = false;
        }
        if !t.history.is_empty() || !t.inner.get("history}").is_empty() {
            self.entry(first, 1, &t.inner.get("history"), "history {");
            let names = width(t.history.iter().map(|p| p.trigger.value.len()));
            for (i, p) in t.history.iter().enumerate() {
                let mut text = format!("{} {} ago", pad(&p.trigger.value, names), p.ago.value);
                if let Some(arm) = &p.arm {
                    let _ = write!(text, " {}", arm.value.word());
                }
                self.entry(i == 0, 2, &p.comments, &text);
            }
            self.close(1, &rename_close(&t.inner, "history}"), &Comments::default());
            first = false;
        }
        let e = &t.expect;
        if !e.is_empty() || !e.inner.get("}").is_empty() {
            self.entry(first, 1, &t.inner.get("expect"), "expect {");
            let join = |names: &[Ident]| {
                names
                    .iter()
                    .map(|n| n.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut lines: Vec<(&str, String)> = Vec::new();
            for (kw, names) in [("segments", &e.segments), ("not segments", &e.not_segments)] {
                if !names.is_empty() {
                    lines.push((kw, join(names)));
                }
            }
            if let Some(tier) = &e.tier {
                lines.push(("tier", tier.value.clone()));
            }
            if let Some(stage) = &e.stage {
                lines.push(("stage", stage.value.clone()));
            }
            for (kw, names) in [("fires", &e.fires), ("not fires", &e.not_fires)] {
                if !names.is_empty() {
                    lines.push((kw, join(names)));
                }
            }
            for (trigger, reason) in &e.suppressed {
                lines.push(("suppressed", format!("{} {}", trigger.value, reason.value)));
            }
            let keys = width(
                lines
                    .iter()
                    .map(|(k, _)| k.len())
                    .chain((!e.params.is_empty()).then_some("param".len())),
            );
            for (i, (kw, value)) in lines.iter().enumerate() {
                self.entry(
                    i == 0,
                    2,
                    &e.inner.get(kw),
                    &format!("{} {value}", pad(kw, keys)),
                );
            }
            for (i, p) in e.params.iter().enumerate() {
                let text = format!(
                    "{} {} = {}",
                    pad("param", keys),
                    p.path.value,
                    p.value.value
                );
                self.entry(i == 0 && lines.is_empty(), 2, &p.comments, &text);
            }
            self.close(1, &e.inner, &Comments::default());
        }
        self.close(0, &t.inner, &t.comments);
    }
}

/// The population declarations: `orders`, `score`, `table`, `model`; and a contact log's
/// columns.
impl Printer {
    /// The columns, then the one channel; the column names line up.
    fn contacts(&mut self, log: &ContactLog) {
        self.open(&log.comments, "contacts");
        let roles = width(
            log.columns
                .iter()
                .map(|c| c.role.value.word().len())
                .chain(log.channel.iter().map(|_| "channel".len())),
        );
        for (i, c) in log.columns.iter().enumerate() {
            let mut text = format!(
                "{} from {}",
                pad(c.role.value.word(), roles),
                quote(&c.column.value)
            );
            if !c.formats.is_empty() {
                let _ = write!(text, " format {}", quoted_list(&c.formats));
            }
            self.entry(i == 0, 1, &c.comments, &text);
        }
        if let Some(channel) = &log.channel {
            let text = format!("{} {}", pad("channel", roles), channel.value);
            self.entry(log.columns.is_empty(), 1, &log.inner.get("channel"), &text);
        }
        self.close(0, &log.inner, &log.comments);
    }

    /// The columns, the totals, then the settings; the short keywords (columns, totals,
    /// `period`, `lookback`) line up, and the two long policy keywords with each other.
    fn orders(&mut self, o: &Orders) {
        self.open(&o.comments, "orders");
        let mut lines: Vec<(Comments, &str, String)> = Vec::new();
        let froms = width(
            o.columns
                .iter()
                .filter(|c| has_format(&c.format))
                .map(|c| quote(&c.column.value).chars().count() + 5),
        );
        for c in &o.columns {
            let from = format!("from {}", quote(&c.column.value));
            let mut text = if has_format(&c.format) {
                pad(&from, froms).to_string()
            } else {
                from
            };
            let fmt = &c.format;
            if !fmt.dates.is_empty() {
                let _ = write!(text, " format {}", quoted_list(&fmt.dates));
            }
            for (kw, v) in [
                ("currency", &fmt.currency),
                ("thousands", &fmt.thousands),
                ("decimal", &fmt.decimal),
            ] {
                if let Some(v) = v {
                    let _ = write!(text, " {kw} {}", quote(&v.value));
                }
            }
            lines.push((c.comments.clone(), c.role.value.word(), text));
        }
        for t in &o.totals {
            let field = t.field.value.clone();
            lines.push((t.comments.clone(), t.kind.value.word(), field));
        }
        let mut settings: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &o.period {
            settings.push(("period", p.value.word().to_string()));
        }
        if let Some(l) = &o.lookback {
            settings.push(("lookback", l.value.to_string()));
        }
        if let Some(u) = &o.unmatched {
            settings.push((POLICIES[0], u.value.word().to_string()));
        }
        if let Some(w) = &o.without_orders {
            settings.push((POLICIES[1], w.value.word().to_string()));
        }
        for (kw, value) in settings {
            lines.push((o.inner.get(kw), kw, value));
        }
        let short = width(
            lines
                .iter()
                .filter(|(_, kw, _)| !POLICIES.contains(kw))
                .map(|(_, kw, _)| kw.len()),
        );
        let long = width(
            lines
                .iter()
                .filter(|(_, kw, _)| POLICIES.contains(kw))
                .map(|(_, kw, _)| kw.len()),
        );
        for (i, (c, kw, value)) in lines.iter().enumerate() {
            let keys = if POLICIES.contains(kw) { long } else { short };
            self.entry(i == 0, 1, c, &format!("{} {value}", pad(kw, keys)));
        }
        self.close(0, &o.inner, &o.comments);
    }

    /// `score` lines, names and scored variables lined up across all of them.
    fn scores(&mut self, scores: &[Score]) {
        let names = width(scores.iter().map(|s| s.name.value.len()));
        let sources = width(
            scores
                .iter()
                .filter(|s| has_score_options(s))
                .map(|s| s.source.value.len()),
        );
        for (i, s) in scores.iter().enumerate() {
            let mut text = format!(
                "score {} = {}",
                pad(&s.name.value, names),
                pad(&s.source.value, sources)
            );
            if let Some(b) = &s.bins {
                let _ = write!(text, " bins {}", b.value);
            }
            if s.reverse {
                text.push_str(" reverse");
            }
            match s.ties.as_ref().map(|t| &t.value) {
                Some(Ties::Together) => text.push_str(" ties together"),
                Some(Ties::Hash(salt)) => {
                    let _ = write!(text, " ties hash {}", quote(salt));
                }
                None => {}
            }
            if let Some(e) = &s.edges {
                let edges: Vec<String> = e.value.iter().map(|x| number(*x)).collect();
                let _ = write!(text, " edges [{}]", edges.join(", "));
            }
            self.one_liner(i == 0, &s.comments, &text);
        }
    }

    /// A table: one line with its preset, or a block of rules whose names and ranges line up.
    /// Returns whether it printed a block (a preset table right after one needs a blank line).
    fn table(&mut self, after_block: bool, t: &CellTable) -> bool {
        let over: Vec<&str> = t.over.iter().map(|o| o.value.as_str()).collect();
        let head = format!("table {} over {}", t.name.value, over.join(", "));
        let rules = match &t.body {
            TableBody::Preset(preset) => {
                let text = format!("{head} preset {}", preset.value);
                self.one_liner(after_block, &t.comments, &text);
                return false;
            }
            TableBody::Rules(rules) => rules,
        };
        self.open(&t.comments, &head);
        let names = width(rules.iter().map(|r| r.name.value.len()));
        let ranges: Vec<Vec<String>> = rules
            .iter()
            .map(|r| {
                r.ranges
                    .iter()
                    .map(|c| format!("{} {}", c.score.value, range(c.range.value)))
                    .collect()
            })
            .collect();
        // The i-th ranges line up when they are all of one score (written in `over` order).
        let columns = ranges.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                let mut scores = rules
                    .iter()
                    .filter_map(|r| r.ranges.get(i))
                    .map(|c| &c.score);
                let first = scores.next().map(|s| &s.value);
                if scores.any(|s| Some(&s.value) != first) {
                    return 0;
                }
                width(ranges.iter().filter_map(|r| r.get(i)).map(String::len))
            })
            .collect();
        for (i, (rule, parts)) in rules.iter().zip(&ranges).enumerate() {
            let mut text = pad(&rule.name.value, names).to_string();
            for (part, w) in parts.iter().zip(&widths) {
                let _ = write!(text, " {}", pad(part, *w));
            }
            self.entry(i == 0, 1, &rule.comments, &text);
        }
        self.close(0, &t.inner, &t.comments);
        true
    }

    /// The settings line up, and the pinned parameters with each other.
    fn model(&mut self, m: &Model) {
        self.open(&m.comments, "model");
        let mut settings: Vec<(&str, String)> = Vec::new();
        if let Some(h) = &m.horizon {
            settings.push(("horizon", h.value.to_string()));
        }
        if let Some(d) = &m.discount {
            settings.push(("discount", format!("{}%", number(d.value))));
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &m.bgnbd {
            params.push(("bgnbd", model_params(&BGNBD_PARAMS, &p.value)));
        }
        if let Some(p) = &m.gamma_gamma {
            params.push(("gamma_gamma", model_params(&GAMMA_GAMMA_PARAMS, &p.value)));
        }
        let mut first = true;
        for group in [&settings, &params] {
            let keys = width(group.iter().map(|(k, _)| k.len()));
            for (kw, value) in group {
                self.entry(
                    first,
                    1,
                    &m.inner.get(kw),
                    &format!("{} {value}", pad(kw, keys)),
                );
                first = false;
            }
        }
        self.close(0, &m.inner, &m.comments);
    }
}

/// The keywords of the two policies of an `orders` block.
const POLICIES: [&str; 2] = ["unmatched_orders", "customers_without_orders"];

fn has_format(f: &FieldFormat) -> bool {
    !f.dates.is_empty() || f.currency.is_some() || f.thousands.is_some() || f.decimal.is_some()
}

fn has_score_options(s: &Score) -> bool {
    s.bins.is_some() || s.reverse || s.ties.is_some() || s.edges.is_some()
}

/// A score range: `4..5`, or `5` when it is one score.
fn range((lo, hi): (u8, u8)) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}..{hi}")
    }
}

/// A number as the grammar reads it: Rust's shortest round-trip form, never an exponent.
fn number(x: f64) -> String {
    x.to_string()
}

/// `r 0.243 alpha 4.414 ...`: the parameters in their fixed order.
fn model_params(names: &[&str], values: &[f64]) -> String {
    let parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n} {}", number(*v)))
        .collect();
    parts.join(" ")
}

/// Inner comments with those under `key` moved to `"}"`, for closing a nested block.
/// `5% salt "..."`.
fn holdout(h: &Holdout) -> String {
    format!("{}% salt {}", h.percent.value, quote(&h.salt.value))
}

fn rename_close(inner: &InnerComments, key: &str) -> InnerComments {
    let mut out = InnerComments::default();
    out.0.insert("}", inner.get(key));
    out
}

fn width(lengths: impl Iterator<Item = usize>) -> usize {
    lengths.max().unwrap_or(0)
}

fn has_options(f: &Field) -> bool {
    let fmt = &f.format;
    f.key
        || f.default.is_some()
        || !fmt.dates.is_empty()
        || !fmt.missing.is_empty()
        || fmt.words.is_some()
        || fmt.currency.is_some()
        || fmt.thousands.is_some()
        || fmt.decimal.is_some()
        || fmt.separator.is_some()
}

fn type_text(f: &Field) -> String {
    format!("{}{}", f.ty.value, if f.optional { "?" } else { "" })
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => quote(s),
        other => other.to_string(),
    }
}

/// A list option's texts, quoted: `"N/A", "-"`.
fn quoted_list(texts: &[Spanned<String>]) -> String {
    let quoted: Vec<String> = texts.iter().map(|t| quote(&t.value)).collect();
    quoted.join(", ")
}

/// A `words` entry: bare when it is a plain word, quoted otherwise.
fn word(w: &str) -> String {
    if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        w.to_string()
    } else {
        quote(w)
    }
}
