//! Between the directory's [`User`] and its SCIM representation (RFC 7643 §4.1).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::clock::rfc3339;
use crate::directory::policy::extension::ENTERPRISE_NAMES;
use crate::directory::users::{Enterprise, Name, Profile, User, UserData};
use crate::directory::{GroupId, UserName};
use crate::scim::attrs::get_present;
use crate::scim::error::ScimError;
use crate::scim::org_schema::UserType;
use crate::scim::schema::{ENTERPRISE_URN, USER_URN};

/// How a body is read: what an absent `active` means differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST: absent `active` is true (RFC 7643 §4.1.1 leaves it to the server).
    Create,
    /// PUT: absent `active` keeps the user's state. Okta's and other clients' PUTs omit it
    /// at times, and a PUT must never deactivate or reactivate by omission.
    Replace,
    /// PATCH result: absent `active` means the client removed it.
    Patch,
}

/// The weak ETag of a version (RFC 7232 §2.3).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The full SCIM representation of a user in its organisation's User type; projection
/// happens afterwards.
pub fn to_json(
    user: &User,
    groups: &[(GroupId, String)],
    base: &str,
    user_type: &UserType,
) -> Value {
    let p = &user.profile;
    let mut out = Map::new();
    let mut schemas = vec![json!(USER_URN)];
    out.insert("id".into(), json!(user.id));
    if let Some(x) = &user.external_id {
        out.insert("externalId".into(), json!(x));
    }
    out.insert("userName".into(), json!(user.user_name.as_str()));
    if let Some(name) = &p.name {
        out.insert("name".into(), serde_json::to_value(name).expect("name"));
    }
    let strings = [
        ("displayName", &p.display_name),
        ("nickName", &p.nick_name),
        ("profileUrl", &p.profile_url),
        ("title", &p.title),
        ("userType", &p.user_type),
        ("preferredLanguage", &p.preferred_language),
        ("locale", &p.locale),
        ("timezone", &p.timezone),
    ];
    for (key, value) in strings {
        if let Some(v) = value {
            out.insert(key.into(), json!(v));
        }
    }
    if !p.active_removed {
        out.insert("active".into(), json!(user.active));
    }
    let lists = [
        ("emails", &p.emails),
        ("phoneNumbers", &p.phone_numbers),
        ("ims", &p.ims),
        ("photos", &p.photos),
        ("addresses", &p.addresses),
        ("entitlements", &p.entitlements),
        ("roles", &p.roles),
        ("x509Certificates", &p.x509_certificates),
    ];
    for (key, values) in lists {
        if !values.is_empty() {
            out.insert(key.into(), json!(values));
        }
    }
    if !groups.is_empty() {
        let groups: Vec<Value> = groups
            .iter()
            .map(|(id, name)| {
                json!({ "value": id, "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct" })
            })
            .collect();
        out.insert("groups".into(), json!(groups));
    }
    let mut enterprise = match p
        .enterprise
        .as_ref()
        .filter(|e| **e != Enterprise::default())
    {
        Some(e) => match serde_json::to_value(e).expect("enterprise") {
            Value::Object(o) => o,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    let mut custom = user_type.values(p);
    if user_type.in_enterprise() {
        // Declared attributes under the enterprise URN sit beside its standard ones.
        enterprise.extend(custom.take().unwrap_or_default());
    }
    if !enterprise.is_empty() {
        schemas.push(json!(ENTERPRISE_URN));
        out.insert(ENTERPRISE_URN.into(), Value::Object(enterprise));
    }
    if let (Some(urn), Some(values)) = (user_type.custom_urn(), custom) {
        schemas.push(json!(urn));
        out.insert(urn.into(), Value::Object(values));
    }
    out.insert("schemas".into(), json!(schemas));
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": rfc3339(user.created_at),
            "lastModified": rfc3339(user.updated_at),
            "location": format!("{base}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    Value::Object(out)
}

/// Reads a SCIM User body into what the directory stores. Attribute names match
/// case-insensitively (RFC 7643 §2.1); `null` counts as absent; read-only attributes
/// (`id`, `meta`, `groups`) and `password` are ignored; undeclared extensions are ignored.
/// The object under the organisation's own extension URN is passed on as sent: the
/// directory checks its values against the declarations (and ignores undeclared ones).
pub fn from_json(
    body: &Value,
    mode: Mode,
    current: Option<&User>,
    user_type: &UserType,
) -> Result<UserData, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "the body must be a JSON object"))?;
    let get = |name: &str| get_present(obj, name);

    let user_name = match get("userName") {
        None => {
            return Err(ScimError::bad_request(
                "invalidValue",
                "userName is required",
            ))
        }
        Some(Value::String(s)) => {
            UserName::parse(s).map_err(|e| ScimError::bad_request("invalidValue", e.0))?
        }
        Some(_) => return Err(invalid_type("userName", "a string")),
    };
    let active = match (get("active"), mode) {
        (Some(v), _) => Some(read_bool("active", v)?),
        (None, Mode::Create) => Some(true),
        (None, _) => None,
    };
    let profile = Profile {
        name: get("name").map(read_name).transpose()?,
        display_name: opt_string(obj, "displayName")?,
        nick_name: opt_string(obj, "nickName")?,
        profile_url: opt_string(obj, "profileUrl")?,
        title: opt_string(obj, "title")?,
        user_type: opt_string(obj, "userType")?,
        preferred_language: opt_string(obj, "preferredLanguage")?,
        locale: opt_string(obj, "locale")?,
        timezone: opt_string(obj, "timezone")?,
        emails: multi(obj, "emails")?,
        phone_numbers: multi(obj, "phoneNumbers")?,
        ims: multi(obj, "ims")?,
        photos: multi(obj, "photos")?,
        addresses: multi(obj, "addresses")?,
        roles: multi(obj, "roles")?,
        entitlements: multi(obj, "entitlements")?,
        x509_certificates: multi(obj, "x509Certificates")?,
        enterprise: get(ENTERPRISE_URN)
            .map(read_enterprise)
            .transpose()?
            .filter(|e| *e != Enterprise::default()),
        extensions: read_custom(obj, user_type)?,
        active_removed: mode == Mode::Patch && active.is_none(),
    };
    let active = active.or(current.map(|u| u.active)).unwrap_or(true);
    Ok(UserData {
        user_name,
        external_id: opt_string(obj, "externalId")?,
        active,
        profile,
    })
}

