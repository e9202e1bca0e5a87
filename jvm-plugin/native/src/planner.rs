//! From a [`PlanMessage`] to a DataFusion physical plan, with Spark's expression semantics.
//!
//! The plan is built directly as physical operators (Spark already planned it), then, unless
//! the device is `cpu`, Cinder's rule moves what it supports onto Cinder's operators, as it
//! does for a DataFusion session.
//!
//! Where DataFusion's semantics differ from Spark's non-ANSI defaults, the translation adds
//! what Spark does:
//! - `/` and `%` by zero give null (DataFusion errors or gives infinity/NaN);
//! - `x % -1` is 0 for integers (DataFusion reports an overflow for `MIN % -1`);
//! - float comparisons see `-0.0` equal to `0.0` and every NaN equal to every NaN (Arrow
//!   compares floats by their total order, which tells them apart);
//! - every expression's result is cast to the Spark type the plugin sent when DataFusion's
//!   type differs (decimal precision, for example).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float32Array, Float64Array, new_empty_array};
use datafusion::arrow::compute::{CastOptions, SortOptions, can_cast_types, cast};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit, i256};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::FormatOptions;
use datafusion::common::config::TableParquetOptions;
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{JoinType, NullEquality, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::ParquetAccessPlan;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::functions_aggregate::bit_and_or_xor::{bit_and_udaf, bit_or_udaf, bit_xor_udaf};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::first_last::{first_value_udaf, last_value_udaf};
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::{AggregateUDF, ColumnarValue, Operator};
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::physical_expr::aggregate::{AggregateExprBuilder, AggregateFunctionExpr};
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, LikeExpr,
    Literal, NegativeExpr, NotExpr,
};
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use num_bigint::BigInt;

use crate::approx_percentile::SparkApproxPercentile;
use crate::arrays::SparkArrayFunction;
use crate::cast::{
    CastMode, SparkDecimalNarrow, SparkNumericCast, SparkStringCast, decimal_out_of_range,
};
use crate::collect::SparkCollectList;
use crate::date_format::{SparkDateFormat, SparkUnixTime, UnixTime};
use crate::datetime::{
    DateDays, DatePart, SparkDateName, SparkDatePart, SparkMonthShift, SparkNextDay,
    SparkTimestampToDate, TimestampPart,
};
use crate::digest::{Digest, SparkDigest};
use crate::double_sum::SparkDoubleSum;
use crate::error::{NativeError, Result};
use crate::expand::ExpandExec;
use crate::float_order::SparkFloatKey;
use crate::generate::GenerateExec;
use crate::group_order::GroupOrderExec;
use crate::hll::{HllRead, SparkHll, num_words};
use crate::input::{JvmInputExec, SourceSlot};
use crate::java_regex::{SparkRLike, SparkRegexpExtract, SparkRegexpReplace, SparkSplit};
use crate::math::{
    BinaryMath, RoundMode, SparkBinaryMath, SparkGreatest, SparkMurmur3Hash, SparkPad, SparkRound,
    SparkSubstringIndex, SparkUnaryMath, SparkXxHash64, UnaryMath,
};
use crate::max_by::SparkMaxBy;
use crate::message::{
    AggregateCall, AggregateFunc, BinaryOp, BuildSide, CollectSpec, Expr, FieldSpec, FileSplit,
    JoinKind, Node, PercentileSpec, Settings, SortKey,
};
use crate::moments::{MomentInput, MomentPart, SparkMoments};
use crate::parquet_stats::SparkTrustedStatistics;
use crate::percentile::SparkPercentile;
use crate::shared_join::{OnceBatchesExec, RoutedProbeExec, SharedJoinExec};
use crate::timestamp::{
    SparkMonthsBetween, SparkTimestampNumberCast, SparkToTimestamp, SparkTrunc, SparkUtcConvert,
    TruncLevel,
};
use crate::timestamp_parse::{ParseOutput, SparkParseTimestamp};
use crate::translate::SparkTranslate;
use crate::try_arith::{Overflow, TryIntegerArithmetic, TryOp};
use crate::try_sum::SparkTryLongSum;

/// Cast options with Spark's non-ANSI behaviour: a value that does not fit becomes null.
/// The time zone of Spark's `TimestampType` in Arrow (as Spark's own `ArrowUtils` writes it):
/// the values are instants, whatever the session's time zone.
const UTC: &str = "UTC";

const SPARK_CAST: CastOptions<'static> = CastOptions {
    safe: true,
    format_options: FormatOptions::new(),
};

/// The Arrow type of a Spark type name (`DataType.simpleString`).
pub fn arrow_type(spark: &str) -> Result<DataType> {
    Ok(match spark {
        "boolean" => DataType::Boolean,
        "tinyint" => DataType::Int8,
        "smallint" => DataType::Int16,
        "int" => DataType::Int32,
        "bigint" => DataType::Int64,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "string" => DataType::Utf8,
        "binary" => DataType::Binary,
        "date" => DataType::Date32,
        // Microseconds since the epoch: an instant (Spark's TimestampType, shown in the
        // session's time zone), or a local date-time (TimestampNTZType).
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
        // Spark's ArrayType: `array<T>`, or `array<T not null>` where it contains no null
        // (Arrow's list, its elements named as Spark's `ArrowUtils` names them).
        other if other.starts_with("array<") && other.ends_with('>') => {
            let inner = &other["array<".len()..other.len() - 1];
            let (element, nullable) = match inner.strip_suffix(" not null") {
                Some(element) => (element, false),
                None => (inner, true),
            };
            DataType::List(Arc::new(Field::new(
                "element",
                arrow_type(element)?,
                nullable,
            )))
        }
        // Not a Spark type: the plugin sums decimals in 256 bits to see overflow.
        other if other.starts_with("decimal256(") => {
            let parsed = other
                .strip_prefix("decimal256(")
                .and_then(|s| s.strip_suffix(')'))
                .and_then(|s| s.split_once(','))
                .and_then(|(p, s)| {
                    Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?))
                });
            match parsed {
                Some((p, s)) if (1..=76).contains(&p) && s >= 0 && s as u8 <= p => {
                    DataType::Decimal256(p, s)
                }
                _ => return Err(NativeError::plan(format!("invalid decimal type {other:?}"))),
            }
        }
        other => {
            let Some(args) = other
                .strip_prefix("decimal(")
                .and_then(|s| s.strip_suffix(')'))
            else {
                return Err(NativeError::plan(format!("unsupported type {other:?}")));
            };
            let parsed = args.split_once(',').and_then(|(p, s)| {
                Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?))
            });
            match parsed {
                Some((p, s)) if (1..=38).contains(&p) && s >= 0 && s as u8 <= p => {
                    DataType::Decimal128(p, s)
                }
                _ => return Err(NativeError::plan(format!("invalid decimal type {other:?}"))),
            }
        }
    })
}

/// An Arrow schema from the message's fields.
pub fn arrow_schema(fields: &[FieldSpec]) -> Result<Schema> {
    let fields = fields
        .iter()
        .map(|f| Ok(Field::new(&f.name, arrow_type(&f.data_type)?, f.nullable)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Schema::new(fields))
}

/// A constant of a Spark type from its JSON form (see [`Expr::Literal`]).
pub fn scalar(spark_type: &str, value: &serde_json::Value) -> Result<ScalarValue> {
    use serde_json::Value;
    let data_type = arrow_type(spark_type)?;
    if value.is_null() {
        return ScalarValue::try_from(&data_type).map_err(|e| NativeError::plan(e.to_string()));
    }
    let bad = || NativeError::plan(format!("literal {value} is not a valid {spark_type}"));
    let int = || value.as_i64().ok_or_else(bad);
    let float = || match value {
        Value::Number(n) => n.as_f64().ok_or_else(bad),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    };
    Ok(match data_type {
        DataType::Boolean => ScalarValue::Boolean(Some(value.as_bool().ok_or_else(bad)?)),
        DataType::Int8 => ScalarValue::Int8(Some(i8::try_from(int()?).map_err(|_| bad())?)),
        DataType::Int16 => ScalarValue::Int16(Some(i16::try_from(int()?).map_err(|_| bad())?)),
        DataType::Int32 => ScalarValue::Int32(Some(i32::try_from(int()?).map_err(|_| bad())?)),
        DataType::Int64 => ScalarValue::Int64(Some(int()?)),
        DataType::Date32 => ScalarValue::Date32(Some(i32::try_from(int()?).map_err(|_| bad())?)),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            ScalarValue::TimestampMicrosecond(Some(int()?), tz)
        }
        DataType::Float32 => ScalarValue::Float32(Some(float()? as f32)),
        DataType::Float64 => ScalarValue::Float64(Some(float()?)),
        DataType::Utf8 => ScalarValue::Utf8(Some(value.as_str().ok_or_else(bad)?.to_owned())),
        // Hexadecimal digits, two per byte.
        DataType::Binary => {
            let hex = value.as_str().ok_or_else(bad)?;
            ScalarValue::Binary(Some(parse_hex(hex).ok_or_else(bad)?))
        }
        DataType::Decimal128(p, s) => {
            let text = value.as_str().ok_or_else(bad)?;
            ScalarValue::Decimal128(Some(parse_decimal(text, s).ok_or_else(bad)?), p, s)
        }
        // An array: its elements' JSON in a list.
        DataType::List(field) => {
            let inner = &spark_type["array<".len()..spark_type.len() - 1];
            let element = inner.strip_suffix(" not null").unwrap_or(inner);
            let items = value
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|v| scalar(element, v))
                .collect::<Result<Vec<_>>>()?;
            if !field.is_nullable() && items.iter().any(ScalarValue::is_null) {
                return Err(bad());
            }
            let values = if items.is_empty() {
                new_empty_array(field.data_type())
            } else {
                let values = ScalarValue::iter_to_array(items)
                    .map_err(|e| NativeError::plan(e.to_string()))?;
                cast(&values, field.data_type()).map_err(|e| NativeError::plan(e.to_string()))?
            };
            ScalarValue::List(Arc::new(
                SingleRowListArrayBuilder::new(values)
                    .with_nullable(field.is_nullable())
                    .with_field_name(Some(field.name().clone()))
                    .build_list_array(),
            ))
        }
        _ => return Err(bad()),
    })
}

/// The unscaled value of a plain decimal string (`-12.340`) at `scale`, if it is exact.
fn parse_decimal(text: &str, scale: i8) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let scale = usize::try_from(scale).ok()?;
    if fraction.len() > scale
        || !(whole.chars().chain(fraction.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let mut unscaled: i128 = 0;
    for c in whole
        .chars()
        .chain(fraction.chars())
        .chain(std::iter::repeat_n('0', scale - fraction.len()))
    {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(c as u8 - b'0'))?;
    }
    Some(if negative { -unscaled } else { unscaled })
}

/// What a plan's leaves read: the task's file splits (a `parquet_scan`) or batch sources (the
/// `input`s).
pub struct Leaves<'a> {
    /// The task's Parquet file splits.
    pub files: &'a [FileSplit],
    /// Execution settings.
    pub settings: &'a Settings,
    /// The batch source of each `input` leaf, by its index.
    pub sources: Vec<SourceSlot>,
    /// Each source's share key (see [`BatchSource::share_key`]), by its index; a missing one
    /// is `None`.
    pub share_keys: Vec<Option<String>>,
}

