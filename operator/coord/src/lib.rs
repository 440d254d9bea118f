//! The coordinator's server side, free of Kubernetes: the internal gRPC service
//! ([`CoordServer`]: catalog operations, timestamps and ids for the other roles, heartbeats),
//! the node registry with leases, the placement planner and the garbage sweep. The catalog
//! itself and its operations are `quarry-meta`; standalone mode and the operator's hosted
//! coordinators run this service in-process.

pub mod plan;
pub mod registry;
mod server;
pub mod sweep;

pub use server::{demands, CoordServer};
