//! Storage configuration: a TOML file (`--config`) whose values command-line flags and
//! environment variables override. See docs/configuration.md for every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use quarry_storage::{
    KafkaOptions, KafkaSecurity, KafkaTls, LogBackend, LogStore, ObjectBackend, ObjectStore,
    S3Options,
};
use quarry_types::env;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub log: Option<LogConfig>,
    pub object_store: Option<ObjectStoreConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LogConfig {
    /// segmented files under `<data-dir>/log`
    Embedded,
    Kafka {
        brokers: String,
        #[serde(default = "default_topic_prefix")]
        topic_prefix: String,
        #[serde(default = "default_replication")]
        replication_factor: i32,
        /// extra librdkafka properties, e.g. `"security.protocol" = "SASL_SSL"`
        #[serde(default)]
        properties: BTreeMap<String, String>,
    },
}

fn default_topic_prefix() -> String {
    "quarry-".into()
}

fn default_replication() -> i32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ObjectStoreConfig {
    /// a directory under `<data-dir>/objects`
    Local,
    S3 {
        endpoint: Option<String>,
        bucket: String,
        #[serde(default = "default_region")]
        region: String,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        path_style: bool,
        /// falls back to `AWS_ACCESS_KEY_ID`
        access_key_id: Option<String>,
        /// falls back to `AWS_SECRET_ACCESS_KEY`
        secret_access_key: Option<String>,
        /// create the bucket at start-up when it is missing (development)
        #[serde(default)]
        create_bucket: bool,
        /// PEM file of CAs trusted besides the system's (an HTTPS endpoint with a private CA)
        #[serde(default)]
        ca_file: Option<PathBuf>,
    },
}

fn default_region() -> String {
    "us-east-1".into()
}

/// Storage flags shared by every role; each overrides the config file.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, env = env::CONFIG)]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers; selects the Kafka log.
    #[arg(long, env = env::KAFKA_BROKERS)]
    pub kafka_brokers: Option<String>,
    /// Prefix of Kafka topic names (one topic per collection).
    #[arg(long, env = env::KAFKA_TOPIC_PREFIX)]
    pub kafka_topic_prefix: Option<String>,
    /// Replication factor of the topics this process creates.
    #[arg(long, env = env::KAFKA_REPLICATION_FACTOR)]
    pub kafka_replication_factor: Option<i32>,
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    #[arg(long, env = env::KAFKA_SECURITY_PROTOCOL)]
    pub kafka_security_protocol: Option<String>,
    /// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, env = env::KAFKA_SASL_MECHANISM)]
    pub kafka_sasl_mechanism: Option<String>,
    #[arg(long, env = env::KAFKA_SASL_USERNAME)]
    pub kafka_sasl_username: Option<String>,
    #[arg(long, env = env::KAFKA_SASL_PASSWORD, hide_env_values = true)]
    pub kafka_sasl_password: Option<String>,
    /// A directory with `ca.crt` (and for mutual TLS `tls.crt`, `tls.key`), e.g. a mounted
    /// Kubernetes TLS Secret.
    #[arg(long, env = env::KAFKA_TLS_DIR)]
    pub kafka_tls_dir: Option<PathBuf>,
    /// S3 bucket; selects the S3 object store.
    #[arg(long, env = env::S3_BUCKET)]
    pub s3_bucket: Option<String>,
    /// S3 endpoint URL (omit for AWS).
    #[arg(long, env = env::S3_ENDPOINT)]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = env::S3_REGION)]
    pub s3_region: Option<String>,
    /// Key prefix inside the bucket.
    #[arg(long, env = env::S3_PREFIX)]
    pub s3_prefix: Option<String>,
    /// Path-style addressing (MinIO, moto and most on-premises servers).
    #[arg(long, env = env::S3_PATH_STYLE)]
    pub s3_path_style: Option<bool>,
    /// Create the bucket when it is missing.
    #[arg(long, env = env::S3_CREATE_BUCKET)]
    pub s3_create_bucket: Option<bool>,
    /// A PEM file of CAs to trust for an HTTPS S3 endpoint, besides the system's (e.g. the
    /// `ca.crt` of a mounted Secret).
    #[arg(long, env = env::S3_CA_FILE)]
    pub s3_ca_file: Option<PathBuf>,
}

