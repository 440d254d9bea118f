//! Row data: client columns in (insert, upsert), output columns and primary keys out
//! (query and search results, mutation answers).

use std::collections::HashMap;

use quarry_engine::{OutputColumn, Outputs};
use quarry_proto::schema::{
    self as ps, field_data, scalar_field, vector_field, FieldData, ScalarField, VectorField,
};
use quarry_types::batch::{check_rows, Column, ColumnData};
use quarry_types::limits::{MAX_DIM, MAX_FIELDS, MAX_INSERT_ROWS};
use quarry_types::{sparse, vector, DataType, Pk, Value, META_FIELD};

use super::ConvResult;

/// Client columns keyed by field name (`$meta` for the dynamic column) and the row count.
pub fn columns_from_proto(
    fields: Vec<FieldData>,
    num_rows: u32,
) -> ConvResult<(HashMap<String, Column>, usize)> {
    // the claimed sizes first: nothing is converted or allocated for a request over a bound
    if num_rows as usize > MAX_INSERT_ROWS {
        return Err(format!(
            "the number of rows ({num_rows}) of one request exceeds the maximum of \
             {MAX_INSERT_ROWS}; split the data into smaller requests"
        ));
    }
    // the dynamic field comes on top of the schema's fields
    if fields.len() > MAX_FIELDS + 1 {
        return Err(format!(
            "the request carries {} fields, more than a collection can have ({MAX_FIELDS} and \
             the dynamic field)",
            fields.len()
        ));
    }
    let mut out = HashMap::new();
    let mut rows = num_rows as usize;
    for f in fields {
        let name = if f.is_dynamic {
            META_FIELD.to_string()
        } else {
            f.field_name.clone()
        };
        let data = match f.field {
            Some(field_data::Field::Scalars(ScalarField { data: Some(d) })) => {
                match scalar_column(d) {
                    Some(ColumnData::Array(rows)) => ColumnData::Array(
                        rows.into_iter()
                            .map(|row| match row {
                                ColumnData::Array(_) => {
                                    Err(format!("field {name}: nested arrays are not supported"))
                                }
                                row => Ok(row),
                            })
                            .collect::<ConvResult<_>>()?,
                    ),
                    Some(data) => data,
                    None => {
                        return Err(format!(
                            "the data type of field {name} is not supported by quarry yet"
                        ))
                    }
                }
            }
            // float32 values for a 16-bit float field (pymilvus 2.6 sends lists so): narrowed
            // to the field's type, rounding to nearest even
            Some(field_data::Field::Vectors(VectorField {
                dim,
                data: Some(vector_field::Data::FloatVector(a)),
            })) if matches!(
                DataType::from_code(f.r#type),
                Ok(DataType::Float16Vector | DataType::BFloat16Vector)
            ) =>
            {
                let data_type = DataType::from_code(f.r#type).unwrap_or(DataType::Float16Vector);
                ColumnData::Packed {
                    data_type,
                    dim: dim as usize,
                    data: vector::encode(data_type, &a.data),
                }
            }
            Some(field_data::Field::Vectors(VectorField {
                dim,
                data: Some(vector_field::Data::FloatVector(a)),
            })) => ColumnData::FloatVector {
                dim: dim as usize,
                data: a.data,
            },
            Some(field_data::Field::Vectors(VectorField {
                data: Some(vector_field::Data::SparseFloatVector(a)),
                ..
            })) => ColumnData::Sparse(a.contents),
            Some(field_data::Field::Vectors(VectorField {
                dim,
                data: Some(data),
            })) => {
                let (data_type, data) = match data {
                    vector_field::Data::BinaryVector(b) => (DataType::BinaryVector, b),
                    vector_field::Data::Float16Vector(b) => (DataType::Float16Vector, b),
                    vector_field::Data::Bfloat16Vector(b) => (DataType::BFloat16Vector, b),
                    vector_field::Data::Int8Vector(b) => (DataType::Int8Vector, b),
                    _ => {
                        return Err(format!(
                            "the vector type of field {name} is not supported by quarry yet \
                             (FloatVector, BinaryVector, Float16Vector, BFloat16Vector, \
                             Int8Vector, SparseFloatVector)"
                        ))
                    }
                };
                let dim = usize::try_from(dim)
                    .ok()
                    .filter(|d| *d > 0 && *d <= MAX_DIM * 8)
                    .ok_or_else(|| {
                        format!("invalid dim {dim} of the vector data of field {name}")
                    })?;
                ColumnData::Packed {
                    data_type,
                    dim,
                    data,
                }
            }
            _ => return Err(format!("field {name} carries no data")),
        };
        let valid = (!f.valid_data.is_empty()).then_some(f.valid_data);
        if rows == 0 {
            rows = valid.as_ref().map_or(data.len(), |v| v.len());
        }
        if out.insert(name.clone(), Column { data, valid }).is_some() {
            return Err(format!("field {name} appears twice in the inserted data"));
        }
    }
    check_rows(&out, rows).map_err(|e| e.to_string())?;
    Ok((out, rows))
}

/// The values of one scalar column; an Array column's rows each as a column of their own
/// (a row whose message carries no values is an empty row). `None`: a kind Quarry does not
/// take.
fn scalar_column(d: scalar_field::Data) -> Option<ColumnData> {
    Some(match d {
        scalar_field::Data::BoolData(a) => ColumnData::Bool(a.data),
        scalar_field::Data::IntData(a) => {
            ColumnData::Int(a.data.into_iter().map(i64::from).collect())
        }
        scalar_field::Data::LongData(a) => ColumnData::Int(a.data),
        scalar_field::Data::FloatData(a) => {
            ColumnData::Float(a.data.into_iter().map(f64::from).collect())
        }
        scalar_field::Data::DoubleData(a) => ColumnData::Float(a.data),
        scalar_field::Data::StringData(a) => ColumnData::Str(a.data),
        scalar_field::Data::JsonData(a) => ColumnData::Json(a.data),
        scalar_field::Data::ArrayData(a) => ColumnData::Array(
            a.data
                .into_iter()
                .map(|row| match row.data {
                    None => Some(ColumnData::Int(vec![])),
                    // one level only: a nested array row is refused by the caller
                    Some(scalar_field::Data::ArrayData(_)) => Some(ColumnData::Array(vec![])),
                    Some(d) => scalar_column(d),
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

pub fn ids_to_proto(ids: &[Pk], pk_type: DataType) -> ps::IDs {
    let id_field = if pk_type == DataType::VarChar {
        ps::i_ds::IdField::StrId(ps::StringArray {
            data: ids
                .iter()
                .map(|p| match p {
                    Pk::Str(s) => s.clone(),
                    Pk::Int(i) => i.to_string(),
                })
                .collect(),
        })
    } else {
        ps::i_ds::IdField::IntId(ps::LongArray {
            data: ids
                .iter()
                .map(|p| match p {
                    Pk::Int(i) => *i,
                    Pk::Str(_) => 0,
                })
                .collect(),
        })
    };
    ps::IDs {
        id_field: Some(id_field),
    }
}

fn json_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Json(j) => serde_json::to_vec(j).unwrap_or_default(),
        Value::Null => b"{}".to_vec(),
        Value::Str(s) => serde_json::to_vec(s).unwrap_or_default(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => f.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Vector(_) | Value::Array(_) | Value::Sparse(_) => b"null".to_vec(),
    }
}

/// The elements of one Array row as the wire's per-row `ScalarField` (a null row: empty).
fn array_row(element: DataType, v: &Value) -> ScalarField {
    let items: &[Value] = match v {
        Value::Array(items) => items,
        _ => &[],
    };
    let int = |v: &Value| if let Value::Int(i) = v { *i } else { 0 };
    let float = |v: &Value| if let Value::Float(x) = v { *x } else { 0.0 };
    let data = match element {
        DataType::Bool => scalar_field::Data::BoolData(ps::BoolArray {
            data: items
                .iter()
                .map(|v| matches!(v, Value::Bool(true)))
                .collect(),
        }),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            scalar_field::Data::IntData(ps::IntArray {
                data: items.iter().map(|v| int(v) as i32).collect(),
            })
        }
        DataType::Float => scalar_field::Data::FloatData(ps::FloatArray {
            data: items.iter().map(|v| float(v) as f32).collect(),
        }),
        DataType::Double => scalar_field::Data::DoubleData(ps::DoubleArray {
            data: items.iter().map(float).collect(),
        }),
        DataType::VarChar => scalar_field::Data::StringData(ps::StringArray {
            data: items
                .iter()
                .map(|v| match v {
                    Value::Str(s) => s.clone(),
                    _ => String::new(),
                })
                .collect(),
        }),
        _ => scalar_field::Data::LongData(ps::LongArray {
            data: items.iter().map(int).collect(),
        }),
    };
    ScalarField { data: Some(data) }
}

/// One output column as FieldData. Nulls become placeholders plus `valid_data`.
pub fn column_to_proto(col: &OutputColumn) -> FieldData {
    let f = &col.field;
    let vals = &col.values;
    let valid: Vec<bool> = if f.nullable {
        vals.iter().map(|v| !matches!(v, Value::Null)).collect()
    } else {
        vec![]
    };
    let int = |v: &Value| if let Value::Int(i) = v { *i } else { 0 };
    let float = |v: &Value| if let Value::Float(x) = v { *x } else { 0.0 };
    let scalars =
        |d: scalar_field::Data| Some(field_data::Field::Scalars(ScalarField { data: Some(d) }));
    let field = match f.data_type {
        DataType::Bool => scalars(scalar_field::Data::BoolData(ps::BoolArray {
            data: vals
                .iter()
                .map(|v| matches!(v, Value::Bool(true)))
                .collect(),
        })),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            scalars(scalar_field::Data::IntData(ps::IntArray {
                data: vals.iter().map(|v| int(v) as i32).collect(),
            }))
        }
        DataType::Int64 => scalars(scalar_field::Data::LongData(ps::LongArray {
            data: vals.iter().map(int).collect(),
        })),
        DataType::Float => scalars(scalar_field::Data::FloatData(ps::FloatArray {
            data: vals.iter().map(|v| float(v) as f32).collect(),
        })),
        DataType::Double => scalars(scalar_field::Data::DoubleData(ps::DoubleArray {
            data: vals.iter().map(float).collect(),
        })),
        DataType::VarChar => scalars(scalar_field::Data::StringData(ps::StringArray {
            data: vals
                .iter()
                .map(|v| {
                    if let Value::Str(s) = v {
                        s.clone()
                    } else {
                        String::new()
                    }
                })
                .collect(),
        })),
        DataType::Json => scalars(scalar_field::Data::JsonData(ps::JsonArray {
            data: vals.iter().map(json_bytes).collect(),
        })),
        DataType::Array => {
            let element = f.element_type.unwrap_or(DataType::Int64);
            scalars(scalar_field::Data::ArrayData(ps::ArrayArray {
                data: vals.iter().map(|v| array_row(element, v)).collect(),
                element_type: element.code(),
            }))
        }
        DataType::BinaryVector
        | DataType::Float16Vector
        | DataType::BFloat16Vector
        | DataType::Int8Vector => {
            let bytes: Vec<u8> = vals
                .iter()
                .flat_map(|v| match v {
                    Value::Vector(x) => vector::encode(f.data_type, x),
                    _ => vec![0; vector::row_bytes(f.data_type, f.dim()).unwrap_or(0)],
                })
                .collect();
            let data = match f.data_type {
                DataType::BinaryVector => vector_field::Data::BinaryVector(bytes),
                DataType::Float16Vector => vector_field::Data::Float16Vector(bytes),
                DataType::Int8Vector => vector_field::Data::Int8Vector(bytes),
                _ => vector_field::Data::Bfloat16Vector(bytes),
            };
            Some(field_data::Field::Vectors(VectorField {
                dim: f.dim() as i64,
                data: Some(data),
            }))
        }
        DataType::SparseFloatVector => {
            let contents: Vec<Vec<u8>> = vals
                .iter()
                .map(|v| match v {
                    Value::Sparse(b) => b.clone(),
                    _ => Vec::new(),
                })
                .collect();
            // as pymilvus computes it: the largest index plus one
            let dim = contents
                .iter()
                .map(|r| sparse::dim_of(r))
                .max()
                .unwrap_or(0);
            Some(field_data::Field::Vectors(VectorField {
                dim: dim as i64,
                data: Some(vector_field::Data::SparseFloatVector(
                    ps::SparseFloatArray {
                        contents,
                        dim: dim as i64,
                    },
                )),
            }))
        }
        DataType::FloatVector => Some(field_data::Field::Vectors(VectorField {
            dim: f.dim() as i64,
            data: Some(vector_field::Data::FloatVector(ps::FloatArray {
                data: vals
                    .iter()
                    .flat_map(|v| {
                        if let Value::Vector(x) = v {
                            x.clone()
                        } else {
                            vec![0.0; f.dim()]
                        }
                    })
                    .collect(),
            })),
        })),
    };
    FieldData {
        r#type: f.data_type.code(),
        field_name: if f.is_dynamic {
            META_FIELD.to_string()
        } else {
            f.name.clone()
        },
        field,
        field_id: f.id,
        is_dynamic: f.is_dynamic,
        valid_data: valid,
    }
}

pub fn outputs_to_proto(out: &Outputs) -> Vec<FieldData> {
    out.columns.iter().map(column_to_proto).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_field(name: &str, data: Vec<i64>) -> FieldData {
        FieldData {
            field_name: name.into(),
            field: Some(field_data::Field::Scalars(ScalarField {
                data: Some(scalar_field::Data::LongData(ps::LongArray { data })),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn claimed_rows_must_match_the_data() {
        let (cols, rows) = columns_from_proto(vec![long_field("a", vec![1, 2])], 2).unwrap();
        assert_eq!((cols.len(), rows), (1, 2));
        let e = columns_from_proto(vec![long_field("a", vec![1])], u32::MAX).unwrap_err();
        assert!(e.contains("exceeds the maximum"), "{e}");
        let e = columns_from_proto(vec![long_field("a", vec![1])], 3).unwrap_err();
        assert!(
            e.contains("the num_rows (1) of field (a) is not equal to passed num_rows (3)"),
            "{e}"
        );
        let e = columns_from_proto(vec![], 3).unwrap_err();
        assert!(e.contains("carries no field data"), "{e}");
    }

    #[test]
    fn array_columns_go_out_and_come_back() {
        let field = quarry_types::FieldSchema {
            id: 101,
            nullable: true,
            ..quarry_types::FieldSchema::array("tags", DataType::VarChar, 4)
        };
        let strs = |v: &[&str]| Value::Array(v.iter().map(|s| Value::Str(s.to_string())).collect());
        let col = OutputColumn {
            field,
            values: vec![strs(&["a", "b"]), Value::Null, strs(&[])],
        };
        let wire = column_to_proto(&col);
        assert_eq!(wire.r#type, DataType::Array.code());
        assert_eq!(wire.valid_data, vec![true, false, true]);
        let Some(field_data::Field::Scalars(ScalarField {
            data: Some(scalar_field::Data::ArrayData(a)),
        })) = &wire.field
        else {
            panic!("not array data: {wire:?}");
        };
        assert_eq!(a.element_type, DataType::VarChar.code());
        assert_eq!(a.data.len(), 3);
        let (cols, rows) = columns_from_proto(vec![wire], 3).unwrap();
        assert_eq!(rows, 3);
        let ColumnData::Array(rows) = &cols["tags"].data else {
            panic!("not an array column");
        };
        assert_eq!(rows[0], ColumnData::Str(vec!["a".into(), "b".into()]));
        assert_eq!(rows[2], ColumnData::Str(vec![]));

        // a row without values is an empty row; a nested array is refused
        let row = |data| ScalarField { data };
        let nested = FieldData {
            field_name: "n".into(),
            field: Some(field_data::Field::Scalars(ScalarField {
                data: Some(scalar_field::Data::ArrayData(ps::ArrayArray {
                    data: vec![
                        row(None),
                        row(Some(scalar_field::Data::ArrayData(
                            ps::ArrayArray::default(),
                        ))),
                    ],
                    element_type: 5,
                })),
            })),
            ..Default::default()
        };
        let e = columns_from_proto(vec![nested], 2).unwrap_err();
        assert!(e.contains("nested arrays are not supported"), "{e}");
    }

    #[test]
    fn sparse_rows_come_in_and_go_out_as_sparse_float_arrays() {
        let rows = vec![
            sparse::encode(&[(3, 0.5), (40, 1.0)]),
            vec![],
            sparse::encode(&[(7, 2.0)]),
        ];
        let field = FieldData {
            field_name: "sp".into(),
            r#type: DataType::SparseFloatVector.code(),
            field: Some(field_data::Field::Vectors(VectorField {
                dim: 41,
                data: Some(vector_field::Data::SparseFloatVector(
                    ps::SparseFloatArray {
                        contents: rows.clone(),
                        dim: 41,
                    },
                )),
            })),
            ..Default::default()
        };
        let (cols, n) = columns_from_proto(vec![field], 3).unwrap();
        assert_eq!(n, 3);
        assert_eq!(cols["sp"].data, ColumnData::Sparse(rows.clone()));
        let out = column_to_proto(&OutputColumn {
            field: quarry_types::FieldSchema::new("sp", DataType::SparseFloatVector),
            values: rows.iter().cloned().map(Value::Sparse).collect(),
        });
        assert_eq!(out.r#type, 104);
        let Some(field_data::Field::Vectors(v)) = out.field else {
            panic!("not a vector field");
        };
        assert_eq!(v.dim, 41);
        let Some(vector_field::Data::SparseFloatVector(a)) = v.data else {
            panic!("not sparse");
        };
        assert_eq!((a.contents, a.dim), (rows, 41));
    }
}
