//! Spark's hash functions of a row's values, as its `InterpretedHashFunction` applies them to
//! each type: `Murmur3Hash` (`hash()`, and `HashPartitioning`, so the native shuffle sends rows
//! where Spark's own would) and `XxHash64` (`xxhash64()`, and the hash HyperLogLog++ takes of
//! each value, [`crate::hll`]). A family gives the hash of an int, a long and a byte array
//! ([`HashFamily`]); the rules for the other types are Spark's and the same for both: booleans,
//! bytes, shorts and dates as ints, timestamps as longs (microseconds), floats and doubles by
//! their bits with `-0.0` as `0.0` and every NaN as the canonical one, decimals as their
//! unscaled long up to 18 digits, else as the bytes of `BigInteger.toByteArray`, strings as
//! their UTF-8 bytes, binary values as their bytes.

use std::fmt;
use std::hash::Hash;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};

use crate::error::{NativeError, Result};

/// One of Spark's hash functions: the hashes of the three kinds of value it reads, each from
/// a seed (the hash so far); the other types go through them as Spark's rules say.
pub trait HashFamily: fmt::Debug + Send + Sync + 'static {
    /// The hash (and the seed).
    type Hash: Copy + fmt::Debug + fmt::Display + PartialEq + Eq + Hash + Send + Sync;

    /// Its Arrow type.
    type Arrow: ArrowPrimitiveType<Native = Self::Hash>;

    /// Its name (`murmur3_hash`, `xxhash64`).
    const NAME: &'static str;

    /// `hashInt`: ints, and the types Spark hashes as ints (boolean, byte, short, date, float).
    fn hash_int(value: i32, seed: Self::Hash) -> Self::Hash;

    /// `hashLong`: longs, and timestamps', doubles' and short decimals' values.
    fn hash_long(value: i64, seed: Self::Hash) -> Self::Hash;

    /// `hashUnsafeBytes`: strings' UTF-8 bytes and long decimals' bytes.
    fn hash_bytes(bytes: &[u8], seed: Self::Hash) -> Self::Hash;

    /// A float as Spark hashes it: `-0.0` as `0.0`, every NaN as the canonical NaN.
    fn hash_float(value: f32, seed: Self::Hash) -> Self::Hash {
        let bits = if value == 0.0 {
            0
        } else if value.is_nan() {
            0x7fc0_0000
        } else {
            value.to_bits() as i32
        };
        Self::hash_int(bits, seed)
    }

    /// A double as Spark hashes it: `-0.0` as `0.0`, every NaN as the canonical NaN.
    fn hash_double(value: f64, seed: Self::Hash) -> Self::Hash {
        let bits = if value == 0.0 {
            0
        } else if value.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            value.to_bits() as i64
        };
        Self::hash_long(bits, seed)
    }

    /// A decimal's unscaled value as Spark hashes it: as a long up to 18 digits of precision,
    /// else as the bytes of `BigInteger.toByteArray` (big-endian two's complement, shortest).
    fn hash_decimal(unscaled: i128, precision: u8, seed: Self::Hash) -> Self::Hash {
        if precision <= 18 {
            // (It fits: the precision bounds it.)
            Self::hash_long(unscaled as i64, seed)
        } else {
            let bytes = unscaled.to_be_bytes();
            let mut start = 0;
            while start < bytes.len() - 1 {
                let (first, next) = (bytes[start], bytes[start + 1]);
                let redundant =
                    (first == 0x00 && next & 0x80 == 0) || (first == 0xff && next & 0x80 != 0);
                if !redundant {
                    break;
                }
                start += 1;
            }
            Self::hash_bytes(&bytes[start..], seed)
        }
    }
}

/// Spark's `Murmur3_x86_32`, with Spark's own handling of a byte array's tail.
#[derive(Debug, Clone, Copy)]
pub struct Murmur3;

/// Spark's `Murmur3_x86_32` and the seed its `hash()` and `HashPartitioning` start from.
pub mod murmur3 {
    /// The seed of `HashPartitioning` (and of SQL's `hash()`).
    pub const SEED: i32 = 42;

    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;

    fn mix_k1(k1: u32) -> u32 {
        k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
    }

    fn mix_h1(h1: u32, k1: u32) -> u32 {
        (h1 ^ k1)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    }

    fn fmix(h1: u32, length: u32) -> u32 {
        let mut h = h1 ^ length;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }

    pub(super) fn hash_int(value: i32, seed: i32) -> i32 {
        fmix(mix_h1(seed as u32, mix_k1(value as u32)), 4) as i32
    }

