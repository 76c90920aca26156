//! Orders into per-customer purchase histories, as of a date.
//!
//! [`read_orders`] reads an orders file (CSV with a header, JSONL, or whitespace-separated text
//! without a header such as the CDNOW sample) and aggregates it per customer into a
//! [`History`], from which [`History::btyd`] and [`History::rfm`] give the two summaries of
//! `docs/domain.md` (named apart, never mixed). [`each_order`] reads the same orders, by the
//! same rules, for a caller that keeps them its own way.
//!
//! The rules:
//! - orders dated after `as_of` are ignored, and counted ([`OrderTally::after_as_of`]);
//! - orders of the same customer on the same day merge into one purchase, amounts summed;
//! - a row that cannot be read (no customer id, a bad date, a bad or negative amount or
//!   quantity, too few columns, a JSONL line that is not an object) is rejected with its line,
//!   column and reason ([`OrderReject`]), counted, and never stops the reading;
//! - cells are typed by [`crate::io::cells`], as `idic run` types them: dates ISO or a declared
//!   chrono format (`%Y%m%d` for CDNOW), amounts with an optional currency symbol and
//!   thousands separator.
//!
//! Output order: customers sorted by id (byte order of the id text), so the same orders in any
//! row order give the same histories.
//!
//! Memory: per customer its id and one `(day, amount)` pair (16 bytes) per purchase day, plus a
//! quantity total; the days are needed because the input need not be sorted by date (merging
//! same-day orders needs the days seen) and so that [`History::rfm`] can use any lookback
//! window and [`History::btyd`] any earlier `as_of` (a calibration period).

use crate::analytics::{Btyd, Rfm};
use crate::io::cells::{CellError, CellReader};
use crate::io::input::{BatchReader, CsvScratch, InputFormat, Row, BYTE_ORDER_MARK};
use crate::model::Period;
use crate::model::{Field, FieldFormat, FieldType, Spanned};
use crate::source::Span;
use crate::text::printable;
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// How many rejected rows a [`OrderTally`] keeps in full (all are counted).
pub const KEPT_REJECTS: usize = 1000;

/// A column of an orders file: by header name (CSV, JSONL key) or by 1-based position (CSV,
/// whitespace-separated text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The column's header (CSV) or key (JSONL).
    Name(String),
    /// The column's position, counting from 1.
    Position(usize),
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Name(name) => write!(f, "`{name}`"),
            Column::Position(p) => write!(f, "column {p}"),
        }
    }
}

/// The formats an orders file can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFormat {
    /// Comma-separated values with a header row; columns by name or position.
    Csv,
    /// One JSON object per line; columns by key.
    Jsonl,
    /// Whitespace-separated columns, no header (the CDNOW sample); columns by position.
    Text,
}

impl OrderFormat {
    /// The format a file's extension names: those of customer exports (`.csv`, `.jsonl`,
    /// `.ndjson`), and `.txt` or `.text` for whitespace-separated text.
    pub fn of(path: &Path) -> Option<OrderFormat> {
        match crate::io::InputFormat::of(path) {
            Some(crate::io::InputFormat::Csv) => Some(OrderFormat::Csv),
            Some(crate::io::InputFormat::Jsonl) => Some(OrderFormat::Jsonl),
            None => match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
                "txt" | "text" => Some(OrderFormat::Text),
                _ => None,
            },
        }
    }
}

/// Where the fields of an order are, and how its cells are written.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderColumns {
    /// The customer id (text; surrounding spaces trimmed; empty is rejected).
    pub customer: Column,
    /// The order date: ISO (`2026-11-01`, or a date-time whose date is kept), or one of
    /// `date_formats`.
    pub date: Column,
    /// chrono formats for the dates, tried in order, e.g. `%Y%m%d` (CDNOW) or `%d/%m/%Y`.
    pub date_formats: Vec<String>,
    /// Texts that mean no value in any of the columns, e.g. `N/A`.
    pub missing: Vec<String>,
    /// The order's amount (negative amounts are rejected); without one, every row is worth 0
    /// (an events file of conversions without a value).
    pub amount: Option<Column>,
    /// The number of items, if wanted (summed into [`History::quantity`]); negative is rejected.
    pub quantity: Option<Column>,
    /// A currency symbol amounts may carry, before or after the number (`$1,234.50`).
    pub currency: Option<String>,
    /// A thousands separator amounts may carry (`,`).
    pub thousands: Option<String>,
    /// The amounts' decimal mark, `.` (when `None`) or `,`.
    pub decimal: Option<String>,
    /// Only rows whose cell in this column is this text (surrounding spaces aside) are read,
    /// the others counted ([`OrderTally::other_events`]): the named event of an events file.
    pub event: Option<(Column, String)>,
}

impl OrderColumns {
    /// The CDNOW sample's layout: customer id in column 1, date `YYYYMMDD` in column 3, number
    /// of CDs in column 4, dollar value in column 5 ([`OrderFormat::Text`]).
    pub fn cdnow() -> OrderColumns {
        OrderColumns {
            customer: Column::Position(1),
            date: Column::Position(3),
            date_formats: vec!["%Y%m%d".into()],
            missing: Vec::new(),
            amount: Some(Column::Position(5)),
            quantity: Some(Column::Position(4)),
            currency: None,
            thousands: None,
            decimal: None,
            event: None,
        }
    }
}

