//! The fake API server itself behaves as the controllers (and kube-runtime) expect: watches,
//! server-side apply ownership, optimistic concurrency, the status subresource, finalizers and
//! garbage collection.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use quarry_fake_kube::FakeApi;
use serde_json::json;

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn watches_replay_and_follow_changes() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client("ns"), "ns");
    api.create(&PostParams::default(), &cm("a", &[("k", "1")]))
        .await
        .unwrap();
    let mut events = api
        .watch(&WatchParams::default().timeout(5), "0")
        .await
        .unwrap()
        .boxed();
    assert!(
        matches!(events.try_next().await.unwrap(), Some(WatchEvent::Added(c)) if c.name_any() == "a")
    );
    api.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    assert!(
        matches!(events.try_next().await.unwrap(), Some(WatchEvent::Added(c)) if c.name_any() == "b")
    );
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(
        matches!(events.try_next().await.unwrap(), Some(WatchEvent::Deleted(c)) if c.name_any() == "a")
    );

    // kube-runtime's watcher (list, then watch) over it
    let mut objects = watcher(api.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    assert_eq!(objects.try_next().await.unwrap().unwrap().name_any(), "b");
    api.create(&PostParams::default(), &cm("c", &[]))
        .await
        .unwrap();
    assert_eq!(objects.try_next().await.unwrap().unwrap().name_any(), "c");
}

#[tokio::test]
async fn apply_owns_fields_and_replace_checks_versions() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client("ns"), "ns");
    let ours = PatchParams::apply("quarry-operator").force();
    api.patch("x", &ours, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1", "b": "2"}}))).await.unwrap();
    api.patch("x", &PatchParams::apply("someone"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"c": "3"}}))).await.unwrap();
    // a field the operator stops applying goes; another manager's field stays
    let x = api.patch("x", &ours, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}}))).await.unwrap();
    assert_eq!(
        x.data.unwrap(),
        BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("c".to_string(), "3".to_string())
        ])
    );

    let mut stale = api.get("x").await.unwrap();
    api.replace("x", &PostParams::default(), &stale)
        .await
        .unwrap();
    stale.data = None;
    let err = api
        .replace("x", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 409));
}

#[tokio::test]
async fn finalizers_hold_deletion_and_owners_take_dependents_along() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client("ns"), "ns");
    let mut owner = cm("owner", &[]);
    owner.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let owner = api.create(&PostParams::default(), &owner).await.unwrap();
    let mut child = cm("child", &[]);
    child.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid: owner.metadata.uid.clone().unwrap(),
            ..Default::default()
        },
    ]);
    api.create(&PostParams::default(), &child).await.unwrap();
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    let held = api.get("owner").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(api.get("child").await.is_ok(), "the owner is not gone yet");
    api.patch(
        "owner",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": []}})),
    )
    .await
    .unwrap();
    assert!(api.get("owner").await.is_err());
    assert!(
        api.get("child").await.is_err(),
        "garbage-collected with its owner"
    );
}
