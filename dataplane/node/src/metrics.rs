//! Prometheus metrics of the access layer.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
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
        registry
            .register(Box::new(requests.clone()))
            .expect("register");
        registry
            .register(Box::new(latency.clone()))
            .expect("register");
        Self {
            registry,
            requests,
            latency,
        }
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
