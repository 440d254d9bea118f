//! The coordinator's internal gRPC service (`quarry.internal.v1.Coord`): catalog operations on
//! the catalog it owns, ids and timestamps, heartbeats, and the placement of shards on query
//! and data nodes (recomputed from the registry and the catalog on every heartbeat).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use quarry_proto::internal as pb;
use quarry_proto::internal::coord_server::Coord;
use tonic::{Request, Response, Status};

use quarry_types::limits::{MAX_REPLICAS, MAX_SHARDS};

use crate::plan::{plan, plan_pools, seed, Demand, Plan, ShardReplica};
use quarry_meta::proto::{catalog_to_pb, op_from_pb, result_to_pb};
use quarry_meta::{apply_op, MetaOp};

/// How long a new coordinator waits for every live node's first heartbeat (they beat every
/// second) before it places shards; never longer than the node lease.
const WARMUP: Duration = Duration::from_secs(2);
use crate::registry::{Node, Registry, Role};
use quarry_meta::to_status;
use quarry_meta::{CatalogState, LocalMeta, MetaError, MetaService};

#[derive(Debug)]
struct Placement {
    registry: Registry,
    query: Plan,
    data: Plan,
}

#[derive(Debug)]
pub struct CoordServer {
    meta: Arc<LocalMeta>,
    lease: Duration,
    /// until then placement only records what nodes report serving (see [`Self::replan`])
    warm_until: Instant,
    placement: Mutex<Placement>,
}

/// What must be served, from the catalog: loaded collections on query nodes (with their
/// replicas), every collection's shards on data nodes. A shard weighs the memory of its sealed
/// rows (rows times the row width of its schema, vectors 4 bytes a dimension, other fields 8),
/// so that collections of different widths balance by memory rather than by row count.
pub fn demands(state: &CatalogState) -> (Demand, Demand) {
    let (mut query, mut data) = (Demand::default(), Demand::default());
    for c in state.collections.values() {
        let width: u64 = c
            .schema
            .fields
            .iter()
            .map(|f| {
                if f.data_type.is_vector() {
                    4u64.saturating_mul(f.dim() as u64)
                } else {
                    8
                }
            })
            .fold(0u64, u64::saturating_add);
        // a catalog holds at most MAX_SHARDS shards a collection (the planner takes no more)
        let mut rows = vec![0u64; (c.shards as usize).min(MAX_SHARDS as usize)];
        for s in &c.segments {
            if let Some(r) = rows.get_mut(s.shard as usize) {
                let live = s.rows.saturating_sub(s.deleted_rows);
                *r = r.saturating_add(live.saturating_mul(width.max(1)));
            }
        }
        if c.loaded {
            query.add(c.id, c.replicas, rows.clone());
        }
        data.add(c.id, 1, rows);
    }
    (query, data)
}

/// The query pool each loaded collection is pinned to (collections without one use any node).
pub fn query_pools(state: &CatalogState) -> BTreeMap<i64, String> {
    state
        .collections
        .values()
        .filter_map(|c| c.query_pool.clone().map(|p| (c.id, p)))
        .collect()
}

fn unit(u: &ShardReplica) -> pb::ShardReplica {
    pb::ShardReplica {
        collection: u.collection,
        shard: u.shard,
        replica: u.replica,
    }
}

impl CoordServer {
    pub fn new(meta: Arc<LocalMeta>, lease: Duration) -> Self {
        let placement = Placement {
            registry: Registry::new(lease),
            query: Plan::new(),
            data: Plan::new(),
        };
        Self {
            meta,
            lease,
            warm_until: Instant::now() + lease.min(WARMUP),
            placement: Mutex::new(placement),
        }
    }

