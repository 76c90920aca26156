//! `idic analyze`: the CDNOW portfolio (golden BG/NBD and Gamma-Gamma values, the customer of
//! docs/domain.md's prediction example, score edges), the worked example of docs/domain.md, order
//! independence, and bad input.

use crate::common::{csv_rows, repo};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch(&format!("analyze-{name}"))
}

/// `idic analyze` of the CDNOW layout in `orders`, in weeks, as of 1997-09-30.
fn cdnow(orders: &Path) -> Command {
    let mut cmd = Command::cargo_bin("idic").unwrap();
    cmd.current_dir(repo())
        .arg("analyze")
        .arg("--orders")
        .arg(orders)
        .args([
            "--as-of",
            "1997-09-30",
            "--period",
            "week",
            "--customer",
            "1",
            "--date",
            "3",
            "--date-format",
            "%Y%m%d",
            "--amount",
            "5",
            "--quantity",
            "4",
        ]);
    cmd
}

fn close(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance
}

#[test]
fn the_cdnow_portfolio() {
    let dir = scratch("cdnow");
    let out = dir.join("customers.csv");
    let assert = cdnow(&repo().join("tests/fixtures/cdnow_sample.txt"))
        .arg("--out")
        .arg(&out)
        .args(["--report-format", "json"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report["customers"], 2357);
    assert_eq!(report["repeat_buyers"], 946);
    assert_eq!(report["orders"]["rows"], 6919);
    assert_eq!(report["orders"]["rejected"], 0);
    // Fader, Hardie and Lee (2005): within 0.5%.
    let bg = &report["bg_nbd"]["params"];
    for (name, want) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        let got = bg[name].as_f64().unwrap();
        assert!(
            close(got, want, want * 0.005),
            "{name} = {got}, want {want}"
        );
    }
    let ll = report["bg_nbd"]["log_likelihood"].as_f64().unwrap();
    assert!(close(ll, -9582.4, 0.1), "{ll}");
    let gg = &report["gamma_gamma"]["params"];
    for (name, want) in [("p", 6.25), ("q", 3.74), ("v", 15.44)] {
        let got = gg[name].as_f64().unwrap();
        assert!(close(got, want, want * 0.01), "{name} = {got}, want {want}");
    }
    assert_eq!(report["fit_errors"], serde_json::json!([]));
    // Every customer with a P(alive) is in one tenth; every one with RFM in one segment.
    let deciles: u64 = report["p_alive_deciles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(deciles, 2357);
    let in_segments: u64 = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(in_segments, 2357);
    // Value quantiles, ties together: worked out from the sorted values (ranks ceil(k n / 5)).
    let edges: Vec<&serde_json::Value> = report["score_edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["edges"])
        .collect();
    assert_eq!(*edges[0], serde_json::json!([99.0, 198.0, 219.0, 242.0]));
    // Half the customers bought once: the first two frequency edges are both 1.
    assert_eq!(*edges[1], serde_json::json!([1.0, 2.0, 3.0]));

    let rows = csv_rows(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(rows.len(), 2357);
    // docs/domain.md's prediction example is customer 00004: x = 2, t_x = 30.43, T = 38.86.
    let c = rows.iter().find(|r| r["id"] == "00004").unwrap();
    assert_eq!(
        (&c["frequency"][..], &c["recency"][..], &c["T"][..]),
        ("2", "30.4286", "38.8571")
    );
    // Three purchase days, the last 59 days before as_of, $74.02 in all: R 5 (59 <= 99),
    // F 4 (3 is above the edges 1, 1, 2), M 4 ($74.02 is above $46.04): champions.
    assert_eq!(
        (
            &c["recency_days"][..],
            &c["rfm_frequency"][..],
            &c["monetary"][..]
        ),
        ("59", "3", "74.02")
    );
    assert_eq!(
        (&c["R"][..], &c["F"][..], &c["M"][..], &c["segment"][..]),
        ("5", "4", "4", "champions")
    );
    // Its orders up to as_of: 2 + 2 + 1 CDs (the fixture's fourth column; the fourth order,
    // in December, is after as_of).
    assert_eq!(c["quantity"], "5");
    let p_alive: f64 = c["p_alive"].parse().unwrap();
    assert!(p_alive > 0.0 && p_alive < 1.0);
    // A one-time buyer is alive with probability 1 under BG/NBD.
    let once = rows.iter().find(|r| r["id"] == "00018").unwrap();
    assert_eq!((&once["frequency"][..], &once["p_alive"][..]), ("0", "1"));
    assert!(rows.iter().all(|r| !r.values().any(|v| v.contains("NaN"))));
}

#[test]
fn the_worked_example_of_domain_md() {
    let dir = scratch("worked");
    let orders = dir.join("orders.csv");
    std::fs::write(
        &orders,
        "customer_id,date,amount\nA,2020-01-01,10\nA,2020-01-01,5\nA,2020-01-10,20\nB,2020-02-01,40\n",
    )
    .unwrap();
    let out = dir.join("customers.csv");
    let assert = Command::cargo_bin("idic")
        .unwrap()
        .arg("analyze")
        .arg("--orders")
        .arg(&orders)
        .args(["--as-of", "2020-01-31", "--out"])
        .arg(&out)
        .assert()
        .success();
    let rows = csv_rows(&std::fs::read_to_string(&out).unwrap());
    // B's order is after as_of: ignored and counted.
    assert_eq!(rows.len(), 1);
    let a = &rows[0];
    let btyd = [
        &a["frequency"],
        &a["recency"],
        &a["T"],
        &a["monetary_value"],
    ];
    assert_eq!(btyd, ["1", "9", "30", "20"]);
    let rfm = [&a["recency_days"], &a["rfm_frequency"], &a["monetary"]];
    assert_eq!(rfm, ["21", "2", "35"]);
    // One customer cannot be fitted: said, not fatal, and no NaN anywhere.
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr);
    assert!(
        stderr.contains("warning: BG/NBD needs at least 10 customers to fit on, and has 1"),
        "{stderr}"
    );
    let report = String::from_utf8_lossy(&assert.get_output().stdout);
    assert!(report.contains("4 rows: 3 used (2 purchase days), 1 after as_of, 0 rejected"));
    assert!(report.contains("BG/NBD        not fitted"), "{report}");
    assert!(!report.contains("NaN") && !a.values().any(|v| v.contains("NaN")));
}

#[test]
fn row_order_never_changes_the_output() {
    let dir = scratch("shuffled");
    let text = std::fs::read_to_string(repo().join("tests/fixtures/cdnow_sample.txt")).unwrap();
    // A fixed permutation: every 7th line first, then the rest backwards.
    let lines: Vec<&str> = text.lines().collect();
    let mut shuffled: Vec<&str> = lines.iter().step_by(7).copied().collect();
    shuffled.extend(
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 7 != 0)
            .map(|(_, l)| *l)
            .rev(),
    );
    let shuffled_path = dir.join("shuffled.txt");
    std::fs::write(&shuffled_path, shuffled.join("\n") + "\n").unwrap();
    let outputs: Vec<(Vec<u8>, String)> = [
        repo().join("tests/fixtures/cdnow_sample.txt"),
        shuffled_path,
    ]
    .iter()
    .enumerate()
    .map(|(i, orders)| {
        let out = dir.join(format!("customers-{i}.csv"));
        let report = cdnow(orders).arg("--out").arg(&out).assert().success();
        (
            report.get_output().stdout.clone(),
            std::fs::read_to_string(out).unwrap(),
        )
    })
    .collect();
    assert_eq!(outputs[0].1, outputs[1].1, "per-customer rows differ");
    assert_eq!(outputs[0].0, outputs[1].0, "reports differ");
}

#[test]
fn bad_rows_are_rejected_with_line_and_reason_and_bad_arguments_are_explained() {
    let dir = scratch("bad");
    let orders = dir.join("orders.csv");
    std::fs::write(
        &orders,
        "customer_id,date,amount\nA,2020-01-01,10\nA,2020-13-01,5\n,2020-01-02,5\nB,2020-01-03,-4\nB,2020-01-04,abc\n",
    )
    .unwrap();
    let assert = Command::cargo_bin("idic")
        .unwrap()
        .arg("analyze")
        .arg("--orders")
        .arg(&orders)
        .args(["--as-of", "2020-01-31"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr);
    for line in ["line 3", "line 4", "line 5", "line 6"] {
        assert!(stderr.contains(line), "{line} missing:\n{stderr}");
    }
    let report = String::from_utf8_lossy(&assert.get_output().stdout);
    assert!(
        report.contains("5 rows: 1 used (1 purchase days), 0 after as_of, 4 rejected"),
        "{report}"
    );

    let run = |args: &[&str]| {
        let output = Command::cargo_bin("idic")
            .unwrap()
            .arg("analyze")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--orders", "no-such-orders.csv", "--as-of", "2020-01-31"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no-such-orders.csv"), "{stderr}");
    let path = orders.to_str().unwrap();
    let (code, stderr) = run(&["--orders", path, "--as-of", "31/01/2020"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("YYYY-MM-DD"), "{stderr}");
    let (code, stderr) = run(&[
        "--orders",
        path,
        "--as-of",
        "2020-01-31",
        "--amount",
        "total",
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("total"), "{stderr}");
    let (code, stderr) = run(&["--orders", path, "--as-of", "2020-01-31", "--bins", "12"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("3 to 10 bins"), "{stderr}");
    // The CDNOW sample without its date format: not one row reads, so nothing is analysed.
    let cdnow = repo().join("tests/fixtures/cdnow_sample.txt");
    let (code, stderr) = run(&[
        "--orders",
        cdnow.to_str().unwrap(),
        "--as-of",
        "1997-09-30",
        "--customer",
        "1",
        "--date",
        "3",
        "--amount",
        "5",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no order could be read: all 6,919 rows were rejected (the first at line 1, column 3: expected a date such as `2026-01-31`, found `19970101`); do --customer, --date, --date-format and --amount fit the file?"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one error, not a reject per row:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

/// Every repeat buyer spends the same amount: Gamma-Gamma cannot be fitted, BG/NBD can.
#[test]
fn without_gamma_gamma_p_alive_is_given_and_clv_is_absent_not_zero() {
    let dir = scratch("one-price");
    let rows = dir.join("customers.csv");
    let analyze = |format: &str| {
        let out = Command::cargo_bin("idic")
            .unwrap()
            .current_dir(repo())
            .args(["analyze", "--orders", "tests/fixtures/orders_one_price.csv"])
            .args(["--as-of", "2025-12-01", "--report-format", format, "--out"])
            .arg(&rows)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let report: serde_json::Value = serde_json::from_str(&analyze("json")).unwrap();
    assert!(report["bg_nbd"].is_object(), "{report}");
    assert!(report["gamma_gamma"].is_null());
    assert!(report["fit_errors"][0]
        .as_str()
        .unwrap()
        .contains("Gamma-Gamma"));
    let deciles: u64 = report["p_alive_deciles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(deciles, report["customers"].as_u64().unwrap());
    for segment in report["segments"].as_array().unwrap() {
        assert!(segment["clv"].is_null(), "{segment}");
    }
    let customers = csv_rows(&std::fs::read_to_string(&rows).unwrap());
    assert!(customers.iter().all(|c| !c["p_alive"].is_empty()
        && !c["expected_purchases"].is_empty()
        && c["clv"].is_empty()));
    let text = analyze("text");
    assert!(text.contains("CLV needs Gamma-Gamma: n/a"), "{text}");
    let champions = text.lines().find(|l| l.starts_with("champions")).unwrap();
    assert!(champions.trim_end().ends_with("n/a"), "{champions}");
}
