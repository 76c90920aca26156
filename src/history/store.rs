//! The contact history on disk: one SQLite database that `sqlite3`, DuckDB or pandas read as
//! they read any other (the tables are described in the README).
//!
//! A run that records holds the database's write lock from before it reads the history until
//! it has recorded (or failed), so two runs on one history never decide from the same state:
//! the second is refused at once with a clear message. Everything a run records is one
//! transaction, committed only after its outputs are in place: a run that fails, is stopped or
//! is killed leaves the history as it was (SQLite's write-ahead log rolls an unfinished
//! transaction back when the database is next opened). A run is known by its key, a digest of
//! the rule set, the export and `as_of`: recording the same run again records nothing.

use super::index::{day_of, fingerprint, Arm, Contact, Index, IndexBuilder, Keep, OTHER};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The schema version this idic writes (`PRAGMA user_version`): 2 added `contact_keys`; 3
/// split `contacts` into `treatments` and `contacted`, with `contacts` a view joining them; 4
/// added the global holdout's experiment (`holdout_groups`, `holdout_members`).
const VERSION: u8 = 4;

/// The run key of a run: SHA-256 over what makes its decisions (`parts`: the rule set's content
/// hash, the export's digest, the orders file's, the do-not-contact list's, `as_of`), each
/// part preceded by its length.
pub fn run_key(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in std::iter::once("idic-run-1").chain(parts.iter().copied()) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    format!("sha256:{}", crate::io::digest::hex(&hasher.finalize()))
}

/// The first 16 bytes of every SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The file a history directory holds.
pub const FILE_NAME: &str = "history.sqlite";

/// The runs, as every version keeps them.
const RUNS_TABLE: &str = "
CREATE TABLE runs (
    run          INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('run', 'import')),
    key          TEXT NOT NULL UNIQUE,
    as_of        TEXT,
    ruleset      TEXT,
    ruleset_hash TEXT,
    input        TEXT NOT NULL,
    input_hash   TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    contacts     INTEGER NOT NULL
);
";

/// Each run's contacts fingerprinted as a run reads them ([`RunKeys`]): see [`upgrade`].
const KEYS_TABLE: &str = "
CREATE TABLE contact_keys (
    run       INTEGER PRIMARY KEY REFERENCES runs (run),
    first_day INTEGER NOT NULL,
    last_day  INTEGER NOT NULL,
    triggers  TEXT NOT NULL,
    channels  TEXT NOT NULL,
    entries   BLOB NOT NULL
);
";

/// Version 3's contacts, for a new history and for one upgraded. A contact is a customer
/// (`contacted`) and what was done, which most contacts of a run share (`treatments`: the
/// trigger, action, channel and arm, and the customer's tier, stage and segments for
/// measuring): a run records two small values a contact. The view `contacts` joins them back
/// into one row per contact, as versions 1 and 2 kept them in a table of that name, numbered
/// by `contact`. Triggers keep `contact_keys` true.
const CONTACT_TABLES: &str = "
CREATE TABLE treatments (
    treatment INTEGER PRIMARY KEY,
    run       INTEGER NOT NULL REFERENCES runs (run),
    date      TEXT NOT NULL,
    trigger   TEXT,
    action    TEXT,
    channel   TEXT NOT NULL,
    activity  TEXT,
    service   INTEGER NOT NULL DEFAULT 0,
    arm       TEXT NOT NULL CHECK (arm IN ('treated', 'control')),
    tier      TEXT,
    stage     TEXT,
    segments  TEXT
);
CREATE TABLE contacted (
    contact   INTEGER PRIMARY KEY,
    treatment INTEGER NOT NULL,
    customer  TEXT NOT NULL
);
CREATE VIEW contacts AS
    SELECT c.contact, t.run, t.date, c.customer, t.trigger, t.action, t.channel, t.activity,
           t.service, t.arm, t.tier, t.stage, t.segments
    FROM contacted c JOIN treatments t USING (treatment);
CREATE VIEW contact_log AS
    SELECT c.contact, c.run, r.kind, r.as_of, r.ruleset, r.ruleset_hash, c.date, c.customer,
           c.trigger, c.action, c.channel, c.activity, c.service, c.arm, c.tier, c.stage,
           c.segments
    FROM contacts c JOIN runs r USING (run);
CREATE TRIGGER contact_keys_stale_on_delete AFTER DELETE ON contacted
    BEGIN DELETE FROM contact_keys
          WHERE run = (SELECT run FROM treatments WHERE treatment = OLD.treatment); END;
CREATE TRIGGER contact_keys_stale_on_update AFTER UPDATE ON contacted
    BEGIN DELETE FROM contact_keys WHERE run IN (
          SELECT run FROM treatments WHERE treatment IN (OLD.treatment, NEW.treatment)); END;
CREATE TRIGGER treatment_keys_stale_on_delete AFTER DELETE ON treatments
    BEGIN DELETE FROM contact_keys WHERE run = OLD.run; END;
CREATE TRIGGER treatment_keys_stale_on_update AFTER UPDATE ON treatments
    BEGIN DELETE FROM contact_keys WHERE run IN (OLD.run, NEW.run); END;
CREATE TRIGGER contacts_delete INSTEAD OF DELETE ON contacts
    BEGIN DELETE FROM contacted WHERE contact = OLD.contact; END;
";

/// The global holdout's experiment, run by run (version 4): the customers a marketing trigger
/// would have contacted, held out (`control`) or not (`treated`), in groups of one arm, tier,
/// stage and segments. `customers` counts the group's customers; `members` lists those recorded
/// one by one: every control, and the treated whose bucket is below
/// [`crate::engine::decision::AUDIENCE_SAMPLE`] times the holdout's (a random sample).
const HOLDOUT_TABLES: &str = "
CREATE TABLE holdout_groups (
    grp       INTEGER PRIMARY KEY,
    run       INTEGER NOT NULL REFERENCES runs (run),
    date      TEXT NOT NULL,
    arm       TEXT NOT NULL CHECK (arm IN ('treated', 'control')),
    tier      TEXT,
    stage     TEXT,
    segments  TEXT,
    customers INTEGER NOT NULL
);
CREATE TABLE holdout_members (
    grp       INTEGER NOT NULL REFERENCES holdout_groups (grp),
    customer  TEXT NOT NULL
);
CREATE VIEW holdout_log AS
    SELECT g.run, g.date, m.customer, g.arm, g.tier, g.stage, g.segments
    FROM holdout_members m JOIN holdout_groups g USING (grp);
";

/// Each run's contacts fingerprinted as a run reads them ([`RunKeys`]), so that a run reads one
/// blob per earlier run instead of its rows. Derived from the contacts: a change to or a
/// deletion of a run's rows (by idic's compaction or by anyone's SQL) drops the run's blob, and
/// its rows are read instead until the next recording run or compaction makes it again (as for
/// runs another program wrote). (Rows added by SQL to a run idic recorded are not watched: an
/// insert trigger would cost every recording more than a run spends deciding; contacts from
/// elsewhere come in as runs of their own.)
///
/// Version 1 had the `contacts` table alone, version 2 added `contact_keys`: both are moved
/// into version 3's tables, each contact keeping its number (its rowid) and its run's blob.
fn upgrade(from: u8) -> String {
    let contacts = if from < 3 {
        upgrade_contacts(from)
    } else {
        String::new()
    };
    format!("{contacts} {HOLDOUT_TABLES} PRAGMA user_version = {VERSION};")
}

/// Version 1's or 2's contacts moved into version 3's tables.
fn upgrade_contacts(from: u8) -> String {
    let keys = if from < 2 { KEYS_TABLE } else { "" };
    format!(
        "{keys}
        DROP VIEW contact_log;
        DROP TRIGGER IF EXISTS contact_keys_stale_on_delete;
        DROP TRIGGER IF EXISTS contact_keys_stale_on_update;
        ALTER TABLE contacts RENAME TO contacts_before;
        {CONTACT_TABLES}
        INSERT INTO treatments (run, date, trigger, action, channel, activity, service, arm,
                                tier, stage, segments)
            SELECT run, date, trigger, action, channel, activity, service, arm, tier, stage,
                   segments
            FROM contacts_before
            GROUP BY run, date, trigger, action, channel, activity, service, arm, tier, stage,
                     segments
            ORDER BY min(rowid);
        CREATE INDEX treatments_upgrading ON treatments (run, date, trigger, action, channel);
        INSERT INTO contacted (contact, treatment, customer)
            SELECT b.rowid, t.treatment, b.customer FROM contacts_before b JOIN treatments t
            ON t.run = b.run AND t.date = b.date AND t.trigger IS b.trigger
               AND t.action IS b.action AND t.channel = b.channel AND t.activity IS b.activity
               AND t.service = b.service AND t.arm = b.arm AND t.tier IS b.tier
               AND t.stage IS b.stage AND t.segments IS b.segments
            ORDER BY b.rowid;
        DROP INDEX treatments_upgrading;
        DROP TABLE contacts_before;"
    )
}

/// What went wrong with a contact history, as a sentence naming it.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Another run holds the history.
    #[error("the contact history `{0}` is in use by another run; nothing was run: try again when that run is done")]
    Busy(String),
    /// The file is not a contact history idic can read.
    #[error("`{path}` is not a contact history: {why}")]
    NotHistory { path: String, why: String },
    /// A date the history cannot hold.
    #[error("{0}")]
    Date(String),
    /// SQLite failed.
    #[error("the contact history `{path}`: {error}")]
    Sqlite { path: String, error: String },
}

