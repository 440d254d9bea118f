//! Writes the CustomResourceDefinitions of `quarry.dev` as YAML, one file per CRD:
//! `crdgen [DIR]` (default `crds`). `make generate` runs it; `tests/crds.rs` fails on drift.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "crds".into());
    std::fs::create_dir_all(&dir)?;
    for (file, yaml) in quarry_crd::rendered()? {
        let path = std::path::Path::new(&dir).join(file);
        std::fs::write(&path, yaml)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
