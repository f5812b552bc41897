//! `GET /auth/check`: forward authentication for the app behind Gatehouse (nginx
//! `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`). 200 with the user in
//! headers for a live session of an active user; 401 otherwise, from the moment a user is
//! deactivated.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::pages::PageError;
use crate::directory::policy::attributes::role_of;
use crate::session::CurrentSession;

pub async fn check(CurrentSession(session): CurrentSession) -> Result<Response, PageError> {
    let Ok(session) = session else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CACHE_CONTROL, "no-store")],
        )
            .into_response());
    };
    let user = &session.user;
    let groups = &session.groups;
    let roles = user.profile.role_values();
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut put = |name: &'static str, value: &str| {
        // Header values are bytes: UTF-8 passes as is; control characters never do.
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-gatehouse-user", user.user_name.as_str());
    put("x-gatehouse-user-id", &user.id.to_string());
    put(
        "x-gatehouse-email",
        user.profile.primary_email().unwrap_or_default(),
    );
    put("x-gatehouse-org", session.org_slug.as_str());
    put("x-gatehouse-groups", &groups.join(","));
    put("x-gatehouse-roles", &roles.join(","));
    // The one role the organisation's settings name; absent when the user has none.
    if let Some(role) = role_of(&session.org_settings.policy, user) {
        put("x-gatehouse-role", &role);
    }
    Ok(response)
}