/// One rejected row of an orders file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrderReject {
    /// The line the row starts on (1-based; a CSV header is line 1).
    pub line: u64,
    /// The column at fault (as configured: `` `name` `` or `column N`), when one is.
    pub column: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// The reject as one line for people, control characters escaped ([`printable`]).
impl fmt::Display for OrderReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = printable(&self.reason);
        match &self.column {
            Some(column) => write!(f, "line {}, {}: {reason}", self.line, printable(column)),
            None => write!(f, "line {}: {reason}", self.line),
        }
    }
}

/// What reading an orders file did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OrderTally {
    /// Data rows read (a CSV header and blank lines are not rows).
    pub rows: u64,
    /// Rows aggregated into a history (dated on or before `as_of`).
    pub used: u64,
    /// Purchases: distinct (customer, day) pairs among the used rows.
    pub purchases: u64,
    /// Rows ignored because they are dated after `as_of`.
    pub after_as_of: u64,
    /// Rows skipped because they are of another event than the one read.
    pub other_events: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// The first [`KEPT_REJECTS`] rejected rows, in file order.
    pub rejects: Vec<OrderReject>,
}

impl OrderTally {
    /// When rows were read and every one was rejected, what to say (the first reject): such a
    /// file is not the one meant, or its columns are not the ones named.
    pub fn none_readable(&self) -> Option<String> {
        (self.rows > 0 && self.rejected == self.rows).then(|| {
            let first = self.rejects.first();
            format!(
                "no order could be read: all {} rows were rejected{}",
                crate::text::group(self.rows),
                first
                    .map(|r| format!(" (the first at {r})"))
                    .unwrap_or_default()
            )
        })
    }

    /// `6,919 rows: 4,960 used (4,814 purchase days), 1,959 after as_of, 0 rejected`.
    pub fn describe(&self) -> String {
        use crate::text::group;
        format!(
            "{} rows: {} used ({} purchase days), {} after as_of, {} rejected",
            group(self.rows),
            group(self.used),
            group(self.purchases),
            group(self.after_as_of),
            group(self.rejected)
        )
    }
}

/// An orders file that cannot be read at all (as opposed to single rows, which are rejected).
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// The file cannot be opened or read.
    #[error("cannot read the orders file: {0}")]
    Io(#[from] std::io::Error),
    /// A configured column is not in the CSV header.
    #[error("the orders file has no column {column} (its columns: {header})")]
    NoSuchColumn {
        /// The column, as configured (control characters escaped, as in the header).
        column: String,
        /// The header's names, comma-separated, control characters escaped ([`printable`]).
        header: String,
    },
    /// The configuration does not fit the format (a position for JSONL, a name for text, a
    /// position 0, a bad date format or thousands separator).
    #[error("{0}")]
    Config(String),
}

/// One day a customer bought on, with the day's amounts summed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseDay {
    /// The day, as days since 0001-01-01 (chrono's `num_days_from_ce`).
    pub day: i32,
    /// The sum of the day's order amounts.
    pub amount: f64,
}

/// One customer's purchases up to the `as_of` the orders were read at.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The customer id, as written (trimmed).
    pub customer: String,
    /// The total quantity of the customer's used orders (0 when no quantity column is read).
    pub quantity: f64,
    /// Purchase days, sorted, one per day; never empty.
    days: Box<[PurchaseDay]>,
}

/// `date` as a day number (see [`PurchaseDay::day`]).
pub fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
}

/// The date of a day number.
pub fn day_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
}

impl History {
    /// A history from purchase days in any order (same-day entries merge, amounts summed);
    /// `None` when there are none.
    pub fn new(customer: impl Into<String>, days: Vec<PurchaseDay>) -> Option<History> {
        let days = merge_days(days);
        if days.is_empty() {
            return None;
        }
        Some(History {
            customer: customer.into(),
            quantity: 0.0,
            days: days.into_boxed_slice(),
        })
    }

    /// The purchase days, sorted, one per day.
    pub fn days(&self) -> &[PurchaseDay] {
        &self.days
    }

    /// The first purchase's date.
    pub fn first_purchase(&self) -> NaiveDate {
        day_date(self.days[0].day)
    }

    /// The last purchase's date.
    pub fn last_purchase(&self) -> NaiveDate {
        day_date(self.days[self.days.len() - 1].day)
    }

    /// The summary in the buy-till-you-die convention (`lifetimes`): frequency = purchase days
    /// - 1, recency = last - first purchase, T = `as_of` - first purchase, monetary value = the
    ///   mean amount of the repeat purchase days (0 when none), times in `period`.
    ///
    /// Only purchases on or before `as_of` count, so an `as_of` earlier than the reading's gives
    /// the summary of a calibration period; `None` when the customer had not bought by then.
    pub fn btyd(&self, as_of: NaiveDate, period: Period) -> Option<Btyd> {
        let end = day_number(as_of);
        let days = &self.days[..self.days.partition_point(|d| d.day <= end)];
        let (first, last) = (days.first()?, days.last()?);
        let repeats = &days[1..];
        let monetary_value = if repeats.is_empty() {
            0.0
        } else {
            repeats.iter().map(|d| d.amount).sum::<f64>() / repeats.len() as f64
        };
        Some(Btyd {
            frequency: repeats.len() as f64,
            recency: period.of_days(i64::from(last.day - first.day)),
            t: period.of_days(i64::from(end - first.day)),
            monetary_value,
        })
    }

