//! The Quarry operator: it hosts the coordinator of every `QuarryCluster` it manages (the
//! internal Coord gRPC service, one catalog per cluster in the cluster's S3 bucket) and
//! reconciles Quarry's custom resources into Kubernetes objects and catalog changes.

pub mod fake;
pub mod plan;
pub mod settings;
