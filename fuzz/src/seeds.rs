//! The seed corpus of every fuzz target (`fuzz/corpus/<target>/`, committed): small, valid
//! encodings made with the same code the server uses, so that the fuzzers start past the
//! outer framing. Each target binary writes its own seeds when started with
//! `QUARRY_FUZZ_SEEDS=<corpus root>` (`make fuzz-seeds`), so no second build is needed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::convert;
use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use prost::Message;
use quarry_engine::OutputColumn;
use quarry_meta::{CatalogState, CollectionMeta, IndexMeta, PartitionMeta, SegmentMeta};
use quarry_proto::common::{KeyValuePair, PlaceholderGroup, PlaceholderType, PlaceholderValue};
use quarry_proto::schema::{
    template_array_value, template_value, FieldData, LongArray, StringArray, TemplateArrayValue,
    TemplateValue,
};
use quarry_proto::service::{
    search_request, CreateCollectionRequest, DeleteRequest, InsertRequest, QueryRequest,
    SearchRequest, UpsertRequest,
};
use quarry_types::batch::{build_batch, with_offset};
use quarry_types::record::LogRecord;
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, Pk, Value};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn with_selector(selector: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![selector];
    out.extend_from_slice(body);
    out
}

/// Two rows of every field of `schema`, as the wire carries them.
fn fields(schema: &CollectionSchema) -> Vec<FieldData> {
    let j = |t: &str| Value::Json(serde_json::from_str(t).unwrap());
    schema
        .fields
        .iter()
        .map(|f| {
            let values = match (f.name.as_str(), f.data_type) {
                ("id", DataType::Int64) => vec![Value::Int(7), Value::Int(-1)],
                ("id", _) => vec![Value::Str("a7".into()), Value::Str("b".into())],
                ("title", _) => vec![Value::Str("Alpha beta".into()), Value::Str("Ωmega".into())],
                ("year", _) => vec![Value::Int(2001), Value::Int(1999)],
                ("small", _) => vec![Value::Int(-3), Value::Int(127)],
                ("score", _) => vec![Value::Float(0.5), Value::Float(-1e10)],
                ("ratio", _) => vec![Value::Float(0.25), Value::Float(3.0)],
                ("flag", _) => vec![Value::Bool(true), Value::Bool(false)],
                ("meta", _) => vec![j(r#"{"k": 2, "tags": ["a", "b"]}"#), j("[1, null]")],
                ("tags", _) => vec![j("[1, 2, 3]"), j("[]")],
                ("nums", _) => vec![
                    Value::Array(vec![Value::Int(1), Value::Int(-2)]),
                    Value::Array(vec![]),
                ],
                ("opt", _) => vec![Value::Int(1), Value::Int(5)],
                ("emb", _) => vec![
                    Value::Vector(vec![0.1, 0.2]),
                    Value::Vector(vec![-1.0, 0.0]),
                ],
                (_, DataType::Json) => vec![j(r#"{"color": "red", "n": 3}"#), j("{}")],
                (name, dt) => panic!("no seed values for {name} of {dt:?}"),
            };
            convert::column_to_proto(&OutputColumn {
                field: f.clone(),
                values,
            })
        })
        .collect()
}

fn batch(schema: &CollectionSchema) -> RecordBatch {
    let (columns, rows) = convert::columns_from_proto(fields(schema), 2).unwrap();
    build_batch(schema, columns, rows).unwrap()
}

fn parquet(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    out
}

fn templates() -> HashMap<String, TemplateValue> {
    let v = |val| TemplateValue { val: Some(val) };
    HashMap::from([
        ("a".to_string(), v(template_value::Val::Int64Val(7))),
        (
            "b".to_string(),
            v(template_value::Val::StringVal("Alpha beta".into())),
        ),
        (
            "c".to_string(),
            v(template_value::Val::ArrayVal(TemplateArrayValue {
                data: Some(template_array_value::Data::LongData(LongArray {
                    data: vec![1, 7, 9],
                })),
            })),
        ),
        (
            "d".to_string(),
            v(template_value::Val::ArrayVal(TemplateArrayValue {
                data: Some(template_array_value::Data::StringData(StringArray {
                    data: vec!["a".into(), "b".into()],
                })),
            })),
        ),
    ])
}

fn kvs(pairs: &[(&str, &str)]) -> Vec<KeyValuePair> {
    pairs
        .iter()
        .map(|(k, v)| KeyValuePair {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn expr(dir: &Path) {
    let texts = [
        "year >= 2000 and title like \"A%\"",
        "id in [1, 7, 9]",
        "id not in {arr}",
        "year > {lim} && score < {f}",
        "2000 < year <= 2001",
        "(year + 1) * 2 == 4004 or year % 2 == 1 or year ** 2 > 0",
        "meta[\"nested\"][\"x\"] == 'y'",
        "json_contains(meta[\"tags\"], \"b\")",
        "json_contains_all(meta[\"tags\"], [\"a\", \"b\"])",
        "json_contains_any(tags, [1, 5])",
        "array_length(tags) == 3",
        "color == \"red\" and n + 1 == 4",
        "missing is null or opt is not null",
        "not (flag == false)",
        "title like \"Al_ha\\\\%\"",
        "-small > -5 and ratio != 0.25e0",
        "exists meta[\"k\"]",
        "$meta[\"arr\"][1] == \"two\"",
        "title == {s} || flag == {b}",
        "array_contains_any(nums, [1, 5]) and nums[0] < 3",
        "nums == [1, -2] or array_length(nums) == 0 or array_contains_all(nums, {arr})",
    ];
    for (i, t) in texts.iter().enumerate() {
        write(dir, &format!("seed-{i:02}"), t.as_bytes());
    }
}

fn convert_seeds(dir: &Path) {
    for (str_pk, tag) in [(false, "int"), (true, "str")] {
        let schema = crate::schema(str_pk);
        let hi = if str_pk { 8 } else { 0 };
        let insert = InsertRequest {
            collection_name: "docs".into(),
            fields_data: fields(&schema),
            num_rows: 2,
            ..Default::default()
        };
        write(
            dir,
            &format!("insert-{tag}"),
            &with_selector(hi, &insert.encode_to_vec()),
        );
        let upsert = UpsertRequest {
            collection_name: "docs".into(),
            fields_data: fields(&schema),
            num_rows: 2,
            ..Default::default()
        };
        write(
            dir,
            &format!("upsert-{tag}"),
            &with_selector(hi + 1, &upsert.encode_to_vec()),
        );
        let create = CreateCollectionRequest {
            collection_name: "docs".into(),
            schema: convert::schema_to_proto(&schema, "default").encode_to_vec(),
            shards_num: 1,
            properties: kvs(&[("team", "docs")]),
            ..Default::default()
        };
        write(
            dir,
            &format!("create-{tag}"),
            &with_selector(hi + 5, &create.encode_to_vec()),
        );
    }
    let group = PlaceholderGroup {
        placeholders: vec![PlaceholderValue {
            tag: "$0".into(),
            r#type: PlaceholderType::FloatVector as i32,
            values: vec![[0.1f32, 0.2].iter().flat_map(|x| x.to_le_bytes()).collect()],
        }],
    };
    let search = SearchRequest {
        collection_name: "docs".into(),
        dsl: "id in {c}".into(),
        search_params: kvs(&[
            ("anns_field", "emb"),
            ("topk", "10"),
            ("metric_type", "L2"),
            ("params", "{\"ef\": 64}"),
        ]),
        expr_template_values: templates(),
        search_input: Some(search_request::SearchInput::PlaceholderGroup(
            group.encode_to_vec(),
        )),
        ..Default::default()
    };
    write(dir, "search", &with_selector(2, &search.encode_to_vec()));
    let query = QueryRequest {
        collection_name: "docs".into(),
        expr: "title == {b}".into(),
        output_fields: vec!["*".into()],
        query_params: kvs(&[("limit", "5"), ("offset", "1")]),
        expr_template_values: templates(),
        ..Default::default()
    };
    write(dir, "query", &with_selector(3, &query.encode_to_vec()));
    let delete = DeleteRequest {
        collection_name: "docs".into(),
        expr: "id in {c}".into(),
        expr_template_values: templates(),
        ..Default::default()
    };
    write(dir, "delete", &with_selector(4, &delete.encode_to_vec()));
}

fn record_seeds(dir: &Path) {
    let schema = crate::schema(false);
    let records = [
        LogRecord {
            partition_id: 1,
            deletes: vec![],
            rows: Some(batch(&schema)),
            partition_runs: vec![],
            written_ms: 1_764_600_000_000,
        },
        LogRecord {
            partition_id: 1,
            deletes: vec![Pk::Int(7), Pk::Int(-1)],
            rows: Some(batch(&schema)),
            // the rows split between two partitions (a partition-key collection)
            partition_runs: vec![(1, 1), (3, batch(&schema).num_rows() as u32 - 1)],
            written_ms: 0,
        },
        LogRecord {
            partition_id: 2,
            deletes: vec![Pk::Int(7), Pk::Str("x".into())],
            rows: None,
            partition_runs: vec![],
            written_ms: 1_764_600_000_000,
        },
    ];
    for (i, r) in records.iter().enumerate() {
        write(dir, &format!("record-{i}"), &with_selector(0, &r.encode()));
    }
    // an embedded-log segment file: two good frames; the same with a torn tail
    let mut file = crate::frame(0, &records[2].encode());
    file.extend(crate::frame(1, &records[0].encode()));
    write(dir, "log-file", &with_selector(1, &file));
    let mut torn = crate::frame(0, &records[2].encode());
    torn.extend(&crate::frame(1, b"tail")[..10]);
    write(dir, "log-torn", &with_selector(3, &torn));
}

fn segment_seeds(dir: &Path) {
    for (str_pk, selector) in [(false, 0u8), (true, 2)] {
        let schema = crate::schema(str_pk);
        let file = parquet(&with_offset(&schema, &batch(&schema), 3, 1));
        let mut plain = vec![selector, 0, 0];
        plain.extend(&file);
        write(dir, &format!("segment-{selector}"), &plain);
        let deletes = b"[1]";
        let mut with_deletes = vec![selector, deletes.len() as u8, 0];
        with_deletes.extend(deletes);
        with_deletes.extend(&file);
        write(dir, &format!("segment-{selector}-deletes"), &with_deletes);
    }
    let schema = crate::schema(false);
    let meta = CollectionMeta {
        id: 1048577,
        name: "docs".into(),
        db: "default".into(),
        schema: schema.clone(),
        shards: 2,
        consistency: ConsistencyLevel::Bounded,
        properties: vec![],
        created_ts: 1,
        updated_ts: 2,
        loaded: true,
        replicas: 1,
        query_pool: None,
        partitions: vec![PartitionMeta {
            id: 1048578,
            name: "_default".into(),
            created_ts: 1,
            released: false,
        }],
        indexes: vec![IndexMeta {
            id: 1048579,
            name: "emb".into(),
            field_name: "emb".into(),
            params: BTreeMap::from([
                ("index_type".into(), "HNSW".into()),
                ("metric_type".into(), "L2".into()),
                ("M".into(), "16".into()),
            ]),
            created_ts: 3,
        }],
        segments: vec![SegmentMeta {
            id: 1048580,
            shard: 0,
            partition_id: 1048578,
            start_offset: 0,
            end_offset: 4,
            rows: 2,
            data_key: "collections/1048577/segments/1048580/data.parquet".into(),
            deletes_key: Some("collections/1048577/segments/1048580/deletes-1.json".into()),
            deleted_rows: 1,
            index_files: BTreeMap::from([(
                1048579,
                "collections/1048577/segments/1048580/index-1048579".into(),
            )]),
        }],
        checkpoints: vec![4, 0],
        aliases: vec![],
    };
    let state = CatalogState {
        version: 3,
        next_id: 1048590,
        last_ts: 99,
        collections: BTreeMap::from([(meta.id, meta)]),
        ..Default::default()
    };
    write(
        dir,
        "manifest",
        &with_selector(1, &serde_json::to_vec(&state).unwrap()),
    );
    write(
        dir,
        "manifest-empty",
        &with_selector(
            1,
            br#"{"version":1,"next_id":0,"last_ts":0,"collections":{}}"#,
        ),
    );
}

/// If `QUARRY_FUZZ_SEEDS` is set, writes the seeds of `target` under it and exits.
pub fn write_if_asked(target: &str) {
    let Some(root) = std::env::var_os("QUARRY_FUZZ_SEEDS") else {
        return;
    };
    let root = PathBuf::from(root);
    let dir = root.join(target);
    match target {
        "expr" => expr(&dir),
        "convert" => convert_seeds(&dir),
        "record" => record_seeds(&dir),
        "segment" => segment_seeds(&dir),
        other => panic!("no seeds for target {other}"),
    }
    println!("seeds of {target} written to {}", dir.display());
    std::process::exit(0);
}
