//! No output may destroy an input, a rule file or another output. Before a command reads its
//! export or creates an output, [`Files::check`] compares every path it will write with every
//! path it reads and with the other outputs: the same file by device and inode where it exists
//! (so a symbolic or hard link to the export is caught), the same resolved path where it does
//! not exist yet. An output that would be loaded as a rule file of the rule set (a `.idic` or
//! `.toml` file in its directory) is refused too. Targets that are not regular files
//! (`/dev/null`, a named pipe) and `-` are streams: written straight through, never replaced,
//! so several outputs may share one.

use std::path::{Path, PathBuf};

/// The files a command reads and writes, each with how the user named it (`--customers
/// x.csv`, `rule file rules/retail.idic`).
#[derive(Debug, Default)]
pub struct Files {
    reads: Vec<(String, PathBuf)>,
    writes: Vec<(String, PathBuf)>,
    /// Outputs to standard output or error, as `/dev/stdout` or `/dev/stderr`: compared with
    /// the inputs only (several outputs may share a stream).
    streams: Vec<(String, PathBuf)>,
    /// Directories whose rule files make up a rule set.
    rule_dirs: Vec<PathBuf>,
}

/// The standard stream an output's `-` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Std {
    Out,
    Err,
}

/// The standard streams as files (Linux and macOS).
const STDIN: &str = "/dev/stdin";
const STDOUT: &str = "/dev/stdout";
const STDERR: &str = "/dev/stderr";

/// Whether `a` and `b` are one file, stream or device (by device and inode, links followed):
/// `--rejects /dev/stderr` is standard error.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        a == b
    }
}

/// What a path is, for telling whether two paths are one file.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    /// An existing file or directory.
    Node(u64, u64),
    /// A device, a pipe, or `-`: written straight through.
    Stream,
    /// Not there yet: where it will be, resolved.
    Planned(PathBuf),
}

fn identity(path: &Path) -> Identity {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() || meta.is_dir() => node(path, &meta),
        Ok(_) => Identity::Stream,
        Err(_) => Identity::Planned(planned(path)),
    }
}

