//! The one place where Milvus wire types and Quarry domain types meet.

use std::collections::HashMap;

use prost::Message;
use quarry_engine::{OutputColumn, Outputs};
use quarry_proto::common::{KeyValuePair, PlaceholderGroup, PlaceholderType};
use quarry_proto::schema::{
    self as ps, field_data, scalar_field, template_array_value, template_value, value_field,
    vector_field, FieldData, ScalarField, TemplateValue, VectorField,
};
use quarry_types::batch::{check_rows, Column, ColumnData};
use quarry_types::limits::{
    MAX_FIELDS, MAX_INSERT_ROWS, MAX_NQ, MAX_PROPERTIES, MAX_PROPERTY_BYTES, MAX_ROUND_DECIMAL,
};
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
    // the claimed sizes first: nothing is converted or allocated for a request over a bound
    if num_rows as usize > MAX_INSERT_ROWS {
        return Err(format!(
            "the number of rows ({num_rows}) of one request exceeds the maximum of \
             {MAX_INSERT_ROWS}; split the data into smaller requests"
        ));
    }
    // the dynamic field comes on top of the schema's fields
    if fields.len() > MAX_FIELDS + 1 {
        return Err(format!(
            "the request carries {} fields, more than a collection can have ({MAX_FIELDS} and \
             the dynamic field)",
            fields.len()
        ));
    }
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
    check_rows(&out, rows).map_err(|e| e.to_string())?;
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
    let nq = p.values.len();
    if nq == 0 || nq > MAX_NQ {
        return Err(format!(
            "nq (number of search vector per search request) should be in range [1, {MAX_NQ}], \
             but got {nq}"
        ));
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

/// Elements of a template array, nested arrays' included (saturating).
fn template_elements(a: &ps::TemplateArrayValue) -> usize {
    use template_array_value::Data;
    match &a.data {
        Some(Data::BoolData(x)) => x.data.len(),
        Some(Data::LongData(x)) => x.data.len(),
        Some(Data::DoubleData(x)) => x.data.len(),
        Some(Data::StringData(x)) => x.data.len(),
        Some(Data::JsonData(x)) => x.data.len(),
        Some(Data::ArrayData(x)) => x
            .data
            .iter()
            .fold(x.data.len(), |n, a| n.saturating_add(template_elements(a))),
        None => 0,
    }
}

/// The values of an expression's `{name}` placeholders. Array values count against
/// `MAX_EXPR_LIST` together, before any is converted (a packed bool array costs one byte a
/// value on the wire and far more once converted).
pub fn templates(map: &HashMap<String, TemplateValue>) -> ConvResult<HashMap<String, Value>> {
    let elements = map
        .values()
        .filter_map(|v| match &v.val {
            Some(template_value::Val::ArrayVal(a)) => Some(template_elements(a)),
            _ => None,
        })
        .fold(0usize, usize::saturating_add);
    if elements > quarry_types::limits::MAX_EXPR_LIST {
        return Err(format!(
            "the template values of the expression hold {elements} array elements, more than \
             the limit of {}",
            quarry_types::limits::MAX_EXPR_LIST
        ));
    }
    Ok(map
        .iter()
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
        .collect())
}

/// Milvus index parameters: flattened pairs, plus a `params` JSON object merged in.
pub fn index_params(
    pairs: &[KeyValuePair],
) -> ConvResult<std::collections::BTreeMap<String, String>> {
    check_pairs("index params", pairs.iter().map(|p| (&p.key, &p.value)))?;
    let mut out = std::collections::BTreeMap::new();
    for p in pairs {
        if p.key == "params" {
            let obj: serde_json::Value = serde_json::from_str(&p.value)
                .map_err(|e| format!("index params is not valid JSON: {e}"))?;
            if let serde_json::Value::Object(m) = obj {
                if m.len() > MAX_PROPERTIES {
                    return Err(format!(
                        "too many index params: {} given, at most {MAX_PROPERTIES} are allowed",
                        m.len()
                    ));
                }
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

/// Checks key-value pairs of a request: at most [`MAX_PROPERTIES`] of them, each key and
/// value at most [`MAX_PROPERTY_BYTES`].
pub fn check_pairs<'a>(
    kind: &str,
    pairs: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
) -> ConvResult<()> {
    if pairs.len() > MAX_PROPERTIES {
        return Err(format!(
            "too many {kind}: {} given, at most {MAX_PROPERTIES} are allowed",
            pairs.len()
        ));
    }
    for (k, v) in pairs {
        if k.len() > MAX_PROPERTY_BYTES || v.len() > MAX_PROPERTY_BYTES {
            return Err(format!(
                "a key or value of the {kind} exceeds {MAX_PROPERTY_BYTES} bytes"
            ));
        }
    }
    Ok(())
}

fn param<'a>(pairs: &'a [KeyValuePair], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.value.as_str())
}

/// A value as it goes into an error message: long values cut short.
fn shown(v: &str) -> String {
    const SHOWN: usize = 64;
    match v.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}...", &v[..end]),
        None => v.to_string(),
    }
}

