//! The Milvus gRPC service: one thin handler per RPC, grouped by concern (`ddl`: collections
//! and partitions, `dml`: writes, `read`: search and query, `index`, `admin`: session, server,
//! flush; `databases`, `aliases`). Every handler runs through [`handle::serve`] (the database check, a
//! refusal answered in the RPC's own response type, the outcome the metrics count) and does
//! three things: convert the request ([`crate::convert`]), call the engine, convert the
//! answer. [`layer::RpcLayer`] wraps the whole service: a request span and per-RPC metrics.

mod admin;
mod aliases;
mod analyzer;
pub mod audit;
pub mod auth;
#[cfg(test)]
mod compat;
mod databases;
mod ddl;
mod dml;
mod handle;
mod index;
pub mod layer;
mod manage;
mod partitions;
mod privilege_groups;
mod privileges;
mod read;
mod roles;
mod search_by_pk;
pub mod search_iter;
#[cfg(test)]
mod tests;
mod users;

use std::sync::Arc;

use quarry_engine::{Engine, Named};
use quarry_meta::CollectionMeta;
use quarry_proto::common::Status;
use quarry_proto::service::milvus_service_server::MilvusService;
use quarry_proto::service::*;
use tonic::{Request, Response};

use crate::metrics::Metrics;
use crate::status::engine;
use handle::{serve, Handled};
pub use layer::RpcLayer;

pub struct Service {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// set on a proxy of a cluster (where loading takes time and replicas are possible)
    pub router: Option<Arc<quarry_engine::GrpcRouter>>,
    /// the address clients reach this server at (reported by GetReplicas in standalone)
    pub address: String,
    /// the cursors of search iterators (v2) paged here
    pub cursors: Arc<search_iter::Cursors>,
}

impl Service {
    /// Percent of a loaded collection's shard replicas served: standalone keeps everything in
    /// memory (100); a cluster counts the replicas query nodes report loaded.
    fn load_progress(&self, m: &CollectionMeta) -> i64 {
        self.router.as_ref().map_or(100, |r| r.load_progress(m))
    }

    async fn describe(&self, db: &str, collection: &str) -> Handled<CollectionMeta> {
        self.engine
            .describe_collection(Named::new(db, collection))
            .await
            .map_err(engine)
    }
}

type R<T> = Result<Response<T>, tonic::Status>;

#[tonic::async_trait]
impl MilvusService for Service {
    async fn connect(&self, req: Request<ConnectRequest>) -> R<ConnectResponse> {
        serve(&self.engine, req, |_| admin::connect(self)).await
    }

    async fn get_version(&self, req: Request<GetVersionRequest>) -> R<GetVersionResponse> {
        serve(&self.engine, req, |_| admin::get_version()).await
    }

    async fn check_health(&self, req: Request<CheckHealthRequest>) -> R<CheckHealthResponse> {
        serve(&self.engine, req, |_| admin::check_health()).await
    }

    async fn alloc_timestamp(
        &self,
        req: Request<AllocTimestampRequest>,
    ) -> R<AllocTimestampResponse> {
        serve(&self.engine, req, |_| admin::alloc_timestamp(self)).await
    }

