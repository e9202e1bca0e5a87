//! Hash join: the host reference of the join contract the device kernels will share.
//!
//! DataFusion's `HashJoinExec` builds on its left input and probes with its right; so does
//! this module. The contract, in steps:
//!
//! 1. **Build** ([`BuildTable::new`]): the build rows grouped by key; rows with a null key are
//!    left out unless nulls compare equal ([`NullMatch`]).
//! 2. **Probe** ([`Prober`]): candidate pairs (build row, probe row) in probe-row order, build
//!    rows ascending within a probe row, emitted in chunks of at most a given number of pairs
//!    (a probe row whose matches exceed the budget continues in the next chunk), so that a
//!    many-to-many join never needs unbounded memory.
//! 3. **Residual filter** ([`JoinFilterProgram`]): a program over an intermediate batch of
//!    columns from either side, evaluated on the candidate pairs; a pair is kept when it is
//!    true.
//! 4. **Assembly** ([`JoinAssembler`]): kept pairs become output index pairs per join type;
//!    probe-side outputs stay in probe order (DataFusion keeps the probe side's order for
//!    Inner, Right, RightSemi and RightAnti), and the build-side remainder (Left and Full's
//!    unmatched rows, LeftSemi and LeftAnti) comes once every probe row has been seen.
//! 5. **Gather** ([`gather`]): output columns taken by index, nulls where an index is absent
//!    (on the device: [`gather::gather_join_device`]).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};

use crate::expr::{Program, evaluate};
use crate::{KernelError, Result};

pub mod device;
pub mod gather;

fn arrow_error(e: arrow::error::ArrowError) -> KernelError {
    KernelError::Execution(e.to_string())
}

fn invalid(kernel: &'static str, reason: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument {
        kernel,
        reason: reason.into(),
    }
}

/// The join types Cinder runs (DataFusion's `JoinType` without the mark joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// Matching pairs.
    Inner,
    /// Matching pairs, and every unmatched build (left) row with nulls.
    Left,
    /// Matching pairs, and every unmatched probe (right) row with nulls.
    Right,
    /// Left and Right together.
    Full,
    /// Build rows with at least one match.
    LeftSemi,
    /// Build rows with no match.
    LeftAnti,
    /// Probe rows with at least one match.
    RightSemi,
    /// Probe rows with no match.
    RightAnti,
}

impl JoinKind {
    /// Whether the output has build (left) columns.
    pub fn has_build_columns(self) -> bool {
        !matches!(self, JoinKind::RightSemi | JoinKind::RightAnti)
    }

    /// Whether the output has probe (right) columns.
    pub fn has_probe_columns(self) -> bool {
        !matches!(self, JoinKind::LeftSemi | JoinKind::LeftAnti)
    }

    /// Whether build rows are emitted once all probing is done (their match flags decide).
    pub fn emits_build_remainder(self) -> bool {
        matches!(
            self,
            JoinKind::Left | JoinKind::Full | JoinKind::LeftSemi | JoinKind::LeftAnti
        )
    }

    /// Whether an empty build side means no output rows, whatever the probe side holds
    /// (DataFusion's `empty_build_side_produces_empty_result`): every output row needs a
    /// build row, or is one.
    pub fn empty_build_gives_no_rows(self) -> bool {
        matches!(
            self,
            JoinKind::Inner
                | JoinKind::Left
                | JoinKind::LeftSemi
                | JoinKind::LeftAnti
                | JoinKind::RightSemi
        )
    }

    /// Whether a build side none of whose keys can match means no output rows (DataFusion's
    /// `empty_map_produces_empty_result`): every output row needs a match.
    pub fn no_match_gives_no_rows(self) -> bool {
        matches!(
            self,
            JoinKind::Inner | JoinKind::LeftSemi | JoinKind::RightSemi
        )
    }
}

