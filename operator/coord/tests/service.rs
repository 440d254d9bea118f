//! The coordinator's gRPC service end to end over loopback: catalog operations through
//! RemoteMeta, heartbeats, placement of loaded shards on query nodes, and reassignment when a
//! node stops heartbeating.

use std::sync::Arc;
use std::time::Duration;

use quarry_coord::CoordServer;
use quarry_meta::{Catalog, Created, LocalMeta, MetaService, NewCollection, RemoteMeta};
use quarry_proto::internal::coord_server::CoordServer as CoordGrpc;
use quarry_proto::internal::{HeartbeatRequest, ShardReplica};
use quarry_storage::MemoryObjectStore;
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

async fn start(lease: Duration) -> String {
    let store = Arc::new(MemoryObjectStore::new());
    let meta = Arc::new(LocalMeta::new(Catalog::open(store).await.unwrap()));
    let server = CoordGrpc::new(CoordServer::new(meta, lease).with_warmup(Duration::ZERO));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let sock = addr.parse().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(server)
            .serve(sock)
            .await
            .unwrap()
    });
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    addr
}

fn schema() -> CollectionSchema {
    let mut pk = FieldSchema::new("id", DataType::Int64);
    pk.is_primary_key = true;
    let v = FieldSchema::new("v", DataType::FloatVector).with_param("dim", "4");
    let s = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![pk, v],
        enable_dynamic_field: false,
        properties: vec![],
    };
    s.prepare_new().unwrap()
}

fn beat(id: &str, role: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        node_id: id.into(),
        role: role.into(),
        address: format!("{id}:7000"),
        memory_bytes: 0,
        serving: vec![],
        pool: String::new(),
        growing: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_operations_heartbeats_and_placement() {
    let addr = start(Duration::from_millis(600)).await;
    let a = RemoteMeta::connect(&addr).unwrap();
    let b = RemoteMeta::connect(&addr).unwrap();
    let req = NewCollection {
        db: quarry_meta::DEFAULT_DB.into(),
        name: "c".into(),
        schema: schema(),
        shards: 2,
        consistency: ConsistencyLevel::Bounded,
        properties: vec![],
        num_partitions: 0,
    };
    let Created::New(meta) = a.create_collection(req.clone()).await.unwrap() else {
        panic!("expected a new collection")
    };
    assert!(
        matches!(
            b.create_collection(req.clone()).await.unwrap(),
            Created::Existing(_)
        ),
        "identical re-create is accepted"
    );
    let mut other = req.clone();
    other.shards = 3;
    let err = b.create_collection(other).await.unwrap_err();
    assert_eq!(err.to_string(), "collection c already exists");
    let first = a.alloc_ids(10).await.unwrap();
    assert!(
        b.alloc_ids(1).await.unwrap() >= first + 10,
        "id ranges never overlap"
    );
    assert!(a.timestamp() > 0 && b.timestamp() > 0);

    // placement: two query nodes share the loaded collection's two shards
    b.heartbeat(beat("q1", "query")).await.unwrap();
    b.heartbeat(beat("q2", "query")).await.unwrap();
    a.set_loaded(meta.id, true, 1).await.unwrap();
    let r1 = b.heartbeat(beat("q1", "query")).await.unwrap();
    let r2 = b.heartbeat(beat("q2", "query")).await.unwrap();
    assert_eq!(
        (r1.assignments.len(), r2.assignments.len()),
        (1, 1),
        "{r1:?} {r2:?}"
    );
    assert!(
        r2.query_routes.is_empty(),
        "nothing is routed before a node reports it loaded"
    );
    b.heartbeat(HeartbeatRequest {
        serving: r1.assignments.clone(),
        ..beat("q1", "query")
    })
    .await
    .unwrap();
    let r2 = b
        .heartbeat(HeartbeatRequest {
            serving: r2.assignments.clone(),
            ..beat("q2", "query")
        })
        .await
        .unwrap();
    assert_eq!(r2.query_routes.len(), 2);
    assert!(
        b.snapshot().collections[&meta.id].loaded,
        "heartbeats refresh the cached catalog"
    );

    // q2 stops heartbeating: after the lease its shard moves to q1
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.heartbeat(beat("q1", "query")).await.unwrap();
    }
    let r1 = b.heartbeat(beat("q1", "query")).await.unwrap();
    assert_eq!(r1.assignments.len(), 2, "q1 took over: {r1:?}");
    let r1 = b
        .heartbeat(HeartbeatRequest {
            serving: r1.assignments.clone(),
            ..beat("q1", "query")
        })
        .await
        .unwrap();
    assert!(r1.query_routes.iter().all(|r| r.node_id == "q1"));

    // q3 joins and gets one shard; q1 keeps serving it until q3 reports it loaded
    let r3 = b.heartbeat(beat("q3", "query")).await.unwrap();
    assert_eq!(r3.assignments.len(), 1, "{r3:?}");
    let r1 = b
        .heartbeat(HeartbeatRequest {
            serving: r1.assignments.clone(),
            ..beat("q1", "query")
        })
        .await
        .unwrap();
    assert_eq!(r1.assignments.len(), 2, "q1 drains the moved shard: {r1:?}");
    assert_eq!(r1.query_routes.len(), 2);
    assert!(
        r1.query_routes.iter().all(|r| r.node_id == "q1"),
        "no route to q3 before it serves"
    );
    b.heartbeat(HeartbeatRequest {
        serving: r3.assignments.clone(),
        ..beat("q3", "query")
    })
    .await
    .unwrap();
    let r1 = b
        .heartbeat(HeartbeatRequest {
            serving: r1.assignments.clone(),
            ..beat("q1", "query")
        })
        .await
        .unwrap();
    assert_eq!(r1.assignments.len(), 1, "q1 lets go once q3 serves: {r1:?}");
    assert_eq!(
        r1.query_routes.iter().filter(|r| r.node_id == "q3").count(),
        1
    );

    // a data node following shards is never a query route, also while no query node serves
    // them yet (a newly loaded collection)
    let mut req2 = req.clone();
    req2.name = "c2".into();
    let Created::New(c2) = a.create_collection(req2).await.unwrap() else {
        panic!("new")
    };
    a.set_loaded(c2.id, true, 1).await.unwrap();
    let units = vec![
        ShardReplica {
            collection: c2.id,
            shard: 0,
            replica: 0,
        },
        ShardReplica {
            collection: c2.id,
            shard: 1,
            replica: 0,
        },
    ];
    let r = b
        .heartbeat(HeartbeatRequest {
            serving: units,
            ..beat("d1", "data")
        })
        .await
        .unwrap();
    assert!(
        !r.query_routes.iter().any(|r| r.node_id == "d1"),
        "{:?}",
        r.query_routes
    );

    // a bad role is refused, and dropping works through the remote client
    assert!(b.heartbeat(beat("x", "janitor")).await.is_err());
    assert_eq!(
        a.drop_collection(meta.id).await.unwrap().map(|m| m.id),
        Some(meta.id)
    );
    assert!(!a.snapshot().collections.contains_key(&meta.id));
}

