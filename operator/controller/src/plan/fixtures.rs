//! The cluster and pools the planning tests start from.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use quarry_crd::{
    KafkaSpec, NodePool, NodePoolSpec, PoolDefaults, QuarryCluster, QuarryClusterSpec, Role,
    S3Spec, SecretKeyRef,
};

pub fn cluster() -> QuarryCluster {
    let mut c = QuarryCluster::new(
        "prod",
        QuarryClusterSpec {
            image: "quarry:0.1.0".into(),
            version: None,
            kafka: KafkaSpec {
                bootstrap_servers: "kafka:9092".into(),
                topic_prefix: None,
                replication_factor: None,
                tls_secret: None,
                sasl: None,
            },
            s3: S3Spec {
                endpoint: Some("http://minio:9000".into()),
                bucket: "quarry".into(),
                region: None,
                prefix: None,
                path_style: Some(true),
                credentials_secret: Some(SecretKeyRef {
                    name: "s3-creds".into(),
                }),
                ca_secret: None,
            },
            tls: None,
            pool_defaults: Some(PoolDefaults {
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([("cpu".to_string(), Quantity("1".into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        },
    );
    c.metadata.namespace = Some("vec".into());
    c
}

pub fn pool(name: &str, role: Role, replicas: i32) -> NodePool {
    let mut p = NodePool::new(
        name,
        NodePoolSpec {
            cluster_ref: "prod".into(),
            role,
            replicas,
            resources: None,
            node_selector: None,
            tolerations: None,
            affinity: None,
            autoscaling: None,
        },
    );
    p.metadata.namespace = Some("vec".into());
    p
}

pub fn env_of(d: &Deployment) -> BTreeMap<String, String> {
    let c = &d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    c.env
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect()
}
