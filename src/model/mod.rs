//! The rule-set model both formats load into. No parsing and no evaluation here.
//!
//! Every node keeps its [`Span`] (for diagnostics) and its [`Comments`] (for `fmt`); both compare
//! equal always, so equality means "the same rules", whichever file and format they came from.
//!
//! Later parts of idic extend [`RuleSet`] with new top-level vectors (population scores,
//! treatment policy, lifecycle stages, test cases) without touching the existing ones.

use crate::source::Span;
use chrono::NaiveDate;
use std::fmt;

mod kinds;
mod population;
mod template;
pub use kinds::{Activity, Arm, ChannelKind, FieldType, Suppression};
pub use population::*;
pub use template::{placeholders, Placeholder, PlaceholderError, TextFormat};

/// Comments written before (and on the same line after) a node; kept by `fmt`, not by TOML.
#[derive(Debug, Clone, Default)]
pub struct Comments {
    /// Comments above the node, as written (`// ...` or `/* ... */`).
    pub leading: Vec<String>,
    /// A comment after the node on its last line.
    pub trailing: Option<String>,
    /// The node was separated from the one before by a blank line.
    pub blank_before: bool,
}

impl PartialEq for Comments {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Comments {
    pub fn is_empty(&self) -> bool {
        self.leading.is_empty() && self.trailing.is_none()
    }
}

/// Comments inside a block, keyed by the keyword of the line they precede (`"when"`,
/// `"channel"`, ...) or by `"}"` for those before the closing brace.
#[derive(Debug, Clone, Default)]
pub struct InnerComments(pub std::collections::BTreeMap<&'static str, Comments>);

impl PartialEq for InnerComments {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl InnerComments {
    /// The comments before the line that starts with `keyword` (empty if none).
    pub fn get(&self, keyword: &str) -> Comments {
        self.0.get(keyword).cloned().unwrap_or_default()
    }
}

/// A value with the span it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A name the user chose (field, metric, segment, tier, trigger, action, parameter).
pub type Ident = Spanned<String>;

/// A rhai expression, kept as source text; `check` compiles it. Two expressions are equal when
/// their text is.
#[derive(Debug, Clone)]
pub struct Expr {
    pub source: String,
    /// Where the text sits in its file.
    pub span: Span,
    /// True when `source` is the file text at `span` byte for byte, so a position inside the
    /// expression maps to the file exactly; false when the format unescaped it (TOML strings).
    pub verbatim: bool,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// The whole rule set: the union of its files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    pub settings: Option<Settings>,
    pub schema: Option<Schema>,
    pub metrics: Vec<Metric>,
    pub segments: Vec<Segment>,
    pub tiers: Option<Tiers>,
    /// Lifecycle stages: first match, each naming its activity.
    pub lifecycle: Option<Tiers>,
    /// Where purchase history comes from.
    pub orders: Option<Orders>,
    /// How a log of contacts made outside idic is read (`idic history import`).
    pub contacts: Option<ContactLog>,
    /// Population scores.
    pub scores: Vec<Score>,
    /// Named segments over score cells.
    pub tables: Vec<CellTable>,
    /// The BG/NBD and Gamma-Gamma model.
    pub model: Option<Model>,
    pub triggers: Vec<Trigger>,
    /// Test cases: customers and what the rules must decide for them.
    pub tests: Vec<TestCase>,
    /// Comments after the last node of a file.
    pub end_comments: Comments,
}

impl RuleSet {
    /// The spans of the declarations named `name` (a field, metric, segment, score, table,
    /// tier, lifecycle stage or trigger; a stage may share its name with a segment).
    pub fn declarations(&self, name: &str) -> Vec<Span> {
        self.declared()
            .filter(|(n, _)| n.value == name)
            .map(|(_, span)| span)
            .collect()
    }

    /// Every name the rule set declares (fields, metrics, segments, scores, tables, tiers,
    /// lifecycle stages, triggers), with the span of its declaration.
    pub fn declared(&self) -> impl Iterator<Item = (&Ident, Span)> {
        let fields = self.schema.iter().flat_map(|s| &s.fields);
        let tiers = self
            .tiers
            .iter()
            .chain(&self.lifecycle)
            .flat_map(|t| &t.tiers);
        fields
            .map(|f| (&f.name, f.span))
            .chain(self.metrics.iter().map(|m| (&m.name, m.span)))
            .chain(self.segments.iter().map(|s| (&s.name, s.span)))
            .chain(self.scores.iter().map(|s| (&s.name, s.span)))
            .chain(self.tables.iter().map(|t| (&t.name, t.span)))
            .chain(tiers.map(|t| (&t.name, t.span)))
            .chain(self.triggers.iter().map(|t| (&t.name, t.span)))
    }

    /// The texts that mean no value in every column the rule set reads (`ruleset { missing
    /// ... }`).
    pub fn missing_words(&self) -> &[Spanned<String>] {
        self.settings.as_ref().map_or(&[], |s| &s.missing)
    }

    /// Every reason trigger `t` can be suppressed for, with its code as decisions and tests
    /// write it (`cooldown`, `holdout:winback`, `cap:email:7d`, `lost_to:welcome`), in the
    /// order of the treatment policy's steps. `suppressed_list` is always possible: the list
    /// is the run's.
    pub fn reasons(&self, t: usize) -> Vec<(Suppression, String)> {
        let trigger = &self.triggers[t];
        let settings = self.settings.as_ref();
        let marketing = trigger.service.is_none();
        let channel = trigger.channel.as_ref().map(|c| &c.kind.value);
        let mut out: Vec<(Suppression, String)> = Vec::new();
        let plain = |out: &mut Vec<(Suppression, String)>, why: Suppression, holds: bool| {
            if holds {
                out.push((why, why.plain_code().unwrap_or_default().to_string()));
            }
        };
        plain(&mut out, Suppression::Consent, marketing);
        plain(&mut out, Suppression::SuppressedList, true);
        let holdout = settings.is_some_and(|s| s.holdout.is_some());
        plain(&mut out, Suppression::Holdout, marketing && holdout);
        let reentry = trigger
            .reentry
            .as_ref()
            .is_some_and(|r| r.value != Reentry::Any);
        plain(&mut out, Suppression::Reentry, reentry);
        plain(&mut out, Suppression::Cooldown, trigger.cooldown.is_some());
        for (i, cap) in settings.iter().flat_map(|s| &s.caps).enumerate() {
            let applies = match &cap.scope.value {
                CapScope::Marketing => true,
                CapScope::Channel(c) => Some(c) == channel,
            };
            if marketing && applies {
                out.push((Suppression::Cap(i as u16), cap.code()));
            }
        }
        if trigger.holdout.is_some() {
            let code = format!("holdout:{}", trigger.name.value);
            out.push((Suppression::TriggerHoldout, code));
        }
        let max_triggers = settings.is_some_and(|s| s.max_triggers.is_some());
        let per_channel = settings.is_some_and(|s| s.max_per_channel.is_some());
        plain(&mut out, Suppression::MaxTriggers, max_triggers);
        plain(&mut out, Suppression::ChannelLimit, per_channel);
        if max_triggers || per_channel {
            let priority = |t: &Trigger| t.priority.as_ref().map_or(0, |p| p.value);
            for (u, other) in self.triggers.iter().enumerate() {
                if u != t && priority(other) == priority(trigger) {
                    let code = format!("lost_to:{}", other.name.value);
                    out.push((Suppression::LostTo(u as u16), code));
                }
            }
        }
        for e in settings.iter().flat_map(|s| &s.exclusions) {
            let other = if e.first.value == trigger.name.value {
                &e.second.value
            } else if e.second.value == trigger.name.value {
                &e.first.value
            } else {
                continue;
            };
            if let Some(u) = self.triggers.iter().position(|x| x.name.value == *other) {
                let why = Suppression::ExcludedBy(u as u16);
                if !out.iter().any(|(w, _)| *w == why) {
                    out.push((why, format!("excluded_by:{other}")));
                }
            }
        }
        plain(&mut out, Suppression::Volume, trigger.volume.is_some());
        out
    }

    /// True when the rule set declares nothing at all.
    pub fn is_empty(&self) -> bool {
        self.settings.is_none()
            && self.schema.is_none()
            && self.metrics.is_empty()
            && self.segments.is_empty()
            && self.tiers.is_none()
            && self.lifecycle.is_none()
            && self.orders.is_none()
            && self.contacts.is_none()
            && self.scores.is_empty()
            && self.tables.is_empty()
            && self.model.is_none()
            && self.triggers.is_empty()
            && self.tests.is_empty()
    }
}

/// `ruleset "name" { ... }`: identity and defaults of the rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: Spanned<String>,
    pub as_of: Option<Spanned<AsOf>>,
    /// Most triggers that fire per customer, highest priority first; `None` is all.
    pub max_triggers: Option<Spanned<u32>>,
    /// A share of customers held out of every trigger, for measuring.
    pub holdout: Option<Holdout>,
    /// Most triggers fired per customer on one channel in one run; `None` is no limit.
    pub max_per_channel: Option<Spanned<u32>>,
    /// Frequency caps over rolling windows, counting earlier contacts and this run's.
    pub caps: Vec<Cap>,
    /// Texts that mean no value in every column the rule set reads, e.g. `N/A`, `-`.
    pub missing: Vec<Spanned<String>>,
    /// Pairs of triggers never fired together for one customer in one run.
    pub exclusions: Vec<Exclusion>,
    /// Warnings of `check` silenced on purpose, each on one declaration.
    pub allows: Vec<Allow>,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// `cap email 3 per 7d`: at most `max` marketing contacts on the channel (or on every
/// channel, for `marketing`) within the last `window`, this run's included.
#[derive(Debug, Clone, PartialEq)]
pub struct Cap {
    pub scope: Spanned<CapScope>,
    pub max: Spanned<u32>,
    pub window: Spanned<Duration>,
    pub span: Span,
    pub comments: Comments,
}

impl Cap {
    /// The reason code of a contact this cap stops, its window in days however written:
    /// `cap:email:7d` for `per 1w`.
    pub fn code(&self) -> String {
        format!("cap:{}:{}d", self.scope.value, self.window.value.days())
    }
}

/// What a frequency cap counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapScope {
    /// The contacts on one channel.
    Channel(ChannelKind),
    /// The marketing contacts on every channel.
    Marketing,
}

impl fmt::Display for CapScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapScope::Channel(c) => write!(f, "{c}"),
            CapScope::Marketing => f.write_str("marketing"),
        }
    }
}

