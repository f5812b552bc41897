//! Attribute metadata as the filter and PATCH engines see it, plus the JSON helpers they share.
//!
//! Resources are plain `serde_json::Value`s in SCIM JSON form: core attributes at the top level,
//! extension attributes in an object under their schema URN (RFC 7643 §3.3). Attribute names
//! are case-insensitive (RFC 7643 §2.1), so every lookup here ignores case, and every write
//! keeps the spelling already present in the resource.

use serde_json::{Map, Value};

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// One resolved attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrInfo {
    /// URN of the schema it belongs to (the core URN for core and common attributes).
    pub schema: String,
    /// Canonical spelling, e.g. "userName".
    pub name: String,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    /// True: lives at the top level of the resource; false: under `resource[schema]`.
    pub core: bool,
}

/// The schema of one resource type, as far as the engines need it.
pub trait AttrLookup {
    /// `urn` None = unqualified name: look in the core schema first, then in the extensions
    /// (Entra sends bare "manager" for the enterprise manager). Names match case-insensitively.
    /// Common attributes id, externalId, meta must resolve too (meta is Complex, ReadOnly).
    fn attr(&self, urn: Option<&str>, name: &str) -> Option<AttrInfo>;
    /// A sub-attribute of a complex attribute (e.g. emails.value, name.givenName, meta.created,
    /// manager.value). For multi-valued complex attributes without declared sub-attributes,
    /// return None.
    fn sub_attr(&self, parent: &AttrInfo, name: &str) -> Option<AttrInfo>;
    /// The schema URNs of this resource type: core first, then extensions (exact canonical
    /// spelling).
    fn schema_urns(&self) -> Vec<String>;
    /// Whether the top-level attribute `name` is `returned: always` (RFC 7643 §7), which
    /// `excludedAttributes` cannot remove.
    fn returned_always(&self, _name: &str) -> bool {
        false
    }
}

/// The extension URN that `name` spells (case-insensitively), in its canonical spelling.
pub fn extension_urn(attrs: &dyn AttrLookup, name: &str) -> Option<String> {
    attrs
        .schema_urns()
        .into_iter()
        .skip(1)
        .find(|urn| urn.eq_ignore_ascii_case(name))
}

/// The key of `map` that equals `key` ignoring case, in the spelling the map uses.
pub fn key_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    if let Some((k, _)) = map.get_key_value(key) {
        return Some(k.as_str());
    }
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .map(String::as_str)
}

/// Case-insensitive `Map::get` (RFC 7643 §2.1).
pub fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match map.get(key) {
        Some(v) => Some(v),
        None => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v),
    }
}

/// Case-insensitive `Map::get_mut`.
/// Like [`get_ci`], with `null` counted as absent (RFC 7643 §2.5: unassigned attributes
/// may be sent as null).
pub fn get_present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    get_ci(map, key).filter(|v| !v.is_null())
}

pub fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    if map.contains_key(key) {
        return map.get_mut(key);
    }
    map.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Case-insensitive `Map::remove`.
pub fn remove_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let k = key_ci(map, key)?.to_owned();
    map.remove(&k)
}

/// Sets `key`, reusing the spelling of an existing key that differs only in case.
pub fn set_ci(map: &mut Map<String, Value>, key: &str, value: Value) {
    match get_ci_mut(map, key) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

/// The object that holds `info`: the resource itself for core attributes, or the object under
/// the extension URN (RFC 7643 §3.3). None when that object is absent.
pub fn container<'a>(resource: &'a Value, info: &AttrInfo) -> Option<&'a Map<String, Value>> {
    let root = resource.as_object()?;
    if info.core {
        Some(root)
    } else {
        get_ci(root, &info.schema)?.as_object()
    }
}

/// Mutable counterpart of [`container`]; it never creates the extension object.
pub fn container_mut<'a>(
    resource: &'a mut Value,
    info: &AttrInfo,
) -> Option<&'a mut Map<String, Value>> {
    let root = resource.as_object_mut()?;
    if info.core {
        Some(root)
    } else {
        get_ci_mut(root, &info.schema)?.as_object_mut()
    }
}

/// The current value of `info` in `resource`, if any.
pub fn lookup<'a>(resource: &'a Value, info: &AttrInfo) -> Option<&'a Value> {
    get_ci(container(resource, info)?, &info.name)
}

#[cfg(test)]
pub(crate) mod test_schema {
    //! A small [`AttrLookup`] for the engine tests: RFC 7643 §8.7.1 User, Group and the
    //! enterprise extension, reduced to what the tests exercise.

    use super::{AttrInfo, AttrLookup, AttrType, Mutability};
    use AttrType::*;
    use Mutability::*;

    pub(crate) use crate::urn::{
        ENTERPRISE_URN as ENTERPRISE, GROUP_URN as GROUP, USER_URN as USER,
    };

