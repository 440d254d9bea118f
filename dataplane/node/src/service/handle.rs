//! What every handler runs through ([`serve`]): the database check (the `dbname` header and
//! the request's own `db_name`), a refusal answered in the RPC's own response type (pymilvus
//! reads the `status` inside the message, not gRPC codes), and the in-band outcome that the
//! RPC layer counts.

use std::future::Future;

use quarry_engine::DEFAULT_DB;
use quarry_proto::common::Status;
use quarry_proto::service::*;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response};

use super::layer::Outcome;
use crate::convert::shown;
use crate::status::database_not_found;

/// A handler's answer: its response, or the status it is refused with.
pub(super) type Handled<T> = Result<T, Status>;

/// Runs `handler` on the request once its database is checked; a refusal, the handler's or
/// the check's, is answered as the RPC's response carrying the status.
pub(super) async fn serve<Req, Resp, Fut>(
    req: Request<Req>,
    handler: impl FnOnce(Req) -> Fut,
) -> Result<Response<Resp>, tonic::Status>
where
    Req: HasDb,
    Resp: Reply,
    Fut: Future<Output = Handled<Resp>>,
{
    let answer = match check_db(req.metadata(), req.get_ref().db_name()) {
        Ok(()) => handler(req.into_inner())
            .await
            .unwrap_or_else(Resp::refused),
        Err(refused) => Resp::refused(refused),
    };
    let success = answer
        .status()
        .is_none_or(|s| s.code == 0 && s.error_code == 0);
    let mut response = Response::new(answer);
    response.extensions_mut().insert(Outcome { success });
    Ok(response)
}

/// Only the default database exists; an empty name means it (pymilvus' `MilvusClient` sends
/// an empty `dbname` header, the ORM `default`). The header is checked first, then the
/// request's own `db_name`.
pub(crate) fn check_db(metadata: &MetadataMap, body_db: &str) -> Result<(), Status> {
    let header = metadata
        .get("dbname")
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    for db in header.as_deref().into_iter().chain([body_db]) {
        if !db.is_empty() && db != DEFAULT_DB {
            return Err(database_not_found(&shown(db)));
        }
    }
    Ok(())
}

/// A request and the database it names in its body (`""` for requests without `db_name`).
pub(crate) trait HasDb {
    fn db_name(&self) -> &str;
}

/// A response message: how a refusal is answered, and the status it carries.
pub(crate) trait Reply {
    fn refused(status: Status) -> Self;
    fn status(&self) -> Option<&Status>;
}

macro_rules! has_db {
    (db_name: $($t:ty),* $(,)?) => {
        $(impl HasDb for $t {
            fn db_name(&self) -> &str {
                &self.db_name
            }
        })*
    };
    (none: $($t:ty),* $(,)?) => {
        $(impl HasDb for $t {
            fn db_name(&self) -> &str {
                ""
            }
        })*
    };
}

has_db!(none: ConnectRequest, GetVersionRequest, CheckHealthRequest, AllocTimestampRequest,
    ListDatabasesRequest);
has_db!(none: CreateCredentialRequest, UpdateCredentialRequest, DeleteCredentialRequest,
    ListCredUsersRequest);
has_db!(db_name: CreateCollectionRequest, DropCollectionRequest, HasCollectionRequest,
    DescribeCollectionRequest, ShowCollectionsRequest, GetCollectionStatisticsRequest,
    LoadCollectionRequest, ReleaseCollectionRequest, GetLoadStateRequest,
    GetLoadingProgressRequest, ShowPartitionsRequest, HasPartitionRequest,
    GetPartitionStatisticsRequest, InsertRequest, UpsertRequest, DeleteRequest, FlushRequest,
    GetFlushStateRequest, CreateIndexRequest, DescribeIndexRequest, DropIndexRequest,
    GetIndexStateRequest, GetIndexBuildProgressRequest, SearchRequest, QueryRequest,
    DescribeDatabaseRequest);

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
    ListCredUsersResponse
);

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(db: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("dbname", db.parse().unwrap());
        m
    }

    #[test]
    fn only_the_default_database_passes() {
        for (header, body) in [
            (None, ""),
            (Some(""), ""),
            (Some("default"), ""),
            (None, "default"),
            (Some("default"), "default"),
        ] {
            let m = header.map_or_else(MetadataMap::new, with_header);
            assert!(check_db(&m, body).is_ok(), "{header:?} {body:?}");
        }
        for (header, body, named) in [
            (Some("other"), "", "other"),
            (None, "other", "other"),
            (Some("default"), "other", "other"),
            // the header is checked first
            (Some("first"), "second", "first"),
        ] {
            let m = header.map_or_else(MetadataMap::new, with_header);
            let s = check_db(&m, body).unwrap_err();
            assert_eq!(s.code, 800);
            assert_eq!(
                s.error_code,
                quarry_proto::common::ErrorCode::UnexpectedError as i32
            );
            assert_eq!(s.reason, format!("database not found[database={named}]"));
        }
        // long names are cut short in the message
        let s = check_db(&MetadataMap::new(), &"d".repeat(10_000)).unwrap_err();
        assert!(s.reason.len() < 200, "{}", s.reason);
    }

    #[tokio::test]
    async fn a_refusal_is_the_rpcs_own_response_with_the_status() {
        let mut req = Request::new(SearchRequest::default());
        req.metadata_mut()
            .insert("dbname", "other".parse().unwrap());
        let resp = serve(req, |_| async {
            unreachable!("the handler of a refused request runs")
        })
        .await
        .unwrap();
        assert_eq!(resp.extensions().get(), Some(&Outcome { success: false }));
        let results: SearchResults = resp.into_inner();
        assert_eq!(results.status.unwrap().code, 800);

        let req = Request::new(CreateCollectionRequest {
            db_name: "other".into(),
            ..Default::default()
        });
        let status: Status = serve(req, |_| async { Ok(Status::default()) })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.code, 800);

        let req = Request::new(GetVersionRequest::default());
        let resp = serve(req, |_| async {
            Ok(GetVersionResponse {
                status: Some(Status::default()),
                version: "v".into(),
            })
        })
        .await
        .unwrap();
        assert_eq!(resp.extensions().get(), Some(&Outcome { success: true }));

        // a handler's own refusal is answered the same way
        let req = Request::new(QueryRequest::default());
        let resp = serve(req, |_| async {
            Err::<QueryResults, _>(crate::status::invalid("no"))
        })
        .await
        .unwrap();
        assert_eq!(resp.extensions().get(), Some(&Outcome { success: false }));
        assert_eq!(resp.into_inner().status.unwrap().code, 1100);
    }
}
