//! Array fields: the schema rules for them and their Arrow form, a `List` of the element type
//! (one list per row, a null list for a null row).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, ListArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::Field as ArrowField;

use crate::batch::{build_array, Column, ColumnData};
use crate::limits::{MAX_ARRAY_CAPACITY, MAX_VARCHAR};
use crate::schema::{DataType, FieldSchema};
use crate::{SchemaError, Value};

fn invalid(msg: String) -> SchemaError {
    SchemaError::Invalid(msg)
}

/// Milvus's rules for an Array field of collection `collection`: a scalar element type, a
/// `max_capacity` in 1..=4096, a `max_length` for VarChar elements, no default value.
pub(crate) fn check_array_field(collection: &str, f: &FieldSchema) -> Result<(), SchemaError> {
    match f.element_type {
        None => return Err(invalid("element data type None is not valid".into())),
        Some(t) if !t.is_array_element() => {
            return Err(invalid(format!(
                "element type {} is not supported",
                t.name()
            )))
        }
        Some(_) => {}
    }
    match f.param("max_capacity") {
        None => {
            return Err(invalid(format!(
                "type param(max_capacity) should be specified for array field {} of collection \
                 {collection}",
                f.name
            )))
        }
        Some(v) => match v.trim().parse::<i64>() {
            Err(_) => {
                return Err(invalid(format!(
                    "the value for max_capacity of field {} must be an integer",
                    f.name
                )))
            }
            Ok(c) if c <= 0 || c > MAX_ARRAY_CAPACITY as i64 => {
                return Err(invalid(format!(
                    "the maximum capacity specified for a Array should be in \
                     (0, {MAX_ARRAY_CAPACITY}]"
                )))
            }
            Ok(_) => {}
        },
    }
    if f.element_type == Some(DataType::VarChar) {
        match f.param("max_length").map(|v| v.trim().parse::<i64>()) {
            None => {
                return Err(invalid(format!(
                    "type param(max_length) should be specified for the field({}) of \
                     collection {collection}",
                    f.name
                )))
            }
            Some(Err(_)) => {
                return Err(invalid(format!(
                    "the value for max_length of field {} must be an integer",
                    f.name
                )))
            }
            Some(Ok(n)) if n <= 0 || n > MAX_VARCHAR as i64 => {
                return Err(invalid(format!(
                    "the maximum length specified for the field({}) should be in \
                     (0, {MAX_VARCHAR}], but got {n} instead",
                    f.name
                )))
            }
            Some(Ok(_)) => {}
        }
    }
    if f.default_value.is_some() {
        return Err(invalid(format!(
            "type not support default_value, type:Array, name:{}",
            f.name
        )));
    }
    Ok(())
}

fn bad(field: &FieldSchema, reason: String) -> SchemaError {
    SchemaError::BadValue {
        field: field.name.clone(),
        reason,
    }
}

/// What a row of elements of `t` must arrive as, in Milvus's words.
fn wire_kind(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "int",
        DataType::Int64 => "int64",
        DataType::Float => "float",
        DataType::Double => "double",
        _ => "string",
    }
}

/// Whether a row's values are of the kind the element type takes (ints for any integer
/// type, as the scalar fields take them; floats for Float and Double).
fn kind_matches(t: DataType, data: &ColumnData) -> bool {
    match data {
        ColumnData::Bool(_) => t == DataType::Bool,
        ColumnData::Int(_) => t.is_integer(),
        ColumnData::Float(_) => matches!(t, DataType::Float | DataType::Double),
        ColumnData::Str(_) => t == DataType::VarChar,
        _ => false,
    }
}

fn kind_name(data: &ColumnData) -> &'static str {
    match data {
        ColumnData::Bool(_) => "bool",
        ColumnData::Int(_) => "int",
        ColumnData::Float(_) => "float",
        ColumnData::Str(_) => "string",
        ColumnData::Json(_) => "json",
        _ => "nested",
    }
}

