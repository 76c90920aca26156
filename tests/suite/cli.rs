//! The command line as a user meets it: exit codes, output formats, `fmt` and `convert`.

use crate::common::{idic, scratch, succeeded};

/// `path` in the repository, in full.
fn repo(path: &str) -> String {
    crate::common::repo().join(path).display().to_string()
}

#[test]
fn check_exits_0_on_the_shipped_rules() {
    let out = idic()
        .args(["check", &repo("rules/retail")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 errors, 0 warnings"));
}

#[test]
fn check_exits_1_on_errors_and_2_on_a_missing_path() {
    let dir = scratch("cli-exit");
    let file = dir.join("broken.idic");
    std::fs::write(&file, "segment x = \n").unwrap();
    idic()
        .args(["check", file.to_str().unwrap()])
        .assert()
        .code(1);
    idic()
        .args(["check", dir.join("nope").to_str().unwrap()])
        .assert()
        .code(2);
    idic()
        .args(["check", "--format", "yaml", file.to_str().unwrap()])
        .assert()
        .code(2);
}

#[test]
fn an_allowed_warning_is_silent_in_check_and_run_and_deny_warnings_fails_on_the_others() {
    let dir = scratch("cli-allow");
    let retail = std::fs::read_to_string(repo("rules/retail/retail.idic")).unwrap();
    let unused = format!("{retail}\nsegment vip_watch = spent > 5000\n");
    let dsl = dir.join("retail.idic");
    std::fs::write(&dsl, &unused).unwrap();
    let check = |path: &std::path::Path, deny: bool| {
        let mut cmd = idic();
        cmd.args(["check", path.to_str().unwrap()]);
        if deny {
            cmd.arg("--deny-warnings");
        }
        cmd.output().unwrap()
    };
    // A warning passes `check` but fails `check --deny-warnings`, and `run` mentions it.
    assert_eq!(check(&dsl, false).status.code(), Some(0));
    let denied = check(&dsl, true);
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stdout).contains("warning[unused-segment]"));
    let run = |rules: &std::path::Path| {
        let out = idic()
            .args(["run", rules.to_str().unwrap(), "--customers"])
            .arg(repo("examples/customers.csv"))
            .arg("--out")
            .arg(dir.join("decisions.csv"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&dsl).contains("1 warning"));
    // Allowed on the segment, it is gone from both, in the DSL and in TOML.
    let allowed = unused.replacen(
        "  exclude      welcome_new with second_order_nudge\n",
        "  exclude      welcome_new with second_order_nudge\n  allow unused-segment on vip_watch\n",
        1,
    );
    assert_ne!(allowed, unused);
    std::fs::write(&dsl, &allowed).unwrap();
    let toml = dir.join("retail.toml");
    idic()
        .args(["convert", dsl.to_str().unwrap(), "--to", "toml", "--out"])
        .arg(&toml)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&toml)
        .unwrap()
        .contains(r#"{ warning = "unused-segment", on = "vip_watch" }"#));
    for rules in [&dsl, &toml] {
        let out = check(rules, true);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.contains("0 errors, 0 warnings"), "{text}");
        assert!(!run(rules).contains("warning"));
    }
}

