//! Row-at-a-time evaluation. Comparisons involving null or values of different kinds are false
//! (SQL-like), so a filter never errors at run time.

use std::cmp::Ordering;

use quarry_types::Value;

use crate::ast::{ArithOp, CmpOp, PathItem};
use crate::compile::{ContainsMode, Expr, FieldRef};

/// Read access to the fields of one row.
pub trait RowAccess {
    fn value(&self, field: &str) -> Value;
}

fn follow(mut v: &serde_json::Value, path: &[PathItem]) -> Value {
    for item in path {
        let next = match (item, v) {
            (PathItem::Key(k), serde_json::Value::Object(m)) => m.get(k),
            (PathItem::Index(i), serde_json::Value::Array(a)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return Value::Null,
        }
    }
    Value::from_json(v)
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        // an Array row against a list (or another row): equal or not, element by element
        (Value::Array(_), _) | (_, Value::Array(_)) => {
            let (x, y) = (as_list(a.clone())?, as_list(b.clone())?);
            let same = x.len() == y.len()
                && x.iter()
                    .zip(&y)
                    .all(|(x, y)| compare(x, y) == Some(Ordering::Equal));
            same.then_some(Ordering::Equal)
        }
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Json(x), Value::Json(y)) => (x == y).then_some(Ordering::Equal),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Integer `x ** y`; `None` when the result is not an i64 (overflow, negative exponent).
fn int_pow(x: i64, y: i64) -> Option<i64> {
    match (x, u32::try_from(y)) {
        (_, Ok(e)) => x.checked_pow(e),
        _ if y < 0 => None,
        // exponents beyond u32: only 0, 1 and -1 stay in range
        (0 | 1, _) => Some(x),
        (-1, _) => Some(if y % 2 == 0 { 1 } else { -1 }),
        _ => None,
    }
}

/// Arithmetic never fails: an integer overflow, a division by zero or a result that is not a
/// finite number is null, and comparisons with null are false.
pub(crate) fn arith(op: ArithOp, a: Value, b: Value) -> Value {
    if let (Value::Int(x), Value::Int(y)) = (&a, &b) {
        let r = match op {
            ArithOp::Add => x.checked_add(*y),
            ArithOp::Sub => x.checked_sub(*y),
            ArithOp::Mul => x.checked_mul(*y),
            ArithOp::Div => x.checked_div(*y),
            ArithOp::Mod => x.checked_rem(*y),
            ArithOp::Pow => int_pow(*x, *y),
        };
        return r.map(Value::Int).unwrap_or(Value::Null);
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
        return Value::Null;
    };
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Mod => x % y,
        ArithOp::Pow => x.powf(y),
    };
    if r.is_finite() {
        Value::Float(r)
    } else {
        Value::Null
    }
}

/// SQL LIKE: `%` any run, `_` one character, `\%` and `\_` literal.
pub(crate) fn like(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum P {
        Any,
        One,
        Ch(char),
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '\\' => P::Ch(chars.next().unwrap_or('\\')),
            '%' => P::Any,
            '_' => P::One,
            c => P::Ch(c),
        });
    }
    let text: Vec<char> = s.chars().collect();
    // iterative wildcard matching with backtracking to the last `%`
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == P::One || pat[p] == P::Ch(text[t])) {
            t += 1;
            p += 1;
        } else if p < pat.len() && pat[p] == P::Any {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|x| *x == P::Any)
}

fn as_list(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(items) => Some(items),
        Value::Json(serde_json::Value::Array(a)) => Some(a.iter().map(Value::from_json).collect()),
        _ => None,
    }
}

// `eval` and `matches` recurse once per tree node: each arm that needs locals is a function
// of its own, so a frame on the recursive path stays small in a debug build.
impl Expr {
    fn eval(&self, row: &dyn RowAccess) -> Value {
        match self {
            Expr::Const(v) => v.clone(),
            Expr::Field(f) => field(f, row),
            Expr::Neg(e) => neg(e.eval(row)),
            Expr::Arith(first, rest) => eval_arith(first, rest, row),
            Expr::Length(e) => length(e.eval(row)),
            other => Value::Bool(other.matches(row)),
        }
    }

