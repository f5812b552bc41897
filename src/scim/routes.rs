//! The SCIM routes, `/scim/v2/{org}/…`, and the guard that keeps every error under /scim/
//! in SCIM's JSON format.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::error::ScimError;
use super::received::{self, Received};
use super::{discovery, groups, search, users};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/{org}/ServiceProviderConfig",
            get(discovery::service_provider),
        )
        .route(
            "/scim/v2/{org}/ResourceTypes",
            get(discovery::resource_types),
        )
        .route(
            "/scim/v2/{org}/ResourceTypes/{id}",
            get(discovery::resource_type),
        )
        .route("/scim/v2/{org}/Schemas", get(discovery::schemas))
        .route("/scim/v2/{org}/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/{org}/Users", get(users::list).post(users::create))
        .route("/scim/v2/{org}/Users/.search", post(users::search))
        .route(
            "/scim/v2/{org}/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch::patch)
                .delete(users::delete),
        )
        .route(
            "/scim/v2/{org}/Groups",
            get(groups::list).post(groups::create),
        )
        .route("/scim/v2/{org}/Groups/.search", post(groups::search))
        .route(
            "/scim/v2/{org}/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch::patch)
                .delete(groups::delete),
        )
        .route("/scim/v2/{org}/.search", post(search::root))
}

/// Guards every request under /scim/:
/// - reads the body whole first (within the size limit), so that a refusal sent before a
///   handler reads it (401, 405) does not close a keep-alive connection that the client is
///   about to send its next request on;
/// - keeps what it read at hand for the event log ([`received`]), and records a refused
///   change that no handler recorded;
/// - rewrites any error response that is not already a SCIM error (the router's 404 and
///   405, the body limit's 413, a caught panic's 500) into one (RFC 7644 §3.12).
pub async fn scim_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/scim/") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    let limit = state.config.server.max_body_bytes;
    let response = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let received = Arc::new(Received::new(
                method.clone(),
                parts.uri.to_string(),
                parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                bytes.clone(),
            ));
            let response = received
                .keep(next.run(Request::from_parts(parts, Body::from(bytes))))
                .await;
            let response = as_scim_error(&method, response);
            return received::record_unrecorded(&state, &received, response).await;
        }
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    as_scim_error(&method, response)
}

/// An error response that is not a SCIM error already, rewritten into one.
fn as_scim_error(method: &Method, response: Response) -> Response {
    let status = response.status();
    let is_scim = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/scim+json"));
    if is_scim || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "there is no SCIM endpoint at this path".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => format!("this SCIM endpoint does not accept {method}"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than this server accepts".to_string()
        }
        StatusCode::INTERNAL_SERVER_ERROR => {
            "the server failed to handle this request; it has been logged".to_string()
        }
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    };
    let mut rewritten = ScimError::new(status, None, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            rewritten.headers_mut().insert(name, v.clone());
        }
    }
    rewritten
}
