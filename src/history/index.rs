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
//!
//! A run keeps only what its policy reads ([`Keep::Policy`]): each customer's last contact per
//! trigger and arm while a re-entry rule or cooldown can still see it, and the contacts of the
//! longest cap window. They are chosen as the contacts are read, so that however many nights
//! the history holds, a run's memory stays about what it keeps.

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

impl Entry {
    /// The order of an index: by customer, then trigger and arm, then day.
    fn order(&self) -> (u64, u16, u16, Arm, u16) {
        let c = &self.contact;
        (self.key, self.check, c.trigger, c.arm, c.day)
    }

    /// Whether `other` is a contact of the same customer, trigger and arm.
    fn same_group(&self, other: &Entry) -> bool {
        let (a, b) = (&self.contact, &other.contact);
        (self.key, self.check, a.trigger, a.arm) == (other.key, other.check, b.trigger, b.arm)
    }
}

/// Which of the contacts read an [`Index`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// Every one.
    All,
    /// Those of the customer with this id (surrounding whitespace aside).
    Customer(String),
    /// Those a run's treatment policy reads.
    Policy(Reach),
}

/// How far back a treatment policy reads a customer's contacts, in days before `as_of` (a
/// contact `d` days old is within `n` days when `d < n`; `u32::MAX` is forever).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Per trigger of the rule set: its re-entry rule reads the last entry (either arm) this
    /// far back, its cooldown the last treated contact.
    pub triggers: Vec<TriggerReach>,
    /// The frequency caps count the treated contacts this far back (the longest cap).
    pub caps: u32,
}

/// How far back one trigger's re-entry rule and cooldown read ([`Reach`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriggerReach {
    pub entry: u32,
    pub contact: u32,
}

impl Reach {
    /// How many days back it reads anything, `None` for all (0: nothing).
    pub fn days(&self) -> Option<u32> {
        let longest = self.triggers.iter().map(|t| t.entry.max(t.contact));
        let days = longest.fold(self.caps, u32::max);
        (days != u32::MAX).then_some(days)
    }

    /// Whether a frequency cap counts `contact`, `since` days old.
    fn capped(&self, contact: &Contact, since: u32) -> bool {
        contact.arm == Arm::Treated && since < self.caps
    }

    /// Whether a re-entry rule or cooldown reads `contact`, `since` days old, if it is the
    /// customer's last of its trigger and arm.
    fn last_read(&self, contact: &Contact, since: u32) -> bool {
        self.triggers
            .get(usize::from(contact.trigger))
            .is_some_and(|t| since < t.entry || (contact.arm == Arm::Treated && since < t.contact))
    }
}

/// Earlier contacts by customer.
#[derive(Debug)]
pub struct Index {
    /// Sorted by [`Entry::order`].
    entries: Vec<Entry>,
    /// Where the entries whose fingerprint starts with each `bits`-bit prefix begin, and one
    /// more at the end: a lookup reads two of these and about two entries.
    directory: Vec<u32>,
    bits: u32,
    channels: Vec<String>,
    /// The day the history was read for (`as_of`).
    today: u16,
    /// How many contacts were read, kept or not.
    read: u64,
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
    keep: Keep,
    /// The fingerprint of [`Keep::Customer`]'s id.
    customer: Option<(u64, u16)>,
    /// Under [`Keep::Policy`], the length at which the entries are next reduced to the last
    /// ones it keeps: twice what the last reduction kept, so that the memory stays within
    /// twice what is kept while the reductions cost a few sorts of what is read.
    reduce_at: usize,
}

/// Entries read between two reductions at least (16 MB).
const REDUCE_EVERY: usize = 1 << 20;

impl IndexBuilder {
    /// An empty index of the history as of day `today`, keeping `keep`, whose channels are
    /// `channels` (at most 255), in that order; any other channel is [`OTHER_CHANNEL`].
    pub fn new(channels: &[&str], today: u16, keep: Keep) -> IndexBuilder {
        let customer = match &keep {
            Keep::Customer(id) => Some(fingerprint(id.as_bytes())),
            _ => None,
        };
        IndexBuilder {
            index: Index {
                entries: Vec::new(),
                directory: Vec::new(),
                bits: 0,
                channels: channels.iter().take(255).map(|c| c.to_string()).collect(),
                today,
                read: 0,
            },
            keep,
            customer,
            reduce_at: REDUCE_EVERY,
        }
    }

    /// An empty builder of the same index, to fill on another thread and
    /// [`append`](IndexBuilder::append).
    pub fn part(&self) -> IndexBuilder {
        let channels: Vec<&str> = self.index.channels.iter().map(String::as_str).collect();
        IndexBuilder::new(&channels, self.index.today, self.keep.clone())
    }

