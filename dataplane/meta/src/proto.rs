//! The catalog on the internal API (`quarry.internal.v1.Coord`): the catalog model, the
//! catalog operations ([`MetaOp`]) and their results ([`MetaResult`]) to and from their
//! protobuf messages. The one place where these types meet protobuf; the persisted manifest
//! stays the JSON document of the model (see `catalog.rs`). Conversions from protobuf are
//! fallible: a missing or unusable field is a [`DecodeError`] naming it, never a panic.

use std::collections::BTreeMap;

use quarry_proto::internal as pb;
use quarry_proto::{required, DecodeError};
use quarry_types::schema::{DefaultValue, FunctionKind, FunctionSchema};
use quarry_types::{CollectionSchema, ConsistencyLevel, DataType, FieldSchema};

use crate::{
    AliasChange, CatalogState, CollectionMeta, CompactionCommit, Created, DatabaseChange,
    DatabaseMeta, FlushCommit, IndexCommit, IndexMeta, MetaOp, MetaResult, NewCollection, NewIndex,
    PartitionMeta, Rename, SegmentMeta, UserMeta, DEFAULT_DB,
};

// ---- small pieces ----

fn pairs_to_pb(pairs: Vec<(String, String)>) -> Vec<pb::KeyValue> {
    pairs
        .into_iter()
        .map(|(key, value)| pb::KeyValue { key, value })
        .collect()
}

