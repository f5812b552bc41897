//! The change feed under load (DESIGN.md, Change feed):
//! - `feed`: pages of 100 changes read from random places in the large organisation's feed
//!   (`GET /api/v1/orgs/{slug}/changes?after=N&limit=100`), as an app catching up does; each
//!   answer must hold the 100 changes after N, without a gap;
//! - `mix-followed`: the mix while the app follows every change twice over, by a long poll
//!   (`wait=20`, pages of up to 1,000) and through a webhook endpoint on a real receiver
//!   (`tests/api/support/webhook_receiver.rs`). Read against `mix`, it is what following costs the
//!   writers. After the load it measures how long each follower takes to reach the last
//!   change, and checks that every change arrived, in order, signed with the endpoint's
//!   secret.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use super::{expect, Ctx, Tally};
use crate::webhook_receiver::Receiver;

/// Changes per `feed` page.
const PAGE: i64 = 100;
/// How long the followers may take to reach the last change once the load has stopped.
const CATCH_UP: Duration = Duration::from_secs(300);

fn changes_url(ctx: &Ctx) -> String {
    format!("{}/api/v1/orgs/{}/changes", ctx.base, ctx.org)
}

/// The organisation's last change now: the feed read on from the last head known.
pub async fn head(ctx: &Ctx) -> anyhow::Result<i64> {
    let mut after = ctx.feed_head.load(Ordering::Relaxed);
    loop {
        let page = read(ctx, after, 1_000, 0).await?;
        let next = page["next"].as_i64().unwrap_or(after);
        if next == after {
            ctx.feed_head.store(after, Ordering::Relaxed);
            return Ok(after);
        }
        after = next;
    }
}

