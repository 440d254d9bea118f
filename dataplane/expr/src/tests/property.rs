//! Pseudo-random inputs (a fixed xorshift seed, so runs repeat) through parse, compile and
//! evaluation: whatever the text, the answer is a value or an error, never a panic or a hang.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{on_small_stack, row, schema, templates, XorShift};
use crate::{compile, parse, prepare};

const TOKENS: [&str; 70] = [
    "id",
    "title",
    "year",
    "score",
    "meta",
    "emb",
    "color",
    "$meta",
    "_x",
    "café",
    "(",
    ")",
    "[",
    "]",
    ",",
    "\"a\"",
    "'b%'",
    "\"é≥\"",
    "'\\'",
    "\"",
    "'",
    "0",
    "1",
    "-1",
    "7",
    "2.5",
    "1e3",
    "0x7f",
    "9223372036854775807",
    "99999999999999999999",
    "1e308",
    ".5",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "!",
    "^",
    "&&",
    "||",
    "and",
    "or",
    "not",
    "in",
    "like",
    "is",
    "null",
    "true",
    "false",
    "json_contains",
    "json_contains_all",
    "json_contains_any",
    "array_length",
    "{lim}",
    "{empty}",
    "{pair}",
    "{nope}",
    "{",
    "}",
    "≥",
    "\u{a0}",
];

/// Parses, compiles and evaluates `text` every way the public API allows.
fn exercise(text: &str) {
    if let Ok(Some(e)) = prepare(text, &schema(), &templates()) {
        e.matches(&row());
        let _ = e.pk_lookup("id");
    }
    if let Ok(ast) = parse(text) {
        if let Ok(e) = compile(&ast, &schema(), &templates()) {
            e.matches(&row());
        }
    }
}

fn run(seed: u64, count: usize, gen: fn(&mut XorShift) -> String) {
    on_small_stack(120, move || {
        let mut rng = XorShift(seed);
        for _ in 0..count {
            let text = gen(&mut rng);
            if catch_unwind(AssertUnwindSafe(|| exercise(&text))).is_err() {
                panic!("panicked on {text:?}");
            }
        }
    });
}

#[test]
fn random_bytes_never_panic() {
    run(0x9E37_79B9_7F4A_7C15, 3000, |rng| {
        let len = rng.below(48);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                // mostly printable ASCII, some of it the operators and brackets
                0 | 1 => b' ' + rng.below(95) as u8,
                2 => b"()[]{}\"',.<>=!-+*/%&|^ 019eEx"[rng.below(29)],
                _ => rng.next() as u8,
            })
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    });
}

#[test]
fn token_soups_never_panic() {
    run(0xD1B5_4A32_D192_ED03, 4000, |rng| {
        let len = 1 + rng.below(24);
        let mut text = String::new();
        for _ in 0..len {
            text.push_str(TOKENS[rng.below(TOKENS.len())]);
            if rng.below(3) > 0 {
                text.push(' ');
            }
        }
        text
    });
}

#[test]
fn well_formed_shapes_never_panic() {
    // small grammar-shaped expressions reach compile and evaluation far more often
    fn operand(rng: &mut XorShift, depth: usize) -> String {
        let atoms = [
            "id",
            "year",
            "score",
            "meta[\"k\"]",
            "meta[\"tags\"]",
            "meta[\"pairs\"]",
            "n",
            "title",
            "0",
            "1",
            "-1",
            "2.5",
            "9223372036854775807",
            "{lim}",
            "{empty}",
            "[]",
            "[1, 2]",
            "[[]]",
            "\"a\"",
        ];
        if depth == 0 || rng.below(3) == 0 {
            return atoms[rng.below(atoms.len())].to_string();
        }
        let (a, b) = (operand(rng, depth - 1), operand(rng, depth - 1));
        match rng.below(6) {
            0 => format!("({a} + {b})"),
            1 => format!("({a} ** {b})"),
            2 => format!("({a} / {b})"),
            3 => format!("({a} % {b})"),
            4 => format!("-{a}"),
            _ => format!("array_length({a})"),
        }
    }
    fn predicate(rng: &mut XorShift, depth: usize) -> String {
        let (a, b) = (operand(rng, 2), operand(rng, 2));
        let leaf = match rng.below(7) {
            0 => format!("{a} == {b}"),
            1 => format!("{a} < {b}"),
            2 => format!("{a} in {b}"),
            3 => format!("{a} like \"%a_\""),
            4 => format!("{a} is not null"),
            5 => format!("json_contains_any({a}, {b})"),
            _ => format!("json_contains({a}, {b})"),
        };
        if depth == 0 || rng.below(2) == 0 {
            return leaf;
        }
        let (l, r) = (predicate(rng, depth - 1), predicate(rng, depth - 1));
        match rng.below(3) {
            0 => format!("({l} and {r})"),
            1 => format!("{l} or {r}"),
            _ => format!("not ({l})"),
        }
    }
    run(0x2545_F491_4F6C_DD1D, 3000, |rng| predicate(rng, 3));
}
