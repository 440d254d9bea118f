//! Recursive-descent parser. Precedence, lowest first: `or`/`||`, `and`/`&&`, `not`/`!`,
//! comparisons (`==` `!=` `<` `<=` `>` `>=`, `in`, `not in`, `like`, `is [not] null`, and
//! range chains `a < x <= b`), `+ -`, `* / %`, unary minus, `**`.
//!
//! Bounds (see `quarry_types::limits`): the text is at most `MAX_EXPR_BYTES`; every construct
//! that nests (parentheses, `not`, unary signs, the right side of `**`, calls, lists) adds a
//! level, at most `MAX_EXPR_DEPTH`; chains are flat lists, so together with the depth bound
//! every later recursion over the tree (compile, evaluation, drop) is bounded too.

use std::collections::VecDeque;

use quarry_types::limits::{MAX_EXPR_BYTES, MAX_EXPR_DEPTH, MAX_EXPR_LIST, MAX_EXPR_TERMS};
use quarry_types::Value;

use crate::ast::{ArithOp, Ast, CmpOp, PathItem};
use crate::lexer::{Lexer, Tok};
use crate::tree::{cmp, finish_chain, pow, push_flat, push_operand, Nested};
use crate::ExprError;

const KEYWORDS: [&str; 7] = ["and", "or", "not", "in", "like", "is", "null"];

pub fn parse(text: &str) -> Result<Ast, ExprError> {
    tri!(check_len(text));
    let mut p = Parser {
        text,
        lexer: Lexer::new(text),
        look: VecDeque::with_capacity(3),
        lex_err: None,
        depth: 0,
        terms: 1,
    };
    p.fill();
    let ast = tri!(p.or());
    if let Some(e) = p.lex_err.take() {
        return Err(e);
    }
    if p.peek().is_some() {
        return Err(p.error("unexpected trailing input"));
    }
    Ok(ast)
}

/// Refuses a text over `MAX_EXPR_BYTES` (without echoing it).
pub(crate) fn check_len(text: &str) -> Result<(), ExprError> {
    if text.len() > MAX_EXPR_BYTES {
        return Err(ExprError::Invalid(format!(
            "expression is too long: {} bytes, more than the limit of {MAX_EXPR_BYTES} bytes",
            text.len()
        )));
    }
    Ok(())
}

pub(crate) fn too_deep() -> String {
    format!("expression is nested too deeply: more than {MAX_EXPR_DEPTH} levels")
}

struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    /// the next tokens (two of look-ahead)
    look: VecDeque<(usize, Tok)>,
    /// a lexer error met while filling `look`; the tokens before it are still parsed, so a
    /// syntax error earlier in the text is reported first
    lex_err: Option<ExprError>,
    depth: usize,
    /// predicates joined by `and`/`or` so far
    terms: usize,
}

