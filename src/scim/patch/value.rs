//! Checking and converting request values for their target (RFC 7643 §2.3 types).

use serde_json::{Map, Value};

use super::{invalid_value, PatchError, Target};
use crate::scim::attrs::{AttrInfo, AttrLookup, AttrType};

/// A request value checked and converted for its target.
pub(super) enum Prepared {
    /// null (or an empty array for a single-valued complex attribute): unassign.
    Null,
    /// A simple value, or the value of a sub-attribute.
    One(Value),
    /// A complex value to merge (nulls inside mean "unassign that sub-attribute").
    Object(Map<String, Value>),
    /// Elements of a multi-valued attribute.
    Many(Vec<Value>),
}

pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 7643 §2.3 type check; booleans also accept "true"/"false" in any case (Entra sends
/// `"value": "False"`).
fn coerce_simple(info: &AttrInfo, label: &str, v: &Value) -> Result<Value, PatchError> {
    let (ok, expected) = match info.ty {
        AttrType::Boolean => match v {
            Value::Bool(_) => (Some(v.clone()), ""),
            Value::String(s) if s.eq_ignore_ascii_case("true") => (Some(Value::Bool(true)), ""),
            Value::String(s) if s.eq_ignore_ascii_case("false") => (Some(Value::Bool(false)), ""),
            _ => (None, "a boolean"),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime => {
            (v.is_string().then(|| v.clone()), "a string")
        }
        AttrType::Integer => ((v.is_i64() || v.is_u64()).then(|| v.clone()), "an integer"),
        AttrType::Decimal => (v.is_number().then(|| v.clone()), "a number"),
        AttrType::Complex => (v.is_object().then(|| v.clone()), "an object"),
    };
    ok.ok_or_else(|| {
        invalid_value(format!(
            "attribute \"{label}\" must be {expected}, not {}",
            json_kind(v)
        ))
    })
}

/// A complex value with its declared sub-attributes type-checked and spelled canonically.
/// A bare scalar stands for `{"value": scalar}` when the attribute has a "value".
fn coerce_complex(
    info: &AttrInfo,
    label: &str,
    v: &Value,
    attrs: &dyn AttrLookup,
) -> Result<Map<String, Value>, PatchError> {
    let obj = match v {
        Value::Object(obj) => obj,
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            if let Some(value_info) = attrs.sub_attr(info, "value") {
                let value = coerce_simple(&value_info, &format!("{label}.value"), v)?;
                return Ok(Map::from_iter([(value_info.name, value)]));
            }
            return Err(invalid_value(format!(
                "attribute \"{label}\" must be an object, not {}",
                json_kind(v)
            )));
        }
        _ => {
            return Err(invalid_value(format!(
                "attribute \"{label}\" must be an object, not {}",
                json_kind(v)
            )))
        }
    };
    let mut out = Map::new();
    for (key, sv) in obj {
        match attrs.sub_attr(info, key) {
            Some(si) if sv.is_null() => {
                out.insert(si.name, Value::Null);
            }
            Some(si) => {
                let value = coerce_simple(&si, &format!("{label}.{}", si.name), sv)?;
                out.insert(si.name, value);
            }
            None => {
                out.insert(key.clone(), sv.clone());
            }
        }
    }
    Ok(out)
}

/// One element of a multi-valued attribute, without null sub-attributes (RFC 7643 §2.5: null
/// is unassigned).
fn coerce_element(
    info: &AttrInfo,
    label: &str,
    v: &Value,
    attrs: &dyn AttrLookup,
) -> Result<Value, PatchError> {
    if info.ty != AttrType::Complex {
        return coerce_simple(info, label, v);
    }
    let mut obj = coerce_complex(info, label, v, attrs)?;
    obj.retain(|_, v| !v.is_null());
    Ok(Value::Object(obj))
}

pub(super) fn prepare(
    t: &Target,
    filtered: bool,
    value: &Value,
    attrs: &dyn AttrLookup,
) -> Result<Prepared, PatchError> {
    if value.is_null() {
        return Ok(Prepared::Null);
    }
    if let Some(sub) = &t.sub {
        return Ok(Prepared::One(match &sub.info {
            Some(info) => coerce_simple(info, &t.label, value)?,
            None => value.clone(),
        }));
    }
    if filtered {
        return Ok(Prepared::Object(coerce_complex(
            &t.attr, &t.label, value, attrs,
        )?));
    }
    if t.attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
            single => vec![single],
        };
        let elements = items
            .into_iter()
            .map(|v| coerce_element(&t.attr, &t.label, v, attrs))
            .collect::<Result<_, _>>()?;
        return Ok(Prepared::Many(elements));
    }
    if t.attr.ty == AttrType::Complex {
        // Entra sends `manager` as a one-element array.
        let single = match value {
            Value::Array(items) if items.is_empty() => return Ok(Prepared::Null),
            Value::Array(items) if items.len() == 1 => &items[0],
            Value::Array(items) => {
                return Err(invalid_value(format!(
                    "attribute \"{}\" is single-valued, but {} values were given",
                    t.label,
                    items.len()
                )))
            }
            v => v,
        };
        if single.is_null() {
            return Ok(Prepared::Null);
        }
        return Ok(Prepared::Object(coerce_complex(
            &t.attr, &t.label, single, attrs,
        )?));
    }
    Ok(Prepared::One(coerce_simple(&t.attr, &t.label, value)?))
}
