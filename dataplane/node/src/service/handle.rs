//! What every handler runs through ([`serve`]): the request's database (the request's own
//! `db_name`, else the `dbname` header, else `default`), checked to exist and written into the
//! request's `db_name` for the handler (as Milvus' proxy does), a refusal answered in the
//! RPC's own response type (pymilvus reads the `status` inside the message, not gRPC codes),
//! and the in-band outcome that the RPC layer counts.

use std::future::Future;

use quarry_engine::{Engine, DEFAULT_DB};
use quarry_proto::common::Status;
use quarry_proto::service::*;
use quarry_types::limits::MAX_NAME_BYTES;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response};

use super::audit;
use super::auth::Caller;
use super::layer::Outcome;
use super::privileges::{denied, permitted, Guarded};
use crate::convert::shown;
use crate::status::{database_not_found, engine as engine_status};

/// A handler's answer: its response, or the status it is refused with.
pub(super) type Handled<T> = Result<T, Status>;

/// Runs `handler` on the request once its database is resolved; a refusal, the handler's or
/// the database check's, is answered as the RPC's response carrying the status.
pub(super) async fn serve<Req, Resp, Fut>(
    engine: &Engine,
    req: Request<Req>,
    handler: impl FnOnce(Req) -> Fut,
) -> Result<Response<Resp>, tonic::Status>
where
    Req: HasDb + Guarded,
    Resp: Reply,
    Fut: Future<Output = Handled<Resp>>,
{
    let (metadata, extensions, mut body) = req.into_parts();
    let caller = extensions.get::<Caller>();
    let need = if audit::on() { body.need() } else { None };
    let (mut db_seen, mut denied) = (String::new(), false);
    let answer = match resolve_db(engine, &metadata, &mut body).await {
        Ok(db) => {
            let verdict = authorize(engine, caller, &db, &body);
            db_seen = db;
            match verdict {
                Ok(()) => handler(body).await.unwrap_or_else(Resp::refused),
                Err(refused) => {
                    denied = true;
                    Resp::refused(refused)
                }
            }
        }
        Err(refused) => Resp::refused(refused),
    };
    let success = answer
        .status()
        .is_none_or(|s| s.code == 0 && s.error_code == 0);
    if audit::on() {
        let rpc = audit::rpc_of::<Req>();
        let kind = if denied {
            Some("denied")
        } else {
            audit::kind_of(rpc)
        };
        if let Some(kind) = kind {
            let status = answer.status();
            let object = need
                .as_ref()
                .map(|n| n.collection.as_deref().unwrap_or(&n.object_name))
                .unwrap_or("");
            audit::record(&audit::Event {
                kind,
                rpc,
                user: caller.map_or("", |c| c.user.as_str()),
                db: &db_seen,
                object,
                ok: success,
                code: status.map_or(0, |s| s.code),
                reason: status.map_or("", |s| s.reason.as_str()),
            });
        }
    }
    let mut response = Response::new(answer);
    response.extensions_mut().insert(Outcome { success });
    Ok(response)
}

/// Refuses a request its caller has no privilege for (authentication on; see `privileges`).
fn authorize(
    engine: &Engine,
    caller: Option<&Caller>,
    db: &str,
    body: &impl Guarded,
) -> Result<(), Status> {
    let (Some(caller), Some(need)) = (caller, body.need()) else {
        return Ok(());
    };
    if permitted(&engine.meta().snapshot(), caller, db, &need) {
        Ok(())
    } else {
        tracing::info!(user = %shown(&caller.user), privilege = need.privilege, object = %shown(&need.object_name), db, "request refused: no privilege");
        Err(denied(&need, caller, db))
    }
}

/// The `dbname` header (pymilvus' `MilvusClient` sends `""`, the ORM `default`).
fn header_db(metadata: &MetadataMap) -> String {
    metadata
        .get("dbname")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// The database a request works in: its own `db_name` when set (Milvus fills an empty one
/// from the header), else the header's, else `default`. It must exist (Milvus' code 800).
pub(crate) async fn resolve_db<Req: HasDb>(
    engine: &Engine,
    metadata: &MetadataMap,
    body: &mut Req,
) -> Result<String, Status> {
    let (db, field) = match body.db_scope() {
        DbScope::None => {
            // the database calls name their subject; the others work in the session's
            let header = header_db(metadata);
            return Ok(if header.is_empty() {
                DEFAULT_DB.into()
            } else {
                header
            });
        }
        DbScope::Session => (header_db(metadata), None),
        DbScope::Field(field) if !field.is_empty() => (field.clone(), Some(field)),
        DbScope::Field(field) => (header_db(metadata), Some(field)),
    };
    let db = if db.is_empty() { DEFAULT_DB.into() } else { db };
    if db.len() > MAX_NAME_BYTES {
        return Err(database_not_found(&shown(&db)));
    }
    engine.database(&db).await.map_err(engine_status)?;
    if let Some(field) = field {
        field.clone_from(&db);
    }
    Ok(db)
}

/// Where a request names its database.
pub(crate) enum DbScope<'a> {
    /// in its `db_name` field (empty: the header's)
    Field(&'a mut String),
    /// only in the header: `Connect` (a session in a database that does not exist is refused)
    Session,
    /// nowhere: server calls, and the database calls, whose `db_name` is their subject
    None,
}

/// A request and where it names its database.
pub(crate) trait HasDb {
    fn db_scope(&mut self) -> DbScope<'_>;
}

/// A response message: how a refusal is answered, and the status it carries.
pub(crate) trait Reply {
    fn refused(status: Status) -> Self;
    fn status(&self) -> Option<&Status>;
}

macro_rules! has_db {
    (db_name: $($t:ty),* $(,)?) => {
        $(impl HasDb for $t {
            fn db_scope(&mut self) -> DbScope<'_> {
                DbScope::Field(&mut self.db_name)
            }
        })*
    };
    (session: $($t:ty),* $(,)?) => {
        $(impl HasDb for $t {
            fn db_scope(&mut self) -> DbScope<'_> {
                DbScope::Session
            }
        })*
    };
    (none: $($t:ty),* $(,)?) => {
        $(impl HasDb for $t {
            fn db_scope(&mut self) -> DbScope<'_> {
                DbScope::None
            }
        })*
    };
}

