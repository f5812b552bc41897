//! A path whose segments are not valid UTF-8 once percent-decoded (`/Users/%ff%fe`) names
//! nothing this server has: it is the client's error, answered 404 in the format of its
//! door (SCIM JSON under `/scim/`, the API's JSON under `/api/v1`, a page elsewhere) before
//! any handler or extractor sees it. Extractors would otherwise refuse it with a bare
//! text/plain 400, or fail deeper down as a 500.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::pages::{page, Message};

const DETAIL: &str = "no resource has this path: a segment of it is not valid UTF-8 once \
                      percent-decoded (RFC 3986 §2.5)";

/// Whether every segment of the path decodes to UTF-8.
pub fn decodes(path: &str) -> bool {
    path.split('/')
        .all(|segment| percent_decode_str(segment).decode_utf8().is_ok())
}

pub async fn guard(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if decodes(path) {
        return next.run(request).await;
    }
    if path.starts_with("/scim/") {
        crate::scim::error::ScimError::not_found(DETAIL).into_response()
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        crate::api::error::ApiError::not_found(DETAIL).into_response()
    } else {
        let m = Message::new(
            "Page not found",
            "This address has characters that name no page here. Check the link you followed.",
        );
        page(StatusCode::NOT_FOUND, &m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn invalid_utf8_segments_are_found() {
        assert!(super::decodes("/scim/v2/acme/Users/2819c223-7f76"));
        assert!(super::decodes("/scim/v2/acme/Users/caf%C3%A9"));
        for bad in ["/Users/%ff%fe", "/Users/%C0%AF", "/x/%ff/y"] {
            assert!(!super::decodes(bad), "{bad}");
        }
    }
}
