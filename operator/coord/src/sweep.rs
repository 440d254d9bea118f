//! The garbage sweep: removes files under `collections/` that the catalog does not reference
//! once they are older than a grace period. Such files are left by a crash between an upload
//! and its catalog commit (a flush, a compaction, an index build) and by an interrupted drop of
//! a collection or an index. It runs where the catalog is owned: standalone, the coordinator,
//! and each coordinator quarry-operator hosts.
//!
//! One pass: list `collections/` with modification times, *then* read the newest catalog
//! manifest from the store, and delete what [`plan`] picks. Reading the catalog after the
//! listing means a file committed in between is seen as referenced; a file uploaded and not yet
//! committed is protected by the grace period (measured from the file's last write). The
//! catalog manifests (`catalog/`) are never listed, let alone deleted.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use quarry_storage::{ObjectInfo, ObjectStore};
use quarry_types::env;

use quarry_meta::keys::{known_segment_file, split_collection};
use quarry_meta::{Catalog, MetaError};

/// Where segment, delete and index files live: `collections/{id}/segments/{segment}/...`.
pub use quarry_meta::keys::DATA_PREFIX;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60 * 60);

static DELETED_FILES: AtomicU64 = AtomicU64::new(0);
static DELETED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Files the sweeps of this process deleted so far (for a metrics endpoint).
pub fn deleted_files_total() -> u64 {
    DELETED_FILES.load(Ordering::Relaxed)
}

/// Bytes the sweeps of this process deleted so far.
pub fn deleted_bytes_total() -> u64 {
    DELETED_BYTES.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOptions {
    /// time between passes; zero disables the sweep
    pub interval: Duration,
    /// an unreferenced file is deleted only once it is at least this old
    pub grace: Duration,
}

impl Default for SweepOptions {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            grace: DEFAULT_GRACE,
        }
    }
}

impl SweepOptions {
    /// The defaults, overridden by `QUARRY_GC_INTERVAL_SECONDS` (0 disables the sweep) and
    /// `QUARRY_GC_GRACE_SECONDS`.
    pub fn from_env() -> Self {
        let mut o = Self::default();
        if let Some(s) = env_seconds(env::GC_INTERVAL_SECONDS) {
            o.interval = s;
        }
        if let Some(s) = env_seconds(env::GC_GRACE_SECONDS) {
            o.grace = s;
        }
        o
    }
}

fn env_seconds(name: &str) -> Option<Duration> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse::<u64>() {
        Ok(s) => Some(Duration::from_secs(s)),
        Err(_) => {
            tracing::warn!(variable = name, value = %v, "not a whole number of seconds; using the default");
            None
        }
    }
}

/// What the sweep needs to know of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogView {
    /// object keys the catalog references
    pub referenced: HashSet<String>,
    /// ids of the collections in the catalog
    pub live: BTreeSet<i64>,
    /// ids below this were handed out: a file of a larger collection or segment id was written
    /// by someone who saw a newer catalog than this one
    pub next_id: i64,
}

impl CatalogView {
    pub fn of(catalog: &Catalog) -> Self {
        let snap = catalog.snapshot();
        Self {
            referenced: catalog.referenced_keys().into_keys().collect(),
            live: snap.collections.keys().copied().collect(),
            next_id: snap.next_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// in a collection of the catalog, referenced by none of its segments
    Orphan,
    /// in a collection the catalog no longer has
    DroppedCollection,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Orphan => "orphan",
            Reason::DroppedCollection => "dropped_collection",
        }
    }
}

/// A file [`plan`] chose for deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbage {
    pub key: String,
    pub collection: i64,
    pub reason: Reason,
    pub size: u64,
    pub age: Duration,
}

/// Picks the files to delete: under [`DATA_PREFIX`], not referenced by the catalog, and at
/// least `grace` old at `now`. Besides, it keeps
/// - anything whose path it cannot read as `collections/{id}/...`;
/// - files of collection or segment ids at or above the catalog's `next_id` (the catalog read
///   is older than the file's writer: never delete on a stale catalog);
/// - in collections the catalog has, files other than the ones the engine writes
///   (`segments/{s}/data.parquet`, `deletes-{n}.json`, `index-{i}-{ts}.usearch`): a file kind
///   this code does not know may be referenced in a way it does not know. A dropped
///   collection's directory goes entirely, as the drop itself would have done.
pub fn plan(
    objects: &[ObjectInfo],
    catalog: &CatalogView,
    now: SystemTime,
    grace: Duration,
) -> Vec<Garbage> {
    let mut out = Vec::new();
    for o in objects {
        if catalog.referenced.contains(&o.key) {
            continue;
        }
        let Some((collection, rest)) = split_collection(&o.key) else {
            continue;
        };
        if collection >= catalog.next_id {
            continue;
        }
        // a time in the future (clock skew) counts as new
        let Ok(age) = now.duration_since(o.modified) else {
            continue;
        };
        if age < grace {
            continue;
        }
        let reason = if catalog.live.contains(&collection) {
            match known_segment_file(rest) {
                Some(segment) if segment < catalog.next_id => Reason::Orphan,
                _ => continue,
            }
        } else {
            if matches!(known_segment_file(rest), Some(segment) if segment >= catalog.next_id) {
                continue;
            }
            Reason::DroppedCollection
        };
        out.push(Garbage {
            key: o.key.clone(),
            collection,
            reason,
            size: o.size,
            age,
        });
    }
    out
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// files under the data prefix
    pub listed: usize,
    /// the catalog version the pass decided on
    pub catalog_version: u64,
    pub deleted: Vec<String>,
    pub deleted_bytes: u64,
    /// deletions that failed (retried next pass)
    pub failed: usize,
}

