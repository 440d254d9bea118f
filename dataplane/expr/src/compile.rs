//! Name resolution and type checks: turns an [`Ast`] into an executable [`Expr`].

use std::cell::Cell;
use std::collections::HashMap;

use quarry_types::limits::{MAX_EXPR_DEPTH, MAX_EXPR_LIST};
use quarry_types::{CollectionSchema, DataType, Value};

use crate::ast::{ArithOp, Ast, CmpOp, PathItem};
use crate::resolve::{Ctx, Res};
use crate::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    pub field: String,
    pub data_type: DataType,
    pub path: Vec<PathItem>,
    /// the element type of an Array field (whose path, if any, is one index: `f[0]`)
    pub element_type: Option<DataType>,
}

impl FieldRef {
    /// The type of the value this reference reads: an Array field's element type when it
    /// names one element, else the field's type.
    pub fn value_type(&self) -> DataType {
        match self.element_type {
            Some(t) if !self.path.is_empty() => t,
            _ => self.data_type,
        }
    }

    /// Whether this reads a whole Array field.
    pub fn is_whole_array(&self) -> bool {
        self.data_type == DataType::Array && self.path.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainsMode {
    One,
    All,
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Const(Value),
    Field(FieldRef),
    Neg(Box<Expr>),
    /// `first op1 x1 op2 x2 ...`, evaluated left to right.
    Arith(Box<Expr>, Vec<(ArithOp, Expr)>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In {
        expr: Box<Expr>,
        set: Vec<Value>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: String,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Contains {
        expr: Box<Expr>,
        values: Vec<Value>,
        mode: ContainsMode,
    },
    Length(Box<Expr>),
    /// `text_match(field, 'words')`: the field's analyzed value holds one of `tokens` (the
    /// query analyzed by the same analyzer; sorted, without repeats)
    TextMatch {
        expr: Box<Expr>,
        analyzer: Box<crate::text::Analyzer>,
        tokens: Vec<String>,
    },
    /// `phrase_match(field, 'words', slop)`: the field's analyzed value holds the query's
    /// tokens in order, each at its place relative to the first (`tokens`: token and offset
    /// from the first's position), with at most `slop` extra positions in all between them
    PhraseMatch {
        expr: Box<Expr>,
        analyzer: Box<crate::text::Analyzer>,
        tokens: Vec<(String, usize)>,
        slop: usize,
    },
}

impl Expr {
    /// The primary keys this expression selects when it is exactly `pk in [..]` or `pk == v`:
    /// lets callers look rows up by key instead of scanning.
    pub fn pk_lookup(&self, pk_field: &str) -> Option<Vec<Value>> {
        match self {
            Expr::In {
                expr,
                set,
                negated: false,
            } => match expr.as_ref() {
                Expr::Field(f) if f.field == pk_field && f.path.is_empty() => Some(set.clone()),
                _ => None,
            },
            Expr::Cmp(CmpOp::Eq, l, r) => match (l.as_ref(), r.as_ref()) {
                (Expr::Field(f), Expr::Const(v)) | (Expr::Const(v), Expr::Field(f))
                    if f.field == pk_field && f.path.is_empty() =>
                {
                    Some(vec![v.clone()])
                }
                _ => None,
            },
            _ => None,
        }
    }
}

impl Expr {
    /// The values this expression restricts a (top-level, scalar) field to: `f == v`,
    /// `f in [..]`, a conjunction with such a term (the term with the fewest values), or a
    /// disjunction whose every branch restricts it (their union). `None`: not restricted.
    /// Partition-key collections search only the partitions of these values.
    pub fn field_values(&self, field: &str) -> Option<Vec<Value>> {
        match self {
            Expr::And(terms) => terms
                .iter()
                .filter_map(|t| t.field_values(field))
                .min_by_key(|v| v.len()),
            Expr::Or(terms) => {
                let mut all = Vec::new();
                for t in terms {
                    all.extend(t.field_values(field)?);
                }
                Some(all)
            }
            _ => self.pk_lookup(field),
        }
    }
}

/// Bound on the height of a tree `compile` accepts. The parser nests at most `MAX_EXPR_DEPTH`
/// counted levels (parentheses, `not`, unary signs, `**` exponents, calls, lists), and within
/// one level a path down the tree meets at most seven nodes (`or`, `and`, a comparison, `+`,
/// `*` and `**` chains, the node of the next level), so a parsed tree is never higher; a tree
/// built by hand can be, and is refused before it can exhaust the stack.
pub(crate) const MAX_AST_HEIGHT: usize = 7 * (MAX_EXPR_DEPTH + 1);

pub fn compile(
    ast: &Ast,
    schema: &CollectionSchema,
    templates: &HashMap<String, Value>,
) -> Result<Expr, ExprError> {
    let ctx = Ctx {
        schema,
        templates,
        height: Cell::new(0),
    };
    let expr = match ctx.node(ast) {
        Ok(e) => *e,
        Err(e) => return Err(*e),
    };
    if !is_boolean(&expr) {
        return Err(ExprError::Invalid(
            "the expression must be a boolean condition, e.g. `age > 18`".into(),
        ));
    }
    Ok(expr)
}

fn invalid(msg: impl Into<String>) -> Box<ExprError> {
    Box::new(ExprError::Invalid(msg.into()))
}

fn is_boolean(e: &Expr) -> bool {
    match e {
        Expr::Cmp(..)
        | Expr::In { .. }
        | Expr::Like { .. }
        | Expr::IsNull { .. }
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::Not(..)
        | Expr::Contains { .. }
        | Expr::TextMatch { .. }
        | Expr::PhraseMatch { .. } => true,
        Expr::Const(Value::Bool(_)) => true,
        Expr::Field(f) => matches!(f.value_type(), DataType::Bool | DataType::Json),
        _ => false,
    }
}

/// The elements of a list value (a JSON array, e.g. from a template), or the value itself.
pub(crate) fn elements(v: Value) -> Res<Vec<Value>> {
    match v {
        Value::Json(serde_json::Value::Array(items)) => {
            if items.len() > MAX_EXPR_LIST {
                return Err(invalid(format!(
                    "list has too many elements: more than {MAX_EXPR_LIST}"
                )));
            }
            Ok(items.iter().map(Value::from_json).collect())
        }
        other => Ok(vec![other]),
    }
}

/// Where a list is expected: the right side of `in` (`None`) or a function's argument.
pub(crate) fn not_a_list(function: Option<&str>) -> Box<ExprError> {
    let what = match function {
        None => "the right side of `in`".to_string(),
        Some(name) => format!("the second argument of {name}"),
    };
    invalid(format!("{what} must be a list such as [1, 2, 3]"))
}

pub(crate) fn check_cmp(op: CmpOp, l: &Expr, r: &Expr) -> Res<()> {
    for side in [l, r] {
        if let Expr::Field(f) = side {
            if f.is_whole_array() && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(invalid(format!(
                    "array field {} can only be compared with == or != to a list; compare an \
                     element (`{}[0]`) or use array_length",
                    f.field, f.field
                )));
            }
        }
    }
    match (l, r) {
        (Expr::Field(f), Expr::Const(v)) | (Expr::Const(v), Expr::Field(f)) => check_value(f, v),
        (Expr::Field(f), _) | (_, Expr::Field(f)) if f.is_whole_array() => Err(invalid(format!(
            "array field {} can only be compared with a list of constants",
            f.field
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn check_set(expr: &Expr, set: &[Value]) -> Res<()> {
    if let Expr::Field(f) = expr {
        // Milvus takes `f in []` on a whole array (it selects nothing)
        if f.is_whole_array() && !set.is_empty() {
            return Err(invalid(format!(
                "`in` is not supported on array field {}: use array_contains_any({}, [...]) or \
                 an element such as {}[0]",
                f.field, f.field, f.field
            )));
        }
        for v in set {
            tri!(check_value(f, v));
        }
    }
    Ok(())
}

/// The first argument of `array_contains*`/`json_contains*` and `array_length`: an Array or
/// JSON field (or a JSON path); values to look for must fit an Array field's element type.
pub(crate) fn check_list_operand(function: &str, expr: &Expr, values: &[Value]) -> Res<()> {
    let Expr::Field(f) = expr else {
        return Ok(());
    };
    if f.data_type == DataType::Json {
        return Ok(());
    }
    if !f.is_whole_array() {
        return Err(invalid(format!(
            "{function} operation can only be used on an array or json field, not on {} ({})",
            f.field,
            f.value_type().name()
        )));
    }
    let element = FieldRef {
        path: vec![PathItem::Index(0)],
        ..f.clone()
    };
    for v in values {
        tri!(check_value(&element, v));
    }
    Ok(())
}

pub(crate) fn check_like(expr: &Expr) -> Res<()> {
    match expr {
        Expr::Field(f) if !matches!(f.value_type(), DataType::VarChar | DataType::Json) => {
            Err(invalid(format!(
                "like is only supported on VarChar and JSON fields, not on {}",
                f.field
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) fn check_arith_operand(e: &Expr) -> Res<()> {
    match e {
        Expr::Field(f) if !f.value_type().is_numeric() && f.value_type() != DataType::Json => {
            Err(invalid(format!(
                "arithmetic is only supported on numeric fields, not on {} ({:?})",
                f.field,
                f.value_type()
            )))
        }
        _ => Ok(()),
    }
}

fn check_value(f: &FieldRef, v: &Value) -> Res<()> {
    if f.is_whole_array() {
        return check_array_value(f, v);
    }
    let json_path = !f.path.is_empty() && f.data_type == DataType::Json;
    if json_path || f.data_type == DataType::Json || matches!(v, Value::Null) {
        return Ok(());
    }
    let ok = match f.value_type() {
        DataType::Bool => matches!(v, Value::Bool(_)),
        DataType::VarChar => matches!(v, Value::Str(_)),
        dt if dt.is_integer() => matches!(v, Value::Int(_) | Value::Float(_)),
        DataType::Float | DataType::Double => matches!(v, Value::Int(_) | Value::Float(_)),
        _ => false,
    };
    if !ok {
        if f.data_type == DataType::Array {
            return Err(invalid(format!(
                "cannot compare an element of array field {} ({} elements) with value {}",
                f.field,
                f.value_type().name(),
                describe(v)
            )));
        }
        return Err(invalid(format!(
            "cannot compare field {} of type {:?} with value {}",
            f.field,
            f.data_type,
            describe(v)
        )));
    }
    Ok(())
}

/// A whole Array field is compared with a list whose elements fit its element type.
fn check_array_value(f: &FieldRef, v: &Value) -> Res<()> {
    let Value::Json(serde_json::Value::Array(items)) = v else {
        return Err(invalid(format!(
            "array field {} can only be compared with a list such as [1, 2, 3], not with {}",
            f.field,
            describe(v)
        )));
    };
    if items.is_empty() {
        return Err(invalid(format!(
            "array field {} cannot be compared with an empty list: use array_length({}) == 0",
            f.field, f.field
        )));
    }
    let element = FieldRef {
        path: vec![PathItem::Index(0)],
        ..f.clone()
    };
    for item in items {
        tri!(check_value(&element, &Value::from_json(item)));
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("{s:?} (a string)"),
        Value::Int(i) => format!("{i} (an integer)"),
        Value::Float(x) => format!("{x} (a float)"),
        Value::Bool(b) => format!("{b} (a bool)"),
        other => format!("{other:?}"),
    }
}

pub(crate) fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Str(s) => s.clone().into(),
        Value::Json(j) => j.clone(),
        Value::Vector(v) => v
            .iter()
            .map(|x| serde_json::Value::from(*x as f64))
            .collect(),
        Value::Array(items) => items.iter().map(value_to_json).collect(),
        Value::Sparse(b) => quarry_types::sparse::pairs(b)
            .map(|(i, x)| (i.to_string(), serde_json::Value::from(x as f64)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}
