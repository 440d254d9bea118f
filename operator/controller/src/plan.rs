//! Desired objects, as pure functions of the custom resources: a Deployment and a
//! PodDisruptionBudget per `NodePool`, and the proxies' Service per `QuarryCluster`. Defaults
//! are filled in here, in the generated objects, never in the user's spec.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector, PodSpec,
    PodTemplateSpec, Probe, SecretEnvSource, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use quarry_crd::{NodePool, QuarryCluster, Role};

pub const MILVUS_PORT: i32 = 19530;
pub const WORKER_PORT: i32 = 7000;
pub const HTTP_PORT: i32 = 9091;

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Proxy => "proxy",
        Role::Query => "querynode",
        Role::Data => "datanode",
        Role::Index => "indexnode",
    }
}

/// Labels that select the pods of one role of a cluster, whatever their pool.
fn role_labels(cluster: &str, role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "quarry".into()),
        ("app.kubernetes.io/instance".into(), cluster.into()),
        ("app.kubernetes.io/component".into(), role_name(role).into()),
    ])
}

/// Labels that select one pool's pods.
pub fn pool_labels(cluster: &str, pool: &str, role: Role) -> BTreeMap<String, String> {
    let mut labels = role_labels(cluster, role);
    labels.insert("quarry.dev/pool".into(), pool.into());
    labels
}

/// Metadata of an object made for a pool (`<cluster>-<pool>`), and the pool's pod labels.
fn pool_object(cluster: &QuarryCluster, pool: &NodePool) -> (ObjectMeta, BTreeMap<String, String>) {
    let (cluster_name, pool_name) = (name_of(&cluster.metadata), name_of(&pool.metadata));
    let labels = pool_labels(&cluster_name, &pool_name, pool.spec.role);
    let meta = ObjectMeta {
        name: Some(format!("{cluster_name}-{pool_name}")),
        namespace: pool.metadata.namespace.clone(),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    (meta, labels)
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() }
}

