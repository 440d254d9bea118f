//! Column-at-a-time evaluation over an Arrow batch, with the row evaluator's exact semantics.
//!
//! [`Expr::filter_batch`] narrows a bitmap (true: the row is still in) to the rows that also
//! satisfy the expression. The common predicates of a filter — a scalar field compared with a
//! constant, `in` a list of constants, `like`, `is null`, and `and`/`or`/`not` of those — run
//! as tight loops over the typed column; anything else (arithmetic, JSON paths, dynamic keys,
//! mixed kinds) falls back to the row evaluator, for the rows still in only. `and` narrows in
//! place operand by operand, the column kernels first, so a costly operand sees only the rows
//! the cheap ones let through.
//!
//! A sealed segment's scalar indexes ([`FieldIndexes`]) may answer a kernel's predicate in its
//! place (`field op constant`, `in`, an exact or prefix `like`): the index narrows the bitmap
//! from its sorted keys, with the kernel's semantics (a null row never passes; NaN is unequal
//! to everything).

use std::collections::HashSet;

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, PrimitiveArray, RecordBatch, StringArray};
use quarry_types::batch::ColumnReader;
use quarry_types::{CollectionSchema, Value};

use crate::ast::CmpOp;
use crate::compile::{ContainsMode, Expr, FieldRef};
use crate::eval::{like, RowAccess};

/// A predicate on one field that a scalar index may answer in place of the column kernel.
#[derive(Debug, Clone, Copy)]
pub enum Leaf<'a> {
    /// `field op constant`: a number with a numeric field, a string with a string field, a
    /// boolean with a boolean field
    Cmp(CmpOp, &'a Value),
    /// `field [not] in [..]`: integers with an integer field, strings with a string field
    In { set: &'a [Value], negated: bool },
    /// `field like 'prefix%'` (an exact `like` comes as `Cmp(Eq, ..)`)
    Prefix(&'a str),
    /// `array_contains(field, v)`, `array_contains_any(field, [..])`,
    /// `array_contains_all(field, [..])` on an Array field
    Contains {
        values: &'a [Value],
        mode: ContainsMode,
    },
}

/// The scalar indexes of one batch's rows (a sealed segment's): row `r` of the batch is row
/// `r` of each index.
pub trait FieldIndexes {
    /// Clears `keep[r]` for each row not satisfying `leaf` on `field` and returns true, when an
    /// index of `field` serves `leaf`; returns false (and leaves `keep` alone) otherwise.
    fn narrow(&self, field: &str, leaf: Leaf<'_>, keep: &mut [bool]) -> bool;

    /// Whether `field` has an index (which may answer some of its predicates).
    fn has(&self, field: &str) -> bool;
}

/// The columns of one batch, read through the schema.
struct Batch<'a> {
    schema: &'a CollectionSchema,
    readers: Vec<ColumnReader<'a>>,
    indexes: Option<&'a dyn FieldIndexes>,
}

impl<'a> Batch<'a> {
    fn new(schema: &'a CollectionSchema, batch: &'a RecordBatch) -> Self {
        let readers = schema
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| ColumnReader::new(batch.column(i), f.data_type))
            .collect();
        Self {
            schema,
            readers,
            indexes: None,
        }
    }

    /// Whether the field `e` names has an index.
    fn has_index(&self, e: &Expr) -> bool {
        match (self.indexes, e) {
            (Some(ix), Expr::Field(f)) if f.path.is_empty() => ix.has(&f.field),
            _ => false,
        }
    }

    /// Asks the batch's indexes to answer `leaf` on the field `e` names.
    fn indexed(&self, e: &Expr, leaf: Leaf<'_>, keep: &mut [bool]) -> bool {
        match (self.indexes, e) {
            (Some(ix), Expr::Field(f)) if f.path.is_empty() => ix.narrow(&f.field, leaf, keep),
            _ => false,
        }
    }

    /// The reader of a plain column (no JSON path) the expression names.
    fn column(&self, f: &FieldRef) -> Option<&ColumnReader<'_>> {
        if !f.path.is_empty() {
            return None;
        }
        let i = self.schema.fields.iter().position(|x| x.name == f.field)?;
        self.readers.get(i)
    }
}

struct Row<'a, 'b> {
    batch: &'b Batch<'a>,
    row: usize,
}

impl RowAccess for Row<'_, '_> {
    fn value(&self, field: &str) -> Value {
        match self
            .batch
            .schema
            .fields
            .iter()
            .position(|f| f.name == field)
        {
            Some(i) => self.batch.readers[i].get(self.row),
            None => Value::Null,
        }
    }
}

