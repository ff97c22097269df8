//! `records.parquet` (`output.format = "parquet"`): the rows and columns of `records.csv` in
//! one Parquet file with typed columns, so readers get integers for `seed`, `step` and
//! `index` (nullable: empty on theory rows) without a dtype argument. `records.csv` stays the
//! contract; this is the same table.
//!
//! Schema (in `records.csv` column order): `source` (UTF-8), `seed` (optional INT64), `step`
//! (optional INT64), `t` (DOUBLE), `observable` (UTF-8), `index` (optional INT64), `value`
//! (DOUBLE), `kind` (UTF-8, `theory` or `simulation`). One row group, uncompressed.

use crate::error::{Error, Result};
use crate::experiment::Record;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

const SCHEMA: &str = "
message records {
  REQUIRED BYTE_ARRAY source (UTF8);
  OPTIONAL INT64 seed;
  OPTIONAL INT64 step;
  REQUIRED DOUBLE t;
  REQUIRED BYTE_ARRAY observable (UTF8);
  OPTIONAL INT64 index;
  REQUIRED DOUBLE value;
  REQUIRED BYTE_ARRAY kind (UTF8);
}";

/// One column's data.
enum Col {
    Text(Vec<ByteArray>),
    /// Values of the present entries and the definition level (1 present, 0 null) of each row.
    OptInt(Vec<i64>, Vec<i16>),
    Real(Vec<f64>),
}

fn opt_int(v: impl Iterator<Item = Option<u64>>) -> Col {
    let (mut vals, mut defs) = (vec![], vec![]);
    for x in v {
        defs.push(i16::from(x.is_some()));
        // Seeds, steps and indices are far below i64::MAX.
        vals.extend(x.map(|x| x as i64));
    }
    Col::OptInt(vals, defs)
}

fn text<'a>(v: impl Iterator<Item = &'a str>) -> Col {
    Col::Text(v.map(|s| ByteArray::from(s.as_bytes().to_vec())).collect())
}

/// The bytes of `records.parquet` for `records` (same rows, same order as `records.csv`).
pub fn records_parquet(records: &[Record]) -> Result<Vec<u8>> {
    let fail = |e: parquet::errors::ParquetError| {
        Error::invalid("records.parquet", format!("could not be encoded: {e}"))
    };
    let columns = [
        text(records.iter().map(|r| r.source.name())),
        opt_int(records.iter().map(|r| r.seed)),
        opt_int(records.iter().map(|r| r.step)),
        Col::Real(records.iter().map(|r| r.t).collect()),
        text(records.iter().map(|r| r.observable.name())),
        opt_int(records.iter().map(|r| r.index.map(|i| i as u64))),
        Col::Real(records.iter().map(|r| r.value).collect()),
        text(records.iter().map(|r| {
            if r.source.is_theory() {
                "theory"
            } else {
                "simulation"
            }
        })),
    ];
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(fail)?);
    let props = Arc::new(WriterProperties::builder().build());
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, props).map_err(fail)?;
    let mut group = writer.next_row_group().map_err(fail)?;
    for col in &columns {
        let Some(mut w) = group.next_column().map_err(fail)? else {
            break;
        };
        match col {
            Col::Text(v) => w.typed::<ByteArrayType>().write_batch(v, None, None),
            Col::OptInt(v, d) => w.typed::<Int64Type>().write_batch(v, Some(d), None),
            Col::Real(v) => w.typed::<DoubleType>().write_batch(v, None, None),
        }
        .map_err(fail)?;
        w.close().map_err(fail)?;
    }
    group.close().map_err(fail)?;
    writer.close().map_err(fail)?;
    Ok(out)
}
