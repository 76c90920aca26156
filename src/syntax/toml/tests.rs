use super::{parse, print};
use crate::diagnostics::Diagnostic;
use crate::model::*;
use crate::source::{FileId, LineCol, SourceFile};

/// A rule file using every feature of the format.
const FULL: &str = r#"# A retail rule set.
[ruleset]
name = "retail"
as_of = "2026-11-01"
max_triggers = 2

[customer]
id         = { type = "string", from = "Customer ID", key = true }
last_order = { type = "date", from = "Last Order Date", optional = true, format = "%d/%m/%Y" }
spent      = { type = "money", from = "Total Spent", currency = "$", thousands = "," }
email_ok   = { type = "bool", from = "Accepts Email Marketing", words = ["yes", "no"] }
tags       = { type = "list", from = "Tags", optional = true, separator = ";" }
nps        = { type = "int", from = "NPS", optional = true, default = 10 }
ratio      = { type = "decimal", from = "Ratio", default = 0.5 }
vip        = { type = "bool", from = "VIP", default = false }
note       = { type = "string", from = "Say \"hi\"", default = "n/a" }
orders     = { type = "int", from = "Orders" }

[metrics]
recency = "days_since(last_order)"
zeta = "spent / 2"
alpha = '''
if orders > 2 {
    "many"
} else { "few" }'''

[segments]
at_risk = "orders >= 3 && recency >= 120"
big = 'tier in ["gold"]'

[[tiers]]
name = "platinum"
when = "spent >= 1000"

[[tiers]]
name = "bronze"
otherwise = true

[triggers.retention_offer]
activity = "retention"
when = "at_risk && tier in [\"gold\", \"platinum\"]"
channel = "email"
consent = "email_ok"
priority = 20
cooldown = "30d"

[[triggers.retention_offer.actions]]
name = "retention_email"
template = "retention_gold"
offer = "SAVE15"

[triggers.retention_offer.actions.params]
discount = 15
subject = "We miss you, {first_name}"
cap = { expr = "min(spent / 10, 50)" }
rate = 2.5
flag = true
long = { expr = """
spent
  * 2""" }

[[triggers.retention_offer.actions]]
name = "follow_up"

[triggers.a_vip]
activity = "custom:vip_event"
channel = "custom:whatsapp"
priority = -3
cooldown = "2w"
"#;

fn file() -> FileId {
    FileId(0)
}

fn parse_ok(text: &str) -> RuleSet {
    let (rules, diags) = parse(file(), text);
    assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
    rules
}

fn parse_err(text: &str) -> Vec<Diagnostic> {
    let (_, diags) = parse(file(), text);
    assert!(!diags.is_empty(), "expected diagnostics for:\n{text}");
    diags
}

fn line_col(text: &str, d: &Diagnostic) -> LineCol {
    let span = d.span().expect("diagnostic has a span");
    SourceFile::new("rules.toml", text.to_string()).line_col(span.start)
}

fn at(line: usize, column: usize) -> LineCol {
    LineCol { line, column }
}

fn slice(text: &str, span: crate::source::Span) -> &str {
    &text[span.start..span.end]
}

/// `assert_eq!` on rule sets that names the first differing node instead of dumping both.
#[track_caller]
fn assert_same(got: &RuleSet, want: &RuleSet, context: &str) {
    fn first<T: PartialEq + std::fmt::Debug>(what: &str, a: &[T], b: &[T]) -> Option<String> {
        if a.len() != b.len() {
            return Some(format!("{what}: {} vs {} items", a.len(), b.len()));
        }
        a.iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .map(|i| format!("{what}[{i}]:\n  got  {:?}\n  want {:?}", a[i], b[i]))
    }
    if got == want {
        return;
    }
    let (gs, ws) = (got.schema.as_ref(), want.schema.as_ref());
    let diff = (got.settings != want.settings)
        .then(|| format!("settings: {:?} vs {:?}", got.settings, want.settings))
        .or_else(|| match (gs, ws) {
            (Some(a), Some(b)) => first("field", &a.fields, &b.fields),
            (a, b) => (a != b).then(|| "schema presence".to_string()),
        })
        .or_else(|| first("metric", &got.metrics, &want.metrics))
        .or_else(|| first("segment", &got.segments, &want.segments))
        .or_else(|| {
            (got.tiers != want.tiers).then(|| format!("tiers: {:?} vs {:?}", got.tiers, want.tiers))
        })
        .or_else(|| {
            (got.orders != want.orders)
                .then(|| format!("orders: {:?} vs {:?}", got.orders, want.orders))
        })
        .or_else(|| first("score", &got.scores, &want.scores))
        .or_else(|| first("table", &got.tables, &want.tables))
        .or_else(|| {
            (got.model != want.model).then(|| format!("model: {:?} vs {:?}", got.model, want.model))
        })
        .or_else(|| {
            let (a, b) = (&got.triggers, &want.triggers);
            first("trigger", a, b).map(|_| {
                let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => first("action", &x.actions, &y.actions)
                        .and_then(|_| {
                            let j = x.actions.iter().zip(&y.actions).position(|(p, q)| p != q)?;
                            first("param", &x.actions[j].params, &y.actions[j].params)
                        })
                        .unwrap_or_else(|| format!("trigger[{i}]: {x:?}\n vs {y:?}")),
                    _ => format!("{} vs {} triggers", a.len(), b.len()),
                }
            })
        })
        .unwrap_or_default();
    panic!("rule sets differ: {diff}\n{context}");
}

