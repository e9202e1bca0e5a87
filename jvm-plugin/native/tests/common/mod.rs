//! What the integration tests share.

use cinder_jni::NativeError;
use cinder_jni::input::BatchSource;
use datafusion::arrow::array::RecordBatch;

/// Batches handed to an `input` leaf, in order.
pub struct Batches(pub Vec<RecordBatch>);

impl BatchSource for Batches {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, NativeError> {
        Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
    }
}
