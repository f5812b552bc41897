//! Bounds on the sign-in doors that anyone may post to (SAML ACS, OIDC callback): each
//! post is checked and a refusal written to the event log, so without a bound a stranger
//! could fill the log and keep the database busy.
//!
//! - Posts are rate limited per organisation and client address (`[login]`); over the
//!   limit the answer is 429 and nothing is written.
//! - A refusal identical to one written less than `login.fold_seconds` ago is not written
//!   again; the next one written after that window says how many were folded into it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde_json::json;

use crate::clock::Millis;
use crate::config::LoginConfig;
use crate::directory::{Actor, Directory, OrgId};
use crate::scim::rate_limit::RateLimiter;

/// Entries kept before old ones are swept, so that a flood of distinct reasons cannot grow
/// the map without end.
const MAX_FOLDS: usize = 10_000;

struct Fold {
    written_at: Millis,
    folded: u64,
}

pub struct Floodgate {
    limiter: RateLimiter<(OrgId, IpAddr)>,
    fold_ms: Millis,
    folds: Mutex<HashMap<(OrgId, String), Fold>>,
}

impl Floodgate {
    pub fn new(config: &LoginConfig) -> Self {
        Self {
            limiter: RateLimiter::new(config.requests_per_second, config.burst),
            fold_ms: i64::try_from(config.fold_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            folds: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one post's share of the client's budget, or says how many seconds to wait.
    pub fn admit(&self, org: OrgId, client: IpAddr) -> Result<(), u64> {
        self.limiter.check((org, client))
    }

    /// Whether a refusal is written now, and if so how many identical ones were folded
    /// into it since the last one written.
    fn fold(&self, org: OrgId, reason: &str, now: Millis) -> Option<u64> {
        let mut folds = self.folds.lock().expect("fold lock");
        if folds.len() >= MAX_FOLDS {
            folds.retain(|_, f| now - f.written_at < self.fold_ms);
        }
        match folds.get_mut(&(org, reason.to_string())) {
            Some(f) if now - f.written_at < self.fold_ms => {
                f.folded += 1;
                None
            }
            Some(f) => {
                let folded = f.folded;
                *f = Fold {
                    written_at: now,
                    folded: 0,
                };
                Some(folded)
            }
            None => {
                folds.insert(
                    (org, reason.to_string()),
                    Fold {
                        written_at: now,
                        folded: 0,
                    },
                );
                Some(0)
            }
        }
    }

    /// Writes a refused login, unless an identical one was written within the window.
    pub async fn record_refusal(
        &self,
        directory: &Directory,
        org: OrgId,
        actor: &Actor,
        reason: &str,
    ) -> crate::directory::Result<()> {
        let Some(folded) = self.fold(org, reason, directory.now()) else {
            return Ok(());
        };
        let mut detail = json!({ "reason": reason });
        if folded > 0 {
            detail["repeated"] = folded.into();
        }
        directory
            .record_failure_detail(Some(org), actor, "login", None, detail)
            .await
    }
}

/// The answer to a client over its limit: 429 with `Retry-After`, a page that says why.
pub fn too_many(wait: u64) -> axum::response::Response {
    let m = crate::web::pages::Message::new(
        "Too many sign-in attempts",
        &format!("Too many sign-in attempts came from your address. Try again in {wait} seconds."),
    )
    .link("/login", "Go to the sign-in page");
    let mut r = crate::web::pages::page(axum::http::StatusCode::TOO_MANY_REQUESTS, &m);
    r.headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from(wait));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_refusals_fold_within_the_window() {
        let gate = Floodgate::new(&LoginConfig {
            requests_per_second: 0.0,
            burst: 1,
            fold_seconds: 60,
        });
        let org = OrgId::new();
        assert_eq!(gate.fold(org, "bad", 0), Some(0));
        assert_eq!(gate.fold(org, "bad", 1_000), None);
        assert_eq!(gate.fold(org, "bad", 2_000), None);
        assert_eq!(gate.fold(org, "other", 2_000), Some(0), "another reason");
        assert_eq!(
            gate.fold(OrgId::new(), "bad", 2_000),
            Some(0),
            "another org"
        );
        assert_eq!(gate.fold(org, "bad", 61_000), Some(2));
        assert_eq!(gate.fold(org, "bad", 62_000), None);
    }
}
