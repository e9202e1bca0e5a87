//! The plan message: what the Scala plugin sends for one task of one `CinderNativeExec`.
//!
//! Version 1 is JSON, parsed strictly: unknown fields, unknown operators or expressions, a
//! wrong version, trailing bytes or a truncated message are all errors that name the problem.
//! The shape (field names and the types' spellings) is written by `PlanJson.scala`; this file
//! is the one place it is read.
//!
//! ```json
//! {"version": 1,
//!  "output": [{"name": "l_orderkey", "type": "long", "nullable": true}],
//!  "files": [{"path": "/data/part-0.parquet", "start": 0, "length": 1024, "file_size": 1024,
//!             "partition_values": []}],
//!  "root": {"op": "filter",
//!           "condition": {"kind": "binary", "op": "gt", "type": "boolean",
//!                         "left": {"kind": "column", "index": 0},
//!                         "right": {"kind": "literal", "type": "long", "value": 5}},
//!           "input": {"op": "parquet_scan", "schema": [...], "partition_schema": []}}}
//! ```
//!
//! `files` belongs to the plan's one Parquet scan: the plugin builds the operator tree once
//! per query and adds each task's file splits when the task runs.

use serde::Deserialize;

use crate::error::{NativeError, Result};
use crate::moments::CoMomentPart;

/// The message version this library reads.
pub const PLAN_VERSION: u32 = 1;

/// Plans larger than this are refused before parsing (a plan is a few kilobytes).
pub const MAX_PLAN_BYTES: usize = 64 << 20;

/// One task's plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanMessage {
    /// Must be [`PLAN_VERSION`].
    pub version: u32,
    /// The columns the plan returns, in order, with Spark's types: results are cast to them.
    pub output: Vec<FieldSpec>,
    /// The file splits of the plan's Parquet scan for this task.
    #[serde(default)]
    pub files: Vec<FileSplit>,
    /// Settings for this plan's execution.
    #[serde(default)]
    pub settings: Settings,
    /// The operator tree.
    pub root: Node,
    /// A map task of a native shuffle: the plan's rows are split by this partitioning into
    /// blocks (see [`crate::shuffle`]) instead of being returned as batches.
    #[serde(default)]
    pub shuffle: Option<ShuffleSpec>,
}

/// How a native shuffle's map task assigns rows to partitions, as Spark's partitioning does.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShuffleSpec {
    /// `HashPartitioning(keys, partitions)`: `pmod(murmur3(keys), partitions)`.
    Hash {
        /// The keys, over the plan's output columns.
        keys: Vec<HashKey>,
        /// Spark's partition count.
        partitions: usize,
    },
    /// `SinglePartition`: every row to partition 0.
    Single,
    /// `RangePartitioning(keys, partitions)`: a row goes to the partition after every bound
    /// below its keys (Spark's `RangePartitioner.getPartition`, with the bounds Spark sampled).
    Range {
        /// The sort keys, over the plan's output columns, in Spark's order.
        keys: Vec<SortKey>,
        /// Spark's range bounds, ascending in the keys' order: one literal per key each (at
        /// most `partitions - 1` of them; none sends every row to partition 0).
        bounds: Vec<Vec<Expr>>,
        /// Spark's partition count.
        partitions: usize,
    },
}

/// A key of a hash partitioning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashKey {
    /// The key's value.
    pub expr: Expr,
    /// Spark's type of the key, which decides how it is hashed.
    #[serde(rename = "type")]
    pub data_type: String,
}

/// Execution settings carried by the message (from `spark.cinder.*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where Cinder's operators run: `auto`, `cuda`, `host` or `cpu` (plain DataFusion).
    #[serde(default = "default_device")]
    pub device: String,
    /// Rows per batch the scan produces.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Whether Cinder's operators hand batches to each other on the device
    /// (`cinder.device_regions`, from `spark.cinder.deviceRegions`).
    #[serde(default)]
    pub device_regions: bool,
    /// The most bytes the plan's operators may hold (`spark.cinder.memory.taskLimit`): past
    /// it sorts and aggregations spill and hash joins fail (windows, shuffles and the other
    /// operators do not count their memory yet); 0 for no limit.
    #[serde(default)]
    pub memory_limit: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            device: default_device(),
            batch_rows: default_batch_rows(),
            device_regions: false,
            memory_limit: 0,
        }
    }
}

fn default_device() -> String {
    "auto".to_owned()
}

fn default_batch_rows() -> usize {
    8192
}

/// A column: name, Spark type name (`long`, `decimal(15,2)`, ...) and nullability.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The column's name (for reading Parquet, the name in the file).
    pub name: String,
    /// Spark's `DataType.simpleString` of the column.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

/// One file split: a byte range of one local Parquet file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSplit {
    /// Absolute local path (decoded, without a scheme).
    pub path: String,
    /// First byte of the split.
    pub start: u64,
    /// Bytes in the split.
    pub length: u64,
    /// Size of the whole file.
    pub file_size: u64,
    /// The file's partition column values, in `partition_schema` order.
    #[serde(default)]
    pub partition_values: Vec<serde_json::Value>,
}

