use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use quarry_types::DataType;

use crate::IndexError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    L2,
    Ip,
    Cosine,
    /// Binary vectors: the number of differing bits.
    Hamming,
    /// Binary vectors: 1 - |a and b| / |a or b|.
    Jaccard,
    /// Full-text search: the BM25 score of a row against an analyzed text (larger is better).
    Bm25,
}

impl Metric {
    pub fn parse(s: &str) -> Result<Self, IndexError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L2" => Ok(Metric::L2),
            "IP" => Ok(Metric::Ip),
            "COSINE" => Ok(Metric::Cosine),
            "HAMMING" => Ok(Metric::Hamming),
            "JACCARD" => Ok(Metric::Jaccard),
            "BM25" => Ok(Metric::Bm25),
            other => Err(IndexError::UnsupportedMetric(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Ip => "IP",
            Metric::Cosine => "COSINE",
            Metric::Hamming => "HAMMING",
            Metric::Jaccard => "JACCARD",
            Metric::Bm25 => "BM25",
        }
    }

    /// Whether larger scores are better (similarities) or smaller (distances).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Ip | Metric::Cosine | Metric::Bm25)
    }

    /// Whether score `a` ranks before score `b`.
    pub fn better(self, a: f32, b: f32) -> bool {
        if self.higher_is_better() {
            a > b
        } else {
            a < b
        }
    }

    /// Ordering of scores, best first.
    pub fn cmp(self, a: f32, b: f32) -> std::cmp::Ordering {
        let o = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
        if self.higher_is_better() {
            o.reverse()
        } else {
            o
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IndexKind {
    Flat,
    Hnsw {
        m: usize,
        ef_construction: usize,
    },
    /// HNSW over scalar-quantised vectors (`sq_type`); with `refine` the engine re-scores the
    /// candidates from the segment's `f32` vectors.
    HnswSq {
        m: usize,
        ef_construction: usize,
        sq: SqType,
        refine: bool,
    },
    /// Inverted lists over `nlist` k-means cells holding the full vectors.
    IvfFlat {
        nlist: usize,
    },
    /// Inverted lists holding 8-bit scalar-quantised vectors.
    IvfSq8 {
        nlist: usize,
    },
    /// Inverted lists holding product-quantised vectors: `m` sub-vectors of `nbits` bits.
    IvfPq {
        nlist: usize,
        m: usize,
        nbits: usize,
    },
    /// SPARSE_INVERTED_INDEX (`wand` false) or SPARSE_WAND over a SparseFloatVector field;
    /// `drop_ratio_build` in [0, 1); `maxscore`: searched document at a time with MaxScore
    /// pruning (else term at a time).
    /// `bm25`: the knobs of a BM25 index over a BM25 function's output (metric BM25).
    Sparse {
        wand: bool,
        drop_ratio_build: f32,
        maxscore: bool,
        #[serde(default)]
        bm25: Option<crate::text::bm25::Bm25>,
    },
}

/// The vectors of an HNSW_SQ graph: 8-bit (COSINE only: usearch scales each vector to unit
/// length before quantising it), IEEE half precision or bfloat16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqType {
    Sq8,
    Fp16,
    Bf16,
}

impl SqType {
    pub fn name(self) -> &'static str {
        match self {
            SqType::Sq8 => "SQ8",
            SqType::Fp16 => "FP16",
            SqType::Bf16 => "BF16",
        }
    }
}

/// How an HNSW_SQ graph holds its vectors and whether its candidates are re-scored (`None`
/// for HNSW: 16 bits, always re-scored).
pub type Quantized = Option<(SqType, bool)>;

impl IndexKind {
    /// A graph's (HNSW, HNSW_SQ) `M`, `efConstruction` and, for HNSW_SQ, its scalar type and
    /// `refine`; `None` for the other kinds.
    pub fn graph(&self) -> Option<(usize, usize, Quantized)> {
        match *self {
            IndexKind::Hnsw { m, ef_construction } => Some((m, ef_construction, None)),
            IndexKind::HnswSq {
                m,
                ef_construction,
                sq,
                refine,
            } => Some((m, ef_construction, Some((sq, refine)))),
            _ => None,
        }
    }

