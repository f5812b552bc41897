//! Two scenarios that measure staying power rather than speed:
//! - `soak`: the mix at a fixed rate (80 % of the `mix` scenario's measured peak, or
//!   BENCH_SOAK_RATE requests/s) for BENCH_SOAK_SECONDS (600): no 5xx, the server's memory
//!   sampled every BENCH_SOAK_SAMPLE_SECONDS (30) to show it stays flat, and every
//!   acknowledged create still there at the end;
//! - `pg-restart` (PostgreSQL only, with scripts/with-postgres.sh's GATEHOUSE_TEST_PG_CTL):
//!   creates and lookups on 16 connections while PostgreSQL is stopped (`pg_ctl stop -m
//!   fast`) for BENCH_RESTART_DOWN_SECONDS (5) and started again: how every request is
//!   answered while it is away (503 in SCIM's format, and how fast), how long until writes
//!   succeed again, and whether every acknowledged create survived.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use super::{env, percentile, run_op, send, user_name, Ctx, Op, Server, Tally};

/// The mix's operations and weights (as the `mix` scenario sends them).
pub const MIX: &[(Op, u32)] = &[
    (Op::Lookup, 40),
    (Op::Create, 15),
    (Op::Put, 15),
    (Op::Patch, 20),
    (Op::GroupAdd, 5),
    (Op::GroupRemove, 5),
];

pub struct Soak {
    pub rate: f64,
    /// The planned length, and how long the requests due in it took to be answered.
    pub planned: f64,
    pub seconds: f64,
    pub requests: usize,
    pub server_errors: usize,
    pub other_errors: usize,
    pub p99: f64,
    /// (seconds into the run, RSS MB, anonymous RSS MB).
    pub memory: Vec<(f64, f64, f64)>,
    pub created: usize,
    pub users_before: u64,
    pub users_after: u64,
}

impl Soak {
    /// The acknowledged creates that are not in the directory afterwards.
    pub fn lost(&self) -> u64 {
        (self.users_before + self.created as u64).saturating_sub(self.users_after)
    }

    /// Whether the server answered the requests at the pace they were due (within 5 %).
    pub fn kept_pace(&self) -> bool {
        self.seconds <= self.planned * 1.05 + 1.0
    }

    pub fn ok(&self) -> bool {
        self.server_errors == 0 && self.other_errors == 0 && self.lost() == 0 && self.kept_pace()
    }

    pub fn report(&self) -> (String, Value) {
        let first = self.memory.first().copied().unwrap_or_default();
        let last = self.memory.last().copied().unwrap_or_default();
        let peak = self.memory.iter().map(|m| m.2).fold(0.0, f64::max);
        let text = format!(
            "Soak: {:.0} s of the mix paced at {:.0} requests/s, answered in {:.0} s{}: {} requests ({:.0}/s), p99 {:.2} ms, \
             {} 5xx, {} other errors; anonymous RSS {:.1} MB after the first sample, {:.1} MB at the end \
             (peak {:.1} MB; RSS {:.1} then {:.1} MB); {} creates acknowledged, users {} before and {} after: {} lost.",
            self.planned,
            self.rate,
            self.seconds,
            if self.kept_pace() { "" } else { " (the server fell behind)" },
            self.requests,
            self.requests as f64 / self.seconds,
            self.p99,
            self.server_errors,
            self.other_errors,
            first.2,
            last.2,
            peak,
            first.1,
            last.1,
            self.created,
            self.users_before,
            self.users_after,
            self.lost(),
        );
        let value = json!({
            "rate": self.rate, "planned_seconds": self.planned, "seconds": self.seconds,
            "kept_pace": self.kept_pace(), "requests": self.requests,
            "server_errors": self.server_errors, "other_errors": self.other_errors,
            "p99_ms": self.p99, "created": self.created,
            "users_before": self.users_before, "users_after": self.users_after,
            "lost": self.lost(),
            "memory": self.memory.iter()
                .map(|(t, rss, anon)| json!({"at_seconds": t, "rss_mb": rss, "anon_rss_mb": anon}))
                .collect::<Vec<_>>(),
        });
        (text, value)
    }
}

