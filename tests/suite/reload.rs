//! Hot reload (`idic::reload`) and `idic watch`, on fresh copies of the retail rule set.
//!
//! Every test synchronizes on the reloader's events (or the watch process's output lines) with
//! generous timeouts, never on sleeps. The one bounded wait for something not to happen is in
//! `a_burst_of_writes_is_one_reload`.

use assert_cmd::cargo::CommandCargoExt;
use idic::batch::{self, summary::RunInfo, Options as RunOptions, Sinks, Summary};
use idic::engine::Evaluator;
use idic::io::{InputFormat, OutputFormat};
use idic::plan::Program;
use idic::reload::{FailingTests, Options, ReloadError, ReloadEvent, Reloader};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How long an expected event may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);
/// The debounce interval of these tests: long enough that no write below is split in two.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// A temporary copy of `rules/retail` (with the export rows its tests read, in `testdata/`) at
/// `rules/retail`, and of the example export at `examples/customers.csv`.
struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    fn new() -> Copy {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules/retail");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::create_dir_all(dir.path().join("examples")).unwrap();
        std::fs::create_dir_all(rules.join("testdata")).unwrap();
        for file in ["retail.idic", "tests.idic", "testdata/customers.csv"] {
            std::fs::copy(repo.join("rules/retail").join(file), rules.join(file)).unwrap();
        }
        std::fs::copy(
            repo.join("examples/customers.csv"),
            dir.path().join("examples/customers.csv"),
        )
        .unwrap();
        Copy { dir }
    }

    fn rules(&self) -> PathBuf {
        self.dir.path().join("rules/retail")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.rules().join(name)
    }

    fn customers(&self) -> PathBuf {
        self.dir.path().join("examples/customers.csv")
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap()
    }

    /// The shipped `name` with `from` replaced by `to` (which must be there), as text.
    fn edited(&self, name: &str, from: &str, to: &str) -> String {
        let text = shipped(name);
        assert!(text.contains(from), "`{from}` is not in {name}");
        text.replacen(from, to, 1)
    }

    /// Saves like most editors: a temporary file in the same directory renamed over the file.
    fn save_by_rename(&self, name: &str, text: &str) {
        let temp = self.file(&format!(".{name}.tmp"));
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, self.file(name)).unwrap();
    }

    /// Saves in place: truncate, then write.
    fn save_in_place(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).unwrap();
    }

    fn watch(&self) -> (Reloader, Receiver<ReloadEvent>) {
        let reloader = Reloader::watch(
            &self.rules(),
            Options {
                debounce: DEBOUNCE,
                ..Options::default()
            },
        )
        .unwrap();
        let events = reloader.subscribe();
        (reloader, events)
    }
}

/// The shipped rule file `name`.
fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules/retail")
            .join(name),
    )
    .unwrap()
}

/// How many tests the shipped retail rules carry.
fn shipped_tests() -> usize {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/retail");
    Program::load(&rules).unwrap().rules().tests.len()
}

const BIG_SPENDERS: &str = "segment big_spenders = spent >= 1500";

fn next(events: &Receiver<ReloadEvent>) -> ReloadEvent {
    events
        .recv_timeout(PATIENCE)
        .expect("a reload within 10 s of the change")
}

fn swapped(event: ReloadEvent) -> u64 {
    match event {
        ReloadEvent::Swapped { version, .. } => version,
        other => panic!("expected a swap, got {other:?}"),
    }
}

fn kept(event: ReloadEvent) -> (u64, ReloadError) {
    match event {
        ReloadEvent::Kept { version, error, .. } => (version, error),
        other => panic!("expected the version to be kept, got {other:?}"),
    }
}

/// Whether `program` puts a customer who spent $1,600 in `big_spenders`.
fn big_spender_at_1600(program: &Program) -> bool {
    let cells = [
        ("Customer ID", "C1"),
        ("First Name", "Ada"),
        ("Last Name", "Byron"),
        ("Email", "ada@example.com"),
        ("Signup Date", "2021-03-14"),
        ("Last Order Date", "02/02/2025"),
        ("Total Orders", "7"),
        ("Total Spent", "$1,600.00"),
        ("Accepts Email Marketing", "yes"),
        ("Accepts SMS Marketing", "no"),
        ("Country", "GB"),
    ];
    let cell = |column: &str| cells.iter().find(|(c, _)| *c == column).map(|(_, v)| *v);
    let values = program
        .record_reader()
        .unwrap()
        .read_cells(cell, 1)
        .unwrap();
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let decision = Evaluator::new(program, as_of).evaluate(values).unwrap();
    decision
        .segments
        .iter()
        .any(|&s| program.segment_name(s) == "big_spenders")
}

