//! Grouping search and hybrid search through the engine (in-memory backends, two shards, a
//! sealed and a growing segment each), checked against answers computed here by brute force.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use quarry_engine::{
    CreateCollection, Engine, EngineOptions, GroupBy, GroupScorer, HybridInput, InsertInput,
    Ranker, SearchHits, SearchInput,
};
use quarry_storage::{LogStore, MemoryLog, MemoryObjectStore, ObjectStore};
use quarry_types::batch::{Column, ColumnData};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema, Pk, Value};

const N: i64 = 240;

fn field(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
    let f = params
        .iter()
        .fold(FieldSchema::new(name, dt), |f, (k, v)| f.with_param(k, v));
    FieldSchema {
        is_primary_key: name == "id",
        ..f
    }
}

fn a_of(i: i64) -> [f32; 2] {
    let t = i as f32 * 0.37;
    [t.cos() * (1.0 + (i % 3) as f32), t.sin()]
}

fn b_of(i: i64) -> [f32; 2] {
    [
        ((i * 37) % 101) as f32 / 101.0,
        ((i * 53) % 97) as f32 / 97.0 - 0.5,
    ]
}

fn tag_of(i: i64) -> i64 {
    i % 7
}

fn rows(ids: std::ops::Range<i64>) -> InsertInput {
    let n = ids.clone().count();
    let col = |data| Column { data, valid: None };
    let columns = HashMap::from([
        (
            "id".to_string(),
            col(ColumnData::Int(ids.clone().collect())),
        ),
        (
            "tag".to_string(),
            col(ColumnData::Int(ids.clone().map(tag_of).collect())),
        ),
        (
            "cat".to_string(),
            col(ColumnData::Str(
                ids.clone().map(|i| format!("c{}", i % 5)).collect(),
            )),
        ),
        (
            "price".to_string(),
            col(ColumnData::Float(ids.clone().map(|i| i as f64).collect())),
        ),
        (
            "a".to_string(),
            col(ColumnData::FloatVector {
                dim: 2,
                data: ids.clone().flat_map(a_of).collect(),
            }),
        ),
        (
            "b".to_string(),
            col(ColumnData::FloatVector {
                dim: 2,
                data: ids.flat_map(b_of).collect(),
            }),
        ),
    ]);
    InsertInput {
        partition: String::new(),
        columns,
        rows: n,
        upsert: false,
        schema_ts: 0,
        partial: false,
    }
}

async fn engine() -> Arc<Engine> {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryObjectStore::new());
    let log: Arc<dyn LogStore> = Arc::new(MemoryLog::new());
    let e = Engine::open(store, log, EngineOptions::default())
        .await
        .unwrap();
    let schema = CollectionSchema {
        functions: vec![],
        name: "h".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            field("id", DataType::Int64, &[]),
            field("tag", DataType::Int64, &[]),
            field("cat", DataType::VarChar, &[("max_length", "8")]),
            field("price", DataType::Float, &[]),
            field("a", DataType::FloatVector, &[("dim", "2")]),
            field("b", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    };
    e.create_collection(CreateCollection {
        db: quarry_engine::DEFAULT_DB.into(),
        name: "h".into(),
        schema,
        shards: 2,
        consistency: ConsistencyLevel::Strong,
        properties: vec![],
        num_partitions: 0,
    })
    .await
    .unwrap();
    // a sealed segment and growing rows in each shard
    e.insert("h", rows(0..N / 2)).await.unwrap();
    e.flush("h").await.unwrap();
    e.insert("h", rows(N / 2..N)).await.unwrap();
    for (f, metric) in [("a", "L2"), ("b", "IP")] {
        let params = BTreeMap::from([
            ("index_type".to_string(), "FLAT".to_string()),
            ("metric_type".to_string(), metric.to_string()),
        ]);
        e.create_index("h", f, "", params).await.unwrap();
    }
    e.load_collection("h", 1).await.unwrap();
    e
}

/// Every row's score against `q` on field `f`, best first (ties: smaller id).
fn exact(f: &str, q: [f32; 2], keep: impl Fn(i64) -> bool) -> Vec<(i64, f32)> {
    let mut all: Vec<(i64, f32)> = (0..N)
        .filter(|i| keep(*i))
        .map(|i| match f {
            "a" => {
                let v = a_of(i);
                (i, (v[0] - q[0]).powi(2) + (v[1] - q[1]).powi(2))
            }
            _ => {
                let v = b_of(i);
                (i, v[0] * q[0] + v[1] * q[1])
            }
        })
        .collect();
    let higher = f != "a";
    all.sort_by(|x, y| {
        let o = x.1.partial_cmp(&y.1).unwrap();
        (if higher { o.reverse() } else { o }).then(x.0.cmp(&y.0))
    });
    all
}

