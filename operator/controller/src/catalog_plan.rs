//! Desired catalog changes from a `Collection` or `Index` resource, as pure functions of the
//! resource and what the catalog holds; and the reverse (a resource describing a collection
//! created through the Milvus API).

use std::collections::BTreeMap;

use quarry_crd::{
    CollectionSpec, ConsistencyLevel as CrdConsistency, IndexSpec, IndexType, LoadSpec, MetricType,
    SchemaSpec,
};
use quarry_meta::{CollectionMeta, IndexMeta, NewCollection, NewIndex};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

use crate::field_types;

/// One catalog change the reconciler makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Create {
        shards: u32,
        consistency: ConsistencyLevel,
        properties: Vec<(String, String)>,
    },
    SetProperties(Vec<(String, String)>),
    /// pin the in-memory replicas to one query pool (`None`: any query node)
    SetQueryPool(Option<String>),
    Load {
        replicas: u32,
    },
    Release,
}

/// The resource asks for something that cannot be done to an existing collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported(pub String);

/// The collection's name in Quarry: `spec.name`, else the resource name with `-` as `_`
/// (Milvus names allow letters, digits and `_`; Kubernetes names allow `-` and `.`).
pub fn collection_name(spec: &CollectionSpec, resource: &str) -> String {
    spec.name
        .clone()
        .unwrap_or_else(|| resource.replace(['-', '.'], "_"))
}

/// A Kubernetes resource name for a Quarry name (lower case, `_` as `-`).
pub fn resource_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "collection".into()
    } else {
        s
    }
}

pub fn consistency(c: Option<CrdConsistency>) -> ConsistencyLevel {
    match c {
        Some(CrdConsistency::Strong) => ConsistencyLevel::Strong,
        Some(CrdConsistency::Session) => ConsistencyLevel::Session,
        Some(CrdConsistency::Eventually) => ConsistencyLevel::Eventually,
        // Milvus's default
        Some(CrdConsistency::Bounded) | None => ConsistencyLevel::Bounded,
    }
}

fn crd_consistency(c: ConsistencyLevel) -> CrdConsistency {
    match c {
        ConsistencyLevel::Strong => CrdConsistency::Strong,
        ConsistencyLevel::Session => CrdConsistency::Session,
        ConsistencyLevel::Eventually => CrdConsistency::Eventually,
        ConsistencyLevel::Bounded | ConsistencyLevel::Customized => CrdConsistency::Bounded,
    }
}

/// The schema a spec declares, validated as pymilvus's would be (field ids assigned).
pub fn schema_of(name: &str, spec: &SchemaSpec) -> Result<CollectionSchema, String> {
    let fields = spec
        .fields
        .iter()
        .map(|f| {
            let mut out = FieldSchema::new(&f.name, field_types::data_type(f.data_type));
            out.description = f.description.clone().unwrap_or_default();
            out.is_primary_key = f.primary_key;
            out.auto_id = f.auto_id;
            out.nullable = f.nullable;
            out.is_partition_key = f.partition_key;
            if let Some(dim) = f.dim {
                out.type_params.push(("dim".into(), dim.to_string()));
            }
            if let Some(max) = f.max_length {
                out.type_params.push(("max_length".into(), max.to_string()));
            }
            field_types::array_from_spec(f, &mut out);
            out
        })
        .collect();
    let schema = CollectionSchema {
        functions: vec![],
        name: name.to_string(),
        description: spec.description.clone().unwrap_or_default(),
        auto_id: false,
        fields,
        enable_dynamic_field: spec.enable_dynamic_field,
        properties: vec![],
    };
    schema.prepare_new().map_err(|e| e.to_string())
}

/// A field as far as sameness goes: name, type, flags (primary key, auto id, partition key,
/// nullable) and sizes (dimension, max length; element type and capacity of an Array).
type FieldShape = (
    String,
    DataType,
    bool,
    bool,
    bool,
    bool,
    usize,
    usize,
    Option<DataType>,
    usize,
);

/// What makes two schemas the same collection: the user fields with their types and flags.
fn shape(s: &CollectionSchema) -> Vec<FieldShape> {
    s.fields
        .iter()
        .filter(|f| !f.is_dynamic)
        .map(|f| {
            (
                f.name.clone(),
                f.data_type,
                f.is_primary_key,
                f.auto_id,
                f.nullable,
                f.is_partition_key,
                f.dim(),
                f.max_length(),
                f.element_type,
                f.max_capacity(),
            )
        })
        .collect()
}

