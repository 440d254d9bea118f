//! The roles of a cluster as processes: `coordinator`, `proxy`, `querynode`, `datanode` and
//! `indexnode`. Every role serves `/healthz`, `/readyz` and `/metrics` on its HTTP port, and
//! leaves the cluster cleanly on SIGTERM (its shards move to others at once).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use quarry_coord::sweep::{SweepOptions, SweepTask, Sweeper};
use quarry_coord::CoordServer;
use quarry_engine::{Engine, EngineOptions, GrpcRouter, Mode, Router};
use quarry_meta::{Catalog, LocalMeta, MetaService, RemoteMeta, RequireToken};
use quarry_proto::internal::coord_server::CoordServer as CoordGrpc;
use quarry_proto::internal::worker_server::WorkerServer;
use quarry_proto::internal::{HeartbeatRequest, ShardReplica, ShardRows};
use quarry_proto::service::milvus_service_server::MilvusServiceServer;
use quarry_storage::ObjectStore;
use quarry_types::{env, Role};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;

use crate::config::{self, LogConfig, StorageArgs};
use crate::metrics::Metrics;
use crate::worker::WorkerService;
use crate::{http, service, shutdown_signal, MAX_MESSAGE};

const HEARTBEAT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, clap::Args)]
pub struct CoordinatorArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Directory of the local object store, when S3 is not configured (single host only).
    #[arg(long, env = env::DATA_DIR, default_value = "./data")]
    pub data_dir: PathBuf,
    #[arg(long, env = env::LISTEN, default_value = "0.0.0.0")]
    pub listen: IpAddr,
    /// Internal gRPC port (the Coord service).
    #[arg(long, env = env::PORT, default_value_t = 19531)]
    pub port: u16,
    #[arg(long, env = env::HTTP_PORT, default_value_t = 9091)]
    pub http_port: u16,
    /// A node that misses heartbeats for this long loses its shards.
    #[arg(long, env = env::LEASE_MS, default_value_t = 5000)]
    pub lease_ms: u64,
    #[command(flatten)]
    pub token: config::InternalTokenArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Directory of the local object store, when S3 is not configured (single host only).
    #[arg(long, env = env::DATA_DIR, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The coordinator's internal address.
    #[arg(long, env = env::COORDINATOR, default_value = "127.0.0.1:19531")]
    pub coordinator: String,
    /// The cluster (`namespace/name`) this node belongs to, when the coordinator serves several
    /// (quarry-operator does; it sets this in the pods it creates).
    #[arg(long, env = env::CLUSTER)]
    pub cluster: Option<String>,
    /// The node's pool (the NodePool in Kubernetes): collections loaded into a pool are placed
    /// on that pool's query nodes only.
    #[arg(long, env = env::POOL)]
    pub pool: Option<String>,
    #[arg(long, env = env::LISTEN, default_value = "0.0.0.0")]
    pub listen: IpAddr,
    /// gRPC port: the Milvus API on proxies (default 19530), the internal Worker API on query
    /// and data nodes (default: any free port).
    #[arg(long, env = env::PORT)]
    pub port: Option<u16>,
    #[arg(long, env = env::HTTP_PORT, default_value_t = 9091)]
    pub http_port: u16,
    /// Address other processes reach this node at (default 127.0.0.1:<port>; in Kubernetes the
    /// pod IP).
    #[arg(long, env = env::ADVERTISE)]
    pub advertise: Option<String>,
    /// Stable node name (default: role-pid).
    #[arg(long, env = env::NODE_ID)]
    pub node_id: Option<String>,
    /// Data nodes seal a shard's growing data into a segment at this many rows.
    #[arg(long, env = env::SEGMENT_ROWS, default_value_t = 500_000)]
    pub segment_rows: usize,
    /// Proxies: require a user and password on every Milvus RPC (on by default in a cluster).
    #[arg(long, env = env::AUTH, default_value_t = true, num_args = 0..=1,
        default_missing_value = "true", action = clap::ArgAction::Set)]
    pub auth: bool,
    #[command(flatten)]
    pub root: config::RootPasswordArgs,
    /// Proxies: TLS on the Milvus port.
    #[command(flatten)]
    pub tls: config::TlsArgs,
    /// Proxies: append an audit log (JSON lines: DDL, DCL, logins and refusals) to this file.
    #[arg(long, env = env::AUDIT_LOG)]
    pub audit_log: Option<PathBuf>,
    #[command(flatten)]
    pub token: config::InternalTokenArgs,
}

