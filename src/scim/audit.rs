//! The event log's view of SCIM: what a refused change was, and why.

use super::auth::ScimAuth;
use super::error::ScimError;
use super::received;
use crate::state::AppState;

/// Writes a refused or failed change to the event log with the reason and what the request
/// brought, then passes the error on: an admin reading the log sees what Okta sent and what
/// it was told.
pub async fn record_failure<T>(
    state: &AppState,
    auth: &ScimAuth,
    action: &str,
    target: Option<String>,
    result: Result<T, ScimError>,
) -> Result<T, ScimError> {
    // A 503 means the database is away: it cannot take the record either, and trying would
    // make the answer wait a second acquire timeout.
    if let Err(e) = &result {
        if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
            return result;
        }
        let reason = format!("{} {}", e.status.as_u16(), e.detail);
        let detail = received::failure_detail(&reason, e.status, e.scim_type);
        if let Err(log_err) = state
            .directory
            .record_failure_detail(Some(auth.org.id), &auth.actor(), action, target, detail)
            .await
        {
            tracing::error!(error = %log_err, "could not record a failed SCIM call");
        }
    }
    result
}
