//! Collection management that changes no rows: renaming a collection (also into another
//! database), altering its properties and the type params of a field. The catalog checks what depends on its state
//! (`quarry_meta`'s `rename.rs`); this layer validates names and properties.

use quarry_meta::Rename;
use quarry_types::limits::{MAX_ARRAY_CAPACITY, MAX_VARCHAR};
use quarry_types::schema::{check_collection_properties, check_name, check_properties};
use quarry_types::{DataType, FieldSchema};

use crate::databases::check_database_name;
use crate::error::invalid;
use crate::{Engine, Named, Result};

/// What AlterCollection asks for: properties to set (replacing values of the same keys) or
/// keys to delete (`drop_collection_properties`), never both in one call (as in Milvus).
#[derive(Debug, Clone, Default)]
pub struct AlterProperties {
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
}

impl AlterProperties {
    /// Refuses a change that sets and deletes at once, or does neither (Milvus's rule; the
    /// texts are each RPC's own).
    fn one_kind(&self, neither: &str, both: &str) -> Result<()> {
        match (self.set.is_empty(), self.delete.is_empty()) {
            (true, true) => Err(invalid(neither)),
            (false, false) => Err(invalid(both)),
            _ => Ok(()),
        }
    }

    /// The properties after the change.
    fn apply(&self, current: &[(String, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = current
            .iter()
            .filter(|(k, _)| !self.delete.contains(k) && !self.set.iter().any(|(s, _)| s == k))
            .cloned()
            .collect();
        for (k, v) in &self.set {
            // a key given twice: the last value wins
            out.retain(|(o, _)| o != k);
            out.push((k.clone(), v.clone()));
        }
        out
    }
}

impl Engine {
    /// RenameCollection: `old` (its own name, not an alias) becomes `new_name` in `new_db`
    /// (empty: the collection's database).
    pub async fn rename_collection(
        &self,
        old: Named<'_>,
        new_db: &str,
        new_name: &str,
    ) -> Result<()> {
        check_name("collection", new_name)?;
        let new_db = if new_db.is_empty() { old.db } else { new_db };
        check_database_name(new_db)?;
        let (meta, _) = self.resolve_fresh(old, |_| false).await?;
        if meta.name != old.name {
            return Err(invalid(format!(
                "unsupported use an alias to rename collection, alias:{}",
                old.name
            )));
        }
        if meta.db == new_db && meta.name == new_name {
            return Err(invalid(format!(
                "the new collection name {new_name} is the old one: nothing to rename"
            )));
        }
        self.io
            .meta
            .rename_collection(Rename {
                id: meta.id,
                db: new_db.to_string(),
                name: new_name.to_string(),
            })
            .await?;
        tracing::info!(id = meta.id, from = %old, db = new_db, to = new_name, "collection renamed");
        Ok(())
    }

    /// AlterCollection's properties: only properties Quarry acts on (or documents as stored
    /// without effect) are accepted, as at creation.
    pub async fn alter_collection_properties(
        &self,
        name: Named<'_>,
        change: AlterProperties,
    ) -> Result<()> {
        change.one_kind(
            "alter collection requires either properties or delete keys to modify or delete \
             keys, both cannot be empty",
            "can not provide properties and deletekeys at the same time",
        )?;
        check_collection_properties(&change.set)?;
        if change.delete.len() > quarry_types::limits::MAX_PROPERTIES {
            return Err(invalid(format!(
                "too many delete keys: {} given, at most {} are allowed",
                change.delete.len(),
                quarry_types::limits::MAX_PROPERTIES
            )));
        }
        let (meta, _) = self.resolve_fresh(name, |_| false).await?;
        let next = change.apply(&meta.properties);
        check_properties("collection properties", &next)?;
        self.io.meta.set_properties(meta.id, next).await?;
        tracing::info!(id = meta.id, collection = %name, "collection properties altered");
        Ok(())
    }

    /// AlterCollectionField: `max_length` of a VarChar field (or of an Array's VarChar
    /// elements) and `max_capacity` of an Array field, which later writes are checked against
    /// (rows already stored stay as they are, as in Milvus); `mmap.enabled`, stored with no
    /// effect (loaded fields are in memory). Any other key is refused.
    pub async fn alter_collection_field(
        &self,
        name: Named<'_>,
        field: &str,
        change: AlterProperties,
    ) -> Result<()> {
        if change.set.is_empty() && change.delete.is_empty() {
            return Err(invalid(
                "alter collection field requires properties or delete keys, both cannot be empty",
            ));
        }
        if let Some(k) = change.delete.iter().find(|k| k.as_str() != MMAP) {
            return Err(invalid(format!("{k} can not be deleted from a field")));
        }
        let (meta, _) = self.resolve_fresh(name, |_| false).await?;
        let f = meta
            .schema
            .field(field)
            .ok_or_else(|| invalid(format!("field {field} does not exist in collection {name}")))?;
        for (k, v) in &change.set {
            check_field_param(f, k, v)?;
        }
        let next = change.apply(&f.type_params);
        self.io
            .meta
            .set_field_params(meta.id, f.name.clone(), next)
            .await?;
        tracing::info!(id = meta.id, collection = %name, field, "collection field altered");
        Ok(())
    }

    /// AlterIndex: `mmap.enabled` of one index, set or deleted (stored with no effect, as
    /// for fields and collections: loaded indexes are in memory); Milvus configures no other
    /// index parameter after the build, and neither does Quarry. As in Milvus, only while the
    /// collection is released.
    pub async fn alter_index_properties(
        &self,
        name: Named<'_>,
        index_name: &str,
        change: AlterProperties,
    ) -> Result<()> {
        change.one_kind(
            "alter index requires either extra params or delete keys, both cannot be empty",
            "cannot provide both DeleteKeys and ExtraParams",
        )?;
        if index_name.is_empty() {
            return Err(invalid("index name is empty: name the index to alter"));
        }
        for key in change.set.iter().map(|(k, _)| k).chain(&change.delete) {
            if key != MMAP {
                return Err(invalid(format!("{key} is not configable index param")));
            }
        }
        for (k, v) in &change.set {
            check_mmap(k, v)?;
        }
        let (meta, _) = self.resolve_fresh(name, |_| false).await?;
        let index = meta
            .indexes
            .iter()
            .find(|i| i.name == index_name)
            .ok_or_else(|| {
                crate::EngineError::IndexNotFound(format!("collection={name}, index={index_name}"))
            })?;
        if meta.loaded {
            return Err(invalid(format!(
                "can't alter index on loaded collection, please release the collection first: \
                 collection {name} is loaded"
            )));
        }
        let mut params = index.params.clone();
        for k in &change.delete {
            params.remove(k);
        }
        for (k, v) in &change.set {
            params.insert(k.clone(), v.trim().to_ascii_lowercase());
        }
        self.io
            .meta
            .set_index_params(meta.id, index.id, params)
            .await?;
        tracing::info!(id = meta.id, collection = %name, index = index_name, "index altered");
        Ok(())
    }
}

fn check_mmap(key: &str, value: &str) -> Result<()> {
    if matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false") {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid {key} value: {value}, expected true or false"
        )))
    }
}

