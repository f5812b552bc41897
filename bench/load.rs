//! Load generator: seeds an organisation of BENCH_USERS users (default 100,000) through the
//! library, starts the real server (`gatehouse serve`, the release binary) as a separate
//! process on that store, and drives it over HTTP with BENCH_CONCURRENCY connections
//! (default 16) for BENCH_SECONDS per scenario (default 10), in the shapes Okta sends.
//!
//! Seeded before the server starts, each phase timed: a second organisation of 1,000
//! users, the large organisation (`Directory::import_users`, batches of 10,000), its
//! BENCH_SESSIONS live sessions (default 1,000), a group of its last BENCH_GROUP_MEMBERS
//! users (default 50,000, at most the users without a session) and a SAML connection to a
//! test IdP with its own RSA key (`tests/api/support/saml_idp.rs`).
//!
//! Scenarios: `import` (Okta's paging, first and last page timed, and one whole walk),
//! `lookup`, `lookup-1k` (the same lookup in the 1,000-user organisation), `create`,
//! `patch`, `groups`, `groups-large` (the same member changes on the large group), `mix`,
//! `mix-followed` and `feed` (the change feed, bench/load/feed.rs), `saml-acs`, `auth-check`,
//! `http-floor` and `one-statement` (`/healthz` and `/readyz`: what `auth-check` costs
//! without its statement, and with a trivial one), and two of staying power (bench/load/resilience.rs): `soak`
//! (the mix paced at 80 % of its measured peak for BENCH_SOAK_SECONDS, default 600) and
//! `pg-restart` (PostgreSQL stopped and started under load). `saml-acs` posts IdP-initiated responses to the ACS, each
//! once: BENCH_SAML_RESPONSES of them (default 2,000 per second of BENCH_SECONDS, plus 5 %
//! for the warm-up), signed just before the scenario on every core; the scenario ends
//! early when they run out (or are 80 s old: the server takes them for 90 s). Each scenario reports requests/s, p50/p95/p99 latency, errors
//! (every status is checked) and the server's RSS. Also: the milliseconds from spawning
//! the server until `/healthz` answers, and lookup at BENCH_USERS against lookup at 1,000.
//! Prints a Markdown table and writes target/bench/load-<backend>.json. On PostgreSQL when
//! GATEHOUSE_TEST_DATABASE_URL names a server (scripts/with-postgres.sh).

#[path = "common.rs"]
mod common;
#[path = "load/feed.rs"]
mod feed;
#[path = "load/resilience.rs"]
mod resilience;
#[path = "load/saml.rs"]
mod saml;
#[path = "../tests/api/support/saml_idp.rs"]
#[allow(dead_code)]
mod saml_idp;
#[path = "load/seed.rs"]
mod seed;
#[path = "../tests/api/support/webhook_receiver.rs"]
#[allow(dead_code)]
mod webhook_receiver;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{env, machine_busy_ms, process_cpu_ms};
use gatehouse::directory::UserId;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::Connection;

const PAGE: usize = 100;
/// Requests timed, one after another, for the import's first and last page.
const PAGE_SAMPLES: usize = 50;
const SCIM: &str = "application/scim+json; charset=utf-8";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// `saml-acs` responses per second of BENCH_SECONDS, unless BENCH_SAML_RESPONSES says: the
/// goal's rate, so a server that reaches it does not run out of responses first.
const SAML_PER_SECOND: usize = 2_000;

/// What the load needs to know about the seeded store.
struct Ctx {
    client: reqwest::Client,
    base: String,
    org: String,
    token: String,
    small_org: String,
    small_token: String,
    /// An API key of `org`, for its change feed and webhooks.
    api_key: String,
    /// `org`'s last change, as last read (`feed::head`).
    feed_head: AtomicI64,
    /// Seeded user ids, by index (user_name(i) has ids[i]).
    ids: Vec<UserId>,
    /// The first BENCH_SESSIONS users carry live sessions, and the next ones, up to
    /// `writable_from`, are those `saml-acs` signs in: writes leave both alone, so that a
    /// deactivation cannot end a session `auth-check` presents or refuse a sign-in.
    writable_from: usize,
    cookies: Vec<String>,
    group: String,
    large_group: String,
    /// The large group's members are the users from `large_first` on.
    large_first: usize,
    /// Set just before `saml-acs`.
    saml: OnceLock<saml::Pool>,
    created: AtomicUsize,
    /// Creates answered 201.
    acked_creates: AtomicUsize,
    run: String,
}

