//! Tokens, produced one at a time (the parser keeps two of look-ahead), by `char`: text outside
//! string literals is ASCII except for identifiers, which may use Unicode letters and digits.
//! Positions are byte offsets into the text.

use crate::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Template(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

const OPS: [&str; 17] = [
    "**", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "=", "^",
];

fn ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

pub struct Lexer<'a> {
    text: &'a str,
    /// byte offset of the next character
    i: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Lexer { text, i: 0 }
    }

    fn err(&self, position: usize, message: String) -> ExprError {
        ExprError::Syntax {
            text: self.text.to_string(),
            position,
            message,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.i..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut chars = self.text[self.i..].chars();
        chars.next();
        chars.next()
    }

    /// The next token and its byte offset, `None` at the end of the text.
    pub fn next_tok(&mut self) -> Result<Option<(usize, Tok)>, ExprError> {
        // only ASCII whitespace separates tokens (Milvus: [ \t\r\n]); a non-breaking space
        // or other Unicode space is reported as an unexpected character
        while let Some(c) = self.peek().filter(char::is_ascii_whitespace) {
            self.i += c.len_utf8();
        }
        let start = self.i;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let punct = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = punct {
            self.i += 1;
            return Ok(Some((start, tok)));
        }
        let tok = match c {
            '"' | '\'' => self.string(c)?,
            '{' => {
                let end = self.text[start..]
                    .find('}')
                    .ok_or_else(|| self.err(start, "unterminated template placeholder".into()))?;
                self.i = start + end + 1;
                Tok::Template(self.text[start + 1..start + end].trim().to_string())
            }
            c if c.is_ascii_digit()
                || (c == '.' && self.peek2().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.number()?
            }
            c if ident_start(c) => {
                while let Some(ch) = self.peek().filter(|ch| ident_char(*ch)) {
                    self.i += ch.len_utf8();
                }
                Tok::Ident(self.text[start..self.i].to_string())
            }
            c => {
                let Some(op) = OPS.iter().find(|op| self.text[start..].starts_with(**op)) else {
                    return Err(self.err(
                        start,
                        format!("unexpected character {c:?} at position {start}"),
                    ));
                };
                self.i += op.len();
                Tok::Op(op)
            }
        };
        Ok(Some((start, tok)))
    }

    fn string(&mut self, quote: char) -> Result<Tok, ExprError> {
        let start = self.i;
        self.i += 1;
        let mut s = String::new();
        while let Some(ch) = self.peek() {
            self.i += ch.len_utf8();
            if ch == quote {
                return Ok(Tok::Str(s));
            }
            if ch != '\\' {
                s.push(ch);
                continue;
            }
            let Some(next) = self.peek() else {
                s.push('\\');
                break;
            };
            self.i += next.len_utf8();
            match next {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                // keep escapes that matter to LIKE patterns
                '%' | '_' => {
                    s.push('\\');
                    s.push(next);
                }
                other => s.push(other),
            }
        }
        Err(self.err(start, "unterminated string".into()))
    }

    fn number(&mut self) -> Result<Tok, ExprError> {
        let start = self.i;
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.i) {
            let sign_of_exponent = (b == b'-' || b == b'+')
                && self.i > start
                && matches!(bytes[self.i - 1], b'e' | b'E')
                && !self.text[start..].starts_with("0x")
                && !self.text[start..].starts_with("0X");
            if b.is_ascii_alphanumeric() || b == b'.' || sign_of_exponent {
                self.i += 1;
            } else {
                break;
            }
        }
        let lit = &self.text[start..self.i];
        let tok = if let Some(hex) = lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
            // from_str_radix accepts a leading sign; a literal has none
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| i64::from_str_radix(hex, 16).ok())
                .flatten()
                .map(Tok::Int)
        } else if lit.contains(['.', 'e', 'E']) {
            lit.parse::<f64>().ok().map(Tok::Float)
        } else {
            // integers beyond i64 become floats, as before
            lit.parse()
                .map(Tok::Int)
                .ok()
                .or_else(|| lit.parse::<f64>().ok().map(Tok::Float))
        };
        match tok {
            Some(Tok::Float(f)) if !f.is_finite() => {
                Err(self.err(start, format!("number {lit:?} is out of range")))
            }
            Some(tok) => Ok(tok),
            None => Err(self.err(start, format!("invalid number {lit:?}"))),
        }
    }
}

/// All tokens of `text`.
#[cfg(test)]
pub fn lex(text: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let mut lexer = Lexer::new(text);
    let mut out = Vec::new();
    while let Some(t) = lexer.next_tok()? {
        out.push(t);
    }
    Ok(out)
}
