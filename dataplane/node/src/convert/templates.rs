//! The values of a filter expression's `{name}` placeholders (search, query, delete).

use std::collections::HashMap;

use quarry_proto::schema::{self as ps, template_array_value, template_value, TemplateValue};
use quarry_types::limits::MAX_EXPR_LIST;
use quarry_types::Value;

use super::ConvResult;

fn template_array(a: &ps::TemplateArrayValue) -> serde_json::Value {
    use template_array_value::Data;
    match &a.data {
        Some(Data::BoolData(x)) => x.data.iter().map(|b| serde_json::Value::Bool(*b)).collect(),
        Some(Data::LongData(x)) => x.data.iter().map(|i| serde_json::Value::from(*i)).collect(),
        Some(Data::DoubleData(x)) => x.data.iter().map(|f| serde_json::Value::from(*f)).collect(),
        Some(Data::StringData(x)) => x
            .data
            .iter()
            .map(|s| serde_json::Value::from(s.clone()))
            .collect(),
        Some(Data::ArrayData(x)) => x.data.iter().map(template_array).collect(),
        Some(Data::JsonData(x)) => x
            .data
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap_or(serde_json::Value::Null))
            .collect(),
        None => serde_json::Value::Array(vec![]),
    }
}

/// Elements of a template array, nested arrays' included (saturating).
fn template_elements(a: &ps::TemplateArrayValue) -> usize {
    use template_array_value::Data;
    match &a.data {
        Some(Data::BoolData(x)) => x.data.len(),
        Some(Data::LongData(x)) => x.data.len(),
        Some(Data::DoubleData(x)) => x.data.len(),
        Some(Data::StringData(x)) => x.data.len(),
        Some(Data::JsonData(x)) => x.data.len(),
        Some(Data::ArrayData(x)) => x
            .data
            .iter()
            .fold(x.data.len(), |n, a| n.saturating_add(template_elements(a))),
        None => 0,
    }
}

/// The values of an expression's `{name}` placeholders. Array values count against
/// `MAX_EXPR_LIST` together, before any is converted (a packed bool array costs one byte a
/// value on the wire and far more once converted).
pub fn templates(map: &HashMap<String, TemplateValue>) -> ConvResult<HashMap<String, Value>> {
    let elements = map
        .values()
        .filter_map(|v| match &v.val {
            Some(template_value::Val::ArrayVal(a)) => Some(template_elements(a)),
            _ => None,
        })
        .fold(0usize, usize::saturating_add);
    if elements > MAX_EXPR_LIST {
        return Err(format!(
            "the template values of the expression hold {elements} array elements, more than \
             the limit of {MAX_EXPR_LIST}"
        ));
    }
    Ok(map
        .iter()
        .map(|(k, v)| {
            let value = match &v.val {
                Some(template_value::Val::BoolVal(b)) => Value::Bool(*b),
                Some(template_value::Val::Int64Val(i)) => Value::Int(*i),
                Some(template_value::Val::FloatVal(f)) => Value::Float(*f),
                Some(template_value::Val::StringVal(s)) => Value::Str(s.clone()),
                Some(template_value::Val::ArrayVal(a)) => Value::Json(template_array(a)),
                None => Value::Null,
            };
            (k.clone(), value)
        })
        .collect())
}