#[derive(Clone, Copy)]
enum Op {
    Lookup,
    /// The same lookup in the 1,000-user organisation.
    LookupSmall,
    Create,
    Put,
    /// PATCH active false, then true: two requests.
    PatchPair,
    Patch,
    /// Member add, then remove: two requests.
    GroupPair,
    GroupAdd,
    GroupRemove,
    /// Member add, then remove, of a non-member of the large group.
    LargeGroupPair,
    SamlAcs,
    AuthCheck,
    /// `/healthz`: the HTTP work alone, both sides of loopback.
    Healthz,
    /// `/readyz`: the HTTP work and one trivial statement (`SELECT 1`) through the pool.
    Readyz,
    /// A page of 100 changes from a random place in the feed.
    FeedPage,
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: usize,
    /// Errors that were 5xx answers (counted in `errors` too).
    server_errors: usize,
    samples: Vec<String>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<(), String>) {
        self.latencies.push(started.elapsed());
        if let Err(e) = outcome {
            self.errors += 1;
            if e.starts_with("status 5") {
                self.server_errors += 1;
            }
            if self.samples.len() < 3 {
                self.samples.push(e);
            }
        }
    }
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.server_errors += other.server_errors;
        self.samples.extend(other.samples);
        self.samples.truncate(3);
    }
}

struct Row {
    name: String,
    requests: usize,
    seconds: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    errors: usize,
    rss_mb: f64,
    hwm_mb: f64,
    anon_mb: f64,
    cpu: CpuPerRequest,
}

/// Where the 2 cores went during a scenario, in CPU milliseconds per request: the server
/// (`gatehouse serve`), this load generator, and the rest of the machine's busy time
/// (PostgreSQL's processes, when it is the store, and the kernel's work for none of them).
#[derive(Clone, Copy)]
struct CpuPerRequest {
    server: f64,
    generator: f64,
    other: f64,
}

/// CPU readings at one moment, to subtract from a later one.
#[derive(Clone, Copy)]
struct CpuMark {
    server: f64,
    generator: f64,
    machine: f64,
}

impl CpuMark {
    fn now(server_pid: u32) -> CpuMark {
        CpuMark {
            server: process_cpu_ms(&server_pid.to_string()),
            generator: process_cpu_ms("self"),
            machine: machine_busy_ms(),
        }
    }

