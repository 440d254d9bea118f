//! The internal Coord gRPC service of every hosted cluster on one port: each call names its
//! cluster in the `x-quarry-cluster` metadata (the pods the operator creates set
//! `QUARRY_CLUSTER`), and goes to that cluster's coordinator.

use std::sync::Arc;

use quarry_coord::CoordServer;
use quarry_meta::CLUSTER_HEADER;
use quarry_proto::internal as pb;
use quarry_proto::internal::coord_server::Coord;
use tonic::{Request, Response, Status};

use crate::coordinators::Coordinators;

pub struct MultiCoord {
    pub coordinators: Arc<Coordinators>,
}

impl MultiCoord {
    fn pick<T>(&self, req: &Request<T>) -> Result<Arc<CoordServer>, Status> {
        // the caller's credential names its cluster; a cluster header must agree with it
        if let Some(token) = quarry_meta::token::presented(req.metadata()) {
            let (key, hosted) = self.coordinators.by_token(token).ok_or_else(|| {
                Status::unauthenticated("internal call with a wrong cluster credential")
            })?;
            if let Some(named) = req.metadata().get(CLUSTER_HEADER) {
                if named.as_bytes() != key.as_bytes() {
                    return Err(Status::permission_denied(
                        "the cluster header names another cluster than the credential",
                    ));
                }
            }
            return Ok(hosted.server.clone());
        }
        let key = match req.metadata().get(CLUSTER_HEADER) {
            Some(v) => v
                .to_str()
                .map_err(|_| Status::invalid_argument("the cluster header is not ASCII"))?
                .to_string(),
            None => {
                // a caller that does not name its cluster is served when there is only one
                let keys = self.coordinators.keys();
                match keys.as_slice() {
                    [only] => only.clone(),
                    _ => return Err(Status::failed_precondition(format!("name the cluster in the {CLUSTER_HEADER} header (QUARRY_CLUSTER); this operator hosts {}", keys.len()))),
                }
            }
        };
        let hosted = self.coordinators.get(&key);
        if hosted
            .as_ref()
            .is_some_and(|h| h.credentials().internal_token.is_some())
        {
            return Err(Status::unauthenticated(format!(
                "internal call without the cluster credential ({})",
                quarry_meta::TOKEN_HEADER
            )));
        }
        hosted
            .map(|h| h.server.clone())
            .ok_or_else(|| Status::unavailable(format!("the coordinator of cluster {key} is not running here (not the leading operator, or no such QuarryCluster)")))
    }
}

#[tonic::async_trait]
impl Coord for MultiCoord {
    async fn timestamp(
        &self,
        req: Request<pb::TimestampRequest>,
    ) -> Result<Response<pb::TimestampResponse>, Status> {
        self.pick(&req)?.timestamp(req).await
    }

    async fn alloc_ids(
        &self,
        req: Request<pb::AllocIdsRequest>,
    ) -> Result<Response<pb::AllocIdsResponse>, Status> {
        self.pick(&req)?.alloc_ids(req).await
    }

    async fn get_catalog(
        &self,
        req: Request<pb::GetCatalogRequest>,
    ) -> Result<Response<pb::GetCatalogResponse>, Status> {
        self.pick(&req)?.get_catalog(req).await
    }

    async fn mutate(
        &self,
        req: Request<pb::MutateRequest>,
    ) -> Result<Response<pb::MutateResponse>, Status> {
        self.pick(&req)?.mutate(req).await
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        self.pick(&req)?.heartbeat(req).await
    }

    async fn leave(
        &self,
        req: Request<pb::LeaveRequest>,
    ) -> Result<Response<pb::LeaveResponse>, Status> {
        self.pick(&req)?.leave(req).await
    }
}
