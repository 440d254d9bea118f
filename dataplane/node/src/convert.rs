//! The one place where Milvus wire types and Quarry domain types meet.

use std::collections::HashMap;

use prost::Message;
use quarry_engine::{OutputColumn, Outputs};
use quarry_proto::common::{KeyValuePair, PlaceholderGroup, PlaceholderType};
use quarry_proto::schema::{
    self as ps, field_data, scalar_field, template_array_value, template_value, value_field,
    vector_field, FieldData, ScalarField, TemplateValue, VectorField,
};
use quarry_types::batch::{Column, ColumnData};
use quarry_types::schema::DefaultValue;
use quarry_types::{CollectionSchema, DataType, FieldSchema, Pk, Value, META_FIELD};

pub type ConvResult<T> = Result<T, String>;

pub fn kv(pairs: &[KeyValuePair]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

pub fn to_kv(pairs: &[(String, String)]) -> Vec<KeyValuePair> {
    pairs
        .iter()
        .map(|(k, v)| KeyValuePair {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

pub fn schema_from_bytes(bytes: &[u8]) -> ConvResult<CollectionSchema> {
    let s = ps::CollectionSchema::decode(bytes)
        .map_err(|e| format!("the schema is not a valid CollectionSchema message: {e}"))?;
    if !s.functions.is_empty() {
        return Err("collection functions (e.g. BM25) are not supported by quarry yet".into());
    }
    let fields = s
        .fields
        .iter()
        .map(field_from_proto)
        .collect::<ConvResult<Vec<_>>>()?;
    Ok(CollectionSchema {
        name: s.name,
        description: s.description,
        auto_id: s.auto_id,
        fields,
        enable_dynamic_field: s.enable_dynamic_field,
        properties: kv(&s.properties),
    })
}

fn field_from_proto(f: &ps::FieldSchema) -> ConvResult<FieldSchema> {
    let data_type =
        DataType::from_code(f.data_type).map_err(|e| format!("field {}: {e}", f.name))?;
    let default_value = f
        .default_value
        .as_ref()
        .and_then(|d| d.data.as_ref())
        .map(|d| match d {
            value_field::Data::BoolData(b) => DefaultValue::Bool(*b),
            value_field::Data::IntData(i) => DefaultValue::Int(*i as i64),
            value_field::Data::LongData(i) => DefaultValue::Int(*i),
            value_field::Data::FloatData(x) => DefaultValue::Float(*x as f64),
            value_field::Data::DoubleData(x) => DefaultValue::Float(*x),
            value_field::Data::StringData(s) => DefaultValue::Str(s.clone()),
            value_field::Data::BytesData(b) => {
                DefaultValue::Str(String::from_utf8_lossy(b).into_owned())
            }
        });
    Ok(FieldSchema {
        id: f.field_id,
        name: f.name.clone(),
        description: f.description.clone(),
        data_type,
        is_primary_key: f.is_primary_key,
        auto_id: f.auto_id,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        is_dynamic: f.is_dynamic,
        type_params: kv(&f.type_params),
        index_params: kv(&f.index_params),
        default_value,
    })
}

/// The schema as clients see it: `$meta` hidden, everything else echoed.
pub fn schema_to_proto(s: &CollectionSchema, db: &str) -> ps::CollectionSchema {
    ps::CollectionSchema {
        name: s.name.clone(),
        description: s.description.clone(),
        auto_id: s.auto_id,
        fields: s.user_fields().map(field_to_proto).collect(),
        enable_dynamic_field: s.enable_dynamic_field,
        properties: to_kv(&s.properties),
        functions: vec![],
        db_name: db.to_string(),
    }
}

fn field_to_proto(f: &FieldSchema) -> ps::FieldSchema {
    let default_value = f.default_value.as_ref().map(|d| ps::ValueField {
        data: Some(match (d, f.data_type) {
            (DefaultValue::Bool(b), _) => value_field::Data::BoolData(*b),
            (DefaultValue::Int(i), DataType::Int64) => value_field::Data::LongData(*i),
            (DefaultValue::Int(i), _) => value_field::Data::IntData(*i as i32),
            (DefaultValue::Float(x), DataType::Float) => value_field::Data::FloatData(*x as f32),
            (DefaultValue::Float(x), _) => value_field::Data::DoubleData(*x),
            (DefaultValue::Str(s), _) => value_field::Data::StringData(s.clone()),
        }),
    });
    ps::FieldSchema {
        field_id: f.id,
        name: f.name.clone(),
        is_primary_key: f.is_primary_key,
        description: f.description.clone(),
        data_type: f.data_type.code(),
        type_params: to_kv(&f.type_params),
        index_params: to_kv(&f.index_params),
        auto_id: f.auto_id,
        element_type: 0,
        default_value,
        is_dynamic: false,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        ..Default::default()
    }
}

/// Client columns keyed by field name (`$meta` for the dynamic column) and the row count.
pub fn columns_from_proto(
    fields: Vec<FieldData>,
    num_rows: u32,
) -> ConvResult<(HashMap<String, Column>, usize)> {
    let mut out = HashMap::new();
    let mut rows = num_rows as usize;
    for f in fields {
        let name = if f.is_dynamic {
            META_FIELD.to_string()
        } else {
            f.field_name.clone()
        };
        let data = match f.field {
            Some(field_data::Field::Scalars(ScalarField { data: Some(d) })) => match d {
                scalar_field::Data::BoolData(a) => ColumnData::Bool(a.data),
                scalar_field::Data::IntData(a) => {
                    ColumnData::Int(a.data.into_iter().map(i64::from).collect())
                }
                scalar_field::Data::LongData(a) => ColumnData::Int(a.data),
                scalar_field::Data::FloatData(a) => {
                    ColumnData::Float(a.data.into_iter().map(f64::from).collect())
                }
                scalar_field::Data::DoubleData(a) => ColumnData::Float(a.data),
                scalar_field::Data::StringData(a) => ColumnData::Str(a.data),
                scalar_field::Data::JsonData(a) => ColumnData::Json(a.data),
                _ => {
                    return Err(format!(
                        "the data type of field {name} is not supported by quarry yet"
                    ))
                }
            },
            Some(field_data::Field::Vectors(VectorField {
                dim,
                data: Some(vector_field::Data::FloatVector(a)),
            })) => ColumnData::FloatVector {
                dim: dim as usize,
                data: a.data,
            },
            Some(field_data::Field::Vectors(_)) => {
                return Err(format!(
                "the vector type of field {name} is not supported by quarry yet (FloatVector only)"
            ))
            }
            _ => return Err(format!("field {name} carries no data")),
        };
        let valid = (!f.valid_data.is_empty()).then_some(f.valid_data);
        if rows == 0 {
            rows = valid.as_ref().map_or(data.len(), |v| v.len());
        }
        if out.insert(name.clone(), Column { data, valid }).is_some() {
            return Err(format!("field {name} appears twice in the inserted data"));
        }
    }
    Ok((out, rows))
}

pub fn ids_to_proto(ids: &[Pk], pk_type: DataType) -> ps::IDs {
    let id_field = if pk_type == DataType::VarChar {
        ps::i_ds::IdField::StrId(ps::StringArray {
            data: ids
                .iter()
                .map(|p| match p {
                    Pk::Str(s) => s.clone(),
                    Pk::Int(i) => i.to_string(),
                })
                .collect(),
        })
    } else {
        ps::i_ds::IdField::IntId(ps::LongArray {
            data: ids
                .iter()
                .map(|p| match p {
                    Pk::Int(i) => *i,
                    Pk::Str(_) => 0,
                })
                .collect(),
        })
    };
    ps::IDs {
        id_field: Some(id_field),
    }
}

fn json_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Json(j) => serde_json::to_vec(j).unwrap_or_default(),
        Value::Null => b"{}".to_vec(),
        Value::Str(s) => serde_json::to_vec(s).unwrap_or_default(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => f.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Vector(_) => b"null".to_vec(),
    }
}

/// One output column as FieldData. Nulls become placeholders plus `valid_data`.
pub fn column_to_proto(col: &OutputColumn) -> FieldData {
    let f = &col.field;
    let vals = &col.values;
    let valid: Vec<bool> = if f.nullable {
        vals.iter().map(|v| !matches!(v, Value::Null)).collect()
    } else {
        vec![]
    };
    let int = |v: &Value| if let Value::Int(i) = v { *i } else { 0 };
    let float = |v: &Value| if let Value::Float(x) = v { *x } else { 0.0 };
    let scalars =
        |d: scalar_field::Data| Some(field_data::Field::Scalars(ScalarField { data: Some(d) }));
    let field = match f.data_type {
        DataType::Bool => scalars(scalar_field::Data::BoolData(ps::BoolArray {
            data: vals
                .iter()
                .map(|v| matches!(v, Value::Bool(true)))
                .collect(),
        })),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            scalars(scalar_field::Data::IntData(ps::IntArray {
                data: vals.iter().map(|v| int(v) as i32).collect(),
            }))
        }
        DataType::Int64 => scalars(scalar_field::Data::LongData(ps::LongArray {
            data: vals.iter().map(int).collect(),
        })),
        DataType::Float => scalars(scalar_field::Data::FloatData(ps::FloatArray {
            data: vals.iter().map(|v| float(v) as f32).collect(),
        })),
        DataType::Double => scalars(scalar_field::Data::DoubleData(ps::DoubleArray {
            data: vals.iter().map(float).collect(),
        })),
        DataType::VarChar => scalars(scalar_field::Data::StringData(ps::StringArray {
            data: vals
                .iter()
                .map(|v| {
                    if let Value::Str(s) = v {
                        s.clone()
                    } else {
                        String::new()
                    }
                })
                .collect(),
        })),
        DataType::Json => scalars(scalar_field::Data::JsonData(ps::JsonArray {
            data: vals.iter().map(json_bytes).collect(),
        })),
        DataType::FloatVector => Some(field_data::Field::Vectors(VectorField {
            dim: f.dim() as i64,
            data: Some(vector_field::Data::FloatVector(ps::FloatArray {
                data: vals
                    .iter()
                    .flat_map(|v| {
                        if let Value::Vector(x) = v {
                            x.clone()
                        } else {
                            vec![0.0; f.dim()]
                        }
                    })
                    .collect(),
            })),
        })),
    };
    FieldData {
        r#type: f.data_type.code(),
        field_name: if f.is_dynamic {
            META_FIELD.to_string()
        } else {
            f.name.clone()
        },
        field,
        field_id: f.id,
        is_dynamic: f.is_dynamic,
        valid_data: valid,
    }
}

pub fn outputs_to_proto(out: &Outputs) -> Vec<FieldData> {
    out.columns.iter().map(column_to_proto).collect()
}

/// Query vectors from a serialized PlaceholderGroup (FloatVector only).
pub fn vectors_from_placeholder(bytes: &[u8]) -> ConvResult<Vec<Vec<f32>>> {
    let group =
        PlaceholderGroup::decode(bytes).map_err(|e| format!("invalid placeholder group: {e}"))?;
    let p = group
        .placeholders
        .first()
        .ok_or("the search request carries no query vectors")?;
    if p.r#type != PlaceholderType::FloatVector as i32 {
        return Err(format!("query vectors of placeholder type {} are not supported by quarry yet (FloatVector only)", p.r#type));
    }
    p.values
        .iter()
        .map(|v| {
            if v.len() % 4 != 0 {
                return Err(
                    "a FloatVector query must be a whole number of little-endian f32 values"
                        .to_string(),
                );
            }
            Ok(v.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        })
        .collect()
}

fn template_array(a: &ps::TemplateArrayValue) -> serde_json::Value {
    use template_array_value::Data;
    match &a.data {
        Some(Data::BoolData(x)) => x.data.iter().map(|b| serde_json::Value::Bool(*b)).collect(),
        Some(Data::LongData(x)) => x.data.iter().map(|i| serde_json::Value::from(*i)).collect(),
        Some(Data::DoubleData(x)) => x.data.iter().map(|f| serde_json::Value::from(*f)).collect(),
        Some(Data::StringData(x)) => x
            .data
            .iter()
            .map(|s| serde_json::Value::from(s.clone()))
            .collect(),
        Some(Data::ArrayData(x)) => x.data.iter().map(template_array).collect(),
        Some(Data::JsonData(x)) => x
            .data
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap_or(serde_json::Value::Null))
            .collect(),
        None => serde_json::Value::Array(vec![]),
    }
}

pub fn templates(map: &HashMap<String, TemplateValue>) -> HashMap<String, Value> {
    map.iter()
        .map(|(k, v)| {
            let value = match &v.val {
                Some(template_value::Val::BoolVal(b)) => Value::Bool(*b),
                Some(template_value::Val::Int64Val(i)) => Value::Int(*i),
                Some(template_value::Val::FloatVal(f)) => Value::Float(*f),
                Some(template_value::Val::StringVal(s)) => Value::Str(s.clone()),
                Some(template_value::Val::ArrayVal(a)) => Value::Json(template_array(a)),
                None => Value::Null,
            };
            (k.clone(), value)
        })
        .collect()
}

/// Milvus index parameters: flattened pairs, plus a `params` JSON object merged in.
pub fn index_params(
    pairs: &[KeyValuePair],
) -> ConvResult<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for p in pairs {
        if p.key == "params" {
            let obj: serde_json::Value = serde_json::from_str(&p.value)
                .map_err(|e| format!("index params is not valid JSON: {e}"))?;
            if let serde_json::Value::Object(m) = obj {
                for (k, v) in m {
                    out.insert(
                        k,
                        match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        },
                    );
                }
            }
        } else {
            out.insert(p.key.clone(), p.value.clone());
        }
    }
    Ok(out)
}
