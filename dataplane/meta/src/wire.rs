//! The one mapping between coordinator errors and gRPC statuses of the internal API.

use tonic::{Code, Status};

use crate::{MetaError, Refusal};

/// The metadata key of a refusal's kind ([`MetaError::Refused`]).
const REFUSAL: &str = "x-quarry-refusal";

pub fn to_status(e: &MetaError) -> Status {
    let msg = e.to_string();
    match e {
        MetaError::Refused(kind, _) => {
            let mut s = Status::failed_precondition(msg);
            s.metadata_mut().insert(
                REFUSAL,
                tonic::metadata::MetadataValue::from_static(kind.name()),
            );
            s
        }
        MetaError::CollectionExists(name) => Status::already_exists(name.clone()),
        MetaError::CollectionNotFound(name) => Status::not_found(name.clone()),
        MetaError::IndexConflict { .. } | MetaError::Rejected(_) => {
            Status::failed_precondition(msg)
        }
        MetaError::StaleCommit(why) => Status::aborted(why.clone()),
        MetaError::Unavailable(_) => Status::unavailable(msg),
        MetaError::Storage(_) | MetaError::BadManifest { .. } | MetaError::Conflict(_) => {
            Status::internal(msg)
        }
    }
}

pub fn from_status(s: &Status) -> MetaError {
    let msg = s.message().to_string();
    match s.code() {
        Code::AlreadyExists => MetaError::CollectionExists(msg),
        Code::NotFound => MetaError::CollectionNotFound(msg),
        Code::FailedPrecondition => match s
            .metadata()
            .get(REFUSAL)
            .and_then(|v| v.to_str().ok())
            .and_then(Refusal::from_name)
        {
            Some(kind) => MetaError::Refused(kind, msg),
            None => MetaError::Rejected(msg),
        },
        Code::Aborted => MetaError::StaleCommit(msg),
        _ => MetaError::Unavailable(format!("{:?}: {msg}", s.code())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_round_trip() {
        for e in [
            MetaError::CollectionExists("c".into()),
            MetaError::CollectionNotFound("c".into()),
            MetaError::StaleCommit("segment 7 no longer exists".into()),
            MetaError::Rejected("failed to load collection c: no enough nodes".into()),
        ] {
            assert_eq!(from_status(&to_status(&e)).to_string(), e.to_string());
        }
        // a refusal keeps its kind
        for kind in Refusal::ALL {
            let e = MetaError::Refused(kind, format!("refused: {}", kind.name()));
            match from_status(&to_status(&e)) {
                MetaError::Refused(k, msg) => {
                    assert_eq!((k, msg), (kind, e.to_string()));
                }
                other => panic!("{other:?}"),
            }
        }
        let conflict = MetaError::IndexConflict {
            field: "v".into(),
            existing: "v_idx".into(),
        };
        assert_eq!(
            from_status(&to_status(&conflict)).to_string(),
            conflict.to_string()
        );
        // failures of the coordinator itself: unavailable (the caller may retry), with the
        // message
        for e in [
            MetaError::Unavailable("shutting down".into()),
            MetaError::Conflict(7),
        ] {
            let back = from_status(&to_status(&e));
            assert!(matches!(back, MetaError::Unavailable(_)), "{back:?}");
            assert!(back.to_string().contains(&e.to_string()), "{back}");
        }
    }
}
