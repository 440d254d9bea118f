//! The one mapping between coordinator errors and gRPC statuses of the internal API.

use tonic::{Code, Status};

use crate::CoordError;

pub fn to_status(e: &CoordError) -> Status {
    let msg = e.to_string();
    match e {
        CoordError::CollectionExists(name) => Status::already_exists(name.clone()),
        CoordError::CollectionNotFound(name) => Status::not_found(name.clone()),
        CoordError::IndexConflict { .. } | CoordError::Rejected(_) => {
            Status::failed_precondition(msg)
        }
        CoordError::StaleCommit(why) => Status::aborted(why.clone()),
        CoordError::Unavailable(_) => Status::unavailable(msg),
        CoordError::Storage(_) | CoordError::BadManifest { .. } | CoordError::Conflict(_) => {
            Status::internal(msg)
        }
    }
}

pub fn from_status(s: &Status) -> CoordError {
    let msg = s.message().to_string();
    match s.code() {
        Code::AlreadyExists => CoordError::CollectionExists(msg),
        Code::NotFound => CoordError::CollectionNotFound(msg),
        Code::FailedPrecondition => CoordError::Rejected(msg),
        Code::Aborted => CoordError::StaleCommit(msg),
        _ => CoordError::Unavailable(format!("{:?}: {msg}", s.code())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_round_trip() {
        for e in [
            CoordError::CollectionExists("c".into()),
            CoordError::CollectionNotFound("c".into()),
            CoordError::StaleCommit("segment 7 no longer exists".into()),
        ] {
            assert_eq!(from_status(&to_status(&e)).to_string(), e.to_string());
        }
        let conflict = CoordError::IndexConflict {
            field: "v".into(),
            existing: "v_idx".into(),
        };
        assert_eq!(
            from_status(&to_status(&conflict)).to_string(),
            conflict.to_string()
        );
    }
}
