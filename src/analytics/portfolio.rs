//! A portfolio view of an orders file, without a rule set (`idic analyze`): per customer the
//! BTYD and RFM summaries, R/F/M scores and the `rfm10` segment, P(alive), expected purchases
//! and model CLV; for the population the BG/NBD and Gamma-Gamma fits, the distribution of
//! P(alive), the score edges and the value per RFM segment.

use super::btyd::{self, BgNbd, BgNbdFit, ClvOptions, GammaGamma, GammaGammaFit};
use super::cells;
use super::orders::{History, OrderTally, Orders};
use super::scores::{Method, Scorer, Spec};
use super::{Btyd, Rfm};
use crate::model::Period;
use crate::text::cents;
use chrono::NaiveDate;
use serde::Serialize;

/// How to analyse.
#[derive(Debug, Clone)]
pub struct Options {
    /// The unit of BTYD times.
    pub period: Period,
    /// The RFM window in days (`None`: all history).
    pub lookback_days: Option<u32>,
    /// Bins of the R, F and M scores (quantiles, ties together).
    pub bins: u32,
    /// The horizon and discounting of model CLV; expected purchases use the same horizon.
    pub clv: ClvOptions,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            period: Period::Day,
            lookback_days: None,
            bins: 5,
            clv: ClvOptions::default(),
        }
    }
}

/// One customer of the portfolio.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: String,
    pub first_purchase: NaiveDate,
    pub last_purchase: NaiveDate,
    pub btyd: Btyd,
    /// `None` when the customer bought nothing inside the lookback window.
    pub rfm: Option<Rfm>,
    /// Items bought in all (0 without a quantity column).
    pub quantity: f64,
    /// R, F and M scores (`None` without RFM).
    pub scores: Option<[u8; 3]>,
    /// The `rfm10` segment of the R and F scores (5 bins only).
    pub segment: Option<String>,
    /// From the fitted models (`None` when they could not be fitted).
    pub p_alive: Option<f64>,
    /// Expected purchases over the CLV horizon.
    pub expected_purchases: Option<f64>,
    pub clv: Option<f64>,
}

/// What the population looks like, and the models fitted on it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub as_of: NaiveDate,
    pub period: Period,
    /// What reading the orders did: rows, purchases, rows after `as_of`, rejects.
    pub orders: OrderTally,
    pub customers: usize,
    pub repeat_buyers: usize,
    /// The fitted models (`None` when the population cannot be fitted; see `fit_errors`).
    pub bg_nbd: Option<BgNbdFit>,
    pub gamma_gamma: Option<GammaGammaFit>,
    /// Why a model could not be fitted, one sentence each.
    pub fit_errors: Vec<String>,
    /// What is weak in a model that was fitted (a parameter the data barely pins down), one
    /// sentence each.
    pub fit_warnings: Vec<String>,
    /// The CLV horizon in months and the monthly discount rate.
    pub horizon_months: u32,
    pub monthly_discount_rate: f64,
    /// Customers by P(alive) in tenths: `[0, 0.1)`, ..., `[0.9, 1.0]`.
    pub p_alive_deciles: Vec<u64>,
    /// The effective edges of the R, F and M scores (what a rule set can freeze).
    pub score_edges: Vec<ScoreEdges>,
    /// Customers, spend and model CLV per `rfm10` segment, in the table's order.
    pub segments: Vec<SegmentValue>,
}

/// The edges of one score.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreEdges {
    pub score: &'static str,
    pub of: &'static str,
    pub edges: Vec<f64>,
}

/// The value of one RFM segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentValue {
    pub name: String,
    pub customers: u64,
    /// The sum of RFM monetary (inside the lookback window).
    pub monetary: f64,
    /// The sum of model CLV; `None` when the models could not be fitted (not 0: unknown).
    pub clv: Option<f64>,
}

/// The analysis of a portfolio: one row per customer (sorted by id) and the report.
#[derive(Debug, Clone)]
pub struct Portfolio {
    pub customers: Vec<Customer>,
    pub report: Report,
}

