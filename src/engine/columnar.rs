//! Columnar evaluation: a batch of customers decided together, one rule at a time.
//!
//! [`Evaluator::differentiate`] evaluates each metric and segment (in dependency order), the
//! tiers, the lifecycle stages and every trigger's condition over the whole batch, each with
//! the native path's columnar evaluation ([`crate::expr::native::Native::test_rows`] for
//! conditions, [`crate::expr::native::Native::eval_rows`] for metrics):
//!
//! * the native path reads the chunk's slots through typed columns
//!   ([`crate::expr::native::SlotColumns`]), which [`Customers`] keeps true to the slots: they
//!   are reset for each chunk, and every write to a slot here forgets its columns (or, for a
//!   segment, sets its truths) before a later rule can read it;
//! * a first-match list (tiers, stages) evaluates each line on the rows no earlier line took,
//!   a remainder that shrinks after each line;
//! * the rows the native path leaves (and every row of a rule it cannot lower) are evaluated
//!   by rhai, each with its own values;
//! * a rule that fails for a customer rejects that customer: it leaves the batch, and no later
//!   rule is evaluated for it, so its error is the one the row-by-row evaluation would give.
//!
//! [`Evaluator::decide_row`] then finishes each customer's decision row by row, in input
//! order: consent, suppression lists, holdouts, history, arbitration and the actions'
//! parameters ([`Evaluator::evaluate`] does the same for one customer at a time; the two agree,
//! `tests/suite/columnar.rs`).
//!
//! Time bounds: each rhai evaluation by itself, as in [`Evaluator::evaluate`]; and a customer's
//! evaluations together, the time it spent in rhai carried from rule to rule (row by row, the
//! customer's time runs from its first rhai evaluation on, native work between included).

use super::decision::Decision;
use super::evaluate::{finite, truth, EvalError, Evaluator, Rung};
use crate::expr::native::{Rows, SlotColumns, Split};
use crate::expr::overwrite;
use crate::plan::{Program, Step, TierPlan};
use rhai::{Dynamic, ImmutableString};
use std::time::Duration;

/// A batch of customers decided together: their values, one row of slots per customer, and
/// what [`Evaluator::differentiate`] found for each.
pub struct Customers {
    /// The rows' slots; past the batch's rows, slots kept from earlier batches, whose values
    /// the next rows' reading reuses.
    slots: Vec<Dynamic>,
    stride: usize,
    /// The slots of a row's inputs: its fields, then its population variables.
    inputs: usize,
    /// The number of customers in the batch.
    len: usize,
    triggers: usize,
    segments: usize,
    /// The slots' typed columns, true to the slots of the batch's rows.
    columns: SlotColumns,
    /// Per row, the rule that failed for the customer.
    failed: Vec<Option<EvalError>>,
    /// Whether a rule failed for a live row since the live rows were last narrowed.
    newly_failed: bool,
    /// Per row, the time the customer's evaluations spent in rhai.
    spent: Vec<Duration>,
    tier: Vec<Option<usize>>,
    stage: Vec<Option<usize>>,
    /// Per row, per trigger, whether its condition held.
    held: Vec<bool>,
    /// Per row, per segment, whether the customer is in it.
    member: Vec<bool>,
    /// The rows no rule has failed for.
    live: Vec<u32>,
    /// Room reused from rule to rule.
    split: Split,
    values: Vec<(u32, Dynamic)>,
}

impl Customers {
    /// An empty batch for `program`'s customers.
    pub fn new(program: &Program) -> Customers {
        Customers {
            slots: Vec::new(),
            stride: program.slot_count(),
            inputs: program.inputs(),
            len: 0,
            triggers: program.triggers.len(),
            segments: program.rules().segments.len(),
            columns: SlotColumns::default(),
            failed: Vec::new(),
            newly_failed: false,
            spent: Vec::new(),
            tier: Vec::new(),
            stage: Vec::new(),
            held: Vec::new(),
            member: Vec::new(),
            live: Vec::new(),
            split: Split::default(),
            values: Vec::new(),
        }
    }

    /// Empties the batch, keeping its room and its slots' values for reuse.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Adds a customer, taking its values out of `values`: the schema's fields in declaration
    /// order, optionally followed by its population variables (as [`Evaluator::evaluate`] takes
    /// them). Gives its row. `values` gets in exchange as many values of an earlier customer
    /// (if any), for [`crate::io::RecordReader::read_into`] to read the next row over.
    ///
    /// The row's other slots keep an earlier customer's values until
    /// [`Evaluator::differentiate`] writes them: each metric and segment before any rule reads
    /// it (`check` orders them so), the tier and stage (missing when no line holds) before
    /// any rule reads them.
    pub fn push(&mut self, values: &mut [Dynamic]) -> usize {
        debug_assert!(values.len() <= self.inputs);
        let r = self.len;
        let start = r * self.stride;
        if self.slots.len() < start + self.stride {
            self.slots.resize(start + self.stride, Dynamic::UNIT);
        }
        let (given, rest) = self.slots[start..start + self.inputs].split_at_mut(values.len());
        given.swap_with_slice(values);
        rest.fill(Dynamic::UNIT);
        self.len += 1;
        r
    }

