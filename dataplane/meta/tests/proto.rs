//! Every catalog message of the internal API survives protobuf bytes unchanged: the catalog
//! with a rich schema, each operation and each result; malformed messages are refused with
//! the field named.

use std::collections::BTreeMap;

use prost::Message;
use quarry_meta::proto::{
    catalog_from_pb, catalog_to_pb, op_from_pb, op_to_pb, result_from_pb, result_to_pb,
};
use quarry_meta::{
    AliasChange, CatalogState, CollectionMeta, CompactionCommit, Created, DatabaseChange,
    DatabaseMeta, FlushCommit, IndexCommit, IndexMeta, MetaOp, MetaResult, NewCollection, NewIndex,
    PartitionMeta, SegmentMeta,
};
use quarry_proto::internal as pb;
use quarry_types::schema::DefaultValue;
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

fn through_bytes<M: Message + Default>(m: M) -> M {
    M::decode(m.encode_to_vec().as_slice()).unwrap()
}

fn rich_schema() -> CollectionSchema {
    let mut pk = FieldSchema::new("id", DataType::Int64);
    pk.is_primary_key = true;
    pk.auto_id = true;
    pk.description = "the key".into();
    let mut tag = FieldSchema::new("tag", DataType::VarChar).with_param("max_length", "64");
    tag.is_partition_key = true;
    tag.default_value = Some(DefaultValue::Str("none".into()));
    let mut rank = FieldSchema::new("rank", DataType::Int32);
    rank.nullable = true;
    rank.is_clustering_key = true;
    rank.default_value = Some(DefaultValue::Int(-3));
    let mut score = FieldSchema::new("score", DataType::Double);
    score.default_value = Some(DefaultValue::Float(0.5));
    let mut flag = FieldSchema::new("flag", DataType::Bool);
    flag.default_value = Some(DefaultValue::Bool(true));
    let mut v = FieldSchema::new("v", DataType::FloatVector).with_param("dim", "8");
    v.index_params = vec![("metric_type".into(), "COSINE".into())];
    let fields = vec![
        pk,
        tag,
        rank,
        score,
        flag,
        FieldSchema::new("i8", DataType::Int8),
        FieldSchema::new("i16", DataType::Int16),
        FieldSchema::new("f", DataType::Float),
        FieldSchema::new("doc", DataType::Json),
        v,
    ];
    CollectionSchema {
        functions: vec![],
        name: "rich".into(),
        description: "every kind of field".into(),
        auto_id: true,
        fields,
        enable_dynamic_field: true,
        properties: vec![("team".into(), "search".into())],
    }
    .prepare_new()
    .unwrap()
}

fn segment(id: i64, deletes: bool) -> SegmentMeta {
    SegmentMeta {
        id,
        shard: 1,
        partition_id: 7,
        start_offset: 10,
        end_offset: 99,
        rows: 89,
        data_key: format!("collections/1/segments/{id}.parquet"),
        deletes_key: deletes.then(|| format!("collections/1/segments/{id}.deletes")),
        deleted_rows: if deletes { 4 } else { 0 },
        index_files: if deletes {
            BTreeMap::from([(3, "collections/1/index/3".into()), (4, "x".into())])
        } else {
            BTreeMap::new()
        },
    }
}

fn index() -> IndexMeta {
    IndexMeta {
        id: 3,
        name: "v_idx".into(),
        field_name: "v".into(),
        params: BTreeMap::from([
            ("index_type".into(), "HNSW".into()),
            ("metric_type".into(), "COSINE".into()),
            ("M".into(), "16".into()),
        ]),
        created_ts: 1 << 50,
    }
}

fn collection(id: i64, pool: Option<&str>) -> CollectionMeta {
    CollectionMeta {
        id,
        name: format!("c{id}"),
        db: "default".into(),
        schema: rich_schema(),
        shards: 2,
        consistency: ConsistencyLevel::Session,
        properties: vec![("a".into(), "1".into()), ("b".into(), String::new())],
        created_ts: 11,
        updated_ts: 12,
        loaded: pool.is_some(),
        replicas: 3,
        query_pool: pool.map(str::to_string),
        partitions: vec![
            PartitionMeta {
                id: 5,
                name: "_default".into(),
                created_ts: 11,
                released: false,
            },
            PartitionMeta {
                id: 7,
                name: "p1".into(),
                created_ts: 13,
                released: true,
            },
        ],
        indexes: vec![index()],
        segments: vec![segment(20, true), segment(21, false)],
        checkpoints: vec![99, 0],
        aliases: vec!["first".into(), "second".into()],
    }
}

