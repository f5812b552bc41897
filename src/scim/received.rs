//! What a SCIM request brought, kept at hand while it is handled. When a change is refused,
//! the event log records what Gatehouse received beside why it refused: that is what an
//! admin needs to know when Okta reports a failed push.
//!
//! The guard under /scim/ reads every body whole anyway; it keeps it here (a task-local,
//! so no handler signature changes), the SCIM authentication notes who the caller is, and
//! [`super::audit::record_failure`] writes it into the event. A refusal that no handler
//! recorded (a body that is not JSON, a wrong media type) is recorded by the guard as
//! `scim.request`, once the caller has proved who it is: unauthenticated callers cannot
//! write into an organisation's log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::directory::{Actor, OrgId};
use crate::state::AppState;

/// How much of a received body an event keeps.
const KEEP_BYTES: usize = 16 * 1024;

/// Stands in for a password wherever one was sent.
const WITHHELD: &str = "(withheld)";

/// One SCIM request, as received.
pub struct Received {
    method: Method,
    path: String,
    content_type: Option<String>,
    body: Bytes,
    who: Mutex<Option<(OrgId, Actor)>>,
    recorded: AtomicBool,
}

tokio::task_local! {
    static RECEIVED: Arc<Received>;
}

impl Received {
    pub fn new(method: Method, path: String, content_type: Option<String>, body: Bytes) -> Self {
        Self {
            method,
            path,
            content_type,
            body,
            who: Mutex::new(None),
            recorded: AtomicBool::new(false),
        }
    }

    /// Runs the handling of the request with this at hand.
    pub async fn keep<F: std::future::Future>(self: &Arc<Self>, f: F) -> F::Output {
        RECEIVED.scope(self.clone(), f).await
    }

    /// A request that changes state (searches are POSTs that do not).
    fn is_change(&self) -> bool {
        matches!(
            self.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) && !self
            .path
            .split('?')
            .next()
            .unwrap_or_default()
            .ends_with("/.search")
    }

    /// The event detail of a refusal: why (`reason`, as before, then status and scimType)
    /// and what was received (method, path, media type, body with passwords withheld).
    fn detail(&self, reason: &str, status: u16, scim_type: Option<&str>) -> Value {
        let mut d = Map::new();
        d.insert("reason".into(), reason.into());
        d.insert("status".into(), status.into());
        if let Some(t) = scim_type {
            d.insert("scimType".into(), t.into());
        }
        d.insert("method".into(), self.method.as_str().into());
        d.insert("path".into(), self.path.clone().into());
        if let Some(ct) = &self.content_type {
            d.insert("contentType".into(), ct.clone().into());
        }
        received_body(&self.body, &mut d);
        Value::Object(d)
    }
}

/// Puts the body into the detail: as JSON when it is JSON and small enough, else as text,
/// cut at [`KEEP_BYTES`] (and before any mention of a password in a body that is not JSON).
fn received_body(body: &[u8], d: &mut Map<String, Value>) {
    if body.is_empty() {
        return;
    }
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            withhold_passwords(&mut value);
            let compact = value.to_string();
            if compact.len() <= KEEP_BYTES {
                d.insert("received".into(), value);
                return;
            }
            compact
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body).into_owned();
            // ASCII lowercasing keeps byte offsets, so the match is a cut point.
            match text.to_ascii_lowercase().find("password") {
                Some(at) => format!("{} {WITHHELD}", &text[..at]),
                None => text,
            }
        }
    };
    let mut cut = text.len().min(KEEP_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    d.insert("receivedText".into(), text[..cut].into());
    d.insert("receivedBytes".into(), body.len().into());
}

