//! `NodePool`: the Deployment, PodDisruptionBudget and (with `autoscaling`) the
//! HorizontalPodAutoscaler of one role's pods; status with desired/ready replicas and the pod
//! selector for the scale subresource. Image upgrades go role by role (see `plan::rollout_image`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{DeleteParams, ListParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use quarry_crd::{NodePool, QuarryCluster};
use serde_json::json;

use crate::context::{apply_owned, is_paused, publish, Ctx};
use crate::error::{found, is_not_found};
use crate::plan::{
    desired_deployment, desired_hpa, desired_pdb, pool_labels, pool_object_name, rollout_image,
    PoolRollout,
};
use crate::status::Verdict;
use crate::Result;

/// A Deployment whose every pod runs its current template and is ready.
pub fn settled(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    s.observed_generation >= d.metadata.generation
        && s.updated_replicas.unwrap_or(0) == want
        && s.ready_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
}

pub fn image_of(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

pub async fn reconcile(pool: Arc<NodePool>, ctx: Arc<Ctx>) -> Result<Action> {
    let previous = pool
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    if is_paused(pool.as_ref()) {
        return Ok(Action::requeue(ctx.resync));
    }
    let ns = pool.namespace().unwrap_or_default();
    let cluster_name = &pool.spec.cluster_ref;
    let selector = pool_labels(cluster_name, &pool.name_any(), pool.spec.role)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let Some(cluster) = found(
        Api::<QuarryCluster>::namespaced(ctx.client.clone(), &ns)
            .get(cluster_name)
            .await,
    )?
    else {
        let v = Verdict::reconciling(
            "ClusterNotFound",
            format!("waiting for QuarryCluster {cluster_name:?}"),
        );
        publish(
            &ctx,
            pool.as_ref(),
            &previous,
            &v,
            json!({ "selector": selector }),
        )
        .await?;
        return Ok(Action::requeue(Duration::from_secs(15)));
    };
    // where the cluster's other pools stand, for a role-by-role upgrade: the cluster's
    // Deployments in one list, by name
    let deployments: BTreeMap<String, Deployment> =
        Api::<Deployment>::namespaced(ctx.client.clone(), &ns)
            .list(&ListParams::default().labels(&format!(
                "app.kubernetes.io/name=quarry,app.kubernetes.io/instance={cluster_name}"
            )))
            .await?
            .items
            .into_iter()
            .map(|d| (d.name_any(), d))
            .collect();
    let pools = Api::<NodePool>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default())
        .await?;
    let mut others = Vec::new();
    let mut current = None;
    for p in pools
        .items
        .iter()
        .filter(|p| p.spec.cluster_ref == *cluster_name)
    {
        let d = deployments.get(&pool_object_name(cluster_name, &p.name_any()));
        if p.name_any() == pool.name_any() {
            current = d.and_then(image_of);
        } else {
            others.push(PoolRollout {
                role: p.spec.role,
                image: d.and_then(image_of),
                settled: d.is_some_and(settled),
            });
        }
    }
    let target = cluster.spec.image.clone();
    let image = rollout_image(&target, pool.spec.role, current.as_deref(), &others);
    let deployment = apply_owned(
        &ctx.client,
        pool.as_ref(),
        desired_deployment(&cluster, &pool, &ctx.coordinator_address, &image),
    )
    .await?;
    apply_owned(&ctx.client, pool.as_ref(), desired_pdb(&cluster, &pool)).await?;
    let hpa_name = pool_object_name(cluster_name, &pool.name_any());
    match desired_hpa(&cluster, &pool) {
        Some(hpa) => {
            apply_owned(&ctx.client, pool.as_ref(), hpa).await?;
        }
        None => match Api::<HorizontalPodAutoscaler>::namespaced(ctx.client.clone(), &ns)
            .delete(&hpa_name, &DeleteParams::default())
            .await
        {
            Ok(_) => tracing::info!(pool = %pool.name_any(), "autoscaling removed"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        },
    }
    let want = pool.spec.replicas;
    let st = deployment.status.clone().unwrap_or_default();
    let ready = st.ready_replicas.unwrap_or(0);
    let role = pool.spec.role.command();
    let v = if image != target {
        Verdict::reconciling("WaitingForUpgradeOrder", format!("{role} pods stay on {image} until the pools upgraded before them run {target} and are ready"))
    } else if settled(&deployment) {
        Verdict::ready("PodsReady", format!("{ready}/{want} {role} pods ready"))
    } else {
        Verdict::reconciling(
            "RollingOut",
            format!(
                "{ready}/{want} {role} pods ready, {} updated",
                st.updated_replicas.unwrap_or(0)
            ),
        )
    };
    let figures = json!({ "replicas": st.replicas.unwrap_or(0), "readyReplicas": ready, "selector": selector });
    publish(&ctx, pool.as_ref(), &previous, &v, figures).await?;
    Ok(ctx.requeue(&v))
}
