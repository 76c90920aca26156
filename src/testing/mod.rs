//! Tests beside the rules: each `test` block of a rule set names a customer (field values, a
//! row of an export, or both) and what the rules must decide for them. [`run_tests`] decides
//! for each with the rule set's own [`Program`] and compares; a failure says what was expected,
//! what happened, and the values that decided it.

mod report;

pub use report::{Coverage, Format};

use crate::engine::{display, text, Decision, Evaluator, Suppression};
use crate::history::index::{day_of, IndexBuilder, Keep};
use crate::history::{Arm, Contact, Index};
use crate::io::test_customer;
use crate::model::{AsOf, ExpectParam, Ident, TestCase, TestValue};
use crate::plan::Program;
use chrono::NaiveDate;
use rhai::Dynamic;
use std::collections::HashMap;
use std::path::PathBuf;

/// The outcome of a rule set's tests.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// One result per test case run, in declaration order.
    pub cases: Vec<CaseResult>,
    /// What the tests that ran exercised.
    pub coverage: Coverage,
}

/// The outcome of one test case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    /// The file and line the test is written at.
    pub file: PathBuf,
    pub line: usize,
    /// Each expectation that did not hold.
    pub failures: Vec<Failure>,
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was expected, e.g. "segment `loyal`" or "tier `gold`".
    pub expected: String,
    /// What happened instead, e.g. "the customer is not in it" or "tier `platinum`".
    pub actual: String,
    /// The rule and the values that decided it, one line each.
    pub why: Vec<String>,
}

impl Failure {
    /// One sentence: "expected segment `loyal`, but the customer is not in it".
    pub fn summary(&self) -> String {
        format!("expected {}, but {}", self.expected, self.actual)
    }
}

impl CaseResult {
    /// The case as `idic test` shows it: its verdict and, when it failed, why.
    pub fn to_text(&self) -> String {
        report::case_text(self)
    }
}

impl TestReport {
    /// True when no case failed (also when there are none).
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.failures.is_empty())
    }

    /// The failing cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.failures.is_empty())
    }

    /// A readable report for people.
    pub fn to_text(&self) -> String {
        report::human(self)
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Human => report::human(self),
            Format::Json => report::json(self),
            Format::Junit => report::junit(self),
        }
    }
}

/// Runs the test cases of `program` whose names contain `filter` (all when `None`).
pub fn run_tests(program: &Program, filter: Option<&str>) -> TestReport {
    let mut report = TestReport {
        coverage: Coverage::new(program),
        ..TestReport::default()
    };
    let mut evaluators: HashMap<NaiveDate, Evaluator<'_>> = HashMap::new();
    for (i, test) in program.rules().tests.iter().enumerate() {
        if filter.is_some_and(|f| !test.name.value.contains(f)) {
            continue;
        }
        let place = program.test_place(i);
        let prepared =
            date(program, test).and_then(|as_of| Ok((as_of, values(program, test, &place.base)?)));
        let failures = match prepared {
            Err(failure) => vec![failure],
            // Tests without a history share an evaluator per date.
            Ok((as_of, values)) if test.history.is_empty() => {
                let evaluator = evaluators
                    .entry(as_of)
                    .or_insert_with(|| Evaluator::new(program, as_of));
                decide_and_compare(program, test, evaluator, values, &mut report.coverage)
            }
            Ok((as_of, values)) => {
                let id = text(&values[program.key_field()]);
                let index = past_contacts(program, test, as_of, &id);
                let mut evaluator = Evaluator::new(program, as_of).with_history(&index);
                decide_and_compare(program, test, &mut evaluator, values, &mut report.coverage)
            }
        };
        report.cases.push(CaseResult {
            name: test.name.value.clone(),
            file: place.file.clone(),
            line: place.line,
            failures,
        });
    }
    report
}

/// The date `test` decides at: its own, else the rule set's.
fn date(program: &Program, test: &TestCase) -> Result<NaiveDate, Failure> {
    match (&test.as_of, program.default_as_of()) {
        (Some(d), _) => Ok(d.value),
        (None, Some(AsOf::Date(d))) => Ok(d),
        _ => Err(Failure {
            expected: "a date to decide at".into(),
            actual: "neither the test nor the rule set gives one".into(),
            why: vec!["add `as_of \"YYYY-MM-DD\"` to the test".into()],
        }),
    }
}

