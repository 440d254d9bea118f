//! The one mapping from engine errors to Milvus statuses. Errors travel in-band (gRPC OK with a
//! non-zero `Status`), because pymilvus retries most gRPC-level errors for minutes.

use quarry_engine::EngineError;
use quarry_meta::Refusal;
use quarry_proto::common::{ErrorCode, Status};

pub fn ok() -> Status {
    Status::default()
}

pub fn status(code: i32, error_code: ErrorCode, reason: impl Into<String>) -> Status {
    Status {
        error_code: error_code as i32,
        reason: reason.into(),
        code,
        ..Default::default()
    }
}

pub fn invalid(reason: impl Into<String>) -> Status {
    status(1100, ErrorCode::IllegalArgument, reason)
}

/// A database that does not exist (Milvus' code 800, which pymilvus' `use_database` reads as
/// "no such database").
pub fn database_not_found(db: &str) -> Status {
    status(
        800,
        ErrorCode::UnexpectedError,
        format!("database not found[database={db}]"),
    )
}

/// The Milvus code of a refused database or alias change.
fn refusal_code(kind: Refusal) -> (i32, ErrorCode) {
    match kind {
        // pymilvus' `use_database` (2.6.9+) reads 800 as "no such database"
        Refusal::DatabaseNotFound => (800, ErrorCode::UnexpectedError),
        Refusal::DatabaseLimit => (801, ErrorCode::UnexpectedError),
        Refusal::CollectionLimit => (1100, ErrorCode::IllegalArgument),
        Refusal::AliasNotFound => (1600, ErrorCode::UnexpectedError),
        Refusal::AliasNameConflict => (1601, ErrorCode::UnexpectedError),
        Refusal::AliasExists => (1602, ErrorCode::UnexpectedError),
        Refusal::DatabaseExists | Refusal::DatabaseNotEmpty | Refusal::CollectionHasAliases => {
            (65535, ErrorCode::UnexpectedError)
        }
    }
}

/// [`from_engine`] by value, for `map_err`.
pub fn engine(e: EngineError) -> Status {
    from_engine(&e)
}

pub fn from_engine(e: &EngineError) -> Status {
    let reason = e.to_string();
    match e {
        EngineError::CollectionNotFound(_) => status(100, ErrorCode::CollectionNotExists, reason),
        EngineError::Refused(kind, _) => {
            let (code, error_code) = refusal_code(*kind);
            status(code, error_code, reason)
        }
        EngineError::DatabaseName(_) => status(802, ErrorCode::UnexpectedError, reason),
        EngineError::NotLoaded(_) => status(101, ErrorCode::UnexpectedError, reason),
        EngineError::PartitionNotFound(_) => status(200, ErrorCode::MetaFailed, reason),
        EngineError::PartitionNotLoaded(_) => status(201, ErrorCode::UnexpectedError, reason),
        EngineError::IndexNotFound(_) => status(700, ErrorCode::IndexNotExist, reason),
        EngineError::SchemaMismatch(_) => status(109, ErrorCode::SchemaMismatch, reason),
        EngineError::CollectionExists(_) => status(
            1100,
            ErrorCode::IllegalArgument,
            format!("{reason} with different parameters"),
        ),
        EngineError::InvalidArgument(_)
        | EngineError::Schema(_)
        | EngineError::Expr(_)
        | EngineError::Index(_) => status(
            1100,
            ErrorCode::IllegalArgument,
            format!("{reason}: invalid parameter"),
        ),
        EngineError::Storage(_)
        | EngineError::Coord(_)
        | EngineError::Unavailable(_)
        | EngineError::Internal(_) => status(65535, ErrorCode::UnexpectedError, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_that_drive_client_control_flow() {
        let s = from_engine(&EngineError::CollectionNotFound("x".into()));
        assert_eq!(
            (s.code, s.error_code),
            (100, ErrorCode::CollectionNotExists as i32)
        );
        let s = from_engine(&EngineError::IndexNotFound("x".into()));
        assert_eq!(
            (s.code, s.error_code),
            (700, ErrorCode::IndexNotExist as i32)
        );
        let s = from_engine(&EngineError::SchemaMismatch("x".into()));
        assert_eq!(
            (s.code, s.error_code),
            (109, ErrorCode::SchemaMismatch as i32)
        );
        let s = from_engine(&EngineError::Refused(
            Refusal::DatabaseNotFound,
            "database not found[database=x]".into(),
        ));
        assert_eq!(
            (s.code, s.reason.as_str()),
            (800, "database not found[database=x]")
        );
        let s = from_engine(&EngineError::Refused(Refusal::AliasNotFound, "a".into()));
        assert_eq!(s.code, 1600);
        let s = from_engine(&EngineError::DatabaseName("bad".into()));
        assert_eq!(s.code, 802);
        assert_eq!(ok().code, 0);
        assert_eq!(ok().error_code, 0);
    }
}
