//! Planning: a checked rule set turned into an evaluation plan: variable slots, the order metrics and
//! segments are computed in, tiers, triggers and actions by index, and every expression as
//! `check` compiled it, lowered once to native code where it can be. A [`Program`] is
//! `Send + Sync`: one program is shared by every worker thread, each with its own
//! [`crate::engine::Evaluator`] (its sandboxed engines and values) and nothing compiled again.

mod holdout;
mod layout;

use crate::check::Checked;
use crate::diagnostics::{Code, Diagnostic};
use crate::expr::{self, native::Native, ValueType};
use crate::history::{Reach, TriggerReach};
use crate::io::ReadAccess;
use crate::model::{
    placeholders, AsOf, CapScope, ChannelKind, Expr, FieldType, ParamValue, Reentry, RuleSet,
    Suppression, TextFormat, Trigger,
};
use crate::source::Sources;
pub use holdout::{holdout_bucket, stable_hash, HoldoutSplit, BUCKETS};
pub(crate) use layout::Layout;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// One expression of the rule set, with the rule it belongs to and the slots it reads.
#[derive(Debug)]
pub(crate) struct Unit {
    /// The kind of rule: `metric`, `segment`, `tier`, `trigger` or `parameter`.
    pub kind: &'static str,
    /// The rule's name; a parameter is named `action.parameter`.
    pub name: String,
    pub expr: Expr,
    /// The variables the expression reads, with their slots (each name once).
    pub reads: Vec<(String, usize)>,
    /// The expression as `check` compiled it.
    pub ast: rhai::AST,
    /// The expression lowered to native code, when it can be; rhai evaluates the rest (and
    /// whatever the native code leaves to it).
    pub native: Option<Native>,
    /// No decimal can appear in it: rhai's fast operators compute it alike
    /// ([`expr::decimal_free`]).
    pub decimal_free: bool,
}

/// A metric or segment to compute, in dependency order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Metric { index: usize, unit: usize },
    Segment { index: usize, unit: usize },
}

/// A value tier: its condition, `None` for `otherwise`.
#[derive(Debug, Clone)]
pub(crate) struct TierPlan {
    pub name: String,
    pub unit: Option<usize>,
    /// The activity a lifecycle stage serves (`None` for tiers).
    pub activity: Option<String>,
}

/// A trigger: its condition, consent slot, channel, treatment policy and actions.
#[derive(Debug, Clone)]
pub(crate) struct TriggerPlan {
    pub name: String,
    pub unit: usize,
    /// The consent field's slot; `None` for a service trigger, which needs none.
    pub consent: Option<usize>,
    /// The slot of the field holding the customer's address on the channel, if named.
    pub address: Option<usize>,
    pub priority: i64,
    pub channel: ChannelKind,
    /// Its channel's index in [`Program::channel_names`].
    pub channel_index: usize,
    /// Its activity's word, as outputs write it.
    pub activity: String,
    /// For a service (transactional) trigger, the reason it needs no marketing consent; such
    /// a trigger skips marketing holdouts and caps.
    pub service: Option<String>,
    /// Least days between two contacts by this trigger.
    pub cooldown: Option<u32>,
    pub reentry: Reentry,
    /// Its own holdout, which draws its control arm.
    pub holdout: Option<HoldoutSplit>,
    /// Its most contacts per run and the rank that chooses them.
    pub volume: Option<VolumePlan>,
    pub actions: Vec<ActionPlan>,
}

/// A trigger's `volume`: at most `max` customers per run, the highest `rank` (a unit) first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VolumePlan {
    pub max: usize,
    pub rank: usize,
}

/// A frequency cap: at most `max` marketing contacts within the last `days` days.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CapPlan {
    /// The channel it counts (an index of [`Program::channel_names`]); `None` for every channel.
    pub channel: Option<usize>,
    pub max: u32,
    pub days: u32,
}

impl CapPlan {
    /// Whether the cap counts contacts on channel `channel`.
    pub fn counts(&self, channel: usize) -> bool {
        self.channel.is_none_or(|c| c == channel)
    }
}

/// An action with its parameters.
#[derive(Debug, Clone)]
pub(crate) struct ActionPlan {
    pub name: String,
    pub template: Option<String>,
    pub offer: Option<String>,
    pub params: Vec<(String, ParamPlan)>,
}

/// How a parameter's value is made.
#[derive(Debug, Clone)]
pub(crate) enum ParamPlan {
    /// An expression (a unit).
    Expr(usize),
    /// A text with placeholders.
    Text(Vec<Piece>),
}

/// A piece of a parameter text.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Text(String),
    /// A placeholder: a value, printed as its format says, or its fallback when missing.
    Value {
        source: PieceSource,
        /// The placeholder as written, for error messages.
        written: String,
        format: Option<Written>,
        fallback: Option<String>,
    },
}

/// Where a placeholder's value comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PieceSource {
    Slot(usize),
    /// The `as_of` date.
    AsOf,
}

