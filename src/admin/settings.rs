//! `/admin/orgs/{slug}/settings`: every organisation setting in one form. The form is made
//! from [`ORG_KEYS`] and the current settings, so a new setting shows up here without a
//! change to this page. A save parses each changed value as `gatehouse org set` does and
//! applies them together (one transaction, one event listing the changes).
//!
//! The verified domains are set on the setup page, not here.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::Value;

use super::console::{Console, Nav};
use crate::directory::orgs::{Org, OrgChange, ORG_KEYS};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

/// Set on the setup page instead.
const ELSEWHERE: &[&str] = &["domains"];
/// The hidden field listing the checkboxes of the form: an unchecked box sends nothing, so
/// this tells "unchecked" from "not in the form".
const BOOL_KEYS_FIELD: &str = "bool_keys";

pub struct Field {
    pub key: &'static str,
    pub hint: &'static str,
    pub boolean: bool,
    pub value: String,
    pub invalid: bool,
}

impl Field {
    pub fn checked(&self) -> bool {
        self.value == "true"
    }
}

pub struct Section {
    pub title: &'static str,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    nav: Nav,
    org_name: String,
    slug: String,
    sections: Vec<Section>,
    bool_keys: String,
    problems: Vec<String>,
    notice: Option<&'static str>,
}

/// The keys this form edits, with their descriptions.
fn form_keys() -> impl Iterator<Item = (&'static str, &'static str)> {
    ORG_KEYS
        .iter()
        .copied()
        .filter(|(k, _)| !ELSEWHERE.contains(k))
}

/// Every setting's current value, as the form shows it ("true"/"false" for switches, ""
/// for none), and whether it is a switch.
fn current(org: &Org) -> HashMap<&'static str, (String, bool)> {
    let json = serde_json::to_value(&org.settings).expect("settings serialise");
    form_keys()
        .map(|(key, _)| {
            let shown = match key {
                "name" => (org.name.clone(), false),
                _ => match json.get(key) {
                    Some(Value::Bool(b)) => (b.to_string(), true),
                    Some(Value::String(s)) => (s.clone(), false),
                    Some(Value::Number(n)) => (n.to_string(), false),
                    Some(Value::Array(items)) => (list_text(items), false),
                    _ => (String::new(), false),
                },
            };
            (key, shown)
        })
        .collect()
}

/// A list as its `key=value` form takes it: strings comma-separated, anything else as JSON.
fn list_text(items: &[Value]) -> String {
    let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
    match strings {
        Some(s) => s.join(","),
        None => Value::Array(items.to_vec()).to_string(),
    }
}

/// Which group of the form a key belongs to.
fn section_of(key: &str) -> &'static str {
    if key.starts_with("saml_") {
        "SAML"
    } else if key.starts_with("oidc_") {
        "OpenID Connect"
    } else if crate::directory::policy::POLICY_KEYS
        .iter()
        .any(|(k, _)| *k == key)
    {
        "Provisioning policies"
    } else {
        "Organisation"
    }
}

/// The form: current values, overridden by what was sent when a save is refused.
fn sections(
    org: &Org,
    sent: &HashMap<&'static str, String>,
    invalid: &[&'static str],
) -> Vec<Section> {
    let now = current(org);
    let mut sections: Vec<Section> = Vec::new();
    for (key, description) in form_keys() {
        let (value, boolean) = now[key].clone();
        let field = Field {
            key,
            // A checkbox says true|false by itself.
            hint: description
                .strip_prefix("true|false: ")
                .unwrap_or(description),
            boolean,
            value: sent.get(key).cloned().unwrap_or(value),
            invalid: invalid.contains(&key),
        };
        let title = section_of(key);
        match sections.iter_mut().find(|s| s.title == title) {
            Some(s) => s.fields.push(field),
            None => sections.push(Section {
                title,
                fields: vec![field],
            }),
        }
    }
    sections
}

fn bool_keys(org: &Org) -> String {
    let now = current(org);
    form_keys()
        .map(|(k, _)| k)
        .filter(|k| now[k].1)
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/orgs/{slug}/settings`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Query(query): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let notice = match query.saved.as_deref() {
        Some("1") => Some("Settings saved."),
        Some("0") => Some("Nothing to save: the settings were already so."),
        _ => None,
    };
    let page = SettingsPage {
        nav: console.nav(Some(&org), "settings"),
        org_name: org.name.clone(),
        slug: org.slug.as_str().to_string(),
        sections: sections(&org, &HashMap::new(), &[]),
        bool_keys: bool_keys(&org),
        problems: vec![],
        notice,
    };
    Ok(console_page(StatusCode::OK, &page))
}

/// What the form asks for: each setting it names, with its new value (checkboxes listed in
/// the hidden field and not sent are "false").
fn wanted(
    form: &[(String, String)],
    now: &HashMap<&'static str, (String, bool)>,
) -> HashMap<&'static str, String> {
    let sent = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let switches: Vec<&str> = sent(BOOL_KEYS_FIELD)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    form_keys()
        .filter_map(|(key, _)| {
            // Only a key that is a switch is read as one, whatever the hidden field says.
            if switches.contains(&key) && now[key].1 {
                let on = sent(key).is_some_and(|v| v != "false");
                Some((key, on.to_string()))
            } else {
                sent(key).map(|v| (key, v.to_string()))
            }
        })
        .collect()
}

/// `POST /admin/orgs/{slug}/settings`.
pub async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    console.check_csrf(csrf)?;
    let org = console.full_org(&state, &slug).await?;
    let now = current(&org);
    let wanted = wanted(&form, &now);
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    let mut invalid = Vec::new();
    // In ORG_KEYS order, so the event lists the changes as the form shows them.
    for (key, _) in form_keys() {
        let Some(value) = wanted.get(key) else {
            continue;
        };
        if value.trim() == now[key].0 {
            continue;
        }
        match OrgChange::parse(&format!("{key}={value}")) {
            Ok(change) => changes.push(change),
            Err(e) => {
                problems.push(format!("{key}: {e}"));
                invalid.push(key);
            }
        }
    }
    if !problems.is_empty() {
        let page = SettingsPage {
            nav: console.nav(Some(&org), "settings"),
            org_name: org.name.clone(),
            slug: org.slug.as_str().to_string(),
            sections: sections(&org, &wanted, &invalid),
            bool_keys: bool_keys(&org),
            problems,
            notice: None,
        };
        return Ok(console_page(StatusCode::BAD_REQUEST, &page));
    }
    let saved = if changes.is_empty() {
        "0"
    } else {
        state
            .directory
            .update_org(org.id, &changes, &console.actor())
            .await?;
        "1"
    };
    Ok(Redirect::to(&format!("/admin/orgs/{}/settings?saved={saved}", org.slug)).into_response())
}
