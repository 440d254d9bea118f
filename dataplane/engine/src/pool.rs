//! The CPU pools: one thread per core each (not tokio's blocking pool, which grows to hundreds
//! of threads under load). Reads run on one, shared by every request of the process, so a
//! search with many query vectors or segments uses every core and many searches at once queue
//! for them instead of thrashing. Index builds run on the other: a pool runs the tasks of work
//! it already holds before new arrivals, so a build sharing the read pool would hold searches
//! back for its whole length; on pools of their own the system's scheduler shares the cores.
//! Callers are already off the async runtime (`spawn_blocking`); they wait while a pool works.

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

/// Runs `f` on the read pool (its `par_iter`s spread over the pool's threads).
pub(crate) fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| make("read")).install(f)
}

/// Runs `f` on the build pool.
pub(crate) fn build<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| make("build")).install(f)
}