fn keyword(tok: Option<&Tok>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn fill(&mut self) {
        while self.look.len() < 2 && self.lex_err.is_none() {
            match self.lexer.next_tok() {
                Ok(Some(t)) => self.look.push_back(t),
                Ok(None) => break,
                Err(e) => self.lex_err = Some(e),
            }
        }
    }

    fn advance(&mut self) {
        self.look.pop_front();
        self.fill();
    }

    fn peek(&self) -> Option<&Tok> {
        self.look.front().map(|(_, t)| t)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.look.get(n).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.look.front().map_or(self.text.len(), |(p, _)| *p)
    }

    fn error(&self, message: &str) -> ExprError {
        if self.peek().is_none() {
            // the parser stopped where the lexer did: report why the lexer did
            if let Some(e) = &self.lex_err {
                return e.clone();
            }
        }
        let position = self.position();
        let found = match self.peek() {
            None => "end of input".to_string(),
            Some(_) => format!(
                "{:?}",
                &self.text[position..].chars().take(20).collect::<String>()
            ),
        };
        ExprError::Syntax {
            text: self.text.to_string(),
            position,
            message: format!("{message}, found {found}"),
        }
    }

    fn limit(&self, message: String) -> ExprError {
        ExprError::Invalid(format!("{message} (at position {})", self.position()))
    }

    /// One more level of nesting; the caller calls `leave` after parsing the nested part.
    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(self.limit(too_deep()));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn add_term(&mut self) -> Result<(), ExprError> {
        self.terms += 1;
        if self.terms > MAX_EXPR_TERMS {
            return Err(self.limit(format!(
                "expression has too many terms: more than {MAX_EXPR_TERMS} predicates joined by and/or"
            )));
        }
        Ok(())
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if keyword(self.peek(), kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ExprError> {
        if self.peek() == Some(&tok) {
            self.advance();
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    // The grammar. Every function below can be on the stack once per nesting level, so
    // each keeps few locals and few `?` (a debug build gives every temporary its own stack
    // slot): work that does not recurse lives in small helper functions.

    fn or(&mut self) -> Result<Ast, ExprError> {
        self.chain(true)
    }

    /// `x or y or ...` (`or_level`) or `x and y and ...`, as one flat node.
    fn chain(&mut self, or_level: bool) -> Result<Ast, ExprError> {
        let mut items = Vec::new();
        loop {
            let item = tri!(if or_level {
                self.chain(false)
            } else {
                self.not()
            });
            push_flat(&mut items, item, or_level);
            if !self.eat_joiner(or_level) {
                return Ok(finish_chain(items, or_level));
            }
            tri!(self.add_term());
        }
    }

    fn eat_joiner(&mut self, or_level: bool) -> bool {
        let (kw, op) = if or_level {
            ("or", "||")
        } else {
            ("and", "&&")
        };
        self.eat_kw(kw) || self.eat_op(op)
    }

    fn not(&mut self) -> Result<Ast, ExprError> {
        // `not in` belongs to the comparison level; a leading `not` negates
        if keyword(self.peek(), "not") || matches!(self.peek(), Some(Tok::Op("!"))) {
            self.advance();
            return self.nested(Nested::Not);
        }
        self.comparison()
    }

    /// One counted level of nesting around `what`.
    fn nested(&mut self, what: Nested) -> Result<Ast, ExprError> {
        tri!(self.enter());
        let inner = tri!(match what {
            Nested::Not => self.not(),
            Nested::Neg | Nested::Plus | Nested::Exponent => self.unary(),
            Nested::Parens => self.or(),
        });
        if what == Nested::Parens {
            tri!(self.expect(Tok::RParen, "')'"));
        }
        self.leave();
        Ok(what.wrap(inner))
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        let op = match self.peek() {
            Some(Tok::Op("==")) | Some(Tok::Op("=")) => CmpOp::Eq,
            Some(Tok::Op("!=")) => CmpOp::Ne,
            Some(Tok::Op("<")) => CmpOp::Lt,
            Some(Tok::Op("<=")) => CmpOp::Le,
            Some(Tok::Op(">")) => CmpOp::Gt,
            Some(Tok::Op(">=")) => CmpOp::Ge,
            _ => return None,
        };
        self.advance();
        Some(op)
    }

    fn comparison(&mut self) -> Result<Ast, ExprError> {
        let left = tri!(self.additive());
        if let Some(op) = self.cmp_op() {
            return self.compare(op, left);
        }
        if keyword(self.peek(), "not") && keyword(self.peek_at(1), "in") {
            self.advance();
            self.advance();
            return self.in_list(left, true);
        }
        if self.eat_kw("in") {
            return self.in_list(left, false);
        }
        self.postfix(left)
    }

    /// `left op x`, and range chains `left op x op2 y`, meaning `left op x and x op2 y`.
    fn compare(&mut self, op: CmpOp, left: Ast) -> Result<Ast, ExprError> {
        let mid = tri!(self.additive());
        match self.cmp_op() {
            None => Ok(cmp(op, left, mid)),
            Some(op2) => self.range(op, left, mid, op2),
        }
    }

    fn range(&mut self, op: CmpOp, left: Ast, mid: Ast, op2: CmpOp) -> Result<Ast, ExprError> {
        // the middle is used twice: only a field (as in Milvus), which is cheap to copy; a
        // nested range in the middle would double the tree at every level
        if !matches!(mid, Ast::Ident { .. }) {
            return Err(
                self.error("range comparisons such as `1 < x < 5` need a field in the middle")
            );
        }
        let right = tri!(self.additive());
        Ok(Ast::And(vec![
            cmp(op, left, mid.clone()),
            cmp(op2, mid, right),
        ]))
    }

    fn in_list(&mut self, left: Ast, negated: bool) -> Result<Ast, ExprError> {
        let list = tri!(self.additive());
        Ok(Ast::In {
            expr: Box::new(left),
            list: Box::new(list),
            negated,
        })
    }

    /// `left like "pattern"`, `left is [not] null`, or `left` alone.
    fn postfix(&mut self, left: Ast) -> Result<Ast, ExprError> {
        if self.eat_kw("like") {
            let Some(Tok::Str(pattern)) = self.peek().cloned() else {
                return Err(self.error("expected a string pattern after like"));
            };
            self.advance();
            return Ok(Ast::Like {
                expr: Box::new(left),
                pattern,
            });
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            if !self.eat_kw("null") {
                return Err(self.error("expected null after is"));
            }
            return Ok(Ast::IsNull {
                expr: Box::new(left),
                negated,
            });
        }
        Ok(left)
    }

    fn arith_op(&mut self, additive: bool) -> Option<ArithOp> {
        let ops: &[(&str, ArithOp)] = if additive {
            &[("+", ArithOp::Add), ("-", ArithOp::Sub)]
        } else {
            &[
                ("*", ArithOp::Mul),
                ("/", ArithOp::Div),
                ("%", ArithOp::Mod),
            ]
        };
        ops.iter().find(|(o, _)| self.eat_op(o)).map(|(_, op)| *op)
    }

    fn additive(&mut self) -> Result<Ast, ExprError> {
        self.arith_chain(true)
    }

    /// `x + y - ...` (`additive`) or `x * y / ...`, as one flat node.
    fn arith_chain(&mut self, additive: bool) -> Result<Ast, ExprError> {
        let mut first = None;
        let mut rest = Vec::new();
        let mut op = ArithOp::Add;
        loop {
            let item = tri!(if additive {
                self.arith_chain(false)
            } else {
                self.unary()
            });
            push_operand(&mut first, &mut rest, op, item);
            match self.arith_op(additive) {
                Some(next) => op = next,
                None => return self.finish_arith(first, rest),
            }
        }
    }

    /// `first` alone, or the flat chain `first op x ...`.
    fn finish_arith(
        &self,
        first: Option<Ast>,
        rest: Vec<(ArithOp, Ast)>,
    ) -> Result<Ast, ExprError> {
        match first {
            Some(first) if rest.is_empty() => Ok(first),
            Some(first) => Ok(Ast::Arith(Box::new(first), rest)),
            None => Err(self.error("expected a value or a field")),
        }
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        if self.eat_op("-") {
            return self.nested(Nested::Neg);
        }
        if self.eat_op("+") {
            return self.nested(Nested::Plus);
        }
        let base = tri!(self.primary());
        if !self.eat_op("**") {
            return Ok(base);
        }
        let exponent = tri!(self.nested(Nested::Exponent));
        Ok(pow(base, exponent))
    }

    /// `[a, b, ...]` after the `[`, and call arguments `(a, b, ...)` after the `(`.
    fn items(&mut self, call: bool) -> Result<Vec<Ast>, ExprError> {
        tri!(self.enter());
        let close = if call { Tok::RParen } else { Tok::RBracket };
        let mut items = Vec::new();
        while self.peek() != Some(&close) {
            tri!(self.check_list_len(items.len()));
            let item = tri!(if call { self.or() } else { self.additive() });
            items.push(item);
            if !tri!(self.eat_comma(call)) {
                break;
            }
        }
        tri!(self.close_items(call));
        self.leave();
        Ok(items)
    }

    fn check_list_len(&self, len: usize) -> Result<(), ExprError> {
        if len >= MAX_EXPR_LIST {
            return Err(self.limit(format!(
                "list has too many elements: more than {MAX_EXPR_LIST}"
            )));
        }
        Ok(())
    }

    /// Whether a `,` follows; a trailing comma is allowed in lists, not in calls.
    fn eat_comma(&mut self, call: bool) -> Result<bool, ExprError> {
        if self.peek() != Some(&Tok::Comma) {
            return Ok(false);
        }
        self.advance();
        if call && self.peek() == Some(&Tok::RParen) {
            return Err(self.error("expected an argument after ','"));
        }
        Ok(true)
    }

    fn close_items(&mut self, call: bool) -> Result<(), ExprError> {
        if call {
            self.expect(Tok::RParen, "')' closing the function call")
        } else {
            self.expect(Tok::RBracket, "']' or ','")
        }
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.advance();
                self.nested(Nested::Parens)
            }
            Some(Tok::LBracket) => {
                self.advance();
                self.items(false).map(Ast::List)
            }
            Some(Tok::Ident(_)) => self.ident(),
            _ => self.literal(),
        }
    }

    fn literal(&mut self) -> Result<Ast, ExprError> {
        let lit = match self.peek() {
            Some(Tok::Int(i)) => Ast::Lit(Value::Int(*i)),
            Some(Tok::Float(f)) => Ast::Lit(Value::Float(*f)),
            Some(Tok::Str(s)) => Ast::Lit(Value::Str(s.clone())),
            Some(Tok::Template(name)) => Ast::Template(name.clone()),
            _ => return Err(self.error("expected a value or a field")),
        };
        self.advance();
        Ok(lit)
    }

    /// A field (with a JSON path), `true`/`false`, or a call.
    fn ident(&mut self) -> Result<Ast, ExprError> {
        let Some(Tok::Ident(name)) = self.peek() else {
            return Err(self.error("expected a value or a field"));
        };
        if KEYWORDS.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            return Err(self.error("expected a value or a field"));
        }
        let name = name.clone();
        self.advance();
        if self.peek() != Some(&Tok::LParen) {
            return self.field(name);
        }
        self.advance();
        let args = tri!(self.items(true));
        Ok(Ast::Call {
            name: name.to_ascii_lowercase(),
            args,
        })
    }

    fn field(&mut self, name: String) -> Result<Ast, ExprError> {
        if name.eq_ignore_ascii_case("true") {
            return Ok(Ast::Lit(Value::Bool(true)));
        }
        if name.eq_ignore_ascii_case("false") {
            return Ok(Ast::Lit(Value::Bool(false)));
        }
        let mut path = Vec::new();
        while self.peek() == Some(&Tok::LBracket) {
            self.advance();
            match self.peek() {
                Some(Tok::Str(k)) => path.push(PathItem::Key(k.clone())),
                Some(Tok::Int(i)) if *i >= 0 => path.push(PathItem::Index(*i as usize)),
                _ => return Err(self.error("expected a string key or an index inside []")),
            }
            self.advance();
            tri!(self.expect(Tok::RBracket, "']'"));
        }
        Ok(Ast::Ident { name, path })
    }
}