#[test]
fn a_save_by_rename_swaps_in_the_new_rules() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let first = reloader.current();
    assert_eq!(first.version, 1);
    assert_eq!(first.tests, shipped_tests());
    assert!(big_spender_at_1600(&first.program));

    let text = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1800",
    );
    copy.save_by_rename("retail.idic", &text);
    let event = next(&events);
    assert_eq!(event.change().paths, [copy.file("retail.idic")]);
    assert!(event.change().settled >= event.change().first_event);
    assert_eq!(swapped(event), 2);
    let second = reloader.current();
    assert_eq!(reloader.version(), 2);
    assert_ne!(second.hash(), first.hash());
    assert_eq!(reloader.hash(), second.hash());
    assert!(!big_spender_at_1600(&second.program));
    // The version taken before is untouched.
    assert!(big_spender_at_1600(&first.program));
    assert!(reloader.last_error().is_none());
}

#[test]
fn a_save_in_place_swaps_in_and_the_same_content_is_no_new_version() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let text = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1800",
    );
    copy.save_in_place("retail.idic", &text);
    assert_eq!(swapped(next(&events)), 2);
    assert!(!big_spender_at_1600(&reloader.current().program));

    // Saving the same text again changes nothing.
    let hash = reloader.hash();
    copy.save_in_place("retail.idic", &text);
    match next(&events) {
        ReloadEvent::Unchanged { version, .. } => assert_eq!(version, 2),
        other => panic!("expected no new version, got {other:?}"),
    }
    assert_eq!(reloader.version(), 2);
    assert_eq!(reloader.hash(), hash);
}

#[test]
fn a_bad_edit_keeps_the_last_good_version_until_it_is_fixed() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let hash = reloader.hash();
    let bad = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spentt >= 1500",
    );
    let line = bad.lines().position(|l| l.contains("spentt")).unwrap() + 1;
    copy.save_by_rename("retail.idic", &bad);

    let (version, error) = kept(next(&events));
    assert_eq!(version, 1);
    assert!(!error.is_io());
    let text = error.to_string();
    let place = format!("{}:{line}:", copy.file("retail.idic").display());
    assert!(text.contains(&place), "{text}\ndoes not name {place}");
    assert!(text.contains("spentt"), "{text}");
    assert_eq!(reloader.version(), 1);
    assert_eq!(reloader.hash(), hash);
    assert!(big_spender_at_1600(&reloader.current().program));
    assert_eq!(
        reloader.last_error().map(|e| e.to_string()),
        Some(text.clone())
    );

    let fixed = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1700",
    );
    copy.save_by_rename("retail.idic", &fixed);
    assert_eq!(swapped(next(&events)), 2);
    assert!(reloader.last_error().is_none());
    assert!(!big_spender_at_1600(&reloader.current().program));
}

#[test]
fn undoing_a_bad_edit_clears_the_error_without_a_new_version() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let good = copy.read("retail.idic");
    copy.save_in_place("retail.idic", &good.replacen("tiers {", "tiers", 1));
    kept(next(&events));
    assert!(reloader.last_error().is_some());
    copy.save_in_place("retail.idic", &good);
    match next(&events) {
        ReloadEvent::Unchanged { version, .. } => assert_eq!(version, 1),
        other => panic!("expected no new version, got {other:?}"),
    }
    assert!(reloader.last_error().is_none());
}

#[test]
fn a_failing_test_blocks_the_swap() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    // The lapsed big spender's test expects 25%.
    let text = copy.edited(
        "retail.idic",
        "if spent >= 1000 { 25 }",
        "if spent >= 1000 { 30 }",
    );
    copy.save_by_rename("retail.idic", &text);
    let (version, error) = kept(next(&events));
    assert_eq!(version, 1);
    let ReloadError::Tests(report) = &error else {
        panic!("expected failing tests, got {error}");
    };
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["a lapsed big spender is won back at 25%"]);
    let text = error.to_string();
    assert!(text.contains("`come_back.discount_pct` = 25"), "{text}");
    assert!(text.contains("tests.idic:"), "{text}");
    assert_eq!(reloader.version(), 1);

    // Changing the test's expectation with it lets the change in.
    let tests = copy.edited(
        "tests.idic",
        "come_back.discount_pct = 25",
        "come_back.discount_pct = 30",
    );
    copy.save_by_rename("tests.idic", &tests);
    assert_eq!(swapped(next(&events)), 2);
}

