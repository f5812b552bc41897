//! The request line and the headers have limits of their own (`server.max_uri_bytes`,
//! `server.max_header_bytes`), enforced here, where the answer can be in the format of its
//! door: 414 or 431 with a SCIM error body under `/scim/` (Okta would otherwise report an
//! empty answer as "Invalid JSON"), the API's JSON under `/api/v1`, a page elsewhere.
//! hyper's own limits (about 400 KB of request head) sit above these and only ever answer
//! what no configuration here would accept.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::pages::{page, Message};
use crate::state::AppState;

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.config.server;
    let uri = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri > limits.max_uri_bytes {
        let detail = format!(
            "the request URI is {uri} bytes long; this server takes at most {} \
             (server.max_uri_bytes). Send a shorter filter, or search with POST .search",
            limits.max_uri_bytes
        );
        return refuse(request.uri().path(), StatusCode::URI_TOO_LONG, detail);
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > limits.max_header_bytes {
        let detail = format!(
            "the request headers are {headers} bytes; this server takes at most {} \
             (server.max_header_bytes)",
            limits.max_header_bytes
        );
        return refuse(
            request.uri().path(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            detail,
        );
    }
    next.run(request).await
}

fn refuse(path: &str, status: StatusCode, detail: String) -> Response {
    if path.starts_with("/scim/") {
        crate::scim::error::ScimError::new(status, None, detail).into_response()
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        let code = if status == StatusCode::URI_TOO_LONG {
            "uri_too_long"
        } else {
            "headers_too_large"
        };
        crate::api::error::ApiError::new(status, code, detail).into_response()
    } else {
        let title = if status == StatusCode::URI_TOO_LONG {
            "Address too long"
        } else {
            "Request too large"
        };
        page(status, &Message::new(title, &detail))
    }
}