    pub(super) fn hash_long(value: i64, seed: i32) -> i32 {
        let low = value as u32;
        let high = (value as u64 >> 32) as u32;
        let h1 = mix_h1(mix_h1(seed as u32, mix_k1(low)), mix_k1(high));
        fmix(h1, 8) as i32
    }

    /// Whole 4-byte little-endian words, then each remaining byte alone, sign-extended
    /// (Spark's tail, not the reference Murmur3's).
    pub(crate) fn hash_bytes(bytes: &[u8], seed: i32) -> i32 {
        let mut h1 = seed as u32;
        let mut words = bytes.chunks_exact(4);
        for word in &mut words {
            let k1 = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            h1 = mix_h1(h1, mix_k1(k1));
        }
        for &byte in words.remainder() {
            h1 = mix_h1(h1, mix_k1(i32::from(byte as i8) as u32));
        }
        fmix(h1, bytes.len() as u32) as i32
    }
}

impl HashFamily for Murmur3 {
    type Hash = i32;
    type Arrow = Int32Type;
    const NAME: &'static str = "murmur3_hash";

    fn hash_int(value: i32, seed: i32) -> i32 {
        murmur3::hash_int(value, seed)
    }

    fn hash_long(value: i64, seed: i32) -> i32 {
        murmur3::hash_long(value, seed)
    }

    fn hash_bytes(bytes: &[u8], seed: i32) -> i32 {
        murmur3::hash_bytes(bytes, seed)
    }
}

/// Spark's `XXH64` (the reference xxHash64 of the value's little-endian bytes).
#[derive(Debug, Clone, Copy)]
pub struct XxHash64;

/// Spark's `XXH64` and the seed its `xxhash64()` and HyperLogLog++ start from.
pub mod xxhash64 {
    /// The seed of SQL's `xxhash64()` and of HyperLogLog++'s hash of each value.
    pub const SEED: i64 = 42;

    const PRIME64_1: u64 = 0x9e37_79b1_85eb_ca87;
    const PRIME64_2: u64 = 0xc2b2_ae3d_27d4_eb4f;
    const PRIME64_3: u64 = 0x1656_67b1_9e37_79f9;
    const PRIME64_4: u64 = 0x85eb_ca77_c2b2_ae63;
    const PRIME64_5: u64 = 0x27d4_eb2f_1656_67c5;

    fn fmix(mut hash: u64) -> u64 {
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(PRIME64_2);
        hash ^= hash >> 29;
        hash = hash.wrapping_mul(PRIME64_3);
        hash ^ (hash >> 32)
    }

    /// One 4-byte lane of the tail.
    fn tail_int(hash: u64, value: u32) -> u64 {
        (hash ^ u64::from(value).wrapping_mul(PRIME64_1))
            .rotate_left(23)
            .wrapping_mul(PRIME64_2)
            .wrapping_add(PRIME64_3)
    }

    /// One 8-byte lane of the tail.
    fn tail_long(hash: u64, value: u64) -> u64 {
        (hash ^ round(0, value))
            .rotate_left(27)
            .wrapping_mul(PRIME64_1)
            .wrapping_add(PRIME64_4)
    }

    fn round(acc: u64, lane: u64) -> u64 {
        acc.wrapping_add(lane.wrapping_mul(PRIME64_2))
            .rotate_left(31)
            .wrapping_mul(PRIME64_1)
    }

    fn merge_round(hash: u64, acc: u64) -> u64 {
        (hash ^ round(0, acc))
            .wrapping_mul(PRIME64_1)
            .wrapping_add(PRIME64_4)
    }

    pub(super) fn hash_int(value: i32, seed: i64) -> i64 {
        let hash = (seed as u64).wrapping_add(PRIME64_5).wrapping_add(4);
        fmix(tail_int(hash, value as u32)) as i64
    }

    pub(super) fn hash_long(value: i64, seed: i64) -> i64 {
        let hash = (seed as u64).wrapping_add(PRIME64_5).wrapping_add(8);
        fmix(tail_long(hash, value as u64)) as i64
    }

    pub(super) fn hash_bytes(bytes: &[u8], seed: i64) -> i64 {
        let seed = seed as u64;
        let long = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        let mut rest = bytes;
        let mut hash = if bytes.len() >= 32 {
            let mut v1 = seed.wrapping_add(PRIME64_1).wrapping_add(PRIME64_2);
            let mut v2 = seed.wrapping_add(PRIME64_2);
            let mut v3 = seed;
            let mut v4 = seed.wrapping_sub(PRIME64_1);
            while rest.len() >= 32 {
                v1 = round(v1, long(&rest[0..]));
                v2 = round(v2, long(&rest[8..]));
                v3 = round(v3, long(&rest[16..]));
                v4 = round(v4, long(&rest[24..]));
                rest = &rest[32..];
            }
            let mut hash = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            for v in [v1, v2, v3, v4] {
                hash = merge_round(hash, v);
            }
            hash
        } else {
            seed.wrapping_add(PRIME64_5)
        };
        hash = hash.wrapping_add(bytes.len() as u64);
        while rest.len() >= 8 {
            hash = tail_long(hash, long(rest));
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            let int = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            hash = tail_int(hash, int);
            rest = &rest[4..];
        }
        for &byte in rest {
            hash = (hash ^ u64::from(byte).wrapping_mul(PRIME64_5))
                .rotate_left(11)
                .wrapping_mul(PRIME64_1);
        }
        fmix(hash) as i64
    }
}

