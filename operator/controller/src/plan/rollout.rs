//! Image upgrades, role by role.

use quarry_crd::Role;

/// Upgrade order: a role's pools take a new image only after every pool of the roles before it
/// runs it and is ready (index, data and query nodes first, proxies last, as Milvus upgrades).
pub const ROLLOUT_ORDER: [Role; 4] = [Role::Index, Role::Data, Role::Query, Role::Proxy];

/// Where one pool of a cluster stands in a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRollout {
    pub role: Role,
    /// the image its Deployment runs now (`None`: no Deployment yet)
    pub image: Option<String>,
    /// every pod updated and ready
    pub settled: bool,
}

/// The image a pool's Deployment should run: the cluster's, unless a pool of an earlier role
/// has not finished taking it; then the pool keeps what it runs (new pools start on the
/// cluster's image at once).
pub fn rollout_image(
    target: &str,
    role: Role,
    current: Option<&str>,
    pools: &[PoolRollout],
) -> String {
    let rank = |r: Role| ROLLOUT_ORDER.iter().position(|x| *x == r).unwrap_or(0);
    let earlier_pending = pools.iter().filter(|p| rank(p.role) < rank(role)).any(|p| {
        p.image.as_deref().is_some_and(|i| i != target) || (p.image.is_some() && !p.settled)
    });
    match current {
        Some(image) if earlier_pending => image.to_string(),
        _ => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_go_role_by_role_proxies_last() {
        let pools = |index: (&str, bool), query: (&str, bool)| {
            vec![
                PoolRollout {
                    role: Role::Index,
                    image: Some(index.0.into()),
                    settled: index.1,
                },
                PoolRollout {
                    role: Role::Query,
                    image: Some(query.0.into()),
                    settled: query.1,
                },
                PoolRollout {
                    role: Role::Proxy,
                    image: Some("v1".into()),
                    settled: true,
                },
            ]
        };
        // index nodes go first
        assert_eq!(
            rollout_image(
                "v2",
                Role::Index,
                Some("v1"),
                &pools(("v1", true), ("v1", true))
            ),
            "v2"
        );
        // query nodes wait while index nodes roll
        assert_eq!(
            rollout_image(
                "v2",
                Role::Query,
                Some("v1"),
                &pools(("v2", false), ("v1", true))
            ),
            "v1"
        );
        assert_eq!(
            rollout_image(
                "v2",
                Role::Query,
                Some("v1"),
                &pools(("v2", true), ("v1", true))
            ),
            "v2"
        );
        // proxies wait for query nodes
        assert_eq!(
            rollout_image(
                "v2",
                Role::Proxy,
                Some("v1"),
                &pools(("v2", true), ("v2", false))
            ),
            "v1"
        );
        assert_eq!(
            rollout_image(
                "v2",
                Role::Proxy,
                Some("v1"),
                &pools(("v2", true), ("v2", true))
            ),
            "v2"
        );
        // a new pool starts on the target image
        assert_eq!(
            rollout_image("v2", Role::Proxy, None, &pools(("v1", true), ("v1", true))),
            "v2"
        );
    }
}
