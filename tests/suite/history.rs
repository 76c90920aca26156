//! The treatment policy over runs and over the whole export: the contact history (`idic run
//! --history`) with cooldowns, re-entry and caps over several nights, a run recorded once and
//! atomically, dry runs, one run at a time, the same history for any number of threads, and
//! volume limits ranked over every customer.

use crate::common::{idic, repo, scratch, stdout_of};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Every customer is eligible for `nudge` (email, cooldown 30 days) and the service trigger
/// `care` (a call, again 2 days after the last); VIPs for `once` (SMS, never again).
const RULES: &str = r#"ruleset "memory" {
  as_of "2026-11-01"
}
customer {
  id    string from "Id" key
  email bool   from "Email"
  sms   bool   from "Sms"
  vip   bool   from "Vip"
}
trigger care {
  activity dissatisfaction
  service  "a reply to the customer's complaint"
  when     true
  channel  call
  priority 30
  reentry  after 2d
  action call_back template "care"
}
trigger once {
  activity welcome
  when     vip
  channel  sms consent sms
  priority 20
  reentry  never
  action vip_welcome template "vip"
}
trigger nudge {
  activity retention
  when     true
  channel  email consent email
  priority 10
  cooldown 30d
  action reminder template "nudge" offer "TEN"
}
"#;

/// `idic COMMAND RULES --customers EXPORT` on `s`'s rules and export.
fn on_export(s: &Setup, command: &str) -> assert_cmd::Command {
    let mut cmd = idic();
    cmd.arg(command)
        .arg(&s.rules)
        .arg("--customers")
        .arg(&s.export);
    cmd
}

struct Setup {
    dir: PathBuf,
    rules: PathBuf,
    export: PathBuf,
}

/// The rules and an export of `n` customers: every one has email consent, every third SMS
/// consent and is a VIP.
fn setup(name: &str, n: usize) -> Setup {
    let dir = scratch(name);
    let rules = dir.join("memory.idic");
    std::fs::write(&rules, RULES).unwrap();
    let export = dir.join("customers.csv");
    let mut text = String::from("Id,Email,Sms,Vip\n");
    for i in 0..n {
        let third = if i % 3 == 0 { "yes" } else { "no" };
        text.push_str(&format!("C{i:07},yes,{third},{third}\n"));
    }
    std::fs::write(&export, text).unwrap();
    Setup { dir, rules, export }
}

/// Runs the rules as of `as_of` with the history at `history`; gives the decisions (JSONL) and
/// standard error.
fn run(s: &Setup, history: &Path, as_of: &str, extra: &[&str]) -> (String, String) {
    let out = on_export(s, "run")
        .arg("--history")
        .arg(history)
        .args(["--as-of", as_of, "--quiet"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Per customer, the triggers that fired and those suppressed with their reasons.
fn outcomes(decisions: &str) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    decisions
        .lines()
        .map(|line| {
            let d: serde_json::Value = serde_json::from_str(line).unwrap();
            let names = |v: &serde_json::Value| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|t| match t.as_str() {
                        Some(name) => name.to_string(),
                        None => format!("{}={}", t["trigger"].as_str().unwrap(), t["reason"]),
                    })
                    .collect::<Vec<_>>()
            };
            (
                d["id"].as_str().unwrap().to_string(),
                (names(&d["triggers"]), names(&d["suppressed"])),
            )
        })
        .collect()
}

