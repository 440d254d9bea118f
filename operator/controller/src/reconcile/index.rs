//! `Index`: the index in the catalog (built by the cluster's index nodes), its build progress
//! in `status`. Deleting the resource drops the index only when its collection's
//! `deletionPolicy` is `Delete`.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use quarry_crd::{Collection, DeletionPolicy, Index};
use quarry_meta::{MetaError, MetaService};

use serde_json::json;

use super::collection::{is_mirror, set_finalizer};
use crate::catalog_plan::{
    check_index, collection_name, figures, index_name, indexed_rows, new_index,
};
use crate::context::{is_paused, publish, record, Ctx};
use crate::error::found;
use crate::status::{event, Verdict};
use crate::Result;

pub const FINALIZER: &str = "quarry.dev/drop-index";

pub async fn reconcile(idx: Arc<Index>, ctx: Arc<Ctx>) -> Result<Action> {
    let ns = idx.namespace().unwrap_or_default();
    let previous = idx
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let col = found(
        Api::<Collection>::namespaced(ctx.client.clone(), &ns)
            .get(&idx.spec.collection_ref)
            .await,
    )?;
    let index_name = index_name(&idx.spec);
    let hosted = col.as_ref().and_then(|c| {
        ctx.coordinators
            .get(&format!("{ns}/{}", c.spec.cluster_ref))
    });
    let collection = col
        .as_ref()
        .map(|c| collection_name(&c.spec, &c.name_any()));
    let meta = hosted.as_ref().zip(collection.as_ref()).and_then(|(h, n)| {
        h.meta
            .snapshot()
            .collections
            .values()
            .find(|c| c.name == *n)
            .cloned()
    });
    if idx.metadata.deletion_timestamp.is_some() {
        if idx.finalizers().iter().any(|f| f == FINALIZER) {
            if let (Some(h), Some(m)) = (&hosted, &meta) {
                if let Some(i) = m.indexes.iter().find(|i| i.name == index_name) {
                    h.meta.drop_index(m.id, i.id).await?;
                    record(
                        &ctx,
                        idx.as_ref(),
                        event(
                            kube::runtime::events::EventType::Normal,
                            "Dropped",
                            &format!("index {index_name} dropped"),
                        ),
                    )
                    .await;
                }
            } else if col.is_some() && hosted.is_none() {
                return Ok(Action::requeue(Duration::from_secs(10)));
            }
            set_finalizer(&ctx, idx.as_ref(), FINALIZER, false).await?;
        }
        ctx.metrics
            .set_phase("Index", &format!("{ns}/{}", idx.name_any()), None);
        return Ok(Action::await_change());
    }
    if is_paused(idx.as_ref()) {
        return Ok(Action::requeue(ctx.resync));
    }
    let Some(col) = col else {
        let v = Verdict::reconciling(
            "CollectionNotFound",
            format!("waiting for Collection {:?}", idx.spec.collection_ref),
        );
        publish(&ctx, idx.as_ref(), &previous, &v, json!({})).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    };
    let drop_on_delete =
        col.spec.deletion_policy == Some(DeletionPolicy::Delete) && !is_mirror(idx.as_ref());
    set_finalizer(&ctx, idx.as_ref(), FINALIZER, drop_on_delete).await?;
    let (Some(hosted), Some(meta)) = (hosted, meta) else {
        let v = Verdict::reconciling(
            "CollectionNotReady",
            format!(
                "waiting for collection {} in the catalog",
                collection.unwrap_or_default()
            ),
        );
        publish(&ctx, idx.as_ref(), &previous, &v, json!({})).await?;
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let field = meta
        .schema
        .fields
        .iter()
        .find(|f| f.name == idx.spec.field_name);
    if !field.is_some_and(|f| f.data_type.is_vector()) {
        let v = Verdict::stalled(
            "InvalidField",
            format!(
                "collection {} has no vector field {:?}",
                meta.name, idx.spec.field_name
            ),
        );
        publish(&ctx, idx.as_ref(), &previous, &v, json!({})).await?;
        return Ok(ctx.requeue(&v));
    }
    let existing = meta.indexes.iter().find(|i| i.name == index_name).cloned();
    let index = match existing {
        Some(i) => {
            let checked = if is_mirror(idx.as_ref()) {
                Ok(())
            } else {
                check_index(&idx.spec, &i)
            };
            if let Err(u) = checked {
                let v = Verdict::stalled("NotSupported", u.0);
                publish(&ctx, idx.as_ref(), &previous, &v, json!({})).await?;
                return Ok(ctx.requeue(&v));
            }
            i
        }
        None if is_mirror(idx.as_ref()) => {
            let v = Verdict::reconciling(
                "IndexNotFound",
                format!("index {index_name} is not in the catalog"),
            );
            publish(&ctx, idx.as_ref(), &previous, &v, json!({})).await?;
            return Ok(ctx.requeue(&v));
        }
        None => match hosted
            .meta
            .create_index(meta.id, new_index(&idx.spec))
            .await
        {
            Ok(i) => {
                record(
                    &ctx,
                    idx.as_ref(),
                    event(
                        kube::runtime::events::EventType::Normal,
                        "Created",
                        &format!(
                            "index {index_name} created on {}.{}",
                            meta.name, idx.spec.field_name
                        ),
                    ),
                )
                .await;
                i
            }
            Err(e @ (MetaError::IndexConflict { .. } | MetaError::Rejected(_))) => {
                let v = Verdict::stalled("IndexConflict", e.to_string());
                publish(&ctx, idx.as_ref(), &previous, &v, json!({})).await?;
                return Ok(ctx.requeue(&v));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let meta = hosted
        .meta
        .snapshot()
        .collections
        .get(&meta.id)
        .cloned()
        .unwrap_or(meta);
    let (indexed, total) = (indexed_rows(&meta, index.id), figures(&meta).total_rows);
    let v = if indexed >= total {
        Verdict::ready("Built", format!("{indexed}/{total} sealed rows indexed"))
    } else {
        Verdict::reconciling("Building", format!("{indexed}/{total} sealed rows indexed"))
    };
    publish(
        &ctx,
        idx.as_ref(),
        &previous,
        &v,
        json!({ "indexedRows": indexed, "totalRows": total }),
    )
    .await?;
    Ok(ctx.requeue(&v))
}
