//! Which expressions may run with rhai's fast operators.
//!
//! The sandbox turns rhai's fast operators off so that idic's checked decimal arithmetic
//! (which fails where rhai's would give a NaN or an infinity) shadows rhai's built-in
//! operators. That costs every operator a function lookup. An expression in which no decimal
//! can ever appear computes the same with the built-in operators (rhai's integer operators are
//! checked alike), so the batch engine runs it in [`super::fast_engine`] instead.
//!
//! No decimal can appear when the expression holds no decimal literal, reads no name in scope
//! whose type is a decimal or unknown, and calls only operators and the functions of
//! [`NO_DECIMAL_FROM`], which never make a decimal out of other values. A value the expression
//! makes can then only be built from its own literals and the customer's non-decimal values.

use super::ValueType;
use rhai::{ASTNode, Dynamic, Expr, Stmt, AST};

/// The functions (and property getters, `get$name`) that give no decimal unless given one:
/// rhai's text, list, map, range and closure functions, its integer maths and idic's dates and
/// text. A function left out (`to_float`, `sqrt`, `round_money`, anything a rhai upgrade adds)
/// sends its expression to the checked engine.
pub const NO_DECIMAL_FROM: &[&str] = &[
    // idic
    "add_days",
    "add_months",
    "date",
    "datetime",
    "day",
    "days_between",
    "days_since",
    "days_until",
    "has_all",
    "has_any",
    "is_missing",
    "lower",
    "matches",
    "month",
    "months_since",
    "start_of_month",
    "start_of_quarter",
    "start_of_week",
    "start_of_year",
    "upper",
    "weekday",
    "year",
    // numbers, on integers
    "abs",
    "is_even",
    "is_odd",
    "is_zero",
    "max",
    "min",
    "sign",
    "to_int",
    "parse_int",
    "to_binary",
    "to_hex",
    "to_octal",
    "bits",
    "get_bit",
    "get_bits",
    "set_bit",
    "set_bits",
    // text
    "bytes",
    "chars",
    "crop",
    "ends_with",
    "make_lower",
    "make_upper",
    "pad",
    "replace",
    "split",
    "split_rev",
    "starts_with",
    "sub_string",
    "to_chars",
    "to_lower",
    "to_upper",
    "trim",
    "truncate",
    // lists and maps
    "all",
    "append",
    "chop",
    "clear",
    "dedup",
    "drain",
    "extract",
    "fill_with",
    "filter",
    "find",
    "find_map",
    "for_each",
    "get",
    "index_of",
    "insert",
    "is_empty",
    "keys",
    "len",
    "map",
    "mixin",
    "order",
    "order_by",
    "order_desc",
    "pop",
    "push",
    "reduce",
    "reduce_rev",
    "remove",
    "retain",
    "reverse",
    "set",
    "shift",
    "some",
    "sort",
    "sort_by",
    "sort_desc",
    "splice",
    "values",
    "zip",
    "contains",
    "to_json",
    // ranges, closures (`curry` only as the parser writes it for a closure's captures),
    // printing and types
    "range",
    "start",
    "end",
    "is_exclusive",
    "is_inclusive",
    "name",
    "is_anonymous",
    "curry",
    "print",
    "debug",
    "to_string",
    "to_debug",
    "type_of",
    // properties
    "get$bits",
    "get$bytes",
    "get$chars",
    "get$end",
    "get$is_anonymous",
    "get$is_empty",
    "get$is_even",
    "get$is_exclusive",
    "get$is_inclusive",
    "get$is_odd",
    "get$is_zero",
    "get$len",
    "get$name",
    "get$start",
];

/// Whether no decimal can appear while `ast` is evaluated; `scope` gives the type of each name
/// the evaluation scope holds (`None` for a name it does not, such as a local variable).
pub fn decimal_free(ast: &AST, scope: &dyn Fn(&str) -> Option<ValueType>) -> bool {
    ast.walk(&mut |path: &[ASTNode]| match path.last() {
        Some(ASTNode::Expr(expr)) => expr_ok(expr, scope),
        Some(ASTNode::Stmt(Stmt::FnCall(call, _))) => {
            call.op_token.is_some() || NO_DECIMAL_FROM.contains(&call.name.as_str())
        }
        _ => true,
    })
}

fn expr_ok(expr: &Expr, scope: &dyn Fn(&str) -> Option<ValueType>) -> bool {
    match expr {
        Expr::FloatConstant(..) => false,
        Expr::DynamicConstant(value, _) => !holds_decimal(value),
        // A local variable of the same name as a scope name is taken for it: cautious.
        Expr::Variable(x, ..) => !matches!(
            scope(x.1.as_str()),
            Some(ValueType::Decimal | ValueType::Unknown)
        ),
        Expr::FnCall(call, _) | Expr::MethodCall(call, _) => {
            call.op_token.is_some() || NO_DECIMAL_FROM.contains(&call.name.as_str())
        }
        Expr::Property(x, _) => NO_DECIMAL_FROM.contains(&x.0 .0.as_str()),
        _ => true,
    }
}

/// Whether a constant is or holds a decimal.
fn holds_decimal(value: &Dynamic) -> bool {
    if value.is_float() {
        return true;
    }
    if let Some(list) = value.read_lock::<rhai::Array>() {
        return list.iter().any(holds_decimal);
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        return map.values().any(holds_decimal);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{compile, engine, function_names};
    use crate::model;
    use crate::source::{FileId, Span};

    fn free(source: &str) -> bool {
        let engine = engine(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        let expr = model::Expr {
            source: source.to_string(),
            span: Span::new(FileId(0), 0, source.len()),
            verbatim: true,
        };
        let names = ["orders", "spent", "tags", "score", "last"];
        let ast = compile(&engine, &expr, &names).unwrap();
        decimal_free(&ast, &|name| match name {
            "orders" => Some(ValueType::Int),
            "spent" => Some(ValueType::Decimal),
            "tags" => Some(ValueType::List),
            "score" => Some(ValueType::Unknown),
            "last" => Some(ValueType::Date),
            _ => None,
        })
    }

    #[test]
    fn integers_text_lists_and_dates_are_decimal_free() {
        for source in [
            "(tags ?? []).filter(|t| t.len() > 2).len()",
            "{ let n = 0; for i in 0..(orders % 20) { n += i } n }",
            "days_since(last) / 7 > orders",
            "tags.map(|t| t.to_upper()).contains(\"VIP\")",
            "{ let k = 3; tags.filter(|t| t.len() > k).len() }",
        ] {
            assert!(free(source), "{source}");
        }
    }

    #[test]
    fn a_decimal_anywhere_goes_to_the_checked_engine() {
        for source in [
            "spent / 2 > 1",
            "orders / 2.0",
            "to_float(orders) > 1",
            "[1, 2.5].len()",
            "score > 3",
            "tags.filter(|t| t.len() > 0.5).len()",
            "{ let s = spent; tags.filter(|t| t.len() > s).len() }",
            "sqrt(orders)",
            "round_money(orders)",
        ] {
            assert!(!free(source), "{source}");
        }
    }

    #[test]
    fn every_listed_function_is_one_the_engine_has() {
        let engine = engine(chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        let names = function_names(&engine);
        // `curry` and `type_of` are keywords, not functions.
        for name in NO_DECIMAL_FROM {
            assert!(
                names.iter().any(|n| n == name) || ["curry", "type_of"].contains(name),
                "{name}"
            );
        }
    }
}
