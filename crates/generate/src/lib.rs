//! Deterministic synthetic storefront exports: customer tables like the ones
//! Shopify/WooCommerce style stores hand out, of any size, for examples, tests and benchmarks.
//!
//! [`write_export`] streams one row at a time (constant memory whatever the size) and uses no
//! clock: a given [`ExportSpec`] gives the same bytes on every machine and run. The bundled
//! `examples/customers.csv` is the default spec, regenerated with
//!
//! ```sh
//! cargo run --release --example generate_customers -- --out examples/customers.csv
//! ```
//!
//! The export mimics a real one: header names with spaces ([`COLUMNS`]), ISO signup dates but
//! DD/MM/YYYY last-order dates (empty for customers who never ordered), money like `$1,234.50`,
//! yes/no consent flags, `;`-separated tags, many empty cells (phone, tags, NPS, tickets,
//! notes) and a free-text `Notes` column with commas and quotes inside.
//!
//! Everything is relative to `as_of`: signups run from January 1st seven years before its
//! year to the day before it, 8% of them in the last 30 days; last orders fall between signup
//! and `as_of`. The mix (new signups, one-time buyers, loyal regulars, big spenders, at-risk and
//! lapsed customers, unhappy ones) gives every segment of `rules/retail/retail.idic` a
//! meaningful share at any size.
//!
//! Streaming shapes two things. Rows come in signup order, and ids increase along the file
//! with occasional gaps (deleted accounts): row `i` of `n` takes its signup date at a random
//! point of the `i`-th of `n` equal slices of the signup distribution, so the dates are
//! non-decreasing and, over the file, exactly distributed. Emails carry the id's number
//! (`emma.smith104@example.com`), which makes them unique without remembering any.
//!
//! Only integer arithmetic and basic floating-point operations (exactly rounded by IEEE 754)
//! feed the output: the log-normal order values take a normal from 12 uniforms and an own
//! `exp`, not the platform's libm, whose last bits may differ between machines.

use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// The export's columns, in order: the CSV header and the JSONL keys.
pub const COLUMNS: [&str; 16] = [
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Signup Date",
    "Last Order Date",
    "Total Orders",
    "Total Spent",
    "Accepts Email Marketing",
    "Accepts SMS Marketing",
    "Phone",
    "Country",
    "Tags",
    "Last NPS",
    "Open Support Tickets",
    "Notes",
];

/// How an export is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header line, then one line per customer; `\n` line ends, quotes only where needed.
    #[default]
    Csv,
    /// One JSON object per customer and line, keyed by the column names: `Total Orders`,
    /// `Last NPS` and `Open Support Tickets` are numbers, empty cells `null`, the rest the
    /// same strings as in the CSV.
    Jsonl,
}

impl FromStr for ExportFormat {
    type Err = String;

    /// `csv` or `jsonl`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Self::Csv),
            "jsonl" => Ok(Self::Jsonl),
            _ => Err(format!(
                "unknown export format `{s}`: expected csv or jsonl"
            )),
        }
    }
}

/// What to generate: the same spec always gives the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSpec {
    /// Number of customers (rows), 0 or more.
    pub customers: u64,
    /// Seed of the random generator.
    pub seed: u64,
    /// The day the export is taken: every date falls before it (years 1000 to 9999).
    pub as_of: NaiveDate,
    /// CSV or JSONL.
    pub format: ExportFormat,
}

/// 2026-11-01, checked when compiling.
const DEFAULT_AS_OF: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 1) {
    Some(date) => date,
    None => panic!("2026-11-01 is a date"),
};

impl Default for ExportSpec {
    /// The spec of `examples/customers.csv`: 400 customers, seed 20261101, as of 2026-11-01
    /// (the retail rule set's `as_of`), CSV.
    fn default() -> Self {
        Self {
            customers: 400,
            seed: 20261101,
            as_of: DEFAULT_AS_OF,
            format: ExportFormat::Csv,
        }
    }
}

impl ExportSpec {
    /// Checks the spec: `as_of` must lie in the years 1000 to 9999, so that every date has
    /// four year digits. [`write_export`] checks first and writes nothing on error.
    pub fn validate(&self) -> io::Result<()> {
        if (1000..=9999).contains(&self.as_of.year()) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "as_of {} is outside the years 1000 to 9999",
                    self.as_of.format("%Y-%m-%d")
                ),
            ))
        }
    }
}

/// Writes the export described by `spec` to `out`, one row at a time (buffered; no need to
/// wrap `out` in a `BufWriter`). Errors: an invalid spec ([`ExportSpec::validate`]) and the
/// writer's own.
pub fn write_export(spec: &ExportSpec, out: impl Write) -> io::Result<()> {
    const BUFFER: usize = 1 << 16;
    spec.validate()?;
    let mut rows = Rows::new(spec);
    match spec.format {
        ExportFormat::Csv => {
            let mut csv = csv::WriterBuilder::new()
                .has_headers(false)
                .terminator(csv::Terminator::Any(b'\n'))
                .buffer_capacity(BUFFER)
                .from_writer(out);
            csv.write_record(COLUMNS)?;
            for _ in 0..spec.customers {
                csv.serialize(rows.next_row())?;
            }
            csv.flush()
        }
        ExportFormat::Jsonl => {
            let mut out = BufWriter::with_capacity(BUFFER, out);
            for _ in 0..spec.customers {
                serde_json::to_writer(&mut out, &rows.next_row())?;
                out.write_all(b"\n")?;
            }
            out.flush()
        }
    }
}

