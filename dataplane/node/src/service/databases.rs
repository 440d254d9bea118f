//! Databases: create, drop, list, describe, alter. Their `db_name` is the database they act
//! on (not the session's database; `handle::serve` leaves it as sent).

use quarry_proto::common::Status;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, ok};

pub(super) async fn list_databases(s: &Service) -> Handled<ListDatabasesResponse> {
    let all = s.engine.list_databases().await.map_err(engine)?;
    Ok(convert::list_databases(&all))
}

pub(super) async fn describe_database(
    s: &Service,
    r: DescribeDatabaseRequest,
) -> Handled<DescribeDatabaseResponse> {
    let db = s.engine.database(&r.db_name).await.map_err(engine)?;
    Ok(convert::describe_database(db))
}

pub(super) async fn create_database(s: &Service, r: CreateDatabaseRequest) -> Handled<Status> {
    s.engine
        .create_database(&r.db_name, convert::kv(&r.properties))
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn drop_database(s: &Service, r: DropDatabaseRequest) -> Handled<Status> {
    s.engine.drop_database(&r.db_name).await.map_err(engine)?;
    Ok(ok())
}

pub(super) async fn alter_database(s: &Service, r: AlterDatabaseRequest) -> Handled<Status> {
    s.engine
        .alter_database(&r.db_name, convert::kv(&r.properties), r.delete_keys)
        .await
        .map_err(engine)?;
    Ok(ok())
}