/// Where the history named by `--history PATH` lives: `PATH/history.sqlite` when `PATH` is a
/// directory or ends with `/`, else `PATH` itself.
pub fn resolve(path: &Path) -> PathBuf {
    let text = path.as_os_str().to_string_lossy();
    if path.is_dir() || text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// The files SQLite keeps beside the history at `path` (its write-ahead log and shared
/// memory), which no output may be.
pub fn sidecars(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    [with("-wal"), with("-shm")]
}

/// What put a run's contacts in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `idic run`.
    Run,
    /// `idic history import`: contacts made outside idic.
    Import,
}

impl RunKind {
    /// As the `runs` table's `kind` column holds it.
    pub fn word(self) -> &'static str {
        match self {
            RunKind::Run => "run",
            RunKind::Import => "import",
        }
    }

    /// The kind the `runs` table's `kind` column names (the table allows only the two).
    pub fn of_word(word: &str) -> RunKind {
        if word == RunKind::Import.word() {
            RunKind::Import
        } else {
            RunKind::Run
        }
    }
}

/// A run of `idic run` (or an import) as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub kind: RunKind,
    /// Digest of what makes the run ([`run_key`]).
    pub key: String,
    /// The date decided at; `None` for an import.
    pub as_of: Option<String>,
    pub ruleset: String,
    pub ruleset_hash: String,
    /// The export, as named.
    pub input: String,
    pub input_hash: String,
}

/// A run recorded earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its number in the history.
    pub run: i64,
    /// When it was recorded (UTC, RFC 3339).
    pub recorded_at: String,
    pub contacts: u64,
}

/// One contact to record, with what measuring it needs later; a run's contacts borrow the
/// names they share (from its rule set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact<'a> {
    /// `YYYY-MM-DD`.
    pub date: Cow<'a, str>,
    pub customer: Cow<'a, str>,
    pub trigger: Option<Cow<'a, str>>,
    pub action: Option<Cow<'a, str>>,
    pub channel: Cow<'a, str>,
    pub activity: Option<Cow<'a, str>>,
    pub service: bool,
    pub arm: Arm,
    pub tier: Option<Cow<'a, str>>,
    pub stage: Option<Cow<'a, str>>,
    /// The customer's segments, joined by `;`.
    pub segments: Option<Cow<'a, str>>,
}

impl NewContact<'_> {
    /// The contact's treatment (all but the customer), owning its names.
    fn treatment_only(&self) -> NewContact<'static> {
        NewContact {
            date: Cow::Owned(self.date.to_string()),
            customer: Cow::Borrowed(""),
            trigger: own(&self.trigger),
            action: own(&self.action),
            channel: Cow::Owned(self.channel.to_string()),
            activity: own(&self.activity),
            service: self.service,
            arm: self.arm,
            tier: own(&self.tier),
            stage: own(&self.stage),
            segments: own(&self.segments),
        }
    }
}

/// An optional name, owned.
fn own(name: &Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    name.as_deref().map(|t| Cow::Owned(t.to_string()))
}

/// A customer of the global holdout's experiment in a run ([`HOLDOUT_TABLES`]), as the run
/// records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The customer id, when recorded one by one; `None` for a treated customer outside the
    /// sample, only counted.
    pub customer: Option<String>,
    pub arm: Arm,
    pub tier: Option<Cow<'a, str>>,
    pub stage: Option<Cow<'a, str>>,
    /// The customer's segments, joined by `;`.
    pub segments: Option<Cow<'a, str>>,
}

impl Member<'_> {
    /// The member's group (all but the customer), owning its names.
    fn group_only(&self) -> Member<'static> {
        Member {
            customer: None,
            arm: self.arm,
            tier: own(&self.tier),
            stage: own(&self.stage),
            segments: own(&self.segments),
        }
    }
}

/// What [`Store::measurable`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurable {
    /// Every run, oldest first.
    pub runs: Vec<MeasuredRun>,
    /// Every group of customers recorded.
    pub groups: Vec<MeasuredGroup>,
}

/// A run as `idic measure` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasuredRun {
    pub run: i64,
    pub kind: RunKind,
    /// `YYYY-MM-DD`; `None` for an import.
    pub as_of: Option<String>,
}

/// Customers of one run recorded together: a treatment's contacts, or a group of the global
/// holdout's experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasuredGroup {
    pub run: i64,
    /// The trigger; `None` for the global holdout's experiment and imported contacts without one.
    pub trigger: Option<String>,
    /// A group of the global holdout's experiment.
    pub global: bool,
    pub arm: Arm,
    /// The trigger's channel; `None` for the global holdout's experiment.
    pub channel: Option<String>,
    pub service: bool,
    pub tier: Option<String>,
    pub stage: Option<String>,
    /// Joined by `;`.
    pub segments: Option<String>,
    /// The global holdout's group: all its customers, recorded one by one or not.
    pub customers: Option<u64>,
}

/// Counts of a contact history ([`Store::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub runs: u64,
    pub contacts: u64,
    /// Per trigger (`None`: an imported contact without one), channel and arm.
    pub by_trigger: Vec<TriggerCount>,
    /// Per contact date, oldest first.
    pub by_day: Vec<DayCount>,
}

/// Contacts of one trigger on one channel in one arm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TriggerCount {
    pub trigger: Option<String>,
    pub channel: String,
    pub arm: String,
    pub contacts: u64,
}

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Contacts removed.
    pub removed: u64,
    /// Contacts before the date kept: each customer's last per trigger, channel and arm.
    pub kept: u64,
    /// Runs whose contacts were fingerprinted anew.
    pub fingerprinted: u64,
    /// The file was rewritten to its new size (when what was removed freed a quarter of it).
    pub vacuumed: bool,
    /// Bytes of the file left free, for the next runs to fill.
    pub free: u64,
}

/// A run's contacts as the `contact_keys` table keeps them: the trigger and channel names the
/// run used, and 16 bytes per contact, little-endian: the customer's [`fingerprint`] (8 bytes,
/// then its 2-byte check), the day ([`day_of`]), the trigger (a position in `triggers`,
/// `0xFFFF` for none), the channel (a position in `channels`) and a byte of flags: 1 for the
/// control arm (else treated), 2 for a service message. (Blobs written before the service flag
/// have it clear.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunKeys {
    triggers: Vec<String>,
    channels: Vec<String>,
    entries: Vec<u8>,
    days: Option<(u16, u16)>,
}

/// The size of one [`RunKeys`] entry.
const KEY_BYTES: usize = 16;

impl RunKeys {
    /// Adds a contact.
    fn add(
        &mut self,
        customer: &str,
        day: u16,
        trigger: Option<&str>,
        channel: &str,
        (arm, service): (Arm, bool),
    ) {
        let (key, check) = fingerprint(customer.as_bytes());
        let code = |names: &mut Vec<String>, name: &str| match names.iter().position(|n| n == name)
        {
            Some(i) => i,
            None => {
                names.push(name.to_string());
                names.len() - 1
            }
        };
        let trigger = trigger.map_or(u16::MAX, |t| {
            u16::try_from(code(&mut self.triggers, t)).unwrap_or(u16::MAX)
        });
        let channel = u8::try_from(code(&mut self.channels, channel)).unwrap_or(u8::MAX);
        self.entries.extend_from_slice(&key.to_le_bytes());
        self.entries.extend_from_slice(&check.to_le_bytes());
        self.entries.extend_from_slice(&day.to_le_bytes());
        self.entries.extend_from_slice(&trigger.to_le_bytes());
        self.entries.push(channel);
        self.entries
            .push(u8::from(arm == Arm::Control) | u8::from(service) << 1);
        self.days = Some(match self.days {
            Some((first, last)) => (first.min(day), last.max(day)),
            None => (day, day),
        });
    }

    /// Writes them as run `run`'s.
    fn insert(&self, conn: &Connection, run: i64) -> rusqlite::Result<()> {
        let (first, last) = self.days.unwrap_or_default();
        let json = |names: &[String]| serde_json::to_string(names).unwrap_or_default();
        conn.execute(
            "INSERT OR REPLACE INTO contact_keys (run, first_day, last_day, triggers, channels, entries)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run,
                first,
                last,
                json(&self.triggers),
                json(&self.channels),
                self.entries
            ],
        )?;
        Ok(())
    }
}

/// Contacts dated one day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayCount {
    pub date: String,
    pub contacts: u64,
}

/// What a run reads of the history: contacts up to `until` (its `as_of`), from `since` on
/// (all when `None`; under [`Keep::Policy`], never before its reach), of the runs recorded
/// before run `before_run` when given (the same run, recorded earlier, then decides again
/// exactly as it did).
#[derive(Debug, Clone)]
pub struct Window<'a> {
    pub since: Option<chrono::NaiveDate>,
    pub until: chrono::NaiveDate,
    pub before_run: Option<i64>,
    /// The rule set's triggers, whose names the index turns into indices.
    pub triggers: &'a [&'a str],
    /// The rule set's channels, likewise.
    pub channels: &'a [&'a str],
    /// Which of the contacts the index keeps.
    pub keep: Keep,
}

