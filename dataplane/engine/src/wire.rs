//! The engine's reads on the internal API (`quarry.internal.v1.Worker`): [`ShardRead`] and
//! [`ShardAnswer`] to and from their protobuf messages, and the one mapping between
//! [`EngineError`] and gRPC statuses (the worker answers with [`to_status`], the proxy's
//! [`crate::GrpcRouter`] reads it back with [`from_status`]). Conversions from protobuf are
//! fallible: a missing or unusable field is a [`DecodeError`], never a panic.

use std::collections::HashMap;

use quarry_index::text::bm25::Bm25;
use quarry_index::Metric;
use quarry_proto::internal as pb;
use quarry_proto::{required, DecodeError};
use quarry_types::limits::MAX_GROUP_SIZE;
use quarry_types::{CollectionSchema, DataType, Pk, Value};
use tonic::{Code, Status};

use crate::group::{check_group_field, GroupPlan};
use crate::plan::{
    Found, GroupBy, QueryInput, QueryPlan, SearchInput, SearchPlan, ShardAnswer, ShardRead,
};
use crate::EngineError;

// ---- errors ----

/// Engine errors on the internal API. The kinds a proxy acts on (not found, invalid,
/// unavailable: try another replica) keep their kind and message; other failures travel as
/// internal errors with their message.
pub fn to_status(e: &EngineError) -> Status {
    match e {
        EngineError::CollectionNotFound(name) => Status::not_found(name.clone()),
        EngineError::InvalidArgument(m) => Status::invalid_argument(m.clone()),
        EngineError::Schema(_) | EngineError::Expr(_) | EngineError::Index(_) => {
            Status::invalid_argument(e.to_string())
        }
        EngineError::Unavailable(m) => Status::unavailable(m.clone()),
        EngineError::Internal(m) => Status::internal(m.clone()),
        _ => Status::internal(e.to_string()),
    }
}

/// A worker's status as an engine error (the inverse of [`to_status`]); transport failures
/// (no answer, a broken connection) are [`EngineError::Unavailable`].
pub fn from_status(s: &Status) -> EngineError {
    let msg = s.message().to_string();
    match s.code() {
        Code::InvalidArgument => EngineError::InvalidArgument(msg),
        Code::NotFound => EngineError::CollectionNotFound(msg),
        Code::Internal => EngineError::Internal(msg),
        _ => EngineError::Unavailable(msg),
    }
}

// ---- values ----

fn size(v: u64, field: &str) -> Result<usize, DecodeError> {
    usize::try_from(v).map_err(|e| DecodeError::invalid(field, e))
}

fn vector_to_pb(values: Vec<f32>) -> pb::FloatVector {
    pb::FloatVector { values }
}

pub(crate) fn value_to_pb(v: Value) -> pb::Value {
    use pb::value::Kind;
    let kind = match v {
        Value::Null => Kind::Null(true),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Int(i) => Kind::IntValue(i),
        Value::Float(f) => Kind::FloatValue(f),
        Value::Str(s) => Kind::StringValue(s),
        Value::Json(j) => Kind::Json(j.to_string()),
        Value::Vector(v) => Kind::Vector(vector_to_pb(v)),
        Value::Array(items) => Kind::Array(pb::ValueList {
            values: items.into_iter().map(value_to_pb).collect(),
        }),
        Value::Sparse(b) => Kind::Sparse(b),
    };
    pb::Value { kind: Some(kind) }
}

pub(crate) fn value_from_pb(v: pb::Value) -> Result<Value, DecodeError> {
    use pb::value::Kind;
    Ok(match required(v.kind, "Value.kind")? {
        Kind::Null(_) => Value::Null,
        Kind::BoolValue(b) => Value::Bool(b),
        Kind::IntValue(i) => Value::Int(i),
        Kind::FloatValue(f) => Value::Float(f),
        Kind::StringValue(s) => Value::Str(s),
        Kind::Json(text) => Value::Json(
            serde_json::from_str(&text).map_err(|e| DecodeError::invalid("Value.json", e))?,
        ),
        Kind::Vector(v) => Value::Vector(v.values),
        Kind::Array(list) => Value::Array(values_from_pb(list.values)?),
        Kind::Sparse(b) => Value::Sparse(b),
    })
}