    /// The summary in the RFM convention: days since the last purchase, purchase days and the
    /// sum of amounts, over the purchases on or before `as_of` and, with a lookback of N days,
    /// within the last N days (`as_of - day < N`: `as_of` and the N - 1 days before it; a
    /// lookback of 0 holds nothing). `None` (a prospect: no RFM score) when there is no purchase
    /// in the window.
    pub fn rfm(&self, as_of: NaiveDate, lookback_days: Option<u32>) -> Option<Rfm> {
        let end = day_number(as_of);
        let start = lookback_days.map_or(i32::MIN, |n| {
            end.saturating_sub_unsigned(n).saturating_add(1)
        });
        let lo = self.days.partition_point(|d| d.day < start);
        let hi = self.days.partition_point(|d| d.day <= end);
        let window = self.days.get(lo..hi).filter(|w| !w.is_empty())?;
        Some(Rfm {
            recency_days: i64::from(end - window[window.len() - 1].day),
            frequency: window.len() as u32,
            monetary: window.iter().map(|d| d.amount).sum(),
        })
    }
}

/// Sorts `days` and merges entries of the same day.
fn merge_days(mut days: Vec<PurchaseDay>) -> Vec<PurchaseDay> {
    merge_in_place(&mut days);
    days
}

/// Sorts `days` and merges entries of the same day (amounts summed in list order), in place.
pub(super) fn merge_in_place(days: &mut Vec<PurchaseDay>) {
    days.sort_by_key(|d| d.day);
    days.dedup_by(|later, kept| {
        if later.day == kept.day {
            kept.amount += later.amount;
            true
        } else {
            false
        }
    });
}

/// Histories read from an orders file.
#[derive(Debug, Clone, PartialEq)]
pub struct Orders {
    /// The `as_of` the orders were read at.
    pub as_of: NaiveDate,
    /// One history per customer with a used order, sorted by customer id.
    pub customers: Vec<History>,
    /// What the reading did.
    pub tally: OrderTally,
}

impl Orders {
    /// Every customer's BTYD summary at the reading's `as_of`, in [`Orders::customers`] order.
    pub fn btyd(&self, period: Period) -> Vec<Btyd> {
        self.customers
            .iter()
            .filter_map(|h| h.btyd(self.as_of, period))
            .collect()
    }
}

/// Reads the orders file at `path` and aggregates it per customer as of `as_of`.
///
/// Err only when the file cannot be read or the configuration does not fit it; bad rows are
/// rejected and tallied.
pub fn read_orders(
    path: &Path,
    format: OrderFormat,
    columns: &OrderColumns,
    as_of: NaiveDate,
) -> Result<Orders, OrdersError> {
    let mut days = Aggregated::default();
    let tally = each_order(path, format, columns, as_of, |order| days.add(order))?;
    Ok(days.finish(as_of, tally))
}

/// One order as read and checked: whose, which day, what it brought.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order<'a> {
    /// The customer id, trimmed; never empty.
    pub customer: &'a str,
    /// The day (see [`PurchaseDay::day`]), on or before the reading's `as_of`.
    pub day: i32,
    /// The amount (0 when no amount column is read).
    pub amount: f64,
    /// The quantity (0 when no quantity column is read).
    pub quantity: f64,
}

