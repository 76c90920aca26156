//! A generic TOML tree with byte spans on every key and value, tables in document order.
//!
//! The `toml` crate parses the text; this module deserializes it through serde into [`Node`]s.
//! Spans come from the `toml` crate's span protocol (the one `toml::Spanned` uses), which we speak
//! directly so that values without a span (implicit tables such as `triggers` in
//! `[triggers.x]`, the inside of date-times) deserialize too instead of failing.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::ops::Range;

// The names of `serde_spanned`'s span protocol (toml 0.8 / toml_edit 0.22), and toml's marker key
// for date-times. A test in `super::tests` fails if a dependency update changes them.
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";
const SPANNED_FIELDS: &[&str] = &[START, END, VALUE];
const DATETIME: &str = "$__toml_private_datetime";

/// Marks a span the parser did not give; [`fill`] replaces it.
const UNKNOWN: Range<usize> = usize::MAX..usize::MAX;

/// A TOML value and the byte range it was written at (delimiters included).
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub kind: Kind,
    pub span: Range<usize>,
}

/// The kinds of TOML value.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A date, time or date-time, in its TOML text form.
    Datetime(String),
    Array(Vec<Node>),
    /// Entries in document order.
    Table(Vec<Entry>),
}

/// One `key = value` of a table.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Node,
}

impl Entry {
    /// From the key to the end of the value (or the whole table, for `[header]` tables).
    pub fn span(&self) -> Range<usize> {
        self.key_span.start.min(self.value.span.start)..self.key_span.end.max(self.value.span.end)
    }
}

/// Parses TOML text into its root table's entries.
pub(super) fn parse(text: &str) -> Result<Vec<Entry>, ::toml::de::Error> {
    let mut root = ::toml::from_str::<Node>(text)?;
    fill(&mut root, 0..text.len());
    match root.kind {
        Kind::Table(entries) => Ok(entries),
        _ => Ok(Vec::new()),
    }
}

/// Gives every node without a span the nearest known one: its key's, else its parent's.
fn fill(node: &mut Node, fallback: Range<usize>) {
    if node.span == UNKNOWN {
        node.span = fallback;
    }
    match &mut node.kind {
        Kind::Array(items) => {
            for item in items {
                fill(item, node.span.clone());
            }
        }
        Kind::Table(entries) => {
            for entry in entries {
                if entry.key_span == UNKNOWN {
                    entry.key_span = node.span.clone();
                }
                fill(&mut entry.value, entry.key_span.clone());
            }
        }
        _ => {}
    }
}

impl<'de> Deserialize<'de> for Node {
    /// The value itself, without asking for its span (the document root, a spanned value's inside).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor { spanned: false })
    }
}

/// A node whose span is asked for.
struct SpannedNode(Node);

impl<'de> Deserialize<'de> for SpannedNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SpannedNode, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, NodeVisitor { spanned: true })
            .map(SpannedNode)
    }
}

/// A table key and its span, when the parser has one.
struct Key {
    name: String,
    span: Range<usize>,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key {
            name: v.to_string(),
            span: UNKNOWN,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        let (mut start, mut end, mut name) = (None, None, None);
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                START => start = Some(map.next_value::<usize>()?),
                END => end = Some(map.next_value::<usize>()?),
                VALUE => name = Some(map.next_value::<String>()?),
                _ => return Err(de::Error::custom("unexpected span field in a key")),
            }
        }
        match (start, end, name) {
            (Some(start), Some(end), Some(name)) => Ok(Key {
                name,
                span: start..end,
            }),
            _ => Err(de::Error::custom("incomplete span of a key")),
        }
    }
}

/// Visits any value; `spanned` when the deserializer was asked for the span protocol.
struct NodeVisitor {
    spanned: bool,
}

fn unspanned(kind: Kind) -> Node {
    Node {
        kind,
        span: UNKNOWN,
    }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(unspanned(Kind::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(unspanned(Kind::Int(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(unspanned(Kind::Int(v))),
            Err(_) => Ok(unspanned(Kind::Float(v as f64))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(unspanned(Kind::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(unspanned(Kind::Str(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(unspanned(Kind::Str(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(SpannedNode(item)) = seq.next_element::<SpannedNode>()? {
            items.push(item);
        }
        Ok(unspanned(Kind::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let Some(first) = map.next_key::<Key>()? else {
            return Ok(unspanned(Kind::Table(Vec::new())));
        };
        if self.spanned && first.name == START {
            return spanned_node(map);
        }
        if first.name == DATETIME {
            let text = map.next_value::<String>()?;
            return Ok(unspanned(Kind::Datetime(text)));
        }
        let mut entries = Vec::new();
        let mut key = Some(first);
        while let Some(Key { name, span }) = key {
            let SpannedNode(value) = map.next_value::<SpannedNode>()?;
            entries.push(Entry {
                key: name,
                key_span: span,
                value,
            });
            key = map.next_key::<Key>()?;
        }
        Ok(unspanned(Kind::Table(entries)))
    }
}

/// The rest of the span protocol once its start key was read: start, end, then the value.
fn spanned_node<'de, A: MapAccess<'de>>(mut map: A) -> Result<Node, A::Error> {
    let start = map.next_value::<usize>()?;
    let mut end = None;
    let mut value = None;
    while let Some(field) = map.next_key::<String>()? {
        match field.as_str() {
            END => end = Some(map.next_value::<usize>()?),
            VALUE => value = Some(map.next_value::<Node>()?),
            _ => return Err(de::Error::custom("unexpected span field in a value")),
        }
    }
    match (end, value) {
        (Some(end), Some(mut node)) => {
            node.span = start..end;
            Ok(node)
        }
        _ => Err(de::Error::custom("incomplete span of a value")),
    }
}
