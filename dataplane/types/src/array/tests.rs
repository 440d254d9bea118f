//! Array fields: schema rules, building and reading list columns, the log record round trip.

use std::collections::HashMap;

use crate::batch::{build_batch, with_offset, Column, ColumnData, ColumnReader};
use crate::record::LogRecord;
use crate::schema::{CollectionSchema, DataType, DefaultValue, FieldSchema};
use crate::Value;

fn schema_with(extra: FieldSchema) -> Result<CollectionSchema, crate::SchemaError> {
    CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            FieldSchema {
                is_primary_key: true,
                ..FieldSchema::new("id", DataType::Int64)
            },
            FieldSchema::new("v", DataType::FloatVector).with_param("dim", "2"),
            extra,
        ],
        enable_dynamic_field: false,
        properties: vec![],
    }
    .prepare_new()
}

fn refused(f: FieldSchema, text: &str) {
    let e = schema_with(f).unwrap_err().to_string();
    assert!(e.contains(text), "{e:?} does not contain {text:?}");
}

#[test]
fn schema_rules_follow_milvus() {
    let ok =
        schema_with(FieldSchema::array("tags", DataType::VarChar, 4).with_param("max_length", "8"))
            .unwrap();
    assert_eq!(ok.fields[2].element_type, Some(DataType::VarChar));
    for t in [
        DataType::Bool,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Float,
        DataType::Double,
    ] {
        schema_with(FieldSchema::array("a", t, 4096)).unwrap();
    }
    // an element type on another type is not kept
    let plain = FieldSchema {
        element_type: Some(DataType::Int8),
        ..FieldSchema::new("n", DataType::Int64)
    };
    assert_eq!(schema_with(plain).unwrap().fields[2].element_type, None);

    let no_cap = FieldSchema {
        element_type: Some(DataType::Int64),
        ..FieldSchema::new("a", DataType::Array)
    };
    refused(
        no_cap.clone(),
        "type param(max_capacity) should be specified for array field a of collection c",
    );
    let in_range = "the maximum capacity specified for a Array should be in (0, 4096]";
    refused(no_cap.clone().with_param("max_capacity", "0"), in_range);
    refused(no_cap.clone().with_param("max_capacity", "4097"), in_range);
    refused(
        no_cap.clone().with_param("max_capacity", "x"),
        "the value for max_capacity of field a must be an integer",
    );
    refused(
        FieldSchema {
            element_type: None,
            ..no_cap.clone().with_param("max_capacity", "3")
        },
        "element data type None is not valid",
    );
    for t in [DataType::Json, DataType::Array, DataType::FloatVector] {
        refused(
            FieldSchema::array("a", t, 3),
            &format!("element type {} is not supported", t.name()),
        );
    }
    refused(
        FieldSchema::array("a", DataType::VarChar, 3),
        "type param(max_length) should be specified for the field(a) of collection c",
    );
    refused(
        FieldSchema::array("a", DataType::VarChar, 3).with_param("max_length", "70000"),
        "should be in (0, 65535], but got 70000 instead",
    );
    refused(
        FieldSchema {
            default_value: Some(DefaultValue::Int(1)),
            ..FieldSchema::array("a", DataType::Int64, 3)
        },
        "type not support default_value, type:Array, name:a",
    );
    refused(
        FieldSchema {
            is_partition_key: true,
            ..FieldSchema::array("a", DataType::Int64, 3)
        },
        "partition key should be Int64 or VarChar",
    );
    // nullable arrays are allowed
    schema_with(FieldSchema {
        nullable: true,
        ..FieldSchema::array("a", DataType::Int64, 3)
    })
    .unwrap();
}

#[test]
fn array_primary_key_is_refused() {
    let mut s = schema_with(FieldSchema::array("a", DataType::Int64, 3)).unwrap();
    s.fields[0].is_primary_key = false;
    s.fields[2].is_primary_key = true;
    let e = s.prepare_new().unwrap_err().to_string();
    assert!(e.contains("must be Int64 or VarChar"), "{e}");
}

fn collection() -> CollectionSchema {
    let mut s = schema_with(FieldSchema::array("i8", DataType::Int8, 3)).unwrap();
    let more = [
        FieldSchema::array("tags", DataType::VarChar, 2).with_param("max_length", "3"),
        FieldSchema::array("f", DataType::Float, 2),
        FieldSchema {
            nullable: true,
            ..FieldSchema::array("opt", DataType::Bool, 2)
        },
    ];
    for (i, f) in more.into_iter().enumerate() {
        s.fields.push(FieldSchema {
            id: 103 + i as i64,
            ..f
        });
    }
    s
}

