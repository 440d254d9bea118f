//! Collection schemas as Quarry stores them: a faithful echo of what the user created plus
//! server-assigned field ids (from 100, as in Milvus) and the hidden dynamic field `$meta`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType as ArrowType, Field as ArrowField, Schema as ArrowSchema};
use serde::{Deserialize, Serialize};

pub use crate::function::{FunctionKind, FunctionSchema};
use crate::{SchemaError, Value};

/// Name of the hidden JSON field holding dynamic (schema-less) keys.
pub const META_FIELD: &str = "$meta";
/// Name of the system column holding each row's log offset (its version within the shard).
pub const OFFSET_FIELD: &str = "$offset";
/// Name of the system column holding each row's write time (ms since the Unix epoch, the time
/// its log record was made), which a collection's `collection.ttl.seconds` counts from. It
/// comes just before `$offset`, which stays the last column.
pub const WRITTEN_FIELD: &str = "$written_ms";
/// The collection property giving rows a time to live, in seconds (0: rows never expire).
pub const TTL_PROPERTY: &str = "collection.ttl.seconds";
pub const FIRST_FIELD_ID: i64 = 100;
use crate::limits::{
    MAX_DESCRIPTION_BYTES, MAX_FIELDS, MAX_NAME_BYTES, MAX_PROPERTIES, MAX_PROPERTY_BYTES,
};
pub use crate::limits::{MAX_DIM, MAX_VARCHAR};

pub use crate::data_type::DataType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ConsistencyLevel {
    Strong,
    Session,
    #[default]
    Bounded,
    Eventually,
    Customized,
}

impl ConsistencyLevel {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Self {
        match code {
            0 => ConsistencyLevel::Strong,
            1 => ConsistencyLevel::Session,
            3 => ConsistencyLevel::Eventually,
            4 => ConsistencyLevel::Customized,
            _ => ConsistencyLevel::Bounded,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub data_type: DataType,
    pub is_primary_key: bool,
    pub auto_id: bool,
    pub is_partition_key: bool,
    pub is_clustering_key: bool,
    pub nullable: bool,
    pub is_dynamic: bool,
    pub type_params: Vec<(String, String)>,
    pub index_params: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<DefaultValue>,
    /// the element type of an Array field (`None` for every other type)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_type: Option<DataType>,
}

/// A field's default value, kept in its wire form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DefaultValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl DefaultValue {
    pub fn to_value(&self) -> Value {
        match self {
            DefaultValue::Bool(b) => Value::Bool(*b),
            DefaultValue::Int(i) => Value::Int(*i),
            DefaultValue::Float(f) => Value::Float(*f),
            DefaultValue::Str(s) => Value::Str(s.clone()),
        }
    }
}

impl FieldSchema {
    /// A plain field of `data_type`; its id is assigned when the schema is prepared.
    pub fn new(name: &str, data_type: DataType) -> Self {
        Self {
            id: 0,
            name: name.to_string(),
            description: String::new(),
            data_type,
            is_primary_key: false,
            auto_id: false,
            is_partition_key: false,
            is_clustering_key: false,
            nullable: false,
            is_dynamic: false,
            type_params: vec![],
            index_params: vec![],
            default_value: None,
            element_type: None,
        }
    }

    /// An Array field of `element` values, at most `max_capacity` of them per row.
    pub fn array(name: &str, element: DataType, max_capacity: usize) -> Self {
        Self {
            element_type: Some(element),
            ..Self::new(name, DataType::Array)
        }
        .with_param("max_capacity", &max_capacity.to_string())
    }

