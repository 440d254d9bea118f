//! `QuarryCluster`: where a Quarry cluster keeps its log and objects, which image it runs, and
//! defaults for its node pools.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::Phase;

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "quarry.dev",
    version = "v1alpha1",
    kind = "QuarryCluster",
    namespaced,
    shortname = "qc",
    status = "QuarryClusterStatus",
    doc = "A Quarry cluster: its Kafka log, S3 object store, image and node pool defaults",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct QuarryClusterSpec {
    /// container image of the quarry binary, e.g. `ghcr.io/quarry/quarry:0.1.0`
    #[x_kube(validation = Rule::new("self != ''").message("image must not be empty"))]
    pub image: String,
    /// the Quarry version the image runs (informational; upgrades roll role by role)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub kafka: KafkaSpec,
    pub s3: S3Spec,
    /// TLS on the proxies' Milvus port (clients then connect with pymilvus `secure=True`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<MilvusTlsSpec>,
    /// what node pools get unless they say otherwise
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_defaults: Option<PoolDefaults>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSpec {
    /// `host:port,host:port`
    #[x_kube(validation = Rule::new("self != ''").message("bootstrapServers must not be empty"))]
    pub bootstrap_servers: String,
    /// prefix of topic names (one topic per collection); default `quarry-<cluster name>-`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_prefix: Option<String>,
    /// replication factor of new topics; default 3
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 7))]
    pub replication_factor: Option<i32>,
    /// a Secret with `ca.crt` (and for mutual TLS `tls.crt`, `tls.key`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<SaslSpec>,
}

/// TLS on the Milvus port of the cluster's proxies.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MilvusTlsSpec {
    /// a TLS Secret of the cluster's namespace with `tls.crt` and `tls.key` (and `ca.crt` for
    /// mutual TLS), e.g. one cert-manager issues; proxies read it at start
    #[x_kube(validation = Rule::new("self != ''").message("tls.secret must not be empty"))]
    pub secret: String,
    /// mutual TLS: clients must present a certificate issued by the Secret's `ca.crt`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaslSpec {
    pub mechanism: SaslMechanism,
    /// a Secret with `username` and `password`
    pub secret: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Spec {
    /// endpoint URL; omit for AWS
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[x_kube(validation = Rule::new("self.size() >= 3 && self.size() <= 63").message("bucket names have 3 to 63 characters"))]
    pub bucket: String,
    /// default `us-east-1`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// key prefix inside the bucket; default the cluster's namespace/name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// path-style addressing (MinIO and most on-premises servers)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// a Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; omit to use the pods'
    /// identity (IRSA, instance profile)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<SecretKeyRef>,
    /// a Secret with `ca.crt`: the CA of an `https://` endpoint with a private certificate,
    /// trusted besides the system's (pods and the operator)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct PoolDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct QuarryClusterStatus {
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// the coordinator's address inside the cluster
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<String>,
}
