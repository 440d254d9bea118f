//! The layer around the Milvus gRPC service (applied by `milvus_grpc_server`, so to every
//! RPC of standalone and of proxies). Each request runs inside a span `rpc` with its method
//! and a request id (the client's `client-request-id` or `client_request_id` header when it
//! sends one, a generated id otherwise), so that what the handler, the engine and storage log
//! for it carries the id. Each answer is counted in the RPC metrics: requests by method and
//! in-band outcome (the `status` inside the response, which handlers report as [`Outcome`]),
//! latency by method. When authentication is on ([`super::auth`]), every request must carry
//! valid credentials: a refused one never reaches the service (gRPC UNAUTHENTICATED, as
//! Milvus' interceptor answers), an accepted one carries its [`super::auth::Caller`] in the
//! request's extensions.
//!
//! The database check is not here: a refusal must be the RPC's own response message carrying
//! the status, which only the typed handler side can build (`handle::serve`).

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::codegen::http;
use tower::layer::util::{Identity, Stack};
use tower::{Layer, Service};
use tracing::Instrument;

use super::auth::{Auth, AUTHORIZATION};
use crate::metrics::RpcMetrics;

const SERVICE_PATH: &str = "/milvus.proto.milvus.MilvusService/";

/// The RPCs of `MilvusService` (dataplane/proto/proto/milvus.proto; a test keeps the list in
/// step). Metrics label a request with one of these or `unknown`, so that no client can mint
/// new series.
pub const RPCS: [&str; 68] = [
    "Connect",
    "GetVersion",
    "CheckHealth",
    "AllocTimestamp",
    "CreateCollection",
    "DropCollection",
    "HasCollection",
    "DescribeCollection",
    "ShowCollections",
    "GetCollectionStatistics",
    "LoadCollection",
    "ReleaseCollection",
    "GetLoadState",
    "GetLoadingProgress",
    "CreatePartition",
    "DropPartition",
    "LoadPartitions",
    "ReleasePartitions",
    "ShowPartitions",
    "HasPartition",
    "GetPartitionStatistics",
    "Insert",
    "Upsert",
    "Delete",
    "Flush",
    "GetFlushState",
    "CreateIndex",
    "DescribeIndex",
    "DropIndex",
    "AlterIndex",
    "GetIndexState",
    "GetIndexBuildProgress",
    "Search",
    "Query",
    "HybridSearch",
    "ListDatabases",
    "DescribeDatabase",
    "CreateDatabase",
    "DropDatabase",
    "AlterDatabase",
    "CreateAlias",
    "DropAlias",
    "AlterAlias",
    "DescribeAlias",
    "ListAliases",
    "CreateCredential",
    "UpdateCredential",
    "DeleteCredential",
    "ListCredUsers",
    "RenameCollection",
    "AlterCollection",
    "AlterCollectionField",
    "GetReplicas",
    "CreateRole",
    "DropRole",
    "OperateUserRole",
    "SelectRole",
    "SelectUser",
    "OperatePrivilege",
    "OperatePrivilegeV2",
    "SelectGrant",
    "CreatePrivilegeGroup",
    "DropPrivilegeGroup",
    "ListPrivilegeGroups",
    "OperatePrivilegeGroup",
    "ManualCompaction",
    "GetCompactionState",
    "RunAnalyzer",
];

/// Request ids are cut to this many bytes (they go into every log line of the request).
const MAX_REQUEST_ID: usize = 128;

/// What a handler answered in-band: set on every handler's response (`handle::serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub success: bool,
}

/// The server stack with this layer (what `milvus_grpc_server` builds).
pub type Layered = Stack<RpcLayer, Identity>;

#[derive(Clone)]
pub struct RpcLayer {
    metrics: RpcMetrics,
    auth: Option<Arc<Auth>>,
}

impl RpcLayer {
    #[cfg(test)]
    pub fn new(metrics: RpcMetrics) -> Self {
        Self {
            metrics,
            auth: None,
        }
    }