/// An operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    /// Reads the task's [`FileSplit`]s: `schema`'s columns from the files, then the partition
    /// columns.
    ParquetScan {
        /// Columns read from the files.
        schema: Vec<FieldSpec>,
        /// Partition columns, whose values come with each file.
        #[serde(default)]
        partition_schema: Vec<FieldSpec>,
        /// Spark's pushed-down data filters (those translated), over the scan's columns: the
        /// Parquet reader skips the row groups and pages their statistics rule out, as Spark's
        /// reader does, so a filter left on Spark above sees the rows it would see without the
        /// plugin. Rows are not filtered by it.
        #[serde(default)]
        prune: Option<Expr>,
    },
    /// Batches from the Spark child of the native subtree (a shuffle read, say), converted to
    /// Arrow by the plugin.
    Input {
        /// The child's columns.
        schema: Vec<FieldSpec>,
        /// Which of the plan's inputs this leaf reads (0 for the first; a plan with `n`
        /// inputs reads each of `0..n` exactly once).
        #[serde(default)]
        slot: usize,
    },
    /// An equi-join of `left` and `right` on `left_keys[i] = right_keys[i]` (a null key
    /// never matches, as in Spark: null-safe keys arrive rewritten), with an optional
    /// `condition` on the matching pairs. The `build` side is read in full first. Output:
    /// left's columns then right's, or left's alone for `left_semi` and `left_anti`.
    HashJoin {
        /// The join type.
        join_type: JoinKind,
        /// Key expressions over the left input's columns.
        left_keys: Vec<Expr>,
        /// Key expressions over the right input's columns, of the left keys' types.
        right_keys: Vec<Expr>,
        /// A boolean expression over left's columns followed by right's.
        #[serde(default)]
        condition: Option<Expr>,
        /// The side read in full into the hash table.
        build: BuildSide,
        /// Spark's null-aware anti join (`NOT IN`), for `left_anti` with one key, no
        /// condition and the left side built: no row when the right side has a null key, and
        /// a left row with a null key only when the right side is empty.
        #[serde(default)]
        null_aware: bool,
        /// The left input.
        left: Box<Node>,
        /// The right input.
        right: Box<Node>,
    },
    /// Keeps the rows for which `condition` is true.
    Filter {
        /// A boolean expression over the input's columns.
        condition: Expr,
        /// The input operator.
        input: Box<Node>,
    },
    /// Groups the input by `groups` and computes `aggregates` per group (one row with no
    /// groups, also for empty input). Output: the group values, then one column per
    /// aggregate. The Spark plugin wraps it in a `project` that lays out Spark's aggregation
    /// buffers.
    HashAggregate {
        /// Grouping expressions over the input.
        groups: Vec<Expr>,
        /// The aggregates.
        aggregates: Vec<AggregateCall>,
        /// The input operator.
        input: Box<Node>,
    },
    /// Computes `exprs` over each input row.
    Project {
        /// One expression per output column.
        exprs: Vec<Expr>,
        /// The input operator.
        input: Box<Node>,
    },
    /// Each input row once per projection (Spark's `ExpandExec`: ROLLUP, CUBE, GROUPING SETS,
    /// aggregates of several DISTINCT arguments), a batch through each projection in turn.
    Expand {
        /// The projections, at least one: one expression per output column each, over the
        /// input's columns, of the same types in every projection.
        projections: Vec<Vec<Expr>>,
        /// The input operator.
        input: Box<Node>,
    },
    /// Spark's `GenerateExec` of `explode` or `posexplode` (see `crate::generate`): per input
    /// row, one row per element of its array.
    Generate {
        /// The array (a list) exploded, over the input's columns.
        array: Expr,
        /// The input columns kept, by index (Spark's `requiredChildOutput`).
        keep: Vec<usize>,
        /// Whether each element's position comes before it (`posexplode`).
        position: bool,
        /// Whether a null or empty array gives a row of nulls (`explode_outer`).
        outer: bool,
        /// The input operator.
        input: Box<Node>,
    },
    /// Orders the input by `keys` (the first decides, then the next, ...), with Spark's
    /// ordering: strings by their UTF-8 bytes, `-0.0` equal to `0.0`, NaN above every other
    /// float. With `fetch`, only the first `fetch` rows are kept (a top-k). Rows with equal
    /// keys come in no particular order, as in Spark.
    Sort {
        /// The sort keys, at least one.
        keys: Vec<SortKey>,
        /// Keep only the first `fetch` rows.
        #[serde(default)]
        fetch: Option<usize>,
        /// The input operator.
        input: Box<Node>,
    },
    /// The groups of a partial aggregation in Spark's `ObjectHashAggregateExec` order (see
    /// `crate::group_order`): sorted by the columns `keys` where there are at least `min_rows`
    /// of them, else as they come.
    GroupOrder {
        /// The grouping key columns, by index.
        keys: Vec<usize>,
        /// Spark's sort-based fallback threshold.
        min_rows: usize,
        /// The input operator.
        input: Box<Node>,
    },
    /// Skips the first `offset` rows, then passes up to `limit` rows (all with no `limit`).
    Limit {
        /// Rows skipped first.
        #[serde(default)]
        offset: usize,
        /// Rows passed at most.
        #[serde(default)]
        limit: Option<usize>,
        /// The input operator.
        input: Box<Node>,
    },
    /// Spark's window functions over the input's rows: the input's columns, then one column
    /// per function. Rows are grouped by `partition_by` (floats as Spark groups them:
    /// `-0.0 = 0.0`, `NaN = NaN`) and ordered within a group by `order_by`; the input is
    /// sorted by both unless it already is.
    Window {
        /// The window's partition keys (none: one partition).
        #[serde(default)]
        partition_by: Vec<Expr>,
        /// The order within a partition (Spark's order: NaN largest, `-0.0 = 0.0`).
        #[serde(default)]
        order_by: Vec<SortKey>,
        /// The functions, at least one.
        functions: Vec<WindowCall>,
        /// The input operator.
        input: Box<Node>,
    },
}

/// One function of a [`Node::Window`], with Spark's result type.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "function", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowCall {
    /// The row's position in its partition, from 1 (`int`).
    RowNumber,
    /// 1 plus the rows ordered before the row's peers (`int`).
    Rank,
    /// 1 plus the distinct order values before the row's (`int`).
    DenseRank,
    /// `(rank - 1) / (rows - 1)`, 0 for a partition of one row (`double`).
    PercentRank,
    /// The rows up to the row's last peer over the partition's rows (`double`).
    CumeDist,
    /// The row's bucket, from 1, of `n` buckets of consecutive rows whose sizes differ by at
    /// most one, the larger ones first (`int`).
    Ntile {
        /// How many buckets.
        n: i64,
    },
    /// `arg` of the row `offset` rows before (after, for a negative `offset`).
    Lag(Shift),
    /// `arg` of the row `offset` rows after (before, for a negative `offset`).
    Lead(Shift),
    /// `arg` of the frame's `n`th row (from 1), of its first (`n` absent) or its last
    /// (`last`); with `ignore_nulls`, of its non-null values; null where there is none.
    NthValue {
        /// The value read.
        arg: Expr,
        /// Which row of the frame; the first when absent.
        #[serde(default)]
        n: Option<i64>,
        /// The frame's last row instead of its first.
        #[serde(default)]
        last: bool,
        /// Whether rows with a null `arg` are skipped.
        #[serde(default)]
        ignore_nulls: bool,
        /// The rows read, around the row.
        frame: WindowFrameSpec,
    },
    /// An aggregate over the frame's rows (DataFusion's result type, as in
    /// [`Node::HashAggregate`]; the aggregate's `filter` is not taken).
    Aggregate {
        /// The aggregate.
        call: AggregateCall,
        /// The rows aggregated, around the row.
        frame: WindowFrameSpec,
    },
}

/// What [`WindowCall::Lag`] and [`WindowCall::Lead`] read: `arg` of the row `offset` rows
/// away, or `default` (a literal of `arg`'s type; null when absent) where there is no such
/// row; with `ignore_nulls`, counting the rows with a non-null `arg` only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// The value read.
    pub arg: Expr,
    /// How many rows away.
    pub offset: i64,
    /// The value where the row does not exist.
    #[serde(default)]
    pub default: Option<Expr>,
    /// Whether rows with a null `arg` are skipped.
    #[serde(default)]
    pub ignore_nulls: bool,
}

/// The frame of a [`WindowCall`]: the rows from `start` to `end`, both included. `rows`
/// counts rows from the current one (negative: before it; 0: the row itself; absent:
/// unbounded, the partition's first row for `start`, its last for `end`); `range` reads
/// offsets as 0 (the row and its peers, equal in the order) or absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFrameSpec {
    /// Rows (`rows`) or order values (`range`).
    pub units: FrameUnits,
    /// The frame's first row, from the current one (rows), or the offset from the current
    /// row's order value (range; 0 is its peers); none: the partition's first.
    #[serde(default)]
    pub start: Option<i64>,
    /// The frame's last row, as `start`; none: the partition's last.
    #[serde(default)]
    pub end: Option<i64>,
}

