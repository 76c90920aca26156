//! What a rule set may read besides its own rule files: the export rows its tests start from
//! (`from "customers.csv" id "C1"`). A pull request can change a test, and `idic test` prints
//! the row's values into a CI log, so a test reads only
//!
//! - files inside the rule set's directory tree (the directory given to `idic`, or the
//!   directory of the one rule file given), and under the directories the user allows with
//!   `--allow-read DIR` (never the rule set itself: a rule file cannot widen its own reach);
//! - after resolving every symbolic link and `..` (a link inside the tree pointing out of it
//!   is outside);
//! - regular files only (not `/dev/zero`, a named pipe or a directory), of at most
//!   [`MAX_TEST_FILE`] bytes, read through the handle that was checked.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The largest file a test may read a row from (64 MiB).
pub const MAX_TEST_FILE: u64 = 64 << 20;

/// The directories a rule set may read from, resolved (canonical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadAccess {
    roots: Vec<PathBuf>,
}

/// Why a file may not be read.
#[derive(Debug)]
pub enum AccessError {
    /// No such file (or a path that cannot be resolved).
    Missing(std::io::Error),
    /// The file resolves to `real`, outside every allowed directory.
    Outside { real: PathBuf },
    /// Not a regular file: a device, a pipe, a directory.
    NotAFile,
    /// Larger than [`MAX_TEST_FILE`].
    TooLarge(u64),
    /// It exists but cannot be opened or inspected.
    Io(std::io::Error),
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessError::Missing(e) => write!(f, "it cannot be found: {e}"),
            AccessError::Outside { real } => write!(
                f,
                "it is outside the rule set's directory (it is `{}`): tests read only files \
                 inside the rule set, or under a directory allowed with `--allow-read DIR`",
                real.display()
            ),
            AccessError::NotAFile => f.write_str("it is not a regular file"),
            AccessError::TooLarge(len) => write!(
                f,
                "it holds {len} bytes, more than the {} MiB a test may read: use a sample",
                MAX_TEST_FILE >> 20
            ),
            AccessError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl ReadAccess {
    /// What the rule set at `origin` (a directory, or one rule file) may read: its directory
    /// tree.
    pub fn rule_set(origin: &Path) -> ReadAccess {
        let dir = if origin.is_dir() {
            origin
        } else {
            origin
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        };
        ReadAccess {
            roots: std::fs::canonicalize(dir).into_iter().collect(),
        }
    }

    /// Also the trees under `dirs` (as the user gives them with `--allow-read`); each must be
    /// an existing directory.
    pub fn allowing(mut self, dirs: &[PathBuf]) -> Result<ReadAccess, String> {
        for dir in dirs {
            match std::fs::canonicalize(dir) {
                Ok(real) if real.is_dir() => self.roots.push(real),
                Ok(_) => {
                    return Err(format!(
                        "`--allow-read {}` is not a directory",
                        dir.display()
                    ))
                }
                Err(e) => return Err(format!("`--allow-read {}`: {e}", dir.display())),
            }
        }
        Ok(self)
    }

    /// Opens `path` for reading when it may be read; gives the file and its resolved path.
    pub fn open(&self, path: &Path) -> Result<(File, PathBuf), AccessError> {
        let real = std::fs::canonicalize(path).map_err(AccessError::Missing)?;
        if !self.roots.iter().any(|root| real.starts_with(root)) {
            return Err(AccessError::Outside { real });
        }
        // Opening a named pipe would wait for a writer: look before opening.
        if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
            return Err(AccessError::NotAFile);
        }
        let file = File::open(&real).map_err(AccessError::Io)?;
        // The handle's own metadata: what is read is what was checked.
        let meta = file.metadata().map_err(AccessError::Io)?;
        if !meta.is_file() {
            return Err(AccessError::NotAFile);
        }
        if meta.len() > MAX_TEST_FILE {
            return Err(AccessError::TooLarge(meta.len()));
        }
        Ok((file, real))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(rules.join("data")).unwrap();
        std::fs::write(rules.join("data/c.csv"), "Id\nC1\n").unwrap();
        std::fs::write(dir.path().join("secret.csv"), "Id\nS\n").unwrap();
        (dir, rules)
    }

    #[test]
    fn files_inside_the_rule_set_are_readable() {
        let (_dir, rules) = tree();
        let access = ReadAccess::rule_set(&rules);
        let (_, real) = access.open(&rules.join("data/../data/c.csv")).unwrap();
        assert!(real.ends_with("rules/data/c.csv"));
        // A rule file's own directory is the root when one file is given.
        let one = ReadAccess::rule_set(&rules.join("data/c.csv"));
        assert!(one.open(&rules.join("data/c.csv")).is_ok());
    }

    #[test]
    fn paths_out_of_the_tree_are_refused_however_they_are_spelt() {
        let (dir, rules) = tree();
        let access = ReadAccess::rule_set(&rules);
        std::os::unix::fs::symlink(dir.path().join("secret.csv"), rules.join("link.csv")).unwrap();
        for path in [
            rules.join("../secret.csv"),
            dir.path().join("secret.csv"),
            rules.join("link.csv"),
            PathBuf::from("/etc/passwd"),
        ] {
            assert!(
                matches!(access.open(&path), Err(AccessError::Outside { .. })),
                "{}",
                path.display()
            );
        }
        // Unless the user allows the directory.
        let wider = access.allowing(&[dir.path().to_path_buf()]).unwrap();
        assert!(wider.open(&rules.join("link.csv")).is_ok());
    }

    #[test]
    fn only_regular_files_of_a_bounded_size_are_read() {
        let (dir, rules) = tree();
        std::os::unix::fs::symlink("/dev/zero", rules.join("zero.csv")).unwrap();
        let access = ReadAccess::rule_set(&rules)
            .allowing(&[PathBuf::from("/dev")])
            .unwrap();
        assert!(matches!(
            access.open(&rules.join("zero.csv")),
            Err(AccessError::NotAFile)
        ));
        assert!(matches!(
            access.open(&rules.join("data")),
            Err(AccessError::NotAFile)
        ));
        // A named pipe is refused without waiting for a writer.
        let fifo = rules.join("fifo.csv");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert!(matches!(access.open(&fifo), Err(AccessError::NotAFile)));
        let big = rules.join("big.csv");
        let file = File::create(&big).unwrap();
        file.set_len(MAX_TEST_FILE + 1).unwrap();
        assert!(matches!(access.open(&big), Err(AccessError::TooLarge(_))));
        assert!(ReadAccess::rule_set(&rules)
            .allowing(&[dir.path().join("secret.csv")])
            .is_err());
    }
}
