//! Who is calling: `Authorization: Bearer gha_...` with an admin API key. A platform-wide
//! key acts as a platform admin; a key scoped to an organisation sees that organisation
//! only, and another organisation's slug gets the answer an unknown one gets.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::directory::api_keys::{ApiKeyInfo, KeyScope};
use crate::directory::{Actor, Org};
use crate::state::AppState;

/// The key that authenticated the request.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key: ApiKeyInfo,
}

const REFUSED: &str = "the API key is not valid: it is unknown, expired or revoked";

impl ApiCaller {
    /// Who this is, as the event log records it.
    pub fn actor(&self) -> Actor {
        self.key.actor()
    }

    pub fn is_platform(&self) -> bool {
        self.key.org_id.is_none()
    }

    /// The keys this caller may see and revoke.
    pub fn scope(&self) -> KeyScope {
        match self.key.org_id {
            None => KeyScope::All,
            Some(org) => KeyScope::Org(org),
        }
    }

    /// Refuses a key scoped to an organisation.
    pub fn require_platform(&self) -> Result<(), ApiError> {
        if self.is_platform() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this endpoint needs a platform-wide API key; this key is scoped to one organisation",
            ))
        }
    }

    /// The organisation a path names, if this key may act on it.
    pub async fn org(&self, state: &AppState, slug: &str) -> Result<Org, ApiError> {
        let org = state.directory.org_by_slug(slug).await?;
        match org {
            Some(org) if self.key.org_id.is_none_or(|own| own == org.id) => Ok(org),
            _ => Err(ApiError::not_found(format!(
                "no organisation {slug:?} is within this API key's reach"
            ))),
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or_else(|| {
                ApiError::unauthorized("send Authorization: Bearer <key> with an admin API key")
            })?;
        match state.directory.verify_api_key(&secret).await? {
            Ok(key) => Ok(ApiCaller { key }),
            Err(refusal) => {
                tracing::warn!(reason = refusal.reason(), "admin API key refused");
                Err(ApiError::unauthorized(REFUSED))
            }
        }
    }
}

/// The credentials of a Bearer header (RFC 6750 §2.1); the scheme matches in any case.
fn bearer(header: &str) -> Option<String> {
    crate::web::credentials::bearer(header).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_only() {
        assert_eq!(bearer("Bearer gha_x").as_deref(), Some("gha_x"));
        assert_eq!(bearer("bearer  gha_x").as_deref(), Some("gha_x"));
        assert_eq!(bearer("Bearer \tgha_x"), None, "RFC 6750 §2.1: spaces only");
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Basic abc"), None);
    }
}
