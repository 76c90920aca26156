//! Hot reload: a rule set kept current while its files change, for a long-running service.
//!
//! [`Reloader::watch`] loads a rule set once, then watches its directory (editors save by
//! writing a temporary file and renaming it over the old one, which would end a watch on the
//! file itself) through notify's full debouncer. After a burst of changes to rule files has
//! settled, the whole rule set is loaded again, checked ([`Program::load`]) and its tests run
//! ([`run_tests`]); only when all of that passes does the new version replace the current one,
//! atomically ([`ArcSwap`]). Otherwise the last good version stays and the reason is kept in
//! [`Reloader::last_error`]. Files that are not rule files (editor swap, backup and lock files)
//! never cause a reload.
//!
//! Readers take [`Reloader::current`]: an `Arc` of one complete version, which never blocks and
//! stays valid for as long as they hold it. A batch run pins one version for its whole duration
//! that way, whatever reloads happen meanwhile.
//!
//! ```no_run
//! use idic::reload::{Options, ReloadEvent, Reloader};
//! use std::path::Path;
//!
//! let reloader = Reloader::watch(Path::new("rules/retail"), Options::default())?;
//! let events = reloader.subscribe();
//! let pinned = reloader.current(); // one version for a whole run
//! println!("version {} ({})", pinned.version, pinned.hash());
//! for event in events {
//!     match event {
//!         ReloadEvent::Swapped { version, .. } => println!("now version {version}"),
//!         ReloadEvent::Kept { version, error, .. } => println!("{error}\nkeeping version {version}"),
//!         ReloadEvent::Unchanged { .. } => {}
//!     }
//! }
//! # Ok::<(), idic::reload::Error>(())
//! ```

use crate::io::ReadAccess;
use crate::plan::{LoadError, Program};
use crate::testing::{run_tests, TestReport};
use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebouncedEvent, Debouncer, RecommendedCache};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a [`Reloader`] watches.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the rule files must be quiet before a reload: a burst of saves within it is
    /// one reload (10 ms at least).
    pub debounce: Duration,
    /// What the rule set's tests may read [default: the rule set's directory tree].
    pub access: Option<ReadAccess>,
    /// Whether a version whose tests fail may still be swapped in.
    pub failing_tests: FailingTests,
}

/// What a version whose tests fail does to the current one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailingTests {
    /// It is kept out: the current version stays (the default; what a service needs).
    #[default]
    Refuse,
    /// It is swapped in like one that passes, its failures in [`Loaded::failing`]: a
    /// test-first loop, the tests written before the rules that make them pass.
    Allow,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            debounce: Duration::from_millis(100),
            access: None,
            failing_tests: FailingTests::Refuse,
        }
    }
}

/// One good version of the rule set: it loaded, checked and passed its tests (or failed some,
/// under [`FailingTests::Allow`]).
#[derive(Debug)]
pub struct Loaded {
    /// The program, to evaluate with (clone the `Arc` to keep it).
    pub program: Arc<Program>,
    /// 1 for the rule set loaded first, then one more for each swap.
    pub version: u64,
    /// How many test cases the rule set carries.
    pub tests: usize,
    /// The report of its tests when some fail, which only [`FailingTests::Allow`] lets in;
    /// `None` when all pass.
    pub failing: Option<Arc<TestReport>>,
}

impl Loaded {
    /// The content hash of the rule files (see [`Program::content_hash`]).
    pub fn hash(&self) -> &str {
        self.program.content_hash()
    }
}

/// Why a rule set was not (re)loaded.
#[derive(Debug, Clone)]
pub enum ReloadError {
    /// A file cannot be read, or the rule set has errors: the loader's diagnostics.
    Load(Arc<LoadError>),
    /// The rule set checks, but some of its tests fail: the whole report.
    Tests(Arc<TestReport>),
    /// The watch itself failed (the rule set may have changed unseen).
    Watch(String),
    /// Loading or testing stopped on a bug (a panic): the last good version stays, and the
    /// watch goes on.
    Internal(String),
}