/// A table over score cells: its slot, name and segment names (rule order; a name may repeat).
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    pub slot: usize,
    pub name: String,
    pub segments: Vec<String>,
    /// The cells' rules.
    pub grid: crate::analytics::cells::Table,
    /// The slots of the R, F (and M) scores.
    pub axes: Vec<usize>,
}

/// A rule set ready to evaluate; `Send + Sync`, shared by all workers of a run.
#[derive(Debug)]
pub struct Program {
    rules: RuleSet,
    name: String,
    hash: String,
    /// What the rule set's tests may read.
    access: ReadAccess,
    /// Where each kind of value sits among the slots.
    layout: Layout,
    /// Slot names, in the layout's order (population variables as
    /// [`RuleSet::population_variables`] lists them).
    slots: Vec<String>,
    slot_of: HashMap<String, usize>,
    key: usize,
    /// Tables over score cells.
    tables: Vec<TablePlan>,
    pub(crate) units: Vec<Unit>,
    pub(crate) steps: Vec<Step>,
    pub(crate) tiers: Vec<TierPlan>,
    /// Lifecycle stages, tried in order (empty without a `lifecycle`).
    pub(crate) stages: Vec<TierPlan>,
    pub(crate) triggers: Vec<TriggerPlan>,
    /// The channels the triggers use, each once, in the order they first appear.
    channels: Vec<String>,
    pub(crate) max_triggers: Option<usize>,
    /// Most triggers per customer and run on one channel.
    pub(crate) max_per_channel: Option<usize>,
    /// Frequency caps, in declaration order.
    pub(crate) caps: Vec<CapPlan>,
    /// Per trigger, the triggers declared exclusive with it.
    pub(crate) excluded: Vec<Vec<usize>>,
    /// Per trigger, every reason it can be suppressed for, with its code.
    reasons: Vec<Vec<(Suppression, String)>>,
    /// The reasons summaries count, each with its label: one column for every `lost_to` and
    /// every `excluded_by` ([`reason_column`]).
    reason_columns: Vec<(Suppression, String)>,
    /// The global holdout, when the rule set declares one.
    pub(crate) holdout: Option<HoldoutSplit>,
    /// A trigger's channel names an address field (decisions carry addresses).
    addresses: bool,
    /// Where each test case is written.
    test_places: Vec<TestPlace>,
}

/// Where a test case is written: its file, line, and the directory its `from` paths are
/// relative to.
#[derive(Debug, Clone)]
pub struct TestPlace {
    pub file: std::path::PathBuf,
    pub line: usize,
    pub base: std::path::PathBuf,
}

/// A rule set that cannot become a program: I/O trouble or errors in its files.
#[derive(Debug)]
pub struct LoadError {
    /// What went wrong, each with its place.
    pub diagnostics: Vec<Diagnostic>,
    /// The files the diagnostics point into.
    pub sources: Sources,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = crate::diagnostics::render(
            &self.diagnostics,
            &self.sources,
            crate::diagnostics::Format::Plain,
            false,
        );
        f.write_str(text.trim_end())
    }
}

impl std::error::Error for LoadError {}

impl Program {
    /// Loads, checks and plans the rule set at `path` (a file or a directory), for embedding:
    /// `Err` carries the diagnostics (warnings do not stop a program).
    ///
    /// ```
    /// let program = idic::plan::Program::load(std::path::Path::new("rules/retail")).unwrap();
    /// assert_eq!(program.name(), "retail");
    /// ```
    pub fn load(path: &std::path::Path) -> Result<Program, LoadError> {
        Program::load_with(path, ReadAccess::rule_set(path))
    }

    /// [`Program::load`], its tests reading what `access` allows.
    pub fn load_with(path: &std::path::Path, access: ReadAccess) -> Result<Program, LoadError> {
        let checked = crate::check::check_path_with(path, access).map_err(|d| LoadError {
            diagnostics: vec![d],
            sources: Sources::default(),
        })?;
        Program::new(&checked).map_err(|diagnostics| LoadError {
            diagnostics,
            sources: checked.sources,
        })
    }

