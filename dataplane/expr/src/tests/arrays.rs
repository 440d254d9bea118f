//! Filters on Array fields: the array functions, element access, whole-array equality and
//! Milvus-like type errors.

use std::collections::HashMap;

use quarry_types::{CollectionSchema, DataType, FieldSchema, Value};

use super::{f, Row};
use crate::prepare;

fn schema() -> CollectionSchema {
    CollectionSchema {
        functions: vec![],
        name: "docs".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            f("id", DataType::Int64, &[]),
            FieldSchema::array("nums", DataType::Int32, 8),
            FieldSchema::array("tags", DataType::VarChar, 8).with_param("max_length", "8"),
            FieldSchema::array("ws", DataType::Double, 8),
            FieldSchema::array("flags", DataType::Bool, 8),
            FieldSchema::array("none", DataType::Int64, 8),
            f("meta", DataType::Json, &[]),
            f("emb", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: true,
        properties: vec![],
    }
    .prepare_new()
    .unwrap()
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

fn row() -> Row {
    let ints = |v: &[i64]| arr(v.iter().map(|i| Value::Int(*i)).collect());
    Row(HashMap::from([
        ("id", Value::Int(7)),
        ("nums", ints(&[3, 1, 4, 1, 5])),
        (
            "tags",
            arr(vec![Value::Str("red".into()), Value::Str("blue".into())]),
        ),
        ("ws", arr(vec![Value::Float(0.5), Value::Float(2.0)])),
        ("flags", arr(vec![Value::Bool(false), Value::Bool(true)])),
        ("none", Value::Null),
        ("meta", Value::Json(serde_json::json!({"a": [1, 2]}))),
    ]))
}

fn templates() -> HashMap<String, Value> {
    HashMap::from([
        ("want".to_string(), Value::Json(serde_json::json!([4, 9]))),
        ("n".to_string(), Value::Int(5)),
    ])
}

fn check(text: &str) -> bool {
    prepare(text, &schema(), &templates())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .expect("an expression")
        .matches(&row())
}

fn error(text: &str) -> String {
    match prepare(text, &schema(), &templates()) {
        Ok(_) => panic!("{text} should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn array_functions_and_elements_evaluate() {
    let yes = [
        "array_contains(nums, 4)",
        "ARRAY_CONTAINS(nums, {n})",
        "array_contains(ws, 2)",
        "array_contains(ws, 0.5)",
        "array_contains(tags, 'blue')",
        "array_contains(flags, true)",
        "array_contains_all(nums, [1, 3, 5])",
        "array_contains_all(nums, [])",
        "array_contains_any(nums, {want})",
        "array_contains_any(tags, [\"x\", \"red\"])",
        "array_length(nums) == 5",
        "array_length(tags) < 3",
        "nums[0] == 3",
        "nums[4] > nums[0]",
        "nums[1] + nums[2] == 5",
        "nums[2] in [4, 6]",
        "nums[2] not in [1, 2]",
        "tags[1] == \"blue\"",
        "tags[0] like \"r%\"",
        "ws[1] >= 2",
        "flags[1]",
        "not flags[0]",
        "nums == [3, 1, 4, 1, 5]",
        "nums != [3, 1, 4]",
        "tags == ['red', 'blue']",
        "ws == [0.5, 2]",
        "none is null",
        "json_contains(meta['a'], 2)",
    ];
    for t in yes {
        assert!(check(t), "{t} should match");
    }
    let no = [
        "array_contains(nums, 9)",
        "array_contains_all(nums, [1, 9])",
        "array_contains_any(tags, ['x', 'y'])",
        "array_contains_any(nums, [])",
        "array_length(nums) != 5",
        "nums[9] == 0",
        "nums[9] != 0",
        "nums == [3, 1, 4, 1]",
        "nums == [1, 3, 4, 1, 5]",
        "tags[0] == \"blue\"",
        "array_contains(none, 1)",
        "array_length(none) == 0",
        "nums in []",
        "none is not null",
    ];
    for t in no {
        assert!(!check(t), "{t} should not match");
    }
}

#[test]
fn array_type_errors_are_refused() {
    let cases = [
        (
            "tags[0] > 1",
            "cannot compare an element of array field tags",
        ),
        ("nums[0] == 'a'", "Int32 elements"),
        ("array_contains(nums, 'x')", "cannot compare an element"),
        (
            "array_contains_any(tags, [1, 2])",
            "cannot compare an element",
        ),
        (
            "array_contains(id, 1)",
            "can only be used on an array or json field",
        ),
        (
            "array_length(id) == 1",
            "can only be used on an array or json field",
        ),
        ("nums > [1]", "only be compared with == or !="),
        ("nums == 1", "can only be compared with a list"),
        ("nums == ['a']", "cannot compare an element"),
        ("nums in [1, 2]", "not supported on array field nums"),
        ("nums == []", "cannot be compared with an empty list"),
        ("nums[0] in [1, 'a']", "cannot compare an element"),
        ("nums['k'] == 1", "takes one integer index"),
        ("nums[0][1] == 1", "takes one integer index"),
        ("id[0] == 1", "not a JSON or array field"),
        (
            "tags[0] + 1 > 2",
            "arithmetic is only supported on numeric fields",
        ),
        ("nums[0] like 'a%'", "like is only supported"),
        ("nums", "must be a boolean condition"),
        (
            "nums == id",
            "can only be compared with a list of constants",
        ),
    ];
    for (text, want) in cases {
        let e = error(text);
        assert!(e.contains(want), "{text}: {e:?} does not contain {want:?}");
    }
}
