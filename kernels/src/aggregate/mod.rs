//! Hash aggregation: group-by on 0..n keys with count, sum, min, max and avg, in DataFusion
//! 55.2's types and state layouts, so that a Cinder stage can sit on either side of a
//! DataFusion one (the contract is docs/design/aggregation.md).
//!
//! An aggregation runs in three steps, the same on the host and on the device:
//!
//! 1. **Inputs.** The key and argument expressions are [`Program`]s evaluated on the batch
//!    (raw stages), or the keys and state columns are read from a state batch (merging
//!    stages).
//! 2. **Groups.** Every row gets the number of its group, groups numbered in the order they
//!    are first seen ([`group_host`]; on the device, a hash table whose slots keep the
//!    smallest row of their key, then a compaction of those first rows: the same numbering).
//!    Null keys form their own group; Float64 keys fold `-0.0` into `+0.0`.
//! 3. **Accumulation.** Each aggregate is one or two [`Op`]s (count, wrapping 64/128-bit sum,
//!    Float64 sum, 64/128-bit min/max) run per group ([`accumulate_host`]), and [`emit`]
//!    turns their per-group values into DataFusion's state columns (Partial) or final
//!    values (Final, Single).
//!
//! Integer and decimal results do not depend on row order (wrapping sums, min and max
//! commute). Float64 sums do: the host adds in row order, the device in whatever order its
//! atomic additions land, and DataFusion in its own (docs/design/aggregation.md §2).

pub mod device;
mod host;
mod spec;

pub use host::{
    AVG_OVERFLOW, Groups, MAX_ROWS, OpResult, OpValues, accumulate_host, canonical_key,
    decimal_avg, emit, f64_order_key, group_host, group_keys, initial_i64, initial_i128,
};
pub use spec::{AggFunc, AggregateSpec, Op, OpKind, Stage, ValueRead};

use arrow::array::{ArrayRef, RecordBatch};
use cinder_cuda::{DeviceBatch, DeviceColumn, MemoryPool};

use crate::embedded::DeviceKernels;
use crate::expr::device::evaluate_on_device;
use crate::expr::{Program, evaluate};
use crate::launch::Timing;
use crate::{KernelError, Result};

/// An aggregation as Cinder runs it: key and argument programs over the raw input, and one
/// [`AggregateSpec`] per aggregate.
#[derive(Debug, Clone)]
pub struct Aggregation {
    /// The group keys over the raw input.
    pub keys: Vec<Program>,
    /// Each aggregate's argument over the raw input (`None`: `count(*)`).
    pub args: Vec<Option<Program>>,
    /// Each aggregate's types.
    pub specs: Vec<AggregateSpec>,
}

impl Aggregation {
    /// Whether there are group keys.
    pub fn grouped(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The operations that fold raw rows into state, reading the evaluated arguments in
    /// order (one input per aggregate with an argument).
    pub fn update_ops(&self) -> Vec<Op> {
        let mut next = 0;
        self.specs
            .iter()
            .zip(&self.args)
            .flat_map(|(spec, arg)| {
                let input = arg.as_ref().map(|_| {
                    next += 1;
                    next - 1
                });
                spec.update_ops(input)
            })
            .collect()
    }

    /// The operations that merge state, reading the state columns in order (those after the
    /// keys).
    pub fn merge_ops(&self) -> Vec<Op> {
        let mut first = 0;
        self.specs
            .iter()
            .flat_map(|spec| {
                let ops = spec.merge_ops(first);
                first += spec.state.len();
                ops
            })
            .collect()
    }

    /// The number of state columns after the keys.
    pub fn state_width(&self) -> usize {
        self.specs.iter().map(|s| s.state.len()).sum()
    }

    /// The keys and arguments evaluated on a raw batch (host reference).
    pub fn raw_inputs(&self, batch: &RecordBatch) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let keys = self
            .keys
            .iter()
            .map(|p| evaluate(p, batch))
            .collect::<Result<Vec<_>>>()?;
        let args = self
            .args
            .iter()
            .flatten()
            .map(|p| evaluate(p, batch))
            .collect::<Result<Vec<_>>>()?;
        Ok((keys, args))
    }

    /// The keys and state columns of a state batch.
    pub fn state_inputs(&self, batch: &RecordBatch) -> (Vec<ArrayRef>, Vec<ArrayRef>) {
        let k = self.keys.len();
        let columns = batch.columns();
        (columns[..k].to_vec(), columns[k..].to_vec())
    }

    /// Raw rows on the device into group keys and state results: the keys and arguments
    /// evaluated by the expression interpreter, then [`device::aggregate_device`].
    pub fn update_device(
        &self,
        kernels: &DeviceKernels,
        pool: &MemoryPool,
        batch: &DeviceBatch,
    ) -> Result<(Vec<ArrayRef>, Vec<OpResult>)> {
        let eval = |p: &Program| {
            evaluate_on_device(kernels, pool, p, batch, Timing::Untimed).map(|(c, _)| c)
        };
        let keys = self.keys.iter().map(eval).collect::<Result<Vec<_>>>()?;
        let args = self
            .args
            .iter()
            .flatten()
            .map(eval)
            .collect::<Result<Vec<_>>>()?;
        device::aggregate_device(
            kernels,
            pool,
            &keys.iter().collect::<Vec<_>>(),
            &args.iter().collect::<Vec<_>>(),
            &self.update_ops(),
            batch.num_rows(),
        )
    }

    /// A state batch on the device merged into group keys and state results.
    pub fn merge_device(
        &self,
        kernels: &DeviceKernels,
        pool: &MemoryPool,
        batch: &DeviceBatch,
    ) -> Result<(Vec<ArrayRef>, Vec<OpResult>)> {
        let k = self.keys.len();
        let columns: Vec<&DeviceColumn> = batch.columns().iter().map(|c| c.as_ref()).collect();
        if columns.len() != k + self.state_width() {
            return Err(KernelError::InvalidArgument {
                kernel: "merge_device",
                reason: format!(
                    "{} columns for {k} keys and {} state columns",
                    columns.len(),
                    self.state_width()
                ),
            });
        }
        device::aggregate_device(
            kernels,
            pool,
            &columns[..k],
            &columns[k..],
            &self.merge_ops(),
            batch.num_rows(),
        )
    }
}

/// Groups `keys` and runs `ops` over `inputs` (host reference): the group keys and the
/// operations' results.
pub fn aggregate_host(
    keys: &[ArrayRef],
    inputs: &[ArrayRef],
    ops: &[Op],
    rows: usize,
) -> Result<(Vec<ArrayRef>, Vec<OpResult>)> {
    let groups = group_host(keys, rows)?;
    let results = accumulate_host(ops, inputs, &groups)?;
    Ok((group_keys(keys, &groups)?, results))
}

#[cfg(test)]
mod tests;
