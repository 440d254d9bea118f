//! Authentication of Milvus API callers, as Milvus' proxy does it: every RPC carries the
//! `authorization` header, base64 of `user:password` (what pymilvus sends for `user=`,
//! `password=` and for `token="user:password"`), checked against the users of the catalog
//! (salted argon2id hashes). A refusal is gRPC UNAUTHENTICATED with Milvus' message, which
//! pymilvus does not retry. Milvus makes no exception (Connect, GetVersion and CheckHealth need
//! credentials too), so neither does Quarry.
//!
//! Verifying a password is deliberately slow (argon2), so it runs on the blocking pool, a few
//! at a time, and a verified credential is remembered: a keyed hash of the presented header
//! (the key is random per process, so the cache holds nothing an attacker could replay or
//! invert) maps to the user and the stored password hash it was verified against. The entry
//! counts only while the catalog still holds that hash for that user, so a changed password or
//! a deleted user stops it at once, on every proxy as soon as its catalog snapshot has the
//! change.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine as _;
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2sMac256;
use parking_lot::Mutex;
use quarry_meta::{MetaService, ROOT_USER};
use tokio::sync::Semaphore;

/// The header pymilvus sends credentials in.
pub const AUTHORIZATION: &str = "authorization";

/// Verified credentials remembered per process; the cache is emptied when full.
const MAX_CACHED: usize = 4096;
/// Password verifications running at once (each takes ~20 MiB and tens of milliseconds).
const MAX_VERIFYING: usize = 4;
/// Bytes of an `authorization` header looked at (base64 of the longest name and password).
const MAX_HEADER_BYTES: usize = 1024;

/// Who made a request: set in the request's extensions by the RPC layer when authentication
/// is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
}

impl Caller {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_USER
    }
}

/// Why a request was refused; the texts are Milvus'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Missing,
    BadFormat,
    /// a token without `:` (Milvus reads it as an API key, which Quarry has none of)
    BadApiKey,
    BadCredentials,
}

impl Denied {
    pub fn message(self) -> &'static str {
        match self {
            Denied::Missing => "missing authorization in header",
            Denied::BadFormat => "invalid token format",
            Denied::BadApiKey => "auth check failure, please check api key is correct",
            Denied::BadCredentials => {
                "auth check failure, please check username and password are correct"
            }
        }
    }

    pub fn status(self) -> tonic::Status {
        tonic::Status::unauthenticated(self.message())
    }
}

#[derive(Debug, Clone)]
struct Verified {
    user: String,
    /// the stored hash the password was verified against
    hash: String,
}

/// The authenticator of one process (standalone, or a proxy).
pub struct Auth {
    meta: Arc<dyn MetaService>,
    key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], Verified>>,
    verifying: Semaphore,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("cached", &self.cache.lock().len())
            .finish()
    }
}

impl Auth {
    pub fn new(meta: Arc<dyn MetaService>) -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self {
            meta,
            key,
            cache: Mutex::new(HashMap::new()),
            verifying: Semaphore::new(MAX_VERIFYING),
        }
    }

    fn fingerprint(&self, header: &[u8]) -> [u8; 32] {
        let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(&self.key).expect("32-byte key");
        mac.update(header);
        mac.finalize().into_bytes().into()
    }

    /// The caller of a request with this `authorization` header, or why it is refused.
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Caller, Denied> {
        let header = header.ok_or(Denied::Missing)?;
        if header.len() > MAX_HEADER_BYTES {
            return Err(Denied::BadCredentials);
        }
        let (user, password) = parse_token(header)?;
        let stored = self
            .meta
            .snapshot()
            .users
            .get(&user)
            .map(|u| u.password_hash.clone())
            .ok_or(Denied::BadCredentials)?;
        let fingerprint = self.fingerprint(header);
        if let Some(v) = self.cache.lock().get(&fingerprint) {
            if v.user == user && v.hash == stored {
                return Ok(Caller { user });
            }
        }
        let ok = self.verify(password, stored.clone()).await;
        if !ok {
            return Err(Denied::BadCredentials);
        }
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            fingerprint,
            Verified {
                user: user.clone(),
                hash: stored,
            },
        );
        Ok(Caller { user })
    }

    /// Whether `password` is the one `stored` was made from; on the blocking pool.
    pub async fn verify(&self, password: String, stored: String) -> bool {
        let Ok(_permit) = self.verifying.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify_password(&password, &stored))
            .await
            .unwrap_or(false)
    }

    /// Adds `root` with `password` unless the catalog has it already (its password is then
    /// the one set before, possibly rotated since).
    pub async fn seed_root(&self, password: &str) -> anyhow::Result<bool> {
        if self.meta.snapshot().users.contains_key(ROOT_USER) {
            return Ok(false);
        }
        check_password(password).map_err(anyhow::Error::msg)?;
        let hash = hash_async(password.to_string()).await?;
        self.meta.create_user(ROOT_USER, &hash, true).await?;
        Ok(true)
    }
}

