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
    Arith(ArithOp, Box<Ast>, Box<Ast>),
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
    And(Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
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
