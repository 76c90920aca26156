//! What the rules decided for one customer, and how a decision is written out (JSONL and CSV).
//!
//! Decisions refer to segments, tiers, triggers and actions by index into the [`Program`]; the
//! writers turn indices into names.

use crate::history::{Arm, Member, NewContact};
use crate::plan::{Program, Written};
use chrono::{NaiveDate, NaiveDateTime};
use rhai::Dynamic;
use std::borrow::Cow;
use std::fmt::Write as _;

/// What the rules decided for one customer.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// The customer id (the key field's value as text).
    pub id: String,
    /// Segments the customer is in, by index, in declaration order.
    pub segments: Vec<usize>,
    /// The tier, by index; `None` when the rule set declares no tiers.
    pub tier: Option<usize>,
    /// The lifecycle stage, by index; `None` when the rule set declares no lifecycle.
    pub stage: Option<usize>,
    /// Per table over score cells, the segment (by rule index); `None` for a customer without
    /// scores or in a cell no rule takes.
    pub cells: Vec<Option<usize>>,
    /// Triggers that fired, by index, highest priority first (among equals, in the customer's draw).
    pub fired: Vec<usize>,
    /// Triggers whose condition held but that did not fire, and why, in declaration order; those
    /// suppressed as [`Suppression::TriggerHoldout`] are in their control arm.
    pub suppressed: Vec<(usize, Suppression)>,
    /// The actions of the fired triggers, in firing order, with their parameters.
    pub actions: Vec<ActionOutcome>,
    /// The customer's global-holdout bucket and whether it is held out, when the rule set
    /// declares a global holdout and a marketing trigger was eligible and consented for the
    /// customer: who is measured against the global holdout ([`Decision::audience`]).
    pub global_holdout: Option<(u64, bool)>,
}

/// An action taken for a customer: its trigger and action indices and the parameter values,
/// in the order the action declares its parameters.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    pub trigger: usize,
    pub action: usize,
    pub params: Vec<Dynamic>,
    /// The customer's address on the channel, when the channel names its field (`()` when the
    /// customer has none).
    pub address: Option<Dynamic>,
}

pub use crate::model::Suppression;

/// The treated customers of the global holdout's experiment recorded one by one are those
/// whose bucket is below this many times the holdout's (the control's share four times over,
/// drawn by the same hash): enough for the comparison, without a row for every customer.
pub const AUDIENCE_SAMPLE: u64 = 5;

impl Decision {
    /// Empties the decision, keeping its room for the next customer's.
    pub fn clear(&mut self) {
        let Decision {
            id,
            segments,
            tier,
            stage,
            cells,
            fired,
            suppressed,
            actions,
            global_holdout,
        } = self;
        id.clear();
        segments.clear();
        cells.clear();
        fired.clear();
        suppressed.clear();
        actions.clear();
        (*tier, *stage, *global_holdout) = (None, None, None);
    }

