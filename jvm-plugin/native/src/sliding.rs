//! An aggregate over a window's sliding frame as Spark computes one: Spark's
//! SlidingWindowFunctionFrame and UnboundedFollowingWindowFunctionFrame compute their buffer
//! again from the frame's first row whenever the frame changes, so the accumulator here keeps
//! the frame's values in order and folds them again each time it is read (O(frame) a row, as
//! in Spark), which keeps Spark's order of floating-point operations where retracting a value
//! would not.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::mem::size_of;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::Accumulator;

/// What a [`SlidingFrameAccumulator`] reads of a batch and computes from a frame's values.
pub(crate) trait FrameFold: Debug + Send + Sync + 'static {
    /// What one row contributes (rows Spark's update skips contribute nothing).
    type Value: Copy + Debug + Send + Sync + 'static;

    /// The aggregate's name, for errors.
    fn name(&self) -> &str;

    /// The values of a batch's rows that Spark's update reads, in order.
    fn read(&self, values: &[ArrayRef]) -> Result<Vec<Self::Value>>;

    /// The aggregate's state over the frame's values.
    fn state(&self, values: &VecDeque<Self::Value>) -> Vec<ScalarValue>;

    /// The aggregate's result over the frame's values.
    fn evaluate(&self, values: &VecDeque<Self::Value>) -> ScalarValue;
}

/// The accumulator of a [`FrameFold`] over a window's sliding frame.
#[derive(Debug)]
pub(crate) struct SlidingFrameAccumulator<F: FrameFold> {
    fold: F,
    values: VecDeque<F::Value>,
}

impl<F: FrameFold> SlidingFrameAccumulator<F> {
    pub(crate) fn new(fold: F) -> Self {
        Self {
            fold,
            values: VecDeque::new(),
        }
    }
}

impl<F: FrameFold> Accumulator for SlidingFrameAccumulator<F> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let read = self.fold.read(values)?;
        self.values.extend(read);
        Ok(())
    }

    /// The frame's first rows leave it.
    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let leaving = self.fold.read(values)?.len();
        if leaving > self.values.len() {
            return internal_err!(
                "{}: more values leave the frame than it holds",
                self.fold.name()
            );
        }
        self.values.drain(..leaving);
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, _states: &[ArrayRef]) -> Result<()> {
        internal_err!("{} over a sliding frame does not merge", self.fold.name())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.fold.state(&self.values))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.fold.evaluate(&self.values))
    }

    fn size(&self) -> usize {
        self.values.capacity() * size_of::<F::Value>() + size_of::<Self>()
    }
}