/// Whether a null key matches a null key (DataFusion's `NullEquality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NullMatch {
    /// A null key matches nothing (SQL's `=`; DataFusion's default).
    NullEqualsNothing,
    /// A null key matches a null key (`IS NOT DISTINCT FROM`).
    NullEqualsNull,
}

/// Key types the join compares (Float64 is left out: its equality around NaN and `-0.0`
/// differs between DataFusion's kernels).
pub fn joinable(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Boolean
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Decimal128(..)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
    )
}

/// Largest key range the dense-key path takes (its "groups" are i32 on the device).
pub const MAX_DENSE_RANGE: i64 = i32::MAX as i64;

/// The smallest and largest build key when the build side suits the dense-key path on the
/// device: one Int32, Int64 or Date32 key, nulls matching nothing, and a value range of at
/// most four per build row (TPC-H's keys are dense or, like `o_orderkey`, one in four), or
/// 4096. `None` otherwise (the hash table then).
pub fn dense_range(keys: &[ArrayRef], rows: usize, nulls: NullMatch) -> Option<(i64, i64)> {
    use arrow::datatypes::{Date32Type, Int32Type, Int64Type};
    if keys.len() != 1 || nulls != NullMatch::NullEqualsNothing || rows == 0 {
        return None;
    }
    let key = &keys[0];
    let (min, max) = match key.data_type() {
        DataType::Int32 => {
            let a = key.as_primitive::<Int32Type>();
            (
                arrow::compute::min(a)? as i64,
                arrow::compute::max(a)? as i64,
            )
        }
        DataType::Date32 => {
            let a = key.as_primitive::<Date32Type>();
            (
                arrow::compute::min(a)? as i64,
                arrow::compute::max(a)? as i64,
            )
        }
        DataType::Int64 => {
            let a = key.as_primitive::<Int64Type>();
            (arrow::compute::min(a)?, arrow::compute::max(a)?)
        }
        _ => return None,
    };
    let range = (max as i128) - (min as i128) + 1;
    let limit = (4 * rows as i128).max(4096).min(MAX_DENSE_RANGE as i128);
    (range <= limit).then_some((min, max))
}

/// Whether some of `rows` build rows of `keys` can match a probe row under `nulls`: any row
/// when nulls match nulls, else a row that [`null_key_rows`] does not flag (the same logical
/// nulls, without a flag per row).
pub fn any_matchable_row(keys: &[ArrayRef], rows: usize, nulls: NullMatch) -> bool {
    if rows == 0 {
        return false;
    }
    if nulls == NullMatch::NullEqualsNull {
        return true;
    }
    let key_nulls: Vec<_> = keys.iter().filter_map(|k| k.logical_nulls()).collect();
    (0..rows).any(|row| key_nulls.iter().all(|n| n.is_valid(row)))
}

/// Rows with a null in any key (they match nothing under [`NullMatch::NullEqualsNothing`]).
fn null_key_rows(keys: &[ArrayRef], rows: usize) -> Vec<bool> {
    let mut out = vec![false; rows];
    for key in keys {
        if let Some(nulls) = key.logical_nulls() {
            for (row, flag) in out.iter_mut().enumerate() {
                *flag |= nulls.is_null(row);
            }
        }
    }
    out
}

/// The build side: its rows grouped by key.
#[derive(Debug)]
pub struct BuildTable {
    converter: RowConverter,
    types: Vec<DataType>,
    /// Key bytes (Arrow's row format) to the key's group.
    groups: HashMap<Box<[u8]>, u32>,
    /// Rows of group g: `rows[offsets[g]..offsets[g + 1]]`, ascending.
    offsets: Vec<u32>,
    rows: Vec<u32>,
    /// Build rows.
    len: usize,
    nulls: NullMatch,
}

