//! The Milvus boolean expression language used by search filters, queries and deletes.
//!
//! `parse` turns text into an [`Ast`]; `compile` resolves names against a collection schema
//! (bare names that are not fields become keys of the dynamic field `$meta`), substitutes
//! `{name}` template values and checks types; [`Expr::matches`] evaluates a compiled
//! expression on one row.
//!
//! No input makes these functions panic or recurse without bound: the text's length, its
//! nesting depth, the predicates joined by `and`/`or` and the elements of a list are bounded
//! by `quarry_types::limits` (`MAX_EXPR_*`), and a request over a bound gets an
//! [`ExprError`] that names it.

/// `?` without the `Try` machinery. In a debug build every `?` puts several temporaries of
/// the `Result` type in the stack frame; the parser and the compiler recurse once per nesting
/// level and use this instead, so the deepest expression allowed fits a 2 MiB stack.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}

mod ast;
mod columnar;
mod compile;
mod error;
mod eval;
mod lexer;
mod parser;
mod resolve;
#[cfg(test)]
mod tests;
pub mod text;
mod tree;

pub use ast::{ArithOp, Ast, CmpOp};
pub use columnar::{FieldIndexes, Leaf};
pub use compile::{compile, ContainsMode, Expr, FieldRef};
pub use error::ExprError;
pub use eval::RowAccess;
pub use parser::parse;

/// Parses and compiles in one step.
pub fn prepare(
    text: &str,
    schema: &quarry_types::CollectionSchema,
    templates: &std::collections::HashMap<String, quarry_types::Value>,
) -> Result<Option<Expr>, ExprError> {
    parser::check_len(text)?;
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