    /// The index of channel `name`.
    pub fn channel(&self, name: &[u8]) -> u8 {
        self.index
            .channels
            .iter()
            .position(|c| c.as_bytes() == name)
            .map_or(OTHER_CHANNEL, |i| i as u8)
    }

    /// Adds the contacts `other` holds (made by [`part`](IndexBuilder::part)).
    pub fn append(&mut self, mut other: IndexBuilder) {
        self.index.read += other.index.read;
        self.index.entries.append(&mut other.index.entries);
        self.reduce_when_due();
    }

    /// Adds a contact of customer `id` (its bytes, surrounding whitespace aside).
    pub fn push(&mut self, id: &[u8], contact: Contact) {
        let (key, check) = fingerprint(id);
        self.push_fingerprint(key, check, contact);
    }

    /// Counts a contact read that no step of the policy reads (another rule set's service
    /// message).
    pub fn skip(&mut self) {
        self.index.read += 1;
    }

    /// Adds a contact of the customer whose [`fingerprint`] is `(key, check)`.
    pub fn push_fingerprint(&mut self, key: u64, check: u16, contact: Contact) {
        self.index.read += 1;
        let wanted = match &self.keep {
            Keep::All => true,
            Keep::Customer(_) => self.customer == Some((key, check)),
            Keep::Policy(reach) => {
                let since = u32::from(self.index.today.saturating_sub(contact.day));
                reach.capped(&contact, since) || reach.last_read(&contact, since)
            }
        };
        if wanted {
            self.index.entries.push(Entry {
                key,
                check,
                contact,
            });
            self.reduce_when_due();
        }
    }

    /// Reduces the entries ([`IndexBuilder::reduce`]) when [`Keep::Policy`] drops some and
    /// they reached `reduce_at`; the other kinds keep all, sorted once at the end.
    fn reduce_when_due(&mut self) {
        if matches!(self.keep, Keep::Policy(_)) && self.index.entries.len() >= self.reduce_at {
            self.reduce();
            self.reduce_at = (2 * self.index.entries.len()).max(REDUCE_EVERY);
        }
    }

    /// Sorts the entries ([`Entry::order`]) and, under [`Keep::Policy`], keeps of those a
    /// re-entry rule or cooldown reads only each group's last (a cap counts them all).
    fn reduce(&mut self) {
        let entries = &mut self.index.entries;
        // Sorted on two threads: split at the median, then each half.
        if entries.len() > 100_000 {
            let mid = entries.len() / 2;
            entries.select_nth_unstable_by_key(mid, Entry::order);
            let (low, high) = entries.split_at_mut(mid);
            std::thread::scope(|scope| {
                scope.spawn(|| low.sort_unstable_by_key(Entry::order));
                high.sort_unstable_by_key(Entry::order);
            });
        } else {
            entries.sort_unstable_by_key(Entry::order);
        }
        let Keep::Policy(reach) = &self.keep else {
            return;
        };
        let today = self.index.today;
        let mut kept = 0;
        for i in 0..entries.len() {
            let e = entries[i];
            let since = u32::from(today.saturating_sub(e.contact.day));
            let last = entries.get(i + 1).is_none_or(|next| !next.same_group(&e));
            if last || reach.capped(&e.contact, since) {
                entries[kept] = e;
                kept += 1;
            }
        }
        entries.truncate(kept);
    }

    /// The index, sorted for lookups.
    pub fn finish(mut self) -> Index {
        self.reduce();
        let index = &mut self.index;
        index.entries.shrink_to_fit();
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

    /// The earlier contacts of customer `id` (surrounding whitespace aside) that it keeps, by
    /// trigger, then arm, then day.
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

    /// How many contacts were read to make it, those it does not keep included.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Whether it holds no contact.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
        let mut b = IndexBuilder::new(&["email", "sms"], 2000, Keep::All);
        assert_eq!(b.channel(b"email"), 0);
        assert_eq!(b.channel(b"sms"), 1);
        assert_eq!(b.channel(b"fax"), OTHER_CHANNEL);
        let mut other = b.part();
        for i in 0..1000u16 {
            let half = if i % 2 == 0 { &mut b } else { &mut other };
            half.push(format!("C{}", i % 100).as_bytes(), contact(i, i % 7));
        }
        b.append(other);
        let index = b.finish();
        assert_eq!((index.len(), index.read()), (1000, 1000));
        let mut days: Vec<u16> = index.contacts(" C42 ").map(|c| c.day).collect();
        days.sort_unstable();
        // Every customer is found through the directory.
        for i in 0..100 {
            assert_eq!(index.contacts(&format!("C{i}")).count(), 10, "C{i}");
        }
        assert_eq!(days, (0..10).map(|k| 42 + 100 * k).collect::<Vec<_>>());
        assert_eq!(index.contacts("C100").count(), 0);
        assert_eq!(index.channel_name(1), Some("sms"));
        assert_eq!(index.channel_name(OTHER_CHANNEL), None);
    }

