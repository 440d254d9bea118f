//! Insert, upsert and delete: requests to the engine's inputs, outcomes to `MutationResult`.

use quarry_engine::{InsertInput, MutationOutcome};
use quarry_proto::service::{InsertRequest, MutationResult, UpsertRequest};

use super::{columns_from_proto, ids_to_proto, success, ConvResult};

/// An insert or upsert in domain terms.
pub struct Mutation {
    pub collection: String,
    pub input: InsertInput,
}

pub fn insert(r: InsertRequest) -> ConvResult<Mutation> {
    let (columns, rows) = columns_from_proto(r.fields_data, r.num_rows)?;
    Ok(Mutation {
        collection: r.collection_name,
        input: InsertInput {
            partition: r.partition_name,
            columns,
            rows,
            upsert: false,
            schema_ts: r.schema_timestamp,
            partial: false,
        },
    })
}

pub fn upsert(r: UpsertRequest) -> ConvResult<Mutation> {
    let (columns, rows) = columns_from_proto(r.fields_data, r.num_rows)?;
    Ok(Mutation {
        collection: r.collection_name,
        input: InsertInput {
            partition: r.partition_name,
            columns,
            rows,
            upsert: true,
            schema_ts: r.schema_timestamp,
            partial: r.partial_update,
        },
    })
}

/// The answer of an insert or upsert: the primary keys in request order.
pub fn mutation_result(out: &MutationOutcome, upsert: bool) -> MutationResult {
    let n = out.ids.len();
    MutationResult {
        status: success(),
        i_ds: Some(ids_to_proto(&out.ids, out.pk_type)),
        succ_index: (0..n as u32).collect(),
        acknowledged: true,
        insert_cnt: if upsert { 0 } else { n as i64 },
        upsert_cnt: if upsert { n as i64 } else { 0 },
        timestamp: out.timestamp,
        ..Default::default()
    }
}

/// The answer of a delete: Milvus >= 2.3.2 answers deletes with a count and no ids.
pub fn delete_result(out: &MutationOutcome) -> MutationResult {
    MutationResult {
        status: success(),
        delete_cnt: out.count as i64,
        timestamp: out.timestamp,
        acknowledged: true,
        ..Default::default()
    }
}
