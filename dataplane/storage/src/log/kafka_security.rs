//! How a Kafka client authenticates and encrypts, as librdkafka properties: the one place that
//! turns SASL and TLS settings into `KafkaOptions::client_properties`, for the nodes (flags and
//! a mounted TLS directory) and for quarry-operator (Secrets read through the Kubernetes API).

use std::path::PathBuf;

/// Kafka security settings; every `None` leaves librdkafka's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSecurity {
    /// `security.protocol`: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`
    pub protocol: Option<String>,
    /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    pub tls: KafkaTls,
}

/// Where the TLS material comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KafkaTls {
    /// librdkafka's defaults
    #[default]
    None,
    /// A directory with `ca.crt` and, for mutual TLS, `tls.crt` and `tls.key` (a mounted
    /// Kubernetes TLS Secret); only the files that exist are used.
    Dir(PathBuf),
    /// PEM texts: the CA, and for mutual TLS the certificate and its key.
    Pem {
        ca: Option<String>,
        cert_and_key: Option<(String, String)>,
    },
}

/// librdkafka's `security.protocol` for a client with or without SASL and TLS.
pub fn security_protocol(sasl: bool, tls: bool) -> &'static str {
    match (sasl, tls) {
        (false, false) => "PLAINTEXT",
        (false, true) => "SSL",
        (true, false) => "SASL_PLAINTEXT",
        (true, true) => "SASL_SSL",
    }
}

impl KafkaSecurity {
    /// The librdkafka properties: protocol, SASL mechanism and credentials, then TLS.
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, value) in [
            ("security.protocol", &self.protocol),
            ("sasl.mechanism", &self.sasl_mechanism),
            ("sasl.username", &self.sasl_username),
            ("sasl.password", &self.sasl_password),
        ] {
            if let Some(v) = value {
                out.push((key.to_string(), v.clone()));
            }
        }
        match &self.tls {
            KafkaTls::None => {}
            KafkaTls::Dir(dir) => {
                for (file, key) in [
                    ("ca.crt", "ssl.ca.location"),
                    ("tls.crt", "ssl.certificate.location"),
                    ("tls.key", "ssl.key.location"),
                ] {
                    let path = dir.join(file);
                    if path.exists() {
                        out.push((key.to_string(), path.display().to_string()));
                    }
                }
            }
            KafkaTls::Pem { ca, cert_and_key } => {
                if let Some(ca) = ca {
                    out.push(("ssl.ca.pem".into(), ca.clone()));
                }
                if let Some((cert, key)) = cert_and_key {
                    out.push(("ssl.certificate.pem".into(), cert.clone()));
                    out.push(("ssl.key.pem".into(), key.clone()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(props: &[(String, String)]) -> Vec<&str> {
        props.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn nothing_set_is_nothing_said() {
        assert!(KafkaSecurity::default().properties().is_empty());
    }

    #[test]
    fn sasl_and_pem_tls() {
        let props = KafkaSecurity {
            protocol: Some(security_protocol(true, true).into()),
            sasl_mechanism: Some("SCRAM-SHA-512".into()),
            sasl_username: Some("u".into()),
            sasl_password: Some("p".into()),
            tls: KafkaTls::Pem {
                ca: Some("ca".into()),
                cert_and_key: Some(("cert".into(), "key".into())),
            },
        }
        .properties();
        assert_eq!(
            keys(&props),
            [
                "security.protocol",
                "sasl.mechanism",
                "sasl.username",
                "sasl.password",
                "ssl.ca.pem",
                "ssl.certificate.pem",
                "ssl.key.pem"
            ]
        );
        assert_eq!(props[0].1, "SASL_SSL");
    }

    #[test]
    fn a_tls_directory_gives_the_files_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "pem").unwrap();
        let props = KafkaSecurity {
            tls: KafkaTls::Dir(dir.path().to_path_buf()),
            ..Default::default()
        }
        .properties();
        assert_eq!(
            props,
            [(
                "ssl.ca.location".to_string(),
                dir.path().join("ca.crt").display().to_string()
            )]
        );
    }

    #[test]
    fn protocols() {
        assert_eq!(security_protocol(false, false), "PLAINTEXT");
        assert_eq!(security_protocol(false, true), "SSL");
        assert_eq!(security_protocol(true, false), "SASL_PLAINTEXT");
    }
}
