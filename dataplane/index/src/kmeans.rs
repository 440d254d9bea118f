//! k-means for the IVF coarse quantiser and the PQ codebooks: a bounded random training
//! sample, k-means++ seeding (random distinct rows when that would cost too much), a few Lloyd
//! iterations under squared L2. Deterministic: the seed is fixed, so one segment always trains
//! the same centroids.

use crate::kernels::l2sq;

/// Training rows at most (a random sample of the segment beyond that).
pub(crate) const MAX_TRAIN_ROWS: usize = 65_536;
/// Training rows wanted per centroid (fewer when the segment or [`MAX_TRAIN_ROWS`] caps it).
const ROWS_PER_CENTROID: usize = 64;
/// Lloyd iterations.
const ITERATIONS: usize = 10;
/// Lloyd iterations stop early beyond this many vector-component operations (a segment with a
/// huge `nlist` or `nbits` trains fewer rounds rather than for minutes).
const WORK_BUDGET: usize = 1 << 33;
/// k-means++ seeding costs `k * sample` distance computations; beyond this, random rows.
const MAX_PLUSPLUS_WORK: usize = 1 << 24;

/// A small deterministic generator (splitmix64).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The nearest of `centroids` (row-major, `dim` per row) to `v` and its squared distance.
pub(crate) fn nearest(centroids: &[f32], dim: usize, v: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (c, cv) in centroids.chunks_exact(dim).enumerate() {
        let d = l2sq(v, cv);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// Picks up to `max` distinct rows of `n` at random (all of them, in order, when `n <= max`).
fn sample_rows(n: usize, max: usize, rng: &mut Rng) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    // partial Fisher-Yates over the row numbers
    let mut rows: Vec<usize> = (0..n).collect();
    for i in 0..max {
        let j = i + rng.below(n - i);
        rows.swap(i, j);
    }
    rows.truncate(max);
    rows.sort_unstable();
    rows
}

/// Trains `k` centroids over the rows of `data` (row-major, `dim` per row). `k` is clamped to
/// the number of rows; returns the centroids, row-major.
pub(crate) fn train(data: &[f32], dim: usize, k: usize, seed: u64) -> Vec<f32> {
    let n = data.len().checked_div(dim).unwrap_or(0);
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new(seed);
    let rows = sample_rows(
        n,
        k.saturating_mul(ROWS_PER_CENTROID)
            .clamp(k, MAX_TRAIN_ROWS.max(k)),
        &mut rng,
    );
    let sample: Vec<f32> = rows
        .iter()
        .flat_map(|&r| data[r * dim..(r + 1) * dim].iter().copied())
        .collect();
    let s = rows.len();
    let row = |i: usize| &sample[i * dim..(i + 1) * dim];
    let mut centroids = if k.saturating_mul(s) <= MAX_PLUSPLUS_WORK {
        plus_plus(&sample, dim, k, &mut rng)
    } else {
        sample_rows(s, k, &mut rng)
            .into_iter()
            .flat_map(|i| row(i).iter().copied())
            .collect()
    };
    let mut assign = vec![0usize; s];
    let per_round = s.saturating_mul(k).saturating_mul(dim).max(1);
    for _ in 0..(WORK_BUDGET / per_round).clamp(1, ITERATIONS) {
        let mut moved = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let (c, _) = nearest(&centroids, dim, row(i));
            moved |= *a != c;
            *a = c;
        }
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (i, &c) in assign.iter().enumerate() {
            counts[c] += 1;
            for (acc, x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row(i)) {
                *acc += *x as f64;
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // an empty cell takes a random training row
                let r = rng.below(s);
                centroids[c * dim..(c + 1) * dim].copy_from_slice(row(r));
                moved = true;
                continue;
            }
            for (out, acc) in centroids[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(&sums[c * dim..(c + 1) * dim])
            {
                *out = (*acc / counts[c] as f64) as f32;
            }
        }
        if !moved {
            break;
        }
    }
    centroids
}

/// k-means++ seeding: each next centroid is a row drawn with probability proportional to its
/// squared distance to the nearest centroid so far.
fn plus_plus(sample: &[f32], dim: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let s = sample.len() / dim;
    let row = |i: usize| &sample[i * dim..(i + 1) * dim];
    let mut centroids = Vec::with_capacity(k * dim);
    centroids.extend_from_slice(row(rng.below(s)));
    let mut dist: Vec<f32> = (0..s).map(|i| l2sq(row(i), &centroids[..dim])).collect();
    while centroids.len() < k * dim {
        let total: f64 = dist.iter().map(|&d| d as f64).sum();
        let pick = if total <= 0.0 {
            rng.below(s)
        } else {
            let mut target = rng.unit() * total;
            let mut pick = s - 1;
            for (i, &d) in dist.iter().enumerate() {
                target -= d as f64;
                if target < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        let start = centroids.len();
        centroids.extend_from_slice(row(pick));
        for (i, d) in dist.iter_mut().enumerate() {
            *d = d.min(l2sq(row(i), &centroids[start..start + dim]));
        }
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_separated_clusters_deterministically() {
        // four tight clusters in 2-d
        let centers = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)];
        let mut rng = Rng::new(7);
        let mut data = Vec::new();
        for i in 0..400 {
            let (x, y) = centers[i % 4];
            data.push(x + rng.unit() as f32 * 0.1);
            data.push(y + rng.unit() as f32 * 0.1);
        }
        let c = train(&data, 2, 4, 42);
        assert_eq!(c, train(&data, 2, 4, 42), "deterministic");
        for (x, y) in centers {
            let (_, d) = nearest(&c, 2, &[x, y]);
            assert!(d < 0.1, "a centroid near ({x}, {y}): {c:?}");
        }
        // k is clamped to the rows
        assert_eq!(train(&data[..6], 2, 10, 1).len(), 6);
        assert!(train(&[], 2, 10, 1).is_empty());
    }
}