    /// The plan of a checked rule set. `Err` holds the errors when the rule set has any (render
    /// them with the checked sources); warnings do not prevent a program.
    pub fn new(checked: &Checked) -> Result<Program, Vec<Diagnostic>> {
        if checked.has_errors() {
            return Err(checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect());
        }
        let no_schema = || {
            vec![
                Diagnostic::error(Code::NoSchema, "the rule set has no `customer` schema")
                    .help("declare the export's columns in a `customer { ... }` block"),
            ]
        };
        let rules = &checked.rules;
        let schema = rules.schema.as_ref().ok_or_else(no_schema)?;
        let key = schema
            .fields
            .iter()
            .position(|f| f.key)
            .ok_or_else(no_schema)?;

        let population = rules.population_variables();
        let layout = Layout::new(
            schema.fields.len(),
            population.len(),
            rules.metrics.len(),
            rules.segments.len(),
        );
        // Each slot's name, and its type as far as the program knows it without check's
        // inference (metrics are unknown), in the layout's order: fields and population
        // variables by their declared type, segments `bool`, `tier` and `stage` strings.
        let (slots, slot_types): (Vec<String>, Vec<ValueType>) = schema
            .fields
            .iter()
            .map(|f| (f.name.value.clone(), ValueType::from(f.ty.value)))
            .chain(
                population
                    .iter()
                    .map(|v| (v.name.clone(), ValueType::from(v.ty))),
            )
            .chain(
                rules
                    .metrics
                    .iter()
                    .map(|m| (m.name.value.clone(), ValueType::Unknown)),
            )
            .chain(
                rules
                    .segments
                    .iter()
                    .map(|s| (s.name.value.clone(), ValueType::Bool)),
            )
            .chain([
                ("tier".to_string(), ValueType::Str),
                ("stage".to_string(), ValueType::Str),
            ])
            .unzip();
        debug_assert_eq!(slots.len(), layout.len());
        let slot_of: HashMap<String, usize> = slots
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();

        let mut builder = Builder {
            slot_of: &slot_of,
            slot_types: &slot_types,
            units: Vec::new(),
            asts: &checked.asts,
            compiler: None,
            errors: Vec::new(),
        };
        let metric_units: Vec<usize> = rules
            .metrics
            .iter()
            .map(|m| builder.unit("metric", &m.name.value, &m.expr))
            .collect();
        let segment_units: Vec<usize> = rules
            .segments
            .iter()
            .map(|s| builder.unit("segment", &s.name.value, &s.condition))
            .collect();
        let inputs = schema.fields.len() + population.len();
        let steps = dependency_order(inputs, &builder.units, &metric_units, &segment_units);

        let mut first_match =
            |list: &Option<crate::model::Tiers>, kind: &'static str| -> Vec<TierPlan> {
                list.iter()
                    .flat_map(|t| &t.tiers)
                    .map(|t| TierPlan {
                        name: t.name.value.clone(),
                        unit: t
                            .condition
                            .as_ref()
                            .map(|c| builder.unit(kind, &t.name.value, c)),
                        activity: t.activity.as_ref().map(|a| a.value.to_string()),
                    })
                    .collect()
            };
        let tiers = first_match(&rules.tiers, "tier");
        let stages = first_match(&rules.lifecycle, "stage");

        let mut triggers = Vec::new();
        let mut channels: Vec<String> = Vec::new();
        for t in &rules.triggers {
            let mut plan = builder.trigger(t)?;
            let name = plan.channel.to_string();
            plan.channel_index = match channels.iter().position(|c| *c == name) {
                Some(i) => i,
                None => {
                    channels.push(name);
                    channels.len() - 1
                }
            };
            triggers.push(plan);
        }
        if !builder.errors.is_empty() {
            return Err(builder.errors);
        }

