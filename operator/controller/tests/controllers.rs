//! The reconcilers against the fake API server: children and their drift, collections and
//! indexes through their whole life (both deletion policies), NotSupported changes, the pause
//! annotation, the mirror of Milvus-API collections, leader election, and the multi-cluster
//! coordinator service.

mod world;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::Api;
use quarry_controller::context::Namespaced;
use quarry_controller::leader::Elector;
use quarry_controller::reconcile::collection::FINALIZER;
use quarry_crd::{Collection, Index, NodePool, QuarryCluster};
use quarry_meta::{MetaService, NewCollection, NewIndex};
use world::{condition, json, World, CLUSTER, DOCS, NS, POOLS};

async fn patch<K: Namespaced>(w: &World, name: &str, patch: serde_json::Value) {
    Api::<K>::namespaced(w.client.clone(), NS)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn delete<K: Namespaced>(w: &World, name: &str) {
    Api::<K>::namespaced(w.client.clone(), NS)
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
}

/// The cluster `prod` with the collection `docs` created.
async fn with_docs() -> World {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.apply_yaml(DOCS).await;
    w.settle(2).await;
    w
}

/// The one collection in cluster `prod`'s catalog.
fn only_collection(w: &World) -> quarry_meta::CollectionMeta {
    let snapshot = w.hosted("prod").meta.snapshot();
    assert_eq!(snapshot.collections.len(), 1);
    snapshot.collections.values().next().cloned().unwrap()
}

fn catalog_names(w: &World) -> Vec<String> {
    w.hosted("prod")
        .meta
        .snapshot()
        .collections
        .values()
        .map(|c| c.name.clone())
        .collect()
}

#[tokio::test]
async fn a_cluster_waits_for_its_secret_then_serves_with_its_children() {
    let w = World::new();
    let without_secret = CLUSTER.split("---").nth(1).unwrap();
    w.apply_yaml(without_secret).await;
    w.settle(1).await;
    let qc = json(&w.get::<QuarryCluster>("prod").await.unwrap());
    assert_eq!(
        condition(&qc, "Stalled"),
        ("True".into(), "SecretNotFound".into())
    );
    assert_eq!(condition(&qc, "Ready").0, "False");
    assert!(
        w.ctx.coordinators.get(&format!("{NS}/prod")).is_none(),
        "nothing hosted without credentials"
    );

    w.apply_yaml(CLUSTER).await;
    w.settle(1).await;
    let qc = w.get::<QuarryCluster>("prod").await.unwrap();
    let v = json(&qc);
    assert_eq!(
        condition(&v, "Ready"),
        ("True".into(), "CoordinatorServing".into())
    );
    assert_eq!(
        v["status"]["observedGeneration"],
        v["metadata"]["generation"]
    );
    assert_eq!(
        qc.status.as_ref().unwrap().coordinator.as_deref(),
        Some("quarry-operator.quarry-system.svc:19531")
    );
    let cm = w.get::<ConfigMap>("prod-config").await.unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["QUARRY_CLUSTER"], "vectors/prod");
    assert_eq!(
        cm.metadata.owner_references.as_ref().unwrap()[0].uid,
        qc.metadata.uid.clone().unwrap()
    );
    let svc = w.get::<Service>("prod").await.unwrap();
    assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 19530);
    // the proxies' root password: a random one, created once and kept
    let password = |s: &Secret| {
        s.data
            .as_ref()
            .and_then(|d| d.get("password"))
            .map(|b| String::from_utf8(b.0.clone()).unwrap())
            .or_else(|| {
                s.string_data
                    .as_ref()
                    .and_then(|d| d.get("password").cloned())
            })
            .unwrap()
    };
    let secret = w.get::<Secret>("prod-root-password").await.unwrap();
    let first = password(&secret);
    assert_eq!(first.len(), 32);
    assert_eq!(
        secret.metadata.owner_references.as_ref().unwrap()[0].uid,
        qc.metadata.uid.clone().unwrap()
    );
    w.settle(1).await;
    let again = w.get::<Secret>("prod-root-password").await.unwrap();
    assert_eq!(password(&again), first, "never regenerated");
    assert!(w
        .fake
        .event_reasons("prod")
        .contains(&"CoordinatorServing".to_string()));

    // deleting the cluster removes its children (owner references) and the hosted coordinator
    delete::<QuarryCluster>(&w, "prod").await;
    assert!(w.get::<ConfigMap>("prod-config").await.is_none());
    w.settle(1).await;
    assert!(w.ctx.coordinators.get(&format!("{NS}/prod")).is_none());
}

