//! The DSL front door: `grammar/idic.pest` parsed with pest, then lowered into the model with
//! spans and comments. Syntax errors name the expected thing in words.

use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::model::*;
use crate::source::{FileId, Span};
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::Once;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/idic.pest"]
struct IdicParser;

/// pest does not memoise; this bounds the work any input can cause.
const CALL_LIMIT: usize = 20_000_000;

/// Parses one DSL rule file.
pub fn parse(file: FileId, text: &str) -> (RuleSet, Vec<Diagnostic>) {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        pest::set_call_limit(NonZeroUsize::new(CALL_LIMIT));
        pest::set_error_detail(true);
    });
    match IdicParser::parse(Rule::file, text) {
        Ok(pairs) => {
            let mut lower = Lower::new(file, text, &pairs);
            let rules = lower.file(pairs);
            (rules, lower.diagnostics)
        }
        Err(e) => (RuleSet::default(), vec![syntax_error(file, text, &e)]),
    }
}

/// Turns a pest error into "expected X or Y, found Z" at the right place.
fn syntax_error(file: FileId, text: &str, e: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !expected.contains(&s) {
            expected.push(s);
        }
    };
    // At a line of an `orders` block the words themselves are listed (from the parse
    // attempts), and the customer fields' options that do not apply to an orders column are
    // left out.
    let orders_line = |r: &Rule| {
        matches!(
            r,
            Rule::order_column | Rule::order_role | Rule::order_total | Rule::total_kind
        )
    };
    let in_orders = matches!(&e.variant, ErrorVariant::ParsingError { positives, .. }
        if positives.iter().any(orders_line));
    let not_for_orders = ["key", "default", "missing", "words", "separator"];
    match &e.variant {
        // A block keyword inside a block: the block before it was not closed.
        ErrorVariant::ParsingError { negatives, .. } if negatives.contains(&Rule::block_start) => {
            let (found, len) = found_at(text, pos);
            return Diagnostic::error(Code::Syntax, format!("expected `}}`, found {found}"))
                .at(Span::new(file, pos, pos + len))
                .help(format!(
                    "the block above is not closed: add `}}` before {found} starts a new one"
                ));
        }
        ErrorVariant::ParsingError { positives, .. } => {
            // Where a score's range is due, a name would only start another table rule.
            let range_due = positives.contains(&Rule::score_range);
            for r in positives {
                let skip = orders_line(r)
                    || matches!(
                        r,
                        Rule::key
                            | Rule::default
                            | Rule::missing_words
                            | Rule::words
                            | Rule::separator
                    );
                if (in_orders && skip) || (range_due && *r == Rule::ident) {
                    continue;
                }
                if let Some(name) = rule_name(*r) {
                    add(name.to_string());
                }
            }
        }
        ErrorVariant::CustomError { message } => {
            let at = Span::new(file, pos, pos);
            return Diagnostic::error(Code::Syntax, message.clone()).at(at);
        }
    }
    if let Some(attempts) = e.parse_attempts() {
        // Literal tokens display as themselves (the type is not exported by pest). Keywords
        // and block punctuation help; the characters inside an expression or name do not.
        let in_expr = matches!(&e.variant, ErrorVariant::ParsingError { positives, .. }
            if positives.contains(&Rule::expr));
        let tokens: Vec<String> = attempts
            .expected_tokens()
            .iter()
            .map(|t| t.to_string())
            .collect();
        // `(` among them means an expression could have gone on: its `{` is no block opener.
        let in_expr = in_expr || tokens.iter().any(|t| t == "(");
        for token in tokens {
            let keyword =
                token.len() > 1 && token.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            let punctuation = ["{", "}", "=", "/"].contains(&token.as_str());
            if in_orders && not_for_orders.contains(&token.as_str()) {
                continue;
            }
            if keyword || (punctuation && !in_expr) {
                add(format!("`{token}`"));
            }
        }
    }
    let (found, len) = found_at(text, pos);
    let unclosed = text[pos.min(text.len())..]
        .chars()
        .next()
        .and_then(|c| match c {
            '(' => Some("`(` is never closed with `)`"),
            '[' => Some("`[` is never closed with `]`"),
            '{' => Some("`{` is never closed with `}`"),
            '"' | '\'' | '`' => Some("this string is never closed"),
            _ => None,
        });
    // A `{` also opens blocks, so it only counts where an expression was expected.
    let in_expression = expected.iter().any(|e| e == "an expression");
    let brace = text[pos.min(text.len())..].starts_with('{');
    let suspect = unclosed.filter(|_| (in_expression || !brace) && never_closed(&text[pos..]));
    if let Some(message) = suspect {
        return Diagnostic::error(Code::Syntax, message)
            .at(Span::new(file, pos, pos + 1))
            .help("an expression spans lines only inside brackets; strings end on their line");
    }
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!(
            "expected {}, found {found}",
            crate::text::listing(&expected, "or")
        )
    };
    let diag = Diagnostic::error(Code::Syntax, message).at(Span::new(file, pos, pos + len));
    if text[..pos].trim_end().ends_with('=') && found.starts_with("end of") {
        return diag.help("write the expression on the same line as `=`");
    }
    if found == "`}`" && expected.iter().any(|e| e == "`trigger`") {
        return diag.help("this `}` closes no block: remove it");
    }
    if expected.iter().any(|e| e == "a score range such as `4..5`") {
        return diag.help("write a range of scores as `4..5`, or one score as `5`");
    }
    if expected.iter().any(|e| e == "a percentage such as `1%`") {
        return diag.help("write the rate with its percent sign, e.g. `1.5%`");
    }
    // A misspelled keyword (`priorty`): name the one meant.
    let word = found.trim_matches('`');
    let keywords = expected
        .iter()
        .filter_map(|e| e.strip_prefix('`')?.strip_suffix('`'))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    match suggest(word, keywords) {
        Some(help) if word.chars().all(|c| c.is_alphanumeric() || c == '_') => diag.help(help),
        _ => diag,
    }
}

