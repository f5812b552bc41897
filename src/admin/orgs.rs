//! `/admin/orgs`: the platform admin's list of organisations, and creating one.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::console::{Console, Nav};
use crate::clock::rfc3339;
use crate::directory::orgs::{NewOrg, Org};
use crate::directory::{self, Domain, OrgSlug};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

struct OrgRow {
    slug: String,
    name: String,
    domains: String,
    enabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/orgs.html")]
struct OrgsPage {
    nav: Nav,
    orgs: Vec<OrgRow>,
    problem: Option<String>,
    form_slug: String,
    form_name: String,
    form_domains: String,
}

fn rows(orgs: Vec<Org>) -> Vec<OrgRow> {
    orgs.into_iter()
        .map(|o| OrgRow {
            slug: o.slug.as_str().to_string(),
            domains: o
                .domains
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            name: o.name,
            enabled: o.settings.enabled,
            created: rfc3339(o.created_at),
        })
        .collect()
}

/// `GET /admin/orgs`.
pub async fn list(State(state): State<AppState>, console: Console) -> Result<Response, PageError> {
    console.require_platform()?;
    let p = OrgsPage {
        nav: console.nav(None, "orgs"),
        orgs: rows(state.directory.list_orgs().await?),
        problem: None,
        form_slug: String::new(),
        form_name: String::new(),
        form_domains: String::new(),
    };
    Ok(console_page(StatusCode::OK, &p))
}

#[derive(Deserialize)]
pub struct NewOrgForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    domains: String,
}

/// `POST /admin/orgs`.
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<NewOrgForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    console.require_platform()?;
    match parse(&form) {
        Ok(new) => match state.directory.create_org(new, &console.actor()).await {
            Ok(org) => Ok(Redirect::to(&format!("/admin/orgs/{}", org.slug)).into_response()),
            Err(directory::Error::Conflict { field, value }) => {
                again(
                    &state,
                    &console,
                    &form,
                    format!("The {field} {value} is taken."),
                )
                .await
            }
            Err(e) => Err(e.into()),
        },
        Err(problem) => again(&state, &console, &form, problem).await,
    }
}

fn parse(form: &NewOrgForm) -> Result<NewOrg, String> {
    let slug = OrgSlug::parse(form.slug.trim()).map_err(|e| e.0)?;
    let domains = form
        .domains
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| Domain::parse(d).map_err(|e| e.0))
        .collect::<Result<Vec<_>, _>>()?;
    let name = Some(form.name.trim().to_string()).filter(|n| !n.is_empty());
    Ok(NewOrg {
        slug,
        name,
        domains,
    })
}

async fn again(
    state: &AppState,
    console: &Console,
    form: &NewOrgForm,
    problem: String,
) -> Result<Response, PageError> {
    let p = OrgsPage {
        nav: console.nav(None, "orgs"),
        orgs: rows(state.directory.list_orgs().await?),
        problem: Some(problem),
        form_slug: form.slug.clone(),
        form_name: form.name.clone(),
        form_domains: form.domains.clone(),
    };
    Ok(console_page(StatusCode::BAD_REQUEST, &p))
}
