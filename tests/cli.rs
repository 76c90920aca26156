//! The command line as a user meets it: exit codes, output formats, `fmt` and `convert`.

use assert_cmd::Command;
use std::path::Path;

fn idic() -> Command {
    Command::cargo_bin("idic").unwrap()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("idic-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    let dir = temp_dir("exit");
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
fn json_output_has_one_object_per_diagnostic_with_positions() {
    let dir = temp_dir("json");
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
    let dir = temp_dir("fmt");
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
    let dir = temp_dir("fmt-broken");
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
    let dir = temp_dir("convert");
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
fn convert_refuses_what_the_other_format_cannot_say() {
    let dir = temp_dir("convert-refuse");
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
