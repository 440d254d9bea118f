//! A fake Kubernetes world for the controller tests: the in-memory API server, the operator's
//! context over memory storage, a "kubelet" that makes Deployments ready, and simulated query
//! nodes that heartbeat the hosted coordinators.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use quarry_controller::context::Ctx;
use quarry_controller::context::Namespaced;
use quarry_controller::coordinators::{Coordinators, Hosted, MemoryBackends};
use quarry_controller::metrics::Metrics;
use quarry_controller::reconcile::{cluster, collection, index, mirror, pool};
use quarry_crd::{Collection, Index, NodePool, QuarryCluster};
use quarry_fake_kube::FakeApi;
use quarry_proto::internal::coord_server::Coord;
use quarry_proto::internal::{HeartbeatRequest, ShardReplica};
use serde_json::Value;

pub const NS: &str = "vectors";

pub struct World {
    pub fake: FakeApi,
    pub client: Client,
    pub ctx: Arc<Ctx>,
    pub backends: Arc<MemoryBackends>,
    /// simulated query nodes per cluster key: (node id, units served)
    nodes: parking_lot::Mutex<Vec<SimNode>>,
}

/// (cluster key, node id, address, units served)
type SimNode = (String, String, String, Vec<ShardReplica>);

impl World {
    pub fn new() -> Self {
        Self::with_backends(FakeApi::new(), Arc::new(MemoryBackends::default()))
    }

    /// A new operator (fresh coordinators and caches) over the same API objects and storage:
    /// what a restarted or newly elected operator sees.
    pub fn restarted(&self) -> Self {
        Self::with_backends(self.fake.clone(), self.backends.clone())
    }

