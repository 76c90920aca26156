//! Columnar evaluation: one lowered expression over a batch of customers at once.
//!
//! [`Native::test_rows`] and [`Native::eval_rows`] walk the tree once per batch, not once per
//! customer: each node evaluates over the rows still in play (a selection of row numbers),
//! with the same rules as the row evaluation it stands beside ([`Native::test`],
//! [`Native::eval`]):
//!
//! * `&&` evaluates each operand only on the rows every earlier operand held for, `||` only
//!   on the rows none held for; `!` swaps the two sides; `if` evaluates each branch on the rows
//!   its condition sent there;
//! * comparisons of numbers and `()`, arithmetic, `??` and `-x` run over columns of numbers;
//!   `??` evaluates each later operand only on the rows still missing;
//! * a slot is read from the batch's typed columns ([`SlotColumns`]) when the rows carry
//!   them: each slot's numbers or truths read once per batch, not once per rule; a slot whose
//!   every row holds a whole number (or every row a decimal) compared with a constant is
//!   compared in a loop over a plain column of numbers;
//! * every other node, and a comparison whose operands are not numbers, is evaluated row by
//!   row with the row evaluation;
//! * a row on which the row evaluation would bail bails here too, and only that row: the
//!   caller evaluates it with rhai.
//!
//! Whatever these give for a row equals what [`Native::test`] or [`Native::eval`] gives for
//! that row's slots (a differential property test holds them together, `native/tests.rs`).

use super::{builtins, float_compare, At, Bail, Cmp, Func, Lit, Native, Node, Scalar, FLOAT, INT};
use chrono::NaiveDate;
use rhai::Dynamic;
use std::cell::OnceCell;

/// A batch of customers' slot values: one row of `stride` slots after another, and
/// optionally their typed columns.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    slots: &'a [Dynamic],
    stride: usize,
    columns: Option<&'a SlotColumns>,
}

impl<'a> Rows<'a> {
    /// The rows of `slots`, `stride` slots each (`stride` must not be 0).
    pub fn new(slots: &'a [Dynamic], stride: usize) -> Rows<'a> {
        assert!(stride > 0, "a row holds at least one slot");
        Rows {
            slots,
            stride,
            columns: None,
        }
    }

    /// The same rows, their slots read through `columns`, which must hold only what these
    /// very slots hold (see [`SlotColumns`]).
    pub fn with_columns(self, columns: &'a SlotColumns) -> Rows<'a> {
        Rows {
            columns: Some(columns),
            ..self
        }
    }

    /// The number of rows.
    fn len(&self) -> usize {
        self.slots.len() / self.stride
    }

    /// The slots of row `r`.
    pub fn row(&self, r: u32) -> &'a [Dynamic] {
        let start = r as usize * self.stride;
        &self.slots[start..start + self.stride]
    }
}

/// Typed columns of a batch's slots, for the columnar evaluation: a slot's numbers (or its
/// truths) read from every row of the batch on their first use by a rule, and kept for the
/// later rules.
///
/// The owner of the batch keeps them true to the slots: [`SlotColumns::reset`] when the rows
/// change, [`SlotColumns::forget`] (or [`SlotColumns::set_truths`]) when a slot is written.
#[derive(Default)]
pub struct SlotColumns {
    numbers: Vec<OnceCell<Numbers>>,
    truths: Vec<OnceCell<Vec<Truth>>>,
}

/// A slot's truth on one row, as the row evaluation reads it.
type Truth = Result<bool, Bail>;

/// A slot's numbers on every row of a batch.
enum Numbers {
    /// Every row holds a whole number.
    Ints(Vec<INT>),
    /// Every row holds a decimal.
    Floats(Vec<FLOAT>),
    /// Anything else: numbers of both kinds, `()`, other values, or a mixture of them.
    Mixed(Vec<Scalar>),
}

impl Numbers {
    /// Slot `slot` of each row of `rows`.
    fn of(rows: Rows<'_>, slot: usize) -> Numbers {
        let scalars: Vec<Scalar> = (0..rows.len() as u32)
            .map(|r| super::slot_scalar(rows.row(r).get(slot)))
            .collect();
        let int = |x: &Scalar| match x {
            Scalar::Int(i) => Some(*i),
            _ => None,
        };
        let float = |x: &Scalar| match x {
            Scalar::Float(f) => Some(*f),
            _ => None,
        };
        if let Some(ints) = every(&scalars, int) {
            Numbers::Ints(ints)
        } else if let Some(floats) = every(&scalars, float) {
            Numbers::Floats(floats)
        } else {
            Numbers::Mixed(scalars)
        }
    }
}

/// What `of` gives for each of `scalars`, if it gives something for every one.
fn every<T>(scalars: &[Scalar], of: impl Fn(&Scalar) -> Option<T>) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(scalars.len());
    for x in scalars {
        out.push(of(x)?);
    }
    Some(out)
}

