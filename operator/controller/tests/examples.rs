//! Every example manifest in docs/ (the GitOps tree in docs/examples/ and any `yaml` block in
//! docs/*.md that declares a resource) is applied to the fake world and reaches `Ready=True`
//! with `observedGeneration` current.

mod world;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use world::{condition, World};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The `yaml` code blocks of the guides that declare resources.
fn markdown_manifests() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(docs()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut block: Option<String> = None;
        for line in text.lines() {
            match (&mut block, line.trim_start()) {
                (None, l) if l.starts_with("```yaml") => block = Some(String::new()),
                (Some(b), l) if l.starts_with("```") => {
                    if b.contains("apiVersion:") {
                        out.push((path.display().to_string(), b.clone()));
                    }
                    block = None;
                }
                (Some(b), _) => {
                    b.push_str(line);
                    b.push('\n');
                }
                _ => {}
            }
        }
    }
    out
}

#[tokio::test]
async fn the_gitops_example_reaches_ready() {
    let dir = docs().join("examples/gitops");
    let kustomization: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let listed: BTreeSet<PathBuf> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| dir.join(r.as_str().unwrap()))
        .collect();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let manifests: BTreeSet<PathBuf> = files
        .into_iter()
        .filter(|f| !f.ends_with("kustomization.yaml"))
        .collect();
    assert_eq!(
        listed, manifests,
        "kustomization.yaml lists every manifest of the example"
    );

    let w = World::new();
    for path in kustomization["resources"].as_array().unwrap() {
        w.apply_yaml(&std::fs::read_to_string(dir.join(path.as_str().unwrap())).unwrap())
            .await;
    }
    w.settle(2).await;
    w.start_query_pools().await;
    w.settle(4).await;
    check_all_ready(&w).await;
}

#[tokio::test]
async fn every_manifest_in_the_guides_reaches_ready() {
    let blocks = markdown_manifests();
    for (file, text) in blocks {
        // each block on top of the GitOps example (which provides its cluster)
        let w = World::new();
        let dir = docs().join("examples/gitops");
        for f in [
            "cluster/s3-credentials.yaml",
            "cluster/quarrycluster.yaml",
            "pools/query.yaml",
        ] {
            w.apply_yaml(&std::fs::read_to_string(dir.join(f)).unwrap())
                .await;
        }
        w.apply_yaml(&text).await;
        w.settle(2).await;
        w.start_query_pools().await;
        w.settle(4).await;
        println!("{file}: checked");
        check_all_ready(&w).await;
    }
}

async fn check_all_ready(w: &World) {
    let mut checked = 0;
    for (prefix, plural) in [
        ("apis/quarry.dev/v1alpha1", "quarryclusters"),
        ("apis/quarry.dev/v1alpha1", "nodepools"),
        ("apis/quarry.dev/v1alpha1", "collections"),
        ("apis/quarry.dev/v1alpha1", "indexes"),
    ] {
        for obj in w.fake.list(prefix, plural) {
            let name = obj["metadata"]["name"].as_str().unwrap().to_string();
            assert_eq!(
                condition(&obj, "Ready").0,
                "True",
                "{plural}/{name} is not Ready: {:#}",
                obj["status"]
            );
            assert_eq!(
                obj["status"]["observedGeneration"], obj["metadata"]["generation"],
                "{plural}/{name}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}
