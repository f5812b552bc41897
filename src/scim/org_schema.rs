//! The User resource type as one organisation serves it: the core User and the enterprise
//! extension of [`USER`], plus the attributes the organisation declares (`extension_attributes`
//! under its `extension_urn`). Discovery, projection, filters, PATCH and the reading and
//! writing of users all go through it, so what an organisation's `/Schemas` shows is what
//! its other endpoints do, and another organisation sees none of it.
//!
//! Declared attributes under the standard enterprise URN join that schema beside its own
//! attributes; under any other URN they make a schema of their own, listed in the User
//! resource type's `schemaExtensions`.

use serde_json::{json, Map, Value};

use super::attrs::{AttrInfo, AttrLookup, AttrType, Mutability};
use super::schema::{
    ENTERPRISE_URN, GROUP_URN, RESOURCE_TYPES, SCHEMAS, SCHEMA_URN, USER, USER_URN,
};
use crate::directory::orgs::Org;
use crate::directory::policy::{extension, ExtensionAttribute};
use crate::directory::users::Profile;

/// The User resource type of one organisation; the default is that of an organisation that
/// declares no attributes.
#[derive(Debug, Clone, Default)]
pub struct UserType {
    custom: Option<Custom>,
}

/// The organisation's declared attributes and the URN they live under.
#[derive(Debug, Clone)]
struct Custom {
    /// Canonical spelling (the enterprise URN as RFC 7643 spells it).
    urn: String,
    attributes: Vec<ExtensionAttribute>,
}

impl UserType {
    pub fn of(org: &Org) -> Self {
        let policy = &org.settings.policy;
        let urn = extension::urn(policy);
        // A URN of a core schema cannot be an extension of it; such a setting shows nothing.
        let usable = ![USER_URN, GROUP_URN]
            .iter()
            .any(|core| core.eq_ignore_ascii_case(urn));
        let custom = (usable && !policy.extension_attributes.is_empty()).then(|| Custom {
            urn: urn.to_string(),
            attributes: policy.extension_attributes.clone(),
        });
        Self { custom }
    }

    /// The URN of the organisation's declared attributes, when it declares any.
    pub fn custom_urn(&self) -> Option<&str> {
        self.custom.as_ref().map(|c| c.urn.as_str())
    }

    /// Whether the declared attributes join the standard enterprise schema.
    pub fn in_enterprise(&self) -> bool {
        self.custom_urn() == Some(ENTERPRISE_URN)
    }

