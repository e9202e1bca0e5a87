//! Whether two answers to a query agree: exactly for integers, decimals, strings, dates and
//! booleans; within a relative 1e-9 for floats. Rows are compared in order first (the TPC-H
//! queries sort their answers); if that fails, in a canonical order, since rows that tie on
//! the ORDER BY keys may come out in either order.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// One value of an answer.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Float(f64),
    Text(String),
}

impl Cell {
    fn agrees(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Float(a), Cell::Float(b)) => {
                a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
            }
            (a, b) => a == b,
        }
    }

    /// A sort key that floats within the tolerance almost always share.
    fn key(&self) -> String {
        match self {
            Cell::Null => "\u{0}null".to_string(),
            Cell::Float(v) => format!("{v:.6e}"),
            Cell::Text(s) => s.clone(),
        }
    }
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<Cell>>, String> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for batch in batches {
        let mut columns: Vec<Vec<Cell>> = Vec::with_capacity(batch.num_columns());
        for column in batch.columns() {
            let cells = match column.data_type() {
                DataType::Float64 => column
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.map_or(Cell::Null, Cell::Float))
                    .collect(),
                DataType::Float32 => column
                    .as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| v.map_or(Cell::Null, |v| Cell::Float(f64::from(v))))
                    .collect(),
                _ => {
                    let formatter = ArrayFormatter::try_new(column.as_ref(), &options)
                        .map_err(|e| e.to_string())?;
                    (0..column.len())
                        .map(|i| {
                            if column.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Text(formatter.value(i).to_string())
                            }
                        })
                        .collect()
                }
            };
            columns.push(cells);
        }
        for row in 0..batch.num_rows() {
            out.push(columns.iter().map(|c| c[row].clone()).collect());
        }
    }
    Ok(out)
}

fn first_difference(expected: &[Vec<Cell>], got: &[Vec<Cell>]) -> Option<String> {
    expected
        .iter()
        .zip(got)
        .enumerate()
        .find(|(_, (e, g))| e.len() != g.len() || e.iter().zip(g.iter()).any(|(a, b)| !a.agrees(b)))
        .map(|(i, (e, g))| format!("row {i}: expected {e:?}, got {g:?}"))
}

/// `Ok` when `got` agrees with `expected`, else what differs first.
pub fn compare(expected: &[RecordBatch], got: &[RecordBatch]) -> Result<(), String> {
    let types = |batches: &[RecordBatch]| {
        batches.first().map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect::<Vec<_>>()
        })
    };
    if let (Some(e), Some(g)) = (types(expected), types(got))
        && e != g
    {
        return Err(format!("column types differ: expected {e:?}, got {g:?}"));
    }
    let (mut e, mut g) = (rows(expected)?, rows(got)?);
    if e.len() != g.len() {
        return Err(format!("expected {} rows, got {}", e.len(), g.len()));
    }
    if first_difference(&e, &g).is_none() {
        return Ok(());
    }
    let sort = |rows: &mut Vec<Vec<Cell>>| {
        rows.sort_by_cached_key(|row| row.iter().map(Cell::key).collect::<Vec<_>>())
    };
    sort(&mut e);
    sort(&mut g);
    match first_difference(&e, &g) {
        None => Ok(()),
        Some(diff) => Err(diff),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Decimal128Array, Float64Array, Int64Array};

    use super::*;

    fn batch(ints: Vec<i64>, floats: Vec<f64>, decimals: Vec<i128>) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ints)),
            Arc::new(Float64Array::from(floats)),
            Arc::new(
                Decimal128Array::from(decimals)
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
        ];
        RecordBatch::try_from_iter(["i", "f", "d"].into_iter().zip(columns)).unwrap()
    }

    #[test]
    fn exact_for_decimals_tolerant_for_floats_and_ties_in_any_order() {
        let a = batch(vec![1, 2], vec![0.1 + 0.2, 1e10], vec![100, 200]);
        let close = batch(vec![1, 2], vec![0.3, 1e10 + 1e-3], vec![100, 200]);
        assert!(compare(std::slice::from_ref(&a), &[close]).is_ok());
        let far = batch(vec![1, 2], vec![0.3, 1e10 + 100.0], vec![100, 200]);
        assert!(compare(std::slice::from_ref(&a), &[far]).is_err());
        let cent = batch(vec![1, 2], vec![0.3, 1e10], vec![100, 201]);
        let err = compare(std::slice::from_ref(&a), &[cent]).unwrap_err();
        assert!(err.contains("2.01"), "{err}");
        let swapped = batch(vec![2, 1], vec![1e10, 0.3], vec![200, 100]);
        assert!(compare(std::slice::from_ref(&a), &[swapped]).is_ok());
        let short = batch(vec![1], vec![0.3], vec![100]);
        assert!(
            compare(std::slice::from_ref(&a), &[short])
                .unwrap_err()
                .contains("expected 2 rows")
        );
        let split = [a.slice(0, 1), a.slice(1, 1)];
        assert!(compare(&[a], &split).is_ok());
    }
}
