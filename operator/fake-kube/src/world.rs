//! The stored objects and what a write does to them: resourceVersions, generations,
//! finalizers, owner-reference garbage collection, the `scale` subresource, and the API's verbs
//! on one path.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::patch::{drop_unapplied, merge, string_data};
use crate::request::{matches_selector, query_param, status_error, Target};

/// Where an object lives: `(api prefix, plural, namespace, name)`, e.g.
/// `("apis/apps/v1", "deployments", "ns", "x")`.
pub(crate) type Key = (String, String, String, String);

#[derive(Default)]
pub(crate) struct World {
    pub(crate) objects: BTreeMap<Key, Value>,
    /// what each field manager last applied to an object
    pub(crate) applied: BTreeMap<(Key, String), Value>,
    pub(crate) version: u64,
    pub(crate) uid: u64,
    /// every change in order: (resourceVersion, key, event type, object)
    pub(crate) changes: Vec<(u64, Key, &'static str, Value)>,
}

impl World {
    fn next_version(&mut self) -> String {
        self.version += 1;
        self.version.to_string()
    }

    fn key(t: &Target, name: &str) -> Key {
        (
            t.prefix.clone(),
            t.plural.clone(),
            t.namespace.clone().unwrap_or_default(),
            name.to_string(),
        )
    }

    /// Stores `obj` under `key` as the result of a write: resourceVersion, generation (bumped
    /// when the spec changes), removal once deleted and without finalizers.
    fn store(&mut self, key: Key, mut obj: Value, old: Option<&Value>) -> Value {
        let generation = match old {
            None => 1,
            Some(o) => {
                let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
                if o.get("spec") != obj.get("spec") {
                    g + 1
                } else {
                    g
                }
            }
        };
        let version = self.next_version();
        let meta = obj["metadata"]
            .as_object_mut()
            .expect("metadata is an object");
        meta.insert("resourceVersion".into(), json!(version));
        meta.insert("generation".into(), json!(generation));
        let finalizers = meta
            .get("finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if meta.contains_key("deletionTimestamp") && !finalizers {
            self.remove(&key);
            return obj;
        }
        let event = if self.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.changes
            .push((self.version, key.clone(), event, obj.clone()));
        self.objects.insert(key, obj.clone());
        obj
    }

    /// Deletes an object and, like the garbage collector, every object it owns.
    fn remove(&mut self, key: &Key) {
        let Some(obj) = self.objects.remove(key) else {
            return;
        };
        self.applied.retain(|(k, _), _| k != key);
        self.version += 1;
        self.changes
            .push((self.version, key.clone(), "DELETED", obj.clone()));
        let Some(uid) = obj["metadata"]["uid"].as_str().map(str::to_string) else {
            return;
        };
        let owned: Vec<Key> = self
            .objects
            .iter()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in owned {
            self.delete(&k);
        }
    }

    fn delete(&mut self, key: &Key) -> Option<Value> {
        let mut obj = self.objects.get(key)?.clone();
        let finalizers = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if !finalizers {
            self.remove(key);
            return Some(obj);
        }
        if obj["metadata"]["deletionTimestamp"].is_null() {
            obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            let old = self.objects.get(key).cloned();
            return Some(self.store(key.clone(), obj, old.as_ref()));
        }
        Some(obj)
    }

