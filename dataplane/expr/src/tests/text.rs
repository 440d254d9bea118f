//! `text_match`: rows whose analyzed text shares a token with the analyzed query.

use std::collections::HashMap;

use quarry_types::{CollectionSchema, DataType, Value};

use super::{f, Row};
use crate::prepare;

fn schema() -> CollectionSchema {
    CollectionSchema {
        functions: vec![],
        name: "docs".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            f("id", DataType::Int64, &[]),
            f(
                "body",
                DataType::VarChar,
                &[
                    ("max_length", "200"),
                    ("enable_match", "True"),
                    ("enable_analyzer", "true"),
                    ("analyzer_params", r#"{"type": "english"}"#),
                ],
            ),
            f("plain", DataType::VarChar, &[("max_length", "200")]),
            f("emb", DataType::FloatVector, &[("dim", "2")]),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    }
    .prepare_new()
    .unwrap()
}

fn body(text: &str) -> Row {
    Row(HashMap::from([("body", Value::Str(text.into()))]))
}

#[test]
fn matches_any_token_of_the_query_after_analysis() {
    let s = schema();
    let e = prepare("text_match(body, 'Running fast')", &s, &HashMap::new())
        .unwrap()
        .unwrap();
    assert!(e.matches(&body("She runs every day")));
    assert!(e.matches(&body("a FAST car")));
    assert!(!e.matches(&body("walking slowly")));
    assert!(!e.matches(&Row(HashMap::new())));
    // combined with other conditions; a query of stop words only matches nothing
    let e = prepare(
        "not text_match(body, 'cars') and id > 1",
        &s,
        &HashMap::new(),
    )
    .unwrap()
    .unwrap();
    let mut r = body("a car");
    r.0.insert("id", Value::Int(5));
    assert!(!e.matches(&r));
    let e = prepare("text_match(body, 'the of')", &s, &HashMap::new())
        .unwrap()
        .unwrap();
    assert!(!e.matches(&body("the end of it")));
}

#[test]
fn refuses_fields_without_match_and_bad_arguments() {
    let s = schema();
    for (filter, want) in [
        ("text_match(plain, 'x')", "does not enable match"),
        ("text_match(id, 'x')", "must be a VarChar field"),
        ("text_match(body, 3)", "must be a string"),
        ("text_match(body)", "takes 2 arguments"),
        ("text_match(body, 'a', 'b')", "takes 2 arguments"),
    ] {
        let e = prepare(filter, &s, &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{filter}: {e}");
    }
}

#[test]
fn phrases_match_in_order_within_the_slop() {
    let s = schema();
    let m = |filter: &str, text: &str| {
        prepare(filter, &s, &HashMap::new())
            .unwrap()
            .unwrap()
            .matches(&body(text))
    };
    // english: stop words keep their places, stems match
    assert!(m("phrase_match(body, 'running dogs')", "Two Run dog days"));
    assert!(!m("phrase_match(body, 'running dogs')", "dogs running"));
    assert!(!m("phrase_match(body, 'quick fox')", "quick brown fox"));
    assert!(m("phrase_match(body, 'quick fox', 1)", "quick brown fox"));
    assert!(!m(
        "phrase_match(body, 'quick fox jumps', 1)",
        "quick brown fox lazy jumps"
    ));
    assert!(m(
        "phrase_match(body, 'quick fox jumps', 2)",
        "quick brown fox lazy jumps"
    ));
    // the query's own gaps count: "quick the fox" wants fox two places after quick
    assert!(m("phrase_match(body, 'quick the fox')", "quick brown fox"));
    // a later start can fit where the first does not
    assert!(m("phrase_match(body, 'red car')", "red bus and a red car"));
    assert!(!m("phrase_match(body, 'the of')", "the end of it"));
    for (filter, want) in [
        ("phrase_match(body, 'a', -1)", "slop of phrase_match"),
        ("phrase_match(body, 'a', 'b')", "slop of phrase_match"),
        ("phrase_match(plain, 'a')", "does not enable match"),
        ("phrase_match(body)", "takes 2 or 3 arguments"),
    ] {
        let e = prepare(filter, &s, &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{filter}: {e}");
    }
}
