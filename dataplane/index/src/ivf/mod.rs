//! IVF indexes over one sealed segment: a k-means coarse quantiser cuts the vectors into
//! `nlist` cells, each cell keeps an inverted list of its rows, and a search scores only the
//! rows of the `nprobe` cells nearest the query.
//!
//! - IVF_FLAT keeps the vectors as they are and scores them with the same kernels as FLAT, so
//!   with `nprobe >= nlist` it answers exactly what FLAT answers (same scores, same order).
//! - IVF_SQ8 keeps one byte per dimension ([`quant::Sq8`]), IVF_PQ `m` codes of `nbits`
//!   ([`quant::Pq`]); their scores are approximations of the true ones (no re-ranking).
//!
//! COSINE trains, assigns and (for SQ8/PQ) encodes unit-length vectors. Cells are trained
//! under squared L2 and each row joins the cell a search would rank first for it (the nearest
//! centroid; for IP the largest inner product).

pub(crate) mod bytes;
mod quant;

use bytes::{corrupt, Reader, Writer};
use quant::{Pq, Sq8};

use crate::flat::{score, TopK};
use crate::kernels::{dot, l2sq, normalized};
use crate::spec::DEFAULT_NPROBE;
use crate::{kmeans, Hit, IndexError, IndexKind, Metric, SearchParams};

const MAGIC: &[u8; 4] = b"QIVF";
const VERSION: u32 = 1;
const KMEANS_SEED: u64 = 0x1F5E_ED00;

#[derive(Debug, Clone, PartialEq)]
enum Codec {
    Flat,
    Sq8(Sq8),
    Pq(Pq),
}

impl Codec {
    fn tag(&self) -> u8 {
        match self {
            Codec::Flat => 1,
            Codec::Sq8(_) => 2,
            Codec::Pq(_) => 3,
        }
    }
}

/// One cell: its rows, and their vectors (IVF_FLAT) or codes (SQ8, PQ), in row order.
#[derive(Debug, Clone, Default, PartialEq)]
struct List {
    rows: Vec<u32>,
    vectors: Vec<f32>,
    codes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IvfIndex {
    dim: usize,
    metric: Metric,
    /// `lists.len() * dim` floats
    centroids: Vec<f32>,
    lists: Vec<List>,
    codec: Codec,
    rows: usize,
}

fn metric_tag(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::Ip => 2,
        Metric::Cosine => 3,
        Metric::Hamming => 4,
        Metric::Jaccard => 5,
        Metric::Bm25 => 6,
    }
}