#[test]
fn allowed_failing_tests_swap_in_with_their_report() {
    let copy = Copy::new();
    let reloader = Reloader::watch(
        &copy.rules(),
        Options {
            debounce: DEBOUNCE,
            failing_tests: FailingTests::Allow,
            ..Options::default()
        },
    )
    .unwrap();
    let events = reloader.subscribe();
    assert!(reloader.current().failing.is_none());
    // Test first: the test asks for 30% before the rule gives it.
    let tests = copy.edited(
        "tests.idic",
        "come_back.discount_pct = 25",
        "come_back.discount_pct = 30",
    );
    copy.save_by_rename("tests.idic", &tests);
    assert_eq!(swapped(next(&events)), 2);
    let current = reloader.current();
    let report = current.failing.as_ref().expect("the failing test's report");
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["a lapsed big spender is won back at 25%"]);
    assert_eq!(current.tests, shipped_tests());
    // The rule that makes it pass: all pass again.
    let text = copy.edited(
        "retail.idic",
        "if spent >= 1000 { 25 }",
        "if spent >= 1000 { 30 }",
    );
    copy.save_by_rename("retail.idic", &text);
    assert_eq!(swapped(next(&events)), 3);
    assert!(reloader.current().failing.is_none());
}

#[test]
fn watch_goes_on_with_failing_tests_when_allowed() {
    let copy = Copy::new();
    let tests = copy.edited(
        "tests.idic",
        "come_back.discount_pct = 25",
        "come_back.discount_pct = 30",
    );
    copy.save_by_rename("tests.idic", &tests);
    // Refused at start without the flag...
    let (code, said) = watch_fails(&copy.rules(), &copy.customers());
    assert_eq!(code, 1, "{said}");
    // ... and started with it, the failure listed.
    // The failure goes to standard error, the version line to standard output.
    let mut watch = Watch::start_with(&copy, &["--allow-failing-tests"]);
    let version = watch.seen_or_until(|l| l.starts_with("version 1"));
    watch.seen_or_until(|l| l.contains("`come_back.discount_pct` = 30"));
    assert!(version.contains("1 of "), "{version}");
    assert!(version.contains(" tests failing"), "{version}");
    watch.seen_or_until(|l| l.starts_with("watching"));
}

#[test]
fn deleting_the_tests_reloads_and_deleting_the_rules_is_refused() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    std::fs::remove_file(copy.file("tests.idic")).unwrap();
    assert_eq!(swapped(next(&events)), 2);
    assert_eq!(reloader.current().tests, 0);

    copy.save_by_rename("tests.idic", &shipped("tests.idic"));
    assert_eq!(swapped(next(&events)), 3);
    assert_eq!(reloader.current().tests, shipped_tests());

    // The tests cannot stand without the rules they test.
    std::fs::remove_file(copy.file("retail.idic")).unwrap();
    let (version, error) = kept(next(&events));
    assert_eq!(version, 3);
    assert!(matches!(error, ReloadError::Load(_)), "{error}");
    assert_eq!(reloader.version(), 3);
    assert_eq!(reloader.current().tests, shipped_tests());
}

#[test]
fn a_burst_of_writes_is_one_reload() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let mut last = String::new();
    for threshold in 1601..=1620 {
        last = copy.edited(
            "retail.idic",
            BIG_SPENDERS,
            &format!("segment big_spenders = spent >= {threshold}"),
        );
        copy.save_in_place("retail.idic", &last);
    }
    assert_eq!(swapped(next(&events)), 2);
    // The one bounded wait for something not to happen: twice the debounce and a margin.
    let quiet = DEBOUNCE * 2 + Duration::from_millis(500);
    if let Ok(event) = events.recv_timeout(quiet) {
        panic!("a second reload after one burst: {event:?}");
    }
    assert_eq!(reloader.version(), 2);
    // The version in use is the last write's.
    let program = &reloader.current().program;
    assert!(program
        .rules()
        .segments
        .iter()
        .any(|s| s.name.value == "big_spenders" && s.condition.source.contains("1620")));
    assert_eq!(copy.read("retail.idic"), last);
}

