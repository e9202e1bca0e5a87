//! Row hashing (`kernels/cuda/hash/hash_columns.cu`): launcher, host reference and GPU
//! self-check.
//!
//! The hash is Cinder's one row hash, shared by hash join and hash aggregation: a 64-bit value
//! xor a mixed seed, through MurmurHash3's `fmix64` finaliser; a null row hashes to a fixed
//! value per seed; multi-column keys fold each column in with [`hash_combine`]. The functions
//! below are bit-for-bit the device functions in `cuda/include/cinder/hash.cuh`.

use arrow::array::Int64Array;
use cinder_cuda::Device;
use cinder_cuda::driver::{CUevent_flags, CudaSlice, DevicePtr, PushKernelArg};

use crate::abi::ColumnView;
use crate::embedded::DeviceKernels;
use crate::launch::{LaunchTime, Timing};
use crate::selfcheck::{CheckEnv, CheckOutcome, compare};
use crate::{Result, launch, testdata};

/// The module holding the hash kernels.
pub const MODULE: &str = "hash/hash_columns";
/// Hashes a 64-bit column.
pub const HASH_I64: &str = "cinder_hash_i64";

const GOLDEN_RATIO_64: u64 = 0x9E37_79B9_7F4A_7C15;
const NULL_TAG: u64 = 0xA5A5_A5A5_A5A5_A5A5;

/// MurmurHash3's 64-bit finaliser.
pub const fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    k ^= k >> 33;
    k = k.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    k ^= k >> 33;
    k
}

/// Spreads a caller's seed (often 0, 1, 2, ...) over all 64 bits.
pub const fn mix_seed(seed: u64) -> u64 {
    fmix64(seed.wrapping_add(GOLDEN_RATIO_64))
}

/// Hash of a valid 64-bit value under a mixed seed.
pub const fn hash_u64(value: u64, mixed_seed: u64) -> u64 {
    fmix64(value ^ mixed_seed)
}

/// Hash of a null under a mixed seed.
pub const fn hash_null(mixed_seed: u64) -> u64 {
    fmix64(mixed_seed ^ NULL_TAG)
}

/// Folds the hash of one more key column into an accumulated row hash.
pub const fn hash_combine(acc: u64, h: u64) -> u64 {
    acc ^ h
        .wrapping_add(GOLDEN_RATIO_64)
        .wrapping_add(acc << 6)
        .wrapping_add(acc >> 2)
}

/// Whether a launch overwrites the output or folds into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMode {
    /// `out[i] = h(row i)`: the first key column.
    Replace,
    /// `out[i] = hash_combine(out[i], h(row i))`: each further key column.
    Combine,
}

/// Host reference of [`HASH_I64`]: hashes `array` into `out` (same length).
pub fn hash_i64_host(array: &Int64Array, seed: u64, mode: HashMode, out: &mut [u64]) -> Result<()> {
    if out.len() != array.len() {
        return Err(invalid(format!(
            "output has {} slots for {} rows",
            out.len(),
            array.len()
        )));
    }
    let mixed = mix_seed(seed);
    let null_hash = hash_null(mixed);
    for (slot, value) in out.iter_mut().zip(array.iter()) {
        let h = value.map_or(null_hash, |v| hash_u64(v as u64, mixed));
        *slot = match mode {
            HashMode::Replace => h,
            HashMode::Combine => hash_combine(*slot, h),
        };
    }
    Ok(())
}

/// An Int64 column already on the device: values from row 0, optional validity bitmap with the
/// bit offset of row 0.
#[derive(Debug, Clone, Copy)]
pub struct DeviceI64<'a> {
    /// `len` values starting at row 0.
    pub values: &'a CudaSlice<i64>,
    /// Arrow validity bitmap and the bit index of row 0 in it; `None` when there are no nulls.
    pub validity: Option<(&'a CudaSlice<u8>, usize)>,
    /// Number of rows.
    pub len: usize,
}

