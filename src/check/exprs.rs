//! Expressions: each compiled in the sandbox (syntax, unknown names), then the dependency graph
//! among metrics and segments (cycles), static types (conditions must be boolean), one dry run
//! (endless loops, huge values) and lints (constant conditions, unused segments, placeholders
//! naming nothing).

use super::names::{Kind, Names, BUILTIN_NAMES};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::expr::{self, ValueType};
use crate::model::{placeholders, AsOf, Expr, ParamValue, RuleSet, Spanned, TextFormat};
use crate::source::{Sources, Span};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};

/// Which names an expression sees, by where it is written.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Metric,
    Segment,
    Tier,
    Stage,
    Trigger,
    Parameter,
    /// The rank of a trigger's `volume`.
    Rank,
}

impl Place {
    fn word(self) -> &'static str {
        match self {
            Place::Metric => "metric",
            Place::Segment => "segment",
            Place::Tier => "tier",
            Place::Stage => "lifecycle stage",
            Place::Trigger => "trigger",
            Place::Parameter => "parameter",
            Place::Rank => "volume rank of trigger",
        }
    }

    /// Conditions must be true or false.
    fn is_condition(self) -> bool {
        matches!(
            self,
            Place::Segment | Place::Tier | Place::Stage | Place::Trigger
        )
    }

    /// Whether the chosen tier is visible here.
    fn sees_tier(self) -> bool {
        matches!(
            self,
            Place::Stage | Place::Trigger | Place::Parameter | Place::Rank
        )
    }

    /// Whether the lifecycle stage is visible here.
    fn sees_stage(self) -> bool {
        matches!(self, Place::Trigger | Place::Parameter | Place::Rank)
    }
}

/// One expression of the rule set and the rule it belongs to.
struct Unit<'a> {
    place: Place,
    name: &'a str,
    expr: &'a Expr,
}

/// The date `check` evaluates at: the rule set's own, or a fixed one (never the clock).
fn check_date(rules: &RuleSet) -> NaiveDate {
    match rules.settings.as_ref().and_then(|s| s.as_of.as_ref()) {
        Some(Spanned {
            value: AsOf::Date(d),
            ..
        }) => *d,
        _ => NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date"),
    }
}

fn units(rules: &RuleSet) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    for m in &rules.metrics {
        units.push(Unit {
            place: Place::Metric,
            name: &m.name.value,
            expr: &m.expr,
        });
    }
    for s in &rules.segments {
        units.push(Unit {
            place: Place::Segment,
            name: &s.name.value,
            expr: &s.condition,
        });
    }
    for t in rules.tiers.iter().flat_map(|t| &t.tiers) {
        if let Some(c) = &t.condition {
            units.push(Unit {
                place: Place::Tier,
                name: &t.name.value,
                expr: c,
            });
        }
    }
    for t in rules.lifecycle.iter().flat_map(|t| &t.tiers) {
        if let Some(c) = &t.condition {
            units.push(Unit {
                place: Place::Stage,
                name: &t.name.value,
                expr: c,
            });
        }
    }
    for t in &rules.triggers {
        if let Some(c) = &t.condition {
            units.push(Unit {
                place: Place::Trigger,
                name: &t.name.value,
                expr: c,
            });
        }
        if let Some(v) = &t.volume {
            units.push(Unit {
                place: Place::Rank,
                name: &t.name.value,
                expr: &v.rank,
            });
        }
        for p in t.actions.iter().flat_map(|a| &a.params) {
            if let ParamValue::Expr(e) = &p.value {
                units.push(Unit {
                    place: Place::Parameter,
                    name: &p.name.value,
                    expr: e,
                });
            }
        }
    }
    units
}

/// The variables an expression at `place` may read (`stage` when the rule set has a lifecycle).
fn visible(names: &Names, place: Place, lifecycle: bool) -> Vec<&str> {
    let mut out: Vec<&str> = names
        .vars
        .iter()
        .filter(|(_, (kind, _))| place != Place::Metric || *kind != Kind::Segment)
        .map(|(n, _)| n.as_str())
        .collect();
    if place.sees_tier() {
        out.push("tier");
    }
    if lifecycle && place.sees_stage() {
        out.push("stage");
    }
    out
}

