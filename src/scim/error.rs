//! SCIM errors (RFC 7644 §3.12): every failure under /scim/ answers with this JSON body,
//! `status` as a string, `scimType` where one applies and a `detail` a person can act on.
//! An HTML or plain-text error there is a defect: Okta reports it as invalid JSON.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory;
use crate::directory::policy::ViolationKind;

pub use crate::urn::ERROR_URN;
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";
/// Seconds a client is asked to wait while the database is away.
const UNAVAILABLE_RETRY_S: u64 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    /// RFC 7644 §3.12 Table 9: invalidFilter, tooMany, uniqueness, mutability,
    /// invalidSyntax, invalidPath, noTarget, invalidValue, invalidVers, sensitive.
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn too_many_requests(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                format!("this organisation is over its SCIM request rate; retry in {seconds} s"),
            )
        }
    }

    /// 503 while the database is away, with the wait a client should keep.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(UNAVAILABLE_RETRY_S),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the directory's database is not reachable right now; retry shortly",
            )
        }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "the server failed to handle this request; it has been logged",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.into();
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 7235 §4.1: a 401 names the schemes that would work.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\", Basic realm=\"scim\""),
            );
        }
        response
    }
}

impl From<directory::Error> for ScimError {
    fn from(e: directory::Error) -> Self {
        match e {
            directory::Error::NotFound(what) => Self::not_found(format!("{what} not found")),
            directory::Error::Conflict { field, value } => Self::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("{field} {value:?} is already in use in this organisation"),
            ),
            directory::Error::PreconditionFailed { .. } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "the resource has changed since the version in If-Match; read it again and retry",
            ),
            directory::Error::Contended(what) => Self::new(
                StatusCode::CONFLICT,
                None,
                format!("the {what} kept changing while this request was applied; retry it"),
            ),
            directory::Error::Invalid(p) => Self::bad_request("invalidValue", p.0),
            directory::Error::Policy(v) if v.kind == ViolationKind::Uniqueness => {
                Self::new(StatusCode::CONFLICT, Some("uniqueness"), v.message)
            }
            directory::Error::Policy(v) => Self::bad_request(v.kind.scim_type(), v.message),
            e if e.is_unavailable() => {
                tracing::error!(error = %e, "SCIM request failed: the database is away");
                Self::unavailable()
            }
            directory::Error::Db(_) | directory::Error::Corrupt(_) => {
                tracing::error!(error = %e, "SCIM request failed");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_a_string_and_scim_type_is_optional() {
        let e = ScimError::bad_request("invalidFilter", "bad");
        assert_eq!(
            e.body(),
            json!({"schemas": [ERROR_URN], "status": "400", "scimType": "invalidFilter", "detail": "bad"})
        );
        let body = ScimError::not_found("nope").body();
        assert!(body.get("scimType").is_none());
        assert_eq!(body["status"], "404");
    }
}
