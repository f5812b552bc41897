//! Events in words, for the console: who did it (names behind the recorded ids), what
//! (a phrase per action), to what (a link when it is a user or a group) and the detail as a
//! key/value list. The names for a whole page are fetched in a few batched queries.

use std::collections::HashMap;

use serde_json::Value;

use crate::clock::rfc3339;
use crate::directory::orgs::Org;
use crate::directory::{self, AdminId, Directory, GroupId, UserId};
use crate::events::Event;

/// The known actions: (action, words on success, words on failure).
const ACTIONS: &[(&str, &str, &str)] = &[
    ("login", "Signed in", "Refused sign-in"),
    (
        "admin.login",
        "Signed in to the console",
        "Refused console sign-in",
    ),
    (
        "admin.logout",
        "Signed out of the console",
        "Console sign-out failed",
    ),
    (
        "admin.create",
        "Created platform admin",
        "Refused to create platform admin",
    ),
    (
        "admin.password.change",
        "Changed own password (other sessions ended)",
        "Refused password change",
    ),
    (
        "admin.password.reset",
        "Reset an admin's password (their sessions ended)",
        "Refused password reset",
    ),
    (
        "admin.grant",
        "Made user an organisation admin",
        "Refused to make user an admin",
    ),
    (
        "admin.revoke",
        "Removed organisation admin",
        "Refused to remove organisation admin",
    ),
    (
        "setup_link.create",
        "Issued setup link",
        "Refused to issue setup link",
    ),
    (
        "setup_link.revoke",
        "Revoked setup link",
        "Refused to revoke setup link",
    ),
    ("setup_link.use", "Opened setup link", "Refused setup link"),
    (
        "org.create",
        "Created organisation",
        "Refused to create organisation",
    ),
    ("org.update", "Changed settings", "Refused settings change"),
    (
        "org.domain.verify",
        "Verified domain (DNS record found or approved)",
        "Refused to verify domain",
    ),
    (
        "token.create",
        "Issued SCIM token",
        "Refused to issue SCIM token",
    ),
    (
        "token.revoke",
        "Revoked SCIM token",
        "Refused to revoke SCIM token",
    ),
    ("user.create", "Created user", "Refused to create user"),
    ("user.replace", "Replaced user", "Refused to replace user"),
    ("user.patch", "Updated user", "Refused to update user"),
    (
        "user.deactivate",
        "Deactivated user",
        "Refused to deactivate user",
    ),
    (
        "user.reactivate",
        "Reactivated user",
        "Refused to reactivate user",
    ),
    ("user.delete", "Deleted user", "Refused to delete user"),
    (
        "user.restore",
        "Restored deleted user",
        "Refused to restore user",
    ),
    ("user.erase", "Erased user", "Refused to erase user"),
    (
        "user.adopt",
        "Adopted user made at first sign-in (SCIM took it over)",
        "Refused to adopt user",
    ),
    (
        "user.role_from_login",
        "Set role from sign-in",
        "Refused role from sign-in",
    ),
    (
        "user.sign_out",
        "Signed user out everywhere",
        "Refused to sign user out",
    ),
    ("user.import", "Imported users", "Refused user import"),
    (
        "user.groups_from_login",
        "Set groups from sign-in",
        "Refused groups from sign-in",
    ),
    (
        "identity.link",
        "Linked IdP identity",
        "Refused to link IdP identity",
    ),
    ("group.create", "Created group", "Refused to create group"),
    (
        "group.replace",
        "Replaced group",
        "Refused to replace group",
    ),
    ("group.patch", "Updated group", "Refused to update group"),
    ("group.update", "Updated group", "Refused to update group"),
    ("group.delete", "Deleted group", "Refused to delete group"),
    (
        "saml.connection.set",
        "Configured SAML connection",
        "Refused SAML configuration",
    ),
    (
        "saml.certificate.change",
        "IdP signing certificate changed (metadata refresh)",
        "Refused IdP certificate change",
    ),
    (
        "oidc.issuer.change",
        "OIDC issuer changed: old links ended, client secret dropped",
        "Refused OIDC issuer change",
    ),
    (
        "saml.metadata.refresh",
        "Refreshed SAML metadata",
        "SAML metadata refresh failed",
    ),
    (
        "oidc.connection.set",
        "Configured OpenID Connect",
        "Refused OpenID Connect configuration",
    ),
    ("scim.request", "SCIM request", "Refused SCIM request"),
];

