//! Request bodies and query strings whose refusals are the API's JSON errors, saying what
//! was wrong, rather than axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body (`Content-Type: application/json`). An empty body reads as `{}`, so that
/// endpoints whose fields are all optional can be called without one.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse_json(b"{}").map(ApiJson);
        }
        if !json {
            return Err(ApiError::unsupported_media_type(
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// Whether a request says its body is JSON (`application/json`, or any `+json` type).
pub fn is_json(headers: &HeaderMap) -> bool {
    let essence = media_type(headers);
    essence == "application/json" || essence.ends_with("+json")
}

/// The request's media type, lowercase, without parameters ("" when none is sent).
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Reads a body whole, within the server's limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this server accepts",
            )
        } else {
            ApiError::invalid(format!("the request body could not be read: {e}"))
        }
    })
}

/// Reads a JSON body into what an endpoint takes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("the body is not what this endpoint takes: {e}")))
}

/// Reads `limit`: 1 to `max`, `default` when absent.
pub fn page_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "limit takes a number from 1 to {max}, not {s:?}"
            ))),
        },
    }
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| {
                ApiError::invalid(format!("the query string is not valid: {}", e.body_text()))
            })
    }
}