/// Replaces every `password` attribute (in any case, at any depth) and the value of every
/// PATCH operation whose path is the password.
fn withhold_passwords(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let path_is_password = map.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("path")
                    && v.as_str().is_some_and(|p| {
                        let p = p.to_ascii_lowercase();
                        p == "password" || p.ends_with(":password")
                    })
            });
            for (k, v) in map.iter_mut() {
                let is_password = k.eq_ignore_ascii_case("password")
                    || k.to_ascii_lowercase().ends_with(":password")
                    || (path_is_password && k.eq_ignore_ascii_case("value"));
                if is_password {
                    *v = WITHHELD.into();
                } else {
                    withhold_passwords(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(withhold_passwords),
        _ => {}
    }
}

/// Notes that the request being handled proved it acts for `org` as `actor`.
pub fn authenticated(org: OrgId, actor: Actor) {
    let _ = RECEIVED.try_with(|r| {
        *r.who.lock().unwrap_or_else(|p| p.into_inner()) = Some((org, actor));
    });
}

/// The detail for the event of a refused change, with what the request brought when the
/// request is at hand; marks the request as recorded.
pub fn failure_detail(reason: &str, status: StatusCode, scim_type: Option<&str>) -> Value {
    RECEIVED
        .try_with(|r| {
            r.recorded.store(true, Ordering::SeqCst);
            r.detail(reason, status.as_u16(), scim_type)
        })
        .unwrap_or_else(|_| json!({ "reason": reason }))
}

/// Records a refused change that no handler recorded, as `scim.request`; passes the
/// response on unchanged.
pub async fn record_unrecorded(
    state: &AppState,
    received: &Received,
    response: Response,
) -> Response {
    let status = response.status();
    let who = received
        .who
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let refused = status.is_client_error() || status.is_server_error();
    let Some((org, actor)) = who
        .filter(|_| refused && received.is_change() && !received.recorded.load(Ordering::SeqCst))
    else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, KEEP_BYTES * 4)
        .await
        .unwrap_or_default();
    let error: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let said = error["detail"].as_str().unwrap_or("refused");
    let reason = format!("{} {said}", status.as_u16());
    let detail = received.detail(&reason, status.as_u16(), error["scimType"].as_str());
    let target = target_of(&received.path);
    if let Err(e) = state
        .directory
        .record_failure_detail(Some(org), &actor, "scim.request", target, detail)
        .await
    {
        tracing::error!(error = %e, "could not record a refused SCIM request");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The resource id a SCIM path names (`/scim/v2/{org}/Users/{id}`), if any.
fn target_of(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let mut segments = path.trim_end_matches('/').split('/').skip(4);
    match (segments.next(), segments.next(), segments.next()) {
        (Some("Users" | "Groups"), Some(id), None) if !id.starts_with('.') => Some(id.into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail_of(body: &str) -> Map<String, Value> {
        let mut d = Map::new();
        received_body(body.as_bytes(), &mut d);
        d
    }

    #[test]
    fn passwords_are_withheld_at_any_depth_and_in_patch_operations() {
        let d = detail_of(
            r#"{"userName":"a","PassWord":"s3cret","ext":{"urn:x:password":"p"},
                "Operations":[{"op":"replace","path":"password","value":"p2"},
                              {"op":"replace","value":{"password":"p3","title":"t"}}]}"#,
        );
        let text = d["received"].to_string();
        for secret in ["s3cret", "\"p\"", "p2", "p3"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("\"userName\":\"a\"") && text.contains("\"title\":\"t\""));
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_text_cut_before_a_password() {
        let d = detail_of("{\"userName\": \"a\", ");
        assert_eq!(d["receivedText"], "{\"userName\": \"a\", ");
        let d = detail_of("{\"userName\": \"a\", \"password\": \"hunter2\"");
        let text = d["receivedText"].as_str().unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("(withheld)"),
            "{text}"
        );
    }

    #[test]
    fn a_large_body_is_cut() {
        let big = format!("{{\"userName\":\"{}\"}}", "x".repeat(KEEP_BYTES * 2));
        let d = detail_of(&big);
        assert_eq!(d["receivedText"].as_str().unwrap().len(), KEEP_BYTES);
        assert_eq!(d["receivedBytes"], big.len());
    }

    #[test]
    fn targets_are_resource_ids() {
        assert_eq!(
            target_of("/scim/v2/acme/Users/abc"),
            Some("abc".to_string())
        );
        assert_eq!(target_of("/scim/v2/acme/Users"), None);
        assert_eq!(target_of("/scim/v2/acme/Users/.search"), None);
        assert_eq!(target_of("/scim/v2/acme/Groups/g1?x=1"), Some("g1".into()));
    }
}
