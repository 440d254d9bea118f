//! One reconciler per kind, and the loop that mirrors collections created through the Milvus
//! API into `Collection` and `Index` resources.

pub mod cluster;
pub mod collection;
pub mod index;
pub mod mirror;
pub mod pool;
