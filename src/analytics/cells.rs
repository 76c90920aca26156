//! First-match tables over score cells: named segments by ranges of R, F and (optionally) M
//! scores, such as the RFM segment grid of `docs/domain.md`, and a static proof of what a table
//! does over every cell.
//!
//! A [`Table`] is an ordered list of [`Rule`]s and the bin counts of its axes; a customer's
//! cell `(r, f[, m])` gets the first rule whose ranges all hold ([`Table::assign`]).
//! [`prove`] looks at every cell of the table and finds cells no rule matches, rules no cell
//! can ever reach (shadowed by earlier rules), pairs of rules that share cells, and ranges
//! outside `1..=bins`. Results are deterministic (rules by index, cells in `(r, f, m)` order)
//! and cells come as compact boxes that print like `R 1-2, F 5`.

use super::scores::{MAX_BINS, MIN_BINS};
use std::fmt;

/// An inclusive range of scores, `lo..=hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Range {
    /// The lowest score in the range.
    pub lo: u8,
    /// The highest score in the range.
    pub hi: u8,
}

impl Range {
    /// `lo..=hi`.
    pub const fn new(lo: u8, hi: u8) -> Range {
        Range { lo, hi }
    }

    /// The single score `s`.
    pub const fn one(s: u8) -> Range {
        Range { lo: s, hi: s }
    }

    /// Whether `s` is in the range.
    pub fn contains(self, s: u8) -> bool {
        self.lo <= s && s <= self.hi
    }

    /// The scores both ranges hold, if any.
    fn intersect(self, other: Range) -> Option<Range> {
        let (lo, hi) = (self.lo.max(other.lo), self.hi.min(other.hi));
        (lo <= hi).then_some(Range { lo, hi })
    }

    /// How many scores it holds.
    fn len(self) -> usize {
        usize::from(self.hi.saturating_sub(self.lo)) + usize::from(self.lo <= self.hi)
    }
}

impl fmt::Display for Range {
    /// `3` or `1-2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One score axis of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Axis {
    /// Recency.
    R,
    /// Frequency.
    F,
    /// Monetary.
    M,
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Axis::R => "R",
            Axis::F => "F",
            Axis::M => "M",
        })
    }
}

/// A named row of a table: the cells whose R and F (and M, when given) scores are in its
/// ranges. `m: None` means any M.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The segment's name.
    pub name: String,
    /// The recency scores.
    pub r: Range,
    /// The frequency scores.
    pub f: Range,
    /// The monetary scores; `None`: any.
    pub m: Option<Range>,
}

impl Rule {
    /// A rule over R and F (any M).
    pub fn rf(name: &str, r: Range, f: Range) -> Rule {
        Rule {
            name: name.to_string(),
            r,
            f,
            m: None,
        }
    }

    /// A rule over R, F and M.
    pub fn rfm(name: &str, r: Range, f: Range, m: Range) -> Rule {
        Rule {
            name: name.to_string(),
            r,
            f,
            m: Some(m),
        }
    }

    /// Whether the cell matches. A rule with an M range does not match a cell without M.
    pub fn matches(&self, r: u8, f: u8, m: Option<u8>) -> bool {
        self.r.contains(r)
            && self.f.contains(f)
            && match (self.m, m) {
                (None, _) => true,
                (Some(range), Some(m)) => range.contains(m),
                (Some(_), None) => false,
            }
    }
}

/// Why a table cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellsError {
    /// An axis's bin count is outside the scores' `3..=10`.
    #[error("{axis} has {bins} bins; a score has 3 to 10")]
    Bins {
        /// The axis.
        axis: Axis,
        /// Its bin count.
        bins: u8,
    },
}

/// Rules in order (first match wins) over the cells of R, F and optionally M scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    rules: Vec<Rule>,
    r_bins: u8,
    f_bins: u8,
    m_bins: Option<u8>,
}