/// An integer request parameter (a decimal string) that must not be negative; `None` when
/// absent. A value too large for `usize` saturates: the bound checks refuse it.
fn count_param(pairs: &[KeyValuePair], key: &str) -> ConvResult<Option<usize>> {
    let Some(raw) = param(pairs, key) else {
        return Ok(None);
    };
    let n: i128 = match raw.trim().parse() {
        Ok(n) => n,
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => i128::MAX,
        Err(e) if *e.kind() == std::num::IntErrorKind::NegOverflow => i128::MIN,
        Err(_) => {
            return Err(format!(
                "{key} [{}] is invalid, it should be an integer",
                shown(raw)
            ))
        }
    };
    if n < 0 {
        return Err(format!(
            "{key} [{}] is invalid, it should be a non-negative integer",
            shown(raw.trim())
        ));
    }
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

/// The search parameters Quarry understands, parsed (bounds are checked by the engine).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub anns_field: String,
    pub metric: Option<String>,
    pub topk: usize,
    pub offset: usize,
    pub ef: Option<usize>,
    pub radius: Option<f32>,
    pub range_filter: Option<f32>,
    /// -1: no rounding
    pub round_decimal: i32,
}

/// Parses a search's `search_params`: `topk`, `offset`, `round_decimal`, `metric_type`,
/// `anns_field` and the `params` JSON (`ef`, `radius`, `range_filter`). Negative or
/// non-numeric values are refused.
pub fn search_options(sp: &[KeyValuePair]) -> ConvResult<SearchOptions> {
    let topk = count_param(sp, "topk")?.unwrap_or(10);
    let offset = count_param(sp, "offset")?.unwrap_or(0);
    let extra: serde_json::Value = match param(sp, "params").filter(|p| !p.trim().is_empty()) {
        Some(p) => {
            serde_json::from_str(p).map_err(|e| format!("search params is not valid JSON: {e}"))?
        }
        None => serde_json::json!({}),
    };
    if param(sp, "group_by_field").is_some() {
        return Err("grouping search is not supported by quarry yet".into());
    }
    let number = |k: &str| -> ConvResult<Option<f64>> {
        match extra.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| format!("{k} [{}] is invalid, it should be a number", shown(s))),
            Some(other) => Err(format!(
                "{k} [{}] is invalid, it should be a number",
                shown(&other.to_string())
            )),
        }
    };
    let ef = match number("ef")? {
        None => None,
        Some(x) if x < 0.0 || x.fract() != 0.0 => {
            return Err(format!(
                "ef [{x}] is invalid, it should be a non-negative integer"
            ))
        }
        // saturates: the engine refuses anything over its bound
        Some(x) => Some(x as usize),
    };
    let round_decimal = match param(sp, "round_decimal") {
        None => -1,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n == -1 || (0..=MAX_ROUND_DECIMAL).contains(&n) => n as i32,
            _ => {
                return Err(format!(
                    "round_decimal [{}] is invalid, should be -1 or an integer in range \
                     [0, {MAX_ROUND_DECIMAL}]",
                    shown(raw)
                ))
            }
        },
    };
    let metric = param(sp, "metric_type").map(str::to_string).or_else(|| {
        extra
            .get("metric_type")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    Ok(SearchOptions {
        anns_field: param(sp, "anns_field").unwrap_or("").to_string(),
        metric,
        topk,
        offset,
        ef,
        radius: number("radius")?.map(|v| v as f32),
        range_filter: number("range_filter")?.map(|v| v as f32),
        round_decimal,
    })
}

/// A query's `limit` (`None` when absent) and `offset` (0 when absent). Negative or
/// non-numeric values are refused; the engine checks the result window.
pub fn query_window(qp: &[KeyValuePair]) -> ConvResult<(Option<usize>, usize)> {
    Ok((
        count_param(qp, "limit")?,
        count_param(qp, "offset")?.unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kvs(pairs: &[(&str, &str)]) -> Vec<KeyValuePair> {
        pairs
            .iter()
            .map(|(k, v)| KeyValuePair {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    #[test]
    fn search_options_parse_and_refuse_bad_numbers() {
        let o = search_options(&kvs(&[
            ("topk", "5"),
            ("offset", "2"),
            ("params", r#"{"ef": 64, "radius": "0.5"}"#),
            ("round_decimal", "3"),
        ]))
        .unwrap();
        assert_eq!(
            (o.topk, o.offset, o.ef, o.round_decimal),
            (5, 2, Some(64), 3)
        );
        assert_eq!(o.radius, Some(0.5));
        // huge values parse (saturating) so that the engine names its bound
        let o = search_options(&kvs(&[("topk", "9223372036854775808"), ("offset", "1")])).unwrap();
        assert_eq!((o.topk, o.offset), (1 << 63, 1));
        let o = search_options(&kvs(&[("topk", &"9".repeat(100))])).unwrap();
        assert_eq!(o.topk, usize::MAX);
        for (sp, want) in [
            (vec![("topk", "-1")], "topk [-1] is invalid"),
            (vec![("topk", "ten")], "topk [ten] is invalid"),
            (vec![("offset", "-3")], "offset [-3] is invalid"),
            (vec![("params", r#"{"ef": -1}"#)], "ef [-1] is invalid"),
            (
                vec![("params", r#"{"ef": "many"}"#)],
                "ef [many] is invalid",
            ),
            (vec![("params", r#"{"ef": 1.5}"#)], "ef [1.5] is invalid"),
            (
                vec![("params", r#"{"radius": [1]}"#)],
                "radius [[1]] is invalid",
            ),
            (vec![("round_decimal", "7")], "round_decimal [7] is invalid"),
            (vec![("round_decimal", "x")], "round_decimal [x] is invalid"),
        ] {
            let e = search_options(&kvs(&sp)).unwrap_err();
            assert!(e.contains(want), "{sp:?}: {e}");
        }
        let long = "x".repeat(10_000);
        let e = search_options(&kvs(&[("topk", &long)])).unwrap_err();
        assert!(e.len() < 200, "long values are cut in messages: {e}");
    }

    #[test]
    fn query_window_parses() {
        assert_eq!(query_window(&[]).unwrap(), (None, 0));
        assert_eq!(
            query_window(&kvs(&[("limit", "7"), ("offset", "3")])).unwrap(),
            (Some(7), 3)
        );
        assert!(query_window(&kvs(&[("limit", "-1")]))
            .unwrap_err()
            .contains("limit [-1] is invalid"));
    }

    fn float_vectors(nq: usize) -> Vec<u8> {
        PlaceholderGroup {
            placeholders: vec![quarry_proto::common::PlaceholderValue {
                tag: "$0".into(),
                r#type: PlaceholderType::FloatVector as i32,
                values: vec![1f32.to_le_bytes().to_vec(); nq],
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn nq_is_bounded() {
        assert_eq!(
            vectors_from_placeholder(&float_vectors(2)).unwrap().len(),
            2
        );
        let e = vectors_from_placeholder(&float_vectors(MAX_NQ + 1)).unwrap_err();
        assert!(
            e.contains("should be in range [1, 16384], but got 16385"),
            "{e}"
        );
    }

    fn long_field(name: &str, data: Vec<i64>) -> FieldData {
        FieldData {
            field_name: name.into(),
            field: Some(field_data::Field::Scalars(ScalarField {
                data: Some(scalar_field::Data::LongData(ps::LongArray { data })),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn claimed_rows_must_match_the_data() {
        let (cols, rows) = columns_from_proto(vec![long_field("a", vec![1, 2])], 2).unwrap();
        assert_eq!((cols.len(), rows), (1, 2));
        let e = columns_from_proto(vec![long_field("a", vec![1])], u32::MAX).unwrap_err();
        assert!(e.contains("exceeds the maximum"), "{e}");
        let e = columns_from_proto(vec![long_field("a", vec![1])], 3).unwrap_err();
        assert!(
            e.contains("the num_rows (1) of field (a) is not equal to passed num_rows (3)"),
            "{e}"
        );
        let e = columns_from_proto(vec![], 3).unwrap_err();
        assert!(e.contains("carries no field data"), "{e}");
    }

    #[test]
    fn index_params_are_bounded() {
        let many: Vec<(String, String)> = (0..=MAX_PROPERTIES)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let pairs: Vec<KeyValuePair> = to_kv(&many);
        assert!(index_params(&pairs).unwrap_err().contains("too many"));
        let big = kvs(&[("M", &"1".repeat(MAX_PROPERTY_BYTES + 1))]);
        assert!(index_params(&big).unwrap_err().contains("exceeds"));
    }
}
