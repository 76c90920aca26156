//! Differentiate: purchase history into the metrics marketers target by (RFM and
//! buy-till-you-die summaries, population scores, CLV, churn models). The conventions are
//! those of `docs/domain.md`: RFM and BTYD are named apart, never mixed.

pub mod btyd;
pub mod cells;
pub mod declared;
pub mod effect;
pub mod join;
pub mod orders;
pub mod portfolio;
pub mod scores;
pub mod uplift;

use serde::Serialize;

/// One customer's history in the buy-till-you-die convention of the `lifetimes` library:
/// `frequency` repeat purchase days (purchase days - 1), `recency` the age at the last purchase
/// (last - first purchase, NOT the time since it), `t` the age at `as_of` (as_of - first
/// purchase), times in a [`Period`](crate::model::Period), and `monetary_value` the mean amount of the repeat
/// purchases (0 when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Btyd {
    /// Repeat purchase days: purchase days - 1 (`x`).
    pub frequency: f64,
    /// Age at the last purchase: last - first purchase, in the [`Period`](crate::model::Period) (`t_x`).
    pub recency: f64,
    /// Age at `as_of`: as_of - first purchase, in the [`Period`](crate::model::Period) (`T`).
    pub t: f64,
    /// Mean amount of the repeat purchase days; 0 without repeat purchases.
    pub monetary_value: f64,
}

/// One customer's history in the RFM convention: days since the last purchase, the number of
/// purchase days and the sum of amounts (both over the lookback window, when there is one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rfm {
    /// Days since the last purchase (`as_of - last purchase`).
    pub recency_days: i64,
    /// Purchase days (same-day orders count once).
    pub frequency: u32,
    /// Sum of the amounts.
    pub monetary: f64,
}
