//! Spark's window functions ([`Node::Window`](crate::message::Node::Window)) as DataFusion's
//! window operators: the ranking functions and `ntile`, `lag`/`lead`,
//! `first`/`last`/`nth_value` and aggregates over ROWS and RANGE frames.
//!
//! Spark's WindowExec reads each partition's rows in the window's order; so do DataFusion's
//! operators, over input sorted by the partition keys and then the order keys (a sort is put
//! in unless the input already has that order). Floats are grouped and ordered as Spark does
//! (`-0.0 = 0.0`, `NaN = NaN` and largest): partition and order keys go through
//! [`SparkNormalizeFloat`](crate::planner::SparkNormalizeFloat), and the min and max of floats
//! take Spark's order through [`SparkFloatKey`].

use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions_window::cume_dist::cume_dist_udwf;
use datafusion::functions_window::lead_lag::{lag_udwf, lead_udwf};
use datafusion::functions_window::nth_value::{first_value_udwf, last_value_udwf, nth_value_udwf};
use datafusion::functions_window::ntile::ntile_udwf;
use datafusion::functions_window::rank::{dense_rank_udwf, percent_rank_udwf, rank_udwf};
use datafusion::functions_window::row_number::row_number_udwf;
use datafusion::logical_expr::{
    WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition, WindowUDF,
};
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal};
use datafusion::physical_expr::window::SlidingAggregateWindowExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::windows::{
    BoundedWindowAggExec, PlainAggregateWindowExpr, WindowAggExec, WindowExpr, create_window_expr,
};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, InputOrderMode};

use crate::error::{NativeError, Result};
use crate::float_order::SparkFloatKey;
use crate::message::{Expr, FrameUnits, Shift, SortKey, WindowCall, WindowFrameSpec};
use crate::planner::{aggregate_expr, normalize_float, single_partition, translate};

/// How a function's DataFusion column becomes Spark's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    /// As it is.
    Same,
    /// DataFusion's `UInt64` counts as Spark's `int`.
    Int,
    /// The min or max of floats, over integer keys: mapped back to floats.
    FloatKey,
}

