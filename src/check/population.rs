//! The population declarations: the `orders` block (a complete orders file or complete totals,
//! totals in fields of the right types), scores (what they read, bins, edges), tables over
//! score cells (their axes, and a proof over every cell: ranges outside the bins, rules
//! shadowed by earlier ones, overlaps, uncovered cells) and the model.

use super::names::{Kind, Names};
use crate::analytics::{cells, declared};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::io::cells::{decimal_mark, thousands_problem};
use crate::model::{
    CellTable, Field, FieldType, FormatOption, OrderRole, Orders, Origin, RuleSet, Score,
    TableBody, TotalKind,
};
use crate::source::Span;

pub fn check(rules: &RuleSet, names: &Names, out: &mut Vec<Diagnostic>) {
    if let Some(orders) = &rules.orders {
        check_orders(orders, names, out);
    }
    for score in &rules.scores {
        check_score(score, names, out);
    }
    for table in &rules.tables {
        check_table(table, &rules.scores, out);
    }
    if let Some(model) = &rules.model {
        if rules.orders.is_none() {
            out.push(
                Diagnostic::error(
                    Code::ModelWithoutOrders,
                    "the model needs purchase histories",
                )
                .at(model.span)
                .help("declare where they come from in an `orders { ... }` block"),
            );
        }
        if let Some(o) = rules.orders.as_ref().filter(|o| {
            o.columns.is_empty() && !o.totals.is_empty() && o.total(TotalKind::First).is_none()
        }) {
            out.push(
                Diagnostic::error(
                    Code::ModelWithoutAges,
                    "the model needs each customer's first order date, and the totals do not give it",
                )
                .at(o.span)
                .help("name the field with `first FIELD`, or read an orders file"),
            );
        }
        if let Some(h) = model.horizon.as_ref().filter(|h| h.value.amount == 0) {
            out.push(Diagnostic::error(Code::BadValue, "the horizon is empty").at(h.span));
        }
        if let Some(d) = model.discount.as_ref().filter(|d| d.value >= 100.0) {
            out.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!("a discount of {}% a month", d.value),
                )
                .at(d.span)
                .help("the monthly discount rate is a percentage below 100, e.g. `1%`"),
            );
        }
    }
}