    /// The number of customers in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no customer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values of row `r`, its fields first; [`Evaluator::decide_row`] takes them (the row
    /// then holds another customer's values).
    pub fn row(&self, r: usize) -> &[Dynamic] {
        self.rows().row(r as u32)
    }

    fn rows(&self) -> Rows<'_> {
        rows_of(&self.slots, self.len, self.stride, &self.columns)
    }

    /// Writes segment `index`'s slot `slot` of the rows just split by its condition (`true`
    /// for those in `split.yes`, `false` for those in `split.no`), its truths column, and the
    /// membership of the rows in `split.yes`.
    fn set_segment(&mut self, index: usize, slot: usize) {
        for &r in &self.split.yes {
            self.member[r as usize * self.segments + index] = true;
        }
        for (rows, value) in [(&self.split.yes, true), (&self.split.no, false)] {
            for &r in rows {
                overwrite(
                    &mut self.slots[r as usize * self.stride + slot],
                    Dynamic::from(value),
                );
            }
        }
        (self.columns).set_truths(slot, self.len, &self.split.yes, &self.split.no);
    }

    /// Rule evaluation failed for row `r` with `error`.
    fn fail(&mut self, r: u32, error: EvalError) {
        self.failed[r as usize] = Some(error);
        self.newly_failed = true;
    }

    fn slot(&mut self, r: u32, slot: usize) -> &mut Dynamic {
        &mut self.slots[r as usize * self.stride + slot]
    }

    /// Takes out of the live rows those a rule failed for.
    fn drop_failed(&mut self) {
        if std::mem::take(&mut self.newly_failed) {
            let failed = &self.failed;
            self.live.retain(|&r| failed[r as usize].is_none());
        }
    }
}

/// The first `len` rows of `stride` slots of `slots`, read through their typed `columns`.
fn rows_of<'a>(
    slots: &'a [Dynamic],
    len: usize,
    stride: usize,
    columns: &'a SlotColumns,
) -> Rows<'a> {
    Rows::new(&slots[..len * stride], stride).with_columns(columns)
}

