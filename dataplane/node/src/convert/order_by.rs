//! `order_by_fields` of a search (pymilvus 2.6): `field[:asc|desc[:nulls_first|nulls_last]]`
//! items joined by commas (colons and commas inside `[...]` belong to a JSON path), with
//! Milvus's error texts.

use quarry_engine::OrderKey;
use quarry_types::limits::MAX_PROPERTIES;

use super::params::shown;
use super::ConvResult;

/// Splits `s` at `sep` outside square brackets.
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if c == sep && depth <= 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

pub fn order_by_fields(raw: &str) -> ConvResult<Vec<OrderKey>> {
    let mut keys = Vec::new();
    for item in split_outside(raw, ',').into_iter().map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let parts = split_outside(item, ':');
        if parts.len() > 3 {
            return Err(format!(
                "too many order_by field options in '{}'",
                shown(item)
            ));
        }
        let field = parts[0].trim();
        if field.is_empty() {
            return Err("empty field name in order_by_fields".into());
        }
        let desc = match parts.get(1).map(|d| d.trim().to_ascii_lowercase()) {
            None => false,
            Some(d) if d == "asc" || d == "ascending" => false,
            Some(d) if d == "desc" || d == "descending" => true,
            Some(d) => {
                return Err(format!(
                    "invalid order direction '{}' for field '{}', expected 'asc' or 'desc'",
                    shown(&d),
                    shown(field)
                ))
            }
        };
        let nulls_first = match parts.get(2).map(|n| n.trim().to_ascii_lowercase()) {
            None => None,
            Some(n) if n == "nulls_first" => Some(true),
            Some(n) if n == "nulls_last" => Some(false),
            Some(n) => {
                return Err(format!(
                    "invalid null ordering '{}', expected 'nulls_first' or 'nulls_last'",
                    shown(&n)
                ))
            }
        };
        keys.push(OrderKey {
            field: field.to_string(),
            desc,
            nulls_first,
        });
        if keys.len() > MAX_PROPERTIES {
            return Err(format!(
                "at most {MAX_PROPERTIES} order_by_fields are allowed"
            ));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse_with_paths_and_options() {
        let keys = order_by_fields(r#"price:asc, meta["a:b"]:DESC:nulls_last,rating"#).unwrap();
        assert_eq!(
            keys,
            vec![
                OrderKey {
                    field: "price".into(),
                    desc: false,
                    nulls_first: None
                },
                OrderKey {
                    field: r#"meta["a:b"]"#.into(),
                    desc: true,
                    nulls_first: Some(false)
                },
                OrderKey {
                    field: "rating".into(),
                    desc: false,
                    nulls_first: None
                },
            ]
        );
        assert!(order_by_fields("").unwrap().is_empty());
        assert!(order_by_fields("p:up")
            .unwrap_err()
            .contains("invalid order direction 'up'"));
        assert!(order_by_fields("p:asc:never")
            .unwrap_err()
            .contains("invalid null ordering"));
        assert!(order_by_fields("p:asc:nulls_last:x")
            .unwrap_err()
            .contains("too many"));
        assert!(order_by_fields(":asc")
            .unwrap_err()
            .contains("empty field name"));
    }
}
