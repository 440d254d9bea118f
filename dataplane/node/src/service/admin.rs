//! Session and server: connect, version, health, timestamps, flush.

use quarry_engine::Named;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert;
use crate::status::{engine, ok};

pub(super) async fn connect(s: &Service) -> Handled<ConnectResponse> {
    Ok(ConnectResponse {
        status: Some(ok()),
        server_info: Some(ServerInfo {
            build_tags: format!("quarry-{}", env!("CARGO_PKG_VERSION")),
            deploy_mode: "STANDALONE".into(),
            ..Default::default()
        }),
        identifier: s.engine.now_ts() as i64 & 0x7fff_ffff,
    })
}

pub(super) async fn get_version() -> Handled<GetVersionResponse> {
    Ok(GetVersionResponse {
        status: Some(ok()),
        version: format!("v2.4.0-quarry-{}", env!("CARGO_PKG_VERSION")),
    })
}

pub(super) async fn check_health() -> Handled<CheckHealthResponse> {
    Ok(CheckHealthResponse {
        status: Some(ok()),
        is_healthy: true,
        reasons: vec![],
    })
}

pub(super) async fn alloc_timestamp(s: &Service) -> Handled<AllocTimestampResponse> {
    Ok(AllocTimestampResponse {
        status: Some(ok()),
        timestamp: s.engine.now_ts(),
    })
}

pub(super) async fn flush(s: &Service, r: FlushRequest) -> Handled<FlushResponse> {
    let mut flushed = Vec::with_capacity(r.collection_names.len());
    for name in r.collection_names {
        let segments = s
            .engine
            .flush(Named::new(&r.db_name, &name))
            .await
            .map_err(engine)?;
        flushed.push((name, segments, s.engine.now_ts()));
    }
    Ok(convert::flush_response(&r.db_name, flushed))
}

/// Flush returns only after the segments are durable.
pub(super) async fn get_flush_state() -> Handled<GetFlushStateResponse> {
    Ok(GetFlushStateResponse {
        status: Some(ok()),
        flushed: true,
    })
}
