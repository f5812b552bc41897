//! Between the directory's groups and their SCIM representation (RFC 7643 §4.2).

use serde_json::{json, Map, Value};

use crate::clock::rfc3339;
use crate::directory::groups::members::MemberRef;
use crate::directory::groups::{Group, Member};
use crate::scim::attrs::get_present;
use crate::scim::error::ScimError;
use crate::scim::schema::GROUP_URN;
use crate::scim::users::resource::etag;

/// A group's representation; `members` only when they were loaded (asked for).
pub fn to_json(group: &Group, members: Option<&[Member]>, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_URN]));
    out.insert("id".into(), json!(group.id));
    if let Some(x) = &group.external_id {
        out.insert("externalId".into(), json!(x));
    }
    out.insert("displayName".into(), json!(group.display_name));
    if let Some(members) = members {
        let list: Vec<Value> = members.iter().map(|m| member_json(m, base)).collect();
        out.insert("members".into(), json!(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": rfc3339(group.created_at),
            "lastModified": rfc3339(group.updated_at),
            "location": format!("{base}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    Value::Object(out)
}

fn member_json(m: &Member, base: &str) -> Value {
    let mut v = json!({ "value": m.id, "$ref": format!("{base}/Users/{}", m.id), "type": "User" });
    if let Some(d) = &m.display {
        v["display"] = json!(d);
    }
    v
}

/// What a POST or PUT body says about a group.
#[derive(Debug, Clone)]
pub struct GroupBody {
    pub display_name: String,
    pub external_id: Option<String>,
    /// None when the body has no `members`.
    pub members: Option<Vec<MemberRef>>,
}

pub fn from_json(body: &Value) -> Result<GroupBody, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "the body must be a JSON object"))?;
    let display_name = match get_present(obj, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(ScimError::bad_request(
                "invalidValue",
                "displayName is required",
            ))
        }
        Some(_) => {
            return Err(ScimError::bad_request(
                "invalidValue",
                "displayName must be a string",
            ))
        }
    };
    let external_id = match get_present(obj, "externalId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ScimError::bad_request(
                "invalidValue",
                "externalId must be a string",
            ))
        }
    };
    let members = get_present(obj, "members").map(read_members).transpose()?;
    Ok(GroupBody {
        display_name,
        external_id,
        members,
    })
}

/// `members` values: an array of `{value, display?, $ref?, type?}` (or one such object).
pub fn read_members(v: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![v],
        Value::Null => vec![],
        _ => {
            return Err(ScimError::bad_request(
                "invalidValue",
                "members must be an array of objects",
            ))
        }
    };
    items
        .into_iter()
        .map(|item| {
            let obj = item.as_object().ok_or_else(|| {
                ScimError::bad_request("invalidValue", "each member must be an object")
            })?;
            let id = match get_present(obj, "value") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(ScimError::bad_request(
                        "invalidValue",
                        "each member needs a value: the user's id",
                    ))
                }
            };
            let display = get_present(obj, "display")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(MemberRef { id, display })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_okta_and_entra_bodies() {
        let b = from_json(&json!({"schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1", "displayName": "Sales", "meta": {"resourceType": "Group"}}))
        .unwrap();
        assert_eq!(b.display_name, "Sales");
        assert!(b.members.is_none());
        let b = from_json(&json!({"displayName": "X", "members": [{"value": "u1", "display": "a@x"}, {"$ref": null, "value": "u2"}]})).unwrap();
        let m = b.members.unwrap();
        assert_eq!(m[0].display.as_deref(), Some("a@x"));
        assert_eq!(m[1].id, "u2");
        assert!(from_json(&json!({"members": []})).is_err());
        assert!(
            from_json(&json!({"displayName": "X", "members": [{"display": "no value"}]})).is_err()
        );
    }
}
