//! An in-memory Kubernetes API server behind a real `kube::Client`, for tests of the
//! controllers (no cluster runs here). It keeps objects as JSON and implements what the
//! controllers rely on: get/list (label selectors), create, replace (resourceVersion checked),
//! merge patches, server-side apply (fields a manager applied before and drops are removed),
//! the `status` subresource, `metadata.generation`, finalizers with `deletionTimestamp`, and
//! garbage collection of dependents through owner references, and watches (every change is
//! kept, so a watch from any resourceVersion replays what followed). Unit tests call the
//! reconcilers directly; `quarry-fake-kube` serves the same API over HTTP to a real
//! `quarry-operator` process in the end-to-end tests.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use kube::client::Body;
use parking_lot::Mutex;
use serde_json::{json, Value};

/// Where an object lives: `(api prefix, plural, namespace, name)`, e.g.
/// `("apis/apps/v1", "deployments", "ns", "x")`.
type Key = (String, String, String, String);

#[derive(Default)]
struct World {
    objects: BTreeMap<Key, Value>,
    /// what each field manager last applied to an object
    applied: BTreeMap<(Key, String), Value>,
    version: u64,
    uid: u64,
    /// every change in order: (resourceVersion, key, event type, object)
    changes: Vec<(u64, Key, &'static str, Value)>,
}

/// The fake API server; clone it freely, every clone sees the same objects.
#[derive(Clone, Default)]
pub struct FakeApi {
    world: Arc<Mutex<World>>,
    changed: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
struct Target {
    prefix: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (format!("api/{v}"), rest),
        ["apis", g, v, rest @ ..] => (format!("apis/{g}/{v}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (p, None, None),
        [p, n] => (p, Some(n.to_string()), None),
        [p, n, s] => (p, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    Some(Target {
        prefix,
        plural: plural.to_string(),
        namespace,
        name,
        sub,
    })
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find_map(|(k, v)| (k == key).then(|| v.into_owned()))
}

fn matches_selector(obj: &Value, selector: &str) -> bool {
    let labels = &obj["metadata"]["labels"];
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => labels[k.trim_end_matches('=')].as_str() == Some(v),
            None => !labels[term].is_null(),
        })
}

fn status_error(code: StatusCode, reason: &str, message: String) -> (StatusCode, Value) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, body)
}

/// Deep-merges `patch` into `target` (JSON merge patch: `null` removes, arrays replace).
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Removes from `target` the fields a manager applied before (`old`) and no longer applies
/// (`new`): what server-side apply does to fields only that manager owned.
fn drop_unapplied(target: &mut Value, old: &Value, new: &Value) {
    let (Some(t), Some(o)) = (target.as_object_mut(), old.as_object()) else {
        return;
    };
    for (k, ov) in o {
        match new.get(k) {
            None => {
                t.remove(k);
            }
            Some(nv) => {
                if let Some(tv) = t.get_mut(k) {
                    drop_unapplied(tv, ov, nv);
                }
            }
        }
    }
}

/// A Secret's `stringData` goes into `data` (base64), as the API server does.
fn string_data(obj: &mut Value) {
    if obj["kind"] != json!("Secret") {
        return;
    }
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    for (k, v) in strings {
        let bytes = k8s_openapi::ByteString(v.as_str().unwrap_or_default().as_bytes().to_vec());
        obj["data"][k] = serde_json::to_value(bytes).unwrap_or(Value::Null);
    }
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

    fn handle(
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

impl FakeApi {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client whose requests this fake serves; `namespace` is its default namespace.
    pub fn client(&self, namespace: &str) -> kube::Client {
        let fake = self.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let fake = fake.clone();
            async move { Ok::<_, Infallible>(fake.serve(req).await) }
        });
        kube::Client::new(service, namespace)
    }

    /// Serves the API over HTTP/1 on `listener` until the process ends.
    pub async fn serve_http(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let fake = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let fake = fake.clone();
                    async move { Ok::<_, Infallible>(fake.serve(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn serve<B>(&self, req: Request<B>) -> Response<BoxBody<Bytes, Infallible>>
    where
        B: http_body::Body,
    {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let query = parts.uri.query();
        let target = parse_path(parts.uri.path());
        let watch = matches!(query_param(query, "watch").as_deref(), Some("true" | "1"));
        let result = match target {
            Some(t) if watch && parts.method == Method::GET && t.name.is_none() => {
                return self.watch(t, query)
            }
            Some(t) => {
                let r = self
                    .world
                    .lock()
                    .handle(&parts.method, &t, query, &content_type, &body);
                self.changed.notify_waiters();
                r
            }
            None => Err(status_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no API at {}", parts.uri.path()),
            )),
        };
        let (code, value) = result.unwrap_or_else(|e| e);
        Response::builder()
            .status(code)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(&value).unwrap_or_default())).boxed())
            .expect("a valid response")
    }

    /// A watch: the changes after `resourceVersion` (all of them without one), then each new
    /// change as it happens, one JSON event a line, until `timeoutSeconds`.
    fn watch(&self, t: Target, query: Option<&str>) -> Response<BoxBody<Bytes, Infallible>> {
        let from: u64 = query_param(query, "resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let timeout = query_param(query, "timeoutSeconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(300u64);
        let selector = query_param(query, "labelSelector").unwrap_or_default();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
        let (world, changed) = (self.world.clone(), self.changed.clone());
        let events = futures::stream::unfold(from, move |seen| {
            let (world, changed, t, selector) =
                (world.clone(), changed.clone(), t.clone(), selector.clone());
            async move {
                let mut seen = seen;
                loop {
                    let notified = changed.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    let (lines, last) = {
                        let w = world.lock();
                        let mut lines = Vec::new();
                        let mut last = seen;
                        for (version, (p, pl, ns, _), kind, obj) in
                            w.changes.iter().filter(|c| c.0 > seen)
                        {
                            last = *version;
                            if *p == t.prefix
                                && *pl == t.plural
                                && t.namespace.as_ref().is_none_or(|n| n == ns)
                                && matches_selector(obj, &selector)
                            {
                                lines.extend(
                                    serde_json::to_vec(&json!({"type": kind, "object": obj}))
                                        .unwrap_or_default(),
                                );
                                lines.push(b'\n');
                            }
                        }
                        (lines, last)
                    };
                    if !lines.is_empty() {
                        return Some((Ok::<_, Infallible>(Frame::data(Bytes::from(lines))), last));
                    }
                    seen = last;
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return None;
                    }
                }
            }
        });
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(BodyExt::boxed(StreamBody::new(events)))
            .expect("a valid response")
    }

    /// An object as stored, by API prefix (`apis/apps/v1`), plural, namespace and name.
    pub fn get(&self, prefix: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.world
            .lock()
            .objects
            .get(&(prefix.into(), plural.into(), namespace.into(), name.into()))
            .cloned()
    }

    /// Every stored object of a kind, in name order.
    pub fn list(&self, prefix: &str, plural: &str) -> Vec<Value> {
        self.world
            .lock()
            .objects
            .iter()
            .filter(|((p, pl, _, _), _)| p == prefix && pl == plural)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Reasons of the Events recorded about an object (by its name).
    pub fn event_reasons(&self, about: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .list("apis/events.k8s.io/v1", "events")
            .into_iter()
            .chain(self.list("api/v1", "events"))
        {
            let regarding = if e["regarding"].is_null() {
                &e["involvedObject"]
            } else {
                &e["regarding"]
            };
            if regarding["name"] == json!(about) {
                out.push(e["reason"].as_str().unwrap_or_default().to_string());
            }
        }
        out
    }
}
