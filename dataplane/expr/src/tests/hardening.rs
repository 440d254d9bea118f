//! Inputs that used to hang or panic: non-ASCII text outside string literals, empty lists,
//! and arithmetic on the edges of i64 and f64.

use quarry_types::Value;

use super::{check, on_small_stack, schema, templates, try_prepare};
use crate::ast::{Ast, CmpOp};
use crate::compile::MAX_AST_HEIGHT;
use crate::{compile, parse, ExprError};

fn syntax_message(text: &str) -> (usize, String) {
    let text = text.to_string();
    match on_small_stack(5, move || parse(&text)) {
        Err(ExprError::Syntax {
            position, message, ..
        }) => (position, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn non_ascii_outside_strings_is_a_syntax_error() {
    assert_eq!(
        syntax_message("a ≥ 1"),
        (2, "unexpected character '≥' at position 2".to_string())
    );
    let cases = [
        ("name == “x”", '“', 8),
        ("a\u{a0}== 1", '\u{a0}', 1),
        ("a == 1 or b == 😀", '😀', 15),
        ("😀", '😀', 0),
        ("≥", '≥', 0),
        ("a ≥", '≥', 2),
        ("(a == 1) ≥ 2", '≥', 9),
        ("a == 1 #", '#', 7),
        ("a == \u{2003}1", '\u{2003}', 5),
    ];
    for (text, c, position) in cases {
        let (p, message) = syntax_message(text);
        assert_eq!(p, position, "{text}: {message}");
        assert_eq!(
            message,
            format!("unexpected character {c:?} at position {position}"),
            "{text}"
        );
    }
    // the whole error, as a client sees it
    let e = try_prepare("a ≥ 1").unwrap_err().to_string();
    assert!(e.contains("unexpected character '≥' at position 2"), "{e}");
}

#[test]
fn unicode_inside_strings_and_identifiers_still_works() {
    let ast = parse("name == \"café ≥ 東京\"").unwrap();
    let Ast::Cmp(CmpOp::Eq, l, r) = ast else {
        panic!("{ast:?}")
    };
    assert!(matches!(*l, Ast::Ident { ref name, .. } if name == "name"));
    assert_eq!(*r, Ast::Lit(Value::Str("café ≥ 東京".into())));
    assert_eq!(
        parse("title like '“%”'").unwrap(),
        Ast::Like {
            expr: Box::new(Ast::Ident {
                name: "title".into(),
                path: vec![]
            }),
            pattern: "“%”".into()
        }
    );
    // identifiers took Unicode letters and digits before, and still do
    for (text, name) in [
        ("café == 1", "café"),
        ("東京2 > 1", "東京2"),
        ("$x_1 == 1", "$x_1"),
    ] {
        match parse(text).unwrap() {
            Ast::Cmp(_, l, _) => {
                assert!(
                    matches!(*l, Ast::Ident { name: ref n, .. } if n == name),
                    "{text}"
                )
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(!check("title == \"café ≥ 東京\""));
    assert!(check(
        "title != \"café ≥ 東京\" and meta[\"nested\"][\"x\"] == 'y'"
    ));
}

#[test]
fn empty_lists_and_templates_do_not_panic() {
    // used to panic on `remove(0)` of an empty list
    let e = try_prepare("id in [[]]").unwrap_err();
    assert!(e.to_string().contains("cannot compare field id"), "{e}");
    assert!(try_prepare("id in [[1, 2]]").is_err());
    assert!(try_prepare("id in [{empty}]").is_err());
    // as in Milvus, json_contains takes one element, a list being one element too
    assert!(!check("json_contains(meta, [])"));
    assert!(check("json_contains(meta[\"pairs\"], [])"));
    assert!(check("json_contains(meta[\"pairs\"], {empty})"));
    assert!(check("json_contains(meta[\"pairs\"], [1, 2])"));
    assert!(!check("json_contains(meta[\"tags\"], [\"a\"])"));
    assert!(check("json_contains_any(meta[\"pairs\"], {pair})"));
    assert!(check("json_contains_all(meta[\"tags\"], {tags})"));
    assert!(check("json_contains_all(meta[\"tags\"], {empty})"));
    assert!(!check("json_contains_any(meta[\"tags\"], {empty})"));
    assert!(!check("json_contains_any(meta[\"tags\"], [])"));
    assert!(!check("id in {empty}"));
    assert!(check("id not in {empty}"));
    assert!(check("meta[\"pairs\"] in [[[1, 2], []]]"));
    let e = try_prepare("json_contains_all(meta, 1)").unwrap_err();
    assert!(
        e.to_string()
            .contains("second argument of json_contains_all"),
        "{e}"
    );
    for bad in [
        "json_contains()",
        "json_contains(meta)",
        "array_length()",
        "nope(1)",
    ] {
        assert!(try_prepare(bad).is_err(), "{bad}");
    }
}

#[test]
fn arithmetic_edges_are_null_not_panics() {
    let yes = [
        "1 ** 5000000000 == 1",
        "-1 ** 5000000001 == -1",
        "(-1) ** 5000000000 == 1",
        "0 ** 5000000000 == 0",
        "2 ** 62 == 4611686018427387904",
        "0x7fffffffffffffff == 9223372036854775807",
        "99999999999999999999 > 1",
        "-9223372036854775807 - 1 < 0",
        "-id == -7",
    ];
    for t in yes {
        assert!(check(t), "{t} should match");
    }
    // overflow, division by zero, negative integer exponents and infinities are null,
    // and a comparison with null is false either way
    let neither = [
        "2 ** 64",
        "id ** 5000000000",
        "id ** -1",
        "2 ** 9223372036854775807",
        "id / 0",
        "id % 0",
        "score / 0",
        "score % 0",
        "(-9223372036854775807 - 1) / -1",
        "(-9223372036854775807 - 1) % -1",
        "-(-9223372036854775807 - 1)",
        "id * 9223372036854775807 * 2",
        "9223372036854775807 + id",
        "10.0 ** 400",
        "meta[\"k\"] ** 100000",
    ];
    for t in neither {
        for cmp in ["{t} > 0", "{t} <= 0", "{t} == {t}"] {
            let text = cmp.replace("{t}", t);
            assert!(!check(&text), "{text} should not match");
        }
    }
    for bad in [
        "a > 1e400",
        "a > 0x",
        "a > 0x-1",
        "a > 1.2.3",
        "a > 1e",
        "a > 12abc",
    ] {
        assert!(
            matches!(parse(bad), Err(ExprError::Syntax { .. })),
            "{bad}: {:?}",
            parse(bad)
        );
    }
}

#[test]
fn compile_refuses_a_hand_built_tree_too_high() {
    let leaf = Ast::Cmp(
        CmpOp::Eq,
        Box::new(Ast::Ident {
            name: "id".into(),
            path: vec![],
        }),
        Box::new(Ast::Lit(Value::Int(7))),
    );
    // a `not` chain over `id == 7`: MAX_AST_HEIGHT nodes high compiles, one more does not
    let build = |nots: usize| (0..nots).fold(leaf.clone(), |a, _| Ast::Not(Box::new(a)));
    let ok = build(MAX_AST_HEIGHT - 2);
    let too_high = build(MAX_AST_HEIGHT - 1);
    on_small_stack(20, move || {
        let e = compile(&ok, &schema(), &templates()).unwrap();
        let expected = (0..MAX_AST_HEIGHT - 2).fold(true, |b, _| !b);
        assert_eq!(e.matches(&super::row()), expected);
        let err = compile(&too_high, &schema(), &templates()).unwrap_err();
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    });
}
