//! The policy settings of an organisation, their defaults, and their `key=value` forms.

use serde::{Deserialize, Serialize};

use crate::directory::model::ParseError;

use crate::urn::GATEHOUSE_EXTENSION_URN;

/// What a deactivation does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDeactivate {
    /// The user and its data stay; sign-in is refused until it is reactivated.
    #[default]
    Keep,
    /// The user is erased; a later reactivation is a fresh create.
    Delete,
}

/// What a SCIM DELETE does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Hidden from SCIM, sign-in refused, restored by a POST of the same userName.
    #[default]
    Soft,
    /// Erased, with its memberships and links.
    Hard,
    /// Treated as a deactivation (the user stays visible, `active: false`).
    Deactivate,
}

/// How phone numbers are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneFormat {
    #[default]
    AsGiven,
    /// Validated and normalised to E.164 (`+16502530000`).
    E164,
}

/// One custom user attribute an organisation declares (RFC 7643 §7 attribute definition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtensionAttribute {
    pub name: String,
    /// string, boolean, integer, decimal, dateTime or reference.
    #[serde(rename = "type", default = "string_type")]
    pub kind: String,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub case_exact: bool,
}

fn string_type() -> String {
    "string".into()
}

/// The policy part of an organisation's settings (flattened into them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicySettings {
    pub on_deactivate: OnDeactivate,
    pub on_delete: OnDelete,
    /// A change of userName is refused.
    pub immutable_user_name: bool,
    /// A change of the email addresses is refused.
    pub immutable_email: bool,
    /// No two users of the organisation share an email address.
    pub unique_email: bool,
    /// Attribute paths a user must have: `userName`, `name.givenName`,
    /// `emails[type eq "work"].value`, `urn:...:User:employeeId`.
    pub required_attributes: Vec<String>,
    /// Allowed role values; empty allows any.
    pub roles: Vec<String>,
    /// The role of a user that arrives without one.
    pub default_role: Option<String>,
    /// Where SCIM carries the role: `roles` (the core attribute) or an extension attribute
    /// path such as `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:klueRole`.
    pub role_attribute: String,
    /// The SAML attribute and OIDC claim that carry the role at login.
    pub saml_attribute_role: String,
    pub oidc_claim_role: String,
    /// The schema URN of the organisation's custom attributes.
    pub extension_urn: String,
    pub extension_attributes: Vec<ExtensionAttribute>,
    pub phone_numbers: PhoneFormat,
    /// Users whose email is outside the organisation's verified domains are refused.
    pub allowed_email_domains: bool,
    /// Hours a session lasts at most in this organisation; None: the server's setting.
    pub session_lifetime: Option<u32>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            on_deactivate: OnDeactivate::Keep,
            on_delete: OnDelete::Soft,
            immutable_user_name: false,
            immutable_email: false,
            unique_email: false,
            required_attributes: vec!["userName".into()],
            roles: vec![],
            default_role: None,
            role_attribute: "roles".into(),
            saml_attribute_role: "role".into(),
            oidc_claim_role: "role".into(),
            extension_urn: GATEHOUSE_EXTENSION_URN.into(),
            extension_attributes: vec![],
            phone_numbers: PhoneFormat::AsGiven,
            allowed_email_domains: false,
            session_lifetime: None,
        }
    }
}

