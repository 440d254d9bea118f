//! The CPU pools: one thread per core each (not tokio's blocking pool, which grows to hundreds
//! of threads under load). Reads run on one, shared by every request of the process, so a
//! search with many query vectors or segments uses every core and many searches at once queue
//! for them instead of thrashing. Index builds run on the other: a pool runs the tasks of work
//! it already holds before new arrivals, so a build sharing the read pool would hold searches
//! back for its whole length; on pools of their own the system's scheduler shares the cores.
//! Async callers hand a read to the pool with [`offload`] (one hop from the runtime, no
//! blocking thread in between); blocking callers wait in [`run`] or [`build`].

use std::sync::OnceLock;

use rayon::{ThreadPool, ThreadPoolBuilder};

fn make(name: &'static str) -> ThreadPool {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("quarry-{name}-{i}"))
        .build()
        .unwrap_or_else(|e| panic!("the {name} pool cannot start: {e}"))
}

fn reads() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| make("read"))
}

/// Runs `f` on the read pool (its `par_iter`s spread over the pool's threads); inline when
/// called from the pool itself.
pub(crate) fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    reads().install(f)
}

/// Runs `f` on the read pool and waits for it without blocking the async runtime. A panic in
/// `f` fails this call (`Err`) and nothing else.
pub(crate) async fn offload<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    reads().spawn(move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(out.map_err(|p| {
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a read panicked".to_string())
        }));
    });
    rx.await
        .map_err(|_| "the read pool dropped a read".to_string())?
}

/// Runs `f` on the build pool.
pub(crate) fn build<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| make("build")).install(f)
}
