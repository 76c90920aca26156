//! Population scores: a metric (recency, frequency, monetary, CLV, ...) into a score `1..=bins`
//! from the whole population of customers, per `docs/domain.md` ("RFM: scores").
//!
//! Scoring takes two passes. In the first, every scored customer's value is pushed into a
//! [`Collector`] (prospects and missing values are not pushed, and get no score); it keeps one
//! `f64` per customer (plus a 64-bit id hash with [`Method::Hash`], nothing with
//! [`Method::Fixed`]), in any order, and collectors of parallel workers can be
//! [merged](Collector::merge). [`Collector::finish`] computes the edges once, into a
//! [`Scorer`]; in the second pass [`Scorer::score`] gives each customer's score, and
//! [`Scorer::edges`] are printed in the summary so that a rule set can freeze them.
//!
//! # Edges and bins
//!
//! A scorer has `bins - 1` edges `e[1] <= e[2] <= ... <= e[bins - 1]` (1-based here; the slice
//! [`Scorer::edges`] is 0-based), with `e[0] = -inf` and `e[bins] = +inf`. Bin `s` holds the
//! values in `(e[s - 1], e[s]]`: a value equal to an edge falls in the lower bin. So
//!
//! ```text
//! bin(x) = 1 + #{ k : e[k] < x }
//! score(x) = bin(x)              (ascending: the highest values get `bins`)
//! score(x) = bins + 1 - bin(x)   (`reverse`, for recency: the lowest values get `bins`)
//! ```
//!
//! `reverse` only relabels the bins: the edges are the same numbers either way, so frozen
//! edges read the same (recency edges `30, 90, 180, 365` with `reverse` give 5 to customers
//! whose last purchase is at most 30 days ago).
//!
//! # The methods
//!
//! - [`Method::Together`] (the default, `ties = together`): value quantiles. With the `n`
//!   values sorted, `v(1) <= ... <= v(n)`, edge `k` is the value at rank `ceil(k * n / bins)`:
//!   the smallest value with at least `k / bins` of the population at or below it. The score
//!   depends on the value alone, so equal values always share a bin: the bin that the lowest
//!   ranked of them would get by rank (see [`Method::Hash`]). Without ties, and with `n` a
//!   multiple of `bins`, every bin holds `n / bins` customers. When one value fills more than
//!   `1 / bins` of the population, consecutive edges are equal and the bins between them
//!   would be empty: they collapse (no customer gets their scores) while the other scores keep
//!   their meaning; the top bin is empty when the highest value alone fills more than
//!   `1 / bins`. [`Scorer::edges`] shows the repeats, [`Scorer::empty_scores`] names the
//!   scores that collapsed, [`Scorer::effective_edges`] gives the distinct edges.
//!
//!   Heavy ties, as in CDNOW where about half of the customers have one purchase: with 5 bins
//!   the edges at ranks `0.2 n` and `0.4 n` are both 1 (and so is the one at `0.6 n` when more
//!   than 60 % have one purchase). Every one-purchase customer gets frequency score 1, score 2
//!   (and 3) is empty, and the repeat buyers are split by the later edges, the top fifth or so
//!   getting 5. With fewer distinct values than bins, some scores are always empty. Scores
//!   never depend on row order, and there are always `bins` possible scores (so a table of
//!   score cells can be checked before the data is seen).
//!
//! - [`Method::Hash`] (`ties = hash`): rank quantiles. Customers are ranked by the key
//!   `(value, h)`, where `h` is [`id_hash`]`(salt, id)`, a fixed, documented hash (never row
//!   order, never a per-process random seed), and the customer at rank `r` gets bin `s` when
//!   `ceil((s - 1) * n / bins) < r <= ceil(s * n / bins)`: bins differ in size by at most one
//!   customer, and equal values are split across an edge by their id hashes, the same way in
//!   every run with the same salt. The edges are the keys at ranks `ceil(k * n / bins)`;
//!   [`Scorer::edges`] gives their values (they repeat where ties were split) and
//!   [`Scorer::hash_edges`] their hashes. A customer's key is compared with the edges' keys, so
//!   `bin(x, id) = 1 + #{ k : (x, h(id)) > (e[k], h[k]) }`. Two customers with the same value
//!   and id hash (the same id, or a 64-bit collision) share a bin.
//!
//! - [`Method::Fixed`]: user-given edges, `bins - 1` of them, finite and never decreasing (an
//!   edge equal to the one before declares an empty bin, so the edges a `together` scorer
//!   reports, repeats and all, freeze its scores exactly);
//!   the population is not looked at (the collector keeps nothing).
//!
//! Values must be finite: NaN and infinities are refused with [`ScoreError::NotFinite`] by
//! [`Collector::push`] and [`Scorer::score`]. `-0.0` is taken as `0.0`.

use std::cmp::Ordering;
use std::fmt;

