//! Output files written whole or not at all: each is written to a temporary file next to its
//! target and renamed over it only when the run succeeds, so a failed or killed run never
//! leaves a half-written file where the last good one was. `-` means standard output (or
//! standard error, for summaries), which cannot be taken back; so is a target that exists and
//! is not a regular file (`/dev/null`, a named pipe), written straight through: renaming over
//! it would replace the device. A symbolic link stays one: the file it points to is replaced.
//!
//! A temporary is named `.NAME.XXXXXX.idic-tmp` and holds an exclusive advisory lock (taken
//! before it gets that name) for as long as its run lives; the lock dies with the process,
//! `kill -9` included. So the next output to the same target removes every such temporary it
//! can lock: a run that was killed left it. It touches no other file. [`commit_all`] puts a
//! run's outputs in place together, after all of them are written and synced.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One output of a run.
pub struct Output {
    /// What it is called in errors: its path, or `standard output`.
    name: String,
    target: Target,
    writer: BufWriter<Box<dyn Write + Send>>,
}

enum Target {
    /// Written straight through: a standard stream, a device or a pipe.
    Stream,
    File {
        path: PathBuf,
        temp: tempfile::TempPath,
        file: File,
        syncer: Syncer,
    },
}

/// The end of a temporary's name while its run writes it.
const TEMP_SUFFIX: &str = ".idic-tmp";
/// The end of a temporary's name from its creation to its lock (microseconds).
const NEW_SUFFIX: &str = ".idic-new";

/// Bytes written between two syncs in the background.
const SYNC_STEP: u64 = 32 << 20;

/// Syncs a file to disk in the background while it is being written, so that the sync before
/// the rename has little left to do.
struct Syncer {
    due: crossbeam_channel::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn new(file: File) -> Syncer {
        // `true`: sync now; `false`: stop.
        let (due, wake) = crossbeam_channel::bounded::<bool>(1);
        let thread = std::thread::Builder::new()
            .name("idic-sync".into())
            .spawn(move || {
                while let Ok(true) = wake.recv() {
                    // A failure shows again in the final sync, which is checked.
                    let _ = file.sync_data();
                }
            })
            .ok();
        Syncer { due, thread }
    }

    /// Stops the background syncs, after the one under way.
    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.due.send(false);
            let _ = thread.join();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A file that asks for a background sync every [`SYNC_STEP`] bytes.
struct Counted {
    file: File,
    written: u64,
    due: crossbeam_channel::Sender<bool>,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        let before = self.written;
        self.written += n as u64;
        if before / SYNC_STEP != self.written / SYNC_STEP {
            let _ = self.due.try_send(true);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Output {
    /// Standard output.
    pub fn stdout() -> Output {
        Output {
            name: "standard output".into(),
            target: Target::Stream,
            writer: BufWriter::with_capacity(1 << 16, Box::new(io::stdout())),
        }
    }

    /// Standard error.
    pub fn stderr() -> Output {
        Output {
            name: "standard error".into(),
            target: Target::Stream,
            writer: BufWriter::new(Box::new(io::stderr())),
        }
    }

    /// A temporary file next to `path`, renamed to `path` by [`Output::commit`] (dropped
    /// without a commit, it is deleted); the temporaries of killed runs to `path` are removed
    /// first. Fails at once when the directory is not writable.
    fn file(path: &Path) -> io::Result<Output> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("there is no directory `{}`", dir.display()),
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        remove_stale(dir, &prefix);
        let cannot = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot write next to `{}`: {e}", path.display()),
            )
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(NEW_SUFFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let fresh = builder.tempfile_in(dir).map_err(cannot)?;
        fresh.as_file().lock().map_err(cannot)?;
        let (file, fresh) = fresh.into_parts();
        let locked = fresh.to_string_lossy();
        let named = PathBuf::from(format!(
            "{}{TEMP_SUFFIX}",
            &locked[..locked.len() - NEW_SUFFIX.len()]
        ));
        fresh
            .persist_noclobber(&named)
            .map_err(|e| cannot(e.error))?;
        let temp = tempfile::TempPath::try_from_path(named).map_err(cannot)?;
        let syncer = Syncer::new(file.try_clone()?);
        let counted = Counted {
            file: file.try_clone()?,
            written: 0,
            due: syncer.due.clone(),
        };
        Ok(Output {
            name: format!("`{}`", path.display()),
            target: Target::File {
                path: path.to_path_buf(),
                temp,
                file,
                syncer,
            },
            writer: BufWriter::with_capacity(1 << 16, Box::new(counted)),
        })
    }

    /// `-` is `stream` (standard output or error); an existing target that is not a regular
    /// file is written straight through, a directory refused; anything else is a file written
    /// whole.
    pub fn to(path: &Path, stream: fn() -> Output) -> io::Result<Output> {
        if path == Path::new("-") {
            return Ok(stream());
        }
        if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it ends with `/`, as a directory does; name a file",
            ));
        }
        match std::fs::metadata(path) {
            // Known now, not after the run when the rename fails.
            Ok(meta) if meta.is_dir() => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory; name a file in it",
            )),
            Ok(meta) if !meta.is_file() => {
                let device = std::fs::OpenOptions::new().write(true).open(path)?;
                Ok(Output {
                    name: format!("`{}`", path.display()),
                    target: Target::Stream,
                    writer: BufWriter::with_capacity(1 << 16, Box::new(device)),
                })
            }
            // Through a link to a file, the file is replaced and the link kept.
            Ok(meta) if meta.is_file() && path.is_symlink() => {
                Output::file(&std::fs::canonicalize(path)?)
            }
            // Written through, a link to nowhere would become a file anywhere it points.
            Err(_) if path.is_symlink() => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "it is a link to `{}`, which does not exist",
                    std::fs::read_link(path).unwrap_or_default().display()
                ),
            )),
            _ => Output::file(path),
        }
    }

    /// Flushes; for a file, syncs it to disk and renames it over the target.
    pub fn commit(self) -> io::Result<()> {
        self.sync()?.rename()
    }

    /// Flushes; for a file, syncs it to disk: only the rename is left.
    fn sync(mut self) -> io::Result<Synced> {
        if let Err(e) = self.writer.flush() {
            return Err(self.named(e));
        }
        match self.target {
            Target::Stream => Ok(Synced::Stream),
            Target::File {
                path,
                temp,
                file,
                mut syncer,
            } => {
                syncer.stop();
                file.sync_data()?;
                Ok(Synced::File {
                    path,
                    temp,
                    _lock: file,
                })
            }
        }
    }
}