    /// What a policy of `reach` reads of a customer's contacts: per trigger the last entry
    /// (either arm) and the last treated contact within its reach, and per channel and window
    /// of up to the longest cap the treated contacts within it.
    type View = (BTreeMap<(u16, bool), u16>, BTreeMap<(u8, u32), u32>);

    /// Customer `id`'s [`View`] in `index`.
    fn policy_view(index: &Index, id: &str, reach: &Reach) -> View {
        let (mut last, mut counts) = (BTreeMap::new(), BTreeMap::new());
        for c in index.contacts(id) {
            let since = u32::from(index.today().saturating_sub(c.day));
            if let Some(t) = reach.triggers.get(usize::from(c.trigger)) {
                let treated = c.arm == Arm::Treated;
                for (contact, days) in [(false, t.entry), (true, t.contact)] {
                    if since < days && (treated || !contact) {
                        let day = last.entry((c.trigger, contact)).or_insert(0);
                        *day = c.day.max(*day);
                    }
                }
            }
            if c.arm == Arm::Treated {
                for window in since + 1..=reach.caps {
                    *counts.entry((c.channel, window)).or_insert(0) += 1;
                }
            }
        }
        (last, counts)
    }

    #[test]
    fn a_policys_index_keeps_what_the_policy_reads_however_long_the_history() {
        // 20,000 contacts of 50 customers over 400 days, in random order.
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        let today = 1000;
        let (ever, none) = (u32::MAX, 0);
        let reach = Reach {
            // Re-entry never; after 180 days with a 30-day cooldown; a 90-day cooldown; any.
            triggers: vec![
                TriggerReach {
                    entry: ever,
                    contact: none,
                },
                TriggerReach {
                    entry: 180,
                    contact: 30,
                },
                TriggerReach {
                    entry: none,
                    contact: 90,
                },
                TriggerReach {
                    entry: none,
                    contact: none,
                },
            ],
            caps: 14,
        };
        assert_eq!(reach.days(), None);
        let mut all = IndexBuilder::new(&["email", "sms"], today, Keep::All);
        let mut policy = IndexBuilder::new(&["email", "sms"], today, Keep::Policy(reach.clone()));
        // Reduced every 64 entries read, as a long history is every million.
        policy.reduce_at = 64;
        let mut parts = [policy.part(), policy.part()];
        parts.iter_mut().for_each(|p| p.reduce_at = 64);
        for i in 0..20_000 {
            let id = format!("C{}", next(50));
            let contact = Contact {
                day: today - next(400) as u16,
                trigger: if next(10) == 0 { OTHER } else { next(4) as u16 },
                channel: next(2) as u8,
                arm: if next(5) == 0 {
                    Arm::Control
                } else {
                    Arm::Treated
                },
            };
            all.push(id.as_bytes(), contact);
            match i % 3 {
                0 => policy.push(id.as_bytes(), contact),
                k => parts[k - 1].push(id.as_bytes(), contact),
            }
        }
        let [first, second] = parts;
        policy.append(first);
        policy.append(second);
        let (all, policy) = (all.finish(), policy.finish());
        assert_eq!(policy.read(), 20_000);
        // At most 6 last contacts and about 11 capped ones a customer, instead of 400.
        assert!(policy.len() < 50 * 20, "kept {}", policy.len());
        for c in 0..50 {
            let id = format!("C{c}");
            assert_eq!(
                policy_view(&policy, &id, &reach),
                policy_view(&all, &id, &reach),
                "{id}"
            );
        }
    }

    #[test]
    fn a_reach_reads_as_far_back_as_its_longest_rule() {
        let reach = |entry, contact, caps| Reach {
            triggers: vec![TriggerReach { entry, contact }, TriggerReach::default()],
            caps,
        };
        assert_eq!(reach(0, 0, 0).days(), Some(0));
        assert_eq!(reach(180, 30, 7).days(), Some(180));
        assert_eq!(reach(0, 90, 14).days(), Some(90));
        assert_eq!(reach(0, 0, 14).days(), Some(14));
        assert_eq!(reach(u32::MAX, 0, 14).days(), None);
    }

    #[test]
    fn an_index_for_one_customer_keeps_only_theirs() {
        let mut b = IndexBuilder::new(&["email"], 10, Keep::Customer(" C7".into()));
        for i in 0..100u16 {
            b.push(format!("C{}", i % 10).as_bytes(), contact(i, 0));
        }
        let index = b.finish();
        assert_eq!((index.len(), index.read()), (10, 100));
        assert_eq!(index.contacts("C7").count(), 10);
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
