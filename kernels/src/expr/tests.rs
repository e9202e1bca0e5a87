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

/// As the planner builds it: coerced, then simplified (constants folded: casts of literals,
/// `DATE '1994-01-01' + INTERVAL '1' YEAR`).
fn simplified(_ctx: &SessionContext, sql: &str, schema: &Schema) -> Arc<dyn PhysicalExpr> {
    super::physical_from_sql(sql, schema).unwrap()
}

/// Evaluates `sql` both ways on `batch`, as written and simplified; both must succeed with
/// equal arrays or both fail.
fn check(ctx: &SessionContext, sql: &str, batch: &RecordBatch) -> Program {
    let expr = simplified(ctx, sql, batch.schema_ref());
    check_expr(sql, &expr, batch);
    let expr = physical(ctx, sql, batch.schema_ref());
    check_expr(sql, &expr, batch)
}

fn check_expr(sql: &str, expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Program {
    let program = translate(expr, batch.schema_ref()).unwrap_or_else(|e| panic!("{sql}: {e}"));
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
    // Decimals: Arrow's result types and rescaling; overflow and division by zero fail.
    "m + n",
    "m - n",
    "m * n",
    "n * dsc",
    "m / dnz",
    "n / dnz",
    "m % dnz",
    "n % dnz",
    "m + 1",
    "m * (1 - dsc)",
    "m * (1 - dsc) * (1 + dsc)",
    "-m",
    "-w",
    "m < n",
    "m = m",
    "w >= w",
    "m < 24",
    "dsc BETWEEN 0.05 AND 0.07",
    "m IN (1.5, 2, -3.25)",
    "dsc NOT IN (0.01, NULL)",
    "w + w",
    "w * dsc",
    "w / dnz",
    "n * n",
    "CAST(dnz AS DECIMAL(38, 10)) / dnz",
    "CAST(dsc AS DECIMAL(38, 30)) / dnz",
    "CAST(dsc AS DECIMAL(38, 36)) * dsc",
    "CAST(m AS DOUBLE)",
    "CAST(n AS DOUBLE)",
    "CAST(w AS DOUBLE)",
    "CAST(a AS DECIMAL(10, 2))",
    "CAST(a AS DECIMAL(12, 2))",
    "CAST(c AS DECIMAL(38, 5))",
    "CAST(c AS DECIMAL(20, 2))",
    "TRY_CAST(c AS DECIMAL(20, 2))",
    "CAST(m AS DECIMAL(10, 1))",
    "TRY_CAST(m AS DECIMAL(10, 1))",
    "CAST(m AS DECIMAL(16, 1))",
    "CAST(n AS DECIMAL(20, 6))",
    "CAST(n AS DECIMAL(12, 6))",
    "TRY_CAST(n AS DECIMAL(12, 6))",
    "CAST(w AS DECIMAL(38, 0))",
    "CAST(dsc AS DECIMAL(5, 1))",
    "CAST(c AS INT)",
    "TRY_CAST(c AS INT)",
    "CAST(x AS BIGINT)",
    "TRY_CAST(x AS BIGINT)",
    "TRY_CAST(x AS INT)",
    "CAST(CAST(a AS DOUBLE) / 3 AS BIGINT)",
    "CAST(CAST(a AS DOUBLE) / 7 AS INT)",
    "CAST(x AS DECIMAL(20, 4))",
    "TRY_CAST(x AS DECIMAL(38, 10))",
    "TRY_CAST(x * 0.01 AS DECIMAL(38, 15))",
    "CAST(CAST(a AS DOUBLE) * 0.5 AS DECIMAL(20, 2))",
    "CAST(CAST(c AS DOUBLE) * 1e10 AS DECIMAL(38, 2))",
    "CAST(CAST(m AS DOUBLE) * 0.2 AS DECIMAL(30, 15))",
    "CAST(dt AS INT) + 1",
    "CAST(dt AS BIGINT) * 86400",
    "CAST(a AS DATE) < dt",
    "CAST(c AS DATE) IS NULL",
    "TRY_CAST(c AS DATE) IS NULL",
    "CAST(CAST(a AS BIGINT) AS DATE)",
    "TRY_CAST(d AS INT) IS NULL",
    // Dates.
    "extract(year FROM dt)",
    "date_part('month', dt)",
    "date_part('quarter', dt)",
    "date_part('day', dt)",
    // CASE: only the branch taken counts, as in DataFusion.
    "CASE WHEN a > 1 THEN c ELSE d END",
    "CASE WHEN p THEN a WHEN q THEN b END",
    "CASE WHEN p THEN a WHEN q THEN b ELSE NULL END",
    "CASE a WHEN 1 THEN x WHEN 2 THEN y ELSE 0.5 END",
    "CASE c WHEN 5 THEN p = q END",
    "CASE WHEN b <> 0 AND b <> -1 THEN a / b ELSE 0 END",
    "CASE WHEN nz64 > 2 THEN c / (nz64 - 2) WHEN nz64 < 2 THEN c END",
    "CASE WHEN dsc > 0.05 THEN m * dsc ELSE m END",
    "CASE WHEN p THEN m END + 1",
];

/// Supported once the planner has folded their constants (date + interval).
const SUPPORTED_SIMPLIFIED: &[&str] = &[
    "dt >= DATE '1994-01-01' AND dt < DATE '1994-01-01' + INTERVAL '1' YEAR",
    "dt BETWEEN DATE '1995-01-01' - INTERVAL '3' MONTH AND DATE '1996-12-31'",
];

#[test]
fn host_evaluator_matches_datafusion() {
    let ctx = SessionContext::new();
    for (rows, offset, seed) in [(0, 0, 1), (1, 0, 2), (257, 3, 3), (5000, 1, 4)] {
        let batch = batch(rows, offset, seed);
        for sql in SUPPORTED {
            check(&ctx, sql, &batch);
        }
        for sql in SUPPORTED_SIMPLIFIED {
            check_expr(sql, &simplified(&ctx, sql, batch.schema_ref()), &batch);
        }
    }
}

/// Every field of the dates around the ends of the range Arrow's date_part takes, and of
/// the extreme Date32 values (null there), against DataFusion.
#[test]
fn date_parts_at_the_edges_match_datafusion() {
    use super::host::DATE_PART_DAYS;
    use arrow::array::Date32Array;
    let (min, max) = DATE_PART_DAYS;
    let mut days = vec![
        i32::MIN,
        i32::MAX,
        min - 1,
        min,
        min + 1,
        max - 1,
        max,
        max + 1,
    ];
    // Leap days, century rules and the epoch.
    days.extend((-800_000..800_000).step_by(997));
    days.extend([-1, 0, 1, 59, 60, 10_956, 11_016, 11_017, -719_528, -719_162]);
    let schema = Arc::new(Schema::new(vec![Field::new("dt", DataType::Date32, true)]));
    let batch =
        RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Date32Array::from(days))]).unwrap();
    let ctx = SessionContext::new();
    for part in ["year", "quarter", "month", "day"] {
        check(&ctx, &format!("date_part('{part}', dt)"), &batch);
    }
}

