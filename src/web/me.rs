//! `/me`, the signed-in user (HTML, or JSON for `Accept: application/json`), and
//! `POST /logout`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::pages::{page, Message, PageError};
use crate::directory::policy::attributes::role_of;
use crate::session::{clear_cookie, read_cookie, CurrentSession};
use crate::sso::return_to::trusted_origin;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    user_name: String,
    display_name: Option<String>,
    email: Option<String>,
    org: String,
    groups: Vec<String>,
    /// The role, as the organisation's settings place it.
    role: Option<String>,
    csrf: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

pub async fn show(
    headers: HeaderMap,
    CurrentSession(session): CurrentSession,
) -> Result<Response, PageError> {
    let json = wants_json(&headers);
    let Ok(session) = session else {
        return Ok(if json {
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "not signed in" })),
            )
                .into_response()
        } else {
            let m = Message::new(
                "Not signed in",
                "You are not signed in, or your session has ended.",
            )
            .link("/login", "Sign in");
            page(StatusCode::UNAUTHORIZED, &m)
        });
    };
    let groups = session.groups.clone();
    let user = &session.user;
    let email = user.profile.primary_email().map(str::to_string);
    let role = role_of(&session.org_settings.policy, user);
    if json {
        let roles = user.profile.role_values();
        let body = json!({
            "id": user.id,
            "userName": user.user_name.as_str(),
            "displayName": user.profile.display_name,
            "email": email,
            "org": session.org_slug,
            "groups": groups,
            "roles": roles,
            "role": role,
        });
        return Ok((
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Json(body),
        )
            .into_response());
    }
    let p = MePage {
        user_name: user.user_name.as_str().to_string(),
        display_name: user.profile.display_name.clone(),
        email,
        org: session.org_slug.to_string(),
        groups,
        role,
        csrf: session.csrf_token.clone(),
    };
    Ok(page(StatusCode::OK, &p))
}

#[derive(Deserialize, Default)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// Ends the session. A sign-out must come from Gatehouse's own page (the form carries the
/// session's CSRF token) or from a page of this server or of a configured app origin, as
/// the browser tells: `Origin`, else `Sec-Fetch-Site: same-origin`. So the app's own
/// sign-out button works, and a page of another site cannot sign anyone out. Without a
/// live session there is nothing to protect, and the cookie is cleared all the same.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CurrentSession(session): CurrentSession,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, PageError> {
    // An app's button may post no form at all.
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Ok(session) = &session {
        let token = form
            .csrf
            .as_deref()
            .is_some_and(|csrf| bool::from(csrf.as_bytes().ct_eq(session.csrf_token.as_bytes())));
        if !token && !from_trusted_page(&headers, &state) {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Sign-out refused",
                "This sign-out request came from another site. Sign out from the page that shows your account, or from the app's own sign-out button.",
            ));
        }
    }
    if let Some(cookie) = read_cookie(&headers) {
        state.directory.end_session(&cookie).await?;
    }
    Ok(([clear_cookie(&state.config)], Redirect::to("/login")).into_response())
}

/// Whether the browser says the request comes from a page of this server or of an app
/// origin. `Origin` names the page's origin on every cross-origin POST and, in current
/// browsers, on same-origin ones too; `null` (a sandboxed or privacy-stripped page) is no
/// origin. Without it, `Sec-Fetch-Site` tells same-origin apart (Fetch Metadata).
fn from_trusted_page(headers: &HeaderMap, state: &AppState) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match value("origin") {
        Some(origin) => origin != "null" && trusted_origin(origin, &state.config),
        None => value("sec-fetch-site") == Some("same-origin"),
    }
}
