//! The NetworkPolicy of a cluster: its pods accept the Milvus port (19530, proxies) and the
//! HTTP port (probes, metrics) from anywhere, and the internal Worker port only from pods of
//! the same cluster. The coordinator runs in quarry-operator (the chart's own policy covers
//! its port). Policies only take effect where the network plugin enforces them.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use quarry_crd::QuarryCluster;
use std::collections::BTreeMap;

use super::{name_of, HTTP_PORT, MILVUS_PORT, WORKER_PORT};

/// Labels every pod of the cluster has.
fn cluster_pods(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "quarry".into()),
        ("app.kubernetes.io/instance".into(), cluster.into()),
    ])
}

fn port(p: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(p)),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

pub fn network_policy_name(cluster: &str) -> String {
    format!("{cluster}-pods")
}

pub fn desired_network_policy(cluster: &QuarryCluster) -> NetworkPolicy {
    let name = name_of(&cluster.metadata);
    let pods = LabelSelector {
        match_labels: Some(cluster_pods(&name)),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(network_policy_name(&name)),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(cluster_pods(&name)),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pods.clone()),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![
                // clients, probes and metrics scrapers
                NetworkPolicyIngressRule {
                    from: None,
                    ports: Some(vec![port(MILVUS_PORT), port(HTTP_PORT)]),
                },
                // the internal Worker API: the cluster's own proxies only
                NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        pod_selector: Some(pods),
                        ..Default::default()
                    }]),
                    ports: Some(vec![port(WORKER_PORT)]),
                },
            ]),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::cluster;

    #[test]
    fn internal_ports_admit_only_the_clusters_pods() {
        let np = desired_network_policy(&cluster());
        let spec = np.spec.unwrap();
        let selector = spec.pod_selector.unwrap().match_labels.unwrap();
        assert_eq!(selector["app.kubernetes.io/instance"], "prod");
        let rules = spec.ingress.unwrap();
        let ports = |r: &NetworkPolicyIngressRule| -> Vec<IntOrString> {
            r.ports
                .iter()
                .flatten()
                .filter_map(|p| p.port.clone())
                .collect()
        };
        let open = rules.iter().find(|r| r.from.is_none()).unwrap();
        assert_eq!(
            ports(open),
            [IntOrString::Int(19530), IntOrString::Int(9091)]
        );
        let internal = rules
            .iter()
            .find(|r| ports(r).contains(&IntOrString::Int(WORKER_PORT)))
            .unwrap();
        let peers = internal.from.as_ref().unwrap();
        assert_eq!(peers.len(), 1);
        let peer = peers[0]
            .pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap();
        assert_eq!(peer["app.kubernetes.io/instance"], "prod");
        assert!(
            peers[0].namespace_selector.is_none(),
            "the cluster's namespace only"
        );
    }
}
