//! Search and query requests: query vectors, `search_params` (`topk`, `offset`,
//! `round_decimal`, `metric_type`, `anns_field`, the `params` JSON with `ef`, `nprobe`,
//! `radius`, `range_filter`, `drop_ratio_search`, `refine_k`; `group_by_field`, `group_size`, `strict_group_size`),
//! `query_params` (`limit`, `offset`), into the engine's inputs.

use prost::Message;
use quarry_engine::{GroupBy, QueryInput, SearchInput};
use quarry_proto::common::{KeyValuePair, PlaceholderGroup, PlaceholderType};
use quarry_proto::service::{search_request, QueryRequest, SearchRequest};
use quarry_types::limits::{MAX_DIM, MAX_NQ, MAX_ROUND_DECIMAL};
use quarry_types::{vector, DataType};

use super::params::{count_param, go_bool, param, shown};
use super::results::SearchAnswer;
use super::{templates, ConvResult};

/// The search parameters Quarry understands, parsed (bounds are checked by the engine).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub anns_field: String,
    pub metric: Option<String>,
    pub topk: usize,
    pub offset: usize,
    pub ef: Option<usize>,
    pub nprobe: Option<usize>,
    pub radius: Option<f32>,
    pub range_filter: Option<f32>,
    /// -1: no rounding
    pub round_decimal: i32,
    pub group: Option<GroupBy>,
    /// sparse searches (range checked by the engine)
    pub drop_ratio_search: Option<f32>,
    /// `order_by_fields` (pymilvus 2.6)
    pub order_by: Vec<quarry_engine::OrderKey>,
    /// a page of search iterator v2 (`search_iter_v2`)
    pub iter_v2: Option<IterV2>,
    /// candidates re-scored by a refining graph, as a multiple of topk (checked by the engine)
    pub refine_k: Option<f32>,
}

/// A page of a search iterator v2 (pymilvus 2.5+): the iterator's token (none on its first
/// page), the last score of the page before, and the page's size.
#[derive(Debug, Clone, PartialEq)]
pub struct IterV2 {
    pub token: Option<String>,
    pub last_bound: Option<f32>,
    pub batch: usize,
}

/// The longest search iterator token taken (the cursors are kept under them).
const MAX_ITER_TOKEN: usize = 64;

/// The search iterator v2 page a search asks for: `search_iter_v2`, `search_iter_id`,
/// `search_iter_last_bound`, `search_iter_batch_size` (the page size; `topk` otherwise).
fn iter_v2(sp: &[KeyValuePair], topk: usize) -> ConvResult<Option<IterV2>> {
    if bool_param(sp, "search_iter_v2")? != Some(true) {
        return Ok(None);
    }
    let last_bound = match param(sp, "search_iter_last_bound") {
        None => None,
        Some(raw) => Some(
            raw.trim()
                .parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    format!(
                        "search_iter_last_bound [{}] is invalid, it should be a number",
                        shown(raw)
                    )
                })?,
        ),
    };
    let token = param(sp, "search_iter_id").map(str::trim);
    // the server keeps a cursor under the token: tokens it issued are 24 characters
    if let Some(t) = token.filter(|t| t.len() > MAX_ITER_TOKEN) {
        return Err(format!(
            "search_iter_id [{}] is invalid, it should be at most {MAX_ITER_TOKEN} bytes",
            shown(t)
        ));
    }
    Ok(Some(IterV2 {
        token: token.map(str::to_string),
        last_bound,
        batch: count_param(sp, "search_iter_batch_size")?.unwrap_or(topk),
    }))
}

/// A boolean parameter as Go's `strconv.ParseBool` reads it (pymilvus sends `True`/`False`).
pub(super) fn bool_param(pairs: &[KeyValuePair], key: &str) -> ConvResult<Option<bool>> {
    match param(pairs, key) {
        None => Ok(None),
        Some(raw) => go_bool(raw).map(Some).ok_or_else(|| {
            format!(
                "{key} [{}] is invalid, it should be true or false",
                shown(raw.trim())
            )
        }),
    }
}

