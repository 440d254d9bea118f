use quarry_types::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Whether `a op b` holds when `a` compares to `b` as `ord`.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// The parsed, unresolved expression tree.
///
/// Chains (`a or b or c`, `a + b - c`) are flat: one node with a list of operands, so only
/// the nesting the parser counts against `MAX_EXPR_DEPTH` (parentheses, `not`, unary minus,
/// `**`, calls, lists) makes the tree deeper, and every recursion over it stays bounded.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Lit(Value),
    List(Vec<Ast>),
    /// a name with an optional JSON path: `meta["a"][0]`
    Ident {
        name: String,
        path: Vec<PathItem>,
    },
    Template(String),
    Neg(Box<Ast>),
    /// `first op1 x1 op2 x2 ...`, evaluated left to right (`**` chains nest to the right).
    Arith(Box<Ast>, Vec<(ArithOp, Ast)>),
    Cmp(CmpOp, Box<Ast>, Box<Ast>),
    In {
        expr: Box<Ast>,
        list: Box<Ast>,
        negated: bool,
    },
    Like {
        expr: Box<Ast>,
        pattern: String,
    },
    IsNull {
        expr: Box<Ast>,
        negated: bool,
    },
    /// Two or more operands, none of them an `And` itself.
    And(Vec<Ast>),
    /// Two or more operands, none of them an `Or` itself.
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Call {
        name: String,
        args: Vec<Ast>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathItem {
    Key(String),
    Index(usize),
}
