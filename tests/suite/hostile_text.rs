//! Text that attacks the tools people read idic's outputs with: formulas in CSV cells, which a
//! spreadsheet would evaluate, and control characters (terminal escape sequences) in exports
//! and rule files, which a terminal would obey. CSV for people is spreadsheet-safe unless
//! `--raw-csv` is given; everything printed for people shows control characters escaped.

use crate::common::{csv_rows, idic, repo, scratch};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The control characters of `text` other than tab and line breaks (what CSV quoting carries).
fn controls_in_cell(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// Panics unless `text`, printed for people, has no control character but line feeds.
fn assert_printable(what: &str, text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| c.is_control() && c != '\n')
        .collect();
    assert!(raw.is_empty(), "{what}: raw {raw:?} in:\n{text}");
}

/// Ids a spreadsheet would take for formulas, or that carry escape sequences: with the cell a
/// spreadsheet-safe CSV writes for each.
const IDS: [(&str, &str); 6] = [
    (
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "'=HYPERLINK(\"http://evil.example\",\"click\")",
    ),
    ("+1", "'+1"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tC4", "'\tC4"),
    ("C\x1b[31m5", "C\\u001b[31m5"),
    ("C6\u{9b}2J", "C6\\u009b2J"),
];

/// The bundled export's first rows with the hostile ids, a first name with an escape sequence
/// (it reaches a parameter), and a row with id `-12` rejected for a cell with escape sequences.
fn hostile_export(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("examples/customers.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let mut rows: Vec<csv::StringRecord> = reader.records().take(7).map(Result::unwrap).collect();
    let set = |row: &mut csv::StringRecord, column: &str, value: &str| {
        let at = header.iter().position(|h| h == column).unwrap();
        let mut cells: Vec<String> = row.iter().map(str::to_string).collect();
        cells[at] = value.to_string();
        *row = csv::StringRecord::from(cells);
    };
    for (row, (id, _)) in rows.iter_mut().zip(IDS) {
        set(row, "Customer ID", id);
    }
    set(&mut rows[0], "First Name", "Ru\x1b[2Jby");
    set(&mut rows[6], "Customer ID", "-12\x1b[2J");
    set(&mut rows[6], "Total Orders", "x\x1b]0;pwned\x07");
    write_export(
        dir,
        header.as_byte_record(),
        rows.iter().map(|r| r.as_byte_record()),
    )
}

/// Writes `header` and `rows` to `customers.csv` in `dir`.
fn write_export<'r>(
    dir: &Path,
    header: &csv::ByteRecord,
    rows: impl IntoIterator<Item = &'r csv::ByteRecord>,
) -> PathBuf {
    let path = dir.join("customers.csv");
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.flush().unwrap();
    path
}

/// `idic run rules/retail` over `export`, decisions to `out` and rejects to `rejects`.
fn run_retail(export: &Path, out: &Path, rejects: &Path, extra: &[&str]) {
    idic()
        .args(["run", "rules/retail", "--customers"])
        .arg(export)
        .arg("--out")
        .arg(out)
        .arg("--rejects")
        .arg(rejects)
        .args(extra)
        .assert()
        .success();
}

#[test]
fn run_writes_spreadsheet_safe_csv_unless_raw_csv_is_asked() {
    let dir = scratch("hostile-run-csv");
    let export = hostile_export(&dir);
    let (out, rejects) = (dir.join("decisions.csv"), dir.join("rejects.csv"));
    run_retail(&export, &out, &rejects, &[]);

    let decisions_text = std::fs::read_to_string(&out).unwrap();
    let rejects_text = std::fs::read_to_string(&rejects).unwrap();
    let decisions = csv_rows(&decisions_text);
    let ids: Vec<&str> = decisions.iter().map(|r| r["id"].as_str()).collect();
    let safe: Vec<&str> = IDS.iter().map(|(_, safe)| *safe).collect();
    assert_eq!(ids, safe);
    // No cell of either file starts a formula or holds a control character besides tabs and
    // line breaks.
    for (name, text) in [("decisions", &decisions_text), ("rejects", &rejects_text)] {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for cell in reader
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{name}: {cell:?}"
            );
            assert!(controls_in_cell(&cell).is_empty(), "{name}: {cell:?}");
        }
    }
    // The parameters stay JSON, with the first name's value unchanged.
    let params: serde_json::Value = serde_json::from_str(&decisions[0]["params"]).unwrap();
    assert_eq!(
        params["winback_lapsed.come_back"]["subject"],
        "We miss you, Ru\x1b[2Jby: 15% off your next order"
    );
    let rejected = csv_rows(&rejects_text);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["id"], "'-12\\u001b[2J");
    // Reasons quote cells with their control characters escaped, whatever the mode.
    assert_eq!(
        rejected[0]["reason"],
        "expected a whole number such as `42`, found `x\\u{1b}]0;pwned\\u{7}`"
    );

    // For programs: every cell as it is.
    run_retail(&export, &out, &rejects, &["--raw-csv"]);
    let decisions = csv_rows(&std::fs::read_to_string(&out).unwrap());
    let ids: Vec<&str> = decisions.iter().map(|r| r["id"].as_str()).collect();
    let raw: Vec<&str> = IDS.iter().map(|(raw, _)| *raw).collect();
    assert_eq!(ids, raw);
    let rejected = csv_rows(&std::fs::read_to_string(&rejects).unwrap());
    assert_eq!(rejected[0]["id"], "-12\x1b[2J");

    // JSONL is not touched.
    let (out, rejects) = (dir.join("decisions.jsonl"), dir.join("rejects.jsonl"));
    run_retail(&export, &out, &rejects, &[]);
    let ids: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, raw);
}

