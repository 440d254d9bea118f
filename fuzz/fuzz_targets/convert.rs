//! The access layer's proto -> domain conversion on arbitrary bytes. The first byte picks the
//! request (Insert, Upsert, Search, Query, Delete, a CreateCollection schema) and the schema
//! (Int64 or VarChar primary key); the rest is decoded with prost as that message and run
//! through what the server runs on it (dataplane/node/src/convert/, then the engine's
//! validation into an Arrow batch and the log record). Filter text is left to the `expr`
//! target; here template values from the wire are substituted into fixed filters.
//!
//! Properties checked beyond "no panic": an accepted insert converts back to FieldData
//! (as query results do) and that is accepted again with the same values; its log record
//! decodes to what was encoded.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use quarry_engine::OutputColumn;
use quarry_fuzz::convert;
use quarry_proto::schema::FieldData;
use quarry_proto::service::{
    search_request, CreateCollectionRequest, DeleteRequest, InsertRequest, QueryRequest,
    SearchRequest, UpsertRequest,
};
use quarry_types::batch::{build_batch, check_rows, ColumnReader};
use quarry_types::record::LogRecord;
use quarry_types::{CollectionSchema, Pk, Value};

fn schemas() -> &'static [CollectionSchema; 2] {
    static S: OnceLock<[CollectionSchema; 2]> = OnceLock::new();
    S.get_or_init(|| [quarry_fuzz::schema(false), quarry_fuzz::schema(true)])
}

/// Filters that take a template value `{t}` in every position a value can stand.
const TEMPLATED: &[&str] = &[
    "id in {t}",
    "id == {t}",
    "score > {t}",
    "title == {t}",
    "year + {t} < 5",
    "json_contains(meta[\"tags\"], {t})",
    "json_contains_any(tags, {t})",
    "array_length(tags) == {t}",
    "flag == {t}",
];

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn mutate(schema: &CollectionSchema, fields: Vec<FieldData>, num_rows: u32, upsert: bool) {
    let Ok((columns, rows)) = convert::columns_from_proto(fields, num_rows) else {
        return;
    };
    if check_rows(&columns, rows).is_err() || rows == 0 {
        return;
    }
    let Ok(batch) = build_batch(schema, columns, rows) else {
        return;
    };
    // what the engine does with an accepted batch: primary keys, then the log record
    let pk_index = schema.fields.iter().position(|f| f.is_primary_key).unwrap();
    let pk = ColumnReader::new(batch.column(pk_index), schema.fields[pk_index].data_type);
    let pks: Vec<Pk> = (0..rows)
        .map(|r| match pk.get(r) {
            Value::Int(i) => Pk::Int(i),
            Value::Str(s) => Pk::Str(s),
            other => panic!("accepted batch has primary key {other:?}"),
        })
        .collect();
    let _ = convert::ids_to_proto(&pks, schema.fields[pk_index].data_type);
    let record = LogRecord {
        partition_id: 1,
        deletes: if upsert { pks } else { vec![] },
        rows: Some(batch.clone()),
        partition_runs: vec![],
        written_ms: 1,
    };
    let bytes = record.encode();
    let back = LogRecord::decode(&bytes).expect("an encoded record decodes");
    assert_eq!(back.encode(), bytes, "record re-encodes to the same bytes");

    // back to the wire as a query answer, and in again as an insert: same values
    let readers: Vec<ColumnReader> = schema
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| ColumnReader::new(batch.column(i), f.data_type))
        .collect();
    let columns: Vec<OutputColumn> = schema
        .fields
        .iter()
        .zip(&readers)
        .map(|(f, r)| OutputColumn {
            field: f.clone(),
            values: (0..rows)
                .map(|i| match f.data_type {
                    quarry_types::DataType::FloatVector => Value::Vector(r.vector(i).to_vec()),
                    _ => r.get(i),
                })
                .collect(),
        })
        .collect();
    let wire: Vec<FieldData> = columns.iter().map(convert::column_to_proto).collect();
    let (again, rows2) = convert::columns_from_proto(wire, rows as u32)
        .unwrap_or_else(|e| panic!("query output is not valid insert data: {e}"));
    assert_eq!(rows2, rows);
    let batch2 = build_batch(schema, again, rows)
        .unwrap_or_else(|e| panic!("query output is not accepted as an insert: {e}"));
    for (i, f) in schema.fields.iter().enumerate() {
        let (a, b) = (
            ColumnReader::new(batch.column(i), f.data_type),
            ColumnReader::new(batch2.column(i), f.data_type),
        );
        for r in 0..rows {
            let (x, y) = if f.data_type == quarry_types::DataType::FloatVector {
                (format!("{:?}", a.vector(r)), format!("{:?}", b.vector(r)))
            } else {
                (format!("{:?}", a.get(r)), format!("{:?}", b.get(r)))
            };
            assert_eq!(x, y, "field {} row {r} changed on the round trip", f.name);
        }
    }
}

