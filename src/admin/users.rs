//! `/admin/orgs/{slug}/users`: an organisation's users, searched and paged by userName
//! (keyset paging: any page costs what the first does, at any size), and one user's page
//! with its attributes, groups, identities, sessions and recent events.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::console::{Console, Nav};
use super::event_words::{self, EventView};
use crate::clock::rfc3339;
use crate::directory::model::fold_case;
use crate::directory::orgs::Org;
use crate::directory::users::admin::UserSearch;
use crate::directory::users::{Profile, User};
use crate::directory::UserId;
use crate::events::EventQuery;
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

/// Users per page.
pub const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: String,
}

pub struct UserRow {
    pub id: String,
    pub user_name: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    nav: Nav,
    slug: String,
    q: String,
    status: &'static str,
    rows: Vec<UserRow>,
    first_page: bool,
    next: Option<String>,
}

/// `GET /admin/orgs/{slug}/users?q=&status=all|active|inactive&after=`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let (status, active) = match query.status.as_str() {
        "" | "all" => ("all", None),
        "active" => ("active", Some(true)),
        "inactive" => ("inactive", Some(false)),
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Unknown status filter",
                "The status filter is one of all, active or inactive.",
            )
            .back_to("/admin", "Back to the console"))
        }
    };
    let search = UserSearch {
        text: Some(query.q.trim().to_string()).filter(|t| !t.is_empty()),
        active,
        after: Some(query.after.clone()).filter(|a| !a.is_empty()),
        // One more than a page tells whether there is a next one, without counting.
        limit: PAGE + 1,
    };
    let mut users = state.directory.search_users(org.id, &search).await?;
    let more = users.len() > PAGE as usize;
    users.truncate(PAGE as usize);
    let next = match users.last() {
        Some(last) if more => Some(list_href(
            &org,
            &query.q,
            status,
            &fold_case(last.user_name.as_str()),
        )),
        _ => None,
    };
    let page = UsersPage {
        nav: console.nav(Some(&org), "users"),
        slug: org.slug.to_string(),
        q: query.q,
        status,
        rows: users.iter().map(row).collect(),
        first_page: query.after.is_empty(),
        next,
    };
    Ok(console_page(StatusCode::OK, &page))
}

/// The list's address with a search, a status and a cursor.
fn list_href(org: &Org, q: &str, status: &str, after: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .append_pair("status", status)
        .append_pair("after", after)
        .finish();
    format!("/admin/orgs/{}/users?{query}", org.slug)
}

pub fn row(u: &User) -> UserRow {
    UserRow {
        id: u.id.to_string(),
        user_name: u.user_name.as_str().to_string(),
        name: person_name(&u.profile),
        email: u.profile.primary_email().unwrap_or_default().to_string(),
        active: u.active,
        created: rfc3339(u.created_at),
    }
}

/// The display name, else the formatted name, else given and family names.
fn person_name(p: &Profile) -> String {
    if let Some(d) = p.display_name.as_deref().filter(|d| !d.trim().is_empty()) {
        return d.to_string();
    }
    let Some(name) = &p.name else {
        return String::new();
    };
    if let Some(f) = name.formatted.as_deref().filter(|f| !f.trim().is_empty()) {
        return f.to_string();
    }
    [&name.given_name, &name.family_name]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct GroupLink {
    pub id: String,
    pub name: String,
}

pub struct IdentityRow {
    pub connection: String,
    pub subject: String,
    pub linked: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage {
    nav: Nav,
    slug: String,
    id: String,
    user_name: String,
    active: bool,
    deleted: bool,
    /// The organisation erases users on deactivation (`on_deactivate=delete`).
    deactivate_erases: bool,
    attributes: Vec<(String, String)>,
    groups: Vec<GroupLink>,
    identities: Vec<IdentityRow>,
    admin: &'static str,
    sessions: i64,
    events: Vec<EventView>,
    pub done: Option<&'static str>,
    pub problem: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    done: String,
}

/// `GET /admin/orgs/{slug}/users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    let mut page = user_page(&state, &console, &org, &user).await?;
    page.done = done_message(&query.done);
    Ok(console_page(StatusCode::OK, &page))
}

/// What the page says after an action sent the admin back to it.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "deactivate" => Some("Deactivated. Every session of this user has ended."),
        "reactivate" => Some("Reactivated. The user can sign in again."),
        "sign-out" => Some("Signed out everywhere. Every session of this user has ended."),
        _ => None,
    }
}

