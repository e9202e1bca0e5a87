//! Seeded random Arrow data for kernel checks, tests and benchmarks: nulls, duplicates, edge
//! values and non-zero array offsets, never all zeros.

use arrow::array::{Array, Int64Array};
use arrow::buffer::NullBuffer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Values that break naive kernels: extremes, zero, minus one.
pub const I64_EDGES: [i64; 6] = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX];

/// A random `Int64Array` of `rows` rows that is a slice at offset `offset` of a larger array
/// (so value and validity offsets are exercised). Roughly: `null_fraction` nulls (no validity
/// bitmap at all when it is 0), 5% edge values, 30% duplicates from a small range, the rest
/// uniformly random.
pub fn random_i64(rows: usize, offset: usize, null_fraction: f64, seed: u64) -> Int64Array {
    let mut rng = StdRng::seed_from_u64(seed);
    let total = rows + offset;
    let values: Vec<i64> = (0..total)
        .map(|_| {
            let pick: f64 = rng.random();
            if pick < 0.05 {
                I64_EDGES[rng.random_range(0..I64_EDGES.len())]
            } else if pick < 0.35 {
                rng.random_range(-8..8)
            } else {
                rng.random()
            }
        })
        .collect();
    let nulls = (null_fraction > 0.0)
        .then(|| NullBuffer::from_iter((0..total).map(|_| rng.random::<f64>() >= null_fraction)));
    Int64Array::new(values.into(), nulls).slice(offset, rows)
}

/// The validity bitmap of `array` as `(bytes, bit offset of row 0)`, or `None` without nulls.
pub fn validity_bits(array: &dyn Array) -> Option<(&[u8], usize)> {
    array
        .nulls()
        .map(|nulls| (nulls.inner().values(), nulls.offset()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_data_has_what_it_promises() {
        let a = random_i64(10_000, 3, 0.1, 7);
        assert_eq!(a.len(), 10_000);
        let nulls = a.null_count();
        assert!((700..1300).contains(&nulls), "{nulls} nulls");
        assert!(a.iter().flatten().any(|v| v == i64::MIN));
        assert!(a.iter().flatten().any(|v| v == i64::MAX));
        let small = a.iter().flatten().filter(|v| (-8..8).contains(v)).count();
        assert!(small > 2000, "duplicates from a small range: {small}");
        assert_eq!(random_i64(100, 0, 0.0, 1).nulls(), None);
        assert_eq!(
            random_i64(50, 1, 0.5, 9),
            random_i64(50, 1, 0.5, 9),
            "seeded"
        );
        let (bits, offset) = validity_bits(&a).unwrap();
        assert_eq!(offset, 3);
        assert!(bits.len() * 8 >= 10_003);
    }
}
