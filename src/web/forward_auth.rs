//! `GET /auth/check`: forward authentication for the app behind Gatehouse (nginx
//! `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`). 200 with the user in
//! headers for a live session of an active user; 401 otherwise, from the moment a user is
//! deactivated.

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::pages::PageError;
use crate::directory::policy::attributes::role_of;
use crate::session::CurrentSession;
use crate::state::AppState;

pub async fn check(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
) -> Result<Response, PageError> {
    let Ok(session) = session else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CACHE_CONTROL, "no-store")],
        )
            .into_response());
    };
    let token = crate::web::session_token::for_session(&state, &session)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the session token could not be signed");
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Session token unavailable",
                "The signed session token could not be made; try again shortly.",
            )
        })?;
    let user = &session.user;
    let groups = &session.groups;
    let roles = user.profile.role_values();
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut put = |name: &'static str, value: String| {
        // Encoded values hold no control character: UTF-8 passes as header bytes.
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-gatehouse-user", encode(user.user_name.as_str()));
    put("x-gatehouse-user-id", user.id.to_string());
    put(
        "x-gatehouse-email",
        encode(user.profile.primary_email().unwrap_or_default()),
    );
    put("x-gatehouse-org", encode(session.org_slug.as_str()));
    put(
        "x-gatehouse-groups",
        encode_list(groups.iter().map(String::as_str)),
    );
    put("x-gatehouse-roles", encode_list(roles.iter().copied()));
    // The one role the organisation's settings name; empty when the user has none. Always
    // sent: a proxy that copies only the headers the answer has (Caddy 2.6 puts a literal
    // placeholder in the place of a missing one) then never leaves a header of its own.
    let role = role_of(&session.org_settings.policy, user).unwrap_or_default();
    put("x-gatehouse-role", encode(&role));
    if let Some(token) = token {
        put("x-gatehouse-token", token);
    }
    Ok(response)
}

/// A value as the headers carry it: `%` and every control character (line breaks and tabs
/// included, which could otherwise end or fold the header in a proxy) are percent-encoded
/// as their UTF-8 bytes; the rest passes as it is, so plain names read as they are and an
/// app that wants the exact value percent-decodes it.
pub fn encode(value: &str) -> String {
    encode_with(value, &[])
}

/// A list header: each item encoded as by [`encode`], with `,` encoded too, joined by
/// commas. A group named "Sales, Europe" is one item, `Sales%2C Europe`: a comma in a name
/// can never add a group.
pub fn encode_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|item| encode_with(item, &[',']))
        .collect::<Vec<_>>()
        .join(",")
}

fn encode_with(value: &str, also: &[char]) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '%' || c.is_control() || also.contains(&c) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_pass_as_they_are() {
        assert_eq!(encode("ada@acme.test"), "ada@acme.test");
        assert_eq!(encode("Zoë Ünal"), "Zoë Ünal");
    }

    #[test]
    fn control_characters_and_percent_are_encoded() {
        assert_eq!(
            encode("ada\r\nX-Gatehouse-User: root"),
            "ada%0D%0AX-Gatehouse-User: root"
        );
        assert_eq!(encode("a\tb%c"), "a%09b%25c");
        assert_eq!(encode("\u{85}"), "%C2%85", "a C1 control too");
    }

    #[test]
    fn a_comma_in_an_item_never_adds_one() {
        let list = encode_list(["Sales, Europe", "Admins"].into_iter());
        assert_eq!(list, "Sales%2C Europe,Admins");
        assert_eq!(list.split(',').count(), 2);
    }
}
