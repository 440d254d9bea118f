//! Scalar indexes answer exactly what the column kernels answer: random filters over a random
//! batch (nulls, NaN, negative numbers, duplicates), with and without the indexes; and an index
//! file survives its round trip, while a damaged one is refused without a panic.

use std::cell::Cell;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array,
    Int8Array, ListArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType as ArrowType, Field};
use quarry_expr::{prepare, FieldIndexes, Leaf};
use quarry_index::{ScalarIndex, ScalarKind};
use quarry_types::batch::ColumnReader;
use quarry_types::{CollectionSchema, DataType, FieldSchema};

const ROWS: usize = 301;
const WORDS: [&str; 7] = ["alpha", "alpine", "al", "beta", "Alpha beta", "", "b_ta"];

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn schema() -> CollectionSchema {
    let f = |name: &str, dt| FieldSchema {
        is_primary_key: name == "id",
        nullable: name != "id" && name != "emb",
        ..FieldSchema::new(name, dt)
    };
    CollectionSchema {
        functions: vec![],
        name: "docs".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            f("id", DataType::Int64),
            f("title", DataType::VarChar).with_param("max_length", "64"),
            f("year", DataType::Int32),
            f("score", DataType::Double),
            f("small", DataType::Int8),
            f("flag", DataType::Bool),
            f("ratio", DataType::Float),
            f("emb", DataType::FloatVector).with_param("dim", "2"),
            FieldSchema::array("nums", DataType::Int64, 6),
            FieldSchema::array("tags", DataType::VarChar, 6).with_param("max_length", "16"),
            FieldSchema::array("vals", DataType::Double, 6),
        ],
        enable_dynamic_field: false,
        properties: vec![],
    }
    .prepare_new()
    .unwrap()
}

fn batch(rng: &mut XorShift) -> RecordBatch {
    let some = |rng: &mut XorShift| rng.below(6) > 0;
    let mut cols: (Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
    for _ in 0..ROWS {
        cols.0.push(some(rng).then(|| rng.pick(&WORDS).to_string()));
        cols.1.push(some(rng).then(|| 1995 + rng.below(12) as i32));
        cols.2.push(match rng.below(8) {
            0 => None,
            1 => Some(f64::NAN),
            _ => Some(rng.below(9) as f64 / 4.0 - 1.0),
        });
        cols.3.push(some(rng).then(|| rng.below(256) as i32 as i8));
        cols.4.push(some(rng).then(|| rng.below(2) == 0));
        cols.5.push(match rng.below(8) {
            0 => None,
            1 => Some(f32::NAN),
            2 => Some(-0.0),
            _ => Some(rng.below(5) as f32 / 2.0 - 1.0),
        });
    }
    let emb = FixedSizeListArray::new(
        Arc::new(Field::new("item", ArrowType::Float32, false)),
        2,
        Arc::new(Float32Array::from(vec![0.5f32; ROWS * 2])),
        None,
    );
    // arrays: null, empty, or up to 5 elements with repeats
    let len = |rng: &mut XorShift| match rng.below(8) {
        0 => None,
        1 => Some(0),
        _ => Some(1 + rng.below(5)),
    };
    let mut nums = Vec::new();
    let mut vals = Vec::new();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for _ in 0..ROWS {
        nums.push(len(rng).map(|n| {
            (0..n)
                .map(|_| Some(rng.below(7) as i64 - 3))
                .collect::<Vec<_>>()
        }));
        vals.push(len(rng).map(|n| {
            (0..n)
                .map(|_| {
                    Some(if rng.below(9) == 0 {
                        f64::NAN
                    } else {
                        rng.below(5) as f64 / 2.0
                    })
                })
                .collect::<Vec<_>>()
        }));
        match len(rng) {
            None => tags.append(false),
            Some(n) => {
                for _ in 0..n {
                    tags.values().append_value(rng.pick(&WORDS));
                }
                tags.append(true);
            }
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(
                (0..ROWS as i64).map(|i| i * 7 % 101),
            )),
        ),
        ("title", Arc::new(StringArray::from(cols.0))),
        ("year", Arc::new(Int32Array::from(cols.1))),
        ("score", Arc::new(Float64Array::from(cols.2))),
        ("small", Arc::new(Int8Array::from(cols.3))),
        ("flag", Arc::new(BooleanArray::from(cols.4))),
        ("ratio", Arc::new(Float32Array::from(cols.5))),
        ("emb", Arc::new(emb)),
        (
            "nums",
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(nums)),
        ),
        ("tags", Arc::new(tags.finish())),
        (
            "vals",
            Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(vals)),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

/// The indexes of a batch, counting the predicates they answered.
struct Indexes {
    all: Vec<ScalarIndex>,
    served: Cell<usize>,
    /// of which `array_contains*`
    contains: Cell<usize>,
}

impl FieldIndexes for Indexes {
    fn narrow(&self, field: &str, leaf: Leaf<'_>, keep: &mut [bool]) -> bool {
        let served = self
            .all
            .iter()
            .find(|i| i.field() == field)
            .is_some_and(|i| i.narrow(leaf, keep));
        self.served.set(self.served.get() + served as usize);
        let contains = served && matches!(leaf, Leaf::Contains { .. });
        self.contains.set(self.contains.get() + contains as usize);
        served
    }

    fn has(&self, field: &str) -> bool {
        self.all.iter().any(|i| i.field() == field)
    }
}

fn indexes(schema: &CollectionSchema, b: &RecordBatch) -> Vec<ScalarIndex> {
    schema
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.data_type.is_vector())
        .map(|(i, f)| {
            let column = ColumnReader::new(b.column(i), f.data_type);
            ScalarIndex::build(&f.name, ScalarKind::Inverted, &column, b.num_rows()).unwrap()
        })
        .collect()
}

