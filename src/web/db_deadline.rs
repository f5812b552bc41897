//! A request's whole wait for an away database is bounded by `database.acquire_timeout_ms`.
//!
//! The pool bounds each wait for a connection, but a request may go to the database several
//! times (a SCIM token's lookup, then the write), and each wait would start the bound
//! again. So once a request has run that long, and some request has found the database away
//! within that time, it is answered 503 in the format of its door, and what it was doing is
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
    let run = next.run(request);
    tokio::pin!(run);
    let mut check = tokio::time::Instant::now() + budget;
    let response = loop {
        tokio::select! {
            response = &mut run => break response,
            () = sleep_until(check) => {
                if state.away.away_within(budget) {
                    tracing::warn!("a request outlasted the database's acquire timeout while it is away");
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
        state.away.saw_away();
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
