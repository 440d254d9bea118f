//! Wiring the reconcilers into kube-runtime controllers (watches, owned children, retries) and
//! the mirror loop.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, Resource, ResourceExt};
use quarry_crd::{Collection, Index, NodePool, QuarryCluster};

use crate::context::{observed, Ctx};
use crate::reconcile::{cluster, collection, index, mirror, pool};
use crate::Error;

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn retry<K>(_: Arc<K>, _: &Error, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// Runs every controller and the mirror loop until the process ends. `namespace`: watch one
/// namespace (the chart's namespaced mode) or all.
pub async fn controllers(ctx: Arc<Ctx>, namespace: Option<String>, mirror_every: Duration) {
    let ns = namespace.as_deref();
    let c = &ctx.client;
    let cfg = watcher::Config::default();
    let ours = watcher::Config::default().labels("app.kubernetes.io/name=quarry");

    let clusters =
        Controller::new(api::<QuarryCluster>(c, ns), cfg.clone())
            .owns(api::<ConfigMap>(c, ns), ours.clone())
            .owns(api::<Service>(c, ns), ours.clone())
            .shutdown_on_signal()
            .run(
                |o, x| async move {
                    observed(&x.clone(), "QuarryCluster", cluster::reconcile(o, x)).await
                },
                retry,
                ctx.clone(),
            )
            .for_each(|_| async {});

    let pools = Controller::new(api::<NodePool>(c, ns), cfg.clone());
    let pool_store = pools.store();
    let pools = pools
        .owns(api::<Deployment>(c, ns), ours.clone())
        .owns(api::<PodDisruptionBudget>(c, ns), ours.clone())
        // a cluster's image or settings change re-renders its pools
        .watches(api::<QuarryCluster>(c, ns), cfg.clone(), move |qc| {
            pool_store
                .state()
                .iter()
                .filter(|p| p.spec.cluster_ref == qc.name_any() && p.namespace() == qc.namespace())
                .map(|p| ObjectRef::from_obj(p.as_ref()))
                .collect::<Vec<_>>()
        })
        .shutdown_on_signal()
        .run(
            |o, x| async move { observed(&x.clone(), "NodePool", pool::reconcile(o, x)).await },
            retry,
            ctx.clone(),
        )
        .for_each(|_| async {});

    let collections =
        Controller::new(api::<Collection>(c, ns), cfg.clone())
            .shutdown_on_signal()
            .run(
                |o, x| async move {
                    observed(&x.clone(), "Collection", collection::reconcile(o, x)).await
                },
                retry,
                ctx.clone(),
            )
            .for_each(|_| async {});

    let indexes = Controller::new(api::<Index>(c, ns), cfg.clone())
        .shutdown_on_signal()
        .run(
            |o, x| async move { observed(&x.clone(), "Index", index::reconcile(o, x)).await },
            retry,
            ctx.clone(),
        )
        .for_each(|_| async {});

    let mirrors = {
        let ctx = ctx.clone();
        async move {
            let mut tick = tokio::time::interval(mirror_every);
            loop {
                tick.tick().await;
                for key in ctx.coordinators.keys() {
                    if let Err(e) = mirror::sync(&ctx, &key).await {
                        tracing::warn!(cluster = %key, error = %e, "mirroring the catalog into resources failed; retrying");
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(clusters, pools, collections, indexes) } => {}
        _ = mirrors => {}
    }
}