impl ReloadError {
    /// Whether the rule set could not be read at all (a missing or unreadable path), rather
    /// than read and found wrong.
    pub fn is_io(&self) -> bool {
        match self {
            ReloadError::Load(e) => e
                .diagnostics
                .iter()
                .any(|d| d.code == crate::diagnostics::Code::Io),
            ReloadError::Tests(_) | ReloadError::Internal(_) => false,
            ReloadError::Watch(_) => true,
        }
    }
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Load(e) => write!(f, "{e}"),
            ReloadError::Tests(report) => f.write_str(report.to_text().trim_end()),
            ReloadError::Watch(e) => write!(f, "the watch failed: {e}"),
            ReloadError::Internal(e) => write!(f, "the rule set could not be reloaded: {e}"),
        }
    }
}

impl std::error::Error for ReloadError {}

/// Why [`Reloader::watch`] could not start.
#[derive(Debug)]
pub enum Error {
    /// The rule set did not load, check or pass its tests.
    Rules(ReloadError),
    /// The directory cannot be watched.
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Rules(e) => write!(f, "{e}"),
            Error::Watch { path, source } => {
                write!(f, "cannot watch `{}`: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {}

/// When a change was seen, and which rule files it touched.
#[derive(Debug, Clone)]
pub struct Change {
    /// The first file-system event of the burst.
    pub first_event: Instant,
    /// When the burst had settled and the reload began.
    pub settled: Instant,
    /// The rule files the events named (empty after a rescan).
    pub paths: Vec<PathBuf>,
}

/// What a reload did, as told to every receiver from [`Reloader::subscribe`].
#[derive(Debug, Clone)]
pub enum ReloadEvent {
    /// A new version is current.
    Swapped {
        version: u64,
        hash: String,
        change: Change,
    },
    /// The rule set did not load, check or pass its tests: `version` stays current.
    Kept {
        version: u64,
        error: ReloadError,
        change: Change,
    },
    /// The files hold the current version's content again (e.g. a touch, or an edit undone):
    /// nothing to swap, and no error any more.
    Unchanged { version: u64, change: Change },
}

impl ReloadEvent {
    /// The change that caused the reload.
    pub fn change(&self) -> &Change {
        match self {
            ReloadEvent::Swapped { change, .. }
            | ReloadEvent::Kept { change, .. }
            | ReloadEvent::Unchanged { change, .. } => change,
        }
    }
}

/// A rule set kept current while its files change; dropping it stops the watch.
pub struct Reloader {
    shared: Arc<Shared>,
    debouncer: Option<Debouncer<RecommendedWatcher, RecommendedCache>>,
    messages: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

/// What the reloading thread and the handle share.
struct Shared {
    path: PathBuf,
    access: ReadAccess,
    failing_tests: FailingTests,
    current: ArcSwap<Loaded>,
    last_error: Mutex<Option<ReloadError>>,
    subscribers: Mutex<Vec<Sender<ReloadEvent>>>,
}

/// What the reloading thread hears.
enum Message {
    Events(Vec<DebouncedEvent>),
    Errors(Vec<notify::Error>),
    Stop,
}

impl Reloader {
    /// Loads, checks and tests the rule set at `path` (a directory, or a single rule file),
    /// then watches it. `Err` when that first load fails (a missing path is named) or the
    /// directory cannot be watched.
    pub fn watch(path: &Path, options: Options) -> Result<Reloader, Error> {
        let access = options
            .access
            .clone()
            .unwrap_or_else(|| ReadAccess::rule_set(path));
        // The watch starts before the first load, so no change after the load goes unseen.
        let (dir, only) = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => (path.to_path_buf(), None),
            Ok(_) => (
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                path.file_name().map(ToOwned::to_owned),
            ),
            // The loader says best what is wrong with the path.
            Err(e) => {
                return Err(match load_and_test(path, &access, options.failing_tests) {
                    Err(error) => Error::Rules(error),
                    Ok(_) => Error::Watch {
                        path: path.to_path_buf(),
                        source: notify::Error::io(e),
                    },
                })
            }
        };
        let (messages, received) = mpsc::channel();
        let sender = messages.clone();
        // The debouncer merges the events of one file; the reloading thread then waits for the
        // whole burst to settle: half the interval each.
        let half = (options.debounce / 2).max(Duration::from_millis(5));
        let mut debouncer = new_debouncer(half, None, move |result| {
            let _ = sender.send(match result {
                Ok(events) => Message::Events(events),
                Err(errors) => Message::Errors(errors),
            });
        })
        .map_err(|source| Error::Watch {
            path: dir.clone(),
            source,
        })?;
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|source| Error::Watch {
                path: dir.clone(),
                source,
            })?;
        let tested = load_and_test(path, &access, options.failing_tests).map_err(Error::Rules)?;
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            access,
            failing_tests: options.failing_tests,
            current: ArcSwap::from_pointee(tested.version(1)),
            last_error: Mutex::new(None),
            subscribers: Mutex::new(Vec::new()),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let filter = Filter { only };
            std::thread::Builder::new()
                .name("idic-reload".into())
                .spawn(move || shared.run(&received, &filter, half))
                .map_err(|e| Error::Watch {
                    path: dir.clone(),
                    source: notify::Error::io(e),
                })?
        };
        Ok(Reloader {
            shared,
            debouncer: Some(debouncer),
            messages,
            thread: Some(thread),
        })
    }

    /// The current version: complete, and valid for as long as it is held.
    pub fn current(&self) -> Arc<Loaded> {
        self.shared.current.load_full()
    }

    /// The current version's number.
    pub fn version(&self) -> u64 {
        self.shared.current.load().version
    }

    /// The current version's content hash.
    pub fn hash(&self) -> String {
        self.shared.current.load().hash().to_string()
    }

    /// Why the latest reload kept the current version; `None` once a reload succeeds or the
    /// files are back to the current version.
    pub fn last_error(&self) -> Option<ReloadError> {
        lock(&self.shared.last_error).clone()
    }

    /// A receiver told of every reload from now on, in order.
    pub fn subscribe(&self) -> Receiver<ReloadEvent> {
        let (sender, receiver) = mpsc::channel();
        lock(&self.shared.subscribers).push(sender);
        receiver
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        if let Some(debouncer) = self.debouncer.take() {
            debouncer.stop();
        }
        let _ = self.messages.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A rule set that loaded, checked and ran its tests, with what they found.
struct Tested {
    program: Program,
    tests: usize,
    failing: Option<Arc<TestReport>>,
}

impl Tested {
    fn version(self, version: u64) -> Loaded {
        Loaded {
            program: Arc::new(self.program),
            version,
            tests: self.tests,
            failing: self.failing,
        }
    }
}

/// Loads, checks and plans the rule set, and runs its tests: `Err` when they fail, unless
/// `failing` allows it.
fn load_and_test(
    path: &Path,
    access: &ReadAccess,
    failing: FailingTests,
) -> Result<Tested, ReloadError> {
    let program = load(path, access)?;
    tested(program, failing)
}

/// Loads and checks the rule set at `path`; a panic is an error like the others.
fn load(path: &Path, access: &ReadAccess) -> Result<Program, ReloadError> {
    crate::panics::catch(|| Program::load_with(path, access.clone()))
        .map_err(ReloadError::Internal)?
        .map_err(|e| ReloadError::Load(Arc::new(e)))
}

fn tested(program: Program, failing_tests: FailingTests) -> Result<Tested, ReloadError> {
    let report =
        crate::panics::catch(|| run_tests(&program, None)).map_err(ReloadError::Internal)?;
    let tests = report.cases.len();
    let failing = (!report.passed()).then(|| Arc::new(report));
    match failing {
        Some(report) if failing_tests == FailingTests::Refuse => Err(ReloadError::Tests(report)),
        failing => Ok(Tested {
            program,
            tests,
            failing,
        }),
    }
}

/// Which events are worth a reload.
struct Filter {
    /// The rule set is this one file of the watched directory.
    only: Option<std::ffi::OsString>,
}

impl Filter {
    /// The rule files `event` names, or `None` when it is not a change to one. A rescan (the
    /// system dropped events) counts as a change to everything.
    fn rule_files<'e>(&self, event: &'e DebouncedEvent) -> Option<Vec<&'e Path>> {
        if event.need_rescan() {
            return Some(Vec::new());
        }
        match event.kind {
            // Opening a file (the reload itself does) is no change; closing a written one is.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) | EventKind::Other => return None,
            _ => {}
        }
        let files: Vec<&Path> = event
            .paths
            .iter()
            .filter(|p| {
                p.file_name().is_some_and(|name| match &self.only {
                    Some(only) => name == only,
                    None => crate::syntax::is_rule_file(p),
                })
            })
            .map(PathBuf::as_path)
            .collect();
        (!files.is_empty()).then_some(files)
    }
}

/// The burst of changes being gathered.
#[derive(Default)]
struct Burst {
    first_event: Option<Instant>,
    paths: Vec<PathBuf>,
}

impl Burst {
    /// Adds the rule-file changes of `events`.
    fn add(&mut self, events: &[DebouncedEvent], filter: &Filter) {
        for event in events {
            if let Some(files) = filter.rule_files(event) {
                self.first_event = Some(self.first_event.map_or(event.time, |t| t.min(event.time)));
                for file in files {
                    if !self.paths.iter().any(|p| p == file) {
                        self.paths.push(file.to_path_buf());
                    }
                }
            }
        }
    }
}

impl Shared {
    /// The reloading thread: gathers each burst of changes until it has been quiet for
    /// `quiet`, then reloads; ends at [`Message::Stop`].
    fn run(&self, messages: &Receiver<Message>, filter: &Filter, quiet: Duration) {
        let mut burst = Burst::default();
        loop {
            let message = if burst.first_event.is_some() {
                match messages.recv_timeout(quiet) {
                    Ok(message) => message,
                    Err(RecvTimeoutError::Timeout) => {
                        let burst = std::mem::take(&mut burst);
                        self.reload(burst);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match messages.recv() {
                    Ok(message) => message,
                    Err(_) => return,
                }
            };
            match message {
                Message::Events(events) => burst.add(&events, filter),
                Message::Errors(errors) => {
                    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    let version = self.current.load().version;
                    let error = ReloadError::Watch(text.join("; "));
                    *lock(&self.last_error) = Some(error.clone());
                    let now = Instant::now();
                    self.publish(ReloadEvent::Kept {
                        version,
                        error,
                        change: Change {
                            first_event: now,
                            settled: now,
                            paths: Vec::new(),
                        },
                    });
                }
                Message::Stop => return,
            }
        }
    }

    /// Loads the rule set again and swaps it in when it is new and good.
    fn reload(&self, burst: Burst) {
        let settled = Instant::now();
        let change = Change {
            first_event: burst.first_event.unwrap_or(settled),
            settled,
            paths: burst.paths,
        };
        let current = self.current.load_full();
        let outcome = load(&self.path, &self.access).and_then(|program| {
            if program.content_hash() == current.hash() {
                Ok(None)
            } else {
                tested(program, self.failing_tests).map(Some)
            }
        });
        let event = match outcome {
            Ok(None) => ReloadEvent::Unchanged {
                version: current.version,
                change,
            },
            Ok(Some(tested)) => {
                let loaded = tested.version(current.version + 1);
                let event = ReloadEvent::Swapped {
                    version: loaded.version,
                    hash: loaded.hash().to_string(),
                    change,
                };
                self.current.store(Arc::new(loaded));
                event
            }
            Err(error) => ReloadEvent::Kept {
                version: current.version,
                error,
                change,
            },
        };
        *lock(&self.last_error) = match &event {
            ReloadEvent::Kept { error, .. } => Some(error.clone()),
            _ => None,
        };
        self.publish(event);
    }

    /// Tells every subscriber still listening.
    fn publish(&self, event: ReloadEvent) {
        lock(&self.subscribers).retain(|s| s.send(event.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use crate::syntax::is_rule_file;
    use std::path::Path;

    #[test]
    fn editor_files_are_not_rule_files() {
        for name in ["retail.idic", "tests.idic", "retail.toml", ".hidden.idic"] {
            assert!(is_rule_file(&Path::new("rules").join(name)), "{name}");
        }
        for name in [
            "retail.idic~",
            ".retail.idic.swp",
            ".retail.idic.swx",
            "4913",
            "#retail.idic#",
            ".#retail.idic",
            "retail.idic.tmp",
            "notes.txt",
        ] {
            assert!(!is_rule_file(&Path::new("rules").join(name)), "{name}");
        }
    }
}
