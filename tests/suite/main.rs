//! The integration tests, in one binary: each module tests one part of idic through its CLI or
//! its library, as a user would (one binary links once, which keeps the suite fast).

mod common;

mod analyze;
mod cli;
mod columnar;
mod corpus;
mod explain;
mod fuzz;
mod history;
mod holdout;
mod hostile_text;
mod layers;
mod library;
mod measure;
mod population;
mod reload;
mod rules;
mod run;
mod test_command;
mod trust;
