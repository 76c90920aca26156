//! Helpers shared by the integration tests' modules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The idic binary, run from the repository root.
pub fn idic() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("idic").unwrap();
    cmd.current_dir(repo());
    cmd
}

/// A fresh, empty directory for one test under cargo's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The rows of a CSV text as maps from column to cell.
pub fn csv_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

/// Asserts that a command exited with 0, showing its standard error if not.
#[track_caller]
pub fn succeeded(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd`, asserts that it succeeded ([`succeeded`]) and gives its standard output.
#[track_caller]
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    succeeded(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// The decisions of `customers` (their values, taken) decided in columns `size` customers a
/// chunk, as `run` decides them: one batch and one evaluator serve every chunk, so a chunk's
/// rows reuse the slots earlier customers left (one that failed, or one decided).
pub fn decide_in_chunks(
    program: &idic::plan::Program,
    as_of: chrono::NaiveDate,
    customers: &mut [Vec<rhai::Dynamic>],
    size: usize,
) -> Vec<Result<idic::engine::Decision, idic::engine::EvalError>> {
    let mut evaluator = idic::engine::Evaluator::new(program, as_of);
    let mut batch = idic::engine::Customers::new(program);
    let mut decision = idic::engine::Decision::default();
    let mut decided = Vec::new();
    for chunk in customers.chunks_mut(size) {
        batch.clear();
        for values in chunk.iter_mut() {
            batch.push(values);
        }
        evaluator.differentiate(&mut batch);
        for r in 0..batch.len() {
            let got = evaluator.decide_row(&mut batch, r, &mut decision);
            decided.push(got.map(|()| decision.clone()));
        }
    }
    decided
}