impl BuildTable {
    /// Groups the build rows of `keys` (each of `rows` rows) by key.
    pub fn new(keys: &[ArrayRef], rows: usize, nulls: NullMatch) -> Result<Self> {
        if keys.is_empty() {
            return Err(invalid("join build", "a hash join needs at least one key"));
        }
        if rows > u32::MAX as usize - 1 {
            return Err(invalid(
                "join build",
                format!("{rows} build rows; at most 2^32 - 2"),
            ));
        }
        let types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
        let converter =
            RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())
                .map_err(arrow_error)?;
        let encoded = converter.convert_columns(keys).map_err(arrow_error)?;
        let skip = match nulls {
            NullMatch::NullEqualsNothing => null_key_rows(keys, rows),
            NullMatch::NullEqualsNull => vec![false; rows],
        };
        let mut groups: HashMap<Box<[u8]>, u32> = HashMap::new();
        let mut group_of = vec![u32::MAX; rows];
        let mut counts: Vec<u32> = Vec::new();
        for (row, key) in encoded.iter().enumerate() {
            if skip[row] {
                continue;
            }
            let next = counts.len() as u32;
            let g = *groups.entry(key.data().into()).or_insert(next);
            if g == next {
                counts.push(0);
            }
            counts[g as usize] += 1;
            group_of[row] = g;
        }
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        offsets.push(0u32);
        for c in &counts {
            offsets.push(offsets.last().copied().unwrap_or(0) + c);
        }
        let mut cursor = offsets.clone();
        let mut members = vec![0u32; *offsets.last().unwrap_or(&0) as usize];
        for (row, &g) in group_of.iter().enumerate() {
            if g != u32::MAX {
                members[cursor[g as usize] as usize] = row as u32;
                cursor[g as usize] += 1;
            }
        }
        Ok(Self {
            converter,
            types,
            groups,
            offsets,
            rows: members,
            len: rows,
            nulls,
        })
    }

    /// Build rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no build rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The build rows of each probe row's key, found through the table.
    pub fn prober(&self, keys: &[ArrayRef], rows: usize) -> Result<Prober<'_>> {
        let types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
        if types != self.types {
            return Err(invalid(
                "join probe",
                format!("probe keys {types:?} against build keys {:?}", self.types),
            ));
        }
        let encoded = self.converter.convert_columns(keys).map_err(arrow_error)?;
        let skip = match self.nulls {
            NullMatch::NullEqualsNothing => null_key_rows(keys, rows),
            NullMatch::NullEqualsNull => vec![false; rows],
        };
        let matches: Vec<Option<u32>> = (0..rows)
            .map(|row| {
                if skip[row] {
                    None
                } else {
                    self.groups.get(encoded.row(row).data()).copied()
                }
            })
            .collect();
        Ok(Prober {
            table: self,
            _encoded: encoded,
            matches,
            row: 0,
            offset: 0,
        })
    }
}

/// Candidate pairs of one probe batch, in chunks (see the module docs).
#[derive(Debug)]
pub struct Prober<'a> {
    table: &'a BuildTable,
    _encoded: Rows,
    /// Each probe row's group, if its key is in the table.
    matches: Vec<Option<u32>>,
    /// Where the next chunk starts: a probe row and how many of its matches were emitted.
    row: usize,
    offset: usize,
}

/// Candidate pairs of a chunk: build and probe rows, in probe-row order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs {
    /// Build rows.
    pub build: Vec<u32>,
    /// Probe rows.
    pub probe: Vec<u32>,
    /// Probe rows `[done_from, done_to)` have had all their pairs emitted by this chunk
    /// (and the chunks before).
    pub done_from: usize,
    /// See `done_from`.
    pub done_to: usize,
}

