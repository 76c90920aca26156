//! The contact history's customers joined to their outcomes by customer id ([`join`]).
//!
//! Both sides hold millions of ids. Looked up one by one in a table of every customer, nearly
//! each row misses the processor's cache (the table's slot, then the id it points to) and
//! waits on memory. So each side is first cut, as it is read, by a fixed hash of the id into
//! [`PARTS`] parts ([`ById`]); a part is then joined on its own, in a table small enough to
//! stay in the cache, and the parts are shared among the threads at hand.
//!
//! Customers are numbered part by part, each part in the order the history lists them, and a
//! customer's same-day outcomes merge in the order read: the result is the same whatever the
//! number of threads.

use super::orders::{merge_in_place, PurchaseDay};
use std::collections::HashMap;

/// The parts ids are cut into (a power of two: the part is the top bits of the hash).
const PARTS: usize = 256;

/// A table of ids; its hasher is seeded per process, which changes no result (the tables are
/// only looked up, never listed).
type Table<'a, V> = HashMap<&'a [u8], V, foldhash::fast::RandomState>;

/// Values by customer id, cut into parts by a fixed hash of the id, in the order added.
#[derive(Debug, Clone)]
pub struct ById<T> {
    parts: Vec<Part<T>>,
}

/// One part: the ids end to end, and each row's id length with its value.
#[derive(Debug, Clone)]
struct Part<T> {
    ids: Vec<u8>,
    rows: Vec<(u32, T)>,
}

impl<T: Copy> Default for ById<T> {
    fn default() -> Self {
        ById {
            parts: (0..PARTS)
                .map(|_| Part {
                    ids: Vec::new(),
                    rows: Vec::new(),
                })
                .collect(),
        }
    }
}

impl<T: Copy> ById<T> {
    /// Adds `value` for the customer `id`.
    pub fn add(&mut self, id: &str, value: T) {
        let hash = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
        let part = &mut self.parts[(hash >> (64 - PARTS.trailing_zeros())) as usize];
        part.ids.extend_from_slice(id.as_bytes());
        // An id is a cell of one row (at most `MAX_ROW_BYTES`) or a history text: far below 4 GiB.
        let len = u32::try_from(id.len()).unwrap_or(u32::MAX);
        part.rows.push((len, value));
    }
}

impl<T: Copy> Part<T> {
    /// The rows in the order added, with their ids.
    fn rows(&self) -> impl Iterator<Item = (&[u8], T)> {
        let mut at = 0;
        self.rows.iter().map(move |&(len, value)| {
            let end = (at + len as usize).min(self.ids.len());
            let id = &self.ids[at..end];
            at = end;
            (id, value)
        })
    }
}

/// The history's customers, numbered, with their outcomes.
#[derive(Debug, Default)]
pub struct Joined {
    /// Every recorded `(group, customer)`, in the history's order within each part.
    pub members: Vec<(u32, u32)>,
    /// Each part's first customer number, then the number of customers.
    firsts: Vec<u32>,
    /// Each part's outcomes, by its customers.
    parts: Vec<Outcomes>,
    /// Customers with outcomes who are not in the history.
    pub unknown_customers: u64,
    /// Their outcome days (one per customer and day).
    pub unknown_days: u64,
}

/// One part's customers' outcome days.
#[derive(Debug, Default)]
struct Outcomes {
    /// Where each customer's days start in `days`, then the end.
    starts: Vec<usize>,
    /// Customer after customer, each one's days sorted, one per day (same-day values summed).
    days: Vec<PurchaseDay>,
}

impl Joined {
    /// The customers numbered (from 0).
    pub fn customers(&self) -> usize {
        self.firsts.last().map_or(0, |&n| n as usize)
    }

    /// The outcome days of `customer`, sorted, one per day.
    pub fn days(&self, customer: u32) -> &[PurchaseDay] {
        let part = self.firsts.partition_point(|&first| first <= customer);
        let Some(outcomes) = part.checked_sub(1).and_then(|p| self.parts.get(p)) else {
            return &[];
        };
        let c = (customer - self.firsts[part - 1]) as usize;
        match (outcomes.starts.get(c), outcomes.starts.get(c + 1)) {
            (Some(&from), Some(&to)) => &outcomes.days[from..to],
            _ => &[],
        }
    }

