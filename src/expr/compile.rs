//! Compiling an expression with the names in scope, turning rhai's errors into diagnostics, and
//! finding the names an expression reads.

use super::position::{span_at, span_at_len};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::model;
use rhai::{
    ASTNode, Dynamic, Engine, Expr, LexError, ParseError, ParseErrorType, Position, Scope, Stmt,
    AST,
};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Functions rhai handles itself, which the function registry does not list.
const KEYWORD_FUNCTIONS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
];

/// Compiles `expr` with `names` (fields, metrics, segments, `tier`...) in scope; `as_of` is
/// always in scope.
///
/// Errors become diagnostics at the mapped position: `unknown-name` for a name not in scope
/// (with the closest name as help), `unknown-function` for a call to a function the engine does
/// not have, and `expr-syntax` for rhai's syntax errors, an empty expression or a function
/// definition. `engine` should come from [`super::engine`].
///
/// ```
/// use idic::expr::{compile, engine};
/// # use idic::{model::Expr, source::{FileId, Span}};
/// let engine = engine(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
/// let expr = Expr { source: "ordrs > 3".into(), span: Span::new(FileId(0), 0, 9), verbatim: true };
/// let diag = compile(&engine, &expr, &["orders"]).unwrap_err();
/// assert_eq!((diag.code.as_str(), diag.message.as_str()), ("unknown-name", "unknown name `ordrs`"));
/// assert_eq!(diag.help.as_deref(), Some("did you mean `orders`?"));
/// ```
pub fn compile(engine: &Engine, expr: &model::Expr, names: &[&str]) -> Result<AST, Diagnostic> {
    compile_in(engine, expr, &Visible::new(names.iter().copied()))
}

/// The variables expressions may read, prepared once for many compilations (a rule set with
/// thousands of names compiles thousands of expressions).
pub struct Visible {
    scope: Scope<'static>,
    /// Sorted, `as_of` included.
    names: Vec<String>,
}

impl Visible {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<String> = names.into_iter().map(str::to_string).collect();
        names.push("as_of".to_string());
        names.sort_unstable();
        names.dedup();
        let mut scope = Scope::new();
        for name in &names {
            scope.push_dynamic(name.clone(), Dynamic::UNIT);
        }
        Visible { scope, names }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

/// The rule set's expressions as `check` compiled them, found again by their text: compiled
/// once, then planned and evaluated. The text alone makes the tree (the sandbox does not
/// optimize); the names in scope only decide whether it compiles, and an expression that did
/// not is an error of `check`, so no plan is made.
#[derive(Debug, Clone, Default)]
pub struct Asts(HashMap<String, AST>);

impl Asts {
    /// Keeps `ast`, compiled from `expr`.
    pub fn insert(&mut self, expr: &model::Expr, ast: AST) {
        self.0.insert(expr.source.clone(), ast);
    }

    /// What `expr` compiled to, when `check` compiled it without error.
    pub fn get(&self, expr: &model::Expr) -> Option<&AST> {
        self.0.get(&expr.source)
    }
}

/// [`compile`] with the names in scope prepared once.
pub fn compile_in(
    engine: &Engine,
    expr: &model::Expr,
    visible: &Visible,
) -> Result<AST, Diagnostic> {
    if expr.source.trim().is_empty() {
        return Err(Diagnostic::error(Code::ExprSyntax, "the expression is empty").at(expr.span));
    }
    let ast = engine
        .compile_with_scope(&visible.scope, &expr.source)
        .map_err(|err| parse_diagnostic(expr, &err, &visible.names()))?;
    if let Some(f) = ast.iter_functions().find(|f| !f.name.starts_with("anon$")) {
        return Err(Diagnostic::error(
            Code::ExprSyntax,
            format!(
                "a rule expression cannot define functions such as `{}`",
                f.name
            ),
        )
        .at(expr.span)
        .help("write the calculation inline, or as a metric"));
    }
    check_break_values(expr, &ast)?;
    check_function_names(engine, expr, &ast, visible)?;
    check_numbers(expr, &ast)?;
    Ok(ast)
}

/// `break` with a value (`loop { break x }`): rhai's walk over an AST never visits that value,
/// so the names it reads, the numbers it writes and the functions it calls would escape every
/// analysis (the names in scope, the dry run's types, the fast operators).
fn check_break_values(expr: &model::Expr, ast: &AST) -> Result<(), Diagnostic> {
    let mut found = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::BreakLoop(Some(_), _, pos))) = path.last() {
            found = Some(*pos);
        }
        found.is_none()
    });
    match found {
        None => Ok(()),
        Some(pos) => Err(Diagnostic::error(
            Code::ExprSyntax,
            "a rule expression cannot `break` out of a loop with a value",
        )
        .at(span_at_len(expr, pos, "break".len()))
        .help("set a variable before `break`, and read it after the loop")),
    }
}