impl IvfIndex {
    /// Trains the cells (and the codes) over `vectors` (row-major, `dim` floats per row) and
    /// fills the lists. `kind` must be an IVF kind; `nlist` is clamped to the number of rows.
    /// CPU-heavy: call it off the async runtime.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        kind: &IndexKind,
    ) -> Result<Self, IndexError> {
        if dim == 0 || !vectors.len().is_multiple_of(dim) {
            return Err(IndexError::Native(format!(
                "{} floats are not whole vectors of dim {dim}",
                vectors.len()
            )));
        }
        let rows = vectors.len() / dim;
        if rows > u32::MAX as usize {
            return Err(IndexError::Native(format!(
                "{rows} rows is too many for one segment"
            )));
        }
        let nlist = kind
            .nlist()
            .ok_or_else(|| IndexError::Native(format!("{kind:?} is not an IVF index")))?;
        // COSINE works on unit vectors from here on
        let unit: Option<Vec<f32>> = (metric == Metric::Cosine)
            .then(|| vectors.chunks_exact(dim).flat_map(normalized).collect());
        let data = unit.as_deref().unwrap_or(vectors);
        let centroids = kmeans::train(data, dim, nlist, KMEANS_SEED);
        let codec = match *kind {
            IndexKind::IvfSq8 { .. } => Codec::Sq8(Sq8::train(data, dim)),
            IndexKind::IvfPq { m, nbits, .. } => {
                if m == 0 || !dim.is_multiple_of(m) {
                    return Err(IndexError::InvalidParam(format!(
                        "dimension must be abled to be divided by `m`, dimension: {dim}, m: {m}"
                    )));
                }
                Codec::Pq(Pq::train(data, dim, m, nbits))
            }
            _ => Codec::Flat,
        };
        let mut index = Self {
            dim,
            metric,
            lists: vec![List::default(); centroids.len() / dim],
            centroids,
            codec,
            rows,
        };
        for (row, v) in data.chunks_exact(dim).enumerate() {
            let cell = index.nearest_cell(v);
            let list = &mut index.lists[cell];
            list.rows.push(row as u32);
            match &index.codec {
                // the vector as given: scores then match FLAT's to the bit
                Codec::Flat => list
                    .vectors
                    .extend_from_slice(&vectors[row * dim..(row + 1) * dim]),
                Codec::Sq8(sq) => sq.encode(v, &mut list.codes),
                Codec::Pq(pq) => pq.encode(v, &mut list.codes),
            }
        }
        Ok(index)
    }

    /// How a search ranks the cell with centroid `c` for the (prepared) query `q`: smaller is
    /// nearer.
    fn cell_distance(&self, q: &[f32], c: &[f32]) -> f32 {
        match self.metric {
            // binary vectors (one 0/1 value per bit) use Euclidean cells for both metrics
            Metric::L2 | Metric::Cosine | Metric::Hamming | Metric::Jaccard => l2sq(q, c),
            Metric::Ip | Metric::Bm25 => -dot(q, c),
        }
    }

    fn nearest_cell(&self, v: &[f32]) -> usize {
        let mut best = (0, f32::INFINITY);
        for (c, cv) in self.centroids.chunks_exact(self.dim).enumerate() {
            let d = self.cell_distance(v, cv);
            if d < best.1 {
                best = (c, d);
            }
        }
        best.0
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The number of cells (the trained `nlist`, at most the number of rows).
    pub fn nlist(&self) -> usize {
        self.lists.len()
    }

    /// Top-`k` among rows for which `keep` is true, best first, with Milvus scores: the rows of
    /// the `nprobe` cells nearest the query (default 8; all cells when `nprobe >= nlist`).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        params: &SearchParams,
        keep: &(dyn Fn(u32) -> bool + Sync),
    ) -> Result<Vec<Hit>, IndexError> {
        if query.len() != self.dim {
            return Err(IndexError::InvalidParam(format!(
                "the query has dim {} where the index has {}",
                query.len(),
                self.dim
            )));
        }
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let unit = (self.metric == Metric::Cosine).then(|| normalized(query));
        let q = unit.as_deref().unwrap_or(query);
        let nprobe = params
            .nprobe
            .unwrap_or(DEFAULT_NPROBE)
            .clamp(1, self.nlist());
        let mut cells: Vec<(f32, usize)> = self
            .centroids
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(c, cv)| (self.cell_distance(q, cv), c))
            .collect();
        if nprobe < cells.len() {
            cells.select_nth_unstable_by(nprobe - 1, |a, b| a.0.total_cmp(&b.0));
            cells.truncate(nprobe);
        }
        let mut top = TopK::new(k, self.metric);
        let table = match &self.codec {
            Codec::Pq(pq) => pq.table(self.metric, q),
            _ => Vec::new(),
        };
        let mut decoded = vec![0f32; self.dim];
        for &(_, cell) in &cells {
            let list = &self.lists[cell];
            for (i, &row) in list.rows.iter().enumerate() {
                if !keep(row) {
                    continue;
                }
                let s = match &self.codec {
                    Codec::Flat => score(
                        self.metric,
                        query,
                        &list.vectors[i * self.dim..(i + 1) * self.dim],
                    ),
                    Codec::Sq8(sq) => {
                        sq.decode_into(&list.codes[i * self.dim..(i + 1) * self.dim], &mut decoded);
                        match self.metric {
                            Metric::L2 => l2sq(q, &decoded),
                            Metric::Ip | Metric::Cosine | Metric::Bm25 => dot(q, &decoded),
                            Metric::Hamming | Metric::Jaccard => score(self.metric, q, &decoded),
                        }
                    }
                    Codec::Pq(pq) => {
                        let n = pq.code_len();
                        pq.score(&table, &list.codes[i * n..(i + 1) * n])
                    }
                };
                top.push(row, s);
            }
        }
        Ok(top.into_sorted())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(MAGIC);
        w.u32(VERSION);
        w.u8(self.codec.tag());
        w.u8(metric_tag(self.metric));
        w.u32(self.dim as u32);
        w.u32(self.lists.len() as u32);
        w.u64(self.rows as u64);
        w.f32s(&self.centroids);
        match &self.codec {
            Codec::Flat => {}
            Codec::Sq8(sq) => sq.write(&mut w),
            Codec::Pq(pq) => pq.write(&mut w),
        }
        for list in &self.lists {
            w.u32(list.rows.len() as u32);
            w.u32s(&list.rows);
            match self.codec {
                Codec::Flat => w.f32s(&list.vectors),
                _ => w.bytes(&list.codes),
            }
        }
        w.0
    }

    /// Reads an index file written by [`IvfIndex::to_bytes`], checking it against the index
    /// definition it is loaded for.
    pub fn from_bytes(
        bytes: &[u8],
        dim: usize,
        metric: Metric,
        kind: &IndexKind,
    ) -> Result<Self, IndexError> {
        let mut r = Reader::new(bytes);
        if r.take(4, "magic")? != MAGIC || r.u32("version")? != VERSION {
            return Err(corrupt("not an IVF index file of a known version"));
        }
        let tag = r.u8("kind")?;
        let want = match kind {
            IndexKind::IvfFlat { .. } => 1,
            IndexKind::IvfSq8 { .. } => 2,
            IndexKind::IvfPq { .. } => 3,
            _ => 0,
        };
        if tag != want || r.u8("metric")? != metric_tag(metric) {
            return Err(corrupt("the file holds another index type or metric"));
        }
        let file_dim = r.u32("dim")? as usize;
        if file_dim != dim || dim == 0 {
            return Err(IndexError::Native(format!(
                "index file has dim {file_dim} where {dim} was expected"
            )));
        }
        let nlist = r.u32("nlist")? as usize;
        let rows = r.u64("rows")?;
        if rows > u32::MAX as u64 || nlist > crate::spec::MAX_NLIST || nlist > rows as usize {
            return Err(corrupt("row or cell count"));
        }
        let rows = rows as usize;
        let centroids = r.f32s(nlist * dim, "centroids")?;
        let codec = match tag {
            1 => Codec::Flat,
            2 => Codec::Sq8(Sq8::read(&mut r, dim)?),
            _ => {
                let pq = Pq::read(&mut r, dim)?;
                if !matches!(*kind, IndexKind::IvfPq { m, nbits, .. } if m == pq.m && nbits == pq.nbits)
                {
                    return Err(corrupt("pq parameters differ from the index definition"));
                }
                Codec::Pq(pq)
            }
        };
        let mut lists = Vec::with_capacity(nlist);
        let mut seen = 0usize;
        for _ in 0..nlist {
            let n = r.u32("list length")? as usize;
            let list_rows = r.u32s(n, "list rows")?;
            if list_rows.iter().any(|&row| row as usize >= rows) {
                return Err(corrupt("row number beyond the segment"));
            }
            seen += n;
            let mut list = List {
                rows: list_rows,
                ..List::default()
            };
            match &codec {
                Codec::Flat => list.vectors = r.f32s(n * dim, "list vectors")?,
                Codec::Sq8(_) => list.codes = r.take(n * dim, "list codes")?.to_vec(),
                Codec::Pq(pq) => {
                    list.codes = r.take(n * pq.code_len(), "list codes")?.to_vec();
                    if !pq.codes_valid(&list.codes) {
                        return Err(corrupt("pq code beyond its codebook"));
                    }
                }
            }
            lists.push(list);
        }
        if seen != rows || !r.is_empty() {
            return Err(corrupt("lists do not cover the segment's rows"));
        }
        Ok(Self {
            dim,
            metric,
            centroids,
            lists,
            codec,
            rows,
        })
    }
}

#[cfg(test)]
mod tests;
