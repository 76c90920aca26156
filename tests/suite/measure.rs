//! `idic measure`: lifts with their intervals from a contact history and an outcomes file,
//! checked against the formulas written out here, and the shipped worked example.

use crate::common::{idic, repo, scratch, stdout_of};
use idic::history::{Arm, NewContact, RunKind, RunRecord, Store};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// Records one run as of `as_of` in the history at `path`: `(customer, trigger, arm)`.
fn record(path: &Path, as_of: &str, contacts: &[(String, &str, Arm)]) {
    let store = Store::lock(path).unwrap();
    let mut recording = store
        .record(&RunRecord {
            kind: RunKind::Run,
            key: format!("test-{as_of}"),
            as_of: Some(as_of.into()),
            ruleset: "test".into(),
            ruleset_hash: "test".into(),
            input: "test".into(),
            input_hash: "test".into(),
        })
        .unwrap();
    let contacts: Vec<NewContact> = contacts
        .iter()
        .map(|(customer, trigger, arm)| NewContact {
            date: Cow::Borrowed(as_of),
            customer: Cow::Borrowed(customer),
            trigger: Some(Cow::Borrowed(trigger)),
            action: Some(Cow::Borrowed("offer")),
            channel: Cow::Borrowed("email"),
            activity: Some(Cow::Borrowed("winback")),
            service: false,
            arm: *arm,
            tier: None,
            stage: None,
            segments: None,
        })
        .collect();
    recording.add(&contacts).unwrap();
    recording.commit().unwrap();
}

/// Asserts that `cmd` exits with 2 and says `text` on standard error.
#[track_caller]
fn refused(cmd: &mut assert_cmd::Command, text: &str) {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(text), "{err}");
}

fn measure_json(args: &[&str]) -> Value {
    let text = stdout_of(idic().arg("measure").args(args).args(["--format", "json"]));
    serde_json::from_str(&text).unwrap()
}

/// The row of `treatment`'s first run, for every customer.
fn overall<'a>(report: &'a Value, treatment: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["treatment"] == treatment && r["group"].is_null())
        .unwrap_or_else(|| panic!("no row for {treatment}"))
}

