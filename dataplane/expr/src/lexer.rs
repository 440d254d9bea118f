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

pub fn lex(text: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let err = |position: usize, message: String| ExprError::Syntax {
        text: text.to_string(),
        position,
        message,
    };
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            '[' => {
                out.push((start, Tok::LBracket));
                i += 1;
            }
            ']' => {
                out.push((start, Tok::RBracket));
                i += 1;
            }
            ',' => {
                out.push((start, Tok::Comma));
                i += 1;
            }
            '"' | '\'' => {
                let mut s = String::new();
                i += 1;
                let mut closed = false;
                while i < bytes.len() {
                    let ch = text[i..].chars().next().unwrap();
                    if ch == c {
                        closed = true;
                        i += 1;
                        break;
                    }
                    if ch == '\\' && i + 1 < bytes.len() {
                        let next = text[i + 1..].chars().next().unwrap();
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
                        i += 1 + next.len_utf8();
                        continue;
                    }
                    s.push(ch);
                    i += ch.len_utf8();
                }
                if !closed {
                    return Err(err(start, "unterminated string".into()));
                }
                out.push((start, Tok::Str(s)));
            }
            '{' => {
                let end = text[i..]
                    .find('}')
                    .ok_or_else(|| err(start, "unterminated template placeholder".into()))?;
                out.push((
                    start,
                    Tok::Template(text[i + 1..i + end].trim().to_string()),
                ));
                i += end + 1;
            }
            c if c.is_ascii_digit()
                || (c == '.' && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit())) =>
            {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'.'
                        || ((bytes[i] == b'-' || bytes[i] == b'+')
                            && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let lit = &text[start..i];
                let tok =
                    if let Some(hex) = lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
                        i64::from_str_radix(hex, 16).map(Tok::Int).ok()
                    } else if lit.contains(['.', 'e', 'E']) {
                        lit.parse().map(Tok::Float).ok()
                    } else {
                        lit.parse()
                            .map(Tok::Int)
                            .ok()
                            .or_else(|| lit.parse().map(Tok::Float).ok())
                    };
                out.push((
                    start,
                    tok.ok_or_else(|| err(start, format!("invalid number {lit:?}")))?,
                ));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                while i < bytes.len() {
                    let ch = text[i..].chars().next().unwrap();
                    if ch.is_alphanumeric() || ch == '_' || ch == '$' {
                        i += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                out.push((start, Tok::Ident(text[start..i].to_string())));
            }
            _ => {
                let op = OPS
                    .iter()
                    .find(|op| text[i..].starts_with(**op))
                    .ok_or_else(|| err(start, format!("unexpected character {c:?}")))?;
                out.push((start, Tok::Op(op)));
                i += op.len();
            }
        }
    }
    Ok(out)
}