/// The units of a [`WindowFrameSpec`]'s bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameUnits {
    /// Rows.
    Rows,
    /// Order values: peers are in or out together.
    Range,
}

/// One key of a [`Node::Sort`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    /// The value ordered by, over the input's columns.
    pub expr: Expr,
    /// Smallest first (`ASC`) or largest first (`DESC`).
    pub ascending: bool,
    /// Nulls before every value (`NULLS FIRST`) or after (`NULLS LAST`).
    pub nulls_first: bool,
}

/// An expression over an operator's input, with Spark's (non-ANSI) semantics.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expr {
    /// The input column at `index`.
    Column {
        /// Ordinal in the input's columns.
        index: usize,
    },
    /// A constant; `value` is JSON null for a typed null.
    Literal {
        /// Spark type name.
        #[serde(rename = "type")]
        data_type: String,
        /// Numbers and booleans as JSON; strings, decimals and special floats ("NaN",
        /// "Infinity", "-Infinity") as strings; dates as days since the epoch.
        value: serde_json::Value,
    },
    /// Arithmetic, comparison or boolean connective.
    Binary {
        /// One of [`BinaryOp`].
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
        /// Spark's result type.
        #[serde(rename = "type")]
        data_type: String,
        /// ANSI mode: integer overflow in `add`, `subtract` and `multiply` is an error
        /// instead of wrapping.
        #[serde(default)]
        ansi: bool,
        /// Try mode (`try_add` and the like): integer overflow in `add`, `subtract` and
        /// `multiply` is null instead of wrapping.
        #[serde(default, rename = "try")]
        try_arith: bool,
    },
    /// Boolean negation.
    Not {
        /// The operand.
        child: Box<Expr>,
    },
    /// Arithmetic negation (`-x`, wrapping for integers as Spark's non-ANSI mode does).
    Negative {
        /// The operand.
        child: Box<Expr>,
        /// ANSI mode: negating an integer type's minimum fails (`ARITHMETIC_OVERFLOW`).
        #[serde(default)]
        ansi: bool,
    },
    /// `child IS NULL`.
    IsNull {
        /// The operand.
        child: Box<Expr>,
    },
    /// `child IS NOT NULL`.
    IsNotNull {
        /// The operand.
        child: Box<Expr>,
    },
    /// A cast to `type` (only the casts whose Spark and Arrow semantics agree are sent).
    Cast {
        /// The operand.
        child: Box<Expr>,
        /// Target Spark type.
        #[serde(rename = "type")]
        data_type: String,
        /// ANSI mode: a value that does not fit is an error instead of null.
        #[serde(default)]
        ansi: bool,
        /// `try_cast`: the ANSI rules with null instead of the error.
        #[serde(default, rename = "try")]
        try_cast: bool,
        /// The session's time zone, for a cast from a timestamp (its error messages).
        #[serde(default)]
        zone: Option<String>,
    },
    /// Spark's final average of a decimal: `sum / count` computed as Spark does (the exact
    /// quotient rounded half up to the result's scale), null when `count` is 0 or null, and
    /// null (legacy) or an error (ANSI) when it does not fit.
    SparkDecimalAvg {
        /// The summed values (decimal).
        sum: Box<Expr>,
        /// The count (bigint).
        count: Box<Expr>,
        /// Spark's result type, `decimal(p + 4, s + 4)` bounded to 38.
        #[serde(rename = "type")]
        data_type: String,
        /// ANSI mode: overflow is an error.
        #[serde(default)]
        ansi: bool,
    },
    /// `child IN (list)`.
    In {
        /// The value looked up.
        child: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
    },
    /// `child LIKE pattern` (`%` any characters, `_` one, `\` escapes the next character).
    Like {
        /// A string.
        child: Box<Expr>,
        /// The pattern.
        pattern: String,
    },
    /// `child RLIKE pattern`: Java's `Pattern.compile(pattern).matcher(child).find()`, for the
    /// patterns `crate::java_regex` translates.
    #[serde(rename = "rlike")]
    RLike {
        /// A string.
        child: Box<Expr>,
        /// The Java pattern.
        pattern: String,
    },
    /// A function of an array (see `crate::arrays`).
    Array {
        /// Which function, and how it treats nulls and indices out of bounds.
        function: ArrayFunction,
        /// The array, then the function's other arguments (for [`ArrayFunction::Create`], the
        /// elements).
        args: Vec<Expr>,
        /// Spark's result type where it is an array (`array<T>` or `array<T not null>`): the
        /// functions that make arrays need it.
        #[serde(rename = "type", default)]
        data_type: Option<String>,
    },
    /// `split(child, pattern, limit)` for a constant pattern and limit (see
    /// `crate::java_regex::SparkSplit`): an array of strings.
    Split {
        /// A string.
        child: Box<Expr>,
        /// The Java pattern.
        pattern: String,
        /// At most this many pieces where positive.
        limit: i32,
    },
    /// `translate(child, from, to)` for constant strings (see `crate::translate`).
    Translate {
        /// A string.
        child: Box<Expr>,
        /// The characters replaced.
        from: String,
        /// Their replacements.
        to: String,
    },
    /// `regexp_extract(child, pattern, index)` (see `crate::java_regex`).
    RegexpExtract {
        /// A string.
        child: Box<Expr>,
        /// The Java pattern.
        pattern: String,
        /// The group.
        index: i64,
    },
    /// `regexp_replace(child, pattern, replacement)` from the first character (see
    /// `crate::java_regex`).
    RegexpReplace {
        /// A string.
        child: Box<Expr>,
        /// The Java pattern.
        pattern: String,
        /// The replacement, as `Matcher.appendReplacement` reads it.
        replacement: String,
    },
    /// `substring(child, pos, len)` in characters, as Spark's `UTF8String.substringSQL`: a
    /// position below 0 counts from the end, 0 is the first character, and a negative length
    /// gives an empty string.
    Substring {
        /// A string.
        child: Box<Expr>,
        /// First character, from 1 (or from the end, below 0).
        pos: i64,
        /// Characters at most.
        len: i64,
    },
    /// `CAST(child AS DATE)` of a timestamp: its date in `zone` (the session's time zone, as
    /// Spark names it), or, with no zone, of a `timestamp_ntz`'s local date-time.
    TimestampToDate {
        /// A timestamp.
        child: Box<Expr>,
        /// The time zone, for a `timestamp` (an instant).
        #[serde(default)]
        zone: Option<String>,
    },
    /// `CAST(child AS TIMESTAMP)` (or `TIMESTAMP_NTZ` with `ntz`) of a string, a date or the
    /// other kind of timestamp, in the session's time zone `zone` (see `crate::timestamp`).
    ToTimestamp {
        /// A string, date, timestamp or timestamp_ntz.
        child: Box<Expr>,
        /// To a `timestamp_ntz`; else to a `timestamp`.
        #[serde(default)]
        ntz: bool,
        /// The session's time zone, as Spark names it.
        zone: String,
        /// ANSI mode: a string that does not parse is an error instead of null.
        #[serde(default)]
        ansi: bool,
        /// `try_cast`: null for a string that does not parse.
        #[serde(default, rename = "try")]
        try_cast: bool,
    },
    /// A function whose DataFusion result is Spark's for these arguments: `abs` of a float,
    /// double or decimal; `isnan` of a float or double; `normalize_nan_and_zero` of a float or
    /// double (`-0.0` as `0.0`, every NaN the same); `sqrt`, `exp`, `expm1`, `ln`, `log10`,
    /// `log2`, `log1p`, `asinh`, `acosh`, `atanh`, `signum`, `degrees`, `radians`, `rint` of a
    /// double, `pow` of two and `log` of a base and a double (crate::math::SparkUnaryMath and
    /// SparkBinaryMath: `Math`'s and `StrictMath`'s results, the logarithms null at or below
    /// their asymptote); `upper`, `lower`
    /// (Unicode's default case mappings, as Spark's ICU root locale), `char_length` (code
    /// points), `btrim`, `ltrim` and `rtrim` (spaces) of a string; `concat_ws` of a separator
    /// and strings; `replace` of a string, a search string (not empty) and its replacement;
    /// `strpos` of a string and a substring (Spark's `instr`).
    Function {
        /// `abs`, `isnan`, `normalize_nan_and_zero`, `sqrt`, `exp`, `ln`, `pow`, `log`, ...,
        /// `upper`, `lower`, `char_length`,
        /// `btrim`, `ltrim`, `rtrim`, `concat_ws`, `replace`, `strpos`, ... (above).
        name: String,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// A date as its days since 1970-01-01 (an int), or (`to_date`) an int as a date.
    DateDays {
        /// A date, or an int.
        child: Box<Expr>,
        /// An int to a date; else a date to an int.
        #[serde(default)]
        to_date: bool,
    },
    /// A date's days (an int) moved by `months` as `LocalDate.plusMonths` moves them
    /// (`add_months`), then, with `last_day`, to the last day of that month (`last_day`), as
    /// days (see `crate::datetime::SparkMonthShift`).
    MonthShift {
        /// Days since 1970-01-01 (an int).
        child: Box<Expr>,
        /// Months (an int); none: 0.
        #[serde(default)]
        months: Option<Box<Expr>>,
        /// To the month's last day.
        #[serde(default)]
        last_day: bool,
    },
    /// `trunc(date, level)` or `date_trunc(level, timestamp)` in the session's time zone
    /// (see `crate::timestamp::SparkTrunc`).
    Trunc {
        /// A date or a timestamp.
        child: Box<Expr>,
        /// `microsecond`, `millisecond`, `second`, `minute`, `hour`, `day`, `week`, `month`,
        /// `quarter` or `year`.
        level: String,
        /// The session's time zone, as Spark names it.
        zone: String,
    },
    /// `date_format(timestamp, pattern)` in the session's time zone, for a constant pattern
    /// (see `crate::date_format`), or (`seconds`) `from_unixtime(seconds, pattern)`.
    DateFormat {
        /// A timestamp, or (`seconds`) a bigint of seconds since the epoch, which Spark
        /// multiplies by 10^6 as a Java long (wrapping).
        child: Box<Expr>,
        /// The child is seconds (`from_unixtime`).
        #[serde(default)]
        seconds: bool,
        /// The pattern, as the user wrote it.
        pattern: String,
        /// The session's time zone, as Spark names it.
        zone: String,
    },
    /// `months_between(left, right, round_off)` of two timestamps in the session's time zone
    /// (see `crate::timestamp::months_between`).
    MonthsBetween {
        /// A timestamp.
        left: Box<Expr>,
        /// A timestamp.
        right: Box<Expr>,
        /// Rounded to 8 decimal places.
        round_off: bool,
        /// The session's time zone, as Spark names it.
        zone: String,
    },
    /// A constant interval added to a date or a timestamp, as Spark's `ts + INTERVAL ...` and
    /// `date + INTERVAL ...` add it (see `crate::interval`).
    IntervalAdd {
        /// A date or a timestamp (with the session's zone or without one).
        child: Box<Expr>,
        /// The interval's months.
        #[serde(default)]
        months: i32,
        /// The interval's days.
        #[serde(default)]
        days: i64,
        /// The interval's microseconds.
        #[serde(default)]
        micros: i64,
        /// The session's time zone, as Spark names it (`UTC` for timestamps without one).
        zone: String,
    },
    /// `timestampadd(unit, quantity, child)` (see `crate::interval::SparkTimestampAdd`).
    TimestampAdd {
        /// `MICROSECOND`, `MILLISECOND`, `SECOND`, `MINUTE`, `HOUR`, `DAY`, `DAYOFYEAR`,
        /// `WEEK`, `MONTH`, `QUARTER` or `YEAR`.
        unit: String,
        /// A bigint.
        quantity: Box<Expr>,
        /// A timestamp (with the session's zone or without one).
        child: Box<Expr>,
        /// The session's time zone, as Spark names it (`UTC` for timestamps without one).
        zone: String,
    },
    /// `timestampdiff(unit, start, end)` (see `crate::interval::SparkTimestampDiff`).
    TimestampDiff {
        /// `MICROSECOND`, `MILLISECOND`, `SECOND`, `MINUTE`, `HOUR`, `DAY`, `WEEK`, `MONTH`,
        /// `QUARTER` or `YEAR`.
        unit: String,
        /// A timestamp (with the session's zone or without one).
        start: Box<Expr>,
        /// A timestamp of the start's type.
        end: Box<Expr>,
        /// The session's time zone, as Spark names it (`UTC` for timestamps without one).
        zone: String,
    },
    /// `from_utc_timestamp(child, zone)` or (`to_utc`) `to_utc_timestamp(child, zone)` for a
    /// constant zone (see `crate::timestamp::SparkUtcConvert`).
    UtcConvert {
        /// A timestamp.
        child: Box<Expr>,
        /// The zone, as the query names it.
        zone: String,
        /// `to_utc_timestamp`.
        #[serde(default)]
        to_utc: bool,
    },
    /// A string parsed with a constant pattern, as Spark's `to_timestamp(s, pattern)`,
    /// `to_timestamp_ntz`, `unix_timestamp` and `to_unix_timestamp` parse it (see
    /// `crate::timestamp_parse`).
    ParseTimestamp {
        /// A string.
        child: Box<Expr>,
        /// The pattern, as the user wrote it.
        pattern: String,
        /// The session's time zone, as Spark names it.
        zone: String,
        /// `timestamp`, `timestamp_ntz` or `unix_seconds`.
        output: String,
        /// Spark's `failOnError`: ANSI mode, and not a `try_` function.
        fail_on_error: bool,
        /// The function Spark's error suggests instead (`try_to_timestamp`).
        suggested: String,
    },
    /// `hour`, `minute` or `second` of a timestamp's local time, as an int, or (`string`) the
    /// timestamp as Spark's `CAST(ts AS STRING)` writes it.
    TimestampPart {
        /// A timestamp.
        child: Box<Expr>,
        /// `hour`, `minute`, `second` or `string`.
        part: String,
        /// The time zone, for a `timestamp` (an instant).
        #[serde(default)]
        zone: Option<String>,
    },
    /// `year`, `month`, `day`, `quarter`, `dayofweek`, `weekday`, `dayofyear` or `weekofyear`
    /// of a date, as an int.
    DatePart {
        /// A date.
        child: Box<Expr>,
        /// `year`, `month`, `day`, `quarter`, `dayofweek`, `weekday`, `dayofyear` or `weekofyear`.
        part: String,
    },
    /// `dayname` or (`month`) `monthname` of a date (see `crate::datetime::SparkDateName`).
    DateName {
        /// A date.
        child: Box<Expr>,
        /// The month's name.
        #[serde(default)]
        month: bool,
    },
    /// `next_day(date, day)` for a constant day (see `crate::datetime::SparkNextDay`).
    NextDay {
        /// A date.
        child: Box<Expr>,
        /// The day of the week as the query names it (`Mon`, `TU`...).
        day: String,
    },
    /// Spark's `round` (`half_up`) or `bround` (`half_even`) of a number to `places` decimal
    /// places, or its `floor` or `ceiling` (of a double, a bigint or a decimal, with `places`
    /// 0), into `type` (see `crate::math::SparkRound`).
    SparkRound {
        /// An integer, float, double or decimal.
        child: Box<Expr>,
        /// `half_up`, `half_even`, `floor` or `ceiling`.
        mode: String,
        /// Decimal places (below 0: a multiple of `10^-places`).
        places: i64,
        /// Spark's result type.
        #[serde(rename = "type")]
        data_type: String,
        /// ANSI mode: an integer that overflows its type is an error instead of wrapping.
        #[serde(default)]
        ansi: bool,
    },
    /// Spark's `hash(args...)`: Murmur3 of the values in order from `seed` (Spark's 42), a null
    /// leaving the hash as it is (see `crate::math::SparkMurmur3Hash`).
    SparkHash {
        /// The values hashed: booleans, integers, floats, doubles, decimals, strings, dates and
        /// timestamps.
        args: Vec<Expr>,
        /// The first hash.
        seed: i32,
    },
    /// Word `index` of a HyperLogLog++ sketch (see `crate::hll::HllRead`): Spark's buffer column.
    HllWord {
        /// The sketch (binary).
        child: Box<Expr>,
        /// The word.
        index: usize,
    },
    /// Spark's estimate (`approx_count_distinct`'s result) of a HyperLogLog++ sketch.
    HllEstimate {
        /// The sketch (binary).
        child: Box<Expr>,
        /// Its precision.
        precision: u8,
    },
    /// Spark's `xxhash64(args...)`: xxHash64 of the values in order from `seed` (Spark's 42), a
    /// null leaving the hash as it is (see `crate::math::SparkXxHash64`).
    SparkXxhash64 {
        /// The values hashed, of the types [`Expr::SparkHash`] takes.
        args: Vec<Expr>,
        /// The first hash.
        seed: i64,
    },
    /// Spark's `greatest` (or, with `least`, `least`) of arguments of one type: nulls skipped,
    /// floats in Spark's order, the first of equal values (see `crate::math::SparkGreatest`).
    SparkGreatest {
        /// The arguments.
        args: Vec<Expr>,
        /// `least` instead of `greatest`.
        #[serde(default)]
        least: bool,
    },
    /// Spark's decimal division `left / right` into `type`: the exact quotient rounded half
    /// up to the type's scale; by zero, or when it does not fit, null (legacy) or an error
    /// (ANSI).
    SparkDecimalDivide {
        /// The dividend (decimal).
        left: Box<Expr>,
        /// The divisor (decimal).
        right: Box<Expr>,
        /// Spark's result type.
        #[serde(rename = "type")]
        data_type: String,
        /// ANSI mode: division by zero and overflow are errors.
        #[serde(default)]
        ansi: bool,
    },
    /// Spark's decimal `add`, `subtract` or `multiply` whose result type lost precision (its
    /// exact precision exceeds 38): the exact result rounded half up to `type`'s scale; when it
    /// does not fit, null (legacy) or an error (ANSI).
    SparkDecimalArithmetic {
        /// `add`, `subtract` or `multiply`.
        op: BinaryOp,
        /// Left operand (decimal).
        left: Box<Expr>,
        /// Right operand (decimal).
        right: Box<Expr>,
        /// Spark's result type.
        #[serde(rename = "type")]
        data_type: String,
        /// ANSI mode: overflow is an error.
        #[serde(default)]
        ansi: bool,
    },
    /// Fails the query with `message` if evaluated on any row (Spark's ANSI errors, under a
    /// CASE branch).
    RaiseError {
        /// The error message.
        message: String,
        /// The type the expression pretends to have.
        #[serde(rename = "type")]
        data_type: String,
    },
    /// `CASE WHEN .. THEN .. [ELSE ..] END`.
    Case {
        /// `(when, then)` pairs.
        branches: Vec<(Expr, Expr)>,
        /// The value when no branch matches (null when absent).
        #[serde(default)]
        otherwise: Option<Box<Expr>>,
        /// Spark's result type.
        #[serde(rename = "type")]
        data_type: String,
    },
}