impl Window<'_> {
    /// The first day read: `since`, or later where the policy reads less far back.
    fn since(&self) -> Option<chrono::NaiveDate> {
        let reach = match &self.keep {
            Keep::Policy(reach) => reach.days().and_then(|days| {
                self.until
                    .checked_sub_days(chrono::Days::new(u64::from(days)))
            }),
            _ => None,
        };
        self.since.max(reach)
    }
}

/// An open contact history.
pub struct Store {
    conn: Connection,
    /// The database file.
    file: PathBuf,
    /// As named, for messages.
    path: String,
    /// A write transaction is open (the run holds the lock).
    writing: bool,
    /// The schema as committed when opened (a new history has none until a run commits).
    schema: Schema,
}

/// A history's schema version as committed (0: no tables yet), which says how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Schema(u8);

impl Schema {
    /// It has idic's tables.
    fn tables(self) -> bool {
        self.0 > 0
    }

    /// It has runs' contacts fingerprinted (`contact_keys`, from version 2).
    fn keys(self) -> bool {
        self.0 >= 2
    }

    /// It has the global holdout's experiment (version 4).
    fn holdout(self) -> bool {
        self.0 >= 4
    }

    /// The column of `contacts` that numbers them in the order recorded.
    fn number(self) -> &'static str {
        if self.0 >= 3 {
            "contact"
        } else {
            "rowid"
        }
    }
}

fn sqlite(path: &str) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |e| HistoryError::Sqlite {
        path: path.to_string(),
        error: e.to_string(),
    }
}

/// Whether `path` holds a database; an existing file that is not a SQLite database is refused
/// (the error ending with `advice`), so that idic never writes into one (SQLite would take an
/// empty file for a new database).
fn is_database(path: &Path, shown: &str, advice: &str) -> Result<bool, HistoryError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(HistoryError::Sqlite {
                path: shown.to_string(),
                error: e.to_string(),
            })
        }
    };
    let mut magic = [0u8; 16];
    let read = file.read(&mut magic).unwrap_or(0);
    if read < 16 || &magic != SQLITE_MAGIC {
        return Err(HistoryError::NotHistory {
            path: shown.to_string(),
            why: format!("the file exists and is not a SQLite database{advice}"),
        });
    }
    Ok(true)
}

impl Store {
    /// A store on `conn`, the database at `path` (named `shown`), its tables not checked yet.
    fn on(conn: Connection, path: &Path, shown: String) -> Store {
        Store {
            conn,
            file: path.to_path_buf(),
            path: shown,
            writing: false,
            schema: Schema(0),
        }
    }