fn check_orders(orders: &Orders, names: &Names, out: &mut Vec<Diagnostic>) {
    if let Some(date) = orders.column(OrderRole::Date) {
        let field = Field::of_column("date", FieldType::Date, date.format.clone());
        super::schema::date_formats(&field, &date.format.dates, out);
    }
    // Each option on the column it applies to: dates on `date`, the marks of numbers on
    // `amount` (the quantity is read with the amount's).
    for column in &orders.columns {
        let role = column.role.value;
        let fmt = &column.format;
        for (option, span) in fmt.given() {
            let (fits, applies) = match option {
                FormatOption::Format => (role == OrderRole::Date, "`date`"),
                FormatOption::Currency => (role == OrderRole::Amount, "`amount`"),
                _ => (
                    role == OrderRole::Amount,
                    "`amount` (the quantity is read with the amount's)",
                ),
            };
            if !fits {
                let option = option.word();
                out.push(
                    Diagnostic::error(
                        Code::MisplacedFormat,
                        format!(
                            "`{option}` does not apply to the orders file's `{}` column",
                            role.word()
                        ),
                    )
                    .at(span)
                    .help(format!("`{option}` applies to {applies}")),
                );
            }
        }
        if role == OrderRole::Amount {
            let problem = match decimal_mark(fmt) {
                Err(e) => Some((e, fmt.decimal.as_ref().map_or(column.span, |d| d.span))),
                Ok(point) => fmt.thousands.as_ref().and_then(|sep| {
                    thousands_problem(&sep.value, Some(point)).map(|p| {
                        (
                            format!("the thousands separator `{}` {p}", sep.value),
                            sep.span,
                        )
                    })
                }),
            };
            if let Some((message, at)) = problem {
                out.push(
                    Diagnostic::error(Code::BadFormat, format!("the orders file's amounts: {message}"))
                        .at(at)
                        .help("write `decimal \",\"` with `thousands \".\"` for amounts such as `1.234,50`, or leave them out for `1,234.50`"),
                );
            }
        }
    }
    let missing_columns: Vec<&str> = ["customer", "date", "amount"]
        .into_iter()
        .filter(|w| !orders.columns.iter().any(|c| c.role.value.word() == *w))
        .collect();
    let missing_totals: Vec<&str> = ["count", "last", "spent"]
        .into_iter()
        .filter(|w| !orders.totals.iter().any(|t| t.kind.value.word() == *w))
        .collect();
    let quoted = |ws: &[&str]| {
        ws.iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !orders.columns.is_empty() && !missing_columns.is_empty() {
        out.push(
            Diagnostic::error(
                Code::IncompleteOrders,
                format!(
                    "the orders file's columns lack {}",
                    quoted(&missing_columns)
                ),
            )
            .at(orders.span)
            .help("an orders file needs the customer id, date and amount columns, e.g. `amount from \"Total\"`"),
        );
    }
    if !orders.totals.is_empty() && !missing_totals.is_empty() {
        out.push(
            Diagnostic::error(
                Code::IncompleteOrders,
                format!("the order totals lack {}", quoted(&missing_totals)),
            )
            .at(orders.span)
            .help("totals need the fields with the order count, the last order date and the amount spent, e.g. `count orders`"),
        );
    }
    if orders.columns.is_empty() && orders.totals.is_empty() {
        out.push(
            Diagnostic::error(Code::IncompleteOrders, "the `orders` block says where no order comes from")
                .at(orders.span)
                .help("name an orders file's columns (`customer from \"Customer ID\"`, `date from ...`, `amount from ...`) or the export's totals (`count orders`, `last last_order`, `spent spent`)"),
        );
    }
    for total in &orders.totals {
        let field = &total.field;
        let (fits, wanted): (fn(FieldType) -> bool, &str) = match total.kind.value {
            TotalKind::Count => (|t| t == FieldType::Int, "an int field"),
            TotalKind::First | TotalKind::Last => (
                |t| matches!(t, FieldType::Date | FieldType::DateTime),
                "a date field",
            ),
            TotalKind::Spent => (FieldType::is_numeric, "a money, decimal or int field"),
        };
        match names.kind(&field.value) {
            Some(Kind::Field(ty)) if fits(ty) => {}
            Some(kind) => out.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!(
                        "`{}` is {}, and `{}` wants {wanted}",
                        field.value,
                        describe(kind),
                        total.kind.value
                    ),
                )
                .at(field.span),
            ),
            None => {
                let fields = names
                    .vars
                    .iter()
                    .filter_map(|(n, (k, _))| matches!(k, Kind::Field(_)).then_some(n.as_str()));
                let mut d = Diagnostic::error(
                    Code::UnknownName,
                    format!("unknown field `{}`", field.value),
                )
                .at(field.span);
                if let Some(help) = suggest(&field.value, fields) {
                    d = d.help(help);
                }
                out.push(d);
            }
        }
    }
    if let Some(l) = orders
        .lookback
        .as_ref()
        .filter(|_| orders.columns.is_empty())
    {
        out.push(
            Diagnostic::warning(Code::LookbackUnused, "`lookback` has no effect on totals")
                .at(l.span)
                .help("the export's totals cover every order; a lookback window needs an orders file (`customer from ...`)"),
        );
    }
    if let Some(l) = orders.lookback.as_ref().filter(|l| l.value.amount == 0) {
        out.push(
            Diagnostic::error(Code::BadValue, "the lookback window is empty")
                .at(l.span)
                .help("leave `lookback` out to count every order"),
        );
    }
}

/// `an int field`, `a metric`, `an order variable`.
fn describe(kind: Kind) -> String {
    match kind {
        Kind::Field(ty) => super::a(format!("{ty} field")),
        other => super::a(other.word()),
    }
}