/// The functions of [`Expr::Array`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrayFunction {
    /// `size(a)`: its number of elements; for a null array -1 (`legacy_null`) or null.
    Size {
        /// Spark's `legacySizeOfNull`.
        legacy_null: bool,
    },
    /// `a[i]` (`GetArrayItem`): the element at the 0-based index (an integer, as Java's
    /// `intValue`), null where it is null or out of bounds, or `INVALID_ARRAY_INDEX` there
    /// (`fail`).
    GetItem {
        /// Spark's `failOnError`.
        fail: bool,
    },
    /// `element_at(a, i)`: the element at the 1-based index (an int; negative counts from the
    /// end), null where it is null or out of bounds, or `INVALID_ARRAY_INDEX_IN_ELEMENT_AT`
    /// there (`fail`); index 0 fails with `INVALID_INDEX_OF_ZERO`.
    ElementAt {
        /// Spark's `failOnError`.
        fail: bool,
    },
    /// `array_contains(a, v)`: whether an element equals `v` (floats as Spark's `-0.0 = 0.0`,
    /// `NaN = NaN`); null for a null array or value, and false becomes null where an element
    /// is null.
    Contains,
    /// `array_max(a)`: the largest non-null element in Spark's order (floats: NaN largest,
    /// `-0.0 = 0.0`; the first of equal elements), null where there is none.
    Max,
    /// `array_min(a)`: the smallest, likewise.
    Min,
    /// `array(e1, e2, ...)` (`CreateArray`): the arguments, in order (never null).
    Create,
    /// `concat(a1, a2, ...)` of arrays: their elements in order; null where one is null.
    Concat,
    /// `reverse(a)` of an array.
    Reverse,
    /// `flatten(a)`: the elements of an array of arrays' arrays, in order; null where the array
    /// or one of its arrays is null.
    Flatten,
    /// `slice(a, start, length)`: `length` elements from the 1-based `start` (negative counts
    /// from the end); Spark's errors for a `start` of 0 and a negative `length`.
    Slice,
    /// `sort_array(a, ascending)`: the elements in Spark's order (floats: NaN largest,
    /// `-0.0 = 0.0`), equal ones as they came (a stable sort), nulls first when ascending and
    /// last when descending.
    Sort {
        /// The constant direction.
        ascending: bool,
        /// Whether Spark's generated code sorts a Java array of primitives instead (ascending,
        /// elements that cannot be null): `-0.0` before `0.0` there.
        primitive: bool,
    },
    /// `array_distinct(a)`: the first of each group of equal elements, in order (floats as
    /// Spark's hash set compares them: `NaN = NaN`, `-0.0 != 0.0`; one null).
    Distinct,
    /// `array_remove(a, v)`: the elements that do not equal `v` (nulls stay); null where `v`
    /// is null.
    Remove,
    /// `array_position(a, v)`: the 1-based position (a long) of the first element equal to
    /// `v`, 0 where there is none.
    Position,
    /// `arrays_overlap(a, b)`: whether an element of `a` equals one of `b` (floats: `NaN = NaN`,
    /// `-0.0 != 0.0`); null rather than false where either holds a null and neither is empty.
    Overlap,
    /// `array_join(a, delimiter[, null_replacement])` of an array of strings: the elements
    /// with the delimiter between them, nulls skipped (or replaced).
    Join,
    /// `array_compact(a)` (Spark's `filter(a, x -> x IS NOT NULL)`): the elements that are not
    /// null.
    Compact,
    /// `sequence(start, stop[, step])` of integers: from `start` to `stop` by `step` (by 1 or
    /// -1 without one); Spark's errors for boundaries the step cannot reach and for sequences
    /// over Spark's array size limit.
    Sequence,
    /// `array_union(a, b)`: the distinct elements of `a`, then of `b`, each where it first
    /// comes (compared as [`ArrayFunction::Distinct`] compares them; one null).
    Union,
    /// `array_intersect(a, b)`: the distinct elements of `a` that `b` holds, in `a`'s order.
    Intersect,
    /// `array_except(a, b)`: the distinct elements of `a` that `b` does not hold, in `a`'s
    /// order.
    Except,
}

