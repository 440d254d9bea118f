//! `quarry-operator`: hosts the coordinators of the QuarryClusters it manages and runs the
//! controllers. One replica leads (a Lease); the others stand by, not ready.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use clap::Parser;
use quarry_controller::context::Ctx;
use quarry_controller::coordinators::{Coordinators, RemoteBackends};
use quarry_controller::grpc::MultiCoord;
use quarry_controller::leader::Elector;
use quarry_controller::metrics::Metrics;
use quarry_proto::internal::coord_server::CoordServer as CoordGrpc;

#[derive(Debug, Parser)]
#[command(
    name = "quarry-operator",
    version,
    about = "The Quarry operator and coordinator"
)]
struct Args {
    /// Watch one namespace only (the chart's namespaced mode); default all namespaces.
    #[arg(long, env = "QUARRY_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// The operator's own namespace (for its Lease and default coordinator address).
    #[arg(long, env = "POD_NAMESPACE", default_value = "quarry-system")]
    pod_namespace: String,
    /// This replica's identity in the Lease (the pod name).
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// Port of the internal Coord gRPC service every cluster's pods dial.
    #[arg(long, env = "QUARRY_OPERATOR_GRPC_PORT", default_value_t = 19531)]
    grpc_port: u16,
    /// /healthz, /readyz (leader only) and /metrics.
    #[arg(long, env = "QUARRY_OPERATOR_HTTP_PORT", default_value_t = 9091)]
    http_port: u16,
    /// The coordinator address written into each cluster's ConfigMap; default
    /// `quarry-operator.<namespace>.svc:<grpc port>` (the chart's Service).
    #[arg(long, env = "QUARRY_COORDINATOR_ADDRESS")]
    coordinator_address: Option<String>,
    /// How often Ready resources are checked again (out-of-band changes are reverted then).
    #[arg(long, env = "QUARRY_RESYNC_SECONDS", default_value_t = 30)]
    resync_seconds: u64,
    /// How often collections created through the Milvus API are mirrored into resources.
    #[arg(long, env = "QUARRY_MIRROR_SECONDS", default_value_t = 10)]
    mirror_seconds: u64,
    /// A node that misses heartbeats this long loses its shards.
    #[arg(long, env = "QUARRY_NODE_LEASE_MS", default_value_t = 5000)]
    node_lease_ms: u64,
    #[arg(long, env = "QUARRY_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    #[arg(long, env = "QUARRY_LEASE_NAME", default_value = "quarry-operator")]
    lease_name: String,
    #[arg(long, env = "QUARRY_LEASE_SECONDS", default_value_t = 15)]
    lease_seconds: u64,
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Arc::new(Metrics::new());
    let leading = Arc::new(AtomicBool::new(false));
    let coordinators = Arc::new(Coordinators::new(
        Arc::new(RemoteBackends),
        Duration::from_millis(args.node_lease_ms),
    ));

    let http = {
        let (metrics, leading) = (metrics.clone(), leading.clone());
        axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(move || {
                    let leading = leading.load(Ordering::Relaxed);
                    async move {
                        if leading {
                            (StatusCode::OK, "leading")
                        } else {
                            (StatusCode::SERVICE_UNAVAILABLE, "standing by")
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                get(move || {
                    let m = metrics.clone();
                    async move { m.render() }
                }),
            )
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], args.http_port)))
        .await
        .context("binding the HTTP port")?;
    tokio::spawn(async move { axum::serve(listener, http).await });
    let grpc = CoordGrpc::new(MultiCoord {
        coordinators: coordinators.clone(),
    })
    .max_decoding_message_size(256 << 20)
    .max_encoding_message_size(256 << 20);
    let grpc_addr = SocketAddr::from(([0, 0, 0, 0], args.grpc_port));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(grpc)
            .serve(grpc_addr)
            .await
    });

    let identity = args
        .pod_name
        .clone()
        .unwrap_or_else(|| format!("quarry-operator-{}", std::process::id()));
    let elector = Arc::new(Elector::new(
        client.clone(),
        &args.pod_namespace,
        &args.lease_name,
        &identity,
        Duration::from_secs(args.lease_seconds),
    ));
    if args.leader_elect {
        tracing::info!(identity = %identity, lease = %args.lease_name, "waiting to lead");
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "leader election"),
            }
            tokio::select! {
                _ = tokio::time::sleep(elector.ttl() / 3) => {}
                _ = shutdown() => return Ok(()),
            }
        }
        let elector = elector.clone();
        tokio::spawn(async move {
            let mut last_renewal = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(elector.ttl() / 3).await;
                match elector.try_acquire_or_renew().await {
                    Ok(true) => last_renewal = tokio::time::Instant::now(),
                    Ok(false) => {
                        tracing::error!("lost the leader Lease; exiting");
                        std::process::exit(1);
                    }
                    Err(e) if last_renewal.elapsed() >= elector.ttl() => {
                        tracing::error!(error = %e, "could not renew the leader Lease in time; exiting");
                        std::process::exit(1);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "renewing the leader Lease failed; retrying")
                    }
                }
            }
        });
    }
    leading.store(true, Ordering::Relaxed);
    metrics.leader.set(1);
    tracing::info!(identity = %identity, namespace = ?args.namespace, "leading: hosting coordinators and running the controllers");

    let address = args.coordinator_address.clone().unwrap_or_else(|| {
        format!(
            "quarry-operator.{}.svc:{}",
            args.pod_namespace, args.grpc_port
        )
    });
    let ctx = Ctx::new(
        client,
        coordinators,
        metrics,
        address,
        Duration::from_secs(args.resync_seconds),
    );
    quarry_controller::run::controllers(
        ctx,
        args.namespace.clone(),
        Duration::from_secs(args.mirror_seconds),
    )
    .await;
    if args.leader_elect {
        if let Err(e) = elector.release().await {
            tracing::warn!(error = %e, "could not release the leader Lease");
        }
    }
    tracing::info!("operator stopped");
    Ok(())
}
