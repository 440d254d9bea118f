//! Scalar indexes of a sealed segment: INVERTED, STL_SORT, Trie and BITMAP over a Bool, integer,
//! Float, Double or VarChar field (INVERTED and BITMAP also over an Array of those), through
//! Milvus's create/describe/drop index API.
//!
//! Every kind is kept as one structure: the segment's non-null values sorted, each with its row
//! number (NaN values of a float field aside, as they equal nothing; an Array field's elements,
//! each row once per distinct element). A predicate the filter's column kernels serve —
//! `field op constant`, `field [not] in [..]`, `field like 'prefix%'`, and `array_contains`,
//! `array_contains_any`, `array_contains_all` on an Array field — is then a few binary searches
//! giving ranges of the sorted values, and the rows of those ranges are the answer: no value is
//! read row by row. The kinds differ in the field types Milvus allows them on (checked by
//! [`ScalarKind::parse`]), not in what they answer.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use quarry_expr::{CmpOp, ContainsMode, Leaf};
use quarry_types::batch::ColumnReader;
use quarry_types::{DataType, FieldSchema, Value};

use crate::IndexError;

/// Predicates answered by a scalar index in this process (see [`scalar_index_answers`]).
static ANSWERS: AtomicU64 = AtomicU64::new(0);

/// How many filter predicates the scalar indexes of this process answered in place of a
/// column scan (a Prometheus counter of the node).
pub fn scalar_index_answers() -> u64 {
    ANSWERS.load(Ordering::Relaxed)
}

/// The scalar index types of Milvus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Inverted,
    StlSort,
    Trie,
    Bitmap,
}

impl ScalarKind {
    /// The kind an `index_type` names for a field of `data_type` (AUTOINDEX or none: INVERTED),
    /// or Milvus's refusal when the type does not take it.
    pub fn parse(index_type: &str, field: &FieldSchema) -> Result<Self, IndexError> {
        use DataType::*;
        let primary = field.is_primary_key;
        // an Array field takes the index of its elements' type (Milvus: INVERTED and BITMAP)
        let (data_type, array) = match (field.data_type, field.element_type) {
            (Array, Some(element)) => (element, true),
            (t, _) => (t, false),
        };
        let numeric = matches!(data_type, Int8 | Int16 | Int32 | Int64 | Float | Double);
        let kind = match index_type.trim().to_ascii_uppercase().as_str() {
            "" | "AUTOINDEX" | "INVERTED" => ScalarKind::Inverted,
            "STL_SORT" => ScalarKind::StlSort,
            "TRIE" | "MARISA-TRIE" => ScalarKind::Trie,
            "BITMAP" => ScalarKind::Bitmap,
            other => {
                return Err(IndexError::NotForType(format!(
                    "index type {other} does not index a scalar field (scalar fields take \
                     INVERTED, STL_SORT, Trie, BITMAP or AUTOINDEX)"
                )))
            }
        };
        if matches!(data_type, Array | Json) {
            return Err(IndexError::NotForType(format!(
                "quarry does not serve scalar indexes on {:?} fields yet (Bool, Int8-Int64, \
                 Float, Double, VarChar and arrays of those take them)",
                field.data_type
            )));
        }
        let fits = match kind {
            ScalarKind::Inverted => numeric || matches!(data_type, Bool | VarChar),
            ScalarKind::StlSort => numeric && !array,
            ScalarKind::Trie => data_type == VarChar && !array,
            ScalarKind::Bitmap => {
                matches!(data_type, Bool | Int8 | Int16 | Int32 | Int64 | VarChar) && !primary
            }
        };
        if !fits {
            return Err(IndexError::NotForType(match kind {
                ScalarKind::Inverted => {
                    format!("INVERTED index does not index {data_type:?} fields")
                }
                ScalarKind::StlSort => "STL_SORT are only supported on numeric field".into(),
                ScalarKind::Trie => "TRIE are only supported on varchar field".into(),
                ScalarKind::Bitmap if primary => {
                    "create bitmap index on primary key not supported".into()
                }
                ScalarKind::Bitmap => {
                    "bitmap index are only supported on bool, int, string and array field".into()
                }
            }));
        }
        Ok(kind)
    }

