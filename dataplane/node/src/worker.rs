//! The internal Worker service of query and data nodes: reads over served shards and flushes.
//! Requests and answers are JSON documents of the engine's read types.

use std::sync::Arc;

use quarry_engine::{Engine, EngineError, ShardRead};
use quarry_proto::internal as pb;
use quarry_proto::internal::worker_server::Worker;
use tonic::{Request, Response, Status};

pub struct WorkerService {
    pub engine: Arc<Engine>,
}

/// Engine errors on the internal API; `router.rs` maps them back.
pub fn to_status(e: &EngineError) -> Status {
    let msg = e.to_string();
    match e {
        EngineError::CollectionNotFound(name) => Status::not_found(name.clone()),
        EngineError::InvalidArgument(m) => Status::invalid_argument(m.clone()),
        EngineError::Schema(_) | EngineError::Expr(_) | EngineError::Index(_) => {
            Status::invalid_argument(msg)
        }
        EngineError::Unavailable(m) => Status::unavailable(m.clone()),
        _ => Status::internal(msg),
    }
}

fn shards(list: Vec<pb::ShardOffset>) -> Vec<(u32, u64)> {
    list.into_iter().map(|s| (s.shard, s.offset)).collect()
}

#[tonic::async_trait]
impl Worker for WorkerService {
    async fn read(
        &self,
        req: Request<pb::ReadRequest>,
    ) -> Result<Response<pb::ReadResponse>, Status> {
        let r = req.into_inner();
        let read: ShardRead = serde_json::from_slice(&r.request_json)
            .map_err(|e| Status::invalid_argument(format!("bad read: {e}")))?;
        let answer = self
            .engine
            .serve_read(&r.collection, shards(r.shards), read)
            .await
            .map_err(|e| to_status(&e))?;
        let result_json =
            serde_json::to_vec(&answer).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(pb::ReadResponse { result_json }))
    }

    async fn flush(
        &self,
        req: Request<pb::FlushRequest>,
    ) -> Result<Response<pb::FlushResponse>, Status> {
        let r = req.into_inner();
        let segments = self
            .engine
            .serve_flush(&r.collection, shards(r.shards))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(pb::FlushResponse { segments }))
    }
}