/// A decimal written too large for a number (`1e400`) would be an infinity.
fn check_numbers(expr: &model::Expr, ast: &AST) -> Result<(), Diagnostic> {
    let mut too_large = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::FloatConstant(x, pos))) = path.last() {
            if !x.is_finite() {
                too_large = Some(*pos);
            }
        }
        too_large.is_none()
    });
    match too_large {
        None => Ok(()),
        Some(pos) => Err(Diagnostic::error(
            Code::ExprSyntax,
            "a number too large for a decimal (beyond 1.8e308)",
        )
        .at(span_at(expr, pos))),
    }
}

/// A diagnostic for a rhai parse error in `expr`.
pub fn parse_diagnostic(expr: &model::Expr, err: &ParseError, names: &[&str]) -> Diagnostic {
    let ParseError(kind, pos) = err;
    match kind.as_ref() {
        ParseErrorType::VariableUndefined(name) => {
            let span = span_at_len(expr, *pos, name.chars().count());
            let diag =
                Diagnostic::error(Code::UnknownName, format!("unknown name `{name}`")).at(span);
            let known = names.iter().copied().chain(["as_of"]);
            match suggest(name, known) {
                Some(help) => diag.help(help),
                None => diag.help(format!(
                    "write text in quotes, e.g. `\"{name}\"`, or declare `{name}` as a field or metric"
                )),
            }
        }
        // rhai asks for a `;` where a block was left open at the end (`else { 0.0`).
        ParseErrorType::MissingToken(token, _) if token == ";" => match unclosed(&expr.source) {
            Some((at, open, close)) => Diagnostic::error(
                Code::ExprSyntax,
                format!("`{open}` is never closed with `{close}`"),
            )
            .at(span_at_len(expr, position_of(&expr.source, at), 1)),
            None => {
                Diagnostic::error(Code::ExprSyntax, syntax_message(kind)).at(span_at(expr, *pos))
            }
        },
        kind => {
            let diag = Diagnostic::error(Code::ExprSyntax, syntax_message(kind));
            match kind {
                ParseErrorType::BadInput(LexError::ImproperSymbol(s, _)) if s == "eval" => diag
                    .at(span_at_len(expr, *pos, s.len()))
                    .help("rule expressions cannot run code from text"),
                _ => diag.at(span_at(expr, *pos)),
            }
        }
    }
}

/// The innermost bracket `source` leaves open (brackets in strings do not count): its byte
/// offset, and the bracket with its partner.
fn unclosed(source: &str) -> Option<(usize, char, char)> {
    let mut open = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in source.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(q) if c == '\\' && q != '`' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '(' | '[' | '{' => open.push((i, c)),
                ')' | ']' | '}' => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    let (at, c) = open.pop()?;
    let close = match c {
        '(' => ')',
        '[' => ']',
        _ => '}',
    };
    Some((at, c, close))
}

/// The rhai position (1-based line and character column) of a byte offset in `source`.
fn position_of(source: &str, offset: usize) -> Position {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    Position::new(
        u16::try_from(line).unwrap_or(u16::MAX),
        u16::try_from(column).unwrap_or(u16::MAX),
    )
}

/// rhai's syntax error as one lowercase clause with tokens in backticks.
fn syntax_message(kind: &ParseErrorType) -> String {
    match kind {
        ParseErrorType::MissingToken(token, what) => format!("expecting `{token}` {what}"),
        ParseErrorType::UnknownOperator(op) => format!("unknown operator `{op}`"),
        ParseErrorType::Reserved(word) => {
            format!("`{word}` is reserved and cannot be used in a rule expression")
        }
        ParseErrorType::BadInput(LexError::ImproperSymbol(s, _)) if s == "eval" => {
            "`eval` is not allowed in a rule expression".to_string()
        }
        ParseErrorType::UnexpectedEOF => "the expression is incomplete".to_string(),
        ParseErrorType::ExprTooDeep => "the expression is nested too deeply".to_string(),
        kind => backticks(&super::lowercase_first(&kind.to_string())),
    }
}

