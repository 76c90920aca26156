//! Why the rules decided what they did for one customer (`idic explain`).
//!
//! [`explain`] decides with an [`Evaluator`], exactly as a run does, and keeps its
//! [`Decision`]: nothing is decided twice. On top it reads the values the rules saw and takes
//! every condition apart on the expression `check` compiled: a condition that is an `||` (else
//! an `&&`) of several operands splits into them, each with its text (found between the
//! top-level operators by rhai's own tokenizer; a part wrapped in parentheses is split in
//! turn), and each part is evaluated by the same evaluator with the same values
//! ([`Evaluator::eval_ast`]). A split is kept only when its parts, combined the way rhai
//! combines them (left to right, stopping early), give the condition's own value.

use super::decision::{display, to_json};
use super::volume::VolumeCut;
use super::{Decision, EvalError, Evaluator, Suppression};
use crate::history::index::date_of;
use crate::history::{Arm, Contact, Index};
use crate::io::do_not_contact::DoNotContact;
use crate::plan::Program;
use crate::text::{pad, printable};
use chrono::NaiveDate;
use rhai::{Dynamic, Expr, Position, Stmt, Token, AST};
use serde::Serialize;
use std::fmt::Write as _;
use std::ops::Range;

/// Everything that decided for one customer. Serializes to JSON (`idic explain --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The customer id.
    pub id: String,
    /// The date decided at, `YYYY-MM-DD`.
    pub as_of: String,
    /// The schema's fields as read, in declaration order.
    pub fields: Vec<FieldValue>,
    /// The population variables (order variables, scores, tables, model), `column` naming
    /// where each comes from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub population: Vec<FieldValue>,
    /// The metrics, in declaration order.
    pub metrics: Vec<MetricValue>,
    /// Every segment, in declaration order, matched or not.
    pub segments: Vec<SegmentCheck>,
    /// The tier chosen (`None` when the rule set has no tiers).
    pub tier: Option<String>,
    /// The tiers tried, in order: those that failed, then the one chosen.
    pub tiers: Vec<TierCheck>,
    /// The lifecycle stage (`None` when the rule set has no lifecycle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The lifecycle stages tried, in order, as for tiers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<TierCheck>,
    /// `max_triggers`, when the rule set caps triggers per customer.
    pub max_triggers: Option<usize>,
    /// Where the customer falls in the global holdout, when the rule set declares one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<HoldoutPlace>,
    /// The customer's earlier contacts the policy read, oldest first; `None` without a
    /// contact history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<PastContact>>,
    /// Every trigger, in declaration order.
    pub triggers: Vec<TriggerCheck>,
    /// The decision exactly as `idic run` writes it as a JSON line.
    pub decision: Box<serde_json::value::RawValue>,
}

/// An earlier contact of the customer, from the contact history.
#[derive(Debug, Clone, Serialize)]
pub struct PastContact {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub days_ago: u32,
    /// The trigger, when it is one of the rule set's.
    pub trigger: Option<String>,
    pub channel: String,
    /// `treated` or `control`.
    pub arm: &'static str,
}

/// A customer's place in the global holdout.
#[derive(Debug, Clone, Serialize)]
pub struct HoldoutPlace {
    /// The customer's bucket, `0..10000`.
    pub bucket: u64,
    /// Buckets below this are held out.
    pub below: u64,
    pub held_out: bool,
}

/// A field's value as `idic run` reads it.
#[derive(Debug, Clone, Serialize)]
pub struct FieldValue {
    pub name: String,
    /// The export column it is read from.
    pub column: String,
    /// Its declared type, with `?` when it may be missing, e.g. `date?`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The value as JSON (`null` when missing).
    pub value: serde_json::Value,
    /// The value for people: `missing`, text in quotes, numbers, dates and lists as written.
    pub shown: String,
}

/// A metric's value.
#[derive(Debug, Clone, Serialize)]
pub struct MetricValue {
    pub name: String,
    /// Its expression, whitespace folded onto one line.
    pub expression: String,
    pub value: serde_json::Value,
    pub shown: String,
}

/// A name a condition reads (a field, metric, segment or `tier`) and its value.
#[derive(Debug, Clone, Serialize)]
pub struct Read {
    pub name: String,
    pub value: serde_json::Value,
    pub shown: String,
}

/// How the parts of a condition combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Join {
    /// `a && b && ...`
    And,
    /// `a || b || ...`
    Or,
}

/// A condition or a part of one, with its value and, when it splits, its parts.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// The text, whitespace folded onto one line.
    pub source: String,
    /// Its value as JSON (`null` when it failed).
    pub value: serde_json::Value,
    pub shown: String,
    /// Why it could not be evaluated, if it could not (a part the rules never reached may fail,
    /// e.g. `recency > 90` for a customer without orders behind `orders >= 2 &&`).
    pub error: Option<String>,
    /// The names it reads, each once, with their values.
    pub reads: Vec<Read>,
    /// How [`Condition::parts`] combine; `None` when the condition does not split.
    pub join: Option<Join>,
    pub parts: Vec<Condition>,
    /// Whether the rules evaluated this part: rhai stops at the first false part of an `&&`
    /// and the first true part of an `||`.
    pub reached: bool,
    /// This part settled its condition: the first false part of a false `&&`, or the first
    /// true part of a true `||`.
    pub decisive: bool,
}

impl Condition {
    /// The value, when it is true or false.
    pub fn truth(&self) -> Option<bool> {
        self.value.as_bool()
    }
}

