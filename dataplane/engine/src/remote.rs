//! Remote shards: the proxy's [`Router`] over the internal Worker API. Sends each shard's part
//! of a read to a query node serving it (one replica per shard, rotating for balance; on a
//! failed node, the next replica) and flushes to the data node owning the shard. Routes come
//! from the coordinator with every heartbeat. Messages and errors convert in `wire.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use quarry_meta::{CollectionMeta, InternalHeaders, InternalToken};
use quarry_proto::internal as pb;
use quarry_proto::internal::worker_client::WorkerClient;
use quarry_types::limits::MAX_MESSAGE_BYTES;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::wire::{answer_from_pb, from_status, read_to_pb};
use crate::{EngineError, Result, Router, ShardAnswer, ShardRead};

type Key = (i64, u32);
type Worker = WorkerClient<InterceptedService<Channel, InternalHeaders>>;

/// A query node serving one shard of a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingNode {
    pub shard: u32,
    pub node: String,
    pub address: String,
}

#[derive(Debug, Default)]
pub struct GrpcRouter {
    /// (collection, shard) -> addresses of the query nodes serving a replica
    query: RwLock<BTreeMap<Key, Vec<String>>>,
    /// (collection, shard) -> address of the owning data node
    data: RwLock<BTreeMap<Key, String>>,
    /// the query routes as the coordinator sent them (replica numbers and node ids included)
    query_routes: RwLock<Vec<pb::Route>>,
    clients: Mutex<HashMap<String, Worker>>,
    /// the cluster's internal credential, sent with every Worker call
    token: Option<InternalToken>,
    turn: AtomicUsize,
    /// bumped whenever routes change, for reads waiting on a route
    updates: tokio::sync::Notify,
}

/// How long a read waits for a shard to get a route (a load in progress, a failover).
const ROUTE_WAIT: Duration = Duration::from_secs(10);

fn retryable(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Unavailable(_) | EngineError::CollectionNotFound(_)
    )
}

impl GrpcRouter {
    /// A router whose Worker calls carry the cluster's internal credential.
    pub fn with_token(token: Option<InternalToken>) -> Self {
        Self {
            token,
            ..Self::default()
        }
    }

    pub fn set_routes(&self, query: &[pb::Route], data: &[pb::Route]) {
        let mut q: BTreeMap<Key, Vec<String>> = BTreeMap::new();
        for r in query {
            if let Some(u) = &r.unit {
                q.entry((u.collection, u.shard))
                    .or_default()
                    .push(r.address.clone());
            }
        }
        let d = data
            .iter()
            .filter_map(|r| {
                r.unit
                    .as_ref()
                    .map(|u| ((u.collection, u.shard), r.address.clone()))
            })
            .collect();
        *self.query.write() = q;
        *self.data.write() = d;
        *self.query_routes.write() = query.to_vec();
        self.updates.notify_waiters();
    }

    /// Served replicas over wanted replicas of a collection's shards, in percent.
    pub fn load_progress(&self, meta: &CollectionMeta) -> i64 {
        let routes = self.query.read();
        let wanted = (meta.shards as usize).saturating_mul(meta.replicas.max(1) as usize);
        let served: usize = (0..meta.shards)
            .map(|s| {
                routes
                    .get(&(meta.id, s))
                    .map_or(0, |r| r.len().min(meta.replicas.max(1) as usize))
            })
            .sum();
        (served * 100 / wanted.max(1)) as i64
    }

    /// The replicas of a collection the query nodes serve now: per replica number, its shards'
    /// (shard, node id, address), in order.
    pub fn replicas(&self, meta: &CollectionMeta) -> BTreeMap<u32, Vec<ServingNode>> {
        let mut out: BTreeMap<u32, Vec<ServingNode>> = BTreeMap::new();
        for r in self.query_routes.read().iter() {
            let Some(u) = &r.unit else { continue };
            if u.collection == meta.id {
                out.entry(u.replica).or_default().push(ServingNode {
                    shard: u.shard,
                    node: r.node_id.clone(),
                    address: r.address.clone(),
                });
            }
        }
        for shards in out.values_mut() {
            shards.sort_by_key(|s| s.shard);
        }
        out
    }

    /// A routing table, once every shard of the collection has a usable entry in it (or after
    /// `ROUTE_WAIT`, as it is then).
    async fn complete<T: Clone>(
        &self,
        table: &RwLock<BTreeMap<Key, T>>,
        meta: &CollectionMeta,
        usable: impl Fn(&T) -> bool,
    ) -> BTreeMap<Key, T> {
        let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
        loop {
            let updated = self.updates.notified();
            let routes = table.read().clone();
            let complete = (0..meta.shards).all(|s| routes.get(&(meta.id, s)).is_some_and(&usable));
            if complete || tokio::time::Instant::now() >= deadline {
                return routes;
            }
            let _ = tokio::time::timeout_at(deadline, updated).await;
        }
    }

