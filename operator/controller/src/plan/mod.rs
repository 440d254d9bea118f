//! Desired objects, as pure functions of the custom resources: a Deployment, a
//! PodDisruptionBudget and (with `autoscaling`) a HorizontalPodAutoscaler per `NodePool`; the
//! proxies' Service and the shared ConfigMap per `QuarryCluster`; the image each pool runs
//! during an upgrade. Defaults are filled in here, in the generated objects, never in the
//! user's spec.

mod cluster;
mod deployment;
#[cfg(test)]
mod fixtures;
mod network;
mod rollout;
mod scaling;
mod security;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use quarry_crd::{NodePool, QuarryCluster, Role};

pub use cluster::{
    config_map_name, desired_config_map, desired_internal_token_secret, desired_proxy_service,
    desired_root_password_secret, internal_token_secret_name, root_password_secret_name,
    INTERNAL_TOKEN_KEY, ROOT_PASSWORD_KEY,
};
pub use deployment::{desired_deployment, CONFIG_DIGEST};
pub use network::{desired_network_policy, network_policy_name};
pub use rollout::{rollout_image, PoolRollout, ROLLOUT_ORDER};
pub use scaling::{desired_hpa, desired_pdb};
pub use security::restricted_violations;

pub const MILVUS_PORT: i32 = 19530;
pub const WORKER_PORT: i32 = 7000;
pub const HTTP_PORT: i32 = 9091;

pub(crate) fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// Labels that select the pods of one role of a cluster, whatever their pool.
pub(crate) fn role_labels(cluster: &str, role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "quarry".into()),
        ("app.kubernetes.io/instance".into(), cluster.into()),
        ("app.kubernetes.io/component".into(), role.command().into()),
    ])
}

/// Labels that select one pool's pods.
pub fn pool_labels(cluster: &str, pool: &str, role: Role) -> BTreeMap<String, String> {
    let mut labels = role_labels(cluster, role);
    labels.insert("quarry.dev/pool".into(), pool.into());
    labels
}

/// The name of the objects made for a pool (Deployment, PDB, HPA): `<cluster>-<pool>`.
pub fn pool_object_name(cluster: &str, pool: &str) -> String {
    format!("{cluster}-{pool}")
}

/// Metadata of an object made for a pool (`<cluster>-<pool>`), and the pool's pod labels.
pub(crate) fn pool_object(
    cluster: &QuarryCluster,
    pool: &NodePool,
) -> (ObjectMeta, BTreeMap<String, String>) {
    let (cluster_name, pool_name) = (name_of(&cluster.metadata), name_of(&pool.metadata));
    let labels = pool_labels(&cluster_name, &pool_name, pool.spec.role);
    let meta = ObjectMeta {
        name: Some(pool_object_name(&cluster_name, &pool_name)),
        namespace: pool.metadata.namespace.clone(),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    (meta, labels)
}
