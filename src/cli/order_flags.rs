//! The flags that say how to read an orders file, shared by `idic analyze` and `idic measure`.

use idic::analytics::orders::{Column, OrderColumns, OrderFormat, OrderTally, OrdersError};
use std::path::Path;

#[derive(clap::Args)]
pub struct OrderFlags {
    /// The file's format [default: from the extension: .csv, .jsonl, .txt or .text].
    #[arg(long, value_enum)]
    input_format: Option<FormatArg>,
    /// The customer-id column: a header name (JSONL key) or a 1-based position.
    #[arg(long, value_name = "COLUMN", default_value = "customer_id")]
    customer: String,
    /// The date column (a date-time keeps its date).
    #[arg(long, value_name = "COLUMN", default_value = "date")]
    date: String,
    /// The dates' chrono format, e.g. `%Y%m%d` [default: ISO 8601]; repeat it for dates
    /// written several ways, tried in order.
    #[arg(long, value_name = "FORMAT")]
    date_format: Vec<String>,
    /// A text that means no value in any column, e.g. `N/A` (repeatable).
    #[arg(long, value_name = "TEXT")]
    missing: Vec<String>,
    /// The amount column.
    #[arg(long, value_name = "COLUMN", default_value = "amount")]
    amount: String,
    /// A currency symbol the amounts carry, e.g. `$`.
    #[arg(long)]
    currency: Option<String>,
    /// A thousands separator the amounts carry, e.g. `,`.
    #[arg(long)]
    thousands: Option<String>,
    /// The amounts' decimal mark, `.` [default] or `,` (`1.234,50` with `--thousands .`).
    #[arg(long, value_name = "MARK")]
    decimal: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Csv,
    Jsonl,
    /// Whitespace-separated columns, no header (the CDNOW sample).
    Text,
}

/// `3` is a position, anything else a name.
pub fn column(text: &str) -> Column {
    match text.parse::<usize>() {
        Ok(p) => Column::Position(p),
        Err(_) => Column::Name(text.to_string()),
    }
}

impl OrderFlags {
    /// The format of the file at `path`: as given, or from its extension.
    pub fn format(&self, path: &Path) -> Result<OrderFormat, String> {
        match self.input_format {
            Some(FormatArg::Csv) => Ok(OrderFormat::Csv),
            Some(FormatArg::Jsonl) => Ok(OrderFormat::Jsonl),
            Some(FormatArg::Text) => Ok(OrderFormat::Text),
            None => OrderFormat::of(path).ok_or_else(|| {
                format!(
                    "cannot tell the format of `{}` from its extension: pass `--input-format csv|jsonl|text`",
                    path.display()
                )
            }),
        }
    }

    /// The columns as the flags name them (no quantity, every row read).
    pub fn columns(&self) -> OrderColumns {
        OrderColumns {
            customer: column(&self.customer),
            date: column(&self.date),
            date_formats: self.date_format.clone(),
            missing: self.missing.clone(),
            amount: Some(column(&self.amount)),
            quantity: None,
            currency: self.currency.clone(),
            thousands: self.thousands.clone(),
            decimal: self.decimal.clone(),
            event: None,
        }
    }
}

/// Names on standard error the rejected rows `tally` kept of the file at `path`, and how many
/// more there were.
pub fn say_rejects(path: &Path, tally: &OrderTally) {
    for reject in &tally.rejects {
        say!("rejected: {}: {reject}", path.display());
    }
    let shown = tally.rejects.len() as u64;
    if tally.rejected > shown {
        say!(
            "rejected: {} more rows of `{}`",
            tally.rejected - shown,
            path.display()
        );
    }
}

/// Why the file at `path` could not be read, with the flags that name a column when it lacks
/// one and the flags named them (`by_flags`).
pub fn read_error(path: &Path, e: &OrdersError, by_flags: bool) -> String {
    let advice = match e {
        OrdersError::NoSuchColumn { .. } if by_flags => {
            "; name its columns with `--customer`, `--date` and `--amount`"
        }
        _ => "",
    };
    format!("`{}`: {e}{advice}", path.display())
}
