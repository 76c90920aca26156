//! Reads the spanned TOML tree into the model, checking every key against the keys its table
//! allows and every value against the type its key wants.

use super::tree::{self, Entry, Kind, Node};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::model::{
    Action, Activity, Allow, Arm, AsOf, Cap, CapScope, CellRange, CellRule, CellTable, Channel,
    ChannelKind, Comments, ContactColumn, ContactLog, ContactRole, Duration, Exclusion, Expect,
    ExpectParam, Expr, Field, FieldFormat, FieldType, Holdout, Ident, InnerComments, Literal,
    Metric, Model, OrderColumn, OrderRole, OrderTotal, Orders, Param, ParamValue, PastContact,
    Reentry, RowSelect, RuleSet, Schema, Score, Segment, Settings, Spanned, TableBody, TestCase,
    TestField, TestRow, TestValue, Tier, Tiers, Ties, TotalKind, Trigger, UnmatchedOrders, Volume,
    WithoutOrders, BGNBD_PARAMS, GAMMA_GAMMA_PARAMS,
};
use crate::source::{FileId, Span};
use crate::syntax::dsl::split_hint;
use crate::text::printable;
use chrono::NaiveDate;
use std::ops::Range;
use std::str::FromStr;

const ROOT_KEYS: &[&str] = &[
    "ruleset",
    "customer",
    "orders",
    "contacts",
    "metrics",
    "segments",
    "scores",
    "tables",
    "model",
    "tiers",
    "lifecycle",
    "triggers",
    "tests",
];
const TEST_KEYS: &[&str] = &["name", "as_of", "from", "customer", "history", "expect"];
const PAST_CONTACT_KEYS: &[&str] = &["trigger", "ago", "arm"];
const FROM_KEYS: &[&str] = &["file", "id", "row"];
const EXPECT_KEYS: &[&str] = &[
    "segments",
    "not_segments",
    "tier",
    "stage",
    "fires",
    "not_fires",
    "params",
    "suppressed",
];
const SETTINGS_KEYS: &[&str] = &[
    "name",
    "as_of",
    "max_triggers",
    "max_per_channel",
    "holdout",
    "caps",
    "exclusions",
    "allow",
    "missing",
];
const CAP_KEYS: &[&str] = &["channel", "max", "per"];
const EXCLUSION_KEYS: &[&str] = &["trigger", "with"];
const ALLOW_KEYS: &[&str] = &["warning", "on"];
const VOLUME_KEYS: &[&str] = &["max", "by"];
const HOLDOUT_KEYS: &[&str] = &["percent", "salt"];
const FIELD_KEYS: &[&str] = &[
    "type",
    "from",
    "optional",
    "key",
    "default",
    "format",
    "missing",
    "words",
    "currency",
    "thousands",
    "decimal",
    "separator",
];
const TIER_KEYS: &[&str] = &["name", "when", "otherwise"];
const STAGE_KEYS: &[&str] = &["name", "activity", "when", "otherwise"];
const TRIGGER_KEYS: &[&str] = &[
    "activity", "service", "when", "channel", "consent", "address", "priority", "cooldown",
    "reentry", "holdout", "volume", "actions",
];
const ACTION_KEYS: &[&str] = &["name", "template", "offer", "params"];
const EXPR_KEYS: &[&str] = &["expr"];
const ORDERS_KEYS: &[&str] = &[
    "customer",
    "date",
    "amount",
    "quantity",
    "count",
    "first",
    "last",
    "spent",
    "period",
    "lookback",
    "unmatched_orders",
    "customers_without_orders",
];
const ORDER_COLUMN_KEYS: &[&str] = &["from", "format", "currency", "thousands", "decimal"];
const SCORE_KEYS: &[&str] = &["name", "of", "bins", "reverse", "ties", "edges"];
const TIES_KEYS: &[&str] = &["hash"];
const TABLE_KEYS: &[&str] = &["name", "over", "preset", "rules"];
const MODEL_KEYS: &[&str] = &["horizon", "discount", "bgnbd", "gamma_gamma"];

/// Parses one TOML rule file (see [`super::parse`]).
pub(super) fn read(file: FileId, text: &str) -> (RuleSet, Vec<Diagnostic>) {
    let root = match tree::parse(text) {
        Ok(root) => root,
        Err(e) => return (RuleSet::default(), vec![syntax_error(file, text, &e)]),
    };
    let mut reader = Reader {
        file,
        text,
        diags: Vec::new(),
    };
    let rules = reader.rule_set(&root);
    (rules, reader.diags)
}

/// A `toml-syntax` diagnostic from the `toml` crate's error, in our message style.
fn syntax_error(file: FileId, text: &str, e: &::toml::de::Error) -> Diagnostic {
    let range = e.span().unwrap_or(0..0);
    let start = floor_boundary(text, range.start.min(text.len()));
    let end = floor_boundary(text, range.end.clamp(start, text.len()));
    let mut message = e
        .message()
        .lines()
        .map(|l| l.trim().trim_end_matches('.'))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    if message.is_empty() {
        message = if start >= text.trim_end().len() {
            "unexpected end of file".to_string()
        } else {
            "invalid TOML".to_string()
        };
    }
    let mut chars = message.chars();
    if let (Some(first), Some(second)) = (chars.next(), chars.next()) {
        if first.is_uppercase() && !second.is_uppercase() {
            message = first
                .to_lowercase()
                .chain(message.chars().skip(1))
                .collect();
        }
    }
    let word = |at: usize| -> &str {
        let rest = &text[at..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        &rest[..len]
    };
    let mut end = end;
    let mut help = None;
    if e.message().contains("expected `\"`, `'`") {
        // A bare word where a value belongs: usually text without its quotes.
        let found = word(start);
        if !found.is_empty() {
            message = format!("expected a quoted string, found `{found}`");
            end = start + found.len();
        }
        help = Some("TOML strings are quoted: write `\"text\"`");
    } else if let Some(key) = message
        .strip_prefix("duplicate key `")
        .and_then(|m| m.split_once('`'))
        .map(|(key, _)| key)
    {
        // The toml crate points at the key's first character: cover the key.
        if word(start) == key {
            end = start + key.len();
        }
        help = Some("a key can appear only once in a table: rename or remove one of them");
    }
    let d = Diagnostic::error(Code::TomlSyntax, message).at(Span::new(file, start, end));
    match help {
        Some(help) => d.help(help),
        None => d,
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// `a string`, `an integer`, ... for "found ..." in messages.
fn describe(kind: &Kind) -> &'static str {
    match kind {
        Kind::Str(_) => "a string",
        Kind::Int(_) => "an integer",
        Kind::Float(_) => "a float",
        Kind::Bool(_) => "a boolean",
        Kind::Datetime(_) => "a date-time",
        Kind::Array(_) => "an array",
        Kind::Table(_) => "a table",
    }
}

/// `` `a`, `b` and `c` ``.
fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// "did you mean" for slips [`suggest`] does not count as close: two swapped neighbours
/// (`whne`) or a different case (`When`).
fn close_key(wanted: &str, allowed: &[&str]) -> Option<String> {
    let w: Vec<char> = wanted.chars().collect();
    allowed
        .iter()
        .find(|k| {
            let k: Vec<char> = k.chars().collect();
            let swapped = k.len() == w.len()
                && (0..w.len().saturating_sub(1)).any(|i| {
                    let mut s = w.clone();
                    s.swap(i, i + 1);
                    s == k
                });
            swapped || wanted.to_lowercase() == k.iter().collect::<String>()
        })
        .map(|k| format!("did you mean `{k}`?"))
}

fn has(entries: &[Entry], key: &str) -> bool {
    entries.iter().any(|e| e.key == key)
}

/// The string value of `key` in a table, if it has one (for naming the table in messages).
fn name_in<'t>(entries: &'t [Entry], key: &str) -> Option<&'t str> {
    entries.iter().find_map(|e| match &e.value.kind {
        Kind::Str(s) if e.key == key => Some(s.as_str()),
        _ => None,
    })
}

fn no_comments() -> Comments {
    Comments::default()
}