/// Compiles and checks every expression of `rules`, reporting into `out`; those that compile
/// go into `asts`.
pub fn check(
    rules: &RuleSet,
    names: &Names,
    sources: &Sources,
    out: &mut Vec<Diagnostic>,
    asts: &mut expr::Asts,
) {
    let as_of = check_date(rules);
    let (engine, clock) = expr::sandbox(as_of);
    let units = units(rules);
    let mut compiled = Vec::with_capacity(units.len());
    let mut scopes: HashMap<Place, expr::Visible> = HashMap::new();
    for unit in &units {
        let visible = scopes.entry(unit.place).or_insert_with(|| {
            expr::Visible::new(visible(names, unit.place, rules.lifecycle.is_some()))
        });
        match expr::compile_in(&engine, unit.expr, visible) {
            Ok(ast) => {
                let refs = expr::references(&ast);
                compiled.push(Some((ast, refs)));
            }
            Err(d) => {
                out.push(explain_unknown_name(d, unit, names));
                compiled.push(None);
            }
        }
    }

    // Dependencies among metrics and segments, and what uses each segment.
    let mut deps: HashMap<&str, Vec<(&str, Span)>> = HashMap::new();
    let mut used: HashSet<&str> = HashSet::new();
    for (unit, c) in units.iter().zip(&compiled) {
        let Some((_, refs)) = c else { continue };
        for (name, pos) in refs {
            let Some(&(kind, _)) = names.vars.get(name) else {
                continue;
            };
            if kind == Kind::Segment && !(unit.place == Place::Segment && unit.name == name) {
                used.insert(names.vars.get_key_value(name).expect("known").0);
            }
            if matches!(unit.place, Place::Metric | Place::Segment)
                && matches!(kind, Kind::Metric | Kind::Segment)
            {
                let name = names.vars.get_key_value(name).expect("known").0.as_str();
                deps.entry(unit.name).or_default().push((
                    name,
                    expr::span_at_len(unit.expr, *pos, name.chars().count()),
                ));
            }
        }
    }
    let cyclic = cycles(rules, &deps, out);

    // Types, in dependency order so a metric's type is known before its users.
    let mut metric_types: HashMap<&str, ValueType> = HashMap::new();
    let order = topological(rules, &deps, &cyclic);
    let metrics_first = order.iter().filter_map(|m| {
        units
            .iter()
            .position(|u| u.place == Place::Metric && u.name == m)
    });
    let others = (0..units.len()).filter(|&i| units[i].place != Place::Metric);
    let mut typed: Vec<Option<ValueType>> = vec![None; units.len()];
    // Already reported: a failure of its dry run would say it again.
    let mut mistyped = vec![false; units.len()];
    for i in metrics_first.chain(others).collect::<Vec<_>>() {
        let (unit, Some((ast, _))) = (&units[i], &compiled[i]) else {
            continue;
        };
        let inferred = expr::infer(ast, &|n| type_of(n, names, &metric_types));
        for e in &inferred.errors {
            out.push(expr::type_diagnostic(unit.expr, e));
        }
        mistyped[i] = !inferred.errors.is_empty();
        if unit.place == Place::Metric {
            metric_types.insert(unit.name, inferred.ty);
        }
        typed[i] = Some(inferred.ty);
    }

    // Conditions must be boolean; every expression must finish within the limits.
    let env: Vec<(&str, ValueType)> = names
        .vars
        .keys()
        .map(|n| {
            (
                n.as_str(),
                type_of(n, names, &metric_types).unwrap_or(ValueType::Unknown),
            )
        })
        .chain([("tier", ValueType::Str), ("stage", ValueType::Str)])
        .collect();
    // Each sample customer is decided as a run decides one, with the same time limits: the
    // first rule to exhaust the customer's time is the one reported, and the rest are not tried.
    let tried: Vec<bool> = units
        .iter()
        .zip(&compiled)
        .map(|(unit, c)| {
            c.is_some()
                && !(matches!(unit.place, Place::Metric | Place::Segment)
                    && cyclic.contains(unit.name))
        })
        .collect();
    let mut runs: Vec<Vec<Result<(), expr::DryRunError>>> =
        units.iter().map(|_| Vec::new()).collect();
    for variant in 0..expr::SAMPLES {
        let mut sample = expr::sample_scope(env.iter().copied(), as_of, variant);
        clock.start_customer();
        for (i, c) in compiled.iter().enumerate() {
            let (true, Some((ast, _))) = (tried[i], c) else {
                continue;
            };
            let run = expr::dry_run_at(&engine, ast, &mut sample);
            let spent = matches!(
                run,
                Err(expr::DryRunError::Limit(
                    expr::LimitError::TooSlow(expr::TimeLimit::Customer),
                    _
                ))
            );
            runs[i].push(run);
            if spent {
                break;
            }
        }
    }
    for (i, (unit, c)) in units.iter().zip(&compiled).enumerate() {
        let (true, Some((ast, refs))) = (tried[i], c) else {
            continue;
        };
        let (ty, runs) = (&typed[i], &runs[i]);
        let limit = runs.iter().find_map(|run| match run {
            Err(expr::DryRunError::Limit(limit, pos)) => Some((*limit, *pos)),
            _ => None,
        });
        if let Some((limit, pos)) = limit {
            // The loop keyword or the operator there.
            let len = expr::offset_of(&unit.expr.source, pos).map_or(1, |at| {
                let rest = &unit.expr.source[at..];
                let word = rest.chars().take_while(char::is_ascii_alphabetic).count();
                let op = rest.chars().take_while(|c| "+-*/%=<>".contains(*c)).count();
                word.max(op).max(1)
            });
            out.push(
                Diagnostic::error(
                    Code::BudgetExceeded,
                    expr::limit_message(unit.place.word(), unit.name, &limit),
                )
                .at(expr::span_at_len(unit.expr, pos, len))
                .help(match limit {
                    expr::LimitError::TooManyOperations
                    | expr::LimitError::TooDeep
                    | expr::LimitError::TooSlow(_) => {
                        "a rule expression must finish quickly for every customer"
                    }
                    _ => "a rule expression must keep its values small for every customer",
                }),
            );
            continue;
        }
        // A type error already reported is why it fails: not said twice.
        let type_of = |n: &str| type_of(n, names, &metric_types).unwrap_or(ValueType::Unknown);
        if let Some(diag) = always_fails(unit, refs, runs, &type_of).filter(|_| !mistyped[i]) {
            out.push(diag);
            continue;
        }
        if let Some(ty) = ty.filter(|t| {
            unit.place.is_condition() && !matches!(t, ValueType::Bool | ValueType::Unknown)
        }) {
            out.push(
                Diagnostic::error(
                    Code::NotBoolean,
                    format!(
                        "the condition of {} `{}` is {}, not true or false",
                        unit.place.word(),
                        unit.name,
                        ty.describe()
                    ),
                )
                .at(unit.expr.span)
                .help("compare it with something, e.g. `spent >= 100`"),
            );
        }
        if let Some(ty) = ty.filter(|t| {
            unit.place == Place::Rank
                && !matches!(t, ValueType::Int | ValueType::Decimal | ValueType::Unknown)
        }) {
            out.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!(
                        "the {} `{}` is {}, not a number",
                        unit.place.word(),
                        unit.name,
                        ty.describe()
                    ),
                )
                .at(unit.expr.span)
                .help("rank customers by a number, e.g. `volume 500 by model_clv`"),
            );
        }
        if unit.place.is_condition() && refs.is_empty() {
            if let Ok(value) = engine.eval_ast::<bool>(ast) {
                out.push(
                    Diagnostic::warning(
                        Code::ConstantCondition,
                        format!(
                            "the condition of {} `{}` is always {value}",
                            unit.place.word(),
                            unit.name
                        ),
                    )
                    .at(unit.expr.span)
                    .help("it reads no field, metric or segment"),
                );
            }
        }
    }

    // Placeholders of parameter texts.
    let texts = Texts {
        known: names.all().chain(BUILTIN_NAMES).collect(),
        names,
        optional: rules
            .schema
            .iter()
            .flat_map(|s| &s.fields)
            .filter(|f| f.optional)
            .map(|f| f.name.value.as_str())
            .collect(),
        type_of: &|n: &str| type_of(n, names, &metric_types).unwrap_or(ValueType::Unknown),
        sources,
    };
    for t in &rules.triggers {
        for p in t.actions.iter().flat_map(|a| &a.params) {
            if let ParamValue::Template(text) = &p.value {
                texts.check(&p.name.value, text, &mut used, out);
            }
        }
    }

    for s in &rules.segments {
        if !used.contains(s.name.value.as_str()) && !cyclic.contains(s.name.value.as_str()) {
            out.push(
                Diagnostic::warning(
                    Code::UnusedSegment,
                    format!(
                        "segment `{}` is used by no trigger, tier or other segment",
                        s.name.value
                    ),
                )
                .at(s.name.span)
                .help("it still appears in the output; remove it if nobody needs it"),
            );
        }
    }
    for (unit, c) in units.iter().zip(compiled) {
        if let Some((ast, _)) = c {
            asts.insert(unit.expr, ast);
        }
    }
}