    /// The triggers the customer entered, each with its arm: those that fired (treated), in
    /// firing order, then those whose control arm the customer is in.
    pub fn arms(&self) -> impl Iterator<Item = (usize, Arm)> + '_ {
        let treated = self.fired.iter().map(|&t| (t, Arm::Treated));
        let control = self.suppressed.iter().filter_map(|&(t, why)| {
            (why == Suppression::TriggerHoldout).then_some((t, Arm::Control))
        });
        treated.chain(control)
    }

    /// The customer's place in the global holdout's experiment (what all marketing together
    /// earns), when they are in it: a customer a marketing trigger would have contacted, in
    /// the control arm (held out) or the treated arm. Of the treated, those whose bucket is
    /// below [`AUDIENCE_SAMPLE`] times the holdout's are recorded one by one (`true`), the
    /// others only counted.
    pub fn audience(&self, program: &Program) -> Option<(Arm, bool)> {
        match self.global_holdout? {
            (_, true) => Some((Arm::Control, true)),
            (bucket, false) => {
                let sample = program.holdout()?.below.saturating_mul(AUDIENCE_SAMPLE);
                Some((Arm::Treated, bucket < sample))
            }
        }
    }

    /// Appends what the contact history records of this decision (dated `date`): its contacts
    /// ([`Decision::contacts`]) and its place in the global holdout's experiment
    /// ([`Decision::audience`]); the segments are joined once for both.
    pub fn record<'p>(
        &self,
        program: &'p Program,
        date: &'p str,
        contacts: &mut Vec<NewContact<'p>>,
        members: &mut Vec<Member<'p>>,
    ) {
        let audience = self.audience(program);
        if audience.is_none() && self.arms().next().is_none() {
            return;
        }
        let segments = self.segments_text(program);
        self.contacts(program, date, segments.clone(), contacts);
        if let Some((arm, recorded)) = audience {
            members.push(Member {
                customer: recorded.then(|| self.id.trim().to_string()),
                arm,
                tier: self.tier.map(|i| Cow::Borrowed(program.tier_name(i))),
                stage: self.stage.map(|i| Cow::Borrowed(program.stage_name(i))),
                segments,
            });
        }
    }

    /// The customer's segments joined by `;`, as the history records them.
    fn segments_text<'p>(&self, program: &'p Program) -> Option<Cow<'p, str>> {
        match self.segments.as_slice() {
            [] => None,
            [one] => Some(Cow::Borrowed(program.segment_name(*one))),
            many => {
                let names: Vec<&str> = many.iter().map(|&s| program.segment_name(s)).collect();
                Some(Cow::Owned(names.join(";")))
            }
        }
    }

    /// Appends the contacts this decision makes, one per action of each trigger entered (one
    /// without an action for a trigger that has none), as the contact history records them
    /// (dated `date`, the customer's `segments` joined).
    fn contacts<'p>(
        &self,
        program: &'p Program,
        date: &'p str,
        segments: Option<Cow<'p, str>>,
        out: &mut Vec<NewContact<'p>>,
    ) {
        let customer = self.id.trim();
        for (t, arm) in self.arms() {
            let actions = program.action_count(t);
            for a in (0..actions).map(Some).chain((actions == 0).then_some(None)) {
                out.push(NewContact {
                    date: Cow::Borrowed(date),
                    customer: Cow::Owned(customer.to_string()),
                    trigger: Some(Cow::Borrowed(program.trigger_name(t))),
                    action: a.map(|a| Cow::Borrowed(program.action(t, a).0)),
                    channel: Cow::Borrowed(program.trigger_channel(t)),
                    activity: Some(Cow::Borrowed(program.trigger_activity(t))),
                    service: program.trigger_service_reason(t).is_some(),
                    arm,
                    tier: self.tier.map(|i| Cow::Borrowed(program.tier_name(i))),
                    stage: self.stage.map(|i| Cow::Borrowed(program.stage_name(i))),
                    segments: segments.clone(),
                });
            }
        }
    }

    /// Appends the decision as one JSON line:
    /// `{"id":..,"tier":..,("stage":.. with a lifecycle),("tables":{"name":..} with tables),"segments":[..],"triggers":[..],"arms":{"trigger":"treated"|"control"},
    /// "actions":[{"trigger":..,"action":..,"channel":..,"activity":..,"service":true|false,
    /// "template":..,"offer":..,"params":{..}}],"suppressed":[{"trigger":..,"reason":..}]}`.
    /// Control characters are escaped, C1 included ([`crate::text::escape_json_controls`]).
    pub fn write_json(&self, program: &Program, out: &mut Vec<u8>) {
        let from = out.len();
        self.write_json_unescaped(program, out);
        crate::text::escape_json_controls(out, from);
    }

    fn write_json_unescaped(&self, program: &Program, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        json_str(out, &self.id);
        out.extend_from_slice(b",\"tier\":");
        match self.tier {
            Some(t) => json_str(out, program.tier_name(t)),
            None => out.extend_from_slice(b"null"),
        }
        if program.has_lifecycle() {
            out.extend_from_slice(b",\"stage\":");
            match self.stage {
                Some(s) => json_str(out, program.stage_name(s)),
                None => out.extend_from_slice(b"null"),
            }
        }
        if program.table_count() > 0 {
            out.extend_from_slice(b",\"tables\":{");
            for (t, cell) in self.cells.iter().enumerate() {
                if t > 0 {
                    out.push(b',');
                }
                json_str(out, program.table_name(t));
                out.push(b':');
                match cell {
                    Some(i) => json_str(out, program.table_segment(t, *i)),
                    None => out.extend_from_slice(b"null"),
                }
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"segments\":");
        json_names(out, self.segments.iter().map(|&s| program.segment_name(s)));
        out.extend_from_slice(b",\"triggers\":");
        json_names(out, self.fired.iter().map(|&t| program.trigger_name(t)));
        out.extend_from_slice(b",\"arms\":{");
        for (i, (t, arm)) in self.arms().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(out, program.trigger_name(t));
            out.push(b':');
            json_str(out, arm.word());
        }
        out.push(b'}');
        out.extend_from_slice(b",\"actions\":[");
        for (i, a) in self.actions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let (name, template, offer) = program.action(a.trigger, a.action);
            out.extend_from_slice(b"{\"trigger\":");
            json_str(out, program.trigger_name(a.trigger));
            out.extend_from_slice(b",\"action\":");
            json_str(out, name);
            out.extend_from_slice(b",\"channel\":");
            json_str(out, program.trigger_channel(a.trigger));
            if let Some(address) = &a.address {
                out.extend_from_slice(b",\"address\":");
                match address_text(address) {
                    Some(text) => json_str(out, &text),
                    None => out.extend_from_slice(b"null"),
                }
            }
            out.extend_from_slice(b",\"activity\":");
            json_str(out, program.trigger_activity(a.trigger));
            out.extend_from_slice(b",\"service\":");
            out.extend_from_slice(if program.trigger_service_reason(a.trigger).is_some() {
                b"true"
            } else {
                b"false"
            });
            out.extend_from_slice(b",\"template\":");
            json_opt_str(out, template);
            out.extend_from_slice(b",\"offer\":");
            json_opt_str(out, offer);
            out.extend_from_slice(b",\"params\":");
            json_params(out, program, a, Quotes::Plain);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"suppressed\":[");
        for (i, (t, why)) in self.suppressed.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"trigger\":");
            json_str(out, program.trigger_name(*t));
            out.extend_from_slice(b",\"reason\":");
            json_str(out, program.reason(*t, *why));
            out.push(b'}');
        }
        out.extend_from_slice(b"]}\n");
    }

    /// Gives `cell` the decision's CSV cells one by one, each with its column's name (the
    /// order of [`csv_header`], which this walk also makes), where its text comes from, and
    /// what writes its text (UTF-8) where `cell` wants it, a JSON text's quotes as asked.
    pub fn csv_cells<'p>(
        &self,
        program: &'p Program,
        cell: &mut dyn FnMut(&'p str, CellSource, Fill<'_>),
    ) {
        use CellSource::{Json, Names, Outside};
        let text = |out: &mut Vec<u8>, text: &str| out.extend_from_slice(text.as_bytes());
        // `trigger.action`; names are ASCII letters, digits and `_` (`check`), so the same
        // text is a JSON key without escaping.
        let action_key = |out: &mut Vec<u8>, a: &ActionOutcome| {
            text(out, program.trigger_name(a.trigger));
            out.push(b'.');
            text(out, program.action(a.trigger, a.action).0);
        };
        let actions = &self.actions;
        cell("id", Outside, &mut |out, _| text(out, &self.id));
        cell("tier", Names, &mut |out, _| {
            text(out, self.tier.map_or("", |t| program.tier_name(t)))
        });
        if program.has_lifecycle() {
            cell("stage", Names, &mut |out, _| {
                text(out, self.stage.map_or("", |s| program.stage_name(s)))
            });
        }
        for t in 0..program.table_count() {
            let table = self.cells.get(t).copied().flatten();
            cell(program.table_name(t), Names, &mut |out, _| {
                text(out, table.map_or("", |i| program.table_segment(t, i)))
            });
        }
        cell("segments", Names, &mut |out, _| {
            joined(out, &self.segments, |out, &s| {
                text(out, program.segment_name(s))
            })
        });
        cell("triggers", Names, &mut |out, _| {
            joined(out, &self.fired, |out, &t| {
                text(out, program.trigger_name(t))
            })
        });
        cell("arms", Names, &mut |out, _| {
            joined(out, self.arms(), |out, (t, arm)| {
                text(out, program.trigger_name(t));
                out.push(b'=');
                text(out, arm.word());
            })
        });
        cell("actions", Names, &mut |out, _| {
            joined(out, actions, action_key)
        });
        cell("channels", Names, &mut |out, _| {
            joined(out, actions, |out, a| {
                text(out, program.trigger_channel(a.trigger))
            })
        });
        if program.has_addresses() {
            // After `channels`: one address per action, empty where there is none.
            cell("addresses", Outside, &mut |out, _| {
                joined(out, actions, |out, a| {
                    if let Some(address) = a.address.as_ref().and_then(address_text) {
                        text(out, &address);
                    }
                })
            });
        }
        cell("activities", Names, &mut |out, _| {
            joined(out, actions, |out, a| {
                text(out, program.trigger_activity(a.trigger))
            })
        });
        cell("service", Names, &mut |out, _| {
            joined(out, actions, |out, a| {
                let service = program.trigger_service_reason(a.trigger).is_some();
                text(out, if service { "true" } else { "false" })
            })
        });
        cell("templates", Outside, &mut |out, _| {
            joined(out, actions, |out, a| {
                text(out, program.action(a.trigger, a.action).1.unwrap_or(""))
            })
        });
        cell("offers", Outside, &mut |out, _| {
            joined(out, actions, |out, a| {
                text(out, program.action(a.trigger, a.action).2.unwrap_or(""))
            })
        });
        cell("suppressed", Names, &mut |out, _| {
            joined(out, &self.suppressed, |out, &(t, why)| {
                text(out, program.trigger_name(t));
                out.push(b'=');
                text(out, program.reason(t, why));
            })
        });
        cell("params", Json, &mut |out, quotes| {
            out.push(b'{');
            for (i, a) in actions.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(quotes.mark());
                action_key(out, a);
                out.extend_from_slice(quotes.mark());
                out.push(b':');
                json_params(out, program, a, quotes);
            }
            out.push(b'}');
        });
    }
}