/// The history's content, as ordinary SQL reads it: every run (all but the wall-clock time
/// of recording) and every contact, in the order recorded.
fn dump(history: &Path) -> Vec<String> {
    let db =
        rusqlite::Connection::open_with_flags(history, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut rows = Vec::new();
    for sql in [
        "SELECT run, kind, key, as_of, ruleset, ruleset_hash, input, input_hash, contacts FROM runs ORDER BY run",
        "SELECT contact, run, date, customer, trigger, action, channel, activity, service, arm, tier, stage, segments FROM contacts ORDER BY contact",
    ] {
        let mut statement = db.prepare(sql).unwrap();
        let columns = statement.column_count();
        let mut result = statement.query([]).unwrap();
        while let Some(row) = result.next().unwrap() {
            let cells: Vec<String> = (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}

#[test]
fn three_nights_cooldown_and_reentry_hold_and_every_contact_is_recorded_once() {
    let s = setup("history-nights", 30);
    let history = s.dir.join("state/");
    let (night1, said) = run(&s, &history, "2026-11-01", &[]);
    assert!(
        said.contains("read 0 earlier contacts; recorded 70 contacts as run 1"),
        "{said}"
    );
    let (night2, said) = run(&s, &history, "2026-11-02", &[]);
    assert!(
        said.contains("read 70 earlier contacts; recorded 0 contacts as run 2"),
        "{said}"
    );
    let (night3, said) = run(&s, &history, "2026-11-03", &[]);
    assert!(
        said.contains("read 70 earlier contacts; recorded 30 contacts as run 3"),
        "{said}"
    );
    let (one, two, three) = (outcomes(&night1), outcomes(&night2), outcomes(&night3));
    for (id, (fired, suppressed)) in &one {
        let vip = id[1..].parse::<usize>().unwrap() % 3 == 0;
        let mut expected = vec!["care".to_string()];
        if vip {
            expected.push("once".to_string());
        }
        expected.push("nudge".to_string());
        assert_eq!(fired, &expected, "{id} night 1");
        assert!(suppressed.is_empty());
        // Night 2: the call may come again only after 2 days, the VIP welcome never, the
        // nudge not within 30 days.
        let mut held = vec!["care=\"reentry\"".to_string()];
        if vip {
            held.push("once=\"reentry\"".to_string());
        }
        held.push("nudge=\"cooldown\"".to_string());
        assert_eq!(two[id], (Vec::new(), held.clone()), "{id} night 2");
        // Night 3: two days after the first call, the next one.
        held.remove(0);
        assert_eq!(three[id], (vec!["care".to_string()], held), "{id} night 3");
    }
    let rows = dump(&history.join("history.sqlite"));
    let contacts: Vec<&String> = rows.iter().filter(|r| r.contains("|C00")).collect();
    assert_eq!(contacts.len(), 100);
    // Each contact says what measuring it needs: run, date, customer, trigger, action,
    // channel, activity, service, arm (no tier, stage or segment in these rules).
    for contact in [
        "|1|2026-11-01|C0000003|once|vip_welcome|sms|welcome|0|treated|NULL|NULL|NULL",
        "|1|2026-11-01|C0000004|nudge|reminder|email|retention|0|treated|NULL|NULL|NULL",
        "|3|2026-11-03|C0000004|care|call_back|call|dissatisfaction|1|treated|NULL|NULL|NULL",
    ] {
        assert!(
            rows.iter().any(|r| r.ends_with(contact)),
            "{contact}\n{rows:#?}"
        );
    }
}

#[test]
fn a_run_recorded_twice_is_recorded_once_and_decides_the_same() {
    let s = setup("history-twice", 12);
    let history = s.dir.join("h.sqlite");
    let (first, _) = run(&s, &history, "2026-11-01", &[]);
    let before = dump(&history);
    let (again, said) = run(&s, &history, "2026-11-01", &[]);
    assert!(
        said.contains("this run (the same rules, export and as_of) was recorded as run 1 at 20"),
        "{said}"
    );
    assert!(said.contains("recorded nothing again"), "{said}");
    // Its own contacts do not stop it: the same decisions.
    assert_eq!(first, again);
    assert_eq!(dump(&history), before);
    // Another as_of is another run.
    let (_, said) = run(&s, &history, "2026-11-05", &[]);
    assert!(said.contains("as run 2"), "{said}");
}

#[test]
fn a_dry_run_reads_the_history_and_records_nothing() {
    let s = setup("history-dry", 12);
    let history = s.dir.join("h.sqlite");
    // No history yet: nothing is created.
    let (_, said) = run(&s, &history, "2026-11-01", &["--dry-run"]);
    assert!(said.contains("a dry run: recorded nothing"), "{said}");
    assert!(!history.exists());
    run(&s, &history, "2026-11-01", &[]);
    let bytes = std::fs::read(&history).unwrap();
    let (decisions, said) = run(&s, &history, "2026-11-02", &["--dry-run"]);
    assert!(said.contains("read 28 earlier contacts"), "{said}");
    assert!(decisions.contains("\"reason\":\"cooldown\""));
    assert_eq!(std::fs::read(&history).unwrap(), bytes);
}

#[test]
fn decisions_and_history_are_the_same_for_any_number_of_threads() {
    let s = setup("history-threads", 3000);
    let mut seen: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for threads in ["1", "2", "4"] {
        let history = s.dir.join(format!("h{threads}.sqlite"));
        let mut decisions = Vec::new();
        for night in ["2026-11-01", "2026-11-02", "2026-11-03", "2026-12-05"] {
            let (d, _) = run(&s, &history, night, &["--threads", threads]);
            decisions.push(d);
        }
        seen.push((decisions, dump(&history)));
    }
    assert!(seen[0].1.len() > 9000, "{}", seen[0].1.len());
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
}

#[test]
fn a_second_run_on_a_history_in_use_is_refused_and_changes_nothing() {
    let s = setup("history-busy", 5);
    let history = s.dir.join("h.sqlite");
    run(&s, &history, "2026-11-01", &[]);
    let before = dump(&history);
    let held = idic::history::Store::lock(&history).unwrap();
    let out = on_export(&s, "run")
        .arg("--history")
        .arg(&history)
        .args(["--as-of", "2026-11-02", "--out"])
        .arg(s.dir.join("out.jsonl"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is in use by another run; nothing was run"),
        "{stderr}"
    );
    assert!(!s.dir.join("out.jsonl").exists());
    drop(held);
    assert_eq!(dump(&history), before);
}

#[test]
fn a_file_that_is_not_a_history_is_refused_untouched() {
    let s = setup("history-not", 5);
    let other = s.dir.join("notes.csv");
    std::fs::write(&other, "a,b\n1,2\n").unwrap();
    let out = on_export(&s, "run")
        .arg("--history")
        .arg(&other)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`") && stderr.contains("is not a contact history"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&other).unwrap(), b"a,b\n1,2\n");
    // Nor can the history be the export.
    let out = on_export(&s, "run")
        .arg("--history")
        .arg(&s.export)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the same file as"));
}

/// kill -9 at random moments of a run leaves the history exactly as before the run or
/// exactly as after it, and the next run goes on from there.
#[test]
fn a_run_killed_at_any_moment_leaves_the_history_before_or_after() {
    let s = setup("history-kill", 40_000);
    let history = s.dir.join("h.sqlite");
    let out = s.dir.join("out.jsonl");
    let command = |as_of: &str| {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("idic"));
        c.arg("run")
            .arg(&s.rules)
            .arg("--customers")
            .arg(&s.export)
            .arg("--history")
            .arg(&history)
            .args(["--as-of", as_of, "--quiet", "--out"])
            .arg(&out)
            .stderr(std::process::Stdio::null());
        c
    };
    assert!(command("2026-11-01").status().unwrap().success());
    let before = dump(&history);
    let copy = s.dir.join("copy.sqlite");
    std::fs::copy(&history, &copy).unwrap();
    // How long a whole run takes, and the history after one.
    let started = Instant::now();
    assert!(command("2026-11-03").status().unwrap().success());
    let whole = started.elapsed();
    let after = dump(&history);
    assert_ne!(before, after);

    let mut rng = rand_pcg::Pcg64::seed_from_u64(12);
    let mut before_seen = 0;
    for kill in 0..12 {
        std::fs::copy(&copy, &history).unwrap();
        let _ = std::fs::remove_file(history.with_extension("sqlite-wal"));
        let _ = std::fs::remove_file(history.with_extension("sqlite-shm"));
        let mut child = command("2026-11-03").spawn().unwrap();
        // Anywhere from the start to a little after a whole run.
        let at = whole.mul_f64(rng.random_range(0.0..1.2));
        std::thread::sleep(at);
        let _ = child.kill();
        child.wait().unwrap();
        let now = dump(&history);
        if now == before {
            before_seen += 1;
        } else {
            assert_eq!(now, after, "kill {kill} at {at:?} left a third state");
        }
        // The next run is not stuck behind the killed one.
        assert!(command("2026-11-03").status().unwrap().success());
        assert_eq!(dump(&history), after, "kill {kill}: the run after");
    }
    assert!(before_seen > 0, "no kill landed before the commit");
}

/// `idic history SUB HISTORY`.
fn history_cmd(sub: &str, history: &Path) -> assert_cmd::Command {
    let mut cmd = idic();
    cmd.args(["history", sub]).arg(history);
    cmd
}

/// `idic history import HISTORY LOG --rules` with `s`'s rules: the exit code and what it said.
fn history_import(s: &Setup, history: &Path, log: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = history_cmd("import", history)
        .arg(log)
        .arg("--rules")
        .arg(&s.rules)
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

/// `idic explain --format json --history` for customer `id` as of `as_of`.
fn explain_json(s: &Setup, history: &Path, id: &str, as_of: &str) -> serde_json::Value {
    let out = stdout_of(
        on_export(s, "explain")
            .args([
                "--id",
                id,
                "--as-of",
                as_of,
                "--format",
                "json",
                "--history",
            ])
            .arg(history),
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn explain_shows_the_contacts_read_and_the_step_that_stopped_each_trigger() {
    let s = setup("history-explain", 6);
    let history = s.dir.join("state/");
    run(&s, &history, "2026-11-01", &[]);
    let out = on_export(&s, "explain")
        .args(["--id", "C0000003", "--as-of", "2026-11-02", "--history"])
        .arg(&history)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    for line in [
        "  suppressed  care (reentry), once (reentry), nudge (cooldown)",
        "  history     3 earlier contacts read",
        "              2026-11-01 (1 day before): once on sms, treated",
        "suppressed (reentry): it enters again 2 days after the last entry; last entered 2026-11-01",
        "suppressed (reentry): it enters once; last entered 2026-11-01",
        "suppressed (cooldown): it enters any time, cooldown 30 days after the last contact; last contacted 2026-11-01",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    // The same as JSON, and the decision as `idic run` writes it.
    let json = explain_json(&s, &history, "C0000003", "2026-11-02");
    let e = &json;
    assert_eq!(e["history"].as_array().unwrap().len(), 3);
    assert_eq!(e["history"][0]["days_ago"], 1);
    let nudge = e["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "nudge")
        .unwrap();
    assert_eq!(nudge["reason"], "cooldown");
    assert_eq!(nudge["last_contact"], "2026-11-01");
    let (decisions, _) = run(&s, &history, "2026-11-02", &["--dry-run"]);
    let line = decisions.lines().find(|l| l.contains("C0000003")).unwrap();
    assert_eq!(
        e["decision"],
        serde_json::from_str::<serde_json::Value>(line).unwrap()
    );
}

#[test]
fn history_show_stats_and_export_read_what_was_recorded() {
    let s = setup("history-commands", 30);
    let history = s.dir.join("state/");
    for night in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        run(&s, &history, night, &[]);
    }
    let output = |args: &[&str]| {
        let out = history_cmd(args[0], &history)
            .args(&args[1..])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let shown = output(&["show", "C0000003"]);
    assert!(
        shown.starts_with("customer C0000003: 4 contacts in `"),
        "{shown}"
    );
    assert!(
        shown.contains("2026-11-01  run 1  once   vip_welcome on sms, treated\n"),
        "{shown}"
    );
    assert!(
        shown.contains("2026-11-03  run 3  care   call_back on call, treated, a service message\n"),
        "{shown}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&output(&["stats", "--format", "json"])).unwrap();
    assert_eq!(stats["runs"], 3);
    assert_eq!(stats["contacts"], 100);
    assert_eq!(
        stats["by_day"],
        serde_json::json!([
            {"date": "2026-11-01", "contacts": 70},
            {"date": "2026-11-03", "contacts": 30}
        ])
    );
    let care = stats["by_trigger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trigger"] == "care")
        .unwrap();
    assert_eq!(care["contacts"], 60);
    // The export holds every contact, in the order recorded, as the database has them.
    let csv = output(&["export"]);
    let rows = crate::common::csv_rows(&csv);
    assert_eq!(rows.len(), 100);
    let dumped: Vec<String> = dump(&history.join("history.sqlite"))
        .into_iter()
        .filter(|r| r.contains("|C00"))
        .collect();
    for (row, db) in rows.iter().zip(&dumped) {
        assert!(
            db.contains(&format!(
                "|{}|{}|{}|",
                row["date"], row["customer"], row["trigger"]
            )),
            "{db} {row:?}"
        );
    }
    let jsonl = output(&["export", "--out-format", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 100);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["run"], 1);
    assert_eq!(first["arm"], "treated");
    // An export never replaces the history.
    let out = history_cmd("export", &history)
        .arg("--out")
        .arg(history.join("history.sqlite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writing it would destroy it"));
    // Nor SQLite's log beside it.
    let out = history_cmd("export", &history)
        .arg("--out")
        .arg(history.join("history.sqlite-wal"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_triggers_control_arm_is_recorded_and_never_contacted() {
    let s = setup("history-control", 300);
    // The nudge holds 30% of its customers back as a control group, once per 30 days.
    let rules = RULES.replace(
        "  cooldown 30d\n  action reminder",
        "  cooldown 30d\n  reentry  after 30d\n  holdout  30% salt \"nudge-2026\"\n  action reminder",
    );
    assert_ne!(rules, RULES);
    std::fs::write(&s.rules, rules).unwrap();
    let history = s.dir.join("h.sqlite");
    let (night1, _) = run(&s, &history, "2026-11-01", &[]);
    let mut controls = Vec::new();
    for line in night1.lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = d["id"].as_str().unwrap().to_string();
        let held = idic::plan::holdout_bucket("nudge-2026", &id) < 3000;
        let arm = &d["arms"]["nudge"];
        let contacted = d["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["trigger"] == "nudge");
        if held {
            assert_eq!(arm, "control", "{line}");
            assert!(!contacted, "{line}");
            assert!(
                line.contains(r#"{"trigger":"nudge","reason":"holdout:nudge"}"#),
                "{line}"
            );
            controls.push(id);
        } else {
            assert_eq!(arm, "treated", "{line}");
            assert!(contacted, "{line}");
        }
    }
    assert!((60..=120).contains(&controls.len()), "{}", controls.len());
    // Recorded as controls, never with an action sent.
    let rows = dump(&history);
    for id in &controls {
        let row = rows
            .iter()
            .find(|r| r.contains(&format!("|{id}|nudge|")))
            .unwrap();
        assert!(row.contains("|control|"), "{row}");
    }
    // The next night, treated and controls alike wait out the re-entry: nothing new.
    let (night2, said) = run(&s, &history, "2026-11-02", &[]);
    assert!(said.contains("recorded 0 contacts"), "{said}");
    assert!(!night2.contains("\"nudge\":\"control\""));
}

#[test]
fn the_do_not_contact_list_keeps_every_trigger_out_service_ones_included() {
    let s = setup("history-dnc", 6);
    let list = s.dir.join("dnc.csv");
    // C0000000 off every channel, C0000003 off calls only; C0000004 named twice.
    std::fs::write(
        &list,
        "Customer,Channel\nC0000000,\nC0000003,call\nC0000004,sms\nC0000004,push\n",
    )
    .unwrap();
    let history = s.dir.join("h.sqlite");
    let (decisions, _) = run(
        &s,
        &history,
        "2026-11-01",
        &["--suppress", list.to_str().unwrap()],
    );
    let o = outcomes(&decisions);
    let reason = |t: &str| format!("{t}=\"suppressed_list\"");
    assert_eq!(
        o["C0000000"],
        (
            Vec::new(),
            vec![reason("care"), reason("once"), reason("nudge")]
        )
    );
    assert_eq!(
        o["C0000003"],
        (
            vec!["once".to_string(), "nudge".to_string()],
            vec![reason("care")]
        )
    );
    assert_eq!(o["C0000004"].0, ["care", "nudge"]);
    // Nothing is recorded for the customers kept out.
    let rows = dump(&history);
    assert!(!rows.iter().any(|r| r.contains("|C0000000|")));
    // explain says why.
    let out = on_export(&s, "explain")
        .args(["--id", "C0000003", "--suppress"])
        .arg(&list)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("suppressed by the do-not-contact list: the customer is on it for call"),
        "{text}"
    );
    // A typo in the list stops the run before anything is written: no message slips through.
    std::fs::write(&list, "id,channel\nC0000001,emial\n").unwrap();
    let out = on_export(&s, "run")
        .arg("--suppress")
        .arg(&list)
        .arg("--out")
        .arg(s.dir.join("never.jsonl"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 2: unknown channel `emial`"),
        "{stderr}"
    );
    assert!(!s.dir.join("never.jsonl").exists());
}

#[test]
fn a_recorded_run_decides_again_as_it_did_and_explain_agrees_with_it() {
    let s = setup("history-again", 12);
    let history = s.dir.join("h.sqlite");
    run(&s, &history, "2026-11-01", &[]);
    let (first, _) = run(&s, &history, "2026-11-05", &[]);
    // A run dated before it and recorded after it (the call again on 4 November, 3 days after
    // the first) does not change it when it runs again.
    let (_, said) = run(&s, &history, "2026-11-04", &[]);
    assert!(said.contains("recorded 12 contacts as run 3"), "{said}");
    let (again, said) = run(&s, &history, "2026-11-05", &[]);
    assert!(said.contains("recorded nothing again"), "{said}");
    assert_eq!(first, again);
    // explain reads the history as that run read it: the same decision, byte for byte.
    let json = explain_json(&s, &history, "C0000003", "2026-11-05");
    let line = first.lines().find(|l| l.contains("C0000003")).unwrap();
    assert_eq!(
        json["decision"],
        serde_json::from_str::<serde_json::Value>(line).unwrap()
    );
    // A do-not-contact list makes another run: without it, the same night records.
    let list = s.dir.join("dnc.csv");
    std::fs::write(&list, "id\nC0000001\n").unwrap();
    let (_, said) = run(
        &s,
        &history,
        "2026-11-09",
        &["--suppress", list.to_str().unwrap()],
    );
    assert!(said.contains("as run 4"), "{said}");
    let (_, said) = run(&s, &history, "2026-11-09", &[]);
    assert!(said.contains("as run 5"), "{said}");
}

/// Three marketing emails and a service email every night for everyone, at most two marketing
/// emails in any 3 days.
const CAPPED: &str = r#"ruleset "capped" {
  as_of "2026-11-01"
  cap   email 2 per 3d
}
customer {
  id    string from "Id" key
  email bool   from "Email"
  sms   bool   from "Sms"
  vip   bool   from "Vip"
}
trigger first {
  activity retention
  when     true
  channel  email consent email
  priority 30
  action a template "a"
}
trigger second {
  activity value_development
  when     true
  channel  email consent email
  priority 20
  action b template "b"
}
trigger third {
  activity winback
  when     true
  channel  email consent email
  priority 10
  action c template "c"
}
trigger receipt {
  activity dissatisfaction
  service  "the refund the customer asked for"
  when     true
  channel  email
  priority 0
  action r template "r"
}
"#;

#[test]
fn a_cap_holds_over_its_rolling_window_across_nights() {
    let s = setup("history-caps", 12);
    std::fs::write(&s.rules, CAPPED).unwrap();
    let history = s.dir.join("state.sqlite");
    let capped = |t: &str| format!("{t}=\"cap:email:3d\"");
    let nights = [
        // Two emails fit; the third is over the cap; the service email is never capped.
        (
            "2026-11-01",
            vec!["first", "second", "receipt"],
            vec![capped("third")],
        ),
        // The two emails of the night before fill the window.
        (
            "2026-11-02",
            vec!["receipt"],
            vec![capped("first"), capped("second"), capped("third")],
        ),
        (
            "2026-11-03",
            vec!["receipt"],
            vec![capped("first"), capped("second"), capped("third")],
        ),
        // Three days on, the first night's emails are out of the window.
        (
            "2026-11-04",
            vec!["first", "second", "receipt"],
            vec![capped("third")],
        ),
    ];
    for (as_of, fired, suppressed) in nights {
        let (decisions, _) = run(&s, &history, as_of, &[]);
        let all = outcomes(&decisions);
        assert_eq!(all.len(), 12);
        for (id, outcome) in all {
            let want: Vec<String> = fired.iter().map(|t| t.to_string()).collect();
            assert_eq!(outcome, (want, suppressed.clone()), "{id} on {as_of}");
        }
    }
}

/// A call centre that makes 40 calls a run, to the customers who spent most; the others get
/// a mail.
const VOLUME: &str = r#"ruleset "calls" {
  as_of "2026-11-01"
  max_triggers 1
}
customer {
  id    string from "Id" key
  spent int    from "Spent"
  ok    bool   from "OK"
}
trigger call {
  activity retention
  when     spent >= 10
  channel  call consent ok
  priority 10
  volume   40 by spent
  action ring template "call"
}
trigger mail {
  activity retention
  when     true
  channel  email consent ok
  priority 1
  action letter template "mail"
}
"#;

#[test]
fn a_volume_keeps_the_best_ranked_whatever_the_row_order_or_threads() {
    let s = setup("volume", 0);
    std::fs::write(&s.rules, VOLUME).unwrap();
    // 600 customers, spending 0 to 99: many share a rank, so the hash decides among them.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    let mut rows: Vec<(String, u32)> = (0..600)
        .map(|i| (format!("C{i:04}"), rng.random_range(0..100)))
        .collect();
    let write = |rows: &[(String, u32)]| {
        let text: String = std::iter::once("Id,Spent,OK\n".to_string())
            .chain(rows.iter().map(|(id, spent)| format!("{id},{spent},yes\n")))
            .collect();
        std::fs::write(&s.export, text).unwrap();
    };
    let decide =
        |threads: &str| stdout_of(on_export(&s, "run").args(["--threads", threads, "--quiet"]));
    write(&rows);
    let decisions = decide("1");
    assert_eq!(decide("2"), decisions, "2 threads");
    let all = outcomes(&decisions);
    let called: BTreeMap<String, u32> = rows
        .iter()
        .filter(|(id, _)| all[id].0 == ["call"])
        .map(|(id, spent)| (id.clone(), *spent))
        .collect();
    assert_eq!(called.len(), 40);
    // The customers ranked below the last one called are not called (`volume`): the mail
    // takes the place.
    let lowest = *called.values().min().unwrap();
    for (id, spent) in &rows {
        let (fired, suppressed) = &all[id];
        if called.contains_key(id) {
            continue;
        }
        if *spent >= 10 {
            assert_eq!(suppressed, &["call=\"volume\"".to_string()], "{id}");
            assert!(*spent <= lowest, "{id} spent {spent}, more than {lowest}");
        }
        assert_eq!(fired, &["mail".to_string()], "{id}");
    }
    // The same customers are called from the rows in another order, on 3 threads.
    rows.reverse();
    write(&rows);
    let reordered = outcomes(&decide("3"));
    for (id, outcome) in &all {
        assert_eq!(&reordered[id], outcome, "{id}");
    }
    // `explain` ranks the export as the run does.
    let explain = |id: &str| {
        let out = stdout_of(on_export(&s, "explain").args(["--id", id, "--format", "json"]));
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let kept = called.keys().next().unwrap();
    assert_eq!(
        explain(kept)["decision"]["triggers"],
        serde_json::json!(["call"])
    );
    let cut = rows
        .iter()
        .find(|(id, spent)| *spent >= 10 && !called.contains_key(id))
        .unwrap();
    let e = explain(&cut.0);
    let call = &e["triggers"][0];
    assert_eq!(call["reason"], "volume", "{e:#}");
    assert_eq!(
        call["arbitration"],
        "its 40 contacts of the run went to customers ranked higher"
    );
}

/// The `memory` rules with a mapping for a send log: who, when (a date-time), which campaign;
/// every contact of the log went out by email.
fn with_contacts_block(s: &Setup) {
    let rules = RULES.replace(
        "trigger care {",
        r#"contacts {
  customer from "Recipient"
  date     from "Sent At" format "%d/%m/%Y %H:%M"
  trigger  from "Campaign"
  channel  email
}
trigger care {"#,
    );
    std::fs::write(&s.rules, rules).unwrap();
}

#[test]
fn an_imported_send_log_counts_for_cooldowns_with_its_rejects_named() {
    let s = setup("history-import", 3);
    with_contacts_block(&s);
    let log = s.dir.join("sendlog.csv");
    std::fs::write(
        &log,
        "Recipient,Sent At,Campaign\n\
         C0000001,20/10/2026 09:30,nudge\n\
         C0000002,21/10/2026 11:00,newsletter\n\
         ,21/10/2026 11:00,nudge\n\
         C0000000,31/02/2026 10:00,nudge\n",
    )
    .unwrap();
    let history = s.dir.join("state.sqlite");
    let import = |extra: &[&str]| history_import(&s, &history, &log, extra);
    // With --strict, a reject imports nothing.
    let (code, said) = import(&["--strict"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("2 of 4 rows"), "{said}");
    assert!(
        !history.exists(),
        "an import that imports nothing creates no history"
    );
    let (code, said) = import(&[]);
    assert_eq!(code, Some(0), "{said}");
    // Each reject with its line, its column and why.
    assert!(
        said.contains("sendlog.csv:4 `Recipient`: no customer id"),
        "{said}"
    );
    assert!(
        said.contains("sendlog.csv:5 `Sent At`: expected a date-time")
            && said.contains("31/02/2026"),
        "{said}"
    );
    assert!(said.contains("imported 2 contacts"), "{said}");
    assert!(said.contains("as run 1; 2 rows rejected"), "{said}");
    // Imported before, even after an edit of the rules elsewhere than the mapping.
    let mut rules = std::fs::read_to_string(&s.rules).unwrap();
    rules.push_str("// a comment added later\n");
    std::fs::write(&s.rules, rules).unwrap();
    let (code, said) = import(&[]);
    assert_eq!(code, Some(0));
    assert!(
        said.contains("imported into") && said.contains("before, as run 1"),
        "{said}"
    );
    // The imported nudge of 20 October holds the nudge back on 1 November (30-day cooldown);
    // a campaign the rules do not have holds nothing back.
    let (decisions, said) = run(&s, &history, "2026-11-01", &[]);
    assert!(said.contains("read 2 earlier contacts"), "{said}");
    let all = outcomes(&decisions);
    assert_eq!(all["C0000001"].1, ["nudge=\"cooldown\""]);
    assert!(all["C0000002"].0.contains(&"nudge".to_string()));
    let rows = dump(&history);
    assert!(
        rows.iter()
            .any(|r| r.contains("|import|") && r.contains("sendlog.csv")),
        "{rows:#?}"
    );
    assert!(
        rows.iter().any(|r| r.ends_with(
            "|1|2026-10-20|C0000001|nudge|NULL|email|retention|0|treated|NULL|NULL|NULL"
        )),
        "{rows:#?}"
    );
}

#[test]
fn an_import_without_a_mapping_or_a_mapped_column_says_what_to_do() {
    let s = setup("history-import-bad", 1);
    let log = s.dir.join("calls.csv");
    std::fs::write(&log, "Who,When\nC0000000,2026-10-01\n").unwrap();
    let import = || history_import(&s, &s.dir.join("state"), &log, &[]);
    let (code, said) = import();
    assert_eq!(code, Some(2));
    assert!(said.contains("has no `contacts` block"), "{said}");
    with_contacts_block(&s);
    let (code, said) = import();
    assert_eq!(code, Some(2));
    assert!(
        said.contains("the log has no column `Recipient`") && said.contains("`Who`, `When`"),
        "{said}"
    );
}

#[test]
fn compaction_keeps_what_the_policy_reads_and_decisions_do_not_change() {
    let s = setup("history-compact", 30);
    let history = s.dir.join("state.sqlite");
    for night in 1..=5 {
        run(&s, &history, &format!("2026-11-0{night}"), &[]);
    }
    let before = run(&s, &history, "2026-11-06", &["--dry-run"]).0;
    let rows = dump(&history).len();
    // A rule set whose caps would count too few is named, and nothing is compacted.
    let retail = repo().join("rules/retail");
    let out = history_cmd("compact", &history)
        .args(["--keep", "1d", "--as-of", "2026-11-05", "--rules"])
        .arg(&retail)
        .output()
        .unwrap();
    let said = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("`--keep 1d` is shorter than the cap `sms 1 per 14d` of `")
            && said.contains("keep at least 14d; nothing compacted"),
        "{said}"
    );
    assert_eq!(dump(&history).len(), rows);
    let out = history_cmd("compact", &history)
        .args(["--keep", "1d", "--as-of", "2026-11-05", "--rules"])
        .arg(&s.rules)
        .output()
        .unwrap();
    let said = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{said}");
    // The calls of 1 November are older than the kept day and repeated on 3 November.
    assert!(
        said.contains("dated before 2026-11-04, removed 30 and kept"),
        "{said}"
    );
    assert_eq!(dump(&history).len(), rows - 30);
    assert_eq!(run(&s, &history, "2026-11-06", &["--dry-run"]).0, before);
}

#[test]
fn a_customer_cut_by_one_volume_is_ranked_for_the_next() {
    let s = setup("volume-chain", 0);
    let rules = r#"ruleset "v" {
  as_of        "2026-11-01"
  max_triggers 1
}
customer {
  id    string from "Id" key
  score int    from "Score"
  ok    bool   from "OK"
}
trigger first {
  activity retention
  when     score >= 0
  channel  email consent ok
  priority 9
  volume   1 by score
  action a template "a"
}
trigger second {
  activity retention
  when     score >= 0
  channel  sms consent ok
  priority 5
  volume   3 by score;
  action b template "b"
}
"#;
    std::fs::write(&s.rules, rules).unwrap();
    std::fs::write(
        &s.export,
        "Id,Score,OK\nA,5,yes\nB,3,yes\nC,9,yes\nD,1,yes\nE,7,yes\n",
    )
    .unwrap();
    let all = outcomes(&stdout_of(on_export(&s, "run").arg("--quiet")));
    // `first` takes the best (C); of the others, `second` takes its 3 best: E, A, B.
    let fired = |id: &str| all[id].0.clone();
    assert_eq!(fired("C"), ["first"]);
    for id in ["E", "A", "B"] {
        assert_eq!(fired(id), ["second"], "{id}");
    }
    assert!(fired("D").is_empty());
    assert_eq!(all["D"].1, ["first=\"volume\"", "second=\"volume\""]);
}

#[test]
fn two_volumes_of_one_priority_each_fill_their_places() {
    let s = setup("volume-tie", 0);
    let rules = r#"ruleset "v" {
  as_of "2026-11-01"
}
customer {
  id    string from "Id" key
  score int    from "Score"
  ok    bool   from "OK"
}
trigger high {
  activity retention
  when     score >= 0
  channel  email consent ok
  volume   3 by score
  action a template "a"
}
trigger low {
  activity retention
  when     score >= 0
  channel  sms consent ok
  volume   3 by 100 - score
  action b template "b"
}
"#;
    std::fs::write(&s.rules, rules).unwrap();
    let rows: String = (1..=20).map(|i| format!("C{i:02},{i},yes\n")).collect();
    std::fs::write(&s.export, format!("Id,Score,OK\n{rows}")).unwrap();
    let all = outcomes(&stdout_of(on_export(&s, "run").arg("--quiet")));
    let fired = |t: &str| {
        all.values()
            .filter(|(f, _)| f.iter().any(|n| n == t))
            .count()
    };
    // Each takes its 3 places: `low`'s ranking leaves out the customers `high` cut first in
    // their draw (those `low` can no longer take), so none of its places is lost.
    assert_eq!((fired("high"), fired("low")), (3, 3), "{all:#?}");
    // One trigger a customer, both by score: `high` (declared first) takes the 3 best, `low`
    // the next 3, and no customer is counted by both.
    let one_each = rules
        .replace(
            "as_of \"2026-11-01\"",
            "as_of \"2026-11-01\"\n  max_triggers 1",
        )
        .replace("100 - score", "score");
    std::fs::write(&s.rules, one_each).unwrap();
    let all = outcomes(&stdout_of(on_export(&s, "run").arg("--quiet")));
    let who = |t: &str| -> Vec<&str> {
        let mut ids: Vec<&str> = all
            .iter()
            .filter(|(_, (f, _))| f.iter().any(|n| n == t))
            .map(|(id, _)| id.as_str())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(who("high"), ["C18", "C19", "C20"], "{all:#?}");
    assert_eq!(who("low"), ["C15", "C16", "C17"], "{all:#?}");
}