#[tokio::test]
async fn node_pools_become_deployments_that_follow_the_pool_and_revert_drift() {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.apply_yaml(POOLS).await;
    w.settle(1).await;
    let d = w.get::<Deployment>("prod-query").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(
        d.metadata.owner_references.as_ref().unwrap()[0].kind,
        "NodePool"
    );
    assert!(w.get::<PodDisruptionBudget>("prod-query").await.is_some());
    w.settle(1).await;
    let pool = json(&w.get::<NodePool>("query").await.unwrap());
    assert_eq!(
        condition(&pool, "Ready"),
        ("True".into(), "PodsReady".into())
    );
    assert_eq!(pool["status"]["readyReplicas"], 2);
    assert!(pool["status"]["selector"]
        .as_str()
        .unwrap()
        .contains("quarry.dev/pool=query"));

    // someone edits the Deployment by hand: the next resync puts it back
    let deployments: Api<Deployment> = Api::namespaced(w.client.clone(), NS);
    let drift = serde_json::json!({"spec": {"replicas": 7, "template": {"spec": {"containers": [{"name": "querynode", "image": "evil:latest"}]}}}});
    deployments
        .patch(
            "prod-query",
            &PatchParams::apply("someone").force(),
            &Patch::Apply(&drift),
        )
        .await
        .unwrap();
    w.settle(1).await;
    let d = w.get::<Deployment>("prod-query").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(
        d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("ghcr.io/quarry/quarry:0.1.0")
    );

    // scaling the pool through its scale subresource (kubectl scale, an HPA) scales the
    // Deployment; not Ready until the pods are
    let pools: Api<NodePool> = Api::namespaced(w.client.clone(), NS);
    let scale = pools.get_scale("query").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    assert!(scale
        .status
        .unwrap()
        .selector
        .unwrap()
        .contains("quarry.dev/pool=query"));
    pools
        .patch_scale(
            "query",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let pool = w.get::<NodePool>("query").await.unwrap();
    quarry_controller::reconcile::pool::reconcile(Arc::new(pool), w.ctx.clone())
        .await
        .unwrap();
    assert_eq!(
        w.get::<Deployment>("prod-query")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(3)
    );
    let pool = json(&w.get::<NodePool>("query").await.unwrap());
    assert_eq!(
        condition(&pool, "Reconciling"),
        ("True".into(), "RollingOut".into())
    );
    w.settle(2).await;
    let pool = json(&w.get::<NodePool>("query").await.unwrap());
    assert_eq!(condition(&pool, "Ready").0, "True");
    assert_eq!(
        pool["status"]["observedGeneration"],
        pool["metadata"]["generation"]
    );

    // deleting the pool deletes its Deployment
    delete::<NodePool>(&w, "query").await;
    assert!(w.get::<Deployment>("prod-query").await.is_none());
}

#[tokio::test]
async fn an_upgrade_rolls_role_by_role() {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.apply_yaml(POOLS).await;
    w.settle(2).await;
    patch::<QuarryCluster>(
        &w,
        "prod",
        serde_json::json!({"spec": {"image": "ghcr.io/quarry/quarry:0.2.0"}}),
    )
    .await;
    // one pass without the kubelet: query pods take the image, proxies wait for them
    for p in w.list::<NodePool>().await.into_iter().rev() {
        quarry_controller::reconcile::pool::reconcile(Arc::new(p), w.ctx.clone())
            .await
            .unwrap();
    }
    let image = |d: Deployment| {
        d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone()
            .unwrap()
    };
    assert_eq!(
        image(w.get::<Deployment>("prod-query").await.unwrap()),
        "ghcr.io/quarry/quarry:0.2.0"
    );
    assert_eq!(
        image(w.get::<Deployment>("prod-proxy").await.unwrap()),
        "ghcr.io/quarry/quarry:0.1.0"
    );
    let proxy = json(&w.get::<NodePool>("proxy").await.unwrap());
    assert_eq!(condition(&proxy, "Reconciling").1, "WaitingForUpgradeOrder");
    w.settle(3).await;
    assert_eq!(
        image(w.get::<Deployment>("prod-proxy").await.unwrap()),
        "ghcr.io/quarry/quarry:0.2.0"
    );
    assert_eq!(
        condition(&json(&w.get::<NodePool>("proxy").await.unwrap()), "Ready").0,
        "True"
    );
}

#[tokio::test]
async fn a_collection_is_created_altered_loaded_and_kept_on_delete_by_default() {
    let w = with_docs().await;
    assert_eq!(catalog_names(&w), ["docs"]);
    let col = w.get::<Collection>("docs").await.unwrap();
    let v = json(&col);
    assert_eq!(condition(&v, "Ready"), ("True".into(), "Synced".into()));
    assert_eq!(v["status"]["loadState"], "NotLoad");
    assert!(
        col.metadata.finalizers.is_none(),
        "no finalizer without an external side effect on delete"
    );
    assert!(
        col.spec.deletion_policy.is_none() && col.spec.consistency_level.is_none(),
        "no defaults written into the spec"
    );
    assert!(w
        .fake
        .event_reasons("docs")
        .contains(&"Created".to_string()));
    let meta = only_collection(&w);
    assert!(
        w.hosted("prod")
            .log
            .end_offset(&meta.topic(), 1)
            .await
            .is_ok(),
        "the collection's topic exists"
    );

    // properties and load
    patch::<Collection>(
        &w,
        "docs",
        serde_json::json!({"spec": {"properties": {"team": "search"}, "load": {"replicas": 1}}}),
    )
    .await;
    w.settle(1).await;
    let v = json(&w.get::<Collection>("docs").await.unwrap());
    assert_eq!(
        condition(&v, "Reconciling"),
        ("True".into(), "Loading".into()),
        "no query node yet"
    );
    let meta = only_collection(&w);
    assert!(meta.loaded);
    assert_eq!(
        meta.properties,
        vec![("team".to_string(), "search".to_string())]
    );
    w.query_node("prod", "q1");
    w.settle(3).await;
    let v = json(&w.get::<Collection>("docs").await.unwrap());
    assert_eq!(condition(&v, "Ready").0, "True", "{v:#}");
    assert_eq!(v["status"]["loadState"], "Loaded");
    assert_eq!(v["status"]["loadedReplicas"], 1);

    // out-of-band drift (a pymilvus release) is reverted at the next resync
    w.hosted("prod")
        .meta
        .set_loaded(meta.id, false, 1)
        .await
        .unwrap();
    w.settle(1).await;
    assert!(w.hosted("prod").meta.snapshot().collections[&meta.id].loaded);

    // Retain: deleting the resource keeps the collection
    delete::<Collection>(&w, "docs").await;
    w.settle(1).await;
    assert_eq!(catalog_names(&w), ["docs"], "the data stays");
}

#[tokio::test]
async fn deletion_policy_delete_drops_the_collection_through_a_finalizer() {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.apply_yaml(&format!("{DOCS}  deletionPolicy: Delete\n"))
        .await;
    w.apply_yaml("apiVersion: quarry.dev/v1alpha1\nkind: Index\nmetadata:\n  name: docs-embedding\nspec:\n  collectionRef: docs\n  fieldName: embedding\n  indexType: HNSW\n  metricType: COSINE\n  params:\n    M: \"16\"\n").await;
    w.settle(2).await;
    let col = w.get::<Collection>("docs").await.unwrap();
    assert_eq!(
        col.metadata.finalizers.as_deref(),
        Some(&[FINALIZER.to_string()][..])
    );
    let idx = json(&w.get::<Index>("docs-embedding").await.unwrap());
    assert_eq!(
        condition(&idx, "Ready"),
        ("True".into(), "Built".into()),
        "{idx:#}"
    );
    let meta = only_collection(&w);
    assert_eq!(meta.indexes[0].params["index_type"], "HNSW");

    delete::<Index>(&w, "docs-embedding").await;
    assert!(
        w.get::<Index>("docs-embedding").await.is_some(),
        "held by its finalizer until dropped"
    );
    delete::<Collection>(&w, "docs").await;
    assert!(w
        .get::<Collection>("docs")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());
    w.settle(1).await;
    assert!(w.get::<Collection>("docs").await.is_none());
    assert!(w.get::<Index>("docs-embedding").await.is_none());
    assert!(catalog_names(&w).is_empty(), "dropped");
    assert!(w
        .hosted("prod")
        .store
        .list(&format!("collections/{}/", meta.id))
        .await
        .unwrap()
        .is_empty());
    assert!(w
        .fake
        .event_reasons("docs")
        .contains(&"Dropped".to_string()));
}

#[tokio::test]
async fn impossible_changes_are_reported_not_applied() {
    let w = with_docs().await;
    patch::<Collection>(&w, "docs", serde_json::json!({"spec": {"shards": 4}})).await;
    w.settle(1).await;
    let v = json(&w.get::<Collection>("docs").await.unwrap());
    assert_eq!(
        condition(&v, "Ready"),
        ("False".into(), "NotSupported".into())
    );
    assert_eq!(condition(&v, "Stalled").0, "True");
    assert_eq!(
        v["status"]["observedGeneration"],
        v["metadata"]["generation"]
    );
    assert_eq!(
        w.hosted("prod")
            .meta
            .snapshot()
            .collections
            .values()
            .next()
            .unwrap()
            .shards,
        2,
        "nothing changed"
    );
    assert!(w
        .fake
        .event_reasons("docs")
        .contains(&"NotSupported".to_string()));

    // an index on a scalar field is refused the same way
    w.apply_yaml("apiVersion: quarry.dev/v1alpha1\nkind: Index\nmetadata:\n  name: bad\nspec:\n  collectionRef: docs\n  fieldName: title\n  indexType: HNSW\n  metricType: L2\n").await;
    w.settle(1).await;
    assert_eq!(
        condition(&json(&w.get::<Index>("bad").await.unwrap()), "Stalled"),
        ("True".into(), "InvalidField".into())
    );
}

#[tokio::test]
async fn a_paused_resource_is_left_alone() {
    let w = with_docs().await;
    patch::<Collection>(&w, "docs", serde_json::json!({"metadata": {"annotations": {"quarry.dev/paused": "true"}}, "spec": {"load": {"replicas": 1}}})).await;
    w.settle(1).await;
    assert!(
        !w.hosted("prod")
            .meta
            .snapshot()
            .collections
            .values()
            .next()
            .unwrap()
            .loaded
    );
    patch::<Collection>(
        &w,
        "docs",
        serde_json::json!({"metadata": {"annotations": {"quarry.dev/paused": null}}}),
    )
    .await;
    w.settle(1).await;
    assert!(
        w.hosted("prod")
            .meta
            .snapshot()
            .collections
            .values()
            .next()
            .unwrap()
            .loaded
    );
}

fn new_collection(name: &str) -> NewCollection {
    let spec: Collection = serde_yaml::from_str(DOCS).unwrap();
    quarry_controller::catalog_plan::new_collection(name, &spec.spec).unwrap()
}

#[tokio::test]
async fn collections_made_through_the_milvus_api_appear_as_resources() {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.settle(1).await;
    // what a proxy does for pymilvus create_collection / create_index / load_collection
    let meta = w.hosted("prod").meta.clone();
    let id = match meta
        .create_collection(new_collection("My_Docs"))
        .await
        .unwrap()
    {
        quarry_meta::Created::New(m) => m.id,
        other => panic!("{other:?}"),
    };
    let params = BTreeMap::from([
        ("index_type".to_string(), "HNSW".to_string()),
        ("metric_type".to_string(), "L2".to_string()),
        ("M".to_string(), "8".to_string()),
    ]);
    meta.create_index(
        id,
        NewIndex {
            name: "embedding".into(),
            field_name: "embedding".into(),
            params,
        },
    )
    .await
    .unwrap();
    w.settle(2).await;
    let col = w.get::<Collection>("my-docs").await.expect("mirrored");
    assert_eq!(col.spec.name.as_deref(), Some("My_Docs"));
    assert_eq!(
        col.metadata.annotations.as_ref().unwrap()["quarry.dev/mirror"],
        "true"
    );
    assert_eq!(condition(&json(&col), "Ready").0, "True");
    let idx = w
        .get::<Index>("my-docs-embedding")
        .await
        .expect("index mirrored");
    assert_eq!(idx.spec.params["M"], "8");
    assert_eq!(condition(&json(&idx), "Ready").0, "True");

    // the mirror follows the catalog: a load shows up in its spec, a drop removes it
    meta.set_loaded(id, true, 1).await.unwrap();
    w.settle(1).await;
    assert_eq!(
        w.get::<Collection>("my-docs")
            .await
            .unwrap()
            .spec
            .load
            .map(|l| l.replicas),
        Some(1)
    );
    meta.drop_collection(id).await.unwrap();
    w.settle(1).await;
    assert!(w.get::<Collection>("my-docs").await.is_none());
    assert!(w.get::<Index>("my-docs-embedding").await.is_none());

    // a resource declared for a collection replaces its mirror
    meta.create_collection(new_collection("docs"))
        .await
        .unwrap();
    w.settle(1).await;
    assert!(w
        .get::<Collection>("docs")
        .await
        .unwrap()
        .metadata
        .annotations
        .is_some());
    w.apply_yaml(
        &DOCS
            .replace("name: docs", "name: docs-declared")
            .replace("  clusterRef: prod", "  clusterRef: prod\n  name: docs"),
    )
    .await;
    w.settle(1).await;
    assert!(
        w.get::<Collection>("docs").await.is_none(),
        "the mirror gave way"
    );
    assert_eq!(
        condition(
            &json(&w.get::<Collection>("docs-declared").await.unwrap()),
            "Ready"
        )
        .0,
        "True"
    );
}

#[tokio::test]
async fn a_restarted_operator_finds_its_catalogs() {
    let w = with_docs().await;
    let again = w.restarted();
    again.settle(2).await;
    assert_eq!(
        again.hosted("prod").meta.snapshot().collections.len(),
        1,
        "no second collection"
    );
    assert_eq!(
        condition(
            &json(&again.get::<Collection>("docs").await.unwrap()),
            "Ready"
        )
        .0,
        "True"
    );
}

#[tokio::test]
async fn one_leader_at_a_time_and_takeover_after_expiry_or_release() {
    let fake = quarry_fake_kube::FakeApi::new();
    let a = Elector::new(
        fake.client("ops"),
        "ops",
        "quarry-operator",
        "a",
        Duration::from_secs(1),
    );
    let b = Elector::new(
        fake.client("ops"),
        "ops",
        "quarry-operator",
        "b",
        Duration::from_secs(1),
    );
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(!b.try_acquire_or_renew().await.unwrap());
    assert!(a.try_acquire_or_renew().await.unwrap(), "renewal");
    // a stops renewing: b takes over once the lease ran out
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(b.try_acquire_or_renew().await.unwrap());
    assert!(!a.try_acquire_or_renew().await.unwrap());
    // a clean release hands over at once
    b.release().await.unwrap();
    assert!(a.try_acquire_or_renew().await.unwrap());
    let lease = fake
        .get(
            "apis/coordination.k8s.io/v1",
            "leases",
            "ops",
            "quarry-operator",
        )
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "a");
    assert_eq!(lease["spec"]["leaseTransitions"], 2);
}

