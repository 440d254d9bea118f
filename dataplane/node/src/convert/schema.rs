//! Collection schemas: the client's `CollectionSchema` message in, the schema as clients see
//! it out.

use prost::Message;
use quarry_proto::schema::{self as ps, value_field};
use quarry_types::function::MAX_FUNCTIONS;
use quarry_types::schema::{DefaultValue, FunctionKind, FunctionSchema};
use quarry_types::{CollectionSchema, DataType, FieldSchema};

use super::{kv, to_kv, ConvResult};

pub fn schema_from_bytes(bytes: &[u8]) -> ConvResult<CollectionSchema> {
    let s = ps::CollectionSchema::decode(bytes)
        .map_err(|e| format!("the schema is not a valid CollectionSchema message: {e}"))?;
    if !s.struct_array_fields.is_empty() {
        return Err(
            "struct array fields (arrays of structs) are not supported by quarry yet".into(),
        );
    }
    if s.functions.len() > MAX_FUNCTIONS {
        return Err(format!(
            "a collection takes at most {MAX_FUNCTIONS} functions, got {}",
            s.functions.len()
        ));
    }
    let functions = s
        .functions
        .iter()
        .map(function_from_proto)
        .collect::<ConvResult<Vec<_>>>()?;
    let fields = s
        .fields
        .iter()
        .map(field_from_proto)
        .collect::<ConvResult<Vec<_>>>()?;
    Ok(CollectionSchema {
        functions,
        name: s.name,
        description: s.description,
        auto_id: s.auto_id,
        fields,
        enable_dynamic_field: s.enable_dynamic_field,
        properties: kv(&s.properties),
    })
}

fn function_from_proto(f: &ps::FunctionSchema) -> ConvResult<FunctionSchema> {
    Ok(FunctionSchema {
        name: f.name.clone(),
        description: f.description.clone(),
        kind: FunctionKind::from_code(f.r#type).map_err(|e| format!("function {}: {e}", f.name))?,
        input_fields: f.input_field_names.clone(),
        output_fields: f.output_field_names.clone(),
        params: kv(&f.params),
    })
}

fn function_to_proto(s: &CollectionSchema, f: &FunctionSchema) -> ps::FunctionSchema {
    let ids = |names: &[String]| {
        names
            .iter()
            .filter_map(|n| s.field(n).map(|f| f.id))
            .collect()
    };
    ps::FunctionSchema {
        name: f.name.clone(),
        id: 0,
        description: f.description.clone(),
        r#type: f.kind.code(),
        input_field_names: f.input_fields.clone(),
        input_field_ids: ids(&f.input_fields),
        output_field_names: f.output_fields.clone(),
        output_field_ids: ids(&f.output_fields),
        params: to_kv(&f.params),
    }
}

fn field_from_proto(f: &ps::FieldSchema) -> ConvResult<FieldSchema> {
    let data_type =
        DataType::from_code(f.data_type).map_err(|e| format!("field {}: {e}", f.name))?;
    let element_type = match (data_type, f.element_type) {
        (DataType::Array, 0) => {
            return Err(format!(
                "field {}: element data type None is not valid",
                f.name
            ))
        }
        (DataType::Array, code) => Some(DataType::from_code(code).map_err(|_| {
            format!(
                "field {}: element type {} is not supported",
                f.name,
                DataType::code_name(code)
            )
        })?),
        _ => None,
    };
    let default_value = f
        .default_value
        .as_ref()
        .and_then(|d| d.data.as_ref())
        .map(|d| match d {
            value_field::Data::BoolData(b) => DefaultValue::Bool(*b),
            value_field::Data::IntData(i) => DefaultValue::Int(*i as i64),
            value_field::Data::LongData(i) => DefaultValue::Int(*i),
            value_field::Data::FloatData(x) => DefaultValue::Float(*x as f64),
            value_field::Data::DoubleData(x) => DefaultValue::Float(*x),
            value_field::Data::StringData(s) => DefaultValue::Str(s.clone()),
            value_field::Data::BytesData(b) => {
                DefaultValue::Str(String::from_utf8_lossy(b).into_owned())
            }
        });
    Ok(FieldSchema {
        id: f.field_id,
        name: f.name.clone(),
        description: f.description.clone(),
        data_type,
        is_primary_key: f.is_primary_key,
        auto_id: f.auto_id,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        is_dynamic: f.is_dynamic,
        type_params: kv(&f.type_params),
        index_params: kv(&f.index_params),
        default_value,
        element_type,
    })
}

/// The schema as clients see it: `$meta` hidden, everything else echoed.
pub fn schema_to_proto(s: &CollectionSchema, db: &str) -> ps::CollectionSchema {
    ps::CollectionSchema {
        name: s.name.clone(),
        description: s.description.clone(),
        auto_id: s.auto_id,
        fields: s
            .user_fields()
            .map(|f| ps::FieldSchema {
                is_function_output: s.function_of_output(&f.name).is_some(),
                ..field_to_proto(f)
            })
            .collect(),
        enable_dynamic_field: s.enable_dynamic_field,
        properties: to_kv(&s.properties),
        functions: s
            .functions
            .iter()
            .map(|f| function_to_proto(s, f))
            .collect(),
        db_name: db.to_string(),
        struct_array_fields: vec![],
    }
}

fn field_to_proto(f: &FieldSchema) -> ps::FieldSchema {
    let default_value = f.default_value.as_ref().map(|d| ps::ValueField {
        data: Some(match (d, f.data_type) {
            (DefaultValue::Bool(b), _) => value_field::Data::BoolData(*b),
            (DefaultValue::Int(i), DataType::Int64) => value_field::Data::LongData(*i),
            (DefaultValue::Int(i), _) => value_field::Data::IntData(*i as i32),
            (DefaultValue::Float(x), DataType::Float) => value_field::Data::FloatData(*x as f32),
            (DefaultValue::Float(x), _) => value_field::Data::DoubleData(*x),
            (DefaultValue::Str(s), _) => value_field::Data::StringData(s.clone()),
        }),
    });
    ps::FieldSchema {
        field_id: f.id,
        name: f.name.clone(),
        is_primary_key: f.is_primary_key,
        description: f.description.clone(),
        data_type: f.data_type.code(),
        type_params: to_kv(&f.type_params),
        index_params: to_kv(&f.index_params),
        auto_id: f.auto_id,
        element_type: f.element_type.map_or(0, |t| t.code()),
        default_value,
        is_dynamic: false,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use quarry_proto::schema as ps;

    use super::schema_from_bytes;

    #[test]
    fn arrays_of_structs_are_refused_not_dropped() {
        let s = ps::CollectionSchema {
            name: "c".into(),
            struct_array_fields: vec![ps::StructArrayFieldSchema {}],
            ..Default::default()
        };
        let e = schema_from_bytes(&s.encode_to_vec()).unwrap_err();
        assert!(e.contains("struct array fields"), "{e}");
    }

    #[test]
    fn functions_of_unserved_types_are_refused_by_name() {
        let s = ps::CollectionSchema {
            name: "c".into(),
            functions: vec![ps::FunctionSchema {
                name: "embed".into(),
                r#type: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = schema_from_bytes(&s.encode_to_vec()).unwrap_err();
        assert!(e.contains("TextEmbedding"), "{e}");
    }
}