fn check_score(score: &Score, names: &Names, out: &mut Vec<Diagnostic>) {
    let source = &score.source;
    match names.kind(&source.value) {
        Some(Kind::Population(Origin::Orders, _)) => {}
        Some(Kind::Field(ty)) if ty.is_numeric() => {}
        Some(kind) => out.push(
            Diagnostic::error(
                Code::BadScoreSource,
                format!("score `{}` cannot read `{}`, {}", score.name.value, source.value, describe(kind)),
            )
            .at(source.span)
            .help("a score reads an order variable (such as `rfm_recency_days`) or a numeric field: scores are computed over the whole population before any rule runs"),
        ),
        None => {
            let readable = names.vars.iter().filter_map(|(n, (k, _))| {
                matches!(k, Kind::Population(Origin::Orders, _) | Kind::Field(_)).then_some(n.as_str())
            });
            let mut d = Diagnostic::error(
                Code::UnknownName,
                format!("score `{}` reads unknown `{}`", score.name.value, source.value),
            )
            .at(source.span);
            d = match suggest(&source.value, readable) {
                Some(help) => d.help(help),
                None => d.help("order variables (`rfm_recency_days`, `rfm_frequency`, `rfm_monetary`, `btyd_...`) need an `orders { ... }` block"),
            };
            out.push(d);
        }
    }
    if let Err(e) = declared::score_spec(score) {
        let at = match (&score.edges, &score.bins) {
            (Some(edges), _) => edges.span,
            (None, Some(bins)) => bins.span,
            (None, None) => score.span,
        };
        out.push(Diagnostic::error(Code::BadScore, e.to_string()).at(at));
    }
    if let (Some(_), Some(ties)) = (&score.edges, &score.ties) {
        out.push(
            Diagnostic::warning(Code::TiesUnused, "`ties` has no effect with fixed `edges`")
                .at(ties.span)
                .help("fixed edges put equal values in one bin; remove `ties`"),
        );
    }
}

