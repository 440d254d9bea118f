//! The file layout of a sparse inverted index (little-endian, every length checked on read):
//! magic `QSPI`, version, algorithm tag, row count, dimension count, the dimensions
//! (increasing), the length of each posting list, then all posting rows and all values.

use super::{max_vals, SparseAlgo, SparseEval, SparseIndex};
use crate::ivf::bytes::{corrupt, Reader, Writer};
use crate::IndexError;

const MAGIC: &[u8; 4] = b"QSPI";
const VERSION: u32 = 1;

fn tag(algo: SparseAlgo) -> u8 {
    match algo {
        SparseAlgo::Inverted => 1,
        SparseAlgo::Wand => 2,
    }
}

impl SparseIndex {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(MAGIC);
        w.u32(VERSION);
        w.u8(tag(self.algo));
        w.u64(self.rows as u64);
        w.u32(self.dims.len() as u32);
        w.u32s(&self.dims);
        for d in 0..self.dims.len() {
            w.u32((self.starts[d + 1] - self.starts[d]) as u32);
        }
        w.u32s(&self.post_rows);
        w.f32s(&self.post_vals);
        w.0
    }

    /// Reads an index file written by [`SparseIndex::to_bytes`] for an index of `algo`, to be
    /// searched by `eval`.
    pub fn from_bytes(
        bytes: &[u8],
        algo: SparseAlgo,
        eval: SparseEval,
    ) -> Result<Self, IndexError> {
        let mut r = Reader::new(bytes);
        if r.take(4, "magic")? != MAGIC || r.u32("version")? != VERSION {
            return Err(corrupt("not a sparse index file of a known version"));
        }
        if r.u8("algorithm")? != tag(algo) {
            return Err(corrupt("the file holds another sparse index type"));
        }
        let rows = usize::try_from(r.u64("rows")?)
            .ok()
            .filter(|n| *n <= u32::MAX as usize)
            .ok_or_else(|| corrupt("row count"))?;
        let ndims = r.u32("dimension count")? as usize;
        let dims = r.u32s(ndims, "dimensions")?;
        if dims.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt("dimensions out of order"));
        }
        let lens = r.u32s(ndims, "posting list lengths")?;
        let mut starts = Vec::with_capacity(ndims + 1);
        starts.push(0usize);
        for len in &lens {
            let next = starts[starts.len() - 1] + *len as usize;
            starts.push(next);
        }
        let total = *starts.last().unwrap_or(&0);
        let post_rows = r.u32s(total, "posting rows")?;
        if post_rows.iter().any(|row| *row as usize >= rows) {
            return Err(corrupt("a posting names a row outside the segment"));
        }
        let post_vals = r.f32s(total, "posting values")?;
        if !r.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(SparseIndex {
            algo,
            eval,
            doc_len: super::doc_lens(rows, &post_rows, &post_vals),
            rows,
            max_vals: max_vals(&starts, &post_vals),
            dims,
            starts,
            post_rows,
            post_vals,
        })
    }
}
