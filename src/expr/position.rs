//! Mapping rhai positions (1-based line and character column inside an expression's text) to
//! byte spans in the rule file.

use crate::model::Expr;
use crate::source::Span;
use rhai::Position;

/// The span of the character at `pos` (empty at the end of the text).
///
/// Exact when the expression is the file text byte for byte (`expr.verbatim`); otherwise, or
/// when `pos` is [`Position::NONE`], the whole expression.
pub fn span_at(expr: &Expr, pos: Position) -> Span {
    span_at_len(expr, pos, 1)
}

/// The span of `chars` characters from `pos` (a name at that position), not crossing a line
/// end; the whole expression when the position cannot be mapped exactly (see [`span_at`]).
pub fn span_at_len(expr: &Expr, pos: Position, chars: usize) -> Span {
    if !expr.verbatim {
        return expr.span;
    }
    let Some(start) = offset_of(&expr.source, pos) else {
        return expr.span;
    };
    let end = expr.source[start..]
        .char_indices()
        .take_while(|&(_, c)| c != '\n')
        .nth(chars)
        .map_or_else(
            || {
                let rest = &expr.source[start..];
                start + rest.find('\n').unwrap_or(rest.len())
            },
            |(i, _)| start + i,
        );
    let at = |offset: usize| (expr.span.start + offset).min(expr.span.end.max(expr.span.start));
    Span::new(expr.span.file, at(start), at(end))
}

/// The line and the column (characters from 1) of `pos`; `None` for [`Position::NONE`] and
/// for a column rhai cannot count: it stops at the largest `u16`, after which every position
/// of the line has that column.
fn line_column(pos: Position) -> Option<(usize, usize)> {
    // Column 0 (`None`) is the beginning of the line.
    let (line, column) = (pos.line()?, pos.position().unwrap_or(1));
    (column < usize::from(u16::MAX)).then_some((line, column))
}

/// The byte offset of `pos` in `source`; `None` for [`Position::NONE`] and a column rhai
/// cannot count. Positions past the end of a line or of the text clamp to that end.
pub fn offset_of(source: &str, pos: Position) -> Option<usize> {
    let (line, column) = line_column(pos)?;
    let mut line_start = 0;
    for _ in 1..line {
        match source[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return Some(source.len()),
        }
    }
    let rest = &source[line_start..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    Some(
        line_start
            + rest[..line_end]
                .char_indices()
                .nth(column - 1)
                .map_or(line_end, |(i, _)| i),
    )
}

/// Byte offsets of many positions in `source`, asked in increasing order (a tokenizer's): one
/// pass over the source instead of one per position ([`offset_of`]).
pub struct Offsets<'s> {
    source: &'s str,
    line: usize,
    column: usize,
    /// The byte offset of (`line`, `column`).
    at: usize,
}

