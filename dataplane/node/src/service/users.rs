//! Users of the Milvus API (pymilvus `create_user`, `update_password`, `drop_user`,
//! `list_users`): CreateCredential, UpdateCredential, DeleteCredential and ListCredUsers, with
//! Milvus' rules and texts. Passwords arrive base64-encoded; the proxy hashes them (off the
//! async runtime) and the catalog stores only the hash.
//!
//! Who may call them is checked by the request layer (`privileges.rs`): creating and deleting
//! users needs CreateOwnership/DropOwnership (root and the `admin` role have them), changing
//! another user's password UpdateUser; anyone may change their own password (knowing the old
//! one). With authentication off there is no caller and nothing to check, as in Milvus.

use quarry_meta::{MetaError, ROOT_USER};
use quarry_proto::common::{ErrorCode, Status};
use quarry_proto::service::*;

use super::auth;
use super::handle::Handled;
use super::Service;
use crate::convert::shown;
use crate::status::{invalid, ok, status};

fn credential_failure(error_code: ErrorCode, e: &MetaError) -> Status {
    status(65535, error_code, e.to_string())
}

fn internal(e: anyhow::Error) -> Status {
    status(65535, ErrorCode::UnexpectedError, e.to_string())
}

fn refuse_description(description: &str) -> Handled<()> {
    if description.is_empty() {
        Ok(())
    } else {
        Err(invalid("user descriptions are not supported"))
    }
}

pub(super) async fn create_credential(
    svc: &Service,
    r: CreateCredentialRequest,
) -> Handled<Status> {
    auth::check_username(&r.username).map_err(invalid)?;
    refuse_description(&r.description)?;
    let password = auth::decode_password(&r.password).map_err(invalid)?;
    auth::check_password(&password).map_err(invalid)?;
    let hash = auth::hash_async(password).await.map_err(internal)?;
    svc.engine
        .meta()
        .create_user(&r.username, &hash, false)
        .await
        .map_err(|e| credential_failure(ErrorCode::CreateCredentialFailure, &e))?;
    tracing::info!(user = %r.username, "user created");
    Ok(ok())
}

pub(super) async fn update_credential(
    svc: &Service,
    r: UpdateCredentialRequest,
) -> Handled<Status> {
    auth::check_username(&r.username).map_err(invalid)?;
    refuse_description(&r.description)?;
    let old = auth::decode_password(&r.old_password).map_err(invalid)?;
    let new = auth::decode_password(&r.new_password).map_err(invalid)?;
    auth::check_password(&new).map_err(invalid)?;
    let meta = svc.engine.meta();
    let wrong_old = || {
        status(
            1400,
            ErrorCode::UnexpectedError,
            format!(
                "old password not correct for {}: not authenticated",
                shown(&r.username)
            ),
        )
    };
    let stored = meta
        .snapshot()
        .users
        .get(&r.username)
        .map(|u| u.password_hash.clone())
        .ok_or_else(wrong_old)?;
    let check = stored.clone();
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&old, &check))
        .await
        .unwrap_or(false);
    if !matches {
        return Err(wrong_old());
    }
    let hash = auth::hash_async(new).await.map_err(internal)?;
    meta.update_user(&r.username, &hash, &stored)
        .await
        .map_err(|e| credential_failure(ErrorCode::UpdateCredentialFailure, &e))?;
    tracing::info!(user = %r.username, "password changed");
    Ok(ok())
}

pub(super) async fn delete_credential(
    svc: &Service,
    r: DeleteCredentialRequest,
) -> Handled<Status> {
    if r.username == ROOT_USER {
        return Err(status(
            1401,
            ErrorCode::UnexpectedError,
            "root user cannot be deleted: privilege not permitted",
        ));
    }
    svc.engine
        .meta()
        .delete_user(&r.username)
        .await
        .map_err(|e| credential_failure(ErrorCode::DeleteCredentialFailure, &e))?;
    tracing::info!(user = %shown(&r.username), "user deleted");
    Ok(ok())
}

pub(super) async fn list_cred_users(svc: &Service) -> Handled<ListCredUsersResponse> {
    Ok(ListCredUsersResponse {
        status: Some(ok()),
        usernames: svc.engine.meta().snapshot().users.keys().cloned().collect(),
    })
}