fn properties(spec: &CollectionSpec) -> Vec<(String, String)> {
    spec.properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn sorted(mut p: Vec<(String, String)>) -> Vec<(String, String)> {
    p.sort();
    p
}

/// The changes that bring the catalog to the spec. Fixed properties of an existing collection
/// (schema, shards, consistency) are compared, never changed: a difference is [`Unsupported`].
pub fn plan_collection(
    name: &str,
    spec: &CollectionSpec,
    existing: Option<&CollectionMeta>,
) -> Result<Vec<Change>, Unsupported> {
    let schema =
        schema_of(name, &spec.schema).map_err(|e| Unsupported(format!("invalid schema: {e}")))?;
    quarry_types::schema::check_collection_properties(&properties(spec))
        .map_err(|e| Unsupported(e.to_string()))?;
    let mut out = Vec::new();
    let (loaded, replicas, pool) = match existing {
        None => {
            out.push(Change::Create {
                shards: spec.shards as u32,
                consistency: consistency(spec.consistency_level),
                properties: properties(spec),
            });
            (false, 1, None)
        }
        Some(meta) => {
            if shape(&meta.schema) != shape(&schema)
                || meta.schema.enable_dynamic_field != schema.enable_dynamic_field
            {
                return Err(Unsupported(format!("the schema of collection {name} cannot change after creation; create a new collection")));
            }
            if meta.shards != spec.shards as u32 {
                return Err(Unsupported(format!(
                    "collection {name} has {} shards; shards cannot change after creation",
                    meta.shards
                )));
            }
            if meta.consistency != consistency(spec.consistency_level) {
                return Err(Unsupported(format!(
                    "the consistency level of collection {name} cannot change after creation"
                )));
            }
            if sorted(meta.properties.clone()) != sorted(properties(spec)) {
                out.push(Change::SetProperties(properties(spec)));
            }
            (meta.loaded, meta.replicas, meta.query_pool.clone())
        }
    };
    // the pool first, so that the load places replicas in it from the start
    let want_pool = spec.load.as_ref().and_then(|l| l.query_pool.clone());
    if spec.load.is_some() && pool != want_pool {
        out.push(Change::SetQueryPool(want_pool));
    }
    match &spec.load {
        Some(l) if !loaded || replicas != l.replicas as u32 => out.push(Change::Load {
            replicas: l.replicas as u32,
        }),
        None if loaded => out.push(Change::Release),
        _ => {}
    }
    Ok(out)
}

/// The new collection a `Create` change makes.
pub fn new_collection(name: &str, spec: &CollectionSpec) -> Result<NewCollection, Unsupported> {
    let schema = schema_of(name, &spec.schema).map_err(Unsupported)?;
    Ok(NewCollection {
        db: quarry_meta::DEFAULT_DB.into(),
        name: name.to_string(),
        schema,
        shards: spec.shards as u32,
        consistency: consistency(spec.consistency_level),
        properties: properties(spec),
        num_partitions: 0,
    })
}

/// A spec describing an existing collection (for collections created through the Milvus API).
pub fn spec_of(meta: &CollectionMeta, cluster: &str) -> CollectionSpec {
    let fields = meta
        .schema
        .fields
        .iter()
        .filter(|f| !f.is_dynamic)
        .map(field_types::spec_of_field)
        .collect();
    CollectionSpec {
        cluster_ref: cluster.to_string(),
        database: None,
        name: Some(meta.name.clone()),
        schema: SchemaSpec {
            fields,
            enable_dynamic_field: meta.schema.enable_dynamic_field,
            description: (!meta.schema.description.is_empty())
                .then(|| meta.schema.description.clone()),
        },
        shards: meta.shards as i32,
        consistency_level: Some(crd_consistency(meta.consistency)),
        properties: meta.properties.iter().cloned().collect(),
        load: meta.loaded.then(|| LoadSpec {
            replicas: meta.replicas as i32,
            query_pool: meta.query_pool.clone(),
        }),
        deletion_policy: None,
    }
}

fn type_name(t: IndexType) -> &'static str {
    match t {
        IndexType::AutoIndex => "AUTOINDEX",
        IndexType::Hnsw => "HNSW",
        IndexType::Flat => "FLAT",
    }
}

fn metric_name(m: MetricType) -> &'static str {
    match m {
        MetricType::L2 => "L2",
        MetricType::Ip => "IP",
        MetricType::Cosine => "COSINE",
    }
}

/// The index's name in Quarry: `spec.indexName`, else the field's name (as pymilvus names it).
pub fn index_name(spec: &IndexSpec) -> String {
    spec.index_name
        .clone()
        .unwrap_or_else(|| spec.field_name.clone())
}