/// Reads the orders file at `path` and gives `each` every order dated on or before `as_of`,
/// in file order; the rules are [`read_orders`]'s. The tally's `purchases` is left at 0: the
/// days merge where the orders are kept.
///
/// Err only when the file cannot be read or the configuration does not fit it; bad rows are
/// rejected and tallied.
pub fn each_order(
    path: &Path,
    format: OrderFormat,
    columns: &OrderColumns,
    as_of: NaiveDate,
    each: impl FnMut(Order<'_>),
) -> Result<OrderTally, OrdersError> {
    let file = crate::io::open_export(path)?;
    let mut agg = OrderReader::new(columns, as_of, each)?;
    match format {
        OrderFormat::Text => {
            let positions = agg.positions(format, None)?;
            let mut reader = BufReader::new(file);
            let mut buf = Vec::new();
            let mut line = 0u64;
            loop {
                buf.clear();
                let limit = crate::io::MAX_ROW_BYTES as u64 + 1;
                if std::io::Read::take(&mut reader, limit).read_until(b'\n', &mut buf)? == 0 {
                    break;
                }
                line += 1;
                if buf.len() as u64 == limit && buf.last() != Some(&b'\n') {
                    return Err(crate::io::input::row_too_long(line).into());
                }
                let bytes = match buf.strip_prefix(BYTE_ORDER_MARK) {
                    Some(rest) if line == 1 => rest,
                    _ => &buf[..],
                };
                let Ok(text) = std::str::from_utf8(bytes) else {
                    agg.reject(line, None, "the line is not valid UTF-8".into());
                    continue;
                };
                if text.trim().is_empty() {
                    continue;
                }
                let cell = |i: usize| text.split_whitespace().nth(i).map(Cell::Text);
                agg.row(line, &positions, cell);
            }
        }
        OrderFormat::Csv | OrderFormat::Jsonl => {
            let input = if format == OrderFormat::Csv {
                InputFormat::Csv
            } else {
                InputFormat::Jsonl
            };
            let (mut reader, header) = BatchReader::open(&file, input, 1 << 20)?;
            let positions = agg.positions(format, header.as_deref())?;
            let mut scratch = CsvScratch::default();
            let mut recycled = None;
            while let Some(rows) = reader.next_batch(recycled.take())? {
                rows.each(&mut scratch, |at, row| match row {
                    Row::Csv(record) => agg.row(at.line, &positions, |i| {
                        record.get(i).map(|b| match std::str::from_utf8(b) {
                            Ok(s) => Cell::Text(s),
                            Err(_) => Cell::NotUtf8,
                        })
                    }),
                    Row::Json(bytes) => {
                        match crate::io::jsonl::json_object(bytes) {
                            Ok(object) => agg.json_row(at.line, &object),
                            Err(e) => {
                                // Every line is a row: read, then rejected.
                                agg.tally.rows += 1;
                                agg.reject(
                                    at.line,
                                    None,
                                    format!(
                                        "the line is not a JSON object (at column {}): {}",
                                        e.column(),
                                        crate::io::jsonl::json_error_text(&e)
                                    ),
                                )
                            }
                        }
                    }
                });
                recycled = Some(rows);
            }
        }
    }
    Ok(agg.tally)
}

/// One cell of a CSV or text row.
enum Cell<'a> {
    Text(&'a str),
    NotUtf8,
}

/// The fields of an order, in [`OrderReader::row`]'s order.
const CUSTOMER: usize = 0;
const DATE: usize = 1;
const AMOUNT: usize = 2;
const QUANTITY: usize = 3;
const EVENT: usize = 4;

/// Reads rows into orders, giving each to `each`.
struct OrderReader<F> {
    as_of: i32,
    /// The configured columns, in field order (customer, date, amount, quantity, event).
    columns: [Option<Column>; 5],
    /// The event read, when an event column is configured.
    event: Option<String>,
    /// The columns as named in rejects.
    shown: Vec<String>,
    date: CellReader,
    amount: CellReader,
    quantity: CellReader,
    each: F,
    tally: OrderTally,
}

/// A schema field for a [`CellReader`].
fn field(ty: FieldType, format: FieldFormat) -> Field {
    Field::of_column("order", ty, format)
}

impl<F: FnMut(Order<'_>)> OrderReader<F> {
    fn new(columns: &OrderColumns, as_of: NaiveDate, each: F) -> Result<Self, OrdersError> {
        let spanned = |s: &String| Spanned::new(s.clone(), Span::default());
        let missing: Vec<_> = columns.missing.iter().map(spanned).collect();
        let date = CellReader::new(&field(
            FieldType::Date,
            FieldFormat {
                dates: columns.date_formats.iter().map(spanned).collect(),
                missing: missing.clone(),
                ..FieldFormat::default()
            },
        ))
        .map_err(OrdersError::Config)?;
        let amount = CellReader::new(&field(
            FieldType::Money,
            FieldFormat {
                currency: columns.currency.as_ref().map(spanned),
                thousands: columns.thousands.as_ref().map(spanned),
                decimal: columns.decimal.as_ref().map(spanned),
                missing: missing.clone(),
                ..FieldFormat::default()
            },
        ))
        .map_err(OrdersError::Config)?;
        let quantity = CellReader::new(&field(
            FieldType::Decimal,
            FieldFormat {
                thousands: columns.thousands.as_ref().map(spanned),
                decimal: columns.decimal.as_ref().map(spanned),
                missing,
                ..FieldFormat::default()
            },
        ))
        .map_err(OrdersError::Config)?;
        let list = [
            Some(columns.customer.clone()),
            Some(columns.date.clone()),
            columns.amount.clone(),
            columns.quantity.clone(),
            columns.event.as_ref().map(|(c, _)| c.clone()),
        ];
        Ok(OrderReader {
            as_of: day_number(as_of),
            shown: list
                .iter()
                .map(|c| c.as_ref().map(ToString::to_string).unwrap_or_default())
                .collect(),
            columns: list,
            event: columns
                .event
                .as_ref()
                .map(|(_, name)| name.trim().to_string()),
            date,
            amount,
            quantity,
            each,
            tally: OrderTally::default(),
        })
    }

    /// The 0-based cell index of each configured column: for CSV names are looked up in the
    /// `header`; text has no header (positions only); JSONL has keys (names only, the index is
    /// unused).
    fn positions(
        &self,
        format: OrderFormat,
        header: Option<&[String]>,
    ) -> Result<Vec<Option<usize>>, OrdersError> {
        self.columns
            .iter()
            .map(|column| {
                column
                    .as_ref()
                    .map(|c| position(c, format, header))
                    .transpose()
            })
            .collect()
    }

    fn reject(&mut self, line: u64, column: Option<usize>, reason: String) {
        self.tally.rejected += 1;
        if self.tally.rejects.len() < KEPT_REJECTS {
            self.tally.rejects.push(OrderReject {
                line,
                column: column.map(|c| self.shown[c].clone()),
                reason,
            });
        }
    }

    /// A CSV or text row: `cell(i)` is the row's 0-based cell `i`, `None` past its end.
    fn row<'a>(
        &mut self,
        line: u64,
        positions: &[Option<usize>],
        cell: impl Fn(usize) -> Option<Cell<'a>>,
    ) {
        if let Some(Cell::Text(event)) = positions[EVENT].and_then(&cell) {
            if self.other_event(event) {
                return;
            }
        }
        self.tally.rows += 1;
        let mut texts = [""; 5];
        for (f, p) in positions.iter().enumerate() {
            let Some(p) = *p else { continue };
            match cell(p) {
                Some(Cell::Text(t)) => texts[f] = t,
                Some(Cell::NotUtf8) => {
                    return self.reject(line, Some(f), "the cell is not valid UTF-8".into())
                }
                None => {
                    return self.reject(line, Some(f), "the row has no such column".into());
                }
            }
        }
        let read = |reader: &CellReader, f: usize| positions[f].map(|_| reader.read(texts[f]));
        let date = read(&self.date, DATE).expect("a date column");
        let amount = read(&self.amount, AMOUNT);
        let quantity = read(&self.quantity, QUANTITY);
        self.add(line, texts[CUSTOMER].trim(), date, amount, quantity);
    }

    /// A JSONL row.
    fn json_row(&mut self, line: u64, object: &serde_json::Map<String, serde_json::Value>) {
        use serde_json::Value as Json;
        if let Some(Column::Name(name)) = &self.columns[EVENT] {
            let event = object.get(name).and_then(Json::as_str).unwrap_or("");
            if self.other_event(event) {
                return;
            }
        }
        self.tally.rows += 1;
        let key = |f: usize| match &self.columns[f] {
            Some(Column::Name(name)) => object.get(name),
            _ => None,
        };
        let id = match key(CUSTOMER) {
            Some(Json::String(s)) => s.trim().to_string(),
            Some(Json::Number(n)) => n.to_string(),
            None | Some(Json::Null) => String::new(),
            Some(other) => {
                let reason = format!("expected a customer id (text or number), found `{other}`");
                return self.reject(line, Some(CUSTOMER), reason);
            }
        };
        let read = |reader: &CellReader, f: usize| {
            self.columns[f].as_ref().map(|_| reader.read_json(key(f)))
        };
        let date = self.date.read_json(key(DATE));
        let amount = read(&self.amount, AMOUNT);
        let quantity = read(&self.quantity, QUANTITY);
        self.add(line, &id, date, amount, quantity);
    }

    /// Whether a row of event `event` is skipped, not of the event read (and counts it: such a
    /// row is not read).
    fn other_event(&mut self, event: &str) -> bool {
        let other = self.event.as_deref().is_some_and(|e| e != event.trim());
        if other {
            self.tally.other_events += 1;
        }
        other
    }

    /// Checks one read row and adds it to its customer's days.
    fn add(
        &mut self,
        line: u64,
        id: &str,
        date: Result<rhai::Dynamic, CellError>,
        amount: Option<Result<rhai::Dynamic, CellError>>,
        quantity: Option<Result<rhai::Dynamic, CellError>>,
    ) {
        if id.is_empty() {
            return self.reject(line, Some(CUSTOMER), "the customer id is empty".into());
        }
        let date = match date.map(|d| d.try_cast::<NaiveDate>()) {
            Ok(Some(date)) => date,
            Ok(None) => return self.reject(line, Some(DATE), "the date is not a date".into()),
            Err(e) => return self.reject(line, Some(DATE), e.to_string()),
        };
        let amount = match amount.map(number) {
            None => 0.0,
            Some(Ok(a)) => a,
            Some(Err(reason)) => return self.reject(line, Some(AMOUNT), reason),
        };
        let quantity = match quantity.map(number) {
            None => 0.0,
            Some(Ok(q)) => q,
            Some(Err(reason)) => return self.reject(line, Some(QUANTITY), reason),
        };
        let day = day_number(date);
        if day > self.as_of {
            self.tally.after_as_of += 1;
            return;
        }
        self.tally.used += 1;
        (self.each)(Order {
            customer: id,
            day,
            amount,
            quantity,
        });
    }
}

