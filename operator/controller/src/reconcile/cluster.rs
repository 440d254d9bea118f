//! `QuarryCluster`: host the cluster's coordinator (catalog in its S3 bucket), and apply the
//! cluster's ConfigMap (what every pod reads) and the proxies' Service on 19530.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use quarry_crd::{QuarryCluster, Role};
use quarry_meta::{InternalToken, MetaService};
use serde_json::json;

use crate::context::{apply_owned, is_paused, publish, Ctx};
use crate::error::found;
use crate::plan::{
    desired_config_map, desired_internal_token_secret, desired_network_policy,
    desired_proxy_service, desired_root_password_secret, internal_token_secret_name,
    root_password_secret_name, INTERNAL_TOKEN_KEY,
};
use crate::settings::{Credentials, Settings};
use crate::status::Verdict;
use crate::Result;

pub async fn reconcile(qc: Arc<QuarryCluster>, ctx: Arc<Ctx>) -> Result<Action> {
    let previous = qc
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    if is_paused(qc.as_ref()) {
        return Ok(Action::requeue(ctx.resync));
    }
    let settings = Settings::of(&qc);
    let mut creds = match credentials(&ctx, &qc.namespace().unwrap_or_default(), &qc).await? {
        Ok(c) => c,
        Err(v) => {
            publish(&ctx, qc.as_ref(), &previous, &v, json!({})).await?;
            return Ok(ctx.requeue(&v));
        }
    };
    match internal_token(&ctx, qc.as_ref()).await? {
        Ok(token) => creds.internal_token = Some(token),
        Err(v) => {
            publish(&ctx, qc.as_ref(), &previous, &v, json!({})).await?;
            return Ok(ctx.requeue(&v));
        }
    }
    let hosted = match ctx.coordinators.host(&settings, &creds).await {
        Ok(h) => h,
        Err(e) => {
            let v = Verdict::reconciling(
                "StorageUnavailable",
                format!("cannot open the cluster's catalog: {e}"),
            );
            publish(&ctx, qc.as_ref(), &previous, &v, json!({})).await?;
            return Ok(Action::requeue(Duration::from_secs(10)));
        }
    };
    ctx.metrics
        .clusters
        .set(ctx.coordinators.keys().len() as i64);
    apply_owned(
        &ctx.client,
        qc.as_ref(),
        desired_config_map(&qc, &ctx.coordinator_address),
    )
    .await?;
    apply_owned(&ctx.client, qc.as_ref(), desired_proxy_service(&qc)).await?;
    apply_owned(&ctx.client, qc.as_ref(), desired_network_policy(&qc)).await?;
    ensure_root_password(&ctx, qc.as_ref()).await?;
    let mut live = Vec::new();
    for r in Role::ALL {
        let n = hosted.server.nodes(r);
        ctx.metrics
            .nodes
            .with_label_values(&[&settings.key, r.as_str()])
            .set(n as i64);
        live.push(format!("{n} {}", r.as_str()));
    }
    let v = Verdict::ready(
        "CoordinatorServing",
        format!(
            "{} collections; live nodes: {}",
            hosted.meta.snapshot().collections.len(),
            live.join(", ")
        ),
    );
    publish(
        &ctx,
        qc.as_ref(),
        &previous,
        &v,
        json!({ "coordinator": ctx.coordinator_address }),
    )
    .await?;
    Ok(ctx.requeue(&v))
}