/// The fewest bins a score may have.
pub const MIN_BINS: u8 = 3;
/// The most bins a score may have.
pub const MAX_BINS: u8 = 10;

/// Why a score specification or a value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// The bin count is outside `MIN_BINS..=MAX_BINS`.
    #[error("a score has 3 to 10 bins, not {bins}")]
    Bins {
        /// The bin count given.
        bins: u32,
    },
    /// Fixed edges: not `bins - 1` of them.
    #[error("{bins} bins need {expected} edges (bins - 1), found {found}")]
    EdgeCount {
        /// The bin count.
        bins: u8,
        /// `bins - 1`.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// Fixed edges: an edge that is NaN or infinite.
    #[error("edge {} is {value}, not a finite number", .index + 1)]
    EdgeNotFinite {
        /// The edge's position in the list, from 0.
        index: usize,
        /// The edge.
        value: f64,
    },
    /// Fixed edges: an edge below the one before it.
    #[error(
        "edges must not decrease: edge {} ({value}) is below edge {} ({previous})",
        .index + 1,
        .index
    )]
    EdgesDecreasing {
        /// The position of the offending edge, from 0 (at least 1).
        index: usize,
        /// The edge before it.
        previous: f64,
        /// The offending edge.
        value: f64,
    },
    /// Collectors of different specs merged.
    #[error("collectors of different score specifications cannot be merged")]
    Mismatch,
    /// A value to collect or score that is NaN or infinite.
    #[error("the value of customer `{id}` is {value}, not a finite number")]
    NotFinite {
        /// The customer's id.
        id: String,
        /// The value.
        value: f64,
    },
}

/// How the edges are found.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Method {
    /// Value quantiles, equal values always in one bin, empty bins collapsed (`ties =
    /// together`, the default).
    #[default]
    Together,
    /// Rank quantiles, ties broken by [`id_hash`] of the salt and the customer id (`ties =
    /// hash`).
    Hash {
        /// Mixed into every id's hash: another salt, another (stable) order of tied customers.
        salt: String,
    },
    /// Fixed edges given by the user: `bins - 1`, finite, never decreasing (equal edges
    /// declare empty bins).
    Fixed {
        /// The edges, lowest first.
        edges: Vec<f64>,
    },
}

/// A [`Method`] without its parameters, as reports name it (its word, in text and JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    Together,
    Hash,
    Fixed,
}

crate::model::words!(MethodKind, "a ties method", Together => "together", Hash => "hash", Fixed => "fixed");

impl Method {
    /// Which method, without its parameters.
    pub fn kind(&self) -> MethodKind {
        match self {
            Method::Together => MethodKind::Together,
            Method::Hash { .. } => MethodKind::Hash,
            Method::Fixed { .. } => MethodKind::Fixed,
        }
    }
}

/// A validated score specification: bins, direction and method.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    bins: u8,
    reverse: bool,
    method: Method,
}

impl Spec {
    /// A specification of `bins` bins (`MIN_BINS..=MAX_BINS`); `reverse` gives the top score to
    /// the lowest values (recency). Fixed edges are validated here.
    pub fn new(bins: u32, reverse: bool, method: Method) -> Result<Spec, ScoreError> {
        let bins = u8::try_from(bins)
            .ok()
            .filter(|b| (MIN_BINS..=MAX_BINS).contains(b))
            .ok_or(ScoreError::Bins { bins })?;
        if let Method::Fixed { edges } = &method {
            validate_edges(bins, edges)?;
        }
        Ok(Spec {
            bins,
            reverse,
            method,
        })
    }

    /// The bin count.
    pub fn bins(&self) -> u8 {
        self.bins
    }

