//! `/login`: asks for a work email, finds the organisation by its verified domain, and sends
//! the browser to that organisation's identity provider. `?org=slug` skips the question.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::pages::{page, sign_in_page, Message, PageError};
use crate::directory::orgs::Org;
use crate::directory::{Domain, Email};
use crate::sso::return_to::safe_return_to;
use crate::sso::sign_in_url;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    email: String,
    return_to: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    org: Option<String>,
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    return_to: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref(), &state.config);
    if let Some(slug) = q.org.as_deref() {
        let org = crate::sso::org_page(&state, slug).await?;
        return to_idp(&state, &org, &return_to).await;
    }
    let form = LoginPage {
        email: String::new(),
        return_to,
        problem: None,
    };
    Ok(sign_in_page(StatusCode::OK, &form))
}

pub async fn submit(
    State(state): State<AppState>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(form.return_to.as_deref(), &state.config);
    let again = |problem: String| {
        let p = LoginPage {
            email: form.email.clone(),
            return_to: return_to.clone(),
            problem: Some(problem),
        };
        Ok(sign_in_page(StatusCode::BAD_REQUEST, &p))
    };
    let Ok(email) = Email::parse(&form.email) else {
        return again("That does not look like an email address.".into());
    };
    let domain = email
        .as_str()
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or_default();
    let Ok(domain) = Domain::parse(domain) else {
        return again("That email address has no domain we can look up.".into());
    };
    match state.directory.org_by_domain(&domain).await? {
        Some(org) => to_idp(&state, &org, &return_to).await,
        None => again(format!(
            "No organisation signs in with {domain} addresses here. Check the address, or ask your administrator for your sign-in link."
        )),
    }
}

/// The redirect to the organisation's identity provider, or a page that says why not.
async fn to_idp(state: &AppState, org: &Org, return_to: &str) -> Result<Response, PageError> {
    if !org.settings.enabled {
        let m = Message::new(
            "Sign-in is turned off",
            "Sign-in is turned off for your organisation. Contact your administrator.",
        );
        return Ok(page(StatusCode::FORBIDDEN, &m));
    }
    Ok(match sign_in_url(state, org, return_to).await? {
        Some(url) => Redirect::to(&url).into_response(),
        None => {
            let m = Message::new(
                "No identity provider yet",
                &format!("{} has not connected an identity provider to Gatehouse yet. Ask your administrator to finish the setup.", org.name),
            );
            page(StatusCode::CONFLICT, &m)
        }
    })
}