/// Creates the Secret with `root`'s initial password (random, 32 characters) unless it exists:
/// an existing one, the operator's or the user's, is never changed.
async fn ensure_root_password(ctx: &Ctx, qc: &QuarryCluster) -> Result<()> {
    let ns = qc.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let name = root_password_secret_name(&qc.name_any());
    if found(secrets.get(&name).await)?.is_some() {
        return Ok(());
    }
    let mut secret = desired_root_password_secret(qc, random_password());
    secret.metadata.owner_references = qc.controller_owner_ref(&()).map(|r| vec![r]);
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            tracing::info!(secret = %name, namespace = %ns, "root password secret created");
            Ok(())
        }
        // created meanwhile (another reconcile, or the user): keep it
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The cluster's internal token: read from its Secret, which is created (random, 32
/// characters) when missing and never changed afterwards. A Secret without a usable token
/// stalls the cluster.
async fn internal_token(ctx: &Ctx, qc: &QuarryCluster) -> Result<Result<InternalToken, Verdict>> {
    let ns = qc.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let name = internal_token_secret_name(&qc.name_any());
    let existing = match found(secrets.get(&name).await)? {
        Some(s) => s,
        None => {
            let mut secret = desired_internal_token_secret(qc, random_password());
            secret.metadata.owner_references = qc.controller_owner_ref(&()).map(|r| vec![r]);
            match secrets.create(&PostParams::default(), &secret).await {
                Ok(_) => {
                    tracing::info!(secret = %name, namespace = %ns, "internal token secret created")
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            match found(secrets.get(&name).await)? {
                Some(s) => s,
                None => {
                    return Ok(Err(Verdict::reconciling(
                        "SecretPending",
                        format!("the internal token Secret {name:?} is being created"),
                    )))
                }
            }
        }
    };
    let value = key_of(&existing, INTERNAL_TOKEN_KEY).or_else(|| {
        existing
            .string_data
            .as_ref()
            .and_then(|d| d.get(INTERNAL_TOKEN_KEY).cloned())
    });
    match value.map(|v| InternalToken::new(&v)) {
        Some(Ok(t)) => Ok(Ok(t)),
        Some(Err(why)) => Ok(Err(Verdict::stalled(
            "SecretIncomplete",
            format!("Secret {name:?}: {why}"),
        ))),
        None => Ok(Err(Verdict::stalled(
            "SecretIncomplete",
            format!("Secret {name:?} needs the key {INTERNAL_TOKEN_KEY}"),
        ))),
    }
}

/// 32 characters from the operating system's random source (URL-safe alphabet).
fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
        .iter()
        .map(|b| ALPHABET[(*b & 63) as usize] as char)
        .collect()
}

fn key_of(secret: &Secret, key: &str) -> Option<String> {
    let data = secret.data.as_ref()?.get(key)?;
    String::from_utf8(data.0.clone()).ok()
}

/// The secret values the operator's own storage clients need; a missing Secret or key stalls
/// the cluster (someone has to create it).
async fn credentials(
    ctx: &Ctx,
    ns: &str,
    qc: &QuarryCluster,
) -> Result<Result<Credentials, Verdict>> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let missing = |name: &str, what: &str| {
        Verdict::stalled(
            "SecretNotFound",
            format!("Secret {name:?} with {what} does not exist in namespace {ns}"),
        )
    };
    let mut creds = Credentials::default();
    if let Some(r) = &qc.spec.s3.credentials_secret {
        let Some(s) = found(secrets.get(&r.name).await)? else {
            return Ok(Err(missing(&r.name, "the S3 credentials")));
        };
        match (
            key_of(&s, "AWS_ACCESS_KEY_ID"),
            key_of(&s, "AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(key)) => creds.s3 = Some((id, key)),
            _ => {
                return Ok(Err(Verdict::stalled(
                    "SecretIncomplete",
                    format!(
                        "Secret {:?} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                        r.name
                    ),
                )))
            }
        }
    }
    if let Some(sasl) = &qc.spec.kafka.sasl {
        let Some(s) = found(secrets.get(&sasl.secret).await)? else {
            return Ok(Err(missing(&sasl.secret, "the Kafka SASL user")));
        };
        match (key_of(&s, "username"), key_of(&s, "password")) {
            (Some(u), Some(p)) => creds.sasl = Some((u, p)),
            _ => {
                return Ok(Err(Verdict::stalled(
                    "SecretIncomplete",
                    format!("Secret {:?} needs username and password", sasl.secret),
                )))
            }
        }
    }
    if let Some(name) = &qc.spec.kafka.tls_secret {
        let Some(s) = found(secrets.get(name).await)? else {
            return Ok(Err(missing(name, "the Kafka TLS files")));
        };
        creds.tls_ca = key_of(&s, "ca.crt");
        if let (Some(cert), Some(key)) = (key_of(&s, "tls.crt"), key_of(&s, "tls.key")) {
            creds.tls_cert = Some((cert, key));
        }
    }
    if let Some(name) = &qc.spec.s3.ca_secret {
        let Some(s) = found(secrets.get(name).await)? else {
            return Ok(Err(missing(name, "the S3 CA")));
        };
        let Some(ca) = key_of(&s, "ca.crt") else {
            return Ok(Err(Verdict::stalled(
                "SecretIncomplete",
                format!("Secret {name:?} needs ca.crt"),
            )));
        };
        creds.s3_ca = Some(ca);
    }
    Ok(Ok(creds))
}