async fn read(ctx: &Ctx, after: i64, limit: i64, wait: u64) -> anyhow::Result<Value> {
    let r = ctx
        .client
        .get(changes_url(ctx))
        .query(&[("after", after), ("limit", limit), ("wait", wait as i64)])
        .bearer_auth(&ctx.api_key)
        .send()
        .await?;
    let status = r.status();
    let body = r.text().await?;
    anyhow::ensure!(status == 200, "changes after {after}: {status}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// One `feed` request: the page after a random change, which must end PAGE changes later
/// (no gap: the feed's numbers follow one another).
pub async fn page(ctx: &Ctx, tally: &mut Tally) {
    let head = ctx.feed_head.load(Ordering::Relaxed);
    let after = rand::rng().random_range(0..=(head - PAGE).max(0));
    let want = format!("\"next\":{}", (after + PAGE).min(head));
    let started = Instant::now();
    let r = ctx
        .client
        .get(changes_url(ctx))
        .query(&[("after", after), ("limit", PAGE)])
        .bearer_auth(&ctx.api_key)
        .send()
        .await;
    tally.record(started, expect(r, &[200], Some(&want)).await);
}

/// What following the changes during `mix-followed` showed.
pub struct Followed {
    /// Changes made from the endpoint's creation to the end of the load.
    pub changes: i64,
    /// Seconds from the end of the load until each follower had the last change.
    pub poll_seconds: f64,
    pub webhook_seconds: f64,
    /// Deliveries of a change already delivered (at least once allows them).
    pub repeats: usize,
    /// Changes missing, out of order or not signed with the secret, and failed polls.
    pub errors: Vec<String>,
}

impl Followed {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn report(&self, mix: Option<(f64, f64)>, followed: (f64, f64)) -> (String, Value) {
        let against = mix
            .map(|(rps, p99)| {
                format!(
                    " against {rps:.0} without ({:+.1} %; p99 {:.2} vs {p99:.2} ms)",
                    100.0 * (followed.0 / rps - 1.0),
                    followed.1
                )
            })
            .unwrap_or_default();
        let text = format!(
            "Mix followed by a long poll and a webhook endpoint: {:.0} requests/s{against}. \
             {} changes followed; after the load, the long poll had the last one in {:.2} s and \
             the webhook endpoint in {:.2} s ({} repeats); {} errors{}.",
            followed.0,
            self.changes,
            self.poll_seconds,
            self.webhook_seconds,
            self.repeats,
            self.errors.len(),
            self.errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
        );
        let value = json!({
            "requests_per_second": followed.0, "p99_ms": followed.1,
            "mix_requests_per_second": mix.map(|m| m.0), "mix_p99_ms": mix.map(|m| m.1),
            "changes": self.changes, "poll_catch_up_seconds": self.poll_seconds,
            "webhook_catch_up_seconds": self.webhook_seconds, "repeats": self.repeats,
            "errors": self.errors,
        });
        (text, value)
    }
}

/// The two followers of `mix-followed`, running.
pub struct Follow {
    receiver: Receiver,
    endpoint: String,
    secret: String,
    from: i64,
    cursor: Arc<AtomicI64>,
    poll_errors: Arc<Mutex<Vec<String>>>,
    polls: tokio::task::JoinHandle<()>,
}

impl Follow {
    /// Registers a webhook endpoint and starts the long poll, both from the last change.
    pub async fn start(ctx: &Ctx) -> anyhow::Result<Self> {
        let receiver = Receiver::start().await;
        let r = ctx
            .client
            .post(format!("{}/api/v1/orgs/{}/webhooks", ctx.base, ctx.org))
            .bearer_auth(&ctx.api_key)
            .json(&json!({"url": receiver.url, "description": "load bench"}))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        anyhow::ensure!(status == 201, "webhook create: {status}: {body}");
        let from = body["webhook"]["delivered_through"]
            .as_i64()
            .expect("delivered_through");
        let cursor = Arc::new(AtomicI64::new(from));
        let poll_errors = Arc::new(Mutex::new(Vec::new()));
        let polls = tokio::spawn(poll(
            ctx.client.clone(),
            changes_url(ctx),
            ctx.api_key.clone(),
            cursor.clone(),
            poll_errors.clone(),
        ));
        Ok(Self {
            receiver,
            endpoint: body["webhook"]["id"].as_str().expect("id").to_string(),
            secret: body["secret"].as_str().expect("secret").to_string(),
            from,
            cursor,
            poll_errors,
            polls,
        })
    }

    /// Called when the load has stopped: waits for both followers to reach the last change,
    /// checks what they got, and removes the endpoint.
    pub async fn finish(self, ctx: &Ctx) -> anyhow::Result<Followed> {
        let ended = Instant::now();
        let head = head(ctx).await?;
        let mut poll_seconds = f64::NAN;
        let mut webhook_seconds = f64::NAN;
        while ended.elapsed() < CATCH_UP && (poll_seconds.is_nan() || webhook_seconds.is_nan()) {
            if poll_seconds.is_nan() && self.cursor.load(Ordering::Relaxed) >= head {
                poll_seconds = ended.elapsed().as_secs_f64();
            }
            let got = self.receiver.received();
            let last = got.last().map(|d| d.json()["seq"].as_i64().unwrap_or(0));
            if webhook_seconds.is_nan() && last.is_some_and(|seq| seq >= head) {
                webhook_seconds = ended.elapsed().as_secs_f64();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.polls.abort();
        let r = ctx
            .client
            .delete(format!(
                "{}/api/v1/orgs/{}/webhooks/{}",
                ctx.base, ctx.org, self.endpoint
            ))
            .bearer_auth(&ctx.api_key)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 204, "webhook delete: {}", r.status());
        let mut errors = self.poll_errors.lock().unwrap().clone();
        if poll_seconds.is_nan() {
            errors.push(format!("the long poll did not reach change {head}"));
        }
        let (repeats, mut wrong) = self.check_deliveries(head);
        errors.append(&mut wrong);
        Ok(Followed {
            changes: head - self.from,
            poll_seconds,
            webhook_seconds,
            repeats,
            errors,
        })
    }

    /// Every change after `from` up to `head`, in order, each signed: repeats allowed, as
    /// at-least-once delivery may repeat one (the same `webhook-id`).
    fn check_deliveries(&self, head: i64) -> (usize, Vec<String>) {
        let mut errors = Vec::new();
        let mut last = self.from;
        let mut repeats = 0;
        for d in self.receiver.received() {
            let seq = d.json()["seq"].as_i64().unwrap_or(-1);
            if !d.signed_by(&self.secret) {
                errors.push(format!(
                    "change {seq}: not signed with the endpoint's secret"
                ));
            }
            if seq == last + 1 {
                last = seq;
            } else if seq <= last && seq > self.from {
                repeats += 1;
            } else {
                errors.push(format!("change {seq} arrived after change {last}"));
            }
        }
        if last < head {
            errors.push(format!(
                "the webhook endpoint got changes up to {last} of {head}"
            ));
        }
        (repeats, errors)
    }
}

/// The long poll: asks for the changes after the cursor, waiting up to 20 s, and checks
/// that each page goes on from the cursor without a gap.
async fn poll(
    client: reqwest::Client,
    url: String,
    key: String,
    cursor: Arc<AtomicI64>,
    errors: Arc<Mutex<Vec<String>>>,
) {
    loop {
        let after = cursor.load(Ordering::Relaxed);
        let page = async {
            let r = client
                .get(&url)
                .query(&[("after", after), ("limit", 1_000), ("wait", 20)])
                .bearer_auth(&key)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "long poll: {}", r.status());
            Ok(r.json::<Value>().await?)
        }
        .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                errors.lock().unwrap().push(e.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let seqs = page["changes"].as_array().into_iter().flatten();
        for (i, change) in seqs.enumerate() {
            let seq = change["seq"].as_i64().unwrap_or(-1);
            if seq != after + 1 + i as i64 {
                errors.lock().unwrap().push(format!(
                    "the long poll after {after} got change {seq} at {i}"
                ));
                break;
            }
        }
        cursor.store(page["next"].as_i64().unwrap_or(after), Ordering::Relaxed);
    }
}
