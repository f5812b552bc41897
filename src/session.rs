//! Sessions in the browser: the `gatehouse_session` cookie and the extractor that turns it
//! into the signed-in user. The cookie is an opaque random secret (HttpOnly, SameSite=Lax,
//! Secure when the public URL is https); the session lives in the database, and every
//! request re-reads its user, so a deactivated user's next request fails on every server.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::config::Config;
use crate::directory::sessions::{Lifetimes, LiveSession, SessionRefusal};
use crate::state::AppState;

pub const COOKIE_NAME: &str = "gatehouse_session";

pub fn lifetimes(config: &Config) -> Lifetimes {
    Lifetimes {
        idle_ms: config.session.idle_timeout_minutes as i64 * 60_000,
        absolute_ms: config.session.absolute_timeout_hours as i64 * 3_600_000,
    }
}

fn secure(config: &Config) -> &'static str {
    if config.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// Sweeps expired sessions every `every` until the process ends: a session that is never
/// presented again would otherwise stay in the table. The SAML assertion IDs kept against
/// replay go the same way once their time has passed (sign-ins no longer sweep them).
pub fn spawn_sweeper(
    directory: crate::directory::Directory,
    lifetimes: Lifetimes,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match directory.sweep_sessions(lifetimes).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expired sessions removed"),
                Err(e) => tracing::error!(error = %e, "sweeping expired sessions failed"),
            }
            match directory.sweep_seen_assertions().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(assertions = n, "expired assertion IDs removed"),
                Err(e) => tracing::error!(error = %e, "sweeping expired assertion IDs failed"),
            }
        }
    });
}

/// The `Set-Cookie` that starts a session.
pub fn set_cookie(config: &Config, value: &str) -> (axum::http::HeaderName, HeaderValue) {
    let max_age = config.session.absolute_timeout_hours * 3600;
    let cookie = format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        secure(config)
    );
    (
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie values are base64url"),
    )
}

/// The `Set-Cookie` that removes it.
pub fn clear_cookie(config: &Config) -> (axum::http::HeaderName, HeaderValue) {
    let cookie = format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure(config)
    );
    (
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a fixed cookie"),
    )
}

/// The session cookie's value, if the request carries one.
pub fn read_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE_NAME)
}

/// A cookie's value by name; an empty value counts as none.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// The request's session: live, or why not. Handlers decide how to answer a refusal.
pub struct CurrentSession(pub Result<LiveSession, SessionRefusal>);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = crate::web::pages::PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(cookie) = read_cookie(&parts.headers) else {
            return Ok(CurrentSession(Err(SessionRefusal::Unknown)));
        };
        let found = state
            .directory
            .session(&cookie, lifetimes(&state.config))
            .await?;
        Ok(CurrentSession(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; gatehouse_session=abc; b=2"),
        );
        assert_eq!(read_cookie(&h).as_deref(), Some("abc"));
        h.insert(COOKIE, HeaderValue::from_static("gatehouse_session="));
        assert_eq!(read_cookie(&h), None);
    }

    #[test]
    fn cookie_is_http_only_lax_and_secure_on_https() {
        let mut c = Config::default();
        let (_, v) = set_cookie(&c, "x");
        let v = v.to_str().unwrap();
        assert!(
            v.contains("HttpOnly") && v.contains("SameSite=Lax") && !v.contains("Secure"),
            "{v}"
        );
        c.server.public_url = "https://sso.example.com".into();
        assert!(set_cookie(&c, "x").1.to_str().unwrap().contains("; Secure"));
    }
}
