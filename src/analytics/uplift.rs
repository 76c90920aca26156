//! What each treatment caused: its treated customers against its controls, run by run, each
//! arm's outcomes within a window after the run ([`measure`]).
//!
//! Runs are never pooled into one comparison: a trigger's controls may come back run after
//! run while its treated wait out a cooldown, so the arms' mix of runs differs, and pooling
//! would compare different months (Simpson's paradox).
//!
//! The input is plain: the runs, cohorts (the customers of one run, treatment and arm that
//! share their groups, such as a tier), the customers in them and each customer's outcome
//! days. [`crate::analytics::effect`] gives the statistics; this module counts and pairs the
//! arms. docs/domain.md ("Measuring the effect") fixes the conventions.

use super::effect::{self, Interval, Values};
use super::orders::PurchaseDay;
use crate::model::Arm;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

/// An arm under this many customers is too small to conclude from (the normal approximations
/// behind the intervals need about this many).
pub const MIN_ARM: u64 = 30;

/// What was measured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Treatment {
    /// One trigger, against its own holdout.
    Trigger(String),
    /// Every marketing trigger together, against the global holdout.
    GlobalHoldout,
}

impl Treatment {
    /// The trigger's name, or `(global holdout)`.
    pub fn name(&self) -> &str {
        match self {
            Treatment::Trigger(name) => name,
            Treatment::GlobalHoldout => "(global holdout)",
        }
    }
}

/// A run as measured: its number in the history and the date it decided at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub number: i64,
    pub as_of: NaiveDate,
}

/// Customers of one run, treatment and arm who share their groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    /// The run, by index into the runs measured.
    pub run: usize,
    pub treatment: Treatment,
    pub arm: Arm,
    /// The groups the customers are in (by index into the group names): one tier, stage or
    /// channel, any number of segments, none without `--by`.
    pub groups: Vec<u32>,
    /// How many customers the arm has in these groups, when more than those listed (the global
    /// holdout's treated, of whom a sample is listed): incremental figures scale to it.
    pub counted: Option<u64>,
}

/// One customer's outcomes: the days they bought on (or had the event), with the value each
/// brought, sorted by day.
pub type Outcomes = [PurchaseDay];

/// What to measure over.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Days after `as_of` that count: from the next day to `as_of + days`, both included.
    pub days: u32,
    /// The last day outcomes are known for: a run whose window ends later is still open.
    pub through: NaiveDate,
}

/// One arm's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArmFigures {
    /// Customers measured.
    pub customers: u64,
    /// Of them, those with an outcome in the window.
    pub converted: u64,
    /// `converted / customers`.
    pub rate: Option<f64>,
    /// The value per customer (all customers, converted or not).
    pub value_mean: f64,
    /// Its sample standard deviation.
    pub value_sd: f64,
}

/// How sure a comparison is, in words ([`Evidence::words`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// No controls: the treatment has no holdout.
    NoControls,
    /// Controls but no treated customer.
    NoTreated,
    /// An arm has fewer than [`MIN_ARM`] customers.
    TooSmall,
    /// The interval of the absolute lift spans zero.
    SpansZero,
    /// The interval lies above zero.
    Positive,
    /// The interval lies below zero.
    Negative,
}

impl Evidence {
    /// A sentence for people.
    pub fn words(self) -> &'static str {
        match self {
            Evidence::NoControls => "no controls: give the trigger a holdout to measure it",
            Evidence::NoTreated => "no treated customers to compare with the controls",
            Evidence::TooSmall => "too few customers in an arm to conclude anything",
            Evidence::SpansZero => {
                "no effect shown: the interval spans zero, so the lift may be nil or negative"
            }
            Evidence::Positive => "raised conversion: the whole interval is above zero",
            Evidence::Negative => "lowered conversion: the whole interval is below zero",
        }
    }
}

/// The comparison of the arms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    /// `p_t - p_c`, Newcombe's hybrid score interval.
    pub absolute_lift: Option<Interval>,
    /// `p_t / p_c - 1`, delta-method interval.
    pub relative_lift: Option<Interval>,
    /// Difference of the values per customer, Welch's interval.
    pub value_difference: Option<Interval>,
    /// `absolute_lift` times the treated customers (all of them, for the global holdout).
    pub incremental_conversions: Option<Interval>,
    /// `value_difference` times the treated customers.
    pub incremental_value: Option<Interval>,
    /// Pooled two-proportion z test, two-sided.
    pub p_value: Option<f64>,
    /// The smallest absolute lift these arm sizes detect with 80% power at 5% significance.
    pub minimum_detectable_effect: Option<f64>,
}

