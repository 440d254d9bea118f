use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

const LOGICAL_BITS: u32 = 18;

/// Hybrid timestamps as Milvus clients expect them: `(unix_ms << 18) | logical`, strictly
/// increasing within the process and, after [`Tso::observe`], across restarts.
#[derive(Debug, Default)]
pub struct Tso {
    last: Mutex<u64>,
}

impl Tso {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now(&self) -> u64 {
        let physical = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut last = self.last.lock();
        let candidate = physical << LOGICAL_BITS;
        *last = if candidate > *last {
            candidate
        } else {
            *last + 1
        };
        *last
    }

    /// Makes every later timestamp larger than `ts` (used with the last persisted timestamp).
    pub fn observe(&self, ts: u64) {
        let mut last = self.last.lock();
        *last = (*last).max(ts);
    }

    pub fn physical_ms(ts: u64) -> u64 {
        ts >> LOGICAL_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_hybrid() {
        let t = Tso::new();
        let a = t.now();
        let b = t.now();
        assert!(b > a);
        t.observe(b + (1000 << LOGICAL_BITS));
        assert!(t.now() > b + (1000 << LOGICAL_BITS));
        let ms = Tso::physical_ms(a);
        assert!(ms > 1_600_000_000_000, "physical part is unix milliseconds");
    }
}