    /// Opens the history at `path` for a run that records, creating it (and a missing last
    /// directory) when new, and takes its write lock, which is held until [`Recording::commit`]
    /// or until the store is dropped (recording nothing).
    pub fn lock(path: &Path) -> Result<Store, HistoryError> {
        let shown = path.display().to_string();
        let exists = is_database(path, &shown, "; name a new file or a directory")?;
        if !exists {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.exists() {
                    std::fs::create_dir(dir).map_err(|e| HistoryError::Sqlite {
                        path: shown.clone(),
                        error: format!("cannot create `{}`: {e}", dir.display()),
                    })?;
                }
            }
        }
        let conn = Connection::open(path).map_err(sqlite(&shown))?;
        let mut store = Store::on(conn, path, shown);
        // Another application's database is refused before anything in it changes.
        store.schema(false)?;
        let conn = &store.conn;
        let shown = store.path.clone();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sqlite(&shown))?;
        // The lock is taken at once or refused.
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(sqlite(&shown))?;
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    || e.code == rusqlite::ErrorCode::DatabaseLocked =>
            {
                return Err(HistoryError::Busy(shown));
            }
            Err(e) => return Err(sqlite(&shown)(e)),
        }
        // Readers (`idic history show`, a dry run) may hold the database a moment at commit.
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sqlite(&shown))?;
        store.writing = true;
        // Again under the lock, another run may have created the tables meanwhile. The
        // schema kept is the committed one, which the reader's own connection sees: an older
        // history is upgraded in this transaction, seen only once it commits.
        store.schema = store.schema(true)?;
        Ok(store)
    }

    /// Opens the history at `path` to read it; `None` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<Store>, HistoryError> {
        let shown = path.display().to_string();
        if !is_database(path, &shown, "")? {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(&shown))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sqlite(&shown))?;
        let mut store = Store::on(conn, path, shown);
        store.schema = store.schema(false)?;
        Ok(Some(store))
    }

    /// Checks the schema version, creating the tables in a new database or upgrading an older
    /// one when `create`; gives the schema as it was.
    fn schema(&self, create: bool) -> Result<Schema, HistoryError> {
        let fail = sqlite(&self.path);
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&fail)?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(&fail)?;
        let newer = |v: i64| HistoryError::NotHistory {
            path: self.path.clone(),
            why: format!(
                "written by a newer idic (schema version {v}; this idic reads version {VERSION})"
            ),
        };
        match u8::try_from(version) {
            Ok(v @ 1..=VERSION) => {
                // Older versions are read as they are, and upgraded when written.
                if create && v < VERSION {
                    self.conn.execute_batch(&upgrade(v)).map_err(&fail)?;
                }
                Ok(Schema(v))
            }
            Ok(0) if tables == 0 => {
                if create {
                    self.conn
                        .execute_batch(&format!(
                            "{RUNS_TABLE} {KEYS_TABLE} {CONTACT_TABLES} {HOLDOUT_TABLES} \
                             PRAGMA user_version = {VERSION};"
                        ))
                        .map_err(&fail)?;
                }
                Ok(Schema(0))
            }
            Ok(0) => Err(HistoryError::NotHistory {
                path: self.path.clone(),
                why: "a SQLite database of something else".to_string(),
            }),
            _ => Err(newer(version)),
        }
    }

    /// The history's path, as named.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The run recorded earlier with `key`, if any.
    pub fn recorded(&self, key: &str) -> Result<Option<Recorded>, HistoryError> {
        if !self.schema.tables() {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT run, recorded_at, contacts FROM runs WHERE key = ?1",
                [key],
                |r| {
                    Ok(Recorded {
                        run: r.get(0)?,
                        recorded_at: r.get(1)?,
                        contacts: r.get::<_, i64>(2)?.max(0) as u64,
                    })
                },
            )
            .optional()
            .map_err(sqlite(&self.path))
    }

    /// Calls `each` with every contact (of `customer` only, when given), with its run, in the
    /// order recorded; stops at its first error.
    pub fn each_contact<E: From<HistoryError>>(
        &self,
        customer: Option<&str>,
        mut each: impl FnMut(i64, &NewContact<'static>) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.schema.tables() {
            return Ok(());
        }
        let fail = sqlite(&self.path);
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT run, date, customer, trigger, action, channel, activity, service, arm, \
                 tier, stage, segments FROM contacts WHERE ?1 IS NULL OR customer = ?1 \
                 ORDER BY {}",
                self.schema.number()
            ))
            .map_err(&fail)?;
        let mut rows = statement.query([customer]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let read = || -> rusqlite::Result<(i64, NewContact<'static>)> {
                let text = |i: usize| row.get::<_, String>(i).map(Cow::Owned);
                let maybe = |i: usize| row.get::<_, Option<String>>(i).map(|t| t.map(Cow::Owned));
                let arm: String = row.get(8)?;
                Ok((
                    row.get(0)?,
                    NewContact {
                        date: text(1)?,
                        customer: text(2)?,
                        trigger: maybe(3)?,
                        action: maybe(4)?,
                        channel: text(5)?,
                        activity: maybe(6)?,
                        service: row.get(7)?,
                        arm: arm.parse().unwrap_or(Arm::Treated),
                        tier: maybe(9)?,
                        stage: maybe(10)?,
                        segments: maybe(11)?,
                    },
                ))
            };
            let (run, contact) = read().map_err(&fail)?;
            each(run, &contact)?;
        }
        Ok(())
    }

    /// Counts of the history: runs, contacts per trigger, channel and arm, and per day.
    pub fn stats(&self) -> Result<Stats, HistoryError> {
        let mut stats = Stats::default();
        if !self.schema.tables() {
            return Ok(stats);
        }
        let fail = sqlite(&self.path);
        let count = |sql: &str| -> Result<u64, HistoryError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
                .map_err(&fail)
        };
        stats.runs = count("SELECT count(*) FROM runs")?;
        stats.contacts = count("SELECT count(*) FROM contacts")?;
        let mut statement = self
            .conn
            .prepare(
                "SELECT coalesce(trigger, ''), channel, arm, count(*) FROM contacts \
                 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            )
            .map_err(&fail)?;
        stats.by_trigger = statement
            .query_map([], |r| {
                Ok(TriggerCount {
                    trigger: r
                        .get::<_, String>(0)
                        .map(|t| (!t.is_empty()).then_some(t))?,
                    channel: r.get(1)?,
                    arm: r.get(2)?,
                    contacts: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })
            .and_then(Iterator::collect)
            .map_err(&fail)?;
        let mut statement = self
            .conn
            .prepare("SELECT date, count(*) FROM contacts GROUP BY 1 ORDER BY 1")
            .map_err(&fail)?;
        stats.by_day = statement
            .query_map([], |r| {
                Ok(DayCount {
                    date: r.get(0)?,
                    contacts: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })
            .and_then(Iterator::collect)
            .map_err(&fail)?;
        Ok(stats)
    }

    /// What `idic measure` reads: the runs, the groups of customers they recorded (each run's
    /// treatments, and its groups of the global holdout's experiment) and, through `each`,
    /// every customer recorded in a group (by index into the groups), in no particular order.
    pub fn measurable(
        &self,
        mut each: impl FnMut(usize, &str),
    ) -> Result<Measurable, HistoryError> {
        let mut measurable = Measurable::default();
        if !self.schema.tables() {
            return Ok(measurable);
        }
        if self.schema.0 < 3 {
            return Err(HistoryError::NotHistory {
                path: self.path.clone(),
                why: format!(
                    "written by an older idic (schema version {}): a run of this idic that \
                     records, or `idic history compact`, upgrades it",
                    self.schema.0
                ),
            });
        }
        let fail = sqlite(&self.path);
        let mut runs = self
            .conn
            .prepare("SELECT run, kind, as_of FROM runs ORDER BY run")
            .map_err(&fail)?;
        measurable.runs = runs
            .query_map([], |r| {
                let kind: String = r.get(1)?;
                Ok(MeasuredRun {
                    run: r.get(0)?,
                    kind: RunKind::of_word(&kind),
                    as_of: r.get(2)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(&fail)?;
        // A table of groups, then the customers of each, by the group's number.
        let mut read = |groups_sql: &str, members_sql: &str, global: bool| {
            let mut numbers = std::collections::HashMap::new();
            let groups = &mut measurable.groups;
            let mut statement = self.conn.prepare(groups_sql)?;
            let mut rows = statement.query([])?;
            while let Some(r) = rows.next()? {
                let arm: String = r.get(3)?;
                numbers.insert(r.get::<_, i64>(0)?, groups.len());
                groups.push(MeasuredGroup {
                    run: r.get(1)?,
                    trigger: r.get(2)?,
                    global,
                    arm: arm.parse().unwrap_or(Arm::Treated),
                    channel: r.get(4)?,
                    service: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                    tier: r.get(6)?,
                    stage: r.get(7)?,
                    segments: r.get(8)?,
                    customers: r.get::<_, Option<i64>>(9)?.map(|n| n.max(0) as u64),
                });
            }
            let mut statement = self.conn.prepare(members_sql)?;
            let mut rows = statement.query([])?;
            while let Some(r) = rows.next()? {
                let number: i64 = r.get(0)?;
                if let (Some(&group), Ok(customer)) = (numbers.get(&number), r.get_ref(1)?.as_str())
                {
                    each(group, customer);
                }
            }
            Ok::<_, rusqlite::Error>(())
        };
        read(
            "SELECT treatment, run, trigger, arm, channel, service, tier, stage, segments, NULL \
             FROM treatments ORDER BY treatment",
            "SELECT treatment, customer FROM contacted",
            false,
        )
        .map_err(&fail)?;
        if self.schema.holdout() {
            read(
                "SELECT grp, run, NULL, arm, NULL, 0, tier, stage, segments, customers \
                 FROM holdout_groups ORDER BY grp",
                "SELECT grp, customer FROM holdout_members",
                true,
            )
            .map_err(&fail)?;
        }
        Ok(measurable)
    }

    /// A reader of the history's contacts, which can go to another thread.
    pub fn reader(&self) -> Reader {
        Reader {
            file: self.file.clone(),
            path: self.path.clone(),
            schema: self.schema,
        }
    }

    /// Compacts the history: of the contacts dated before `before`, keeps each customer's last
    /// one per trigger, channel and arm (all that re-entry and cooldowns read of them) and
    /// removes the others, and fingerprints every run that lacks it ([`RunKeys`]), in the
    /// transaction [`Store::lock`] opened; then gives the space back to the file system when
    /// it is a quarter of the file or more.
    pub fn compact(self, before: chrono::NaiveDate) -> Result<Compacted, HistoryError> {
        let (conn, path) = (&self.conn, self.path.clone());
        let fail = sqlite(&path);
        if !self.schema.tables() {
            return Ok(Compacted::default());
        }
        let date = before.format("%Y-%m-%d").to_string();
        let older: u64 = conn
            .query_row(
                "SELECT count(*) FROM contacts WHERE date < ?1",
                [&date],
                |r| r.get(0),
            )
            .map_err(&fail)?;
        // (The lock upgraded the history to this version's tables.) The contacts to remove
        // are listed first, in order, with their runs, whose fingerprints go stale: deleting
        // them then takes one pass without the trigger that would mark each run stale row by
        // row (and hold every row's number in memory until the end), put back after.
        conn.execute_batch(
            "CREATE TEMP TABLE compact_removed (contact INTEGER PRIMARY KEY, run INTEGER NOT NULL)",
        )
        .map_err(&fail)?;
        conn.execute(
            "INSERT INTO compact_removed
             SELECT contact, run FROM (
                 SELECT contact, run, row_number() OVER (
                     PARTITION BY customer, trigger, channel, arm
                     ORDER BY date DESC, contact DESC) AS n
                 FROM contacts WHERE date < ?1)
             WHERE n > 1 ORDER BY contact",
            [&date],
        )
        .map_err(&fail)?;
        let stale_trigger: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master
                 WHERE type = 'trigger' AND name = 'contact_keys_stale_on_delete'",
                [],
                |r| r.get(0),
            )
            .map_err(&fail)?;
        conn.execute_batch("DROP TRIGGER contact_keys_stale_on_delete")
            .map_err(&fail)?;
        // By ranges of contact numbers: SQLite holds the numbers of the rows a `DELETE` removes
        // until it ends, so that a range of a million at most bounds that memory (16 MB).
        let (low, high): (i64, i64) = conn
            .query_row(
                "SELECT coalesce(min(contact), 0), coalesce(max(contact), -1) FROM compact_removed",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&fail)?;
        let mut delete = conn
            .prepare(
                "DELETE FROM contacted WHERE contact IN (
                     SELECT contact FROM compact_removed WHERE contact BETWEEN ?1 AND ?2)",
            )
            .map_err(&fail)?;
        const RANGE: i64 = 1 << 20;
        let mut removed = 0;
        for from in (low..=high).step_by(RANGE as usize) {
            removed += delete.execute([from, from + RANGE - 1]).map_err(&fail)? as u64;
        }
        drop(delete);
        conn.execute_batch(&format!(
            "{stale_trigger};
             DELETE FROM contact_keys WHERE run IN (SELECT DISTINCT run FROM compact_removed);
             DROP TABLE compact_removed;"
        ))
        .map_err(&fail)?;
        conn.execute(
            "DELETE FROM treatments WHERE treatment NOT IN (SELECT treatment FROM contacted)",
            [],
        )
        .map_err(&fail)?;
        // The global holdout's experiment is measured, never read by the policy: it goes.
        conn.execute(
            "DELETE FROM holdout_members
             WHERE grp IN (SELECT grp FROM holdout_groups WHERE date < ?1)",
            [&date],
        )
        .and_then(|_| conn.execute("DELETE FROM holdout_groups WHERE date < ?1", [&date]))
        .map_err(&fail)?;
        let fingerprinted = self.fingerprint_runs()?;
        conn.execute_batch("COMMIT").map_err(&fail)?;
        // The pages freed go back to the file system when they are a quarter of the file or
        // more (fewer are left for the next runs to fill: rewriting a large file each night
        // for a few pages is not worth it). Another run may take the history meanwhile; the
        // compaction stands, the file shrinks next time.
        let pages = |pragma: &str| conn.query_row(pragma, [], |r| r.get::<_, i64>(0));
        let (free, all) = (pages("PRAGMA freelist_count"), pages("PRAGMA page_count"));
        let worth = matches!((free, all), (Ok(free), Ok(all)) if free > 0 && 4 * free >= all);
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(&fail)?;
        let vacuumed = worth && conn.execute_batch("VACUUM").is_ok();
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        let free =
            pages("PRAGMA freelist_count").unwrap_or(0) * pages("PRAGMA page_size").unwrap_or(0);
        Ok(Compacted {
            removed,
            kept: older - removed,
            fingerprinted,
            vacuumed,
            free: free as u64,
        })
    }

    /// Makes the [`RunKeys`] of every run that has none (recorded by another program, or
    /// whose rows changed); gives how many runs.
    fn fingerprint_runs(&self) -> Result<u64, HistoryError> {
        let fail = sqlite(&self.path);
        let stale: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM runs WHERE run NOT IN (SELECT run FROM contact_keys)",
                [],
                |r| r.get(0),
            )
            .map_err(&fail)?;
        if stale == 0 {
            return Ok(0);
        }
        let mut statement = self
            .conn
            .prepare(
                "SELECT run, date, customer, trigger, channel, arm, service FROM contacts
                 WHERE run NOT IN (SELECT run FROM contact_keys) ORDER BY run, contact",
            )
            .map_err(&fail)?;
        let mut rows = statement.query([]).map_err(&fail)?;
        // Each run's keys are written once its rows are read: one run's in memory at a time.
        let mut run: Option<(i64, RunKeys)> = None;
        let mut fingerprinted = 0;
        while let Some(row) = rows.next().map_err(&fail)? {
            let number: i64 = row.get(0).map_err(&fail)?;
            if run.as_ref().is_none_or(|(r, _)| *r != number) {
                if let Some((done, keys)) = run.replace((number, RunKeys::default())) {
                    keys.insert(&self.conn, done).map_err(&fail)?;
                    fingerprinted += 1;
                }
            }
            let text = |i: usize| row.get::<_, Option<String>>(i).ok().flatten();
            let arm = text(5).and_then(|a| a.parse::<Arm>().ok());
            let day = text(1).as_deref().and_then(parse_day);
            if let (Some(customer), Some(day), Some(channel), Some(arm)) =
                (text(2), day, text(4), arm)
            {
                let keys = &mut run.as_mut().expect("set above").1;
                let service = row.get::<_, Option<i64>>(6).ok().flatten().unwrap_or(0) != 0;
                keys.add(&customer, day, text(3).as_deref(), &channel, (arm, service));
            }
        }
        drop(rows);
        drop(statement);
        if let Some((done, keys)) = run {
            keys.insert(&self.conn, done).map_err(&fail)?;
            fingerprinted += 1;
        }
        // Runs without a contact: an empty blob says there is nothing to read.
        self.conn
            .execute(
                "INSERT INTO contact_keys (run, first_day, last_day, triggers, channels, entries)
                 SELECT run, 0, 0, '[]', '[]', x'' FROM runs
                 WHERE run NOT IN (SELECT run FROM contact_keys)",
                [],
            )
            .map_err(&fail)?;
        Ok(fingerprinted)
    }

    /// Starts recording `run` in the transaction [`Store::lock`] opened.
    pub fn record(self, run: &RunRecord) -> Result<Recording, HistoryError> {
        if !self.writing {
            return Err(HistoryError::Sqlite {
                path: self.path.clone(),
                error: "opened to read only".to_string(),
            });
        }
        self.conn
            .execute(
                "INSERT INTO runs (kind, key, as_of, ruleset, ruleset_hash, input, input_hash,
                                   recorded_at, contacts)
                 VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, '', 0)",
                params![
                    run.key,
                    run.as_of,
                    run.ruleset,
                    run.ruleset_hash,
                    run.input,
                    run.input_hash,
                    run.kind.word()
                ],
            )
            .map_err(sqlite(&self.path))?;
        Ok(Recording {
            run: self.conn.last_insert_rowid(),
            store: self,
            contacts: 0,
            keys: RunKeys::default(),
            last_date: (String::new(), None),
            treatments: Numbered::default(),
            holdout_groups: Numbered::default(),
        })
    }
}

/// Reads the contacts of a history, on connections of its own (one per core), so that it can
/// work on another thread while the history stays locked.
#[derive(Debug, Clone)]
pub struct Reader {
    file: PathBuf,
    path: String,
    /// The committed schema (a history made by the run reading it has no tables yet).
    schema: Schema,
}

impl Reader {
    /// The contacts in `window`, indexed by customer. A contact dated outside the days the
    /// index can hold (2000 to 6 June 2179) is left out.
    pub fn load(&self, window: &Window<'_>) -> Result<Index, HistoryError> {
        let today = day_of(window.until).ok_or_else(|| {
            HistoryError::Date(format!(
                "as_of {} is outside the days a contact history holds (2000-01-01 to 2179-06-06)",
                window.until
            ))
        })?;
        let mut builder = IndexBuilder::new(window.channels, today, window.keep.clone());
        if !self.schema.tables() {
            return Ok(builder.finish());
        }
        let fail = sqlite(&self.path);
        let conn = Connection::open_with_flags(&self.file, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(&fail)?;
        // The runs read row by row: those without fingerprints (none, usually), found in the
        // snapshot their blobs were read from, so that a run fingerprinted meanwhile (by a
        // recording run or a compaction) is read once, not skipped; all of them before
        // version 2.
        let mut unkeyed: Option<Vec<i64>> = None;
        if self.schema.keys() {
            conn.execute_batch("BEGIN").map_err(&fail)?;
            read_keys(&conn, window, &mut builder).map_err(&fail)?;
            let runs: Vec<i64> = conn
                .prepare(
                    "SELECT run FROM runs WHERE run NOT IN (SELECT run FROM contact_keys)
                     AND (?1 IS NULL OR run < ?1)",
                )
                .and_then(|mut s| {
                    s.query_map([window.before_run], |r| r.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(&fail)?;
            conn.execute_batch("COMMIT").map_err(&fail)?;
            if runs.is_empty() {
                return Ok(builder.finish());
            }
            unkeyed = Some(runs);
        }
        let last: i64 = conn
            .query_row(
                &format!(
                    "SELECT coalesce(max({}), 0) FROM contacts",
                    self.schema.number()
                ),
                [],
                |r| r.get(0),
            )
            .map_err(&fail)?;
        // The contacts are read in slices of rows, one per core, each on its own connection.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let slices = if last < 100_000 {
            1
        } else {
            threads.clamp(1, 8) as i64
        };
        let per = last / slices + 1;
        let (file, path, schema) = (&self.file, self.path.as_str(), self.schema);
        let runs = unkeyed.as_deref();
        let parts: Vec<Result<IndexBuilder, HistoryError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..slices)
                .map(|i| {
                    let rows = i * per + 1..=(i + 1) * per;
                    let part = builder.part();
                    scope.spawn(move || load_rows(file, path, window, rows, schema, runs, part))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(HistoryError::Sqlite {
                            path: path.to_string(),
                            error: "internal error (a bug in idic) while reading".to_string(),
                        })
                    })
                })
                .collect()
        });
        for part in parts {
            builder.append(part?);
        }
        Ok(builder.finish())
    }
}

