//! Pluggable storage backends of Quarry.
//!
//! Two traits, each with more than one implementation and one conformance suite
//! ([`testsuite`]) that every implementation must pass:
//! - [`ObjectStore`]: immutable blobs by key (local directory, memory, S3 with feature `s3`).
//! - [`LogStore`]: ordered, durable shard logs addressed by offset (embedded files, memory,
//!   Kafka with feature `kafka`). The offset is Quarry's notion of time within a shard.
//!
//! [`Backends::open`] opens the configured pair; [`KafkaSecurity`] turns SASL/TLS settings
//! into the Kafka client's properties.

mod error;
pub mod log;
pub mod object;
mod open;
pub mod testsuite;

pub use error::{Result, StorageError};
#[cfg(feature = "kafka")]
pub use log::kafka::{KafkaLog, KafkaOptions};
pub use log::kafka_security::{security_protocol, KafkaSecurity, KafkaTls};
pub use log::{embedded::EmbeddedLog, memory::MemoryLog, LogEntry, LogStore};
#[cfg(feature = "s3")]
pub use object::s3::{S3ObjectStore, S3Options};
pub use object::{local::LocalObjectStore, memory::MemoryObjectStore, ObjectInfo, ObjectStore};
pub use open::{Backends, LogBackend, ObjectBackend};
