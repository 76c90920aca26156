//! Text from exports and rule files made safe to show people: control characters written as
//! visible escapes on terminals ([`printable`], [`printable_lines`]) and in JSON
//! ([`write_json`], [`json_pretty`]), CSV cells defused for spreadsheets
//! ([`spreadsheet_cell`]), and padding to a width that cannot panic ([`pad`]).

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
pub fn spreadsheet_cell(cell: &str) -> Cow<'_, str> {
    let cell = escape(cell, |c| matches!(c, '\t' | '\n' | '\r'), Escape::Json);
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

/// `text` with its control characters, except those `keep` accepts, escaped in `style`.
fn escape(text: &str, keep: impl Fn(char) -> bool, style: Escape) -> Cow<'_, str> {
    // C0 and DEL are single bytes; C1 (U+0080 to U+009F) is 0xC2 then a second byte. Most text
    // has none of these bytes and is returned after one pass over its bytes.
    let suspect = |b: &u8| *b < 0x20 || *b == 0x7f || *b == 0xc2;
    let escaped = |c: char| c.is_control() && !keep(c);
    let Some(first) = text
        .bytes()
        .position(|b| suspect(&b))
        .and_then(|from| text[from..].find(escaped).map(|at| from + at))
    else {
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

/// Writes `value` as compact JSON, as `serde_json` does, but with DEL and the C1 controls
/// escaped too (`\u009b`): `serde_json` escapes only C0, and a terminal may act on C1 (U+009B is
/// a control sequence introducer). The JSON means the same.
pub fn write_json<W: std::io::Write, T: serde::Serialize + ?Sized>(
    out: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer =
        serde_json::Serializer::with_formatter(out, Controls(serde_json::ser::CompactFormatter));
    value.serialize(&mut serializer)
}

/// `value` as pretty JSON with a final line feed, controls escaped as by [`write_json`].
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = Controls(serde_json::ser::PrettyFormatter::new());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Values built by idic serialize (string keys, finite numbers).
    value
        .serialize(&mut serializer)
        .expect("idic's values serialize as JSON");
    out.push(b'\n');
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// A `serde_json` formatter escaping DEL and C1 besides what `F` escapes.
struct Controls<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Controls<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut from = 0;
        // DEL is 0x7F, C1 is 0xC2 then 0x80 to 0x9F.
        for at in memchr::memchr2_iter(0x7f, 0xc2, fragment.as_bytes()) {
            let Some(c) = fragment[at..].chars().next().filter(|c| c.is_control()) else {
                continue;
            };
            out.write_all(&fragment.as_bytes()[from..at])?;
            write!(out, "\\u{:04x}", u32::from(c))?;
            from = at + c.len_utf8();
        }
        out.write_all(&fragment.as_bytes()[from..])
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
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
        assert_eq!(
            pretty,
            serde_json::to_string_pretty(&back)
                .unwrap()
                .replace('\u{9b}', "\\u009b")
                .replace('\u{7f}', "\\u007f")
                + "\n"
        );
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
}
