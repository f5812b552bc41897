//! ETags and preconditions (RFC 7644 §3.14, RFC 7232): `meta.version` is a weak ETag,
//! `If-Match` must name the current one for a write to proceed, and `If-None-Match` lets a
//! reader skip a body it already has.

use axum::http::{header, HeaderMap, StatusCode};

use super::error::ScimError;

fn tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

/// Weak comparison (RFC 7232 §2.3.2): `W/"3"` and `"3"` name the same version.
fn same(a: &str, b: &str) -> bool {
    a == "*" || a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

pub fn if_match_given(headers: &HeaderMap) -> bool {
    tags(headers, header::IF_MATCH).is_some()
}

/// 412 when `If-Match` names no current version.
pub fn check_if_match(headers: &HeaderMap, current: &str) -> Result<(), ScimError> {
    match tags(headers, header::IF_MATCH) {
        Some(list) if !list.iter().any(|t| same(t, current)) => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!(
                "If-Match does not name the current version {current}; read the resource again"
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether `If-None-Match` names the current version (answer 304 to a GET).
pub fn not_modified(headers: &HeaderMap, current: &str) -> bool {
    tags(headers, header::IF_NONE_MATCH).is_some_and(|list| list.iter().any(|t| same(t, current)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, v.parse().unwrap());
        m
    }

    #[test]
    fn if_match() {
        assert!(check_if_match(&HeaderMap::new(), "W/\"2\"").is_ok());
        assert!(check_if_match(&h(header::IF_MATCH, "W/\"2\""), "W/\"2\"").is_ok());
        assert!(check_if_match(&h(header::IF_MATCH, "\"1\", W/\"2\""), "W/\"2\"").is_ok());
        assert!(check_if_match(&h(header::IF_MATCH, "*"), "W/\"2\"").is_ok());
        let e = check_if_match(&h(header::IF_MATCH, "W/\"1\""), "W/\"2\"").unwrap_err();
        assert_eq!(e.status, StatusCode::PRECONDITION_FAILED);
    }

    #[test]
    fn if_none_match() {
        assert!(not_modified(
            &h(header::IF_NONE_MATCH, "W/\"2\""),
            "W/\"2\""
        ));
        assert!(!not_modified(
            &h(header::IF_NONE_MATCH, "W/\"1\""),
            "W/\"2\""
        ));
        assert!(!not_modified(&HeaderMap::new(), "W/\"2\""));
    }
}
