//! The attacks of the trust review, each reproduced: no rule, export or path may hurt idic or
//! the user's data. One section per defect class; each test fails on the code before its fix.

use crate::common::{idic, scratch};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that `output` (a command's standard output or error) contains `wanted`.
#[track_caller]
fn says(output: &[u8], wanted: &str) {
    let output = text(output);
    assert!(output.contains(wanted), "`{wanted}` not in:\n{output}");
}

/// A small rule set over `Id,Orders,Spent,Email` exports; `extra` is added to it.
fn rules(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("rules.idic");
    std::fs::write(
        &path,
        format!(
            r#"ruleset "t" {{ as_of "2026-11-01" }}
customer {{
  id     string from "Id" key
  orders int    from "Orders"
  spent  money  from "Spent"
  email  bool   from "Email"
}}
trigger hello {{
  activity retention
  when     email
  channel  email consent email
  action hi template "hi" {{
    orders = orders
  }}
}}
{extra}
"#
        ),
    )
    .unwrap();
    path
}

/// An export of `rows` customers with these orders and spent.
fn export(dir: &Path, rows: &[(u32, &str)]) -> PathBuf {
    let path = dir.join("customers.csv");
    let mut text = String::from("Id,Orders,Spent,Email\n");
    for (i, (orders, spent)) in rows.iter().enumerate() {
        text.push_str(&format!("C{i},{orders},{spent},yes\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn check(rules: &Path) -> Output {
    idic().arg("check").arg(rules).output().unwrap()
}

fn run(rules: &Path, customers: &Path, args: &[&str]) -> Output {
    idic()
        .arg("run")
        .arg(rules)
        .arg("--customers")
        .arg(customers)
        .args(args)
        .output()
        .unwrap()
}

// 2. rhai's `sleep` (and every other function touching time or the process) is gone.

#[test]
fn sleep_and_exit_are_unknown_functions_not_a_panic_or_a_hang() {
    let dir = scratch("trust-sleep");
    for (rule, name) in [
        ("metric zz = { sleep(1e300); 1 }", "sleep"),
        ("metric zz = { sleep(9223372036854775807); 1 }", "sleep"),
        (
            "segment zz = if spent > 3000 { sleep(5); true } else { false }",
            "sleep",
        ),
        ("metric zz = { exit(3); 1 }", "exit"),
        ("metric zz = parse_json(\"{}\")", "parse_json"),
    ] {
        let started = Instant::now();
        let out = check(&rules(&dir, rule));
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{rule}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "error[unknown-function]: unknown function `{name}`"
            )),
            "{rule}: {stdout}"
        );
        assert!(!text(&out.stderr).contains("panicked"), "{rule}");
        assert!(started.elapsed() < Duration::from_secs(5), "{rule}");
    }
}

// 3. A time budget beside the operation budget.

/// Few operations, each a scan of a 9,999-item list: about 20 s of work within the
/// operation budget.
const SLOW: &str = r#"{ let a = []; a.pad(9999, "x"); let n = 0; for i in 0..10000 { if "y" in a { n += 1 } } n }"#;

#[test]
fn check_stops_a_slow_expression_at_the_time_limit_and_names_it() {
    let dir = scratch("trust-slow-check");
    let started = Instant::now();
    let out = check(&rules(&dir, &format!("metric zz = {SLOW}")));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "error[budget-exceeded]: metric `zz` was stopped after 100 ms, the time limit of one evaluation"
        ),
        "{stdout}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_data_dependent_slow_rule_rejects_only_its_customers_within_the_limit() {
    let dir = scratch("trust-slow-run");
    // No sample customer of `check` spends over 5000: the rule checks clean.
    let rules = rules(&dir, &format!("segment big = spent > 5000.0 && {SLOW} > 0"));
    let out = check(&rules);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let customers = export(
        &dir,
        &[(1, "10.00"), (2, "9000.00"), (3, "20.00"), (4, "8000.00")],
    );
    let rejects = dir.join("rejects.csv");
    let started = Instant::now();
    let out = run(
        &rules,
        &customers,
        &["--out", "-", "--rejects", rejects.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Two customers at 100 ms each, not 2 x 20 s.
    assert!(started.elapsed() < Duration::from_secs(10));
    let rejects = std::fs::read_to_string(rejects).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 3, "{rejects}");
    for (line, id) in [(lines[1], "C1"), (lines[2], "C3")] {
        let at = if id == "C1" { 3 } else { 5 };
        assert!(
            line.starts_with(&format!("{at},{id},,segment big,rule-failed,")),
            "{line}"
        );
        assert!(
            line.contains("segment `big` was stopped after 100 ms"),
            "{line}"
        );
    }
    assert_eq!(text(&out.stdout).lines().count(), 2);
}

// 7. Quiet wrong values: NaN and infinity never reach the outputs.

#[test]
fn a_rule_giving_nan_or_infinity_rejects_the_customer() {
    let dir = scratch("trust-nan");
    let rules = rules(
        &dir,
        r#"metric per_order = spent / to_float(orders)
trigger by_order {
  activity retention
  when     true
  channel  email consent email
  action a template "a" {
    per_order = per_order
    whole     = to_int(spent / to_float(orders) - spent / to_float(orders))
  }
}"#,
    );
    // One of the three sample customers has no orders: only that one fails.
    assert_eq!(check(&rules).status.code(), Some(0));
    let customers = export(&dir, &[(2, "10.00"), (0, "5.00"), (0, "0.00")]);
    let out = run(&rules, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains(r#""per_order":5.0,"whole":0"#), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("metric `per_order` failed: division by zero: 5 / 0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("metric `per_order` failed: division by zero: 0 / 0"),
        "{stderr}"
    );
}

#[test]
fn conditions_never_compare_a_nan_or_an_infinity() {
    let dir = scratch("trust-nan-conditions");
    // Before, 500 / 0 was in neither segment and 0 / 0 was "equal to 0": quietly wrong.
    let rules = rules(
        &dir,
        "segment big_avg = spent / to_float(orders) > 100.0\n\
         segment zero_avg = spent / to_float(orders) == 0.0\n\
         segment parsed = orders > 1 && parse_float(`${orders}e400`) > 1.0",
    );
    let customers = export(&dir, &[(0, "500.00"), (0, "0.00"), (2, "10.00")]);
    let out = run(&rules, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        0,
        "{}",
        text(&out.stdout)
    );
    says(
        &out.stderr,
        "2,C0,,segment big_avg,rule-failed,segment `big_avg` failed: division by zero: 500 / 0",
    );
    says(
        &out.stderr,
        "3,C1,,segment big_avg,rule-failed,segment `big_avg` failed: division by zero: 0 / 0",
    );
    says(&out.stderr, "4,C2,,segment parsed,rule-failed,segment `parsed` failed: `parse_float` cannot read `2e400` as a finite number");
    // A number too large for a decimal is refused where it is written.
    let out = check(&self::rules(&dir, "metric huge = 1e400 * orders"));
    assert_eq!(out.status.code(), Some(1));
    says(
        &out.stdout,
        "a number too large for a decimal (beyond 1.8e308)",
    );
}

#[test]
fn no_route_around_the_checks_computes_an_infinity() {
    // Found by the second review: a loop's `break` value escaped every analysis (the names in
    // scope, the fast operators), and `hypot` was rhai's own, unchecked.
    let dir = scratch("trust-nan-routes");
    let out = check(&rules(
        &dir,
        "segment odd = orders == 0 && (orders / loop { break orders * 1.0 }) == 0",
    ));
    assert_eq!(out.status.code(), Some(1));
    says(
        &out.stdout,
        "a rule expression cannot `break` out of a loop with a value",
    );
    let rules = rules(
        &dir,
        "segment huge = hypot(spent * 1e307, 1.7e308) >= 1.7e308
         metric shown = `${hypot(spent * 1e307, 1.7e308)}`",
    );
    let customers = export(&dir, &[(1, "10.00"), (1, "0.00")]);
    let out = run(&rules, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out.stdout)
    );
    says(
        &out.stderr,
        "`hypot` of 1e308 and 1.7e308 is too large for a decimal",
    );
}

#[test]
fn nan_inside_a_list_parameter_rejects_the_customer_too() {
    let dir = scratch("trust-nan-list");
    let rules = rules(
        &dir,
        r#"trigger parts {
  activity retention
  when     true
  channel  email consent email
  action a template "a" {
    parts = [1.0, #{ share: spent / to_float(orders) }]
  }
}"#,
    );
    let customers = export(&dir, &[(2, "10.00"), (0, "5.00")]);
    let out = run(&rules, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains(r#""parts":[1.0,{"share":5.0}]"#),
        "{stdout}"
    );
    says(
        &out.stderr,
        "parameter `a.parts` failed: division by zero: 5 / 0",
    );
}

#[test]
fn to_int_of_nan_is_an_error_not_zero() {
    // Before, `to_int` of 0.0 / 0.0 was 0 for every customer; no NaN reaches it now.
    let dir = scratch("trust-to-int");
    let rules = rules(&dir, "metric zz = to_int(spent * 0.0 / 0.0)");
    let out = check(&rules);
    assert_eq!(out.status.code(), Some(1));
    says(
        &out.stdout,
        "metric `zz` fails for every sample customer tried: division by zero: 0 / 0",
    );
}

// 8. Rules that always fail are check errors; a run rejecting too much fails.

#[test]
fn expressions_failing_for_every_sample_are_check_errors() {
    let dir = scratch("trust-always-fails");
    for (rule, cause) in [
        ("metric zz = orders / 0", "division by zero"),
        ("metric zz = 9223372036854775807 + 1", "addition overflow"),
    ] {
        let out = check(&rules(&dir, rule));
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{rule}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "error[always-fails]: metric `zz` fails for every sample customer tried: {cause}"
            )),
            "{rule}: {stdout}"
        );
    }
    // A failure for some customers only is theirs, not the rule's.
    let out = check(&rules(&dir, "metric zz = 100 / orders"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn max_reject_rate_stops_a_run_that_rejects_too_much_and_writes_nothing() {
    let dir = scratch("trust-reject-rate");
    let rules = rules(&dir, "metric per_order = 100 / orders");
    // 3 of 10 customers have no orders: 30% rejected.
    let rows: Vec<(u32, &str)> = (0..10).map(|i| (u32::from(i >= 3), "1.00")).collect();
    let customers = export(&dir, &rows);
    let out_path = dir.join("decisions.csv");
    std::fs::write(&out_path, "last good\n").unwrap();
    let out = run(
        &rules,
        &customers,
        &[
            "--out",
            out_path.to_str().unwrap(),
            "--max-reject-rate",
            "20%",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: stopped: more than 20% of the 10 rows (2) rejected; the last was line 4"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "last good\n");
    // Within the rate, the run goes through.
    let out = run(
        &rules,
        &customers,
        &[
            "--out",
            out_path.to_str().unwrap(),
            "--max-reject-rate",
            "30",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap().lines().count(),
        8
    );
    // A rate that is not one is refused.
    let out = run(&rules, &customers, &["--max-reject-rate", "120%"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`120%` is not a percentage from 0 to 100"));
}

// 5. A test reads only inside the rule set (or where the user allows), regular files only.

#[test]
fn tests_cannot_read_or_print_files_outside_the_rule_set() {
    let dir = scratch("trust-test-reads");
    let set = dir.join("rules");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(
        dir.join("secret.csv"),
        "Id,Orders,Spent,Email\nC1,1,TOPSECRET,yes\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.join("secret.csv"), set.join("leak.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", set.join("zero.csv")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", set.join("passwd.csv")).unwrap();
    let case = |name: &str, from: &str| {
        format!("test \"{name}\" {{\n  from \"{from}\" row 1\n  expect {{ fires hello }}\n}}\n")
    };
    let tests = [
        case("absolute", &dir.join("secret.csv").display().to_string()),
        case("up", "../secret.csv"),
        case("link out", "leak.csv"),
        case("device", "zero.csv"),
        case("passwd", "passwd.csv"),
    ]
    .concat();
    std::fs::write(set.join("tests.idic"), tests).unwrap();
    rules(&set, "");
    let started = Instant::now();
    let out = idic().arg("test").arg(&set).output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"));
    assert!(!stderr.contains("root:"), "{stderr}");
    assert_eq!(
        stderr
            .matches("is outside the rule set's directory")
            .count(),
        5,
        "{stderr}"
    );
    assert!(
        stderr.contains("`zero.csv` cannot be read: it is outside"),
        "{stderr}"
    );

    // Allowed by the user, the file outside is read; a device never is.
    std::fs::write(
        set.join("tests.idic"),
        [case("up", "../secret.csv"), case("link out", "leak.csv")].concat(),
    )
    .unwrap();
    let out = idic()
        .arg("check")
        .arg(&set)
        .arg("--allow-read")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    says(&out.stdout, "the row cannot be read: line 2");
    std::fs::write(set.join("tests.idic"), case("device", "zero.csv")).unwrap();
    let out = idic()
        .arg("check")
        .arg(&set)
        .args(["--allow-read", "/dev"])
        .output()
        .unwrap();
    says(
        &out.stdout,
        "`zero.csv` cannot be read: it is not a regular file",
    );
}

// 1. No output may destroy an input, a rule file or another output.

#[test]
fn an_output_naming_an_input_a_rule_file_or_another_output_is_refused_before_anything() {
    let dir = scratch("trust-clash");
    let rules = rules(&dir, "");
    let customers = export(&dir, &[(1, "10.00")]);
    let original = std::fs::read(&customers).unwrap();
    std::os::unix::fs::symlink(&customers, dir.join("link.csv")).unwrap();
    let d = dir.join("d.csv");
    let (c, r, l) = (
        customers.to_str().unwrap(),
        rules.to_str().unwrap(),
        dir.join("link.csv"),
    );
    let l = l.to_str().unwrap();
    let d = d.to_str().unwrap();
    for (args, said) in [
        (
            vec!["--out", c],
            format!("`--out {c}` is the same file as `--customers {c}`"),
        ),
        (
            vec!["--out", d, "--rejects", c],
            format!("`--rejects {c}` is the same file as `--customers {c}`"),
        ),
        (
            vec!["--out", d, "--summary", l],
            format!("`--summary {l}` is the same file as `--customers {c}`"),
        ),
        (
            vec!["--out", r],
            format!("`--out {r}` is the same file as the rule file `{r}`"),
        ),
        (
            vec!["--out", d, "--rejects", d],
            format!("`--rejects {d}` and `--out {d}` are the same file"),
        ),
        (
            vec!["--out", d, "--orders", d],
            format!("`--out {d}` is the same file as `--orders {d}`"),
        ),
    ] {
        std::fs::write(d, "last good\n").unwrap();
        let out = run(&rules, &customers, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {said}")),
            "{args:?}: {stderr}"
        );
        assert_eq!(std::fs::read(&customers).unwrap(), original, "{args:?}");
        assert_eq!(
            std::fs::read_to_string(d).unwrap(),
            "last good\n",
            "{args:?}"
        );
        assert!(std::fs::read_to_string(&rules)
            .unwrap()
            .starts_with("ruleset"));
    }
    // An output that would be loaded as a rule file of a rule-set directory.
    let set = dir.join("set");
    std::fs::create_dir_all(&set).unwrap();
    let rules = self::rules(&set, "");
    let out = idic()
        .arg("run")
        .arg(&set)
        .arg("--customers")
        .arg(&customers)
        .arg("--out")
        .arg(set.join("decisions.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    says(&out.stderr, "with a rule file's name");
    assert!(!set.join("decisions.toml").exists());
    assert!(rules.exists());
    // Run as a single rule file, the rule set still may not overwrite a rule file beside it
    // (found by the second review: `--out set/tests.idic` replaced it).
    let tests = set.join("tests.idic");
    std::fs::write(&tests, "// tests\n").unwrap();
    let out = idic()
        .arg("run")
        .arg(&rules)
        .arg("--customers")
        .arg(&customers)
        .arg("--out")
        .arg(&tests)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    says(&out.stderr, "with a rule file's name");
    assert_eq!(std::fs::read_to_string(&tests).unwrap(), "// tests\n");
}

#[test]
fn analyze_and_convert_refuse_to_overwrite_their_input() {
    let dir = scratch("trust-clash-others");
    let orders = dir.join("orders.csv");
    std::fs::write(&orders, "customer_id,date,amount\nA,2020-01-01,10\n").unwrap();
    let out = idic()
        .args(["analyze", "--as-of", "2020-01-31", "--orders"])
        .arg(&orders)
        .arg("--out")
        .arg(&orders)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is the same file as `--orders"));
    assert!(std::fs::read_to_string(&orders)
        .unwrap()
        .starts_with("customer_id"));

    let rules = rules(&dir, "");
    let before = std::fs::read_to_string(&rules).unwrap();
    let out = idic()
        .arg("convert")
        .arg(&rules)
        .args(["--to", "toml", "--out"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), before);
}

// 4. A killed run's temporaries do not pile up; outputs go in place together.

/// The temporaries beside `target`.
fn temporaries(target: &Path) -> Vec<(String, u64)> {
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    let mut found: Vec<(String, u64)> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&format!(".{name}.")) && n.ends_with(".idic-tmp")
        })
        .map(|e| {
            let len = e.metadata().unwrap().len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn the_next_run_removes_the_temporaries_of_killed_runs_and_only_those() {
    use idic_generate::{write_export, ExportSpec};
    let dir = scratch("trust-killed");
    let big = dir.join("big.csv");
    let spec = ExportSpec {
        customers: 400_000,
        ..ExportSpec::default()
    };
    write_export(&spec, std::fs::File::create(&big).unwrap()).unwrap();
    let target = dir.join("d.jsonl");
    std::fs::write(&target, "last good\n").unwrap();
    let mine = dir.join(".d.jsonl.notes.txt");
    std::fs::write(&mine, "not idic's\n").unwrap();
    let retail = crate::common::repo().join("rules/retail");
    for kill in 1..=3 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idic"))
            .arg("run")
            .arg(&retail)
            .arg("--customers")
            .arg(&big)
            .arg("--out")
            .arg(&target)
            .args(["--threads", "1", "--quiet"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Killed while it writes its decisions.
        let started = Instant::now();
        while !temporaries(&target).iter().any(|(_, len)| *len > 0) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no decisions written"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "finished before the kill"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Each run removed the temporary of the run killed before it: one is left, not `kill`.
        assert_eq!(temporaries(&target).len(), 1, "after kill {kill}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "last good\n");
    }
    let small = export(&dir, &[(1, "10.00")]);
    let out = run(
        &rules(&dir, ""),
        &small,
        &["--out", target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(temporaries(&target), vec![]);
    assert_eq!(std::fs::read_to_string(&target).unwrap().lines().count(), 1);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "not idic's\n");
}

// 6. Unbounded inputs: a row's length and what is copied from a stream are bounded.

#[test]
fn endless_inputs_stop_with_an_error_in_bounded_time_and_memory() {
    let dir = scratch("trust-endless");
    let rules = rules(&dir, "");
    for format in ["csv", "jsonl"] {
        let started = Instant::now();
        let out = idic()
            .arg("run")
            .arg(&rules)
            .args(["--customers", "/dev/zero", "--input-format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        says(
            &out.stderr,
            "cannot read `/dev/zero`: the row at line 1 runs over 1 MiB, the most one row may hold",
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // Endless standard input is not copied without end.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idic"))
        .arg("run")
        .arg(&rules)
        .args(["--customers", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    says(
        &out.stderr,
        "cannot read standard input: the row at line 1 runs over 1 MiB",
    );
    // Nor an endless orders file.
    let customers = export(&dir, &[(1, "1.00")]);
    let orders_rules = dir.join("orders.idic");
    std::fs::write(
        &orders_rules,
        std::fs::read_to_string(&rules).unwrap()
            + "orders {\n  customer from \"customer\"\n  date from \"date\"\n  amount from \"amount\"\n}\nmetric n = rfm_frequency\n",
    )
    .unwrap();
    let zero = dir.join("zero.csv");
    let _ = std::fs::remove_file(&zero);
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let out = run(
        &orders_rules,
        &customers,
        &["--orders", zero.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    says(&out.stderr, "runs over 1 MiB");
}

#[test]
fn a_named_pipe_is_read_like_a_file() {
    let dir = scratch("trust-fifo");
    let rules = rules(&dir, "");
    let fifo = dir.join("customers.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::fs::write(fifo, "Id,Orders,Spent,Email\nC1,1,1.00,yes\nC2,2,2.00,no\n").unwrap();
        })
    };
    let out = run(&rules, &fifo, &["--out", "-"]);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.starts_with(r#"{"id":"C1""#), "{stdout}");
}

// 10. Smaller: a quote never closed in a column the rules do not read.

#[test]
fn rows_swallowed_by_a_quote_never_closed_are_a_reject_not_a_silence() {
    let dir = scratch("trust-open-quote");
    let rules = rules(&dir, "");
    let customers = dir.join("customers.csv");
    // The note is read by no rule: before, C1 was decided and C2 and C3 vanished into its note.
    std::fs::write(
        &customers,
        "Id,Orders,Spent,Email,Note\nC0,1,1.00,yes,a\nC1,1,1.00,yes,\"oops\nC2,1,1.00,yes,b\nC3,1,1.00,yes,c\n",
    )
    .unwrap();
    let out = run(&rules, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "3,C1,,,open-quote,\"a quote opened in this row is never closed, so lines 4 to 5, to \
             the end of the export, were read into the cell it opens rather than as rows of their own\""
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 rows read: 1 decided, 1 rejected"),
        "{stderr}"
    );
}

/// A rule set over `Id,Orders,Spent,Email` with a tier, so that the summary sums money.
fn tiered(dir: &Path) -> PathBuf {
    rules(dir, "tiers {\n  all otherwise\n}")
}

#[test]
fn money_sums_are_exact_and_amounts_that_would_break_them_are_rejected() {
    let dir = scratch("trust-money");
    let rules = tiered(&dir);
    let huge = "9".repeat(300);
    let customers = export(
        &dir,
        &[
            (1, "9999999999999.99"),
            (1, "9999999999999.99"),
            (1, "-5.10"),
            (1, &huge),
            (1, "1e20"),
        ],
    );
    let out = run(
        &rules,
        &customers,
        &[
            "--out",
            "/dev/null",
            "--summary",
            "-",
            "--summary-format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    let sum = &summary["tiers"][0]["value"][0]["sum"];
    assert_eq!(sum.to_string(), "19999999999994.88");
    assert_eq!(summary["rows"]["rejected"], 2);
    let text_summary = run(
        &rules,
        &customers,
        &["--out", "/dev/null", "--summary", "-"],
    );
    let stderr = text(&text_summary.stderr);
    assert!(stderr.contains("19,999,999,999,994.88"), "{stderr}");
    assert!(!stderr.contains("inf"), "{stderr}");
    // Amounts finer than a cent add up before the sum is rounded (before: 0.00).
    let fine: Vec<(u32, &str)> = (0..1000).map(|_| (1, "0.004")).collect();
    let customers = export(&dir, &fine);
    let out = run(
        &rules,
        &customers,
        &["--out", "/dev/null", "--summary", "-"],
    );
    says(&out.stderr, "  4.00\n");
}

#[test]
fn jsonl_rows_read_as_strictly_as_csv_rows() {
    let dir = scratch("trust-jsonl-strict");
    let rules = tiered(&dir);
    let customers = dir.join("customers.jsonl");
    std::fs::write(
        &customers,
        concat!(
            r#"{"Id":"C1","Orders":1,"Spent":1,"Spent":2,"Email":"yes"}"#,
            "\n",
            r#"{"Id":"C2","Orders":-9223372036854775809,"Spent":1,"Email":"yes"}"#,
            "\n",
            r#"{"Id":"C3","Orders":3.0,"Spent":1,"Email":"yes"}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = run(&rules, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with(r#"{"id":"C3""#), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("1,,,,bad-json,invalid JSON at column 39: the key `Spent` is given twice\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2,C2,Orders,,bad-value,\"expected a whole number such as `42`"),
        "{stderr}"
    );
    // The same cell in CSV.
    let csv = export(&dir, &[(1, "1.00")]);
    let text_csv = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("C0,1,", "C0,-9223372036854775809,");
    std::fs::write(&csv, text_csv).unwrap();
    let out = run(&rules, &csv, &["--out", "-", "--rejects", "-"]);
    says(
        &out.stderr,
        "2,C0,Orders,,bad-value,\"expected a whole number such as `42`",
    );
}

// 5 and 6, siblings: rule files are the rule set's own, and bounded.

#[test]
fn a_rule_file_linking_out_of_the_rule_set_or_endless_is_refused() {
    let dir = scratch("trust-rule-links");
    let set = dir.join("set");
    std::fs::create_dir_all(&set).unwrap();
    rules(&set, "");
    std::fs::write(dir.join("secret.txt"), "TOPSECRET line\n").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), set.join("evil.idic")).unwrap();
    let out = check(&set);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("TOPSECRET"), "{all}");
    says(
        &out.stderr,
        "evil.idic` is a link to a file outside the rule set's directory",
    );
    // A link inside the rule set is one of its files.
    std::fs::remove_file(set.join("evil.idic")).unwrap();
    std::os::unix::fs::symlink(set.join("rules.idic"), set.join("same.idic")).unwrap();
    assert_ne!(check(&set).status.code(), Some(2));
    // Devices are no rule files, for any command.
    for command in [
        &["check", "/dev/zero"][..],
        &["fmt", "--stdout", "/dev/zero"],
        &["convert", "/dev/zero", "--to", "toml"],
    ] {
        let started = Instant::now();
        let out = idic().args(command).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        says(
            &[out.stdout, out.stderr].concat(),
            "`/dev/zero` is not a regular file",
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn standard_streams_redirected_to_an_input_are_that_input() {
    let dir = scratch("trust-streams");
    let rules = rules(&dir, "");
    let customers = export(&dir, &[(1, "1.00")]);
    let original = std::fs::read(&customers).unwrap();
    let idic = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_idic"));
        command.arg("run").arg(&rules);
        command
    };
    // `--customers - < x.csv --out x.csv`.
    let out = idic()
        .args(["--customers", "-", "--out"])
        .arg(&customers)
        .stdin(std::fs::File::open(&customers).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    says(&out.stderr, "is the same file as `--customers -`");
    // `--customers x.csv --out - >> x.csv`: the decisions would be read back as rows.
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(&customers)
        .unwrap();
    let out = idic()
        .arg("--customers")
        .arg(&customers)
        .stdout(appended)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    says(
        &out.stderr,
        "`--out -` goes to the same file as `--customers",
    );
    assert_eq!(std::fs::read(&customers).unwrap(), original);
    // A JSON summary on standard error shares it with no rejects, whatever their name.
    let out = run(
        &rules,
        &customers,
        &[
            "--summary",
            "-",
            "--summary-format",
            "json",
            "--rejects",
            "/dev/stderr",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    says(
        &out.stderr,
        "`--rejects` and a JSON `--summary -` would share standard error",
    );
}

#[test]
fn a_named_pipe_is_no_test_row_and_no_rule_file() {
    let dir = scratch("trust-test-fifo");
    let set = dir.join("set");
    std::fs::create_dir_all(&set).unwrap();
    rules(&set, "");
    for fifo in [set.join("rows.csv"), dir.join("pipe.idic")] {
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
    }
    std::fs::write(
        set.join("tests.idic"),
        "test \"t\" {\n  from \"rows.csv\" row 1\n  expect { fires hello }\n}\n",
    )
    .unwrap();
    // Before, opening the pipe waited for a writer for ever.
    let started = Instant::now();
    let out = check(&set);
    assert_eq!(out.status.code(), Some(1));
    says(
        &out.stdout,
        "`rows.csv` cannot be read: it is not a regular file",
    );
    let out = check(&dir.join("pipe.idic"));
    assert_eq!(out.status.code(), Some(2));
    says(&out.stderr, "pipe.idic` is not a regular file");
    assert!(started.elapsed() < Duration::from_secs(10));
}

// Siblings of 2: no panic when standard output or error goes away, a clear error when full.

#[test]
fn closed_or_full_standard_streams_are_no_panic() {
    let retail = crate::common::repo().join("rules/retail");
    let retail_file = retail.join("retail.idic");
    let commands: [Vec<&std::ffi::OsStr>; 4] = [
        vec!["fmt".as_ref(), "--stdout".as_ref(), retail.as_os_str()],
        vec![
            "convert".as_ref(),
            retail_file.as_os_str(),
            "--to".as_ref(),
            "toml".as_ref(),
        ],
        vec!["test".as_ref(), retail.as_os_str()],
        vec![
            "check".as_ref(),
            retail.as_os_str(),
            "--format".as_ref(),
            "json".as_ref(),
        ],
    ];
    for args in &commands {
        for closed in ["stdout", "stderr"] {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_idic"));
            command.args(args);
            let (out, err) = if closed == "stdout" {
                (std::process::Stdio::piped(), std::process::Stdio::null())
            } else {
                (std::process::Stdio::null(), std::process::Stdio::piped())
            };
            let mut child = command.stdout(out).stderr(err).spawn().unwrap();
            // The reader goes away before idic writes.
            drop(child.stdout.take());
            drop(child.stderr.take());
            let status = child.wait().unwrap();
            assert_ne!(
                status.code(),
                Some(101),
                "{args:?} with {closed} closed panicked"
            );
        }
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idic"))
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} to /dev/full");
        says(
            &out.stderr,
            "cannot write to standard output: No space left on device",
        );
    }
}

#[test]
fn a_cell_longer_than_a_rule_value_may_be_is_its_columns_reject() {
    let dir = scratch("trust-long-cell");
    let path = dir.join("rules.idic");
    std::fs::write(
        &path,
        r#"ruleset "t" { as_of "2026-11-01" }
customer {
  id   string from "Id" key
  tags list   from "Tags"
  note string from "Note"
}
segment tagged = "vip" in tags
"#,
    )
    .unwrap();
    let tags = vec!["xy"; 6000].join(";");
    let note = "n".repeat(20_000);
    let customers = dir.join("customers.csv");
    std::fs::write(
        &customers,
        format!("Id,Tags,Note\nC1,{tags},short\nC2,vip,{note}\nC3,vip,fine\n"),
    )
    .unwrap();
    let out = run(&path, &customers, &["--out", "-", "--rejects", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    // Before, C1 was blamed on the rule: "segment `tagged` built a string longer than ...".
    says(&out.stderr, "2,C1,Tags,,bad-value,\"expected a text of at most 10,000 bytes, the most a value may hold in the rules, found `xy;xy;");
    says(&out.stderr, "(17999 bytes)");
    says(&out.stderr, "3,C2,Note,,bad-value,");
}

#[test]
fn the_same_number_reads_the_same_from_csv_and_jsonl() {
    let dir = scratch("trust-numbers");
    // Before, JSONL read 9999999999999.995 as ...996 and CSV as ...994 (the nearest).
    let rules = rules(
        &dir,
        "trigger show {\n  activity retention\n  when     email\n  channel  email consent email\n  \
         action s template \"s\" {\n    spent = spent\n  }\n}",
    );
    let csv = export(
        &dir,
        &[(1, "9999999999999.995"), (2, "0.1"), (3, "1234.565")],
    );
    let jsonl = dir.join("customers.jsonl");
    std::fs::write(
        &jsonl,
        "{\"Id\":\"C0\",\"Orders\":1,\"Spent\":9999999999999.995,\"Email\":\"yes\"}\n\
         {\"Id\":\"C1\",\"Orders\":2,\"Spent\":0.1,\"Email\":\"yes\"}\n\
         {\"Id\":\"C2\",\"Orders\":3,\"Spent\":1234.565,\"Email\":\"yes\"}\n",
    )
    .unwrap();
    let decided = |export: &Path| text(&run(&rules, export, &["--out", "-"]).stdout);
    let from_csv = decided(&csv);
    assert!(
        from_csv.contains(r#""spent":9999999999999.994"#),
        "{from_csv}"
    );
    assert_eq!(from_csv, decided(&jsonl));
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_run_and_named_after() {
    let dir = scratch("trust-output-paths");
    let rules = rules(&dir, "");
    let customers = export(&dir, &[(1, "1.00")]);
    let dangling = dir.join("dangling.csv");
    std::os::unix::fs::symlink(dir.join("nowhere/x.csv"), &dangling).unwrap();
    for (out, said) in [
        (
            dir.join("nodir/").display().to_string() + "/",
            "ends with `/`, as a directory does",
        ),
        (
            dir.join("missing/x.csv").display().to_string(),
            "there is no directory",
        ),
        (dangling.display().to_string(), "which does not exist"),
    ] {
        let result = run(&rules, &customers, &["--out", &out]);
        assert_eq!(result.status.code(), Some(2), "{out}");
        says(&result.stderr, said);
        // Refused before reading: nothing ran.
        assert!(!text(&result.stderr).contains("rows read"), "{out}");
    }
    assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
    assert!(!dir.join("nowhere").exists());
    let result = run(
        &rules,
        &customers,
        &["--out", "/dev/null", "--rejects", "/dev/full"],
    );
    assert_eq!(result.status.code(), Some(2));
    says(&result.stderr, "`/dev/full`: No space left on device");
}

#[test]
fn rows_running_over_several_lines_are_pointed_out() {
    let dir = scratch("trust-spanning");
    let rules = rules(&dir, "");
    let customers = dir.join("customers.csv");
    // A stray quote in C1's note closed by another in C3's: C2 and C3 are in C1's note.
    std::fs::write(
        &customers,
        "Id,Orders,Spent,Email,Note\nC0,1,1.00,yes,a\nC1,1,1.00,yes,\"oops\nC2,1,1.00,yes,b\nC3,1,1.00,yes,c\",x\nC4,1,1.00,yes,d\n",
    )
    .unwrap();
    let out = run(
        &rules,
        &customers,
        &[
            "--out",
            "/dev/null",
            "--summary",
            "-",
            "--summary-format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        summary["spanning"],
        serde_json::json!({"rows": 1, "lines": [[3, 5]]})
    );
    let out = run(&rules, &customers, &["--out", "/dev/null"]);
    says(&out.stderr, "note: 1 row runs over several lines (lines 3 to 5): a quoted cell holding line breaks, or a quote left open");
}

#[test]
fn an_export_in_another_dialect_says_what_it_looks_like() {
    let dir = scratch("trust-dialects");
    let rules = rules(&dir, "");
    let semicolons = dir.join("semicolons.csv");
    std::fs::write(&semicolons, "Id;Orders;Spent;Email\nC1;1;1.00;yes\n").unwrap();
    let out = run(&rules, &semicolons, &[]);
    assert_eq!(out.status.code(), Some(2));
    says(
        &out.stderr,
        "is the export separated by semicolons? idic reads commas",
    );
    let utf16 = dir.join("utf16.csv");
    let text: Vec<u8> = "Id,Orders,Spent,Email\nC1,1,1.00,yes\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(&utf16, text).unwrap();
    let out = run(&rules, &utf16, &[]);
    assert_eq!(out.status.code(), Some(2));
    says(&out.stderr, "is the export UTF-16? save it as UTF-8");
}
