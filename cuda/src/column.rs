//! Arrow columns and record batches on the device ([`DeviceColumn`], [`DeviceBatch`]).
//!
//! A column keeps Arrow's layout on the device, normalised so kernels never deal with array
//! offsets: values start at row 0, validity bitmaps start at bit 0, and string offsets start
//! at 0 (a sliced array is rebased on upload). `Utf8View` (what tpchgen emits) has no
//! device-friendly layout, so it travels as 64-bit offsets plus bytes and is rebuilt as
//! `Utf8View` on download. Any other type is refused with [`CudaError::UnsupportedType`]
//! naming it, which the planner shows as the reason a node stays on the CPU.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, DictionaryArray, Int32Array, LargeStringArray,
    RecordBatch, RecordBatchOptions, StringViewArray, make_array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow::datatypes::{ArrowNativeType, DataType, Int32Type, SchemaRef, ToByteSlice};

use crate::error::{CudaError, Result};
use crate::memory::{DeviceBuffer, MemoryPool};

/// Whether Cinder can place a column of type `data_type` on the device; the error names the
/// type.
pub fn check_supported(data_type: &DataType) -> Result<()> {
    match data_type {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Date32
        | DataType::Timestamp(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => Ok(()),
        DataType::Dictionary(key, value)
            if **key == DataType::Int32 && **value == DataType::Utf8 =>
        {
            Ok(())
        }
        other => Err(CudaError::UnsupportedType(other.to_string())),
    }
}

/// Width in bytes of a string offset on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetWidth {
    /// `i32` offsets (`Utf8`).
    I32,
    /// `i64` offsets (`LargeUtf8`, and `Utf8View` on the device).
    I64,
}

impl OffsetWidth {
    /// The device offsets of a string type: i32 for Utf8, i64 for LargeUtf8 and Utf8View;
    /// `None` for other types.
    pub fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::Utf8 => Some(OffsetWidth::I32),
            DataType::LargeUtf8 | DataType::Utf8View => Some(OffsetWidth::I64),
            _ => None,
        }
    }

    /// Bytes per offset.
    pub fn bytes(self) -> usize {
        match self {
            OffsetWidth::I32 => 4,
            OffsetWidth::I64 => 8,
        }
    }
}

/// The buffers of a device column, by layout.
#[derive(Debug)]
pub enum ColumnBody {
    /// Fixed-width values: integers, floats, dates, timestamps, decimals.
    Fixed {
        /// `len * width` bytes.
        values: DeviceBuffer,
        /// Bytes per value.
        width: usize,
    },
    /// A bit-packed boolean column (bit `i` is row `i`).
    Boolean {
        /// `ceil(len / 8)` bytes.
        values: DeviceBuffer,
    },
    /// Variable-length strings: `len + 1` offsets (the first is 0) into `bytes`.
    Strings {
        /// The offsets.
        offsets: DeviceBuffer,
        /// Their width.
        offset_width: OffsetWidth,
        /// The string bytes, UTF-8.
        bytes: DeviceBuffer,
    },
    /// Dictionary-encoded strings: `Int32` keys (which carry the nulls) into `Utf8` values.
    Dictionary {
        /// The keys.
        keys: Box<DeviceColumn>,
        /// The dictionary.
        values: Box<DeviceColumn>,
    },
}

/// One Arrow array on the device (or on the host backend, in the same layout).
#[derive(Debug)]
pub struct DeviceColumn {
    /// The Arrow type, kept exactly (time zones, decimal precision and scale, view-ness).
    data_type: DataType,
    /// Rows.
    len: usize,
    /// Null rows.
    null_count: usize,
    /// Validity bitmap from bit 0; `None` when no row is null (and for dictionaries, whose
    /// keys carry the nulls).
    validity: Option<DeviceBuffer>,
    /// The data buffers.
    body: ColumnBody,
}

