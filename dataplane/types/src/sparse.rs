//! SparseFloatVector rows in their byte form, as they travel on the Milvus wire
//! (`SparseFloatArray.contents`, one bytes value per row, and the placeholder values of a
//! search) and rest in segments (one Arrow binary value per row): pairs of a little-endian
//! `u32` index and a little-endian `f32` value, 8 bytes per non-zero value, indices strictly
//! increasing. The checks are Milvus's (`ValidateSparseFloatRows`, and its refusal of
//! negative values), with its texts; an empty row is allowed, as in Milvus.

use crate::limits::MAX_SPARSE_NNZ;

/// Bytes of one (index, value) pair.
pub const PAIR_BYTES: usize = 8;

/// Checks one row: a whole number of pairs, at most [`MAX_SPARSE_NNZ`] of them, indices below
/// 2^32-1 and strictly increasing, values finite and not negative.
pub fn check_row(row: &[u8]) -> Result<(), String> {
    if !row.len().is_multiple_of(PAIR_BYTES) {
        return Err(format!(
            "invalid data length in sparse float vector: {}",
            row.len()
        ));
    }
    let nnz = row.len() / PAIR_BYTES;
    if nnz > MAX_SPARSE_NNZ {
        return Err(format!(
            "a sparse float vector row has {nnz} non-zero values, more than the maximum of \
             {MAX_SPARSE_NNZ}"
        ));
    }
    let mut last: Option<u32> = None;
    for (index, value) in pairs(row) {
        if index == u32::MAX {
            return Err("invalid index in sparse float vector: must be less than 2^32-1".into());
        }
        if last.is_some_and(|l| index <= l) {
            return Err("unsorted or same indices in sparse float vector".into());
        }
        if !value.is_finite() {
            return Err(format!(
                "the value at index {index} of a sparse float vector is NaN or infinite"
            ));
        }
        if value < 0.0 {
            return Err(format!(
                "Invalid sparse row: negative value {value} at index {index} (sparse float \
                 vectors hold values >= 0)"
            ));
        }
        last = Some(index);
    }
    Ok(())
}

/// The (index, value) pairs of a row (a trailing partial pair is ignored).
pub fn pairs(row: &[u8]) -> impl Iterator<Item = (u32, f32)> + '_ {
    row.chunks_exact(PAIR_BYTES).map(|c| {
        (
            u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        )
    })
}

/// The byte form of pairs (in the order given).
pub fn encode(pairs: &[(u32, f32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pairs.len() * PAIR_BYTES);
    for (i, v) in pairs {
        out.extend_from_slice(&i.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The dimension a row needs: its largest index plus one (0 for an empty row).
pub fn dim_of(row: &[u8]) -> u64 {
    pairs(row).last().map_or(0, |(i, _)| i as u64 + 1)
}

/// The inner product of two rows with increasing indices (a merge of both).
pub fn dot(a: &[u8], b: &[u8]) -> f32 {
    let (mut x, mut y) = (pairs(a).peekable(), pairs(b).peekable());
    let mut sum = 0.0f32;
    while let (Some(&(i, u)), Some(&(j, v))) = (x.peek(), y.peek()) {
        match i.cmp(&j) {
            std::cmp::Ordering::Less => {
                x.next();
            }
            std::cmp::Ordering::Greater => {
                y.next();
            }
            std::cmp::Ordering::Equal => {
                sum += u * v;
                x.next();
                y.next();
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_like_milvus() {
        assert!(check_row(&[]).is_ok());
        assert!(check_row(&encode(&[(0, 0.5), (7, 1.0), (u32::MAX - 1, 2.0)])).is_ok());
        let e = check_row(&[0; 7]).unwrap_err();
        assert!(e.contains("invalid data length"), "{e}");
        let e = check_row(&encode(&[(u32::MAX, 1.0)])).unwrap_err();
        assert!(e.contains("must be less than 2^32-1"), "{e}");
        for bad in [
            [(2, 0.4), (10, 0.5), (2, 0.6)],
            [(2, 0.4), (2, 0.5), (3, 0.6)],
        ] {
            let e = check_row(&encode(&bad)).unwrap_err();
            assert!(e.contains("unsorted or same indices"), "{e}");
        }
        assert!(check_row(&encode(&[(1, f32::NAN)]))
            .unwrap_err()
            .contains("NaN"));
        assert!(check_row(&encode(&[(1, f32::INFINITY)])).is_err());
        assert!(check_row(&encode(&[(1, -0.5)]))
            .unwrap_err()
            .contains("negative value"));
        let big: Vec<(u32, f32)> = (0..=MAX_SPARSE_NNZ as u32).map(|i| (i, 1.0)).collect();
        assert!(check_row(&encode(&big)).unwrap_err().contains("maximum"));
    }

    #[test]
    fn pairs_dim_and_dot() {
        let a = encode(&[(1, 2.0), (5, 3.0), (9, 1.0)]);
        let b = encode(&[(0, 7.0), (5, 2.0), (9, 4.0), (12, 1.0)]);
        assert_eq!(
            pairs(&a).collect::<Vec<_>>(),
            vec![(1, 2.0), (5, 3.0), (9, 1.0)]
        );
        assert_eq!(dim_of(&b), 13);
        assert_eq!(dim_of(&[]), 0);
        assert_eq!(dot(&a, &b), 10.0);
        assert_eq!(dot(&a, &[]), 0.0);
    }
}