/// Appends what `write` writes for each of `items`, joined by `;`.
fn joined<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        write(out, item);
    }
}

/// Where the text of a CSV decision cell comes from, for writers that defuse text against
/// spreadsheets ([`Decision::csv_cells`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellSource {
    /// Only names from the rule set (tiers, stages, segments, triggers, actions) and idic's own
    /// words (suppression reasons), joined by `;`, `.` or `=`: `check` holds a name to ASCII
    /// letters, digits and `_`, never starting with a digit, so such a cell has no control
    /// character and cannot start a formula. Nor does it hold a comma, a quote or a line
    /// break: the CSV writer writes it without looking for them.
    Names,
    /// Text from outside idic's names: the customer's id, templates, offers.
    Outside,
    /// A JSON object of the actions' parameters: their values are outside text, inside JSON
    /// strings. Written with its quotes doubled ([`Quotes::Doubled`]), it is the inside of a
    /// quoted CSV cell.
    Json,
}

/// What writes a CSV cell's text into a buffer, a JSON text's quotes as [`Quotes`] says
/// (other cells hold no JSON, and ignore it).
pub type Fill<'a> = &'a mut dyn FnMut(&mut Vec<u8>, Quotes);

/// How the quotes of a JSON text are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quotes {
    /// As JSON has them.
    Plain,
    /// Each one twice: the text is then the inside of a quoted CSV cell as it is written, its
    /// quotes doubled on the way instead of in a pass over it afterwards.
    Doubled,
}