    /// (name, type, caseExact, mutability)
    type Sub = (&'static str, AttrType, bool, Mutability);

    struct Def {
        schema: &'static str,
        name: &'static str,
        ty: AttrType,
        multi: bool,
        case_exact: bool,
        mutability: Mutability,
        subs: &'static [Sub],
    }

    const fn def(schema: &'static str, name: &'static str, ty: AttrType) -> Def {
        Def {
            schema,
            name,
            ty,
            multi: false,
            case_exact: false,
            mutability: ReadWrite,
            subs: &[],
        }
    }

    const fn complex(
        schema: &'static str,
        name: &'static str,
        multi: bool,
        subs: &'static [Sub],
    ) -> Def {
        Def {
            schema,
            name,
            ty: Complex,
            multi,
            case_exact: false,
            mutability: ReadWrite,
            subs,
        }
    }

    const MULTI_SUBS: &[Sub] = &[
        ("value", String, false, ReadWrite),
        ("display", String, false, ReadWrite),
        ("type", String, false, ReadWrite),
        ("primary", Boolean, false, ReadWrite),
    ];
    const X509_SUBS: &[Sub] = &[
        ("value", Binary, true, ReadWrite),
        ("display", String, false, ReadWrite),
        ("type", String, false, ReadWrite),
        ("primary", Boolean, false, ReadWrite),
    ];
    const NAME_SUBS: &[Sub] = &[
        ("formatted", String, false, ReadWrite),
        ("familyName", String, false, ReadWrite),
        ("givenName", String, false, ReadWrite),
        ("middleName", String, false, ReadWrite),
        ("honorificPrefix", String, false, ReadWrite),
        ("honorificSuffix", String, false, ReadWrite),
    ];
    const ADDRESS_SUBS: &[Sub] = &[
        ("formatted", String, false, ReadWrite),
        ("streetAddress", String, false, ReadWrite),
        ("locality", String, false, ReadWrite),
        ("region", String, false, ReadWrite),
        ("postalCode", String, false, ReadWrite),
        ("country", String, false, ReadWrite),
        ("type", String, false, ReadWrite),
        ("primary", Boolean, false, ReadWrite),
    ];
    const GROUPS_SUBS: &[Sub] = &[
        ("value", String, false, ReadOnly),
        ("$ref", Reference, true, ReadOnly),
        ("display", String, false, ReadOnly),
        ("type", String, false, ReadOnly),
    ];
    const MEMBERS_SUBS: &[Sub] = &[
        ("value", String, true, Immutable),
        ("$ref", Reference, true, Immutable),
        ("type", String, false, Immutable),
        ("display", String, false, ReadWrite),
    ];
    const MANAGER_SUBS: &[Sub] = &[
        ("value", String, true, ReadWrite),
        ("$ref", Reference, true, ReadWrite),
        ("displayName", String, false, ReadOnly),
    ];
    const META_SUBS: &[Sub] = &[
        ("resourceType", String, true, ReadOnly),
        ("created", DateTime, false, ReadOnly),
        ("lastModified", DateTime, false, ReadOnly),
        ("location", Reference, true, ReadOnly),
        ("version", String, true, ReadOnly),
    ];

    fn common(core: &'static str) -> Vec<Def> {
        vec![
            Def {
                case_exact: true,
                mutability: ReadOnly,
                ..def(core, "id", String)
            },
            Def {
                case_exact: true,
                ..def(core, "externalId", String)
            },
            Def {
                mutability: ReadOnly,
                ..complex(core, "meta", false, META_SUBS)
            },
        ]
    }

    pub(crate) struct TestSchema {
        urns: Vec<&'static str>,
        defs: Vec<Def>,
    }

    /// User with the enterprise extension.
    pub(crate) fn user() -> TestSchema {
        let mut defs = common(USER);
        for name in [
            "userName",
            "displayName",
            "nickName",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
        ] {
            defs.push(def(USER, name, String));
        }
        defs.push(def(USER, "profileUrl", Reference));
        defs.push(def(USER, "active", Boolean));
        defs.push(Def {
            case_exact: true,
            mutability: WriteOnly,
            ..def(USER, "password", String)
        });
        defs.push(complex(USER, "name", false, NAME_SUBS));
        for name in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
        ] {
            defs.push(complex(USER, name, true, MULTI_SUBS));
        }
        defs.push(complex(USER, "x509Certificates", true, X509_SUBS));
        defs.push(complex(USER, "addresses", true, ADDRESS_SUBS));
        defs.push(Def {
            mutability: ReadOnly,
            ..complex(USER, "groups", true, GROUPS_SUBS)
        });
        for name in [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
        ] {
            defs.push(def(ENTERPRISE, name, String));
        }
        defs.push(complex(ENTERPRISE, "manager", false, MANAGER_SUBS));
        TestSchema {
            urns: vec![USER, ENTERPRISE],
            defs,
        }
    }

