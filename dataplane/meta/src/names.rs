//! Databases and aliases on the catalog state: the checks and changes that depend on what the
//! catalog holds (existence, emptiness, uniqueness, counts). Pure functions of the state, run
//! inside one catalog commit each; names and property values are validated by the caller.

use quarry_types::limits::{MAX_ALIASES_PER_COLLECTION, MAX_DATABASES};

use crate::{
    AliasChange, CatalogState, CollectionMeta, DatabaseChange, DatabaseMeta, MetaError, Refusal,
    DEFAULT_DB,
};

/// The database property that bounds the number of collections of a database.
pub const DB_MAX_COLLECTIONS: &str = "database.max.collections";

fn refused(kind: Refusal, message: String) -> MetaError {
    MetaError::Refused(kind, message)
}

/// Checks that a collection can be created in database `db`: the database exists and is
/// below its `database.max.collections`.
pub(crate) fn check_new_collection(s: &CatalogState, db: &str) -> Result<(), MetaError> {
    let meta = s
        .database(db)
        .ok_or_else(|| MetaError::database_not_found(db))?;
    let limit = meta
        .properties
        .iter()
        .find(|(k, _)| k == DB_MAX_COLLECTIONS)
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if let Some(limit) = limit {
        if s.collections_in(db).count() >= limit {
            return Err(refused(
                Refusal::CollectionLimit,
                format!("exceeded the limit number of collections[dbName={db}][limit={limit}]"),
            ));
        }
    }
    Ok(())
}

/// Checks that a collection can be dropped: Milvus refuses while aliases name it.
pub(crate) fn check_drop_collection(c: &CollectionMeta) -> Result<(), MetaError> {
    if c.aliases.is_empty() {
        return Ok(());
    }
    Err(refused(
        Refusal::CollectionHasAliases,
        format!(
            "unable to drop the collection [{}] because it has associated aliases {:?}, \
             please remove all aliases before dropping the collection",
            c.name, c.aliases
        ),
    ))
}

pub(crate) fn apply_database(
    s: &mut CatalogState,
    change: &DatabaseChange,
    now: u64,
) -> Result<(), MetaError> {
    match change {
        DatabaseChange::Create { name, properties } => {
            if s.database(name).is_some() {
                return Err(refused(
                    Refusal::DatabaseExists,
                    format!("database already exist: {name}"),
                ));
            }
            if s.list_databases().len() >= MAX_DATABASES {
                return Err(refused(
                    Refusal::DatabaseLimit,
                    format!("exceeded the limit number of database[limit={MAX_DATABASES}]"),
                ));
            }
            let id = s.alloc_id();
            s.databases.insert(
                name.clone(),
                DatabaseMeta {
                    id,
                    name: name.clone(),
                    created_ts: now,
                    properties: properties.clone(),
                },
            );
            s.last_ts = s.last_ts.max(now);
        }
        DatabaseChange::Drop { name } => {
            if name == DEFAULT_DB {
                return Err(MetaError::Rejected("can not drop default database".into()));
            }
            if s.collections_in(name).next().is_some() {
                return Err(refused(
                    Refusal::DatabaseNotEmpty,
                    format!(
                        "database:{name} not empty, must drop all collections before drop database"
                    ),
                ));
            }
            s.databases.remove(name);
        }
        DatabaseChange::Alter { name, set, delete } => {
            let mut meta = s
                .database(name)
                .ok_or_else(|| MetaError::database_not_found(name))?;
            for (key, value) in set {
                match meta.properties.iter_mut().find(|(k, _)| k == key) {
                    Some(kv) => kv.1 = value.clone(),
                    None => meta.properties.push((key.clone(), value.clone())),
                }
            }
            meta.properties.retain(|(k, _)| !delete.contains(k));
            s.databases.insert(name.clone(), meta);
        }
    }
    Ok(())
}

fn collection_mut<'a>(
    s: &'a mut CatalogState,
    db: &str,
    name: &str,
) -> Result<&'a mut CollectionMeta, MetaError> {
    s.collections
        .values_mut()
        .find(|c| c.db == db && c.name == name)
        .ok_or_else(|| MetaError::CollectionNotFound(name.to_string()))
}

/// An alias may not be the name of a collection of its database.
fn check_not_a_collection(s: &CatalogState, db: &str, alias: &str) -> Result<(), MetaError> {
    if s.by_name(db, alias).is_some() {
        return Err(refused(
            Refusal::AliasNameConflict,
            format!("alias and collection name conflict[database={db}][alias={alias}]"),
        ));
    }
    Ok(())
}

