//! Watches: every change is kept, so a watch from any resourceVersion replays what followed.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::json;

use crate::request::{matches_selector, query_param, Target};
use crate::FakeApi;

impl FakeApi {
    /// A watch: the changes after `resourceVersion` (all of them without one), then each new
    /// change as it happens, one JSON event a line, until `timeoutSeconds`.
    pub(crate) fn watch(
        &self,
        t: Target,
        query: Option<&str>,
    ) -> Response<BoxBody<Bytes, Infallible>> {
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
}