        let test_places = rules
            .tests
            .iter()
            .map(|t| {
                let file = checked.sources.path(t.span.file).to_path_buf();
                let line = checked.sources.get(t.span.file).line_col(t.span.start).line;
                let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
                TestPlace { file, line, base }
            })
            .collect();
        let tables = rules
            .tables
            .iter()
            .filter_map(|t| {
                let grid = crate::analytics::declared::cell_table(t, &rules.scores)?;
                Some(TablePlan {
                    slot: slot_of[&t.name.value],
                    name: t.name.value.clone(),
                    segments: grid.rules().iter().map(|r| r.name.clone()).collect(),
                    axes: t.over.iter().map(|a| slot_of[&a.value]).collect(),
                    grid,
                })
            })
            .collect();
        let settings = rules.settings.as_ref();
        let caps = settings
            .iter()
            .flat_map(|s| &s.caps)
            .map(|c| CapPlan {
                channel: match &c.scope.value {
                    CapScope::Marketing => None,
                    // `check` refuses a cap on a channel no trigger uses; one would count
                    // nothing.
                    CapScope::Channel(kind) => {
                        let name = kind.to_string();
                        Some(
                            channels
                                .iter()
                                .position(|n| *n == name)
                                .unwrap_or(usize::MAX),
                        )
                    }
                },
                max: c.max.value,
                days: c.window.value.days(),
            })
            .collect();
        let reasons: Vec<Vec<(Suppression, String)>> = (0..rules.triggers.len())
            .map(|t| rules.reasons(t))
            .collect();
        // The triggers each one is excluded with, as its reasons name them.
        let excluded: Vec<Vec<usize>> = reasons
            .iter()
            .map(|list| {
                let by = |(why, _): &(Suppression, String)| match why {
                    Suppression::ExcludedBy(u) => Some(usize::from(*u)),
                    _ => None,
                };
                list.iter().filter_map(by).collect()
            })
            .collect();
        let mut reason_columns: Vec<(Suppression, String)> = Vec::new();
        for (why, code) in reasons.iter().flatten() {
            let column = reason_column(*why);
            if !reason_columns.iter().any(|(w, _)| *w == column) {
                let label = match column {
                    Suppression::TriggerHoldout => "holdout:trigger".to_string(),
                    Suppression::LostTo(_) => "lost_to".to_string(),
                    Suppression::ExcludedBy(_) => "excluded_by".to_string(),
                    _ => code.clone(),
                };
                reason_columns.push((column, label));
            }
        }
        reason_columns.sort_by_key(|(why, _)| *why);
        let addresses = triggers.iter().any(|t| t.address.is_some());
        Ok(Program {
            addresses,
            max_per_channel: settings
                .and_then(|s| s.max_per_channel.as_ref())
                .map(|m| m.value as usize),
            caps,
            excluded,
            reasons,
            reason_columns,
            test_places,
            name: settings.map_or_else(String::new, |s| s.name.value.clone()),
            hash: content_hash(&checked.sources),
            access: checked.access.clone(),
            max_triggers: settings
                .and_then(|s| s.max_triggers.as_ref())
                .map(|m| m.value as usize),
            holdout: settings
                .and_then(|s| s.holdout.as_ref())
                .map(|h| HoldoutSplit::new(h.percent.value, &h.salt.value)),
            units: builder.units,
            rules: rules.clone(),
            slots,
            slot_of,
            key,
            layout,
            tables,
            steps,
            tiers,
            stages,
            triggers,
            channels,
        })
    }

    /// The model the program was made from.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The rule set's name (`ruleset "retail"`), empty when it has none.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `sha256:` and the hex digest of the rule files (names and contents, in load order): the
    /// same files give the same hash wherever they are.
    pub fn content_hash(&self) -> &str {
        &self.hash
    }

    /// What the rule set's tests may read.
    pub fn access(&self) -> &ReadAccess {
        &self.access
    }

    /// The `as_of` the rule set declares, if any.
    pub fn default_as_of(&self) -> Option<AsOf> {
        self.rules
            .settings
            .as_ref()
            .and_then(|s| s.as_of.as_ref())
            .map(|a| a.value)
    }

    /// How the schema reads rows, with room for the population variables deciding appends.
    /// `Err`: a field's default does not fit its type.
    pub fn record_reader(&self) -> Result<crate::io::RecordReader, String> {
        crate::io::RecordReader::for_fields(self.fields(), self.rules.missing_words())
            .map(|reader| reader.with_room(self.inputs()))
    }

    /// The schema's fields, in declaration order (a record holds one value per field).
    pub fn fields(&self) -> &[crate::model::Field] {
        self.rules.schema.as_ref().map_or(&[], |s| &s.fields)
    }

    /// The index of the customer-id field.
    pub fn key_field(&self) -> usize {
        self.key
    }

    /// Fields holding money, by index: the summary sums them per tier.
    pub fn money_fields(&self) -> Vec<usize> {
        self.fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.ty.value == FieldType::Money)
            .map(|(i, _)| i)
            .collect()
    }

    /// Segment names, in declaration order.
    pub fn segment_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.rules.segments.iter().map(|s| s.name.value.as_str())
    }

    /// Tier names, in order.
    pub fn tier_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.tiers.iter().map(|t| t.name.as_str())
    }

    /// Trigger names, in declaration order.
    pub fn trigger_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.triggers.iter().map(|t| t.name.as_str())
    }

    /// The name of segment `i`.
    pub fn segment_name(&self, i: usize) -> &str {
        &self.rules.segments[i].name.value
    }

    /// The name of tier `i`.
    pub fn tier_name(&self, i: usize) -> &str {
        &self.tiers[i].name
    }

    /// The name of trigger `i`.
    pub fn trigger_name(&self, i: usize) -> &str {
        &self.triggers[i].name
    }

    /// How many actions trigger `t` has.
    pub fn action_count(&self, t: usize) -> usize {
        self.triggers[t].actions.len()
    }

    /// Action `a` of trigger `t`: its name, template and offer.
    pub fn action(&self, t: usize, a: usize) -> (&str, Option<&str>, Option<&str>) {
        let action = &self.triggers[t].actions[a];
        (
            &action.name,
            action.template.as_deref(),
            action.offer.as_deref(),
        )
    }

    /// The parameter names of action `a` of trigger `t`, in declaration order.
    pub fn param_names(&self, t: usize, a: usize) -> impl Iterator<Item = &str> {
        self.triggers[t].actions[a]
            .params
            .iter()
            .map(|(n, _)| n.as_str())
    }

    /// Every (trigger, action) pair in declaration order, with a flat index the summary counts by.
    pub fn actions(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.triggers
            .iter()
            .enumerate()
            .flat_map(|(t, trig)| (0..trig.actions.len()).map(move |a| (t, a)))
    }

    /// The flat index of action `a` of trigger `t` (see [`Program::actions`]).
    pub fn action_index(&self, t: usize, a: usize) -> usize {
        self.triggers[..t]
            .iter()
            .map(|t| t.actions.len())
            .sum::<usize>()
            + a
    }

    /// The global holdout, when the rule set declares one.
    pub fn holdout(&self) -> Option<&HoldoutSplit> {
        self.holdout.as_ref()
    }

    /// The reasons summaries count, in the order of the policy's steps, each with its label:
    /// a reason's code, but `holdout:trigger` for the triggers' own holdouts and one `lost_to`
    /// and one `excluded_by` for all triggers. `suppressed_list` is always among them.
    pub fn reason_columns(&self) -> &[(Suppression, String)] {
        &self.reason_columns
    }

    /// The column of [`Program::reason_columns`] that counts `why` (sorted by reason: found
    /// by a binary search).
    pub fn reason_column(&self, why: Suppression) -> usize {
        let column = reason_column(why);
        (self.reason_columns)
            .binary_search_by_key(&column, |(w, _)| *w)
            .unwrap_or_default()
    }

    /// Cap `c` in words: `3 email contacts per 7 days`.
    pub fn cap_words(&self, c: usize) -> String {
        let cap = &self.caps[c];
        let channel = cap
            .channel
            .map_or("marketing", |ch| self.channels[ch].as_str());
        format!("{} {channel} contacts per {} days", cap.max, cap.days)
    }

    /// Whether a trigger declares a `volume`, which needs the whole export ranked first.
    pub fn has_volume(&self) -> bool {
        self.triggers.iter().any(|t| t.volume.is_some())
    }

    /// Trigger `i`'s most contacts per run, when it declares a `volume`.
    pub fn trigger_volume(&self, i: usize) -> Option<usize> {
        self.triggers[i].volume.map(|v| v.max)
    }

    /// The code of reason `why` beside trigger `t`: `cooldown`, `holdout:winback`,
    /// `cap:email:7d`, `lost_to:welcome`.
    pub fn reason(&self, t: usize, why: Suppression) -> &str {
        // A trigger has a few reasons: a search through them is quicker than hashing.
        let reasons = self.reasons.get(t).map_or(&[][..], Vec::as_slice);
        reasons
            .iter()
            .find_map(|(w, code)| (*w == why).then_some(code.as_str()))
            .unwrap_or_default()
    }

    /// How far back its treatment policy reads the contact history: `None` when it reads
    /// none of it.
    pub fn history_reach(&self) -> Option<Reach> {
        let triggers = self.triggers.iter().map(|t| TriggerReach {
            entry: match t.reentry {
                Reentry::Never => u32::MAX,
                Reentry::After(d) => d.days(),
                Reentry::Any => 0,
            },
            contact: t.cooldown.unwrap_or(0),
        });
        let reach = Reach {
            triggers: triggers.collect(),
            caps: self.caps.iter().map(|c| c.days).max().unwrap_or(0),
        };
        (reach.days() != Some(0)).then_some(reach)
    }

    /// Most triggers fired per customer (`max_triggers`), `None` for all.
    pub fn max_triggers(&self) -> Option<usize> {
        self.max_triggers
    }

    /// Where test case `i` is written.
    pub fn test_place(&self, i: usize) -> &TestPlace {
        &self.test_places[i]
    }

    /// The condition of segment `i`: its source and the names it reads.
    pub fn segment_condition(&self, i: usize) -> (&str, Vec<&str>) {
        self.unit_text(self.segment_unit(i))
    }

    /// The unit of segment `i`'s condition.
    pub(crate) fn segment_unit(&self, i: usize) -> usize {
        (self.steps.iter())
            .find_map(|s| match *s {
                Step::Segment { index, unit } if index == i => Some(unit),
                _ => None,
            })
            .expect("every segment is a step")
    }

    /// The text of unit `unit`'s expression and what `check` compiled it to.
    pub(crate) fn unit_source(&self, unit: usize) -> (&str, &rhai::AST) {
        let u = &self.units[unit];
        (&u.expr.source, &u.ast)
    }

    /// Whether the rule set declares a lifecycle.
    pub fn has_lifecycle(&self) -> bool {
        !self.stages.is_empty()
    }

    /// Whether a trigger's channel names an address field (decisions then carry addresses).
    pub fn has_addresses(&self) -> bool {
        self.addresses
    }

    /// Lifecycle stage names, in the order they are tried.
    pub fn stage_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.stages.iter().map(|t| t.name.as_str())
    }

    /// The name of lifecycle stage `i`.
    pub fn stage_name(&self, i: usize) -> &str {
        &self.stages[i].name
    }

    /// The activity lifecycle stage `i` serves.
    pub fn stage_activity(&self, i: usize) -> &str {
        self.stages[i].activity.as_deref().unwrap_or("")
    }

    /// The condition of lifecycle stage `i` (`None` for `otherwise`).
    pub fn stage_condition(&self, i: usize) -> Option<(&str, Vec<&str>)> {
        self.stages[i].unit.map(|u| self.unit_text(u))
    }

    /// The condition of tier `i` (`None` for `otherwise`).
    pub fn tier_condition(&self, i: usize) -> Option<(&str, Vec<&str>)> {
        self.tiers[i].unit.map(|u| self.unit_text(u))
    }

    /// The condition of trigger `i`.
    pub fn trigger_condition(&self, i: usize) -> (&str, Vec<&str>) {
        self.unit_text(self.triggers[i].unit)
    }

    /// How parameter `p` of action `a` of trigger `t` is made: the expression's source and the
    /// names it reads, or `None` for a text with placeholders.
    pub fn param_expression(&self, t: usize, a: usize, p: usize) -> Option<(&str, Vec<&str>)> {
        match self.triggers[t].actions[a].params[p].1 {
            ParamPlan::Expr(unit) => Some(self.unit_text(unit)),
            ParamPlan::Text(_) => None,
        }
    }

    /// The priority of trigger `i` (0 when it declares none); higher fires first.
    pub fn trigger_priority(&self, i: usize) -> i64 {
        self.triggers[i].priority
    }

    /// The consent field of trigger `i`; `None` for a service trigger.
    pub fn trigger_consent(&self, i: usize) -> Option<&str> {
        self.triggers[i]
            .consent
            .map(|slot| self.slots[slot].as_str())
    }

    /// Trigger `i`'s re-entry rule and cooldown in words, e.g. `re-entry any, cooldown 30 days`.
    pub fn trigger_policy(&self, i: usize) -> String {
        let t = &self.triggers[i];
        let reentry = match t.reentry {
            Reentry::Never => "enters once".to_string(),
            Reentry::After(d) => format!("enters again {} days after the last entry", d.days()),
            Reentry::Any => "enters any time".to_string(),
        };
        match t.cooldown {
            Some(days) => format!("{reentry}, cooldown {days} days after the last contact"),
            None => reentry,
        }
    }

    /// The channels the triggers use, each once, in the order they first appear.
    pub fn channel_names(&self) -> Vec<&str> {
        self.channels.iter().map(String::as_str).collect()
    }

    /// Trigger `i`'s own holdout, when it declares one.
    pub fn trigger_holdout(&self, i: usize) -> Option<&HoldoutSplit> {
        self.triggers[i].holdout.as_ref()
    }

    /// The channel of trigger `i`, as outputs write it (`email`, `custom:whatsapp`).
    pub fn trigger_channel(&self, i: usize) -> &str {
        &self.channels[self.triggers[i].channel_index]
    }

    /// The activity of trigger `i`, as outputs write it.
    pub fn trigger_activity(&self, i: usize) -> &str {
        &self.triggers[i].activity
    }

    /// For a service (transactional) trigger, the reason it needs no marketing consent.
    pub fn trigger_service_reason(&self, i: usize) -> Option<&str> {
        self.triggers[i].service.as_deref()
    }

    fn unit_text(&self, unit: usize) -> (&str, Vec<&str>) {
        let u = &self.units[unit];
        (
            u.expr.source.as_str(),
            u.reads.iter().map(|(n, _)| n.as_str()).collect(),
        )
    }

    pub(crate) fn slot_count(&self) -> usize {
        self.layout.len()
    }

    pub(crate) fn slot_of(&self, name: &str) -> Option<usize> {
        self.slot_of.get(name).copied()
    }

    /// Where each kind of value sits among the slots.
    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    /// How many tables over score cells the rule set declares.
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// The name of table `t`.
    pub fn table_name(&self, t: usize) -> &str {
        &self.tables[t].name
    }

    /// How many rules table `t` has.
    pub fn table_rules(&self, t: usize) -> usize {
        self.tables[t].segments.len()
    }

    /// The segment of rule `i` of table `t`.
    pub fn table_segment(&self, t: usize, i: usize) -> &str {
        &self.tables[t].segments[i]
    }

    /// Fills in the tables a customer's values leave missing from its scores, when it has them
    /// (a test's customer gives scores; a run's population gives tables too).
    pub fn fill_tables(&self, values: &mut [rhai::Dynamic]) {
        for table in &self.tables {
            if !values.get(table.slot).is_some_and(rhai::Dynamic::is_unit) {
                continue;
            }
            let score = |axis: usize| {
                let slot = *table.axes.get(axis)?;
                u8::try_from(values[slot].as_int().ok()?).ok()
            };
            let (Some(r), Some(f)) = (score(0), score(1)) else {
                continue;
            };
            let m = score(2);
            if table.axes.len() > 2 && m.is_none() {
                continue;
            }
            if let Some(i) = table.grid.assign(r, f, m) {
                values[table.slot] =
                    rhai::Dynamic::from(rhai::ImmutableString::from(table.segments[i].as_str()));
            }
        }
    }

    /// The rule of table `t` a customer's slot values put it under (the first rule with its
    /// segment name: rules sharing a name count as one segment).
    pub(crate) fn table_cell(&self, t: usize, slots: &[rhai::Dynamic]) -> Option<usize> {
        let table = &self.tables[t];
        let value = slots[table.slot].read_lock::<rhai::ImmutableString>()?;
        table
            .segments
            .iter()
            .position(|s| s.as_str() == value.as_str())
    }

    /// The segment names of table `t`, each once, in rule order.
    pub fn table_segments(&self, t: usize) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.tables[t].segments {
            if !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }

    /// How many values a customer comes with: its fields, then its population variables.
    pub fn inputs(&self) -> usize {
        self.layout.inputs()
    }
}

