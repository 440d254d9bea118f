//! An in-memory Kubernetes API server behind a real `kube::Client`, for tests of the
//! controllers (no cluster runs here). It keeps objects as JSON and implements what the
//! controllers rely on: get/list (label selectors), create, replace (resourceVersion checked),
//! merge patches, server-side apply (fields a manager applied before and drops are removed),
//! the `status` subresource, `metadata.generation`, finalizers with `deletionTimestamp`, and
//! garbage collection of dependents through owner references, and watches (every change is
//! kept, so a watch from any resourceVersion replays what followed). Unit tests call the
//! reconcilers directly; `quarry-fake-kube` serves the same API over HTTP to a real
//! `quarry-operator` process in the end-to-end tests.

mod patch;
mod request;
mod watch;
mod world;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use kube::client::Body;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::request::{parse_path, query_param, status_error};
use crate::world::World;

/// The fake API server; clone it freely, every clone sees the same objects.
#[derive(Clone, Default)]
pub struct FakeApi {
    world: Arc<Mutex<World>>,
    changed: Arc<tokio::sync::Notify>,
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
