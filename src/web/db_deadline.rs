//! A request's whole wait for an away database is bounded by `database.acquire_timeout_ms`.
//!
//! The pool bounds each wait for a connection, but a request may go to the database several
//! times (a SCIM token's lookup, then the write), and each wait would start the bound
//! again. So once a request has run that long, and some request has found the database away
//! since that long before it began, it is answered 503 in the format of its door, and what it was doing is
//! dropped: a write not yet committed is rolled back (see `WriteTx`'s `Drop`). A slow
//! request while the database is present is never cut.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::sleep_until;

use crate::state::AppState;

/// When a request last found the database away.
pub struct AwayWatch {
    start: Instant,
    /// Milliseconds after `start`, plus one; zero is never.
    last: AtomicU64,
}

impl Default for AwayWatch {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl AwayWatch {
    pub fn saw_away(&self) {
        let at = self.start.elapsed().as_millis() as u64 + 1;
        self.last.fetch_max(at, Ordering::Relaxed);
    }

    /// Whether a request found the database away in the last `window`.
    pub fn away_within(&self, window: Duration) -> bool {
        let last = self.last.load(Ordering::Relaxed);
        last != 0 && self.start.elapsed().as_millis() as u64 + 1 - last <= window.as_millis() as u64
    }
}

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let budget = Duration::from_millis(state.config.database.acquire_timeout_ms.max(1));
    let door = Door::of(request.uri().path());
    bounded(&state.away, budget, door, next.run(request)).await
}

/// Runs `run`, answering 503 for `door` instead once it has run for `budget` and `away`
/// saw the database away since `budget` before it began; records a 503 it sees in `away`.
async fn bounded(
    away: &AwayWatch,
    budget: Duration,
    door: Door,
    run: impl std::future::Future<Output = Response>,
) -> Response {
    tokio::pin!(run);
    let started = tokio::time::Instant::now();
    let mut check = started + budget;
    let response = loop {
        tokio::select! {
            response = &mut run => break response,
            () = sleep_until(check) => {
                // Away in the request's lifetime, or just before it began.
                if away.away_within(started.elapsed() + budget) {
                    tracing::warn!("a request outlasted the acquire timeout while the database is away");
                    break door.unavailable();
                }
                // Looked at again a little later: the database may go away under a request
                // that was slow for another reason.
                check += budget / 4;
            }
        }
    };
    // Every 503 this server gives says that its database is away (the error mappings of
    // each door, and /readyz).
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        away.saw_away();
    }
    response
}

#[derive(Clone, Copy)]
enum Door {
    Scim,
    Api,
    Page,
}

impl Door {
    fn of(path: &str) -> Self {
        if path.starts_with("/scim/") {
            Door::Scim
        } else if path == "/api/v1" || path.starts_with("/api/v1/") {
            Door::Api
        } else {
            Door::Page
        }
    }

    fn unavailable(self) -> Response {
        match self {
            Door::Scim => crate::scim::error::ScimError::unavailable().into_response(),
            Door::Api => crate::api::error::ApiError::unavailable().into_response(),
            Door::Page => super::pages::PageError::unavailable().into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn slow(answer: StatusCode) -> Response {
        tokio::time::sleep(Duration::from_millis(600)).await;
        answer.into_response()
    }

    #[tokio::test]
    async fn cuts_a_slow_request_only_while_the_database_is_away() {
        let budget = Duration::from_millis(100);
        let watch = AwayWatch::default();
        let r = bounded(&watch, budget, Door::Scim, slow(StatusCode::OK)).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "slow, but the database is present"
        );

        watch.saw_away();
        let started = Instant::now();
        let r = bounded(&watch, budget, Door::Scim, slow(StatusCode::OK)).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "cut at its budget"
        );
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/scim+json"));
        assert!(r.headers().contains_key("retry-after"));
        let r = bounded(&watch, budget, Door::Api, slow(StatusCode::OK)).await;
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }

    #[tokio::test]
    async fn a_503_marks_the_database_away() {
        let watch = AwayWatch::default();
        let r = bounded(&watch, Duration::from_secs(5), Door::Page, async {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        })
        .await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(watch.away_within(Duration::from_secs(5)));
    }

    #[test]
    fn remembers_an_away_database_for_its_window() {
        let watch = AwayWatch::default();
        assert!(!watch.away_within(Duration::from_secs(60)), "never seen");
        watch.saw_away();
        assert!(watch.away_within(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            !watch.away_within(Duration::from_millis(10)),
            "too long ago"
        );
        assert!(watch.away_within(Duration::from_secs(60)));
    }
}