/// A [`Node::Window`](crate::message::Node::Window) over `input`: its columns, then one per
/// function, each of Spark's type.
pub fn build_window(
    partition_by: &[Expr],
    order_by: &[SortKey],
    functions: &[WindowCall],
    input: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if functions.is_empty() {
        return Err(NativeError::plan("a window needs at least one function"));
    }
    let input = single_partition(input);
    let schema = input.schema();
    let partition = partition_by
        .iter()
        .map(|e| normalize_float(translate(e, &schema)?, &schema))
        .collect::<Result<Vec<_>>>()?;
    let order = order_by
        .iter()
        .map(|key| {
            Ok(PhysicalSortExpr::new(
                normalize_float(translate(&key.expr, &schema)?, &schema)?,
                SortOptions {
                    descending: !key.ascending,
                    nulls_first: key.nulls_first,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // Spark's WindowExec reads its input sorted by the partition keys (ascending, nulls
    // first), then the order.
    let required = partition
        .iter()
        .map(|e| {
            PhysicalSortExpr::new(
                Arc::clone(e),
                SortOptions {
                    descending: false,
                    nulls_first: true,
                },
            )
        })
        .chain(order.iter().cloned())
        .collect::<Vec<_>>();
    let input = match LexOrdering::new(required.clone()) {
        Some(ordering)
            if !input
                .equivalence_properties()
                .ordering_satisfy(required)
                .map_err(|e| NativeError::plan(e.to_string()))? =>
        {
            Arc::new(SortExec::new(ordering, input)) as Arc<dyn ExecutionPlan>
        }
        _ => input,
    };
    let mut exprs = Vec::with_capacity(functions.len());
    let mut outputs = Vec::with_capacity(functions.len());
    for (i, function) in functions.iter().enumerate() {
        let name = format!("cinder_window_{i}");
        let (expr, output) = window_expr(function, name, &partition, &order, &input)?;
        exprs.push(expr);
        outputs.push(output);
    }
    // DataFusion 55's streaming operator loses IGNORE NULLS values that lie ahead past a gap
    // of nulls (a lead of 2 comes out null; apache/datafusion#25471): windows with lag or
    // lead IGNORE NULLS read the whole input first.
    let streaming_shift = functions.iter().any(|f| {
        matches!(
            f,
            WindowCall::Lead(Shift {
                ignore_nulls: true,
                ..
            }) | WindowCall::Lag(Shift {
                ignore_nulls: true,
                ..
            })
        )
    });
    let bounded = !streaming_shift && exprs.iter().all(|e| e.uses_bounded_memory());
    let window: Arc<dyn ExecutionPlan> = if bounded {
        Arc::new(
            BoundedWindowAggExec::try_new(exprs, input, InputOrderMode::Sorted, false)
                .map_err(|e| NativeError::plan(e.to_string()))?,
        )
    } else {
        Arc::new(
            WindowAggExec::try_new(exprs, input, false)
                .map_err(|e| NativeError::plan(e.to_string()))?,
        )
    };
    let out_schema = window.schema();
    let first_function = out_schema.fields().len() - functions.len();
    let columns = out_schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(field.name(), i));
            let expr = match i.checked_sub(first_function).map(|f| outputs[f]) {
                Some(Output::Int) => Arc::new(CastExpr::new(column, DataType::Int32, None)),
                Some(Output::FloatKey) => SparkFloatKey::value(column),
                Some(Output::Same) | None => column,
            };
            ProjectionExpr::new(expr, field.name().clone())
        })
        .collect::<Vec<_>>();
    Ok(Arc::new(
        ProjectionExec::try_new(columns, window).map_err(|e| NativeError::plan(e.to_string()))?,
    ))
}

/// The DataFusion window expression of `function`, and how its column becomes Spark's.
fn window_expr(
    function: &WindowCall,
    name: String,
    partition: &[Arc<dyn PhysicalExpr>],
    order: &[PhysicalSortExpr],
    input: &Arc<dyn ExecutionPlan>,
) -> Result<(Arc<dyn WindowExpr>, Output)> {
    let schema = input.schema();
    // The functions that read no frame (ranking functions, lag and lead) get Spark's.
    let running = Arc::new(WindowFrame::new_bounds(
        WindowFrameUnits::Rows,
        WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
        WindowFrameBound::CurrentRow,
    ));
    let udwf = |udwf: Arc<WindowUDF>,
                args: Vec<Arc<dyn PhysicalExpr>>,
                frame: Arc<WindowFrame>,
                ignore_nulls: bool| {
        create_window_expr(
            &WindowFunctionDefinition::WindowUDF(udwf),
            name.clone(),
            &args,
            partition,
            order,
            frame,
            Arc::clone(&schema),
            ignore_nulls,
            false,
            None,
        )
        .map_err(|e| NativeError::plan(format!("window function {function:?}: {e}")))
    };
    let ranked = |f: Arc<WindowUDF>, output: Output| {
        if order.is_empty() {
            return Err(NativeError::plan(format!(
                "window function {function:?} needs an order"
            )));
        }
        Ok((udwf(f, vec![], Arc::clone(&running), false)?, output))
    };
    match function {
        WindowCall::RowNumber => ranked(row_number_udwf(), Output::Int),
        WindowCall::Rank => ranked(rank_udwf(), Output::Int),
        WindowCall::DenseRank => ranked(dense_rank_udwf(), Output::Int),
        WindowCall::PercentRank => ranked(percent_rank_udwf(), Output::Same),
        WindowCall::CumeDist => ranked(cume_dist_udwf(), Output::Same),
        WindowCall::Ntile { n } => {
            if *n <= 0 {
                return Err(NativeError::plan(format!(
                    "ntile needs a positive number of buckets, not {n}"
                )));
            }
            if order.is_empty() {
                return Err(NativeError::plan("ntile needs an order".to_string()));
            }
            let n: Arc<dyn PhysicalExpr> = Arc::new(Literal::new(ScalarValue::Int64(Some(*n))));
            Ok((
                udwf(ntile_udwf(), vec![n], Arc::clone(&running), false)?,
                Output::Int,
            ))
        }
        WindowCall::Lag(Shift {
            arg,
            offset,
            default,
            ignore_nulls,
        })
        | WindowCall::Lead(Shift {
            arg,
            offset,
            default,
            ignore_nulls,
        }) => {
            let arg = translate(arg, &schema)?;
            let t = arg.data_type(&schema)?;
            let default = match default {
                Some(default) => {
                    let value = literal_value(&translate(default, &schema)?).ok_or_else(|| {
                        NativeError::plan(format!("{function:?}: the default is not a literal"))
                    })?;
                    if value.data_type() != t {
                        return Err(NativeError::plan(format!(
                            "{function:?}: the default is a {}, not a {t}",
                            value.data_type()
                        )));
                    }
                    value
                }
                None => ScalarValue::try_from(&t)?,
            };
            let f = if matches!(function, WindowCall::Lag(_)) {
                lag_udwf()
            } else {
                lead_udwf()
            };
            let args = vec![
                arg,
                Arc::new(Literal::new(ScalarValue::Int64(Some(*offset)))) as Arc<dyn PhysicalExpr>,
                Arc::new(Literal::new(default)),
            ];
            Ok((
                udwf(f, args, Arc::clone(&running), *ignore_nulls)?,
                Output::Same,
            ))
        }
        WindowCall::NthValue {
            arg,
            n,
            last,
            ignore_nulls,
            frame,
        } => {
            let arg = translate(arg, &schema)?;
            let (f, args) = match (n, last) {
                (None, false) => (first_value_udwf(), vec![arg]),
                (None, true) => (last_value_udwf(), vec![arg]),
                (Some(n), false) if *n > 0 => (
                    nth_value_udwf(),
                    vec![
                        arg,
                        Arc::new(Literal::new(ScalarValue::Int64(Some(*n))))
                            as Arc<dyn PhysicalExpr>,
                    ],
                ),
                _ => {
                    return Err(NativeError::plan(format!(
                        "{function:?}: n must be positive, and not with last"
                    )));
                }
            };
            let frame = window_frame(frame, order, &schema)?;
            Ok((udwf(f, args, frame, *ignore_nulls)?, Output::Same))
        }
        WindowCall::Aggregate { call, frame } => {
            if call.filter.is_some() {
                return Err(NativeError::plan(
                    "a window's aggregate takes no filter".to_string(),
                ));
            }
            let (aggregate, float_keyed) = aggregate_expr(call, name, &schema)?;
            let frame = window_frame(frame, order, &schema)?;
            let expr: Arc<dyn WindowExpr> = if frame.start_bound.is_unbounded() {
                Arc::new(PlainAggregateWindowExpr::new(
                    aggregate, partition, order, frame, None,
                ))
            } else {
                Arc::new(SlidingAggregateWindowExpr::new(
                    aggregate, partition, order, frame, None,
                ))
            };
            let output = if float_keyed {
                Output::FloatKey
            } else {
                Output::Same
            };
            Ok((expr, output))
        }
    }
}

/// DataFusion's frame for `spec` over a window ordered by `order` (over `schema`'s rows).
///
/// A RANGE frame's value offsets (`RANGE BETWEEN 1 PRECEDING AND ...`) need one integer or
/// timestamp order key (offsets in microseconds): the frame holds the rows whose key is within
/// the offsets of the current row's (DataFusion adds the offset to the key in the key's type;
/// where that overflows the frame reaches the partition's end, but Spark's plan checks those
/// additions first, with Spark's error).
fn window_frame(
    spec: &WindowFrameSpec,
    order: &[PhysicalSortExpr],
    schema: &SchemaRef,
) -> Result<Arc<WindowFrame>> {
    let unbounded = || ScalarValue::UInt64(None);
    // A range frame's offsets are of its key's type.
    let mut key_offset: Option<fn(u64) -> Option<ScalarValue>> = None;
    let units = match spec.units {
        // Without an order every row is a peer of every other: the frame is the partition.
        FrameUnits::Range if order.is_empty() => {
            return Ok(Arc::new(WindowFrame::new_bounds(
                WindowFrameUnits::Rows,
                WindowFrameBound::Preceding(unbounded()),
                WindowFrameBound::Following(unbounded()),
            )));
        }
        FrameUnits::Range => {
            if spec.start.is_some_and(|v| v != 0) || spec.end.is_some_and(|v| v != 0) {
                let [key] = order else {
                    return Err(NativeError::plan(format!(
                        "a range frame with value offsets needs one order key, not {}: {spec:?}",
                        order.len()
                    )));
                };
                let key_type = key.expr.data_type(schema)?;
                let make: fn(u64) -> Option<ScalarValue> = match key_type {
                    DataType::Int8 => |v| i8::try_from(v).ok().map(|v| ScalarValue::Int8(Some(v))),
                    DataType::Int16 => {
                        |v| i16::try_from(v).ok().map(|v| ScalarValue::Int16(Some(v)))
                    }
                    DataType::Int32 => {
                        |v| i32::try_from(v).ok().map(|v| ScalarValue::Int32(Some(v)))
                    }
                    DataType::Int64 => {
                        |v| i64::try_from(v).ok().map(|v| ScalarValue::Int64(Some(v)))
                    }
                    // Microseconds (Spark's day-time intervals), added exactly.
                    DataType::Timestamp(TimeUnit::Microsecond, _) => |v| {
                        i64::try_from(v)
                            .ok()
                            .map(|v| ScalarValue::DurationMicrosecond(Some(v)))
                    },
                    other => {
                        return Err(NativeError::plan(format!(
                            "a range frame's value offsets need an integer or timestamp order key, \
                             not {other}"
                        )));
                    }
                };
                for v in [spec.start, spec.end].into_iter().flatten() {
                    if make(v.unsigned_abs()).is_none() {
                        return Err(NativeError::plan(format!(
                            "a range frame's offset {v} does not fit its order key's type {key_type}"
                        )));
                    }
                }
                key_offset = Some(make);
            }
            WindowFrameUnits::Range
        }
        FrameUnits::Rows => WindowFrameUnits::Rows,
    };
    if let (Some(start), Some(end)) = (spec.start, spec.end)
        && start > end
    {
        return Err(NativeError::plan(format!(
            "a frame starts after its end: {spec:?}"
        )));
    }
    let offset = |v: u64| match key_offset {
        Some(make) => make(v).expect("a range offset fits its key, checked above"),
        None => ScalarValue::UInt64(Some(v)),
    };
    let bound = |offset_value: Option<i64>, start: bool| match offset_value {
        None if start => WindowFrameBound::Preceding(unbounded()),
        None => WindowFrameBound::Following(unbounded()),
        Some(0) => WindowFrameBound::CurrentRow,
        Some(v) if v < 0 => WindowFrameBound::Preceding(offset(v.unsigned_abs())),
        Some(v) => WindowFrameBound::Following(offset(v.unsigned_abs())),
    };
    Ok(Arc::new(WindowFrame::new_bounds(
        units,
        bound(spec.start, true),
        bound(spec.end, false),
    )))
}

/// The value of a literal expression; none for other expressions.
fn literal_value(expr: &Arc<dyn PhysicalExpr>) -> Option<ScalarValue> {
    expr.downcast_ref::<Literal>().map(|l| l.value().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn ordered_by(t: DataType) -> (Vec<PhysicalSortExpr>, SchemaRef) {
        let schema = Arc::new(Schema::new(vec![Field::new("k", t, true)]));
        let key = PhysicalSortExpr::new(Arc::new(Column::new("k", 0)), SortOptions::default());
        (vec![key], schema)
    }

    fn range(start: Option<i64>, end: Option<i64>) -> WindowFrameSpec {
        WindowFrameSpec {
            units: FrameUnits::Range,
            start,
            end,
        }
    }

    #[test]
    fn range_offsets_are_of_the_integer_keys_type() -> Result<()> {
        let (order, schema) = ordered_by(DataType::Int32);
        let frame = window_frame(&range(Some(-2), Some(3)), &order, &schema)?;
        assert_eq!(
            frame.start_bound,
            WindowFrameBound::Preceding(ScalarValue::Int32(Some(2)))
        );
        assert_eq!(
            frame.end_bound,
            WindowFrameBound::Following(ScalarValue::Int32(Some(3)))
        );
        let (order, schema) = ordered_by(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into()),
        ));
        let frame = window_frame(&range(Some(-3_600_000_000), Some(0)), &order, &schema)?;
        assert_eq!(
            frame.start_bound,
            WindowFrameBound::Preceding(ScalarValue::DurationMicrosecond(Some(3_600_000_000)))
        );
        let (order, schema) = ordered_by(DataType::Int8);
        let frame = window_frame(&range(None, Some(0)), &order, &schema)?;
        assert_eq!(frame.end_bound, WindowFrameBound::CurrentRow);
        let frame = window_frame(&range(Some(-127), None), &order, &schema)?;
        assert_eq!(
            frame.start_bound,
            WindowFrameBound::Preceding(ScalarValue::Int8(Some(127)))
        );
        Ok(())
    }

    #[test]
    fn range_offsets_need_one_integer_key_they_fit() {
        let (order, schema) = ordered_by(DataType::Int8);
        assert!(window_frame(&range(Some(-128), None), &order, &schema).is_err());
        let (order, schema) = ordered_by(DataType::Float64);
        assert!(window_frame(&range(Some(-1), Some(0)), &order, &schema).is_err());
        let (order, schema) = ordered_by(DataType::Int64);
        let two = [order[0].clone(), order[0].clone()];
        assert!(window_frame(&range(Some(-1), Some(0)), &two, &schema).is_err());
        // Peers and the partition's ends need no key type.
        assert!(window_frame(&range(None, Some(0)), &[], &schema).is_ok());
    }
}
