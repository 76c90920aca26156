//! What a run did, counted: rows read, decided and rejected (these reconcile), and counts per
//! segment, tier, trigger, action, suppression reason and reject reason, with the money per
//! tier. Workers count their batches in a [`Tally`]; the writer adds the tallies in input order,
//! so sums of money are the same whatever the number of threads.

use crate::analytics::scores::MethodKind;
use crate::engine::population::{FitReport, PopulationReport};
use crate::engine::{Decision, Suppression};
use crate::expr::round;
use crate::io::{Reject, RejectCode};
use crate::model::WithoutOrders;
use crate::plan::Program;
use crate::text::{group, group_decimal, printable};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Counts over some rows.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub rows: u64,
    pub decided: u64,
    pub rejected: u64,
    /// Per segment.
    pub segments: Vec<u64>,
    /// Per tier.
    pub tiers: Vec<u64>,
    /// Per tier, then per money field (tier-major).
    pub tier_money: Vec<MoneySum>,
    /// Per lifecycle stage.
    pub stages: Vec<u64>,
    /// Per trigger: how often it fired.
    pub fired: Vec<u64>,
    /// Per trigger and [`Suppression`] (trigger-major).
    pub suppressed: Vec<u64>,
    /// Per action (flat index, see [`Program::actions`]).
    pub actions: Vec<u64>,
    /// Per table over score cells: per rule, then customers in no rule's cell.
    pub cells: Vec<u64>,
    /// Rejects by code and column or rule.
    pub rejects: BTreeMap<(RejectCode, String), u64>,
    /// CSV rows that run over several lines (a quoted cell holding line breaks, or a quote
    /// left open that a later quote closed, taking the rows between into its cell).
    pub spanning: u64,
    /// The first [`Tally::SPANNING_SHOWN`] of them, as their first and last lines.
    pub first_spanning: Vec<(u64, u64)>,
}

impl Tally {
    /// Zero counts shaped for `program`.
    pub fn new(program: &Program) -> Tally {
        let tiers = program.tier_names().len();
        let triggers = program.trigger_names().len();
        Tally {
            segments: vec![0; program.segment_names().len()],
            tiers: vec![0; tiers],
            tier_money: vec![MoneySum::default(); tiers * program.money_fields().len()],
            stages: vec![0; program.stage_names().len()],
            fired: vec![0; triggers],
            suppressed: vec![0; triggers * program.reason_columns().len()],
            actions: vec![0; program.actions().count()],
            cells: vec![0; cell_offset(program, program.table_count())],
            ..Tally::default()
        }
    }

    /// Zero counts shaped for `program`, reusing this tally's buffers.
    pub fn reset(&mut self, program: &Program) {
        let shaped = Tally::new(program);
        let lengths = |t: &Tally| {
            [
                t.segments.len(),
                t.tiers.len(),
                t.tier_money.len(),
                t.stages.len(),
                t.fired.len(),
                t.suppressed.len(),
                t.actions.len(),
                t.cells.len(),
            ]
        };
        if lengths(self) != lengths(&shaped) {
            *self = shaped;
            return;
        }
        self.rows = 0;
        self.decided = 0;
        self.rejected = 0;
        for counts in [
            &mut self.segments,
            &mut self.tiers,
            &mut self.stages,
            &mut self.fired,
            &mut self.suppressed,
            &mut self.actions,
            &mut self.cells,
        ] {
            counts.fill(0);
        }
        self.tier_money.fill(MoneySum::default());
        self.rejects.clear();
        self.spanning = 0;
        self.first_spanning.clear();
    }

    /// How many rows running over several lines the summary names.
    pub const SPANNING_SHOWN: usize = 5;

    /// Notes where a row is, when it runs over several lines.
    pub fn row_at(&mut self, first_line: u64, last_line: u64) {
        if last_line > first_line {
            self.spanning += 1;
            if self.first_spanning.len() < Self::SPANNING_SHOWN {
                self.first_spanning.push((first_line, last_line));
            }
        }
    }