impl<'s> Offsets<'s> {
    /// Offsets in `source`, from its start.
    pub fn new(source: &'s str) -> Offsets<'s> {
        Offsets {
            source,
            line: 1,
            column: 1,
            at: 0,
        }
    }

    /// The byte offset of `pos`; `None` as [`offset_of`] gives it, and for a position before
    /// the last one asked or past the end of its line or of the text.
    pub fn of(&mut self, pos: Position) -> Option<usize> {
        let (line, column) = line_column(pos)?;
        if (line, column) < (self.line, self.column) {
            return None;
        }
        while self.line < line {
            self.at += self.source[self.at..].find('\n')? + 1;
            (self.line, self.column) = (self.line + 1, 1);
        }
        while self.column < column {
            let c = self.source[self.at..].chars().next()?;
            if c == '\n' {
                return None;
            }
            self.at += c.len_utf8();
            self.column += 1;
        }
        Some(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, LineCol, SourceFile};

    /// A file with an expression on lines 2-3 whose text has non-ASCII characters.
    fn fixture(verbatim: bool) -> (SourceFile, Expr) {
        let text = "metric name = 1\nsegment é = \"ü\" + x\n    > 3 // ok\n".to_string();
        let start = text.find("\"ü\"").unwrap();
        let end = text.find(" //").unwrap();
        let expr = Expr {
            source: text[start..end].to_string(),
            span: Span::new(FileId(0), start, end),
            verbatim,
        };
        (SourceFile::new("rules.idic", text), expr)
    }

    fn at(file: &SourceFile, span: Span) -> (LineCol, LineCol) {
        (file.line_col(span.start), file.line_col(span.end))
    }

    #[test]
    fn verbatim_positions_map_exactly() {
        let (file, expr) = fixture(true);
        // `x` is line 1, column 7 of the expression (after the 3-character `"ü"`).
        let span = span_at(&expr, Position::new(1, 7));
        assert_eq!(&file.text[span.start..span.end], "x");
        assert_eq!(
            at(&file, span).0,
            LineCol {
                line: 2,
                column: 19
            }
        );
        // `3` is line 2, column 7 of the expression.
        let span = span_at(&expr, Position::new(2, 7));
        assert_eq!(&file.text[span.start..span.end], "3");
        assert_eq!(at(&file, span).0, LineCol { line: 3, column: 7 });
        // A name's span covers its characters, not beyond the line.
        let span = span_at_len(&expr, Position::new(1, 1), 3);
        assert_eq!(&file.text[span.start..span.end], "\"ü\"");
        let span = span_at_len(&expr, Position::new(1, 7), 50);
        assert_eq!(&file.text[span.start..span.end], "x");
    }

    #[test]
    fn positions_past_the_end_clamp() {
        let (file, expr) = fixture(true);
        let span = span_at(&expr, Position::new(2, 40));
        assert_eq!(span.start, expr.span.end);
        assert_eq!(span.end, expr.span.end);
        let span = span_at(&expr, Position::new(9, 1));
        assert_eq!(span.start, expr.span.end);
        assert_eq!(at(&file, span).0, LineCol { line: 3, column: 8 });
        // Column 0 is the start of the line.
        let span = span_at(&expr, Position::new(2, 0));
        assert_eq!(at(&file, span).0, LineCol { line: 3, column: 1 });
    }

    #[test]
    fn unescaped_text_and_no_position_give_the_whole_expression() {
        let (_, expr) = fixture(false);
        let span = span_at(&expr, Position::new(1, 7));
        assert_eq!((span.start, span.end), (expr.span.start, expr.span.end));
        let (_, expr) = fixture(true);
        let span = span_at(&expr, Position::NONE);
        assert_eq!((span.start, span.end), (expr.span.start, expr.span.end));
    }

    #[test]
    fn a_column_rhai_cannot_count_is_no_place() {
        // rhai's columns stop at the largest u16: the character there is not the one meant.
        let long = format!("{} + x", "1".repeat(70_000));
        let lost = Position::new(1, u16::MAX);
        assert_eq!(offset_of(&long, lost), None);
        assert_eq!(Offsets::new(&long).of(lost), None);
        let counted = Position::new(1, u16::MAX - 1);
        assert_eq!(offset_of(&long, counted), Some(usize::from(u16::MAX) - 2));
        assert_eq!(Offsets::new(&long).of(counted), offset_of(&long, counted));
    }

    #[test]
    fn offsets_in_one_pass_are_those_of_offset_of() {
        let (_, expr) = fixture(true);
        let text = &expr.source;
        let mut offsets = Offsets::new(text);
        for pos in [
            Position::new(1, 1),
            Position::new(1, 3),
            Position::new(2, 5),
        ] {
            assert_eq!(offsets.of(pos), offset_of(text, pos), "{pos:?}");
        }
        // Asked out of order, or past a line's end: no answer rather than a wrong one.
        assert_eq!(offsets.of(Position::new(1, 2)), None);
        assert_eq!(Offsets::new(text).of(Position::new(1, 40)), None);
    }
}