#[test]
fn full_rule_set_parses_to_the_model() {
    let rules = parse_ok(FULL);

    let settings = rules.settings.as_ref().unwrap();
    assert_eq!(settings.name.value, "retail");
    assert_eq!(slice(FULL, settings.name.span), "retail");
    assert_eq!(
        settings.as_of.as_ref().unwrap().value,
        AsOf::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
    );
    assert_eq!(settings.max_triggers.as_ref().unwrap().value, 2);

    let fields = &rules.schema.as_ref().unwrap().fields;
    let names: Vec<_> = fields.iter().map(|f| f.name.value.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "last_order",
            "spent",
            "email_ok",
            "tags",
            "nps",
            "ratio",
            "vip",
            "note",
            "orders"
        ]
    );
    let id = &fields[0];
    assert!(id.key && !id.optional);
    assert_eq!(id.ty.value, FieldType::String);
    assert_eq!(id.column.value, "Customer ID");
    assert_eq!(slice(FULL, id.name.span), "id");
    assert_eq!(slice(FULL, id.column.span), "Customer ID");
    let last = &fields[1];
    assert!(last.optional);
    assert_eq!(last.format.dates[0].value, "%d/%m/%Y");
    let spent = &fields[2];
    assert_eq!(spent.ty.value, FieldType::Money);
    assert_eq!(spent.format.currency.as_ref().unwrap().value, "$");
    assert_eq!(spent.format.thousands.as_ref().unwrap().value, ",");
    let words = fields[3].format.words.as_ref().unwrap();
    assert_eq!(words.value, ("yes".to_string(), "no".to_string()));
    assert_eq!(slice(FULL, words.span), r#"["yes", "no"]"#);
    assert_eq!(fields[4].format.separator.as_ref().unwrap().value, ";");
    assert_eq!(fields[5].default.as_ref().unwrap().value, Literal::Int(10));
    assert_eq!(
        fields[6].default.as_ref().unwrap().value,
        Literal::Decimal(0.5)
    );
    assert_eq!(
        fields[7].default.as_ref().unwrap().value,
        Literal::Bool(false)
    );
    assert_eq!(fields[8].column.value, "Say \"hi\"");
    assert_eq!(
        fields[8].default.as_ref().unwrap().value,
        Literal::Str("n/a".into())
    );

    let metrics: Vec<_> = rules
        .metrics
        .iter()
        .map(|m| m.name.value.as_str())
        .collect();
    assert_eq!(metrics, ["recency", "zeta", "alpha"], "document order");
    let recency = &rules.metrics[0].expr;
    assert_eq!(recency.source, "days_since(last_order)");
    assert!(recency.verbatim);
    assert_eq!(slice(FULL, recency.span), recency.source);
    let alpha = &rules.metrics[2].expr;
    assert!(alpha.source.starts_with("if orders > 2 {\n"));
    assert!(alpha.verbatim, "a multi-line literal string is verbatim");
    assert_eq!(slice(FULL, alpha.span), alpha.source);

    let big = &rules.segments[1].condition;
    assert_eq!(big.source, r#"tier in ["gold"]"#);
    assert!(big.verbatim);

    let tiers = &rules.tiers.as_ref().unwrap().tiers;
    assert_eq!(tiers.len(), 2);
    assert_eq!(tiers[0].condition.as_ref().unwrap().source, "spent >= 1000");
    assert_eq!(tiers[1].name.value, "bronze");
    assert!(tiers[1].condition.is_none());

    let names: Vec<_> = rules
        .triggers
        .iter()
        .map(|t| t.name.value.as_str())
        .collect();
    assert_eq!(names, ["retention_offer", "a_vip"], "document order");
    let t = &rules.triggers[0];
    assert_eq!(t.activity.as_ref().unwrap().value, Activity::Retention);
    let when = t.condition.as_ref().unwrap();
    assert_eq!(when.source, r#"at_risk && tier in ["gold", "platinum"]"#);
    assert!(!when.verbatim, "escaped quotes are not verbatim");
    assert_eq!(
        slice(FULL, when.span),
        r#"at_risk && tier in [\"gold\", \"platinum\"]"#
    );
    let channel = t.channel.as_ref().unwrap();
    assert_eq!(channel.kind.value, ChannelKind::Email);
    assert_eq!(channel.consent.as_ref().unwrap().value, "email_ok");
    assert_eq!(t.priority.as_ref().unwrap().value, 20);
    assert_eq!(t.cooldown.as_ref().unwrap().value.to_string(), "30d");
    assert_eq!(t.actions.len(), 2);
    let a = &t.actions[0];
    assert_eq!(a.name.value, "retention_email");
    assert_eq!(a.template.as_ref().unwrap().value, "retention_gold");
    assert_eq!(a.offer.as_ref().unwrap().value, "SAVE15");
    let params: Vec<_> = a.params.iter().map(|p| p.name.value.as_str()).collect();
    assert_eq!(
        params,
        ["discount", "subject", "cap", "rate", "flag", "long"]
    );
    let expr_source = |i: usize| match &a.params[i].value {
        ParamValue::Expr(e) => e.source.clone(),
        other => panic!("expected an expression, found {other:?}"),
    };
    assert_eq!(expr_source(0), "15");
    assert_eq!(expr_source(2), "min(spent / 10, 50)");
    assert_eq!(expr_source(3), "2.5");
    assert_eq!(expr_source(4), "true");
    assert_eq!(expr_source(5), "spent\n  * 2");
    match &a.params[1].value {
        ParamValue::Template(t) => assert_eq!(t.value, "We miss you, {first_name}"),
        other => panic!("expected a template, found {other:?}"),
    }
    assert!(t.actions[1].params.is_empty());

    let vip = &rules.triggers[1];
    assert_eq!(
        vip.activity.as_ref().unwrap().value,
        Activity::Custom("vip_event".into())
    );
    assert_eq!(
        vip.channel.as_ref().unwrap().kind.value,
        ChannelKind::Custom("whatsapp".into())
    );
    assert_eq!(vip.priority.as_ref().unwrap().value, -3);
}

#[test]
fn spans_point_at_names_and_tables() {
    let rules = parse_ok(FULL);
    let t = &rules.triggers[0];
    let file = SourceFile::new("r.toml", FULL.to_string());
    assert_eq!(slice(FULL, t.name.span), "retention_offer");
    assert!(slice(FULL, t.span).starts_with("[triggers.retention_offer]"));
    assert_eq!(
        file.line_col(t.priority.as_ref().unwrap().span.start),
        at(44, 12)
    );
    let tier = &rules.tiers.as_ref().unwrap().tiers[1];
    assert!(slice(FULL, tier.span).starts_with("[[tiers]]\nname = \"bronze\""));
    let param = &t.actions[0].params[2];
    assert_eq!(
        slice(FULL, param.span),
        r#"cap = { expr = "min(spent / 10, 50)" }"#
    );
}

#[test]
fn print_then_parse_round_trips() {
    let rules = parse_ok(FULL);
    let printed = print(&rules);
    let again = parse_ok(&printed);
    assert_same(&again, &rules, &format!("printed:\n{printed}"));
    assert_eq!(print(&again), printed, "printing is deterministic");
    // Readability: one table per trigger, fields inline, multi-line expressions kept.
    assert!(
        printed.contains("[triggers.retention_offer]\n"),
        "{printed}"
    );
    assert!(printed.contains("[triggers.retention_offer.actions.params]\n"));
    assert!(printed.contains("discount = 15\n"), "{printed}");
    assert!(
        printed.contains("cap      = { expr = \"min(spent / 10, 50)\" }\n"),
        "{printed}"
    );
    assert!(
        printed.contains("alpha   = '''\nif orders > 2 {\n"),
        "{printed}"
    );
    // Expressions are written as is whenever TOML can hold them, escaped otherwise.
    assert!(
        printed.contains("big     = 'tier in [\"gold\"]'\n"),
        "{printed}"
    );
    assert!(printed.contains("when = 'at_risk && tier in [\"gold\", \"platinum\"]'\n"));
    assert!(printed
        .contains("id         = { type = \"string\", from = \"Customer ID\", key = true }\n"));
}

#[test]
fn awkward_strings_and_names_round_trip() {
    let mut rules = parse_ok(FULL);
    let awkward = [
        "plain",
        "has \"double\" quotes",
        "has 'single' and \"double\"",
        "back\\slash",
        "tab\there",
        "ctrl\u{1}char\u{7f}",
        "line\nbreak ''' and '",
        "ends with quote\n'",
        "cr\r\nlf",
        "\nleading newline",
        "unicode ✓ é",
        "😀 first",
        "",
    ];
    let span = crate::source::Span::default();
    let expr = |source: &str, verbatim: bool| Expr {
        source: source.to_string(),
        span,
        verbatim,
    };
    let param = |name: String, value: ParamValue| Param {
        name: Spanned::new(name, span),
        value,
        span,
        comments: Comments::default(),
    };
    for (i, s) in awkward.iter().enumerate() {
        // TOML cannot hold control characters (a carriage return included) unescaped, and an
        // empty string cannot be escaped.
        let can_be_verbatim = !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        let modes = [(true, can_be_verbatim), (false, !s.is_empty())];
        for (verbatim, _) in modes.into_iter().filter(|&(_, ok)| ok) {
            rules.metrics.push(Metric {
                name: Spanned::new(format!("m {i}.{verbatim}"), span),
                expr: expr(s, verbatim),
                span,
                comments: Comments::default(),
            });
            let params = &mut rules.triggers[0].actions[0].params;
            params.push(param(
                format!("p{i}{verbatim}"),
                ParamValue::Expr(expr(s, verbatim)),
            ));
        }
        let params = &mut rules.triggers[0].actions[0].params;
        params.push(param(
            format!("t{i}"),
            ParamValue::Template(Spanned::new(s.to_string(), span)),
        ));
        let fields = &mut rules.schema.as_mut().unwrap().fields;
        let n = fields.len();
        fields[i % n].column.value = s.to_string();
    }
    for source in [
        "1_000", "-0.0", "1e5", "007", "nan", "inf", "-7", "false", "1000",
    ] {
        for verbatim in [true, false] {
            let params = &mut rules.triggers[0].actions[0].params;
            params.push(param(
                format!("n{source}{verbatim}"),
                ParamValue::Expr(expr(source, verbatim)),
            ));
        }
    }
    rules.triggers[1].name.value = "odd name \"q\"".into();
    rules.schema.as_mut().unwrap().fields[6].default =
        Some(Spanned::new(Literal::Decimal(1e-7), Default::default()));
    rules.schema.as_mut().unwrap().fields[5].default =
        Some(Spanned::new(Literal::Int(i64::MIN), Default::default()));
    rules.settings.as_mut().unwrap().as_of = Some(Spanned::new(AsOf::Today, Default::default()));
    let printed = print(&rules);
    let again = parse_ok(&printed);
    assert_same(&again, &rules, &format!("printed:\n{printed}"));
}

#[test]
fn partial_and_empty_rule_sets_round_trip() {
    assert!(parse_ok("").is_empty());
    assert_eq!(print(&RuleSet::default()), "");
    for text in [
        "[metrics]\nx = \"1\"\n",
        "[customer]\n",
        "tiers = []\n",
        "tiers = []\n[customer]\n",
        "[triggers.t]\n",
        "[[triggers.t.actions]]\nname = \"a\"\n",
        "[ruleset]\nname = \"n\"\nas_of = 2026-01-31\n",
    ] {
        let rules = parse_ok(text);
        let printed = print(&rules);
        assert_same(
            &parse_ok(&printed),
            &rules,
            &format!("{text:?} printed as:\n{printed}"),
        );
    }
    let rules = parse_ok("tiers = []\n[segments]\ns = \"true\"\n");
    assert!(rules.tiers.as_ref().unwrap().tiers.is_empty());
}

#[test]
fn unknown_keys_are_errors_at_the_key() {
    let text = FULL.replace("when = \"at_risk", "whne = \"at_risk");
    let diags = parse_err(&text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(d.code.as_str(), "unknown-key");
    assert_eq!(d.message, "unknown key `whne` in trigger `retention_offer`");
    assert_eq!(d.help.as_deref(), Some("did you mean `when`?"));
    assert_eq!(line_col(&text, d), at(41, 1));

    let text = "[ruleset]\nname = \"x\"\n\n[customer]\nid = { type = \"string\", from = \"ID\", kye = true }\n[trigger.x]\n";
    let diags = parse_err(text);
    let found: Vec<_> = diags
        .iter()
        .map(|d| (d.code.as_str(), d.message.as_str(), line_col(text, d)))
        .collect();
    assert_eq!(
        found,
        [
            ("unknown-key", "unknown key `kye` in field `id`", at(5, 38)),
            (
                "unknown-key",
                "unknown key `trigger` at the top level",
                at(6, 2)
            ),
        ]
    );
    assert_eq!(diags[1].help.as_deref(), Some("did you mean `triggers`?"));

    let text = "[[triggers.t.actions]]\nname = \"a\"\nzzzzzzzz = 1\n[triggers.t.actions.params]\ncap = { exp = \"1\" }\n";
    let diags = parse_err(text);
    assert_eq!(
        diags[0].message,
        "unknown key `zzzzzzzz` in action `a` of trigger `t`"
    );
    assert!(diags[0].help.as_deref().unwrap().contains("`template`"));
    assert_eq!(line_col(text, &diags[0]), at(3, 1));
    assert_eq!(diags[1].message, "unknown key `exp` in parameter `cap`");
    assert_eq!(diags[2].code.as_str(), "missing-key");
}

#[test]
fn syntax_errors_point_at_the_line() {
    let text = "[ruleset]\nname = \"x\"\n\n[metrics]\nrecency = days_since(x)\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert_eq!(d.code.as_str(), "toml-syntax");
    assert_eq!(line_col(text, d).line, 5);
    assert!(
        !d.message.contains('\n') && !d.message.ends_with('.'),
        "{}",
        d.message
    );
    assert!(d.message.starts_with(char::is_lowercase), "{}", d.message);

    let text = "[metrics]\na = \"1\"\na = \"2\"\n";
    let d = &parse_err(text)[0];
    assert_eq!(
        (d.code.as_str(), line_col(text, d).line),
        ("toml-syntax", 3)
    );
    assert!(d.message.contains("duplicate key"), "{}", d.message);

    let d = &parse_err("a = ")[0];
    assert_eq!(d.message, "unexpected end of file");
}

#[test]
fn wrong_types_are_errors_at_the_value() {
    let text = "[triggers.t]\npriority = \"20\"\nwhen = 3\nactions = 1\n";
    let diags = parse_err(text);
    let found: Vec<_> = diags
        .iter()
        .map(|d| (d.code.as_str(), d.message.as_str(), line_col(text, d)))
        .collect();
    assert_eq!(
        found,
        [
            (
                "wrong-type",
                "`priority` must be an integer, found a string",
                at(2, 12)
            ),
            (
                "wrong-type",
                "`when` must be a string, found an integer",
                at(3, 8)
            ),
            (
                "wrong-type",
                "`actions` must be an array of tables, found an integer",
                at(4, 11)
            ),
        ]
    );
    assert_eq!(
        diags[0].help.as_deref(),
        Some("remove the quotes: `priority = 20`")
    );
    assert_eq!(
        diags[1].help.as_deref(),
        Some("put the value in quotes: `when = \"3\"`")
    );

    let text = "[customer]\nid = \"string\"\nx = { type = \"int\", from = \"X\", optional = \"yes\", words = [\"a\"] }\n[metrics]\nm = 1\n";
    let codes: Vec<_> = parse_err(text)
        .iter()
        .map(|d| (d.code.as_str(), d.message.clone()))
        .collect();
    assert_eq!(
        codes,
        [
            (
                "wrong-type",
                "field `id` must be a table, found a string".to_string()
            ),
            (
                "wrong-type",
                "`optional` must be a boolean, found a string".to_string()
            ),
            (
                "bad-value",
                "`words` must hold exactly two words, found 1".to_string()
            ),
            (
                "wrong-type",
                "metric `m` must be a string holding an expression, found an integer".to_string()
            ),
        ]
    );
}

#[test]
fn missing_keys_and_bad_values() {
    let text = "[ruleset]\nas_of = \"11/01/2026\"\nmax_triggers = -1\n\n[customer]\nid = { key = true }\nx = { type = \"date?\", from = \"X\" }\n\n[[tiers]]\nwhen = \"true\"\n[[tiers]]\nname = \"b\"\n[[tiers]]\nname = \"c\"\nwhen = \"x\"\notherwise = true\n\n[triggers.t]\nactivity = \"retntion\"\nchannel = \"pigeon\"\ncooldown = \"30x\"\n[triggers.u]\nconsent = \"ok\"\n";
    let diags = parse_err(text);
    let found: Vec<_> = diags
        .iter()
        .map(|d| (d.code.as_str(), line_col(text, d).line))
        .collect();
    assert_eq!(
        found,
        [
            ("bad-value", 2),    // as_of
            ("bad-value", 3),    // max_triggers
            ("missing-key", 1),  // ruleset.name, at the header
            ("missing-key", 6),  // type
            ("missing-key", 6),  // from
            ("bad-value", 7),    // date?
            ("missing-key", 9),  // tier name
            ("missing-key", 11), // tier when
            ("bad-value", 16),   // when and otherwise
            ("bad-value", 19),   // activity
            ("bad-value", 20),   // channel
            ("bad-value", 21),   // cooldown
            ("missing-key", 23), // consent without channel
        ],
        "{diags:#?}"
    );
    assert_eq!(
        diags[0].message,
        "`as_of` must be `today` or a date `YYYY-MM-DD`, found `11/01/2026`"
    );
    assert_eq!(diags[2].message, "missing key `name` in `[ruleset]`");
    assert_eq!(diags[3].message, "missing key `type` in field `id`");
    assert!(diags[5]
        .help
        .as_deref()
        .unwrap()
        .contains("optional = true"));
    assert!(diags[9].message.starts_with("unknown activity"));
    assert_eq!(diags[9].help.as_deref(), Some("did you mean `retention`?"));
    assert_eq!(diags[12].message, "missing key `channel` in trigger `u`");
}

#[test]
fn spans_use_the_toml_span_protocol() {
    // Guards the private span protocol names in `tree`: spans must come through.
    let rules = parse_ok("[metrics]\nx = \"a + b\"\n");
    assert_eq!(rules.metrics[0].name.span.start, 10);
    assert_eq!(rules.metrics[0].expr.span.start, 15);
    assert_eq!(rules.metrics[0].expr.span.end, 20);
}

/// A tiny deterministic generator for the mutation test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

/// Mutants of [`FULL`]: no panic, diagnostics in our style, and whatever parses cleanly prints
/// and reads back equal. `IDIC_TOML_SEED` and `IDIC_TOML_ROUNDS` widen the search.
#[test]
fn mutated_input_never_panics_and_clean_parses_round_trip() {
    let pieces = [
        "\"",
        "'",
        "'''",
        "\"\"\"",
        "[",
        "]",
        "[[",
        "{",
        "}",
        "=",
        "\n",
        "\\",
        "#",
        ",",
        ".",
        "x",
        "1",
        "true",
        "é",
        "\r",
        "\t",
        "\u{0}",
        "tiers",
        "name",
        "when",
        "otherwise = true",
        "2026-01-01",
        "[triggers.q]",
        "actions",
        "params",
        "expr",
        "\\u00e9",
        "\\n",
        "\n\"k\\n`\" = 2\n",
        "..",
        "-1",
        "[[tables.rules]]",
        "ranges",
        "hash",
    ];
    let seed: u64 = std::env::var("IDIC_TOML_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    let rounds: usize = std::env::var("IDIC_TOML_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut rng = Lcg(seed);
    let mut clean = 0;
    for round in 0..rounds {
        let base = if round % 3 == 2 { POPULATION } else { FULL };
        let mut chars: Vec<char> = base.chars().collect();
        for _ in 0..1 + rng.next(4) {
            let at = rng.next(chars.len() + 1);
            match rng.next(3) {
                0 if at < chars.len() => {
                    let len = rng.next(8).min(chars.len() - at);
                    chars.drain(at..at + len);
                }
                1 => {
                    let piece = pieces[rng.next(pieces.len())];
                    chars.splice(at..at, piece.chars());
                }
                _ if at < chars.len() => {
                    let piece = pieces[rng.next(pieces.len())];
                    chars.splice(at..at + 1, piece.chars());
                }
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        let (rules, diags) = parse(file(), &text);
        for d in &diags {
            let span = d.span().expect("every diagnostic has a span");
            assert!(span.start <= span.end && span.end <= text.len(), "{d:?}");
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            assert!(!d.message.is_empty() && !d.message.contains('\n'), "{d:?}");
        }
        let printed = print(&rules);
        let (again, again_diags) = parse(file(), &printed);
        if diags.is_empty() {
            clean += 1;
            assert!(again_diags.is_empty(), "{again_diags:#?}\n{printed}");
            assert_same(
                &again,
                &rules,
                &format!("input:\n{text}\nprinted:\n{printed}"),
            );
        }
    }
    assert!(clean > 100, "only {clean} mutants parsed cleanly");
}

/// DSL text using every construct, multi-line expressions and numeric parameters included.
const DSL: &str = r#"ruleset "dsl" {
  as_of today
  max_triggers 3
}
customer {
  id       string  from "Customer ID" key
  seen     date?   from "Seen" format "%d/%m/%Y"
  spent    money   from "Spent" currency "$" thousands ","
  ok       bool    from "OK" words yes/no
  tags     list?   from "Tags" separator "|"
  n        int?    from "N" default 3
  r        decimal from "R" default 2.5
  s        string  from "S \"quoted\"" default "x"
}
metric m = (spent
  + 1)
segment q = "vip" in (tags ?? []) && s != 'it\'s'
tiers {
  top when m > 10
  rest otherwise
}
trigger t {
  activity custom:vip-event
  when q
  channel sms consent ok
  priority -5
  cooldown 6m
  action a template "tpl" offer "OFF" {
    n1 = 15
    n2 = 2.50
    n3 = true
    e  = min(m, 3)
    t  = "Hi {first_name}"
  }
  action b
}
"#;

/// Every arbitration setting: caps on a channel and on all marketing, a channel limit,
/// exclusions and a volume; and a contact log's mapping.
const POLICY_DSL: &str = r#"ruleset "policy" {
  max_triggers    2
  max_per_channel 1
  // Comments stay with their cap.
  cap             custom:whatsapp 2 per 2w
  cap             marketing 5 per 1m
  exclude         call with note
  exclude         note with call
}
customer {
  id    string from "Id" key
  value int    from "Value"
  ok    bool   from "OK"
}
contacts {
  customer from "Recipient"
  date     from "Sent" format "%d/%m/%Y %H:%M"
  action   from "Template"
  channel  email
}
trigger call {
  activity retention
  when     value > 3
  channel  custom:whatsapp consent ok
  volume   500 by value * 2
  action a template "a"
}
trigger note {
  activity retention
  when     true
  channel  email consent ok
  action b template "b"
}
"#;

#[test]
fn dsl_models_round_trip_through_toml() {
    let mut texts = vec![
        DSL.to_string(),
        POPULATION_DSL.to_string(),
        POLICY_DSL.to_string(),
    ];
    for path in ["rules/retail/retail.idic", "rules/cdnow/cdnow.idic"] {
        let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        if let Ok(text) = std::fs::read_to_string(path) {
            texts.push(text);
        }
    }
    for text in texts {
        let (rules, diags) = crate::syntax::dsl::parse(file(), &text);
        assert!(diags.is_empty(), "{diags:#?}");
        let printed = print(&rules);
        assert_same(&parse_ok(&printed), &rules, &format!("printed:\n{printed}"));
    }
}

/// The population declarations in TOML: orders, scores, tables and the model.
const POPULATION: &str = r##"[orders]
customer = { from = "#1" }
date = { from = "#3", format = "%Y%m%d" }
amount = { from = "Amount", currency = "$", thousands = "," }
count = "orders"
last = "last_order"
spent = "spent"
period = "week"
lookback = "365d"
unmatched_orders = "fail"
customers_without_orders = "keep"

[[scores]]
name = "r"
of = "rfm_recency_days"
bins = 5
reverse = true
ties = { hash = "salt" }
edges = [1, 2.5, 3.0, 4.0]

[[scores]]
name = "f"
of = "rfm_frequency"
ties = "together"

[[tables]]
name = "rfm_segment"
over = ["r", "f"]
preset = "rfm10"

[[tables]]
name = "value_band"
over = ["r", "f"]

[[tables.rules]]
name = "top"
r = "4..5"
f = 5

[[tables.rules]]
name = "odd"
ranges = { name = "1..2", r = "3" }

[model]
horizon = "12m"
discount = 1.5
bgnbd = { r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 }
gamma_gamma = { p = 6.25, q = 3.74, gamma = 15.44 }
"##;

/// The same declarations in the DSL, commented the way people do.
const POPULATION_DSL: &str = r##"// Orders from the shop.
orders { // opening
  customer from "#1" // the id
  date     from "#3"     format "%Y%m%d"
  amount   from "Amount" currency "$" thousands ","
  // Totals in the export.
  count    orders
  last     last_order
  spent    spent

  // How far back.
  period   week
  lookback 365d // a year
  /* policies */
  unmatched_orders         fail
  customers_without_orders keep
  // before the brace
} // after the brace

// Quintiles.
score r = rfm_recency_days bins 5 reverse ties hash "salt" edges [1, 2.5, 3, 4] // recency
score f = rfm_frequency    ties together

table rfm_segment over r, f preset rfm10 // preset

// Written out.
table value_band over r, f {
  top r 4..5 f 5 // the best
  // odd one
  odd name 1..2 r 3
  // end of rules
} // table end

model {
  // the horizon
  horizon  12m
  discount 1.5%
  bgnbd       r 0.243 alpha 4.414 a 0.793 b 2.426 // pinned
  gamma_gamma p 6.25 q 3.74 gamma 15.44
}
// the end
"##;

#[test]
fn population_declarations_read_like_the_dsl() {
    let rules = parse_ok(POPULATION);
    let (dsl, diags) = crate::syntax::dsl::parse(file(), POPULATION_DSL);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_same(&rules, &dsl, "TOML and DSL population declarations");

    let o = rules.orders.as_ref().unwrap();
    let roles: Vec<_> = o.columns.iter().map(|c| c.role.value).collect();
    assert_eq!(
        roles,
        [OrderRole::Customer, OrderRole::Date, OrderRole::Amount]
    );
    assert_eq!(slice(POPULATION, o.columns[0].column.span), "#1");
    assert_eq!(slice(POPULATION, o.columns[1].role.span), "date");
    assert_eq!(o.columns[2].format.currency.as_ref().unwrap().value, "$");
    assert_eq!(o.total(TotalKind::Last).unwrap().field.value, "last_order");
    assert_eq!(o.unmatched.as_ref().unwrap().value, UnmatchedOrders::Fail);
    assert!(o.reads_file() && o.has_totals());

    let r = &rules.scores[0];
    assert_eq!(r.bins.as_ref().unwrap().value, 5);
    assert!(r.reverse);
    assert_eq!(r.ties.as_ref().unwrap().value, Ties::Hash("salt".into()));
    assert_eq!(r.edges.as_ref().unwrap().value, [1.0, 2.5, 3.0, 4.0]);
    let f = &rules.scores[1];
    assert!(f.bins.is_none() && !f.reverse && f.edges.is_none());

    let TableBody::Rules(cells) = &rules.tables[1].body else {
        panic!("rules expected");
    };
    assert_eq!(cells[0].ranges[1].range.value, (5, 5));
    assert_eq!(slice(POPULATION, cells[0].ranges[0].range.span), "4..5");
    assert_eq!(cells[1].ranges[0].score.value, "name");

    let m = rules.model.as_ref().unwrap();
    assert_eq!(m.discount.as_ref().unwrap().value, 1.5);
    assert_eq!(m.gamma_gamma.as_ref().unwrap().value, [6.25, 3.74, 15.44]);

    // Written back: the layout above, and the same model again.
    let printed = print(&rules);
    assert_same(&parse_ok(&printed), &rules, &format!("printed:\n{printed}"));
    for line in [
        "[orders]\ncustomer = { from = \"#1\" }\n",
        "date     = { from = \"#3\", format = \"%Y%m%d\" }\n",
        "unmatched_orders         = \"fail\"\n",
        "edges = [1.0, 2.5, 3.0, 4.0]\n",
        "ties = { hash = \"salt\" }\n",
        "[[tables.rules]]\nname = \"top\"\nr = \"4..5\"\nf = 5\n",
        "ranges = { name = \"1..2\", r = 3 }\n",
        "discount = 1.5\n",
        "bgnbd = { r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 }\n",
    ] {
        assert!(printed.contains(line), "{line:?} not in:\n{printed}");
    }
}

#[test]
fn population_declarations_print_canonically_and_keep_comments() {
    use crate::syntax::printer;
    let (rules, diags) = crate::syntax::dsl::parse(file(), POPULATION_DSL);
    assert!(diags.is_empty(), "{diags:#?}");
    let printed = printer::print(&rules);
    let (again, diags) = crate::syntax::dsl::parse(file(), &printed);
    assert!(diags.is_empty(), "{diags:#?}\n{printed}");
    assert_same(&again, &rules, &printed);
    assert_eq!(printer::print(&again), printed, "fmt is idempotent");

    let comments = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.find("//").or_else(|| l.find("/*")))
            .map(|i| i.to_string())
            .collect()
    };
    let kept = |text: &str| -> Vec<String> {
        let mut out: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let i = l.find("//").or_else(|| l.find("/*"))?;
                Some(l[i..].trim_end().to_string())
            })
            .collect();
        out.sort();
        out
    };
    assert_eq!(kept(&printed), kept(POPULATION_DSL), "{printed}");
    assert_eq!(
        crate::syntax::count_comments(&rules),
        comments(POPULATION_DSL).len(),
        "count_comments counts what fmt keeps"
    );
    for line in [
        "score r = rfm_recency_days bins 5 reverse ties hash \"salt\" edges [1, 2.5, 3, 4] // recency\n",
        "score f = rfm_frequency    ties together\n",
        "  top r 4..5 f 5 // the best\n",
        "  odd name 1..2 r 3\n",
        "} // table end\n",
        "} // after the brace\n",
        "  discount 1.5%\n",
        "  bgnbd       r 0.243 alpha 4.414 a 0.793 b 2.426 // pinned\n",
        "  lookback 365d // a year\n",
        "\n  // How far back.\n  period   week\n",
        "  unmatched_orders         fail\n",
    ] {
        assert!(printed.contains(line), "{line:?} not in:\n{printed}");
    }
    // Canonical order: the orders block before the scores, the tables before the model.
    let at = |s: &str| printed.find(s).unwrap();
    assert!(at("orders {") < at("score r") && at("table value_band") < at("model {"));
}

