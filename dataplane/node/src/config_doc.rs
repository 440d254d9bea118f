//! Drift test: `docs/configuration.md` documents every flag and environment variable of every
//! `quarry` subcommand, and names no flag the binary does not have.

use std::collections::BTreeSet;

use clap::CommandFactory;

use crate::Cli;

/// (`--flag`, `ENV`) of every argument of every subcommand.
pub(crate) fn cli_flags() -> BTreeSet<(String, Option<String>)> {
    let mut out = BTreeSet::new();
    for sub in Cli::command().get_subcommands() {
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                out.insert((format!("--{long}"), env));
            }
        }
    }
    out
}

/// Every `` `--flag` `` named in the first column of a table row.
fn documented_flags(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| cell.split(", "))
        .filter_map(|c| {
            c.strip_prefix("`--")?
                .strip_suffix('`')
                .map(|f| format!("--{f}"))
        })
        .collect()
}

#[test]
fn configuration_doc_matches_the_flags() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let doc = std::fs::read_to_string(path).expect("docs/configuration.md");
    let flags = cli_flags();
    assert!(flags.len() > 10, "the subcommands' flags were found");
    for (flag, env) in &flags {
        if flag == "--help" || flag == "--version" {
            continue;
        }
        assert!(
            doc.contains(&format!("`{flag}`")),
            "{flag} is not documented in docs/configuration.md"
        );
        if let Some(env) = env {
            assert!(
                doc.contains(&format!("`{env}`")),
                "{env} (of {flag}) is not documented in docs/configuration.md"
            );
        }
    }
    for env in quarry_types::env::READ_FROM_ENV_ONLY {
        assert!(
            doc.contains(&format!("`{env}`")),
            "{env} is not documented in docs/configuration.md"
        );
    }
    let known: BTreeSet<&String> = flags.iter().map(|(f, _)| f).collect();
    for flag in documented_flags(&doc) {
        assert!(
            known.contains(&flag),
            "docs/configuration.md documents {flag}, which no subcommand has"
        );
    }
}
