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
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Json(x), Value::Json(y)) => (x == y).then_some(Ordering::Equal),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn arith(op: ArithOp, a: Value, b: Value) -> Value {
    if let (Value::Int(x), Value::Int(y)) = (&a, &b) {
        let r = match op {
            ArithOp::Add => x.checked_add(*y),
            ArithOp::Sub => x.checked_sub(*y),
            ArithOp::Mul => x.checked_mul(*y),
            ArithOp::Div => x.checked_div(*y),
            ArithOp::Mod => x.checked_rem(*y),
            ArithOp::Pow => u32::try_from(*y).ok().and_then(|e| x.checked_pow(e)),
        };
        return r.map(Value::Int).unwrap_or(Value::Null);
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Value::Float(match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
            ArithOp::Mod => x % y,
            ArithOp::Pow => x.powf(y),
        }),
        _ => Value::Null,
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
        Value::Json(serde_json::Value::Array(a)) => Some(a.iter().map(Value::from_json).collect()),
        _ => None,
    }
}

impl Expr {
    fn eval(&self, row: &dyn RowAccess) -> Value {
        match self {
            Expr::Const(v) => v.clone(),
            Expr::Field(FieldRef { field, path, .. }) => {
                let v = row.value(field);
                if path.is_empty() {
                    return v;
                }
                match &v {
                    Value::Json(j) => follow(j, path),
                    _ => Value::Null,
                }
            }
            Expr::Neg(e) => match e.eval(row) {
                Value::Int(i) => i.checked_neg().map(Value::Int).unwrap_or(Value::Null),
                Value::Float(f) => Value::Float(-f),
                _ => Value::Null,
            },
            Expr::Arith(op, l, r) => arith(*op, l.eval(row), r.eval(row)),
            Expr::Length(e) => as_list(e.eval(row))
                .map(|l| Value::Int(l.len() as i64))
                .unwrap_or(Value::Null),
            other => Value::Bool(other.matches(row)),
        }
    }