/// Names that exist but are not visible here (a segment in a metric, `tier` or `stage` before
/// they are decided, `stage` without a lifecycle): say why rather than "unknown name".
/// An expression that failed for every sample customer: every customer would be rejected. An
/// error when the samples stand for every value of what it reads (numbers, yes/no, dates,
/// lists); a warning when it reads a text or a value of unknown type, whose samples are only
/// guesses (`parse_int(zip)` fails on the sample text `sample`, not on real zip codes).
fn always_fails(
    unit: &Unit<'_>,
    refs: &[(String, rhai::Position)],
    runs: &[Result<(), expr::DryRunError>],
    type_of: &dyn Fn(&str) -> ValueType,
) -> Option<Diagnostic> {
    if runs.len() < expr::SAMPLES {
        return None;
    }
    let mut errors = runs.iter().map(|run| match run {
        Err(expr::DryRunError::Failed(err)) => Some(err),
        _ => None,
    });
    let first = errors.next()??;
    if !errors.all(|e| e.is_some()) {
        return None;
    }
    let guessed = refs.iter().any(|(name, _)| {
        matches!(
            type_of(name),
            ValueType::Str | ValueType::Unknown | ValueType::Unit
        )
    });
    let message = format!(
        "{} `{}` fails for every sample customer tried: {}",
        unit.place.word(),
        unit.name,
        expr::error_text(first)
    );
    let span = expr::span_at(unit.expr, first.position());
    Some(if guessed {
        Diagnostic::warning(Code::AlwaysFails, message)
            .at(span)
            .help("the samples' texts are guesses: if real values never fail, ignore this")
    } else {
        Diagnostic::error(Code::AlwaysFails, message)
            .at(span)
            .help("every customer would be rejected by this rule")
    })
}