/// The environment every role reads its configuration from (see docs/configuration.md).
fn cluster_env(cluster: &QuarryCluster, coordinator: &str) -> Vec<EnvVar> {
    let spec = &cluster.spec;
    let name = name_of(&cluster.metadata);
    let ns = cluster.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let mut out = vec![
        env("QUARRY_COORDINATOR", coordinator),
        env("QUARRY_KAFKA_BROKERS", spec.kafka.bootstrap_servers.clone()),
        env("QUARRY_KAFKA_TOPIC_PREFIX", spec.kafka.topic_prefix.clone().unwrap_or_else(|| format!("quarry-{ns}-{name}-"))),
        env("QUARRY_S3_BUCKET", spec.s3.bucket.clone()),
        env("QUARRY_S3_REGION", spec.s3.region.clone().unwrap_or_else(|| "us-east-1".into())),
        env("QUARRY_S3_PREFIX", spec.s3.prefix.clone().unwrap_or_else(|| format!("{ns}/{name}"))),
        env("QUARRY_S3_PATH_STYLE", spec.s3.path_style.unwrap_or(false).to_string()),
        env("QUARRY_HTTP_PORT", HTTP_PORT.to_string()),
        EnvVar {
            name: "POD_IP".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector { field_path: "status.podIP".into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        },
        // the pod name: stable for the pod's life, unique in the cluster
        EnvVar {
            name: "QUARRY_NODE_ID".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector { field_path: "metadata.name".into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    if let Some(endpoint) = &spec.s3.endpoint {
        out.push(env("QUARRY_S3_ENDPOINT", endpoint.clone()));
    }
    out
}

/// The Deployment of a pool: its role's process, configured from the cluster, scheduled as the
/// pool (or the cluster's pool defaults) says, rolled one pod at a time.
pub fn desired_deployment(cluster: &QuarryCluster, pool: &NodePool, coordinator: &str) -> Deployment {
    let role = pool.spec.role;
    let (metadata, labels) = pool_object(cluster, pool);
    let defaults = cluster.spec.pool_defaults.clone().unwrap_or_default();
    let port = if role == Role::Proxy { MILVUS_PORT } else { WORKER_PORT };
    let mut env = cluster_env(cluster, coordinator);
    env.push(env_port(port));
    if matches!(role, Role::Query | Role::Data) {
        env.push(EnvVar { name: "QUARRY_ADVERTISE".into(), value: Some(format!("$(POD_IP):{WORKER_PORT}")), ..Default::default() });
    }
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction { path: Some(path.into()), port: IntOrString::Int(HTTP_PORT), ..Default::default() }),
        period_seconds: Some(5),
        ..Default::default()
    };
    let container = Container {
        name: role_name(role).into(),
        image: Some(cluster.spec.image.clone()),
        args: Some(vec![role_name(role).into()]),
        env: Some(env),
        env_from: cluster.spec.s3.credentials_secret.as_ref().map(|s| {
            vec![EnvFromSource { secret_ref: Some(SecretEnvSource { name: s.name.clone(), ..Default::default() }), ..Default::default() }]
        }),
        ports: Some(vec![
            ContainerPort { name: Some("grpc".into()), container_port: port, ..Default::default() },
            ContainerPort { name: Some("http".into()), container_port: HTTP_PORT, ..Default::default() },
        ]),
        liveness_probe: Some(probe("/healthz")),
        readiness_probe: Some(probe("/readyz")),
        resources: pool.spec.resources.clone().or(defaults.resources),
        ..Default::default()
    };
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(pool.spec.replicas),
            selector: LabelSelector { match_labels: Some(labels.clone()), ..Default::default() },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    node_selector: pool.spec.node_selector.clone().or(defaults.node_selector),
                    tolerations: pool.spec.tolerations.clone().or(defaults.tolerations),
                    affinity: pool.spec.affinity.clone(),
                    // SIGTERM hands the pod's shards over; give in-flight requests time to end
                    termination_grace_period_seconds: Some(30),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn env_port(port: i32) -> EnvVar {
    env("QUARRY_PORT", port.to_string())
}

/// At most one pod of a pool down at a time for voluntary disruptions (drains, upgrades).
pub fn desired_pdb(cluster: &QuarryCluster, pool: &NodePool) -> PodDisruptionBudget {
    let (metadata, labels) = pool_object(cluster, pool);
    PodDisruptionBudget {
        metadata,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector { match_labels: Some(labels), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Milvus endpoint of a cluster: every proxy pod behind one Service on 19530.
pub fn desired_proxy_service(cluster: &QuarryCluster) -> Service {
    let name = name_of(&cluster.metadata);
    let selector = role_labels(&name, Role::Proxy);
    Service {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(selector.clone()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![
                ServicePort { name: Some("milvus".into()), port: MILVUS_PORT, target_port: Some(IntOrString::Int(MILVUS_PORT)), ..Default::default() },
                ServicePort { name: Some("http".into()), port: HTTP_PORT, target_port: Some(IntOrString::Int(HTTP_PORT)), ..Default::default() },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use quarry_crd::{KafkaSpec, NodePoolSpec, PoolDefaults, QuarryClusterSpec, S3Spec, SecretKeyRef};

    use super::*;

    fn cluster() -> QuarryCluster {
        let mut c = QuarryCluster::new(
            "prod",
            QuarryClusterSpec {
                image: "quarry:0.1.0".into(),
                version: None,
                kafka: KafkaSpec { bootstrap_servers: "kafka:9092".into(), topic_prefix: None, replication_factor: None, tls_secret: None, sasl: None },
                s3: S3Spec {
                    endpoint: Some("http://minio:9000".into()),
                    bucket: "quarry".into(),
                    region: None,
                    prefix: None,
                    path_style: Some(true),
                    credentials_secret: Some(SecretKeyRef { name: "s3-creds".into() }),
                },
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

    fn pool(name: &str, role: Role, replicas: i32) -> NodePool {
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

    fn env_of(d: &Deployment) -> BTreeMap<String, String> {
        let c = &d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        c.env.as_ref().unwrap().iter().filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v))).collect()
    }

    #[test]
    fn a_query_pool_becomes_a_deployment_of_query_nodes() {
        let d = desired_deployment(&cluster(), &pool("search", Role::Query, 3), "quarry-operator.quarry-system.svc:19531");
        assert_eq!(d.metadata.name.as_deref(), Some("prod-search"));
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.selector.match_labels.as_ref().unwrap()["app.kubernetes.io/component"], "querynode");
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.args.as_deref(), Some(&["querynode".to_string()][..]));
        assert_eq!(c.image.as_deref(), Some("quarry:0.1.0"));
        let env = env_of(&d);
        assert_eq!(env["QUARRY_COORDINATOR"], "quarry-operator.quarry-system.svc:19531");
        assert_eq!(env["QUARRY_KAFKA_TOPIC_PREFIX"], "quarry-vec-prod-");
        assert_eq!(env["QUARRY_S3_PREFIX"], "vec/prod");
        assert_eq!(env["QUARRY_S3_ENDPOINT"], "http://minio:9000");
        assert_eq!(env["QUARRY_ADVERTISE"], "$(POD_IP):7000");
        assert_eq!(c.env_from.as_ref().unwrap()[0].secret_ref.as_ref().unwrap().name, "s3-creds");
        assert_eq!(c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap().path.as_deref(), Some("/readyz"));
        // pool defaults fill in what the pool leaves out
        assert_eq!(c.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"], Quantity("1".into()));
    }

    #[test]
    fn a_pool_setting_wins_over_the_cluster_default_and_proxies_listen_on_19530() {
        let mut p = pool("edge", Role::Proxy, 2);
        p.spec.resources = Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".to_string(), Quantity("4".into()))])),
            ..Default::default()
        });
        let d = desired_deployment(&cluster(), &p, "coord:19531");
        let c = &d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"], Quantity("4".into()));
        assert_eq!(env_of(&d)["QUARRY_PORT"], "19530");
        assert!(!env_of(&d).contains_key("QUARRY_ADVERTISE"), "proxies are not routed to by address");
        let svc = desired_proxy_service(&cluster());
        let svc_spec = svc.spec.unwrap();
        assert_eq!(svc_spec.selector.unwrap()["app.kubernetes.io/component"], "proxy");
        assert_eq!(svc_spec.ports.unwrap()[0].port, 19530);
    }

    #[test]
    fn pools_lose_at_most_one_pod_to_voluntary_disruptions() {
        let pdb = desired_pdb(&cluster(), &pool("search", Role::Query, 3));
        let spec = pdb.spec.unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(spec.selector.unwrap().match_labels.unwrap()["quarry.dev/pool"], "search");
    }
}
