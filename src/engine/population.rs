//! What the rules read about the whole population, worked out before the first decision:
//! each customer's order summaries (from an orders file or from totals in the export), the
//! population scores, the tables over score cells and the BG/NBD + Gamma-Gamma model.
//!
//! A run builds it in three steps: [`Population::new`] reads the orders file (if the rule set
//! has one and the run was given it); when the rule set needs the population (scores, a model,
//! or an orders file whose unmatched customers must be counted), every customer row goes
//! through [`Population::observe`] into an [`Observed`] (one per worker, merged in any order),
//! and [`Population::settle`] finds the score edges and fits the model; then
//! [`Population::inputs`] gives each customer's values, appended to its fields.
//!
//! Memory: the orders file's histories (per customer one `(day, amount)` pair per purchase
//! day), and per observed customer one `f64` per quantile score and, with a model, its BTYD
//! summary (32 bytes).

use crate::analytics::btyd::{self, BgNbd, ClvOptions, GammaGamma};
use crate::analytics::orders::{read_orders, History, OrderFormat, OrderTally};
use crate::analytics::scores::{Collector, Method, MethodKind, Scorer, Spec};
use crate::analytics::{declared, Btyd};
use crate::io::{Reject, RejectCode};
use crate::model::{FieldType, Period, TotalKind, UnmatchedOrders, WithoutOrders, ORDER_VARIABLES};
use crate::plan::Program;
use crate::text::cents;
use chrono::{NaiveDate, NaiveDateTime};
use rhai::Dynamic;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// Where the order summaries come from.
#[derive(Debug)]
enum Source {
    /// An orders file, aggregated per customer.
    File {
        ids: HashMap<Box<str>, u32>,
        histories: Vec<History>,
        tally: OrderTally,
        path: String,
    },
    /// Totals in the export's fields (field indexes).
    Totals {
        count: usize,
        last: usize,
        spent: usize,
        first: Option<usize>,
    },
}

/// What a score reads.
#[derive(Debug, Clone, Copy)]
enum Reads {
    /// One of [`ORDER_VARIABLES`], by index.
    Order(usize),
    /// A numeric field, by index.
    Field(usize),
}

/// One customer's order summaries.
#[derive(Debug, Clone, Copy, Default)]
struct Summaries {
    /// Whether the customer has orders at all.
    has_orders: bool,
    /// Days since the last order (none without orders, or none in the lookback window).
    recency_days: Option<i64>,
    frequency: u32,
    monetary: f64,
    btyd: Option<Btyd>,
}

impl Summaries {
    /// The order variables, in [`ORDER_VARIABLES`] order.
    fn values(&self) -> [Option<f64>; 7] {
        let b = self.btyd;
        [
            self.recency_days.map(|d| d as f64),
            Some(f64::from(self.frequency)),
            Some(self.monetary),
            b.map(|b| b.frequency),
            b.map(|b| b.recency),
            b.map(|b| b.t),
            b.map(|b| b.monetary_value),
        ]
    }
}

/// The fitted (or pinned) model and how far it looks.
#[derive(Debug, Clone)]
struct Fitted {
    bgnbd: BgNbd,
    /// `None` when Gamma-Gamma could not be fitted: P(alive) and expected purchases stand,
    /// `model_clv` is missing.
    gamma_gamma: Option<GammaGamma>,
    /// The horizon in the period's unit.
    horizon: f64,
    clv: ClvOptions,
}

/// A worker's share of what the population was observed to be ([`Population::observe`]), or
/// all of it merged.
#[derive(Debug, Default)]
pub struct Observed {
    collectors: Vec<Collector>,
    btyd: Vec<Btyd>,
    /// Indexes of the orders file's customers seen in the export.
    matched: Vec<u32>,
    without_orders: u64,
}

impl Observed {
    /// Takes in a worker's share, leaving it empty (any order gives the same result).
    pub fn merge(&mut self, share: &mut Observed) {
        let collectors = std::mem::take(&mut share.collectors);
        if self.collectors.is_empty() {
            self.collectors = collectors;
        } else {
            for (mine, theirs) in self.collectors.iter_mut().zip(collectors) {
                // Both come from the same specs.
                let _ = mine.merge(theirs);
            }
        }
        self.btyd.append(&mut share.btyd);
        self.matched.append(&mut share.matched);
        self.without_orders += std::mem::take(&mut share.without_orders);
    }
}

