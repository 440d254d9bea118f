//! The `MAX_EXPR_*` bounds, and that the deepest expression they allow is safe on a 2 MiB
//! stack (a tokio worker's) in a debug build: parse, compile, evaluation and drop.

use std::collections::HashMap;

use quarry_types::limits::{MAX_EXPR_BYTES, MAX_EXPR_DEPTH, MAX_EXPR_LIST, MAX_EXPR_TERMS};
use quarry_types::Value;

use super::{on_small_stack, row, schema, templates};
use crate::{parse, prepare, ExprError};

const D: usize = MAX_EXPR_DEPTH;

/// Expressions nested `depth` levels deep, one per kind of nesting.
fn nested(depth: usize) -> Vec<(&'static str, String)> {
    // the most tree nodes per level: or, and, comparison, `+` and `*` chains, parentheses
    let mut widest = "id".to_string();
    for _ in 0..depth {
        widest = format!("(id == 1 or id == 7 and 1 + 2 * {widest} > 0)");
    }
    // the same with a `**` (its exponent is a level of its own), and with calls
    let (mut widest_pow, mut widest_call) = ("id".to_string(), "id".to_string());
    for _ in 1..depth {
        widest_pow = format!("(id == 1 or id == 7 and 1 + 2 * {widest_pow} ** 1 > 0)");
        widest_call =
            format!("array_length(id == 1 or id == 7 and 1 + 2 * {widest_call} ** 1 > 0)");
    }
    vec![
        ("widest with **", widest_pow),
        ("widest with calls", format!("{widest_call} == 1")),
        (
            "parentheses",
            format!("{}id == 7{}", "(".repeat(depth), ")".repeat(depth)),
        ),
        ("widest", widest),
        ("not", format!("{}id == 7", "not ".repeat(depth))),
        ("unary minus", format!("{}id == 7", "-".repeat(depth))),
        ("unary plus", format!("{}id == 7", "+".repeat(depth))),
        ("power", format!("{}id > 0", "2 ** ".repeat(depth))),
        (
            "lists in a call",
            format!(
                "json_contains(meta, {}{})",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            ),
        ),
        (
            "calls",
            format!(
                "{}meta{} == 1",
                "array_length(".repeat(depth),
                ")".repeat(depth)
            ),
        ),
        (
            "not and parentheses",
            format!(
                "{}{}id == 7{}",
                "not ".repeat(depth % 2),
                "not (".repeat(depth / 2),
                ")".repeat(depth / 2)
            ),
        ),
    ]
}

fn assert_too_deep(r: Result<impl std::fmt::Debug, ExprError>, what: &str) {
    match r {
        Err(ExprError::Invalid(m)) => assert!(
            m.contains(&format!(
                "expression is nested too deeply: more than {D} levels"
            )),
            "{what}: {m}"
        ),
        other => {
            let other = format!("{other:?}");
            panic!(
                "{what}: expected the depth error, got {}",
                &other[..other.len().min(300)]
            )
        }
    }
}

#[test]
fn the_deepest_expressions_allowed_run_on_a_small_stack() {
    on_small_stack(60, || {
        for (what, text) in nested(D) {
            let e = prepare(&text, &schema(), &templates())
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .unwrap();
            let expected = matches!(
                what,
                "parentheses" | "not" | "unary minus" | "unary plus" | "not and parentheses"
            );
            assert_eq!(e.matches(&row()), expected, "{what}");
            drop(e);
            drop(parse(&text).unwrap());
        }
    });
}

#[test]
fn one_level_deeper_is_refused() {
    on_small_stack(60, || {
        for (what, text) in nested(D + 1) {
            assert_too_deep(prepare(&text, &schema(), &templates()), what);
        }
    });
}

#[test]
fn ten_thousand_parentheses_are_refused_quickly() {
    on_small_stack(5, || {
        for text in [
            format!("{}id == 7{}", "(".repeat(10_000), ")".repeat(10_000)),
            "(".repeat(10_000),
            "[".repeat(10_000),
            "-".repeat(10_000),
            "not ".repeat(10_000),
            format!("id in {}", "[".repeat(10_000)),
            format!("json_contains(meta, {}", "f(".repeat(10_000)),
        ] {
            assert_too_deep(prepare(&text, &schema(), &templates()), &text[..20]);
        }
    });
}

#[test]
fn long_and_or_chains_are_refused_quickly() {
    on_small_stack(10, || {
        for op in ["or", "and", "||", "&&"] {
            // 100,000 terms, or as many as fit in the length limit
            let piece = format!("a == 1 {op} ");
            let n = 100_000.min(MAX_EXPR_BYTES / piece.len());
            let text = piece.repeat(n - 1) + "a == 1";
            assert!(text.len() <= MAX_EXPR_BYTES && n > 2 * MAX_EXPR_TERMS);
            let e = prepare(&text, &schema(), &templates()).unwrap_err();
            let m = e.to_string();
            assert!(
                m.contains(&format!(
                    "expression has too many terms: more than {MAX_EXPR_TERMS} predicates joined by and/or"
                )),
                "{op}: {}",
                &m[..m.len().min(300)]
            );
            // the message does not echo the megabyte of text
            assert!(m.len() < 300, "{op}: {} bytes", m.len());
        }
    });
}

#[test]
fn the_longest_chain_allowed_is_flat() {
    on_small_stack(30, || {
        let or = "a == 1 or ".repeat(MAX_EXPR_TERMS - 1) + "id == 7";
        let e = prepare(&or, &schema(), &templates()).unwrap().unwrap();
        assert!(e.matches(&row()));
        let and = "id == 7 and ".repeat(MAX_EXPR_TERMS - 1) + "id > (1 + 1 - 1 * 2 + 1)";
        let e = prepare(&and, &schema(), &templates()).unwrap().unwrap();
        assert!(e.matches(&row()));
        // terms are counted over the whole expression, parentheses or not
        let mixed = "(a == 1 or a == 2) and ".repeat(MAX_EXPR_TERMS / 2) + "id == 7";
        assert!(prepare(&mixed, &schema(), &templates()).is_err());
        let sum = "1 + ".repeat(100_000) + "id > 0";
        let e = prepare(&sum, &schema(), &templates()).unwrap().unwrap();
        assert!(e.matches(&row()));
    });
}

#[test]
fn text_longer_than_the_limit_is_refused_first() {
    for text in [
        "a".repeat(MAX_EXPR_BYTES + 1),
        " ".repeat(MAX_EXPR_BYTES + 1),
        "(".repeat(MAX_EXPR_BYTES + 1),
    ] {
        let m = prepare(&text, &schema(), &templates())
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            format!(
                "invalid expression: expression is too long: {} bytes, more than the limit of {MAX_EXPR_BYTES} bytes",
                MAX_EXPR_BYTES + 1
            )
        );
        assert!(parse(&text).is_err());
    }
    let at_limit = format!("title == \"{}\"", "x".repeat(MAX_EXPR_BYTES - 11));
    assert_eq!(at_limit.len(), MAX_EXPR_BYTES);
    assert!(prepare(&at_limit, &schema(), &templates()).is_ok());
}

#[test]
fn template_lists_are_bounded() {
    let big = Value::Json(serde_json::Value::Array(vec![1.into(); MAX_EXPR_LIST + 1]));
    let templates = HashMap::from([("big".to_string(), big)]);
    let e = prepare("id in {big}", &schema(), &templates).unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "list has too many elements: more than {MAX_EXPR_LIST}"
        )),
        "{e}"
    );
}