fn invalid_type(attr: &str, expected: &str) -> ScimError {
    ScimError::bad_request("invalidValue", format!("{attr} must be {expected}"))
}

fn opt_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match get_present(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid_type(name, "a string")),
    }
}

/// A boolean, or the strings "True"/"False" in any case (Entra sends `"active": "False"`).
pub fn read_bool(attr: &str, v: &Value) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid_type(attr, "true or false")),
    }
}

fn read_name(v: &Value) -> Result<Name, ScimError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid_type("name", "an object"))?;
    let sub =
        |k: &str| opt_string(obj, k).map_err(|_| invalid_type(&format!("name.{k}"), "a string"));
    Ok(Name {
        formatted: sub("formatted")?,
        family_name: sub("familyName")?,
        given_name: sub("givenName")?,
        middle_name: sub("middleName")?,
        honorific_prefix: sub("honorificPrefix")?,
        honorific_suffix: sub("honorificSuffix")?,
    })
}

fn read_enterprise(v: &Value) -> Result<Enterprise, ScimError> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid_type(ENTERPRISE_URN, "an object"))?;
    let sub = |k: &str| {
        opt_string(obj, k).map_err(|_| invalid_type(&format!("{ENTERPRISE_URN}:{k}"), "a string"))
    };
    let manager = match get_present(obj, "manager") {
        None => None,
        // Entra sends the manager's id as a bare string at times.
        Some(Value::String(s)) => Some(json!({ "value": s })),
        Some(m @ Value::Object(_)) => Some(m.clone()),
        Some(_) => return Err(invalid_type("manager", "an object with a value")),
    };
    Ok(Enterprise {
        employee_number: sub("employeeNumber")?,
        cost_center: sub("costCenter")?,
        organization: sub("organization")?,
        division: sub("division")?,
        department: sub("department")?,
        manager,
    })
}