    fn with_backends(fake: FakeApi, backends: Arc<MemoryBackends>) -> Self {
        let client = fake.client(NS);
        let coordinators = Arc::new(
            Coordinators::new(backends.clone(), Duration::from_secs(30))
                .with_warmup(Duration::ZERO),
        );
        let ctx = Ctx::new(
            client.clone(),
            coordinators,
            Arc::new(Metrics::new()),
            "quarry-operator.quarry-system.svc:19531".into(),
            Duration::from_secs(30),
        );
        Self {
            fake,
            client,
            ctx,
            backends,
            nodes: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// `kubectl apply --server-side` of a multi-document YAML text.
    pub async fn apply_yaml(&self, text: &str) {
        for doc in serde_yaml::Deserializer::from_str(text) {
            let v: Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
            if v.is_null() {
                continue;
            }
            self.apply_value(v).await;
        }
    }

    pub async fn apply_value(&self, v: Value) {
        let name = v["metadata"]["name"].as_str().expect("a name").to_string();
        let ns = v["metadata"]["namespace"]
            .as_str()
            .unwrap_or(NS)
            .to_string();
        let pp = PatchParams::apply("kubectl").force();
        macro_rules! apply {
            ($t:ty) => {{
                let api: Api<$t> = Api::namespaced(self.client.clone(), &ns);
                api.patch(&name, &pp, &Patch::Apply(&v))
                    .await
                    .map(|_| ())
                    .unwrap_or_else(|e| panic!("applying {name}: {e}"))
            }};
        }
        match v["kind"].as_str().unwrap_or_default() {
            "QuarryCluster" => apply!(QuarryCluster),
            "NodePool" => apply!(NodePool),
            "Collection" => apply!(Collection),
            "Index" => apply!(Index),
            "Secret" => apply!(Secret),
            other => panic!("the test world does not apply {other}"),
        }
    }

    pub async fn get<K: Namespaced>(&self, name: &str) -> Option<K> {
        quarry_controller::found(
            Api::<K>::namespaced(self.client.clone(), NS)
                .get(name)
                .await,
        )
        .unwrap()
    }

    pub async fn list<K: Namespaced>(&self) -> Vec<K> {
        Api::<K>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
    }

    pub fn hosted(&self, cluster: &str) -> Arc<Hosted> {
        self.ctx
            .coordinators
            .get(&format!("{NS}/{cluster}"))
            .expect("the cluster's coordinator is hosted")
    }

    /// The deployment controller and kubelet: every Deployment's pods run and are ready.
    pub async fn kubelet(&self) {
        for d in self.list::<Deployment>().await {
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let status = serde_json::json!({ "status": {
                "observedGeneration": d.metadata.generation, "replicas": want, "readyReplicas": want,
                "updatedReplicas": want, "availableReplicas": want,
            }});
            let api: Api<Deployment> =
                Api::namespaced(self.client.clone(), &d.namespace().unwrap());
            api.patch_status(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await
            .unwrap();
        }
    }

    /// Starts as many simulated query nodes as the query pools ask for.
    pub async fn start_query_pools(&self) {
        for p in self
            .list::<NodePool>()
            .await
            .into_iter()
            .filter(|p| p.spec.role == quarry_crd::Role::Query)
        {
            for i in 0..p.spec.replicas {
                self.query_node_in(
                    &p.spec.cluster_ref,
                    &p.name_any(),
                    &format!("{}-{i}", p.name_any()),
                );
            }
        }
    }

    /// Starts a simulated query node of a cluster; it serves whatever it is assigned.
    pub fn query_node(&self, cluster: &str, id: &str) {
        self.query_node_in(cluster, "", id);
    }

    /// Starts a simulated query node of a cluster's pool.
    pub fn query_node_in(&self, cluster: &str, pool: &str, id: &str) {
        self.nodes
            .lock()
            .push((cluster.into(), id.into(), pool.into(), Vec::new()));
    }

    /// A data node of a cluster heartbeats, reporting growing rows per (collection, shard).
    pub async fn data_node_reports(&self, cluster: &str, id: &str, growing: &[(i64, u32, u64)]) {
        let h = self.hosted(cluster);
        let req = HeartbeatRequest {
            node_id: id.into(),
            role: "data".into(),
            address: format!("{id}:7000"),
            memory_bytes: 0,
            serving: vec![],
            pool: String::new(),
            growing: growing
                .iter()
                .map(
                    |&(collection, shard, growing_rows)| quarry_proto::internal::ShardRows {
                        collection,
                        shard,
                        growing_rows,
                    },
                )
                .collect(),
        };
        Coord::heartbeat(h.server.as_ref(), tonic::Request::new(req))
            .await
            .unwrap();
    }

    /// (node, units) of every simulated node serving something.
    pub fn served_by(&self) -> Vec<(String, Vec<ShardReplica>)> {
        self.nodes
            .lock()
            .iter()
            .filter(|n| !n.3.is_empty())
            .map(|n| (n.1.clone(), n.3.clone()))
            .collect()
    }

    /// One heartbeat round of the simulated nodes: each reports what it serves (everything it
    /// was assigned last time) and takes its new assignments.
    pub async fn heartbeats(&self) {
        let nodes = self.nodes.lock().clone();
        let mut next = Vec::new();
        for (cluster, id, pool, serving) in nodes {
            let Some(h) = self.ctx.coordinators.get(&format!("{NS}/{cluster}")) else {
                next.push((cluster, id, pool, serving));
                continue;
            };
            let req = HeartbeatRequest {
                node_id: id.clone(),
                role: "query".into(),
                address: format!("{id}:7000"),
                memory_bytes: 0,
                serving: serving.clone(),
                pool: pool.clone(),
                growing: vec![],
            };
            let r = Coord::heartbeat(h.server.as_ref(), tonic::Request::new(req))
                .await
                .unwrap()
                .into_inner();
            next.push((cluster, id, pool, r.assignments));
        }
        *self.nodes.lock() = next;
    }

    /// Runs every reconciler over every resource, the mirror loop, the kubelet and the nodes'
    /// heartbeats, `rounds` times (dependencies settle over rounds, as in a real cluster).
    pub async fn settle(&self, rounds: usize) {
        for _ in 0..rounds {
            for qc in self.list::<QuarryCluster>().await {
                cluster::reconcile(Arc::new(qc), self.ctx.clone())
                    .await
                    .unwrap();
            }
            for p in self.list::<NodePool>().await {
                pool::reconcile(Arc::new(p), self.ctx.clone())
                    .await
                    .unwrap();
            }
            for c in self.list::<Collection>().await {
                collection::reconcile(Arc::new(c), self.ctx.clone())
                    .await
                    .unwrap();
            }
            for i in self.list::<Index>().await {
                index::reconcile(Arc::new(i), self.ctx.clone())
                    .await
                    .unwrap();
            }
            for key in self.ctx.coordinators.keys() {
                mirror::sync(&self.ctx, &key).await.unwrap();
            }
            self.kubelet().await;
            self.heartbeats().await;
        }
    }
}

/// A resource's condition `type`: (status, reason).
pub fn condition(obj: &Value, type_: &str) -> (String, String) {
    let c = obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null);
    (
        c["status"].as_str().unwrap_or("").to_string(),
        c["reason"].as_str().unwrap_or("").to_string(),
    )
}

pub fn json<K: serde::Serialize>(obj: &K) -> Value {
    serde_json::to_value(obj).unwrap()
}

pub const CLUSTER: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: s3-credentials
data:
  AWS_ACCESS_KEY_ID: cXVhcnJ5
  AWS_SECRET_ACCESS_KEY: c2VjcmV0
---
apiVersion: quarry.dev/v1alpha1
kind: QuarryCluster
metadata:
  name: prod
spec:
  image: ghcr.io/quarry/quarry:0.1.0
  kafka:
    bootstrapServers: kafka:9092
  s3:
    bucket: quarry-data
    endpoint: http://minio:9000
    pathStyle: true
    credentialsSecret:
      name: s3-credentials
"#;

pub const POOLS: &str = r#"
apiVersion: quarry.dev/v1alpha1
kind: NodePool
metadata:
  name: query
spec:
  clusterRef: prod
  role: query
  replicas: 2
---
apiVersion: quarry.dev/v1alpha1
kind: NodePool
metadata:
  name: proxy
spec:
  clusterRef: prod
  role: proxy
  replicas: 2
"#;

pub const DOCS: &str = r#"
apiVersion: quarry.dev/v1alpha1
kind: Collection
metadata:
  name: docs
spec:
  clusterRef: prod
  shards: 2
  schema:
    enableDynamicField: true
    fields:
      - name: id
        dataType: Int64
        primaryKey: true
      - name: embedding
        dataType: FloatVector
        dim: 8
      - name: title
        dataType: VarChar
        maxLength: 256
"#;