#[tokio::test]
async fn a_restarted_coordinator_keeps_shards_where_they_are_served() {
    use quarry_proto::internal::coord_server::Coord;
    let store = Arc::new(MemoryObjectStore::new());
    let meta = Arc::new(LocalMeta::new(Catalog::open(store.clone()).await.unwrap()));
    let req = NewCollection {
        db: quarry_meta::DEFAULT_DB.into(),
        name: "c".into(),
        schema: schema(),
        shards: 4,
        consistency: ConsistencyLevel::Bounded,
        properties: vec![],
        num_partitions: 0,
    };
    let Created::New(c) = meta.create_collection(req).await.unwrap() else {
        panic!()
    };
    meta.set_loaded(c.id, true, 1).await.unwrap();
    let unit = |shard| ShardReplica {
        collection: c.id,
        shard,
        replica: 0,
    };
    // q1 serves shards 0-2 and q2 shard 3: not the even split a fresh plan would choose
    let served = [
        ("q1", vec![unit(0), unit(1), unit(2)]),
        ("q2", vec![unit(3)]),
    ];
    let beat_serving = |id: &str, units: Vec<ShardReplica>| {
        tonic::Request::new(HeartbeatRequest {
            serving: units,
            ..beat(id, "query")
        })
    };

    let restarted = CoordServer::new(
        Arc::new(LocalMeta::new(Catalog::open(store).await.unwrap())),
        Duration::from_secs(5),
    )
    .with_warmup(Duration::from_millis(300));
    // the nodes report in one by one during the warm-up: nothing moves to the first one
    let r = restarted
        .heartbeat(beat_serving("q1", served[0].1.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.assignments, served[0].1);
    let r = restarted
        .heartbeat(beat_serving("q2", served[1].1.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.assignments, served[1].1);
    assert_eq!(r.query_routes.len(), 4, "every shard stays routed");
    tokio::time::sleep(Duration::from_millis(350)).await;
    // after the warm-up, planning goes on from where the shards are
    let r1 = restarted
        .heartbeat(beat_serving("q1", served[0].1.clone()))
        .await
        .unwrap()
        .into_inner();
    let r2 = restarted
        .heartbeat(beat_serving("q2", served[1].1.clone()))
        .await
        .unwrap()
        .into_inner();
    let kept = served[0]
        .1
        .iter()
        .filter(|u| r1.assignments.contains(u))
        .count()
        + served[1]
            .1
            .iter()
            .filter(|u| r2.assignments.contains(u))
            .count();
    assert!(
        kept >= 3,
        "at most one shard moves to even out: {r1:?} {r2:?}"
    );
    // every shard is assigned (a moved one also stays with its old node until the new one has it)
    let all: std::collections::BTreeSet<u32> = r1
        .assignments
        .iter()
        .chain(&r2.assignments)
        .map(|u| u.shard)
        .collect();
    assert_eq!(all.len(), 4);
}