struct Reader<'a> {
    file: FileId,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn span(&self, r: &Range<usize>) -> Span {
        Span::new(self.file, r.start, r.end)
    }

    /// Where to report something about a whole table: the header line of a `[header]` table,
    /// else the given range (an inline table with its key).
    fn table_at(&self, table: &Range<usize>, whole: &Range<usize>) -> Span {
        let Some(text) = self.text.get(table.clone()) else {
            return self.span(whole);
        };
        if !text.starts_with('[') {
            return self.span(whole);
        }
        let line = text.split('\n').next().unwrap_or(text).trim_end();
        Span::new(self.file, table.start, table.start + line.len())
    }

    /// The range of a string's content inside its quotes, and whether the text there is the
    /// value byte for byte (no escapes, no trimmed or normalized newline).
    fn content(&self, r: &Range<usize>, value: &str) -> (Span, bool) {
        let raw = self.text.get(r.clone()).unwrap_or("");
        let delim = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            1
        } else {
            0
        };
        if raw.len() < 2 * delim {
            return (self.span(r), false);
        }
        let mut start = r.start + delim;
        let end = r.end - delim;
        let Some(inner) = self.text.get(start..end) else {
            return (self.span(r), false);
        };
        if delim == 3 {
            if inner.starts_with("\r\n") {
                start += 2;
            } else if inner.starts_with('\n') {
                start += 1;
            }
        }
        let verbatim = self.text.get(start..end) == Some(value);
        (Span::new(self.file, start, end), verbatim)
    }

    fn error(&mut self, code: Code, message: String, at: Span, help: Option<String>) {
        // Messages quote user input, which may hold line breaks (`"a\nb" = 1`): one line in
        // every rendering, JSON too.
        let mut d = Diagnostic::error(code, printable(&message)).at(at);
        if let Some(help) = help {
            d = d.help(printable(&help));
        }
        self.diags.push(d);
    }

    fn unknown(&mut self, e: &Entry, place: &str, allowed: &[&str]) {
        let help = suggest(&e.key, allowed.iter().copied())
            .or_else(|| close_key(&e.key, allowed))
            .unwrap_or_else(|| format!("the keys allowed here are {}", list(allowed)));
        let at = self.span(&e.key_span);
        self.error(
            Code::UnknownKey,
            format!("unknown key `{}` {place}", e.key),
            at,
            Some(help),
        );
    }

    fn missing(&mut self, key: &str, place: &str, at: Span, help: String) {
        self.error(
            Code::MissingKey,
            format!("missing key `{key}` {place}"),
            at,
            Some(help),
        );
    }

    fn wrong_type(&mut self, what: &str, expected: &str, found: &Node, help: Option<String>) {
        let at = self.span(&found.span);
        self.error(
            Code::WrongType,
            format!("{what} must be {expected}, found {}", describe(&found.kind)),
            at,
            help,
        );
    }

    fn bad_value(&mut self, message: String, at: Span, help: Option<String>) {
        self.error(Code::BadValue, message, at, help);
    }

    /// Wrong type where a string was wanted; suggests quoting a scalar.
    fn not_a_string(&mut self, e: &Entry) {
        let raw = self.text.get(e.value.span.clone()).unwrap_or("");
        let help = match e.value.kind {
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) | Kind::Datetime(_) => Some(format!(
                "put the value in quotes: `{} = \"{}\"`",
                e.key,
                raw.escape_default()
            )),
            _ => None,
        };
        self.wrong_type(&format!("`{}`", e.key), "a string", &e.value, help);
    }

    /// A string or an array of strings (`format = ["%m/%d/%Y", "%Y-%m-%d"]`), each with its
    /// span; an empty array is refused, as is an empty list in the DSL.
    fn strings(&mut self, e: &Entry) -> Vec<Spanned<String>> {
        let items = match &e.value.kind {
            Kind::Str(_) => return self.string(e).into_iter().collect(),
            Kind::Array(items) if !items.is_empty() => items,
            _ => {
                let help = format!("write `{0} = \"...\"` or `{0} = [\"...\", \"...\"]`", e.key);
                let what = format!("`{}`", e.key);
                self.wrong_type(
                    &what,
                    "a string or a non-empty array of strings",
                    &e.value,
                    Some(help),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Str(s) => out.push(Spanned::new(s.clone(), self.content(&item.span, s).0)),
                _ => self.wrong_type(&format!("each of `{}`", e.key), "a string", item, None),
            }
        }
        out
    }

    fn string(&mut self, e: &Entry) -> Option<Spanned<String>> {
        match &e.value.kind {
            Kind::Str(s) => Some(Spanned::new(s.clone(), self.content(&e.value.span, s).0)),
            _ => {
                self.not_a_string(e);
                None
            }
        }
    }

    fn expr_of(&self, node: &Node, source: &str) -> Expr {
        let (span, verbatim) = self.content(&node.span, source);
        Expr {
            source: source.to_string(),
            span,
            verbatim,
        }
    }

    fn expr(&mut self, e: &Entry) -> Option<Expr> {
        match &e.value.kind {
            Kind::Str(s) => Some(self.expr_of(&e.value, s)),
            _ => {
                self.not_a_string(e);
                None
            }
        }
    }

    fn int(&mut self, e: &Entry) -> Option<Spanned<i64>> {
        match &e.value.kind {
            Kind::Int(i) => Some(Spanned::new(*i, self.span(&e.value.span))),
            kind => {
                let help = match kind {
                    Kind::Str(s) if s.trim().parse::<i64>().is_ok() => {
                        Some(format!("remove the quotes: `{} = {}`", e.key, s.trim()))
                    }
                    _ => None,
                };
                self.wrong_type(&format!("`{}`", e.key), "an integer", &e.value, help);
                None
            }
        }
    }

    fn bool(&mut self, e: &Entry) -> Option<bool> {
        match &e.value.kind {
            Kind::Bool(b) => Some(*b),
            _ => {
                let help = format!(
                    "write `{} = true` or `{} = false`, without quotes",
                    e.key, e.key
                );
                self.wrong_type(&format!("`{}`", e.key), "a boolean", &e.value, Some(help));
                None
            }
        }
    }

    /// A word of a closed vocabulary (activity, channel), parsed with its `FromStr`.
    fn word<T: FromStr<Err = String>>(&mut self, e: &Entry) -> Option<Spanned<T>> {
        let s = self.string(e)?;
        match s.value.parse::<T>() {
            Ok(v) => Some(Spanned::new(v, s.span)),
            Err(message) => {
                let (message, help) = split_hint(&message);
                self.bad_value(message, s.span, help);
                None
            }
        }
    }

    /// The root table: each known key fills its part of the rule set.
    fn rule_set(&mut self, root: &[Entry]) -> RuleSet {
        let mut rules = RuleSet::default();
        for e in root {
            match e.key.as_str() {
                "ruleset" => rules.settings = self.settings(e),
                "customer" => rules.schema = self.schema(e),
                "metrics" => {
                    rules.metrics = self
                        .named_exprs(e, "metric")
                        .into_iter()
                        .map(|(name, expr, span)| Metric {
                            name,
                            expr,
                            span,
                            comments: no_comments(),
                        })
                        .collect();
                }
                "segments" => {
                    rules.segments = self
                        .named_exprs(e, "segment")
                        .into_iter()
                        .map(|(name, condition, span)| Segment {
                            name,
                            condition,
                            span,
                            comments: no_comments(),
                        })
                        .collect();
                }
                "orders" => rules.orders = self.orders(e),
                "contacts" => rules.contacts = self.contacts(e),
                "scores" => rules.scores = self.scores(e),
                "tables" => rules.tables = self.tables(e),
                "model" => rules.model = self.model(e),
                "tiers" => rules.tiers = self.tiers(e, "tier"),
                "lifecycle" => rules.lifecycle = self.tiers(e, "stage"),
                "triggers" => rules.triggers = self.triggers(e),
                "tests" => rules.tests = self.tests(e),
                _ if self
                    .text
                    .get(..e.key_span.start)
                    .is_some_and(|t| t.ends_with('['))
                    && self
                        .text
                        .get(e.key_span.end..)
                        .is_some_and(|t| t.starts_with(']')) =>
                {
                    // A `[header]` table: name it the way it was written.
                    let before = &self.text[..e.key_span.start];
                    let (open, close) = if before.ends_with("[[") {
                        ("[[", "]]")
                    } else {
                        ("[", "]")
                    };
                    let hint = suggest(&e.key, ROOT_KEYS.iter().copied())
                        .or_else(|| close_key(&e.key, ROOT_KEYS));
                    let help = match hint.as_deref().and_then(|h| h.split('`').nth(1)) {
                        Some(key) => format!("did you mean `{open}{key}{close}`?"),
                        None => format!("the tables allowed are {}", list(ROOT_KEYS)),
                    };
                    let at = self.span(&e.key_span);
                    let message = format!("unknown table `{open}{}{close}`", e.key);
                    self.error(Code::UnknownKey, message, at, Some(help));
                }
                _ => self.unknown(e, "at the top level", ROOT_KEYS),
            }
        }
        rules
    }

    /// The entries of a table-valued key, or a `wrong-type` error.
    fn table<'t>(&mut self, e: &'t Entry, help: String) -> Option<&'t [Entry]> {
        match &e.value.kind {
            Kind::Table(entries) => Some(entries),
            _ => {
                self.wrong_type(&format!("`{}`", e.key), "a table", &e.value, Some(help));
                None
            }
        }
    }

    fn settings(&mut self, e: &Entry) -> Option<Settings> {
        let help = "write a `[ruleset]` table with `name = \"...\"` in it".to_string();
        let entries = self.table(e, help)?;
        let (mut name, mut as_of, mut max_triggers, mut holdout) = (None, None, None, None);
        let (mut max_per_channel, mut caps, mut exclusions) = (None, Vec::new(), Vec::new());
        let (mut missing, mut allows) = (Vec::new(), Vec::new());
        for f in entries {
            match f.key.as_str() {
                "name" => name = self.string(f),
                "missing" => missing = self.strings(f),
                "as_of" => as_of = self.as_of(f),
                "max_triggers" => max_triggers = self.count(f),
                "max_per_channel" => max_per_channel = self.count(f),
                "holdout" => holdout = self.holdout(f),
                "caps" => caps = self.caps(f),
                "exclusions" => exclusions = self.exclusions(f),
                "allow" => allows = self.allows(f),
                _ => self.unknown(f, "in `[ruleset]`", SETTINGS_KEYS),
            }
        }
        if !has(entries, "name") {
            let at = self.table_at(&e.value.span, &e.span());
            let help = "add `name = \"...\"`, the rule set's name".to_string();
            self.missing("name", "in `[ruleset]`", at, help);
        }
        Some(Settings {
            name: name?,
            as_of,
            max_triggers,
            holdout,
            max_per_channel,
            caps,
            missing,
            exclusions,
            allows,
            span: self.span(&e.value.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        })
    }

    /// The tables of array `e`, each with its span; `example` helps when it is not one.
    fn array_of_tables<'t>(
        &mut self,
        e: &'t Entry,
        item: &str,
        example: &str,
    ) -> Vec<(&'t [Entry], Span)> {
        let Kind::Array(items) = &e.value.kind else {
            let what = format!("`{}`", e.key);
            self.wrong_type(&what, "an array of tables", &e.value, Some(example.into()));
            return Vec::new();
        };
        let mut tables = Vec::new();
        let what_item = item;
        for node in items {
            match &node.kind {
                Kind::Table(entries) => tables.push((entries.as_slice(), self.span(&node.span))),
                _ => self.wrong_type(what_item, "a table", node, Some(example.into())),
            }
        }
        tables
    }

    /// Reports the keys of `keys` missing from `entries` (at `at`).
    fn require(&mut self, entries: &[Entry], keys: &[&str], place: &str, at: Span, help: &str) {
        for key in keys {
            if !has(entries, key) {
                self.missing(key, place, at, help.into());
            }
        }
    }

    /// `caps = [{ channel = "email", max = 3, per = "7d" }]`.
    fn caps(&mut self, e: &Entry) -> Vec<Cap> {
        let example = "write `caps = [{ channel = \"email\", max = 3, per = \"7d\" }]`";
        let mut caps = Vec::new();
        for (entries, at) in self.array_of_tables(e, "each cap", example) {
            let (mut scope, mut max, mut window) = (None, None, None);
            for f in entries {
                match f.key.as_str() {
                    "channel" => scope = self.word::<CapScope>(f),
                    "max" => max = self.count(f),
                    "per" => window = self.duration(f),
                    _ => self.unknown(f, "in a cap", CAP_KEYS),
                }
            }
            self.require(entries, CAP_KEYS, "in a cap", at, example);
            if let (Some(scope), Some(max), Some(window)) = (scope, max, window) {
                caps.push(Cap {
                    scope,
                    max,
                    window,
                    span: at,
                    comments: no_comments(),
                });
            }
        }
        caps
    }

    /// `exclusions = [{ trigger = "winback", with = "welcome_new" }]`.
    fn exclusions(&mut self, e: &Entry) -> Vec<Exclusion> {
        let example = "write `exclusions = [{ trigger = \"winback\", with = \"welcome_new\" }]`";
        let mut exclusions = Vec::new();
        for (entries, at) in self.array_of_tables(e, "each exclusion", example) {
            let (mut first, mut second) = (None, None);
            for f in entries {
                match f.key.as_str() {
                    "trigger" => first = self.string(f),
                    "with" => second = self.string(f),
                    _ => self.unknown(f, "in an exclusion", EXCLUSION_KEYS),
                }
            }
            self.require(entries, EXCLUSION_KEYS, "in an exclusion", at, example);
            if let (Some(first), Some(second)) = (first, second) {
                exclusions.push(Exclusion {
                    first,
                    second,
                    span: at,
                    comments: no_comments(),
                });
            }
        }
        exclusions
    }

    /// `allow = [{ warning = "unused-segment", on = "vip_watch" }]`.
    fn allows(&mut self, e: &Entry) -> Vec<Allow> {
        let example = "write `allow = [{ warning = \"unused-segment\", on = \"vip_watch\" }]`";
        let mut allows = Vec::new();
        for (entries, at) in self.array_of_tables(e, "each allow", example) {
            let (mut warning, mut on) = (None, None);
            for f in entries {
                match f.key.as_str() {
                    "warning" => warning = self.string(f),
                    "on" => on = self.string(f),
                    _ => self.unknown(f, "in an allow", ALLOW_KEYS),
                }
            }
            self.require(entries, ALLOW_KEYS, "in an allow", at, example);
            if let (Some(warning), Some(on)) = (warning, on) {
                allows.push(Allow {
                    warning,
                    on,
                    span: at,
                    comments: no_comments(),
                });
            }
        }
        allows
    }

    /// `volume = { max = 500, by = "model_clv" }`.
    fn volume(&mut self, e: &Entry) -> Option<Volume> {
        let example = "write `volume = { max = 500, by = \"model_clv\" }`";
        let entries = self.table(e, example.into())?;
        let (mut max, mut rank) = (None, None);
        for f in entries {
            match f.key.as_str() {
                "max" => max = self.count(f),
                "by" => rank = self.expr(f),
                _ => self.unknown(f, "in `volume`", VOLUME_KEYS),
            }
        }
        let at = self.table_at(&e.value.span, &e.span());
        self.require(entries, VOLUME_KEYS, "in `volume`", at, example);
        Some(Volume {
            max: max?,
            rank: rank?,
            span: self.span(&e.value.span),
        })
    }

    fn as_of(&mut self, e: &Entry) -> Option<Spanned<AsOf>> {
        let (text, at) = match &e.value.kind {
            Kind::Str(s) => (s.as_str(), self.content(&e.value.span, s).0),
            Kind::Datetime(s) => (s.as_str(), self.span(&e.value.span)),
            _ => {
                let help = "write `as_of = \"today\"` or a date such as `as_of = \"2026-11-01\"`";
                self.wrong_type("`as_of`", "a string", &e.value, Some(help.to_string()));
                return None;
            }
        };
        if text == "today" {
            return Some(Spanned::new(AsOf::Today, at));
        }
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => Some(Spanned::new(AsOf::Date(date), at)),
            Err(_) => {
                self.bad_value(
                    format!("`as_of` must be `today` or a date `YYYY-MM-DD`, found `{text}`"),
                    at,
                    Some("write the date as year-month-day, e.g. `2026-11-01`".to_string()),
                );
                None
            }
        }
    }

    /// `holdout = { percent = 5, salt = "2026" }`.
    fn holdout(&mut self, e: &Entry) -> Option<Holdout> {
        let help = "write `holdout = { percent = 5, salt = \"...\" }`".to_string();
        let entries = self.table(e, help.clone())?;
        let (mut percent, mut salt) = (None, None);
        for f in entries {
            match f.key.as_str() {
                "percent" => {
                    percent = self
                        .number(&f.value, "`percent`")
                        .map(|x| Spanned::new(x, self.span(&f.value.span)));
                }
                "salt" => salt = self.string(f),
                _ => self.unknown(f, "in `holdout`", HOLDOUT_KEYS),
            }
        }
        let at = self.table_at(&e.value.span, &e.span());
        self.require(entries, HOLDOUT_KEYS, "in `holdout`", at, &help);
        Some(Holdout {
            percent: percent?,
            salt: salt?,
            span: self.span(&e.value.span),
        })
    }

    /// A count such as `max_triggers`: a whole number from 0.
    fn count(&mut self, e: &Entry) -> Option<Spanned<u32>> {
        let n = self.int(e)?;
        match u32::try_from(n.value) {
            Ok(v) => Some(Spanned::new(v, n.span)),
            Err(_) => {
                self.bad_value(
                    format!(
                        "`{}` must be between 0 and {}, found `{}`",
                        e.key,
                        u32::MAX,
                        n.value
                    ),
                    n.span,
                    None,
                );
                None
            }
        }
    }

    fn schema(&mut self, e: &Entry) -> Option<Schema> {
        let help = "write a `[customer]` table with one line per field, e.g. \
                    `id = { type = \"string\", from = \"Customer ID\", key = true }`";
        let entries = self.table(e, help.to_string())?;
        let fields = entries.iter().filter_map(|f| self.field(f)).collect();
        Some(Schema {
            fields,
            span: self.span(&e.value.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        })
    }

    fn field(&mut self, f: &Entry) -> Option<Field> {
        let Kind::Table(entries) = &f.value.kind else {
            let help = format!(
                "write `{} = {{ type = \"string\", from = \"<column header>\" }}`",
                f.key
            );
            self.wrong_type(
                &format!("field `{}`", f.key),
                "a table",
                &f.value,
                Some(help),
            );
            return None;
        };
        let place = format!("in field `{}`", f.key);
        let (mut ty, mut column, mut default) = (None, None, None);
        let (mut optional, mut key) = (false, false);
        let mut format = FieldFormat::default();
        for o in entries {
            match o.key.as_str() {
                "type" => ty = self.field_type(o),
                "from" => column = self.string(o),
                "optional" => optional = self.bool(o).unwrap_or(false),
                "key" => key = self.bool(o).unwrap_or(false),
                "default" => default = self.literal(o),
                "format" => format.dates = self.strings(o),
                "missing" => format.missing = self.strings(o),
                "words" => format.words = self.words(o),
                "currency" => format.currency = self.string(o),
                "thousands" => format.thousands = self.string(o),
                "decimal" => format.decimal = self.string(o),
                "separator" => format.separator = self.string(o),
                _ => self.unknown(o, &place, FIELD_KEYS),
            }
        }
        let at = self.table_at(&f.value.span, &f.span());
        if !has(entries, "type") {
            let help = format!("add `type = \"...\"`, one of {}", list(&FieldType::WORDS));
            self.missing("type", &place, at, help);
        }
        if !has(entries, "from") {
            let help = "add `from = \"...\"`, the header of the export column".to_string();
            self.missing("from", &place, at, help);
        }
        Some(Field {
            name: Spanned::new(f.key.clone(), self.span(&f.key_span)),
            ty: ty?,
            column: column?,
            optional,
            key,
            default,
            format,
            span: self.span(&f.span()),
            comments: no_comments(),
        })
    }

    fn field_type(&mut self, e: &Entry) -> Option<Spanned<FieldType>> {
        let s = self.string(e)?;
        match s.value.parse::<FieldType>() {
            Ok(ty) => Some(Spanned::new(ty, s.span)),
            Err(message) => {
                let (message, hint) = split_hint(&message);
                let help = s
                    .value
                    .strip_suffix('?')
                    .filter(|word| word.parse::<FieldType>().is_ok())
                    .map(|word| {
                        format!("write `type = \"{word}\", optional = true` instead of the `?`")
                    })
                    .or(hint);
                self.bad_value(message, s.span, help);
                None
            }
        }
    }

    fn literal(&mut self, e: &Entry) -> Option<Spanned<Literal>> {
        let at = self.span(&e.value.span);
        let value = match &e.value.kind {
            Kind::Str(s) => {
                return Some(Spanned::new(
                    Literal::Str(s.clone()),
                    self.content(&e.value.span, s).0,
                ))
            }
            Kind::Int(i) => Literal::Int(*i),
            Kind::Float(x) => Literal::Decimal(*x),
            Kind::Bool(b) => Literal::Bool(*b),
            _ => {
                let help = matches!(e.value.kind, Kind::Datetime(_))
                    .then(|| "write dates in quotes, as the export writes them".to_string());
                self.wrong_type(
                    &format!("`{}`", e.key),
                    "a string, number or boolean",
                    &e.value,
                    help,
                );
                return None;
            }
        };
        Some(Spanned::new(value, at))
    }

    fn words(&mut self, e: &Entry) -> Option<Spanned<(String, String)>> {
        let help = || "write the words for true and false: `words = [\"yes\", \"no\"]`".to_string();
        let Kind::Array(items) = &e.value.kind else {
            self.wrong_type("`words`", "an array of two strings", &e.value, Some(help()));
            return None;
        };
        let mut words = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Str(s) => words.push(s.clone()),
                _ => self.wrong_type("each word", "a string", item, None),
            }
        }
        if items.len() != 2 {
            self.bad_value(
                format!("`words` must hold exactly two words, found {}", items.len()),
                self.span(&e.value.span),
                Some(help()),
            );
            return None;
        }
        match <[String; 2]>::try_from(words) {
            Ok([yes, no]) => Some(Spanned::new((yes, no), self.span(&e.value.span))),
            Err(_) => None,
        }
    }

    /// `[metrics]` or `[segments]`: names to expression strings, in document order.
    fn named_exprs(&mut self, e: &Entry, what: &str) -> Vec<(Ident, Expr, Span)> {
        let help = format!(
            "write a `[{}]` table with lines such as `name = \"expression\"`",
            e.key
        );
        let Some(entries) = self.table(e, help) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in entries {
            let Kind::Str(source) = &m.value.kind else {
                let raw = self.text.get(m.value.span.clone()).unwrap_or("");
                let help = match m.value.kind {
                    Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => Some(format!(
                        "write the expression in quotes: `{} = \"{raw}\"`",
                        m.key
                    )),
                    _ => None,
                };
                self.wrong_type(
                    &format!("{what} `{}`", m.key),
                    "a string holding an expression",
                    &m.value,
                    help,
                );
                continue;
            };
            let name = Spanned::new(m.key.clone(), self.span(&m.key_span));
            let expr = self.expr_of(&m.value, source);
            out.push((name, expr, self.span(&m.span())));
        }
        out
    }

    /// `[[tiers]]` (`what` = "tier") or `[[lifecycle]]` ("stage", which also has an activity).
    fn tiers(&mut self, e: &Entry, what: &str) -> Option<Tiers> {
        let Kind::Array(items) = &e.value.kind else {
            let help = format!("write each {what} as a `[[{}]]` table", e.key);
            self.wrong_type(
                &format!("`{}`", e.key),
                "an array of tables",
                &e.value,
                Some(help),
            );
            return None;
        };
        let tiers = items
            .iter()
            .filter_map(|n| self.tier(n, what, &e.key))
            .collect();
        Some(Tiers {
            tiers,
            span: self.span(&e.value.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        })
    }

    fn tier(&mut self, n: &Node, what: &str, table: &str) -> Option<Tier> {
        let Kind::Table(entries) = &n.kind else {
            let help = format!("write each {what} as a `[[{table}]]` table");
            self.wrong_type(&format!("each {what}"), "a table", n, Some(help));
            return None;
        };
        let place = match name_in(entries, "name") {
            Some(name) => format!("in {what} `{name}`"),
            None => format!("in this {what}"),
        };
        let stage = what == "stage";
        let keys = if stage { STAGE_KEYS } else { TIER_KEYS };
        let (mut name, mut activity, mut when, mut otherwise) = (None, None, None, None);
        for f in entries {
            match f.key.as_str() {
                "name" => name = self.string(f),
                "activity" if stage => activity = self.word::<Activity>(f),
                "when" => when = self.expr(f),
                "otherwise" => otherwise = self.bool(f).map(|b| (b, f)),
                _ => self.unknown(f, &place, keys),
            }
        }
        let at = self.table_at(&n.span, &n.span);
        if !has(entries, "name") {
            self.missing("name", &place, at, "add `name = \"...\"`".to_string());
        }
        if stage && !has(entries, "activity") {
            let help = "add `activity = \"retention\"` (or another QCI activity)".to_string();
            self.missing("activity", &place, at, help);
        }
        let condition = match otherwise {
            Some((true, f)) => {
                if has(entries, "when") {
                    let at = self.span(&f.span());
                    let help = format!(
                        "remove `when` to make this the unconditional last {what}, \
                         or remove `otherwise`"
                    );
                    self.bad_value(
                        format!("a {what} cannot have both `when` and `otherwise = true`"),
                        at,
                        Some(help),
                    );
                    return None;
                }
                None
            }
            _ => {
                if !has(entries, "when") {
                    let help = format!(
                        "add `when = \"<condition>\"`, or `otherwise = true` for the \
                         unconditional last {what}"
                    );
                    self.missing("when", &place, at, help);
                }
                Some(when?)
            }
        };
        if stage && activity.is_none() {
            return None;
        }
        Some(Tier {
            name: name?,
            activity,
            condition,
            span: self.span(&n.span),
            comments: no_comments(),
        })
    }

    fn triggers(&mut self, e: &Entry) -> Vec<Trigger> {
        let help = "write each trigger as a `[triggers.<name>]` table".to_string();
        let Some(entries) = self.table(e, help) else {
            return Vec::new();
        };
        entries.iter().filter_map(|t| self.trigger(t)).collect()
    }

    fn trigger(&mut self, t: &Entry) -> Option<Trigger> {
        let Kind::Table(entries) = &t.value.kind else {
            let help = format!(
                "write a `[triggers.{}]` table with the trigger's keys",
                t.key
            );
            self.wrong_type(
                &format!("trigger `{}`", t.key),
                "a table",
                &t.value,
                Some(help),
            );
            return None;
        };
        let place = format!("in trigger `{}`", t.key);
        let (mut activity, mut condition, mut channel, mut consent) = (None, None, None, None);
        let mut address = None;
        let (mut priority, mut cooldown, mut actions) = (None, None, Vec::new());
        let (mut service, mut reentry, mut holdout, mut volume) = (None, None, None, None);
        for f in entries {
            match f.key.as_str() {
                "activity" => activity = self.word::<Activity>(f),
                "when" => condition = self.expr(f),
                "channel" => channel = self.word::<ChannelKind>(f),
                "consent" => consent = self.string(f).map(|c| (c, f)),
                "address" => address = self.string(f).map(|a| (a, f)),
                "priority" => priority = self.int(f),
                "cooldown" => cooldown = self.duration(f),
                "service" => service = self.string(f),
                "reentry" => reentry = self.word::<Reentry>(f),
                "holdout" => holdout = self.holdout(f),
                "volume" => volume = self.volume(f),
                "actions" => actions = self.actions(f, &t.key),
                _ => self.unknown(f, &place, TRIGGER_KEYS),
            }
        }
        let named = consent.as_ref().or(address.as_ref()).map(|(_, f)| *f);
        let channel = match (channel, named) {
            (Some(kind), _) => {
                let last = [&consent, &address]
                    .into_iter()
                    .flatten()
                    .map(|(c, _)| c.span)
                    .max_by_key(|s| s.end);
                let span = last.map_or(kind.span, |end| kind.span.to(end));
                Some(Channel {
                    kind,
                    consent: consent.map(|(c, _)| c),
                    address: address.map(|(a, _)| a),
                    span,
                })
            }
            (None, Some(f)) if !has(entries, "channel") => {
                let help = format!(
                    "`{}` names a field of the trigger's channel: add `channel = \"...\"` too",
                    f.key
                );
                let at = self.span(&f.key_span);
                self.missing("channel", &place, at, help);
                None
            }
            _ => None,
        };
        Some(Trigger {
            name: Spanned::new(t.key.clone(), self.span(&t.key_span)),
            activity,
            condition,
            channel,
            priority,
            service,
            cooldown,
            reentry,
            holdout,
            volume,
            actions,
            span: self.span(&t.value.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        })
    }

    fn duration(&mut self, e: &Entry) -> Option<Spanned<Duration>> {
        if let Kind::Int(n) = e.value.kind {
            // A bare number has no unit: name the units rather than suggest quoting it.
            let help = format!(
                "write a duration with its unit: `{} = \"{n}d\"` (days, or `w` weeks, `m` months)",
                e.key
            );
            let what = format!("`{}`", e.key);
            self.wrong_type(&what, "a duration string", &e.value, Some(help));
            return None;
        }
        let s = self.string(e)?;
        match s.value.parse::<Duration>() {
            Ok(d) => Some(Spanned::new(d, s.span)),
            Err(message) => {
                self.bad_value(message, s.span, None);
                None
            }
        }
    }

    fn actions(&mut self, e: &Entry, trigger: &str) -> Vec<Action> {
        let Kind::Array(items) = &e.value.kind else {
            let help = format!("write each action as a `[[triggers.{trigger}.actions]]` table");
            self.wrong_type("`actions`", "an array of tables", &e.value, Some(help));
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|n| self.action(n, trigger))
            .collect()
    }

    fn action(&mut self, n: &Node, trigger: &str) -> Option<Action> {
        let Kind::Table(entries) = &n.kind else {
            let help = format!("write each action as a `[[triggers.{trigger}.actions]]` table");
            self.wrong_type("each action", "a table", n, Some(help));
            return None;
        };
        let place = match name_in(entries, "name") {
            Some(name) => format!("in action `{name}` of trigger `{trigger}`"),
            None => format!("in an action of trigger `{trigger}`"),
        };
        let (mut name, mut template, mut offer, mut params) = (None, None, None, Vec::new());
        for f in entries {
            match f.key.as_str() {
                "name" => name = self.string(f),
                "template" => template = self.string(f),
                "offer" => offer = self.string(f),
                "params" => params = self.params(f, trigger),
                _ => self.unknown(f, &place, ACTION_KEYS),
            }
        }
        if !has(entries, "name") {
            let at = self.table_at(&n.span, &n.span);
            self.missing("name", &place, at, "add `name = \"...\"`".to_string());
        }
        Some(Action {
            name: name?,
            template,
            offer,
            params,
            span: self.span(&n.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        })
    }

    fn params(&mut self, e: &Entry, trigger: &str) -> Vec<Param> {
        let help = format!(
            "write a `[triggers.{trigger}.actions.params]` table below the action's other keys"
        );
        let Some(entries) = self.table(e, help) else {
            return Vec::new();
        };
        entries.iter().filter_map(|p| self.param(p)).collect()
    }

    fn param(&mut self, p: &Entry) -> Option<Param> {
        let at = self.span(&p.value.span);
        let raw = self.text.get(p.value.span.clone());
        // A number or boolean is the expression its canonical text spells; verbatim when the
        // file spells it that way too (`15`, not `1_5`).
        let expr = |source: String| {
            ParamValue::Expr(Expr {
                verbatim: raw == Some(source.as_str()),
                source,
                span: at,
            })
        };
        let value = match &p.value.kind {
            Kind::Str(s) => {
                ParamValue::Template(Spanned::new(s.clone(), self.content(&p.value.span, s).0))
            }
            Kind::Int(i) => expr(i.to_string()),
            Kind::Float(x) => expr(Literal::Decimal(*x).to_string()),
            Kind::Bool(b) => expr(b.to_string()),
            Kind::Table(entries) => {
                let place = format!("in parameter `{}`", p.key);
                let mut source = None;
                for f in entries {
                    match f.key.as_str() {
                        "expr" => source = self.expr(f),
                        _ => self.unknown(f, &place, EXPR_KEYS),
                    }
                }
                if !has(entries, "expr") {
                    let help = format!("write an expression as `{} = {{ expr = \"...\" }}`", p.key);
                    let at = self.table_at(&p.value.span, &p.span());
                    self.missing("expr", &place, at, help);
                }
                ParamValue::Expr(source?)
            }
            Kind::Array(_) | Kind::Datetime(_) => {
                let help = format!(
                    "write a text as `{0} = \"...\"`, an expression as `{0} = {{ expr = \"...\" }}`",
                    p.key
                );
                self.wrong_type(
                    &format!("parameter `{}`", p.key),
                    "a string, number, boolean or `{ expr = \"...\" }`",
                    &p.value,
                    Some(help),
                );
                return None;
            }
        };
        Some(Param {
            name: Spanned::new(p.key.clone(), self.span(&p.key_span)),
            value,
            span: self.span(&p.span()),
            comments: no_comments(),
        })
    }
    fn tests(&mut self, e: &Entry) -> Vec<TestCase> {
        let Kind::Array(items) = &e.value.kind else {
            let help = "write each test as a `[[tests]]` table".to_string();
            self.wrong_type("`tests`", "an array of tables", &e.value, Some(help));
            return Vec::new();
        };
        items.iter().filter_map(|n| self.test(n)).collect()
    }

    fn test(&mut self, n: &Node) -> Option<TestCase> {
        let Kind::Table(entries) = &n.kind else {
            let help = "write each test as a `[[tests]]` table".to_string();
            self.wrong_type("each test", "a table", n, Some(help));
            return None;
        };
        let place = match name_in(entries, "name") {
            Some(name) => format!("in test `{name}`"),
            None => "in this test".to_string(),
        };
        let mut test = TestCase {
            name: Spanned::new(String::new(), self.span(&n.span)),
            as_of: None,
            from: None,
            values: Vec::new(),
            history: Vec::new(),
            expect: Expect::default(),
            span: self.span(&n.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        };
        let mut named = false;
        for f in entries {
            match f.key.as_str() {
                "name" => {
                    if let Some(name) = self.string(f) {
                        test.name = name;
                        named = true;
                    }
                }
                "as_of" => {
                    let text = match &f.value.kind {
                        Kind::Datetime(t) => {
                            Some(Spanned::new(t.clone(), self.span(&f.value.span)))
                        }
                        _ => self.string(f),
                    };
                    if let Some(text) = text {
                        match NaiveDate::parse_from_str(&text.value, "%Y-%m-%d") {
                            Ok(d) => test.as_of = Some(Spanned::new(d, text.span)),
                            Err(_) => self.bad_value(
                                format!("`{}` is not a date: expected `YYYY-MM-DD`", text.value),
                                text.span,
                                Some("a test decides at a fixed date, e.g. `2026-11-01`".into()),
                            ),
                        }
                    }
                }
                "from" => test.from = self.test_row(f, &place),
                "customer" => {
                    let help = "write the field values in a `[tests.customer]` table".to_string();
                    if let Some(values) = self.table(f, help) {
                        for v in values {
                            if let Some(value) = self.test_value(v) {
                                test.values.push(TestField {
                                    name: Spanned::new(v.key.clone(), self.span(&v.key_span)),
                                    value,
                                    comments: no_comments(),
                                });
                            }
                        }
                    }
                }
                "expect" => test.expect = self.expect(f, &place),
                "history" => test.history = self.history(f, &place),
                _ => self.unknown(f, &place, TEST_KEYS),
            }
        }
        if !named {
            let at = self.table_at(&n.span, &n.span);
            self.missing("name", &place, at, "add `name = \"...\"`".to_string());
            return None;
        }
        Some(test)
    }

    fn test_row(&mut self, e: &Entry, place: &str) -> Option<TestRow> {
        let help = "write `from = { file = \"...\", id = \"...\" }` or `row = N`".to_string();
        let entries = self.table(e, help.clone())?;
        let (mut file, mut select) = (None, None);
        for f in entries {
            match f.key.as_str() {
                "file" => file = self.string(f),
                "id" => {
                    select = self
                        .string(f)
                        .map(|id| Spanned::new(RowSelect::Id(id.value), id.span))
                }
                "row" => {
                    select = self.int(f).and_then(|n| match u64::try_from(n.value) {
                        Ok(row) if row > 0 => Some(Spanned::new(RowSelect::Row(row), n.span)),
                        _ => {
                            self.bad_value(
                                format!("row `{}` is not a row number", n.value),
                                n.span,
                                Some("rows count from 1, the first after the header".into()),
                            );
                            None
                        }
                    })
                }
                _ => self.unknown(f, &format!("in `from` {place}"), FROM_KEYS),
            }
        }
        let at = self.span(&e.span());
        if !has(entries, "file") {
            self.missing("file", &format!("in `from` {place}"), at, help.clone());
        }
        if !has(entries, "id") && !has(entries, "row") {
            self.missing("id", &format!("in `from` {place}"), at, help);
        }
        Some(TestRow {
            file: file?,
            select: select?,
        })
    }

    /// A test value: a string (dates too), number, boolean, array of strings, a TOML date, or
    /// `{ missing = true }`.
    fn test_value(&mut self, e: &Entry) -> Option<Spanned<TestValue>> {
        let at = self.span(&e.value.span);
        let value = match &e.value.kind {
            Kind::Str(s) => TestValue::Str(s.clone()),
            Kind::Datetime(t) => TestValue::Str(t.clone()),
            Kind::Int(i) => TestValue::Int(*i),
            Kind::Float(x) => TestValue::Decimal(*x),
            Kind::Bool(b) => TestValue::Bool(*b),
            Kind::Array(items) => {
                let mut list = Vec::new();
                for item in items {
                    match &item.kind {
                        Kind::Str(s) => list.push(s.clone()),
                        _ => {
                            self.wrong_type("each item", "a string", item, None);
                            return None;
                        }
                    }
                }
                TestValue::List(list)
            }
            Kind::Table(entries)
                if entries.len() == 1
                    && entries[0].key == "missing"
                    && matches!(entries[0].value.kind, Kind::Bool(true)) =>
            {
                TestValue::Missing
            }
            Kind::Table(_) => {
                let help = format!("write `{} = {{ missing = true }}` for no value", e.key);
                self.wrong_type(
                    &format!("`{}`", e.key),
                    "a value or `{ missing = true }`",
                    &e.value,
                    Some(help),
                );
                return None;
            }
        };
        Some(Spanned::new(value, at))
    }

    fn expect(&mut self, e: &Entry, place: &str) -> Expect {
        let mut expect = Expect::default();
        let help = "write what the test expects in a `[tests.expect]` table".to_string();
        let Some(entries) = self.table(e, help) else {
            return expect;
        };
        for f in entries {
            match f.key.as_str() {
                "segments" => expect.segments = self.names(f),
                "not_segments" => expect.not_segments = self.names(f),
                "tier" => expect.tier = self.string(f),
                "stage" => expect.stage = self.string(f),
                "fires" => expect.fires = self.names(f),
                "not_fires" => expect.not_fires = self.names(f),
                "params" => {
                    let help = "write `\"action.parameter\" = value` lines in a \
                                `[tests.expect.params]` table"
                        .to_string();
                    if let Some(params) = self.table(f, help) {
                        for p in params {
                            if let Some(value) = self.test_value(p) {
                                expect.params.push(ExpectParam {
                                    path: Spanned::new(p.key.clone(), self.span(&p.key_span)),
                                    value,
                                    comments: no_comments(),
                                });
                            }
                        }
                    }
                }
                "suppressed" => {
                    let help = "write `trigger = \"reason\"` lines in a \
                                `[tests.expect.suppressed]` table"
                        .to_string();
                    if let Some(lines) = self.table(f, help) {
                        for line in lines {
                            let trigger = Spanned::new(line.key.clone(), self.span(&line.key_span));
                            if let Some(reason) = self.string(line) {
                                expect.suppressed.push((trigger, reason));
                            }
                        }
                    }
                }
                _ => self.unknown(f, &format!("in `expect` {place}"), EXPECT_KEYS),
            }
        }
        expect
    }

    /// `history = [{ trigger = "winback", ago = "20d", arm = "control" }, ...]`.
    fn history(&mut self, e: &Entry, place: &str) -> Vec<PastContact> {
        let example = "write `history = [{ trigger = \"winback\", ago = \"20d\" }]`";
        let place = format!("in `history` {place}");
        let mut history = Vec::new();
        for (entries, at) in self.array_of_tables(e, "each earlier contact", example) {
            let (mut trigger, mut ago, mut arm) = (None, None, None);
            for f in entries {
                match f.key.as_str() {
                    "trigger" => trigger = self.string(f),
                    "ago" => ago = self.duration(f),
                    "arm" => arm = self.word::<Arm>(f),
                    _ => self.unknown(f, &place, PAST_CONTACT_KEYS),
                }
            }
            self.require(entries, &["trigger", "ago"], &place, at, example);
            if let (Some(trigger), Some(ago)) = (trigger, ago) {
                history.push(PastContact {
                    trigger,
                    ago,
                    arm,
                    comments: no_comments(),
                });
            }
        }
        history
    }

    /// An array of names.
    fn names(&mut self, e: &Entry) -> Vec<Ident> {
        let Kind::Array(items) = &e.value.kind else {
            let help = format!("write `{} = [\"a\", \"b\"]`", e.key);
            self.wrong_type(
                &format!("`{}`", e.key),
                "an array of names",
                &e.value,
                Some(help),
            );
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| match &item.kind {
                Kind::Str(s) => Some(Spanned::new(s.clone(), self.content(&item.span, s).0)),
                _ => {
                    self.wrong_type("each name", "a string", item, None);
                    None
                }
            })
            .collect()
    }
}

/// `[orders]`, `[[scores]]`, `[[tables]]` and `[model]`; and `[contacts]`.
impl Reader<'_> {
    /// `[contacts]`: `customer = { from = "..." }` per column, or `channel = "email"`.
    fn contacts(&mut self, e: &Entry) -> Option<ContactLog> {
        let help = "write a `[contacts]` table with a line per column of the contact log, \
                    e.g. `customer = { from = \"Customer ID\" }`";
        let entries = self.table(e, help.to_string())?;
        let mut log = ContactLog {
            columns: Vec::new(),
            channel: None,
            span: self.span(&e.value.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        };
        for f in entries {
            let Ok(role) = f.key.parse::<ContactRole>() else {
                self.unknown(f, "in `[contacts]`", ContactRole::WORDS);
                continue;
            };
            if role == ContactRole::Channel && matches!(f.value.kind, Kind::Str(_)) {
                log.channel = self.word::<ChannelKind>(f);
                continue;
            }
            let Kind::Table(options) = &f.value.kind else {
                let help = format!("write `{} = {{ from = \"<column header>\" }}`", f.key);
                let what = format!("contacts column `{}`", f.key);
                self.wrong_type(&what, "a table", &f.value, Some(help));
                continue;
            };
            let place = format!("in contacts column `{}`", f.key);
            let (mut column, mut formats) = (None, Vec::new());
            for o in options {
                match o.key.as_str() {
                    "from" => column = self.string(o),
                    "format" => formats = self.strings(o),
                    _ => self.unknown(o, &place, &["from", "format"]),
                }
            }
            if !has(options, "from") {
                let at = self.table_at(&f.value.span, &f.span());
                let help = "add `from = \"...\"`, the header of the log's column".to_string();
                self.missing("from", &place, at, help);
            }
            if let Some(column) = column {
                log.columns.push(ContactColumn {
                    role: Spanned::new(role, self.span(&f.key_span)),
                    column,
                    formats,
                    span: self.span(&f.span()),
                    comments: no_comments(),
                });
            }
        }
        Some(log)
    }

    fn orders(&mut self, e: &Entry) -> Option<Orders> {
        let help = "write an `[orders]` table with a line per orders-file column, \
                    e.g. `customer = { from = \"Customer ID\" }`";
        let entries = self.table(e, help.to_string())?;
        let mut o = Orders::empty(self.span(&e.value.span));
        for f in entries {
            if let Ok(role) = f.key.parse::<OrderRole>() {
                if let Some(column) = self.order_column(f, role) {
                    o.columns.push(column);
                }
                continue;
            }
            if let Ok(kind) = f.key.parse::<TotalKind>() {
                if let Some(field) = self.string(f) {
                    o.totals.push(OrderTotal {
                        kind: Spanned::new(kind, self.span(&f.key_span)),
                        field,
                        span: self.span(&f.span()),
                        comments: no_comments(),
                    });
                }
                continue;
            }
            match f.key.as_str() {
                "period" => o.period = self.word::<crate::model::Period>(f),
                "lookback" => o.lookback = self.duration(f),
                "unmatched_orders" => o.unmatched = self.word::<UnmatchedOrders>(f),
                "customers_without_orders" => o.without_orders = self.word::<WithoutOrders>(f),
                _ => self.unknown(f, "in `[orders]`", ORDERS_KEYS),
            }
        }
        Some(o)
    }

    /// `date = { from = "Order Date", format = "%Y%m%d" }`: a column of the orders file.
    fn order_column(&mut self, f: &Entry, role: OrderRole) -> Option<OrderColumn> {
        let Kind::Table(entries) = &f.value.kind else {
            let help = format!(
                "write `{} = {{ from = \"<column header>\" }}` (or `\"#N\"` for the N-th column)",
                f.key
            );
            let what = format!("orders column `{}`", f.key);
            self.wrong_type(&what, "a table", &f.value, Some(help));
            return None;
        };
        let place = format!("in orders column `{}`", f.key);
        let (mut column, mut format) = (None, FieldFormat::default());
        for o in entries {
            match o.key.as_str() {
                "from" => column = self.string(o),
                "format" => format.dates = self.strings(o),
                "currency" => format.currency = self.string(o),
                "thousands" => format.thousands = self.string(o),
                "decimal" => format.decimal = self.string(o),
                _ => self.unknown(o, &place, ORDER_COLUMN_KEYS),
            }
        }
        if !has(entries, "from") {
            let at = self.table_at(&f.value.span, &f.span());
            let help = "add `from = \"...\"`, the header of the orders file's column \
                        (or `\"#N\"` for the N-th column)"
                .to_string();
            self.missing("from", &place, at, help);
        }
        Some(OrderColumn {
            role: Spanned::new(role, self.span(&f.key_span)),
            column: column?,
            format,
            span: self.span(&f.span()),
            comments: no_comments(),
        })
    }

    fn scores(&mut self, e: &Entry) -> Vec<Score> {
        let Kind::Array(items) = &e.value.kind else {
            let help = "write each score as a `[[scores]]` table".to_string();
            self.wrong_type("`scores`", "an array of tables", &e.value, Some(help));
            return Vec::new();
        };
        items.iter().filter_map(|n| self.score(n)).collect()
    }

    fn score(&mut self, n: &Node) -> Option<Score> {
        let Kind::Table(entries) = &n.kind else {
            let help = "write each score as a `[[scores]]` table".to_string();
            self.wrong_type("each score", "a table", n, Some(help));
            return None;
        };
        let place = match name_in(entries, "name") {
            Some(name) => format!("in score `{name}`"),
            None => "in this score".to_string(),
        };
        let (mut name, mut source, mut bins, mut ties, mut edges) = (None, None, None, None, None);
        let mut reverse = false;
        for f in entries {
            match f.key.as_str() {
                "name" => name = self.string(f),
                "of" => source = self.string(f),
                "bins" => bins = self.bins(f),
                "reverse" => reverse = self.bool(f).unwrap_or(false),
                "ties" => ties = self.ties(f, &place),
                "edges" => edges = self.edges(f),
                _ => self.unknown(f, &place, SCORE_KEYS),
            }
        }
        let at = self.table_at(&n.span, &n.span);
        if !has(entries, "name") {
            self.missing("name", &place, at, "add `name = \"...\"`".to_string());
        }
        if !has(entries, "of") {
            let help = "add `of = \"...\"`, the order variable or numeric field it scores, \
                        e.g. `of = \"rfm_recency_days\"`"
                .to_string();
            self.missing("of", &place, at, help);
        }
        Some(Score {
            name: name?,
            source: source?,
            bins,
            reverse,
            ties,
            edges,
            span: self.span(&n.span),
            comments: no_comments(),
        })
    }

    fn bins(&mut self, e: &Entry) -> Option<Spanned<u32>> {
        let n = self.int(e)?;
        match u32::try_from(n.value) {
            Ok(v) => Some(Spanned::new(v, n.span)),
            Err(_) => {
                let message = format!("`bins` must be a number of bins, found `{}`", n.value);
                let help = "a score has 3 to 10 bins (5 when not given)".to_string();
                self.bad_value(message, n.span, Some(help));
                None
            }
        }
    }

    /// `ties = "together"` or `ties = { hash = "salt" }`.
    fn ties(&mut self, e: &Entry, place: &str) -> Option<Spanned<Ties>> {
        let help = || "write `ties = \"together\"` or `ties = { hash = \"<salt>\" }`".to_string();
        match &e.value.kind {
            Kind::Str(s) => {
                let at = self.content(&e.value.span, s).0;
                if s == "together" {
                    return Some(Spanned::new(Ties::Together, at));
                }
                let message = format!(
                    "`{s}` is not a way to split ties: expected `together` or `{{ hash = \"...\" }}`"
                );
                self.bad_value(message, at, Some(help()));
                None
            }
            Kind::Table(entries) => {
                let place = format!("in `ties` {place}");
                let mut salt = None;
                for f in entries {
                    match f.key.as_str() {
                        "hash" => salt = self.string(f),
                        _ => self.unknown(f, &place, TIES_KEYS),
                    }
                }
                if !has(entries, "hash") {
                    let at = self.table_at(&e.value.span, &e.span());
                    self.missing("hash", &place, at, help());
                }
                Some(Spanned::new(
                    Ties::Hash(salt?.value),
                    self.span(&e.value.span),
                ))
            }
            _ => {
                let expected = "`\"together\"` or `{ hash = \"...\" }`";
                self.wrong_type("`ties`", expected, &e.value, Some(help()));
                None
            }
        }
    }

    /// `edges = [1.0, 2.5, 4.0]`: at least one finite number.
    fn edges(&mut self, e: &Entry) -> Option<Spanned<Vec<f64>>> {
        let help = || "write the edges lowest first: `edges = [1.0, 2.5, 4.0]`".to_string();
        let Kind::Array(items) = &e.value.kind else {
            self.wrong_type("`edges`", "an array of numbers", &e.value, Some(help()));
            return None;
        };
        let at = self.span(&e.value.span);
        if items.is_empty() {
            let message = "`edges` must hold at least one number".to_string();
            self.bad_value(message, at, Some(help()));
            return None;
        }
        let mut edges = Vec::new();
        for item in items {
            edges.push(self.number(item, "each edge")?);
        }
        Some(Spanned::new(edges, at))
    }

    /// A finite number, integer or float.
    fn number(&mut self, n: &Node, what: &str) -> Option<f64> {
        let x = match n.kind {
            Kind::Int(i) => i as f64,
            Kind::Float(x) => x,
            _ => {
                self.wrong_type(what, "a number", n, None);
                return None;
            }
        };
        if x.is_finite() {
            return Some(x);
        }
        let raw = self.text.get(n.span.clone()).unwrap_or("");
        let at = self.span(&n.span);
        self.bad_value(format!("`{raw}` is out of range"), at, None);
        None
    }

    fn tables(&mut self, e: &Entry) -> Vec<CellTable> {
        let Kind::Array(items) = &e.value.kind else {
            let help = "write each table as a `[[tables]]` table".to_string();
            self.wrong_type("`tables`", "an array of tables", &e.value, Some(help));
            return Vec::new();
        };
        items.iter().filter_map(|n| self.cell_table(n)).collect()
    }

    fn cell_table(&mut self, n: &Node) -> Option<CellTable> {
        let Kind::Table(entries) = &n.kind else {
            let help = "write each table as a `[[tables]]` table".to_string();
            self.wrong_type("each table", "a table", n, Some(help));
            return None;
        };
        let table = name_in(entries, "name");
        let place = match table {
            Some(name) => format!("in table `{name}`"),
            None => "in this table".to_string(),
        };
        let (mut name, mut over, mut preset, mut rules) = (None, None, None, None);
        for f in entries {
            match f.key.as_str() {
                "name" => name = self.string(f),
                "over" => over = Some((self.names(f), f)),
                "preset" => preset = self.string(f).map(|p| (p, f)),
                "rules" => rules = Some(self.cell_rules(f, table)),
                _ => self.unknown(f, &place, TABLE_KEYS),
            }
        }
        let at = self.table_at(&n.span, &n.span);
        if !has(entries, "name") {
            self.missing("name", &place, at, "add `name = \"...\"`".to_string());
        }
        let help = "add `over = [\"r\", \"f\"]`, the scores of its axes".to_string();
        let over = match over {
            Some((_, f)) if matches!(&f.value.kind, Kind::Array(a) if a.is_empty()) => {
                let message = "`over` must name at least one score".to_string();
                let at = self.span(&f.value.span);
                self.bad_value(message, at, Some(help));
                None
            }
            Some((over, _)) => Some(over),
            None => {
                self.missing("over", &place, at, help);
                None
            }
        };
        let body = match (preset, rules) {
            (Some((_, f)), Some(_)) => {
                let help = "remove `preset` to use the `[[tables.rules]]` written here, \
                            or the rules to use the preset"
                    .to_string();
                let at = self.span(&f.span());
                let message = "a table has either a `preset` or `rules`, not both".to_string();
                self.bad_value(message, at, Some(help));
                return None;
            }
            (Some((preset, _)), None) => TableBody::Preset(preset),
            (None, rules) => TableBody::Rules(rules.unwrap_or_default()),
        };
        Some(CellTable {
            name: name?,
            over: over?,
            body,
            span: self.span(&n.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        })
    }

    fn cell_rules(&mut self, e: &Entry, table: Option<&str>) -> Vec<CellRule> {
        let help = || match table {
            Some(t) => format!("write each rule of table `{t}` as a `[[tables.rules]]` table"),
            None => "write each rule as a `[[tables.rules]]` table".to_string(),
        };
        let Kind::Array(items) = &e.value.kind else {
            self.wrong_type("`rules`", "an array of tables", &e.value, Some(help()));
            return Vec::new();
        };
        let mut rules = Vec::new();
        for n in items {
            let Kind::Table(entries) = &n.kind else {
                self.wrong_type("each rule", "a table", n, Some(help()));
                continue;
            };
            rules.extend(self.cell_rule(n, entries, table));
        }
        rules
    }

    /// `name = "top"` and a range per score: `r = "4..5"`, `m = 5` (or, for a score named
    /// `name` or `ranges`, all of them in `ranges = { ... }`).
    fn cell_rule(&mut self, n: &Node, entries: &[Entry], table: Option<&str>) -> Option<CellRule> {
        let of = table.map_or(String::new(), |t| format!(" of table `{t}`"));
        let place = match name_in(entries, "name") {
            Some(name) => format!("in rule `{name}`{of}"),
            None => format!("in a rule{of}"),
        };
        let (mut name, mut ranges, mut ok) = (None, Vec::new(), true);
        for f in entries {
            match (f.key.as_str(), &f.value.kind) {
                ("name", _) => name = self.string(f),
                ("ranges", Kind::Table(inner)) => {
                    for r in inner {
                        let range = self.cell_range(r);
                        ok &= range.is_some();
                        ranges.extend(range);
                    }
                }
                _ => {
                    let range = self.cell_range(f);
                    ok &= range.is_some();
                    ranges.extend(range);
                }
            }
        }
        let at = self.table_at(&n.span, &n.span);
        if !has(entries, "name") {
            self.missing("name", &place, at, "add `name = \"...\"`".to_string());
        }
        if ok && ranges.is_empty() {
            let message = format!("no score range {place}");
            let help = "add the range of each score the rule takes, e.g. `r = \"4..5\"`";
            self.error(Code::MissingKey, message, at, Some(help.to_string()));
            return None;
        }
        Some(CellRule {
            name: name?,
            ranges,
            span: self.span(&n.span),
            comments: no_comments(),
        })
        .filter(|_| ok)
    }

    /// `r = "4..5"` or `r = 5`.
    fn cell_range(&mut self, e: &Entry) -> Option<CellRange> {
        let (text, at) = match &e.value.kind {
            Kind::Int(i) => (i.to_string(), self.span(&e.value.span)),
            Kind::Str(s) => (s.clone(), self.content(&e.value.span, s).0),
            _ => {
                let help = format!(
                    "write `{0} = \"4..5\"` for a range, `{0} = 5` for one score",
                    e.key
                );
                let what = format!("the range of `{}`", e.key);
                self.wrong_type(
                    &what,
                    "a string such as `\"4..5\"` or an integer",
                    &e.value,
                    Some(help),
                );
                return None;
            }
        };
        let (lo, hi) = text.split_once("..").unwrap_or((&text, &text));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(lo) && digits(hi)) {
            let message = format!("`{text}` is not a score range");
            let help = format!(
                "write `{0} = \"4..5\"` for a range, `{0} = 5` for one score",
                e.key
            );
            self.bad_value(message, at, Some(help));
            return None;
        }
        match (lo.parse::<u8>(), hi.parse::<u8>()) {
            (Ok(lo), Ok(hi)) => Some(CellRange {
                score: Spanned::new(e.key.clone(), self.span(&e.key_span)),
                range: Spanned::new((lo, hi), at),
            }),
            _ => {
                let message = format!("`{text}` is out of range: scores run from 1 to 10");
                self.bad_value(message, at, None);
                None
            }
        }
    }

    fn model(&mut self, e: &Entry) -> Option<Model> {
        let help = "write a `[model]` table, e.g. with `horizon = \"12m\"`".to_string();
        let entries = self.table(e, help)?;
        let mut m = Model {
            horizon: None,
            discount: None,
            bgnbd: None,
            gamma_gamma: None,
            span: self.span(&e.value.span),
            comments: no_comments(),
            inner: InnerComments::default(),
        };
        for f in entries {
            match f.key.as_str() {
                "horizon" => m.horizon = self.duration(f),
                "discount" => m.discount = self.discount(f),
                "bgnbd" => {
                    let v = self.model_params(f, &BGNBD_PARAMS);
                    m.bgnbd =
                        v.map(|v| Spanned::new([v[0], v[1], v[2], v[3]], self.span(&f.span())));
                }
                "gamma_gamma" => {
                    let v = self.model_params(f, &GAMMA_GAMMA_PARAMS);
                    m.gamma_gamma =
                        v.map(|v| Spanned::new([v[0], v[1], v[2]], self.span(&f.span())));
                }
                _ => self.unknown(f, "in `[model]`", MODEL_KEYS),
            }
        }
        Some(m)
    }

    /// `discount = 1.5`: a monthly rate in percent, 0 or more.
    fn discount(&mut self, e: &Entry) -> Option<Spanned<f64>> {
        let at = self.span(&e.value.span);
        let x = match &e.value.kind {
            Kind::Int(i) => *i as f64,
            Kind::Float(x) => *x,
            kind => {
                let help = match kind {
                    Kind::Str(s) => {
                        let n = s.trim().trim_end_matches('%').trim_end();
                        n.parse::<f64>()
                            .is_ok()
                            .then(|| format!("write the percent as a number: `discount = {n}`"))
                    }
                    _ => None,
                };
                self.wrong_type("`discount`", "a number (percent)", &e.value, help);
                return None;
            }
        };
        if x.is_finite() && x >= 0.0 {
            return Some(Spanned::new(x, at));
        }
        let raw = self.text.get(e.value.span.clone()).unwrap_or("");
        let message = format!("`discount` must be a percentage of 0 or more, found `{raw}`");
        self.bad_value(message, at, Some("write 1% as `discount = 1`".to_string()));
        None
    }

    /// `bgnbd = { r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 }`: every parameter of
    /// `names`, each a positive number.
    fn model_params(&mut self, e: &Entry, names: &[&str]) -> Option<Vec<f64>> {
        let example = names
            .iter()
            .map(|n| format!("{n} = ..."))
            .collect::<Vec<_>>()
            .join(", ");
        let help = format!("write `{} = {{ {example} }}`", e.key);
        let entries = self.table(e, help)?;
        let place = format!("in `{}`", e.key);
        let mut values: Vec<Option<f64>> = vec![None; names.len()];
        let mut ok = true;
        for p in entries {
            let Some(i) = names.iter().position(|n| *n == p.key) else {
                self.unknown(p, &place, names);
                ok = false;
                continue;
            };
            let value = match p.value.kind {
                Kind::Int(i) => Some(i as f64),
                Kind::Float(x) => Some(x),
                _ => {
                    self.wrong_type(&format!("`{}`", p.key), "a number", &p.value, None);
                    None
                }
            };
            match value {
                Some(v) if v.is_finite() && v > 0.0 => values[i] = Some(v),
                Some(_) => {
                    let raw = self.text.get(p.value.span.clone()).unwrap_or("");
                    let message = format!("`{}` must be a positive number, found `{raw}`", p.key);
                    let at = self.span(&p.value.span);
                    self.bad_value(message, at, None);
                    ok = false;
                }
                None => ok = false,
            }
        }
        let at = self.table_at(&e.value.span, &e.span());
        for (name, _) in names.iter().zip(&values).filter(|(_, v)| v.is_none()) {
            if !has(entries, name) {
                let help = format!("pin every parameter: {}", list(names));
                self.missing(name, &place, at, help);
            }
        }
        values
            .into_iter()
            .collect::<Option<Vec<f64>>>()
            .filter(|_| ok)
    }
}
