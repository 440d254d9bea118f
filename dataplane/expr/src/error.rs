use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExprError {
    #[error("cannot parse expression: {message} (at position {position} of {text:?})")]
    Syntax {
        text: String,
        position: usize,
        message: String,
    },
    #[error("cannot parse expression {text:?}: field {field} not exist")]
    UnknownField { text: String, field: String },
    #[error("invalid expression: {0}")]
    Invalid(String),
}