fn predicate(rng: &mut XorShift, depth: usize) -> String {
    let op = rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
    let num = rng.pick(&[
        "2000", "2001.5", "-1", "0", "0.25", "-0.0", "1e3", "2006", "-128", "127",
    ]);
    if depth < 3 && rng.below(3) == 0 {
        let a = predicate(rng, depth + 1);
        let b = predicate(rng, depth + 1);
        return match rng.below(3) {
            0 => format!("({a} and {b})"),
            1 => format!("({a} or {b})"),
            _ => format!("not ({a})"),
        };
    }
    let field = rng.pick(&["year", "score", "small", "ratio", "id"]);
    let array = rng.pick(&["nums", "vals", "tags"]);
    let items = rng.pick(&[
        "1",
        "-3, 2",
        "0.5, 1",
        "2, 2",
        "\"alpha\"",
        "\"al\", \"beta\", \"\"",
        "1, \"al\"",
        "true",
    ]);
    match rng.below(15) {
        12 => format!(
            "array_contains({array}, {})",
            items.split(", ").next().unwrap_or("1")
        ),
        13 => format!("array_contains_any({array}, [{items}])"),
        14 => format!("array_contains_all({array}, [{items}])"),
        0 | 1 => format!("{field} {op} {num}"),
        2 => format!("{num} {op} {field}"),
        3 | 4 => format!("title {op} \"{}\"", rng.pick(&WORDS)),
        5 => format!(
            "title like \"{}\"",
            rng.pick(&["al%", "alp%", "%ta", "alpha", "a_p%", "%", "", "b\\_ta", "Alpha%"])
        ),
        6 => format!("{field} in [1996, 2000, -1, 0, 0, {}]", rng.below(2010)),
        7 => format!("{field} not in [1997, {}]", 1995 + rng.below(12)),
        8 => format!(
            "title {}in [\"alpha\", \"\", \"{}\"]",
            rng.pick(&["", "not "]),
            rng.pick(&WORDS)
        ),
        9 => format!(
            "flag {} {}",
            rng.pick(&["==", "!=", "<", ">="]),
            rng.pick(&["true", "false"])
        ),
        10 => format!(
            "{} {}in []",
            rng.pick(&["year", "title"]),
            rng.pick(&["", "not "])
        ),
        _ => format!("{field} is {}null", rng.pick(&["", "not "])),
    }
}

