use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::IndexError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    L2,
    Ip,
    Cosine,
}

impl Metric {
    pub fn parse(s: &str) -> Result<Self, IndexError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L2" => Ok(Metric::L2),
            "IP" => Ok(Metric::Ip),
            "COSINE" => Ok(Metric::Cosine),
            other => Err(IndexError::UnsupportedMetric(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Ip => "IP",
            Metric::Cosine => "COSINE",
        }
    }

    /// Whether larger scores are better (similarities) or smaller (distances).
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::L2)
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
    Hnsw { m: usize, ef_construction: usize },
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

pub const AUTOINDEX_M: usize = 16;
pub const AUTOINDEX_EF_CONSTRUCTION: usize = 200;

impl IndexSpec {
    /// Reads an index definition from Milvus-style parameters (`index_type`, `metric_type`,
    /// `M`, `efConstruction`, …). A missing type means AUTOINDEX, a missing metric COSINE.
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Self, IndexError> {
        let metric = Metric::parse(
            params
                .get("metric_type")
                .map(String::as_str)
                .unwrap_or("COSINE"),
        )?;
        let ty = params
            .get("index_type")
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "AUTOINDEX".into());
        let kind = match ty.as_str() {
            "FLAT" => IndexKind::Flat,
            "HNSW" => IndexKind::Hnsw {
                m: param(params, "M", AUTOINDEX_M, 2..=2048)?,
                ef_construction: param(
                    params,
                    "efConstruction",
                    AUTOINDEX_EF_CONSTRUCTION,
                    1..=i32::MAX as usize,
                )?,
            },
            "AUTOINDEX" | "" => IndexKind::Hnsw {
                m: AUTOINDEX_M,
                ef_construction: AUTOINDEX_EF_CONSTRUCTION,
            },
            other => return Err(IndexError::UnsupportedType(other.to_string())),
        };
        Ok(IndexSpec { kind, metric })
    }
}

/// Search-time knobs (`ef` for HNSW).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchParams {
    pub ef: Option<usize>,
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
            Err(IndexError::UnsupportedMetric(_))
        ));
        assert!(matches!(
            IndexSpec::from_params(&p(&[("index_type", "HNSW"), ("M", "x")])),
            Err(IndexError::InvalidParam(_))
        ));
    }
}