/// The index an `Index` spec declares, with parameters as the proxy stores them for pymilvus
/// (flat: `index_type`, `metric_type` and the build parameters).
pub fn new_index(spec: &IndexSpec) -> NewIndex {
    let mut params: BTreeMap<String, String> = spec.params.clone();
    params.insert("index_type".into(), type_name(spec.index_type).into());
    params.insert("metric_type".into(), metric_name(spec.metric_type).into());
    NewIndex {
        name: index_name(spec),
        field_name: spec.field_name.clone(),
        params,
    }
}

/// Whether an existing index is the one a spec declares; an index cannot change.
pub fn check_index(spec: &IndexSpec, existing: &IndexMeta) -> Result<(), Unsupported> {
    let want = new_index(spec);
    if existing.field_name != want.field_name || existing.params != want.params {
        return Err(Unsupported(format!(
            "index {} exists with other settings ({:?} on {}); an index cannot change: drop it and create another",
            existing.name, existing.params, existing.field_name
        )));
    }
    Ok(())
}

/// A spec describing an existing index (for indexes created through the Milvus API); `None`
/// for an index type or metric the CRD does not name.
pub fn index_spec_of(index: &IndexMeta, collection_resource: &str) -> Option<IndexSpec> {
    let index_type = match index
        .params
        .get("index_type")
        .map(String::as_str)
        .unwrap_or("AUTOINDEX")
    {
        "AUTOINDEX" => IndexType::AutoIndex,
        "HNSW" => IndexType::Hnsw,
        "FLAT" => IndexType::Flat,
        _ => return None,
    };
    let metric_type = match index.params.get("metric_type").map(String::as_str)? {
        "L2" => MetricType::L2,
        "IP" => MetricType::Ip,
        "COSINE" => MetricType::Cosine,
        _ => return None,
    };
    let params = index
        .params
        .iter()
        .filter(|(k, _)| *k != "index_type" && *k != "metric_type")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(IndexSpec {
        collection_ref: collection_resource.to_string(),
        field_name: index.field_name.clone(),
        index_name: Some(index.name.clone()),
        index_type,
        metric_type,
        params,
    })
}

/// Figures of a collection for its status: live rows in sealed segments, sealed segments, and
/// per index the rows of the segments it covers.
pub struct Figures {
    pub rows: u64,
    pub sealed_segments: usize,
    pub total_rows: u64,
}

pub fn figures(meta: &CollectionMeta) -> Figures {
    Figures {
        rows: meta.segments.iter().map(|s| s.rows - s.deleted_rows).sum(),
        sealed_segments: meta.segments.len(),
        total_rows: meta.segments.iter().map(|s| s.rows).sum(),
    }
}

/// Rows of the segments an index has been built for.
pub fn indexed_rows(meta: &CollectionMeta, index: i64) -> u64 {
    meta.segments
        .iter()
        .filter(|s| s.index_files.contains_key(&index))
        .map(|s| s.rows)
        .sum()
}

#[cfg(test)]
mod tests {
    use quarry_crd::{FieldSpec, FieldType};

    use super::*;

