//! `idic analyze --orders FILE --as-of DATE`: a portfolio view of an orders file, without a
//! rule set: per-customer BTYD and RFM summaries, scores, the `rfm10` segment and model values,
//! and a report of the fitted models and the value per segment.
//!
//! Exit codes: 0 analysed (rejected rows and unfittable models are reported, not fatal), 2
//! usage or I/O, or an orders file not one of whose rows can be read.

use super::order_flags::column;
use super::run::{resolve_as_of, usage};
use super::{named, Exit};
use idic::analytics::btyd::ClvOptions;
use idic::analytics::orders::{read_orders, OrderColumns};
use idic::analytics::portfolio::{analyze, Customer, Options, Portfolio};
use idic::io::guard::Std;
use idic::io::{CsvCells, Files, OutputFormat};
use idic::model::Period;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The orders: CSV with a header, JSONL, or whitespace-separated text without a header.
    #[arg(long, value_name = "FILE")]
    orders: PathBuf,
    /// The date to analyse at (YYYY-MM-DD); orders after it are ignored.
    #[arg(long, value_name = "DATE")]
    as_of: String,
    /// The unit of BTYD times.
    #[arg(long, value_enum, default_value_t = PeriodArg::Day)]
    period: PeriodArg,
    #[command(flatten)]
    columns: super::order_flags::OrderFlags,
    /// The number-of-items column, if any (summed per customer).
    #[arg(long, value_name = "COLUMN")]
    quantity: Option<String>,
    /// The RFM window in days [default: all history].
    #[arg(long, value_name = "DAYS")]
    lookback: Option<u32>,
    /// Bins of the R, F and M scores (3 to 10; the `rfm10` segments need 5).
    #[arg(long, default_value_t = 5)]
    bins: u32,
    /// The horizon of expected purchases and CLV, in months.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// The monthly discount rate of CLV.
    #[arg(long, default_value_t = 0.01)]
    discount: f64,
    /// Where the per-customer rows go (.csv or .jsonl; `-` is standard output) [default: none].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    csv: super::CsvArgs,
    /// Where the report goes; `-` is standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    report: PathBuf,
    /// The report's format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report_format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PeriodArg {
    Day,
    Week,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

pub fn run(args: Args) -> Exit {
    let as_of = match resolve_as_of(Some(&args.as_of), None) {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let format = match args.columns.format(&args.orders) {
        Ok(format) => format,
        Err(message) => return usage(message),
    };
    let bins = idic::analytics::scores::MIN_BINS..=idic::analytics::scores::MAX_BINS;
    if !u8::try_from(args.bins).is_ok_and(|b| bins.contains(&b)) {
        return usage(format!(
            "`--bins {}`: scores have {} to {} bins",
            args.bins,
            bins.start(),
            bins.end()
        ));
    }
    if !(0.0..1.0).contains(&args.discount) {
        return usage(format!(
            "`--discount {}` is not a monthly rate: give a number from 0 to below 1, e.g. 0.01",
            args.discount
        ));
    }
    let mut files = Files::default();
    files
        .reads(named("--orders", &args.orders), &args.orders)
        .writes(named("--report", &args.report), &args.report, Std::Out);
    if let Some(out) = &args.out {
        files.writes(named("--out", out), out, Std::Out);
    }
    if let Err(clash) = files.check() {
        return usage(clash);
    }
    let columns = OrderColumns {
        quantity: args.quantity.as_deref().map(column),
        ..args.columns.columns()
    };
    let orders = match read_orders(&args.orders, format, &columns, as_of) {
        Ok(orders) => orders,
        Err(e) => return usage(super::order_flags::read_error(&args.orders, &e, true)),
    };
    if let Some(why) = orders.tally.none_readable() {
        return usage(format!(
            "`{}`: {why}; do --customer, --date, --date-format and --amount fit the file?",
            args.orders.display()
        ));
    }
    super::order_flags::say_rejects(&args.orders, &orders.tally);
    let options = Options {
        period: match args.period {
            PeriodArg::Day => Period::Day,
            PeriodArg::Week => Period::Week,
        },
        lookback_days: args.lookback,
        bins: args.bins,
        clv: ClvOptions {
            months: args.months,
            monthly_discount_rate: args.discount,
            ..ClvOptions::default()
        },
    };
    let portfolio = analyze(&orders, &options);
    for e in &portfolio.report.fit_errors {
        say!("warning: {e}");
    }
    let mut texts = Vec::new();
    if let Some(out) = &args.out {
        let rows = customers_text(out, &portfolio, args.csv.cells());
        texts.push((named("--out", out), out.as_path(), rows));
    }
    let report = match args.report_format {
        ReportFormat::Text => portfolio.report.to_text(),
        ReportFormat::Json => idic::text::json_pretty(&portfolio.report),
    };
    texts.push((
        named("--report", &args.report),
        args.report.as_path(),
        report,
    ));
    match super::write_texts(texts) {
        Ok(()) => Exit::Ok,
        Err(message) => usage(message),
    }
}

/// The per-customer rows as CSV (cells written as `cells` says), or JSONL when `out` ends in
/// `.jsonl`.
fn customers_text(out: &Path, portfolio: &Portfolio, cells: CsvCells) -> String {
    if OutputFormat::of(out) == Some(OutputFormat::Jsonl) {
        return portfolio
            .customers
            .iter()
            .map(|c| {
                let mut line = Vec::new();
                idic::text::write_json(&mut line, c).expect("a row serializes");
                String::from_utf8(line).expect("JSON is UTF-8") + "\n"
            })
            .collect();
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "id",
        "first_purchase",
        "last_purchase",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "recency_days",
        "rfm_frequency",
        "monetary",
        "quantity",
        "R",
        "F",
        "M",
        "segment",
        "p_alive",
        "expected_purchases",
        "clv",
    ]);
    for c in &portfolio.customers {
        let _ = w.write_record(row(c, cells));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).expect("CSV of text is UTF-8")
}

/// One customer's cells. The text ones (the id from the orders file, the dates and the segment)
/// are written as `cells` says; the numbers idic computed are written as they are, so that a
/// spreadsheet reads them as numbers.
fn row(c: &Customer, cells: CsvCells) -> Vec<String> {
    let opt = |v: Option<f64>, decimals: i32| v.map(|v| num(v, decimals)).unwrap_or_default();
    let score = |i: usize| c.scores.map(|s| s[i].to_string()).unwrap_or_default();
    let text = |t: &str| cells.cell(t).into_owned();
    vec![
        text(&c.id),
        text(&c.first_purchase.to_string()),
        text(&c.last_purchase.to_string()),
        num(c.btyd.frequency, 0),
        num(c.btyd.recency, 4),
        num(c.btyd.t, 4),
        num(c.btyd.monetary_value, 2),
        c.rfm
            .map(|r| r.recency_days.to_string())
            .unwrap_or_default(),
        c.rfm.map(|r| r.frequency.to_string()).unwrap_or_default(),
        opt(c.rfm.map(|r| r.monetary), 2),
        num(c.quantity, 2),
        score(0),
        score(1),
        score(2),
        text(c.segment.as_deref().unwrap_or_default()),
        opt(c.p_alive, 6),
        opt(c.expected_purchases, 6),
        opt(c.clv, 2),
    ]
}

/// `x` rounded to `decimals` places, without trailing zeros (`30.4286`, `20`, `74.02`).
fn num(x: f64, decimals: i32) -> String {
    let scale = 10f64.powi(decimals);
    let rounded = (x * scale).round() / scale;
    let text = format!("{rounded:.*}", decimals as usize);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}
