//! Columnar row batches. Rows travel and rest as Arrow `RecordBatch`es whose columns follow
//! [`CollectionSchema::arrow_schema`]; this module builds them from validated client columns and
//! reads single values back out.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, PrimitiveArray, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{DataType as ArrowType, Field as ArrowField};

use crate::limits::{MAX_INSERT_ROWS, MAX_JSON_BYTES};
use crate::schema::{CollectionSchema, DataType, FieldSchema};
use crate::{SchemaError, Value};

/// One column as received from a client, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    Str(Vec<String>),
    Json(Vec<Vec<u8>>),
    FloatVector { dim: usize, data: Vec<f32> },
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Bool(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Str(v) => v.len(),
            ColumnData::Json(v) => v.len(),
            ColumnData::FloatVector { dim, data } => {
                if *dim == 0 {
                    0
                } else {
                    data.len() / dim
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A client column with its optional validity bitmap. As pymilvus sends nullable data, `data`
/// holds only the non-null values while `valid` has one entry per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub data: ColumnData,
    pub valid: Option<Vec<bool>>,
}

impl Column {
    /// The rows the column holds: one validity entry per row when it has a bitmap, else one
    /// value per row. A vector column whose values are not a whole number of vectors has none.
    pub fn rows(&self) -> Option<usize> {
        if let Some(valid) = self.valid.as_ref().filter(|v| !v.is_empty()) {
            return Some(valid.len());
        }
        match &self.data {
            ColumnData::FloatVector { dim, data } if *dim == 0 || data.len() % dim != 0 => None,
            d => Some(d.len()),
        }
    }
}

/// Checks the row count a write request claims against [`MAX_INSERT_ROWS`] and against every
/// column it carries, before anything is sized by it.
pub fn check_rows<'a>(
    columns: impl IntoIterator<Item = (&'a String, &'a Column)>,
    rows: usize,
) -> Result<(), SchemaError> {
    if rows > MAX_INSERT_ROWS {
        return Err(SchemaError::Invalid(format!(
            "the number of rows ({rows}) of one request exceeds the maximum of {MAX_INSERT_ROWS}; \
             split the data into smaller requests"
        )));
    }
    let mut any = false;
    for (name, column) in columns {
        any = true;
        match column.rows() {
            Some(n) if n == rows => {}
            Some(n) => {
                return Err(SchemaError::Invalid(format!(
                    "the num_rows ({n}) of field ({name}) is not equal to passed num_rows ({rows})"
                )))
            }
            None => {
                return Err(SchemaError::Invalid(format!(
                    "the vector data of field ({name}) is not a whole number of vectors of its dim"
                )))
            }
        }
    }
    if !any && rows > 0 {
        return Err(SchemaError::Invalid(format!(
            "the request claims {rows} rows but carries no field data"
        )));
    }
    Ok(())
}

fn bad(field: &FieldSchema, reason: impl Into<String>) -> SchemaError {
    SchemaError::BadValue {
        field: field.name.clone(),
        reason: reason.into(),
    }
}

/// Expands compact (non-null only) values to one slot per row.
fn expand<T: Clone>(
    field: &FieldSchema,
    values: Vec<T>,
    valid: &Option<Vec<bool>>,
    rows: usize,
) -> Result<Vec<Option<T>>, SchemaError> {
    match valid {
        None | Some(_) if valid.as_ref().is_none_or(|v| v.is_empty()) => {
            if values.len() != rows {
                return Err(bad(
                    field,
                    format!("it has {} rows where {rows} were expected", values.len()),
                ));
            }
            Ok(values.into_iter().map(Some).collect())
        }
        Some(valid) => {
            if valid.len() != rows {
                return Err(bad(
                    field,
                    format!(
                        "valid_data has {} entries where {rows} were expected",
                        valid.len()
                    ),
                ));
            }
            if !field.nullable && field.default_value.is_none() && valid.iter().any(|v| !v) {
                return Err(bad(
                    field,
                    "null values are not allowed: the field is not nullable",
                ));
            }
            let set = valid.iter().filter(|v| **v).count();
            let mut it = values.into_iter();
            if set == rows && it.len() == rows {
                return Ok(it.map(Some).collect());
            }
            if it.len() != set {
                return Err(bad(
                    field,
                    format!("it has {} values for {set} non-null rows", it.len()),
                ));
            }
            Ok(valid
                .iter()
                .map(|v| if *v { it.next() } else { None })
                .collect())
        }
        None => unreachable!(),
    }
}

fn fill_default<T: Clone>(
    _field: &FieldSchema,
    values: Vec<Option<T>>,
    default: Option<T>,
) -> Vec<Option<T>> {
    match default {
        Some(d) => values
            .into_iter()
            .map(|v| v.or_else(|| Some(d.clone())))
            .collect(),
        None => values,
    }
}

fn ints<T: TryFrom<i64>>(
    field: &FieldSchema,
    v: Vec<Option<i64>>,
    min: i64,
    max: i64,
) -> Result<Vec<Option<T>>, SchemaError> {
    v.into_iter()
        .map(|x| match x {
            None => Ok(None),
            Some(x) => T::try_from(x)
                .map(Some)
                .map_err(|_| bad(field, format!("{x} is out of range [{min}, {max}]"))),
        })
        .collect()
}

/// Builds the Arrow array of one field from a client column, checking type, length, ranges,
/// VarChar lengths, JSON validity and vector dimensions.
pub fn build_array(
    field: &FieldSchema,
    column: Option<Column>,
    rows: usize,
) -> Result<ArrayRef, SchemaError> {
    let column = match column {
        Some(c) => c,
        None if field.nullable || field.default_value.is_some() => {
            let empty = match field.data_type {
                DataType::Bool => ColumnData::Bool(vec![]),
                DataType::Float | DataType::Double => ColumnData::Float(vec![]),
                DataType::VarChar => ColumnData::Str(vec![]),
                DataType::Json => ColumnData::Json(vec![]),
                DataType::FloatVector => return Err(SchemaError::MissingField(field.name.clone())),
                _ => ColumnData::Int(vec![]),
            };
            Column {
                data: empty,
                valid: Some(vec![false; rows]),
            }
        }
        None => return Err(SchemaError::MissingField(field.name.clone())),
    };
    let default = field.default_value.as_ref().map(|d| d.to_value());
    let mismatch = || {
        bad(
            field,
            format!(
                "the data does not match the field type {:?}",
                field.data_type
            ),
        )
    };
    let array: ArrayRef = match (field.data_type, column.data) {
        (DataType::Bool, ColumnData::Bool(v)) => {
            let d = match default {
                Some(Value::Bool(b)) => Some(b),
                _ => None,
            };
            Arc::new(BooleanArray::from(fill_default(
                field,
                expand(field, v, &column.valid, rows)?,
                d,
            )))
        }
        (dt, ColumnData::Int(v)) if dt.is_integer() => {
            let d = match default {
                Some(Value::Int(i)) => Some(i),
                _ => None,
            };
            let v = fill_default(field, expand(field, v, &column.valid, rows)?, d);
            match dt {
                DataType::Int8 => Arc::new(Int8Array::from(ints::<i8>(
                    field,
                    v,
                    i8::MIN as i64,
                    i8::MAX as i64,
                )?)),
                DataType::Int16 => Arc::new(Int16Array::from(ints::<i16>(
                    field,
                    v,
                    i16::MIN as i64,
                    i16::MAX as i64,
                )?)),
                DataType::Int32 => Arc::new(Int32Array::from(ints::<i32>(
                    field,
                    v,
                    i32::MIN as i64,
                    i32::MAX as i64,
                )?)),
                _ => Arc::new(Int64Array::from(v)),
            }
        }
        (dt @ (DataType::Float | DataType::Double), ColumnData::Float(v)) => {
            let d = default.and_then(|d| d.as_f64());
            let v = fill_default(field, expand(field, v, &column.valid, rows)?, d);
            if v.iter().flatten().any(|x| !x.is_finite()) {
                return Err(bad(field, "NaN and infinite values are not allowed"));
            }
            if dt == DataType::Float {
                Arc::new(Float32Array::from(
                    v.into_iter()
                        .map(|x| x.map(|x| x as f32))
                        .collect::<Vec<_>>(),
                ))
            } else {
                Arc::new(Float64Array::from(v))
            }
        }
        (DataType::VarChar, ColumnData::Str(v)) => {
            let d = match default {
                Some(Value::Str(s)) => Some(s),
                _ => None,
            };
            let v = fill_default(field, expand(field, v, &column.valid, rows)?, d);
            let max = field.max_length();
            if let Some(s) = v.iter().flatten().find(|s| s.len() > max) {
                return Err(SchemaError::VarCharTooLong {
                    field: field.name.clone(),
                    len: s.len(),
                    max,
                });
            }
            Arc::new(StringArray::from(v))
        }
        (DataType::Json, ColumnData::Json(v)) => {
            let v = expand(field, v, &column.valid, rows)?;
            let mut out = Vec::with_capacity(rows);
            for raw in v {
                match raw {
                    None => out.push(None),
                    Some(raw) => {
                        if raw.len() > MAX_JSON_BYTES {
                            return Err(bad(
                                field,
                                format!(
                                    "the length ({}) of json field ({}) exceeds max length ({MAX_JSON_BYTES})",
                                    raw.len(),
                                    field.name
                                ),
                            ));
                        }
                        let parsed: serde_json::Value = serde_json::from_slice(&raw)
                            .map_err(|e| bad(field, format!("invalid JSON: {e}")))?;
                        if field.is_dynamic && !parsed.is_object() {
                            return Err(bad(field, "dynamic field data must be a JSON object"));
                        }
                        out.push(Some(
                            String::from_utf8(raw).map_err(|_| bad(field, "JSON must be UTF-8"))?,
                        ));
                    }
                }
            }
            Arc::new(StringArray::from(out))
        }
        (DataType::FloatVector, ColumnData::FloatVector { dim, data }) => {
            let want = field.dim();
            if dim != want {
                return Err(SchemaError::DimMismatch {
                    field: field.name.clone(),
                    got: dim,
                    want,
                });
            }
            if dim.checked_mul(rows) != Some(data.len()) {
                return Err(bad(
                    field,
                    format!(
                        "it has {} vectors where {rows} were expected",
                        data.len() / dim.max(1)
                    ),
                ));
            }
            if data.iter().any(|x| !x.is_finite()) {
                return Err(bad(
                    field,
                    "vectors must not contain NaN or infinite values",
                ));
            }
            let item = Arc::new(ArrowField::new("item", ArrowType::Float32, false));
            Arc::new(FixedSizeListArray::new(
                item,
                dim as i32,
                Arc::new(Float32Array::from(data)),
                None,
            ))
        }
        _ => return Err(mismatch()),
    };
    Ok(array)
}

/// Builds a batch of `rows` rows (without the offset column) from client columns keyed by
/// field name. The dynamic field is keyed by [`crate::META_FIELD`]; when dynamic fields are
/// enabled and it is absent, every row gets `{}`.
pub fn build_batch(
    schema: &CollectionSchema,
    mut columns: HashMap<String, Column>,
    rows: usize,
) -> Result<RecordBatch, SchemaError> {
    let mut arrays = Vec::with_capacity(schema.fields.len());
    for field in &schema.fields {
        let mut column = columns.remove(&field.name);
        if field.is_dynamic && column.is_none() {
            column = Some(Column {
                data: ColumnData::Json(vec![b"{}".to_vec(); rows]),
                valid: None,
            });
        }
        arrays.push(build_array(field, column, rows)?);
    }
    if let Some(extra) = columns.keys().next() {
        return Err(SchemaError::Invalid(format!(
            "field {extra:?} does not exist in collection {}",
            schema.name
        )));
    }
    RecordBatch::try_new(schema.arrow_schema(false), arrays)
        .map_err(|e| SchemaError::Invalid(e.to_string()))
}

/// Appends the system offset column (every row of one log record shares the record's offset).
pub fn with_offset(schema: &CollectionSchema, batch: &RecordBatch, offset: u64) -> RecordBatch {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt64Array::from(vec![offset; batch.num_rows()])));
    RecordBatch::try_new(schema.arrow_schema(true), columns).expect("batch matches its schema")
}

