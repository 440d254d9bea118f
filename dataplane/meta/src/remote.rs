//! [`MetaService`] over the coordinator's gRPC service: what proxies and workers of a cluster
//! use. The catalog is cached and refreshed when the coordinator reports a newer version (in
//! every answer and heartbeat). Timestamps come from a local hybrid clock that observes every
//! coordinator timestamp it sees, so they move forward with the cluster's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;
use quarry_proto::internal as pb;
use quarry_proto::internal::coord_client::CoordClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::proto::{catalog_from_pb, op_to_pb, result_from_pb};
use crate::token::{InternalHeaders, InternalToken};
use crate::wire::from_status;
use crate::{
    AliasChange, CatalogState, CollectionMeta, CompactionCommit, Created, DatabaseChange,
    FlushCommit, IndexCommit, IndexMeta, MetaError, MetaOp, MetaResult, MetaService, NewCollection,
    NewIndex, Rename, Tso,
};

/// The gRPC metadata key naming the cluster a call is about: one operator serves the
/// coordinators of many clusters on one port (see quarry-operator).
pub const CLUSTER_HEADER: &str = "x-quarry-cluster";

#[derive(Debug)]
pub struct RemoteMeta {
    client: CoordClient<InterceptedService<Channel, InternalHeaders>>,
    state: RwLock<Arc<CatalogState>>,
    tso: Tso,
}

fn unavailable(e: impl std::fmt::Display) -> MetaError {
    MetaError::Unavailable(e.to_string())
}

impl RemoteMeta {
    /// Connects lazily to `address` (`host:port` or a URL); the first call fails if it is down.
    pub fn connect(address: &str) -> Result<Self, MetaError> {
        Self::connect_to_cluster(address, None, None)
    }