/// Collects the units: each expression as `check` compiled it, what it reads, its lowering.
struct Builder<'a> {
    slot_of: &'a HashMap<String, usize>,
    slot_types: &'a [ValueType],
    units: Vec<Unit>,
    /// The expressions as `check` compiled them.
    asts: &'a expr::Asts,
    /// For a `Checked` made by hand, without `check`'s trees: a sandbox and the names in
    /// scope to compile them with, made once.
    compiler: Option<(rhai::Engine, expr::Visible)>,
    /// The expressions of such a `Checked` that do not compile.
    errors: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn trigger(&mut self, t: &Trigger) -> Result<TriggerPlan, Vec<Diagnostic>> {
        // `check` reports a trigger without a condition, channel or activity, or a marketing
        // trigger without a bool consent field, as an error.
        let consent = t
            .channel
            .as_ref()
            .and_then(|c| c.consent.as_ref())
            .and_then(|c| self.slot_of.get(&c.value).copied());
        let service = t.service.as_ref().map(|r| r.value.clone());
        let (Some(condition), Some(channel), Some(activity), true) = (
            &t.condition,
            &t.channel,
            &t.activity,
            service.is_some() || consent.is_some(),
        ) else {
            return Err(vec![Diagnostic::error(
                Code::MissingProperty,
                format!(
                    "trigger `{}` has no condition, channel, activity or consent field",
                    t.name.value
                ),
            )
            .at(t.name.span)]);
        };
        let unit = self.unit("trigger", &t.name.value, condition);
        let mut actions = Vec::new();
        for a in &t.actions {
            let mut params = Vec::new();
            for p in &a.params {
                let plan = match &p.value {
                    ParamValue::Expr(e) => {
                        let name = format!("{}.{}", a.name.value, p.name.value);
                        ParamPlan::Expr(self.unit("parameter", &name, e))
                    }
                    ParamValue::Template(text) => {
                        ParamPlan::Text(pieces(&text.value, self.slot_of))
                    }
                };
                params.push((p.name.value.clone(), plan));
            }
            actions.push(ActionPlan {
                name: a.name.value.clone(),
                template: a.template.as_ref().map(|s| s.value.clone()),
                offer: a.offer.as_ref().map(|s| s.value.clone()),
                params,
            });
        }
        Ok(TriggerPlan {
            name: t.name.value.clone(),
            unit,
            consent: consent.filter(|_| service.is_none()),
            address: channel
                .address
                .as_ref()
                .and_then(|a| self.slot_of.get(&a.value).copied()),
            priority: t.priority.as_ref().map_or(0, |p| p.value),
            channel: channel.kind.value.clone(),
            channel_index: 0,
            activity: activity.value.to_string(),
            service,
            cooldown: t.cooldown.as_ref().map(|d| d.value.days()),
            reentry: t.reentry.as_ref().map_or(Reentry::Any, |r| r.value),
            holdout: t
                .holdout
                .as_ref()
                .map(|h| HoldoutSplit::new(h.percent.value, &h.salt.value)),
            volume: t.volume.as_ref().map(|v| VolumePlan {
                max: v.max.value as usize,
                rank: self.unit("volume", &t.name.value, &v.rank),
            }),
            actions,
        })
    }

    fn unit(&mut self, kind: &'static str, name: &str, expr: &Expr) -> usize {
        let ast = match self.asts.get(expr) {
            Some(ast) => ast.clone(),
            // Only a rule set `check` did not see gets here: compiled now.
            None => {
                let slot_of = self.slot_of;
                let (engine, visible) = self.compiler.get_or_insert_with(|| {
                    let names = slot_of.keys().map(String::as_str);
                    (
                        expr::engine(chrono::NaiveDate::MIN),
                        expr::Visible::new(names),
                    )
                });
                expr::compile_in(engine, expr, visible).unwrap_or_else(|d| {
                    self.errors.push(d);
                    rhai::AST::empty()
                })
            }
        };
        let mut reads: Vec<(String, usize)> = Vec::new();
        for (name, _) in expr::references(&ast) {
            if let Some(&slot) = self.slot_of.get(&name) {
                if !reads.iter().any(|(n, _)| *n == name) {
                    reads.push((name, slot));
                }
            }
        }
        let slot_of = |name: &str| self.slot_of.get(name).copied();
        let native = Native::lower(&ast, &slot_of);
        // Only what rhai evaluates runs in either engine.
        let slot_type = |name: &str| match slot_of(name) {
            Some(slot) => Some(self.slot_types[slot]),
            None => (name == "as_of").then_some(ValueType::Date),
        };
        let decimal_free = native.is_none() && expr::decimal_free(&ast, &slot_type);
        self.units.push(Unit {
            kind,
            name: name.to_string(),
            expr: expr.clone(),
            reads,
            ast,
            native,
            decimal_free,
        });
        self.units.len() - 1
    }
}

