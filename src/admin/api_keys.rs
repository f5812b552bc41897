//! `/admin/api-keys`: admin API keys in the console. A platform admin issues platform-wide
//! keys and keys scoped to one organisation; a customer admin issues keys for its own
//! organisation (`/admin/orgs/{slug}/api-keys`). A new key's secret is shown once, on the
//! page that answers its creation.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::console::{Console, Nav};
use crate::clock::{rfc3339, Millis};
use crate::directory::api_keys::{ApiKeyInfo, KeyScope};
use crate::directory::orgs::Org;
use crate::directory::{self, OrgId};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

const DAY_MS: Millis = 86_400_000;
const PLATFORM_PAGE: &str = "/admin/api-keys";

struct KeyRow {
    id: String,
    scope: String,
    prefix: String,
    description: String,
    status: &'static str,
    created: String,
    created_by: String,
    expires: String,
    last_used: String,
}

struct OrgOption {
    slug: String,
    name: String,
}

/// A key just issued: its secret, shown this once.
struct Created {
    id: String,
    secret: String,
    scope: String,
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct ApiKeysPage {
    nav: Nav,
    /// Where this page lives (the create form posts there, revocations come back there).
    here: String,
    keys: Vec<KeyRow>,
    /// The organisations a platform admin may scope a key to; empty on an organisation's
    /// page.
    orgs: Vec<OrgOption>,
    created: Option<Created>,
    problem: Option<String>,
    form_description: String,
}

#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    description: String,
    /// A slug, or empty for a platform-wide key (platform page only).
    #[serde(default)]
    org: String,
    /// Days, or empty for no expiry.
    #[serde(default)]
    expires_in_days: String,
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    return_to: String,
}

fn rows(keys: Vec<ApiKeyInfo>, slugs: &HashMap<OrgId, String>, now: Millis) -> Vec<KeyRow> {
    keys.into_iter()
        .map(|k| KeyRow {
            scope: scope_label(k.org_id, slugs),
            status: k.status(now),
            created: rfc3339(k.created_at),
            expires: k.expires_at.map_or("never".into(), rfc3339),
            last_used: k.last_used_at.map_or("never".into(), rfc3339),
            id: k.id,
            prefix: k.prefix,
            description: k.description,
            created_by: k.created_by,
        })
        .collect()
}

fn scope_label(org: Option<OrgId>, slugs: &HashMap<OrgId, String>) -> String {
    match org {
        None => "platform-wide".into(),
        Some(o) => slugs.get(&o).cloned().unwrap_or_else(|| o.to_string()),
    }
}

/// What a page shows besides the outcome of a form.
struct Outcome {
    created: Option<Created>,
    problem: Option<String>,
    form_description: String,
}

impl Outcome {
    fn none() -> Self {
        Outcome {
            created: None,
            problem: None,
            form_description: String::new(),
        }
    }
}

/// Renders the platform page (org None) or an organisation's page.
async fn render(
    state: &AppState,
    console: &Console,
    org: Option<&Org>,
    status: StatusCode,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let all = state.directory.list_orgs().await?;
    let slugs: HashMap<OrgId, String> = all
        .iter()
        .map(|o| (o.id, o.slug.as_str().to_string()))
        .collect();
    let (scope, here, orgs, section) = match org {
        Some(o) => (
            KeyScope::Org(o.id),
            format!("/admin/orgs/{}/api-keys", o.slug),
            vec![],
            "org-api-keys",
        ),
        None => (
            KeyScope::All,
            PLATFORM_PAGE.to_string(),
            all.iter()
                .map(|o| OrgOption {
                    slug: o.slug.as_str().to_string(),
                    name: o.name.clone(),
                })
                .collect(),
            "api-keys",
        ),
    };
    let keys = state.directory.list_api_keys(scope).await?;
    let p = ApiKeysPage {
        nav: console.nav(org, section),
        here,
        keys: rows(keys, &slugs, state.directory.now()),
        orgs,
        created: outcome.created,
        problem: outcome.problem,
        form_description: outcome.form_description,
    };
    Ok(console_page(status, &p))
}

/// `GET /admin/api-keys`: every key (platform admins).
pub async fn platform_page(
    State(state): State<AppState>,
    console: Console,
) -> Result<Response, PageError> {
    console.require_platform()?;
    render(&state, &console, None, StatusCode::OK, Outcome::none()).await
}

