//! Name resolution and type checks: turns an [`Ast`] into an executable [`Expr`].

use std::collections::HashMap;

use quarry_types::{CollectionSchema, DataType, Value, META_FIELD};

use crate::ast::{ArithOp, Ast, CmpOp, PathItem};
use crate::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    pub field: String,
    pub data_type: DataType,
    pub path: Vec<PathItem>,
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
    Arith(ArithOp, Box<Expr>, Box<Expr>),
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
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Contains {
        expr: Box<Expr>,
        values: Vec<Value>,
        mode: ContainsMode,
    },
    Length(Box<Expr>),
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

struct Ctx<'a> {
    text: String,
    schema: &'a CollectionSchema,
    templates: &'a HashMap<String, Value>,
}

pub fn compile(
    ast: &Ast,
    schema: &CollectionSchema,
    templates: &HashMap<String, Value>,
) -> Result<Expr, ExprError> {
    let ctx = Ctx {
        text: String::new(),
        schema,
        templates,
    };
    let expr = ctx.node(ast)?;
    if !ctx.is_boolean(&expr) {
        return Err(ExprError::Invalid(
            "the expression must be a boolean condition, e.g. `age > 18`".into(),
        ));
    }
    Ok(expr)
}

fn invalid(msg: impl Into<String>) -> ExprError {
    ExprError::Invalid(msg.into())
}

fn json_to_values(v: &serde_json::Value) -> Vec<Value> {
    match v {
        serde_json::Value::Array(items) => items.iter().map(Value::from_json).collect(),
        other => vec![Value::from_json(other)],
    }
}

