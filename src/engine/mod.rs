//! Evaluation. A checked rule set becomes a [`crate::plan::Program`], shared by every thread.
//! Each thread builds an [`Evaluator`] over it (its own rhai engines; the plan's compiled
//! expressions) and turns customers' field values into [`Decision`]s; [`explain()`] says why,
//! for one customer.

mod columnar;
mod decision;
mod evaluate;
pub mod explain;
pub mod population;
pub mod volume;

pub use columnar::Customers;
pub use decision::{
    csv_header, display, text, ActionOutcome, CellSource, Decision, Fill, Quotes, Suppression,
};
pub use evaluate::{EvalError, Evaluator};
pub use explain::{explain, Explanation};
pub use population::Population;