impl Table {
    /// A table over `r_bins x f_bins` cells, or `r_bins x f_bins x m_bins` when M is scored
    /// (`m_bins: Some`). Bin counts are those of scores, `3..=10`. Rules are not checked here:
    /// [`prove`] reports their problems.
    pub fn new(
        rules: Vec<Rule>,
        r_bins: u8,
        f_bins: u8,
        m_bins: Option<u8>,
    ) -> Result<Table, CellsError> {
        let axes = [
            (Axis::R, Some(r_bins)),
            (Axis::F, Some(f_bins)),
            (Axis::M, m_bins),
        ];
        for (axis, bins) in axes {
            if let Some(bins) = bins.filter(|b| !(MIN_BINS..=MAX_BINS).contains(b)) {
                return Err(CellsError::Bins { axis, bins });
            }
        }
        Ok(Table {
            rules,
            r_bins,
            f_bins,
            m_bins,
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The bin count of an axis (`None` for M when the table has no M axis).
    pub fn bins(&self, axis: Axis) -> Option<u8> {
        match axis {
            Axis::R => Some(self.r_bins),
            Axis::F => Some(self.f_bins),
            Axis::M => self.m_bins,
        }
    }

    /// The index of the first rule the cell matches. `m` is the M score (`None` when there is
    /// none: rules with an M range then never match).
    pub fn assign(&self, r: u8, f: u8, m: Option<u8>) -> Option<usize> {
        self.rules.iter().position(|rule| rule.matches(r, f, m))
    }

    /// The number of cells.
    pub fn cell_count(&self) -> usize {
        usize::from(self.r_bins) * usize::from(self.f_bins) * usize::from(self.m_bins.unwrap_or(1))
    }

    /// Every cell, in `(r, f, m)` order (m `None` when the table has no M axis).
    fn cells(&self) -> impl Iterator<Item = (u8, u8, Option<u8>)> + '_ {
        let ms: Vec<Option<u8>> = match self.m_bins {
            Some(b) => (1..=b).map(Some).collect(),
            None => vec![None],
        };
        (1..=self.r_bins).flat_map(move |r| {
            let ms = ms.clone();
            (1..=self.f_bins).flat_map(move |f| ms.clone().into_iter().map(move |m| (r, f, m)))
        })
    }

    /// The cell's position in [`Table::cells`] order.
    fn index(&self, r: u8, f: u8, m: Option<u8>) -> usize {
        let mb = usize::from(self.m_bins.unwrap_or(1));
        let m = m.map_or(0, |m| usize::from(m) - 1);
        ((usize::from(r) - 1) * usize::from(self.f_bins) + usize::from(f) - 1) * mb + m
    }

    /// A rule's cells as a box clamped to the table (`None` when it holds no cell).
    fn rule_box(&self, rule: &Rule) -> Option<CellBox> {
        let r = rule.r.intersect(Range::new(1, self.r_bins))?;
        let f = rule.f.intersect(Range::new(1, self.f_bins))?;
        let m = match (self.m_bins, rule.m) {
            (None, None) => None,
            (None, Some(_)) => return None,
            (Some(b), None) => Some(Range::new(1, b)),
            (Some(b), Some(m)) => Some(m.intersect(Range::new(1, b))?),
        };
        Some(CellBox { r, f, m })
    }
}

/// A box of cells: every combination of the R, F (and M) ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellBox {
    /// The R scores.
    pub r: Range,
    /// The F scores.
    pub f: Range,
    /// The M scores (`None` when the table has no M axis).
    pub m: Option<Range>,
}

impl CellBox {
    /// How many cells it holds.
    pub fn count(&self) -> usize {
        self.r.len() * self.f.len() * self.m.map_or(1, Range::len)
    }

    fn intersect(&self, other: &CellBox) -> Option<CellBox> {
        let m = match (self.m, other.m) {
            (Some(a), Some(b)) => Some(a.intersect(b)?),
            _ => None,
        };
        Some(CellBox {
            r: self.r.intersect(other.r)?,
            f: self.f.intersect(other.f)?,
            m,
        })
    }
}

impl fmt::Display for CellBox {
    /// `R 1-2, F 5` or `R 1-2, F 5, M 3-5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R {}, F {}", self.r, self.f)?;
        if let Some(m) = self.m {
            write!(f, ", M {m}")?;
        }
        Ok(())
    }
}

/// A set of cells, as its count and disjoint boxes in `(r, f, m)` order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cells {
    /// How many cells.
    pub count: usize,
    /// Disjoint boxes covering exactly these cells (greedy: each box starts at the first cell
    /// not yet covered and grows along M, then F, then R).
    pub boxes: Vec<CellBox>,
}

impl Cells {
    /// Whether there is no cell.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Display for Cells {
    /// The boxes joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.boxes.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{b}")?;
        }
        Ok(())
    }
}

