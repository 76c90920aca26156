//! `idic test`: the shipped rule sets pass their own tests, a wrong expectation fails with a
//! readable report, and the JSON and JUnit reports say the same in machine form.

use crate::common::{idic, repo, scratch};
use std::path::PathBuf;

/// The retail rules with `tests/fixtures/wrong_expectations.idic` as their tests, in a fresh
/// directory of the test's own (`name`): tests run in parallel.
fn wrong_expectations(name: &str) -> PathBuf {
    let repo = repo();
    let dir = scratch(name);
    std::fs::copy(
        repo.join("rules/retail/retail.idic"),
        dir.join("retail.idic"),
    )
    .unwrap();
    std::fs::copy(
        repo.join("tests/fixtures/wrong_expectations.idic"),
        dir.join("tests.idic"),
    )
    .unwrap();
    dir
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// How many tests the shipped retail rules declare.
fn shipped_tests() -> usize {
    std::fs::read_to_string("rules/retail/tests.idic")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("test \""))
        .count()
}

#[test]
fn the_shipped_rule_sets_pass_their_tests() {
    for rules in ["rules/retail", "rules/retail-toml"] {
        let output = idic()
            .args(["test", rules, "--coverage", "--fail-on-empty"])
            .output()
            .unwrap();
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{rules}: {text}");
        let n = shipped_tests();
        assert!(
            text.contains(&format!("{n} tests: {n} passed, 0 failed")),
            "{text}"
        );
        assert!(
            text.contains(
                "coverage: every segment, tier, lifecycle stage and trigger is exercised"
            ),
            "{text}"
        );
    }
}

#[test]
fn a_wrong_expectation_fails_with_a_readable_report() {
    let dir = wrong_expectations("report_human");
    let output = idic().arg("test").arg(&dir).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output).replace(&dir.display().to_string(), "<rules>");
    insta::assert_snapshot!("wrong_expectations_human", text);
}

#[test]
fn junit_output_is_valid_xml_with_one_failure_per_failed_test() {
    let dir = wrong_expectations("report_junit");
    let output = idic()
        .arg("test")
        .arg(&dir)
        .args(["--format", "junit"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let doc = roxmltree::Document::parse(&text).expect("valid XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("3"));
    assert_eq!(root.attribute("failures"), Some("2"));
    let cases: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<_> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "a new sign-up is welcomed",
            "a quiet regular is lapsed and gold",
            "the nudge ignores consent"
        ]
    );
    let failure = |i: usize| {
        cases[i]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .map(|f| {
                (
                    f.attribute("message").unwrap().to_string(),
                    f.text().unwrap_or("").to_string(),
                )
            })
    };
    assert_eq!(failure(0), None);
    let (message, body) = failure(1).expect("a failure element");
    assert!(
        message.contains("expected tier `gold`, but the tier is `silver`"),
        "{message}"
    );
    assert!(body.contains("with spent = 420.0, orders = 5"), "{body}");
    let (message, _) = failure(2).expect("a failure element");
    assert!(message.contains("suppressed: no consent"), "{message}");

    // A passing rule set is valid JUnit too, with no failure elements.
    let output = idic()
        .args(["test", "rules/retail", "--format", "junit"])
        .output()
        .unwrap();
    let text = stdout(&output);
    let doc = roxmltree::Document::parse(&text).expect("valid XML");
    let n = shipped_tests().to_string();
    assert_eq!(doc.root_element().attribute("tests"), Some(n.as_str()));
    assert!(!doc.descendants().any(|n| n.has_tag_name("failure")));
}

#[test]
fn json_output_lists_every_test_with_its_failures() {
    let dir = wrong_expectations("report_json");
    let output = idic()
        .arg("test")
        .arg(&dir)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 2);
    let quiet = &report["tests"][1];
    assert_eq!(quiet["name"], "a quiet regular is lapsed and gold");
    assert_eq!(quiet["passed"], false);
    assert_eq!(quiet["line"], 26);
    let expected: Vec<&str> = quiet["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["expected"].as_str().unwrap())
        .collect();
    assert_eq!(
        expected,
        [
            "segment `lapsed`",
            "tier `gold`",
            "`save_offer.discount_pct` = 15"
        ]
    );
    assert_eq!(quiet["failures"][2]["actual"], "it is 10");
}

#[test]
fn filter_runs_matching_tests_and_fail_on_empty_catches_a_filter_that_matches_none() {
    let output = idic()
        .args(["test", "rules/retail", "--filter", "nudge"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_eq!(text.matches("... ok").count(), 3, "{text}");
    assert!(text.contains("3 tests: 3 passed, 0 failed"), "{text}");

    // The failing tests are left out by the filter: the run passes.
    let dir = wrong_expectations("filter");
    idic()
        .arg("test")
        .arg(&dir)
        .args(["--filter", "welcomed"])
        .assert()
        .code(0);

    idic()
        .args(["test", "rules/retail", "--filter", "no such test"])
        .assert()
        .code(0);
    let output = idic()
        .args([
            "test",
            "rules/retail",
            "--filter",
            "no such test",
            "--fail-on-empty",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no test ran (none matches `no such test`)"),
        "{stderr}"
    );
}

#[test]
fn coverage_names_what_no_test_exercised() {
    let dir = wrong_expectations("coverage");
    let output = idic()
        .arg("test")
        .arg(&dir)
        .arg("--coverage")
        .output()
        .unwrap();
    let text = stdout(&output);
    for gap in [
        "segment `vip`: no test customer is in it",
        "tier `platinum`: no test customer gets it",
        "trigger `winback_lapsed`: no test fires it",
    ] {
        assert!(text.contains(gap), "{gap} missing from:\n{text}");
    }
    // What the tests did exercise is not listed.
    assert!(!text.contains("trigger `welcome_new`"), "{text}");
    assert!(!text.contains("tier `silver`"), "{text}");
}

#[test]
fn a_rule_set_with_errors_runs_no_test_and_a_missing_one_is_a_usage_error() {
    let output = idic()
        .args(["test", "tests/corpus/dsl_test_unknown_segment.idic"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown segment `lapsd`"), "{stderr}");
    assert!(stderr.contains("no test was run"), "{stderr}");

    let output = idic()
        .args(["test", "rules/no-such-rules"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn warnings_and_a_rule_set_without_tests_are_pointed_out() {
    let output = idic()
        .args(["test", "tests/corpus/dsl_warn_test_expects_nothing.idic"])
        .args(["--allow-read", "tests/fixtures"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("expects nothing, so it cannot fail"),
        "{stderr}"
    );

    let output = idic()
        .args(["test", "tests/corpus/dsl_warn_unused_segment.idic"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("0 tests: 0 passed, 0 failed"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has no tests"), "{stderr}");
}