    fn field(name: &str, t: FieldType) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            data_type: t,
            primary_key: false,
            auto_id: false,
            nullable: false,
            partition_key: false,
            dim: None,
            max_length: None,
            element_type: None,
            max_capacity: None,
            description: None,
        }
    }

    pub fn spec() -> CollectionSpec {
        let mut id = field("id", FieldType::Int64);
        id.primary_key = true;
        let mut v = field("embedding", FieldType::FloatVector);
        v.dim = Some(8);
        let mut title = field("title", FieldType::VarChar);
        title.max_length = Some(256);
        CollectionSpec {
            cluster_ref: "prod".into(),
            database: None,
            name: None,
            schema: SchemaSpec {
                fields: vec![id, v, title],
                enable_dynamic_field: true,
                description: None,
            },
            shards: 2,
            consistency_level: None,
            properties: BTreeMap::new(),
            load: None,
            deletion_policy: None,
        }
    }

    fn existing(spec: &CollectionSpec) -> CollectionMeta {
        let n = new_collection("docs", spec).unwrap();
        CollectionMeta {
            id: 7,
            name: n.name,
            db: "default".into(),
            schema: n.schema,
            shards: n.shards,
            consistency: n.consistency,
            properties: n.properties,
            created_ts: 1,
            updated_ts: 1,
            loaded: false,
            replicas: 1,
            query_pool: None,
            partitions: vec![],
            indexes: vec![],
            segments: vec![],
            checkpoints: vec![0; 2],
            aliases: vec![],
        }
    }

    #[test]
    fn a_property_quarry_does_not_serve_is_refused_not_stored() {
        let mut s = spec();
        s.properties
            .insert("collection.autocompaction.enabled".into(), "false".into());
        let err = plan_collection("docs", &s, None).unwrap_err();
        assert!(
            err.0.contains("collection.autocompaction.enabled"),
            "{}",
            err.0
        );
        let mut s = spec();
        s.properties.insert("team".into(), "search".into());
        assert!(plan_collection("docs", &s, None).is_ok());
    }

    #[test]
    fn a_new_collection_is_created_then_loaded() {
        let mut s = spec();
        s.load = Some(LoadSpec {
            replicas: 2,
            query_pool: None,
        });
        let plan = plan_collection("docs", &s, None).unwrap();
        assert_eq!(
            plan,
            vec![
                Change::Create {
                    shards: 2,
                    consistency: ConsistencyLevel::Bounded,
                    properties: vec![]
                },
                Change::Load { replicas: 2 }
            ]
        );
        let n = new_collection("docs", &s).unwrap();
        assert_eq!(
            n.schema.fields.len(),
            4,
            "the dynamic field is added as pymilvus would"
        );
        assert_eq!(n.schema.fields[1].dim(), 8);
    }

    #[test]
    fn an_existing_collection_gets_only_what_differs() {
        let s = spec();
        let mut meta = existing(&s);
        assert_eq!(plan_collection("docs", &s, Some(&meta)).unwrap(), vec![]);
        let mut s2 = s.clone();
        s2.properties.insert("team".into(), "search".into());
        assert_eq!(
            plan_collection("docs", &s2, Some(&meta)).unwrap(),
            vec![Change::SetProperties(vec![(
                "team".into(),
                "search".into()
            )])]
        );
        meta.loaded = true;
        assert_eq!(
            plan_collection("docs", &s, Some(&meta)).unwrap(),
            vec![Change::Release],
            "load removed from the spec releases"
        );
    }

    #[test]
    fn a_query_pool_is_set_before_the_load() {
        let mut s = spec();
        s.load = Some(LoadSpec {
            replicas: 1,
            query_pool: Some("batch".into()),
        });
        let mut meta = existing(&s);
        assert_eq!(
            plan_collection("docs", &s, Some(&meta)).unwrap(),
            vec![
                Change::SetQueryPool(Some("batch".into())),
                Change::Load { replicas: 1 }
            ]
        );
        meta.loaded = true;
        meta.query_pool = Some("batch".into());
        assert_eq!(plan_collection("docs", &s, Some(&meta)).unwrap(), vec![]);
        assert_eq!(
            spec_of(&meta, "prod").load.unwrap().query_pool.as_deref(),
            Some("batch")
        );
    }

    #[test]
    fn fixed_properties_are_not_supported_changes() {
        let s = spec();
        let meta = existing(&s);
        let mut more_shards = s.clone();
        more_shards.shards = 4;
        assert!(plan_collection("docs", &more_shards, Some(&meta))
            .unwrap_err()
            .0
            .contains("shards cannot change"));
        let mut wider = s.clone();
        wider.schema.fields[1].dim = Some(16);
        assert!(plan_collection("docs", &wider, Some(&meta))
            .unwrap_err()
            .0
            .contains("schema"));
        let mut strong = s;
        strong.consistency_level = Some(CrdConsistency::Strong);
        assert!(plan_collection("docs", &strong, Some(&meta)).is_err());
    }

    #[test]
    fn a_collection_made_through_pymilvus_reads_back_as_the_same_spec() {
        let mut s = spec();
        s.name = Some("docs".into());
        s.consistency_level = Some(CrdConsistency::Bounded);
        let meta = existing(&s);
        let back = spec_of(&meta, "prod");
        assert_eq!(back, s);
        assert_eq!(plan_collection("docs", &back, Some(&meta)).unwrap(), vec![]);
        assert_eq!(resource_name("My_Docs_"), "my-docs");
        assert_eq!(collection_name(&spec(), "my-docs"), "my_docs");
    }

    #[test]
    fn an_index_spec_matches_what_the_proxy_stores() {
        let spec = IndexSpec {
            collection_ref: "docs".into(),
            field_name: "embedding".into(),
            index_name: None,
            index_type: IndexType::Hnsw,
            metric_type: MetricType::Cosine,
            params: BTreeMap::from([("M".to_string(), "16".to_string())]),
        };
        let n = new_index(&spec);
        assert_eq!(n.name, "embedding");
        assert_eq!(n.params["index_type"], "HNSW");
        let meta = IndexMeta {
            id: 1,
            name: n.name.clone(),
            field_name: n.field_name.clone(),
            params: n.params.clone(),
            created_ts: 0,
        };
        assert!(check_index(&spec, &meta).is_ok());
        let back = index_spec_of(&meta, "docs").unwrap();
        assert_eq!(new_index(&back).params, n.params);
        let mut other = spec.clone();
        other.metric_type = MetricType::L2;
        assert!(check_index(&other, &meta).is_err());
    }
}