/// The policy keys, with what each takes; part of `ORG_KEYS`.
pub const POLICY_KEYS: &[(&str, &str)] = &[
    (
        "on_deactivate",
        "keep|delete: what a deactivation does to the user's data (default keep)",
    ),
    (
        "on_delete",
        "soft|hard|deactivate: what a SCIM DELETE does (default soft)",
    ),
    (
        "immutable_user_name",
        "true|false: refuse a change of userName (default false)",
    ),
    (
        "immutable_email",
        "true|false: refuse a change of email addresses (default false)",
    ),
    (
        "unique_email",
        "true|false: no two users share an email address (default false)",
    ),
    (
        "required_attributes",
        "comma-separated attribute paths a user must have (default userName)",
    ),
    (
        "roles",
        "comma-separated allowed role values; empty allows any (default empty)",
    ),
    (
        "default_role",
        "the role of a user that arrives without one (default none)",
    ),
    (
        "role_attribute",
        "the SCIM attribute with the role: roles, or an extension attribute path (default roles)",
    ),
    (
        "saml_attribute_role",
        "SAML attribute with the role (default role)",
    ),
    ("oidc_claim_role", "OIDC claim with the role (default role)"),
    (
        "extension_urn",
        "schema URN of the custom attributes (default urn:ietf:params:scim:schemas:extension:gatehouse:2.0:User)",
    ),
    (
        "extension_attributes",
        "JSON list of custom attributes: [{\"name\", \"type\", \"multiValued\", \"required\", \"canonicalValues\", \"caseExact\"}] (default [])",
    ),
    (
        "phone_numbers",
        "as_given|e164: keep phone numbers as sent, or validate and normalise them (default as_given)",
    ),
    (
        "allowed_email_domains",
        "true|false: refuse users whose email is outside the verified domains (default false)",
    ),
    (
        "session_lifetime",
        "hours a session lasts at most, 1 to 720; empty for the server's setting (default empty)",
    ),
];

