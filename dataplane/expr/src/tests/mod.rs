//! Tests of the whole crate, through its public functions where possible.

mod arrays;
mod columnar;
mod eval;
mod fuzz_regressions;
mod hardening;
mod limits;
mod parser;
mod property;
mod text;

use std::collections::HashMap;

use quarry_types::{CollectionSchema, DataType, FieldSchema, Value};

use crate::{prepare, Expr, ExprError, RowAccess};

fn f(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
    let f = params
        .iter()
        .fold(FieldSchema::new(name, dt), |f, (k, v)| f.with_param(k, v));
    FieldSchema {
        is_primary_key: name == "id",
        ..f
    }
}

fn schema() -> CollectionSchema {
    CollectionSchema {
        functions: vec![],
        name: "docs".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            f("id", DataType::Int64, &[]),
            f("title", DataType::VarChar, &[("max_length", "64")]),
            f("year", DataType::Int32, &[]),
            f("score", DataType::Double, &[]),
            f("meta", DataType::Json, &[]),
            f("emb", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: true,
        properties: vec![],
    }
    .prepare_new()
    .unwrap()
}

struct Row(HashMap<&'static str, Value>);

impl RowAccess for Row {
    fn value(&self, field: &str) -> Value {
        self.0.get(field).cloned().unwrap_or(Value::Null)
    }
}

fn row() -> Row {
    Row(HashMap::from([
        ("id", Value::Int(7)),
        ("title", Value::Str("Alpha beta".into())),
        ("year", Value::Int(2001)),
        ("score", Value::Float(0.5)),
        (
            "meta",
            Value::Json(serde_json::json!({
                "k": 2, "tags": ["a", "b"], "nested": {"x": "y"}, "pairs": [[1, 2], []],
            })),
        ),
        (
            "$meta",
            Value::Json(serde_json::json!({"color": "red", "n": 3})),
        ),
    ]))
}

/// Pseudo-random numbers from a fixed seed, so runs repeat.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn templates() -> HashMap<String, Value> {
    HashMap::from([
        ("lim".to_string(), Value::Int(2000)),
        ("empty".to_string(), Value::Json(serde_json::json!([]))),
        (
            "tags".to_string(),
            Value::Json(serde_json::json!(["a", "b"])),
        ),
        ("pair".to_string(), Value::Json(serde_json::json!([[1, 2]]))),
    ])
}

fn try_prepare(text: &str) -> Result<Expr, ExprError> {
    Ok(prepare(text, &schema(), &templates())?.expect("a non-empty expression"))
}

fn check(text: &str) -> bool {
    try_prepare(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .matches(&row())
}

/// Runs `f` on a thread with a 2 MiB stack (a tokio worker's) and fails when it takes longer
/// than `secs` (the thread is left behind then: the point is to fail rather than hang).
fn on_small_stack<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a test thread");
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(v) => {
            handle.join().expect("the test thread");
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("took more than {secs}s"),
        // the closure panicked: re-raise its panic
        Err(_) => match handle.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the thread ended without a result"),
        },
    }
}
