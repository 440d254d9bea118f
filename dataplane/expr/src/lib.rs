//! The Milvus boolean expression language used by search filters, queries and deletes.
//!
//! `parse` turns text into an [`Ast`]; `compile` resolves names against a collection schema
//! (bare names that are not fields become keys of the dynamic field `$meta`), substitutes
//! `{name}` template values and checks types; [`Expr::matches`] evaluates a compiled
//! expression on one row.

mod ast;
mod compile;
mod error;
mod eval;
mod lexer;
mod parser;

pub use ast::{ArithOp, Ast, CmpOp};
pub use compile::{compile, Expr, FieldRef};
pub use error::ExprError;
pub use eval::RowAccess;
pub use parser::parse;

/// Parses and compiles in one step.
pub fn prepare(
    text: &str,
    schema: &quarry_types::CollectionSchema,
    templates: &std::collections::HashMap<String, quarry_types::Value>,
) -> Result<Option<Expr>, ExprError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let ast = parse(text)?;
    compile(&ast, schema, templates)
        .map(Some)
        .map_err(|e| match e {
            ExprError::UnknownField { field, .. } => ExprError::UnknownField {
                text: text.to_string(),
                field,
            },
            other => other,
        })
}
