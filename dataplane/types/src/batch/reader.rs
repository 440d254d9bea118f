//! Typed read access to the columns of a stored batch.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeListArray, ListArray, PrimitiveArray,
    RecordBatch, StringArray,
};

use crate::schema::DataType;
use crate::Value;

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
    /// Array rows and their element type
    Array(&'a ListArray, DataType),
    Vector {
        dim: usize,
        values: &'a [f32],
        list: &'a FixedSizeListArray,
    },
    /// BinaryVector, Float16Vector or BFloat16Vector rows in their byte form.
    Packed {
        data_type: DataType,
        dim: usize,
        width: usize,
        values: &'a [u8],
    },
    /// SparseFloatVector rows in their byte form.
    Sparse(&'a BinaryArray),
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
            DataType::Array => {
                ColumnReader::Array(array.as_list(), crate::array::element_type_of(array))
            }
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
            DataType::SparseFloatVector => ColumnReader::Sparse(array.as_binary::<i32>()),
            DataType::BinaryVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::Int8Vector => {
                let a = array.as_fixed_size_binary();
                let width = a.value_length().max(0) as usize;
                let start = a.offset() * width;
                let dim = match data_type {
                    DataType::BinaryVector => width * 8,
                    DataType::Int8Vector => width,
                    _ => width / 2,
                };
                ColumnReader::Packed {
                    data_type,
                    dim,
                    width,
                    values: &a.value_data()[start..start + a.len() * width],
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
            ColumnReader::Array(a, t) => crate::array::list_value(a, *t, row),
            ColumnReader::Vector { .. } => Value::Vector(self.vector(row).to_vec()),
            ColumnReader::Packed { data_type, .. } => {
                Value::Vector(crate::vector::decode(*data_type, self.packed(row)))
            }
            ColumnReader::Sparse(a) => prim!(a, |v: &[u8]| Value::Sparse(v.to_vec())),
        }
    }

    /// The vector of a row (vector columns only).
    pub fn vector(&self, row: usize) -> &'a [f32] {
        match self {
            ColumnReader::Vector { dim, values, .. } => &values[row * dim..(row + 1) * dim],
            _ => &[],
        }
    }

    /// The bytes of a row (packed vector columns only).
    pub fn packed(&self, row: usize) -> &'a [u8] {
        match self {
            ColumnReader::Packed { width, values, .. } => &values[row * width..(row + 1) * width],
            _ => &[],
        }
    }

    /// The byte form of a row (sparse vector columns only).
    pub fn sparse(&self, row: usize) -> &'a [u8] {
        match self {
            ColumnReader::Sparse(a) if !a.is_null(row) => a.value(row),
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

/// The write times (ms since the Unix epoch) of a batch with system columns: the column just
/// before `$offset`.
pub fn written(batch: &RecordBatch) -> &[u64] {
    batch
        .column(batch.num_columns() - 2)
        .as_primitive::<UInt64Type>()
        .values()
}
