//! The write path: validate rows against the schema, assign auto ids, hash primary keys to
//! shards (and partition keys to partitions), append one record per shard to the log (`Shard::append_apply` applies it to memory
//! before the write is acknowledged) and, on flush, seal every shard. The log is the source of
//! truth: what was appended is replayed after a crash.

use std::collections::HashMap;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_select::take::take_record_batch;
use quarry_meta::CollectionMeta;
use quarry_types::batch::{build_batch, check_rows, Column, ColumnData, ColumnReader};
use quarry_types::record::{LogRecord, ALL_PARTITIONS};
use quarry_types::{shard_of, DataType, Pk, Value};

use crate::collection::CollectionRt;
use crate::error::invalid;
use crate::partitions::key_partition_index;
use crate::Named;
use crate::{Engine, EngineError, Result};

const ROW_ID_BLOCK: i64 = 100_000;

#[derive(Debug, Clone)]
pub struct InsertInput {
    pub partition: String,
    /// columns by field name; the dynamic field under `$meta`
    pub columns: HashMap<String, Column>,
    pub rows: usize,
    pub upsert: bool,
    /// the schema version the client built the rows for (0 = unknown)
    pub schema_ts: u64,
    /// an upsert of some fields only (`partial.rs`): the others keep the row's values
    pub partial: bool,
}

#[derive(Debug, Clone)]
pub struct MutationOutcome {
    /// primary keys in request order (empty for deletes)
    pub ids: Vec<Pk>,
    /// the type of the collection's primary key (how clients expect `ids` back)
    pub pk_type: DataType,
    pub count: u64,
    pub timestamp: u64,
}

impl Engine {
    async fn alloc_row_ids(&self, n: usize) -> Result<i64> {
        let mut ids = self.row_ids.lock().await;
        if ids.1 - ids.0 < n as i64 {
            let want = (n as i64).max(ROW_ID_BLOCK);
            let start = self.io.meta.alloc_ids(want as u64).await?;
            *ids = (start, start + want);
        }
        let first = ids.0;
        ids.0 += n as i64;
        Ok(first)
    }

    /// Appends one record to a shard; returns the rows it deleted. A process that applies its
    /// writes (standalone) applies it before answering; a proxy only appends (the workers
    /// apply from the log) and counts the keys it asked to delete.
    async fn append(&self, rt: &CollectionRt, shard: u32, record: LogRecord) -> Result<usize> {
        let s = rt.shard(shard)?;
        if self.duties.apply_writes {
            return s.append_apply(&*self.io.log, record).await;
        }
        s.append(&*self.io.log, &record).await?;
        Ok(if record.rows.is_none() {
            record.deletes.len()
        } else {
            0
        })
    }

    pub async fn insert(
        &self,
        name: impl Into<Named<'_>>,
        mut input: InsertInput,
    ) -> Result<MutationOutcome> {
        let name = name.into();
        // before anything is sized by the claimed row count (auto ids, default columns)
        check_rows(&input.columns, input.rows)?;
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        if input.schema_ts != 0 && input.schema_ts != meta.updated_ts {
            return Err(EngineError::SchemaMismatch(name.to_string()));
        }
        let partition = self.write_partition(&meta, &input.partition)?;
        if input.rows == 0 {
            return Err(invalid("no rows to insert: the data is empty"));
        }
        if input.partial {
            if !input.upsert {
                return Err(invalid("a partial update is an upsert"));
            }
            self.fill_partial(name, &meta, &mut input).await?;
        }
        let pk_field = meta.schema.primary().clone();
        if pk_field.auto_id {
            if input.columns.contains_key(&pk_field.name) && !input.upsert {
                return Err(invalid(format!(
                    "the primary key {} is auto-generated (auto_id=true): do not pass it in the inserted data",
                    pk_field.name
                )));
            }
            if !input.upsert {
                let first = self.alloc_row_ids(input.rows).await?;
                let ids = first..first + input.rows as i64;
                // a VarChar key gets the ids' decimal text, as Milvus gives it
                let data = match pk_field.data_type {
                    DataType::VarChar => ColumnData::Str(ids.map(|i| i.to_string()).collect()),
                    _ => ColumnData::Int(ids.collect()),
                };
                input
                    .columns
                    .insert(pk_field.name.clone(), Column { data, valid: None });
            }
        }
        let schema = meta.schema.clone();
        let rows = input.rows;
        let mut columns = input.columns;
        // validation, function outputs and encoding are CPU work
        let span = tracing::Span::current();
        let batch = tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            crate::functions::apply(&schema, &mut columns, rows)?;
            build_batch(&schema, columns, rows)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
        let pk_reader = ColumnReader::new(batch.column(rt.pk_index), pk_field.data_type);
        let pks: Vec<Pk> = (0..rows)
            .map(|r| match pk_reader.get(r) {
                Value::Int(i) => Pk::Int(i),
                Value::Str(s) => Pk::Str(s),
                _ => unreachable!("pk column is Int64 or VarChar"),
            })
            .collect();
        // each row's partition: the named one, or by partition key
        let row_partitions: Vec<i64> = match partition {
            Some(id) => vec![id; rows],
            None => key_partitions(&meta, &batch)?,
        };
        let mut by_shard: HashMap<u32, Vec<u32>> = HashMap::new();
        for (row, pk) in pks.iter().enumerate() {
            by_shard
                .entry(shard_of(pk, meta.shards))
                .or_default()
                .push(row as u32);
        }
        for (shard, mut rows) in by_shard {
            // rows of one partition together: the record names them as runs
            rows.sort_by_key(|r| row_partitions[*r as usize]);
            let mut runs: Vec<(i64, u32)> = Vec::new();
            for r in &rows {
                match runs.last_mut() {
                    Some((p, n)) if *p == row_partitions[*r as usize] => *n += 1,
                    _ => runs.push((row_partitions[*r as usize], 1)),
                }
            }
            let identity = rows.len() == batch.num_rows() && rows.windows(2).all(|w| w[0] < w[1]);
            let part: RecordBatch = if identity {
                batch.clone()
            } else {
                take_record_batch(&batch, &UInt32Array::from(rows.clone()))
                    .map_err(|e| EngineError::Internal(e.to_string()))?
            };
            let deletes = if input.upsert {
                rows.iter().map(|r| pks[*r as usize].clone()).collect()
            } else {
                vec![]
            };
            let record = LogRecord {
                partition_id: runs[0].0,
                partition_runs: if runs.len() > 1 { runs } else { vec![] },
                ..LogRecord::new(0, deletes, Some(part))
            };
            self.append(&rt, shard, record).await?;
        }
        Ok(MutationOutcome {
            count: pks.len() as u64,
            ids: pks,
            pk_type: pk_field.data_type,
            timestamp: self.io.meta.timestamp(),
        })
    }