fn explain_unknown_name(d: Diagnostic, unit: &Unit<'_>, names: &Names) -> Diagnostic {
    if d.code != Code::UnknownName {
        return d;
    }
    // `tier` and `stage` exist, but are decided after what reads them here.
    for (name, after, readers) in [
        (
            "tier",
            "metrics and segments",
            "a lifecycle stage, a trigger or a parameter",
        ),
        (
            "stage",
            "metrics, segments and tiers",
            "a trigger or a parameter",
        ),
    ] {
        if d.message != format!("unknown name `{name}`") {
            continue;
        }
        if name == "stage" && unit.place.sees_stage() {
            return Diagnostic {
                message: "there is no `stage`: the rule set declares no lifecycle".into(),
                help: Some("declare the stages in a `lifecycle { ... }` block".into()),
                ..d
            };
        }
        return Diagnostic {
            message: format!(
                "{} `{}` cannot read `{name}`, which is decided after {after}",
                unit.place.word(),
                unit.name
            ),
            help: Some(format!("only {readers} can read `{name}`")),
            ..d
        };
    }
    if unit.place != Place::Metric {
        return d;
    }
    let segment = names
        .vars
        .iter()
        .find(|(n, (k, _))| *k == Kind::Segment && d.message.contains(&format!("`{n}`")));
    match segment {
        Some((n, _)) => Diagnostic {
            message: format!("metric `{}` cannot use segment `{n}`", unit.name),
            help: Some("metrics are computed before segments; use the segment in a segment, tier or trigger".into()),
            ..d
        },
        None => d,
    }
}

/// The static type of a variable.
fn type_of(name: &str, names: &Names, metrics: &HashMap<&str, ValueType>) -> Option<ValueType> {
    match name {
        "tier" | "stage" => return Some(ValueType::Str),
        "as_of" => return Some(ValueType::Date),
        _ => {}
    }
    Some(match names.kind(name)? {
        Kind::Field(t) | Kind::Population(_, t) => t.into(),
        Kind::Metric => metrics.get(name).copied().unwrap_or(ValueType::Unknown),
        Kind::Segment => ValueType::Bool,
    })
}