#[tokio::test]
async fn one_port_serves_each_cluster_its_own_coordinator() {
    use quarry_proto::internal::coord_server::CoordServer as CoordGrpc;
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.apply_yaml(&CLUSTER.replace("name: prod", "name: staging"))
        .await;
    w.settle(1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = CoordGrpc::new(quarry_controller::grpc::MultiCoord {
        coordinators: w.ctx.coordinators.clone(),
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let token_of = |cluster: &str| {
        let w = &w;
        let name = format!("{cluster}-internal-token");
        async move {
            let secret = w.get::<Secret>(&name).await.unwrap();
            let data = secret.data.as_ref().unwrap();
            let token = String::from_utf8(data["token"].0.clone()).unwrap();
            quarry_meta::InternalToken::new(&token).unwrap()
        }
    };
    let (staging_token, prod_token) = (token_of("staging").await, token_of("prod").await);
    assert_ne!(staging_token, prod_token, "one token per cluster");
    let addr = addr.to_string();
    // the token picks the cluster
    let staging =
        quarry_meta::RemoteMeta::connect_to_cluster(&addr, None, Some(staging_token.clone()))
            .unwrap();
    staging
        .create_collection(new_collection("only_in_staging"))
        .await
        .unwrap();
    assert_eq!(w.hosted("staging").meta.snapshot().collections.len(), 1);
    assert!(w.hosted("prod").meta.snapshot().collections.is_empty());
    // naming the cluster is not enough, and a header must agree with the token
    let refused =
        |m: quarry_meta::RemoteMeta| async move { m.fetch().await.unwrap_err().to_string() };
    let named =
        quarry_meta::RemoteMeta::connect_to_cluster(&addr, Some("vectors/staging"), None).unwrap();
    assert!(refused(named).await.contains("credential"));
    let mixed = quarry_meta::RemoteMeta::connect_to_cluster(
        &addr,
        Some("vectors/prod"),
        Some(staging_token),
    )
    .unwrap();
    assert!(refused(mixed).await.contains("another cluster"));
    let forged = quarry_meta::InternalToken::new("not-a-token-of-any-cluster").unwrap();
    let wrong = quarry_meta::RemoteMeta::connect_to_cluster(&addr, None, Some(forged)).unwrap();
    assert!(refused(wrong).await.contains("wrong cluster credential"));
    let prod = quarry_meta::RemoteMeta::connect_to_cluster(&addr, None, Some(prod_token)).unwrap();
    prod.fetch().await.unwrap();
    assert!(prod.snapshot().collections.is_empty());
}

#[tokio::test]
async fn reconciles_are_counted_in_the_metrics() {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    let qc = w.get::<QuarryCluster>("prod").await.unwrap();
    quarry_controller::context::observed(
        &w.ctx,
        "QuarryCluster",
        quarry_controller::reconcile::cluster::reconcile(Arc::new(qc), w.ctx.clone()),
    )
    .await
    .unwrap();
    let text = w.ctx.metrics.render();
    assert!(
        text.contains("quarry_operator_reconciles_total{kind=\"QuarryCluster\",result=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("quarry_operator_resources{kind=\"QuarryCluster\",phase=\"Ready\"} 1"),
        "{text}"
    );
    assert!(text.contains("quarry_operator_reconcile_duration_seconds_bucket"));
}

#[tokio::test]
async fn a_collection_loads_into_its_query_pool_only() {
    let w = World::new();
    w.apply_yaml(CLUSTER).await;
    w.apply_yaml(POOLS).await;
    w.apply_yaml(
        &POOLS
            .split("---")
            .next()
            .unwrap()
            .replace("name: query", "name: batch"),
    )
    .await;
    // pinned to the pool whose nodes sort last, so that an unpinned plan would pick others
    w.apply_yaml(&format!(
        "{DOCS}  load:\n    replicas: 1\n    queryPool: query\n"
    ))
    .await;
    w.settle(2).await;
    w.start_query_pools().await;
    w.settle(4).await;
    let v = json(&w.get::<Collection>("docs").await.unwrap());
    assert_eq!(condition(&v, "Ready").0, "True", "{v:#}");
    let meta = only_collection(&w);
    assert_eq!(meta.query_pool.as_deref(), Some("query"));
    let d = w.get::<Deployment>("prod-batch").await.unwrap();
    let env = d.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    assert!(env
        .iter()
        .any(|e| e.name == "QUARRY_POOL" && e.value.as_deref() == Some("batch")));
    // both shards on the query pool's nodes, none on the batch pool's
    let served = w.served_by();
    assert!(!served.is_empty());
    assert!(
        served.iter().all(|(node, _)| node.starts_with("query-")),
        "{served:?}"
    );

    // a pool that does not exist stalls the resource
    patch::<Collection>(
        &w,
        "docs",
        serde_json::json!({"spec": {"load": {"replicas": 1, "queryPool": "gpu"}}}),
    )
    .await;
    w.settle(1).await;
    let v = json(&w.get::<Collection>("docs").await.unwrap());
    assert_eq!(
        condition(&v, "Stalled"),
        ("True".into(), "QueryPoolNotFound".into())
    );
}

#[tokio::test]
async fn unflushed_rows_count_in_the_status() {
    let w = with_docs().await;
    let id = w
        .hosted("prod")
        .meta
        .snapshot()
        .collections
        .values()
        .next()
        .unwrap()
        .id;
    // what the data node owning both shards holds in their growing segments
    w.data_node_reports("prod", "data-0", &[(id, 0, 120), (id, 1, 80)])
        .await;
    w.settle(1).await;
    let v = json(&w.get::<Collection>("docs").await.unwrap());
    assert_eq!(v["status"]["rows"], 200, "{:#}", v["status"]);
    assert_eq!(v["status"]["growingSegments"], 2);
    assert_eq!(v["status"]["sealedSegments"], 0);
    assert!(w.ctx.metrics.render().contains(
        "quarry_collection{cluster=\"vectors/prod\",collection=\"docs\",figure=\"rows\"} 200"
    ));
}

/// A cluster naming an S3 CA Secret waits for it, and for its `ca.crt`, before hosting its
/// coordinator.
#[tokio::test]
async fn a_cluster_waits_for_its_s3_ca_secret() {
    let w = World::new();
    let with_ca = CLUSTER.replace(
        "    credentialsSecret:",
        "    caSecret: minio-ca\n    credentialsSecret:",
    );
    w.apply_yaml(&with_ca).await;
    w.settle(1).await;
    let qc = json(&w.get::<QuarryCluster>("prod").await.unwrap());
    assert_eq!(
        condition(&qc, "Stalled"),
        ("True".into(), "SecretNotFound".into())
    );
    w.apply_yaml(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: minio-ca\ndata:\n  other: eA==\n",
    )
    .await;
    w.settle(1).await;
    let qc = json(&w.get::<QuarryCluster>("prod").await.unwrap());
    assert_eq!(
        condition(&qc, "Stalled"),
        ("True".into(), "SecretIncomplete".into())
    );
    assert!(w.ctx.coordinators.get(&format!("{NS}/prod")).is_none());
}
