//! Collection and index definitions: everything that changes the catalog but no rows.

use std::collections::BTreeMap;

use quarry_index::text::Analyzer;
use quarry_index::{IndexSpec, Metric, ScalarKind};
use quarry_meta::{CollectionMeta, Created, IndexMeta, NewCollection, NewIndex};
use quarry_types::function::analyzed;
use quarry_types::schema::FieldSchema;
use quarry_types::DataType;
use quarry_types::{CollectionSchema, ConsistencyLevel};

use crate::error::invalid;
use crate::partitions::check_num_partitions;
use crate::Named;
use crate::{Engine, EngineError, Result};

pub use quarry_types::limits::MAX_SHARDS;
use quarry_types::limits::{MAX_COLLECTIONS, MAX_NAME_BYTES, MAX_REPLICAS};
use quarry_types::schema::check_collection_properties;

/// Checks the replica count of a load: 1 up to [`MAX_REPLICAS`], and 1 in standalone mode,
/// where the one process is the one query node. (In a cluster the coordinator also refuses
/// more replicas than the query nodes that can serve them.)
pub fn check_replicas(replicas: u32, standalone: bool) -> Result<()> {
    if standalone && replicas > 1 {
        return Err(invalid(format!(
            "replica_number {replicas} is not supported in standalone mode (at most 1): \
             no enough nodes to create replicas, the standalone process is the only query node"
        )));
    }
    if replicas == 0 || replicas as usize > MAX_REPLICAS {
        return Err(invalid(format!(
            "replica_number {replicas} is invalid: it should be in range [1, {MAX_REPLICAS}]"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct CreateCollection {
    /// the database (its existence is checked by the catalog)
    pub db: String,
    pub name: String,
    pub schema: CollectionSchema,
    pub shards: i32,
    pub consistency: ConsistencyLevel,
    pub properties: Vec<(String, String)>,
    /// partitions of a partition-key collection (`CreateCollectionRequest.num_partitions`;
    /// 0: Milvus' default of 16)
    pub num_partitions: i64,
}

/// An index and its build progress.
#[derive(Debug, Clone)]
pub struct IndexInfo {
    pub meta: IndexMeta,
    pub indexed_rows: u64,
    pub total_rows: u64,
    pub pending_rows: u64,
    pub finished: bool,
}

impl Engine {
    pub async fn create_collection(&self, req: CreateCollection) -> Result<()> {
        if req.schema.name != req.name && !req.schema.name.is_empty() {
            return Err(invalid(format!(
                "collection name {:?} does not match the schema name {:?}",
                req.name, req.schema.name
            )));
        }
        check_collection_properties(&req.properties)?;
        let mut schema = req.schema;
        schema.name = req.name.clone();
        let schema = schema.prepare_new()?;
        check_analyzers(&schema)?;
        let num_partitions =
            check_num_partitions(req.num_partitions, schema.partition_key().is_some())?;
        let shards = if req.shards <= 0 {
            1
        } else {
            req.shards as u32
        };
        if shards > MAX_SHARDS {
            return Err(invalid(format!(
                "shard number {shards} exceeds the maximum of {MAX_SHARDS}"
            )));
        }
        {
            // a re-create of an existing collection is answered below (as Milvus does)
            let snapshot = self.io.meta.snapshot();
            if snapshot.collections.len() >= MAX_COLLECTIONS
                && snapshot.by_name(&req.db, &req.name).is_none()
            {
                return Err(invalid(format!(
                    "failed to create collection {}: exceeded the limit number of \
                     collections[limit={MAX_COLLECTIONS}]",
                    req.name
                )));
            }
        }
        let req = NewCollection {
            db: req.db,
            name: req.name,
            schema,
            shards,
            consistency: req.consistency,
            properties: req.properties,
            num_partitions,
        };
        let meta = match self.io.meta.create_collection(req).await? {
            Created::New(meta) => meta,
            Created::Existing(_) => return Ok(()),
        };
        self.io.log.create_topic(&meta.topic(), shards).await?;
        let rt = self.new_runtime(&meta);
        self.collections.write().insert(meta.id, rt);
        tracing::info!(collection = %meta.name, id = meta.id, shards, "collection created");
        Ok(())
    }

    pub async fn drop_collection(&self, name: impl Into<Named<'_>>) -> Result<()> {
        let name = name.into();
        let meta = match self.resolve_fresh(name, |_| false).await {
            Ok((meta, _)) => {
                Self::check_not_alias(name, &meta)?;
                meta
            }
            // dropping a missing collection succeeds in Milvus
            Err(EngineError::CollectionNotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        self.io.meta.drop_collection(meta.id).await?;
        self.collections.write().remove(&meta.id);
        meta.delete_data(&*self.io.log, &*self.io.store).await?;
        tracing::info!(collection = %name, id = meta.id, "collection dropped");
        Ok(())
    }

    /// The collection as the catalog's owner knows it right now (cluster roles ask the
    /// coordinator: another proxy may just have created or dropped it).
    pub async fn describe_collection_latest(
        &self,
        name: impl Into<Named<'_>>,
    ) -> Result<CollectionMeta> {
        let name = name.into();
        Ok(self.resolve_fresh(name, |_| true).await?.0)
    }

    pub async fn describe_collection(&self, name: impl Into<Named<'_>>) -> Result<CollectionMeta> {
        let name = name.into();
        Ok(self.resolve_fresh(name, |_| false).await?.0)
    }

    pub fn describe_collection_by_id(&self, id: i64) -> Result<CollectionMeta> {
        self.io
            .meta
            .snapshot()
            .collections
            .get(&id)
            .cloned()
            .ok_or_else(|| EngineError::CollectionNotFound(id.to_string()))
    }

    /// Collections in creation order, after catching up with the coordinator (cluster roles).
    pub async fn list_collections_fresh(&self) -> Result<Vec<CollectionMeta>> {
        if self.io.meta.refresh().await? {
            self.ensure_runtimes();
        }
        Ok(self.list_collections())
    }

    pub fn list_collections(&self) -> Vec<CollectionMeta> {
        let mut all: Vec<_> = self
            .io
            .meta
            .snapshot()
            .collections
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|c| c.created_ts);
        all
    }

    /// Live rows of a collection (all partitions).
    pub async fn row_count(&self, name: impl Into<Named<'_>>) -> Result<u64> {
        let name = name.into();
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        let all: Vec<i64> = meta.partitions.iter().map(|p| p.id).collect();
        if self.router.is_some() {
            // a proxy holds no rows: collections loaded whole are counted by the workers,
            // others by their sealed segments
            if meta.loaded && meta.loaded_partitions().len() == all.len() {
                return self.count_partitions(&meta, &rt, all).await;
            }
            let meta = self.describe_collection_latest(name).await?;
            return Ok(meta.segments.iter().map(|s| s.rows - s.deleted_rows).sum());
        }
        Ok(rt.live_rows(&all))
    }

    async fn set_loaded(
        &self,
        name: impl Into<Named<'_>>,
        loaded: bool,
        replicas: u32,
    ) -> Result<()> {
        let name = name.into();
        let (meta, _) = self.resolve_fresh(name, |_| false).await?;
        if loaded {
            self.check_indexed(&meta, name)?;
        }
        Ok(self.io.meta.set_loaded(meta.id, loaded, replicas).await?)
    }

    /// A collection loads only once every vector field has an index (as in Milvus).
    pub(crate) fn check_indexed(&self, meta: &CollectionMeta, name: Named<'_>) -> Result<()> {
        let missing: Vec<_> = meta
            .schema
            .vector_fields()
            .filter(|f| !meta.indexes.iter().any(|i| i.field_name == f.name))
            .map(|f| f.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(EngineError::IndexNotFound(format!(
                "there is no vector index on field: {missing:?}, please create index firstly: collection={name}"
            )));
        }
        Ok(())
    }

    pub async fn load_collection(&self, name: impl Into<Named<'_>>, replicas: u32) -> Result<()> {
        let name = name.into();
        check_replicas(replicas, self.duties.single_replica)?;
        self.set_loaded(name, true, replicas).await
    }

    pub async fn release_collection(&self, name: impl Into<Named<'_>>) -> Result<()> {
        let name = name.into();
        self.set_loaded(name, false, 1).await
    }

    /// Creates an index from Milvus-style parameters. An empty name defaults to the field name.
    pub async fn create_index(
        &self,
        name: impl Into<Named<'_>>,
        field_name: &str,
        index_name: &str,
        params: BTreeMap<String, String>,
    ) -> Result<()> {
        let name = name.into();
        let (meta, _) = self.resolve_fresh(name, |_| false).await?;
        let field = match field_name {
            "" => {
                let mut vectors = meta.schema.vector_fields();
                match (vectors.next(), vectors.next()) {
                    (Some(f), None) => f,
                    _ => return Err(invalid(
                        "field_name must be given when the collection has several vector fields",
                    )),
                }
            }
            f => meta.schema.field(f).ok_or_else(|| {
                invalid(format!("cannot create index on non-existent field: {f}"))
            })?,
        };
        let normalized = if field.data_type.is_vector() {
            let spec = IndexSpec::for_field(&params, field.data_type)?;
            spec.check_dim(field.dim())?;
            check_function_metric(&meta.schema, field, spec.metric)?;
            let mut normalized = params.clone();
            normalized.insert("metric_type".into(), spec.metric.name().into());
            normalized
                .entry("index_type".into())
                .or_insert_with(|| "AUTOINDEX".into());
            normalized
        } else {
            scalar_params(field, &params)?
        };
        let index_name = if index_name.is_empty() {
            field.name.clone()
        } else {
            if index_name.len() > MAX_NAME_BYTES {
                return Err(invalid(format!(
                    "the length of an index name must be less than {MAX_NAME_BYTES} characters, \
                     but got {} bytes",
                    index_name.len()
                )));
            }
            index_name.to_string()
        };
        let index = NewIndex {
            name: index_name,
            field_name: field.name.clone(),
            params: normalized,
        };
        self.io.meta.create_index(meta.id, index).await?;
        self.index_wakeup.notify_one();
        Ok(())
    }

    /// Indexes with progress; `index_name` empty means all.
    pub async fn describe_index(
        &self,
        name: impl Into<Named<'_>>,
        field_name: &str,
        index_name: &str,
    ) -> Result<Vec<IndexInfo>> {
        let name = name.into();
        let meta = self.describe_collection(name).await?;
        let total = self.row_count(name).await?;
        let out: Vec<IndexInfo> = meta
            .indexes
            .iter()
            .filter(|i| {
                (index_name.is_empty() || i.name == index_name)
                    && (field_name.is_empty() || i.field_name == field_name)
            })
            .map(|i| {
                let (mut indexed, mut pending) = (0u64, 0u64);
                for seg in &meta.segments {
                    let live = seg.rows - seg.deleted_rows;
                    if seg.index_files.contains_key(&i.id) {
                        indexed += live
                    } else {
                        pending += live
                    }
                }
                IndexInfo {
                    meta: i.clone(),
                    indexed_rows: indexed,
                    total_rows: total,
                    pending_rows: pending,
                    finished: pending == 0,
                }
            })
            .collect();
        if out.is_empty() {
            return Err(EngineError::IndexNotFound(format!(
                "collection={name}, index={index_name}"
            )));
        }
        Ok(out)
    }

    pub async fn drop_index(
        &self,
        name: impl Into<Named<'_>>,
        field_name: &str,
        index_name: &str,
    ) -> Result<()> {
        let name = name.into();
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        if meta.loaded {
            return Err(invalid(
                "index cannot be dropped, collection is loaded, please release it first",
            ));
        }
        let Some(index) = meta
            .indexes
            .iter()
            .find(|i| {
                (index_name.is_empty() || i.name == index_name)
                    && (field_name.is_empty() || i.field_name == field_name)
            })
            .cloned()
        else {
            return Err(EngineError::IndexNotFound(format!(
                "collection={name}, index={index_name}"
            )));
        };
        self.io.meta.drop_index(meta.id, index.id).await?;
        rt.shards.iter().for_each(|s| s.drop_index(index.id));
        for seg in &meta.segments {
            if let Some(key) = seg.index_files.get(&index.id) {
                self.io.store.delete(key).await?;
            }
        }
        Ok(())
    }
}

/// The stored parameters of a scalar index: its type as asked (none: AUTOINDEX, which builds
/// INVERTED). A scalar index takes no other parameter: one given is refused, not stored.
fn scalar_params(
    field: &FieldSchema,
    params: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    for (k, v) in params {
        let empty_metric = k == "metric_type" && v.trim().is_empty();
        if k != "index_type" && !empty_metric {
            return Err(invalid(format!(
                "index parameter {k} does not apply to the scalar index of field {}",
                field.name
            )));
        }
    }
    let asked = match params.get("index_type").map(|t| t.trim()) {
        None | Some("") => "AUTOINDEX",
        Some(t) => t,
    };
    ScalarKind::parse(asked, field)?;
    Ok(BTreeMap::from([(
        "index_type".to_string(),
        asked.to_string(),
    )]))
}

/// The kind of a stored scalar index on `field`.
pub(crate) fn scalar_kind(
    params: &BTreeMap<String, String>,
    field: &FieldSchema,
) -> Result<ScalarKind> {
    let asked = params.get("index_type").map(String::as_str).unwrap_or("");
    Ok(ScalarKind::parse(asked, field)?)
}

/// The analyzer parameters of every analyzed VarChar field, read as the write path will.
fn check_analyzers(schema: &CollectionSchema) -> Result<()> {
    for f in &schema.fields {
        if f.data_type == DataType::VarChar && f.param("multi_analyzer_params").is_some() {
            return Err(invalid(format!(
                "field {}: multi_analyzer_params is not supported by quarry yet",
                f.name
            )));
        }
        if analyzed(f) || f.param("analyzer_params").is_some() {
            Analyzer::from_params(f.param("analyzer_params"))
                .map_err(|e| invalid(format!("field {}: {e}", f.name)))?;
        }
    }
    Ok(())
}

/// A BM25 function's output field is indexed with metric BM25, and only it.
fn check_function_metric(
    schema: &CollectionSchema,
    field: &FieldSchema,
    metric: Metric,
) -> Result<()> {
    let output = schema.function_of_output(&field.name).is_some();
    if output && metric != Metric::Bm25 {
        return Err(invalid(format!(
            "field {} is the output of a BM25 function: its index takes metric_type BM25, not {}",
            field.name,
            metric.name()
        )));
    }
    if !output && metric == Metric::Bm25 {
        return Err(invalid(format!(
            "metric type BM25 is for the output field of a BM25 function; field {} is not one",
            field.name
        )));
    }
    Ok(())
}
