//! Writing prepared values into a resource: whole attributes, sub-attributes and filtered
//! elements (RFC 7644 §3.5.2.1-§3.5.2.3).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::value::Prepared;
use super::{
    invalid_value, is_members, member_id, mutability, no_target, OpKind, PatchError, Target,
};
use crate::scim::attrs::{
    self, get_ci, get_ci_mut, key_ci, remove_ci, set_ci, AttrInfo, AttrLookup, Mutability,
};
use crate::scim::filter::{self, CompareOp, Filter};

/// RFC 7643 §2.5: null, [] and {} all mean "unassigned".
fn is_assigned(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Runs `f` on the attribute's current value (None when absent) and stores the result,
/// creating or deleting the extension object as needed. `f` must validate before it changes
/// anything, so that an error leaves the value as it was.
fn update_attr(
    resource: &mut Value,
    t: &Target,
    attrs: &dyn AttrLookup,
    f: impl FnOnce(&mut Option<Value>) -> Result<(), PatchError>,
) -> Result<(), PatchError> {
    let info = &t.attr;
    let mut slot = attrs::container_mut(resource, info)
        .and_then(|c| get_ci_mut(c, &info.name))
        .map(std::mem::take);
    // RFC 7643 §7: an immutable attribute may be set when unassigned, never changed.
    let original = (info.mutability == Mutability::Immutable).then(|| slot.clone());
    let mut result = f(&mut slot);
    if let Some(original) = original {
        let was_set = original.as_ref().is_some_and(is_assigned);
        if result.is_ok() && was_set && slot != original {
            result = Err(mutability(format!(
                "attribute \"{}\" is immutable",
                info.name
            )));
        }
        if result.is_err() {
            slot = original;
        }
    }
    store(resource, info, slot.filter(is_assigned), attrs);
    result
}

fn store(resource: &mut Value, info: &AttrInfo, value: Option<Value>, attrs: &dyn AttrLookup) {
    let Some(root) = resource.as_object_mut() else {
        return;
    };
    let Some(value) = value else {
        if let Some(holder) = attrs::container_mut(resource, info) {
            remove_ci(holder, &info.name);
            if !info.core && holder.is_empty() {
                remove_extension(resource, &info.schema);
            }
        }
        return;
    };
    if info.core {
        set_ci(root, &info.name, value);
        return;
    }
    add_schema_urn(root, &info.schema, attrs);
    let key = key_ci(root, &info.schema)
        .unwrap_or(&info.schema)
        .to_owned();
    let holder = root.entry(key).or_insert(Value::Null);
    if !holder.is_object() {
        *holder = Value::Object(Map::new());
    }
    if let Some(holder) = holder.as_object_mut() {
        set_ci(holder, &info.name, value);
    }
}

/// Writing into an extension lists its URN in `schemas` (RFC 7643 §3).
fn add_schema_urn(root: &mut Map<String, Value>, urn: &str, attrs: &dyn AttrLookup) {
    match get_ci_mut(root, "schemas") {
        Some(Value::Array(list)) => {
            if !list
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
            {
                list.push(Value::String(urn.to_owned()));
            }
        }
        Some(_) => {}
        None => {
            let mut list: Vec<Value> = attrs
                .schema_urns()
                .into_iter()
                .take(1)
                .map(Value::String)
                .collect();
            list.push(Value::String(urn.to_owned()));
            root.insert("schemas".to_owned(), Value::Array(list));
        }
    }
}

pub(super) fn remove_extension(resource: &mut Value, urn: &str) {
    let Some(root) = resource.as_object_mut() else {
        return;
    };
    remove_ci(root, urn);
    if let Some(Value::Array(list)) = get_ci_mut(root, "schemas") {
        list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    }
}

fn take_array(slot: &mut Option<Value>) -> Vec<Value> {
    match slot.take() {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => vec![other],
    }
}

fn is_primary(element: &Value) -> bool {
    element
        .as_object()
        .and_then(|m| get_ci(m, "primary"))
        .is_some_and(|p| p == &Value::Bool(true))
}

/// RFC 7643 §2.4: at most one element is primary. Only elements that said `primary: true`
/// are touched, so no `primary: false` appears where the client sent none.
fn keep_one_primary(items: &mut [Value], keep: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep && is_primary(item) {
            if let Some(p) = item.as_object_mut().and_then(|m| get_ci_mut(m, "primary")) {
                *p = Value::Bool(false);
            }
        }
    }
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        if value.is_null() {
            remove_ci(into, &key);
        } else {
            set_ci(into, &key, value);
        }
    }
}