/// Reports every cycle among metrics and segments once; returns the names on cycles.
fn cycles<'a>(
    rules: &'a RuleSet,
    deps: &HashMap<&'a str, Vec<(&'a str, Span)>>,
    out: &mut Vec<Diagnostic>,
) -> HashSet<&'a str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        deps: &HashMap<&'a str, Vec<(&'a str, Span)>>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<(&'a str, Span)>,
        found: &mut Vec<Vec<(&'a str, Span)>>,
    ) {
        marks.insert(node, Mark::Active);
        for &(next, span) in deps.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Active) => {
                    let start = path
                        .iter()
                        .position(|(n, _)| *n == next)
                        .unwrap_or(path.len());
                    let mut cycle = path[start..].to_vec();
                    cycle.push((node, span));
                    found.push(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    path.push((node, span));
                    visit(next, deps, marks, path, found);
                    path.pop();
                }
            }
        }
        marks.insert(node, Mark::Done);
    }
    let mut marks = HashMap::new();
    let mut found = Vec::new();
    let roots = rules
        .metrics
        .iter()
        .map(|m| m.name.value.as_str())
        .chain(rules.segments.iter().map(|s| s.name.value.as_str()));
    for root in roots {
        if !marks.contains_key(root) {
            visit(root, deps, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    let mut on_cycle = HashSet::new();
    for cycle in found {
        // `cycle` lists (name, span of its reference to the next name), ending at the name whose
        // reference closes the loop.
        let names: Vec<&str> = cycle.iter().map(|(n, _)| *n).collect();
        let (last, span) = *cycle.last().expect("a cycle has a step");
        let first = names[0];
        let chain: Vec<String> = names
            .iter()
            .chain([&first])
            .map(|n| format!("`{n}`"))
            .collect();
        let (message, help) = if names.len() == 1 {
            (
                format!("`{last}` uses itself"),
                if rules.metrics.iter().any(|m| m.name.value == last) {
                    format!("compute `{last}` from fields and other metrics")
                } else {
                    format!("compute `{last}` from fields, metrics and other segments")
                },
            )
        } else {
            (
                format!("`{first}` depends on itself: {}", chain.join(" -> ")),
                "break the loop: one of these must be computed without the others".to_string(),
            )
        };
        out.push(Diagnostic::error(Code::Cycle, message).at(span).help(help));
        on_cycle.extend(names);
    }
    on_cycle
}

/// Metric names ordered so each comes after the metrics it uses (cycles left out).
fn topological<'a>(
    rules: &'a RuleSet,
    deps: &HashMap<&'a str, Vec<(&'a str, Span)>>,
    cyclic: &HashSet<&'a str>,
) -> Vec<String> {
    fn visit<'a>(
        node: &'a str,
        deps: &HashMap<&'a str, Vec<(&'a str, Span)>>,
        cyclic: &HashSet<&'a str>,
        seen: &mut HashSet<&'a str>,
        order: &mut Vec<String>,
    ) {
        if cyclic.contains(node) || !seen.insert(node) {
            return;
        }
        for &(next, _) in deps.get(node).into_iter().flatten() {
            visit(next, deps, cyclic, seen, order);
        }
        order.push(node.to_string());
    }
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for m in &rules.metrics {
        visit(&m.name.value, deps, cyclic, &mut seen, &mut order);
    }
    order
}

/// What a value of type `ty` (a date or a date-time) lacks for `pattern` to write it: a time
/// of day, or a time zone; `None` when the pattern writes it.
fn unwritable(pattern: &str, ty: ValueType) -> Option<&'static str> {
    use std::fmt::Write as _;
    let moment = chrono::NaiveDate::from_ymd_opt(2026, 1, 31)
        .and_then(|d| d.and_hms_opt(9, 30, 0))
        .expect("a date-time");
    let mut text = String::new();
    if ty == ValueType::Date && write!(text, "{}", moment.date().format(pattern)).is_err() {
        Some("time of day")
    } else if write!(text, "{}", moment.format(pattern)).is_err() {
        Some("time zone")
    } else {
        None
    }
}