/// The join types of [`Node::HashJoin`] (Spark's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Matching pairs.
    Inner,
    /// Matching pairs, and each unmatched left row with nulls for right.
    LeftOuter,
    /// Matching pairs, and each unmatched right row with nulls for left.
    RightOuter,
    /// Both outer joins at once.
    FullOuter,
    /// Left rows with at least one match.
    LeftSemi,
    /// Left rows without a match.
    LeftAnti,
}

/// Which input of a [`Node::HashJoin`] is built into the hash table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildSide {
    /// The left input.
    Left,
    /// The right input.
    Right,
}

/// One aggregate of [`Node::HashAggregate`]: nulls are skipped, as in SQL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateCall {
    /// The function.
    pub func: AggregateFunc,
    /// Its argument.
    pub arg: Expr,
    /// Its further arguments: `y` of the `co_moment_*`, `max_by` and `min_by` functions (whose
    /// `arg` is `x`); the buffers after `n` (`arg`) of the `merge_moment_*` and
    /// `merge_co_moment_*` functions; none for the others.
    #[serde(default)]
    pub args: Vec<Expr>,
    /// Whether `first` and `last` skip nulls (Spark's `ignoreNulls`); false for the others.
    #[serde(default)]
    pub ignore_nulls: bool,
    /// The rows the function reads: those where this boolean is true (all when absent).
    #[serde(default)]
    pub filter: Option<Expr>,
    /// The sketch's precision of `hll_sketch` and `merge_hll` (4 to 18); none for the others.
    #[serde(default)]
    pub precision: Option<u8>,
    /// What `percentile_counts`, `merge_percentile_counts`, `percentile_approx` and
    /// `merge_percentile_approx` count and give; none for the others.
    #[serde(default)]
    pub percentile: Option<PercentileSpec>,
    /// What `collect_list` and `merge_collect_list` collect and give; none for the others.
    #[serde(default)]
    pub collect: Option<Box<CollectSpec>>,
}