/// Builds the operator tree of a message.
pub fn build_plan(node: &Node, leaves: &Leaves<'_>) -> Result<Arc<dyn ExecutionPlan>> {
    let (files, settings) = (leaves.files, leaves.settings);
    match node {
        Node::Input { schema, slot } => {
            let source = leaves.sources.get(*slot).ok_or_else(|| {
                NativeError::plan(format!(
                    "input {slot} does not exist: the plan was given {} input(s)",
                    leaves.sources.len()
                ))
            })?;
            Ok(Arc::new(JvmInputExec::new(
                Arc::new(arrow_schema(schema)?),
                Arc::clone(source),
            )))
        }
        Node::HashJoin {
            join_type,
            left_keys,
            right_keys,
            condition,
            build,
            null_aware,
            left,
            right,
        } => {
            if let Some(plan) = shared_join(node, leaves)? {
                return Ok(plan);
            }
            let (left, right) = (build_plan(left, leaves)?, build_plan(right, leaves)?);
            // The probe side read to its end, as Spark reads it (crate::probe_drain).
            let (probe, build_side) = match build {
                BuildSide::Left => (right, left),
                BuildSide::Right => (left, right),
            };
            crate::probe_drain::drained(probe, |probe| {
                let (left, right) = match build {
                    BuildSide::Left => (build_side, probe),
                    BuildSide::Right => (probe, build_side),
                };
                build_join(
                    *join_type,
                    (left_keys, right_keys),
                    condition.as_ref(),
                    *build,
                    *null_aware,
                    left,
                    right,
                )
            })
        }
        Node::ParquetScan {
            schema,
            partition_schema,
            prune,
        } => pruned_scan(
            schema,
            partition_schema,
            prune.as_ref(),
            None,
            files,
            settings,
        ),
        Node::Filter { condition, input } => {
            let input = match input.as_ref() {
                // The condition also goes to the Parquet reader, which skips row groups (and
                // pages) its statistics rule out; the filter above still decides every row.
                Node::ParquetScan {
                    schema,
                    partition_schema,
                    prune,
                } => pruned_scan(
                    schema,
                    partition_schema,
                    prune.as_ref(),
                    Some(condition),
                    files,
                    settings,
                )?,
                other => build_plan(other, leaves)?,
            };
            let predicate = translate(condition, &input.schema())?;
            let predicate_type = predicate.data_type(&input.schema())?;
            if predicate_type != DataType::Boolean {
                return Err(NativeError::plan(format!(
                    "a filter condition must be boolean, this one is {predicate_type}"
                )));
            }
            Ok(Arc::new(
                FilterExec::try_new(predicate, input)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            ))
        }
        Node::HashAggregate {
            groups,
            aggregates,
            input,
        } => build_aggregate(groups, aggregates, build_plan(input, leaves)?),
        Node::Sort { keys, fetch, input } => build_sort(keys, *fetch, build_plan(input, leaves)?),
        Node::GroupOrder {
            keys,
            min_rows,
            input,
        } => Ok(Arc::new(
            GroupOrderExec::try_new(keys.clone(), *min_rows, build_plan(input, leaves)?)
                .map_err(|e| NativeError::plan(e.to_string()))?,
        )),
        Node::Window {
            partition_by,
            order_by,
            functions,
            input,
        } => crate::window::build_window(
            partition_by,
            order_by,
            functions,
            build_plan(input, leaves)?,
        ),
        Node::Limit {
            offset,
            limit,
            input,
        } => Ok(Arc::new(GlobalLimitExec::new(
            single_partition(build_plan(input, leaves)?),
            *offset,
            *limit,
        ))),
        Node::Expand { projections, input } => {
            let input = build_plan(input, leaves)?;
            let schema = input.schema();
            let projections = projections
                .iter()
                .map(|p| p.iter().map(|e| translate(e, &schema)).collect())
                .collect::<Result<Vec<Vec<_>>>>()?;
            Ok(Arc::new(
                ExpandExec::try_new(projections, input)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            ))
        }
        Node::Generate {
            array,
            keep,
            position,
            outer,
            input,
        } => {
            let input = build_plan(input, leaves)?;
            let array = translate(array, &input.schema())?;
            Ok(Arc::new(
                GenerateExec::try_new(array, keep.clone(), *position, *outer, input)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            ))
        }
        Node::Project { exprs, input } => {
            let input = build_plan(input, leaves)?;
            let schema = input.schema();
            let exprs = exprs
                .iter()
                .enumerate()
                .map(|(i, e)| Ok(ProjectionExpr::new(translate(e, &schema)?, format!("c{i}"))))
                .collect::<Result<Vec<_>>>()?;
            Ok(Arc::new(
                ProjectionExec::try_new(exprs, input)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            ))
        }
    }
}

/// `plan` with one output partition (a task's plan has one; this keeps it so for the
/// operators that need it).
pub(crate) fn single_partition(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    if plan.output_partitioning().partition_count() == 1 {
        plan
    } else {
        Arc::new(CoalescePartitionsExec::new(plan))
    }
}

/// A `sort`: DataFusion's `SortExec` (a top-k with `fetch`) over keys whose floats are
/// normalized first, so that `-0.0` sorts with `0.0` and every NaN above every number, as
/// Spark orders them.
fn build_sort(
    keys: &[SortKey],
    fetch: Option<usize>,
    input: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = input.schema();
    let exprs = keys
        .iter()
        .map(|key| {
            let expr = normalize_float(translate(&key.expr, &schema)?, &schema)?;
            Ok(PhysicalSortExpr::new(
                expr,
                SortOptions {
                    descending: !key.ascending,
                    nulls_first: key.nulls_first,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let ordering = LexOrdering::new(exprs)
        .ok_or_else(|| NativeError::plan("a sort needs at least one key"))?;
    if fetch == Some(0) {
        // DataFusion's top-k needs room for a row; no rows is a limit.
        return Ok(Arc::new(GlobalLimitExec::new(
            single_partition(input),
            0,
            Some(0),
        )));
    }
    Ok(Arc::new(
        SortExec::new(ordering, single_partition(input)).with_fetch(fetch),
    ))
}

/// Renames `plan`'s columns to `{prefix}{i}`, so that the two sides of a join (a self-join,
/// or two projections' `c0`s) never share a name.
fn renamed(plan: Arc<dyn ExecutionPlan>, prefix: &str) -> Result<Arc<dyn ExecutionPlan>> {
    let exprs = plan
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            ProjectionExpr::new(
                Arc::new(Column::new(f.name(), i)) as Arc<dyn PhysicalExpr>,
                format!("{prefix}{i}"),
            )
        })
        .collect::<Vec<_>>();
    Ok(Arc::new(
        ProjectionExec::try_new(exprs, plan).map_err(|e| NativeError::plan(e.to_string()))?,
    ))
}

/// A `hash_join` whose build side is a broadcast (an `input` with a share key) as one task's
/// view of a join cached for the whole process ([`crate::shared_join`]), built by the first
/// task that gets here; `None` when the join is not shared: another device than `cpu` (whose
/// rule would rewrite the join per task), a build side that is not a broadcast, a null-aware
/// join, or a join type that emits unmatched build rows.
fn shared_join(node: &Node, leaves: &Leaves<'_>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Node::HashJoin {
        join_type,
        left_keys,
        right_keys,
        condition,
        build,
        null_aware,
        left,
        right,
    } = node
    else {
        return Ok(None);
    };
    let (build_node, probe_node) = match build {
        BuildSide::Left => (left.as_ref(), right.as_ref()),
        BuildSide::Right => (right.as_ref(), left.as_ref()),
    };
    let Node::Input { schema, slot } = build_node else {
        return Ok(None);
    };
    let Some(Some(share_key)) = leaves.share_keys.get(*slot) else {
        return Ok(None);
    };
    // The types whose build-side state is read-only once built (unmatched build rows are
    // never emitted): with the broadcast on the left, inner and right joins; on the right,
    // inner, left, semi and anti joins. Spark broadcasts only for these.
    let read_only = match build {
        BuildSide::Left => matches!(join_type, JoinKind::Inner | JoinKind::RightOuter),
        BuildSide::Right => matches!(
            join_type,
            JoinKind::Inner | JoinKind::LeftOuter | JoinKind::LeftSemi | JoinKind::LeftAnti
        ),
    };
    if leaves.settings.device != "cpu" || *null_aware || !read_only {
        return Ok(None);
    }
    let probe = build_plan(probe_node, leaves)?;
    // The probe plan is in the key, not only its schema: the shared join's properties
    // (orderings, constants) are those of the first task's probe side, which the operators
    // above rely on. (The plan is the same in every task of a stage: the files are leaves.)
    let key = format!(
        "{share_key} {join_type:?} {left_keys:?} {right_keys:?} {condition:?} {build:?} \
         {build_node:?} {probe_node:?} {:?}",
        probe.schema()
    );
    if let Some(join) = crate::shared_join::cached(&key) {
        // The broadcast's own input is left unread.
        return crate::probe_drain::drained(probe, |probe| {
            Ok(Arc::new(SharedJoinExec::new(key, join, probe)))
        })
        .map(Some);
    }
    let build_schema = Arc::new(arrow_schema(schema)?);
    let mut source = leaves.sources[*slot]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| NativeError::Execution("the broadcast input was already read".into()))?;
    source.set_schema(Arc::clone(&build_schema));
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch()? {
        batches.push(batch);
    }
    // The bytes the columns use: an IPC block's columns are slices of one buffer, which
    // `get_array_memory_size` would count once per column.
    let bytes = batches
        .iter()
        .flat_map(RecordBatch::columns)
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum::<usize>();
    let build_side: Arc<dyn ExecutionPlan> = Arc::new(OnceBatchesExec::new(build_schema, batches));
    let join = |probe: Arc<dyn ExecutionPlan>| {
        let (l, r) = match build {
            BuildSide::Left => (Arc::clone(&build_side), probe),
            BuildSide::Right => (probe, Arc::clone(&build_side)),
        };
        build_join(
            *join_type,
            (left_keys, right_keys),
            condition.as_ref(),
            *build,
            false,
            l,
            r,
        )
    };
    if bytes > crate::shared_join::MAX_SHARED_BYTES {
        // Too large to keep: this task's own join over what it read.
        return crate::probe_drain::drained(probe, join).map(Some);
    }
    let routed: Arc<dyn ExecutionPlan> = Arc::new(RoutedProbeExec::like(&probe));
    let shared = crate::shared_join::insert(key.clone(), join(routed)?, bytes);
    crate::probe_drain::drained(probe, |probe| {
        Ok(Arc::new(SharedJoinExec::new(key, shared, probe)))
    })
    .map(Some)
}

/// A `hash_join`: DataFusion's `HashJoinExec` building `build`'s side (a null key matches
/// nothing, as in Spark's equi-joins).
fn build_join(
    join_type: JoinKind,
    (left_keys, right_keys): (&[Expr], &[Expr]),
    condition: Option<&Expr>,
    build: BuildSide,
    null_aware: bool,
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    // DataFusion's null-aware anti join builds the side whose rows it returns.
    if null_aware
        && (join_type != JoinKind::LeftAnti
            || build != BuildSide::Left
            || left_keys.len() != 1
            || condition.is_some())
    {
        return Err(NativeError::plan(
            "a null-aware join is a left_anti join on one key, without a condition, building its left side",
        ));
    }
    if left_keys.is_empty() || left_keys.len() != right_keys.len() {
        return Err(NativeError::plan(format!(
            "a hash join needs as many left keys as right keys, at least one (got {} and {})",
            left_keys.len(),
            right_keys.len()
        )));
    }
    let (left, right) = (renamed(left, "l")?, renamed(right, "r")?);
    let (left_schema, right_schema) = (left.schema(), right.schema());
    let on = left_keys
        .iter()
        .zip(right_keys)
        .map(|(l, r)| {
            let (l, r) = (translate(l, &left_schema)?, translate(r, &right_schema)?);
            let (lt, rt) = (l.data_type(&left_schema)?, r.data_type(&right_schema)?);
            if lt != rt {
                return Err(NativeError::plan(format!(
                    "join keys {l} and {r} have different types ({lt} and {rt})"
                )));
            }
            if matches!(lt, DataType::Float32 | DataType::Float64) {
                // Spark normalizes float keys (-0.0, NaN) before joining; Arrow's hash does not.
                return Err(NativeError::plan(format!(
                    "join key {l} is a float, which is not joined natively yet"
                )));
            }
            Ok((l, r))
        })
        .collect::<Result<Vec<_>>>()?;
    let filter = condition
        .map(|condition| {
            let fields = left_schema
                .fields()
                .iter()
                .chain(right_schema.fields())
                .cloned()
                .collect::<Vec<_>>();
            let schema = Arc::new(Schema::new(fields));
            let expr = boolean(translate(condition, &schema)?, &schema)?;
            let indices = JoinFilter::build_column_indices(
                (0..left_schema.fields().len()).collect(),
                (0..right_schema.fields().len()).collect(),
            );
            Ok::<_, NativeError>(JoinFilter::new(expr, indices, schema))
        })
        .transpose()?;
    let join_type = match join_type {
        JoinKind::Inner => JoinType::Inner,
        JoinKind::LeftOuter => JoinType::Left,
        JoinKind::RightOuter => JoinType::Right,
        JoinKind::FullOuter => JoinType::Full,
        JoinKind::LeftSemi => JoinType::LeftSemi,
        JoinKind::LeftAnti => JoinType::LeftAnti,
    };
    let join = HashJoinExec::try_new(
        left,
        right,
        on,
        filter,
        &join_type,
        None,
        PartitionMode::CollectLeft,
        NullEquality::NullEqualsNothing,
        null_aware,
    )
    .map_err(|e| NativeError::plan(e.to_string()))?;
    match build {
        // DataFusion builds its left input.
        BuildSide::Left => Ok(Arc::new(join)),
        BuildSide::Right => join
            .swap_inputs(PartitionMode::CollectLeft)
            .map_err(|e| NativeError::plan(e.to_string())),
    }
}

/// The [`SparkMoments`] aggregate of moment function `func` over `input`.
fn moments(func: AggregateFunc, input: MomentInput) -> Result<Arc<AggregateUDF>> {
    let part = match func {
        AggregateFunc::MomentN | AggregateFunc::MergeMomentN => MomentPart::N,
        AggregateFunc::MomentAvg | AggregateFunc::MergeMomentAvg => MomentPart::Avg,
        AggregateFunc::MomentM2 | AggregateFunc::MergeMomentM2 => MomentPart::M2,
        AggregateFunc::MomentM3 | AggregateFunc::MergeMomentM3 => MomentPart::M3,
        AggregateFunc::MomentM4 | AggregateFunc::MergeMomentM4 => MomentPart::M4,
        other => return Err(NativeError::plan(format!("{other:?} is not a moment"))),
    };
    SparkMoments::udaf(part, input)
        .map_err(|why| NativeError::plan(format!("aggregate {func:?}: {why}")))
}

fn build_aggregate(
    groups: &[Expr],
    calls: &[AggregateCall],
    input: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = input.schema();
    let groups = groups
        .iter()
        .enumerate()
        .map(|(i, e)| Ok((translate(e, &schema)?, format!("g{i}"))))
        .collect::<Result<Vec<_>>>()?;
    let group_count = groups.len();
    // The aggregates that take the min or max of floats in Spark's order: over integer keys,
    // mapped back to floats after the aggregate (crate::float_order).
    let mut float_keyed = Vec::new();
    let aggregates = calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let (expr, keyed) = aggregate_expr(call, format!("a{i}"), &schema)?;
            if keyed {
                float_keyed.push(group_count + i);
            }
            Ok(expr)
        })
        .collect::<Result<Vec<_>>>()?;
    let filters = calls
        .iter()
        .map(|call| {
            call.filter
                .as_ref()
                .map(|f| boolean(translate(f, &schema)?, &schema))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    let aggregate: Arc<dyn ExecutionPlan> = Arc::new(
        AggregateExec::try_new(
            AggregateMode::Single,
            PhysicalGroupBy::new_single(groups),
            aggregates,
            filters,
            input,
            schema,
        )
        .map_err(|e| NativeError::plan(e.to_string()))?,
    );
    if float_keyed.is_empty() {
        return Ok(aggregate);
    }
    let output = aggregate.schema();
    let exprs = output
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(field.name(), i));
            let expr = if float_keyed.contains(&i) {
                SparkFloatKey::value(column)
            } else {
                column
            };
            ProjectionExpr::new(expr, field.name().clone())
        })
        .collect::<Vec<_>>();
    Ok(Arc::new(
        ProjectionExec::try_new(exprs, aggregate).map_err(|e| NativeError::plan(e.to_string()))?,
    ))
}

