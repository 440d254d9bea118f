//! The Milvus wire contract, as far as Quarry serves it: prost messages and the tonic server
//! trait for `milvus.proto.milvus.MilvusService`, generated from our own `.proto` text in
//! `proto/` into `src/gen/` (committed; `tests/generated.rs` checks it for drift).

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

pub use milvus::proto::{common, milvus as service, schema};
