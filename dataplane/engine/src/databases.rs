//! Databases and aliases: the name spaces collections live in. The catalog checks what depends
//! on its state (existence, emptiness, uniqueness; `quarry_meta`'s `names.rs`); this layer
//! validates names and properties and keeps cluster roles' catalog copies fresh.

use quarry_meta::{AliasChange, CollectionMeta, DatabaseChange, DatabaseMeta, DB_MAX_COLLECTIONS};
use quarry_types::limits::MAX_NAME_BYTES;
use quarry_types::schema::{check_name, check_properties};

use crate::error::invalid;
use crate::{Engine, EngineError, Named, Result, DEFAULT_DB};

/// Database properties Milvus has that Quarry does not act on: refused, never stored.
const REFUSED_PROPERTIES: &[(&str, &str)] = &[
    (
        "database.replica.number",
        "replicas are set per collection by load_collection(replica_number=...)",
    ),
    (
        "database.resource_groups",
        "Quarry has no resource groups; query pools are chosen per collection",
    ),
];

/// Checks a database name the way Milvus does (its error texts).
pub fn check_database_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "database name couldn't be empty"
    } else if name.len() > MAX_NAME_BYTES {
        return Err(EngineError::DatabaseName(format!(
            "the length of a database name must be less than {MAX_NAME_BYTES} characters: \
             invalid database name[database={}...]",
            &name[..name.floor_char_boundary(32)]
        )));
    } else if !name
        .chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
    {
        "the first character of a database name must be an underscore or letter"
    } else if !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
        "database name can only contain numbers, letters and underscores"
    } else {
        return Ok(());
    };
    Err(EngineError::DatabaseName(format!(
        "{why}: invalid database name[database={name}]"
    )))
}

/// Checks database properties: `database.max.collections` (a non-negative integer) takes
/// effect; the other properties Milvus gives a meaning (`database.*`, `timezone`) are refused
/// with the reason; any other key is the client's own annotation, stored and returned as
/// Milvus does.
fn check_database_properties(properties: &[(String, String)]) -> Result<()> {
    check_properties("database properties", properties)?;
    for (key, value) in properties {
        if key == DB_MAX_COLLECTIONS {
            if value.parse::<u32>().is_err() {
                return Err(invalid(format!(
                    "{DB_MAX_COLLECTIONS} must be a non-negative integer, got {value:?}"
                )));
            }
            continue;
        }
        let reason = match REFUSED_PROPERTIES.iter().find(|(k, _)| k == key) {
            Some((_, why)) => *why,
            None if key.starts_with("database.") => "a database setting Quarry does not serve",
            None if key.eq_ignore_ascii_case("timezone") => {
                "Timestamptz fields, which it sets, are not served"
            }
            None => continue,
        };
        return Err(invalid(format!(
            "database property {key:?} is not supported by Quarry ({reason}); \
             supported: {DB_MAX_COLLECTIONS}"
        )));
    }
    Ok(())
}

