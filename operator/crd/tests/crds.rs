//! `crds/` holds the CRDs generated from the Rust types; this fails when they drift
//! (`QUARRY_BLESS=1` or `make generate` rewrites them). Also checks what the schemas promise:
//! size, the scale subresource, printer columns and that the CEL rules hold locally.

use std::path::Path;

use kube::CustomResourceExt;
use quarry_crd::{Autoscaling, Collection, FieldSpec, NodePool, SchemaSpec};
use serde_json::json;

#[test]
fn crds_are_current_and_small() {
    // crds/ for `kubectl apply`, and the Helm chart's copy (a chart cannot read outside its dir)
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bless = std::env::var_os("QUARRY_BLESS").is_some();
    let mut drifted = Vec::new();
    for dir in [root.join("crds"), root.join("charts/quarry/files/crds")] {
        for (file, yaml) in quarry_crd::rendered().unwrap() {
            assert!(yaml.len() < 128 * 1024, "{file} is {} bytes", yaml.len());
            let path = dir.join(&file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                if bless {
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(&path, &yaml).unwrap();
                } else {
                    drifted.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "generated CRDs drifted from operator/crd in {drifted:?}; run `make generate`"
    );
}

#[test]
fn node_pools_scale_and_print_what_matters() {
    let crd = serde_json::to_value(NodePool::crd()).unwrap();
    let version = &crd["spec"]["versions"][0];
    assert_eq!(
        version["subresources"]["scale"]["specReplicasPath"],
        ".spec.replicas"
    );
    assert_eq!(
        version["subresources"]["scale"]["labelSelectorPath"],
        ".status.selector"
    );
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        columns.contains(&"Ready") && columns.contains(&"Role"),
        "{columns:?}"
    );
    let text = serde_json::to_string(&crd).unwrap();
    assert!(text.contains("role is immutable"));
    let crd = serde_json::to_string(&Collection::crd()).unwrap();
    assert!(crd.contains("shards cannot change after creation"));
}

#[test]
fn cel_rules_hold_locally() {
    assert!(Autoscaling::validate_cel(&json!({"minReplicas": 2, "maxReplicas": 5}), None).is_ok());
    assert!(Autoscaling::validate_cel(&json!({"minReplicas": 5, "maxReplicas": 2}), None).is_err());

    let vector = json!({"name": "v", "dataType": "FloatVector", "dim": 8});
    assert!(FieldSpec::validate_cel(&vector, None).is_ok());
    assert!(
        FieldSpec::validate_cel(&json!({"name": "v", "dataType": "FloatVector"}), None).is_err(),
        "a vector needs dim"
    );
    assert!(
        FieldSpec::validate_cel(&json!({"name": "s", "dataType": "VarChar"}), None).is_err(),
        "a VarChar needs maxLength"
    );
    let auto_varchar = json!({"name": "id", "dataType": "VarChar", "maxLength": 20, "primaryKey": true, "autoId": true});
    assert!(FieldSpec::validate_cel(&auto_varchar, None).is_ok());
    let auto_double =
        json!({"name": "id", "dataType": "Double", "primaryKey": true, "autoId": true});
    assert!(
        FieldSpec::validate_cel(&auto_double, None).is_err(),
        "autoId needs an Int64 or VarChar key"
    );

    let pk = json!({"name": "id", "dataType": "Int64", "primaryKey": true, "autoId": false});
    let good = json!({"fields": [pk, vector]});
    assert!(SchemaSpec::validate_cel(&good, None).is_ok());
    let two_pks = json!({"fields": [pk, json!({"name": "id2", "dataType": "Int64", "primaryKey": true}), vector]});
    assert!(SchemaSpec::validate_cel(&two_pks, None).is_err());
    let no_vector = json!({"fields": [pk, json!({"name": "x", "dataType": "Int64"})]});
    assert!(SchemaSpec::validate_cel(&no_vector, None).is_err());
}
