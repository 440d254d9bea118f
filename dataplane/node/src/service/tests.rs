//! The service handler by handler (every RPC resolves its database) and over a real gRPC server
//! with the RPC layer, as clients reach it.

use std::sync::Arc;

use quarry_engine::{Engine, EngineOptions};
use quarry_proto::service::milvus_service_server::{MilvusService, MilvusServiceServer};
use quarry_proto::service::*;
use tonic::transport::{Channel, Endpoint};
use tonic::Request;

use super::handle::Reply;
use super::Service;
use crate::metrics::{Metrics, RpcMetrics};

async fn service(dir: &std::path::Path, rpc: &RpcMetrics) -> Service {
    Service {
        engine: Engine::open_dir(dir, EngineOptions::default())
            .await
            .unwrap(),
        metrics: Arc::new(Metrics::with_rpc(rpc)),
        router: None,
        address: "127.0.0.1:19530".into(),
        cursors: Default::default(),
    }
}

fn in_db<T>(body: T, db: &str) -> Request<T> {
    let mut req = Request::new(body);
    req.metadata_mut().insert("dbname", db.parse().unwrap());
    req
}

fn assert_other_db_refused(status: Option<&quarry_proto::common::Status>, rpc: &str) {
    let s = status.cloned().unwrap_or_default();
    assert_eq!(
        (s.code, s.reason.as_str()),
        (800, "database not found[database=other]"),
        "{rpc}"
    );
}

