//! `/api/v1/orgs/{slug}/users`: search users, read one, deactivate, reactivate, sign out
//! everywhere, erase.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{page_limit, ApiQuery};
use crate::clock::rfc3339;
use crate::directory::users::admin::UserSearch;
use crate::directory::users::User;
use crate::directory::{Org, UserId};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// A user as the API shows it.
pub fn user_json(u: &User) -> Value {
    let emails: Vec<Value> = u
        .profile
        .emails
        .iter()
        .filter_map(|e| {
            let value = e.get("value")?.as_str()?;
            Some(json!({
                "value": value,
                "type": e.get("type").and_then(Value::as_str),
                "primary": e.get("primary").and_then(Value::as_bool).unwrap_or(false),
            }))
        })
        .collect();
    json!({
        "id": u.id,
        "userName": u.user_name.as_str(),
        "active": u.active,
        "deleted": u.deleted,
        "displayName": u.profile.display_name,
        "email": u.profile.primary_email(),
        "emails": emails,
        "name": u.profile.name,
        "externalId": u.external_id,
        "created": rfc3339(u.created_at),
        "lastModified": rfc3339(u.updated_at),
    })
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `GET /api/v1/orgs/{slug}/users?q=&status=&cursor=&limit=`, in userName order.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let active = match query.status.as_deref().map(str::trim).unwrap_or("all") {
        "" | "all" => None,
        "active" => Some(true),
        "inactive" => Some(false),
        other => {
            return Err(ApiError::invalid(format!(
                "status takes active, inactive or all, not {other:?}"
            )))
        }
    };
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(decode_cursor(c)?),
    };
    let limit = page_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let search = UserSearch {
        text: query.q,
        active,
        after,
        // One more than asked tells whether another page follows.
        limit: limit + 1,
    };
    let mut users = state.directory.search_users(org.id, &search).await?;
    let next_cursor = if users.len() > limit as usize {
        users.truncate(limit as usize);
        users
            .last()
            .map(|u| URL_SAFE_NO_PAD.encode(u.user_name.key()))
    } else {
        None
    };
    let users: Vec<Value> = users.iter().map(user_json).collect();
    Ok(Json(json!({ "users": users, "next_cursor": next_cursor })))
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid("the cursor is not one this API gave out"))
}

/// The user a path names, in the organisation.
async fn find(state: &AppState, org: &Org, id: &str) -> Result<User, ApiError> {
    let not_found = || ApiError::not_found(format!("no user {id:?} in this organisation"));
    let id = UserId::parse(id).ok_or_else(not_found)?;
    state
        .directory
        .user(org.id, id)
        .await?
        .ok_or_else(not_found)
}

/// A user with its groups and linked identities.
async fn detail(state: &AppState, org: &Org, user: &User) -> Result<Value, ApiError> {
    let groups: Vec<Value> = state
        .directory
        .user_groups(org.id, user.id)
        .await?
        .iter()
        .map(|g| json!({ "id": g.id, "displayName": g.display_name }))
        .collect();
    let identities: Vec<Value> = state
        .directory
        .user_identities(org.id, user.id)
        .await?
        .iter()
        .map(|i| {
            json!({
                "connection": i.connection_id,
                "subject": i.subject,
                "linked": rfc3339(i.created_at),
            })
        })
        .collect();
    let mut out = user_json(user);
    out["groups"] = groups.into();
    out["identities"] = identities.into();
    Ok(out)
}

type UserPath = Path<(String, String)>;

/// `GET /api/v1/orgs/{slug}/users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): UserPath,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    Ok(Json(detail(&state, &org, &user).await?))
}

/// `POST /api/v1/orgs/{slug}/users/{id}/deactivate`: every session of the user ends.
pub async fn deactivate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): UserPath,
) -> Result<Json<Value>, ApiError> {
    set_active(state, caller, &slug, &id, false).await
}

/// `POST /api/v1/orgs/{slug}/users/{id}/reactivate`.
pub async fn reactivate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): UserPath,
) -> Result<Json<Value>, ApiError> {
    set_active(state, caller, &slug, &id, true).await
}

async fn set_active(
    state: AppState,
    caller: ApiCaller,
    slug: &str,
    id: &str,
    active: bool,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, slug).await?;
    let user = find(&state, &org, id).await?;
    let user = state
        .directory
        .set_active(&org, user.id, active, &caller.actor())
        .await?;
    Ok(Json(detail(&state, &org, &user).await?))
}

/// `POST /api/v1/orgs/{slug}/users/{id}/sign-out`: ends every session of the user.
pub async fn sign_out(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): UserPath,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    state
        .directory
        .sign_out_everywhere(org.id, user.id, &caller.actor())
        .await?;
    let user = find(&state, &org, &id).await?;
    Ok(Json(detail(&state, &org, &user).await?))
}

#[derive(Deserialize)]
pub struct EraseQuery {
    #[serde(default)]
    confirm: Option<String>,
}

/// `DELETE /api/v1/orgs/{slug}/users/{id}?confirm={userName}`: erases the user for good.
pub async fn erase(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): UserPath,
    ApiQuery(query): ApiQuery<EraseQuery>,
) -> Result<StatusCode, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    if query.confirm.as_deref() != Some(user.user_name.as_str()) {
        return Err(ApiError::invalid(
            "erasing a user cannot be undone: add ?confirm= with the user's exact userName",
        ));
    }
    state
        .directory
        .erase_user(org.id, user.id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
