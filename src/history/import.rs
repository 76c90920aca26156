//! Contacts made outside idic (an email service's send log, a call centre's calls), read from a
//! log (CSV with a header, or JSONL) as the rule set's `contacts` block maps its columns, and
//! handed over in batches for [`super::Recording::add`]. A row that cannot be read is rejected
//! with its line and the reason; the others are read on.

use super::index::{day_of, Arm};
use super::store::NewContact;
use crate::io::cells::CellReader;
use crate::io::input::{CsvScratch, Row};
use crate::io::{BatchReader, InputFormat};
use crate::model::{ChannelKind, ContactLog, ContactRole, RuleSet};
use std::borrow::Cow;
use std::fs::File;

/// A row of the log that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReject {
    pub line: u64,
    /// The column at fault, as the log names it.
    pub column: Option<String>,
    /// A sentence: what was found and what was expected.
    pub reason: String,
}

/// What reading a log did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTally {
    pub rows: u64,
    pub contacts: u64,
    pub rejects: u64,
}

/// The mapping of `log` as one text (each column's role, name and format, then the channel),
/// for the key that knows a log imported before: another mapping reads another history from
/// the same log, an edit elsewhere in the rule set does not.
pub fn mapping_text(log: &ContactLog) -> String {
    let mut parts: Vec<String> = log
        .columns
        .iter()
        .map(|c| {
            let formats: Vec<&str> = c.formats.iter().map(|f| f.value.as_str()).collect();
            let format = formats.join("\u{1d}");
            format!("{}\u{1f}{}\u{1f}{format}", c.role.value, c.column.value)
        })
        .collect();
    parts.sort();
    if let Some(channel) = &log.channel {
        parts.push(format!("channel\u{1f}{}", channel.value));
    }
    parts.join("\u{1e}")
}

/// Where each role's column is, and how its cells are read.
struct Columns {
    /// Per role ([`ContactRole::WORDS`] order), the column's name and position (CSV).
    at: Vec<Option<(String, usize)>>,
    date: CellReader,
    /// The one channel of every contact, when no column gives it.
    channel: Option<String>,
}

