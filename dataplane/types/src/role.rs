//! The roles of a cluster's nodes: one type for the `quarry` subcommands, the heartbeats the
//! coordinator registers, the `NodePool` resource and the pods the operator renders.

use std::fmt;
use std::str::FromStr;

/// A node role of a cluster (the coordinator is not one: it is the operator, or `quarry
/// coordinator`). Its canonical name ([`Role::as_str`]: `proxy`, `query`, `data`, `index`) is
/// what serde writes (a `NodePool`'s `spec.role`) and what nodes send in their heartbeats;
/// [`Role::parse`] also takes the `quarry` subcommand names ([`Role::command`]: `querynode`,
/// `datanode`, `indexnode`).
//
// (no doc comments on the variants: they would become descriptions in the NodePool CRD schema)
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Proxy,
    Query,
    Data,
    Index,
}

/// Not a role name (see [`Role::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown node role {0:?} (expected proxy, query, data, index, querynode, datanode or indexnode)")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 4] = [Role::Proxy, Role::Query, Role::Data, Role::Index];

    /// The canonical name: heartbeats, the `NodePool` spec, metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Proxy => "proxy",
            Role::Query => "query",
            Role::Data => "data",
            Role::Index => "index",
        }
    }

    /// The `quarry` subcommand that runs the role (`quarry querynode`); also the container name
    /// and `app.kubernetes.io/component` label of its pods.
    pub fn command(self) -> &'static str {
        match self {
            Role::Proxy => "proxy",
            Role::Query => "querynode",
            Role::Data => "datanode",
            Role::Index => "indexnode",
        }
    }

    /// A role by its canonical name or its subcommand name.
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s || r.command() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_in_use_parses() {
        for (name, role) in [
            ("proxy", Role::Proxy),
            ("query", Role::Query),
            ("querynode", Role::Query),
            ("data", Role::Data),
            ("datanode", Role::Data),
            ("index", Role::Index),
            ("indexnode", Role::Index),
        ] {
            assert_eq!(Role::parse(name), Some(role), "{name}");
            assert_eq!(name.parse::<Role>(), Ok(role));
        }
        assert_eq!(Role::parse("coordinator"), None);
        assert!("Query".parse::<Role>().is_err(), "names are lowercase");
        for r in Role::ALL {
            assert_eq!(Role::parse(&r.to_string()), Some(r));
            assert_eq!(Role::parse(r.command()), Some(r));
        }
    }

    #[test]
    fn serde_writes_the_canonical_name() {
        assert_eq!(serde_json::to_string(&Role::Query).unwrap(), "\"query\"");
        assert_eq!(
            serde_json::from_str::<Role>("\"index\"").unwrap(),
            Role::Index
        );
        // the NodePool schema takes the canonical names only
        assert!(serde_json::from_str::<Role>("\"querynode\"").is_err());
    }
}