/// Whether the bracket or quote that `rest` starts with has no partner (the way the grammar
/// reads expressions: strings end on their line, brackets nest).
fn never_closed(rest: &str) -> bool {
    let mut chars = rest.chars();
    let Some(open) = chars.next() else {
        return false;
    };
    if matches!(open, '"' | '\'' | '`') {
        let mut escaped = false;
        for c in chars {
            match c {
                '\n' if open != '`' => return true,
                '\\' if !escaped => escaped = true,
                c if c == open && !escaped => return false,
                _ => escaped = false,
            }
        }
        return true;
    }
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in rest.chars() {
        match (quote, c) {
            (Some(q), c) if c == q || c == '\n' => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Words for what the parser expected, instead of rule names.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::ruleset => "`ruleset`",
        Rule::customer => "`customer`",
        Rule::metric => "`metric`",
        Rule::segment => "`segment`",
        Rule::tiers => "`tiers`",
        Rule::lifecycle => "`lifecycle`",
        Rule::stage => "a stage",
        Rule::trigger => "`trigger`",
        Rule::orders => "`orders`",
        Rule::contacts => "`contacts`",
        Rule::contact_column => "a contacts column",
        Rule::contact_role => "`customer`, `date`, `channel`, `trigger` or `action`",
        Rule::contact_channel => "`channel`",
        Rule::order_column => "an orders column",
        Rule::order_role => "`customer`, `date`, `amount` or `quantity`",
        Rule::order_total => "an order total",
        Rule::total_kind => "`count`, `first`, `last` or `spent`",
        Rule::period => "`period`",
        Rule::lookback => "`lookback`",
        Rule::unmatched => "`unmatched_orders`",
        Rule::without_orders => "`customers_without_orders`",
        Rule::score => "`score`",
        Rule::bins => "`bins`",
        Rule::reverse => "`reverse`",
        Rule::ties => "`ties`",
        Rule::hash_ties => "`hash`",
        Rule::together => "`together`",
        Rule::edges => "`edges`",
        Rule::table => "`table`",
        Rule::preset => "`preset`",
        Rule::cell_rules => "`{`",
        Rule::cell_rule => "a table rule",
        Rule::cell_range => "a score range",
        Rule::score_range => "a score range such as `4..5`",
        Rule::model => "`model`",
        Rule::horizon => "`horizon`",
        Rule::discount => "`discount`",
        Rule::percent => "a percentage such as `1%`",
        Rule::bgnbd => "`bgnbd`",
        Rule::gamma_gamma => "`gamma_gamma`",
        Rule::model_param => "a model parameter",
        Rule::as_of => "`as_of`",
        Rule::today => "`today`",
        Rule::max_triggers => "`max_triggers`",
        Rule::max_per_channel => "`max_per_channel`",
        Rule::holdout => "`holdout`",
        Rule::cap => "`cap`",
        Rule::exclude => "`exclude`",
        Rule::allow => "`allow`",
        Rule::warning_code => "a warning's name, such as `unused-segment`",
        Rule::volume => "`volume`",
        Rule::field => "a field",
        Rule::field_type | Rule::type_word => "a field type",
        Rule::optional => "`?`",
        Rule::key => "`key`",
        Rule::default => "`default`",
        Rule::format => "`format`",
        Rule::missing_words => "`missing`",
        Rule::words => "`words`",
        Rule::bare_word => "a word",
        Rule::currency => "`currency`",
        Rule::thousands => "`thousands`",
        Rule::decimal => "`decimal`",
        Rule::separator => "`separator`",
        Rule::tier => "a tier",
        Rule::otherwise => "`otherwise`",
        Rule::activity => "`activity`",
        Rule::when => "`when`",
        Rule::channel => "`channel`",
        Rule::channel_consent => "`consent`",
        Rule::channel_address => "`address`",
        Rule::priority => "`priority`",
        Rule::cooldown => "`cooldown`",
        Rule::service => "`service`",
        Rule::reentry => "`reentry`",
        Rule::reentry_rule => "`never`, `any` or `after` and a duration",
        Rule::kind_word => "a name",
        Rule::duration => "a duration such as `30d`",
        Rule::action => "`action`",
        Rule::template => "`template`",
        Rule::offer => "`offer`",
        Rule::params => "`{`",
        Rule::param => "a parameter",
        Rule::text => "a quoted text",
        Rule::expr => "an expression",
        Rule::ident => "a name",
        Rule::integer => "a whole number",
        Rule::number => "a number",
        Rule::boolean => "`true` or `false`",
        Rule::string | Rule::string_body => "a quoted string",
        Rule::text_string | Rule::text_body => "a quoted text",
        Rule::test => "`test`",
        Rule::test_as_of => "`as_of`",
        Rule::test_from => "`from`",
        Rule::row_id => "`id`",
        Rule::row_number => "`row`",
        Rule::test_customer => "`customer`",
        Rule::value_line => "a field value",
        Rule::list => "a list",
        Rule::missing => "`missing`",
        Rule::expect => "`expect`",
        Rule::test_history => "`history`",
        Rule::past_contact => "an earlier contact such as `winback 20d ago`",
        Rule::arm_word => "`treated` or `control`",
        Rule::expect_suppressed => "`suppressed`",
        Rule::reason_code => "a reason such as `cooldown`",
        Rule::expect_segments | Rule::kw_segments => "`segments`",
        Rule::expect_not_segments | Rule::expect_not_fires | Rule::kw_not => "`not`",
        Rule::expect_tier => "`tier`",
        Rule::expect_stage => "`stage`",
        Rule::expect_fires | Rule::kw_fires => "`fires`",
        Rule::expect_param => "`param`",
        Rule::names => "a name",
        Rule::param_path => "`action.parameter`",
        _ => return None,
    })
}

/// What stands at `pos`, in words, and its byte length.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = &text[pos.min(text.len())..];
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c == '\n' || c == '\r' {
        return ("end of line".into(), 1);
    }
    if c == '"' {
        let len = rest[1..].find(['"', '\n']).map_or(rest.len(), |i| i + 2);
        let shown: String = rest[..len.min(rest.len())].chars().take(40).collect();
        return (format!("`{shown}`"), len.min(rest.len()));
    }
    if c.is_alphanumeric() || c == '_' {
        // A number takes its points along: `1.5`, `4..`.
        let point = c.is_ascii_digit();
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || (point && *c == '.'))
            .take(40)
            .collect();
        return (format!("`{word}`"), word.len());
    }
    (format!("`{c}`"), c.len_utf8())
}

struct Comment {
    start: usize,
    end: usize,
}