/// An output written and synced, not yet in place (dropped, its temporary is deleted).
enum Synced {
    Stream,
    File {
        path: PathBuf,
        temp: tempfile::TempPath,
        /// Holds the temporary's lock until it is renamed.
        _lock: File,
    },
}

impl Synced {
    fn rename(self) -> io::Result<()> {
        let Synced::File { path, temp, .. } = self else {
            return Ok(());
        };
        temp.persist(&path).map_err(|e| {
            io::Error::new(
                e.error.kind(),
                format!(
                    "cannot rename the output to `{}`: {}",
                    path.display(),
                    e.error
                ),
            )
        })
    }
}

/// Puts a run's outputs in place together: every one written and synced first, then each
/// renamed over its target in turn. `outputs` are named as the user named them (e.g.
/// `` `--out d.csv` ``). An error says which outputs are in place and which are not.
pub fn commit_all(outputs: Vec<(String, Output)>) -> Result<(), String> {
    let mut synced = Vec::with_capacity(outputs.len());
    for (name, output) in outputs {
        match output.sync() {
            Ok(done) => synced.push((name, done)),
            Err(e) => {
                return Err(format!(
                    "cannot write {name}: {e}; nothing was written: the previous outputs, if \
                     any, are untouched"
                ))
            }
        }
    }
    let mut written: Vec<String> = Vec::new();
    let mut left = synced.into_iter();
    while let Some((name, done)) = left.next() {
        if let Err(e) = done.rename() {
            let rest: Vec<String> = std::iter::once(name.clone())
                .chain(left.map(|(n, _)| n))
                .collect();
            return Err(format!(
                "cannot write {name}: {e}; written: {}; not written (the previous files are \
                 untouched): {}",
                if written.is_empty() {
                    "nothing".to_string()
                } else {
                    written.join(", ")
                },
                rest.join(", ")
            ));
        }
        written.push(name);
    }
    Ok(())
}