    /// The `scale` subresource (`kubectl scale`, HorizontalPodAutoscalers) of an object whose
    /// replicas are `spec.replicas`, `status.replicas` and `status.selector`, as Quarry's
    /// NodePool and Deployments declare them.
    fn scale(
        &mut self,
        key: Key,
        old: Value,
        method: &Method,
        body: &Value,
    ) -> Result<(StatusCode, Value), (StatusCode, Value)> {
        let mut obj = old.clone();
        if *method == Method::PUT || *method == Method::PATCH {
            let replicas = body["spec"]["replicas"].as_i64().ok_or_else(|| {
                status_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "a scale needs spec.replicas".into(),
                )
            })?;
            obj["spec"]["replicas"] = json!(replicas);
            obj = self.store(key, obj, Some(&old));
        } else if *method != Method::GET {
            return Err(status_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                method.to_string(),
            ));
        }
        let scale = json!({
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"], "resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"replicas": obj["spec"]["replicas"]},
            "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": obj["status"]["selector"]},
        });
        Ok((StatusCode::OK, scale))
    }

    fn create(&mut self, key: Key, mut obj: Value) -> Result<Value, (StatusCode, Value)> {
        string_data(&mut obj);
        if self.objects.contains_key(&key) {
            return Err(status_error(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{} {:?} already exists", key.1, key.3),
            ));
        }
        self.uid += 1;
        let uid = format!("uid-{}", self.uid);
        let meta = obj["metadata"].as_object_mut().ok_or_else(|| {
            status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "object without metadata".into(),
            )
        })?;
        meta.insert("name".into(), json!(key.3));
        if !key.2.is_empty() {
            meta.insert("namespace".into(), json!(key.2));
        }
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!("2026-01-01T00:00:00Z"));
        Ok(self.store(key, obj, None))
    }

    pub(crate) fn handle(
        &mut self,
        method: &Method,
        t: &Target,
        query: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<(StatusCode, Value), (StatusCode, Value)> {
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).map_err(|e| {
                status_error(StatusCode::BAD_REQUEST, "BadRequest", format!("body: {e}"))
            })?
        };
        let not_found = |t: &Target| {
            status_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "{} {:?} not found",
                    t.plural,
                    t.name.clone().unwrap_or_default()
                ),
            )
        };
        let Some(name) = t.name.clone() else {
            return match *method {
                Method::GET => {
                    let selector = query_param(query, "labelSelector").unwrap_or_default();
                    let items: Vec<Value> = self
                        .objects
                        .iter()
                        .filter(|((p, pl, ns, _), o)| {
                            *p == t.prefix
                                && *pl == t.plural
                                && t.namespace.as_ref().is_none_or(|n| n == ns)
                                && matches_selector(o, &selector)
                        })
                        .map(|(_, o)| o.clone())
                        .collect();
                    Ok((
                        StatusCode::OK,
                        json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": self.version.to_string()}, "items": items}),
                    ))
                }
                Method::POST => {
                    let name = body["metadata"]["name"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| {
                            body["metadata"]["generateName"]
                                .as_str()
                                .map(|g| format!("{g}{}", self.version + 1))
                        });
                    let name = name.ok_or_else(|| {
                        status_error(StatusCode::BAD_REQUEST, "BadRequest", "no name".into())
                    })?;
                    let mut obj = body;
                    if let Some(o) = obj.as_object_mut() {
                        o.remove("status");
                    }
                    Ok((StatusCode::CREATED, self.create(World::key(t, &name), obj)?))
                }
                _ => Err(status_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    format!("{method} on a collection"),
                )),
            };
        };
        let key = World::key(t, &name);
        let existing = self.objects.get(&key).cloned();
        let status_only = t.sub.as_deref() == Some("status");
        if t.sub.as_deref() == Some("scale") {
            let old = existing.ok_or_else(|| not_found(t))?;
            return self.scale(key, old, method, &body);
        }
        match *method {
            Method::GET => existing
                .map(|o| (StatusCode::OK, o))
                .ok_or_else(|| not_found(t)),
            Method::DELETE => self
                .delete(&key)
                .map(|o| (StatusCode::OK, o))
                .ok_or_else(|| not_found(t)),
            Method::PUT => {
                let old = existing.ok_or_else(|| not_found(t))?;
                let wanted = body["metadata"]["resourceVersion"].as_str();
                if wanted.is_some_and(|v| Some(v) != old["metadata"]["resourceVersion"].as_str()) {
                    return Err(status_error(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "the object has been modified".into(),
                    ));
                }
                let mut obj = old.clone();
                if status_only {
                    obj["status"] = body["status"].clone();
                } else {
                    let status = old.get("status").cloned();
                    obj = body;
                    for k in ["uid", "creationTimestamp", "deletionTimestamp"] {
                        if let Some(v) = old["metadata"].get(k) {
                            obj["metadata"][k] = v.clone();
                        }
                    }
                    match status {
                        Some(s) => obj["status"] = s,
                        None => {
                            obj.as_object_mut().map(|o| o.remove("status"));
                        }
                    }
                }
                Ok((StatusCode::OK, self.store(key, obj, Some(&old))))
            }
            Method::PATCH => {
                let apply = content_type.starts_with("application/apply-patch");
                if !apply && !content_type.contains("merge-patch") {
                    return Err(status_error(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedMediaType",
                        format!("the fake API does not take {content_type}"),
                    ));
                }
                let manager = query_param(query, "fieldManager").unwrap_or_default();
                let mut patch = body;
                if status_only {
                    patch = json!({"status": patch.get("status").cloned().unwrap_or(Value::Null)});
                } else if let Some(o) = patch.as_object_mut() {
                    o.remove("status");
                }
                let Some(old) = existing else {
                    if !apply || status_only {
                        return Err(not_found(t));
                    }
                    self.applied.insert((key.clone(), manager), patch.clone());
                    return Ok((StatusCode::CREATED, self.create(key, patch)?));
                };
                let mut obj = old.clone();
                if apply {
                    let slot = (
                        key.clone(),
                        format!("{manager}{}", if status_only { "/status" } else { "" }),
                    );
                    if let Some(before) = self.applied.get(&slot) {
                        drop_unapplied(&mut obj, before, &patch);
                    }
                    self.applied.insert(slot, patch.clone());
                }
                merge(&mut obj, &patch);
                string_data(&mut obj);
                Ok((StatusCode::OK, self.store(key, obj, Some(&old))))
            }
            _ => Err(status_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                method.to_string(),
            )),
        }
    }
}