    /// Counts a decision; `money` holds the customer's money fields (missing ones as `None`).
    pub fn decided(&mut self, program: &Program, decision: &Decision, money: &[Option<f64>]) {
        self.rows += 1;
        self.decided += 1;
        for &s in &decision.segments {
            self.segments[s] += 1;
        }
        if let Some(t) = decision.tier {
            self.tiers[t] += 1;
            for (i, m) in money.iter().enumerate() {
                self.tier_money[t * money.len() + i] += MoneySum::of(m.unwrap_or(0.0));
            }
        }
        if let Some(s) = decision.stage {
            self.stages[s] += 1;
        }
        for &t in &decision.fired {
            self.fired[t] += 1;
        }
        let reasons = program.reason_columns().len();
        for &(t, why) in &decision.suppressed {
            self.suppressed[t * reasons + program.reason_column(why)] += 1;
        }
        for a in &decision.actions {
            self.actions[program.action_index(a.trigger, a.action)] += 1;
        }
        for (t, cell) in decision.cells.iter().enumerate() {
            let rule = cell.unwrap_or(program.table_rules(t));
            self.cells[cell_offset(program, t) + rule] += 1;
        }
    }

    /// Counts a reject.
    pub fn rejected(&mut self, reject: &Reject) {
        self.rows += 1;
        self.rejected += 1;
        let at = reject
            .column
            .clone()
            .or_else(|| reject.rule.clone())
            .unwrap_or_default();
        *self.rejects.entry((reject.code, at)).or_default() += 1;
    }

    /// Adds `other`'s counts (money sums in the order of the calls).
    pub fn add(&mut self, other: &Tally) {
        self.rows += other.rows;
        self.decided += other.decided;
        self.rejected += other.rejected;
        let sum = |a: &mut Vec<u64>, b: &Vec<u64>| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        sum(&mut self.segments, &other.segments);
        sum(&mut self.tiers, &other.tiers);
        sum(&mut self.stages, &other.stages);
        sum(&mut self.fired, &other.fired);
        sum(&mut self.suppressed, &other.suppressed);
        sum(&mut self.actions, &other.actions);
        sum(&mut self.cells, &other.cells);
        for (a, b) in self.tier_money.iter_mut().zip(&other.tier_money) {
            *a += *b;
        }
        for (key, n) in &other.rejects {
            *self.rejects.entry(key.clone()).or_default() += n;
        }
        self.spanning += other.spanning;
        let room = Self::SPANNING_SHOWN.saturating_sub(self.first_spanning.len());
        self.first_spanning
            .extend(other.first_spanning.iter().take(room).copied());
    }
}

/// Where the counts of table `t` start in [`Tally::cells`] (`t` = the table count: their size).
fn cell_offset(program: &Program, t: usize) -> usize {
    (0..t).map(|t| program.table_rules(t) + 1).sum()
}

/// The report of a run, in the shape of its JSON rendering.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub rule_set: RuleSetInfo,
    pub as_of: String,
    pub input: InputInfo,
    pub rows: Rows,
    /// Present when rows ran over several lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spanning: Option<Spanning>,
    pub rejects: Vec<RejectCount>,
    /// Orders, score edges and the model (absent when the rule set declares none).
    #[serde(skip_serializing_if = "PopulationReport::is_empty")]
    pub population: PopulationReport,
    pub segments: Vec<Count>,
    pub tiers: Vec<TierCount>,
    /// Customers per lifecycle stage (absent without a lifecycle).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lifecycle: Vec<StageCount>,
    /// Customers per segment of each table over score cells (absent without tables).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableCount>,
    pub triggers: Vec<TriggerCount>,
    pub actions: Vec<ActionCount>,
    /// Suppressed trigger firings by reason code.
    pub suppressed: Vec<Count>,
    /// The reason each of `suppressed` (and each trigger's) counts.
    #[serde(skip)]
    pub reasons: Vec<Suppression>,
    pub threads: usize,
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleSetInfo {
    pub name: String,
    pub path: String,
    pub content_hash: String,
    /// How many warnings `idic check` gives the rule set.
    pub warnings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputInfo {
    pub path: String,
    pub format: &'static str,
}

/// Rows read = decided + rejected.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Rows {
    pub read: u64,
    pub decided: u64,
    pub rejected: u64,
}

/// CSV rows that ran over several lines, when there are any: a quoted cell holding line breaks,
/// or a quote left open that a later quote closed (the rows between are in that cell).
#[derive(Debug, Clone, Serialize)]
pub struct Spanning {
    pub rows: u64,
    /// The first ones, as `[first line, last line]`.
    pub lines: Vec<(u64, u64)>,
}