/// The actions the log knows, for the filter's suggestions.
pub fn known_actions() -> Vec<&'static str> {
    ACTIONS.iter().map(|(a, _, _)| *a).collect()
}

/// An action in words; an unknown one is shown as recorded.
pub fn action_words(action: &str, failure: bool) -> String {
    match ACTIONS.iter().find(|(a, _, _)| *a == action) {
        Some((_, ok, _)) if !failure => (*ok).to_string(),
        Some((_, _, refused)) => (*refused).to_string(),
        None if failure => format!("{action} (failed)"),
        None => action.to_string(),
    }
}

/// One event, ready for a page.
#[derive(Debug, Clone)]
pub struct EventView {
    pub id: i64,
    pub time: String,
    pub actor: String,
    /// The actor's user page, when the actor is a user of the organisation.
    pub actor_href: Option<String>,
    pub action: String,
    pub words: String,
    pub target: Option<String>,
    pub target_href: Option<String>,
    pub failure: bool,
    /// The detail as (key, value): the reason first, strings as they are, anything else as
    /// compact JSON.
    pub details: Vec<(String, String)>,
}

/// The names behind the ids a page of events mentions.
#[derive(Default)]
struct Names {
    users: HashMap<UserId, String>,
    groups: HashMap<GroupId, String>,
    admins: HashMap<AdminId, String>,
    tokens: HashMap<String, String>,
}

/// The events in words, in the order given.
pub async fn describe(
    directory: &Directory,
    org: &Org,
    events: Vec<Event>,
) -> directory::Result<Vec<EventView>> {
    let names = names(directory, org, &events).await?;
    let base = format!("/admin/orgs/{}", org.slug);
    Ok(events.into_iter().map(|e| view(&names, &base, e)).collect())
}

async fn names(directory: &Directory, org: &Org, events: &[Event]) -> directory::Result<Names> {
    let mut ids: Vec<uuid::Uuid> = Vec::new();
    let mut admins: Vec<AdminId> = Vec::new();
    let mut wants_tokens = false;
    for e in events {
        match e.actor.split_once(':') {
            Some(("user" | "org-admin", id)) => ids.extend(uuid::Uuid::parse_str(id).ok()),
            Some(("admin", id)) => admins.extend(AdminId::parse(id)),
            Some(("scim-token", _)) => wants_tokens = true,
            _ => {}
        }
        if let Some(t) = e.target.as_deref() {
            ids.extend(uuid::Uuid::parse_str(t).ok());
            wants_tokens |= e.action.starts_with("token.");
        }
    }
    ids.sort();
    ids.dedup();
    admins.sort();
    admins.dedup();
    let users: Vec<UserId> = ids.iter().copied().map(UserId).collect();
    let groups: Vec<GroupId> = ids.iter().copied().map(GroupId).collect();
    let tokens = if wants_tokens {
        directory
            .list_tokens(org.id)
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), token_words(&t.prefix, &t.description)))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(Names {
        users: directory.user_names(org.id, &users).await?,
        groups: directory.group_names(org.id, &groups).await?,
        admins: directory.admin_emails(&admins).await?,
        tokens,
    })
}

fn token_words(prefix: &str, description: &str) -> String {
    if description.is_empty() {
        format!("SCIM token {prefix}…")
    } else {
        format!("SCIM token {prefix}… ({description})")
    }
}

fn view(names: &Names, base: &str, e: Event) -> EventView {
    let failure = e.outcome == "failure";
    let (actor, actor_href) = actor_words(names, base, &e.actor);
    let (target, target_href) = match e.target.as_deref() {
        Some(t) => {
            let (words, href) = target_words(names, base, t);
            (Some(words), href)
        }
        None => (None, None),
    };
    EventView {
        id: e.id,
        time: rfc3339(e.at),
        actor,
        actor_href,
        words: action_words(&e.action, failure),
        action: e.action,
        target,
        target_href,
        failure,
        details: details(&e.detail),
    }
}

