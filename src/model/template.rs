//! The placeholders of a parameter text: `{first_name}`, `{spent:money}`,
//! `{renewal:date "%d %B"}`, `{first_name ?? "there"}`; `{{` and `}}` are literal braces.

use std::ops::Range;

/// How a placeholder prints its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextFormat {
    /// `:money`: a number with two decimals (halves away from zero) and `,` between thousands,
    /// `1,234.50`.
    Money,
    /// `:date "%d %B"`: a date or date-time written with a strftime pattern.
    Date(String),
}

/// The format words a placeholder may name.
const FORMATS: [&str; 2] = ["money", "date"];

/// A `{name}` placeholder of a text, with its byte ranges inside the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder<'a> {
    pub name: &'a str,
    /// Where the name is.
    pub name_range: Range<usize>,
    pub format: Option<TextFormat>,
    /// `?? "text"`: what the placeholder gives when the value is missing.
    pub fallback: Option<&'a str>,
    /// The whole placeholder, braces included.
    pub range: Range<usize>,
}

/// A placeholder that cannot be read, with where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderError {
    /// The bytes of the text at fault.
    pub range: Range<usize>,
    pub message: String,
    pub help: String,
}

/// The forms a placeholder takes, for help texts.
const FORMS: &str =
    "a placeholder is `{name}`, `{name:money}`, `{name:date \"%d %B\"}` or `{name ?? \"fallback\"}`";

/// The placeholders of `template`, in order; each one that cannot be read is an error.
pub fn placeholders(template: &str) -> Vec<Result<Placeholder<'_>, PlaceholderError>> {
    let mut out = Vec::new();
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
            b'}' if bytes.get(i + 1) == Some(&b'}') => i += 2,
            b'{' => match closing(template, i + 1) {
                Some(end) => {
                    out.push(placeholder(template, i, end));
                    i = end + 1;
                }
                None => {
                    out.push(Err(PlaceholderError {
                        range: i..template.len(),
                        message: "this `{` opens a placeholder that is never closed".into(),
                        help: "close it with `}`, or write `{{` for a brace".into(),
                    }));
                    break;
                }
            },
            _ => i += 1,
        }
    }
    out
}

/// The `}` closing the placeholder whose content starts at `from`: the first one outside
/// quotes.
fn closing(template: &str, from: usize) -> Option<usize> {
    let mut quoted = false;
    for (at, c) in template[from..].char_indices() {
        match c {
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(from + at),
            _ => {}
        }
    }
    None
}

/// The placeholder between the `{` at `open` and the `}` at `close`.
fn placeholder(
    template: &str,
    open: usize,
    close: usize,
) -> Result<Placeholder<'_>, PlaceholderError> {
    let mut r = Reader {
        text: template,
        at: open + 1,
        end: close,
    };
    let fail = |range: Range<usize>, message: String| PlaceholderError {
        range,
        message,
        help: FORMS.into(),
    };
    r.blanks();
    let name_range = r.word();
    if name_range.is_empty() {
        return Err(fail(
            open..close + 1,
            format!("`{}` holds no name", &template[open..=close]),
        ));
    }
    r.blanks();
    let mut format = None;
    if r.eat(":") {
        r.blanks();
        let word = r.word();
        let name = &template[word.clone()];
        r.blanks();
        let argument = if r.peek() == Some('"') {
            let at = r.at;
            let quoted = r.quoted();
            Some(quoted.ok_or_else(|| fail(at..close, "this quote is never closed".into()))?)
        } else {
            None
        };
        format = Some(match (name, argument) {
            ("money", None) => TextFormat::Money,
            ("money", Some((_, range))) => {
                return Err(fail(range, "`money` takes no pattern".into()));
            }
            ("date", Some((pattern, range))) => {
                date_pattern(pattern).map_err(|why| fail(range, why))?;
                TextFormat::Date(pattern.to_string())
            }
            ("date", None) => {
                return Err(PlaceholderError {
                    range: word,
                    message: "`date` needs a pattern".into(),
                    help: "write one after it, e.g. `{renewal:date \"%d %B %Y\"}`".into(),
                })
            }
            (other, _) => {
                let range = if word.is_empty() { r.at..close } else { word };
                let mut help = FORMS.to_string();
                if let Some(near) = crate::diagnostics::closest(other, FORMATS) {
                    help = format!("did you mean `{near}`?");
                }
                return Err(PlaceholderError {
                    range,
                    message: format!("`{other}` is not a format: `money` and `date` are"),
                    help,
                });
            }
        });
        r.blanks();
    }
    let mut fallback = None;
    if r.eat("??") {
        r.blanks();
        let Some((text, _)) = r.quoted() else {
            return Err(PlaceholderError {
                range: r.at..close,
                message: "`??` needs a quoted text after it".into(),
                help: format!(
                    "write what to show without a value, e.g. `{{{} ?? \"there\"}}`",
                    &template[name_range.clone()]
                ),
            });
        };
        fallback = Some(text);
        r.blanks();
    }
    if r.at < close {
        return Err(fail(
            r.at..close,
            format!("unexpected `{}` in a placeholder", &template[r.at..close]),
        ));
    }
    Ok(Placeholder {
        name: &template[name_range.clone()],
        name_range,
        format,
        fallback,
        range: open..close + 1,
    })
}

