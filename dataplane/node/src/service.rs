//! MilvusService handlers: validate, convert, call the engine, convert back. Nothing else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use quarry_engine::{
    CreateCollection, Engine, InsertInput, QueryInput, QueryOutput, SearchInput, DEFAULT_DB,
};
use quarry_proto::common::{IndexState, KeyValuePair, LoadState, Status};
use quarry_proto::schema as ps;
use quarry_proto::service::milvus_service_server::MilvusService;
use quarry_proto::service::*;
use quarry_types::{ConsistencyLevel, DataType, Pk};
use tonic::{Request, Response};

use crate::convert;
use crate::metrics::Metrics;
use crate::status::{from_engine, invalid, ok};

pub struct Service {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// set on a proxy of a cluster (where loading takes time and replicas are possible)
    pub router: Option<Arc<crate::router::GrpcRouter>>,
}

type R<T> = Result<Response<T>, tonic::Status>;

fn reply<T>(t: T) -> R<T> {
    Ok(Response::new(t))
}

/// Only the default database exists; an empty name means it.
fn check_db<T>(req: &Request<T>, body_db: &str) -> Result<(), Status> {
    let header = req
        .metadata()
        .get("dbname")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for db in [header, body_db] {
        if !db.is_empty() && db != DEFAULT_DB {
            return Err(crate::status::status(
                800,
                quarry_proto::common::ErrorCode::UnexpectedError,
                format!("database not found[database={db}]"),
            ));
        }
    }
    Ok(())
}

macro_rules! try_status {
    ($e:expr, $resp:ident { $($f:ident : $v:expr),* }) => {
        match $e {
            Ok(v) => v,
            Err(status) => return reply($resp { status: Some(status), $($f: $v,)* ..Default::default() }),
        }
    };
}

impl Service {
    /// Percent of a loaded collection's shard replicas served: standalone keeps everything in
    /// memory (100); a cluster counts the replicas query nodes report loaded.
    fn load_progress(&self, m: &quarry_meta::CollectionMeta) -> i64 {
        self.router.as_ref().map_or(100, |r| r.load_progress(m))
    }

    fn observe(&self, rpc: &str, start: Instant, status: &Status) {
        self.metrics.observe(
            rpc,
            status.code == 0 && status.error_code == 0,
            start.elapsed(),
        );
    }
}

#[tonic::async_trait]
impl MilvusService for Service {
    async fn connect(&self, _req: Request<ConnectRequest>) -> R<ConnectResponse> {
        reply(ConnectResponse {
            status: Some(ok()),
            server_info: Some(ServerInfo {
                build_tags: format!("quarry-{}", env!("CARGO_PKG_VERSION")),
                deploy_mode: "STANDALONE".into(),
                ..Default::default()
            }),
            identifier: self.engine.now_ts() as i64 & 0x7fff_ffff,
        })
    }

    async fn get_version(&self, _req: Request<GetVersionRequest>) -> R<GetVersionResponse> {
        reply(GetVersionResponse {
            status: Some(ok()),
            version: format!("v2.4.0-quarry-{}", env!("CARGO_PKG_VERSION")),
        })
    }

    async fn check_health(&self, _req: Request<CheckHealthRequest>) -> R<CheckHealthResponse> {
        reply(CheckHealthResponse {
            status: Some(ok()),
            is_healthy: true,
            reasons: vec![],
        })
    }

    async fn alloc_timestamp(
        &self,
        _req: Request<AllocTimestampRequest>,
    ) -> R<AllocTimestampResponse> {
        reply(AllocTimestampResponse {
            status: Some(ok()),
            timestamp: self.engine.now_ts(),
        })
    }

    async fn create_collection(&self, req: Request<CreateCollectionRequest>) -> R<Status> {
        let start = Instant::now();
        if let Err(s) = check_db(&req, &req.get_ref().db_name) {
            return reply(s);
        }
        let r = req.into_inner();
        let schema = match convert::schema_from_bytes(&r.schema) {
            Ok(s) => s,
            Err(e) => return reply(invalid(e)),
        };
        let result = self
            .engine
            .create_collection(CreateCollection {
                name: r.collection_name,
                schema,
                shards: r.shards_num,
                consistency: ConsistencyLevel::from_code(r.consistency_level),
                properties: convert::kv(&r.properties),
            })
            .await;
        let status = result.map(|_| ok()).unwrap_or_else(|e| from_engine(&e));
        self.observe("CreateCollection", start, &status);
        reply(status)
    }