/// Every RPC that works in a database refuses one that does not exist, named in the `dbname`
/// header or (where the request has one) in its `db_name`, with Milvus' status in its own
/// response; server calls and the database calls (whose `db_name` is their subject) ignore the
/// header.
#[tokio::test]
async fn every_rpc_refuses_an_unknown_database() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), &RpcMetrics::new()).await;
    macro_rules! in_header {
        ($($rpc:ident($req:ident)),* $(,)?) => {$(
            let answer = svc.$rpc(in_db($req::default(), "other")).await.unwrap().into_inner();
            assert_other_db_refused(answer.status(), stringify!($rpc));
        )*};
    }
    macro_rules! in_body {
        ($($rpc:ident($req:ident)),* $(,)?) => {$(
            let req = $req {
                db_name: "other".into(),
                ..Default::default()
            };
            let answer = svc.$rpc(Request::new(req)).await.unwrap().into_inner();
            assert_other_db_refused(answer.status(), stringify!($rpc));
        )*};
    }
    macro_rules! header_ignored {
        ($($rpc:ident($req:ident)),* $(,)?) => {$(
            let answer = svc.$rpc(in_db($req::default(), "other")).await.unwrap().into_inner();
            let status = answer.status().cloned().unwrap_or_default();
            assert_ne!(status.code, 800, "{}: {status:?}", stringify!($rpc));
        )*};
    }
    in_header!(connect(ConnectRequest));
    header_ignored!(
        get_version(GetVersionRequest),
        check_health(CheckHealthRequest),
        alloc_timestamp(AllocTimestampRequest),
        list_databases(ListDatabasesRequest),
        describe_database(DescribeDatabaseRequest),
        alter_database(AlterDatabaseRequest),
        create_privilege_group(CreatePrivilegeGroupRequest),
        drop_privilege_group(DropPrivilegeGroupRequest),
        list_privilege_groups(ListPrivilegeGroupsRequest),
        operate_privilege_group(OperatePrivilegeGroupRequest),
    );
    in_header!(
        create_collection(CreateCollectionRequest),
        drop_collection(DropCollectionRequest),
        has_collection(HasCollectionRequest),
        describe_collection(DescribeCollectionRequest),
        show_collections(ShowCollectionsRequest),
        get_collection_statistics(GetCollectionStatisticsRequest),
        load_collection(LoadCollectionRequest),
        release_collection(ReleaseCollectionRequest),
        get_load_state(GetLoadStateRequest),
        get_loading_progress(GetLoadingProgressRequest),
        show_partitions(ShowPartitionsRequest),
        has_partition(HasPartitionRequest),
        get_partition_statistics(GetPartitionStatisticsRequest),
        insert(InsertRequest),
        upsert(UpsertRequest),
        delete(DeleteRequest),
        flush(FlushRequest),
        get_flush_state(GetFlushStateRequest),
        create_index(CreateIndexRequest),
        describe_index(DescribeIndexRequest),
        drop_index(DropIndexRequest),
        get_index_state(GetIndexStateRequest),
        get_index_build_progress(GetIndexBuildProgressRequest),
        search(SearchRequest),
        query(QueryRequest),
        create_alias(CreateAliasRequest),
        drop_alias(DropAliasRequest),
        alter_alias(AlterAliasRequest),
        describe_alias(DescribeAliasRequest),
        list_aliases(ListAliasesRequest),
    );
    in_body!(
        create_collection(CreateCollectionRequest),
        drop_collection(DropCollectionRequest),
        has_collection(HasCollectionRequest),
        describe_collection(DescribeCollectionRequest),
        show_collections(ShowCollectionsRequest),
        get_collection_statistics(GetCollectionStatisticsRequest),
        load_collection(LoadCollectionRequest),
        release_collection(ReleaseCollectionRequest),
        get_load_state(GetLoadStateRequest),
        get_loading_progress(GetLoadingProgressRequest),
        show_partitions(ShowPartitionsRequest),
        has_partition(HasPartitionRequest),
        get_partition_statistics(GetPartitionStatisticsRequest),
        insert(InsertRequest),
        upsert(UpsertRequest),
        delete(DeleteRequest),
        flush(FlushRequest),
        get_flush_state(GetFlushStateRequest),
        create_index(CreateIndexRequest),
        describe_index(DescribeIndexRequest),
        drop_index(DropIndexRequest),
        get_index_state(GetIndexStateRequest),
        get_index_build_progress(GetIndexBuildProgressRequest),
        search(SearchRequest),
        query(QueryRequest),
        describe_database(DescribeDatabaseRequest),
        create_alias(CreateAliasRequest),
        drop_alias(DropAliasRequest),
        alter_alias(AlterAliasRequest),
        describe_alias(DescribeAliasRequest),
        list_aliases(ListAliasesRequest),
    );

    // the default database passes, named or not
    for db in ["", "default"] {
        let answer = svc
            .describe_database(in_db(
                DescribeDatabaseRequest {
                    db_name: db.into(),
                    ..Default::default()
                },
                db,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status.unwrap().code, 0);
        assert_eq!(answer.db_name, "default");
    }
    // dropping in another database does not drop the default database's collection
    let created = svc
        .create_collection(Request::new(CreateCollectionRequest {
            collection_name: "docs".into(),
            schema: quick_schema("docs"),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.code, 0, "{}", created.reason);
    let dropped = svc
        .drop_collection(in_db(
            DropCollectionRequest {
                collection_name: "docs".into(),
                ..Default::default()
            },
            "other",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dropped.code, 800);
    let has = svc
        .has_collection(Request::new(HasCollectionRequest {
            collection_name: "docs".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(has.value);
}

/// A collection's database: the request's `db_name` when set, else the `dbname` header; the
/// same name in two databases is two collections, and DescribeCollection tells which.
#[tokio::test]
async fn the_database_comes_from_the_body_then_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), &RpcMetrics::new()).await;
    let made = svc
        .create_database(Request::new(CreateDatabaseRequest {
            db_name: "other".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.code, 0, "{}", made.reason);
    let create = |db: &str, header: &str| {
        in_db(
            CreateCollectionRequest {
                db_name: db.into(),
                collection_name: "docs".into(),
                schema: quick_schema("docs"),
                ..Default::default()
            },
            header,
        )
    };
    // default (header ""), then `other` named by the header, then by the body over the header
    for (db, header) in [("", ""), ("", "other")] {
        let s = svc.create_collection(create(db, header)).await.unwrap();
        assert_eq!(s.into_inner().code, 0);
    }
    let describe = |db: &str, header: &str| {
        in_db(
            DescribeCollectionRequest {
                db_name: db.into(),
                collection_name: "docs".into(),
                ..Default::default()
            },
            header,
        )
    };
    let in_default = svc.describe_collection(describe("", "")).await.unwrap();
    let in_other = svc
        .describe_collection(describe("other", "default"))
        .await
        .unwrap();
    let (a, b) = (in_default.into_inner(), in_other.into_inner());
    assert_eq!((a.db_name.as_str(), a.db_id), ("default", 1));
    assert_eq!(b.db_name, "other");
    assert_ne!(b.db_id, 1);
    assert_ne!(a.collection_id, b.collection_id);
    // the database with a collection is not dropped
    let refused = svc
        .drop_database(Request::new(DropDatabaseRequest {
            db_name: "other".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refused.code, 65535, "{}", refused.reason);
    let listed = svc
        .list_databases(Request::new(ListDatabasesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.db_names, ["default", "other"]);
}

/// A search by primary keys refuses the worst inputs with a status, before reading anything:
/// no keys, more keys than a search has queries, keys of the other type, a field that is no
/// vector field; and it names the keys it does not find.
#[tokio::test]
async fn a_search_by_primary_keys_refuses_bad_keys() {
    use quarry_proto::common::KeyValuePair;
    use quarry_proto::schema::i_ds::IdField;
    use quarry_proto::schema::{IDs, LongArray, StringArray};
    use quarry_types::limits::MAX_NQ;
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), &RpcMetrics::new()).await;
    let made = svc
        .create_collection(Request::new(CreateCollectionRequest {
            collection_name: "docs".into(),
            schema: quick_schema("docs"),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.code, 0, "{}", made.reason);
    let kv = |key: &str, value: &str| KeyValuePair {
        key: key.into(),
        value: value.into(),
    };
    let indexed = svc
        .create_index(Request::new(CreateIndexRequest {
            collection_name: "docs".into(),
            field_name: "vector".into(),
            extra_params: vec![kv("index_type", "FLAT"), kv("metric_type", "L2")],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(indexed.code, 0, "{}", indexed.reason);
    let loaded = svc
        .load_collection(Request::new(LoadCollectionRequest {
            collection_name: "docs".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(loaded.code, 0, "{}", loaded.reason);
    let search = |ids: IdField, anns_field: &str| {
        let svc = &svc;
        let req = SearchRequest {
            collection_name: "docs".into(),
            search_input: Some(search_request::SearchInput::Ids(IDs {
                id_field: Some(ids),
            })),
            search_params: vec![kv("anns_field", anns_field)],
            ..Default::default()
        };
        async move {
            let r = svc.search(Request::new(req)).await.unwrap().into_inner();
            r.status.unwrap_or_default()
        }
    };
    let ints = |data: Vec<i64>| IdField::IntId(LongArray { data });
    let refused = |s: quarry_proto::common::Status, text: &str| {
        assert_ne!(s.code, 0);
        assert!(s.reason.contains(text), "{}", s.reason);
    };
    refused(
        search(ints(vec![]), "").await,
        "should be in range [1, 16384]",
    );
    let too_many = (0..=MAX_NQ as i64).collect();
    refused(search(ints(too_many), "").await, "but got 16385");
    let strings = IdField::StrId(StringArray {
        data: vec!["é".repeat(100)],
    });
    refused(
        search(strings, "").await,
        "do not match the type of primary key id",
    );
    refused(
        search(ints(vec![1]), "id").await,
        "failed to get field schema by name",
    );
    refused(
        search(ints(vec![1, 2]), "").await,
        "primary keys not found in collection docs: [1, 2]",
    );
}

/// A collection with an Int64 primary key and a 2-dimensional float vector.
fn quick_schema(name: &str) -> Vec<u8> {
    use prost::Message;
    use quarry_proto::common::KeyValuePair;
    use quarry_proto::schema::{CollectionSchema, FieldSchema};
    use quarry_types::DataType;
    CollectionSchema {
        name: name.into(),
        fields: vec![
            FieldSchema {
                name: "id".into(),
                is_primary_key: true,
                data_type: DataType::Int64.code(),
                ..Default::default()
            },
            FieldSchema {
                name: "vector".into(),
                data_type: DataType::FloatVector.code(),
                type_params: vec![KeyValuePair {
                    key: "dim".into(),
                    value: "2".into(),
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
    .encode_to_vec()
}

async fn call<Req, Resp>(
    grpc: &mut tonic::client::Grpc<Channel>,
    rpc: &str,
    req: Request<Req>,
) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    grpc.ready().await.unwrap();
    let path = format!("/milvus.proto.milvus.MilvusService/{rpc}")
        .parse()
        .unwrap();
    grpc.unary(req, path, tonic_prost::ProstCodec::default())
        .await
        .map(tonic::Response::into_inner)
}

/// Over gRPC through the server clients reach (`milvus_grpc_server`, with the RPC layer on the
/// process' metrics), as pymilvus sees it: refusals in-band with gRPC OK, every RPC counted by
/// method and outcome.
#[tokio::test]
async fn over_grpc_the_layer_counts_every_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = RpcMetrics::process();
    let svc = service(dir.path(), rpc).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        crate::milvus_grpc_server(None, None)
            .unwrap()
            .add_service(MilvusServiceServer::new(svc))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    // other tests may count into the process' metrics too, but none of these RPCs
    let counts = || {
        [
            rpc.count("GetVersion", "success"),
            rpc.count("GetVersion", "fail"),
            rpc.count("DescribeCollection", "fail"),
            rpc.count("unknown", "fail"),
        ]
    };
    let before = counts();

    let d: DescribeCollectionResponse = call(
        &mut grpc,
        "DescribeCollection",
        in_db(DescribeCollectionRequest::default(), "other"),
    )
    .await
    .unwrap();
    assert_other_db_refused(d.status.as_ref(), "DescribeCollection");
    let v: GetVersionResponse = call(&mut grpc, "GetVersion", in_db(GetVersionRequest {}, ""))
        .await
        .unwrap();
    assert!(v.version.contains("quarry"), "{v:?}");
    let d: DescribeCollectionResponse = call(
        &mut grpc,
        "DescribeCollection",
        in_db(
            DescribeCollectionRequest {
                collection_name: "nope".into(),
                ..Default::default()
            },
            "default",
        ),
    )
    .await
    .unwrap();
    assert_eq!(d.status.unwrap().code, 100);
    // an RPC Quarry does not serve: gRPC UNIMPLEMENTED, counted under `unknown`
    let e = call::<_, GetVersionResponse>(
        &mut grpc,
        "CalcDistance",
        Request::new(GetVersionRequest {}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unimplemented);

    let after = counts();
    let added: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(added, [1, 0, 2, 1]);
    server.abort();
}