/// The grouping of a search (`search_params`) or hybrid search (`rank_params`):
/// `group_by_field`, `group_size` (default 1), `strict_group_size` (default false). The size's
/// upper bound and the field are checked by the engine.
pub fn group_options(pairs: &[KeyValuePair]) -> ConvResult<Option<GroupBy>> {
    let field = param(pairs, "group_by_field").map(str::trim).unwrap_or("");
    let size = match param(pairs, "group_size") {
        None => None,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n <= 0 => {
                return Err(format!(
                    "input group size:{n} is negative, failed to do search_groupby: invalid \
                     parameter"
                ))
            }
            Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Err(_) => {
                return Err(format!(
                    "failed to parse input group size:{}: invalid parameter",
                    shown(raw)
                ))
            }
        },
    };
    let strict = bool_param(pairs, "strict_group_size")?;
    if field.is_empty() {
        if size.is_some() || strict == Some(true) {
            return Err(
                "group_size and strict_group_size need a group_by_field: invalid parameter".into(),
            );
        }
        return Ok(None);
    }
    Ok(Some(GroupBy {
        field: field.to_string(),
        size: size.unwrap_or(1),
        strict: strict.unwrap_or(false),
    }))
}

/// Parses a search's `search_params`: `topk`, `offset`, `round_decimal`, `metric_type`,
/// `anns_field` and the `params` JSON (`ef`, `nprobe`, `radius`, `range_filter`). Negative or
/// non-numeric values are refused.
/// Search options pymilvus sends for features Quarry does not serve: refused rather than
/// ignored (an ignored grouping by a JSON path would group by something else).
const UNSERVED_SEARCH_OPTIONS: [(&str, &str); 4] = [
    (
        "json_path",
        "grouping by a JSON path is not supported by quarry yet",
    ),
    (
        "json_type",
        "grouping by a JSON path is not supported by quarry yet",
    ),
    (
        "strict_cast",
        "grouping by a JSON path is not supported by quarry yet",
    ),
    (
        "analyzer_name",
        "analyzer_name picks an analyzer of a multi-analyzer field, which quarry does not serve yet",
    ),
];

