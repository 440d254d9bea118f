//! Collection management: rename (also into another database), alter properties, replicas,
//! manual compaction.

use std::collections::BTreeMap;

use quarry_engine::{AlterProperties, Named, ServingNode};
use quarry_meta::CollectionMeta;
use quarry_proto::common::Status;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, ok};

/// The collection a request names, or (pymilvus' form for these calls) gives the id of.
async fn by_name_or_id(s: &Service, db: &str, name: &str, id: i64) -> Handled<CollectionMeta> {
    if name.is_empty() {
        s.engine.describe_collection_by_id(id)
    } else {
        s.engine
            .describe_collection_latest(Named::new(db, name))
            .await
    }
    .map_err(engine)
}

pub(super) async fn rename_collection(s: &Service, r: RenameCollectionRequest) -> Handled<Status> {
    s.engine
        .rename_collection(
            Named::new(&r.db_name, &r.old_name),
            &r.new_db_name,
            &r.new_name,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn alter_collection(s: &Service, r: AlterCollectionRequest) -> Handled<Status> {
    let change = AlterProperties {
        set: convert::kv(&r.properties),
        delete: r.delete_keys,
    };
    s.engine
        .alter_collection_properties(Named::new(&r.db_name, &r.collection_name), change)
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn alter_collection_field(
    s: &Service,
    r: AlterCollectionFieldRequest,
) -> Handled<Status> {
    let change = AlterProperties {
        set: convert::kv(&r.properties),
        delete: r.delete_keys,
    };
    s.engine
        .alter_collection_field(
            Named::new(&r.db_name, &r.collection_name),
            &r.field_name,
            change,
        )
        .await
        .map_err(engine)?;
    Ok(ok())
}

pub(super) async fn get_replicas(
    s: &Service,
    r: GetReplicasRequest,
) -> Handled<GetReplicasResponse> {
    let meta = by_name_or_id(s, &r.db_name, &r.collection_name, r.collection_id).await?;
    let replicas: BTreeMap<u32, Vec<ServingNode>> = if !meta.loaded {
        BTreeMap::new()
    } else if let Some(router) = &s.router {
        router.replicas(&meta)
    } else {
        // standalone: this process serves every shard of the one replica
        let node = ServingNode {
            shard: 0,
            node: "standalone".into(),
            address: s.address.clone(),
        };
        let shards = (0..meta.shards)
            .map(|shard| ServingNode {
                shard,
                ..node.clone()
            })
            .collect();
        BTreeMap::from([(0, shards)])
    };
    Ok(convert::get_replicas(&meta, &replicas, r.with_shard_nodes))
}

pub(super) async fn manual_compaction(
    s: &Service,
    r: ManualCompactionRequest,
) -> Handled<ManualCompactionResponse> {
    let meta = by_name_or_id(s, &r.db_name, &r.collection_name, r.collection_id).await?;
    let options = convert::compaction_options(&r).map_err(crate::status::invalid)?;
    let (id, plans) = s
        .engine
        .manual_compaction(&meta, options.major)
        .await
        .map_err(engine)?;
    Ok(ManualCompactionResponse {
        status: Some(ok()),
        compaction_id: id,
        compaction_plan_count: plans as i32,
    })
}

pub(super) async fn get_compaction_state(
    s: &Service,
    r: GetCompactionStateRequest,
) -> Handled<GetCompactionStateResponse> {
    let progress = s
        .engine
        .compaction_progress(r.compaction_id)
        .await
        .map_err(engine)?;
    Ok(convert::compaction_state(progress))
}
