//! `quarry`: the Quarry data plane. `quarry standalone` runs every role in one process, with
//! embedded storage by default or on Kafka and S3 when configured.

mod config;
#[cfg(test)]
mod config_doc;
mod convert;
mod http;
mod metrics;
mod roles;
mod service;
mod status;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use quarry_engine::{Engine, EngineOptions};
use quarry_proto::service::milvus_service_server::MilvusServiceServer;
use quarry_types::{env, Role};
use tracing_subscriber::EnvFilter;

/// Messages up to 256 MiB, as Milvus allows (tonic's default of 4 MiB breaks medium inserts).
pub(crate) const MAX_MESSAGE: usize = quarry_types::limits::MAX_MESSAGE_BYTES;

/// The gRPC server that clients reach (the Milvus service of standalone and of proxies):
/// bounded requests and streams per connection, HTTP/2 keepalive so that the requests of a
/// vanished client are dropped, and the RPC layer (a request span, per-RPC metrics, and the
/// authentication of every request when `auth` is given).
pub(crate) fn milvus_grpc_server(
    auth: Option<Arc<service::auth::Auth>>,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> anyhow::Result<tonic::transport::Server<service::layer::Layered>> {
    use quarry_types::limits::{
        HTTP2_KEEPALIVE_INTERVAL_SECS, HTTP2_KEEPALIVE_TIMEOUT_SECS,
        MAX_CONCURRENT_REQUESTS_PER_CONNECTION, MAX_CONCURRENT_STREAMS_PER_CONNECTION,
    };
    use std::time::Duration;
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        // a bad certificate or key stops the start here
        server = server
            .tls_config(tls)
            .context("the TLS certificate or key")?;
    }
    Ok(server
        .concurrency_limit_per_connection(MAX_CONCURRENT_REQUESTS_PER_CONNECTION)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS_PER_CONNECTION)
        .http2_keepalive_interval(Some(Duration::from_secs(HTTP2_KEEPALIVE_INTERVAL_SECS)))
        .http2_keepalive_timeout(Some(Duration::from_secs(HTTP2_KEEPALIVE_TIMEOUT_SECS)))
        .tcp_nodelay(true)
        .layer(service::RpcLayer::process(auth)))
}

#[derive(Parser)]
#[command(
    name = "quarry",
    version,
    about = "Quarry: a cloud-native vector database that speaks the Milvus protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands: `standalone`, `coordinator`, and one per node role (named as
/// `Role::command` names them).
#[derive(Subcommand)]
enum Command {
    /// Every role in one process: Milvus gRPC, HTTP health/metrics, log and object store
    /// (embedded by default; Kafka and S3 when configured).
    Standalone(StandaloneArgs),
    /// The coordinator of a cluster: catalog, ids, timestamps, node liveness, shard placement.
    Coordinator(roles::CoordinatorArgs),
    /// A stateless Milvus endpoint of a cluster: writes to the log, routes reads to query nodes.
    Proxy(roles::NodeArgs),
    /// Serves searches and queries for the shards the coordinator assigns to it.
    Querynode(roles::NodeArgs),
    /// Owns shards: seals their log into segments in the object store.
    Datanode(roles::NodeArgs),
    /// Builds vector indexes for sealed segments.
    Indexnode(roles::NodeArgs),
}