/// The values sent under the organisation's extension URN, by that URN. Under the enterprise
/// URN, its standard attributes are read by [`read_enterprise`] and left out here.
fn read_custom(
    obj: &Map<String, Value>,
    user_type: &UserType,
) -> Result<BTreeMap<String, Value>, ScimError> {
    let Some(urn) = user_type.custom_urn() else {
        return Ok(BTreeMap::new());
    };
    let values = match get_present(obj, urn) {
        None => return Ok(BTreeMap::new()),
        Some(Value::Object(values)) => values,
        Some(_) => return Err(invalid_type(urn, "an object")),
    };
    let values: Map<String, Value> = values
        .iter()
        .filter(|(k, _)| {
            !(user_type.in_enterprise()
                && ENTERPRISE_NAMES.iter().any(|n| n.eq_ignore_ascii_case(k)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(BTreeMap::from([(urn.to_string(), Value::Object(values))]))
}

/// A multi-valued attribute: an array of objects, kept exactly as sent.
fn multi(obj: &Map<String, Value>, name: &str) -> Result<Vec<Value>, ScimError> {
    match get_present(obj, name) {
        None => Ok(vec![]),
        Some(Value::Array(items)) => {
            if items.iter().any(|i| !i.is_object()) {
                return Err(invalid_type(name, "an array of objects"));
            }
            if items.iter().any(|i| {
                i.get("value")
                    .is_some_and(|v| !v.is_string() && !v.is_null())
            }) {
                return Err(invalid_type(&format!("{name}.value"), "a string"));
            }
            Ok(items.clone())
        }
        Some(_) => Err(invalid_type(name, "an array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The User type of an organisation that declares no attributes.
    fn plain() -> UserType {
        UserType::default()
    }

    #[test]
    fn reads_okta_create_body() {
        let body = json!({
            "schemas": [USER_URN], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": true
        });
        let d = from_json(&body, Mode::Create, None, &plain()).unwrap();
        assert_eq!(d.user_name.as_str(), "test.user@okta.local");
        assert_eq!(d.profile.emails, body["emails"].as_array().unwrap().clone());
        assert_eq!(d.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
        assert!(d.active);
    }

    #[test]
    fn keys_are_case_insensitive_and_nulls_are_absent() {
        let body = json!({"USERNAME": "a", "Active": "False", "title": null, "addresses": null,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": null}});
        let d = from_json(&body, Mode::Create, None, &plain()).unwrap();
        assert!(!d.active);
        assert_eq!(d.profile.title, None);
        assert_eq!(
            d.profile.enterprise.unwrap().department.as_deref(),
            Some("R&D")
        );
    }

    #[test]
    fn wrong_types_name_the_attribute() {
        let err = from_json(&json!({"userName": 5}), Mode::Create, None, &plain()).unwrap_err();
        assert!(err.detail.contains("userName"), "{err}");
        let err = from_json(
            &json!({"userName": "a", "emails": "x@y"}),
            Mode::Create,
            None,
            &plain(),
        )
        .unwrap_err();
        assert!(err.detail.contains("emails"), "{err}");
        let err = from_json(
            &json!({"userName": "a", "active": "maybe"}),
            Mode::Create,
            None,
            &plain(),
        )
        .unwrap_err();
        assert!(err.detail.contains("active"), "{err}");
        let err =
            from_json(&json!({"displayName": "x"}), Mode::Create, None, &plain()).unwrap_err();
        assert_eq!(err.scim_type, Some("invalidValue"));
    }
}
