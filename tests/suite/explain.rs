//! `idic explain`: one customer's decision, taken apart. The snapshots are the human output for
//! customers of `examples/customers.csv` (rule set `rules/retail`, as of 2026-11-01); the
//! library test holds explain's decision to `idic run`'s for all 400 of them.

use crate::common::{idic, repo, scratch};
use idic::batch::{self, Options, Sinks};
use idic::engine::explain::{Join, TriggerStatus};
use idic::engine::{explain, Suppression};
use idic::io::{find_row, InputFormat, OutputFormat};
use idic::model::RowSelect;
use idic::plan::Program;

/// `idic explain rules/retail --customers examples/customers.csv ARGS...`: exit code, stdout,
/// stderr.
fn explain_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = idic()
        .args([
            "explain",
            "rules/retail",
            "--customers",
            "examples/customers.csv",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn human(id: &str) -> String {
    let (code, out, err) = explain_cli(&["--id", id]);
    assert_eq!(code, Some(0), "{err}");
    out
}

/// A champion (33 orders, $6,059.96, tagged vip, last order 22 days before as_of): platinum,
/// and the early-access email fires with its rendered parameters.
#[test]
fn a_champion() {
    insta::assert_snapshot!("champion_C000259", human("C000259"));
}

/// 11 orders, last one 99 days before as_of: not `loyal` only because `recency <= 90` fails.
#[test]
fn a_segment_missed_on_one_part() {
    let out = human("C000219");
    assert!(out.contains("recency <= 90  false  (recency = 99)  <- this part failed"));
    insta::assert_snapshot!("near_miss_C000219", out);
}

/// Loyal and silver, so `upsell_next_tier` holds, but the customer said no to email.
#[test]
fn a_trigger_suppressed_by_consent() {
    let out = human("C000104");
    assert!(out.contains("suppressed by consent: email_ok = false"));
    insta::assert_snapshot!("consent_C000104", out);
}

/// A trigger that lost its place to higher priorities says which ones took them.
#[test]
fn a_trigger_suppressed_by_the_cap_names_the_winners() {
    let program = retail();
    let mut values = find_row(
        program.fields(),
        program.rules().missing_words(),
        &std::fs::File::open(repo().join("examples/customers.csv")).unwrap(),
        InputFormat::Csv,
        &RowSelect::Id("C000259".into()),
    )
    .unwrap()
    .values;
    // C000259 is a platinum champion with a phone. Make them a new sign-up with an open ticket
    // who accepts text messages: the two service triggers (priorities 100 and 90) and the
    // welcome (60) hold, and two may fire.
    let mut set = |name: &str, value: rhai::Dynamic| {
        let i = program
            .fields()
            .iter()
            .position(|f| f.name.value == name)
            .unwrap();
        values[i] = value;
    };
    set("open_tickets", rhai::Dynamic::from(1_i64));
    set("sms_ok", rhai::Dynamic::from(true));
    set(
        "signup",
        rhai::Dynamic::from(chrono::NaiveDate::from_ymd_opt(2026, 10, 20).unwrap()),
    );
    let e = explain(&program, as_of(), values, None, None, None).unwrap();
    let fired: Vec<&str> = e
        .triggers
        .iter()
        .filter(|t| t.status == TriggerStatus::Fired)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(fired, ["service_call", "service_email"]);
    let capped: Vec<_> = e
        .triggers
        .iter()
        .filter(|t| t.why == Some(Suppression::MaxTriggers))
        .collect();
    let names: Vec<&str> = capped.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["welcome_new"]);
    for t in capped {
        assert_eq!(t.taken_by, ["service_call", "service_email"], "{}", t.name);
        assert!(t.condition.truth() == Some(true));
    }
    let text = e.to_text();
    assert!(text.contains(
        "suppressed (cap:max_triggers): the 2 places went to higher priorities: service_call, service_email"
    ));
}

#[test]
fn json_parses_and_agrees_with_the_human_output() {
    for id in ["C000104", "C000259", "C000219"] {
        let (code, out, err) = explain_cli(&["--id", id, "--format", "json"]);
        assert_eq!(code, Some(0), "{err}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let text = human(id);
        assert_eq!(json["id"], id);
        assert_eq!(json["file"], "examples/customers.csv");
        let header = format!(
            "customer {id}: row {} (line {}) of examples/customers.csv, as of {}",
            json["row"],
            json["line"],
            json["as_of"].as_str().unwrap()
        );
        assert!(text.starts_with(&header), "{header}\n{text}");
        let tier = json["tier"].as_str().unwrap();
        assert!(text.contains(&format!("  tier        {tier}\n")));
        assert!(text.contains(&format!("\ntier {tier} (the first tier that matches)")));
        // Each field, segment and trigger line says what the JSON says.
        let line_of = |name: &str| -> String {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("no line for `{name}`"))
                .to_string()
        };
        for f in json["fields"].as_array().unwrap() {
            let line = line_of(f["name"].as_str().unwrap());
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[1], f["type"]);
            assert_eq!(words[2..].join(" "), f["shown"].as_str().unwrap());
        }
        for s in json["segments"].as_array().unwrap() {
            let line = line_of(s["name"].as_str().unwrap());
            let said = line.split_whitespace().nth(1).unwrap();
            assert_eq!(said == "yes", s["matched"].as_bool().unwrap(), "{line}");
            assert!(line.ends_with(s["condition"]["source"].as_str().unwrap()));
        }
        for t in json["triggers"].as_array().unwrap() {
            let line = line_of(t["name"].as_str().unwrap());
            let status = t["status"].as_str().unwrap().replace('_', " ");
            assert!(line.contains(&format!("  {status}  ")), "{line}");
        }
        // The decision is the line `idic run` writes.
        let run = idic()
            .args([
                "run",
                "rules/retail",
                "--customers",
                "examples/customers.csv",
            ])
            .output()
            .unwrap();
        let line = String::from_utf8(run.stdout)
            .unwrap()
            .lines()
            .find(|l| l.contains(&format!("\"id\":\"{id}\"")))
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .unwrap();
        assert_eq!(json["decision"], line);
    }
}

