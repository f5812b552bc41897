//! The attributes this server serves, as RFC 7643 §7 schema definitions: the core User
//! (§4.1), the enterprise extension (§4.3) and Group (§4.2). `/Schemas` and `/ResourceTypes`
//! are rendered from these tables, and projection, filters and PATCH read their
//! characteristics (case exactness, mutability, `returned`) from them too, so what is
//! advertised and what is done cannot drift apart.

use serde_json::{json, Value};

pub use super::attrs::{AttrType, Mutability};

pub use crate::urn::{
    ENTERPRISE_URN, GROUP_URN, LIST_URN, PATCH_URN, RESOURCE_TYPE_URN, SCHEMA_URN, SEARCH_URN,
    SPC_URN, USER_URN,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// "none" or "server".
    pub uniqueness: &'static str,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
    pub description: &'static str,
}

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> Attribute {
    Attribute {
        name,
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: "none",
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attr(name, AttrType::String, description)
}

const fn complex(
    name: &'static str,
    subs: &'static [Attribute],
    description: &'static str,
) -> Attribute {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = subs;
    a
}

const fn multi(mut a: Attribute) -> Attribute {
    a.multi_valued = true;
    a
}

const fn exact(mut a: Attribute) -> Attribute {
    a.case_exact = true;
    a
}

const fn read_only(mut a: Attribute) -> Attribute {
    a.mutability = Mutability::ReadOnly;
    a
}

const fn immutable(mut a: Attribute) -> Attribute {
    a.mutability = Mutability::Immutable;
    a
}

const fn canonical(mut a: Attribute, values: &'static [&'static str]) -> Attribute {
    a.canonical_values = values;
    a
}

const fn reference(
    name: &'static str,
    types: &'static [&'static str],
    description: &'static str,
) -> Attribute {
    let mut a = exact(attr(name, AttrType::Reference, description));
    a.reference_types = types;
    a
}

/// The sub-attributes of a typical multi-valued attribute (RFC 7643 §2.4), with its types.
macro_rules! multi_valued_subs {
    ($value:expr, $types:expr) => {
        &[
            $value,
            string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            canonical(
                string("type", "A label indicating the attribute's function."),
                $types,
            ),
            attr(
                "primary",
                AttrType::Boolean,
                "Whether this is the primary value.",
            ),
        ]
    };
}

const NAME_SUBS: &[Attribute] = &[
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family name, or last name."),
    string("givenName", "The given name, or first name."),
    string("middleName", "The middle name(s)."),
    string("honorificPrefix", "The honorific prefix(es), or title."),
    string("honorificSuffix", "The honorific suffix(es)."),
];

const ADDRESS_SUBS: &[Attribute] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    string("streetAddress", "The full street address."),
    string("locality", "The city or locality."),
    string("region", "The state or region."),
    string("postalCode", "The zip code or postal code."),
    string("country", "The country name."),
    canonical(
        string("type", "A label indicating the address's function."),
        &["work", "home", "other"],
    ),
    attr(
        "primary",
        AttrType::Boolean,
        "Whether this is the primary address.",
    ),
];

const GROUPS_SUBS: &[Attribute] = &[
    read_only(exact(string(
        "value",
        "The identifier of the user's group.",
    ))),
    read_only(reference(
        "$ref",
        &["User", "Group"],
        "The URI of the group.",
    )),
    read_only(string("display", "The group's displayName.")),
    read_only(canonical(
        string("type", "direct or indirect membership."),
        &["direct", "indirect"],
    )),
];

