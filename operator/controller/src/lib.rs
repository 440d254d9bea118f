//! The Quarry operator: it hosts the coordinator of every `QuarryCluster` it manages (the
//! internal Coord gRPC service, one catalog per cluster in the cluster's S3 bucket) and
//! reconciles Quarry's custom resources into Kubernetes objects and catalog changes.
//! See docs/operations.md.

pub mod catalog_plan;
pub mod context;
pub mod coordinators;
mod error;
mod field_types;
pub mod grpc;
pub mod leader;
pub mod metrics;
pub mod plan;
pub mod reconcile;
pub mod run;
pub mod settings;
pub mod status;

pub use error::{found, is_not_found, Error, Result};