/// The DataFusion aggregate of `call` over `schema`'s rows, named `name`, and whether it takes
/// the min or max of floats in Spark's order: over integer keys, which the caller maps back to
/// floats ([`SparkFloatKey::value`]).
pub(crate) fn aggregate_expr(
    call: &AggregateCall,
    name: String,
    schema: &SchemaRef,
) -> Result<(Arc<AggregateFunctionExpr>, bool)> {
    let schema = Arc::clone(schema);
    let mut arg = translate(&call.arg, &schema)?;
    let float_keyed = matches!(call.func, AggregateFunc::Min | AggregateFunc::Max)
        && matches!(
            arg.data_type(&schema)?,
            DataType::Float32 | DataType::Float64
        );
    if float_keyed {
        arg = SparkFloatKey::key(arg);
    }
    let (udaf, arity) = match call.func {
        AggregateFunc::Count => (count_udaf(), 1),
        AggregateFunc::Sum => (sum_udaf(), 1),
        AggregateFunc::Min => (min_udaf(), 1),
        AggregateFunc::Max => (max_udaf(), 1),
        AggregateFunc::MomentN
        | AggregateFunc::MomentAvg
        | AggregateFunc::MomentM2
        | AggregateFunc::MomentM3
        | AggregateFunc::MomentM4 => (moments(call.func, MomentInput::Values)?, 1),
        AggregateFunc::MergeMomentN
        | AggregateFunc::MergeMomentAvg
        | AggregateFunc::MergeMomentM2
        | AggregateFunc::MergeMomentM3
        | AggregateFunc::MergeMomentM4 => {
            // Spark's buffers of moment order 2, 3 or 4: n and 2 to 4 more columns.
            let columns = 1 + call.args.len();
            (moments(call.func, MomentInput::Buffers(columns))?, columns)
        }
        func @ (AggregateFunc::CoMomentN
        | AggregateFunc::CoMomentXAvg
        | AggregateFunc::CoMomentYAvg
        | AggregateFunc::CoMomentCk
        | AggregateFunc::CoMomentXMk
        | AggregateFunc::CoMomentYMk
        | AggregateFunc::MergeCoMomentN
        | AggregateFunc::MergeCoMomentXAvg
        | AggregateFunc::MergeCoMomentYAvg
        | AggregateFunc::MergeCoMomentCk
        | AggregateFunc::MergeCoMomentXMk
        | AggregateFunc::MergeCoMomentYMk) => {
            let (part, merges) = func.co_moment().expect("a co-moment");
            // Spark's buffers of 4 (covariance) or 6 (correlation) columns: n and the
            // rest; or the pair of values.
            let (input, arity) = if merges {
                let columns = 1 + call.args.len();
                (MomentInput::Buffers(columns), columns)
            } else {
                (MomentInput::Values, 2)
            };
            let udaf = SparkMoments::co_udaf(part, input)
                .map_err(|why| NativeError::plan(format!("aggregate {func:?}: {why}")))?;
            (udaf, arity)
        }
        AggregateFunc::DoubleSum => (SparkDoubleSum::udaf(), 1),
        AggregateFunc::First => (first_value_udaf(), 1),
        AggregateFunc::Last => (last_value_udaf(), 1),
        AggregateFunc::MaxBy => (SparkMaxBy::udaf(true), 2),
        AggregateFunc::MinBy => (SparkMaxBy::udaf(false), 2),
        AggregateFunc::BitAnd => (bit_and_udaf(), 1),
        AggregateFunc::BitOr => (bit_or_udaf(), 1),
        AggregateFunc::BitXor => (bit_xor_udaf(), 1),
        AggregateFunc::TryLongSum => (SparkTryLongSum::udaf(false), 1),
        AggregateFunc::MergeTryLongSum => (SparkTryLongSum::udaf(true), 1),
        AggregateFunc::HllSketch | AggregateFunc::MergeHll => {
            let Some(precision) = call.precision else {
                return Err(NativeError::plan(format!(
                    "aggregate {:?} needs a precision",
                    call.func
                )));
            };
            let merge = call.func == AggregateFunc::MergeHll;
            let udaf = SparkHll::udaf(precision, merge)
                .map_err(|e| NativeError::plan(format!("aggregate {:?}: {e}", call.func)))?;
            (udaf, if merge { num_words(precision) } else { 1 })
        }
        AggregateFunc::PercentileCounts | AggregateFunc::MergePercentileCounts => {
            let Some(spec) = &call.percentile else {
                return Err(NativeError::plan(format!(
                    "aggregate {:?} needs a percentile spec",
                    call.func
                )));
            };
            let merge = call.func == AggregateFunc::MergePercentileCounts;
            // (Values and an optional frequency; or buffers.)
            let arity = if merge { 1 } else { 1 + call.args.len().min(1) };
            let udaf = SparkPercentile::udaf(spec, merge, arity)
                .map_err(|e| NativeError::plan(format!("aggregate {:?}: {e}", call.func)))?;
            (udaf, arity)
        }
        AggregateFunc::PercentileApprox | AggregateFunc::MergePercentileApprox => {
            let Some(PercentileSpec {
                value_type,
                percentage,
                accuracy: Some(accuracy),
                fallback_threshold,
                ..
            }) = &call.percentile
            else {
                return Err(NativeError::plan(format!(
                    "aggregate {:?} needs a percentile spec with an accuracy",
                    call.func
                )));
            };
            let merge = call.func == AggregateFunc::MergePercentileApprox;
            let udaf = SparkApproxPercentile::udaf(
                &arrow_type(value_type)?,
                *accuracy,
                merge,
                *percentage,
                *fallback_threshold,
            )
            .map_err(|e| NativeError::plan(format!("aggregate {:?}: {e}", call.func)))?;
            (udaf, 1)
        }
        AggregateFunc::CollectList | AggregateFunc::MergeCollectList => {
            let Some(CollectSpec {
                value_type,
                set,
                evaluate,
                fallback_threshold,
            }) = call.collect.as_deref()
            else {
                return Err(NativeError::plan(format!(
                    "aggregate {:?} needs a collect spec",
                    call.func
                )));
            };
            let merge = call.func == AggregateFunc::MergeCollectList;
            let udaf = SparkCollectList::udaf(
                &arrow_type(value_type)?,
                *set,
                merge,
                *evaluate,
                *fallback_threshold,
            )
            .map_err(|e| NativeError::plan(format!("aggregate {:?}: {e}", call.func)))?;
            (udaf, 1)
        }
    };
    if call.collect.is_some()
        && !matches!(
            call.func,
            AggregateFunc::CollectList | AggregateFunc::MergeCollectList
        )
    {
        return Err(NativeError::plan(format!(
            "aggregate {:?} does not take a collect spec",
            call.func
        )));
    }
    if call.percentile.is_some()
        && !matches!(
            call.func,
            AggregateFunc::PercentileCounts
                | AggregateFunc::MergePercentileCounts
                | AggregateFunc::PercentileApprox
                | AggregateFunc::MergePercentileApprox
        )
    {
        return Err(NativeError::plan(format!(
            "aggregate {:?} does not take a percentile spec",
            call.func
        )));
    }
    if call.precision.is_some()
        && !matches!(
            call.func,
            AggregateFunc::HllSketch | AggregateFunc::MergeHll
        )
    {
        return Err(NativeError::plan(format!(
            "aggregate {:?} does not take a precision",
            call.func
        )));
    }
    if call.ignore_nulls && !matches!(call.func, AggregateFunc::First | AggregateFunc::Last) {
        return Err(NativeError::plan(format!(
            "aggregate {:?} does not take ignore_nulls",
            call.func
        )));
    }
    if 1 + call.args.len() != arity {
        return Err(NativeError::plan(format!(
            "aggregate {:?} takes {arity} arguments, not {}",
            call.func,
            1 + call.args.len()
        )));
    }
    let mut args = vec![arg];
    for extra in &call.args {
        args.push(translate(extra, &schema)?);
    }
    if call.func.is_moment() || call.func == AggregateFunc::DoubleSum {
        // Spark's moments are of doubles (Spark casts their argument).
        for arg in &args {
            let t = arg.data_type(&schema)?;
            if t != DataType::Float64 {
                return Err(NativeError::plan(format!(
                    "aggregate {:?} takes doubles, not {t}",
                    call.func
                )));
            }
        }
    }
    let expr = AggregateExprBuilder::new(udaf, args)
        .with_ignore_nulls(call.ignore_nulls)
        .schema(Arc::clone(&schema))
        .alias(name)
        .build()
        .map_err(|e| NativeError::plan(format!("aggregate {:?}: {e}", call.func)))?;
    Ok((Arc::new(expr), float_keyed))
}

/// A Parquet scan whose reader skips the row groups and pages that `prune` (Spark's pushed-down
/// data filters) and `condition` (a native filter's, above the scan) rule out by their
/// statistics; every row of the others goes up.
fn pruned_scan(
    schema: &[FieldSpec],
    partition_schema: &[FieldSpec],
    prune: Option<&Expr>,
    condition: Option<&Expr>,
    files: &[FileSplit],
    settings: &Settings,
) -> Result<Arc<dyn ExecutionPlan>> {
    build_scan(schema, partition_schema, files, settings, |scan_schema| {
        // Spark's pushed filters only prune: one that does not translate is left out (with
        // less pruning), where a filter's own condition must translate.
        let pushed = prune.and_then(|p| match translate(p, scan_schema) {
            Ok(p) => Some(p),
            Err(e) => {
                log::debug!("cinder: a scan's pushed filters do not prune natively: {e}");
                None
            }
        });
        let condition = condition.map(|c| translate(c, scan_schema)).transpose()?;
        Ok(pushed
            .into_iter()
            .chain(condition)
            .reduce(|a, b| Arc::new(BinaryExpr::new(a, Operator::And, b)) as Arc<dyn PhysicalExpr>))
    })
}