impl std::str::FromStr for CapScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "marketing" {
            return Ok(CapScope::Marketing);
        }
        s.parse()
            .map(CapScope::Channel)
            .map_err(|e: String| format!("{e}, or `marketing` for every channel"))
    }
}

/// `allow unused-segment on vip_watch`: warning `warning` of `check` silenced on the declaration
/// named `on` (a field, metric, segment, score, table, tier, stage or trigger), on purpose.
#[derive(Debug, Clone, PartialEq)]
pub struct Allow {
    pub warning: Spanned<String>,
    pub on: Ident,
    pub span: Span,
    pub comments: Comments,
}

/// `exclude winback with welcome_new`: never both for one customer in one run; the one
/// arbitration reaches second is suppressed as `excluded_by:<the other>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    pub first: Ident,
    pub second: Ident,
    pub span: Span,
    pub comments: Comments,
}

/// `holdout 5% salt "2026"`: the customers whose bucket ([`crate::plan::holdout_bucket`])
/// is below `percent * 100` are held out of every trigger (suppressed as `holdout:global`).
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    /// The share held out, in percent (0 to 100, at most two decimals).
    pub percent: Spanned<f64>,
    /// Mixed into the hash: another salt draws another group.
    pub salt: Spanned<String>,
    pub span: Span,
}

