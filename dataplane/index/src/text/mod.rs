//! Full-text search: BM25 ([`bm25`]) over the tokens of the analyzers of `quarry-expr`
//! (re-exported here as [`Analyzer`]).

pub mod bm25;

pub use quarry_expr::text::Analyzer;

#[cfg(test)]
mod tests;
