//! Segment files: the live rows of a segment as one Parquet file in the collection's Arrow
//! layout (with `$offset`), and back.

use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use quarry_types::CollectionSchema;

use crate::parquet_guard;
use crate::segment::SegmentData;
use crate::{EngineError, Result};

pub(crate) fn encode_parquet(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    w.write(batch)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    w.close()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(out)
}

/// Decodes a segment's Parquet file into one batch of the collection's Arrow schema (with
/// `$offset`), as recovery and index building load it.
pub fn decode_parquet(schema: &CollectionSchema, bytes: Bytes) -> Result<RecordBatch> {
    let refused = |why| EngineError::Internal(format!("corrupt segment file: {why}"));
    // the decoder's cost is not bounded by the file's size: check it first (parquet_guard.rs)
    parquet_guard::check_footer(&bytes).map_err(refused)?;
    // parquet panics on some corrupt footers (unwraps in its thrift decoder, capacity
    // overflows): a corrupt segment file fails its load, it does not take the node down
    let batches = std::panic::catch_unwind(|| {
        let meta = ArrowReaderMetadata::load(&bytes, Default::default())?;
        parquet_guard::check_pages(&bytes, meta.metadata())
            .map_err(|why| ParquetError::General(format!("corrupt segment file: {why}")))?;
        ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta)
            .build()?
            .collect::<Result<Vec<_>, _>>()
            .map_err(Into::into)
    })
    .map_err(|_| refused("the Parquet decoder failed"))?
    .map_err(|e: ParquetError| EngineError::Internal(format!("segment file: {e}")))?;
    let arrow = schema.arrow_schema(true);
    let batches: Vec<RecordBatch> = batches
        .into_iter()
        .map(|b| RecordBatch::try_new(arrow.clone(), with_written(&arrow, &b)))
        .collect::<Result<_, _>>()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    concat_batches(&arrow, &batches).map_err(|e| EngineError::Internal(e.to_string()))
}

/// The columns of a decoded batch; files of older versions have no write-time column: their
/// rows have no write time and never expire (the same on every node and at every load).
fn with_written(arrow: &arrow_schema::Schema, b: &RecordBatch) -> Vec<arrow_array::ArrayRef> {
    let mut columns = b.columns().to_vec();
    if columns.len() + 1 == arrow.fields().len() && !columns.is_empty() {
        let written = arrow_array::UInt64Array::from(vec![u64::MAX; b.num_rows()]);
        columns.insert(columns.len() - 1, std::sync::Arc::new(written));
    }
    columns
}

pub(crate) fn live_rows(schema: &CollectionSchema, seg: &SegmentData) -> Result<RecordBatch> {
    let arrow = schema.arrow_schema(true);
    let mut parts = Vec::new();
    for (b, batch) in seg.batches.iter().enumerate() {
        let start = seg.starts[b] as usize;
        let mask = BooleanArray::from(
            seg.deleted[start..start + batch.num_rows()]
                .iter()
                .map(|d| !d)
                .collect::<Vec<_>>(),
        );
        parts.push(
            filter_record_batch(batch, &mask).map_err(|e| EngineError::Internal(e.to_string()))?,
        );
    }
    concat_batches(&arrow, &parts).map_err(|e| EngineError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use quarry_types::batch::{build_batch, with_offset, Column, ColumnData, ColumnReader};
    use quarry_types::{DataType, FieldSchema, Value};

    use super::*;

    #[test]
    fn array_columns_round_trip_through_parquet() {
        let schema = CollectionSchema {
            functions: vec![],
            name: "c".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![
                FieldSchema {
                    is_primary_key: true,
                    ..FieldSchema::new("id", DataType::Int64)
                },
                FieldSchema::new("v", DataType::FloatVector).with_param("dim", "1"),
                FieldSchema::array("tags", DataType::VarChar, 3).with_param("max_length", "5"),
                FieldSchema {
                    nullable: true,
                    ..FieldSchema::array("n", DataType::Double, 3)
                },
            ],
            enable_dynamic_field: false,
            properties: vec![],
        }
        .prepare_new()
        .unwrap();
        let col = |data| Column { data, valid: None };
        let strs = |v: &[&str]| ColumnData::Str(v.iter().map(|s| s.to_string()).collect());
        let columns = HashMap::from([
            ("id".to_string(), col(ColumnData::Int(vec![1, 2, 3]))),
            (
                "v".to_string(),
                col(ColumnData::FloatVector {
                    dim: 1,
                    data: vec![0.0; 3],
                }),
            ),
            (
                "tags".to_string(),
                col(ColumnData::Array(vec![
                    strs(&["a", "b"]),
                    strs(&[]),
                    strs(&["c"]),
                ])),
            ),
            (
                "n".to_string(),
                Column {
                    data: ColumnData::Array(vec![ColumnData::Float(vec![1.5, -2.0])]),
                    valid: Some(vec![false, true, false]),
                },
            ),
        ]);
        let batch = with_offset(&schema, &build_batch(&schema, columns, 3).unwrap(), 9, 1);
        let back = decode_parquet(&schema, encode_parquet(&batch).unwrap().into()).unwrap();
        let read = |b: &RecordBatch, i: usize| {
            let r = ColumnReader::new(b.column(i), DataType::Array);
            (0..b.num_rows()).map(|row| r.get(row)).collect::<Vec<_>>()
        };
        assert_eq!(read(&back, 2), read(&batch, 2));
        assert_eq!(read(&back, 3), read(&batch, 3));
        assert_eq!(
            read(&back, 3),
            vec![
                Value::Null,
                Value::Array(vec![Value::Float(1.5), Value::Float(-2.0)]),
                Value::Null
            ]
        );
        assert_eq!(read(&back, 2)[1], Value::Array(vec![]));
    }
}
