//! `idic init --from export.csv`: a first rule set guessed from an export's header and rows.
//!
//! Each column becomes a field whose type is guessed from the sample's cells: a whole number,
//! a decimal (percentages included), money (a currency and thousands separators), yes/no
//! words, dates in the formats that read them (day-first and month-first never mixed), or
//! text. Cells that say "no value" (`N/A`, `-`, `null`...) become the rule set's `missing`
//! words, and a column with empty cells is optional. A column is typed even when a few cells
//! (one in fifty, or one) do not fit: those rows are what `run` will reject, and the field says
//! so in a comment. The key is the column named like an id. On top come a recency metric,
//! value tiers from the sample's spread, a lapsed segment and a win-back trigger on a consent
//! column, and one test that decides the export's first row.

use crate::model::FieldType;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::fmt::Write as _;

/// Cells that mean no value in exports.
const MISSING: [&str; 9] = [
    "N/A", "n/a", "NA", "#N/A", "-", "null", "NULL", "None", "none",
];

/// Pairs of yes/no words, lowercase.
const BOOL_WORDS: [(&str, &str); 6] = [
    ("yes", "no"),
    ("true", "false"),
    ("y", "n"),
    ("opted in", "opted out"),
    ("subscribed", "unsubscribed"),
    ("on", "off"),
];

/// Date formats tried, in order; `%m/%d` and `%d/%m` are never mixed in one column.
const DATE_FORMATS: [&str; 6] = [
    "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y",
];

/// Date-time formats tried, in order (a date-time column may hold dates too).
const DATETIME_FORMATS: [&str; 8] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S %z",
    "%d.%m.%Y %H:%M %z",
    "%m/%d/%Y %H:%M",
];

/// The most rows read to guess from.
pub const SAMPLE_ROWS: usize = 1000;

/// The rows copied beside the rules for the tests to read.
const TEST_ROWS: usize = 20;

/// A rule set guessed from an export.
#[derive(Debug)]
pub struct Scaffold {
    /// The rules (`<name>.idic`).
    pub rules: String,
    /// One test (`tests.idic`), reading `testdata/<file>`.
    pub tests: String,
    /// The header and first rows of the export, for the test to read.
    pub test_rows: String,
    /// What a user should look at: ambiguous formats, cells that will be rejected.
    pub notes: Vec<String>,
}

/// Why no rule set could be guessed.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("cannot read the export: {0}")]
    Csv(#[from] csv::Error),
    #[error("the export has a header but no row to guess types from")]
    NoRows,
    #[error("no column holds a date to decide at: give one with `--as-of YYYY-MM-DD`")]
    NoDate,
    #[error("{0}")]
    Header(String),
    #[error("the guessed rules do not parse ({0}): this is a bug in `idic init`")]
    Unparsable(String),
}

/// A column's guessed field.
#[derive(Debug)]
struct Column {
    header: String,
    name: String,
    ty: FieldType,
    optional: bool,
    /// The field's options as the DSL writes them (`format "%m/%d/%Y"`, `words yes/no`...).
    options: String,
    /// Cells of the sample this type cannot read.
    misfits: Vec<String>,
    /// Numbers read, for tiers; dates read, for `as_of`.
    numbers: Vec<f64>,
    latest: Option<NaiveDate>,
}