impl SlotColumns {
    /// Forgets every column: the batch's rows, of `slots` slots each, hold other values.
    pub fn reset(&mut self, slots: usize) {
        self.numbers.clear();
        self.numbers.resize_with(slots, OnceCell::new);
        self.truths.clear();
        self.truths.resize_with(slots, OnceCell::new);
    }

    /// Forgets the columns of slot `slot`, which was written.
    pub fn forget(&mut self, slot: usize) {
        if let Some(numbers) = self.numbers.get_mut(slot) {
            numbers.take();
        }
        if let Some(truths) = self.truths.get_mut(slot) {
            truths.take();
        }
    }

    /// Slot `slot` of the batch's `rows` rows was written: `true` in the rows of `yes`,
    /// `false` in those of `no`, and the other rows are read no more.
    pub fn set_truths(&mut self, slot: usize, rows: usize, yes: &[u32], no: &[u32]) {
        self.forget(slot);
        let Some(cell) = self.truths.get(slot) else {
            return;
        };
        let mut truths = vec![Err(Bail); rows];
        for (list, truth) in [(yes, true), (no, false)] {
            for &r in list {
                truths[r as usize] = Ok(truth);
            }
        }
        // Forgotten above: the cell is empty.
        let _ = cell.set(truths);
    }
}

/// The rows of a selection sorted by a condition: those it holds for, those it does not, and
/// those the native path left to rhai.
#[derive(Debug, Default)]
pub struct Split {
    pub yes: Vec<u32>,
    pub no: Vec<u32>,
    pub bail: Vec<u32>,
}

impl Split {
    /// Empties the three lists, keeping their room.
    pub fn clear(&mut self) {
        self.yes.clear();
        self.no.clear();
        self.bail.clear();
    }
}

impl Native {
    /// [`Native::test`] of each row of `sel` (row numbers of `rows`), added to `split`.
    pub fn test_rows(&self, rows: Rows<'_>, sel: &[u32], as_of: NaiveDate, split: &mut Split) {
        let columns = Columns {
            at: At { as_of },
            rows,
        };
        columns.truth(
            &self.root,
            sel,
            &mut split.yes,
            &mut split.no,
            &mut split.bail,
        );
    }

    /// [`Native::eval`] of each row of `sel`: `values` gets each row evaluated with its value
    /// (in no particular order), `bail` the others.
    pub fn eval_rows(
        &self,
        rows: Rows<'_>,
        sel: &[u32],
        as_of: NaiveDate,
        values: &mut Vec<(u32, Dynamic)>,
        bail: &mut Vec<u32>,
    ) {
        let columns = Columns {
            at: At { as_of },
            rows,
        };
        columns.values(&self.root, sel, values, bail);
    }
}

/// A number, `()`, something else, or a bail: one row's value in a column of numbers.
type Cell = Result<Scalar, Bail>;

struct Columns<'a> {
    at: At,
    rows: Rows<'a>,
}

