//! The recursive part of `compile`: one call per tree node.
//!
//! Each function here can be on the stack once per tree level, and a debug build gives every
//! temporary its own stack slot, so they pass nodes and errors boxed (a `Result` of two
//! pointers instead of 64 bytes), use `tri!` rather than `?`, and leave non-recursive work to
//! the checks in `compile.rs`. The highest tree the parser makes then compiles on a 2 MiB
//! stack (see the tests in `tests/limits.rs`).

use std::cell::Cell;
use std::collections::HashMap;

use quarry_types::{CollectionSchema, DataType, Value, META_FIELD};

use crate::ast::{ArithOp, Ast, CmpOp, PathItem};
use crate::compile::{
    check_arith_operand, check_cmp, check_like, check_list_operand, check_set, elements,
    not_a_list, value_to_json, ContainsMode, Expr, FieldRef, MAX_AST_HEIGHT,
};
use crate::parser::too_deep;
use crate::ExprError;

pub(crate) type Res<T> = Result<T, Box<ExprError>>;

pub(crate) fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(Box::new(ExprError::Invalid(msg.into())))
}

pub(crate) struct Ctx<'a> {
    pub schema: &'a CollectionSchema,
    pub templates: &'a HashMap<String, Value>,
    /// nodes above the one being compiled
    pub height: Cell<usize>,
}

fn constant(v: &Value) -> Res<Box<Expr>> {
    Ok(Box::new(Expr::Const(v.clone())))
}

