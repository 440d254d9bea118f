//! Every segment file the `segment` fuzz target found a crash with
//! (fuzz/regressions/segment/, first byte 0: `[deletes_len u16][deletes][Parquet]`) fails to
//! decode with an error, not a panic.

use bytes::Bytes;
use quarry_engine::fuzzing::decode_parquet;
use quarry_types::{CollectionSchema, DataType, FieldSchema};

fn schema() -> CollectionSchema {
    let mut pk = FieldSchema::new("id", DataType::Int64);
    pk.is_primary_key = true;
    CollectionSchema {
        functions: vec![],
        name: "c".into(),
        description: String::new(),
        auto_id: false,
        fields: vec![
            pk,
            FieldSchema::new("v", DataType::FloatVector).with_param("dim", "4"),
        ],
        enable_dynamic_field: true,
        properties: vec![],
    }
    .prepare_new()
    .unwrap()
}

#[test]
fn saved_fuzz_segments_are_refused() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/segment"
    );
    let schema = schema();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions/segment exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let body = match data.split_first() {
            Some((&mode, body)) if mode & 1 == 0 && body.len() >= 2 => body,
            _ => continue,
        };
        let deletes = usize::from(u16::from_le_bytes([body[0], body[1]])).min(body.len() - 2);
        let parquet = Bytes::copy_from_slice(&body[2 + deletes..]);
        assert!(
            decode_parquet(&schema, parquet).is_err(),
            "{} was accepted",
            path.display()
        );
        seen += 1;
    }
    assert!(seen > 0, "no saved segments in {dir}");
}