impl DeviceColumn {
    /// Copies `array` into `pool`.
    pub fn upload(pool: &MemoryPool, array: &dyn Array) -> Result<Self> {
        let data_type = array.data_type().clone();
        check_supported(&data_type)?;
        let data = array.to_data();
        let (len, offset) = (data.len(), data.offset());
        if let DataType::Dictionary(_, _) = data_type {
            let dict = array.as_dictionary::<Int32Type>();
            return Ok(Self {
                data_type,
                len,
                null_count: dict.keys().null_count(),
                validity: None,
                body: ColumnBody::Dictionary {
                    keys: Box::new(Self::upload(pool, dict.keys())?),
                    values: Box::new(Self::upload(pool, dict.values().as_ref())?),
                },
            });
        }
        let validity = match data.nulls() {
            Some(nulls) if nulls.null_count() > 0 => {
                Some(pool.upload(nulls.inner().sliced().as_slice())?)
            }
            _ => None,
        };
        let body = match &data_type {
            DataType::Boolean => {
                let bits = BooleanBuffer::new(data.buffers()[0].clone(), offset, len);
                ColumnBody::Boolean {
                    values: pool.upload(bits.sliced().as_slice())?,
                }
            }
            DataType::Utf8 => string_body::<i32>(pool, &data, OffsetWidth::I32)?,
            DataType::LargeUtf8 => string_body::<i64>(pool, &data, OffsetWidth::I64)?,
            DataType::Utf8View => {
                let views = array.as_string_view();
                let mut offsets = Vec::with_capacity((len + 1) * 8);
                let mut bytes = Vec::new();
                offsets.extend_from_slice(&0i64.to_le_bytes());
                for value in views.iter() {
                    bytes.extend_from_slice(value.unwrap_or("").as_bytes());
                    offsets.extend_from_slice(&(bytes.len() as i64).to_le_bytes());
                }
                ColumnBody::Strings {
                    offsets: pool.upload(&offsets)?,
                    offset_width: OffsetWidth::I64,
                    bytes: pool.upload(&bytes)?,
                }
            }
            fixed => {
                let width = fixed
                    .primitive_width()
                    .ok_or_else(|| CudaError::UnsupportedType(fixed.to_string()))?;
                let values = data.buffers()[0].as_slice();
                let range = offset * width..(offset + len) * width;
                let bytes = values.get(range.clone()).ok_or_else(|| {
                    CudaError::InvalidData(format!(
                        "{fixed} values buffer of {} bytes is shorter than rows {offset}..{}",
                        values.len(),
                        offset + len
                    ))
                })?;
                ColumnBody::Fixed {
                    values: pool.upload(bytes)?,
                    width,
                }
            }
        };
        Ok(Self {
            data_type,
            len,
            null_count: data.null_count(),
            validity,
            body,
        })
    }

    /// A column from buffers a kernel wrote, in the layout [`DeviceColumn::upload`] makes:
    /// rows from 0, `validity` a bitmap of at least `len` bits (or `None`: no nulls), fixed
    /// values of `width` bytes per row or a bitmap for Boolean. Checks the buffer sizes; only
    /// fixed-width and Boolean columns can be assembled this way.
    pub fn from_parts(
        data_type: DataType,
        len: usize,
        null_count: usize,
        validity: Option<DeviceBuffer>,
        body: ColumnBody,
    ) -> Result<Self> {
        let invalid = |what: String| Err(CudaError::InvalidData(what));
        if null_count > len || (null_count > 0 && validity.is_none()) {
            return invalid(format!(
                "{null_count} nulls in {len} rows (validity given: {})",
                validity.is_some()
            ));
        }
        if let Some(bits) = validity.as_ref().filter(|b| b.len() < len.div_ceil(8)) {
            return invalid(format!("{} validity bytes for {len} rows", bits.len()));
        }
        match &body {
            ColumnBody::Fixed { values, width } => {
                if data_type.primitive_width() != Some(*width) || values.len() < len * width {
                    return invalid(format!(
                        "{} bytes of {width}-byte values for {len} rows of {data_type}",
                        values.len()
                    ));
                }
            }
            ColumnBody::Boolean { values } => {
                if data_type != DataType::Boolean || values.len() < len.div_ceil(8) {
                    return invalid(format!(
                        "{} bitmap bytes for {len} rows of {data_type}",
                        values.len()
                    ));
                }
            }
            ColumnBody::Strings {
                offsets,
                offset_width,
                ..
            } => {
                let width = offset_width.bytes();
                if OffsetWidth::of(&data_type) != Some(*offset_width)
                    || offsets.len() < (len + 1) * width
                {
                    return invalid(format!(
                        "{} bytes of {width}-byte offsets for {len} rows of {data_type}",
                        offsets.len()
                    ));
                }
            }
            ColumnBody::Dictionary { .. } => {
                return invalid(format!(
                    "assembling a {data_type} column from parts is not supported"
                ));
            }
        }
        Ok(Self {
            data_type,
            len,
            null_count,
            validity,
            body,
        })
    }

