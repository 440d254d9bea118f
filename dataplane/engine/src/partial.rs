//! Partial upserts (pymilvus 2.6 `upsert(..., partial_update=True)`): the request carries the
//! primary key and some fields; the fields it leaves out keep the values of the row with that
//! key (read as a Strong query would), and a key with no row yet takes their defaults or null,
//! or is refused when a field it leaves out has neither; dynamic keys sent are merged over the
//! row's own. Then the rows are upserted whole.
//! Like Milvus's, this is a read then a write, not a transaction: a write of the same key in
//! between is overwritten.

use std::collections::HashMap;

use quarry_meta::CollectionMeta;
use quarry_types::batch::{Column, ColumnData};
use quarry_types::limits::MAX_TOPK;
use quarry_types::{vector, DataType, FieldSchema, Pk, Value};

use crate::error::invalid;
use crate::plan::{QueryInput, QueryOutput};
use crate::write::InsertInput;
use crate::{Engine, Named, Result};

impl Engine {
    /// Fills the fields a partial upsert leaves out (see the module's text).
    pub(crate) async fn fill_partial(
        &self,
        name: Named<'_>,
        meta: &CollectionMeta,
        input: &mut InsertInput,
    ) -> Result<()> {
        let schema = &meta.schema;
        let pk = schema.primary();
        let keys: Vec<Value> = match input.columns.get(&pk.name).map(|c| &c.data) {
            Some(ColumnData::Int(v)) => v.iter().map(|i| Value::Int(*i)).collect(),
            Some(ColumnData::Str(v)) => v.iter().map(|s| Value::Str(s.clone())).collect(),
            _ => {
                return Err(invalid(format!(
                    "a partial update needs the primary key {} of every row",
                    pk.name
                )))
            }
        };
        // the rows are read back by one query
        if keys.len() > MAX_TOPK {
            return Err(invalid(format!(
                "a partial update takes at most {MAX_TOPK} rows per request, got {}",
                keys.len()
            )));
        }
        let missing: Vec<&FieldSchema> = schema
            .fields
            .iter()
            .filter(|f| !input.columns.contains_key(&f.name))
            .filter(|f| schema.function_of_output(&f.name).is_none())
            .collect();
        // the dynamic field is read too: keys sent are merged into the row's
        let dynamic = schema
            .dynamic_field()
            .filter(|f| input.columns.contains_key(&f.name));
        if missing.is_empty() && dynamic.is_none() {
            return Ok(());
        }
        let mut read: Vec<String> = missing.iter().map(|f| f.name.clone()).collect();
        read.extend(dynamic.map(|f| f.name.clone()));
        let found = self
            .query(
                name,
                QueryInput {
                    filter: format!("{} in {{keys}}", pk.name),
                    templates: HashMap::from([("keys".to_string(), keys_json(&keys))]),
                    output_fields: read,
                    partitions: vec![],
                    limit: Some(keys.len()),
                    offset: 0,
                },
            )
            .await?;
        let QueryOutput::Rows(out) = found.output else {
            return Err(invalid("a partial update read no rows"));
        };
        // the existing rows by key
        let pk_column = out.columns.iter().find(|c| c.field.name == pk.name);
        let mut row_of: HashMap<Pk, usize> = HashMap::new();
        if let Some(c) = pk_column {
            for (i, v) in c.values.iter().enumerate() {
                if let Some(k) = as_pk(v) {
                    row_of.insert(k, i);
                }
            }
        }
        let existing_of = |name: &str| {
            let column = out.columns.iter().find(|c| c.field.name == name);
            keys.iter()
                .map(|k| {
                    let at = as_pk(k).and_then(|k| row_of.get(&k).copied());
                    at.and_then(|i| column.map(|c| c.values[i].clone()))
                })
                .collect::<Vec<Option<Value>>>()
        };
        if let Some(f) = dynamic {
            let old = existing_of(&f.name);
            if let Some(Column {
                data: ColumnData::Json(rows),
                ..
            }) = input.columns.get_mut(&f.name)
            {
                merge_dynamic(rows, &old);
            }
        }
        for field in missing {
            let column = column_of(field, existing_of(&field.name))?;
            input.columns.insert(field.name.clone(), column);
        }
        Ok(())
    }
}