fn add_alias(c: &mut CollectionMeta, alias: &str) -> Result<(), MetaError> {
    if c.aliases.len() >= MAX_ALIASES_PER_COLLECTION {
        return Err(MetaError::Rejected(format!(
            "collection {} has {MAX_ALIASES_PER_COLLECTION} aliases, the maximum",
            c.name
        )));
    }
    c.aliases.push(alias.to_string());
    Ok(())
}

pub(crate) fn apply_alias(s: &mut CatalogState, change: &AliasChange) -> Result<(), MetaError> {
    match change {
        AliasChange::Create {
            db,
            alias,
            collection,
        } => {
            if s.database(db).is_none() {
                return Err(MetaError::database_not_found(db));
            }
            check_not_a_collection(s, db, alias)?;
            let target = s
                .by_name(db, collection)
                .ok_or_else(|| MetaError::CollectionNotFound(collection.clone()))?
                .id;
            if let Some(current) = s.by_alias(db, alias) {
                if current.id == target {
                    return Ok(());
                }
                return Err(refused(
                    Refusal::AliasExists,
                    format!(
                        "{alias} is alias to another collection: {}: alias already exist\
                         [database={db}][alias={alias}]",
                        current.name
                    ),
                ));
            }
            add_alias(collection_mut(s, db, collection)?, alias)
        }
        AliasChange::Drop { db, alias } => {
            if s.database(db).is_none() {
                return Err(MetaError::database_not_found(db));
            }
            for c in s.collections.values_mut().filter(|c| &c.db == db) {
                c.aliases.retain(|a| a != alias);
            }
            Ok(())
        }
        AliasChange::Alter {
            db,
            alias,
            collection,
        } => {
            if s.database(db).is_none() {
                return Err(MetaError::database_not_found(db));
            }
            check_not_a_collection(s, db, alias)?;
            if s.by_name(db, collection).is_none() {
                return Err(MetaError::CollectionNotFound(collection.clone()));
            }
            if s.by_alias(db, alias).is_none() {
                return Err(refused(
                    Refusal::AliasNotFound,
                    format!("alias not found[database={db}][alias={alias}]"),
                ));
            }
            for c in s.collections.values_mut().filter(|c| &c.db == db) {
                c.aliases.retain(|a| a != alias);
            }
            add_alias(collection_mut(s, db, collection)?, alias)
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use quarry_types::{CollectionSchema, ConsistencyLevel};

    use super::*;

    pub(crate) fn with_collection(s: &mut CatalogState, db: &str, name: &str) -> i64 {
        let id = s.alloc_id();
        s.collections.insert(
            id,
            CollectionMeta {
                id,
                name: name.into(),
                db: db.into(),
                schema: CollectionSchema {
                    functions: vec![],
                    name: name.into(),
                    description: String::new(),
                    auto_id: false,
                    fields: vec![],
                    enable_dynamic_field: false,
                    properties: vec![],
                },
                shards: 1,
                consistency: ConsistencyLevel::Bounded,
                properties: vec![],
                created_ts: 1,
                updated_ts: 1,
                loaded: false,
                replicas: 1,
                query_pool: None,
                partitions: vec![],
                indexes: vec![],
                segments: vec![],
                checkpoints: vec![0],
                aliases: vec![],
            },
        );
        id
    }

    pub(crate) fn create_db(s: &mut CatalogState, name: &str) -> Result<(), MetaError> {
        apply_database(
            s,
            &DatabaseChange::Create {
                name: name.into(),
                properties: vec![],
            },
            7,
        )
    }

    pub(crate) fn kind(e: MetaError) -> Refusal {
        match e {
            MetaError::Refused(kind, _) => kind,
            other => panic!("not a refusal: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn alias(kind: u8, db: &str, alias: &str, collection: &str) -> AliasChange {
        let (db, alias, collection) = (db.into(), alias.into(), collection.into());
        match kind {
            b'c' => AliasChange::Create {
                db,
                alias,
                collection,
            },
            b'a' => AliasChange::Alter {
                db,
                alias,
                collection,
            },
            _ => AliasChange::Drop { db, alias },
        }
    }

    #[test]
    fn databases_are_created_listed_altered_and_dropped() {
        let mut s = CatalogState::default();
        assert_eq!(s.list_databases().len(), 1, "default always exists");
        assert_eq!(s.database(DEFAULT_DB).unwrap().id, crate::DEFAULT_DB_ID);
        create_db(&mut s, "a").unwrap();
        let a = s.database("a").unwrap();
        assert_eq!((a.name.as_str(), a.created_ts), ("a", 7));
        assert_ne!(a.id, crate::DEFAULT_DB_ID);
        assert_eq!(
            kind(create_db(&mut s, "a").unwrap_err()),
            Refusal::DatabaseExists
        );
        assert_eq!(
            kind(create_db(&mut s, DEFAULT_DB).unwrap_err()),
            Refusal::DatabaseExists
        );
        let names: Vec<_> = s.list_databases().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["default", "a"]);

        // properties: set, replace, delete; default too (then stored)
        for db in ["a", DEFAULT_DB] {
            let alter = |set: &[(&str, &str)], delete: &[&str]| DatabaseChange::Alter {
                name: db.into(),
                set: set
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                delete: delete.iter().map(|k| k.to_string()).collect(),
            };
            apply_database(&mut s, &alter(&[(DB_MAX_COLLECTIONS, "1")], &[]), 8).unwrap();
            apply_database(&mut s, &alter(&[(DB_MAX_COLLECTIONS, "2")], &[]), 8).unwrap();
            assert_eq!(
                s.database(db).unwrap().properties,
                [(DB_MAX_COLLECTIONS.to_string(), "2".to_string())]
            );
            apply_database(&mut s, &alter(&[], &[DB_MAX_COLLECTIONS]), 8).unwrap();
            assert!(s.database(db).unwrap().properties.is_empty());
        }
        assert_eq!(s.database(DEFAULT_DB).unwrap().id, crate::DEFAULT_DB_ID);
        let missing = DatabaseChange::Alter {
            name: "nope".into(),
            set: vec![],
            delete: vec![],
        };
        assert_eq!(
            kind(apply_database(&mut s, &missing, 8).unwrap_err()),
            Refusal::DatabaseNotFound
        );

        // a database with collections is not dropped; default never is
        let id = with_collection(&mut s, "a", "c");
        let drop = |name: &str| DatabaseChange::Drop { name: name.into() };
        assert_eq!(
            kind(apply_database(&mut s, &drop("a"), 9).unwrap_err()),
            Refusal::DatabaseNotEmpty
        );
        let e = apply_database(&mut s, &drop(DEFAULT_DB), 9).unwrap_err();
        assert_eq!(e.to_string(), "can not drop default database");
        s.collections.remove(&id);
        apply_database(&mut s, &drop("a"), 9).unwrap();
        assert!(s.database("a").is_none());
        // dropping a missing database succeeds
        apply_database(&mut s, &drop("a"), 9).unwrap();
    }

    #[test]
    fn the_number_of_databases_is_bounded() {
        let mut s = CatalogState::default();
        for i in 1..MAX_DATABASES {
            create_db(&mut s, &format!("d{i}")).unwrap();
        }
        let e = create_db(&mut s, "one_more").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("exceeded the limit number of database[limit={MAX_DATABASES}]")
        );
        assert_eq!(kind(e), Refusal::DatabaseLimit);
    }

    #[test]
    fn collections_need_their_database_and_respect_its_limit() {
        let mut s = CatalogState::default();
        assert_eq!(
            kind(check_new_collection(&s, "nope").unwrap_err()),
            Refusal::DatabaseNotFound
        );
        create_db(&mut s, "a").unwrap();
        apply_database(
            &mut s,
            &DatabaseChange::Alter {
                name: "a".into(),
                set: vec![(DB_MAX_COLLECTIONS.into(), "1".into())],
                delete: vec![],
            },
            8,
        )
        .unwrap();
        check_new_collection(&s, "a").unwrap();
        with_collection(&mut s, "a", "c");
        let e = check_new_collection(&s, "a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "exceeded the limit number of collections[dbName=a][limit=1]"
        );
        // other databases are not affected
        with_collection(&mut s, DEFAULT_DB, "c");
        check_new_collection(&s, DEFAULT_DB).unwrap();
    }

    #[test]
    fn aliases_follow_milvus_rules() {
        let mut s = CatalogState::default();
        create_db(&mut s, "other").unwrap();
        let blue = with_collection(&mut s, DEFAULT_DB, "blue");
        let green = with_collection(&mut s, DEFAULT_DB, "green");
        let elsewhere = with_collection(&mut s, "other", "blue");

        apply_alias(&mut s, &alias(b'c', DEFAULT_DB, "live", "blue")).unwrap();
        // again on the same collection: nothing changes
        apply_alias(&mut s, &alias(b'c', DEFAULT_DB, "live", "blue")).unwrap();
        assert_eq!(s.collections[&blue].aliases, ["live"]);
        assert_eq!(s.resolve(DEFAULT_DB, "live").unwrap().id, blue);
        assert_eq!(s.resolve(DEFAULT_DB, "blue").unwrap().id, blue);
        // aliases are per database
        assert!(s.resolve("other", "live").is_none());
        assert_eq!(s.resolve("other", "blue").unwrap().id, elsewhere);
        apply_alias(&mut s, &alias(b'c', "other", "live", "blue")).unwrap();
        assert_eq!(s.resolve("other", "live").unwrap().id, elsewhere);

        // on another collection: refused with Milvus' text
        let e = apply_alias(&mut s, &alias(b'c', DEFAULT_DB, "live", "green")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "live is alias to another collection: blue: alias already exist\
             [database=default][alias=live]"
        );
        assert_eq!(kind(e), Refusal::AliasExists);
        // an alias cannot be a collection name
        for k in [b'c', b'a'] {
            let e = apply_alias(&mut s, &alias(k, DEFAULT_DB, "green", "blue")).unwrap_err();
            assert_eq!(
                e.to_string(),
                "alias and collection name conflict[database=default][alias=green]"
            );
        }
        // missing collection, missing database, missing alias
        let e = apply_alias(&mut s, &alias(b'c', DEFAULT_DB, "x", "nope")).unwrap_err();
        assert!(matches!(e, MetaError::CollectionNotFound(_)), "{e:?}");
        let e = apply_alias(&mut s, &alias(b'c', "nope", "x", "blue")).unwrap_err();
        assert_eq!(kind(e), Refusal::DatabaseNotFound);
        let e = apply_alias(&mut s, &alias(b'a', DEFAULT_DB, "x", "blue")).unwrap_err();
        assert_eq!(e.to_string(), "alias not found[database=default][alias=x]");

        // alter moves the alias in one change
        apply_alias(&mut s, &alias(b'a', DEFAULT_DB, "live", "green")).unwrap();
        assert!(s.collections[&blue].aliases.is_empty());
        assert_eq!(s.collections[&green].aliases, ["live"]);
        assert_eq!(s.resolve(DEFAULT_DB, "live").unwrap().id, green);

        // a collection with aliases is not dropped
        let e = check_drop_collection(&s.collections[&green]).unwrap_err();
        assert_eq!(kind(e), Refusal::CollectionHasAliases);
        check_drop_collection(&s.collections[&blue]).unwrap();

        // drop: gone; dropping again succeeds
        apply_alias(&mut s, &alias(b'd', DEFAULT_DB, "live", "")).unwrap();
        apply_alias(&mut s, &alias(b'd', DEFAULT_DB, "live", "")).unwrap();
        assert!(s.resolve(DEFAULT_DB, "live").is_none());
        assert_eq!(s.resolve("other", "live").unwrap().id, elsewhere);
    }

    #[test]
    fn aliases_of_one_collection_are_bounded() {
        let mut s = CatalogState::default();
        let id = with_collection(&mut s, DEFAULT_DB, "c");
        for i in 0..MAX_ALIASES_PER_COLLECTION {
            apply_alias(&mut s, &alias(b'c', DEFAULT_DB, &format!("a{i}"), "c")).unwrap();
        }
        let e = apply_alias(&mut s, &alias(b'c', DEFAULT_DB, "more", "c")).unwrap_err();
        assert!(e.to_string().contains("maximum"), "{e}");
        assert_eq!(s.collections[&id].aliases.len(), MAX_ALIASES_PER_COLLECTION);
    }

    /// A manifest written before databases and aliases existed still loads: its collections
    /// are in `default`, which exists, and have no aliases.
    #[test]
    fn manifests_from_before_databases_still_load() {
        let old = r#"{"version":3,"next_id":1048600,"last_ts":99,"commit_nonce":5,
            "collections":{"1048577":{"id":1048577,"name":"docs","db":"default",
            "schema":{"name":"docs","description":"","auto_id":false,"fields":[],
            "enable_dynamic_field":false,"properties":[]},"shards":1,"consistency":"Bounded",
            "properties":[],"created_ts":1,"updated_ts":1,"loaded":true,"partitions":[],
            "indexes":[],"segments":[],"checkpoints":[0]}}}"#;
        let s: CatalogState = serde_json::from_str(old).unwrap();
        assert!(s.databases.is_empty());
        assert_eq!(s.list_databases()[0].name, DEFAULT_DB);
        let c = s.resolve(DEFAULT_DB, "docs").unwrap();
        assert!(c.aliases.is_empty());
        // and a new manifest without databases or aliases writes neither key
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            !json.contains("databases") && !json.contains("aliases"),
            "{json}"
        );
    }
}
