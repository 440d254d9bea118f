//! Partitions: create, drop, has, show, statistics, load and release.

use quarry_engine::Named;
use quarry_proto::common::Status;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, ok};

pub(super) async fn create_partition(s: &Service, r: CreatePartitionRequest) -> Handled<Status> {
    s.engine
        .create_partition(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_name,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn drop_partition(s: &Service, r: DropPartitionRequest) -> Handled<Status> {
    s.engine
        .drop_partition(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_name,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn has_partition(s: &Service, r: HasPartitionRequest) -> Handled<BoolResponse> {
    let value = s
        .engine
        .has_partition(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_name,
        )
        .await
        .map_err(engine)?;
    Ok(BoolResponse {
        status: Some(ok()),
        value,
    })
}

pub(super) async fn show_partitions(
    s: &Service,
    r: ShowPartitionsRequest,
) -> Handled<ShowPartitionsResponse> {
    let m = s
        .engine
        .list_partitions(Named::new(&r.db_name, &r.collection_name))
        .await
        .map_err(engine)?;
    let progress = s.load_progress(&m);
    convert::show_partitions(&m, &r, progress).map_err(engine)
}

pub(super) async fn get_partition_statistics(
    s: &Service,
    r: GetPartitionStatisticsRequest,
) -> Handled<GetPartitionStatisticsResponse> {
    let rows = s
        .engine
        .partition_row_count(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_name,
        )
        .await
        .map_err(engine)?;
    Ok(GetPartitionStatisticsResponse {
        status: Some(ok()),
        stats: convert::row_count(rows),
    })
}

pub(super) async fn load_partitions(s: &Service, r: LoadPartitionsRequest) -> Handled<Status> {
    let replicas = convert::replica_number(r.replica_number);
    s.engine
        .load_partitions(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_names,
            replicas,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn release_partitions(
    s: &Service,
    r: ReleasePartitionsRequest,
) -> Handled<Status> {
    s.engine
        .release_partitions(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_names,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}