/// What [`AggregateFunc::CollectList`] and [`AggregateFunc::MergeCollectList`] collect (see
/// `crate::collect`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSpec {
    /// Spark's type of the values (`simpleString`).
    pub value_type: String,
    /// `collect_set` (Scala's `mutable.HashSet` of the values, in its order) rather than
    /// `collect_list`.
    #[serde(default)]
    pub set: bool,
    /// Whether the aggregate gives the array (the final stage), not Spark's buffer.
    #[serde(default)]
    pub evaluate: bool,
    /// In an `ObjectHashAggregateExec` with grouping keys: Spark's
    /// `spark.sql.objectHashAggregate.sortBased.fallbackThreshold`.
    #[serde(default)]
    pub fallback_threshold: Option<usize>,
}

/// What the percentile aggregates compute: the counts of [`AggregateFunc::PercentileCounts`] and
/// [`AggregateFunc::MergePercentileCounts`] (`percentile`, `percentile_disc` and `mode`; see
/// `crate::percentile`), the summaries of [`AggregateFunc::PercentileApprox`] and
/// [`AggregateFunc::MergePercentileApprox`] (see `crate::approx_percentile`: `value_type`,
/// `percentage`, `accuracy` and `fallback_threshold`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentileSpec {
    /// Spark's type of the values (`simpleString`: a numeric type; for `mode` and
    /// `percentile_approx` also dates and timestamps, for `mode` booleans).
    pub value_type: String,
    /// The percentage (0 to 1) of Spark's percentile the aggregate gives (a double); none for
    /// Spark's buffer of the counts (a binary value).
    #[serde(default)]
    pub percentage: Option<f64>,
    /// How the percentile (or the mode) is read from the counts.
    #[serde(default)]
    pub method: PercentileMethod,
    /// Whether the values are read largest first (`WITHIN GROUP (ORDER BY x DESC)`).
    #[serde(default)]
    pub reverse: bool,
    /// Spark's SQL of the frequency expression (`toSQLExpr`), for the error on a negative
    /// frequency.
    #[serde(default)]
    pub frequency_sql: Option<String>,
    /// `percentile_approx`'s accuracy (its summary's relative error is `1.0 / accuracy`).
    #[serde(default)]
    pub accuracy: Option<i64>,
    /// `percentile_approx` in an `ObjectHashAggregateExec` with grouping keys: Spark's
    /// `spark.sql.objectHashAggregate.sortBased.fallbackThreshold`, past which (that many groups
    /// in a task) Spark reads the remaining rows sorted by their keys.
    #[serde(default)]
    pub fallback_threshold: Option<usize>,
}

