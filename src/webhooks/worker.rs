//! The delivery worker. One instance at a time delivers (it holds the `webhooks` lease and
//! renews it on every round); each endpoint gets its changes one at a time in `seq` order,
//! the next only once the receiver acknowledged the last, so order holds through retries.
//! The position of each endpoint lives in the database and moves only after an answer:
//! a crash mid-delivery sends that change again (at least once), never skips it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::changes::View;
use crate::clock::Millis;
use crate::directory::changes::FeedError;
use crate::directory::webhooks::{Attempt, Endpoint, Outcome};
use crate::directory::{Org, OrgId};
use crate::state::AppState;

use super::delivery::{self, Message};

pub const LEASE: &str = "webhooks";

/// When each retry is due, counted from the first attempt (made at once): 5 s, 5 min,
/// 30 min... 24 h, so an endpoint is retried for a day (DESIGN.md, Change feed). After
/// the last, the endpoint fails.
pub const RETRY_AT_MS: [Millis; 9] = [
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    14 * 3_600_000,
    20 * 3_600_000,
    24 * 3_600_000,
];

/// How often the worker looks without being told of a change: changes written by other
/// instances, and retries coming due, ring no bell here.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What comes after failed attempt number `attempt` (1 for the first): the next try
/// as far after this one as the schedule's steps are apart.
pub fn after_failure(attempt: i64, now: Millis) -> Outcome {
    let at = |n: i64| match n {
        1 => Some(0),
        n => usize::try_from(n - 2)
            .ok()
            .and_then(|i| RETRY_AT_MS.get(i).copied()),
    };
    match (at(attempt), at(attempt + 1)) {
        (Some(this), Some(next)) => Outcome::Retry(now + next - this),
        _ => Outcome::Failing,
    }
}

/// Runs the worker until the process ends or `stopping` turns true; then gives the lease up.
pub fn spawn(state: AppState, mut stopping: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let holder = format!("{}:{}", std::process::id(), crate::random::token(9));
        let ttl = (state.config.webhooks.lease_seconds.max(1) * 1000) as Millis;
        let bell = state.directory.change_bell();
        let mut held = false;
        loop {
            let rung = bell.notified();
            match state.directory.take_lease(LEASE, &holder, ttl).await {
                Ok(true) => {
                    if !held {
                        tracing::info!(holder, "this instance delivers webhooks");
                    }
                    held = true;
                    // Work stops well within the lease, so it is renewed before it runs out.
                    let until = Instant::now() + Duration::from_millis(ttl as u64 / 3);
                    if let Err(e) = deliver_due(&state, until).await {
                        tracing::error!(error = %e, "webhook delivery round failed");
                    }
                }
                Ok(false) => held = false,
                Err(e) => tracing::error!(error = %e, "cannot take the webhook lease"),
            }
            tokio::select! {
                _ = rung => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = stopping.wait_for(|s| *s) => break,
            }
        }
        if held {
            let _ = state.directory.release_lease(LEASE, &holder).await;
        }
    });
}

/// One round: every endpoint with something due, side by side, each until it has nothing
/// more to send, a delivery fails, or `until` passes.
pub async fn deliver_due(state: &AppState, until: Instant) -> crate::directory::Result<()> {
    let due = state.directory.webhooks_due(state.directory.now()).await?;
    let mut orgs: HashMap<OrgId, Org> = HashMap::new();
    for e in &due {
        if !orgs.contains_key(&e.org_id) {
            if let Some(org) = state.directory.org(e.org_id).await? {
                orgs.insert(org.id, org);
            }
        }
    }
    let runs = due.into_iter().filter_map(|e| {
        let org = orgs.get(&e.org_id)?;
        Some(deliver_endpoint(state, org, e, until))
    });
    for result in futures_util::future::join_all(runs).await {
        if let Err(e) = result {
            tracing::error!(error = %e, "webhook delivery failed");
        }
    }
    Ok(())
}

async fn deliver_endpoint(
    state: &AppState,
    org: &Org,
    mut endpoint: Endpoint,
    until: Instant,
) -> crate::directory::Result<()> {
    let dir = &state.directory;
    let metrics = &state.metrics.webhooks;
    while Instant::now() < until {
        let page = match dir
            .changes_after(org.id, endpoint.delivered_through, &endpoint.types, 1)
            .await
        {
            Ok(page) => page,
            Err(FeedError::Gone { pruned, .. }) => return lost(state, &endpoint, pruned).await,
            Err(FeedError::Directory(e)) => return Err(e),
        };
        let Some(change) = page.changes.first() else {
            metrics.caught_up(endpoint.id);
            if page.next > endpoint.delivered_through {
                dir.webhook_pass_over(endpoint.id, endpoint.delivered_through, page.next)
                    .await?;
            }
            return Ok(());
        };
        let now = dir.now();
        metrics.behind(endpoint.id, now - change.at);
        let signing = match delivery::signing_secrets(&state.secrets, &endpoint, now) {
            Ok(s) => s,
            Err(why) => {
                let attempt = attempt(change.seq, &endpoint, now, None, Some(why));
                dir.webhook_attempted(&endpoint, &attempt, &Outcome::Failing)
                    .await?;
                return Ok(());
            }
        };
        let body = View::new(state.config.server.base_url(), org).change(change);
        let message = Message::new(delivery::message_id(org.id, change.seq), now, &body);
        let answer = delivery::send(&state.outbound, &endpoint.url, &signing, &message).await;
        let done = dir.now();
        let attempt = attempt(
            change.seq,
            &endpoint,
            done,
            answer.status,
            answer.error.clone(),
        );
        let outcome = if answer.delivered() {
            Outcome::Delivered
        } else {
            after_failure(attempt.attempt, done)
        };
        metrics.attempted(&outcome);
        if !dir.webhook_attempted(&endpoint, &attempt, &outcome).await? {
            return Ok(());
        }
        match outcome {
            Outcome::Delivered => {
                endpoint.delivered_through = change.seq;
                endpoint.failures = 0;
            }
            Outcome::Retry(_) | Outcome::Failing => {
                if let Some(error) = &answer.error {
                    tracing::warn!(webhook = %endpoint.id, seq = change.seq, attempt = attempt.attempt, %error, "webhook delivery failed");
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

fn attempt(
    seq: i64,
    endpoint: &Endpoint,
    at: Millis,
    status: Option<u16>,
    error: Option<String>,
) -> Attempt {
    Attempt {
        seq,
        attempt: endpoint.failures + 1,
        at,
        status,
        error,
    }
}

/// The changes the endpoint had yet to receive were removed by the retention (it was
/// paused or failing longer than that): it fails, naming where it can start again.
async fn lost(state: &AppState, endpoint: &Endpoint, pruned: i64) -> crate::directory::Result<()> {
    let why = format!(
        "changes {} to {pruned} were removed by the retention before they were delivered; \
         redeliver from {} or later",
        endpoint.delivered_through + 1,
        pruned + 1
    );
    let now = state.directory.now();
    let attempt = attempt(
        endpoint.delivered_through + 1,
        endpoint,
        now,
        None,
        Some(why),
    );
    state
        .directory
        .webhook_attempted(endpoint, &attempt, &Outcome::Failing)
        .await?;
    Ok(())
}
