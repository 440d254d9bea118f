//! Tests of batch building and reading.

use super::*;

mod unit {
    use super::*;
    use crate::schema::FieldSchema;

    fn field(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
        let f = params
            .iter()
            .fold(FieldSchema::new(name, dt), |f, (k, v)| f.with_param(k, v));
        FieldSchema {
            is_primary_key: name == "id",
            ..f
        }
    }

    fn schema() -> CollectionSchema {
        CollectionSchema {
            functions: vec![],
            name: "c".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![
                field("id", DataType::Int64, &[]),
                field("age", DataType::Int8, &[]),
                field("title", DataType::VarChar, &[("max_length", "4")]),
                field("v", DataType::FloatVector, &[("dim", "2")]),
            ],
            enable_dynamic_field: true,
            properties: vec![],
        }
        .prepare_new()
        .unwrap()
    }

    fn cols(
        ids: Vec<i64>,
        ages: Vec<i64>,
        titles: Vec<&str>,
        v: Vec<f32>,
    ) -> HashMap<String, Column> {
        let c = |data| Column { data, valid: None };
        HashMap::from([
            ("id".to_string(), c(ColumnData::Int(ids))),
            ("age".to_string(), c(ColumnData::Int(ages))),
            (
                "title".to_string(),
                c(ColumnData::Str(
                    titles.into_iter().map(String::from).collect(),
                )),
            ),
            (
                "v".to_string(),
                c(ColumnData::FloatVector { dim: 2, data: v }),
            ),
        ])
    }

    #[test]
    fn builds_and_reads_back() {
        let s = schema();
        let b = build_batch(
            &s,
            cols(
                vec![1, 2],
                vec![3, -4],
                vec!["ab", ""],
                vec![1., 2., 3., 4.],
            ),
            2,
        )
        .unwrap();
        assert_eq!(b.num_columns(), 5, "four fields and $meta");
        assert_eq!(
            ColumnReader::new(b.column(1), DataType::Int8).get(1),
            Value::Int(-4)
        );
        assert_eq!(
            ColumnReader::new(b.column(3), DataType::FloatVector).vector(1),
            &[3., 4.]
        );
        assert_eq!(
            ColumnReader::new(b.column(4), DataType::Json).get(0),
            Value::Json(serde_json::json!({}))
        );
        let b = with_offset(&s, &b, 42, 1);
        assert_eq!(offsets(&b), &[42, 42]);
    }

