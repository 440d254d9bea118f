//! The `QUARRY_*` environment of `quarry` processes: the names its flags read
//! (docs/configuration.md) and the ones quarry-operator sets in the pods it renders, in one
//! place, so that the two sides cannot drift apart. The node's tests check that its flags read
//! exactly [`READ_BY_NODES`]; the operator's that its pods get exactly [`SET_BY_OPERATOR`].

/// TOML configuration file.
pub const CONFIG: &str = "QUARRY_CONFIG";
/// Directory of the embedded log and the local object store.
pub const DATA_DIR: &str = "QUARRY_DATA_DIR";
/// gRPC port (Milvus, Worker or Coord service).
pub const PORT: &str = "QUARRY_PORT";
/// HTTP port: `/healthz`, `/readyz`, `/metrics`.
pub const HTTP_PORT: &str = "QUARRY_HTTP_PORT";
/// Address the servers bind to.
pub const LISTEN: &str = "QUARRY_LISTEN";
/// Rows at which a shard's growing data is sealed.
pub const SEGMENT_ROWS: &str = "QUARRY_SEGMENT_ROWS";
/// Coordinator: how long a node may miss heartbeats.
pub const LEASE_MS: &str = "QUARRY_LEASE_MS";
/// The coordinator's internal address.
pub const COORDINATOR: &str = "QUARRY_COORDINATOR";
/// `namespace/name` of the node's cluster.
pub const CLUSTER: &str = "QUARRY_CLUSTER";
/// The node's pool (its NodePool).
pub const POOL: &str = "QUARRY_POOL";
/// Address other processes reach a worker at.
pub const ADVERTISE: &str = "QUARRY_ADVERTISE";
/// Stable node name.
pub const NODE_ID: &str = "QUARRY_NODE_ID";

/// Authentication on the Milvus port (`true`/`false`).
pub const AUTH: &str = "QUARRY_AUTH";
/// The initial password of `root` when authentication is on.
pub const ROOT_PASSWORD: &str = "QUARRY_ROOT_PASSWORD";
/// A file holding the initial password of `root` (a mounted Kubernetes Secret).
pub const ROOT_PASSWORD_FILE: &str = "QUARRY_ROOT_PASSWORD_FILE";
/// TLS on the Milvus port: the server's certificate chain (PEM).
pub const TLS_CERT: &str = "QUARRY_TLS_CERT";
/// TLS on the Milvus port: the server's private key (PEM).
pub const TLS_KEY: &str = "QUARRY_TLS_KEY";
/// Mutual TLS on the Milvus port: the CA bundle (PEM) client certificates must chain to.
pub const TLS_CLIENT_CA: &str = "QUARRY_TLS_CLIENT_CA";
/// A file the audit log is appended to (standalone and proxies; off when unset).
pub const AUDIT_LOG: &str = "QUARRY_AUDIT_LOG";
/// The cluster's internal credential (coordinator and nodes).
pub const INTERNAL_TOKEN: &str = "QUARRY_INTERNAL_TOKEN";
/// A file holding the cluster's internal credential.
pub const INTERNAL_TOKEN_FILE: &str = "QUARRY_INTERNAL_TOKEN_FILE";

pub const KAFKA_BROKERS: &str = "QUARRY_KAFKA_BROKERS";
pub const KAFKA_TOPIC_PREFIX: &str = "QUARRY_KAFKA_TOPIC_PREFIX";
pub const KAFKA_REPLICATION_FACTOR: &str = "QUARRY_KAFKA_REPLICATION_FACTOR";
pub const KAFKA_SECURITY_PROTOCOL: &str = "QUARRY_KAFKA_SECURITY_PROTOCOL";
pub const KAFKA_SASL_MECHANISM: &str = "QUARRY_KAFKA_SASL_MECHANISM";
pub const KAFKA_SASL_USERNAME: &str = "QUARRY_KAFKA_SASL_USERNAME";
pub const KAFKA_SASL_PASSWORD: &str = "QUARRY_KAFKA_SASL_PASSWORD";
/// Directory with `ca.crt` (and `tls.crt`, `tls.key`).
pub const KAFKA_TLS_DIR: &str = "QUARRY_KAFKA_TLS_DIR";

