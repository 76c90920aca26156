//! The simple customer-lifetime-value formulas of `docs/domain.md`, behind the rule functions
//! `clv_historic`, `clv_simple` and `clv_retention`; the model-based one (BG/NBD and
//! Gamma-Gamma) is `analytics::btyd::customer_lifetime_value`.
//!
//! Every function checks its arguments and returns a [`ClvError`] rather than a NaN or an
//! infinity: amounts must be finite and non-negative, margins fractions in `0..=1`, retention
//! rates in `0..1`.

/// An argument outside its domain.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} = {value}: {rule}")]
pub struct ClvError {
    /// The argument.
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// What it must be, in words.
    pub rule: &'static str,
}

fn non_negative(name: &'static str, value: f64) -> Result<f64, ClvError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ClvError {
            name,
            value,
            rule: "must be a finite number >= 0",
        })
    }
}

fn fraction(name: &'static str, value: f64) -> Result<f64, ClvError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ClvError {
            name,
            value,
            rule: "must be a fraction between 0 and 1",
        })
    }
}

/// Historic CLV: the margin earned so far, `revenue * margin` (the sum of the orders' margins
/// when they share one margin rate).
pub fn historic(revenue: f64, margin: f64) -> Result<f64, ClvError> {
    Ok(non_negative("revenue", revenue)? * fraction("margin", margin)?)
}

/// Simple CLV: `average_order_value * purchases_per_year * lifespan_years * margin`.
pub fn simple(
    average_order_value: f64,
    purchases_per_year: f64,
    lifespan_years: f64,
    margin: f64,
) -> Result<f64, ClvError> {
    let value = non_negative("average_order_value", average_order_value)?
        * non_negative("purchases_per_year", purchases_per_year)?
        * non_negative("lifespan_years", lifespan_years)?
        * fraction("margin", margin)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ClvError {
            name: "simple CLV",
            value,
            rule: "the product overflows",
        })
    }
}

/// The retention multiple `r / (1 + d - r)`: the value of a margin of 1 per period, retained
/// with probability `r` each period and discounted at `d` per period, over an infinite horizon
/// (the first margin one period away). `r` in `0..1`, `d >= 0`.
pub fn retention_multiple(retention: f64, discount: f64) -> Result<f64, ClvError> {
    if !(0.0..1.0).contains(&retention) {
        return Err(ClvError {
            name: "retention",
            value: retention,
            rule: "must be in [0, 1) (a rate of 1 keeps every customer forever)",
        });
    }
    let discount = non_negative("discount", discount)?;
    Ok(retention / (1.0 + discount - retention))
}

/// Retention-based CLV: `margin * r / (1 + d - r)` for a margin per period, a retention rate
/// `r` in `0..1` and a discount rate `d >= 0` per period.
pub fn retention_based(margin: f64, retention: f64, discount: f64) -> Result<f64, ClvError> {
    Ok(non_negative("margin", margin)? * retention_multiple(retention, discount)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_multiple_of_domain_md() {
        let multiple = retention_multiple(0.8, 0.1).unwrap();
        assert!((multiple - 8.0 / 3.0).abs() < 1e-12, "{multiple}");
        assert_eq!(format!("{multiple:.2}"), "2.67");
        let clv = retention_based(100.0, 0.8, 0.1).unwrap();
        assert!((clv - 800.0 / 3.0).abs() < 1e-9);
        assert_eq!(retention_based(100.0, 0.0, 0.1).unwrap(), 0.0);
        // Without discount, r / (1 - r): the expected number of further periods.
        assert!((retention_multiple(0.5, 0.0).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn historic_and_simple() {
        assert_eq!(historic(1000.0, 0.25).unwrap(), 250.0);
        assert_eq!(simple(50.0, 4.0, 3.0, 0.3).unwrap(), 180.0);
        assert_eq!(simple(50.0, 0.0, 3.0, 0.3).unwrap(), 0.0);
    }

    #[test]
    fn bad_arguments_are_errors_not_nan() {
        for r in [1.0, 1.5, -0.1, f64::NAN] {
            let err = retention_based(10.0, r, 0.1).unwrap_err();
            assert_eq!(err.name, "retention");
        }
        assert_eq!(retention_based(-1.0, 0.5, 0.1).unwrap_err().name, "margin");
        assert_eq!(
            retention_based(1.0, 0.5, -0.1).unwrap_err().name,
            "discount"
        );
        assert_eq!(
            retention_based(1.0, 0.5, f64::INFINITY).unwrap_err().name,
            "discount"
        );
        assert_eq!(historic(-5.0, 0.2).unwrap_err().name, "revenue");
        assert_eq!(historic(5.0, 1.2).unwrap_err().name, "margin");
        assert_eq!(
            simple(10.0, -1.0, 2.0, 0.5).unwrap_err().name,
            "purchases_per_year"
        );
        assert_eq!(
            simple(f64::NAN, 1.0, 2.0, 0.5).unwrap_err().name,
            "average_order_value"
        );
        assert!(simple(1e300, 1e300, 1.0, 1.0).is_err());
        let shown = retention_based(10.0, 1.0, 0.1).unwrap_err().to_string();
        assert!(
            shown.starts_with("retention = 1: must be in [0, 1)"),
            "{shown}"
        );
    }
}
