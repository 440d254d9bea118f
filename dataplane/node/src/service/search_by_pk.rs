//! Search by primary keys (pymilvus 2.6 `search(ids=[...])`, the request's `ids` in place of
//! query vectors): the keys' vectors of the searched field are read with a query over the same
//! partitions, then searched as if sent. A key that matches no row is refused by name rather
//! than leaving its query out (the answer keeps one result list per key).

use std::collections::HashMap;

use quarry_engine::{Named, QueryInput, QueryOutput};
use quarry_proto::schema::i_ds::IdField;
use quarry_proto::schema::IDs;
use quarry_proto::service::SearchRequest;
use quarry_types::limits::MAX_NQ;
use quarry_types::{DataType, Value};

use super::handle::Handled;
use super::Service;
use crate::convert::{self, QueryVectors};
use crate::status::{engine, invalid};

/// The template name the keys travel under (no user filter text is involved).
const KEYS: &str = "__quarry_search_keys";

/// The query vectors of the keys in `ids`, in their order.
pub(super) async fn vectors_of(s: &Service, r: &SearchRequest, ids: &IDs) -> Handled<QueryVectors> {
    let keys: Vec<Value> = match &ids.id_field {
        Some(IdField::IntId(a)) => a.data.iter().map(|&i| Value::Int(i)).collect(),
        Some(IdField::StrId(a)) => a.data.iter().map(|k| Value::Str(k.clone())).collect(),
        None => vec![],
    };
    if keys.is_empty() || keys.len() > MAX_NQ {
        return Err(invalid(format!(
            "nq (number of search vector per search request) should be in range [1, {MAX_NQ}], \
             but got {}",
            keys.len()
        )));
    }
    let meta = s
        .engine
        .describe_collection(Named::new(&r.db_name, &r.collection_name))
        .await
        .map_err(engine)?;
    let schema = &meta.schema;
    let named = convert::search_options(&r.search_params)
        .map_err(invalid)?
        .anns_field;
    let vector_fields: Vec<_> = schema
        .fields
        .iter()
        .filter(|f| f.data_type.is_vector())
        .collect();
    let field = match named.as_str() {
        "" if vector_fields.len() == 1 => vector_fields[0],
        "" => {
            return Err(invalid(
                "multiple anns_fields exist, please specify a anns_field in search_params",
            ))
        }
        name => *vector_fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| {
                invalid(format!(
                    "failed to get field schema by name: {}",
                    convert::shown(name)
                ))
            })?,
    };
    let pk = schema
        .fields
        .iter()
        .find(|f| f.is_primary_key)
        .ok_or_else(|| invalid("the collection has no primary key"))?;
    let key_kind_fits = matches!(
        (&keys[0], pk.data_type),
        (Value::Int(_), DataType::Int64) | (Value::Str(_), DataType::VarChar)
    );
    if !key_kind_fits {
        return Err(invalid(format!(
            "the ids do not match the type of primary key {} ({:?})",
            pk.name, pk.data_type
        )));
    }
    let input = QueryInput {
        filter: format!("{} in {{{KEYS}}}", pk.name),
        // a list template is a JSON array (as the expression compiler reads templates)
        templates: HashMap::from([(KEYS.to_string(), Value::Json(keys_json(&keys)))]),
        output_fields: vec![pk.name.clone(), field.name.clone()],
        partitions: r.partition_names.clone(),
        limit: None,
        offset: 0,
    };
    let answer = s
        .engine
        .query(Named::new(&r.db_name, &r.collection_name), input)
        .await
        .map_err(engine)?;
    let QueryOutput::Rows(outputs) = answer.output else {
        return Err(invalid("the keys' vectors could not be read"));
    };
    let column = |name: &str| outputs.columns.iter().find(|c| c.field.name == name);
    let (Some(pks), Some(vectors)) = (column(&pk.name), column(&field.name)) else {
        return Err(invalid("the keys' vectors could not be read"));
    };
    let found: HashMap<String, &Value> = pks
        .values
        .iter()
        .map(shown_key)
        .zip(&vectors.values)
        .collect();
    let missing: Vec<String> = keys
        .iter()
        .map(shown_key)
        .filter(|k| !found.contains_key(k))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "primary keys not found in collection {}: [{}]",
            convert::shown(&r.collection_name),
            missing.join(", ")
        )));
    }
    let (mut dense, mut sparse) = (vec![], vec![]);
    for k in &keys {
        match found.get(&shown_key(k)) {
            Some(Value::Vector(v)) => dense.push(v.clone()),
            Some(Value::Sparse(b)) => sparse.push(b.clone()),
            _ => return Err(invalid("the keys' vectors could not be read")),
        }
    }
    Ok((field.data_type, dense, sparse))
}

/// A key as the error text shows it (and as the lookup matches it): a number, or a quoted
/// string.
fn shown_key(k: &Value) -> String {
    match k {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => convert::shown(s),
        _ => String::new(),
    }
}

fn keys_json(keys: &[Value]) -> serde_json::Value {
    serde_json::Value::Array(
        keys.iter()
            .map(|k| match k {
                Value::Int(i) => serde_json::Value::from(*i),
                Value::Str(s) => serde_json::Value::from(s.as_str()),
                _ => serde_json::Value::Null,
            })
            .collect(),
    )
}
