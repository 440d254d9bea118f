//! Pure planning: which node serves which shard. The same function places query replicas
//! (query nodes) and shard ownership (data nodes, one replica). Plans are stable: an
//! assignment stays where it is while its node lives, unless moving it evens out the load.

use std::collections::{BTreeMap, BTreeSet};

use quarry_types::limits::{MAX_REPLICAS, MAX_SHARDS};

/// One unit of work: a shard of a collection, in one replica.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ShardReplica {
    pub collection: i64,
    pub shard: u32,
    pub replica: u32,
}

/// What has to be served: for each collection, its replica count and per-shard weights
/// (live rows, so that big shards spread first).
#[derive(Debug, Clone, Default)]
pub struct Demand {
    pub collections: BTreeMap<i64, (u32, Vec<u64>)>,
}

impl Demand {
    /// Replicas are taken as 1 up to [`MAX_REPLICAS`] and shards up to [`MAX_SHARDS`]: loads
    /// and creations are refused beyond those, and a larger number stored by an older catalog
    /// must not make the plan (replicas × shards units) unbounded.
    pub fn add(&mut self, collection: i64, replicas: u32, mut shard_rows: Vec<u64>) {
        let replicas = replicas.clamp(1, MAX_REPLICAS as u32);
        shard_rows.truncate(MAX_SHARDS as usize);
        self.collections.insert(collection, (replicas, shard_rows));
    }

    fn units(&self) -> Vec<(ShardReplica, u64)> {
        let mut out = Vec::new();
        for (&collection, (replicas, rows)) in &self.collections {
            for replica in 0..*replicas {
                for (shard, r) in rows.iter().enumerate() {
                    // every unit weighs at least 1 so that empty shards spread by count
                    out.push((
                        ShardReplica {
                            collection,
                            shard: shard as u32,
                            replica,
                        },
                        r.saturating_add(1),
                    ));
                }
            }
        }
        out
    }
}

pub type Plan = BTreeMap<ShardReplica, String>;

/// Places collections pinned to a pool (`pinned`: collection → pool) on that pool's nodes only
/// and the others on any node (`nodes`: node → its pool); each group is planned as [`plan`]
/// does, from `previous`. A pool without nodes leaves its collections unplaced.
pub fn plan_pools(
    demand: &Demand,
    pinned: &BTreeMap<i64, String>,
    nodes: &BTreeMap<String, String>,
    previous: &Plan,
) -> Plan {
    let mut groups: BTreeMap<Option<&String>, Demand> = BTreeMap::new();
    for (id, d) in &demand.collections {
        groups
            .entry(pinned.get(id))
            .or_default()
            .collections
            .insert(*id, d.clone());
    }
    let mut out = Plan::new();
    for (pool, d) in groups {
        let members: BTreeSet<String> = nodes
            .iter()
            .filter(|(_, p)| pool.is_none_or(|want| *p == want))
            .map(|(n, _)| n.clone())
            .collect();
        let before: Plan = previous
            .iter()
            .filter(|(u, _)| d.collections.contains_key(&u.collection))
            .map(|(u, n)| (*u, n.clone()))
            .collect();
        out.extend(plan(&d, &members, &before));
    }
    out
}

/// A plan of what live nodes already serve (the units they report loaded), for a coordinator
/// that starts without a plan: taken as the previous plan, it keeps every shard where it is
/// instead of placing everything anew. Only units the demand still asks for count; a shard
/// served by more nodes than it has replicas keeps the first ones (by node id).
pub fn seed(demand: &Demand, serving: &BTreeMap<String, BTreeSet<(i64, u32)>>) -> Plan {
    let mut out = Plan::new();
    for (node, units) in serving {
        for &(collection, shard) in units {
            let Some((replicas, rows)) = demand.collections.get(&collection) else {
                continue;
            };
            if shard as usize >= rows.len() {
                continue;
            }
            let free = (0..*replicas).find(|&replica| {
                !out.contains_key(&ShardReplica {
                    collection,
                    shard,
                    replica,
                })
            });
            if let Some(replica) = free {
                out.insert(
                    ShardReplica {
                        collection,
                        shard,
                        replica,
                    },
                    node.clone(),
                );
            }
        }
    }
    out
}