/// The date rules are evaluated at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Date(NaiveDate),
    /// The wall-clock date at run time; only when written explicitly.
    Today,
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            AsOf::Today => f.write_str("today"),
        }
    }
}

/// `customer { ... }`: how export columns become typed fields (IDIC "identify").
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub fields: Vec<Field>,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// One typed field read from an export column.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: Spanned<FieldType>,
    /// The export column's header, spaces and all.
    pub column: Spanned<String>,
    pub optional: bool,
    /// This field is the customer id (exactly one field is).
    pub key: bool,
    pub default: Option<Spanned<Literal>>,
    pub format: FieldFormat,
    pub span: Span,
    pub comments: Comments,
}

impl Field {
    /// A field of another file than the export (an orders file, a contact log), named `name`,
    /// read as type `ty` with `format`: what reading and checking its cells needs.
    pub fn of_column(name: &str, ty: FieldType, format: FieldFormat) -> Field {
        Field {
            name: Spanned::new(name.to_string(), Span::default()),
            ty: Spanned::new(ty, Span::default()),
            column: Spanned::new(String::new(), Span::default()),
            optional: false,
            key: false,
            default: None,
            format,
            span: Span::default(),
            comments: Comments::default(),
        }
    }
}

/// How one column is written in the export, where it differs from the plain defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldFormat {
    /// chrono formats for dates and datetimes, tried in order, e.g. `%m/%d/%Y` then
    /// `%Y-%m-%d`; none: ISO.
    pub dates: Vec<Spanned<String>>,
    /// Texts that mean no value, as an empty cell does, e.g. `N/A` (besides the rule set's).
    pub missing: Vec<Spanned<String>>,
    /// Words for true and false, e.g. `yes`/`no`.
    pub words: Option<Spanned<(String, String)>>,
    /// Currency symbol stripped from money, e.g. `$`.
    pub currency: Option<Spanned<String>>,
    /// Thousands separator stripped from numbers, e.g. `,`.
    pub thousands: Option<Spanned<String>>,
    /// The decimal mark of decimal and money cells, `.` or `,` (`.` when not declared).
    pub decimal: Option<Spanned<String>>,
    /// Separator between the items of a list, e.g. `;` or `|`.
    pub separator: Option<Spanned<String>>,
}

