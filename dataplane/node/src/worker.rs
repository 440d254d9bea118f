//! The internal Worker service of query and data nodes: reads over served shards and flushes.
//! Messages and errors convert in the engine (`quarry_engine::wire`).

use std::sync::Arc;

use quarry_engine::wire::{answer_to_pb, check_read, read_from_pb, to_status};
use quarry_engine::Engine;
use quarry_engine::Named;
use quarry_proto::internal as pb;
use quarry_proto::internal::worker_server::Worker;
use tonic::{Request, Response, Status};
use tracing::Instrument;

pub struct WorkerService {
    pub engine: Arc<Engine>,
}

/// The database of a worker request; empty (a proxy from before databases): `default`.
fn db(name: &str) -> &str {
    if name.is_empty() {
        quarry_engine::DEFAULT_DB
    } else {
        name
    }
}

fn shards(list: Vec<pb::ShardOffset>) -> Vec<(u32, u64)> {
    list.into_iter().map(|s| (s.shard, s.offset)).collect()
}

impl WorkerService {
    async fn read_one(&self, r: pb::ReadRequest) -> Result<Response<pb::ReadResponse>, Status> {
        let read = quarry_proto::required(r.read, "ReadRequest.read")
            .and_then(read_from_pb)
            .map_err(|e| Status::invalid_argument(format!("bad read: {e}")))?;
        let meta = self
            .engine
            .describe_collection(Named::new(db(&r.db), &r.collection))
            .await
            .map_err(|e| to_status(&e))?;
        check_read(&read, &meta.schema)
            .map_err(|e| Status::invalid_argument(format!("bad read: {e}")))?;
        let answer = self
            .engine
            .serve_read(Named::new(db(&r.db), &r.collection), shards(r.shards), read)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(pb::ReadResponse {
            answer: Some(answer_to_pb(answer)),
        }))
    }
}

#[tonic::async_trait]
impl Worker for WorkerService {
    async fn read(
        &self,
        req: Request<pb::ReadRequest>,
    ) -> Result<Response<pb::ReadResponse>, Status> {
        // the proxy's request id, so that this node's logs of the read carry it too
        let id = req
            .metadata()
            .get(quarry_engine::request::HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let span = tracing::info_span!("worker_read", request_id = %id);
        self.read_one(req.into_inner()).instrument(span).await
    }

    async fn flush(
        &self,
        req: Request<pb::FlushRequest>,
    ) -> Result<Response<pb::FlushResponse>, Status> {
        let r = req.into_inner();
        let segments = self
            .engine
            .serve_flush(Named::new(db(&r.db), &r.collection), shards(r.shards))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(pb::FlushResponse { segments }))
    }
}