/// A rule no cell is ever assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// The rule's index.
    pub rule: usize,
    /// The earlier rules that take its cells (those first to match one of them), by index;
    /// empty when the rule holds no cell at all (its ranges are empty or outside the bins, see
    /// [`Proof::bad_ranges`]).
    pub by: Vec<usize>,
}

/// Two rules that share cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The earlier rule's index: it wins the shared cells, unless a rule before it does.
    pub first: usize,
    /// The later rule's index.
    pub second: usize,
    /// The shared cells (the intersection of two boxes is one box).
    pub shared: CellBox,
}

impl Overlap {
    /// How many cells the rules share.
    pub fn count(&self) -> usize {
        self.shared.count()
    }
}

/// What is wrong with one of a rule's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeProblem {
    /// `lo > hi`: no score.
    Empty,
    /// Some scores outside `1..=bins`.
    OutOfBins {
        /// The axis's bin count.
        bins: u8,
    },
    /// An M range in a table without an M axis.
    NoAxis,
}

/// A rule's range that is empty, outside `1..=bins`, or on an axis the table lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadRange {
    /// The rule's index.
    pub rule: usize,
    /// The axis.
    pub axis: Axis,
    /// The range as written.
    pub range: Range,
    /// What is wrong.
    pub problem: RangeProblem,
}

impl fmt::Display for BadRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Range { lo, hi } = self.range;
        match self.problem {
            RangeProblem::Empty => {
                write!(f, "{} {lo}-{hi} holds no score ({lo} > {hi})", self.axis)
            }
            RangeProblem::OutOfBins { bins } => write!(
                f,
                "{} {} goes outside the scores 1-{bins}",
                self.axis, self.range
            ),
            RangeProblem::NoAxis => write!(f, "M {} but the table has no M score", self.range),
        }
    }
}

/// What a table does over all of its cells ([`prove`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proof {
    /// The number of cells.
    pub cells: usize,
    /// Cells no rule matches.
    pub uncovered: Cells,
    /// Rules never assigned, by index.
    pub shadowed: Vec<Shadowed>,
    /// Cells more than one rule matches (the first of them wins).
    pub contested: Cells,
    /// Pairs of rules sharing cells, by `(first, second)`.
    pub overlaps: Vec<Overlap>,
    /// Ranges empty, outside `1..=bins` or on a missing axis, by rule then axis.
    pub bad_ranges: Vec<BadRange>,
    /// How many cells each rule is assigned (first match), by rule index.
    pub assigned: Vec<usize>,
}

impl Proof {
    /// Whether every cell matches exactly one rule, every rule gets a cell and every range is
    /// within its bins.
    pub fn is_partition(&self) -> bool {
        self.uncovered.is_empty()
            && self.contested.is_empty()
            && self.shadowed.is_empty()
            && self.bad_ranges.is_empty()
    }
}

/// Checks every cell of `table`: see [`Proof`].
pub fn prove(table: &Table) -> Proof {
    let rules = table.rules();
    let mut bad_ranges = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let axes = [
            (Axis::R, Some(rule.r), Some(table.r_bins)),
            (Axis::F, Some(rule.f), Some(table.f_bins)),
            (Axis::M, rule.m, table.m_bins),
        ];
        for (axis, range, bins) in axes {
            let Some(range) = range else { continue };
            let problem = match bins {
                _ if range.lo > range.hi => RangeProblem::Empty,
                None => RangeProblem::NoAxis,
                Some(bins) if range.lo < 1 || range.hi > bins => RangeProblem::OutOfBins { bins },
                Some(_) => continue,
            };
            bad_ranges.push(BadRange {
                rule: i,
                axis,
                range,
                problem,
            });
        }
    }

    let boxes: Vec<Option<CellBox>> = rules.iter().map(|r| table.rule_box(r)).collect();
    let n = table.cell_count();
    // Per cell: the first rule matching it, and how many do.
    let mut owner: Vec<Option<usize>> = vec![None; n];
    let mut matches = vec![0u32; n];
    let mut assigned = vec![0; rules.len()];
    for (i, b) in boxes.iter().enumerate() {
        let Some(b) = b else { continue };
        for cell in box_cells(b) {
            let at = table.index(cell.0, cell.1, cell.2);
            matches[at] += 1;
            if owner[at].is_none() {
                owner[at] = Some(i);
                assigned[i] += 1;
            }
        }
    }

    let mut shadowed = Vec::new();
    for (i, b) in boxes.iter().enumerate() {
        if assigned[i] > 0 {
            continue;
        }
        let mut by: Vec<usize> = match b {
            Some(b) => box_cells(b)
                .filter_map(|c| owner[table.index(c.0, c.1, c.2)])
                .collect(),
            None => Vec::new(),
        };
        by.sort_unstable();
        by.dedup();
        shadowed.push(Shadowed { rule: i, by });
    }

    let mut overlaps = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for (j, b) in boxes.iter().enumerate().skip(i + 1) {
            if let (Some(a), Some(b)) = (a, b) {
                if let Some(shared) = a.intersect(b) {
                    overlaps.push(Overlap {
                        first: i,
                        second: j,
                        shared,
                    });
                }
            }
        }
    }

    let uncovered = compact(table, |at| matches[at] == 0);
    let contested = compact(table, |at| matches[at] > 1);
    Proof {
        cells: n,
        uncovered,
        shadowed,
        contested,
        overlaps,
        bad_ranges,
        assigned,
    }
}