/// The row groups of the Parquet file at `path` that Spark's reader reads for the split of
/// bytes `start..end`: those whose midpoint lies in it (parquet-mr's
/// `filterFileMetaDataByMidpoint`: the first column chunk's first page, dictionary or data,
/// plus half the row group's compressed size), so each row group is read by the task Spark
/// gives it, and a task's rows come in Spark's order.
fn spark_split_row_groups(path: &str, start: u64, end: u64) -> Result<ParquetAccessPlan> {
    let failed =
        |e: String| NativeError::Execution(format!("reading the Parquet footer of {path:?}: {e}"));
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| failed(e.to_string()))?;
    let groups = metadata.row_groups();
    let mut plan = ParquetAccessPlan::new_none(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let Some(first) = group.columns().first() else {
            continue;
        };
        let data = first.data_page_offset();
        let offset = match first.dictionary_page_offset() {
            Some(dictionary) if dictionary < data => dictionary,
            _ => data,
        };
        let midpoint = offset.saturating_add(group.compressed_size() / 2);
        if u64::try_from(midpoint).is_ok_and(|m| start <= m && m < end) {
            plan.scan(i);
        }
    }
    Ok(plan)
}

/// A Parquet scan of `files` (the table's columns, then its partition columns), its reader
/// given the predicate `predicate` makes over that schema, if any.
fn build_scan(
    schema: &[FieldSpec],
    partition_schema: &[FieldSpec],
    files: &[FileSplit],
    settings: &Settings,
    predicate: impl FnOnce(&SchemaRef) -> Result<Option<Arc<dyn PhysicalExpr>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let file_schema: SchemaRef = Arc::new(arrow_schema(schema)?);
    let partition_fields: Vec<FieldRef> = arrow_schema(partition_schema)?
        .fields()
        .iter()
        .cloned()
        .collect();
    let mut partitioned = Vec::with_capacity(files.len());
    for file in files {
        let path = file.path.strip_prefix('/').ok_or_else(|| {
            NativeError::plan(format!(
                "file path {:?} is not an absolute local path",
                file.path
            ))
        })?;
        let end = file
            .start
            .checked_add(file.length)
            .filter(|&end| end <= file.file_size);
        let (Some(end), Ok(start), Ok(end_i64)) = (
            end,
            i64::try_from(file.start),
            i64::try_from(end.unwrap_or(0)),
        ) else {
            return Err(NativeError::plan(format!(
                "file split {}+{} of {:?} lies outside its {} bytes",
                file.start, file.length, file.path, file.file_size
            )));
        };
        let _ = end;
        if file.partition_values.len() != partition_schema.len() {
            return Err(NativeError::plan(format!(
                "file {:?} has {} partition values for {} partition columns",
                file.path,
                file.partition_values.len(),
                partition_schema.len()
            )));
        }
        let values = partition_schema
            .iter()
            .zip(&file.partition_values)
            .map(|(field, value)| scalar(&field.data_type, value))
            .collect::<Result<Vec<_>>>()?;
        let whole = file.start == 0 && end == file.file_size;
        let split = if whole {
            PartitionedFile::new(path.to_owned(), file.file_size)
        } else {
            // The row groups Spark's reader reads for this split, by their midpoints
            // (DataFusion's own range test takes a row group's first byte instead).
            let _ = (start, end_i64);
            let plan = spark_split_row_groups(&file.path, file.start, end)?;
            PartitionedFile::new(path.to_owned(), file.file_size).with_extension(plan)
        };
        partitioned.push(split.with_partition_values(values));
    }
    let table_schema = TableSchema::builder(file_schema)
        .with_table_partition_cols(partition_fields)
        .build();
    let mut options = TableParquetOptions::default();
    // Spark writes timestamps as INT96 by default: microsecond instants (Arrow's default reads
    // them as nanoseconds, which overflow outside 1677-2262).
    options.global.coerce_int96 = Some("us".to_owned());
    options.global.coerce_int96_tz = Some(UTC.to_owned());
    let predicate = predicate(table_schema.table_schema())?;
    // (Without the statistics Spark's reader ignores, which DataFusion would prune with.)
    let mut source = ParquetSource::new(table_schema)
        .with_table_parquet_options(options)
        .with_parquet_file_reader_factory(Arc::new(SparkTrustedStatistics::new()));
    if let Some(predicate) = predicate {
        source = source.with_predicate(predicate);
    }
    let source = Arc::new(source);
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
        .with_file_group(FileGroup::new(partitioned))
        .with_batch_size(Some(settings.batch_rows.max(1)))
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// Translates one expression over `schema` (the input operator's output).
pub fn translate(expr: &Expr, schema: &SchemaRef) -> Result<Arc<dyn PhysicalExpr>> {
    let out: Arc<dyn PhysicalExpr> = match expr {
        Expr::Column { index } => {
            let field = schema.fields().get(*index).ok_or_else(|| {
                NativeError::plan(format!(
                    "column {index} does not exist: the input has {} columns",
                    schema.fields().len()
                ))
            })?;
            Arc::new(Column::new(field.name(), *index))
        }
        Expr::Literal { data_type, value } => Arc::new(Literal::new(scalar(data_type, value)?)),
        Expr::Binary {
            op,
            left,
            right,
            data_type,
            ansi,
            try_arith,
        } => {
            let left = translate(left, schema)?;
            let right = translate(right, schema)?;
            let try_op = match op {
                BinaryOp::Add => Some(TryOp::Add),
                BinaryOp::Subtract => Some(TryOp::Subtract),
                BinaryOp::Multiply => Some(TryOp::Multiply),
                _ => None,
            };
            let out = match try_op {
                // Integers that can overflow: null in try mode, Spark's errors in ANSI mode.
                Some(try_op) if (*try_arith || *ansi) && left.data_type(schema)?.is_integer() => {
                    expect_type(
                        &right,
                        schema,
                        &left.data_type(schema)?,
                        "integer arithmetic",
                    )?;
                    let overflow = if *try_arith {
                        Overflow::Null
                    } else {
                        Overflow::Fail
                    };
                    Arc::new(TryIntegerArithmetic::with_overflow(
                        try_op, overflow, left, right,
                    ))
                }
                _ => binary(*op, left, right, *ansi, schema)?,
            };
            cast_to(out, data_type, schema)?
        }
        Expr::Not { child } => Arc::new(NotExpr::new(boolean(translate(child, schema)?, schema)?)),
        Expr::Negative { child, ansi } => {
            let child = translate(child, schema)?;
            let child_type = child.data_type(schema)?;
            if !child_type.is_numeric() {
                return Err(NativeError::plan(format!("cannot negate a {child_type}")));
            }
            let negative = Arc::new(NegativeExpr::new(Arc::clone(&child)));
            let min = match child_type {
                DataType::Int8 => Some(ScalarValue::Int8(Some(i8::MIN))),
                DataType::Int16 => Some(ScalarValue::Int16(Some(i16::MIN))),
                DataType::Int32 => Some(ScalarValue::Int32(Some(i32::MIN))),
                DataType::Int64 => Some(ScalarValue::Int64(Some(i64::MIN))),
                _ => None,
            };
            let integer = min.is_some();
            match min.filter(|_| *ansi) {
                // ANSI: the minimum has no negation in its type.
                Some(min) => {
                    let is_min = Arc::new(BinaryExpr::new(
                        child,
                        Operator::Eq,
                        Arc::new(Literal::new(min)),
                    ));
                    let overflow = Arc::new(SparkRaiseError {
                        message: format!(
                            "[ARITHMETIC_OVERFLOW] {} overflow. If necessary set \
                             \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. \
                             SQLSTATE: 22003",
                            spark_integer_name(&child_type)
                        ),
                        data_type: child_type,
                    });
                    Arc::new(
                        CaseExpr::try_new(None, vec![(is_min, overflow)], Some(negative))
                            .map_err(|e| NativeError::plan(e.to_string()))?,
                    )
                }
                // Legacy mode: an integer's minimum wraps to itself. Written `0 - x` (wrapping),
                // not NegativeExpr, which the Parquet reader's pruning rewrites (`-i < c` as
                // `i > -c`) as if nothing wrapped: it would skip a row group holding the
                // minimum, whose negation (the minimum) passes.
                None if integer => Arc::new(BinaryExpr::new(
                    Arc::new(Literal::new(
                        ScalarValue::new_zero(&child_type)
                            .map_err(|e| NativeError::plan(e.to_string()))?,
                    )),
                    Operator::Minus,
                    child,
                )),
                None => negative,
            }
        }
        Expr::IsNull { child } => Arc::new(IsNullExpr::new(translate(child, schema)?)),
        Expr::IsNotNull { child } => Arc::new(IsNotNullExpr::new(translate(child, schema)?)),
        Expr::Cast {
            child,
            data_type,
            ansi,
            try_cast,
            zone,
        } => {
            let options = if *ansi { ANSI_CAST } else { SPARK_CAST };
            let mode = CastMode::of(*ansi, *try_cast);
            let child = translate(child, schema)?;
            let target = arrow_type(data_type)?;
            let from = child.data_type(schema)?;
            // Spark parses strings, prints decimals and converts numbers its own way
            // (crate::cast); the rest (widening) is Arrow's cast.
            // The exact totals of native decimal sums, checked as Spark checks a sum.
            if let Some(cast) =
                SparkDecimalNarrow::try_new(Arc::clone(&child), &from, &target, *ansi)
            {
                return Ok(Arc::new(cast));
            }
            if let Some(cast) = SparkTimestampNumberCast::try_new(
                Arc::clone(&child),
                &from,
                &target,
                mode,
                zone.as_deref(),
            ) {
                return Ok(Arc::new(cast));
            }
            let spark_parse = match (&from, &target) {
                (DataType::Utf8, _) => {
                    SparkStringCast::try_new(Arc::clone(&child), target.clone(), mode)
                }
                (DataType::Decimal128(..), DataType::Utf8) => {
                    Some(SparkStringCast::decimal_to_string(Arc::clone(&child), mode))
                }
                (DataType::Date32, DataType::Utf8) => {
                    Some(SparkStringCast::date_to_string(Arc::clone(&child)))
                }
                (
                    DataType::Float32 | DataType::Float64,
                    DataType::Utf8 | DataType::Decimal128(..),
                ) => SparkStringCast::from_float(Arc::clone(&child), target.clone(), mode),
                _ => None,
            };
            match spark_parse {
                Some(cast) => Arc::new(cast),
                None => match SparkNumericCast::try_new(Arc::clone(&child), from, target, mode) {
                    Some(cast) => Arc::new(cast),
                    None => cast_with(child, data_type, schema, options)?,
                },
            }
        }
        Expr::SparkDecimalAvg {
            sum,
            count,
            data_type,
            ansi,
        } => {
            let sum = translate(sum, schema)?;
            let count = translate(count, schema)?;
            let (sum_type, count_type) = (sum.data_type(schema)?, count.data_type(schema)?);
            let target = arrow_type(data_type)?;
            let (
                DataType::Decimal128(_, sum_scale),
                DataType::Int64,
                DataType::Decimal128(precision, scale),
            ) = (&sum_type, &count_type, &target)
            else {
                return Err(NativeError::plan(format!(
                    "spark_decimal_avg takes a decimal sum, a bigint count and a decimal type, \
                     got {sum_type}, {count_type}, {target}"
                )));
            };
            let (Ok(sum_scale @ 0..=18), Ok(scale)) =
                (u32::try_from(*sum_scale), u32::try_from(*scale))
            else {
                return Err(NativeError::plan(format!(
                    "spark_decimal_avg supports sums of scale 0 to 18, not {sum_scale}"
                )));
            };
            Arc::new(SparkDecimalBinary {
                op: DecimalOp::Average,
                left: sum,
                right: count,
                left_scale: sum_scale,
                right_scale: 0,
                precision: *precision,
                scale,
                ansi: *ansi,
            })
        }
        Expr::In { child, list } => {
            let child = normalize_float(translate(child, schema)?, schema)?;
            let child_type = child.data_type(schema)?;
            let list = list
                .iter()
                .map(|e| {
                    let e = normalize_float(translate(e, schema)?, schema)?;
                    let t = e.data_type(schema)?;
                    if t == child_type {
                        Ok(e)
                    } else {
                        Err(NativeError::plan(format!(
                            "IN list item of type {t} for a {child_type} value"
                        )))
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Arc::new(
                InListExpr::try_new(child, list, false, schema)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            )
        }
        Expr::Like { child, pattern } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "LIKE")?;
            if !like_pattern_is_valid(pattern) {
                return Err(NativeError::plan(format!(
                    "LIKE pattern {pattern:?} has an escape that is not followed by %, _ or \\"
                )));
            }
            let pattern = Arc::new(Literal::new(ScalarValue::Utf8(Some(pattern.clone()))));
            Arc::new(LikeExpr::new(false, false, child, pattern))
        }
        Expr::RLike { child, pattern } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "RLIKE")?;
            Arc::new(SparkRLike::try_new(child, pattern)?)
        }
        Expr::Array {
            function,
            args,
            data_type,
        } => {
            let args = args
                .iter()
                .map(|a| translate(a, schema))
                .collect::<Result<Vec<_>>>()?;
            let result = data_type.as_deref().map(arrow_type).transpose()?;
            Arc::new(SparkArrayFunction::try_new(
                *function, args, result, schema,
            )?)
        }
        Expr::Split {
            child,
            pattern,
            limit,
        } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "split")?;
            Arc::new(SparkSplit::try_new(child, pattern, *limit)?)
        }
        Expr::Translate { child, from, to } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "translate")?;
            Arc::new(SparkTranslate::new(child, from, to))
        }
        Expr::RegexpExtract {
            child,
            pattern,
            index,
        } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "regexp_extract")?;
            Arc::new(SparkRegexpExtract::try_new(child, pattern, *index)?)
        }
        Expr::RegexpReplace {
            child,
            pattern,
            replacement,
        } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "regexp_replace")?;
            Arc::new(SparkRegexpReplace::try_new(child, pattern, replacement)?)
        }
        Expr::Substring { child, pos, len } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "substring")?;
            let int = |v: i64| -> Arc<dyn PhysicalExpr> {
                Arc::new(Literal::new(ScalarValue::Int64(Some(v))))
            };
            // DataFusion's substr(s, start, count) is the characters [start - 1, start - 1 +
            // count) of s, clamped to s. Spark starts at pos - 1 for pos > 0, at 0 for pos = 0,
            // and at char_length(s) + pos for pos < 0 (then clamps the same way), and gives ""
            // for a negative length, where substr fails.
            let (start, count) = match (*pos, *len) {
                (_, len) if len < 0 => (int(1), int(0)),
                (pos, len) if pos > 0 => (int(pos), int(len)),
                (0, len) => (int(1), int(len)),
                (pos, len) => {
                    let chars = scalar_function(
                        datafusion::functions::unicode::character_length(),
                        vec![Arc::clone(&child)],
                        schema,
                    )?;
                    let chars: Arc<dyn PhysicalExpr> =
                        Arc::new(CastExpr::new(chars, DataType::Int64, None));
                    let start: Arc<dyn PhysicalExpr> =
                        Arc::new(BinaryExpr::new(chars, Operator::Plus, int(pos + 1)));
                    (start, int(len))
                }
            };
            scalar_function(
                datafusion::functions::unicode::substr(),
                vec![child, start, count],
                schema,
            )?
        }
        Expr::TimestampToDate { child, zone } => {
            let child = translate(child, schema)?;
            let expected = match zone {
                Some(_) => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
                None => DataType::Timestamp(TimeUnit::Microsecond, None),
            };
            expect_type(&child, schema, &expected, "a timestamp's date")?;
            Arc::new(SparkTimestampToDate::try_new(child, zone.as_deref())?)
        }
        Expr::ToTimestamp {
            child,
            ntz,
            zone,
            ansi,
            try_cast,
        } => {
            let child = translate(child, schema)?;
            let from = child.data_type(schema)?;
            Arc::new(SparkToTimestamp::try_new(
                child,
                &from,
                *ntz,
                zone,
                CastMode::of(*ansi, *try_cast),
            )?)
        }
        Expr::Function { name, args } => {
            let args = args
                .iter()
                .map(|a| translate(a, schema))
                .collect::<Result<Vec<_>>>()?;
            let types = args
                .iter()
                .map(|a| a.data_type(schema))
                .collect::<datafusion::common::Result<Vec<_>>>()?;
            let strings = |n: usize| types.len() == n && types.iter().all(|t| *t == DataType::Utf8);
            // sqrt, exp, the logarithms and the like: Math's and StrictMath's results.
            if let (Some(func), [DataType::Float64]) = (UnaryMath::from_name(name), &types[..]) {
                let [arg] = <[_; 1]>::try_from(args)
                    .map_err(|_| NativeError::plan(format!("{name} takes one argument")))?;
                return Ok(Arc::new(SparkUnaryMath::new(arg, func)));
            }
            // A timestamp as a number of seconds, millis or micros since the epoch.
            if let (Some(unit), [DataType::Timestamp(TimeUnit::Microsecond, _)]) =
                (UnixTime::from_name(name), &types[..])
            {
                let [arg] = <[_; 1]>::try_from(args)
                    .map_err(|_| NativeError::plan(format!("{name} takes one argument")))?;
                return Ok(Arc::new(SparkUnixTime::new(arg, unit)));
            }
            // pow, log(base, x), atan2 and hypot.
            if let (Some(func), [DataType::Float64, DataType::Float64]) =
                (BinaryMath::from_name(name), &types[..])
            {
                let [left, right] = <[_; 2]>::try_from(args)
                    .map_err(|_| NativeError::plan(format!("{name} takes two arguments")))?;
                return Ok(Arc::new(SparkBinaryMath::new(left, right, func)));
            }
            if let (Some(digest), [DataType::Utf8 | DataType::Binary]) =
                (Digest::from_name(name), &types[..])
            {
                let [arg] = <[_; 1]>::try_from(args)
                    .map_err(|_| NativeError::plan(format!("{name} takes one argument")))?;
                return Ok(Arc::new(SparkDigest::new(arg, digest)));
            }
            let udf = match (name.as_str(), types.as_slice()) {
                // (Integers' abs differs on overflow: the plugin sends a CASE for them.)
                ("abs", [DataType::Float32 | DataType::Float64 | DataType::Decimal128(..)]) => {
                    datafusion::functions::math::abs()
                }
                ("upper", [DataType::Utf8]) => datafusion::functions::string::upper(),
                ("lower", [DataType::Utf8]) => datafusion::functions::string::lower(),
                // Spaces, or (a second string) the characters in it, code point by code point.
                ("btrim", _) if strings(1) || strings(2) => datafusion::functions::string::btrim(),
                ("ltrim", _) if strings(1) || strings(2) => datafusion::functions::string::ltrim(),
                ("rtrim", _) if strings(1) || strings(2) => datafusion::functions::string::rtrim(),
                ("isnan", [DataType::Float32 | DataType::Float64]) => {
                    datafusion::functions::math::isnan()
                }
                ("char_length", [DataType::Utf8]) => {
                    datafusion::functions::unicode::character_length()
                }
                // Spark's NormalizeNaNAndZero: -0.0 as 0.0, every NaN the canonical one.
                ("normalize_nan_and_zero", [DataType::Float32 | DataType::Float64]) => {
                    let [arg] = <[_; 1]>::try_from(args).map_err(|_| {
                        NativeError::plan("normalize_nan_and_zero takes one argument".to_owned())
                    })?;
                    return Ok(Arc::new(SparkNormalizeFloat { child: arg }));
                }
                // Null for a null separator; null strings skipped.
                ("concat_ws", _) if types.len() >= 2 && strings(types.len()) => {
                    datafusion::functions::string::concat_ws()
                }
                // Code points, as UTF8String pads (DataFusion's lpad counts graphemes).
                (
                    "spark_lpad" | "spark_rpad",
                    [DataType::Utf8, DataType::Int32, DataType::Utf8],
                ) => {
                    let args: [Arc<dyn PhysicalExpr>; 3] = args
                        .try_into()
                        .map_err(|_| NativeError::plan(format!("{name} takes 3 arguments")))?;
                    return Ok(Arc::new(SparkPad::new(args, name == "spark_lpad")));
                }
                // UTF8String.subStringIndex: overlapping matches, bytes.
                ("spark_substring_index", [DataType::Utf8, DataType::Utf8, DataType::Int32]) => {
                    let args: [Arc<dyn PhysicalExpr>; 3] = args
                        .try_into()
                        .map_err(|_| NativeError::plan(format!("{name} takes 3 arguments")))?;
                    return Ok(Arc::new(SparkSubstringIndex::new(args)));
                }
                // Code points reversed; the first code point (0 for ""); bytes.
                ("reverse", [DataType::Utf8]) => datafusion::functions::unicode::reverse(),
                ("ascii", [DataType::Utf8]) => datafusion::functions::string::ascii(),
                ("octet_length", [DataType::Utf8]) => datafusion::functions::string::octet_length(),
                // (An empty search string: the plugin keeps the string, as Spark does.)
                ("replace", _) if strings(3) => datafusion::functions::string::replace(),
                // The first match's position in characters from 1; 0 for none.
                ("strpos", _) if strings(2) => datafusion::functions::unicode::strpos(),
                _ => {
                    let types: Vec<String> = types.iter().map(ToString::to_string).collect();
                    return Err(NativeError::plan(format!(
                        "function {name}({}) is not native",
                        types.join(", ")
                    )));
                }
            };
            scalar_function(udf, args, schema)?
        }
        Expr::SparkRound {
            child,
            mode,
            places,
            data_type,
            ansi,
        } => {
            let child = translate(child, schema)?;
            let from = child.data_type(schema)?;
            let round_mode = RoundMode::parse(mode).ok_or_else(|| {
                NativeError::plan(format!(
                    "rounding mode {mode:?} is not half_up, half_even, floor or ceiling"
                ))
            })?;
            let target = arrow_type(data_type)?;
            Arc::new(
                SparkRound::try_new(child, &from, round_mode, *places, target, *ansi)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            )
        }
        Expr::SparkHash { args, seed } => {
            let args = args
                .iter()
                .map(|a| translate(a, schema))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(SparkMurmur3Hash::new(args, *seed))
        }
        Expr::HllWord { child, index } => {
            Arc::new(HllRead::word(translate(child, schema)?, *index))
        }
        Expr::HllEstimate { child, precision } => Arc::new(
            HllRead::estimate(translate(child, schema)?, *precision)
                .map_err(|e| NativeError::plan(e.to_string()))?,
        ),
        Expr::SparkXxhash64 { args, seed } => {
            let args = args
                .iter()
                .map(|a| translate(a, schema))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(SparkXxHash64::new(args, *seed))
        }
        Expr::SparkGreatest { args, least } => {
            let args = args
                .iter()
                .map(|a| translate(a, schema))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(
                SparkGreatest::try_new(args, *least, schema)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            )
        }
        Expr::MonthShift {
            child,
            months,
            last_day,
        } => {
            let days = translate(child, schema)?;
            expect_type(&days, schema, &DataType::Int32, "a month shift's days")?;
            let months = match months {
                Some(m) => {
                    let m = translate(m, schema)?;
                    expect_type(&m, schema, &DataType::Int32, "a month shift's months")?;
                    Some(m)
                }
                None => None,
            };
            Arc::new(SparkMonthShift::new(days, months, *last_day))
        }
        Expr::DateDays { child, to_date } => {
            let child = translate(child, schema)?;
            let from = if *to_date {
                DataType::Int32
            } else {
                DataType::Date32
            };
            expect_type(&child, schema, &from, "date_days")?;
            Arc::new(DateDays::new(child, *to_date))
        }
        Expr::Trunc { child, level, zone } => {
            let child = translate(child, schema)?;
            let level = TruncLevel::parse(level).ok_or_else(|| {
                NativeError::plan(format!("truncation level {level:?} is not known"))
            })?;
            match child.data_type(schema)? {
                DataType::Date32 | DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {}
                other => {
                    return Err(NativeError::plan(format!(
                        "trunc takes a date or a timestamp, got {other}"
                    )));
                }
            }
            Arc::new(SparkTrunc::try_new(child, level, zone)?)
        }
        Expr::DateFormat {
            child,
            seconds,
            pattern,
            zone,
        } => {
            let child = translate(child, schema)?;
            let expected = if *seconds {
                DataType::Int64
            } else {
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
            };
            expect_type(&child, schema, &expected, "date_format")?;
            Arc::new(SparkDateFormat::try_new(child, pattern, zone)?)
        }
        Expr::MonthsBetween {
            left,
            right,
            round_off,
            zone,
        } => {
            let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()));
            let left = translate(left, schema)?;
            let right = translate(right, schema)?;
            expect_type(&left, schema, &timestamp, "months_between")?;
            expect_type(&right, schema, &timestamp, "months_between")?;
            Arc::new(SparkMonthsBetween::try_new(left, right, *round_off, zone)?)
        }
        Expr::IntervalAdd {
            child,
            months,
            days,
            micros,
            zone,
        } => {
            let child = translate(child, schema)?;
            let interval = crate::interval::Interval {
                months: *months,
                days: *days,
                micros: *micros,
            };
            Arc::new(crate::interval::SparkIntervalAdd::try_new(
                child, interval, zone, schema,
            )?)
        }
        Expr::TimestampAdd {
            unit,
            quantity,
            child,
            zone,
        } => {
            let quantity = translate(quantity, schema)?;
            expect_type(
                &quantity,
                schema,
                &DataType::Int64,
                "timestampadd's quantity",
            )?;
            let child = translate(child, schema)?;
            if !matches!(
                child.data_type(schema)?,
                DataType::Timestamp(TimeUnit::Microsecond, _)
            ) {
                return Err(NativeError::plan(format!(
                    "timestampadd takes a timestamp, got {}",
                    child.data_type(schema)?
                )));
            }
            Arc::new(crate::interval::SparkTimestampAdd::try_new(
                quantity, child, unit, zone,
            )?)
        }
        Expr::TimestampDiff {
            unit,
            start,
            end,
            zone,
        } => {
            let start = translate(start, schema)?;
            let end = translate(end, schema)?;
            let start_type = start.data_type(schema)?;
            if !matches!(start_type, DataType::Timestamp(TimeUnit::Microsecond, _)) {
                return Err(NativeError::plan(format!(
                    "timestampdiff takes timestamps, got {start_type}"
                )));
            }
            expect_type(&end, schema, &start_type, "timestampdiff's end")?;
            Arc::new(crate::interval::SparkTimestampDiff::try_new(
                start, end, unit, zone,
            )?)
        }
        Expr::UtcConvert {
            child,
            zone,
            to_utc,
        } => {
            let child = translate(child, schema)?;
            let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()));
            expect_type(&child, schema, &timestamp, "from_utc_timestamp")?;
            Arc::new(SparkUtcConvert::try_new(child, zone, *to_utc)?)
        }
        Expr::ParseTimestamp {
            child,
            pattern,
            zone,
            output,
            fail_on_error,
            suggested,
        } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Utf8, "a parse with a pattern")?;
            let output = ParseOutput::from_name(output).ok_or_else(|| {
                NativeError::plan(format!("unknown output {output:?} of a parse"))
            })?;
            Arc::new(SparkParseTimestamp::try_new(
                child,
                pattern,
                zone,
                output,
                *fail_on_error,
                suggested,
            )?)
        }
        Expr::TimestampPart { child, part, zone } => {
            let child = translate(child, schema)?;
            let expected = match zone {
                Some(_) => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
                None => DataType::Timestamp(TimeUnit::Microsecond, None),
            };
            expect_type(&child, schema, &expected, "a timestamp's time")?;
            let part = match part.as_str() {
                "hour" => TimestampPart::Hour,
                "minute" => TimestampPart::Minute,
                "second" => TimestampPart::Second,
                "string" => TimestampPart::String,
                other => {
                    return Err(NativeError::plan(format!(
                        "timestamp part {other:?} is not hour, minute, second or string"
                    )));
                }
            };
            Arc::new(SparkTimestampToDate::try_new(child, zone.as_deref())?.with_part(part))
        }
        Expr::DateName { child, month } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Date32, "dayname")?;
            Arc::new(SparkDateName::new(child, *month))
        }
        Expr::NextDay { child, day } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Date32, "next_day")?;
            Arc::new(SparkNextDay::new(child, day).ok_or_else(|| {
                NativeError::plan(format!("next_day of {day:?}, not a day of the week"))
            })?)
        }
        Expr::DatePart { child, part } => {
            let child = translate(child, schema)?;
            expect_type(&child, schema, &DataType::Date32, "a date part")?;
            let part = match part.as_str() {
                "year" => DatePart::Year,
                "month" => DatePart::Month,
                "day" => DatePart::Day,
                "quarter" => DatePart::Quarter,
                "dayofweek" => DatePart::DayOfWeek,
                "weekday" => DatePart::WeekDay,
                "dayofyear" => DatePart::DayOfYear,
                "weekofyear" => DatePart::WeekOfYear,
                other => {
                    return Err(NativeError::plan(format!(
                        "date part {other:?} is not year, month, day, quarter, dayofweek, \
                         weekday, dayofyear or weekofyear"
                    )));
                }
            };
            Arc::new(SparkDatePart::new(child, part))
        }
        Expr::SparkDecimalDivide {
            left,
            right,
            data_type,
            ansi,
        } => {
            let divide = spark_decimal_binary(
                "spark_decimal_divide",
                DecimalOp::Divide,
                (left, right),
                data_type,
                *ansi,
                schema,
            )?;
            let (ls, rs, s) = (divide.left_scale, divide.right_scale, divide.scale);
            // |left| * 10^(rs + s) and |right| * 10^ls must fit 256 bits (with a factor 2).
            if 38 + rs + s > 76 || 38 + ls > 76 {
                return Err(NativeError::plan(format!(
                    "decimal division {} / {} into {} needs more than 256 bits",
                    divide.left.data_type(schema)?,
                    divide.right.data_type(schema)?,
                    arrow_type(data_type)?
                )));
            }
            Arc::new(divide)
        }
        Expr::SparkDecimalArithmetic {
            op,
            left,
            right,
            data_type,
            ansi,
        } => {
            let arithmetic = spark_decimal_binary(
                "spark_decimal_arithmetic",
                DecimalOp::Arithmetic(*op),
                (left, right),
                data_type,
                *ansi,
                schema,
            )?;
            if !matches!(op, BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Multiply) {
                return Err(NativeError::plan(format!(
                    "spark_decimal_arithmetic does add, subtract and multiply, not {op:?}"
                )));
            }
            Arc::new(arithmetic)
        }
        Expr::RaiseError { message, data_type } => Arc::new(SparkRaiseError {
            message: message.clone(),
            data_type: arrow_type(data_type)?,
        }),
        Expr::Case {
            branches,
            otherwise,
            data_type,
        } => {
            let branches = branches
                .iter()
                .map(|(when, then)| {
                    Ok((
                        boolean(translate(when, schema)?, schema)?,
                        cast_to(translate(then, schema)?, data_type, schema)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            let otherwise = otherwise
                .as_ref()
                .map(|e| cast_to(translate(e, schema)?, data_type, schema))
                .transpose()?;
            Arc::new(
                CaseExpr::try_new(None, branches, otherwise)
                    .map_err(|e| NativeError::plan(e.to_string()))?,
            )
        }
    };
    Ok(out)
}

/// Spark's decimal `op` over two decimal operands into `data_type` (`name` is the message
/// expression, for errors): both operands translated, and every scale non-negative.
fn spark_decimal_binary(
    name: &str,
    op: DecimalOp,
    (left, right): (&Expr, &Expr),
    data_type: &str,
    ansi: bool,
    schema: &SchemaRef,
) -> Result<SparkDecimalBinary> {
    let left = translate(left, schema)?;
    let right = translate(right, schema)?;
    let (lt, rt) = (left.data_type(schema)?, right.data_type(schema)?);
    let target = arrow_type(data_type)?;
    let (DataType::Decimal128(_, ls), DataType::Decimal128(_, rs), DataType::Decimal128(p, s)) =
        (&lt, &rt, &target)
    else {
        return Err(NativeError::plan(format!(
            "{name} takes two decimals into a decimal, got {lt}, {rt}, {target}"
        )));
    };
    let scales = (u32::try_from(*ls), u32::try_from(*rs), u32::try_from(*s));
    let (Ok(left_scale), Ok(right_scale), Ok(scale)) = scales else {
        return Err(NativeError::plan(
            "negative decimal scales are not supported",
        ));
    };
    Ok(SparkDecimalBinary {
        op,
        left,
        right,
        left_scale,
        right_scale,
        precision: *p,
        scale,
        ansi,
    })
}

/// Checks that `expr` has type `want`.
fn expect_type(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
    want: &DataType,
    what: &str,
) -> Result<()> {
    let got = expr.data_type(schema)?;
    if &got == want {
        Ok(())
    } else {
        Err(NativeError::plan(format!(
            "{what} takes a {want}, got {got}"
        )))
    }
}

/// Whether every `\` in a LIKE pattern escapes `%`, `_` or `\` (as Spark requires).
fn like_pattern_is_valid(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('%' | '_' | '\\')) {
            return false;
        }
    }
    true
}