impl HashFamily for XxHash64 {
    type Hash = i64;
    type Arrow = Int64Type;
    const NAME: &'static str = "xxhash64";

    fn hash_int(value: i32, seed: i64) -> i64 {
        xxhash64::hash_int(value, seed)
    }

    fn hash_long(value: i64, seed: i64) -> i64 {
        xxhash64::hash_long(value, seed)
    }

    fn hash_bytes(bytes: &[u8], seed: i64) -> i64 {
        xxhash64::hash_bytes(bytes, seed)
    }
}

/// Folds `array`'s values into `hashes` (one per row) with `F` as Spark's hash expressions
/// do: each row's running hash is the seed of its next value; a null leaves it as it is.
pub fn update_hashes<F: HashFamily>(array: &dyn Array, hashes: &mut [F::Hash]) -> Result<()> {
    if array.len() != hashes.len() {
        return Err(NativeError::Execution(format!(
            "a hash key has {} rows, the batch {}",
            array.len(),
            hashes.len()
        )));
    }
    fn each<T, H: Copy>(
        array: &dyn Array,
        hashes: &mut [H],
        value: impl Fn(usize) -> T,
        hash: impl Fn(T, H) -> H,
    ) {
        for (row, h) in hashes.iter_mut().enumerate() {
            if array.is_valid(row) {
                *h = hash(value(row), *h);
            }
        }
    }
    match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            each(array, hashes, |i| i32::from(a.value(i)), F::hash_int);
        }
        DataType::Int8 => {
            let a = array.as_primitive::<Int8Type>();
            each(array, hashes, |i| i32::from(a.value(i)), F::hash_int);
        }
        DataType::Int16 => {
            let a = array.as_primitive::<Int16Type>();
            each(array, hashes, |i| i32::from(a.value(i)), F::hash_int);
        }
        DataType::Int32 => {
            let a = array.as_primitive::<Int32Type>();
            each(array, hashes, |i| a.value(i), F::hash_int);
        }
        DataType::Date32 => {
            let a = array.as_primitive::<Date32Type>();
            each(array, hashes, |i| a.value(i), F::hash_int);
        }
        DataType::Int64 => {
            let a = array.as_primitive::<Int64Type>();
            each(array, hashes, |i| a.value(i), F::hash_long);
        }
        // Microseconds, as Spark hashes its timestamps.
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let a = array.as_primitive::<TimestampMicrosecondType>();
            each(array, hashes, |i| a.value(i), F::hash_long);
        }
        DataType::Float32 => {
            let a = array.as_primitive::<Float32Type>();
            each(array, hashes, |i| a.value(i), F::hash_float);
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            each(array, hashes, |i| a.value(i), F::hash_double);
        }
        DataType::Decimal128(precision, _) => {
            let a = array.as_primitive::<Decimal128Type>();
            let p = *precision;
            each(
                array,
                hashes,
                |i| a.value(i),
                |v, seed| F::hash_decimal(v, p, seed),
            );
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            each(array, hashes, |i| a.value(i).as_bytes(), F::hash_bytes);
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            each(array, hashes, |i| a.value(i), F::hash_bytes);
        }
        other => {
            return Err(NativeError::Execution(format!(
                "cannot hash a {other} column as Spark does"
            )));
        }
    }
    Ok(())
}

