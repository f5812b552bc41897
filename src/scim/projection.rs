//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a
//! response carries. Attributes `returned: always` (`id`, and `schemas`) are always there;
//! `returned: never` ones (`password`) never are, because they are never stored.

use serde_json::{Map, Value};

use super::attrs::{extension_urn, AttrLookup};

/// One named attribute, resolved against the resource type's schemas (in their canonical
/// spelling, which is how resources are rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// The extension URN the attribute lives under; None for the top level.
    extension: Option<String>,
    /// None: the whole extension object.
    name: Option<String>,
    sub: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Projection {
    include: Vec<Target>,
    exclude: Vec<Target>,
}

impl Projection {
    /// Parses the two comma-separated lists. Unknown names are ignored: asking for an
    /// attribute this server does not have simply returns nothing for it.
    pub fn parse(rt: &dyn AttrLookup, attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let list = |s: Option<&str>| -> Vec<Target> {
            s.unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|item| resolve(rt, item))
                .collect()
        };
        Self {
            include: list(attributes),
            exclude: list(excluded),
        }
    }

    /// From a SearchRequest's arrays (RFC 7644 §3.4.3).
    pub fn from_lists(rt: &dyn AttrLookup, attributes: &[String], excluded: &[String]) -> Self {
        Self::parse(rt, Some(&attributes.join(",")), Some(&excluded.join(",")))
    }

    /// Whether a top-level attribute of the core schema will be in the response; lets a
    /// handler skip loading what nobody asked for (a group's members, a user's groups).
    /// Whether the request named no attribute to return or leave out.
    pub fn is_default(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn returns(&self, name: &str) -> bool {
        let hit = |t: &Target| {
            t.extension.is_none()
                && t.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        if !self.include.is_empty() {
            return self.include.iter().any(hit);
        }
        !self.exclude.iter().any(|t| hit(t) && t.sub.is_none())
    }

    pub fn apply(&self, rt: &dyn AttrLookup, resource: Value) -> Value {
        let Value::Object(mut obj) = resource else {
            return resource;
        };
        if !self.include.is_empty() {
            let mut kept = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = obj.get(key) {
                    kept.insert(key.into(), v.clone());
                }
            }
            for t in &self.include {
                copy(&obj, &mut kept, t);
            }
            obj = kept;
        }
        for t in &self.exclude {
            let always = t.extension.is_none()
                && t.sub.is_none()
                && t.name.as_deref().is_some_and(|n| rt.returned_always(n));
            if !always {
                remove(&mut obj, t);
            }
        }
        Value::Object(obj)
    }
}

fn resolve(rt: &dyn AttrLookup, item: &str) -> Option<Target> {
    if let Some(ext) = extension_urn(rt, item) {
        return Some(Target {
            extension: Some(ext),
            name: None,
            sub: None,
        });
    }
    let (urn, path) = match item.rfind(':') {
        Some(i) if item[..i].to_ascii_lowercase().starts_with("urn:") => {
            (Some(&item[..i]), &item[i + 1..])
        }
        _ => (None, item),
    };
    let (name, sub) = match path.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (path, None),
    };
    let info = rt.attr(urn, name)?;
    let sub = match sub {
        Some(s) => Some(rt.sub_attr(&info, s)?.name),
        None => None,
    };
    Some(Target {
        extension: (!info.core).then_some(info.schema),
        name: Some(info.name),
        sub,
    })
}

fn container<'a>(obj: &'a Map<String, Value>, t: &Target) -> Option<&'a Map<String, Value>> {
    match &t.extension {
        None => Some(obj),
        Some(urn) => obj.get(urn).and_then(Value::as_object),
    }
}

fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, t: &Target) {
    let Some(src) = container(from, t) else {
        return;
    };
    let dst = match (&t.extension, &t.name) {
        (None, _) => to,
        (Some(urn), None) => {
            to.insert(urn.clone(), Value::Object(src.clone()));
            return;
        }
        (Some(urn), Some(_)) => to
            .entry(urn.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("an extension is an object"),
    };
    let Some(name) = t.name.as_deref() else {
        return;
    };
    let Some(value) = src.get(name) else { return };
    match t.sub.as_deref() {
        None => {
            dst.insert(name.into(), value.clone());
        }
        Some(sub) => {
            let pick = |v: &Value| v.get(sub).map(|s| serde_json::json!({ sub: s }));
            let picked = match value {
                Value::Array(items) => Value::Array(items.iter().filter_map(pick).collect()),
                other => match pick(other) {
                    Some(v) => v,
                    None => return,
                },
            };
            merge(dst.entry(name).or_insert(Value::Null), picked);
        }
    }
}

/// Merges two projections of the same attribute (`name.givenName,name.familyName`).
fn merge(into: &mut Value, add: Value) {
    match (into, add) {
        (Value::Object(a), Value::Object(b)) => a.extend(b),
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                merge(x, y);
            }
        }
        (slot, add) => *slot = add,
    }
}

fn remove(obj: &mut Map<String, Value>, t: &Target) {
    let target = match &t.extension {
        None => Some(obj),
        Some(urn) if t.name.is_none() => {
            obj.remove(urn);
            return;
        }
        Some(urn) => obj.get_mut(urn).and_then(Value::as_object_mut),
    };
    let (Some(container), Some(name)) = (target, t.name.as_deref()) else {
        return;
    };
    match t.sub.as_deref() {
        None => {
            container.remove(name);
        }
        Some(sub) => match container.get_mut(name) {
            Some(Value::Array(items)) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(|i| {
                    i.remove(sub);
                }),
            Some(Value::Object(o)) => {
                o.remove(sub);
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{ENTERPRISE_URN, USER};
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"schemas": ["s"], "id": "1", "userName": "u", "externalId": "x",
               "name": {"givenName": "G", "familyName": "F"},
               "emails": [{"value": "a@x", "type": "work"}],
               ENTERPRISE_URN: {"department": "D", "costCenter": "C"},
               "meta": {"version": "W/\"1\""}})
    }

    #[test]
    fn attributes_keep_only_what_is_asked_plus_always_returned() {
        let p = Projection::parse(&USER, Some("EXTERNALID,name.givenName,emails.value"), None);
        assert_eq!(
            p.apply(&USER, user()),
            json!({"schemas": ["s"], "id": "1", "externalId": "x", "name": {"givenName": "G"}, "emails": [{"value": "a@x"}]})
        );
        let p = Projection::parse(&USER, Some(&format!("{ENTERPRISE_URN}:department")), None);
        assert_eq!(
            p.apply(&USER, user())[ENTERPRISE_URN],
            json!({"department": "D"})
        );
    }

    #[test]
    fn excluded_attributes_go_but_id_stays() {
        let p = Projection::parse(
            &USER,
            None,
            Some(&format!("name,id,emails.type,{ENTERPRISE_URN}")),
        );
        let out = p.apply(&USER, user());
        assert!(out.get("name").is_none());
        assert_eq!(out["id"], "1");
        assert_eq!(out["emails"], json!([{"value": "a@x"}]));
        assert!(out.get(ENTERPRISE_URN).is_none());
        assert!(!p.returns("name") && p.returns("groups"));
    }
}