    /// Outcome days of every customer, known or not (one per customer and day).
    pub fn outcome_days(&self) -> u64 {
        let known: usize = self.parts.iter().map(|p| p.days.len()).sum();
        known as u64 + self.unknown_days
    }
}

/// One part joined: its members (numbered from 0 in the part), its outcomes and the unknown
/// customers' counts.
type PartJoined = (Vec<(u32, u32)>, Outcomes, u64, u64);

/// Joins the history's `recorded` customers (each with the group it is listed in) to the
/// `outcomes` read for customer ids, on `threads` threads.
pub fn join(recorded: ById<u32>, outcomes: ById<PurchaseDay>, threads: usize) -> Joined {
    let per = PARTS.div_ceil(threads.max(1));
    let mut pairs = recorded.parts.into_iter().zip(outcomes.parts);
    let chunks: Vec<Vec<_>> = std::iter::from_fn(|| {
        let chunk: Vec<_> = pairs.by_ref().take(per).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
    .collect();
    let joined: Vec<PartJoined> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                // Each part's rows are freed once it is joined.
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(r, o)| join_part(&r, &o))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut all = Joined {
        members: Vec::with_capacity(joined.iter().map(|j| j.0.len()).sum()),
        firsts: vec![0],
        ..Joined::default()
    };
    for (members, outcomes, unknown_customers, unknown_days) in joined {
        let first = all.customers() as u32;
        all.members
            .extend(members.iter().map(|&(group, c)| (group, first + c)));
        let customers = outcomes.starts.len().saturating_sub(1) as u32;
        all.firsts.push(first + customers);
        all.parts.push(outcomes);
        all.unknown_customers += unknown_customers;
        all.unknown_days += unknown_days;
    }
    all
}

/// Joins one part.
fn join_part(recorded: &Part<u32>, outcomes: &Part<PurchaseDay>) -> PartJoined {
    let mut numbers: Table<u32> = Table::default();
    let members: Vec<(u32, u32)> = recorded
        .rows()
        .map(|(id, group)| {
            let next = numbers.len() as u32;
            (group, *numbers.entry(id).or_insert(next))
        })
        .collect();
    let customers = numbers.len();
    // Whose each outcome is (`None`: a customer the history does not know).
    let mut unknown: Table<Vec<PurchaseDay>> = Table::default();
    let mut counts = vec![0usize; customers + 1];
    let whose: Vec<Option<u32>> = outcomes
        .rows()
        .map(|(id, day)| match numbers.get(id) {
            Some(&c) => {
                counts[c as usize + 1] += 1;
                Some(c)
            }
            None => {
                unknown.entry(id).or_default().push(day);
                None
            }
        })
        .collect();
    // The outcomes by customer, in the order read, then each customer's merged by day.
    for c in 1..counts.len() {
        counts[c] += counts[c - 1];
    }
    let mut next = counts.clone();
    let mut placed = vec![
        PurchaseDay {
            day: 0,
            amount: 0.0
        };
        counts[customers]
    ];
    for (c, (_, day)) in whose.iter().zip(outcomes.rows()) {
        if let Some(c) = c {
            placed[next[*c as usize]] = day;
            next[*c as usize] += 1;
        }
    }
    let mut merged = Outcomes {
        starts: Vec::with_capacity(customers + 1),
        days: Vec::with_capacity(placed.len()),
    };
    let mut one = Vec::new();
    merged.starts.push(0);
    for c in 0..customers {
        one.clear();
        one.extend_from_slice(&placed[counts[c]..counts[c + 1]]);
        merge_in_place(&mut one);
        merged.days.extend_from_slice(&one);
        merged.starts.push(merged.days.len());
    }
    let unknown_customers = unknown.len() as u64;
    let unknown_days = unknown
        .into_values()
        .map(|mut days| {
            merge_in_place(&mut days);
            days.len() as u64
        })
        .sum::<u64>();
    (members, merged, unknown_customers, unknown_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i32, amount: f64) -> PurchaseDay {
        PurchaseDay { day, amount }
    }

    #[test]
    fn customers_numbered_with_their_days_merged() {
        let mut recorded = ById::default();
        let mut outcomes = ById::default();
        for (group, id) in [(0, "a"), (0, "b"), (1, "a"), (1, "c")] {
            recorded.add(id, group);
        }
        for (id, d) in [
            ("a", day(10, 1.0)),
            ("x", day(3, 5.0)),
            ("a", day(5, 2.0)),
            ("c", day(7, 4.0)),
            ("a", day(10, 0.5)),
            ("x", day(3, 1.0)),
            ("x", day(4, 1.0)),
        ] {
            outcomes.add(id, d);
        }
        for threads in [1, 2, 3] {
            let recorded = recorded.clone();
            let outcomes = outcomes.clone();
            let joined = join(recorded, outcomes, threads);
            assert_eq!(joined.customers(), 3);
            assert_eq!(joined.members.len(), 4);
            // Each group's customers with their days, fewest days first.
            let of = |group: u32| {
                let mut listed: Vec<(u32, Vec<PurchaseDay>)> = joined
                    .members
                    .iter()
                    .filter(|m| m.0 == group)
                    .map(|&(_, c)| (c, joined.days(c).to_vec()))
                    .collect();
                listed.sort_by_key(|(_, days)| days.len());
                listed
            };
            let a = vec![day(5, 2.0), day(10, 1.5)];
            let (zero, one) = (of(0), of(1));
            assert_eq!((&zero[0].1, &zero[1].1), (&vec![], &a));
            assert_eq!((&one[0].1, &one[1].1), (&vec![day(7, 4.0)], &a));
            // `a`, listed in both groups, is one customer.
            assert_eq!(zero[1].0, one[1].0);
            assert_eq!((joined.unknown_customers, joined.unknown_days), (1, 2));
            assert_eq!(joined.outcome_days(), 5);
            assert!(joined.days(3).is_empty());
        }
    }

    proptest::proptest! {
        /// Each recorded id is one customer, with the days `read_orders` keeps for the same
        /// orders (a history's); the others are counted unknown; whatever the threads.
        #[test]
        fn days_are_the_histories_days(
            recorded in proptest::collection::vec(0u8..12, 0..40),
            orders in proptest::collection::vec((0u8..16, 0i32..20, 0u32..400), 0..120),
            threads in 1usize..4,
        ) {
            let id = |n: u8| format!("C{n}");
            // Each recorded row's group is its place, to find whom it was numbered as.
            let mut by_id = ById::default();
            for (place, &n) in recorded.iter().enumerate() {
                by_id.add(&id(n), place as u32);
            }
            let mut outcomes = ById::default();
            for &(n, d, cents) in &orders {
                outcomes.add(&id(n), day(d, f64::from(cents) / 4.0));
            }
            let joined = join(by_id, outcomes, threads);
            proptest::prop_assert_eq!(joined.members.len(), recorded.len());
            let mut number_of = std::collections::BTreeMap::new();
            for &(place, c) in &joined.members {
                let n = recorded[place as usize];
                proptest::prop_assert_eq!(*number_of.entry(n).or_insert(c), c);
            }
            let numbers: std::collections::BTreeSet<u32> = number_of.values().copied().collect();
            proptest::prop_assert_eq!(numbers.len(), number_of.len());
            proptest::prop_assert_eq!(joined.customers(), number_of.len());
            let (mut unknown, mut unknown_days, mut all_days) = (0, 0, 0);
            for n in 0u8..16 {
                let days: Vec<PurchaseDay> = orders
                    .iter()
                    .filter(|o| o.0 == n)
                    .map(|&(_, d, cents)| day(d, f64::from(cents) / 4.0))
                    .collect();
                let history = super::super::orders::History::new(id(n), days);
                let expected = history.as_ref().map_or(&[][..], |h| h.days());
                all_days += expected.len() as u64;
                match number_of.get(&n) {
                    Some(&c) => proptest::prop_assert_eq!(joined.days(c), expected),
                    None if !expected.is_empty() => {
                        unknown += 1;
                        unknown_days += expected.len() as u64;
                    }
                    None => {}
                }
            }
            proptest::prop_assert_eq!((joined.unknown_customers, joined.unknown_days), (unknown, unknown_days));
            proptest::prop_assert_eq!(joined.outcome_days(), all_days);
        }
    }
}