/// The population: built once per run, shared by every worker.
#[derive(Debug)]
pub struct Population {
    as_of: NaiveDate,
    period: Period,
    lookback: Option<u32>,
    source: Option<Source>,
    without_orders: WithoutOrders,
    unmatched_policy: UnmatchedOrders,
    reads: Vec<Reads>,
    key: usize,
    /// The scores' specifications, in declaration order.
    specs: Vec<Spec>,
    /// The scores' edges, once settled.
    scorers: Vec<Scorer>,
    /// The model, when the rule set has one and it could be fitted.
    model: Option<Fitted>,
    /// For the summary.
    report: PopulationReport,
}

/// What the population looked like, for the summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PopulationReport {
    /// The orders (absent without an `orders` block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<OrdersReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<ScoreReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelReport>,
}

impl PopulationReport {
    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.orders.is_none() && self.scores.is_empty() && self.model.is_none()
    }
}

/// Where orders came from and how they matched the customers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OrdersReport {
    pub source: OrdersSource,
    /// The orders file, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// What reading the orders file did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tally: Option<OrderTally>,
    /// Customers of the orders file without a row in the export.
    pub unmatched_customers: u64,
    /// Customers of the export without orders.
    pub customers_without_orders: u64,
    pub without_orders_policy: WithoutOrders,
}

/// Where a run's orders came from: an orders file, or totals in the export's fields.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OrdersSource {
    File,
    #[default]
    Totals,
}

/// Where the model's parameters came from: fitted on the population, or pinned in the rules.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Parameters {
    Fitted,
    Pinned,
}

/// A score's effective edges.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScoreReport {
    pub name: String,
    pub reads: String,
    pub bins: u8,
    pub reverse: bool,
    pub method: MethodKind,
    /// Customers the edges were found over (0 for fixed edges).
    pub population: usize,
    /// `bins - 1` edges, as `edges [...]` would freeze them.
    pub edges: Vec<f64>,
    /// Scores no customer got.
    pub empty_scores: Vec<u8>,
}

/// The model's parameters and fit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelReport {
    pub parameters: Parameters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgnbd: Option<BgNbd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgnbd_fit: Option<FitReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma_gamma: Option<GammaGamma>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma_gamma_fit: Option<FitReport>,
    /// Why the model could not be fitted (its variables are then missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub horizon_months: u32,
    pub monthly_discount_percent: f64,
}

/// How a fit went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FitReport {
    pub customers: usize,
    pub log_likelihood: f64,
    pub iterations: u32,
}

/// Why a run cannot start or go on.
pub type PopulationError = String;