/// Analyses the customers of `orders`.
pub fn analyze(orders: &Orders, options: &Options) -> Portfolio {
    let as_of = orders.as_of;
    let histories: Vec<(&History, Btyd, Option<Rfm>)> = orders
        .customers
        .iter()
        .filter_map(|h| {
            let btyd = h.btyd(as_of, options.period)?;
            Some((h, btyd, h.rfm(as_of, options.lookback_days)))
        })
        .collect();
    let summaries: Vec<Btyd> = histories.iter().map(|(_, b, _)| *b).collect();
    let bg_nbd = BgNbd::fit(&summaries).map_err(|e| e.to_string());
    let gamma_gamma = GammaGamma::fit(&summaries).map_err(|e| e.to_string());
    let scorers = scorers(&histories, options.bins);
    let table = cells::preset("rfm10").expect("a shipped preset");

    let mut deciles = vec![0u64; 10];
    let mut segments: Vec<SegmentValue> = table
        .rules()
        .iter()
        .map(|r| SegmentValue {
            name: r.name.clone(),
            customers: 0,
            monetary: 0.0,
            clv: None,
        })
        .collect();
    // P(alive) and expected purchases need BG/NBD only; CLV needs Gamma-Gamma too.
    let bg = bg_nbd.as_ref().ok().map(|f| &f.params);
    let models = match (&bg_nbd, &gamma_gamma) {
        (Ok(bg), Ok(gg)) => Some((&bg.params, &gg.params)),
        _ => None,
    };
    // Expected purchases over the CLV horizon, in the period's unit.
    let horizon = options.clv.months as f64 * options.clv.days_per_month / options.period.days();
    let customers = histories
        .iter()
        .map(|(h, b, rfm)| {
            let p_alive = bg.and_then(|bg| bg.p_alive(b.frequency, b.recency, b.t).ok());
            let expected = bg.and_then(|bg| {
                bg.conditional_expected_purchases(horizon, b.frequency, b.recency, b.t)
                    .ok()
            });
            let clv = models.and_then(|(bg, gg)| {
                btyd::customer_lifetime_value(bg, gg, b, options.period, &options.clv).ok()
            });
            if let Some(p) = p_alive {
                deciles[((p * 10.0) as usize).min(9)] += 1;
            }
            let scores = rfm
                .as_ref()
                .and_then(|rfm| score(&scorers, rfm, &h.customer));
            let segment = scores
                .filter(|_| options.bins == 5)
                .and_then(|[r, f, _]| table.assign(r, f, None))
                .map(|i| {
                    let s = &mut segments[i];
                    s.customers += 1;
                    s.monetary += rfm.map_or(0.0, |r| r.monetary);
                    if models.is_some() {
                        *s.clv.get_or_insert(0.0) += clv.unwrap_or(0.0);
                    }
                    table.rules()[i].name.clone()
                });
            Customer {
                id: h.customer.clone(),
                first_purchase: h.first_purchase(),
                last_purchase: h.last_purchase(),
                btyd: *b,
                rfm: *rfm,
                quantity: h.quantity,
                scores,
                segment,
                p_alive,
                expected_purchases: expected,
                clv,
            }
        })
        .collect();
    for s in &mut segments {
        s.monetary = cents(s.monetary);
        s.clv = s.clv.map(cents);
    }
    let score_edges = match &scorers {
        Some([r, f, m]) => vec![
            edges("R", "recency_days", r),
            edges("F", "frequency", f),
            edges("M", "monetary", m),
        ],
        None => Vec::new(),
    };
    Portfolio {
        customers,
        report: Report {
            as_of,
            period: options.period,
            orders: orders.tally.clone(),
            customers: histories.len(),
            repeat_buyers: summaries.iter().filter(|b| b.frequency > 0.0).count(),
            fit_errors: [bg_nbd.as_ref().err(), gamma_gamma.as_ref().err()]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            fit_warnings: bg_nbd
                .as_ref()
                .ok()
                .map(|f| {
                    let p = &f.params;
                    weak_fit(
                        "BG/NBD",
                        &[("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)],
                    )
                })
                .into_iter()
                .chain(gamma_gamma.as_ref().ok().map(|f| {
                    let p = &f.params;
                    weak_fit("Gamma-Gamma", &[("p", p.p), ("q", p.q), ("gamma", p.v)])
                }))
                .flatten()
                .collect(),
            bg_nbd: bg_nbd.ok(),
            gamma_gamma: gamma_gamma.ok(),
            horizon_months: options.clv.months,
            monthly_discount_rate: options.clv.monthly_discount_rate,
            p_alive_deciles: if deciles.iter().any(|&n| n > 0) {
                deciles
            } else {
                Vec::new()
            },
            score_edges,
            segments: if options.bins == 5 {
                segments
            } else {
                Vec::new()
            },
        },
    }
}

/// The widest range a fitted parameter keeps and is still pinned down by the data: beyond it
/// (`b` in the millions, `r` near zero), the likelihood is nearly flat in that direction.
const PINNED: std::ops::RangeInclusive<f64> = 1e-4..=1e4;

/// A sentence for each parameter of `model` outside [`PINNED`], or `None`.
fn weak_fit(model: &str, params: &[(&str, f64)]) -> Option<String> {
    let weak: Vec<String> = params
        .iter()
        .filter(|(_, v)| !PINNED.contains(v))
        .map(|(name, v)| format!("{name} = {v:.4e}"))
        .collect();
    (!weak.is_empty()).then(|| {
        format!(
            "{model}'s {} is at the edge of what the data pins down (too few repeat purchases, \
             or too short a history): its predictions lean on that value; treat them with care",
            weak.join(", ")
        )
    })
}

impl Report {
    /// The report as aligned text for analysts.
    pub fn to_text(&self) -> String {
        use crate::text::{group, money_text};
        use std::fmt::Write as _;
        let mut out = String::new();
        let unit = match self.period {
            Period::Day => "days",
            Period::Week => "weeks",
        };
        let _ = writeln!(out, "portfolio as of {} (BTYD times in {unit})", self.as_of);
        let t = &self.orders;
        let _ = writeln!(out, "orders        {}", t.describe());
        let _ = writeln!(
            out,
            "customers     {} ({} repeat buyers)",
            group(self.customers as u64),
            group(self.repeat_buyers as u64)
        );
        let _ = writeln!(out);
        match &self.bg_nbd {
            Some(f) => {
                let p = &f.params;
                let _ = writeln!(
                    out,
                    "BG/NBD        r {:.4}  alpha {:.4}  a {:.4}  b {:.4}  log-likelihood {:.2}  ({} customers, {} iterations)",
                    p.r, p.alpha, p.a, p.b, f.log_likelihood, group(f.customers as u64), f.iterations
                );
            }
            None => out.push_str("BG/NBD        not fitted\n"),
        }
        match &self.gamma_gamma {
            Some(f) => {
                let p = &f.params;
                let _ = writeln!(
                    out,
                    "Gamma-Gamma   p {:.4}  q {:.4}  gamma {:.4}  log-likelihood {:.2}  ({} repeat buyers)",
                    p.p, p.q, p.v, f.log_likelihood, group(f.customers as u64)
                );
            }
            None => out.push_str("Gamma-Gamma   not fitted\n"),
        }
        for e in &self.fit_errors {
            let _ = writeln!(out, "  {e}");
        }
        for w in &self.fit_warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        if self.bg_nbd.is_some() && self.gamma_gamma.is_none() {
            let _ = writeln!(
                out,
                "  P(alive) and expected purchases come from BG/NBD alone; CLV needs Gamma-Gamma: n/a"
            );
        }
        if !self.p_alive_deciles.is_empty() {
            let _ = writeln!(out, "\nP(alive)      customers");
            for (i, n) in self.p_alive_deciles.iter().enumerate() {
                let upper = if i == 9 { "]" } else { ")" };
                let _ = writeln!(
                    out,
                    "[{:.1}, {:.1}{upper}  {:>10}",
                    i as f64 / 10.0,
                    (i + 1) as f64 / 10.0,
                    group(*n)
                );
            }
        }
        if !self.score_edges.is_empty() {
            let _ = writeln!(
                out,
                "\nscore  of            edges (bin i holds values up to edge i)"
            );
            for e in &self.score_edges {
                let edges: Vec<String> = e.edges.iter().map(|x| format!("{x}")).collect();
                let _ = writeln!(out, "{:<6} {:<13} {}", e.score, e.of, edges.join(", "));
            }
        }
        if !self.segments.is_empty() {
            let w = self
                .segments
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0)
                .max(7);
            let _ = writeln!(
                out,
                "\n{:<w$}  {:>10}  {:>14}  {:>14}",
                "segment",
                "customers",
                "monetary",
                format!("CLV {} months", self.horizon_months)
            );
            for s in &self.segments {
                let _ = writeln!(
                    out,
                    "{:<w$}  {:>10}  {:>14}  {:>14}",
                    s.name,
                    group(s.customers),
                    money_text(s.monetary),
                    s.clv.map_or_else(|| "n/a".to_string(), money_text)
                );
            }
        }
        out
    }
}

/// The R, F and M scorers over every customer with RFM values (`None` when there is none or
/// the bins are out of range).
fn scorers(histories: &[(&History, Btyd, Option<Rfm>)], bins: u32) -> Option<[Scorer; 3]> {
    let specs = [true, false, false].map(|reverse| Spec::new(bins, reverse, Method::Together));
    let [r, f, m] = specs;
    let mut collectors = [r.ok()?, f.ok()?, m.ok()?].map(super::scores::Collector::new);
    for (h, _, rfm) in histories {
        let Some(rfm) = rfm else { continue };
        for (c, v) in collectors.iter_mut().zip(values(rfm)) {
            c.push(v, &h.customer).ok()?;
        }
    }
    if collectors[0].is_empty() {
        return None;
    }
    Some(collectors.map(|c| c.finish()))
}

fn values(rfm: &Rfm) -> [f64; 3] {
    [
        rfm.recency_days as f64,
        f64::from(rfm.frequency),
        rfm.monetary,
    ]
}

fn score(scorers: &Option<[Scorer; 3]>, rfm: &Rfm, id: &str) -> Option<[u8; 3]> {
    let scorers = scorers.as_ref()?;
    let v = values(rfm);
    Some([
        scorers[0].score(v[0], id).ok()?,
        scorers[1].score(v[1], id).ok()?,
        scorers[2].score(v[2], id).ok()?,
    ])
}

fn edges(score: &'static str, of: &'static str, scorer: &Scorer) -> ScoreEdges {
    ScoreEdges {
        score,
        of,
        edges: scorer.effective_edges(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_parameter_the_data_barely_pins_down_is_named() {
        let weak = super::weak_fit("BG/NBD", &[("r", 0.24), ("b", 3.2e6)]).unwrap();
        assert!(
            weak.starts_with("BG/NBD's b = 3.2000e6 is at the edge"),
            "{weak}"
        );
        assert_eq!(super::weak_fit("BG/NBD", &[("r", 0.24), ("b", 2.4)]), None);
    }
}
