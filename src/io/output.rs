//! Output files written whole or not at all: each is written to a temporary file next to its
//! target and renamed over it only when the run succeeds, so a failed or killed run never
//! leaves a half-written file where the last good one was. `-` means standard output (or
//! standard error, for summaries), which cannot be taken back; so is a target that exists and
//! is not a regular file (`/dev/null`, a named pipe), written straight through: renaming over
//! it would replace the device. A symbolic link stays one: the file it points to is replaced.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One output of a run.
pub struct Output {
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
            target: Target::Stream,
            writer: BufWriter::with_capacity(1 << 16, Box::new(io::stdout())),
        }
    }

    /// Standard error.
    pub fn stderr() -> Output {
        Output {
            target: Target::Stream,
            writer: BufWriter::new(Box::new(io::stderr())),
        }
    }

    /// A temporary file next to `path`, renamed to `path` by [`Output::commit`] (dropped
    /// without a commit, it is deleted). Fails at once when the directory is not writable.
    fn file(path: &Path) -> io::Result<Output> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let temp = builder.tempfile_in(dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write next to `{}`: {e}", path.display()),
            )
        })?;
        let (file, temp) = temp.into_parts();
        let syncer = Syncer::new(file.try_clone()?);
        let counted = Counted {
            file: file.try_clone()?,
            written: 0,
            due: syncer.due.clone(),
        };
        Ok(Output {
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
        match std::fs::metadata(path) {
            // Known now, not after the run when the rename fails.
            Ok(meta) if meta.is_dir() => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory; name a file in it",
            )),
            Ok(meta) if !meta.is_file() => {
                let device = std::fs::OpenOptions::new().write(true).open(path)?;
                Ok(Output {
                    target: Target::Stream,
                    writer: BufWriter::with_capacity(1 << 16, Box::new(device)),
                })
            }
            // Through a link to a file, the file is replaced and the link kept.
            Ok(meta) if meta.is_file() && path.is_symlink() => {
                Output::file(&std::fs::canonicalize(path)?)
            }
            _ => Output::file(path),
        }
    }

    /// Flushes; for a file, syncs it to disk and renames it over the target.
    pub fn commit(mut self) -> io::Result<()> {
        self.writer.flush()?;
        match self.target {
            Target::Stream => Ok(()),
            Target::File {
                path,
                temp,
                file,
                mut syncer,
            } => {
                syncer.stop();
                file.sync_data()?;
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
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
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
}
