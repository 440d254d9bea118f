//! The operator's Prometheus metrics (`/metrics`): reconciles, errors and durations per kind,
//! resources by condition, hosted clusters and their live nodes, leadership.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use quarry_crd::Phase;

pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    resources: IntGaugeVec,
    pub leader: IntGauge,
    pub clusters: IntGauge,
    pub nodes: IntGaugeVec,
    collection: IntGaugeVec,
    phases: Mutex<BTreeMap<(String, String), Phase>>,
}

fn phase_label(p: Phase) -> &'static str {
    match p {
        Phase::Pending => "Pending",
        Phase::Reconciling => "Reconciling",
        Phase::Ready => "Ready",
        Phase::Stalled => "Stalled",
        Phase::Deleting => "Deleting",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "quarry_operator_reconciles_total",
                "Reconciles by kind and result (ok, error)",
            ),
            &["kind", "result"],
        )
        .unwrap();
        let errors = IntCounterVec::new(
            Opts::new(
                "quarry_operator_reconcile_errors_total",
                "Failed reconciles by kind",
            ),
            &["kind"],
        )
        .unwrap();
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "quarry_operator_reconcile_duration_seconds",
                "Reconcile duration by kind",
            )
            .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["kind"],
        )
        .unwrap();
        let resources = IntGaugeVec::new(
            Opts::new(
                "quarry_operator_resources",
                "Resources by kind and phase (Ready, Reconciling, Stalled, ...)",
            ),
            &["kind", "phase"],
        )
        .unwrap();
        let leader = IntGauge::new(
            "quarry_operator_leader",
            "1 while this operator holds the leader Lease",
        )
        .unwrap();
        let clusters = IntGauge::new(
            "quarry_operator_hosted_clusters",
            "QuarryClusters whose coordinator runs in this operator",
        )
        .unwrap();
        let nodes = IntGaugeVec::new(
            Opts::new(
                "quarry_cluster_nodes",
                "Live nodes of a cluster by role (heartbeats within the lease)",
            ),
            &["cluster", "role"],
        )
        .unwrap();
        let collection = IntGaugeVec::new(
            Opts::new("quarry_collection", "Figures of a collection from its cluster's catalog: rows (live, sealed), sealed_segments, growing_segments, indexed_rows, total_rows, loaded_replicas"),
            &["cluster", "collection", "figure"],
        )
        .unwrap();
        for c in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(duration.clone()),
            Box::new(resources.clone()),
            Box::new(leader.clone()),
            Box::new(clusters.clone()),
            Box::new(nodes.clone()),
            Box::new(collection.clone()),
        ] {
            registry.register(c).expect("metric registers once");
        }
        Self {
            registry,
            reconciles,
            errors,
            duration,
            resources,
            leader,
            clusters,
            nodes,
            collection,
            phases: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn observe(&self, kind: &str, took: Duration, ok: bool) {
        self.reconciles
            .with_label_values(&[kind, if ok { "ok" } else { "error" }])
            .inc();
        if !ok {
            self.errors.with_label_values(&[kind]).inc();
        }
        self.duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    /// Records where a resource stands (`None`: it is gone) and recounts its kind.
    pub fn set_phase(&self, kind: &str, key: &str, phase: Option<Phase>) {
        let mut phases = self.phases.lock();
        match phase {
            Some(p) => phases.insert((kind.into(), key.into()), p),
            None => phases.remove(&(kind.to_string(), key.to_string())),
        };
        for p in [
            Phase::Pending,
            Phase::Reconciling,
            Phase::Ready,
            Phase::Stalled,
            Phase::Deleting,
        ] {
            let n = phases
                .iter()
                .filter(|((k, _), q)| k == kind && **q == p)
                .count();
            self.resources
                .with_label_values(&[kind, phase_label(p)])
                .set(n as i64);
        }
    }

    /// Publishes a collection's figures (`cluster` is `namespace/name`).
    pub fn set_collection(&self, cluster: &str, collection: &str, figures: &[(&str, i64)]) {
        for (figure, value) in figures {
            self.collection
                .with_label_values(&[cluster, collection, figure])
                .set(*value);
        }
    }

    /// Forgets a collection's figures (dropped, or its resource deleted).
    pub fn forget_collection(&self, cluster: &str, collection: &str) {
        for figure in [
            "rows",
            "sealed_segments",
            "growing_segments",
            "indexed_rows",
            "total_rows",
            "loaded_replicas",
        ] {
            let _ = self
                .collection
                .remove_label_values(&[cluster, collection, figure]);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).unwrap_or_default()
    }
}