    /// Whether the lowest values get the top score.
    pub fn reverse(&self) -> bool {
        self.reverse
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
}

/// Checks user-given edges: `bins - 1` of them, finite, never decreasing.
fn validate_edges(bins: u8, edges: &[f64]) -> Result<(), ScoreError> {
    let expected = usize::from(bins) - 1;
    if edges.len() != expected {
        return Err(ScoreError::EdgeCount {
            bins,
            expected,
            found: edges.len(),
        });
    }
    for (index, &value) in edges.iter().enumerate() {
        if !value.is_finite() {
            return Err(ScoreError::EdgeNotFinite { index, value });
        }
    }
    for index in 1..edges.len() {
        let (previous, value) = (edges[index - 1], edges[index]);
        if value < previous {
            return Err(ScoreError::EdgesDecreasing {
                index,
                previous,
                value,
            });
        }
    }
    Ok(())
}

/// The tie-breaking hash of [`Method::Hash`]: 64-bit FNV-1a (offset basis
/// `0xcbf29ce484222325`, prime `0x100000001b3`) over the bytes of `salt`, one `0xff` byte
/// (which UTF-8 never contains, so salt and id cannot run into each other) and the bytes of
/// `id`, followed by the 64-bit finalizer of MurmurHash3 (`fmix64`) so that similar ids
/// (`C000001`, `C000002`) land far apart. Fixed forever: changing it would move customers.
pub fn id_hash(salt: &str, id: &str) -> u64 {
    fnv_finish(fnv_salted(salt), id)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The FNV state after the salt and the separator.
fn fnv_salted(salt: &str) -> u64 {
    fnv(fnv(FNV_OFFSET, salt.as_bytes()), &[0xff])
}

/// The id hash from the salted state.
fn fnv_finish(state: u64, id: &str) -> u64 {
    fmix64(fnv(state, id.as_bytes()))
}

/// MurmurHash3's 64-bit finalizer.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// A finite value, `-0.0` made `0.0`; else the error naming the customer.
fn finite(value: f64, id: &str) -> Result<f64, ScoreError> {
    if value.is_finite() {
        Ok(value + 0.0)
    } else {
        Err(ScoreError::NotFinite {
            id: id.to_string(),
            value,
        })
    }
}

/// What a collector keeps per customer.
#[derive(Debug, Clone)]
enum Kept {
    /// Values (together).
    Values(Vec<f64>),
    /// Values and id hashes (hash), and the salted FNV state.
    Keyed(Vec<(f64, u64)>, u64),
    /// Nothing (fixed edges).
    Nothing,
}

/// The first pass: gathers the population's values (in any order) for [`Collector::finish`].
#[derive(Debug, Clone)]
pub struct Collector {
    spec: Spec,
    kept: Kept,
    count: usize,
}

impl Collector {
    /// An empty collector for `spec`.
    pub fn new(spec: Spec) -> Collector {
        let kept = match spec.method() {
            Method::Together => Kept::Values(Vec::new()),
            Method::Hash { salt } => Kept::Keyed(Vec::new(), fnv_salted(salt)),
            Method::Fixed { .. } => Kept::Nothing,
        };
        Collector {
            spec,
            kept,
            count: 0,
        }
    }

    /// Adds one scored customer. A NaN or infinite value is refused (and not added).
    pub fn push(&mut self, value: f64, id: &str) -> Result<(), ScoreError> {
        let value = finite(value, id)?;
        match &mut self.kept {
            Kept::Values(values) => values.push(value),
            Kept::Keyed(keys, state) => keys.push((value, fnv_finish(*state, id))),
            Kept::Nothing => {}
        }
        self.count += 1;
        Ok(())
    }

    /// Adds everything `other` collected (a parallel worker's share). The result does not
    /// depend on the order collectors are merged in. `other` must come from the same spec.
    pub fn merge(&mut self, other: Collector) -> Result<(), ScoreError> {
        if other.spec != self.spec {
            return Err(ScoreError::Mismatch);
        }
        match (&mut self.kept, other.kept) {
            (Kept::Values(a), Kept::Values(b)) => a.extend(b),
            (Kept::Keyed(a, _), Kept::Keyed(b, _)) => a.extend(b),
            _ => {}
        }
        self.count += other.count;
        Ok(())
    }

    /// How many customers were pushed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no customer was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Computes the edges (see the module documentation). An empty population has no edges:
    /// every value is then in bin 1.
    pub fn finish(self) -> Scorer {
        let bins = self.spec.bins;
        let (edges, hashes, salted, top_empty) = match self.kept {
            Kept::Nothing => match self.spec.method {
                Method::Fixed { edges } => (edges, Vec::new(), None, false),
                // `Collector::new` keeps nothing only for fixed edges.
                _ => (Vec::new(), Vec::new(), None, false),
            },
            Kept::Values(mut values) => {
                let (edges, top_empty) = select_ranks(&mut values, bins, |a, b| a.total_cmp(b));
                (edges, Vec::new(), None, top_empty)
            }
            Kept::Keyed(mut keys, state) => {
                let (edges, top_empty) = select_ranks(&mut keys, bins, cmp_key);
                let (values, hashes) = edges.into_iter().unzip();
                (values, hashes, Some(state), top_empty)
            }
        };
        Scorer {
            bins,
            reverse: self.spec.reverse,
            edges,
            hashes,
            salted,
            top_empty,
            population: self.count,
        }
    }
}

/// Orders hash-method keys: value, then id hash.
fn cmp_key(a: &(f64, u64), b: &(f64, u64)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The items at ranks `ceil(k * n / bins)`, `k = 1..bins` (1-based ranks in `cmp` order), by
/// successive selections (no full sort), and whether no item is above the last of them (the
/// top bin is empty). No items, no edges.
fn select_ranks<T: Copy>(
    items: &mut [T],
    bins: u8,
    cmp: impl Fn(&T, &T) -> Ordering + Copy,
) -> (Vec<T>, bool) {
    let n = items.len();
    let Some(&first) = items.first() else {
        return (Vec::new(), false);
    };
    let bins = usize::from(bins);
    let mut out = Vec::with_capacity(bins - 1);
    // Everything before `start` is at or below the last item selected.
    let mut start = 0;
    let mut last = first;
    for k in 1..bins {
        let index = (k * n).div_ceil(bins) - 1;
        if index >= start {
            let (_, &mut item, _) = items[start..].select_nth_unstable_by(index - start, cmp);
            last = item;
            start = index + 1;
        }
        // Else the same rank as the previous edge.
        out.push(last);
    }
    let top_empty = !items[start..]
        .iter()
        .any(|item| cmp(item, &last) == Ordering::Greater);
    (out, top_empty)
}

/// The second pass: scores customers with the edges a [`Collector`] found (or fixed ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Scorer {
    bins: u8,
    reverse: bool,
    /// `bins - 1` non-decreasing edges, or none for an empty population.
    edges: Vec<f64>,
    /// The id hashes of the edges' keys (hash method only).
    hashes: Vec<u64>,
    /// The salted FNV state (hash method only).
    salted: Option<u64>,
    /// No customer of the population is above the last edge.
    top_empty: bool,
    population: usize,
}

impl Scorer {
    /// The score of a customer with `value` (`1..=bins`). The id matters only with
    /// [`Method::Hash`], for a value equal to an edge. A NaN or infinite value is refused.
    pub fn score(&self, value: f64, id: &str) -> Result<u8, ScoreError> {
        let value = finite(value, id)?;
        let below = match self.salted {
            None => self.edges.iter().filter(|&&e| e < value).count(),
            Some(state) => {
                let key = (value, fnv_finish(state, id));
                self.edges
                    .iter()
                    .zip(&self.hashes)
                    .filter(|&(&e, &h)| cmp_key(&key, &(e, h)) == Ordering::Greater)
                    .count()
            }
        };
        // At most bins - 1 edges, so the bin is within 1..=bins.
        Ok(self.label(below as u8 + 1))
    }

    /// The edges: `bins - 1` of them, non-decreasing (equal edges: a collapsed, empty bin;
    /// with [`Method::Hash`], a tie split by the id hashes), or none when the population was
    /// empty. Bin `s` (from 1) holds the values in `(edges[s - 2], edges[s - 1]]`.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// The distinct edges, lowest first: those that separate customers.
    pub fn effective_edges(&self) -> Vec<f64> {
        let mut out = self.edges.clone();
        out.dedup();
        out
    }

    /// With [`Method::Hash`], the id hashes of the edges (a customer whose value equals
    /// `edges[k]` is above that edge when its [`id_hash`] is greater than `hash_edges[k]`);
    /// empty otherwise.
    pub fn hash_edges(&self) -> &[u64] {
        &self.hashes
    }

    /// The scores no customer of the population got, lowest first: the bins collapsed
    /// between equal edges, and the top bin when no value is above the last edge (with
    /// [`Method::Together`], when the highest value alone fills more than `1 / bins` of the
    /// population; with [`Method::Hash`], only with fewer customers than bins). None for fixed
    /// edges (the population is not looked at) or an empty population.
    pub fn empty_scores(&self) -> Vec<u8> {
        let mut bins = Vec::new();
        for k in 1..self.edges.len() {
            let same_hash = self.hashes.get(k) == self.hashes.get(k - 1);
            if self.edges[k] == self.edges[k - 1] && same_hash {
                bins.push(k as u8 + 1);
            }
        }
        if self.top_empty {
            bins.push(self.bins);
        }
        let mut out: Vec<u8> = bins.into_iter().map(|b| self.label(b)).collect();
        out.sort_unstable();
        out
    }

    /// The score of bin `bin`.
    fn label(&self, bin: u8) -> u8 {
        if self.reverse {
            self.bins + 1 - bin
        } else {
            bin
        }
    }

    /// The bin count.
    pub fn bins(&self) -> u8 {
        self.bins
    }

    /// Whether the lowest values get the top score.
    pub fn reverse(&self) -> bool {
        self.reverse
    }

    /// How many customers were collected (the edges' population, unless fixed).
    pub fn population(&self) -> usize {
        self.population
    }
}

impl fmt::Display for Scorer {
    /// `edges [a, b, ...]`, the numbers as Rust prints them (shortest round-trip form), so a
    /// frozen edge parses back to the same `f64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "edges [")?;
        for (i, e) in self.edges.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{e}")?;
        }
        write!(f, "]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(bins: u32, reverse: bool, method: Method) -> Spec {
        Spec::new(bins, reverse, method).expect("a valid spec")
    }

    fn hash(salt: &str) -> Method {
        Method::Hash {
            salt: salt.to_string(),
        }
    }

    fn fixed(edges: &[f64]) -> Method {
        Method::Fixed {
            edges: edges.to_vec(),
        }
    }

    /// The scorer of `customers` (value, id).
    fn scorer(spec: &Spec, customers: &[(f64, String)]) -> Scorer {
        let mut c = Collector::new(spec.clone());
        for (value, id) in customers {
            c.push(*value, id).unwrap();
        }
        c.finish()
    }

    /// Customers `c0, c1, ...` with these values.
    fn named(values: &[f64]) -> Vec<(f64, String)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, format!("c{i}")))
            .collect()
    }

    fn scores(s: &Scorer, customers: &[(f64, String)]) -> Vec<u8> {
        customers
            .iter()
            .map(|(v, id)| s.score(*v, id).unwrap())
            .collect()
    }

    #[test]
    fn together_without_ties_gives_equal_bins() {
        // 10 values, 5 bins: edges at ranks 2, 4, 6, 8.
        let people = named(&[7.0, 1.0, 10.0, 4.0, 2.0, 9.0, 3.0, 6.0, 8.0, 5.0]);
        let s = scorer(&spec(5, false, Method::Together), &people);
        assert_eq!(s.edges(), [2.0, 4.0, 6.0, 8.0]);
        assert_eq!(s.empty_scores(), Vec::<u8>::new());
        assert_eq!(scores(&s, &people), [4, 1, 5, 2, 1, 5, 2, 3, 4, 3]);
        // A value on an edge falls in the lower bin; values outside the population still score.
        assert_eq!(s.score(4.0, "x"), Ok(2));
        assert_eq!(s.score(4.5, "x"), Ok(3));
        assert_eq!(s.score(-100.0, "x"), Ok(1));
        assert_eq!(s.score(1e9, "x"), Ok(5));
    }

    #[test]
    fn reverse_relabels_the_same_bins() {
        let people = named(&[7.0, 1.0, 10.0, 4.0, 2.0, 9.0, 3.0, 6.0, 8.0, 5.0]);
        let s = scorer(&spec(5, true, Method::Together), &people);
        assert_eq!(s.edges(), [2.0, 4.0, 6.0, 8.0]);
        assert_eq!(scores(&s, &people), [2, 5, 1, 4, 5, 1, 4, 3, 2, 3]);
        // 3 bins over 6 recencies: edges at ranks 2 and 4.
        let people = named(&[30.0, 5.0, 400.0, 12.0, 90.0, 200.0]);
        let s = scorer(&spec(3, true, Method::Together), &people);
        assert_eq!(s.edges(), [12.0, 90.0]);
        assert_eq!(scores(&s, &people), [2, 3, 1, 3, 2, 1]);
    }

    #[test]
    fn heavy_ties_share_one_score_and_collapse_bins() {
        // Half of 20 customers have the value 1: ranks 4, 8, 12, 16 are 1, 1, 3, 7.
        let mut values = vec![1.0; 10];
        values.extend((2..=11).map(f64::from));
        let people = named(&values);
        let s = scorer(&spec(5, false, Method::Together), &people);
        assert_eq!(s.edges(), [1.0, 1.0, 3.0, 7.0]);
        assert_eq!(s.effective_edges(), [1.0, 3.0, 7.0]);
        assert_eq!(s.empty_scores(), [2]);
        let got = scores(&s, &people);
        assert_eq!(&got[..10], [1; 10], "the tied half shares the lowest score");
        assert_eq!(&got[10..], [3, 3, 4, 4, 4, 4, 5, 5, 5, 5]);
        // Reversed: the tied half gets the top score, and the collapsed score is 4.
        let s = scorer(&spec(5, true, Method::Together), &people);
        assert_eq!(s.empty_scores(), [4]);
        assert_eq!(&scores(&s, &people)[..10], [5; 10]);
    }

    #[test]
    fn reported_edges_freeze_a_collapsed_result_exactly() {
        let mut values = vec![1.0; 10];
        values.extend((2..=11).map(f64::from));
        let people = named(&values);
        for reverse in [false, true] {
            let learned = scorer(&spec(5, reverse, Method::Together), &people);
            let edges = learned.edges().to_vec();
            assert_eq!(edges, [1.0, 1.0, 3.0, 7.0], "repeats and all");
            let frozen = scorer(&spec(5, reverse, Method::Fixed { edges }), &[]);
            // The population, values between and beyond them: the same score every time.
            let probes = named(&[0.0, 1.0, 1.5, 2.0, 3.0, 3.5, 7.0, 7.5, 11.0, 99.0]);
            for (v, id) in people.iter().chain(&probes) {
                assert_eq!(frozen.score(*v, id), learned.score(*v, id), "value {v}");
            }
            assert_eq!(frozen.empty_scores(), learned.empty_scores());
        }
    }

    #[test]
    fn a_tied_top_empties_the_top_bin() {
        // 7 of 10 at 0, 3 at 1: edges at ranks 2, 4, 6, 8 are 0, 0, 0, 1.
        let mut values = vec![0.0; 7];
        values.extend([1.0; 3]);
        let people = named(&values);
        let s = scorer(&spec(5, false, Method::Together), &people);
        assert_eq!(s.edges(), [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(s.empty_scores(), [2, 3, 5]);
        assert_eq!(s.score(1.0, "x"), Ok(4));
        assert_eq!(s.score(0.0, "x"), Ok(1));
    }

    #[test]
    fn fewer_customers_than_bins() {
        let people = named(&[7.0, 5.0]);
        // Ranks ceil(2k / 5): 1, 1, 2, 2.
        let s = scorer(&spec(5, false, Method::Together), &people);
        assert_eq!(s.edges(), [5.0, 5.0, 7.0, 7.0]);
        assert_eq!(scores(&s, &people), [3, 1]);
        assert_eq!(s.empty_scores(), [2, 4, 5]);
        let s = scorer(&spec(5, false, hash("s")), &people);
        assert_eq!(scores(&s, &people), [3, 1]);
        assert_eq!(s.empty_scores(), [2, 4, 5]);
    }

    #[test]
    fn an_empty_population_puts_everything_in_bin_one() {
        let s = Collector::new(spec(4, false, Method::Together)).finish();
        assert!(s.edges().is_empty());
        assert_eq!(s.score(3.0, "x"), Ok(1));
        assert_eq!(s.empty_scores(), Vec::<u8>::new());
        let s = Collector::new(spec(4, true, hash("s"))).finish();
        assert_eq!(s.score(3.0, "x"), Ok(4));
    }

    #[test]
    fn hash_ties_split_by_id_hash_into_equal_bins() {
        let mut values = vec![1.0; 10];
        values.extend((2..=11).map(f64::from));
        let people = named(&values);
        let s = scorer(&spec(5, false, hash("spring")), &people);
        let got = scores(&s, &people);
        // Rank quantiles: exactly 4 customers per score.
        for score in 1..=5 {
            assert_eq!(got.iter().filter(|&&g| g == score).count(), 4, "{got:?}");
        }
        // The ten 1s fill ranks 1..=10 in the order of their id hashes: 4, 4 and 2.
        let mut tied: Vec<(u64, u8)> = people[..10]
            .iter()
            .zip(&got)
            .map(|((_, id), &g)| (id_hash("spring", id), g))
            .collect();
        tied.sort_unstable();
        let by_hash: Vec<u8> = tied.iter().map(|&(_, g)| g).collect();
        assert_eq!(by_hash, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
        assert_eq!(&got[10..], [3, 3, 4, 4, 4, 4, 5, 5, 5, 5]);
        assert_eq!(s.edges(), [1.0, 1.0, 3.0, 7.0]);
        assert_eq!(s.hash_edges()[0], tied[3].0);
        assert_eq!(s.hash_edges()[1], tied[7].0);
        // Another salt, another split of the same ties, still 4 per score.
        let other = scores(&scorer(&spec(5, false, hash("autumn")), &people), &people);
        assert_ne!(&other[..10], &got[..10]);
        assert_eq!(&other[10..], &got[10..]);
        // Reversed: the same bins, labels flipped.
        let rev = scores(&scorer(&spec(5, true, hash("spring")), &people), &people);
        let flipped: Vec<u8> = got.iter().map(|g| 6 - g).collect();
        assert_eq!(rev, flipped);
    }

    #[test]
    fn the_id_hash_is_fixed() {
        // FNV-1a 64 test vectors.
        assert_eq!(fnv(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
        // The composition, spelled out.
        let raw = fnv(FNV_OFFSET, b"salt\xffC000001");
        assert_eq!(id_hash("salt", "C000001"), fmix64(raw));
        assert_ne!(id_hash("salt", "C000001"), id_hash("salt", "C000002"));
        assert_ne!(id_hash("sal", "tC000001"), id_hash("salt", "C000001"));
        // The finalizer is MurmurHash3's fmix64 (its fixed points and a known value).
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
    }

    #[test]
    fn fixed_edges() {
        let recency = spec(5, true, fixed(&[30.0, 90.0, 180.0, 365.0]));
        let s = scorer(&recency, &named(&[1.0, 2.0]));
        let got: Vec<u8> = [0.0, 30.0, 31.0, 90.0, 180.5, 365.0, 366.0]
            .iter()
            .map(|&v| s.score(v, "x").unwrap())
            .collect();
        assert_eq!(got, [5, 5, 4, 4, 2, 2, 1]);
        assert_eq!(s.edges(), [30.0, 90.0, 180.0, 365.0]);
        assert_eq!(s.population(), 2);
        assert_eq!(s.to_string(), "edges [30, 90, 180, 365]");
        let money = scorer(&spec(3, false, fixed(&[-0.5, 100.25])), &[]);
        assert_eq!(money.score(-0.5, "x"), Ok(1));
        assert_eq!(money.score(0.0, "x"), Ok(2));
        assert_eq!(money.score(100.26, "x"), Ok(3));
    }

    #[test]
    fn bad_specs_are_refused() {
        for bins in [0, 1, 2, 11, 256, 300, u32::MAX] {
            assert_eq!(
                Spec::new(bins, false, Method::Together),
                Err(ScoreError::Bins { bins })
            );
        }
        for bins in 3..=10 {
            assert!(Spec::new(bins, true, hash("x")).is_ok());
        }
        assert_eq!(
            Spec::new(4, false, fixed(&[1.0, 2.0])),
            Err(ScoreError::EdgeCount {
                bins: 4,
                expected: 3,
                found: 2
            })
        );
        let err = Spec::new(4, false, fixed(&[3.0, 2.0, 5.0])).unwrap_err();
        assert_eq!(
            err,
            ScoreError::EdgesDecreasing {
                index: 1,
                previous: 3.0,
                value: 2.0
            }
        );
        assert_eq!(
            err.to_string(),
            "edges must not decrease: edge 2 (2) is below edge 1 (3)"
        );
        // Equal edges declare an empty bin.
        assert!(Spec::new(4, false, fixed(&[1.0, 2.0, 2.0])).is_ok());
        assert!(matches!(
            Spec::new(4, false, fixed(&[1.0, f64::NAN, 5.0])),
            Err(ScoreError::EdgeNotFinite { index: 1, .. })
        ));
        assert!(matches!(
            Spec::new(3, false, fixed(&[1.0, f64::INFINITY])),
            Err(ScoreError::EdgeNotFinite { index: 1, .. })
        ));
    }

    #[test]
    fn non_finite_values_are_errors() {
        for method in [Method::Together, hash("s"), fixed(&[1.0, 2.0])] {
            let mut c = Collector::new(spec(3, false, method));
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let err = c.push(bad, "C7").unwrap_err();
                assert!(matches!(&err, ScoreError::NotFinite { id, .. } if id == "C7"));
                assert!(err.to_string().contains("`C7`"), "{err}");
            }
            assert!(c.is_empty(), "a refused value is not collected");
            c.push(1.0, "C1").unwrap();
            let s = c.finish();
            assert!(s.score(f64::NAN, "C1").is_err());
            assert!(s.score(f64::NEG_INFINITY, "C1").is_err());
        }
    }

    #[test]
    fn merged_collectors_equal_one() {
        let people = named(&[5.0, 3.0, 3.0, 8.0, 1.0, 3.0, 9.0, 2.0]);
        for method in [Method::Together, hash("m")] {
            let sp = spec(4, false, method);
            let whole = scorer(&sp, &people);
            let (mut a, mut b) = (Collector::new(sp.clone()), Collector::new(sp.clone()));
            for (i, (v, id)) in people.iter().enumerate() {
                if i % 3 == 0 { &mut a } else { &mut b }
                    .push(*v, id)
                    .unwrap();
            }
            b.merge(a).unwrap();
            assert_eq!(b.len(), people.len());
            assert_eq!(b.finish(), whole);
        }
        let mut a = Collector::new(spec(4, false, Method::Together));
        let b = Collector::new(spec(5, false, Method::Together));
        assert_eq!(a.merge(b), Err(ScoreError::Mismatch));
    }

    #[test]
    fn negative_zero_is_zero() {
        let s = scorer(
            &spec(3, false, hash("z")),
            &named(&[-0.0, 0.0, 0.0, 1.0, 2.0, 3.0]),
        );
        assert_eq!(s.score(-0.0, "c0"), s.score(0.0, "c0"));
    }

    /// CDNOW's frequencies (purchase days per customer): half of the customers bought once.
    #[test]
    fn cdnow_frequency_scores() {
        let text = include_str!("../../tests/fixtures/cdnow_sample.txt");
        let mut days: Vec<(&str, &str)> = text
            .lines()
            .filter_map(|l| {
                let mut cols = l.split_whitespace();
                Some((cols.next()?, cols.nth(1)?))
            })
            .collect();
        days.sort_unstable();
        days.dedup();
        let mut people: Vec<(f64, String)> = Vec::new();
        for (id, _) in days {
            match people.last_mut() {
                Some((f, last)) if last == id => *f += 1.0,
                _ => people.push((1.0, id.to_string())),
            }
        }
        assert_eq!(people.len(), 2357);
        let once = people.iter().filter(|(f, _)| *f == 1.0).count();
        assert!(once * 2 > people.len(), "{once} one-purchase customers");
        let s = scorer(&spec(5, false, Method::Together), &people);
        let got = scores(&s, &people);
        // Every one-purchase customer shares the lowest score.
        for ((f, _), &g) in people.iter().zip(&got) {
            assert_eq!(g == 1, *f == 1.0, "frequency {f} scored {g}");
        }
        // Counted apart (awk): 1,218 bought on one day, 403 on two, 209 on three, 149 on four;
        // ranks 472, 943, 1415 and 1886 of 2,357.
        assert_eq!(s.edges(), [1.0, 1.0, 2.0, 4.0]);
        assert_eq!(s.empty_scores(), [2]);
        assert_eq!(
            got.iter().filter(|&&g| g == 5).count(),
            2357 - 1218 - 403 - 209 - 149
        );
        // The most frequent buyers get 5, and the scores never decrease with frequency.
        let max = people.iter().map(|(f, _)| *f).fold(0.0, f64::max);
        assert_eq!(s.score(max, "x"), Ok(5));
        let mut pairs: Vec<(f64, u8)> = people.iter().map(|(f, _)| *f).zip(got).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(pairs.windows(2).all(|w| w[0].1 <= w[1].1));
        // With hash ties, the scores are rank quintiles instead: 471 or 472 customers each.
        let s = scorer(&spec(5, false, hash("cdnow")), &people);
        let got = scores(&s, &people);
        for score in 1..=5 {
            let n = got.iter().filter(|&&g| g == score).count();
            assert!((471..=472).contains(&n), "score {score}: {n}");
        }
    }

    /// The together edges by the definition: a full sort, ranks `ceil(k n / bins)`.
    fn edges_by_sorting(values: &[f64], bins: u8) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let n = sorted.len();
        if n == 0 {
            return Vec::new();
        }
        let b = usize::from(bins);
        (1..b).map(|k| sorted[(k * n).div_ceil(b) - 1]).collect()
    }

    fn population() -> impl Strategy<Value = Vec<(f64, String)>> {
        // Few distinct values and ids, so that ties and repeated customers are common.
        prop::collection::vec(
            (
                prop_oneof![(0i32..12).prop_map(f64::from), -1e6f64..1e6],
                (0u32..60).prop_map(|i| format!("C{i:04}")),
            ),
            0..120,
        )
    }

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::Together),
            "[a-z]{0,4}".prop_map(|salt| Method::Hash { salt })
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn scores_ignore_row_order(
            (people, shuffled) in population()
                .prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
            bins in 3u32..=10,
            reverse: bool,
            method in method(),
        ) {
            let sp = spec(bins, reverse, method);
            let a = scorer(&sp, &people);
            let b = scorer(&sp, &shuffled);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(scores(&a, &people), scores(&b, &people));
        }

        #[test]
        fn scores_are_in_range_monotone_and_shared(
            people in population(),
            bins in 3u32..=10,
            reverse: bool,
            method in method(),
        ) {
            let sp = spec(bins, reverse, method.clone());
            let s = scorer(&sp, &people);
            let got = scores(&s, &people);
            let bins = bins as u8;
            prop_assert!(got.iter().all(|g| (1..=bins).contains(g)));
            prop_assert!(s.edges().is_empty() || s.edges().len() == usize::from(bins) - 1);
            prop_assert!(s.edges().windows(2).all(|w| w[0] <= w[1]));
            for (i, (vi, idi)) in people.iter().enumerate() {
                for (j, (vj, idj)) in people.iter().enumerate() {
                    if vi == vj && idi == idj {
                        prop_assert_eq!(got[i], got[j]);
                    }
                    if vi < vj {
                        // Monotone in the value, whatever the ids.
                        if reverse {
                            prop_assert!(got[i] >= got[j]);
                        } else {
                            prop_assert!(got[i] <= got[j]);
                        }
                    }
                    if method == Method::Together && vi == vj {
                        prop_assert_eq!(got[i], got[j], "equal values share a bin");
                    }
                }
            }
            // No collected customer got an empty score, and the others do occur.
            let empty = s.empty_scores();
            for score in 1..=bins {
                prop_assert_eq!(
                    got.contains(&score),
                    !people.is_empty() && !empty.contains(&score),
                    "score {} (empty: {:?})", score, empty
                );
            }
            if method == Method::Together {
                let values: Vec<f64> = people.iter().map(|(v, _)| *v).collect();
                prop_assert_eq!(s.edges(), &edges_by_sorting(&values, bins)[..]);
            }
        }

        #[test]
        fn hash_bins_differ_by_at_most_one(
            values in prop::collection::vec((0i32..4).prop_map(f64::from), 1..200),
            bins in 3u32..=10,
            salt in "[a-z]{0,3}",
        ) {
            // Distinct ids: rank quantiles, ceil((s - 1) n / bins) < rank <= ceil(s n / bins).
            let people = named(&values);
            let s = scorer(&spec(bins, false, Method::Hash { salt }), &people);
            let got = scores(&s, &people);
            let (n, b) = (people.len(), bins as usize);
            for score in 1..=b {
                let want = (score * n).div_ceil(b) - ((score - 1) * n).div_ceil(b);
                prop_assert_eq!(got.iter().filter(|&&g| usize::from(g) == score).count(), want);
            }
        }
    }
}
