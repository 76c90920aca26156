//! One JSONL line: a JSON object whose keys are column names.
//!
//! An export's line is read for its schema's columns only ([`Columns::line`]): each value is
//! kept as the line's own text ([`RawValue`]), and a string without escapes is later read in
//! place ([`plain_string`]), so a line costs no allocation per key or per string. A line is
//! refused exactly where [`json_object`] refuses it, with the same error: every key is checked
//! for being given once, and the few values that passing over as text checks less than
//! reading them (a `\u` escape, a number with an exponent or many digits, a deep list or
//! object) send the line through [`json_object`] as well. Other readers that need the whole
//! object (contact histories, orders) take [`json_object`].

use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The columns a schema reads from JSONL lines, each with its number.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    numbers: HashMap<String, usize, ahash::RandomState>,
}

impl Columns {
    /// The number of `column`, added if it is new.
    pub fn add(&mut self, column: &str) -> usize {
        let next = self.numbers.len();
        *self.numbers.entry(column.to_string()).or_insert(next)
    }

    /// The values of `text` (one JSONL line) for the columns, by number (`None`: the line has
    /// no such key). The error is the JSON reader's: not JSON, not an object, trailing text,
    /// or a key given twice.
    pub fn line<'t>(&self, text: &'t [u8]) -> Result<Line<'t>, serde_json::Error> {
        let mut reader = serde_json::Deserializer::from_slice(text);
        let mut unsure = memchr::memmem::find(text, b"\\u").is_some();
        let visitor = LineVisitor {
            columns: self,
            unsure: &mut unsure,
        };
        let read = (&mut reader)
            .deserialize_map(visitor)
            .and_then(|values| reader.end().map(|()| Line { values }));
        if !unsure {
            return read;
        }
        // The whole object's reading refuses the line where it does, with its error.
        json_object(text)?;
        read
    }
}

/// A JSONL line's values for a schema's columns, borrowed from the line.
#[derive(Debug)]
pub struct Line<'t> {
    values: Vec<Option<&'t RawValue>>,
}

impl<'t> Line<'t> {
    /// The value of column number `column`, as the line's JSON text.
    pub fn get(&self, column: usize) -> Option<&'t RawValue> {
        self.values.get(column).copied().flatten()
    }

    /// The id in column number `column`: a string, trimmed, unless empty, or a number.
    pub fn id(&self, column: usize) -> Option<String> {
        let raw = self.get(column)?;
        if let Some(text) = plain_string(raw) {
            let id = text.trim();
            return (!id.is_empty()).then(|| id.to_string());
        }
        match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// The text of a JSON string without escapes (`"gold"` gives `gold`), which is the string
/// itself; `None` for any other value.
pub fn plain_string(raw: &RawValue) -> Option<&str> {
    let text = raw.get().strip_prefix('"')?.strip_suffix('"')?;
    (!text.contains('\\')).then_some(text)
}

struct LineVisitor<'c> {
    columns: &'c Columns,
    /// Set when a value may be one that passing over it as text accepts and reading it would
    /// not (see [`unsure`]).
    unsure: &'c mut bool,
}

/// Whether `raw` may be a value that serde_json passes over as text but refuses to read: a
/// number out of a decimal's range (it has an exponent or many digits) or a list or object
/// nested deeper than its limit (it is long). (Lone surrogates come from `\u` escapes, which
/// [`Columns::line`] looks for in the whole line.)
fn unsure(raw: &RawValue) -> bool {
    let text = raw.get().as_bytes();
    match text.first() {
        Some(b'-' | b'0'..=b'9') => {
            text.len() > 300 || text.iter().any(|b| matches!(b, b'e' | b'E'))
        }
        Some(b'[' | b'{') => text.len() >= 200,
        _ => false,
    }
}

impl<'de> Visitor<'de> for LineVisitor<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with one key per column")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut keys: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.columns.numbers.len()];
        // Keys of no column, kept to find one given twice.
        let mut others = Others::default();
        while let Some(Key(key)) = keys.next_key()? {
            let column = self.columns.numbers.get(&*key).copied();
            let twice = match column {
                Some(c) => values[c].is_some(),
                None => !others.add(key.clone()),
            };
            if twice {
                return Err(given_twice(&key));
            }
            let value: &'de RawValue = keys.next_value()?;
            *self.unsure |= unsure(value);
            if let Some(c) = column {
                values[c] = Some(value);
            }
        }
        Ok(values)
    }
}

/// The keys of a line that are no column's: a few in a list, many in a set.
enum Others<'de> {
    Few(Vec<Cow<'de, str>>),
    Many(HashSet<Cow<'de, str>, ahash::RandomState>),
}

impl Default for Others<'_> {
    fn default() -> Self {
        Others::Few(Vec::new())
    }
}

impl<'de> Others<'de> {
    /// Adds `key`; `false` if it was there already.
    fn add(&mut self, key: Cow<'de, str>) -> bool {
        match self {
            Others::Few(keys) if keys.contains(&key) => return false,
            Others::Few(keys) if keys.len() < 16 => keys.push(key),
            Others::Few(keys) => {
                let mut set: HashSet<_, _> = keys.drain(..).collect();
                set.insert(key);
                *self = Others::Many(set);
            }
            Others::Many(keys) => return keys.insert(key),
        }
        true
    }
}

/// A key, borrowed from the line unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E: Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The error of a key given twice: JSON readers disagree on which of its values counts, so
/// the row says nothing for sure.
fn given_twice<E: Error>(key: &str) -> E {
    E::custom(format!(
        "the key `{}` is given twice",
        crate::text::printable(key)
    ))
}

