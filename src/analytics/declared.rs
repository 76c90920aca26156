//! A rule set's declarations as analytics objects: a `score` as a [`Spec`], a `table` as a
//! [`Table`], an `orders` block as [`OrderColumns`]. `check` reports what keeps a declaration
//! from converting; the engine converts only checked rule sets.

use super::cells::{self, Range, Rule, Table};
use super::orders::{Column, OrderColumns};
use super::scores::{Method, ScoreError, Spec};
use crate::model::{CellTable, OrderRole, Orders, Score, Spanned, TableBody, Ties};

/// Bins of a score that does not say.
pub const DEFAULT_BINS: u32 = 5;

/// The specification of a declared score.
pub fn score_spec(score: &Score) -> Result<Spec, ScoreError> {
    let bins = score.bins.as_ref().map_or(DEFAULT_BINS, |b| b.value);
    let method = match (&score.edges, &score.ties) {
        (Some(edges), _) => Method::Fixed {
            edges: edges.value.clone(),
        },
        (None, Some(t)) => match &t.value {
            Ties::Together => Method::Together,
            Ties::Hash(salt) => Method::Hash { salt: salt.clone() },
        },
        (None, None) => Method::Together,
    };
    Spec::new(bins, score.reverse, method)
}

/// The bins of each axis of a table (R, F and maybe M), from its `over` scores; `None` when an
/// axis names no declared score or a score's bins are out of bounds.
pub fn axis_bins(table: &CellTable, scores: &[Score]) -> Option<Vec<u8>> {
    table
        .over
        .iter()
        .map(|name| {
            let score = scores.iter().find(|s| s.name.value == name.value)?;
            score_spec(score).ok().map(|spec| spec.bins())
        })
        .collect()
}

/// A declared table over its scores' cells; `None` when it does not convert (see `check`).
pub fn cell_table(table: &CellTable, scores: &[Score]) -> Option<Table> {
    let bins = axis_bins(table, scores)?;
    if !(2..=3).contains(&bins.len()) {
        return None;
    }
    let rules = match &table.body {
        TableBody::Preset(name) => return cells::preset(&name.value),
        TableBody::Rules(rules) => rules,
    };
    let full = |axis: usize| bins.get(axis).map(|&b| Range::new(1, b));
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let mut ranges = [full(0), full(1), full(2)];
        for r in &rule.ranges {
            let axis = table.over.iter().position(|o| o.value == r.score.value)?;
            ranges[axis] = Some(Range::new(r.range.value.0, r.range.value.1));
        }
        out.push(Rule {
            name: rule.name.value.clone(),
            r: ranges[0]?,
            f: ranges[1]?,
            m: ranges[2],
        });
    }
    Table::new(out, bins[0], bins[1], bins.get(2).copied()).ok()
}

/// A column as written in an `orders` block: `#3` is the third column, anything else a header.
pub fn column(written: &str) -> Column {
    match written
        .strip_prefix('#')
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) if n > 0 => Column::Position(n),
        _ => Column::Name(written.to_string()),
    }
}

/// How to read the orders file an `orders` block describes, where the texts `missing` mean no
/// value; `None` without customer, date and amount columns.
pub fn order_columns(orders: &Orders, missing: &[Spanned<String>]) -> Option<OrderColumns> {
    let col = |role| orders.column(role);
    let (customer, date, amount) = (
        col(OrderRole::Customer)?,
        col(OrderRole::Date)?,
        col(OrderRole::Amount)?,
    );
    let text = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.value.clone());
    let texts = |s: &[Spanned<String>]| s.iter().map(|s| s.value.clone()).collect();
    Some(OrderColumns {
        customer: column(&customer.column.value),
        date: column(&date.column.value),
        date_formats: texts(&date.format.dates),
        missing: texts(missing),
        amount: Some(column(&amount.column.value)),
        quantity: col(OrderRole::Quantity).map(|q| column(&q.column.value)),
        currency: text(&amount.format.currency),
        thousands: text(&amount.format.thousands),
        decimal: text(&amount.format.decimal),
        event: None,
    })
}