/// The cells of a box, in `(r, f, m)` order.
fn box_cells(b: &CellBox) -> impl Iterator<Item = (u8, u8, Option<u8>)> + '_ {
    let ms: Vec<Option<u8>> = match b.m {
        Some(m) => (m.lo..=m.hi).map(Some).collect(),
        None => vec![None],
    };
    (b.r.lo..=b.r.hi).flat_map(move |r| {
        let ms = ms.clone();
        (b.f.lo..=b.f.hi).flat_map(move |f| ms.clone().into_iter().map(move |m| (r, f, m)))
    })
}

/// The cells for which `pick(index)` holds, as greedy disjoint boxes.
fn compact(table: &Table, pick: impl Fn(usize) -> bool) -> Cells {
    let n = table.cell_count();
    let mut left: Vec<bool> = (0..n).map(&pick).collect();
    let count = left.iter().filter(|&&l| l).count();
    let mut boxes = Vec::new();
    let at = |r: u8, f: u8, m: Option<u8>| table.index(r, f, m);
    let cells: Vec<(u8, u8, Option<u8>)> = table.cells().collect();
    for (r, f, m) in cells {
        if !left[at(r, f, m)] {
            continue;
        }
        // Grow along M, then F, then R, while every cell of the grown box is left.
        let mut b = CellBox {
            r: Range::one(r),
            f: Range::one(f),
            m: m.map(Range::one),
        };
        let all_left = |b: &CellBox, left: &[bool]| box_cells(b).all(|c| left[at(c.0, c.1, c.2)]);
        if let (Some(mr), Some(bins)) = (b.m, table.m_bins) {
            let mut hi = mr.hi;
            while hi < bins && left[at(r, f, Some(hi + 1))] {
                hi += 1;
            }
            b.m = Some(Range::new(mr.lo, hi));
        }
        while b.f.hi < table.f_bins {
            let next = CellBox {
                f: Range::one(b.f.hi + 1),
                ..b
            };
            if !all_left(&next, &left) {
                break;
            }
            b.f.hi += 1;
        }
        while b.r.hi < table.r_bins {
            let next = CellBox {
                r: Range::one(b.r.hi + 1),
                ..b
            };
            if !all_left(&next, &left) {
                break;
            }
            b.r.hi += 1;
        }
        for c in box_cells(&b) {
            left[at(c.0, c.1, c.2)] = false;
        }
        boxes.push(b);
    }
    Cells { count, boxes }
}

/// The names of the shipped presets, for suggestions.
pub const PRESETS: &[&str] = &["rfm10"];

/// A shipped table by name: `rfm10`, the 10-segment grid over R and F (5 bins each) of
/// `docs/domain.md`, an exact partition of the 25 cells.
pub fn preset(name: &str) -> Option<Table> {
    match name {
        "rfm10" => Some(rfm10()),
        _ => None,
    }
}

