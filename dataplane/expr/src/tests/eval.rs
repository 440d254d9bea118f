use std::collections::HashMap;

use quarry_types::Value;

use super::{check, schema};
use crate::eval::like;
use crate::{prepare, ExprError};

#[test]
fn evaluates_the_language() {
    let yes = [
        "year >= 2000 and title like \"A%\"",
        "id in [1, 7, 9]",
        "id not in [1, 2]",
        "year > {lim}",
        "score < 1 && score > 0.1",
        "2000 < year <= 2001",
        "(year + 1) * 2 == 4004",
        "year % 2 == 1",
        "meta[\"k\"] > 1",
        "meta[\"nested\"][\"x\"] == 'y'",
        "json_contains(meta[\"tags\"], \"b\")",
        "json_contains_all(meta[\"tags\"], [\"a\", \"b\"])",
        "array_length(meta[\"tags\"]) == 2",
        "color == \"red\"",
        "n + 1 == 4",
        "missing is null",
        "not (year < 2000)",
        "title like \"%beta\"",
        "title like \"Al_ha%\"",
        "id == 7 or nothing == 1",
    ];
    for t in yes {
        assert!(check(t), "{t} should match");
    }
    let no = [
        "year < 2000",
        "title like \"B%\"",
        "color == \"blue\"",
        "missing == 1",
        "missing != 1",
        "id in []",
        "json_contains(meta[\"tags\"], \"z\")",
    ];
    for t in no {
        assert!(!check(t), "{t} should not match");
    }
}

#[test]
fn compile_errors_are_clear() {
    let mut s = schema();
    let e = prepare("title > 5", &s, &HashMap::new()).unwrap_err();
    assert!(e.to_string().contains("cannot compare field title"), "{e}");
    let e = prepare("emb > 1", &s, &HashMap::new()).unwrap_err();
    assert!(e.to_string().contains("vector field emb"), "{e}");
    let e = prepare("year + 1", &s, &HashMap::new()).unwrap_err();
    assert!(e.to_string().contains("boolean"), "{e}");
    let e = prepare("year > {x}", &s, &HashMap::new()).unwrap_err();
    assert!(e.to_string().contains("{x}"), "{e}");
    s.fields.retain(|f| !f.is_dynamic);
    let e = prepare("nope == 1", &s, &HashMap::new()).unwrap_err();
    assert!(
        matches!(e, ExprError::UnknownField { ref field, .. } if field == "nope"),
        "{e}"
    );
    assert!(e.to_string().contains("nope == 1"));
}

#[test]
fn pk_lookup_fast_path() {
    let s = schema();
    let e = prepare("id in [1, 2]", &s, &HashMap::new())
        .unwrap()
        .unwrap();
    assert_eq!(e.pk_lookup("id"), Some(vec![Value::Int(1), Value::Int(2)]));
    let e = prepare("id in [1] and year > 1", &s, &HashMap::new())
        .unwrap()
        .unwrap();
    assert_eq!(e.pk_lookup("id"), None);
}

#[test]
fn field_values_for_partition_pruning() {
    let s = schema();
    let values = |text: &str| {
        prepare(text, &s, &HashMap::new())
            .unwrap()
            .unwrap()
            .field_values("year")
    };
    let ints = |v: &[i64]| Some(v.iter().map(|i| Value::Int(*i)).collect::<Vec<_>>());
    assert_eq!(values("year == 2001"), ints(&[2001]));
    assert_eq!(values("year in [1, 2] and id > 3"), ints(&[1, 2]));
    assert_eq!(
        values("year in [1, 2, 3] and (year == 2 and id > 0)"),
        ints(&[2])
    );
    assert_eq!(values("year == 1 or year in [5, 6]"), ints(&[1, 5, 6]));
    assert_eq!(values("year == 1 or id == 2"), None);
    assert_eq!(values("year > 1"), None);
    assert_eq!(values("not (year == 1)"), None);
    assert_eq!(values("year not in [1]"), None);
}

#[test]
fn like_patterns() {
    assert!(like("abc", "a%"));
    assert!(like("abc", "%c"));
    assert!(like("abc", "%b%"));
    assert!(like("abc", "a_c"));
    assert!(!like("abc", "a_"));
    assert!(like("a%c", "a\\%c"));
    assert!(!like("abc", "a\\%c"));
    assert!(like("", "%"));
}
