//! The Worker messages survive protobuf bytes unchanged (searches, queries, answers), malformed
//! ones are refused with the field named, and engine errors keep their kind over gRPC.

use std::collections::HashMap;

use prost::Message;
use quarry_engine::wire::{
    answer_from_pb, answer_to_pb, check_read, from_status, read_from_pb, read_to_pb, to_status,
};
use quarry_engine::{
    EngineError, Found, GroupBy, GroupPlan, QueryInput, QueryPlan, SearchInput, SearchPlan,
    ShardAnswer, ShardRead,
};
use quarry_expr::ExprError;
use quarry_index::Metric;
use quarry_proto::internal as pb;
use quarry_proto::DecodeError;
use quarry_types::{CollectionSchema, Pk, Value};
use tonic::Status;

/// Through bytes and back; compared as JSON (the read types have no `PartialEq`).
fn same<T: serde::Serialize>(a: &T, b: &T) {
    assert_eq!(
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap()
    );
}

fn through_bytes<M: Message + Default>(m: M) -> M {
    M::decode(m.encode_to_vec().as_slice()).unwrap()
}

fn every_value() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Int(-7),
        Value::Float(2.5),
        Value::Str("héllo".into()),
        Value::Json(serde_json::json!({"a": [1, 2.5, "x", null], "b": {"c": true}})),
        Value::Vector(vec![0.5, -1.0, 3.25]),
        Value::Array(vec![Value::Int(1), Value::Str("b".into()), Value::Null]),
        Value::Array(vec![]),
        Value::Sparse(quarry_types::sparse::encode(&[(3, 0.5), (70000, 2.0)])),
        Value::Sparse(vec![]),
    ]
}

fn templates() -> HashMap<String, Value> {
    every_value()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("t{i}"), v))
        .collect()
}

fn round_trip_read(read: ShardRead) {
    let back = read_from_pb(through_bytes(read_to_pb(read.clone()))).unwrap();
    same(&read, &back);
}

#[test]
fn searches_survive_the_round_trip() {
    let full = SearchInput {
        anns_field: "v".into(),
        metric: Some("IP".into()),
        vectors: vec![vec![1.0, 2.0], vec![-0.5, 0.0]],
        topk: 10,
        offset: 3,
        filter: "id in {ids} and tag == \"a\"".into(),
        templates: templates(),
        output_fields: vec!["id".into(), "$meta".into(), "*".into()],
        partitions: vec!["_default".into(), "p1".into()],
        ef: Some(64),
        nprobe: Some(16),
        radius: Some(0.25),
        range_filter: Some(0.75),
        group: Some(GroupBy {
            field: "tag".into(),
            size: 3,
            strict: true,
        }),
        vector_type: Some(quarry_types::DataType::BinaryVector),
        sparse: vec![],
        drop_ratio_search: None,
        texts: vec![],
        refine_k: Some(2.5),
    };
    // a full-text search as the proxy sends it, and its texts before analysis
    round_trip_read(ShardRead::Search(SearchPlan {
        bm25: Some(quarry_index::text::bm25::Bm25 { k1: 1.5, b: 0.5 }),
        input: SearchInput {
            vectors: vec![],
            sparse: vec![quarry_types::sparse::encode(&[(3, 2.0)])],
            texts: vec!["the query".into(), String::new()],
            vector_type: Some(quarry_types::DataType::SparseFloatVector),
            ..full.clone()
        },
        field_index: 1,
        fields: vec![0],
        metric: Metric::Bm25,
        index: Some(5),
        group: None,
        partition_ids: vec![],
        expire_before_ms: 0,
    }));
    // a sparse search: query rows in their byte form and the drop ratio
    round_trip_read(ShardRead::Search(SearchPlan {
        bm25: None,
        input: SearchInput {
            vectors: vec![],
            sparse: vec![quarry_types::sparse::encode(&[(1, 0.25), (9, 4.0)]), vec![]],
            vector_type: Some(quarry_types::DataType::SparseFloatVector),
            drop_ratio_search: Some(0.2),
            ..full.clone()
        },
        field_index: 1,
        fields: vec![0],
        metric: Metric::Ip,
        index: Some(5),
        group: None,
        partition_ids: vec![],
        expire_before_ms: 0,
    }));
    for metric in [
        Metric::L2,
        Metric::Ip,
        Metric::Cosine,
        Metric::Hamming,
        Metric::Jaccard,
        Metric::Bm25,
    ] {
        round_trip_read(ShardRead::Search(SearchPlan {
            bm25: None,
            input: full.clone(),
            field_index: 2,
            fields: vec![0, 3, 1],
            metric,
            index: Some(1 << 40),
            group: Some(GroupPlan {
                field: 3,
                slot: 1,
                size: 3,
                strict: true,
            }),
            partition_ids: vec![7, 1 << 41],
            expire_before_ms: 1_764_600_000_000,
        }));
    }
    // every optional absent
    round_trip_read(ShardRead::Search(SearchPlan {
        bm25: None,
        input: SearchInput {
            vectors: vec![vec![]],
            topk: 1,
            ..Default::default()
        },
        field_index: 0,
        fields: vec![],
        metric: Metric::L2,
        index: None,
        group: None,
        partition_ids: vec![],
        expire_before_ms: 0,
    }));
}

