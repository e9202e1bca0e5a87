package org.apache.spark.sql.cinder

/**
 * The generated parts of docs/spark.md (`jvm-plugin/gen-docs.sh` writes them between the
 * `<!-- cinder:NAME -->` markers; a test checks the file is fresh).
 */
object CinderDocs {
  /** Operators: Spark class, what runs natively, what stays on Spark. */
  val operators: Seq[(String, String, String)] = Seq(
    ("FileSourceScanExec", "Parquet on local files: the task's file splits, read columns, partition columns",
      "other formats, bucketed scans, `_metadata` columns, non-`file:` paths, partitions filtered " +
        "by a subquery or dynamic partition pruning, queries that read `input_file_name()`, arrays of " +
        "timestamps (DataFusion would misread their INT96 values in lists of Spark's legacy Parquet format)"),
    ("FilterExec", "the condition, when every expression in it is supported", "unsupported expressions"),
    ("ProjectExec", "every output expression, when all are supported", "unsupported expressions"),
    ("HashAggregateExec", "count (also of several columns), sum, avg, try_sum, try_avg, min, max (floats in " +
      "Spark's order: NaN largest, `-0.0 = 0.0`), bit_and, bit_or, bit_xor, stddev, stddev_pop, variance, var_pop, " +
      "skewness, kurtosis, covar_pop, covar_samp, corr, regr_sxx, regr_syy, regr_sxy, regr_r2, regr_slope, " +
      "regr_intercept (Spark's buffers of counts, means and moments, updated and merged with Spark's formulas in the order the rows come), first, last " +
      "(also IGNORE NULLS: the first or last row in the order the native plan reads them), max_by and min_by (the later " +
      "row of a tie, as Spark's buffer keeps it; a value that can fail stays on Spark), approx_count_distinct " +
      "(Spark's HyperLogLog++ sketch in its buffer of longs, each value hashed with Spark's xxHash64, and Spark's " +
      "estimate from it, bias tables included: the same count; relativeSD down to 0.00217, precision 18), " +
      "each also with FILTER (WHERE ...) " +
      "(its arguments evaluated only where " +
      "the filter holds, as Spark does): the partial stage over a native subtree (writing " +
      "Spark's aggregation buffers) and the final stage, over native input or over the shuffle (a native " +
      "shuffle's blocks, or Spark's rows converted to Arrow a batch at a time); the same functions DISTINCT " +
      "(Spark's partial and final stages of a single distinct group, over rows it made distinct), also next to " +
      "other functions (the two stages between, which merge the other functions' buffers by the groups and " +
      "the DISTINCT argument, then by the groups beside the DISTINCT function's partial stage)",
      "avg of decimals of scale > 18, max_by and min_by of a value that can fail, " +
        "approx_count_distinct of a smaller relativeSD (sketches of over 2^18 registers) or of " +
        "collated string, interval or nested values, " +
        "functions Spark runs in ObjectHashAggregateExec (collect_list, percentile, median, ...; " +
        "see ObjectHashAggregateExec)"),
    ("SortAggregateExec", "as HashAggregateExec (Spark chooses it for buffers it cannot update in place, such as " +
      "min, max, first, last and max_by of strings): natively a hash aggregate, without the sort by the keys under " +
      "it, so each group's rows are read in the order they come; its output is sorted again where a node above " +
      "relies on its order", "as HashAggregateExec"),
    ("ObjectHashAggregateExec", "as HashAggregateExec (Spark chooses it for functions whose buffer is an " +
      "object, shuffled serialized), with percentile, median, percentile_cont and percentile_disc (also " +
      "`WITHIN GROUP (ORDER BY x DESC)`, a frequency column, and " +
      "`spark.sql.legacy.percentileDiscCalculation`) of integers, floats and decimals: Spark's buffer, the " +
      "count of each distinct value serialized as Spark writes it (so either stage can stay on Spark), and " +
      "Spark's percentile of it, interpolated as Spark does, bit for bit; percentile_approx (approx_percentile) " +
      "of integers, floats, decimals of up to 15 digits, dates and timestamps: Spark's quantile summary " +
      "(Greenwald-Khanna, as Spark's QuantileSummaries builds, compresses, merges and queries it, in the order " +
      "the rows and buffers come) in Spark's serialized buffer, and its answer in the argument's type; mode " +
      "(also `WITHIN GROUP (ORDER BY x [DESC])`, whose order picks among values that tie) of numbers, booleans, " +
      "dates and timestamps: percentile's buffer of counts, and the value counted most often; collect_list " +
      "(array_agg) of the supported types: Spark's buffer (the non-null values in the order they come, " +
      "serialized as an UnsafeRow of one array), and the array; past Spark's sort-based fallback threshold " +
      "of groups, a group's later rows first, as Spark's sort-based aggregation appends the earlier list; " +
      "collect_set of the supported types but decimals and binary: Spark's Scala HashSet, in its order (by " +
      "each value's Scala hash, the table sized as Spark's adds and merges size it, also past the sort-based " +
      "fallback; NaN never equal to another, -0.0 equal to 0.0, the first kept)",
      "collect_set of decimals or binary values and the other object-buffer functions, collect_list and " +
        "collect_set of arrays, percentiles at an array of " +
        "percentages or of intervals, percentile_approx of wider decimals or intervals, mode of strings, " +
        "binary or nested values"),
    ("BroadcastHashJoinExec", "inner, left/right outer, left semi, left anti equi-joins with an optional " +
      "condition: one native hash join whose build side (the broadcast relation, written into Arrow once per " +
      "executor) is hashed once per executor and probed by every task (with device = cpu; other devices hash " +
      "it in each task); " +
      "null-aware anti joins (`NOT IN` on one column), which hash each task's left rows and probe them " +
      "with the broadcast rows",
      "existence joins, float keys, `NOT IN` on several columns"),
    ("ShuffledHashJoinExec", "the same join types and full outer, over the two co-partitioned inputs " +
      "(native subtrees or shuffle reads, zipped partition by partition)",
      "float keys, a side that is columnar but not native"),
    ("SortMergeJoinExec", "as a hash join building the smaller side (a finished query stage's measured " +
      "size, else the optimizer's estimate); the sorts under it are dropped, and a native sort is put back " +
      "where a node left on Spark needs the order", "as for ShuffledHashJoinExec"),
    ("SortExec", "global (over a range exchange, native or Spark's) and local sorts, over a native subtree or over a " +
      "shuffle's rows, in Spark's order (strings by their bytes, `-0.0 = 0.0`, NaN largest); the sorts " +
      "of a sort-merge join left on Spark", "collated strings, unsupported key expressions"),
    ("TakeOrderedAndProjectExec", "the top-k of each partition (a native sort that keeps limit + offset " +
      "rows) when its input is native", "the final merge and projection of at most limit + offset rows " +
      "per partition (on the driver for `collect`)"),
    ("LocalLimitExec, GlobalLimitExec", "over a native subtree (also with OFFSET), and a global limit " +
      "over the shuffle's rows", "a local limit over a Spark operator; `CollectLimitExec` (`df.limit(n)" +
      ".collect()`: it takes rows for the driver from as few partitions as it needs)"),
    ("ExpandExec", "over a native subtree (ROLLUP, CUBE, GROUPING SETS, aggregates of several DISTINCT " +
      "arguments): each batch through each projection in turn", "unsupported expressions"),
    ("GenerateExec", "explode and posexplode of an array (a column or an element of a nested array) over a " +
      "native subtree, also `explode_outer`, `posexplode_outer` and LATERAL VIEW [OUTER]: per input row, in " +
      "order, the kept columns with each element (and its position from 0); a null or empty array gives no " +
      "row, or in the outer forms one with null position and element", "other generators (inline, stack, " +
      "json_tuple, explode of maps), explode of an array made by an expression other than `split` (`sequence`, " +
      "`array()`)"),
    ("WindowExec", "over a native subtree (DataFusion's window operators, over the rows sorted by the " +
      "partition keys and the order): row_number, rank, dense_rank, percent_rank, cume_dist, ntile; lag and " +
      "lead with a constant offset and default, also IGNORE NULLS; first, last (also IGNORE NULLS), " +
      "first_value, last_value and nth_value over their frame; count, sum, avg, try_sum, try_avg, min, max, " +
      "stddev, stddev_pop, variance, var_pop, skewness, kurtosis, covar_pop, covar_samp, corr, regr_sxx, " +
      "regr_syy, regr_sxy, regr_r2, regr_slope and regr_intercept over ROWS frames " +
      "with constant offsets and RANGE frames from or to the partition's ends and the current row's peers, " +
      "and RANGE frames with constant value offsets from one order key (`RANGE BETWEEN 2 PRECEDING AND 1 " +
      "FOLLOWING`: the rows whose key is within the offsets; each row's bound, key plus offset, checked first " +
      "as Spark computes it, failing where it overflows): integer keys in ANSI mode, and timestamps with " +
      "day-time intervals under a day (or of whole days in a time zone of fixed offset, and over timestamp_ntz) " +
      "(sums of doubles, under `spark.cinder.exactFloatSums`, and moments one value at a time in Spark's " +
      "order, again from the frame's first row where it slides, as Spark does; decimal sums exact, then checked against " +
      "Spark's type); partition and order keys of any supported expression, floats grouped and ordered as " +
      "Spark does",
      "RANGE frames with value offsets over other keys (dates, decimals, floats), of year-month intervals, of " +
        "days over timestamps in a time zone with daylight saving, or over integers in legacy mode (where Spark's " +
        "bounds wrap at the key type's limits), avg of decimals of over 28 " +
        "digits, other aggregates (collect_list, percentile, ...)"),
    ("WindowGroupLimitExec", "a filter on row_number, rank or dense_rank below a window (`WHERE rn <= 3`, " +
      "Spark's per-group limit, before and after the shuffle): the function, natively, then a filter on it",
      "other functions"),
    ("UnionExec", "UNION ALL of native subtrees: their batches pass through, and a filter, projection or " +
      "partial aggregation above it goes into every branch", "a branch that is not native, a " +
      "partitioning-aware union"),
    ("ShuffleExchangeExec", "over a native subtree, with hash, range or single partitioning: each map task " +
      "splits its batches natively (rows go to the partition Spark's murmur3 hash gives them, or after the " +
      "range bounds Spark's `RangePartitioner` samples from the subtree's rows, compared in the sort's order) " +
      "into Arrow IPC blocks, which Spark's shuffle moves as one record each; a native subtree above reads the " +
      "blocks, a Spark operator reads their rows, decoded natively",
      "an exchange over a Spark operator, round-robin partitioning"))

