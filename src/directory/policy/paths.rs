//! Attribute paths as the policy settings name them (RFC 7644 §3.10 `attrPath` and
//! `valuePath`): `userName`, `name.givenName`, `emails[type eq "work"].value`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`; and a user
//! seen as its SCIM representation, so that a path reads the same thing a client wrote.
//! Attribute names compare case-insensitively (RFC 7643 §2.1).

use serde_json::{Map, Value};

use crate::directory::users::{Profile, UserData};
use crate::grammar::{self, CompareOp, Filter};

use crate::urn::{ENTERPRISE_URN, USER_URN};

/// The User attributes a client writes (RFC 7643 §4.1), as spelled in the profile.
const CORE: &[&str] = &[
    "userName",
    "externalId",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "roles",
    "entitlements",
    "x509Certificates",
];

const NAME_SUBS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];

const MULTI_SUBS: &[&str] = &["value", "display", "type", "primary"];

const ADDRESS_SUBS: &[&str] = &[
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
];

/// One parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The schema URN it names, None for the core schema.
    pub urn: Option<String>,
    pub attr: String,
    /// `[sub eq value and ...]` on a multi-valued attribute.
    pub filter: Vec<(String, Value)>,
    pub sub: Option<String>,
}

/// Parses a path with the SCIM grammar ([`crate::grammar`]), as a PATCH path is parsed; a
/// value filter here is equality tests joined by `and`, since it picks the value a policy
/// reads or writes. The error says what is wrong with the path.
pub fn parse(path: &str) -> Result<Path, String> {
    let why = |why: &dyn std::fmt::Display| format!("{path:?} is not an attribute path: {why}");
    let (head, filter, tail) = grammar::parse_value_path(path.trim()).map_err(|e| why(&e))?;
    let mut tests = vec![];
    if let Some(filter) = &filter {
        equalities(filter, &mut tests).map_err(|e| why(&e))?;
    }
    let urn = head.urn.filter(|u| !u.eq_ignore_ascii_case(USER_URN));
    Ok(Path {
        urn,
        attr: head.name,
        filter: tests,
        sub: head.sub.or(tail),
    })
}

/// `type eq "work" and primary eq true`, as (sub-attribute, value) pairs.
fn equalities(filter: &Filter, out: &mut Vec<(String, Value)>) -> Result<(), &'static str> {
    match filter {
        Filter::And(a, b) => {
            equalities(a, out)?;
            equalities(b, out)
        }
        Filter::Compare(path, CompareOp::Eq, value) if path.urn.is_none() && path.sub.is_none() => {
            out.push((path.name.clone(), value.clone()));
            Ok(())
        }
        _ => Err("a value filter here is sub eq value, joined by and"),
    }
}

/// Checks paths for a setting: each parses, and a core attribute is one a client writes,
/// with a sub-attribute it has. Names of extension attributes are the organisation's own.
pub fn check_paths(paths: &[String]) -> Result<(), String> {
    for text in paths {
        let p = parse(text)?;
        if p.urn.is_some() {
            continue;
        }
        let Some(attr) = canonical(CORE, &p.attr) else {
            return Err(format!(
                "{text:?}: {} is not a User attribute a client writes ({})",
                p.attr,
                CORE.join(", ")
            ));
        };
        let subs: &[&str] = match attr {
            "name" => NAME_SUBS,
            "addresses" => ADDRESS_SUBS,
            a if is_multi(a) => MULTI_SUBS,
            _ => &[],
        };
        if !p.filter.is_empty() && !is_multi(attr) {
            return Err(format!(
                "{text:?}: {attr} is not multi-valued, so it takes no filter"
            ));
        }
        for sub in p.sub.iter().chain(p.filter.iter().map(|(s, _)| s)) {
            if canonical(subs, sub).is_none() {
                return Err(format!("{text:?}: {attr} has no sub-attribute {sub}"));
            }
        }
    }
    Ok(())
}

fn is_multi(attr: &str) -> bool {
    matches!(
        attr,
        "emails"
            | "phoneNumbers"
            | "ims"
            | "photos"
            | "addresses"
            | "roles"
            | "entitlements"
            | "x509Certificates"
    )
}

/// The spelling of `name` in `names`, compared case-insensitively.
pub fn canonical<'a>(names: &[&'a str], name: &str) -> Option<&'a str> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

/// The core attribute `name` as the profile spells it, if it is one.
pub fn core_name(name: &str) -> Option<&'static str> {
    canonical(CORE, name).or_else(|| canonical(NAME_SUBS, name))
}

/// A member of an object by name, compared case-insensitively.
pub fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The user about to be written as its SCIM representation: core attributes at the top,
/// each extension's attributes under its URN.
pub fn view(data: &UserData) -> Value {
    let mut root = profile_view(&data.profile);
    root.insert("userName".into(), Value::from(data.user_name.as_str()));
    if let Some(x) = &data.external_id {
        root.insert("externalId".into(), Value::from(x.as_str()));
    }
    Value::Object(root)
}

