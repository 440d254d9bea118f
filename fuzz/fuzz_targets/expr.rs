//! The filter expression pipeline on arbitrary text: lex -> parse -> compile (against a fixed
//! schema with every field kind and the dynamic field, with template values) -> evaluate on
//! fixed rows, and the primary-key fast path of deletes. Errors are fine; panics, hangs,
//! stack overflows and runaway memory are not.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quarry_types::{CollectionSchema, Value};

struct Fixture {
    schema: CollectionSchema,
    templates: std::collections::HashMap<String, Value>,
    rows: Vec<quarry_fuzz::Row>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        schema: quarry_fuzz::schema(false),
        templates: quarry_fuzz::templates(),
        rows: quarry_fuzz::rows(),
    })
}

fuzz_target!(init: quarry_fuzz::seeds::write_if_asked("expr"), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    // the parser alone (what a syntax check would run)
    let _ = quarry_expr::parse(text);
    let Ok(Some(expr)) = quarry_expr::prepare(text, &f.schema, &f.templates) else {
        return;
    };
    for row in &f.rows {
        let _ = expr.matches(row);
    }
    let _ = expr.pk_lookup("id");
});
