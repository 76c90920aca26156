//! The contact history as a run reads it: every earlier contact that a policy step can need,
//! held compactly in memory and found by customer id.
//!
//! Each contact takes 16 bytes: an 80-bit fingerprint of the customer id (64 bits to sort
//! and search by, 16 more to tell apart ids whose first 64 bits agree), the day, the trigger
//! (as an index into the rule set's triggers), the channel and the arm. The contacts are
//! sorted by fingerprint, so a customer's are one slice found by binary search. Two different
//! ids of a million-customer history share all 80 bits with a chance of about 1 in 2.4
//! trillion per run; the fingerprints never leave the process.

/// Which side of a trigger's measurement a customer who entered it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arm {
    /// Contacted.
    Treated,
    /// Held out by the trigger's own holdout: recorded, never contacted.
    Control,
}

impl Arm {
    /// `treated` or `control`, as outputs and the contact history write it.
    pub fn word(self) -> &'static str {
        match self {
            Arm::Treated => "treated",
            Arm::Control => "control",
        }
    }

    /// The arm a word names.
    pub fn from_word(word: &str) -> Option<Arm> {
        match word {
            "treated" => Some(Arm::Treated),
            "control" => Some(Arm::Control),
            _ => None,
        }
    }
}

/// A contact's trigger when it is not one of the rule set's (another rule set's, or an
/// imported contact without one).
pub const OTHER: u16 = u16::MAX;

/// Days are counted from this date, so that a day fits in 16 bits (up to 6 June 2179).
pub const EPOCH: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// The day number of `date` ([`EPOCH`] is 0), when it is from 2000 to 6 June 2179.
pub fn day_of(date: chrono::NaiveDate) -> Option<u16> {
    u16::try_from(date.signed_duration_since(EPOCH).num_days()).ok()
}

/// The date of day number `day` ([`day_of`]).
pub fn date_of(day: u16) -> chrono::NaiveDate {
    EPOCH + chrono::Days::new(u64::from(day))
}

/// One earlier contact of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    /// Days since [`EPOCH`].
    pub day: u16,
    /// The trigger's index in the rule set, or [`OTHER`].
    pub trigger: u16,
    /// The channel's index in the history's channel list ([`Index::channel_name`]).
    pub channel: u8,
    pub arm: Arm,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u64,
    check: u16,
    contact: Contact,
}

/// Earlier contacts by customer.
#[derive(Debug, Default)]
pub struct Index {
    entries: Vec<Entry>,
    channels: Vec<String>,
    /// The day the history was read for (`as_of`).
    today: u16,
}

/// Two fixed, independent hashers: the fingerprint and its check.
fn hashers() -> (ahash::RandomState, ahash::RandomState) {
    (
        ahash::RandomState::with_seeds(
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
            0x082e_fa98_ec4e_6c89,
        ),
        ahash::RandomState::with_seeds(
            0x4528_21e6_38d0_1377,
            0xbe54_66cf_34e9_0c6c,
            0xc0ac_29b7_c97c_50dd,
            0x3f84_d5b5_b547_0917,
        ),
    )
}

/// Builds an [`Index`] from contacts in any order.
pub struct IndexBuilder {
    index: Index,
    hashers: (ahash::RandomState, ahash::RandomState),
}

impl Default for IndexBuilder {
    fn default() -> Self {
        IndexBuilder {
            index: Index::default(),
            hashers: hashers(),
        }
    }
}

impl IndexBuilder {
    /// The channel list's index of `name`, added when new (at most 255 channels).
    pub fn channel(&mut self, name: &str) -> Option<u8> {
        let channels = &mut self.index.channels;
        if let Some(i) = channels.iter().position(|c| c == name) {
            return u8::try_from(i).ok();
        }
        let i = u8::try_from(channels.len()).ok()?;
        channels.push(name.to_string());
        Some(i)
    }

    /// Adds a contact of customer `id`.
    pub fn push(&mut self, id: &str, contact: Contact) {
        let (key, check) = fingerprint(&self.hashers, id);
        self.index.entries.push(Entry {
            key,
            check,
            contact,
        });
    }

    /// The index of the history as of day `today`, sorted for lookups. Contacts of one
    /// customer keep the order they came in.
    pub fn finish(mut self, today: u16) -> Index {
        self.index.today = today;
        self.index.entries.shrink_to_fit();
        self.index.entries.sort_by_key(|e| (e.key, e.check));
        self.index
    }
}

fn fingerprint(hashers: &(ahash::RandomState, ahash::RandomState), id: &str) -> (u64, u16) {
    let id = id.trim();
    (hashers.0.hash_one(id), hashers.1.hash_one(id) as u16)
}

impl Index {
    /// The earlier contacts of customer `id` (surrounding whitespace aside).
    pub fn contacts<'a>(&'a self, id: &str) -> impl Iterator<Item = Contact> + 'a {
        let (key, check) = fingerprint(&hashers(), id);
        let start = self
            .entries
            .partition_point(|e| (e.key, e.check) < (key, check));
        self.entries[start..]
            .iter()
            .take_while(move |e| e.key == key && e.check == check)
            .map(|e| e.contact)
    }

    /// The day the history was read for (`as_of`), as a day number ([`day_of`]).
    pub fn today(&self) -> u16 {
        self.today
    }

    /// The name of channel `i`.
    pub fn channel_name(&self, i: u8) -> &str {
        &self.channels[usize::from(i)]
    }

    /// The channel list's index of `name`, when any contact used it.
    pub fn channel_of(&self, name: &str) -> Option<u8> {
        self.channels
            .iter()
            .position(|c| c == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    /// How many contacts it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no contact.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(day: u16, trigger: u16) -> Contact {
        Contact {
            day,
            trigger,
            channel: 0,
            arm: Arm::Treated,
        }
    }

    #[test]
    fn a_customers_contacts_are_found_whatever_the_order_they_came_in() {
        let mut b = IndexBuilder::default();
        assert_eq!(b.channel("email"), Some(0));
        assert_eq!(b.channel("sms"), Some(1));
        assert_eq!(b.channel("email"), Some(0));
        for i in 0..1000u16 {
            b.push(&format!("C{}", i % 100), contact(i, i % 7));
        }
        let index = b.finish(2000);
        assert_eq!(index.len(), 1000);
        let days: Vec<u16> = index.contacts(" C42 ").map(|c| c.day).collect();
        assert_eq!(days, (0..10).map(|k| 42 + 100 * k).collect::<Vec<_>>());
        assert_eq!(index.contacts("C100").count(), 0);
        assert_eq!(index.channel_of("sms"), Some(1));
        assert_eq!(index.channel_name(1), "sms");
    }

    #[test]
    fn days_count_from_2000_to_june_2179() {
        let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(day_of(d(2000, 1, 1)), Some(0));
        assert_eq!(date_of(9801), d(2026, 11, 1));
        assert_eq!(day_of(d(2026, 11, 1)), Some(9801));
        assert_eq!(day_of(d(1999, 12, 31)), None);
        assert_eq!(day_of(d(2179, 6, 6)), Some(65_535));
        assert_eq!(day_of(d(2179, 6, 7)), None);
        assert_eq!(day_of(d(2180, 1, 1)), None);
    }
}
