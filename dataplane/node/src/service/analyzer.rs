//! RunAnalyzer (pymilvus 2.5+ `run_analyzer`): the tokens an analyzer makes of some texts,
//! with their offsets and positions (`with_detail`) and the dimension BM25 gives them
//! (`with_hash`). The analyzer is the request's `analyzer_params`, or the analyzer of a
//! collection's analyzed VarChar field (`collection_name` and `field_name`).

use quarry_engine::{term_id, Named};
use quarry_expr::text::Analyzer;
use quarry_proto::service::*;
use quarry_types::function::analyzed;
use quarry_types::limits::{MAX_NQ, MAX_VARCHAR};

use super::handle::Handled;
use super::Service;
use crate::status::{engine, invalid, ok};

/// The analyzer a request names: a field's, or its parameters (empty: standard).
async fn analyzer_of(s: &Service, r: &RunAnalyzerRequest) -> Handled<Analyzer> {
    if r.collection_name.is_empty() {
        return Analyzer::from_params(Some(&r.analyzer_params)).map_err(invalid);
    }
    let meta = s
        .engine
        .describe_collection(Named::new(&r.db_name, &r.collection_name))
        .await
        .map_err(engine)?;
    let field = meta
        .schema
        .field(&r.field_name)
        .filter(|f| analyzed(f))
        .ok_or_else(|| {
            invalid(format!(
                "analyzer runner for field {:?} not exist: run_analyzer with a field takes a \
                 VarChar field with enable_analyzer or enable_match",
                r.field_name
            ))
        })?;
    Analyzer::from_params(field.param("analyzer_params")).map_err(invalid)
}

pub(super) async fn run(s: &Service, r: RunAnalyzerRequest) -> Handled<RunAnalyzerResponse> {
    if r.placeholder.len() > MAX_NQ {
        return Err(invalid(format!(
            "run_analyzer takes at most {MAX_NQ} texts, got {}",
            r.placeholder.len()
        )));
    }
    if r.analyzer_names
        .iter()
        .any(|n| !n.is_empty() && n != "default")
    {
        return Err(invalid(
            "analyzer_names name analyzers of a multi-analyzer field, which quarry does not \
             serve yet",
        ));
    }
    let mut texts = Vec::with_capacity(r.placeholder.len());
    for t in &r.placeholder {
        if t.len() > MAX_VARCHAR {
            return Err(invalid(format!(
                "a text is {} bytes, more than the maximum of {MAX_VARCHAR}",
                t.len()
            )));
        }
        let t = String::from_utf8(t.clone()).map_err(|_| invalid("a text is not valid UTF-8"))?;
        texts.push(t);
    }
    let analyzer = analyzer_of(s, &r).await?;
    let (detail, hash) = (r.with_detail, r.with_hash);
    // analysis is CPU work
    let results = tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .map(|t| AnalyzerResult {
                tokens: analyzer
                    .analyze(t)
                    .into_iter()
                    .map(|tok| AnalyzerToken {
                        hash: if hash { term_id(&tok.text) } else { 0 },
                        start_offset: if detail { tok.start as i64 } else { 0 },
                        end_offset: if detail { tok.end as i64 } else { 0 },
                        position: if detail { tok.position as i64 } else { 0 },
                        position_length: if detail { 1 } else { 0 },
                        token: tok.text,
                    })
                    .collect(),
            })
            .collect()
    })
    .await
    .map_err(|e| invalid(format!("the analyzer failed: {e}")))?;
    Ok(RunAnalyzerResponse {
        status: Some(ok()),
        results,
    })
}
