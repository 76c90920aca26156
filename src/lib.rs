//! idic: a declarative rules engine for customer management (identify, differentiate,
//! interact, customize).
//!
//! The flow: [`syntax`] reads DSL and TOML files into one [`model::RuleSet`], [`check`]
//! validates it and compiles its expressions with the sandboxed engine of [`expr`], and every
//! finding is a [`diagnostics::Diagnostic`] pointing into [`source::Sources`].

pub mod analytics;
pub mod batch;
pub mod check;
pub mod diagnostics;
pub mod engine;
pub mod expr;
pub mod history;
pub mod io;
pub mod model;
pub mod panics;
pub mod plan;
pub mod reload;
pub mod scaffold;
pub mod source;
pub mod syntax;
pub mod testing;
pub mod text;
