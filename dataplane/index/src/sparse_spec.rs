//! Index definitions of SparseFloatVector fields, with Milvus's parameter names, ranges and
//! texts: SPARSE_INVERTED_INDEX, SPARSE_WAND and AUTOINDEX (which is SPARSE_INVERTED_INDEX),
//! metric IP, `drop_ratio_build` in [0, 1), and `inverted_index_algo` (Milvus 2.5: TAAT_NAIVE
//! is the term-at-a-time evaluation, DAAT_WAND and DAAT_MAXSCORE the document-at-a-time one
//! with MaxScore pruning; without it SPARSE_INVERTED_INDEX is searched term at a time and
//! SPARSE_WAND with pruning). BM25 belongs to full-text search, not served yet.

use std::collections::BTreeMap;

use crate::text::bm25::{Bm25, DEFAULT_B, DEFAULT_K1};
use crate::{IndexError, IndexKind, IndexSpec, Metric};

/// The algorithms Milvus 2.5 accepts as `inverted_index_algo`.
const ALGOS: [&str; 3] = ["TAAT_NAIVE", "DAAT_WAND", "DAAT_MAXSCORE"];

/// A drop ratio (`drop_ratio_build`, `drop_ratio_search`): a number in [0, 1).
pub fn drop_ratio(key: &str, raw: &str) -> Result<f32, IndexError> {
    let v: f64 = raw.trim().parse().map_err(|_| {
        IndexError::InvalidParam(format!(
            "Type conflict in json: param '{key}' ({raw:?}) should be a number"
        ))
    })?;
    check_drop_ratio(key, v)
}

/// Checks a drop ratio's range as Milvus does.
pub fn check_drop_ratio(key: &str, v: f64) -> Result<f32, IndexError> {
    if !(0.0..1.0).contains(&v) {
        return Err(IndexError::InvalidParam(format!(
            "Out of range in json: param '{key}' ({v}) should be in range [0.000000, 1.000000)"
        )));
    }
    Ok(v as f32)
}

pub(crate) fn sparse_spec(params: &BTreeMap<String, String>) -> Result<IndexSpec, IndexError> {
    let metric = params
        .get("metric_type")
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "IP".into());
    if metric != "IP" && metric != "BM25" {
        return Err(IndexError::NotForType(format!(
            "metric type {metric} not found or not supported for SparseFloatVector, \
             supported: [IP BM25]"
        )));
    }
    let bm25 = match metric.as_str() {
        "BM25" => Some(bm25_knobs(params)?),
        _ => {
            if let Some(key) = BM25_KEYS.iter().find(|k| params.contains_key(**k)) {
                return Err(IndexError::InvalidParam(format!(
                    "{key} is a parameter of the BM25 metric, not of {metric}"
                )));
            }
            None
        }
    };
    let ty = params
        .get("index_type")
        .map(|s| s.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "AUTOINDEX".into());
    let wand = match ty.as_str() {
        "SPARSE_INVERTED_INDEX" | "AUTOINDEX" | "" => false,
        "SPARSE_WAND" => true,
        other => {
            return Err(IndexError::NotForType(format!(
                "data type SparseFloatVector can't build with this index {other} (sparse \
                 vectors take SPARSE_INVERTED_INDEX, SPARSE_WAND or AUTOINDEX)"
            )))
        }
    };
    let drop_ratio_build = match params.get("drop_ratio_build") {
        None => 0.0,
        Some(raw) => drop_ratio("drop_ratio_build", raw)?,
    };
    let maxscore = match params.get("inverted_index_algo").map(|a| a.trim()) {
        None => wand,
        Some(a) if ALGOS.contains(&a) => a != "TAAT_NAIVE",
        Some(a) => {
            return Err(IndexError::InvalidParam(format!(
                "sparse inverted index algo {a} not found or not supported, supported: \
                 [TAAT_NAIVE DAAT_WAND DAAT_MAXSCORE]"
            )))
        }
    };
    Ok(IndexSpec {
        kind: IndexKind::Sparse {
            wand,
            drop_ratio_build,
            maxscore,
            bm25,
        },
        metric: if bm25.is_some() {
            Metric::Bm25
        } else {
            Metric::Ip
        },
    })
}

const BM25_KEYS: [&str; 3] = ["bm25_k1", "bm25_b", "bm25_avgdl"];

/// A BM25 knob in its range, with Milvus's text.
fn knob(
    params: &BTreeMap<String, String>,
    key: &str,
    default: f32,
    lo: f64,
    hi: f64,
) -> Result<f32, IndexError> {
    let Some(raw) = params.get(key) else {
        return Ok(default);
    };
    match raw.trim().parse::<f64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v as f32),
        Ok(v) => Err(IndexError::InvalidParam(format!(
            "{key} {v} is out of range [{lo}, {hi}]"
        ))),
        Err(_) => Err(IndexError::InvalidParam(format!(
            "{key} {raw:?} should be a number"
        ))),
    }
}

