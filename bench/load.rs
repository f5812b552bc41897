//! Load generator: seeds an organisation of BENCH_USERS users (default 100,000) through the
//! library, starts the real server (`gatehouse serve`, the release binary) as a separate
//! process on that store, and drives it over HTTP with BENCH_CONCURRENCY connections
//! (default 16) for BENCH_SECONDS per scenario (default 10), in the shapes Okta sends.
//!
//! Scenarios: `lookup`, `import` (Okta's paging, first and last page timed, and one whole
//! walk), `create`, `patch`, `groups`, `mix` and `auth-check`. Each reports requests/s,
//! p50/p95/p99 latency, errors (every status is checked) and the server's RSS. Also: the
//! milliseconds from spawning the server until `/healthz` answers. Prints a Markdown table
//! and writes target/bench/load-<backend>.json. On PostgreSQL when
//! GATEHOUSE_TEST_DATABASE_URL names a server (scripts/with-postgres.sh).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::clock::SystemClock;
use gatehouse::config::DatabaseUrl;
use gatehouse::directory::orgs::NewOrg;
use gatehouse::directory::users::{Profile, UserData};
use gatehouse::directory::{Actor, Directory, OrgSlug, UserId, UserName};
use gatehouse::{Application, Config};
use rand::Rng;
use serde_json::{json, Value};
use sqlx::Connection;

const IMPORT_BATCH: usize = 10_000;
const PAGE: usize = 100;
/// Requests timed, one after another, for the import's first and last page.
const PAGE_SAMPLES: usize = 50;
const SCIM: &str = "application/scim+json; charset=utf-8";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the load needs to know about the seeded store.
struct Ctx {
    client: reqwest::Client,
    base: String,
    org: String,
    token: String,
    /// Seeded user ids, by index (user_name(i) has ids[i]).
    ids: Vec<UserId>,
    /// The first `sessions` users carry live sessions: writes leave them alone, so that a
    /// deactivation cannot end a session `auth-check` presents.
    sessions: usize,
    cookies: Vec<String>,
    group: String,
    created: AtomicUsize,
    run: String,
}

#[derive(Clone, Copy)]
enum Op {
    Lookup,
    Create,
    Put,
    /// PATCH active false, then true: two requests.
    PatchPair,
    Patch,
    /// Member add, then remove: two requests.
    GroupPair,
    GroupAdd,
    GroupRemove,
    AuthCheck,
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: usize,
    samples: Vec<String>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<(), String>) {
        self.latencies.push(started.elapsed());
        if let Err(e) = outcome {
            self.errors += 1;
            if self.samples.len() < 3 {
                self.samples.push(e);
            }
        }
    }
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
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
    let pg = std::env::var("GATEHOUSE_TEST_DATABASE_URL").ok();
    let backend = if pg.is_some() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir()?;
    let url = match &pg {
        Some(server) => fresh_pg_database(server).await?,
        None => format!("sqlite://{}/load.db", dir.path().display()),
    };
    let key_file = dir.path().join("secret.key").display().to_string();

    let seed_started = Instant::now();
    let seeded = seed(&url, &key_file, users, sessions).await?;
    let seed_seconds = seed_started.elapsed().as_secs_f64();
    eprintln!("seeded {users} users (+1,000 in a second organisation) in {seed_seconds:.1} s");

    let mut server = Server::start(&url, &key_file, dir.path())?;
    let ready_ms = server.ready_ms;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, idle_hwm) = server.memory();
    eprintln!("ready in {ready_ms:.1} ms; idle RSS {idle_rss:.1} MB");

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let group = create_group(&client, &server.base, &seeded.org, &seeded.token).await?;
    let ctx = Arc::new(Ctx {
        client,
        base: server.base.clone(),
        org: seeded.org,
        token: seeded.token,
        ids: seeded.ids,
        sessions,
        cookies: seeded.cookies,
        group,
        created: AtomicUsize::new(0),
        run: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
    });

    let duration = Duration::from_secs(seconds);
    let mut rows = Vec::new();
    let scenarios: [(&str, &[(Op, u32)]); 6] = [
        ("lookup", &[(Op::Lookup, 1)]),
        ("create", &[(Op::Create, 1)]),
        ("patch", &[(Op::PatchPair, 1)]),
        ("groups", &[(Op::GroupPair, 1)]),
        (
            "mix",
            &[
                (Op::Lookup, 40),
                (Op::Create, 15),
                (Op::Put, 15),
                (Op::Patch, 20),
                (Op::GroupAdd, 5),
                (Op::GroupRemove, 5),
            ],
        ),
        ("auth-check", &[(Op::AuthCheck, 1)]),
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
        import_run = import(&ctx, &seeded.small_org, &seeded.small_token).await;
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
        // Warm the connections and caches, then measure.
        load(&ctx, weights, concurrency, Duration::from_millis(500)).await;
        server.reset_peak();
        let started = Instant::now();
        let tally = load(&ctx, weights, concurrency, duration).await;
        let elapsed = started.elapsed().as_secs_f64();
        let (rss, hwm) = server.memory();
        let mut r = row(name, &tally, rss, hwm);
        r.seconds = elapsed;
        r.anon_mb = server.anon();
        rows.push(r);
        for s in &tally.samples {
            eprintln!("{name}: error: {s}");
        }
    }
    server.stop();
    report(
        backend,
        concurrency,
        users,
        seed_seconds,
        ready_ms,
        (idle_rss, idle_hwm),
        &import_run,
        &rows,
    )
}