    /// A column of no rows of `data_type` (fixed-width, Boolean or string), as kernels return
    /// for empty input.
    pub fn empty(pool: &MemoryPool, data_type: DataType) -> Result<Self> {
        let body = if let Some(offset_width) = OffsetWidth::of(&data_type) {
            ColumnBody::Strings {
                // One zero offset: the end of the (absent) first row.
                offsets: pool.upload(&vec![0; offset_width.bytes()])?,
                offset_width,
                bytes: pool.allocate(0)?,
            }
        } else if data_type == DataType::Boolean {
            ColumnBody::Boolean {
                values: pool.allocate(0)?,
            }
        } else {
            let width = data_type.primitive_width().ok_or_else(|| {
                CudaError::UnsupportedType(format!("an empty {data_type} column"))
            })?;
            ColumnBody::Fixed {
                values: pool.allocate(0)?,
                width,
            }
        };
        Self::from_parts(data_type, 0, 0, None, body)
    }

    /// Copies the column back into an Arrow array equal to the one uploaded.
    pub fn download(&self, pool: &MemoryPool) -> Result<ArrayRef> {
        let invalid = |e: arrow::error::ArrowError| CudaError::InvalidData(e.to_string());
        let nulls = match &self.validity {
            Some(bits) => Some(NullBuffer::new(BooleanBuffer::new(
                pool.download(bits)?,
                0,
                self.len,
            ))),
            None => None,
        };
        let build = |buffers: Vec<Buffer>, data_type: DataType| -> Result<ArrayRef> {
            let data = ArrayData::builder(data_type)
                .len(self.len)
                .buffers(buffers)
                .nulls(nulls.clone())
                .build()
                .map_err(invalid)?;
            Ok(make_array(data))
        };
        match &self.body {
            ColumnBody::Fixed { values, .. } | ColumnBody::Boolean { values } => {
                build(vec![pool.download(values)?], self.data_type.clone())
            }
            ColumnBody::Strings { offsets, bytes, .. } => {
                let buffers = vec![pool.download(offsets)?, pool.download(bytes)?];
                if self.data_type == DataType::Utf8View {
                    let large = build(buffers, DataType::LargeUtf8)?;
                    let large = large
                        .as_any()
                        .downcast_ref::<LargeStringArray>()
                        .ok_or_else(|| CudaError::InvalidData("expected LargeUtf8".to_string()))?;
                    Ok(Arc::new(StringViewArray::from_iter(large.iter())))
                } else {
                    build(buffers, self.data_type.clone())
                }
            }
            ColumnBody::Dictionary { keys, values } => {
                let keys = keys.download(pool)?;
                let keys = keys
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .ok_or_else(|| {
                        CudaError::InvalidData("dictionary keys are not Int32".to_string())
                    })?
                    .clone();
                let values = values.download(pool)?;
                Ok(Arc::new(
                    DictionaryArray::<Int32Type>::try_new(keys, values).map_err(invalid)?,
                ))
            }
        }
    }

    /// The Arrow type.
    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Null rows.
    pub fn null_count(&self) -> usize {
        self.null_count
    }

    /// The validity bitmap (bit 0 is row 0), if any row is null.
    pub fn validity(&self) -> Option<&DeviceBuffer> {
        self.validity.as_ref()
    }