fn columns(rows: Vec<(i64, ColumnData, ColumnData, ColumnData)>) -> HashMap<String, Column> {
    let c = |data| Column { data, valid: None };
    let n = rows.len();
    let mut ids = vec![];
    let (mut i8s, mut tags, mut fs) = (vec![], vec![], vec![]);
    for (id, a, b, f) in rows {
        ids.push(id);
        i8s.push(a);
        tags.push(b);
        fs.push(f);
    }
    HashMap::from([
        ("id".to_string(), c(ColumnData::Int(ids))),
        (
            "v".to_string(),
            c(ColumnData::FloatVector {
                dim: 2,
                data: vec![0.5; 2 * n],
            }),
        ),
        ("i8".to_string(), c(ColumnData::Array(i8s))),
        ("tags".to_string(), c(ColumnData::Array(tags))),
        ("f".to_string(), c(ColumnData::Array(fs))),
    ])
}

fn strs(v: &[&str]) -> ColumnData {
    ColumnData::Str(v.iter().map(|s| s.to_string()).collect())
}

fn good() -> HashMap<String, Column> {
    columns(vec![
        (
            1,
            ColumnData::Int(vec![1, -2, 127]),
            strs(&["a", "bcd"]),
            ColumnData::Float(vec![0.5]),
        ),
        // an empty row, whatever kind its (empty) message had
        (
            2,
            ColumnData::Str(vec![]),
            strs(&[]),
            ColumnData::Float(vec![]),
        ),
    ])
}

fn values(batch: &arrow_array::RecordBatch, schema: &CollectionSchema, field: &str) -> Vec<Value> {
    let i = schema.fields.iter().position(|f| f.name == field).unwrap();
    let r = ColumnReader::new(batch.column(i), DataType::Array);
    (0..batch.num_rows()).map(|row| r.get(row)).collect()
}

#[test]
fn arrays_build_read_and_survive_the_log_record() {
    let s = collection();
    let mut cols = good();
    cols.insert(
        "opt".into(),
        Column {
            data: ColumnData::Array(vec![ColumnData::Bool(vec![true, false])]),
            valid: Some(vec![false, true]),
        },
    );
    let batch = build_batch(&s, cols, 2).unwrap();
    let ints = |v: &[i64]| Value::Array(v.iter().map(|i| Value::Int(*i)).collect());
    let want_i8 = vec![ints(&[1, -2, 127]), ints(&[])];
    let want_opt = vec![
        Value::Null,
        Value::Array(vec![Value::Bool(true), Value::Bool(false)]),
    ];
    assert_eq!(values(&batch, &s, "i8"), want_i8);
    assert_eq!(values(&batch, &s, "opt"), want_opt);
    assert_eq!(
        values(&batch, &s, "tags")[0],
        Value::Array(vec![Value::Str("a".into()), Value::Str("bcd".into())])
    );
    assert_eq!(
        values(&batch, &s, "f")[0],
        Value::Array(vec![Value::Float(0.5)])
    );

    let record = LogRecord::new(0, vec![], Some(with_offset(&s, &batch, 7, 1)));
    let back = LogRecord::decode(&record.encode()).unwrap();
    let rows = back.rows.unwrap();
    assert_eq!(values(&rows, &s, "i8"), want_i8);
    assert_eq!(values(&rows, &s, "opt"), want_opt);
    // an absent nullable array column is all nulls
    let batch = build_batch(&s, good(), 2).unwrap();
    assert_eq!(values(&batch, &s, "opt"), vec![Value::Null, Value::Null]);
}

#[test]
fn bad_arrays_are_refused() {
    let s = collection();
    let with = |field: &str, data: ColumnData| {
        let mut c = good();
        if let Some(col) = c.get_mut(field) {
            if let ColumnData::Array(rows) = &mut col.data {
                rows[1] = data;
            }
        }
        build_batch(&s, c, 2).unwrap_err().to_string()
    };
    let e = with("i8", ColumnData::Int(vec![1, 2, 3, 4]));
    assert!(
        e.contains("the length (4) of 1th array exceeds max capacity (3)"),
        "{e}"
    );
    let e = with("i8", ColumnData::Int(vec![128]));
    assert!(e.contains("128 is out of range [-128, 127]"), "{e}");
    let e = with("i8", strs(&["x"]));
    assert!(
        e.contains("insert data does not match: expected int array, got string array"),
        "{e}"
    );
    let e = with("tags", strs(&["long"]));
    assert!(
        e.contains("exceeds max length, row number: 1, array index: 0, length: 4, max length: 3"),
        "{e}"
    );
    let e = with("f", ColumnData::Float(vec![f64::NAN]));
    assert!(e.contains("NaN"), "{e}");
    // not an array column at all
    let mut c = good();
    c.insert(
        "i8".into(),
        Column {
            data: ColumnData::Int(vec![1, 2]),
            valid: None,
        },
    );
    let e = build_batch(&s, c, 2).unwrap_err().to_string();
    assert!(e.contains("does not match the field type"), "{e}");
    // nulls in a non-nullable array
    let mut c = good();
    if let Some(col) = c.get_mut("i8") {
        col.valid = Some(vec![true, false]);
        col.data = ColumnData::Array(vec![ColumnData::Int(vec![1])]);
    }
    let e = build_batch(&s, c, 2).unwrap_err().to_string();
    assert!(e.contains("not nullable"), "{e}");
}