impl Ctx<'_> {
    pub fn node(&self, ast: &Ast) -> Res<Box<Expr>> {
        tri!(self.enter());
        let out = self.dispatch(ast);
        self.height.set(self.height.get() - 1);
        out
    }

    fn enter(&self) -> Res<()> {
        let height = self.height.get() + 1;
        if height > MAX_AST_HEIGHT {
            return fail(too_deep());
        }
        self.height.set(height);
        Ok(())
    }

    fn dispatch(&self, ast: &Ast) -> Res<Box<Expr>> {
        match ast {
            Ast::Lit(v) => constant(v),
            Ast::List(items) => self.list_literal(items),
            Ast::Template(name) => self.template(name),
            Ast::Ident { name, path } => self.field(name, path),
            Ast::Neg(a) => self.wrap(Expr::Neg, a),
            Ast::Not(a) => self.wrap(Expr::Not, a),
            Ast::Arith(first, rest) => self.arith(first, rest),
            Ast::Cmp(op, l, r) => self.cmp(*op, l, r),
            Ast::In {
                expr,
                list,
                negated,
            } => self.in_list(expr, list, *negated),
            Ast::Like { expr, pattern } => self.like(expr, pattern),
            Ast::IsNull { expr, negated } => self.wrap_null(expr, *negated),
            Ast::And(items) => self.nodes(Expr::And, items),
            Ast::Or(items) => self.nodes(Expr::Or, items),
            Ast::Call { name, args } => self.call(name, args),
        }
    }

    fn wrap(&self, wrap: fn(Box<Expr>) -> Expr, ast: &Ast) -> Res<Box<Expr>> {
        let inner = tri!(self.node(ast));
        Ok(Box::new(wrap(inner)))
    }

    fn wrap_null(&self, ast: &Ast, negated: bool) -> Res<Box<Expr>> {
        let expr = tri!(self.node(ast));
        Ok(Box::new(Expr::IsNull { expr, negated }))
    }

    fn nodes(&self, chain: fn(Vec<Expr>) -> Expr, items: &[Ast]) -> Res<Box<Expr>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(*tri!(self.node(item)));
        }
        Ok(Box::new(chain(out)))
    }

    fn template(&self, name: &str) -> Res<Box<Expr>> {
        match self.templates.get(name) {
            Some(v) => constant(v),
            None => fail(format!("template value {{{name}}} was not provided")),
        }
    }

    fn field(&self, name: &str, path: &[PathItem]) -> Res<Box<Expr>> {
        if let Some(f) = self.schema.field(name) {
            if f.data_type.is_vector() {
                return fail(format!(
                    "vector field {name} cannot be used in a filter expression"
                ));
            }
            match (f.data_type, path) {
                (_, []) | (DataType::Json, _) | (DataType::Array, [PathItem::Index(_)]) => {}
                (DataType::Array, _) => {
                    return fail(format!(
                        "array field {name} takes one integer index, e.g. {name}[0]"
                    ))
                }
                _ => {
                    return fail(format!(
                        "field {name} is not a JSON or array field and cannot be indexed with []"
                    ))
                }
            }
            return Ok(Box::new(Expr::Field(FieldRef {
                field: f.name.clone(),
                data_type: f.data_type,
                path: path.to_vec(),
                element_type: f.element_type,
            })));
        }
        if self.schema.dynamic_field().is_some() {
            let mut full = vec![PathItem::Key(name.to_string())];
            full.extend_from_slice(path);
            return Ok(Box::new(Expr::Field(FieldRef {
                field: META_FIELD.into(),
                data_type: DataType::Json,
                path: full,
                element_type: None,
            })));
        }
        // `prepare` fills in the text
        Err(Box::new(ExprError::UnknownField {
            text: String::new(),
            field: name.to_string(),
        }))
    }

    /// A constant: a literal, a template value, or a list of constants (one JSON array value).
    fn value(&self, ast: &Ast) -> Res<Value> {
        match *tri!(self.node(ast)) {
            Expr::Const(v) => Ok(v),
            _ => fail("expected a constant or a list of constants"),
        }
    }

    fn list_literal(&self, items: &[Ast]) -> Res<Box<Expr>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let v = tri!(self.value(item));
            out.push(value_to_json(&v));
        }
        Ok(Box::new(Expr::Const(Value::Json(
            serde_json::Value::Array(out),
        ))))
    }

    /// The elements of a list literal or of a template value, for `in` (`function` is `None`)
    /// or a function's argument.
    fn list(&self, ast: &Ast, function: Option<&str>) -> Res<Vec<Value>> {
        let items = match ast {
            Ast::List(items) => items,
            Ast::Template(_) => return self.value(ast).and_then(elements),
            _ => return Err(not_a_list(function)),
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(tri!(self.value(item)));
        }
        Ok(out)
    }

    fn cmp(&self, op: CmpOp, l: &Ast, r: &Ast) -> Res<Box<Expr>> {
        let l = tri!(self.node(l));
        let r = tri!(self.node(r));
        tri!(check_cmp(op, &l, &r));
        Ok(Box::new(Expr::Cmp(op, l, r)))
    }

    fn in_list(&self, expr: &Ast, list: &Ast, negated: bool) -> Res<Box<Expr>> {
        let expr = tri!(self.node(expr));
        let set = tri!(self.list(list, None));
        tri!(check_set(&expr, &set));
        Ok(Box::new(Expr::In { expr, set, negated }))
    }

    fn like(&self, expr: &Ast, pattern: &str) -> Res<Box<Expr>> {
        let expr = tri!(self.node(expr));
        tri!(check_like(&expr));
        let pattern = pattern.to_string();
        Ok(Box::new(Expr::Like { expr, pattern }))
    }

    fn arith(&self, first: &Ast, rest: &[(ArithOp, Ast)]) -> Res<Box<Expr>> {
        let first = tri!(self.operand(first));
        let mut out = Vec::with_capacity(rest.len());
        for (op, a) in rest {
            out.push((*op, *tri!(self.operand(a))));
        }
        Ok(Box::new(Expr::Arith(first, out)))
    }

    fn operand(&self, ast: &Ast) -> Res<Box<Expr>> {
        let e = tri!(self.node(ast));
        tri!(check_arith_operand(&e));
        Ok(e)
    }

    fn call(&self, name: &str, args: &[Ast]) -> Res<Box<Expr>> {
        let mode = match name {
            "json_contains" | "array_contains" => Some(ContainsMode::One),
            "json_contains_all" | "array_contains_all" => Some(ContainsMode::All),
            "json_contains_any" | "array_contains_any" => Some(ContainsMode::Any),
            _ => None,
        };
        match (mode, args) {
            (Some(mode), [field, arg]) => self.contains(name, mode, field, arg),
            (None, [arg]) if name == "array_length" => {
                let expr = tri!(self.node(arg));
                tri!(check_list_operand(name, &expr, &[]));
                Ok(Box::new(Expr::Length(expr)))
            }
            (None, [field, query]) if name == "text_match" => self.text_match(field, query),
            (None, [field, query]) if name == "phrase_match" => {
                self.phrase_match(field, query, None)
            }
            (None, [field, query, slop]) if name == "phrase_match" => {
                self.phrase_match(field, query, Some(slop))
            }
            (None, _) if name == "phrase_match" => fail(format!(
                "phrase_match takes 2 or 3 arguments (a field, a string and a slop), got {}",
                args.len()
            )),
            (None, _) if name == "text_match" => fail(format!(
                "text_match takes 2 arguments (a field and a string), got {}",
                args.len()
            )),
            (Some(_), _) => fail(format!("{name} takes 2 arguments, got {}", args.len())),
            (None, _) if name == "array_length" => {
                fail(format!("array_length takes 1 argument, got {}", args.len()))
            }
            _ => fail(format!("function {name} is not supported")),
        }
    }

    /// The field, its analyzer and the query string of `text_match` / `phrase_match`.
    fn match_args(
        &self,
        name: &str,
        field: &Ast,
        query: &Ast,
    ) -> Res<(Box<Expr>, crate::text::Analyzer, String)> {
        let expr = tri!(self.node(field));
        let schema_field = match &*expr {
            Expr::Field(f) if f.path.is_empty() && f.data_type == DataType::VarChar => {
                self.schema.field(&f.field)
            }
            _ => None,
        };
        let Some(f) = schema_field else {
            return fail(format!(
                "the first argument of {name} must be a VarChar field"
            ));
        };
        if !quarry_types::function::flag(f, "enable_match") {
            return fail(format!("field \"{}\" does not enable match", f.name));
        }
        let query = match tri!(self.node(query)).as_ref() {
            Expr::Const(Value::Str(s)) => s.clone(),
            _ => return fail(format!("the second argument of {name} must be a string")),
        };
        match crate::text::Analyzer::from_params(f.param("analyzer_params")) {
            Ok(a) => Ok((expr, a, query)),
            Err(e) => fail(format!("field {}: {e}", f.name)),
        }
    }

    fn phrase_match(&self, field: &Ast, query: &Ast, slop: Option<&Ast>) -> Res<Box<Expr>> {
        let (expr, analyzer, query) = tri!(self.match_args("phrase_match", field, query));
        let slop = match slop.map(|s| self.node(s)).transpose() {
            Err(e) => return Err(e),
            Ok(None) => 0,
            Ok(Some(s)) => match *s {
                Expr::Const(Value::Int(n)) if (0..=u32::MAX as i64).contains(&n) => n as usize,
                _ => {
                    return fail(format!(
                        "the slop of phrase_match must be an integer in [0, {}]",
                        u32::MAX
                    ))
                }
            },
        };
        let analyzed = analyzer.analyze(&query);
        let first = analyzed.first().map_or(0, |t| t.position);
        let tokens = analyzed
            .into_iter()
            .map(|t| (t.text, t.position - first))
            .collect();
        Ok(Box::new(Expr::PhraseMatch {
            expr,
            analyzer: Box::new(analyzer),
            tokens,
            slop,
        }))
    }

    fn text_match(&self, field: &Ast, query: &Ast) -> Res<Box<Expr>> {
        let (expr, analyzer, query) = tri!(self.match_args("text_match", field, query));
        let mut tokens = analyzer.tokens(&query);
        tokens.sort_unstable();
        tokens.dedup();
        Ok(Box::new(Expr::TextMatch {
            expr,
            analyzer: Box::new(analyzer),
            tokens,
        }))
    }

    fn contains(&self, name: &str, mode: ContainsMode, field: &Ast, arg: &Ast) -> Res<Box<Expr>> {
        let expr = tri!(self.node(field));
        let values = tri!(if mode == ContainsMode::One {
            // Milvus: the second argument is one element, even when it is a list
            // (`json_contains(x, [1, 2])` is true when x holds the list [1, 2])
            self.value(arg).map(|v| vec![v])
        } else {
            self.list(arg, Some(name))
        });
        tri!(check_list_operand(name, &expr, &values));
        Ok(Box::new(Expr::Contains { expr, values, mode }))
    }
}
