//! The user's role: where it is kept (`role_attribute`), the role of a user that arrives
//! without one (`default_role`) and the allowed values (`roles`). Every reader of the role
//! (`/me`, `/auth/check`, logins) goes through [`role_of`].

use serde_json::{json, Value};

use super::paths::{self, Path};
use super::settings::PolicySettings;
use super::Violation;
use crate::directory::users::{Profile, User, UserData};

/// Where the role lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// SCIM core `roles` (`[{value, primary}]`): the primary member's value, else the
    /// first member's.
    Roles,
    /// A single-valued attribute: an extension attribute such as
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:klueRole`, or a core one
    /// such as `userType`.
    Attribute(Path),
}

impl Place {
    /// Reads the `role_attribute` setting.
    pub fn parse(setting: &str) -> Result<Self, String> {
        let path = paths::parse(setting)?;
        if path.urn.is_none() && path.attr.eq_ignore_ascii_case("roles") {
            return match (&path.sub, path.filter.is_empty()) {
                (None, true) => Ok(Self::Roles),
                _ => Err(format!(
                    "{setting:?}: the role is roles itself, without a filter or sub-attribute"
                )),
            };
        }
        if !path.filter.is_empty() {
            return Err(format!("{setting:?}: the role attribute takes no filter"));
        }
        if path.urn.is_none() {
            paths::check_paths(&[setting.to_string()])?;
            if paths::core_name(&path.attr).is_some_and(|a| {
                matches!(
                    a,
                    "emails"
                        | "phoneNumbers"
                        | "ims"
                        | "photos"
                        | "addresses"
                        | "entitlements"
                        | "x509Certificates"
                )
            }) {
                return Err(format!(
                    "{setting:?}: the role is one value; use roles for a multi-valued role"
                ));
            }
        }
        Ok(Self::Attribute(path))
    }
}

/// Checks a `role_attribute` setting, for when it is written.
pub fn check_role_attribute(setting: &str) -> Result<(), String> {
    Place::parse(setting).map(|_| ())
}

/// Checks the attribute settings together, for when any of them is written: the role
/// attribute and the required paths parse, and a default role is one of the allowed roles.
pub fn check_settings(policy: &PolicySettings) -> Result<(), String> {
    check_role_attribute(&policy.role_attribute)?;
    paths::check_paths(&policy.required_attributes)?;
    match &policy.default_role {
        Some(d) if !policy.roles.is_empty() && !policy.roles.contains(d) => Err(format!(
            "default_role {d:?} is not one of the roles ({})",
            policy.roles.join(", ")
        )),
        _ => Ok(()),
    }
}

/// The role of a user, as the organisation's settings place it; None when it has none.
pub fn role_of(policy: &PolicySettings, user: &User) -> Option<String> {
    role_in(policy, &user.profile)
}

/// The role a profile holds.
pub fn role_in(policy: &PolicySettings, profile: &Profile) -> Option<String> {
    let place = Place::parse(&policy.role_attribute).ok()?;
    role_values(&place, profile).into_iter().find_map(|v| {
        v.as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    })
}

/// Every role value a profile holds at the place, the role itself first.
fn role_values(place: &Place, profile: &Profile) -> Vec<Value> {
    match place {
        Place::Roles => {
            let mut members: Vec<&Value> = profile.roles.iter().collect();
            // The primary one first (RFC 7643 §2.4: at most one is primary).
            members.sort_by_key(|m| m.get("primary").and_then(Value::as_bool) != Some(true));
            members
                .into_iter()
                .filter_map(|m| m.get("value").cloned())
                .filter(|v| !v.is_null())
                .collect()
        }
        Place::Attribute(path) => {
            let view = paths::profile_view_of(profile);
            paths::values(&view, path).into_iter().cloned().collect()
        }
    }
}

/// Gives a profile the role `role`, at the organisation's place for it. In `roles`, the
/// primary (else first) member takes the new value and the others stay.
pub fn set_role(
    policy: &PolicySettings,
    profile: &mut Profile,
    role: &str,
) -> Result<(), Violation> {
    let setting = &policy.role_attribute;
    let place = Place::parse(setting).map_err(|e| Violation::invalid(setting, e))?;
    match place {
        Place::Roles => {
            let at = profile
                .roles
                .iter()
                .position(|m| m.get("primary").and_then(Value::as_bool) == Some(true))
                .unwrap_or(0);
            let fresh = json!({ "value": role, "primary": true });
            match profile.roles.get_mut(at) {
                Some(Value::Object(member)) => {
                    member.insert("value".into(), json!(role));
                }
                Some(other) => *other = fresh,
                None => profile.roles.push(fresh),
            }
            Ok(())
        }
        Place::Attribute(path) => {
            let value = if declared_multi_valued(policy, &path) {
                json!([role])
            } else {
                json!(role)
            };
            if paths::set_value(profile, &path, value) {
                Ok(())
            } else {
                Err(Violation::invalid(
                    setting,
                    format!("the role cannot be kept in {setting}: the user has no such attribute"),
                ))
            }
        }
    }
}

/// Whether the organisation declares the attribute at `path` as one of its own,
/// multi-valued extension attributes.
fn declared_multi_valued(policy: &PolicySettings, path: &Path) -> bool {
    path.urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(&policy.extension_urn))
        && policy
            .extension_attributes
            .iter()
            .any(|a| a.multi_valued && a.name.eq_ignore_ascii_case(&path.attr))
}

/// Gives a user without a role the default role, then checks every role value against the
/// allowed ones. Values compare case-exactly: a role is a word the app matches as it is.
/// On a replace, a value the stored user already has passes (it was written before the
/// list changed).
pub fn check(
    policy: &PolicySettings,
    data: &mut UserData,
    current: Option<&User>,
) -> Result<(), Violation> {
    if policy.roles.is_empty() && policy.default_role.is_none() {
        return Ok(());
    }
    let setting = &policy.role_attribute;
    let place = Place::parse(setting).map_err(|e| Violation::invalid(setting, e))?;
    if let (None, Some(default)) = (role_in(policy, &data.profile), &policy.default_role) {
        set_role(policy, &mut data.profile, default)?;
    }
    if policy.roles.is_empty() {
        return Ok(());
    }
    let stored = current
        .map(|u| role_values(&place, &u.profile))
        .unwrap_or_default();
    let name = match place {
        Place::Roles => "roles",
        Place::Attribute(_) => setting.as_str(),
    };
    for value in role_values(&place, &data.profile) {
        let allowed = value
            .as_str()
            .is_some_and(|v| policy.roles.iter().any(|r| r == v));
        if !allowed && !stored.contains(&value) {
            return Err(Violation::invalid(
                name,
                format!(
                    "{name} value {value} is not one of the allowed roles: {}",
                    policy.roles.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::UserName;

    const KLUE_ROLE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:klueRole";

    fn policy(attr: &str) -> PolicySettings {
        PolicySettings {
            roles: vec!["admin".into(), "curator".into(), "consumer".into()],
            default_role: Some("consumer".into()),
            role_attribute: attr.into(),
            ..PolicySettings::default()
        }
    }

    fn data(profile: Profile) -> UserData {
        UserData {
            user_name: UserName::parse("ada@x.test").unwrap(),
            external_id: None,
            active: true,
            profile,
        }
    }

    #[test]
    fn the_role_is_the_primary_member_of_roles_else_the_first() {
        let p = policy("roles");
        let mut profile = Profile {
            roles: vec![
                json!({"value": "consumer"}),
                json!({"value": "admin", "primary": true}),
            ],
            ..Profile::default()
        };
        assert_eq!(role_in(&p, &profile).as_deref(), Some("admin"));
        profile.roles[1]["primary"] = json!(false);
        assert_eq!(role_in(&p, &profile).as_deref(), Some("consumer"));
        set_role(&p, &mut profile, "curator").unwrap();
        assert_eq!(profile.roles[0], json!({"value": "curator"}));
        assert_eq!(role_in(&p, &Profile::default()), None);
    }

    #[test]
    fn a_user_without_a_role_gets_the_default_and_others_are_checked() {
        let p = policy("roles");
        let mut d = data(Profile::default());
        check(&p, &mut d, None).unwrap();
        assert_eq!(
            d.profile.roles,
            vec![json!({"value": "consumer", "primary": true})]
        );
        let mut d = data(Profile {
            roles: vec![json!({"value": "Admin"})],
            ..Profile::default()
        });
        let v = check(&p, &mut d, None).unwrap_err();
        assert_eq!(v.attribute, "roles");
        assert_eq!(
            v.message,
            r#"roles value "Admin" is not one of the allowed roles: admin, curator, consumer"#
        );
    }

    #[test]
    fn an_extension_role_is_read_and_written_where_the_profile_keeps_it() {
        let p = policy(KLUE_ROLE);
        let mut d = data(Profile::default());
        check(&p, &mut d, None).unwrap();
        assert_eq!(role_in(&p, &d.profile).as_deref(), Some("consumer"));
        set_role(&p, &mut d.profile, "curator").unwrap();
        assert_eq!(role_in(&p, &d.profile).as_deref(), Some("curator"));
        let mut d2 = data(d.profile.clone());
        set_role(&p, &mut d2.profile, "boss").unwrap();
        let v = check(&p, &mut d2, None).unwrap_err();
        assert_eq!(v.attribute, KLUE_ROLE);
        assert!(v.message.contains(r#""boss""#), "{}", v.message);

        let custom = "urn:example:acme:2.0:User:accessRole";
        let p = policy(custom);
        let mut d = data(Profile::default());
        check(&p, &mut d, None).unwrap();
        assert_eq!(
            d.profile.extensions["urn:example:acme:2.0:User"],
            json!({"accessRole": "consumer"})
        );
    }

    #[test]
    fn a_core_single_valued_attribute_can_hold_the_role() {
        let p = policy("userType");
        let mut d = data(Profile::default());
        check(&p, &mut d, None).unwrap();
        assert_eq!(d.profile.user_type.as_deref(), Some("consumer"));
        assert!(check_role_attribute("emails").is_err());
        assert!(check_role_attribute("roles.value").is_err());
        assert!(check_role_attribute("nope").is_err());
        assert!(check_role_attribute(KLUE_ROLE).is_ok());
    }

    #[test]
    fn settings_are_checked_together() {
        assert!(check_settings(&PolicySettings::default()).is_ok());
        assert!(check_settings(&policy(KLUE_ROLE)).is_ok());
        let mut p = policy("roles");
        p.default_role = Some("Consumer".into());
        assert!(check_settings(&p).unwrap_err().contains("Consumer"));
        p.roles.clear();
        assert!(check_settings(&p).is_ok(), "any role is allowed");
        p.required_attributes = vec!["name.givenname".into(), "nmae".into()];
        assert!(check_settings(&p).unwrap_err().contains("nmae"));
    }
}
