//! Live nodes, known from their heartbeats. A node that misses heartbeats for longer than the
//! lease is dropped, and the next plan gives its work to others. The registry is memory only:
//! after a coordinator restart every live node re-registers with its next heartbeat.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The node roles (one type for the heartbeats, the CLI and the NodePool resource).
pub use quarry_types::Role;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub role: Role,
    /// where other processes reach its internal gRPC service
    pub address: String,
    pub memory_bytes: u64,
    /// (collection, shard) units the node reports loaded
    pub serving: BTreeSet<(i64, u32)>,
    /// the node's pool ("" for none): collections loaded into a pool stay on its nodes
    pub pool: String,
    /// data nodes: live rows in each owned shard's growing segment
    pub growing: BTreeMap<(i64, u32), u64>,
    pub last_seen: Instant,
}

#[derive(Debug)]
pub struct Registry {
    lease: Duration,
    nodes: BTreeMap<String, Node>,
}

impl Registry {
    pub fn new(lease: Duration) -> Self {
        Self {
            lease,
            nodes: BTreeMap::new(),
        }
    }

    /// Records a heartbeat; returns true when the node is new (or came back).
    pub fn heartbeat(&mut self, node: Node) -> bool {
        self.nodes.insert(node.id.clone(), node).is_none()
    }

    /// A node leaving on purpose (graceful shutdown) is dropped at once.
    pub fn leave(&mut self, id: &str) -> bool {
        self.nodes.remove(id).is_some()
    }

    /// Drops nodes whose lease ran out; returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<Node> {
        let dead: Vec<String> = self
            .nodes
            .values()
            .filter(|n| now.saturating_duration_since(n.last_seen) > self.lease)
            .map(|n| n.id.clone())
            .collect();
        dead.iter().filter_map(|id| self.nodes.remove(id)).collect()
    }

    pub fn alive(&self, role: Role) -> BTreeSet<String> {
        self.nodes
            .values()
            .filter(|n| n.role == role)
            .map(|n| n.id.clone())
            .collect()
    }

    /// Live query nodes that can serve a collection pinned to `pool` (`None`: any node).
    pub fn query_nodes_for(&self, pool: Option<&str>) -> usize {
        self.nodes
            .values()
            .filter(|n| n.role == Role::Query && pool.is_none_or(|p| n.pool == p))
            .count()
    }

    pub fn get(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_live_while_they_heartbeat() {
        let t0 = Instant::now();
        let mut r = Registry::new(Duration::from_secs(5));
        let node = |id: &str, role, at| Node {
            id: id.into(),
            role,
            address: format!("{id}:7000"),
            memory_bytes: 0,
            serving: BTreeSet::new(),
            pool: String::new(),
            growing: BTreeMap::new(),
            last_seen: at,
        };
        assert!(r.heartbeat(node("q1", Role::Query, t0)));
        assert!(r.heartbeat(node("q2", Role::Query, t0)));
        assert!(r.heartbeat(node("d1", Role::Data, t0)));
        assert!(!r.heartbeat(node("q1", Role::Query, t0 + Duration::from_secs(4))));
        assert_eq!(r.alive(Role::Query).len(), 2);
        assert_eq!(r.query_nodes_for(None), 2);
        assert_eq!(r.query_nodes_for(Some("")), 2);
        assert_eq!(r.query_nodes_for(Some("gpu")), 0);
        let dead = r.expire(t0 + Duration::from_secs(6));
        assert_eq!(
            dead.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            vec!["d1", "q2"]
        );
        assert_eq!(
            r.alive(Role::Query).into_iter().collect::<Vec<_>>(),
            vec!["q1".to_string()]
        );
        assert!(r.leave("q1"));
        assert!(r.alive(Role::Query).is_empty());
        assert_eq!(Role::parse("querynode"), Some(Role::Query));
    }
}