    /// Like [`Self::connect`], naming the cluster (`namespace/name`) in every call, for a
    /// coordinator that serves several clusters (the operator).
    /// `token`: the cluster's internal credential, sent with every call.
    pub fn connect_to_cluster(
        address: &str,
        cluster: Option<&str>,
        token: Option<InternalToken>,
    ) -> Result<Self, MetaError> {
        let header = cluster
            .map(|c| {
                c.parse::<AsciiMetadataValue>()
                    .map_err(|e| unavailable(format!("cluster name {c:?}: {e}")))
            })
            .transpose()?;
        let url = if address.contains("://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        let channel = Endpoint::from_shared(url)
            .map_err(unavailable)?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(60))
            .connect_lazy();
        let client = CoordClient::with_interceptor(
            channel,
            InternalHeaders {
                cluster: header,
                token,
            },
        )
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20);
        Ok(Self {
            client,
            state: RwLock::new(Arc::new(CatalogState::default())),
            tso: Tso::new(),
        })
    }

    fn client(&self) -> CoordClient<InterceptedService<Channel, InternalHeaders>> {
        self.client.clone()
    }

    /// Fetches the catalog if the coordinator has a newer version than the cached one.
    pub async fn fetch(&self) -> Result<(), MetaError> {
        let known = self.state.read().version;
        let r = self
            .client()
            .get_catalog(pb::GetCatalogRequest {
                known_version: known,
            })
            .await
            .map_err(|s| from_status(&s))?
            .into_inner();
        let Some(state) = r.state else {
            return Ok(()); // the cached version is current
        };
        if r.version >= self.state.read().version {
            let state = catalog_from_pb(state).map_err(|e| MetaError::BadManifest {
                key: "coordinator answer".into(),
                reason: e.to_string(),
            })?;
            self.tso.observe(state.last_ts);
            *self.state.write() = Arc::new(state);
        }
        Ok(())
    }

    /// Reports this node alive; refreshes the catalog when it changed.
    pub async fn heartbeat(
        &self,
        req: pb::HeartbeatRequest,
    ) -> Result<pb::HeartbeatResponse, MetaError> {
        let r = self
            .client()
            .heartbeat(req)
            .await
            .map_err(|s| from_status(&s))?
            .into_inner();
        self.tso.observe(r.timestamp);
        if r.catalog_version != self.state.read().version {
            self.fetch().await?;
        }
        Ok(r)
    }

    pub async fn leave(&self, node_id: &str) -> Result<(), MetaError> {
        self.client()
            .leave(pb::LeaveRequest {
                node_id: node_id.to_string(),
            })
            .await
            .map_err(|s| from_status(&s))?;
        Ok(())
    }

    async fn mutate(&self, op: MetaOp) -> Result<MetaResult, MetaError> {
        let r = self
            .client()
            .mutate(pb::MutateRequest {
                op: Some(op_to_pb(op)),
            })
            .await
            .map_err(|s| from_status(&s))?
            .into_inner();
        self.tso.observe(r.timestamp);
        if r.catalog_version > self.state.read().version {
            self.fetch().await?;
        }
        quarry_proto::required(r.result, "MutateResponse.result")
            .and_then(result_from_pb)
            .map_err(|e| unavailable(format!("decoding the coordinator's answer: {e}")))
    }

    /// An operation answered with [`MetaResult::Done`].
    async fn mutate_done(&self, op: MetaOp) -> Result<(), MetaError> {
        match self.mutate(op).await? {
            MetaResult::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// An operation answered with [`MetaResult::Garbage`].
    async fn mutate_garbage(&self, op: MetaOp) -> Result<Vec<String>, MetaError> {
        match self.mutate(op).await? {
            MetaResult::Garbage(keys) => Ok(keys),
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(r: MetaResult) -> MetaError {
    let kind = match r {
        MetaResult::Created(_) => "created",
        MetaResult::Dropped(_) => "dropped",
        MetaResult::Done => "done",
        MetaResult::Index(_) => "index",
        MetaResult::Garbage(_) => "garbage",
    };
    unavailable(format!(
        "the coordinator answered with a result of another operation ({kind})"
    ))
}

#[async_trait]
impl MetaService for RemoteMeta {
    fn snapshot(&self) -> Arc<CatalogState> {
        self.state.read().clone()
    }

    fn timestamp(&self) -> u64 {
        self.tso.now()
    }

    async fn alloc_ids(&self, n: u64) -> Result<i64, MetaError> {
        let r = self
            .client()
            .alloc_ids(pb::AllocIdsRequest { count: n })
            .await
            .map_err(|s| from_status(&s))?;
        Ok(r.into_inner().first)
    }

    async fn create_collection(&self, req: NewCollection) -> Result<Created, MetaError> {
        match self.mutate(MetaOp::CreateCollection(req)).await? {
            MetaResult::Created(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    async fn drop_collection(&self, id: i64) -> Result<Option<CollectionMeta>, MetaError> {
        match self.mutate(MetaOp::DropCollection { id }).await? {
            MetaResult::Dropped(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    async fn set_loaded(&self, id: i64, loaded: bool, replicas: u32) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::SetLoaded {
            id,
            loaded,
            replicas,
        })
        .await
    }

    async fn set_query_pool(&self, id: i64, pool: Option<String>) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::SetQueryPool { id, pool }).await
    }

    async fn set_properties(
        &self,
        id: i64,
        properties: Vec<(String, String)>,
    ) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::SetProperties { id, properties })
            .await
    }

    async fn set_field_params(
        &self,
        id: i64,
        field: String,
        params: Vec<(String, String)>,
    ) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::SetFieldParams { id, field, params })
            .await
    }

    async fn set_index_params(
        &self,
        id: i64,
        index: i64,
        params: BTreeMap<String, String>,
    ) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::SetIndexParams { id, index, params })
            .await
    }

    async fn create_index(&self, id: i64, index: NewIndex) -> Result<IndexMeta, MetaError> {
        match self.mutate(MetaOp::CreateIndex { id, index }).await? {
            MetaResult::Index(i) => Ok(i),
            other => Err(unexpected(other)),
        }
    }

    async fn drop_index(&self, id: i64, index: i64) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::DropIndex { id, index }).await
    }

    async fn commit_flush(&self, commit: FlushCommit) -> Result<Vec<String>, MetaError> {
        self.mutate_garbage(MetaOp::CommitFlush(commit)).await
    }

    async fn commit_index(&self, commit: IndexCommit) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::CommitIndex(commit)).await
    }

    async fn commit_compaction(&self, commit: CompactionCommit) -> Result<Vec<String>, MetaError> {
        self.mutate_garbage(MetaOp::CommitCompaction(commit)).await
    }

    async fn change_database(&self, change: DatabaseChange) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::Database(change)).await
    }

    async fn change_alias(&self, change: AliasChange) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::Alias(change)).await
    }

    async fn change_rbac(&self, change: crate::RbacChange) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::Rbac(change)).await
    }

    async fn rename_collection(&self, rename: Rename) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::RenameCollection(rename)).await
    }

    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        if_absent: bool,
    ) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::CreateUser {
            name: name.to_string(),
            password_hash: password_hash.to_string(),
            if_absent,
        })
        .await
    }

    async fn update_user(
        &self,
        name: &str,
        password_hash: &str,
        previous_hash: &str,
    ) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::UpdateUser {
            name: name.to_string(),
            password_hash: password_hash.to_string(),
            previous_hash: previous_hash.to_string(),
        })
        .await
    }

    async fn delete_user(&self, name: &str) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::DeleteUser {
            name: name.to_string(),
        })
        .await
    }

    async fn create_partition(&self, id: i64, name: &str) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::CreatePartition {
            id,
            name: name.to_string(),
        })
        .await
    }

    async fn drop_partition(&self, id: i64, name: &str) -> Result<Vec<String>, MetaError> {
        self.mutate_garbage(MetaOp::DropPartition {
            id,
            name: name.to_string(),
        })
        .await
    }

    async fn set_partition_loaded(
        &self,
        id: i64,
        names: Vec<String>,
        loaded: bool,
        replicas: u32,
    ) -> Result<(), MetaError> {
        self.mutate_done(MetaOp::SetPartitionLoaded {
            id,
            names,
            loaded,
            replicas,
        })
        .await
    }

    async fn refresh(&self) -> Result<bool, MetaError> {
        let before = self.state.read().version;
        self.fetch().await?;
        Ok(self.state.read().version != before)
    }
}
