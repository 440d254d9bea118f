//! Rows of one segment in memory: Arrow batches (with the `$offset` column), a deletion bitmap
//! and a primary-key map. Growing segments append batches; sealed segments hold one batch and
//! may carry an HNSW index keyed by row number.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use quarry_expr::{Expr, FieldIndexes, Leaf};
use quarry_index::SegmentIndex;
use quarry_types::batch::{offsets, written, ColumnReader};
use quarry_types::{CollectionSchema, Pk, Value};

#[derive(Debug, Default, Clone)]
pub struct SegmentData {
    pub batches: Vec<RecordBatch>,
    /// first row number of each batch
    pub(crate) starts: Vec<u32>,
    pub deleted: Vec<bool>,
    pks: HashMap<Pk, KeyRows>,
    pub live: usize,
    /// the oldest and newest write time of its rows (ms), `None` while it has none
    written: Option<(u64, u64)>,
}

fn pk_at(reader: &ColumnReader<'_>, row: usize) -> Pk {
    match reader.get(row) {
        Value::Int(i) => Pk::Int(i),
        Value::Str(s) => Pk::Str(s),
        other => panic!("primary key column holds {other:?}"),
    }
}

impl SegmentData {
    pub fn rows(&self) -> usize {
        self.deleted.len()
    }

    /// Appends a batch; `pk_index` is the position of the primary key column.
    pub fn append(&mut self, batch: RecordBatch, schema: &CollectionSchema, pk_index: usize) {
        let start = self.deleted.len() as u32;
        let reader = ColumnReader::new(batch.column(pk_index), schema.fields[pk_index].data_type);
        for r in 0..batch.num_rows() {
            let row = start + r as u32;
            self.pks
                .entry(pk_at(&reader, r))
                .and_modify(|rows| rows.push(row))
                .or_insert(KeyRows::One(row));
        }
        let times = written(&batch);
        if let (Some(lo), Some(hi)) = (times.iter().min(), times.iter().max()) {
            let (old_lo, old_hi) = self.written.unwrap_or((*lo, *hi));
            self.written = Some((old_lo.min(*lo), old_hi.max(*hi)));
        }
        self.deleted
            .extend(std::iter::repeat_n(false, batch.num_rows()));
        self.live += batch.num_rows();
        self.starts.push(start);
        self.batches.push(batch);
    }

    /// Batch index and row within it of a segment row number.
    pub fn locate(&self, row: u32) -> (usize, usize) {
        let b = self.starts.partition_point(|s| *s <= row) - 1;
        (b, (row - self.starts[b]) as usize)
    }

    pub fn offset_of(&self, row: u32) -> u64 {
        let (b, r) = self.locate(row);
        offsets(&self.batches[b])[r]
    }

    /// Deletes the live rows with this key written before `offset`; returns how many.
    pub fn delete(&mut self, pk: &Pk, offset: u64) -> usize {
        let Some(rows) = self.pks.get(pk) else {
            return 0;
        };
        let mut n = 0;
        for &row in rows.as_slice().to_vec().iter() {
            if !self.deleted[row as usize] && self.offset_of(row) < offset {
                self.deleted[row as usize] = true;
                n += 1;
            }
        }
        self.live -= n;
        n
    }

    pub fn mark_deleted(&mut self, row: u32) {
        if !self.deleted[row as usize] {
            self.deleted[row as usize] = true;
            self.live -= 1;
        }
    }

    pub fn rows_of(&self, pk: &Pk) -> &[u32] {
        self.pks.get(pk).map(KeyRows::as_slice).unwrap_or(&[])
    }

    /// What a read needs of this segment, to use once the shard's lock is released: the
    /// batches (shared, never changed once appended), and a copy of the deleted rows when
    /// there are any (nothing proportional to the rows otherwise).
    pub fn view(&self) -> SegmentView {
        SegmentView {
            batches: self.batches.clone(),
            starts: self.starts.clone(),
            rows: self.rows(),
            deleted: (self.live < self.rows()).then(|| self.deleted.clone()),
            live: self.live,
        }
    }

    /// The row numbers written before `expire_before` (deleted ones included); nothing when
    /// no row is that old (0: none), without looking at the rows.
    fn expired_rows(&self, expire_before: u64) -> impl Iterator<Item = usize> + '_ {
        let some = self
            .written
            .is_some_and(|(oldest, _)| expire_before > oldest);
        let batches = if some { &self.batches[..] } else { &[] };
        batches.iter().enumerate().flat_map(move |(b, batch)| {
            let start = self.starts[b] as usize;
            written(batch)
                .iter()
                .enumerate()
                .filter(move |(_, w)| **w < expire_before)
                .map(move |(r, _)| start + r)
        })
    }

    /// [`SegmentData::view`] with the rows written before `expire_before` (ms since the Unix
    /// epoch; 0: none) left out as if deleted: a collection's time to live. Nothing
    /// proportional to the rows is done unless some rows are expired and others not.
    pub fn view_at(&self, expire_before: u64) -> SegmentView {
        let mut view = self.view();
        let Some((oldest, newest)) = self.written else {
            return view;
        };
        if expire_before == 0 || oldest >= expire_before {
            return view;
        }
        if newest < expire_before {
            view.deleted = Some(vec![true; self.rows()]);
            view.live = 0;
            return view;
        }
        let mut deleted = view
            .deleted
            .take()
            .unwrap_or_else(|| vec![false; self.rows()]);
        for row in self.expired_rows(expire_before) {
            deleted[row] = true;
        }
        view.live = deleted.iter().filter(|d| !**d).count();
        view.deleted = Some(deleted);
        view
    }

    /// The rows neither deleted nor written before `expire_before` (0: none), counted
    /// without a copy; nothing proportional to the rows unless some rows are expired.
    pub fn live_at(&self, expire_before: u64) -> usize {
        let expired_live = self
            .expired_rows(expire_before)
            .filter(|r| !self.deleted[*r])
            .count();
        self.live - expired_live
    }

    /// Marks the rows written before `expire_before` deleted (a compaction's copy of a
    /// segment: its expired rows are purged).
    pub fn expire(&mut self, expire_before: u64) {
        let view = self.view_at(expire_before);
        if let Some(deleted) = view.deleted {
            self.deleted = deleted;
            self.live = view.live;
        }
    }

    /// Whether a row is past the time to live (see [`SegmentData::view_at`]).
    pub fn expired(&self, row: u32, expire_before: u64) -> bool {
        match self.written {
            Some((oldest, _)) if expire_before > oldest => {
                let (b, r) = self.locate(row);
                written(&self.batches[b])[r] < expire_before
            }
            _ => false,
        }
    }
}