/// A JSONL line as one object whose every key is there once (see [`given_twice`]).
pub fn json_object(
    text: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, serde_json::Error> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = serde_json::Map<String, serde_json::Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object with one key per column")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut keys: A) -> Result<Self::Value, A::Error> {
            let mut object = serde_json::Map::new();
            while let Some(key) = keys.next_key::<String>()? {
                match object.entry(key) {
                    serde_json::map::Entry::Occupied(given) => {
                        return Err(given_twice(given.key()));
                    }
                    serde_json::map::Entry::Vacant(place) => {
                        place.insert(keys.next_value()?);
                    }
                }
            }
            Ok(object)
        }
    }
    let mut reader = serde_json::Deserializer::from_slice(text);
    let object = (&mut reader).deserialize_map(Keys)?;
    reader.end()?;
    Ok(object)
}

/// A JSON reader's error without the position it appends (`at line 1 column 5`).
pub fn json_error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&at).unwrap_or(&text).to_string()
}

/// What kind of JSON value `v` is, in words.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "`null`",
        serde_json::Value::Bool(_) => "true/false",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn columns(names: &[&str]) -> Columns {
        let mut columns = Columns::default();
        for name in names {
            columns.add(name);
        }
        columns
    }

    /// A line read for its columns gives each column's value as the whole object has it, and
    /// fails exactly where [`json_object`] fails, with the same error.
    fn agrees(names: &[&str], text: &str) {
        let columns = columns(names);
        match (columns.line(text.as_bytes()), json_object(text.as_bytes())) {
            (Ok(line), Ok(object)) => {
                for name in names {
                    let got = line
                        .get(columns.numbers[*name])
                        .map(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).unwrap());
                    assert_eq!(got.as_ref(), object.get(*name), "{name} in {text}");
                }
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (a, b) => panic!("{text}: line {a:?}, object {b:?}"),
        }
    }

    #[test]
    fn lines_read_as_whole_objects_do() {
        let names = ["Id", "Spent", "Tags", "Name"];
        for text in [
            r#"{"Id":"C1","Spent":"$1,200.00","Tags":["vip"],"Name":null,"Notes":"x"}"#,
            r#"{ "Id" : 7 , "Spent": 12.5 }"#,
            r#"{"Na\u006de":"Zo\u00eb","Id":"C\"2"}"#,
            r#"{}"#,
            r#"{"Spent":1,"Spent":2}"#,
            r#"{"Notes":1,"Id":"C1","Notes":2}"#,
            r#"{"Na\u006de":1,"Name":2}"#,
            r#"["Id"]"#,
            r#"{"Id":"C1"} trailing"#,
            r#"{"Id":"C1","#,
            r#"{"Id":tru}"#,
            r#"{"Id":"C1","Notes":{"a":[1,{"b":null}]}}"#,
            // What passing over a value as text would let through, and reading refuses.
            r#"{"Id":"C1","Notes":"\ud800"}"#,
            r#"{"Id":"\udc00"}"#,
            r#"{"Id":"C1","Notes":1e400}"#,
            r#"{"Id":"C1","Spent":-1E400}"#,
            r#"{"Id":1e400,"Id":2}"#,
        ] {
            agrees(&names, text);
        }
        // Nested deeper than the reader's limit, in a column read or not.
        for key in ["Notes", "Tags"] {
            let deep = format!(
                r#"{{"Id":"C1","{key}":{}{}}}"#,
                "[".repeat(130),
                "]".repeat(130)
            );
            agrees(&names, &deep);
        }
        // Many keys of no column, one given twice at the end.
        let mut many: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
        many.push(r#""k7":0"#.to_string());
        agrees(&names, &format!("{{{}}}", many.join(",")));
    }

    #[test]
    fn plain_strings_are_read_in_place() {
        let line = columns(&["a", "b", "c", "d"]);
        let text = br#"{"a":"gold","b":"Zo\u00eb","c":12,"d":"say \"hi\""}"#;
        let line = line.line(text).unwrap();
        assert_eq!(plain_string(line.get(0).unwrap()), Some("gold"));
        assert_eq!(plain_string(line.get(1).unwrap()), None);
        assert_eq!(plain_string(line.get(2).unwrap()), None);
        assert_eq!(plain_string(line.get(3).unwrap()), None);
    }

    #[test]
    fn ids_are_trimmed_strings_or_numbers() {
        let columns = columns(&["Id"]);
        let id = |text: &str| columns.line(text.as_bytes()).unwrap().id(0);
        assert_eq!(id(r#"{"Id":" C1 "}"#), Some("C1".to_string()));
        assert_eq!(id(r#"{"Id":" C\u0031 "}"#), Some("C1".to_string()));
        assert_eq!(id(r#"{"Id":42}"#), Some("42".to_string()));
        assert_eq!(id(r#"{"Id":"  "}"#), None);
        assert_eq!(id(r#"{"Id":null}"#), None);
        assert_eq!(id(r#"{"Other":"C1"}"#), None);
    }

    proptest! {
        /// Random objects, with keys repeated, escaped and out of the columns.
        #[test]
        fn random_lines_read_as_whole_objects_do(
            entries in prop::collection::vec(
                (
                    prop::sample::select(vec!["Id", "Spent", "Notes", "N\\u0061me", "Name"]),
                    prop::sample::select(vec![
                        "\"C1\"", "12", "-0.5", "null", "true", "[\"a\",1]", "\"\\\"q\\\"\"",
                        "{\"x\":1}", "\"Zo\\u00eb\"", "\"\\ud800\"", "1e400", "2.5e3",
                    ]),
                ),
                0..6,
            ),
        ) {
            let body: Vec<String> =
                entries.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            agrees(&["Id", "Spent", "Name"], &format!("{{{}}}", body.join(",")));
        }
    }
}
