//! `/api/v1/orgs/{slug}/changes` and `/snapshot`: the change feed for the app behind
//! Gatehouse (DESIGN.md, Change feed). Resources are shown as SCIM shows them, without a
//! user's `groups` (memberships travel as group changes, and in the snapshot's groups).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{page_limit, ApiQuery};
use crate::clock::rfc3339;
use crate::directory::changes::{Change, ChangeKind, FeedError};
use crate::directory::{GroupId, Org, UserId};
use crate::scim::org_schema::UserType;
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// The longest long poll: proxies commonly close a connection idle for a minute.
const MAX_WAIT_SECONDS: u64 = 55;
/// How often a long poll looks again without being told: changes written by another
/// instance on the same PostgreSQL ring no bell here.
const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
pub struct ChangesQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    types: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    wait: Option<String>,
}

/// `GET /api/v1/orgs/{slug}/changes?after=SEQ&types=a,b&limit=N&wait=S`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let after = number("after", q.after.as_deref(), 0, i64::MAX)?;
    let wait = number("wait", q.wait.as_deref(), 0, MAX_WAIT_SECONDS as i64)? as u64;
    let limit = page_limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let kinds = kinds(q.types.as_deref())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let bell = state.directory.change_bell();
    let page = loop {
        // Listen before reading, so a commit between the read and the wait still wakes us.
        let rung = bell.notified();
        let page = state
            .directory
            .changes_after(org.id, after, &kinds, limit)
            .await
            .map_err(feed_error)?;
        let now = tokio::time::Instant::now();
        if !page.changes.is_empty() || now >= deadline {
            break page;
        }
        let _ = tokio::time::timeout(POLL_EVERY.min(deadline - now), rung).await;
    };
    let view = View::of(&state, &org);
    let changes: Vec<Value> = page.changes.iter().map(|c| view.change(c)).collect();
    state.metrics.webhooks.served(changes.len());
    Ok(Json(json!({ "changes": changes, "next": page.next })))
}

fn feed_error(e: FeedError) -> ApiError {
    match e {
        FeedError::Gone { .. } => ApiError::new(StatusCode::GONE, "gone", e.to_string()),
        FeedError::Directory(e) => e.into(),
    }
}

fn number(name: &str, raw: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (0..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "{name} takes a whole number from 0 to {max}, not {s:?}"
            ))),
        },
    }
}

fn kinds(raw: Option<&str>) -> Result<Vec<ChangeKind>, ApiError> {
    ChangeKind::parse_list(raw.unwrap_or_default()).map_err(ApiError::invalid)
}

/// How one organisation's resources are shown, in the feed and in webhook deliveries.
pub struct View {
    base: String,
    user_type: UserType,
}

impl View {
    pub fn of(state: &AppState, org: &Org) -> Self {
        Self::new(state.config.server.base_url(), org)
    }

    /// For the server whose public base URL is `base_url`.
    pub fn new(base_url: &str, org: &Org) -> Self {
        Self {
            base: format!("{base_url}/scim/v2/{}", org.slug),
            user_type: UserType::of(org),
        }
    }

    /// One change as the feed shows it.
    pub fn change(&self, c: &Change) -> Value {
        let resource = match (c.user(), c.group()) {
            (Some(user), _) => {
                crate::scim::users::resource::to_json(&user, &[], &self.base, &self.user_type)
            }
            (None, Some(group)) => crate::scim::groups::resource::to_json(&group, None, &self.base),
            (None, None) => json!({ "id": c.resource_id }),
        };
        let mut out = json!({
            "seq": c.seq,
            "type": c.kind,
            "time": rfc3339(c.at),
            "actor": c.actor,
            "source": c.source,
            "resourceType": c.resource_type,
            "resource": resource,
        });
        if let Some(reason) = c.reason() {
            out["reason"] = reason.into();
        }
        if let Some(ids) = c.members() {
            let members: Vec<Value> = ids
                .iter()
                .map(|id| json!({ "value": id, "$ref": format!("{}/Users/{id}", self.base) }))
                .collect();
            out["members"] = members.into();
        }
        out
    }
}

#[derive(Deserialize)]
pub struct SnapshotQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// Where a snapshot has got to: the change number it follows from (read on its first page,
/// so that what changes while it is paged through is in the feed after it), and the last
/// user or group shown.
enum Cursor {
    Users(i64, Option<UserId>),
    Groups(i64, Option<GroupId>),
}

impl Cursor {
    fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.splitn(3, '.');
        let (kind, seq, id) = (parts.next()?, parts.next()?, parts.next()?);
        let seq = seq.parse::<i64>().ok().filter(|s| *s >= 0)?;
        match kind {
            "u" if id.is_empty() => Some(Cursor::Users(seq, None)),
            "u" => Some(Cursor::Users(seq, Some(UserId::parse(id)?))),
            "g" if id.is_empty() => Some(Cursor::Groups(seq, None)),
            "g" => Some(Cursor::Groups(seq, Some(GroupId::parse(id)?))),
            _ => None,
        }
    }
}

/// `GET /api/v1/orgs/{slug}/snapshot?cursor=...&limit=N`: the organisation's live users,
/// then its groups with their members, a page at a time; every page carries `seq`, the
/// change number to follow the feed from once the last page (`next_cursor: null`) is read.
pub async fn snapshot(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<SnapshotQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let limit = page_limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => Cursor::Users(state.directory.last_change(org.id).await?, None),
        Some(raw) => Cursor::parse(raw)
            .ok_or_else(|| ApiError::invalid("the cursor is not one this API gave out"))?,
    };
    let view = View::of(&state, &org);
    let dir = &state.directory;
    let (seq, users, groups, next) = match cursor {
        Cursor::Users(seq, after) => {
            let users = dir.snapshot_users(org.id, after, limit).await?;
            let next = match users.last() {
                Some(last) if users.len() == limit as usize => format!("u.{seq}.{}", last.id),
                _ => format!("g.{seq}."),
            };
            let shown: Vec<Value> = users
                .iter()
                .map(|u| crate::scim::users::resource::to_json(u, &[], &view.base, &view.user_type))
                .collect();
            (seq, shown, Vec::new(), Some(next))
        }
        Cursor::Groups(seq, after) => {
            let groups = dir.snapshot_groups(org.id, after, limit).await?;
            let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
            let mut members = dir.members_of_groups(org.id, &ids).await?;
            let next = match groups.last() {
                Some(last) if groups.len() == limit as usize => {
                    Some(format!("g.{seq}.{}", last.id))
                }
                _ => None,
            };
            let shown: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let m = members.remove(&g.id).unwrap_or_default();
                    crate::scim::groups::resource::to_json(g, Some(&m), &view.base)
                })
                .collect();
            (seq, Vec::new(), shown, next)
        }
    };
    Ok(Json(json!({
        "users": users,
        "groups": groups,
        "next_cursor": next,
        "seq": seq,
    })))
}