impl Columns<'_> {
    /// Slot `slot`'s numbers on every row, if the rows carry typed columns.
    fn numbers_of(&self, slot: usize) -> Option<&Numbers> {
        let cell = self.rows.columns?.numbers.get(slot)?;
        Some(cell.get_or_init(|| Numbers::of(self.rows, slot)))
    }

    /// Slot `slot`'s truths on every row, if the rows carry typed columns.
    fn truths_of(&self, slot: usize) -> Option<&[Truth]> {
        let cell = self.rows.columns?.truths.get(slot)?;
        let truths = cell.get_or_init(|| {
            (0..self.rows.len() as u32)
                .map(|r| super::slot_truth(self.rows.row(r).get(slot)))
                .collect()
        });
        Some(truths)
    }

    /// [`At::truth`] of `node` on each row of `sel`, sorted into `yes`, `no` and `bail`.
    fn truth(
        &self,
        node: &Node,
        sel: &[u32],
        yes: &mut Vec<u32>,
        no: &mut Vec<u32>,
        bail: &mut Vec<u32>,
    ) {
        match node {
            Node::Lit(Lit::Bool(b)) => (if *b { yes } else { no }).extend_from_slice(sel),
            Node::Not(x) => self.truth(x, sel, no, yes, bail),
            // The operands of `&&` narrow the rows still holding, those of `||` the rows
            // still failing: each operand sees only the rows left undecided.
            Node::And(xs) => {
                let left = self.narrow(xs, sel, no, bail, true);
                yes.extend_from_slice(&left);
            }
            Node::Or(xs) => {
                let left = self.narrow(xs, sel, yes, bail, false);
                no.extend_from_slice(&left);
            }
            Node::Compare(op, x) => self.compare(*op, &x[0], &x[1], sel, yes, no, bail),
            // The column chosen once, not on every row.
            Node::Slot(i) => match self.truths_of(*i) {
                Some(truths) => sort(sel.iter().map(|&r| (r, truths[at(r)])), yes, no, bail),
                None => {
                    let truth = |r: u32| super::slot_truth(self.rows.row(r).get(*i));
                    sort(sel.iter().map(|&r| (r, truth(r))), yes, no, bail);
                }
            },
            Node::If(x) => {
                let (mut then, mut other) = (Vec::new(), Vec::new());
                self.truth(&x[0], sel, &mut then, &mut other, bail);
                self.truth(&x[1], &then, yes, no, bail);
                self.truth(&x[2], &other, yes, no, bail);
            }
            node => {
                let truths = sel
                    .iter()
                    .map(|&r| (r, self.at.truth(node, self.rows.row(r))));
                sort(truths, yes, no, bail);
            }
        }
    }

    /// The operands of `&&` (`goes_on` true) or `||` (false) in turn, each on the rows for
    /// which every earlier one gave `goes_on`: a row whose operand gives the other value is
    /// decided into `decided`. Returns the rows that went through every operand.
    fn narrow(
        &self,
        operands: &[Node],
        sel: &[u32],
        decided: &mut Vec<u32>,
        bail: &mut Vec<u32>,
        goes_on: bool,
    ) -> Vec<u32> {
        let mut left = sel.to_vec();
        let mut next = Vec::with_capacity(sel.len());
        for x in operands {
            if left.is_empty() {
                break;
            }
            next.clear();
            if goes_on {
                self.truth(x, &left, &mut next, decided, bail);
            } else {
                self.truth(x, &left, decided, &mut next, bail);
            }
            std::mem::swap(&mut left, &mut next);
        }
        left
    }

    /// [`At::compare`] on each row of `sel`: numbers and `()` compared in columns, other
    /// values row by row.
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &self,
        op: Cmp,
        a: &Node,
        b: &Node,
        sel: &[u32],
        yes: &mut Vec<u32>,
        no: &mut Vec<u32>,
        bail: &mut Vec<u32>,
    ) {
        let holds = |r: u32, x: Cell, y: Cell| match (x, y) {
            (Ok(x), Ok(y)) => match super::compare_scalars(op, &x, &y) {
                Some(holds) => Ok(holds),
                None => self.at.compare_other(op, a, b, self.rows.row(r)),
            },
            _ => Err(Bail),
        };
        if let (Node::Slot(i), Some(y)) = (a, constant(b)) {
            if let Some(xs) = self.numbers_of(*i) {
                if against_constant(op, xs, y, sel, yes, no) {
                    return;
                }
            }
        }
        let mut xs = Vec::with_capacity(sel.len());
        self.scalars(a, sel, &mut xs);
        // Against a constant (`orders >= 4`), the constant is not copied to every row.
        if let Some(y) = constant(b) {
            let truths = sel.iter().zip(xs).map(|(&r, x)| (r, holds(r, x, Ok(y))));
            return sort(truths, yes, no, bail);
        }
        let mut ys = Vec::with_capacity(sel.len());
        self.scalars(b, sel, &mut ys);
        let truths = (sel.iter().zip(xs).zip(ys)).map(|((&r, x), y)| (r, holds(r, x, y)));
        sort(truths, yes, no, bail);
    }

    /// [`At::scalar`] of `node` on each row of `sel`, appended to `out` in `sel`'s order.
    fn scalars(&self, node: &Node, sel: &[u32], out: &mut Vec<Cell>) {
        if let Some(value) = constant(node) {
            out.extend(sel.iter().map(|_| Ok(value)));
            return;
        }
        match node {
            Node::Slot(i) => match self.numbers_of(*i) {
                Some(Numbers::Ints(xs)) => {
                    out.extend(sel.iter().map(|&r| Ok(Scalar::Int(xs[at(r)]))));
                }
                Some(Numbers::Floats(xs)) => {
                    out.extend(sel.iter().map(|&r| Ok(Scalar::Float(xs[at(r)]))));
                }
                Some(Numbers::Mixed(xs)) => out.extend(sel.iter().map(|&r| Ok(xs[at(r)]))),
                None => {
                    let rows = self.rows;
                    out.extend(
                        sel.iter()
                            .map(|&r| Ok(super::slot_scalar(rows.row(r).get(*i)))),
                    );
                }
            },
            Node::Arith(op, x) => {
                let (mut xs, mut ys) =
                    (Vec::with_capacity(sel.len()), Vec::with_capacity(sel.len()));
                self.scalars(&x[0], sel, &mut xs);
                self.scalars(&x[1], sel, &mut ys);
                out.extend(xs.into_iter().zip(ys).map(|(x, y)| match x? {
                    // As the row evaluation: a first operand that is not a number or `()`
                    // leaves the whole to be evaluated as values.
                    Scalar::Other => Ok(Scalar::Other),
                    x => super::arith_scalars(*op, x, y?),
                }));
            }
            Node::Neg(x) => {
                let start = out.len();
                self.scalars(x, sel, out);
                for cell in &mut out[start..] {
                    *cell = cell.and_then(super::neg_scalar);
                }
            }
            // As `At::call`: a number rounded to cents, `()` kept; a value that is not a number
            // evaluated row by row.
            Node::Call(Func::RoundMoney, x) if x.len() == 1 => {
                let start = out.len();
                self.scalars(&x[0], sel, out);
                #[allow(clippy::cast_precision_loss)]
                let float = |x: INT| x as FLOAT;
                let cents = |x: FLOAT| Ok(Scalar::Float(builtins::round_half_away(x, 2)));
                for (&r, cell) in sel.iter().zip(&mut out[start..]) {
                    *cell = cell.and_then(|x| match x {
                        Scalar::Int(i) => cents(float(i)),
                        Scalar::Float(f) => cents(f),
                        Scalar::Unit => Ok(Scalar::Unit),
                        Scalar::Other => self.at.scalar(node, self.rows.row(r)),
                    });
                }
            }
            Node::Coalesce(xs) => {
                let start = out.len();
                out.resize(start + sel.len(), Ok(Scalar::Unit));
                // Positions in `sel` still missing, and their rows.
                let mut missing: Vec<usize> = (0..sel.len()).collect();
                let (mut rows, mut cells) = (Vec::new(), Vec::new());
                for x in xs {
                    if missing.is_empty() {
                        break;
                    }
                    rows.clear();
                    rows.extend(missing.iter().map(|&p| sel[p]));
                    cells.clear();
                    self.scalars(x, &rows, &mut cells);
                    let mut given = cells.iter();
                    missing.retain(|&p| match given.next() {
                        Some(Ok(Scalar::Unit)) => true,
                        Some(cell) => {
                            out[start + p] = *cell;
                            false
                        }
                        None => false,
                    });
                }
            }
            node => {
                let rows = self.rows;
                out.extend(sel.iter().map(|&r| self.at.scalar(node, rows.row(r))));
            }
        }
    }

    /// [`At::value`] of `node` on each row of `sel`: `(row, value)` into `out`, or the row
    /// into `bail`.
    fn values(&self, node: &Node, sel: &[u32], out: &mut Vec<(u32, Dynamic)>, bail: &mut Vec<u32>) {
        match node {
            // A number, boolean or `()` (a branch such as `else { 0.0 }`): made once, copied.
            Node::Lit(l @ (Lit::Int(_) | Lit::Float(_) | Lit::Bool(_) | Lit::Unit)) => {
                let value = super::lit(l).to_dynamic();
                out.extend(sel.iter().map(|&r| (r, value.clone())));
            }
            Node::Compare(..) | Node::And(_) | Node::Or(_) | Node::Not(_) => {
                let (mut yes, mut no) = (Vec::new(), Vec::new());
                self.truth(node, sel, &mut yes, &mut no, bail);
                out.extend(yes.into_iter().map(|r| (r, Dynamic::TRUE)));
                out.extend(no.into_iter().map(|r| (r, Dynamic::FALSE)));
            }
            Node::If(x) => {
                let (mut then, mut other) = (Vec::new(), Vec::new());
                self.truth(&x[0], sel, &mut then, &mut other, bail);
                self.values(&x[1], &then, out, bail);
                self.values(&x[2], &other, out, bail);
            }
            Node::Arith(..) | Node::Neg(_) | Node::Coalesce(_) => {
                self.numbers(node, sel, out, bail)
            }
            Node::Call(func, _) if func.gives_number() => self.numbers(node, sel, out, bail),
            node => {
                for &r in sel {
                    match self.at.value(node, self.rows.row(r)) {
                        Ok(value) => out.push((r, value)),
                        Err(Bail) => bail.push(r),
                    }
                }
            }
        }
    }

    /// [`Columns::values`] of an expression giving a number or `()` (`At::number`).
    fn numbers(
        &self,
        node: &Node,
        sel: &[u32],
        out: &mut Vec<(u32, Dynamic)>,
        bail: &mut Vec<u32>,
    ) {
        let mut cells = Vec::with_capacity(sel.len());
        self.scalars(node, sel, &mut cells);
        for (&r, cell) in sel.iter().zip(cells) {
            let value = cell.and_then(|x| self.at.scalar_value(node, x, self.rows.row(r)));
            match value {
                Ok(value) => out.push((r, value)),
                Err(Bail) => bail.push(r),
            }
        }
    }
}

