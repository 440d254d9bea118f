//! docs/compatibility.md's table of every Milvus RPC against the RPCs the server declares:
//! a served row for each declared RPC, a refused row (answered UNIMPLEMENTED) for the rest.

use std::collections::BTreeSet;

use super::layer::RPCS;

/// (RPC, served) for each row of the table.
fn table(doc: &str) -> Vec<(&str, bool)> {
    let start = doc
        .find("## Every RPC of the Milvus service")
        .expect("the table's heading");
    doc[start..]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (name, rest) = l.split_once('`')?;
            let state = rest.trim_start_matches(" |").split('|').next()?.trim();
            Some((name, state == "served"))
        })
        .collect()
}

#[test]
fn the_compatibility_table_matches_the_served_rpcs() {
    let doc = include_str!("../../../../docs/compatibility.md");
    let rows = table(doc);
    let names: Vec<&str> = rows.iter().map(|(n, _)| *n).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "an RPC is listed twice");
    let served: BTreeSet<&str> = rows.iter().filter(|(_, s)| *s).map(|(n, _)| *n).collect();
    let declared: BTreeSet<&str> = RPCS.iter().copied().collect();
    assert_eq!(
        served, declared,
        "docs/compatibility.md marks as served exactly the RPCs the server declares"
    );
    for (name, state) in &rows {
        assert!(
            *state || !declared.contains(name),
            "{name} is declared but listed as refused"
        );
    }
    assert!(rows.len() > 100, "the whole Milvus service is listed");
}