#[test]
fn editor_temporary_files_cause_no_reload() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let tests = copy.read("tests.idic");
    for name in [
        ".tests.idic.swp",
        ".tests.idic.swx",
        "tests.idic~",
        "4913",
        "#tests.idic#",
        ".#tests.idic",
        "tests.idic.tmp",
        "notes.txt",
    ] {
        std::fs::write(copy.file(name), "this is no rule file {").unwrap();
    }
    std::fs::remove_file(copy.file("4913")).unwrap();
    // A real change after them: the first event is its reload, and names only its file.
    // Had the temporary files counted, they would have caused a reload of their own before
    // it, or be named in it.
    let text = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1800",
    );
    copy.save_in_place("retail.idic", &text);
    let event = next(&events);
    assert_eq!(event.change().paths, [copy.file("retail.idic")]);
    assert_eq!(swapped(event), 2);
    assert_eq!(copy.read("tests.idic"), tests);
    assert_eq!(reloader.version(), 2);
}

#[test]
fn a_run_keeps_the_version_it_started_with() {
    let copy = Copy::new();
    let (reloader, events) = copy.watch();
    let pinned = reloader.current();

    let text = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1800",
    );
    copy.save_by_rename("retail.idic", &text);
    // The run on the pinned version, while the reload happens.
    let run = |program: &Program| {
        let export = std::fs::File::open(copy.customers()).unwrap();
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let outcome = batch::run(
            program,
            as_of,
            &export,
            InputFormat::Csv,
            &RunOptions::default(),
            Sinks {
                decisions: &mut std::io::sink(),
                decisions_format: OutputFormat::Jsonl,
                rejects: None,
            },
        )
        .unwrap();
        let info = RunInfo {
            rules_path: "rules/retail",
            rule_warnings: 0,
            input_path: "customers.csv",
            input_format: "csv",
            as_of,
            threads: 1,
            elapsed_seconds: 0.0,
        };
        Summary::new(program, &outcome.tally, &info)
    };
    let during = std::thread::scope(|s| {
        let running = s.spawn(|| run(&pinned.program));
        assert_eq!(swapped(next(&events)), 2);
        running.join().unwrap()
    });
    // And once more after it, to be sure the swap happened before this run.
    let after_swap = run(&pinned.program);
    let now = run(&reloader.current().program);

    for summary in [&during, &after_swap] {
        assert_eq!(summary.rule_set.content_hash, pinned.hash());
    }
    assert_eq!(now.rule_set.content_hash, reloader.hash());
    assert_ne!(reloader.hash(), pinned.hash());
    let big = |s: &Summary| {
        s.segments
            .iter()
            .find(|c| c.name == "big_spenders")
            .unwrap()
            .count
    };
    assert_eq!(big(&during), big(&after_swap));
    assert!(big(&now) < big(&during), "{} {}", big(&now), big(&during));
}

#[test]
fn a_missing_or_bad_rule_set_does_not_start() {
    let copy = Copy::new();
    let missing = copy.dir.path().join("no-such-rules");
    let error = Reloader::watch(&missing, Options::default())
        .err()
        .expect("a missing directory is an error");
    let text = error.to_string();
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(matches!(error, idic::reload::Error::Rules(ref e) if e.is_io()));

    std::fs::write(copy.file("retail.idic"), "customer {").unwrap();
    let error = Reloader::watch(&copy.rules(), Options::default())
        .err()
        .expect("a rule set with errors is an error");
    assert!(error.to_string().contains("retail.idic:1:"), "{error}");
}

#[test]
fn a_single_rule_file_is_watched_through_its_directory() {
    let copy = Copy::new();
    let file = copy.file("retail.idic");
    let reloader = Reloader::watch(
        &file,
        Options {
            debounce: DEBOUNCE,
            ..Options::default()
        },
    )
    .unwrap();
    let events = reloader.subscribe();
    assert_eq!(reloader.current().tests, 0);
    let text = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1800",
    );
    copy.save_by_rename("retail.idic", &text);
    let event = next(&events);
    assert_eq!(event.change().paths, [file]);
    assert_eq!(swapped(event), 2);
}

// ---- idic watch -------------------------------------------------------------------------

/// A running `idic watch`, its output lines arriving on a channel.
struct Watch {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(copy: &Copy) -> Watch {
        Watch::start_with(copy, &[])
    }