pub static USER_ATTRIBUTES: &[Attribute] = &[
    {
        let mut a = string("userName", "Unique identifier for the user, unique within the organisation, compared case-insensitively.");
        a.required = true;
        a.uniqueness = "server";
        a
    },
    complex("name", NAME_SUBS, "The components of the user's real name."),
    string(
        "displayName",
        "The name of the user, suitable for display to end users.",
    ),
    string("nickName", "The casual way to address the user."),
    reference(
        "profileUrl",
        &["external"],
        "A URI of the user's online profile.",
    ),
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "The relationship between the organisation and the user.",
    ),
    string(
        "preferredLanguage",
        "The user's preferred written or spoken language.",
    ),
    string("locale", "The user's default location for localisation."),
    string(
        "timezone",
        "The user's time zone, in IANA Time Zone database format.",
    ),
    attr(
        "active",
        AttrType::Boolean,
        "The user's administrative status: false means deactivated.",
    ),
    {
        let mut a = exact(string(
            "password",
            "Accepted and discarded: this server holds no passwords.",
        ));
        a.mutability = Mutability::WriteOnly;
        a.returned = Returned::Never;
        a
    },
    multi(complex(
        "emails",
        multi_valued_subs!(
            string("value", "The email address."),
            &["work", "home", "other"]
        ),
        "Email addresses for the user.",
    )),
    multi(complex(
        "phoneNumbers",
        multi_valued_subs!(
            string("value", "The phone number."),
            &["work", "home", "mobile", "fax", "pager", "other"]
        ),
        "Phone numbers for the user.",
    )),
    multi(complex(
        "ims",
        multi_valued_subs!(
            string("value", "The instant messaging address."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
        ),
        "Instant messaging addresses for the user.",
    )),
    multi(complex(
        "photos",
        multi_valued_subs!(
            reference("value", &["external"], "The URL of a photo of the user."),
            &["photo", "thumbnail"]
        ),
        "URLs of photos of the user.",
    )),
    multi(complex(
        "addresses",
        ADDRESS_SUBS,
        "A physical mailing address for the user.",
    )),
    multi(read_only(complex(
        "groups",
        GROUPS_SUBS,
        "The groups the user belongs to; managed through the Group resource.",
    ))),
    multi(complex(
        "entitlements",
        multi_valued_subs!(string("value", "The value of an entitlement."), &[]),
        "Entitlements of the user.",
    )),
    multi(complex(
        "roles",
        multi_valued_subs!(string("value", "The value of a role."), &[]),
        "Roles of the user.",
    )),
    multi(complex(
        "x509Certificates",
        multi_valued_subs!(
            attr(
                "value",
                AttrType::Binary,
                "The value of an X.509 certificate."
            ),
            &[]
        ),
        "X.509 certificates of the user.",
    )),
];

const MANAGER_SUBS: &[Attribute] = &[
    exact(string("value", "The id of the user's manager.")),
    reference("$ref", &["User"], "The URI of the manager's User resource."),
    read_only(string("displayName", "The manager's displayName.")),
];

pub static ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    string(
        "employeeNumber",
        "A string identifier, typically numeric or alphanumeric, assigned to a person.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex("manager", MANAGER_SUBS, "The user's manager."),
];

const MEMBER_SUBS: &[Attribute] = &[
    immutable(exact(string("value", "The id of a member."))),
    immutable(reference(
        "$ref",
        &["User", "Group"],
        "The URI of the member.",
    )),
    immutable(canonical(
        string("type", "The type of the member."),
        &["User", "Group"],
    )),
    string("display", "A human-readable name for the member."),
];

pub static GROUP_ATTRIBUTES: &[Attribute] = &[
    {
        let mut a = string(
            "displayName",
            "A human-readable name for the group, unique within the organisation.",
        );
        a.required = true;
        a.uniqueness = "server";
        a
    },
    multi(complex("members", MEMBER_SUBS, "The members of the group.")),
];

const META_SUBS: &[Attribute] = &[
    read_only(exact(string(
        "resourceType",
        "The name of the resource type.",
    ))),
    read_only(attr(
        "created",
        AttrType::DateTime,
        "When the resource was added.",
    )),
    read_only(attr(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed.",
    )),
    read_only(reference("location", &["uri"], "The URI of the resource.")),
    read_only(exact(string(
        "version",
        "The version (weak ETag) of the resource.",
    ))),
];

/// RFC 7643 §3.1 common attributes: not listed in /Schemas, but filterable and projected.
pub static COMMON_ATTRIBUTES: &[Attribute] = &[
    {
        let mut a = read_only(exact(string("id", "The server-assigned identifier.")));
        a.returned = Returned::Always;
        a.uniqueness = "server";
        a
    },
    exact(string(
        "externalId",
        "The identifier the provisioning client uses.",
    )),
    read_only(complex("meta", META_SUBS, "Resource metadata.")),
];

/// A schema: its URN, name and attributes.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

pub static SCHEMAS: &[Schema] = &[
    Schema {
        id: USER_URN,
        name: "User",
        description: "User Account",
        attributes: USER_ATTRIBUTES,
    },
    Schema {
        id: ENTERPRISE_URN,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: ENTERPRISE_ATTRIBUTES,
    },
    Schema {
        id: GROUP_URN,
        name: "Group",
        description: "Group",
        attributes: GROUP_ATTRIBUTES,
    },
];

/// A resource type and the schemas it is made of.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub core: &'static Schema,
    pub extensions: &'static [&'static Schema],
}

pub static USER: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    core: &SCHEMAS[0],
    extensions: &[&SCHEMAS[1]],
};

pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    core: &SCHEMAS[2],
    extensions: &[],
};

pub static RESOURCE_TYPES: &[&ResourceType] = &[&USER, &GROUP];

/// Where an attribute was found: in the core schema (top level) or in an extension.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub schema: &'static Schema,
    pub core: bool,
    pub attribute: &'static Attribute,
}

impl ResourceType {
    /// Finds an attribute by name, case-insensitively (RFC 7643 §2.1). With a URN, only in
    /// that schema; without, in the common attributes, the core schema, then the extensions.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<Resolved> {
        let (core, extensions) = (self.core, self.extensions);
        let find =
            |attrs: &'static [Attribute]| attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name));
        let in_core = |urn_ok: bool| {
            urn_ok
                .then(|| find(COMMON_ATTRIBUTES).or_else(|| find(self.core.attributes)))
                .flatten()
                .map(|attribute| Resolved {
                    schema: core,
                    core: true,
                    attribute,
                })
        };
        let in_extensions = |wanted: Option<&str>| {
            extensions
                .iter()
                .filter(|s| wanted.is_none_or(|u| s.id.eq_ignore_ascii_case(u)))
                .find_map(|s| {
                    find(s.attributes).map(|attribute| Resolved {
                        schema: s,
                        core: false,
                        attribute,
                    })
                })
        };
        match urn {
            Some(u) => in_core(core.id.eq_ignore_ascii_case(u)).or_else(|| in_extensions(Some(u))),
            None => in_core(true).or_else(|| in_extensions(None)),
        }
    }

    /// The extension schema with this URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// RFC 7643 §6 representation.
    pub fn to_json(&self, base: &str) -> Value {
        let extensions: Vec<Value> = self
            .extensions
            .iter()
            .map(|s| json!({ "schema": s.id, "required": false }))
            .collect();
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.core.id,
            "schemaExtensions": extensions,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", self.name) },
        })
    }
}

impl Attribute {
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": match self.ty {
                AttrType::String => "string",
                AttrType::Decimal => "decimal",
                AttrType::Integer => "integer",
                AttrType::Boolean => "boolean",
                AttrType::DateTime => "dateTime",
                AttrType::Binary => "binary",
                AttrType::Reference => "reference",
                AttrType::Complex => "complex",
            },
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
            },
            "uniqueness": self.uniqueness,
        });
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            v["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            v["subAttributes"] = self.sub_attributes.iter().map(|a| a.to_json()).collect();
        }
        v
    }
}

impl Schema {
    /// RFC 7643 §7 representation.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", self.id) },
        })
    }
}

/// RFC 7643 §5, with RFC 9865 §4 pagination: says exactly what this server supports.
pub fn service_provider_config(base: &str, max_results: u32) -> Value {
    json!({
        "schemas": [SPC_URN],
        "documentationUri": "https://github.com/gatehouse-sso/gatehouse#scim",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": max_results,
            "maxPageSize": max_results,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "Authorization: Bearer <token>, with a SCIM token issued for this organisation.",
                "primary": true,
            },
            {
                "type": "httpbasic",
                "name": "HTTP Basic",
                "description": "The organisation's slug as the user name and a SCIM token as the password.",
            },
        ],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_case_insensitively_across_core_common_and_extension() {
        let r = USER.resolve(None, "USERNAME").unwrap();
        assert!(r.core && r.attribute.name == "userName" && !r.attribute.case_exact);
        assert!(USER.resolve(None, "id").unwrap().attribute.case_exact);
        let m = USER.resolve(None, "manager").unwrap();
        assert!(!m.core && m.schema.id == ENTERPRISE_URN);
        let e = USER.resolve(
            Some("URN:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
            "employeeNumber",
        );
        assert!(e.is_some());
        assert!(USER.resolve(Some(USER_URN), "employeeNumber").is_none());
        assert!(USER.resolve(None, "nonsense").is_none());
        assert!(
            GROUP
                .resolve(None, "members")
                .unwrap()
                .attribute
                .multi_valued
        );
    }

    #[test]
    fn password_is_never_returned() {
        let p = USER.resolve(None, "password").unwrap().attribute;
        assert_eq!(p.returned, Returned::Never);
        assert_eq!(p.mutability, Mutability::WriteOnly);
    }

    #[test]
    fn schema_json_has_full_attribute_definitions() {
        let s = SCHEMAS[0].to_json("http://x/scim/v2/acme");
        let emails = s["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][0]["name"], "value");
        assert_eq!(
            s["meta"]["location"],
            format!("http://x/scim/v2/acme/Schemas/{USER_URN}")
        );
    }
}