/// The summary column that counts `why`: one for every `lost_to` and one for every
/// `excluded_by`.
fn reason_column(why: Suppression) -> Suppression {
    match why {
        Suppression::LostTo(_) => Suppression::LostTo(0),
        Suppression::ExcludedBy(_) => Suppression::ExcludedBy(0),
        other => other,
    }
}

/// Metrics and segments ordered so each comes after what it reads; metrics first (they never
/// read segments), each kind in declaration order where dependencies allow.
fn dependency_order(
    inputs: usize,
    units: &[Unit],
    metric_units: &[usize],
    segment_units: &[usize],
) -> Vec<Step> {
    let steps: Vec<Step> = metric_units
        .iter()
        .enumerate()
        .map(|(index, &unit)| Step::Metric { index, unit })
        .chain(
            segment_units
                .iter()
                .enumerate()
                .map(|(index, &unit)| Step::Segment { index, unit }),
        )
        .collect();
    // Step `i` computes slot `inputs + i`: metrics then segments, after the fields and the
    // population variables, as laid out.
    let step_of_slot = |slot: usize| slot.checked_sub(inputs).filter(|&i| i < steps.len());
    let mut order = Vec::with_capacity(steps.len());
    let mut state = vec![0u8; steps.len()]; // 0 new, 1 visiting, 2 done
    fn visit(
        i: usize,
        steps: &[Step],
        units: &[Unit],
        step_of_slot: &dyn Fn(usize) -> Option<usize>,
        state: &mut [u8],
        order: &mut Vec<Step>,
    ) {
        if state[i] != 0 {
            return; // done, or a cycle (`check` rejects those)
        }
        state[i] = 1;
        let unit = match steps[i] {
            Step::Metric { unit, .. } | Step::Segment { unit, .. } => unit,
        };
        for &(_, slot) in &units[unit].reads {
            if let Some(dep) = step_of_slot(slot) {
                visit(dep, steps, units, step_of_slot, state, order);
            }
        }
        state[i] = 2;
        order.push(steps[i]);
    }
    for i in 0..steps.len() {
        visit(i, &steps, units, &step_of_slot, &mut state, &mut order);
    }
    order
}