/// Guesses a rule set named `name` from the CSV export `text`, decided as of `as_of` (else the
/// latest date of the sample). `file` is the export's file name, which the test reads under
/// `testdata/`.
pub fn scaffold(
    text: &str,
    name: &str,
    file: &str,
    as_of: Option<NaiveDate>,
) -> Result<Scaffold, ScaffoldError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if let Some(hint) = crate::io::records::header_hint(&headers) {
        return Err(ScaffoldError::Header(hint.to_string()));
    }
    // A run reads each column by its name: two of one name cannot both be read.
    if let Some((i, twice)) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| headers[..*i].contains(h))
    {
        return Err(ScaffoldError::Header(format!(
            "column {} repeats the header `{twice}`: idic reads a column by its name, so \
             rename one of them in the export",
            i + 1
        )));
    }
    let mut rows: Vec<csv::StringRecord> = Vec::new();
    for record in reader.records().take(SAMPLE_ROWS) {
        rows.push(record?);
    }
    if rows.is_empty() {
        return Err(ScaffoldError::NoRows);
    }
    let mut missing_seen: Vec<&str> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut columns = Vec::new();
    let mut notes = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let cells: Vec<&str> = rows.iter().map(|r| r.get(i).unwrap_or("").trim()).collect();
        for cell in &cells {
            if let Some(word) = MISSING.iter().find(|w| *w == cell) {
                if !missing_seen.contains(word) {
                    missing_seen.push(word);
                }
            }
        }
        let name = field_name(header, i, &names);
        names.push(name.clone());
        columns.push(guess(header, name, &cells, &mut notes));
    }
    let key = key_column(&columns, &rows);
    let latest = columns
        .iter()
        .filter(|c| !ahead(c))
        .filter_map(|c| c.latest)
        .max();
    let Some(as_of) = as_of.or(latest) else {
        return Err(ScaffoldError::NoDate);
    };
    let tiers = tier_column(&columns, key);
    let rules = write_rules(name, &columns, key, tiers, &missing_seen, as_of, &mut notes);
    let rules = canonical(rules)?;
    // The test reads the first row every column reads, with an id.
    let (row, first) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| {
            columns.iter().enumerate().all(|(k, c)| {
                let cell = r.get(k).unwrap_or("").trim();
                !c.misfits.iter().any(|m| m == cell) && (k != key || !cell.is_empty())
            })
        })
        .unwrap_or((0, &rows[0]));
    let tier = tier_of(first, tiers);
    let tests = canonical(format!(
        "// A customer of the export, as `run` decides them: keep this test true as the rules\n\
         // grow, and add one per decision that matters.\n\
         test \"customer {n} of the export is {tier}\" {{\n  \
         from {path} row {n}\n  \
         expect {{\n    tier {tier}\n  }}\n}}\n",
        n = row + 1,
        path = crate::text::quote(&format!("testdata/{file}")),
    ))?;
    let mut test_rows = csv::Writer::from_writer(Vec::new());
    test_rows.write_record(&headers)?;
    for row in rows.iter().take(TEST_ROWS) {
        test_rows.write_record(row)?;
    }
    // Writing to memory cannot fail, and the rows were UTF-8 text.
    let test_rows = test_rows
        .into_inner()
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    Ok(Scaffold {
        rules,
        tests,
        test_rows,
        notes,
    })
}

/// Whether a date column may lie ahead (a renewal, an expiry, a birthday): not a date of the
/// past that `as_of` or a recency could come from.
fn ahead(c: &Column) -> bool {
    ["next", "renew", "due", "expir", "end", "until", "birth"]
        .iter()
        .any(|w| c.name.contains(w))
}

/// `text` as `idic fmt` lays it out; an error when it does not parse.
fn canonical(text: String) -> Result<String, ScaffoldError> {
    use crate::syntax::{parse, printer, RuleFormat};
    let (rules, diagnostics) = parse(Default::default(), &text, RuleFormat::Dsl);
    match diagnostics.first() {
        None => Ok(printer::print(&rules)),
        Some(d) => Err(ScaffoldError::Unparsable(d.message.clone())),
    }
}

/// A field name from a header: lowercase ASCII words joined by `_`, unique, not a reserved
/// word.
fn field_name(header: &str, index: usize, taken: &[String]) -> String {
    let mut name = String::new();
    for c in header.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('_') && !name.is_empty() {
            name.push('_');
        }
    }
    let mut name = name.trim_end_matches('_').to_string();
    if name.is_empty() {
        name = format!("column_{}", index + 1);
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("c_{name}");
    }
    // The words of a field line, which a field name would be read as.
    let field_word = ["key", "default", "missing", "from"].contains(&name.as_str())
        || crate::model::FormatOption::ALL
            .iter()
            .any(|o| o.word() == name);
    if crate::check::is_reserved(&name) || field_word {
        name.push_str("_field");
    }
    let base = name.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// The field that reads `cells` (of the column `header`) best, allowing a few misfits; an
