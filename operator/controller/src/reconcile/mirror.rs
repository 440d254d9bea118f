//! Collections and indexes created through the Milvus API (pymilvus) appear as `Collection` and
//! `Index` resources, so that `kubectl get` shows everything. Those resources carry
//! `quarry.dev/mirror: "true"`: the catalog drives them (their spec follows it, and they go
//! when the collection is dropped), not the other way round. Removing the annotation hands the
//! collection to the resource. A resource someone declares for the same collection replaces
//! its mirror.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use quarry_crd::{Collection, Index, QuarryCluster};
use quarry_meta::MetaService;

use super::collection::{is_mirror, MIRROR_ANNOTATION};
use crate::catalog_plan::{collection_name, index_name, index_spec_of, resource_name, spec_of};
use crate::context::Ctx;
use crate::error::{found, is_not_found};
use crate::Result;

fn mirror_meta(name: &str, ns: &str) -> kube::api::ObjectMeta {
    kube::api::ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        annotations: Some(BTreeMap::from([(
            MIRROR_ANNOTATION.to_string(),
            "true".to_string(),
        )])),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            "quarry-operator".to_string(),
        )])),
        ..Default::default()
    }
}

async fn delete<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One pass over a hosted cluster (`namespace/name`): stops hosting it when its resource is
/// gone; otherwise creates, updates and deletes mirror resources to match the catalog.
pub async fn sync(ctx: &Ctx, key: &str) -> Result<()> {
    let Some((ns, cluster)) = key.split_once('/') else {
        return Ok(());
    };
    if found(
        Api::<QuarryCluster>::namespaced(ctx.client.clone(), ns)
            .get(cluster)
            .await,
    )?
    .is_none()
    {
        ctx.coordinators.unhost(key);
        ctx.metrics
            .clusters
            .set(ctx.coordinators.keys().len() as i64);
        return Ok(());
    }
    let Some(hosted) = ctx.coordinators.get(key) else {
        return Ok(());
    };
    let snapshot = hosted.meta.snapshot();
    let collections: Api<Collection> = Api::namespaced(ctx.client.clone(), ns);
    let indexes: Api<Index> = Api::namespaced(ctx.client.clone(), ns);
    let all = collections.list(&ListParams::default()).await?.items;
    let ours: Vec<&Collection> = all
        .iter()
        .filter(|c| c.spec.cluster_ref == cluster)
        .collect();
    let declared: BTreeSet<String> = ours
        .iter()
        .filter(|c| !is_mirror(**c))
        .map(|c| collection_name(&c.spec, &c.name_any()))
        .collect();
    let mirrors: BTreeMap<String, &Collection> = ours
        .iter()
        .filter(|c| is_mirror(**c))
        .map(|c| (collection_name(&c.spec, &c.name_any()), *c))
        .collect();
    let taken: BTreeSet<String> = all.iter().map(|c| c.name_any()).collect();
    // the resource name of each catalog collection's resource (declared or mirror)
    let mut resource_of: BTreeMap<String, String> = ours
        .iter()
        .map(|c| (collection_name(&c.spec, &c.name_any()), c.name_any()))
        .collect();

    for meta in snapshot.collections.values() {
        let want = spec_of(meta, cluster);
        if declared.contains(&meta.name) {
            if let Some(m) = mirrors.get(&meta.name) {
                // a declared resource took the collection over
                delete(&collections, &m.name_any()).await?;
            }
            continue;
        }
        match mirrors.get(&meta.name) {
            Some(m) if m.spec != want => {
                collections
                    .patch(
                        &m.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(serde_json::json!({ "spec": want })),
                    )
                    .await?;
            }
            Some(_) => {}
            None => {
                let mut name = resource_name(&meta.name);
                if taken.contains(&name) {
                    name = format!("{name}-{}", meta.id);
                }
                let mut obj = Collection::new(&name, want);
                obj.metadata = mirror_meta(&name, ns);
                collections.create(&PostParams::default(), &obj).await?;
                tracing::info!(collection = %meta.name, resource = %name, "mirrored a collection created through the Milvus API");
                resource_of.insert(meta.name.clone(), name);
            }
        }
    }
    for (name, m) in &mirrors {
        if !snapshot.collections.values().any(|c| c.name == *name) {
            delete(&collections, &m.name_any()).await?;
        }
    }

    // indexes: mirror those no Index resource declares
    let index_list = indexes.list(&ListParams::default()).await?.items;
    for meta in snapshot.collections.values() {
        let Some(resource) = resource_of.get(&meta.name) else {
            continue;
        };
        for index in &meta.indexes {
            let covered = index_list
                .iter()
                .any(|i| i.spec.collection_ref == *resource && index_name(&i.spec) == index.name);
            if covered {
                continue;
            }
            let Some(spec) = index_spec_of(index, resource) else {
                continue;
            };
            let name = format!("{resource}-{}", resource_name(&index.name));
            let mut obj = Index::new(&name, spec);
            obj.metadata = mirror_meta(&name, ns);
            match indexes.create(&PostParams::default(), &obj).await {
                Ok(_) => {
                    tracing::info!(index = %index.name, resource = %name, "mirrored an index created through the Milvus API")
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    for i in index_list.iter().filter(|i| is_mirror(*i)) {
        let Some(col) = resource_of
            .iter()
            .find(|(_, r)| **r == i.spec.collection_ref)
            .map(|(n, _)| n.clone())
        else {
            // its collection resource is gone (if it is another cluster's, that one's pass
            // looks after it)
            if all.iter().all(|c| c.name_any() != i.spec.collection_ref) {
                delete(&indexes, &i.name_any()).await?;
            }
            continue;
        };
        let name = index_name(&i.spec);
        let exists = snapshot
            .collections
            .values()
            .any(|c| c.name == col && c.indexes.iter().any(|x| x.name == name));
        if !exists {
            delete(&indexes, &i.name_any()).await?;
        }
    }
    Ok(())
}