/// A DataFusion scalar function over `args`.
fn scalar_function(
    udf: Arc<datafusion::logical_expr::ScalarUDF>,
    args: Vec<Arc<dyn PhysicalExpr>>,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    let config = Arc::new(datafusion::config::ConfigOptions::default());
    let function =
        datafusion::physical_expr::ScalarFunctionExpr::try_new(udf, args, schema, config)
            .map_err(|e| NativeError::plan(e.to_string()))?;
    Ok(Arc::new(function))
}

/// Checks that `expr` is boolean.
fn boolean(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    let t = expr.data_type(schema)?;
    if t == DataType::Boolean {
        Ok(expr)
    } else {
        Err(NativeError::plan(format!(
            "expected a boolean expression, got {t}: {expr}"
        )))
    }
}

/// Cast options with Spark's ANSI behaviour: a value that does not fit is an error.
const ANSI_CAST: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: FormatOptions::new(),
};

/// Casts `expr` to Spark type `spark_type` unless it already has that type.
fn cast_to(
    expr: Arc<dyn PhysicalExpr>,
    spark_type: &str,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    cast_with(expr, spark_type, schema, SPARK_CAST)
}

fn cast_with(
    expr: Arc<dyn PhysicalExpr>,
    spark_type: &str,
    schema: &Schema,
    options: CastOptions<'static>,
) -> Result<Arc<dyn PhysicalExpr>> {
    let target = arrow_type(spark_type)?;
    let from = expr.data_type(schema)?;
    if from == target {
        return Ok(expr);
    }
    if !can_cast_types(&from, &target) {
        return Err(NativeError::plan(format!("cannot cast {from} to {target}")));
    }
    Ok(Arc::new(CastExpr::new(expr, target, Some(options))))
}