fn values_from_pb(list: Vec<pb::Value>) -> Result<Vec<Value>, DecodeError> {
    list.into_iter().map(value_from_pb).collect()
}

fn templates_to_pb(t: HashMap<String, Value>) -> HashMap<String, pb::Value> {
    t.into_iter().map(|(k, v)| (k, value_to_pb(v))).collect()
}

fn templates_from_pb(t: HashMap<String, pb::Value>) -> Result<HashMap<String, Value>, DecodeError> {
    t.into_iter()
        .map(|(k, v)| Ok((k, value_from_pb(v)?)))
        .collect()
}

fn pk_to_pb(pk: Pk) -> pb::PrimaryKey {
    use pb::primary_key::Key;
    pb::PrimaryKey {
        key: Some(match pk {
            Pk::Int(i) => Key::IntKey(i),
            Pk::Str(s) => Key::StringKey(s),
        }),
    }
}

fn pk_from_pb(pk: Option<pb::PrimaryKey>) -> Result<Pk, DecodeError> {
    use pb::primary_key::Key;
    Ok(
        match required(required(pk, "Found.pk")?.key, "PrimaryKey.key")? {
            Key::IntKey(i) => Pk::Int(i),
            Key::StringKey(s) => Pk::Str(s),
        },
    )
}

fn metric_to_pb(m: Metric) -> pb::Metric {
    match m {
        Metric::L2 => pb::Metric::L2,
        Metric::Ip => pb::Metric::Ip,
        Metric::Cosine => pb::Metric::Cosine,
        Metric::Hamming => pb::Metric::Hamming,
        Metric::Jaccard => pb::Metric::Jaccard,
        Metric::Bm25 => pb::Metric::Bm25,
    }
}

fn metric_from_pb(m: i32) -> Result<Metric, DecodeError> {
    match pb::Metric::try_from(m) {
        Ok(pb::Metric::L2) => Ok(Metric::L2),
        Ok(pb::Metric::Ip) => Ok(Metric::Ip),
        Ok(pb::Metric::Cosine) => Ok(Metric::Cosine),
        Ok(pb::Metric::Hamming) => Ok(Metric::Hamming),
        Ok(pb::Metric::Jaccard) => Ok(Metric::Jaccard),
        Ok(pb::Metric::Bm25) => Ok(Metric::Bm25),
        Ok(pb::Metric::Unspecified) => Err(DecodeError::missing("SearchPlan.metric")),
        Err(_) => Err(DecodeError::invalid(
            "SearchPlan.metric",
            format!("unknown metric {m}"),
        )),
    }
}

fn positions_to_pb(p: Vec<usize>) -> Vec<u32> {
    // positions index a schema's fields, bounded by MAX_FIELDS
    p.into_iter()
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
        .collect()
}

fn positions_from_pb(p: Vec<u32>) -> Vec<usize> {
    p.into_iter().map(|i| i as usize).collect()
}

// ---- reads ----

fn search_input_to_pb(i: SearchInput) -> pb::SearchInput {
    pb::SearchInput {
        anns_field: i.anns_field,
        metric: i.metric,
        vectors: i.vectors.into_iter().map(vector_to_pb).collect(),
        topk: i.topk as u64,
        offset: i.offset as u64,
        filter: i.filter,
        templates: templates_to_pb(i.templates),
        output_fields: i.output_fields,
        partitions: i.partitions,
        ef: i.ef.map(|e| e as u64),
        nprobe: i.nprobe.map(|e| e as u64),
        radius: i.radius,
        range_filter: i.range_filter,
        group: i.group.map(|g| pb::GroupBy {
            field: g.field,
            size: g.size as u64,
            strict: g.strict,
        }),
        vector_type: i.vector_type.map(DataType::code),
        sparse: i.sparse,
        drop_ratio_search: i.drop_ratio_search,
        texts: i.texts,
        refine_k: i.refine_k,
    }
}

fn group_from_pb(g: pb::GroupBy) -> Result<GroupBy, DecodeError> {
    Ok(GroupBy {
        field: g.field,
        size: size(g.size, "GroupBy.size")?,
        strict: g.strict,
    })
}

