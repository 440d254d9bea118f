//! Desired objects, as pure functions of the custom resources: a Deployment, a
//! PodDisruptionBudget and (with `autoscaling`) a HorizontalPodAutoscaler per `NodePool`; the
//! proxies' Service and the shared ConfigMap per `QuarryCluster`; the image each pool runs
//! during an upgrade. Defaults are filled in here, in the generated objects, never in the
//! user's spec.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PodSpec, PodTemplateSpec, Probe, SecretEnvSource,
    SecretKeySelector, SecretVolumeSource, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use quarry_crd::{NodePool, QuarryCluster, Role};

use crate::settings::{Settings, KAFKA_TLS_DIR};

pub const MILVUS_PORT: i32 = 19530;
pub const WORKER_PORT: i32 = 7000;
pub const HTTP_PORT: i32 = 9091;

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

pub fn role_name(role: Role) -> &'static str {
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
/// The name of the objects made for a pool (Deployment, PDB, HPA): `<cluster>-<pool>`.
pub fn pool_object_name(cluster: &str, pool: &str) -> String {
    format!("{cluster}-{pool}")
}

fn pool_object(cluster: &QuarryCluster, pool: &NodePool) -> (ObjectMeta, BTreeMap<String, String>) {
    let (cluster_name, pool_name) = (name_of(&cluster.metadata), name_of(&pool.metadata));
    let labels = pool_labels(&cluster_name, &pool_name, pool.spec.role);
    let meta = ObjectMeta {
        name: Some(pool_object_name(&cluster_name, &pool_name)),
        namespace: pool.metadata.namespace.clone(),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    (meta, labels)
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Name of a cluster's ConfigMap (the environment its pods share).
pub fn config_map_name(cluster: &str) -> String {
    format!("{cluster}-config")
}

/// The cluster's shared, non-secret configuration, read by every pod through `envFrom`.
pub fn desired_config_map(cluster: &QuarryCluster, coordinator: &str) -> ConfigMap {
    let name = name_of(&cluster.metadata);
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(config_map_name(&name)),
            namespace: cluster.metadata.namespace.clone(),
            labels: Some(cluster_labels(&name)),
            ..Default::default()
        },
        data: Some(Settings::of(cluster).env(coordinator)),
        ..Default::default()
    }
}

fn cluster_labels(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "quarry".into()),
        ("app.kubernetes.io/instance".into(), cluster.into()),
        (
            "app.kubernetes.io/managed-by".into(),
            "quarry-operator".into(),
        ),
    ])
}

/// A short, stable digest of the ConfigMap's data: in the pod template, so that a changed
/// configuration rolls the pods.
fn config_digest(data: &BTreeMap<String, String>) -> String {
    // CRC-32 (the log's checksum): stable across builds and processes, unlike the std hasher
    let mut h = crc32fast::Hasher::new();
    for (k, v) in data {
        h.update(k.as_bytes());
        h.update(&[0]);
        h.update(v.as_bytes());
        h.update(&[0]);
    }
    format!("{:08x}", h.finalize())
}

