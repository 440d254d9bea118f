//! Object store on any S3-compatible endpoint (aws-sdk-s3): path-style or virtual-host
//! addressing, multipart upload for large objects, the SDK's standard retries with exponential
//! backoff, and `If-None-Match: *` for conditional puts (catalog commits). Every attempt has
//! a connect timeout and a time-to-first-byte timeout, so a server that stops answering costs a
//! retry instead of holding a flush, an index build or a load for ever.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;

use super::{check_key, ObjectInfo, ObjectStore};
use crate::{Result, StorageError};

/// Time to open a connection to the endpoint, per attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time from sending a request to the first byte of its answer, per attempt (the body of a
/// large object may take longer; this bounds a server that never answers).
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct S3Options {
    /// e.g. `http://127.0.0.1:9000`; `None` means AWS itself
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `http://host/bucket/key` instead of `http://bucket.host/key` (MinIO, moto, most on-prem)
    pub path_style: bool,
    /// every key is stored under this prefix (no leading or trailing `/`); may be empty
    pub prefix: String,
    /// objects at least this large are uploaded in parts
    pub multipart_threshold: usize,
    /// part size of multipart uploads (S3 requires at least 5 MiB for all but the last)
    pub part_size: usize,
    /// attempts per request, retried with exponential backoff
    pub max_attempts: u32,
    /// PEM certificates of CAs trusted besides the system's (an HTTPS endpoint with a private
    /// CA, e.g. MinIO with its own certificates)
    pub ca_pem: Option<Vec<u8>>,
}

impl S3Options {
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            endpoint: None,
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            session_token: None,
            path_style: false,
            prefix: String::new(),
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            max_attempts: 5,
            ca_pem: None,
        }
    }
}

pub struct S3ObjectStore {
    client: Client,
    options: S3Options,
}

impl std::fmt::Debug for S3ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ObjectStore")
            .field("bucket", &self.options.bucket)
            .field("prefix", &self.options.prefix)
            .finish()
    }
}

fn s3err<E: std::fmt::Debug>(op: &str, key: &str, e: &SdkError<E>) -> StorageError {
    let detail = match e {
        SdkError::ServiceError(s) => format!("status {}: {:?}", s.raw().status().as_u16(), s.err()),
        other => format!("{other:?}"),
    };
    StorageError::Backend {
        backend: "s3",
        message: format!("{op} {key}: {detail}"),
    }
}

