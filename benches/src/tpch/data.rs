//! TPC-H data: generated in-process with tpchgen-arrow on all cores, cached as Parquet under a
//! directory per scale factor, and verified before reuse.
//!
//! Layout: `<dir>/<table>/part-<n>.parquet` plus `<dir>/_complete.json`, written last, which
//! records the scale factor and every table's row count. A cache without the marker, with a
//! different scale, or whose files do not add up to the recorded counts (a partial or
//! corrupted write) is deleted and generated again.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use serde::{Deserialize, Serialize};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

/// The eight TPC-H tables.
pub const TABLES: [&str; 8] = [
    "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

/// Rows per generated batch (and Parquet row group granularity).
const BATCH_ROWS: usize = 64 * 1024;

const MARKER: &str = "_complete.json";

/// What `_complete.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker {
    scale: f64,
    rows: BTreeMap<String, u64>,
}

/// The default cache directory for a scale factor: `$XDG_CACHE_HOME/cinder/tpch/sf<scale>`
/// (or `~/.cache/...`).
pub fn default_dir(scale: f64) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("cinder").join("tpch").join(format!("sf{scale}"))
}

/// Makes sure `dir` holds complete TPC-H data at `scale`, generating it if needed. Returns
/// each table's row count.
pub fn ensure(dir: &Path, scale: f64) -> Result<BTreeMap<String, u64>, String> {
    match verify(dir, scale) {
        Ok(rows) => {
            eprintln!("tpch: reusing SF{scale} data in {}", dir.display());
            return Ok(rows);
        }
        Err(why) if dir.exists() => {
            eprintln!("tpch: regenerating {}: {why}", dir.display());
            fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
        }
        Err(_) => {}
    }
    generate(dir, scale)
}

/// Checks the cache: marker present and for this scale, and every table's files add up to the
/// recorded row count.
pub fn verify(dir: &Path, scale: f64) -> Result<BTreeMap<String, u64>, String> {
    let text =
        fs::read_to_string(dir.join(MARKER)).map_err(|_| "no completion marker".to_string())?;
    let marker: Marker =
        serde_json::from_str(&text).map_err(|e| format!("unreadable marker: {e}"))?;
    if marker.scale != scale {
        return Err(format!("marker is for SF{}, not SF{scale}", marker.scale));
    }
    for table in TABLES {
        let expected = *marker
            .rows
            .get(table)
            .ok_or_else(|| format!("marker lacks {table}"))?;
        let found = table_rows(&dir.join(table))?;
        if found != expected {
            return Err(format!("{table} has {found} rows, marker says {expected}"));
        }
    }
    Ok(marker.rows)
}

fn table_rows(dir: &Path) -> Result<u64, String> {
    let mut rows = 0u64;
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let reader =
            SerializedFileReader::new(file).map_err(|e| format!("{}: {e}", path.display()))?;
        rows += reader.metadata().file_metadata().num_rows() as u64;
    }
    Ok(rows)
}

/// Generates every table into `dir` and writes the marker last.
fn generate(dir: &Path, scale: f64) -> Result<BTreeMap<String, u64>, String> {
    let started = Instant::now();
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get()) as i32;
    eprintln!(
        "tpch: generating SF{scale} into {} on {parts} threads",
        dir.display()
    );
    let mut rows = BTreeMap::new();
    for table in TABLES {
        let table_dir = dir.join(table);
        fs::create_dir_all(&table_dir).map_err(|e| format!("{}: {e}", table_dir.display()))?;
        // The small fixed tables come as one part.
        let table_parts = if matches!(table, "nation" | "region") {
            1
        } else {
            parts
        };
        let t = Instant::now();
        let counts: Vec<Result<u64, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (1..=table_parts)
                .map(|part| {
                    let path = table_dir.join(format!("part-{part}.parquet"));
                    s.spawn(move || write_part(table, scale, part, table_parts, &path))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(format!("{table}: generator thread panicked")))
                })
                .collect()
        });
        let total = counts.into_iter().sum::<Result<u64, String>>()?;
        progress(table, total, t.elapsed().as_secs_f64());
        rows.insert(table.to_string(), total);
    }
    let marker = Marker {
        scale,
        rows: rows.clone(),
    };
    let mut file = File::create(dir.join(MARKER)).map_err(|e| format!("writing marker: {e}"))?;
    file.write_all(
        serde_json::to_string_pretty(&marker)
            .expect("marker serialises")
            .as_bytes(),
    )
    .map_err(|e| format!("writing marker: {e}"))?;
    eprintln!(
        "tpch: generated SF{scale} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(rows)
}

fn progress(table: &str, rows: u64, seconds: f64) {
    let done = TABLES.iter().position(|t| *t == table).map_or(0, |i| i + 1);
    let bar: String = (0..TABLES.len())
        .map(|i| if i < done { '#' } else { '.' })
        .collect();
    eprintln!("tpch: [{bar}] {table:<9} {rows:>10} rows in {seconds:.1} s");
}

/// Generates part `part` of `parts` of `table` into one Parquet file.
fn write_part(table: &str, scale: f64, part: i32, parts: i32, path: &Path) -> Result<u64, String> {
    let batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>> = match table {
        "nation" => Box::new(
            NationArrow::new(NationGenerator::new(scale, part, parts)).with_batch_size(BATCH_ROWS),
        ),
        "region" => Box::new(
            RegionArrow::new(RegionGenerator::new(scale, part, parts)).with_batch_size(BATCH_ROWS),
        ),
        "part" => Box::new(
            PartArrow::new(PartGenerator::new(scale, part, parts)).with_batch_size(BATCH_ROWS),
        ),
        "supplier" => Box::new(
            SupplierArrow::new(SupplierGenerator::new(scale, part, parts))
                .with_batch_size(BATCH_ROWS),
        ),
        "partsupp" => Box::new(
            PartSuppArrow::new(PartSuppGenerator::new(scale, part, parts))
                .with_batch_size(BATCH_ROWS),
        ),
        "customer" => Box::new(
            CustomerArrow::new(CustomerGenerator::new(scale, part, parts))
                .with_batch_size(BATCH_ROWS),
        ),
        "orders" => Box::new(
            OrderArrow::new(OrderGenerator::new(scale, part, parts)).with_batch_size(BATCH_ROWS),
        ),
        "lineitem" => Box::new(
            LineItemArrow::new(LineItemGenerator::new(scale, part, parts))
                .with_batch_size(BATCH_ROWS),
        ),
        other => return Err(format!("unknown table {other}")),
    };
    let mut batches = batches.peekable();
    let schema = match batches.peek() {
        Some(Ok(first)) => first.schema(),
        Some(Err(e)) => return Err(format!("generating {table}: {e}")),
        // A tiny scale split over many parts can leave a part empty: no file for it.
        None => return Ok(0),
    };
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut writer =
        ArrowWriter::try_new(file, schema, None).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch.map_err(|e| format!("generating {table}: {e}"))?;
        rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    writer
        .close()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(rows)
}
