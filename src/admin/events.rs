//! `/admin/orgs/{slug}/events`: the organisation's event log, newest first, 50 a page with
//! an id cursor, filtered on outcome, action, user and time, each entry in words with its
//! details. The same filters drive the CSV download (`events_csv`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::console::{Console, Nav};
use super::event_words::{self, known_actions, EventView};
use crate::clock::Millis;
use crate::directory::orgs::Org;
use crate::directory::UserId;
use crate::events::EventQuery;
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

/// Events per page.
const PAGE: u32 = 50;

const DAY_MS: Millis = 86_400_000;

/// The filters as the form sends them.
#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    pub failures: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub before: String,
}

impl Filters {
    pub fn failures_only(&self) -> bool {
        matches!(self.failures.as_str(), "1" | "on" | "true" | "yes")
    }

    /// The filters as a query string (without the cursor), for links.
    pub fn query_string(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if self.failures_only() {
            q.append_pair("failures", "1");
        }
        for (k, v) in [
            ("action", &self.action),
            ("user", &self.user),
            ("from", &self.from),
            ("until", &self.until),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }
}

/// A filter the server could not use: which field, and why.
pub struct BadFilter {
    pub field: &'static str,
    pub message: String,
}

/// Turns the form's filters into a query, resolving a userName to its user's id.
pub async fn parse(
    state: &AppState,
    org: &Org,
    f: &Filters,
    limit: u32,
) -> Result<Result<EventQuery, BadFilter>, PageError> {
    let bad = |field: &'static str, message: String| Ok(Err(BadFilter { field, message }));
    let from = match moment(&f.from, false) {
        Ok(t) => t,
        Err(m) => return bad("from", m),
    };
    let until = match moment(&f.until, true) {
        Ok(t) => t,
        Err(m) => return bad("until", m),
    };
    if let (Some(a), Some(b)) = (from, until) {
        if a >= b {
            return bad("until", "until must be later than from.".into());
        }
    }
    let before = match f.before.trim() {
        "" => None,
        b => match b.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return bad("before", format!("{b:?} is not an event id.")),
        },
    };
    let subject = match f.user.trim() {
        "" => None,
        u => match UserId::parse(u) {
            // An id is taken as it is: an erased user's events are still found by its id.
            Some(id) => Some(id.to_string()),
            None => match state.directory.user_by_user_name(org.id, u).await? {
                Some(user) => Some(user.id.to_string()),
                None => {
                    return bad(
                        "user",
                        format!("This organisation has no user with the userName {u:?}."),
                    )
                }
            },
        },
    };
    Ok(Ok(EventQuery {
        failures_only: f.failures_only(),
        action: Some(f.action.trim().to_string()).filter(|a| !a.is_empty()),
        subject,
        from,
        until,
        before,
        limit,
    }))
}

/// A date (`YYYY-MM-DD`, UTC; as `until`, the whole day is included), a date and time
/// without offset (`YYYY-MM-DDTHH:MM[:SS]`, UTC, as a browser's datetime-local sends it) or
/// an RFC 3339 time.
pub fn moment(text: &str, until: bool) -> Result<Option<Millis>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let ms = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as Millis;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(Some(ms(t)));
    }
    if let Ok(d) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        let start = ms(d.midnight().assume_utc());
        return Ok(Some(if until { start + DAY_MS } else { start }));
    }
    for format in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    ] {
        if let Ok(t) = PrimitiveDateTime::parse(text, format) {
            return Ok(Some(ms(t.assume_utc())));
        }
    }
    Err(format!(
        "{text:?} is not a time: use a date (2026-01-31), a UTC date and time \
         (2026-01-31T14:30) or an RFC 3339 time (2026-01-31T14:30:00+01:00)."
    ))
}

#[derive(Template)]
#[template(path = "admin/events.html")]
struct EventsPage {
    nav: Nav,
    slug: String,
    filters: Filters,
    actions: Vec<&'static str>,
    problem: Option<String>,
    events: Vec<EventView>,
    first_page: bool,
    older: Option<String>,
    csv: String,
    filtered: bool,
}

/// `GET /admin/orgs/{slug}/events?failures=1&action=&user=&from=&until=&before=`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let base = format!("/admin/orgs/{}", org.slug);
    let qs = filters.query_string();
    let mut page = EventsPage {
        nav: console.nav(Some(&org), "events"),
        slug: org.slug.to_string(),
        actions: known_actions(),
        problem: None,
        events: vec![],
        first_page: filters.before.trim().is_empty(),
        older: None,
        csv: format!("{base}/events.csv?{qs}"),
        filtered: !qs.is_empty(),
        filters: filters.clone(),
    };
    let query = match parse(&state, &org, &filters, PAGE + 1).await? {
        Ok(q) => q,
        Err(bad) => {
            page.problem = Some(format!("The filter {}: {}", bad.field, bad.message));
            return Ok(console_page(StatusCode::BAD_REQUEST, &page));
        }
    };
    let mut events = crate::events::list(state.directory.db().reads(), org.id, &query)
        .await
        .map_err(crate::directory::Error::from)?;
    let more = events.len() > PAGE as usize;
    events.truncate(PAGE as usize);
    if let (true, Some(last)) = (more, events.last()) {
        let sep = if qs.is_empty() { "" } else { "&" };
        page.older = Some(format!("{base}/events?{qs}{sep}before={}", last.id));
    }
    page.events = event_words::describe(&state.directory, &org, events).await?;
    Ok(console_page(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_dates_datetimes_or_rfc3339() {
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(moment("2026-01-01", false), Ok(Some(t0)));
        assert_eq!(moment("2026-01-01", true), Ok(Some(t0 + DAY_MS)));
        assert_eq!(moment("2026-01-01T01:00", false), Ok(Some(t0 + 3_600_000)));
        assert_eq!(
            moment("2026-01-01T01:00:00+01:00", false),
            Ok(Some(t0)),
            "the offset is applied"
        );
        assert_eq!(moment(" ", false), Ok(None));
        assert!(moment("yesterday", false).is_err());
        assert!(moment("2026-13-01", false).is_err());
    }
}