#[test]
fn the_catalog_survives_the_round_trip() {
    let mut state = CatalogState {
        version: 42,
        next_id: (1 << 20) + 5,
        last_ts: u64::MAX - 1,
        collections: BTreeMap::new(),
        commit_nonce: 0xdead_beef,
        databases: BTreeMap::new(),
        users: BTreeMap::from([(
            "root".to_string(),
            quarry_meta::UserMeta {
                name: "root".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                created_ts: 7,
                roles: vec!["reader".into()],
            },
        )]),
        roles: BTreeMap::from([(
            "reader".to_string(),
            quarry_meta::RoleMeta {
                name: "reader".into(),
                created_ts: 8,
                grants: vec![quarry_meta::GrantMeta {
                    object_type: "Global".into(),
                    object_name: "*".into(),
                    db: "*".into(),
                    privilege: "DescribeCollection".into(),
                    grantor: "root".into(),
                }],
            },
        )]),
        privilege_groups: BTreeMap::from([(
            "readers".to_string(),
            vec!["Query".to_string(), "Search".to_string()],
        )]),
    };
    for (id, name) in [(1, "default"), (77, "analytics")] {
        state.databases.insert(
            name.into(),
            DatabaseMeta {
                id,
                name: name.into(),
                created_ts: 5,
                properties: vec![("database.max.collections".into(), "3".into())],
            },
        );
    }
    for c in [collection(1, Some("gpu")), collection(2, None)] {
        state.collections.insert(c.id, c);
    }
    for level in [
        ConsistencyLevel::Strong,
        ConsistencyLevel::Bounded,
        ConsistencyLevel::Eventually,
        ConsistencyLevel::Customized,
    ] {
        let mut c = collection(3, None);
        c.consistency = level;
        state.collections.insert(c.id, c);
        let back = catalog_from_pb(through_bytes(catalog_to_pb(state.clone()))).unwrap();
        assert_eq!(back, state);
    }
    let empty = CatalogState::default();
    assert_eq!(
        catalog_from_pb(through_bytes(catalog_to_pb(empty.clone()))).unwrap(),
        empty
    );
}