fn binary(
    op: BinaryOp,
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    ansi: bool,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    let left_type = left.data_type(schema)?;
    let right_type = right.data_type(schema)?;
    let same_kind = left_type == right_type
        || matches!(
            (&left_type, &right_type),
            (DataType::Decimal128(..), DataType::Decimal128(..))
        );
    if !same_kind {
        return Err(NativeError::plan(format!(
            "operands of {op:?} must have the same type, got {left_type} and {right_type}"
        )));
    }
    let plain = |l, o, r| -> Arc<dyn PhysicalExpr> { Arc::new(BinaryExpr::new(l, o, r)) };
    let zero = ScalarValue::new_zero(&right_type).map_err(|e| NativeError::plan(e.to_string()));
    Ok(match op {
        BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Multiply => {
            if !left_type.is_numeric() {
                return Err(NativeError::plan(format!(
                    "{op:?} needs numbers, got {left_type}"
                )));
            }
            let o = match op {
                BinaryOp::Add => Operator::Plus,
                BinaryOp::Subtract => Operator::Minus,
                _ => Operator::Multiply,
            };
            Arc::new(BinaryExpr::new(left, o, right).with_fail_on_overflow(ansi))
        }
        BinaryOp::Divide => {
            if !matches!(left_type, DataType::Float64 | DataType::Float32) {
                return Err(NativeError::plan(format!(
                    "division of {left_type} is not supported natively yet (doubles only)"
                )));
            }
            // Spark: x / 0 is null (for -0.0 too: normalised before the comparison).
            let is_zero = plain(
                normalize_float(Arc::clone(&right), schema)?,
                Operator::Eq,
                Arc::new(Literal::new(zero?)),
            );
            let divide = null_when(
                Arc::clone(&is_zero),
                plain(Arc::clone(&left), Operator::Divide, Arc::clone(&right)),
                &left_type,
            )?;
            if ansi {
                divide_by_zero_fails(left, right, is_zero, divide, &left_type)?
            } else {
                divide
            }
        }
        BinaryOp::Remainder => {
            if !left_type.is_numeric() {
                return Err(NativeError::plan(format!(
                    "{op:?} needs numbers, got {left_type}"
                )));
            }
            let (left_operand, right_operand) = (Arc::clone(&left), Arc::clone(&right));
            let zero = zero?;
            let is_zero = plain(
                normalize_float(Arc::clone(&right), schema)?,
                Operator::Eq,
                Arc::new(Literal::new(zero.clone())),
            );
            let rem = plain(Arc::clone(&left), Operator::Modulo, Arc::clone(&right));
            let rem: Arc<dyn PhysicalExpr> = if left_type.is_integer() {
                // MIN % -1 overflows in Arrow; in Spark (Java) x % -1 is 0.
                let minus_one = ScalarValue::try_from_string("-1".to_owned(), &right_type)
                    .map_err(|e| NativeError::plan(e.to_string()))?;
                // Only for a non-null dividend: null % -1 stays null.
                let is_minus_one = plain(
                    plain(right, Operator::Eq, Arc::new(Literal::new(minus_one))),
                    Operator::And,
                    Arc::new(IsNotNullExpr::new(left)),
                );
                Arc::new(
                    CaseExpr::try_new(
                        None,
                        vec![(is_minus_one, Arc::new(Literal::new(zero)))],
                        Some(rem),
                    )
                    .map_err(|e| NativeError::plan(e.to_string()))?,
                )
            } else {
                rem
            };
            let remainder = null_when(Arc::clone(&is_zero), rem, &left_type)?;
            if ansi {
                divide_by_zero_fails(left_operand, right_operand, is_zero, remainder, &left_type)?
            } else {
                remainder
            }
        }
        BinaryOp::IntegralDivide => {
            if left_type != DataType::Int64 {
                return Err(NativeError::plan(format!(
                    "div of {left_type} is not supported natively (bigints only)"
                )));
            }
            let long = |v: i64| -> Arc<dyn PhysicalExpr> {
                Arc::new(Literal::new(ScalarValue::Int64(Some(v))))
            };
            let is_zero = plain(Arc::clone(&right), Operator::Eq, long(0));
            let by_minus_one = plain(
                plain(Arc::clone(&right), Operator::Eq, long(-1)),
                Operator::And,
                Arc::new(IsNotNullExpr::new(Arc::clone(&left))),
            );
            // Java's quotient toward zero; MIN / -1 overflows in Arrow, and wraps in Java
            // (0 - MIN, wrapping, is MIN).
            let mut branches = vec![(
                by_minus_one,
                plain(long(0), Operator::Minus, Arc::clone(&left)),
            )];
            if ansi {
                // Spark checks MIN div -1 after the divisor's zero: ARITHMETIC_OVERFLOW.
                let overflow = plain(
                    plain(Arc::clone(&right), Operator::Eq, long(-1)),
                    Operator::And,
                    plain(Arc::clone(&left), Operator::Eq, long(i64::MIN)),
                );
                let error: Arc<dyn PhysicalExpr> = Arc::new(SparkRaiseError {
                    message: "[ARITHMETIC_OVERFLOW] Overflow in integral divide. Use 'try_divide' \
                              to tolerate overflow and return NULL instead. If necessary set \
                              \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. \
                              SQLSTATE: 22003"
                        .to_owned(),
                    data_type: DataType::Int64,
                });
                branches.insert(0, (overflow, error));
            }
            let quotient: Arc<dyn PhysicalExpr> = Arc::new(
                CaseExpr::try_new(
                    None,
                    branches,
                    Some(plain(
                        Arc::clone(&left),
                        Operator::Divide,
                        Arc::clone(&right),
                    )),
                )
                .map_err(|e| NativeError::plan(e.to_string()))?,
            );
            let quotient = null_when(Arc::clone(&is_zero), quotient, &left_type)?;
            if ansi {
                divide_by_zero_fails(left, right, is_zero, quotient, &left_type)?
            } else {
                quotient
            }
        }
        BinaryOp::Eq
        | BinaryOp::EqNullSafe
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq => {
            let o = match op {
                BinaryOp::Eq => Operator::Eq,
                BinaryOp::EqNullSafe => Operator::IsNotDistinctFrom,
                BinaryOp::Lt => Operator::Lt,
                BinaryOp::LtEq => Operator::LtEq,
                BinaryOp::Gt => Operator::Gt,
                _ => Operator::GtEq,
            };
            plain(
                normalize_float(left, schema)?,
                o,
                normalize_float(right, schema)?,
            )
        }
        BinaryOp::And | BinaryOp::Or => {
            let o = if op == BinaryOp::And {
                Operator::And
            } else {
                Operator::Or
            };
            plain(boolean(left, schema)?, o, boolean(right, schema)?)
        }
        BinaryOp::BitwiseAnd
        | BinaryOp::BitwiseOr
        | BinaryOp::BitwiseXor
        | BinaryOp::ShiftLeft
        | BinaryOp::ShiftRight => {
            if !left_type.is_integer() {
                return Err(NativeError::plan(format!(
                    "{op:?} needs integers, got {left_type}"
                )));
            }
            // Shifts as Java's: the distance taken modulo the width (Rust's wrapping shifts).
            let o = match op {
                BinaryOp::BitwiseAnd => Operator::BitwiseAnd,
                BinaryOp::BitwiseOr => Operator::BitwiseOr,
                BinaryOp::BitwiseXor => Operator::BitwiseXor,
                BinaryOp::ShiftLeft => Operator::BitwiseShiftLeft,
                _ => Operator::BitwiseShiftRight,
            };
            plain(left, o, right)
        }
        BinaryOp::Concat => {
            if left_type != DataType::Utf8 {
                return Err(NativeError::plan(format!(
                    "concat needs strings, got {left_type}"
                )));
            }
            plain(left, Operator::StringConcat, right)
        }
    })
}