/// The acceptance's experiment: 10,000 customers per arm, 5% converting among controls and
/// 6.5% among the treated (a true lift of 1.5 points), values lognormal. The interval covers
/// the true lift, and every figure equals the formulas written out here.
#[test]
fn a_known_effect_is_measured_as_the_formulas_say() {
    let dir = scratch("measure_known_effect");
    let history = dir.join("history.sqlite");
    let contacts: Vec<(String, &str, Arm)> = (0..10_000)
        .map(|i| (format!("T{i}"), "winback", Arm::Treated))
        .chain((0..10_000).map(|i| (format!("C{i}"), "winback", Arm::Control)))
        .collect();
    record(&history, "2026-10-01", &contacts);
    let mut rng = rand_pcg::Pcg64::seed_from_u64(15);
    let mut orders = String::from("customer_id,date,amount\n");
    let (mut values_t, mut values_c) = (Vec::new(), Vec::new());
    for (customer, _, arm) in &contacts {
        let p = if *arm == Arm::Treated { 0.065 } else { 0.05 };
        let mut value = 0.0;
        if rng.random::<f64>() < p {
            // Lognormal, by Box-Muller; cents, as the file holds them.
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            let normal = (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            value = ((3.8 + 0.6 * normal).exp() * 100.0).round() / 100.0;
            let day = rng.random_range(2..=30);
            writeln!(orders, "{customer},2026-10-{day:02},{value:.2}").unwrap();
        }
        // An order before the contact, and one after the window: neither counts.
        if rng.random::<f64>() < 0.1 {
            writeln!(orders, "{customer},2026-09-15,10.00").unwrap();
            writeln!(orders, "{customer},2026-11-20,10.00").unwrap();
        }
        match arm {
            Arm::Treated => values_t.push(value),
            Arm::Control => values_c.push(value),
        }
    }
    std::fs::write(dir.join("orders.csv"), orders).unwrap();
    let report = measure_json(&[
        "--history",
        history.to_str().unwrap(),
        "--outcomes",
        dir.join("orders.csv").to_str().unwrap(),
        "--window",
        "30d",
    ]);
    let row = overall(&report, "winback");
    let count = |xs: &[f64]| xs.iter().filter(|&&x| x > 0.0).count() as f64;
    let (n_t, n_c) = (10_000.0, 10_000.0);
    let (x_t, x_c) = (count(&values_t), count(&values_c));
    assert_eq!(row["treated"]["converted"], x_t as u64);
    assert_eq!(row["control"]["converted"], x_c as u64);
    let (p_t, p_c) = (x_t / n_t, x_c / n_c);

    // Newcombe's method 10 from the Wilson intervals, z = 1.959964.
    let z = 1.959_963_984_540_054_f64;
    let wilson = |p: f64, n: f64| {
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        (centre - half, centre + half)
    };
    let ((l_t, u_t), (l_c, u_c)) = (wilson(p_t, n_t), wilson(p_c, n_c));
    let d = p_t - p_c;
    let lower = d - ((p_t - l_t).powi(2) + (u_c - p_c).powi(2)).sqrt();
    let upper = d + ((u_t - p_t).powi(2) + (p_c - l_c).powi(2)).sqrt();
    let close = |got: &Value, want: f64| {
        let got = got.as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{got} != {want}"
        );
    };
    close(&row["absolute_lift"]["estimate"], d);
    close(&row["absolute_lift"]["lower"], lower);
    close(&row["absolute_lift"]["upper"], upper);
    assert!(lower <= 0.015 && 0.015 <= upper, "{lower}..{upper}");
    // Incremental conversions: the lift times the treated.
    close(&row["incremental_conversions"]["lower"], lower * n_t);

    // The relative lift's delta-method interval.
    let se = |p: f64, n: f64| (p * (1.0 - p) / n).sqrt();
    let se_rel =
        (1.0 / p_c) * (se(p_t, n_t).powi(2) + (p_t / p_c).powi(2) * se(p_c, n_c).powi(2)).sqrt();
    close(&row["relative_lift"]["estimate"], p_t / p_c - 1.0);
    close(&row["relative_lift"]["upper"], p_t / p_c - 1.0 + z * se_rel);

    // Welch: the means and standard errors by hand; with about 20,000 degrees of freedom the
    // t quantile lies between 1.9600 and 1.9602.
    let moments = |xs: &[f64]| {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var / n)
    };
    let ((m_t, v_t), (m_c, v_c)) = (moments(&values_t), moments(&values_c));
    let difference = &row["value_difference"];
    close(&difference["estimate"], m_t - m_c);
    let half = difference["upper"].as_f64().unwrap() - (m_t - m_c);
    let t = half / (v_t + v_c).sqrt();
    assert!((1.9600..1.9602).contains(&t), "t = {t}");

    // The pooled z test.
    let pooled = (x_t + x_c) / (n_t + n_c);
    let z_stat = d / (pooled * (1.0 - pooled) * (1.0 / n_t + 1.0 / n_c)).sqrt();
    assert!(z_stat > 1.96 && row["p_value"].as_f64().unwrap() < 0.05);
    assert_eq!(row["evidence"], "positive");
    // Each customer with an order before the contact has one such day ignored.
    assert!(report["notes"]["days_before_contact"].as_u64().unwrap() > 1_000);
}