/// `bm25_k1` in [1.2, 2.0] and `bm25_b` in [0, 1] (Milvus's ranges). `bm25_avgdl` is refused:
/// Quarry scores with the searched rows' own average length, which is what it stands in for.
fn bm25_knobs(params: &BTreeMap<String, String>) -> Result<Bm25, IndexError> {
    if params.contains_key("bm25_avgdl") {
        return Err(IndexError::InvalidParam(
            "bm25_avgdl is not taken by quarry: searches use the average length of the rows \
             searched"
                .into(),
        ));
    }
    Ok(Bm25 {
        k1: knob(params, "bm25_k1", DEFAULT_K1, 1.2, 2.0)?,
        b: knob(params, "bm25_b", DEFAULT_B, 0.0, 1.0)?,
    })
}

#[cfg(test)]
mod tests {
    use quarry_types::DataType;

    use super::*;

    fn spec(kv: &[(&str, &str)]) -> Result<IndexSpec, IndexError> {
        let p = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        IndexSpec::for_field(&p, DataType::SparseFloatVector)
    }

    #[test]
    fn sparse_fields_take_sparse_indexes_with_ip() {
        let auto = spec(&[]).unwrap();
        assert_eq!(auto.metric, Metric::Ip);
        assert_eq!(
            auto.kind,
            IndexKind::Sparse {
                wand: false,
                drop_ratio_build: 0.0,
                maxscore: false,
                bm25: None
            }
        );
        let s = spec(&[
            ("index_type", "SPARSE_WAND"),
            ("metric_type", "IP"),
            ("drop_ratio_build", "0.2"),
            ("inverted_index_algo", "DAAT_MAXSCORE"),
        ])
        .unwrap();
        assert_eq!(
            s.kind,
            IndexKind::Sparse {
                wand: true,
                drop_ratio_build: 0.2,
                maxscore: true,
                bm25: None
            }
        );
        for bad in ["1", "1.5", "-0.1"] {
            let e = spec(&[("drop_ratio_build", bad)]).unwrap_err().to_string();
            assert!(e.contains("should be in range [0.000000, 1.000000)"), "{e}");
        }
        assert!(spec(&[("drop_ratio_build", "x")]).is_err());
        let e = spec(&[("metric_type", "L2")]).unwrap_err().to_string();
        assert!(
            e.contains("metric type L2 not found or not supported"),
            "{e}"
        );
        let s = spec(&[("metric_type", "BM25"), ("bm25_k1", "1.5")]).unwrap();
        assert_eq!(s.metric, Metric::Bm25);
        assert!(matches!(
            s.kind,
            IndexKind::Sparse { bm25: Some(b), .. } if b.k1 == 1.5 && b.b == DEFAULT_B
        ));
        for (k, v) in [
            ("bm25_k1", "1.1"),
            ("bm25_k1", "2.5"),
            ("bm25_b", "-0.1"),
            ("bm25_b", "x"),
        ] {
            let e = spec(&[("metric_type", "BM25"), (k, v)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(k), "{e}");
        }
        let e = spec(&[("metric_type", "BM25"), ("bm25_avgdl", "100")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bm25_avgdl"), "{e}");
        let e = spec(&[("metric_type", "IP"), ("bm25_k1", "1.5")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not of IP"), "{e}");
        let e = spec(&[("index_type", "HNSW")]).unwrap_err().to_string();
        assert!(e.contains("can't build with this index HNSW"), "{e}");
        let s = spec(&[("inverted_index_algo", "DAAT_WAND")]).unwrap();
        assert!(matches!(
            s.kind,
            IndexKind::Sparse {
                wand: false,
                maxscore: true,
                ..
            }
        ));
        let s = spec(&[
            ("index_type", "SPARSE_WAND"),
            ("inverted_index_algo", "TAAT_NAIVE"),
        ]);
        assert!(matches!(
            s.unwrap().kind,
            IndexKind::Sparse {
                wand: true,
                maxscore: false,
                ..
            }
        ));
        let e = spec(&[("inverted_index_algo", "FAST")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not found or not supported"), "{e}");
        let dense: BTreeMap<String, String> =
            [("index_type".to_string(), "SPARSE_WAND".to_string())].into();
        let e = IndexSpec::for_field(&dense, DataType::FloatVector).unwrap_err();
        assert!(e
            .to_string()
            .contains("can't build with this index SPARSE_WAND"));
    }
}