/// Where the initial password of `root` comes from when authentication is on (it seeds `root`
/// in a catalog that has no users yet; afterwards `root` changes it with pymilvus'
/// `update_password`). There is no default password.
#[derive(Debug, Clone, clap::Args)]
pub struct RootPasswordArgs {
    /// The initial password of `root` (prefer the environment or the file to a flag).
    #[arg(long, env = env::ROOT_PASSWORD, hide_env_values = true)]
    pub root_password: Option<String>,
    /// A file holding the initial password of `root` (e.g. a mounted Kubernetes Secret); one
    /// trailing newline is ignored.
    #[arg(long, env = env::ROOT_PASSWORD_FILE, conflicts_with = "root_password")]
    pub root_password_file: Option<PathBuf>,
}

/// TLS on the Milvus port, as pymilvus connects with `secure=True` (one-way: `server_pem_path`
/// or `ca_pem_path`; mutual: `client_pem_path`, `client_key_path` and `ca_pem_path`). The files
/// are PEM, as a Kubernetes TLS Secret holds them (`tls.crt`, `tls.key`, `ca.crt`).
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// The server's certificate chain: turns TLS on for the Milvus port (plaintext clients are
    /// refused).
    #[arg(long, env = env::TLS_CERT, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The server certificate's private key.
    #[arg(long, env = env::TLS_KEY, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate issued by one of these CAs.
    #[arg(long, env = env::TLS_CLIENT_CA, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The server's TLS settings (`None`: plaintext), with the files read now so that a missing
    /// or unreadable file stops the start.
    pub fn resolve(&self) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path)
                .with_context(|| format!("reading the TLS {what} {}", path.display()))
        };
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
            read(cert, "certificate")?,
            read(key, "key")?,
        ));
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(read(ca, "client CA")?));
        }
        tracing::info!(
            mutual = self.tls_client_ca.is_some(),
            cert = %cert.display(),
            "TLS on the Milvus port"
        );
        Ok(Some(tls))
    }
}

/// The cluster's internal credential: every internal call carries it and the coordinator and
/// workers refuse calls without it. Without one, the internal ports are open.
#[derive(Debug, Clone, clap::Args)]
pub struct InternalTokenArgs {
    /// The cluster's internal token (prefer the environment or the file to a flag).
    #[arg(long, env = env::INTERNAL_TOKEN, hide_env_values = true)]
    pub internal_token: Option<String>,
    /// A file holding the cluster's internal token (e.g. a mounted Kubernetes Secret).
    #[arg(long, env = env::INTERNAL_TOKEN_FILE, conflicts_with = "internal_token")]
    pub internal_token_file: Option<PathBuf>,
}

impl InternalTokenArgs {
    /// The configured token (`None`: the internal ports are open, which is logged).
    pub fn resolve(&self) -> anyhow::Result<Option<quarry_meta::InternalToken>> {
        let text = match (&self.internal_token, &self.internal_token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the internal token file {}", path.display()))?,
            (None, None) => {
                tracing::warn!(
                    "no internal token ({}): the internal ports accept any caller",
                    env::INTERNAL_TOKEN
                );
                return Ok(None);
            }
        };
        quarry_meta::InternalToken::new(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!(e))
    }
}

impl RootPasswordArgs {
    /// The configured password, or a clear refusal to start without one.
    pub fn resolve(&self) -> anyhow::Result<String> {
        let password = match (&self.root_password, &self.root_password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the root password file {}", path.display()))?;
                let text = text.strip_suffix('\n').unwrap_or(&text);
                text.strip_suffix('\r').unwrap_or(text).to_string()
            }
            (None, None) => bail!(
                "authentication is on but no root password is configured: set {} or --root-password-file ({}), or turn authentication off with --auth=false",
                env::ROOT_PASSWORD,
                env::ROOT_PASSWORD_FILE
            ),
        };
        if password.is_empty() {
            bail!("the configured root password is empty");
        }
        Ok(password)
    }
}

