//! The vector codes of IVF_SQ8 and IVF_PQ.
//!
//! - [`Sq8`]: per dimension, the training minimum and a step of (max - min) / 255; a vector is
//!   one byte per dimension. Residual-free: the vector itself is encoded, not its offset from
//!   the cell's centroid.
//! - [`Pq`]: the vector cut into `m` sub-vectors, each replaced by the nearest of `2^nbits`
//!   k-means codewords trained for that sub-space (residual-free as well). At search a lookup
//!   table holds the query's score against every codeword (asymmetric distance computation), so
//!   scoring a row is `m` table reads.

use super::bytes::{corrupt, Reader, Writer};
use crate::kernels::{dot, l2sq};
use crate::kmeans::{nearest, train};
use crate::{IndexError, Metric};

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sq8 {
    min: Vec<f32>,
    step: Vec<f32>,
}

impl Sq8 {
    pub(super) fn train(data: &[f32], dim: usize) -> Self {
        let mut min = vec![f32::INFINITY; dim];
        let mut max = vec![f32::NEG_INFINITY; dim];
        for v in data.chunks_exact(dim) {
            for i in 0..dim {
                min[i] = min[i].min(v[i]);
                max[i] = max[i].max(v[i]);
            }
        }
        let mut step = vec![0f32; dim];
        for i in 0..dim {
            if !min[i].is_finite() || !max[i].is_finite() {
                (min[i], max[i]) = (0.0, 0.0);
            }
            step[i] = (max[i] - min[i]) / 255.0;
        }
        Self { min, step }
    }

    pub(super) fn encode(&self, v: &[f32], out: &mut Vec<u8>) {
        for (i, x) in v.iter().enumerate() {
            let code = if self.step[i] > 0.0 {
                ((x - self.min[i]) / self.step[i]).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
            out.push(code);
        }
    }

    pub(super) fn decode_into(&self, codes: &[u8], out: &mut [f32]) {
        for (i, (o, c)) in out.iter_mut().zip(codes).enumerate() {
            *o = self.min[i] + *c as f32 * self.step[i];
        }
    }

    pub(super) fn write(&self, w: &mut Writer) {
        w.f32s(&self.min);
        w.f32s(&self.step);
    }

    pub(super) fn read(r: &mut Reader<'_>, dim: usize) -> Result<Self, IndexError> {
        Ok(Self {
            min: r.f32s(dim, "sq8 minimums")?,
            step: r.f32s(dim, "sq8 steps")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pq {
    pub(super) m: usize,
    pub(super) nbits: usize,
    /// codewords per sub-space: `2^nbits`, fewer when the segment has fewer rows
    ksub: usize,
    dsub: usize,
    /// `m * ksub * dsub` floats: sub-space `j`'s codeword `c` at `(j * ksub + c) * dsub`
    codebooks: Vec<f32>,
}

/// Sub-space seeds differ so that equal sub-spaces do not train in lockstep.
const PQ_SEED: u64 = 0x5150_0000;

impl Pq {
    /// Bytes of one sub-vector's code.
    pub(super) fn code_bytes(&self) -> usize {
        if self.nbits <= 8 {
            1
        } else {
            2
        }
    }

    /// Bytes of one vector's code.
    pub(super) fn code_len(&self) -> usize {
        self.m * self.code_bytes()
    }

    pub(super) fn train(data: &[f32], dim: usize, m: usize, nbits: usize) -> Self {
        let dsub = dim / m;
        let rows = data.len() / dim.max(1);
        let ksub = (1usize << nbits).min(rows).max(1);
        let mut codebooks = Vec::with_capacity(m * ksub * dsub);
        for j in 0..m {
            let sub: Vec<f32> = data
                .chunks_exact(dim)
                .flat_map(|v| v[j * dsub..(j + 1) * dsub].iter().copied())
                .collect();
            let mut book = train(&sub, dsub, ksub, PQ_SEED + j as u64);
            // fewer distinct rows than codewords: pad (never chosen over an equal earlier one)
            book.resize(ksub * dsub, 0.0);
            codebooks.extend_from_slice(&book);
        }
        Self {
            m,
            nbits,
            ksub,
            dsub,
            codebooks,
        }
    }

    fn book(&self, j: usize) -> &[f32] {
        &self.codebooks[j * self.ksub * self.dsub..(j + 1) * self.ksub * self.dsub]
    }

    pub(super) fn encode(&self, v: &[f32], out: &mut Vec<u8>) {
        for j in 0..self.m {
            let (c, _) = nearest(
                self.book(j),
                self.dsub,
                &v[j * self.dsub..(j + 1) * self.dsub],
            );
            if self.code_bytes() == 1 {
                out.push(c as u8);
            } else {
                out.extend_from_slice(&(c as u16).to_le_bytes());
            }
        }
    }

    /// The ADC table of `query`: its score against every codeword of every sub-space.
    pub(super) fn table(&self, metric: Metric, query: &[f32]) -> Vec<f32> {
        let mut t = Vec::with_capacity(self.m * self.ksub);
        for j in 0..self.m {
            let q = &query[j * self.dsub..(j + 1) * self.dsub];
            for cw in self.book(j).chunks_exact(self.dsub) {
                t.push(match metric {
                    Metric::L2 | Metric::Hamming | Metric::Jaccard => l2sq(q, cw),
                    Metric::Ip | Metric::Cosine | Metric::Bm25 => dot(q, cw),
                });
            }
        }
        t
    }

    /// A row's score from the table.
    pub(super) fn score(&self, table: &[f32], code: &[u8]) -> f32 {
        let mut s = 0f32;
        if self.code_bytes() == 1 {
            for (j, c) in code.iter().enumerate() {
                s += table[j * self.ksub + *c as usize];
            }
        } else {
            for (j, c) in code.chunks_exact(2).enumerate() {
                let c = u16::from_le_bytes([c[0], c[1]]) as usize;
                s += table[j * self.ksub + c];
            }
        }
        s
    }

    pub(super) fn write(&self, w: &mut Writer) {
        w.u32(self.m as u32);
        w.u32(self.nbits as u32);
        w.u32(self.ksub as u32);
        w.f32s(&self.codebooks);
    }

    pub(super) fn read(r: &mut Reader<'_>, dim: usize) -> Result<Self, IndexError> {
        let m = r.u32("pq m")? as usize;
        let nbits = r.u32("pq nbits")? as usize;
        let ksub = r.u32("pq codewords")? as usize;
        if m == 0
            || !dim.is_multiple_of(m)
            || !(1..=16).contains(&nbits)
            || ksub == 0
            || ksub > 1 << nbits
        {
            return Err(corrupt("pq parameters"));
        }
        let dsub = dim / m;
        let codebooks = r.f32s(m * ksub * dsub, "pq codebooks")?;
        Ok(Self {
            m,
            nbits,
            ksub,
            dsub,
            codebooks,
        })
    }

    /// Whether every code in `codes` names an existing codeword.
    pub(super) fn codes_valid(&self, codes: &[u8]) -> bool {
        if self.code_bytes() == 1 {
            codes.iter().all(|c| (*c as usize) < self.ksub)
        } else {
            codes
                .chunks_exact(2)
                .all(|c| (u16::from_le_bytes([c[0], c[1]]) as usize) < self.ksub)
        }
    }
}
