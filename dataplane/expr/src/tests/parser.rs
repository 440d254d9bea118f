use crate::ast::{Ast, CmpOp};
use crate::lexer::{lex, Tok};
use crate::{parse, ExprError};

#[test]
fn precedence_and_forms() {
    let a = parse("a > 1 and b < 2 or not c == 'x'").unwrap();
    assert!(matches!(a, Ast::Or(_)));
    let a = parse("pk in [1, 2, 3]").unwrap();
    assert!(matches!(a, Ast::In { negated: false, .. }));
    assert!(matches!(
        parse("pk not in ['a','b']").unwrap(),
        Ast::In { negated: true, .. }
    ));
    assert!(matches!(parse("1 < x <= 5").unwrap(), Ast::And(_)));
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

#[test]
fn lexes_by_char_with_byte_positions() {
    let toks = lex("é == \"東京\" and x[0] >= -1.5e3").unwrap();
    assert_eq!(
        toks,
        vec![
            (0, Tok::Ident("é".into())),
            (3, Tok::Op("==")),
            (6, Tok::Str("東京".into())),
            (15, Tok::Ident("and".into())),
            (19, Tok::Ident("x".into())),
            (20, Tok::LBracket),
            (21, Tok::Int(0)),
            (22, Tok::RBracket),
            (24, Tok::Op(">=")),
            (27, Tok::Op("-")),
            (28, Tok::Float(1.5e3)),
        ]
    );
    assert_eq!(
        lex("'a\\'b\\%'").unwrap(),
        vec![(0, Tok::Str("a'b\\%".into()))]
    );
    assert!(lex("'abc\\").is_err());
    assert!(lex("\"abc").is_err());
    assert!(lex("{abc").is_err());
}

#[test]
fn chains_are_flat() {
    let Ast::Or(items) = parse("a or b or (c or d) || e and f and g").unwrap() else {
        panic!()
    };
    assert_eq!(items.len(), 5);
    assert!(matches!(&items[4], Ast::And(v) if v.len() == 3));
    let Ast::Arith(_, rest) = parse("1 + 2 - 3 + 4 * 5 * 6").unwrap() else {
        panic!()
    };
    assert_eq!(rest.len(), 3);
    assert!(matches!(&rest[2].1, Ast::Arith(_, r) if r.len() == 2));
    // a range's middle is used twice, so it must be a field (as in Milvus)
    assert!(parse("1 < a[\"k\"] < 5").is_ok());
    assert!(parse("1 < a + 1 < 5").is_err());
    assert!(parse("0 < (0 < a < 5) < 5").is_err());
}