/// How the result is read from the counts: a percentile, or `mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PercentileMethod {
    /// `percentile`, `median`, `percentile_cont`: the values either side of the position
    /// interpolated linearly.
    #[default]
    Continuous,
    /// `percentile_disc`: the first value whose accumulated count reaches the position.
    Discrete,
    /// `percentile_disc` under `spark.sql.legacy.percentileDiscCalculation`: the lower value at
    /// `percentile`'s position.
    LegacyDiscrete,
    /// Not a percentile: `mode`, the value counted most often (in the values' type), the
    /// smallest of those that tie.
    ModeSmallest,
    /// `mode`, the largest of those that tie.
    ModeLargest,
}

impl PercentileMethod {
    /// Whether this is `mode` (no percentage).
    pub fn is_mode(self) -> bool {
        matches!(self, Self::ModeSmallest | Self::ModeLargest)
    }
}

/// The functions of [`AggregateCall`] (DataFusion's: `count` is `Int64`, `sum` of integers
/// `Int64`, of decimals `Decimal128(min(38, p + 10), s)`, of floats `Float64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateFunc {
    /// Non-null values.
    Count,
    /// Sum of non-null values; null when there is none.
    Sum,
    /// Smallest non-null value (floats in Spark's order: `-0.0 = 0.0`, NaN largest).
    Min,
    /// Largest non-null value (floats in Spark's order: NaN largest).
    Max,
    /// Spark's central-moment buffer (`stddev`, `variance`) over non-null doubles, in the order
    /// of the rows: its count `n` (a double).
    MomentN,
    /// The same buffer's mean `avg`.
    MomentAvg,
    /// The same buffer's sum of squared differences from the mean `m2`.
    MomentM2,
    /// The same buffer's `m3` (cubed differences; skewness).
    MomentM3,
    /// The same buffer's `m4` (differences to the fourth power; kurtosis).
    MomentM4,
    /// Spark's central-moment buffers `n` (`arg`), `avg`, `m2`[, `m3`[, `m4`]] (`args`) merged in
    /// the order of the rows: the merged `n`.
    MergeMomentN,
    /// The merged buffers' `avg`.
    MergeMomentAvg,
    /// The merged buffers' `m2`.
    MergeMomentM2,
    /// The merged buffers' `m3`.
    MergeMomentM3,
    /// The merged buffers' `m4`.
    MergeMomentM4,
    /// Spark's co-moment buffer (`covar_pop`, `covar_samp`, `corr`) over pairs of doubles
    /// (`arg` x, `args` [y]), in the order of the rows: the count `n` of pairs with neither
    /// value null (a double).
    CoMomentN,
    /// The same buffer's mean of x, `xAvg`.
    CoMomentXAvg,
    /// The same buffer's mean of y, `yAvg`.
    CoMomentYAvg,
    /// The same buffer's co-moment `ck` (of x's and y's differences from their means).
    CoMomentCk,
    /// The same buffer's `xMk` (x's squared differences).
    CoMomentXMk,
    /// The same buffer's `yMk` (y's squared differences).
    CoMomentYMk,
    /// Spark's co-moment buffers `n` (`arg`), `xAvg`, `yAvg`, `ck`[, `xMk`, `yMk`] (`args`)
    /// merged in the order of the rows: the merged `n`.
    MergeCoMomentN,
    /// The merged buffers' `xAvg`.
    MergeCoMomentXAvg,
    /// The merged buffers' `yAvg`.
    MergeCoMomentYAvg,
    /// The merged buffers' `ck`.
    MergeCoMomentCk,
    /// The merged buffers' `xMk`.
    MergeCoMomentXMk,
    /// The merged buffers' `yMk`.
    MergeCoMomentYMk,
    /// Sum of non-null doubles added one at a time in the order of the rows, as Spark's
    /// aggregation buffer adds them; null when there is none.
    DoubleSum,
    /// The first row's value, in the order of the rows (the first non-null one with
    /// `ignore_nulls`); null for no rows.
    First,
    /// The last row's value (the last non-null one with `ignore_nulls`).
    Last,
    /// Spark's `max_by(x, y)`: `x` (`arg`) on the row of the largest `y` (`args` [y]), the last
    /// such row in the order of the rows; rows with a null `y` skipped; null for none.
    MaxBy,
    /// Spark's `min_by(x, y)`: the same for the smallest `y`.
    MinBy,
    /// Bitwise AND of the non-null integers (Spark's `bit_and`); null when there is none.
    BitAnd,
    /// Bitwise OR (`bit_or`).
    BitOr,
    /// Bitwise XOR (`bit_xor`).
    BitXor,
    /// Spark's `try_sum` of bigints: non-null values added one at a time in the order of the
    /// rows with an overflow check, null from the first overflow on; 0 for no values.
    TryLongSum,
    /// `try_sum`'s buffer sums merged the same way, a null one (a buffer that overflowed) making
    /// the merged sum null.
    MergeTryLongSum,
    /// Spark's HyperLogLog++ sketch (`approx_count_distinct`) of the non-null values, of
    /// `precision`: a binary value, Spark's buffer words (see `crate::hll`).
    HllSketch,
    /// Spark's HyperLogLog++ buffers merged: its words, one bigint column each (`arg` the first,
    /// `args` the rest), into a sketch of `precision`.
    MergeHll,
    /// Spark's exact percentile's counts of the non-null values (`arg`), each counted by its
    /// frequency (`args` [frequency], 1 when absent): Spark's serialized buffer, or the
    /// percentile the `percentile` spec asks for.
    PercentileCounts,
    /// Spark's serialized percentile buffers (`arg`) merged: the merged buffer, or the
    /// percentile.
    MergePercentileCounts,
    /// Spark's `percentile_approx` quantile summary of the non-null values (`arg`), of the
    /// `percentile` spec's accuracy: Spark's serialized buffer, or the percentile at its
    /// percentage (in the values' type).
    PercentileApprox,
    /// Spark's serialized `percentile_approx` buffers (`arg`) merged: the buffer, or the
    /// percentile.
    MergePercentileApprox,
    /// Spark's `collect_list` of the non-null values (`arg`), in the order they come: Spark's
    /// serialized buffer, or with the `collect` spec's `evaluate` the array.
    CollectList,
    /// Spark's serialized `collect_list` buffers (`arg`) merged, one after another: the buffer,
    /// or the array.
    MergeCollectList,
}

impl AggregateFunc {
    /// Whether this is one of Spark's moment functions (`moment_*`, `merge_moment_*`,
    /// `co_moment_*`, `merge_co_moment_*`), which take doubles.
    pub fn is_moment(self) -> bool {
        matches!(
            self,
            Self::MomentN
                | Self::MomentAvg
                | Self::MomentM2
                | Self::MomentM3
                | Self::MomentM4
                | Self::MergeMomentN
                | Self::MergeMomentAvg
                | Self::MergeMomentM2
                | Self::MergeMomentM3
                | Self::MergeMomentM4
        ) || self.co_moment().is_some()
    }

