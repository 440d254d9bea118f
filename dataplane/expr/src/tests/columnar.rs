//! The column evaluator answers exactly what the row evaluator answers: random filters over a
//! random batch (nulls, NaN, negative numbers, JSON, dynamic keys), both ways.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType as ArrowType, Field};
use quarry_types::batch::ColumnReader;
use quarry_types::Value;

use super::{schema, templates, XorShift};
use crate::{prepare, RowAccess};

const ROWS: usize = 257;
const WORDS: [&str; 6] = ["alpha", "alpine", "beta", "Alpha beta", "gamma%", "b_ta"];

/// A batch of the test schema (id, title, year, score, meta, emb, $meta).
fn batch(rng: &mut XorShift) -> RecordBatch {
    let mut title = Vec::new();
    let mut year = Vec::new();
    let mut score = Vec::new();
    let mut meta = Vec::new();
    let mut dynamic = Vec::new();
    for _ in 0..ROWS {
        title.push((rng.below(5) > 0).then(|| rng.pick(&WORDS).to_string()));
        year.push((rng.below(6) > 0).then(|| 1995 + rng.below(12) as i32));
        score.push(match rng.below(8) {
            0 => None,
            1 => Some(f64::NAN),
            _ => Some(rng.below(9) as f64 / 4.0 - 1.0),
        });
        meta.push(Some(format!(
            r#"{{"k": {}, "tags": ["{}"]}}"#,
            rng.below(4),
            rng.pick(&["a", "b"])
        )));
        dynamic.push(Some(format!(
            r#"{{"color": "{}", "n": {}}}"#,
            rng.pick(&["red", "blue"]),
            rng.below(5)
        )));
    }
    let emb = FixedSizeListArray::new(
        Arc::new(Field::new("item", ArrowType::Float32, false)),
        2,
        Arc::new(Float32Array::from(vec![0.5f32; ROWS * 2])),
        None,
    );
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from_iter_values(0..ROWS as i64))),
        ("title", Arc::new(StringArray::from(title))),
        ("year", Arc::new(Int32Array::from(year))),
        ("score", Arc::new(Float64Array::from(score))),
        ("meta", Arc::new(StringArray::from(meta))),
        ("emb", Arc::new(emb)),
        ("$meta", Arc::new(StringArray::from(dynamic))),
    ];
    RecordBatch::try_from_iter(cols).unwrap()
}

struct BatchRow<'a> {
    readers: &'a [(String, ColumnReader<'a>)],
    row: usize,
}

impl RowAccess for BatchRow<'_> {
    fn value(&self, field: &str) -> Value {
        self.readers
            .iter()
            .find(|(n, _)| n == field)
            .map_or(Value::Null, |(_, r)| r.get(self.row))
    }
}

fn predicate(rng: &mut XorShift, depth: usize) -> String {
    let op = rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
    let num = rng.pick(&["2000", "2001.5", "-1", "0", "0.25", "1e3", "2006"]);
    if depth < 3 && rng.below(3) == 0 {
        let a = predicate(rng, depth + 1);
        let b = predicate(rng, depth + 1);
        return match rng.below(4) {
            0 => format!("({a} and {b})"),
            1 => format!("({a} or {b})"),
            2 => format!("not ({a})"),
            _ => format!("({a} and {b} or not {b})"),
        };
    }
    match rng.below(16) {
        0 => format!("year {op} {num}"),
        1 => format!("{num} {op} year"),
        2 => format!("score {op} {num}"),
        3 => format!("id {op} {}", rng.below(300)),
        4 => format!("title {op} \"{}\"", rng.pick(&WORDS)),
        5 => format!(
            "title like \"{}\"",
            rng.pick(&["al%", "%ta", "%lp%", "alpha", "a_p%", "%", "gamma\\%", "b\\_ta", ""])
        ),
        6 => format!("year in [1996, 2000, {}]", rng.below(2010)),
        7 => format!("year not in [1997, {}]", 1995 + rng.below(12)),
        8 => format!(
            "title {}in [\"alpha\", \"{}\"]",
            rng.pick(&["", "not "]),
            rng.pick(&WORDS)
        ),
        9 => format!(
            "{} is {}null",
            rng.pick(&["title", "year", "score"]),
            rng.pick(&["", "not "])
        ),
        10 => format!("meta[\"k\"] {op} {}", rng.below(4)),
        11 => format!("color == \"{}\"", rng.pick(&["red", "blue"])),
        12 => format!("year + {} {op} 2005", rng.below(3)),
        13 => format!(
            "{} {}in []",
            rng.pick(&["year", "title", "score"]),
            rng.pick(&["", "not "])
        ),
        14 => format!("score in [0.25, -1, {num}]"),
        _ => rng.pick(&["true", "false", "id % 3 == 0"]).to_string(),
    }
}

#[test]
fn columns_and_rows_agree() {
    let mut rng = XorShift(0x9E3779B97F4A7C15);
    let schema = schema();
    let b = batch(&mut rng);
    let readers: Vec<(String, ColumnReader<'_>)> = schema
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), ColumnReader::new(b.column(i), f.data_type)))
        .collect();
    let mut compiled = 0;
    for _ in 0..3000 {
        let text = predicate(&mut rng, 0);
        let Ok(Some(expr)) = prepare(&text, &schema, &templates()) else {
            continue;
        };
        compiled += 1;
        let rows: Vec<bool> = (0..ROWS)
            .map(|row| {
                expr.matches(&BatchRow {
                    readers: &readers,
                    row,
                })
            })
            .collect();
        let mut all = vec![true; ROWS];
        expr.filter_batch(&schema, &b, &mut all);
        assert_eq!(all, rows, "{text}");
        // rows already out stay out, the others as the row evaluator says
        let start: Vec<bool> = (0..ROWS).map(|_| rng.below(3) > 0).collect();
        let mut some = start.clone();
        expr.filter_batch(&schema, &b, &mut some);
        let want: Vec<bool> = start.iter().zip(&rows).map(|(s, r)| *s && *r).collect();
        assert_eq!(some, want, "{text} on a partial bitmap");
    }
    assert!(compiled > 2000, "only {compiled} filters compiled");
}

#[test]
fn the_common_predicates_run_as_column_kernels() {
    let schema = schema();
    let b = batch(&mut XorShift(7));
    let served = |text: &str| {
        let e = prepare(text, &schema, &templates()).unwrap().unwrap();
        crate::columnar::kernel_serves(&e, &schema, &b)
    };
    for text in [
        "year < 2000",
        "2000.5 >= year",
        "score != 0.25",
        "id == 3",
        "title >= \"b\"",
        "title like \"al%\"",
        "year in [1, 2]",
        "title not in [\"a\"]",
        "score is null",
    ] {
        assert!(served(text), "{text}");
    }
    for text in [
        "year + 1 > 3",
        "meta[\"k\"] > 1",
        "color == \"red\"",
        "score in [1, 2]",
    ] {
        assert!(!served(text), "{text}");
    }
}