fn pairs_from_pb(pairs: Vec<pb::KeyValue>) -> Vec<(String, String)> {
    pairs.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

fn consistency_from_pb(code: i32, field: &str) -> Result<ConsistencyLevel, DecodeError> {
    match code {
        0..=4 => Ok(ConsistencyLevel::from_code(code)),
        other => Err(DecodeError::invalid(
            field,
            format!("unknown consistency level {other}"),
        )),
    }
}

// ---- schema ----

fn default_to_pb(d: DefaultValue) -> pb::DefaultValue {
    use pb::default_value::Value;
    pb::DefaultValue {
        value: Some(match d {
            DefaultValue::Bool(b) => Value::BoolValue(b),
            DefaultValue::Int(i) => Value::IntValue(i),
            DefaultValue::Float(f) => Value::FloatValue(f),
            DefaultValue::Str(s) => Value::StringValue(s),
        }),
    }
}

fn default_from_pb(d: pb::DefaultValue) -> Result<DefaultValue, DecodeError> {
    use pb::default_value::Value;
    Ok(match required(d.value, "DefaultValue.value")? {
        Value::BoolValue(b) => DefaultValue::Bool(b),
        Value::IntValue(i) => DefaultValue::Int(i),
        Value::FloatValue(f) => DefaultValue::Float(f),
        Value::StringValue(s) => DefaultValue::Str(s),
    })
}

fn field_to_pb(f: FieldSchema) -> pb::FieldSchema {
    pb::FieldSchema {
        id: f.id,
        name: f.name,
        description: f.description,
        data_type: f.data_type.code(),
        is_primary_key: f.is_primary_key,
        auto_id: f.auto_id,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        is_dynamic: f.is_dynamic,
        type_params: pairs_to_pb(f.type_params),
        index_params: pairs_to_pb(f.index_params),
        default_value: f.default_value.map(default_to_pb),
        element_type: f.element_type.map_or(0, |t| t.code()),
    }
}

fn field_from_pb(f: pb::FieldSchema) -> Result<FieldSchema, DecodeError> {
    Ok(FieldSchema {
        id: f.id,
        data_type: DataType::from_code(f.data_type)
            .map_err(|e| DecodeError::invalid("FieldSchema.data_type", e))?,
        name: f.name,
        description: f.description,
        is_primary_key: f.is_primary_key,
        auto_id: f.auto_id,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        is_dynamic: f.is_dynamic,
        type_params: pairs_from_pb(f.type_params),
        index_params: pairs_from_pb(f.index_params),
        default_value: f.default_value.map(default_from_pb).transpose()?,
        element_type: match f.element_type {
            0 => None,
            code => Some(
                DataType::from_code(code)
                    .map_err(|e| DecodeError::invalid("FieldSchema.element_type", e))?,
            ),
        },
    })
}

pub fn schema_to_pb(s: CollectionSchema) -> pb::CollectionSchema {
    pb::CollectionSchema {
        name: s.name,
        description: s.description,
        auto_id: s.auto_id,
        fields: s.fields.into_iter().map(field_to_pb).collect(),
        enable_dynamic_field: s.enable_dynamic_field,
        properties: pairs_to_pb(s.properties),
        functions: s.functions.into_iter().map(function_to_pb).collect(),
    }
}

fn function_to_pb(f: FunctionSchema) -> pb::FunctionSchema {
    pb::FunctionSchema {
        name: f.name,
        description: f.description,
        kind: f.kind.code(),
        input_fields: f.input_fields,
        output_fields: f.output_fields,
        params: pairs_to_pb(f.params),
    }
}

fn function_from_pb(f: pb::FunctionSchema) -> Result<FunctionSchema, DecodeError> {
    Ok(FunctionSchema {
        kind: FunctionKind::from_code(f.kind)
            .map_err(|e| DecodeError::invalid("FunctionSchema.kind", e))?,
        name: f.name,
        description: f.description,
        input_fields: f.input_fields,
        output_fields: f.output_fields,
        params: pairs_from_pb(f.params),
    })
}

pub fn schema_from_pb(s: pb::CollectionSchema) -> Result<CollectionSchema, DecodeError> {
    Ok(CollectionSchema {
        functions: s
            .functions
            .into_iter()
            .map(function_from_pb)
            .collect::<Result<_, _>>()?,
        name: s.name,
        description: s.description,
        auto_id: s.auto_id,
        fields: s
            .fields
            .into_iter()
            .map(field_from_pb)
            .collect::<Result<_, _>>()?,
        enable_dynamic_field: s.enable_dynamic_field,
        properties: pairs_from_pb(s.properties),
    })
}

// ---- the catalog ----

fn partition_to_pb(p: PartitionMeta) -> pb::PartitionMeta {
    pb::PartitionMeta {
        id: p.id,
        name: p.name,
        created_ts: p.created_ts,
        released: p.released,
    }
}

fn partition_from_pb(p: pb::PartitionMeta) -> PartitionMeta {
    PartitionMeta {
        id: p.id,
        name: p.name,
        created_ts: p.created_ts,
        released: p.released,
    }
}

pub fn index_to_pb(i: IndexMeta) -> pb::IndexMeta {
    pb::IndexMeta {
        id: i.id,
        name: i.name,
        field_name: i.field_name,
        params: i.params.into_iter().collect(),
        created_ts: i.created_ts,
    }
}

pub fn index_from_pb(i: pb::IndexMeta) -> IndexMeta {
    IndexMeta {
        id: i.id,
        name: i.name,
        field_name: i.field_name,
        params: i.params.into_iter().collect(),
        created_ts: i.created_ts,
    }
}

pub fn segment_to_pb(s: SegmentMeta) -> pb::SegmentMeta {
    pb::SegmentMeta {
        id: s.id,
        shard: s.shard,
        partition_id: s.partition_id,
        start_offset: s.start_offset,
        end_offset: s.end_offset,
        rows: s.rows,
        data_key: s.data_key,
        deletes_key: s.deletes_key,
        deleted_rows: s.deleted_rows,
        index_files: s.index_files.into_iter().collect(),
    }
}

pub fn segment_from_pb(s: pb::SegmentMeta) -> SegmentMeta {
    SegmentMeta {
        id: s.id,
        shard: s.shard,
        partition_id: s.partition_id,
        start_offset: s.start_offset,
        end_offset: s.end_offset,
        rows: s.rows,
        data_key: s.data_key,
        deletes_key: s.deletes_key,
        deleted_rows: s.deleted_rows,
        index_files: s.index_files.into_iter().collect(),
    }
}

pub fn collection_to_pb(c: CollectionMeta) -> pb::CollectionMeta {
    pb::CollectionMeta {
        id: c.id,
        name: c.name,
        db: c.db,
        schema: Some(schema_to_pb(c.schema)),
        shards: c.shards,
        consistency: c.consistency.code(),
        properties: pairs_to_pb(c.properties),
        created_ts: c.created_ts,
        updated_ts: c.updated_ts,
        loaded: c.loaded,
        replicas: c.replicas,
        query_pool: c.query_pool,
        partitions: c.partitions.into_iter().map(partition_to_pb).collect(),
        indexes: c.indexes.into_iter().map(index_to_pb).collect(),
        segments: c.segments.into_iter().map(segment_to_pb).collect(),
        checkpoints: c.checkpoints,
        aliases: c.aliases,
    }
}

pub fn collection_from_pb(c: pb::CollectionMeta) -> Result<CollectionMeta, DecodeError> {
    Ok(CollectionMeta {
        id: c.id,
        name: c.name,
        db: c.db,
        schema: schema_from_pb(required(c.schema, "CollectionMeta.schema")?)?,
        shards: c.shards,
        consistency: consistency_from_pb(c.consistency, "CollectionMeta.consistency")?,
        properties: pairs_from_pb(c.properties),
        created_ts: c.created_ts,
        updated_ts: c.updated_ts,
        loaded: c.loaded,
        replicas: c.replicas,
        query_pool: c.query_pool,
        partitions: c.partitions.into_iter().map(partition_from_pb).collect(),
        indexes: c.indexes.into_iter().map(index_from_pb).collect(),
        segments: c.segments.into_iter().map(segment_from_pb).collect(),
        checkpoints: c.checkpoints,
        aliases: c.aliases,
    })
}

fn database_to_pb(d: DatabaseMeta) -> pb::DatabaseMeta {
    pb::DatabaseMeta {
        id: d.id,
        name: d.name,
        created_ts: d.created_ts,
        properties: pairs_to_pb(d.properties),
    }
}

fn database_from_pb(d: pb::DatabaseMeta) -> DatabaseMeta {
    DatabaseMeta {
        id: d.id,
        name: d.name,
        created_ts: d.created_ts,
        properties: pairs_from_pb(d.properties),
    }
}

pub fn catalog_to_pb(s: CatalogState) -> pb::CatalogState {
    pb::CatalogState {
        version: s.version,
        next_id: s.next_id,
        last_ts: s.last_ts,
        collections: s.collections.into_values().map(collection_to_pb).collect(),
        commit_nonce: s.commit_nonce,
        databases: s.databases.into_values().map(database_to_pb).collect(),
        users: s
            .users
            .into_values()
            .map(|u| pb::UserMeta {
                name: u.name,
                password_hash: u.password_hash,
                created_ts: u.created_ts,
                roles: u.roles,
            })
            .collect(),
        roles: s
            .roles
            .into_values()
            .map(crate::rbac_proto::role_to_pb)
            .collect(),
        privilege_groups: s
            .privilege_groups
            .into_iter()
            .map(|(name, privileges)| pb::PrivilegeGroupMeta { name, privileges })
            .collect(),
    }
}

pub fn catalog_from_pb(s: pb::CatalogState) -> Result<CatalogState, DecodeError> {
    let mut collections = BTreeMap::new();
    for c in s.collections {
        let c = collection_from_pb(c)?;
        if let Some(dup) = collections.insert(c.id, c) {
            return Err(DecodeError::invalid(
                "CatalogState.collections",
                format!("collection id {} is listed twice", dup.id),
            ));
        }
    }
    let mut databases = BTreeMap::new();
    for d in s.databases {
        let d = database_from_pb(d);
        if let Some(dup) = databases.insert(d.name.clone(), d) {
            return Err(DecodeError::invalid(
                "CatalogState.databases",
                format!("database {} is listed twice", dup.name),
            ));
        }
    }
    let mut users = BTreeMap::new();
    for u in s.users {
        let user = UserMeta {
            name: u.name,
            password_hash: u.password_hash,
            created_ts: u.created_ts,
            roles: u.roles,
        };
        if let Some(dup) = users.insert(user.name.clone(), user) {
            return Err(DecodeError::invalid(
                "CatalogState.users",
                format!("user {} is listed twice", dup.name),
            ));
        }
    }
    let mut roles = BTreeMap::new();
    for r in s.roles {
        let role = crate::rbac_proto::role_from_pb(r);
        if let Some(dup) = roles.insert(role.name.clone(), role) {
            return Err(DecodeError::invalid(
                "CatalogState.roles",
                format!("role {} is listed twice", dup.name),
            ));
        }
    }
    let mut privilege_groups = BTreeMap::new();
    for g in s.privilege_groups {
        if privilege_groups
            .insert(g.name.clone(), g.privileges)
            .is_some()
        {
            return Err(DecodeError::invalid(
                "CatalogState.privilege_groups",
                format!("privilege group {} is listed twice", g.name),
            ));
        }
    }
    Ok(CatalogState {
        version: s.version,
        next_id: s.next_id,
        last_ts: s.last_ts,
        collections,
        commit_nonce: s.commit_nonce,
        databases,
        users,
        roles,
        privilege_groups,
    })
}

// ---- operations ----

fn flush_to_pb(c: FlushCommit) -> pb::FlushCommit {
    let mut segments = c.new_segments.into_iter().map(segment_to_pb);
    pb::FlushCommit {
        collection: c.collection,
        shard: c.shard,
        // the first where older coordinators look for it, the others after
        new_segment: segments.next(),
        more_segments: segments.collect(),
        deletes: c
            .deletes
            .into_iter()
            .map(|(segment, key, rows)| pb::SegmentDeletes { segment, key, rows })
            .collect(),
        checkpoint: c.checkpoint,
        base: c.base,
    }
}

fn flush_from_pb(c: pb::FlushCommit) -> FlushCommit {
    FlushCommit {
        collection: c.collection,
        shard: c.shard,
        new_segments: c
            .new_segment
            .into_iter()
            .chain(c.more_segments)
            .map(segment_from_pb)
            .collect(),
        deletes: c
            .deletes
            .into_iter()
            .map(|d| (d.segment, d.key, d.rows))
            .collect(),
        checkpoint: c.checkpoint,
        base: c.base,
    }
}

pub fn op_to_pb(op: MetaOp) -> pb::MetaOp {
    use pb::meta_op::Op;
    let op = match op {
        MetaOp::CreateCollection(c) => Op::CreateCollection(pb::NewCollection {
            db: c.db,
            name: c.name,
            schema: Some(schema_to_pb(c.schema)),
            shards: c.shards,
            consistency: c.consistency.code(),
            properties: pairs_to_pb(c.properties),
            num_partitions: c.num_partitions,
        }),
        MetaOp::DropCollection { id } => Op::DropCollection(pb::DropCollection { id }),
        MetaOp::SetLoaded {
            id,
            loaded,
            replicas,
        } => Op::SetLoaded(pb::SetLoaded {
            id,
            loaded,
            replicas,
        }),
        MetaOp::SetProperties { id, properties } => Op::SetProperties(pb::SetProperties {
            id,
            properties: pairs_to_pb(properties),
        }),
        MetaOp::SetFieldParams { id, field, params } => Op::SetFieldParams(pb::SetFieldParams {
            id,
            field,
            params: pairs_to_pb(params),
        }),
        MetaOp::SetIndexParams { id, index, params } => Op::SetIndexParams(pb::SetIndexParams {
            id,
            index,
            params: params.into_iter().collect(),
        }),
        MetaOp::SetQueryPool { id, pool } => Op::SetQueryPool(pb::SetQueryPool { id, pool }),
        MetaOp::CreateIndex { id, index } => Op::CreateIndex(pb::CreateIndex {
            id,
            index: Some(pb::NewIndex {
                name: index.name,
                field_name: index.field_name,
                params: index.params.into_iter().collect(),
            }),
        }),
        MetaOp::DropIndex { id, index } => Op::DropIndex(pb::DropIndex { id, index }),
        MetaOp::CommitFlush(c) => Op::CommitFlush(flush_to_pb(c)),
        MetaOp::CommitIndex(c) => Op::CommitIndex(pb::IndexCommit {
            collection: c.collection,
            segment: c.segment,
            index: c.index,
            key: c.key,
        }),
        MetaOp::CommitCompaction(c) => Op::CommitCompaction(pb::CompactionCommit {
            collection: c.collection,
            shard: c.shard,
            sources: c.sources,
            target: Some(segment_to_pb(c.target)),
            base: c.base,
        }),
        MetaOp::Database(c) => Op::Database(database_change_to_pb(c)),
        MetaOp::Alias(c) => Op::Alias(alias_change_to_pb(c)),
        MetaOp::Rbac(c) => Op::Rbac(crate::rbac_proto::rbac_to_pb(c)),
        MetaOp::RenameCollection(r) => Op::RenameCollection(pb::RenameCollection {
            id: r.id,
            db: r.db,
            name: r.name,
        }),
        MetaOp::CreateUser {
            name,
            password_hash,
            if_absent,
        } => Op::CreateUser(pb::CreateUser {
            name,
            password_hash,
            if_absent,
        }),
        MetaOp::UpdateUser {
            name,
            password_hash,
            previous_hash,
        } => Op::UpdateUser(pb::UpdateUser {
            name,
            password_hash,
            previous_hash,
        }),
        MetaOp::DeleteUser { name } => Op::DeleteUser(pb::DeleteUser { name }),
        MetaOp::CreatePartition { id, name } => {
            Op::CreatePartition(pb::CreatePartition { id, name })
        }
        MetaOp::DropPartition { id, name } => Op::DropPartition(pb::DropPartition { id, name }),
        MetaOp::SetPartitionLoaded {
            id,
            names,
            loaded,
            replicas,
        } => Op::SetPartitionLoaded(pb::SetPartitionLoaded {
            id,
            names,
            loaded,
            replicas,
        }),
    };
    pb::MetaOp { op: Some(op) }
}

pub fn op_from_pb(op: pb::MetaOp) -> Result<MetaOp, DecodeError> {
    use pb::meta_op::Op;
    Ok(match required(op.op, "MetaOp.op")? {
        Op::CreateCollection(c) => MetaOp::CreateCollection(NewCollection {
            db: if c.db.is_empty() {
                DEFAULT_DB.into()
            } else {
                c.db
            },
            name: c.name,
            schema: schema_from_pb(required(c.schema, "NewCollection.schema")?)?,
            shards: c.shards,
            consistency: consistency_from_pb(c.consistency, "NewCollection.consistency")?,
            properties: pairs_from_pb(c.properties),
            num_partitions: c.num_partitions,
        }),
        Op::DropCollection(d) => MetaOp::DropCollection { id: d.id },
        Op::SetLoaded(s) => MetaOp::SetLoaded {
            id: s.id,
            loaded: s.loaded,
            replicas: s.replicas,
        },
        Op::SetProperties(s) => MetaOp::SetProperties {
            id: s.id,
            properties: pairs_from_pb(s.properties),
        },
        Op::SetFieldParams(s) => MetaOp::SetFieldParams {
            id: s.id,
            field: s.field,
            params: pairs_from_pb(s.params),
        },
        Op::SetIndexParams(s) => MetaOp::SetIndexParams {
            id: s.id,
            index: s.index,
            params: s.params.into_iter().collect(),
        },
        Op::SetQueryPool(s) => MetaOp::SetQueryPool {
            id: s.id,
            pool: s.pool,
        },
        Op::CreateIndex(c) => {
            let index = required(c.index, "CreateIndex.index")?;
            MetaOp::CreateIndex {
                id: c.id,
                index: NewIndex {
                    name: index.name,
                    field_name: index.field_name,
                    params: index.params.into_iter().collect(),
                },
            }
        }
        Op::DropIndex(d) => MetaOp::DropIndex {
            id: d.id,
            index: d.index,
        },
        Op::CommitFlush(c) => MetaOp::CommitFlush(flush_from_pb(c)),
        Op::CommitIndex(c) => MetaOp::CommitIndex(IndexCommit {
            collection: c.collection,
            segment: c.segment,
            index: c.index,
            key: c.key,
        }),
        Op::CommitCompaction(c) => MetaOp::CommitCompaction(CompactionCommit {
            collection: c.collection,
            shard: c.shard,
            sources: c.sources,
            target: segment_from_pb(required(c.target, "CompactionCommit.target")?),
            base: c.base,
        }),
        Op::Database(c) => MetaOp::Database(database_change_from_pb(c)?),
        Op::Alias(c) => MetaOp::Alias(alias_change_from_pb(c)?),
        Op::Rbac(c) => MetaOp::Rbac(crate::rbac_proto::rbac_from_pb(c)?),
        Op::RenameCollection(r) => MetaOp::RenameCollection(Rename {
            id: r.id,
            db: r.db,
            name: r.name,
        }),
        Op::CreateUser(c) => MetaOp::CreateUser {
            name: c.name,
            password_hash: c.password_hash,
            if_absent: c.if_absent,
        },
        Op::UpdateUser(u) => MetaOp::UpdateUser {
            name: u.name,
            password_hash: u.password_hash,
            previous_hash: u.previous_hash,
        },
        Op::DeleteUser(d) => MetaOp::DeleteUser { name: d.name },
        Op::CreatePartition(c) => MetaOp::CreatePartition {
            id: c.id,
            name: c.name,
        },
        Op::DropPartition(d) => MetaOp::DropPartition {
            id: d.id,
            name: d.name,
        },
        Op::SetPartitionLoaded(s) => MetaOp::SetPartitionLoaded {
            id: s.id,
            names: s.names,
            loaded: s.loaded,
            replicas: s.replicas,
        },
    })
}

const CREATE: i32 = 1;
const DROP: i32 = 2;
const ALTER: i32 = 3;

fn database_change_to_pb(c: DatabaseChange) -> pb::DatabaseChange {
    match c {
        DatabaseChange::Create { name, properties } => pb::DatabaseChange {
            kind: CREATE,
            name,
            properties: pairs_to_pb(properties),
            delete_keys: vec![],
        },
        DatabaseChange::Drop { name } => pb::DatabaseChange {
            kind: DROP,
            name,
            ..Default::default()
        },
        DatabaseChange::Alter { name, set, delete } => pb::DatabaseChange {
            kind: ALTER,
            name,
            properties: pairs_to_pb(set),
            delete_keys: delete,
        },
    }
}

fn database_change_from_pb(c: pb::DatabaseChange) -> Result<DatabaseChange, DecodeError> {
    Ok(match c.kind {
        CREATE => DatabaseChange::Create {
            name: c.name,
            properties: pairs_from_pb(c.properties),
        },
        DROP => DatabaseChange::Drop { name: c.name },
        ALTER => DatabaseChange::Alter {
            name: c.name,
            set: pairs_from_pb(c.properties),
            delete: c.delete_keys,
        },
        other => {
            return Err(DecodeError::invalid(
                "DatabaseChange.kind",
                format!("unknown kind {other}"),
            ))
        }
    })
}

fn alias_change_to_pb(c: AliasChange) -> pb::AliasChange {
    match c {
        AliasChange::Create {
            db,
            alias,
            collection,
        } => pb::AliasChange {
            kind: CREATE,
            db,
            alias,
            collection,
        },
        AliasChange::Drop { db, alias } => pb::AliasChange {
            kind: DROP,
            db,
            alias,
            collection: String::new(),
        },
        AliasChange::Alter {
            db,
            alias,
            collection,
        } => pb::AliasChange {
            kind: ALTER,
            db,
            alias,
            collection,
        },
    }
}

fn alias_change_from_pb(c: pb::AliasChange) -> Result<AliasChange, DecodeError> {
    let (db, alias, collection) = (c.db, c.alias, c.collection);
    Ok(match c.kind {
        CREATE => AliasChange::Create {
            db,
            alias,
            collection,
        },
        DROP => AliasChange::Drop { db, alias },
        ALTER => AliasChange::Alter {
            db,
            alias,
            collection,
        },
        other => {
            return Err(DecodeError::invalid(
                "AliasChange.kind",
                format!("unknown kind {other}"),
            ))
        }
    })
}

// ---- results ----

pub fn result_to_pb(r: MetaResult) -> pb::MetaResult {
    use pb::meta_result::Result as R;
    let result = match r {
        MetaResult::Created(c) => {
            let (collection, existing) = match c {
                Created::New(c) => (c, false),
                Created::Existing(c) => (c, true),
            };
            R::Created(pb::Created {
                collection: Some(collection_to_pb(collection)),
                existing,
            })
        }
        MetaResult::Dropped(c) => R::Dropped(pb::Dropped {
            collection: c.map(collection_to_pb),
        }),
        MetaResult::Done => R::Done(pb::Done {}),
        MetaResult::Index(i) => R::Index(index_to_pb(i)),
        MetaResult::Garbage(keys) => R::Garbage(pb::Garbage { keys }),
    };
    pb::MetaResult {
        result: Some(result),
    }
}

pub fn result_from_pb(r: pb::MetaResult) -> Result<MetaResult, DecodeError> {
    use pb::meta_result::Result as R;
    Ok(match required(r.result, "MetaResult.result")? {
        R::Created(c) => {
            let collection = collection_from_pb(required(c.collection, "Created.collection")?)?;
            MetaResult::Created(if c.existing {
                Created::Existing(collection)
            } else {
                Created::New(collection)
            })
        }
        R::Dropped(d) => MetaResult::Dropped(d.collection.map(collection_from_pb).transpose()?),
        R::Done(_) => MetaResult::Done,
        R::Index(i) => MetaResult::Index(index_from_pb(i)),
        R::Garbage(g) => MetaResult::Garbage(g.keys),
    })
}