/// A segment: whether the customer is in it, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentCheck {
    pub name: String,
    pub matched: bool,
    pub condition: Condition,
}

/// A tier or lifecycle stage that was tried.
#[derive(Debug, Clone, Serialize)]
pub struct TierCheck {
    pub name: String,
    pub matched: bool,
    /// `None` for the catch-all (`otherwise`).
    pub condition: Option<Condition>,
}

/// What happened to a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStatus {
    /// It fired: its actions were taken.
    Fired,
    /// Its condition is false.
    NotEligible,
    /// Its condition holds, but it did not fire (see [`TriggerCheck::reason`]).
    Suppressed,
}

/// A trigger: fired, not eligible or suppressed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct TriggerCheck {
    pub name: String,
    pub priority: i64,
    pub status: TriggerStatus,
    /// For a suppressed trigger, why.
    #[serde(skip)]
    pub why: Option<Suppression>,
    /// The same as `idic run` writes it (`cooldown`, `holdout:winback`...).
    pub reason: Option<String>,
    pub condition: Condition,
    /// The trigger's channel.
    pub channel: String,
    /// The consent field of the trigger's channel and its value; `None` for a service trigger.
    pub consent: Option<Read>,
    /// For a service trigger, the reason it needs no marketing consent.
    pub service: Option<String>,
    /// Its re-entry rule and cooldown in words.
    pub policy: String,
    /// Where the customer falls in the trigger's own holdout, in words, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<String>,
    /// The customer's last entry into it (either arm) and last contact by it, from the
    /// contact history (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_entry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_contact: Option<String>,
    /// For a trigger suppressed by `max_triggers` or `max_per_channel`: the triggers that
    /// took the places.
    pub taken_by: Vec<String>,
    /// For a trigger stopped by a cap, an exclusion, a lost draw or its volume: the rule that
    /// stopped it, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arbitration: Option<String>,
    /// For a fired trigger: its actions as `idic run` writes them.
    pub actions: Vec<ActionTaken>,
}

/// An action taken, as `idic run` writes it: template, offer and parameter values.
#[derive(Debug, Clone, Serialize)]
pub struct ActionTaken {
    pub action: String,
    pub channel: String,
    pub activity: String,
    pub service: bool,
    pub template: Option<String>,
    pub offer: Option<String>,
    pub params: Params,
}

