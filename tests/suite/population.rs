//! Rule sets that read the population: `orders` (a file or the export's totals), scores, tables
//! over score cells and the BTYD model, run end to end through `idic run` on the CDNOW sample
//! and on small hand-made files: golden values, order and thread independence, policies and
//! bad input.

use crate::common::{csv_rows, repo, succeeded};
use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch(&format!("population-{name}"))
}

const CDNOW_ORDERS: &str = "tests/fixtures/cdnow_sample.txt";
const CDNOW_CUSTOMERS: &str = "examples/cdnow/customers.csv";

/// `idic run` of `rules` over `customers` and `orders`, decisions as CSV and the summary as JSON
/// in `dir`; gives the command's output.
fn run(
    dir: &Path,
    rules: &Path,
    customers: &Path,
    orders: Option<&Path>,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = Command::cargo_bin("idic").unwrap();
    cmd.current_dir(repo())
        .arg("run")
        .arg(rules)
        .arg("--customers")
        .arg(customers)
        .arg("--out")
        .arg(dir.join("decisions.csv"))
        .arg("--summary")
        .arg(dir.join("summary.json"))
        .args(["--summary-format", "json"])
        .args(extra);
    if let Some(orders) = orders {
        cmd.arg("--orders").arg(orders);
    }
    cmd.output().unwrap()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn decisions(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("decisions.csv")).unwrap()
}

fn within(found: f64, want: f64, tolerance: f64) -> bool {
    ((found - want) / want).abs() <= tolerance
}

