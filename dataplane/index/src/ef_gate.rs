//! usearch keeps `ef` (expansion_search) as one setting of the whole index, with no per-search
//! argument in its Rust binding. Setting it before each search would race with searches running
//! on other threads (a data race in C++, and requests served with each other's `ef`). The gate
//! lets any number of searches with the same `ef` run together. A search with another `ef`
//! queues; while anything queues, new arrivals queue too, and when the running searches are
//! done the oldest queued search sets its `ef` and enters with every other queued search of that
//! `ef`. So searches are admitted in groups, in arrival order, and no `ef` starves.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// The `ef` the index is set to.
    ef: usize,
    /// Searches running now (all with `ef`).
    active: usize,
    /// Queued searches, oldest first: (ticket, ef).
    queue: VecDeque<(u64, usize)>,
    next_ticket: u64,
}

#[derive(Debug, Default)]
pub(crate) struct EfGate {
    state: Mutex<State>,
    changed: Condvar,
}

/// Held for the length of one search; the index's `ef` does not change while any is held.
pub(crate) struct EfPass<'a> {
    gate: &'a EfGate,
}

impl EfGate {
    pub(crate) fn new(ef: usize) -> Self {
        Self {
            state: Mutex::new(State {
                ef,
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // the state is a few counters updated without panicking in between: a poisoned lock
        // still holds consistent values
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a search with `ef` may run; `set` changes the index's `ef` when no search
    /// runs and it differs.
    pub(crate) fn enter(&self, ef: usize, mut set: impl FnMut(usize)) -> EfPass<'_> {
        let mut st = self.lock();
        let running_mine = |st: &State| st.active > 0 && st.ef == ef;
        if st.queue.is_empty() && (st.active == 0 || running_mine(&st)) {
            if st.ef != ef {
                set(ef);
                st.ef = ef;
            }
            st.active += 1;
            return EfPass { gate: self };
        }
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push_back((ticket, ef));
        loop {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            let oldest = st.queue.front().map(|&(t, _)| t) == Some(ticket);
            // join a running group of my ef (the one the oldest waiter opened), or open the
            // next group when nothing runs and I am the oldest
            if running_mine(&st) || (st.active == 0 && oldest) {
                break;
            }
        }
        st.queue.retain(|&(t, _)| t != ticket);
        if st.ef != ef {
            set(ef);
            st.ef = ef;
        }
        st.active += 1;
        // the others of this ef may join
        self.changed.notify_all();
        EfPass { gate: self }
    }
}

impl Drop for EfPass<'_> {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.active -= 1;
        if st.active == 0 {
            self.gate.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_setting_never_changes_under_a_running_search() {
        let gate = EfGate::new(64);
        let current = AtomicUsize::new(64);
        let running = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..8usize {
                let (gate, current, running) = (&gate, &current, &running);
                s.spawn(move || {
                    for i in 0..200 {
                        let ef = 16 + (t + i) % 3;
                        let _pass = gate.enter(ef, |v| {
                            assert_eq!(running.load(Ordering::SeqCst), 0, "set while searching");
                            current.store(v, Ordering::SeqCst);
                        });
                        running.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(current.load(Ordering::SeqCst), ef);
                        std::thread::yield_now();
                        assert_eq!(current.load(Ordering::SeqCst), ef);
                        running.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
    }

    #[test]
    fn searches_with_one_ef_run_together() {
        let gate = EfGate::new(32);
        let a = gate.enter(32, |_| panic!("no change needed"));
        let b = gate.enter(32, |_| panic!("no change needed"));
        drop((a, b));
        let mut set = 0;
        drop(gate.enter(40, |v| set = v));
        assert_eq!(set, 40);
    }
}