/// One measured row: a run (or all runs), a treatment and a group (or all).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The run, by index into the runs.
    pub run: usize,
    pub treatment: Treatment,
    /// The group (by index into the group names), `None` for every customer.
    pub group: Option<u32>,
    pub treated: ArmFigures,
    pub control: ArmFigures,
    /// The treated customers incremental figures scale to.
    pub treated_total: u64,
    pub effect: Effect,
    pub evidence: Evidence,
}

/// What [`measure`] found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measured {
    /// Per treatment, group and run (oldest first), treatments in name order with the global
    /// holdout last (what all marketing together earned), every customer before the groups.
    pub rows: Vec<Row>,
    /// The runs whose window is not over (by index): not measured.
    pub open: Vec<usize>,
    /// Outcome days of known customers before the first contact measured for them (or on
    /// its day): ignored.
    pub before_contact: u64,
}

/// Running figures of one arm: count, conversions and Welford's mean and sum of squares.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    n: u64,
    x: u64,
    mean: f64,
    m2: f64,
    /// Customers the arm counts beyond those measured (the global holdout's unsampled treated).
    total: u64,
}

impl Tally {
    fn add(&mut self, converted: bool, value: f64) {
        self.n += 1;
        self.x += u64::from(converted);
        let delta = value - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (value - self.mean);
    }