/// Lowers pest pairs into the model; collects comments and builder diagnostics.
struct Lower<'a> {
    file: FileId,
    text: &'a str,
    comments: std::collections::VecDeque<Comment>,
    /// Every comment's range, by position: to trim them off node ends.
    all_comments: Vec<(usize, usize)>,
    /// End of the last token lowered, to tell trailing comments and blank lines.
    last_end: usize,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Lower<'a> {
    fn new(file: FileId, text: &'a str, pairs: &Pairs<'a, Rule>) -> Self {
        let comments = pairs
            .clone()
            .flatten()
            .filter(|p| p.as_rule() == Rule::COMMENT)
            .map(|p| Comment {
                start: p.as_span().start(),
                end: p.as_span().end(),
            })
            .collect::<std::collections::VecDeque<_>>();
        let all_comments = comments.iter().map(|c| (c.start, c.end)).collect();
        Lower {
            file,
            text,
            comments,
            all_comments,
            last_end: 0,
            diagnostics: Vec::new(),
        }
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        Span::new(self.file, pair.as_span().start(), self.end(pair))
    }

    /// Where a pair's own text ends: pest counts the whitespace and comments skipped before a
    /// missing trailing optional (`";"?`) into the pair, so they are trimmed off here.
    fn end(&self, pair: &Pair<'_, Rule>) -> usize {
        let start = pair.as_span().start();
        let mut end = pair.as_span().end();
        loop {
            end = start + self.text[start..end].trim_end().len();
            let i = self.all_comments.partition_point(|&(_, e)| e < end);
            match self.all_comments.get(i) {
                Some(&(s, e)) if e == end && s >= start => end = s,
                _ => return end,
            }
        }
    }

    fn error(&mut self, code: Code, message: String, span: Span) {
        self.diagnostics
            .push(Diagnostic::error(code, message).at(span));
    }

    /// Comments between the last lowered token and `start`, for the node starting there.
    fn leading(&mut self, start: usize) -> Comments {
        let mut out = Comments::default();
        let mut from = self.last_end;
        while let Some(c) = self.comments.front() {
            if c.start >= start {
                break;
            }
            let c = self.comments.pop_front().expect("peeked");
            let blank = has_blank_line(&self.text[from.min(c.start)..c.start]);
            if out.leading.is_empty() {
                out.blank_before = blank;
            } else if blank {
                // A blank line between comments is kept as an empty entry.
                out.leading.push(String::new());
            }
            out.leading
                .push(self.text[c.start..c.end].trim_end().to_string());
            from = c.end;
        }
        let blank = has_blank_line(&self.text[from.min(start)..start]);
        if out.leading.is_empty() {
            out.blank_before = blank;
        } else if blank {
            out.leading.push(String::new());
        }
        out
    }

    /// A comment on the same line right after `end`, and marks `end` as lowered.
    fn trailing(&mut self, end: usize) -> Option<String> {
        self.last_end = end;
        let c = self.comments.front()?;
        if c.start < end || self.text[end..c.start].contains('\n') {
            return None;
        }
        let c = self.comments.pop_front().expect("peeked");
        self.last_end = c.end;
        Some(self.text[c.start..c.end].trim_end().to_string())
    }

    /// Leading and trailing comments of a node spanning `pair`, its children lowered by `f`.
    fn node<T>(&mut self, pair: &Pair<'a, Rule>, f: impl FnOnce(&mut Self) -> T) -> (T, Comments) {
        let mut comments = self.leading(pair.as_span().start());
        self.last_end = pair.as_span().start();
        let value = f(self);
        comments.trailing = self.trailing(self.end(pair));
        (value, comments)
    }

    /// Comments before the closing brace of a block ending at `end`, under key `"}"`.
    fn close_block(&mut self, inner: &mut InnerComments, end: usize) {
        let close = end.saturating_sub(1);
        let comments = self.leading(close);
        if !comments.is_empty() {
            inner.0.insert("}", comments);
        }
        self.last_end = close;
    }

    fn file(&mut self, pairs: Pairs<'a, Rule>) -> RuleSet {
        let mut rules = RuleSet::default();
        let file = pairs.into_iter().next().expect("file rule");
        for block in children(file) {
            match block.as_rule() {
                Rule::ruleset => {
                    let settings = self.ruleset(block);
                    if let Some(first) = &rules.settings {
                        self.duplicate("`ruleset` block", first.span, settings.span);
                    } else {
                        rules.settings = Some(settings);
                    }
                }
                Rule::customer => {
                    let schema = self.customer(block);
                    if let Some(first) = &rules.schema {
                        self.duplicate("`customer` block", first.span, schema.span);
                    } else {
                        rules.schema = Some(schema);
                    }
                }
                Rule::metric => {
                    let (name, expr, span, comments) = self.named_expr(block);
                    rules.metrics.push(Metric {
                        name,
                        expr,
                        span,
                        comments,
                    });
                }
                Rule::segment => {
                    let (name, condition, span, comments) = self.named_expr(block);
                    rules.segments.push(Segment {
                        name,
                        condition,
                        span,
                        comments,
                    });
                }
                Rule::tiers | Rule::lifecycle => {
                    let (list, what) = match block.as_rule() {
                        Rule::tiers => (&mut rules.tiers, "`tiers` block"),
                        _ => (&mut rules.lifecycle, "`lifecycle` block"),
                    };
                    let tiers = self.tiers(block);
                    if let Some(first) = list {
                        let first = first.span;
                        self.duplicate(what, first, tiers.span);
                    } else {
                        *list = Some(tiers);
                    }
                }
                Rule::orders => {
                    let orders = self.orders(block);
                    if let Some(first) = &rules.orders {
                        self.duplicate("`orders` block", first.span, orders.span);
                    } else {
                        rules.orders = Some(orders);
                    }
                }
                Rule::contacts => {
                    let log = self.contacts(block);
                    if let Some(first) = &rules.contacts {
                        self.duplicate("`contacts` block", first.span, log.span);
                    } else {
                        rules.contacts = Some(log);
                    }
                }
                Rule::model => {
                    let model = self.model(block);
                    if let Some(first) = &rules.model {
                        self.duplicate("`model` block", first.span, model.span);
                    } else {
                        rules.model = Some(model);
                    }
                }
                Rule::score => {
                    let score = self.score(block);
                    rules.scores.push(score);
                }
                Rule::table => {
                    let table = self.table(block);
                    rules.tables.push(table);
                }
                Rule::trigger => {
                    let trigger = self.trigger(block);
                    rules.triggers.push(trigger);
                }
                Rule::test => {
                    let test = self.test(block);
                    rules.tests.push(test);
                }
                Rule::EOI => {
                    let end = self.text.len();
                    rules.end_comments = self.leading(end);
                }
                _ => unreachable!("grammar: block"),
            }
        }
        self.unique_names(&rules);
        rules
    }

    /// Names declared twice in one file where TOML keys them (so `convert` could not write
    /// them): fields, metrics, segments, triggers, the parameters of an action and the scores
    /// of a table rule. The other
    /// clashes (a metric named like a field, names from two files) are for `check`.
    fn unique_names(&mut self, rules: &RuleSet) {
        let fields = rules.schema.iter().flat_map(|s| &s.fields).map(|f| &f.name);
        self.unique("field", fields);
        self.unique("metric", rules.metrics.iter().map(|m| &m.name));
        self.unique("segment", rules.segments.iter().map(|s| &s.name));
        self.unique("trigger", rules.triggers.iter().map(|t| &t.name));
        for a in rules.triggers.iter().flat_map(|t| &t.actions) {
            self.unique("parameter", a.params.iter().map(|p| &p.name));
        }
        for t in &rules.tables {
            let TableBody::Rules(cell_rules) = &t.body else {
                continue;
            };
            for rule in cell_rules {
                for (i, r) in rule.ranges.iter().enumerate() {
                    if rule.ranges[..i]
                        .iter()
                        .any(|q| q.score.value == r.score.value)
                    {
                        let msg = format!(
                            "rule `{}` gives a range of `{}` twice",
                            rule.name.value, r.score.value
                        );
                        self.diagnostics.push(
                            Diagnostic::error(Code::DuplicateProperty, msg)
                                .at(r.score.span.to(r.range.span))
                                .help("give each score one range: `4..5`, or `5` for one score"),
                        );
                    }
                }
            }
        }
    }

    fn unique<'r>(&mut self, kind: &str, names: impl Iterator<Item = &'r Ident>) {
        let mut seen: std::collections::HashMap<&str, Span> = Default::default();
        for name in names {
            let Some(first) = seen.get(name.value.as_str()) else {
                seen.insert(&name.value, name.span);
                continue;
            };
            let line = self.text[..first.start].matches('\n').count() + 1;
            self.diagnostics.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("{kind} `{}` is already defined", name.value),
                )
                .at(name.span)
                .help(format!(
                    "the first {kind} `{}` is on line {line}; rename one of them",
                    name.value
                )),
            );
        }
    }

    fn duplicate(&mut self, what: &str, first: Span, again: Span) {
        let line = crate::source::SourceFile::new("", self.text.to_string())
            .line_col(first.start)
            .line;
        self.diagnostics.push(
            Diagnostic::error(Code::DuplicateBlock, format!("a second {what} in one file"))
                .at(again)
                .help(format!("merge it into the first, on line {line}")),
        );
    }

    fn string(&mut self, pair: Pair<'a, Rule>) -> Spanned<String> {
        let span = self.span(&pair);
        let body = children(pair).next().expect("string body");
        Spanned::new(unescape(body.as_str()), span)
    }

    fn ident(&self, pair: Pair<'a, Rule>) -> Ident {
        Spanned::new(pair.as_str().to_string(), self.span(&pair))
    }

    fn expr(&mut self, pair: Pair<'a, Rule>) -> Expr {
        let raw = pair.as_str();
        let trimmed = raw.trim_end();
        let start = pair.as_span().start();
        self.same_line(start);
        Expr {
            source: trimmed.to_string(),
            span: Span::new(self.file, start, start + trimmed.len()),
            verbatim: true,
        }
    }

    /// An expression starts on the line of its `=` or `when`: one that does not is missing (the
    /// grammar's whitespace would otherwise take the next line, even the next block, for it).
    fn same_line(&mut self, start: usize) {
        let mut end = start;
        loop {
            end = self.text[..end].trim_end().len();
            let i = self.all_comments.partition_point(|&(_, e)| e < end);
            match self.all_comments.get(i) {
                Some(&(s, e)) if e == end => end = s,
                _ => break,
            }
        }
        if !self.text[end..start].contains('\n') {
            return;
        }
        let before = &self.text[..end];
        // The keyword the expression follows: `=`, `when`, `by`...
        let word = if before.ends_with('=') {
            "="
        } else {
            before.split_whitespace().next_back().unwrap_or("when")
        };
        self.diagnostics.push(
            Diagnostic::error(Code::Syntax, "expected an expression, found end of line")
                .at(Span::new(self.file, end, end))
                .help(format!("write the expression on the same line as `{word}`")),
        );
    }

    fn parsed<T: FromStr>(&mut self, pair: Pair<'a, Rule>) -> Option<Spanned<T>>
    where
        T::Err: ToString,
    {
        let span = self.span(&pair);
        match pair.as_str().parse::<T>() {
            Ok(v) => Some(Spanned::new(v, span)),
            Err(e) => {
                let (message, help) = split_hint(&e.to_string());
                let mut d = Diagnostic::error(Code::BadValue, message).at(span);
                if let Some(help) = help {
                    d = d.help(help);
                }
                self.diagnostics.push(d);
                None
            }
        }
    }

    fn integer<T: TryFrom<i64>>(&mut self, pair: Pair<'a, Rule>, what: &str) -> Option<Spanned<T>> {
        let span = self.span(&pair);
        match pair
            .as_str()
            .parse::<i64>()
            .ok()
            .and_then(|v| T::try_from(v).ok())
        {
            Some(v) => Some(Spanned::new(v, span)),
            None => {
                let msg = format!("`{}` is out of range for {what}", pair.as_str());
                self.error(Code::BadValue, msg, span);
                None
            }
        }
    }

    /// Reports a property written twice in one block.
    /// The strings of a list option (`format "a", "b"`).
    fn strings(&mut self, pair: Pair<'a, Rule>) -> Vec<Spanned<String>> {
        children(pair).map(|s| self.string(s)).collect()
    }

    /// Sets list option `pair` (`keyword`) into `slot`, unless it was given before.
    fn list_once(
        &mut self,
        slot: &mut Vec<Spanned<String>>,
        pair: Pair<'a, Rule>,
        keyword: &str,
        span: Span,
    ) {
        let values = self.strings(pair);
        let mut taken = (!slot.is_empty()).then(|| std::mem::take(slot));
        self.once(&mut taken, Some(values), keyword, span);
        *slot = taken.unwrap_or_default();
    }

    fn once<T>(&mut self, slot: &mut Option<T>, value: Option<T>, keyword: &str, span: Span) {
        if slot.is_some() {
            let msg = format!("`{keyword}` is given twice");
            self.diagnostics.push(
                Diagnostic::error(Code::DuplicateProperty, msg)
                    .at(span)
                    .help("keep one of them"),
            );
        } else {
            *slot = value;
        }
    }

    fn ruleset(&mut self, pair: Pair<'a, Rule>) -> Settings {
        /// A `ruleset` line that may repeat.
        enum Repeated {
            Cap(Cap),
            Exclusion(Exclusion),
            Allow(Allow),
        }
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut settings, comments) = self.node(&pair.clone(), |l| {
            let mut parts = children(pair);
            let mut s = Settings {
                name: l.string(parts.next().expect("name")),
                as_of: None,
                max_triggers: None,
                holdout: None,
                max_per_channel: None,
                caps: Vec::new(),
                missing: Vec::new(),
                exclusions: Vec::new(),
                allows: Vec::new(),
                span,
                comments: Comments::default(),
                inner: InnerComments::default(),
            };
            for prop in parts {
                let prop_span = l.span(&prop);
                let rule = prop.as_rule();
                if rule == Rule::missing_words {
                    let (_, c) = l.node(&prop.clone(), |l| {
                        l.list_once(&mut s.missing, prop, "missing", prop_span);
                    });
                    s.inner.0.insert(keyword(rule), c);
                    continue;
                }
                // A cap, an exclusion or an allow may repeat: each comes back with its own
                // comments.
                let (repeated, c) = l.node(&prop.clone(), |l| {
                    let mut values = children(prop);
                    let value = values.next().expect("value");
                    match rule {
                        Rule::as_of => {
                            let v = l.as_of(value);
                            l.once(&mut s.as_of, v, "as_of", prop_span);
                        }
                        Rule::holdout => {
                            let salt = values.next().expect("salt");
                            let v = l.holdout(value, salt, prop_span);
                            l.once(&mut s.holdout, v, "holdout", prop_span);
                        }
                        Rule::cap => {
                            let scope = l.parsed::<CapScope>(value);
                            let max = l.integer(values.next().expect("max"), "a cap");
                            let window = l.parsed::<Duration>(values.next().expect("window"));
                            if let (Some(scope), Some(max), Some(window)) = (scope, max, window) {
                                return Some(Repeated::Cap(Cap {
                                    scope,
                                    max,
                                    window,
                                    span: prop_span,
                                    comments: Comments::default(),
                                }));
                            }
                        }
                        Rule::exclude => {
                            let first = l.ident(value);
                            let second = l.ident(values.next().expect("second"));
                            return Some(Repeated::Exclusion(Exclusion {
                                first,
                                second,
                                span: prop_span,
                                comments: Comments::default(),
                            }));
                        }
                        Rule::allow => {
                            let warning = Spanned::new(value.as_str().to_string(), l.span(&value));
                            let on = l.ident(values.next().expect("declaration"));
                            return Some(Repeated::Allow(Allow {
                                warning,
                                on,
                                span: prop_span,
                                comments: Comments::default(),
                            }));
                        }
                        Rule::max_per_channel => {
                            let v = l.integer(value, "`max_per_channel`");
                            l.once(&mut s.max_per_channel, v, "max_per_channel", prop_span);
                        }
                        _ => {
                            let v = l.integer(value, "`max_triggers`");
                            l.once(&mut s.max_triggers, v, "max_triggers", prop_span);
                        }
                    }
                    None
                });
                match repeated {
                    Some(Repeated::Cap(cap)) => s.caps.push(Cap { comments: c, ..cap }),
                    Some(Repeated::Exclusion(e)) => {
                        s.exclusions.push(Exclusion { comments: c, ..e });
                    }
                    Some(Repeated::Allow(a)) => s.allows.push(Allow { comments: c, ..a }),
                    // A cap that did not parse takes its comments along.
                    None if rule == Rule::cap => {}
                    None => {
                        s.inner.0.insert(keyword(rule), c);
                    }
                }
            }
            l.close_block(&mut s.inner, end);
            s
        });
        settings.comments = comments;
        settings
    }

    fn as_of(&mut self, pair: Pair<'a, Rule>) -> Option<Spanned<AsOf>> {
        let span = self.span(&pair);
        if pair.as_rule() == Rule::today {
            return Some(Spanned::new(AsOf::Today, span));
        }
        let text = self.string(pair);
        match parse_date(&text.value) {
            Some(d) => Some(Spanned::new(AsOf::Date(d), span)),
            None => {
                let msg = format!(
                    "`{}` is not a date: expected `YYYY-MM-DD` or `today`",
                    text.value
                );
                self.diagnostics.push(
                    Diagnostic::error(Code::BadValue, msg)
                        .at(span)
                        .help("write the date as year-month-day, e.g. `2026-11-01`"),
                );
                None
            }
        }
    }

    fn customer(&mut self, pair: Pair<'a, Rule>) -> Schema {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let ((fields, inner), comments) = self.node(&pair.clone(), |l| {
            let mut fields = Vec::new();
            for field in children(pair) {
                let (f, c) = l.node(&field.clone(), |l| l.field(field));
                if let Some(mut f) = f {
                    f.comments = c;
                    fields.push(f);
                }
            }
            let mut inner = InnerComments::default();
            l.close_block(&mut inner, end);
            (fields, inner)
        });
        Schema {
            fields,
            span,
            comments,
            inner,
        }
    }

    fn field(&mut self, pair: Pair<'a, Rule>) -> Option<Field> {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let name = self.ident(parts.next().expect("name"));
        let ty_pair = parts.next().expect("type");
        let mut ty_parts = children(ty_pair);
        let ty = self.parsed::<FieldType>(ty_parts.next().expect("type word"));
        let optional = ty_parts.next().is_some();
        let column = self.string(parts.next().expect("column"));
        let mut field = Field {
            name,
            ty: ty.clone().unwrap_or(Spanned::new(FieldType::String, span)),
            column,
            optional,
            key: false,
            default: None,
            format: FieldFormat::default(),
            span,
            comments: Comments::default(),
        };
        for opt in parts {
            let opt_span = self.span(&opt);
            let rule = opt.as_rule();
            let word = keyword(rule);
            if rule == Rule::key {
                let mut slot = field.key.then_some(());
                self.once(&mut slot, Some(()), word, opt_span);
                field.key = true;
                continue;
            }
            if matches!(rule, Rule::format | Rule::missing_words) {
                let list = match rule {
                    Rule::format => &mut field.format.dates,
                    _ => &mut field.format.missing,
                };
                let mut taken = std::mem::take(list);
                self.list_once(&mut taken, opt, word, opt_span);
                *list = taken;
                continue;
            }
            let mut values = children(opt);
            let value = values.next().expect("option value");
            match rule {
                Rule::default => {
                    let lit = self.literal(value);
                    self.once(&mut field.default, lit, word, opt_span);
                }
                Rule::words => {
                    let yes = self.word(value);
                    let no = self.word(values.next().expect("second word"));
                    let v = Spanned::new((yes, no), opt_span);
                    self.once(&mut field.format.words, Some(v), word, opt_span);
                }
                _ => {
                    let s = Some(self.string(value));
                    let slot = match rule {
                        Rule::currency => &mut field.format.currency,
                        Rule::thousands => &mut field.format.thousands,
                        Rule::decimal => &mut field.format.decimal,
                        _ => &mut field.format.separator,
                    };
                    let mut taken = slot.take();
                    self.once(&mut taken, s, word, opt_span);
                    *slot = taken;
                }
            }
        }
        ty.map(|_| field)
    }

    fn word(&mut self, pair: Pair<'a, Rule>) -> String {
        match pair.as_rule() {
            Rule::string => self.string(pair).value,
            _ => pair.as_str().to_string(),
        }
    }

    fn literal(&mut self, pair: Pair<'a, Rule>) -> Option<Spanned<Literal>> {
        let span = self.span(&pair);
        let lit = match pair.as_rule() {
            Rule::string => Literal::Str(self.string(pair).value),
            Rule::boolean => Literal::Bool(pair.as_str() == "true"),
            _ => {
                let text = pair.as_str();
                if let Ok(i) = text.parse::<i64>() {
                    Literal::Int(i)
                } else if let Some(d) = text.parse::<f64>().ok().filter(|d| d.is_finite()) {
                    Literal::Decimal(d)
                } else {
                    self.error(Code::BadValue, format!("`{text}` is out of range"), span);
                    return None;
                }
            }
        };
        Some(Spanned::new(lit, span))
    }

    fn named_expr(&mut self, pair: Pair<'a, Rule>) -> (Ident, Expr, Span, Comments) {
        let span = self.span(&pair);
        let ((name, expr), comments) = self.node(&pair.clone(), |l| {
            let mut parts = children(pair);
            let name = l.ident(parts.next().expect("name"));
            (name, l.expr(parts.next().expect("expr")))
        });
        (name, expr, span, comments)
    }

    /// A `tiers` or `lifecycle` block.
    fn tiers(&mut self, pair: Pair<'a, Rule>) -> Tiers {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let ((tiers, inner), comments) = self.node(&pair.clone(), |l| {
            let mut tiers = Vec::new();
            for tier in children(pair) {
                let tier_span = l.span(&tier);
                let ((name, activity, condition), comments) = l.node(&tier.clone(), |l| {
                    let mut parts = children(tier);
                    let name = l.ident(parts.next().expect("name"));
                    let mut cond = parts.next().expect("condition");
                    // A lifecycle stage names its activity before its condition.
                    let mut activity = None;
                    if cond.as_rule() == Rule::kind_word {
                        activity = l.parsed::<Activity>(cond);
                        cond = parts.next().expect("condition");
                    }
                    let condition = (cond.as_rule() == Rule::expr).then(|| l.expr(cond));
                    (name, activity, condition)
                });
                tiers.push(Tier {
                    name,
                    activity,
                    condition,
                    span: tier_span,
                    comments,
                });
            }
            let mut inner = InnerComments::default();
            l.close_block(&mut inner, end);
            (tiers, inner)
        });
        Tiers {
            tiers,
            span,
            comments,
            inner,
        }
    }

    fn orders(&mut self, pair: Pair<'a, Rule>) -> Orders {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut orders, comments) = self.node(&pair.clone(), |l| {
            let mut o = Orders::empty(span);
            for line in children(pair) {
                let rule = line.as_rule();
                let line_span = l.span(&line);
                match rule {
                    Rule::order_column => {
                        let (column, c) = l.node(&line.clone(), |l| l.order_column(line));
                        if let Some(column) = column {
                            if o.column(column.role.value).is_some() {
                                l.once(
                                    &mut Some(()),
                                    Some(()),
                                    column.role.value.word(),
                                    line_span,
                                );
                            } else {
                                o.columns.push(OrderColumn {
                                    comments: c,
                                    ..column
                                });
                            }
                        }
                    }
                    Rule::order_total => {
                        let (total, c) = l.node(&line.clone(), |l| {
                            let mut parts = children(line);
                            let kind = l.parsed::<TotalKind>(parts.next().expect("kind"));
                            let field = l.ident(parts.next().expect("field"));
                            kind.map(|kind| (kind, field))
                        });
                        if let Some((kind, field)) = total {
                            if o.total(kind.value).is_some() {
                                l.once(&mut Some(()), Some(()), kind.value.word(), line_span);
                            } else {
                                o.totals.push(OrderTotal {
                                    kind,
                                    field,
                                    span: line_span,
                                    comments: c,
                                });
                            }
                        }
                    }
                    _ => {
                        let word = keyword(rule);
                        let (_, c) = l.node(&line.clone(), |l| {
                            let value = children(line).next().expect("value");
                            match rule {
                                Rule::period => {
                                    let v = l.parsed::<Period>(value);
                                    l.once(&mut o.period, v, word, line_span);
                                }
                                Rule::lookback => {
                                    let v = l.parsed::<Duration>(value);
                                    l.once(&mut o.lookback, v, word, line_span);
                                }
                                Rule::unmatched => {
                                    let v = l.parsed::<UnmatchedOrders>(value);
                                    l.once(&mut o.unmatched, v, word, line_span);
                                }
                                _ => {
                                    let v = l.parsed::<WithoutOrders>(value);
                                    l.once(&mut o.without_orders, v, word, line_span);
                                }
                            }
                        });
                        if !c.is_empty() || c.blank_before {
                            o.inner.0.insert(word, c);
                        }
                    }
                }
            }
            l.close_block(&mut o.inner, end);
            o
        });
        orders.comments = comments;
        orders
    }

    /// `contacts { ... }`: the columns of a contact log, and its one channel.
    fn contacts(&mut self, pair: Pair<'a, Rule>) -> ContactLog {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut log, comments) = self.node(&pair.clone(), |l| {
            let mut log = ContactLog {
                columns: Vec::new(),
                channel: None,
                span,
                comments: Comments::default(),
                inner: InnerComments::default(),
            };
            for line in children(pair) {
                let line_span = l.span(&line);
                if line.as_rule() == Rule::contact_channel {
                    let (channel, c) = l.node(&line.clone(), |l| {
                        let word = children(line).next().expect("channel");
                        l.parsed::<ChannelKind>(word)
                    });
                    l.once(&mut log.channel, channel, "channel", line_span);
                    if !c.is_empty() || c.blank_before {
                        log.inner.0.insert("channel", c);
                    }
                    continue;
                }
                let (column, c) = l.node(&line.clone(), |l| {
                    let mut parts = children(line);
                    let role = l.parsed::<ContactRole>(parts.next().expect("role"));
                    let column = l.string(parts.next().expect("column"));
                    let formats = parts.next().map_or_else(Vec::new, |f| l.strings(f));
                    role.map(|role| ContactColumn {
                        role,
                        column,
                        formats,
                        span: line_span,
                        comments: Comments::default(),
                    })
                });
                if let Some(column) = column {
                    if log.column(column.role.value).is_some() {
                        l.once(&mut Some(()), Some(()), column.role.value.word(), line_span);
                    } else {
                        log.columns.push(ContactColumn {
                            comments: c,
                            ..column
                        });
                    }
                }
            }
            l.close_block(&mut log.inner, end);
            log
        });
        log.comments = comments;
        log
    }

    /// `date from "Order Date" format "%Y%m%d"`: a column of the orders file.
    fn order_column(&mut self, pair: Pair<'a, Rule>) -> Option<OrderColumn> {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let role = self.parsed::<OrderRole>(parts.next().expect("role"));
        let column = self.string(parts.next().expect("column"));
        let mut format = FieldFormat::default();
        for opt in parts {
            let opt_span = self.span(&opt);
            let rule = opt.as_rule();
            let word = keyword(rule);
            let slot = match rule {
                Rule::format => {
                    let mut dates = std::mem::take(&mut format.dates);
                    self.list_once(&mut dates, opt, word, opt_span);
                    format.dates = dates;
                    continue;
                }
                Rule::currency => &mut format.currency,
                Rule::thousands => &mut format.thousands,
                Rule::decimal => &mut format.decimal,
                _ => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::BadOption,
                            format!("`{word}` does not apply to a column of the orders file"),
                        )
                        .at(opt_span)
                        .help(
                            "an orders column takes `format`, `currency`, `thousands` and \
                             `decimal` (the \
                             rule set's `missing` words apply to the orders file too)",
                        ),
                    );
                    continue;
                }
            };
            let value = Some(self.string(children(opt).next().expect("value")));
            let mut taken = slot.take();
            self.once(&mut taken, value, word, opt_span);
            *slot = taken;
        }
        role.map(|role| OrderColumn {
            role,
            column,
            format,
            span,
            comments: Comments::default(),
        })
    }

    /// A word parsed by `parse` (a function rather than `FromStr`), or its error reported.
    fn word_value<T>(&mut self, parsed: Result<T, String>, span: Span) -> Option<Spanned<T>> {
        match parsed {
            Ok(v) => Some(Spanned::new(v, span)),
            Err(e) => {
                self.error(Code::BadValue, e, span);
                None
            }
        }
    }

    fn score(&mut self, pair: Pair<'a, Rule>) -> Score {
        let span = self.span(&pair);
        let (mut score, comments) = self.node(&pair.clone(), |l| {
            let mut parts = children(pair);
            let mut s = Score {
                name: l.ident(parts.next().expect("name")),
                source: l.ident(parts.next().expect("source")),
                bins: None,
                reverse: false,
                ties: None,
                edges: None,
                span,
                comments: Comments::default(),
            };
            for opt in parts {
                let opt_span = l.span(&opt);
                match opt.as_rule() {
                    Rule::bins => {
                        let v = l.integer(children(opt).next().expect("n"), "`bins`");
                        l.once(&mut s.bins, v, "bins", opt_span);
                    }
                    Rule::reverse => {
                        let mut slot = s.reverse.then_some(());
                        l.once(&mut slot, Some(()), "reverse", opt_span);
                        s.reverse = true;
                    }
                    Rule::ties => {
                        let how = children(opt).next().expect("how");
                        let v = match how.as_rule() {
                            Rule::hash_ties => {
                                let salt = l.string(children(how).next().expect("salt"));
                                Ties::Hash(salt.value)
                            }
                            _ => Ties::Together,
                        };
                        l.once(
                            &mut s.ties,
                            Some(Spanned::new(v, opt_span)),
                            "ties",
                            opt_span,
                        );
                    }
                    _ => {
                        let mut edges = Vec::new();
                        for n in children(opt) {
                            match n.as_str().parse::<f64>() {
                                Ok(v) if v.is_finite() => edges.push(v),
                                _ => {
                                    let msg = format!("`{}` is out of range", n.as_str());
                                    let span = l.span(&n);
                                    l.error(Code::BadValue, msg, span);
                                }
                            }
                        }
                        let v = Some(Spanned::new(edges, opt_span));
                        l.once(&mut s.edges, v, "edges", opt_span);
                    }
                }
            }
            s
        });
        score.comments = comments;
        score
    }

    fn table(&mut self, pair: Pair<'a, Rule>) -> CellTable {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut table, comments) = self.node(&pair.clone(), |l| {
            let mut inner = InnerComments::default();
            let mut parts = children(pair);
            let name = l.ident(parts.next().expect("name"));
            let mut over = Vec::new();
            let mut body = TableBody::Rules(Vec::new());
            for part in parts {
                match part.as_rule() {
                    Rule::ident => over.push(l.ident(part)),
                    Rule::preset => {
                        body = TableBody::Preset(l.ident(children(part).next().expect("name")));
                    }
                    _ => {
                        let mut rules = Vec::new();
                        for rule in children(part) {
                            let rule_span = l.span(&rule);
                            let ((name, ranges), comments) = l.node(&rule.clone(), |l| {
                                let mut parts = children(rule);
                                let name = l.ident(parts.next().expect("name"));
                                let ranges: Vec<CellRange> =
                                    parts.filter_map(|r| l.cell_range(r)).collect();
                                (name, ranges)
                            });
                            rules.push(CellRule {
                                name,
                                ranges,
                                span: rule_span,
                                comments,
                            });
                        }
                        l.close_block(&mut inner, end);
                        body = TableBody::Rules(rules);
                    }
                }
            }
            CellTable {
                name,
                over,
                body,
                span,
                comments: Comments::default(),
                inner,
            }
        });
        table.comments = comments;
        table
    }

    /// `f 4..5` (or `f 5`): a score and its range in a table rule.
    fn cell_range(&mut self, pair: Pair<'a, Rule>) -> Option<CellRange> {
        let mut parts = children(pair);
        let score = self.ident(parts.next().expect("score"));
        let range = parts.next().expect("range");
        let span = self.span(&range);
        let text = range.as_str();
        let (lo, hi) = text.split_once("..").unwrap_or((text, text));
        match (lo.parse::<u8>(), hi.parse::<u8>()) {
            (Ok(lo), Ok(hi)) => Some(CellRange {
                score,
                range: Spanned::new((lo, hi), span),
            }),
            _ => {
                let msg = format!("`{text}` is out of range: scores run from 1 to 10");
                self.error(Code::BadValue, msg, span);
                None
            }
        }
    }

    fn model(&mut self, pair: Pair<'a, Rule>) -> Model {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut model, comments) = self.node(&pair.clone(), |l| {
            let mut m = Model {
                horizon: None,
                discount: None,
                bgnbd: None,
                gamma_gamma: None,
                span,
                comments: Comments::default(),
                inner: InnerComments::default(),
            };
            for line in children(pair) {
                let rule = line.as_rule();
                let word = keyword(rule);
                let line_span = l.span(&line);
                let (_, c) = l.node(&line.clone(), |l| match rule {
                    Rule::horizon => {
                        let v = l.parsed::<Duration>(children(line).next().expect("duration"));
                        l.once(&mut m.horizon, v, word, line_span);
                    }
                    Rule::discount => {
                        let value = children(line).next().expect("percent");
                        let span = l.span(&value);
                        let v = value.as_str().trim_end_matches('%').parse::<f64>();
                        let v = l.word_value(v.map_err(|e| e.to_string()), span);
                        l.once(&mut m.discount, v, word, line_span);
                    }
                    Rule::bgnbd => {
                        let v = l.model_params(line, &BGNBD_PARAMS, line_span);
                        let v = v.map(|v| Spanned::new([v[0], v[1], v[2], v[3]], line_span));
                        l.once(&mut m.bgnbd, v, word, line_span);
                    }
                    _ => {
                        let v = l.model_params(line, &GAMMA_GAMMA_PARAMS, line_span);
                        let v = v.map(|v| Spanned::new([v[0], v[1], v[2]], line_span));
                        l.once(&mut m.gamma_gamma, v, word, line_span);
                    }
                });
                if !c.is_empty() || c.blank_before {
                    m.inner.0.insert(word, c);
                }
            }
            l.close_block(&mut m.inner, end);
            m
        });
        model.comments = comments;
        model
    }

    /// `r 0.243 alpha 4.414 ...`: every parameter of `names` once, in any order.
    fn model_params(
        &mut self,
        pair: Pair<'a, Rule>,
        names: &[&str],
        span: Span,
    ) -> Option<Vec<f64>> {
        let mut values: Vec<Option<f64>> = vec![None; names.len()];
        let mut ok = true;
        for param in children(pair) {
            let mut kv = children(param);
            let name = self.ident(kv.next().expect("name"));
            let number = kv.next().expect("number");
            let number_span = self.span(&number);
            let Some(i) = names.iter().position(|n| *n == name.value) else {
                let expected = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>();
                let msg = format!(
                    "`{}` is not a parameter here: expected {}",
                    name.value,
                    expected.join(", ")
                );
                self.error(Code::BadValue, msg, name.span);
                ok = false;
                continue;
            };
            match number.as_str().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => {
                    let mut slot = values[i];
                    self.once(&mut slot, Some(v), names[i], name.span);
                    values[i] = slot;
                }
                _ => {
                    let msg = format!("`{}` must be a positive number", name.value);
                    self.error(Code::BadValue, msg, number_span);
                    ok = false;
                }
            }
        }
        let missing: Vec<String> = names
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        if ok && !missing.is_empty() {
            let msg = format!("missing model parameters: {}", missing.join(", "));
            self.diagnostics.push(
                Diagnostic::error(Code::BadValue, msg)
                    .at(span)
                    .help(format!("pin every parameter: {}", names.join(", "))),
            );
        }
        values
            .into_iter()
            .collect::<Option<Vec<f64>>>()
            .filter(|_| ok)
    }

    /// `holdout 5% salt "..."`: its percentage and salt.
    fn holdout(
        &mut self,
        percent: Pair<'a, Rule>,
        salt: Pair<'a, Rule>,
        span: Span,
    ) -> Option<Holdout> {
        let at = self.span(&percent);
        let v = percent.as_str().trim_end_matches('%').parse::<f64>();
        let percent = self.word_value(v.map_err(|e| e.to_string()), at);
        let salt = self.string(salt);
        percent.map(|percent| Holdout {
            percent,
            salt,
            span,
        })
    }

    fn trigger(&mut self, pair: Pair<'a, Rule>) -> Trigger {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut trigger, comments) = self.node(&pair.clone(), |l| {
            let mut parts = children(pair);
            let mut t = Trigger {
                name: l.ident(parts.next().expect("name")),
                activity: None,
                condition: None,
                channel: None,
                priority: None,
                service: None,
                cooldown: None,
                reentry: None,
                holdout: None,
                volume: None,
                actions: Vec::new(),
                span,
                comments: Comments::default(),
                inner: InnerComments::default(),
            };
            for prop in parts {
                let rule = prop.as_rule();
                if rule == Rule::action {
                    let (action, c) = l.node(&prop.clone(), |l| l.action(prop));
                    t.actions.push(Action {
                        comments: c,
                        ..action
                    });
                    continue;
                }
                let prop_span = l.span(&prop);
                let word = keyword(rule);
                let (_, c) = l.node(&prop.clone(), |l| {
                    let mut values = children(prop);
                    let value = values.next().expect("value");
                    match rule {
                        Rule::activity => {
                            let v = l.parsed::<Activity>(value);
                            l.once(&mut t.activity, v, word, prop_span);
                        }
                        Rule::when => {
                            let v = Some(l.expr(value));
                            l.once(&mut t.condition, v, word, prop_span);
                        }
                        Rule::channel => {
                            let kind = l.parsed::<ChannelKind>(value);
                            let (mut consent, mut address) = (None, None);
                            for part in values {
                                let rule = part.as_rule();
                                let field = l.ident(children(part).next().expect("field"));
                                match rule {
                                    Rule::channel_consent => consent = Some(field),
                                    _ => address = Some(field),
                                }
                            }
                            let v = kind.map(|kind| Channel {
                                kind,
                                consent,
                                address,
                                span: prop_span,
                            });
                            l.once(&mut t.channel, v, word, prop_span);
                        }
                        Rule::priority => {
                            let v = l.integer(value, "a priority");
                            l.once(&mut t.priority, v, word, prop_span);
                        }
                        Rule::service => {
                            let v = Some(l.string(value));
                            l.once(&mut t.service, v, word, prop_span);
                        }
                        Rule::reentry => {
                            let v = l.parsed::<Reentry>(value);
                            l.once(&mut t.reentry, v, word, prop_span);
                        }
                        Rule::holdout => {
                            let salt = values.next().expect("salt");
                            let v = l.holdout(value, salt, prop_span);
                            l.once(&mut t.holdout, v, word, prop_span);
                        }
                        Rule::volume => {
                            let max = l.integer(value, "a volume");
                            let rank = l.expr(values.next().expect("rank"));
                            let v = max.map(|max| Volume {
                                max,
                                rank,
                                span: prop_span,
                            });
                            l.once(&mut t.volume, v, word, prop_span);
                        }
                        _ => {
                            let v = l.parsed::<Duration>(value);
                            l.once(&mut t.cooldown, v, word, prop_span);
                        }
                    }
                });
                if !c.is_empty() || c.blank_before {
                    t.inner.0.insert(word, c);
                }
            }
            l.close_block(&mut t.inner, end);
            t
        });
        trigger.comments = comments;
        trigger
    }

    fn test(&mut self, pair: Pair<'a, Rule>) -> TestCase {
        let span = self.span(&pair);
        let end = pair.as_span().end();
        let (mut test, comments) = self.node(&pair.clone(), |l| {
            let mut parts = children(pair);
            let mut test = TestCase {
                name: l.string(parts.next().expect("name")),
                as_of: None,
                from: None,
                values: Vec::new(),
                history: Vec::new(),
                expect: Expect::default(),
                span,
                comments: Comments::default(),
                inner: InnerComments::default(),
            };
            for prop in parts {
                let rule = prop.as_rule();
                let prop_span = l.span(&prop);
                let word = keyword(rule);
                let close = prop.as_span().end();
                let (_, c) = l.node(&prop.clone(), |l| match rule {
                    Rule::test_as_of => {
                        let text = l.string(children(prop).next().expect("date"));
                        let v = match parse_date(&text.value) {
                            Some(d) => Some(Spanned::new(d, text.span)),
                            None => {
                                l.diagnostics.push(
                                    Diagnostic::error(
                                        Code::BadValue,
                                        format!(
                                            "`{}` is not a date: expected `YYYY-MM-DD`",
                                            text.value
                                        ),
                                    )
                                    .at(text.span)
                                    .help("a test decides at a fixed date, e.g. `2026-11-01`"),
                                );
                                None
                            }
                        };
                        l.once(&mut test.as_of, v, word, prop_span);
                    }
                    Rule::test_from => {
                        let mut kv = children(prop);
                        let file = l.string(kv.next().expect("file"));
                        let which = kv.next().expect("row");
                        let which_span = l.span(&which);
                        let select = match which.as_rule() {
                            Rule::row_id => Some(RowSelect::Id(
                                l.string(children(which).next().expect("id")).value,
                            )),
                            _ => l
                                .integer::<u64>(children(which).next().expect("n"), "a row")
                                .map(|n| RowSelect::Row(n.value)),
                        };
                        let v = select.map(|select| TestRow {
                            file,
                            select: Spanned::new(select, which_span),
                        });
                        l.once(&mut test.from, v, word, prop_span);
                    }
                    Rule::test_customer => {
                        for line in children(prop) {
                            let (field, comments) = l.node(&line.clone(), |l| {
                                let mut kv = children(line);
                                let name = l.ident(kv.next().expect("field"));
                                let value = l.test_value(kv.next().expect("value"));
                                value.map(|value| (name, value))
                            });
                            if let Some((name, value)) = field {
                                test.values.push(TestField {
                                    name,
                                    value,
                                    comments,
                                });
                            }
                        }
                        l.close_nested(&mut test.inner, close, "customer}");
                    }
                    Rule::test_history => {
                        for line in children(prop) {
                            let (past, comments) = l.node(&line.clone(), |l| {
                                let mut parts = children(line);
                                let trigger = l.ident(parts.next().expect("trigger"));
                                let ago = l.parsed::<Duration>(parts.next().expect("duration"));
                                let arm = parts.next().map(|a| l.parsed::<Arm>(a));
                                match (ago, arm) {
                                    (Some(ago), None) => Some((trigger, ago, None)),
                                    (Some(ago), Some(Some(arm))) => Some((trigger, ago, Some(arm))),
                                    _ => None,
                                }
                            });
                            if let Some((trigger, ago, arm)) = past {
                                test.history.push(PastContact {
                                    trigger,
                                    ago,
                                    arm,
                                    comments,
                                });
                            }
                        }
                        l.close_nested(&mut test.inner, close, "history}");
                    }
                    _ => {
                        for e in children(prop) {
                            l.expectation(e, &mut test.expect);
                        }
                        l.close_block(&mut test.expect.inner, close);
                    }
                });
                if !c.is_empty() || c.blank_before {
                    test.inner.0.insert(word, c);
                }
            }
            l.close_block(&mut test.inner, end);
            test
        });
        test.comments = comments;
        test
    }

    /// The comments before the closing brace (at `close`) of a block inside a test, kept in the
    /// test's comments under `key`.
    fn close_nested(&mut self, test: &mut InnerComments, close: usize, key: &'static str) {
        let mut inner = InnerComments::default();
        self.close_block(&mut inner, close);
        if let Some(c) = inner.0.remove("}") {
            test.0.insert(key, c);
        }
    }

    /// One line of an `expect` block, added to `expect` with its comments.
    fn expectation(&mut self, pair: Pair<'a, Rule>, expect: &mut Expect) {
        let rule = pair.as_rule();
        let span = self.span(&pair);
        let ((), comments) = self.node(&pair.clone(), |l| {
            let mut parts = children(pair).filter(|p| {
                !matches!(
                    p.as_rule(),
                    Rule::kw_not | Rule::kw_segments | Rule::kw_fires
                )
            });
            let value = parts.next().expect("value");
            let names = |l: &mut Self, names: Pair<'a, Rule>| -> Vec<Ident> {
                children(names).map(|n| l.ident(n)).collect()
            };
            match rule {
                Rule::expect_segments => {
                    let v = names(l, value);
                    expect.segments.extend(v);
                }
                Rule::expect_not_segments => {
                    let v = names(l, value);
                    expect.not_segments.extend(v);
                }
                Rule::expect_fires => {
                    let v = names(l, value);
                    expect.fires.extend(v);
                }
                Rule::expect_not_fires => {
                    let v = names(l, value);
                    expect.not_fires.extend(v);
                }
                Rule::expect_tier => {
                    let tier = Some(l.ident(value));
                    l.once(&mut expect.tier, tier, "tier", span);
                }
                Rule::expect_stage => {
                    let stage = Some(l.ident(value));
                    l.once(&mut expect.stage, stage, "stage", span);
                }
                Rule::expect_suppressed => {
                    let trigger = l.ident(value);
                    let reason = parts.next().expect("reason");
                    let code = Spanned::new(reason.as_str().to_string(), l.span(&reason));
                    expect.suppressed.push((trigger, code));
                }
                _ => {
                    let path = Spanned::new(value.as_str().to_string(), l.span(&value));
                    if let Some(value) = l.test_value(parts.next().expect("value")) {
                        expect.params.push(ExpectParam {
                            path,
                            value,
                            comments: Comments::default(),
                        });
                    }
                }
            }
        });
        if rule == Rule::expect_param {
            if let Some(p) = expect.params.last_mut() {
                p.comments = comments;
            }
            return;
        }
        let key = match rule {
            Rule::expect_segments => "segments",
            Rule::expect_not_segments => "not segments",
            Rule::expect_tier => "tier",
            Rule::expect_stage => "stage",
            Rule::expect_fires => "fires",
            Rule::expect_suppressed => "suppressed",
            _ => "not fires",
        };
        // Lines of one kind print as one: their comments gather above it.
        let kept = expect.inner.0.entry(key).or_default();
        kept.blank_before |= comments.blank_before;
        kept.leading.extend(comments.leading);
        if comments.trailing.is_some() {
            kept.trailing = comments.trailing;
        }
    }

    fn test_value(&mut self, pair: Pair<'a, Rule>) -> Option<Spanned<TestValue>> {
        let span = self.span(&pair);
        let value = match pair.as_rule() {
            Rule::missing => TestValue::Missing,
            Rule::list => {
                TestValue::List(children(pair).map(|item| self.string(item).value).collect())
            }
            _ => match self.literal(pair)?.value {
                Literal::Str(s) => TestValue::Str(s),
                Literal::Int(i) => TestValue::Int(i),
                Literal::Decimal(d) => TestValue::Decimal(d),
                Literal::Bool(b) => TestValue::Bool(b),
            },
        };
        Some(Spanned::new(value, span))
    }

    fn action(&mut self, pair: Pair<'a, Rule>) -> Action {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let mut action = Action {
            name: self.ident(parts.next().expect("name")),
            template: None,
            offer: None,
            params: Vec::new(),
            span,
            comments: Comments::default(),
            inner: InnerComments::default(),
        };
        for part in parts {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::template | Rule::offer => {
                    let word = keyword(part.as_rule());
                    let slot = if part.as_rule() == Rule::template {
                        &mut action.template
                    } else {
                        &mut action.offer
                    };
                    let value = Some(self.string(children(part).next().expect("value")));
                    let mut taken = slot.take();
                    self.once(&mut taken, value, word, part_span);
                    *slot = taken;
                }
                _ => {
                    let end = part.as_span().end();
                    for param in children(part) {
                        let param_span = self.span(&param);
                        let ((name, value), comments) = self.node(&param.clone(), |l| {
                            let mut kv = children(param);
                            let name = l.ident(kv.next().expect("name"));
                            let value = kv.next().expect("value");
                            let value = match value.as_rule() {
                                Rule::text => ParamValue::Template(
                                    l.string(children(value).next().expect("string")),
                                ),
                                _ => ParamValue::Expr(l.expr(value)),
                            };
                            (name, value)
                        });
                        action.params.push(Param {
                            name,
                            value,
                            span: param_span,
                            comments,
                        });
                    }
                    self.close_block(&mut action.inner, end);
                }
            }
        }
        action
    }
}

