//! Prometheus metrics: Milvus RPCs on proxies (and standalone), held shards on workers.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    rows_written: IntCounterVec,
    latency: HistogramVec,
    /// query and data nodes: what they hold
    shards: IntGauge,
    rows: IntGauge,
    memory: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
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
        let rows_written = IntCounterVec::new(
            Opts::new(
                "quarry_proxy_rows_written_total",
                "Rows acknowledged to clients, by operation (insert, upsert)",
            ),
            &["op"],
        )
        .expect("metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("register");
        registry
            .register(Box::new(rows_written.clone()))
            .expect("register");
        registry
            .register(Box::new(latency.clone()))
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
            requests,
            rows_written,
            latency,
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

    pub fn observe(&self, method: &str, success: bool, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, if success { "success" } else { "fail" }])
            .inc();
        self.latency
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    pub fn render(&self) -> String {
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
