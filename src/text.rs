//! Text from exports and rule files made safe to show people: control characters written as
//! visible escapes on terminals ([`printable`], [`printable_lines`]) and in JSON
//! ([`escape_json_controls`], [`write_json`], [`json_pretty`]), CSV cells defused for spreadsheets
//! ([`spreadsheet_cell`]), and padding to a width that cannot panic ([`pad`]); and the small
//! writing helpers every layer shares: a rule-language string literal ([`quote`]), numbers
//! grouped by thousands ([`group`], [`money_text`]) and rounded to cents ([`cents`]).

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// How a control character is made visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// `\u{1b}`, as Rust writes it: terminal output.
    Braced,
    /// `\u001b`, as JSON writes it: CSV cells, where a JSON cell (`params`) stays valid JSON.
    Json,
}

/// `text` with every control character (C0, DEL and C1, tabs and line breaks included) written
/// as `\u{1b}`, so that data and rule text printed on a terminal can neither send it escape
/// sequences nor break or fake lines. Borrowed when there is nothing to escape; backslashes are
/// left alone, so the result is for reading, not for parsing back.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |_| false, Escape::Braced)
}

/// [`printable`] for a message of several lines: its line feeds are kept, every other control
/// character is escaped.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n', Escape::Braced)
}

/// A CSV cell as spreadsheet-safe CSV writes it, defused against formula injection: a cell
/// starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front, so that a
/// spreadsheet reads it as text and never as a formula; control characters other than tab,
/// line feed and carriage return (which CSV quoting carries) are written as `\u001b`.
#[inline]
pub fn spreadsheet_cell(cell: &str) -> Cow<'_, str> {
    // Most cells of a decision are empty or names: done in a few instructions. A cell's first
    // byte is the same before and after escaping but for an escaped control, which then
    // starts with `\`.
    if !defused_by_spreadsheet_cell(cell.as_bytes()) {
        return Cow::Borrowed(cell);
    }
    let cell = escape(cell, |c| matches!(c, '\t' | '\n' | '\r'), Escape::Json);
    if formula(cell.as_bytes()) {
        Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

/// Whether [`spreadsheet_cell`] may change a cell of these bytes: a writer holding bytes it
/// knows to be text can write any other cell as it is, without reading it as UTF-8.
#[inline]
pub fn defused_by_spreadsheet_cell(cell: &[u8]) -> bool {
    formula(cell) || has_suspect_bytes(cell)
}

/// A cell a spreadsheet would read as a formula.
#[inline]
fn formula(cell: &[u8]) -> bool {
    matches!(
        cell.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Whether `text` may hold a control character: C0 and DEL are single bytes; C1 (U+0080 to
/// U+009F) is 0xC2 then a second byte. A fold of bitwise tests without an early exit: the
/// compiler checks many bytes at once.
#[inline]
fn has_suspect_bytes(text: &[u8]) -> bool {
    let suspect = |b: u8| (b < 0x20) | (b == 0x7f) | (b == 0xc2);
    text.iter().fold(false, |any, &b| any | suspect(b))
}

/// `text` with its control characters, except those `keep` accepts, escaped in `style`.
#[inline]
fn escape(text: &str, keep: impl Fn(char) -> bool, style: Escape) -> Cow<'_, str> {
    // Most text has no suspect byte and is returned after one pass over its bytes.
    if !has_suspect_bytes(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    escape_slowly(text, keep, style)
}

/// [`escape`] once a suspect byte is found.
#[cold]
fn escape_slowly(text: &str, keep: impl Fn(char) -> bool, style: Escape) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !keep(c);
    let Some(first) = text.find(escaped) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !escaped(c) {
            out.push(c);
            continue;
        }
        let code = u32::from(c);
        // Writing to a String cannot fail.
        let _ = match style {
            Escape::Braced => write!(out, "\\u{{{code:x}}}"),
            Escape::Json => write!(out, "\\u{code:04x}"),
        };
    }
    Cow::Owned(out)
}

/// Appends `text` with each of its quotes written twice, as inside a quoted CSV cell.
pub fn push_quotes_doubled(out: &mut Vec<u8>, text: &[u8]) {
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=at]);
        out.push(b'"');
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

/// Appends `value` as compact JSON, as `serde_json` writes it, with DEL and the C1 controls
/// escaped too ([`escape_json_controls`]). The JSON means the same.
pub fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    let from = out.len();
    serde_json::to_writer(&mut *out, value)?;
    escape_json_controls(out, from);
    Ok(())
}