  /** Expressions: Spark expression, notes. */
  val expressions: Seq[(String, String)] = Seq(
    ("column, literal", "types: boolean, tinyint, smallint, int, bigint, float, double, string (default collation), " +
      "date, decimal(p ≤ 38), timestamp and timestamp_ntz (compared, grouped, joined, sorted, shuffled, min/max, " +
      "their dates, `hour`, `minute`, `second`, `date_trunc`, `date_format`, casts to strings and casts from " +
      "strings, dates and each other in the session time zone, strings parsed with a pattern, " +
      "`from_utc_timestamp` and `to_utc_timestamp`; other time-zone-dependent operations, such as " +
      "`make_timestamp`, stay on Spark), binary (compared as Spark's unsigned bytes, `IN`, `CASE`, `coalesce`, " +
      "`greatest`, `least`, grouped, joined, sorted, shuffled, hashed, min/max, first/last, max_by/min_by, " +
      "`approx_count_distinct`, window functions over it and partitioned by it, digests; other functions of " +
      "binary values, such as `length`, `concat`, `hex` or casts to and from strings, stay on Spark), and " +
      "arrays of these (also nested), which native operators pass through as they are: read from Parquet, " +
      "filtered, projected, joined, sorted, shuffled (their `UnsafeArrayData` size counted in the exchange's " +
      "data size, as Spark counts it), unioned and windowed beside other columns, tested with `IS [NOT] NULL` " +
      "and read by the functions of arrays below (other expressions, keys and aggregates of arrays stay on " +
      "Spark)"),
    ("`+`, `-`, `*`", "wrapping (legacy), failing (ANSI) or null (`try_add`, `try_subtract`, `try_multiply`) on " +
      "integer overflow; decimals with Spark's result " +
      "type, also where it lost precision (exact result rounded half up; on overflow null, or in ANSI mode " +
      "Spark's `NUMERIC_VALUE_OUT_OF_RANGE` naming the value as Spark's `Decimal` has it before rounding: exact " +
      "sums, products truncated to 39 digits, quotients and averages truncated at scale 39)"),
    ("`/`, `try_divide`", "doubles (by zero: null, or `DIVIDE_BY_ZERO` in ANSI mode for a non-null dividend); decimals with " +
      "Spark's result type, rounding half up (by zero or on overflow: null, or an error in ANSI mode)"),
    ("`div`", "integers, as bigints: the quotient toward zero (by zero: null, or `DIVIDE_BY_ZERO` in ANSI mode for a " +
      "non-null dividend; `MIN div -1` wraps to the minimum, or `ARITHMETIC_OVERFLOW` in ANSI mode); decimals stay " +
      "on Spark"),
    ("`%`, `try_mod`", "integers and floats (by zero: null, or `DIVIDE_BY_ZERO` in ANSI mode; `x % -1` = 0)"),
    ("unary `-`", "wrapping (legacy) or `ARITHMETIC_OVERFLOW` (ANSI) for an integer type's minimum; decimals of " +
      "up to 34 digits (Spark 4.0 rounds the negation of a wider one half even to 34 significant digits, through " +
      "Scala's `BigDecimal`, so those stay on Spark)"),
    ("`=`, `<=>`, `<`, `<=`, `>`, `>=`", "floats compare as Spark does: `-0.0 = 0.0`, `NaN = NaN`, NaN largest"),
    ("`AND`, `OR`, `NOT`, `IS NULL`, `IS NOT NULL`", ""),
    ("`&`, `|`, `^`, `~`, `shiftleft`, `shiftright`", "integers; shifts as Java's (the distance modulo the " +
      "width; `shiftright` keeps the sign), and so `grouping()`"),
    ("`IN`, `InSet`", "constant lists"),
    ("`CASE WHEN`, `IF`", ""),
    ("`LIKE`, `startswith`, `endswith`, `contains`", "constant patterns, escape character `\\`"),
    ("`rlike`, `regexp`, `regexp_like`", "a constant Java pattern, whose meaning is translated exactly for the " +
      "`regex` crate (whether a match exists does not depend on how an engine picks among matches): " +
      "literals and escapes, `.` (not a line terminator, or with `(?s)` any character), `\\d`, `\\w`, `\\s` " +
      "and their complements (ASCII, as Java's), classes with ranges, `^`, `\\A`, `$` at the end of a " +
      "top-level alternative (the end, or before a final line terminator), groups (capturing, named, " +
      "non-capturing; `i` and `s` flags, `(?i)` for ASCII letters as Java's), alternation, greedy and lazy " +
      "quantifiers; lookaround, backreferences, possessive quantifiers, `\\b`, `\\p{...}`, nested classes, " +
      "other flags and patterns Java rejects stay on Spark"),
    ("`split`", "a string, a constant pattern as for `regexp_replace` (none that matches an empty string) and a " +
      "constant limit: Java's `String.split` as Spark's `UTF8String.split` calls it (every piece, leading and " +
      "trailing empty ones too, for a limit of 0 or below; else at most limit, the last the rest of the " +
      "string); an empty pattern splits into the first limit characters (all of them for a limit of 0 or " +
      "below or past the string's length; Spark 4.0 drops the rest), an empty string into one empty string"),
    ("`size`, `cardinality`, `array_size`", "arrays: the number of elements; for a null array null, or -1 in " +
      "legacy mode (Spark's `legacySizeOfNull`)"),
    ("`a[i]`, `get`, `element_at`, `try_element_at`", "arrays (also nested) with an index per row: `a[i]` and " +
      "`get` from 0 (an integer index as Java's `intValue` reads it), `element_at` from 1 and from the end " +
      "for a negative index; null for a null element, and out of bounds null (`get`, `try_element_at`, " +
      "legacy mode) or Spark's `INVALID_ARRAY_INDEX` and `INVALID_ARRAY_INDEX_IN_ELEMENT_AT` (ANSI mode); " +
      "`element_at(a, 0)` fails with `INVALID_INDEX_OF_ZERO` in either mode"),
    ("`array_max`, `array_min`", "arrays of the supported types: the largest (smallest) non-null element in " +
      "Spark's order (floats: NaN largest, `-0.0 = 0.0`, the first of equal elements kept), null for an array " +
      "without one"),
    ("`array_contains`", "an array and a value of its element type: true where an element equals it " +
      "(floats as Spark compares them, `-0.0 = 0.0`, `NaN = NaN`), else null where an element is null, else " +
      "false; null for a null array or value"),
    ("`array`", "values of one supported type (arrays too), all evaluated: an array of them in order"),
    ("CASE, IF, `coalesce` of arrays", "as of other values: each branch evaluated only where Spark evaluates it"),
    ("`concat` of arrays", "arrays of one element type: their elements in order; null where one is null (the " +
      "arrays after it not evaluated, as in Spark)"),
    ("`reverse` of an array, `flatten`, `array_compact`", "the elements in reverse order; the elements of an " +
      "array's arrays in order, null where the array or one of its arrays is null; the elements that are not " +
      "null (Spark's `filter(a, x -> x IS NOT NULL)`)"),
    ("`slice`", "an array, a start and a length: `length` elements from `start` (from 1, or from the end where " +
      "negative; an empty array where it is out of bounds), as Spark's generated code (no wrap-around where " +
      "start + length passes `Int.MaxValue`); Spark's `INVALID_PARAMETER_VALUE.START` for a start of 0 and " +
      "`INVALID_PARAMETER_VALUE.LENGTH` for a negative length, in either mode"),
    ("`sort_array`", "arrays of the supported types (not of arrays) and a constant direction: Spark's stable " +
      "sort (floats: NaN largest, `-0.0 = 0.0` keeping their order), nulls first ascending and last " +
      "descending; where Spark's generated code sorts a Java array of primitives (ascending, elements that " +
      "cannot be null) `-0.0` comes before `0.0`, as there"),
    ("`array_distinct`", "arrays of the supported types (not of arrays): the first of equal elements in order, " +
      "one null; floats as Spark's hash set compares them (`NaN = NaN`, but `-0.0` and `0.0` both kept)"),
    ("`sequence`", "integers (a start, a stop and an optional step, all of one integer type): from the start to " +
      "the stop by the step (by 1 or -1 without one); Spark's `SparkIllegalArgumentException` " +
      "(`_LEGACY_ERROR_TEMP_3243`) for boundaries the step " +
      "cannot reach and `COLLECTION_SIZE_LIMIT_EXCEEDED` past its array size limit"),
    ("`array_union`, `array_intersect`, `array_except`", "two arrays of one supported type (not of arrays): " +
      "the distinct elements of the first (and for `array_union` then of the second) that each keeps, where " +
      "they first come, as `array_distinct` compares them (one null); null where either array is null"),
    ("`array_remove`, `array_position`", "an array of the supported types (not of arrays) and a value: the " +
      "elements that do not equal it (nulls kept), or the 1-based position of the first that does (0 where " +
      "none does); floats as `array_contains` compares them; null for a null array or value"),
    ("`arrays_overlap`", "two arrays of one supported type (not of arrays): false where either is empty, true " +
      "where they share a non-null element (floats: `NaN = NaN`, `-0.0` and `0.0` apart, as Spark's hash set " +
      "of doubles), else null where either holds a null, else false"),
    ("`array_join`", "arrays of strings, a delimiter and an optional null replacement: the elements with the " +
      "delimiter between them, null elements skipped (or replaced); null where an argument is null (evaluated " +
      "in Spark's order: the replacement first)"),
    ("`translate`", "strings, with constant characters and replacements, code point by code point as Spark's " +
      "`UTF8String.translate`: the first mapping of a character wins, and one past the replacements' end (or " +
      "to `\\u0000`) drops it"),
    ("`md5`, `sha1`, `sha2`, `crc32`", "of binary values, and of strings (their UTF-8 bytes, as Spark's cast " +
      "to binary gives them): lowercase hexadecimal digests as commons-codec writes them (`sha2` with a constant " +
      "bit length of 224, 256 or 0, 384 or 512; others are null on Spark, and stay there), and `CRC32`'s value " +
      "as a bigint"),
    ("`regexp_extract`, `regexp_replace`", "constant patterns as for `rlike`, but without `$`, and a constant group " +
      "index or replacement: the first match's group (an empty string for no match or a group that took no " +
      "part), and each match from the end of the last replaced as `Matcher.appendReplacement` replaces it " +
      "(`$n` and `${name}` groups, `\\` escapes), from the first character; a group index Spark refuses, a " +
      "replacement Java refuses, a pattern that matches an empty string (Java searches again one UTF-16 unit " +
      "on, which can split a surrogate pair) or a position other than 1 stay on Spark"),
    ("`substring`, `left`, `right`", "constant position and length, as Spark's: a position below 0 counts " +
      "from the end, 0 is the first character, a negative length gives an empty string"),
    ("`upper`, `lower`, `length`, `trim`, `ltrim`, `rtrim`, `concat`", "strings (default collation): Unicode's " +
      "default case mappings (Spark's ICU root locale; `ß` becomes `SS`, a final sigma `ς`), length in code " +
      "points, trims of spaces or of the characters of a trim string (`trim(BOTH 'xy' FROM s)`), `concat` null " +
      "if any argument is"),
    ("`concat_ws`", "a separator and strings (not arrays): null for a null separator, null strings skipped"),
    ("`replace`", "strings; an empty search string keeps the string, as Spark's `UTF8String.replace`"),
    ("`instr`, `locate`, `position`", "the first match's position in characters (code points), 0 for none, 1 for " +
      "an empty substring; `locate` from the first character only"),
    ("`lpad`, `rpad`", "strings, in code points (`UTF8String`'s): the pad repeated and cut short, or the string's " +
      "first `len` characters where it is as long or the pad is empty"),
    ("`substring_index`", "strings: what comes before the count-th delimiter from the left (count > 0) or after " +
      "the count-th from the right, as `UTF8String.subStringIndex` finds them (each search one byte past the last " +
      "match, so matches may overlap); the whole string where there are fewer; empty for an empty delimiter or a " +
      "zero count"),
    ("`reverse`, `ascii`, `octet_length`", "strings: code points reversed, the first code point (0 for an empty " +
      "string), bytes"),
    ("`sqrt`, `exp`, `expm1`, `ln`, `log`, `log10`, `log2`, `log1p`, `pow`, `asinh`, `acosh`, `atanh`",
      "doubles, bit for bit as Spark computes them: `Math.sqrt` (IEEE's correctly rounded square root, NaN " +
      "below zero) and `StrictMath`'s `exp`, `expm1`, `log`, `log10`, `log1p` and `pow` (fdlibm 5.3's " +
      "algorithms, which Java's specification fixes; `(±1) ** ±∞` and `x ** NaN` are NaN); the logarithms " +
      "null at or below zero (`log1p` at or below -1), `log(base, x)` as `log(x) / log(base)`"),
    ("`signum`, `degrees`, `radians`, `rint`", "doubles, as `Math`'s (`rint`: the nearest integer, ties to even)"),
    ("`atan`, `asin`, `acos`, `atan2`, `sinh`, `cosh`, `tanh`, `cbrt`, `hypot`", "doubles, as `java.lang.Math`, " +
      "which delegates them to `StrictMath` (fdlibm's algorithms, bit for bit; `atan2` of `y + 0.0` and " +
      "`x + 0.0`, as Spark adds the zeros); `tanh` and `cbrt` only before Java 24, whose intrinsics for them " +
      "differ in the last bits. `sin`, `cos`, `tan`, `cot`, `sec` and `csc` stay on Spark: HotSpot computes " +
      "them with intrinsics whose last bits depend on the JVM and the processor"),
    ("`isnan`", "floats and doubles; false for null"),
    ("`coalesce`", "later arguments evaluated only where the earlier ones are null"),
    ("`abs`", "integers wrap (legacy) or fail with `ARITHMETIC_OVERFLOW` (ANSI) at the type's minimum; floats " +
      "(`abs(-0.0)` = 0.0) and decimals of up to 34 digits (as unary `-`)"),
    ("`year`, `month`, `day`, `quarter`, `dayofweek`, `weekday`, `dayofyear`, `weekofyear`",
      "of dates (and so of timestamps, through their dates), over Spark's range (years beyond ±262,143 too); " +
      "ISO weeks as `IsoFields.WEEK_OF_WEEK_BASED_YEAR`"),
    ("`round`, `bround`", "to a constant scale from -1000 to 1000, half up and half even: integers exactly, then wrapping (legacy) " +
      "or `ARITHMETIC_OVERFLOW` (ANSI) where the result leaves the type; decimals into Spark's result type (a " +
      "negative scale whose result type Spark caps at 38 digits, which can overflow, stays on Spark); floats and " +
      "doubles as `BigDecimal.valueOf` reads them, through `Double.toString`'s digits (`round(2.675, 2)` = 2.68; " +
      "a zero is `0.0`), so under `spark.cinder.javaFloatDigits` as casts are"),
    ("`floor`, `ceil`", "of doubles (to bigint: Java's saturating conversion, NaN to 0), bigints and decimals " +
      "(to `decimal(p - s + 1, 0)`); one argument"),
    ("`hash`, `xxhash64`", "Spark's Murmur3 (seed 42) and xxHash64 (seed 42) of booleans, numbers, decimals, " +
      "strings, binary values, dates and timestamps (`hash` as the native shuffle partitions by it)"),
    ("`greatest`, `least`", "nulls skipped; floats in Spark's order (`-0.0 = 0.0`, NaN largest); the first of " +
      "equal values"),
    ("`date_add`, `date_sub`, `datediff`", "days as ints, wrapping as Spark's; the second argument evaluated " +
      "only where the first is not null"),
    ("`dayname`, `monthname`, `next_day`", "of dates: `Mon`, `Jan` (java.time's short names, en-US); the first " +
      "date after on a constant day (`MO`, `MON`, `MONDAY`, any case; other names stay on Spark, which rejects " +
      "them), its days wrapping as Spark's ints"),
    ("`add_months`, `last_day`", "as `java.time.LocalDate.plusMonths` (the day kept, or the shorter month's last) " +
      "and its month's last day, over Spark's range of dates"),
    ("`+`, `-` of a constant `INTERVAL`", "to timestamps and dates (day-time, year-month and legacy calendar " +
      "intervals), as Spark moves them with java.time: months, then days, on the local date-time in the session " +
      "time zone (a gap moves forward, an overlap keeps the offset), then the rest on the instant; timestamps " +
      "without a time zone in UTC; a date plus hours (legacy intervals, outside ANSI mode) through its day's " +
      "start; overflows fail with Spark's exception"),
    ("`timestampadd`", "a quantity (per row) of a unit, `MICROSECOND` to `YEAR`, added to a timestamp as Spark's " +
      "`timestampAdd` adds it: units of time on the instant, days and weeks on the local date-time, months, " +
      "quarters and years as `plusMonths`, in the session time zone (UTC without one); overflows raise Spark's " +
      "`DATETIME_OVERFLOW`, its message made by Spark"),
    ("`timestampdiff`", "units from one timestamp to another as Spark's `timestampDiff` counts them: of their local " +
      "date-times in the session time zone (UTC without one), as `LocalDateTime.until` (units of time toward zero; " +
      "days, weeks, months, quarters and years from date to date, a day less where the end's time of day has not " +
      "reached the start's); past a long, Spark's `ArithmeticException`"),
    ("`months_between`", "of timestamps (and dates, through their cast), with a constant rounding flag, in the " +
      "session time zone, as Spark's `monthsBetween`: whole months where the days of the month agree or both " +
      "are their month's last, else the months plus the days and the seconds into them over 31 days, rounded " +
      "to 8 places as `Math.round(x * 1e8) / 1e8`"),
    ("`unix_timestamp`, `to_unix_timestamp`, `unix_seconds`, `unix_millis`, `unix_micros`", "of timestamps (and " +
      "for the first two, dates through their cast to timestamps): `unix_timestamp` as Java's `micros / 1000000` " +
      "(toward zero), `unix_seconds` and `unix_millis` floored, as Spark; of strings, parsed with a pattern as " +
      "`to_timestamp` parses them, then its microseconds / 1000000"),
    ("`to_timestamp`, `try_to_timestamp`, `to_date`, `to_timestamp_ntz` with a pattern", "strings, with a constant " +
      "pattern, as Spark's java.time parser reads them (`DateTimeFormatter`, strict and case-insensitive, locale " +
      "en-US, under the default `CORRECTED` parser policy): `y` (1 to 6 letters: a `-` allowed, from 4 letters " +
      "more digits only after a `+`; `yy` from 2000 to 2099), `M` to `MMMM` (`Sep`, `September`), `d`, `D`, " +
      "`H`, `k`, `K`, `h`, `m`, `s` (one letter any number of digits, two exactly two), `S` to 9 letters (1 to " +
      "that many digits), `a`, zone offsets (`X` and `x`, 1 to 5 letters, and `Z`, 1 to 3 and 5: `Z` or the " +
      "pattern's zero, `+HH`, `+HHmm`, `+HH:MM`..., which replace the session time zone; past 18 hours invalid), " +
      "quoted text and other characters; numbers side by side as java.time splits them " +
      "(`yyyyMMdd`, and so `yyyyMMddHHmmssSSS` fails, as on Spark); each field in its range and real dates " +
      "(strict), what the text leaves out from 1970-01-01T00:00 as Spark takes it, in the session time zone; " +
      "what does not parse is null (legacy mode, `try_to_timestamp`), or in ANSI mode Spark's " +
      "`CANNOT_PARSE_TIMESTAMP`, whose message (java.time's) comes from Spark's formatter parsing that string " +
      "again; other letters (zone names and ids, localized offsets, weeks, eras...), optional sections and the " +
      "legacy parser policies stay on " +
      "Spark"),
    ("`date_format`, `from_unixtime`", "a timestamp (and so a date or a string cast to one), or a bigint of " +
      "seconds (times 10^6 as a Java long, wrapping, as Spark), in the session time zone, with a " +
      "constant pattern as java.time's `DateTimeFormatter` prints it for Spark (`y` as the proleptic year, " +
      "locale en-US): `y` (1 to 6 letters; `yy` the last two digits; from 4, a `+` before a wider year), `M` to " +
      "`MMMM` (`Sep`, `September`), `d`, `dd`, `D` to `DDD`, `H`, `k`, `K`, `h`, `m`, `s` (1 or 2), `S` (1 to 9: " +
      "the fraction cut short), `a`, `E` to `EEEE`, the zone's offset at the instant (`X` and `x`, 1 to 5 " +
      "letters, `Z`, 1 to 3 and 5, as `OffsetIdPrinterParser` prints it: `Z` or the pattern's zero text, " +
      "minutes and seconds where the pattern has them and they are not zero), quoted text and other " +
      "characters; other letters (zone names and ids, localized offsets, weeks, quarters, eras...) and " +
      "optional sections stay on Spark, as does the legacy " +
      "(`SimpleDateFormat`) parser policy"),
    ("`from_utc_timestamp`, `to_utc_timestamp`", "timestamps and a constant time zone (as Spark's " +
      "`getZoneId` reads it: regions, offsets, `SHORT_IDS`), with Spark's `convertTz`: the instant's local " +
      "date-time in the zone taken as one at UTC, or the UTC date-time taken as a local one in the zone (a " +
      "daylight-saving gap moves forward, an overlap takes the earlier offset, as `ZonedDateTime.of`); a zone " +
      "Spark refuses stays on Spark (its `INVALID_TIMEZONE`)"),
    ("`trunc`, `date_trunc`", "constant levels (`trunc`: a week and up, else null on Spark); a timestamp's " +
      "minutes, hours and days truncated on its local time in the session time zone, keeping its offset in an " +
      "overlap (`ZonedDateTime.truncatedTo`), weeks to years from the local date's start of day"),
    ("`CAST`, `try_cast`", "`try_cast` with Spark's try rules (the ANSI rules with null for the error; from strings " +
      "to floats, decimals and dates the legacy rules); widening (integers, integer to float/double/decimal, float to double, decimal to a wider decimal); " +
      "integers, booleans and dates to strings; decimals to strings (Java's `BigDecimal.toString`, plain in ANSI " +
      "mode); strings to integers, dates and booleans (Spark's parsing: " +
      "trimmed; a sign, digits, and in legacy mode a dropped fraction; `[+-]yyyy[-m[m][-d[d][ |T...]]]`; " +
      "`t`/`true`/`y`/`yes`/`1` and `f`/`false`/`n`/`no`/`0`; null, or in ANSI mode `CAST_INVALID_INPUT`, for the " +
      "rest); strings to floats and doubles (Java's `Double.parseDouble` grammar, hexadecimal literals and " +
      "`f`/`d` suffixes included, correctly rounded, then Spark's `inf`/`infinity`/`nan`) and to decimals " +
      "(`java.math.BigDecimal`'s grammar, Unicode digits included, rounded half up; past 38 integral digits or " +
      "the precision null, or in ANSI mode Spark's errors); between numbers and booleans as Spark does (integers to " +
      "narrower ones, floats, doubles and decimals to integers: toward zero, Java's saturation for floats, then the " +
      "low bits, or in ANSI mode `CAST_OVERFLOW`; decimals to floats and doubles correctly rounded; doubles to " +
      "floats; numbers to booleans and back); floats and doubles to strings and decimals (Java's " +
      "`Double.toString`/`Float.toString` digits as Java 19 and later give them, the shortest that round-trip, " +
      "then rounded half up to the decimal's scale; NaN and infinities null; on older JVMs these stay on Spark " +
      "unless `spark.cinder.javaFloatDigits` = java19); narrowing decimal casts (round half up; on overflow null, or an error " +
      "in ANSI mode); timestamps to dates (`to_date`, and so `year`, `month`, `day` of timestamps) and strings; " +
      "strings, dates and timestamp_ntz to timestamps and strings, dates and timestamps to timestamp_ntz (Spark's " +
      "`stringToTimestamp`: `[+-]yyyy[-m[m][-d[d][ |T]h[h]:m[m][:s[s][.fraction]][zone]]]` or a time alone, " +
      "which takes today's date; zones as `ZoneId.of` with `SHORT_IDS` reads them; null, or in ANSI mode " +
      "`CAST_INVALID_INPUT`, for the rest; local date-times in a daylight-saving gap move forward, in an overlap " +
      "take the earlier offset, as `ZonedDateTime.of`); all in the session's time zone (java.time zone ids: fixed " +
      "offsets and the IANA database's regions); timestamps and numbers as Spark does (a timestamp's seconds, " +
      "floored, null or `CAST_OVERFLOW` where they do not fit; micros / 1e6 as doubles and floats, and as " +
      "decimals through the double's digits; numbers as seconds: longs saturate, doubles saturate or fail in " +
      "ANSI mode, decimals wrap past 64 bits of micros; booleans as 0 or 1 microsecond); dates as numbers and " +
      "booleans (null, in legacy mode)"),
    ("scalar subquery", "run by Spark before the native plan; its value goes into the plan"))

  private def row(cells: String*): String = cells.map(_.replace("|", "\\|")).mkString("| ", " | ", " |")

  def operatorTable: String =
    (Seq("| Spark operator | native | stays on Spark |", "|---|---|---|") ++
      operators.map { case (a, b, c) => row(s"`$a`", b, c) }).mkString("", "\n", "\n")

  def expressionTable: String =
    (Seq("| expression | notes |", "|---|---|") ++
      expressions.map { case (a, b) => s"| $a | ${b.replace("|", "\\|")} |" }).mkString("", "\n", "\n")

  def configTable: String = CinderConf.markdownTable

  /** `name -> generated text` for every marked section. */
  def sections: Map[String, String] =
    Map("configs" -> configTable, "operators" -> operatorTable, "expressions" -> expressionTable)

  /** Prints one section: `CinderDocs configs|operators|expressions`. */
  def main(args: Array[String]): Unit = print(sections(args.headOption.getOrElse("configs")))
}