/// Parameter values by name, in the order the action declares them; a JSON object.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, serde_json::Value)>);

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Decides for one customer (the values of the schema's fields, in declaration order, as
/// [`crate::io::RecordReader`] or [`crate::io::find_row`] makes them) and explains the
/// decision. `Err` is the rule that failed, as in a run.
pub fn explain(
    program: &Program,
    as_of: NaiveDate,
    values: Vec<Dynamic>,
    history: Option<&Index>,
    do_not_contact: Option<&DoNotContact>,
    volume_cut: Option<&VolumeCut>,
) -> Result<Explanation, EvalError> {
    let mut evaluator = Evaluator::new(program, as_of);
    if let Some(history) = history {
        evaluator = evaluator.with_history(history);
    }
    if let Some(list) = do_not_contact {
        evaluator = evaluator.with_do_not_contact(list);
    }
    if let Some(cut) = volume_cut {
        evaluator = evaluator.with_volume_cut(cut);
    }
    let decision = evaluator.evaluate(values)?;
    let past: Option<Vec<Contact>> = history.map(|h| {
        let mut past: Vec<Contact> = h.contacts(&decision.id).collect();
        past.sort_by_key(|c| c.day);
        past
    });
    let ev = &evaluator;
    let read = |name: &str| -> Read {
        let value = ev.value_of(name).cloned().unwrap_or(Dynamic::UNIT);
        Read {
            name: name.to_string(),
            value: to_json(&value),
            shown: display(&value),
        }
    };
    let fields = program
        .fields()
        .iter()
        .map(|f| {
            let r = read(&f.name.value);
            FieldValue {
                name: r.name,
                column: f.column.value.clone(),
                ty: format!("{}{}", f.ty.value.word(), if f.optional { "?" } else { "" }),
                value: r.value,
                shown: r.shown,
            }
        })
        .collect();
    let population = program
        .rules()
        .population_variables()
        .into_iter()
        .map(|v| {
            let r = read(&v.name);
            FieldValue {
                name: r.name,
                column: v.origin.word().to_string(),
                ty: format!("{}?", v.ty.word()),
                value: r.value,
                shown: r.shown,
            }
        })
        .collect();
    let metrics = program
        .rules()
        .metrics
        .iter()
        .map(|m| {
            let r = read(&m.name.value);
            MetricValue {
                name: r.name,
                expression: fold(&m.expr.source),
                value: r.value,
                shown: r.shown,
            }
        })
        .collect();
    let segments = (0..program.segment_names().len())
        .map(|i| SegmentCheck {
            name: program.segment_name(i).to_string(),
            matched: decision.segments.contains(&i),
            condition: condition(ev, program.segment_unit(i), &read),
        })
        .collect();
    let tried = decision.tier.map_or(0, |t| t + 1);
    let tiers = (0..tried)
        .map(|i| TierCheck {
            name: program.tier_name(i).to_string(),
            matched: decision.tier == Some(i),
            condition: program.tiers[i].unit.map(|u| condition(ev, u, &read)),
        })
        .collect();
    let tried = decision.stage.map_or(0, |s| s + 1);
    let stages = (0..tried)
        .map(|i| TierCheck {
            name: format!("{} ({})", program.stage_name(i), program.stage_activity(i)),
            matched: decision.stage == Some(i),
            condition: program.stages[i].unit.map(|u| condition(ev, u, &read)),
        })
        .collect();

    let mut line = Vec::new();
    decision.write_json(program, &mut line);
    let line = String::from_utf8(line).expect("JSON is UTF-8");
    let decision_json = serde_json::value::RawValue::from_string(line.trim_end().to_string())
        .expect("a decision writes valid JSON");
    let triggers = (0..program.trigger_names().len())
        .map(|i| {
            let mut t = trigger(program, &decision, i, ev, &read);
            let of = |arm: Option<Arm>| {
                past.iter()
                    .flatten()
                    .filter(|c| usize::from(c.trigger) == i && arm.is_none_or(|a| c.arm == a))
                    .map(|c| date_of(c.day).format("%Y-%m-%d").to_string())
                    .next_back()
            };
            t.last_entry = of(None);
            t.last_contact = of(Some(Arm::Treated));
            t
        })
        .collect();
    let history = history.zip(past.as_ref()).map(|(h, past)| {
        past.iter()
            .map(|c| PastContact {
                date: date_of(c.day).format("%Y-%m-%d").to_string(),
                days_ago: u32::from(h.today().saturating_sub(c.day)),
                trigger: (usize::from(c.trigger) < program.trigger_names().len())
                    .then(|| program.trigger_name(usize::from(c.trigger)).to_string()),
                channel: h
                    .channel_name(c.channel)
                    .unwrap_or("another channel")
                    .to_string(),
                arm: c.arm.word(),
            })
            .collect()
    });
    Ok(Explanation {
        id: decision.id.clone(),
        as_of: as_of.format("%Y-%m-%d").to_string(),
        fields,
        population,
        metrics,
        segments,
        tier: decision.tier.map(|t| program.tier_name(t).to_string()),
        tiers,
        stage: decision.stage.map(|s| program.stage_name(s).to_string()),
        stages,
        max_triggers: program.max_triggers(),
        holdout: program.holdout().map(|h| {
            let (bucket, held_out) = h.place(&decision.id);
            HoldoutPlace {
                bucket,
                below: h.below,
                held_out,
            }
        }),
        history,
        triggers,
        decision: decision_json,
    })
}

/// The rule that stopped trigger `i` for reason `why` when it is a cap, an exclusion, a lost
/// draw or a volume, in words.
fn arbitration(program: &Program, i: usize, why: Suppression) -> Option<String> {
    let name = |k: u16| program.trigger_name(usize::from(k));
    Some(match why {
        Suppression::Cap(c) => format!(
            "the cap of {} is reached, counting the earlier contacts and this run's",
            program.cap_words(usize::from(c))
        ),
        Suppression::LostTo(k) => format!(
            "`max_triggers` or `max_per_channel` was full and `{}`, of the same priority, won \
             the draw for this customer",
            name(k)
        ),
        Suppression::ExcludedBy(k) => {
            format!("it never fires with `{}`, which fires", name(k))
        }
        Suppression::Volume => format!(
            "its {} contacts of the run went to customers ranked higher",
            program.trigger_volume(i).unwrap_or_default()
        ),
        _ => return None,
    })
}

/// Trigger `i`: its status from the decision, its condition taken apart.
fn trigger(
    program: &Program,
    decision: &Decision,
    i: usize,
    ev: &Evaluator<'_>,
    read: &dyn Fn(&str) -> Read,
) -> TriggerCheck {
    let name = program.trigger_name(i).to_string();
    let suppressed = decision.suppressed.iter().find(|(t, _)| *t == i);
    let (status, why) = match suppressed {
        Some((_, why)) => (TriggerStatus::Suppressed, Some(*why)),
        None if decision.fired.contains(&i) => (TriggerStatus::Fired, None),
        None => (TriggerStatus::NotEligible, None),
    };
    let channel = program.trigger_channel(i);
    let taken_by = match suppressed {
        Some((_, Suppression::MaxTriggers)) => decision
            .fired
            .iter()
            .map(|&t| program.trigger_name(t).to_string())
            .collect(),
        Some((_, Suppression::ChannelLimit)) => decision
            .fired
            .iter()
            .filter(|&&t| program.trigger_channel(t) == channel)
            .map(|&t| program.trigger_name(t).to_string())
            .collect(),
        _ => Vec::new(),
    };
    let actions = decision
        .actions
        .iter()
        .filter(|a| a.trigger == i)
        .map(|a| {
            let (action, template, offer) = program.action(i, a.action);
            ActionTaken {
                action: action.to_string(),
                channel: program.trigger_channel(i).to_string(),
                activity: program.trigger_activity(i).to_string(),
                service: program.trigger_service_reason(i).is_some(),
                template: template.map(str::to_string),
                offer: offer.map(str::to_string),
                params: Params(
                    program
                        .param_names(i, a.action)
                        .zip(&a.params)
                        .map(|(n, v)| (n.to_string(), to_json(v)))
                        .collect(),
                ),
            }
        })
        .collect();
    TriggerCheck {
        priority: program.trigger_priority(i),
        status,
        why,
        reason: why.map(|w| program.reason(i, w).to_string()),
        arbitration: why.and_then(|w| arbitration(program, i, w)),
        condition: condition(ev, program.triggers[i].unit, read),
        channel: program.trigger_channel(i).to_string(),
        consent: program.trigger_consent(i).map(read),
        service: program.trigger_service_reason(i).map(str::to_string),
        policy: program.trigger_policy(i),
        holdout: program.trigger_holdout(i).map(|h| {
            let (bucket, held) = h.place(&decision.id);
            format!(
                "bucket {bucket} of 10000, {} (buckets below {} are)",
                if held { "held out" } else { "not held out" },
                h.below
            )
        }),
        last_entry: None,
        last_contact: None,
        taken_by,
        actions,
        name,
    }
}

/// The condition of unit `unit`, evaluated and taken apart where it splits.
fn condition(ev: &Evaluator<'_>, unit: usize, read: &dyn Fn(&str) -> Read) -> Condition {
    let (source, ast) = ev.program().unit_source(unit);
    // Only one expression splits (not statements or a lone call), and only when its tokens'
    // places can be told.
    let splits = match ast.statements() {
        [Stmt::Expr(expr)] => tokens(ev.engine(), source).map(|tokens| {
            let range = trimmed(source, 0..source.len());
            (
                Piece {
                    expr: (**expr).clone(),
                    range,
                },
                tokens,
            )
        }),
        _ => None,
    };
    match &splits {
        Some((piece, tokens)) => part(ev, ast, source, tokens, Some(piece), read),
        None => part(ev, ast, source, &[], None, read),
    }
}

/// A condition or a part of one: its expression, and where its text is in the rule's source.
struct Piece {
    expr: Expr,
    range: Range<usize>,
}

/// A condition or one of its parts, `piece` of the rule `ast` compiled from `source` (whose
/// tokens are `tokens`); `None`: the whole of `ast`, which does not split.
fn part(
    ev: &Evaluator<'_>,
    ast: &AST,
    source: &str,
    tokens: &[Lexed],
    piece: Option<&Piece>,
    read: &dyn Fn(&str) -> Read,
) -> Condition {
    let (text, evaluated) = match piece {
        Some(piece) => {
            let statement = Stmt::Expr(Box::new(piece.expr.clone()));
            let one = AST::new([statement], ast.shared_lib().clone());
            (&source[piece.range.clone()], ev.eval_ast(&one))
        }
        None => (source, ev.eval_ast(ast)),
    };
    let (value, error, reads) = match evaluated {
        Ok((value, reads)) => (value, None, reads),
        Err(e) => (Dynamic::UNIT, Some(e), Vec::new()),
    };
    let mut c = Condition {
        source: fold(text),
        value: if error.is_some() {
            serde_json::Value::Null
        } else {
            to_json(&value)
        },
        shown: match &error {
            Some(_) => "error".to_string(),
            None => display(&value),
        },
        error,
        reads: reads.iter().map(|n| read(n)).collect(),
        join: None,
        parts: Vec::new(),
        reached: true,
        decisive: false,
    };
    let Some(piece) = piece else {
        return c;
    };
    let (Some(whole), Some((join, pieces))) = (c.truth(), split(source, tokens, piece)) else {
        return c;
    };
    let mut parts: Vec<Condition> = (pieces.iter())
        .map(|piece| part(ev, ast, source, tokens, Some(piece), read))
        .collect();
    // rhai stops at the first part that settles the outcome: false for `&&`, true for `||`.
    let settles = join == Join::Or;
    let mut outcome = !settles;
    let mut reached = true;
    for part in &mut parts {
        part.reached = reached;
        if !reached {
            continue;
        }
        match part.truth() {
            Some(b) if b == settles => {
                part.decisive = true;
                outcome = settles;
                reached = false;
            }
            Some(_) => {}
            // A part that is not true or false: the split cannot be what rhai did.
            None => return c,
        }
    }
    if outcome == whole {
        c.join = Some(join);
        c.parts = parts;
    }
    c
}

/// Whitespace runs that hold a line break folded into one space: a condition on one line.
fn fold(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for (i, line) in source.trim().lines().enumerate() {
        if i > 0 {
            out.truncate(out.trim_end().len());
            out.push(' ');
            out.push_str(line.trim_start());
        } else {
            out.push_str(line);
        }
    }
    out
}

/// A token of a condition's text, where rhai puts it and at which byte.
struct Lexed {
    token: Token,
    pos: Position,
    at: usize,
}

/// The tokens of `source` as `engine`'s tokenizer reads them (strings and comments are no
/// operators), in order; `None` when a position cannot be told (a line longer than rhai
/// counts).
fn tokens(engine: &rhai::Engine, source: &str) -> Option<Vec<Lexed>> {
    let (lexed, control) = engine.lex([&source]);
    let mut offsets = crate::expr::Offsets::new(source);
    // Per open brace: whether it opens a template's `${`, after whose `}` the text goes on
    // (rhai's parser says so to its tokenizer; here, this loop does).
    let mut braces: Vec<bool> = Vec::new();
    let mut template = false;
    let mut out = Vec::new();
    for (token, pos) in lexed {
        match token {
            Token::EOF => break,
            Token::LexError(_) => return None,
            Token::LeftBrace => braces.push(template),
            Token::RightBrace => {
                let closes_template = braces.pop() == Some(true);
                control.borrow_mut().is_within_text |= closes_template;
            }
            _ => {}
        }
        template = matches!(token, Token::InterpolatedString(_));
        // A template's text after its first `${` has no position: no operator is in it.
        if !pos.is_none() {
            let at = offsets.of(pos)?;
            out.push(Lexed { token, pos, at });
        }
    }
    Some(out)
}

/// How `token` changes the depth of brackets: 1 opens, -1 closes, 0 neither.
fn nesting(token: &Token) -> i32 {
    match token {
        Token::LeftParen
        | Token::LeftBracket
        | Token::QuestionBracket
        | Token::LeftBrace
        | Token::MapStart => 1,
        Token::RightParen | Token::RightBracket | Token::RightBrace => -1,
        _ => 0,
    }
}

/// The parts of `piece`, a `&&` or `||` of several operands compiled from its text:
/// each operand with its text, split at the top-level operators of the text (a text wrapped
/// whole in parentheses splits inside them). Operands grouped in parentheses (rhai flattens
/// `(a || b) || c`) make one part, their group. `None` when the expression is neither, or
/// when the text and the expression do not line up.
fn split(source: &str, tokens: &[Lexed], piece: &Piece) -> Option<(Join, Vec<Piece>)> {
    let range = piece.range.clone();
    let (join, operator, operands, position) = match &piece.expr {
        Expr::And(xs, pos) => (Join::And, Token::And, xs, *pos),
        Expr::Or(xs, pos) => (Join::Or, Token::Or, xs, *pos),
        _ => return None,
    };
    let (mut lo, mut hi) = (range.start, range.end);
    let mut inside: &[Lexed] = {
        let first = tokens.partition_point(|t| t.at < lo);
        let end = tokens.partition_point(|t| t.at < hi);
        &tokens[first..end]
    };
    // Wrapped whole in parentheses: the operators are inside them.
    while let (Some(open), Some(close)) = (inside.first(), inside.last()) {
        let (open, close) = match (&open.token, &close.token) {
            (Token::LeftParen, Token::RightParen) => (open.at, close.at),
            _ => break,
        };
        if open != lo || close + 1 != hi || closing(inside) != Some(inside.len() - 1) {
            break;
        }
        let within = trimmed(source, open + 1..close);
        (lo, hi) = (within.start, within.end);
        inside = &inside[1..inside.len() - 1];
    }
    let mut depth = 0;
    let mut cuts = Vec::new();
    for Lexed { token, at, .. } in inside {
        if depth == 0 && *token == operator {
            cuts.push(*at);
        }
        // A statement's end (`a && b;`): the text holds more than the expression.
        if depth == 0 && *token == Token::SemiColon {
            return None;
        }
        depth += nesting(token);
        if depth < 0 {
            return None;
        }
    }
    if depth != 0 || cuts.is_empty() {
        return None;
    }
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = lo;
    for cut in cuts {
        ranges.push(trimmed(source, start..cut.max(start)));
        start = cut + 2;
    }
    ranges.push(trimmed(source, start.min(hi)..hi));
    if ranges.iter().any(Range::is_empty) {
        return None;
    }
    // Each operand in the part whose text holds it, in order.
    let mut groups: Vec<Vec<Expr>> = vec![Vec::new(); ranges.len()];
    let mut at = 0;
    for x in operands.iter() {
        // An operand starts at one of the tokens (its first, or its operator's).
        let start = x.start_position();
        let offset = inside.iter().find(|t| t.pos == start)?.at;
        while at < ranges.len() && offset >= ranges[at].end {
            at += 1;
        }
        if at == ranges.len() || offset < ranges[at].start {
            return None;
        }
        groups[at].push(x.clone());
    }
    let parts = groups
        .into_iter()
        .zip(ranges)
        .map(|(mut group, range)| {
            let expr = match group.len() {
                0 => return None,
                1 => group.pop()?,
                _ => match join {
                    Join::And => Expr::And(Box::new(group.into_iter().collect()), position),
                    Join::Or => Expr::Or(Box::new(group.into_iter().collect()), position),
                },
            };
            Some(Piece { expr, range })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((join, parts))
}

/// The index of the token closing the bracket `tokens[0]` opens.
fn closing(tokens: &[Lexed]) -> Option<usize> {
    let mut depth = 0;
    for (i, lexed) in tokens.iter().enumerate() {
        depth += nesting(&lexed.token);
        if depth <= 0 {
            return (depth == 0).then_some(i);
        }
    }
    None
}

/// `range` of `source` without the white space at either end.
fn trimmed(source: &str, range: Range<usize>) -> Range<usize> {
    let text = &source[range.clone()];
    let start = range.start + (text.len() - text.trim_start().len());
    start..start + text.trim().len()
}

impl Explanation {
    /// The explanation for people: aligned sections of plain words, no colors; control
    /// characters in values and rule text are escaped ([`printable`]).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let d: serde_json::Value =
            serde_json::from_str(self.decision.get()).expect("the decision is JSON");
        let names = |key: &str| -> Vec<String> {
            d[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        let suppressed: Vec<String> = d["suppressed"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "{} ({})",
                    s["trigger"].as_str().unwrap_or(""),
                    s["reason"].as_str().unwrap_or("")
                )
            })
            .collect();
        let _ = writeln!(out, "decision");
        let _ = writeln!(
            out,
            "  tier        {}",
            self.tier.as_deref().unwrap_or("none")
        );
        if let Some(stage) = &self.stage {
            let _ = writeln!(out, "  stage       {stage}");
        }
        let _ = writeln!(out, "  segments    {}", list(names("segments")));
        let _ = writeln!(out, "  fired       {}", list(names("triggers")));
        let _ = writeln!(out, "  suppressed  {}", list(suppressed));
        if let Some(h) = &self.holdout {
            let place = if h.held_out {
                "held out"
            } else {
                "not held out"
            };
            let rule = match h.below {
                0 => "no bucket is".to_string(),
                below => format!("buckets 0 to {} are", below - 1),
            };
            let _ = writeln!(
                out,
                "  holdout     bucket {} of 10000: {place} ({rule})",
                h.bucket
            );
        }

        if let Some(history) = &self.history {
            let _ = writeln!(
                out,
                "  history     {} earlier contact{} read",
                history.len(),
                if history.len() == 1 { "" } else { "s" }
            );
            for c in history {
                let _ = writeln!(
                    out,
                    "              {} ({} day{} before): {} on {}, {}",
                    c.date,
                    c.days_ago,
                    if c.days_ago == 1 { "" } else { "s" },
                    c.trigger
                        .as_deref()
                        .unwrap_or("(not a trigger of these rules)"),
                    c.channel,
                    c.arm
                );
            }
        }

        let _ = writeln!(out, "\nfields (as read from the export)");
        let fields = self.fields.iter();
        columns(&mut out, fields.map(|f| [f.name.as_str(), &f.ty, &f.shown]));

        if !self.population.is_empty() {
            let _ = writeln!(out, "\npopulation (worked out over the whole export)");
            let vars = self.population.iter();
            columns(
                &mut out,
                vars.map(|f| [f.name.as_str(), &f.column, &f.shown]),
            );
        }

        if !self.metrics.is_empty() {
            let _ = writeln!(out, "\nmetrics");
            let rows: Vec<[String; 3]> = self
                .metrics
                .iter()
                .map(|m| {
                    [
                        m.name.clone(),
                        m.shown.clone(),
                        format!("= {}", m.expression),
                    ]
                })
                .collect();
            columns(&mut out, rows.iter().map(|[a, b, c]| [a.as_str(), b, c]));
        }

        // Segments, tiers and triggers share one layout: name, verdict, condition.
        let name_width = width(
            self.segments
                .iter()
                .map(|s| s.name.as_str())
                .chain(self.tiers.iter().map(|t| t.name.as_str()))
                .chain(self.stages.iter().map(|t| t.name.as_str()))
                .chain(self.triggers.iter().map(|t| t.name.as_str())),
        );
        let verdict_width = "not eligible".len();
        let indent = 2 + name_width + 2 + verdict_width + 2;
        let row = |out: &mut String, name: &str, verdict: &str, text: &str| {
            let _ = writeln!(
                out,
                "  {}  {}  {}",
                pad(&printable(name), name_width),
                pad(verdict, verdict_width),
                printable(text)
            );
        };

        if !self.segments.is_empty() {
            let matched = self.segments.iter().filter(|s| s.matched).count();
            let _ = writeln!(
                out,
                "\nsegments ({matched} of {} matched)",
                self.segments.len()
            );
            for s in &self.segments {
                row(
                    &mut out,
                    &s.name,
                    if s.matched { "yes" } else { "no" },
                    &s.condition.source,
                );
                condition_lines(&mut out, &s.condition, indent);
            }
        }

        let first_match = [
            (
                self.tier.as_ref(),
                &self.tiers,
                "tier",
                "the first tier that matches",
            ),
            (
                self.stage.as_ref(),
                &self.stages,
                "lifecycle stage",
                "the first stage that matches",
            ),
        ];
        for (chosen, tried, what, how) in first_match {
            let Some(chosen) = chosen else { continue };
            let _ = writeln!(out, "\n{what} {chosen} ({how})");
            for t in tried {
                let verdict = if t.matched { "yes" } else { "no" };
                match &t.condition {
                    Some(c) => {
                        row(&mut out, &t.name, verdict, &c.source);
                        condition_lines(&mut out, c, indent);
                    }
                    None => row(&mut out, &t.name, verdict, "otherwise"),
                }
            }
        }

        if !self.triggers.is_empty() {
            let fired = self
                .triggers
                .iter()
                .filter(|t| t.status == TriggerStatus::Fired)
                .count();
            let cap = match self.max_triggers {
                Some(max) => format!(", at most {max} per customer"),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "\ntriggers ({fired} fired{cap}; highest priority first)"
            );
            for t in &self.triggers {
                let verdict = match t.status {
                    TriggerStatus::Fired => "fired",
                    TriggerStatus::NotEligible => "not eligible",
                    TriggerStatus::Suppressed => "suppressed",
                };
                row(
                    &mut out,
                    &t.name,
                    verdict,
                    &format!("priority {}: {}", t.priority, t.condition.source),
                );
                condition_lines(&mut out, &t.condition, indent);
                let margin = " ".repeat(indent);
                let consent = match (&t.consent, &t.service) {
                    (Some(c), _) => format!("{} = {}", c.name, c.shown),
                    (None, Some(reason)) => {
                        format!("none needed, a service message ({reason})")
                    }
                    (None, None) => String::new(),
                };
                match t.why {
                    Some(Suppression::Consent) => {
                        let _ = writeln!(
                            out,
                            "{margin}suppressed by consent: {consent}, and no message goes out without it"
                        );
                    }
                    Some(Suppression::SuppressedList) => {
                        let _ = writeln!(
                            out,
                            "{margin}suppressed by the do-not-contact list: the customer is on it for {}",
                            t.channel
                        );
                    }
                    Some(Suppression::Holdout) => {
                        let _ = writeln!(
                            out,
                            "{margin}suppressed by the global holdout: the customer's bucket is held out of every marketing trigger"
                        );
                    }
                    Some(why @ (Suppression::Reentry | Suppression::Cooldown)) => {
                        let last = match why {
                            Suppression::Reentry => {
                                t.last_entry.as_ref().map(|d| format!("; last entered {d}"))
                            }
                            _ => t
                                .last_contact
                                .as_ref()
                                .map(|d| format!("; last contacted {d}")),
                        };
                        let _ = writeln!(
                            out,
                            "{margin}suppressed ({}): it {}{}",
                            t.reason.as_deref().unwrap_or_default(),
                            t.policy,
                            last.unwrap_or_default()
                        );
                    }
                    Some(Suppression::TriggerHoldout) => {
                        let _ = writeln!(
                            out,
                            "{margin}in its own holdout ({}): a control, recorded and not contacted",
                            t.holdout.as_deref().unwrap_or_default()
                        );
                    }
                    Some(Suppression::MaxTriggers | Suppression::ChannelLimit) => {
                        let _ = writeln!(
                            out,
                            "{margin}suppressed ({}): the {} place{} went to higher priorities: {}",
                            t.reason.as_deref().unwrap_or_default(),
                            t.taken_by.len(),
                            if t.taken_by.len() == 1 { "" } else { "s" },
                            t.taken_by.join(", ")
                        );
                    }
                    Some(_) => {
                        let _ = writeln!(
                            out,
                            "{margin}suppressed ({}): {}",
                            t.reason.as_deref().unwrap_or_default(),
                            t.arbitration.as_deref().unwrap_or_default()
                        );
                    }
                    None if t.status == TriggerStatus::Fired => {
                        let _ = writeln!(out, "{margin}{} consent: {consent}", t.channel);
                    }
                    None => {}
                }
                for a in &t.actions {
                    action_lines(&mut out, a, indent);
                }
            }
        }
        out
    }
}

/// Rows of three cells, the first two padded to their widest.
fn columns<'a>(out: &mut String, rows: impl Iterator<Item = [&'a str; 3]>) {
    let rows: Vec<[std::borrow::Cow<'a, str>; 3]> = rows.map(|r| r.map(printable)).collect();
    let first = width(rows.iter().map(|r| r[0].as_ref()));
    let second = width(rows.iter().map(|r| r[1].as_ref()));
    for [a, b, c] in &rows {
        let _ = writeln!(out, "  {}  {}  {c}", pad(a, first), pad(b, second));
    }
}

/// The widest of `items` as shown, in characters.
fn width<'a>(items: impl Iterator<Item = &'a str>) -> usize {
    items.map(shown_width).max().unwrap_or(0)
}