impl Expr {
    /// Clears `keep[r]` for each row `r` of `batch` (columns in the order of `schema`'s
    /// fields) that does not satisfy this expression; rows already cleared are not evaluated.
    /// Gives the same answer as [`Expr::matches`] row by row.
    pub fn filter_batch(&self, schema: &CollectionSchema, batch: &RecordBatch, keep: &mut [bool]) {
        narrow(self, &Batch::new(schema, batch), keep);
    }

    /// [`Expr::filter_batch`] with the batch's scalar indexes answering what they serve.
    pub fn filter_batch_indexed(
        &self,
        schema: &CollectionSchema,
        batch: &RecordBatch,
        indexes: &dyn FieldIndexes,
        keep: &mut [bool],
    ) {
        let mut b = Batch::new(schema, batch);
        b.indexes = Some(indexes);
        narrow(self, &b, keep);
    }
}

/// Whether a column kernel (not the row evaluator) evaluates `e` on `batch` (tests).
#[cfg(test)]
pub(crate) fn kernel_serves(e: &Expr, schema: &CollectionSchema, batch: &RecordBatch) -> bool {
    is_kernel(e, &Batch::new(schema, batch))
}

/// Whether a column kernel evaluates `e` (so an `and` runs it before the others).
fn is_kernel(e: &Expr, b: &Batch<'_>) -> bool {
    match e {
        Expr::Cmp(op, l, r) => cmp_operands(*op, l, r, b).is_some(),
        Expr::In { expr, set, .. } => field_of(expr, b).is_some_and(|c| in_kind(c, set)),
        Expr::Like { expr, .. } => matches!(field_of(expr, b), Some(ColumnReader::Str(_))),
        Expr::IsNull { expr, .. } => field_of(expr, b).is_some_and(|c| nulls_of(c).is_some()),
        Expr::Const(Value::Bool(_)) => true,
        Expr::Contains { expr, .. } => b.has_index(expr),
        _ => false,
    }
}

fn narrow(e: &Expr, b: &Batch<'_>, keep: &mut [bool]) {
    match e {
        Expr::And(items) => {
            let (fast, slow): (Vec<&Expr>, Vec<&Expr>) =
                items.iter().partition(|x| is_kernel(x, b));
            for x in fast.into_iter().chain(slow) {
                narrow(x, b, keep);
            }
        }
        Expr::Or(items) => {
            // rows satisfying an operand so far; each next operand looks at the others only
            let mut any = vec![false; keep.len()];
            for x in items {
                let mut mine: Vec<bool> = keep.iter().zip(&any).map(|(k, a)| *k && !a).collect();
                narrow(x, b, &mut mine);
                any.iter_mut().zip(&mine).for_each(|(a, m)| *a |= m);
            }
            keep.iter_mut().zip(&any).for_each(|(k, a)| *k &= a);
        }
        Expr::Not(inner) => {
            let mut mine = keep.to_vec();
            narrow(inner, b, &mut mine);
            keep.iter_mut().zip(&mine).for_each(|(k, m)| *k &= !m);
        }
        Expr::Const(Value::Bool(v)) => {
            if !v {
                keep.fill(false);
            }
        }
        Expr::Cmp(op, l, r) => match cmp_operands(*op, l, r, b) {
            Some((op, field, col, c)) => {
                if !b.indexed(field, Leaf::Cmp(op, c), keep) {
                    cmp_kernel(op, col, c, keep)
                }
            }
            None => rows(e, b, keep),
        },
        Expr::In { expr, set, negated } => match field_of(expr, b).filter(|c| in_kind(c, set)) {
            Some(col) => {
                let leaf = Leaf::In {
                    set,
                    negated: *negated,
                };
                if !b.indexed(expr, leaf, keep) {
                    in_kernel(col, set, *negated, keep)
                }
            }
            None => rows(e, b, keep),
        },
        Expr::Like { expr, pattern } => match field_of(expr, b) {
            Some(ColumnReader::Str(a)) => {
                let served = match shape(pattern) {
                    Shape::Exact(t) => {
                        let t = Value::Str(t.to_string());
                        b.indexed(expr, Leaf::Cmp(CmpOp::Eq, &t), keep)
                    }
                    Shape::Prefix(t) => b.indexed(expr, Leaf::Prefix(t), keep),
                    _ => false,
                };
                if !served {
                    like_kernel(a, pattern, keep)
                }
            }
            _ => rows(e, b, keep),
        },
        Expr::IsNull { expr, negated } => match field_of(expr, b).and_then(nulls_of) {
            Some(nulls) => {
                for (r, k) in keep.iter_mut().enumerate() {
                    let is_null = nulls.is_some_and(|n| n.is_null(r));
                    *k &= is_null != *negated;
                }
            }
            None => rows(e, b, keep),
        },
        Expr::Contains { expr, values, mode } => {
            let leaf = Leaf::Contains {
                values,
                mode: *mode,
            };
            if !b.indexed(expr, leaf, keep) {
                rows(e, b, keep)
            }
        }
        _ => rows(e, b, keep),
    }
}