/// Orders gathered per customer, for [`read_orders`].
#[derive(Default)]
struct Aggregated {
    index: HashMap<Box<str>, usize>,
    customers: Vec<(Box<str>, Vec<PurchaseDay>, f64)>,
}

impl Aggregated {
    fn add(&mut self, order: Order<'_>) {
        let i = match self.index.get(order.customer) {
            Some(&i) => i,
            None => {
                self.index
                    .insert(order.customer.into(), self.customers.len());
                self.customers
                    .push((order.customer.into(), Vec::new(), 0.0));
                self.customers.len() - 1
            }
        };
        let (_, days, total) = &mut self.customers[i];
        *total += order.quantity;
        match days.last_mut() {
            Some(last) if last.day == order.day => last.amount += order.amount,
            _ => {
                // Unsorted input: merge the same-day entries before the list would grow, so
                // it holds at most about twice the customer's purchase days.
                if days.len() == days.capacity() && days.len() >= 8 {
                    merge_in_place(days);
                }
                days.push(PurchaseDay {
                    day: order.day,
                    amount: order.amount,
                });
            }
        }
    }

    fn finish(self, as_of: NaiveDate, mut tally: OrderTally) -> Orders {
        let mut customers: Vec<History> = self
            .customers
            .into_iter()
            .filter_map(|(id, days, quantity)| {
                let mut history = History::new(String::from(id), days)?;
                history.quantity = quantity;
                Some(history)
            })
            .collect();
        customers.sort_unstable_by(|a, b| a.customer.cmp(&b.customer));
        tally.purchases = customers.iter().map(|h| h.days.len() as u64).sum();
        Orders {
            as_of,
            customers,
            tally,
        }
    }
}