/// Sweeps one object store; see the module documentation.
#[derive(Debug, Clone)]
pub struct Sweeper {
    store: Arc<dyn ObjectStore>,
    options: SweepOptions,
    /// for logs: whose store this is (a cluster's name in the operator)
    name: String,
}

impl Sweeper {
    pub fn new(store: Arc<dyn ObjectStore>, options: SweepOptions) -> Self {
        Self {
            store,
            options,
            name: String::new(),
        }
    }

    /// Names the store in log lines (the operator: the cluster's `namespace/name`).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn options(&self) -> SweepOptions {
        self.options
    }

    /// One pass. Any failure to list or to read the catalog deletes nothing.
    pub async fn sweep_once(&self) -> Result<SweepReport, MetaError> {
        let listed = self.store.list_info(DATA_PREFIX).await?;
        // after the listing: a file committed since it is referenced here
        let catalog = Catalog::open(self.store.clone()).await?;
        let view = CatalogView::of(&catalog);
        let mut report = SweepReport {
            listed: listed.len(),
            catalog_version: catalog.snapshot().version,
            ..Default::default()
        };
        for g in plan(&listed, &view, SystemTime::now(), self.options.grace) {
            match self.store.delete(&g.key).await {
                Ok(()) => {
                    tracing::info!(
                        store = %self.name,
                        key = %g.key,
                        collection = g.collection,
                        reason = g.reason.as_str(),
                        bytes = g.size,
                        age_secs = g.age.as_secs(),
                        catalog_version = report.catalog_version,
                        "garbage sweep deleted an unreferenced file"
                    );
                    DELETED_FILES.fetch_add(1, Ordering::Relaxed);
                    DELETED_BYTES.fetch_add(g.size, Ordering::Relaxed);
                    report.deleted_bytes += g.size;
                    report.deleted.push(g.key);
                }
                Err(e) => {
                    tracing::warn!(store = %self.name, key = %g.key, error = %e, "garbage sweep could not delete a file");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Runs a pass every `interval` (the first one interval after the start) until the
    /// returned handle is dropped; `None` when the interval is zero (sweep disabled).
    pub fn spawn(self) -> Option<SweepTask> {
        if self.options.interval.is_zero() {
            tracing::info!(store = %self.name, "garbage sweep disabled");
            return None;
        }
        tracing::info!(
            store = %self.name,
            interval_secs = self.options.interval.as_secs(),
            grace_secs = self.options.grace.as_secs(),
            "garbage sweep started"
        );
        let handle = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + self.options.interval,
                self.options.interval,
            );
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.sweep_once().await {
                    Ok(r) => tracing::debug!(
                        store = %self.name,
                        listed = r.listed,
                        deleted = r.deleted.len(),
                        bytes = r.deleted_bytes,
                        failed = r.failed,
                        catalog_version = r.catalog_version,
                        "garbage sweep pass done"
                    ),
                    Err(e) => {
                        tracing::warn!(store = %self.name, error = %e, "garbage sweep pass failed; retrying next interval")
                    }
                }
            }
        });
        Some(SweepTask(handle))
    }
}

/// The running sweep loop; dropping it stops the loop.
#[derive(Debug)]
pub struct SweepTask(tokio::task::JoinHandle<()>);