/// ambiguous date format goes into `notes`.
fn guess(header: &str, name: String, cells: &[&str], notes: &mut Vec<String>) -> Column {
    let present: Vec<&str> = cells
        .iter()
        .copied()
        .filter(|c| !c.is_empty() && !MISSING.contains(c))
        .collect();
    let mut column = Column {
        header: header.to_string(),
        name,
        ty: FieldType::String,
        optional: present.len() < cells.len(),
        options: String::new(),
        misfits: Vec::new(),
        numbers: Vec::new(),
        latest: None,
    };
    if present.is_empty() {
        column.optional = true;
        return column;
    }
    // A few cells may not fit: one in fifty, or one.
    let allowed = (present.len() / 50)
        .max(1)
        .min(present.len().saturating_sub(4));
    let fits = |misfits: usize| misfits <= allowed;

    // Whole numbers: no leading zeros (`00120` is an id or a code, kept as text).
    let whole = |c: &&str| {
        let digits = c.strip_prefix('-').unwrap_or(c);
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'))
    };
    let misfit_ints: Vec<&str> = present.iter().copied().filter(|c| !whole(c)).collect();
    if fits(misfit_ints.len()) {
        column.ty = FieldType::Int;
        column.numbers = present.iter().filter_map(|c| c.parse().ok()).collect();
        column.misfits = misfit_ints.iter().map(|c| c.to_string()).collect();
        return column;
    }
    if let Some(words) = bool_words(&present, fits) {
        column.ty = FieldType::Bool;
        let word = |w: &str| {
            if w.contains(' ') {
                format!("\"{w}\"")
            } else {
                w.to_string()
            }
        };
        column.options = format!("words {}/{}", word(words.0), word(words.1));
        column.misfits = present
            .iter()
            .filter(|c| !is_word(c, words))
            .map(|c| c.to_string())
            .collect();
        return column;
    }
    if let Some(number) = numbers(&present, fits) {
        column.ty = number.ty;
        column.options = number.options;
        column.numbers = number.values;
        column.misfits = number.misfits;
        return column;
    }
    // A list: a name that says so, and cells joined by `;` or `|`.
    let listy = ["tag", "label", "categor", "interest", "list"]
        .iter()
        .any(|w| column.name.contains(w));
    if let Some(separator) = [';', '|']
        .into_iter()
        .find(|&sep| listy && present.iter().any(|c| c.contains(sep)))
    {
        column.ty = FieldType::List;
        column.options = format!("separator \"{separator}\"");
        return column;
    }
    if let Some(dates) = dates(&present, fits) {
        column.ty = dates.ty;
        let formats: Vec<String> = dates.formats.iter().map(|f| format!("\"{f}\"")).collect();
        column.options = format!("format {}", formats.join(", "));
        column.latest = dates.latest;
        column.misfits = dates.misfits;
        if dates.ambiguous {
            notes.push(format!(
                "`{header}`: every sample date reads both month first and day first; it is read \
                 as `{}`: check it against the export",
                dates.formats[0]
            ));
        }
    }
    column
}

fn is_word(cell: &str, (yes, no): (&str, &str)) -> bool {
    let lower = cell.to_lowercase();
    lower == yes || lower == no
}

/// The yes/no pair the cells are written in, if one reads them.
fn bool_words(
    cells: &[&str],
    fits: impl Fn(usize) -> bool,
) -> Option<(&'static str, &'static str)> {
    BOOL_WORDS.iter().copied().find(|&pair| {
        let misfits = cells.iter().filter(|c| !is_word(c, pair)).count();
        // Both words or one of them, but not only misfits.
        fits(misfits) && misfits < cells.len()
    })
}

/// A numeric column's type, options and values.
struct Numbers {
    ty: FieldType,
    options: String,
    values: Vec<f64>,
    misfits: Vec<String>,
}