/// The root password when authentication is on (`None`: off); checked before anything
/// starts, so that a misconfigured process refuses at once.
pub(crate) fn root_password(
    enabled: bool,
    root: &config::RootPasswordArgs,
) -> anyhow::Result<Option<String>> {
    if !enabled {
        tracing::warn!("authentication is off: every client of the Milvus port has full access");
        return Ok(None);
    }
    root.resolve().map(Some)
}

/// The authenticator of a process serving the Milvus API (`None`: authentication off); it
/// creates `root` with `root_password` in a catalog that has no `root` yet.
pub(crate) async fn authentication(
    root_password: Option<String>,
    meta: Arc<dyn MetaService>,
) -> anyhow::Result<Option<Arc<crate::service::auth::Auth>>> {
    let Some(password) = root_password else {
        return Ok(None);
    };
    let auth = Arc::new(crate::service::auth::Auth::new(meta));
    if auth
        .seed_root(&password)
        .await
        .context("creating the root user")?
    {
        tracing::info!("root user created from the configured root password");
    }
    Ok(Some(auth))
}

pub async fn coordinator(args: CoordinatorArgs) -> anyhow::Result<()> {
    let token = args.token.resolve()?;
    let (_, store_config) = args.storage.resolve()?;
    let store = config::open_store(&store_config, &args.data_dir).await?;
    let meta = Arc::new(LocalMeta::new(
        Catalog::open(store.clone())
            .await
            .context("opening the catalog")?,
    ));
    let _sweep = garbage_sweep(&store);
    tracing::info!(
        version = meta.snapshot().version,
        collections = meta.snapshot().collections.len(),
        "catalog loaded"
    );
    let ready = Arc::new(AtomicBool::new(true));
    http::serve(
        SocketAddr::new(args.listen, args.http_port),
        Arc::new(Metrics::new()),
        ready,
    )
    .await?;
    let coord = CoordServer::new(meta, Duration::from_millis(args.lease_ms));
    let server = CoordGrpc::new(coord)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let addr = SocketAddr::new(args.listen, args.port);
    tracing::info!(grpc = %addr, "quarry coordinator listening");
    tonic::transport::Server::builder()
        .add_service(InterceptedService::new(server, RequireToken(token)))
        .serve_with_shutdown(addr, shutdown_signal())
        .await
        .context("grpc server")?;
    tracing::info!("coordinator stopped");
    Ok(())
}

/// Starts the background sweep of unreferenced files (see docs/on-disk-layout.md) in a process
/// that owns the catalog: the coordinator and standalone. It stops when the handle is dropped.
pub(crate) fn garbage_sweep(store: &Arc<dyn ObjectStore>) -> Option<SweepTask> {
    Sweeper::new(store.clone(), SweepOptions::from_env()).spawn()
}

/// The engine's mode of a node role.
fn mode_of(role: Role) -> Mode {
    match role {
        Role::Proxy => Mode::Proxy,
        Role::Query => Mode::QueryNode,
        Role::Data => Mode::DataNode,
        Role::Index => Mode::IndexNode,
    }
}

