//! Following a served shard's log (query and data nodes): the read-and-apply loop of
//! [`Shard::read_apply`], run until the shard is released, with a short wait whenever it is
//! caught up.

use std::sync::Arc;
use std::time::Duration;

use quarry_storage::StorageError;
use tokio_util::sync::CancellationToken;

use super::{Io, ReadApplyError, Shard};

/// How long a caught-up tail waits before asking the log again.
const IDLE_POLL: Duration = Duration::from_millis(20);

impl Shard {
    /// Applies the shard's new log records as they arrive, until `token` is cancelled.
    pub async fn follow(self: Arc<Self>, io: Io, token: CancellationToken) {
        let (collection, shard) = (self.collection, self.index);
        loop {
            if token.is_cancelled() {
                return;
            }
            match self
                .read_apply(&*io.log, u64::MAX, Some(&token), false)
                .await
            {
                Ok(_) => {}
                Err(ReadApplyError::Record { offset, error }) => {
                    tracing::error!(collection, shard, offset, error = %error, "undecodable log record; the shard stops here");
                    return;
                }
                Err(ReadApplyError::Log(StorageError::OffsetOutOfRange {
                    offset, start, ..
                })) => {
                    // never skip: records below the retained start are in segments by now, so
                    // reload the shard from the catalog instead
                    tracing::warn!(
                        collection,
                        shard,
                        offset,
                        start,
                        "log truncated past this replica; reloading the shard"
                    );
                    let meta = io.meta.snapshot().collections.get(&collection).cloned();
                    if let Some(meta) = meta {
                        if let Err(e) = self.load(&io, &meta).await {
                            tracing::error!(collection, shard, error = %e, "reloading the shard failed; will retry");
                        }
                    }
                }
                Err(ReadApplyError::Log(e)) => {
                    tracing::error!(collection, shard, error = %e, "reading the log failed; will retry");
                }
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}