impl Population {
    /// Prepares the population of `program` as of `as_of`, reading the orders file when the rule
    /// set has an `orders` block naming its columns and `orders` is given.
    pub fn new(
        program: &Program,
        as_of: NaiveDate,
        orders: Option<&Path>,
    ) -> Result<Population, PopulationError> {
        let rules = program.rules();
        let block = rules.orders.as_ref();
        let period = block
            .and_then(|o| o.period.as_ref())
            .map_or(Period::Day, |p| p.value);
        let lookback = block
            .and_then(|o| o.lookback.as_ref())
            .map(|l| l.value.days());
        let field = |name: &str| program.fields().iter().position(|f| f.name.value == name);
        let source = match (block, orders) {
            (None, Some(path)) => {
                return Err(format!(
                    "`--orders {}` was given, but the rule set has no `orders` block saying how to read it",
                    path.display()
                ))
            }
            (None, None) => None,
            (Some(block), Some(path)) => {
                let missing = program.rules().missing_words();
                let Some(columns) = declared::order_columns(block, missing) else {
                    return Err(format!(
                        "`--orders {}` was given, but the rule set's `orders` block names no orders-file columns (`customer`, `date`, `amount`)",
                        path.display()
                    ));
                };
                let format = OrderFormat::of(path).ok_or_else(|| {
                    format!(
                        "cannot tell the format of the orders file `{}`: name it .csv, .jsonl or .txt",
                        path.display()
                    )
                })?;
                let read = read_orders(path, format, &columns, as_of)
                    .map_err(|e| format!("`{}`: {e}", path.display()))?;
                if let Some(why) = read.tally.none_readable() {
                    return Err(format!(
                        "`{}`: {why}; do the `orders` block's columns fit the file?",
                        path.display()
                    ));
                }
                let ids = read
                    .customers
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.customer.clone().into_boxed_str(), i as u32))
                    .collect();
                Some(Source::File {
                    ids,
                    histories: read.customers,
                    tally: read.tally,
                    path: path.display().to_string(),
                })
            }
            (Some(block), None) => {
                if !block.has_totals() {
                    return Err(
                        "the rule set reads orders from a file: give it with `--orders FILE`".into(),
                    );
                }
                let total = |kind| block.total(kind).and_then(|t| field(&t.field.value));
                Some(Source::Totals {
                    count: total(TotalKind::Count).ok_or("the `count` total is not a field")?,
                    last: total(TotalKind::Last).ok_or("the `last` total is not a field")?,
                    spent: total(TotalKind::Spent).ok_or("the `spent` total is not a field")?,
                    first: total(TotalKind::First),
                })
            }
        };
        let reads = rules
            .scores
            .iter()
            .map(|s| {
                let name = s.source.value.as_str();
                match ORDER_VARIABLES.iter().position(|v| v.name == name) {
                    Some(i) if block.is_some() => Reads::Order(i),
                    _ => Reads::Field(field(name).unwrap_or(0)),
                }
            })
            .collect();
        let specs = rules
            .scores
            .iter()
            .map(|s| declared::score_spec(s).map_err(|e| format!("score `{}`: {e}", s.name.value)))
            .collect::<Result<_, _>>()?;
        Ok(Population {
            as_of,
            period,
            lookback,
            without_orders: block
                .and_then(|o| o.without_orders.as_ref())
                .map_or_else(WithoutOrders::default, |p| p.value),
            unmatched_policy: block
                .and_then(|o| o.unmatched.as_ref())
                .map_or_else(UnmatchedOrders::default, |p| p.value),
            reads,
            key: program.key_field(),
            specs,
            scorers: Vec::new(),
            model: None,
            report: PopulationReport::default(),
            source,
        })
    }

    /// The fields [`Population::observe`] reads (by index, ascending): the key (to find a
    /// customer's orders, or to split ties by its hash), the totals and the fields scores read.
    /// The first pass types only these.
    pub fn observed_fields(&self) -> Vec<usize> {
        let mut out = Vec::new();
        if matches!(self.source, Some(Source::File { .. })) || self.hashes_ids() {
            out.push(self.key);
        }
        if let Some(Source::Totals {
            count,
            last,
            spent,
            first,
        }) = &self.source
        {
            out.extend([*count, *last, *spent]);
            out.extend(*first);
        }
        for r in &self.reads {
            if let Reads::Field(i) = r {
                out.push(*i);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether the population must be observed before deciding: scores to find edges for, a
    /// model to fit, or an orders file whose unmatched customers must be known.
    pub fn needs_pass(&self, program: &Program) -> bool {
        let rules = program.rules();
        !rules.scores.is_empty()
            || rules.model.is_some()
            || matches!(self.source, Some(Source::File { .. }))
    }

    /// Notes one customer row (its field values, as read) in a worker's share.
    pub fn observe(&self, program: &Program, line: u64, fields: &[Dynamic], share: &mut Observed) {
        if share.collectors.len() != self.specs.len() {
            share.collectors = self.specs.iter().cloned().map(Collector::new).collect();
        }
        // A row rejected here is rejected again, and counted, when deciding.
        let Ok((summaries, matched)) = self.summaries(program, line, fields) else {
            return;
        };
        if let Some(i) = matched {
            share.matched.push(i);
        }
        if !summaries.has_orders {
            share.without_orders += 1;
            if self.without_orders == WithoutOrders::Reject {
                return;
            }
        }
        let id = self.id(fields);
        let order_values = summaries.values();
        for (collector, reads) in share.collectors.iter_mut().zip(&self.reads) {
            if let Some(v) = read(*reads, &summaries, &order_values, fields) {
                // Values are finite: day counts, sums of finite amounts, typed numbers.
                let _ = collector.push(v, &id);
            }
        }
        if let Some(b) = summaries.btyd.filter(|_| program.rules().model.is_some()) {
            share.btyd.push(b);
        }
    }

    /// Finds the score edges and fits (or pins) the model; errs when orders of unknown
    /// customers must fail the run.
    pub fn settle(
        &mut self,
        program: &Program,
        mut observed: Observed,
    ) -> Result<(), PopulationError> {
        let rules = program.rules();
        observed.matched.sort_unstable();
        observed.matched.dedup();
        // Without observing (or rows), the collectors are empty.
        let mut collectors = observed.collectors.into_iter();
        self.scorers = self
            .specs
            .iter()
            .map(|spec| {
                let collector = collectors
                    .next()
                    .unwrap_or_else(|| Collector::new(spec.clone()));
                collector.finish()
            })
            .collect();
        let total = match &self.source {
            Some(Source::File { histories, .. }) => histories.len(),
            _ => 0,
        };
        let unmatched = (total - observed.matched.len()) as u64;
        if unmatched > 0 && self.unmatched_policy == UnmatchedOrders::Fail {
            return Err(format!(
                "{unmatched} of the {total} customers of the orders file have no row in the export (`unmatched_orders fail`)"
            ));
        }
        if let Some(Source::File { histories, .. }) = &self.source {
            if !histories.is_empty() && unmatched as usize == histories.len() {
                return Err(format!(
                    "no customer id of the orders file matches one of the export: {} customers in the orders file, none in the export; are the id columns right?",
                    histories.len()
                ));
            }
        }
        self.report.orders = rules.orders.as_ref().map(|_| OrdersReport {
            source: match &self.source {
                Some(Source::File { .. }) => OrdersSource::File,
                _ => OrdersSource::Totals,
            },
            file: match &self.source {
                Some(Source::File { path, .. }) => Some(path.clone()),
                _ => None,
            },
            tally: match &self.source {
                Some(Source::File { tally, .. }) => Some(tally.clone()),
                _ => None,
            },
            unmatched_customers: unmatched,
            customers_without_orders: observed.without_orders,
            without_orders_policy: self.without_orders,
        });
        self.report.scores = rules
            .scores
            .iter()
            .zip(&self.scorers)
            .zip(&self.specs)
            .map(|((s, scorer), spec)| {
                let method = spec.method().kind();
                ScoreReport {
                    name: s.name.value.clone(),
                    reads: s.source.value.clone(),
                    bins: scorer.bins(),
                    reverse: scorer.reverse(),
                    method,
                    population: if method == MethodKind::Fixed {
                        0
                    } else {
                        scorer.population()
                    },
                    edges: scorer.edges().to_vec(),
                    empty_scores: scorer.empty_scores(),
                }
            })
            .collect();
        if let Some(m) = &rules.model {
            let (fitted, report) = fit(m, &observed.btyd, self.period);
            self.model = fitted;
            self.report.model = Some(report);
        }
        Ok(())
    }

    /// What the population looked like, once settled.
    pub fn report(&self) -> &PopulationReport {
        &self.report
    }

    /// The population variables of one customer (in [`Program`] slot order), appended to
    /// `values` (its fields); a customer without orders under `customers_without_orders reject`
    /// is rejected.
    pub fn inputs(
        &self,
        program: &Program,
        line: u64,
        values: &mut Vec<Dynamic>,
    ) -> Result<(), Reject> {
        let rules = program.rules();
        if rules.orders.is_none() && rules.scores.is_empty() && rules.tables.is_empty() {
            return Ok(());
        }
        let (summaries, _) = self.summaries(program, line, values)?;
        if !summaries.has_orders && self.without_orders == WithoutOrders::Reject {
            return Err(Reject::no_orders(line, super::text(&values[self.key])));
        }
        let order_values = summaries.values();
        let id = self.id(values);
        values.reserve(program.inputs() - values.len());
        if rules.orders.is_some() {
            for (i, v) in order_values.iter().enumerate() {
                values.push(match v {
                    None => Dynamic::UNIT,
                    Some(v) if ORDER_VARIABLES[i].ty == FieldType::Int => {
                        Dynamic::from_int(*v as i64)
                    }
                    Some(v) => Dynamic::from_float(*v),
                });
            }
        }
        for (reads, scorer) in self.reads.iter().zip(&self.scorers) {
            let score = read(*reads, &summaries, &order_values, values)
                .and_then(|v| scorer.score(v, &id).ok());
            values.push(score.map_or(Dynamic::UNIT, |s| Dynamic::from_int(i64::from(s))));
        }
        // Tables follow from the scores, once every value is in place.
        values.extend(rules.tables.iter().map(|_| Dynamic::UNIT));
        if rules.model.is_some() {
            let out = match (&self.model, summaries.btyd) {
                (Some(m), Some(b)) => [
                    m.bgnbd.p_alive(b.frequency, b.recency, b.t).ok(),
                    m.bgnbd
                        .conditional_expected_purchases(m.horizon, b.frequency, b.recency, b.t)
                        .ok(),
                    m.gamma_gamma.as_ref().and_then(|gg| {
                        btyd::customer_lifetime_value(&m.bgnbd, gg, &b, self.period, &m.clv).ok()
                    }),
                ],
                _ => [None; 3],
            };
            for v in out {
                values.push(
                    v.filter(|v| v.is_finite())
                        .map_or(Dynamic::UNIT, Dynamic::from_float),
                );
            }
        }
        program.fill_tables(values);
        Ok(())
    }

    /// The customer id as scores with hashed ties need it (empty when none does).
    fn id(&self, fields: &[Dynamic]) -> String {
        if self.hashes_ids() {
            super::text(&fields[self.key])
        } else {
            String::new()
        }
    }

    /// Whether a score splits ties by the hash of the customer id.
    fn hashes_ids(&self) -> bool {
        self.specs
            .iter()
            .any(|s| matches!(s.method(), Method::Hash { .. }))
    }

    /// A customer's order summaries, and its index in the orders file when it has one there.
    fn summaries(
        &self,
        program: &Program,
        line: u64,
        fields: &[Dynamic],
    ) -> Result<(Summaries, Option<u32>), Reject> {
        match &self.source {
            None => Ok((Summaries::default(), None)),
            Some(Source::File { ids, histories, .. }) => {
                let id = super::text(&fields[self.key]);
                let Some(&i) = ids.get(id.as_str()) else {
                    return Ok((Summaries::default(), None));
                };
                let h = &histories[i as usize];
                let rfm = h.rfm(self.as_of, self.lookback);
                let summaries = Summaries {
                    has_orders: true,
                    recency_days: rfm.map(|r| r.recency_days),
                    frequency: rfm.map_or(0, |r| r.frequency),
                    monetary: rfm.map_or(0.0, |r| cents(r.monetary)),
                    btyd: h.btyd(self.as_of, self.period),
                };
                Ok((summaries, Some(i)))
            }
            Some(Source::Totals {
                count,
                last,
                spent,
                first,
            }) => {
                let (count, last, spent, first) = (*count, *last, *spent, *first);
                let orders = number(&fields[count]).unwrap_or(0.0).max(0.0);
                if orders < 1.0 {
                    return Ok((Summaries::default(), None));
                }
                let bad = |field: usize, found: NaiveDate, what: &str| {
                    let f = &program.fields()[field];
                    Reject {
                        line,
                        id: Some(super::text(&fields[self.key])),
                        column: Some(f.column.value.clone()),
                        rule: None,
                        code: RejectCode::BadValue,
                        reason: format!(
                            "the {what} order date {found} is after as_of {}",
                            self.as_of
                        ),
                    }
                };
                let last_date = date(&fields[last]);
                if let Some(d) = last_date.filter(|d| *d > self.as_of) {
                    return Err(bad(last, d, "last"));
                }
                let first_date = first.and_then(|f| date(&fields[f]));
                if let (Some(f), Some(d)) = (first, first_date.filter(|d| *d > self.as_of)) {
                    return Err(bad(f, d, "first"));
                }
                let spent = number(&fields[spent]).unwrap_or(0.0);
                let btyd = first_date.zip(last_date).map(|(first, last)| {
                    let first = first.min(last);
                    Btyd {
                        frequency: orders - 1.0,
                        recency: self.period.of_days((last - first).num_days()),
                        t: self.period.of_days((self.as_of - first).num_days()),
                        monetary_value: if orders > 1.0 { spent / orders } else { 0.0 },
                    }
                });
                let summaries = Summaries {
                    has_orders: true,
                    recency_days: last_date.map(|last| (self.as_of - last).num_days()),
                    frequency: orders as u32,
                    monetary: spent,
                    btyd,
                };
                Ok((summaries, None))
            }
        }
    }
}

/// The value a score reads (`order_values` are the summaries' values): customers without
/// orders have no order-variable score.
fn read(
    reads: Reads,
    summaries: &Summaries,
    order_values: &[Option<f64>; 7],
    fields: &[Dynamic],
) -> Option<f64> {
    match reads {
        Reads::Order(i) => order_values[i].filter(|_| summaries.has_orders),
        Reads::Field(i) => number(&fields[i]),
    }
}

/// The model of `m` over the population's BTYD summaries (its pinned parameters, or fitted),
/// and its report; no model when it cannot be fitted (the report says why).
fn fit(
    m: &crate::model::Model,
    summaries: &[Btyd],
    period: Period,
) -> (Option<Fitted>, ModelReport) {
    let months = m.horizon.as_ref().map_or(12, |h| h.value.amount);
    let discount = m.discount.as_ref().map_or(1.0, |d| d.value);
    let clv = ClvOptions {
        months,
        monthly_discount_rate: discount / 100.0,
        ..ClvOptions::default()
    };
    let fit_report = |customers, log_likelihood, iterations| FitReport {
        customers,
        log_likelihood,
        iterations,
    };
    let bg: Result<(BgNbd, Option<FitReport>), String> = match &m.bgnbd {
        Some(p) => {
            let [r, alpha, a, b] = p.value;
            Ok((BgNbd { r, alpha, a, b }, None))
        }
        None => BgNbd::fit(summaries)
            .map(|f| {
                let report = fit_report(summaries.len(), f.log_likelihood, f.iterations);
                (f.params, Some(report))
            })
            .map_err(|e| format!("BG/NBD: {e}")),
    };
    let gg: Result<(GammaGamma, Option<FitReport>), String> = match &m.gamma_gamma {
        Some(p) => {
            let [p, q, v] = p.value;
            Ok((GammaGamma { p, q, v }, None))
        }
        None => GammaGamma::fit(summaries)
            .map(|f| {
                let report = fit_report(f.customers, f.log_likelihood, f.iterations);
                (f.params, Some(report))
            })
            .map_err(|e| format!("Gamma-Gamma: {e}")),
    };
    let errors: Vec<&str> = [bg.as_ref().err(), gg.as_ref().err()]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let (bg, gg) = (bg.as_ref().ok(), gg.as_ref().ok());
    let report = ModelReport {
        parameters: if m.bgnbd.is_some() && m.gamma_gamma.is_some() {
            Parameters::Pinned
        } else {
            Parameters::Fitted
        },
        bgnbd: bg.map(|b| b.0),
        bgnbd_fit: bg.and_then(|b| b.1.clone()),
        gamma_gamma: gg.map(|g| g.0),
        gamma_gamma_fit: gg.and_then(|g| g.1.clone()),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        horizon_months: months,
        monthly_discount_percent: discount,
    };
    let fitted = bg.map(|&(bgnbd, _)| Fitted {
        bgnbd,
        gamma_gamma: gg.map(|g| g.0),
        horizon: f64::from(months) * clv.days_per_month / period.days(),
        clv,
    });
    (fitted, report)
}

/// A typed number field's value (int or decimal), if it has one.
pub(super) fn number(v: &Dynamic) -> Option<f64> {
    v.as_float()
        .ok()
        .or_else(|| v.as_int().ok().map(|i| i as f64))
        .filter(|f| f.is_finite())
}

/// A date or datetime field's date, if it has one.
fn date(v: &Dynamic) -> Option<NaiveDate> {
    if let Some(d) = v.read_lock::<NaiveDate>() {
        return Some(*d);
    }
    v.read_lock::<NaiveDateTime>().map(|dt| dt.date())
}
