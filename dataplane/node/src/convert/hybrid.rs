//! Hybrid search requests: the ann search requests (each a `SearchRequest`, converted as a
//! search is) and `rank_params`: `strategy` (`rrf`, the default, or `weighted`), `params`
//! (JSON: `{"k": 60}`; `{"weights": [..], "norm_score": true}`), `limit`, `offset`,
//! `round_decimal`, and the grouping (`group_by_field`, `group_size`, `strict_group_size`,
//! `rank_group_scorer`). Error texts are Milvus's.

use quarry_engine::{GroupScorer, HybridInput, Ranker};
use quarry_proto::service::HybridSearchRequest;
use quarry_types::limits::{MAX_ROUND_DECIMAL, MAX_TOPK};
use serde_json::Value as Json;

use super::params::{count_param, param, shown};
use super::results::SearchAnswer;
use super::search::{group_options, search};
use super::ConvResult;

/// RRF's `k` must lie in (0, this) (Milvus).
const MAX_RRF_K: f64 = 16384.0;

/// The reranker of `rank_params`.
pub fn ranker(rank_params: &[quarry_proto::common::KeyValuePair]) -> ConvResult<Ranker> {
    let strategy = match param(rank_params, "strategy") {
        None => return Ok(Ranker::Rrf { k: 60.0 }),
        Some(s) => s.trim(),
    };
    if strategy != "rrf" && strategy != "weighted" {
        return Err(format!("unsupported rank type {}", shown(strategy)));
    }
    let raw = param(rank_params, "params").ok_or("params not found in rank_params")?;
    let params: Json =
        serde_json::from_str(raw).map_err(|e| format!("Parse rerank params failed, err: {e}"))?;
    let Json::Object(params) = params else {
        return Err(format!(
            "Parse rerank params failed, err: {} is not an object",
            shown(raw)
        ));
    };
    if strategy == "rrf" {
        let k = match params.get("k") {
            None => 60.0,
            Some(Json::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(_) => return Err("The type of rank param k should be float".into()),
        };
        if !(k > 0.0 && k < MAX_RRF_K) {
            return Err(format!(
                "The rank params k should be in range (0, {})",
                MAX_RRF_K as i64
            ));
        }
        return Ok(Ranker::Rrf { k: k as f32 });
    }
    let weights = match params.get("weights") {
        None => return Err("weights not found".into()),
        Some(Json::Array(list)) => list
            .iter()
            .map(|w| {
                w.as_f64().ok_or_else(|| {
                    format!(
                        "Parse weights param failed, weight should be []float, bug got: {}",
                        shown(&Json::Array(list.clone()).to_string())
                    )
                })
            })
            .collect::<ConvResult<Vec<f64>>>()?,
        Some(other) => {
            return Err(format!(
                "Parse weights param failed, weight should be []float, bug got: {}",
                shown(&other.to_string())
            ))
        }
    };
    if weights.iter().any(|w| !(0.0..=1.0).contains(w)) {
        return Err("rank param weight should be in range [0, 1]".into());
    }
    let norm = match params.get("norm_score") {
        None => false,
        Some(Json::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "Weighted rerank err, norm_score should been bool type, but [norm_score:{}]'s \
                 type is not bool",
                shown(&other.to_string())
            ))
        }
    };
    Ok(Ranker::Weighted {
        weights: weights.into_iter().map(|w| w as f32).collect(),
        norm,
    })
}

/// `rank_group_scorer`: max (the default), sum or avg.
fn group_scorer(rank_params: &[quarry_proto::common::KeyValuePair]) -> ConvResult<GroupScorer> {
    match param(rank_params, "rank_group_scorer").map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(GroupScorer::Max),
        Some(s) if s == "max" => Ok(GroupScorer::Max),
        Some(s) if s == "sum" => Ok(GroupScorer::Sum),
        Some(s) if s == "avg" => Ok(GroupScorer::Avg),
        Some(s) => Err(format!(
            "input group scorer type: {} is not supported!: invalid parameter",
            shown(&s)
        )),
    }
}