/// The user a console path names, if it is one of the organisation's (soft-deleted ones
/// included: their page still offers erasure).
pub async fn find(state: &AppState, org: &Org, id: &str) -> Result<User, PageError> {
    let found = match UserId::parse(id) {
        Some(id) => state.directory.user(org.id, id).await?,
        None => None,
    };
    found.ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown user",
            "This organisation has no user with that id.",
        )
        .back_to("/admin", "Back to the console")
    })
}

/// Everything the user page shows.
pub async fn user_page(
    state: &AppState,
    console: &Console,
    org: &Org,
    user: &User,
) -> Result<UserPage, PageError> {
    let directory = &state.directory;
    let groups = directory
        .user_groups(org.id, user.id)
        .await?
        .into_iter()
        .map(|g| GroupLink {
            id: g.id.to_string(),
            name: g.display_name,
        })
        .collect();
    let identities = directory
        .user_identities(org.id, user.id)
        .await?
        .into_iter()
        .map(|i| IdentityRow {
            connection: i.connection_id,
            subject: i.subject,
            linked: rfc3339(i.created_at),
        })
        .collect();
    let named = directory.named_org_admins(org.id).await?.contains(&user.id);
    let admin = if named {
        "yes, named by a platform admin"
    } else if directory
        .is_org_admin(org.id, &org.settings, user.id)
        .await?
    {
        "yes, through the admin group"
    } else {
        "no"
    };
    let query = EventQuery {
        subject: Some(user.id.to_string()),
        limit: 20,
        ..EventQuery::default()
    };
    let events = crate::events::list(directory.db().reads(), org.id, &query)
        .await
        .map_err(crate::directory::Error::from)?;
    Ok(UserPage {
        nav: console.nav(Some(org), "users"),
        slug: org.slug.to_string(),
        id: user.id.to_string(),
        user_name: user.user_name.as_str().to_string(),
        active: user.active,
        deleted: user.deleted,
        deactivate_erases: org.settings.policy.on_deactivate
            == crate::directory::policy::OnDeactivate::Delete,
        attributes: attributes(user),
        groups,
        identities,
        admin,
        sessions: directory.session_count(org.id, user.id).await?,
        events: event_words::describe(directory, org, events).await?,
        done: None,
        problem: None,
    })
}

/// The user's attributes that have a value, as (label, value).
fn attributes(u: &User) -> Vec<(String, String)> {
    let p = &u.profile;
    let mut out: Vec<(String, String)> = vec![
        ("userName".into(), u.user_name.as_str().into()),
        ("id".into(), u.id.to_string()),
    ];
    let mut put = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((label.into(), v));
        }
    };
    put("externalId", u.external_id.clone());
    put("Name", Some(person_name(p)));
    put("displayName", p.display_name.clone());
    put("nickName", p.nick_name.clone());
    put("title", p.title.clone());
    put("userType", p.user_type.clone());
    put("emails", multi(&p.emails));
    put("phoneNumbers", multi(&p.phone_numbers));
    put("addresses", multi(&p.addresses));
    put("ims", multi(&p.ims));
    put("roles", multi(&p.roles));
    put("entitlements", multi(&p.entitlements));
    put("preferredLanguage", p.preferred_language.clone());
    put("locale", p.locale.clone());
    put("timezone", p.timezone.clone());
    put("profileUrl", p.profile_url.clone());
    if let Some(e) = &p.enterprise {
        put("employeeNumber", e.employee_number.clone());
        put("department", e.department.clone());
        put("division", e.division.clone());
        put("organization", e.organization.clone());
        put("costCenter", e.cost_center.clone());
        put("manager", e.manager.as_ref().map(manager));
    }
    for (urn, value) in &p.extensions {
        put(urn, Some(value.to_string()));
    }
    put("Created", Some(rfc3339(u.created_at)));
    put("Last modified", Some(rfc3339(u.updated_at)));
    out
}

/// A multi-valued attribute: each value with its type and primary mark, one per line.
fn multi(values: &[Value]) -> Option<String> {
    let lines: Vec<String> = values
        .iter()
        .map(|v| {
            let value = match (v.get("value"), v.get("formatted")) {
                (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => s.clone(),
                _ => v.to_string(),
            };
            let mut marks = Vec::new();
            if let Some(t) = v.get("type").and_then(Value::as_str) {
                marks.push(t.to_string());
            }
            if v.get("primary").and_then(Value::as_bool) == Some(true) {
                marks.push("primary".into());
            }
            if marks.is_empty() {
                value
            } else {
                format!("{value} ({})", marks.join(", "))
            }
        })
        .collect();
    Some(lines.join("\n")).filter(|l| !l.is_empty())
}

fn manager(m: &Value) -> String {
    match m {
        Value::String(s) => s.clone(),
        other => other
            .get("displayName")
            .or_else(|| other.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| other.to_string()),
    }
}