/// `user` and `password` of a header; Milvus' refusals for what is not `base64(user:pw)`.
/// The user name a refused `authorization` header claims (for the audit log; never the
/// password), if it parses.
pub fn claimed_user(header: Option<&[u8]>) -> Option<String> {
    let header = header.filter(|h| h.len() <= MAX_HEADER_BYTES)?;
    parse_token(header).ok().map(|(user, _)| user)
}

fn parse_token(header: &[u8]) -> Result<(String, String), Denied> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(header.trim_ascii())
        .map_err(|_| Denied::BadFormat)?;
    let raw = String::from_utf8(raw).map_err(|_| Denied::BadFormat)?;
    let (user, password) = raw.split_once(':').ok_or(Denied::BadApiKey)?;
    Ok((user.to_string(), password.to_string()))
}

/// A new salted hash of `password` (argon2id with the crate's default cost), as a PHC string.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_async(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await?
}

/// Whether `password` matches the PHC string `stored` (false for an unreadable one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Milvus' rules for a user name; the error is Milvus' text.
pub fn check_username(name: &str) -> Result<(), String> {
    use quarry_types::limits::MAX_USERNAME_BYTES;
    if name.trim().is_empty() {
        return Err("username should not be empty".into());
    }
    let shown = crate::convert::shown(name);
    let invalid = format!("Invalid username: {shown}. ");
    if name.len() > MAX_USERNAME_BYTES {
        return Err(format!(
            "{invalid}The length of username must be less than {MAX_USERNAME_BYTES} characters."
        ));
    }
    let mut bytes = name.bytes();
    if !bytes.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "{invalid}The first character of username must be a letter."
        ));
    }
    if !bytes.all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{invalid}Username should only contain numbers, letters, and underscores."
        ));
    }
    Ok(())
}

/// Milvus' rule for a password (its length in bytes); the error is Milvus' text.
pub fn check_password(password: &str) -> Result<(), String> {
    use quarry_types::limits::{MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES};
    if !(MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        return Err(format!(
            "The length of password must be great than {MIN_PASSWORD_BYTES} and less than {MAX_PASSWORD_BYTES} characters."
        ));
    }
    Ok(())
}

