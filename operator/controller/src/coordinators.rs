//! The coordinators the operator hosts: one per `QuarryCluster`, each with its own catalog in
//! the cluster's object store, its node registry and placement, and the cluster's log (the
//! operator creates and deletes the topics of collections it creates and drops).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;
use quarry_coord::sweep::{SweepOptions, SweepTask, Sweeper};
use quarry_coord::CoordServer;
use quarry_meta::{Catalog, LocalMeta};
use quarry_storage::{LogStore, MemoryLog, MemoryObjectStore, ObjectStore};

use crate::settings::{Credentials, Settings};
use crate::{Error, Result};

/// A cluster's log and object store.
pub type Storage = quarry_storage::Backends;

/// Opens a cluster's storage: Kafka and S3 in production, memory in tests.
#[async_trait]
pub trait Backends: Send + Sync + 'static {
    async fn open(&self, settings: &Settings, creds: &Credentials) -> Result<Storage>;
}

/// Kafka (rdkafka) and S3 (aws-sdk-s3), as the cluster's pods use them.
pub struct RemoteBackends;

#[async_trait]
impl Backends for RemoteBackends {
    async fn open(&self, settings: &Settings, creds: &Credentials) -> Result<Storage> {
        let (log, store) = settings.backends(creds);
        Ok(Storage::open(&log, &store).await?)
    }
}

/// One in-memory log and object store per cluster, kept across re-opens (tests; a "restarted
/// operator" in a test finds its catalogs again).
#[derive(Default)]
pub struct MemoryBackends {
    clusters: parking_lot::Mutex<BTreeMap<String, MemoryPair>>,
}

type MemoryPair = (Arc<MemoryLog>, Arc<MemoryObjectStore>);

#[async_trait]
impl Backends for MemoryBackends {
    async fn open(&self, settings: &Settings, _: &Credentials) -> Result<Storage> {
        let mut all = self.clusters.lock();
        let (log, store) = all
            .entry(settings.key.clone())
            .or_insert_with(|| {
                (
                    Arc::new(MemoryLog::new()),
                    Arc::new(MemoryObjectStore::new()),
                )
            })
            .clone();
        Ok(Storage { log, store })
    }
}

impl Hosted {
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }
}

/// A hosted coordinator.
pub struct Hosted {
    pub meta: Arc<LocalMeta>,
    pub server: Arc<CoordServer>,
    pub log: Arc<dyn LogStore>,
    pub store: Arc<dyn ObjectStore>,
    settings: Settings,
    creds: Credentials,
    /// the garbage sweep of the cluster's object store; stops with the last reference
    _sweep: Option<SweepTask>,
}

pub struct Coordinators {
    hosted: RwLock<BTreeMap<String, Arc<Hosted>>>,
    backends: Arc<dyn Backends>,
    lease: Duration,
    warmup: Option<Duration>,
}

impl Coordinators {
    /// `lease`: how long a node may miss heartbeats before its shards move.
    pub fn new(backends: Arc<dyn Backends>, lease: Duration) -> Self {
        Self {
            hosted: RwLock::new(BTreeMap::new()),
            backends,
            lease,
            warmup: None,
        }
    }

    /// How long a new coordinator only records what nodes serve before placing shards
    /// (default: see `CoordServer`); tests that start from nothing use zero.
    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.warmup = Some(warmup);
        self
    }

    /// Hosts the coordinator of a cluster (idempotent); re-opens it when the storage settings
    /// or credentials changed. The catalog is loaded from the object store.
    pub async fn host(&self, settings: &Settings, creds: &Credentials) -> Result<Arc<Hosted>> {
        if let Some(h) = self.get(&settings.key) {
            if h.settings == *settings && h.creds == *creds {
                return Ok(h);
            }
        }
        let storage = self.backends.open(settings, creds).await?;
        let catalog = Catalog::open(storage.store.clone())
            .await
            .map_err(|e| Error::Other(format!("opening the catalog of {}: {e}", settings.key)))?;
        let meta = Arc::new(LocalMeta::new(catalog));
        let mut server = CoordServer::new(meta.clone(), self.lease);
        if let Some(w) = self.warmup {
            server = server.with_warmup(w);
        }
        let server = Arc::new(server);
        let sweep = Sweeper::new(storage.store.clone(), SweepOptions::from_env())
            .named(settings.key.clone())
            .spawn();
        let hosted = Arc::new(Hosted {
            meta,
            server,
            log: storage.log,
            store: storage.store,
            settings: settings.clone(),
            creds: creds.clone(),
            _sweep: sweep,
        });
        tracing::info!(cluster = %settings.key, "hosting the cluster's coordinator");
        self.hosted
            .write()
            .insert(settings.key.clone(), hosted.clone());
        Ok(hosted)
    }

    /// The hosted cluster whose internal token is `token` (compared in constant time).
    pub fn by_token(&self, token: &[u8]) -> Option<(String, Arc<Hosted>)> {
        self.hosted
            .read()
            .iter()
            .find(|(_, h)| {
                h.creds
                    .internal_token
                    .as_ref()
                    .is_some_and(|t| t.matches(token))
            })
            .map(|(k, h)| (k.clone(), h.clone()))
    }

    pub fn get(&self, key: &str) -> Option<Arc<Hosted>> {
        self.hosted.read().get(key).cloned()
    }

    /// Stops serving a cluster whose resource is gone (its data stays in its storage).
    pub fn unhost(&self, key: &str) {
        if self.hosted.write().remove(key).is_some() {
            tracing::info!(cluster = %key, "no longer hosting the cluster's coordinator");
        }
    }

    pub fn keys(&self) -> Vec<String> {
        self.hosted.read().keys().cloned().collect()
    }
}