/// The row evaluator, on the rows still in.
fn rows(e: &Expr, b: &Batch<'_>, keep: &mut [bool]) {
    for (row, k) in keep.iter_mut().enumerate() {
        if *k {
            *k = e.matches(&Row { batch: b, row });
        }
    }
}

fn field_of<'b>(e: &Expr, b: &'b Batch<'_>) -> Option<&'b ColumnReader<'b>> {
    match e {
        Expr::Field(f) => b.column(f),
        _ => None,
    }
}

/// The null rows of a scalar column (`Some(None)`: none can be null); `None` for the other
/// kinds of column, which the row evaluator serves.
fn nulls_of<'c>(c: &'c ColumnReader<'_>) -> Option<Option<&'c arrow_buffer::NullBuffer>> {
    Some(match c {
        ColumnReader::Bool(a) => a.nulls(),
        ColumnReader::Int8(a) => a.nulls(),
        ColumnReader::Int16(a) => a.nulls(),
        ColumnReader::Int32(a) => a.nulls(),
        ColumnReader::Int64(a) => a.nulls(),
        ColumnReader::Float(a) => a.nulls(),
        ColumnReader::Double(a) => a.nulls(),
        ColumnReader::Str(a) | ColumnReader::Json(a) => a.nulls(),
        _ => return None,
    })
}

/// A comparison as `column op constant` when a kernel serves it (the constant's kind fits
/// the column's: numbers with numbers, strings with strings, booleans with booleans).
fn cmp_operands<'e, 'b>(
    op: CmpOp,
    l: &'e Expr,
    r: &'e Expr,
    b: &'b Batch<'_>,
) -> Option<(CmpOp, &'e Expr, &'b ColumnReader<'b>, &'e Value)> {
    let (op, field, col, c) = match (l, r) {
        (Expr::Field(f), Expr::Const(c)) => (op, l, b.column(f)?, c),
        (Expr::Const(c), Expr::Field(f)) => (flip(op), r, b.column(f)?, c),
        _ => return None,
    };
    let fits = matches!(
        (col, c),
        (ColumnReader::Str(_), Value::Str(_))
            | (ColumnReader::Bool(_), Value::Bool(_))
            | (
                ColumnReader::Int8(_)
                    | ColumnReader::Int16(_)
                    | ColumnReader::Int32(_)
                    | ColumnReader::Int64(_)
                    | ColumnReader::Float(_)
                    | ColumnReader::Double(_),
                Value::Int(_) | Value::Float(_),
            )
    );
    fits.then_some((op, field, col, c))
}

/// `c op x` as `x op' c`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// `keep[r] &= the row is not null and test(value)`, over a primitive column.
fn prim<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    keep: &mut [bool],
    test: impl Fn(T::Native) -> bool,
) {
    let values = a.values();
    match a.nulls() {
        None => keep
            .iter_mut()
            .zip(values.iter())
            .for_each(|(k, x)| *k &= test(*x)),
        Some(n) => keep
            .iter_mut()
            .zip(values.iter())
            .enumerate()
            .for_each(|(r, (k, x))| *k &= n.is_valid(r) && test(*x)),
    }
}

/// One loop per operator, so that each compiles to a plain vectorisable comparison. Numbers
/// compare as the row evaluator does: integers with integers exactly, anything else as f64
/// (IEEE: NaN is unequal to everything, and `!=` to it is true).
macro_rules! by_op {
    ($op:expr, $a:expr, $keep:expr, |$x:ident| $lhs:expr, $c:expr) => {{
        let c = $c;
        match $op {
            CmpOp::Eq => prim($a, $keep, |$x| $lhs == c),
            CmpOp::Ne => prim($a, $keep, |$x| $lhs != c),
            CmpOp::Lt => prim($a, $keep, |$x| $lhs < c),
            CmpOp::Le => prim($a, $keep, |$x| $lhs <= c),
            CmpOp::Gt => prim($a, $keep, |$x| $lhs > c),
            CmpOp::Ge => prim($a, $keep, |$x| $lhs >= c),
        }
    }};
}

macro_rules! numeric {
    ($op:expr, $a:expr, $keep:expr, $c:expr, int) => {
        match $c {
            Value::Int(c) => by_op!($op, $a, $keep, |x| x as i64, *c),
            Value::Float(c) => by_op!($op, $a, $keep, |x| x as f64, *c),
            _ => {}
        }
    };
    ($op:expr, $a:expr, $keep:expr, $c:expr, float) => {
        match $c {
            Value::Int(c) => by_op!($op, $a, $keep, |x| x as f64, *c as f64),
            Value::Float(c) => by_op!($op, $a, $keep, |x| x as f64, *c),
            _ => {}
        }
    };
}

