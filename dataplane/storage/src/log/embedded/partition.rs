//! One partition of the embedded log: its segment files, their recovery on open, appends that
//! leave nothing but acknowledged frames behind, reads and truncation.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::fault::{self, create_dir_durable, sync_dir, AppendFault};
use super::EmbeddedLogOptions;
use crate::error::io_err;
use crate::log::LogEntry;
use crate::{Result, StorageError};

const HEADER: usize = 16;

fn file_name(base: u64) -> String {
    format!("{base:020}.log")
}

fn frame_crc(offset: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn encode(offset: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&frame_crc(offset, payload).to_le_bytes());
    frame.extend_from_slice(&offset.to_le_bytes());
    frame.extend_from_slice(payload);
    frame
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

#[derive(Debug)]
struct SegmentFile {
    base: u64,
    path: PathBuf,
    /// byte position of every frame, in offset order
    positions: Vec<u64>,
    /// length of the acknowledged frames: the file holds exactly these bytes
    len: u64,
}

#[derive(Debug)]
pub(super) struct PartitionLog {
    dir: PathBuf,
    topic: String,
    partition: u32,
    files: Vec<SegmentFile>,
    active: File,
    /// Why appends are refused: an append failed and its bytes could not be cut off, so the file
    /// may end in something that is not an acknowledged frame. Nothing may be appended after
    /// that; a restart's recovery cuts the torn tail.
    poisoned: Option<String>,
    /// failures for the next append, armed by tests only
    pub(super) fault: Option<AppendFault>,
}

impl PartitionLog {
    pub(super) fn open(dir: PathBuf, topic: &str, partition: u32) -> Result<Self> {
        create_dir_durable(&dir)?;
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
            let path = dir.join(file_name(0));
            File::create(&path).map_err(io_err(&path))?;
            sync_dir(&dir)?;
        }
        let mut files = Vec::new();
        let last = bases.len() - 1;
        for (i, base) in bases.into_iter().enumerate() {
            let path = dir.join(file_name(base));
            let (positions, valid_len, problem) = scan(&path, base)?;
            if let Some(reason) = problem {
                // only the newest file can end in a torn frame: an append that failed (and could
                // not be cut back) or a crash mid-append; older files were complete when the
                // next one was started
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
            poisoned: None,
            fault: None,
        })
    }

    fn start(&self) -> u64 {
        self.files[0].base
    }

    pub(super) fn end(&self) -> u64 {
        let last = self.files.last().unwrap();
        last.base + last.positions.len() as u64
    }

    /// Appends one frame and fsyncs it. On failure the file is cut back to its acknowledged
    /// frames before the error is returned; if even that fails, the partition is poisoned.
    pub(super) fn append(&mut self, payload: &[u8], options: &EmbeddedLogOptions) -> Result<u64> {
        let fault = self.fault.take().unwrap_or_default();
        if let Some(reason) = &self.poisoned {
            return Err(StorageError::Backend {
                backend: "embedded log",
                message: format!(
                    "{}/{} refuses appends until the process restarts: {reason}",
                    self.topic, self.partition
                ),
            });
        }
        let offset = self.end();
        if self.files.last().unwrap().len >= options.segment_bytes {
            self.roll(offset)?;
        }
        let frame = encode(offset, payload);
        let acknowledged = self.files.last().unwrap().len;
        if let Err(e) = self.write_durably(&frame, &fault) {
            self.cut_back(acknowledged, &fault);
            return Err(e);
        }
        let file = self.files.last_mut().unwrap();
        file.positions.push(acknowledged);
        file.len += frame.len() as u64;
        Ok(offset)
    }

    fn write_durably(&mut self, frame: &[u8], fault: &AppendFault) -> Result<()> {
        let path = &self.files.last().unwrap().path;
        fault::write(&mut self.active, frame, fault).map_err(io_err(path))?;
        fault::sync_data(&self.active, fault).map_err(io_err(path))
    }

    /// Removes whatever a failed append left after the acknowledged `len` bytes of the active
    /// file (part of a frame, or a whole frame whose fsync failed), so that the next frame
    /// follows the last acknowledged one directly, in memory as on disk.
    fn cut_back(&mut self, len: u64, fault: &AppendFault) {
        let path = &self.files.last().unwrap().path;
        match fault::truncate(&self.active, len, fault) {
            Ok(()) => {
                tracing::warn!(path = %path.display(), len, "append failed; cut the segment back to its acknowledged frames")
            }
            Err(e) => {
                tracing::error!(path = %path.display(), len, error = %e, topic = %self.topic, partition = self.partition,
                    "append failed and the segment could not be cut back; refusing appends to this partition until restart");
                self.poisoned = Some(format!(
                    "a failed append could not be cut off {} at byte {len}: {e}",
                    path.display()
                ));
            }
        }
    }

    /// Starts a new segment file with base offset `base`.
    fn roll(&mut self, base: u64) -> Result<()> {
        let path = self.dir.join(file_name(base));
        // not create_new: an earlier roll may have created the file and failed to sync the
        // directory; such a file is empty
        let active = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let len = active.metadata().map_err(io_err(&path))?.len();
        if len != 0 {
            return Err(StorageError::Corrupt {
                path: path.display().to_string(),
                position: 0,
                reason: format!("a new segment file already holds {len} bytes"),
            });
        }
        sync_dir(&self.dir)?;
        self.active = active;
        self.files.push(SegmentFile {
            base,
            path,
            positions: Vec::new(),
            len: 0,
        });
        Ok(())
    }

    pub(super) fn read(&self, from: u64, max: usize) -> Result<Vec<LogEntry>> {
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

    pub(super) fn truncate_before(&mut self, offset: u64) -> Result<()> {
        while self.files.len() > 1 && self.files[1].base <= offset {
            let f = self.files.remove(0);
            fs::remove_file(&f.path).map_err(io_err(&f.path))?;
            // each removal durable before the next: a crash must not bring back an older file
            // without the ones between it and the rest (recovery would report a gap)
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}