/// The Deployment of a pool: its role's process with `image`, configured from the cluster's
/// ConfigMap (and Secrets), scheduled as the pool (or the cluster's pool defaults) says,
/// rolled one pod at a time.
pub fn desired_deployment(
    cluster: &QuarryCluster,
    pool: &NodePool,
    coordinator: &str,
    image: &str,
) -> Deployment {
    let role = pool.spec.role;
    let settings = Settings::of(cluster);
    let (metadata, labels) = pool_object(cluster, pool);
    let defaults = cluster.spec.pool_defaults.clone().unwrap_or_default();
    let port = if role == Role::Proxy {
        MILVUS_PORT
    } else {
        WORKER_PORT
    };
    let mut env = vec![
        field_env("POD_IP", "status.podIP"),
        // the pod name: stable for the pod's life, unique in the cluster
        field_env("QUARRY_NODE_ID", "metadata.name"),
        env("QUARRY_PORT", port.to_string()),
        env("QUARRY_HTTP_PORT", HTTP_PORT.to_string()),
        // the pool: collections loaded into it are placed on its query nodes only
        env("QUARRY_POOL", name_of(&pool.metadata)),
    ];
    if matches!(role, Role::Query | Role::Data) {
        env.push(self::env(
            "QUARRY_ADVERTISE",
            format!("$(POD_IP):{WORKER_PORT}"),
        ));
    }
    if let Some((_, secret)) = &settings.sasl {
        env.push(secret_env("QUARRY_KAFKA_SASL_USERNAME", secret, "username"));
        env.push(secret_env("QUARRY_KAFKA_SASL_PASSWORD", secret, "password"));
    }
    let mut env_from = vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: config_map_name(&name_of(&cluster.metadata)),
            optional: None,
        }),
        ..Default::default()
    }];
    if let Some(secret) = &settings.credentials_secret {
        env_from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: secret.clone(),
                optional: None,
            }),
            ..Default::default()
        });
    }
    let (volumes, mounts) = match &settings.tls_secret {
        Some(secret) => (
            Some(vec![Volume {
                name: "kafka-tls".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            Some(vec![VolumeMount {
                name: "kafka-tls".into(),
                mount_path: KAFKA_TLS_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            }]),
        ),
        None => (None, None),
    };
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(HTTP_PORT),
            ..Default::default()
        }),
        period_seconds: Some(5),
        ..Default::default()
    };
    let container = Container {
        name: role_name(role).into(),
        image: Some(image.to_string()),
        args: Some(vec![role_name(role).into()]),
        env: Some(env),
        env_from: Some(env_from),
        ports: Some(vec![
            ContainerPort {
                name: Some("grpc".into()),
                container_port: port,
                ..Default::default()
            },
            ContainerPort {
                name: Some("http".into()),
                container_port: HTTP_PORT,
                ..Default::default()
            },
        ]),
        liveness_probe: Some(probe("/healthz")),
        readiness_probe: Some(probe("/readyz")),
        resources: pool.spec.resources.clone().or(defaults.resources),
        volume_mounts: mounts,
        ..Default::default()
    };
    let annotations = BTreeMap::from([(
        CONFIG_DIGEST.to_string(),
        config_digest(&settings.env(coordinator)),
    )]);
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(pool.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    node_selector: pool.spec.node_selector.clone().or(defaults.node_selector),
                    tolerations: pool.spec.tolerations.clone().or(defaults.tolerations),
                    affinity: pool.spec.affinity.clone(),
                    volumes,
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

/// The pod template annotation holding the digest of the cluster's ConfigMap.
pub const CONFIG_DIGEST: &str = "quarry.dev/config-digest";

/// Upgrade order: a role's pools take a new image only after every pool of the roles before it
/// runs it and is ready (index, data and query nodes first, proxies last, as Milvus upgrades).
pub const ROLLOUT_ORDER: [Role; 4] = [Role::Index, Role::Data, Role::Query, Role::Proxy];

/// Where one pool of a cluster stands in a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRollout {
    pub role: Role,
    /// the image its Deployment runs now (`None`: no Deployment yet)
    pub image: Option<String>,
    /// every pod updated and ready
    pub settled: bool,
}

/// The image a pool's Deployment should run: the cluster's, unless a pool of an earlier role
/// has not finished taking it; then the pool keeps what it runs (new pools start on the
/// cluster's image at once).
pub fn rollout_image(
    target: &str,
    role: Role,
    current: Option<&str>,
    pools: &[PoolRollout],
) -> String {
    let rank = |r: Role| ROLLOUT_ORDER.iter().position(|x| *x == r).unwrap_or(0);
    let earlier_pending = pools.iter().filter(|p| rank(p.role) < rank(role)).any(|p| {
        p.image.as_deref().is_some_and(|i| i != target) || (p.image.is_some() && !p.settled)
    });
    match current {
        Some(image) if earlier_pending => image.to_string(),
        _ => target.to_string(),
    }
}