    /// Sets how long a new coordinator only records what nodes serve before placing anything
    /// (tests that start from nothing use zero).
    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.warm_until = Instant::now() + warmup;
        self
    }

    /// Drops expired nodes and recomputes both plans; returns the nodes that were dropped.
    /// A coordinator that just started (a restart, a new operator leader) has no plan: for
    /// its first moments (every live node heartbeats in that time) the plans are only what
    /// nodes report serving, so that afterwards placement continues from where shards are
    /// instead of moving them.
    pub fn replan(&self, now: Instant) -> Vec<String> {
        let snapshot = self.meta.snapshot();
        let (query_demand, data_demand) = demands(&snapshot);
        let mut p = self.placement.lock();
        let dead: Vec<String> = p.registry.expire(now).into_iter().map(|n| n.id).collect();
        for id in &dead {
            tracing::warn!(node = %id, "node missed its heartbeats; reassigning its shards");
        }
        if now < self.warm_until {
            let serving = |role: Role| -> BTreeMap<String, BTreeSet<(i64, u32)>> {
                p.registry
                    .nodes()
                    .filter(|n| n.role == role)
                    .map(|n| (n.id.clone(), n.serving.clone()))
                    .collect()
            };
            let (query, data) = (
                seed(&query_demand, &serving(Role::Query)),
                seed(&data_demand, &serving(Role::Data)),
            );
            p.query = query;
            p.data = data;
            return dead;
        }
        let pools: BTreeMap<String, String> = p
            .registry
            .nodes()
            .filter(|n| n.role == Role::Query)
            .map(|n| (n.id.clone(), n.pool.clone()))
            .collect();
        p.query = plan_pools(&query_demand, &query_pools(&snapshot), &pools, &p.query);
        p.data = plan(&data_demand, &p.registry.alive(Role::Data), &p.data);
        dead
    }

    /// Refuses a load that asks for more replicas than [`MAX_REPLICAS`] or than the live query
    /// nodes that can serve the collection (those of its pool, if pinned): two replicas of a
    /// shard on one node would be one copy. Right after a start the registry is still filling
    /// up with the nodes' first heartbeats, so then only the fixed bound applies.
    pub fn check_load(&self, op: &MetaOp) -> Result<(), MetaError> {
        let MetaOp::SetLoaded {
            id,
            loaded: true,
            replicas,
        } = op
        else {
            return Ok(());
        };
        let replicas = (*replicas).max(1) as usize;
        let snapshot = self.meta.snapshot();
        let collection = snapshot.collections.get(id);
        let name = collection.map_or_else(|| id.to_string(), |c| c.name.clone());
        if replicas > MAX_REPLICAS {
            return Err(MetaError::Rejected(format!(
                "failed to load collection {name}: replica_number {replicas} is invalid, it \
                 should be in range [1, {MAX_REPLICAS}]"
            )));
        }
        // loading again what is loaded with as many replicas is a no-op that Milvus answers
        // with success, whatever nodes are up right now
        let unchanged = collection.is_some_and(|c| c.loaded && c.replicas as usize == replicas);
        if replicas == 1 || unchanged || Instant::now() < self.warm_until {
            return Ok(());
        }
        let pool = collection.and_then(|c| c.query_pool.as_deref());
        let nodes = self.placement.lock().registry.query_nodes_for(pool);
        if replicas > nodes {
            return Err(MetaError::Rejected(format!(
                "failed to load collection {name}: no enough nodes to create replicas\
                 [expected={replicas}][actual={nodes}]{}",
                pool.map(|p| format!(" in query pool {p}"))
                    .unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// How many in-memory replicas of a collection serve all of its shards on query nodes.
    pub fn loaded_replicas(&self, collection: i64) -> u32 {
        let p = self.placement.lock();
        let mut complete = BTreeMap::<u32, bool>::new();
        for (u, node) in p.query.iter().filter(|(u, _)| u.collection == collection) {
            let serving = p
                .registry
                .get(node)
                .is_some_and(|n| n.serving.contains(&(u.collection, u.shard)));
            *complete.entry(u.replica).or_insert(true) &= serving;
        }
        complete.values().filter(|ok| **ok).count() as u32
    }

    /// Growing (not yet sealed) rows of a collection, per shard, as its data nodes last
    /// reported them (during a handover the larger report wins).
    pub fn growing_rows(&self, collection: i64) -> BTreeMap<u32, u64> {
        let p = self.placement.lock();
        let mut out = BTreeMap::new();
        for n in p.registry.nodes().filter(|n| n.role == Role::Data) {
            for (&(c, shard), &rows) in &n.growing {
                if c == collection {
                    let e = out.entry(shard).or_insert(0);
                    *e = rows.max(*e);
                }
            }
        }
        out
    }

    /// Live nodes of a role.
    pub fn nodes(&self, role: Role) -> usize {
        self.placement.lock().registry.alive(role).len()
    }

    /// Routes to the units of a plan that their node reports loaded: a unit on its way to a
    /// node is not routed there before the node can answer for it. Until it can, the node that
    /// still serves the unit (see [`Self::draining`]) keeps its route.
    /// `drain` names the role whose nodes may keep draining units (query nodes; data shards
    /// have a single owner and never drain).
    fn routes(p: &Placement, plan: &Plan, drain: Option<Role>) -> Vec<pb::Route> {
        let mut out = Vec::new();
        for (u, node) in plan {
            let Some(n) = p.registry.get(node) else {
                continue;
            };
            if n.serving.contains(&(u.collection, u.shard)) {
                out.push(pb::Route {
                    unit: Some(unit(u)),
                    node_id: node.clone(),
                    address: n.address.clone(),
                });
            }
        }
        for n in p.registry.nodes().filter(|n| Some(n.role) == drain) {
            for u in Self::draining(plan, p, &n.id) {
                out.push(pb::Route {
                    unit: Some(unit(&u)),
                    node_id: n.id.clone(),
                    address: n.address.clone(),
                });
            }
        }
        out
    }

    /// Units a node still serves although the plan moved them away, kept until every planned
    /// owner of the shard reports it loaded: moving a shard never leaves it without a server.
    fn draining(plan: &Plan, p: &Placement, node: &str) -> Vec<ShardReplica> {
        let Some(n) = p.registry.get(node) else {
            return vec![];
        };
        let mut out = Vec::new();
        for &(collection, shard) in &n.serving {
            let owners: Vec<(&ShardReplica, &String)> = plan
                .iter()
                .filter(|(u, _)| u.collection == collection && u.shard == shard)
                .collect();
            if owners.is_empty() || owners.iter().any(|(_, o)| o.as_str() == node) {
                continue; // released or dropped, or the node still owns the shard
            }
            let ready = owners.iter().all(|(_, o)| {
                p.registry
                    .get(o)
                    .is_some_and(|x| x.serving.contains(&(collection, shard)))
            });
            if !ready {
                out.push(ShardReplica {
                    collection,
                    shard,
                    replica: owners[0].0.replica,
                });
            }
        }
        out
    }
}

#[tonic::async_trait]
impl Coord for CoordServer {
    async fn timestamp(
        &self,
        _: Request<pb::TimestampRequest>,
    ) -> Result<Response<pb::TimestampResponse>, Status> {
        Ok(Response::new(pb::TimestampResponse {
            timestamp: self.meta.timestamp(),
        }))
    }

    async fn alloc_ids(
        &self,
        req: Request<pb::AllocIdsRequest>,
    ) -> Result<Response<pb::AllocIdsResponse>, Status> {
        let first = self
            .meta
            .alloc_ids(req.into_inner().count)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(pb::AllocIdsResponse { first }))
    }

    async fn get_catalog(
        &self,
        req: Request<pb::GetCatalogRequest>,
    ) -> Result<Response<pb::GetCatalogResponse>, Status> {
        let snap = self.meta.snapshot();
        let current = req.into_inner().known_version == snap.version && snap.version > 0;
        Ok(Response::new(pb::GetCatalogResponse {
            version: snap.version,
            state: (!current).then(|| catalog_to_pb((*snap).clone())),
        }))
    }

    async fn mutate(
        &self,
        req: Request<pb::MutateRequest>,
    ) -> Result<Response<pb::MutateResponse>, Status> {
        let op = quarry_proto::required(req.into_inner().op, "MutateRequest.op")
            .and_then(op_from_pb)
            .map_err(|e| Status::invalid_argument(format!("bad operation: {e}")))?;
        tracing::debug!(?op, "catalog operation");
        self.check_load(&op).map_err(|e| to_status(&e))?;
        let result = apply_op(self.meta.as_ref(), op)
            .await
            .map_err(|e| to_status(&e))?;
        // placement follows the catalog (loads, new collections) without waiting for a heartbeat
        self.replan(Instant::now());
        Ok(Response::new(pb::MutateResponse {
            result: Some(result_to_pb(result)),
            catalog_version: self.meta.snapshot().version,
            timestamp: self.meta.timestamp(),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = req.into_inner();
        let role = Role::parse(&r.role)
            .ok_or_else(|| Status::invalid_argument(format!("unknown role {:?}", r.role)))?;
        let now = Instant::now();
        let serving = r.serving.iter().map(|u| (u.collection, u.shard)).collect();
        let joined = self.placement.lock().registry.heartbeat(Node {
            id: r.node_id.clone(),
            role,
            address: r.address.clone(),
            memory_bytes: r.memory_bytes,
            serving,
            pool: r.pool.clone(),
            growing: r
                .growing
                .iter()
                .map(|g| ((g.collection, g.shard), g.growing_rows))
                .collect(),
            last_seen: now,
        });
        if joined {
            tracing::info!(node = %r.node_id, role = role.as_str(), address = %r.address, "node joined");
        }
        self.replan(now);
        let p = self.placement.lock();
        // index tasks are dealt out by segment id over the live index nodes
        let index_nodes = p.registry.alive(Role::Index);
        let index_rank = index_nodes
            .iter()
            .position(|n| *n == r.node_id)
            .unwrap_or(0) as u32;
        let mine = |plan: &Plan| {
            plan.iter()
                .filter(|(_, n)| **n == r.node_id)
                .map(|(u, _)| unit(u))
                .collect::<Vec<_>>()
        };
        let assignments = match role {
            Role::Query => {
                let mut units = mine(&p.query);
                units.extend(Self::draining(&p.query, &p, &r.node_id).iter().map(unit));
                units
            }
            Role::Data => mine(&p.data),
            Role::Proxy | Role::Index => Vec::new(),
        };
        Ok(Response::new(pb::HeartbeatResponse {
            catalog_version: self.meta.snapshot().version,
            timestamp: self.meta.timestamp(),
            assignments,
            query_routes: Self::routes(&p, &p.query, Some(Role::Query)),
            data_routes: Self::routes(&p, &p.data, None),
            lease_ms: self.lease.as_millis() as u64,
            index_rank,
            index_nodes: index_nodes.len() as u32,
        }))
    }

    async fn leave(
        &self,
        req: Request<pb::LeaveRequest>,
    ) -> Result<Response<pb::LeaveResponse>, Status> {
        let id = req.into_inner().node_id;
        if self.placement.lock().registry.leave(&id) {
            tracing::info!(node = %id, "node left");
        }
        self.replan(Instant::now());
        Ok(Response::new(pb::LeaveResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quarry_meta::{Catalog, Created, NewCollection};
    use quarry_storage::MemoryObjectStore;
    use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

    fn schema() -> CollectionSchema {
        let mut pk = FieldSchema::new("id", DataType::Int64);
        pk.is_primary_key = true;
        let v = FieldSchema::new("v", DataType::FloatVector).with_param("dim", "4");
        CollectionSchema {
            functions: vec![],
            name: "c".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![pk, v],
            enable_dynamic_field: false,
            properties: vec![],
        }
        .prepare_new()
        .unwrap()
    }

    fn beat(id: &str) -> pb::HeartbeatRequest {
        pb::HeartbeatRequest {
            node_id: id.into(),
            role: "query".into(),
            address: format!("{id}:7000"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn loads_ask_for_no_more_replicas_than_query_nodes() {
        let store = Arc::new(MemoryObjectStore::new());
        let meta = Arc::new(LocalMeta::new(Catalog::open(store).await.unwrap()));
        let Created::New(c) = meta
            .create_collection(NewCollection {
                db: quarry_meta::DEFAULT_DB.into(),
                name: "c".into(),
                schema: schema(),
                shards: 2,
                consistency: ConsistencyLevel::Bounded,
                properties: vec![],
                num_partitions: 0,
            })
            .await
            .unwrap()
        else {
            panic!("new collection")
        };
        let server =
            CoordServer::new(meta.clone(), Duration::from_secs(5)).with_warmup(Duration::ZERO);
        for id in ["q1", "q2"] {
            server.heartbeat(Request::new(beat(id))).await.unwrap();
        }
        let load = |replicas| MetaOp::SetLoaded {
            id: c.id,
            loaded: true,
            replicas,
        };
        server.check_load(&load(2)).unwrap();
        server.check_load(&load(0)).unwrap();
        let e = server.check_load(&load(3)).unwrap_err().to_string();
        assert!(e.contains("no enough nodes to create replicas"), "{e}");
        assert!(e.contains("[expected=3][actual=2]"), "{e}");
        let e = server.check_load(&load(1_000_000)).unwrap_err().to_string();
        assert!(e.contains("should be in range [1, 64]"), "{e}");
        // releases are never refused
        let release = MetaOp::SetLoaded {
            id: c.id,
            loaded: false,
            replicas: 1_000_000,
        };
        server.check_load(&release).unwrap();
        // loading again what is loaded is a no-op, also while a node is away
        meta.set_loaded(c.id, true, 2).await.unwrap();
        server.check_load(&load(2)).unwrap();
        let e = server.check_load(&load(3)).unwrap_err().to_string();
        assert!(e.contains("[expected=3][actual=2]"), "{e}");

        // a replica count stored by an older catalog is planned within bounds
        meta.set_loaded(c.id, true, 1_000_000).await.unwrap();
        server.replan(Instant::now());
        let placed = server.placement.lock().query.len();
        assert_eq!(placed, MAX_REPLICAS * 2);
    }
}