/// One row, borrowing the generator's buffers; serialized as is to CSV and JSON.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(rename = "Customer ID")]
    id: &'a str,
    #[serde(rename = "First Name")]
    first_name: &'static str,
    #[serde(rename = "Last Name")]
    last_name: &'static str,
    #[serde(rename = "Email")]
    email: &'a str,
    #[serde(rename = "Signup Date")]
    signup: &'a str,
    #[serde(rename = "Last Order Date")]
    last_order: Option<&'a str>,
    #[serde(rename = "Total Orders")]
    orders: u32,
    #[serde(rename = "Total Spent")]
    spent: &'a str,
    #[serde(rename = "Accepts Email Marketing")]
    email_ok: &'static str,
    #[serde(rename = "Accepts SMS Marketing")]
    sms_ok: &'static str,
    #[serde(rename = "Phone")]
    phone: Option<&'a str>,
    #[serde(rename = "Country")]
    country: &'static str,
    #[serde(rename = "Tags")]
    tags: Option<&'a str>,
    #[serde(rename = "Last NPS")]
    nps: Option<u32>,
    #[serde(rename = "Open Support Tickets")]
    tickets: Option<u32>,
    #[serde(rename = "Notes")]
    notes: Option<&'static str>,
}

const FIRST_NAMES: [&str; 69] = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Ethan",
    "Sophia",
    "Mason",
    "Isabella",
    "Lucas",
    "Mia",
    "Oliver",
    "Charlotte",
    "Elijah",
    "Amelia",
    "James",
    "Harper",
    "Benjamin",
    "Evelyn",
    "Henry",
    "Abigail",
    "Jack",
    "Emily",
    "Samuel",
    "Ella",
    "David",
    "Grace",
    "Daniel",
    "Chloe",
    "Matthew",
    "Zoë",
    "José",
    "Chiara",
    "Priya",
    "Arjun",
    "Mei",
    "Hiroshi",
    "Aisha",
    "Omar",
    "Fatima",
    "Lukas",
    "Hannah",
    "Sören",
    "Anna",
    "Niamh",
    "Sean",
    "Freya",
    "Oscar",
    "Ruby",
    "Leo",
    "Isla",
    "Hugo",
    "Maya",
    "Tom",
    "Sarah",
    "Michael",
    "Laura",
    "Chris",
    "Jessica",
    "Kevin",
    "Nicole",
    "Ryan",
    "Megan",
    "Aaron",
    "Rachel",
    "Tyler",
    "Lauren",
    "Jordan",
    "Kim",
];

const LAST_NAMES: [&str; 72] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "O'Brien",
    "O'Connor",
    "Murphy",
    "Kelly",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Nguyen",
    "Tran",
    "Patel",
    "Singh",
    "Kumar",
    "Chen",
    "Wang",
    "Li",
    "Tanaka",
    "Sato",
    "Dubois",
    "Moreau",
    "van Dijk",
    "de Vries",
    "Rossi",
    "Russo",
    "Novak",
    "Kowalski",
    "Silva",
    "Santos",
    "MacDonald",
    "Fraser",
    "Walsh",
    "Byrne",
    "Hughes",
    "Evans",
    "Roberts",
];

const EMAIL_DOMAINS: [&str; 4] = [
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
];

/// Mostly a few markets.
const COUNTRIES: [(&str, u32); 9] = [
    ("US", 44),
    ("CA", 14),
    ("GB", 15),
    ("AU", 9),
    ("DE", 7),
    ("IE", 4),
    ("NZ", 3),
    ("NL", 2),
    ("FR", 2),
];

const NOTES: [&str; 12] = [
    "Prefers pickup, store #12",
    "Gift order, do not include invoice",
    "Asked about bulk pricing, follow up in Q1",
    "Moved house, updated shipping address",
    "Allergic to latex, check packaging",
    "Wholesale inquiry, sent price list",
    "Referred by a friend, thanked",
    "Damaged parcel in 2024, refunded",
    "Call before 10am, works nights",
    "Birthday in March, likes surprises",
    "Said \"best service ever\", happy to review",
    "Duplicate account merged, see old ID",
];

/// Signups per year, oldest first, the last being `as_of`'s year: growth over 8 years.
const YEAR_WEIGHTS: [u32; 8] = [6, 9, 10, 12, 14, 16, 18, 15];

/// Share of customers who signed up in the 30 days before `as_of`.
const RECENT_SHARE: f64 = 0.08;

/// Orders of accounts older than 30 days, weights times 10: many 0-2, a long tail, a few 20+.
const ORDER_COUNTS: [(u32, u32); 16] = [
    (0, 150),
    (1, 260),
    (2, 150),
    (3, 100),
    (4, 80),
    (5, 60),
    (6, 50),
    (7, 40),
    (8, 35),
    (10, 30),
    (12, 25),
    (15, 20),
    (18, 15),
    (22, 12),
    (30, 8),
    (41, 5),
];

