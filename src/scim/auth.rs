//! SCIM authentication: `Authorization: Bearer <token>`, or HTTP Basic with the
//! organisation's slug as user name and the token as password. A token works only on its own
//! organisation's URLs; every refusal is the same 401, so a caller learns nothing about which
//! organisations or tokens exist, while the server log records the reason.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::ScimError;
use crate::directory::tokens::TokenInfo;
use crate::directory::{Actor, Org};
use crate::state::AppState;

/// The organisation of the request, and the token that proved the right to act on it.
pub struct ScimAuth {
    pub org: Org,
    pub token: TokenInfo,
}

impl ScimAuth {
    pub fn actor(&self) -> Actor {
        Actor::ScimToken(self.token.id)
    }
}

const REFUSED: &str = "the credentials are not valid for this organisation's SCIM endpoint";

impl FromRequestParts<AppState> for ScimAuth {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        // A segment that does not decode is the client's error (the path guard answers it
        // first; this keeps the extractor right on its own).
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ScimError::not_found("no resource has this path"))?;
        let slug = params
            .iter()
            .find(|(k, _)| *k == "org")
            .map(|(_, v)| v.to_string())
            .ok_or_else(ScimError::internal)?;
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ScimError::unauthorized(
                    "send Authorization: Bearer <token> with a SCIM token of this organisation",
                )
            })?;
        let secret =
            token_from_header(header, &slug).ok_or_else(|| ScimError::unauthorized(REFUSED))?;
        let Some((org, presented)) = state.directory.org_and_token(&slug, &secret).await? else {
            tracing::warn!(org = %slug, "SCIM request for an unknown organisation");
            return Err(ScimError::unauthorized(REFUSED));
        };
        match state.directory.accept_token(org.id, presented).await? {
            Ok(token) => {
                // Charged to the token once it is accepted: a stranger's requests, with no
                // valid token, never spend the budget the organisation's IdP relies on.
                if let Err(seconds) = state.scim_limiter.check(token.id) {
                    return Err(ScimError::too_many_requests(seconds));
                }
                super::received::authenticated(org.id, Actor::ScimToken(token.id));
                Ok(ScimAuth { org, token })
            }
            Err(refusal) => {
                tracing::warn!(org = %slug, reason = refusal.reason(), "SCIM token refused");
                Err(ScimError::unauthorized(REFUSED))
            }
        }
    }
}

/// The token in a Bearer or Basic header (RFC 6750 §2.1, RFC 7617); schemes match in any case.
fn token_from_header(header: &str, slug: &str) -> Option<String> {
    if let Some(token) = crate::web::credentials::bearer(header) {
        return Some(token.to_string());
    }
    if let Some(rest) = crate::web::credentials::basic(header) {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        return (user == slug && !password.is_empty()).then(|| password.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_and_basic() {
        assert_eq!(
            token_from_header("Bearer abc", "acme").as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_from_header("bearer  abc", "acme").as_deref(),
            Some("abc")
        );
        let basic = format!("Basic {}", STANDARD.encode("acme:ghs_x"));
        assert_eq!(token_from_header(&basic, "acme").as_deref(), Some("ghs_x"));
        assert_eq!(
            token_from_header(&basic, "other"),
            None,
            "the user name must be the slug"
        );
        assert_eq!(token_from_header("Bearer", "acme"), None);
        assert_eq!(token_from_header("Digest abc", "acme"), None);
        assert_eq!(token_from_header("Basic !!!", "acme"), None);
    }
}
