//! The global holdout (`holdout 5% salt "..."` in the `ruleset` block): a stable, reproducible
//! share of customers held out of every trigger, suppressed as `holdout:global`.

use crate::common::{idic, scratch, stdout_of};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A rule set with one trigger every customer is eligible for, holding out `percent`.
fn rules(dir: &Path, percent: &str) -> PathBuf {
    let path = dir.join(format!("rules-{percent}.idic"));
    std::fs::write(
        &path,
        format!(
            r#"ruleset "holdout" {{
  as_of   "2026-11-01"
  holdout {percent}% salt "holdout-2026"
}}
customer {{
  id    string from "Id" key
  email bool   from "Email"
}}
trigger hello {{
  activity retention
  when     true
  channel  email consent email
  action hi template "hi"
}}
"#
        ),
    )
    .unwrap();
    path
}

/// An export of `n` customers `C0000000`, `C0000001`...
fn export(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("customers.csv");
    let mut text = String::from("Id,Email\n");
    for i in 0..n {
        text.push_str(&format!("C{i:07},yes\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The decisions of a run (JSONL bytes) and the ids held out.
fn run(rules: &Path, export: &Path, threads: &str) -> (Vec<u8>, BTreeSet<String>) {
    let out = stdout_of(
        idic()
            .arg("run")
            .arg(rules)
            .arg("--customers")
            .arg(export)
            .args(["--threads", threads, "--quiet"]),
    );
    let held: BTreeSet<String> = out
        .lines()
        .filter_map(|line| {
            let d: serde_json::Value = serde_json::from_str(line).unwrap();
            let reason = &d["suppressed"][0]["reason"];
            (reason == "holdout:global").then(|| d["id"].as_str().unwrap().to_string())
        })
        .collect();
    (out.into_bytes(), held)
}

#[test]
fn the_share_held_out_is_as_declared_stable_and_only_grows() {
    let dir = scratch("holdout-share");
    let n = 100_000;
    let export = export(&dir, n);
    let five = rules(&dir, "5");
    let (one_thread, held) = run(&five, &export, "1");
    let share = held.len() as f64 / n as f64 * 100.0;
    assert!((share - 5.0).abs() <= 0.5, "held out {share:.2} %");
    // The same customers on any number of threads, and in every decision byte.
    let (two_threads, again) = run(&five, &export, "2");
    assert_eq!(one_thread, two_threads);
    assert_eq!(held, again);
    // Raising the share keeps every customer held out so far.
    let (_, ten) = run(&rules(&dir, "10"), &export, "2");
    let share = ten.len() as f64 / n as f64 * 100.0;
    assert!((share - 10.0).abs() <= 0.5, "held out {share:.2} %");
    assert!(held.is_subset(&ten));
    // The others are contacted.
    let fired = String::from_utf8(one_thread)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""triggers":["hello"]"#))
        .count();
    assert_eq!(fired + held.len(), n);
}

#[test]
fn buckets_follow_the_written_formula() {
    // Computed apart from idic, from the README's formula, with Python's hashlib:
    // int.from_bytes(sha256(salt.encode() + b"\x1f" + id.encode()).digest()[:8], "big") % 10000
    let golden = [
        ("holdout-2026", "C000101", 7005),
        ("holdout-2026", "C000120", 282),
        ("holdout-2026", "C1", 5928),
        ("q4", "Zoë", 2435),
        ("", "x", 5856),
    ];
    for (salt, id, bucket) in golden {
        assert_eq!(
            idic::plan::holdout_bucket(salt, id),
            bucket,
            "{salt:?} {id:?}"
        );
    }
    // And `explain` shows the bucket a run used: C000120 is held out at 5 %, C000101 is not.
    let dir = scratch("holdout-explain");
    let rules = rules(&dir, "5");
    let export = dir.join("two.csv");
    std::fs::write(&export, "Id,Email\nC000101,yes\nC000120,yes\n").unwrap();
    for (id, bucket, held) in [("C000101", 7005, false), ("C000120", 282, true)] {
        let out = stdout_of(
            idic()
                .arg("explain")
                .arg(&rules)
                .arg("--customers")
                .arg(&export)
                .args(["--id", id, "--format", "json"]),
        );
        let e: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(e["holdout"]["bucket"], bucket);
        assert_eq!(e["holdout"]["held_out"], held);
        let reason = &e["triggers"][0]["reason"];
        assert_eq!(reason == "holdout:global", held, "{e}");
    }
}

#[test]
fn the_holdout_survives_fmt_and_convert() {
    let dir = scratch("holdout-convert");
    let rules = rules(&dir, "2.5");
    let toml = dir.join("rules.toml");
    idic()
        .arg("convert")
        .arg(&rules)
        .args(["--to", "toml", "--out"])
        .arg(&toml)
        .assert()
        .success();
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(
        text.contains(r#"holdout = { percent = 2.5, salt = "holdout-2026" }"#),
        "{text}"
    );
    let back = dir.join("back.idic");
    idic()
        .arg("convert")
        .arg(&toml)
        .args(["--to", "dsl", "--out"])
        .arg(&back)
        .assert()
        .success();
    let text = std::fs::read_to_string(&back).unwrap();
    assert!(
        text.contains(r#"holdout 2.5% salt "holdout-2026""#),
        "{text}"
    );
    // Both forms hold out the same customers.
    let export = export(&dir, 2_000);
    assert_eq!(run(&rules, &export, "1").1, run(&toml, &export, "1").1);
}

#[test]
fn a_test_beside_the_rules_says_when_the_holdout_stopped_a_trigger() {
    let dir = scratch("holdout-test");
    let rules = rules(&dir, "5");
    let mut text = std::fs::read_to_string(&rules).unwrap();
    // C000120 is in bucket 282, held out at 5 %; C000101 (bucket 7005) is not.
    for (id, expect) in [("C000120", "not fires hello"), ("C000101", "fires hello")] {
        text.push_str(&format!(
            "test \"{id}\" {{\n  customer {{\n    id = \"{id}\"\n    email = true\n  }}\n  \
             expect {{\n    {expect}\n  }}\n}}\n"
        ));
    }
    std::fs::write(&rules, &text).unwrap();
    idic().arg("test").arg(&rules).assert().success();
    // Expecting the held-out customer to be contacted fails, and says why.
    std::fs::write(&rules, text.replace("not fires hello", "fires hello")).unwrap();
    let out = idic().arg("test").arg(&rules).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("it is suppressed: the customer is in the global holdout"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bucket 282, held out below 500"),
        "{stdout}"
    );
}

#[test]
fn spaces_around_an_id_do_not_move_the_customer() {
    // ` C000120 ` is C000120 (bucket 282), as for finding duplicates: held out at 5 %.
    let dir = scratch("holdout-spaces");
    let rules = rules(&dir, "5");
    let export = dir.join("spaced.csv");
    std::fs::write(&export, "Id,Email\n C000120 ,yes\n").unwrap();
    let (_, held) = run(&rules, &export, "1");
    assert_eq!(held.len(), 1, "{held:?}");
}
