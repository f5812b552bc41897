//! PATCH on `/Users/{id}` (RFC 7644 §3.5.2).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::audit::record_failure;
use super::auth::ScimAuth;
use super::discovery::base_url;
use super::error::ScimError;
use super::json::{respond, ScimJson};
use super::org_schema::UserType;
use super::patch;
use super::precondition::{check_if_match, if_match_given};
use super::user::{self, etag, Mode};
use super::users::{live_user, render_one, resource_headers, write_projection};
use crate::directory;
use crate::directory::users::User;
use crate::state::AppState;

/// Read-modify-write PATCHes that lost a race are tried again this many times.
const PATCH_ATTEMPTS: usize = 5;

/// PATCH (RFC 7644 §3.5.2): the operations apply to the user's representation, which is
/// then stored as a whole, so all of them take effect or none does. Answered with 200 and
/// the full resource, which every client accepts.
pub async fn patch(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let projection = write_projection(&auth, query.as_deref());
    let result = patch_user(&state, &auth, &id, &headers, &body).await;
    let patched = record_failure(&state, &auth, "user.patch", Some(id), result).await?;
    let body = render_one(&state, &auth, &patched, &projection).await?;
    Ok(respond(
        StatusCode::OK,
        &body,
        &resource_headers(&body, &patched),
    ))
}

async fn patch_user(
    state: &AppState,
    auth: &ScimAuth,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
) -> Result<User, ScimError> {
    let user_type = UserType::of(&auth.org);
    let ops = patch::parse_patch(body, &user_type).map_err(patch_error)?;
    for _ in 0..PATCH_ATTEMPTS {
        let current = live_user(state, auth, id).await?;
        check_if_match(headers, &etag(current.version))?;
        let mut resource = user::to_json(&current, &[], &base_url(state, auth), &user_type);
        patch::apply(&mut resource, &ops, &user_type).map_err(patch_error)?;
        let data = user::from_json(&resource, Mode::Patch, Some(&current), &user_type)?;
        match state
            .directory
            .replace_user(
                &auth.org,
                current.id,
                data,
                Some(current.version),
                &auth.actor(),
                "user.patch",
            )
            .await
        {
            // Another write came between the read and this one: without If-Match the
            // client asked for its operations on the latest state, so read it again.
            Err(directory::Error::PreconditionFailed { .. }) if !if_match_given(headers) => {
                continue
            }
            other => return Ok(other?),
        }
    }
    Err(ScimError::new(
        StatusCode::CONFLICT,
        None,
        "the user kept changing while this PATCH was applied; retry it",
    ))
}

fn patch_error(e: patch::PatchError) -> ScimError {
    ScimError::bad_request(e.scim_type, e.detail)
}