/// Launches [`HASH_I64`] on the device's stream: `out[..column.len]` receives the row hashes
/// (or has them folded in, for [`HashMode::Combine`]). Does not wait for the kernel. With
/// [`Timing::Timed`] it returns the launch's device time (`None` for an empty column).
pub fn hash_i64_device(
    device: &Device,
    kernels: &DeviceKernels,
    column: DeviceI64<'_>,
    seed: u64,
    mode: HashMode,
    out: &mut CudaSlice<u64>,
    timing: Timing,
) -> Result<Option<LaunchTime>> {
    let len = column.len;
    if column.values.len() < len || out.len() < len {
        return Err(invalid(format!(
            "{len} rows but {} values and {} output slots",
            column.values.len(),
            out.len()
        )));
    }
    if let Some((bits, offset)) = column.validity
        && bits.len() * 8 < offset + len
    {
        return Err(invalid(format!(
            "validity bitmap of {} bytes cannot hold bits {offset}..{}",
            bits.len(),
            offset + len
        )));
    }
    if len == 0 {
        return Ok(None);
    }
    let stream = device.stream();
    let function = kernels.function(MODULE, HASH_I64)?;
    let (data, _data_guard) = column.values.device_ptr(stream);
    let (validity, validity_offset, _validity_guard) = match column.validity {
        Some((bits, offset)) => {
            let (ptr, guard) = bits.device_ptr(stream);
            (ptr, offset, Some(guard))
        }
        None => (0, 0, None),
    };
    let view = ColumnView {
        data,
        validity,
        validity_offset: validity_offset as i64,
        len: len as i64,
        ..ColumnView::default()
    };
    let combine: i32 = (mode == HashMode::Combine).into();
    let config = launch::grid_stride_1d(device, len);
    let mut builder = stream.launch_builder(&function);
    builder.arg(&view).arg(&seed).arg(out).arg(&combine);
    if timing == Timing::Timed {
        builder.record_kernel_launch(CUevent_flags::CU_EVENT_DEFAULT);
    }
    // SAFETY: the kernel's signature is (ColumnView, uint64_t, uint64_t*, int32_t), matching
    // the four arguments pushed above. `view` points into `column.values` (>= len values) and
    // `column.validity` (>= offset + len bits), both checked above and kept alive (and their
    // stream ordering recorded) by the guards until after the launch; `out` holds >= len slots.
    let events = unsafe { builder.launch(config) }
        .map_err(|e| cinder_cuda::CudaError::driver(format!("launching {HASH_I64}"), e))?;
    Ok(events.map(|(start, end)| LaunchTime { start, end }))
}

/// `cinder gpu-check` for [`HASH_I64`]: hashes a sliced random column with nulls, then folds a
/// second column in, on the device and on the host, and compares every row.
pub(crate) fn check_hash_i64(env: &CheckEnv<'_>, rows: usize, seed: u64) -> Result<CheckOutcome> {
    let first = testdata::random_i64(rows, 3, 0.1, seed);
    let second = testdata::random_i64(rows, 0, 0.3, seed ^ 0x5EED);
    let key_seed = seed.rotate_left(17);

    let mut expected = vec![0u64; rows];
    hash_i64_host(&first, key_seed, HashMode::Replace, &mut expected)?;
    let after_first = expected.clone();
    hash_i64_host(&second, key_seed, HashMode::Combine, &mut expected)?;

    let device = env.device;
    let stream = device.stream();
    let first_on_device = UploadedI64::new(device, &first)?;
    let second_on_device = UploadedI64::new(device, &second)?;
    let mut out = stream
        .alloc_zeros::<u64>(rows.max(1))
        .map_err(|e| cinder_cuda::CudaError::driver("allocating hash output", e))?;

    // A warm-up launch (the first launch of a kernel may load it lazily), then the timed one.
    let mut device_ms = 0.0;
    for timing in [Timing::Untimed, Timing::Timed] {
        let time = hash_i64_device(
            device,
            env.kernels,
            first_on_device.column(),
            key_seed,
            HashMode::Replace,
            &mut out,
            timing,
        )?;
        if let Some(time) = time {
            device_ms = time.elapsed_ms()?;
        }
    }
    let got_first = download(device, &out, rows)?;
    hash_i64_device(
        device,
        env.kernels,
        second_on_device.column(),
        key_seed,
        HashMode::Combine,
        &mut out,
        Timing::Untimed,
    )?;
    let got = download(device, &out, rows)?;

    let mut outcome = compare("replace", &after_first, &got_first);
    outcome.merge(compare("combine", &expected, &got));
    outcome.rows = rows;
    outcome.device_ms = device_ms;
    // Per row: read an 8-byte key and a validity bit, write an 8-byte hash.
    outcome.bytes = rows * (8 + 8) + rows.div_ceil(8);
    Ok(outcome)
}

/// An Int64 array copied to the device for the self-check (the memory pool and device
/// columns of `cinder-cuda` will take this over).
struct UploadedI64 {
    values: CudaSlice<i64>,
    validity: Option<(CudaSlice<u8>, usize)>,
    len: usize,
}

impl UploadedI64 {
    fn new(device: &Device, array: &Int64Array) -> Result<Self> {
        let stream = device.stream();
        let copy_error = |e| cinder_cuda::CudaError::driver("copying a column to the device", e);
        let values = stream
            .clone_htod(&pad(array.values()))
            .map_err(copy_error)?;
        let validity = match testdata::validity_bits(array) {
            Some((bits, offset)) => {
                Some((stream.clone_htod(&pad(bits)).map_err(copy_error)?, offset))
            }
            None => None,
        };
        Ok(Self {
            values,
            validity,
            len: array.len(),
        })
    }

    fn column(&self) -> DeviceI64<'_> {
        DeviceI64 {
            values: &self.values,
            validity: self.validity.as_ref().map(|(bits, offset)| (bits, *offset)),
            len: self.len,
        }
    }
}

/// A copy with at least one element: the driver cannot allocate zero bytes.
fn pad<T: Copy + Default>(values: &[T]) -> Vec<T> {
    if values.is_empty() {
        vec![T::default()]
    } else {
        values.to_vec()
    }
}