/// Spark's ANSI division and remainder: `CASE WHEN right IS NULL THEN NULL WHEN left IS NOT
/// NULL AND is_zero THEN DIVIDE_BY_ZERO ELSE value END` (Spark evaluates neither the zero test
/// nor the dividend when the divisor is null, and fails only for a non-null dividend).
fn divide_by_zero_fails(
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    is_zero: Arc<dyn PhysicalExpr>,
    value: Arc<dyn PhysicalExpr>,
    data_type: &DataType,
) -> Result<Arc<dyn PhysicalExpr>> {
    let null = ScalarValue::try_from(data_type).map_err(|e| NativeError::plan(e.to_string()))?;
    let fails = Arc::new(BinaryExpr::new(
        Arc::new(IsNotNullExpr::new(left)),
        Operator::And,
        is_zero,
    ));
    let error = Arc::new(SparkRaiseError {
        message: "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 \
                  and return NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \
                  \"false\" to bypass this error. SQLSTATE: 22012"
            .to_owned(),
        data_type: data_type.clone(),
    });
    Ok(Arc::new(
        CaseExpr::try_new(
            None,
            vec![
                (
                    Arc::new(IsNullExpr::new(right)) as Arc<dyn PhysicalExpr>,
                    Arc::new(Literal::new(null)) as Arc<dyn PhysicalExpr>,
                ),
                (fails, error),
            ],
            Some(value),
        )
        .map_err(|e| NativeError::plan(e.to_string()))?,
    ))
}

/// Spark's name of an integer type (in errors).
fn spark_integer_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 => "byte",
        DataType::Int16 => "short",
        DataType::Int32 => "integer",
        _ => "long",
    }
}

/// `CASE WHEN condition THEN NULL ELSE value END`.
fn null_when(
    condition: Arc<dyn PhysicalExpr>,
    value: Arc<dyn PhysicalExpr>,
    data_type: &DataType,
) -> Result<Arc<dyn PhysicalExpr>> {
    let null = ScalarValue::try_from(data_type).map_err(|e| NativeError::plan(e.to_string()))?;
    Ok(Arc::new(
        CaseExpr::try_new(
            None,
            vec![(condition, Arc::new(Literal::new(null)))],
            Some(value),
        )
        .map_err(|e| NativeError::plan(e.to_string()))?,
    ))
}

/// Wraps float expressions in [`SparkNormalizeFloat`]; other types pass through.
pub(crate) fn normalize_float(
    expr: Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(match expr.data_type(schema)? {
        DataType::Float32 | DataType::Float64 => Arc::new(SparkNormalizeFloat { child: expr }),
        _ => expr,
    })
}

/// The bytes of `hex` (two hexadecimal digits each), if it is that.
fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Maps `-0.0` to `0.0` and every NaN to the canonical NaN, so that Arrow's total-order
/// comparisons agree with Spark's (`-0.0 = 0.0`, `NaN = NaN`).
#[derive(Debug, Eq)]
pub struct SparkNormalizeFloat {
    child: Arc<dyn PhysicalExpr>,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkNormalizeFloat {
    fn eq(&self, other: &Self) -> bool {
        self.child.eq(&other.child)
    }
}

impl Hash for SparkNormalizeFloat {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.child.hash(state);
    }
}

impl fmt::Display for SparkNormalizeFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_normalize_float({})", self.child)
    }
}

/// `array` with `-0.0` as `0.0` and every NaN the canonical one (see [`SparkNormalizeFloat`]).
pub(crate) fn normalize_array(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(match array.data_type() {
        DataType::Float64 => {
            let a = array
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| NativeError::Execution("expected Float64".into()))?;
            Arc::new(
                a.unary::<_, datafusion::arrow::datatypes::Float64Type>(|v| {
                    if v.is_nan() { f64::NAN } else { v + 0.0 }
                }),
            )
        }
        DataType::Float32 => {
            let a = array
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or_else(|| NativeError::Execution("expected Float32".into()))?;
            Arc::new(
                a.unary::<_, datafusion::arrow::datatypes::Float32Type>(|v| {
                    if v.is_nan() { f32::NAN } else { v + 0.0 }
                }),
            )
        }
        _ => Arc::clone(array),
    })
}

impl PhysicalExpr for SparkNormalizeFloat {
    fn data_type(&self, input_schema: &Schema) -> datafusion::common::Result<DataType> {
        self.child.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::common::Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        let to_df = |e: NativeError| datafusion::error::DataFusionError::Execution(e.to_string());
        crate::unary::evaluate_unary(&self.child, batch, |a| normalize_array(a).map_err(to_df))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        match (children.pop(), children.is_empty()) {
            (Some(child), true) => Ok(Arc::new(Self { child })),
            _ => datafusion::common::internal_err!("spark_normalize_float takes one child"),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_normalize_float(")?;
        self.child.fmt_sql(f)?;
        write!(f, ")")
    }
}

/// Casts a result batch's columns to the types Spark expects (`output`).
pub fn conform(batch: RecordBatch, output: &SchemaRef) -> Result<RecordBatch> {
    if batch.num_columns() != output.fields().len() {
        return Err(NativeError::Execution(format!(
            "the plan returned {} columns where Spark expects {}",
            batch.num_columns(),
            output.fields().len()
        )));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(output.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                datafusion::arrow::compute::cast_with_options(
                    column,
                    field.data_type(),
                    &SPARK_CAST,
                )
                .map_err(|e| {
                    NativeError::Execution(format!("casting column {}: {e}", field.name()))
                })
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let options = datafusion::arrow::record_batch::RecordBatchOptions::new()
        .with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(output), columns, &options)
        .map_err(|e| NativeError::Execution(e.to_string()))
}

/// Checks at planning time that the plan's columns can become Spark's `output` columns.
pub fn check_output(plan: &Arc<dyn ExecutionPlan>, output: &Schema) -> Result<()> {
    let schema = plan.schema();
    if schema.fields().len() != output.fields().len() {
        return Err(NativeError::plan(format!(
            "the plan returns {} columns but the message declares {}",
            schema.fields().len(),
            output.fields().len()
        )));
    }
    for (got, want) in schema.fields().iter().zip(output.fields()) {
        if got.data_type() != want.data_type() && !can_cast_types(got.data_type(), want.data_type())
        {
            return Err(NativeError::plan(format!(
                "output column {} is {} in the plan and {} in the message",
                want.name(),
                got.data_type(),
                want.data_type()
            )));
        }
    }
    Ok(())
}

fn pow10(k: u32) -> Option<i256> {
    i256::from_i128(10).checked_pow(k)
}

/// `round_half_up(n / d)` for `n >= 0`, `d > 0`.
fn div_half_up(n: i256, d: i256) -> Option<i256> {
    n.checked_mul(i256::from_i128(2))?
        .checked_add(d)?
        .checked_div(d.checked_mul(i256::from_i128(2))?)
}

/// Spark's average of a decimal sum (unscaled `sum` at `sum_scale`, `sum_scale <= 18`) over
/// `count != 0` rows, unscaled at `scale` (`scale <= 22`): `Some(None)` when it does not fit
/// `precision` digits; `None` only if the 256-bit arithmetic overflows (not reached for the
/// supported scales).
///
/// Spark 4.0 divides with `BigDecimal.divide(divisor, 39, RoundingMode.DOWN)` and then rounds
/// half up to the result's scale (`Decimal.toPrecision`). Truncating at 39 digits never moves
/// a value across the half-way point of a scale of at most 38, so this is the exact quotient
/// rounded half up once.
pub fn spark_decimal_avg(
    sum: i128,
    sum_scale: u32,
    count: i64,
    precision: u8,
    scale: u32,
) -> Option<Option<i128>> {
    // The average is the division of the sum by the count (a decimal of scale 0).
    spark_decimal_divide(sum, sum_scale, i128::from(count), 0, precision, scale)
}

/// An error raised when evaluated on any row (see [`Expr::RaiseError`]); under a CASE branch
/// it fires only for the rows that reach it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkRaiseError {
    message: String,
    data_type: DataType,
}

impl fmt::Display for SparkRaiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raise_error({:?})", self.message)
    }
}