    /// The layer recording into the process' RPC metrics, authenticating every request when
    /// `auth` is given.
    pub fn process(auth: Option<Arc<Auth>>) -> Self {
        Self {
            metrics: RpcMetrics::process().clone(),
            auth,
        }
    }

    /// Requires valid credentials on every request.
    #[cfg(test)]
    pub fn with_auth(mut self, auth: Arc<Auth>) -> Self {
        self.auth = Some(auth);
        self
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> RpcService<S> {
        RpcService {
            inner,
            metrics: self.metrics.clone(),
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    metrics: RpcMetrics,
    auth: Option<Arc<Auth>>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for RpcService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = method(req.uri().path());
        let id = request_id(req.headers());
        let span = tracing::info_span!("rpc", method, request_id = %id);
        let metrics = self.metrics.clone();
        let start = Instant::now();
        let call: BoxFuture<S::Response, S::Error> = match self.auth.clone() {
            None => Box::pin(span.in_scope(|| self.inner.call(req))),
            Some(auth) => {
                // the ready service goes into the future, a fresh clone stays (tower's pattern)
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(authenticated(auth, inner, req, method))
            }
        };
        Box::pin(
            async move {
                // the id also travels with the task, to the workers a proxy asks
                let result = quarry_engine::request::scope(id, call).await;
                let success = result.as_ref().is_ok_and(succeeded);
                let elapsed = start.elapsed();
                metrics.observe(method, success, elapsed);
                tracing::debug!(
                    success,
                    elapsed_ms = elapsed.as_millis() as u64,
                    "rpc answered"
                );
                result
            }
            .instrument(span),
        )
    }
}

/// Calls `inner` with the caller in the request's extensions, or answers UNAUTHENTICATED.
async fn authenticated<S, B, RB>(
    auth: Arc<Auth>,
    mut inner: S,
    mut req: http::Request<B>,
    method: &'static str,
) -> Result<http::Response<RB>, S::Error>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    RB: Default,
{
    let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    match auth.authenticate(header).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            inner.call(req).await
        }
        Err(denied) => {
            tracing::info!(
                reason = denied.message(),
                "request refused: not authenticated"
            );
            if super::audit::on() {
                let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
                let user = super::auth::claimed_user(header).unwrap_or_default();
                super::audit::record(&super::audit::Event {
                    kind: "auth",
                    rpc: method,
                    user: &user,
                    db: "",
                    object: "",
                    ok: false,
                    code: tonic::Code::Unauthenticated as i32,
                    reason: denied.message(),
                });
            }
            Ok(denied.status().into_http())
        }
    }
}

/// The metrics label of a request path: the RPC's name, or `unknown`.
fn method(path: &str) -> &'static str {
    path.strip_prefix(SERVICE_PATH)
        .and_then(|m| RPCS.iter().find(|r| **r == m))
        .copied()
        .unwrap_or("unknown")
}

/// The in-band outcome a handler reported; an answer without one did not come from a handler
/// (unknown method, undecodable request) and fails unless it carries gRPC OK.
fn succeeded<RB>(resp: &http::Response<RB>) -> bool {
    match resp.extensions().get::<Outcome>() {
        Some(o) => o.success,
        None => resp
            .headers()
            .get("grpc-status")
            .is_none_or(|s| s.as_bytes() == b"0"),
    }
}

/// The client's request id (pymilvus 2.6: `client-request-id`, 2.4: `client_request_id`)
/// when it sends a non-empty one, otherwise a generated one.
fn request_id(headers: &http::HeaderMap) -> String {
    ["client-request-id", "client_request_id"]
        .into_iter()
        .filter_map(|h| headers.get(h)?.to_str().ok())
        .map(str::trim)
        .find(|v| !v.is_empty())
        // visible ASCII (`to_str`), so any byte is a char boundary
        .map(|v| v[..v.len().min(MAX_REQUEST_ID)].to_string())
        .unwrap_or_else(generated_id)
}

