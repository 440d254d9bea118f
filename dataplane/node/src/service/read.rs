//! Reads: search (by vectors or by primary keys, `search_by_pk.rs`; search iterator v2 pages,
//! `search_iter.rs`), hybrid search and query.

use quarry_engine::Named;
use quarry_proto::service::*;

use super::handle::Handled;
use super::{search_by_pk, Service};
use crate::convert;
use crate::status::{engine, invalid};

pub(super) async fn search(s: &Service, r: SearchRequest) -> Handled<SearchResults> {
    let db = r.db_name.clone();
    let (mut input, mut answer) = match &r.search_input {
        Some(search_request::SearchInput::Ids(ids)) => {
            let vectors = search_by_pk::vectors_of(s, &r, ids).await?;
            convert::search_with(r, vectors)
        }
        _ => convert::search(r),
    }
    .map_err(invalid)?;
    let page = answer
        .iter_v2
        .take()
        .map(|it| s.cursors.begin(it, &mut input));
    let mut hits = s
        .engine
        .search_ranked(
            Named::new(&db, &answer.collection),
            input,
            answer.ranker.take(),
            &std::mem::take(&mut answer.order_by),
        )
        .await
        .map_err(engine)?;
    answer.iterator = page.map(|p| s.cursors.finish(p, &mut hits));
    Ok(answer.results(hits, s.engine.now_ts()))
}

pub(super) async fn hybrid_search(s: &Service, r: HybridSearchRequest) -> Handled<SearchResults> {
    let db = r.db_name.clone();
    let (input, answer) = convert::hybrid_search(r).map_err(invalid)?;
    let hits = s
        .engine
        .hybrid_search(Named::new(&db, &answer.collection), input)
        .await
        .map_err(engine)?;
    Ok(answer.results(hits, s.engine.now_ts()))
}

pub(super) async fn query(s: &Service, r: QueryRequest) -> Handled<QueryResults> {
    let db = r.db_name.clone();
    let call = convert::query(r).map_err(invalid)?;
    let answer = s
        .engine
        .query(Named::new(&db, &call.collection), call.input)
        .await
        .map_err(engine)?;
    Ok(convert::query_results(
        call.collection,
        answer,
        s.engine.now_ts(),
    ))
}
