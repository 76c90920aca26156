//! Evaluation. A checked rule set becomes a [`Program`]: a plan shared by every thread. Each
//! thread builds an [`Evaluator`] from it (its own rhai engine and compiled expressions) and
//! turns customers' field values into [`Decision`]s.

mod decision;
mod evaluate;
mod program;

pub use decision::{text, ActionOutcome, Decision, Suppression, CSV_HEADER};
pub use evaluate::{EvalError, Evaluator};
pub use program::{LoadError, Program, TestPlace};