/// The values of `test`'s customer, its tables filled in.
fn values(
    program: &Program,
    test: &TestCase,
    base: &std::path::Path,
) -> Result<Vec<rhai::Dynamic>, Failure> {
    let population = program.rules().population_fields();
    let missing = program.rules().missing_words();
    let mut values = test_customer::values(
        program.fields(),
        missing,
        &population,
        test,
        base,
        program.access(),
    )
    .map_err(|e| Failure {
        expected: "a customer".into(),
        actual: format!("it cannot be built: {}", e.message),
        why: Vec::new(),
    })?;
    program.fill_tables(&mut values);
    Ok(values)
}

/// The contact history `test` gives its customer `id`, as of `as_of`.
fn past_contacts(program: &Program, test: &TestCase, as_of: NaiveDate, id: &str) -> Index {
    let channels = program.channel_names();
    let today = day_of(as_of).unwrap_or(0);
    let mut builder = IndexBuilder::new(&channels, today, Keep::All);
    for past in &test.history {
        // `check` holds the trigger to the rule set's and the day to the history's.
        let trigger = program
            .trigger_names()
            .position(|n| n == past.trigger.value);
        let day = as_of
            .checked_sub_days(chrono::Days::new(u64::from(past.ago.value.days())))
            .and_then(day_of);
        if let (Some(trigger), Some(day)) = (trigger, day) {
            let channel = program.trigger_channel(trigger);
            builder.push(
                id.as_bytes(),
                Contact {
                    day,
                    trigger: trigger as u16,
                    channel: builder.channel(channel.as_bytes()),
                    arm: past.arm.as_ref().map_or(Arm::Treated, |a| a.value),
                },
            );
        }
    }
    builder.finish()
}

/// Decides for `test`'s customer with `evaluator` and compares.
fn decide_and_compare(
    program: &Program,
    test: &TestCase,
    evaluator: &mut Evaluator<'_>,
    values: Vec<rhai::Dynamic>,
    coverage: &mut Coverage,
) -> Vec<Failure> {
    match evaluator.evaluate(values) {
        Ok(decision) => {
            coverage.saw(&decision);
            compare(program, test, &decision, evaluator)
        }
        Err(e) => vec![Failure {
            expected: "a decision".into(),
            actual: format!("a rule failed: {}", e.message),
            why: Vec::new(),
        }],
    }
}

