//! `/Users` (RFC 7644 §3.3–§3.6): create, read, list and search, replace, patch, delete.

pub mod patch;
pub mod query;
pub mod resource;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use self::resource::{self as user, etag, Mode};
use crate::directory::users::writes::UserWrite;
use crate::directory::users::{Provisioned, User, UserData};
use crate::directory::UserId;
use crate::scim::audit::record_failure;
use crate::scim::auth::ScimAuth;
use crate::scim::discovery::base_url;
use crate::scim::error::ScimError;
use crate::scim::json::{respond, ScimJson};
use crate::scim::list::ListParams;
use crate::scim::org_schema::UserType;
use crate::scim::precondition::{check_if_match, not_modified};
use crate::scim::projection::Projection;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    auth: ScimAuth,
    RawQuery(query): RawQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let projection = write_projection(&auth, query.as_deref());
    let result = async {
        let data = user::from_json(&body, Mode::Create, None, &UserType::of(&auth.org))?;
        Ok(state
            .directory
            .provision_user(&auth.org, data, &auth.actor())
            .await?)
    }
    .await;
    let (created, how) = record_failure(&state, &auth, "user.create", None, result).await?;
    let body = if how == Provisioned::Adopted {
        // A user that a first login made keeps its groups: show them.
        render_one(&state, &auth, &created, &projection).await?
    } else {
        // A user just created (or brought back, its memberships having ended with its
        // deletion) belongs to no group yet: no need to ask.
        let user_type = UserType::of(&auth.org);
        projection.apply(
            &user_type,
            user::to_json(&created, &[], &base_url(&state, &auth), &user_type),
        )
    };
    Ok(respond(
        StatusCode::CREATED,
        &body,
        &resource_headers(&body, &created),
    ))
}

/// What a write's answer shows (RFC 7644 §3.9).
pub(super) fn write_projection(auth: &ScimAuth, query: Option<&str>) -> Projection {
    ListParams::write_projection(query, &UserType::of(&auth.org))
}

pub async fn get(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let found = live_user(&state, &auth, &id).await?;
    if not_modified(&headers, &etag(found.version)) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag(found.version))],
        )
            .into_response());
    }
    let params = ListParams::from_query(query.as_deref())?;
    let projection = params.projection(&UserType::of(&auth.org));
    let body = render_one(&state, &auth, &found, &projection).await?;
    Ok(respond(
        StatusCode::OK,
        &body,
        &resource_headers(&body, &found),
    ))
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

/// `POST /Users/.search` (RFC 7644 §3.4.3).
pub async fn search(
    State(state): State<AppState>,
    auth: ScimAuth,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let params = ListParams::from_search(&body)?;
    let body = query::run(&state, &auth, &params).await?;
    Ok(respond(StatusCode::OK, &body, &[]))
}

/// PUT replaces the user: what the body leaves out is cleared (RFC 7644 §3.5.1), except
/// `active`, which an omission never changes.
pub async fn replace(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let projection = write_projection(&auth, query.as_deref());
    let user_type = UserType::of(&auth.org);
    let actor = auth.actor();
    let write = UserWrite::new(&actor, "user.replace");
    let replace = |current: &User| {
        check_if_match(&headers, &etag(current.version))?;
        let data = user::from_json(&body, Mode::Replace, Some(current), &user_type)?;
        Ok(Some(data))
    };
    let result = update_live_user(&state, &auth, &id, write, replace).await;
    let replaced = record_failure(&state, &auth, "user.replace", Some(id), result).await?;
    let body = render_one(&state, &auth, &replaced, &projection).await?;
    Ok(respond(
        StatusCode::OK,
        &body,
        &resource_headers(&body, &replaced),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let result = async {
        let current = live_user(&state, &auth, &id).await?;
        check_if_match(&headers, &etag(current.version))?;
        Ok(state
            .directory
            .delete_user(&auth.org, current.id, &auth.actor())
            .await?)
    }
    .await;
    record_failure(&state, &auth, "user.delete", Some(id), result).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A live (not deleted) user of the organisation; an id that is not a UUID is simply not
/// found (404), as clients expect.
pub(super) async fn live_user(
    state: &AppState,
    auth: &ScimAuth,
    id: &str,
) -> Result<User, ScimError> {
    state
        .directory
        .user(auth.org.id, user_id(id)?)
        .await?
        .filter(|u| !u.deleted)
        .ok_or_else(|| no_user(id))
}

/// The id in a `/Users/{id}` path; one that is not an id names no user.
fn user_id(id: &str) -> Result<UserId, ScimError> {
    UserId::parse(id).ok_or_else(|| no_user(id))
}

/// PUT's and PATCH's write: `change` runs on the live user `/Users/{id}` names, as the
/// directory's write transaction reads it ([`crate::directory::Directory::update_user`]).
pub(super) async fn update_live_user(
    state: &AppState,
    auth: &ScimAuth,
    id: &str,
    write: UserWrite<'_>,
    change: impl FnMut(&User) -> Result<Option<UserData>, ScimError>,
) -> Result<User, ScimError> {
    let updated = state
        .directory
        .update_user(&auth.org, user_id(id)?, write, change)
        .await;
    // The directory's "user not found" says less than the read's answer does.
    updated.map_err(|e| match e.status {
        StatusCode::NOT_FOUND => no_user(id),
        _ => e,
    })
}

fn no_user(id: &str) -> ScimError {
    ScimError::not_found(format!("no user with id {id:?} in this organisation"))
}

/// The representation of one user, with its groups when they are to be returned.
pub async fn render_one(
    state: &AppState,
    auth: &ScimAuth,
    user: &User,
    projection: &Projection,
) -> Result<Value, ScimError> {
    Ok(render(state, auth, std::slice::from_ref(user), projection)
        .await?
        .remove(0))
}

/// Representations of users, loading all their groups in one query.
pub async fn render(
    state: &AppState,
    auth: &ScimAuth,
    users: &[User],
    projection: &Projection,
) -> Result<Vec<Value>, ScimError> {
    let base = base_url(state, auth);
    let user_type = UserType::of(&auth.org);
    let mut groups = if projection.returns("groups") && !users.is_empty() {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        state.directory.groups_of_users(auth.org.id, &ids).await?
    } else {
        Default::default()
    };
    Ok(users
        .iter()
        .map(|u| {
            let g = groups.remove(&u.id).unwrap_or_default();
            projection.apply(&user_type, user::to_json(u, &g, &base, &user_type))
        })
        .collect())
}

pub(super) fn resource_headers(body: &Value, user: &User) -> Vec<(header::HeaderName, String)> {
    let mut headers = vec![(header::ETAG, etag(user.version))];
    if let Some(location) = body["meta"]["location"].as_str() {
        headers.push((header::LOCATION, location.to_string()));
    }
    headers
}
