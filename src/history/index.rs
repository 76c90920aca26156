//! The contact history as a run reads it: every earlier contact that a policy step can need,
//! held compactly in memory and found by customer id.
//!
//! Each contact takes 16 bytes: an 80-bit fingerprint of the customer id (64 bits to sort
//! and search by, 16 more to tell apart ids whose first 64 bits agree), the day, the trigger
//! (as an index into the rule set's triggers), the channel and the arm. The contacts are
//! sorted by fingerprint, so a customer's are one slice found through a directory of
//! prefixes. Two different ids of a million-customer history share all 80 bits with a chance
//! of about 1 in 2.4 trillion per run. The fingerprint is a fixed hash ([`fingerprint`]), so
//! the history keeps each run's contacts fingerprinted too, and a run reads those instead of
//! the rows.

pub use crate::model::Arm;

/// A contact's trigger when it is not one of the rule set's (another rule set's, or an
/// imported contact without one).
pub const OTHER: u16 = u16::MAX;

/// A contact's channel when it is not one of the rule set's.
pub const OTHER_CHANNEL: u8 = u8::MAX;

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
    /// The channel's index among the rule set's channels ([`Index::channel_name`]), or
    /// [`OTHER_CHANNEL`].
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
#[derive(Debug)]
pub struct Index {
    /// Sorted by fingerprint.
    entries: Vec<Entry>,
    /// Where the entries whose fingerprint starts with each `bits`-bit prefix begin, and one
    /// more at the end: a lookup reads two of these and about two entries.
    directory: Vec<u32>,
    bits: u32,
    channels: Vec<String>,
    /// The day the history was read for (`as_of`).
    today: u16,
}

/// The seeds of a fingerprint's two halves.
const SEEDS: (u64, u64) = (0x243f_6a88_85a3_08d3, 0x4528_21e6_38d0_1377);

/// The fingerprint of customer `id` (its bytes, surrounding ASCII whitespace aside): XXH3
/// (64 bits) of the id under seed `0x243f6a8885a308d3`, and the low 16 bits of XXH3 under seed
/// `0x452821e638d01377`. XXH3's output is fixed by its specification, so the fingerprints the
/// history keeps ([`super::store`]) stay valid on any machine and idic version.
pub fn fingerprint(id: &[u8]) -> (u64, u16) {
    let id = id.trim_ascii();
    (
        xxhash_rust::xxh3::xxh3_64_with_seed(id, SEEDS.0),
        xxhash_rust::xxh3::xxh3_64_with_seed(id, SEEDS.1) as u16,
    )
}

/// Builds an [`Index`] from contacts in any order.
pub struct IndexBuilder {
    index: Index,
}

impl IndexBuilder {
    /// An empty index whose channels are `channels` (at most 255), in that order; any other
    /// channel is [`OTHER_CHANNEL`].
    pub fn new(channels: &[&str]) -> IndexBuilder {
        IndexBuilder {
            index: Index {
                entries: Vec::new(),
                directory: Vec::new(),
                bits: 0,
                channels: channels.iter().take(255).map(|c| c.to_string()).collect(),
                today: 0,
            },
        }
    }

    /// The index of channel `name`.
    pub fn channel(&self, name: &[u8]) -> u8 {
        self.index
            .channels
            .iter()
            .position(|c| c.as_bytes() == name)
            .map_or(OTHER_CHANNEL, |i| i as u8)
    }

    /// Adds the contacts `other` holds (built with the same channels).
    pub fn append(&mut self, mut other: IndexBuilder) {
        self.index.entries.append(&mut other.index.entries);
    }

    /// Adds a contact of customer `id` (its bytes, surrounding whitespace aside).
    pub fn push(&mut self, id: &[u8], contact: Contact) {
        let (key, check) = fingerprint(id);
        self.push_fingerprint(key, check, contact);
    }

    /// Adds a contact of the customer whose [`fingerprint`] is `(key, check)`.
    pub fn push_fingerprint(&mut self, key: u64, check: u16, contact: Contact) {
        self.index.entries.push(Entry {
            key,
            check,
            contact,
        });
    }

    /// The index of the history as of day `today`, sorted for lookups.
    pub fn finish(mut self, today: u16) -> Index {
        let index = &mut self.index;
        index.today = today;
        index.entries.shrink_to_fit();
        // Sorted on two threads: split at the median, then each half.
        let order = |e: &Entry| (e.key, e.check, e.contact.day);
        if index.entries.len() > 100_000 {
            let mid = index.entries.len() / 2;
            index.entries.select_nth_unstable_by_key(mid, order);
            let (low, high) = index.entries.split_at_mut(mid);
            std::thread::scope(|scope| {
                scope.spawn(|| low.sort_unstable_by_key(order));
                high.sort_unstable_by_key(order);
            });
        } else {
            index.entries.sort_unstable_by_key(order);
        }
        // About two entries per prefix: 4 bytes of directory for every 32 of entries.
        index.bits = (usize::BITS - index.entries.len().leading_zeros()).clamp(1, 25) - 1;
        let prefixes = 1usize << index.bits;
        index.directory = Vec::with_capacity(prefixes + 1);
        let mut at = 0;
        for prefix in 0..prefixes {
            while at < index.entries.len() && index.prefix(index.entries[at].key) < prefix {
                at += 1;
            }
            index.directory.push(at as u32);
        }
        index.directory.push(index.entries.len() as u32);
        self.index
    }
}

impl Index {
    /// The directory slot of fingerprint `key`: its first `bits` bits.
    fn prefix(&self, key: u64) -> usize {
        (key >> 1 >> (63 - self.bits)) as usize
    }

    /// The earlier contacts of customer `id` (surrounding whitespace aside), oldest first.
    pub fn contacts<'a>(&'a self, id: &str) -> impl Iterator<Item = Contact> + 'a {
        let (key, check) = fingerprint(id.trim().as_bytes());
        let prefix = self.prefix(key);
        let range = self.directory[prefix] as usize..self.directory[prefix + 1] as usize;
        self.entries[range]
            .iter()
            .filter(move |e| e.key == key && e.check == check)
            .map(|e| e.contact)
    }

    /// The day the history was read for (`as_of`), as a day number ([`day_of`]).
    pub fn today(&self) -> u16 {
        self.today
    }

    /// The name of channel `i`; `None` for [`OTHER_CHANNEL`].
    pub fn channel_name(&self, i: u8) -> Option<&str> {
        self.channels.get(usize::from(i)).map(String::as_str)
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
        let mut b = IndexBuilder::new(&["email", "sms"]);
        assert_eq!(b.channel(b"email"), 0);
        assert_eq!(b.channel(b"sms"), 1);
        assert_eq!(b.channel(b"fax"), OTHER_CHANNEL);
        let mut other = IndexBuilder::new(&["email", "sms"]);
        for i in 0..1000u16 {
            let half = if i % 2 == 0 { &mut b } else { &mut other };
            half.push(format!("C{}", i % 100).as_bytes(), contact(i, i % 7));
        }
        b.append(other);
        let index = b.finish(2000);
        assert_eq!(index.len(), 1000);
        let days: Vec<u16> = index.contacts(" C42 ").map(|c| c.day).collect();
        // Every customer is found through the directory.
        for i in 0..100 {
            assert_eq!(index.contacts(&format!("C{i}")).count(), 10, "C{i}");
        }
        assert_eq!(days, (0..10).map(|k| 42 + 100 * k).collect::<Vec<_>>());
        assert_eq!(index.contacts("C100").count(), 0);
        assert_eq!(index.channel_name(1), Some("sms"));
        assert_eq!(index.channel_name(OTHER_CHANNEL), None);
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