/// One cell as a number, read as `run` reads it with the options its marks call for: its
/// value, currency symbol and whether it has `,` thousands separators.
fn number(cell: &str) -> Option<(f64, Option<String>, bool)> {
    let cell = cell.trim();
    // `00120` is a code, not a number.
    let digits = cell.trim_start_matches(|c: char| !c.is_ascii_digit());
    if digits.starts_with('0') && digits[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let currency = ["$", "€", "£", "¥"].into_iter().find(|s| cell.contains(s));
    let thousands = cell.contains(',');
    let value = crate::io::cells::read_number(
        cell,
        thousands.then_some(","),
        currency,
        currency.is_some(),
    )?;
    Some((value, currency.map(str::to_string), thousands))
}

/// The cells as decimals or money, if they are numbers.
fn numbers(cells: &[&str], fits: impl Fn(usize) -> bool) -> Option<Numbers> {
    let read: Vec<Option<(f64, Option<String>, bool)>> = cells.iter().map(|c| number(c)).collect();
    let misfits: Vec<String> = cells
        .iter()
        .zip(&read)
        .filter(|(_, r)| r.is_none())
        .map(|(c, _)| c.to_string())
        .collect();
    if !fits(misfits.len()) || misfits.len() == cells.len() {
        return None;
    }
    let read: Vec<&(f64, Option<String>, bool)> = read.iter().flatten().collect();
    let mut currencies: Vec<&str> = read.iter().filter_map(|r| r.1.as_deref()).collect();
    currencies.dedup();
    if currencies.len() > 1 {
        return None;
    }
    let thousands = read.iter().any(|r| r.2);
    let mut options = Vec::new();
    let ty = match currencies.first() {
        Some(symbol) => {
            options.push(format!("currency \"{symbol}\""));
            FieldType::Money
        }
        None => FieldType::Decimal,
    };
    if thousands {
        options.push("thousands \",\"".to_string());
    }
    Some(Numbers {
        ty,
        options: options.join(" "),
        values: read.iter().map(|r| r.0).collect(),
        misfits,
    })
}

/// A date column's formats, type and latest day.
struct Dates {
    /// Whether every cell the first format reads is read by its day-for-month swap too.
    ambiguous: bool,
    ty: FieldType,
    formats: Vec<&'static str>,
    latest: Option<NaiveDate>,
    misfits: Vec<String>,
}

/// The day `cell` names in `format`, if it reads it.
/// A year not of four digits is not read (chrono's `%Y` takes `25`), as `run` reads none.
fn day_in(cell: &str, format: &str) -> Option<NaiveDate> {
    let day = if DATE_FORMATS.contains(&format) {
        NaiveDate::parse_from_str(cell, format).ok()
    } else if format.contains("%z") {
        DateTime::parse_from_str(cell, format)
            .ok()
            .map(|t| t.naive_utc().date())
    } else {
        NaiveDateTime::parse_from_str(cell, format)
            .ok()
            .map(|t| t.date())
    };
    day.filter(crate::io::cells::full_year)
}

/// The fewest formats (three at most) that read the cells, if any do.
fn dates(cells: &[&str], fits: impl Fn(usize) -> bool) -> Option<Dates> {
    let candidates: Vec<&'static str> = DATE_FORMATS
        .iter()
        .chain(&DATETIME_FORMATS)
        .copied()
        .collect();
    let mut left: Vec<&str> = cells.to_vec();
    let mut formats: Vec<&'static str> = Vec::new();
    while !left.is_empty() && formats.len() < 3 {
        let Some(best) = candidates
            .iter()
            .filter(|f| !formats.contains(f))
            // Day-first and month-first never together: a cell both read would be a guess.
            .filter(|f| {
                let mixed = |a: &str, b: &str| {
                    (f.contains(a) && formats.iter().any(|g| g.contains(b)))
                        || (f.contains(b) && formats.iter().any(|g| g.contains(a)))
                };
                !mixed("%m/%d", "%d/%m")
            })
            .map(|f| (left.iter().filter(|c| day_in(c, f).is_some()).count(), *f))
            .filter(|&(n, _)| n > 0)
            .max_by_key(|&(n, f)| {
                (
                    n,
                    std::cmp::Reverse(candidates.iter().position(|c| *c == f)),
                )
            })
        else {
            break;
        };
        formats.push(best.1);
        left.retain(|c| day_in(c, best.1).is_none());
    }
    if formats.is_empty() || !fits(left.len()) {
        return None;
    }
    let ty = if formats.iter().all(|f| DATE_FORMATS.contains(f)) {
        FieldType::Date
    } else {
        FieldType::DateTime
    };
    let latest = cells
        .iter()
        .filter_map(|c| formats.iter().find_map(|f| day_in(c, f)))
        .max();
    let swapped = crate::io::cells::day_month_swapped(formats[0]);
    let ambiguous = swapped != formats[0]
        && cells
            .iter()
            .filter(|c| day_in(c, formats[0]).is_some())
            .all(|c| day_in(c, &swapped).is_some());
    Some(Dates {
        ambiguous,
        ty,
        formats,
        latest,
        misfits: left.iter().map(|c| c.to_string()).collect(),
    })
}

/// The key: a column named like an id (`Customer ID` before `Store ID`) whose sample values
/// are all there and all different, else the first such column; else an id by its name,
/// duplicates and all (`run` rejects them).
fn key_column(columns: &[Column], rows: &[csv::StringRecord]) -> usize {
    let unique = |index: usize| {
        let mut seen = std::collections::HashSet::new();
        rows.iter().all(|r| {
            r.get(index)
                .map(str::trim)
                .is_some_and(|v| !v.is_empty() && seen.insert(v))
        })
    };
    let id_like = |c: &Column| {
        let words: Vec<&str> = c.name.split('_').collect();
        words.last() == Some(&"id") || words.first() == Some(&"id")
    };
    let whose = |c: &Column| {
        ["customer", "client", "account", "member", "user", "contact"]
            .iter()
            .any(|w| c.name.contains(w))
    };
    let first = |wanted: &dyn Fn(&Column) -> bool| {
        (0..columns.len()).find(|&i| {
            let c = &columns[i];
            wanted(c) && c.ty != FieldType::Bool && unique(i)
        })
    };
    first(&|c| id_like(c) && whose(c))
        .or_else(|| first(&id_like))
        .or_else(|| first(&|_| true))
        .or_else(|| columns.iter().position(id_like))
        .unwrap_or(0)
}

/// The rule text.
fn write_rules(
    name: &str,
    columns: &[Column],
    key: usize,
    tiers: Option<(usize, f64, f64)>,
    missing: &[&str],
    as_of: NaiveDate,
    notes: &mut Vec<String>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// A first rule set, guessed by `idic init` from the export's header and rows: check\n\
         // the types, formats and words below, then shape the tiers, segments and triggers."
    );
    let _ = writeln!(out, "ruleset {} {{", crate::text::quote(name));
    let _ = writeln!(out, "  as_of \"{as_of}\"");
    if !missing.is_empty() {
        let words: Vec<String> = missing.iter().map(|w| format!("\"{w}\"")).collect();
        let _ = writeln!(
            out,
            "  missing {}  // cells that mean no value",
            words.join(", ")
        );
    }
    let _ = writeln!(out, "}}\n");

    let _ = writeln!(out, "customer {{");
    for (i, c) in columns.iter().enumerate() {
        if !c.misfits.is_empty() {
            let shown: Vec<String> = c.misfits.iter().take(3).map(|m| format!("`{m}`")).collect();
            let note = format!(
                "`{}`: {} sample cell(s) do not read as {} ({}): rows with such cells will be \
                 rejected",
                c.header,
                c.misfits.len(),
                c.ty.word(),
                shown.join(", ")
            );
            let _ = writeln!(out, "  // {note}");
            notes.push(note);
        }
        let ty = if i == key {
            "string".to_string()
        } else {
            format!("{}{}", c.ty.word(), if c.optional { "?" } else { "" })
        };
        let mut line = format!("  {} {} from {}", c.name, ty, crate::text::quote(&c.header));
        if i == key {
            line.push_str(" key");
        } else if !c.options.is_empty() {
            line.push(' ');
            line.push_str(&c.options);
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "}}\n");

    // Recency from the date column that looks like the last purchase, else the latest one.
    let recency = columns
        .iter()
        .enumerate()
        .filter(|&(i, c)| i != key && c.latest.is_some() && !ahead(c))
        .max_by_key(|(_, c)| {
            let looks = ["last", "order", "purchase"]
                .iter()
                .filter(|w| c.name.contains(*w))
                .count();
            (looks, c.latest)
        })
        .map(|(_, c)| c);
    if let Some(date) = recency {
        let _ = writeln!(
            out,
            "// Days since `{}`; missing when the customer has none.\nmetric recency = days_since({})\n",
            date.header, date.name
        );
    }

    match tiers.map(|(i, high, mid)| (&columns[i], high, mid)) {
        Some((c, high, mid)) => {
            let _ = writeln!(
                out,
                "// Value tiers on `{}`: the top fifth of the sample and the top half. First match wins.",
                c.header
            );
            let _ = writeln!(out, "tiers {{");
            let _ = writeln!(out, "  gold   when {} >= {}", c.name, number_text(high));
            let _ = writeln!(out, "  silver when {} >= {}", c.name, number_text(mid));
            let _ = writeln!(out, "  bronze otherwise");
            let _ = writeln!(out, "}}\n");
        }
        None => {
            let _ = writeln!(
                out,
                "// One tier for now: add `name when condition` lines above it, first match wins."
            );
            let _ = writeln!(out, "tiers {{\n  customer otherwise\n}}\n");
        }
    }

    // A yes that means consent: not an opt-out, an unsubscribe or a bounce.
    let consent = columns.iter().enumerate().find(|&(i, c)| {
        let says = |words: &[&str]| words.iter().any(|w| c.name.contains(w));
        i != key
            && c.ty == FieldType::Bool
            && says(&["email", "sms", "consent", "marketing", "newsletter", "opt"])
            && !says(&["out", "unsub", "bounce", "dnc", "do_not", "block", "no_"])
    });
    match (consent, recency) {
        (Some((_, consent)), Some(_)) => {
            let channel = if consent.name.contains("sms") {
                "sms"
            } else {
                "email"
            };
            let _ = writeln!(out, "// Customers whose last date is over a year ago.");
            let _ = writeln!(out, "segment lapsed = (recency ?? 0) > 365\n");
            let _ = writeln!(
                out,
                "// Win lapsed customers back, on the channel they said yes to, at most every 90 days."
            );
            let _ = writeln!(out, "trigger winback {{");
            let _ = writeln!(out, "  activity winback");
            let _ = writeln!(out, "  when     lapsed");
            let _ = writeln!(out, "  channel  {channel} consent {}", consent.name);
            let _ = writeln!(out, "  cooldown 90d");
            let _ = writeln!(out, "  action come_back template \"winback\"");
            let _ = writeln!(out, "}}");
        }
        _ => {
            let _ = writeln!(
                out,
                "// No trigger yet: a marketing trigger names the yes/no column of its channel's\n\
                 // consent, e.g. `channel email consent accepts_email`, and a `when` condition."
            );
            notes.push(
                "no trigger: no yes/no column looks like marketing consent (or no date gives a \
                 recency); write one when the export has them"
                    .to_string(),
            );
        }
    }
    out
}

/// The column tiers are cut on: money first, then decimals, then whole numbers, preferring
/// a name that says value (`spent`, `revenue`...); with its gold and silver thresholds, the
/// sample's 80th and 50th percentiles rounded, when they differ.
fn tier_column(columns: &[Column], key: usize) -> Option<(usize, f64, f64)> {
    let (i, c) = columns
        .iter()
        .enumerate()
        .filter(|&(i, c)| i != key && !c.numbers.is_empty())
        .max_by_key(|(_, c)| {
            let rank = match c.ty {
                FieldType::Money => 3,
                FieldType::Decimal => 2,
                _ => 1,
            };
            let looks = [
                "spent", "revenue", "total", "value", "amount", "sales", "orders",
            ]
            .iter()
            .any(|w| c.name.contains(*w));
            (rank, looks)
        })?;
    let high = round_nicely(quantile(&c.numbers, 0.8));
    let mid = round_nicely(quantile(&c.numbers, 0.5));
    (high > mid).then_some((i, high, mid))
}

/// The tier the rules give `row`: by the value in the tier column (its position in the
/// export), as the rules compare it.
fn tier_of(row: &csv::StringRecord, tiers: Option<(usize, f64, f64)>) -> &'static str {
    let Some((i, high, mid)) = tiers else {
        return "customer";
    };
    match row.get(i).and_then(number).map(|n| n.0) {
        Some(x) if x >= high => "gold",
        Some(x) if x >= mid => "silver",
        _ => "bronze",
    }
}