    async fn drop_collection(&self, req: Request<DropCollectionRequest>) -> R<Status> {
        let r = req.into_inner();
        reply(
            self.engine
                .drop_collection(&r.collection_name)
                .await
                .map(|_| ok())
                .unwrap_or_else(|e| from_engine(&e)),
        )
    }

    async fn has_collection(&self, req: Request<HasCollectionRequest>) -> R<BoolResponse> {
        let r = req.into_inner();
        reply(BoolResponse {
            status: Some(ok()),
            value: self
                .engine
                .describe_collection_latest(&r.collection_name)
                .await
                .is_ok(),
        })
    }

    async fn describe_collection(
        &self,
        req: Request<DescribeCollectionRequest>,
    ) -> R<DescribeCollectionResponse> {
        try_status!(
            check_db(&req, &req.get_ref().db_name),
            DescribeCollectionResponse {}
        );
        let r = req.into_inner();
        let found = if r.collection_name.is_empty() && r.collection_id != 0 {
            self.engine.describe_collection_by_id(r.collection_id)
        } else {
            self.engine
                .describe_collection_latest(&r.collection_name)
                .await
        };
        let m = try_status!(
            found.map_err(|e| from_engine(&e)),
            DescribeCollectionResponse {}
        );
        reply(DescribeCollectionResponse {
            status: Some(ok()),
            schema: Some(convert::schema_to_proto(&m.schema, &m.db)),
            collection_id: m.id,
            virtual_channel_names: (0..m.shards)
                .map(|s| format!("{}_{s}v0", m.topic()))
                .collect(),
            physical_channel_names: (0..m.shards)
                .map(|s| format!("{}_{s}", m.topic()))
                .collect(),
            created_timestamp: m.created_ts,
            created_utc_timestamp: m.created_ts >> 18,
            shards_num: m.shards as i32,
            consistency_level: m.consistency.code(),
            collection_name: m.name.clone(),
            properties: convert::to_kv(&m.properties),
            db_name: m.db.clone(),
            num_partitions: m.partitions.len() as i64,
            update_timestamp: m.updated_ts,
            update_timestamp_str: m.updated_ts.to_string(),
            ..Default::default()
        })
    }

    async fn show_collections(
        &self,
        req: Request<ShowCollectionsRequest>,
    ) -> R<ShowCollectionsResponse> {
        try_status!(
            check_db(&req, &req.get_ref().db_name),
            ShowCollectionsResponse {}
        );
        let all = try_status!(
            self.engine
                .list_collections_fresh()
                .await
                .map_err(|e| from_engine(&e)),
            ShowCollectionsResponse {}
        );
        reply(ShowCollectionsResponse {
            status: Some(ok()),
            collection_names: all.iter().map(|c| c.name.clone()).collect(),
            collection_ids: all.iter().map(|c| c.id).collect(),
            created_timestamps: all.iter().map(|c| c.created_ts).collect(),
            created_utc_timestamps: all.iter().map(|c| c.created_ts >> 18).collect(),
            in_memory_percentages: all.iter().map(|c| if c.loaded { 100 } else { 0 }).collect(),
            query_service_available: all.iter().map(|c| c.loaded).collect(),
            shards_num: all.iter().map(|c| c.shards as i32).collect(),
        })
    }