impl Prober<'_> {
    /// The next chunk of at most `budget` pairs (at least one when any remain), or `None`
    /// when every probe row is done.
    pub fn next_chunk(&mut self, budget: usize) -> Option<Pairs> {
        let rows = self.matches.len();
        if self.row >= rows && rows > 0 || (rows == 0 && self.row > 0) {
            return None;
        }
        let budget = budget.max(1);
        let mut out = Pairs {
            done_from: self.row,
            ..Pairs::default()
        };
        while self.row < rows {
            let members: &[u32] = match self.matches[self.row] {
                Some(g) => {
                    let (s, e) = (
                        self.table.offsets[g as usize] as usize,
                        self.table.offsets[g as usize + 1] as usize,
                    );
                    &self.table.rows[s..e]
                }
                None => &[],
            };
            let room = budget - out.build.len();
            let take_n = (members.len() - self.offset).min(room);
            for &b in &members[self.offset..self.offset + take_n] {
                out.build.push(b);
                out.probe.push(self.row as u32);
            }
            self.offset += take_n;
            if self.offset < members.len() {
                break; // the budget is spent inside this row
            }
            self.row += 1;
            self.offset = 0;
            if out.build.len() >= budget {
                break;
            }
        }
        out.done_to = self.row;
        if rows == 0 {
            self.row = 1; // one empty chunk for an empty batch
        }
        Some(out)
    }
}

/// Which side of the join a filter column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The build (left) input.
    Build,
    /// The probe (right) input.
    Probe,
}

/// A residual join condition: a program over an intermediate batch whose columns come from
/// the build or probe input.
#[derive(Debug, Clone)]
pub struct JoinFilterProgram {
    /// The condition, over `schema`.
    pub program: Program,
    /// Where each intermediate column comes from: a side and a column index there.
    pub columns: Vec<(Side, usize)>,
    /// The intermediate batch's schema.
    pub schema: SchemaRef,
}

impl JoinFilterProgram {
    /// Which candidate pairs the condition keeps (true, not null).
    pub fn keep(
        &self,
        build: &RecordBatch,
        probe: &RecordBatch,
        pairs: &Pairs,
    ) -> Result<Vec<bool>> {
        let build_idx = UInt32Array::from(pairs.build.clone());
        let probe_idx = UInt32Array::from(pairs.probe.clone());
        let columns = self
            .columns
            .iter()
            .map(|(side, i)| {
                let (batch, idx) = match side {
                    Side::Build => (build, &build_idx),
                    Side::Probe => (probe, &probe_idx),
                };
                let column = batch
                    .columns()
                    .get(*i)
                    .ok_or_else(|| invalid("join filter", format!("no input column {i}")))?;
                take(column.as_ref(), idx, None).map_err(arrow_error)
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(pairs.build.len()));
        let intermediate =
            RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
                .map_err(arrow_error)?;
        let mask = evaluate(&self.program, &intermediate)?;
        let mask = mask.as_boolean();
        Ok((0..mask.len())
            .map(|i| mask.is_valid(i) && mask.value(i))
            .collect())
    }
}

/// Output rows as indices: a build row and a probe row, either absent (null columns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinIndices {
    /// Build rows (`None`: nulls in the build columns).
    pub build: Vec<Option<u32>>,
    /// Probe rows (`None`: nulls in the probe columns).
    pub probe: Vec<Option<u32>>,
}

impl JoinIndices {
    /// Output rows.
    pub fn len(&self) -> usize {
        self.build.len().max(self.probe.len())
    }

    /// Whether there are no output rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Turns kept pairs into output rows per join type, and tracks which build rows matched.
#[derive(Debug, Clone)]
pub struct JoinAssembler {
    kind: JoinKind,
    /// Build rows that matched (kept by the filter) in any probe batch so far.
    pub build_matched: Vec<bool>,
}

impl JoinAssembler {
    /// An assembler for a build side of `build_rows` rows.
    pub fn new(kind: JoinKind, build_rows: usize) -> Self {
        Self {
            kind,
            build_matched: vec![false; build_rows],
        }
    }

