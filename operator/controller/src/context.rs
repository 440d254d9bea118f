//! What every reconciler shares, and the few Kubernetes helpers they all use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::coordinators::Coordinators;
use crate::metrics::Metrics;
use crate::status::{conditions, transition_event, Verdict};
use crate::Result;

/// A namespaced Kubernetes object type the operator reads and writes.
pub trait Namespaced:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Serialize
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Namespaced for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// The one field manager of everything the operator applies.
pub const FIELD_MANAGER: &str = "quarry-operator";
/// `quarry.dev/paused: "true"` stops the operator from changing anything for the resource.
pub const PAUSE_ANNOTATION: &str = "quarry.dev/paused";

pub struct Ctx {
    pub client: Client,
    pub coordinators: Arc<Coordinators>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// the address pods dial for the coordinator (the operator's Service)
    pub coordinator_address: String,
    /// how often a Ready resource is checked again (drift is reverted then)
    pub resync: Duration,
}

impl Ctx {
    pub fn new(
        client: Client,
        coordinators: Arc<Coordinators>,
        metrics: Arc<Metrics>,
        coordinator_address: String,
        resync: Duration,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            coordinators,
            metrics,
            coordinator_address,
            resync,
        })
    }

    /// After a reconcile: Ready resources are checked again at the resync period, the others
    /// soon.
    pub fn requeue(&self, v: &Verdict) -> Action {
        Action::requeue(if v.is_ready() {
            self.resync
        } else {
            Duration::from_secs(5).min(self.resync)
        })
    }
}

pub fn is_paused<K: Resource>(obj: &K) -> bool {
    obj.annotations()
        .get(PAUSE_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// Server-side applies a child object, owned by `owner`, with the operator's field manager.
pub async fn apply_owned<K: Namespaced, O>(client: &Client, owner: &O, mut obj: K) -> Result<K>
where
    O: Resource<DynamicType = ()>,
{
    let ns = owner.namespace().unwrap_or_default();
    obj.meta_mut().namespace = Some(ns.clone());
    obj.meta_mut().owner_references = owner.controller_owner_ref(&()).map(|r| vec![r]);
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    Ok(api
        .patch(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await?)
}

/// Writes a resource's status (phase, conditions, observedGeneration and the kind's figures in
/// `figures`), and emits an Event when readiness or its reason changed.
pub async fn publish<K: Namespaced>(
    ctx: &Ctx,
    obj: &K,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    v: &Verdict,
    figures: serde_json::Value,
) -> Result<()> {
    let generation = obj.meta().generation;
    let mut status = figures;
    status["phase"] = serde_json::to_value(v.phase)?;
    status["observedGeneration"] = serde_json::json!(generation);
    status["conditions"] = serde_json::to_value(conditions(v, generation, previous))?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let patch = serde_json::json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    if let Some(event) = transition_event(previous, v) {
        record(ctx, obj, event).await;
    }
    ctx.metrics.set_phase(
        &K::kind(&()),
        &format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()),
        Some(v.phase),
    );
    Ok(())
}

/// Records an Event about `obj`; a failure is logged and never fails the reconcile.
pub async fn record<K: Resource<DynamicType = ()>>(ctx: &Ctx, obj: &K, event: Event) {
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, "could not record an event");
    }
}

/// Runs one reconcile and records its count, result and duration.
pub async fn observed<F>(ctx: &Ctx, kind: &str, f: F) -> Result<Action>
where
    F: std::future::Future<Output = Result<Action>>,
{
    let start = Instant::now();
    let out = f.await;
    ctx.metrics.observe(kind, start.elapsed(), out.is_ok());
    if let Err(e) = &out {
        tracing::warn!(kind, error = %e, "reconcile failed; retrying");
    }
    out
}