/// The whole attribute: no sub-attribute, no filter.
pub(super) fn write_whole(
    resource: &mut Value,
    kind: OpKind,
    t: &Target,
    p: Prepared,
    attrs: &dyn AttrLookup,
) -> Result<(), PatchError> {
    update_attr(resource, t, attrs, |slot| {
        match (kind, p) {
            (OpKind::Remove, Prepared::Many(listed)) => {
                let mut items = take_array(slot);
                items.retain(|e| !listed.iter().any(|l| same_listed(e, l)));
                *slot = Some(Value::Array(items));
            }
            (OpKind::Remove, _) | (OpKind::Replace, Prepared::Null) => *slot = None,
            (OpKind::Add, Prepared::Null) => {}
            (_, Prepared::One(v)) => *slot = Some(v),
            // RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes not given are kept.
            (_, Prepared::Object(obj)) => {
                let mut current = match slot.take() {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                merge(&mut current, obj);
                *slot = Some(Value::Object(current));
            }
            (OpKind::Replace, Prepared::Many(items)) => *slot = Some(Value::Array(items)),
            (OpKind::Add, Prepared::Many(new)) => {
                let mut items = take_array(slot);
                append(&mut items, new, is_members(&t.attr));
                *slot = Some(Value::Array(items));
            }
        }
        Ok(())
    })
}

/// Entra's `remove` with a value list: an element goes when its "value" equals a listed
/// "value", or when it equals a listed element outright.
fn same_listed(element: &Value, listed: &Value) -> bool {
    match listed.as_object().and_then(|m| get_ci(m, "value")) {
        Some(v) => element.as_object().and_then(|m| get_ci(m, "value")) == Some(v),
        None => element == listed,
    }
}

/// RFC 7644 §3.5.2.1: new values are appended; one equal to an existing value is not added
/// again. Members are the same member when their "value"s are equal.
fn append(items: &mut Vec<Value>, new: Vec<Value>, by_member_id: bool) {
    let mut ids: HashSet<String> = if by_member_id {
        items
            .iter()
            .filter_map(member_id)
            .map(str::to_owned)
            .collect()
    } else {
        HashSet::new()
    };
    let mut primary = None;
    for element in new {
        let duplicate = match member_id(&element).filter(|_| by_member_id) {
            Some(id) => !ids.insert(id.to_owned()),
            None => items.contains(&element),
        };
        if duplicate {
            continue;
        }
        if is_primary(&element) {
            primary = Some(items.len());
        }
        items.push(element);
    }
    if let Some(keep) = primary {
        keep_one_primary(items, keep);
    }
}

/// An immutable sub-attribute may be set where unassigned, never changed or removed.
fn check_sub_mutability<'a>(
    t: &Target,
    elements: impl IntoIterator<Item = &'a Value>,
    new: Option<&Value>,
) -> Result<(), PatchError> {
    let Some(sub) = &t.sub else { return Ok(()) };
    if !sub
        .info
        .as_ref()
        .is_some_and(|i| i.mutability == Mutability::Immutable)
    {
        return Ok(());
    }
    for element in elements {
        let old = element.as_object().and_then(|m| get_ci(m, &sub.name));
        if old.is_some_and(is_assigned) && old != new {
            return Err(mutability(format!(
                "attribute \"{}\" is immutable",
                t.label
            )));
        }
    }
    Ok(())
}