/// Places every unit of `demand` on one of `nodes`, starting from `previous`. Two replicas of a
/// shard never share a node while there are enough nodes. Returns an empty plan without nodes.
pub fn plan(demand: &Demand, nodes: &BTreeSet<String>, previous: &Plan) -> Plan {
    if nodes.is_empty() {
        return Plan::new();
    }
    let units = demand.units();
    let weight: BTreeMap<ShardReplica, u64> = units.iter().copied().collect();
    let mut load: BTreeMap<&str, u64> = nodes.iter().map(|n| (n.as_str(), 0)).collect();
    let mut out = Plan::new();
    let conflicts = |out: &Plan, unit: &ShardReplica, node: &str| {
        out.iter().any(|(u, n)| {
            n == node
                && u.collection == unit.collection
                && u.shard == unit.shard
                && u.replica != unit.replica
        })
    };

    // keep what still fits
    for (unit, w) in &units {
        if let Some(node) = previous.get(unit).filter(|n| nodes.contains(*n)) {
            if !conflicts(&out, unit, node) {
                out.insert(*unit, node.clone());
                if let Some(l) = load.get_mut(node.as_str()) {
                    *l = l.saturating_add(*w);
                }
            }
        }
    }
    // place the rest, heaviest first, on the least loaded node without a sibling replica
    let mut rest: Vec<_> = units
        .iter()
        .filter(|(u, _)| !out.contains_key(u))
        .copied()
        .collect();
    rest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (unit, w) in rest {
        let Some(node) = least_loaded(&load, |n| !conflicts(&out, &unit, n))
            .or_else(|| least_loaded(&load, |_| true))
        else {
            break; // no nodes (returned early above)
        };
        out.insert(unit, node.to_string());
        if let Some(l) = load.get_mut(node) {
            *l = l.saturating_add(w);
        }
    }
    // even out: move a unit from the busiest to the idlest node while that narrows the gap
    let weight_of = |u: &ShardReplica| weight.get(u).copied().unwrap_or(1);
    for _ in 0..units.len() {
        let Some((&busy, &max)) = load
            .iter()
            .max_by_key(|(n, l)| (**l, std::cmp::Reverse(**n)))
        else {
            break;
        };
        let Some((&idle, &min)) = load.iter().min_by_key(|(n, l)| (**l, **n)) else {
            break;
        };
        let candidate = out
            .iter()
            .filter(|(u, n)| {
                n.as_str() == busy && weight_of(u) < max - min && !conflicts(&out, u, idle)
            })
            .max_by_key(|(u, _)| weight_of(u))
            .map(|(u, _)| *u);
        let Some(unit) = candidate else { break };
        let w = weight_of(&unit);
        out.insert(unit, idle.to_string());
        if let Some(l) = load.get_mut(busy) {
            *l = l.saturating_sub(w);
        }
        if let Some(l) = load.get_mut(idle) {
            *l = l.saturating_add(w);
        }
    }
    out
}

fn least_loaded<'a>(load: &BTreeMap<&'a str, u64>, ok: impl Fn(&str) -> bool) -> Option<&'a str> {
    load.iter()
        .filter(|(n, _)| ok(n))
        .min_by_key(|(n, l)| (**l, **n))
        .map(|(n, _)| *n)
}