/// `<process>-<n>`: a random tag of this process and a counter.
fn generated_id() -> String {
    static PROCESS: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let process = *PROCESS.get_or_init(|| RandomState::new().build_hasher().finish() as u32);
    format!("{process:08x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    use super::*;

    /// Answers like the generated Milvus server: a handler's answer carries an [`Outcome`]
    /// (query `?fail`: refused in-band), an unknown method is gRPC UNIMPLEMENTED. Logs
    /// one event per request, as the engine would.
    #[derive(Clone)]
    struct Fake;

    impl Service<http::Request<()>> for Fake {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = BoxFuture<http::Response<()>, std::convert::Infallible>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<()>) -> Self::Future {
            let path = req.uri().path().to_string();
            let refused = req.uri().query() == Some("fail");
            let caller = req
                .extensions()
                .get::<super::super::auth::Caller>()
                .cloned();
            Box::pin(async move {
                tokio::task::yield_now().await;
                tracing::info!(path, "engine at work");
                let mut resp = http::Response::new(());
                // what the engine below sees as the task's request id
                if let Some(c) = caller {
                    resp.headers_mut()
                        .insert("x-seen-caller", c.user.parse().unwrap());
                }
                if let Some(id) = quarry_engine::request::current() {
                    resp.headers_mut()
                        .insert("x-seen-request-id", id.parse().unwrap());
                }
                if method(&path) == "unknown" {
                    resp.headers_mut()
                        .insert("grpc-status", http::HeaderValue::from_static("12"));
                } else {
                    resp.extensions_mut().insert(Outcome { success: !refused });
                }
                Ok(resp)
            })
        }
    }

    fn request(rpc: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut req = http::Request::builder().uri(format!("{SERVICE_PATH}{rpc}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap()
    }

    async fn call(svc: &mut RpcService<Fake>, req: http::Request<()>) {
        std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
        svc.call(req).await.unwrap();
    }

    #[tokio::test]
    async fn with_authentication_only_valid_credentials_reach_the_service() {
        use base64::Engine as _;
        let store = Arc::new(quarry_storage::MemoryObjectStore::new());
        let meta = Arc::new(quarry_meta::LocalMeta::new(
            quarry_meta::Catalog::open(store).await.unwrap(),
        ));
        let auth = Arc::new(Auth::new(meta));
        auth.seed_root("rootpass").await.unwrap();
        let rpc = RpcMetrics::new();
        let mut svc = RpcLayer::new(rpc.clone()).with_auth(auth).layer(Fake);
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let good = b64("root:rootpass");
        let bad = b64("root:wrong");
        // no exception: Connect and GetVersion need credentials too, as in Milvus
        for rpc_name in ["Connect", "GetVersion", "CheckHealth", "Search"] {
            for (headers, refusal) in [
                (vec![], Some("missing authorization in header")),
                (
                    vec![("authorization", bad.as_str())],
                    Some("auth check failure, please check username and password are correct"),
                ),
                (vec![("authorization", good.as_str())], None),
            ] {
                std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
                let resp = svc.call(request(rpc_name, &headers)).await.unwrap();
                match refusal {
                    Some(text) => {
                        assert_eq!(resp.headers()["grpc-status"], "16", "{rpc_name}");
                        assert_eq!(resp.headers()["grpc-message"], text.replace(' ', "%20"));
                        assert!(resp.headers().get("x-seen-caller").is_none(), "not served");
                    }
                    None => assert_eq!(resp.headers()["x-seen-caller"], "root", "{rpc_name}"),
                }
            }
        }
        assert_eq!(rpc.count("Search", "fail"), 2);
        assert_eq!(rpc.count("Search", "success"), 1);
    }

    #[tokio::test]
    async fn the_request_id_travels_with_the_task() {
        let mut svc = RpcLayer::new(RpcMetrics::new()).layer(Fake);
        std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
        let resp = svc
            .call(request("Search", &[("client-request-id", "abc-7")]))
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-seen-request-id"], "abc-7");
    }

    #[tokio::test]
    async fn every_rpc_is_counted_by_method_and_in_band_outcome() {
        let rpc = RpcMetrics::new();
        let mut svc = RpcLayer::new(rpc.clone()).layer(Fake);
        call(&mut svc, request("Search", &[])).await;
        call(&mut svc, request("Search", &[])).await;
        call(&mut svc, request("GetVersion", &[])).await;
        // a handler's in-band refusal (e.g. a database that does not exist)
        let mut refused = request("Insert", &[("dbname", "other")]);
        *refused.uri_mut() = format!("{SERVICE_PATH}Insert?fail").parse().unwrap();
        call(&mut svc, refused).await;
        // no handler: counted under one label whatever the path
        call(&mut svc, request("NoSuchRpc", &[])).await;
        let mut elsewhere = request("Search", &[]);
        *elsewhere.uri_mut() = "/other.Service/Search".parse().unwrap();
        call(&mut svc, elsewhere).await;

        assert_eq!(rpc.count("Search", "success"), 2);
        assert_eq!(rpc.count("GetVersion", "success"), 1);
        assert_eq!(rpc.count("Insert", "fail"), 1);
        assert_eq!(rpc.count("Insert", "success"), 0);
        assert_eq!(rpc.count("unknown", "fail"), 2);
        let metrics = crate::metrics::Metrics::with_rpc(&rpc);
        assert!(metrics
            .render()
            .contains(r#"quarry_proxy_request_seconds_count{method="Search"} 2"#));
    }

    #[derive(Clone, Default)]
    struct Fields(HashMap<String, String>);

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().into(), value.into());
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().into(), format!("{value:?}"));
        }
    }

    /// Records, for every event, the fields of the `rpc` span it happens in.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Option<Fields>>>>);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(fields);
            }
        }

        fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
            let rpc = ctx.event_scope(event).and_then(|scope| {
                scope
                    .filter(|s| s.name() == "rpc")
                    .find_map(|s| s.extensions().get::<Fields>().cloned())
            });
            self.0.lock().push(rpc);
        }
    }

    #[tokio::test]
    async fn requests_run_in_a_span_with_method_and_request_id() {
        let capture = Capture::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        // other tests run on other threads without a subscriber: an event site they hit first
        // can have its interest cached as "never"; re-evaluate it with this thread's subscriber
        tracing::callsite::rebuild_interest_cache();
        let mut svc = RpcLayer::new(RpcMetrics::new()).layer(Fake);
        call(
            &mut svc,
            request("Search", &[("client-request-id", "abc-1")]),
        )
        .await;
        call(
            &mut svc,
            request("Query", &[("client_request_id", "old-2")]),
        )
        .await;
        // empty (pymilvus 2.6 often sends one): generated
        call(&mut svc, request("Insert", &[("client-request-id", "")])).await;
        call(&mut svc, request("Delete", &[])).await;

        let seen: Vec<Fields> = capture
            .0
            .lock()
            .iter()
            .filter_map(|f| f.clone())
            .filter(|f| f.0.contains_key("request_id"))
            .collect();
        let by_method: HashMap<&str, &str> = seen
            .iter()
            .map(|f| (f.0["method"].as_str(), f.0["request_id"].as_str()))
            .collect();
        assert_eq!(
            by_method.len(),
            4,
            "the engine's events run inside the span"
        );
        assert_eq!(by_method["Search"], "abc-1");
        assert_eq!(by_method["Query"], "old-2");
        let (a, b) = (by_method["Insert"], by_method["Delete"]);
        assert!(!a.is_empty() && !b.is_empty() && a != b, "{a} {b}");
    }

    #[test]
    fn request_ids_are_bounded_and_generated_ids_differ() {
        let mut headers = http::HeaderMap::new();
        headers.insert("client-request-id", "x".repeat(1000).parse().unwrap());
        assert_eq!(request_id(&headers).len(), MAX_REQUEST_ID);
        let empty = http::HeaderMap::new();
        assert_ne!(request_id(&empty), request_id(&empty));
    }

    #[test]
    fn the_rpc_list_is_the_service_of_the_proto() {
        let proto = include_str!("../../../proto/proto/milvus.proto");
        let declared: Vec<&str> = proto
            .lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .filter_map(|l| l.split('(').next())
            .map(str::trim)
            .collect();
        assert_eq!(
            declared, RPCS,
            "service::layer::RPCS is out of step with milvus.proto"
        );
    }
}