fn retail() -> Program {
    Program::load(&repo().join("rules/retail")).unwrap()
}

fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

/// Every example customer, by row: explain decides what `idic run` decides (its JSON line, byte
/// for byte once parsed), and the explanation agrees with itself: a segment matches exactly
/// when its condition is true, a trigger is not eligible exactly when its condition is false,
/// tiers before the chosen one are false, and split conditions combine to their value.
#[test]
fn explain_decides_as_run_for_every_example_customer() {
    let program = retail();
    let path = repo().join("examples/customers.csv");
    let mut decisions = Vec::new();
    let outcome = batch::run(
        &program,
        as_of(),
        &std::fs::File::open(&path).unwrap(),
        InputFormat::Csv,
        &Options {
            threads: 2,
            ..Options::default()
        },
        Sinks {
            decisions: &mut decisions,
            decisions_format: OutputFormat::Jsonl,
            rejects: None,
        },
    )
    .unwrap();
    assert_eq!(outcome.tally.decided, 400);
    let decisions = String::from_utf8(decisions).unwrap();
    let lines: Vec<&str> = decisions.lines().collect();
    assert_eq!(lines.len(), 400);

    let mut split_seen = 0;
    for (n, line) in (1..).zip(&lines) {
        let found = find_row(
            program.fields(),
            program.rules().missing_words(),
            &std::fs::File::open(&path).unwrap(),
            InputFormat::Csv,
            &RowSelect::Row(n),
        )
        .unwrap_or_else(|e| panic!("row {n}: {e:?}"));
        assert_eq!(found.row, n);
        let e = explain(&program, as_of(), found.values, None, None, None).unwrap();
        // Byte for byte what `idic run` wrote.
        assert_eq!(e.decision.get(), *line, "row {n}");
        assert!(line.starts_with(&format!("{{\"id\":\"{}\",", e.id)));
        for s in &e.segments {
            assert_eq!(s.condition.truth(), Some(s.matched), "row {n} {}", s.name);
            split_seen += usize::from(check_parts(&s.condition));
        }
        let (last, earlier) = e.tiers.split_last().unwrap();
        assert!(last.matched && Some(&last.name) == e.tier.as_ref());
        if let Some(c) = &last.condition {
            assert_eq!(c.truth(), Some(true));
        }
        for t in earlier {
            assert!(!t.matched);
            assert_eq!(t.condition.as_ref().unwrap().truth(), Some(false));
        }
        for t in &e.triggers {
            let eligible = t.condition.truth() == Some(true);
            assert_eq!(
                eligible,
                t.status != TriggerStatus::NotEligible,
                "{}",
                t.name
            );
            assert_eq!(t.actions.is_empty(), t.status != TriggerStatus::Fired);
            // Each action as `idic run` writes it, parameters in their order.
            for a in &t.actions {
                let written = format!(
                    "{{\"trigger\":\"{}\",\"action\":\"{}\",\"channel\":\"{}\",\"activity\":\"{}\",\"service\":{},\"template\":{},\"offer\":{},\"params\":{}}}",
                    t.name,
                    a.action,
                    a.channel,
                    a.activity,
                    a.service,
                    serde_json::to_string(&a.template).unwrap(),
                    serde_json::to_string(&a.offer).unwrap(),
                    serde_json::to_string(&a.params).unwrap()
                );
                assert!(line.contains(&written), "{written}\n{line}");
            }
            if t.why == Some(Suppression::Consent) {
                assert_ne!(t.consent.as_ref().expect("a marketing trigger").value, true);
            }
            check_parts(&t.condition);
        }
    }
    // Most conditions of the retail rules have parts; they were checked.
    assert!(split_seen > 1000, "{split_seen}");
}

