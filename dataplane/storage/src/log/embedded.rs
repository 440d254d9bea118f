//! The embedded log of standalone mode: per partition a directory of segment files
//! `{base_offset:020}.log`, each a sequence of frames
//! `[len: u32 LE][crc32: u32 LE][offset: u64 LE][payload]` (the CRC covers offset and payload).
//! Every append is fsynced before it is acknowledged. On open, a torn frame at the tail of the
//! newest file (a crash mid-write) is cut off; damage anywhere else is reported, never skipped.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::{LogEntry, LogStore};
use crate::error::{blocking, io_err};
use crate::{Result, StorageError};

const HEADER: usize = 16;
const PARTITIONS_FILE: &str = "partitions";

#[derive(Debug, Clone)]
pub struct EmbeddedLogOptions {
    /// A segment file is closed and a new one started when it grows past this size.
    pub segment_bytes: u64,
}

impl Default for EmbeddedLogOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
        }
    }
}

#[derive(Debug)]
struct SegmentFile {
    base: u64,
    path: PathBuf,
    /// byte position of every frame, in offset order
    positions: Vec<u64>,
    len: u64,
}

#[derive(Debug)]
struct PartitionLog {
    dir: PathBuf,
    topic: String,
    partition: u32,
    files: Vec<SegmentFile>,
    active: File,
}

#[derive(Debug)]
pub struct EmbeddedLog {
    root: PathBuf,
    options: EmbeddedLogOptions,
    topics: RwLock<HashMap<String, Vec<Arc<Mutex<PartitionLog>>>>>,
}

fn file_name(base: u64) -> String {
    format!("{base:020}.log")
}

fn frame_crc(offset: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Scans one segment file; returns the frame positions and the length of the valid prefix.
fn scan(path: &Path, base: u64) -> Result<(Vec<u64>, u64, Option<String>)> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path))?;
    let mut positions = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let problem = if data.len() - pos < HEADER {
            Some("truncated frame header".to_string())
        } else {
            let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap());
            let offset = u64::from_le_bytes(data[pos + 8..pos + 16].try_into().unwrap());
            let expected = base + positions.len() as u64;
            if data.len() - pos - HEADER < len {
                Some("truncated frame payload".to_string())
            } else if frame_crc(offset, &data[pos + HEADER..pos + HEADER + len]) != crc {
                Some("checksum mismatch".to_string())
            } else if offset != expected {
                Some(format!("offset {offset} where {expected} was expected"))
            } else {
                positions.push(pos as u64);
                pos += HEADER + len;
                None
            }
        };
        if let Some(reason) = problem {
            return Ok((positions, pos as u64, Some(reason)));
        }
    }
    Ok((positions, pos as u64, None))
}

impl PartitionLog {
    fn open(dir: PathBuf, topic: &str, partition: u32) -> Result<Self> {
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut bases: Vec<u64> = fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".log"))
                    .and_then(|n| n.parse().ok())
            })
            .collect();
        bases.sort_unstable();
        if bases.is_empty() {
            bases.push(0);
            File::create(dir.join(file_name(0))).map_err(io_err(&dir))?;
        }
        let mut files = Vec::new();
        let last = bases.len() - 1;
        for (i, base) in bases.into_iter().enumerate() {
            let path = dir.join(file_name(base));
            let (positions, valid_len, problem) = scan(&path, base)?;
            if let Some(reason) = problem {
                if i != last {
                    return Err(StorageError::Corrupt {
                        path: path.display().to_string(),
                        position: valid_len,
                        reason,
                    });
                }
                tracing::warn!(path = %path.display(), position = valid_len, %reason, "cutting torn tail of log segment");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(valid_len).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
            }
            if let Some(prev) = files.last() {
                let prev: &SegmentFile = prev;
                if prev.base + prev.positions.len() as u64 != base {
                    return Err(StorageError::Corrupt {
                        path: path.display().to_string(),
                        position: 0,
                        reason: "gap between segment files".into(),
                    });
                }
            }
            files.push(SegmentFile {
                base,
                path,
                positions,
                len: valid_len,
            });
        }
        let active_path = &files.last().unwrap().path;
        let active = OpenOptions::new()
            .append(true)
            .open(active_path)
            .map_err(io_err(active_path))?;
        Ok(Self {
            dir,
            topic: topic.to_string(),
            partition,
            files,
            active,
        })
    }

    fn start(&self) -> u64 {
        self.files[0].base
    }

    fn end(&self) -> u64 {
        let last = self.files.last().unwrap();
        last.base + last.positions.len() as u64
    }

    fn append(&mut self, payload: &[u8], options: &EmbeddedLogOptions) -> Result<u64> {
        let offset = self.end();
        if self.files.last().unwrap().len >= options.segment_bytes {
            let path = self.dir.join(file_name(offset));
            self.active = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(io_err(&path))?;
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&self.dir))?;
            self.files.push(SegmentFile {
                base: offset,
                path,
                positions: Vec::new(),
                len: 0,
            });
        }
        let mut frame = Vec::with_capacity(HEADER + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&frame_crc(offset, payload).to_le_bytes());
        frame.extend_from_slice(&offset.to_le_bytes());
        frame.extend_from_slice(payload);
        let file = self.files.last_mut().unwrap();
        self.active.write_all(&frame).map_err(io_err(&file.path))?;
        self.active.sync_data().map_err(io_err(&file.path))?;
        file.positions.push(file.len);
        file.len += frame.len() as u64;
        Ok(offset)
    }

    fn read(&self, from: u64, max: usize) -> Result<Vec<LogEntry>> {
        let (start, end) = (self.start(), self.end());
        if from < start || from > end {
            return Err(StorageError::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: from,
                start,
                end,
            });
        }
        let mut out = Vec::new();
        let mut offset = from;
        let first = self
            .files
            .partition_point(|f| f.base <= from)
            .saturating_sub(1);
        for file in &self.files[first..] {
            if out.len() >= max || offset >= end {
                break;
            }
            let handle = File::open(&file.path).map_err(io_err(&file.path))?;
            while out.len() < max && offset < file.base + file.positions.len() as u64 {
                let i = (offset - file.base) as usize;
                let pos = file.positions[i];
                let next = file.positions.get(i + 1).copied().unwrap_or(file.len);
                let mut buf = vec![0u8; (next - pos) as usize];
                handle
                    .read_exact_at(&mut buf, pos)
                    .map_err(io_err(&file.path))?;
                out.push(LogEntry {
                    offset,
                    payload: Bytes::from(buf).slice(HEADER..),
                });
                offset += 1;
            }
        }
        Ok(out)
    }

    fn truncate_before(&mut self, offset: u64) -> Result<()> {
        while self.files.len() > 1 && self.files[1].base <= offset {
            let f = self.files.remove(0);
            fs::remove_file(&f.path).map_err(io_err(&f.path))?;
        }
        Ok(())
    }
}

