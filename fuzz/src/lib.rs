//! Fixtures shared by the fuzz targets and the seed writer (`examples/seeds.rs`): fixed
//! collection schemas, rows to evaluate filters on, a runtime for the async storage APIs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use quarry_expr::RowAccess;
use quarry_types::{CollectionSchema, DataType, FieldSchema, Value};

/// The access layer's proto <-> domain conversion, compiled from its source file: the
/// `quarry` package is a binary (its `convert` module is private to it), and linking it would
/// also build its Kafka and S3 clients. `convert/` refers to no other module of that crate.
#[allow(dead_code)]
#[path = "../../dataplane/node/src/convert/mod.rs"]
pub mod convert;

pub mod seeds;

fn field(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
    params
        .iter()
        .fold(FieldSchema::new(name, dt), |f, (k, v)| f.with_param(k, v))
}

/// A collection with one field of every scalar kind, a JSON array field, an Array field, a
/// nullable field, a
/// vector and the dynamic field. `str_pk`: the primary key is a VarChar instead of an Int64.
pub fn schema(str_pk: bool) -> CollectionSchema {
    let pk = if str_pk {
        field("id", DataType::VarChar, &[("max_length", "16")])
    } else {
        field("id", DataType::Int64, &[])
    };
    CollectionSchema {
        name: "docs".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            FieldSchema {
                is_primary_key: true,
                ..pk
            },
            field("title", DataType::VarChar, &[("max_length", "64")]),
            field("year", DataType::Int32, &[]),
            field("small", DataType::Int8, &[]),
            field("score", DataType::Double, &[]),
            field("ratio", DataType::Float, &[]),
            field("flag", DataType::Bool, &[]),
            field("meta", DataType::Json, &[]),
            field("tags", DataType::Json, &[]),
            FieldSchema::array("nums", DataType::Int16, 4),
            FieldSchema {
                nullable: true,
                ..field("opt", DataType::Int64, &[])
            },
            field("emb", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: true,
        properties: vec![],
        functions: vec![],
    }
    .prepare_new()
    .expect("the fixed schema is valid")
}

/// One row of the fixed schema, for filter evaluation.
pub struct Row(pub HashMap<&'static str, Value>);

impl RowAccess for Row {
    fn value(&self, field: &str) -> Value {
        self.0.get(field).cloned().unwrap_or(Value::Null)
    }
}

/// Rows of [`schema`]`(false)`: two ordinary ones and one with nulls and odd values.
pub fn rows() -> Vec<Row> {
    let j = |t: &str| Value::Json(serde_json::from_str(t).unwrap());
    vec![
        Row(HashMap::from([
            ("id", Value::Int(7)),
            ("title", Value::Str("Alpha beta".into())),
            ("year", Value::Int(2001)),
            ("small", Value::Int(-3)),
            ("score", Value::Float(0.5)),
            ("ratio", Value::Float(0.25)),
            ("flag", Value::Bool(true)),
            (
                "meta",
                j(r#"{"k": 2, "tags": ["a", "b"], "nested": {"x": "y"}}"#),
            ),
            ("tags", j(r#"[1, 2, 3]"#)),
            ("nums", Value::Array(vec![Value::Int(1), Value::Int(-2)])),
            ("opt", Value::Int(1)),
            ("emb", Value::Vector(vec![0.1, 0.2])),
            (
                "$meta",
                j(r#"{"color": "red", "n": 3, "arr": [1, "two", null]}"#),
            ),
        ])),
        Row(HashMap::from([
            ("id", Value::Int(-1)),
            ("title", Value::Str("Ωmega ünïcode".into())),
            ("year", Value::Int(i32::MIN as i64)),
            ("small", Value::Int(127)),
            ("score", Value::Float(f64::NAN)),
            ("ratio", Value::Float(-0.0)),
            ("flag", Value::Bool(false)),
            ("meta", j(r#"{"k": 1.5e300, "tags": [], "nested": null}"#)),
            ("tags", j(r#"[]"#)),
            ("nums", Value::Array(vec![])),
            ("opt", Value::Null),
            ("emb", Value::Vector(vec![f32::INFINITY, 0.0])),
            ("$meta", j(r#"{}"#)),
        ])),
        Row(HashMap::new()),
    ]
}

/// Template values (`{name}` in an expression) every target offers.
pub fn templates() -> HashMap<String, Value> {
    HashMap::from([
        ("lim".to_string(), Value::Int(2000)),
        ("f".to_string(), Value::Float(0.5)),
        ("s".to_string(), Value::Str("Alpha beta".into())),
        ("b".to_string(), Value::Bool(true)),
        ("arr".to_string(), Value::Json(serde_json::json!([1, 7, 9]))),
    ])
}

/// A runtime for the async storage and catalog APIs.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .expect("tokio runtime")
    })
}

/// A scratch directory of this process (in memory when /dev/shm exists).
pub fn scratch_dir() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("quarry-fuzz-{}", std::process::id()))
}

/// CRC of an embedded-log frame (offset and payload), as the log writes it.
pub fn frame_crc(offset: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// An embedded-log frame: `[len: u32 LE][crc32: u32 LE][offset: u64 LE][payload]`.
pub fn frame(offset: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame_crc(offset, payload).to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(payload);
    out
}
