//! The Rust code in `src/gen/` is generated from `proto/*.proto` and committed, so that
//! building Quarry needs no protobuf compiler. This test regenerates it (with protox, a
//! protobuf compiler in pure Rust) and fails when the committed code has drifted.
//! `QUARRY_BLESS=1 cargo test -p quarry-proto` (or `make generate`) rewrites it.

use std::path::Path;

#[test]
fn generated_code_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    // the Milvus API is only served; the internal API is served and called
    for (file, client) in [("milvus.proto", false), ("internal.proto", true)] {
        let fds = protox::compile([file], [root.join("proto")]).expect("protos compile");
        tonic_prost_build::configure()
            .build_client(client)
            .build_transport(false)
            .emit_rerun_if_changed(false)
            .out_dir(out.path())
            .compile_fds(fds)
            .expect("code generation");
    }
    let committed = root.join("src/gen");
    let bless = std::env::var_os("QUARRY_BLESS").is_some();
    let mut drifted = Vec::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let entry = entry.unwrap();
        let fresh = std::fs::read_to_string(entry.path()).unwrap();
        let target = committed.join(entry.file_name());
        if std::fs::read_to_string(&target).ok().as_deref() != Some(fresh.as_str()) {
            if bless {
                std::fs::write(&target, fresh).unwrap();
            } else {
                drifted.push(entry.file_name().to_string_lossy().to_string());
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "generated code drifted from proto/ in {drifted:?}; run `make generate`"
    );
}
