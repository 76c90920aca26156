//! Volume limits: a trigger with `volume N by RANK` contacts at most N customers in a run, those
//! it would contact with the highest rank. The customers are ranked over the whole export, so a
//! batch run first decides everyone once per volume-limited trigger, highest priority first, to
//! find its last customer kept (the cutoff) with the cutoffs of the triggers before it in place,
//! then decides again with them all: memory holds N ranks per trigger, not the export.
//!
//! Customers of one rank are ordered by [`stable_hash`] of the trigger's name and the customer
//! id (lowest first), then by id: the order is total, so exactly N are kept whatever the
//! number of threads or the order of the rows.

use crate::plan::stable_hash;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Where a customer stands in a trigger's volume: greater is kept first.
#[derive(Debug, Clone, PartialEq)]
pub struct RankKey {
    /// The rank expression's value; a missing value ranks last.
    pub rank: f64,
    pub hash: u64,
    pub id: String,
}

impl RankKey {
    /// The key of customer `id` (trimmed, as keys are read) ranked `rank` by `trigger`.
    pub fn new(trigger: &str, id: &str, rank: f64) -> RankKey {
        let id = id.trim();
        RankKey {
            rank,
            hash: stable_hash(trigger, id),
            id: id.to_string(),
        }
    }
}

impl Eq for RankKey {}

impl Ord for RankKey {
    /// Higher rank first, then the lower hash, then the lower id.
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank
            .total_cmp(&other.rank)
            .then_with(|| other.hash.cmp(&self.hash))
            .then_with(|| other.id.cmp(&self.id))
    }
}

impl PartialOrd for RankKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The best `max` keys seen, per volume-limited trigger.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    /// Per trigger: its volume and a heap of its best keys with the worst on top; `None` for
    /// a trigger without a volume.
    best: Vec<Option<(usize, BinaryHeap<std::cmp::Reverse<RankKey>>)>>,
}

impl Ranking {
    /// An empty ranking for triggers whose volumes are `volumes` (`None` for no limit).
    pub fn new(volumes: impl Iterator<Item = Option<usize>>) -> Ranking {
        Ranking {
            best: volumes
                .map(|v| v.map(|max| (max, BinaryHeap::new())))
                .collect(),
        }
    }

    /// Whether it ranks no trigger (a default one, not yet shaped).
    pub fn is_empty(&self) -> bool {
        self.best.is_empty()
    }

    /// Counts customer `key` as one trigger `t` would contact.
    pub fn offer(&mut self, t: usize, key: RankKey) {
        let Some((max, heap)) = self.best.get_mut(t).and_then(Option::as_mut) else {
            return;
        };
        if heap.len() < *max {
            heap.push(std::cmp::Reverse(key));
        } else if heap.peek().is_some_and(|worst| key > worst.0) {
            heap.pop();
            heap.push(std::cmp::Reverse(key));
        }
    }

    /// Adds another worker's ranking of the same triggers.
    pub fn merge(&mut self, other: Ranking) {
        for (t, best) in other.best.into_iter().enumerate() {
            for key in best.into_iter().flat_map(|(_, heap)| heap) {
                self.offer(t, key.0);
            }
        }
    }

    /// The last key trigger `t`'s volume keeps: `None` when it has no volume or fewer
    /// customers than its volume.
    pub fn cutoff(&self, t: usize) -> Option<RankKey> {
        let (max, heap) = self.best.get(t)?.as_ref()?;
        (heap.len() >= *max).then(|| heap.peek().map(|k| k.0.clone()))?
    }
}

/// Per trigger, the lowest [`RankKey`] its volume keeps; `None` keeps everyone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeCut(Vec<Option<RankKey>>);

impl VolumeCut {
    /// No cut yet for any of `triggers` triggers: every customer kept.
    pub fn keep_all(triggers: usize) -> VolumeCut {
        VolumeCut(vec![None; triggers])
    }

    /// Trigger `t`'s cutoff, once ranked.
    pub fn set(&mut self, t: usize, cutoff: Option<RankKey>) {
        if let Some(slot) = self.0.get_mut(t) {
            *slot = cutoff;
        }
    }

    /// Whether trigger `t`'s volume keeps the customer of `key`.
    pub fn keeps(&self, t: usize, key: &RankKey) -> bool {
        match self.0.get(t) {
            Some(Some(cutoff)) => key >= cutoff,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_keeps_exactly_the_best_whatever_the_order() {
        let keys: Vec<RankKey> = (0..100)
            .map(|i| RankKey::new("call", &format!("C{i}"), f64::from(i % 10)))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        let best: Vec<&RankKey> = sorted.iter().take(15).collect();
        for split in [0, 7, 50, 100] {
            let (mut a, mut b) = (
                Ranking::new([Some(15)].into_iter()),
                Ranking::new([Some(15)].into_iter()),
            );
            for (i, k) in keys.iter().enumerate().rev() {
                if i < split {
                    a.offer(0, k.clone());
                } else {
                    b.offer(0, k.clone());
                }
            }
            a.merge(b);
            let mut cut = VolumeCut::keep_all(1);
            cut.set(0, a.cutoff(0));
            let kept: Vec<&RankKey> = sorted.iter().filter(|k| cut.keeps(0, k)).collect();
            assert_eq!(kept, best, "split at {split}");
        }
    }

    #[test]
    fn fewer_customers_than_the_volume_are_all_kept() {
        let mut r = Ranking::new([Some(5), None].into_iter());
        r.offer(0, RankKey::new("t", "A", 1.0));
        r.offer(1, RankKey::new("u", "B", 1.0));
        let mut cut = VolumeCut::keep_all(2);
        cut.set(0, r.cutoff(0));
        cut.set(1, r.cutoff(1));
        assert_eq!(r.cutoff(0), None);
        assert!(cut.keeps(0, &RankKey::new("t", "Z", f64::NEG_INFINITY)));
        assert!(cut.keeps(1, &RankKey::new("u", "Z", f64::NEG_INFINITY)));
    }
}