/// Milvus's grouping rule over sorted hits (see `group.rs`), groups flattened.
fn grouped(sorted: &[(i64, f32)], groups: usize, size: usize, strict: bool) -> Vec<(i64, f32)> {
    let mut out: Vec<(i64, Vec<(i64, f32)>)> = Vec::new();
    for &(id, s) in sorted {
        let g = tag_of(id);
        match out.iter().position(|(k, _)| *k == g) {
            Some(i) if out[i].1.len() < size => out[i].1.push((id, s)),
            Some(_) => {}
            None if out.len() < groups => out.push((g, vec![(id, s)])),
            None => {}
        }
        let full = out.iter().filter(|(_, h)| h.len() == size).count();
        if out.len() >= groups && (!strict || full >= groups) {
            break;
        }
    }
    out.into_iter().flat_map(|(_, h)| h).collect()
}

fn ids(hits: &SearchHits, q: usize) -> Vec<(i64, f32)> {
    hits.per_query[q]
        .iter()
        .map(|(pk, s)| match pk {
            Pk::Int(i) => (*i, *s),
            _ => unreachable!(),
        })
        .collect()
}

fn same(got: &[(i64, f32)], want: &[(i64, f32)]) {
    let g: Vec<i64> = got.iter().map(|h| h.0).collect();
    let w: Vec<i64> = want.iter().map(|h| h.0).collect();
    assert_eq!(g, w);
    for (x, y) in got.iter().zip(want) {
        assert!((x.1 - y.1).abs() < 1e-4, "{x:?} vs {y:?}");
    }
}

fn search(f: &str, q: [f32; 2], topk: usize, group: Option<GroupBy>) -> SearchInput {
    SearchInput {
        anns_field: f.into(),
        vectors: vec![q.to_vec()],
        topk,
        group,
        ..Default::default()
    }
}

