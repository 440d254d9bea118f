//! Prometheus metrics: Milvus RPCs on proxies (and standalone), held shards on workers.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The Milvus RPC families (requests by method and outcome, latency by method), recorded by
/// the RPC layer (`service::layer`). One set per process ([`RpcMetrics::process`]), which every
/// [`Metrics`] registry exposes; tests make their own.
#[derive(Clone)]
pub struct RpcMetrics {
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl RpcMetrics {
    pub fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "quarry_proxy_requests_total",
                "Milvus RPCs served, by method and outcome",
            ),
            &["method", "status"],
        )
        .expect("metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "quarry_proxy_request_seconds",
                "Milvus RPC latency, by method",
            )
            .buckets(prometheus::exponential_buckets(0.0005, 2.0, 16).expect("buckets")),
            &["method"],
        )
        .expect("metric");
        Self { requests, latency }
    }

    /// The families of this process.
    pub fn process() -> &'static RpcMetrics {
        static PROCESS: OnceLock<RpcMetrics> = OnceLock::new();
        PROCESS.get_or_init(RpcMetrics::new)
    }

    pub fn observe(&self, method: &str, success: bool, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, if success { "success" } else { "fail" }])
            .inc();
        self.latency
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    /// Requests counted for `method` with `status` ("success" or "fail").
    #[cfg(test)]
    pub fn count(&self, method: &str, status: &str) -> u64 {
        self.requests.with_label_values(&[method, status]).get()
    }

    fn register(&self, registry: &Registry) {
        registry
            .register(Box::new(self.requests.clone()))
            .expect("register");
        registry
            .register(Box::new(self.latency.clone()))
            .expect("register");
    }
}

impl Default for RpcMetrics {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Metrics {
    registry: Registry,
    rows_written: IntCounterVec,
    /// brought up to `quarry_engine::scalar_index_answers` at each scrape, one at a time
    scalar_answers: std::sync::Mutex<IntCounter>,
    /// query and data nodes: what they hold
    shards: IntGauge,
    rows: IntGauge,
    memory: IntGauge,
}

impl Metrics {
    /// The metrics of this process: its RPC families ([`RpcMetrics::process`]) and the rest.
    pub fn new() -> Self {
        Self::with_rpc(RpcMetrics::process())
    }

    /// Metrics whose registry exposes the RPC families `rpc`.
    pub fn with_rpc(rpc: &RpcMetrics) -> Self {
        let registry = Registry::new();
        rpc.register(&registry);
        let rows_written = IntCounterVec::new(
            Opts::new(
                "quarry_proxy_rows_written_total",
                "Rows acknowledged to clients, by operation (insert, upsert)",
            ),
            &["op"],
        )
        .expect("metric");
        registry
            .register(Box::new(rows_written.clone()))
            .expect("register");
        let scalar_answers = IntCounter::new(
            "quarry_worker_scalar_index_answers_total",
            "filter predicates answered by a scalar index (INVERTED, STL_SORT, Trie, BITMAP) \
             instead of a column scan",
        )
        .expect("metric");
        registry
            .register(Box::new(scalar_answers.clone()))
            .expect("register");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("metric");
            registry.register(Box::new(g.clone())).expect("register");
            g
        };
        let shards = gauge(
            "quarry_worker_shards",
            "shards this query or data node has loaded and follows",
        );
        let rows = gauge(
            "quarry_worker_rows",
            "live rows held in memory for those shards",
        );
        let memory = gauge(
            "quarry_worker_memory_bytes",
            "bytes of Arrow data held in memory for those shards",
        );
        Self {
            registry,
            rows_written,
            scalar_answers: std::sync::Mutex::new(scalar_answers),
            shards,
            rows,
            memory,
        }
    }

    pub fn set_worker(&self, shards: usize, rows: u64, memory: u64) {
        self.shards.set(shards as i64);
        self.rows.set(rows as i64);
        self.memory.set(memory as i64);
    }

    pub fn rows_written(&self, op: &str, rows: usize) {
        self.rows_written
            .with_label_values(&[op])
            .inc_by(rows as u64);
    }

    pub fn render(&self) -> String {
        {
            let counter = self
                .scalar_answers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let now = quarry_engine::scalar_index_answers();
            counter.inc_by(now.saturating_sub(counter.get()));
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).expect("utf8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_exposes_the_rpc_families_under_their_names() {
        let rpc = RpcMetrics::new();
        let metrics = Metrics::with_rpc(&rpc);
        rpc.observe("Search", true, Duration::from_millis(3));
        rpc.observe("Search", false, Duration::from_millis(3));
        metrics.rows_written("insert", 2);
        let text = metrics.render();
        for want in [
            r#"quarry_proxy_requests_total{method="Search",status="success"} 1"#,
            r#"quarry_proxy_requests_total{method="Search",status="fail"} 1"#,
            r#"quarry_proxy_request_seconds_count{method="Search"} 2"#,
            r#"quarry_proxy_rows_written_total{op="insert"} 2"#,
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        // every registry of the process shows the process' families
        RpcMetrics::process().observe("Flush", true, Duration::ZERO);
        assert!(Metrics::new()
            .render()
            .contains(r#"quarry_proxy_requests_total{method="Flush",status="success"}"#));
    }
}