pub fn search_options(sp: &[KeyValuePair]) -> ConvResult<SearchOptions> {
    if let Some((_, why)) = UNSERVED_SEARCH_OPTIONS
        .iter()
        .find(|(k, _)| param(sp, k).is_some_and(|v| !v.trim().is_empty()))
    {
        return Err(why.to_string());
    }
    let topk = count_param(sp, "topk")?.unwrap_or(10);
    let offset = count_param(sp, "offset")?.unwrap_or(0);
    let extra: serde_json::Value = match param(sp, "params").filter(|p| !p.trim().is_empty()) {
        Some(p) => {
            serde_json::from_str(p).map_err(|e| format!("search params is not valid JSON: {e}"))?
        }
        None => serde_json::json!({}),
    };
    let group = group_options(sp)?;
    let number = |k: &str| -> ConvResult<Option<f64>> {
        match extra.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| format!("{k} [{}] is invalid, it should be a number", shown(s))),
            Some(other) => Err(format!(
                "{k} [{}] is invalid, it should be a number",
                shown(&other.to_string())
            )),
        }
    };
    let count = |k: &str| -> ConvResult<Option<usize>> {
        match number(k)? {
            None => Ok(None),
            Some(x) if x < 0.0 || x.fract() != 0.0 => Err(format!(
                "{k} [{x}] is invalid, it should be a non-negative integer"
            )),
            // saturates: the engine refuses anything over its bound
            Some(x) => Ok(Some(x as usize)),
        }
    };
    let ef = count("ef")?;
    let nprobe = count("nprobe")?;
    let round_decimal = match param(sp, "round_decimal") {
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
    let order_by = super::order_by::order_by_fields(param(sp, "order_by_fields").unwrap_or(""))?;
    // an iterator pages by score: pages sorted by fields would break its bounds (as Milvus)
    if !order_by.is_empty() && bool_param(sp, "iterator")? == Some(true) {
        return Err(
            "order_by is not supported when using search iterator: invalid parameter[expected=][actual=]"
                .into(),
        );
    }
    let metric = param(sp, "metric_type").map(str::to_string).or_else(|| {
        extra
            .get("metric_type")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    Ok(SearchOptions {
        anns_field: param(sp, "anns_field").unwrap_or("").to_string(),
        metric,
        topk,
        offset,
        ef,
        nprobe,
        radius: number("radius")?.map(|v| v as f32),
        range_filter: number("range_filter")?.map(|v| v as f32),
        round_decimal,
        group,
        drop_ratio_search: number("drop_ratio_search")?.map(|v| v as f32),
        order_by,
        iter_v2: iter_v2(sp, topk)?,
        refine_k: number("refine_k")?.map(|v| v as f32),
    })
}

/// A query's `limit` (`None` when absent) and `offset` (0 when absent). Negative or
/// non-numeric values are refused; the engine checks the result window.
pub fn query_window(qp: &[KeyValuePair]) -> ConvResult<(Option<usize>, usize)> {
    Ok((
        count_param(qp, "limit")?,
        count_param(qp, "offset")?.unwrap_or(0),
    ))
}

/// Query vectors from a serialized PlaceholderGroup, with the vector type they were sent as:
/// FloatVector (little-endian f32), BinaryVector (packed bits, returned one 0/1 value per
/// bit), Float16Vector and BFloat16Vector (2 little-endian bytes per value, widened).
pub fn vectors_from_placeholder(bytes: &[u8]) -> ConvResult<(DataType, Vec<Vec<f32>>)> {
    let group =
        PlaceholderGroup::decode(bytes).map_err(|e| format!("invalid placeholder group: {e}"))?;
    let p = group
        .placeholders
        .first()
        .ok_or("the search request carries no query vectors")?;
    let data_type = match PlaceholderType::try_from(p.r#type) {
        Ok(PlaceholderType::FloatVector) => DataType::FloatVector,
        Ok(PlaceholderType::BinaryVector) => DataType::BinaryVector,
        Ok(PlaceholderType::Float16Vector) => DataType::Float16Vector,
        Ok(PlaceholderType::BFloat16Vector) => DataType::BFloat16Vector,
        Ok(PlaceholderType::Int8Vector) => DataType::Int8Vector,
        _ => return Err(format!("query vectors of placeholder type {} are not supported by quarry yet (FloatVector, BinaryVector, Float16Vector, BFloat16Vector, Int8Vector, SparseFloatVector, VarChar)", p.r#type)),
    };
    let nq = p.values.len();
    if nq == 0 || nq > MAX_NQ {
        return Err(format!(
            "nq (number of search vector per search request) should be in range [1, {MAX_NQ}], \
             but got {nq}"
        ));
    }
    if data_type != DataType::FloatVector {
        let unit = match data_type {
            DataType::BinaryVector | DataType::Int8Vector => 1,
            _ => 2,
        };
        let vectors = p
            .values
            .iter()
            .map(|v| {
                if v.is_empty() || v.len() % unit != 0 || v.len() > MAX_DIM * 2 {
                    return Err(format!(
                        "a {} query vector of {} bytes is not a whole vector",
                        data_type.name(),
                        v.len()
                    ));
                }
                Ok(vector::decode(data_type, v))
            })
            .collect::<ConvResult<_>>()?;
        return Ok((data_type, vectors));
    }
    let vectors = p
        .values
        .iter()
        .map(|v| {
            if v.len() % 4 != 0 {
                return Err(
                    "a FloatVector query must be a whole number of little-endian f32 values"
                        .to_string(),
                );
            }
            Ok(v.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        })
        .collect::<ConvResult<_>>()?;
    Ok((DataType::FloatVector, vectors))
}

/// SparseFloatVector query rows (placeholder type 104, in their byte form, checked by the
/// engine) or the texts of a full-text search (type 21, VarChar, as UTF-8 bytes) from a
/// serialized PlaceholderGroup, with their type; `None` for the other placeholder types.
pub fn sparse_from_placeholder(bytes: &[u8]) -> ConvResult<Option<(DataType, Vec<Vec<u8>>)>> {
    let group =
        PlaceholderGroup::decode(bytes).map_err(|e| format!("invalid placeholder group: {e}"))?;
    let Some(p) = group.placeholders.into_iter().next() else {
        return Ok(None);
    };
    let data_type = match PlaceholderType::try_from(p.r#type) {
        Ok(PlaceholderType::SparseFloatVector) => DataType::SparseFloatVector,
        Ok(PlaceholderType::VarChar) => DataType::VarChar,
        _ => return Ok(None),
    };
    let nq = p.values.len();
    if nq == 0 || nq > MAX_NQ {
        return Err(format!(
            "nq (number of search vector per search request) should be in range [1, {MAX_NQ}], \
             but got {nq}"
        ));
    }
    Ok(Some((data_type, p.values)))
}

/// The query vectors of a search: their type, dense rows (`f32` form) and sparse rows (or,
/// for type VarChar, the UTF-8 texts of a full-text search).
pub type QueryVectors = (DataType, Vec<Vec<f32>>, Vec<Vec<u8>>);

/// A search request as the engine's input, and what its answer needs. A search by primary
/// keys (`ids`) needs the keys' vectors first: see [`search_with`].
pub fn search(r: SearchRequest) -> ConvResult<(SearchInput, SearchAnswer)> {
    let vectors = match &r.search_input {
        Some(search_request::SearchInput::PlaceholderGroup(b)) => match sparse_from_placeholder(b)?
        {
            Some((t, rows)) => (t, vec![], rows),
            None => {
                let (t, v) = vectors_from_placeholder(b)?;
                (t, v, vec![])
            }
        },
        Some(search_request::SearchInput::Ids(_)) => {
            return Err("a search by primary keys needs the keys' vectors first".into())
        }
        None => return Err("the search request carries no query vectors".into()),
    };
    search_with(r, vectors)
}

/// [`search`] with the query vectors given (those of a search by primary keys).
pub fn search_with(
    r: SearchRequest,
    (vector_type, vectors, sparse): QueryVectors,
) -> ConvResult<(SearchInput, SearchAnswer)> {
    let ranker = super::function_ranker(r.function_score.as_ref())?;
    let o = search_options(&r.search_params)?;
    let templates = templates(&r.expr_template_values)?;
    let (sparse, texts) = if vector_type == DataType::VarChar {
        let texts = sparse
            .into_iter()
            .map(|t| String::from_utf8(t).map_err(|_| "a query text is not valid UTF-8"))
            .collect::<Result<Vec<_>, _>>()?;
        (vec![], texts)
    } else {
        (sparse, vec![])
    };
    let nq = vectors.len() + sparse.len() + texts.len();
    // pages of one dense query vector, ranked by similarity alone, are served; any other
    // iterator is answered without a token, and pymilvus pages it by range searches (v1)
    let iter_v2 = o.iter_v2.filter(|_| {
        nq == 1
            && !vectors.is_empty()
            && o.group.is_none()
            && ranker.is_none()
            && o.order_by.is_empty()
            && o.radius.is_none()
            && o.range_filter.is_none()
            && o.offset == 0
    });
    let answer = SearchAnswer {
        collection: r.collection_name,
        nq,
        topk: o.topk,
        round_decimal: o.round_decimal,
        ranker,
        order_by: o.order_by,
        iter_v2,
        iterator: None,
    };
    let input = SearchInput {
        anns_field: o.anns_field,
        metric: o.metric,
        vectors,
        topk: o.topk,
        offset: o.offset,
        filter: r.dsl,
        templates,
        output_fields: r.output_fields,
        partitions: r.partition_names,
        ef: o.ef,
        nprobe: o.nprobe,
        radius: o.radius,
        range_filter: o.range_filter,
        group: o.group,
        vector_type: Some(vector_type),
        sparse,
        drop_ratio_search: o.drop_ratio_search,
        texts,
        refine_k: o.refine_k,
    };
    Ok((input, answer))
}

/// A query request in domain terms: the engine's input once the primary key's name is known.
pub struct QueryCall {
    pub collection: String,
    pub input: QueryInput,
}

pub fn query(r: QueryRequest) -> ConvResult<QueryCall> {
    let (limit, offset) = query_window(&r.query_params)?;
    let templates = templates(&r.expr_template_values)?;
    Ok(QueryCall {
        collection: r.collection_name,
        input: QueryInput {
            filter: r.expr,
            templates,
            output_fields: r.output_fields,
            partitions: r.partition_names,
            limit,
            offset,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kvs(pairs: &[(&str, &str)]) -> Vec<KeyValuePair> {
        pairs
            .iter()
            .map(|(k, v)| KeyValuePair {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    #[test]
    fn unserved_options_are_refused_not_ignored() {
        let o = search_options(&kvs(&[("order_by_fields", "price:desc")])).unwrap();
        assert!(o.order_by[0].desc);
        let e = search_options(&kvs(&[("order_by_fields", "price"), ("iterator", "True")]))
            .unwrap_err();
        assert!(
            e.contains("not supported when using search iterator"),
            "{e}"
        );
        let o = search_options(&kvs(&[
            ("search_iter_v2", "True"),
            ("search_iter_id", "abc"),
            ("search_iter_last_bound", "0.25"),
            ("search_iter_batch_size", "7"),
        ]))
        .unwrap();
        let want = IterV2 {
            token: Some("abc".into()),
            last_bound: Some(0.25),
            batch: 7,
        };
        assert_eq!(o.iter_v2, Some(want));
        let e = search_options(&kvs(&[
            ("search_iter_v2", "True"),
            ("search_iter_last_bound", "NaN"),
        ]))
        .unwrap_err();
        assert!(e.contains("search_iter_last_bound [NaN] is invalid"), "{e}");
        let long = "é".repeat(40);
        let e = search_options(&kvs(&[
            ("search_iter_v2", "True"),
            ("search_iter_id", &long),
        ]))
        .unwrap_err();
        assert!(e.contains("at most 64 bytes"), "{e}");
        assert_eq!(
            search_options(&kvs(&[("search_iter_last_bound", "x")]))
                .unwrap()
                .iter_v2,
            None
        );
        let e = search_options(&kvs(&[("json_path", "meta[\"a\"]")])).unwrap_err();
        assert!(e.contains("JSON path"), "{e}");
        assert!(search_options(&kvs(&[("order_by_fields", "")])).is_ok());
    }

    #[test]
    fn search_options_parse_and_refuse_bad_numbers() {
        let o = search_options(&kvs(&[
            ("topk", "5"),
            ("offset", "2"),
            ("params", r#"{"ef": 64, "nprobe": "10", "radius": "0.5"}"#),
            ("round_decimal", "3"),
        ]))
        .unwrap();
        assert_eq!(
            (o.topk, o.offset, o.ef, o.round_decimal),
            (5, 2, Some(64), 3)
        );
        assert_eq!((o.radius, o.nprobe), (Some(0.5), Some(10)));
        // huge values parse (saturating) so that the engine names its bound
        let o = search_options(&kvs(&[("topk", "9223372036854775808"), ("offset", "1")])).unwrap();
        assert_eq!((o.topk, o.offset), (1 << 63, 1));
        let o = search_options(&kvs(&[("topk", &"9".repeat(100))])).unwrap();
        assert_eq!(o.topk, usize::MAX);
        for (sp, want) in [
            (vec![("topk", "-1")], "topk [-1] is invalid"),
            (vec![("topk", "ten")], "topk [ten] is invalid"),
            (vec![("offset", "-3")], "offset [-3] is invalid"),
            (vec![("params", r#"{"ef": -1}"#)], "ef [-1] is invalid"),
            (
                vec![("params", r#"{"ef": "many"}"#)],
                "ef [many] is invalid",
            ),
            (vec![("params", r#"{"ef": 1.5}"#)], "ef [1.5] is invalid"),
            (
                vec![("params", r#"{"nprobe": -2}"#)],
                "nprobe [-2] is invalid",
            ),
            (
                vec![("params", r#"{"radius": [1]}"#)],
                "radius [[1]] is invalid",
            ),
            (vec![("round_decimal", "7")], "round_decimal [7] is invalid"),
            (vec![("round_decimal", "x")], "round_decimal [x] is invalid"),
            (
                vec![("group_by_field", "x"), ("group_size", "0")],
                "input group size:0 is negative",
            ),
            (
                vec![("group_by_field", "x"), ("group_size", "two")],
                "failed to parse input group size:two",
            ),
            (
                vec![("group_by_field", "x"), ("strict_group_size", "maybe")],
                "strict_group_size [maybe] is invalid",
            ),
            (vec![("group_size", "2")], "need a group_by_field"),
        ] {
            let e = search_options(&kvs(&sp)).unwrap_err();
            assert!(e.contains(want), "{sp:?}: {e}");
        }
        let long = "x".repeat(10_000);
        let e = search_options(&kvs(&[("topk", &long)])).unwrap_err();
        assert!(e.len() < 200, "long values are cut in messages: {e}");
    }

    #[test]
    fn grouping_parses() {
        let g = search_options(&kvs(&[
            ("group_by_field", "doc"),
            ("group_size", "3"),
            ("strict_group_size", "True"),
        ]))
        .unwrap()
        .group
        .unwrap();
        assert_eq!((g.field.as_str(), g.size, g.strict), ("doc", 3, true));
        let g = group_options(&kvs(&[("group_by_field", "doc")]))
            .unwrap()
            .unwrap();
        assert_eq!((g.size, g.strict), (1, false));
        assert_eq!(group_options(&kvs(&[("topk", "3")])).unwrap(), None);
        // an empty field name is no grouping (pymilvus never sends one otherwise)
        assert_eq!(
            group_options(&kvs(&[("group_by_field", "")])).unwrap(),
            None
        );
    }

    #[test]
    fn query_window_parses() {
        assert_eq!(query_window(&[]).unwrap(), (None, 0));
        assert_eq!(
            query_window(&kvs(&[("limit", "7"), ("offset", "3")])).unwrap(),
            (Some(7), 3)
        );
        assert!(query_window(&kvs(&[("limit", "-1")]))
            .unwrap_err()
            .contains("limit [-1] is invalid"));
    }

    fn float_vectors(nq: usize) -> Vec<u8> {
        PlaceholderGroup {
            placeholders: vec![quarry_proto::common::PlaceholderValue {
                tag: "$0".into(),
                r#type: PlaceholderType::FloatVector as i32,
                values: vec![1f32.to_le_bytes().to_vec(); nq],
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn nq_is_bounded() {
        assert_eq!(
            vectors_from_placeholder(&float_vectors(2)).unwrap().1.len(),
            2
        );
        let e = vectors_from_placeholder(&float_vectors(MAX_NQ + 1)).unwrap_err();
        assert!(
            e.contains("should be in range [1, 16384], but got 16385"),
            "{e}"
        );
    }

    #[test]
    fn a_search_request_becomes_the_engine_input() {
        let r = SearchRequest {
            collection_name: "docs".into(),
            dsl: "id > 1".into(),
            search_input: Some(search_request::SearchInput::PlaceholderGroup(
                float_vectors(3),
            )),
            search_params: kvs(&[("topk", "4"), ("round_decimal", "2")]),
            ..Default::default()
        };
        let (input, answer) = search(r).unwrap();
        assert_eq!((input.topk, input.vectors.len()), (4, 3));
        assert_eq!(input.filter, "id > 1");
        assert_eq!(
            (answer.collection.as_str(), answer.nq, answer.topk),
            ("docs", 3, 4)
        );
        assert_eq!(answer.round_decimal, 2);
        let no_vectors = SearchRequest::default();
        assert!(search(no_vectors).unwrap_err().contains("no query vectors"));
        let by_ids = SearchRequest {
            search_input: Some(search_request::SearchInput::Ids(Default::default())),
            ..Default::default()
        };
        assert!(search(by_ids)
            .unwrap_err()
            .contains("needs the keys' vectors first"));
    }

    #[test]
    fn a_query_window_is_converted() {
        // (no output fields stays empty here: the engine answers the primary key then)
        let call = query(QueryRequest {
            collection_name: "docs".into(),
            query_params: kvs(&[("limit", "5")]),
            ..Default::default()
        })
        .unwrap();
        let input = call.input;
        assert!(input.output_fields.is_empty());
        assert_eq!((input.limit, input.offset), (Some(5), 0));
    }
}
