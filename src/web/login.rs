//! `/login`: asks for a work email, finds the organisation by its verified domain, and sends
//! the browser to that organisation's identity provider. `?org=slug` skips the question.
//!
//! The form carries a token that must match a cookie the page set (a double-submit
//! token): another site cannot post an email of its choosing here and start a sign-in the
//! person never asked for (login CSRF).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
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
    csrf: String,
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
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    return_to: Option<String>,
}

/// The cookie that the form's token must match; only sent to `/login`.
const CSRF_COOKIE: &str = "gatehouse_login_csrf";

/// The token of this browser's sign-in form, and the `Set-Cookie` when it is new.
fn form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = crate::session::cookie(headers, CSRF_COOKIE).filter(|t| t.len() >= 32) {
        return (token, None);
    }
    let token = crate::random::token(24);
    let secure = if state.config.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Lax; Max-Age=43200{secure}"
    );
    let value = HeaderValue::from_str(&cookie).expect("base64url cookie");
    (token, Some(value))
}

fn with_cookie(mut response: Response, set: Option<HeaderValue>) -> Response {
    if let Some(value) = set {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref(), &state.config);
    if let Some(slug) = q.org.as_deref() {
        let org = crate::sso::org_page(&state, slug).await?;
        return to_idp(&state, &org, &return_to).await;
    }
    let (csrf, set) = form_token(&state, &headers);
    let form = LoginPage {
        csrf,
        email: String::new(),
        return_to,
        problem: None,
    };
    Ok(with_cookie(sign_in_page(StatusCode::OK, &form), set))
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(form.return_to.as_deref(), &state.config);
    let expected = crate::session::cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if !crate::admin::console::csrf_matches(&expected, &form.csrf) {
        let m = Message::new(
            "This sign-in form has expired",
            "The form was not sent from this browser's sign-in page (its security token is \
             missing or stale). Open the sign-in page again and enter your email there.",
        )
        .link("/login", "Go to the sign-in page");
        let (_, set) = form_token(&state, &headers);
        return Ok(with_cookie(page(StatusCode::FORBIDDEN, &m), set));
    }
    let again = |problem: String| {
        let p = LoginPage {
            csrf: form.csrf.clone(),
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
