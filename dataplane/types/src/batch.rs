//! Columnar row batches. Rows travel and rest as Arrow `RecordBatch`es whose columns follow
//! [`CollectionSchema::arrow_schema`]; this module builds them from validated client columns and
//! reads single values back out.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, RecordBatch, StringArray,
    UInt64Array,
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
    /// Array rows, each its elements (as the scalar kinds above)
    Array(Vec<ColumnData>),
    FloatVector {
        dim: usize,
        data: Vec<f32>,
    },
    /// BinaryVector, Float16Vector or BFloat16Vector rows in their byte form
    /// ([`crate::vector`]); `dim` counts dimensions (bits for binary vectors).
    Packed {
        data_type: DataType,
        dim: usize,
        data: Vec<u8>,
    },
    /// SparseFloatVector rows, one byte form ([`crate::sparse`]) per row.
    Sparse(Vec<Vec<u8>>),
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Bool(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Str(v) => v.len(),
            ColumnData::Json(v) => v.len(),
            ColumnData::Array(v) => v.len(),
            ColumnData::Sparse(v) => v.len(),
            ColumnData::FloatVector { dim, data } => {
                if *dim == 0 {
                    0
                } else {
                    data.len() / dim
                }
            }
            ColumnData::Packed {
                data_type,
                dim,
                data,
            } => match crate::vector::row_bytes(*data_type, *dim) {
                Some(w) if w > 0 => data.len() / w,
                _ => 0,
            },
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
            ColumnData::Packed {
                data_type,
                dim,
                data,
            } => match crate::vector::row_bytes(*data_type, *dim) {
                Some(w) if w > 0 && data.len() % w == 0 => Some(data.len() / w),
                _ => None,
            },
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
                DataType::Array => ColumnData::Array(vec![]),
                t if t.is_vector() => return Err(SchemaError::MissingField(field.name.clone())),
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
        (DataType::Array, ColumnData::Array(v)) => {
            crate::array::build_list(field, expand(field, v, &column.valid, rows)?)?
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
        (
            t,
            ColumnData::Packed {
                data_type,
                dim,
                data,
            },
        ) if t == data_type => packed_array(field, dim, data, rows)?,
        (DataType::SparseFloatVector, ColumnData::Sparse(v)) => {
            if v.len() != rows {
                return Err(bad(
                    field,
                    format!("it has {} rows where {rows} were expected", v.len()),
                ));
            }
            for row in &v {
                crate::sparse::check_row(row).map_err(|e| bad(field, e))?;
            }
            Arc::new(BinaryArray::from_iter_values(v.iter()))
        }
        _ => return Err(mismatch()),
    };
    Ok(array)
}

/// The fixed-size binary array of a packed vector column, checking its dimension, its byte
/// length and (for the 16-bit types) that every value is finite.
fn packed_array(
    field: &FieldSchema,
    dim: usize,
    data: Vec<u8>,
    rows: usize,
) -> Result<ArrayRef, SchemaError> {
    let want = field.dim();
    if dim != want {
        return Err(SchemaError::DimMismatch {
            field: field.name.clone(),
            got: dim,
            want,
        });
    }
    let width = crate::vector::row_bytes(field.data_type, dim).unwrap_or(0);
    if width == 0 || width.checked_mul(rows) != Some(data.len()) {
        return Err(bad(
            field,
            format!(
                "it has {} bytes of vector data where {rows} vectors of {width} bytes were expected",
                data.len()
            ),
        ));
    }
    let finite = match field.data_type {
        DataType::Float16Vector => data
            .chunks_exact(2)
            .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7c00 != 0x7c00),
        DataType::BFloat16Vector => data
            .chunks_exact(2)
            .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7f80 != 0x7f80),
        _ => true,
    };
    if !finite {
        return Err(bad(
            field,
            "vectors must not contain NaN or infinite values",
        ));
    }
    let array = FixedSizeBinaryArray::try_new(width as i32, data.into(), None)
        .map_err(|e| bad(field, e.to_string()))?;
    Ok(Arc::new(array))
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

/// Appends the system columns: the write time and the offset (every row of one log record
/// shares the record's write time and offset).
pub fn with_offset(
    schema: &CollectionSchema,
    batch: &RecordBatch,
    offset: u64,
    written_ms: u64,
) -> RecordBatch {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt64Array::from(vec![
        written_ms;
        batch.num_rows()
    ])));
    columns.push(Arc::new(UInt64Array::from(vec![offset; batch.num_rows()])));
    RecordBatch::try_new(schema.arrow_schema(true), columns).expect("batch matches its schema")
}

mod reader;
#[cfg(test)]
mod tests;

pub use reader::{offsets, written, ColumnReader};
