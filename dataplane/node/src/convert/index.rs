//! Index requests and answers: parameters in, descriptions, state and build progress out.

use std::collections::BTreeMap;

use quarry_engine::IndexInfo;
use quarry_proto::common::{IndexState, KeyValuePair};
use quarry_proto::service::{
    DescribeIndexResponse, GetIndexBuildProgressResponse, GetIndexStateResponse, IndexDescription,
};
use quarry_types::limits::MAX_PROPERTIES;

use super::{check_pairs, success, ConvResult};

/// Milvus index parameters: flattened pairs, plus a `params` JSON object merged in.
pub fn index_params(pairs: &[KeyValuePair]) -> ConvResult<BTreeMap<String, String>> {
    check_pairs("index params", pairs.iter().map(|p| (&p.key, &p.value)))?;
    let mut out = BTreeMap::new();
    for p in pairs {
        if p.key == "params" {
            let obj: serde_json::Value = serde_json::from_str(&p.value)
                .map_err(|e| format!("index params is not valid JSON: {e}"))?;
            if let serde_json::Value::Object(m) = obj {
                if m.len() > MAX_PROPERTIES {
                    return Err(format!(
                        "too many index params: {} given, at most {MAX_PROPERTIES} are allowed",
                        m.len()
                    ));
                }
                for (k, v) in m {
                    out.insert(
                        k,
                        match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        },
                    );
                }
            }
        } else {
            out.insert(p.key.clone(), p.value.clone());
        }
    }
    Ok(out)
}

fn state(finished: bool) -> IndexState {
    if finished {
        IndexState::Finished
    } else {
        IndexState::InProgress
    }
}

pub fn describe_index(infos: Vec<IndexInfo>) -> DescribeIndexResponse {
    DescribeIndexResponse {
        status: success(),
        index_descriptions: infos
            .into_iter()
            .map(|i| IndexDescription {
                index_name: i.meta.name,
                index_id: i.meta.id,
                params: i
                    .meta
                    .params
                    .into_iter()
                    .map(|(key, value)| KeyValuePair { key, value })
                    .collect(),
                field_name: i.meta.field_name,
                indexed_rows: i.indexed_rows as i64,
                total_rows: i.total_rows as i64,
                state: state(i.finished) as i32,
                index_state_fail_reason: String::new(),
                pending_index_rows: i.pending_rows as i64,
            })
            .collect(),
    }
}

/// The state of the indexes asked about: finished once all of them are.
pub fn index_state(infos: &[IndexInfo]) -> GetIndexStateResponse {
    GetIndexStateResponse {
        status: success(),
        state: state(infos.iter().all(|i| i.finished)) as i32,
        fail_reason: String::new(),
    }
}

/// The build progress of the first index asked about (the engine answers at least one).
pub fn index_build_progress(infos: &[IndexInfo]) -> GetIndexBuildProgressResponse {
    let (indexed_rows, total_rows) = infos
        .first()
        .map_or((0, 0), |i| (i.indexed_rows as i64, i.total_rows as i64));
    GetIndexBuildProgressResponse {
        status: success(),
        indexed_rows,
        total_rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quarry_types::limits::MAX_PROPERTY_BYTES;

    #[test]
    fn index_params_are_bounded() {
        let many: Vec<(String, String)> = (0..=MAX_PROPERTIES)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let pairs: Vec<KeyValuePair> = super::super::to_kv(&many);
        assert!(index_params(&pairs).unwrap_err().contains("too many"));
        let big = vec![KeyValuePair {
            key: "M".into(),
            value: "1".repeat(MAX_PROPERTY_BYTES + 1),
        }];
        assert!(index_params(&big).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn index_params_merge_the_params_json() {
        let pairs = vec![
            KeyValuePair {
                key: "index_type".into(),
                value: "HNSW".into(),
            },
            KeyValuePair {
                key: "params".into(),
                value: r#"{"M": 8, "efConstruction": "64"}"#.into(),
            },
        ];
        let p = index_params(&pairs).unwrap();
        assert_eq!(p["index_type"], "HNSW");
        assert_eq!((p["M"].as_str(), p["efConstruction"].as_str()), ("8", "64"));
    }
}