const MMAP: &str = "mmap.enabled";

/// One property AlterCollectionField may set on `f`, with Milvus's refusals.
fn check_field_param(f: &FieldSchema, key: &str, value: &str) -> Result<()> {
    let strings = f.data_type == DataType::VarChar
        || (f.data_type == DataType::Array && f.element_type == Some(DataType::VarChar));
    let number = || {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid(format!("{key} should be an integer, but got {value}")))
    };
    match key {
        "max_length" => {
            if !strings {
                return Err(invalid(format!(
                    "{} can not modify the maxlength for non-string types",
                    f.name
                )));
            }
            let n = number()?;
            if n <= 0 || n > MAX_VARCHAR as i64 {
                return Err(invalid(format!(
                    "max_length {n} is out of range: a VarChar's max_length must be in \
                     [1, {MAX_VARCHAR}]"
                )));
            }
        }
        "max_capacity" => {
            if f.data_type != DataType::Array {
                return Err(invalid(format!(
                    "{} can not modify the max_capacity for non-array types",
                    f.name
                )));
            }
            let n = number()?;
            if n <= 0 || n > MAX_ARRAY_CAPACITY as i64 {
                return Err(invalid(format!(
                    "the maximum capacity specified for a Array should be in \
                     (0, {MAX_ARRAY_CAPACITY}]"
                )));
            }
        }
        MMAP => check_mmap(key, value)?,
        other => return Err(invalid(format!("{other} does not support update"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn altering_sets_replaces_and_deletes_keys() {
        let current = pairs(&[("a", "1"), ("b", "2")]);
        let set = AlterProperties {
            set: pairs(&[("b", "3"), ("c", "4"), ("c", "5")]),
            delete: vec![],
        };
        assert_eq!(
            set.apply(&current),
            pairs(&[("a", "1"), ("b", "3"), ("c", "5")])
        );
        let delete = AlterProperties {
            set: vec![],
            delete: vec!["a".into(), "missing".into()],
        };
        assert_eq!(delete.apply(&current), pairs(&[("b", "2")]));
    }
}
