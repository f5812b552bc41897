//! `/admin/orgs/{slug}/groups`: an organisation's groups in name order with their member
//! counts, and one group with its members; both paged with keysets, so a large directory or
//! a group of 50,000 members is read a page at a time.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::console::{Console, Nav};
use super::users::{row, UserRow};
use crate::clock::rfc3339;
use crate::directory::console::queries::GroupSearch;
use crate::directory::model::fold_case;
use crate::directory::{GroupId, UserId};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

/// Groups (or members) per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

struct GroupRow {
    id: String,
    name: String,
    external_id: String,
    members: i64,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    nav: Nav,
    slug: String,
    q: String,
    rows: Vec<GroupRow>,
    first_page: bool,
    next: Option<String>,
}

/// `GET /admin/orgs/{slug}/groups?q=&after=`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let search = GroupSearch {
        text: Some(query.q.clone()),
        after: Some(query.after.clone()).filter(|a| !a.is_empty()),
        limit: PAGE + 1,
    };
    let mut groups = state.directory.search_groups(org.id, &search).await?;
    let more = groups.len() > PAGE as usize;
    groups.truncate(PAGE as usize);
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let counts = state.directory.member_counts(org.id, &ids).await?;
    let next = match groups.last() {
        Some(last) if more => {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &query.q)
                .append_pair("after", &fold_case(&last.display_name))
                .finish();
            Some(format!("/admin/orgs/{}/groups?{q}", org.slug))
        }
        _ => None,
    };
    let rows = groups
        .into_iter()
        .map(|g| GroupRow {
            members: counts.get(&g.id).copied().unwrap_or(0),
            id: g.id.to_string(),
            name: g.display_name,
            external_id: g.external_id.unwrap_or_default(),
            created: rfc3339(g.created_at),
        })
        .collect();
    let page = GroupsPage {
        nav: console.nav(Some(&org), "groups"),
        slug: org.slug.to_string(),
        q: query.q,
        rows,
        first_page: query.after.is_empty(),
        next,
    };
    Ok(console_page(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
pub struct MembersQuery {
    #[serde(default)]
    after: String,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    nav: Nav,
    slug: String,
    name: String,
    id: String,
    external_id: String,
    created: String,
    updated: String,
    count: i64,
    members: Vec<UserRow>,
    first_page: bool,
    next: Option<String>,
}

/// `GET /admin/orgs/{slug}/groups/{id}?after=`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Query(query): Query<MembersQuery>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let group = match GroupId::parse(&id) {
        Some(id) => state.directory.group(org.id, id).await?,
        None => None,
    };
    let Some(group) = group else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown group",
            "This organisation has no group with that id.",
        )
        .back_to("/admin", "Back to the console"));
    };
    let after = match query.after.as_str() {
        "" => None,
        a => Some(UserId::parse(a).ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Bad page cursor",
                "The after parameter is the id of the last member of the previous page.",
            )
            .back_to("/admin", "Back to the console")
        })?),
    };
    let mut members = state
        .directory
        .group_members_page(org.id, group.id, after, PAGE + 1)
        .await?;
    let more = members.len() > PAGE as usize;
    members.truncate(PAGE as usize);
    let next = match members.last() {
        Some(last) if more => Some(format!(
            "/admin/orgs/{}/groups/{}?after={}",
            org.slug, group.id, last.id
        )),
        _ => None,
    };
    let count = state
        .directory
        .member_counts(org.id, &[group.id])
        .await?
        .get(&group.id)
        .copied()
        .unwrap_or(0);
    let page = GroupPage {
        nav: console.nav(Some(&org), "groups"),
        slug: org.slug.to_string(),
        id: group.id.to_string(),
        name: group.display_name,
        external_id: group.external_id.unwrap_or_default(),
        created: rfc3339(group.created_at),
        updated: rfc3339(group.updated_at),
        count,
        members: members.iter().map(row).collect(),
        first_page: after.is_none(),
        next,
    };
    Ok(console_page(StatusCode::OK, &page))
}
