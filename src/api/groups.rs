//! `/api/v1/orgs/{slug}/groups`: groups, and a group with its members.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{page_limit, ApiQuery};
use crate::clock::rfc3339;
use crate::directory::groups::Group;
use crate::directory::GroupId;
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 200;

fn group_json(g: &Group, member_count: usize) -> Value {
    json!({
        "id": g.id,
        "displayName": g.display_name,
        "externalId": g.external_id,
        "memberCount": member_count,
        "created": rfc3339(g.created_at),
        "lastModified": rfc3339(g.updated_at),
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// A position cursor: where the next page starts.
fn offset(cursor: Option<&str>) -> Result<usize, ApiError> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::invalid("the cursor is not one this API gave out")),
    }
}

/// `GET /api/v1/orgs/{slug}/groups?cursor=&limit=`, in creation order.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let start = offset(query.cursor.as_deref())?;
    let limit = page_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let (groups, total) = state
        .directory
        .groups_page(org.id, start as i64, i64::from(limit))
        .await?;
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let members = state.directory.members_of_groups(org.id, &ids).await?;
    let end = start + groups.len();
    let next_cursor = (!groups.is_empty() && (end as i64) < total).then(|| end.to_string());
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| group_json(g, members.get(&g.id).map_or(0, Vec::len)))
        .collect();
    Ok(Json(
        json!({ "groups": groups, "total": total, "next_cursor": next_cursor }),
    ))
}

/// `GET /api/v1/orgs/{slug}/groups/{id}?cursor=&limit=`: the group and a page of its
/// members (by user id).
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let not_found = || ApiError::not_found(format!("no group {id:?} in this organisation"));
    let gid = GroupId::parse(&id).ok_or_else(not_found)?;
    let group = state
        .directory
        .group(org.id, gid)
        .await?
        .ok_or_else(not_found)?;
    let start = offset(query.cursor.as_deref())?;
    let limit = page_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)? as usize;
    let ids = state.directory.group_member_ids(org.id, gid).await?;
    let page: Vec<_> = ids.iter().skip(start).take(limit).collect();
    let mut members = Vec::with_capacity(page.len());
    for uid in &page {
        let user = state.directory.user(org.id, **uid).await?;
        members.push(json!({
            "id": uid,
            "userName": user.as_ref().map(|u| u.user_name.as_str()),
            "active": user.as_ref().map(|u| u.active),
        }));
    }
    let end = start + page.len();
    let next_cursor = (!page.is_empty() && end < ids.len()).then(|| end.to_string());
    let mut out = group_json(&group, ids.len());
    out["members"] = members.into();
    out["next_cursor"] = next_cursor.into();
    Ok(Json(out))
}