/// One change to the policy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    OnDeactivate(OnDeactivate),
    OnDelete(OnDelete),
    ImmutableUserName(bool),
    ImmutableEmail(bool),
    UniqueEmail(bool),
    RequiredAttributes(Vec<String>),
    Roles(Vec<String>),
    DefaultRole(Option<String>),
    /// (key, value) of the settings that name an attribute or claim.
    AttributeName(&'static str, String),
    ExtensionUrn(String),
    ExtensionAttributes(Vec<ExtensionAttribute>),
    PhoneNumbers(PhoneFormat),
    AllowedEmailDomains(bool),
    SessionLifetime(Option<u32>),
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn choice<T: for<'de> Deserialize<'de>>(
    key: &str,
    value: &str,
    allowed: &str,
) -> Result<T, ParseError> {
    serde_json::from_value(serde_json::Value::String(value.trim().to_ascii_lowercase()))
        .map_err(|_| ParseError(format!("{key} takes {allowed}, not {value:?}")))
}

impl PolicyChange {
    /// Parses `value` for a policy `key`; None when the key is not a policy key.
    pub fn parse(
        key: &str,
        value: &str,
        parse_bool: fn(&str, &str) -> Result<bool, ParseError>,
    ) -> Option<Result<Self, ParseError>> {
        let v = value.trim();
        Some(match key {
            "on_deactivate" => choice(key, v, "keep or delete").map(Self::OnDeactivate),
            "on_delete" => choice(key, v, "soft, hard or deactivate").map(Self::OnDelete),
            "immutable_user_name" => parse_bool(key, v).map(Self::ImmutableUserName),
            "immutable_email" => parse_bool(key, v).map(Self::ImmutableEmail),
            "unique_email" => parse_bool(key, v).map(Self::UniqueEmail),
            "allowed_email_domains" => parse_bool(key, v).map(Self::AllowedEmailDomains),
            "required_attributes" => Ok(Self::RequiredAttributes(list(v))),
            "roles" => Ok(Self::Roles(list(v))),
            "default_role" => Ok(Self::DefaultRole(
                Some(v.to_string()).filter(|r| !r.is_empty()),
            )),
            "role_attribute" | "saml_attribute_role" | "oidc_claim_role" => {
                if v.is_empty() {
                    Err(ParseError(format!("{key} needs an attribute name")))
                } else {
                    let key = POLICY_KEYS
                        .iter()
                        .map(|(k, _)| *k)
                        .find(|k| *k == key)
                        .expect("listed");
                    Ok(Self::AttributeName(key, v.to_string()))
                }
            }
            "extension_urn" => {
                // The core schemas cannot hold custom attributes: their attributes are fixed
                // by RFC 7643 §4.
                if v.starts_with(crate::urn::CORE_PREFIX) || v.starts_with(crate::urn::API_PREFIX) {
                    Err(ParseError(format!(
                        "extension_urn must be an extension schema, not the core schema {v}"
                    )))
                } else if v.starts_with("urn:") && !v.contains(char::is_whitespace) {
                    Ok(Self::ExtensionUrn(v.to_string()))
                } else {
                    Err(ParseError(format!(
                        "extension_urn must be a URN (urn:...), not {v:?}"
                    )))
                }
            }
            "extension_attributes" => {
                let text = if v.is_empty() { "[]" } else { v };
                serde_json::from_str::<Vec<ExtensionAttribute>>(text)
                    .map_err(|e| ParseError(format!("extension_attributes: {e}")))
                    .and_then(|attrs| super::extension::check_declarations(&attrs).map(|()| attrs))
                    .map(Self::ExtensionAttributes)
            }
            "phone_numbers" => choice(key, v, "as_given or e164").map(Self::PhoneNumbers),
            "session_lifetime" => match v {
                "" => Ok(Self::SessionLifetime(None)),
                _ => match v.parse::<u32>() {
                    Ok(h) if (1..=720).contains(&h) => Ok(Self::SessionLifetime(Some(h))),
                    _ => Err(ParseError(format!(
                        "session_lifetime takes hours from 1 to 720 (or empty), not {v:?}"
                    ))),
                },
            },
            _ => return None,
        })
    }

    /// Applies the change to the settings.
    pub fn apply(&self, p: &mut PolicySettings) {
        match self {
            Self::OnDeactivate(v) => p.on_deactivate = *v,
            Self::OnDelete(v) => p.on_delete = *v,
            Self::ImmutableUserName(b) => p.immutable_user_name = *b,
            Self::ImmutableEmail(b) => p.immutable_email = *b,
            Self::UniqueEmail(b) => p.unique_email = *b,
            Self::RequiredAttributes(v) => p.required_attributes = v.clone(),
            Self::Roles(v) => p.roles = v.clone(),
            Self::DefaultRole(v) => p.default_role = v.clone(),
            Self::AttributeName(k, v) => match *k {
                "role_attribute" => p.role_attribute = v.clone(),
                "saml_attribute_role" => p.saml_attribute_role = v.clone(),
                _ => p.oidc_claim_role = v.clone(),
            },
            Self::ExtensionUrn(v) => p.extension_urn = v.clone(),
            Self::ExtensionAttributes(v) => p.extension_attributes = v.clone(),
            Self::PhoneNumbers(v) => p.phone_numbers = *v,
            Self::AllowedEmailDomains(b) => p.allowed_email_domains = *b,
            Self::SessionLifetime(v) => p.session_lifetime = *v,
        }
    }

    /// The key and new value, for the event log.
    pub fn describe(&self) -> (&'static str, serde_json::Value) {
        use serde_json::json;
        match self {
            Self::OnDeactivate(v) => ("on_deactivate", json!(v)),
            Self::OnDelete(v) => ("on_delete", json!(v)),
            Self::ImmutableUserName(b) => ("immutable_user_name", json!(b)),
            Self::ImmutableEmail(b) => ("immutable_email", json!(b)),
            Self::UniqueEmail(b) => ("unique_email", json!(b)),
            Self::RequiredAttributes(v) => ("required_attributes", json!(v)),
            Self::Roles(v) => ("roles", json!(v)),
            Self::DefaultRole(v) => ("default_role", json!(v)),
            Self::AttributeName(k, v) => (k, json!(v)),
            Self::ExtensionUrn(v) => ("extension_urn", json!(v)),
            Self::ExtensionAttributes(v) => ("extension_attributes", json!(v)),
            Self::PhoneNumbers(v) => ("phone_numbers", json!(v)),
            Self::AllowedEmailDomains(b) => ("allowed_email_domains", json!(b)),
            Self::SessionLifetime(v) => ("session_lifetime", json!(v)),
        }
    }
}