fn profile_view(profile: &Profile) -> Map<String, Value> {
    let Value::Object(mut root) = serde_json::to_value(profile).expect("a profile serialises")
    else {
        unreachable!("a profile is an object")
    };
    root.remove("activeRemoved");
    let enterprise = root.remove("enterprise");
    let extensions = root.remove("extensions");
    if let Some(Value::Object(e)) = enterprise {
        root.insert(ENTERPRISE_URN.into(), Value::Object(e));
    }
    if let Some(Value::Object(exts)) = extensions {
        for (urn, attrs) in exts {
            // Attributes of the enterprise URN may be kept in either place: merge them.
            if let (true, Some(Value::Object(e)), Value::Object(more)) = (
                urn.eq_ignore_ascii_case(ENTERPRISE_URN),
                root.get_mut(ENTERPRISE_URN),
                &attrs,
            ) {
                for (k, v) in more {
                    e.entry(k.clone()).or_insert_with(|| v.clone());
                }
            } else {
                root.insert(urn, attrs);
            }
        }
    }
    root
}

/// A profile as its SCIM representation (without userName and externalId).
pub fn profile_view_of(profile: &Profile) -> Value {
    Value::Object(profile_view(profile))
}

/// Sets a single-valued attribute that a path names (no filter) to `value`, where the
/// profile keeps it: a core attribute or `name` sub-attribute; an attribute of the
/// enterprise extension (among its own fields when the profile has one by that name, else
/// with the other extension attributes); an attribute of another extension. False when
/// the profile has no place for it (the value would not be kept).
pub fn set_value(profile: &mut Profile, path: &Path, value: Value) -> bool {
    if !path.filter.is_empty() {
        return false;
    }
    let Value::Object(json) = serde_json::to_value(&*profile).expect("a profile serialises") else {
        return false;
    };
    let mut tries: Vec<Map<String, Value>> = vec![];
    match &path.urn {
        None => {
            let Some(attr) = core_name(&path.attr) else {
                return false;
            };
            let mut j = json.clone();
            put(&mut j, attr, path.sub.as_deref(), value.clone());
            tries.push(j);
        }
        Some(urn) => {
            if urn.eq_ignore_ascii_case(ENTERPRISE_URN) {
                let mut j = json.clone();
                let e = object_at(&mut j, "enterprise");
                put(e, &path.attr, path.sub.as_deref(), value.clone());
                tries.push(j);
            }
            let mut j = json;
            let exts = object_at(&mut j, "extensions");
            let key = exts
                .keys()
                .find(|k| k.eq_ignore_ascii_case(urn))
                .cloned()
                .unwrap_or_else(|| urn.clone());
            put(
                object_at(exts, &key),
                &path.attr,
                path.sub.as_deref(),
                value.clone(),
            );
            tries.push(j);
        }
    }
    for j in tries {
        let Ok(candidate) = serde_json::from_value::<Profile>(Value::Object(j)) else {
            continue;
        };
        // The profile drops what it has no field for: keep only a write that reads back.
        if values(&profile_view_of(&candidate), path).first() == first_of(&value).as_ref() {
            *profile = candidate;
            return true;
        }
    }
    false
}

fn first_of(value: &Value) -> Option<&Value> {
    match value {
        Value::Array(items) => items.first(),
        v => Some(v),
    }
}

/// The object member `key` (spelled as already there, in any case), made an object.
fn object_at<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let key = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .unwrap_or_else(|| key.to_string());
    let slot = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("made an object")
}

fn put(obj: &mut Map<String, Value>, attr: &str, sub: Option<&str>, value: Value) {
    match sub {
        None => {
            let key = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case(attr))
                .cloned()
                .unwrap_or_else(|| attr.to_string());
            obj.insert(key, value);
        }
        Some(sub) => {
            let sub = core_name(sub).unwrap_or(sub).to_string();
            put(object_at(obj, attr), &sub, None, value)
        }
    }
}

/// The values a path reaches in a view: each string, number or boolean, in order. A
/// multi-valued attribute contributes each of its (matching) members.
pub fn values<'a>(view: &'a Value, path: &Path) -> Vec<&'a Value> {
    let Value::Object(root) = view else {
        return vec![];
    };
    let scope = match &path.urn {
        None => Some(root),
        Some(urn) => member(root, urn).and_then(Value::as_object),
    };
    let Some(found) = scope.and_then(|s| member(s, &path.attr)) else {
        return vec![];
    };
    let members: Vec<&Value> = match found {
        Value::Array(items) => items
            .iter()
            .filter(|item| matches(item, &path.filter))
            .collect(),
        one if path.filter.is_empty() => vec![one],
        _ => vec![],
    };
    let mut out = vec![];
    for m in members {
        let v = match (&path.sub, m) {
            (None, v) => Some(v),
            (Some(sub), Value::Object(obj)) => member(obj, sub),
            (Some(_), _) => None,
        };
        match v {
            Some(Value::Array(items)) => out.extend(items.iter()),
            Some(v) => out.push(v),
            None => {}
        }
    }
    out
}