    /// The part of the co-moment buffer this gives, and whether it merges buffers; none for
    /// the other functions.
    pub fn co_moment(self) -> Option<(CoMomentPart, bool)> {
        Some(match self {
            Self::CoMomentN => (CoMomentPart::N, false),
            Self::CoMomentXAvg => (CoMomentPart::XAvg, false),
            Self::CoMomentYAvg => (CoMomentPart::YAvg, false),
            Self::CoMomentCk => (CoMomentPart::Ck, false),
            Self::CoMomentXMk => (CoMomentPart::XMk, false),
            Self::CoMomentYMk => (CoMomentPart::YMk, false),
            Self::MergeCoMomentN => (CoMomentPart::N, true),
            Self::MergeCoMomentXAvg => (CoMomentPart::XAvg, true),
            Self::MergeCoMomentYAvg => (CoMomentPart::YAvg, true),
            Self::MergeCoMomentCk => (CoMomentPart::Ck, true),
            Self::MergeCoMomentXMk => (CoMomentPart::XMk, true),
            Self::MergeCoMomentYMk => (CoMomentPart::YMk, true),
            _ => return None,
        })
    }
}

/// The binary operators of [`Expr::Binary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `*`
    Multiply,
    /// `/` (Spark only divides doubles and decimals; by zero gives null)
    Divide,
    /// `%` (by zero gives null)
    Remainder,
    /// `div` of two bigints: the quotient toward zero (by zero: null; `MIN div -1` wraps to
    /// `MIN`; in ANSI mode `DIVIDE_BY_ZERO` and `ARITHMETIC_OVERFLOW` instead)
    IntegralDivide,
    /// `=`
    Eq,
    /// `<=>`
    EqNullSafe,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `concat` of two strings (null if either is null)
    Concat,
    /// `&` of two integers of one type
    BitwiseAnd,
    /// `|` of two integers of one type
    BitwiseOr,
    /// `^` of two integers of one type
    BitwiseXor,
    /// `shiftleft` (Java's `<<`: the distance modulo the width), of two integers of one type
    ShiftLeft,
    /// `shiftright` (Java's `>>`, arithmetic), of two integers of one type
    ShiftRight,
}

/// How deeply a plan message's JSON values may nest. serde_json's own limit (128) refuses
/// expressions Spark runs (a CASE in a CASE 150 times nests about 450 levels deep). Messages
/// are read and translated on a thread with a 64 MiB stack (`on_large_stack` in lib.rs, sized
/// for this limit in debug builds), and their expressions are evaluated on the Spark task's
/// thread, whose stack (1 MiB by default) bounds them too. Spark's own parser and analyser give
/// up on expressions a few hundred levels deep on such a stack, and the plugin's conversion on
/// the driver a little before them.
pub const MAX_NESTING: usize = 600;

/// How deeply the JSON values of `bytes` nest (objects and arrays; brackets in strings do not
/// count), stopping past `limit`.
fn nesting(bytes: &[u8], limit: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    break;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// `T` read from JSON without serde_json's limit of 128 nested values (see [`MAX_NESTING`],
/// which the caller checks first).
fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    reader.disable_recursion_limit();
    let value = T::deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

impl PlanMessage {
    /// Parses and checks a message.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(NativeError::plan("the plan message is empty"));
        }
        if bytes.len() > MAX_PLAN_BYTES {
            return Err(NativeError::plan(format!(
                "the plan message is {} bytes, more than the {MAX_PLAN_BYTES} allowed",
                bytes.len()
            )));
        }
        if nesting(bytes, MAX_NESTING) > MAX_NESTING {
            return Err(NativeError::plan(format!(
                "the plan message nests its values more than {MAX_NESTING} levels deep (an \
                 expression nested too deeply to run natively)"
            )));
        }
        // Read the version first, so a message from a newer plugin says so rather than
        // failing on whatever field it added.
        #[derive(Deserialize)]
        struct Versioned {
            version: Option<u32>,
        }
        let versioned: Versioned = from_json(bytes)
            .map_err(|e| NativeError::plan(format!("malformed plan message: {e}")))?;
        match versioned.version {
            Some(PLAN_VERSION) => {}
            Some(v) => {
                return Err(NativeError::plan(format!(
                    "plan message version {v} is not supported: this native library reads \
                     version {PLAN_VERSION} (is the jar's native library from another build?)"
                )));
            }
            None => return Err(NativeError::plan("the plan message has no version")),
        }
        let message: PlanMessage = from_json(bytes)
            .map_err(|e| NativeError::plan(format!("malformed plan message: {e}")))?;
        message.root.check_leaves()?;
        Ok(message)
    }
}

impl Node {
    /// The node's inputs, in order.
    fn children(&self) -> Vec<&Node> {
        match self {
            Node::ParquetScan { .. } | Node::Input { .. } => vec![],
            Node::Filter { input, .. }
            | Node::Project { input, .. }
            | Node::Expand { input, .. }
            | Node::Generate { input, .. }
            | Node::GroupOrder { input, .. }
            | Node::HashAggregate { input, .. }
            | Node::Sort { input, .. }
            | Node::Limit { input, .. }
            | Node::Window { input, .. } => vec![input],
            Node::HashJoin { left, right, .. } => vec![left, right],
        }
    }

    fn collect_leaves(&self, scans: &mut usize, inputs: &mut Vec<usize>) {
        match self {
            Node::ParquetScan { .. } => *scans += 1,
            Node::Input { slot, .. } => inputs.push(*slot),
            _ => self
                .children()
                .into_iter()
                .for_each(|c| c.collect_leaves(scans, inputs)),
        }
    }

    /// How many `parquet_scan` leaves there are, and the `input` leaves' slots.
    fn leaves(&self) -> (usize, Vec<usize>) {
        let (mut scans, mut inputs) = (0, Vec::new());
        self.collect_leaves(&mut scans, &mut inputs);
        (scans, inputs)
    }

    /// Checks the leaves: at most one `parquet_scan` (it reads the task's files), and
    /// `input`s numbered `0..n`, each once.
    fn check_leaves(&self) -> Result<()> {
        let (scans, inputs) = self.leaves();
        if scans > 1 {
            return Err(NativeError::plan(format!(
                "a plan reads at most one parquet_scan, this one has {scans}"
            )));
        }
        if scans + inputs.len() == 0 {
            return Err(NativeError::plan(
                "a plan needs a leaf (parquet_scan or input)",
            ));
        }
        let mut sorted = inputs.clone();
        sorted.sort_unstable();
        if sorted.iter().enumerate().any(|(i, &index)| i != index) {
            return Err(NativeError::plan(format!(
                "the plan's inputs must be numbered 0 to {} once each, not {inputs:?}",
                inputs.len().saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// How many `input` leaves the plan has (each needs a batch source).
    pub fn input_count(&self) -> usize {
        self.leaves().1.len()
    }
}