/// Per node, the units it serves.
pub fn by_node(plan: &Plan) -> BTreeMap<String, Vec<ShardReplica>> {
    let mut out: BTreeMap<String, Vec<ShardReplica>> = BTreeMap::new();
    for (unit, node) in plan {
        out.entry(node.clone()).or_default().push(*unit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn loads(plan: &Plan, demand: &Demand) -> BTreeMap<String, u64> {
        let w: BTreeMap<_, _> = demand.units().into_iter().collect();
        let mut out = BTreeMap::new();
        for (u, n) in plan {
            *out.entry(n.clone()).or_default() += w[u];
        }
        out
    }

    #[test]
    fn spreads_shards_and_keeps_replicas_apart() {
        let mut d = Demand::default();
        d.add(1, 2, vec![100, 100]);
        let p = plan(&d, &nodes(&["a", "b", "c"]), &Plan::new());
        assert_eq!(p.len(), 4);
        for shard in 0..2 {
            let r0 = &p[&ShardReplica {
                collection: 1,
                shard,
                replica: 0,
            }];
            let r1 = &p[&ShardReplica {
                collection: 1,
                shard,
                replica: 1,
            }];
            assert_ne!(r0, r1, "replicas of shard {shard} share node {r0}");
        }
        let l = loads(&p, &d);
        assert!(
            l.values().max().unwrap() - l.values().min().unwrap() <= 101,
            "{l:?}"
        );
    }

    #[test]
    fn stable_when_nothing_changes_and_minimal_on_node_loss() {
        let mut d = Demand::default();
        d.add(1, 1, vec![10, 10, 10, 10]);
        d.add(2, 1, vec![5, 5]);
        let all = nodes(&["a", "b", "c"]);
        let p1 = plan(&d, &all, &Plan::new());
        assert_eq!(plan(&d, &all, &p1), p1, "a plan is a fixed point");
        let p2 = plan(&d, &nodes(&["a", "b"]), &p1);
        assert!(p2.values().all(|n| n != "c"));
        let kept = p1
            .iter()
            .filter(|(u, n)| n.as_str() != "c" && p2[*u] == **n)
            .count();
        let on_c = p1.values().filter(|n| n.as_str() == "c").count();
        assert!(
            kept + on_c >= p1.len() - 1,
            "survivors keep their work: kept {kept}, moved from c {on_c}"
        );
    }

    #[test]
    fn a_new_node_takes_a_share() {
        let mut d = Demand::default();
        d.add(1, 1, vec![1000, 1000]);
        let p1 = plan(&d, &nodes(&["a"]), &Plan::new());
        assert!(p1.values().all(|n| n == "a"));
        let p2 = plan(&d, &nodes(&["a", "b"]), &p1);
        let l = loads(&p2, &d);
        assert_eq!(l.get("a"), l.get("b"), "{p2:?}");
    }

    #[test]
    fn no_nodes_no_plan_and_too_few_nodes_still_serve_every_replica() {
        let mut d = Demand::default();
        d.add(1, 3, vec![1]);
        assert!(plan(&d, &BTreeSet::new(), &Plan::new()).is_empty());
        let p = plan(&d, &nodes(&["a", "b"]), &Plan::new());
        assert_eq!(
            p.len(),
            3,
            "all replicas placed even if two must share a node"
        );
    }

    #[test]
    fn an_oversized_stored_replica_count_stays_bounded() {
        let mut d = Demand::default();
        // as an old catalog may hold it: the plan must neither run out of memory nor panic
        d.add(1, u32::MAX, vec![u64::MAX; 1000]);
        d.add(2, 0, vec![1]);
        let p = plan(&d, &nodes(&["a", "b"]), &Plan::new());
        assert_eq!(p.len(), MAX_REPLICAS * MAX_SHARDS as usize + 1);
        assert!(seed(&d, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_seeded_plan_keeps_what_nodes_serve() {
        let mut d = Demand::default();
        d.add(1, 2, vec![10, 10]);
        d.add(2, 1, vec![5]);
        let serving = BTreeMap::from([
            (
                "a".to_string(),
                BTreeSet::from([(1, 0), (1, 1), (2, 0), (9, 0)]),
            ),
            ("b".to_string(), BTreeSet::from([(1, 0), (1, 1)])),
            ("c".to_string(), BTreeSet::from([(1, 0)])),
        ]);
        let seeded = seed(&d, &serving);
        assert_eq!(
            seeded.len(),
            5,
            "dropped collection 9 and the third copy of shard (1, 0)"
        );
        assert!(!seeded.values().any(|n| n == "c"));
        let nodes: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
        let next = plan(&d, &nodes, &seeded);
        let kept = seeded
            .iter()
            .filter(|(u, n)| next.get(u) == Some(n))
            .count();
        assert!(kept >= 3, "planning from the seed moves little: {next:?}");
    }

    #[test]
    fn pinned_collections_stay_in_their_pool() {
        let mut d = Demand::default();
        d.add(1, 1, vec![10, 10, 10, 10]);
        d.add(2, 2, vec![5, 5]);
        let nodes = BTreeMap::from([
            ("a1".to_string(), "search".to_string()),
            ("a2".to_string(), "search".to_string()),
            ("b1".to_string(), "batch".to_string()),
        ]);
        let pinned = BTreeMap::from([(1, "batch".to_string())]);
        let p = plan_pools(&d, &pinned, &nodes, &Plan::new());
        assert_eq!(p.len(), 8);
        assert!(p
            .iter()
            .filter(|(u, _)| u.collection == 1)
            .all(|(_, n)| n == "b1"));
        // unpinned collections may use every node
        let unpinned: BTreeSet<&String> = p
            .iter()
            .filter(|(u, _)| u.collection == 2)
            .map(|(_, n)| n)
            .collect();
        assert!(unpinned.len() >= 2);
        // a pool without nodes leaves its collections unplaced
        let gone = BTreeMap::from([(1, "gpu".to_string())]);
        assert!(plan_pools(&d, &gone, &nodes, &p)
            .keys()
            .all(|u| u.collection != 1));
    }
}