    /// The name Milvus gives the kind (what describe_index reports).
    pub fn name(self) -> &'static str {
        match self {
            ScalarKind::Inverted => "INVERTED",
            ScalarKind::StlSort => "STL_SORT",
            ScalarKind::Trie => "Trie",
            ScalarKind::Bitmap => "BITMAP",
        }
    }

    fn code(self) -> u8 {
        match self {
            ScalarKind::Inverted => 0,
            ScalarKind::StlSort => 1,
            ScalarKind::Trie => 2,
            ScalarKind::Bitmap => 3,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => ScalarKind::Inverted,
            1 => ScalarKind::StlSort,
            2 => ScalarKind::Trie,
            3 => ScalarKind::Bitmap,
            _ => return None,
        })
    }
}

/// The sorted non-null values of the field.
#[derive(Debug, Clone, PartialEq)]
enum Keys {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    /// Float and Double fields (as f64, as the filter compares them), NaN aside
    Float(Vec<f64>),
    Str(Vec<String>),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Keys::Bool(k) => k.len(),
            Keys::Int(k) => k.len(),
            Keys::Float(k) => k.len(),
            Keys::Str(k) => k.len(),
        }
    }
}

/// One scalar index of one sealed segment (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarIndex {
    field: String,
    kind: ScalarKind,
    /// an Array field's: the keys are its elements, answering `array_contains*` only
    array: bool,
    /// the segment's rows, null ones included
    total: u32,
    keys: Keys,
    /// the row of each key
    rows: Vec<u32>,
    /// rows of a float field holding NaN
    nan_rows: Vec<u32>,
}

/// Which rows a predicate selects, as ranges of the sorted keys.
struct Selection {
    ranges: Vec<Range<usize>>,
    /// the rows are every non-null row (NaN ones included) but those of the ranges
    complement: bool,
}

impl Selection {
    fn of(r: Range<usize>) -> Self {
        Self {
            ranges: vec![r],
            complement: false,
        }
    }
}

/// The ranges of sorted keys where `op c` holds, from the number of keys below `c` (`lt`) and
/// at most `c` (`le`), out of `n`.
fn by_op(op: CmpOp, lt: usize, le: usize, n: usize) -> Selection {
    match op {
        CmpOp::Eq => Selection::of(lt..le),
        CmpOp::Ne => Selection {
            ranges: std::iter::once(lt..le).collect(),
            complement: true,
        },
        CmpOp::Lt => Selection::of(0..lt),
        CmpOp::Le => Selection::of(0..le),
        CmpOp::Gt => Selection::of(le..n),
        CmpOp::Ge => Selection::of(lt..n),
    }
}

/// `op NaN`: false, but `!=`, which every non-null row satisfies.
fn against_nan(op: CmpOp) -> Selection {
    Selection {
        ranges: vec![],
        complement: op == CmpOp::Ne,
    }
}

fn cmp_range<T>(
    keys: &[T],
    op: CmpOp,
    below: impl Fn(&T) -> bool,
    upto: impl Fn(&T) -> bool,
) -> Selection {
    let lt = keys.partition_point(below);
    let le = keys.partition_point(upto);
    by_op(op, lt, le, keys.len())
}

