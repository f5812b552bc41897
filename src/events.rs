//! The event log: every state change, login attempt and admin action, append-only (the
//! migrations refuse UPDATE and DELETE on it). A success is written in the transaction of the
//! change it records, so there is never a change without its event, or an event without its
//! change; a failure is written on its own after the change was rolled back.

use serde::Serialize;

use crate::clock::Millis;
use crate::directory::{Actor, OrgId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// An event about to be written.
pub struct NewEvent<'a> {
    pub org_id: Option<OrgId>,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub org_id: Option<String>,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: serde_json::Value,
}

/// An `events` row as [`list`] reads it: the detail still text.
#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    org_id: Option<String>,
    at: Millis,
    actor: String,
    action: String,
    target: Option<String>,
    outcome: String,
    detail: String,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Event {
        Event {
            id: row.id,
            org_id: row.org_id,
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            outcome: row.outcome,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Appends an event on the given connection (normally the caller's transaction).
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    at: Millis,
    event: NewEvent<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into events (org_id, at, actor, action, target, outcome, detail) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.org_id.map(|o| o.to_string()))
    .bind(at)
    .bind(event.actor.to_string())
    .bind(event.action)
    .bind(event.target)
    .bind(event.outcome.as_str())
    .bind(event.detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Which events to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub failures_only: bool,
    pub action: Option<String>,
    /// Only events about this target (a user's id), or done by that user.
    pub subject: Option<String>,
    /// Only events at or after this time.
    pub from: Option<Millis>,
    /// Only events before this time.
    pub until: Option<Millis>,
    /// Only events older than this id: the cursor for the next page.
    pub before: Option<i64>,
    pub limit: u32,
}

/// Reads an organisation's events, newest first.
pub async fn list(
    reads: &crate::db::Reads,
    org: OrgId,
    query: &EventQuery,
) -> Result<Vec<Event>, sqlx::Error> {
    let rows = sqlx::query_as::<_, EventRow>(
        "select id, org_id, at, actor, action, target, outcome, detail from events \
         where org_id = $1 and ($2 = 0 or outcome = 'failure') \
           and ($3 = '' or action = $3) and id < $4 \
           and ($6 = '' or target = $6 or actor = $7 or actor = $8) \
           and at >= $9 and at < $10 \
         order by id desc limit $5",
    )
    .bind(org.to_string())
    .bind(query.failures_only as i64)
    .bind(query.action.clone().unwrap_or_default())
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(i64::from(query.limit.clamp(1, 1000)))
    .bind(query.subject.clone().unwrap_or_default())
    .bind(format!(
        "user:{}",
        query.subject.as_deref().unwrap_or_default()
    ))
    .bind(format!(
        "org-admin:{}",
        query.subject.as_deref().unwrap_or_default()
    ))
    .bind(query.from.unwrap_or(i64::MIN))
    .bind(query.until.unwrap_or(i64::MAX))
    .fetch_all(reads)
    .await?;
    Ok(rows.into_iter().map(Event::from).collect())
}