    /// Whether the row satisfies the condition.
    pub fn matches(&self, row: &dyn RowAccess) -> bool {
        match self {
            Expr::And(items) => all(items, row),
            Expr::Or(items) => any(items, row),
            Expr::Not(e) => !e.matches(row),
            Expr::Cmp(op, l, r) => cmp_matches(*op, l.eval(row), r.eval(row)),
            Expr::In { expr, set, negated } => in_matches(expr.eval(row), set, *negated),
            Expr::Like { expr, pattern } => like_matches(expr.eval(row), pattern),
            Expr::IsNull { expr, negated } => matches!(expr.eval(row), Value::Null) != *negated,
            Expr::Contains { expr, values, mode } => contains(expr.eval(row), values, *mode),
            Expr::TextMatch {
                expr,
                analyzer,
                tokens,
            } => match expr.eval(row) {
                Value::Str(s) => analyzer
                    .tokens(&s)
                    .iter()
                    .any(|t| tokens.binary_search(t).is_ok()),
                _ => false,
            },
            Expr::PhraseMatch {
                expr,
                analyzer,
                tokens,
                slop,
            } => match expr.eval(row) {
                Value::Str(s) => phrase_in(&analyzer.analyze(&s), tokens, *slop),
                _ => false,
            },
            Expr::Const(Value::Bool(b)) => *b,
            other => matches!(other.eval(row), Value::Bool(true)),
        }
    }
}

fn field(f: &FieldRef, row: &dyn RowAccess) -> Value {
    let v = row.value(&f.field);
    if f.path.is_empty() {
        return v;
    }
    match (v, f.path.as_slice()) {
        (Value::Json(j), path) => follow(&j, path),
        (Value::Array(mut items), [PathItem::Index(i)]) if *i < items.len() => {
            items.swap_remove(*i)
        }
        _ => Value::Null,
    }
}

fn neg(v: Value) -> Value {
    match v {
        Value::Int(i) => i.checked_neg().map(Value::Int).unwrap_or(Value::Null),
        Value::Float(f) => Value::Float(-f),
        _ => Value::Null,
    }
}

fn length(v: Value) -> Value {
    as_list(v)
        .map(|l| Value::Int(l.len() as i64))
        .unwrap_or(Value::Null)
}

fn eval_arith(first: &Expr, rest: &[(ArithOp, Expr)], row: &dyn RowAccess) -> Value {
    let mut acc = first.eval(row);
    for (op, e) in rest {
        acc = arith(*op, acc, e.eval(row));
    }
    acc
}

fn all(items: &[Expr], row: &dyn RowAccess) -> bool {
    for e in items {
        if !e.matches(row) {
            return false;
        }
    }
    true
}

fn any(items: &[Expr], row: &dyn RowAccess) -> bool {
    for e in items {
        if e.matches(row) {
            return true;
        }
    }
    false
}

fn cmp_matches(op: CmpOp, a: Value, b: Value) -> bool {
    let Some(ord) = compare(&a, &b) else {
        return op == CmpOp::Ne && !matches!(a, Value::Null) && !matches!(b, Value::Null) && a != b;
    };
    op.holds(ord)
}

fn in_matches(v: Value, set: &[Value], negated: bool) -> bool {
    if matches!(v, Value::Null) {
        return false;
    }
    set.iter().any(|s| compare(&v, s) == Some(Ordering::Equal)) != negated
}

fn like_matches(v: Value, pattern: &str) -> bool {
    matches!(v, Value::Str(s) if like(&s, pattern))
}

fn contains(v: Value, values: &[Value], mode: ContainsMode) -> bool {
    let Some(list) = as_list(v) else {
        return false;
    };
    let has = |v: &Value| list.iter().any(|x| compare(x, v) == Some(Ordering::Equal));
    match mode {
        ContainsMode::One | ContainsMode::Any => values.iter().any(has),
        ContainsMode::All => values.iter().all(has),
    }
}

/// Whether `doc` holds the phrase: its tokens in order, the i-th at least its offset after
/// the first, the extra positions between them `slop` at most in all. Per start the earliest
/// fitting place of each next token is taken (the least extra so far, which leaves the most
/// for the rest). An empty phrase matches nothing.
fn phrase_in(doc: &[crate::text::Token], phrase: &[(String, usize)], slop: usize) -> bool {
    let Some((first, _)) = phrase.first() else {
        return false;
    };
    let at = |t: &str, from: usize| {
        doc.iter()
            .find(|d| d.position >= from && d.text == t)
            .map(|d| d.position)
    };
    doc.iter().filter(|d| &d.text == first).any(|start| {
        let mut prev = (start.position, 0usize);
        let mut extra = 0usize;
        for (t, off) in &phrase[1..] {
            let want = prev.0 + (off - prev.1);
            let Some(p) = at(t, want) else {
                return false;
            };
            extra += p - want;
            if extra > slop {
                return false;
            }
            prev = (p, *off);
        }
        true
    })
}