/// `value` as pretty JSON with a final line feed, controls escaped as by [`write_json`].
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Values built by idic serialize (string keys, finite numbers).
    let mut out = serde_json::to_vec_pretty(value).expect("idic's values serialize as JSON");
    escape_json_controls(&mut out, 0);
    out.push(b'\n');
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Escapes DEL and the C1 controls (U+0080 to U+009F) in the JSON text `json[from..]` as
/// `\u007f`, `\u009b`...: `serde_json` escapes only C0, and a terminal may act on C1 (U+009B
/// is a control sequence introducer). Outside strings JSON is ASCII, so every such character
/// is in a string, where the escape means the same. One scan when there is none.
pub fn escape_json_controls(json: &mut Vec<u8>, from: usize) {
    // DEL is 0x7F; C1 is 0xC2 then 0x80 to 0x9F.
    let Some(first) = memchr::memchr2(0x7f, 0xc2, &json[from..]).map(|at| from + at) else {
        return;
    };
    let tail = json.split_off(first);
    let mut bytes = tail.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        let code = match (b, bytes.peek()) {
            (0x7f, _) => 0x7f,
            (0xc2, Some(&next)) if (0x80..=0x9f).contains(&next) => {
                bytes.next();
                next
            }
            _ => {
                json.push(b);
                continue;
            }
        };
        json.extend_from_slice(format!("\\u{code:04x}").as_bytes());
    }
}

/// `items` listed in a sentence: `a, b and c` (`conjunction` "and" or "or").
pub fn listing(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

/// `text` followed by spaces up to `width` characters: what `{:width$}` does for a string, but
/// for any width (`format!` panics on a width over 65,535, which a long name can reach).
pub fn pad(text: &str, width: usize) -> Padded<'_> {
    Padded { text, width }
}

/// A text padded to a width, see [`pad`].
#[derive(Debug, Clone, Copy)]
pub struct Padded<'a> {
    text: &'a str,
    width: usize,
}

impl fmt::Display for Padded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SPACES: &str = "                                ";
        f.write_str(self.text)?;
        let mut fill = self.width.saturating_sub(self.text.chars().count());
        while fill > 0 {
            let n = fill.min(SPACES.len());
            f.write_str(&SPACES[..n])?;
            fill -= n;
        }
        Ok(())
    }
}

/// A string literal of the rule language for `value`, escaped so that
/// `syntax::dsl::unescape` gives it back.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rounds to cents.
pub fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `1234567.5` as `1,234,567.50`.
pub fn money_text(x: f64) -> String {
    group_decimal(&format!("{x:.2}"))
}

/// `-1234567.50` as `-1,234,567.50`.
pub fn group_decimal(text: &str) -> String {
    let (sign, digits) = text.split_at(usize::from(text.starts_with('-')));
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    format!("{sign}{}.{fraction}", group_digits(whole))
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    group_digits(&n.to_string())
}

fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_every_control_character_and_nothing_else() {
        assert!(matches!(printable("Ada Lovelace"), Cow::Borrowed(_)));
        assert!(matches!(printable("Zoë, 東京, a\\b"), Cow::Borrowed(_)));
        assert_eq!(printable("Customer\0 ID"), "Customer\\u{0} ID");
        assert_eq!(printable("\x1b[31mred\x1b[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(printable("a\tb\r\nc\x7f"), "a\\u{9}b\\u{d}\\u{a}c\\u{7f}");
        // C1 controls (here CSI and NEL) are escaped; the letters of the same UTF-8 lead byte
        // (0xC2: U+00A0 to U+00BF) are not.
        assert_eq!(printable("\u{9b}2J\u{85}£"), "\\u{9b}2J\\u{85}£");
        // Escaping twice changes nothing more.
        let once = printable("\x1b\u{9b}\n").into_owned();
        assert_eq!(printable(&once), once);
        // A message keeps its own lines.
        assert_eq!(printable_lines("a\x1b\nb\r\n"), "a\\u{1b}\nb\\u{d}\n");
    }

    #[test]
    fn json_escapes_del_and_c1_and_means_the_same() {
        let value = serde_json::json!({"id": "C1\u{9b}2J\u{7f}", "name": "Zoë £ \u{1b}", "n": [1]});
        let mut compact = Vec::new();
        write_json(&mut compact, &value).unwrap();
        let compact = String::from_utf8(compact).unwrap();
        assert_eq!(
            compact,
            r#"{"id":"C1\u009b2J\u007f","n":[1],"name":"Zoë £ \u001b"}"#
        );
        assert!(!compact.chars().any(char::is_control));
        let back: serde_json::Value = serde_json::from_str(&compact).unwrap();
        assert_eq!(back, value);
        let pretty = json_pretty(&value);
        assert!(pretty.contains(r#""id": "C1\u009b2J\u007f""#), "{pretty}");
        assert!(!pretty.chars().any(|c| c.is_control() && c != '\n'));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap(),
            value
        );
        // Only the part after `from` is looked at; the letters after 0xC2 are kept.
        let mut line = b"\x7f{}".to_vec();
        line.extend_from_slice("[\"\u{85}\u{a0}\u{7f}\"]".as_bytes());
        escape_json_controls(&mut line, 1);
        assert_eq!(line, "\u{7f}{}[\"\\u0085\u{a0}\\u007f\"]".as_bytes());
    }

    #[test]
    fn spreadsheet_cells_never_start_a_formula() {
        for cell in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "-12"] {
            assert_eq!(spreadsheet_cell(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["C000101", "", "{\"a.b\":{}}", "1-2", " =1", "'quoted"] {
            assert_eq!(spreadsheet_cell(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn spreadsheet_cells_show_controls_but_keep_line_breaks_and_tabs() {
        assert_eq!(spreadsheet_cell("a\x1b[2Jb"), "a\\u001b[2Jb");
        assert_eq!(
            spreadsheet_cell("a\x07\u{9b}\x7f"),
            "a\\u0007\\u009b\\u007f"
        );
        assert_eq!(
            spreadsheet_cell("line 1\nline 2\r\n\tend"),
            "line 1\nline 2\r\n\tend"
        );
        // An escaped control first: the cell starts with a backslash, no formula.
        assert_eq!(spreadsheet_cell("\x1b=1"), "\\u001b=1");
        // A JSON cell stays valid JSON, with the same value.
        let json = "{\"s\":\"del\u{7f} csi\u{9b}\"}";
        let safe = spreadsheet_cell(json);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }

    #[test]
    fn padding_counts_characters_and_has_no_limit() {
        assert_eq!(pad("ab", 4).to_string(), "ab  ");
        assert_eq!(pad("été", 4).to_string(), "été ");
        assert_eq!(pad("long", 2).to_string(), "long");
        assert_eq!(format!("{}|", pad("", 0)), "|");
        let wide = pad("x", 70_000).to_string();
        assert_eq!(wide.len(), 70_000);
        assert!(wide.starts_with('x') && wide.trim_end() == "x");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(money_text(1234567.5), "1,234,567.50");
        assert_eq!(money_text(-12.346), "-12.35");
        assert_eq!(money_text(0.0), "0.00");
    }
}
