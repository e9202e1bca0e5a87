//! The host interpreter against DataFusion's own evaluation of the same physical expressions,
//! built the way DataFusion's planner builds them (SQL -> logical -> coerced physical).

use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use super::samples::batch;
use super::{Program, evaluate, translate};

fn physical(ctx: &SessionContext, sql: &str, schema: &Schema) -> Arc<dyn PhysicalExpr> {
    let df_schema = DFSchema::try_from(schema.clone()).unwrap();
    let logical = ctx.parse_sql_expr(sql, &df_schema).unwrap();
    ctx.create_physical_expr(logical, &df_schema).unwrap()
}

/// Evaluates `sql` both ways on `batch`; both must succeed with equal arrays or both fail.
fn check(ctx: &SessionContext, sql: &str, batch: &RecordBatch) -> Program {
    let expr = physical(ctx, sql, batch.schema_ref());
    let program = translate(&expr, batch.schema_ref()).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ours = evaluate(&program, batch);
    let theirs = expr
        .evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()));
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            assert_eq!(ours.data_type(), theirs.data_type(), "{sql}");
            assert_eq!(&ours, &theirs, "{sql} (physical: {expr})\n{program}");
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("{sql}: host {ours:?} but DataFusion {theirs:?}"),
    }
    program
}

/// Arrow's float comparisons, pinned down: `=` and `<` order by IEEE total order except that
/// -0.0 equals 0.0; IN lists match by total order, so -0.0 is not in (0.0).
#[test]
fn float_comparisons_follow_arrow() {
    use arrow::array::Float64Array;
    let ctx = SessionContext::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
    ]));
    let values = [
        f64::NAN,
        -f64::NAN,
        -0.0,
        0.0,
        1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let (xs, ys): (Vec<f64>, Vec<f64>) = values
        .iter()
        .flat_map(|&a| values.iter().map(move |&b| (a, b)))
        .unzip();
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Float64Array::from(xs)),
            Arc::new(Float64Array::from(ys)),
        ],
    )
    .unwrap();
    for sql in [
        "x = y",
        "x <> y",
        "x < y",
        "x <= y",
        "x > y",
        "x >= y",
        "x IN (0.0, 1.0)",
        "x IN (-0.0)",
        "x NOT IN (0.0)",
    ] {
        check(&ctx, sql, &batch);
    }
}

const SUPPORTED: &[&str] = &[
    "a + b",
    "a - b",
    "a * b",
    "c + d",
    "c - d",
    "c * d",
    "x + y",
    "x - y",
    "x * y",
    "x / y",
    "x % y",
    "-a",
    "-c",
    "-x",
    "a / nz",
    "a % nz",
    "c / nz64",
    "c % nz64",
    "a / b",
    "c % d",
    "a = b",
    "a <> b",
    "a < b",
    "a <= b",
    "a > b",
    "a >= b",
    "c < d",
    "x = y",
    "x <> y",
    "x < y",
    "x >= y",
    "p = q",
    "dt < dt",
    "p AND q",
    "p OR q",
    "NOT p",
    "a IS NULL",
    "x IS NOT NULL",
    "a IN (1, 2, 3)",
    "a NOT IN (1, 2)",
    "a IN (1, NULL)",
    "a NOT IN (1, NULL)",
    "c IN (5, 7, -1)",
    "a + c",
    "a + x",
    "c * x",
    "a BETWEEN 1 AND 10",
    "x NOT BETWEEN -5.5 AND 5.5",
    "(a > 0 AND x < 0.5) OR NOT p",
    "(c + d) * 2 > c - 1",
    "p IS NULL OR (q AND a IS NOT NULL)",
];

#[test]
fn host_evaluator_matches_datafusion() {
    let ctx = SessionContext::new();
    for (rows, offset, seed) in [(0, 0, 1), (1, 0, 2), (257, 3, 3), (5000, 1, 4)] {
        let batch = batch(rows, offset, seed);
        for sql in SUPPORTED {
            check(&ctx, sql, &batch);
        }
    }
}

#[test]
fn division_by_zero_and_overflow_fail_like_datafusion() {
    let ctx = SessionContext::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
    ]));
    let rows = |a: Vec<Option<i64>>, b: Vec<Option<i64>>| {
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(a)), Arc::new(Int64Array::from(b))],
        )
        .unwrap()
    };
    // Zero divisor: an error; but not under a null dividend.
    let zero = rows(vec![Some(1), Some(2)], vec![Some(1), Some(0)]);
    let masked = rows(vec![Some(1), None], vec![Some(1), Some(0)]);
    let min = rows(vec![Some(i64::MIN)], vec![Some(-1)]);
    for (sql, batch) in [
        ("a / b", &zero),
        ("a % b", &zero),
        ("a / b", &masked),
        ("a / b", &min),
        ("a % b", &min),
        ("a * b", &min),
        ("a - b", &min),
    ] {
        check(&ctx, sql, batch);
    }
    let expr = physical(&ctx, "a / b", &schema);
    assert!(evaluate(&translate(&expr, &schema).unwrap(), &zero).is_err());
    assert!(evaluate(&translate(&expr, &schema).unwrap(), &masked).is_ok());
}

#[test]
fn checked_arithmetic_is_recognised() {
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, col};
    let schema = Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
    ]);
    let plus = |checked| -> Arc<dyn PhysicalExpr> {
        Arc::new(
            BinaryExpr::new(
                col("a", &schema).unwrap(),
                Operator::Plus,
                col("b", &schema).unwrap(),
            )
            .with_fail_on_overflow(checked),
        )
    };
    let batch = RecordBatch::try_new(
        Arc::new(schema.clone()),
        vec![
            Arc::new(Int64Array::from(vec![i64::MAX])),
            Arc::new(Int64Array::from(vec![1])),
        ],
    )
    .unwrap();
    let wrapping = evaluate(&translate(&plus(false), &schema).unwrap(), &batch).unwrap();
    assert_eq!(
        wrapping
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0),
        i64::MIN
    );
    assert!(evaluate(&translate(&plus(true), &schema).unwrap(), &batch).is_err());
    assert!(plus(true).evaluate(&batch).is_err(), "DataFusion agrees");
}

#[test]
fn unsupported_expressions_say_why() {
    let ctx = SessionContext::new();
    let schema = Schema::new(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("x", DataType::Float64, true),
    ]);
    for (sql, why) in [
        ("s = 'x'", "type Utf8 is not supported yet"),
        ("CAST(x AS INT)", "cast from F64 to I32"),
        (
            "CASE WHEN a > 1 THEN 1 ELSE 2 END",
            "this kind of expression is not supported yet",
        ),
        ("a IN (1, a)", "IN list items must be literals"),
    ] {
        let expr = physical(&ctx, sql, &schema);
        let err = translate(&expr, &schema).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("not supported on GPU: "), "{text}");
        assert!(text.contains(why), "{sql}: {text}");
    }
}
