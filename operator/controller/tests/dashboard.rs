//! The Grafana dashboard shipped in the chart asks only for metrics that exist: the operator's
//! (rendered here) and the data plane's (declared in dataplane/node/src/metrics.rs).

use std::collections::BTreeSet;
use std::path::Path;

use quarry_controller::metrics::Metrics;

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("quarry_") {
        let start = i + pos;
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - start);
        if before_ok {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn every_dashboard_query_names_an_exported_metric() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("charts/quarry/files/dashboards/quarry.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = String::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            exprs.push_str(t["expr"].as_str().unwrap());
            exprs.push('\n');
        }
    }
    let m = Metrics::new();
    m.observe("Collection", std::time::Duration::from_millis(3), true);
    m.set_phase("Collection", "ns/x", Some(quarry_crd::Phase::Ready));
    m.set_collection("ns/c", "docs", &[("rows", 1)]);
    m.nodes.with_label_values(&["ns/c", "query"]).set(1);
    let mut known = metric_names(&m.render());
    known.extend(metric_names(
        &std::fs::read_to_string(root.join("dataplane/node/src/metrics.rs")).unwrap(),
    ));
    let histograms: Vec<String> = known
        .iter()
        .filter(|n| n.ends_with("_seconds"))
        .map(|n| format!("{n}_bucket"))
        .collect();
    known.extend(histograms);
    let used = metric_names(&exprs);
    assert!(used.len() >= 8, "{used:?}");
    let unknown: Vec<&String> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics nobody exports: {unknown:?}"
    );
}
