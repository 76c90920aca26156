//! Differentiate: purchase history into the metrics marketers target by (RFM and
//! buy-till-you-die summaries, population scores, CLV, churn models). The conventions are
//! those of `DOMAIN.md` (shared with the team): RFM and BTYD are named apart, never mixed.

pub mod cells;
pub mod scores;

use serde::Serialize;

/// The unit BTYD times are measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    #[default]
    Day,
    /// Seven days; times are fractional (`days / 7`).
    Week,
}

impl Period {
    /// `days` in this unit.
    pub fn of_days(self, days: i64) -> f64 {
        match self {
            Period::Day => days as f64,
            Period::Week => days as f64 / 7.0,
        }
    }
}

/// One customer's history in the buy-till-you-die convention of the `lifetimes` library:
/// `frequency` repeat purchase days (purchase days - 1), `recency` the age at the last purchase
/// (last - first purchase, NOT the time since it), `t` the age at `as_of` (as_of - first
/// purchase), times in a [`Period`], and `monetary_value` the mean amount of the repeat
/// purchases (0 when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Btyd {
    pub frequency: f64,
    pub recency: f64,
    pub t: f64,
    pub monetary_value: f64,
}

/// One customer's history in the RFM convention: days since the last purchase, the number of
/// purchase days and the sum of amounts (both over the lookback window, when there is one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rfm {
    pub recency_days: i64,
    pub frequency: u32,
    pub monetary: f64,
}