/// An option of [`FieldFormat`] that applies to some column types only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatOption {
    Format,
    Words,
    Currency,
    Thousands,
    Decimal,
    Separator,
}

impl FormatOption {
    /// Every type-bound option.
    pub const ALL: [FormatOption; 6] = [
        FormatOption::Format,
        FormatOption::Words,
        FormatOption::Currency,
        FormatOption::Thousands,
        FormatOption::Decimal,
        FormatOption::Separator,
    ];

    /// The option's keyword, e.g. `thousands`.
    pub fn word(self) -> &'static str {
        match self {
            FormatOption::Format => "format",
            FormatOption::Words => "words",
            FormatOption::Currency => "currency",
            FormatOption::Thousands => "thousands",
            FormatOption::Decimal => "decimal",
            FormatOption::Separator => "separator",
        }
    }
}

impl FieldFormat {
    /// The type-bound options given, each with where it is written (a list, its first item).
    pub fn given(&self) -> Vec<(FormatOption, Span)> {
        let span = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.span);
        [
            (FormatOption::Format, self.dates.first().map(|v| v.span)),
            (FormatOption::Words, self.words.as_ref().map(|v| v.span)),
            (FormatOption::Currency, span(&self.currency)),
            (FormatOption::Thousands, span(&self.thousands)),
            (FormatOption::Decimal, span(&self.decimal)),
            (FormatOption::Separator, span(&self.separator)),
        ]
        .into_iter()
        .filter_map(|(option, at)| Some((option, at?)))
        .collect()
    }
}

/// A literal value in the rule file (field defaults).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Decimal(f64),
    Bool(bool),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(d) if d.fract() == 0.0 && d.is_finite() => write!(f, "{d:.1}"),
            Literal::Decimal(d) => write!(f, "{d}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `metric name = expr`: a derived value per customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: Ident,
    pub expr: Expr,
    pub span: Span,
    pub comments: Comments,
}

/// `segment name = condition`: a boolean membership; a customer may be in many.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: Ident,
    pub condition: Expr,
    pub span: Span,
    pub comments: Comments,
}

/// A first-match list, last entry unconditional: `tiers { ... }` (value tiers) and
/// `lifecycle { ... }` (lifecycle stages, each naming the activity it serves).
#[derive(Debug, Clone, PartialEq)]
pub struct Tiers {
    pub tiers: Vec<Tier>,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// One tier or lifecycle stage; `condition` is `None` for `otherwise`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub name: Ident,
    /// The activity a lifecycle stage serves; `None` for value tiers.
    pub activity: Option<Spanned<Activity>>,
    pub condition: Option<Expr>,
    pub span: Span,
    pub comments: Comments,
}

