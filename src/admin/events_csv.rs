//! `/admin/orgs/{slug}/events.csv`: every event the filters match, as RFC 4180 CSV,
//! streamed in batches of 1,000 along the id cursor, so a long log never sits in memory.
//! Fields are as recorded (raw actor, action and target; detail as JSON). A field that a
//! spreadsheet would run as a formula gets a leading `'`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::console::Console;
use super::events::{parse, Filters};
use crate::clock::rfc3339;
use crate::directory::OrgId;
use crate::events::{Event, EventQuery};
use crate::state::AppState;
use crate::web::pages::PageError;

/// Events read per query.
const BATCH: u32 = 1000;

const HEADER: &str = "id,time,actor,action,target,outcome,detail\r\n";

/// `GET /admin/orgs/{slug}/events.csv` with the events page's filters.
pub async fn download(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    let query = match parse(&state, &org, &filters, BATCH).await? {
        Ok(q) => q,
        Err(bad) => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Bad filter",
                format!("The filter {}: {}", bad.field, bad.message),
            )
            .back_to("/admin", "Back to the console"))
        }
    };
    let body = Body::from_stream(rows(state, org.id, query));
    let disposition = format!("attachment; filename=\"{}-events.csv\"", org.slug);
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).expect("a slug is a header-safe token"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    Ok((StatusCode::OK, headers, body).into_response())
}

/// Where the stream is: the header is sent first, then batches until one comes back short.
enum Cursor {
    Header(EventQuery),
    Next(EventQuery),
    Done,
}

/// The CSV as a stream of chunks: the header, then one chunk per batch of events.
fn rows(
    state: AppState,
    org: OrgId,
    query: EventQuery,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    stream::unfold(Cursor::Header(query), move |cursor| {
        let state = state.clone();
        async move {
            match cursor {
                Cursor::Header(q) => {
                    Some((Ok(Bytes::from_static(HEADER.as_bytes())), Cursor::Next(q)))
                }
                Cursor::Next(mut q) => {
                    let batch = match crate::events::list(state.directory.db().reads(), org, &q)
                        .await
                    {
                        Ok(b) => b,
                        Err(e) => {
                            // The status is sent already: cut the download short, visibly.
                            tracing::error!(error = %e, "reading events for a CSV download failed");
                            return Some((Err(std::io::Error::other(e)), Cursor::Done));
                        }
                    };
                    if batch.is_empty() {
                        return None;
                    }
                    let next = match batch.last() {
                        Some(last) if batch.len() == q.limit as usize => {
                            q.before = Some(last.id);
                            Cursor::Next(q)
                        }
                        _ => Cursor::Done,
                    };
                    let mut out = String::new();
                    for e in &batch {
                        out.push_str(&line(e));
                    }
                    Some((Ok(Bytes::from(out)), next))
                }
                Cursor::Done => None,
            }
        }
    })
}

/// One event as a CSV record, CRLF-terminated.
fn line(e: &Event) -> String {
    let fields = [
        e.id.to_string(),
        rfc3339(e.at),
        e.actor.clone(),
        e.action.clone(),
        e.target.clone().unwrap_or_default(),
        e.outcome.clone(),
        e.detail.to_string(),
    ];
    let mut out = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// A field made safe twice over: a spreadsheet would run a field starting with `=`, `+`,
/// `-`, `@`, tab or CR as a formula, so those get a leading `'`; then RFC 4180 quoting for
/// a field holding a comma, a quote, CR or LF, with inner quotes doubled.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(
            field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(field("a=1"), "a=1");
    }
}