/// Checks that the parts of `c` (and of its parts) combine to its value; true when it splits.
fn check_parts(c: &idic::engine::explain::Condition) -> bool {
    let Some(join) = c.join else {
        return false;
    };
    let reached: Vec<bool> = c
        .parts
        .iter()
        .filter(|p| p.reached)
        .map(|p| p.truth().unwrap())
        .collect();
    let value = match join {
        Join::And => reached.iter().all(|&b| b),
        Join::Or => reached.iter().any(|&b| b),
    };
    assert_eq!(Some(value), c.truth(), "{}", c.source);
    // The decisive part, if any, is the last one reached.
    let decisive: Vec<usize> = (0..c.parts.len())
        .filter(|&i| c.parts[i].decisive)
        .collect();
    assert!(decisive.len() <= 1);
    if let Some(&i) = decisive.first() {
        assert!(c.parts[i + 1..].iter().all(|p| !p.reached));
    }
    for p in &c.parts {
        check_parts(p);
    }
    true
}

#[test]
fn an_unknown_id_names_the_id_and_the_file() {
    let (code, out, err) = explain_cli(&["--id", "C999999"]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert_eq!(
        err,
        "error: no customer with id `C999999` in `examples/customers.csv` (400 rows)\n"
    );
}

#[test]
fn a_row_out_of_range_says_how_many_rows_there_are() {
    let (code, _, err) = explain_cli(&["--row", "401"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "error: `--row 401` is out of range: `examples/customers.csv` has 400 rows\n"
    );
    // Rows count from 1.
    let (code, _, _) = explain_cli(&["--row", "0"]);
    assert_eq!(code, Some(2));
    // The last row is there.
    let (code, out, _) = explain_cli(&["--row", "400"]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("customer C000593: row 400 (line 401)"),
        "{out}"
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let out = idic()
        .args([
            "explain",
            "rules/retail",
            "--customers",
            "examples/nope.csv",
            "--row",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: cannot read `examples/nope.csv`"),
        "{err}"
    );
}

#[test]
fn exactly_one_of_id_and_row() {
    let (code, _, err) = explain_cli(&[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--id <ID>|--row <N>"), "{err}");
    let (code, _, err) = explain_cli(&["--id", "C000104", "--row", "4"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn a_rule_set_with_errors_is_reported_like_check() {
    let out = idic()
        .args([
            "explain",
            "tests/corpus/dsl_unknown_field.idic",
            "--customers",
            "examples/customers.csv",
            "--row",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("error[unknown-name]"), "{err}");
    assert!(err.contains("has errors; nothing was explained"), "{err}");
}

/// A row `idic run` rejects is an error with run's reason, line and column; a later row with
/// an earlier row's id is a duplicate, as in a run, and `--id` finds the first.
#[test]
fn a_rejected_row_gives_runs_reason() {
    let dir = scratch("explain-reject");
    let text = std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let good = lines.next().unwrap(); // C000101
    let bad = lines
        .next()
        .unwrap()
        .replace(",2,$194.29,", ",many,$194.29,"); // C000102
    let export = dir.join("export.csv");
    std::fs::write(&export, format!("{header}\n{good}\n{bad}\n{good}\n")).unwrap();
    let rejects = dir.join("rejects.jsonl");
    idic()
        .args(["run", "rules/retail", "--customers"])
        .arg(&export)
        .arg("--rejects")
        .arg(&rejects)
        .args(["--out", dir.join("out.jsonl").to_str().unwrap()])
        .assert()
        .code(0);
    let rejects: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len(), 2);

    let explain_row = |select: &[&str]| {
        let out = idic()
            .args(["explain", "rules/retail", "--customers"])
            .arg(&export)
            .args(select)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    for (select, reject) in [
        (["--id", "C000102"], &rejects[0]),
        (["--row", "3"], &rejects[1]),
    ] {
        let (code, err) = explain_row(&select);
        assert_eq!(code, Some(1), "{err}");
        let first = err.lines().next().unwrap();
        let column = reject["column"].as_str().unwrap();
        assert_eq!(
            first,
            format!(
                "error: line {} (id `{}`): column `{column}`: {}",
                reject["line"],
                reject["id"].as_str().unwrap(),
                reject["reason"].as_str().unwrap()
            )
        );
        assert!(err.contains(reject["code"].as_str().unwrap()), "{err}");
    }
    assert_eq!(rejects[0]["column"], "Total Orders");
    assert_eq!(rejects[1]["code"], "duplicate-id");
    // By id, the first row with it is the customer.
    let (code, err) = explain_row(&["--id", "C000101"]);
    assert_eq!(code, Some(0), "{err}");
}

/// `--as-of` moves the day counts; a date that is not one is a usage error.
#[test]
fn as_of_moves_the_day_counts() {
    // C000219 last ordered on 2026-07-25: 99 days before 2026-11-01, 129 before 2026-12-01.
    let (code, out, err) = explain_cli(&["--id", "C000219", "--as-of", "2026-12-01"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(", as of 2026-12-01\n"));
    assert!(out.contains("  recency           129 "), "{out}");
    let (code, _, err) = explain_cli(&["--id", "C000219", "--as-of", "01/12/2026"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not a date"), "{err}");
}

/// The same customers exported as CSV and as JSONL explain alike: the same values read, the
/// same conditions, the same decision.
#[test]
fn a_jsonl_export_explains_like_its_csv_twin() {
    use idic_generate::{write_export, ExportFormat, ExportSpec};
    let dir = scratch("explain-jsonl");
    let mut outputs = Vec::new();
    for (format, name) in [
        (ExportFormat::Csv, "customers.csv"),
        (ExportFormat::Jsonl, "customers.jsonl"),
    ] {
        let path = dir.join(name);
        let spec = ExportSpec {
            customers: 300,
            seed: 7,
            format,
            ..ExportSpec::default()
        };
        write_export(&spec, std::fs::File::create(&path).unwrap()).unwrap();
        let out = idic()
            .args(["explain", "rules/retail", "--customers"])
            .arg(&path)
            .args(["--row", "150", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap());
    }
    for key in [
        "decision", "fields", "metrics", "segments", "tiers", "stages", "triggers",
    ] {
        assert_eq!(outputs[0][key], outputs[1][key], "`{key}` differs");
    }
    assert!(outputs[0]["fields"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
}
