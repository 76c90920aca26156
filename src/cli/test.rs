//! `idic test RULES`: run the test cases a rule set carries.
//!
//! Exit codes: 0 every test passed, 1 a test failed, the rule set has errors, or no test ran
//! with `--fail-on-empty`; 2 usage or I/O.

use super::Exit;
use idic::diagnostics::{render, Format as DiagnosticFormat};
use idic::testing::{run_tests, Format};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A rule file (`.idic` or `.toml`) or a directory of them.
    rules: PathBuf,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Run only the tests whose names contain PATTERN.
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Fail (exit 1) when no test runs.
    #[arg(long)]
    fail_on_empty: bool,
    /// Also list the segments, tiers, triggers and conditions no test exercised.
    #[arg(long)]
    coverage: bool,
    #[command(flatten)]
    reads: super::ReadArgs,
}

pub fn run(args: Args) -> Exit {
    let (program, checked) = match super::run::load(&args.rules, &args.reads, "no test was run") {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    // Warnings (a test that expects nothing, say) do not fail the run, but are worth seeing.
    if !checked.diagnostics.is_empty() {
        let text = render(
            &checked.diagnostics,
            &checked.sources,
            DiagnosticFormat::Human,
            super::color_stderr(),
        );
        super::err(&text);
    }
    let report = run_tests(&program, args.filter.as_deref());
    if program.rules().tests.is_empty() {
        say!(
            "note: `{}` has no tests; write `test` blocks beside the rules (see the README)",
            args.rules.display()
        );
    }
    let mut out = report.render(args.format);
    if args.coverage {
        let gaps = report.coverage.gaps();
        match args.format {
            Format::Human => {
                if gaps.is_empty() {
                    out.push_str(
                        "coverage: every segment, tier, lifecycle stage and trigger is exercised\n",
                    );
                } else {
                    out.push_str(&format!("coverage: {} not exercised\n", gaps.len()));
                    for gap in &gaps {
                        out.push_str(&format!("  {gap}\n"));
                    }
                }
            }
            // Machine formats keep their shape: the gaps go to standard error.
            Format::Json | Format::Junit => {
                for gap in &gaps {
                    say!("not exercised: {gap}");
                }
            }
        }
    }
    // A closed pipe (`idic test ... | head`) is not an error worth a panic.
    super::out(&out);
    if report.cases.is_empty() && args.fail_on_empty {
        say!(
            "error: no test ran{}",
            match &args.filter {
                Some(f) => format!(" (none matches `{f}`)"),
                None => String::new(),
            }
        );
        return Exit::Findings;
    }
    if report.passed() {
        Exit::Ok
    } else {
        Exit::Findings
    }
}
