//! Renaming a collection (RenameCollection): in its database or into another one. A pure
//! function of the catalog state, run inside one commit; the names were validated by the
//! caller. The collection keeps its id, so its log topic, files and loaded state stay as they
//! are: only the name that resolves to it changes.

use crate::names::check_new_collection;
use crate::{CatalogState, MetaError, Refusal, Rename};

pub(crate) fn apply_rename(s: &mut CatalogState, r: &Rename) -> Result<(), MetaError> {
    let c = s
        .collections
        .get(&r.id)
        .ok_or_else(|| MetaError::CollectionNotFound(r.id.to_string()))?;
    if c.db == r.db && c.name == r.name {
        return Ok(());
    }
    let moves = c.db != r.db;
    if moves {
        if !c.aliases.is_empty() {
            return Err(MetaError::Refused(
                Refusal::CollectionHasAliases,
                format!(
                    "fail to rename collection {} to database {}: it has aliases {:?}, \
                     drop them first",
                    c.name, r.db, c.aliases
                ),
            ));
        }
        check_new_collection(s, &r.db)?;
    } else if s.database(&r.db).is_none() {
        return Err(MetaError::database_not_found(&r.db));
    }
    if s.by_name(&r.db, &r.name).is_some() || s.by_alias(&r.db, &r.name).is_some() {
        return Err(MetaError::Rejected(format!(
            "duplicated new collection name {}:{} with other collection name or alias",
            r.db, r.name
        )));
    }
    let c = s
        .collections
        .get_mut(&r.id)
        .ok_or_else(|| MetaError::CollectionNotFound(r.id.to_string()))?;
    c.db = r.db.clone();
    c.name = r.name.clone();
    c.schema.name = r.name.clone();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::test_support::{create_db, kind, with_collection};
    use crate::{AliasChange, DatabaseChange};

    fn rename(id: i64, db: &str, name: &str) -> Rename {
        Rename {
            id,
            db: db.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_collection_is_renamed_in_place_and_keeps_its_id() {
        let mut s = CatalogState::default();
        let id = with_collection(&mut s, "default", "a");
        with_collection(&mut s, "default", "b");
        apply_rename(&mut s, &rename(id, "default", "c")).unwrap();
        assert_eq!(s.by_name("default", "c").unwrap().id, id);
        assert!(s.by_name("default", "a").is_none());
        // the same name again changes nothing
        apply_rename(&mut s, &rename(id, "default", "c")).unwrap();
        // taken names: a collection or an alias
        let e = apply_rename(&mut s, &rename(id, "default", "b")).unwrap_err();
        assert!(e
            .to_string()
            .contains("duplicated new collection name default:b"));
        crate::names::apply_alias(
            &mut s,
            &AliasChange::Create {
                db: "default".into(),
                alias: "al".into(),
                collection: "b".into(),
            },
        )
        .unwrap();
        assert!(apply_rename(&mut s, &rename(id, "default", "al")).is_err());
        assert!(matches!(
            apply_rename(&mut s, &rename(999, "default", "x")),
            Err(MetaError::CollectionNotFound(_))
        ));
    }

    #[test]
    fn a_collection_moves_to_another_database_without_aliases_only() {
        let mut s = CatalogState::default();
        let id = with_collection(&mut s, "default", "a");
        let e = apply_rename(&mut s, &rename(id, "nope", "a")).unwrap_err();
        assert_eq!(kind(e), Refusal::DatabaseNotFound);
        create_db(&mut s, "other").unwrap();
        crate::names::apply_alias(
            &mut s,
            &AliasChange::Create {
                db: "default".into(),
                alias: "al".into(),
                collection: "a".into(),
            },
        )
        .unwrap();
        let e = apply_rename(&mut s, &rename(id, "other", "a")).unwrap_err();
        assert_eq!(kind(e), Refusal::CollectionHasAliases);
        crate::names::apply_alias(
            &mut s,
            &AliasChange::Drop {
                db: "default".into(),
                alias: "al".into(),
            },
        )
        .unwrap();
        // the target database's collection limit holds
        crate::names::apply_database(
            &mut s,
            &DatabaseChange::Alter {
                name: "other".into(),
                set: vec![(crate::DB_MAX_COLLECTIONS.into(), "0".into())],
                delete: vec![],
            },
            1,
        )
        .unwrap();
        let e = apply_rename(&mut s, &rename(id, "other", "a")).unwrap_err();
        assert_eq!(kind(e), Refusal::CollectionLimit);
        crate::names::apply_database(
            &mut s,
            &DatabaseChange::Alter {
                name: "other".into(),
                set: vec![],
                delete: vec![crate::DB_MAX_COLLECTIONS.into()],
            },
            1,
        )
        .unwrap();
        apply_rename(&mut s, &rename(id, "other", "moved")).unwrap();
        let c = s.by_name("other", "moved").unwrap();
        assert_eq!((c.id, c.db.as_str()), (id, "other"));
        assert!(s.by_name("default", "a").is_none());
    }
}