impl Quotes {
    /// A quote, as written.
    fn mark(self) -> &'static [u8] {
        match self {
            Quotes::Plain => b"\"",
            Quotes::Doubled => b"\"\"",
        }
    }
}

/// An address as decisions write it; `None` when missing.
fn address_text(address: &Dynamic) -> Option<String> {
    (!address.is_unit()).then(|| text(address))
}

/// The columns of CSV decisions: `stage` (after `tier`) only when the rule set declares a
/// lifecycle, then one column per table over score cells, named after it; `addresses` (after
/// `channels`) only when a trigger's channel names an address field. The names
/// [`Decision::csv_cells`] gives, so that the two cannot disagree.
pub fn csv_header(program: &Program) -> Vec<&str> {
    let mut header = Vec::new();
    Decision::default().csv_cells(program, &mut |column, _, _| header.push(column));
    header
}

/// An action's parameters as a JSON object, its quotes written as `quotes` says.
fn json_params(out: &mut Vec<u8>, program: &Program, a: &ActionOutcome, quotes: Quotes) {
    let params = program.param_names(a.trigger, a.action).zip(&a.params);
    json_object(out, params, quotes);
}

/// A JSON object of named rule values, its quotes written as `quotes` says.
fn json_object<'a>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'a str, &'a Dynamic)>,
    quotes: Quotes,
) {
    out.push(b'{');
    for (i, (name, value)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        quoted_str(out, name, quotes);
        out.push(b':');
        quoted_value(out, value, quotes);
    }
    out.push(b'}');
}