#[test]
fn indexes_answer_as_the_column_kernels() {
    let mut rng = XorShift(0x2545F4914F6CDD1D);
    let schema = schema();
    let b = batch(&mut rng);
    let ix = Indexes {
        all: indexes(&schema, &b),
        served: Cell::new(0),
        contains: Cell::new(0),
    };
    let mut compiled = 0;
    for _ in 0..4000 {
        let text = predicate(&mut rng, 0);
        let Ok(Some(expr)) = prepare(&text, &schema, &Default::default()) else {
            continue;
        };
        compiled += 1;
        let start: Vec<bool> = (0..ROWS).map(|_| rng.below(4) > 0).collect();
        for keep in [vec![true; ROWS], start] {
            let mut want = keep.clone();
            expr.filter_batch(&schema, &b, &mut want);
            let mut got = keep;
            expr.filter_batch_indexed(&schema, &b, &ix, &mut got);
            assert_eq!(got, want, "{text}");
        }
    }
    assert!(compiled > 3000, "only {compiled} filters compiled");
    assert!(
        ix.served.get() > 3000,
        "the indexes answered {} predicates",
        ix.served.get()
    );
    let contains = ix.contains.get();
    assert!(contains > 500, "{contains} array_contains answered");
}

#[test]
fn index_files_round_trip_and_damaged_ones_are_refused() {
    let schema = schema();
    let b = batch(&mut XorShift(99));
    for index in indexes(&schema, &b) {
        let bytes = index.to_bytes();
        assert_eq!(ScalarIndex::from_bytes(&bytes).unwrap(), index);
        for cut in 0..bytes.len() {
            assert!(
                ScalarIndex::from_bytes(&bytes[..cut]).is_err(),
                "{} cut at {cut}",
                index.field()
            );
        }
        let mut rng = XorShift(5);
        for _ in 0..200 {
            let mut bad = bytes.clone();
            let at = rng.below(bad.len());
            bad[at] ^= 1 << rng.below(8);
            // a flipped bit may still read as an index; it must never panic
            let _ = ScalarIndex::from_bytes(&bad);
        }
    }
}

#[test]
fn kinds_fit_the_field_types_milvus_allows() {
    use DataType::*;
    let field = |dt, pk| FieldSchema {
        is_primary_key: pk,
        ..FieldSchema::new("f", dt)
    };
    let ok = |t: &str, dt, pk| ScalarKind::parse(t, &field(dt, pk)).is_ok();
    let ok_array =
        |t: &str, element| ScalarKind::parse(t, &FieldSchema::array("a", element, 4)).is_ok();
    assert!(ok("INVERTED", VarChar, false) && ok("INVERTED", Bool, false) && ok("", Double, false));
    assert!(
        ok("AUTOINDEX", Int64, true) && ok("STL_SORT", Float, false) && ok("Trie", VarChar, false)
    );
    assert!(ok("BITMAP", Int8, false) && ok("BITMAP", Bool, false) && ok("bitmap", VarChar, false));
    assert!(!ok("STL_SORT", VarChar, false) && !ok("Trie", Int64, false));
    assert!(!ok("BITMAP", Double, false) && !ok("BITMAP", Int64, true));
    assert!(!ok("HNSW", Int64, false) && !ok("INVERTED", Json, false));
    assert!(ok_array("INVERTED", Double) && ok_array("BITMAP", VarChar) && ok_array("", Int32));
    assert!(
        !ok_array("BITMAP", Float) && !ok_array("STL_SORT", Int64) && !ok_array("Trie", VarChar)
    );
}