/// The fingerprinted contacts in `window` of the runs that have them ([`RunKeys`]).
fn read_keys(
    conn: &Connection,
    window: &Window<'_>,
    builder: &mut IndexBuilder,
) -> rusqlite::Result<()> {
    let until = day_of(window.until).unwrap_or(u16::MAX);
    let since = window.since().and_then(day_of).unwrap_or(0);
    let mut statement = conn.prepare(
        "SELECT triggers, channels, entries FROM contact_keys
         WHERE last_day >= ?1 AND first_day <= ?2 AND (?3 IS NULL OR run < ?3)",
    )?;
    let mut rows = statement.query(params![since, until, window.before_run])?;
    while let Some(row) = rows.next()? {
        let names = |i: usize| -> Vec<String> {
            let text = row.get_ref(i).ok().and_then(|v| v.as_str().ok());
            text.and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default()
        };
        let triggers: Vec<u16> = names(0)
            .iter()
            .map(|t| {
                window
                    .triggers
                    .iter()
                    .position(|n| n == t)
                    .and_then(|i| u16::try_from(i).ok())
                    .unwrap_or(OTHER)
            })
            .collect();
        let channels: Vec<u8> = names(1)
            .iter()
            .map(|c| builder.channel(c.as_bytes()))
            .collect();
        let entries = row.get_ref(2)?.as_blob().unwrap_or_default();
        for e in entries.chunks_exact(KEY_BYTES) {
            let u16_at = |i: usize| u16::from_le_bytes([e[i], e[i + 1]]);
            let day = u16_at(10);
            if day < since || day > until {
                continue;
            }
            let key = u64::from_le_bytes(e[..8].try_into().expect("8 bytes"));
            let trigger = triggers
                .get(usize::from(u16_at(12)))
                .copied()
                .unwrap_or(OTHER);
            let channel = channels
                .get(usize::from(e[14]))
                .copied()
                .unwrap_or(super::index::OTHER_CHANNEL);
            // Another rule set's service message: no step of this one reads it.
            if e[15] & 2 != 0 && trigger == OTHER {
                builder.skip();
                continue;
            }
            let arm = if e[15] & 1 == 1 {
                Arm::Control
            } else {
                Arm::Treated
            };
            let contact = Contact {
                day,
                trigger,
                channel,
                arm,
            };
            builder.push_fingerprint(key, u16_at(8), contact);
        }
    }
    Ok(())
}