/// The actor in words, and a link to its user page when it is a user of the organisation.
fn actor_words(names: &Names, base: &str, actor: &str) -> (String, Option<String>) {
    let Some((kind, id)) = actor.split_once(':') else {
        return match actor {
            "cli" => ("Command line".into(), None),
            "system" => ("Gatehouse".into(), None),
            other => (other.into(), None),
        };
    };
    let user = || UserId::parse(id).and_then(|u| names.users.get(&u).map(|n| (u, n)));
    match kind {
        "user" | "org-admin" => match user() {
            Some((u, name)) => {
                let words = if kind == "org-admin" {
                    format!("{name} (organisation admin)")
                } else {
                    name.clone()
                };
                (words, Some(format!("{base}/users/{u}")))
            }
            None => (actor.into(), None),
        },
        "admin" => match AdminId::parse(id).and_then(|a| names.admins.get(&a)) {
            Some(email) => (format!("{email} (platform admin)"), None),
            None => (actor.into(), None),
        },
        "scim-token" => match names.tokens.get(id) {
            Some(words) => (words.clone(), None),
            None => (actor.into(), None),
        },
        "idp" => (format!("Identity provider ({id})"), None),
        "setup-link" => (format!("Setup link {id}"), None),
        "api-key" => (format!("API key {id}"), None),
        _ => (actor.into(), None),
    }
}

/// The target in words: a user's or group's name with a link, a token's prefix, or the id.
fn target_words(names: &Names, base: &str, target: &str) -> (String, Option<String>) {
    if let Some(u) = UserId::parse(target) {
        if let Some(name) = names.users.get(&u) {
            return (name.clone(), Some(format!("{base}/users/{u}")));
        }
        if let Some(name) = names.groups.get(&GroupId(u.0)) {
            return (format!("group {name}"), Some(format!("{base}/groups/{u}")));
        }
        if let Some(words) = names.tokens.get(target) {
            return (words.clone(), None);
        }
    }
    (target.to_string(), None)
}

/// Keys shown first, in this order: why, then what was received (a refused SCIM call).
const FIRST_KEYS: &[&str] = &[
    "reason",
    "status",
    "scimType",
    "method",
    "path",
    "contentType",
    "received",
    "receivedText",
    "receivedBytes",
];

/// The detail as a key/value list: the keys of [`FIRST_KEYS`] first, then the others in
/// order. Strings are shown as they are; numbers, objects and arrays as compact JSON.
pub fn details(detail: &Value) -> Vec<(String, String)> {
    let Value::Object(map) = detail else {
        return match detail {
            Value::Null => vec![],
            other => vec![("detail".into(), shown(other))],
        };
    };
    let mut out: Vec<(String, String)> = FIRST_KEYS
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (k.to_string(), shown(v))))
        .collect();
    // The rest in name order, whatever order the JSON map keeps.
    let mut rest: Vec<(String, String)> = map
        .iter()
        .filter(|(k, _)| !FIRST_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), shown(v)))
        .collect();
    rest.sort();
    out.extend(rest);
    out
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_have_words_and_unknown_ones_fall_back() {
        assert_eq!(action_words("user.deactivate", false), "Deactivated user");
        assert_eq!(action_words("scim.request", true), "Refused SCIM request");
        assert_eq!(action_words("x.y", false), "x.y");
        assert_eq!(action_words("x.y", true), "x.y (failed)");
    }

    #[test]
    fn details_put_the_reason_first_and_show_nested_values_as_json() {
        let d = details(&json!({"a": 1, "reason": "400 bad", "received": {"userName": "x"}}));
        assert_eq!(
            d,
            vec![
                ("reason".to_string(), "400 bad".to_string()),
                ("received".into(), r#"{"userName":"x"}"#.into()),
                ("a".into(), "1".into()),
            ]
        );
        assert!(details(&Value::Null).is_empty());
    }

    #[test]
    fn unknown_actors_are_shown_as_recorded() {
        let names = Names::default();
        assert_eq!(actor_words(&names, "/b", "cli").0, "Command line");
        assert_eq!(
            actor_words(&names, "/b", "user:not-an-id"),
            ("user:not-an-id".to_string(), None)
        );
        assert_eq!(actor_words(&names, "/b", "weird").0, "weird");
    }
}
