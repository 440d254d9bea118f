use thiserror::Error;

/// Schema and data validation errors. Every message names what is wrong in the user's terms.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SchemaError {
    #[error("{0}")]
    Invalid(String),
    #[error("data type {0} is not supported by quarry yet")]
    UnsupportedType(String),
    #[error("the length ({len}) of varchar field {field} exceeds max length ({max})")]
    VarCharTooLong {
        field: String,
        len: usize,
        max: usize,
    },
    #[error(
        "the dim ({got}) of field data does not match the schema dim ({want}) of field {field}"
    )]
    DimMismatch {
        field: String,
        got: usize,
        want: usize,
    },
    #[error("field {0} is missing from the inserted data")]
    MissingField(String),
    #[error("the value of field {field} is invalid: {reason}")]
    BadValue { field: String, reason: String },
    #[error("record decoding failed: {0}")]
    Decode(String),
}