/// A fault inside a CASE branch that no row takes does not fail the evaluation (DataFusion
/// evaluates a branch only on the rows that take it); one in a taken branch does.
#[test]
fn case_faults_count_only_in_taken_branches() {
    let ctx = SessionContext::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(vec![
                Some(6),
                Some(7),
                None,
                Some(i64::MIN),
            ])),
            Arc::new(Int64Array::from(vec![Some(2), Some(0), Some(0), Some(-1)])),
        ],
    )
    .unwrap();
    let safe = "CASE WHEN b = 0 THEN -1 WHEN b = -1 THEN 0 ELSE a / b END";
    let unsafe_ = "CASE WHEN b <> 0 THEN a / b ELSE a END";
    let condition = "CASE WHEN a / b > 1 THEN 1 ELSE 0 END";
    for sql in [safe, unsafe_, condition] {
        check(&ctx, sql, &batch);
    }
    let eval = |sql: &str| {
        evaluate(
            &translate(&physical(&ctx, sql, &schema), &schema).unwrap(),
            &batch,
        )
    };
    assert!(eval(safe).is_ok());
    assert!(
        eval(unsafe_).is_err(),
        "MIN / -1 overflows on a taken branch"
    );
    assert!(
        eval(condition).is_err(),
        "a condition is evaluated before the branch"
    );
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
        ("s || 'x' = 'y'", "operator || is not supported yet"),
        ("CAST(a > 1 AS INT)", "cast from Bool to I32"),
        ("a & 3", "operator & is not supported yet"),
        ("CAST(s AS INT)", "cast from Str to I32"),
        (
            "date_part('week', CAST(a AS DATE))",
            "date part week is not supported",
        ),
        ("abs(a)", "function abs is not supported yet"),
        (
            "CASE x WHEN 1.0 THEN 1 END",
            "CASE <Float64> WHEN ... is not supported",
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

/// The date range the device assumes is the one Arrow's date_part takes.
#[test]
fn date_part_range_is_arrows() {
    use super::host::DATE_PART_DAYS;
    use arrow::temporal_conversions::date32_to_datetime;
    let (min, max) = DATE_PART_DAYS;
    assert!(date32_to_datetime(min - 1).is_none());
    assert!(date32_to_datetime(min).is_some());
    assert!(date32_to_datetime(max).is_some());
    assert!(date32_to_datetime(max + 1).is_none());
}

#[test]
fn string_expressions_match_datafusion() {
    let ctx = SessionContext::new();
    for rows in [0, 1, 500] {
        let batch = super::samples::string_batch(rows);
        for sql in super::samples::STRING_EXPRESSIONS {
            check(&ctx, sql, &batch);
        }
    }
    // What stays on the CPU, and why.
    let schema = super::samples::string_batch(1).schema();
    for (sql, why) in [
        ("s LIKE 'a_c'", "with _ or escapes"),
        ("s ILIKE 'a%'", "ILIKE"),
        ("s LIKE t", "constant string"),
        ("substr(s, a, 2) = 'x'", "start must be a constant"),
        ("upper(s) = 'A'", "function upper"),
    ] {
        let expr = physical(&ctx, sql, &schema);
        let err = translate(&expr, &schema).unwrap_err().to_string();
        assert!(err.contains(why), "{sql}: {err}");
    }
}