impl PhysicalExpr for SparkRaiseError {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(self.data_type.clone())
    }

    fn nullable(&self, _input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        if batch.num_rows() > 0 {
            return datafusion::common::exec_err!("{}", self.message);
        }
        Ok(ColumnarValue::Scalar(ScalarValue::try_from(
            &self.data_type,
        )?))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        Ok(self)
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `round_half_up(left / right)` for decimals (`left` at `left_scale`, `right` at
/// `right_scale`), unscaled at `scale`: `None` when `right` is 0, `Some(None)` when the
/// quotient does not fit `precision` digits. Spark 4.0's `Decimal./` truncates the quotient at
/// 39 digits and `toPrecision` then rounds half up, which equals one half-up rounding of the
/// exact quotient at scales up to 38.
pub fn spark_decimal_divide(
    left: i128,
    left_scale: u32,
    right: i128,
    right_scale: u32,
    precision: u8,
    scale: u32,
) -> Option<Option<i128>> {
    if right == 0 {
        return None;
    }
    let negative = (left < 0) != (right < 0);
    let n = i256::from_i128(left)
        .checked_abs()?
        .checked_mul(pow10(right_scale + scale)?)?;
    let d = i256::from_i128(right)
        .checked_abs()?
        .checked_mul(pow10(left_scale)?)?;
    let r = div_half_up(n, d)?;
    if r >= pow10(u32::from(precision))? {
        return Some(None);
    }
    let r = r.to_i128()?;
    Some(Some(if negative { -r } else { r }))
}

/// `v` (non-negative, at scale `from`) at scale `to`, rounding half up.
fn rescale_half_up(v: i256, from: u32, to: u32) -> Option<i256> {
    if to >= from {
        v.checked_mul(pow10(to - from)?)
    } else {
        div_half_up(v, pow10(from - to)?)
    }
}

/// Spark's decimal `left op right` (`op`: add, subtract, multiply; `left` at `left_scale`,
/// `right` at `right_scale`), exact, then rounded half up to `scale`: `Some(None)` when it
/// does not fit `precision` digits. (Spark 4.0 multiplies with a 39-digit truncating
/// MathContext first; for any result that fits 38 digits that keeps the digit that decides
/// the rounding, so the result is the same.)
pub fn spark_decimal_arithmetic(
    op: BinaryOp,
    left: i128,
    left_scale: u32,
    right: i128,
    right_scale: u32,
    precision: u8,
    scale: u32,
) -> Option<Option<i128>> {
    let (l, r) = (i256::from_i128(left), i256::from_i128(right));
    let (exact, exact_scale) = match op {
        BinaryOp::Multiply => (l.checked_mul(r)?, left_scale + right_scale),
        BinaryOp::Add | BinaryOp::Subtract => {
            let common = left_scale.max(right_scale);
            let l = l.checked_mul(pow10(common - left_scale)?)?;
            let r = r.checked_mul(pow10(common - right_scale)?)?;
            let v = if op == BinaryOp::Add {
                l.checked_add(r)?
            } else {
                l.checked_sub(r)?
            };
            (v, common)
        }
        _ => return None,
    };
    let negative = exact.is_negative();
    // Scaling up only overflows 256 bits for values far beyond 38 digits.
    let Some(magnitude) = rescale_half_up(exact.checked_abs()?, exact_scale, scale) else {
        return Some(None);
    };
    if magnitude >= pow10(u32::from(precision))? {
        return Some(None);
    }
    let v = magnitude.to_i128()?;
    Some(Some(if negative { -v } else { v }))
}

/// Spark 4.0's `Decimal` rounds a product to 39 significant digits and a quotient to scale 39,
/// both toward zero (`Decimal.MATH_CONTEXT`, `MathContext(39, DOWN)`), before `toPrecision`
/// rounds the value to the result type.
const SPARK_DECIMAL_DIGITS: u32 = 39;

/// The value that Spark's `NUMERIC_VALUE_OUT_OF_RANGE` error names when a decimal
/// `left op right` (`op`: add, subtract, multiply or divide; `left` at `left_scale`, `right` at
/// `right_scale`, not 0 for a division) does not fit its result type in ANSI mode:
/// `toPlainString` of Spark's `Decimal` result before `toPrecision` rounds it. That is the exact
/// value for `+` and `-`, the product truncated to 39 significant digits, and the quotient
/// truncated at scale 39.
pub fn spark_decimal_unrounded_text(
    op: BinaryOp,
    left: i128,
    left_scale: u32,
    right: i128,
    right_scale: u32,
) -> String {
    let ten = |n: u32| BigInt::from(10).pow(n);
    let (l, r) = (BigInt::from(left), BigInt::from(right));
    let (value, scale) = match op {
        BinaryOp::Multiply => {
            let product = l * r;
            let digits = product.magnitude().to_string().len() as u32;
            let dropped = digits.saturating_sub(SPARK_DECIMAL_DIGITS);
            // Integer division truncates toward zero, as RoundingMode.DOWN.
            (
                product / ten(dropped),
                i64::from(left_scale + right_scale) - i64::from(dropped),
            )
        }
        BinaryOp::Divide => (
            l * ten(right_scale + SPARK_DECIMAL_DIGITS) / (r * ten(left_scale)),
            i64::from(SPARK_DECIMAL_DIGITS),
        ),
        _ => {
            let common = left_scale.max(right_scale);
            let (l, r) = (l * ten(common - left_scale), r * ten(common - right_scale));
            let value = if op == BinaryOp::Subtract {
                l - r
            } else {
                l + r
            };
            (value, i64::from(common))
        }
    };
    plain_decimal(&value, scale)
}

/// `unscaled / 10^scale` as Java's `BigDecimal.toPlainString` prints it: no exponent, `scale`
/// fraction digits, and zeros for a negative scale.
pub(crate) fn plain_decimal(unscaled: &BigInt, scale: i64) -> String {
    let sign = if unscaled.sign() == num_bigint::Sign::Minus {
        "-"
    } else {
        ""
    };
    let digits = unscaled.magnitude().to_string();
    if scale <= 0 {
        let zeros = if digits == "0" { 0 } else { (-scale) as usize };
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    }
    let scale = scale as usize;
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// The decimal operation of a [`SparkDecimalBinary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DecimalOp {
    /// `add`, `subtract` or `multiply` with precision loss ([`spark_decimal_arithmetic`]).
    Arithmetic(BinaryOp),
    /// Division ([`spark_decimal_divide`]): by zero, null or an ANSI error.
    Divide,
    /// A final average: a decimal sum over a bigint count; a count of 0 gives null.
    Average,
}

/// Spark's decimal arithmetic, division and average ([`Expr::SparkDecimalArithmetic`],
/// [`Expr::SparkDecimalDivide`], [`Expr::SparkDecimalAvg`]): the exact result rounded half up
/// to `scale`; null (legacy) or an error (ANSI) when it does not fit `precision` digits.
#[derive(Debug, Eq)]
pub struct SparkDecimalBinary {
    op: DecimalOp,
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    left_scale: u32,
    /// 0 for an average's count.
    right_scale: u32,
    precision: u8,
    scale: u32,
    ansi: bool,
}

impl PartialEq for SparkDecimalBinary {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op
            && self.left.eq(&other.left)
            && self.right.eq(&other.right)
            && (
                self.left_scale,
                self.right_scale,
                self.precision,
                self.scale,
                self.ansi,
            ) == (
                other.left_scale,
                other.right_scale,
                other.precision,
                other.scale,
                other.ansi,
            )
    }
}

impl Hash for SparkDecimalBinary {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.op.hash(state);
        self.left.hash(state);
        self.right.hash(state);
        (
            self.left_scale,
            self.right_scale,
            self.precision,
            self.scale,
            self.ansi,
        )
            .hash(state);
    }
}

impl fmt::Display for SparkDecimalBinary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.op {
            DecimalOp::Arithmetic(op) => format!("spark_decimal_{op:?}"),
            DecimalOp::Divide => "spark_decimal_divide".to_owned(),
            DecimalOp::Average => "spark_decimal_avg".to_owned(),
        };
        write!(f, "{name}({}, {})", self.left, self.right)
    }
}

impl SparkDecimalBinary {
    /// One row: `Ok(None)` for null.
    fn compute(&self, l: i128, r: i128) -> datafusion::common::Result<Option<i128>> {
        let value = match self.op {
            DecimalOp::Arithmetic(op) => spark_decimal_arithmetic(
                op,
                l,
                self.left_scale,
                r,
                self.right_scale,
                self.precision,
                self.scale,
            ),
            DecimalOp::Average if r == 0 => return Ok(None),
            DecimalOp::Divide if r == 0 && self.ansi => {
                return datafusion::common::exec_err!(
                    "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor \
                     being 0 and return NULL instead. If necessary set \
                     \"spark.sql.ansi.enabled\" to \"false\" to bypass this error. \
                     SQLSTATE: 22012"
                );
            }
            DecimalOp::Divide if r == 0 => return Ok(None),
            DecimalOp::Divide | DecimalOp::Average => spark_decimal_divide(
                l,
                self.left_scale,
                r,
                self.right_scale,
                self.precision,
                self.scale,
            ),
        };
        match value {
            Some(Some(v)) => Ok(Some(v)),
            Some(None) if self.ansi => {
                // Spark's average divides the sum by the count as a decimal(20, 0)
                // (DecimalDivideWithOverflowCheck), so it names the quotient as a division does.
                let op = match self.op {
                    DecimalOp::Arithmetic(op) => op,
                    DecimalOp::Divide | DecimalOp::Average => BinaryOp::Divide,
                };
                let value =
                    spark_decimal_unrounded_text(op, l, self.left_scale, r, self.right_scale);
                Err(decimal_out_of_range(
                    &value,
                    self.precision,
                    self.scale as i8,
                ))
            }
            Some(None) => Ok(None),
            None => datafusion::common::exec_err!("{self}: 256-bit arithmetic overflow"),
        }
    }
}

impl PhysicalExpr for SparkDecimalBinary {
    fn data_type(&self, _input_schema: &Schema) -> datafusion::common::Result<DataType> {
        Ok(DataType::Decimal128(self.precision, self.scale as i8))
    }

    fn nullable(&self, _input_schema: &Schema) -> datafusion::common::Result<bool> {
        Ok(true)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::common::Result<ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, Decimal128Builder};
        use datafusion::arrow::datatypes::{Decimal128Type, Int64Type};
        let rows = batch.num_rows();
        let left = self.left.evaluate(batch)?.into_array(rows)?;
        let right = self.right.evaluate(batch)?.into_array(rows)?;
        let left = left.as_primitive::<Decimal128Type>();
        // An average's count is a bigint; every other right operand is a decimal.
        let right_value: Box<dyn Fn(usize) -> i128> = match self.op {
            DecimalOp::Average => {
                let count = right.as_primitive::<Int64Type>().clone();
                Box::new(move |row| i128::from(count.value(row)))
            }
            _ => {
                let decimal = right.as_primitive::<Decimal128Type>().clone();
                Box::new(move |row| decimal.value(row))
            }
        };
        let mut out = Decimal128Builder::with_capacity(rows);
        for row in 0..rows {
            if left.is_null(row) || right.is_null(row) {
                out.append_null();
                continue;
            }
            out.append_option(self.compute(left.value(row), right_value(row))?);
        }
        let out = out
            .finish()
            .with_precision_and_scale(self.precision, self.scale as i8)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::common::Result<Arc<dyn PhysicalExpr>> {
        let [left, right]: [Arc<dyn PhysicalExpr>; 2] = children.try_into().map_err(|_| {
            datafusion::error::DataFusionError::Internal(format!("{self} takes two children"))
        })?;
        Ok(Arc::new(Self {
            left,
            right,
            ..*self
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_literals_are_bytes() {
        assert_eq!(super::parse_hex("00ff7F"), Some(vec![0, 255, 127]));
        assert_eq!(super::parse_hex(""), Some(vec![]));
        assert_eq!(super::parse_hex("0"), None);
        assert_eq!(super::parse_hex("zz"), None);
        assert_eq!(super::parse_hex("é0"), None);
    }
}