impl ScalarIndex {
    /// Builds the index of `column` (a sealed segment's column of field `field`, `n` rows).
    /// CPU work: call it off the async runtime.
    pub fn build(
        field: &str,
        kind: ScalarKind,
        column: &ColumnReader<'_>,
        n: usize,
    ) -> Result<Self, IndexError> {
        let total = u32::try_from(n)
            .map_err(|_| IndexError::InvalidParam("a segment over 2^32 rows".into()))?;
        let (key_type, array) = match column {
            ColumnReader::Array(_, element) => (*element, true),
            ColumnReader::Bool(_) => (DataType::Bool, false),
            ColumnReader::Int8(_)
            | ColumnReader::Int16(_)
            | ColumnReader::Int32(_)
            | ColumnReader::Int64(_) => (DataType::Int64, false),
            ColumnReader::Float(_) | ColumnReader::Double(_) => (DataType::Double, false),
            ColumnReader::Str(_) => (DataType::VarChar, false),
            _ => return Err(not_scalar()),
        };
        // every (value, row): an Array row gives one per element (none when null or empty)
        let mut values: Vec<(Value, u32)> = Vec::with_capacity(n);
        for r in 0..n {
            match column.get(r) {
                Value::Null => {}
                Value::Array(items) => values.extend(items.into_iter().map(|v| (v, r as u32))),
                v => values.push((v, r as u32)),
            }
        }
        let mut nan_rows = Vec::new();
        let (keys, rows) = match key_type {
            DataType::Bool => {
                let (k, r) = sorted(values, |v| match v {
                    Value::Bool(b) => Some(b),
                    _ => None,
                });
                (Keys::Bool(k), r)
            }
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                let (k, r) = sorted(values, |v| match v {
                    Value::Int(i) => Some(i),
                    _ => None,
                });
                (Keys::Int(k), r)
            }
            DataType::Float | DataType::Double => {
                // NaN equals nothing: kept aside (a scalar field's `!=` passes those rows)
                for (v, r) in &values {
                    if matches!(v, Value::Float(f) if f.is_nan()) && !array {
                        nan_rows.push(*r);
                    }
                }
                let (k, r) = sorted(values, |v| match v {
                    Value::Float(f) if !f.is_nan() => Some(Total(f)),
                    _ => None,
                });
                (Keys::Float(k.into_iter().map(|t| t.0).collect()), r)
            }
            DataType::VarChar => {
                let (k, r) = sorted(values, |v| match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                });
                (Keys::Str(k), r)
            }
            _ => return Err(not_scalar()),
        };
        Ok(Self {
            field: field.to_string(),
            kind,
            array,
            total,
            keys,
            rows,
            nan_rows,
        })
    }

    /// The field it indexes.
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn kind(&self) -> ScalarKind {
        self.kind
    }

    /// The segment's rows (null ones included).
    pub fn len(&self) -> usize {
        self.total as usize
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Clears `keep[r]` for each row not satisfying `leaf` and returns true, when this index
    /// serves `leaf` (see [`quarry_expr::FieldIndexes`]); false otherwise.
    pub fn narrow(&self, leaf: Leaf<'_>, keep: &mut [bool]) -> bool {
        if keep.len() != self.total as usize {
            return false;
        }
        if let Leaf::Contains { values, mode } = leaf {
            return self.array && self.contains(values, mode, keep);
        }
        if self.array {
            return false;
        }
        let Some(sel) = self.select(leaf) else {
            return false;
        };
        let mut pass = vec![false; keep.len()];
        if sel.complement {
            // null rows never pass: only the keyed and NaN rows start in
            self.rows.iter().for_each(|r| pass[*r as usize] = true);
            self.nan_rows.iter().for_each(|r| pass[*r as usize] = true);
        }
        for r in sel.ranges {
            for row in &self.rows[r] {
                pass[*row as usize] = !sel.complement;
            }
        }
        keep.iter_mut().zip(pass).for_each(|(k, p)| *k &= p);
        ANSWERS.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// `array_contains*`: the rows holding each value (an element equal to it as the filter
    /// compares: integers exactly, numbers of mixed kinds as f64), joined by `mode`.
    fn contains(&self, values: &[Value], mode: ContainsMode, keep: &mut [bool]) -> bool {
        let scalar = |v: &Value| {
            matches!(
                v,
                Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Bool(_)
            )
        };
        // no value: `all` holds for every non-null row, which the keys do not tell
        if values.is_empty() || !values.iter().all(scalar) {
            return false;
        }
        // per row: how many of the values it holds, each counted once
        let mut hits = vec![0u32; keep.len()];
        let mut last = vec![0u32; keep.len()];
        for (i, v) in values.iter().enumerate() {
            let tag = i as u32 + 1;
            // a value of another kind than the elements equals none of them
            let Some(sel) = self.compare(CmpOp::Eq, v) else {
                continue;
            };
            for r in sel.ranges {
                for row in &self.rows[r] {
                    let row = *row as usize;
                    if last[row] != tag {
                        last[row] = tag;
                        hits[row] += 1;
                    }
                }
            }
        }
        let wanted = values.len() as u32;
        let pass = |h: u32| match mode {
            ContainsMode::One | ContainsMode::Any => h > 0,
            ContainsMode::All => h == wanted,
        };
        keep.iter_mut().zip(&hits).for_each(|(k, h)| *k &= pass(*h));
        ANSWERS.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn select(&self, leaf: Leaf<'_>) -> Option<Selection> {
        match leaf {
            Leaf::Cmp(op, c) => self.compare(op, c),
            Leaf::In { set, negated } => {
                // what the `in` kernel serves: integers with integers, strings with strings
                let fits = |v: &Value| {
                    matches!(
                        (&self.keys, v),
                        (Keys::Int(_), Value::Int(_)) | (Keys::Str(_), Value::Str(_))
                    )
                };
                if !matches!(self.keys, Keys::Int(_) | Keys::Str(_)) || !set.iter().all(fits) {
                    return None;
                }
                let ranges = set
                    .iter()
                    .filter_map(|v| self.compare(CmpOp::Eq, v))
                    .flat_map(|sel| sel.ranges)
                    .collect();
                Some(Selection {
                    ranges,
                    complement: negated,
                })
            }
            Leaf::Prefix(t) => match &self.keys {
                Keys::Str(k) => {
                    let lo = k.partition_point(|x| x.as_str() < t);
                    let hi = k.partition_point(|x| x.as_str() < t || x.starts_with(t));
                    Some(Selection::of(lo..hi))
                }
                _ => None,
            },
            // answered by `contains`
            Leaf::Contains { .. } => None,
        }
    }

    /// `field op c` with the column kernel's semantics: integers with integers exactly,
    /// anything else numeric as f64.
    fn compare(&self, op: CmpOp, c: &Value) -> Option<Selection> {
        Some(match (&self.keys, c) {
            (Keys::Bool(k), Value::Bool(c)) => cmp_range(k, op, |x| x < c, |x| x <= c),
            (Keys::Int(k), Value::Int(c)) => cmp_range(k, op, |x| x < c, |x| x <= c),
            (Keys::Int(_) | Keys::Float(_), Value::Float(c)) if c.is_nan() => against_nan(op),
            (Keys::Int(k), Value::Float(c)) => {
                cmp_range(k, op, |x| (*x as f64) < *c, |x| (*x as f64) <= *c)
            }
            (Keys::Float(k), Value::Float(c)) => cmp_range(k, op, |x| x < c, |x| x <= c),
            (Keys::Float(k), Value::Int(c)) => {
                let c = *c as f64;
                cmp_range(k, op, |x| *x < c, |x| *x <= c)
            }
            (Keys::Str(k), Value::Str(c)) => cmp_range(
                k,
                op,
                |x| x.as_str() < c.as_str(),
                |x| x.as_str() <= c.as_str(),
            ),
            _ => return None,
        })
    }

    /// The index as bytes (what the index file holds).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.rows.len() * 12);
        out.extend_from_slice(MAGIC);
        out.push(self.kind.code());
        let tag = match &self.keys {
            Keys::Bool(_) => 0u8,
            Keys::Int(_) => 1,
            Keys::Float(_) => 2,
            Keys::Str(_) => 3,
        };
        out.push(tag);
        out.push(self.array as u8);
        put_bytes(&mut out, self.field.as_bytes());
        out.extend_from_slice(&self.total.to_le_bytes());
        out.extend_from_slice(&(self.rows.len() as u32).to_le_bytes());
        match &self.keys {
            Keys::Bool(k) => k.iter().for_each(|b| out.push(*b as u8)),
            Keys::Int(k) => k
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Keys::Float(k) => k
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Keys::Str(k) => k.iter().for_each(|s| put_bytes(&mut out, s.as_bytes())),
        }
        self.rows
            .iter()
            .for_each(|r| out.extend_from_slice(&r.to_le_bytes()));
        out.extend_from_slice(&(self.nan_rows.len() as u32).to_le_bytes());
        self.nan_rows
            .iter()
            .for_each(|r| out.extend_from_slice(&r.to_le_bytes()));
        out
    }

    /// Reads an index file; a file that is not one (truncated, corrupt) is an error, never a
    /// panic or an allocation beyond its size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IndexError> {
        let bad = |what: &str| IndexError::Native(format!("scalar index file: {what}"));
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(bad("not a scalar index"));
        }
        let kind = ScalarKind::from_code(r.u8()?).ok_or_else(|| bad("unknown kind"))?;
        let tag = r.u8()?;
        let array = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(bad("array flag")),
        };
        let field = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| bad("field name"))?;
        let total = r.u32()?;
        let n = r.u32()? as usize;
        let keys = match tag {
            0 => Keys::Bool(r.take(n)?.iter().map(|b| *b != 0).collect()),
            1 => Keys::Int(r.chunks::<8>(n)?.map(i64::from_le_bytes).collect()),
            2 => Keys::Float(r.chunks::<8>(n)?.map(f64::from_le_bytes).collect()),
            3 => {
                let mut k = Vec::with_capacity(n.min(r.0.len() / 4));
                for _ in 0..n {
                    k.push(String::from_utf8(r.bytes()?.to_vec()).map_err(|_| bad("a key"))?);
                }
                Keys::Str(k)
            }
            _ => return Err(bad("unknown key type")),
        };
        let rows: Vec<u32> = r.chunks::<4>(n)?.map(u32::from_le_bytes).collect();
        let nans = r.u32()? as usize;
        let nan_rows: Vec<u32> = r.chunks::<4>(nans)?.map(u32::from_le_bytes).collect();
        if rows.iter().chain(&nan_rows).any(|x| *x >= total) || !r.0.is_empty() {
            return Err(bad("rows out of range"));
        }
        debug_assert_eq!(keys.len(), rows.len());
        Ok(Self {
            field,
            kind,
            array,
            total,
            keys,
            rows,
            nan_rows,
        })
    }
}

