//! Collections: create, describe, list, drop, statistics, load and release (partitions are in
//! `partitions.rs`).

use quarry_engine::{EngineError, Named};
use quarry_proto::common::Status;
use quarry_proto::service::*;
use quarry_types::limits::MAX_COLLECTIONS;

use super::auth::Caller;
use super::handle::Handled;
use super::privileges::visible;
use super::Service;
use crate::convert;
use crate::status::{engine, invalid, ok};

pub(super) async fn create_collection(s: &Service, r: CreateCollectionRequest) -> Handled<Status> {
    let input = convert::create_collection(r).map_err(invalid)?;
    s.engine.create_collection(input).await.map_err(engine)?;
    Ok(ok())
}

pub(super) async fn drop_collection(s: &Service, r: DropCollectionRequest) -> Handled<Status> {
    s.engine
        .drop_collection(Named::new(&r.db_name, &r.collection_name))
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn has_collection(s: &Service, r: HasCollectionRequest) -> Handled<BoolResponse> {
    let found = s
        .engine
        .describe_collection_latest(Named::new(&r.db_name, &r.collection_name))
        .await;
    Ok(BoolResponse {
        status: Some(ok()),
        value: found.is_ok(),
    })
}

pub(super) async fn describe_collection(
    s: &Service,
    r: DescribeCollectionRequest,
) -> Handled<DescribeCollectionResponse> {
    let found = if r.collection_name.is_empty() && r.collection_id != 0 {
        s.engine.describe_collection_by_id(r.collection_id)
    } else {
        s.engine
            .describe_collection_latest(Named::new(&r.db_name, &r.collection_name))
            .await
    };
    let meta = found.map_err(engine)?;
    let db = s.engine.database(&meta.db).await.map_err(engine)?;
    Ok(convert::describe_collection(&meta, db.id))
}

pub(super) async fn show_collections(
    s: &Service,
    caller: Option<Caller>,
    r: ShowCollectionsRequest,
) -> Handled<ShowCollectionsResponse> {
    let all = s
        .engine
        .list_collections_in(&r.db_name)
        .await
        .map_err(engine)?;
    let in_memory = r.r#type == convert::SHOW_IN_MEMORY;
    let mut shown = Vec::with_capacity(all.len());
    if in_memory && !r.collection_names.is_empty() {
        // the named collections, each of which must be loaded (Milvus' deprecated form)
        if r.collection_names.len() > MAX_COLLECTIONS {
            return Err(invalid(format!(
                "too many collection names: {}, at most {MAX_COLLECTIONS}",
                r.collection_names.len()
            )));
        }
        for name in &r.collection_names {
            let m = s.describe(&r.db_name, name).await?;
            if !m.loaded {
                return Err(engine(EngineError::NotLoaded(m.name)));
            }
            let progress = s.load_progress(&m);
            shown.push((m, progress));
        }
    } else {
        for m in all {
            let progress = if m.loaded { s.load_progress(&m) } else { 0 };
            if m.loaded || !in_memory {
                shown.push((m, progress));
            }
        }
    }
    if let Some(caller) = caller {
        // with authentication on, the collections the caller's roles name (privileges.rs)
        let state = s.engine.meta().snapshot();
        shown.retain(|(m, _)| visible(&state, &caller, &r.db_name, &m.name));
    }
    Ok(convert::show_collections(&shown))
}

pub(super) async fn get_collection_statistics(
    s: &Service,
    r: GetCollectionStatisticsRequest,
) -> Handled<GetCollectionStatisticsResponse> {
    let rows = s
        .engine
        .row_count(Named::new(&r.db_name, &r.collection_name))
        .await
        .map_err(engine)?;
    Ok(GetCollectionStatisticsResponse {
        status: Some(ok()),
        stats: convert::row_count(rows),
    })
}

pub(super) async fn load_collection(s: &Service, r: LoadCollectionRequest) -> Handled<Status> {
    let replicas = convert::replica_number(r.replica_number);
    s.engine
        .load_collection(Named::new(&r.db_name, &r.collection_name), replicas)
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn release_collection(
    s: &Service,
    r: ReleaseCollectionRequest,
) -> Handled<Status> {
    s.engine
        .release_collection(Named::new(&r.db_name, &r.collection_name))
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn get_load_state(
    s: &Service,
    r: GetLoadStateRequest,
) -> Handled<GetLoadStateResponse> {
    let m = s.describe(&r.db_name, &r.collection_name).await?;
    let loaded = convert::partitions_loaded(&m, &r.partition_names).map_err(engine)?;
    Ok(GetLoadStateResponse {
        status: Some(ok()),
        state: convert::load_state(loaded, s.load_progress(&m)) as i32,
    })
}

pub(super) async fn get_loading_progress(
    s: &Service,
    r: GetLoadingProgressRequest,
) -> Handled<GetLoadingProgressResponse> {
    let m = s.describe(&r.db_name, &r.collection_name).await?;
    if !m.loaded {
        return Err(engine(EngineError::NotLoaded(m.name)));
    }
    if !convert::partitions_loaded(&m, &r.partition_names).map_err(engine)? {
        let name = r.partition_names.join(",");
        return Err(engine(EngineError::PartitionNotLoaded(name)));
    }
    Ok(convert::loading_progress(s.load_progress(&m)))
}
