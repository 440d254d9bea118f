//! The audit log (off unless `--audit-log` names a file): one JSON line per data-definition
//! (DDL) and access-control (DCL) request, per refused login and per request refused for want
//! of a privilege, and per login (`Connect`). Data requests that pass (insert, search, ...)
//! are not audited. Lines are handed to one writer thread through a bounded queue, so a
//! request never waits on the disk; when the queue is full the line is dropped, counted and
//! reported in the process log (at 1, 2, 4, 8, ... lines dropped).
//!
//! A line: `{"ts_ms":..,"kind":"ddl"|"dcl"|"login"|"auth"|"denied","rpc":"CreateCollection",
//! "user":"alice","db":"default","object":"books","ok":true,"code":0,"reason":""}`.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;

/// Lines waiting for the writer at most.
const QUEUE: usize = 8192;
/// Bytes of a name kept in a line (names are bounded already; this keeps lines short).
const MAX_FIELD: usize = 256;

struct Sink {
    tx: SyncSender<String>,
    dropped: AtomicU64,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Opens (appends to) the audit file and starts its writer; called once at start.
pub fn open(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("audit-log".into())
        .spawn(move || write_lines(file, rx))
        .context("starting the audit log writer")?;
    let sink = Sink {
        tx,
        dropped: AtomicU64::new(0),
    };
    if SINK.set(sink).is_err() {
        anyhow::bail!("the audit log is opened once");
    }
    tracing::info!(path = %path.display(), "audit log on");
    Ok(())
}

fn write_lines(file: std::fs::File, rx: Receiver<String>) {
    let mut out = std::io::BufWriter::new(file);
    while let Ok(line) = rx.recv() {
        let mut batch = Some(line);
        while let Some(line) = batch {
            if let Err(e) = writeln!(out, "{line}") {
                tracing::error!(error = %e, "writing the audit log");
            }
            batch = rx.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            tracing::error!(error = %e, "writing the audit log");
        }
    }
}

/// What an audited request was, by its RPC name: `None` for requests not audited when they
/// pass (reads and data).
pub fn kind_of(rpc: &str) -> Option<&'static str> {
    const DCL: [&str; 11] = [
        "CreateCredential",
        "UpdateCredential",
        "DeleteCredential",
        "CreateRole",
        "DropRole",
        "OperateUserRole",
        "OperatePrivilege",
        "OperatePrivilegeV2",
        "CreatePrivilegeGroup",
        "DropPrivilegeGroup",
        "OperatePrivilegeGroup",
    ];
    const DDL_PREFIXES: [&str; 6] = ["Create", "Drop", "Alter", "Rename", "Load", "Release"];
    if DCL.contains(&rpc) {
        Some("dcl")
    } else if rpc == "Connect" {
        Some("login")
    } else if DDL_PREFIXES.iter().any(|p| rpc.starts_with(p))
        || matches!(rpc, "Flush" | "ManualCompaction")
    {
        Some("ddl")
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Event<'a> {
    pub kind: &'a str,
    pub rpc: &'a str,
    pub user: &'a str,
    pub db: &'a str,
    pub object: &'a str,
    pub ok: bool,
    pub code: i32,
    pub reason: &'a str,
}

fn cut(s: &str) -> &str {
    &s[..s.floor_char_boundary(MAX_FIELD)]
}

/// The line of an event (JSON, names cut to a bounded length).
pub fn line(e: &Event<'_>) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        ts_ms: u128,
        #[serde(flatten)]
        event: Event<'a>,
    }
    let ts_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let event = Event {
        user: cut(e.user),
        db: cut(e.db),
        object: cut(e.object),
        reason: cut(e.reason),
        ..*e
    };
    serde_json::to_string(&Line { ts_ms, event }).unwrap_or_default()
}

/// Whether events are recorded (saves building them otherwise).
pub fn on() -> bool {
    SINK.get().is_some()
}

/// Queues an event's line; never blocks.
pub fn record(e: &Event<'_>) {
    let Some(sink) = SINK.get() else {
        return;
    };
    match sink.tx.try_send(line(e)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            let n = sink.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "audit log lines dropped: the writer falls behind"
                );
            }
        }
    }
}

/// The RPC name of a request type (`CreateCollectionRequest` → `CreateCollection`).
pub fn rpc_of<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let name = name.rsplit("::").next().unwrap_or(name);
    name.strip_suffix("Request").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_sorted_into_kinds() {
        assert_eq!(kind_of("CreateCollection"), Some("ddl"));
        assert_eq!(kind_of("DropIndex"), Some("ddl"));
        assert_eq!(kind_of("LoadCollection"), Some("ddl"));
        assert_eq!(kind_of("ManualCompaction"), Some("ddl"));
        assert_eq!(kind_of("CreateCredential"), Some("dcl"));
        assert_eq!(kind_of("OperatePrivilegeV2"), Some("dcl"));
        assert_eq!(kind_of("CreatePrivilegeGroup"), Some("dcl"));
        assert_eq!(kind_of("Connect"), Some("login"));
        for data in [
            "Insert",
            "Search",
            "Query",
            "DescribeCollection",
            "ShowCollections",
        ] {
            assert_eq!(kind_of(data), None, "{data}");
        }
        assert_eq!(
            rpc_of::<quarry_proto::service::CreateCollectionRequest>(),
            "CreateCollection"
        );
    }

    #[test]
    fn lines_are_json_with_bounded_fields() {
        let long = "é".repeat(1000);
        let l = line(&Event {
            kind: "ddl",
            rpc: "DropCollection",
            user: "alice",
            db: "default",
            object: &long,
            ok: false,
            code: 1401,
            reason: "quote \" and newline \n",
        });
        assert!(!l.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["rpc"], "DropCollection");
        assert_eq!(v["code"], 1401);
        assert!(v["object"].as_str().unwrap().len() <= MAX_FIELD);
        assert!(v["ts_ms"].as_u64().unwrap() > 0);
    }
}