impl Engine {
    /// Catches up with the coordinator (cluster roles; standalone owns its catalog): database
    /// and alias calls answer from the newest catalog, as another proxy may just have
    /// changed it.
    async fn refreshed(&self) {
        match self.io.meta.refresh().await {
            Ok(true) => self.ensure_runtimes(),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "catalog refresh failed; using the cached catalog")
            }
        }
    }

    /// A database by name (empty: `default`); cluster roles ask the coordinator before they
    /// answer that it does not exist.
    pub async fn database(&self, name: &str) -> Result<DatabaseMeta> {
        let name = if name.is_empty() { DEFAULT_DB } else { name };
        if let Some(db) = self.io.meta.snapshot().database(name) {
            return Ok(db);
        }
        self.refreshed().await;
        self.io
            .meta
            .snapshot()
            .database(name)
            .ok_or_else(|| quarry_meta::MetaError::database_not_found(name).into())
    }

    /// Every database, `default` first.
    pub async fn list_databases(&self) -> Result<Vec<DatabaseMeta>> {
        self.refreshed().await;
        Ok(self.io.meta.snapshot().list_databases())
    }

    pub async fn create_database(
        &self,
        name: &str,
        properties: Vec<(String, String)>,
    ) -> Result<()> {
        check_database_name(name)?;
        check_database_properties(&properties)?;
        self.io
            .meta
            .change_database(DatabaseChange::Create {
                name: name.to_string(),
                properties,
            })
            .await?;
        tracing::info!(db = name, "database created");
        Ok(())
    }

    /// Drops an empty database (`default` and databases with collections are refused).
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        check_database_name(name)?;
        self.refreshed().await;
        self.io
            .meta
            .change_database(DatabaseChange::Drop {
                name: name.to_string(),
            })
            .await?;
        tracing::info!(db = name, "database dropped");
        Ok(())
    }

    pub async fn alter_database(
        &self,
        name: &str,
        set: Vec<(String, String)>,
        delete: Vec<String>,
    ) -> Result<()> {
        check_database_name(name)?;
        check_database_properties(&set)?;
        if set.is_empty() && delete.is_empty() {
            return Err(invalid("alter database requires either properties or deletekeys to modify or delete keys, both cannot be empty"));
        }
        self.io
            .meta
            .change_database(DatabaseChange::Alter {
                name: name.to_string(),
                set,
                delete,
            })
            .await?;
        Ok(())
    }

    pub async fn create_alias(&self, db: &str, alias: &str, collection: &str) -> Result<()> {
        check_name("alias", alias)?;
        check_name("collection", collection)?;
        self.refreshed().await;
        self.io
            .meta
            .change_alias(AliasChange::Create {
                db: db.to_string(),
                alias: alias.to_string(),
                collection: collection.to_string(),
            })
            .await?;
        tracing::info!(db, alias, collection, "alias created");
        Ok(())
    }

    pub async fn drop_alias(&self, db: &str, alias: &str) -> Result<()> {
        check_name("alias", alias)?;
        self.io
            .meta
            .change_alias(AliasChange::Drop {
                db: db.to_string(),
                alias: alias.to_string(),
            })
            .await?;
        tracing::info!(db, alias, "alias dropped");
        Ok(())
    }

    /// Moves an alias to another collection in one catalog commit: a read through the alias
    /// sees the old collection or the new one, never neither.
    pub async fn alter_alias(&self, db: &str, alias: &str, collection: &str) -> Result<()> {
        check_name("alias", alias)?;
        check_name("collection", collection)?;
        self.refreshed().await;
        self.io
            .meta
            .change_alias(AliasChange::Alter {
                db: db.to_string(),
                alias: alias.to_string(),
                collection: collection.to_string(),
            })
            .await?;
        tracing::info!(db, alias, collection, "alias altered");
        Ok(())
    }

    /// The collection an alias names.
    pub async fn describe_alias(&self, db: &str, alias: &str) -> Result<CollectionMeta> {
        check_name("alias", alias)?;
        self.refreshed().await;
        self.io
            .meta
            .snapshot()
            .by_alias(db, alias)
            .cloned()
            .ok_or_else(|| {
                quarry_meta::MetaError::Refused(
                    quarry_meta::Refusal::AliasNotFound,
                    format!("alias not found[database={db}][alias={alias}]"),
                )
                .into()
            })
    }

    /// The aliases of one collection (by its name), or of every collection of the database
    /// (`collection` empty), sorted.
    pub async fn list_aliases(&self, db: &str, collection: &str) -> Result<Vec<String>> {
        self.refreshed().await;
        let mut all: Vec<String> = if collection.is_empty() {
            let snap = self.io.meta.snapshot();
            snap.collections_in(db)
                .flat_map(|c| c.aliases.iter().cloned())
                .collect()
        } else {
            let snap = self.io.meta.snapshot();
            snap.by_name(db, collection)
                .ok_or_else(|| EngineError::CollectionNotFound(collection.to_string()))?
                .aliases
                .clone()
        };
        all.sort();
        Ok(all)
    }

    /// Collections of database `db` in creation order, after catching up with the coordinator
    /// (cluster roles).
    pub async fn list_collections_in(&self, db: &str) -> Result<Vec<CollectionMeta>> {
        if self.io.meta.refresh().await? {
            self.ensure_runtimes();
        }
        let mut all: Vec<_> = self
            .io
            .meta
            .snapshot()
            .collections_in(db)
            .cloned()
            .collect();
        all.sort_by_key(|c| c.created_ts);
        Ok(all)
    }

    /// Refuses a drop through an alias (Milvus drops collections by their own name only).
    pub(crate) fn check_not_alias(name: Named<'_>, meta: &CollectionMeta) -> Result<()> {
        if meta.name != name.name {
            return Err(invalid(format!(
                "cannot drop the collection via alias = {}",
                name.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_checked_like_milvus() {
        for ok in ["db", "_db", "Db_2", "a"] {
            check_database_name(ok).unwrap();
        }
        for (bad, why) in [
            ("", "database name couldn't be empty"),
            (
                "1db",
                "the first character of a database name must be an underscore or letter",
            ),
            (
                "a-b",
                "database name can only contain numbers, letters and underscores",
            ),
            (
                "a b",
                "database name can only contain numbers, letters and underscores",
            ),
        ] {
            let e = check_database_name(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("{why}: invalid database name[database={bad}]")
            );
        }
        let long = "d".repeat(MAX_NAME_BYTES + 1);
        let e = check_database_name(&long).unwrap_err().to_string();
        assert!(e.contains("must be less than 255"), "{e}");
        assert!(e.len() < 200, "the name is cut short: {e}");
    }

    #[test]
    fn properties_quarry_does_not_serve_are_refused() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        check_database_properties(&p(DB_MAX_COLLECTIONS, "10")).unwrap();
        check_database_properties(&[]).unwrap();
        for (k, v) in [
            (DB_MAX_COLLECTIONS, "-1"),
            (DB_MAX_COLLECTIONS, "many"),
            ("database.replica.number", "2"),
            ("database.resource_groups", "rg1"),
            ("database.force.deny.writing", "true"),
        ] {
            let e = check_database_properties(&p(k, v)).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
        assert!(check_database_properties(&p("timezone", "UTC")).is_err());
        // a client's own keys are stored, as Milvus stores them
        check_database_properties(&p("key1", "value1")).unwrap();
        check_database_properties(&p("owner", "team-a")).unwrap();
    }
}
