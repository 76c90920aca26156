//! `idic run` end to end: the CLI on the bundled export and on fixtures made to fail, checked
//! against values worked out independently from the input, plus reviewed snapshots.

use crate::common::{csv_rows, idic, repo, scratch};
use assert_cmd::Command;
use idic_generate::{write_export, ExportFormat, ExportSpec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `idic run RULES --customers CUSTOMERS`.
fn run(rules: &str, customers: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = idic();
    cmd.args(["run", rules, "--customers"]).arg(customers);
    cmd
}

fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn example_rows() -> Vec<HashMap<String, String>> {
    csv_rows(&std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap())
}

/// The summary's text without its timing line (the one thing that changes between runs).
fn without_time(summary: &str) -> String {
    summary
        .lines()
        .filter(|l| !l.starts_with("time "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_example_export_decisions_and_summary() {
    let dir = scratch("example");
    let out = dir.join("decisions.csv");
    let summary = dir.join("summary.txt");
    let assert = run("rules/retail", "examples/customers.csv")
        .arg("--out")
        .arg(&out)
        .arg("--summary")
        .arg(&summary)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("400 rows read: 400 decided, 0 rejected"),
        "{stderr}"
    );

    let decisions = std::fs::read_to_string(&out).unwrap();
    let rows = csv_rows(&decisions);
    assert_eq!(rows.len(), 400);
    let by_id: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["id"].as_str(), r)).collect();

    // Worked out by hand from examples/customers.csv, as of 2026-11-01.
    // C000101: 15 orders, $675.33, last order 2024-12-03 (698 days ago), NPS 10, no ticket:
    // lapsed; gold ($600+); win-back by email at 15% (aov $45.02, spent < $1,000), not in US/CA.
    let c = by_id["C000101"];
    assert_eq!(
        (
            c["tier"].as_str(),
            c["segments"].as_str(),
            c["triggers"].as_str()
        ),
        ("gold", "lapsed", "winback_lapsed")
    );
    let params: serde_json::Value = serde_json::from_str(&c["params"]).unwrap();
    assert_eq!(
        params["winback_lapsed.come_back"],
        serde_json::json!({"discount_pct": 15, "free_shipping": false,
            "subject": "We miss you, Ruby: 15% off your next order"})
    );
    // C000102: 2 orders, $194.29, last order 40 days ago: no segment, silver, nothing sent.
    let c = by_id["C000102"];
    assert_eq!(
        (
            c["tier"].as_str(),
            c["segments"].as_str(),
            c["triggers"].as_str()
        ),
        ("silver", "", "")
    );
    // C000103: 6 orders, $636.77, lapsed, an open ticket, phone and both consents: the care
    // call (priority 100) and the apology (90) fill the two places; win-back is not eligible
    // (unhappy).
    let c = by_id["C000103"];
    assert_eq!(
        (
            c["tier"].as_str(),
            c["segments"].as_str(),
            c["triggers"].as_str()
        ),
        ("gold", "lapsed;unhappy", "service_call;service_email")
    );
    assert_eq!(c["offers"], ";SORRY-CREDIT");
    // C000104: 7 orders, last order 53 days ago, no consent at all: loyal and regular, the
    // upsell is suppressed by consent.
    let c = by_id["C000104"];
    assert_eq!(c["segments"], "loyal");
    assert_eq!(c["triggers"], "");
    assert_eq!(c["suppressed"], "upsell_next_tier=consent");

    // Decisions come in input order.
    let ids: Vec<String> = example_rows()
        .iter()
        .map(|r| r["Customer ID"].clone())
        .collect();
    let out_ids: Vec<&String> = rows.iter().map(|r| &r["id"]).collect();
    assert_eq!(out_ids, ids.iter().collect::<Vec<_>>());

    insta::assert_snapshot!("example_decisions_csv", decisions);
    let summary = std::fs::read_to_string(&summary).unwrap();
    // The summary records the hash of the rule set that decided; the snapshot leaves it out
    // (it changes with every edit of the rules' tests) and it is compared here instead.
    let hash = idic::plan::Program::load(&repo().join("rules/retail"))
        .unwrap()
        .content_hash()
        .to_string();
    let hash_line = format!("hash      {hash}");
    assert!(summary.lines().any(|l| l == hash_line), "{summary}");
    let summary = without_time(&summary).replace(&hash, "<hash>");
    insta::assert_snapshot!("example_summary_text", summary);
}

#[test]
fn consent_suppressed_triggers_never_fire_and_are_counted() {
    let dir = scratch("consent");
    let out = dir.join("decisions.jsonl");
    let summary = dir.join("summary.json");
    run("rules/retail", "examples/customers.csv")
        .arg("--out")
        .arg(&out)
        .args(["--summary-format", "json", "--summary"])
        .arg(&summary)
        .assert()
        .success();
    let input: HashMap<String, HashMap<String, String>> = example_rows()
        .into_iter()
        .map(|r| (r["Customer ID"].clone(), r))
        .collect();
    // The consent column of each trigger's channel, as the retail rules declare it; the
    // service triggers need none.
    let consent_column = |trigger: &str| match trigger {
        "service_call" | "service_email" => None,
        "second_order_nudge" => Some("Accepts SMS Marketing"),
        _ => Some("Accepts Email Marketing"),
    };
    let mut suppressed = 0;
    let mut fired = 0;
    let mut without_consent = 0;
    for d in jsonl(&std::fs::read_to_string(&out).unwrap()) {
        let row = &input[d["id"].as_str().unwrap()];
        for t in d["triggers"].as_array().unwrap() {
            let t = t.as_str().unwrap();
            match consent_column(t) {
                Some(column) => assert_eq!(row[column], "yes", "{t} fired for {}", d["id"]),
                None if row["Accepts Email Marketing"] != "yes" => without_consent += 1,
                None => {}
            }
            fired += 1;
        }
        // Each action says its channel and whether it is a service message.
        for a in d["actions"].as_array().unwrap() {
            let service = consent_column(a["trigger"].as_str().unwrap()).is_none();
            assert_eq!(a["service"], service, "{a}");
        }
        for s in d["suppressed"].as_array().unwrap() {
            if s["reason"] == "consent" {
                let t = s["trigger"].as_str().unwrap();
                assert_ne!(
                    row[consent_column(t).expect("a marketing trigger")],
                    "yes",
                    "{t} suppressed for {}",
                    d["id"]
                );
                suppressed += 1;
            }
        }
    }
    assert!(
        fired > 100 && suppressed > 50 && without_consent > 5,
        "fired {fired}, suppressed {suppressed}, service messages without consent {without_consent}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(summary["suppressed"][0]["name"], "consent");
    assert_eq!(summary["suppressed"][0]["count"], suppressed);
    let per_trigger: u64 = summary["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["suppressed"][0]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_trigger, suppressed);
    let fired_total: u64 = summary["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["fired"].as_u64().unwrap())
        .sum();
    assert_eq!(fired_total, fired);
}

/// What `idic run RULES --customers EXPORT` wrote (in a scratch directory named `name`): the
/// decisions, the rejects file (CSV) and the JSON summary.
fn run_with_rejects(
    name: &str,
    rules: &str,
    export: &str,
) -> (Vec<serde_json::Value>, String, serde_json::Value) {
    let dir = scratch(name);
    let (out, rejects, summary) = (
        dir.join("decisions.jsonl"),
        dir.join("rejects.csv"),
        dir.join("summary.json"),
    );
    run(rules, export)
        .arg("--out")
        .arg(&out)
        .arg("--rejects")
        .arg(&rejects)
        .args(["--summary-format", "json", "--summary"])
        .arg(&summary)
        .assert()
        .success();
    let read = |path: &Path| std::fs::read_to_string(path).unwrap();
    (
        jsonl(&read(&out)),
        read(&rejects),
        serde_json::from_str(&read(&summary)).unwrap(),
    )
}

#[test]
fn malformed_rows_are_rejected_with_line_and_reason() {
    let (decisions, rejects, summary) =
        run_with_rejects("malformed", "rules/retail", "tests/fixtures/malformed.csv");
    let decided: Vec<String> = decisions
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    // The good rows, and of the rows sharing C000101 only the first.
    assert_eq!(decided, ["C000101", "C000102", "C000110", "C000112"]);

    let got: Vec<(String, String, String, String)> = csv_rows(&rejects)
        .into_iter()
        .map(|r| {
            (
                r["line"].clone(),
                r["id"].clone(),
                r["column"].clone(),
                r["code"].clone(),
            )
        })
        .collect();
    let want = [
        ("4", "C000103", "", "field-count"),
        ("5", "C000104", "Last Order Date", "bad-value"),
        ("6", "C000105", "Total Orders", "bad-value"),
        ("7", "C000106", "Accepts Email Marketing", "bad-value"),
        ("8", "", "Customer ID", "missing-value"),
        ("9", "C000101", "Customer ID", "duplicate-id"),
        ("10", "C000109", "Total Spent", "bad-value"),
        // The quoted line break in C000110's notes makes it two lines: 11 and 12.
        ("13", "C000111", "Signup Date", "bad-value"),
        // A duplicate of a rejected row is still a duplicate.
        ("15", "C000104", "Customer ID", "duplicate-id"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
    insta::assert_snapshot!("malformed_rejects_csv", rejects);

    assert_eq!(
        summary["rows"],
        serde_json::json!({"read": 13, "decided": 4, "rejected": 9})
    );
    let counted: u64 = summary["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 9);
}

/// A B2B export as exports come (tests/fixtures/messy/accounts.csv: a byte-order mark, CRLF,
/// `N/A` and `-`, dates two ways, refunds in parentheses, percentages, a stray quote, a
/// duplicate id, a row broken in four cells, log-ins with their offset): every row is read but
/// the duplicate and the broken one.
#[test]
fn a_messy_export_is_read_but_for_its_duplicate_and_its_broken_row() {
    // The fixture keeps its byte-order mark and CRLF line ends (a checkout must not convert).
    let bytes = std::fs::read(repo().join("tests/fixtures/messy/accounts.csv")).unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()) && bytes.windows(2).any(|w| w == b"\r\n"));
    let (decisions, rejects, summary) = run_with_rejects(
        "messy-export",
        "tests/fixtures/messy/accounts.idic",
        "tests/fixtures/messy/accounts.csv",
    );
    assert_eq!(
        summary["rows"],
        serde_json::json!({"read": 9, "decided": 7, "rejected": 2})
    );
    let by_id: HashMap<&str, &serde_json::Value> = decisions
        .iter()
        .map(|d| (d["id"].as_str().unwrap(), d))
        .collect();
    let segments = |id: &str| by_id[id]["segments"].clone();
    // `$12,400.00` and `"$48,210.50"` make key accounts; `12%` and `15%` big discounts.
    assert_eq!(by_id["A-1001"]["tier"], "key_account");
    assert_eq!(segments("A-1001"), serde_json::json!(["big_discount"]));
    assert_eq!(segments("A-1006"), serde_json::json!(["big_discount"]));
    // Refunds in parentheses are negative.
    assert_eq!(segments("A-1004"), serde_json::json!(["refunded"]));
    assert_eq!(segments("A-1008"), serde_json::json!(["refunded"]));
    // `N/A` and `-` are no value: the contact date falls back to the sign-up date.
    assert_eq!(by_id["A-1003"]["triggers"], serde_json::json!(["check_in"]));
    assert_eq!(by_id["A-1005"]["triggers"], serde_json::json!(["check_in"]));
    // `opted out`, in any case, is no consent.
    assert_eq!(
        by_id["A-1002"]["suppressed"],
        serde_json::json!([{"trigger": "check_in", "reason": "consent"}])
    );
    insta::assert_snapshot!("messy_export_rejects_csv", rejects);
    // Texts: `N/A` takes the fallback; money gets its thousands, dates their month name.
    let subject = |id: &str| by_id[id]["actions"][0]["params"]["subject"].clone();
    assert_eq!(
        subject("A-1003"),
        "Dear customer, Initech spent 0.00 since 01 March 2024"
    );
    assert_eq!(
        subject("A-1005"),
        "Dear Sam Roy, Hooli spent 1,200.00 since 22 April 2024"
    );
    // As read: `$12,400.00`, `12%`, and a log-in at 23:30 five hours west of UTC.
    let out = idic()
        .args([
            "explain",
            "tests/fixtures/messy/accounts.idic",
            "--customers",
        ])
        .arg("tests/fixtures/messy/accounts.csv")
        .args(["--id", "A-1001", "--format", "json"])
        .output()
        .unwrap();
    let explained: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let value = |name: &str| {
        let fields = explained["fields"].as_array().unwrap();
        fields.iter().find(|f| f["name"] == name).unwrap()["value"].clone()
    };
    assert_eq!(value("revenue"), serde_json::json!(12400.0));
    assert_eq!(value("discount"), serde_json::json!(0.12));
    assert_eq!(
        value("last_login"),
        serde_json::json!("2026-01-01 04:30:00")
    );
}

#[test]
fn a_reject_names_every_cell_that_cannot_be_read() {
    let dir = scratch("every-bad-cell");
    let header = std::fs::read_to_string(repo().join("tests/fixtures/malformed.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let csv = dir.join("three-bad-cells.csv");
    std::fs::write(
        &csv,
        format!(
            "{header}\nC9,Ann,Lee,ann@example.org,2019-01-12,31/13/2026,seven,$1.2.3,yes,no,,US,,,0,\n"
        ),
    )
    .unwrap();
    let jsonl = dir.join("three-bad-cells.jsonl");
    let mut object = serde_json::Map::new();
    for (column, value) in header.split(',').zip(
        "C9,Ann,Lee,ann@example.org,2019-01-12,31/13/2026,seven,$1.2.3,yes,no,,US,,,0,".split(','),
    ) {
        object.insert(
            column.to_string(),
            serde_json::Value::String(value.to_string()),
        );
    }
    std::fs::write(&jsonl, format!("{}\n", serde_json::Value::Object(object))).unwrap();
    for export in [csv, jsonl] {
        let rejects = dir.join("rejects.csv");
        run("rules/retail", &export)
            .arg("--out")
            .arg(dir.join("decisions.jsonl"))
            .arg("--rejects")
            .arg(&rejects)
            .assert()
            .success();
        let rows = csv_rows(&std::fs::read_to_string(&rejects).unwrap());
        assert_eq!(rows.len(), 1, "{}", export.display());
        let reject = &rows[0];
        // The first bad cell's column and code; the reason names all three.
        assert_eq!(reject["column"], "Last Order Date");
        assert_eq!(reject["code"], "bad-value");
        let reason = &reject["reason"];
        assert!(
            reason.starts_with("3 cells cannot be read: `Last Order Date`: expected a date"),
            "{reason}"
        );
        assert!(
            reason
                .contains("; `Total Orders`: expected a whole number such as `42`, found `seven`"),
            "{reason}"
        );
        assert!(
            reason.contains(
                "; `Total Spent`: expected an amount such as `$1,234.50`, found `$1.2.3`"
            ),
            "{reason}"
        );
    }
}

#[test]
fn strict_and_max_errors_stop_and_leave_the_last_good_output() {
    let dir = scratch("strict");
    let out = dir.join("decisions.csv");
    std::fs::write(&out, "last night's decisions\n").unwrap();

    let run = |extra: &[&str]| {
        run("rules/retail", "tests/fixtures/malformed.csv")
            .arg("--out")
            .arg(&out)
            .args(extra)
            .assert()
    };
    let assert = run(&["--strict"]).code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("stopped at the first rejected row: line 4 (id `C000103`)"),
        "{stderr}"
    );
    let assert = run(&["--max-errors", "3"]).code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    // The fourth reject is line 7's.
    assert!(
        stderr.contains("more than 3 rows rejected; the last was line 7"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "last night's decisions\n"
    );
    // Nothing half-written is left beside it.
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // Under the limit, the run goes through and replaces the file.
    run(&["--max-errors", "9"]).success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("id,tier,stage,segments"), "{text}");
    assert_eq!(csv_rows(&text).len(), 4);
}

#[test]
fn rules_failing_at_run_time_reject_only_their_customers() {
    let dir = scratch("failing");
    let out = dir.join("decisions.jsonl");
    let rejects = dir.join("rejects.jsonl");
    let rules = "tests/fixtures/rules/failing.idic";
    run(rules, "examples/customers.csv")
        .arg("--out")
        .arg(&out)
        .arg("--rejects")
        .arg(&rejects)
        .assert()
        .success();

    // Who must fail, read off the export independently of idic.
    let mut zero = Vec::new();
    let mut spin = Vec::new();
    let mut fine = Vec::new();
    for r in example_rows() {
        let orders: i64 = r["Total Orders"].parse().unwrap_or(0);
        let tickets: i64 = r["Open Support Tickets"].parse().unwrap_or(0);
        let id = r["Customer ID"].clone();
        if orders >= 10 && tickets == 0 {
            zero.push(id);
        } else if r["Country"] == "NZ" {
            spin.push(id);
        } else {
            fine.push(id);
        }
    }
    assert!(!zero.is_empty() && !spin.is_empty());

    let rejects = jsonl(&std::fs::read_to_string(&rejects).unwrap());
    let with = |rule: &str| -> Vec<String> {
        rejects
            .iter()
            .filter(|r| r["rule"] == rule)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(with("metric per_ticket"), zero);
    assert_eq!(with("metric spin"), spin);
    assert_eq!(rejects.len(), zero.len() + spin.len());
    for r in &rejects {
        assert_eq!(r["code"], "rule-failed");
        let reason = r["reason"].as_str().unwrap();
        if r["rule"] == "metric spin" {
            assert_eq!(
                reason,
                "metric `spin` was stopped after 100000 operations: does it loop forever?"
            );
        } else {
            assert!(
                reason.starts_with("metric `per_ticket` failed: division by zero"),
                "{reason}"
            );
        }
    }
    let decided: Vec<String> = jsonl(&std::fs::read_to_string(&out).unwrap())
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(decided, fine);

    // The same failures abort a run that allows fewer.
    let assert = run(rules, "examples/customers.csv")
        .arg("--out")
        .arg(dir.join("aborted.jsonl"))
        .args(["--max-errors", "5"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("more than 5 rows rejected"), "{stderr}");
    assert!(!dir.join("aborted.jsonl").exists());
}

/// Writes a generated export of `n` customers in `format` and returns its path.
fn generated(dir: &Path, n: u64, format: ExportFormat) -> PathBuf {
    let name = match format {
        ExportFormat::Csv => "customers.csv",
        ExportFormat::Jsonl => "customers.jsonl",
    };
    let path = dir.join(name);
    let spec = ExportSpec {
        customers: n,
        seed: 42,
        format,
        ..ExportSpec::default()
    };
    write_export(&spec, std::fs::File::create(&path).unwrap()).unwrap();
    path
}

#[test]
fn output_is_byte_identical_for_any_thread_count() {
    let dir = scratch("threads");
    let export = generated(&dir, 50_000, ExportFormat::Csv);
    let outputs: Vec<(Vec<u8>, String)> = ["1", "2", "3"]
        .iter()
        .map(|threads| {
            let out = dir.join(format!("decisions-{threads}.jsonl"));
            let summary = dir.join(format!("summary-{threads}.json"));
            run("rules/retail", &export)
                .arg("--out")
                .arg(&out)
                .args(["--summary-format", "json", "--summary"])
                .arg(&summary)
                .args(["--threads", threads])
                .assert()
                .success();
            let mut summary: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
            assert_eq!(summary["threads"].as_u64().unwrap().to_string(), *threads);
            let object = summary.as_object_mut().unwrap();
            object.remove("threads");
            object.remove("elapsed_seconds");
            object.remove("input");
            (std::fs::read(&out).unwrap(), summary.to_string())
        })
        .collect();
    assert_eq!(outputs[0].0.iter().filter(|&&b| b == b'\n').count(), 50_000);
    for other in &outputs[1..] {
        assert!(
            outputs[0].0 == other.0,
            "decisions differ between thread counts"
        );
        assert_eq!(
            outputs[0].1, other.1,
            "summaries differ between thread counts"
        );
    }
}

#[test]
fn jsonl_and_standard_input_read_the_same_customers() {
    let dir = scratch("formats");
    let csv = generated(&dir, 2_000, ExportFormat::Csv);
    let json = generated(&dir, 2_000, ExportFormat::Jsonl);
    let from_file = |path: &Path| {
        run("rules/retail", path)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let via_csv = from_file(&csv);
    assert_eq!(via_csv.iter().filter(|&&b| b == b'\n').count(), 2_000);
    assert!(via_csv == from_file(&json), "JSONL decisions differ");
    let via_stdin = run("rules/retail", "-")
        .pipe_stdin(&csv)
        .unwrap()
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(via_csv == via_stdin, "standard input decisions differ");
}

#[test]
fn a_missing_column_stops_before_any_row() {
    let dir = scratch("missing");
    let out = dir.join("decisions.jsonl");
    let assert = run(
        "tests/fixtures/rules/missing_column.idic",
        "examples/customers.csv",
    )
    .arg("--out")
    .arg(&out)
    .assert()
    .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    insta::assert_snapshot!("missing_column_stderr", stderr);
    assert!(!out.exists());
}

#[test]
fn usage_errors_are_explained() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--as-of", "2026-13-01"],
            "`--as-of 2026-13-01` is not a date: write it as YYYY-MM-DD",
        ),
        (&["--threads", "0"], "invalid value '0' for '--threads <N>'"),
        (
            &["--customers", "examples/nope.csv"],
            "cannot read `examples/nope.csv`",
        ),
        (
            &["--customers", "README.md"],
            "cannot tell the format of `README.md` from its name",
        ),
        (
            &["--out", "no/such/dir/out.csv"],
            "cannot write `no/such/dir/out.csv`",
        ),
    ];
    for (args, expected) in cases {
        let mut cmd = idic();
        cmd.args(["run", "rules/retail"]);
        if !args.contains(&"--customers") {
            cmd.args(["--customers", "examples/customers.csv"]);
        }
        let assert = cmd.args(args).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn a_rule_set_with_errors_is_not_run() {
    let assert = run(
        "tests/corpus/dsl_unknown_field.idic",
        "examples/customers.csv",
    )
    .assert()
    .code(1);
    let output = assert.get_output();
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("error[unknown-name]"), "{stderr}");
    assert!(stderr.contains("has errors; nothing was run"), "{stderr}");
}

#[test]
fn jsonl_rows_are_rejected_with_line_and_reason() {
    let dir = scratch("malformed-jsonl");
    let export = dir.join("customers.jsonl");
    // Real rows of the example export, as JSON objects; then the same mistakes as in CSV.
    let rows = example_rows();
    let object = |i: usize, change: &[(&str, serde_json::Value)]| {
        let mut o: serde_json::Map<String, serde_json::Value> = rows[i]
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        for (k, v) in change {
            o.insert(k.to_string(), v.clone());
        }
        serde_json::Value::Object(o).to_string()
    };
    let lines = [
        object(0, &[]),                                              // 1
        String::new(),                                               // 2: blank, no row
        object(1, &[("Total Orders", serde_json::json!(2))]),        // 3: a number is fine
        object(2, &[("Total Orders", serde_json::json!(2.5))]),      // 4: not whole
        "{\"Customer ID\": \"C9\", ".to_string(),                    // 5: broken JSON
        "[1, 2]".to_string(),                                        // 6: not an object
        object(3, &[("Customer ID", serde_json::json!("C000101"))]), // 7: duplicate of 1
        object(4, &[("Signup Date", serde_json::Value::Null)]),      // 8: required, null
    ];
    std::fs::write(&export, lines.join("\n") + "\n").unwrap();
    let out = dir.join("rejects.jsonl");
    let decided = run("rules/retail", &export)
        .arg("--rejects")
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let decided: Vec<String> = jsonl(&String::from_utf8(decided).unwrap())
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(decided, ["C000101", "C000102"]);
    let rejects = jsonl(&std::fs::read_to_string(&out).unwrap());
    let got: Vec<(u64, &str, &str)> = rejects
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["code"].as_str().unwrap(),
                r["column"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (4, "bad-value", "Total Orders"),
            (5, "bad-json", ""),
            (6, "bad-json", ""),
            (7, "duplicate-id", "Customer ID"),
            (8, "missing-value", "Signup Date"),
        ]
    );
    assert_eq!(
        rejects[3]["reason"],
        "duplicate id `C000101`, first on line 1: only the first row with an id is considered"
    );
    assert_eq!(
        rejects[2]["reason"],
        "expected a JSON object with one key per column, found a list"
    );
}

#[test]
fn a_jsonl_export_starting_with_a_byte_order_mark_loses_no_row() {
    let dir = scratch("bom-jsonl");
    let export = dir.join("customers.jsonl");
    let lines: Vec<String> = example_rows()
        .iter()
        .take(3)
        .map(|row| serde_json::to_string(row).unwrap())
        .collect();
    std::fs::write(&export, format!("\u{feff}{}\n", lines.join("\n"))).unwrap();
    let assert = run("rules/retail", &export).assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("3 rows read: 3 decided, 0 rejected"),
        "{stderr}"
    );
    let decided = jsonl(&String::from_utf8_lossy(&assert.get_output().stdout));
    assert_eq!(decided[0]["id"], "C000101");
    // `explain` finds the first row as `run` reads it.
    let assert = idic()
        .args(["explain", "rules/retail", "--row", "1", "--customers"])
        .arg(&export)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout);
    assert!(
        stdout.starts_with("customer C000101: row 1 (line 1)"),
        "{stdout}"
    );
}

#[test]
fn a_quote_never_closed_is_one_reject_that_names_the_lines_it_took() {
    let dir = scratch("unclosed-quote");
    let text = std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    // Thirteen rows without quotes of their own; row 5 opens a quote before its first name and
    // never closes it: its cell takes the 8 rows after it.
    let mut rows: Vec<String> = lines
        .filter(|l| !l.contains('"'))
        .take(13)
        .map(str::to_string)
        .collect();
    rows[4] = rows[4].replacen(',', ",\"", 1);
    let export = dir.join("customers.csv");
    std::fs::write(&export, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let (out, rejects, summary) = (
        dir.join("decisions.jsonl"),
        dir.join("rejects.csv"),
        dir.join("summary.json"),
    );
    run("rules/retail", &export)
        .arg("--out")
        .arg(&out)
        .arg("--rejects")
        .arg(&rejects)
        .args(["--summary-format", "json", "--summary"])
        .arg(&summary)
        .assert()
        .success();
    assert_eq!(jsonl(&std::fs::read_to_string(&out).unwrap()).len(), 4);
    let rejected = csv_rows(&std::fs::read_to_string(&rejects).unwrap());
    assert_eq!(rejected.len(), 1);
    let id = rows[4].split(',').next().unwrap();
    assert_eq!(
        (
            rejected[0]["line"].as_str(),
            rejected[0]["id"].as_str(),
            rejected[0]["code"].as_str()
        ),
        ("6", id, "open-quote")
    );
    assert_eq!(
        rejected[0]["reason"],
        "a quote opened in this row is never closed, so lines 7 to 14, to the end of the export, \
         were read into the cell it opens rather than as rows of their own"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(
        summary["rows"],
        serde_json::json!({"read": 5, "decided": 4, "rejected": 1})
    );
}

#[test]
fn a_control_character_in_a_header_name_is_shown_escaped() {
    let dir = scratch("nul-header");
    let text = std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap();
    let export = dir.join("customers.csv");
    std::fs::write(&export, text.replacen("Customer ID", "Customer\0 ID", 1)).unwrap();
    let assert = run("rules/retail", &export).assert().code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr,
        "error: column `Customer ID` is not in the header (closest: `Customer\\u{0} ID`)\n"
    );
}

#[test]
fn a_json_summary_on_standard_error_is_all_a_run_writes_there() {
    // A rule set with a warning (a segment nothing uses) and an export with rejected rows: the
    // warning, the status line and the first rejects would all go to standard error.
    let dir = scratch("json-stderr");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(
        repo().join("rules/retail/retail.idic"),
        rules.join("retail.idic"),
    )
    .unwrap();
    std::fs::write(
        rules.join("extra.idic"),
        "segment unused_one = orders > 100\n",
    )
    .unwrap();
    let json_summary = |extra: &[&str]| {
        let mut cmd = run(rules.to_str().unwrap(), "tests/fixtures/malformed.csv");
        cmd.args(["--summary", "-", "--summary-format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = json_summary(&[]);
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr)
        .unwrap_or_else(|e| panic!("{e}:\n{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(
        summary["rows"],
        serde_json::json!({"read": 13, "decided": 4, "rejected": 9})
    );
    assert_eq!(summary["rule_set"]["warnings"], 1);
    assert_eq!(jsonl(&String::from_utf8_lossy(&output.stdout)).len(), 4);

    // Rejects on standard error too would spoil it: refused before anything runs.
    let output = json_summary(&["--rejects", "-"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("`--rejects` and a JSON `--summary -` would share standard error"),);

    // A text summary on standard error still comes with the warning and the status line.
    let output = run(rules.to_str().unwrap(), "tests/fixtures/malformed.csv")
        .args(["--summary", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("warning: the rule set has 1 warning"),
        "{stderr}"
    );
    assert!(stderr.contains("warnings  1 (`idic check "), "{stderr}");
    assert!(
        stderr.contains("13 rows read: 4 decided, 9 rejected"),
        "{stderr}"
    );
}

#[test]
fn decisions_carry_the_address_a_channel_names() {
    let dir = scratch("addresses");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let text = std::fs::read_to_string(repo().join("rules/retail/retail.idic"))
        .unwrap()
        .replace(
            "channel  email consent email_ok\n",
            "channel  email consent email_ok address email\n",
        )
        .replace(
            "channel  sms consent sms_ok\n",
            "channel  sms consent sms_ok address phone\n",
        )
        .replace("channel  email\n", "channel  email address email\n")
        .replace("channel  call\n", "channel  call address phone\n");
    std::fs::write(rules.join("retail.idic"), text).unwrap();
    let export = repo().join("examples/customers.csv");
    let rows = csv_rows(&std::fs::read_to_string(&export).unwrap());
    let by_id: HashMap<&str, &HashMap<String, String>> = rows
        .iter()
        .map(|r| (r["Customer ID"].as_str(), r))
        .collect();
    let out = dir.join("decisions.jsonl");
    run(rules.to_str().unwrap(), &export)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let mut seen = 0;
    for decision in jsonl(&std::fs::read_to_string(&out).unwrap()) {
        let row = by_id[decision["id"].as_str().unwrap()];
        for action in decision["actions"].as_array().unwrap() {
            // Each action carries the address of its channel, `null` when the cell is empty.
            let column = if action["channel"] == "email" {
                "Email"
            } else {
                "Phone"
            };
            let expected = match row[column].trim() {
                "" => serde_json::Value::Null,
                address => serde_json::Value::from(address),
            };
            assert_eq!(action["address"], expected, "{action}");
            seen += 1;
        }
    }
    assert!(seen > 100, "{seen} actions");
    // CSV: an `addresses` column after `channels`, one per action.
    let csv = dir.join("decisions.csv");
    run(rules.to_str().unwrap(), &export)
        .arg("--out")
        .arg(&csv)
        .assert()
        .success();
    let decisions = csv_rows(&std::fs::read_to_string(&csv).unwrap());
    let first = decisions
        .iter()
        .find(|d| d["actions"] == "winback_lapsed.come_back")
        .unwrap();
    assert_eq!(first["addresses"], by_id[first["id"].as_str()]["Email"]);
    let header = std::fs::read_to_string(&csv).unwrap();
    assert!(header.starts_with(
        "id,tier,stage,segments,triggers,arms,actions,channels,addresses,activities,"
    ));
    // Without an address, no column and no key: the shipped rules' outputs are unchanged.
    let plain = dir.join("plain.csv");
    run("rules/retail", &export)
        .arg("--out")
        .arg(&plain)
        .assert()
        .success();
    assert!(!std::fs::read_to_string(&plain)
        .unwrap()
        .contains("addresses"));
}
