//! Collection functions on the write path: the output column of each BM25 function computed
//! from its input column (token counts of the analyzed text, a null text an empty row) before
//! the batch is built. A client never sends an output column (Milvus refuses it too). CPU
//! work: called off the async runtime, with the batch's encoding.

use std::collections::HashMap;

use quarry_index::text::bm25::counts_row;
use quarry_index::text::Analyzer;
use quarry_types::batch::{Column, ColumnData};
use quarry_types::schema::FunctionKind;
use quarry_types::{CollectionSchema, SchemaError};

/// Adds the output columns of the schema's functions to `columns` (client columns of `rows`
/// rows, counts already checked).
pub(crate) fn apply(
    schema: &CollectionSchema,
    columns: &mut HashMap<String, Column>,
    rows: usize,
) -> Result<(), SchemaError> {
    for f in &schema.functions {
        match f.kind {
            FunctionKind::Bm25 => {
                let (input, output) = (&f.input_fields[0], &f.output_fields[0]);
                if columns.contains_key(output) {
                    return Err(SchemaError::Invalid(format!(
                        "attempt to insert function output field {output}: it is computed by \
                         function {} from field {input}",
                        f.name
                    )));
                }
                let field = schema.field(input).ok_or_else(|| {
                    SchemaError::Invalid(format!("function {} reads a missing field", f.name))
                })?;
                let analyzer = Analyzer::from_params(field.param("analyzer_params"))
                    .map_err(SchemaError::Invalid)?;
                let texts = texts(columns.get(input), rows, field.default_value.as_ref());
                let data = texts
                    .iter()
                    .map(|t| t.map_or_else(Vec::new, |t| counts_row(&analyzer, t)))
                    .collect();
                columns.insert(
                    output.clone(),
                    Column {
                        data: ColumnData::Sparse(data),
                        valid: None,
                    },
                );
            }
        }
    }
    Ok(())
}

/// Per row its text: `None` for a null (or a column that is not VarChar, refused when the
/// batch is built); an absent column is the default value in every row.
fn texts<'a>(
    column: Option<&'a Column>,
    rows: usize,
    default: Option<&'a quarry_types::schema::DefaultValue>,
) -> Vec<Option<&'a str>> {
    let fallback = match default {
        Some(quarry_types::schema::DefaultValue::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    let Some(Column {
        data: ColumnData::Str(values),
        valid,
    }) = column
    else {
        return vec![fallback; rows];
    };
    match valid.as_deref().filter(|v| !v.is_empty()) {
        None => values.iter().map(|s| Some(s.as_str())).collect(),
        // one value per row, or the non-null values only
        Some(valid) if values.len() == rows => valid
            .iter()
            .zip(values)
            .map(|(ok, s)| if *ok { Some(s.as_str()) } else { fallback })
            .collect(),
        Some(valid) => {
            let mut it = values.iter();
            valid
                .iter()
                .map(|ok| match ok {
                    true => it.next().map(String::as_str),
                    false => fallback,
                })
                .collect()
        }
    }
}
