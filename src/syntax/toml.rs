//! TOML front door and printer: the same rule set as the DSL, written as TOML.
//!
//! Key names are the DSL's keywords. Every table is optional, so a rule set may be split over
//! several files. Tables whose order matters (fields, orders columns, metrics, segments, triggers,
//! params, a rule's ranges) keep document order.
//!
//! ```toml
//! [ruleset]
//! name = "retail"
//! as_of = "2026-11-01"        # or "today" (an unquoted TOML date works too)
//! max_triggers = 2
//!
//! [customer]                  # one inline table per field
//! id         = { type = "string", from = "Customer ID", key = true }
//! last_order = { type = "date", from = "Last Order Date", optional = true, format = "%d/%m/%Y" }
//! spent      = { type = "money", from = "Total Spent", currency = "$", thousands = "," }
//! email_ok   = { type = "bool", from = "Accepts Email Marketing", words = ["yes", "no"] }
//! tags       = { type = "list", from = "Tags", optional = true, separator = ";" }
//! nps        = { type = "int", from = "NPS", optional = true, default = 10 }
//!
//! [orders]                    # an orders file's columns (`"#N"` = the N-th), or export totals
//! customer = { from = "#1" }
//! date     = { from = "#3", format = "%Y%m%d" }
//! amount   = { from = "Amount", currency = "$", thousands = "," }
//! count    = "orders"         # also `first`, `last`, `spent`: fields holding totals
//! period   = "week"           # or "day"
//! lookback = "365d"
//! unmatched_orders         = "count"   # or "fail"
//! customers_without_orders = "keep"    # or "reject"
//!
//! [metrics]
//! recency = "days_since(last_order)"
//!
//! [segments]
//! at_risk = "orders >= 3 && recency >= 120"
//!
//! [[scores]]
//! name = "r"
//! of = "rfm_recency_days"
//! bins = 5
//! reverse = true
//! ties = { hash = "salt" }    # or "together"
//! edges = [1.0, 2.5, 3.0, 4.0]
//!
//! [[tables]]
//! name = "rfm_segment"
//! over = ["r", "f"]
//! preset = "rfm10"
//!
//! [[tables]]
//! name = "value_band"
//! over = ["r", "f", "m"]
//!
//! [[tables.rules]]
//! name = "top"
//! r = "4..5"                  # a range, or one score: `m = 5` (all of them in
//! f = "4..5"                  # `ranges = { ... }` when a score is named `name` or `ranges`)
//!
//! [model]
//! horizon = "12m"
//! discount = 1.0              # percent
//! bgnbd = { r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 }
//! gamma_gamma = { p = 6.25, q = 3.74, gamma = 15.44 }
//!
//! [[tiers]]
//! name = "platinum"
//! when = "spent >= 1000"
//!
//! [[tiers]]
//! name = "bronze"
//! otherwise = true
//!
//! [triggers.retention_offer]
//! activity = "retention"      # or "custom:<name>"
//! when = 'at_risk && tier in ["gold", "platinum"]'
//! channel = "email"           # or "custom:<name>"
//! consent = "email_ok"
//! priority = 20
//! cooldown = "30d"
//!
//! [[triggers.retention_offer.actions]]
//! name = "retention_email"
//! template = "retention_gold"
//! offer = "SAVE15"
//!
//! [triggers.retention_offer.actions.params]
//! discount = 15                           # a number or boolean: an expression
//! subject  = "We miss you, {first_name}"  # a string: a text with placeholders
//! cap      = { expr = "min(spent / 10, 50)" }
//! ```
//!
//! Every key is checked: a key a table does not know is an `unknown-key` error at the key, a
//! value of the wrong TOML type a `wrong-type` error at the value, a missing required key a
//! `missing-key` error at its table, a word or date that does not parse a `bad-value` error, and
//! text that is not TOML a `toml-syntax` error.

mod read;
mod tree;
mod write;

use crate::diagnostics::Diagnostic;
use crate::model::RuleSet;
use crate::source::FileId;

/// Parses one TOML rule file into the model, with spans into `text` on every node, name and
/// value, and the diagnostics of everything wrong with it (the model then holds what could be
/// read).
pub fn parse(file: FileId, text: &str) -> (RuleSet, Vec<Diagnostic>) {
    read::read(file, text)
}

/// Prints a rule set as TOML that [`parse`] reads back into an equal rule set (comments are not
/// kept). The output is deterministic: tables in model order, one table per trigger.
pub fn print(rules: &RuleSet) -> String {
    write::print(rules)
}

#[cfg(test)]
mod tests;
