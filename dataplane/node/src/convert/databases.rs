//! Databases and aliases: catalog entries to their answers.

use quarry_meta::DatabaseMeta;
use quarry_proto::service::{
    DescribeAliasResponse, DescribeDatabaseResponse, ListAliasesResponse, ListDatabasesResponse,
};

use super::{success, to_kv};

pub fn list_databases(all: &[DatabaseMeta]) -> ListDatabasesResponse {
    ListDatabasesResponse {
        status: success(),
        db_names: all.iter().map(|d| d.name.clone()).collect(),
        created_timestamp: all.iter().map(|d| d.created_ts).collect(),
        db_ids: all.iter().map(|d| d.id).collect(),
    }
}

pub fn describe_database(db: DatabaseMeta) -> DescribeDatabaseResponse {
    DescribeDatabaseResponse {
        status: success(),
        db_name: db.name,
        db_id: db.id,
        created_timestamp: db.created_ts,
        properties: to_kv(&db.properties),
    }
}

pub fn describe_alias(db: String, alias: String, collection: String) -> DescribeAliasResponse {
    DescribeAliasResponse {
        status: success(),
        db_name: db,
        alias,
        collection,
    }
}

pub fn list_aliases(db: String, collection: String, aliases: Vec<String>) -> ListAliasesResponse {
    ListAliasesResponse {
        status: success(),
        db_name: db,
        collection_name: collection,
        aliases,
    }
}
