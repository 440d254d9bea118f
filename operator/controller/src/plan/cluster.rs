//! The objects of a whole cluster: the ConfigMap its pods share, the proxies' Service and the
//! Secrets with the initial password of `root` and the internal token.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use quarry_crd::{QuarryCluster, Role};

use super::{name_of, role_labels, HTTP_PORT, MILVUS_PORT};
use crate::settings::Settings;

/// Name of a cluster's ConfigMap (the environment its pods share).
pub fn config_map_name(cluster: &str) -> String {
    format!("{cluster}-config")
}

/// Name of the Secret holding the initial password of the cluster's `root` user.
pub fn root_password_secret_name(cluster: &str) -> String {
    format!("{cluster}-root-password")
}

/// The key of the password in that Secret.
pub const ROOT_PASSWORD_KEY: &str = "password";

/// Name of the Secret holding the cluster's internal token (the credential of every internal
/// call: nodes to the coordinator, proxies to workers).
pub fn internal_token_secret_name(cluster: &str) -> String {
    format!("{cluster}-internal-token")
}

/// The key of the token in that Secret.
pub const INTERNAL_TOKEN_KEY: &str = "token";

/// The Secret with the cluster's internal token; like the root password, created once with a
/// random value and never overwritten.
pub fn desired_internal_token_secret(cluster: &QuarryCluster, token: String) -> Secret {
    let name = name_of(&cluster.metadata);
    Secret {
        metadata: ObjectMeta {
            name: Some(internal_token_secret_name(&name)),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(cluster_labels(&name)),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([(INTERNAL_TOKEN_KEY.to_string(), token)])),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// The Secret with the initial password of `root` (the proxies read it; it creates `root` in a
/// catalog without one). Created once with a random password and never overwritten, so a
/// Secret the user created beforehand under this name is kept.
pub fn desired_root_password_secret(cluster: &QuarryCluster, password: String) -> Secret {
    let name = name_of(&cluster.metadata);
    Secret {
        metadata: ObjectMeta {
            name: Some(root_password_secret_name(&name)),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(cluster_labels(&name)),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([(ROOT_PASSWORD_KEY.to_string(), password)])),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// The cluster's shared, non-secret configuration, read by every pod through `envFrom`.
pub fn desired_config_map(cluster: &QuarryCluster, coordinator: &str) -> ConfigMap {
    let name = name_of(&cluster.metadata);
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(config_map_name(&name)),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(cluster_labels(&name)),
            ..Default::default()
        },
        data: Some(Settings::of(cluster).env(coordinator)),
        ..Default::default()
    }
}

fn cluster_labels(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "quarry".into()),
        ("app.kubernetes.io/instance".into(), cluster.into()),
        (
            "app.kubernetes.io/managed-by".into(),
            "quarry-operator".into(),
        ),
    ])
}

/// A short, stable digest of the ConfigMap's data: in the pod template, so that a changed
/// configuration rolls the pods.
pub(crate) fn config_digest(data: &BTreeMap<String, String>) -> String {
    // CRC-32 (the log's checksum): stable across builds and processes, unlike the std hasher
    let mut h = crc32fast::Hasher::new();
    for (k, v) in data {
        h.update(k.as_bytes());
        h.update(&[0]);
        h.update(v.as_bytes());
        h.update(&[0]);
    }
    format!("{:08x}", h.finalize())
}

/// The Milvus endpoint of a cluster: every proxy pod behind one Service on 19530.
pub fn desired_proxy_service(cluster: &QuarryCluster) -> Service {
    let name = name_of(&cluster.metadata);
    let selector = role_labels(&name, Role::Proxy);
    Service {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(selector.clone()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![
                ServicePort {
                    name: Some("milvus".into()),
                    port: MILVUS_PORT,
                    target_port: Some(IntOrString::Int(MILVUS_PORT)),
                    ..Default::default()
                },
                ServicePort {
                    name: Some("http".into()),
                    port: HTTP_PORT,
                    target_port: Some(IntOrString::Int(HTTP_PORT)),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use quarry_types::env;

    use super::*;
    use crate::plan::desired_deployment;
    use crate::plan::fixtures::{cluster, pool};

    /// The operator writes only names a node reads (`env::SET_BY_OPERATOR` is a subset of
    /// `env::READ_BY_NODES`, which the node's flags are checked against), and every listed one.
    #[test]
    fn pods_get_exactly_the_settings_the_shared_list_names() {
        let mut c = cluster();
        c.spec.kafka.sasl = Some(quarry_crd::SaslSpec {
            mechanism: quarry_crd::SaslMechanism::Plain,
            secret: "kafka-user".into(),
        });
        c.spec.kafka.tls_secret = Some("kafka-ca".into());
        c.spec.s3.ca_secret = Some("minio-ca".into());
        c.spec.tls = Some(quarry_crd::MilvusTlsSpec {
            secret: "quarry-tls".into(),
            mutual: Some(true),
        });
        let mut written: BTreeSet<String> = desired_config_map(&c, "coord:19531")
            .data
            .unwrap()
            .into_keys()
            .collect();
        for role in Role::ALL {
            let d = desired_deployment(&c, &pool("p", role, 1), "coord:19531", "quarry:1");
            let pod = d.spec.unwrap().template.spec.unwrap();
            for e in pod.containers[0].env.iter().flatten() {
                written.insert(e.name.clone());
            }
        }
        written.retain(|n| n.starts_with("QUARRY_"));
        let listed: BTreeSet<String> = env::SET_BY_OPERATOR.iter().map(|s| s.to_string()).collect();
        assert_eq!(written, listed);
    }
}
