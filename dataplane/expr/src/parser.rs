//! Recursive-descent parser. Precedence, lowest first: `or`/`||`, `and`/`&&`, `not`/`!`,
//! comparisons (`==` `!=` `<` `<=` `>` `>=`, `in`, `not in`, `like`, `is [not] null`, and
//! range chains `a < x <= b`), `+ -`, `* / %`, unary minus, `**`.

use quarry_types::Value;

use crate::ast::{ArithOp, Ast, CmpOp, PathItem};
use crate::lexer::{lex, Tok};
use crate::ExprError;

pub fn parse(text: &str) -> Result<Ast, ExprError> {
    let toks = lex(text)?;
    let mut p = Parser { text, toks, pos: 0 };
    let ast = p.or()?;
    if p.pos < p.toks.len() {
        return Err(p.error("unexpected trailing input"));
    }
    Ok(ast)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

fn keyword(tok: Option<&Tok>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|(_, t)| t)
    }

    fn error(&self, message: &str) -> ExprError {
        let position = self.toks.get(self.pos).map_or(self.text.len(), |(p, _)| *p);
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

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if keyword(self.peek(), kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ExprError> {
        if self.peek() == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.and()?;
        while self.eat_kw("or") || self.eat_op("||") {
            left = Ast::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.not()?;
        while self.eat_kw("and") || self.eat_op("&&") {
            left = Ast::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Ast, ExprError> {
        // `not in` belongs to the comparison level; a leading `not` negates
        if keyword(self.peek(), "not") || matches!(self.peek(), Some(Tok::Op("!"))) {
            self.pos += 1;
            return Ok(Ast::Not(Box::new(self.not()?)));
        }
        self.comparison()
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
        self.pos += 1;
        Some(op)
    }

    fn comparison(&mut self) -> Result<Ast, ExprError> {
        let left = self.additive()?;
        if let Some(op) = self.cmp_op() {
            let mid = self.additive()?;
            // range chains: 1 < x < 5 means 1 < x and x < 5
            if let Some(op2) = self.cmp_op() {
                let right = self.additive()?;
                return Ok(Ast::And(
                    Box::new(Ast::Cmp(op, Box::new(left), Box::new(mid.clone()))),
                    Box::new(Ast::Cmp(op2, Box::new(mid), Box::new(right))),
                ));
            }
            return Ok(Ast::Cmp(op, Box::new(left), Box::new(mid)));
        }
        if keyword(self.peek(), "not") && keyword(self.peek_at(1), "in") {
            self.pos += 2;
            return Ok(Ast::In {
                expr: Box::new(left),
                list: Box::new(self.additive()?),
                negated: true,
            });
        }
        if self.eat_kw("in") {
            return Ok(Ast::In {
                expr: Box::new(left),
                list: Box::new(self.additive()?),
                negated: false,
            });
        }
        if self.eat_kw("like") {
            return match self.peek().cloned() {
                Some(Tok::Str(pattern)) => {
                    self.pos += 1;
                    Ok(Ast::Like {
                        expr: Box::new(left),
                        pattern,
                    })
                }
                _ => Err(self.error("expected a string pattern after like")),
            };
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

    fn additive(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.term()?;
        loop {
            let op = if self.eat_op("+") {
                ArithOp::Add
            } else if self.eat_op("-") {
                ArithOp::Sub
            } else {
                break;
            };
            left = Ast::Arith(op, Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                ArithOp::Mul
            } else if self.eat_op("/") {
                ArithOp::Div
            } else if self.eat_op("%") {
                ArithOp::Mod
            } else {
                break;
            };
            left = Ast::Arith(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        if self.eat_op("-") {
            return Ok(match self.unary()? {
                Ast::Lit(Value::Int(i)) => Ast::Lit(Value::Int(-i)),
                Ast::Lit(Value::Float(f)) => Ast::Lit(Value::Float(-f)),
                other => Ast::Neg(Box::new(other)),
            });
        }
        if self.eat_op("+") {
            return self.unary();
        }
        let base = self.primary()?;
        if self.eat_op("**") {
            return Ok(Ast::Arith(
                ArithOp::Pow,
                Box::new(base),
                Box::new(self.unary()?),
            ));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error("expected a value or a field"));
        };
        self.pos += 1;
        match tok {
            Tok::Int(i) => Ok(Ast::Lit(Value::Int(i))),
            Tok::Float(f) => Ok(Ast::Lit(Value::Float(f))),
            Tok::Str(s) => Ok(Ast::Lit(Value::Str(s))),
            Tok::Template(name) => Ok(Ast::Template(name)),
            Tok::LParen => {
                let inner = self.or()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                if self.peek() != Some(&Tok::RBracket) {
                    loop {
                        items.push(self.additive()?);
                        if self.peek() == Some(&Tok::Comma) {
                            self.pos += 1;
                            if self.peek() == Some(&Tok::RBracket) {
                                break;
                            }
                            continue;
                        }
                        break;
                    }
                }
                self.expect(Tok::RBracket, "']' or ','")?;
                Ok(Ast::List(items))
            }
            Tok::Ident(name) => {
                if name.eq_ignore_ascii_case("true") {
                    return Ok(Ast::Lit(Value::Bool(true)));
                }
                if name.eq_ignore_ascii_case("false") {
                    return Ok(Ast::Lit(Value::Bool(false)));
                }
                if ["and", "or", "not", "in", "like", "is", "null"]
                    .iter()
                    .any(|k| name.eq_ignore_ascii_case(k))
                {
                    self.pos -= 1;
                    return Err(self.error("expected a value or a field"));
                }
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Tok::RParen) {
                        loop {
                            args.push(self.or()?);
                            if self.peek() != Some(&Tok::Comma) {
                                break;
                            }
                            self.pos += 1;
                        }
                    }
                    self.expect(Tok::RParen, "')' closing the function call")?;
                    return Ok(Ast::Call {
                        name: name.to_ascii_lowercase(),
                        args,
                    });
                }
                let mut path = Vec::new();
                while self.peek() == Some(&Tok::LBracket) {
                    self.pos += 1;
                    match self.peek().cloned() {
                        Some(Tok::Str(k)) => path.push(PathItem::Key(k)),
                        Some(Tok::Int(i)) if i >= 0 => path.push(PathItem::Index(i as usize)),
                        _ => return Err(self.error("expected a string key or an index inside []")),
                    }
                    self.pos += 1;
                    self.expect(Tok::RBracket, "']'")?;
                }
                Ok(Ast::Ident { name, path })
            }
            _ => {
                self.pos -= 1;
                Err(self.error("expected a value or a field"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_forms() {
        let a = parse("a > 1 and b < 2 or not c == 'x'").unwrap();
        assert!(matches!(a, Ast::Or(_, _)));
        let a = parse("pk in [1, 2, 3]").unwrap();
        assert!(matches!(a, Ast::In { negated: false, .. }));
        assert!(matches!(
            parse("pk not in ['a','b']").unwrap(),
            Ast::In { negated: true, .. }
        ));
        assert!(matches!(parse("1 < x <= 5").unwrap(), Ast::And(_, _)));
        assert!(matches!(
            parse("title LIKE \"A%\"").unwrap(),
            Ast::Like { .. }
        ));
        assert!(matches!(
            parse("meta[\"k\"][0] > 1").unwrap(),
            Ast::Cmp(CmpOp::Gt, _, _)
        ));
        assert!(matches!(
            parse("x is not null").unwrap(),
            Ast::IsNull { negated: true, .. }
        ));
        assert!(matches!(
            parse("json_contains(tags, \"a\")").unwrap(),
            Ast::Call { .. }
        ));
        assert!(matches!(
            parse("(a + 2) * 3 % 4 == -1").unwrap(),
            Ast::Cmp(..)
        ));
        assert!(
            matches!(parse("a == {v}").unwrap(), Ast::Cmp(_, _, r) if *r == Ast::Template("v".into()))
        );
    }

    #[test]
    fn errors_name_the_problem() {
        for bad in [
            "a >", "a == 'x", "(a > 1", "a > 1 b", "and", "a like 3", "a # 1", "",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, ExprError::Syntax { .. }), "{bad}: {e}");
        }
        let e = parse("a > 1 b").unwrap_err().to_string();
        assert!(e.contains("position 6"), "{e}");
    }
}