/// The mix at `rate` requests/s, spread over `concurrency` workers, for `duration`.
pub async fn soak(
    ctx: &Arc<Ctx>,
    server: &Server,
    concurrency: usize,
    rate: f64,
    duration: Duration,
) -> Soak {
    let users_before = count_users(ctx).await;
    let created_before = ctx.acked_creates.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + duration;
    let ticket = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (ctx, ticket) = (ctx.clone(), ticket.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    // Open loop: request n is due at n / rate, whoever sends it.
                    let n = ticket.fetch_add(1, Ordering::Relaxed) as u32;
                    let due = started + interval * n;
                    if due >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    run_op(&ctx, pick(MIX), &mut tally).await;
                }
                tally
            })
        })
        .collect();
    let sample_every = Duration::from_secs(env("BENCH_SOAK_SAMPLE_SECONDS", 30) as u64);
    let mut memory = Vec::new();
    // Sampled until the last request is answered: a server that fell behind is still
    // working through the requests that were due.
    let mut done = std::pin::pin!(futures_util::future::join_all(workers));
    let finished = loop {
        let (rss, _) = server.memory();
        memory.push((started.elapsed().as_secs_f64(), rss, server.anon()));
        tokio::select! {
            results = &mut done => break results,
            _ = tokio::time::sleep(sample_every) => {}
        }
    };
    let mut all = Tally::default();
    for w in finished {
        all.merge(w.expect("worker"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let (rss, _) = server.memory();
    memory.push((seconds, rss, server.anon()));
    let server_errors = all.server_errors;
    Soak {
        rate,
        planned: duration.as_secs_f64(),
        seconds,
        requests: all.latencies.len(),
        server_errors,
        other_errors: all.errors - server_errors,
        p99: percentile(all.latencies, 0.99),
        memory,
        created: ctx.acked_creates.load(Ordering::Relaxed) - created_before,
        users_before,
        users_after: count_users(ctx).await,
    }
}

fn pick(weights: &[(Op, u32)]) -> Op {
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    let mut n = rand::rng().random_range(0..total);
    for (op, w) in weights {
        if n < *w {
            return *op;
        }
        n -= w;
    }
    unreachable!("n < total")
}

/// The organisation's users, as SCIM counts them (RFC 7644 §3.4.2.4: count=0 gives the total
/// alone).
async fn count_users(ctx: &Ctx) -> u64 {
    let r = ctx
        .client
        .get(format!("{}/scim/v2/{}/Users?count=0", ctx.base, ctx.org))
        .bearer_auth(&ctx.token)
        .send()
        .await
        .expect("count users");
    assert_eq!(r.status(), 200, "count users");
    let v: Value = r.json().await.expect("a list response");
    v["totalResults"].as_u64().expect("totalResults")
}

/// One request of the restart scenario, as it went.
struct Sent {
    at: f64,
    latency: f64,
    /// None when no answer came (a connection error or the client's timeout).
    status: Option<u16>,
    /// For a 503: whether it was SCIM's error format.
    scim_format: bool,
    created: Option<String>,
}

pub struct Restart {
    pub down_seconds: f64,
    pub requests: usize,
    /// Answers to the requests sent from the start of the shutdown until `pg_ctl start`, by
    /// status ("none" for no answer). A request sent within the acquire timeout of the
    /// restart may wait for it and succeed.
    pub while_down: Vec<(String, usize)>,
    pub while_down_p50: f64,
    pub while_down_max: f64,
    pub non_scim_503: usize,
    /// From `pg_ctl start` returning to the first create answered 201.
    pub recovery_seconds: Option<f64>,
    /// Statuses other than 200, 201 and 503, over the whole run.
    pub unexpected: usize,
    pub created: usize,
    pub lost: usize,
}

impl Restart {
    pub fn ok(&self, acquire_timeout: f64) -> bool {
        self.lost == 0
            && self.unexpected == 0
            && self.non_scim_503 == 0
            && self.while_down_max <= acquire_timeout + 1.0
            && self.recovery_seconds.is_some_and(|s| s <= 10.0)
    }

    pub fn report(&self) -> (String, Value) {
        let statuses: Vec<String> = self
            .while_down
            .iter()
            .map(|(s, n)| format!("{n} × {s}"))
            .collect();
        let recovery = self
            .recovery_seconds
            .map_or("never".to_string(), |s| format!("{s:.2} s"));
        let text = format!(
            "PostgreSQL restart: stopped for {:.1} s under load ({} requests in all). While it was away: {} \
             (p50 {:.0} ms, slowest {:.0} ms; {} 503s not in SCIM's format); other unexpected statuses {}; \
             first acknowledged create {recovery} after it was back; {} creates acknowledged, {} lost.",
            self.down_seconds,
            self.requests,
            statuses.join(", "),
            self.while_down_p50,
            self.while_down_max * 1000.0,
            self.non_scim_503,
            self.unexpected,
            self.created,
            self.lost,
        );
        let value = json!({
            "down_seconds": self.down_seconds, "requests": self.requests,
            "while_down": self.while_down.iter()
                .map(|(s, n)| json!({"status": s, "count": n})).collect::<Vec<_>>(),
            "while_down_p50_ms": self.while_down_p50,
            "while_down_max_ms": self.while_down_max * 1000.0,
            "non_scim_503": self.non_scim_503, "unexpected": self.unexpected,
            "recovery_seconds": self.recovery_seconds,
            "created": self.created, "lost": self.lost,
        });
        (text, value)
    }
}

/// Creates and lookups on `concurrency` connections; PostgreSQL is stopped after `before`,
/// started after `down`, and the load goes on for `after`.
pub async fn pg_restart(
    ctx: &Arc<Ctx>,
    pg_ctl: &str,
    concurrency: usize,
    (before, down, after): (Duration, Duration, Duration),
) -> anyhow::Result<Restart> {
    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (ctx, stop) = (ctx.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    sent.push(restart_request(&ctx, started, n % 2 == 0, w, n).await);
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(before).await;
    // From the moment the shutdown begins: a fast shutdown ends every session at once.
    let stopped = started.elapsed().as_secs_f64();
    pg(pg_ctl, "stop").await?;
    tokio::time::sleep(down).await;
    let starting = started.elapsed().as_secs_f64();
    pg(pg_ctl, "start").await?;
    let up = started.elapsed().as_secs_f64();
    tokio::time::sleep(after).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent: Vec<Sent> = Vec::new();
    for w in futures_util::future::join_all(workers).await {
        sent.extend(w?);
    }
    let during: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.at >= stopped && s.at < starting)
        .collect();
    let mut while_down = std::collections::BTreeMap::new();
    for s in &during {
        let key = s.status.map_or("none".to_string(), |c| c.to_string());
        *while_down.entry(key).or_insert(0) += 1;
    }
    let latencies: Vec<Duration> = during
        .iter()
        .map(|s| Duration::from_secs_f64(s.latency))
        .collect();
    let recovery_seconds = sent
        .iter()
        .filter(|s| s.at >= up && s.created.is_some())
        .map(|s| s.at + s.latency - up)
        .reduce(f64::min);
    let created: Vec<&String> = sent.iter().filter_map(|s| s.created.as_ref()).collect();
    let mut lost = 0;
    for name in &created {
        if !exists(ctx, name).await {
            lost += 1;
        }
    }
    Ok(Restart {
        down_seconds: starting - stopped,
        requests: sent.len(),
        while_down: while_down.into_iter().collect(),
        while_down_p50: percentile(latencies, 0.5),
        while_down_max: during.iter().map(|s| s.latency).fold(0.0, f64::max),
        non_scim_503: sent
            .iter()
            .filter(|s| s.status == Some(503) && !s.scim_format)
            .count(),
        recovery_seconds,
        unexpected: sent
            .iter()
            .filter(|s| s.status.is_some_and(|c| ![200, 201, 503].contains(&c)))
            .count(),
        created: created.len(),
        lost,
    })
}

async fn pg(pg_ctl: &str, action: &str) -> anyhow::Result<()> {
    let (pg_ctl, action) = (pg_ctl.to_string(), action.to_string());
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&pg_ctl).arg(&action).status()
    })
    .await??;
    anyhow::ensure!(status.success(), "pg_ctl {status}");
    Ok(())
}