impl StorageArgs {
    /// librdkafka properties from the security flags (TLS files that exist in the TLS dir).
    fn kafka_security_properties(&self) -> Vec<(String, String)> {
        KafkaSecurity {
            protocol: self.kafka_security_protocol.clone(),
            sasl_mechanism: self.kafka_sasl_mechanism.clone(),
            sasl_username: self.kafka_sasl_username.clone(),
            sasl_password: self.kafka_sasl_password.clone(),
            tls: match &self.kafka_tls_dir {
                Some(dir) => KafkaTls::Dir(dir.clone()),
                None => KafkaTls::None,
            },
        }
        .properties()
    }

    /// The file's settings with flags and environment applied on top.
    pub fn resolve(&self) -> anyhow::Result<(LogConfig, ObjectStoreConfig)> {
        let file = match &self.config {
            Some(path) => load(path)?,
            None => FileConfig::default(),
        };
        let mut log = file.log.unwrap_or(LogConfig::Embedded);
        if let Some(brokers) = &self.kafka_brokers {
            log = match log {
                LogConfig::Kafka {
                    topic_prefix,
                    replication_factor,
                    properties,
                    ..
                } => LogConfig::Kafka {
                    brokers: brokers.clone(),
                    topic_prefix,
                    replication_factor,
                    properties,
                },
                LogConfig::Embedded => LogConfig::Kafka {
                    brokers: brokers.clone(),
                    topic_prefix: default_topic_prefix(),
                    replication_factor: default_replication(),
                    properties: BTreeMap::new(),
                },
            };
        }
        if let (Some(p), LogConfig::Kafka { topic_prefix, .. }) =
            (&self.kafka_topic_prefix, &mut log)
        {
            *topic_prefix = p.clone();
        }
        if let LogConfig::Kafka {
            replication_factor,
            properties,
            ..
        } = &mut log
        {
            if let Some(r) = self.kafka_replication_factor {
                *replication_factor = r;
            }
            properties.extend(self.kafka_security_properties());
        }
        let mut store = file.object_store.unwrap_or(ObjectStoreConfig::Local);
        if let Some(bucket) = &self.s3_bucket {
            if let ObjectStoreConfig::Local = store {
                store = ObjectStoreConfig::S3 {
                    endpoint: None,
                    bucket: bucket.clone(),
                    region: default_region(),
                    prefix: String::new(),
                    path_style: false,
                    access_key_id: None,
                    secret_access_key: None,
                    create_bucket: false,
                    ca_file: None,
                };
            }
        }
        if let ObjectStoreConfig::S3 {
            endpoint,
            bucket,
            region,
            prefix,
            path_style,
            create_bucket,
            ca_file,
            ..
        } = &mut store
        {
            if self.s3_ca_file.is_some() {
                *ca_file = self.s3_ca_file.clone();
            }
            override_with(bucket, &self.s3_bucket);
            override_with(region, &self.s3_region);
            override_with(prefix, &self.s3_prefix);
            override_with(path_style, &self.s3_path_style);
            override_with(create_bucket, &self.s3_create_bucket);
            if self.s3_endpoint.is_some() {
                *endpoint = self.s3_endpoint.clone();
            }
        } else if self.s3_endpoint.is_some()
            || self.s3_prefix.is_some()
            || self.s3_ca_file.is_some()
        {
            bail!("--s3-endpoint/--s3-prefix/--s3-ca-file need an S3 bucket (--s3-bucket or [object_store] kind = \"s3\")");
        }
        Ok((log, store))
    }
}

fn override_with<T: Clone>(slot: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *slot = v.clone();
    }
}

fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

impl ObjectStoreConfig {
    /// The store to open; a local one lives under `data_dir/objects`. S3 credentials the
    /// configuration leaves out come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN`.
    pub fn backend(&self, data_dir: &Path) -> anyhow::Result<ObjectBackend> {
        Ok(match self {
            ObjectStoreConfig::Local => ObjectBackend::Local(data_dir.join("objects")),
            ObjectStoreConfig::S3 {
                endpoint,
                bucket,
                region,
                prefix,
                path_style,
                access_key_id,
                secret_access_key,
                create_bucket,
                ca_file,
            } => {
                let mut o = S3Options::new(bucket.clone());
                if let Some(path) = ca_file {
                    o.ca_pem =
                        Some(std::fs::read(path).with_context(|| {
                            format!("reading the S3 CA file {}", path.display())
                        })?);
                }
                o.endpoint = endpoint.clone();
                o.region = region.clone();
                o.prefix = prefix.trim_matches('/').to_string();
                o.path_style = *path_style;
                o.access_key_id = access_key_id
                    .clone()
                    .or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok())
                    .unwrap_or_default();
                o.secret_access_key = secret_access_key
                    .clone()
                    .or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok())
                    .unwrap_or_default();
                o.session_token = std::env::var("AWS_SESSION_TOKEN").ok();
                ObjectBackend::S3 {
                    options: o,
                    create_bucket: *create_bucket,
                }
            }
        })
    }
}