/// How many characters `text` takes as shown ([`printable`]).
fn shown_width(text: &str) -> usize {
    printable(text).chars().count()
}

/// The lines under a condition, `indent` columns in: its parts and their values (nested parts
/// further in), or, when it does not split, the names it reads.
fn condition_lines(out: &mut String, c: &Condition, indent: usize) {
    let margin = " ".repeat(indent);
    if c.parts.is_empty() {
        if let Some(e) = &c.error {
            let _ = writeln!(out, "{margin}cannot be evaluated: {}", printable(e));
        } else if !c.reads.is_empty() {
            let _ = writeln!(out, "{margin}with {}", reads(c));
        }
        return;
    }
    let text_width = part_width(c, 0);
    part_lines(out, c, indent, 0, text_width);
}

/// The widest part text under `c`, with the indentation of its depth.
fn part_width(c: &Condition, depth: usize) -> usize {
    c.parts
        .iter()
        .map(|p| (2 * depth + shown_width(&p.source)).max(part_width(p, depth + 1)))
        .max()
        .unwrap_or(0)
}

fn part_lines(out: &mut String, c: &Condition, indent: usize, depth: usize, text_width: usize) {
    let margin = " ".repeat(indent + 2 * depth);
    let value_width = width(c.parts.iter().map(|p| p.shown.as_str())).max(5);
    let source_width = text_width - 2 * depth;
    for p in &c.parts {
        let mut line = format!(
            "{margin}{}  {}",
            pad(&printable(&p.source), source_width),
            pad(&printable(&p.shown), value_width)
        );
        // `loyal  true` needs no `(loyal = true)`.
        let just_a_name = matches!(p.reads.as_slice(), [r] if r.name == p.source);
        if p.parts.is_empty() && !p.reads.is_empty() && !just_a_name {
            let _ = write!(line, "  ({})", reads(p));
        }
        if let Some(e) = &p.error {
            let _ = write!(line, "  ({})", printable(e));
        }
        if !p.reached {
            line.push_str("  (not reached)");
        } else if p.decisive {
            line.push_str(match c.join {
                Some(Join::And) => "  <- this part failed",
                _ => "  <- this part holds",
            });
        }
        let _ = writeln!(out, "{}", line.trim_end());
        part_lines(out, p, indent, depth + 1, text_width);
    }
    if c.join == Some(Join::Or) && c.truth() == Some(false) {
        let _ = writeln!(out, "{margin}no part is true");
    }
}

