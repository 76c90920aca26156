//! What the tests exercised ([`Coverage`]), and a [`TestReport`] as text, JSON or JUnit XML.

use super::{CaseResult, TestReport};
use crate::engine::Decision;
use crate::plan::Program;
use crate::text::printable;
use serde::Serialize;
use std::fmt::Write as _;

/// How `idic test` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One line per test; failures with expected, actual and the deciding values.
    #[default]
    Human,
    /// One JSON object with every test and its failures.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

/// What the tests that ran exercised: for each segment whether some test customer was in it
/// and whether some was not, the tiers and lifecycle stages chosen, their conditions seen false
/// (passed over), and the triggers fired.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    segments: Vec<(String, bool, bool)>,
    tiers: Vec<(String, bool, bool, bool)>,
    stages: Vec<(String, bool, bool, bool)>,
    triggers: Vec<(String, bool)>,
}

impl Coverage {
    pub(super) fn new(program: &Program) -> Coverage {
        Coverage {
            segments: program
                .segment_names()
                .map(|n| (n.to_string(), false, false))
                .collect(),
            tiers: (0..program.tier_names().len())
                .map(|i| {
                    let conditional = program.tier_condition(i).is_some();
                    (program.tier_name(i).to_string(), false, false, conditional)
                })
                .collect(),
            stages: (0..program.stage_names().len())
                .map(|i| {
                    let conditional = program.stage_condition(i).is_some();
                    (program.stage_name(i).to_string(), false, false, conditional)
                })
                .collect(),
            triggers: program
                .trigger_names()
                .map(|n| (n.to_string(), false))
                .collect(),
        }
    }

    /// Counts what one decision exercised.
    pub(super) fn saw(&mut self, d: &Decision) {
        for (i, s) in self.segments.iter_mut().enumerate() {
            if d.segments.contains(&i) {
                s.1 = true;
            } else {
                s.2 = true;
            }
        }
        for (list, chosen) in [(&mut self.tiers, d.tier), (&mut self.stages, d.stage)] {
            if let Some(t) = chosen {
                list[t].1 = true;
                for earlier in &mut list[..t] {
                    earlier.2 = true;
                }
            }
        }
        for &t in &d.fired {
            self.triggers[t].1 = true;
        }
    }

    /// What no test exercised, one line each (empty when the tests cover everything).
    pub fn gaps(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, seen_in, seen_out) in &self.segments {
            if !seen_in {
                out.push(format!("segment `{name}`: no test customer is in it"));
            } else if !seen_out {
                out.push(format!("segment `{name}`: every test customer is in it"));
            }
        }
        for (what, list) in [("tier", &self.tiers), ("stage", &self.stages)] {
            for (name, chosen, passed_over, conditional) in list {
                if !chosen {
                    out.push(format!("{what} `{name}`: no test customer gets it"));
                } else if *conditional && !passed_over {
                    out.push(format!(
                        "{what} `{name}`: its condition is never false in a test"
                    ));
                }
            }
        }
        for (name, fired) in &self.triggers {
            if !fired {
                out.push(format!("trigger `{name}`: no test fires it"));
            }
        }
        out
    }
}

pub(super) fn human(report: &TestReport) -> String {
    let mut out: String = report.cases.iter().map(case_text).collect();
    let failed = report.failures().count();
    let _ = writeln!(
        out,
        "\n{} test{}: {} passed, {failed} failed",
        report.cases.len(),
        if report.cases.len() == 1 { "" } else { "s" },
        report.cases.len() - failed,
    );
    out
}

/// One test as the human report shows it: `test NAME ... ok`, or `... FAILED` followed by where
/// the test is written, each expectation that did not hold and why; names, values and paths
/// with their control characters escaped ([`printable`]).
pub(super) fn case_text(case: &CaseResult) -> String {
    let verdict = if case.failures.is_empty() {
        "ok"
    } else {
        "FAILED"
    };
    let mut out = format!("test {} ... {verdict}\n", printable(&case.name));
    if case.failures.is_empty() {
        return out;
    }
    let file = case.file.display().to_string();
    let _ = writeln!(out, "  --> {}:{}", printable(&file), case.line);
    for f in &case.failures {
        let _ = writeln!(out, "  {}", printable(&f.summary()));
        for line in &f.why {
            let _ = writeln!(out, "      {}", printable(line));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    passed: usize,
    failed: usize,
    tests: Vec<JsonCase<'a>>,
}

#[derive(Serialize)]
struct JsonCase<'a> {
    name: &'a str,
    file: String,
    line: usize,
    passed: bool,
    failures: Vec<JsonFailure<'a>>,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    expected: &'a str,
    actual: &'a str,
    why: &'a [String],
}

pub(super) fn json(report: &TestReport) -> String {
    let failed = report.failures().count();
    let value = JsonReport {
        passed: report.cases.len() - failed,
        failed,
        tests: report
            .cases
            .iter()
            .map(|c| JsonCase {
                name: &c.name,
                file: c.file.display().to_string(),
                line: c.line,
                passed: c.failures.is_empty(),
                failures: c
                    .failures
                    .iter()
                    .map(|f| JsonFailure {
                        expected: &f.expected,
                        actual: &f.actual,
                        why: &f.why,
                    })
                    .collect(),
            })
            .collect(),
    };
    crate::text::json_pretty(&value)
}

/// JUnit XML: one `<testsuite>` per rule file, one `<testcase>` per test, a `<failure>` with
/// the failed expectations. No times: the report is the same for the same rules and data.
pub(super) fn junit(report: &TestReport) -> String {
    let failed = report.failures().count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"idic\" tests=\"{}\" failures=\"{failed}\">",
        report.cases.len()
    );
    let mut files: Vec<&std::path::Path> = report.cases.iter().map(|c| c.file.as_path()).collect();
    files.dedup();
    for file in files {
        let cases: Vec<_> = report.cases.iter().filter(|c| c.file == file).collect();
        let failures = cases.iter().filter(|c| !c.failures.is_empty()).count();
        let file = xml(&file.display().to_string());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
            cases.len()
        );
        for c in cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{file}\" file=\"{file}\" line=\"{}\"",
                xml(&c.name),
                c.line
            );
            if c.failures.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            let message: Vec<String> = c.failures.iter().map(|f| f.summary()).collect();
            let mut body = String::new();
            for f in &c.failures {
                let _ = writeln!(body, "{}", f.summary());
                for line in &f.why {
                    let _ = writeln!(body, "    {line}");
                }
            }
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                xml(&message.join("; ")),
                xml(&body).replace("&#10;", "\n")
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text escaped for XML attributes and content; characters XML 1.0 forbids are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