fn by_tag(size: usize, strict: bool) -> Option<GroupBy> {
    Some(GroupBy {
        field: "tag".into(),
        size,
        strict,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_search_matches_brute_force() {
    let e = engine().await;
    let q = [0.3, -0.2];
    for (f, groups, size) in [("a", 3, 2), ("a", 7, 4), ("b", 5, 3), ("a", 9, 1)] {
        let hits = e
            .search("h", search(f, q, groups, by_tag(size, false)))
            .await
            .unwrap();
        same(
            &ids(&hits, 0),
            &grouped(&exact(f, q, |_| true), groups, size, false),
        );
        // the group values come back aligned with the hits, groups together
        let values = &hits.group_values.as_ref().unwrap().values;
        let tags: Vec<i64> = ids(&hits, 0).iter().map(|h| tag_of(h.0)).collect();
        assert_eq!(
            values,
            &tags.iter().map(|t| Value::Int(*t)).collect::<Vec<_>>()
        );
        assert!(hits.outputs.columns.is_empty(), "tag was not asked for");
    }
    // strict: every group full (each tag has ~34 rows), groups in order of their best hit
    let hits = e
        .search("h", search("a", q, 4, by_tag(5, true)))
        .await
        .unwrap();
    let got = ids(&hits, 0);
    assert_eq!(got.len(), 20);
    for chunk in got.chunks(5) {
        assert!(chunk.iter().all(|h| tag_of(h.0) == tag_of(chunk[0].0)));
    }
    same(&got, &grouped(&exact("a", q, |_| true), 4, 5, true));
    // a filter, an offset in groups, and the group field as an output field
    let mut input = search("a", q, 2, by_tag(2, false));
    input.filter = "cat != \"c1\"".into();
    input.offset = 1;
    input.output_fields = vec!["tag".into(), "price".into()];
    let hits = e.search("h", input).await.unwrap();
    let want = grouped(&exact("a", q, |i| i % 5 != 1), 3, 2, false);
    let skip = want
        .iter()
        .take_while(|h| tag_of(h.0) == tag_of(want[0].0))
        .count();
    same(&ids(&hits, 0), &want[skip..]);
    assert_eq!(hits.outputs.names, vec!["tag", "price"]);
    assert_eq!(
        hits.outputs.columns[0].values,
        hits.group_values.unwrap().values
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_refuses_what_milvus_refuses() {
    let e = engine().await;
    let q = [0.1, 0.1];
    let err = |g: GroupBy| {
        let e = &e;
        async move {
            e.search("h", search("a", q, 3, Some(g)))
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let g = |field: &str, size| GroupBy {
        field: field.into(),
        size,
        strict: false,
    };
    assert!(err(g("price", 1))
        .await
        .contains("unsupported data type Float for group by"));
    assert!(err(g("a", 1))
        .await
        .contains("unsupported data type FloatVector"));
    assert!(err(g("nope", 1))
        .await
        .contains("groupBy field not found in schema"));
    assert!(err(g("tag", 11))
        .await
        .contains("exceeds configured max group size:10"));
    let mut ranged = search("a", q, 3, by_tag(1, false));
    ranged.radius = Some(2.0);
    let msg = e.search("h", ranged).await.unwrap_err().to_string();
    assert!(msg.contains("Not allowed to do range-search when doing search-group-by"));
}

fn hybrid(ranker: Ranker, limit: usize, offset: usize) -> HybridInput {
    HybridInput {
        subs: vec![
            search("a", [0.3, -0.2], 20, None),
            search("b", [0.9, 0.4], 15, None),
        ],
        ranker,
        limit,
        offset,
        output_fields: vec![],
        partitions: vec![],
        group: None,
        group_scorer: GroupScorer::Max,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_search_fuses_as_milvus_does() {
    let e = engine().await;
    let a: Vec<(i64, f32)> = exact("a", [0.3, -0.2], |_| true)
        .into_iter()
        .take(20)
        .collect();
    let b: Vec<(i64, f32)> = exact("b", [0.9, 0.4], |_| true)
        .into_iter()
        .take(15)
        .collect();
    let fuse = |score: &dyn Fn(usize, usize, f32) -> f32| {
        let mut fused: BTreeMap<i64, f32> = BTreeMap::new();
        for (list, hits) in [&a, &b].into_iter().enumerate() {
            for (rank, (id, s)) in hits.iter().enumerate() {
                *fused.entry(*id).or_default() += score(list, rank, *s);
            }
        }
        let mut v: Vec<(i64, f32)> = fused.into_iter().collect();
        v.sort_by(|x, y| y.1.partial_cmp(&x.1).unwrap().then(x.0.cmp(&y.0)));
        v
    };
    // RRF, k = 60
    let rrf = fuse(&|_, rank, _| 1.0 / (60.0 + rank as f32 + 1.0));
    let hits = e
        .hybrid_search("h", hybrid(Ranker::Rrf { k: 60.0 }, 10, 0))
        .await
        .unwrap();
    same(&ids(&hits, 0), &rrf[..10]);
    // offset and limit
    let hits = e
        .hybrid_search("h", hybrid(Ranker::Rrf { k: 60.0 }, 4, 3))
        .await
        .unwrap();
    same(&ids(&hits, 0), &rrf[3..7]);
    // weighted with normalised scores: L2 1 - 2 atan(d)/pi, IP 0.5 + atan(s)/pi
    let w = [0.7f32, 0.3];
    let norm = fuse(&|list, _, s| {
        let n = if list == 0 {
            1.0 - 2.0 * s.atan() / std::f32::consts::PI
        } else {
            0.5 + s.atan() / std::f32::consts::PI
        };
        w[list] * n
    });
    let ranker = Ranker::Weighted {
        weights: w.to_vec(),
        norm: true,
    };
    let mut input = hybrid(ranker, 8, 0);
    input.output_fields = vec!["price".into(), "cat".into()];
    let hits = e.hybrid_search("h", input).await.unwrap();
    same(&ids(&hits, 0), &norm[..8]);
    // output fields of the final hits, row-aligned
    let price: Vec<Value> = norm[..8].iter().map(|h| Value::Float(h.0 as f64)).collect();
    assert_eq!(hits.outputs.columns[0].values, price);
    let cat = &hits.outputs.columns[1].values[0];
    assert_eq!(cat, &Value::Str(format!("c{}", norm[0].0 % 5)));
    // weights must match the ann searches
    let bad = Ranker::Weighted {
        weights: vec![1.0],
        norm: false,
    };
    let msg = e
        .hybrid_search("h", hybrid(bad, 5, 0))
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("the length of weights param mismatch with ann search requests"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_search_with_filters_and_groups() {
    let e = engine().await;
    let mut input = hybrid(Ranker::Rrf { k: 10.0 }, 3, 0);
    input.subs[0].filter = "id < 100".into();
    input.subs[1].filter = "id >= 100".into();
    input.group = by_tag(2, false);
    input.output_fields = vec!["tag".into()];
    let hits = e.hybrid_search("h", input).await.unwrap();
    let got = ids(&hits, 0);
    // at most 3 groups of at most 2 hits, groups together, hits from both filters only
    let tags: Vec<i64> = got.iter().map(|h| tag_of(h.0)).collect();
    let mut distinct = tags.clone();
    distinct.dedup();
    assert!(distinct.len() <= 3 && !distinct.is_empty(), "{tags:?}");
    let mut sorted = distinct.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        distinct.len(),
        "groups are contiguous: {tags:?}"
    );
    for t in &distinct {
        assert!(tags.iter().filter(|x| *x == t).count() <= 2);
    }
    let group_values = hits.group_values.unwrap().values;
    assert_eq!(
        group_values,
        tags.iter().map(|t| Value::Int(*t)).collect::<Vec<_>>()
    );
    assert_eq!(hits.outputs.columns[0].values, group_values);
}
