//! Key-value pairs of requests: properties, index and search parameters.

use quarry_proto::common::KeyValuePair;
use quarry_types::limits::{MAX_PROPERTIES, MAX_PROPERTY_BYTES};

use super::ConvResult;

pub fn kv(pairs: &[KeyValuePair]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

pub fn to_kv(pairs: &[(String, String)]) -> Vec<KeyValuePair> {
    pairs
        .iter()
        .map(|(k, v)| KeyValuePair {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// Checks key-value pairs of a request: at most [`MAX_PROPERTIES`] of them, each key and
/// value at most [`MAX_PROPERTY_BYTES`].
pub fn check_pairs<'a>(
    kind: &str,
    pairs: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
) -> ConvResult<()> {
    if pairs.len() > MAX_PROPERTIES {
        return Err(format!(
            "too many {kind}: {} given, at most {MAX_PROPERTIES} are allowed",
            pairs.len()
        ));
    }
    for (k, v) in pairs {
        if k.len() > MAX_PROPERTY_BYTES || v.len() > MAX_PROPERTY_BYTES {
            return Err(format!(
                "a key or value of the {kind} exceeds {MAX_PROPERTY_BYTES} bytes"
            ));
        }
    }
    Ok(())
}

pub(super) fn param<'a>(pairs: &'a [KeyValuePair], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.value.as_str())
}

/// A boolean as Go's `strconv.ParseBool` reads it (pymilvus sends `True`/`False`); `None`
/// for anything else.
pub(super) fn go_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A value as it goes into an error message: long values cut short.
pub fn shown(v: &str) -> String {
    const SHOWN: usize = 64;
    match v.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}...", &v[..end]),
        None => v.to_string(),
    }
}

/// An integer request parameter (a decimal string) that must not be negative; `None` when
/// absent. A value too large for `usize` saturates: the bound checks refuse it.
pub(super) fn count_param(pairs: &[KeyValuePair], key: &str) -> ConvResult<Option<usize>> {
    let Some(raw) = param(pairs, key) else {
        return Ok(None);
    };
    let n: i128 = match raw.trim().parse() {
        Ok(n) => n,
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => i128::MAX,
        Err(e) if *e.kind() == std::num::IntErrorKind::NegOverflow => i128::MIN,
        Err(_) => {
            return Err(format!(
                "{key} [{}] is invalid, it should be an integer",
                shown(raw)
            ))
        }
    };
    if n < 0 {
        return Err(format!(
            "{key} [{}] is invalid, it should be a non-negative integer",
            shown(raw.trim())
        ));
    }
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}
