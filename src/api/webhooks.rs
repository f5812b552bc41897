//! `/api/v1/orgs/{slug}/webhooks`: an organisation's webhook endpoints (DESIGN.md, Change
//! feed). A new or rotated secret is in the answer once and never again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::clock::rfc3339;
use crate::directory::webhooks::{Attempt, Endpoint, EndpointSettings};
use crate::directory::{Org, WebhookId};
use crate::state::AppState;
use crate::webhooks::endpoints::{self, WebhookError};

/// Attempts shown with an endpoint.
const SHOWN_ATTEMPTS: u32 = 20;

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(why) => ApiError::invalid(why),
            WebhookError::Directory(e) => e.into(),
        }
    }
}

pub fn endpoint_json(e: &Endpoint) -> Value {
    let types: Vec<&str> = e.types.iter().map(|k| k.as_str()).collect();
    json!({
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "types": types,
        "status": e.status(),
        "paused": e.paused,
        "delivered_through": e.delivered_through,
        "failures": e.failures,
        "next_attempt": (e.next_attempt_at > 0).then(|| rfc3339(e.next_attempt_at)),
        "failing_since": e.failing_since.map(rfc3339),
        "last_error": e.last_error,
        "previous_secret_until": e.sealed_previous.as_ref().map(|(_, until)| rfc3339(*until)),
        "created": rfc3339(e.created_at),
    })
}

pub fn attempt_json(a: &Attempt) -> Value {
    json!({
        "seq": a.seq,
        "attempt": a.attempt,
        "time": rfc3339(a.at),
        "status": a.status,
        "error": a.error,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Change types; absent or empty for all.
    #[serde(default)]
    types: Option<Vec<String>>,
    #[serde(default)]
    paused: Option<bool>,
}

impl SettingsBody {
    fn settings(self) -> Result<EndpointSettings, ApiError> {
        let types = match self.types {
            None => None,
            Some(list) => Some(endpoints::parse_types(&list.join(","))?),
        };
        Ok(EndpointSettings {
            url: self.url,
            description: self.description,
            types,
            paused: self.paused,
        })
    }
}

async fn endpoint_of(
    state: &AppState,
    caller: &ApiCaller,
    slug: &str,
    id: &str,
) -> Result<(Org, Endpoint), ApiError> {
    let org = caller.org(state, slug).await?;
    let id = WebhookId::parse(id).ok_or_else(|| ApiError::not_found("webhook not found"))?;
    let endpoint = state.directory.webhook(org.id, id).await?;
    Ok((org, endpoint))
}

/// `GET /api/v1/orgs/{slug}/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let all = state.directory.list_webhooks(org.id).await?;
    let shown: Vec<Value> = all.iter().map(endpoint_json).collect();
    Ok(Json(json!({ "webhooks": shown })))
}

/// `POST /api/v1/orgs/{slug}/webhooks`: `{"url", "types"?, "description"?}`; the answer
/// holds the signing secret, once.
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Response, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let settings = body.settings()?;
    let (endpoint, secret) = endpoints::create(
        &state.directory,
        &state.secrets,
        &state.outbound,
        org.id,
        settings,
        &caller.actor(),
    )
    .await?;
    let answer = json!({ "webhook": endpoint_json(&endpoint), "secret": secret });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /api/v1/orgs/{slug}/webhooks/{id}`: the endpoint and its recent attempts.
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (org, endpoint) = endpoint_of(&state, &caller, &slug, &id).await?;
    let attempts = state
        .directory
        .webhook_attempts(org.id, endpoint.id, SHOWN_ATTEMPTS)
        .await?;
    let attempts: Vec<Value> = attempts.iter().map(attempt_json).collect();
    Ok(Json(
        json!({ "webhook": endpoint_json(&endpoint), "attempts": attempts }),
    ))
}

/// `PATCH /api/v1/orgs/{slug}/webhooks/{id}`: any of url, description, types, paused.
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<Value>, ApiError> {
    let (org, endpoint) = endpoint_of(&state, &caller, &slug, &id).await?;
    let settings = body.settings()?;
    let endpoint = endpoints::update(
        &state.directory,
        &state.outbound,
        org.id,
        endpoint.id,
        settings,
        &caller.actor(),
    )
    .await?;
    Ok(Json(json!({ "webhook": endpoint_json(&endpoint) })))
}

/// `DELETE /api/v1/orgs/{slug}/webhooks/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (org, endpoint) = endpoint_of(&state, &caller, &slug, &id).await?;
    state
        .directory
        .delete_webhook(org.id, endpoint.id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the current secret keeps signing beside the new one; the configured
    /// overlap when absent, 0 to stop it at once (a leaked secret).
    #[serde(default)]
    overlap_hours: Option<u32>,
}

/// `POST /api/v1/orgs/{slug}/webhooks/{id}/rotate`: a new secret, in the answer once.
pub async fn rotate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RotateBody>,
) -> Result<Json<Value>, ApiError> {
    let (org, endpoint) = endpoint_of(&state, &caller, &slug, &id).await?;
    let hours = match body.overlap_hours {
        Some(h) if h > 24 * 30 => {
            return Err(ApiError::invalid(
                "overlap_hours must be at most 720 (30 days)",
            ))
        }
        Some(h) => u64::from(h),
        None => state.config.webhooks.rotation_overlap_hours,
    };
    let overlap_ms = i64::try_from(hours * 3_600_000).unwrap_or(i64::MAX);
    let (endpoint, secret) = endpoints::rotate(
        &state.directory,
        &state.secrets,
        org.id,
        endpoint.id,
        overlap_ms,
        &caller.actor(),
    )
    .await?;
    Ok(Json(
        json!({ "webhook": endpoint_json(&endpoint), "secret": secret }),
    ))
}

/// `POST /api/v1/orgs/{slug}/webhooks/{id}/test`: sends a `webhook.test` message now and
/// says what the receiver answered.
pub async fn test(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (_, endpoint) = endpoint_of(&state, &caller, &slug, &id).await?;
    let answer = endpoints::send_test(
        &state.directory,
        &state.secrets,
        &state.outbound,
        &endpoint,
        &caller.actor(),
    )
    .await?;
    Ok(Json(json!({
        "delivered": answer.delivered(),
        "status": answer.status,
        "error": answer.error,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeliverBody {
    from: i64,
}

/// `POST /api/v1/orgs/{slug}/webhooks/{id}/redeliver`: `{"from": SEQ}`: delivers again from
/// that change on, and makes a failing endpoint active again.
pub async fn redeliver(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RedeliverBody>,
) -> Result<Json<Value>, ApiError> {
    let (org, endpoint) = endpoint_of(&state, &caller, &slug, &id).await?;
    let endpoint = state
        .directory
        .redeliver_webhook(org.id, endpoint.id, body.from, &caller.actor())
        .await?;
    Ok(Json(json!({ "webhook": endpoint_json(&endpoint) })))
}