    fn client(&self, address: &str) -> Result<Worker> {
        let mut clients = self.clients.lock();
        if let Some(c) = clients.get(address) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy();
        let headers = InternalHeaders {
            cluster: None,
            token: self.token.clone(),
        };
        let c = WorkerClient::with_interceptor(channel, headers)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        clients.insert(address.to_string(), c.clone());
        Ok(c)
    }

    async fn read_on(
        &self,
        address: String,
        meta: &CollectionMeta,
        shards: Vec<(u32, u64)>,
        read: pb::ShardRead,
    ) -> Result<ShardAnswer> {
        let mut client = self.client(&address)?;
        let req = pb::ReadRequest {
            db: meta.db.clone(),
            collection: meta.name.clone(),
            shards: shards
                .iter()
                .map(|(shard, offset)| pb::ShardOffset {
                    shard: *shard,
                    offset: *offset,
                })
                .collect(),
            read: Some(read),
        };
        let mut req = tonic::Request::new(req);
        if let Some(id) = crate::request::current().and_then(|id| id.parse().ok()) {
            req.metadata_mut().insert(crate::request::HEADER, id);
        }
        let r = client
            .read(req)
            .await
            .map_err(|s| from_status(&s))?
            .into_inner();
        let answer = r
            .answer
            .ok_or_else(|| quarry_proto::DecodeError::missing("ReadResponse.answer"))
            .and_then(answer_from_pb)
            .map_err(|e| EngineError::Internal(format!("decoding the answer of {address}: {e}")))?;
        Ok(answer)
    }
}

#[async_trait]
impl Router for GrpcRouter {
    async fn read(
        &self,
        meta: &CollectionMeta,
        read: ShardRead,
        min_offsets: Vec<u64>,
    ) -> Result<Vec<ShardAnswer>> {
        let read = read_to_pb(read);
        let mut routes = self
            .complete(&self.query, meta, |r: &Vec<String>| !r.is_empty())
            .await;
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut pending: Vec<u32> = (0..meta.shards).collect();
        let mut answers = Vec::new();
        let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
        let mut attempt = 0;
        loop {
            // group this attempt's shards by the replica chosen for them
            let mut by_node: BTreeMap<String, Vec<(u32, u64)>> = BTreeMap::new();
            let mut exhausted = false;
            for &shard in &pending {
                let replicas = routes.get(&(meta.id, shard)).cloned().unwrap_or_default();
                if attempt >= replicas.len() {
                    exhausted = true;
                    break;
                }
                let node = &replicas[(turn + attempt) % replicas.len()];
                by_node
                    .entry(node.clone())
                    .or_default()
                    .push((shard, min_offsets.get(shard as usize).copied().unwrap_or(0)));
            }
            if exhausted {
                // no replica left to try: wait for the coordinator to place the shards again
                if tokio::time::Instant::now() >= deadline {
                    return Err(EngineError::Unavailable(format!(
                        "no live query node serves shards {pending:?} of collection {}",
                        meta.name
                    )));
                }
                let _ = tokio::time::timeout_at(deadline, self.updates.notified()).await;
                routes = self.query.read().clone();
                attempt = 0;
                continue;
            }
            let calls = by_node.into_iter().map(|(node, shards)| {
                let read = read.clone();
                async move {
                    let ids: Vec<u32> = shards.iter().map(|(s, _)| *s).collect();
                    (ids, self.read_on(node, meta, shards, read).await)
                }
            });
            let mut failed = Vec::new();
            for (ids, result) in futures::future::join_all(calls).await {
                match result {
                    Ok(a) => answers.push(a),
                    Err(e) if retryable(&e) => {
                        tracing::warn!(collection = %meta.name, shards = ?ids, error = %e, "read failed on a replica; trying the next");
                        failed.extend(ids);
                    }
                    Err(e) => return Err(e),
                }
            }
            pending = failed;
            if pending.is_empty() {
                break;
            }
            attempt += 1;
        }
        Ok(answers)
    }

    async fn flush(&self, meta: &CollectionMeta, min_offsets: Vec<u64>) -> Result<Vec<i64>> {
        let routes = self.complete(&self.data, meta, |_| true).await;
        let mut by_node: BTreeMap<String, Vec<pb::ShardOffset>> = BTreeMap::new();
        for shard in 0..meta.shards {
            let node = routes.get(&(meta.id, shard)).ok_or_else(|| {
                EngineError::Unavailable(format!(
                    "no data node owns shard {shard} of collection {} yet",
                    meta.name
                ))
            })?;
            by_node
                .entry(node.clone())
                .or_default()
                .push(pb::ShardOffset {
                    shard,
                    offset: min_offsets.get(shard as usize).copied().unwrap_or(0),
                });
        }
        let mut ids = Vec::new();
        for (node, shards) in by_node {
            let mut client = self.client(&node)?;
            let r = client
                .flush(pb::FlushRequest {
                    db: meta.db.clone(),
                    collection: meta.name.clone(),
                    shards,
                })
                .await
                .map_err(|s| from_status(&s))?;
            ids.extend(r.into_inner().segments);
        }
        Ok(ids)
    }
}
