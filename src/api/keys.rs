//! `/api/v1/api-keys`: admin API keys. A platform-wide key manages every key; a key scoped
//! to an organisation lists, creates and revokes that organisation's keys only.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use super::tokens::expiry_in_days;
use crate::clock::{rfc3339, Millis};
use crate::directory::api_keys::{ApiKeyInfo, KeyScope};
use crate::directory::OrgId;
use crate::state::AppState;

fn key_json(k: &ApiKeyInfo, slugs: &HashMap<OrgId, String>, now: Millis) -> Value {
    json!({
        "id": k.id,
        "org": k.org_id.and_then(|o| slugs.get(&o)),
        "prefix": k.prefix,
        "description": k.description,
        "status": k.status(now),
        "created_by": k.created_by,
        "created": rfc3339(k.created_at),
        "expires": k.expires_at.map(rfc3339),
        "last_used": k.last_used_at.map(rfc3339),
        "revoked": k.revoked_at.map(rfc3339),
    })
}

/// Organisation slugs by id, for showing keys.
async fn slugs(state: &AppState) -> Result<HashMap<OrgId, String>, ApiError> {
    Ok(state
        .directory
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id, o.slug.as_str().to_string()))
        .collect())
}

#[derive(Deserialize)]
pub struct KeysQuery {
    #[serde(default)]
    org: Option<String>,
}

/// `GET /api/v1/api-keys?org=`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(query): ApiQuery<KeysQuery>,
) -> Result<Json<Value>, ApiError> {
    let scope = match query.org.as_deref().filter(|s| !s.is_empty()) {
        Some(slug) => KeyScope::Org(caller.org(&state, slug).await?.id),
        None => caller.scope(),
    };
    let now = state.directory.now();
    let slugs = slugs(&state).await?;
    let keys: Vec<Value> = state
        .directory
        .list_api_keys(scope)
        .await?
        .iter()
        .map(|k| key_json(k, &slugs, now))
        .collect();
    Ok(Json(json!({ "api_keys": keys })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// Absent: the caller's own scope. `null`: platform-wide. A slug: that organisation.
    #[serde(default, deserialize_with = "present")]
    org: Option<Option<String>>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// Tells a field sent as `null` (Some(None)) from one left out (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `POST /api/v1/api-keys`: the answer holds the secret, once.
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> Result<Response, ApiError> {
    let org = match body.org {
        None => caller.key.org_id,
        Some(None) => {
            caller.require_platform()?;
            None
        }
        Some(Some(slug)) => Some(caller.org(&state, &slug).await?.id),
    };
    let now = state.directory.now();
    let expires_at = expiry_in_days(now, body.expires_in_days)?;
    let (info, secret) = state
        .directory
        .create_api_key(org, &body.description, expires_at, &caller.actor())
        .await?;
    let slugs = slugs(&state).await?;
    let answer = json!({ "api_key": key_json(&info, &slugs, now), "secret": secret.0 });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /api/v1/api-keys/{id}`: revokes the key; one outside the caller's reach is not
/// found.
pub async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .revoke_api_key(caller.scope(), &id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