/// Replaces rhai's `'x'` quoting (without spaces inside) by backticks.
fn backticks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('\'') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // `'''` quotes a quote.
        let close = if after.starts_with("''") {
            Some(1)
        } else {
            after.find('\'')
        };
        match close {
            Some(close) if close > 0 && !after[..close].contains(char::is_whitespace) => {
                out.push('`');
                out.push_str(&after[..close]);
                out.push('`');
                rest = &after[close + 1..];
            }
            _ => {
                out.push('\'');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reports a call to a function `engine` does not have (its arity and types are not checked).
fn check_function_names(
    engine: &Engine,
    expr: &model::Expr,
    ast: &AST,
    visible: &Visible,
) -> Result<(), Diagnostic> {
    let mut calls: Vec<(String, Position)> = Vec::new();
    let mut declared: HashSet<String> = HashSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(f, pos) | Expr::MethodCall(f, pos)))
            | Some(ASTNode::Stmt(Stmt::FnCall(f, pos)))
                if !f.is_operator_call() =>
            {
                calls.push((f.name.to_string(), *pos));
            }
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                declared.insert(x.0.name.to_string());
            }
            _ => {}
        }
        true
    });
    let mut engine_known: Option<HashSet<String>> = None;
    for (name, pos) in calls {
        if sandbox_functions().contains(&name)
            || declared.contains(&name)
            || visible.contains(&name)
        {
            continue;
        }
        // Not a sandbox function: look in this engine and the AST (slower, and rare).
        let known = engine_known.get_or_insert_with(|| known_functions(engine, ast));
        if known.contains(&name) {
            continue;
        }
        let span = span_at_len(expr, pos, name.chars().count());
        let diag =
            Diagnostic::error(Code::UnknownFunction, format!("unknown function `{name}`")).at(span);
        let candidates = known
            .iter()
            .map(String::as_str)
            .filter(|k| k.chars().all(|c| c.is_alphanumeric() || c == '_'));
        return Err(match suggest(&name, candidates) {
            Some(help) => diag.help(help),
            None => diag.help("see docs/expressions.md for the functions rule expressions can use"),
        });
    }
    Ok(())
}

/// The function names of every [`super::engine`], computed once.
fn sandbox_functions() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let engine = super::engine(chrono::NaiveDate::MIN);
        known_functions(&engine, &AST::empty())
    })
}

/// Every function name callable in `ast`: the engine's, rhai's keywords and the AST's closures.
fn known_functions(engine: &Engine, ast: &AST) -> HashSet<String> {
    let mut known: HashSet<String> = engine
        .collect_fn_metadata(None, |info| Some(info.metadata.name.to_string()), true)
        .into_iter()
        .collect();
    known.extend(KEYWORD_FUNCTIONS.iter().map(|k| k.to_string()));
    known.extend(ast.iter_functions().map(|f| f.name.to_string()));
    known
}