/// [`update_hashes`] with Spark's Murmur3 (`hash()`, `HashPartitioning`).
pub fn update_spark_hashes(array: &dyn Array, hashes: &mut [i32]) -> Result<()> {
    update_hashes::<Murmur3>(array, hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
        Int8Array, Int16Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use std::sync::Arc;
    use xxhash64::SEED;

    /// `SELECT xxhash64(...)` on Spark 4.0.1.
    #[test]
    fn xxhash64_equals_sparks() {
        type X = XxHash64;
        assert_eq!(X::hash_int(0, SEED), 3614696996920510707);
        assert_eq!(X::hash_int(1, SEED), -6698625589789238999);
        assert_eq!(X::hash_int(-1, SEED), 2017008487422258757);
        assert_eq!(X::hash_int(i32::MAX, SEED), 1508894993788531228);
        assert_eq!(X::hash_long(1, SEED), -7001672635703045582);
        assert_eq!(X::hash_long(-1, SEED), 3858142552250413010);
        assert_eq!(X::hash_long(i64::MAX, SEED), -3246596055638297850);
        for (s, expected) in [
            ("", -7444071767201028348),
            ("a", -8582455328737087284),
            ("abc", 1423657621850124518),
            ("abcd", -6810745876291105281),
            ("abcdefgh", 2470326616177429180),
            ("abcdefghijk", -6876501346027965189),
            ("héllo wörld", 7620070002295215535),
            // 35 bytes: one stripe of 32, then three; 65: two stripes and one.
            ("0123456789abcdef0123456789abcdefXYZ", 428967947521301937),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef!",
                9015297462648063,
            ),
        ] {
            assert_eq!(X::hash_bytes(s.as_bytes(), SEED), expected, "{s:?}");
        }
        assert_eq!(X::hash_double(1.5, SEED), 7738255526519901366);
        assert_eq!(X::hash_double(0.0, SEED), -5252525462095825812);
        assert_eq!(X::hash_double(-0.0, SEED), -5252525462095825812);
        assert_eq!(X::hash_double(f64::NAN, SEED), -3127944061524951246);
        assert_eq!(X::hash_double(-f64::NAN, SEED), -3127944061524951246);
        assert_eq!(X::hash_float(1.5, SEED), 6163473420726370430);
        assert_eq!(X::hash_float(-0.0, SEED), 3614696996920510707);
        assert_eq!(X::hash_decimal(1234, 15, SEED), -3802813071951760351);
        assert_eq!(X::hash_decimal(-1234, 15, SEED), -1614697014534150208);
        assert_eq!(X::hash_decimal(-128, 20, SEED), -7898411661632158123);
        // 1234 as decimal(38, 10): unscaled 12340000000000.
        assert_eq!(
            X::hash_decimal(12_340_000_000_000, 38, SEED),
            4140527729258582383
        );
    }

    /// Columns fold as Spark's `xxhash64(...)`: `xxhash64(1, 'a')`, `xxhash64(null, 1L)`, and
    /// each type's column as its scalar.
    #[test]
    fn xxhash64_columns_fold_as_sparks() {
        let mut h = vec![SEED; 1];
        update_hashes::<XxHash64>(&Int32Array::from(vec![1]), &mut h).unwrap();
        update_hashes::<XxHash64>(&StringArray::from(vec!["a"]), &mut h).unwrap();
        assert_eq!(h, [8205864924878002737]);
        let mut h = vec![SEED; 1];
        update_hashes::<XxHash64>(&Int32Array::from(vec![None]), &mut h).unwrap();
        assert_eq!(h, [42]);
        // Binary values hash as their bytes, as strings do (xxhash64(X'616263') = xxhash64('abc')).
        let mut hb = vec![SEED; 2];
        let binary = datafusion::arrow::array::BinaryArray::from(vec![Some(&b"abc"[..]), None]);
        update_hashes::<XxHash64>(&binary, &mut hb).unwrap();
        assert_eq!(hb, [1423657621850124518, SEED]);
        update_hashes::<XxHash64>(&Int64Array::from(vec![1]), &mut h).unwrap();
        assert_eq!(h, [-7001672635703045582]);
        for (array, expected) in [
            (
                Arc::new(BooleanArray::from(vec![true])) as ArrayRef,
                -6698625589789238999,
            ),
            (
                Arc::new(BooleanArray::from(vec![false])),
                3614696996920510707,
            ),
            (Arc::new(Int8Array::from(vec![-5])), 9201179564109417620),
            (Arc::new(Int16Array::from(vec![-300])), 2895908635257747121),
            // DATE'2020-01-01' is day 18262.
            (
                Arc::new(Date32Array::from(vec![18262])),
                2299834470729022467,
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(vec![1]).with_timezone("UTC")),
                -7001672635703045582,
            ),
            (Arc::new(Float32Array::from(vec![1.5])), 6163473420726370430),
            (
                Arc::new(Float64Array::from(vec![-0.0])),
                -5252525462095825812,
            ),
            (
                Arc::new(
                    Decimal128Array::from(vec![-1234])
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
                -1614697014534150208,
            ),
        ] {
            let mut h = vec![SEED; 1];
            update_hashes::<XxHash64>(array.as_ref(), &mut h).unwrap();
            assert_eq!(h, [expected], "{}", array.data_type());
        }
    }
}
