//! Output fields: which columns a search or query returns, following Milvus rules: `*` is every
//! field (vectors included) plus the dynamic field; unknown names are dynamic keys served from
//! `$meta`; `count(*)` is handled by the query path.

use quarry_types::{CollectionSchema, FieldSchema, Value, META_FIELD};

use crate::error::invalid;
use crate::Result;

/// Returned columns, row-aligned with the hits or rows of the answer.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub columns: Vec<OutputColumn>,
    /// the names to report as `output_fields` (dynamic keys listed by name)
    pub names: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct OutputColumn {
    pub field: FieldSchema,
    pub values: Vec<Value>,
}

/// Resolves requested names to schema field positions plus reported names.
pub(crate) fn resolve(
    schema: &CollectionSchema,
    requested: &[String],
    include_pk: bool,
) -> Result<(Vec<usize>, Vec<String>)> {
    let mut fields: Vec<usize> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let pos = |name: &str| schema.fields.iter().position(|f| f.name == name);
    let add = |i: usize, fields: &mut Vec<usize>| {
        if !fields.contains(&i) {
            fields.push(i);
        }
    };
    for raw in requested {
        let name = raw.trim();
        if name.is_empty() {
            continue;
        }
        if name == "*" {
            for (i, f) in schema.fields.iter().enumerate() {
                // function outputs are not returned (as Milvus)
                if schema.function_of_output(&f.name).is_some() {
                    continue;
                }
                add(i, &mut fields);
                if !names.contains(&f.name) {
                    names.push(f.name.clone());
                }
            }
            continue;
        }
        if schema.function_of_output(name).is_some() {
            return Err(invalid(format!(
                "not allowed to retrieve raw data of field {name}: it is the output of a \
                 function"
            )));
        }
        match pos(name) {
            Some(i) => {
                add(i, &mut fields);
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
            None => match schema.fields.iter().position(|f| f.is_dynamic) {
                Some(i) => {
                    add(i, &mut fields);
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_string());
                    }
                }
                None => return Err(invalid(format!("field {name} not exist"))),
            },
        }
    }
    if include_pk {
        let pk = schema
            .fields
            .iter()
            .position(|f| f.is_primary_key)
            .expect("pk");
        if !fields.contains(&pk) {
            fields.insert(0, pk);
            names.insert(0, schema.fields[pk].name.clone());
        }
    }
    // when all dynamic keys are returned the client expects "$meta" listed
    if names.iter().any(|n| n == META_FIELD) {
        names.retain(|n| n == META_FIELD || pos(n).is_some());
    }
    Ok((fields, names))
}

pub(crate) fn empty_columns(schema: &CollectionSchema, fields: &[usize]) -> Vec<OutputColumn> {
    fields
        .iter()
        .map(|&i| OutputColumn {
            field: schema.fields[i].clone(),
            values: Vec::new(),
        })
        .collect()
}