fn with_templates(
    schema: &CollectionSchema,
    wire: &HashMap<String, quarry_proto::schema::TemplateValue>,
) {
    let Ok(templates) = convert::templates(wire) else {
        return;
    };
    let rows = quarry_fuzz::rows();
    let mut keys: Vec<&String> = templates.keys().collect();
    keys.sort();
    for value in keys.into_iter().take(4).map(|k| &templates[k]) {
        let t = HashMap::from([("t".to_string(), value.clone())]);
        for text in TEMPLATED {
            if let Ok(Some(expr)) = quarry_expr::prepare(text, schema, &t) {
                for row in &rows {
                    let _ = expr.matches(row);
                }
                let _ = expr.pk_lookup("id");
            }
        }
    }
}

fn usize_param(pairs: &[(String, String)], key: &str) -> Option<usize> {
    param(pairs, key).and_then(|v| v.trim().parse::<usize>().ok())
}

fuzz_target!(init: quarry_fuzz::seeds::write_if_asked("convert"), |data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let schema = &schemas()[usize::from(selector / 8 % 2)];
    match selector % 8 {
        0 | 6 => {
            if let Ok(r) = InsertRequest::decode(body) {
                mutate(schema, r.fields_data, r.num_rows, false);
            }
        }
        1 => {
            if let Ok(r) = UpsertRequest::decode(body) {
                if !r.partial_update {
                    mutate(schema, r.fields_data, r.num_rows, true);
                }
            }
        }
        2 | 7 => {
            if let Ok(r) = SearchRequest::decode(body) {
                if let Some(search_request::SearchInput::PlaceholderGroup(b)) = &r.search_input {
                    if let Ok((_, vectors)) = convert::vectors_from_placeholder(b) {
                        let dim = schema.fields.iter().find(|f| f.name == "emb").unwrap().dim();
                        let _ = vectors.iter().all(|v| v.len() == dim);
                    }
                }
                let sp = convert::kv(&r.search_params);
                let _ = (usize_param(&sp, "topk"), usize_param(&sp, "offset"));
                if let Some(p) = param(&sp, "params") {
                    let _ = serde_json::from_str::<serde_json::Value>(p);
                }
                with_templates(schema, &r.expr_template_values);
            }
        }
        3 => {
            if let Ok(r) = QueryRequest::decode(body) {
                let qp = convert::kv(&r.query_params);
                let _ = (usize_param(&qp, "limit"), usize_param(&qp, "offset"));
                with_templates(schema, &r.expr_template_values);
            }
        }
        4 => {
            if let Ok(r) = DeleteRequest::decode(body) {
                with_templates(schema, &r.expr_template_values);
            }
        }
        _ => {
            // CreateCollection: the schema bytes, validated as a new collection, echoed back
            if let Ok(r) = CreateCollectionRequest::decode(body) {
                let _ = convert::kv(&r.properties);
                if let Ok(s) = convert::schema_from_bytes(&r.schema) {
                    if let Ok(s) = s.prepare_new() {
                        let echoed = convert::schema_to_proto(&s, "default");
                        let again = convert::schema_from_bytes(&echoed.encode_to_vec())
                            .expect("an echoed schema decodes");
                        assert_eq!(again.fields.len(), s.user_fields().count());
                        let _ = s.arrow_schema(true);
                    }
                }
            }
        }
    }
});
