//! Distance kernels over `f32` slices. Neither usearch's Rust binding nor the rest of the
//! dependency tree exposes its SIMD distance functions, so these accumulate in eight
//! independent lanes, a shape LLVM turns into vector instructions (the crate is built with
//! optimisations even in debug builds, see the workspace's `Cargo.toml`). FLAT, growing data
//! and the IVF indexes all score through here, so exact searches agree to the bit.

const LANES: usize = 8;

#[inline]
fn lanes(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += f(x[i], y[i]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += f(*x, *y);
    }
    let s01 = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    let s23 = (acc[4] + acc[5]) + (acc[6] + acc[7]);
    s01 + s23 + tail
}

/// Squared Euclidean distance.
#[inline]
pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| (x - y) * (x - y))
}

/// Inner product.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| x * y)
}

/// Cosine similarity; 0 when either vector is zero.
#[inline]
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    cosine_of(dot(a, b), dot(a, a), dot(b, b))
}

/// Cosine similarity from the dot product and the two squared norms.
#[inline]
pub(crate) fn cosine_of(d: f32, na: f32, nb: f32) -> f32 {
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        d / (na.sqrt() * nb.sqrt())
    }
}

/// `(dot(a, b), dot(b, b))` in one pass over both, each bit for bit what [`dot`] computes
/// (same lanes, same order of sums): a scan scores a query's cosine against many rows with
/// the query's norm computed once.
#[inline]
pub(crate) fn dot_and_norm(a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (mut ab, mut bb) = ([0f32; LANES], [0f32; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            ab[i] += x[i] * y[i];
            bb[i] += y[i] * y[i];
        }
    }
    let (mut tab, mut tbb) = (0f32, 0f32);
    for (x, y) in ra.iter().zip(rb) {
        tab += *x * *y;
        tbb += *y * *y;
    }
    let sum = |acc: [f32; LANES], tail: f32| {
        let s01 = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        let s23 = (acc[4] + acc[5]) + (acc[6] + acc[7]);
        s01 + s23 + tail
    };
    (sum(ab, tab), sum(bb, tbb))
}

/// `v` scaled to unit length (unchanged when zero).
/// Jaccard distance of two 0/1 vectors: 1 - |a and b| / |a or b| (0 when both are empty).
pub(crate) fn jaccard(a: &[f32], b: &[f32]) -> f32 {
    let both = dot(a, b);
    let sum: f32 = a.iter().sum::<f32>() + b.iter().sum::<f32>();
    let union = sum - both;
    if union <= 0.0 {
        0.0
    } else {
        1.0 - both / union
    }
}

/// Hamming distance of two packed bit strings of equal length.
pub(crate) fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Jaccard distance of two packed bit strings of equal length (0 when both are empty).
pub(crate) fn jaccard_bytes(a: &[u8], b: &[u8]) -> f32 {
    let (mut both, mut either) = (0u32, 0u32);
    for (x, y) in a.iter().zip(b) {
        both += (x & y).count_ones();
        either += (x | y).count_ones();
    }
    if either == 0 {
        0.0
    } else {
        1.0 - both as f32 / either as f32
    }
}

pub(crate) fn normalized(v: &[f32]) -> Vec<f32> {
    let n = dot(v, v).sqrt();
    if n == 0.0 {
        v.to_vec()
    } else {
        v.iter().map(|x| x / n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_plain_loops() {
        for n in [0usize, 1, 7, 8, 9, 33, 128] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            let ip: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((l2sq(&a, &b) - l2).abs() < 1e-4);
            assert!((dot(&a, &b) - ip).abs() < 1e-4);
        }
        for n in [0usize, 3, 8, 50, 129] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.91).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.23).cos() - 0.3).collect();
            let (d, nb) = dot_and_norm(&a, &b);
            assert_eq!(d.to_bits(), dot(&a, &b).to_bits(), "dot, n={n}");
            assert_eq!(nb.to_bits(), dot(&b, &b).to_bits(), "norm, n={n}");
        }
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[3.0, 4.0], &[1.0, 0.0]) - 0.6).abs() < 1e-6);
        assert!((dot(&normalized(&[3.0, 4.0]), &[1.0, 0.0]) - 0.6).abs() < 1e-6);
    }
}
