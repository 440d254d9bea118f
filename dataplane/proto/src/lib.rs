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

/// A protobuf message of the internal API that does not convert to its domain type: a
/// required field is absent, a number is out of range, a `oneof` case or enum value this
/// version does not know. Conversions report it instead of guessing (or panicking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    /// `field` (a path such as `CollectionMeta.schema`) is absent.
    pub fn missing(field: &str) -> Self {
        Self {
            message: format!("{field} is missing"),
        }
    }

    /// `field` holds a value this version cannot use.
    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        Self {
            message: format!("{field} is invalid: {why}"),
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// The value of a required message field.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, DecodeError> {
    value.ok_or_else(|| DecodeError::missing(field))
}