struct Seeded {
    org: String,
    token: String,
    ids: Vec<UserId>,
    cookies: Vec<String>,
    small_org: String,
    small_token: String,
}

/// Seeds through the library, then closes its pool: the server is another process.
async fn seed(url: &str, key_file: &str, users: usize, sessions: usize) -> anyhow::Result<Seeded> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut config = Config::default();
    config.database.url = DatabaseUrl::new(url);
    config.secrets.key_file = key_file.into();
    config.log.filter = "warn".into();
    let lifetimes = gatehouse::session::lifetimes(&config);
    let app = Application::with_listener(config, listener, Arc::new(SystemClock)).await?;
    let directory = app.state().directory.clone();
    let (org_id, token) = seed_org(&directory, "load").await?;
    let ids = seed_users(&directory, org_id, users).await?;
    let mut cookies = Vec::with_capacity(sessions);
    for id in &ids[..sessions] {
        let user = directory.user(org_id, *id).await?.expect("just imported");
        let session = directory.create_session(org_id, &user, lifetimes).await?;
        cookies.push(session.cookie);
    }
    let (small_id, small_token) = seed_org(&directory, "load1k").await?;
    seed_users(&directory, small_id, 1_000).await?;
    drop(app);
    Ok(Seeded {
        org: "load".into(),
        token,
        ids,
        cookies,
        small_org: "load1k".into(),
        small_token,
    })
}

async fn seed_org(
    directory: &Directory,
    slug: &str,
) -> anyhow::Result<(gatehouse::directory::OrgId, String)> {
    let new = NewOrg {
        slug: OrgSlug::parse(slug)?,
        name: None,
        domains: vec![],
    };
    let org = directory.create_org(new, &Actor::Cli).await?;
    let (_, secret) = directory
        .create_token(org.id, "bench", None, &Actor::Cli)
        .await?;
    Ok((org.id, secret.0))
}