#[test]
fn json_output_has_one_object_per_diagnostic_with_positions() {
    let dir = scratch("cli-json");
    let file = dir.join("r.idic");
    std::fs::write(
        &file,
        "customer {\n  id string from \"ID\" key\n}\ntrigger t {\n  activity winback\n  when true\n  channel sms\n  action a template \"x\"\n}\n",
    )
    .unwrap();
    let out = idic()
        .args(["check", "--format", "json", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diags = json.as_array().unwrap();
    let consent = diags
        .iter()
        .find(|d| d["code"] == "missing-consent")
        .expect("a missing-consent diagnostic");
    assert_eq!(consent["severity"], "error");
    assert_eq!(consent["line"], 7);
    assert_eq!(consent["column"], 3);
    assert_eq!(consent["end_line"], 7);
    assert_eq!(consent["end_column"], 14);
    assert!(consent["file"].as_str().unwrap().ends_with("r.idic"));
    assert!(consent["help"].as_str().unwrap().contains("consent"));
}

#[test]
fn fmt_check_names_unformatted_files_and_fmt_fixes_them() {
    let dir = scratch("cli-fmt");
    let file = dir.join("r.idic");
    let messy = "// keep me\nsegment   big =  spent > 10   // and me\nmetric m = 1\n";
    std::fs::write(&file, messy).unwrap();
    let out = idic()
        .args(["fmt", "--check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("r.idic"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        messy,
        "--check must not write"
    );

    idic()
        .args(["fmt", file.to_str().unwrap()])
        .assert()
        .code(0);
    let tidy = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        tidy,
        "metric m = 1\n\n// keep me\nsegment big = spent > 10 // and me\n"
    );
    idic()
        .args(["fmt", "--check", file.to_str().unwrap()])
        .assert()
        .code(0);
}

#[test]
fn fmt_refuses_a_file_with_syntax_errors() {
    let dir = scratch("cli-fmt-broken");
    let file = dir.join("r.idic");
    std::fs::write(&file, "segment x = (1\n").unwrap();
    idic()
        .args(["fmt", file.to_str().unwrap()])
        .assert()
        .code(1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "segment x = (1\n");
}

#[test]
fn convert_to_toml_and_back_is_the_same_rule_set() {
    let dir = scratch("cli-convert");
    let toml = dir.join("retail.toml");
    let out = idic()
        .args(["convert", &repo("rules/retail/retail.idic"), "--to", "toml"])
        .args(["--out", toml.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("comments"),
        "warns about comments"
    );
    let back = idic()
        .args(["convert", toml.to_str().unwrap(), "--to", "dsl"])
        .output()
        .unwrap();
    assert_eq!(back.status.code(), Some(0));
    let dsl = dir.join("back.idic");
    std::fs::write(&dsl, &back.stdout).unwrap();
    idic()
        .args(["check", dsl.to_str().unwrap()])
        .assert()
        .code(0);
}

#[test]
fn convert_takes_a_whole_rule_set_with_the_exports_its_tests_read() {
    let dir = scratch("cli-convert-dir");
    let (toml, dsl) = (dir.join("toml"), dir.join("dsl"));
    let out = idic()
        .args(["convert", &repo("rules/retail"), "--to", "toml", "--out"])
        .arg(&toml)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("converted 2 rule files into"), "{said}");
    // The tests' export inside the rule set comes along, at the same place.
    assert!(toml.join("retail.toml").is_file() && toml.join("tests.toml").is_file());
    assert_eq!(
        std::fs::read(toml.join("testdata/customers.csv")).unwrap(),
        std::fs::read(repo("rules/retail/testdata/customers.csv")).unwrap()
    );
    idic()
        .args(["convert", toml.to_str().unwrap(), "--to", "dsl", "--out"])
        .arg(&dsl)
        .assert()
        .success();
    // There and back: the tests pass and the decisions are the shipped rules' own.
    let decide = |rules: &str| {
        let out = idic()
            .args(["run", rules, "--customers", &repo("examples/customers.csv")])
            .args(["--out", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    };
    for rules in [&toml, &dsl] {
        let out = idic()
            .args(["test", rules.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            decide(rules.to_str().unwrap()),
            decide(&repo("rules/retail"))
        );
    }
    // A directory needs `--out`, and not the rule set's own directory.
    idic()
        .args(["convert", &repo("rules/retail"), "--to", "toml"])
        .assert()
        .code(2);
    let same = idic()
        .args(["convert", dsl.to_str().unwrap(), "--to", "dsl", "--out"])
        .arg(&dsl)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&same.stderr).contains("holds rule files already"));
    idic()
        .args([
            "convert",
            dsl.to_str().unwrap(),
            "--to",
            "toml",
            "--out",
            "-",
        ])
        .assert()
        .code(2);
    // `fmt` says it leaves TOML alone.
    let fmt = idic()
        .args(["fmt", toml.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(fmt.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&fmt.stderr).contains("lays out DSL files only"));
}

#[test]
fn convert_refuses_what_the_other_format_cannot_say() {
    let dir = scratch("cli-convert-refuse");
    let toml = dir.join("r.toml");
    // A line break outside brackets ends a DSL expression: no DSL spelling keeps this one.
    std::fs::write(
        &toml,
        "[segments]\nbig = \"\"\"\nspent > 10\n&& orders > 1\"\"\"\n",
    )
    .unwrap();
    let out = idic()
        .args(["convert", toml.to_str().unwrap(), "--to", "dsl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing written");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be written as DSL"));
}

/// A rule set whose field name is 70,000 characters long: beyond `format!`'s widest padding
/// (65,535), which the printer's aligned columns once reached and panicked on.
#[test]
fn a_name_too_long_is_an_error_and_fmt_and_convert_do_not_panic_on_it() {
    let dir = scratch("cli-long-name");
    let name = "n".repeat(70_000);
    let file = dir.join("long.idic");
    let rules = format!(
        "customer {{\n  id string from \"ID\" key\n  {name} int from \"N\"\n}}\n\nsegment big = {name} > 1\n"
    );
    std::fs::write(&file, &rules).unwrap();
    let file = file.to_str().unwrap();

    let fmt = idic().args(["fmt", "--stdout", file]).output().unwrap();
    let formatted = String::from_utf8(fmt.stdout).unwrap();
    assert_eq!(
        fmt.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fmt.stderr)
    );
    // The short name is padded to the long one, by hand.
    let id_line = formatted.lines().find(|l| l.starts_with("  id ")).unwrap();
    assert_eq!(
        id_line,
        format!("  id{} string from \"ID\" key", " ".repeat(70_000 - 2))
    );
    assert!(formatted.contains(&format!("segment big = {name} > 1")));

    for to in ["toml", "dsl"] {
        let out = idic().args(["convert", file, "--to", to]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "--to {to}: {stderr}");
        assert!(!stderr.contains("panicked"), "--to {to}: {stderr}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&name),
            "--to {to}"
        );
    }

    let check = idic()
        .args(["check", "--format", "plain", file])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("error[name-too-long]")
            && stdout.contains("field name `nnnnnnnnnnnnnnnnnnnn...` is 70,000 characters long")
            && stdout.contains("help: names are at most 255 characters"),
        "{}",
        &stdout[..stdout.len().min(500)]
    );
}

/// A TOML key can hold any text; a name must be one the DSL and expressions can write.
#[test]
fn a_toml_name_no_expression_can_read_is_an_error() {
    let dir = scratch("cli-bad-name");
    let file = dir.join("r.toml");
    std::fs::write(
        &file,
        "[customer]\nid = { type = \"string\", from = \"ID\", key = true }\n\n[metrics]\n\"days quiet\" = \"1\"\n\"x\\u001b[2J\" = \"2\"\n",
    )
    .unwrap();
    let out = idic()
        .args(["check", "--format", "plain", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    assert!(
        errors[0].ends_with(":5:1-5:13: `days quiet` is not a valid metric name"),
        "{stdout}"
    );
    assert!(
        errors[1].ends_with(": `x\\u{1b}[2J` is not a valid metric name"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "help: a name is ASCII letters, digits and `_`, and does not start with a digit"
    ));
}

#[test]
fn completions_load_in_bash_and_man_pages_cover_every_command() {
    let script = idic().args(["completions", "bash"]).output().unwrap();
    assert_eq!(script.status.code(), Some(0));
    let dir = scratch("cli-shell");
    let file = dir.join("idic.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    // Bash reads the script and registers it; completing `idic ex` offers `explain`.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && COMP_WORDS=(idic ex) COMP_CWORD=1 && _idic idic ex idic && echo \"${{COMPREPLY[@]}}\"",
            file.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "explain",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = idic().args(["completions", shell]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("deny-warnings"),
            "{shell}"
        );
    }
    idic().args(["completions", "tcsh"]).assert().code(2);

    let page = idic().arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&page.stdout).starts_with(".ie"));
    let pages = dir.join("man1");
    idic()
        .args(["man", "--out", pages.to_str().unwrap()])
        .assert()
        .success();
    let check = std::fs::read_to_string(pages.join("idic-check.1")).unwrap();
    assert!(check.contains(".TH idic-check 1"), "{check}");
    assert!(check.contains("deny\\-warnings"), "{check}");
    let show = std::fs::read_to_string(pages.join("idic-history-show.1")).unwrap();
    assert!(show.contains("idic history show"), "{show}");
}

#[test]
fn init_guesses_a_rule_set_that_checks_runs_and_passes_its_test() {
    let dir = scratch("cli-init");
    // The shipped exports and the messy one; cdnow's has no date, so it is given one.
    let exports: [(&str, &[&str], &str); 3] = [
        (
            "examples/customers.csv",
            &[],
            "400 rows read: 400 decided, 0 rejected",
        ),
        (
            "examples/cdnow/customers.csv",
            &["--as-of", "1998-07-01"],
            "2,377 rows read: 2,377 decided, 0 rejected",
        ),
        // The duplicate and the broken row, and nothing else, are rejected.
        (
            "tests/fixtures/messy/accounts.csv",
            &[],
            "9 rows read: 7 decided, 2 rejected",
        ),
    ];
    for (i, (export, options, counts)) in exports.into_iter().enumerate() {
        let rules = dir.join(format!("rules-{i}"));
        let out = idic()
            .args(["init", rules.to_str().unwrap(), "--from", &repo(export)])
            .args(options)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rules = rules.to_str().unwrap();
        let check = idic()
            .args(["check", rules, "--deny-warnings"])
            .output()
            .unwrap();
        assert_eq!(
            check.status.code(),
            Some(0),
            "{export}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        idic().args(["fmt", "--check", rules]).assert().success();
        let test = idic().args(["test", rules]).output().unwrap();
        let said = String::from_utf8_lossy(&test.stdout);
        assert!(
            said.contains("1 test: 1 passed, 0 failed"),
            "{export}: {said}"
        );
        let run = idic()
            .args(["run", rules, "--customers", &repo(export), "--out"])
            .arg(dir.join(format!("decisions-{i}.csv")))
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0));
        let said = String::from_utf8_lossy(&run.stderr);
        assert!(said.contains(counts), "{export}: {said}");
        // A second init into the same directory is refused.
        idic()
            .args(["init", rules, "--from", &repo(export)])
            .args(options)
            .assert()
            .code(2);
    }
    // What the messy export's rules read: its types, formats and words, as a person wrote them.
    let messy = std::fs::read_to_string(dir.join("rules-2/accounts.idic")).unwrap();
    for line in [
        r#"missing "N/A", "-""#,
        r#"signed_up  date      from "Signed Up"  format "%Y-%m-%d", "%m/%d/%Y""#,
        r#"revenue    money     from "Revenue"    currency "$" thousands ","#,
        r#"newsletter bool      from "Newsletter" words "opted in"/"opted out""#,
        r#"last_login datetime? from "Last Login" format "%d.%m.%Y %H:%M %z", "%Y-%m-%d""#,
        "channel  email consent newsletter",
    ] {
        assert!(messy.contains(line), "{line}\n{messy}");
    }
    // The export without a date needs one.
    let out = idic()
        .args(["init", dir.join("no-date").to_str().unwrap(), "--from"])
        .arg(repo("examples/cdnow/customers.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of"));
}

/// Two-digit years (Excel's US short date) are not read as years 25 and 26: `run` reads no
/// such date, so `init` does not type the column as one, and what it writes runs and passes.
#[test]
fn init_leaves_two_digit_years_unread() {
    let dir = scratch("cli-init-two-digit-years");
    let export = dir.join("shop.csv");
    std::fs::write(
        &export,
        "Customer ID,Last Order,Spent\nC1,12/31/25,10\nC2,01/15/26,20\nC3,02/01/26,30\n",
    )
    .unwrap();
    let rules = dir.join("rules");
    succeeded(
        &idic()
            .args(["init", rules.to_str().unwrap(), "--from"])
            .arg(&export)
            .args(["--as-of", "2026-03-01"])
            .output()
            .unwrap(),
    );
    let text = std::fs::read_to_string(rules.join("shop.idic")).unwrap();
    assert!(!text.contains("%Y"), "{text}");
    let rules = rules.to_str().unwrap();
    idic().args(["check", rules]).assert().success();
    idic().args(["test", rules]).assert().success();
}

#[test]
fn init_reads_awkward_headers_and_guesses_safely() {
    let dir = scratch("cli-init-awkward");
    // A header named like an option word, spaces around headers, an opt-out column before the
    // consent, a store id before the customer's, a renewal ahead, and a first row with a bad
    // cell; and a quote in the file name.
    let export = dir.join("we\"ird.csv");
    std::fs::write(
        &export,
        "ID,Key, Joined ,Email Opt Out,Accepts Email,Store ID,Customer ID,Next Renewal,Spent\n\
         1,k,2024-01-02,no,yes,S1,C1,2031-01-01,oops\n\
         2,k2,2024-03-02,yes,no,S1,C2,2031-01-01,20\n\
         3,k3,2024-02-20,no,yes,S2,C3,2030-05-01,30\n\
         4,k4,2024-02-21,no,yes,S2,C4,2030-05-01,40\n\
         5,k5,2024-02-22,no,yes,S2,C5,2030-05-01,50\n",
    )
    .unwrap();
    let rules = dir.join("rules");
    let out = idic()
        .args(["init", rules.to_str().unwrap(), "--from"])
        .arg(&export)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(rules.join("we_ird.idic")).unwrap();
    for wanted in [
        r#"key_field"#,
        r#"from "Joined""#,
        r#"customer_id   string from "Customer ID"   key"#,
        "as_of \"2024-03-02\"",
        "metric recency = days_since(joined)",
        "channel  email consent accepts_email",
    ] {
        assert!(text.contains(wanted), "{wanted}\n{text}");
    }
    let rules = rules.to_str().unwrap();
    idic()
        .args(["check", rules, "--deny-warnings"])
        .assert()
        .success();
    // The test reads row 2, the first that every column reads.
    let tests = std::fs::read_to_string(dir.join("rules/tests.idic")).unwrap();
    assert!(tests.contains("row 2"), "{tests}");
    idic().args(["test", rules]).assert().success();
    // A header given twice is refused: a run reads a column by its name.
    let twice = dir.join("twice.csv");
    std::fs::write(&twice, "id,Name,Name\n1,a,b\n").unwrap();
    let out = idic()
        .args(["init", dir.join("twice").to_str().unwrap(), "--from"])
        .arg(&twice)
        .args(["--as-of", "2026-01-01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("repeats the header `Name`"));
}

#[test]
fn measure_plan_gives_the_two_proportion_sample_size() {
    let plan = |effect: &str| {
        let out = idic()
            .args(["measure", "plan", "--baseline", "5%", "--effect", effect])
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // 5% against 10% needs the textbook 435 per arm (434.4 rounded up); a relative 100% and
    // 5 points are the same effect.
    assert_eq!(plan("100%")["per_arm"], 435);
    assert_eq!(plan("5pt")["per_arm"], 435);
    // By hand: (1.96 sqrt(2 * 0.0525 * 0.9475) + 0.8416 sqrt(0.05 * 0.95 + 0.055 * 0.945))^2
    // / 0.005^2 = 31,233.4.
    assert_eq!(plan("0.5pt")["per_arm"], 31_234);
    let text = idic()
        .args(["measure", "plan", "--baseline", "0.05", "--effect", "10%"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&text.stdout);
    assert!(
        said.contains("needs      31,234 customers in each arm"),
        "{said}"
    );
    // An effect past 100% or no effect at all is refused.
    for (baseline, effect) in [("60%", "100%"), ("5%", "0pt"), ("0%", "10%"), ("5%", "ten")] {
        idic()
            .args([
                "measure",
                "plan",
                "--baseline",
                baseline,
                "--effect",
                effect,
            ])
            .assert()
            .code(2);
    }
}