    pub(crate) fn group() -> TestSchema {
        let mut defs = common(GROUP);
        defs.push(def(GROUP, "displayName", String));
        defs.push(complex(GROUP, "members", true, MEMBERS_SUBS));
        TestSchema {
            urns: vec![GROUP],
            defs,
        }
    }

    fn info(d: &Def, core: &str) -> AttrInfo {
        AttrInfo {
            schema: d.schema.to_owned(),
            name: d.name.to_owned(),
            ty: d.ty,
            multi_valued: d.multi,
            case_exact: d.case_exact,
            mutability: d.mutability,
            core: d.schema == core,
        }
    }

    impl AttrLookup for TestSchema {
        fn attr(&self, urn: Option<&str>, name: &str) -> Option<AttrInfo> {
            let order: Vec<&str> = match urn {
                Some(u) => vec![*self.urns.iter().find(|s| s.eq_ignore_ascii_case(u))?],
                None => self.urns.clone(),
            };
            order.iter().find_map(|schema| {
                self.defs
                    .iter()
                    .find(|d| d.schema == *schema && d.name.eq_ignore_ascii_case(name))
                    .map(|d| info(d, self.urns[0]))
            })
        }

        fn sub_attr(&self, parent: &AttrInfo, name: &str) -> Option<AttrInfo> {
            let d = self
                .defs
                .iter()
                .find(|d| d.schema == parent.schema && d.name == parent.name)?;
            let (sub, ty, case_exact, mutability) =
                d.subs.iter().find(|(n, ..)| n.eq_ignore_ascii_case(name))?;
            Some(AttrInfo {
                schema: parent.schema.clone(),
                name: (*sub).to_owned(),
                ty: *ty,
                multi_valued: false,
                case_exact: *case_exact,
                mutability: *mutability,
                core: parent.core,
            })
        }

        fn schema_urns(&self) -> Vec<std::string::String> {
            self.urns.iter().map(|s| (*s).to_owned()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_schema::{user, ENTERPRISE, USER};
    use super::*;
    use serde_json::json;

    #[test]
    fn map_lookups_ignore_case_and_prefer_an_exact_key() {
        let v = json!({"userName": "a", "USERNAME": "b", "Active": true});
        let m = v.as_object().unwrap();
        assert_eq!(get_ci(m, "userName"), Some(&json!("a")));
        assert_eq!(get_ci(m, "active"), Some(&json!(true)));
        assert_eq!(key_ci(m, "ACTIVE"), Some("Active"));
        assert_eq!(get_ci(m, "missing"), None);
    }

    #[test]
    fn set_ci_keeps_the_existing_spelling_and_remove_ci_finds_any_case() {
        let mut v = json!({"NickName": "x"});
        let m = v.as_object_mut().unwrap();
        set_ci(m, "nickName", json!("y"));
        assert_eq!(m.len(), 1);
        assert_eq!(m["NickName"], json!("y"));
        set_ci(m, "title", json!("t"));
        assert_eq!(m["title"], json!("t"));
        assert_eq!(remove_ci(m, "NICKNAME"), Some(json!("y")));
        assert_eq!(remove_ci(m, "nickName"), None);
        *get_ci_mut(m, "TITLE").unwrap() = json!("u");
        assert_eq!(m["title"], json!("u"));
    }

    #[test]
    fn extension_attributes_are_found_under_their_urn_in_any_case() {
        let schema = user();
        let r = json!({
            "userName": "bjensen",
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"employeeNumber": "7"}
        });
        let emp = schema.attr(None, "EMPLOYEENUMBER").unwrap();
        assert!(!emp.core);
        assert_eq!(emp.schema, ENTERPRISE);
        assert_eq!(lookup(&r, &emp), Some(&json!("7")));
        let user_name = schema.attr(Some(USER), "username").unwrap();
        assert_eq!(user_name.name, "userName");
        assert_eq!(lookup(&r, &user_name), Some(&json!("bjensen")));
        assert!(container_mut(&mut json!({}), &emp).is_none());
    }

    #[test]
    fn the_test_schema_resolves_bare_extension_names_and_common_attributes() {
        let schema = user();
        assert_eq!(schema.attr(None, "manager").unwrap().schema, ENTERPRISE);
        assert_eq!(
            schema.attr(None, "meta").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert!(schema.attr(Some(ENTERPRISE), "userName").is_none());
        let emails = schema.attr(None, "emails").unwrap();
        assert_eq!(
            schema.sub_attr(&emails, "PRIMARY").unwrap().ty,
            AttrType::Boolean
        );
        assert_eq!(
            extension_urn(&schema, &ENTERPRISE.to_lowercase()).as_deref(),
            Some(ENTERPRISE)
        );
        assert_eq!(extension_urn(&schema, USER), None);
    }
}