    async fn get_collection_statistics(
        &self,
        req: Request<GetCollectionStatisticsRequest>,
    ) -> R<GetCollectionStatisticsResponse> {
        let r = req.into_inner();
        let rows = try_status!(
            self.engine
                .row_count(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetCollectionStatisticsResponse {}
        );
        reply(GetCollectionStatisticsResponse {
            status: Some(ok()),
            stats: vec![KeyValuePair {
                key: "row_count".into(),
                value: rows.to_string(),
            }],
        })
    }

    async fn load_collection(&self, req: Request<LoadCollectionRequest>) -> R<Status> {
        let r = req.into_inner();
        // ≤ 0 means 1 (the ORM sends 0); the engine checks the bounds
        reply(
            self.engine
                .load_collection(&r.collection_name, r.replica_number.max(1).unsigned_abs())
                .await
                .map(|_| ok())
                .unwrap_or_else(|e| from_engine(&e)),
        )
    }

    async fn release_collection(&self, req: Request<ReleaseCollectionRequest>) -> R<Status> {
        let r = req.into_inner();
        reply(
            self.engine
                .release_collection(&r.collection_name)
                .await
                .map(|_| ok())
                .unwrap_or_else(|e| from_engine(&e)),
        )
    }

    async fn get_load_state(&self, req: Request<GetLoadStateRequest>) -> R<GetLoadStateResponse> {
        let r = req.into_inner();
        let m = try_status!(
            self.engine
                .describe_collection(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetLoadStateResponse {}
        );
        let state = match (m.loaded, self.load_progress(&m)) {
            (false, _) => LoadState::NotLoad,
            (true, 100) => LoadState::Loaded,
            (true, _) => LoadState::Loading,
        };
        reply(GetLoadStateResponse {
            status: Some(ok()),
            state: state as i32,
        })
    }

    async fn get_loading_progress(
        &self,
        req: Request<GetLoadingProgressRequest>,
    ) -> R<GetLoadingProgressResponse> {
        let r = req.into_inner();
        let m = try_status!(
            self.engine
                .describe_collection(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetLoadingProgressResponse {}
        );
        if !m.loaded {
            return reply(GetLoadingProgressResponse {
                status: Some(from_engine(&quarry_engine::EngineError::NotLoaded(m.name))),
                ..Default::default()
            });
        }
        let progress = self.load_progress(&m);
        reply(GetLoadingProgressResponse {
            status: Some(ok()),
            progress,
            refresh_progress: progress,
        })
    }

    async fn show_partitions(
        &self,
        req: Request<ShowPartitionsRequest>,
    ) -> R<ShowPartitionsResponse> {
        let r = req.into_inner();
        let m = try_status!(
            self.engine
                .describe_collection(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            ShowPartitionsResponse {}
        );
        reply(ShowPartitionsResponse {
            status: Some(ok()),
            partition_names: m.partitions.iter().map(|p| p.name.clone()).collect(),
            partition_i_ds: m.partitions.iter().map(|p| p.id).collect(),
            created_timestamps: m.partitions.iter().map(|p| p.created_ts).collect(),
            created_utc_timestamps: m.partitions.iter().map(|p| p.created_ts >> 18).collect(),
            in_memory_percentages: m
                .partitions
                .iter()
                .map(|_| if m.loaded { 100 } else { 0 })
                .collect(),
        })
    }

    async fn has_partition(&self, req: Request<HasPartitionRequest>) -> R<BoolResponse> {
        let r = req.into_inner();
        let m = try_status!(
            self.engine
                .describe_collection(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            BoolResponse {}
        );
        reply(BoolResponse {
            status: Some(ok()),
            value: m.partitions.iter().any(|p| p.name == r.partition_name),
        })
    }

    async fn get_partition_statistics(
        &self,
        req: Request<GetPartitionStatisticsRequest>,
    ) -> R<GetPartitionStatisticsResponse> {
        let r = req.into_inner();
        let m = try_status!(
            self.engine
                .describe_collection(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetPartitionStatisticsResponse {}
        );
        try_status!(
            self.engine
                .check_partition(&m, &r.partition_name)
                .map_err(|e| from_engine(&e)),
            GetPartitionStatisticsResponse {}
        );
        let rows = try_status!(
            self.engine
                .row_count(&r.collection_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetPartitionStatisticsResponse {}
        );
        reply(GetPartitionStatisticsResponse {
            status: Some(ok()),
            stats: vec![KeyValuePair {
                key: "row_count".into(),
                value: rows.to_string(),
            }],
        })
    }

    async fn insert(&self, req: Request<InsertRequest>) -> R<MutationResult> {
        let start = Instant::now();
        try_status!(check_db(&req, &req.get_ref().db_name), MutationResult {});
        let r = req.into_inner();
        let res = self
            .mutate(
                &r.collection_name,
                r.partition_name,
                r.fields_data,
                r.num_rows,
                false,
                r.schema_timestamp,
            )
            .await;
        self.observe("Insert", start, res.status.as_ref().unwrap());
        reply(res)
    }

    async fn upsert(&self, req: Request<UpsertRequest>) -> R<MutationResult> {
        let start = Instant::now();
        try_status!(check_db(&req, &req.get_ref().db_name), MutationResult {});
        let r = req.into_inner();
        if r.partial_update {
            return reply(MutationResult {
                status: Some(invalid("partial upsert is not supported by quarry yet")),
                ..Default::default()
            });
        }
        let res = self
            .mutate(
                &r.collection_name,
                r.partition_name,
                r.fields_data,
                r.num_rows,
                true,
                r.schema_timestamp,
            )
            .await;
        self.observe("Upsert", start, res.status.as_ref().unwrap());
        reply(res)
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> R<MutationResult> {
        let r = req.into_inner();
        let templates = try_status!(
            convert::templates(&r.expr_template_values).map_err(invalid),
            MutationResult {}
        );
        let out = try_status!(
            self.engine
                .delete(&r.collection_name, &r.partition_name, &r.expr, &templates)
                .await
                .map_err(|e| from_engine(&e)),
            MutationResult {}
        );
        // Milvus >= 2.3.2 answers deletes with a count and no ids
        reply(MutationResult {
            status: Some(ok()),
            delete_cnt: out.count as i64,
            timestamp: out.timestamp,
            acknowledged: true,
            ..Default::default()
        })
    }

    async fn flush(&self, req: Request<FlushRequest>) -> R<FlushResponse> {
        let r = req.into_inner();
        let mut segs = HashMap::new();
        let mut ts = HashMap::new();
        for name in &r.collection_names {
            let ids = try_status!(
                self.engine.flush(name).await.map_err(|e| from_engine(&e)),
                FlushResponse {}
            );
            segs.insert(name.clone(), ps::LongArray { data: ids });
            ts.insert(name.clone(), self.engine.now_ts());
        }
        reply(FlushResponse {
            status: Some(ok()),
            db_name: DEFAULT_DB.into(),
            coll_seg_i_ds: segs,
            coll_flush_ts: ts,
            ..Default::default()
        })
    }

    async fn get_flush_state(
        &self,
        _req: Request<GetFlushStateRequest>,
    ) -> R<GetFlushStateResponse> {
        // Flush returns only after the segments are durable
        reply(GetFlushStateResponse {
            status: Some(ok()),
            flushed: true,
        })
    }

    async fn create_index(&self, req: Request<CreateIndexRequest>) -> R<Status> {
        let r = req.into_inner();
        let params = match convert::index_params(&r.extra_params) {
            Ok(p) => p,
            Err(e) => return reply(invalid(e)),
        };
        reply(
            self.engine
                .create_index(&r.collection_name, &r.field_name, &r.index_name, params)
                .await
                .map(|_| ok())
                .unwrap_or_else(|e| from_engine(&e)),
        )
    }

    async fn describe_index(&self, req: Request<DescribeIndexRequest>) -> R<DescribeIndexResponse> {
        let r = req.into_inner();
        let infos = try_status!(
            self.engine
                .describe_index(&r.collection_name, &r.field_name, &r.index_name)
                .await
                .map_err(|e| from_engine(&e)),
            DescribeIndexResponse {}
        );
        reply(DescribeIndexResponse {
            status: Some(ok()),
            index_descriptions: infos
                .into_iter()
                .map(|i| IndexDescription {
                    index_name: i.meta.name.clone(),
                    index_id: i.meta.id,
                    params: i
                        .meta
                        .params
                        .iter()
                        .map(|(k, v)| KeyValuePair {
                            key: k.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                    field_name: i.meta.field_name.clone(),
                    indexed_rows: i.indexed_rows as i64,
                    total_rows: i.total_rows as i64,
                    state: if i.finished {
                        IndexState::Finished
                    } else {
                        IndexState::InProgress
                    } as i32,
                    index_state_fail_reason: String::new(),
                    pending_index_rows: i.pending_rows as i64,
                })
                .collect(),
        })
    }

    async fn drop_index(&self, req: Request<DropIndexRequest>) -> R<Status> {
        let r = req.into_inner();
        reply(
            self.engine
                .drop_index(&r.collection_name, &r.field_name, &r.index_name)
                .await
                .map(|_| ok())
                .unwrap_or_else(|e| from_engine(&e)),
        )
    }

    async fn get_index_state(
        &self,
        req: Request<GetIndexStateRequest>,
    ) -> R<GetIndexStateResponse> {
        let r = req.into_inner();
        let infos = try_status!(
            self.engine
                .describe_index(&r.collection_name, &r.field_name, &r.index_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetIndexStateResponse {}
        );
        let done = infos.iter().all(|i| i.finished);
        reply(GetIndexStateResponse {
            status: Some(ok()),
            state: if done {
                IndexState::Finished
            } else {
                IndexState::InProgress
            } as i32,
            fail_reason: String::new(),
        })
    }

    async fn get_index_build_progress(
        &self,
        req: Request<GetIndexBuildProgressRequest>,
    ) -> R<GetIndexBuildProgressResponse> {
        let r = req.into_inner();
        let infos = try_status!(
            self.engine
                .describe_index(&r.collection_name, &r.field_name, &r.index_name)
                .await
                .map_err(|e| from_engine(&e)),
            GetIndexBuildProgressResponse {}
        );
        let i = &infos[0];
        reply(GetIndexBuildProgressResponse {
            status: Some(ok()),
            indexed_rows: i.indexed_rows as i64,
            total_rows: i.total_rows as i64,
        })
    }

    async fn search(&self, req: Request<SearchRequest>) -> R<SearchResults> {
        let start = Instant::now();
        try_status!(check_db(&req, &req.get_ref().db_name), SearchResults {});
        let r = req.into_inner();
        let res = self.do_search(r).await;
        self.observe("Search", start, res.status.as_ref().unwrap());
        reply(res)
    }

    async fn query(&self, req: Request<QueryRequest>) -> R<QueryResults> {
        let start = Instant::now();
        try_status!(check_db(&req, &req.get_ref().db_name), QueryResults {});
        let r = req.into_inner();
        let res = self.do_query(r).await;
        self.observe("Query", start, res.status.as_ref().unwrap());
        reply(res)
    }

    async fn list_databases(
        &self,
        _req: Request<ListDatabasesRequest>,
    ) -> R<ListDatabasesResponse> {
        reply(ListDatabasesResponse {
            status: Some(ok()),
            db_names: vec![DEFAULT_DB.into()],
            created_timestamp: vec![0],
            db_ids: vec![1],
        })
    }

    async fn describe_database(
        &self,
        req: Request<DescribeDatabaseRequest>,
    ) -> R<DescribeDatabaseResponse> {
        let r = req.into_inner();
        try_status!(
            check_db(&Request::new(()), &r.db_name),
            DescribeDatabaseResponse {}
        );
        reply(DescribeDatabaseResponse {
            status: Some(ok()),
            db_name: DEFAULT_DB.into(),
            db_id: 1,
            ..Default::default()
        })
    }
}

impl Service {
    async fn mutate(
        &self,
        name: &str,
        partition: String,
        fields: Vec<ps::FieldData>,
        num_rows: u32,
        upsert: bool,
        schema_ts: u64,
    ) -> MutationResult {
        let (columns, rows) = match convert::columns_from_proto(fields, num_rows) {
            Ok(c) => c,
            Err(e) => {
                return MutationResult {
                    status: Some(invalid(e)),
                    ..Default::default()
                }
            }
        };
        let pk_type = match self.engine.describe_collection(name).await {
            Ok(m) => m.schema.primary().data_type,
            Err(e) => {
                return MutationResult {
                    status: Some(from_engine(&e)),
                    ..Default::default()
                }
            }
        };
        match self
            .engine
            .insert(
                name,
                InsertInput {
                    partition,
                    columns,
                    rows,
                    upsert,
                    schema_ts,
                },
            )
            .await
        {
            Ok(out) => {
                let n = out.ids.len();
                self.metrics
                    .rows_written(if upsert { "upsert" } else { "insert" }, n);
                MutationResult {
                    status: Some(ok()),
                    i_ds: Some(convert::ids_to_proto(&out.ids, pk_type)),
                    succ_index: (0..n as u32).collect(),
                    acknowledged: true,
                    insert_cnt: if upsert { 0 } else { n as i64 },
                    upsert_cnt: if upsert { n as i64 } else { 0 },
                    timestamp: out.timestamp,
                    ..Default::default()
                }
            }
            Err(e) => MutationResult {
                status: Some(from_engine(&e)),
                ..Default::default()
            },
        }
    }

    async fn do_search(&self, r: SearchRequest) -> SearchResults {
        let fail = |s: Status| SearchResults {
            status: Some(s),
            ..Default::default()
        };
        let vectors = match &r.search_input {
            Some(search_request::SearchInput::PlaceholderGroup(b)) => {
                match convert::vectors_from_placeholder(b) {
                    Ok(v) => v,
                    Err(e) => return fail(invalid(e)),
                }
            }
            Some(search_request::SearchInput::Ids(_)) => {
                return fail(invalid(
                    "search by primary keys is not supported by quarry yet",
                ))
            }
            None => return fail(invalid("the search request carries no query vectors")),
        };
        let o = match convert::search_options(&r.search_params) {
            Ok(o) => o,
            Err(e) => return fail(invalid(e)),
        };
        let (topk, round) = (o.topk, o.round_decimal);
        let templates = match convert::templates(&r.expr_template_values) {
            Ok(t) => t,
            Err(e) => return fail(invalid(e)),
        };
        let input = SearchInput {
            anns_field: o.anns_field,
            metric: o.metric,
            vectors,
            topk,
            offset: o.offset,
            filter: r.dsl.clone(),
            templates,
            output_fields: r.output_fields.clone(),
            partitions: r.partition_names.clone(),
            ef: o.ef,
            radius: o.radius,
            range_filter: o.range_filter,
        };
        let nq = input.vectors.len();
        let pk_type = match self.engine.describe_collection(&r.collection_name).await {
            Ok(m) => m.schema.primary().data_type,
            Err(e) => return fail(from_engine(&e)),
        };
        let hits = match self.engine.search(&r.collection_name, input).await {
            Ok(h) => h,
            Err(e) => return fail(from_engine(&e)),
        };
        let mut ids: Vec<Pk> = Vec::new();
        let mut scores = Vec::new();
        let mut topks = Vec::new();
        for q in &hits.per_query {
            topks.push(q.len() as i64);
            for (pk, s) in q {
                ids.push(pk.clone());
                scores.push(if round >= 0 {
                    let p = 10f32.powi(round);
                    (s * p).round() / p
                } else {
                    *s
                });
            }
        }
        let empty_ids = ids.is_empty();
        SearchResults {
            status: Some(ok()),
            results: Some(ps::SearchResultData {
                num_queries: nq as i64,
                top_k: topk as i64,
                fields_data: convert::outputs_to_proto(&hits.outputs),
                scores,
                ids: if empty_ids && pk_type == DataType::Int64 {
                    Some(convert::ids_to_proto(&[], pk_type))
                } else {
                    Some(convert::ids_to_proto(&ids, pk_type))
                },
                topks,
                output_fields: hits.outputs.names.clone(),
                primary_field_name: hits.pk_field.clone(),
                ..Default::default()
            }),
            collection_name: r.collection_name,
            session_ts: self.engine.now_ts(),
        }
    }

    async fn do_query(&self, r: QueryRequest) -> QueryResults {
        let fail = |s: Status| QueryResults {
            status: Some(s),
            ..Default::default()
        };
        let (limit, offset) = match convert::query_window(&r.query_params) {
            Ok(w) => w,
            Err(e) => return fail(invalid(e)),
        };
        let templates = match convert::templates(&r.expr_template_values) {
            Ok(t) => t,
            Err(e) => return fail(invalid(e)),
        };
        let pk_name = match self.engine.describe_collection(&r.collection_name).await {
            Ok(m) => m.schema.primary().name.clone(),
            Err(e) => return fail(from_engine(&e)),
        };
        let output_fields = if r.output_fields.is_empty() {
            vec![pk_name.clone()]
        } else {
            r.output_fields.clone()
        };
        let input = QueryInput {
            filter: r.expr.clone(),
            templates,
            output_fields,
            partitions: r.partition_names.clone(),
            limit,
            offset,
        };
        match self.engine.query(&r.collection_name, input).await {
            Ok(QueryOutput::Count(n)) => QueryResults {
                status: Some(ok()),
                fields_data: vec![ps::FieldData {
                    r#type: DataType::Int64.code(),
                    field_name: "count(*)".into(),
                    field: Some(ps::field_data::Field::Scalars(ps::ScalarField {
                        data: Some(ps::scalar_field::Data::LongData(ps::LongArray {
                            data: vec![n as i64],
                        })),
                    })),
                    ..Default::default()
                }],
                collection_name: r.collection_name,
                output_fields: vec!["count(*)".into()],
                session_ts: self.engine.now_ts(),
                primary_field_name: pk_name,
            },
            Ok(QueryOutput::Rows(out)) => QueryResults {
                status: Some(ok()),
                fields_data: convert::outputs_to_proto(&out),
                collection_name: r.collection_name,
                output_fields: out.names.clone(),
                session_ts: self.engine.now_ts(),
                primary_field_name: pk_name,
            },
            Err(e) => fail(from_engine(&e)),
        }
    }
}