/// Orders of accounts at most 30 days old.
const NEW_ORDER_COUNTS: [(u32, u32); 3] = [(0, 45), (1, 45), (2, 10)];

/// Days since the last order: active (1-90), cooling off (91-365) or lapsed (366-1500).
#[derive(Clone, Copy)]
enum Recency {
    Active,
    Cooling,
    Lapsed,
}

const RECENCY_REGULAR: [(Recency, u32); 3] = [
    (Recency::Active, 65),
    (Recency::Cooling, 25),
    (Recency::Lapsed, 10),
];
const RECENCY_REPEAT: [(Recency, u32); 3] = [
    (Recency::Active, 42),
    (Recency::Cooling, 33),
    (Recency::Lapsed, 25),
];
const RECENCY_ONCE: [(Recency, u32); 3] = [
    (Recency::Active, 28),
    (Recency::Cooling, 30),
    (Recency::Lapsed, 42),
];

/// Survey answers 0 to 10 (the index) of customers who ordered within a year, and of lapsed
/// ones, who answer lower.
const NPS_RECENT: [(u32, u32); 11] = [
    (0, 1),
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 2),
    (5, 3),
    (6, 4),
    (7, 8),
    (8, 14),
    (9, 22),
    (10, 25),
];
const NPS_LAPSED: [(u32, u32); 11] = [
    (0, 3),
    (1, 2),
    (2, 3),
    (3, 4),
    (4, 4),
    (5, 6),
    (6, 8),
    (7, 10),
    (8, 10),
    (9, 6),
    (10, 5),
];

const TICKETS_BUYER: [(u32, u32); 4] = [(0, 88), (1, 8), (2, 3), (3, 1)];
const TICKETS_BROWSER: [(u32, u32); 2] = [(0, 96), (1, 4)];

/// Gaps between consecutive ids: accounts deleted since.
const ID_STEPS: [(u64, u32); 3] = [(1, 85), (2, 10), (3, 5)];
const FIRST_ID: u64 = 101;

const NORTH_AMERICAN_AREAS: [&str; 6] = ["212", "415", "604", "416", "617", "312"];

/// The streaming generator: the random state, the signup distribution, and one row's text
/// buffers, reused from row to row.
struct Rows {
    rng: Pcg64Mcg,
    signups: Signups,
    /// Day number of `as_of`.
    as_of: i64,
    customers: u64,
    row: u64,
    next_id: u64,
    id: String,
    email: String,
    signup: String,
    last_order: String,
    spent: String,
    phone: String,
    tags: String,
}

impl Rows {
    fn new(spec: &ExportSpec) -> Self {
        let as_of = day_number(spec.as_of);
        Self {
            rng: Pcg64Mcg::seed_from_u64(spec.seed),
            signups: Signups::new(as_of),
            as_of,
            customers: spec.customers,
            row: 0,
            next_id: FIRST_ID,
            id: String::new(),
            email: String::new(),
            signup: String::new(),
            last_order: String::new(),
            spent: String::new(),
            phone: String::new(),
            tags: String::new(),
        }
    }

    /// The next customer, in signup order.
    fn next_row(&mut self) -> Row<'_> {
        let rng = &mut self.rng;

        // This row's slice of the signup distribution, a random point inside it.
        let position = (self.row as f64 + rng.random::<f64>()) / self.customers as f64;
        self.row += 1;
        let signup = self.signups.at(position);
        let tenure = self.as_of - signup;
        let orders = order_count(rng, tenure);
        let first_name = FIRST_NAMES[index(rng, FIRST_NAMES.len())];
        let last_name = LAST_NAMES[index(rng, LAST_NAMES.len())];
        let country = pick(rng, &COUNTRIES);

        let (recency, spent_cents) = if orders > 0 {
            let recency = recency_days(rng, orders, tenure);
            // Average order value: log-normal around $65, a few premium shoppers.
            let mut aov = exp(4.2 + 0.6 * standard_normal(rng));
            if rng.random::<f64>() < 0.08 {
                aov *= 3.0;
            }
            let spent: f64 = (0..orders)
                .map(|_| aov * (0.6 + 0.8 * rng.random::<f64>()))
                .sum();
            // `as` saturates; the sum is at most a few hundred thousand dollars.
            (Some(recency), (spent * 100.0).round() as u64)
        } else {
            (None, 0)
        };

        let email_ok = rng.random::<f64>() < if orders > 0 { 0.72 } else { 0.6 };
        // Regular buyers are likelier to have left a phone number at checkout.
        let has_phone = rng.random::<f64>() < (0.36 + 0.04 * f64::from(orders)).min(0.8);
        if has_phone {
            phone_number(rng, country, &mut self.phone);
        }
        let sms_ok = has_phone && rng.random::<f64>() < 0.6;