fn cmp_kernel(op: CmpOp, col: &ColumnReader<'_>, c: &Value, keep: &mut [bool]) {
    match col {
        ColumnReader::Int8(a) => numeric!(op, *a, keep, c, int),
        ColumnReader::Int16(a) => numeric!(op, *a, keep, c, int),
        ColumnReader::Int32(a) => numeric!(op, *a, keep, c, int),
        ColumnReader::Int64(a) => numeric!(op, *a, keep, c, int),
        ColumnReader::Float(a) => numeric!(op, *a, keep, c, float),
        ColumnReader::Double(a) => numeric!(op, *a, keep, c, float),
        ColumnReader::Str(a) => {
            let Value::Str(c) = c else { return };
            for (r, k) in keep.iter_mut().enumerate() {
                if *k {
                    *k = a.is_valid(r) && op.holds(a.value(r).cmp(c.as_str()));
                }
            }
        }
        ColumnReader::Bool(a) => {
            let Value::Bool(c) = c else { return };
            for (r, k) in keep.iter_mut().enumerate() {
                if *k {
                    *k = a.is_valid(r) && op.holds(a.value(r).cmp(c));
                }
            }
        }
        _ => {}
    }
}

/// Whether an `in` kernel serves this column and list: integers in a list of integers,
/// strings in a list of strings.
fn in_kind(col: &ColumnReader<'_>, set: &[Value]) -> bool {
    match col {
        ColumnReader::Int8(_)
        | ColumnReader::Int16(_)
        | ColumnReader::Int32(_)
        | ColumnReader::Int64(_) => set.iter().all(|v| matches!(v, Value::Int(_))),
        ColumnReader::Str(_) => set.iter().all(|v| matches!(v, Value::Str(_))),
        _ => false,
    }
}

fn in_kernel(col: &ColumnReader<'_>, set: &[Value], negated: bool, keep: &mut [bool]) {
    let ints: HashSet<i64> = set
        .iter()
        .filter_map(|v| {
            if let Value::Int(i) = v {
                Some(*i)
            } else {
                None
            }
        })
        .collect();
    match col {
        ColumnReader::Int8(a) => prim(*a, keep, |x| ints.contains(&(x as i64)) != negated),
        ColumnReader::Int16(a) => prim(*a, keep, |x| ints.contains(&(x as i64)) != negated),
        ColumnReader::Int32(a) => prim(*a, keep, |x| ints.contains(&(x as i64)) != negated),
        ColumnReader::Int64(a) => prim(*a, keep, |x| ints.contains(&x) != negated),
        ColumnReader::Str(a) => {
            let strs: HashSet<&str> = set
                .iter()
                .filter_map(|v| {
                    if let Value::Str(s) = v {
                        Some(s.as_str())
                    } else {
                        None
                    }
                })
                .collect();
            for (r, k) in keep.iter_mut().enumerate() {
                if *k {
                    *k = a.is_valid(r) && strs.contains(a.value(r)) != negated;
                }
            }
        }
        _ => {}
    }
}

/// A `like` pattern by its shape: the common ones are plain string tests.
enum Shape<'p> {
    Exact(&'p str),
    Prefix(&'p str),
    Suffix(&'p str),
    Infix(&'p str),
    Other,
}

fn shape(p: &str) -> Shape<'_> {
    if p.contains(['\\', '_']) {
        return Shape::Other;
    }
    let (lead, rest) = match p.strip_prefix('%') {
        Some(r) => (true, r),
        None => (false, p),
    };
    let (trail, inner) = match rest.strip_suffix('%') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if inner.is_empty() || inner.contains('%') {
        return Shape::Other;
    }
    match (lead, trail) {
        (false, false) => Shape::Exact(inner),
        (false, true) => Shape::Prefix(inner),
        (true, false) => Shape::Suffix(inner),
        (true, true) => Shape::Infix(inner),
    }
}

fn like_kernel(a: &StringArray, pattern: &str, keep: &mut [bool]) {
    let shape = shape(pattern);
    for (r, k) in keep.iter_mut().enumerate() {
        if !*k {
            continue;
        }
        if !a.is_valid(r) {
            *k = false;
            continue;
        }
        let s = a.value(r);
        *k = match shape {
            Shape::Exact(t) => s == t,
            Shape::Prefix(t) => s.starts_with(t),
            Shape::Suffix(t) => s.ends_with(t),
            Shape::Infix(t) => s.contains(t),
            Shape::Other => like(s, pattern),
        };
    }
}