    /// Whether this is a graph (HNSW, HNSW_SQ), searched with `ef`.
    pub fn is_graph(&self) -> bool {
        self.graph().is_some()
    }

    /// The number of k-means cells of an IVF index.
    pub fn nlist(&self) -> Option<usize> {
        match *self {
            IndexKind::IvfFlat { nlist }
            | IndexKind::IvfSq8 { nlist }
            | IndexKind::IvfPq { nlist, .. } => Some(nlist),
            IndexKind::Flat
            | IndexKind::Hnsw { .. }
            | IndexKind::HnswSq { .. }
            | IndexKind::Sparse { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSpec {
    pub kind: IndexKind,
    pub metric: Metric,
}

fn param(
    params: &BTreeMap<String, String>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, IndexError> {
    let Some(v) = params.get(key) else {
        return Ok(default);
    };
    let n: usize = v
        .trim()
        .parse()
        .map_err(|_| IndexError::InvalidParam(format!("{key}={v} is not a positive integer")))?;
    if !range.contains(&n) {
        return Err(IndexError::InvalidParam(format!(
            "{key}={n} is out of range [{}, {}]",
            range.start(),
            range.end()
        )));
    }
    Ok(n)
}

/// Milvus's bounds and defaults of the IVF parameters (`nlist`, `nprobe`, `nbits`).
pub const MIN_NLIST: usize = 1;
pub const MAX_NLIST: usize = quarry_types::limits::MAX_NLIST;
pub const DEFAULT_NLIST: usize = 128;
pub const MIN_NPROBE: usize = 1;
pub const MAX_NPROBE: usize = quarry_types::limits::MAX_NPROBE;
pub const DEFAULT_NPROBE: usize = 8;
pub const MIN_NBITS: usize = 1;
pub const MAX_NBITS: usize = 16;
pub const DEFAULT_NBITS: usize = 8;

/// An IVF parameter, with Milvus's texts: "nlist out of range: [1, 65536]".
fn ivf_param(
    params: &BTreeMap<String, String>,
    key: &str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, IndexError> {
    let Some(v) = params.get(key) else {
        return Ok(default);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if n >= min as i64 && n <= max as i64 => Ok(n as usize),
        _ => Err(IndexError::InvalidParam(format!(
            "{key} out of range: [{min}, {max}]"
        ))),
    }
}

/// IVF_PQ's `m`: required, a positive integer (that it divides the dimension is checked by
/// [`IndexSpec::check_dim`]).
fn pq_m(params: &BTreeMap<String, String>) -> Result<usize, IndexError> {
    let Some(v) = params.get("m") else {
        return Err(IndexError::InvalidParam("parameter `m` not found".into()));
    };
    match v.trim().parse::<usize>() {
        Ok(m) if m > 0 && m <= quarry_types::limits::MAX_DIM => Ok(m),
        _ => Err(IndexError::InvalidParam(format!("invalid `m`: {v}"))),
    }
}

/// HNSW_SQ's `sq_type` (default SQ8), `refine` (default false) and `refine_type`, with the
/// metric they serve. Quarry refines from the segment's `f32` vectors, so `refine_type` may
/// name FP32 or FLAT only; SQ6 and SQ4U have no kernel here.
fn hnsw_sq(
    params: &BTreeMap<String, String>,
    metric: Metric,
) -> Result<(SqType, bool), IndexError> {
    let raw = params.get("sq_type").map(|s| s.trim().to_ascii_uppercase());
    let sq = match raw.as_deref().unwrap_or("SQ8") {
        "SQ8" => SqType::Sq8,
        "FP16" => SqType::Fp16,
        "BF16" => SqType::Bf16,
        t @ ("SQ6" | "SQ4U") => {
            return Err(IndexError::InvalidParam(format!(
                "sq_type {t} is not served by quarry: SQ8, FP16 and BF16 are"
            )))
        }
        t => {
            return Err(IndexError::InvalidParam(format!(
                "invalid sq_type: {t}, it should be one of SQ6, SQ8, BF16, FP16"
            )))
        }
    };
    if sq == SqType::Sq8 && metric != Metric::Cosine {
        return Err(IndexError::InvalidParam(format!(
            "HNSW_SQ with sq_type SQ8 serves COSINE only in quarry (its 8-bit vectors are \
             scaled to unit length); use sq_type FP16 or BF16 for {}",
            metric.name()
        )));
    }
    let refine = match params.get("refine").map(|s| s.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return Err(IndexError::InvalidParam(format!(
                "refine [{v}] is invalid, it should be true or false"
            )))
        }
    };
    if let Some(t) = params.get("refine_type") {
        let t = t.trim().to_ascii_uppercase();
        if !refine {
            return Err(IndexError::InvalidParam(
                "refine_type is given but refine is false".into(),
            ));
        }
        if !matches!(t.as_str(), "FP32" | "FLAT") {
            return Err(IndexError::InvalidParam(format!(
                "refine_type {t} is not served by quarry: it refines from the segment's float32 \
                 vectors (refine_type FP32 or FLAT)"
            )));
        }
    }
    Ok((sq, refine))
}

/// A graph's `M` and `efConstruction` (HNSW, HNSW_SQ).
fn graph_params(params: &BTreeMap<String, String>) -> Result<(usize, usize), IndexError> {
    Ok((
        param(params, "M", AUTOINDEX_M, 2..=2048)?,
        param(
            params,
            "efConstruction",
            AUTOINDEX_EF_CONSTRUCTION,
            1..=i32::MAX as usize,
        )?,
    ))
}

pub const AUTOINDEX_M: usize = 16;
pub const AUTOINDEX_EF_CONSTRUCTION: usize = 200;

impl IndexSpec {
    /// Reads an index definition of a FloatVector field (see [`IndexSpec::for_field`]).
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Self, IndexError> {
        Self::for_field(params, DataType::FloatVector)
    }

    /// Reads an index definition from Milvus-style parameters (`index_type`, `metric_type`,
    /// `M`, `efConstruction`, …) for a field of `data_type`. A missing type means AUTOINDEX, a
    /// missing metric COSINE (HAMMING for binary vectors). Binary vectors take BIN_FLAT,
    /// BIN_IVF_FLAT or AUTOINDEX (exact, as BIN_FLAT) with HAMMING or JACCARD; the float
    /// vector types take the other index types with L2, IP or COSINE.
    pub fn for_field(
        params: &BTreeMap<String, String>,
        data_type: DataType,
    ) -> Result<Self, IndexError> {
        if data_type == DataType::SparseFloatVector {
            return crate::sparse_spec::sparse_spec(params);
        }
        let binary = data_type == DataType::BinaryVector;
        let metric = Metric::parse(
            params
                .get("metric_type")
                .map(String::as_str)
                .unwrap_or(if binary { "HAMMING" } else { "COSINE" }),
        )?;
        let binary_metric = matches!(metric, Metric::Hamming | Metric::Jaccard);
        if binary != binary_metric || metric == Metric::Bm25 {
            let supported = if binary {
                "[HAMMING JACCARD]"
            } else {
                "[L2 IP COSINE]"
            };
            return Err(IndexError::NotForType(format!(
                "metric type {} not found or not supported for {}, supported: {supported}",
                metric.name(),
                data_type.name()
            )));
        }
        let ty = params
            .get("index_type")
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "AUTOINDEX".into());
        if ty.starts_with("SPARSE_") {
            return Err(IndexError::NotForType(format!(
                "data type {} can't build with this index {ty}",
                data_type.name()
            )));
        }
        let binary_type = matches!(ty.as_str(), "BIN_FLAT" | "BIN_IVF_FLAT");
        let known = binary_type
            || matches!(
                ty.as_str(),
                "FLAT" | "HNSW" | "HNSW_SQ" | "IVF_FLAT" | "IVF_SQ8" | "IVF_PQ" | "AUTOINDEX" | ""
            );
        if known && binary && !binary_type && !matches!(ty.as_str(), "AUTOINDEX" | "") {
            return Err(IndexError::NotForType(format!(
                "data type {} can't build with this index {ty} (binary vectors take BIN_FLAT, \
                 BIN_IVF_FLAT or AUTOINDEX)",
                data_type.name()
            )));
        }
        if binary_type && !binary {
            return Err(IndexError::NotForType(format!(
                "data type {} can't build with this index {ty}",
                data_type.name()
            )));
        }
        // Milvus builds Int8Vector fields with the HNSW family only
        if data_type == DataType::Int8Vector && !matches!(ty.as_str(), "HNSW" | "AUTOINDEX" | "") {
            return Err(IndexError::NotForType(format!(
                "data type Int8Vector can't build with this index {ty} (Int8Vector fields take \
                 HNSW or AUTOINDEX)"
            )));
        }
        let kind = match ty.as_str() {
            "BIN_FLAT" => IndexKind::Flat,
            "BIN_IVF_FLAT" => IndexKind::IvfFlat {
                nlist: ivf_param(params, "nlist", DEFAULT_NLIST, MIN_NLIST, MAX_NLIST)?,
            },
            "AUTOINDEX" | "" if binary => IndexKind::Flat,
            "FLAT" => IndexKind::Flat,
            "HNSW" => {
                let (m, ef_construction) = graph_params(params)?;
                IndexKind::Hnsw { m, ef_construction }
            }
            "HNSW_SQ" => {
                let (sq, refine) = hnsw_sq(params, metric)?;
                let (m, ef_construction) = graph_params(params)?;
                IndexKind::HnswSq {
                    m,
                    ef_construction,
                    sq,
                    refine,
                }
            }
            "IVF_FLAT" => IndexKind::IvfFlat {
                nlist: ivf_param(params, "nlist", DEFAULT_NLIST, MIN_NLIST, MAX_NLIST)?,
            },
            "IVF_SQ8" => IndexKind::IvfSq8 {
                nlist: ivf_param(params, "nlist", DEFAULT_NLIST, MIN_NLIST, MAX_NLIST)?,
            },
            "IVF_PQ" => IndexKind::IvfPq {
                nlist: ivf_param(params, "nlist", DEFAULT_NLIST, MIN_NLIST, MAX_NLIST)?,
                m: pq_m(params)?,
                nbits: ivf_param(params, "nbits", DEFAULT_NBITS, MIN_NBITS, MAX_NBITS)?,
            },
            "AUTOINDEX" | "" => IndexKind::Hnsw {
                m: AUTOINDEX_M,
                ef_construction: AUTOINDEX_EF_CONSTRUCTION,
            },
            other => return Err(IndexError::UnsupportedType(other.to_string())),
        };
        Ok(IndexSpec { kind, metric })
    }

    /// Checks the spec against the indexed field's dimension (IVF_PQ's `m` must divide it).
    pub fn check_dim(&self, dim: usize) -> Result<(), IndexError> {
        if let IndexKind::IvfPq { m, .. } = self.kind {
            if dim == 0 || !dim.is_multiple_of(m) {
                return Err(IndexError::InvalidParam(format!(
                    "dimension must be abled to be divided by `m`, dimension: {dim}, m: {m}"
                )));
            }
        }
        Ok(())
    }
}

/// Search-time knobs: `ef` for HNSW, `nprobe` (lists probed) for the IVF indexes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchParams {
    pub ef: Option<usize>,
    pub nprobe: Option<usize>,
    /// sparse searches: the fraction of the query's smallest values left out, in [0, 1)
    pub drop_ratio_search: Option<f32>,
    /// a refining graph: re-score `k · refine_k` candidates (>= 1)
    pub refine_k: Option<f32>,
}

/// Checks a search's `nprobe` as Milvus does.
pub fn check_nprobe(nprobe: usize) -> Result<(), IndexError> {
    if (MIN_NPROBE..=MAX_NPROBE).contains(&nprobe) {
        Ok(())
    } else {
        Err(IndexError::InvalidParam(format!(
            "param 'nprobe' ({nprobe}) should be in range [{MIN_NPROBE}, {MAX_NPROBE}]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_milvus_params() {
        let s = IndexSpec::from_params(&p(&[
            ("index_type", "HNSW"),
            ("metric_type", "L2"),
            ("M", "8"),
            ("efConstruction", "64"),
        ]))
        .unwrap();
        assert_eq!(
            s,
            IndexSpec {
                kind: IndexKind::Hnsw {
                    m: 8,
                    ef_construction: 64
                },
                metric: Metric::L2
            }
        );
        let s = IndexSpec::from_params(&p(&[("metric_type", "COSINE")])).unwrap();
        assert_eq!(
            s.kind,
            IndexKind::Hnsw {
                m: 16,
                ef_construction: 200
            }
        );
        assert!(matches!(
            IndexSpec::from_params(&p(&[("index_type", "DISKANN")])),
            Err(IndexError::UnsupportedType(_))
        ));
        assert!(matches!(
            IndexSpec::from_params(&p(&[("metric_type", "HAMMING")])),
            Err(IndexError::NotForType(_))
        ));
        assert!(matches!(
            IndexSpec::from_params(&p(&[("metric_type", "MANHATTAN")])),
            Err(IndexError::UnsupportedMetric(_))
        ));
        assert!(matches!(
            IndexSpec::from_params(&p(&[("index_type", "HNSW"), ("M", "x")])),
            Err(IndexError::InvalidParam(_))
        ));
    }

    fn err(kv: &[(&str, &str)]) -> String {
        IndexSpec::from_params(&p(kv)).unwrap_err().to_string()
    }

    #[test]
    fn parses_ivf_params_with_milvus_bounds() {
        let s = IndexSpec::from_params(&p(&[("index_type", "IVF_FLAT"), ("metric_type", "L2")]));
        assert_eq!(s.unwrap().kind, IndexKind::IvfFlat { nlist: 128 });
        let s = IndexSpec::from_params(&p(&[("index_type", "ivf_sq8"), ("nlist", "1")]));
        assert_eq!(s.unwrap().kind, IndexKind::IvfSq8 { nlist: 1 });
        let s = IndexSpec::from_params(&p(&[("index_type", "IVF_PQ"), ("m", "4")])).unwrap();
        assert_eq!(
            s.kind,
            IndexKind::IvfPq {
                nlist: 128,
                m: 4,
                nbits: 8
            }
        );
        assert!(s.check_dim(16).is_ok());
        assert!(s
            .check_dim(10)
            .unwrap_err()
            .to_string()
            .contains("dimension must be abled to be divided by `m`, dimension: 10, m: 4"));
        for bad in ["0", "65537", "-1", "x"] {
            assert!(err(&[("index_type", "IVF_FLAT"), ("nlist", bad)])
                .contains("nlist out of range: [1, 65536]"));
        }
        assert!(
            err(&[("index_type", "IVF_PQ"), ("m", "4"), ("nbits", "17")])
                .contains("nbits out of range: [1, 16]")
        );
        assert!(err(&[("index_type", "IVF_PQ")]).contains("parameter `m` not found"));
        assert!(err(&[("index_type", "IVF_PQ"), ("m", "0")]).contains("invalid `m`: 0"));
        assert!(check_nprobe(1).is_ok() && check_nprobe(65536).is_ok());
        assert!(check_nprobe(0)
            .unwrap_err()
            .to_string()
            .contains("param 'nprobe' (0) should be in range [1, 65536]"));
    }
}

#[cfg(test)]
mod binary_tests {
    use super::*;

    fn spec(kv: &[(&str, &str)], t: DataType) -> Result<IndexSpec, IndexError> {
        let p = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        IndexSpec::for_field(&p, t)
    }

    #[test]
    fn parses_hnsw_sq_with_what_quarry_serves() {
        let kind = |kv: &[(&str, &str)]| {
            let params: BTreeMap<String, String> = kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            IndexSpec::from_params(&params).map(|s| s.kind)
        };
        let sq = kind(&[("index_type", "HNSW_SQ"), ("metric_type", "COSINE")]).unwrap();
        let want = IndexKind::HnswSq {
            m: 16,
            ef_construction: 200,
            sq: SqType::Sq8,
            refine: false,
        };
        assert_eq!(sq, want);
        let fp16 = kind(&[
            ("index_type", "HNSW_SQ"),
            ("metric_type", "L2"),
            ("sq_type", "fp16"),
            ("refine", "true"),
            ("refine_type", "FP32"),
            ("M", "8"),
        ])
        .unwrap();
        let want = IndexKind::HnswSq {
            m: 8,
            ef_construction: 200,
            sq: SqType::Fp16,
            refine: true,
        };
        assert_eq!(fp16, want);
        assert!(fp16.is_graph() && fp16.nlist().is_none());
        let err = |kv: &[(&str, &str)]| kind(kv).unwrap_err().to_string();
        let hsq = ("index_type", "HNSW_SQ");
        assert!(err(&[hsq, ("metric_type", "L2")]).contains("SQ8 serves COSINE only"));
        assert!(err(&[hsq, ("sq_type", "SQ6")]).contains("SQ6 is not served"));
        assert!(err(&[hsq, ("sq_type", "SQ9")]).contains("invalid sq_type: SQ9"));
        assert!(err(&[hsq, ("refine", "yes")]).contains("refine [yes] is invalid"));
        assert!(err(&[hsq, ("refine_type", "FP32")]).contains("refine is false"));
        let half = [hsq, ("refine", "true"), ("refine_type", "FP16")];
        assert!(err(&half).contains("refine_type FP16 is not served"));
    }

    #[test]
    fn binary_fields_take_binary_indexes_and_metrics() {
        let b = DataType::BinaryVector;
        let auto = spec(&[], b).unwrap();
        assert_eq!((auto.kind, auto.metric), (IndexKind::Flat, Metric::Hamming));
        let s = spec(&[("index_type", "BIN_FLAT"), ("metric_type", "JACCARD")], b).unwrap();
        assert_eq!((s.kind, s.metric), (IndexKind::Flat, Metric::Jaccard));
        let s = spec(&[("index_type", "BIN_IVF_FLAT"), ("nlist", "4")], b).unwrap();
        assert_eq!(s.kind, IndexKind::IvfFlat { nlist: 4 });
        let e = spec(&[("index_type", "BIN_FLAT"), ("metric_type", "L2")], b).unwrap_err();
        assert!(e
            .to_string()
            .contains("metric type L2 not found or not supported"));
        let e = spec(&[("index_type", "HNSW"), ("metric_type", "HAMMING")], b).unwrap_err();
        assert!(e.to_string().contains("can't build with this index HNSW"));
        let e = spec(
            &[("index_type", "BIN_FLAT"), ("metric_type", "L2")],
            DataType::Float16Vector,
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .contains("can't build with this index BIN_FLAT"));
        let s = spec(
            &[("index_type", "HNSW"), ("metric_type", "IP")],
            DataType::BFloat16Vector,
        );
        assert_eq!(s.unwrap().metric, Metric::Ip);
        assert!(Metric::Hamming.better(1.0, 2.0) && Metric::Jaccard.better(0.1, 0.5));
    }

    #[test]
    fn int8_fields_take_the_hnsw_family() {
        let t = DataType::Int8Vector;
        let auto = spec(&[("metric_type", "L2")], t).unwrap();
        assert!(matches!(auto.kind, IndexKind::Hnsw { .. }));
        assert!(spec(&[("index_type", "HNSW"), ("metric_type", "COSINE")], t).is_ok());
        for ty in ["FLAT", "IVF_FLAT", "IVF_PQ", "BIN_FLAT"] {
            let e = spec(&[("index_type", ty)], t).unwrap_err().to_string();
            assert!(e.contains("can't build with this index"), "{ty}: {e}");
        }
        let e = spec(&[("metric_type", "HAMMING")], t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not supported for Int8Vector"), "{e}");
    }
}
