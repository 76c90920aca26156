//! A do-not-contact list (`idic run --suppress FILE`): customers no trigger may contact, service
//! triggers included, on every channel or on the channels named.
//!
//! The file is CSV with a header holding an `id` column (or `customer`) and, optionally, a
//! `channel` column: an empty channel, or no such column, means every channel. Each row names
//! one customer (the id as the export's key reads it, surrounding whitespace aside) and one
//! channel (`email`, `sms`, `push`, `call`, `direct_mail` or `custom:<name>`). A row without an
//! id, with an unknown channel or of the wrong width stops the run with its line: a typo must
//! never let a message through.

use crate::model::ChannelKind;
use std::collections::HashMap;
use std::path::Path;

/// Which channels a listed customer is off.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Off {
    All,
    Channels(Vec<ChannelKind>),
}

/// The customers not to contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoNotContact {
    by_id: HashMap<String, Off>,
    /// The file's digest ([`crate::io::digest::sha256`]), for the key of a run that used it.
    digest: String,
}

/// The channels one listed customer is off.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a>(&'a Off);

impl Listed<'_> {
    /// Whether no trigger may contact the customer on `channel`.
    pub fn forbids(&self, channel: &ChannelKind) -> bool {
        match self.0 {
            Off::All => true,
            Off::Channels(channels) => channels.contains(channel),
        }
    }
}

impl DoNotContact {
    /// Reads the list at `path`; the error names the file and line.
    pub fn read(path: &Path) -> Result<DoNotContact, String> {
        let shown = path.display();
        // Read once: parsed, and digested for the run's key.
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(bytes.as_slice());
        let header = reader
            .headers()
            .map_err(|e| format!("`{shown}`: {e}"))?
            .clone();
        let column = |names: &[&str]| {
            header
                .iter()
                .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        };
        let id = column(&["id", "customer"]).ok_or_else(|| {
            format!("`{shown}` has no `id` column: a do-not-contact list needs one")
        })?;
        let channel = column(&["channel"]);
        let mut list = DoNotContact {
            digest: crate::io::digest::sha256_bytes(&bytes),
            ..DoNotContact::default()
        };
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| format!("`{shown}` line {line}: {e}"))?;
            let customer = record.get(id).unwrap_or("").trim();
            if customer.is_empty() {
                return Err(format!("`{shown}` line {line}: the id is empty"));
            }
            let off = match channel.and_then(|c| record.get(c)).map(str::trim) {
                None | Some("") => Off::All,
                Some(word) => Off::Channels(vec![word
                    .parse::<ChannelKind>()
                    .map_err(|e| format!("`{shown}` line {line}: {e}"))?]),
            };
            list.add(customer, off);
        }
        Ok(list)
    }

    fn add(&mut self, id: &str, off: Off) {
        let entry = match self.by_id.entry(id.to_string()) {
            std::collections::hash_map::Entry::Vacant(place) => {
                place.insert(off);
                return;
            }
            std::collections::hash_map::Entry::Occupied(place) => place.into_mut(),
        };
        match (entry, off) {
            (Off::All, _) => {}
            (entry, Off::All) => *entry = Off::All,
            (Off::Channels(have), Off::Channels(more)) => {
                for c in more {
                    if !have.contains(&c) {
                        have.push(c);
                    }
                }
            }
        }
    }

    /// The channels customer `id` is off, when listed: looked up once for all triggers.
    pub fn listed(&self, id: &str) -> Option<Listed<'_>> {
        self.by_id.get(id.trim()).map(Listed)
    }

    /// The file's digest: `sha256:` and hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// How many customers it lists.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it lists nobody.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Result<DoNotContact, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dnc.csv");
        std::fs::write(&path, text).unwrap();
        let list = DoNotContact::read(&path)?;
        // Digested as the run key digests any input file.
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(list.digest(), crate::io::digest::sha256(&file).unwrap());
        Ok(list)
    }

    /// Whether `l` keeps customer `id` off `channel`.
    fn forbids(l: &DoNotContact, id: &str, channel: &ChannelKind) -> bool {
        l.listed(id).is_some_and(|x| x.forbids(channel))
    }

    #[test]
    fn customers_are_off_every_channel_or_the_ones_named() {
        let l = list("Customer,Channel\nC1,\n C2 ,sms\nC2,email\nC3,sms\nC3,\n").unwrap();
        assert_eq!(l.len(), 3);
        assert!(forbids(&l, "C1", &ChannelKind::Call));
        assert!(forbids(&l, "C2", &ChannelKind::Sms) && forbids(&l, "C2", &ChannelKind::Email));
        assert!(!forbids(&l, "C2", &ChannelKind::Call));
        assert!(forbids(&l, "C3", &ChannelKind::Push));
        assert!(!forbids(&l, "C4", &ChannelKind::Email) && l.listed("C4").is_none());
        let ids_only = list("id\nC9\n").unwrap();
        assert!(forbids(&ids_only, " C9", &ChannelKind::Email));
    }

    #[test]
    fn a_bad_row_stops_with_its_line() {
        let err = list("id,channel\nC1,emial\n").unwrap_err();
        assert!(err.contains("line 2: unknown channel `emial`"), "{err}");
        let err = list("id,channel\nC1,\n,sms\n").unwrap_err();
        assert!(err.contains("line 3: the id is empty"), "{err}");
        let err = list("name\nAda\n").unwrap_err();
        assert!(err.contains("has no `id` column"), "{err}");
        let err = list("id,channel\nC1,sms,extra\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