impl LogConfig {
    /// The log to open; an embedded one lives under `data_dir/log`.
    pub fn backend(&self, data_dir: &Path) -> LogBackend {
        match self {
            LogConfig::Embedded => LogBackend::Embedded(data_dir.join("log")),
            LogConfig::Kafka {
                brokers,
                topic_prefix,
                replication_factor,
                properties,
            } => {
                let mut o = KafkaOptions::new(brokers.clone());
                o.topic_prefix = topic_prefix.clone();
                o.replication_factor = *replication_factor;
                o.client_properties = properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                LogBackend::Kafka(o)
            }
        }
    }
}

/// Opens the configured object store; a local one lives under `data_dir/objects`.
pub async fn open_store(
    store: &ObjectStoreConfig,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let backend = store.backend(data_dir)?;
    backend.open().await.with_context(|| match backend {
        ObjectBackend::S3 { .. } => "opening the S3 object store",
        ObjectBackend::Local(_) => "opening the local object store",
    })
}

/// Opens the configured log and object store; local kinds live under `data_dir`.
pub async fn open_backends(
    log: &LogConfig,
    store: &ObjectStoreConfig,
    data_dir: &Path,
) -> anyhow::Result<(Arc<dyn ObjectStore>, Arc<dyn LogStore>)> {
    let backend = log.backend(data_dir);
    let log = backend.open().with_context(|| match backend {
        LogBackend::Kafka(_) => "connecting to kafka",
        LogBackend::Embedded(_) => "opening the embedded log",
    })?;
    let store = open_store(store, data_dir).await?;
    Ok((store, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_cluster_file() {
        let f: FileConfig = toml::from_str(
            r#"
            [log]
            kind = "kafka"
            brokers = "k1:9092,k2:9092"
            properties = { "security.protocol" = "SASL_SSL" }
            [object_store]
            kind = "s3"
            endpoint = "http://minio:9000"
            bucket = "quarry"
            path_style = true
            "#,
        )
        .unwrap();
        assert!(
            matches!(f.log, Some(LogConfig::Kafka { ref brokers, replication_factor: 1, .. }) if brokers == "k1:9092,k2:9092")
        );
        assert!(
            matches!(f.object_store, Some(ObjectStoreConfig::S3 { path_style: true, ref region, .. }) if region == "us-east-1")
        );
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = toml::from_str::<FileConfig>(
            "[log]\nkind = \"kafka\"\nbrokers = \"x\"\nbrokerz = \"y\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("brokerz"), "{err}");
    }

    #[test]
    fn kafka_security_comes_from_the_environment_the_operator_sets() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            storage: StorageArgs,
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "pem").unwrap();
        let cli = Cli::parse_from([
            "quarry",
            "--kafka-brokers=k:9093",
            "--kafka-replication-factor=3",
            "--kafka-security-protocol=SASL_SSL",
            "--kafka-sasl-mechanism=SCRAM-SHA-512",
            "--kafka-sasl-username=u",
            "--kafka-sasl-password=p",
            &format!("--kafka-tls-dir={}", dir.path().display()),
        ]);
        let (log, _) = cli.storage.resolve().unwrap();
        let LogConfig::Kafka {
            replication_factor,
            properties,
            ..
        } = log
        else {
            panic!("kafka expected")
        };
        assert_eq!(replication_factor, 3);
        assert_eq!(properties["security.protocol"], "SASL_SSL");
        assert_eq!(properties["sasl.username"], "u");
        assert_eq!(
            properties["ssl.ca.location"],
            dir.path().join("ca.crt").display().to_string()
        );
        assert!(
            !properties.contains_key("ssl.key.location"),
            "only files that exist"
        );
    }
}
