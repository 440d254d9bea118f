//! The cluster's internal credential: a shared secret every internal call carries (the
//! `x-quarry-token` metadata) and every internal server checks — the coordinator's Coord
//! service and the workers' Worker service. quarry-operator creates one per cluster (a Secret)
//! and tells the clusters it hosts apart by it; a hand-made cluster passes the same token to
//! every process (`--internal-token-file`, `QUARRY_INTERNAL_TOKEN`). Without a token the
//! internal ports are open (local development; a warning says so).

use std::sync::Arc;

use tonic::metadata::{AsciiMetadataValue, MetadataMap};

/// The metadata key of the internal credential.
pub const TOKEN_HEADER: &str = "x-quarry-token";
/// Bytes a token has at least (a random 32-byte secret, hex or base64, has more).
pub const MIN_TOKEN_BYTES: usize = 16;
/// Bytes a token has at most.
pub const MAX_TOKEN_BYTES: usize = 512;

/// A cluster's internal token (its value never shows in logs or `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct InternalToken(Arc<str>);

impl std::fmt::Debug for InternalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalToken(..)")
    }
}

impl InternalToken {
    /// A token from configuration: printable ASCII without spaces (it travels as metadata),
    /// [`MIN_TOKEN_BYTES`] to [`MAX_TOKEN_BYTES`] long.
    pub fn new(value: &str) -> Result<Self, String> {
        let value = value.trim_end_matches(['\n', '\r']);
        if value.len() < MIN_TOKEN_BYTES || value.len() > MAX_TOKEN_BYTES {
            return Err(format!(
                "the internal token must have {MIN_TOKEN_BYTES} to {MAX_TOKEN_BYTES} bytes, it has {}",
                value.len()
            ));
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the internal token must be printable ASCII without spaces".into());
        }
        Ok(Self(value.into()))
    }

    pub(crate) fn metadata_value(&self) -> AsciiMetadataValue {
        let mut v: AsciiMetadataValue = self
            .0
            .parse()
            .expect("a checked token is a valid metadata value");
        v.set_sensitive(true);
        v
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let ours = self.0.as_bytes();
        if ours.len() != presented.len() {
            return false;
        }
        ours.iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The token a request presents, checked against this one.
    pub fn check(&self, metadata: &MetadataMap) -> Result<(), tonic::Status> {
        match metadata.get(TOKEN_HEADER) {
            None => Err(tonic::Status::unauthenticated(format!(
                "internal call without the cluster credential ({TOKEN_HEADER})"
            ))),
            Some(v) if self.matches(v.as_bytes()) => Ok(()),
            Some(_) => Err(tonic::Status::unauthenticated(
                "internal call with a wrong cluster credential",
            )),
        }
    }
}

/// The presented token of a request, if any.
pub fn presented(metadata: &MetadataMap) -> Option<&[u8]> {
    metadata.get(TOKEN_HEADER).map(|v| v.as_bytes())
}

/// Server side: refuses calls without the token (when one is configured).
#[derive(Debug, Clone)]
pub struct RequireToken(pub Option<InternalToken>);

impl tonic::service::Interceptor for RequireToken {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            t.check(req.metadata())?;
        }
        Ok(req)
    }
}

/// Client side: adds the cluster's name (for a coordinator hosting several) and the token to
/// every internal call.
#[derive(Debug, Clone, Default)]
pub struct InternalHeaders {
    pub cluster: Option<AsciiMetadataValue>,
    pub token: Option<InternalToken>,
}

impl tonic::service::Interceptor for InternalHeaders {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.cluster {
            req.metadata_mut().insert(crate::CLUSTER_HEADER, v.clone());
        }
        if let Some(t) = &self.token {
            req.metadata_mut().insert(TOKEN_HEADER, t.metadata_value());
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor;

    use super::*;

    #[test]
    fn tokens_are_checked_and_travel_as_metadata() {
        assert!(InternalToken::new("short").is_err());
        assert!(InternalToken::new("has a space in it!!").is_err());
        assert!(InternalToken::new(&"x".repeat(MAX_TOKEN_BYTES + 1)).is_err());
        let t = InternalToken::new("0123456789abcdef0123\n").unwrap();
        assert_eq!(format!("{t:?}"), "InternalToken(..)");
        let mut out = InternalHeaders {
            cluster: None,
            token: Some(t.clone()),
        };
        let req = out.call(tonic::Request::new(())).unwrap();
        assert!(t.check(req.metadata()).is_ok());
        let mut server = RequireToken(Some(t.clone()));
        assert!(server.call(req).is_ok());
        let bare = tonic::Request::new(());
        assert_eq!(
            server.call(bare).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let other = InternalToken::new("0123456789abcdef0124").unwrap();
        let mut wrong = InternalHeaders {
            cluster: None,
            token: Some(other),
        };
        let req = wrong.call(tonic::Request::new(())).unwrap();
        assert!(server.call(req).is_err());
        // no token configured: open
        assert!(RequireToken(None).call(tonic::Request::new(())).is_ok());
    }
}
