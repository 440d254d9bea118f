//! The JSON edits of writes: merge patches, server-side apply's removal of fields a manager no
//! longer applies, and Secrets' `stringData`.

use serde_json::{json, Value};

/// Deep-merges `patch` into `target` (JSON merge patch: `null` removes, arrays replace).
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Removes from `target` the fields a manager applied before (`old`) and no longer applies
/// (`new`): what server-side apply does to fields only that manager owned.
pub(crate) fn drop_unapplied(target: &mut Value, old: &Value, new: &Value) {
    let (Some(t), Some(o)) = (target.as_object_mut(), old.as_object()) else {
        return;
    };
    for (k, ov) in o {
        match new.get(k) {
            None => {
                t.remove(k);
            }
            Some(nv) => {
                if let Some(tv) = t.get_mut(k) {
                    drop_unapplied(tv, ov, nv);
                }
            }
        }
    }
}

/// A Secret's `stringData` goes into `data` (base64), as the API server does.
pub(crate) fn string_data(obj: &mut Value) {
    if obj["kind"] != json!("Secret") {
        return;
    }
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    for (k, v) in strings {
        let bytes = k8s_openapi::ByteString(v.as_str().unwrap_or_default().as_bytes().to_vec());
        obj["data"][k] = serde_json::to_value(bytes).unwrap_or(Value::Null);
    }
}