/// The 0-based cell index of `column` in a file of `format` with `header` (CSV); JSONL has
/// keys, not indices (`usize::MAX`).
fn position(
    column: &Column,
    format: OrderFormat,
    header: Option<&[String]>,
) -> Result<usize, OrdersError> {
    match (column, format) {
        (Column::Position(0), _) => Err(OrdersError::Config(
            "column positions count from 1; 0 is not a column".into(),
        )),
        (Column::Position(p), OrderFormat::Csv | OrderFormat::Text) => Ok(p - 1),
        (Column::Position(p), OrderFormat::Jsonl) => Err(OrdersError::Config(format!(
            "JSONL has keys, not positions: give column {p} by its key"
        ))),
        (Column::Name(_), OrderFormat::Jsonl) => Ok(usize::MAX),
        (Column::Name(name), OrderFormat::Text) => Err(OrdersError::Config(format!(
            "whitespace-separated text has no header: give column `{name}` by its position"
        ))),
        (Column::Name(name), OrderFormat::Csv) => {
            let header = header.unwrap_or_default();
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| OrdersError::NoSuchColumn {
                    column: printable(&column.to_string()).into_owned(),
                    header: header
                        .iter()
                        .map(|h| printable(h))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        }
    }
}

/// A non-negative number read by a decimal or money [`CellReader`], or why not.
fn number(value: Result<rhai::Dynamic, CellError>) -> Result<f64, String> {
    match value.map(|v| v.as_float()) {
        Ok(Ok(x)) if x >= 0.0 => Ok(x),
        Ok(Ok(x)) => Err(format!("expected a non-negative amount, found `{x}`")),
        Ok(Err(_)) => Err("expected a number".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn read(text: &str, format: OrderFormat, columns: &OrderColumns, as_of: &str) -> Orders {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        read_orders(file.path(), format, columns, date(as_of)).unwrap()
    }

    fn named() -> OrderColumns {
        OrderColumns {
            customer: Column::Name("customer".into()),
            date: Column::Name("date".into()),
            date_formats: Vec::new(),
            missing: Vec::new(),
            amount: Some(Column::Name("amount".into())),
            quantity: None,
            currency: Some("$".into()),
            thousands: Some(",".into()),
            decimal: None,
            event: None,
        }
    }

    /// docs/domain.md's worked example, in every format.
    #[test]
    fn worked_example() {
        let csv = "customer,date,amount\nc1,2020-01-01,$10\nc1,2020-01-10,20\nc1,2020-01-01,5.00\n";
        let jsonl = concat!(
            "{\"customer\":\"c1\",\"date\":\"2020-01-01\",\"amount\":10}\n",
            "{\"customer\":\"c1\",\"date\":\"2020-01-10T09:30:00Z\",\"amount\":\"$20\"}\n",
            "\n",
            "{\"customer\":\"c1\",\"date\":\"2020-01-01\",\"amount\":5}\n",
        );
        let text = " c1 x 20200101 10\nc1 x 20200110   20\n\nc1 x 20200101 5\n";
        let text_columns = OrderColumns {
            customer: Column::Position(1),
            date: Column::Position(3),
            date_formats: vec!["%Y%m%d".into()],
            missing: Vec::new(),
            amount: Some(Column::Position(4)),
            quantity: None,
            currency: None,
            thousands: None,
            decimal: None,
            event: None,
        };
        for orders in [
            read(csv, OrderFormat::Csv, &named(), "2020-01-31"),
            read(jsonl, OrderFormat::Jsonl, &named(), "2020-01-31"),
            read(text, OrderFormat::Text, &text_columns, "2020-01-31"),
        ] {
            assert_eq!(orders.tally.rows, 3);
            assert_eq!(orders.tally.purchases, 2);
            assert_eq!(orders.tally.rejected, 0, "{:?}", orders.tally.rejects);
            let [history] = &orders.customers[..] else {
                panic!("one customer expected: {:?}", orders.customers)
            };
            let as_of = date("2020-01-31");
            let btyd = history.btyd(as_of, Period::Day).unwrap();
            assert_eq!(
                btyd,
                Btyd {
                    frequency: 1.0,
                    recency: 9.0,
                    t: 30.0,
                    monetary_value: 20.0
                }
            );
            let rfm = history.rfm(as_of, None).unwrap();
            assert_eq!(
                rfm,
                Rfm {
                    recency_days: 21,
                    frequency: 2,
                    monetary: 35.0
                }
            );
            assert_eq!(orders.btyd(Period::Day), vec![btyd]);
            let weeks = history.btyd(as_of, Period::Week).unwrap();
            assert_eq!((weeks.recency, weeks.t), (9.0 / 7.0, 30.0 / 7.0));
        }
    }

    #[test]
    fn lookback_window_and_calibration_as_of() {
        let days = vec![
            PurchaseDay {
                day: day_number(date("2020-01-01")),
                amount: 10.0,
            },
            PurchaseDay {
                day: day_number(date("2020-01-10")),
                amount: 20.0,
            },
            PurchaseDay {
                day: day_number(date("2020-01-01")),
                amount: 5.0,
            },
        ];
        let h = History::new("c1", days).unwrap();
        let as_of = date("2020-01-31");
        // 22 days back reach 01-10 (as_of - 21) but not 01-01 (as_of - 30).
        let rfm = |n| h.rfm(as_of, Some(n));
        assert_eq!(rfm(22).unwrap().frequency, 1);
        assert_eq!(rfm(22).unwrap().monetary, 20.0);
        assert_eq!(
            rfm(21),
            None,
            "01-10 is 21 days back: outside the last 21 days"
        );
        assert_eq!(rfm(31).unwrap().frequency, 2);
        assert_eq!(rfm(30).unwrap().frequency, 1);
        assert_eq!(rfm(0), None);
        // An earlier as_of: only what was bought by then.
        let early = h.btyd(date("2020-01-05"), Period::Day).unwrap();
        assert_eq!(
            (
                early.frequency,
                early.recency,
                early.t,
                early.monetary_value
            ),
            (0.0, 0.0, 4.0, 0.0)
        );
        assert_eq!(h.btyd(date("2019-12-31"), Period::Day), None);
        assert_eq!(h.rfm(date("2019-12-31"), None), None);
        assert_eq!(h.first_purchase(), date("2020-01-01"));
        assert_eq!(h.last_purchase(), date("2020-01-10"));
        assert_eq!(History::new("c2", vec![]), None);
    }

    /// Orders in no particular order: 120 orders on 10 days (each list compaction included)
    /// give the same histories as sorted input.
    #[test]
    fn unsorted_orders_merge_by_day() {
        let mut rows: Vec<String> = (0..120)
            .map(|i| {
                format!(
                    "{},2020-01-{:02},{}\n",
                    ["a", "b"][i % 2],
                    1 + (i * 7) % 10,
                    i
                )
            })
            .collect();
        let text = |rows: &[String]| format!("customer,date,amount\n{}", rows.concat());
        let shuffled = read(&text(&rows), OrderFormat::Csv, &named(), "2020-01-31");
        rows.sort_by(|p, q| p.split(',').nth(1).cmp(&q.split(',').nth(1)));
        let sorted = read(&text(&rows), OrderFormat::Csv, &named(), "2020-01-31");
        assert_eq!(shuffled.customers, sorted.customers);
        assert_eq!(
            shuffled.tally.purchases, 10,
            "a buys on 5 days, b on the other 5"
        );
        let a = &shuffled.customers[0];
        assert_eq!(a.days().len(), 5);
        let total: f64 = a.days().iter().map(|d| d.amount).sum();
        assert_eq!(total, (0..120).step_by(2).sum::<usize>() as f64);
    }

    #[test]
    fn every_jsonl_line_is_a_row_used_ignored_or_rejected() {
        let jsonl = "{\"customer\":\"a\",\"amount\":10,\"date\":\"2020-01-01\"}\nnot json\n[1, 2]\n{\"customer\":\"a\",\"amount\":5,\"date\":\"2020-03-01\"}\n";
        let orders = read(jsonl, OrderFormat::Jsonl, &named(), "2020-01-31");
        let t = &orders.tally;
        assert_eq!((t.rows, t.used, t.after_as_of, t.rejected), (4, 1, 1, 2));
        let lines: Vec<u64> = t.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn a_byte_order_mark_starts_no_row_in_any_format() {
        let columns = [named(), named(), OrderColumns::cdnow()];
        let files = [
            (
                OrderFormat::Jsonl,
                "{\"customer\":\"a\",\"amount\":10,\"date\":\"2020-01-01\"}\n",
            ),
            (OrderFormat::Csv, "customer,amount,date\na,10,2020-01-01\n"),
            (OrderFormat::Text, "a 1 20200101 1 10\n"),
        ];
        for ((format, text), columns) in files.into_iter().zip(&columns) {
            let orders = read(&format!("\u{feff}{text}"), format, columns, "2020-01-31");
            let t = &orders.tally;
            assert_eq!((t.rows, t.used, t.rejected), (1, 1, 0), "{format:?}: {t:?}");
            assert_eq!(orders.customers[0].customer, "a", "{format:?}");
        }
    }

    #[test]
    fn after_as_of_ignored_and_bad_rows_rejected() {
        let csv = "\
customer,amount,date,qty
a,10,2020-01-01,1
a,5,2020-02-01,1
,10,2020-01-01,1
b,ten,2020-01-01,1
b,-3,2020-01-01,1
b,3,2020-13-01,1
b,3,2020-01-02,-1
\"c\",\"$1,234.50\",2020-01-03,2
c,1
d,7,2020-01-31,1
";
        let mut columns = named();
        columns.quantity = Some(Column::Name("qty".into()));
        let orders = read(csv, OrderFormat::Csv, &columns, "2020-01-31");
        let t = &orders.tally;
        assert_eq!(
            (t.rows, t.used, t.after_as_of, t.rejected, t.purchases),
            (10, 3, 1, 6, 3)
        );
        let rejects: Vec<(u64, Option<&str>)> = t
            .rejects
            .iter()
            .map(|r| (r.line, r.column.as_deref()))
            .collect();
        assert_eq!(
            rejects,
            [
                (4, Some("`customer`")),
                (5, Some("`amount`")),
                (6, Some("`amount`")),
                (7, Some("`date`")),
                (8, Some("`qty`")),
                (10, Some("`date`")),
            ]
        );
        assert!(t.rejects[0].reason.contains("empty"), "{}", t.rejects[0]);
        assert!(t.rejects[1].reason.contains("`ten`"), "{}", t.rejects[1]);
        assert!(
            t.rejects[2].reason.contains("non-negative"),
            "{}",
            t.rejects[2]
        );
        assert!(
            t.rejects[3].reason.contains("`2020-13-01`"),
            "{}",
            t.rejects[3]
        );
        assert_eq!(t.rejects[5].reason, "the row has no such column");
        let ids: Vec<&str> = orders
            .customers
            .iter()
            .map(|h| h.customer.as_str())
            .collect();
        assert_eq!(ids, ["a", "c", "d"]);
        assert_eq!(orders.customers[1].days()[0].amount, 1234.5);
        assert_eq!(orders.customers[1].quantity, 2.0);
        assert_eq!(
            orders.customers[0]
                .rfm(orders.as_of, None)
                .unwrap()
                .monetary,
            10.0
        );

        let jsonl = "{\"customer\":1,\"date\":\"2020-01-01\",\"amount\":1}\nnot json\n[1]\n{\"customer\":true}\n{\"date\":\"2020-01-01\",\"amount\":1}\n";
        let orders = read(jsonl, OrderFormat::Jsonl, &named(), "2020-01-31");
        assert_eq!((orders.tally.rows, orders.tally.rejected), (5, 4));
        let lines: Vec<u64> = orders.tally.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        assert_eq!(orders.customers[0].customer, "1");
    }

    #[test]
    fn configuration_errors() {
        let csv = "customer,date,amount\n";
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(csv.as_bytes()).unwrap();
        let mut columns = named();
        columns.amount = Some(Column::Name("total".into()));
        let err =
            read_orders(file.path(), OrderFormat::Csv, &columns, date("2020-01-01")).unwrap_err();
        assert!(err.to_string().contains("`total`"), "{err}");
        let err =
            read_orders(file.path(), OrderFormat::Text, &named(), date("2020-01-01")).unwrap_err();
        assert!(err.to_string().contains("position"), "{err}");
        let err = read_orders(
            file.path(),
            OrderFormat::Jsonl,
            &OrderColumns::cdnow(),
            date("2020-01-01"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
        let mut columns = OrderColumns::cdnow();
        columns.customer = Column::Position(0);
        assert!(read_orders(file.path(), OrderFormat::Text, &columns, date("2020-01-01")).is_err());
        let missing = Path::new("/nonexistent/orders.csv");
        assert!(matches!(
            read_orders(missing, OrderFormat::Csv, &named(), date("2020-01-01")),
            Err(OrdersError::Io(_))
        ));
    }

    /// The CDNOW sample at the end of the 39-week calibration period.
    #[test]
    fn cdnow_summary() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cdnow_sample.txt");
        let orders = read_orders(
            &path,
            OrderFormat::Text,
            &OrderColumns::cdnow(),
            date("1997-09-30"),
        )
        .unwrap();
        assert_eq!(orders.tally.rows, 6919);
        assert_eq!(orders.tally.rejected, 0);
        assert!(orders.tally.after_as_of > 0, "the sample runs to mid-1998");
        assert_eq!(orders.tally.used + orders.tally.after_as_of, 6919);
        assert_eq!(orders.customers.len(), 2357);
        let summary = orders.btyd(Period::Week);
        let repeat = summary.iter().filter(|s| s.frequency > 0.0).count();
        assert_eq!(repeat, 946);
        assert!(summary
            .iter()
            .all(|s| s.recency <= s.t && s.t <= 272.0 / 7.0 && s.t >= 183.0 / 7.0));
        // Customer 00004 (the file's first): 19970101, 19970118, 19970802 before as_of.
        let first = &orders.customers[0];
        assert_eq!(first.customer, "00004");
        let s = first.btyd(orders.as_of, Period::Week).unwrap();
        assert_eq!(s.frequency, 2.0);
        assert_eq!(s.recency, 213.0 / 7.0);
        assert_eq!(s.t, 272.0 / 7.0);
        assert!((s.monetary_value - (29.73 + 14.96) / 2.0).abs() < 1e-9);
    }
}