#[derive(clap::Args)]
struct StandaloneArgs {
    #[command(flatten)]
    storage: config::StorageArgs,
    /// Directory for the embedded log and the local object store (segments, indexes, catalog).
    #[arg(long, env = env::DATA_DIR, default_value = "./data")]
    data_dir: PathBuf,
    /// Milvus gRPC port.
    #[arg(long, env = env::PORT, default_value_t = 19530)]
    port: u16,
    /// HTTP port for /healthz, /readyz and /metrics.
    #[arg(long, env = env::HTTP_PORT, default_value_t = 9091)]
    http_port: u16,
    /// Address to listen on.
    #[arg(long, env = env::LISTEN, default_value = "0.0.0.0")]
    listen: std::net::IpAddr,
    /// Seal a shard's growing data into a segment once it holds this many rows.
    #[arg(long, env = env::SEGMENT_ROWS, default_value_t = 500_000)]
    segment_rows: usize,
    /// Require a user and password on every Milvus RPC (off by default for local use).
    #[arg(long, env = env::AUTH, default_value_t = false, num_args = 0..=1,
        default_missing_value = "true", action = clap::ArgAction::Set)]
    auth: bool,
    #[command(flatten)]
    root: config::RootPasswordArgs,
    #[command(flatten)]
    tls: config::TlsArgs,
    /// Append an audit log (JSON lines: DDL, DCL, logins and refusals) to this file.
    #[arg(long, env = env::AUDIT_LOG)]
    audit_log: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Standalone(args) => standalone(args).await,
        Command::Coordinator(args) => roles::coordinator(args).await,
        Command::Proxy(args) => roles::node(Role::Proxy, args).await,
        Command::Querynode(args) => roles::node(Role::Query, args).await,
        Command::Datanode(args) => roles::node(Role::Data, args).await,
        Command::Indexnode(args) => roles::node(Role::Index, args).await,
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let options = EngineOptions {
        segment_rows: args.segment_rows,
        ..Default::default()
    };
    let root_password = roles::root_password(args.auth, &args.root)?;
    let tls = args.tls.resolve()?;
    if let Some(path) = &args.audit_log {
        service::audit::open(path)?;
    }
    let (log_config, store_config) = args.storage.resolve()?;
    let (store, log) = config::open_backends(&log_config, &store_config, &args.data_dir).await?;
    tracing::info!(log = ?log, store = ?store, "storage backends");
    let _sweep = roles::garbage_sweep(&store);
    let engine = Engine::open(store, log, options)
        .await
        .context("opening the engine")?;
    let auth = roles::authentication(root_password, engine.meta().clone()).await?;
    let metrics = Arc::new(metrics::Metrics::new());

    let http_addr = SocketAddr::new(args.listen, args.http_port);
    http::serve(
        http_addr,
        metrics.clone(),
        Arc::new(std::sync::atomic::AtomicBool::new(true)),
    )
    .await?;

    let grpc_addr = SocketAddr::new(args.listen, args.port);
    let svc = MilvusServiceServer::new(service::Service {
        engine: engine.clone(),
        metrics,
        router: None,
        address: grpc_addr.to_string(),
        cursors: Default::default(),
    })
    .max_decoding_message_size(MAX_MESSAGE)
    .max_encoding_message_size(MAX_MESSAGE);
    tracing::info!(grpc = %grpc_addr, http = %http_addr, data_dir = %args.data_dir.display(), "quarry standalone listening");
    milvus_grpc_server(auth, tls)?
        .add_service(svc)
        .serve_with_shutdown(grpc_addr, shutdown_signal())
        .await
        .context("grpc server")?;
    engine.shutdown();
    tracing::info!("quarry stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every `QUARRY_*` variable the flags read is in the list the operator renders pods from
    /// (`quarry_types::env`), and every listed one is read.
    #[test]
    fn the_flags_read_exactly_the_shared_environment() {
        let read: BTreeSet<String> = config_doc::cli_flags()
            .into_iter()
            .filter_map(|(_, env)| env)
            .filter(|e| e.starts_with("QUARRY_"))
            .collect();
        let listed: BTreeSet<String> = env::READ_BY_NODES.iter().map(|s| s.to_string()).collect();
        assert_eq!(read, listed);
    }

    /// The subcommand of every role is the name the operator runs its pods with.
    #[test]
    fn every_role_has_its_subcommand() {
        for role in Role::ALL {
            let cli = Cli::try_parse_from(["quarry", role.command(), "--help"]);
            let err = cli.err().expect("--help exits");
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{}",
                role.command()
            );
        }
    }
}