#[test]
fn population_errors_point_at_the_key_or_value() {
    // An unknown key in `[orders]`, with the key meant.
    let text = "[orders]\ncustomer = { from = \"#1\" }\ndat = { from = \"#3\" }\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code.as_str(), "unknown-key");
    assert_eq!(diags[0].message, "unknown key `dat` in `[orders]`");
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `date`?"));
    assert_eq!(line_col(text, &diags[0]), at(3, 1));

    // `bins` of the wrong type.
    let text = "[[scores]]\nname = \"r\"\nof = \"rfm_recency_days\"\nbins = \"5\"\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code.as_str(), "wrong-type");
    assert_eq!(
        diags[0].message,
        "`bins` must be an integer, found a string"
    );
    assert_eq!(
        diags[0].help.as_deref(),
        Some("remove the quotes: `bins = 5`")
    );
    assert_eq!(line_col(text, &diags[0]), at(4, 8));
    let diags = parse_err(&text.replace("\"5\"", "-5"));
    assert_eq!(diags[0].code.as_str(), "bad-value");
    assert_eq!(
        diags[0].message,
        "`bins` must be a number of bins, found `-5`"
    );

    // A range that is not one.
    let text =
        "[[tables]]\nname = \"t\"\nover = [\"r\"]\n[[tables.rules]]\nname = \"a\"\nr = \"5..x\"\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code.as_str(), "bad-value");
    assert_eq!(diags[0].message, "`5..x` is not a score range");
    assert_eq!(
        diags[0].help.as_deref(),
        Some("write `r = \"4..5\"` for a range, `r = 5` for one score")
    );
    assert_eq!(slice(text, diags[0].span().unwrap()), "5..x");
    for (bad, message) in [
        ("\"4..\"", "`4..` is not a score range"),
        ("\"+4\"", "`+4` is not a score range"),
        (
            "\"1..300\"",
            "`1..300` is out of range: scores run from 1 to 10",
        ),
        ("-1", "`-1` is not a score range"),
    ] {
        let diags = parse_err(&text.replace("\"5..x\"", bad));
        assert_eq!(diags[0].message, message, "{bad}");
    }

    // A pinned model missing a parameter, and one misspelled.
    let text = "[model]\nbgnbd = { r = 0.243, alpha = 4.414, a = 0.793 }\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code.as_str(), "missing-key");
    assert_eq!(diags[0].message, "missing key `b` in `bgnbd`");
    assert_eq!(
        diags[0].help.as_deref(),
        Some("pin every parameter: `r`, `alpha`, `a` and `b`")
    );
    assert_eq!(line_col(text, &diags[0]), at(2, 1));
    let text = "[model]\ngamma_gamma = { p = 6.25, q = 0, gama = 15.44 }\n";
    let found: Vec<_> = parse_err(text)
        .iter()
        .map(|d| (d.code.as_str(), d.message.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "bad-value",
                "`q` must be a positive number, found `0`".to_string()
            ),
            (
                "unknown-key",
                "unknown key `gama` in `gamma_gamma`".to_string()
            ),
            (
                "missing-key",
                "missing key `gamma` in `gamma_gamma`".to_string()
            ),
        ]
    );

    // A table with a preset and rules, and one with nothing to read.
    let text = "[[tables]]\nname = \"t\"\nover = [\"r\"]\npreset = \"rfm10\"\n[[tables.rules]]\nname = \"a\"\nr = 1\n[[tables]]\nname = \"u\"\n";
    let found: Vec<_> = parse_err(text)
        .iter()
        .map(|d| (d.code.as_str(), line_col(text, d).line))
        .collect();
    assert_eq!(found, [("bad-value", 4), ("missing-key", 8)]);
}

#[test]
fn dsl_rejects_a_score_twice_in_one_rule() {
    let text = "table t over r, f {\n  a r 1 f 2 r 3\n}\n";
    let (_, diags) = crate::syntax::dsl::parse(file(), text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code.as_str(), "duplicate-property");
    assert_eq!(slice(text, diags[0].span().unwrap()), "r 3");
}
