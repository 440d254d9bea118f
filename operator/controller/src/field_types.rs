//! Field types between the `Collection` resource and the catalog schema.

use quarry_crd::{FieldSpec, FieldType};
use quarry_types::{DataType, FieldSchema};

pub(crate) fn data_type(t: FieldType) -> DataType {
    match t {
        FieldType::Bool => DataType::Bool,
        FieldType::Int8 => DataType::Int8,
        FieldType::Int16 => DataType::Int16,
        FieldType::Int32 => DataType::Int32,
        FieldType::Int64 => DataType::Int64,
        FieldType::Float => DataType::Float,
        FieldType::Double => DataType::Double,
        FieldType::VarChar => DataType::VarChar,
        FieldType::Json => DataType::Json,
        FieldType::Array => DataType::Array,
        FieldType::FloatVector => DataType::FloatVector,
        FieldType::BinaryVector => DataType::BinaryVector,
        FieldType::Float16Vector => DataType::Float16Vector,
        FieldType::BFloat16Vector => DataType::BFloat16Vector,
        FieldType::Int8Vector => DataType::Int8Vector,
        FieldType::SparseFloatVector => DataType::SparseFloatVector,
    }
}

pub(crate) fn field_type(t: DataType) -> FieldType {
    match t {
        DataType::Bool => FieldType::Bool,
        DataType::Int8 => FieldType::Int8,
        DataType::Int16 => FieldType::Int16,
        DataType::Int32 => FieldType::Int32,
        DataType::Int64 => FieldType::Int64,
        DataType::Float => FieldType::Float,
        DataType::Double => FieldType::Double,
        DataType::VarChar => FieldType::VarChar,
        DataType::Json => FieldType::Json,
        DataType::Array => FieldType::Array,
        DataType::FloatVector => FieldType::FloatVector,
        DataType::BinaryVector => FieldType::BinaryVector,
        DataType::Float16Vector => FieldType::Float16Vector,
        DataType::BFloat16Vector => FieldType::BFloat16Vector,
        DataType::Int8Vector => FieldType::Int8Vector,
        DataType::SparseFloatVector => FieldType::SparseFloatVector,
    }
}

/// The element type and capacity of an Array field spec (the schema's own checks refuse an
/// Array without them, or with an element type that is not a scalar).
pub(crate) fn array_from_spec(f: &FieldSpec, out: &mut FieldSchema) {
    out.element_type = f.element_type.map(data_type);
    if let Some(cap) = f.max_capacity {
        out.type_params
            .push(("max_capacity".into(), cap.to_string()));
    }
}

/// A field of an existing collection as a resource describes it.
pub(crate) fn spec_of_field(f: &FieldSchema) -> FieldSpec {
    let array = f.data_type == DataType::Array;
    let varchar =
        f.data_type == DataType::VarChar || (array && f.element_type == Some(DataType::VarChar));
    FieldSpec {
        name: f.name.clone(),
        data_type: field_type(f.data_type),
        primary_key: f.is_primary_key,
        auto_id: f.auto_id,
        nullable: f.nullable,
        partition_key: f.is_partition_key,
        dim: f.data_type.has_dim().then(|| f.dim() as i32),
        max_length: varchar.then(|| f.max_length() as i32),
        element_type: f.element_type.filter(|_| array).map(field_type),
        max_capacity: array.then(|| f.max_capacity() as i32),
        description: (!f.description.is_empty()).then(|| f.description.clone()),
    }
}

#[cfg(test)]
mod tests {
    use quarry_crd::SchemaSpec;

    use super::*;
    use crate::catalog_plan::schema_of;

    fn spec(name: &str, t: FieldType) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            data_type: t,
            primary_key: name == "id",
            auto_id: false,
            nullable: false,
            partition_key: false,
            dim: (t == FieldType::FloatVector).then_some(4),
            max_length: None,
            element_type: None,
            max_capacity: None,
            description: None,
        }
    }

    #[test]
    fn array_fields_convert_both_ways() {
        let tags = FieldSpec {
            element_type: Some(FieldType::VarChar),
            max_capacity: Some(16),
            max_length: Some(32),
            ..spec("tags", FieldType::Array)
        };
        let nums = FieldSpec {
            element_type: Some(FieldType::Int16),
            max_capacity: Some(4),
            nullable: true,
            ..spec("nums", FieldType::Array)
        };
        let fields = vec![
            spec("id", FieldType::Int64),
            spec("v", FieldType::FloatVector),
            tags.clone(),
            nums.clone(),
        ];
        let schema_spec = SchemaSpec {
            fields,
            enable_dynamic_field: false,
            description: None,
        };
        let schema = schema_of("c", &schema_spec).unwrap();
        assert_eq!(schema.fields[2].element_type, Some(DataType::VarChar));
        assert_eq!(schema.fields[2].max_capacity(), 16);
        assert_eq!(spec_of_field(&schema.fields[2]), tags);
        assert_eq!(spec_of_field(&schema.fields[3]), nums);

        let mut bad = schema_spec.clone();
        bad.fields[3].max_capacity = None;
        let e = schema_of("c", &bad).unwrap_err();
        assert!(e.contains("max_capacity"), "{e}");
    }
}