    /// Deletes the rows matching a filter expression; returns how many live rows it removed.
    pub async fn delete(
        &self,
        name: impl Into<Named<'_>>,
        partition: &str,
        expr: &str,
        templates: &HashMap<String, Value>,
    ) -> Result<MutationOutcome> {
        let name = name.into();
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        let scope = self.write_partition(&meta, partition)?;
        if expr.trim().is_empty() {
            return Err(invalid(
                "delete needs a filter expression; an empty expression would delete everything",
            ));
        }
        let compiled = quarry_expr::prepare(expr, &meta.schema, templates)?;
        let partitions = match scope {
            Some(id) => vec![id],
            None => meta.partitions.iter().map(|p| p.id).collect(),
        };
        let pks = self
            .matching_pks(&meta, &rt, expr, compiled, templates, partitions)
            .await?;
        let mut by_shard: HashMap<u32, Vec<Pk>> = HashMap::new();
        for pk in pks {
            by_shard
                .entry(shard_of(&pk, meta.shards))
                .or_default()
                .push(pk);
        }
        let mut count = 0;
        for (shard, deletes) in by_shard {
            count += self
                .append(
                    &rt,
                    shard,
                    LogRecord::new(scope.unwrap_or(ALL_PARTITIONS), deletes, None),
                )
                .await?;
        }
        Ok(MutationOutcome {
            ids: vec![],
            pk_type: meta.schema.primary().data_type,
            count: count as u64,
            timestamp: self.io.meta.timestamp(),
        })
    }

    /// Seals every shard's growing data; returns the ids of the new segments. A proxy asks the
    /// data nodes through the router.
    pub async fn flush(&self, name: impl Into<Named<'_>>) -> Result<Vec<i64>> {
        let name = name.into();
        let (meta, rt) = self.resolve_fresh(name, |_| false).await?;
        if let Some(router) = &self.router {
            let ids = router.flush(&meta, rt.acked()).await?;
            // later calls through this proxy see the new segments (row counts, index progress)
            self.io.meta.refresh().await?;
            return Ok(ids);
        }
        let mut ids = Vec::new();
        for shard in &rt.shards {
            ids.extend(shard.seal(&self.io).await?);
        }
        self.index_wakeup.notify_one();
        Ok(ids)
    }
}

/// The partition of every row of a partition-key collection, by its key value.
fn key_partitions(meta: &CollectionMeta, batch: &RecordBatch) -> Result<Vec<i64>> {
    let (index, key) = meta
        .schema
        .fields
        .iter()
        .enumerate()
        .find(|(_, f)| f.is_partition_key)
        .ok_or_else(|| EngineError::Internal("no partition key field".into()))?;
    let reader = ColumnReader::new(batch.column(index), key.data_type);
    (0..batch.num_rows())
        .map(|row| {
            let i = key_partition_index(&reader.get(row), meta.partitions.len())?;
            meta.partitions.get(i).map(|p| p.id).ok_or_else(|| {
                EngineError::Internal("partition key routed past the partitions".into())
            })
        })
        .collect()
}
