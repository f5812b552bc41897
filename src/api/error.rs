//! Errors of the admin API: always JSON, `{"error": "<code>", "detail": "<words to act on>"}`,
//! whatever failed (a handler, an extractor, the router itself: see [`api_guard`]).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::admin::ops::SetupError;
use crate::directory;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A short, stable code a program can branch on.
    pub code: &'static str,
    /// What went wrong, in words a person can act on.
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", detail)
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is not reachable right now; retry shortly",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; it has been logged",
        )
    }

    /// The code for a status that a layer or the router answered with.
    fn code_for(status: StatusCode) -> &'static str {
        match status {
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            s if s.is_server_error() => "internal",
            _ => "error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "detail": self.detail });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme that would work.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse-api\""),
            );
        }
        response
    }
}

impl From<directory::Error> for ApiError {
    fn from(e: directory::Error) -> Self {
        match e {
            directory::Error::NotFound(what) => Self::not_found(format!("{what} not found")),
            directory::Error::Conflict { field, value } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{field} {value:?} is already taken"),
            ),
            directory::Error::PreconditionFailed { .. } | directory::Error::Contended(_) => {
                Self::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "the resource changed while this request ran; try again",
                )
            }
            directory::Error::Invalid(p) => Self::invalid(p.0),
            directory::Error::Policy(v) => Self::invalid(v.message),
            e if e.is_unavailable() => {
                tracing::error!(error = %e, "admin API request failed: the database is away");
                Self::unavailable()
            }
            directory::Error::Db(_) | directory::Error::Corrupt(_) => {
                tracing::error!(error = %e, "admin API request failed");
                Self::internal()
            }
        }
    }
}

impl From<SetupError> for ApiError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Invalid(detail) => Self::invalid(detail),
            SetupError::Directory(e) => e.into(),
        }
    }
}

/// Guards every request under /api/v1:
/// - reads the body whole first (within the size limit), so that a refusal sent before a
///   handler reads it (401, 405) does not close a keep-alive connection that the client is
///   about to send its next request on;
/// - rewrites any error response that is not JSON already (the router's 405, a rejection
///   that an extractor answered in text) into the API's JSON error.
pub async fn api_guard(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    // The server's body limit wraps the body already: reading past it fails here.
    let response = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    as_json_error(&method, response)
}

/// The API's JSON error for an error response that is not JSON already; anything else
/// passes unchanged. The server's outer layers use it too, for what they answer themselves
/// (a body over the limit, a caught panic).
pub fn as_json_error(method: &axum::http::Method, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "there is no admin API endpoint at this path".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => format!("this endpoint does not accept {method}"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than this server accepts".to_string()
        }
        s if s.is_server_error() => {
            "the server failed to handle this request; it has been logged".to_string()
        }
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    };
    let mut rewritten = ApiError::new(status, ApiError::code_for(status), detail).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        rewritten.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rewritten
}

/// Any path under /api/v1 that no endpoint answers.
pub async fn no_endpoint() -> ApiError {
    ApiError::not_found("there is no admin API endpoint at this path")
}