/// The Arrow list array of an Array field: every row's elements checked against the element
/// type, the capacity and (VarChar) the maximum length, then all built as one element array.
/// `rows` has one entry per row; `None` is a null row. A row without values (an empty
/// message on the wire) is an empty array whatever its kind.
pub(crate) fn build_list(
    field: &FieldSchema,
    rows: Vec<Option<ColumnData>>,
) -> Result<ArrayRef, SchemaError> {
    let element_type = field.element_type.unwrap_or(DataType::Int64);
    let capacity = field.max_capacity();
    let element = field.element_field();
    let max_length = element.max_length();
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0i32);
    let mut nulls = Vec::with_capacity(rows.len());
    let mut values = empty(element_type);
    for (i, row) in rows.into_iter().enumerate() {
        let Some(data) = row else {
            nulls.push(false);
            offsets.push(*offsets.last().unwrap_or(&0));
            continue;
        };
        if !data.is_empty() && !kind_matches(element_type, &data) {
            return Err(bad(
                field,
                format!(
                    "insert data does not match: expected {} array, got {} array",
                    wire_kind(element_type),
                    kind_name(&data)
                ),
            ));
        }
        let n = data.len();
        if n > capacity {
            return Err(bad(
                field,
                format!("the length ({n}) of {i}th array exceeds max capacity ({capacity})"),
            ));
        }
        if let ColumnData::Str(items) = &data {
            if let Some((j, s)) = items.iter().enumerate().find(|(_, s)| s.len() > max_length) {
                return Err(bad(
                    field,
                    format!(
                        "length of Array array field \"{}\" exceeds max length, row number: \
                         {i}, array index: {j}, length: {}, max length: {max_length}",
                        field.name,
                        s.len()
                    ),
                ));
            }
        }
        let end = offsets.last().copied().unwrap_or(0) as usize + n;
        let end = i32::try_from(end)
            .map_err(|_| bad(field, "the request holds too many array elements".into()))?;
        offsets.push(end);
        nulls.push(true);
        append(&mut values, data);
    }
    let total = values.len();
    let values = build_array(
        &element,
        Some(Column {
            data: values,
            valid: None,
        }),
        total,
    )?;
    let item = Arc::new(ArrowField::new_list_field(values.data_type().clone(), true));
    let nulls = nulls.iter().any(|v| !v).then(|| NullBuffer::from(nulls));
    let list = ListArray::try_new(item, OffsetBuffer::new(offsets.into()), values, nulls)
        .map_err(|e| bad(field, e.to_string()))?;
    Ok(Arc::new(list))
}

fn empty(t: DataType) -> ColumnData {
    match t {
        DataType::Bool => ColumnData::Bool(vec![]),
        DataType::Float | DataType::Double => ColumnData::Float(vec![]),
        DataType::VarChar => ColumnData::Str(vec![]),
        _ => ColumnData::Int(vec![]),
    }
}

fn append(into: &mut ColumnData, from: ColumnData) {
    match (into, from) {
        (ColumnData::Bool(a), ColumnData::Bool(b)) => a.extend(b),
        (ColumnData::Int(a), ColumnData::Int(b)) => a.extend(b),
        (ColumnData::Float(a), ColumnData::Float(b)) => a.extend(b),
        (ColumnData::Str(a), ColumnData::Str(b)) => a.extend(b),
        // the element kinds were checked against the field's before
        _ => {}
    }
}

/// The elements of row `row` of a list column (`Null` for a null row).
pub(crate) fn list_value(list: &ListArray, element_type: DataType, row: usize) -> Value {
    if list.is_null(row) {
        return Value::Null;
    }
    let values = list.value(row);
    let reader = crate::batch::ColumnReader::new(&values, element_type);
    Value::Array((0..values.len()).map(|i| reader.get(i)).collect())
}

/// The element type of a stored list column, from its Arrow type.
pub(crate) fn element_type_of(array: &ArrayRef) -> DataType {
    use arrow_schema::DataType as A;
    match array.as_list::<i32>().value_type() {
        A::Boolean => DataType::Bool,
        A::Int8 => DataType::Int8,
        A::Int16 => DataType::Int16,
        A::Int32 => DataType::Int32,
        A::Float32 => DataType::Float,
        A::Float64 => DataType::Double,
        A::Utf8 => DataType::VarChar,
        _ => DataType::Int64,
    }
}

#[cfg(test)]
mod tests;