/// Adds to `builder` the contacts in `window` among contacts `rows` (by number) of the history
/// in `file` (named `path`), read on a connection of their own; only those of `runs` when
/// given.
fn load_rows(
    file: &Path,
    path: &str,
    window: &Window<'_>,
    rows: std::ops::RangeInclusive<i64>,
    schema: Schema,
    runs: Option<&[i64]>,
    mut builder: IndexBuilder,
) -> Result<IndexBuilder, HistoryError> {
    let fail = sqlite(path);
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&fail)?;
    let mut sql = format!(
        "SELECT customer, date, trigger, channel, arm, service FROM contacts \
         WHERE {} BETWEEN ?1 AND ?2 AND date <= ?3",
        schema.number()
    );
    let first_day = window.since();
    if first_day.is_some() {
        sql.push_str(" AND date >= ?4");
    }
    if window.before_run.is_some() {
        sql.push_str(" AND run < ?5");
    }
    if let Some(runs) = runs {
        let list: Vec<String> = runs.iter().map(i64::to_string).collect();
        sql.push_str(&format!(" AND run IN ({})", list.join(", ")));
    }
    let mut statement = conn.prepare(&sql).map_err(&fail)?;
    let date = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    statement
        .raw_bind_parameter(1, *rows.start())
        .and_then(|()| statement.raw_bind_parameter(2, *rows.end()))
        .and_then(|()| statement.raw_bind_parameter(3, date(window.until)))
        .map_err(&fail)?;
    if let Some(since) = first_day {
        statement
            .raw_bind_parameter(4, date(since))
            .map_err(&fail)?;
    }
    if let Some(run) = window.before_run {
        statement.raw_bind_parameter(5, run).map_err(&fail)?;
    }
    let mut result = statement.raw_query();
    // A run's contacts share their date: parsed once.
    let mut last_date: (Vec<u8>, Option<u16>) = (Vec::new(), None);
    while let Some(row) = result.next().map_err(&fail)? {
        let bytes = |i: usize| row.get_ref(i).ok().and_then(|v| v.as_bytes().ok());
        let day = bytes(1).and_then(|d| {
            if d != last_date.0.as_slice() {
                let parsed = std::str::from_utf8(d).ok().and_then(parse_day);
                last_date = (d.to_vec(), parsed);
            }
            last_date.1
        });
        let arm = bytes(4)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|w| w.parse::<Arm>().ok());
        let (Some(customer), Some(day), Some(channel), Some(arm)) = (bytes(0), day, bytes(3), arm)
        else {
            continue;
        };
        let trigger = bytes(2)
            .and_then(|t| window.triggers.iter().position(|n| n.as_bytes() == t))
            .and_then(|i| u16::try_from(i).ok())
            .unwrap_or(OTHER);
        // Another rule set's service message: no step of this one reads it.
        if trigger == OTHER && row.get_ref(5).ok().and_then(|v| v.as_i64().ok()) == Some(1) {
            builder.skip();
            continue;
        }
        let channel = builder.channel(channel);
        builder.push(
            customer,
            Contact {
                day,
                trigger,
                channel,
                arm,
            },
        );
    }
    Ok(builder)
}

/// A run being recorded: its contacts are added as they are decided and become part of the
/// history together, at [`Recording::commit`]; dropped before, it records nothing.
pub struct Recording {
    store: Store,
    run: i64,
    contacts: u64,
    /// The run's contacts fingerprinted, written beside them at commit.
    keys: RunKeys,
    /// The last date parsed, and its day.
    last_date: (String, Option<u16>),
    /// The treatments recorded so far (a contact without its customer), each with its number.
    treatments: Numbered<NewContact<'static>>,
    /// The global holdout's groups recorded so far (a member without its customer), each with
    /// its number and how many customers it has.
    holdout_groups: Numbered<Member<'static>>,
}

/// Rows a run has recorded in a table of groups, each found by what tells it from the others
/// without allocating: by a fast hash of that, then compared (the map's own hash only spreads
/// these).
struct Numbered<T> {
    by_hash: std::collections::HashMap<u64, Vec<(T, i64, u64)>>,
}

impl<T> Default for Numbered<T> {
    fn default() -> Self {
        Numbered {
            by_hash: Default::default(),
        }
    }
}

impl<T> Numbered<T> {
    /// The row that `is` the one wanted (of hash `hash`), with its number and how many times
    /// it was asked for, this time included; `insert` records a new one and gives it and its
    /// number.
    fn find(
        &mut self,
        hash: u64,
        is: impl Fn(&T) -> bool,
        insert: impl FnOnce() -> rusqlite::Result<(T, i64)>,
    ) -> rusqlite::Result<(i64, &mut u64)> {
        let known = self.by_hash.entry(hash).or_default();
        let at = match known.iter().position(|(t, _, _)| is(t)) {
            Some(at) => at,
            None => {
                let (t, number) = insert()?;
                known.push((t, number, 0));
                known.len() - 1
            }
        };
        let (_, number, uses) = &mut known[at];
        *uses += 1;
        Ok((*number, uses))
    }

    /// Every row's number and how many times it was asked for.
    fn counts(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.by_hash
            .values()
            .flatten()
            .map(|(_, n, uses)| (*n, *uses))
    }
}

/// A fast hash of what tells a row of a group table from another.
fn fast_hash(key: impl std::hash::Hash) -> u64 {
    ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(key)
}

/// Inserts `(number, customer)` pairs with `head` (`INSERT INTO table (a, b) VALUES`), up to
/// `ROWS` a statement: fewer statements to step.
fn insert_pairs(conn: &Connection, head: &str, pairs: &[(i64, &str)]) -> rusqlite::Result<()> {
    const ROWS: usize = 32;
    for chunk in pairs.chunks(ROWS) {
        // Every chunk but the last takes the full statement, prepared once.
        let sql = format!("{head} {}", vec!["(?, ?)"; chunk.len()].join(", "));
        let mut statement = conn.prepare_cached(&sql)?;
        for (i, (number, customer)) in chunk.iter().enumerate() {
            statement.raw_bind_parameter(2 * i + 1, number)?;
            statement.raw_bind_parameter(2 * i + 2, customer)?;
        }
        statement.raw_execute()?;
    }
    Ok(())
}

/// What tells a contact's treatment from another's: everything but the customer.
type Treatment<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    bool,
    Arm,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn treatment<'a>(c: &'a NewContact<'_>) -> Treatment<'a> {
    (
        &c.date,
        c.trigger.as_deref(),
        c.action.as_deref(),
        &c.channel,
        c.activity.as_deref(),
        c.service,
        c.arm,
        c.tier.as_deref(),
        c.stage.as_deref(),
        c.segments.as_deref(),
    )
}

/// The number of `contact`'s treatment in run `run`, recorded when new.
fn treatment_number(
    treatments: &mut Numbered<NewContact<'static>>,
    conn: &Connection,
    run: i64,
    contact: &NewContact<'_>,
) -> rusqlite::Result<i64> {
    let wanted = treatment(contact);
    let insert = || {
        let c = contact;
        conn.prepare_cached(
            "INSERT INTO treatments (run, date, trigger, action, channel, activity, service, arm,
                                     tier, stage, segments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            run,
            c.date,
            c.trigger,
            c.action,
            c.channel,
            c.activity,
            c.service,
            c.arm.word(),
            c.tier,
            c.stage,
            c.segments
        ])?;
        Ok((contact.treatment_only(), conn.last_insert_rowid()))
    };
    let found = treatments.find(fast_hash(wanted), |c| treatment(c) == wanted, insert);
    found.map(|(number, _)| number)
}

/// What tells a group of the global holdout's experiment from another: all but the customer.
fn holdout_group<'a>(
    m: &'a Member<'_>,
) -> (Arm, Option<&'a str>, Option<&'a str>, Option<&'a str>) {
    (
        m.arm,
        m.tier.as_deref(),
        m.stage.as_deref(),
        m.segments.as_deref(),
    )
}

impl Recording {
    /// The run's number in the history.
    pub fn run(&self) -> i64 {
        self.run
    }