fn download(device: &Device, out: &CudaSlice<u64>, rows: usize) -> Result<Vec<u64>> {
    let mut all = device
        .stream()
        .clone_dtoh(out)
        .map_err(|e| cinder_cuda::CudaError::driver("copying hashes to the host", e))?;
    device.synchronize()?;
    all.truncate(rows);
    Ok(all)
}

fn invalid(reason: String) -> crate::KernelError {
    crate::KernelError::InvalidArgument {
        kernel: HASH_I64,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use arrow::buffer::NullBuffer;

    use super::*;

    #[test]
    fn fmix64_known_answers() {
        // Reference values computed independently (Python, MurmurHash3's fmix64).
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xB456_BCFC_34C2_CB2C);
        assert_eq!(fmix64(0xFFFF_FFFF_FFFF_FFFF), 0x64B5_720B_4B82_5F21);
        assert_eq!(fmix64(GOLDEN_RATIO_64), 0x9CA0_66F1_A4AB_2EEA);
    }

    #[test]
    fn nulls_hash_to_one_value_whatever_sits_under_them() {
        let values = Int64Array::new(
            vec![5, 6, 7, 5].into(),
            Some(NullBuffer::from(vec![true, false, false, true])),
        );
        let mut out = vec![0; 4];
        hash_i64_host(&values, 42, HashMode::Replace, &mut out).unwrap();
        assert_eq!(out[1], out[2], "two nulls with different payloads");
        assert_eq!(out[0], out[3], "equal values");
        assert_ne!(out[0], out[1]);
        assert_eq!(out[1], hash_null(mix_seed(42)));
        assert_eq!(out[0], hash_u64(5, mix_seed(42)));
    }

    #[test]
    fn a_slice_hashes_like_the_rows_it_shows() {
        let whole = testdata::random_i64(1000, 0, 0.2, 3);
        let sliced = whole.slice(37, 500);
        let mut whole_out = vec![0; 1000];
        let mut sliced_out = vec![0; 500];
        hash_i64_host(&whole, 9, HashMode::Replace, &mut whole_out).unwrap();
        hash_i64_host(&sliced, 9, HashMode::Replace, &mut sliced_out).unwrap();
        assert_eq!(&whole_out[37..537], &sliced_out[..]);
    }

    #[test]
    fn combine_folds_columns_in_order() {
        let a = Int64Array::from(vec![Some(1), None, Some(3)]);
        let b = Int64Array::from(vec![Some(10), Some(20), None]);
        let mut out = vec![0; 3];
        hash_i64_host(&a, 0, HashMode::Replace, &mut out).unwrap();
        hash_i64_host(&b, 0, HashMode::Combine, &mut out).unwrap();
        let m = mix_seed(0);
        assert_eq!(out[0], hash_combine(hash_u64(1, m), hash_u64(10, m)));
        assert_eq!(out[1], hash_combine(hash_null(m), hash_u64(20, m)));
        assert_eq!(out[2], hash_combine(hash_u64(3, m), hash_null(m)));
        // (a, b) and (b, a) are different keys.
        let mut swapped = vec![0; 3];
        hash_i64_host(&b, 0, HashMode::Replace, &mut swapped).unwrap();
        hash_i64_host(&a, 0, HashMode::Combine, &mut swapped).unwrap();
        assert_ne!(out, swapped);
    }

    #[test]
    fn seeds_change_every_hash() {
        let a = testdata::random_i64(1000, 0, 0.1, 5);
        let (mut s0, mut s1) = (vec![0; 1000], vec![0; 1000]);
        hash_i64_host(&a, 0, HashMode::Replace, &mut s0).unwrap();
        hash_i64_host(&a, 1, HashMode::Replace, &mut s1).unwrap();
        assert!(s0.iter().zip(&s1).all(|(x, y)| x != y));
    }

    #[test]
    fn dense_keys_spread_evenly_over_buckets() {
        // TPC-H keys are dense integers: the low bits, which pick a bucket, must still spread.
        let keys = Int64Array::from_iter_values(0..1 << 16);
        let mut out = vec![0; keys.len()];
        hash_i64_host(&keys, 0, HashMode::Replace, &mut out).unwrap();
        assert_eq!(
            out.iter().collect::<HashSet<_>>().len(),
            keys.len(),
            "no collisions"
        );
        let mut buckets = [0u32; 256];
        for h in &out {
            buckets[(h & 255) as usize] += 1;
        }
        // 256 keys expected per bucket; a fair hash stays well inside +-25%.
        assert!(
            buckets.iter().all(|&b| (192..=320).contains(&b)),
            "{buckets:?}"
        );
    }

    #[test]
    fn empty_input_and_length_mismatch() {
        let empty = Int64Array::from(Vec::<i64>::new());
        hash_i64_host(&empty, 0, HashMode::Replace, &mut []).unwrap();
        let one = Int64Array::from(vec![1]);
        let err = hash_i64_host(&one, 0, HashMode::Replace, &mut [0, 0]).unwrap_err();
        assert!(err.to_string().contains("2 slots for 1 rows"), "{err}");
    }
}
