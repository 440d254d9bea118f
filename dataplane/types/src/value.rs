use std::fmt;

use serde::{Deserialize, Serialize};

/// One scalar value as the expression evaluator and result builders see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Json(serde_json::Value),
    Vector(Vec<f32>),
    /// the elements of an Array field's row
    Array(Vec<Value>),
    /// A SparseFloatVector row in its byte form ([`crate::sparse`]).
    Sparse(Vec<u8>),
}

impl Value {
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            other => Value::Json(other.clone()),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// A primary key: Int64 or VarChar. Ordered ints before strings (a collection has only one kind).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pk {
    Int(i64),
    Str(String),
}

impl Pk {
    pub fn to_value(&self) -> Value {
        match self {
            Pk::Int(i) => Value::Int(*i),
            Pk::Str(s) => Value::Str(s.clone()),
        }
    }
}

impl fmt::Display for Pk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pk::Int(i) => write!(f, "{i}"),
            Pk::Str(s) => write!(f, "{s:?}"),
        }
    }
}
