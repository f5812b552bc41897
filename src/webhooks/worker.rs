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

/// After a round, the worker waits this long before the next: the changes that commit
/// meanwhile (each rings the bell) then go in one round rather than a round each.
const ROUND_GAP: Duration = Duration::from_millis(20);

/// Runs the worker until the process ends or `stopping` turns true; then gives the lease up.
///
/// The lease is a write, so it is renewed only once a sixth of its time has passed, not on
/// every round: a round runs for at most a third of it, and a send may take the outbound
/// timeout beyond that, all before the lease runs out. An instance without the lease asks
/// for it once per LOOK_EVERY, whatever its bell says.
pub fn spawn(state: AppState, mut stopping: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let holder = format!("{}:{}", std::process::id(), crate::random::token(9));
        let ttl = (state.config.webhooks.lease_seconds.max(1) * 1000) as Millis;
        let bell = state.directory.change_bell();
        // When this instance last took or renewed the lease (directory clock), if it holds it.
        let mut renewed: Option<Millis> = None;
        loop {
            let rung = bell.notified();
            let now = state.directory.now();
            if renewed.is_none_or(|at| now - at >= ttl / 6) {
                renewed = match state.directory.take_lease(LEASE, &holder, ttl).await {
                    Ok(true) => {
                        if renewed.is_none() {
                            tracing::info!(holder, "this instance delivers webhooks");
                        }
                        Some(now)
                    }
                    Ok(false) => None,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot take the webhook lease");
                        None
                    }
                };
            }
            let held = renewed.is_some();
            if held {
                let until = Instant::now() + Duration::from_millis(ttl as u64 / 3);
                if let Err(e) = deliver_due(&state, until).await {
                    tracing::error!(error = %e, "webhook delivery round failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(ROUND_GAP) => {}
                    _ = stopping.wait_for(|s| *s) => break,
                }
            }
            tokio::select! {
                _ = rung, if held => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = stopping.wait_for(|s| *s) => break,
            }
        }
        if renewed.is_some() {
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

/// Changes read per page, and deliveries acknowledged before the endpoint's position is
/// written: a crash sends at most this many again (at least once, still in order), and a
/// receiver that keeps up costs one write per batch instead of one per change.
const BATCH: usize = 100;
/// The longest an acknowledged delivery waits for its position to be written.
const RECORD_EVERY: Duration = Duration::from_secs(1);

async fn deliver_endpoint(
    state: &AppState,
    org: &Org,
    endpoint: Endpoint,
    until: Instant,
) -> crate::directory::Result<()> {
    let dir = &state.directory;
    let mut run = Run {
        endpoint,
        acknowledged: Vec::new(),
        since: Instant::now(),
    };
    while Instant::now() < until {
        let page = match dir
            .changes_after(org.id, run.position(), &run.endpoint.types, BATCH as u32)
            .await
        {
            Ok(page) => page,
            Err(FeedError::Gone { pruned, .. }) => {
                run.record(dir, None).await?;
                return lost(state, &run.endpoint, pruned).await;
            }
            Err(FeedError::Directory(e)) => {
                let _ = run.record(dir, None).await;
                return Err(e);
            }
        };
        if page.changes.is_empty() {
            state.metrics.webhooks.caught_up(run.endpoint.id);
            if run.record(dir, None).await? && page.next > run.endpoint.delivered_through {
                let e = &run.endpoint;
                dir.webhook_pass_over(e.id, e.delivered_through, page.next)
                    .await?;
            }
            return Ok(());
        }
        for change in &page.changes {
            if Instant::now() >= until {
                break;
            }
            if !run.deliver(state, org, change).await? {
                return Ok(());
            }
        }
    }
    run.record(dir, None).await?;
    Ok(())
}

/// One endpoint's deliveries in a round, with the acknowledged ones not yet recorded.
struct Run {
    /// As recorded in the database (the position a compare-and-set starts from), but for
    /// `failures`, which an acknowledged delivery resets at once.
    endpoint: Endpoint,
    acknowledged: Vec<Attempt>,
    /// When the position was last written.
    since: Instant,
}

impl Run {
    /// The last change acknowledged, recorded or not.
    fn position(&self) -> i64 {
        self.acknowledged
            .last()
            .map_or(self.endpoint.delivered_through, |a| a.seq)
    }

    /// Sends one change; false when the endpoint is to wait (a failed attempt, recorded
    /// with what follows from it) or was moved by someone else.
    async fn deliver(
        &mut self,
        state: &AppState,
        org: &Org,
        change: &crate::directory::changes::Change,
    ) -> crate::directory::Result<bool> {
        let dir = &state.directory;
        let now = dir.now();
        state
            .metrics
            .webhooks
            .behind(self.endpoint.id, now - change.at);
        let signing = match delivery::signing_secrets(&state.secrets, &self.endpoint, now) {
            Ok(s) => s,
            Err(why) => {
                let attempt = attempt(change.seq, &self.endpoint, now, None, Some(why));
                self.record(dir, Some((attempt, Outcome::Failing))).await?;
                return Ok(false);
            }
        };
        let body = View::new(state.config.server.base_url(), org).change(change);
        let message = Message::new(delivery::message_id(org.id, change.seq), now, &body);
        let answer = delivery::send(&state.outbound, &self.endpoint.url, &signing, &message).await;
        let done = dir.now();
        let attempt = attempt(
            change.seq,
            &self.endpoint,
            done,
            answer.status,
            answer.error.clone(),
        );
        if answer.delivered() {
            state.metrics.webhooks.attempted(&Outcome::Delivered);
            self.endpoint.failures = 0;
            self.acknowledged.push(attempt);
            if self.acknowledged.len() >= BATCH || self.since.elapsed() >= RECORD_EVERY {
                return self.record(dir, None).await;
            }
            return Ok(true);
        }
        let outcome = after_failure(attempt.attempt, done);
        state.metrics.webhooks.attempted(&outcome);
        if let Some(error) = &answer.error {
            tracing::warn!(webhook = %self.endpoint.id, seq = change.seq, attempt = attempt.attempt, %error, "webhook delivery failed");
        }
        self.record(dir, Some((attempt, outcome))).await?;
        Ok(false)
    }

    /// Writes the acknowledged deliveries, and `last` after them, in one transaction;
    /// false when the endpoint moved meanwhile (nothing is written then).
    async fn record(
        &mut self,
        dir: &crate::directory::Directory,
        last: Option<(Attempt, Outcome)>,
    ) -> crate::directory::Result<bool> {
        let mut attempts = std::mem::take(&mut self.acknowledged);
        let outcome = match last {
            Some((attempt, outcome)) => {
                attempts.push(attempt);
                outcome
            }
            None => Outcome::Delivered,
        };
        self.since = Instant::now();
        match dir
            .webhook_attempted(&self.endpoint, &attempts, &outcome)
            .await?
        {
            Some(through) => {
                self.endpoint.delivered_through = through;
                Ok(true)
            }
            None => Ok(false),
        }
    }
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
        .webhook_attempted(endpoint, &[attempt], &Outcome::Failing)
        .await?;
    Ok(())
}