        let mut tags = [""; 6];
        let mut tag_count = 0;
        let mut tag = |name| {
            tags[tag_count] = name;
            tag_count += 1;
        };
        if spent_cents >= 100_000 && rng.random::<f64>() < 0.5
            || spent_cents >= 30_000 && rng.random::<f64>() < 0.05
        {
            tag("vip");
        }
        if email_ok && rng.random::<f64>() < 0.45 {
            tag("newsletter");
        }
        if orders > 0 && rng.random::<f64>() < 0.04 {
            tag("wholesale");
        }
        if rng.random::<f64>() < 0.05 {
            tag("birthday-club");
        }
        if orders > 0 && rng.random::<f64>() < 0.04 {
            tag("returned-item");
        }
        if rng.random::<f64>() < 0.02 {
            tag("influencer");
        }
        let tags = &mut tags[..tag_count];
        shuffle(rng, tags);

        // Survey answers: mostly from buyers; lapsed customers answer lower.
        let nps = match recency {
            Some(days) if rng.random::<f64>() < 0.42 => Some(if days > 365 {
                pick(rng, &NPS_LAPSED)
            } else {
                pick(rng, &NPS_RECENT)
            }),
            _ => None,
        };

        // Helpdesk counts; blank where the helpdesk has no record of the customer.
        let tickets = if rng.random::<f64>() < 0.07 {
            None
        } else if orders > 0 {
            Some(pick(rng, &TICKETS_BUYER))
        } else {
            Some(pick(rng, &TICKETS_BROWSER))
        };

        let notes = (rng.random::<f64>() < 0.12).then(|| NOTES[index(rng, NOTES.len())]);

        // At most 3 per row from 101: u64 ids outlast any file that can be written.
        let id = self.next_id;
        self.next_id += pick(rng, &ID_STEPS);
        let domain = EMAIL_DOMAINS[index(rng, EMAIL_DOMAINS.len())];

        // Fill the text buffers; `fmt::Write` into a `String` cannot fail.
        use std::fmt::Write as _;
        self.id.clear();
        let _ = write!(self.id, "C{id:06}");
        self.email.clear();
        push_email_name(&mut self.email, first_name);
        self.email.push('.');
        push_email_name(&mut self.email, last_name);
        let _ = write!(self.email, "{id}@{domain}");
        self.signup.clear();
        let (year, month, day) = civil_from_days(signup);
        let _ = write!(self.signup, "{year:04}-{month:02}-{day:02}");
        self.last_order.clear();
        if let Some(days) = recency {
            let (year, month, day) = civil_from_days(self.as_of - days);
            let _ = write!(self.last_order, "{day:02}/{month:02}/{year:04}");
        }
        self.spent.clear();
        push_money(&mut self.spent, spent_cents);
        self.tags.clear();
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                self.tags.push(';');
            }
            self.tags.push_str(tag);
        }

        Row {
            id: &self.id,
            first_name,
            last_name,
            email: &self.email,
            signup: &self.signup,
            last_order: recency.map(|_| self.last_order.as_str()),
            orders,
            spent: &self.spent,
            email_ok: yes_no(email_ok),
            sms_ok: yes_no(sms_ok),
            phone: has_phone.then_some(self.phone.as_str()),
            country,
            tags: (!self.tags.is_empty()).then_some(self.tags.as_str()),
            nps,
            tickets,
            notes,
        }
    }
}

/// The signup distribution: [`YEAR_WEIGHTS`] over the years, uniform within each year up to
/// 31 days before `as_of`, then [`RECENT_SHARE`] uniform over the 30 days before `as_of`.
struct Signups {
    /// First day, number of days and weight of each signup year, oldest first; never empty.
    years: Vec<(i64, i64, f64)>,
    /// Sum of the weights.
    total: f64,
    as_of: i64,
}

impl Signups {
    fn new(as_of: i64) -> Self {
        let (as_of_year, _, _) = civil_from_days(as_of);
        let last_day = as_of - 31;
        let mut years = Vec::new();
        let mut total = 0.0;
        for (year, weight) in (as_of_year - 7..).zip(YEAR_WEIGHTS) {
            let first = days_from_civil(year, 1, 1);
            let days = days_from_civil(year + 1, 1, 1).min(last_day + 1) - first;
            // Only as_of's year can be empty (as_of in January); the first is always whole.
            if days > 0 {
                years.push((first, days, f64::from(weight)));
                total += f64::from(weight);
            }
        }
        Self {
            years,
            total,
            as_of,
        }
    }

    /// The signup day at `quantile` (0 to 1) of the distribution; non-decreasing in it.
    fn at(&self, quantile: f64) -> i64 {
        let old_share = 1.0 - RECENT_SHARE;
        if quantile >= old_share {
            // `as` truncates towards zero (and saturates): the floor of a non-negative value.
            let day = ((quantile - old_share) / RECENT_SHARE * 30.0) as i64;
            return self.as_of - 30 + day.min(29);
        }
        let mut rest = quantile / old_share * self.total;
        let mut day = self.as_of - 31;
        for &(first, days, weight) in &self.years {
            // Past the last year (rounding), this is that year's last day.
            day = first + ((rest / weight * days as f64) as i64).min(days - 1);
            if rest < weight {
                break;
            }
            rest -= weight;
        }
        day
    }
}

