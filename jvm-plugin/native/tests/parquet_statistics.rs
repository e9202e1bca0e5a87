//! A Parquet file whose string and binary statistics sit only in the deprecated signed-order
//! `min`/`max` fields (as parquet-mr before 1.10 wrote them) loses no rows to pruning: the
//! native scan leaves those statistics out, as Spark's reader ignores them.

use std::sync::Arc;

use cinder_jni::NativePlan;
use datafusion::arrow::array::{Array, BinaryArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::statistics::{Statistics, ValueStatistics};
use serde_json::{Value, json};

/// Rows (id, bin, s) in row groups of two: (1, 0x05, "e"), (2, 0x90, "é"), (3, 0x01, "a"),
/// (4, 0x02, "b"); the binary and string columns' statistics rewritten into the deprecated
/// fields in signed byte order (0x90 and "é", whose first byte is 0xc3, below the others).
fn old_format_file() -> (String, u64) {
    let dir = std::env::temp_dir().join(format!("cinder-jni-{}-old-stats", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("bin", DataType::Binary, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            Arc::new(BinaryArray::from(vec![
                &[0x05u8][..],
                &[0x90],
                &[0x01],
                &[0x02],
            ])),
            Arc::new(StringArray::from(vec!["e", "é", "a", "b"])),
        ],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    // The footer again, with signed-order statistics in the deprecated fields only.
    let file = bytes::Bytes::from(bytes.clone());
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .unwrap();
    let signed = |values: [&[u8]; 2]| {
        let (min, max) = if (values[0][0] as i8) < (values[1][0] as i8) {
            (values[0], values[1])
        } else {
            (values[1], values[0])
        };
        Statistics::ByteArray(ValueStatistics::new(
            Some(min.to_vec().into()),
            Some(max.to_vec().into()),
            None,
            Some(0),
            true,
        ))
    };
    let groups = [
        [[&[0x05u8][..], &[0x90]], [b"e", "é".as_bytes()]],
        [[&[0x01u8][..], &[0x02]], [b"a", b"b"]],
    ];
    let mut builder = metadata.into_builder();
    let rewritten = builder
        .take_row_groups()
        .into_iter()
        .zip(groups)
        .map(|(group, [bin, s])| {
            let columns = group
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| match i {
                    1 => c
                        .clone()
                        .into_builder()
                        .set_statistics(signed(bin))
                        .build()
                        .unwrap(),
                    2 => c
                        .clone()
                        .into_builder()
                        .set_statistics(signed(s))
                        .build()
                        .unwrap(),
                    _ => c.clone(),
                })
                .collect();
            group
                .into_builder()
                .set_column_metadata(columns)
                .build()
                .unwrap()
        })
        .collect();
    let metadata = builder.set_row_groups(rewritten).build();
    let footer_length =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let mut out = bytes[..bytes.len() - 8 - footer_length as usize].to_vec();
    ParquetMetaDataWriter::new(&mut out, &metadata)
        .finish()
        .unwrap();
    let path = dir.join("old.parquet");
    std::fs::write(&path, &out).unwrap();
    (path.to_str().unwrap().to_owned(), out.len() as u64)
}

fn col(index: usize) -> Value {
    json!({"kind": "column", "index": index})
}

/// The ids the filter `condition` keeps of the file.
fn ids(file: &(String, u64), condition: Value) -> Vec<i64> {
    let schema = json!([
        {"name": "id", "type": "bigint", "nullable": false},
        {"name": "bin", "type": "binary", "nullable": false},
        {"name": "s", "type": "string", "nullable": false}
    ]);
    let message = json!({"version": 1, "output": [{"name": "id", "type": "bigint", "nullable": false}],
        "files": [{"path": file.0, "start": 0, "length": file.1, "file_size": file.1}],
        "settings": {"device": "cpu"},
        "root": {"op": "project", "exprs": [col(0)], "input": {"op": "filter", "condition": condition,
            "input": {"op": "parquet_scan", "schema": schema}}}});
    let mut plan = NativePlan::create(message.to_string().as_bytes()).unwrap();
    let mut out = Vec::new();
    while let Some(batch) = plan.next_batch().unwrap() {
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        out.extend((0..id.len()).map(|i| id.value(i)));
    }
    out.sort_unstable();
    out
}

#[test]
fn old_signed_statistics_do_not_prune_rows() {
    let file = old_format_file();
    // The signed statistics say the first group's bin is at most 0x05 and its s at most "e".
    let gt = |c: usize, ty: &str, value: Value| {
        json!({"kind": "binary", "op": "gt", "type": "boolean", "left": col(c),
               "right": {"kind": "literal", "type": ty, "value": value}})
    };
    assert_eq!(ids(&file, gt(1, "binary", json!("10"))), [2]);
    assert_eq!(ids(&file, gt(2, "string", json!("f"))), [2]);
    assert_eq!(ids(&file, gt(0, "bigint", json!(2))), [3, 4]);

    // What the scan reads of the footer: the byte arrays' minimums and maximums gone, their
    // null counts kept; the bigint's statistics as they were.
    let bytes = bytes::Bytes::from(std::fs::read(&file.0).unwrap());
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes)
        .unwrap();
    let read = cinder_jni::parquet_stats::without_untrusted_statistics(Arc::new(metadata)).unwrap();
    for group in read.row_groups() {
        let [id, bin, s] = group.columns() else {
            panic!("three columns")
        };
        assert!(id.statistics().unwrap().min_bytes_opt().is_some());
        for c in [bin, s] {
            let stats = c.statistics().unwrap();
            assert_eq!((stats.min_bytes_opt(), stats.max_bytes_opt()), (None, None));
            assert_eq!(stats.null_count_opt(), Some(0));
        }
    }
    std::fs::remove_dir_all(std::path::Path::new(&file.0).parent().unwrap()).unwrap();
}