/// The 10-segment R/F grid of `docs/domain.md` ("Named RFM segments").
fn rfm10() -> Table {
    let g = |name: &str, r: (u8, u8), f: (u8, u8)| {
        Rule::rf(name, Range::new(r.0, r.1), Range::new(f.0, f.1))
    };
    let rules = vec![
        g("hibernating", (1, 2), (1, 2)),
        g("at_risk", (1, 2), (3, 4)),
        g("cant_lose", (1, 2), (5, 5)),
        g("about_to_sleep", (3, 3), (1, 2)),
        g("need_attention", (3, 3), (3, 3)),
        g("loyal", (3, 4), (4, 5)),
        g("promising", (4, 4), (1, 1)),
        g("new_customers", (5, 5), (1, 1)),
        g("potential_loyalists", (4, 5), (2, 3)),
        g("champions", (5, 5), (4, 5)),
    ];
    Table {
        rules,
        r_bins: 5,
        f_bins: 5,
        m_bins: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rg(lo: u8, hi: u8) -> Range {
        Range::new(lo, hi)
    }

    fn names(table: &Table, rules: impl IntoIterator<Item = usize>) -> Vec<&str> {
        rules
            .into_iter()
            .map(|i| table.rules()[i].name.as_str())
            .collect()
    }

    #[test]
    fn the_rfm10_preset_is_an_exact_partition() {
        let table = preset("rfm10").unwrap();
        assert!(PRESETS.contains(&"rfm10"));
        assert_eq!(preset("rfm11"), None);
        let proof = prove(&table);
        assert_eq!(proof.cells, 25);
        assert!(proof.uncovered.is_empty(), "{}", proof.uncovered);
        assert!(proof.contested.is_empty(), "{}", proof.contested);
        assert_eq!(proof.shadowed, []);
        assert_eq!(proof.overlaps, []);
        assert_eq!(proof.bad_ranges, []);
        assert!(proof.is_partition());
        assert_eq!(proof.assigned.iter().sum::<usize>(), 25);
        // docs/domain.md's grid, cell by cell (rows R 5 down to 1, columns F 1 to 5).
        let grid = [
            "new_customers potential_loyalists potential_loyalists champions champions",
            "promising potential_loyalists potential_loyalists loyal loyal",
            "about_to_sleep about_to_sleep need_attention loyal loyal",
            "hibernating hibernating at_risk at_risk cant_lose",
            "hibernating hibernating at_risk at_risk cant_lose",
        ];
        for (row, line) in grid.iter().enumerate() {
            let r = 5 - row as u8;
            for (f, want) in (1..).zip(line.split(' ')) {
                let got = table.assign(r, f, None).map(|i| &*table.rules()[i].name);
                assert_eq!(got, Some(want), "R {r}, F {f}");
            }
        }
        // M is ignored by a table without M; scores out of the bins match nothing.
        assert_eq!(table.assign(5, 5, Some(1)), table.assign(5, 5, None));
        assert_eq!(table.assign(6, 1, None), None);
        assert_eq!(table.assign(0, 1, None), None);
    }

    /// The widely published 11-segment RFM table (R, F, M ranges; `<= 2` written `1-2`), as
    /// first-match rows in its published order.
    fn published_11() -> Table {
        let t = |name: &str, r: (u8, u8), f: (u8, u8), m: (u8, u8)| {
            Rule::rfm(name, rg(r.0, r.1), rg(f.0, f.1), rg(m.0, m.1))
        };
        let rules = vec![
            t("Champions", (4, 5), (4, 5), (4, 5)),
            t("Loyal Customers", (2, 5), (3, 5), (3, 5)),
            t("Potential Loyalist", (3, 5), (1, 3), (1, 3)),
            t("Recent Customers", (4, 5), (1, 1), (1, 1)),
            t("Promising", (3, 4), (1, 1), (1, 1)),
            t("Customers Needing Attention", (2, 3), (2, 3), (2, 3)),
            t("About To Sleep", (2, 3), (1, 2), (1, 2)),
            t("At Risk", (1, 2), (2, 5), (2, 5)),
            t("Can't Lose Them", (1, 1), (4, 5), (4, 5)),
            t("Hibernating", (1, 2), (1, 2), (1, 2)),
            t("Lost", (1, 2), (1, 2), (1, 2)),
        ];
        Table::new(rules, 5, 5, Some(5)).unwrap()
    }

    #[test]
    fn the_published_11_row_table_is_ambiguous() {
        // docs/domain.md: four segments can never be assigned, 42 cells match more than one row
        // and 36 match none.
        let table = published_11();
        let proof = prove(&table);
        assert_eq!(proof.cells, 125);
        assert_eq!(proof.uncovered.count, 36);
        assert_eq!(proof.contested.count, 42);
        let never: Vec<usize> = proof.shadowed.iter().map(|s| s.rule).collect();
        assert_eq!(
            names(&table, never),
            ["Recent Customers", "Promising", "Can't Lose Them", "Lost"]
        );
        let by: Vec<Vec<&str>> = proof
            .shadowed
            .iter()
            .map(|s| names(&table, s.by.iter().copied()))
            .collect();
        assert_eq!(
            by,
            [
                vec!["Potential Loyalist"],
                vec!["Potential Loyalist"],
                vec!["At Risk"],
                vec![
                    "Customers Needing Attention",
                    "About To Sleep",
                    "At Risk",
                    "Hibernating"
                ],
            ]
        );
        assert!(!proof.is_partition());
        // The boxes are disjoint and hold exactly the counted cells.
        for cells in [&proof.uncovered, &proof.contested] {
            assert_eq!(
                cells.boxes.iter().map(CellBox::count).sum::<usize>(),
                cells.count
            );
            for (i, a) in cells.boxes.iter().enumerate() {
                for b in &cells.boxes[i + 1..] {
                    assert_eq!(a.intersect(b), None, "{a} and {b}");
                }
            }
        }
        // Every cell is in a box of `uncovered` exactly when no rule matches it.
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let inside = |b: &CellBox| {
                        b.r.contains(r) && b.f.contains(f) && b.m.is_some_and(|x| x.contains(m))
                    };
                    let boxed = proof.uncovered.boxes.iter().filter(|b| inside(b)).count();
                    assert_eq!(boxed == 1, table.assign(r, f, Some(m)).is_none());
                }
            }
        }
        let lost = proof
            .overlaps
            .iter()
            .find(|o| o.first == 9 && o.second == 10)
            .unwrap();
        assert_eq!(lost.shared.to_string(), "R 1-2, F 1-2, M 1-2");
        assert_eq!(lost.count(), 8);
    }

    #[test]
    fn one_uncovered_cell() {
        let rules = vec![
            Rule::rf("low", rg(1, 2), rg(1, 3)),
            Rule::rf("high", rg(3, 3), rg(1, 3)),
            Rule::rf("mid", rg(1, 2), rg(3, 3)),
        ];
        // R 1-3 x F 1-3 without the cell R 3, F 3.
        let table = Table::new(
            vec![
                Rule::rf("a", rg(1, 3), rg(1, 2)),
                Rule::rf("b", rg(1, 2), rg(3, 3)),
            ],
            3,
            3,
            None,
        )
        .unwrap();
        let proof = prove(&table);
        assert_eq!(proof.uncovered.count, 1);
        assert_eq!(proof.uncovered.to_string(), "R 3, F 3");
        assert_eq!(proof.shadowed, []);
        assert_eq!(proof.overlaps, []);
        assert_eq!(proof.assigned, [6, 2]);
        // A rule shadowed by two earlier ones, and the overlaps that say so.
        let table = Table::new(rules, 3, 3, None).unwrap();
        let proof = prove(&table);
        assert!(proof.uncovered.is_empty());
        assert_eq!(
            proof.shadowed,
            [Shadowed {
                rule: 2,
                by: vec![0]
            }]
        );
        assert_eq!(proof.contested.to_string(), "R 1-2, F 3");
    }

    #[test]
    fn one_shadowed_rule() {
        let table = Table::new(
            vec![
                Rule::rf("top", rg(3, 4), rg(1, 4)),
                Rule::rf("rest", rg(1, 2), rg(1, 4)),
                Rule::rf("corner", rg(4, 4), rg(4, 4)),
            ],
            4,
            4,
            None,
        )
        .unwrap();
        let proof = prove(&table);
        assert!(proof.uncovered.is_empty());
        assert_eq!(
            proof.shadowed,
            [Shadowed {
                rule: 2,
                by: vec![0]
            }]
        );
        assert_eq!(proof.assigned, [8, 8, 0]);
        assert_eq!(
            proof.overlaps,
            [Overlap {
                first: 0,
                second: 2,
                shared: CellBox {
                    r: rg(4, 4),
                    f: rg(4, 4),
                    m: None
                }
            }]
        );
        assert_eq!(table.assign(4, 4, None), Some(0));
    }

    #[test]
    fn one_overlap() {
        let table = Table::new(
            vec![
                Rule::rf("left", rg(1, 3), rg(1, 2)),
                Rule::rf("right", rg(1, 3), rg(2, 3)),
            ],
            3,
            3,
            None,
        )
        .unwrap();
        let proof = prove(&table);
        assert!(proof.uncovered.is_empty());
        assert_eq!(proof.shadowed, []);
        assert_eq!(proof.overlaps.len(), 1);
        let o = &proof.overlaps[0];
        assert_eq!((o.first, o.second, o.count()), (0, 1, 3));
        assert_eq!(o.shared.to_string(), "R 1-3, F 2");
        assert_eq!(proof.contested.count, 3);
        assert_eq!(proof.assigned, [6, 3]);
        // First match: the shared cells go to the earlier rule.
        assert_eq!(table.assign(2, 2, None), Some(0));
        assert_eq!(table.assign(2, 3, None), Some(1));
    }

    #[test]
    fn m_ranges() {
        let table = Table::new(
            vec![
                Rule::rfm("big", rg(1, 3), rg(1, 3), rg(3, 3)),
                Rule::rf("any", rg(1, 3), rg(1, 3)),
            ],
            3,
            3,
            Some(3),
        )
        .unwrap();
        let proof = prove(&table);
        assert!(proof.uncovered.is_empty());
        assert_eq!(proof.assigned, [9, 18]);
        assert_eq!(proof.overlaps[0].shared.to_string(), "R 1-3, F 1-3, M 3");
        assert_eq!(table.assign(1, 1, Some(3)), Some(0));
        assert_eq!(table.assign(1, 1, Some(2)), Some(1));
        assert_eq!(
            table.assign(1, 1, None),
            Some(1),
            "an M range needs an M score"
        );
        // Uncovered cells compacted along M, then F, then R.
        let table = Table::new(
            vec![Rule::rfm("m1", rg(1, 3), rg(1, 3), rg(1, 1))],
            3,
            3,
            Some(3),
        )
        .unwrap();
        let proof = prove(&table);
        assert_eq!(proof.uncovered.count, 18);
        assert_eq!(proof.uncovered.to_string(), "R 1-3, F 1-3, M 2-3");
    }

    #[test]
    fn bad_ranges_and_bins() {
        let table = Table::new(
            vec![
                Rule::rf("wide", rg(0, 6), rg(1, 5)),
                Rule::rf("empty", rg(3, 2), rg(1, 5)),
                Rule::rfm("no_m", rg(1, 5), rg(1, 5), rg(1, 2)),
            ],
            5,
            5,
            None,
        )
        .unwrap();
        let proof = prove(&table);
        assert_eq!(
            proof.bad_ranges,
            [
                BadRange {
                    rule: 0,
                    axis: Axis::R,
                    range: rg(0, 6),
                    problem: RangeProblem::OutOfBins { bins: 5 }
                },
                BadRange {
                    rule: 1,
                    axis: Axis::R,
                    range: rg(3, 2),
                    problem: RangeProblem::Empty
                },
                BadRange {
                    rule: 2,
                    axis: Axis::M,
                    range: rg(1, 2),
                    problem: RangeProblem::NoAxis
                },
            ]
        );
        assert_eq!(
            proof.bad_ranges[0].to_string(),
            "R 0-6 goes outside the scores 1-5"
        );
        assert_eq!(
            proof.bad_ranges[1].to_string(),
            "R 3-2 holds no score (3 > 2)"
        );
        // The wide rule still covers the cells it reaches; the others hold none.
        assert!(proof.uncovered.is_empty());
        assert_eq!(
            proof.shadowed,
            [
                Shadowed {
                    rule: 1,
                    by: vec![]
                },
                Shadowed {
                    rule: 2,
                    by: vec![]
                }
            ]
        );
        for bins in [0, 2, 11] {
            assert_eq!(
                Table::new(vec![], 5, bins, None),
                Err(CellsError::Bins {
                    axis: Axis::F,
                    bins
                })
            );
        }
        assert!(Table::new(vec![], 5, 5, Some(1)).is_err());
        // No rules: everything uncovered, one box.
        let proof = prove(&Table::new(vec![], 4, 3, None).unwrap());
        assert_eq!(proof.uncovered.to_string(), "R 1-4, F 1-3");
        assert_eq!(proof.uncovered.count, 12);
    }
}