    /// Adds contacts to the run.
    pub fn add(&mut self, contacts: &[NewContact<'_>]) -> Result<(), HistoryError> {
        let fail = sqlite(&self.store.path);
        let conn = &self.store.conn;
        let mut pairs = Vec::with_capacity(contacts.len());
        for c in contacts {
            if c.date != self.last_date.0 {
                self.last_date = (c.date.to_string(), parse_day(&c.date));
            }
            // A contact outside the days a history holds is kept, never read.
            if let Some(day) = self.last_date.1 {
                let trigger = c.trigger.as_deref();
                self.keys
                    .add(&c.customer, day, trigger, &c.channel, (c.arm, c.service));
            }
            let number = treatment_number(&mut self.treatments, conn, self.run, c);
            pairs.push((number.map_err(&fail)?, &*c.customer));
        }
        let head = "INSERT INTO contacted (treatment, customer) VALUES";
        insert_pairs(conn, head, &pairs).map_err(&fail)?;
        self.contacts += contacts.len() as u64;
        Ok(())
    }

    /// Adds customers of the global holdout's experiment to the run, dated `date`: those with
    /// an id one row each, every one counted in their group.
    pub fn add_members(&mut self, date: &str, members: &[Member<'_>]) -> Result<(), HistoryError> {
        let fail = sqlite(&self.store.path);
        let conn = &self.store.conn;
        let mut pairs = Vec::new();
        for m in members {
            let wanted = holdout_group(m);
            let insert =
                || {
                    conn.prepare_cached(
                    "INSERT INTO holdout_groups (run, date, arm, tier, stage, segments, customers)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                )?
                .execute(params![self.run, date, m.arm.word(), wanted.1, wanted.2, wanted.3])?;
                    Ok((m.group_only(), conn.last_insert_rowid()))
                };
            let (grp, _) = self
                .holdout_groups
                .find(fast_hash(wanted), |g| holdout_group(g) == wanted, insert)
                .map_err(&fail)?;
            if let Some(customer) = &m.customer {
                pairs.push((grp, customer.as_str()));
            }
        }
        let head = "INSERT INTO holdout_members (grp, customer) VALUES";
        insert_pairs(conn, head, &pairs).map_err(&fail)
    }

    /// Records the run, stamped with the wall-clock time: everything since [`Store::lock`]
    /// becomes durable at once, and the lock is released. Gives the contacts recorded.
    pub fn commit(self) -> Result<u64, HistoryError> {
        let (conn, path) = (&self.store.conn, &self.store.path);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        conn.execute(
            "UPDATE runs SET recorded_at = ?1, contacts = ?2 WHERE run = ?3",
            params![now, self.contacts as i64, self.run],
        )
        .map_err(sqlite(path))?;
        self.keys.insert(conn, self.run).map_err(sqlite(path))?;
        let mut counted = conn
            .prepare("UPDATE holdout_groups SET customers = ?1 WHERE grp = ?2")
            .map_err(sqlite(path))?;
        for (grp, customers) in self.holdout_groups.counts() {
            counted
                .execute(params![customers as i64, grp])
                .map_err(sqlite(path))?;
        }
        drop(counted);
        // Runs whose rows changed since they were fingerprinted (or that another program
        // wrote) are fingerprinted again, so that the next runs read no rows.
        self.store.fingerprint_runs()?;
        conn.execute_batch("COMMIT").map_err(sqlite(path))?;
        // Fold the log into the database file, so that the file alone is the whole history;
        // a reader holding it only postpones this.
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        Ok(self.contacts)
    }
}

/// `YYYY-MM-DD` as a day number ([`day_of`]).
fn parse_day(text: &str) -> Option<u16> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(day_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(key: &str) -> RunRecord {
        RunRecord {
            kind: RunKind::Run,
            key: key.to_string(),
            as_of: Some("2026-11-01".to_string()),
            ruleset: "t".to_string(),
            ruleset_hash: "sha256:0".to_string(),
            input: "customers.csv".to_string(),
            input_hash: "sha256:1".to_string(),
        }
    }

    fn contact<'a>(customer: &'a str, date: &'a str, trigger: &'a str) -> NewContact<'a> {
        NewContact {
            date: date.into(),
            customer: customer.into(),
            trigger: Some(trigger.into()),
            action: Some("a".into()),
            channel: "email".into(),
            activity: Some("winback".into()),
            service: false,
            arm: Arm::Treated,
            tier: None,
            stage: None,
            segments: None,
        }
    }

    fn date(text: &str) -> chrono::NaiveDate {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn recorded_contacts_are_read_back_and_a_dropped_run_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = resolve(&dir.path().join("state/"));
        assert!(path.ends_with("state/history.sqlite"));
        let mut recording = Store::lock(&path).unwrap().record(&run("k1")).unwrap();
        let id = recording.run();
        recording
            .add(&[
                contact("C1", "2026-10-01", "winback"),
                contact("C2", "2026-10-01", "welcome"),
            ])
            .unwrap();
        assert_eq!(recording.commit().unwrap(), 2);

        // A second run is dropped before it commits: nothing of it stays.
        let mut recording = Store::lock(&path).unwrap().record(&run("k2")).unwrap();
        recording
            .add(&[contact("C1", "2026-10-02", "winback")])
            .unwrap();
        drop(recording);

        let store = Store::read(&path).unwrap().unwrap();
        assert_eq!(store.recorded("k1").unwrap().unwrap().contacts, 2);
        assert_eq!(store.recorded("k2").unwrap(), None);
        let index = store
            .reader()
            .load(&Window {
                since: None,
                until: date("2026-11-01"),
                before_run: None,
                triggers: &["welcome", "winback"],
                channels: &["email"],
                keep: Keep::All,
            })
            .unwrap();
        let c1: Vec<Contact> = index.contacts("C1").collect();
        assert_eq!(c1.len(), 1);
        assert_eq!(c1[0].trigger, 1);
        assert_eq!(c1[0].day, day_of(date("2026-10-01")).unwrap());
        // The window leaves out later contacts and the run being recorded again.
        let later = store
            .reader()
            .load(&Window {
                since: Some(date("2026-10-02")),
                until: date("2026-11-01"),
                before_run: None,
                triggers: &[],
                channels: &[],
                keep: Keep::All,
            })
            .unwrap();
        assert!(later.is_empty());
        let skipped = store
            .reader()
            .load(&Window {
                since: None,
                until: date("2026-11-01"),
                before_run: Some(id),
                triggers: &[],
                channels: &[],
                keep: Keep::All,
            })
            .unwrap();
        assert!(skipped.is_empty());
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let first = Store::lock(&path).unwrap();
        match Store::lock(&path) {
            Err(HistoryError::Busy(p)) => assert_eq!(p, path.display().to_string()),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("two writers"),
        }
        // Readers are not refused.
        assert!(Store::read(&path).is_ok());
        drop(first);
        assert!(Store::lock(&path).is_ok());
    }

    #[test]
    fn a_file_that_is_not_a_history_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("empty.csv", &b""[..]),
            ("text.csv", &b"id,name\n1,Ada\n"[..]),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = Store::lock(&path).err().expect("refused");
            assert!(
                err.to_string().contains("is not a contact history"),
                "{err}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        // Another application's database is refused too.
        let other = dir.path().join("other.sqlite");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = Store::lock(&other).err().expect("refused");
        assert!(err.to_string().contains("something else"), "{err}");
    }

    /// Every contact of `ids` in `index`, in a comparable order.
    fn all_of(index: &Index, ids: &[String]) -> Vec<(String, u16, u16, u8, bool)> {
        let mut out: Vec<_> = ids
            .iter()
            .flat_map(|id| {
                index.contacts(id).map(move |c| {
                    (
                        id.clone(),
                        c.day,
                        c.trigger,
                        c.channel,
                        c.arm == Arm::Control,
                    )
                })
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn compaction_refingerprints_a_run_that_lost_some_of_a_treatments_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        for (key, contacts) in [
            (
                "k1",
                vec![
                    contact("C1", "2026-10-01", "winback"),
                    contact("C2", "2026-10-01", "winback"),
                ],
            ),
            ("k2", vec![contact("C1", "2026-10-05", "winback")]),
        ] {
            let mut recording = Store::lock(&path).unwrap().record(&run(key)).unwrap();
            recording.add(&contacts).unwrap();
            recording.commit().unwrap();
        }
        // C1's first contact is superseded by its second; C2's, alone, stays, and with it the
        // treatment the two shared.
        let done = Store::lock(&path)
            .unwrap()
            .compact(date("2026-10-10"))
            .unwrap();
        assert_eq!((done.removed, done.kept, done.fingerprinted), (1, 2, 1));
        let index = Store::read(&path)
            .unwrap()
            .unwrap()
            .reader()
            .load(&Window {
                since: None,
                until: date("2026-11-01"),
                before_run: None,
                triggers: &["winback"],
                channels: &["email"],
                keep: Keep::All,
            })
            .unwrap();
        let days: Vec<u16> = index.contacts("C1").map(|c| c.day).collect();
        assert_eq!(days, [day_of(date("2026-10-05")).unwrap()]);
        assert_eq!(index.contacts("C2").count(), 1);
    }

    #[test]
    fn another_rule_sets_service_messages_are_read_but_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let mut recording = Store::lock(&path).unwrap().record(&run("k1")).unwrap();
        let mut dunning = contact("C1", "2026-10-01", "dunning");
        dunning.service = true;
        let mut care = contact("C1", "2026-10-01", "care");
        care.service = true;
        let offer = contact("C1", "2026-10-01", "offer");
        recording.add(&[dunning, care, offer]).unwrap();
        recording.commit().unwrap();
        let load = || {
            let store = Store::read(&path).unwrap().unwrap();
            let window = Window {
                since: None,
                until: date("2026-11-01"),
                before_run: None,
                triggers: &["care"],
                channels: &["email"],
                keep: Keep::All,
            };
            let index = store.reader().load(&window).unwrap();
            let mut triggers: Vec<u16> = index.contacts("C1").map(|c| c.trigger).collect();
            triggers.sort_unstable();
            (index.read(), triggers)
        };
        // The other rule set's dunning notice counts against no cap of this one and is not
        // one of its triggers; its own service trigger and the other's offer are kept.
        assert_eq!(load(), (3, vec![0, OTHER]));
        // Read from the rows alike.
        let db = Connection::open(&path).unwrap();
        db.execute("DELETE FROM contact_keys", []).unwrap();
        assert_eq!(load(), (3, vec![0, OTHER]));
    }

    #[test]
    fn fingerprinted_runs_read_as_their_rows_do_and_go_stale_when_the_rows_change() {
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let ids: Vec<String> = (0..300).map(|i| format!("C{i}")).collect();
        let triggers = ["welcome", "winback", "elsewhere"];
        let channels = ["email", "sms", "fax"];
        for night in 1..=20 {
            let mut recording = Store::lock(&path)
                .unwrap()
                .record(&run(&format!("k{night}")))
                .unwrap();
            let contacts: Vec<NewContact> = (0..200)
                .map(|_| {
                    // Some contacts outside the window read below.
                    let date = format!("2026-10-{:02}", rng.random_range(1..=31));
                    let mut c = contact(
                        &ids[rng.random_range(0..ids.len())],
                        "",
                        triggers[rng.random_range(0..3)],
                    );
                    c.date = date.into();
                    c.channel = channels[rng.random_range(0..3)].into();
                    if rng.random_range(0..5) == 0 {
                        c.arm = Arm::Control;
                    }
                    if rng.random_range(0..10) == 0 {
                        c.trigger = None;
                    }
                    c
                })
                .collect();
            recording.add(&contacts).unwrap();
            recording.commit().unwrap();
        }
        let window = Window {
            since: Some(date("2026-10-05")),
            until: date("2026-10-28"),
            before_run: Some(15),
            triggers: &["winback", "welcome"],
            channels: &["sms", "email"],
            keep: Keep::All,
        };
        let read = || {
            Store::read(&path)
                .unwrap()
                .unwrap()
                .reader()
                .load(&window)
                .unwrap()
        };
        let keyed = read();
        assert!(keyed.len() > 1000, "{}", keyed.len());
        // The same history without its fingerprints: read from the rows.
        let db = Connection::open(&path).unwrap();
        let blobs: i64 = db
            .query_row("SELECT count(*) FROM contact_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blobs, 20);
        db.execute("DELETE FROM contact_keys WHERE run % 2 = 0", [])
            .unwrap();
        let half = read();
        db.execute("DELETE FROM contact_keys", []).unwrap();
        let rows = read();
        assert_eq!(all_of(&keyed, &ids), all_of(&rows, &ids));
        assert_eq!(all_of(&half, &ids), all_of(&rows, &ids));
        // Compaction fingerprints them again.
        drop(db);
        let done = Store::lock(&path)
            .unwrap()
            .compact(date("2000-01-01"))
            .unwrap();
        assert_eq!((done.removed, done.fingerprinted), (0, 20));
        assert_eq!(all_of(&read(), &ids), all_of(&rows, &ids));
        // A change to a run's rows by SQL drops its fingerprints: the rows are read.
        let db = Connection::open(&path).unwrap();
        db.execute(
            "UPDATE treatments SET date = '2026-10-10' WHERE run = 3",
            [],
        )
        .unwrap();
        // (A deletion from the view deletes from `contacted`.)
        db.execute("DELETE FROM contacts WHERE run = 4 AND customer = 'C7'", [])
            .unwrap();
        db.execute(
            "UPDATE contacted SET customer = 'C8' WHERE customer = 'C9'
             AND treatment IN (SELECT treatment FROM treatments WHERE run = 5)",
            [],
        )
        .unwrap();
        let stale = integers(
            &db,
            "SELECT run FROM runs WHERE run NOT IN (SELECT run FROM contact_keys)",
        );
        assert_eq!(stale, [3, 4, 5]);
        let changed = read();
        db.execute("DELETE FROM contact_keys", []).unwrap();
        assert_eq!(all_of(&changed, &ids), all_of(&read(), &ids));
        assert_ne!(all_of(&changed, &ids), all_of(&rows, &ids));
        // A compaction that removes contacts makes the fingerprints of the runs it touched
        // again: they read as the rows left.
        drop(db);
        Store::lock(&path)
            .unwrap()
            .compact(date("2000-01-01"))
            .unwrap();
        let done = Store::lock(&path)
            .unwrap()
            .compact(date("2026-10-20"))
            .unwrap();
        assert!(done.removed > 100 && done.fingerprinted > 0, "{done:?}");
        let compacted = read();
        let db = Connection::open(&path).unwrap();
        db.execute("DELETE FROM contact_keys", []).unwrap();
        assert_eq!(all_of(&compacted, &ids), all_of(&read(), &ids));
        assert_ne!(all_of(&compacted, &ids), all_of(&changed, &ids));
        // The trigger that marks a run stale is back.
        let triggers = integers(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name = 'contact_keys_stale_on_delete'",
        );
        assert_eq!(triggers, [1]);
    }

    /// A history as version 1 (`contacts` alone) or 2 (with `contact_keys`) wrote it, with
    /// run 1 holding two contacts of C1, one of C2 and one of C3 (treated as the first of C1),
    /// and (version 2) their fingerprints.
    fn old_history(path: &Path, version: u8) {
        let db = Connection::open(path).unwrap();
        db.execute_batch(
            "CREATE TABLE runs (
                 run INTEGER PRIMARY KEY,
                 kind TEXT NOT NULL CHECK (kind IN ('run', 'import')),
                 key TEXT NOT NULL UNIQUE, as_of TEXT, ruleset TEXT, ruleset_hash TEXT,
                 input TEXT NOT NULL, input_hash TEXT NOT NULL, recorded_at TEXT NOT NULL,
                 contacts INTEGER NOT NULL);
             CREATE TABLE contacts (
                 run INTEGER NOT NULL REFERENCES runs (run), date TEXT NOT NULL,
                 customer TEXT NOT NULL, trigger TEXT, action TEXT, channel TEXT NOT NULL,
                 activity TEXT, service INTEGER NOT NULL DEFAULT 0,
                 arm TEXT NOT NULL CHECK (arm IN ('treated', 'control')),
                 tier TEXT, stage TEXT, segments TEXT);
             CREATE VIEW contact_log AS
                 SELECT c.run, r.kind, r.as_of, r.ruleset, r.ruleset_hash, c.date, c.customer,
                        c.trigger, c.action, c.channel, c.activity, c.service, c.arm, c.tier,
                        c.stage, c.segments
                 FROM contacts c JOIN runs r USING (run);
             CREATE INDEX contacts_by_date ON contacts (date);
             INSERT INTO runs VALUES (1, 'run', 'k1', '2026-10-01', 'r', 'sha256:0', 'x.csv',
                                      'sha256:1', '2026-10-01T00:00:00Z', 4);
             INSERT INTO contacts VALUES
                 (1, '2026-10-01', 'C1', 'winback', 'a', 'email', 'winback', 0, 'treated',
                  'gold', NULL, 'vip;new'),
                 (1, '2026-10-01', 'C2', 'winback', 'a', 'email', 'winback', 0, 'control',
                  'gold', NULL, 'vip;new'),
                 (1, '2026-10-01', 'C1', NULL, NULL, 'sms', NULL, 0, 'treated', NULL, NULL, NULL),
                 (1, '2026-10-01', 'C3', 'winback', 'a', 'email', 'winback', 0, 'treated',
                  'gold', NULL, 'vip;new');
             PRAGMA user_version = 1;",
        )
        .unwrap();
        if version == 2 {
            db.execute_batch(
                "CREATE TABLE contact_keys (
                     run INTEGER PRIMARY KEY REFERENCES runs (run),
                     first_day INTEGER NOT NULL, last_day INTEGER NOT NULL,
                     triggers TEXT NOT NULL, channels TEXT NOT NULL, entries BLOB NOT NULL);
                 CREATE TRIGGER contact_keys_stale_on_delete AFTER DELETE ON contacts
                     BEGIN DELETE FROM contact_keys WHERE run = OLD.run; END;
                 CREATE TRIGGER contact_keys_stale_on_update AFTER UPDATE ON contacts
                     BEGIN DELETE FROM contact_keys WHERE run IN (OLD.run, NEW.run); END;
                 DROP INDEX contacts_by_date;
                 PRAGMA user_version = 2;",
            )
            .unwrap();
            let mut keys = RunKeys::default();
            let day = parse_day("2026-10-01").unwrap();
            keys.add("C1", day, Some("winback"), "email", (Arm::Treated, false));
            keys.add("C2", day, Some("winback"), "email", (Arm::Control, false));
            keys.add("C1", day, None, "sms", (Arm::Treated, false));
            keys.add("C3", day, Some("winback"), "email", (Arm::Treated, false));
            keys.insert(&db, 1).unwrap();
        }
    }

    /// The integers `sql` selects.
    fn integers(db: &Connection, sql: &str) -> Vec<i64> {
        db.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Every contact of the history at `path`, with its run, as `idic history export` reads them.
    fn every_contact(path: &Path) -> Vec<(i64, NewContact<'static>)> {
        let mut all = Vec::new();
        Store::read(path)
            .unwrap()
            .unwrap()
            .each_contact(None, |run, c| {
                all.push((run, c.clone()));
                Ok::<(), HistoryError>(())
            })
            .unwrap();
        all
    }

    #[test]
    fn older_histories_are_read_as_they_are_and_upgraded_by_a_recording_run() {
        for version in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.sqlite");
            old_history(&path, version);
            let before = every_contact(&path);
            assert_eq!(before.len(), 4);
            assert_eq!(before[2].1.channel, "sms");
            assert_eq!(before[1].1.arm, Arm::Control);
            let window = Window {
                since: None,
                until: date("2026-11-01"),
                before_run: None,
                triggers: &["winback"],
                channels: &["email", "sms"],
                keep: Keep::All,
            };
            // Locked, and upgraded in its transaction: the reader sees the committed version.
            let store = Store::lock(&path).unwrap();
            assert_eq!(store.schema, Schema(version));
            let reader = store.reader();
            assert_eq!(reader.load(&window).unwrap().contacts("C1").count(), 2);
            let mut recording = store.record(&run("k2")).unwrap();
            recording
                .add(&[contact("C1", "2026-10-30", "winback")])
                .unwrap();
            recording.commit().unwrap();
            // Version 3, every contact as it was (its number kept), and the new one.
            let store = Store::read(&path).unwrap().unwrap();
            assert_eq!(store.schema, Schema(VERSION));
            let after = every_contact(&path);
            assert_eq!(after[..4], before[..], "version {version}");
            assert_eq!(after.len(), 5);
            assert_eq!(
                store.reader().load(&window).unwrap().contacts("C1").count(),
                3
            );
            let db = Connection::open(&path).unwrap();
            let numbers = integers(&db, "SELECT contact FROM contacts ORDER BY contact");
            assert_eq!(numbers, [1, 2, 3, 4, 5]);
            // Three treatments for run 1's four contacts, and its fingerprints kept
            // (version 2) or made by the recording run (version 1).
            let treatments = integers(&db, "SELECT count(*) FROM treatments WHERE run = 1");
            assert_eq!(treatments, [3]);
            let keyed = integers(&db, "SELECT count(*) FROM contact_keys");
            assert_eq!(keyed, [2]);
        }
    }
}
