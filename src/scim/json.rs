//! Request and response bodies in SCIM's media type (RFC 7644 §3.1, §8.1).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{ScimError, SCIM_CONTENT_TYPE};

/// A JSON body sent as `application/scim+json` or `application/json`. Anything else is 415;
/// malformed JSON is 400 `invalidSyntax` saying where.
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default();
            let essence = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if essence != "application/scim+json" && essence != "application/json" {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    format!(
                        "send the body as application/scim+json or application/json, not {ct:?}"
                    ),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "the request body is too large",
                )
            } else {
                ScimError::bad_request(
                    "invalidSyntax",
                    format!("the request body could not be read: {e}"),
                )
            }
        })?;
        serde_json::from_slice(&bytes).map(ScimJson).map_err(|e| {
            ScimError::bad_request("invalidSyntax", format!("the body is not valid JSON: {e}"))
        })
    }
}

/// A SCIM response: the status, the body as `application/scim+json`, and extra headers.
pub fn respond(
    status: StatusCode,
    body: &Value,
    headers: &[(header::HeaderName, String)],
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    }
    response
}