/// The `q` quantile of `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(at).copied().unwrap_or(0.0)
}

/// `x` rounded to two significant digits: `1234.5` is `1200`.
fn round_nicely(x: f64) -> f64 {
    if x <= 0.0 {
        return x.floor();
    }
    let scale = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / scale).floor() * scale
}

/// A threshold as a rhai number: `1200`, `0.15`.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{}", (x * 1e6).round() / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(cells: &[&str]) -> Column {
        guess("X", "x".into(), cells, &mut Vec::new())
    }

    #[test]
    fn types_are_guessed_from_the_cells() {
        assert_eq!(column(&["1", "20", "-3"]).ty, FieldType::Int);
        assert_eq!(column(&["00120", "00121"]).ty, FieldType::String);
        let money = column(&["$1,200.00", "(120.00)", "$3.50", ""]);
        assert_eq!((money.ty, money.optional), (FieldType::Money, true));
        assert_eq!(money.options, "currency \"$\" thousands \",\"");
        assert_eq!(money.numbers, [1200.0, -120.0, 3.5]);
        assert_eq!(column(&["12%", "5 %", "0%"]).ty, FieldType::Decimal);
        let yes_no = column(&["Opted In", "opted out", "OPTED OUT"]);
        assert_eq!(
            (yes_no.ty, yes_no.options.as_str()),
            (FieldType::Bool, "words \"opted in\"/\"opted out\"")
        );
        let dates = column(&["01/15/2024", "2024-02-03", "12/31/2025"]);
        assert_eq!(dates.options, "format \"%m/%d/%Y\", \"%Y-%m-%d\"");
        assert_eq!(dates.latest, NaiveDate::from_ymd_opt(2025, 12, 31));
        // Day-first: a day over 12 decides, and month-first is never added beside it.
        let day_first = column(&["13/01/2024", "02/03/2024", "31/12/2025"]);
        assert_eq!(day_first.options, "format \"%d/%m/%Y\"");
        let stamps = column(&[
            "31.12.2025 23:30 -0500",
            "2025-12-20",
            "02.01.2026 08:00 +0100",
        ]);
        assert_eq!(stamps.ty, FieldType::DateTime);
        assert_eq!(column(&["Acme", "Globex"]).ty, FieldType::String);
    }

    #[test]
    fn a_few_misfits_are_allowed_and_named() {
        let orders: Vec<&str> = ["14", "3", "0", "7", "2", "21", "seven", "5"].to_vec();
        let c = column(&orders);
        assert_eq!(
            (c.ty, c.misfits.as_slice()),
            (FieldType::Int, &["seven".to_string()][..])
        );
        // Two misfits in eight are too many: text.
        assert_eq!(
            column(&["1", "2", "3", "4", "5", "6", "x", "y"]).ty,
            FieldType::String
        );
    }

    #[test]
    fn names_are_fields_and_never_reserved() {
        assert_eq!(field_name("Customer ID", 0, &[]), "customer_id");
        assert_eq!(field_name("Total Spent ($)", 0, &[]), "total_spent");
        assert_eq!(field_name("2nd Phone", 0, &[]), "c_2nd_phone");
        assert_eq!(field_name("Tier", 0, &[]), "tier_field");
        assert_eq!(field_name("***", 4, &[]), "column_5");
        assert_eq!(field_name("id", 0, &["id".to_string()]), "id_2");
    }

    #[test]
    fn thresholds_are_round() {
        assert_eq!(round_nicely(1234.5), 1200.0);
        assert_eq!(round_nicely(0.153), 0.15);
        assert_eq!(number_text(0.15), "0.15");
        assert_eq!(number_text(1200.0), "1200");
    }
}
