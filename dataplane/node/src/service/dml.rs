//! Writes: insert, upsert, delete.

use quarry_engine::Named;
use quarry_proto::service::*;

use super::handle::Handled;
use super::Service;
use crate::convert::{self, Mutation};
use crate::status::{engine, invalid};

pub(super) async fn insert(s: &Service, r: InsertRequest) -> Handled<MutationResult> {
    let db = r.db_name.clone();
    mutate(s, &db, convert::insert(r).map_err(invalid)?).await
}

pub(super) async fn upsert(s: &Service, r: UpsertRequest) -> Handled<MutationResult> {
    let db = r.db_name.clone();
    mutate(s, &db, convert::upsert(r).map_err(invalid)?).await
}

async fn mutate(s: &Service, db: &str, m: Mutation) -> Handled<MutationResult> {
    let upsert = m.input.upsert;
    let out = s
        .engine
        .insert(Named::new(db, &m.collection), m.input)
        .await
        .map_err(engine)?;
    s.metrics
        .rows_written(if upsert { "upsert" } else { "insert" }, out.ids.len());
    Ok(convert::mutation_result(&out, upsert))
}

pub(super) async fn delete(s: &Service, r: DeleteRequest) -> Handled<MutationResult> {
    let templates = convert::templates(&r.expr_template_values).map_err(invalid)?;
    let out = s
        .engine
        .delete(
            Named::new(&r.db_name, &r.collection_name),
            &r.partition_name,
            &r.expr,
            &templates,
        )
        .await
        .map_err(engine)?;
    Ok(convert::delete_result(&out))
}
