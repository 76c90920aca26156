//! Evaluation. A checked rule set becomes a [`Program`]: a plan shared by every thread. Each
//! thread builds an [`Evaluator`] from it (its own rhai engine and compiled expressions) and
//! turns customers' field values into [`Decision`]s; [`explain()`] says why, for one customer.

mod decision;
mod evaluate;
pub mod explain;
mod holdout;
mod layout;
pub mod population;
mod program;
pub mod volume;

pub use decision::{csv_header, display, text, ActionOutcome, CellSource, Decision, Suppression};
pub use evaluate::{EvalError, Evaluator};
pub use explain::{explain, Explanation};
pub use holdout::{holdout_bucket, stable_hash, HoldoutSplit, BUCKETS};
pub use population::Population;
pub use program::{LoadError, Program, TestPlace};
