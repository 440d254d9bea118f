//! Small constructors the parser uses to build the tree: kept out of the parser's recursive
//! functions, whose stack frames they would otherwise enlarge in a debug build.

use quarry_types::Value;

use crate::ast::{ArithOp, Ast, CmpOp};

/// The constructs that nest.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Nested {
    Not,
    Neg,
    Plus,
    Exponent,
    Parens,
}

impl Nested {
    pub(crate) fn wrap(self, inner: Ast) -> Ast {
        match self {
            Nested::Not => Ast::Not(Box::new(inner)),
            Nested::Neg => match inner {
                Ast::Lit(Value::Int(i)) if i != i64::MIN => Ast::Lit(Value::Int(-i)),
                Ast::Lit(Value::Float(f)) => Ast::Lit(Value::Float(-f)),
                other => Ast::Neg(Box::new(other)),
            },
            Nested::Plus | Nested::Exponent | Nested::Parens => inner,
        }
    }
}

pub(crate) fn cmp(op: CmpOp, l: Ast, r: Ast) -> Ast {
    Ast::Cmp(op, Box::new(l), Box::new(r))
}

pub(crate) fn pow(base: Ast, exponent: Ast) -> Ast {
    Ast::Arith(Box::new(base), vec![(ArithOp::Pow, exponent)])
}

/// Appends `item` to a chain of `or` (or `and`) operands, splicing a nested chain of the same
/// kind (from parentheses) in.
pub(crate) fn push_flat(items: &mut Vec<Ast>, item: Ast, or_level: bool) {
    match item {
        Ast::Or(inner) if or_level => items.extend(inner),
        Ast::And(inner) if !or_level => items.extend(inner),
        other => items.push(other),
    }
}

pub(crate) fn finish_chain(mut items: Vec<Ast>, or_level: bool) -> Ast {
    match (items.pop(), items.is_empty()) {
        (Some(only), true) => only,
        (last, _) => {
            items.extend(last);
            if or_level {
                Ast::Or(items)
            } else {
                Ast::And(items)
            }
        }
    }
}

pub(crate) fn push_operand(
    first: &mut Option<Ast>,
    rest: &mut Vec<(ArithOp, Ast)>,
    op: ArithOp,
    item: Ast,
) {
    if first.is_none() {
        *first = Some(item);
    } else {
        rest.push((op, item));
    }
}
