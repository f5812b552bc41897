//! SCIM lookup benchmark: `GET /Users?filter=userName eq "…"` against an organisation of
//! 100 users and one of BENCH_USERS (default 1,000,000), over HTTP on loopback, with
//! BENCH_CONCURRENCY connections (default 16) for BENCH_REQUESTS requests (default 5,000).
//! The point: an indexed lookup costs the same whatever the directory's size.
//!
//! `make bench` runs it on SQLite and on a throwaway PostgreSQL server (which
//! scripts/with-postgres.sh names in GATEHOUSE_TEST_DATABASE_URL). It prints a Markdown
//! table and writes the figures as JSON to target/bench/scim-lookup-<backend>.json.

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::env;
use gatehouse::clock::SystemClock;
use gatehouse::config::DatabaseUrl;
use gatehouse::directory::orgs::NewOrg;
use gatehouse::directory::users::{Profile, UserData};
use gatehouse::directory::{Actor, Directory, OrgSlug, UserName};
use gatehouse::{Application, Config};
use rand::Rng;
use serde_json::json;
use sqlx::Connection;

const IMPORT_BATCH: usize = 10_000;

struct Run {
    users: usize,
    seed_seconds: f64,
    requests: usize,
    seconds: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    errors: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --all-targets` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let big = env("BENCH_USERS", 1_000_000);
    let requests = env("BENCH_REQUESTS", 5_000);
    let concurrency = env("BENCH_CONCURRENCY", 16);
    let pg = std::env::var("GATEHOUSE_TEST_DATABASE_URL").ok();
    let backend = if pg.is_some() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir()?;
    let mut runs = Vec::new();
    for users in [100, big] {
        let url = match &pg {
            Some(server) => fresh_pg_database(server).await?,
            None => format!("sqlite://{}/bench-{users}.db", dir.path().display()),
        };
        runs.push(run(&url, users, requests, concurrency).await?);
    }
    report(backend, concurrency, &runs)
}

async fn run(url: &str, users: usize, requests: usize, concurrency: usize) -> anyhow::Result<Run> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut config = Config::default();
    config.database.url = DatabaseUrl::new(url);
    config.server.public_url = base.clone();
    config.log.filter = "warn".into();
    let app = Application::with_listener(config, listener, Arc::new(SystemClock)).await?;
    let directory = app.state().directory.clone();
    let (org, token) = seed_org(&directory, users).await?;
    let seed_started = Instant::now();
    seed_users(&directory, &org, users).await?;
    let seed_seconds = seed_started.elapsed().as_secs_f64();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let endpoint = format!("{base}/scim/v2/{org}/Users");
    // Warm the connections and the database's cache before measuring.
    lookups(
        &client,
        &endpoint,
        &token,
        users,
        concurrency * 20,
        concurrency,
    )
    .await;
    let started = Instant::now();
    let (mut latencies, errors) =
        lookups(&client, &endpoint, &token, users, requests, concurrency).await;
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Ok(Run {
        users,
        seed_seconds,
        requests,
        seconds,
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        errors,
    })
}

async fn seed_org(directory: &Directory, users: usize) -> anyhow::Result<(String, String)> {
    let slug = format!("bench{users}");
    let new = NewOrg {
        slug: OrgSlug::parse(&slug)?,
        name: None,
        domains: vec![],
    };
    let org = directory.create_org(new, &Actor::Cli).await?;
    let (_, secret) = directory
        .create_token(org.id, "bench", None, &Actor::Cli)
        .await?;
    Ok((slug, secret.0))
}

async fn seed_users(directory: &Directory, slug: &str, users: usize) -> anyhow::Result<()> {
    let org = directory.org_by_slug(slug).await?.expect("just created");
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
        directory.import_users(org.id, batch, &Actor::Cli).await?;
        next = end;
    }
    Ok(())
}

fn user_name(i: usize) -> String {
    format!("user{i:07}@bench.example")
}

/// Runs `total` lookups of random existing users over `concurrency` workers.
async fn lookups(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    users: usize,
    total: usize,
    concurrency: usize,
) -> (Vec<Duration>, usize) {
    let per_worker = total.div_ceil(concurrency);
    let workers = (0..concurrency).map(|_| {
        let client = client.clone();
        let endpoint = endpoint.to_string();
        let token = token.to_string();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            let mut errors = 0;
            for _ in 0..per_worker {
                let i = rand::rng().random_range(0..users);
                let filter = format!("userName eq \"{}\"", user_name(i));
                let started = Instant::now();
                let response = client
                    .get(&endpoint)
                    .query(&[("filter", filter)])
                    .bearer_auth(&token)
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) if r.status() == 200 => r
                        .text()
                        .await
                        .is_ok_and(|t| t.contains("\"totalResults\":1")),
                    _ => false,
                };
                latencies.push(started.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        })
    });
    let mut all = Vec::with_capacity(total);
    let mut errors = 0;
    for w in futures_util::future::join_all(workers).await {
        let (l, e) = w.expect("worker");
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

async fn fresh_pg_database(server: &str) -> anyhow::Result<String> {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(server).await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&name);
    Ok(url.to_string())
}

fn report(backend: &str, concurrency: usize, runs: &[Run]) -> anyhow::Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("\n### SCIM `userName eq` lookup on {backend}, {concurrency} connections\n");
    println!("| users in the organisation | seeding (s) | requests | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut json_runs = Vec::new();
    for r in runs {
        let rps = r.requests as f64 / r.seconds;
        println!(
            "| {} | {:.1} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.users,
            r.seed_seconds,
            r.requests,
            rps,
            ms(r.p50),
            ms(r.p95),
            ms(r.p99),
            r.errors
        );
        json_runs.push(json!({
            "users": r.users, "seed_seconds": r.seed_seconds, "requests": r.requests,
            "requests_per_second": rps, "p50_ms": ms(r.p50), "p95_ms": ms(r.p95), "p99_ms": ms(r.p99),
            "errors": r.errors,
        }));
    }
    if let [small, large] = runs {
        println!(
            "\np50 at {} users is {:.2}× p50 at {} users.",
            large.users,
            ms(large.p50) / ms(small.p50),
            small.users
        );
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out)?;
    let body = json!({"backend": backend, "concurrency": concurrency, "runs": json_runs});
    std::fs::write(
        out.join(format!("scim-lookup-{backend}.json")),
        serde_json::to_string_pretty(&body)?,
    )?;
    anyhow::ensure!(runs.iter().all(|r| r.errors == 0), "some lookups failed");
    Ok(())
}
