//! Writes a synthetic storefront customer export (see the `idic-generate` crate, `crates/generate`).
//!
//! ```sh
//! cargo run --release --example generate_customers -- --out examples/customers.csv
//! cargo run --release --example generate_customers -- --customers 1000000 --seed 7 \
//!     --format jsonl --out target/bench/customers-1m.jsonl
//! ```
//!
//! Unset flags take the values of `examples/customers.csv`; without `--out` the export goes to
//! stdout. Exit codes: 0, 2 for bad arguments or an I/O error.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Parser;
use idic_generate::{write_export, ExportFormat, ExportSpec};

/// Write a deterministic synthetic storefront customer export (CSV or JSONL).
#[derive(Parser)]
struct Args {
    /// Number of customers [default: 400]
    #[arg(long)]
    customers: Option<u64>,
    /// Seed of the random generator [default: 20261101]
    #[arg(long)]
    seed: Option<u64>,
    /// The day the export is taken, YYYY-MM-DD [default: 2026-11-01]
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// csv or jsonl [default: csv]
    #[arg(long)]
    format: Option<ExportFormat>,
    /// Output file (its directory is created); stdout without it
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Usage errors exit with 2, `--help` with 0.
    let args = Args::parse();
    let default = ExportSpec::default();
    let spec = ExportSpec {
        customers: args.customers.unwrap_or(default.customers),
        seed: args.seed.unwrap_or(default.seed),
        as_of: args.as_of.unwrap_or(default.as_of),
        format: args.format.unwrap_or(default.format),
    };
    if let Err(e) = spec.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match &args.out {
        Some(path) => write_file(&spec, path),
        None => match write_export(&spec, io::stdout().lock()) {
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            result => result.map_err(|e| format!("cannot write to stdout: {e}")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn write_file(spec: &ExportSpec, path: &Path) -> Result<(), String> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    }
    let file = File::create(path).map_err(|e| format!("cannot create {shown}: {e}"))?;
    write_export(spec, file).map_err(|e| format!("cannot write {shown}: {e}"))
}