/// `trigger name { ... }`: a customer-management activity (IDIC "interact").
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub name: Ident,
    pub activity: Option<Spanned<Activity>>,
    pub condition: Option<Expr>,
    pub channel: Option<Channel>,
    /// Higher fires first; default 0.
    pub priority: Option<Spanned<i64>>,
    /// A service (transactional) trigger, with the reason it needs no marketing consent:
    /// it skips marketing holdouts and caps.
    pub service: Option<Spanned<String>>,
    /// Least time between two contacts of one customer by this trigger, from the contact
    /// history.
    pub cooldown: Option<Spanned<Duration>>,
    /// Whether a customer this trigger has already entered (either arm) may enter it again.
    pub reentry: Option<Spanned<Reentry>>,
    /// The trigger's own holdout: its control arm, recorded and never contacted.
    pub holdout: Option<Holdout>,
    /// Most customers it contacts in one run, and which first.
    pub volume: Option<Volume>,
    pub actions: Vec<Action>,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// `volume 500 by model_clv`: at most `max` customers contacted by the trigger in one run,
/// the highest `rank` first (ties by a stable hash); the others are suppressed as `volume`.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub max: Spanned<u32>,
    pub rank: Expr,
    pub span: Span,
}

/// The channel a trigger speaks through and the consent field that governs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub kind: Spanned<ChannelKind>,
    /// A bool field; the trigger never fires for a customer whose consent is false or missing.
    pub consent: Option<Ident>,
    /// The field holding the customer's address on the channel (an email, a phone number),
    /// which decisions carry with each action.
    pub address: Option<Ident>,
    pub span: Span,
}

/// A duration such as `30d`, `2w` or `6m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    pub amount: u32,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Days,
    Weeks,
    Months,
}

impl Duration {
    /// The duration in days (a month counts 30).
    pub fn days(self) -> u32 {
        match self.unit {
            DurationUnit::Days => self.amount,
            DurationUnit::Weeks => self.amount.saturating_mul(7),
            DurationUnit::Months => self.amount.saturating_mul(30),
        }
    }
}

/// When a customer who entered a trigger may enter it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reentry {
    /// Once per customer, ever.
    Never,
    /// Again once this long has passed since the last entry.
    After(Duration),
    /// On any run (cooldown permitting).
    Any,
}

impl fmt::Display for Reentry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reentry::Never => f.write_str("never"),
            Reentry::After(d) => write!(f, "after {d}"),
            Reentry::Any => f.write_str("any"),
        }
    }
}

impl std::str::FromStr for Reentry {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        match words[..] {
            ["never"] => Ok(Reentry::Never),
            ["any"] => Ok(Reentry::Any),
            ["after", d] => d.parse().map(Reentry::After),
            _ => Err(format!(
                "expected `never`, `any` or `after` and a duration such as `after 180d`, found `{s}`"
            )),
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            DurationUnit::Days => 'd',
            DurationUnit::Weeks => 'w',
            DurationUnit::Months => 'm',
        };
        write!(f, "{}{unit}", self.amount)
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = || format!("expected a duration such as `30d`, `2w` or `6m`, found `{s}`");
        let unit = match s.chars().last() {
            Some('d') => DurationUnit::Days,
            Some('w') => DurationUnit::Weeks,
            Some('m') => DurationUnit::Months,
            _ => return Err(expected()),
        };
        let amount = s[..s.len() - 1].parse().map_err(|_| expected())?;
        Ok(Duration { amount, unit })
    }
}

/// What a trigger does for a customer (IDIC "customize").
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub name: Ident,
    pub template: Option<Spanned<String>>,
    pub offer: Option<Spanned<String>>,
    pub params: Vec<Param>,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// A named parameter computed per customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub value: ParamValue,
    pub span: Span,
    pub comments: Comments,
}

/// A parameter's value: a rhai expression, or a text with `{name}` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Expr(Expr),
    Template(Spanned<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        let d: Duration = "30d".parse().unwrap();
        assert_eq!(d.to_string(), "30d");
        assert!("30x".parse::<Duration>().is_err());
        assert!("d".parse::<Duration>().is_err());
    }
}

/// `test "name" { ... }`: a customer and what the rules must decide for them.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: Spanned<String>,
    /// The date to decide at; the rule set's `as_of` when `None`.
    pub as_of: Option<Spanned<chrono::NaiveDate>>,
    /// A row of an export the customer starts from, if any.
    pub from: Option<TestRow>,
    /// Field values (overriding the row's, when there is one), in the order written.
    pub values: Vec<TestField>,
    /// The customer's earlier contacts, for cooldowns and re-entry rules.
    pub history: Vec<PastContact>,
    pub expect: Expect,
    pub span: Span,
    pub comments: Comments,
    /// Comments before `as_of`, `from`, `customer`, `expect`, the customer block's closing
    /// brace (`"customer}"`) and the test's (`"}"`).
    pub inner: InnerComments,
}

