//! The Deployment of a pool: the role's process, its environment, probes and scheduling.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PodSpec, PodTemplateSpec, Probe, SecretEnvSource,
    SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use quarry_crd::{NodePool, QuarryCluster, Role};
use quarry_types::env;

use super::cluster::{
    config_digest, config_map_name, internal_token_secret_name, root_password_secret_name,
    INTERNAL_TOKEN_KEY, ROOT_PASSWORD_KEY,
};
use super::{name_of, pool_object, security, HTTP_PORT, MILVUS_PORT, WORKER_PORT};
use crate::settings::{Settings, KAFKA_TLS_DIR, MILVUS_TLS_DIR, S3_CA_DIR};

fn value_env(name: &str, value: impl Into<String>) -> EnvVar {
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
        field_env(env::NODE_ID, "metadata.name"),
        value_env(env::PORT, port.to_string()),
        value_env(env::HTTP_PORT, HTTP_PORT.to_string()),
        // the pool: collections loaded into it are placed on its query nodes only
        value_env(env::POOL, name_of(&pool.metadata)),
    ];
    if matches!(role, Role::Query | Role::Data) {
        env.push(value_env(
            env::ADVERTISE,
            format!("$(POD_IP):{WORKER_PORT}"),
        ));
    }
    // every internal call carries the cluster's token (nodes to the coordinator, proxies to
    // workers), and the workers check it
    env.push(secret_env(
        env::INTERNAL_TOKEN,
        &internal_token_secret_name(&name_of(&cluster.metadata)),
        INTERNAL_TOKEN_KEY,
    ));
    if role == Role::Proxy {
        // proxies authenticate clients; `root`'s initial password from the cluster's Secret
        env.push(secret_env(
            env::ROOT_PASSWORD,
            &root_password_secret_name(&name_of(&cluster.metadata)),
            ROOT_PASSWORD_KEY,
        ));
    }
    if let Some((_, secret)) = &settings.sasl {
        env.push(secret_env(env::KAFKA_SASL_USERNAME, secret, "username"));
        env.push(secret_env(env::KAFKA_SASL_PASSWORD, secret, "password"));
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
    // a read-only root filesystem: /tmp is an emptyDir
    let (tmp, tmp_mount) = security::tmp_volume();
    let (mut volumes, mut mounts) = (vec![tmp], vec![tmp_mount]);
    // Secrets mounted read-only: the Kafka TLS files, the S3 CA, the proxies' TLS certificate
    let mut mount_secret = |name: &str, secret: &str, path: &str| {
        volumes.push(Volume {
            name: name.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            read_only: Some(true),
            ..Default::default()
        });
    };
    if let Some(secret) = &settings.tls_secret {
        mount_secret("kafka-tls", secret, KAFKA_TLS_DIR);
    }
    if let Some(secret) = &settings.s3_ca_secret {
        mount_secret("s3-ca", secret, S3_CA_DIR);
    }
    if let (Role::Proxy, Some((secret, mutual))) = (role, &settings.milvus_tls) {
        // the Milvus port speaks TLS with the Secret's certificate (a TLS Secret's key names)
        mount_secret("milvus-tls", secret, MILVUS_TLS_DIR);
        let file = |key: &str| format!("{MILVUS_TLS_DIR}/{key}");
        env.push(value_env(env::TLS_CERT, file("tls.crt")));
        env.push(value_env(env::TLS_KEY, file("tls.key")));
        if *mutual {
            env.push(value_env(env::TLS_CLIENT_CA, file("ca.crt")));
        }
    }
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
        name: role.command().into(),
        image: Some(image.to_string()),
        args: Some(vec![role.command().into()]),
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
        volume_mounts: Some(mounts),
        security_context: Some(security::container_security_context()),
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
                    volumes: Some(volumes),
                    security_context: Some(security::pod_security_context()),
                    // the data plane never calls the Kubernetes API
                    automount_service_account_token: Some(false),
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;
    use crate::plan::fixtures::{cluster, env_of, pool};
    use crate::plan::{desired_config_map, desired_proxy_service};

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
    fn proxies_get_the_root_password_from_the_clusters_secret() {
        let c = cluster();
        for role in Role::ALL {
            let d = desired_deployment(&c, &pool("p", role, 1), "coord:19531", "quarry:1");
            let pod = d.spec.unwrap().template.spec.unwrap();
            let env = pod.containers[0].env.clone().unwrap_or_default();
            let root = env.iter().find(|e| e.name == "QUARRY_ROOT_PASSWORD");
            if role != Role::Proxy {
                assert!(root.is_none(), "{role:?}");
                continue;
            }
            let from = root.unwrap().value_from.as_ref().unwrap();
            let key = from.secret_key_ref.as_ref().unwrap();
            assert_eq!(
                (key.name.as_str(), key.key.as_str()),
                (
                    root_password_secret_name(&name_of(&c.metadata)).as_str(),
                    "password"
                )
            );
        }
    }

    #[test]
    fn every_data_plane_pod_passes_the_restricted_pod_security_standard() {
        let mut c = cluster();
        for tls in [None, Some("kafka-tls".to_string())] {
            c.spec.kafka.tls_secret = tls;
            for role in Role::ALL {
                let d = desired_deployment(&c, &pool("p", role, 1), "coord:19531", "quarry:1");
                let pod = d.spec.unwrap().template.spec.unwrap();
                assert_eq!(
                    crate::plan::restricted_violations(&pod),
                    Vec::<String>::new(),
                    "{role:?}"
                );
                assert_eq!(pod.automount_service_account_token, Some(false));
                let sc = pod.containers[0].security_context.clone().unwrap();
                assert_eq!(sc.read_only_root_filesystem, Some(true));
            }
        }
        // the checker itself refuses what the standard refuses
        let mut bad = desired_deployment(&c, &pool("p", Role::Query, 1), "c:1", "q:1")
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        bad.security_context = None;
        bad.containers[0].security_context = None;
        bad.host_network = Some(true);
        let found = crate::plan::restricted_violations(&bad);
        for rule in [
            "host namespaces",
            "allowPrivilegeEscalation",
            "drop ALL",
            "runAsNonRoot",
            "seccompProfile",
        ] {
            assert!(found.iter().any(|f| f.contains(rule)), "{rule}: {found:?}");
        }
    }

    #[test]
    fn every_pod_gets_the_clusters_internal_token() {
        let c = cluster();
        for role in Role::ALL {
            let d = desired_deployment(&c, &pool("p", role, 1), "coord:19531", "quarry:1");
            let pod = d.spec.unwrap().template.spec.unwrap();
            let env = pod.containers[0].env.clone().unwrap_or_default();
            let token = env
                .iter()
                .find(|e| e.name == "QUARRY_INTERNAL_TOKEN")
                .unwrap();
            let key = token
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap();
            assert_eq!(
                (key.name.as_str(), key.key.as_str()),
                (
                    internal_token_secret_name(&name_of(&c.metadata)).as_str(),
                    "token"
                ),
                "{role:?}"
            );
        }
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
        let tls = pod
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == "kafka-tls");
        assert_eq!(
            tls.unwrap().secret.as_ref().unwrap().secret_name.as_deref(),
            Some("kafka-ca")
        );
        let mounts = pod.containers[0].volume_mounts.as_ref().unwrap();
        let mount = mounts.iter().find(|m| m.name == "kafka-tls").unwrap();
        assert_eq!(mount.mount_path, KAFKA_TLS_DIR);
    }

    /// Every pod mounts the S3 CA Secret and the shared environment points at its `ca.crt`.
    #[test]
    fn pods_trust_the_s3_ca_from_its_secret() {
        let mut c = cluster();
        c.spec.s3.ca_secret = Some("minio-ca".into());
        let shared = desired_config_map(&c, "coord:19531").data.unwrap();
        assert_eq!(shared["QUARRY_S3_CA_FILE"], format!("{S3_CA_DIR}/ca.crt"));
        for role in Role::ALL {
            let d = desired_deployment(&c, &pool("p", role, 1), "coord:19531", "quarry:1");
            let pod = d.spec.unwrap().template.spec.unwrap();
            let volume = pod
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == "s3-ca")
                .unwrap();
            let secret = volume.secret.as_ref().unwrap();
            assert_eq!(secret.secret_name.as_deref(), Some("minio-ca"));
            let mounts = pod.containers[0].volume_mounts.as_ref().unwrap();
            let mount = mounts.iter().find(|m| m.name == "s3-ca").unwrap();
            assert_eq!(mount.mount_path, S3_CA_DIR);
        }
    }

    /// Proxies, and only proxies, mount the Milvus port's TLS Secret and are told its files;
    /// the client CA only for mutual TLS.
    #[test]
    fn proxies_serve_tls_from_the_cluster_secret() {
        for mutual in [false, true] {
            let mut c = cluster();
            c.spec.tls = Some(quarry_crd::MilvusTlsSpec {
                secret: "quarry-tls".into(),
                mutual: Some(mutual),
            });
            for role in Role::ALL {
                let d = desired_deployment(&c, &pool("p", role, 1), "coord:19531", "quarry:1");
                let pod = d.spec.unwrap().template.spec.unwrap();
                let env: BTreeMap<String, Option<String>> = pod.containers[0]
                    .env
                    .iter()
                    .flatten()
                    .map(|e| (e.name.clone(), e.value.clone()))
                    .collect();
                let volume = pod
                    .volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == "milvus-tls");
                if role != Role::Proxy {
                    assert!(volume.is_none() && !env.contains_key("QUARRY_TLS_CERT"));
                    continue;
                }
                let secret = volume.unwrap().secret.as_ref().unwrap();
                assert_eq!(secret.secret_name.as_deref(), Some("quarry-tls"));
                let mounts = pod.containers[0].volume_mounts.as_ref().unwrap();
                let mount = mounts.iter().find(|m| m.name == "milvus-tls").unwrap();
                assert_eq!(mount.mount_path, MILVUS_TLS_DIR);
                assert_eq!(mount.read_only, Some(true));
                let path = |k: &str| Some(Some(format!("{MILVUS_TLS_DIR}/{k}")));
                assert_eq!(env.get("QUARRY_TLS_CERT").cloned(), path("tls.crt"));
                assert_eq!(env.get("QUARRY_TLS_KEY").cloned(), path("tls.key"));
                let ca = env.get("QUARRY_TLS_CLIENT_CA").cloned();
                assert_eq!(ca, if mutual { path("ca.crt") } else { None });
            }
        }
    }
}
