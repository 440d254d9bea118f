//! Search and query answers: hits, scores (rounded as asked) and output columns to
//! `SearchResults` / `QueryResults`.

use quarry_engine::{QueryAnswer, QueryOutput, SearchHits};
use quarry_proto::schema as ps;
use quarry_proto::service::{QueryResults, SearchResults};
use quarry_types::{DataType, Pk};

use super::{column_to_proto, ids_to_proto, outputs_to_proto, success};

/// What the answer of a search needs from its request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchAnswer {
    pub collection: String,
    /// query vectors
    pub nq: usize,
    pub topk: usize,
    /// decimals to round scores to; -1: no rounding
    pub round_decimal: i32,
    /// a plain search's ranker function (`function_score`), for the engine
    pub ranker: Option<quarry_engine::Ranker>,
    /// a plain search's `order_by_fields`, for the engine
    pub order_by: Vec<quarry_engine::OrderKey>,
    /// a search iterator v2 page, for the handler
    pub iter_v2: Option<super::IterV2>,
    /// the served iterator page's token and last score, set by the handler
    pub iterator: Option<(String, f32)>,
}

impl SearchAnswer {
    /// The search answer of the engine's hits.
    pub fn results(self, hits: SearchHits, session_ts: u64) -> SearchResults {
        let mut ids: Vec<Pk> = Vec::new();
        let mut scores = Vec::new();
        let mut topks = Vec::new();
        for q in &hits.per_query {
            topks.push(q.len() as i64);
            for (pk, s) in q {
                ids.push(pk.clone());
                scores.push(round(*s, self.round_decimal));
            }
        }
        SearchResults {
            status: success(),
            results: Some(ps::SearchResultData {
                num_queries: self.nq as i64,
                top_k: self.topk as i64,
                fields_data: outputs_to_proto(&hits.outputs),
                scores,
                ids: Some(ids_to_proto(&ids, hits.pk_type)),
                topks,
                output_fields: hits.outputs.names,
                primary_field_name: hits.pk_field,
                group_by_field_value: hits.group_values.as_ref().map(column_to_proto),
                search_iterator_v2_results: self
                    .iterator
                    .map(|(token, last_bound)| ps::SearchIteratorV2Results { token, last_bound }),
                ..Default::default()
            }),
            collection_name: self.collection,
            session_ts,
        }
    }
}

/// A score rounded to `decimals` places (-1: as it is).
fn round(score: f32, decimals: i32) -> f32 {
    if decimals >= 0 {
        let p = 10f32.powi(decimals);
        (score * p).round() / p
    } else {
        score
    }
}

/// The answer of a query: the rows asked for, or `count(*)`.
pub fn query_results(collection: String, answer: QueryAnswer, session_ts: u64) -> QueryResults {
    let (fields_data, output_fields) = match answer.output {
        QueryOutput::Count(n) => (
            vec![ps::FieldData {
                r#type: DataType::Int64.code(),
                field_name: "count(*)".into(),
                field: Some(ps::field_data::Field::Scalars(ps::ScalarField {
                    data: Some(ps::scalar_field::Data::LongData(ps::LongArray {
                        data: vec![n as i64],
                    })),
                })),
                ..Default::default()
            }],
            vec!["count(*)".into()],
        ),
        QueryOutput::Rows(out) => (outputs_to_proto(&out), out.names),
    };
    QueryResults {
        status: success(),
        fields_data,
        collection_name: collection,
        output_fields,
        session_ts,
        primary_field_name: answer.pk_field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_rounded_as_asked() {
        assert_eq!(round(0.123456, 2), 0.12);
        assert_eq!(round(0.125, 0), 0.0);
        assert_eq!(round(0.123456, -1), 0.123456);
    }
}