/// An HTTPS client trusting the system's CAs and the certificates of `pem`.
fn https_client_trusting(pem: &[u8]) -> Result<aws_sdk_s3::config::SharedHttpClient> {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    // the connector parses these as a root store when it connects, and panics on one it
    // cannot parse: parse them the same way now, refusing what it would not take
    let refused = |why: String| StorageError::Backend {
        backend: "s3",
        message: format!("the S3 CA file: {why}"),
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| refused(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(refused("it holds no PEM certificate".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| refused(format!("a certificate cannot be used as a CA: {e}")))?;
    }
    let trust = TrustStore::empty()
        .with_native_roots(true)
        .with_pem_certificate(pem.to_vec());
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| StorageError::Backend {
            backend: "s3",
            message: format!("the S3 TLS settings: {e}"),
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3ObjectStore {
    /// The store's client; refused when `ca_pem` holds no PEM certificate.
    pub fn new(options: S3Options) -> Result<Self> {
        let creds = Credentials::new(
            options.access_key_id.clone(),
            options.secret_access_key.clone(),
            options.session_token.clone(),
            None,
            "quarry-config",
        );
        let mut conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(options.region.clone()))
            .credentials_provider(creds)
            .force_path_style(options.path_style)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(options.max_attempts)
                    .with_initial_backoff(Duration::from_millis(100)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(FIRST_BYTE_TIMEOUT)
                    .build(),
            );
        if let Some(endpoint) = &options.endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        if let Some(pem) = &options.ca_pem {
            conf = conf.http_client(https_client_trusting(pem)?);
        }
        Ok(Self {
            client: Client::from_conf(conf.build()),
            options,
        })
    }

    /// Creates the bucket when it does not exist (development and tests; production buckets are
    /// provisioned outside Quarry).
    pub async fn ensure_bucket(&self) -> Result<()> {
        if self
            .client
            .head_bucket()
            .bucket(&self.options.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.options.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(status(&e), Some(409)) => Ok(()),
            Err(e) => Err(s3err("create bucket", &self.options.bucket, &e)),
        }
    }

    fn full_key(&self, key: &str) -> String {
        if self.options.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{}", self.options.prefix, key)
        }
    }

    async fn put_multipart(&self, full: &str, data: Bytes) -> Result<()> {
        let bucket = &self.options.bucket;
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(full)
            .send()
            .await
            .map_err(|e| s3err("start upload", full, &e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let result = async {
            let mut parts = Vec::new();
            for (i, chunk) in data.chunks(self.options.part_size.max(5 << 20)).enumerate() {
                let n = i as i32 + 1;
                let part = self
                    .client
                    .upload_part()
                    .bucket(bucket)
                    .key(full)
                    .upload_id(&upload_id)
                    .part_number(n)
                    .body(ByteStream::from(data.slice_ref(chunk)))
                    .send()
                    .await
                    .map_err(|e| s3err("upload part", full, &e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .build(),
                );
            }
            let done = CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build();
            self.client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(full)
                .upload_id(&upload_id)
                .multipart_upload(done)
                .send()
                .await
                .map_err(|e| s3err("complete upload", full, &e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(full)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        let full = self.full_key(key);
        if data.len() >= self.options.multipart_threshold {
            return self.put_multipart(&full, data).await;
        }
        self.client
            .put_object()
            .bucket(&self.options.bucket)
            .key(&full)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| s3err("put", &full, &e))?;
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        let full = self.full_key(key);
        let mut backoff = Duration::from_millis(50);
        for _ in 0..8 {
            let sent = self
                .client
                .put_object()
                .bucket(&self.options.bucket)
                .key(&full)
                .if_none_match("*")
                .body(ByteStream::from(data.clone()))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if status(&e) == Some(412) => {
                    return Err(StorageError::AlreadyExists(key.to_string()))
                }
                // 409: a concurrent conditional write is in flight; its outcome decides ours
                Err(e) if status(&e) == Some(409) => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(e) => return Err(s3err("conditional put", &full, &e)),
            }
        }
        Err(StorageError::Backend {
            backend: "s3",
            message: format!("conditional put {full}: kept conflicting"),
        })
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        check_key(key)?;
        let full = self.full_key(key);
        let out = match self
            .client
            .get_object()
            .bucket(&self.options.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) => {
                return Err(StorageError::NotFound(key.to_string()))
            }
            Err(e) => return Err(s3err("get", &full, &e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StorageError::Backend {
                backend: "s3",
                message: format!("get {full}: {e}"),
            })?;
        Ok(body.into_bytes())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .list_info(prefix)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    async fn list_info(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let full = self.full_key(prefix);
        let strip = if self.options.prefix.is_empty() {
            0
        } else {
            self.options.prefix.len() + 1
        };
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.options.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3err("list", &full, &e))?;
            let listed_at = SystemTime::now();
            out.extend(page.contents().iter().filter_map(|o| {
                let key = o.key()?;
                Some(ObjectInfo {
                    key: key[strip..].to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    // without a time the object counts as new: nothing is deleted on a guess
                    modified: o
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok())
                        .unwrap_or(listed_at),
                })
            }));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let full = self.full_key(key);
        match self
            .client
            .delete_object()
            .bucket(&self.options.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(s3err("delete", &full, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA file without a usable PEM certificate (empty, DER, a key, any text, a broken
    /// certificate) is refused when the store is made, not by a panic at the first request.
    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        for bad in [
            &b""[..],
            b"\x30\x82\x01\x0a",
            b"-----BEGIN PRIVATE KEY-----\nAA==\n",
            "é".as_bytes(),
        ] {
            let mut o = S3Options::new("bucket");
            o.ca_pem = Some(bad.to_vec());
            assert!(S3ObjectStore::new(o).is_err());
        }
        // a PEM block that is no certificate would make the connector panic: refused here
        let mut o = S3Options::new("bucket");
        o.ca_pem = Some(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".to_vec());
        assert!(S3ObjectStore::new(o).is_err());
        // a real CA certificate (a test fixture, made with openssl; its key was not kept)
        let mut o = S3Options::new("bucket");
        o.ca_pem = Some(include_bytes!("testdata/ca.pem").to_vec());
        assert!(S3ObjectStore::new(o).is_ok());
    }
}