/// Outcomes not yet complete for a run leave it open, never counted as non-conversions;
/// outcomes of customers the history does not know are counted; a trigger without controls
/// is named.
#[test]
fn open_windows_unknown_customers_and_missing_controls_are_reported() {
    let dir = scratch("measure_open_windows");
    let history = dir.join("history.sqlite");
    let arms = |trigger: &'static str, controls: bool| {
        (0..40).map(move |i| {
            let arm = if controls && i % 2 == 1 {
                Arm::Control
            } else {
                Arm::Treated
            };
            (format!("C{i}"), trigger, arm)
        })
    };
    let first: Vec<_> = arms("winback", true)
        .chain(arms("welcome", false))
        .collect();
    record(&history, "2026-10-01", &first);
    record(
        &history,
        "2026-11-20",
        &arms("winback", true).collect::<Vec<_>>(),
    );
    let orders = dir.join("orders.csv");
    std::fs::write(
        &orders,
        "customer_id,date,amount\nC0,2026-10-05,20\nC1,2026-09-01,5\nSTRANGER,2026-10-02,9\nC2,2026-12-01,30\n",
    )
    .unwrap();
    let args = [
        "--history",
        history.to_str().unwrap(),
        "--outcomes",
        orders.to_str().unwrap(),
    ];
    let report = measure_json(&args);
    assert_eq!(report["outcomes_through"], "2026-12-01");
    // The second run's window ends 2026-12-20: open, and not in any row.
    assert_eq!(report["open_runs"][0]["as_of"], "2026-11-20");
    assert!(report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["as_of"] != "2026-11-20"));
    let winback = overall(&report, "winback");
    assert_eq!(winback["treated"]["customers"], 20);
    assert_eq!(winback["treated"]["converted"], 1);
    assert_eq!(winback["evidence"], "too_small");
    assert_eq!(report["notes"]["unknown_customers"], 1);
    assert_eq!(report["notes"]["days_before_contact"], 1);
    assert_eq!(report["notes"]["triggers_without_controls"][0], "welcome");

    let text = stdout_of(idic().arg("measure").args(args));
    assert!(
        text.contains("Run 2 (as_of 2026-11-20) is not measured: its window ends 2026-12-20"),
        "{text}"
    );
    assert!(text.contains("No controls recorded for welcome"), "{text}");
    assert!(
        text.contains("1 customers the history does not list"),
        "{text}"
    );
    // Outcomes known through a later day close the run.
    let later = measure_json(&[&args[..], &["--through", "2026-12-31"]].concat());
    assert_eq!(later["open_runs"].as_array().unwrap().len(), 0);
}

/// An events file: only the named event converts, its value column is optional.
#[test]
fn an_events_file_counts_the_named_event() {
    let dir = scratch("measure_events");
    let history = dir.join("history.sqlite");
    let contacts: Vec<_> = (0..60)
        .map(|i| {
            (
                format!("C{i}"),
                "winback",
                if i < 30 { Arm::Treated } else { Arm::Control },
            )
        })
        .collect();
    record(&history, "2026-10-01", &contacts);
    let mut events = String::from("user,at,event\n");
    for i in 0..10 {
        writeln!(events, "C{i},2026-10-03T10:00:00Z,purchase").unwrap();
        writeln!(events, "C{},2026-10-03T10:00:00Z,page_view", i + 30).unwrap();
    }
    writeln!(events, "C40,2026-10-04T08:00:00Z,purchase").unwrap();
    std::fs::write(dir.join("events.csv"), events).unwrap();
    let report = measure_json(&[
        "--history",
        history.to_str().unwrap(),
        "--outcomes",
        dir.join("events.csv").to_str().unwrap(),
        "--event",
        "purchase",
        "--customer",
        "user",
        "--date",
        "at",
        // The events stop early in the window: the file is complete through its end.
        "--through",
        "2026-10-31",
    ]);
    let row = overall(&report, "winback");
    assert_eq!(row["treated"]["converted"], 10);
    assert_eq!(row["control"]["converted"], 1);
    assert_eq!(report["notes"]["outcomes"]["other_events"], 10);
    // An event no row has is an error that says so.
    refused(
        idic()
            .args(["measure", "--history", history.to_str().unwrap()])
            .args(["--outcomes", dir.join("events.csv").to_str().unwrap()])
            .args(["--event", "refund", "--customer", "user", "--date", "at"]),
        "has no event `refund`",
    );
}