#[test]
fn cdnow_fits_the_golden_models_and_names_every_customer() {
    let dir = scratch("cdnow");
    let out = run(
        &dir,
        Path::new("rules/cdnow"),
        Path::new(CDNOW_CUSTOMERS),
        Some(Path::new(CDNOW_ORDERS)),
        &[],
    );
    succeeded(&out);
    let s = summary(&dir);
    let model = &s["population"]["model"];
    assert_eq!(model["parameters"], "fitted");
    // The report's kinds are written as their words.
    let orders = &s["population"]["orders"];
    assert_eq!(orders["source"], "file");
    assert!(["keep", "reject"].contains(&orders["without_orders_policy"].as_str().unwrap()));
    let methods = ["together", "hash", "fixed"];
    for score in s["population"]["scores"].as_array().unwrap() {
        assert!(
            methods.contains(&score["method"].as_str().unwrap()),
            "{score}"
        );
    }
    let p = |block: &str, key: &str| model[block][key].as_f64().unwrap();
    for (key, want) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        assert!(
            within(p("bgnbd", key), want, 0.005),
            "{key}: {}",
            p("bgnbd", key)
        );
    }
    for (key, want) in [("p", 6.25), ("q", 3.74), ("v", 15.44)] {
        assert!(
            within(p("gamma_gamma", key), want, 0.01),
            "{key}: {}",
            p("gamma_gamma", key)
        );
    }
    assert_eq!(model["bgnbd_fit"]["customers"], 2357);
    assert_eq!(model["gamma_gamma_fit"]["customers"], 946);

    let orders = &s["population"]["orders"];
    assert_eq!(orders["customers_without_orders"], 20);
    assert_eq!(orders["unmatched_customers"], 0);
    assert_eq!(orders["tally"]["after_as_of"], 1959);
    // Recency reversed: the edges are day counts, the lowest scored 5.
    let r = &s["population"]["scores"][0];
    assert_eq!(
        (r["name"].as_str(), r["reverse"].as_bool()),
        (Some("r"), Some(true))
    );
    assert_eq!(r["population"], 2357);
    assert_eq!(r["edges"].as_array().unwrap().len(), 4);

    // Every customer with orders gets exactly one rfm10 segment; the 20 without get none.
    let tables = s["tables"].as_array().unwrap();
    for t in tables {
        let sum: u64 = t["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 2357, "{}", t["name"]);
        assert_eq!(t["none"], 20);
    }
    let rows = csv_rows(&decisions(&dir));
    assert_eq!(rows.len(), 2377);
    let prospect = rows.iter().find(|r| r["id"] == "90001").unwrap();
    assert_eq!(prospect["rfm_segment"], "");
    let champions = rows
        .iter()
        .filter(|r| r["rfm_segment"] == "champions")
        .count() as u64;
    let counted = tables[0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "champions")
        .unwrap();
    assert_eq!(counted["count"].as_u64(), Some(champions));
    assert!(!decisions(&dir).contains("NaN"));

    // Lifecycle stages by P(alive): the prospects are the customers without orders, and the
    // lapsed stage (P(alive) < 0.3) is exactly the `likely_gone` segment.
    let stage = |name: &str| {
        s["lifecycle"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["customers"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(stage("prospect"), 20);
    let gone = rows
        .iter()
        .filter(|r| r["segments"].contains("likely_gone"))
        .count() as u64;
    assert_eq!(stage("lapsed"), gone);
    assert!(rows
        .iter()
        .all(|r| (r["stage"] == "lapsed") == r["segments"].contains("likely_gone")));
}

/// The lines of a file, shuffled by a fixed permutation (no header).
fn shuffled(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    // A deterministic shuffle: a linear congruential generator driving Fisher-Yates.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..out.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        out.swap(i, (state >> 33) as usize % (i + 1));
    }
    out
}

#[test]
fn shuffled_customers_and_orders_give_every_customer_the_same_decision() {
    let dir = scratch("shuffle");
    let customers = std::fs::read_to_string(repo().join(CDNOW_CUSTOMERS)).unwrap();
    let mut lines = customers.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    let mut text = format!("{header}\n");
    for l in shuffled(&body) {
        text += &l;
        text.push('\n');
    }
    std::fs::write(dir.join("customers.csv"), text).unwrap();
    let orders = std::fs::read_to_string(repo().join(CDNOW_ORDERS)).unwrap();
    let lines: Vec<&str> = orders.lines().collect();
    std::fs::write(dir.join("orders.txt"), shuffled(&lines).join("\n")).unwrap();

    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let rules = Path::new("rules/cdnow");
    let first = run(
        &a,
        rules,
        Path::new(CDNOW_CUSTOMERS),
        Some(Path::new(CDNOW_ORDERS)),
        &[],
    );
    let second = run(
        &b,
        rules,
        &dir.join("customers.csv"),
        Some(&dir.join("orders.txt")),
        &[],
    );
    assert!(first.status.success() && second.status.success());
    let by_id = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .skip(1)
            .map(|l| (l.split(',').next().unwrap().to_string(), l.to_string()))
            .collect()
    };
    let (da, db) = (by_id(&decisions(&a)), by_id(&decisions(&b)));
    assert_eq!(da.len(), 2377);
    assert_eq!(da, db);
    let edges = |dir: &Path| summary(dir)["population"]["scores"].clone();
    assert_eq!(edges(&a), edges(&b));
}

#[test]
fn the_output_does_not_depend_on_the_thread_count_or_the_export_format() {
    let (one, two) = (scratch("threads-1"), scratch("threads-2"));
    let rules = Path::new("rules/cdnow");
    let args = |n| ["--threads", n];
    let customers = Path::new(CDNOW_CUSTOMERS);
    let orders = Some(Path::new(CDNOW_ORDERS));
    assert!(run(&one, rules, customers, orders, &args("1"))
        .status
        .success());
    assert!(run(&two, rules, customers, orders, &args("2"))
        .status
        .success());
    assert_eq!(decisions(&one), decisions(&two));
    let mut a = summary(&one);
    let mut b = summary(&two);
    for s in [&mut a, &mut b] {
        s["threads"] = 0.into();
        s["elapsed_seconds"] = 0.into();
    }
    assert_eq!(a, b);

    // The same customers as JSONL: the population is observed from JSON objects alike.
    let jsonl = scratch("threads-jsonl");
    let export = csv_rows(&std::fs::read_to_string(repo().join(CDNOW_CUSTOMERS)).unwrap());
    let lines: Vec<String> = export
        .iter()
        .map(|row| serde_json::to_string(row).unwrap())
        .collect();
    let customers = jsonl.join("customers.jsonl");
    std::fs::write(&customers, lines.join("\n")).unwrap();
    succeeded(&run(&jsonl, rules, &customers, orders, &args("2")));
    assert_eq!(decisions(&one), decisions(&jsonl));
    let c = summary(&jsonl);
    assert_eq!(a["population"], c["population"]);
    assert_eq!(a["tables"], c["tables"]);
}

/// A rule set over `customer_id,email` exports, with an orders CSV, showing every order variable
/// as a parameter of an action every customer gets.
const SHOW: &str = r#"
ruleset "show" { as_of "2020-01-31" }
customer {
  id    string from "customer_id" key
  email bool   from "email"
}
orders {
  customer from "customer"
  date     from "date"
  amount   from "amount" currency "$"
  period   day
  POLICY
}
trigger show {
  activity retention
  when    true
  channel email consent email
  action vars template "show" {
    rfm_recency_days    = rfm_recency_days
    rfm_frequency       = rfm_frequency
    rfm_monetary        = rfm_monetary
    btyd_frequency      = btyd_frequency
    btyd_recency        = btyd_recency
    btyd_T              = btyd_T
    btyd_monetary_value = btyd_monetary_value
  }
}
"#;

fn show(dir: &Path, policy: &str, customers: &str, orders: &str) -> std::process::Output {
    std::fs::write(dir.join("show.idic"), SHOW.replace("POLICY", policy)).unwrap();
    std::fs::write(dir.join("customers.csv"), customers).unwrap();
    std::fs::write(dir.join("orders.csv"), orders).unwrap();
    run(
        dir,
        &dir.join("show.idic"),
        &dir.join("customers.csv"),
        Some(&dir.join("orders.csv")),
        &["--rejects", dir.join("rejects.csv").to_str().unwrap()],
    )
}

/// The `vars` parameters of each customer's decision.
fn vars(dir: &Path) -> BTreeMap<String, serde_json::Value> {
    csv_rows(&decisions(dir))
        .into_iter()
        .map(|r| {
            let params: serde_json::Value = serde_json::from_str(&r["params"]).unwrap();
            (r["id"].clone(), params["show.vars"].clone())
        })
        .collect()
}

#[test]
fn the_worked_example_of_domain_md_reaches_the_rules_exactly() {
    let dir = scratch("worked");
    let orders = "customer,date,amount\nA,2020-01-01,$10\nA,2020-01-01,$5\nA,2020-01-10,$20\nA,2020-02-03,$99\n";
    let out = show(&dir, "", "customer_id,email\nA,true\nP,true\n", orders);
    succeeded(&out);
    let v = vars(&dir);
    // BTYD: frequency 1, recency 9, T 30, monetary 20; RFM: frequency 2, recency_days 21,
    // monetary 35 (the order after as_of ignored).
    assert_eq!(
        v["A"],
        serde_json::json!({
            "rfm_recency_days": 21, "rfm_frequency": 2, "rfm_monetary": 35.0,
            "btyd_frequency": 1.0, "btyd_recency": 9.0, "btyd_T": 30.0, "btyd_monetary_value": 20.0
        })
    );
    // A prospect: no recency, no BTYD summary, zero frequency and spend.
    assert_eq!(
        v["P"],
        serde_json::json!({
            "rfm_recency_days": null, "rfm_frequency": 0, "rfm_monetary": 0.0,
            "btyd_frequency": null, "btyd_recency": null, "btyd_T": null, "btyd_monetary_value": null
        })
    );
    let s = summary(&dir);
    assert_eq!(s["population"]["orders"]["customers_without_orders"], 1);
    assert_eq!(s["population"]["orders"]["tally"]["after_as_of"], 1);
}

#[test]
fn bad_orders_are_counted_and_reported_never_decided_on() {
    let dir = scratch("bad-orders");
    let orders = "customer,date,amount\nA,2020-01-01,$10\nA,2020-01-02,-$5\nA,2020-13-01,$5\nA,,$5\nB,2020-01-05,abc\nB,2020-01-06,$7\n";
    let out = show(&dir, "", "customer_id,email\nA,true\nB,true\n", orders);
    succeeded(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("4 rows of the orders file rejected, the first at line 3"),
        "{said}"
    );
    let tally = &summary(&dir)["population"]["orders"]["tally"];
    assert_eq!(tally["rows"], 6);
    assert_eq!(tally["used"], 2);
    assert_eq!(tally["rejected"], 4);
    let reasons: Vec<String> = tally["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["line"], r["reason"]))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].starts_with("3 ") && reasons[0].contains("negative"),
        "{reasons:?}"
    );
    let v = vars(&dir);
    assert_eq!(v["A"]["rfm_monetary"], 10.0);
    assert_eq!(v["B"]["rfm_monetary"], 7.0);
    assert!(!decisions(&dir).contains("NaN"));
}

#[test]
fn customers_without_orders_can_be_rejected_with_a_reason() {
    let dir = scratch("reject-policy");
    let out = show(
        &dir,
        "customers_without_orders reject",
        "customer_id,email\nA,true\nP,true\n",
        "customer,date,amount\nA,2020-01-01,$10\n",
    );
    succeeded(&out);
    assert_eq!(vars(&dir).keys().collect::<Vec<_>>(), ["A"]);
    let rejects = std::fs::read_to_string(dir.join("rejects.csv")).unwrap();
    let rows = csv_rows(&rejects);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["line"].as_str(), rows[0]["id"].as_str()),
        ("3", "P")
    );
    assert_eq!(rows[0]["code"], "no-orders");
}