    /// The data buffers.
    pub fn body(&self) -> &ColumnBody {
        &self.body
    }

    /// Bytes this column holds in the pool.
    pub fn pool_bytes(&self) -> usize {
        let validity = self.validity.as_ref().map_or(0, DeviceBuffer::len);
        validity
            + match &self.body {
                ColumnBody::Fixed { values, .. } | ColumnBody::Boolean { values } => values.len(),
                ColumnBody::Strings { offsets, bytes, .. } => offsets.len() + bytes.len(),
                ColumnBody::Dictionary { keys, values } => keys.pool_bytes() + values.pool_bytes(),
            }
    }
}

/// The device body of a `Utf8` (`O = i32`) or `LargeUtf8` (`O = i64`) array: its offsets
/// rebased to 0 and only the bytes its rows cover.
fn string_body<O>(
    pool: &MemoryPool,
    data: &ArrayData,
    offset_width: OffsetWidth,
) -> Result<ColumnBody>
where
    O: ArrowNativeType + Into<i64> + TryFrom<i64>,
{
    let offsets: &[O] = data.buffers()[0].typed_data();
    let (offsets, bytes) = rebase_offsets(
        offsets,
        data.offset(),
        data.len(),
        data.buffers()[1].as_slice(),
    )?;
    Ok(ColumnBody::Strings {
        offsets: pool.upload(&offsets)?,
        offset_width,
        bytes: pool.upload(bytes)?,
    })
}