fn group_plan_to_pb(g: GroupPlan) -> pb::GroupPlan {
    pb::GroupPlan {
        field: u32::try_from(g.field).unwrap_or(u32::MAX),
        slot: u32::try_from(g.slot).unwrap_or(u32::MAX),
        size: g.size as u64,
        strict: g.strict,
    }
}

fn group_plan_from_pb(g: pb::GroupPlan) -> Result<GroupPlan, DecodeError> {
    Ok(GroupPlan {
        field: g.field as usize,
        slot: g.slot as usize,
        size: size(g.size, "GroupPlan.size")?,
        strict: g.strict,
    })
}

fn search_input_from_pb(i: pb::SearchInput) -> Result<SearchInput, DecodeError> {
    Ok(SearchInput {
        anns_field: i.anns_field,
        metric: i.metric,
        vectors: i.vectors.into_iter().map(|v| v.values).collect(),
        topk: size(i.topk, "SearchInput.topk")?,
        offset: size(i.offset, "SearchInput.offset")?,
        filter: i.filter,
        templates: templates_from_pb(i.templates)?,
        output_fields: i.output_fields,
        partitions: i.partitions,
        ef: i.ef.map(|e| size(e, "SearchInput.ef")).transpose()?,
        nprobe: i
            .nprobe
            .map(|e| size(e, "SearchInput.nprobe"))
            .transpose()?,
        radius: i.radius,
        range_filter: i.range_filter,
        group: i.group.map(group_from_pb).transpose()?,
        vector_type: i
            .vector_type
            .map(|t| {
                DataType::from_code(t)
                    .ok()
                    .filter(|t| t.is_vector() || *t == DataType::VarChar)
                    .ok_or_else(|| DecodeError::invalid("SearchInput.vector_type", t))
            })
            .transpose()?,
        sparse: i.sparse,
        drop_ratio_search: i.drop_ratio_search,
        texts: i.texts,
        refine_k: i.refine_k,
    })
}

fn query_input_to_pb(i: QueryInput) -> pb::QueryInput {
    pb::QueryInput {
        filter: i.filter,
        templates: templates_to_pb(i.templates),
        output_fields: i.output_fields,
        partitions: i.partitions,
        limit: i.limit.map(|l| l as u64),
        offset: i.offset as u64,
    }
}

fn query_input_from_pb(i: pb::QueryInput) -> Result<QueryInput, DecodeError> {
    Ok(QueryInput {
        filter: i.filter,
        templates: templates_from_pb(i.templates)?,
        output_fields: i.output_fields,
        partitions: i.partitions,
        limit: i.limit.map(|l| size(l, "QueryInput.limit")).transpose()?,
        offset: size(i.offset, "QueryInput.offset")?,
    })
}

pub fn read_to_pb(read: ShardRead) -> pb::ShardRead {
    use pb::shard_read::Read;
    let read = match read {
        ShardRead::Search(p) => Read::Search(pb::SearchPlan {
            input: Some(search_input_to_pb(p.input)),
            field_index: u32::try_from(p.field_index).unwrap_or(u32::MAX),
            fields: positions_to_pb(p.fields),
            metric: metric_to_pb(p.metric) as i32,
            index: p.index,
            group: p.group.map(group_plan_to_pb),
            partition_ids: p.partition_ids,
            bm25: p.bm25.map(|b| pb::Bm25 { k1: b.k1, b: b.b }),
            expire_before_ms: p.expire_before_ms,
        }),
        ShardRead::Query(p) => Read::Query(pb::QueryPlan {
            input: Some(query_input_to_pb(p.input)),
            fields: positions_to_pb(p.fields),
            count_only: p.count_only,
            partition_ids: p.partition_ids,
            expire_before_ms: p.expire_before_ms,
        }),
    };
    pb::ShardRead { read: Some(read) }
}