#[test]
fn orders_of_unknown_customers_are_counted_or_fail_the_run() {
    let dir = scratch("unmatched");
    let customers = "customer_id,email\nA,true\n";
    let orders = "customer,date,amount\nA,2020-01-01,$10\nZ,2020-01-01,$10\n";
    let out = show(&dir, "", customers, orders);
    assert!(out.status.success());
    assert_eq!(
        summary(&dir)["population"]["orders"]["unmatched_customers"],
        1
    );

    let out = show(&dir, "unmatched_orders fail", customers, orders);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 of the 2 customers of the orders file have no row"),
        "{err}"
    );
}

#[test]
fn an_orders_file_whose_ids_never_match_is_an_error() {
    let dir = scratch("never-match");
    let out = show(
        &dir,
        "",
        "customer_id,email\nA,true\nB,true\n",
        "customer,date,amount\nX,2020-01-01,$10\nY,2020-01-01,$10\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no customer id of the orders file matches"),
        "{err}"
    );
    assert!(!dir.join("decisions.csv").exists());
}

#[test]
fn a_rule_set_that_reads_an_orders_file_needs_one() {
    let dir = scratch("no-orders-flag");
    let out = run(
        &dir,
        Path::new("rules/cdnow"),
        Path::new(CDNOW_CUSTOMERS),
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give it with `--orders FILE`"), "{err}");
}

#[test]
fn a_population_too_small_to_fit_leaves_the_model_variables_missing() {
    let dir = scratch("too-small");
    let rules = r#"
ruleset "small" { as_of "2020-01-31" }
customer { id string from "customer_id" key }
orders {
  customer from "customer"
  date     from "date"
  amount   from "amount"
}
model { horizon 6m }
segment alive = (p_alive ?? -1.0) >= 0.0
"#;
    std::fs::write(dir.join("small.idic"), rules).unwrap();
    std::fs::write(dir.join("customers.csv"), "customer_id\nA\n").unwrap();
    std::fs::write(
        dir.join("orders.csv"),
        "customer,date,amount\nA,2020-01-01,10\n",
    )
    .unwrap();
    let out = run(
        &dir,
        &dir.join("small.idic"),
        &dir.join("customers.csv"),
        Some(&dir.join("orders.csv")),
        &[],
    );
    succeeded(&out);
    let s = summary(&dir);
    let error = s["population"]["model"]["error"].as_str().unwrap();
    assert!(error.contains("BG/NBD"), "{error}");
    assert_eq!(s["segments"][0]["count"], 0);
    assert!(!decisions(&dir).contains("NaN"));
}

#[test]
fn without_gamma_gamma_the_rules_still_read_p_alive() {
    let dir = scratch("one-price");
    let rules = r#"
ruleset "one_price" { as_of "2025-12-01" }
customer { id string from "customer_id" key }
orders {
  customer from "customer_id"
  date     from "date"
  amount   from "amount"
}
model { horizon 12m }
segment alive = (p_alive ?? -1.0) >= 0.0
segment expected = (expected_purchases ?? -1.0) >= 0.0
segment valued = !is_missing(model_clv)
tiers {
  all when alive || expected || valued
  none otherwise
}
"#;
    std::fs::write(dir.join("one_price.idic"), rules).unwrap();
    let orders = repo().join("tests/fixtures/orders_one_price.csv");
    let ids: std::collections::BTreeSet<String> = std::fs::read_to_string(&orders)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let customers: String = std::iter::once("customer_id".to_string())
        .chain(ids.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("customers.csv"), customers + "\n").unwrap();
    let out = run(
        &dir,
        &dir.join("one_price.idic"),
        &dir.join("customers.csv"),
        Some(&orders),
        &[],
    );
    succeeded(&out);
    let s = summary(&dir);
    let error = s["population"]["model"]["error"].as_str().unwrap();
    assert!(error.contains("Gamma-Gamma"), "{error}");
    // Every customer has P(alive) and expected purchases from BG/NBD; none has a CLV.
    let count = |name: &str| {
        s["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .map_or(0, |g| g["count"].as_u64().unwrap())
    };
    assert_eq!(count("alive"), ids.len() as u64);
    assert_eq!(count("expected"), ids.len() as u64);
    assert_eq!(count("valued"), 0);
}

#[test]
fn explain_works_the_population_out_as_run_does() {
    let dir = scratch("explain");
    let rules = Path::new("rules/cdnow");
    let customers = Path::new(CDNOW_CUSTOMERS);
    assert!(
        run(&dir, rules, customers, Some(Path::new(CDNOW_ORDERS)), &[])
            .status
            .success()
    );
    let row = csv_rows(&decisions(&dir))
        .into_iter()
        .find(|r| r["id"] == "00021")
        .unwrap();
    let out = Command::cargo_bin("idic")
        .unwrap()
        .current_dir(repo())
        .args(["explain", "rules/cdnow", "--customers", CDNOW_CUSTOMERS])
        .args([
            "--orders",
            CDNOW_ORDERS,
            "--id",
            "00021",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    succeeded(&out);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let value = |name: &str| {
        e["population"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(
        value("rfm_segment").as_str(),
        Some(row["rfm_segment"].as_str())
    );
    assert_eq!(
        value("value_band").as_str(),
        Some(row["value_band"].as_str())
    );
    assert_eq!(value("rfm_frequency"), 2);
    let p_alive = value("p_alive").as_f64().unwrap();
    assert!(p_alive > 0.0 && p_alive < 0.3, "{p_alive}");
    assert_eq!(e["decision"]["triggers"][0], "winback");

    // Without the orders file, explain says what is missing instead of guessing.
    let out = Command::cargo_bin("idic")
        .unwrap()
        .current_dir(repo())
        .args([
            "explain",
            "rules/cdnow",
            "--customers",
            CDNOW_CUSTOMERS,
            "--id",
            "00021",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--orders FILE"));
}

/// The retail rules with benches/rfm.idic added (RFM scores and the rfm10 table from the
/// export's totals), in `dir/rules`.
fn retail_with_rfm(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(
        repo().join("rules/retail/retail.idic"),
        rules.join("retail.idic"),
    )
    .unwrap();
    std::fs::copy(repo().join("benches/rfm.idic"), rules.join("rfm.idic")).unwrap();
    rules
}

/// Directories `names` made in `dir`.
fn subdirs<const N: usize>(dir: &Path, names: [&str; N]) -> [PathBuf; N] {
    names.map(|name| {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        sub
    })
}

#[test]
fn scores_from_export_totals_leave_the_other_decisions_as_they_were() {
    // The retail rules (segments reading segments, tiers, a lifecycle, triggers) with RFM
    // scores and the rfm10 table from the export's totals added in a second file.
    let dir = scratch("totals");
    let rules = retail_with_rfm(&dir);
    let [plain, scored] = subdirs(&dir, ["plain", "scored"]);
    let customers = Path::new("examples/customers.csv");
    assert!(run(&plain, Path::new("rules/retail"), customers, None, &[])
        .status
        .success());
    let out = run(&scored, &rules, customers, None, &[]);
    succeeded(&out);

    let (a, b) = (csv_rows(&decisions(&plain)), csv_rows(&decisions(&scored)));
    assert_eq!(a.len(), 400);
    for (a, b) in a.iter().zip(&b) {
        for (column, cell) in a {
            assert_eq!(&b[column], cell, "{} {column}", a["id"]);
        }
    }
    let s = summary(&scored);
    assert_eq!(s["rows"]["rejected"], 0);
    // 76 customers never ordered: prospects, with no RFM score and so no segment.
    assert_eq!(s["population"]["orders"]["customers_without_orders"], 76);
    let table = &s["tables"][0];
    let named: u64 = table["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!((named, table["none"].as_u64().unwrap()), (324, 76));
    let export = csv_rows(&std::fs::read_to_string(repo().join(customers)).unwrap());
    for (row, customer) in b.iter().zip(&export) {
        assert_eq!(row["id"], customer["Customer ID"]);
        let orders: u32 = customer["Total Orders"].parse().unwrap_or(0);
        assert_eq!(row["rfm_segment"].is_empty(), orders == 0, "{}", row["id"]);
    }
}

#[test]
fn rows_repeating_an_id_are_no_part_of_the_population() {
    // The sample export, then 100 of its customers again with far larger totals: were those
    // rows scored, every edge would move.
    let dir = scratch("repeated");
    let rules = retail_with_rfm(&dir);
    let [clean, repeated] = subdirs(&dir, ["clean", "repeated"]);
    let export = std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap();
    let mut lines: Vec<String> = export.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (orders, spent) = (column("Total Orders"), column("Total Spent"));
    // Rows without quoted cells, to split them by commas.
    let again: Vec<String> = lines[1..]
        .iter()
        .map(|line| line.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|cells| cells.len() == header.len())
        .take(100)
        .map(|mut cells| {
            cells[orders] = "500".into();
            cells[spent] = "99999.00".into();
            cells.join(",")
        })
        .collect();
    lines.extend(again);
    let with_repeats = dir.join("customers.csv");
    std::fs::write(&with_repeats, lines.join("\n") + "\n").unwrap();

    let customers = Path::new("examples/customers.csv");
    succeeded(&run(&clean, &rules, customers, None, &[]));
    for threads in ["1", "2"] {
        let out = run(
            &repeated,
            &rules,
            &with_repeats,
            None,
            &["--threads", threads],
        );
        succeeded(&out);
        let (a, b) = (summary(&clean), summary(&repeated));
        assert_eq!(b["rows"]["rejected"], 100);
        let rejects = &b["rejects"][0];
        assert_eq!(
            (&rejects["code"], &rejects["count"]),
            (&"duplicate-id".into(), &100.into())
        );
        for s in a["population"]["scores"].as_array().unwrap() {
            assert!(s["population"].as_u64().unwrap() > 300, "{s}");
        }
        assert_eq!(a["population"], b["population"], "threads {threads}");
        assert_eq!(a["tables"], b["tables"], "threads {threads}");
        let decided = decisions(&repeated);
        assert_eq!(decisions(&clean), decided, "threads {threads}");
    }
}

#[test]
fn watch_decides_the_sample_with_its_orders() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("idic"))
        .current_dir(repo())
        .args(["watch", "rules/cdnow", "--customers", CDNOW_CUSTOMERS])
        .args(["--orders", CDNOW_ORDERS])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.starts_with("watching");
        seen.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = seen.join("\n");
    assert!(
        text.contains("2,377 customers decided, 0 rows rejected"),
        "{text}"
    );
    assert!(text.contains("2 tests passed"), "{text}");
    let lapsed = seen
        .iter()
        .find(|l| l.starts_with("lapsed"))
        .expect("a lapsed count");
    assert!(lapsed.ends_with(" 201"), "{lapsed}");
}

#[test]
fn an_orders_file_whose_every_row_is_rejected_stops_the_run() {
    // The most likely mistake: the customer export given as the orders file.
    let dir = scratch("wrong-file");
    let out = run(
        &dir,
        Path::new("rules/cdnow"),
        Path::new(CDNOW_CUSTOMERS),
        Some(Path::new("examples/customers.csv")),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`examples/customers.csv`: no order could be read: all 400 rows were rejected (the first at line 2, column 3: expected a date"), "{err}");
    assert!(!dir.join("decisions.csv").exists());
}
