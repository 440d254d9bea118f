//! Segment files: the live rows of a segment as one Parquet file in the collection's Arrow
//! layout (with `$offset`), and back.

use arrow_array::{BooleanArray, RecordBatch};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use quarry_types::CollectionSchema;

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
    // parquet panics on some corrupt footers (unwraps in its thrift decoder, capacity
    // overflows): a corrupt segment file fails its load, it does not take the node down
    let batches = std::panic::catch_unwind(|| {
        ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(Into::into)
    })
    .map_err(|_| EngineError::Internal("corrupt segment file: the Parquet decoder failed".into()))?
    .map_err(|e: parquet::errors::ParquetError| {
        EngineError::Internal(format!("segment file: {e}"))
    })?;
    let arrow = schema.arrow_schema(true);
    let batches: Vec<RecordBatch> = batches
        .into_iter()
        .map(|b| RecordBatch::try_new(arrow.clone(), b.columns().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    concat_batches(&arrow, &batches).map_err(|e| EngineError::Internal(e.to_string()))
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