async fn seed_users(
    directory: &Directory,
    org: gatehouse::directory::OrgId,
    users: usize,
) -> anyhow::Result<Vec<UserId>> {
    let mut ids = Vec::with_capacity(users);
    let mut next = 0;
    while next < users {
        let end = (next + IMPORT_BATCH).min(users);
        let batch = (next..end)
            .map(|i| UserData {
                user_name: UserName::parse(&user_name(i)).expect("valid"),
                external_id: Some(format!("ext-{i}")),
                active: true,
                profile: Profile {
                    emails: vec![json!({"value": user_name(i), "type": "work", "primary": true})],
                    ..Profile::default()
                },
            })
            .collect();
        ids.extend(directory.import_users(org, batch, &Actor::Cli).await?);
        next = end;
    }
    Ok(ids)
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

/// Runs `weights`' operations over `concurrency` workers until `duration` has passed.
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
                run_op(&ctx, op, &mut tally).await;
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

/// A random seeded user that has no session (writes go there).
fn writable(ctx: &Ctx) -> usize {
    rand::rng().random_range(ctx.sessions..ctx.ids.len())
}

async fn run_op(ctx: &Ctx, op: Op, tally: &mut Tally) {
    let users = format!("{}/scim/v2/{}/Users", ctx.base, ctx.org);
    match op {
        Op::Lookup => {
            let i = rand::rng().random_range(0..ctx.ids.len());
            let filter = format!("userName eq \"{}\"", user_name(i));
            let started = Instant::now();
            let r = ctx
                .client
                .get(&users)
                .query(&[
                    ("filter", filter.as_str()),
                    ("startIndex", "1"),
                    ("count", "100"),
                ])
                .bearer_auth(&ctx.token)
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
            tally.record(started, expect(r, &[201], None).await);
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
        Op::GroupPair | Op::GroupAdd | Op::GroupRemove => {
            let i = writable(ctx);
            let id = ctx.ids[i].to_string();
            let url = format!("{}/scim/v2/{}/Groups/{}", ctx.base, ctx.org, ctx.group);
            let add = json!({"op": "add", "path": "members",
                "value": [{"value": id, "display": user_name(i)}]});
            let remove = json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")});
            let ops: Vec<Value> = match op {
                Op::GroupPair => vec![add, remove],
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
    }
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

#[allow(clippy::too_many_arguments)]
fn report(
    backend: &str,
    concurrency: usize,
    users: usize,
    seed_seconds: f64,
    ready_ms: f64,
    idle: (f64, f64),
    import: &Import,
    rows: &[Row],
) -> anyhow::Result<()> {
    println!("\n### Load on {backend}: {users} users, {concurrency} connections\n");
    println!("| scenario | requests | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors | server RSS after (MB) | peak RSS during (MB) | anonymous RSS after (MB) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut json_rows = Vec::new();
    for r in rows {
        let rps = r.requests as f64 / r.seconds;
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.1} | {:.1} |",
            r.name, r.requests, rps, r.p50, r.p95, r.p99, r.errors, r.rss_mb, r.hwm_mb, r.anon_mb
        );
        json_rows.push(json!({
            "scenario": r.name, "requests": r.requests, "seconds": r.seconds,
            "requests_per_second": rps, "p50_ms": r.p50, "p95_ms": r.p95, "p99_ms": r.p99,
            "errors": r.errors, "rss_mb": r.rss_mb, "peak_rss_mb": r.hwm_mb, "anon_rss_mb": r.anon_mb,
        }));
    }
    println!(
        "\nImport (p50 of {PAGE_SAMPLES} requests each, count={PAGE}): page 1 at 1,000 users {:.2} ms; \
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
    println!(
        "Ready to serve: {ready_ms:.1} ms from spawn to /healthz. Idle RSS {:.1} MB (peak so far {:.1} MB). \
         Seeding: {seed_seconds:.1} s.",
        idle.0, idle.1
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out)?;
    let body = json!({
        "backend": backend, "users": users, "concurrency": concurrency,
        "seed_seconds": seed_seconds, "ready_ms": ready_ms,
        "idle_rss_mb": idle.0, "idle_peak_rss_mb": idle.1,
        "import": {
            "first_page_1k_ms": import.first_small_ms, "first_page_ms": import.first_ms,
            "last_page_ms": import.last_ms, "walk_seconds": import.walk_seconds,
            "pages": import.pages, "errors": import.errors,
        },
        "scenarios": json_rows,
    });
    std::fs::write(
        out.join(format!("load-{backend}.json")),
        serde_json::to_string_pretty(&body)?,
    )?;
    anyhow::ensure!(
        rows.iter().all(|r| r.errors == 0) && import.errors == 0,
        "some requests failed"
    );
    Ok(())
}
