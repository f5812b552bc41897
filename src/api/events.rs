//! `/api/v1/orgs/{slug}/events`: the event log, newest first, with filters and a cursor.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{page_limit, ApiQuery};
use crate::clock::{rfc3339, Millis};
use crate::directory::UserId;
use crate::events::{self, Event, EventQuery};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    failures: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn event_json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "at": rfc3339(e.at),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "outcome": e.outcome,
        "detail": e.detail,
    })
}

/// `GET /api/v1/orgs/{slug}/events?failures=&action=&user=&from=&until=&cursor=&limit=`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let limit = page_limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let subject = match text(&q.user) {
        None => None,
        Some(u) if UserId::parse(u).is_some() => Some(u.to_string()),
        // A userName: the events about that user, by its id.
        Some(u) => match state.directory.user_by_user_name(org.id, u).await? {
            Some(user) => Some(user.id.to_string()),
            None => return Ok(Json(json!({ "events": [], "next_cursor": null }))),
        },
    };
    let query = EventQuery {
        failures_only: flag("failures", &q.failures)?,
        action: text(&q.action).map(str::to_string),
        subject,
        from: text(&q.from).map(|t| time_param("from", t)).transpose()?,
        until: text(&q.until).map(|t| time_param("until", t)).transpose()?,
        before: text(&q.cursor)
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| ApiError::invalid("the cursor is not one this API gave out"))
            })
            .transpose()?,
        // One more than asked tells whether another page follows.
        limit: limit + 1,
    };
    let mut found = events::list(state.directory.db().reads(), org.id, &query)
        .await
        .map_err(crate::directory::Error::from)?;
    let next_cursor = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found.last().map(|e| e.id.to_string())
    } else {
        None
    };
    let events: Vec<Value> = found.iter().map(event_json).collect();
    Ok(Json(
        json!({ "events": events, "next_cursor": next_cursor }),
    ))
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn flag(name: &str, v: &Option<String>) -> Result<bool, ApiError> {
    match text(v).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!(
            "{name} takes true or false, not {other:?}"
        ))),
    }
}

/// An RFC 3339 time, or a date (midnight UTC).
fn time_param(name: &str, t: &str) -> Result<Millis, ApiError> {
    let parsed = OffsetDateTime::parse(t, &Rfc3339).ok().or_else(|| {
        Date::parse(t, format_description!("[year]-[month]-[day]"))
            .ok()
            .map(|d| d.midnight().assume_utc())
    });
    parsed
        .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as Millis)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{name} takes an RFC 3339 time such as 2026-01-31T09:00:00Z, or a date such as 2026-01-31; not {t:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates() {
        assert_eq!(time_param("from", "1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(time_param("from", "1970-01-02").unwrap(), 86_400_000);
        assert!(time_param("from", "yesterday").is_err());
    }
}
