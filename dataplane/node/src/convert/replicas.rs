//! GetReplicas: the replicas serving a loaded collection, as Milvus reports replica groups.

use quarry_engine::ServingNode;
use quarry_meta::{keys, CollectionMeta};
use quarry_proto::service::{GetReplicasResponse, ReplicaInfo, ShardReplica};

use super::success;

/// The id of replica `replica` of collection `collection` (Milvus' replica ids are unique
/// across collections): the collection id in the high bits, the replica number in the low 16.
pub fn replica_id(collection: i64, replica: u32) -> i64 {
    (collection << 16) | i64::from(replica & 0xffff)
}

/// A stable numeric id for a node name (Milvus' node ids are numbers; Quarry's are names, which
/// the address next to each id identifies).
pub fn node_id(name: &str) -> i64 {
    // FNV-1a, kept positive
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 1) as i64
}

/// The shard channel name reported for a shard: the collection's log topic and the shard.
fn channel(meta: &CollectionMeta, shard: u32) -> String {
    format!("{}_{shard}", keys::topic(meta.id))
}

/// `replicas`: replica number -> the nodes serving its shards.
pub fn get_replicas(
    meta: &CollectionMeta,
    replicas: &std::collections::BTreeMap<u32, Vec<ServingNode>>,
    with_shard_nodes: bool,
) -> GetReplicasResponse {
    let replicas = replicas
        .iter()
        .map(|(replica, shards)| {
            let mut node_ids: Vec<i64> = shards.iter().map(|s| node_id(&s.node)).collect();
            node_ids.sort_unstable();
            node_ids.dedup();
            ReplicaInfo {
                replica_id: replica_id(meta.id, *replica),
                collection_id: meta.id,
                partition_ids: vec![],
                shard_replicas: shards
                    .iter()
                    .map(|s| ShardReplica {
                        leader_id: node_id(&s.node),
                        leader_addr: s.address.clone(),
                        dm_channel_name: channel(meta, s.shard),
                        node_ids: if with_shard_nodes {
                            vec![node_id(&s.node)]
                        } else {
                            vec![]
                        },
                    })
                    .collect(),
                node_ids,
                resource_group_name: "__default_resource_group".into(),
                num_outbound_node: Default::default(),
            }
        })
        .collect();
    GetReplicasResponse {
        status: success(),
        replicas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(node_id("query-0"), node_id("query-0"));
        assert_ne!(node_id("query-0"), node_id("query-1"));
        assert!(node_id("x") >= 0);
        assert_ne!(replica_id(5, 0), replica_id(5, 1));
        assert_ne!(replica_id(5, 0), replica_id(6, 0));
    }
}