/// Typed read access to one column, resolved once per batch.
pub enum ColumnReader<'a> {
    Bool(&'a BooleanArray),
    Int8(&'a PrimitiveArray<Int8Type>),
    Int16(&'a PrimitiveArray<Int16Type>),
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Float(&'a PrimitiveArray<Float32Type>),
    Double(&'a PrimitiveArray<Float64Type>),
    Str(&'a StringArray),
    Json(&'a StringArray),
    Vector {
        dim: usize,
        values: &'a [f32],
        list: &'a FixedSizeListArray,
    },
}

impl<'a> ColumnReader<'a> {
    pub fn new(array: &'a ArrayRef, data_type: DataType) -> Self {
        match data_type {
            DataType::Bool => ColumnReader::Bool(array.as_boolean()),
            DataType::Int8 => ColumnReader::Int8(array.as_primitive()),
            DataType::Int16 => ColumnReader::Int16(array.as_primitive()),
            DataType::Int32 => ColumnReader::Int32(array.as_primitive()),
            DataType::Int64 => ColumnReader::Int64(array.as_primitive()),
            DataType::Float => ColumnReader::Float(array.as_primitive()),
            DataType::Double => ColumnReader::Double(array.as_primitive()),
            DataType::VarChar => ColumnReader::Str(array.as_string()),
            DataType::Json => ColumnReader::Json(array.as_string()),
            DataType::FloatVector => {
                let list = array.as_fixed_size_list();
                let values = list.values().as_primitive::<Float32Type>().values();
                let dim = list.value_length() as usize;
                let start = list.offset() * dim;
                ColumnReader::Vector {
                    dim,
                    values: &values[start..start + list.len() * dim],
                    list,
                }
            }
        }
    }

    pub fn get(&self, row: usize) -> Value {
        macro_rules! prim {
            ($a:expr, $conv:expr) => {
                if $a.is_null(row) {
                    Value::Null
                } else {
                    $conv($a.value(row))
                }
            };
        }
        match self {
            ColumnReader::Bool(a) => prim!(a, Value::Bool),
            ColumnReader::Int8(a) => prim!(a, |v| Value::Int(v as i64)),
            ColumnReader::Int16(a) => prim!(a, |v| Value::Int(v as i64)),
            ColumnReader::Int32(a) => prim!(a, |v| Value::Int(v as i64)),
            ColumnReader::Int64(a) => prim!(a, Value::Int),
            ColumnReader::Float(a) => prim!(a, |v| Value::Float(v as f64)),
            ColumnReader::Double(a) => prim!(a, Value::Float),
            ColumnReader::Str(a) => prim!(a, |v: &str| Value::Str(v.to_string())),
            ColumnReader::Json(a) => prim!(a, |v: &str| Value::Json(
                serde_json::from_str(v).unwrap_or(serde_json::Value::Null)
            )),
            ColumnReader::Vector { .. } => Value::Vector(self.vector(row).to_vec()),
        }
    }

    /// The vector of a row (vector columns only).
    pub fn vector(&self, row: usize) -> &'a [f32] {
        match self {
            ColumnReader::Vector { dim, values, .. } => &values[row * dim..(row + 1) * dim],
            _ => &[],
        }
    }

    /// Raw JSON text of a row (JSON columns only).
    pub fn json_text(&self, row: usize) -> Option<&'a str> {
        match self {
            ColumnReader::Json(a) if !a.is_null(row) => Some(a.value(row)),
            _ => None,
        }
    }
}

/// The offsets of a batch that carries the system offset column (its last column).
pub fn offsets(batch: &RecordBatch) -> &[u64] {
    batch
        .column(batch.num_columns() - 1)
        .as_primitive::<UInt64Type>()
        .values()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldSchema;

    fn field(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
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
            name: "c".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![
                field("id", DataType::Int64, &[]),
                field("age", DataType::Int8, &[]),
                field("title", DataType::VarChar, &[("max_length", "4")]),
                field("v", DataType::FloatVector, &[("dim", "2")]),
            ],
            enable_dynamic_field: true,
            properties: vec![],
        }
        .prepare_new()
        .unwrap()
    }

    fn cols(
        ids: Vec<i64>,
        ages: Vec<i64>,
        titles: Vec<&str>,
        v: Vec<f32>,
    ) -> HashMap<String, Column> {
        let c = |data| Column { data, valid: None };
        HashMap::from([
            ("id".to_string(), c(ColumnData::Int(ids))),
            ("age".to_string(), c(ColumnData::Int(ages))),
            (
                "title".to_string(),
                c(ColumnData::Str(
                    titles.into_iter().map(String::from).collect(),
                )),
            ),
            (
                "v".to_string(),
                c(ColumnData::FloatVector { dim: 2, data: v }),
            ),
        ])
    }

    #[test]
    fn builds_and_reads_back() {
        let s = schema();
        let b = build_batch(
            &s,
            cols(
                vec![1, 2],
                vec![3, -4],
                vec!["ab", ""],
                vec![1., 2., 3., 4.],
            ),
            2,
        )
        .unwrap();
        assert_eq!(b.num_columns(), 5, "four fields and $meta");
        assert_eq!(
            ColumnReader::new(b.column(1), DataType::Int8).get(1),
            Value::Int(-4)
        );
        assert_eq!(
            ColumnReader::new(b.column(3), DataType::FloatVector).vector(1),
            &[3., 4.]
        );
        assert_eq!(
            ColumnReader::new(b.column(4), DataType::Json).get(0),
            Value::Json(serde_json::json!({}))
        );
        let b = with_offset(&s, &b, 42);
        assert_eq!(offsets(&b), &[42, 42]);
    }

    #[test]
    fn rejects_bad_data() {
        let s = schema();
        let e = build_batch(&s, cols(vec![1], vec![300], vec!["a"], vec![1., 2.]), 1).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let e =
            build_batch(&s, cols(vec![1], vec![1], vec!["abcde"], vec![1., 2.]), 1).unwrap_err();
        assert!(
            matches!(e, SchemaError::VarCharTooLong { len: 5, max: 4, .. }),
            "{e}"
        );
        let mut c = cols(vec![1], vec![1], vec!["a"], vec![1., 2., 3.]);
        c.get_mut("v").unwrap().data = ColumnData::FloatVector {
            dim: 3,
            data: vec![1., 2., 3.],
        };
        assert!(matches!(
            build_batch(&s, c, 1).unwrap_err(),
            SchemaError::DimMismatch {
                got: 3,
                want: 2,
                ..
            }
        ));
        let mut c = cols(vec![1], vec![1], vec!["a"], vec![1., 2.]);
        c.remove("age");
        assert_eq!(
            build_batch(&s, c, 1).unwrap_err(),
            SchemaError::MissingField("age".into())
        );
        let mut c = cols(vec![1], vec![1], vec!["a"], vec![1., 2.]);
        c.insert(
            "nope".into(),
            Column {
                data: ColumnData::Int(vec![1]),
                valid: None,
            },
        );
        assert!(build_batch(&s, c, 1)
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn nullable_compact_values_are_expanded() {
        let mut f = field("n", DataType::Int32, &[]);
        f.nullable = true;
        let a = build_array(
            &f,
            Some(Column {
                data: ColumnData::Int(vec![7]),
                valid: Some(vec![false, true, false]),
            }),
            3,
        )
        .unwrap();
        let r = ColumnReader::new(&a, DataType::Int32);
        assert_eq!(
            (r.get(0), r.get(1), r.get(2)),
            (Value::Null, Value::Int(7), Value::Null)
        );
    }
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    #[test]
    fn claimed_rows_are_checked_against_every_column() {
        let ints = |n: usize| Column {
            data: ColumnData::Int(vec![0; n]),
            valid: None,
        };
        let vectors = |values: usize| Column {
            data: ColumnData::FloatVector {
                dim: 2,
                data: vec![0.; values],
            },
            valid: None,
        };
        let cols = HashMap::from([("a".to_string(), ints(2)), ("v".to_string(), vectors(4))]);
        check_rows(&cols, 2).unwrap();
        let e = check_rows(&cols, u32::MAX as usize)
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds the maximum of 1048576"), "{e}");
        let e = check_rows(&cols, 3).unwrap_err().to_string();
        assert!(e.contains("is not equal to passed num_rows (3)"), "{e}");
        let odd = HashMap::from([("v".to_string(), vectors(3))]);
        assert!(check_rows(&odd, 1)
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        let none: HashMap<String, Column> = HashMap::new();
        assert!(check_rows(&none, 5).is_err());
    }

    #[test]
    fn json_values_are_bounded() {
        let f = FieldSchema::new("j", DataType::Json);
        let big = format!("{{\"k\": \"{}\"}}", "x".repeat(MAX_JSON_BYTES));
        let e = build_array(
            &f,
            Some(Column {
                data: ColumnData::Json(vec![big.into_bytes()]),
                valid: None,
            }),
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("exceeds max length (65536)"), "{e}");
    }
}