impl EmbeddedLog {
    /// Opens (or creates) the log under `root`, recovering every topic found there.
    pub fn open(root: impl Into<PathBuf>, options: EmbeddedLogOptions) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        let mut topics = HashMap::new();
        for entry in fs::read_dir(&root).map_err(io_err(&root))? {
            let entry = entry.map_err(io_err(&root))?;
            let Some(topic) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let meta = entry.path().join(PARTITIONS_FILE);
            let Ok(text) = fs::read_to_string(&meta) else {
                continue;
            };
            let n: u32 = text.trim().parse().map_err(|_| StorageError::Corrupt {
                path: meta.display().to_string(),
                position: 0,
                reason: "bad partition count".into(),
            })?;
            let parts = (0..n)
                .map(|p| {
                    PartitionLog::open(entry.path().join(p.to_string()), &topic, p)
                        .map(|l| Arc::new(Mutex::new(l)))
                })
                .collect::<Result<Vec<_>>>()?;
            topics.insert(topic, parts);
        }
        Ok(Self {
            root,
            options,
            topics: RwLock::new(topics),
        })
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Mutex<PartitionLog>>> {
        self.topics
            .read()
            .get(topic)
            .and_then(|ps| ps.get(partition as usize).cloned())
            .ok_or_else(|| StorageError::NoSuchLog {
                topic: topic.to_string(),
                partition,
            })
    }

    fn topic_dir(&self, topic: &str) -> Result<PathBuf> {
        if topic.is_empty() || topic.contains(['/', '\\']) || topic.starts_with('.') {
            return Err(StorageError::InvalidKey(topic.to_string()));
        }
        Ok(self.root.join(topic))
    }
}

#[async_trait]
impl LogStore for EmbeddedLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        if self.topics.read().contains_key(topic) {
            return Ok(());
        }
        let dir = self.topic_dir(topic)?;
        let (topic_owned, dir2) = (topic.to_string(), dir.clone());
        let parts = blocking(move || {
            let parts = (0..partitions)
                .map(|p| {
                    PartitionLog::open(dir2.join(p.to_string()), &topic_owned, p)
                        .map(|l| Arc::new(Mutex::new(l)))
                })
                .collect::<Result<Vec<_>>>()?;
            // the partition count is written last: a topic without it was never created
            let meta = dir2.join(PARTITIONS_FILE);
            let mut f = File::create(&meta).map_err(io_err(&meta))?;
            f.write_all(partitions.to_string().as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(io_err(&meta))?;
            File::open(&dir2)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&dir2))?;
            Ok(parts)
        })
        .await?;
        self.topics
            .write()
            .entry(topic.to_string())
            .or_insert(parts);
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        let dir = self.topic_dir(topic)?;
        self.topics.write().remove(topic);
        blocking(move || {
            // remove the marker first, so a crash midway leaves no half-topic that looks whole
            let _ = fs::remove_file(dir.join(PARTITIONS_FILE));
            match fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(&dir)(e)),
            }
        })
        .await
    }

    async fn append(&self, topic: &str, partition: u32, payload: Bytes) -> Result<u64> {
        let p = self.partition(topic, partition)?;
        let options = self.options.clone();
        blocking(move || p.lock().append(&payload, &options)).await
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<LogEntry>> {
        let p = self.partition(topic, partition)?;
        blocking(move || p.lock().read(from, max)).await
    }

    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        Ok(self.partition(topic, partition)?.lock().end())
    }

    async fn truncate_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        let p = self.partition(topic, partition)?;
        blocking(move || p.lock().truncate_before(offset)).await
    }
}
