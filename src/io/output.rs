//! Output files written whole or not at all: each is written to a temporary file next to its
//! target and renamed over it only when the run succeeds, so a failed or killed run never
//! leaves a half-written file where the last good one was. `-` means standard output (or
//! standard error, for summaries), which cannot be taken back.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One output of a run.
pub struct Output {
    target: Target,
    writer: BufWriter<Box<dyn Write + Send>>,
}

enum Target {
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
    pub fn file(path: &Path) -> io::Result<Output> {
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

    /// `-` is `stream` (standard output or error), anything else a file.
    pub fn to(path: &Path, stream: fn() -> Output) -> io::Result<Output> {
        if path == Path::new("-") {
            Ok(stream())
        } else {
            Output::file(path)
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