    fn per_request(self, later: CpuMark, requests: usize) -> CpuPerRequest {
        let n = requests.max(1) as f64;
        let server = later.server - self.server;
        let generator = later.generator - self.generator;
        CpuPerRequest {
            server: server / n,
            generator: generator / n,
            other: (later.machine - self.machine - server - generator).max(0.0) / n,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --all-targets` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let users = env("BENCH_USERS", 100_000);
    let concurrency = env("BENCH_CONCURRENCY", 16);
    let seconds = env("BENCH_SECONDS", 10) as u64;
    let sessions = env("BENCH_SESSIONS", 1_000).min(users / 2);
    let group_members = env("BENCH_GROUP_MEMBERS", 50_000).min(users - sessions);
    let saml_responses = env("BENCH_SAML_RESPONSES", SAML_PER_SECOND * seconds as usize);
    // 5 % more for the warm-up.
    let saml_pool = saml_responses + saml_responses / 20;
    // Each saml-acs user signs in once when there are enough of them, else several times.
    let saml_users = saml_pool.clamp(1, ((users - sessions) / 10).max(1));
    let pg = std::env::var("GATEHOUSE_TEST_DATABASE_URL").ok();
    let backend = if pg.is_some() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir()?;
    let url = match &pg {
        Some(server) => fresh_pg_database(server).await?,
        None => format!("sqlite://{}/load.db", dir.path().display()),
    };
    let key_file = dir.path().join("secret.key").display().to_string();

    let seed_started = Instant::now();
    let plan = seed::Plan {
        users,
        sessions,
        group_members,
    };
    let seeded = seed::seed(&url, &key_file, &plan).await?;
    let seed_seconds = seed_started.elapsed().as_secs_f64();
    eprintln!("seeded {users} users (+1,000 in a second organisation) in {seed_seconds:.1} s");

    let mut server = Server::start(&url, &key_file, dir.path())?;
    let ready_ms = server.ready_ms;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, idle_hwm) = server.memory();
    eprintln!("ready in {ready_ms:.1} ms; idle RSS {idle_rss:.1} MB");

    // Redirects are answers to check (the ACS's), not to follow.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let group = create_group(&client, &server.base, &seeded.org, &seeded.token).await?;
    let ctx = Arc::new(Ctx {
        client,
        base: server.base.clone(),
        org: seeded.org,
        token: seeded.token,
        small_org: seeded.small_org,
        small_token: seeded.small_token,
        api_key: seeded.api_key,
        feed_head: AtomicI64::new(seeded.feed_head),
        ids: seeded.ids,
        writable_from: sessions + saml_users,
        cookies: seeded.cookies,
        group,
        large_group: seeded.large_group,
        large_first: users - group_members,
        saml: OnceLock::new(),
        created: AtomicUsize::new(0),
        acked_creates: AtomicUsize::new(0),
        run: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
    });

    let duration = Duration::from_secs(seconds);
    let warm_up = Duration::from_millis(500);
    let mut rows = Vec::new();
    let mut saml_run = None;
    let mut soak_run = None;
    let mut restart_run = None;
    let mut followed = None;
    // `saml-acs` after `mix`: mix's writes never reach the users it signs in, and the
    // sessions it makes are for other users than `auth-check`'s.
    let scenarios: [(&str, &[(Op, u32)]); 15] = [
        ("lookup", &[(Op::Lookup, 1)]),
        ("lookup-1k", &[(Op::LookupSmall, 1)]),
        ("create", &[(Op::Create, 1)]),
        ("patch", &[(Op::PatchPair, 1)]),
        ("groups", &[(Op::GroupPair, 1)]),
        ("mix", resilience::MIX),
        // The mix again, while an app follows by long poll and webhook (bench/load/feed.rs).
        ("mix-followed", resilience::MIX),
        ("feed", &[(Op::FeedPage, 1)]),
        ("saml-acs", &[(Op::SamlAcs, 1)]),
        ("auth-check", &[(Op::AuthCheck, 1)]),
        // What `auth-check` stands on: the HTTP work alone, then with one statement.
        ("http-floor", &[(Op::Healthz, 1)]),
        ("one-statement", &[(Op::Readyz, 1)]),
        // Staying power (bench/load/resilience.rs), before the large group grows the heap.
        ("soak", &[]),
        ("pg-restart", &[]),
        // Last: its answers carry 50,000 members each, and the heap they grow would count
        // in the memory figures of the scenarios after it.
        ("groups-large", &[(Op::LargeGroupPair, 1)]),
    ];
    // Import first: its pages should not see the users `create` adds.
    // BENCH_SCENARIOS (comma-separated names) runs a subset, e.g. while profiling one.
    let only = std::env::var("BENCH_SCENARIOS").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == name))
    };
    let mut import_run = Import::default();
    if wanted("import") {
        server.reset_peak();
        import_run = import(&ctx, &ctx.small_org, &ctx.small_token).await;
        let (rss, hwm) = server.memory();
        let mut r = row(
            "import (whole walk, 1 connection)",
            &import_run.walk,
            rss,
            hwm,
        );
        r.anon_mb = server.anon();
        rows.push(r);
    }
    for (name, weights) in scenarios.into_iter().filter(|(n, _)| wanted(n)) {
        if name == "groups-large" && ctx.large_first == 0 {
            eprintln!("groups-large: skipped, every user is a member of the large group");
            continue;
        }
        if name == "soak" {
            let rate = rows
                .iter()
                .find(|r: &&Row| r.name == "mix")
                .map(|r| 0.8 * r.requests as f64 / r.seconds)
                .unwrap_or(env("BENCH_SOAK_RATE", 1_000) as f64);
            let seconds = env("BENCH_SOAK_SECONDS", 600) as u64;
            eprintln!("soak: {seconds} s at {rate:.0} requests/s");
            let run = resilience::soak(
                &ctx,
                &server,
                concurrency,
                rate,
                Duration::from_secs(seconds),
            )
            .await;
            soak_run = Some(run);
            continue;
        }
        if name == "pg-restart" {
            match (&pg, std::env::var("GATEHOUSE_TEST_PG_CTL")) {
                (Some(_), Ok(pg_ctl)) => {
                    let secs = |name, default| Duration::from_secs(env(name, default) as u64);
                    let phases = (
                        secs("BENCH_RESTART_BEFORE_SECONDS", 5),
                        secs("BENCH_RESTART_DOWN_SECONDS", 5),
                        secs("BENCH_RESTART_AFTER_SECONDS", 15),
                    );
                    restart_run =
                        Some(resilience::pg_restart(&ctx, &pg_ctl, concurrency, phases).await?);
                }
                (Some(_), Err(_)) => eprintln!("pg-restart: skipped, no GATEHOUSE_TEST_PG_CTL"),
                (None, _) => eprintln!("pg-restart: skipped, SQLite has no server to restart"),
            }
            continue;
        }
        if name == "saml-acs" {
            let names: Vec<String> = (sessions..ctx.writable_from).map(user_name).collect();
            let pool = saml::Pool::sign(&seeded.idp, &ctx.base, &ctx.org, &names, saml_pool);
            let _ = ctx.saml.set(pool);
        }
        if name == "feed" {
            feed::head(&ctx).await?;
        }
        // Warm the connections and caches, then measure.
        load(&ctx, weights, concurrency, warm_up).await;
        let follow = match name {
            "mix-followed" => Some(feed::Follow::start(&ctx).await?),
            _ => None,
        };
        server.reset_peak();
        let cpu_before = CpuMark::now(server.child.id());
        let started = Instant::now();
        let tally = load(&ctx, weights, concurrency, duration).await;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu_after = CpuMark::now(server.child.id());
        let (rss, hwm) = server.memory();
        let mut r = row(name, &tally, rss, hwm);
        r.seconds = elapsed;
        r.cpu = cpu_before.per_request(cpu_after, r.requests);
        r.anon_mb = server.anon();
        rows.push(r);
        for s in &tally.samples {
            eprintln!("{name}: error: {s}");
        }
        if let Some(pool) = ctx.saml.get().filter(|_| name == "saml-acs") {
            saml_run = Some(pool.run(elapsed, duration));
        }
        if let Some(follow) = follow {
            followed = Some(follow.finish(&ctx).await?);
        }
    }
    server.stop();
    report(&Summary {
        backend,
        concurrency,
        users,
        group_members,
        seed_seconds,
        seed_phases: &seeded.phases,
        ready_ms,
        idle: (idle_rss, idle_hwm),
        import: &import_run,
        rows: &rows,
        saml: saml_run.as_ref(),
        soak: soak_run.as_ref(),
        restart: restart_run.as_ref(),
        followed: followed.as_ref(),
    })
}

fn user_name(i: usize) -> String {
    format!("user{i:07}@bench.example")
}

/// `gatehouse serve`, the release binary cargo builds for this bench, as its own process.
struct Server {
    child: Child,
    base: String,
    ready_ms: f64,
}

impl Server {
    fn start(url: &str, key_file: &str, cwd: &std::path::Path) -> anyhow::Result<Self> {
        // A free port: bind, read it, let it go (the server binds it a moment later).
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .current_dir(cwd)
            .env("GATEHOUSE_DATABASE__URL", url)
            .env("GATEHOUSE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_SERVER__PUBLIC_URL", &base)
            .env("GATEHOUSE_SECRETS__KEY_FILE", key_file)
            // One load generator is one client address: the per-client bound of the sign-in
            // doors would measure itself, not the server.
            .env("GATEHOUSE_LOGIN__REQUESTS_PER_SECOND", "0")
            .env(
                "GATEHOUSE_LOG__FILTER",
                // BENCH_SERVER_LOG, e.g. "sqlx::query=debug", shows each statement's time.
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            // Keep reading to the end so the server never blocks on a full pipe.
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        let health = format!("{base}/healthz");
        let ready_ms = loop {
            match blocking_get(&health) {
                Some(200) => break started.elapsed().as_secs_f64() * 1000.0,
                _ if started.elapsed() > Duration::from_secs(30) => {
                    let _ = child.kill();
                    anyhow::bail!("the server did not answer /healthz within 30 s");
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| anyhow::anyhow!("the server never printed \"listening on\""))?;
        Ok(Self {
            child,
            base,
            ready_ms,
        })
    }

    /// VmRSS and VmHWM (the peak since the last reset), in MB. Both count file pages too:
    /// SQLite's memory-mapped reads show up there; RssAnon (see `anon`) does not.
    fn memory(&self) -> (f64, f64) {
        let (rss, hwm, _) = self.memory_parts();
        (rss, hwm)
    }

    /// RssAnon in MB: the heap and stacks alone.
    fn anon(&self) -> f64 {
        self.memory_parts().2
    }

    fn memory_parts(&self) -> (f64, f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        (
            kb("VmRSS:") / 1024.0,
            kb("VmHWM:") / 1024.0,
            kb("RssAnon:") / 1024.0,
        )
    }

    /// Resets VmHWM to the current RSS ("5" to clear_refs), so each scenario has its peak.
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain HTTP/1.0 GET on loopback, for polling before the server is up: the status code.
fn blocking_get(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split(' ').nth(1)?.parse().ok()
}

async fn create_group(
    client: &reqwest::Client,
    base: &str,
    org: &str,
    token: &str,
) -> anyhow::Result<String> {
    let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName":"Load group","members":[]});
    let r = client
        .post(format!("{base}/scim/v2/{org}/Groups"))
        .bearer_auth(token)
        .header("content-type", SCIM)
        .body(body.to_string())
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "group create: {}", r.status());
    let v: Value = r.json().await?;
    Ok(v["id"].as_str().expect("group id").to_string())
}

/// Runs `weights`' operations over `concurrency` workers until `duration` has passed, or
/// until an operation has nothing left to send (`saml-acs`'s responses are used up).
async fn load(
    ctx: &Arc<Ctx>,
    weights: &[(Op, u32)],
    concurrency: usize,
    duration: Duration,
) -> Tally {
    let deadline = Instant::now() + duration;
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    let weights: Vec<(Op, u32)> = weights.to_vec();
    let workers = (0..concurrency).map(|_| {
        let ctx = ctx.clone();
        let weights = weights.clone();
        tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let mut pick = rand::rng().random_range(0..total);
                let op = weights
                    .iter()
                    .find(|(_, w)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .map(|(op, _)| *op)
                    .expect("weights");
                if !run_op(&ctx, op, &mut tally).await {
                    break;
                }
            }
            tally
        })
    });
    let mut all = Tally::default();
    for w in futures_util::future::join_all(workers).await {
        all.merge(w.expect("worker"));
    }
    all
}

/// A random seeded user that neither has a session nor is signed in by `saml-acs` (writes
/// go there).
fn writable(ctx: &Ctx) -> usize {
    rand::rng().random_range(ctx.writable_from..ctx.ids.len())
}

/// Sends one operation's requests and records them; false when there was nothing to send.
async fn run_op(ctx: &Ctx, op: Op, tally: &mut Tally) -> bool {
    let users = format!("{}/scim/v2/{}/Users", ctx.base, ctx.org);
    match op {
        Op::Lookup | Op::LookupSmall => {
            let (url, token, size) = match op {
                Op::Lookup => (users, &ctx.token, ctx.ids.len()),
                _ => (
                    format!("{}/scim/v2/{}/Users", ctx.base, ctx.small_org),
                    &ctx.small_token,
                    1_000,
                ),
            };
            let i = rand::rng().random_range(0..size);
            let filter = format!("userName eq \"{}\"", user_name(i));
            let started = Instant::now();
            let r = ctx
                .client
                .get(&url)
                .query(&[
                    ("filter", filter.as_str()),
                    ("startIndex", "1"),
                    ("count", "100"),
                ])
                .bearer_auth(token)
                .send()
                .await;
            let outcome = expect(r, &[200], Some("\"totalResults\":1")).await;
            tally.record(started, outcome);
        }
        Op::Create => {
            let n = ctx.created.fetch_add(1, Ordering::Relaxed);
            let name = format!("load{n}-{}@bench.example", ctx.run);
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "name": {"givenName": "Load", "familyName": format!("User{n}")},
                "emails": [{"primary": true, "value": name, "type": "work"}],
                "displayName": format!("Load User{n}"),
                "locale": "en-US",
                "externalId": format!("00u{n}{}", ctx.run),
                "groups": [],
                "password": "1mz050nq",
                "active": true
            });
            let started = Instant::now();
            let r = send(ctx, ctx.client.post(&users), &body).await;
            let outcome = expect(r, &[201], None).await;
            if outcome.is_ok() {
                ctx.acked_creates.fetch_add(1, Ordering::Relaxed);
            }
            tally.record(started, outcome);
        }
        Op::Put => {
            let i = writable(ctx);
            let id = ctx.ids[i].to_string();
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": id,
                "userName": user_name(i),
                "name": {"givenName": "Another", "middleName": "Excited", "familyName": format!("User{i}")},
                "emails": [{"primary": true, "value": user_name(i), "type": "work", "display": user_name(i)}],
                "active": true,
                "groups": [],
                "meta": {"resourceType": "User"}
            });
            let started = Instant::now();
            let r = send(ctx, ctx.client.put(format!("{users}/{id}")), &body).await;
            tally.record(started, expect(r, &[200], None).await);
        }
        Op::PatchPair | Op::Patch => {
            let i = writable(ctx);
            let url = format!("{users}/{}", ctx.ids[i]);
            let values: &[bool] = if matches!(op, Op::PatchPair) {
                &[false, true]
            } else if rand::rng().random_bool(0.5) {
                &[false]
            } else {
                &[true]
            };
            for active in values {
                let body = json!({"schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "value": {"active": active}}]});
                let started = Instant::now();
                let r = send(ctx, ctx.client.patch(&url), &body).await;
                let want = format!("\"active\":{active}");
                tally.record(started, expect(r, &[200], Some(&want)).await);
            }
        }
        Op::GroupPair | Op::GroupAdd | Op::GroupRemove | Op::LargeGroupPair => {
            // The large group's non-members include users with sessions or sign-ins:
            // memberships end neither.
            let (i, group) = match op {
                Op::LargeGroupPair => (
                    rand::rng().random_range(0..ctx.large_first),
                    &ctx.large_group,
                ),
                _ => (writable(ctx), &ctx.group),
            };
            let id = ctx.ids[i].to_string();
            let url = format!("{}/scim/v2/{}/Groups/{group}", ctx.base, ctx.org);
            let add = json!({"op": "add", "path": "members",
                "value": [{"value": id, "display": user_name(i)}]});
            let remove = json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")});
            let ops: Vec<Value> = match op {
                Op::GroupPair | Op::LargeGroupPair => vec![add, remove],
                Op::GroupAdd => vec![add],
                _ => vec![remove],
            };
            for operation in ops {
                let body = json!({"schemas": [PATCH_OP], "Operations": [operation]});
                let started = Instant::now();
                let r = send(ctx, ctx.client.patch(&url), &body).await;
                tally.record(started, expect(r, &[200, 204], None).await);
            }
        }
        Op::AuthCheck => {
            let i = rand::rng().random_range(0..ctx.cookies.len());
            let started = Instant::now();
            let r = ctx
                .client
                .get(format!("{}/auth/check", ctx.base))
                .header("cookie", format!("gatehouse_session={}", ctx.cookies[i]))
                .send()
                .await;
            tally.record(started, expect(r, &[200], None).await);
        }
        Op::Healthz | Op::Readyz => {
            let path = if matches!(op, Op::Healthz) {
                "healthz"
            } else {
                "readyz"
            };
            let started = Instant::now();
            let r = ctx.client.get(format!("{}/{path}", ctx.base)).send().await;
            tally.record(started, expect(r, &[200], None).await);
        }
        Op::FeedPage => feed::page(ctx, tally).await,
        Op::SamlAcs => {
            let Some(body) = ctx.saml.get().and_then(saml::Pool::take) else {
                return false;
            };
            let (acs, body) = (
                format!("{}/saml/{}/acs", ctx.base, ctx.org),
                body.to_string(),
            );
            let started = Instant::now();
            let outcome = saml::post(&ctx.client, &acs, body).await;
            tally.record(started, outcome);
        }
    }
    true
}

async fn send(
    ctx: &Ctx,
    request: reqwest::RequestBuilder,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    request
        .bearer_auth(&ctx.token)
        .header("content-type", SCIM)
        .header("accept", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
}

/// Ok when the status is one of `statuses` and the body (read whole) holds `needle`.
async fn expect(
    response: reqwest::Result<reqwest::Response>,
    statuses: &[u16],
    needle: Option<&str>,
) -> Result<(), String> {
    let r = response.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.text().await.map_err(|e| e.to_string())?;
    if !statuses.contains(&status) {
        return Err(format!("status {status}: {}", &body[..body.len().min(200)]));
    }
    match needle {
        Some(n) if !body.contains(n) => {
            Err(format!("body lacks {n}: {}", &body[..body.len().min(200)]))
        }
        _ => Ok(()),
    }
}

#[derive(Default)]
struct Import {
    /// The walk of all pages of the large organisation, one page after another.
    walk: Tally,
    walk_seconds: f64,
    pages: usize,
    /// p50 of PAGE_SAMPLES requests each: page 1 at 1,000 users, page 1 and the last page
    /// at BENCH_USERS.
    first_small_ms: f64,
    first_ms: f64,
    last_ms: f64,
    errors: usize,
}

/// Okta's import: `GET /Users?startIndex=N&count=100` while pages remain, on one connection.
async fn import(ctx: &Ctx, small_org: &str, small_token: &str) -> Import {
    let large = format!("{}/scim/v2/{}/Users", ctx.base, ctx.org);
    let small = format!("{}/scim/v2/{small_org}/Users", ctx.base);
    let total = ctx.ids.len();
    let last = (total - 1) / PAGE * PAGE + 1;
    let mut errors = 0;
    let mut sample = |tally: Tally| {
        errors += tally.errors;
        for s in &tally.samples {
            eprintln!("import: error: {s}");
        }
        percentile(tally.latencies, 0.5)
    };
    let first_small = sample(pages(ctx, &small, small_token, 1, PAGE_SAMPLES, 1_000).await);
    let first = sample(pages(ctx, &large, &ctx.token, 1, PAGE_SAMPLES, total).await);
    let last_page = sample(pages(ctx, &large, &ctx.token, last, PAGE_SAMPLES, total).await);
    let started = Instant::now();
    let mut walk = Tally::default();
    let mut start = 1;
    let mut count = 0;
    while start <= total {
        let t = page(ctx, &large, &ctx.token, start, total).await;
        walk.merge(t);
        start += PAGE;
        count += 1;
    }
    let walk_seconds = started.elapsed().as_secs_f64();
    errors += walk.errors;
    Import {
        walk,
        walk_seconds,
        pages: count,
        first_small_ms: first_small,
        first_ms: first,
        last_ms: last_page,
        errors,
    }
}

async fn pages(
    ctx: &Ctx,
    url: &str,
    token: &str,
    start: usize,
    times: usize,
    total: usize,
) -> Tally {
    let mut all = Tally::default();
    for _ in 0..times {
        all.merge(page(ctx, url, token, start, total).await);
    }
    all
}

/// One page, checked: 200, the directory's total, and as many resources as the page holds.
async fn page(ctx: &Ctx, url: &str, token: &str, start: usize, total: usize) -> Tally {
    let mut tally = Tally::default();
    let started = Instant::now();
    let r = ctx
        .client
        .get(url)
        .query(&[("startIndex", start), ("count", PAGE)])
        .bearer_auth(token)
        .send()
        .await;
    let outcome = async {
        let r = r.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.text().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("status {status}: {}", &body[..body.len().min(200)]));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let want = PAGE.min(total + 1 - start);
        let got = v["Resources"].as_array().map_or(0, Vec::len);
        if v["totalResults"] != json!(total) || got != want {
            return Err(format!(
                "page {start}: totalResults {} and {got} resources, expected {total} and {want}",
                v["totalResults"]
            ));
        }
        Ok(())
    }
    .await;
    tally.record(started, outcome);
    tally
}

fn percentile(mut latencies: Vec<Duration>, p: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    latencies.sort();
    let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
    latencies[i].as_secs_f64() * 1000.0
}

fn row(name: &str, tally: &Tally, rss_mb: f64, hwm_mb: f64) -> Row {
    let seconds = tally.latencies.iter().map(Duration::as_secs_f64).sum();
    let l = tally.latencies.clone();
    Row {
        name: name.into(),
        requests: l.len(),
        seconds,
        p50: percentile(l.clone(), 0.50),
        p95: percentile(l.clone(), 0.95),
        p99: percentile(l, 0.99),
        errors: tally.errors,
        rss_mb,
        hwm_mb,
        anon_mb: f64::NAN,
        cpu: CpuPerRequest {
            server: f64::NAN,
            generator: f64::NAN,
            other: f64::NAN,
        },
    }
}

async fn fresh_pg_database(server: &str) -> anyhow::Result<String> {
    let name = format!("load_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(server).await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// Everything the report prints.
struct Summary<'a> {
    backend: &'a str,
    concurrency: usize,
    users: usize,
    group_members: usize,
    seed_seconds: f64,
    seed_phases: &'a [(String, f64)],
    ready_ms: f64,
    idle: (f64, f64),
    import: &'a Import,
    rows: &'a [Row],
    saml: Option<&'a saml::Run>,
    soak: Option<&'a resilience::Soak>,
    restart: Option<&'a resilience::Restart>,
    followed: Option<&'a feed::Followed>,
}

fn report(s: &Summary) -> anyhow::Result<()> {
    let (backend, users, import) = (s.backend, s.users, s.import);
    println!(
        "\n### Load on {backend}: {users} users, {} connections\n",
        s.concurrency
    );
    println!("| scenario | requests | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors | server RSS after (MB) | peak RSS during (MB) | anonymous RSS after (MB) | CPU ms per request: server / generator / other |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut json_rows = Vec::new();
    for r in s.rows {
        let rps = r.requests as f64 / r.seconds;
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.1} | {:.1} | {:.3} / {:.3} / {:.3} |",
            r.name, r.requests, rps, r.p50, r.p95, r.p99, r.errors, r.rss_mb, r.hwm_mb, r.anon_mb,
            r.cpu.server, r.cpu.generator, r.cpu.other
        );
        json_rows.push(json!({
            "scenario": r.name, "requests": r.requests, "seconds": r.seconds,
            "requests_per_second": rps, "p50_ms": r.p50, "p95_ms": r.p95, "p99_ms": r.p99,
            "errors": r.errors, "rss_mb": r.rss_mb, "peak_rss_mb": r.hwm_mb, "anon_rss_mb": r.anon_mb,
            "cpu_ms_per_request": {
                "server": r.cpu.server, "generator": r.cpu.generator, "other": r.cpu.other,
            },
        }));
    }
    println!();
    if import.pages > 0 {
        println!(
            "Import (p50 of {PAGE_SAMPLES} requests each, count={PAGE}): page 1 at 1,000 users {:.2} ms; \
             page 1 at {users} users {:.2} ms ({:.2}×); last page {:.2} ms ({:.2}× page 1); \
             whole walk of {} pages {:.1} s.",
            import.first_small_ms,
            import.first_ms,
            import.first_ms / import.first_small_ms,
            import.last_ms,
            import.last_ms / import.first_ms,
            import.pages,
            import.walk_seconds,
        );
    }
    let find = |name: &str| s.rows.iter().find(|r| r.name == name);
    let mut lookup_scale = Value::Null;
    if let (Some(large), Some(small)) = (find("lookup"), find("lookup-1k")) {
        let rps = |r: &Row| r.requests as f64 / r.seconds;
        let (p50_ratio, rps_ratio) = (large.p50 / small.p50, rps(large) / rps(small));
        println!(
            "Lookup at {users} users against 1,000: p50 {:.2} vs {:.2} ms ({p50_ratio:.2}×); \
             {:.0} vs {:.0} requests/s ({rps_ratio:.2}×).",
            large.p50,
            small.p50,
            rps(large),
            rps(small),
        );
        lookup_scale = json!({"p50_ratio": p50_ratio, "throughput_ratio": rps_ratio});
    }
    if let (Some(large), Some(small)) = (find("groups-large"), find("groups")) {
        println!(
            "Group member change in a {}-member group against a small one: p50 {:.2} vs {:.2} ms ({:.2}×).",
            s.group_members,
            large.p50,
            small.p50,
            large.p50 / small.p50
        );
    }
    if let Some(saml) = s.saml {
        let stopped = saml
            .stopped
            .map(|(t, why)| format!("; the run stopped {t:.1} s in: {why}"))
            .unwrap_or_default();
        println!(
            "SAML responses: {} signed in {:.1} s on {} threads, {} posted (warm-up included){stopped}.",
            saml.signed, saml.signing_seconds, saml.threads, saml.posted
        );
    }
    let rate = |r: &Row| (r.requests as f64 / r.seconds, r.p99);
    let followed = s.followed.map(|f| {
        let mix = find("mix").map(rate);
        let (text, value) = f.report(mix, find("mix-followed").map(rate).unwrap_or_default());
        println!("{text}");
        value
    });
    let soak = s.soak.map(|r| {
        let (text, value) = r.report();
        println!("{text}");
        value
    });
    let restart = s.restart.map(|r| {
        let (text, value) = r.report();
        println!("{text}");
        value
    });
    let phases: Vec<String> = s
        .seed_phases
        .iter()
        .map(|(name, seconds)| format!("{name} {seconds:.1} s"))
        .collect();
    println!(
        "Ready to serve: {:.1} ms from spawn to /healthz. Idle RSS {:.1} MB (peak so far {:.1} MB). \
         Seeding: {:.1} s ({}).",
        s.ready_ms,
        s.idle.0,
        s.idle.1,
        s.seed_seconds,
        phases.join("; ")
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out)?;
    let body = json!({
        "backend": backend, "users": users, "concurrency": s.concurrency,
        "group_members": s.group_members,
        "seed_seconds": s.seed_seconds,
        "seed_phases": s.seed_phases.iter()
            .map(|(name, seconds)| json!({"phase": name, "seconds": seconds}))
            .collect::<Vec<_>>(),
        "ready_ms": s.ready_ms,
        "idle_rss_mb": s.idle.0, "idle_peak_rss_mb": s.idle.1,
        "import": {
            "first_page_1k_ms": import.first_small_ms, "first_page_ms": import.first_ms,
            "last_page_ms": import.last_ms, "walk_seconds": import.walk_seconds,
            "pages": import.pages, "errors": import.errors,
        },
        "lookup_vs_1k": lookup_scale,
        "saml": s.saml.map(|r| json!({
            "signed": r.signed, "signing_seconds": r.signing_seconds, "threads": r.threads,
            "posted": r.posted,
            "stopped_after_seconds": r.stopped.map(|s| s.0),
            "stopped_because": r.stopped.map(|s| s.1),
        })),
        "scenarios": json_rows,
        "soak": soak,
        "pg_restart": restart,
        "mix_followed": followed,
    });
    std::fs::write(
        // BENCH_JSON_NAME keeps a smoke run (`make test`) from replacing a measured run's file.
        out.join(format!(
            "{}-{backend}.json",
            std::env::var("BENCH_JSON_NAME").unwrap_or_else(|_| "load".into())
        )),
        serde_json::to_string_pretty(&body)?,
    )?;
    anyhow::ensure!(
        s.rows.iter().all(|r| r.errors == 0) && import.errors == 0,
        "some requests failed"
    );
    anyhow::ensure!(
        s.followed.is_none_or(feed::Followed::ok),
        "a follower of the change feed missed a change, got one out of order or unsigned"
    );
    anyhow::ensure!(
        s.soak.is_none_or(resilience::Soak::ok),
        "the soak had errors, fell behind its pace or lost a write"
    );
    anyhow::ensure!(
        // While PostgreSQL is away, each request is answered within the server's (default)
        // acquire timeout, plus a second of slack.
        s.restart.is_none_or(|r| {
            let timeout = gatehouse::config::DatabaseConfig::default().acquire_timeout_ms;
            r.ok(timeout as f64 / 1000.0)
        }),
        "the PostgreSQL restart was not answered 503 in SCIM's format in time, did not recover \
         within 10 s, or lost a write"
    );
    Ok(())
}