#[test]
fn templates_and_offers_from_a_rule_file_are_defused_too() {
    // Names in a decision (tiers, segments, triggers, actions) are held by `check` to letters,
    // digits and `_`; templates and offers are any text a rule file holds.
    let dir = scratch("hostile-templates");
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    let retail = std::fs::read_to_string(repo().join("rules/retail/retail.idic")).unwrap();
    let hostile = retail
        .replace(
            "\"winback_we_miss_you\"",
            "\"=HYPERLINK(\\\"http://evil.example\\\")\"",
        )
        .replace("\"COMEBACK\"", "\"@SUM(A1)\\u{1b}[2J\"");
    assert_ne!(hostile, retail);
    std::fs::write(rules.join("retail.idic"), hostile).unwrap();
    let out = dir.join("decisions.csv");
    idic()
        .arg("run")
        .arg(&rules)
        .args(["--customers", "examples/customers.csv", "--out"])
        .arg(&out)
        .assert()
        .success();
    let decisions = csv_rows(&std::fs::read_to_string(&out).unwrap());
    let winback = decisions
        .iter()
        .find(|r| r["actions"] == "winback_lapsed.come_back")
        .expect("a customer won back");
    assert_eq!(winback["templates"], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(winback["offers"], "'@SUM(A1)\\u001b[2J");
}

#[test]
fn analyze_writes_spreadsheet_safe_csv_unless_raw_csv_is_asked() {
    let dir = scratch("hostile-analyze-csv");
    let orders = dir.join("orders.csv");
    std::fs::write(
        &orders,
        "customer_id,date,amount\n=1+1,2020-01-01,10\n-5,2020-01-02,20.5\n@x,2020-01-03,30\nC\x1b[2J,2020-01-04,40\n",
    )
    .unwrap();
    let out = dir.join("customers.csv");
    let analyze = |extra: &[&str]| {
        idic()
            .arg("analyze")
            .arg("--orders")
            .arg(&orders)
            .args(["--as-of", "2020-01-31", "--out"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        csv_rows(&std::fs::read_to_string(&out).unwrap())
    };
    let column = |rows: &[std::collections::HashMap<String, String>], name: &str| -> Vec<String> {
        rows.iter().map(|r| r[name].clone()).collect()
    };
    // Rows come sorted by id.
    let rows = analyze(&[]);
    assert_eq!(column(&rows, "id"), ["'-5", "'=1+1", "'@x", "C\\u001b[2J"]);
    // The numbers idic computed stay numbers.
    assert_eq!(column(&rows, "monetary"), ["20.5", "10", "30", "40"]);
    let rows = analyze(&["--raw-csv"]);
    assert_eq!(column(&rows, "id"), ["-5", "=1+1", "@x", "C\x1b[2J"]);
}

/// A rule set whose texts carry terminal escape sequences (ESC, BEL and the C1 CSI), its
/// export, and the same rule set with one error on a line holding an escape sequence.
struct Hostile {
    rules: PathBuf,
    broken: PathBuf,
    export: PathBuf,
}

fn hostile_rules(dir: &Path) -> Hostile {
    let rules = "\
ruleset \"hostile\x1b]0;title\x07\" {
  as_of \"2026-11-01\"
}

customer {
  id    string from \"ID\" key
  name  string from \"Name\x1b[2J\"
  spent money  from \"Spent\"
  tags  list?  from \"Tags\"
}

segment big = spent > 100 && name != \"\x1b[5m\"

tiers {
  gold when big
  rest otherwise
}

test \"a \x1b[31mred\x1b[0m test that fails\" {
  customer {
    id    = \"T\x1b[1\"
    name  = \"N\u{9b}2J\"
    spent = 50.0
  }
  expect {
    tier gold
  }
}
";
    let hostile = Hostile {
        rules: dir.join("hostile.idic"),
        broken: dir.join("broken.idic"),
        export: dir.join("hostile.csv"),
    };
    std::fs::write(&hostile.rules, rules).unwrap();
    std::fs::write(
        &hostile.broken,
        format!("{rules}segment bad = nme == \"\x1b[5m\" && big\n"),
    )
    .unwrap();
    std::fs::write(
        &hostile.export,
        "ID,Name\x1b[2J,Spent,Tags\nC\x1b[31m1,A\x1b[2Jda,120,vip\x1b[5m;x\nC2,Bo,10,\nC3,,50,\nC\u{9b}4,Cy,1\x1b[2J,\n",
    )
    .unwrap();
    hostile
}

impl Hostile {
    /// `idic COMMAND hostile.idic --customers hostile.csv ARGS...`.
    fn on_export(&self, command: &str, args: &[&str]) -> (Option<i32>, String, String) {
        output(
            idic()
                .arg(command)
                .arg(&self.rules)
                .arg("--customers")
                .arg(&self.export)
                .args(args),
        )
    }
}

fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn check_shows_control_characters_of_rule_files_escaped_with_carets_in_place() {
    let dir = scratch("hostile-check");
    let h = hostile_rules(&dir);
    let (code, stdout, _) = output(idic().arg("check").arg(&h.broken));
    assert_eq!(code, Some(1));
    assert_printable("check", &stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let source = lines
        .iter()
        .position(|l| l.ends_with("segment bad = nme == \"\\u{1b}[5m\" && big"))
        .unwrap_or_else(|| panic!("no source line:\n{stdout}"));
    // The carets stand under `nme` in the line as shown.
    let at = lines[source].find("nme").unwrap();
    assert_eq!(lines[source + 1].find('^'), Some(at), "{stdout}");
    assert!(lines[source + 1].ends_with("^^^"), "{stdout}");

    let (_, stdout, _) = output(idic().args(["check", "--format", "plain"]).arg(&h.broken));
    assert_printable("check --format plain", &stdout);
}

#[test]
fn run_explain_and_test_show_control_characters_escaped() {
    let dir = scratch("hostile-print");
    let h = hostile_rules(&dir);

    // Rejects on standard error and the text summary.
    let (code, _, stderr) = h.on_export("run", &["--summary", "-"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_printable("run", &stderr);
    for shown in [
        "rule set  hostile\\u{1b}]0;title\\u{7} (",
        "1 missing-value in `Name\\u{1b}[2J`",
        "rejected line 4 (id `C3`): column `Name\\u{1b}[2J`: the cell is empty",
        "rejected line 5 (id `C\\u{9b}4`): column `Spent`: expected an amount such as `1234.50`, found `1\\u{1b}[2J`",
    ] {
        assert!(stderr.contains(shown), "{shown}:\n{stderr}");
    }
    // With a rejects file, the run stops at the first reject and says it.
    let (code, _, stderr) = h.on_export("run", &["--strict"]);
    assert_eq!(code, Some(1));
    assert_printable("run --strict", &stderr);

    // An explanation: the id, field values (text and lists), conditions.
    let (code, stdout, stderr) = h.on_export("explain", &["--row", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_printable("explain", &stdout);
    for shown in [
        "customer C\\u{1b}[31m1: row 1",
        "\"A\\u{1b}[2Jda\"",
        "vip\\u{1b}[5m, x",
        "name != \"\\u{1b}[5m\"",
    ] {
        assert!(stdout.contains(shown), "{shown}:\n{stdout}");
    }
    // A row `run` rejects: the error names its column.
    let (code, _, stderr) = h.on_export("explain", &["--row", "3"]);
    assert_eq!(code, Some(1));
    assert_printable("explain of a rejected row", &stderr);
    assert!(stderr.contains("column `Name\\u{1b}[2J`"), "{stderr}");

    // A failing test: its name and the values that decided.
    let (code, stdout, _) = output(idic().arg("test").arg(&h.rules));
    assert_eq!(code, Some(1));
    assert_printable("test", &stdout);
    assert!(
        stdout.contains("test a \\u{1b}[31mred\\u{1b}[0m test that fails ... FAILED"),
        "{stdout}"
    );
}

/// Cells that are not UTF-8 reject their row and name their column; bytes that are not UTF-8
/// in a column the rules do not read leave the row alone. A character whose bytes straddle two
/// cells (the row as a whole is UTF-8) is not UTF-8 in either cell.
#[test]
fn cells_that_are_not_utf8_reject_their_row_by_column() {
    let dir = scratch("hostile-not-utf8");
    let text = std::fs::read(repo().join("examples/customers.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_slice());
    let header = reader.byte_headers().unwrap().clone();
    let rows: Vec<csv::ByteRecord> = reader.byte_records().take(4).map(Result::unwrap).collect();
    let at = |column: &str| header.iter().position(|h| h == column.as_bytes()).unwrap();
    let set = |row: &csv::ByteRecord, cells: &[(&str, &[u8])]| {
        let mut out: Vec<Vec<u8>> = row.iter().map(<[u8]>::to_vec).collect();
        for (column, value) in cells {
            out[at(column)] = value.to_vec();
        }
        out
    };
    // The straddling character's halves sit in adjacent cells.
    assert_eq!(at("Last Name"), at("First Name") + 1);
    let rows = [
        set(&rows[0], &[("Last Name", b"M\xfcller")]),
        set(
            &rows[1],
            &[("First Name", b"Ren\xc3"), ("Last Name", b"\xa9e")],
        ),
        set(&rows[2], &[("Notes", b"caf\xe9")]),
        set(&rows[3], &[]),
    ];
    let records: Vec<csv::ByteRecord> = rows.iter().map(|r| r.clone().into()).collect();
    let export = write_export(&dir, &header, &records);

    let (out, rejects) = (dir.join("decisions.csv"), dir.join("rejects.csv"));
    run_retail(&export, &out, &rejects, &[]);
    let decided = csv_rows(&std::fs::read_to_string(&out).unwrap());
    let id = |row: &[Vec<u8>]| String::from_utf8(row[at("Customer ID")].clone()).unwrap();
    let ids: Vec<&str> = decided.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [id(&rows[2]), id(&rows[3])]);
    let rejected = csv_rows(&std::fs::read_to_string(&rejects).unwrap());
    let seen: Vec<(&str, &str, &str)> = rejected
        .iter()
        .map(|r| (r["id"].as_str(), r["column"].as_str(), r["code"].as_str()))
        .collect();
    let (first, second) = (id(&rows[0]), id(&rows[1]));
    assert_eq!(
        seen,
        [
            (first.as_str(), "Last Name", "not-utf8"),
            (second.as_str(), "First Name", "not-utf8")
        ]
    );
    assert!(
        rejected[1]["reason"].contains("Last Name"),
        "{:?}",
        rejected[1]
    );
}