/// A hybrid search request as the engine's input, and what its answer needs.
pub fn hybrid_search(r: HybridSearchRequest) -> ConvResult<(HybridInput, SearchAnswer)> {
    let rp = &r.rank_params;
    let limit = count_param(rp, "limit")?.ok_or("limit not found in rank_params")?;
    let offset = count_param(rp, "offset")?.unwrap_or(0);
    if limit == 0 || limit.checked_add(offset).is_none_or(|w| w > MAX_TOPK) {
        return Err(format!(
            "invalid max query result window, (offset+limit) should be in range [1, {MAX_TOPK}], \
             but got {}",
            limit as u128 + offset as u128
        ));
    }
    let round_decimal = match param(rp, "round_decimal") {
        None => -1,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n == -1 || (0..=MAX_ROUND_DECIMAL).contains(&n) => n as i32,
            _ => {
                return Err(format!(
                    "round_decimal [{}] is invalid, should be -1 or an integer in range \
                     [0, {MAX_ROUND_DECIMAL}]",
                    shown(raw)
                ))
            }
        },
    };
    // a ranker function (2.6) replaces rank_params' strategy and params
    let ranker = match super::function_ranker(r.function_score.as_ref())? {
        Some(f) => f,
        None => ranker(rp)?,
    };
    let group_scorer = group_scorer(rp)?;
    let mut group = group_options(rp)?;
    let mut subs = Vec::with_capacity(r.requests.len().min(1025));
    // checked by the engine too; here before converting a request's vectors
    if r.requests.len() > quarry_types::limits::MAX_HYBRID_REQUESTS {
        return Err(format!(
            "maximum of ann search requests is {}",
            quarry_types::limits::MAX_HYBRID_REQUESTS
        ));
    }
    let mut sub_group = None;
    for (i, mut sub) in r.requests.into_iter().enumerate() {
        // the collection, partitions and output fields are the hybrid search's; an ann
        // search's offset and round_decimal are too (pymilvus repeats them in each)
        sub.collection_name = r.collection_name.clone();
        let (input, answer) = search(sub).map_err(|e| format!("ann search request {i}: {e}"))?;
        if !answer.order_by.is_empty() {
            return Err("order_by is not supported for hybrid search: invalid parameter".into());
        }
        if answer.ranker.is_some() {
            return Err(
                "a ranker function goes on the hybrid search, not on its ann search requests"
                    .into(),
            );
        }
        // pymilvus 2.4 sends group_by_field only with the ann searches: it groups all of them
        if i == 0 {
            sub_group = input.group.clone();
        } else if input.group != sub_group {
            return Err(
                "the ann search requests of a hybrid search group differently: give \
                 group_by_field to the hybrid search"
                    .into(),
            );
        }
        subs.push(input);
    }
    if group.is_none() {
        group = sub_group;
    }
    let nq = subs.first().map_or(0, |s| s.nq());
    let answer = SearchAnswer {
        collection: r.collection_name,
        nq,
        topk: limit,
        round_decimal,
        ranker: None,
        order_by: vec![],
        iter_v2: None,
        iterator: None,
    };
    let input = HybridInput {
        subs,
        ranker,
        limit,
        offset,
        output_fields: r.output_fields,
        partitions: r.partition_names,
        group,
        group_scorer,
    };
    Ok((input, answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use quarry_proto::common::{KeyValuePair, PlaceholderGroup, PlaceholderType, PlaceholderValue};
    use quarry_proto::service::{search_request, SearchRequest};

    fn kvs(pairs: &[(&str, &str)]) -> Vec<KeyValuePair> {
        pairs
            .iter()
            .map(|(k, v)| KeyValuePair {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    fn sub(field: &str, limit: &str) -> SearchRequest {
        let group = PlaceholderGroup {
            placeholders: vec![PlaceholderValue {
                tag: "$0".into(),
                r#type: PlaceholderType::FloatVector as i32,
                values: vec![[1f32.to_le_bytes(), 0f32.to_le_bytes()].concat()],
            }],
        };
        SearchRequest {
            search_input: Some(search_request::SearchInput::PlaceholderGroup(
                group.encode_to_vec(),
            )),
            search_params: kvs(&[("topk", limit), ("anns_field", field), ("offset", "5")]),
            dsl: "id > 1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn rankers_parse_with_milvus_defaults_and_errors() {
        assert_eq!(ranker(&[]).unwrap(), Ranker::Rrf { k: 60.0 });
        assert_eq!(
            ranker(&kvs(&[("strategy", "rrf"), ("params", r#"{"k": 10}"#)])).unwrap(),
            Ranker::Rrf { k: 10.0 }
        );
        assert_eq!(
            ranker(&kvs(&[("strategy", "rrf"), ("params", "{}")])).unwrap(),
            Ranker::Rrf { k: 60.0 }
        );
        assert_eq!(
            ranker(&kvs(&[
                ("strategy", "weighted"),
                ("params", r#"{"weights": [0.2, 1], "norm_score": true}"#)
            ]))
            .unwrap(),
            Ranker::Weighted {
                weights: vec![0.2, 1.0],
                norm: true
            }
        );
        for (pairs, want) in [
            (vec![("strategy", "max")], "unsupported rank type max"),
            (vec![("strategy", "rrf")], "params not found in rank_params"),
            (
                vec![("strategy", "rrf"), ("params", "{")],
                "Parse rerank params failed",
            ),
            (
                vec![("strategy", "rrf"), ("params", r#"{"k": 0}"#)],
                "The rank params k should be in range (0, 16384)",
            ),
            (
                vec![("strategy", "rrf"), ("params", r#"{"k": 16384}"#)],
                "The rank params k should be in range (0, 16384)",
            ),
            (
                vec![("strategy", "rrf"), ("params", r#"{"k": "a"}"#)],
                "The type of rank param k should be float",
            ),
            (
                vec![("strategy", "weighted"), ("params", "{}")],
                "weights not found",
            ),
            (
                vec![
                    ("strategy", "weighted"),
                    ("params", r#"{"weights": [1.5]}"#),
                ],
                "rank param weight should be in range [0, 1]",
            ),
            (
                vec![
                    ("strategy", "weighted"),
                    ("params", r#"{"weights": ["x"]}"#),
                ],
                "weight should be []float",
            ),
            (
                vec![
                    ("strategy", "weighted"),
                    ("params", r#"{"weights": [1], "norm_score": "yes"}"#),
                ],
                "norm_score should been bool type",
            ),
        ] {
            let e = ranker(&kvs(&pairs)).unwrap_err();
            assert!(e.contains(want), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn a_hybrid_request_becomes_the_engine_input() {
        let r = HybridSearchRequest {
            collection_name: "docs".into(),
            requests: vec![sub("a", "7"), sub("b", "3")],
            rank_params: kvs(&[
                ("strategy", "weighted"),
                ("params", r#"{"weights":[0.5,0.5]}"#),
                ("limit", "4"),
                ("offset", "2"),
                ("round_decimal", "3"),
                ("group_by_field", "tag"),
                ("group_size", "2"),
                ("rank_group_scorer", "sum"),
            ]),
            output_fields: vec!["tag".into()],
            partition_names: vec!["p".into()],
            ..Default::default()
        };
        let (input, answer) = hybrid_search(r).unwrap();
        assert_eq!(input.subs.len(), 2);
        assert_eq!((input.subs[0].topk, input.subs[1].topk), (7, 3));
        assert_eq!(input.subs[1].anns_field, "b");
        assert_eq!(input.subs[0].filter, "id > 1");
        assert_eq!((input.limit, input.offset), (4, 2));
        assert_eq!(input.group.as_ref().unwrap().size, 2);
        assert_eq!(input.group_scorer, GroupScorer::Sum);
        assert_eq!((answer.nq, answer.topk, answer.round_decimal), (1, 4, 3));
        assert_eq!(answer.collection, "docs");
    }

    #[test]
    fn a_sparse_request_counts_its_query_rows() {
        let rows = vec![
            quarry_types::sparse::encode(&[(3, 0.5)]),
            quarry_types::sparse::encode(&[(1, 1.0), (9, 2.0)]),
        ];
        let group = PlaceholderGroup {
            placeholders: vec![PlaceholderValue {
                tag: "$0".into(),
                r#type: PlaceholderType::SparseFloatVector as i32,
                values: rows.clone(),
            }],
        };
        let sparse = SearchRequest {
            search_input: Some(search_request::SearchInput::PlaceholderGroup(
                group.encode_to_vec(),
            )),
            search_params: kvs(&[
                ("topk", "5"),
                ("anns_field", "sp"),
                ("params", r#"{"drop_ratio_search": 0.2}"#),
            ]),
            ..Default::default()
        };
        let r = HybridSearchRequest {
            requests: vec![sparse],
            rank_params: kvs(&[("limit", "5")]),
            ..Default::default()
        };
        let (input, answer) = hybrid_search(r).unwrap();
        assert_eq!(answer.nq, 2);
        assert_eq!(input.subs[0].sparse, rows);
        assert!(input.subs[0].vectors.is_empty());
        assert_eq!(input.subs[0].drop_ratio_search, Some(0.2));
        assert_eq!(
            input.subs[0].vector_type,
            Some(quarry_types::DataType::SparseFloatVector)
        );
    }

    #[test]
    fn bad_hybrid_requests_are_refused() {
        let base = |rank: &[(&str, &str)]| HybridSearchRequest {
            requests: vec![sub("a", "7")],
            rank_params: kvs(rank),
            ..Default::default()
        };
        let e = |r| hybrid_search(r).unwrap_err();
        assert!(e(base(&[])).contains("limit not found in rank_params"));
        assert!(e(base(&[("limit", "0")])).contains("invalid max query result window"));
        assert!(e(base(&[("limit", "16384"), ("offset", "1")]))
            .contains("should be in range [1, 16384], but got 16385"));
        assert!(e(base(&[("limit", "1"), ("round_decimal", "9")])).contains("round_decimal [9]"));
        assert!(e(base(&[("limit", "1"), ("rank_group_scorer", "median")]))
            .contains("input group scorer type: median is not supported"));
        let mut f = base(&[("limit", "1")]);
        f.function_score = Some(quarry_proto::schema::FunctionScore {
            functions: vec![],
            params: vec![quarry_proto::common::KeyValuePair {
                key: "boost_mode".into(),
                value: "sum".into(),
            }],
        });
        assert!(e(f).contains("steers boost functions"));
        let mut many = base(&[("limit", "1")]);
        many.requests = vec![SearchRequest::default(); 1025];
        assert!(e(many).contains("maximum of ann search requests is 1024"));
        let mut bad_sub = base(&[("limit", "1")]);
        bad_sub.requests.push(SearchRequest::default());
        assert!(e(bad_sub).contains("ann search request 1: the search request carries no query"));
    }
}