#[cfg(unix)]
fn node(_: &Path, meta: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity::Node(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn node(path: &Path, _: &std::fs::Metadata) -> Identity {
    Identity::Planned(planned(path))
}

/// Where a file will be: its directory resolved (links, `..`), then its name.
fn planned(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(real) = std::fs::canonicalize(&absolute) {
        return real;
    }
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(absolute.clone()),
        _ => absolute,
    }
}

impl Files {
    /// A file the command reads; `-` is standard input, which is a file when the shell
    /// redirected one (`< x.csv`).
    pub fn reads(&mut self, what: impl Into<String>, path: &Path) -> &mut Files {
        let path = if path == Path::new("-") {
            Path::new(STDIN)
        } else {
            path
        };
        self.reads.push((what.into(), path.to_path_buf()));
        self
    }

    /// A file the command writes; `-` is `stream`, standard output or error ([`Std`]), which
    /// is a file when the shell redirected it (`> x.csv`, `>> x.csv`).
    pub fn writes(&mut self, what: impl Into<String>, path: &Path, stream: Std) -> &mut Files {
        if path == Path::new("-") {
            let stream = match stream {
                Std::Out => STDOUT,
                Std::Err => STDERR,
            };
            self.streams.push((what.into(), PathBuf::from(stream)));
        } else {
            self.writes.push((what.into(), path.to_path_buf()));
        }
        self
    }

    /// The rule set at `origin` reads `rule_files` and its tests read `test_files`; an output
    /// in its directory (the rule file's, for a rule set of one file) must not be a rule file.
    pub fn rule_set(
        &mut self,
        origin: &Path,
        rule_files: &[PathBuf],
        test_files: &[PathBuf],
    ) -> &mut Files {
        for file in rule_files {
            self.reads(format!("the rule file `{}`", file.display()), file);
        }
        for file in test_files {
            self.reads(
                format!("`{}`, read by the rule set's tests", file.display()),
                file,
            );
        }
        if origin.is_dir() {
            self.rule_dirs.push(planned(origin));
        } else {
            // A rule file's directory may hold the other files of a rule set it belongs to.
            let absolute = planned(origin);
            self.rule_dirs
                .extend(absolute.parent().map(Path::to_path_buf));
        }
        self
    }

    /// Refuses the first output that is an input, another output or a new rule file, naming
    /// both.
    pub fn check(&self) -> Result<(), String> {
        let reads: Vec<Identity> = self.reads.iter().map(|(_, p)| identity(p)).collect();
        for (what, path) in &self.streams {
            let id = identity(path);
            if let Some(i) = reads
                .iter()
                .position(|r| *r == id && id != Identity::Stream)
            {
                return Err(format!(
                    "{what} goes to the same file as {}: writing it would destroy it; name \
                     another file",
                    self.reads[i].0
                ));
            }
        }
        let mut written: Vec<(&str, Identity)> = Vec::new();
        for (what, path) in &self.writes {
            let id = identity(path);
            if id == Identity::Stream {
                continue;
            }
            if let Some(i) = reads.iter().position(|r| *r == id) {
                return Err(format!(
                    "{what} is the same file as {}: writing it would destroy it; name another \
                     file",
                    self.reads[i].0
                ));
            }
            if let Some((other, _)) = written.iter().find(|(_, w)| *w == id) {
                return Err(format!(
                    "{what} and {other} are the same file: each output needs a file of its own"
                ));
            }
            let place = planned(path);
            if crate::syntax::is_rule_file(&place)
                && place
                    .parent()
                    .is_some_and(|dir| self.rule_dirs.iter().any(|r| r == dir))
            {
                return Err(format!(
                    "{what} is in the rule set's directory with a rule file's name: the next \
                     load would read it as rules; name another file"
                ));
            }
            written.push((what, id));
        }
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.csv"), "Id\nC1\n").unwrap();
        dir
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_however_it_is_named() {
        let dir = dir();
        let x = dir.path().join("x.csv");
        std::os::unix::fs::symlink(&x, dir.path().join("link.csv")).unwrap();
        std::fs::hard_link(&x, dir.path().join("hard.csv")).unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        for out in [
            x.clone(),
            dir.path().join("link.csv"),
            dir.path().join("hard.csv"),
            sub.join("../x.csv"),
        ] {
            let err = Files::default()
                .reads("`--customers x.csv`", &x)
                .writes("`--out out`", &out, Std::Out)
                .check()
                .unwrap_err();
            assert_eq!(
                err,
                "`--out out` is the same file as `--customers x.csv`: writing it would \
                 destroy it; name another file",
                "{}",
                out.display()
            );
        }
    }

    #[test]
    fn two_outputs_may_not_share_a_file_unless_it_is_a_stream() {
        let dir = dir();
        let d = dir.path().join("d.csv");
        let err = Files::default()
            .writes("`--out d.csv`", &d, Std::Out)
            .writes(
                "`--rejects ./d.csv`",
                &dir.path().join(".").join("d.csv"),
                Std::Err,
            )
            .check()
            .unwrap_err();
        assert_eq!(
            err,
            "`--rejects ./d.csv` and `--out d.csv` are the same file: each output needs a file \
             of its own"
        );
        assert!(Files::default()
            .writes("`--out /dev/null`", Path::new("/dev/null"), Std::Out)
            .writes("`--rejects /dev/null`", Path::new("/dev/null"), Std::Err)
            .writes("`--summary -`", Path::new("-"), Std::Err)
            .check()
            .is_ok());
        assert!(Files::default()
            .reads("`--customers x.csv`", &dir.path().join("x.csv"))
            .writes("`--out d.csv`", &d, Std::Out)
            .writes("`--rejects r.csv`", &dir.path().join("r.csv"), Std::Err)
            .check()
            .is_ok());
    }

    #[test]
    fn an_output_may_not_become_a_rule_file() {
        let dir = dir();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        let mut files = Files::default();
        files.rule_set(&rules, &[], &[]);
        let err = files
            .writes("`--out rules/out.toml`", &rules.join("out.toml"), Std::Out)
            .check()
            .unwrap_err();
        assert!(err.contains("with a rule file's name"), "{err}");
        let mut files = Files::default();
        files.rule_set(&rules, &[], &[]);
        assert!(files
            .writes("`--out rules/out.csv`", &rules.join("out.csv"), Std::Out)
            .check()
            .is_ok());
        // A rule set of one file: its directory's other rule files are not outputs either.
        let single = rules.join("retail.idic");
        std::fs::write(&single, "").unwrap();
        std::fs::write(rules.join("tests.idic"), "").unwrap();
        for name in ["tests.idic", "new.toml"] {
            let mut files = Files::default();
            files.rule_set(&single, std::slice::from_ref(&single), &[]);
            let err = files
                .writes("`--out`", &rules.join(name), Std::Out)
                .check()
                .unwrap_err();
            assert!(err.contains("with a rule file's name"), "{name}: {err}");
        }
    }
}