    pub fn with_param(mut self, key: &str, value: &str) -> Self {
        self.type_params.push((key.to_string(), value.to_string()));
        self
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.type_params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Vector dimension (vector fields only; bits for BinaryVector).
    pub fn dim(&self) -> usize {
        self.param("dim")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Maximum length in bytes (VarChar only).
    pub fn max_length(&self) -> usize {
        self.param("max_length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Maximum number of elements per row (Array only).
    pub fn max_capacity(&self) -> usize {
        self.param("max_capacity")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The schema of one element of an Array field: the element type with the field's name
    /// and type params (`max_length` for VarChar elements).
    pub fn element_field(&self) -> FieldSchema {
        FieldSchema {
            type_params: self.type_params.clone(),
            ..FieldSchema::new(&self.name, self.element_type.unwrap_or(DataType::Int64))
        }
    }

    pub fn arrow_type(&self) -> ArrowType {
        match self.data_type {
            DataType::Array => ArrowType::List(Arc::new(ArrowField::new_list_field(
                self.element_field().arrow_type(),
                true,
            ))),
            DataType::Bool => ArrowType::Boolean,
            DataType::Int8 => ArrowType::Int8,
            DataType::Int16 => ArrowType::Int16,
            DataType::Int32 => ArrowType::Int32,
            DataType::Int64 => ArrowType::Int64,
            DataType::Float => ArrowType::Float32,
            DataType::Double => ArrowType::Float64,
            DataType::VarChar | DataType::Json => ArrowType::Utf8,
            DataType::FloatVector => ArrowType::FixedSizeList(
                Arc::new(ArrowField::new("item", ArrowType::Float32, false)),
                self.dim() as i32,
            ),
            DataType::BinaryVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::Int8Vector => ArrowType::FixedSizeBinary(
                crate::vector::row_bytes(self.data_type, self.dim()).unwrap_or(0) as i32,
            ),
            DataType::SparseFloatVector => ArrowType::Binary,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSchema {
    pub name: String,
    pub description: String,
    pub auto_id: bool,
    /// user fields in creation order, then `$meta` when dynamic fields are enabled
    pub fields: Vec<FieldSchema>,
    pub enable_dynamic_field: bool,
    pub properties: Vec<(String, String)>,
    /// functions deriving fields from others (BM25), in creation order
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<FunctionSchema>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_NAME_BYTES
}

/// Checks a collection, field, index or alias name the way Milvus does (the length first, so
/// that an oversized name is never echoed back).
pub fn check_name(kind: &str, name: &str) -> Result<(), SchemaError> {
    if name.is_empty() {
        return Err(SchemaError::Invalid(format!(
            "{kind} name should not be empty"
        )));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(SchemaError::Invalid(format!(
            "the length of a {kind} name must be less than {MAX_NAME_BYTES} characters, \
             but got {} bytes",
            name.len()
        )));
    }
    if !valid_name(name) {
        return Err(SchemaError::Invalid(format!(
            "invalid {kind} name {name:?}: the first character must be a letter or an underscore, \
             the rest letters, digits or underscores, at most {MAX_NAME_BYTES} characters"
        )));
    }
    Ok(())
}

/// Checks the size of a description ([`MAX_DESCRIPTION_BYTES`]).
pub fn check_description(kind: &str, description: &str) -> Result<(), SchemaError> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(SchemaError::Invalid(format!(
            "the description of {kind} is {} bytes, exceeding the maximum of \
             {MAX_DESCRIPTION_BYTES}",
            description.len()
        )));
    }
    Ok(())
}

/// Checks a list of key-value pairs (collection properties, type and index parameters): at
/// most [`MAX_PROPERTIES`] pairs, each key and value at most [`MAX_PROPERTY_BYTES`].
/// Collection properties Milvus gives a meaning that Quarry does not serve yet. They are
/// refused rather than stored and ignored (a collection with `collection.autocompaction.enabled`
/// would otherwise compact all the same); docs/compatibility.md lists them. Other keys (a
/// client's own annotations, `mmap.enabled`, whose meaning the same page documents) are stored.
pub const UNSERVED_COLLECTION_PROPERTIES: [(&str, &str); 6] = [
    (
        "partitionkey.isolation",
        "partition-key isolation (one index per key value) is not served",
    ),
    (
        "collection.autocompaction.enabled",
        "compaction cannot be switched off",
    ),
    (
        "collection.replica.number",
        "use load_collection(replica_number=...)",
    ),
    (
        "collection.resource_groups",
        "resource groups are not served",
    ),
    ("lazyload.enabled", "loading is never lazy"),
    (
        "dynamicfield.enabled",
        "the dynamic field cannot change after creation",
    ),
];

/// Prefixes of Milvus's per-collection rate limits (`collection.insertRate.max.mb`, ...).
const RATE_LIMIT_PREFIXES: [&str; 5] = [
    "collection.insertRate.",
    "collection.upsertRate.",
    "collection.deleteRate.",
    "collection.queryRate.",
    "collection.searchRate.",
];

/// The rows' time to live of a collection with these properties, in seconds: `None` when
/// rows never expire (no `collection.ttl.seconds`, or 0). A value that is not a whole number
/// of seconds is an error (properties are checked when set, so stored ones parse).
pub fn ttl_seconds(pairs: &[(String, String)]) -> Result<Option<u64>, SchemaError> {
    let Some((_, v)) = pairs.iter().rev().find(|(k, _)| k == TTL_PROPERTY) else {
        return Ok(None);
    };
    match v.trim().parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if n > 0 => Ok(Some(n as u64)),
        _ => Err(SchemaError::Invalid(format!(
            "collection TTL {v} is not a valid positive integer: {TTL_PROPERTY} takes a whole \
             number of seconds (0: rows never expire)"
        ))),
    }
}

/// [`check_properties`] for collection properties, refusing those Quarry does not serve.
pub fn check_collection_properties(pairs: &[(String, String)]) -> Result<(), SchemaError> {
    check_properties("collection properties", pairs)?;
    ttl_seconds(pairs)?;
    for (key, _) in pairs {
        let why = UNSERVED_COLLECTION_PROPERTIES
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, why)| *why)
            .or_else(|| {
                RATE_LIMIT_PREFIXES
                    .iter()
                    .any(|p| key.starts_with(p))
                    .then_some("per-collection rate limits are not served")
            });
        if let Some(why) = why {
            return Err(SchemaError::Invalid(format!(
                "collection property {key} is not supported by Quarry yet ({why}); \
                 see docs/compatibility.md"
            )));
        }
    }
    Ok(())
}

pub fn check_properties(kind: &str, pairs: &[(String, String)]) -> Result<(), SchemaError> {
    if pairs.len() > MAX_PROPERTIES {
        return Err(SchemaError::Invalid(format!(
            "too many {kind}: {} given, at most {MAX_PROPERTIES} are allowed",
            pairs.len()
        )));
    }
    for (k, v) in pairs {
        if k.len() > MAX_PROPERTY_BYTES || v.len() > MAX_PROPERTY_BYTES {
            return Err(SchemaError::Invalid(format!(
                "a key or value of the {kind} exceeds {MAX_PROPERTY_BYTES} bytes (key {} bytes, \
                 value {} bytes)",
                k.len(),
                v.len()
            )));
        }
    }
    Ok(())
}

/// Milvus' partition key rules: at most one, not the primary key, not nullable, Int64 or
/// VarChar.
fn check_partition_key(fields: &[FieldSchema]) -> Result<(), SchemaError> {
    let mut keys = fields.iter().filter(|f| f.is_partition_key);
    let Some(key) = keys.next() else {
        return Ok(());
    };
    if let Some(other) = keys.next() {
        return Err(SchemaError::Invalid(format!(
            "there are more than one partition key, field name = {}, {}",
            key.name, other.name
        )));
    }
    if key.is_primary_key {
        return Err(SchemaError::Invalid(
            "the partition key field must not be primary field".into(),
        ));
    }
    if key.nullable {
        return Err(SchemaError::Invalid(
            "partition key field not support nullable".into(),
        ));
    }
    if !matches!(key.data_type, DataType::Int64 | DataType::VarChar) {
        return Err(SchemaError::Invalid(
            "the data type of partition key should be Int64 or VarChar".into(),
        ));
    }
    Ok(())
}

impl CollectionSchema {
    /// Validates a schema received from a client and assigns field ids, adding `$meta` when
    /// dynamic fields are enabled. Field ids the client sent are ignored, as in Milvus.
    pub fn prepare_new(mut self) -> Result<Self, SchemaError> {
        check_name("collection", &self.name)?;
        check_description("the collection", &self.description)?;
        check_collection_properties(&self.properties)?;
        if self.fields.is_empty() {
            return Err(SchemaError::Invalid("schema has no fields".into()));
        }
        // as in Milvus, the dynamic field is not counted
        if self.fields.len() > MAX_FIELDS {
            return Err(SchemaError::Invalid(format!(
                "maximum field's number should be limited to {MAX_FIELDS}, but got {}",
                self.fields.len()
            )));
        }
        let mut names = HashMap::new();
        let mut pk_count = 0;
        for (i, f) in self.fields.iter_mut().enumerate() {
            check_name("field", &f.name)?;
            check_description(&format!("field {:?}", f.name), &f.description)?;
            check_properties(
                &format!("type params of field {:?}", f.name),
                &f.type_params,
            )?;
            check_properties(
                &format!("index params of field {:?}", f.name),
                &f.index_params,
            )?;
            if names.insert(f.name.clone(), i).is_some() {
                return Err(SchemaError::Invalid(format!(
                    "duplicated field name {:?}",
                    f.name
                )));
            }
            f.id = FIRST_FIELD_ID + i as i64;
            f.is_dynamic = false;
            if f.is_primary_key {
                pk_count += 1;
                if !matches!(f.data_type, DataType::Int64 | DataType::VarChar) {
                    return Err(SchemaError::Invalid(format!(
                        "primary key field {:?} must be Int64 or VarChar",
                        f.name
                    )));
                }
                if f.nullable {
                    return Err(SchemaError::Invalid(format!(
                        "primary key field {:?} cannot be nullable",
                        f.name
                    )));
                }
                if self.auto_id {
                    f.auto_id = true;
                }
            } else if f.auto_id {
                return Err(SchemaError::Invalid(format!(
                    "auto_id can only be set on the primary key, not on {:?}",
                    f.name
                )));
            }
            match f.data_type {
                DataType::BinaryVector => {
                    let dim = f.dim();
                    if dim % 8 != 0 {
                        return Err(SchemaError::Invalid(format!(
                            "invalid dimension: {dim} of field {}. binary vector dimension should be multiple of 8.",
                            f.name
                        )));
                    }
                    if dim == 0 || dim > MAX_DIM * 8 {
                        return Err(SchemaError::Invalid(format!(
                            "invalid dim of vector field {:?}: must be between 8 and {} (a multiple of 8)",
                            f.name,
                            MAX_DIM * 8
                        )));
                    }
                    if f.nullable {
                        return Err(SchemaError::Invalid(format!(
                            "vector field {:?} cannot be nullable",
                            f.name
                        )));
                    }
                }
                DataType::FloatVector
                | DataType::Float16Vector
                | DataType::BFloat16Vector
                | DataType::Int8Vector => {
                    let dim = f.dim();
                    if dim == 0 || dim > MAX_DIM {
                        return Err(SchemaError::Invalid(format!(
                            "invalid dim of vector field {:?}: must be between 1 and {MAX_DIM}",
                            f.name
                        )));
                    }
                    if f.nullable {
                        return Err(SchemaError::Invalid(format!(
                            "vector field {:?} cannot be nullable",
                            f.name
                        )));
                    }
                }
                DataType::SparseFloatVector => {
                    // as in Milvus: a sparse field has no dimension
                    if f.param("dim").is_some() {
                        return Err(SchemaError::Invalid(format!(
                            "dim should not be specified for sparse vector field {}({})",
                            f.name, f.id
                        )));
                    }
                    if f.nullable {
                        return Err(SchemaError::Invalid(format!(
                            "vector field {:?} cannot be nullable",
                            f.name
                        )));
                    }
                }
                DataType::VarChar => {
                    let max = f.max_length();
                    if max == 0 || max > MAX_VARCHAR {
                        return Err(SchemaError::Invalid(format!(
                            "type param max_length of varchar field {:?} must be between 1 and {MAX_VARCHAR}",
                            f.name
                        )));
                    }
                }
                DataType::Array => crate::array::check_array_field(&self.name, f)?,
                _ => {}
            }
            if f.data_type != DataType::Array {
                f.element_type = None;
            }
        }
        check_partition_key(&self.fields)?;
        if pk_count != 1 {
            return Err(SchemaError::Invalid(if pk_count == 0 {
                "schema does not contain a primary key field".into()
            } else {
                "there can be only one primary key field".into()
            }));
        }
        if !self.fields.iter().any(|f| f.data_type.is_vector()) {
            return Err(SchemaError::Invalid(
                "schema does not contain a vector field".into(),
            ));
        }
        crate::function::check_functions(&self)?;
        self.auto_id = self.primary().auto_id;
        if self.enable_dynamic_field {
            let id = FIRST_FIELD_ID + self.fields.len() as i64;
            self.fields.push(FieldSchema {
                id,
                description: "dynamic field".into(),
                is_dynamic: true,
                ..FieldSchema::new(META_FIELD, DataType::Json)
            });
        }
        Ok(self)
    }

    /// The partition key field, if the collection has one.
    pub fn partition_key(&self) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.is_partition_key)
    }

    pub fn primary(&self) -> &FieldSchema {
        self.fields
            .iter()
            .find(|f| f.is_primary_key)
            .expect("validated schema has a primary key")
    }

    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_by_id(&self, id: i64) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The function whose output `field` is, if any.
    pub fn function_of_output(&self, field: &str) -> Option<&FunctionSchema> {
        self.functions
            .iter()
            .find(|f| f.output_fields.iter().any(|o| o == field))
    }

    /// Fields the user declared (without `$meta`).
    pub fn user_fields(&self) -> impl Iterator<Item = &FieldSchema> {
        self.fields.iter().filter(|f| !f.is_dynamic)
    }

    pub fn dynamic_field(&self) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.is_dynamic)
    }

    pub fn vector_fields(&self) -> impl Iterator<Item = &FieldSchema> {
        self.fields.iter().filter(|f| f.data_type.is_vector())
    }

    /// Arrow schema of the rows written to the log and to segment files:
    /// every field in order, then the system offset column.
    pub fn arrow_schema(&self, with_offset: bool) -> Arc<ArrowSchema> {
        let mut fields: Vec<ArrowField> = self
            .fields
            .iter()
            .map(|f| {
                let nullable = f.nullable || f.default_value.is_some();
                ArrowField::new(&f.name, f.arrow_type(), nullable)
                    .with_metadata([("quarry:field_id".to_string(), f.id.to_string())].into())
            })
            .collect();
        if with_offset {
            fields.push(ArrowField::new(WRITTEN_FIELD, ArrowType::UInt64, false));
            fields.push(ArrowField::new(OFFSET_FIELD, ArrowType::UInt64, false));
        }
        Arc::new(ArrowSchema::new(fields))
    }
}