impl Evaluator<'_> {
    /// Evaluates the metrics, segments, tier, lifecycle stage and trigger conditions of every
    /// customer of `batch`, one rule at a time over the whole batch.
    pub fn differentiate(&mut self, batch: &mut Customers) {
        let program = self.program;
        let layout = program.layout();
        let rows = batch.len();
        batch.columns.reset(batch.stride);
        batch.failed.clear();
        batch.failed.resize(rows, None);
        batch.newly_failed = false;
        batch.spent.clear();
        batch.spent.resize(rows, Duration::ZERO);
        for which in [&mut batch.tier, &mut batch.stage] {
            which.clear();
            which.resize(rows, None);
        }
        batch.held.clear();
        batch.held.resize(rows * batch.triggers, false);
        batch.member.clear();
        batch.member.resize(rows * batch.segments, false);
        batch.live.clear();
        batch.live.extend(0..rows as u32);

        for step in &program.steps {
            match *step {
                Step::Metric { index, unit } => self.values(batch, unit, layout.metric(index)),
                Step::Segment { index, unit } => {
                    self.split_live(batch, unit);
                    batch.set_segment(index, layout.segment(index));
                }
            }
        }
        self.first_matches(batch, &program.tiers, layout.tier(), Rung::Tier);
        self.first_matches(batch, &program.stages, layout.stage(), Rung::Stage);
        for (t, trigger) in program.triggers.iter().enumerate() {
            self.split_live(batch, trigger.unit);
            for &r in &batch.split.yes {
                batch.held[r as usize * batch.triggers + t] = true;
            }
        }
    }

    /// Finishes the decision for row `r` of `batch` (after [`Evaluator::differentiate`]): as
    /// [`Evaluator::evaluate`] would for that customer. Takes the row's values.
    pub fn decide_row(
        &mut self,
        batch: &mut Customers,
        r: usize,
        decision: &mut Decision,
    ) -> Result<(), EvalError> {
        let stride = batch.stride;
        (self.slots).swap_with_slice(&mut batch.slots[r * stride..(r + 1) * stride]);
        self.begin(decision, batch.spent[r]);
        if let Some(failed) = batch.failed[r].take() {
            return Err(failed);
        }
        decision.tier = batch.tier[r];
        decision.stage = batch.stage[r];
        let member = &batch.member[r * batch.segments..(r + 1) * batch.segments];
        (decision.segments).extend((0..member.len()).filter(|&s| member[s]));
        let held = &batch.held[r * batch.triggers..(r + 1) * batch.triggers];
        self.interact(decision, |_, t| Ok(held[t]))
    }

    /// [`Evaluator::split`] of the live rows, which then lose those the rule failed for.
    fn split_live(&mut self, batch: &mut Customers, unit: usize) {
        let live = std::mem::take(&mut batch.live);
        self.split(batch, unit, &live);
        batch.live = live;
        batch.drop_failed();
    }

    /// Sorts the rows of `sel` into `batch.split` by unit `unit`'s condition: `yes`, `no`, or
    /// failed (its error kept for the row).
    fn split(&mut self, batch: &mut Customers, unit: usize, sel: &[u32]) {
        let program = self.program;
        let plan = &program.units[unit];
        batch.split.clear();
        match &plan.native {
            Some(native) => {
                let rows = rows_of(&batch.slots, batch.len, batch.stride, &batch.columns);
                native.test_rows(rows, sel, self.as_of, &mut batch.split);
            }
            None => batch.split.bail.extend_from_slice(sel),
        }
        let bail = std::mem::take(&mut batch.split.bail);
        self.by_rhai(batch, unit, &bail, |batch, r, value| {
            match value.and_then(|value| truth(plan, &value)) {
                Ok(true) => batch.split.yes.push(r),
                Ok(false) => batch.split.no.push(r),
                Err(e) => batch.fail(r, e),
            }
        });
        batch.split.bail = bail;
    }

    /// Unit `unit`'s value for every live row, into its slot `slot`.
    fn values(&mut self, batch: &mut Customers, unit: usize, slot: usize) {
        let program = self.program;
        let plan = &program.units[unit];
        batch.values.clear();
        batch.split.clear();
        let bail = &mut batch.split.bail;
        match &plan.native {
            Some(native) => {
                let rows = rows_of(&batch.slots, batch.len, batch.stride, &batch.columns);
                native.eval_rows(rows, &batch.live, self.as_of, &mut batch.values, bail);
            }
            None => bail.extend_from_slice(&batch.live),
        }
        let keep = |batch: &mut Customers, r: u32, value: Result<Dynamic, EvalError>| match value
            .and_then(|value| finite(plan, value))
        {
            Ok(value) => overwrite(batch.slot(r, slot), value),
            Err(e) => batch.fail(r, e),
        };
        let mut values = std::mem::take(&mut batch.values);
        for (r, value) in values.drain(..) {
            keep(batch, r, Ok(value));
        }
        batch.values = values;
        let bail = std::mem::take(&mut batch.split.bail);
        self.by_rhai(batch, unit, &bail, keep);
        batch.split.bail = bail;
        // No rule read the slot before its metric (`check` orders them so): forgetting keeps
        // the columns true whatever the order.
        batch.columns.forget(slot);
        batch.drop_failed();
    }

    /// rhai's value of unit `unit` for each of `rows`, given to `each`; each customer's clock
    /// resumes where its earlier evaluations left it.
    fn by_rhai(
        &mut self,
        batch: &mut Customers,
        unit: usize,
        rows: &[u32],
        mut each: impl FnMut(&mut Customers, u32, Result<Dynamic, EvalError>),
    ) {
        let program = self.program;
        let plan = &program.units[unit];
        for &r in rows {
            self.rhai.resume_customer(batch.spent[r as usize]);
            let value = self.rhai.eval(plan, batch.rows().row(r));
            batch.spent[r as usize] = self.rhai.customer_spent();
            each(batch, r, value);
        }
    }

    /// The first of `plans` whose condition holds, for every live row: its name into `slot`
    /// (missing when none holds), its index into the batch's tiers or stages. Each line is
    /// evaluated only on the rows no earlier line took.
    fn first_matches(
        &mut self,
        batch: &mut Customers,
        plans: &[TierPlan],
        slot: usize,
        rung: Rung,
    ) {
        let mut rest = batch.live.clone();
        for (i, plan) in plans.iter().enumerate() {
            if rest.is_empty() {
                break;
            }
            let matched = match plan.unit {
                None => std::mem::take(&mut rest),
                Some(unit) => {
                    self.split(batch, unit, &rest);
                    rest.clear();
                    rest.extend_from_slice(&batch.split.no);
                    std::mem::take(&mut batch.split.yes)
                }
            };
            let (which, value) = match rung {
                Rung::Tier => (&mut batch.tier, &self.tier_values[i]),
                Rung::Stage => (&mut batch.stage, &self.stage_values[i]),
            };
            for &r in &matched {
                which[r as usize] = Some(i);
                set_name(&mut batch.slots[r as usize * batch.stride + slot], value);
            }
            batch.split.yes = matched;
        }
        // None: `check` ends each list with `otherwise`, but a plan made without it may not.
        for &r in &rest {
            *batch.slot(r, slot) = Dynamic::UNIT;
        }
        // As for a metric: no rule read the tier or stage before it was found.
        batch.columns.forget(slot);
        batch.drop_failed();
    }
}

/// Writes the tier's or stage's name `name` into `slot`, unless the slot holds that very
/// string already (as a row often does from the customer decided in it before): then no
/// count of the string's holders changes.
#[inline]
fn set_name(slot: &mut Dynamic, name: &Dynamic) {
    let same = match (
        slot.read_lock::<ImmutableString>(),
        name.read_lock::<ImmutableString>(),
    ) {
        (Some(held), Some(name)) => held.ptr_eq(&name),
        _ => false,
    };
    if !same {
        *slot = name.clone();
    }
}
