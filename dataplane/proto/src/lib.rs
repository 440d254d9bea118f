//! The Milvus wire contract, as far as Quarry serves it: prost messages and the tonic server
//! trait for `milvus.proto.milvus.MilvusService`, generated from our own `.proto` text in
//! `proto/` into `src/gen/` (committed; `tests/generated.rs` checks it for drift). Also the
//! internal API between cluster roles (`internal`: Coord and Worker services and clients).

#![allow(clippy::all, missing_docs)]

pub mod milvus {
    pub mod proto {
        pub mod common {
            include!("gen/milvus.proto.common.rs");
        }
        pub mod schema {
            include!("gen/milvus.proto.schema.rs");
        }
        pub mod milvus {
            include!("gen/milvus.proto.milvus.rs");
        }
    }
}

pub mod quarry {
    pub mod internal {
        pub mod v1 {
            include!("gen/quarry.internal.v1.rs");
        }
    }
}

pub use milvus::proto::{common, milvus as service, schema};
/// Quarry's internal API between cluster roles.
pub use quarry::internal::v1 as internal;