/// The number or `()` a literal is (its [`At::scalar`] on any row).
fn constant(node: &Node) -> Option<Scalar> {
    match node {
        Node::Lit(Lit::Int(i)) => Some(Scalar::Int(*i)),
        Node::Lit(Lit::Float(f)) => Some(Scalar::Float(*f)),
        Node::Lit(Lit::Unit) => Some(Scalar::Unit),
        _ => None,
    }
}

/// A column of whole numbers or decimals compared with the constant number `y` (as
/// [`super::compare_scalars`] compares them) on the rows of `sel`, sorted into `yes` and `no`.
/// `false` for a column of another kind or a constant `()`, left to the caller. (Only a slot
/// on the left is read so: `orders >= 4`, not `4 <= orders`.)
fn against_constant(
    op: Cmp,
    xs: &Numbers,
    y: Scalar,
    sel: &[u32],
    yes: &mut Vec<u32>,
    no: &mut Vec<u32>,
) -> bool {
    #[allow(clippy::cast_precision_loss)]
    let float = |x: INT| x as FLOAT;
    let y_float = match y {
        Scalar::Int(i) => float(i),
        Scalar::Float(f) => f,
        Scalar::Unit | Scalar::Other => return false,
    };
    match (xs, y) {
        (Numbers::Ints(xs), Scalar::Int(y)) => {
            let x = |r: u32| xs[at(r)];
            match op {
                Cmp::Eq => sort_by(sel, yes, no, |r| x(r) == y),
                Cmp::Ne => sort_by(sel, yes, no, |r| x(r) != y),
                Cmp::Lt => sort_by(sel, yes, no, |r| x(r) < y),
                Cmp::Le => sort_by(sel, yes, no, |r| x(r) <= y),
                Cmp::Gt => sort_by(sel, yes, no, |r| x(r) > y),
                Cmp::Ge => sort_by(sel, yes, no, |r| x(r) >= y),
            }
        }
        // A decimal on either side: both compared as decimals.
        (Numbers::Ints(xs), _) => {
            sort_by(sel, yes, no, |r| {
                float_compare(op, float(xs[at(r)]), y_float)
            });
        }
        (Numbers::Floats(xs), _) => {
            sort_by(sel, yes, no, |r| float_compare(op, xs[at(r)], y_float));
        }
        (Numbers::Mixed(_), _) => return false,
    }
    true
}