    #[test]
    fn rejects_bad_data() {
        let s = schema();
        let e = build_batch(&s, cols(vec![1], vec![300], vec!["a"], vec![1., 2.]), 1).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let e =
            build_batch(&s, cols(vec![1], vec![1], vec!["abcde"], vec![1., 2.]), 1).unwrap_err();
        assert!(
            matches!(e, SchemaError::VarCharTooLong { len: 5, max: 4, .. }),
            "{e}"
        );
        let mut c = cols(vec![1], vec![1], vec!["a"], vec![1., 2., 3.]);
        c.get_mut("v").unwrap().data = ColumnData::FloatVector {
            dim: 3,
            data: vec![1., 2., 3.],
        };
        assert!(matches!(
            build_batch(&s, c, 1).unwrap_err(),
            SchemaError::DimMismatch {
                got: 3,
                want: 2,
                ..
            }
        ));
        let mut c = cols(vec![1], vec![1], vec!["a"], vec![1., 2.]);
        c.remove("age");
        assert_eq!(
            build_batch(&s, c, 1).unwrap_err(),
            SchemaError::MissingField("age".into())
        );
        let mut c = cols(vec![1], vec![1], vec!["a"], vec![1., 2.]);
        c.insert(
            "nope".into(),
            Column {
                data: ColumnData::Int(vec![1]),
                valid: None,
            },
        );
        assert!(build_batch(&s, c, 1)
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn nullable_compact_values_are_expanded() {
        let mut f = field("n", DataType::Int32, &[]);
        f.nullable = true;
        let a = build_array(
            &f,
            Some(Column {
                data: ColumnData::Int(vec![7]),
                valid: Some(vec![false, true, false]),
            }),
            3,
        )
        .unwrap();
        let r = ColumnReader::new(&a, DataType::Int32);
        assert_eq!(
            (r.get(0), r.get(1), r.get(2)),
            (Value::Null, Value::Int(7), Value::Null)
        );
    }
}

mod bounds {
    use super::*;

    #[test]
    fn claimed_rows_are_checked_against_every_column() {
        let ints = |n: usize| Column {
            data: ColumnData::Int(vec![0; n]),
            valid: None,
        };
        let vectors = |values: usize| Column {
            data: ColumnData::FloatVector {
                dim: 2,
                data: vec![0.; values],
            },
            valid: None,
        };
        let cols = HashMap::from([("a".to_string(), ints(2)), ("v".to_string(), vectors(4))]);
        check_rows(&cols, 2).unwrap();
        let e = check_rows(&cols, u32::MAX as usize)
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds the maximum of 1048576"), "{e}");
        let e = check_rows(&cols, 3).unwrap_err().to_string();
        assert!(e.contains("is not equal to passed num_rows (3)"), "{e}");
        let odd = HashMap::from([("v".to_string(), vectors(3))]);
        assert!(check_rows(&odd, 1)
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        let none: HashMap<String, Column> = HashMap::new();
        assert!(check_rows(&none, 5).is_err());
    }

    #[test]
    fn json_values_are_bounded() {
        let f = FieldSchema::new("j", DataType::Json);
        let big = format!("{{\"k\": \"{}\"}}", "x".repeat(MAX_JSON_BYTES));
        let e = build_array(
            &f,
            Some(Column {
                data: ColumnData::Json(vec![big.into_bytes()]),
                valid: None,
            }),
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("exceeds max length (65536)"), "{e}");
    }
}

mod packed {
    use super::*;
    use crate::batch::ColumnReader;
    use crate::schema::FieldSchema;

    fn schema() -> CollectionSchema {
        schema_with("16").unwrap()
    }

    fn schema_with(bits: &str) -> Result<CollectionSchema, SchemaError> {
        let pk = FieldSchema {
            is_primary_key: true,
            ..FieldSchema::new("id", DataType::Int64)
        };
        CollectionSchema {
            functions: vec![],
            name: "c".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![
                pk,
                FieldSchema::new("b", DataType::BinaryVector).with_param("dim", bits),
                FieldSchema::new("h", DataType::Float16Vector).with_param("dim", "2"),
                FieldSchema::new("bf", DataType::BFloat16Vector).with_param("dim", "2"),
            ],
            enable_dynamic_field: false,
            properties: vec![],
        }
        .prepare_new()
    }

    fn packed(data_type: DataType, dim: usize, data: Vec<u8>) -> Column {
        Column {
            data: ColumnData::Packed {
                data_type,
                dim,
                data,
            },
            valid: None,
        }
    }

    fn cols(b: Vec<u8>, h: Vec<u8>, bf: Vec<u8>) -> HashMap<String, Column> {
        HashMap::from([
            (
                "id".to_string(),
                Column {
                    data: ColumnData::Int(vec![1, 2]),
                    valid: None,
                },
            ),
            ("b".to_string(), packed(DataType::BinaryVector, 16, b)),
            ("h".to_string(), packed(DataType::Float16Vector, 2, h)),
            ("bf".to_string(), packed(DataType::BFloat16Vector, 2, bf)),
        ])
    }

    fn half(v: &[f32], t: DataType) -> Vec<u8> {
        crate::vector::encode(t, v)
    }

    #[test]
    fn packed_vectors_round_trip() {
        let s = schema();
        let h = half(&[1.0, -0.5, 0.25, 3.0], DataType::Float16Vector);
        let bf = half(&[2.0, -1.0, 0.5, 8.0], DataType::BFloat16Vector);
        let batch = build_batch(&s, cols(vec![0x80, 0x01, 0xff, 0x00], h.clone(), bf), 2).unwrap();
        assert_eq!(
            batch.schema().field(1).data_type(),
            &ArrowType::FixedSizeBinary(2)
        );
        assert_eq!(
            batch.schema().field(2).data_type(),
            &ArrowType::FixedSizeBinary(4)
        );
        let b = ColumnReader::new(batch.column(1), DataType::BinaryVector);
        assert_eq!(b.packed(1), &[0xff, 0x00]);
        let mut bits = vec![0.0; 16];
        bits[0] = 1.0;
        bits[15] = 1.0;
        assert_eq!(b.get(0), Value::Vector(bits));
        let r = ColumnReader::new(batch.column(2), DataType::Float16Vector);
        assert_eq!(r.get(1), Value::Vector(vec![0.25, 3.0]));
        assert_eq!(r.packed(0), &h[..4]);
        let r = ColumnReader::new(batch.column(3), DataType::BFloat16Vector);
        assert_eq!(r.get(0), Value::Vector(vec![2.0, -1.0]));
    }

    #[test]
    fn packed_vectors_are_checked() {
        let s = schema();
        let h = half(&[1.0, -0.5, 0.25, 3.0], DataType::Float16Vector);
        let bf = half(&[2.0, -1.0, 0.5, 8.0], DataType::BFloat16Vector);
        // one byte short
        let e = build_batch(&s, cols(vec![0; 3], h.clone(), bf.clone()), 2).unwrap_err();
        assert!(e.to_string().contains("bytes of vector data"), "{e}");
        // a float16 infinity
        let mut inf = h.clone();
        inf[2..4].copy_from_slice(&0x7c00u16.to_le_bytes());
        assert!(build_batch(&s, cols(vec![0; 4], inf, bf.clone()), 2)
            .unwrap_err()
            .to_string()
            .contains("NaN or infinite"));
        // the wrong dim
        let mut c = cols(vec![0; 4], h.clone(), bf.clone());
        c.insert("h".into(), packed(DataType::Float16Vector, 4, h.clone()));
        assert!(matches!(
            build_batch(&s, c, 2),
            Err(SchemaError::DimMismatch { .. }) | Err(SchemaError::Invalid(_))
        ));
        // bytes of another vector type
        let mut c = cols(vec![0; 4], h.clone(), bf);
        c.insert("bf".into(), packed(DataType::Float16Vector, 2, h));
        assert!(build_batch(&s, c, 2).is_err());
    }

    #[test]
    fn binary_dims_are_multiples_of_eight() {
        let e = schema_with("12").unwrap_err();
        assert!(e.to_string().contains("multiple of 8"), "{e}");
        assert!(schema_with("0").is_err());
        assert!(schema_with("262144").is_ok());
        assert!(schema_with("262152").is_err());
    }
}

mod sparse_rows {
    use super::*;
    use crate::record::LogRecord;
    use crate::schema::FieldSchema;
    use crate::sparse::encode;

    fn schema(sp: FieldSchema) -> Result<CollectionSchema, SchemaError> {
        CollectionSchema {
            functions: vec![],
            name: "c".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![
                FieldSchema {
                    is_primary_key: true,
                    ..FieldSchema::new("id", DataType::Int64)
                },
                sp,
            ],
            enable_dynamic_field: false,
            properties: vec![],
        }
        .prepare_new()
    }

    fn cols(rows: Vec<Vec<u8>>) -> HashMap<String, Column> {
        let ids = (0..rows.len() as i64).collect();
        HashMap::from([
            (
                "id".to_string(),
                Column {
                    data: ColumnData::Int(ids),
                    valid: None,
                },
            ),
            (
                "sp".to_string(),
                Column {
                    data: ColumnData::Sparse(rows),
                    valid: None,
                },
            ),
        ])
    }

    #[test]
    fn sparse_rows_are_stored_as_binary_and_survive_the_log() {
        let s = schema(FieldSchema::new("sp", DataType::SparseFloatVector)).unwrap();
        let rows = vec![encode(&[(1, 0.5), (90, 2.0)]), vec![], encode(&[(7, 1.0)])];
        let batch = build_batch(&s, cols(rows.clone()), 3).unwrap();
        assert_eq!(batch.schema().field(1).data_type(), &ArrowType::Binary);
        let r = ColumnReader::new(batch.column(1), DataType::SparseFloatVector);
        assert_eq!(r.get(0), Value::Sparse(rows[0].clone()));
        assert_eq!(r.sparse(1), &[] as &[u8]);
        let rec = LogRecord::new(0, vec![], Some(with_offset(&s, &batch, 4, 1)));
        assert_eq!(LogRecord::decode(&rec.encode()).unwrap(), rec);
        // a bad row refuses the whole batch
        let bad = vec![encode(&[(1, 0.5)]), encode(&[(3, 1.0), (2, 1.0)])];
        let e = build_batch(&s, cols(bad), 2).unwrap_err();
        assert!(e.to_string().contains("unsorted or same indices"), "{e}");
    }

    #[test]
    fn sparse_fields_take_no_dim_and_no_nulls() {
        let e = schema(FieldSchema::new("sp", DataType::SparseFloatVector).with_param("dim", "8"));
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("dim should not be specified for sparse vector field sp(101)"));
        let nullable = FieldSchema {
            nullable: true,
            ..FieldSchema::new("sp", DataType::SparseFloatVector)
        };
        assert!(schema(nullable).is_err());
    }
}
