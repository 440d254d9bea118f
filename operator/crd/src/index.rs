//! `Index`: a vector index of a collection's field.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::Phase;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum IndexType {
    #[serde(rename = "AUTOINDEX")]
    AutoIndex,
    #[serde(rename = "HNSW")]
    Hnsw,
    #[serde(rename = "FLAT")]
    Flat,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum MetricType {
    L2,
    #[serde(rename = "IP")]
    Ip,
    #[serde(rename = "COSINE")]
    Cosine,
}

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "quarry.dev",
    version = "v1alpha1",
    kind = "Index",
    namespaced,
    shortname = "qidx",
    status = "IndexStatus",
    doc = "A vector index on a field of a Quarry collection",
    printcolumn(
        name = "Collection",
        type_ = "string",
        json_path = ".spec.collectionRef"
    ),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.indexType"),
    printcolumn(name = "Metric", type_ = "string", json_path = ".spec.metricType"),
    printcolumn(name = "Indexed", type_ = "integer", json_path = ".status.indexedRows"),
    printcolumn(name = "Total", type_ = "integer", json_path = ".status.totalRows"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("an index cannot change; create another one"))]
pub struct IndexSpec {
    /// the Collection resource (same namespace)
    pub collection_ref: String,
    pub field_name: String,
    /// the index's name in Quarry; default the field name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    pub index_type: IndexType,
    pub metric_type: MetricType,
    /// index parameters as Milvus names them, e.g. `M: "16"`, `efConstruction: "200"`
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub indexed_rows: i64,
    #[serde(default)]
    pub total_rows: i64,
}