/// A password as the credential RPCs carry it (base64); Milvus' text when it is not.
pub fn decode_password(encoded: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("decode password fail: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("decode password fail: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use quarry_meta::{Catalog, LocalMeta};
    use quarry_storage::MemoryObjectStore;

    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    async fn meta() -> Arc<LocalMeta> {
        let store = Arc::new(MemoryObjectStore::new());
        Arc::new(LocalMeta::new(Catalog::open(store).await.unwrap()))
    }

    #[test]
    fn hashes_are_salted_and_verify_only_their_password() {
        let a = hash_password("secret1").unwrap();
        let b = hash_password("secret1").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password("secret1", &a));
        assert!(verify_password("secret1", &b));
        assert!(!verify_password("secret2", &a));
        assert!(!verify_password("secret1", "not a phc string"));
    }

    #[test]
    fn user_names_and_passwords_follow_milvus_rules() {
        for ok in ["root", "alice", "a_1", "B2", &"x".repeat(32)] {
            assert!(check_username(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_username("").unwrap_err(),
            "username should not be empty"
        );
        assert_eq!(
            check_username("1abc").unwrap_err(),
            "Invalid username: 1abc. The first character of username must be a letter."
        );
        assert_eq!(
            check_username("a-b").unwrap_err(),
            "Invalid username: a-b. Username should only contain numbers, letters, and underscores."
        );
        assert!(check_username(&"x".repeat(33))
            .unwrap_err()
            .contains("must be less than 32 characters"));
        assert!(check_password("123456").is_ok());
        assert!(check_password(&"p".repeat(256)).is_ok());
        for bad in ["12345", &"p".repeat(257)] {
            assert_eq!(
                check_password(bad).unwrap_err(),
                "The length of password must be great than 6 and less than 256 characters."
            );
        }
        assert_eq!(decode_password(&b64("pässword")).unwrap(), "pässword");
        assert!(decode_password("%%%")
            .unwrap_err()
            .starts_with("decode password fail"));
    }

    #[test]
    fn tokens_are_parsed_like_milvus() {
        assert_eq!(
            parse_token(b64("root:Milvus").as_bytes()).unwrap(),
            ("root".into(), "Milvus".into())
        );
        // the password may contain the separator
        assert_eq!(
            parse_token(b64("u:a:b").as_bytes()).unwrap(),
            ("u".into(), "a:b".into())
        );
        assert_eq!(parse_token(b"%%%"), Err(Denied::BadFormat));
        assert_eq!(
            parse_token(b64("just-a-key").as_bytes()),
            Err(Denied::BadApiKey)
        );
    }

    #[tokio::test]
    async fn credentials_are_checked_cached_and_invalidated_by_a_password_change() {
        let meta = meta().await;
        let auth = Auth::new(meta.clone());
        assert!(auth.seed_root("rootpass").await.unwrap());
        assert!(!auth.seed_root("otherpass").await.unwrap(), "kept as is");

        let good = b64("root:rootpass");
        let caller = auth.authenticate(Some(good.as_bytes())).await.unwrap();
        assert!(caller.is_root());
        assert_eq!(auth.cache.lock().len(), 1);
        // from the cache
        assert!(auth.authenticate(Some(good.as_bytes())).await.is_ok());
        assert_eq!(auth.cache.lock().len(), 1);

        for (header, why) in [
            (None, Denied::Missing),
            (Some(b64("root:wrong")), Denied::BadCredentials),
            (Some(b64("nobody:rootpass")), Denied::BadCredentials),
            (Some("@@".to_string()), Denied::BadFormat),
            (Some(b64("rootpass")), Denied::BadApiKey),
            (Some("A".repeat(5000)), Denied::BadCredentials),
        ] {
            let got = auth
                .authenticate(header.as_deref().map(str::as_bytes))
                .await;
            assert_eq!(got, Err(why), "{header:?}");
        }

        // a new password: the cached entry no longer counts
        let old = meta.snapshot().users[ROOT_USER].password_hash.clone();
        let new = hash_password("newpass1").unwrap();
        meta.update_user(ROOT_USER, &new, &old).await.unwrap();
        assert_eq!(
            auth.authenticate(Some(good.as_bytes())).await,
            Err(Denied::BadCredentials)
        );
        let fresh = b64("root:newpass1");
        assert!(auth.authenticate(Some(fresh.as_bytes())).await.is_ok());

        // a deleted user is refused although verified before
        meta.create_user("alice", &hash_password("alicepw").unwrap(), false)
            .await
            .unwrap();
        let alice = b64("alice:alicepw");
        assert!(auth.authenticate(Some(alice.as_bytes())).await.is_ok());
        meta.delete_user("alice").await.unwrap();
        assert_eq!(
            auth.authenticate(Some(alice.as_bytes())).await,
            Err(Denied::BadCredentials)
        );
    }

    #[tokio::test]
    async fn root_needs_an_acceptable_password() {
        let auth = Auth::new(meta().await);
        assert!(auth.seed_root("short").await.is_err());
    }
}