    /// Whether the row satisfies the condition.
    pub fn matches(&self, row: &dyn RowAccess) -> bool {
        match self {
            Expr::And(l, r) => l.matches(row) && r.matches(row),
            Expr::Or(l, r) => l.matches(row) || r.matches(row),
            Expr::Not(e) => !e.matches(row),
            Expr::Cmp(op, l, r) => {
                let (a, b) = (l.eval(row), r.eval(row));
                let Some(ord) = compare(&a, &b) else {
                    return *op == CmpOp::Ne
                        && !matches!(a, Value::Null)
                        && !matches!(b, Value::Null)
                        && a != b;
                };
                match op {
                    CmpOp::Eq => ord == Ordering::Equal,
                    CmpOp::Ne => ord != Ordering::Equal,
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    CmpOp::Ge => ord != Ordering::Less,
                }
            }
            Expr::In { expr, set, negated } => {
                let v = expr.eval(row);
                if matches!(v, Value::Null) {
                    return false;
                }
                set.iter().any(|s| compare(&v, s) == Some(Ordering::Equal)) != *negated
            }
            Expr::Like { expr, pattern } => {
                matches!(expr.eval(row), Value::Str(s) if like(&s, pattern))
            }
            Expr::IsNull { expr, negated } => matches!(expr.eval(row), Value::Null) != *negated,
            Expr::Contains { expr, values, mode } => {
                let Some(list) = as_list(expr.eval(row)) else {
                    return false;
                };
                let has = |v: &Value| list.iter().any(|x| compare(x, v) == Some(Ordering::Equal));
                match mode {
                    ContainsMode::One | ContainsMode::Any => values.iter().any(has),
                    ContainsMode::All => values.iter().all(has),
                }
            }
            Expr::Const(Value::Bool(b)) => *b,
            other => matches!(other.eval(row), Value::Bool(true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use quarry_types::{CollectionSchema, DataType, FieldSchema};

    use super::*;
    use crate::{prepare, ExprError};

    fn f(name: &str, dt: DataType, params: &[(&str, &str)]) -> FieldSchema {
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
            name: "docs".into(),
            description: String::new(),
            auto_id: false,
            fields: vec![
                f("id", DataType::Int64, &[]),
                f("title", DataType::VarChar, &[("max_length", "64")]),
                f("year", DataType::Int32, &[]),
                f("score", DataType::Double, &[]),
                f("meta", DataType::Json, &[]),
                f("emb", DataType::FloatVector, &[("dim", "2")]),
            ],
            enable_dynamic_field: true,
            properties: vec![],
        }
        .prepare_new()
        .unwrap()
    }

    struct Row(HashMap<&'static str, Value>);
    impl RowAccess for Row {
        fn value(&self, field: &str) -> Value {
            self.0.get(field).cloned().unwrap_or(Value::Null)
        }
    }

    fn row() -> Row {
        Row(HashMap::from([
            ("id", Value::Int(7)),
            ("title", Value::Str("Alpha beta".into())),
            ("year", Value::Int(2001)),
            ("score", Value::Float(0.5)),
            (
                "meta",
                Value::Json(serde_json::json!({"k": 2, "tags": ["a", "b"], "nested": {"x": "y"}})),
            ),
            (
                "$meta",
                Value::Json(serde_json::json!({"color": "red", "n": 3})),
            ),
        ]))
    }

    fn check(text: &str) -> bool {
        let e = prepare(
            text,
            &schema(),
            &HashMap::from([("lim".to_string(), Value::Int(2000))]),
        )
        .unwrap()
        .unwrap();
        e.matches(&row())
    }

    #[test]
    fn evaluates_the_language() {
        let yes = [
            "year >= 2000 and title like \"A%\"",
            "id in [1, 7, 9]",
            "id not in [1, 2]",
            "year > {lim}",
            "score < 1 && score > 0.1",
            "2000 < year <= 2001",
            "(year + 1) * 2 == 4004",
            "year % 2 == 1",
            "meta[\"k\"] > 1",
            "meta[\"nested\"][\"x\"] == 'y'",
            "json_contains(meta[\"tags\"], \"b\")",
            "json_contains_all(meta[\"tags\"], [\"a\", \"b\"])",
            "array_length(meta[\"tags\"]) == 2",
            "color == \"red\"",
            "n + 1 == 4",
            "missing is null",
            "not (year < 2000)",
            "title like \"%beta\"",
            "title like \"Al_ha%\"",
            "id == 7 or nothing == 1",
        ];
        for t in yes {
            assert!(check(t), "{t} should match");
        }
        let no = [
            "year < 2000",
            "title like \"B%\"",
            "color == \"blue\"",
            "missing == 1",
            "missing != 1",
            "id in []",
            "json_contains(meta[\"tags\"], \"z\")",
        ];
        for t in no {
            assert!(!check(t), "{t} should not match");
        }
    }

    #[test]
    fn compile_errors_are_clear() {
        let mut s = schema();
        let e = prepare("title > 5", &s, &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("cannot compare field title"), "{e}");
        let e = prepare("emb > 1", &s, &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("vector field emb"), "{e}");
        let e = prepare("year + 1", &s, &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("boolean"), "{e}");
        let e = prepare("year > {x}", &s, &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("{x}"), "{e}");
        s.fields.retain(|f| !f.is_dynamic);
        let e = prepare("nope == 1", &s, &HashMap::new()).unwrap_err();
        assert!(
            matches!(e, ExprError::UnknownField { ref field, .. } if field == "nope"),
            "{e}"
        );
        assert!(e.to_string().contains("nope == 1"));
    }

    #[test]
    fn pk_lookup_fast_path() {
        let s = schema();
        let e = prepare("id in [1, 2]", &s, &HashMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(e.pk_lookup("id"), Some(vec![Value::Int(1), Value::Int(2)]));
        let e = prepare("id in [1] and year > 1", &s, &HashMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(e.pk_lookup("id"), None);
    }

    #[test]
    fn like_patterns() {
        assert!(like("abc", "a%"));
        assert!(like("abc", "%c"));
        assert!(like("abc", "%b%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
        assert!(like("", "%"));
    }
}
