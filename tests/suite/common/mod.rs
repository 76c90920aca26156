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
