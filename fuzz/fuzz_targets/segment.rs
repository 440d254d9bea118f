//! What a node loads from the object store, on arbitrary bytes. The low bit of the first byte
//! picks:
//! - 0: a sealed segment as recovery loads it (engine/src/recovery.rs `load_segment`): the
//!   input is `[deletes_len: u16 LE][delete file: JSON list of row numbers][Parquet file]`;
//!   the Parquet file is decoded into the collection's Arrow layout (`decode_parquet`), its
//!   rows are indexed by primary key, the delete file marks rows deleted, then every row is
//!   read back the way filters, outputs and searches read it. Every scalar field also gets a
//!   scalar index, which must read back from its bytes and make the filter answer exactly as
//!   without it. Bit 1 of the first byte picks the VarChar-keyed schema.
//! - 1: a catalog manifest (dataplane/meta/src/catalog.rs, the JSON of `CatalogState`) as
//!   `Catalog::open` reads it; an accepted manifest also takes one commit and reopens to the
//!   same collections.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use quarry_engine::fuzzing::{decode_parquet, ScalarIndex, ScalarKind, SegmentData, SegmentIndex};
use quarry_expr::Expr;
use quarry_meta::{Catalog, MetaError};
use quarry_storage::{MemoryObjectStore, ObjectStore};
use quarry_types::batch::{offsets, ColumnReader};
use quarry_types::{CollectionSchema, DataType};

struct Fixture {
    schema: CollectionSchema,
    filter: Expr,
}

fn fixtures() -> &'static [Fixture; 2] {
    static F: OnceLock<[Fixture; 2]> = OnceLock::new();
    F.get_or_init(|| {
        [false, true].map(|str_pk| {
            let schema = quarry_fuzz::schema(str_pk);
            // reads every scalar column and the dynamic field of each row
            let text = format!(
                "id != {} or title like \"A%\" or year > 1 or small < 2 or score >= 0.5 \
                 or ratio < 1 or flag == true or meta[\"k\"] == 2 or array_length(tags) > 1 \
                 or opt is null or color == \"red\"",
                if str_pk { "\"x\"" } else { "0" }
            );
            let filter = quarry_expr::prepare(&text, &schema, &Default::default())
                .expect("the fixed filter compiles")
                .unwrap();
            Fixture { schema, filter }
        })
    })
}

fn segment(fixture: &Fixture, body: &[u8]) {
    if body.len() < 2 {
        return;
    }
    let dlen = usize::from(u16::from_le_bytes([body[0], body[1]])).min(body.len() - 2);
    let (deletes, parquet) = body[2..].split_at(dlen);
    let schema = &fixture.schema;
    let Ok(batch) = decode_parquet(schema, Bytes::copy_from_slice(parquet)) else {
        return;
    };
    let rows = batch.num_rows();
    let pk_index = schema.fields.iter().position(|f| f.is_primary_key).unwrap();
    let mut data = SegmentData::default();
    data.append(batch.clone(), schema, pk_index);
    if !deletes.is_empty() {
        // recovery: a delete file that does not parse fails the load
        let Ok(deleted) = serde_json::from_slice::<Vec<u32>>(deletes) else {
            return;
        };
        deleted.into_iter().for_each(|r| data.mark_deleted(r));
    }
    assert_eq!(data.rows(), rows);
    let view = data.view();
    let plain = view.matching(schema, Some(&fixture.filter));
    // scalar indexes on every field that takes one answer as the column kernels do
    let indexes: Vec<Arc<SegmentIndex>> = schema
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| ScalarKind::parse("INVERTED", f).is_ok())
        .map(|(i, f)| {
            let column = ColumnReader::new(batch.column(i), f.data_type);
            let index = ScalarIndex::build(&f.name, ScalarKind::Inverted, &column, rows)
                .expect("a scalar column indexes");
            let back = ScalarIndex::from_bytes(&index.to_bytes()).expect("an index reads back");
            assert_eq!(back, index);
            Arc::new(SegmentIndex::Scalar(index))
        })
        .collect();
    assert!(!indexes.is_empty());
    assert_eq!(
        view.matching_indexed(schema, Some(&fixture.filter), &indexes),
        plain
    );
    let offs = offsets(&batch);
    assert_eq!(offs.len(), rows);
    for row in 0..rows as u32 {
        assert_eq!(data.offset_of(row), offs[row as usize]);
    }
    for (i, f) in schema.fields.iter().enumerate() {
        let reader = ColumnReader::new(batch.column(i), f.data_type);
        for r in 0..rows {
            if f.data_type == DataType::FloatVector {
                assert_eq!(reader.vector(r).len(), f.dim());
            } else {
                let _ = reader.get(r);
            }
        }
    }
}

fn manifest(body: &[u8]) {
    quarry_fuzz::runtime().block_on(async {
        let store = Arc::new(MemoryObjectStore::new());
        store
            .put(
                "catalog/manifest-00000000000000000001.json",
                Bytes::copy_from_slice(body),
            )
            .await
            .unwrap();
        let Ok(catalog) = Catalog::open(store.clone()).await else {
            return;
        };
        let state = catalog.snapshot();
        let _ = catalog.referenced_keys();
        for c in state.collections.values() {
            let _ = state.by_name(&c.db, &c.name);
            let _ = c.topic();
        }
        if state.next_id == i64::MAX || state.version == u64::MAX {
            return; // no id or version left to hand out
        }
        match catalog
            .commit(|s| {
                s.alloc_id();
                Ok::<_, MetaError>(())
            })
            .await
        {
            Ok(()) => {}
            // the manifest claims a version below the key it was found under
            Err(MetaError::Conflict(_)) => return,
            Err(e) => panic!("a commit on an accepted manifest failed: {e}"),
        }
        let reopened = Catalog::open(store)
            .await
            .expect("a committed manifest reopens");
        let after = reopened.snapshot();
        assert_eq!(after.version, state.version + 1);
        assert_eq!(after.collections, state.collections);
    });
}

// the decoders catch the panics of arrow-ipc / parquet on corrupt input and answer an error:
// replace libfuzzer-sys's hook, which aborts on every panic, caught or not, with a silent one
// (a panic that escapes still aborts: it cannot unwind out of the fuzzer's extern "C" entry)
fuzz_target!(init: {
    quarry_fuzz::seeds::write_if_asked("segment");
    std::panic::set_hook(Box::new(|_| {}));
}, |data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        segment(&fixtures()[usize::from(selector >> 1 & 1)], body);
    } else {
        manifest(body);
    }
});