/// A read as the worker receives it; only the message's shape is checked here, its field
/// positions by [`check_read`].
pub fn read_from_pb(read: pb::ShardRead) -> Result<ShardRead, DecodeError> {
    use pb::shard_read::Read;
    Ok(match required(read.read, "ShardRead.read")? {
        Read::Search(p) => ShardRead::Search(SearchPlan {
            input: search_input_from_pb(required(p.input, "SearchPlan.input")?)?,
            field_index: p.field_index as usize,
            fields: positions_from_pb(p.fields),
            metric: metric_from_pb(p.metric)?,
            index: p.index,
            group: p.group.map(group_plan_from_pb).transpose()?,
            partition_ids: p.partition_ids,
            bm25: p.bm25.map(|b| Bm25 { k1: b.k1, b: b.b }),
            expire_before_ms: p.expire_before_ms,
        }),
        Read::Query(p) => ShardRead::Query(QueryPlan {
            input: query_input_from_pb(required(p.input, "QueryPlan.input")?)?,
            fields: positions_from_pb(p.fields),
            count_only: p.count_only,
            partition_ids: p.partition_ids,
            expire_before_ms: p.expire_before_ms,
        }),
    })
}

/// Checks a received read's field positions against the collection's schema as the worker
/// knows it (the read indexes columns by them): a proxy with another view of the collection
/// (dropped and created again under the same name) gets an error, never a worker panic.
pub fn check_read(read: &ShardRead, schema: &CollectionSchema) -> Result<(), DecodeError> {
    let n = schema.fields.len();
    let (positions, what) = match read {
        ShardRead::Search(p) => {
            let vector = schema.fields.get(p.field_index);
            if !vector.is_some_and(|f| f.data_type.is_vector()) {
                return Err(DecodeError::invalid(
                    "SearchPlan.field_index",
                    format!(
                        "field {} is not a vector field of the schema",
                        p.field_index
                    ),
                ));
            }
            if let Some(g) = &p.group {
                let groupable = schema
                    .fields
                    .get(g.field)
                    .is_some_and(|f| check_group_field(&f.name, f.data_type).is_ok());
                let sized = (1..=MAX_GROUP_SIZE).contains(&g.size);
                if !groupable || !sized || p.fields.get(g.slot) != Some(&g.field) {
                    return Err(DecodeError::invalid(
                        "SearchPlan.group",
                        format!("field {} (slot {}) cannot be grouped by", g.field, g.slot),
                    ));
                }
            }
            (&p.fields, "SearchPlan.fields")
        }
        ShardRead::Query(p) => (&p.fields, "QueryPlan.fields"),
    };
    match positions.iter().find(|i| **i >= n) {
        Some(i) => Err(DecodeError::invalid(
            what,
            format!("field {i} of a schema with {n} fields"),
        )),
        None => Ok(()),
    }
}

// ---- answers ----

fn found_to_pb(f: Found) -> pb::Found {
    pb::Found {
        pk: Some(pk_to_pb(f.pk)),
        score: f.score,
        values: f.values.into_iter().map(value_to_pb).collect(),
    }
}

fn found_from_pb(f: pb::Found) -> Result<Found, DecodeError> {
    Ok(Found {
        pk: pk_from_pb(f.pk)?,
        score: f.score,
        values: values_from_pb(f.values)?,
    })
}

fn found_list_to_pb(list: Vec<Found>) -> pb::FoundList {
    pb::FoundList {
        found: list.into_iter().map(found_to_pb).collect(),
    }
}

fn found_list_from_pb(list: pb::FoundList) -> Result<Vec<Found>, DecodeError> {
    list.found.into_iter().map(found_from_pb).collect()
}

pub fn answer_to_pb(answer: ShardAnswer) -> pb::ShardAnswer {
    use pb::shard_answer::Answer;
    let answer = match answer {
        ShardAnswer::Search(per_query) => Answer::Search(pb::SearchAnswer {
            queries: per_query.into_iter().map(found_list_to_pb).collect(),
        }),
        ShardAnswer::Rows(rows) => Answer::Rows(found_list_to_pb(rows)),
        ShardAnswer::Count(n) => Answer::Count(n),
    };
    pb::ShardAnswer {
        answer: Some(answer),
    }
}

pub fn answer_from_pb(answer: pb::ShardAnswer) -> Result<ShardAnswer, DecodeError> {
    use pb::shard_answer::Answer;
    Ok(match required(answer.answer, "ShardAnswer.answer")? {
        Answer::Search(s) => ShardAnswer::Search(
            s.queries
                .into_iter()
                .map(found_list_from_pb)
                .collect::<Result<_, _>>()?,
        ),
        Answer::Rows(rows) => ShardAnswer::Rows(found_list_from_pb(rows)?),
        Answer::Count(n) => ShardAnswer::Count(n),
    })
}
