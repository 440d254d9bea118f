//! The field types of a collection schema, with their Milvus wire numbers and names.

use serde::{Deserialize, Serialize};

use crate::SchemaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    VarChar,
    /// an array of one scalar element type ([`crate::FieldSchema::element_type`])
    Array,
    Json,
    FloatVector,
    BinaryVector,
    Float16Vector,
    BFloat16Vector,
    /// 8-bit signed integers, one byte per dimension (Milvus 2.6)
    Int8Vector,
    /// Sparse rows: sorted (u32 index, f32 value) pairs in their byte form ([`crate::sparse`]).
    SparseFloatVector,
}

impl DataType {
    /// The Milvus wire number of this type.
    pub fn code(self) -> i32 {
        match self {
            DataType::Bool => 1,
            DataType::Int8 => 2,
            DataType::Int16 => 3,
            DataType::Int32 => 4,
            DataType::Int64 => 5,
            DataType::Float => 10,
            DataType::Double => 11,
            DataType::VarChar => 21,
            DataType::Array => 22,
            DataType::Json => 23,
            DataType::FloatVector => 101,
            DataType::BinaryVector => 100,
            DataType::Float16Vector => 102,
            DataType::BFloat16Vector => 103,
            DataType::SparseFloatVector => 104,
            DataType::Int8Vector => 105,
        }
    }

    pub fn from_code(code: i32) -> Result<Self, SchemaError> {
        Ok(match code {
            1 => DataType::Bool,
            2 => DataType::Int8,
            3 => DataType::Int16,
            4 => DataType::Int32,
            5 => DataType::Int64,
            10 => DataType::Float,
            11 => DataType::Double,
            21 => DataType::VarChar,
            22 => DataType::Array,
            23 => DataType::Json,
            101 => DataType::FloatVector,
            100 => DataType::BinaryVector,
            102 => DataType::Float16Vector,
            103 => DataType::BFloat16Vector,
            104 => DataType::SparseFloatVector,
            105 => DataType::Int8Vector,
            other => return Err(SchemaError::UnsupportedType(type_name(other).to_string())),
        })
    }

    pub fn is_vector(self) -> bool {
        matches!(
            self,
            DataType::FloatVector
                | DataType::BinaryVector
                | DataType::Float16Vector
                | DataType::BFloat16Vector
                | DataType::Int8Vector
                | DataType::SparseFloatVector
        )
    }

    /// Whether fields of this type have a `dim` (every vector type but SparseFloatVector).
    pub fn has_dim(self) -> bool {
        self.is_vector() && self != DataType::SparseFloatVector
    }

    /// Whether this is a vector type of floating-point values (searched with L2, IP, COSINE).
    pub fn is_float_vector(self) -> bool {
        self.is_vector() && !matches!(self, DataType::BinaryVector | DataType::SparseFloatVector)
    }

    /// The Milvus name of this type.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "Bool",
            DataType::Int8 => "Int8",
            DataType::Int16 => "Int16",
            DataType::Int32 => "Int32",
            DataType::Int64 => "Int64",
            DataType::Float => "Float",
            DataType::Double => "Double",
            DataType::VarChar => "VarChar",
            DataType::Array => "Array",
            DataType::Json => "JSON",
            DataType::FloatVector => "FloatVector",
            DataType::BinaryVector => "BinaryVector",
            DataType::Float16Vector => "Float16Vector",
            DataType::BFloat16Vector => "BFloat16Vector",
            DataType::SparseFloatVector => "SparseFloatVector",
            DataType::Int8Vector => "Int8Vector",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        )
    }

    pub fn is_numeric(self) -> bool {
        self.is_integer() || matches!(self, DataType::Float | DataType::Double)
    }

    /// Whether this type can be the element type of an Array field (Milvus's rule).
    pub fn is_array_element(self) -> bool {
        self.is_numeric() || matches!(self, DataType::Bool | DataType::VarChar)
    }

    /// The name Milvus gives the type in its protocol enum (`Int64`, `VarChar`, `JSON`, ...);
    /// for codes Quarry does not serve, their Milvus name.
    pub fn code_name(code: i32) -> &'static str {
        match DataType::from_code(code) {
            Ok(t) => t.name(),
            Err(_) => type_name(code),
        }
    }
}

fn type_name(code: i32) -> &'static str {
    match code {
        0 => "None",
        20 => "String",
        24 => "Geometry",
        25 => "Text",
        _ => "unknown",
    }
}