    fn declared(&self, name: &str) -> Option<&ExtensionAttribute> {
        self.custom
            .as_ref()?
            .attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// A user's values of the declared attributes, keyed by their declared names; values of
    /// attributes no longer declared are not shown. None when there are none.
    pub fn values(&self, profile: &Profile) -> Option<Map<String, Value>> {
        let custom = self.custom.as_ref()?;
        let stored = profile
            .extensions
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&custom.urn))?
            .1
            .as_object()?;
        let values: Map<String, Value> = stored
            .iter()
            .filter(|(_, v)| !v.is_null())
            .filter_map(|(k, v)| Some((self.declared(k)?.name.clone(), v.clone())))
            .collect();
        (!values.is_empty()).then_some(values)
    }

    /// `/Schemas`: the served schemas in RFC 7643 §7 form.
    pub fn schemas(&self, base: &str) -> Vec<Value> {
        let mut out: Vec<Value> = SCHEMAS
            .iter()
            .map(|s| {
                let mut v = s.to_json(base);
                if s.id == ENTERPRISE_URN && self.in_enterprise() {
                    self.append_attributes(&mut v);
                }
                v
            })
            .collect();
        if let Some(custom) = self.custom.as_ref().filter(|_| !self.in_enterprise()) {
            let mut v = json!({
                "schemas": [SCHEMA_URN],
                "id": custom.urn,
                "name": "OrganisationUser",
                "description": "User attributes this organisation declares",
                "attributes": [],
                "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", custom.urn) },
            });
            self.append_attributes(&mut v);
            // After the enterprise schema, before Group: the user schemas stay together.
            out.insert(2, v);
        }
        out
    }

    /// `/Schemas/{id}`, case-insensitively.
    pub fn schema(&self, id: &str, base: &str) -> Option<Value> {
        self.schemas(base)
            .into_iter()
            .find(|s| s["id"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
    }

    /// `/ResourceTypes`: User, with the declared schema among its extensions, and Group.
    pub fn resource_types(&self, base: &str) -> Vec<Value> {
        RESOURCE_TYPES
            .iter()
            .map(|rt| {
                let mut v = rt.to_json(base);
                if std::ptr::eq(*rt, &USER) {
                    if let Some(urn) = self.custom_urn().filter(|_| !self.in_enterprise()) {
                        if let Some(list) = v["schemaExtensions"].as_array_mut() {
                            list.push(json!({ "schema": urn, "required": false }));
                        }
                    }
                }
                v
            })
            .collect()
    }

    /// `/ResourceTypes/{name}`, case-insensitively.
    pub fn resource_type(&self, name: &str, base: &str) -> Option<Value> {
        self.resource_types(base).into_iter().find(|rt| {
            rt["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    fn append_attributes(&self, schema: &mut Value) {
        let Some(custom) = &self.custom else { return };
        if let Some(list) = schema["attributes"].as_array_mut() {
            list.extend(custom.attributes.iter().map(definition));
        }
    }

    fn custom_info(&self, urn: Option<&str>, name: &str) -> Option<AttrInfo> {
        let custom = self.custom.as_ref()?;
        if urn.is_some_and(|u| !u.eq_ignore_ascii_case(&custom.urn)) {
            return None;
        }
        let a = self.declared(name)?;
        Some(AttrInfo {
            schema: custom.urn.clone(),
            name: a.name.clone(),
            ty: attr_type(&a.kind),
            multi_valued: a.multi_valued,
            case_exact: a.case_exact,
            mutability: Mutability::ReadWrite,
            core: false,
        })
    }
}

impl AttrLookup for UserType {
    /// The core and enterprise attributes first (so a bare name means what it means
    /// everywhere), then the declared ones.
    fn attr(&self, urn: Option<&str>, name: &str) -> Option<AttrInfo> {
        USER.attr(urn, name).or_else(|| self.custom_info(urn, name))
    }

    fn sub_attr(&self, parent: &AttrInfo, name: &str) -> Option<AttrInfo> {
        // Declared attributes are simple: they have no sub-attributes.
        USER.sub_attr(parent, name)
    }

    fn schema_urns(&self) -> Vec<String> {
        let mut urns = USER.schema_urns();
        if let Some(urn) = self.custom_urn().filter(|_| !self.in_enterprise()) {
            urns.push(urn.to_string());
        }
        urns
    }

    fn returned_always(&self, name: &str) -> bool {
        USER.returned_always(name)
    }
}

fn attr_type(kind: &str) -> AttrType {
    match kind {
        "boolean" => AttrType::Boolean,
        "integer" => AttrType::Integer,
        "decimal" => AttrType::Decimal,
        "dateTime" => AttrType::DateTime,
        "reference" => AttrType::Reference,
        _ => AttrType::String,
    }
}

/// RFC 7643 §7 attribute definition of a declared attribute.
fn definition(a: &ExtensionAttribute) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": a.kind,
        "multiValued": a.multi_valued,
        "description": format!("{}: declared by this organisation", a.name),
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    });
    if !a.canonical_values.is_empty() {
        v["canonicalValues"] = json!(a.canonical_values);
    }
    if a.kind == "reference" {
        v["referenceTypes"] = json!(["external"]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn klue() -> UserType {
        UserType {
            custom: Some(Custom {
                urn: ENTERPRISE_URN.into(),
                attributes: vec![ExtensionAttribute {
                    name: "klueRole".into(),
                    kind: "string".into(),
                    multi_valued: false,
                    required: false,
                    canonical_values: vec!["admin".into()],
                    case_exact: false,
                }],
            }),
        }
    }

    #[test]
    fn declared_attributes_resolve_under_their_urn_and_bare() {
        let t = klue();
        let a = t.attr(Some(ENTERPRISE_URN), "KLUEROLE").unwrap();
        assert_eq!((a.name.as_str(), a.core), ("klueRole", false));
        assert_eq!(a.schema, ENTERPRISE_URN);
        assert!(t.attr(None, "klueRole").is_some());
        assert!(t.attr(Some(USER_URN), "klueRole").is_none());
        assert!(
            t.attr(None, "department").is_some(),
            "the standard ones stay"
        );
        assert_eq!(t.schema_urns(), [USER_URN, ENTERPRISE_URN]);
        assert!(t.returned_always("id"));
    }

    #[test]
    fn enterprise_schema_lists_both_kinds_of_attribute() {
        let s = klue().schema(ENTERPRISE_URN, "http://x").unwrap();
        let names: Vec<&str> = s["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"department") && names.contains(&"klueRole"));
    }
}