/// `winback 20d ago` (or `... ago control`) in a test's `history` block: the trigger entered
/// that long before the test's `as_of`, in that arm (`treated` when not said).
#[derive(Debug, Clone, PartialEq)]
pub struct PastContact {
    pub trigger: Ident,
    pub ago: Spanned<Duration>,
    pub arm: Option<Spanned<Arm>>,
    pub comments: Comments,
}

/// `name = value` in a test's `customer` block.
#[derive(Debug, Clone, PartialEq)]
pub struct TestField {
    pub name: Ident,
    pub value: Spanned<TestValue>,
    pub comments: Comments,
}

/// A row of an export: `from "../../examples/customers.csv" id "C000101"` (or `row 3`).
#[derive(Debug, Clone, PartialEq)]
pub struct TestRow {
    /// The export, relative to the directory of the file the test is in.
    pub file: Spanned<String>,
    pub select: Spanned<RowSelect>,
}

/// Which row of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSelect {
    /// The row whose customer id is this.
    Id(String),
    /// The n-th data row, 1-based (the header is not a row).
    Row(u64),
}

/// A field value in a test, typed by its field: dates are written `"YYYY-MM-DD"`.
#[derive(Debug, Clone, PartialEq)]
pub enum TestValue {
    Str(String),
    Int(i64),
    Decimal(f64),
    Bool(bool),
    List(Vec<String>),
    /// No value (an empty cell).
    Missing,
}

impl fmt::Display for TestValue {
    /// As written in the DSL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestValue::Str(s) => write!(f, "{}", crate::text::quote(s)),
            TestValue::Int(i) => write!(f, "{i}"),
            TestValue::Decimal(d) => write!(f, "{}", Literal::Decimal(*d)),
            TestValue::Bool(b) => write!(f, "{b}"),
            TestValue::List(items) => {
                let items: Vec<String> = items.iter().map(|i| crate::text::quote(i)).collect();
                write!(f, "[{}]", items.join(", "))
            }
            TestValue::Missing => f.write_str("missing"),
        }
    }
}

/// What a test expects, by kind, each list in the order written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    /// Segments the customer must be in.
    pub segments: Vec<Ident>,
    /// Segments the customer must not be in.
    pub not_segments: Vec<Ident>,
    pub tier: Option<Ident>,
    /// The lifecycle stage.
    pub stage: Option<Ident>,
    /// Triggers that must fire.
    pub fires: Vec<Ident>,
    /// Triggers that must not fire.
    pub not_fires: Vec<Ident>,
    /// Action parameters: `action.param` or `trigger.action.param`, and the value.
    pub params: Vec<ExpectParam>,
    /// Triggers that must be suppressed, each with its reason.
    /// The reason is written as its code; `check` resolves it ([`RuleSet::reasons`]).
    pub suppressed: Vec<(Ident, Spanned<String>)>,
    /// Comments before the lines of each kind (`"segments"`, `"not segments"`, `"tier"`, `"stage"`,
    /// `"fires"`, `"not fires"`, `"suppressed"`) and before the closing brace (`"}"`).
    pub inner: InnerComments,
}

/// `param action.parameter = value` in an `expect` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectParam {
    /// `action.parameter` or `trigger.action.parameter`.
    pub path: Spanned<String>,
    pub value: Spanned<TestValue>,
    pub comments: Comments,
}

impl ExpectParam {
    /// The parts of a parameter path: the trigger (when named), the action and the parameter;
    /// `None` unless it has two or three parts.
    pub fn parts(path: &str) -> Option<(Option<&str>, &str, &str)> {
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            [a, p] => Some((None, *a, *p)),
            [t, a, p] => Some((Some(*t), *a, *p)),
            _ => None,
        }
    }
}

impl Expect {
    /// True when it expects nothing.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
            && self.not_segments.is_empty()
            && self.tier.is_none()
            && self.stage.is_none()
            && self.fires.is_empty()
            && self.not_fires.is_empty()
            && self.params.is_empty()
            && self.suppressed.is_empty()
    }
}