async fn restart_request(ctx: &Ctx, started: Instant, create: bool, w: usize, n: usize) -> Sent {
    let at = started.elapsed().as_secs_f64();
    let users = format!("{}/scim/v2/{}/Users", ctx.base, ctx.org);
    let name = format!("restart{w}-{n}-{}@bench.example", ctx.run);
    // A hang shows as no answer after 30 s, not as a stuck run.
    let timeout = Duration::from_secs(30);
    let response = if create {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name, "active": true});
        send(ctx, ctx.client.post(&users).timeout(timeout), &body).await
    } else {
        let i = rand::rng().random_range(0..ctx.ids.len());
        let filter = format!("userName eq \"{}\"", user_name(i));
        ctx.client
            .get(&users)
            .query(&[("filter", filter.as_str())])
            .bearer_auth(&ctx.token)
            .timeout(timeout)
            .send()
            .await
    };
    let (status, scim_format) = match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let scim = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/scim+json"));
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (
                Some(status),
                scim && body["status"].as_str() == Some(status.to_string().as_str()),
            )
        }
        Err(_) => (None, false),
    };
    Sent {
        at,
        latency: started.elapsed().as_secs_f64() - at,
        status,
        scim_format,
        created: (create && status == Some(201)).then_some(name),
    }
}

async fn exists(ctx: &Ctx, name: &str) -> bool {
    let filter = format!("userName eq \"{name}\"");
    let r = ctx
        .client
        .get(format!("{}/scim/v2/{}/Users", ctx.base, ctx.org))
        .query(&[("filter", filter.as_str())])
        .bearer_auth(&ctx.token)
        .send()
        .await
        .expect("lookup after the restart");
    let v: Value = r.json().await.expect("a list response");
    v["totalResults"] == 1
}
