//! PATCH on `/Users/{id}` (RFC 7644 §3.5.2).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::resource::{self as user, etag, Mode};
use super::{render_one, resource_headers, update_live_user, write_projection};
use crate::directory::users::writes::UserWrite;
use crate::directory::users::User;
use crate::scim::audit::record_failure;
use crate::scim::auth::ScimAuth;
use crate::scim::discovery::base_url;
use crate::scim::error::ScimError;
use crate::scim::json::{respond, ScimJson};
use crate::scim::org_schema::UserType;
use crate::scim::patch;
use crate::scim::precondition::check_if_match;
use crate::state::AppState;

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
    let base = base_url(state, auth);
    let actor = auth.actor();
    let write = UserWrite::new(&actor, "user.patch");
    // Run on the user as the write reads it; if another write comes first (PostgreSQL),
    // again on what it left. With If-Match, that one's version no longer matches: 412.
    let apply = |current: &User| {
        check_if_match(headers, &etag(current.version))?;
        let mut resource = user::to_json(current, &[], &base, &user_type);
        patch::apply(&mut resource, &ops, &user_type).map_err(patch_error)?;
        let data = user::from_json(&resource, Mode::Patch, Some(current), &user_type)?;
        Ok(Some(data))
    };
    update_live_user(state, auth, id, write, apply).await
}

fn patch_error(e: patch::PatchError) -> ScimError {
    ScimError::bad_request(e.scim_type, e.detail)
}