/// The children of a pair, without the comments pest puts between them.
fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT)
}

/// The keyword a property rule starts with (used to key inner comments).
fn keyword(rule: Rule) -> &'static str {
    match rule {
        Rule::as_of => "as_of",
        Rule::max_triggers => "max_triggers",
        Rule::max_per_channel => "max_per_channel",
        Rule::holdout => "holdout",
        Rule::volume => "volume",
        Rule::key => "key",
        Rule::default => "default",
        Rule::format => "format",
        Rule::missing_words => "missing",
        Rule::words => "words",
        Rule::currency => "currency",
        Rule::thousands => "thousands",
        Rule::decimal => "decimal",
        Rule::separator => "separator",
        Rule::activity => "activity",
        Rule::when => "when",
        Rule::channel => "channel",
        Rule::priority => "priority",
        Rule::cooldown => "cooldown",
        Rule::service => "service",
        Rule::reentry => "reentry",
        Rule::template => "template",
        Rule::offer => "offer",
        Rule::period => "period",
        Rule::lookback => "lookback",
        Rule::unmatched => "unmatched_orders",
        Rule::without_orders => "customers_without_orders",
        Rule::horizon => "horizon",
        Rule::discount => "discount",
        Rule::bgnbd => "bgnbd",
        Rule::gamma_gamma => "gamma_gamma",
        Rule::test_as_of => "as_of",
        Rule::test_from => "from",
        Rule::test_customer => "customer",
        Rule::test_history => "history",
        Rule::expect => "expect",
        _ => "?",
    }
}