/// Row `r`'s place in a column.
#[inline]
fn at(r: u32) -> usize {
    r as usize
}

/// Sorts the rows of `sel` into `yes` and `no` by `holds` (as [`sort`], no row bailing).
#[inline]
fn sort_by(sel: &[u32], yes: &mut Vec<u32>, no: &mut Vec<u32>, holds: impl Fn(u32) -> bool) {
    let truths = sel.iter().map(|&r| (r, Ok(holds(r))));
    sort(truths, yes, no, &mut Vec::new());
}

/// Sorts rows by their truth into `yes`, `no` and `bail`. A row is written at the ends of
/// both `yes` and `no`, and only the list it belongs to grows: no branch on the truth, which
/// over a batch is as unpredictable as the data.
fn sort(
    truths: impl ExactSizeIterator<Item = (u32, Result<bool, Bail>)>,
    yes: &mut Vec<u32>,
    no: &mut Vec<u32>,
    bail: &mut Vec<u32>,
) {
    let (mut yes_len, mut no_len) = (yes.len(), no.len());
    yes.resize(yes_len + truths.len(), 0);
    no.resize(no_len + truths.len(), 0);
    for (r, truth) in truths {
        match truth {
            Ok(holds) => {
                yes[yes_len] = r;
                no[no_len] = r;
                yes_len += usize::from(holds);
                no_len += usize::from(!holds);
            }
            Err(Bail) => bail.push(r),
        }
    }
    yes.truncate(yes_len);
    no.truncate(no_len);
}
