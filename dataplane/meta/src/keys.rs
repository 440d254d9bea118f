//! The layout of Quarry's objects in the object store and of its log topics: one place that
//! writes the names (the engine's flush, compaction and index builds, the catalog) and reads
//! them back (the garbage sweep, a collection's drop).
//!
//! ```text
//! catalog/manifest-{version:020}.json                      catalog manifests
//! collections/{c}/segments/{s}/data.parquet                a sealed segment's rows
//! collections/{c}/segments/{s}/deletes-{n}.json            rows deleted from it later
//! collections/{c}/segments/{s}/index-{i}-{ts}.usearch      index i of it, built at ts
//! topic collection-{c}                                     the collection's log
//! ```

/// Where the catalog manifests live; the newest version sorts last.
pub const CATALOG_PREFIX: &str = "catalog/manifest-";
/// Everything under it belongs to a collection (and goes with its drop).
pub const DATA_PREFIX: &str = "collections/";

pub fn manifest(version: u64) -> String {
    format!("{CATALOG_PREFIX}{version:020}.json")
}

/// The log topic of a collection (one partition per shard).
pub fn topic(collection: i64) -> String {
    format!("collection-{collection}")
}

/// The prefix of every file of a collection.
pub fn collection_prefix(collection: i64) -> String {
    format!("{DATA_PREFIX}{collection}/")
}

fn segment_prefix(collection: i64, segment: i64) -> String {
    format!("{DATA_PREFIX}{collection}/segments/{segment}")
}

/// A sealed segment's rows (Parquet).
pub fn segment_data(collection: i64, segment: i64) -> String {
    format!("{}/data.parquet", segment_prefix(collection, segment))
}

/// Rows of a sealed segment deleted after it was sealed, as of log offset `version`.
pub fn segment_deletes(collection: i64, segment: i64, version: u64) -> String {
    format!(
        "{}/deletes-{version}.json",
        segment_prefix(collection, segment)
    )
}

/// A vector index file of a segment. Every build gets a name of its own (`build_ts`): a build
/// that died before its commit leaves an orphan the garbage sweep may delete at any time, so a
/// later build of the same index must not reuse its name.
pub fn index_file(collection: i64, segment: i64, index: i64, build_ts: u64) -> String {
    format!(
        "{}/index-{index}-{build_ts}.usearch",
        segment_prefix(collection, segment)
    )
}

/// `collections/{c}/...` -> (c, the rest)
pub fn split_collection(key: &str) -> Option<(i64, &str)> {
    let rest = key.strip_prefix(DATA_PREFIX)?;
    let (id, rest) = rest.split_once('/')?;
    Some((id.parse().ok()?, rest))
}

/// The rest of a collection's key (see [`split_collection`]) -> the segment id, when it names a
/// file kind the engine writes: `segments/{s}/data.parquet`, `deletes-{n}.json`,
/// `index-{i}-{ts}.usearch` (or `index-{i}.usearch`, written before builds had names of their
/// own).
pub fn known_segment_file(rest: &str) -> Option<i64> {
    let rest = rest.strip_prefix("segments/")?;
    let (segment, file) = rest.split_once('/')?;
    let segment = segment.parse().ok()?;
    let numbered = |prefix: &str, suffix: &str, parts: usize| {
        file.strip_prefix(prefix)
            .and_then(|f| f.strip_suffix(suffix))
            .is_some_and(|n| {
                let numbers: Vec<&str> = n.split('-').collect();
                numbers.len() <= parts
                    && numbers
                        .iter()
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    let known = file == "data.parquet"
        || numbered("deletes-", ".json", 1)
        || numbered("index-", ".usearch", 2);
    known.then_some(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_names_read_back() {
        for key in [
            segment_data(7, 10),
            segment_deletes(7, 10, 55),
            index_file(7, 10, 3, 1234),
        ] {
            let (c, rest) = split_collection(&key).unwrap();
            assert_eq!(c, 7);
            assert_eq!(known_segment_file(rest), Some(10), "{key}");
            assert!(key.starts_with(&collection_prefix(7)));
        }
        assert!(manifest(2) > manifest(1));
        assert!(manifest(10).starts_with(CATALOG_PREFIX));
        assert_eq!(known_segment_file("segments/10/stats.json"), None);
        assert_eq!(known_segment_file("segments/10/deletes-x.json"), None);
        assert_eq!(split_collection("collectionsX/7/a"), None);
    }
}