fn has_blank_line(between: &str) -> bool {
    between.matches('\n').count() >= 2
}

/// A word parser's message (field type, activity, channel) without the closest-word hint it
/// ends with, ` (did you mean `x`?)`, and that hint, for the diagnostic's help.
pub(crate) fn split_hint(message: &str) -> (String, Option<String>) {
    match message
        .strip_suffix("?)")
        .and_then(|m| m.rsplit_once(" (did you mean "))
    {
        Some((message, word)) => (message.to_string(), Some(format!("did you mean {word}?"))),
        None => (message.to_string(), None),
    }
}

/// An ISO date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The value of a string literal's body (escapes are checked by the grammar).
fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                let c = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                out.push(c);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A parameter text as the DSL writes it: [`crate::text::quote`], but for the quotes inside its
/// placeholders (`{first_name ?? "there"}`), which are written as they are.
pub fn quote_text(value: &str) -> String {
    let escaped = |part: &str| {
        let quoted = crate::text::quote(part);
        quoted[1..quoted.len() - 1].to_string()
    };
    let mut out = String::from("\"");
    let mut at = 0;
    for p in crate::model::placeholders(value).into_iter().flatten() {
        let written = &value[p.range.clone()];
        if written.contains('"') && !written.contains(['\\', '\n', '\r', '\t']) {
            out.push_str(&escaped(&value[at..p.range.start]));
            out.push_str(written);
            at = p.range.end;
        }
    }
    out.push_str(&escaped(&value[at..]));
    out.push('"');
    out
}