/// Removes the temporaries of `dir` named for a target (`prefix` is `.NAME.`) whose runs are
/// gone: those no live run holds locked. Nothing else is touched, and failures are ignored
/// (a temporary left is only disk space).
fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let (random, fresh) = match (
            rest.strip_suffix(TEMP_SUFFIX),
            rest.strip_suffix(NEW_SUFFIX),
        ) {
            (Some(random), _) => (random, false),
            (None, Some(random)) => (random, true),
            _ => continue,
        };
        if random.is_empty() || !random.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // A fresh one may be between its creation and its lock: only an old one is stale.
        let old = || {
            meta.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60))
        };
        if !meta.is_file() || (fresh && !old()) {
            continue;
        }
        if let Ok(file) = File::open(&path) {
            if file.try_lock().is_ok() {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

impl Output {
    /// `e` naming this output: a run writes several.
    fn named(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.name))
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf).map_err(|e| self.named(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(|e| self.named(e))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_named_pipe_is_written_through_and_stays_a_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("decisions");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut got = String::new();
                File::open(fifo).unwrap().read_to_string(&mut got).unwrap();
                got
            })
        };
        let mut out = Output::to(&fifo, Output::stdout).unwrap();
        out.write_all(b"id,tier\nC1,gold\n").unwrap();
        out.commit().unwrap();
        // Checked first: had the pipe been replaced, the reader would wait for ever.
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(
            kind.is_fifo(),
            "renaming over the pipe would have made it a file"
        );
        assert_eq!(reader.join().unwrap(), "id,tier\nC1,gold\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_directory_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let err = Output::to(dir.path(), Output::stdout).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
        assert_eq!(err.to_string(), "it is a directory; name a file in it");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn through_a_link_the_file_is_replaced_and_the_link_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (file, link) = (dir.path().join("real.csv"), dir.path().join("link.csv"));
        std::fs::write(&file, "old\n").unwrap();
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let mut out = Output::to(&link, Output::stdout).unwrap();
        out.write_all(b"new\n").unwrap();
        out.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
    }

    #[test]
    fn a_file_is_replaced_whole_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.csv");
        std::fs::write(&path, "last good\n").unwrap();
        let mut out = Output::to(&path, Output::stdout).unwrap();
        out.write_all(b"half").unwrap();
        out.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "last good\n");
        drop(out);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "last good\n");
        let mut out = Output::to(&path, Output::stdout).unwrap();
        out.write_all(b"whole\n").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The files of `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_dead_runs_temporary_is_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        // Left by a killed run: named so, and locked by nobody.
        std::fs::write(dir.path().join(".d.csv.Ab12Cd.idic-tmp"), "half").unwrap();
        // Not idic's, or not for this target, or a link: kept.
        let kept = [
            ".d.csv.Ab12Cd.tmp",
            ".d.csv.a-b.idic-tmp",
            ".e.csv.Ab12Cd.idic-tmp",
            "d.csv.Ab12Cd.idic-tmp",
            ".d.csv.Zz99Yy.idic-new",
        ];
        for name in &kept[..4] {
            std::fs::write(dir.path().join(name), "mine").unwrap();
        }
        // Fresh: maybe a live run between its creation and its lock.
        std::fs::write(dir.path().join(kept[4]), "").unwrap();
        std::os::unix::fs::symlink(
            dir.path().join(kept[0]),
            dir.path().join(".d.csv.Link00.idic-tmp"),
        )
        .unwrap();
        let mut out = Output::to(&path, Output::stdout).unwrap();
        out.write_all(b"new\n").unwrap();
        out.commit().unwrap();
        let mut expected: Vec<String> = kept.iter().map(|n| n.to_string()).collect();
        expected.push(".d.csv.Link00.idic-tmp".into());
        expected.push("d.csv".into());
        expected.sort();
        assert_eq!(names(dir.path()), expected);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(kept[0])).unwrap(),
            "mine"
        );
    }

    #[test]
    fn a_live_runs_temporary_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let mut first = Output::to(&path, Output::stdout).unwrap();
        first.write_all(b"first\n").unwrap();
        first.flush().unwrap();
        let temps = |dir: &Path| {
            names(dir)
                .into_iter()
                .filter(|n| n.ends_with(".idic-tmp"))
                .count()
        };
        assert_eq!(temps(dir.path()), 1);
        // A second output to the same target sees the first's temporary locked.
        let second = Output::to(&path, Output::stdout).unwrap();
        assert_eq!(temps(dir.path()), 2);
        drop(second);
        first.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
        assert_eq!(names(dir.path()), ["d.csv"]);
    }

    #[test]
    fn outputs_are_committed_together_and_a_failure_says_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        let targets = [
            dir.path().join("d.csv"),
            gone.join("s.txt"),
            dir.path().join("r.csv"),
        ];
        for t in [&targets[0], &targets[2]] {
            std::fs::write(t, "last good\n").unwrap();
        }
        let outputs: Vec<(String, Output)> = targets
            .iter()
            .zip([
                "`--out d.csv`",
                "`--summary gone/s.txt`",
                "`--rejects r.csv`",
            ])
            .map(|(t, name)| {
                let mut out = Output::to(t, Output::stdout).unwrap();
                out.write_all(b"new\n").unwrap();
                (name.to_string(), out)
            })
            .collect();
        // The summary's directory disappears before the outputs are put in place.
        std::fs::remove_dir_all(&gone).unwrap();
        let err = commit_all(outputs).unwrap_err();
        assert!(
            err.starts_with("cannot write `--summary gone/s.txt`: cannot rename the output to"),
            "{err}"
        );
        assert!(
            err.ends_with(
                "written: `--out d.csv`; not written (the previous files are untouched): \
                 `--summary gone/s.txt`, `--rejects r.csv`"
            ),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&targets[0]).unwrap(), "new\n");
        assert_eq!(std::fs::read_to_string(&targets[2]).unwrap(), "last good\n");
        assert_eq!(names(dir.path()), ["d.csv", "r.csv"], "no temporary left");
    }
}
