//! Collection functions (Milvus 2.5): fields whose values the server derives from other fields
//! on every insert and upsert. Quarry serves BM25, from a VarChar field with
//! `enable_analyzer` to a SparseFloatVector field of token counts (full-text search); the
//! other function types are refused by name.

use serde::{Deserialize, Serialize};

use crate::schema::{check_name, CollectionSchema, DataType, FieldSchema};
use crate::SchemaError;

/// The most functions one collection takes.
pub const MAX_FUNCTIONS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionKind {
    Bm25,
}

impl FunctionKind {
    /// The Milvus `FunctionType` number.
    pub fn code(self) -> i32 {
        match self {
            FunctionKind::Bm25 => 1,
        }
    }

    /// The kind of a Milvus `FunctionType` number; the error names the type refused.
    pub fn from_code(code: i32) -> Result<Self, String> {
        match code {
            1 => Ok(FunctionKind::Bm25),
            2 => Err(
                "function type TextEmbedding is not supported by quarry (it calls a model \
                      service)"
                    .into(),
            ),
            3 => Err("function type Rerank is not supported in a collection schema".into()),
            4 => Err("function type MinHash is not supported by quarry yet".into()),
            other => Err(format!("unknown function type {other}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSchema {
    pub name: String,
    pub description: String,
    pub kind: FunctionKind,
    pub input_fields: Vec<String>,
    pub output_fields: Vec<String>,
    pub params: Vec<(String, String)>,
}

/// Whether a type parameter holds a true flag (`true`, `True`: pymilvus 2.4 and 2.5+ spell
/// booleans differently).
pub fn flag(field: &FieldSchema, key: &str) -> bool {
    field
        .param(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether a VarChar field is analyzed (`enable_analyzer` or `enable_match`).
pub fn analyzed(field: &FieldSchema) -> bool {
    field.data_type == DataType::VarChar
        && (flag(field, "enable_analyzer") || flag(field, "enable_match"))
}

fn invalid(msg: String) -> SchemaError {
    SchemaError::Invalid(msg)
}

/// Milvus's rules for the functions of a new schema: unique names, known fields, a BM25
/// function from one analyzed VarChar field to one SparseFloatVector field that no other
/// function writes and that is not the primary or partition key.
pub fn check_functions(schema: &CollectionSchema) -> Result<(), SchemaError> {
    if schema.functions.len() > MAX_FUNCTIONS {
        return Err(invalid(format!(
            "a collection takes at most {MAX_FUNCTIONS} functions, got {}",
            schema.functions.len()
        )));
    }
    let mut outputs: Vec<&str> = Vec::new();
    for (i, f) in schema.functions.iter().enumerate() {
        check_name("function", &f.name)?;
        if schema.functions[..i].iter().any(|g| g.name == f.name) {
            return Err(invalid(format!("duplicate function name: {}", f.name)));
        }
        let field = |name: &str| {
            schema.field(name).ok_or_else(|| {
                invalid(format!(
                    "function {}: field {name} not found in the schema",
                    f.name
                ))
            })
        };
        match f.kind {
            FunctionKind::Bm25 => {
                if f.input_fields.len() != 1 || f.output_fields.len() != 1 {
                    return Err(invalid(format!(
                        "BM25 function {} takes exactly one input and one output field, got \
                         {} and {}",
                        f.name,
                        f.input_fields.len(),
                        f.output_fields.len()
                    )));
                }
                let input = field(&f.input_fields[0])?;
                let output = field(&f.output_fields[0])?;
                if input.data_type != DataType::VarChar {
                    return Err(invalid(format!(
                        "BM25 function input field must be a VARCHAR field, got {} {}",
                        input.name,
                        input.data_type.name()
                    )));
                }
                if !flag(input, "enable_analyzer") {
                    return Err(invalid(format!(
                        "BM25 function input field must set enable_analyzer to true: {}",
                        input.name
                    )));
                }
                if output.data_type != DataType::SparseFloatVector {
                    return Err(invalid(format!(
                        "BM25 function output field must be a SparseFloatVector field, got {} {}",
                        output.name,
                        output.data_type.name()
                    )));
                }
                if output.is_primary_key || output.is_partition_key || output.nullable {
                    return Err(invalid(format!(
                        "function output field {} cannot be a primary key, a partition key or \
                         nullable",
                        output.name
                    )));
                }
                if let Some((k, _)) = f.params.first() {
                    return Err(invalid(format!(
                        "BM25 function {} takes no parameter {k:?}",
                        f.name
                    )));
                }
            }
        }
        for o in &f.output_fields {
            if outputs.contains(&o.as_str()) || f.input_fields.contains(o) {
                return Err(invalid(format!(
                    "field {o} is the output of more than one function, or of a function that \
                     reads it"
                )));
            }
            outputs.push(o);
        }
    }
    Ok(())
}