fn json_names<'a>(out: &mut Vec<u8>, names: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (i, n) in names.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, n);
    }
    out.push(b']');
}

fn json_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string literal (C0 escaped; C1 by the caller).
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    quoted_str(out, s, Quotes::Plain);
}

/// [`json_str`], its quotes written as `quotes` says.
fn quoted_str(out: &mut Vec<u8>, s: &str, quotes: Quotes) {
    // Most texts need no escape: found in one pass without a branch per byte, and copied.
    let escaped = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    if !s.bytes().fold(false, |any, b| any | escaped(b)) {
        let mark = quotes.mark();
        out.reserve(s.len() + 2 * mark.len());
        out.extend_from_slice(mark);
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(mark);
        return;
    }
    let written = "writing to a Vec cannot fail";
    match quotes {
        Quotes::Plain => serde_json::to_writer(&mut *out, s).expect(written),
        Quotes::Doubled => {
            let json = serde_json::to_vec(s).expect(written);
            crate::text::push_quotes_doubled(out, &json);
        }
    }
}

/// A rule value as JSON: `()` as `null`, so are NaN and the infinities; texts, lists and maps
/// as JSON has them; dates and other values as their [`text`].
pub(crate) fn json_value(out: &mut Vec<u8>, v: &Dynamic) {
    quoted_value(out, v, Quotes::Plain);
}

/// [`json_value`], its quotes written as `quotes` says.
fn quoted_value(out: &mut Vec<u8>, v: &Dynamic, quotes: Quotes) {
    // Each type asked with `is_*`: `as_int` and the like name the type they did not find,
    // which costs more than the question.
    let written = "writing to a Vec cannot fail";
    if v.is_unit() {
        out.extend_from_slice(b"null");
    } else if let Some(b) = v.is_bool().then(|| v.as_bool().ok()).flatten() {
        out.extend_from_slice(if b { b"true" } else { b"false" });
    } else if let Some(i) = v.is_int().then(|| v.as_int().ok()).flatten() {
        serde_json::to_writer(&mut *out, &i).expect(written);
    } else if let Some(f) = v.is_float().then(|| v.as_float().ok()).flatten() {
        if f.is_finite() {
            serde_json::to_writer(&mut *out, &f).expect(written);
        } else {
            out.extend_from_slice(b"null");
        }
    } else if let Some(s) = v
        .is_string()
        .then(|| v.read_lock::<rhai::ImmutableString>())
        .flatten()
    {
        quoted_str(out, &s, quotes);
    } else if let Some(list) = v.is_array().then(|| v.read_lock::<rhai::Array>()).flatten() {
        out.push(b'[');
        for (i, item) in list.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            quoted_value(out, item, quotes);
        }
        out.push(b']');
    } else if let Some(map) = v.is_map().then(|| v.read_lock::<rhai::Map>()).flatten() {
        json_object(out, map.iter().map(|(k, item)| (k.as_str(), item)), quotes);
    } else {
        quoted_str(out, &text(v), quotes);
    }
}

/// A rule value as text, as parameter texts show it: missing is empty, dates `YYYY-MM-DD`,
/// date-times `YYYY-MM-DD HH:MM:SS`, lists their items joined by `, `.
pub fn text(v: &Dynamic) -> String {
    let mut out = String::new();
    push_text(&mut out, v);
    out
}

/// A rule value for people reading an explanation: `missing` for no value, text in quotes,
/// anything else as [`text`] writes it; control characters escaped (`\u{1b}`) either way.
pub fn display(v: &Dynamic) -> String {
    if v.is_unit() {
        "missing".into()
    } else if v.is_string() {
        // Debug quotes and escapes as `printable` does.
        format!("{:?}", text(v))
    } else {
        crate::text::printable(&text(v)).into_owned()
    }
}

/// A rule value as JSON, as decisions write it (see [`json_value`]).
pub(crate) fn to_json(v: &Dynamic) -> serde_json::Value {
    let mut out = Vec::new();
    json_value(&mut out, v);
    serde_json::from_slice(&out).expect("json_value writes valid JSON")
}

