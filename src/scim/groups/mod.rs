//! `/Groups` (RFC 7644 §3.3–§3.6) as Okta's Push Groups and Entra drive it.

pub mod patch;
pub mod query;
pub mod resource;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use self::resource::{self as group, GroupBody};
use crate::directory::groups::members::MemberOp;
use crate::directory::groups::{Group, GroupUpdate, NewGroup};
use crate::directory::GroupId;
use crate::scim::audit::record_failure;
use crate::scim::auth::ScimAuth;
use crate::scim::error::ScimError;
use crate::scim::json::{respond, ScimJson};
use crate::scim::list::ListParams;
use crate::scim::precondition::{check_if_match, if_match_given, not_modified};
use crate::scim::projection::Projection;
use crate::scim::schema::GROUP;
use crate::scim::users::resource::etag;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    auth: ScimAuth,
    RawQuery(query): RawQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let result = async {
        let GroupBody {
            display_name,
            external_id,
            members,
        } = group::from_json(&body)?;
        let new = NewGroup {
            display_name,
            external_id,
            members: members.unwrap_or_default(),
        };
        Ok(state
            .directory
            .create_group(auth.org.id, new, &auth.actor())
            .await?
            .0)
    }
    .await;
    let created = record_failure(&state, &auth, "group.create", None, result).await?;
    one(
        &state,
        &auth,
        &created,
        &projection(query.as_deref()),
        StatusCode::CREATED,
    )
    .await
}

pub async fn get(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let found = find(&state, &auth, &id).await?;
    if not_modified(&headers, &etag(found.version)) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag(found.version))],
        )
            .into_response());
    }
    let projection = projection(query.as_deref());
    one(&state, &auth, &found, &projection, StatusCode::OK).await
}

pub async fn list(
    State(state): State<AppState>,
    auth: ScimAuth,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let params = ListParams::from_query(query.as_deref())?;
    let body = query::run(&state, &auth, &params).await?;
    Ok(respond(StatusCode::OK, &body, &[]))
}

pub async fn search(
    State(state): State<AppState>,
    auth: ScimAuth,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let params = ListParams::from_search(&body)?;
    let body = query::run(&state, &auth, &params).await?;
    Ok(respond(StatusCode::OK, &body, &[]))
}

/// PUT replaces the group, its members included (Okta's AIW apps push membership this way).
pub async fn replace(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let result = async {
        let current = find(&state, &auth, &id).await?;
        check_if_match(&headers, &etag(current.version))?;
        let GroupBody {
            display_name,
            external_id,
            members,
        } = group::from_json(&body)?;
        let mut ops = vec![MemberOp::RemoveAll];
        ops.extend(members.map(MemberOp::Add));
        let update = GroupUpdate {
            display_name: Some(display_name),
            external_id: Some(external_id),
            members: ops,
        };
        let expected = if_match_given(&headers).then_some(current.version);
        Ok(state
            .directory
            .update_group(auth.org.id, current.id, update, expected, &auth.actor())
            .await?
            .0)
    }
    .await;
    let replaced = record_failure(&state, &auth, "group.replace", Some(id), result).await?;
    one(
        &state,
        &auth,
        &replaced,
        &projection(query.as_deref()),
        StatusCode::OK,
    )
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let result = async {
        let current = find(&state, &auth, &id).await?;
        check_if_match(&headers, &etag(current.version))?;
        let expected = if_match_given(&headers).then_some(current.version);
        Ok(state
            .directory
            .delete_group(auth.org.id, current.id, expected, &auth.actor())
            .await?)
    }
    .await;
    record_failure(&state, &auth, "group.delete", Some(id), result).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A group of the organisation; an id that is not a UUID is simply not found.
pub(super) async fn find(state: &AppState, auth: &ScimAuth, id: &str) -> Result<Group, ScimError> {
    let not_found =
        || ScimError::not_found(format!("no group with id {id:?} in this organisation"));
    let id = GroupId::parse(id).ok_or_else(not_found)?;
    state
        .directory
        .group(auth.org.id, id)
        .await?
        .ok_or_else(not_found)
}

/// What an answer with one group shows (RFC 7644 §3.4.2.5, §3.9). Only `attributes` and
/// `excludedAttributes` count, so a write is never refused after it was made.
pub(super) fn projection(query: Option<&str>) -> Projection {
    ListParams::write_projection(query, &GROUP)
}

/// One group as a response, with its ETag and Location.
pub(super) async fn one(
    state: &AppState,
    auth: &ScimAuth,
    group: &Group,
    projection: &Projection,
    status: StatusCode,
) -> Result<Response, ScimError> {
    let body: Value = query::render(state, auth, std::slice::from_ref(group), projection, false)
        .await?
        .remove(0);
    let mut headers = vec![(header::ETAG, etag(group.version))];
    if let Some(location) = body["meta"]["location"].as_str() {
        headers.push((header::LOCATION, location.to_string()));
    }
    Ok(respond(status, &body, &headers))
}