#[test]
fn queries_survive_the_round_trip() {
    round_trip_read(ShardRead::Query(QueryPlan {
        input: QueryInput {
            filter: "x > {lo}".into(),
            templates: templates(),
            output_fields: vec!["count(*)".into()],
            partitions: vec!["p".into()],
            limit: Some(100),
            offset: 5,
        },
        fields: vec![4, 0],
        count_only: true,
        partition_ids: vec![3],
        expire_before_ms: 42,
    }));
    round_trip_read(ShardRead::Query(QueryPlan {
        input: QueryInput::default(),
        fields: vec![],
        count_only: false,
        partition_ids: vec![],
        expire_before_ms: 0,
    }));
}

#[test]
fn answers_survive_the_round_trip() {
    let found = |pk: Pk, score: f32| Found {
        pk,
        score,
        values: every_value(),
    };
    for answer in [
        ShardAnswer::Search(vec![
            vec![found(Pk::Int(1), 0.5), found(Pk::Int(-2), 0.25)],
            vec![],
            vec![found(Pk::Str("k".into()), -1.0)],
        ]),
        ShardAnswer::Search(vec![]),
        ShardAnswer::Rows(vec![found(Pk::Str(String::new()), 0.0)]),
        ShardAnswer::Rows(vec![]),
        ShardAnswer::Count(0),
        ShardAnswer::Count(u64::MAX),
    ] {
        let back = answer_from_pb(through_bytes(answer_to_pb(answer.clone()))).unwrap();
        same(&answer, &back);
    }
}