/// Writes `v` as a placeholder's `format` says: `Err` names what the format needs when `v` is
/// not that.
pub(crate) fn push_formatted(
    out: &mut String,
    v: &Dynamic,
    format: &Written,
) -> Result<(), &'static str> {
    match format {
        Written::Money => {
            let x = if let Ok(i) = v.as_int() {
                i as f64
            } else {
                v.as_float().map_err(|_| "a number")?
            };
            push_money(out, x);
        }
        Written::Date(items) => {
            let written = if let Some(d) = v.read_lock::<NaiveDate>() {
                write!(out, "{}", d.format_with_items(items.iter()))
            } else if let Some(t) = v.read_lock::<NaiveDateTime>() {
                write!(out, "{}", t.format_with_items(items.iter()))
            } else {
                return Err("a date");
            };
            // `check` refused patterns that cannot write the field's dates; a value of unknown
            // type may still meet one (a time code on a date).
            written.map_err(|_| "a date-time, for the time or zone codes of its pattern")?;
        }
    }
    Ok(())
}

/// `x` with two decimals, halves away from zero as `round_money` rounds, and `,` between
/// thousands: `1234.5` is `1,234.50`.
fn push_money(out: &mut String, x: f64) {
    let cents = crate::expr::round_to(Some(x), 2).unwrap_or(x);
    let digits = format!("{:.2}", cents.abs());
    let (whole, fraction) = digits.split_once('.').unwrap_or((&digits, "00"));
    if cents < 0.0 && digits.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push('.');
    out.push_str(fraction);
}

/// Appends [`text`] of `v` to `out`.
pub(crate) fn push_text(out: &mut String, v: &Dynamic) {
    if v.is_unit() {
    } else if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        out.push_str(&s);
    } else if let Some(d) = v.read_lock::<NaiveDate>() {
        let _ = write!(out, "{}", d.format("%Y-%m-%d"));
    } else if let Some(t) = v.read_lock::<NaiveDateTime>() {
        let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S"));
    } else if let Some(list) = v.read_lock::<rhai::Array>() {
        for (i, item) in list.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_text(out, item);
        }
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::{json_str, json_value, quoted_str, quoted_value, Quotes};
    use proptest::prelude::*;
    use rhai::Dynamic;

    /// What `json_value` writes for `v`.
    fn json(v: &Dynamic) -> String {
        let mut out = Vec::new();
        json_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    proptest! {
        /// A text is the JSON string serde_json writes, whether or not it needs escapes.
        #[test]
        fn json_strings_are_serde_jsons(s in "[a \"\\\\/\u{0}\u{1f}\u{7f}\u{85}é\n\t]{0,12}") {
            let mut out = Vec::new();
            json_str(&mut out, &s);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }

        /// With its quotes doubled, a text is the same JSON string with every quote twice.
        #[test]
        fn doubled_quotes_are_every_quote_twice(s in "[a \"\\\u{0}é\n]{0,12}") {
            let (mut plain, mut doubled) = (Vec::new(), Vec::new());
            quoted_str(&mut plain, &s, Quotes::Plain);
            quoted_str(&mut doubled, &s, Quotes::Doubled);
            let plain = String::from_utf8(plain).unwrap();
            prop_assert_eq!(String::from_utf8(doubled).unwrap(), plain.replace('"', "\"\""));
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_its_json() {
        let list: rhai::Array = vec![Dynamic::from_int(1), Dynamic::from("a\"b")];
        let mut map = rhai::Map::new();
        map.insert("k".into(), Dynamic::from_float(1.5));
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let cases = [
            (Dynamic::UNIT, "null"),
            (Dynamic::TRUE, "true"),
            (Dynamic::FALSE, "false"),
            (Dynamic::from_int(-42), "-42"),
            (Dynamic::from_float(0.1), "0.1"),
            (Dynamic::from_float(f64::NAN), "null"),
            (Dynamic::from("tab\there"), "\"tab\\there\""),
            (Dynamic::from(list), "[1,\"a\\\"b\"]"),
            (Dynamic::from_map(map), "{\"k\":1.5}"),
            (Dynamic::from(date), "\"2026-11-01\""),
        ];
        for (value, want) in cases {
            assert_eq!(json(&value), want, "{value:?}");
            // A value shared (as a closure captures it) is written as the value itself.
            assert_eq!(json(&value.clone().into_shared()), want, "shared {value:?}");
            let mut doubled = Vec::new();
            quoted_value(&mut doubled, &value, Quotes::Doubled);
            assert_eq!(
                String::from_utf8(doubled).unwrap(),
                want.replace('"', "\"\"")
            );
        }
    }
}
