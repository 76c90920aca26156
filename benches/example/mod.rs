//! The example export as the benches read it: the retail rules, their record reader, and the
//! 400 rows of `examples/customers.csv` as one batch, cut as `run` cuts it.

use idic::io::{BatchReader, ColumnMap, InputFormat, RawRows, RecordReader};
use idic::plan::Program;
use std::fs::File;
use std::path::Path;

/// The retail rules, their record reader, and the example export read as far as its first
/// batch.
pub struct Example {
    pub program: Program,
    pub reader: RecordReader,
    pub map: ColumnMap,
    pub rows: RawRows,
}

/// Loads the retail rules and reads the example export's header and rows.
pub fn retail() -> Example {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let program = Program::load(&repo.join("rules/retail")).expect("the retail rules load");
    let reader = program.record_reader().expect("the retail schema reads");
    let export = File::open(repo.join("examples/customers.csv")).unwrap();
    let (mut batches, header) = BatchReader::open(&export, InputFormat::Csv, 1 << 20).unwrap();
    let map = reader
        .map_header(&header.expect("a CSV export has a header"))
        .expect("the export has the schema's columns");
    let rows = batches
        .next_batch(None)
        .unwrap()
        .expect("the export has rows");
    Example {
        program,
        reader,
        map,
        rows,
    }
}