/// The keys as a template list (a JSON array, as pymilvus sends lists).
fn keys_json(keys: &[Value]) -> Value {
    Value::Json(serde_json::Value::Array(
        keys.iter()
            .map(|k| match k {
                Value::Int(i) => serde_json::Value::from(*i),
                Value::Str(s) => serde_json::Value::from(s.as_str()),
                _ => serde_json::Value::Null,
            })
            .collect(),
    ))
}

/// Each row's dynamic keys sent merged over the row's own (the sent ones win); a row with none
/// yet, or a value that is not an object, is left as sent.
fn merge_dynamic(rows: &mut [Vec<u8>], old: &[Option<Value>]) {
    for (sent, old) in rows.iter_mut().zip(old) {
        let Some(Value::Json(serde_json::Value::Object(old))) = old else {
            continue;
        };
        let Ok(serde_json::Value::Object(new)) = serde_json::from_slice(sent) else {
            continue;
        };
        let mut merged = old.clone();
        merged.extend(new);
        *sent = serde_json::Value::Object(merged).to_string().into_bytes();
    }
}

fn as_pk(v: &Value) -> Option<Pk> {
    match v {
        Value::Int(i) => Some(Pk::Int(*i)),
        Value::Str(s) => Some(Pk::Str(s.clone())),
        _ => None,
    }
}

/// A client column of `field` from one value per row (`None`: no row has that key yet, so the
/// field's default, null, or a refusal).
fn column_of(field: &FieldSchema, values: Vec<Option<Value>>) -> Result<Column> {
    let rows = values.len();
    let mut valid = Vec::with_capacity(rows);
    let mut present = Vec::with_capacity(rows);
    for v in values {
        match v {
            Some(Value::Null) | None if field.nullable || field.default_value.is_some() => {
                valid.push(false);
            }
            None | Some(Value::Null) => {
                return Err(invalid(format!(
                    "a partial update leaves out field {} for a key with no row yet, and the \
                     field has no default value and is not nullable",
                    field.name
                )))
            }
            Some(v) => {
                valid.push(true);
                present.push(v);
            }
        }
    }
    let data = data_of(field, present)?;
    let all = valid.iter().all(|v| *v);
    Ok(Column {
        data,
        valid: (!all).then_some(valid),
    })
}

/// The column data of the non-null values of `field` (the column then holds them compactly).
fn data_of(field: &FieldSchema, values: Vec<Value>) -> Result<ColumnData> {
    let wrong = || {
        invalid(format!(
            "field {} read back a value of another type",
            field.name
        ))
    };
    Ok(match field.data_type {
        DataType::Bool => ColumnData::Bool(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Bool(b) => Ok(b),
                    _ => Err(wrong()),
                })
                .collect::<Result<_>>()?,
        ),
        t if t.is_integer() => ColumnData::Int(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Int(i) => Ok(i),
                    _ => Err(wrong()),
                })
                .collect::<Result<_>>()?,
        ),
        DataType::Float | DataType::Double => ColumnData::Float(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Float(x) => Ok(x),
                    Value::Int(i) => Ok(i as f64),
                    _ => Err(wrong()),
                })
                .collect::<Result<_>>()?,
        ),
        DataType::VarChar => ColumnData::Str(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s),
                    _ => Err(wrong()),
                })
                .collect::<Result<_>>()?,
        ),
        DataType::Json => ColumnData::Json(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Json(j) => Ok(j.to_string().into_bytes()),
                    Value::Str(s) => Ok(s.into_bytes()),
                    _ => Err(wrong()),
                })
                .collect::<Result<_>>()?,
        ),
        DataType::Array => {
            let element = field.element_field();
            ColumnData::Array(
                values
                    .into_iter()
                    .map(|v| match v {
                        Value::Array(items) => data_of(&element, items),
                        _ => Err(wrong()),
                    })
                    .collect::<Result<_>>()?,
            )
        }
        DataType::FloatVector => ColumnData::FloatVector {
            dim: field.dim(),
            data: values
                .into_iter()
                .map(|v| match v {
                    Value::Vector(x) => Ok(x),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>>>()?
                .concat(),
        },
        DataType::SparseFloatVector => ColumnData::Sparse(
            values
                .into_iter()
                .map(|v| match v {
                    Value::Sparse(b) => Ok(b),
                    _ => Err(wrong()),
                })
                .collect::<Result<_>>()?,
        ),
        t => ColumnData::Packed {
            data_type: t,
            dim: field.dim(),
            data: values
                .into_iter()
                .map(|v| match v {
                    Value::Vector(x) => Ok(vector::encode(t, &x)),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>>>()?
                .concat(),
        },
    })
}
