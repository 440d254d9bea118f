//! The coordinator library of Quarry, free of Kubernetes: hybrid timestamps, id allocation, the
//! catalog and its named operations ([`MetaService`]). Standalone mode links it in-process; in a cluster the operator runs it.

mod catalog;
pub mod meta;
pub mod plan;
pub mod registry;
mod remote;
mod server;
pub mod sweep;
mod tso;
mod wire;

pub use catalog::{
    Catalog, CatalogState, CollectionMeta, CoordError, IndexMeta, PartitionMeta, SegmentMeta,
};
pub use meta::{
    CompactionCommit, Created, FlushCommit, IndexCommit, LocalMeta, MetaService, NewCollection,
    NewIndex,
};
pub use remote::{RemoteMeta, CLUSTER_HEADER};
pub use server::{demands, CoordServer};
pub use tso::Tso;
pub use wire::{from_status, to_status};