has_db!(session: ConnectRequest);
has_db!(none: GetVersionRequest, CheckHealthRequest, AllocTimestampRequest,
    ListDatabasesRequest, DescribeDatabaseRequest, CreateDatabaseRequest, DropDatabaseRequest,
    AlterDatabaseRequest);
has_db!(none: CreateCredentialRequest, UpdateCredentialRequest, DeleteCredentialRequest,
    ListCredUsersRequest);
has_db!(db_name: CreateCollectionRequest, DropCollectionRequest, HasCollectionRequest,
    DescribeCollectionRequest, ShowCollectionsRequest, GetCollectionStatisticsRequest,
    LoadCollectionRequest, ReleaseCollectionRequest, GetLoadStateRequest,
    GetLoadingProgressRequest, ShowPartitionsRequest, HasPartitionRequest,
    CreatePartitionRequest, DropPartitionRequest, LoadPartitionsRequest, ReleasePartitionsRequest,
    GetPartitionStatisticsRequest, InsertRequest, UpsertRequest, DeleteRequest, FlushRequest,
    GetFlushStateRequest, CreateIndexRequest, DescribeIndexRequest, DropIndexRequest,
    AlterIndexRequest,
    GetIndexStateRequest, GetIndexBuildProgressRequest, SearchRequest, QueryRequest, HybridSearchRequest,
    CreateAliasRequest, DropAliasRequest, AlterAliasRequest, DescribeAliasRequest,
    ListAliasesRequest);
has_db!(db_name: RenameCollectionRequest, AlterCollectionRequest, AlterCollectionFieldRequest,
    GetReplicasRequest);
has_db!(db_name: ManualCompactionRequest);
has_db!(none: GetCompactionStateRequest);
has_db!(db_name: RunAnalyzerRequest);
has_db!(none: CreateRoleRequest, DropRoleRequest, OperateUserRoleRequest, SelectRoleRequest,
    SelectUserRequest, OperatePrivilegeRequest, OperatePrivilegeV2Request, SelectGrantRequest);
has_db!(none: CreatePrivilegeGroupRequest, DropPrivilegeGroupRequest, ListPrivilegeGroupsRequest,
    OperatePrivilegeGroupRequest);

impl Reply for Status {
    fn refused(status: Status) -> Self {
        status
    }

    fn status(&self) -> Option<&Status> {
        Some(self)
    }
}

macro_rules! reply {
    ($($t:ty),* $(,)?) => {
        $(impl Reply for $t {
            fn refused(status: Status) -> Self {
                Self {
                    status: Some(status),
                    ..Default::default()
                }
            }

            fn status(&self) -> Option<&Status> {
                self.status.as_ref()
            }
        })*
    };
}

reply!(
    ConnectResponse,
    GetVersionResponse,
    CheckHealthResponse,
    AllocTimestampResponse,
    BoolResponse,
    DescribeCollectionResponse,
    ShowCollectionsResponse,
    GetCollectionStatisticsResponse,
    GetLoadStateResponse,
    GetLoadingProgressResponse,
    ShowPartitionsResponse,
    GetPartitionStatisticsResponse,
    MutationResult,
    FlushResponse,
    GetFlushStateResponse,
    DescribeIndexResponse,
    GetIndexStateResponse,
    GetIndexBuildProgressResponse,
    SearchResults,
    QueryResults,
    ListDatabasesResponse,
    DescribeDatabaseResponse,
    DescribeAliasResponse,
    ListAliasesResponse,
    ListCredUsersResponse
);
reply!(
    ManualCompactionResponse,
    GetCompactionStateResponse,
    RunAnalyzerResponse
);
reply!(
    GetReplicasResponse,
    SelectRoleResponse,
    SelectUserResponse,
    SelectGrantResponse,
    ListPrivilegeGroupsResponse
);
