//! The id of the client request a task works for, carried from the Milvus handler (the node's
//! RPC layer sets it) across the internal Worker RPC (`HEADER`), so that a query node's logs
//! for a proxied read carry the id the proxy logged.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The internal gRPC metadata key that carries the request id to workers.
pub const HEADER: &str = "x-quarry-request-id";

/// Runs `work` as part of request `id`.
pub async fn scope<F: std::future::Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request the current task works for, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert_eq!(current(), None);
        let seen = scope("req-1".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("req-1"));
        assert_eq!(current(), None);
    }
}
