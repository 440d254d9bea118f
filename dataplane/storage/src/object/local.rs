use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use super::{check_key, ObjectInfo, ObjectStore};
use crate::error::{blocking, io_err};
use crate::{Result, StorageError};

/// An object store in a local directory. Every write goes to a temporary file that is fsynced
/// and then renamed (or hard-linked, for `put_if_absent`) into place, so readers never see a
/// partial object and a crash leaves either the old state or the new one.
#[derive(Debug)]
pub struct LocalObjectStore {
    root: PathBuf,
    tmp_seq: AtomicU64,
}

const TMP_DIR: &str = ".tmp";

impl LocalObjectStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let tmp = root.join(TMP_DIR);
        // leftovers of writes interrupted by a crash
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        Ok(Self {
            root,
            tmp_seq: AtomicU64::new(0),
        })
    }

    fn write_tmp(&self, data: &[u8]) -> Result<PathBuf> {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join(TMP_DIR)
            .join(format!("{}-{n}", std::process::id()));
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        Ok(tmp)
    }

    fn target(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        let path = self.root.join(key);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        Ok(path)
    }
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err(parent))?;
    }
    Ok(())
}

/// Collects (key, path) of the files below `dir` whose key starts with `prefix`.
fn list_into(
    root: &Path,
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .expect("below root")
            .to_string_lossy()
            .replace('\\', "/");
        if rel == TMP_DIR {
            continue;
        }
        let is_dir = entry.file_type().map_err(io_err(&path))?.is_dir();
        if is_dir {
            let as_prefix = format!("{rel}/");
            if as_prefix.starts_with(prefix) || prefix.starts_with(&as_prefix) {
                list_into(root, &path, prefix, out)?;
            }
        } else if rel.starts_with(prefix) {
            out.push((rel, path));
        }
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for LocalObjectStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let target = self.target(key)?;
        let tmp = self.write_tmp(&data)?;
        blocking(move || {
            fs::rename(&tmp, &target).map_err(io_err(&target))?;
            sync_parent(&target)
        })
        .await
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<()> {
        let target = self.target(key)?;
        let tmp = self.write_tmp(&data)?;
        let key = key.to_string();
        blocking(move || {
            // link(2) fails when the target exists: the atomic "if none match" of a filesystem
            let linked = fs::hard_link(&tmp, &target);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => sync_parent(&target),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(StorageError::AlreadyExists(key))
                }
                Err(e) => Err(io_err(&target)(e)),
            }
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        check_key(key)?;
        let path = self.root.join(key);
        let key = key.to_string();
        blocking(move || match fs::read(&path) {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::NotFound(key)),
            Err(e) => Err(io_err(&path)(e)),
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            let mut out = Vec::new();
            list_into(&root, &root, &prefix, &mut out)?;
            let mut keys: Vec<String> = out.into_iter().map(|(k, _)| k).collect();
            keys.sort();
            Ok(keys)
        })
        .await
    }

    async fn list_info(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            let mut found = Vec::new();
            list_into(&root, &root, &prefix, &mut found)?;
            let mut out = Vec::with_capacity(found.len());
            for (key, path) in found {
                let meta = match fs::metadata(&path) {
                    Ok(m) => m,
                    // deleted since the directory was read
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_err(&path)(e)),
                };
                out.push(ObjectInfo {
                    key,
                    size: meta.len(),
                    modified: meta.modified().unwrap_or_else(|_| SystemTime::now()),
                });
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let path = self.root.join(key);
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        })
        .await
    }
}