/// Runs a proxy, query node, data node or index node until SIGTERM.
pub async fn node(role: Role, args: NodeArgs) -> anyhow::Result<()> {
    let mode = mode_of(role);
    let root_password = if mode == Mode::Proxy {
        root_password(args.auth, &args.root)?
    } else {
        None
    };
    let tls = args.tls.resolve()?;
    if tls.is_some() && mode != Mode::Proxy {
        bail!("TLS (--tls-cert) is for the Milvus port of proxies; a {role} serves none");
    }
    if let Some(path) = &args.audit_log {
        if mode != Mode::Proxy {
            bail!(
                "the audit log (--audit-log) records the Milvus requests of proxies; a {role} \
                 serves none"
            );
        }
        crate::service::audit::open(path)?;
    }
    let token = args.token.resolve()?;
    let (log_config, store_config) = args.storage.resolve()?;
    if matches!(log_config, LogConfig::Embedded) {
        bail!("cluster roles share one log: configure Kafka ([log] kind = \"kafka\" or --kafka-brokers)");
    }
    let (store, log) = config::open_backends(&log_config, &store_config, &args.data_dir).await?;
    let remote = Arc::new(RemoteMeta::connect_to_cluster(
        &args.coordinator,
        args.cluster.as_deref(),
        token.clone(),
    )?);
    let node_id = args
        .node_id
        .clone()
        .unwrap_or_else(|| format!("{role}-{}", std::process::id()));

    // the gRPC listener first, so that the advertised address carries the real port
    let default_port = if mode == Mode::Proxy { 19530 } else { 0 };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(
        args.listen,
        args.port.unwrap_or(default_port),
    ))
    .await
    .context("binding the grpc port")?;
    let port = listener.local_addr()?.port();
    let advertise = args
        .advertise
        .clone()
        .unwrap_or_else(|| format!("127.0.0.1:{port}"));

    let router = (mode == Mode::Proxy).then(|| Arc::new(GrpcRouter::with_token(token.clone())));
    let options = EngineOptions {
        segment_rows: args.segment_rows,
        mode,
        ..Default::default()
    };
    let meta: Arc<dyn MetaService> = remote.clone();
    let engine = Engine::open_cluster(
        meta,
        store,
        log,
        options,
        router.clone().map(|r| r as Arc<dyn Router>),
    )
    .await
    .context("opening the engine")?;

    let ready = Arc::new(AtomicBool::new(false));
    let metrics = Arc::new(Metrics::new());
    http::serve(
        SocketAddr::new(args.listen, args.http_port),
        metrics.clone(),
        ready.clone(),
    )
    .await?;
    let beat = HeartbeatRequest {
        node_id: node_id.clone(),
        role: role.as_str().into(),
        address: if matches!(mode, Mode::QueryNode | Mode::DataNode) {
            advertise.clone()
        } else {
            String::new()
        },
        memory_bytes: 0,
        serving: vec![],
        pool: args.pool.clone().unwrap_or_default(),
        growing: vec![],
    };
    // one heartbeat before serving, so that a proxy starts with routes
    let stop = tokio_util::sync::CancellationToken::new();
    let beats = Heartbeats {
        remote: remote.clone(),
        engine: engine.clone(),
        router: router.clone(),
        beat,
        mode,
        ready: ready.clone(),
        stop: stop.clone(),
        metrics: metrics.clone(),
    };
    beats.start().await;
    let auth = authentication(root_password, remote.clone()).await?;

    let incoming = TcpIncoming::from(listener);
    let server = tonic::transport::Server::builder();
    tracing::info!(role = %role, node = %node_id, grpc = %advertise, coordinator = %args.coordinator, "quarry {role} node started");
    let served = match mode {
        Mode::Proxy => {
            let svc = MilvusServiceServer::new(service::Service {
                engine: engine.clone(),
                metrics,
                router: router.clone(),
                address: advertise.to_string(),
                cursors: Default::default(),
            })
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
            // clients connect here: the bounded server (internal services keep the default)
            crate::milvus_grpc_server(auth, tls)?
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, shutdown_signal())
                .await
        }
        Mode::QueryNode | Mode::DataNode => {
            let svc = WorkerServer::new(WorkerService {
                engine: engine.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
            server
                .clone()
                .add_service(InterceptedService::new(svc, RequireToken(token)))
                .serve_with_incoming_shutdown(incoming, shutdown_signal())
                .await
        }
        _ => {
            drop(incoming);
            shutdown_signal().await;
            Ok(())
        }
    };
    served.context("grpc server")?;
    // hand the shards over now rather than after the lease runs out
    stop.cancel();
    ready.store(false, Ordering::Release);
    if let Err(e) = remote.leave(&node_id).await {
        tracing::warn!(error = %e, "could not tell the coordinator we leave; it will notice by the lease");
    }
    engine.shutdown();
    tracing::info!(role = %role, node = %node_id, "stopped");
    Ok(())
}

