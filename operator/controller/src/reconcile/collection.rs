//! `Collection`: the collection in the cluster's catalog (create, alter properties, load and
//! release; drop on delete only with `deletionPolicy: Delete`), and its figures in `status`.
//! Changes a collection cannot take (schema, shards, consistency) stall the resource with
//! reason `NotSupported` and change nothing.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use quarry_crd::{Collection, DeletionPolicy, NodePool, Role};
use quarry_meta::{CollectionMeta, MetaService};
use serde_json::json;

use crate::catalog_plan::{
    collection_name, figures, new_collection, plan_collection, Change, Unsupported,
};
use crate::context::{is_paused, publish, record, Ctx, Namespaced};
use crate::coordinators::Hosted;
use crate::status::{event, Verdict};
use crate::{Error, Result};

/// On a `Collection` with `deletionPolicy: Delete`: the collection is dropped before the
/// resource goes.
pub const FINALIZER: &str = "quarry.dev/drop-collection";
/// On resources the operator made for collections and indexes created through the Milvus API:
/// they mirror the catalog (the operator updates them from it) instead of driving it.
pub const MIRROR_ANNOTATION: &str = "quarry.dev/mirror";

pub fn is_mirror<K: Resource>(obj: &K) -> bool {
    obj.annotations()
        .get(MIRROR_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// Adds or removes a finalizer (a merge patch of the list; other finalizers are kept).
pub async fn set_finalizer<K: Namespaced>(
    ctx: &Ctx,
    obj: &K,
    finalizer: &str,
    present: bool,
) -> Result<()> {
    let mut list: Vec<String> = obj.finalizers().to_vec();
    if list.iter().any(|f| f == finalizer) == present {
        return Ok(());
    }
    list.retain(|f| f != finalizer);
    if present {
        list.push(finalizer.to_string());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": list } })),
    )
    .await?;
    Ok(())
}

fn find(hosted: &Hosted, name: &str) -> Option<CollectionMeta> {
    hosted
        .meta
        .snapshot()
        .collections
        .values()
        .find(|c| c.name == name)
        .cloned()
}

/// Drops a collection with its topic and files (what a pymilvus drop does).
pub async fn drop_collection(hosted: &Hosted, meta: &CollectionMeta) -> Result<()> {
    hosted.meta.drop_collection(meta.id).await?;
    meta.delete_data(&*hosted.log, &*hosted.store).await?;
    tracing::info!(collection = %meta.name, id = meta.id, "collection dropped");
    Ok(())
}

pub async fn reconcile(col: Arc<Collection>, ctx: Arc<Ctx>) -> Result<Action> {
    let ns = col.namespace().unwrap_or_default();
    let name = collection_name(&col.spec, &col.name_any());
    let previous = col
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let policy = col.spec.deletion_policy.unwrap_or_default();
    let hosted = ctx
        .coordinators
        .get(&format!("{ns}/{}", col.spec.cluster_ref));
    if col.metadata.deletion_timestamp.is_some() {
        if col.finalizers().iter().any(|f| f == FINALIZER) {
            let Some(hosted) = hosted else {
                let v = Verdict {
                    phase: quarry_crd::Phase::Deleting,
                    reason: "ClusterNotReady".into(),
                    message: "waiting for the cluster's coordinator to drop the collection".into(),
                };
                publish(&ctx, col.as_ref(), &previous, &v, json!({})).await?;
                return Ok(Action::requeue(Duration::from_secs(10)));
            };
            if let Some(meta) = find(&hosted, &name) {
                drop_collection(&hosted, &meta).await?;
                record(
                    &ctx,
                    col.as_ref(),
                    event(
                        EventType::Normal,
                        "Dropped",
                        &format!("collection {name} and its data dropped (deletionPolicy: Delete)"),
                    ),
                )
                .await;
            }
            set_finalizer(&ctx, col.as_ref(), FINALIZER, false).await?;
        }
        ctx.metrics
            .set_phase("Collection", &format!("{ns}/{}", col.name_any()), None);
        ctx.metrics
            .forget_collection(&format!("{ns}/{}", col.spec.cluster_ref), &name);
        return Ok(Action::await_change());
    }
    if is_paused(col.as_ref()) {
        return Ok(Action::requeue(ctx.resync));
    }
    set_finalizer(
        &ctx,
        col.as_ref(),
        FINALIZER,
        policy == DeletionPolicy::Delete && !is_mirror(col.as_ref()),
    )
    .await?;
    let Some(hosted) = hosted else {
        let v = Verdict::reconciling(
            "ClusterNotReady",
            format!(
                "waiting for QuarryCluster {:?} and its coordinator",
                col.spec.cluster_ref
            ),
        );
        publish(&ctx, col.as_ref(), &previous, &v, json!({})).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    };
    if let Some(v) = unsupported_setting(&ctx, &col, &ns).await? {
        publish(&ctx, col.as_ref(), &previous, &v, json!({})).await?;
        return Ok(ctx.requeue(&v));
    }
    if !is_mirror(col.as_ref()) {
        let existing = find(&hosted, &name);
        match plan_collection(&name, &col.spec, existing.as_ref()) {
            Err(Unsupported(msg)) => {
                let v = Verdict::stalled("NotSupported", msg);
                let figures = match &existing {
                    Some(m) => status_figures(&hosted, m),
                    None => json!({}),
                };
                publish(&ctx, col.as_ref(), &previous, &v, figures).await?;
                return Ok(ctx.requeue(&v));
            }
            Ok(changes) => apply_changes(&ctx, &col, &hosted, &name, changes).await?,
        }
    }
    let Some(meta) = find(&hosted, &name) else {
        // a mirror whose collection is gone: the mirror loop deletes it
        let v = Verdict::reconciling(
            "CollectionNotFound",
            format!("collection {name} is not in the catalog"),
        );
        publish(&ctx, col.as_ref(), &previous, &v, json!({})).await?;
        return Ok(ctx.requeue(&v));
    };
    if !is_mirror(col.as_ref()) {
        // idempotent: also repairs a create whose topic step failed
        hosted.log.create_topic(&meta.topic(), meta.shards).await?;
    }
    let loaded = hosted.server.loaded_replicas(meta.id);
    let f = figures(&meta);
    let v = match &col.spec.load {
        Some(l) if !is_mirror(col.as_ref()) && loaded < l.replicas as u32 => Verdict::reconciling(
            "Loading",
            format!(
                "{loaded}/{} replicas of collection {name} loaded on query nodes",
                l.replicas
            ),
        ),
        _ => Verdict::ready(
            "Synced",
            format!(
                "collection {name}: {} rows in {} sealed segments",
                f.rows, f.sealed_segments
            ),
        ),
    };
    let figures = status_figures(&hosted, &meta);
    let figure = |k: &str| figures[k].as_i64().unwrap_or(0);
    ctx.metrics.set_collection(
        &format!("{ns}/{}", col.spec.cluster_ref),
        &name,
        &[
            ("rows", figure("rows")),
            ("sealed_segments", figure("sealedSegments")),
            ("growing_segments", figure("growingSegments")),
            ("indexed_rows", figure("indexedRows")),
            ("total_rows", figure("totalRows")),
            ("loaded_replicas", figure("loadedReplicas")),
        ],
    );
    publish(&ctx, col.as_ref(), &previous, &v, figures).await?;
    Ok(ctx.requeue(&v))
}

/// Settings the operator cannot honour yet, reported instead of ignored.
async fn unsupported_setting(ctx: &Ctx, col: &Collection, ns: &str) -> Result<Option<Verdict>> {
    if col.spec.database.as_deref().is_some_and(|d| d != "default") {
        return Ok(Some(Verdict::stalled(
            "NotSupported",
            "only the database \"default\" is supported",
        )));
    }
    let Some(pool) = col.spec.load.as_ref().and_then(|l| l.query_pool.clone()) else {
        return Ok(None);
    };
    let pools = Api::<NodePool>::namespaced(ctx.client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    let query: Vec<String> = pools
        .items
        .iter()
        .filter(|p| p.spec.cluster_ref == col.spec.cluster_ref && p.spec.role == Role::Query)
        .map(|p| p.name_any())
        .collect();
    Ok(if !query.contains(&pool) {
        Some(Verdict::stalled(
            "QueryPoolNotFound",
            format!(
                "no query NodePool {pool:?} in cluster {}",
                col.spec.cluster_ref
            ),
        ))
    } else {
        None
    })
}

async fn apply_changes(
    ctx: &Ctx,
    col: &Collection,
    hosted: &Hosted,
    name: &str,
    changes: Vec<Change>,
) -> Result<()> {
    for change in changes {
        let id = || {
            find(hosted, name)
                .map(|m| m.id)
                .ok_or_else(|| Error::Other(format!("collection {name} vanished")))
        };
        let note = match &change {
            Change::Create { shards, .. } => {
                let req = new_collection(name, &col.spec).map_err(|u| Error::Other(u.0))?;
                hosted.meta.create_collection(req).await?;
                let meta = find(hosted, name)
                    .ok_or_else(|| Error::Other(format!("collection {name} vanished")))?;
                hosted.log.create_topic(&meta.topic(), meta.shards).await?;
                (
                    "Created",
                    format!("collection {name} created with {shards} shards"),
                )
            }
            Change::SetQueryPool(pool) => {
                hosted.meta.set_query_pool(id()?, pool.clone()).await?;
                (
                    "QueryPoolSet",
                    match pool {
                        Some(p) => {
                            format!("collection {name} placed on the query nodes of pool {p}")
                        }
                        None => format!("collection {name} placed on any query node"),
                    },
                )
            }
            Change::SetProperties(p) => {
                hosted.meta.set_properties(id()?, p.clone()).await?;
                (
                    "PropertiesChanged",
                    format!("collection {name} properties set to {p:?}"),
                )
            }
            Change::Load { replicas } => {
                hosted.meta.set_loaded(id()?, true, *replicas).await?;
                (
                    "LoadRequested",
                    format!("collection {name} loading with {replicas} replicas"),
                )
            }
            Change::Release => {
                hosted.meta.set_loaded(id()?, false, 1).await?;
                (
                    "Released",
                    format!("collection {name} released from memory"),
                )
            }
        };
        tracing::info!(collection = %name, reason = note.0, "{}", note.1);
        record(ctx, col, event(EventType::Normal, note.0, &note.1)).await;
    }
    Ok(())
}

/// The status figures of a collection: rows (live rows of sealed segments from the catalog plus
/// the growing rows data nodes report), segments, index progress, load state.
fn status_figures(hosted: &Hosted, meta: &CollectionMeta) -> serde_json::Value {
    let f = figures(meta);
    // each shard has at most one growing segment: the rows its data node has not sealed yet
    let growing = hosted.server.growing_rows(meta.id);
    let growing_segments = growing.values().filter(|rows| **rows > 0).count();
    let growing_rows: u64 = growing.values().sum();
    let indexed = meta
        .indexes
        .first()
        .map(|i| crate::catalog_plan::indexed_rows(meta, i.id))
        .unwrap_or(0);
    let loaded = hosted.server.loaded_replicas(meta.id);
    let load_state = match (meta.loaded, loaded >= meta.replicas) {
        (false, _) => "NotLoad",
        (true, true) => "Loaded",
        (true, false) => "Loading",
    };
    json!({
        "collectionId": meta.id,
        "rows": f.rows + growing_rows,
        "sealedSegments": f.sealed_segments,
        "growingSegments": growing_segments,
        "indexedRows": indexed,
        "totalRows": f.total_rows,
        "loadState": load_state,
        "loadedReplicas": loaded,
    })
}