    fn start_with(copy: &Copy, options: &[&str]) -> Watch {
        let mut child = Command::cargo_bin("idic")
            .unwrap()
            .arg("watch")
            .arg(copy.rules())
            .arg("--customers")
            .arg(copy.customers())
            .args(["--debounce", "250"])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    if sender.send(line.unwrap()).is_err() {
                        break;
                    }
                }
            });
        }
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// A line already read, or the next, that satisfies `wanted`: for lines of the two
    /// streams, whose order between them is not kept.
    fn seen_or_until(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        match self.seen.iter().find(|l| wanted(l)) {
            Some(line) => line.clone(),
            None => self.until(wanted),
        }
    }

    /// Reads lines until one satisfies `wanted`, and returns it.
    fn until(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "the awaited line did not come within 10 s; so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_prints_counts_and_what_each_change_changed() {
    let copy = Copy::new();
    let mut watch = Watch::start(&copy);
    watch.until(|l| l.starts_with("version 1"));
    watch.until(|l| l.starts_with("big_spenders"));
    // Customers per lifecycle stage: 134 lapsed (checked independently in tests/run.rs).
    watch.until(|l| l.starts_with("lapsed ") && l.trim_end().ends_with(" 134"));
    // Suppressions per reason, over all triggers (as in the summary of tests/run.rs): 75 for
    // consent, and the win-back's 5 controls.
    watch.until(|l| l.starts_with("consent ") && l.trim_end().ends_with(" 75"));
    watch.until(|l| l.starts_with("holdout:trigger ") && l.trim_end().ends_with(" 5"));
    watch.until(|l| l.starts_with("watching"));

    let text = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spent >= 1800",
    );
    copy.save_by_rename("retail.idic", &text);
    watch.until(|l| l.starts_with("version 2"));
    let line = watch.until(|l| l.contains("big_spenders"));
    assert!(line.contains(" -> "), "{line}");
    assert!(line.contains("(-"), "{line}");
    watch.until(|l| l.contains("ms after the change"));

    let bad = copy.edited(
        "retail.idic",
        BIG_SPENDERS,
        "segment big_spenders = spentt >= 1500",
    );
    copy.save_by_rename("retail.idic", &bad);
    watch.until(|l| l.contains("spentt"));
    watch.until(|l| l.contains("keeping version 2"));
}

#[cfg(unix)]
#[test]
fn watch_stops_cleanly_on_ctrl_c() {
    let copy = Copy::new();
    let mut watch = Watch::start(&copy);
    watch.until(|l| l.starts_with("watching"));
    let status = Command::new("kill")
        .args(["-INT", &watch.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = watch.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Runs `idic watch` to its end (it ends at once on these errors).
fn watch_fails(rules: &Path, customers: &Path) -> (i32, String) {
    let output = Command::cargo_bin("idic")
        .unwrap()
        .arg("watch")
        .arg(rules)
        .arg("--customers")
        .arg(customers)
        .output()
        .unwrap();
    assert!(output.stdout.is_empty() || !output.status.success());
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn watch_refuses_a_missing_directory() {
    let copy = Copy::new();
    let missing = copy.dir.path().join("no-such-rules");
    let (code, stderr) = watch_fails(&missing, &copy.customers());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no-such-rules"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn watch_refuses_a_sample_without_a_required_column() {
    let copy = Copy::new();
    let text = std::fs::read_to_string(copy.customers()).unwrap();
    let without: String = text
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(7); // Total Spent
            cells.join(",") + "\n"
        })
        .collect();
    assert!(!without.contains("Total Spent"));
    let sample = copy.dir.path().join("sample.csv");
    std::fs::write(&sample, without).unwrap();
    let (code, stderr) = watch_fails(&copy.rules(), &sample);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Total Spent"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (code, stderr) = watch_fails(&copy.rules(), &copy.dir.path().join("none.csv"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("none.csv"), "{stderr}");
}

#[test]
fn watch_refuses_an_unreadable_rule_file() {
    let copy = Copy::new();
    let file = copy.file("broken.idic");
    // Permissions do not stop root (CI runs as root); on Linux a link to /proc/self/mem is a
    // regular file that no process can read from offset 0 (EIO), whoever it runs as.
    #[cfg(target_os = "linux")]
    std::os::unix::fs::symlink("/proc/self/mem", &file).unwrap();
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    if std::fs::read(&file).is_ok() {
        eprintln!("skipped: no way to make a file unreadable for this user here");
        return;
    }
    let (code, stderr) = watch_fails(&copy.rules(), &copy.customers());
    assert_eq!(code, 2, "{stderr}");
    // On Linux the link points out of the rule set, which is refused before any read.
    assert!(
        stderr.contains("cannot read") || stderr.contains("outside the rule set's directory"),
        "{stderr}"
    );
    assert!(stderr.contains("broken.idic"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