impl Drop for SweepTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn obj(key: &str, age: Duration) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size: 10,
            modified: now() - age,
        }
    }

    fn view(referenced: &[&str], live: &[i64]) -> CatalogView {
        CatalogView {
            referenced: referenced.iter().map(|s| s.to_string()).collect(),
            live: live.iter().copied().collect(),
            next_id: 1000,
        }
    }

    fn keys(g: &[Garbage]) -> Vec<&str> {
        g.iter().map(|g| g.key.as_str()).collect()
    }

    #[test]
    fn unreferenced_old_files_go_referenced_and_young_ones_stay() {
        let objects = [
            obj("collections/7/segments/10/data.parquet", 2 * HOUR),
            obj("collections/7/segments/10/deletes-55.json", 2 * HOUR),
            obj("collections/7/segments/10/index-3.usearch", 2 * HOUR),
            // orphans of a crashed flush, an old delete file, a crashed index build
            obj("collections/7/segments/11/data.parquet", 2 * HOUR),
            obj("collections/7/segments/10/deletes-44.json", 2 * HOUR),
            obj("collections/7/segments/10/index-4-77.usearch", 2 * HOUR),
            // just uploaded, not committed yet
            obj(
                "collections/7/segments/12/data.parquet",
                Duration::from_secs(60),
            ),
            obj("collections/7/segments/10/index-5.usearch", Duration::ZERO),
        ];
        let cat = view(
            &[
                "collections/7/segments/10/data.parquet",
                "collections/7/segments/10/deletes-55.json",
                "collections/7/segments/10/index-3.usearch",
            ],
            &[7],
        );
        let g = plan(&objects, &cat, now(), HOUR);
        assert_eq!(
            keys(&g),
            vec![
                "collections/7/segments/11/data.parquet",
                "collections/7/segments/10/deletes-44.json",
                "collections/7/segments/10/index-4-77.usearch",
            ]
        );
        assert!(g
            .iter()
            .all(|g| g.reason == Reason::Orphan && g.collection == 7));
        assert_eq!(g[0].age, 2 * HOUR);
        // exactly the grace period old is old enough; a second less is not
        let edge = [
            obj("collections/7/segments/11/data.parquet", HOUR),
            obj(
                "collections/7/segments/12/data.parquet",
                HOUR - Duration::from_secs(1),
            ),
        ];
        assert_eq!(
            keys(&plan(&edge, &cat, now(), HOUR)),
            vec!["collections/7/segments/11/data.parquet"]
        );
        // grace zero: every unreferenced file
        assert_eq!(plan(&objects, &cat, now(), Duration::ZERO).len(), 5);
    }

    #[test]
    fn manifests_and_other_prefixes_stay() {
        let old = 100 * HOUR;
        let objects = [
            obj("catalog/manifest-00000000000000000001.json", old),
            obj("catalog/manifest-00000000000000000002.json", old),
            obj("collectionsX/7/segments/1/data.parquet", old),
            obj("other/7/segments/1/data.parquet", old),
            obj(".tmp/123-4", old),
            obj("collections/notanid/segments/1/data.parquet", old),
            obj("collections/7", old),
        ];
        assert!(plan(&objects, &view(&[], &[7]), now(), HOUR).is_empty());
        assert!(plan(&objects, &view(&[], &[]), now(), Duration::ZERO).is_empty());
    }

    #[test]
    fn dropped_collections_go_after_the_grace_period() {
        let objects = [
            obj("collections/8/segments/20/data.parquet", 2 * HOUR),
            obj("collections/8/segments/20/index-9.usearch", 2 * HOUR),
            obj("collections/8/anything-else", 2 * HOUR),
            obj(
                "collections/8/segments/21/data.parquet",
                Duration::from_secs(5),
            ),
            obj("collections/7/segments/10/data.parquet", 2 * HOUR),
        ];
        let cat = view(&["collections/7/segments/10/data.parquet"], &[7]);
        let g = plan(&objects, &cat, now(), HOUR);
        assert_eq!(
            keys(&g),
            vec![
                "collections/8/segments/20/data.parquet",
                "collections/8/segments/20/index-9.usearch",
                "collections/8/anything-else",
            ]
        );
        assert!(g
            .iter()
            .all(|g| g.reason == Reason::DroppedCollection && g.collection == 8));
        let later = now() + HOUR;
        assert_eq!(plan(&objects, &cat, later, HOUR).len(), 4);
    }

    #[test]
    fn unknown_files_of_live_collections_and_ids_beyond_the_catalog_stay() {
        let old = 100 * HOUR;
        let objects = [
            // kinds of files this code does not know, in a live collection
            obj("collections/7/segments/10/stats.json", old),
            obj("collections/7/segments/10/deletes-x.json", old),
            obj("collections/7/schema.json", old),
            // ids the catalog read has not handed out: it is older than the writer
            obj("collections/1000/segments/5/data.parquet", old),
            obj("collections/7/segments/1000/data.parquet", old),
            obj("collections/8/segments/1001/data.parquet", old),
        ];
        assert!(plan(&objects, &view(&[], &[7]), now(), HOUR).is_empty());
        // an empty catalog (never committed: next_id 0) protects everything
        let empty = CatalogView::default();
        let all = [obj("collections/7/segments/10/data.parquet", old)];
        assert!(plan(&all, &empty, now(), Duration::ZERO).is_empty());
    }

    #[test]
    fn files_from_the_future_stay() {
        let objects = [ObjectInfo {
            key: "collections/7/segments/11/data.parquet".into(),
            size: 1,
            modified: now() + HOUR,
        }];
        assert!(plan(&objects, &view(&[], &[7]), now(), Duration::ZERO).is_empty());
    }

    #[test]
    fn options_from_the_environment() {
        // one test touches these variables, so no other test races it
        std::env::set_var("QUARRY_GC_GRACE_SECONDS", "5");
        std::env::set_var("QUARRY_GC_INTERVAL_SECONDS", "bogus");
        let o = SweepOptions::from_env();
        std::env::remove_var("QUARRY_GC_GRACE_SECONDS");
        std::env::remove_var("QUARRY_GC_INTERVAL_SECONDS");
        assert_eq!(o.grace, Duration::from_secs(5));
        assert_eq!(o.interval, DEFAULT_INTERVAL);
        assert_eq!(SweepOptions::from_env(), SweepOptions::default());
    }
}
