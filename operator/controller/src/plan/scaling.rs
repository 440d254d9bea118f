//! How a pool scales and how many of its pods may be down: its HorizontalPodAutoscaler and
//! PodDisruptionBudget.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use quarry_crd::{NodePool, QuarryCluster};

use super::{name_of, pool_object};

/// The HorizontalPodAutoscaler of a pool with `autoscaling`: it scales the NodePool through
/// its scale subresource (not the Deployment, which follows the pool).
pub fn desired_hpa(cluster: &QuarryCluster, pool: &NodePool) -> Option<HorizontalPodAutoscaler> {
    let auto = pool.spec.autoscaling.as_ref()?;
    let (metadata, _) = pool_object(cluster, pool);
    Some(HorizontalPodAutoscaler {
        metadata,
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("quarry.dev/v1alpha1".into()),
                kind: "NodePool".into(),
                name: name_of(&pool.metadata),
            },
            min_replicas: Some(auto.min_replicas),
            max_replicas: auto.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(auto.target_cpu_utilization.unwrap_or(70)),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// At most one pod of a pool down at a time for voluntary disruptions (drains, upgrades).
pub fn desired_pdb(cluster: &QuarryCluster, pool: &NodePool) -> PodDisruptionBudget {
    let (metadata, labels) = pool_object(cluster, pool);
    PodDisruptionBudget {
        metadata,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(labels),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use quarry_crd::Role;

    use super::*;
    use crate::plan::fixtures::{cluster, pool};

    #[test]
    fn autoscaling_targets_the_node_pool() {
        let mut p = pool("search", Role::Query, 2);
        assert!(desired_hpa(&cluster(), &p).is_none());
        p.spec.autoscaling = Some(quarry_crd::Autoscaling {
            min_replicas: 2,
            max_replicas: 8,
            target_cpu_utilization: None,
        });
        let hpa = desired_hpa(&cluster(), &p).unwrap().spec.unwrap();
        assert_eq!(hpa.scale_target_ref.kind, "NodePool");
        assert_eq!(hpa.scale_target_ref.name, "search");
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 8));
        assert_eq!(
            hpa.metrics.unwrap()[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(70)
        );
    }

    #[test]
    fn pools_lose_at_most_one_pod_to_voluntary_disruptions() {
        let pdb = desired_pdb(&cluster(), &pool("search", Role::Query, 3));
        let spec = pdb.spec.unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(
            spec.selector.unwrap().match_labels.unwrap()["quarry.dev/pool"],
            "search"
        );
    }
}