    async fn create_collection(&self, req: Request<CreateCollectionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| ddl::create_collection(self, r)).await
    }

    async fn drop_collection(&self, req: Request<DropCollectionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| ddl::drop_collection(self, r)).await
    }

    async fn has_collection(&self, req: Request<HasCollectionRequest>) -> R<BoolResponse> {
        serve(&self.engine, req, |r| ddl::has_collection(self, r)).await
    }

    async fn describe_collection(
        &self,
        req: Request<DescribeCollectionRequest>,
    ) -> R<DescribeCollectionResponse> {
        serve(&self.engine, req, |r| ddl::describe_collection(self, r)).await
    }

    async fn show_collections(
        &self,
        req: Request<ShowCollectionsRequest>,
    ) -> R<ShowCollectionsResponse> {
        let caller = caller(&req);
        serve(&self.engine, req, |r| {
            ddl::show_collections(self, caller, r)
        })
        .await
    }

    async fn get_collection_statistics(
        &self,
        req: Request<GetCollectionStatisticsRequest>,
    ) -> R<GetCollectionStatisticsResponse> {
        serve(&self.engine, req, |r| {
            ddl::get_collection_statistics(self, r)
        })
        .await
    }

    async fn load_collection(&self, req: Request<LoadCollectionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| ddl::load_collection(self, r)).await
    }

    async fn release_collection(&self, req: Request<ReleaseCollectionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| ddl::release_collection(self, r)).await
    }

    async fn get_load_state(&self, req: Request<GetLoadStateRequest>) -> R<GetLoadStateResponse> {
        serve(&self.engine, req, |r| ddl::get_load_state(self, r)).await
    }

    async fn get_loading_progress(
        &self,
        req: Request<GetLoadingProgressRequest>,
    ) -> R<GetLoadingProgressResponse> {
        serve(&self.engine, req, |r| ddl::get_loading_progress(self, r)).await
    }

    async fn create_partition(&self, req: Request<CreatePartitionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| partitions::create_partition(self, r)).await
    }

    async fn drop_partition(&self, req: Request<DropPartitionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| partitions::drop_partition(self, r)).await
    }

    async fn load_partitions(&self, req: Request<LoadPartitionsRequest>) -> R<Status> {
        serve(&self.engine, req, |r| partitions::load_partitions(self, r)).await
    }

    async fn release_partitions(&self, req: Request<ReleasePartitionsRequest>) -> R<Status> {
        serve(&self.engine, req, |r| {
            partitions::release_partitions(self, r)
        })
        .await
    }

    async fn show_partitions(
        &self,
        req: Request<ShowPartitionsRequest>,
    ) -> R<ShowPartitionsResponse> {
        serve(&self.engine, req, |r| partitions::show_partitions(self, r)).await
    }

    async fn has_partition(&self, req: Request<HasPartitionRequest>) -> R<BoolResponse> {
        serve(&self.engine, req, |r| partitions::has_partition(self, r)).await
    }

    async fn get_partition_statistics(
        &self,
        req: Request<GetPartitionStatisticsRequest>,
    ) -> R<GetPartitionStatisticsResponse> {
        serve(&self.engine, req, |r| {
            partitions::get_partition_statistics(self, r)
        })
        .await
    }

    async fn insert(&self, req: Request<InsertRequest>) -> R<MutationResult> {
        serve(&self.engine, req, |r| dml::insert(self, r)).await
    }

    async fn upsert(&self, req: Request<UpsertRequest>) -> R<MutationResult> {
        serve(&self.engine, req, |r| dml::upsert(self, r)).await
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> R<MutationResult> {
        serve(&self.engine, req, |r| dml::delete(self, r)).await
    }

    async fn flush(&self, req: Request<FlushRequest>) -> R<FlushResponse> {
        serve(&self.engine, req, |r| admin::flush(self, r)).await
    }

    async fn get_flush_state(
        &self,
        req: Request<GetFlushStateRequest>,
    ) -> R<GetFlushStateResponse> {
        serve(&self.engine, req, |_| admin::get_flush_state()).await
    }

    async fn create_index(&self, req: Request<CreateIndexRequest>) -> R<Status> {
        serve(&self.engine, req, |r| index::create_index(self, r)).await
    }

    async fn describe_index(&self, req: Request<DescribeIndexRequest>) -> R<DescribeIndexResponse> {
        serve(&self.engine, req, |r| index::describe_index(self, r)).await
    }

    async fn drop_index(&self, req: Request<DropIndexRequest>) -> R<Status> {
        serve(&self.engine, req, |r| index::drop_index(self, r)).await
    }
    async fn alter_index(&self, req: Request<AlterIndexRequest>) -> R<Status> {
        serve(&self.engine, req, |r| index::alter_index(self, r)).await
    }

    async fn get_index_state(
        &self,
        req: Request<GetIndexStateRequest>,
    ) -> R<GetIndexStateResponse> {
        serve(&self.engine, req, |r| index::get_index_state(self, r)).await
    }

    async fn get_index_build_progress(
        &self,
        req: Request<GetIndexBuildProgressRequest>,
    ) -> R<GetIndexBuildProgressResponse> {
        serve(&self.engine, req, |r| {
            index::get_index_build_progress(self, r)
        })
        .await
    }

    async fn search(&self, req: Request<SearchRequest>) -> R<SearchResults> {
        serve(&self.engine, req, |r| read::search(self, r)).await
    }

    async fn query(&self, req: Request<QueryRequest>) -> R<QueryResults> {
        serve(&self.engine, req, |r| read::query(self, r)).await
    }

    async fn hybrid_search(&self, req: Request<HybridSearchRequest>) -> R<SearchResults> {
        serve(&self.engine, req, |r| read::hybrid_search(self, r)).await
    }

    async fn list_databases(&self, req: Request<ListDatabasesRequest>) -> R<ListDatabasesResponse> {
        serve(&self.engine, req, |_| databases::list_databases(self)).await
    }

    async fn describe_database(
        &self,
        req: Request<DescribeDatabaseRequest>,
    ) -> R<DescribeDatabaseResponse> {
        serve(&self.engine, req, |r| databases::describe_database(self, r)).await
    }

    async fn create_database(&self, req: Request<CreateDatabaseRequest>) -> R<Status> {
        serve(&self.engine, req, |r| databases::create_database(self, r)).await
    }

    async fn drop_database(&self, req: Request<DropDatabaseRequest>) -> R<Status> {
        serve(&self.engine, req, |r| databases::drop_database(self, r)).await
    }

    async fn alter_database(&self, req: Request<AlterDatabaseRequest>) -> R<Status> {
        serve(&self.engine, req, |r| databases::alter_database(self, r)).await
    }

    async fn create_alias(&self, req: Request<CreateAliasRequest>) -> R<Status> {
        serve(&self.engine, req, |r| aliases::create_alias(self, r)).await
    }

    async fn drop_alias(&self, req: Request<DropAliasRequest>) -> R<Status> {
        serve(&self.engine, req, |r| aliases::drop_alias(self, r)).await
    }

    async fn alter_alias(&self, req: Request<AlterAliasRequest>) -> R<Status> {
        serve(&self.engine, req, |r| aliases::alter_alias(self, r)).await
    }

    async fn describe_alias(&self, req: Request<DescribeAliasRequest>) -> R<DescribeAliasResponse> {
        serve(&self.engine, req, |r| aliases::describe_alias(self, r)).await
    }

    async fn list_aliases(&self, req: Request<ListAliasesRequest>) -> R<ListAliasesResponse> {
        serve(&self.engine, req, |r| aliases::list_aliases(self, r)).await
    }

    async fn create_credential(&self, req: Request<CreateCredentialRequest>) -> R<Status> {
        serve(&self.engine, req, |r| users::create_credential(self, r)).await
    }

    async fn update_credential(&self, req: Request<UpdateCredentialRequest>) -> R<Status> {
        serve(&self.engine, req, |r| users::update_credential(self, r)).await
    }

    async fn delete_credential(&self, req: Request<DeleteCredentialRequest>) -> R<Status> {
        serve(&self.engine, req, |r| users::delete_credential(self, r)).await
    }

    async fn list_cred_users(
        &self,
        req: Request<ListCredUsersRequest>,
    ) -> R<ListCredUsersResponse> {
        serve(&self.engine, req, |_| users::list_cred_users(self)).await
    }

    async fn rename_collection(&self, req: Request<RenameCollectionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| manage::rename_collection(self, r)).await
    }

    async fn alter_collection(&self, req: Request<AlterCollectionRequest>) -> R<Status> {
        serve(&self.engine, req, |r| manage::alter_collection(self, r)).await
    }

    async fn alter_collection_field(&self, req: Request<AlterCollectionFieldRequest>) -> R<Status> {
        serve(&self.engine, req, |r| {
            manage::alter_collection_field(self, r)
        })
        .await
    }

    async fn get_replicas(&self, req: Request<GetReplicasRequest>) -> R<GetReplicasResponse> {
        serve(&self.engine, req, |r| manage::get_replicas(self, r)).await
    }

    async fn create_role(&self, req: Request<CreateRoleRequest>) -> R<Status> {
        serve(&self.engine, req, |r| roles::create_role(self, r)).await
    }

    async fn drop_role(&self, req: Request<DropRoleRequest>) -> R<Status> {
        serve(&self.engine, req, |r| roles::drop_role(self, r)).await
    }

    async fn operate_user_role(&self, req: Request<OperateUserRoleRequest>) -> R<Status> {
        serve(&self.engine, req, |r| roles::operate_user_role(self, r)).await
    }

    async fn select_role(&self, req: Request<SelectRoleRequest>) -> R<SelectRoleResponse> {
        serve(&self.engine, req, |r| roles::select_role(self, r)).await
    }

    async fn select_user(&self, req: Request<SelectUserRequest>) -> R<SelectUserResponse> {
        serve(&self.engine, req, |r| roles::select_user(self, r)).await
    }

    async fn operate_privilege(&self, req: Request<OperatePrivilegeRequest>) -> R<Status> {
        let caller = caller(&req);
        serve(&self.engine, req, |r| {
            roles::operate_privilege(self, caller, r)
        })
        .await
    }

    async fn operate_privilege_v2(&self, req: Request<OperatePrivilegeV2Request>) -> R<Status> {
        let caller = caller(&req);
        serve(&self.engine, req, |r| {
            roles::operate_privilege_v2(self, caller, r)
        })
        .await
    }

    async fn select_grant(&self, req: Request<SelectGrantRequest>) -> R<SelectGrantResponse> {
        serve(&self.engine, req, |r| roles::select_grant(self, r)).await
    }

    async fn create_privilege_group(&self, req: Request<CreatePrivilegeGroupRequest>) -> R<Status> {
        serve(&self.engine, req, |r| privilege_groups::create(self, r)).await
    }

    async fn drop_privilege_group(&self, req: Request<DropPrivilegeGroupRequest>) -> R<Status> {
        serve(&self.engine, req, |r| privilege_groups::drop(self, r)).await
    }

    async fn list_privilege_groups(
        &self,
        req: Request<ListPrivilegeGroupsRequest>,
    ) -> R<ListPrivilegeGroupsResponse> {
        serve(&self.engine, req, |r| privilege_groups::list(self, r)).await
    }

    async fn operate_privilege_group(
        &self,
        req: Request<OperatePrivilegeGroupRequest>,
    ) -> R<Status> {
        serve(&self.engine, req, |r| privilege_groups::operate(self, r)).await
    }

    async fn manual_compaction(
        &self,
        req: Request<ManualCompactionRequest>,
    ) -> R<ManualCompactionResponse> {
        serve(&self.engine, req, |r| manage::manual_compaction(self, r)).await
    }

    async fn get_compaction_state(
        &self,
        req: Request<GetCompactionStateRequest>,
    ) -> R<GetCompactionStateResponse> {
        serve(&self.engine, req, |r| manage::get_compaction_state(self, r)).await
    }

    async fn run_analyzer(&self, req: Request<RunAnalyzerRequest>) -> R<RunAnalyzerResponse> {
        serve(&self.engine, req, |r| analyzer::run(self, r)).await
    }
}

/// The authenticated caller (set by the RPC layer when authentication is on).
fn caller<T>(req: &Request<T>) -> Option<auth::Caller> {
    req.extensions().get::<auth::Caller>().cloned()
}