/// Every expectation of `test` that `decision` does not meet.
fn compare(
    program: &Program,
    test: &TestCase,
    decision: &Decision,
    evaluator: &Evaluator<'_>,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    // The rule (`name: condition`) and the values it read.
    let why = |rule: &str, source: &str, reads: &[&str]| -> Vec<String> {
        let mut lines = vec![format!("{rule}: {source}")];
        if !reads.is_empty() {
            let values: Vec<String> = reads
                .iter()
                .map(|n| format!("{n} = {}", show(evaluator.value_of(n))))
                .collect();
            lines.push(format!("with {}", values.join(", ")));
        }
        lines
    };
    let segment_index = |name: &str| program.segment_names().position(|n| n == name);
    for (names, want_in) in [
        (&test.expect.segments, true),
        (&test.expect.not_segments, false),
    ] {
        for name in names {
            let Some(i) = segment_index(&name.value) else {
                continue;
            };
            let is_in = decision.segments.contains(&i);
            if is_in != want_in {
                let (source, reads) = program.segment_condition(i);
                let rule = format!("segment `{}`", name.value);
                failures.push(Failure {
                    expected: format!(
                        "{}segment `{}`",
                        if want_in { "" } else { "not " },
                        name.value
                    ),
                    actual: if is_in {
                        "the customer is in it".into()
                    } else {
                        "the customer is not in it".into()
                    },
                    why: why(&rule, source, &reads),
                });
            }
        }
    }
    // Tiers and lifecycle stages: the first that matches is chosen.
    let lists = [
        FirstMatch {
            what: "tier",
            want: &test.expect.tier,
            chosen: decision.tier,
            count: program.tier_names().len(),
            name: &|i| program.tier_name(i),
            condition: &|i| program.tier_condition(i),
        },
        FirstMatch {
            what: "stage",
            want: &test.expect.stage,
            chosen: decision.stage,
            count: program.stage_names().len(),
            name: &|i| program.stage_name(i),
            condition: &|i| program.stage_condition(i),
        },
    ];
    for FirstMatch {
        what,
        want,
        chosen,
        count,
        name,
        condition,
    } in lists
    {
        let Some(want) = want else { continue };
        let got = chosen.map(name);
        if got == Some(want.value.as_str()) {
            continue;
        }
        let mut lines = Vec::new();
        // Why the expected one was not chosen: an earlier one matched, or its own condition is
        // false.
        if let Some(w) = (0..count).position(|i| name(i) == want.value) {
            match (chosen, condition(w)) {
                (Some(t), _) if t < w => {
                    if let Some((source, reads)) = condition(t) {
                        let rule = format!("{what} `{}` comes first and matches", name(t));
                        lines.extend(why(&rule, source, &reads));
                    }
                }
                (_, Some((source, reads))) => {
                    let rule = format!("{what} `{}` does not match", want.value);
                    lines.extend(why(&rule, source, &reads));
                }
                _ => {}
            }
        }
        failures.push(Failure {
            expected: format!("{what} `{}`", want.value),
            actual: match got {
                Some(t) => format!("the {what} is `{t}`"),
                None => format!("there is no {what}"),
            },
            why: lines,
        });
    }
    let trigger_index = |name: &str| program.trigger_names().position(|n| n == name);
    for (name, reason) in &test.expect.suppressed {
        let Some(i) = trigger_index(&name.value) else {
            continue;
        };
        let actual = decision
            .suppressed
            .iter()
            .find(|(t, _)| *t == i)
            .map(|(_, r)| *r);
        // (`check` refused a reason the trigger cannot have.)
        if actual.is_some_and(|why| program.reason(i, why) == reason.value) {
            continue;
        }
        let (source, reads) = program.trigger_condition(i);
        let (actual, lines) = match actual {
            Some(other) => (
                format!("it is suppressed ({})", program.reason(i, other)),
                Vec::new(),
            ),
            None if decision.fired.contains(&i) => ("it fires".to_string(), Vec::new()),
            None => (
                "its condition is false".to_string(),
                why(&format!("trigger `{}` when", name.value), source, &reads),
            ),
        };
        failures.push(Failure {
            expected: format!("trigger `{}` suppressed ({})", name.value, reason.value),
            actual,
            why: lines,
        });
    }
    for (names, want_fired) in [(&test.expect.fires, true), (&test.expect.not_fires, false)] {
        for name in names {
            let Some(i) = trigger_index(&name.value) else {
                continue;
            };
            let fired = decision.fired.contains(&i);
            if fired == want_fired {
                continue;
            }
            let suppressed = decision.suppressed.iter().find(|(t, _)| *t == i);
            let (source, reads) = program.trigger_condition(i);
            let rule = format!("trigger `{}` when", name.value);
            let (actual, lines) = match (fired, suppressed) {
                (true, _) => ("it fires".to_string(), why(&rule, source, &reads)),
                (false, Some((_, Suppression::Consent))) => {
                    // Only a marketing trigger, which names its consent field, is.
                    let consent = program.trigger_consent(i).unwrap_or_default();
                    (
                        "it is suppressed: no consent".to_string(),
                        vec![format!("{consent} = {}", show(evaluator.value_of(consent)))],
                    )
                }
                (false, Some((_, Suppression::Holdout))) => {
                    let (bucket, below) = program
                        .holdout()
                        .map_or((0, 0), |h| (h.place(&decision.id).0, h.below));
                    (
                        "it is suppressed: the customer is in the global holdout".to_string(),
                        vec![format!("bucket {bucket}, held out below {below}")],
                    )
                }
                (false, Some((_, why @ (Suppression::Reentry | Suppression::Cooldown)))) => (
                    format!(
                        "it is suppressed: {} (the test's history)",
                        program.reason(i, *why)
                    ),
                    Vec::new(),
                ),
                (false, Some((_, Suppression::SuppressedList))) => (
                    "it is suppressed: the customer is on the do-not-contact list".to_string(),
                    Vec::new(),
                ),
                (false, Some((_, Suppression::TriggerHoldout))) => {
                    let (bucket, below) = program
                        .trigger_holdout(i)
                        .map_or((0, 0), |h| (h.place(&decision.id).0, h.below));
                    (
                        "it is suppressed: the customer is in its holdout (a control)".to_string(),
                        vec![format!("bucket {bucket}, held out below {below}")],
                    )
                }
                (false, Some((_, why @ Suppression::ChannelLimit))) => {
                    let channel = program.trigger_channel(i);
                    let taken: Vec<String> = decision
                        .fired
                        .iter()
                        .filter(|&&t| program.trigger_channel(t) == channel)
                        .map(|&t| format!("`{}`", program.trigger_name(t)))
                        .collect();
                    (
                        format!("it is suppressed: {}", program.reason(i, *why)),
                        vec![format!("fired first on {channel}: {}", taken.join(", "))],
                    )
                }
                (false, Some((_, Suppression::MaxTriggers))) => {
                    let taken: Vec<String> = decision
                        .fired
                        .iter()
                        .map(|&t| format!("`{}`", program.trigger_name(t)))
                        .collect();
                    (
                        "it is suppressed: `max_triggers` places taken".to_string(),
                        vec![format!("fired first: {}", taken.join(", "))],
                    )
                }
                (false, Some((_, why))) => (
                    format!("it is suppressed: {}", program.reason(i, *why)),
                    Vec::new(),
                ),
                (false, None) => (
                    "its condition is false".to_string(),
                    why(&rule, source, &reads),
                ),
            };
            failures.push(Failure {
                expected: format!(
                    "trigger `{}` {}",
                    name.value,
                    if want_fired { "to fire" } else { "not to fire" }
                ),
                actual,
                why: lines,
            });
        }
    }
    for p in &test.expect.params {
        if let Some(mut f) = compare_param(program, decision, &p.path.value, &p.value.value) {
            if let Some((t, a, i)) = f.param.take() {
                if let Some((source, reads)) = program.param_expression(t, a, i) {
                    f.failure.why = why(&format!("`{}`", p.path.value), source, &reads);
                }
            }
            failures.push(f.failure);
        }
    }
    failures
}