/// Whether `pattern` is a strftime pattern chrono can write.
fn date_pattern(pattern: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
        Err(format!(
            "`{pattern}` is not a date pattern: `%d %B %Y` writes `31 January 2026`"
        ))
    } else {
        Ok(())
    }
}

/// A cursor over a placeholder's content, `text[at..end]`.
struct Reader<'a> {
    text: &'a str,
    at: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..self.end]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn blanks(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    /// A name (letters, digits, `_`, not starting with a digit); empty when none is here.
    fn word(&mut self) -> Range<usize> {
        let start = self.at;
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c == '_' || c.is_alphanumeric()) || (i == 0 && c.is_ascii_digit()))
            .map_or(rest.len(), |(i, _)| i);
        self.at += len;
        start..self.at
    }

    /// `"text"`: the text and the range of the whole, quotes included.
    fn quoted(&mut self) -> Option<(&'a str, Range<usize>)> {
        let rest = self.rest();
        let body = rest.strip_prefix('"')?;
        let len = body.find('"')?;
        let start = self.at;
        self.at += len + 2;
        Some((&body[..len], start..self.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Placeholder<'_>> {
        placeholders(text)
            .into_iter()
            .map(|p| p.unwrap_or_else(|e| panic!("{text}: {e:?}")))
            .collect()
    }

    fn error(text: &str) -> PlaceholderError {
        let all = placeholders(text);
        all.into_iter()
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("{text} reads"))
    }

    #[test]
    fn finds_placeholders_and_skips_escaped_braces() {
        let t = "Hi {first_name}, {{not}} {  tier }!";
        let found = read(t);
        let names: Vec<_> = found.iter().map(|p| p.name).collect();
        assert_eq!(names, ["first_name", "tier"]);
        assert_eq!(found[0].range, 3..15);
        assert_eq!(found[1].name_range, 28..32);
    }

    #[test]
    fn reads_formats_and_fallbacks() {
        let t = r#"{first_name ?? "there"}, {spent:money} by {renewal : date "%d %B" ?? "soon"}"#;
        let found = read(t);
        assert_eq!(found[0].fallback, Some("there"));
        assert_eq!(found[0].format, None);
        assert_eq!(found[1].format, Some(TextFormat::Money));
        assert_eq!(found[2].format, Some(TextFormat::Date("%d %B".into())));
        assert_eq!(found[2].fallback, Some("soon"));
        // A brace inside a fallback does not close the placeholder.
        assert_eq!(read(r#"{a ?? "}"}!"#)[0].fallback, Some("}"));
    }

    #[test]
    fn says_what_is_wrong_and_where() {
        let e = error("Hi {first_name");
        assert_eq!(
            (e.range, e.message.as_str()),
            (3..14, "this `{` opens a placeholder that is never closed")
        );
        let e = error("{spent:mony}");
        assert_eq!(e.range, 7..11);
        assert_eq!(e.help, "did you mean `money`?");
        assert_eq!(error("{d:date}").message, "`date` needs a pattern");
        assert!(error(r#"{d:date "%Q"}"#)
            .message
            .contains("`%Q` is not a date pattern"));
        assert_eq!(
            error("{a ?? there}").message,
            "`??` needs a quoted text after it"
        );
        assert_eq!(
            error("{first name}").message,
            "unexpected `name` in a placeholder"
        );
        assert_eq!(error("{}").message, "`{}` holds no name");
        assert_eq!(
            error(r#"{spent:money "$"}"#).message,
            "`money` takes no pattern"
        );
    }
}