const MAGIC: &[u8] = b"QSCI1";

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        if n > self.0.len() {
            return Err(IndexError::Native("scalar index file: truncated".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], IndexError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// `n` items of `W` bytes each, checked against the bytes left before anything is made.
    fn chunks<const W: usize>(
        &mut self,
        n: usize,
    ) -> Result<impl Iterator<Item = [u8; W]> + 'a, IndexError> {
        let len = n
            .checked_mul(W)
            .ok_or_else(|| IndexError::Native("scalar index file: truncated".into()))?;
        let b = self.take(len)?;
        Ok(b.chunks_exact(W).map(|c| {
            let mut a = [0u8; W];
            a.copy_from_slice(c);
            a
        }))
    }
}

fn not_scalar() -> IndexError {
    IndexError::NotForType(
        "a scalar index takes a Bool, integer, Float, Double, VarChar or Array column".into(),
    )
}

/// A float ordered for sorting (NaN is never one: left out before).
#[derive(PartialEq)]
struct Total(f64);

impl Eq for Total {}

impl PartialOrd for Total {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Total {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // -0.0 and 0.0 are one key, as the filter compares them
        self.0
            .partial_cmp(&other.0)
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// The values `key` takes (others left out) sorted, each with its row; a row once per key
/// (an Array row may hold a value twice).
fn sorted<K: Ord>(
    values: Vec<(Value, u32)>,
    key: impl Fn(Value) -> Option<K>,
) -> (Vec<K>, Vec<u32>) {
    let mut pairs: Vec<(K, u32)> = values
        .into_iter()
        .filter_map(|(v, r)| key(v).map(|k| (k, r)))
        .collect();
    pairs.sort();
    pairs.dedup_by(|a, b| a.1 == b.1 && a.0 == b.0);
    pairs.into_iter().unzip()
}