/// String offsets for rows `offset..offset + len`, rebased to start at 0, as little-endian
/// bytes, plus the string bytes they cover.
fn rebase_offsets<'a, O>(
    offsets: &[O],
    offset: usize,
    len: usize,
    bytes: &'a [u8],
) -> Result<(Vec<u8>, &'a [u8])>
where
    O: ArrowNativeType + Into<i64> + TryFrom<i64>,
{
    let invalid = |what: String| CudaError::InvalidData(what);
    if len == 0 {
        // An empty array may even have no offsets at all; on the device it has one, 0.
        return Ok((vec![0; std::mem::size_of::<O>()], &[]));
    }
    let window = offsets.get(offset..=offset + len).ok_or_else(|| {
        invalid(format!(
            "{} offsets cannot cover rows {offset}..{}",
            offsets.len(),
            offset + len
        ))
    })?;
    let first: i64 = window[0].into();
    let last: i64 = window[len].into();
    let covered = usize::try_from(first)
        .ok()
        .zip(usize::try_from(last).ok())
        .and_then(|(first, last)| bytes.get(first..last))
        .ok_or_else(|| {
            invalid(format!(
                "string offsets {first}..{last} exceed {} bytes",
                bytes.len()
            ))
        })?;
    let mut out = Vec::with_capacity(std::mem::size_of_val(window));
    for &o in window {
        let rebased = O::try_from(o.into() - first)
            .map_err(|_| invalid("string offsets are not monotonic".to_string()))?;
        out.extend_from_slice([rebased].to_byte_slice());
    }
    Ok((out, covered))
}

/// A [`RecordBatch`] on the device.
///
/// Columns are shared, as an Arrow `RecordBatch` shares its arrays: projecting a batch, or
/// passing a column through to another batch, clones a handle, not device memory. A column's
/// buffers return to the pool when the last batch holding it is dropped.
#[derive(Debug, Clone)]
pub struct DeviceBatch {
    /// The batch's schema.
    schema: SchemaRef,
    /// One device column per field.
    columns: Vec<Arc<DeviceColumn>>,
    /// Rows.
    num_rows: usize,
}

impl DeviceBatch {
    /// Copies `batch` into `pool`. Checks every column's type first, so an unsupported column
    /// fails before anything is copied; the error names the column and its type.
    pub fn upload(pool: &MemoryPool, batch: &RecordBatch) -> Result<Self> {
        for field in batch.schema_ref().fields() {
            check_supported(field.data_type()).map_err(|_| {
                CudaError::UnsupportedType(format!(
                    "{} (column '{}')",
                    field.data_type(),
                    field.name()
                ))
            })?;
        }
        let columns = batch
            .columns()
            .iter()
            .map(|column| DeviceColumn::upload(pool, column.as_ref()).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            schema: batch.schema(),
            columns,
            num_rows: batch.num_rows(),
        })
    }

    /// A batch of columns already on the device; each must match its field's type and have
    /// `num_rows` rows.
    pub fn try_new(schema: SchemaRef, columns: Vec<DeviceColumn>, num_rows: usize) -> Result<Self> {
        Self::try_from_shared(
            schema,
            columns.into_iter().map(Arc::new).collect(),
            num_rows,
        )
    }

    /// [`DeviceBatch::try_new`] over columns that other batches may hold too.
    pub fn try_from_shared(
        schema: SchemaRef,
        columns: Vec<Arc<DeviceColumn>>,
        num_rows: usize,
    ) -> Result<Self> {
        if schema.fields().len() != columns.len() {
            return Err(CudaError::InvalidData(format!(
                "{} columns for {} fields",
                columns.len(),
                schema.fields().len()
            )));
        }
        for (field, column) in schema.fields().iter().zip(&columns) {
            if field.data_type() != column.data_type() || column.len() != num_rows {
                return Err(CudaError::InvalidData(format!(
                    "column '{}' is {} with {} rows; expected {} with {num_rows}",
                    field.name(),
                    column.data_type(),
                    column.len(),
                    field.data_type()
                )));
            }
        }
        Ok(Self {
            schema,
            columns,
            num_rows,
        })
    }

    /// Copies the batch back to the host.
    pub fn download(&self, pool: &MemoryPool) -> Result<RecordBatch> {
        let columns = self
            .columns
            .iter()
            .map(|c| c.download(pool))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.num_rows));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .map_err(|e| CudaError::InvalidData(e.to_string()))
    }

    /// The schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The columns.
    pub fn columns(&self) -> &[Arc<DeviceColumn>] {
        &self.columns
    }

    /// The batch of columns `indices` (in that order; one may appear twice), sharing them
    /// with this batch: no device memory is copied.
    pub fn project(&self, indices: &[usize]) -> Result<Self> {
        let schema = self
            .schema
            .project(indices)
            .map_err(|e| CudaError::InvalidData(e.to_string()))?;
        let columns = indices
            .iter()
            .map(|&i| Arc::clone(&self.columns[i]))
            .collect();
        Ok(Self {
            schema: Arc::new(schema),
            columns,
            num_rows: self.num_rows,
        })
    }

    /// Rows.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// The columns, taken out of the batch (to assemble another batch from them).
    pub fn into_columns(self) -> Vec<Arc<DeviceColumn>> {
        self.columns
    }

    /// Bytes the batch's columns hold in the pool (a column shared with other batches counts
    /// in each).
    pub fn pool_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.pool_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{ListArray, StringArray};
    use arrow::datatypes::{Field, Int32Type, Schema};

    use super::*;
    use crate::memory::{Budget, PoolConfig};
    use crate::testdata::{random_array, random_batch, supported_types};

    fn pool() -> MemoryPool {
        MemoryPool::host(PoolConfig::default()).unwrap()
    }

    fn round_trip(pool: &MemoryPool, array: &ArrayRef) -> ArrayRef {
        let on_device = DeviceColumn::upload(pool, array.as_ref()).unwrap();
        assert_eq!(on_device.len(), array.len());
        assert_eq!(on_device.null_count(), array.logical_null_count());
        on_device.download(pool).unwrap()
    }

    /// Columns assembled from kernel output are checked against their type and row count,
    /// and download like uploaded ones.
    #[test]
    fn columns_from_parts_are_checked() {
        let pool = MemoryPool::host(PoolConfig::default()).unwrap();
        let values = |n: usize| pool.upload(&vec![7u8; n]).unwrap();
        let ok = DeviceColumn::from_parts(
            DataType::Int32,
            2,
            1,
            Some(pool.upload(&[0b01]).unwrap()),
            ColumnBody::Fixed {
                values: values(8),
                width: 4,
            },
        )
        .unwrap();
        let array = ok.download(&pool).unwrap();
        assert_eq!(array.null_count(), 1);
        assert!(array.is_valid(0) && array.is_null(1));
        let short = DeviceColumn::from_parts(
            DataType::Int64,
            2,
            0,
            None,
            ColumnBody::Fixed {
                values: values(8),
                width: 8,
            },
        );
        assert!(
            short
                .unwrap_err()
                .to_string()
                .contains("8 bytes of 8-byte values")
        );
        let nulls_without_bitmap = DeviceColumn::from_parts(
            DataType::Boolean,
            2,
            1,
            None,
            ColumnBody::Boolean { values: values(1) },
        );
        assert!(nulls_without_bitmap.is_err());
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)]));
        let err = DeviceBatch::try_new(Arc::clone(&schema), vec![ok], 3).unwrap_err();
        assert!(err.to_string().contains("expected Int32 with 3"), "{err}");
        assert!(DeviceBatch::try_new(schema, vec![], 0).is_err());

        // Empty columns of every layout download as empty arrays of their type.
        for data_type in [
            DataType::Int32,
            DataType::Decimal128(15, 2),
            DataType::Boolean,
            DataType::Utf8,
            DataType::LargeUtf8,
            DataType::Utf8View,
        ] {
            let empty = DeviceColumn::empty(&pool, data_type.clone()).unwrap();
            let array = empty.download(&pool).unwrap();
            assert_eq!((array.len(), array.data_type()), (0, &data_type));
        }
        assert!(DeviceColumn::empty(&pool, DataType::Null).is_err());
    }

    #[test]
    fn every_type_round_trips_with_nulls_slices_and_edges() {
        let pool = pool();
        for data_type in supported_types() {
            for (rows, offset, nulls) in [
                (0, 0, 0.1),
                (1, 0, 0.0),
                (1000, 0, 0.0),
                (1000, 13, 0.2),
                (777, 3, 1.0),
                (64, 64, 0.5),
            ] {
                let array =
                    random_array(&data_type, rows, offset, nulls, rows as u64 + offset as u64);
                let back = round_trip(&pool, &array);
                assert_eq!(back.data_type(), &data_type);
                assert_eq!(
                    &back, &array,
                    "{data_type}: rows {rows}, offset {offset}, nulls {nulls}"
                );
            }
        }
        assert_eq!(pool.stats().in_use, 0, "every buffer went back to the pool");
    }

    #[test]
    fn device_layout_is_normalised_to_offset_zero() {
        let pool = pool();
        let strings: ArrayRef = Arc::new(StringArray::from(vec![
            Some("ab"),
            None,
            Some("cde"),
            Some(""),
            Some("f"),
        ]));
        let sliced = strings.slice(2, 3);
        let column = DeviceColumn::upload(&pool, sliced.as_ref()).unwrap();
        let ColumnBody::Strings {
            offsets,
            bytes,
            offset_width,
        } = column.body()
        else {
            panic!("strings have a strings body");
        };
        assert_eq!(*offset_width, OffsetWidth::I32);
        let offsets: Vec<i32> = offsets
            .host_bytes()
            .unwrap()
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(offsets, [0, 3, 3, 4], "rebased to start at 0");
        assert_eq!(
            bytes.host_bytes().unwrap(),
            b"cdef",
            "only the bytes the slice covers"
        );
        assert!(
            column.validity().is_none(),
            "no nulls in the slice, so no bitmap"
        );

        let ints: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            None,
            Some(3),
            None,
            Some(5),
        ]));
        let column = DeviceColumn::upload(&pool, ints.slice(1, 4).as_ref()).unwrap();
        let bits = column.validity().unwrap().host_bytes().unwrap();
        assert_eq!(
            bits[0] & 0b1111,
            0b1010,
            "row 0 of the slice (a null) is bit 0"
        );
        let ColumnBody::Fixed { values, width } = column.body() else {
            panic!()
        };
        assert_eq!(*width, 4);
        assert_eq!(&values.host_bytes().unwrap()[4..8], &3i32.to_le_bytes());
        assert_eq!(&values.host_bytes().unwrap()[12..16], &5i32.to_le_bytes());
    }

    #[test]
    fn batches_round_trip_and_report_their_size() {
        let pool = pool();
        for (rows, offset) in [(0, 0), (1, 1), (2048, 5)] {
            let batch = random_batch(rows, offset, 0.15, 11);
            let on_device = DeviceBatch::upload(&pool, &batch).unwrap();
            assert_eq!(on_device.num_rows(), rows);
            assert_eq!(pool.stats().in_use, on_device.pool_bytes());
            assert_eq!(on_device.download(&pool).unwrap(), batch);
        }
        // A batch with columns but no rows, and one with rows but no columns.
        let empty_schema = Arc::new(Schema::empty());
        let options = RecordBatchOptions::new().with_row_count(Some(42));
        let no_columns = RecordBatch::try_new_with_options(empty_schema, vec![], &options).unwrap();
        let back = DeviceBatch::upload(&pool, &no_columns)
            .unwrap()
            .download(&pool)
            .unwrap();
        assert_eq!(back.num_rows(), 42);
    }

    #[test]
    fn unsupported_types_are_named() {
        let pool = pool();
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1)]),
        ]));
        let err = DeviceColumn::upload(&pool, list.as_ref()).unwrap_err();
        assert!(
            matches!(&err, CudaError::UnsupportedType(t) if t.starts_with("List(")),
            "{err}"
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("ok", DataType::Int32, false),
            Field::new("tags", list.data_type().clone(), true),
        ]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1])), list]).unwrap();
        let err = DeviceBatch::upload(&pool, &batch).unwrap_err();
        assert!(err.to_string().contains("column 'tags'"), "{err}");
        assert_eq!(pool.stats().in_use, 0, "nothing was copied");
        let dict = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        assert!(check_supported(&dict).is_err(), "only Int32 keys");
    }

    #[test]
    fn a_batch_larger_than_the_budget_fails_cleanly() {
        let pool = MemoryPool::host(PoolConfig {
            budget: Some(Budget::Bytes(4096)),
            ..PoolConfig::default()
        })
        .unwrap();
        let batch = random_batch(1000, 0, 0.1, 3);
        let err = DeviceBatch::upload(&pool, &batch).unwrap_err();
        assert!(matches!(err, CudaError::OutOfMemory { .. }), "{err}");
        assert_eq!(pool.stats().in_use, 0, "the partial upload was released");
        let small = random_batch(4, 0, 0.1, 3);
        assert_eq!(
            DeviceBatch::upload(&pool, &small)
                .unwrap()
                .download(&pool)
                .unwrap(),
            small
        );
    }

    /// A projection shares the columns (no pool memory is taken), may repeat one, downloads
    /// as Arrow's projection of the same batch, and the memory returns to the pool only when
    /// the last batch holding a column is dropped.
    #[test]
    fn projections_share_columns() {
        let pool = pool();
        let batch = random_batch(1000, 3, 0.2, 7);
        let on_device = DeviceBatch::upload(&pool, &batch).unwrap();
        let used = pool.stats().in_use;
        let last = batch.num_columns() - 1;
        let indices = [last, 0, last];
        let projected = on_device.project(&indices).unwrap();
        assert_eq!(pool.stats().in_use, used);
        assert_eq!(projected.num_rows(), 1000);
        assert_eq!(
            projected.download(&pool).unwrap(),
            batch.project(&indices).unwrap()
        );
        assert!(Arc::ptr_eq(
            &projected.columns()[0],
            &on_device.columns()[last]
        ));
        assert!(on_device.project(&[batch.num_columns()]).is_err());
        let empty = on_device.project(&[]).unwrap();
        assert_eq!((empty.num_rows(), empty.columns().len()), (1000, 0));

        drop(on_device);
        assert!(pool.stats().in_use > 0 && pool.stats().in_use < used);
        drop(projected);
        assert_eq!(pool.stats().in_use, 0);
    }
}
