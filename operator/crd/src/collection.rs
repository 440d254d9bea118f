//! `Collection`: a Quarry collection declared as a resource. Created through pymilvus or by
//! `kubectl apply`, it is the same collection; the data survives deleting the resource unless
//! `deletionPolicy: Delete`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::Phase;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum FieldType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    VarChar,
    #[serde(rename = "JSON")]
    Json,
    /// a list of `elementType` values (a scalar type), at most `maxCapacity` per row
    Array,
    FloatVector,
    /// `dim` bits (a multiple of 8), searched with HAMMING or JACCARD
    BinaryVector,
    Float16Vector,
    BFloat16Vector,
    /// one signed byte per dimension, searched with L2, IP or COSINE (HNSW)
    Int8Vector,
    /// sparse rows of (index, value) pairs, searched with IP; no `dim`
    SparseFloatVector,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    cel,
    validation = Rule::new("!self.dataType.endsWith('Vector') || self.dataType == 'SparseFloatVector' || has(self.dim)").message("a vector field needs dim"),
    validation = Rule::new("self.dataType != 'SparseFloatVector' || !has(self.dim)").message("a SparseFloatVector field has no dim"),
    validation = Rule::new("self.dataType != 'BinaryVector' || !has(self.dim) || self.dim % 8 == 0").message("a BinaryVector dim is a multiple of 8"),
    validation = Rule::new("self.dataType == 'BinaryVector' || !has(self.dim) || self.dim <= 32768").message("a float vector dim is at most 32768"),
    validation = Rule::new("self.dataType != 'VarChar' || has(self.maxLength)").message("a VarChar field needs maxLength"),
    validation = Rule::new("self.dataType != 'Array' || (has(self.elementType) && has(self.maxCapacity))").message("an Array field needs elementType and maxCapacity"),
    validation = Rule::new("self.dataType != 'Array' || !has(self.elementType) || self.elementType != 'VarChar' || has(self.maxLength)").message("an Array of VarChar needs maxLength"),
    validation = Rule::new("!has(self.elementType) || self.elementType in ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar']").message("elementType is Bool, Int8, Int16, Int32, Int64, Float, Double or VarChar"),
    validation = Rule::new("!self.autoId || (self.primaryKey && (self.dataType == 'Int64' || self.dataType == 'VarChar'))").message("autoId needs an Int64 or VarChar primary key")
)]
pub struct FieldSpec {
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*$')").message("field names are letters, digits and _"))]
    pub name: String,
    pub data_type: FieldType,
    #[serde(default)]
    pub primary_key: bool,
    #[serde(default)]
    pub auto_id: bool,
    #[serde(default)]
    pub nullable: bool,
    #[serde(default)]
    pub partition_key: bool,
    /// vectors: the dimension (bits for BinaryVector: at most 262144)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 262144))]
    pub dim: Option<i32>,
    /// VarChar (and Arrays of VarChar): the longest value, in bytes
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub max_length: Option<i32>,
    /// Array: the type of the elements (Bool, Int8..Int64, Float, Double or VarChar)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_type: Option<FieldType>,
    /// Array: the most elements one row holds
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096))]
    pub max_capacity: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    cel,
    validation = Rule::new("self.fields.filter(f, f.primaryKey).size() == 1").message("exactly one field is the primary key"),
    validation = Rule::new("self.fields.exists(f, f.dataType.endsWith('Vector'))").message("a collection needs a vector field")
)]
pub struct SchemaSpec {
    #[schemars(length(min = 2, max = 64))]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub enable_dynamic_field: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ConsistencyLevel {
    Strong,
    Session,
    Bounded,
    Eventually,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema, Default,
)]
pub enum DeletionPolicy {
    /// deleting the resource keeps the collection and its data
    #[default]
    Retain,
    /// deleting the resource drops the collection
    Delete,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadSpec {
    /// in-memory replicas
    #[schemars(range(min = 1, max = 16))]
    pub replicas: i32,
    /// the query NodePool to load into (default: the cluster's only query pool)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_pool: Option<String>,
}

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "quarry.dev",
    version = "v1alpha1",
    kind = "Collection",
    namespaced,
    shortname = "qcol",
    status = "CollectionStatus",
    doc = "A Quarry collection: schema, shards, load state and what happens to its data on delete",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.clusterRef"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Rows", type_ = "integer", json_path = ".status.rows"),
    printcolumn(
        name = "Segments",
        type_ = "integer",
        json_path = ".status.sealedSegments"
    ),
    printcolumn(name = "Loaded", type_ = "string", json_path = ".status.loadState"),
    printcolumn(
        name = "Indexed",
        type_ = "integer",
        json_path = ".status.indexedRows",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CollectionSpec {
    #[x_kube(validation = Rule::new("self == oldSelf").message("clusterRef is immutable"))]
    pub cluster_ref: String,
    /// default `default`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// the collection's name in Quarry; default the resource's name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*$')").message("collection names are letters, digits and _"))]
    pub name: Option<String>,
    pub schema: SchemaSpec,
    /// fixed at creation
    #[x_kube(validation = Rule::new("self == oldSelf").message("shards cannot change after creation"))]
    #[schemars(range(min = 1, max = 16))]
    pub shards: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency_level: Option<ConsistencyLevel>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// loaded into memory when set; released when removed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CollectionStatus {
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// the collection's id in the catalog
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_id: Option<i64>,
    #[serde(default)]
    pub rows: i64,
    #[serde(default)]
    pub sealed_segments: i32,
    #[serde(default)]
    pub growing_segments: i32,
    #[serde(default)]
    pub indexed_rows: i64,
    #[serde(default)]
    pub total_rows: i64,
    /// NotLoad, Loading or Loaded
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_state: Option<String>,
    #[serde(default)]
    pub loaded_replicas: i32,
}
