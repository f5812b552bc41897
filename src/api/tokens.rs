//! `/api/v1/orgs/{slug}/tokens`: an organisation's SCIM tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::clock::{rfc3339, Millis};
use crate::directory::tokens::TokenInfo;
use crate::directory::TokenId;
use crate::state::AppState;

const DAY_MS: Millis = 86_400_000;

fn token_json(t: &TokenInfo, now: Millis) -> Value {
    let status = t.status(now);
    json!({
        "id": t.id,
        "prefix": t.prefix,
        "description": t.description,
        "status": status,
        "created": rfc3339(t.created_at),
        "expires": t.expires_at.map(rfc3339),
        "last_used": t.last_used_at.map(rfc3339),
        "revoked": t.revoked_at.map(rfc3339),
    })
}

/// `GET /api/v1/orgs/{slug}/tokens`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let now = state.directory.now();
    let tokens: Vec<Value> = state
        .directory
        .list_tokens(org.id)
        .await?
        .iter()
        .map(|t| token_json(t, now))
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// Days from now as an expiry time; zero is refused (a key that never works).
pub fn expiry_in_days(now: Millis, days: Option<u32>) -> Result<Option<Millis>, ApiError> {
    match days {
        None => Ok(None),
        Some(0) => Err(ApiError::invalid(
            "expires_in_days must be at least 1 (leave it out for no expiry)",
        )),
        Some(d) if d > 36_500 => Err(ApiError::invalid(
            "expires_in_days must be at most 36500 (leave it out for no expiry)",
        )),
        Some(d) => Ok(Some(now + i64::from(d) * DAY_MS)),
    }
}

/// `POST /api/v1/orgs/{slug}/tokens`: the answer holds the secret, once.
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<Response, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let now = state.directory.now();
    let expires_at = expiry_in_days(now, body.expires_in_days)?;
    let (info, secret) = state
        .directory
        .create_token(org.id, &body.description, expires_at, &caller.actor())
        .await?;
    let answer = json!({ "token": token_json(&info, now), "secret": secret.0 });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /api/v1/orgs/{slug}/tokens/{id}`: revokes the token.
pub async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let id = TokenId::parse(&id).ok_or_else(|| ApiError::not_found("token not found"))?;
    state
        .directory
        .revoke_token(org.id, id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