impl Ctx<'_> {
    fn field(&self, name: &str, path: &[PathItem]) -> Result<Expr, ExprError> {
        if let Some(f) = self.schema.field(name) {
            if f.data_type.is_vector() {
                return Err(invalid(format!(
                    "vector field {name} cannot be used in a filter expression"
                )));
            }
            if !path.is_empty() && f.data_type != DataType::Json {
                return Err(invalid(format!(
                    "field {name} is not a JSON field and cannot be indexed with []"
                )));
            }
            return Ok(Expr::Field(FieldRef {
                field: f.name.clone(),
                data_type: f.data_type,
                path: path.to_vec(),
            }));
        }
        if self.schema.dynamic_field().is_some() {
            let mut full = vec![PathItem::Key(name.to_string())];
            full.extend_from_slice(path);
            return Ok(Expr::Field(FieldRef {
                field: META_FIELD.into(),
                data_type: DataType::Json,
                path: full,
            }));
        }
        Err(ExprError::UnknownField {
            text: self.text.clone(),
            field: name.to_string(),
        })
    }

    fn is_boolean(&self, e: &Expr) -> bool {
        match e {
            Expr::Cmp(..)
            | Expr::In { .. }
            | Expr::Like { .. }
            | Expr::IsNull { .. }
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Not(..)
            | Expr::Contains { .. } => true,
            Expr::Const(Value::Bool(_)) => true,
            Expr::Field(f) => f.data_type == DataType::Bool || f.data_type == DataType::Json,
            _ => false,
        }
    }

    fn constant(&self, ast: &Ast) -> Result<Vec<Value>, ExprError> {
        match self.node(ast)? {
            Expr::Const(Value::Json(j)) => Ok(json_to_values(&j)),
            Expr::Const(v) => Ok(vec![v]),
            _ => Err(invalid("expected a constant or a list of constants")),
        }
    }

    fn list(&self, ast: &Ast) -> Result<Vec<Value>, ExprError> {
        match ast {
            Ast::List(items) => items
                .iter()
                .map(|i| self.constant(i).map(|mut v| v.remove(0)))
                .collect(),
            Ast::Template(_) => self.constant(ast),
            _ => Err(invalid(
                "the right side of `in` must be a list such as [1, 2, 3]",
            )),
        }
    }

    fn check_cmp(&self, l: &Expr, r: &Expr) -> Result<(), ExprError> {
        let (f, v) = match (l, r) {
            (Expr::Field(f), Expr::Const(v)) | (Expr::Const(v), Expr::Field(f)) => (f, v),
            _ => return Ok(()),
        };
        check_value(f, v)
    }

    fn node(&self, ast: &Ast) -> Result<Expr, ExprError> {
        let b = |a: &Ast| self.node(a).map(Box::new);
        Ok(match ast {
            Ast::Lit(v) => Expr::Const(v.clone()),
            Ast::List(items) => {
                let vals = items
                    .iter()
                    .map(|i| self.constant(i).map(|mut v| v.remove(0)))
                    .collect::<Result<Vec<_>, _>>()?;
                Expr::Const(Value::Json(serde_json::Value::Array(
                    vals.iter().map(value_to_json).collect(),
                )))
            }
            Ast::Template(name) => {
                let v = self.templates.get(name).ok_or_else(|| {
                    invalid(format!("template value {{{name}}} was not provided"))
                })?;
                Expr::Const(v.clone())
            }
            Ast::Ident { name, path } => self.field(name, path)?,
            Ast::Neg(a) => Expr::Neg(b(a)?),
            Ast::Arith(op, l, r) => {
                let (l, r) = (b(l)?, b(r)?);
                for side in [&l, &r] {
                    if let Expr::Field(f) = side.as_ref() {
                        if !f.data_type.is_numeric() && f.data_type != DataType::Json {
                            return Err(invalid(format!(
                                "arithmetic is only supported on numeric fields, not on {} ({:?})",
                                f.field, f.data_type
                            )));
                        }
                    }
                }
                Expr::Arith(*op, l, r)
            }
            Ast::Cmp(op, l, r) => {
                let (l, r) = (b(l)?, b(r)?);
                self.check_cmp(&l, &r)?;
                Expr::Cmp(*op, l, r)
            }
            Ast::In {
                expr,
                list,
                negated,
            } => {
                let expr = b(expr)?;
                let set = self.list(list)?;
                if let Expr::Field(f) = expr.as_ref() {
                    for v in &set {
                        check_value(f, v)?;
                    }
                }
                Expr::In {
                    expr,
                    set,
                    negated: *negated,
                }
            }
            Ast::Like { expr, pattern } => {
                let expr = b(expr)?;
                if let Expr::Field(f) = expr.as_ref() {
                    if !matches!(f.data_type, DataType::VarChar | DataType::Json) {
                        return Err(invalid(format!(
                            "like is only supported on VarChar and JSON fields, not on {}",
                            f.field
                        )));
                    }
                }
                Expr::Like {
                    expr,
                    pattern: pattern.clone(),
                }
            }
            Ast::IsNull { expr, negated } => Expr::IsNull {
                expr: b(expr)?,
                negated: *negated,
            },
            Ast::And(l, r) => Expr::And(b(l)?, b(r)?),
            Ast::Or(l, r) => Expr::Or(b(l)?, b(r)?),
            Ast::Not(a) => Expr::Not(b(a)?),
            Ast::Call { name, args } => self.call(name, args)?,
        })
    }

    fn call(&self, name: &str, args: &[Ast]) -> Result<Expr, ExprError> {
        let mode = match name {
            "json_contains" | "array_contains" => Some(ContainsMode::One),
            "json_contains_all" | "array_contains_all" => Some(ContainsMode::All),
            "json_contains_any" | "array_contains_any" => Some(ContainsMode::Any),
            _ => None,
        };
        if let Some(mode) = mode {
            if args.len() != 2 {
                return Err(invalid(format!(
                    "{name} takes 2 arguments, got {}",
                    args.len()
                )));
            }
            let expr = Box::new(self.node(&args[0])?);
            let values = if mode == ContainsMode::One {
                vec![self.constant(&args[1])?.remove(0)]
            } else {
                self.list(&args[1])?
            };
            return Ok(Expr::Contains { expr, values, mode });
        }
        if name == "array_length" && args.len() == 1 {
            return Ok(Expr::Length(Box::new(self.node(&args[0])?)));
        }
        Err(invalid(format!("function {name} is not supported")))
    }
}

fn check_value(f: &FieldRef, v: &Value) -> Result<(), ExprError> {
    if !f.path.is_empty() || f.data_type == DataType::Json || matches!(v, Value::Null) {
        return Ok(());
    }
    let ok = match f.data_type {
        DataType::Bool => matches!(v, Value::Bool(_)),
        DataType::VarChar => matches!(v, Value::Str(_)),
        dt if dt.is_integer() => matches!(v, Value::Int(_) | Value::Float(_)),
        DataType::Float | DataType::Double => matches!(v, Value::Int(_) | Value::Float(_)),
        _ => false,
    };
    if !ok {
        return Err(invalid(format!(
            "cannot compare field {} of type {:?} with value {}",
            f.field,
            f.data_type,
            describe(v)
        )));
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
    }
}