    /// The output rows of one chunk: `kept[i]` says whether pair `i` passed the filter, and
    /// `probe_matched` (one flag per probe row of the batch, kept across the batch's
    /// chunks) records which probe rows matched. Probe rows done in this chunk are settled
    /// (Right and Full emit the unmatched ones, RightSemi and RightAnti their rows), in
    /// probe order.
    // `row` indexes the probe flags and is emitted as an output index.
    #[allow(clippy::needless_range_loop)]
    pub fn chunk(
        &mut self,
        pairs: &Pairs,
        kept: &[bool],
        probe_matched: &mut [bool],
    ) -> JoinIndices {
        let mut out = JoinIndices::default();
        let emits_pairs = matches!(
            self.kind,
            JoinKind::Inner | JoinKind::Left | JoinKind::Right | JoinKind::Full
        );
        let settles_probe = matches!(
            self.kind,
            JoinKind::Right | JoinKind::Full | JoinKind::RightSemi | JoinKind::RightAnti
        );
        let mut next_pair = 0;
        let kind = self.kind;
        let settle = |row: usize, out: &mut JoinIndices, matched: bool| match kind {
            JoinKind::Right | JoinKind::Full if !matched => {
                out.build.push(None);
                out.probe.push(Some(row as u32));
            }
            JoinKind::RightSemi if matched => out.probe.push(Some(row as u32)),
            JoinKind::RightAnti if !matched => out.probe.push(Some(row as u32)),
            _ => {}
        };
        // Walk probe rows in order: each row's kept pairs, then its settlement when done.
        let last_row = pairs
            .done_to
            .max(pairs.probe.last().map_or(0, |&p| p as usize + 1));
        for row in pairs.done_from..last_row {
            while next_pair < pairs.probe.len() && pairs.probe[next_pair] as usize == row {
                if kept[next_pair] {
                    let b = pairs.build[next_pair];
                    probe_matched[row] = true;
                    self.build_matched[b as usize] = true;
                    if emits_pairs {
                        out.build.push(Some(b));
                        out.probe.push(Some(row as u32));
                    }
                }
                next_pair += 1;
            }
            if settles_probe && row < pairs.done_to {
                settle(row, &mut out, probe_matched[row]);
            }
        }
        out
    }

    /// The build-side remainder once every probe row has been seen: Left and Full's unmatched
    /// build rows (with null probe columns), LeftSemi's matched and LeftAnti's unmatched
    /// build rows, ascending. Empty for the other join types.
    pub fn finish(&self) -> JoinIndices {
        let pick = |want: bool| -> Vec<Option<u32>> {
            self.build_matched
                .iter()
                .enumerate()
                .filter(|(_, m)| **m == want)
                .map(|(row, _)| Some(row as u32))
                .collect()
        };
        match self.kind {
            JoinKind::Left | JoinKind::Full => {
                let build = pick(false);
                JoinIndices {
                    probe: vec![None; build.len()],
                    build,
                }
            }
            JoinKind::LeftSemi => JoinIndices {
                build: pick(true),
                probe: Vec::new(),
            },
            JoinKind::LeftAnti => JoinIndices {
                build: pick(false),
                probe: Vec::new(),
            },
            _ => JoinIndices::default(),
        }
    }
}

/// The join's output rows for `indices`: the build columns (when the join type has them),
/// then the probe columns, as `schema` (DataFusion's join schema, before any projection).
pub fn gather(
    kind: JoinKind,
    build: &RecordBatch,
    probe: &RecordBatch,
    indices: &JoinIndices,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let rows = indices.len();
    let take_all = |batch: &RecordBatch, idx: &[Option<u32>]| -> Result<Vec<ArrayRef>> {
        let idx = UInt32Array::from(idx.to_vec());
        batch
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &idx, None).map_err(arrow_error))
            .collect()
    };
    let mut columns = Vec::new();
    if kind.has_build_columns() {
        columns.extend(take_all(build, &indices.build)?);
    }
    if kind.has_probe_columns() {
        columns.extend(take_all(probe, &indices.probe)?);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options).map_err(arrow_error)
}

#[cfg(test)]
mod tests;