impl Spanning {
    /// "2 rows run over several lines (lines 3 to 5, 9 to 10): ...".
    pub fn sentence(&self) -> String {
        let ranges: Vec<String> = self
            .lines
            .iter()
            .map(|(a, b)| format!("{a} to {b}"))
            .collect();
        let more = if self.rows > self.lines.len() as u64 {
            ", ..."
        } else {
            ""
        };
        format!(
            "{} row{} over several lines (lines {}{more}): a quoted cell holding line breaks, \
             or a quote left open that swallowed the rows after it",
            group(self.rows),
            if self.rows == 1 { " runs" } else { "s run" },
            ranges.join(", ")
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RejectCount {
    pub code: &'static str,
    /// The column or rule at fault (empty when neither, e.g. a row with too many cells).
    #[serde(rename = "where")]
    pub at: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierCount {
    pub name: String,
    pub customers: u64,
    /// Per money field of the schema: the sum over the tier's customers, to the cent.
    pub value: Vec<FieldSum>,
}

/// Customers per segment of a table over score cells.
#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    pub name: String,
    /// Segments in rule order (rules sharing a name counted together).
    pub segments: Vec<Count>,
    /// Customers without scores, or in a cell no rule takes.
    pub none: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageCount {
    pub name: String,
    /// The activity the stage serves.
    pub activity: String,
    pub customers: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldSum {
    pub field: String,
    pub sum: MoneySum,
}

/// An exact sum of money, in millionths of the currency unit: each amount (below
/// [`crate::io::cells::MAX_MONEY`]) is added as its whole cents when it is one, as a decimal
/// holds it within its precision, else to the millionth (`0.004`, a fuel price's `3.499`), in
/// 128 bits that no number of customers fills. Shown to the cent, rounded once, at the end;
/// JSON writes it as a number with two decimals, digit for digit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoneySum(pub i128);

/// Millionths in a cent.
const PER_CENT: i128 = 10_000;

impl MoneySum {
    /// An amount: whole cents when it is some, else millionths.
    pub fn of(amount: f64) -> MoneySum {
        let cents = round(amount * 100.0);
        let millionths = round(amount * 1e6);
        // How far off a decimal of this size may be, in millionths.
        let slack = (amount.abs() * f64::EPSILON * 1e6).max(50.0);
        MoneySum(if (millionths - cents * 1e4).abs() <= slack {
            // Cents of an amount below MAX_MONEY fit 64 bits: converted without the 128-bit
            // routine.
            let cents = if cents.abs() < 9e18 {
                i128::from(cents as i64)
            } else {
                cents as i128
            };
            cents * PER_CENT
        } else {
            millionths as i128
        })
    }

    /// The sum in whole cents, halves away from zero.
    fn cents(self) -> i128 {
        let half = PER_CENT / 2;
        if self.0 >= 0 {
            (self.0 + half) / PER_CENT
        } else {
            (self.0 - half) / PER_CENT
        }
    }

    /// `1234567.5` as `1234567.50`, exactly.
    fn decimal(self) -> String {
        let cents = self.cents();
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// `1,234,567.50`.
    pub fn text(self) -> String {
        group_decimal(&self.decimal())
    }
}

impl std::ops::AddAssign for MoneySum {
    fn add_assign(&mut self, other: MoneySum) {
        self.0 += other.0;
    }
}

impl Serialize for MoneySum {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let number = serde_json::value::RawValue::from_string(self.decimal())
            .map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TriggerCount {
    pub name: String,
    pub fired: u64,
    /// Eligible but suppressed, by reason code.
    pub suppressed: Vec<Count>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionCount {
    pub trigger: String,
    pub action: String,
    pub count: u64,
}

/// What the summary says about the run besides the counts.
pub struct RunInfo<'a> {
    pub rules_path: &'a str,
    /// How many warnings the rule set has.
    pub rule_warnings: usize,
    pub input_path: &'a str,
    pub input_format: &'static str,
    pub as_of: chrono::NaiveDate,
    pub threads: usize,
    pub elapsed_seconds: f64,
}

impl Summary {
    /// The summary of a run of `program` that counted `tally`.
    pub fn new(program: &Program, tally: &Tally, info: &RunInfo<'_>) -> Summary {
        let money = program.money_fields();
        let reasons = program.reason_columns().len();
        // The do-not-contact list is the run's, not the rules': listed when it kept anyone out.
        let list = program
            .reason_columns()
            .iter()
            .position(|(why, _)| *why == Suppression::SuppressedList)
            .unwrap_or_default();
        let any_listed =
            (0..program.trigger_names().len()).any(|t| tally.suppressed[t * reasons + list] > 0);
        let listed: Vec<(usize, &str, Suppression)> = program
            .reason_columns()
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != list || any_listed)
            .map(|(c, (why, label))| (c, label.as_str(), *why))
            .collect();
        let count = |name: &str, count: u64| Count {
            name: name.to_string(),
            count,
        };
        Summary {
            rule_set: RuleSetInfo {
                name: program.name().to_string(),
                path: info.rules_path.to_string(),
                content_hash: program.content_hash().to_string(),
                warnings: info.rule_warnings,
            },
            as_of: info.as_of.format("%Y-%m-%d").to_string(),
            input: InputInfo {
                path: info.input_path.to_string(),
                format: info.input_format,
            },
            rows: Rows {
                read: tally.rows,
                decided: tally.decided,
                rejected: tally.rejected,
            },
            spanning: (tally.spanning > 0).then(|| Spanning {
                rows: tally.spanning,
                lines: tally.first_spanning.clone(),
            }),
            rejects: tally
                .rejects
                .iter()
                .map(|((code, at), &count)| RejectCount {
                    code: code.as_str(),
                    at: at.clone(),
                    count,
                })
                .collect(),
            segments: program
                .segment_names()
                .zip(&tally.segments)
                .map(|(n, &c)| count(n, c))
                .collect(),
            tiers: program
                .tier_names()
                .enumerate()
                .map(|(t, name)| TierCount {
                    name: name.to_string(),
                    customers: tally.tiers[t],
                    value: money
                        .iter()
                        .enumerate()
                        .map(|(i, &f)| FieldSum {
                            field: program.fields()[f].name.value.clone(),
                            sum: tally.tier_money[t * money.len() + i],
                        })
                        .collect(),
                })
                .collect(),
            lifecycle: program
                .stage_names()
                .enumerate()
                .map(|(i, name)| StageCount {
                    name: name.to_string(),
                    activity: program.stage_activity(i).to_string(),
                    customers: tally.stages[i],
                })
                .collect(),
            tables: (0..program.table_count())
                .map(|t| {
                    let offset = cell_offset(program, t);
                    let rules = program.table_rules(t);
                    let segments = program
                        .table_segments(t)
                        .into_iter()
                        .map(|name| {
                            let customers = (0..rules)
                                .filter(|&i| program.table_segment(t, i) == name)
                                .map(|i| tally.cells[offset + i])
                                .sum();
                            count(name, customers)
                        })
                        .collect();
                    TableCount {
                        name: program.table_name(t).to_string(),
                        segments,
                        none: tally.cells[offset + rules],
                    }
                })
                .collect(),
            triggers: program
                .trigger_names()
                .enumerate()
                .map(|(t, name)| TriggerCount {
                    name: name.to_string(),
                    fired: tally.fired[t],
                    suppressed: listed
                        .iter()
                        .map(|&(c, label, _)| count(label, tally.suppressed[t * reasons + c]))
                        .collect(),
                })
                .collect(),
            actions: program
                .actions()
                .zip(&tally.actions)
                .map(|((t, a), &c)| ActionCount {
                    trigger: program.trigger_name(t).to_string(),
                    action: program.action(t, a).0.to_string(),
                    count: c,
                })
                .collect(),
            reasons: listed.iter().map(|&(_, _, why)| why).collect(),
            suppressed: listed
                .iter()
                .map(|&(c, label, _)| {
                    let total = (0..program.trigger_names().len())
                        .map(|t| tally.suppressed[t * reasons + c])
                        .sum();
                    count(label, total)
                })
                .collect(),
            population: PopulationReport::default(),
            threads: info.threads,
            elapsed_seconds: (info.elapsed_seconds * 1000.0).round() / 1000.0,
        }
    }

    /// The same summary with the population the rules saw.
    pub fn with_population(mut self, population: PopulationReport) -> Summary {
        self.population = population;
        self
    }

    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        crate::text::json_pretty(self)
    }

    /// The summary as aligned text for people; names and paths with their control characters
    /// escaped ([`printable`]).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let path = printable(&self.rule_set.path);
        let name = if self.rule_set.name.is_empty() {
            path.to_string()
        } else {
            format!("{} ({path})", printable(&self.rule_set.name))
        };
        let _ = writeln!(out, "rule set  {name}");
        let _ = writeln!(out, "hash      {}", self.rule_set.content_hash);
        if self.rule_set.warnings > 0 {
            let _ = writeln!(
                out,
                "warnings  {} (`idic check {path}` shows them)",
                self.rule_set.warnings
            );
        }
        let _ = writeln!(out, "as of     {}", self.as_of);
        let _ = writeln!(
            out,
            "input     {} ({})",
            printable(&self.input.path),
            self.input.format
        );
        let _ = writeln!(
            out,
            "rows      {} read = {} decided + {} rejected",
            group(self.rows.read),
            group(self.rows.decided),
            group(self.rows.rejected)
        );
        if let Some(spanning) = &self.spanning {
            let _ = writeln!(out, "note      {}", spanning.sentence());
        }
        for (i, r) in self.rejects.iter().enumerate() {
            let label = if i == 0 { "rejected" } else { "" };
            let at = if r.at.is_empty() {
                String::new()
            } else {
                format!(" in `{}`", printable(&r.at))
            };
            let _ = writeln!(out, "{label:<9} {:>8} {}{at}", group(r.count), r.code);
        }

        population_text(&self.population, &mut out);

        let width = |names: &mut dyn Iterator<Item = usize>| names.max().unwrap_or(0).max(8);
        let w = width(&mut self.segments.iter().map(|s| s.name.len()));
        let _ = writeln!(out, "\n{:<w$}  {:>10}", "segment", "customers");
        for s in &self.segments {
            let _ = writeln!(out, "{:<w$}  {:>10}", s.name, group(s.count));
        }

        let w = width(&mut self.tiers.iter().map(|t| t.name.len()));
        let _ = write!(out, "\n{:<w$}  {:>10}", "tier", "customers");
        let money: Vec<&str> = self
            .tiers
            .first()
            .map(|t| t.value.iter().map(|v| v.field.as_str()).collect())
            .unwrap_or_default();
        for field in &money {
            let _ = write!(out, "  {:>16}", format!("sum of {field}"));
        }
        out.push('\n');
        for t in &self.tiers {
            let _ = write!(out, "{:<w$}  {:>10}", t.name, group(t.customers));
            for v in &t.value {
                let _ = write!(out, "  {:>16}", v.sum.text());
            }
            out.push('\n');
        }

        if !self.lifecycle.is_empty() {
            let w = width(&mut self.lifecycle.iter().map(|s| s.name.len()));
            let a = width(&mut self.lifecycle.iter().map(|s| s.activity.len()));
            let _ = writeln!(
                out,
                "\n{:<w$}  {:<a$}  {:>10}",
                "stage", "activity", "customers"
            );
            for s in &self.lifecycle {
                let _ = writeln!(
                    out,
                    "{:<w$}  {:<a$}  {:>10}",
                    s.name,
                    s.activity,
                    group(s.customers)
                );
            }
        }

        for t in &self.tables {
            let w = width(
                &mut t
                    .segments
                    .iter()
                    .map(|s| s.name.len())
                    .chain([t.name.len(), 6]),
            );
            let _ = writeln!(out, "\n{:<w$}  {:>10}", t.name, "customers");
            for s in &t.segments {
                let _ = writeln!(out, "{:<w$}  {:>10}", s.name, group(s.count));
            }
            let _ = writeln!(out, "{:<w$}  {:>10}", "(none)", group(t.none));
        }

        let w = width(&mut self.triggers.iter().map(|t| t.name.len()));
        let _ = write!(out, "\n{:<w$}  {:>10}", "trigger", "fired");
        let reasons: Vec<String> = self
            .suppressed
            .iter()
            .zip(&self.reasons)
            .map(|(c, why)| match why {
                // A trigger's own holdout: its control arm, beside the treated (`fired`).
                Suppression::TriggerHoldout => "control".to_string(),
                _ => format!("not: {}", c.name),
            })
            .collect();
        let widths: Vec<usize> = reasons.iter().map(|r| r.len().max(16)).collect();
        for (r, &rw) in reasons.iter().zip(&widths) {
            let _ = write!(out, "  {r:>rw$}");
        }
        out.push('\n');
        for t in &self.triggers {
            let _ = write!(out, "{:<w$}  {:>10}", t.name, group(t.fired));
            for (c, &rw) in t.suppressed.iter().zip(&widths) {
                let _ = write!(out, "  {:>rw$}", group(c.count));
            }
            out.push('\n');
        }

        let keys: Vec<String> = self
            .actions
            .iter()
            .map(|a| format!("{}.{}", a.trigger, a.action))
            .collect();
        let w = width(&mut keys.iter().map(String::len));
        let _ = writeln!(out, "\n{:<w$}  {:>10}", "action", "taken");
        for (key, a) in keys.iter().zip(&self.actions) {
            let _ = writeln!(out, "{key:<w$}  {:>10}", group(a.count));
        }

        let _ = writeln!(
            out,
            "\ntime      {:.3} s on {} thread{}",
            self.elapsed_seconds,
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        );
        out
    }
}

/// The orders, scores and model lines of the text summary.
fn population_text(p: &PopulationReport, out: &mut String) {
    if let Some(o) = &p.orders {
        match (&o.file, &o.tally) {
            (Some(file), Some(t)) => {
                let _ = writeln!(out, "orders    {}: {}", printable(file), t.describe());
                let _ = writeln!(
                    out,
                    "          {} customers of the orders file have no row in the export",
                    group(o.unmatched_customers)
                );
            }
            _ => {
                let _ = writeln!(out, "orders    totals from the export's fields");
            }
        }
        let policy = if o.without_orders_policy == WithoutOrders::Reject {
            "rejected"
        } else {
            "kept"
        };
        let _ = writeln!(
            out,
            "          {} customers without orders ({policy})",
            group(o.customers_without_orders)
        );
    }
    for (i, s) in p.scores.iter().enumerate() {
        let label = if i == 0 { "scores" } else { "" };
        let edges: Vec<String> = s.edges.iter().map(f64::to_string).collect();
        let over = if s.method == MethodKind::Fixed {
            "fixed".to_string()
        } else {
            format!(
                "{}, over {} customers",
                s.method,
                group(s.population as u64)
            )
        };
        let empty = if s.empty_scores.is_empty() {
            String::new()
        } else {
            let e: Vec<String> = s.empty_scores.iter().map(u8::to_string).collect();
            format!("; no customer scored {}", e.join(", "))
        };
        let _ = writeln!(
            out,
            "{label:<9} {} = {} in {} bins{} ({over}): edges [{}]{empty}",
            s.name,
            s.reads,
            s.bins,
            if s.reverse { " reversed" } else { "" },
            edges.join(", ")
        );
    }
    if let Some(m) = &p.model {
        let fit = |f: &Option<FitReport>| match f {
            Some(f) => format!(
                "fitted on {} customers, log-likelihood {:.3}",
                group(f.customers as u64),
                f.log_likelihood
            ),
            None => "pinned".to_string(),
        };
        if let Some(b) = &m.bgnbd {
            let _ = writeln!(
                out,
                "model     BG/NBD r {:.4} alpha {:.4} a {:.4} b {:.4} ({})",
                b.r,
                b.alpha,
                b.a,
                b.b,
                fit(&m.bgnbd_fit)
            );
        }
        if let Some(g) = &m.gamma_gamma {
            let _ = writeln!(
                out,
                "          Gamma-Gamma p {:.4} q {:.4} gamma {:.4} ({})",
                g.p,
                g.q,
                g.v,
                fit(&m.gamma_gamma_fit)
            );
        }
        if let Some(e) = &m.error {
            let _ = writeln!(
                out,
                "model     not fitted: {}; p_alive, expected_purchases and model_clv are missing",
                printable(e)
            );
        }
        let _ = writeln!(
            out,
            "          horizon {} months, discount {}% a month",
            m.horizon_months, m.monthly_discount_percent
        );
    }
}

#[cfg(test)]
mod money_sum_tests {
    use super::MoneySum;

    #[test]
    fn sums_of_money_are_exact_to_the_cent() {
        let mut sum = MoneySum::default();
        let mut float = 0.0;
        for _ in 0..1_000_000 {
            sum += MoneySum::of(0.1);
            float += 0.1;
        }
        assert_eq!(sum.text(), "100,000.00");
        assert_ne!(format!("{float}"), "100000");
        // Near the largest amount, every cent is kept.
        let mut big = MoneySum::default();
        for amount in [9_999_999_999_999.99, 9_999_999_999_999.99, -5.1, 0.01] {
            big += MoneySum::of(amount);
        }
        assert_eq!(big.text(), "19,999,999,999,994.89");
        assert_eq!(MoneySum::of(-12.34).text(), "-12.34");
        // Amounts finer than a cent are kept until the sum is shown.
        let mut fine = MoneySum::default();
        for _ in 0..1000 {
            fine += MoneySum::of(0.004);
        }
        assert_eq!(fine.text(), "4.00");
        let mut fuel = MoneySum::default();
        for _ in 0..3 {
            fuel += MoneySum::of(3.499);
        }
        assert_eq!(fuel.text(), "10.50");
        assert_eq!(MoneySum::of(-0.005).text(), "-0.01");
        let mut out = Vec::new();
        crate::text::write_json(&mut out, &[big, MoneySum::of(0.05)]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[19999999999994.89,0.05]");
    }
}