/// `POST /admin/api-keys`: a platform-wide key, or one for the organisation chosen.
pub async fn platform_create(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<NewKeyForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    console.require_platform()?;
    let org = match form.org.trim() {
        "" => None,
        slug => match state.directory.org_by_slug(slug).await? {
            Some(org) => Some(org),
            None => {
                let problem = format!("There is no organisation {slug:?}.");
                return refuse(&state, &console, None, &form, problem).await;
            }
        },
    };
    create(&state, &console, org.as_ref(), None, &form).await
}

/// `GET /admin/orgs/{slug}/api-keys`: the organisation's keys.
pub async fn org_page(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    render(
        &state,
        &console,
        Some(&org),
        StatusCode::OK,
        Outcome::none(),
    )
    .await
}

/// `POST /admin/orgs/{slug}/api-keys`: a key for this organisation.
pub async fn org_create(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<NewKeyForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.full_org(&state, &slug).await?;
    create(&state, &console, Some(&org), Some(&org), &form).await
}

/// Issues the key and shows its secret. `page` is the organisation whose page this is
/// (None: the platform page); `org` is the key's organisation (None: platform-wide).
async fn create(
    state: &AppState,
    console: &Console,
    org: Option<&Org>,
    page: Option<&Org>,
    form: &NewKeyForm,
) -> Result<Response, PageError> {
    let expires_at = match parse_days(&form.expires_in_days) {
        Ok(days) => days.map(|d| state.directory.now() + d * DAY_MS),
        Err(problem) => return refuse(state, console, page, form, problem).await,
    };
    let (info, secret) = state
        .directory
        .create_api_key(
            org.map(|o| o.id),
            &form.description,
            expires_at,
            &console.actor(),
        )
        .await?;
    let created = Created {
        id: info.id,
        secret: secret.0,
        scope: org.map_or("every organisation (platform-wide)".to_string(), |o| {
            format!("the organisation {}", o.name)
        }),
    };
    let outcome = Outcome {
        created: Some(created),
        ..Outcome::none()
    };
    render(state, console, page, StatusCode::OK, outcome).await
}

fn parse_days(raw: &str) -> Result<Option<i64>, String> {
    match raw.trim() {
        "" => Ok(None),
        s => match s.parse::<i64>() {
            Ok(d) if (1..=36_500).contains(&d) => Ok(Some(d)),
            _ => Err(format!(
                "The lifetime must be a number of days from 1 to 36500, or empty for no expiry; not {s:?}."
            )),
        },
    }
}

async fn refuse(
    state: &AppState,
    console: &Console,
    page: Option<&Org>,
    form: &NewKeyForm,
    problem: String,
) -> Result<Response, PageError> {
    let outcome = Outcome {
        problem: Some(problem),
        form_description: form.description.clone(),
        created: None,
    };
    render(state, console, page, StatusCode::BAD_REQUEST, outcome).await
}

/// `POST /admin/api-keys/{id}/revoke`: a platform admin revokes any key, a customer admin
/// its organisation's keys only.
pub async fn revoke(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    if console.is_setup() {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Not covered by a setup link",
            "A setup link lets you configure connections and SCIM tokens only.",
        )
        .back_to("/admin", "Back to the console"));
    }
    let scope = match console.principal().org_scope() {
        None => KeyScope::All,
        Some(org) => KeyScope::Org(org),
    };
    match state
        .directory
        .revoke_api_key(scope, &id, &console.actor())
        .await
    {
        Ok(()) => {}
        Err(directory::Error::NotFound(_)) => {
            return Err(PageError::new(
                StatusCode::NOT_FOUND,
                "Unknown API key",
                "No API key with this id is yours to revoke.",
            )
            .back_to("/admin", "Back to the console"))
        }
        Err(e) => return Err(e.into()),
    }
    let back = match console.principal().org_scope() {
        None if form.return_to == PLATFORM_PAGE => PLATFORM_PAGE.to_string(),
        scope => match scope.or(key_org(&state, &id).await?) {
            Some(org) => match state.directory.org(org).await? {
                Some(o) => format!("/admin/orgs/{}/api-keys", o.slug),
                None => "/admin".to_string(),
            },
            None => PLATFORM_PAGE.to_string(),
        },
    };
    Ok(Redirect::to(&back).into_response())
}

/// The organisation of a key, to go back to its page.
async fn key_org(state: &AppState, id: &str) -> Result<Option<OrgId>, PageError> {
    Ok(state
        .directory
        .api_key(KeyScope::All, id)
        .await?
        .and_then(|k| k.org_id))
}