/// Reads the log in `file` (`format`) as `log` maps it, for the rule set `rules` (whose
/// triggers give an imported contact its activity and service flag). Calls `batch` with each
/// batch of contacts and `reject` with each row not imported, in line order. `Err`: the log
/// cannot be read, or lacks a column the mapping names.
pub fn read_log(
    file: &File,
    format: InputFormat,
    log: &ContactLog,
    rules: &RuleSet,
    mut batch: impl FnMut(&[NewContact<'_>]) -> Result<(), String>,
    mut reject: impl FnMut(LogReject),
) -> Result<LogTally, String> {
    let io = |e: std::io::Error| format!("cannot read the log: {e}");
    let (mut reader, header) = BatchReader::open(file, format, 1 << 20).map_err(io)?;
    let columns = columns(log, header.as_deref())?;
    let mut tally = LogTally::default();
    let mut contacts = Vec::new();
    let mut scratch = CsvScratch::default();
    let mut recycled = None;
    while let Some(rows) = reader.next_batch(recycled.take()).map_err(io)? {
        let mut failed = None;
        rows.each(&mut scratch, |at, row| {
            tally.rows += 1;
            match contact(&columns, rules, row) {
                Ok(c) => contacts.push(c),
                Err((column, reason)) => {
                    tally.rejects += 1;
                    reject(LogReject {
                        line: at.line,
                        column,
                        reason,
                    });
                }
            }
        });
        if !contacts.is_empty() {
            failed = batch(&contacts).err();
            tally.contacts += contacts.len() as u64;
            contacts.clear();
        }
        if let Some(e) = failed {
            return Err(e);
        }
        recycled = Some(rows);
    }
    Ok(tally)
}

/// The mapping's columns, found in the CSV `header` (JSONL rows are read by key).
fn columns(log: &ContactLog, header: Option<&[String]>) -> Result<Columns, String> {
    let mut at = Vec::new();
    for role in [
        ContactRole::Customer,
        ContactRole::Date,
        ContactRole::Channel,
        ContactRole::Trigger,
        ContactRole::Action,
    ] {
        let word = role.word();
        let Some(column) = log.column(role) else {
            at.push(None);
            continue;
        };
        let name = column.column.value.clone();
        let position = match header {
            Some(header) => header.iter().position(|h| *h == name).ok_or_else(|| {
                let shown: Vec<String> = header.iter().map(|h| format!("`{h}`")).collect();
                format!(
                    "the log has no column `{name}` (the `{word}` of the `contacts` block); its columns are {}",
                    shown.join(", ")
                )
            })?,
            None => usize::MAX,
        };
        at.push(Some((name, position)));
    }
    let date = CellReader::new(&log.date_field())?;
    Ok(Columns {
        at,
        date,
        channel: log.channel.as_ref().map(|c| c.value.to_string()),
    })
}

/// The contact of one row, or the column at fault and why.
fn contact(
    columns: &Columns,
    rules: &RuleSet,
    row: Row<'_>,
) -> Result<NewContact<'static>, (Option<String>, String)> {
    let object = match row {
        Row::Json(bytes) => Some(crate::io::jsonl::json_object(bytes).map_err(|e| {
            let why = crate::io::jsonl::json_error_text(&e);
            (None, format!("the line is not a JSON object: {why}"))
        })?),
        Row::Csv(_) => None,
    };
    // The text of `role`'s cell; `None` when the mapping has no such column or it is empty.
    let cell = |role: ContactRole| -> Result<Option<String>, (Option<String>, String)> {
        let Some((name, position)) = &columns.at[role as usize] else {
            return Ok(None);
        };
        let fail = |why: &str| (Some(name.clone()), why.to_string());
        let text = match (&row, &object) {
            (Row::Csv(record), _) => match record.get(*position) {
                Some(bytes) => std::str::from_utf8(bytes)
                    .map_err(|_| fail("the cell is not valid UTF-8"))?
                    .to_string(),
                None => String::new(),
            },
            (_, Some(object)) => match object.get(name) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v @ serde_json::Value::Number(_)) => v.to_string(),
                Some(_) => return Err(fail("expected a string")),
            },
            _ => String::new(),
        };
        let text = text.trim();
        Ok((!text.is_empty()).then(|| text.to_string()))
    };
    let named = |role: ContactRole| columns.at[role as usize].as_ref().map(|(n, _)| n.clone());
    let customer = cell(ContactRole::Customer)?
        .ok_or_else(|| (named(ContactRole::Customer), "no customer id".to_string()))?;
    let when = cell(ContactRole::Date)?
        .ok_or_else(|| (named(ContactRole::Date), "no date".to_string()))?;
    let date = match columns.date.read(&when) {
        Ok(value) => value
            .try_cast::<chrono::NaiveDateTime>()
            .map(|dt| dt.date())
            .ok_or_else(|| (named(ContactRole::Date), format!("`{when}` is not a date")))?,
        Err(e) => return Err((named(ContactRole::Date), e.to_string())),
    };
    if day_of(date).is_none() {
        let why = format!(
            "{date} is outside the days a contact history holds (2000-01-01 to 2179-06-06)"
        );
        return Err((named(ContactRole::Date), why));
    }
    let channel = match (cell(ContactRole::Channel)?, &columns.channel) {
        // As written, else in lower case (`Email`): a custom name keeps its case.
        (Some(word), _) => word
            .parse::<ChannelKind>()
            .or_else(|e| word.to_lowercase().parse::<ChannelKind>().map_err(|_| e))
            .map_err(|e| (named(ContactRole::Channel), e))?
            .to_string(),
        (None, Some(fixed)) => fixed.clone(),
        (None, None) => return Err((named(ContactRole::Channel), "no channel".to_string())),
    };
    let trigger = cell(ContactRole::Trigger)?;
    // A trigger of the rule set gives the contact its activity and service flag.
    let known = trigger
        .as_ref()
        .and_then(|t| rules.triggers.iter().find(|r| r.name.value == *t));
    Ok(NewContact {
        date: date.format("%Y-%m-%d").to_string().into(),
        customer: customer.into(),
        trigger: trigger.map(Cow::Owned),
        action: cell(ContactRole::Action)?.map(Cow::Owned),
        channel: channel.into(),
        activity: known.and_then(|t| t.activity.as_ref().map(|a| a.value.to_string().into())),
        service: known.is_some_and(|t| t.service.is_some()),
        arm: Arm::Treated,
        tier: None,
        stage: None,
        segments: None,
    })
}