/// A sub-attribute without a filter: of the single complex value, or of every element of a
/// multi-valued attribute.
pub(super) fn write_sub(
    resource: &mut Value,
    kind: OpKind,
    t: &Target,
    p: Prepared,
    attrs: &dyn AttrLookup,
) -> Result<(), PatchError> {
    let Some(sub) = &t.sub else { return Ok(()) };
    let new = match (kind, p) {
        (OpKind::Remove, _) | (_, Prepared::Null) => None,
        (_, Prepared::One(v)) => Some(v),
        _ => {
            return Err(invalid_value(format!(
                "unexpected value for \"{}\"",
                t.label
            )))
        }
    };
    update_attr(resource, t, attrs, |slot| {
        if t.attr.multi_valued {
            let current = slot.as_ref().and_then(Value::as_array).map(Vec::as_slice);
            check_sub_mutability(t, current.unwrap_or_default(), new.as_ref())?;
            let mut items = take_array(slot);
            if items.is_empty() {
                if let Some(v) = new {
                    items.push(Value::Object(Map::from_iter([(sub.name.clone(), v)])));
                }
            } else {
                for element in items.iter_mut().filter_map(Value::as_object_mut) {
                    match &new {
                        Some(v) => set_ci(element, &sub.name, v.clone()),
                        None => {
                            remove_ci(element, &sub.name);
                        }
                    }
                }
            }
            *slot = Some(Value::Array(items));
        } else {
            check_sub_mutability(t, slot.as_ref(), new.as_ref())?;
            let mut current = match slot.take() {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            match new {
                Some(v) => set_ci(&mut current, &sub.name, v),
                None => {
                    remove_ci(&mut current, &sub.name);
                }
            }
            *slot = Some(Value::Object(current));
        }
        Ok(())
    })
}

/// The element a filter of equalities describes (`type eq "work"` → `{"type": "work"}`), or
/// None when the filter is anything else.
fn equality_template(
    filter: &Filter,
    parent: &AttrInfo,
    attrs: &dyn AttrLookup,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Filter::Compare(path, CompareOp::Eq, value)
                if path.urn.is_none() && path.sub.is_none() && !value.is_null() =>
            {
                let name = attrs
                    .sub_attr(parent, &path.name)
                    .map_or_else(|| path.name.clone(), |i| i.name);
                out.insert(name, value.clone());
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A path with a value filter (RFC 7644 §3.5.2 `valuePath [subAttr]`).
pub(super) fn write_filtered(
    resource: &mut Value,
    kind: OpKind,
    t: &Target,
    filter: &Filter,
    p: Prepared,
    attrs: &dyn AttrLookup,
) -> Result<(), PatchError> {
    update_attr(resource, t, attrs, |slot| {
        let current = slot.as_ref().and_then(Value::as_array);
        let matched: Vec<usize> = current
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, e)| filter::matches_element(filter, e, &t.attr, attrs))
            .map(|(i, _)| i)
            .collect();
        let new_sub = match &p {
            Prepared::One(v) if kind != OpKind::Remove => Some(v),
            _ => None,
        };
        if let Some(current) = current {
            check_sub_mutability(t, matched.iter().map(|i| &current[*i]), new_sub)?;
        }
        if matched.is_empty() {
            if kind == OpKind::Remove || matches!(p, Prepared::Null) {
                return Ok(());
            }
            // Entra replaces `emails[type eq "work"].value` on users that have no work email:
            // add the element the filter describes.
            let Some(mut element) = equality_template(filter, &t.attr, attrs) else {
                return Err(no_target(format!(
                    "no value of \"{}\" matches [{filter}]",
                    t.attr.name
                )));
            };
            match (&t.sub, p) {
                (Some(sub), Prepared::One(v)) => set_ci(&mut element, &sub.name, v),
                (None, Prepared::Object(obj)) => merge(&mut element, obj),
                _ => {}
            }
            let mut items = take_array(slot);
            let primary = get_ci(&element, "primary") == Some(&Value::Bool(true));
            items.push(Value::Object(element));
            if primary {
                let last = items.len() - 1;
                keep_one_primary(&mut items, last);
            }
            *slot = Some(Value::Array(items));
            return Ok(());
        }
        let mut items = take_array(slot);
        let mut primary = None;
        for &i in &matched {
            let element = &mut items[i];
            match (kind, &t.sub, &p) {
                (OpKind::Remove, Some(sub), _) | (_, Some(sub), Prepared::Null) => {
                    if let Some(m) = element.as_object_mut() {
                        remove_ci(m, &sub.name);
                    }
                }
                (OpKind::Remove, None, _) | (_, None, Prepared::Null) => *element = Value::Null,
                (_, Some(sub), Prepared::One(v)) => {
                    if let Some(m) = element.as_object_mut() {
                        set_ci(m, &sub.name, v.clone());
                    }
                }
                (OpKind::Replace, None, Prepared::Object(obj)) => {
                    let mut obj = obj.clone();
                    obj.retain(|_, v| !v.is_null());
                    *element = Value::Object(obj);
                }
                (_, None, Prepared::Object(obj)) => {
                    if let Some(m) = element.as_object_mut() {
                        merge(m, obj.clone());
                    }
                }
                _ => {}
            }
            if is_primary(element) {
                primary = Some(i);
            }
        }
        if let Some(keep) = primary.filter(|_| kind != OpKind::Remove) {
            keep_one_primary(&mut items, keep);
        }
        items.retain(|e| !e.is_null());
        *slot = Some(Value::Array(items));
        Ok(())
    })
}