/// Skewed order counts; young accounts cannot have many orders yet.
fn order_count(rng: &mut Pcg64Mcg, tenure: i64) -> u32 {
    if tenure <= 30 {
        return pick(rng, &NEW_ORDER_COUNTS);
    }
    let mut orders = pick(rng, &ORDER_COUNTS);
    if orders >= 8 {
        orders += rng.random_range(0..=3);
    }
    let cap = u32::try_from(tenure / 20).unwrap_or(u32::MAX).max(1);
    orders.min(cap)
}

/// Days from the last order to `as_of`, at least 1 and at most `tenure` (the order falls
/// between signup and `as_of`).
fn recency_days(rng: &mut Pcg64Mcg, orders: u32, tenure: i64) -> i64 {
    let states = match orders {
        8.. => &RECENCY_REGULAR,
        2.. => &RECENCY_REPEAT,
        _ => &RECENCY_ONCE,
    };
    let (low, high) = match pick(rng, states) {
        Recency::Active => (1, 90),
        Recency::Cooling => (91, 365),
        Recency::Lapsed => (366, 1500),
    };
    if low > tenure {
        rng.random_range(1..=tenure.max(1))
    } else {
        rng.random_range(low..=high.min(tenure))
    }
}

/// A fictional number in the country's format (555 and other reserved ranges).
fn phone_number(rng: &mut Pcg64Mcg, country: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let n: u32 = rng.random_range(0..=99);
    // `fmt::Write` into a `String` cannot fail.
    let _ = match country {
        "US" | "CA" => {
            let area = NORTH_AMERICAN_AREAS[index(rng, NORTH_AMERICAN_AREAS.len())];
            write!(out, "+1 {area}-555-01{n:02}")
        }
        "GB" => write!(out, "+44 7700 900{:03}", rng.random_range(0..=999u32)),
        "AU" => write!(out, "+61 491 570 {}", rng.random_range(100..=199u32)),
        "IE" => write!(out, "+353 85 012 {}", rng.random_range(1000..=9999u32)),
        "NZ" => write!(out, "+64 21 555 {}", rng.random_range(1000..=9999u32)),
        "DE" => write!(out, "+49 30 5550{}", rng.random_range(1000..=9999u32)),
        "NL" => write!(out, "+31 6 5550{}", rng.random_range(1000..=9999u32)),
        _ => write!(out, "+33 6 55 50 {n:02} {}", rng.random_range(10..=99u32)),
    };
}

/// A name as it appears in an email address: lower case ASCII, no apostrophes or spaces.
fn push_email_name(out: &mut String, name: &str) {
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | ' ' => {}
            'ë' | 'é' => out.push('e'),
            'ö' => out.push('o'),
            'ü' => out.push('u'),
            'ä' => out.push('a'),
            'ß' => out.push('s'),
            c => out.push(c),
        }
    }
}

/// `$1,234.50`.
fn push_money(out: &mut String, cents: u64) {
    let dollars = (cents / 100).to_string();
    out.push('$');
    for (i, digit) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out.push('.');
    out.push(char::from(b'0' + (cents / 10 % 10) as u8));
    out.push(char::from(b'0' + (cents % 10) as u8));
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

/// A uniform index below `len` (a small constant table's length), drawn as a `u32` so that
/// the draw is the same on 32- and 64-bit machines.
fn index(rng: &mut Pcg64Mcg, len: usize) -> usize {
    rng.random_range(0..len as u32) as usize
}

/// A value of `table` with probability proportional to its weight. Every table is a constant
/// of this module, non-empty with positive weights.
fn pick<T: Copy>(rng: &mut Pcg64Mcg, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|&(_, weight)| weight).sum();
    let mut x = rng.random_range(0..total);
    for &(value, weight) in table {
        if x < weight {
            return value;
        }
        x -= weight;
    }
    unreachable!("x < total, the sum of the weights")
}

/// Fisher-Yates with `u32` draws (see [`index`]).
fn shuffle<T>(rng: &mut Pcg64Mcg, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, index(rng, i + 1));
    }
}