/// The shipped worked example: `--by tier` splits every run's and treatment's arms into tiers
/// that add up to them exactly, the global holdout included; the CSV has a row per run,
/// treatment and group.
#[test]
fn the_worked_example_splits_by_tier_into_parts_that_add_up() {
    let example = repo().join("examples/measure");
    let args = [
        "--history",
        "examples/measure/history.sqlite",
        "--outcomes",
        "examples/measure/orders.csv",
    ];
    assert!(example.join("history.sqlite").exists());
    let by_tier = measure_json(&[&args[..], &["--by", "tier"]].concat());
    let rows = by_tier["rows"].as_array().unwrap();
    let wholes: Vec<&Value> = rows.iter().filter(|r| r["group"].is_null()).collect();
    assert!(wholes.iter().any(|r| r["kind"] == "global_holdout"));
    assert!(wholes.len() > 4);
    for whole in wholes {
        let parts: Vec<&Value> = rows
            .iter()
            .filter(|r| {
                !r["group"].is_null()
                    && r["treatment"] == whole["treatment"]
                    && r["run"] == whole["run"]
            })
            .collect();
        assert!(!parts.is_empty());
        for figure in [
            ("treated", "customers"),
            ("treated", "converted"),
            ("control", "customers"),
            ("control", "converted"),
        ] {
            let sum: u64 = parts
                .iter()
                .map(|p| p[figure.0][figure.1].as_u64().unwrap())
                .sum();
            assert_eq!(
                sum,
                whole[figure.0][figure.1].as_u64().unwrap(),
                "{figure:?} of {whole}"
            );
        }
        let total: u64 = parts
            .iter()
            .map(|p| p["treated_total"].as_u64().unwrap())
            .sum();
        assert_eq!(total, whole["treated_total"].as_u64().unwrap());
    }
    // Without --by the overall rows are the same figures.
    let plain = measure_json(&args);
    assert_eq!(
        overall(&plain, "winback_lapsed")["absolute_lift"],
        overall(&by_tier, "winback_lapsed")["absolute_lift"]
    );
    let csv = stdout_of(idic().arg("measure").args(args).args(["--format", "csv"]));
    let table = crate::common::csv_rows(&csv);
    assert_eq!(table.len(), plain["rows"].as_array().unwrap().len());
    assert!(table.iter().any(|r| r["run"] == "1"
        && r["treatment"] == "winback_lapsed"
        && !r["absolute_lift_lower"].is_empty()));
}

/// The planner reads each holdout's latest volume from the history.
#[test]
fn the_planner_counts_runs_of_the_latest_volume() {
    let plan = stdout_of(idic().args([
        "measure",
        "plan",
        "--baseline",
        "8%",
        "--effect",
        "3pt",
        "--history",
        "examples/measure/history.sqlite",
        "--format",
        "json",
    ]));
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let per_arm = plan["per_arm"].as_f64().unwrap();
    let volume = plan["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["treatment"] == "winback_lapsed")
        .unwrap();
    let (treated, control) = (
        volume["treated"].as_f64().unwrap(),
        volume["control"].as_f64().unwrap(),
    );
    let needed = (per_arm * (1.0 + control / treated) / 2.0).ceil();
    assert_eq!(volume["controls_needed"].as_f64().unwrap(), needed);
    assert_eq!(
        volume["runs_needed"].as_f64().unwrap(),
        (needed / control).ceil()
    );
}

/// Bad input is a clear error: no history, an outcomes file none of whose rows read.
#[test]
fn bad_input_is_refused_in_words() {
    let dir = scratch("measure_bad_input");
    std::fs::write(
        dir.join("orders.csv"),
        "customer_id,date,amount\nC1,yesterday,5\n",
    )
    .unwrap();
    refused(
        idic()
            .args([
                "measure",
                "--history",
                dir.join("none.sqlite").to_str().unwrap(),
            ])
            .args(["--outcomes", dir.join("orders.csv").to_str().unwrap()]),
        "there is no contact history",
    );
    refused(
        idic()
            .args(["measure", "--history", "examples/measure/history.sqlite"])
            .args(["--outcomes", dir.join("orders.csv").to_str().unwrap()]),
        "no order could be read",
    );
    idic()
        .args(["measure", "--history", "examples/measure/history.sqlite"])
        .args([
            "--outcomes",
            "examples/measure/orders.csv",
            "--window",
            "0d",
        ])
        .assert()
        .code(2);
    // An export's own column names: the error lists them and names the flags.
    let shop = dir.join("shop.csv");
    std::fs::write(&shop, "Customer ID,Order Date,Total\nC1,2026-10-05,10\n").unwrap();
    refused(
        idic()
            .args(["measure", "--history", "examples/measure/history.sqlite"])
            .args(["--outcomes", shop.to_str().unwrap()]),
        "(its columns: Customer ID, Order Date, Total); name its columns with `--customer`",
    );
    // The output may not overwrite an input.
    idic()
        .args(["measure", "--history", "examples/measure/history.sqlite"])
        .args(["--outcomes", "examples/measure/orders.csv"])
        .args(["--out", "examples/measure/orders.csv"])
        .assert()
        .code(2);
}