    fn values(&self) -> Values {
        let sd = if self.n > 1 {
            (self.m2 / (self.n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Values {
            n: self.n,
            mean: self.mean,
            sd,
        }
    }

    fn figures(&self) -> ArmFigures {
        let values = self.values();
        ArmFigures {
            customers: self.n,
            converted: self.x,
            rate: (self.n > 0).then(|| self.x as f64 / self.n as f64),
            value_mean: values.mean,
            value_sd: values.sd,
        }
    }
}

/// The key of a row's arm: treatment, group (`None` first: every customer), run, arm.
type Key = (Treatment, Option<u32>, usize, Arm);

/// Measures every cohort's customers: `members` lists `(cohort, customer)` pairs (a customer
/// listed twice in one run, treatment and arm counts once), `outcomes(customer)` gives the
/// customer's outcome days.
pub fn measure<'o>(
    runs: &[Run],
    cohorts: &[Cohort],
    members: &mut [(u32, u32)],
    outcomes: impl Fn(u32) -> &'o Outcomes,
    window: Window,
) -> Measured {
    let ends: Vec<i32> = runs
        .iter()
        .map(|r| super::orders::day_number(r.as_of) + window.days as i32)
        .collect();
    let through = super::orders::day_number(window.through);
    let open: Vec<usize> = (0..runs.len()).filter(|&r| ends[r] > through).collect();
    // Each customer once per run, treatment and arm (a trigger of several actions records a
    // contact for each): cohorts numbered by those, so that sorting compares numbers.
    let mut units: HashMap<(usize, &Treatment, Arm), u32> = HashMap::new();
    let unit_of: Vec<u32> = cohorts
        .iter()
        .map(|c| {
            let next = units.len() as u32;
            *units.entry((c.run, &c.treatment, c.arm)).or_insert(next)
        })
        .collect();
    // Each cohort's tallies: every customer's and each group's, found once per cohort.
    let mut slots: HashMap<Key, usize> = HashMap::new();
    let mut tallies: Vec<Tally> = Vec::new();
    let slots_of: Vec<Vec<usize>> = cohorts
        .iter()
        .map(|c| {
            let groups = std::iter::once(None).chain(c.groups.iter().copied().map(Some));
            groups
                .map(|group| {
                    let next = slots.len();
                    let slot = *slots
                        .entry((c.treatment.clone(), group, c.run, c.arm))
                        .or_insert(next);
                    if slot == tallies.len() {
                        tallies.push(Tally::default());
                    }
                    if ends[c.run] <= through {
                        tallies[slot].total += c.counted.unwrap_or(0);
                    }
                    slot
                })
                .collect()
        })
        .collect();
    // Customer by customer, so that each one's outcome days are read once and in the order
    // they are kept; a customer listed in two cohorts of one unit (two actions) counts in the
    // first. Each tally still adds its customers in their numbers' order.
    members.sort_unstable_by_key(|&(c, who)| (who, unit_of[c as usize], c));
    let mut before_contact = 0;
    for one in members.chunk_by(|a, b| a.1 == b.1) {
        let customer = one[0].1;
        let days = outcomes(customer);
        let mut first_contact = i32::MAX;
        let mut last_unit = None;
        for &(cohort, _) in one {
            let unit = unit_of[cohort as usize];
            if last_unit == Some(unit) {
                continue;
            }
            last_unit = Some(unit);
            let c = &cohorts[cohort as usize];
            let as_of = ends[c.run] - window.days as i32;
            first_contact = first_contact.min(as_of);
            if ends[c.run] > through {
                continue;
            }
            let from = days.partition_point(|d| d.day <= as_of);
            let to = days.partition_point(|d| d.day <= ends[c.run]);
            let value: f64 = days[from..to].iter().map(|d| d.amount).sum();
            for &slot in &slots_of[cohort as usize] {
                tallies[slot].add(to > from, value);
            }
        }
        before_contact += days.partition_point(|d| d.day <= first_contact) as u64;
    }
    let mut tallies: Vec<(Key, Tally)> = slots
        .into_iter()
        .filter(|(key, _)| ends[key.2] <= through)
        .map(|(key, slot)| (key, tallies[slot]))
        .collect();
    tallies.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut rows = Vec::new();
    let mut pairs = tallies.iter().peekable();
    while let Some(((treatment, group, run, arm), tally)) = pairs.next() {
        let (treated, control) = match arm {
            Arm::Treated => {
                let control = pairs
                    .next_if(|((t, g, r, a), _)| {
                        (t, g, r, a) == (treatment, group, run, &Arm::Control)
                    })
                    .map(|(_, c)| *c);
                (*tally, control.unwrap_or_default())
            }
            Arm::Control => (Tally::default(), *tally),
        };
        rows.push(row(treatment, *group, *run, &treated, &control));
    }
    Measured {
        rows,
        open,
        before_contact,
    }
}

/// The row comparing two arms' tallies.
fn row(
    treatment: &Treatment,
    group: Option<u32>,
    run: usize,
    treated: &Tally,
    control: &Tally,
) -> Row {
    let (x_t, n_t, x_c, n_c) = (treated.x, treated.n, control.x, control.n);
    let treated_total = n_t.max(treated.total);
    let absolute_lift = effect::absolute_lift(x_t, n_t, x_c, n_c);
    let value_difference =
        effect::value_difference(treated.values(), control.values()).map(|(interval, _)| interval);
    let scale = treated_total as f64;
    let p_c = (n_c > 0).then(|| x_c as f64 / n_c as f64);
    let minimum_detectable_effect = p_c.filter(|_| n_t > 0).and_then(|p_c| {
        // Unequal arms detect what equal arms of their harmonic mean do.
        let n = 2.0 * (n_t as f64) * (n_c as f64) / (n_t + n_c) as f64;
        effect::minimum_detectable_effect(p_c, n)
    });
    let evidence = if n_c == 0 {
        Evidence::NoControls
    } else if n_t == 0 {
        Evidence::NoTreated
    } else if n_t < MIN_ARM || n_c < MIN_ARM {
        Evidence::TooSmall
    } else {
        match absolute_lift {
            Some(lift) if lift.lower > 0.0 => Evidence::Positive,
            Some(lift) if lift.upper < 0.0 => Evidence::Negative,
            _ => Evidence::SpansZero,
        }
    };
    Row {
        run,
        treatment: treatment.clone(),
        group,
        treated: treated.figures(),
        control: control.figures(),
        treated_total,
        effect: Effect {
            absolute_lift,
            relative_lift: effect::relative_lift(x_t, n_t, x_c, n_c),
            value_difference,
            incremental_conversions: absolute_lift.map(|i| i.scaled(scale)),
            incremental_value: value_difference.map(|i| i.scaled(scale)),
            p_value: effect::p_value(x_t, n_t, x_c, n_c),
            minimum_detectable_effect,
        },
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn bought(text: &str, amount: f64) -> PurchaseDay {
        let day = super::super::orders::day_number(date(text));
        PurchaseDay { day, amount }
    }

    /// [`measure`] over a 30-day window, outcomes known `through`.
    fn measured(
        runs: &[Run],
        cohorts: &[Cohort],
        members: &mut [(u32, u32)],
        outcomes: &[Vec<PurchaseDay>],
        through: &str,
    ) -> Measured {
        let window = Window {
            days: 30,
            through: date(through),
        };
        measure(runs, cohorts, members, |c| &outcomes[c as usize], window)
    }

    /// Two runs of one trigger, the customers 0..8 treated and 8..12 controls in each.
    fn setup() -> (Vec<Run>, Vec<Cohort>) {
        let runs = vec![
            Run {
                number: 1,
                as_of: date("2026-10-01"),
            },
            Run {
                number: 2,
                as_of: date("2026-11-01"),
            },
        ];
        let cohort = |run, arm| Cohort {
            run,
            treatment: Treatment::Trigger("winback".into()),
            arm,
            groups: vec![],
            counted: None,
        };
        let cohorts = vec![
            cohort(0, Arm::Treated),
            cohort(0, Arm::Control),
            cohort(1, Arm::Treated),
            cohort(1, Arm::Control),
        ];
        (runs, cohorts)
    }

    #[test]
    fn counts_outcomes_inside_the_window_only_and_once_per_customer() {
        let (runs, cohorts) = setup();
        // Customer 0 twice in run 1's treated (two actions), customer 1 a control.
        let mut members = vec![(0, 0), (0, 0), (1, 1)];
        let outcomes: Vec<Vec<PurchaseDay>> = vec![
            // On as_of (not counted), inside, and after the window.
            vec![
                bought("2026-10-01", 5.0),
                bought("2026-10-31", 7.0),
                bought("2026-11-01", 9.0),
            ],
            vec![bought("2026-09-01", 1.0)],
        ];
        let m = measured(&runs, &cohorts, &mut members, &outcomes, "2026-11-15");
        let run1 = m.rows.iter().find(|r| r.run == 0).unwrap();
        assert_eq!((run1.treated.customers, run1.treated.converted), (1, 1));
        assert_eq!(run1.treated.value_mean, 7.0);
        assert_eq!((run1.control.customers, run1.control.converted), (1, 0));
        assert_eq!(run1.evidence, Evidence::TooSmall);
        // Run 2's window ends 2026-12-01, after the outcomes known: open, not measured.
        assert_eq!(m.open, vec![1]);
        assert!(m.rows.iter().all(|r| r.run != 1));
        // The orders on or before each customer's first contact: customer 0's on 10-01,
        // customer 1's in September.
        assert_eq!(m.before_contact, 2);
    }

    #[test]
    fn each_run_is_measured_apart_and_a_trigger_without_controls_says_so() {
        let (runs, mut cohorts) = setup();
        cohorts.push(Cohort {
            run: 0,
            treatment: Treatment::Trigger("alone".into()),
            arm: Arm::Treated,
            groups: vec![],
            counted: None,
        });
        let mut members: Vec<(u32, u32)> = (0..8)
            .flat_map(|c| [(0, c), (2, c)])
            .chain((8..12).flat_map(|c| [(1, c), (3, c)]))
            .chain([(4, 0)])
            .collect();
        // Inside run 1's window, after run 2's.
        let converts = vec![bought("2026-10-15", 10.0), bought("2026-12-15", 10.0)];
        let outcomes: Vec<Vec<PurchaseDay>> = (0..12)
            .map(|c| {
                if c % 2 == 0 {
                    converts.clone()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let m = measured(&runs, &cohorts, &mut members, &outcomes, "2026-12-31");
        let winback = |run| {
            let r = m
                .rows
                .iter()
                .find(|r| r.run == run && r.treatment.name() == "winback");
            let r = r.unwrap();
            (
                r.treated.customers,
                r.treated.converted,
                r.control.customers,
                r.control.converted,
            )
        };
        assert_eq!(winback(0), (8, 4, 4, 2));
        assert_eq!(winback(1), (8, 0, 4, 0));
        let alone = m
            .rows
            .iter()
            .find(|r| r.treatment.name() == "alone")
            .unwrap();
        assert_eq!(alone.evidence, Evidence::NoControls);
        assert_eq!(alone.effect.absolute_lift, None);
    }
}