/// `name = value, ...` of the names a condition reads.
fn reads(c: &Condition) -> String {
    c.reads
        .iter()
        .map(|r| format!("{} = {}", r.name, r.shown))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An action as `idic run` writes it: template, offer and each parameter as JSON.
fn action_lines(out: &mut String, a: &ActionTaken, indent: usize) {
    let margin = " ".repeat(indent);
    let quoted = |v: &Option<String>| match v {
        Some(s) => format!("{s:?}"),
        None => "none".to_string(),
    };
    let _ = writeln!(
        out,
        "{margin}action {}: template {}, offer {}",
        a.action,
        quoted(&a.template),
        quoted(&a.offer)
    );
    let name_width = width(a.params.0.iter().map(|(n, _)| n.as_str()));
    for (name, value) in &a.params.0 {
        // JSON escapes C0 controls but not DEL and C1.
        let value = value.to_string();
        let _ = writeln!(
            out,
            "{margin}  {} = {}",
            pad(&printable(name), name_width),
            printable(&value)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of the parts `source` splits into, as compiled by the sandbox with the
    /// names `a` to `e`, `tier`, `spent`, `tags` and `name` in scope.
    fn parts(source: &str) -> Option<(Join, Vec<String>)> {
        let names = ["a", "b", "c", "d", "e", "tier", "spent", "tags", "name"];
        let engine = crate::expr::engine(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        let expr = crate::model::Expr {
            source: source.to_string(),
            span: Default::default(),
            verbatim: true,
        };
        let ast = crate::expr::compile(&engine, &expr, &names).expect("compiles");
        let [Stmt::Expr(whole)] = ast.statements() else {
            return None;
        };
        let piece = Piece {
            expr: (**whole).clone(),
            range: trimmed(source, 0..source.len()),
        };
        let (join, pieces) = split(source, &tokens(&engine, source)?, &piece)?;
        let texts = pieces.into_iter().map(|p| source[p.range].to_string());
        Some((join, texts.collect()))
    }

    fn are(join: Join, texts: &[&str]) -> Option<(Join, Vec<String>)> {
        Some((join, texts.iter().map(|t| t.to_string()).collect()))
    }

    #[test]
    fn splits_at_the_loosest_top_level_operator() {
        assert_eq!(
            parts("a >= 1 && b < 2 && !c"),
            are(Join::And, &["a >= 1", "b < 2", "!c"])
        );
        assert_eq!(
            parts("a || (b && spent >= 1000)"),
            are(Join::Or, &["a", "(b && spent >= 1000)"])
        );
        // `&&` binds tighter than `||`: the split is at `||`.
        assert_eq!(parts("a && b || c"), are(Join::Or, &["a && b", "c"]));
        // Wrapped whole in parentheses: split inside.
        assert_eq!(parts("(a || b)"), are(Join::Or, &["a", "b"]));
        assert_eq!(parts("(a) && (b)"), are(Join::And, &["(a)", "(b)"]));
        // rhai flattens a group of the same operator; the group stays one part.
        assert_eq!(parts("(a || b) || c"), are(Join::Or, &["(a || b)", "c"]));
        assert_eq!(parts("a && (b && c)"), are(Join::And, &["a", "(b && c)"]));
    }

    #[test]
    fn respects_strings_calls_brackets_and_comments() {
        assert_eq!(parts(r#"name == "a && b""#), None);
        assert_eq!(parts("contains(tags, a && b)"), None);
        assert_eq!(
            parts(r#"tier in ["a||b", "c"] && tags.filter(|y| y == "v" || a).len() > 0"#),
            are(
                Join::And,
                &[
                    r#"tier in ["a||b", "c"]"#,
                    r#"tags.filter(|y| y == "v" || a).len() > 0"#
                ]
            )
        );
        assert_eq!(
            parts("(a /* && */\n  && b)"),
            are(Join::And, &["a /* && */", "b"])
        );
        assert_eq!(parts("a && b // || c"), are(Join::And, &["a", "b // || c"]));
        assert_eq!(parts("!(a && b)"), None);
        assert_eq!(
            parts(r#""it's" == name && b"#),
            are(Join::And, &[r#""it's" == name"#, "b"])
        );
    }

    #[test]
    fn reads_templates_optional_indexes_and_spaced_parentheses() {
        assert_eq!(
            parts("name == `${a} && x` && b"),
            are(Join::And, &["name == `${a} && x`", "b"])
        );
        assert_eq!(
            parts("name == `Hi ${a}!` || b"),
            are(Join::Or, &["name == `Hi ${a}!`", "b"])
        );
        assert_eq!(
            parts(r#"tags?[0] == "x" && b"#),
            are(Join::And, &[r#"tags?[0] == "x""#, "b"])
        );
        assert_eq!(parts("( (a || b) )"), are(Join::Or, &["a", "b"]));
        assert_eq!(parts("a && b;"), None);
    }

    #[test]
    fn does_not_split_past_the_columns_rhai_counts() {
        // rhai counts columns up to 65,535: past that, positions repeat.
        let list = |n: usize| vec!["\"xxxxxxxx\""; n].join(", ");
        let long = format!("name in [{}] && b && c", list(8_000));
        assert!(long.len() > 90_000);
        assert!(parts(&long).is_none());
        let texts = |source: &str| parts(source).map(|(_, texts)| texts.len());
        assert_eq!(
            texts(&format!("name in [{}] && b && c", list(4_000))),
            Some(3)
        );
        // Multi-byte characters count as one column each.
        assert_eq!(
            parts(r#"name == "Zoë ü" && b"#),
            are(Join::And, &[r#"name == "Zoë ü""#, "b"])
        );
    }

    #[test]
    fn does_not_split_what_is_not_one_and_or_or() {
        assert_eq!(parts("let x = a; x && b"), None);
        assert_eq!(parts("if a { b } else { c }"), None);
        assert_eq!(parts("a"), None);
        assert_eq!(parts("spent > 10 == b"), None);
        // Comparisons are not assignments.
        assert_eq!(
            parts("a == 1 && b != 2 && c <= 3 && d >= 4"),
            are(Join::And, &["a == 1", "b != 2", "c <= 3", "d >= 4"])
        );
    }

    #[test]
    fn folds_lines() {
        assert_eq!(fold("(a\n    && b)\n"), "(a && b)");
    }
}