/// A parameter text split into literal text and placeholders.
fn pieces(text: &str, slot_of: &HashMap<String, usize>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut at = 0;
    let unescape = |s: &str| s.replace("{{", "{").replace("}}", "}");
    // `check` refused texts with a placeholder it cannot read or an unknown name.
    for p in placeholders(text).into_iter().flatten() {
        literal.push_str(&unescape(&text[at..p.range.start]));
        at = p.range.end;
        let source = match slot_of.get(p.name) {
            Some(&slot) => PieceSource::Slot(slot),
            None if p.name == "as_of" => PieceSource::AsOf,
            None => {
                literal.push_str(&text[p.range.clone()]);
                continue;
            }
        };
        if !literal.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut literal)));
        }
        out.push(Piece::Value {
            source,
            written: text[p.range.clone()].to_string(),
            format: p.format.map(Into::into),
            fallback: p.fallback.map(str::to_string),
        });
    }
    literal.push_str(&unescape(&text[at..]));
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    out
}

/// `sha256:<hex>` over each file's name and text, in load order.
fn content_hash(sources: &Sources) -> String {
    let mut hasher = Sha256::new();
    for (_, file) in sources.iter() {
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((file.text.len() as u64).to_le_bytes());
        hasher.update(file.text.as_bytes());
    }
    format!("sha256:{}", crate::io::digest::hex(&hasher.finalize()))
}

/// How a placeholder writes its value ([`TextFormat`]), a date pattern parsed once per rule
/// set rather than at every customer's text.
#[derive(Debug, Clone)]
pub(crate) enum Written {
    Money,
    Date(Box<[chrono::format::Item<'static>]>),
}

impl From<TextFormat> for Written {
    fn from(format: TextFormat) -> Written {
        use chrono::format::{Item, StrftimeItems};
        match format {
            TextFormat::Money => Written::Money,
            // `check` refused a pattern chrono cannot read; were one to pass, it writes an error.
            TextFormat::Date(pattern) => {
                Written::Date(StrftimeItems::new(&pattern).parse_to_owned().map_or_else(
                    |_| Box::new([Item::Error]) as Box<[_]>,
                    Vec::into_boxed_slice,
                ))
            }
        }
    }
}