pub const S3_BUCKET: &str = "QUARRY_S3_BUCKET";
pub const S3_ENDPOINT: &str = "QUARRY_S3_ENDPOINT";
pub const S3_REGION: &str = "QUARRY_S3_REGION";
pub const S3_PREFIX: &str = "QUARRY_S3_PREFIX";
pub const S3_PATH_STYLE: &str = "QUARRY_S3_PATH_STYLE";
pub const S3_CREATE_BUCKET: &str = "QUARRY_S3_CREATE_BUCKET";
/// A PEM file of CAs trusted for an HTTPS S3 endpoint, besides the system's.
pub const S3_CA_FILE: &str = "QUARRY_S3_CA_FILE";

/// Every variable the flags of the `quarry` binary read (any subcommand).
/// Seconds between passes of the garbage sweep (0 disables it); environment only, no flag.
pub const GC_INTERVAL_SECONDS: &str = "QUARRY_GC_INTERVAL_SECONDS";
/// Minimum age of an unreferenced file before the sweep deletes it; environment only.
pub const GC_GRACE_SECONDS: &str = "QUARRY_GC_GRACE_SECONDS";

/// Read from the environment directly (not through a flag) by the processes that own a
/// catalog: standalone, the coordinator and quarry-operator (docs/configuration.md, "Garbage
/// sweep").
pub const READ_FROM_ENV_ONLY: &[&str] = &[GC_INTERVAL_SECONDS, GC_GRACE_SECONDS];

pub const READ_BY_NODES: &[&str] = &[
    CONFIG,
    DATA_DIR,
    PORT,
    HTTP_PORT,
    LISTEN,
    SEGMENT_ROWS,
    LEASE_MS,
    COORDINATOR,
    CLUSTER,
    POOL,
    ADVERTISE,
    NODE_ID,
    AUTH,
    ROOT_PASSWORD,
    ROOT_PASSWORD_FILE,
    TLS_CERT,
    TLS_KEY,
    TLS_CLIENT_CA,
    AUDIT_LOG,
    INTERNAL_TOKEN,
    INTERNAL_TOKEN_FILE,
    KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX,
    KAFKA_REPLICATION_FACTOR,
    KAFKA_SECURITY_PROTOCOL,
    KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD,
    KAFKA_TLS_DIR,
    S3_BUCKET,
    S3_ENDPOINT,
    S3_REGION,
    S3_PREFIX,
    S3_PATH_STYLE,
    S3_CREATE_BUCKET,
    S3_CA_FILE,
];

/// Every variable quarry-operator may set in a pod it renders (the cluster's ConfigMap and the
/// container's own env, secret references included), with every option of a cluster on.
pub const SET_BY_OPERATOR: &[&str] = &[
    COORDINATOR,
    CLUSTER,
    POOL,
    ADVERTISE,
    NODE_ID,
    PORT,
    HTTP_PORT,
    ROOT_PASSWORD,
    TLS_CERT,
    TLS_KEY,
    TLS_CLIENT_CA,
    INTERNAL_TOKEN,
    KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX,
    KAFKA_REPLICATION_FACTOR,
    KAFKA_SECURITY_PROTOCOL,
    KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD,
    KAFKA_TLS_DIR,
    S3_BUCKET,
    S3_ENDPOINT,
    S3_REGION,
    S3_PREFIX,
    S3_PATH_STYLE,
    S3_CA_FILE,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn what_the_operator_sets_nodes_read() {
        let read: BTreeSet<_> = READ_BY_NODES.iter().collect();
        let set: BTreeSet<_> = SET_BY_OPERATOR.iter().collect();
        assert_eq!(read.len(), READ_BY_NODES.len(), "listed once");
        assert_eq!(set.len(), SET_BY_OPERATOR.len(), "listed once");
        assert!(set.is_subset(&read), "{:?}", set.difference(&read));
        assert!(read.iter().all(|n| n.starts_with("QUARRY_")));
    }
}
