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