fn check_table(table: &CellTable, scores: &[Score], out: &mut Vec<Diagnostic>) {
    let name = &table.name.value;
    let mut ok = true;
    if !(2..=3).contains(&table.over.len()) {
        out.push(
            Diagnostic::error(
                Code::BadTable,
                format!("table `{name}` is over {} scores", table.over.len()),
            )
            .at(table.name.span)
            .help("a table is over 2 or 3 scores: R, F and optionally M, e.g. `over r, f, m`"),
        );
        ok = false;
    }
    for (i, axis) in table.over.iter().enumerate() {
        if !scores.iter().any(|s| s.name.value == axis.value) {
            let mut d =
                Diagnostic::error(Code::UnknownName, format!("unknown score `{}`", axis.value))
                    .at(axis.span);
            d = match suggest(&axis.value, scores.iter().map(|s| s.name.value.as_str())) {
                Some(help) => d.help(help),
                None => {
                    d.help("declare it first, e.g. `score r = rfm_recency_days bins 5 reverse`")
                }
            };
            out.push(d);
            ok = false;
        } else if table.over[..i].iter().any(|a| a.value == axis.value) {
            out.push(
                Diagnostic::error(
                    Code::BadTable,
                    format!("score `{}` is an axis twice", axis.value),
                )
                .at(axis.span),
            );
            ok = false;
        }
    }
    let rules = match &table.body {
        TableBody::Preset(preset) => {
            let Some(grid) = cells::preset(&preset.value) else {
                let mut d = Diagnostic::error(
                    Code::UnknownPreset,
                    format!("there is no preset `{}`", preset.value),
                )
                .at(preset.span);
                d = match suggest(&preset.value, cells::PRESETS.iter().copied()) {
                    Some(help) => d.help(help),
                    None => d.help(format!("the presets are {}", cells::PRESETS.join(", "))),
                };
                out.push(d);
                return;
            };
            if !cells::prove(&grid).is_partition() {
                out.push(
                    Diagnostic::error(
                        Code::BadTable,
                        format!("preset `{}` is not a partition of its cells", preset.value),
                    )
                    .at(preset.span),
                );
            }
            if ok {
                let bins = declared::axis_bins(table, scores).unwrap_or_default();
                let wanted = [
                    grid.bins(cells::Axis::R),
                    grid.bins(cells::Axis::F),
                    grid.bins(cells::Axis::M),
                ];
                let wanted: Vec<u8> = wanted.into_iter().flatten().collect();
                if bins != wanted {
                    let axes = wanted
                        .iter()
                        .map(|b| format!("{b} bins"))
                        .collect::<Vec<_>>();
                    out.push(
                        Diagnostic::error(
                            Code::BadTable,
                            format!(
                                "preset `{}` is a grid over {} scores of {}; table `{name}` is over {}",
                                preset.value,
                                wanted.len(),
                                axes.join(" and "),
                                bins.iter().map(|b| format!("{b} bins")).collect::<Vec<_>>().join(", ")
                            ),
                        )
                        .at(preset.span)
                        .help("give the scores of its axes the preset's bins, e.g. `bins 5`"),
                    );
                }
            }
            return;
        }
        TableBody::Rules(rules) => rules,
    };
    if rules.is_empty() {
        out.push(
            Diagnostic::error(Code::BadTable, format!("table `{name}` has no rules"))
                .at(table.name.span)
                .help("write one rule per segment, e.g. `champions r 5 f 4..5`"),
        );
        return;
    }
    for rule in rules {
        for (i, range) in rule.ranges.iter().enumerate() {
            if !table.over.iter().any(|a| a.value == range.score.value) {
                let axes: Vec<&str> = table.over.iter().map(|a| a.value.as_str()).collect();
                let mut d = Diagnostic::error(
                    Code::UnknownName,
                    format!("`{}` is not a score of table `{name}`", range.score.value),
                )
                .at(range.score.span);
                d = match suggest(&range.score.value, axes.iter().copied()) {
                    Some(help) => d.help(help),
                    None => d.help(format!("its scores are {}", axes.join(", "))),
                };
                out.push(d);
                ok = false;
            } else if rule.ranges[..i]
                .iter()
                .any(|r| r.score.value == range.score.value)
            {
                out.push(
                    Diagnostic::error(
                        Code::DuplicateProperty,
                        format!(
                            "rule `{}` gives `{}` twice",
                            rule.name.value, range.score.value
                        ),
                    )
                    .at(range.score.span)
                    .help("keep one range per score"),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return;
    }
    let Some(grid) = declared::cell_table(table, scores) else {
        return;
    };
    prove(table, rules, &grid, out);
}

/// The proof of a written table, as diagnostics with spans.
fn prove(
    table: &CellTable,
    rules: &[crate::model::CellRule],
    grid: &cells::Table,
    out: &mut Vec<Diagnostic>,
) {
    let proof = cells::prove(grid);
    let rule_name = |i: usize| format!("`{}`", rules[i].name.value);
    let range_span = |rule: usize, axis: cells::Axis| -> Span {
        let index = match axis {
            cells::Axis::R => 0,
            cells::Axis::F => 1,
            cells::Axis::M => 2,
        };
        let score = table.over.get(index).map(|a| a.value.as_str());
        rules[rule]
            .ranges
            .iter()
            .find(|r| Some(r.score.value.as_str()) == score)
            .map_or(rules[rule].name.span, |r| r.range.span)
    };
    for bad in &proof.bad_ranges {
        out.push(
            Diagnostic::error(
                Code::BadRange,
                format!("in rule {}: {bad}", rule_name(bad.rule)),
            )
            .at(range_span(bad.rule, bad.axis))
            .help("scores run from 1 to the score's bins; write ranges low first, e.g. `4..5`"),
        );
    }
    for s in &proof.shadowed {
        if s.by.is_empty() {
            continue; // Its bad range is reported above.
        }
        let by: Vec<String> = s.by.iter().map(|&i| rule_name(i)).collect();
        out.push(
            Diagnostic::error(
                Code::ShadowedRule,
                format!(
                    "rule {} never matches: every cell it holds is taken by {} above it",
                    rule_name(s.rule),
                    by.join(" and ")
                ),
            )
            .at(rules[s.rule].name.span)
            .help("the first matching rule wins: move it up, or narrow the rules above"),
        );
    }
    let shadowed: Vec<usize> = proof.shadowed.iter().map(|s| s.rule).collect();
    for o in proof
        .overlaps
        .iter()
        .filter(|o| !shadowed.contains(&o.second))
    {
        out.push(
            Diagnostic::warning(
                Code::OverlappingRules,
                format!(
                    "rules {} and {} share {} cell{} ({}): {} takes them",
                    rule_name(o.first),
                    rule_name(o.second),
                    o.count(),
                    if o.count() == 1 { "" } else { "s" },
                    o.shared,
                    rule_name(o.first)
                ),
            )
            .at(rules[o.second].name.span)
            .help("make the ranges disjoint so each cell has one rule"),
        );
    }
    if !proof.uncovered.is_empty() {
        out.push(
            Diagnostic::warning(
                Code::UncoveredCells,
                format!(
                    "table `{}` leaves {} of {} cells without a rule: {}",
                    table.name.value, proof.uncovered.count, proof.cells, proof.uncovered
                ),
            )
            .at(table.name.span)
            .help("customers in those cells get no segment (missing); add a rule for them or a last catch-all rule"),
        );
    }
}