/// The HorizontalPodAutoscaler of a pool with `autoscaling`: it scales the NodePool through
/// its scale subresource (not the Deployment, which follows the pool).
pub fn desired_hpa(cluster: &QuarryCluster, pool: &NodePool) -> Option<HorizontalPodAutoscaler> {
    let auto = pool.spec.autoscaling.as_ref()?;
    let (metadata, _) = pool_object(cluster, pool);
    Some(HorizontalPodAutoscaler {
        metadata,
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("quarry.dev/v1alpha1".into()),
                kind: "NodePool".into(),
                name: name_of(&pool.metadata),
            },
            min_replicas: Some(auto.min_replicas),
            max_replicas: auto.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(auto.target_cpu_utilization.unwrap_or(70)),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// At most one pod of a pool down at a time for voluntary disruptions (drains, upgrades).
pub fn desired_pdb(cluster: &QuarryCluster, pool: &NodePool) -> PodDisruptionBudget {
    let (metadata, labels) = pool_object(cluster, pool);
    PodDisruptionBudget {
        metadata,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(labels),
                ..Default::default()
            }),
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
                ServicePort {
                    name: Some("milvus".into()),
                    port: MILVUS_PORT,
                    target_port: Some(IntOrString::Int(MILVUS_PORT)),
                    ..Default::default()
                },
                ServicePort {
                    name: Some("http".into()),
                    port: HTTP_PORT,
                    target_port: Some(IntOrString::Int(HTTP_PORT)),
                    ..Default::default()
                },
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
    use quarry_crd::{
        KafkaSpec, NodePoolSpec, PoolDefaults, QuarryClusterSpec, S3Spec, SecretKeyRef,
    };

    use super::*;

    fn cluster() -> QuarryCluster {
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

    #[test]
    fn a_query_pool_becomes_a_deployment_of_query_nodes() {
        let d = desired_deployment(
            &cluster(),
            &pool("search", Role::Query, 3),
            "quarry-operator.quarry-system.svc:19531",
            "quarry:0.1.0",
        );
        assert_eq!(d.metadata.name.as_deref(), Some("prod-search"));
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(
            spec.selector.match_labels.as_ref().unwrap()["app.kubernetes.io/component"],
            "querynode"
        );
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.args.as_deref(), Some(&["querynode".to_string()][..]));
        assert_eq!(c.image.as_deref(), Some("quarry:0.1.0"));
        let env = env_of(&d);
        assert_eq!(env["QUARRY_ADVERTISE"], "$(POD_IP):7000");
        let from = c.env_from.as_ref().unwrap();
        assert_eq!(from[0].config_map_ref.as_ref().unwrap().name, "prod-config");
        assert_eq!(from[1].secret_ref.as_ref().unwrap().name, "s3-creds");
        let shared = desired_config_map(&cluster(), "quarry-operator.quarry-system.svc:19531")
            .data
            .unwrap();
        assert_eq!(
            shared["QUARRY_COORDINATOR"],
            "quarry-operator.quarry-system.svc:19531"
        );
        assert_eq!(shared["QUARRY_CLUSTER"], "vec/prod");
        assert_eq!(shared["QUARRY_KAFKA_TOPIC_PREFIX"], "quarry-vec-prod-");
        assert_eq!(shared["QUARRY_S3_PREFIX"], "vec/prod");
        assert_eq!(shared["QUARRY_S3_ENDPOINT"], "http://minio:9000");
        let digest = &spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[CONFIG_DIGEST];
        let moved = desired_deployment(
            &cluster(),
            &pool("search", Role::Query, 3),
            "elsewhere:19531",
            "quarry:0.1.0",
        );
        let moved_digest = &moved
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()[CONFIG_DIGEST];
        assert_ne!(
            digest, moved_digest,
            "a configuration change rolls the pods"
        );
        assert_eq!(
            c.readiness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .path
                .as_deref(),
            Some("/readyz")
        );
        // pool defaults fill in what the pool leaves out
        assert_eq!(
            c.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"],
            Quantity("1".into())
        );
    }

    #[test]
    fn a_pool_setting_wins_over_the_cluster_default_and_proxies_listen_on_19530() {
        let mut p = pool("edge", Role::Proxy, 2);
        p.spec.resources = Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".to_string(), Quantity("4".into()))])),
            ..Default::default()
        });
        let d = desired_deployment(&cluster(), &p, "coord:19531", "quarry:0.1.0");
        let c = &d
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0];
        assert_eq!(
            c.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"],
            Quantity("4".into())
        );
        assert_eq!(env_of(&d)["QUARRY_PORT"], "19530");
        assert!(
            !env_of(&d).contains_key("QUARRY_ADVERTISE"),
            "proxies are not routed to by address"
        );
        let svc = desired_proxy_service(&cluster());
        let svc_spec = svc.spec.unwrap();
        assert_eq!(
            svc_spec.selector.unwrap()["app.kubernetes.io/component"],
            "proxy"
        );
        assert_eq!(svc_spec.ports.unwrap()[0].port, 19530);
    }

    #[test]
    fn kafka_sasl_and_tls_come_from_secrets() {
        let mut c = cluster();
        c.spec.kafka.sasl = Some(quarry_crd::SaslSpec {
            mechanism: quarry_crd::SaslMechanism::ScramSha512,
            secret: "kafka-user".into(),
        });
        c.spec.kafka.tls_secret = Some("kafka-ca".into());
        let shared = desired_config_map(&c, "coord:19531").data.unwrap();
        assert_eq!(shared["QUARRY_KAFKA_SECURITY_PROTOCOL"], "SASL_SSL");
        assert_eq!(shared["QUARRY_KAFKA_SASL_MECHANISM"], "SCRAM-SHA-512");
        assert!(!shared.values().any(|v| v.contains("password")));
        let d = desired_deployment(
            &c,
            &pool("ingest", Role::Data, 1),
            "coord:19531",
            "quarry:0.1.0",
        );
        let pod = d.spec.unwrap().template.spec.unwrap();
        let password = pod.containers[0]
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == "QUARRY_KAFKA_SASL_PASSWORD")
            .unwrap();
        let from = password
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (from.name.as_str(), from.key.as_str()),
            ("kafka-user", "password")
        );
        assert_eq!(
            pod.volumes.unwrap()[0]
                .secret
                .as_ref()
                .unwrap()
                .secret_name
                .as_deref(),
            Some("kafka-ca")
        );
        assert_eq!(
            pod.containers[0].volume_mounts.as_ref().unwrap()[0].mount_path,
            KAFKA_TLS_DIR
        );
    }

    #[test]
    fn upgrades_go_role_by_role_proxies_last() {
        let pools = |index: (&str, bool), query: (&str, bool)| {
            vec![
                PoolRollout {
                    role: Role::Index,
                    image: Some(index.0.into()),
                    settled: index.1,
                },
                PoolRollout {
                    role: Role::Query,
                    image: Some(query.0.into()),
                    settled: query.1,
                },
                PoolRollout {
                    role: Role::Proxy,
                    image: Some("v1".into()),
                    settled: true,
                },
            ]
        };
        // index nodes go first
        assert_eq!(
            rollout_image(
                "v2",
                Role::Index,
                Some("v1"),
                &pools(("v1", true), ("v1", true))
            ),
            "v2"
        );
        // query nodes wait while index nodes roll
        assert_eq!(
            rollout_image(
                "v2",
                Role::Query,
                Some("v1"),
                &pools(("v2", false), ("v1", true))
            ),
            "v1"
        );
        assert_eq!(
            rollout_image(
                "v2",
                Role::Query,
                Some("v1"),
                &pools(("v2", true), ("v1", true))
            ),
            "v2"
        );
        // proxies wait for query nodes
        assert_eq!(
            rollout_image(
                "v2",
                Role::Proxy,
                Some("v1"),
                &pools(("v2", true), ("v2", false))
            ),
            "v1"
        );
        assert_eq!(
            rollout_image(
                "v2",
                Role::Proxy,
                Some("v1"),
                &pools(("v2", true), ("v2", true))
            ),
            "v2"
        );
        // a new pool starts on the target image
        assert_eq!(
            rollout_image("v2", Role::Proxy, None, &pools(("v1", true), ("v1", true))),
            "v2"
        );
    }

    #[test]
    fn autoscaling_targets_the_node_pool() {
        let mut p = pool("search", Role::Query, 2);
        assert!(desired_hpa(&cluster(), &p).is_none());
        p.spec.autoscaling = Some(quarry_crd::Autoscaling {
            min_replicas: 2,
            max_replicas: 8,
            target_cpu_utilization: None,
        });
        let hpa = desired_hpa(&cluster(), &p).unwrap().spec.unwrap();
        assert_eq!(hpa.scale_target_ref.kind, "NodePool");
        assert_eq!(hpa.scale_target_ref.name, "search");
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 8));
        assert_eq!(
            hpa.metrics.unwrap()[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(70)
        );
    }

    #[test]
    fn pools_lose_at_most_one_pod_to_voluntary_disruptions() {
        let pdb = desired_pdb(&cluster(), &pool("search", Role::Query, 3));
        let spec = pdb.spec.unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(
            spec.selector.unwrap().match_labels.unwrap()["quarry.dev/pool"],
            "search"
        );
    }
}