#[test]
fn malformed_messages_are_refused_with_the_field_named() {
    let err = |r: Result<ShardRead, DecodeError>| r.unwrap_err().to_string();
    assert_eq!(
        err(read_from_pb(pb::ShardRead::default())),
        "ShardRead.read is missing"
    );
    let search = |metric: i32, input: Option<pb::SearchInput>| pb::ShardRead {
        read: Some(pb::shard_read::Read::Search(pb::SearchPlan {
            input,
            metric,
            ..Default::default()
        })),
    };
    let input = Some(pb::SearchInput::default());
    assert_eq!(
        err(read_from_pb(search(pb::Metric::L2 as i32, None))),
        "SearchPlan.input is missing"
    );
    assert_eq!(
        err(read_from_pb(search(0, input.clone()))),
        "SearchPlan.metric is missing"
    );
    assert!(err(read_from_pb(search(42, input.clone()))).contains("unknown metric 42"));
    let mut bad = pb::SearchInput::default();
    bad.templates.insert(
        "t".into(),
        pb::Value {
            kind: Some(pb::value::Kind::Json("{nope".into())),
        },
    );
    assert!(err(read_from_pb(search(1, Some(bad)))).starts_with("Value.json is invalid"));
    let rows = |found: pb::Found| pb::ShardAnswer {
        answer: Some(pb::shard_answer::Answer::Rows(pb::FoundList {
            found: vec![found],
        })),
    };
    let e = answer_from_pb(rows(pb::Found::default())).unwrap_err();
    assert_eq!(e.to_string(), "Found.pk is missing");
    let e = answer_from_pb(rows(pb::Found {
        pk: Some(pb::PrimaryKey { key: None }),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.to_string(), "PrimaryKey.key is missing");
    let e = answer_from_pb(rows(pb::Found {
        pk: Some(pb::PrimaryKey {
            key: Some(pb::primary_key::Key::IntKey(1)),
        }),
        values: vec![pb::Value { kind: None }],
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.to_string(), "Value.kind is missing");
    assert_eq!(
        answer_from_pb(pb::ShardAnswer::default())
            .unwrap_err()
            .to_string(),
        "ShardAnswer.answer is missing"
    );
}

#[test]
fn field_positions_are_checked_against_the_schema() {
    use quarry_types::{DataType, FieldSchema};
    let mut pk = FieldSchema::new("id", DataType::Int64);
    pk.is_primary_key = true;
    let schema = CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![pk, FieldSchema::new("v", DataType::FloatVector)],
        enable_dynamic_field: false,
        properties: vec![],
    };
    let grouped = |field_index, fields, group| {
        ShardRead::Search(SearchPlan {
            bm25: None,
            input: SearchInput::default(),
            field_index,
            fields,
            metric: Metric::L2,
            index: None,
            group,
            partition_ids: vec![],
            expire_before_ms: 0,
        })
    };
    let search = |field_index, fields| grouped(field_index, fields, None);
    let query = |fields| {
        ShardRead::Query(QueryPlan {
            input: QueryInput::default(),
            fields,
            count_only: false,
            partition_ids: vec![],
            expire_before_ms: 0,
        })
    };
    check_read(&search(1, vec![0, 1]), &schema).unwrap();
    check_read(&query(vec![1, 0]), &schema).unwrap();
    let err = |r: &ShardRead| check_read(r, &schema).unwrap_err().to_string();
    assert!(err(&search(0, vec![])).contains("not a vector field"));
    assert!(err(&search(9, vec![])).contains("not a vector field"));
    assert!(err(&search(1, vec![0, 2])).starts_with("SearchPlan.fields is invalid"));
    assert!(err(&query(vec![5])).contains("field 5 of a schema with 2 fields"));
    // a grouping search: the group field must be in its slot, groupable, the size bounded
    let group = |field, slot, size| {
        Some(GroupPlan {
            field,
            slot,
            size,
            strict: false,
        })
    };
    check_read(&grouped(1, vec![0], group(0, 0, 2)), &schema).unwrap();
    for bad in [
        grouped(1, vec![0], group(0, 1, 2)),
        grouped(1, vec![1], group(1, 0, 2)),
        grouped(1, vec![0], group(0, 0, 0)),
        grouped(1, vec![0], group(0, 0, 11)),
    ] {
        assert!(
            err(&bad).starts_with("SearchPlan.group is invalid"),
            "{bad:?}"
        );
    }
}

#[test]
fn fields_a_newer_writer_added_are_skipped() {
    let mut bytes = answer_to_pb(ShardAnswer::Count(3)).encode_to_vec();
    // field 15 (unknown here), varint 1; then field 16, a length-delimited string
    bytes.extend_from_slice(&[15 << 3, 1, 0x82, 0x01, 2, b'h', b'i']);
    let back = answer_from_pb(pb::ShardAnswer::decode(bytes.as_slice()).unwrap()).unwrap();
    assert!(matches!(back, ShardAnswer::Count(3)));
}

#[test]
fn errors_survive_the_round_trip() {
    let back = |e: &EngineError| from_status(&to_status(e));
    // the kinds a proxy acts on keep kind and message
    for e in [
        EngineError::CollectionNotFound("c".into()),
        EngineError::InvalidArgument("topk [0] is invalid".into()),
        EngineError::Unavailable("shard 1 of collection 7 is not loaded here".into()),
        EngineError::Internal("no shard 9".into()),
    ] {
        let b = back(&e);
        assert_eq!(std::mem::discriminant(&b), std::mem::discriminant(&e));
        assert_eq!(b.to_string(), e.to_string());
    }
    // invalid requests stay invalid, with their message
    let expr = EngineError::Expr(ExprError::Invalid("unexpected token".into()));
    let b = back(&expr);
    assert!(matches!(b, EngineError::InvalidArgument(_)), "{b:?}");
    assert_eq!(b.to_string(), expr.to_string());
    // other failures are internal, with their message
    let other = EngineError::PartitionNotFound("p".into());
    let b = back(&other);
    assert!(
        matches!(&b, EngineError::Internal(m) if *m == other.to_string()),
        "{b:?}"
    );
    // no answer at all: try another replica
    for s in [
        Status::unavailable("connection refused"),
        Status::deadline_exceeded("timeout"),
        Status::unknown("transport error"),
    ] {
        assert!(matches!(from_status(&s), EngineError::Unavailable(_)));
    }
}
