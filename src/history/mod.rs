//! The contact history: every contact idic decided (and those imported from elsewhere), kept
//! between runs so that cooldowns, re-entry and caps see what earlier runs did.
//!
//! [`store`] keeps it on disk (SQLite) and records a run atomically; [`index`] holds what a
//! run reads of it in memory, found by customer id; [`import`] reads a log of contacts made
//! outside idic.

pub mod import;
pub mod index;
pub mod store;

pub use index::{Arm, Contact, Index, Keep, Reach, TriggerReach};
pub use store::{
    Compacted, HistoryError, Measurable, MeasuredGroup, MeasuredRun, Member, NewContact, Reader,
    Recording, RunKind, RunRecord, Store, Window,
};