/// Approximately standard normal: the sum of 12 uniforms, minus 6 (Irwin-Hall; within ±6).
fn standard_normal(rng: &mut Pcg64Mcg) -> f64 {
    (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
}

/// `e^x` for moderate `x` from basic arithmetic only, the same on every machine (std's `exp`
/// is the platform's libm, whose last bit may differ). Relative error about 1e-15.
fn exp(x: f64) -> f64 {
    let k = (x / std::f64::consts::LN_2).round();
    let r = x - k * std::f64::consts::LN_2;
    // Taylor series for |r| <= ln(2)/2: 18 terms take it far below f64's precision.
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..18 {
        term *= r / f64::from(n);
        sum += term;
    }
    // Multiplying by a power of two is exact.
    sum * 2f64.powi(k as i32)
}

/// Days since 1970-01-01 (proleptic Gregorian).
fn day_number(date: NaiveDate) -> i64 {
    days_from_civil(i64::from(date.year()), date.month(), date.day())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day number, the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    // Both in range by construction: day 1-31, month 1-12.
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    fn spec(customers: u64, seed: u64, format: ExportFormat) -> ExportSpec {
        ExportSpec {
            customers,
            seed,
            format,
            ..ExportSpec::default()
        }
    }

    fn export(spec: &ExportSpec) -> Vec<u8> {
        let mut out = Vec::new();
        write_export(spec, &mut out).expect("writing to a Vec succeeds");
        out
    }

    /// The data rows, read back strictly (every record must have the header's length).
    fn csv_rows(bytes: &[u8]) -> Vec<csv::StringRecord> {
        let mut reader = csv::Reader::from_reader(bytes);
        let header = reader.headers().expect("a header").clone();
        assert_eq!(header.iter().collect::<Vec<_>>(), COLUMNS);
        let rows: Vec<_> = reader
            .records()
            .map(|r| r.expect("a well-formed row"))
            .collect();
        for row in &rows {
            assert_eq!(row.len(), 16, "{row:?}");
        }
        rows
    }

    fn column(name: &str) -> usize {
        COLUMNS.iter().position(|c| *c == name).expect("a column")
    }

    /// A parsed row: the cells the checks below need.
    struct Customer {
        id: u64,
        email: String,
        signup: NaiveDate,
        last_order: Option<NaiveDate>,
        orders: u32,
        spent: f64,
        email_ok: bool,
        phone: bool,
        tags: Vec<String>,
        nps: Option<u32>,
        tickets: Option<u32>,
        notes: String,
    }

    fn customer(row: &csv::StringRecord) -> Customer {
        let cell = |name| &row[column(name)];
        let id = cell("Customer ID");
        assert!(
            id.len() >= 7 && id.starts_with('C') && id[1..].bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        let optional = |name| Some(cell(name)).filter(|c| !c.is_empty());
        let yes_no = |name| match cell(name) {
            "yes" => true,
            "no" => false,
            other => panic!("{name}: {other}"),
        };
        let spent = cell("Total Spent");
        assert!(spent.starts_with('$') && spent.len() >= 5, "{spent}");
        Customer {
            id: id[1..].parse().expect("digits"),
            email: cell("Email").to_string(),
            signup: NaiveDate::parse_from_str(cell("Signup Date"), "%Y-%m-%d").expect("ISO"),
            last_order: optional("Last Order Date")
                .map(|d| NaiveDate::parse_from_str(d, "%d/%m/%Y").expect("DD/MM/YYYY")),
            orders: cell("Total Orders").parse().expect("a count"),
            spent: spent[1..].replace(',', "").parse().expect("money"),
            email_ok: yes_no("Accepts Email Marketing"),
            phone: optional("Phone").is_some(),
            tags: optional("Tags")
                .map(|t| t.split(';').map(str::to_string).collect())
                .unwrap_or_default(),
            nps: optional("Last NPS").map(|n| n.parse().expect("a score")),
            tickets: optional("Open Support Tickets").map(|n| n.parse().expect("a count")),
            notes: cell("Notes").to_string(),
        }
    }

    fn customers(spec: &ExportSpec) -> Vec<Customer> {
        csv_rows(&export(spec)).iter().map(customer).collect()
    }

    #[test]
    fn same_spec_same_bytes_other_seed_differs() {
        for format in [ExportFormat::Csv, ExportFormat::Jsonl] {
            let first = export(&spec(3000, 7, format));
            assert_eq!(first, export(&spec(3000, 7, format)));
            assert_ne!(first, export(&spec(3000, 8, format)));
        }
    }

    #[test]
    fn the_example_export_is_the_default_spec() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/customers.csv");
        let committed = std::fs::read(path).expect("examples/customers.csv");
        assert!(
            committed == export(&ExportSpec::default()),
            "examples/customers.csv differs from the generator's default spec: regenerate it \
             with `cargo run --release --example generate_customers -- --out examples/customers.csv`"
        );
    }

    #[test]
    fn header_and_row_counts() {
        let header = format!("{}\n", COLUMNS.join(","));
        assert_eq!(export(&spec(0, 1, ExportFormat::Csv)), header.as_bytes());
        assert!(export(&spec(0, 1, ExportFormat::Jsonl)).is_empty());
        for customers in [1, 2, 3, 17, 1000] {
            let csv = export(&spec(customers, 5, ExportFormat::Csv));
            assert!(csv.starts_with(header.as_bytes()));
            assert!(csv.ends_with(b"\n") && !csv.contains(&b'\r'));
            assert_eq!(csv_rows(&csv).len() as u64, customers);
            let jsonl = export(&spec(customers, 5, ExportFormat::Jsonl));
            assert_eq!(
                jsonl.iter().filter(|&&b| b == b'\n').count() as u64,
                customers
            );
            assert!(jsonl.ends_with(b"\n"));
        }
    }

    #[test]
    fn notes_with_commas_and_quotes_read_back() {
        let bytes = export(&spec(2000, 3, ExportFormat::Csv));
        let notes: HashSet<String> = csv_rows(&bytes)
            .iter()
            .map(|row| row[column("Notes")].to_string())
            .filter(|note| !note.is_empty())
            .collect();
        assert_eq!(notes, NOTES.iter().map(|n| n.to_string()).collect());
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert!(text.contains(",\"Said \"\"best service ever\"\", happy to review\"\n"));
        // Quotes only where needed: a plain cell is never quoted.
        assert!(!text.contains("\"yes\"") && !text.contains("\"US\""));
    }

    #[test]
    fn ids_increase_and_emails_are_unique() {
        let rows = customers(&spec(20_000, 11, ExportFormat::Csv));
        assert_eq!(rows[0].id, FIRST_ID);
        let mut gaps = 0;
        for pair in rows.windows(2) {
            let step = pair[1].id - pair[0].id;
            assert!((1..=3).contains(&step), "{} -> {}", pair[0].id, pair[1].id);
            gaps += usize::from(step > 1);
        }
        // 15% of the steps skip deleted accounts.
        assert!((2500..3500).contains(&gaps), "{gaps} gaps");
        let mut emails = HashSet::new();
        for row in &rows {
            let (local, domain) = row.email.split_once('@').expect("an @");
            assert!(EMAIL_DOMAINS.contains(&domain), "{}", row.email);
            assert!(local.ends_with(&row.id.to_string()), "{}", row.email);
            assert!(
                local
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'),
                "{}",
                row.email
            );
            assert!(emails.insert(row.email.clone()), "duplicate {}", row.email);
        }
        // Ids of 7 and more digits stay well-formed and unique.
        let mut rows = Rows::new(&spec(1, 1, ExportFormat::Csv));
        rows.next_id = 999_999;
        assert_eq!(rows.next_row().id, "C999999");
        assert!(rows.next_row().id.starts_with("C100000"));
    }

    #[test]
    fn dates_are_ordered_and_before_as_of() {
        let specs = [
            spec(20_000, 13, ExportFormat::Csv),
            // as_of in January: its own year has no signups older than 30 days.
            ExportSpec {
                as_of: date(2030, 1, 10),
                ..spec(5000, 13, ExportFormat::Csv)
            },
            ExportSpec {
                as_of: date(2024, 2, 29),
                ..spec(5000, 14, ExportFormat::Csv)
            },
        ];
        let tiny = (0..200).flat_map(|seed| {
            [
                spec(1, seed, ExportFormat::Csv),
                spec(2, seed, ExportFormat::Csv),
            ]
        });
        for spec in specs.into_iter().chain(tiny) {
            let rows = customers(&spec);
            let earliest = date(spec.as_of.year() - 7, 1, 1);
            for pair in rows.windows(2) {
                assert!(pair[0].signup <= pair[1].signup);
            }
            for row in &rows {
                assert!(
                    earliest <= row.signup && row.signup < spec.as_of,
                    "{}",
                    row.signup
                );
                assert_eq!(row.last_order.is_none(), row.orders == 0);
                assert_eq!(row.spent == 0.0, row.orders == 0);
                if let Some(last_order) = row.last_order {
                    assert!(row.signup <= last_order && last_order < spec.as_of);
                }
            }
        }
    }

    /// Shares over 20,000 customers, within bands around what the distributions give (the
    /// Python script this generator replaces gave the same shares on 200,000 rows). The
    /// segments are those of rules/retail/retail.idic.
    #[test]
    fn shares_are_realistic() {
        let as_of = ExportSpec::default().as_of;
        let rows = customers(&spec(20_000, 17, ExportFormat::Csv));
        let share = |f: &dyn Fn(&Customer) -> bool| {
            100.0 * rows.iter().filter(|c| f(c)).count() as f64 / rows.len() as f64
        };
        let recency = |c: &Customer| c.last_order.map(|d| (as_of - d).num_days());
        let loyal = |c: &Customer| c.orders >= 4 && recency(c).is_some_and(|r| r <= 90);
        type Check<'a> = (&'a str, f64, f64, &'a dyn Fn(&Customer) -> bool);
        let checks: [Check; 20] = [
            ("without orders", 15.0, 19.0, &|c| c.orders == 0),
            ("20+ orders", 1.5, 3.0, &|c| c.orders >= 20),
            ("empty NPS", 62.0, 68.0, &|c| c.nps.is_none()),
            ("NPS 9-10", 12.0, 18.0, &|c| c.nps.is_some_and(|n| n >= 9)),
            ("email consent", 68.0, 72.0, &|c| c.email_ok),
            ("phone", 46.0, 52.0, &|c| c.phone),
            ("tagged", 41.0, 46.0, &|c| !c.tags.is_empty()),
            ("vip tag", 4.0, 6.5, &|c| c.tags.iter().any(|t| t == "vip")),
            ("newsletter tag", 29.5, 33.5, &|c| {
                c.tags.iter().any(|t| t == "newsletter")
            }),
            ("empty tickets", 6.0, 8.0, &|c| c.tickets.is_none()),
            ("notes", 11.0, 13.0, &|c| !c.notes.is_empty()),
            ("new_customers", 7.5, 8.5, &|c| {
                (as_of - c.signup).num_days() <= 30
            }),
            ("one_time_buyers", 25.0, 29.0, &|c| c.orders == 1),
            ("loyal", 15.0, 19.5, &loyal),
            ("big_spenders", 3.3, 5.3, &|c| c.spent >= 1500.0),
            ("at_risk", 15.5, 20.0, &|c| {
                c.orders >= 2 && recency(c).is_some_and(|r| r > 90 && r <= 365)
            }),
            ("lapsed", 15.5, 20.0, &|c| {
                recency(c).is_some_and(|r| r > 365)
            }),
            ("unhappy", 15.0, 19.0, &|c| {
                c.nps.unwrap_or(10) <= 6 || c.tickets.unwrap_or(0) > 0
            }),
            ("champions", 3.0, 5.5, &|c| {
                loyal(c) && (c.spent >= 1500.0 || c.tags.iter().any(|t| t == "vip"))
            }),
            ("signed up in as_of's year", 20.0, 23.5, &|c| {
                c.signup.year() == as_of.year()
            }),
        ];
        for (what, low, high, f) in checks {
            let got = share(f);
            assert!(
                low <= got && got <= high,
                "{what}: {got:.2}%, expected {low}-{high}%"
            );
        }
    }

    #[test]
    fn jsonl_carries_the_csv_values() {
        let csv = csv_rows(&export(&spec(2000, 19, ExportFormat::Csv)));
        let jsonl = String::from_utf8(export(&spec(2000, 19, ExportFormat::Jsonl))).expect("UTF-8");
        let lines: Vec<&str> = jsonl.lines().collect();
        assert_eq!(lines.len(), csv.len());
        let numbers = ["Total Orders", "Last NPS", "Open Support Tickets"];
        for (line, row) in lines.iter().zip(&csv) {
            // The keys come in the column order.
            let positions: Vec<usize> = COLUMNS
                .iter()
                .map(|c| {
                    line.find(&format!("\"{c}\":"))
                        .expect("every column is a key")
                })
                .collect();
            assert!(positions.windows(2).all(|p| p[0] < p[1]), "{line}");
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).expect("a JSON object");
            assert_eq!(object.len(), 16);
            for (name, cell) in COLUMNS.iter().zip(row) {
                let value = &object[*name];
                if cell.is_empty() {
                    assert!(value.is_null(), "{name}: {value}");
                } else if numbers.contains(name) {
                    assert!(
                        value.as_u64().is_some_and(|n| n.to_string() == cell),
                        "{name}: {value}"
                    );
                } else {
                    assert_eq!(value.as_str(), Some(cell), "{name}");
                }
            }
        }
    }

    #[test]
    fn as_of_outside_the_four_digit_years_is_refused() {
        for as_of in [date(999, 12, 31), date(10_000, 1, 1)] {
            let mut out = Vec::new();
            let error = write_export(
                &ExportSpec {
                    as_of,
                    ..ExportSpec::default()
                },
                &mut out,
            )
            .expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            assert!(out.is_empty());
        }
        for as_of in [date(1000, 1, 1), date(9999, 12, 31)] {
            let rows = customers(&ExportSpec {
                as_of,
                ..spec(300, 1, ExportFormat::Csv)
            });
            assert_eq!(rows.len(), 300);
        }
    }

    #[test]
    fn export_format_from_str() {
        assert_eq!("csv".parse(), Ok(ExportFormat::Csv));
        assert_eq!("jsonl".parse(), Ok(ExportFormat::Jsonl));
        assert!("json".parse::<ExportFormat>().is_err());
    }

    #[test]
    fn day_numbers_match_chrono() {
        let mut day = date(990, 1, 1);
        let mut number = day_number(day);
        while day <= date(10_010, 12, 31) {
            assert_eq!(day_number(day), number);
            let (y, m, d) = civil_from_days(number);
            assert_eq!((y, m, d), (i64::from(day.year()), day.month(), day.day()));
            day = day.succ_opt().expect("in chrono's range");
            number += 1;
        }
    }

    #[test]
    fn signup_quantiles_are_monotone_and_bounded() {
        let as_of = day_number(date(2026, 11, 1));
        let signups = Signups::new(as_of);
        assert_eq!(signups.at(0.0), day_number(date(2019, 1, 1)));
        assert_eq!(signups.at(0.919_999_999), as_of - 31);
        assert_eq!(signups.at(0.92), as_of - 30);
        assert_eq!(signups.at(1.0), as_of - 1);
        let mut previous = signups.at(0.0);
        for i in 0..=1_000_000 {
            let day = signups.at(f64::from(i) / 1e6);
            assert!(previous <= day && day < as_of);
            previous = day;
        }
    }

    #[test]
    fn exp_matches_std() {
        for i in -300..=1200 {
            let x = f64::from(i) / 100.0;
            let relative = (exp(x) - x.exp()).abs() / x.exp();
            assert!(relative < 1e-14, "exp({x}): {} vs {}", exp(x), x.exp());
        }
    }

    #[test]
    fn money_format() {
        for (cents, text) in [
            (0, "$0.00"),
            (5, "$0.05"),
            (99_990, "$999.90"),
            (123_456, "$1,234.56"),
            (100_000_000, "$1,000,000.00"),
        ] {
            let mut out = String::new();
            push_money(&mut out, cents);
            assert_eq!(out, text);
        }
    }
}