/// The rows holding one primary key: almost always one, kept without an allocation of its own.
#[derive(Debug, Clone)]
enum KeyRows {
    One(u32),
    Many(Vec<u32>),
}

impl KeyRows {
    fn push(&mut self, row: u32) {
        match self {
            KeyRows::One(first) => *self = KeyRows::Many(vec![*first, row]),
            KeyRows::Many(rows) => rows.push(row),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            KeyRows::One(row) => std::slice::from_ref(row),
            KeyRows::Many(rows) => rows,
        }
    }
}

/// A segment as one read sees it (see [`SegmentData::view`]).
#[derive(Debug, Clone)]
pub struct SegmentView {
    pub batches: Vec<RecordBatch>,
    starts: Vec<u32>,
    rows: usize,
    /// `None`: no row deleted
    deleted: Option<Vec<bool>>,
    pub live: usize,
}

impl SegmentView {
    /// Batch index and row within it of a segment row number.
    pub fn locate(&self, row: u32) -> (usize, usize) {
        let b = self.starts.partition_point(|s| *s <= row) - 1;
        (b, (row - self.starts[b]) as usize)
    }

    /// The first row number of batch `b`.
    pub fn start(&self, b: usize) -> u32 {
        self.starts[b]
    }

    /// Live rows matching `filter` as a bitmap over row numbers; `None` when that is every
    /// row (no filter and nothing deleted). The filter runs column by column
    /// ([`Expr::filter_batch`]).
    pub fn matching(&self, schema: &CollectionSchema, filter: Option<&Expr>) -> Option<Vec<bool>> {
        self.matching_indexed(schema, filter, &[])
    }

    /// [`SegmentView::matching`] with the segment's scalar indexes answering the predicates
    /// they serve (a sealed segment's one batch only: the indexes number its rows).
    pub fn matching_indexed(
        &self,
        schema: &CollectionSchema,
        filter: Option<&Expr>,
        scalars: &[Arc<SegmentIndex>],
    ) -> Option<Vec<bool>> {
        if filter.is_none() && self.deleted.is_none() {
            return None;
        }
        let mut out: Vec<bool> = match &self.deleted {
            Some(d) => d.iter().map(|d| !d).collect(),
            None => vec![true; self.rows],
        };
        if let Some(filter) = filter {
            if let ([batch], false) = (&self.batches[..], scalars.is_empty()) {
                filter.filter_batch_indexed(schema, batch, &ScalarIndexes(scalars), &mut out);
                return Some(out);
            }
            for (b, batch) in self.batches.iter().enumerate() {
                let start = self.starts[b] as usize;
                filter.filter_batch(schema, batch, &mut out[start..start + batch.num_rows()]);
            }
        }
        Some(out)
    }
}

/// A sealed segment's scalar indexes, as the filter evaluator asks them.
struct ScalarIndexes<'a>(&'a [Arc<SegmentIndex>]);

impl FieldIndexes for ScalarIndexes<'_> {
    fn narrow(&self, field: &str, leaf: Leaf<'_>, keep: &mut [bool]) -> bool {
        self.0
            .iter()
            .filter_map(|i| i.scalar())
            .find(|i| i.field() == field)
            .is_some_and(|i| i.narrow(leaf, keep))
    }

    fn has(&self, field: &str) -> bool {
        self.0
            .iter()
            .filter_map(|i| i.scalar())
            .any(|i| i.field() == field)
    }
}

/// A sealed segment in memory.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub meta: quarry_meta::SegmentMeta,
    pub data: SegmentData,
    /// index id -> loaded index
    pub indexes: HashMap<i64, Arc<SegmentIndex>>,
    /// deleted rows already persisted in the segment's delete file
    pub persisted_deletes: usize,
}

impl Sealed {
    pub fn deleted_count(&self) -> usize {
        self.data.rows() - self.data.live
    }

    /// Its loaded scalar indexes (which answer filters).
    pub fn scalar_indexes(&self) -> Vec<Arc<SegmentIndex>> {
        self.indexes
            .values()
            .filter(|i| i.scalar().is_some())
            .cloned()
            .collect()
    }
}
