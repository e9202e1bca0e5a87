//! Host reference checks that do not need DataFusion's AggregateExec (that comparison is in
//! planner-bridge/tests/aggregate.rs).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array,
    StringViewArray,
};
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn arr(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

#[test]
fn groups_in_first_seen_order_with_null_keys() {
    let a = arr(&[Some(3), None, Some(3), Some(1), None, Some(1)]);
    let b: ArrayRef = Arc::new(StringViewArray::from(vec![
        Some("x"),
        Some("x"),
        Some("x"),
        None,
        Some("x"),
        Some("y"),
    ]));
    let g = group_host(&[Arc::clone(&a), Arc::clone(&b)], 6).unwrap();
    assert_eq!(g.ids, vec![0, 1, 0, 2, 1, 3]);
    assert_eq!(g.first_rows, vec![0, 1, 3, 5]);
    let keys = group_keys(&[a, b], &g).unwrap();
    assert_eq!(
        keys[0].as_ref(),
        &Int64Array::from(vec![Some(3), None, Some(1), Some(1)]) as &dyn Array
    );
    assert_eq!(keys[1].null_count(), 1);
}

#[test]
fn float_keys_fold_negative_zero_and_keep_nan_bits() {
    let nan2 = f64::from_bits(f64::NAN.to_bits() | 1);
    let k: ArrayRef = Arc::new(Float64Array::from(vec![
        -0.0,
        0.0,
        f64::NAN,
        nan2,
        f64::NAN,
    ]));
    let g = group_host(&[Arc::clone(&k)], 5).unwrap();
    assert_eq!(g.ids, vec![0, 0, 1, 2, 1]);
    let keys = group_keys(&[k], &g).unwrap();
    let first = keys[0]
        .as_primitive::<arrow::datatypes::Float64Type>()
        .value(0);
    assert_eq!(first.to_bits(), 0.0f64.to_bits(), "-0.0 is emitted as +0.0");
}

#[test]
fn no_keys_is_one_group_even_when_empty() {
    let g = group_host(&[], 0).unwrap();
    assert_eq!((g.count, g.ids.len()), (1, 0));
    let spec = AggregateSpec::new(AggFunc::Sum, Some(&DataType::Int64), false).unwrap();
    let ops = spec.update_ops(Some(0));
    let results = accumulate_host(&ops, &[arr(&[])], &g).unwrap();
    assert_eq!(results[0].seen, vec![false]);
}

#[test]
fn operations_skip_nulls_wrap_and_order() {
    let groups = group_host(&[arr(&[Some(1), Some(2), Some(1), Some(2), Some(3)])], 5).unwrap();
    let v = arr(&[Some(i64::MAX), None, Some(2), Some(-5), None]);
    let ops = [
        Op {
            kind: OpKind::Count,
            input: Some(0),
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Count,
            input: None,
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Sum64,
            input: Some(0),
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Min64,
            input: Some(0),
            read: ValueRead::I64,
        },
        Op {
            kind: OpKind::Max64,
            input: Some(0),
            read: ValueRead::I64,
        },
    ];
    let r = accumulate_host(&ops, &[v], &groups).unwrap();
    assert_eq!(r[0].values, OpValues::I64(vec![2, 1, 0]));
    assert_eq!(r[1].values, OpValues::I64(vec![2, 2, 1]));
    assert_eq!(
        r[2].values,
        OpValues::I64(vec![i64::MAX.wrapping_add(2), -5, 0])
    );
    assert_eq!(r[2].seen, vec![true, true, false]);
    assert_eq!(r[3].values, OpValues::I64(vec![2, -5, 0]));
    assert_eq!(r[4].values, OpValues::I64(vec![i64::MAX, -5, 0]));
}

#[test]
fn float_min_max_keys_follow_total_order() {
    let values = [
        f64::NEG_INFINITY,
        -1.5,
        -0.0,
        0.0,
        2.0,
        f64::INFINITY,
        f64::NAN,
    ];
    let keys: Vec<i64> = values
        .iter()
        .map(|v| f64_order_key(v.to_bits() as i64))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    for v in values {
        let k = f64_order_key(v.to_bits() as i64);
        assert_eq!(f64_order_key(k) as u64, v.to_bits());
    }
}

#[test]
fn decimal_avg_truncates_and_checks_precision() {
    // avg of Decimal128(15,2) values 1.00 and 2.01 (sum 3.01, count 2) = 1.505000 at scale 6.
    assert_eq!(decimal_avg(301, 2, 2, 19, 6).unwrap(), 1_505_000);
    // Truncation toward zero: -1/3 at scale 4 from scale 0 = -0.3333.
    assert_eq!(decimal_avg(-1, 3, 0, 10, 4).unwrap(), -3333);
    let err = decimal_avg(i128::MAX / 10, 1, 2, 38, 6).unwrap_err();
    assert_eq!(err.to_string(), AVG_OVERFLOW);
    let err = decimal_avg(10i128.pow(17), 1, 2, 19, 6).unwrap_err();
    assert_eq!(err.to_string(), AVG_OVERFLOW);
}

#[test]
fn specs_follow_datafusion_types() {
    let d = DataType::Decimal128(15, 2);
    let sum = AggregateSpec::new(AggFunc::Sum, Some(&d), true).unwrap();
    assert_eq!(sum.result, DataType::Decimal128(25, 2));
    let avg = AggregateSpec::new(AggFunc::Avg, Some(&d), true).unwrap();
    assert_eq!(avg.result, DataType::Decimal128(19, 6));
    assert_eq!(
        avg.state,
        vec![DataType::UInt64, DataType::Decimal128(38, 2)]
    );
    let wide = AggregateSpec::new(AggFunc::Avg, Some(&DataType::Decimal128(30, 2)), true);
    assert!(wide.unwrap_err().contains("Decimal256"));
    assert!(AggregateSpec::new(AggFunc::Max, Some(&DataType::Float64), true).is_err());
    assert!(AggregateSpec::new(AggFunc::Max, Some(&DataType::Float64), false).is_ok());
    assert!(AggregateSpec::new(AggFunc::Sum, Some(&DataType::Utf8), false).is_err());
    assert_eq!(
        AggregateSpec::new(AggFunc::Sum, Some(&DataType::Decimal128(38, 4)), true)
            .unwrap()
            .result,
        DataType::Decimal128(38, 4)
    );
}

/// Partial on half the rows, partial on the other half, then a merge of both states, equals
/// one pass over all rows: for every supported function and type.
#[test]
fn partial_then_merge_equals_single() {
    let n = 400;
    let key: ArrayRef = Arc::new(Int32Array::from(
        (0..n)
            .map(|i| (i % 7 != 3).then_some(i % 5))
            .collect::<Vec<_>>(),
    ));
    let int: ArrayRef = arr(&(0..n)
        .map(|i| (i % 3 != 0).then_some(i as i64 * 7919 - 1000))
        .collect::<Vec<_>>());
    let dec: ArrayRef = Arc::new(
        Decimal128Array::from(
            (0..n)
                .map(|i| (i % 4 != 1).then_some(i as i128 * 101 - 999))
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(15, 2)
        .unwrap(),
    );
    let flag: ArrayRef = Arc::new(BooleanArray::from(
        (0..n)
            .map(|i| (i % 6 != 0).then_some(i % 2 == 0))
            .collect::<Vec<_>>(),
    ));
    let cases: Vec<(AggFunc, ArrayRef)> = vec![
        (AggFunc::Count, Arc::clone(&int)),
        (AggFunc::Sum, Arc::clone(&int)),
        (AggFunc::Sum, Arc::clone(&dec)),
        (AggFunc::Min, Arc::clone(&dec)),
        (AggFunc::Max, Arc::clone(&dec)),
        (AggFunc::Min, Arc::clone(&key)),
        (AggFunc::Max, Arc::clone(&flag)),
        (AggFunc::Avg, Arc::clone(&dec)),
    ];
    let specs: Vec<AggregateSpec> = cases
        .iter()
        .map(|(f, a)| AggregateSpec::new(*f, Some(a.data_type()), true).unwrap())
        .collect();
    let agg = Aggregation {
        keys: Vec::new(), // unused: inputs are given directly
        args: vec![None; 0],
        specs: specs.clone(),
    };
    let update: Vec<Op> = specs
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.update_ops(Some(i)))
        .collect();
    let args: Vec<ArrayRef> = cases.iter().map(|(_, a)| Arc::clone(a)).collect();
    let mut fields = vec![Field::new("k", DataType::Int32, true)];
    for (i, s) in specs.iter().enumerate() {
        for (j, t) in s.state.iter().enumerate() {
            fields.push(Field::new(format!("s{i}_{j}"), t.clone(), true));
        }
    }
    let state_schema = Arc::new(Schema::new(fields));
    let mut final_fields = vec![Field::new("k", DataType::Int32, true)];
    for (i, s) in specs.iter().enumerate() {
        final_fields.push(Field::new(format!("f{i}"), s.result.clone(), true));
    }
    let final_schema = Arc::new(Schema::new(final_fields));

    let single = {
        let (keys, results) =
            aggregate_host(&[Arc::clone(&key)], &args, &update, n as usize).unwrap();
        emit(
            &specs,
            true,
            true,
            keys,
            &results,
            Arc::clone(&final_schema),
        )
        .unwrap()
    };
    let half = |from: usize, len: usize| {
        let k = key.slice(from, len);
        let a: Vec<ArrayRef> = args.iter().map(|a| a.slice(from, len)).collect();
        let (keys, results) = aggregate_host(&[k], &a, &update, len).unwrap();
        emit(
            &specs,
            false,
            true,
            keys,
            &results,
            Arc::clone(&state_schema),
        )
        .unwrap()
    };
    let states =
        arrow::compute::concat_batches(&state_schema, &[half(0, 150), half(150, n as usize - 150)])
            .unwrap();
    let (keys, inputs) = (
        states.columns()[..1].to_vec(),
        states.columns()[1..].to_vec(),
    );
    assert_eq!(inputs.len(), agg.state_width());
    let (keys, results) =
        aggregate_host(&keys, &inputs, &agg.merge_ops(), states.num_rows()).unwrap();
    let merged = emit(&specs, true, true, keys, &results, final_schema).unwrap();
    // Same groups; the merge sees them in a different first-seen order, so sort by key.
    let sort = |b: &arrow::array::RecordBatch| {
        let idx = arrow::compute::sort_to_indices(b.column(0), None, None).unwrap();
        arrow::compute::take_record_batch(b, &idx).unwrap()
    };
    assert_eq!(sort(&single), sort(&merged));
    assert_eq!(single.num_rows(), 6, "5 keys and null");
}
