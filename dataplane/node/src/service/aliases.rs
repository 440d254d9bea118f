//! Aliases: create, drop, alter (one catalog commit), describe, list. The request's database
//! is resolved by `handle::serve`.

use quarry_proto::common::Status;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, ok};

pub(super) async fn create_alias(s: &Service, r: CreateAliasRequest) -> Handled<Status> {
    s.engine
        .create_alias(&r.db_name, &r.alias, &r.collection_name)
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn drop_alias(s: &Service, r: DropAliasRequest) -> Handled<Status> {
    s.engine
        .drop_alias(&r.db_name, &r.alias)
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn alter_alias(s: &Service, r: AlterAliasRequest) -> Handled<Status> {
    s.engine
        .alter_alias(&r.db_name, &r.alias, &r.collection_name)
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn describe_alias(
    s: &Service,
    r: DescribeAliasRequest,
) -> Handled<DescribeAliasResponse> {
    let target = s
        .engine
        .describe_alias(&r.db_name, &r.alias)
        .await
        .map_err(engine)?;
    Ok(convert::describe_alias(r.db_name, r.alias, target.name))
}

pub(super) async fn list_aliases(
    s: &Service,
    r: ListAliasesRequest,
) -> Handled<ListAliasesResponse> {
    let aliases = s
        .engine
        .list_aliases(&r.db_name, &r.collection_name)
        .await
        .map_err(engine)?;
    Ok(convert::list_aliases(r.db_name, r.collection_name, aliases))
}
