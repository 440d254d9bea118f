//! A `QuarryCluster`'s storage settings with the defaults filled in: what its pods get as
//! environment (through the cluster's ConfigMap) and what the operator's coordinator for the
//! cluster opens. Defaults live here, never in the user's spec.

use std::collections::BTreeMap;

use quarry_crd::{QuarryCluster, SaslMechanism};
use quarry_storage::{
    security_protocol, KafkaOptions, KafkaSecurity, KafkaTls, LogBackend, ObjectBackend, S3Options,
};
use quarry_types::env;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `namespace/name`: how pods name their cluster to the operator's coordinator
    pub key: String,
    pub brokers: String,
    pub topic_prefix: String,
    pub replication_factor: i32,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub credentials_secret: Option<String>,
    pub sasl: Option<(SaslMechanism, String)>,
    pub tls_secret: Option<String>,
    /// TLS on the proxies' Milvus port: the Secret, and whether clients need certificates
    pub milvus_tls: Option<(String, bool)>,
    /// the Secret with the `ca.crt` of a private S3 endpoint
    pub s3_ca_secret: Option<String>,
}

/// Where pods mount the Kafka TLS secret.
pub const KAFKA_TLS_DIR: &str = "/etc/quarry/kafka-tls";
/// Where pods mount the S3 endpoint's CA secret.
pub const S3_CA_DIR: &str = "/etc/quarry/s3-ca";
/// Where proxies mount the Milvus port's TLS secret.
pub const MILVUS_TLS_DIR: &str = "/etc/quarry/tls";

pub fn sasl_name(m: SaslMechanism) -> &'static str {
    match m {
        SaslMechanism::Plain => "PLAIN",
        SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
        SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
    }
}

impl Settings {
    pub fn of(cluster: &QuarryCluster) -> Self {
        let spec = &cluster.spec;
        let name = cluster.metadata.name.clone().unwrap_or_default();
        let ns = cluster
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        Self {
            key: format!("{ns}/{name}"),
            brokers: spec.kafka.bootstrap_servers.clone(),
            topic_prefix: spec
                .kafka
                .topic_prefix
                .clone()
                .unwrap_or_else(|| format!("quarry-{ns}-{name}-")),
            replication_factor: spec.kafka.replication_factor.unwrap_or(3),
            bucket: spec.s3.bucket.clone(),
            region: spec.s3.region.clone().unwrap_or_else(|| "us-east-1".into()),
            prefix: spec
                .s3
                .prefix
                .clone()
                .unwrap_or_else(|| format!("{ns}/{name}")),
            endpoint: spec.s3.endpoint.clone(),
            path_style: spec.s3.path_style.unwrap_or(false),
            credentials_secret: spec.s3.credentials_secret.as_ref().map(|s| s.name.clone()),
            sasl: spec
                .kafka
                .sasl
                .as_ref()
                .map(|s| (s.mechanism, s.secret.clone())),
            tls_secret: spec.kafka.tls_secret.clone(),
            milvus_tls: spec
                .tls
                .as_ref()
                .map(|t| (t.secret.clone(), t.mutual.unwrap_or(false))),
            s3_ca_secret: spec.s3.ca_secret.clone(),
        }
    }

    /// librdkafka's `security.protocol` for these settings.
    pub fn security_protocol(&self) -> &'static str {
        security_protocol(self.sasl.is_some(), self.tls_secret.is_some())
    }

    /// The log and object store the operator opens for the cluster's coordinator: Kafka and
    /// S3 as the cluster's pods use them, with the credentials read from its Secrets.
    pub fn backends(&self, creds: &Credentials) -> (LogBackend, ObjectBackend) {
        let mut k = KafkaOptions::new(self.brokers.clone());
        k.topic_prefix = self.topic_prefix.clone();
        k.replication_factor = self.replication_factor;
        k.client_properties = kafka_properties(self, creds);
        let mut o = S3Options::new(self.bucket.clone());
        o.endpoint = self.endpoint.clone();
        o.region = self.region.clone();
        o.prefix = self.prefix.trim_matches('/').to_string();
        o.path_style = self.path_style;
        if let Some((id, secret)) = &creds.s3 {
            o.access_key_id = id.clone();
            o.secret_access_key = secret.clone();
        }
        o.ca_pem = creds.s3_ca.clone().map(String::into_bytes);
        (
            LogBackend::Kafka(k),
            ObjectBackend::S3 {
                options: o,
                create_bucket: false,
            },
        )
    }

    /// The environment every pod of the cluster shares (the ConfigMap's data); secrets are
    /// not in it (see docs/configuration.md for each variable).
    pub fn env(&self, coordinator: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([
            (env::COORDINATOR.to_string(), coordinator.to_string()),
            (env::CLUSTER.into(), self.key.clone()),
            (env::KAFKA_BROKERS.into(), self.brokers.clone()),
            (env::KAFKA_TOPIC_PREFIX.into(), self.topic_prefix.clone()),
            (
                env::KAFKA_REPLICATION_FACTOR.into(),
                self.replication_factor.to_string(),
            ),
            (
                env::KAFKA_SECURITY_PROTOCOL.into(),
                self.security_protocol().into(),
            ),
            (env::S3_BUCKET.into(), self.bucket.clone()),
            (env::S3_REGION.into(), self.region.clone()),
            (env::S3_PREFIX.into(), self.prefix.clone()),
            (env::S3_PATH_STYLE.into(), self.path_style.to_string()),
        ]);
        if let Some(endpoint) = &self.endpoint {
            env.insert(env::S3_ENDPOINT.into(), endpoint.clone());
        }
        if let Some((mechanism, _)) = &self.sasl {
            env.insert(
                env::KAFKA_SASL_MECHANISM.into(),
                sasl_name(*mechanism).into(),
            );
        }
        if self.tls_secret.is_some() {
            env.insert(env::KAFKA_TLS_DIR.into(), KAFKA_TLS_DIR.into());
        }
        if self.s3_ca_secret.is_some() {
            env.insert(env::S3_CA_FILE.into(), format!("{S3_CA_DIR}/ca.crt"));
        }
        env
    }
}

/// Secret values the operator itself needs to open a cluster's storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// S3 access key id and secret
    pub s3: Option<(String, String)>,
    /// SASL username and password
    pub sasl: Option<(String, String)>,
    /// Kafka TLS PEMs: CA, and for mutual TLS certificate and key
    pub tls_ca: Option<String>,
    pub tls_cert: Option<(String, String)>,
    /// the PEM CA of a private S3 endpoint
    pub s3_ca: Option<String>,
    /// the cluster's internal token: the hosted coordinator serves only calls carrying it
    pub internal_token: Option<quarry_meta::InternalToken>,
}

/// librdkafka properties for the operator's own Kafka client.
pub fn kafka_properties(settings: &Settings, creds: &Credentials) -> Vec<(String, String)> {
    let sasl = match (&settings.sasl, &creds.sasl) {
        (Some((mechanism, _)), Some(user_password)) => Some((*mechanism, user_password.clone())),
        _ => None,
    };
    KafkaSecurity {
        protocol: Some(settings.security_protocol().into()),
        sasl_mechanism: sasl.as_ref().map(|(m, _)| sasl_name(*m).into()),
        sasl_username: sasl.as_ref().map(|(_, (user, _))| user.clone()),
        sasl_password: sasl.map(|(_, (_, password))| password),
        tls: KafkaTls::Pem {
            ca: creds.tls_ca.clone(),
            cert_and_key: creds.tls_cert.clone(),
        },
    }
    .properties()
}
