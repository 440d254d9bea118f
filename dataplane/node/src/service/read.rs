//! Reads: search, hybrid search and query (search by primary keys is refused in conversion).

use quarry_engine::Named;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, invalid};

pub(super) async fn search(s: &Service, r: SearchRequest) -> Handled<SearchResults> {
    let db = r.db_name.clone();
    let (input, answer) = convert::search(r).map_err(invalid)?;
    let hits = s
        .engine
        .search(Named::new(&db, &answer.collection), input)
        .await
        .map_err(engine)?;
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