/// One heartbeat: routes go to the router at once; catalog changes and assignments go to the
/// applier task, so that loading a big shard never delays the next heartbeat.
async fn heartbeat_once(
    remote: &RemoteMeta,
    engine: &Engine,
    router: Option<&GrpcRouter>,
    beat: &HeartbeatRequest,
    units: &tokio::sync::watch::Sender<Option<BTreeSet<(i64, u32)>>>,
    metrics: &Metrics,
) -> bool {
    let held = engine.serving_units();
    let (rows, memory_bytes) = engine.memory_stats();
    metrics.set_worker(held.len(), rows, memory_bytes);
    let serving = held
        .iter()
        .map(|u| ShardReplica {
            collection: u.collection,
            shard: u.shard,
            replica: 0,
        })
        .collect();
    // data nodes own shards' writes: their growing rows are the collection's unflushed rows
    let growing = if beat.role == Role::Data.as_str() {
        held.iter()
            .map(|u| ShardRows {
                collection: u.collection,
                shard: u.shard,
                growing_rows: u.growing_rows,
            })
            .collect()
    } else {
        Vec::new()
    };
    let r = match remote
        .heartbeat(HeartbeatRequest {
            serving,
            memory_bytes,
            growing,
            ..beat.clone()
        })
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "heartbeat failed");
            return false;
        }
    };
    if let Some(router) = router {
        router.set_routes(&r.query_routes, &r.data_routes);
    }
    engine.set_index_share(r.index_rank, r.index_nodes);
    units.send_replace(Some(
        r.assignments
            .iter()
            .map(|u| (u.collection, u.shard))
            .collect(),
    ));
    true
}

/// Applies the catalog and the assignments of the latest heartbeat, then marks the node ready.
async fn apply(
    engine: &Arc<Engine>,
    mode: Mode,
    units: Option<BTreeSet<(i64, u32)>>,
    ready: &AtomicBool,
) {
    if let Err(e) = engine.sync_catalog().await {
        tracing::error!(error = %e, "applying the catalog failed; will retry");
        return;
    }
    if let (Some(units), Mode::QueryNode | Mode::DataNode) = (units, mode) {
        if let Err(e) = engine.assign(&units).await {
            tracing::error!(error = %e, "loading assigned shards failed; will retry");
            return;
        }
    }
    ready.store(true, Ordering::Release);
}

struct Heartbeats {
    remote: Arc<RemoteMeta>,
    engine: Arc<Engine>,
    router: Option<Arc<GrpcRouter>>,
    beat: HeartbeatRequest,
    mode: Mode,
    ready: Arc<AtomicBool>,
    stop: tokio_util::sync::CancellationToken,
    metrics: Arc<Metrics>,
}

impl Heartbeats {
    /// Heartbeats once and applies the answer, then keeps doing both in the background.
    async fn start(self) {
        let (tx, mut rx) = tokio::sync::watch::channel(None);
        if heartbeat_once(
            &self.remote,
            &self.engine,
            self.router.as_deref(),
            &self.beat,
            &tx,
            &self.metrics,
        )
        .await
        {
            apply(
                &self.engine,
                self.mode,
                rx.borrow_and_update().clone(),
                &self.ready,
            )
            .await;
        }
        let (engine, mode, ready, stop) = (
            self.engine.clone(),
            self.mode,
            self.ready.clone(),
            self.stop.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                }
                let units = rx.borrow_and_update().clone();
                apply(&engine, mode, units, &ready).await;
            }
        });
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = self.stop.cancelled() => return,
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                }
                heartbeat_once(
                    &self.remote,
                    &self.engine,
                    self.router.as_deref(),
                    &self.beat,
                    &tx,
                    &self.metrics,
                )
                .await;
            }
        });
    }
}