fn matches(item: &Value, filter: &[(String, Value)]) -> bool {
    filter.iter().all(|(sub, wanted)| {
        let got = item.as_object().and_then(|o| member(o, sub));
        match (got, wanted) {
            // Sub-attributes such as `type` are not case-exact (RFC 7643 §4.1.2).
            (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (Some(a), b) => a == b,
            (None, _) => false,
        }
    })
}

/// Whether a value counts as there (RFC 7644 §3.4.2.2 `pr`): not null, not an empty or
/// blank string, and a complex or multi-valued one holds something that is there.
pub fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(items) => items.iter().any(present),
        Value::Object(obj) => obj.values().any(present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Path {
        parse(s).unwrap()
    }

    #[test]
    fn paths_parse_with_urns_filters_and_sub_attributes() {
        assert_eq!(p("userName").attr, "userName");
        let given = p("name.givenName");
        assert_eq!(
            (given.attr.as_str(), given.sub.as_deref()),
            ("name", Some("givenName"))
        );
        let work = p(r#"emails[type eq "work"].value"#);
        assert_eq!(work.filter, vec![("type".to_string(), json!("work"))]);
        assert_eq!(work.sub.as_deref(), Some("value"));
        let both = p(r#"emails[type eq "work" and primary eq true]"#);
        assert_eq!(both.filter.len(), 2);
        assert!(both.sub.is_none());
        let emp = p(&format!("{ENTERPRISE_URN}:employeeNumber"));
        assert_eq!(emp.urn.as_deref(), Some(ENTERPRISE_URN));
        assert_eq!(emp.attr, "employeeNumber");
        let mgr = p(&format!("{ENTERPRISE_URN}:manager.value"));
        assert_eq!(mgr.sub.as_deref(), Some("value"));
        let core = p(&format!("{USER_URN}:name.familyName"));
        assert!(core.urn.is_none());
        // The grammar is the one PATCH paths use, which reads a bare word as a string.
        assert_eq!(
            p("emails[type eq work]").filter,
            vec![("type".to_string(), json!("work"))]
        );
        for wrong in [
            "",
            "name.",
            "emails[type eq \"work\"",
            "emails[type ne \"work\"]",
            "emails[type pr]",
            "emails[type eq \"work\" or primary eq true]",
            "1name",
            "urn:x",
            "emails.value[type eq \"x\"]",
        ] {
            assert!(parse(wrong).is_err(), "{wrong:?} should not parse");
        }
    }

    #[test]
    fn check_paths_knows_the_core_attributes_but_not_extension_ones() {
        let ok = |s: &str| check_paths(&[s.to_string()]);
        assert!(ok("NAME.givenname").is_ok());
        assert!(ok(r#"emails[type eq "work"].value"#).is_ok());
        assert!(ok("phoneNumbers.value").is_ok());
        assert!(ok("urn:example:params:scim:schemas:extension:acme:2.0:User:klueRole").is_ok());
        assert!(ok("nmae.givenName").unwrap_err().contains("nmae"));
        assert!(ok("name.nickname").unwrap_err().contains("nickname"));
        assert!(ok(r#"title[type eq "x"]"#).is_err());
        assert!(ok("password").is_err());
    }

    #[test]
    fn values_walk_the_view_case_insensitively() {
        let view = json!({
            "userName": "ada",
            "name": {"givenName": "Ada", "familyName": " "},
            "emails": [
                {"value": "home@x.test", "type": "home"},
                {"value": "work@x.test", "type": "Work"}
            ],
            ENTERPRISE_URN: {"employeeNumber": "7"}
        });
        let get = |s: &str| -> Vec<Value> { values(&view, &p(s)).into_iter().cloned().collect() };
        assert_eq!(get("NAME.GIVENNAME"), vec![json!("Ada")]);
        assert!(
            !get("name.familyName").iter().any(present),
            "blank is absent"
        );
        assert_eq!(
            get(r#"emails[type eq "work"].value"#),
            vec![json!("work@x.test")]
        );
        assert_eq!(get("emails.value").len(), 2);
        assert!(get(r#"emails[type eq "other"].value"#).is_empty());
        assert_eq!(
            get(&format!("{}:EMPLOYEENUMBER", ENTERPRISE_URN.to_uppercase())),
            vec![json!("7")]
        );
        assert!(get("title").is_empty());
    }
}
