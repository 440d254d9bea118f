//! The coordinator library of Quarry, free of Kubernetes: hybrid timestamps, id allocation and
//! the catalog. Standalone mode links it in-process; in a cluster the operator runs it.

mod catalog;
mod tso;

pub use catalog::{Catalog, CatalogState, CollectionMeta, CoordError, IndexMeta, PartitionMeta, SegmentMeta};
pub use tso::Tso;