/// What checking the placeholders of parameter texts needs.
struct Texts<'a> {
    /// Every name a placeholder may hold.
    known: Vec<&'a str>,
    names: &'a Names,
    /// The optional fields: missing for some customers.
    optional: HashSet<&'a str>,
    type_of: &'a dyn Fn(&str) -> ValueType,
    sources: &'a Sources,
}

impl<'a> Texts<'a> {
    /// Reports the placeholders of parameter `param`'s text that cannot be read, name what
    /// does not exist, format a value their format cannot print, or print an optional field
    /// without a fallback; marks the names they use.
    fn check(
        &self,
        param: &str,
        text: &Spanned<String>,
        used: &mut HashSet<&'a str>,
        out: &mut Vec<Diagnostic>,
    ) {
        // Where the text's value starts in the file, when the file spells it as is (no
        // escapes): the span holds the quotes (DSL) or only what is between them (TOML).
        let raw = self.sources.slice(text.span);
        let value_at = if raw == text.value {
            Some(text.span.start)
        } else {
            let inner = raw.get(1..raw.len().saturating_sub(1));
            (inner == Some(text.value.as_str())).then_some(text.span.start + 1)
        };
        let at = |range: std::ops::Range<usize>| {
            value_at.map_or(text.span, |at| {
                Span::new(text.span.file, at + range.start, at + range.end)
            })
        };
        for p in placeholders(&text.value) {
            let p = match p {
                Ok(p) => p,
                Err(e) => {
                    out.push(
                        Diagnostic::error(
                            Code::BadPlaceholder,
                            format!("in the text of parameter `{param}`: {}", e.message),
                        )
                        .at(at(e.range))
                        .help(e.help),
                    );
                    continue;
                }
            };
            if let Some((name, _)) = self.names.vars.get_key_value(p.name) {
                used.insert(name);
            } else if !self.known.contains(&p.name) {
                let mut d = Diagnostic::error(
                    Code::UnknownName,
                    format!(
                        "unknown name `{}` in the text of parameter `{param}`",
                        p.name
                    ),
                )
                .at(at(p.name_range.clone()));
                d = d.help(
                    suggest(p.name, self.known.iter().copied()).unwrap_or_else(|| {
                        "a `{name}` in a text names a field, metric, segment or `tier`".into()
                    }),
                );
                out.push(d);
                continue;
            }
            let ty = (self.type_of)(p.name);
            let wanted = match p.format {
                Some(TextFormat::Money) if !matches!(ty, ValueType::Int | ValueType::Decimal) => {
                    Some("a number")
                }
                Some(TextFormat::Date(_)) if !ty.is_moment() => Some("a date"),
                _ => None,
            };
            // A pattern with a time of day cannot write a date, nor one with a zone a date-time.
            if let (Some(TextFormat::Date(pattern)), true) = (&p.format, ty.is_moment()) {
                if let Some(lacks) = unwritable(pattern, ty) {
                    out.push(
                        Diagnostic::error(
                            Code::BadPlaceholder,
                            format!(
                                "in the text of parameter `{param}`: the pattern `{pattern}` \
                                 cannot write `{}` ({}): it has no {lacks}",
                                p.name,
                                ty.describe()
                            ),
                        )
                        .at(at(p.name_range.clone()))
                        .help("keep the codes of what it holds: `%d %B %Y` for a date"),
                    );
                }
            }
            if let Some(wanted) = wanted.filter(|_| ty.is_concrete()) {
                out.push(
                    Diagnostic::error(
                        Code::ExprType,
                        format!(
                            "`{}` in the text of parameter `{param}` needs {wanted}, not `{}` ({})",
                            &text.value[p.range.clone()],
                            p.name,
                            ty.describe()
                        ),
                    )
                    .at(at(p.name_range.clone())),
                );
            }
            if p.fallback.is_none() && self.optional.contains(p.name) {
                out.push(
                    Diagnostic::warning(
                        Code::MissingFallback,
                        format!(
                            "`{}` in the text of parameter `{param}` prints nothing for a \
                             customer without `{}`",
                            &text.value[p.range.clone()],
                            p.name
                        ),
                    )
                    .at(at(p.name_range.clone()))
                    .help({
                        let written = &text.value[p.range.start..p.range.end - 1];
                        format!(
                            "`{}` is optional: give a fallback, e.g. `{} ?? \"...\"}}`",
                            p.name,
                            written.trim_end()
                        )
                    }),
                );
            }
        }
    }
}
