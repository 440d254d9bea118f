//! The file operations of an append, each with an optional injected failure for tests, and the
//! directory fsyncs that make creating a file or directory durable.
//!
//! Production never arms a fault: the cost is one branch on a plain field per file operation,
//! next to a write and an fsync.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::error::io_err;
use crate::Result;

/// Failures to inject into the next append of one partition; a test API (see
/// [`EmbeddedLog::inject_append_fault`](super::EmbeddedLog::inject_append_fault)), not part of
/// the supported interface.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendFault {
    /// the frame write stops after this many bytes (which do reach the file) and fails
    pub write_fails_after: Option<usize>,
    /// the fsync after a complete frame write fails
    pub sync_fails: bool,
    /// cutting the file back after the failed append (truncate + fsync) fails too
    pub truncate_fails: bool,
}

fn injected(op: &str) -> io::Error {
    io::Error::other(format!("injected {op} failure"))
}

/// Writes a whole frame (the file is opened in append mode).
pub(super) fn write(file: &mut File, frame: &[u8], fault: &AppendFault) -> io::Result<()> {
    if let Some(n) = fault.write_fails_after {
        file.write_all(&frame[..n.min(frame.len())])?;
        return Err(injected("write"));
    }
    file.write_all(frame)
}

pub(super) fn sync_data(file: &File, fault: &AppendFault) -> io::Result<()> {
    if fault.sync_fails {
        return Err(injected("fsync"));
    }
    file.sync_data()
}

/// Cuts the file back to `len` bytes, durably.
pub(super) fn truncate(file: &File, len: u64, fault: &AppendFault) -> io::Result<()> {
    if fault.truncate_fails {
        return Err(injected("truncate"));
    }
    file.set_len(len)?;
    file.sync_all()
}

/// Makes the entries of `dir` (files created, renamed or removed in it) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// `create_dir_all` that fsyncs the parent of every directory it creates, so that a directory
/// (and what is later created and synced in it) does not vanish in a crash.
pub(super) fn create_dir_durable(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new(""));
    create_dir_durable(parent)?;
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}
