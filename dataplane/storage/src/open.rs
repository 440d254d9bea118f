//! Opening the configured backends: the one place that turns a log and an object store
//! description into open stores, for the `quarry` roles (from their flags and config file) and
//! for the coordinators quarry-operator hosts (from a `QuarryCluster`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::log::embedded::{EmbeddedLog, EmbeddedLogOptions};
#[cfg(feature = "kafka")]
use crate::log::kafka::{KafkaLog, KafkaOptions};
use crate::object::local::LocalObjectStore;
#[cfg(feature = "s3")]
use crate::object::s3::{S3ObjectStore, S3Options};
use crate::{LogStore, ObjectStore, Result};

/// Which log to open.
#[derive(Debug, Clone)]
pub enum LogBackend {
    /// segmented files in a directory
    Embedded(PathBuf),
    #[cfg(feature = "kafka")]
    Kafka(KafkaOptions),
}

/// Which object store to open.
#[derive(Debug, Clone)]
pub enum ObjectBackend {
    /// a local directory
    Local(PathBuf),
    #[cfg(feature = "s3")]
    S3 {
        options: S3Options,
        /// create the bucket when it is missing (development)
        create_bucket: bool,
    },
}

/// An open log and object store.
#[derive(Debug, Clone)]
pub struct Backends {
    pub log: Arc<dyn LogStore>,
    pub store: Arc<dyn ObjectStore>,
}

impl Backends {
    /// Opens both backends (the object store first).
    pub async fn open(log: &LogBackend, store: &ObjectBackend) -> Result<Self> {
        let store = store.open().await?;
        let log = log.open()?;
        Ok(Self { log, store })
    }
}

impl LogBackend {
    pub fn open(&self) -> Result<Arc<dyn LogStore>> {
        Ok(match self {
            LogBackend::Embedded(dir) => {
                Arc::new(EmbeddedLog::open(dir, EmbeddedLogOptions::default())?)
            }
            #[cfg(feature = "kafka")]
            LogBackend::Kafka(options) => Arc::new(KafkaLog::connect(options.clone())?),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            LogBackend::Embedded(_) => "embedded",
            #[cfg(feature = "kafka")]
            LogBackend::Kafka(_) => "kafka",
        }
    }
}

impl ObjectBackend {
    pub async fn open(&self) -> Result<Arc<dyn ObjectStore>> {
        Ok(match self {
            ObjectBackend::Local(dir) => Arc::new(LocalObjectStore::open(dir)?),
            #[cfg(feature = "s3")]
            ObjectBackend::S3 {
                options,
                create_bucket,
            } => {
                let s3 = S3ObjectStore::new(options.clone())?;
                if *create_bucket {
                    s3.ensure_bucket().await?;
                }
                Arc::new(s3)
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ObjectBackend::Local(_) => "local",
            #[cfg(feature = "s3")]
            ObjectBackend::S3 { .. } => "s3",
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn local_kinds_open_under_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        let b = Backends::open(
            &LogBackend::Embedded(dir.path().join("log")),
            &ObjectBackend::Local(dir.path().join("objects")),
        )
        .await
        .unwrap();
        b.log.create_topic("t", 1).await.unwrap();
        assert_eq!(b.log.append("t", 0, Bytes::from("x")).await.unwrap(), 0);
        b.store.put("k", Bytes::from("v")).await.unwrap();
        assert!(dir.path().join("log").is_dir());
        assert!(dir.path().join("objects").is_dir());
    }
}