/// A first-match list (tiers or lifecycle stages) as a test's expectation sees it.
struct FirstMatch<'a> {
    what: &'a str,
    want: &'a Option<Ident>,
    chosen: Option<usize>,
    count: usize,
    name: &'a dyn Fn(usize) -> &'a str,
    condition: &'a dyn Fn(usize) -> Option<(&'a str, Vec<&'a str>)>,
}

/// A parameter that is not what a test expects, and which parameter made it (trigger, action,
/// index) when the action was taken.
struct ParamFailure {
    failure: Failure,
    param: Option<(usize, usize, usize)>,
}

/// A failure when the parameter at `path` (`action.param` or `trigger.action.param`) is not
/// `want`.
fn compare_param(
    program: &Program,
    decision: &Decision,
    path: &str,
    want: &TestValue,
) -> Option<ParamFailure> {
    let (trigger, action, param) = ExpectParam::parts(path)?;
    let outcome = decision.actions.iter().find(|o| {
        program.action(o.trigger, o.action).0 == action
            && trigger.is_none_or(|t| program.trigger_name(o.trigger) == t)
    });
    let expected = format!("`{path}` = {want}");
    let Some(outcome) = outcome else {
        return Some(ParamFailure {
            failure: Failure {
                expected,
                actual: format!("action `{action}` was not taken"),
                why: Vec::new(),
            },
            param: None,
        });
    };
    let i = program
        .param_names(outcome.trigger, outcome.action)
        .position(|n| n == param)?;
    let got = &outcome.params[i];
    (!same(got, want)).then(|| ParamFailure {
        failure: Failure {
            expected,
            actual: format!("it is {}", show(Some(got))),
            why: Vec::new(),
        },
        param: Some((outcome.trigger, outcome.action, i)),
    })
}

/// Whether a parameter's value is the test's.
fn same(got: &Dynamic, want: &TestValue) -> bool {
    match want {
        TestValue::Missing => got.is_unit(),
        TestValue::Bool(b) => got.as_bool() == Ok(*b),
        TestValue::Int(i) => got.as_int() == Ok(*i) || got.as_float().is_ok_and(|f| f == *i as f64),
        TestValue::Decimal(d) => {
            let g = got
                .as_float()
                .ok()
                .or_else(|| got.as_int().ok().map(|i| i as f64));
            g.is_some_and(|g| (g - d).abs() <= 1e-9 * d.abs().max(1.0))
        }
        TestValue::Str(s) => got.is_string() && text(got) == *s,
        TestValue::List(items) => got.read_lock::<rhai::Array>().is_some_and(|a| {
            a.len() == items.len() && a.iter().zip(items).all(|(x, y)| text(x) == *y)
        }),
    }
}

/// A value for a failure's explanation: missing, quoted text, or as `idic run` writes it.
fn show(v: Option<&Dynamic>) -> String {
    match v {
        None => "?".into(),
        Some(v) => display(v),
    }
}
