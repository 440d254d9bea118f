//! Indexes: create, describe, drop, state and build progress.

use quarry_engine::{AlterProperties, Named};
use quarry_proto::common::Status;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, invalid, ok};

pub(super) async fn create_index(s: &Service, r: CreateIndexRequest) -> Handled<Status> {
    let params = convert::index_params(&r.extra_params).map_err(invalid)?;
    s.engine
        .create_index(
            Named::new(&r.db_name, &r.collection_name),
            &r.field_name,
            &r.index_name,
            params,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn describe_index(
    s: &Service,
    r: DescribeIndexRequest,
) -> Handled<DescribeIndexResponse> {
    let infos = s
        .engine
        .describe_index(
            Named::new(&r.db_name, &r.collection_name),
            &r.field_name,
            &r.index_name,
        )
        .await
        .map_err(engine)?;
    Ok(convert::describe_index(infos))
}

pub(super) async fn drop_index(s: &Service, r: DropIndexRequest) -> Handled<Status> {
    s.engine
        .drop_index(
            Named::new(&r.db_name, &r.collection_name),
            &r.field_name,
            &r.index_name,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn alter_index(s: &Service, r: AlterIndexRequest) -> Handled<Status> {
    let change = AlterProperties {
        set: convert::kv(&r.extra_params),
        delete: r.delete_keys,
    };
    s.engine
        .alter_index_properties(
            Named::new(&r.db_name, &r.collection_name),
            &r.index_name,
            change,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn get_index_state(
    s: &Service,
    r: GetIndexStateRequest,
) -> Handled<GetIndexStateResponse> {
    let infos = s
        .engine
        .describe_index(
            Named::new(&r.db_name, &r.collection_name),
            &r.field_name,
            &r.index_name,
        )
        .await
        .map_err(engine)?;
    Ok(convert::index_state(&infos))
}

pub(super) async fn get_index_build_progress(
    s: &Service,
    r: GetIndexBuildProgressRequest,
) -> Handled<GetIndexBuildProgressResponse> {
    let infos = s
        .engine
        .describe_index(
            Named::new(&r.db_name, &r.collection_name),
            &r.field_name,
            &r.index_name,
        )
        .await
        .map_err(engine)?;
    Ok(convert::index_build_progress(&infos))
}