fn every_op() -> Vec<MetaOp> {
    vec![
        MetaOp::CreateCollection(NewCollection {
            db: "analytics".into(),
            name: "rich".into(),
            schema: rich_schema(),
            shards: 4,
            consistency: ConsistencyLevel::Strong,
            properties: vec![("k".into(), "v".into())],
            num_partitions: 16,
        }),
        MetaOp::DropCollection { id: 9 },
        MetaOp::Database(DatabaseChange::Create {
            name: "analytics".into(),
            properties: vec![("database.max.collections".into(), "3".into())],
        }),
        MetaOp::Database(DatabaseChange::Drop {
            name: "analytics".into(),
        }),
        MetaOp::Database(DatabaseChange::Alter {
            name: "default".into(),
            set: vec![("database.max.collections".into(), "9".into())],
            delete: vec!["x".into()],
        }),
        MetaOp::Alias(AliasChange::Create {
            db: "analytics".into(),
            alias: "live".into(),
            collection: "rich".into(),
        }),
        MetaOp::Alias(AliasChange::Drop {
            db: "default".into(),
            alias: "live".into(),
        }),
        MetaOp::Alias(AliasChange::Alter {
            db: "analytics".into(),
            alias: "live".into(),
            collection: "blue".into(),
        }),
        MetaOp::CreateUser {
            name: "alice".into(),
            password_hash: "h1".into(),
            if_absent: true,
        },
        MetaOp::UpdateUser {
            name: "alice".into(),
            password_hash: "h2".into(),
            previous_hash: "h1".into(),
        },
        MetaOp::DeleteUser {
            name: "alice".into(),
        },
        MetaOp::Rbac(quarry_meta::RbacChange::Grant {
            role: "reader".into(),
            grant: quarry_meta::GrantMeta {
                object_type: "Collection".into(),
                object_name: "books".into(),
                db: "default".into(),
                privilege: "Search".into(),
                grantor: "root".into(),
            },
        }),
        MetaOp::Rbac(quarry_meta::RbacChange::DropRole {
            name: "reader".into(),
            force: true,
        }),
        MetaOp::Rbac(quarry_meta::RbacChange::AddUserToRole {
            user: "alice".into(),
            role: "reader".into(),
        }),
        MetaOp::Rbac(quarry_meta::RbacChange::CreatePrivilegeGroup {
            name: "readers".into(),
        }),
        MetaOp::Rbac(quarry_meta::RbacChange::DropPrivilegeGroup {
            name: "readers".into(),
        }),
        MetaOp::Rbac(quarry_meta::RbacChange::OperatePrivilegeGroup {
            name: "readers".into(),
            privileges: vec!["Search".into(), "Query".into()],
            remove: false,
        }),
        MetaOp::Rbac(quarry_meta::RbacChange::OperatePrivilegeGroup {
            name: "readers".into(),
            privileges: vec!["Query".into()],
            remove: true,
        }),
        MetaOp::RenameCollection(quarry_meta::Rename {
            id: 9,
            db: "other".into(),
            name: "renamed".into(),
        }),
        MetaOp::SetLoaded {
            id: 9,
            loaded: true,
            replicas: 2,
        },
        MetaOp::SetLoaded {
            id: 9,
            loaded: false,
            replicas: 0,
        },
        MetaOp::SetProperties {
            id: 9,
            properties: vec![("mmap.enabled".into(), "false".into())],
        },
        MetaOp::SetProperties {
            id: 9,
            properties: vec![],
        },
        MetaOp::SetFieldParams {
            id: 9,
            field: "title".into(),
            params: vec![("max_length".into(), "128".into())],
        },
        MetaOp::SetIndexParams {
            id: 9,
            index: 12,
            params: [("index_type", "HNSW"), ("mmap.enabled", "true")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        MetaOp::SetQueryPool {
            id: 9,
            pool: Some("pool-a".into()),
        },
        MetaOp::SetQueryPool { id: 9, pool: None },
        MetaOp::SetQueryPool {
            id: 9,
            pool: Some(String::new()),
        },
        MetaOp::CreateIndex {
            id: 9,
            index: NewIndex {
                name: "v_idx".into(),
                field_name: "v".into(),
                params: index().params,
            },
        },
        MetaOp::DropIndex { id: 9, index: 3 },
        MetaOp::CommitFlush(FlushCommit {
            collection: 9,
            shard: 1,
            new_segments: vec![segment(30, false)],
            deletes: vec![(20, "d/20".into(), 4), (21, "d/21".into(), 0)],
            checkpoint: 120,
            base: 99,
        }),
        MetaOp::CommitFlush(FlushCommit {
            collection: 9,
            shard: 0,
            new_segments: vec![],
            deletes: vec![],
            checkpoint: 0,
            base: 0,
        }),
        MetaOp::CommitIndex(IndexCommit {
            collection: 9,
            segment: 30,
            index: 3,
            key: "collections/9/index/3-30".into(),
        }),
        MetaOp::CommitCompaction(CompactionCommit {
            collection: 9,
            shard: 1,
            sources: vec![20, 21, 30],
            target: segment(31, true),
            base: 120,
        }),
        MetaOp::CommitFlush(FlushCommit {
            collection: 9,
            shard: 1,
            new_segments: vec![segment(32, false), segment(33, true), segment(34, false)],
            deletes: vec![],
            checkpoint: 130,
            base: 120,
        }),
        MetaOp::CreatePartition {
            id: 9,
            name: "p2".into(),
        },
        MetaOp::DropPartition {
            id: 9,
            name: "p2".into(),
        },
        MetaOp::SetPartitionLoaded {
            id: 9,
            names: vec!["p1".into(), "_default".into()],
            loaded: true,
            replicas: 2,
        },
        MetaOp::SetPartitionLoaded {
            id: 9,
            names: vec![],
            loaded: false,
            replicas: 0,
        },
    ]
}

#[test]
fn every_operation_survives_the_round_trip() {
    let ops = every_op();
    // one of each kind at least
    let kinds: std::collections::HashSet<_> = ops.iter().map(std::mem::discriminant).collect();
    assert_eq!(kinds.len(), 22);
    for op in ops {
        let back = op_from_pb(through_bytes(op_to_pb(op.clone()))).unwrap();
        assert_eq!(back, op);
    }
}

#[test]
fn every_result_survives_the_round_trip() {
    for r in [
        MetaResult::Created(Created::New(collection(1, None))),
        MetaResult::Created(Created::Existing(collection(2, Some("p")))),
        MetaResult::Dropped(Some(collection(3, None))),
        MetaResult::Dropped(None),
        MetaResult::Done,
        MetaResult::Index(index()),
        MetaResult::Garbage(vec!["a".into(), "b/c".into()]),
        MetaResult::Garbage(vec![]),
    ] {
        let back = result_from_pb(through_bytes(result_to_pb(r.clone()))).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn malformed_messages_are_refused_with_the_field_named() {
    let op_err = |op: pb::meta_op::Op| op_from_pb(pb::MetaOp { op: Some(op) }).unwrap_err();
    assert_eq!(
        op_from_pb(pb::MetaOp::default()).unwrap_err().to_string(),
        "MetaOp.op is missing"
    );
    assert_eq!(
        op_err(pb::meta_op::Op::CreateCollection(
            pb::NewCollection::default()
        ))
        .to_string(),
        "NewCollection.schema is missing"
    );
    assert_eq!(
        op_err(pb::meta_op::Op::CreateIndex(pb::CreateIndex::default())).to_string(),
        "CreateIndex.index is missing"
    );
    assert_eq!(
        op_err(pb::meta_op::Op::CommitCompaction(
            pb::CompactionCommit::default()
        ))
        .to_string(),
        "CompactionCommit.target is missing"
    );

    let good = || {
        catalog_to_pb(CatalogState {
            collections: BTreeMap::from([(1, collection(1, None))]),
            ..Default::default()
        })
    };
    let mut s = good();
    s.collections[0].consistency = 9;
    let e = catalog_from_pb(s).unwrap_err().to_string();
    assert!(
        e.starts_with("CollectionMeta.consistency is invalid"),
        "{e}"
    );
    let mut s = good();
    s.collections[0].schema.as_mut().unwrap().fields[1].data_type = 999;
    let e = catalog_from_pb(s).unwrap_err().to_string();
    assert!(e.starts_with("FieldSchema.data_type is invalid"), "{e}");
    let mut s = good();
    s.collections[0].schema.as_mut().unwrap().fields[1].default_value =
        Some(pb::DefaultValue { value: None });
    let e = catalog_from_pb(s).unwrap_err().to_string();
    assert_eq!(e, "DefaultValue.value is missing");
    let mut s = good();
    s.collections[0].schema = None;
    let e = catalog_from_pb(s).unwrap_err().to_string();
    assert_eq!(e, "CollectionMeta.schema is missing");
    let mut s = good();
    s.collections.push(s.collections[0].clone());
    let e = catalog_from_pb(s).unwrap_err().to_string();
    assert!(e.contains("collection id 1 is listed twice"), "{e}");

    assert_eq!(
        result_from_pb(pb::MetaResult::default())
            .unwrap_err()
            .to_string(),
        "MetaResult.result is missing"
    );
    let created = pb::MetaResult {
        result: Some(pb::meta_result::Result::Created(pb::Created::default())),
    };
    assert_eq!(
        result_from_pb(created).unwrap_err().to_string(),
        "Created.collection is missing"
    );
}

#[test]
fn requests_of_the_json_era_do_not_decode_as_operations() {
    // an old proxy's MutateRequest carried JSON in field 1 (now reserved): a new coordinator
    // sees no operation, and refuses the call as such
    let mut bytes = vec![1 << 3 | 2, 13];
    bytes.extend_from_slice(br#"{"op":"x"}   "#);
    let req = pb::MutateRequest::decode(bytes.as_slice()).unwrap();
    assert!(req.op.is_none());
}