/// Every variable the expression reads from its scope, in source order, with its position:
/// names it declares itself (`let`, loop variables, closure parameters) are left out.
///
/// Closures list the outer names they capture.
pub fn references(ast: &AST) -> Vec<(String, Position)> {
    let mut found = Vec::new();
    let mut path = Vec::new();
    for stmt in ast.statements() {
        stmt.walk(&mut path, &mut |path: &[ASTNode]| {
            // An index means a variable the expression declared.
            if let Some(ASTNode::Expr(Expr::Variable(x, _, pos))) = path.last() {
                if x.0.is_none() {
                    found.push((x.1.to_string(), *pos));
                }
            }
            true
        });
    }
    found.sort_by_key(|(_, pos)| (pos.line(), pos.position()));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::engine;
    use crate::source::{FileId, LineCol, SourceFile, Span};
    use chrono::NaiveDate;

    fn sandbox() -> Engine {
        engine(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
    }

    /// `source` placed at byte `at` of a file: returns the file and the expression.
    fn placed(before: &str, source: &str, after: &str) -> (SourceFile, model::Expr) {
        let text = format!("{before}{source}{after}");
        let expr = model::Expr {
            source: source.to_string(),
            span: Span::new(FileId(0), before.len(), before.len() + source.len()),
            verbatim: true,
        };
        (SourceFile::new("rules.idic", text), expr)
    }

    fn expr(source: &str) -> model::Expr {
        placed("", source, "").1
    }

    fn names_of(source: &str, names: &[&str]) -> Vec<String> {
        let ast = compile(&sandbox(), &expr(source), names).unwrap();
        references(&ast).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn unknown_names_point_into_the_file() {
        let before = "ruleset \"r\" {}\n\nsegment active =\n    orders > 3 &&\n    ";
        let (file, expr) = placed(before, "days_since(ordrs) < 30", "\n// end\n");
        let diag = compile(&sandbox(), &expr, &["orders", "spent"]).unwrap_err();
        assert_eq!(diag.code.as_str(), "unknown-name");
        assert_eq!(diag.message, "unknown name `ordrs`");
        assert_eq!(diag.help.as_deref(), Some("did you mean `orders`?"));
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "ordrs");
        assert_eq!(
            file.line_col(span.start),
            LineCol {
                line: 5,
                column: 16
            }
        );
    }

    #[test]
    fn unknown_names_after_non_ascii_text_and_on_later_lines() {
        let (file, expr) = placed("segment ü = ", "name == \"Zoë\" && ratte > 1", "\n");
        let diag = compile(&sandbox(), &expr, &["name", "rate"]).unwrap_err();
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "ratte");
        assert_eq!(
            file.line_col(span.start),
            LineCol {
                line: 1,
                column: 30
            }
        );
        assert_eq!(diag.help.as_deref(), Some("did you mean `rate`?"));

        let (file, expr) = placed("metric m = ", "spent * \"é\".len() *\n  ratte + 1", "\n");
        let diag = compile(&sandbox(), &expr, &["spent", "rate"]).unwrap_err();
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "ratte");
        assert_eq!(file.line_col(span.start), LineCol { line: 2, column: 3 });
    }

    #[test]
    fn a_bare_word_suggests_quotes() {
        let diag = compile(&sandbox(), &expr("tier == gold"), &["tier"]).unwrap_err();
        assert_eq!(diag.message, "unknown name `gold`");
        assert!(diag.help.unwrap().contains("`\"gold\"`"));
    }

    #[test]
    fn syntax_errors_map_to_line_and_column() {
        let (file, expr) = placed("segment s =\n  ", "orders > 3 &&\n  (spent > 2", "\n");
        let diag = compile(&sandbox(), &expr, &["orders", "spent"]).unwrap_err();
        assert_eq!(diag.code.as_str(), "expr-syntax");
        assert_eq!(
            diag.message,
            "expecting `)` for a matching ( in this expression"
        );
        let at = file.line_col(diag.span().unwrap().start);
        assert_eq!(
            at,
            LineCol {
                line: 3,
                column: 13
            }
        );

        let (file, expr) = placed("metric m = ", "orders +* 2", "");
        let diag = compile(&sandbox(), &expr, &["orders"]).unwrap_err();
        assert_eq!(diag.code.as_str(), "expr-syntax");
        assert_eq!(file.line_col(diag.span().unwrap().start).column, 20);
    }

    #[test]
    fn a_block_left_open_is_named_not_a_missing_semicolon() {
        let (file, expr) = placed("aov = \"", "if n > 0 { s / n } else { 0.0", "\"\n");
        let diag = compile(&sandbox(), &expr, &["n", "s"]).unwrap_err();
        assert_eq!(diag.message, "`{` is never closed with `}`");
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "{");
        assert_eq!(file.line_col(span.start).column, 32);
    }

    #[test]
    fn syntax_messages_are_lowercase_with_backticks() {
        let message = |source: &str| {
            compile(&sandbox(), &expr(source), &["x"])
                .unwrap_err()
                .message
        };
        assert_eq!(
            message("eval(\"1\")"),
            "`eval` is not allowed in a rule expression"
        );
        assert_eq!(
            message("import \"m\" as m; 1"),
            "`import` is reserved and cannot be used in a rule expression"
        );
        assert_eq!(message("x > "), "the expression is incomplete");
        assert_eq!(message("   "), "the expression is empty");
        assert_eq!(
            backticks("Expecting ')' to close the parameters list"),
            "Expecting `)` to close the parameters list"
        );
        assert_eq!(backticks("Unexpected '''"), "Unexpected `'`");
        assert_eq!(backticks("it's fine"), "it's fine");
    }

    #[test]
    fn function_definitions_are_rejected_but_closures_allowed() {
        let diag = compile(&sandbox(), &expr("fn f(x) { x } f(1)"), &[]).unwrap_err();
        assert_eq!(diag.code.as_str(), "expr-syntax");
        assert!(
            diag.message.contains("cannot define functions"),
            "{}",
            diag.message
        );
        assert!(compile(
            &sandbox(),
            &expr("tags.filter(|t| t != \"x\").len() > 0"),
            &["tags"]
        )
        .is_ok());
    }

    #[test]
    fn a_break_with_a_value_is_refused_and_a_plain_break_is_not() {
        // rhai's walk skips a break's value: `spent` would be read without being in scope.
        let (file, e) = placed("metric m = ", "loop { break spent * 1.0 }", "");
        let diag = compile(&sandbox(), &e, &["spent"]).unwrap_err();
        assert_eq!(diag.code.as_str(), "expr-syntax");
        assert_eq!(
            diag.message,
            "a rule expression cannot `break` out of a loop with a value"
        );
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "break");
        // Inside a closure too.
        let nested = expr("tags.map(|t| loop { break t }).len()");
        assert!(compile(&sandbox(), &nested, &["tags"]).is_err());
        let plain = expr("{ let n = 0; loop { n += 1; if n > 3 { break } } n }");
        assert!(compile(&sandbox(), &plain, &[]).is_ok());
    }

    #[test]
    fn unknown_functions_are_reported_with_a_suggestion() {
        let (file, call) = placed("metric m = ", "1 + day_since(x)", "");
        let diag = compile(&sandbox(), &call, &["x"]).unwrap_err();
        assert_eq!(diag.code.as_str(), "unknown-function");
        assert_eq!(diag.message, "unknown function `day_since`");
        assert_eq!(diag.help.as_deref(), Some("did you mean `days_since`?"));
        let span = diag.span().unwrap();
        assert_eq!(&file.text[span.start..span.end], "day_since");
        let diag = compile(&sandbox(), &placed("", "x.lowr()", "").1, &["x"]).unwrap_err();
        assert_eq!(diag.help.as_deref(), Some("did you mean `lower`?"));
        for fine in [
            "x.len()",
            "max(1, 2)",
            "type_of(x)",
            "x.to_lower()",
            "\"a\" in x",
            "x.contains(\"a\")",
            "print(x)",
        ] {
            assert!(compile(&sandbox(), &expr(fine), &["x"]).is_ok(), "{fine}");
        }
    }

    #[test]
    fn references_list_what_is_read() {
        assert_eq!(
            names_of("a && b || c > d.len()", &["a", "b", "c", "d"]),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            names_of("days_since(last) > 3 && last != ()", &["last"]),
            ["last", "last"]
        );
        assert_eq!(names_of("as_of", &[]), ["as_of"]);
        assert_eq!(names_of("\"vip\" in tags", &["tags"]), ["tags"]);
        assert_eq!(names_of("x ?? y", &["x", "y"]), ["x", "y"]);
        assert_eq!(
            names_of("if a { b } else { c }", &["a", "b", "c"]),
            ["a", "b", "c"]
        );
        assert_eq!(names_of("`${a} and ${b}`", &["a", "b"]), ["a", "b"]);
    }

    #[test]
    fn references_skip_declared_names() {
        assert_eq!(names_of("let x = a * 2; x + b", &["a", "b"]), ["a", "b"]);
        assert_eq!(names_of("let a = a + 1; a", &["a"]), ["a"]);
        assert_eq!(
            names_of("let n = 0; for t in tags { n += 1 } n", &["tags"]),
            ["tags"]
        );
        assert_eq!(
            names_of("tags.filter(|t| t == p).len()", &["tags", "p"]),
            ["tags", "p"]
        );
        let ast = compile(&sandbox(), &expr("a +\n  b"), &["a", "b"]).unwrap();
        assert_eq!(references(&ast)[1], ("b".to_string(), Position::new(2, 3)));
    }
}
