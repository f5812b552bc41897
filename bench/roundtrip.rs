//! What a SQLite statement costs the server beyond its own work: the same requests run
//! through the server's database layer (`gatehouse::db::Db`: sqlx, which runs every
//! statement on a worker thread of its connection, and the group-committing writer), and
//! through SQLite called directly (rusqlite) on threads that each take a whole request's
//! statements in one hop. Same file, same settings (WAL, `synchronous = FULL`, memory map,
//! page cache), same row counts.
//!
//! Two requests, each run by BENCH_CONCURRENCY tasks (default 16) on a 2-thread runtime for
//! BENCH_SECONDS (default 5):
//! - `read`: three point reads by key, the statements of a SCIM lookup (organisation and
//!   token, the user, its groups);
//! - `write`: one transaction of a read, an update and an insert (a user write and its
//!   event), committed durably; concurrent writers share commits in both designs.
//!
//! `cargo bench --bench roundtrip` prints a Markdown table (BENCHMARKS.md, "Statement round
//! trips") and writes it as JSON to target/bench/roundtrip.json (with BENCH_JSON_NAME,
//! `<name>-roundtrip.json`).

#[path = "common.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{env, process_cpu_ms};
use gatehouse::config::{DatabaseConfig, DatabaseUrl};
use gatehouse::db::Db;
use tokio::sync::oneshot;

const ROWS: i64 = 100_000;
/// Reader threads (and pooled connections) for the direct design, as the server's pool.
const READERS: usize = 16;

fn key(i: i64) -> String {
    format!("user-{i:08}")
}

fn random_row() -> i64 {
    rand::random_range(0..ROWS)
}

/// The server's statements, through the server's database layer.
async fn sqlx_read(db: &Db) {
    for _ in 0..3 {
        let body: Option<String> = sqlx::query_scalar("select body from rows where key = $1")
            .bind(key(random_row()))
            .fetch_optional(db.reads())
            .await
            .expect("read");
        assert!(body.is_some());
    }
}

async fn sqlx_write(db: &Db, n: i64) {
    let mut tx = db.begin().await.expect("begin");
    let k = key(random_row());
    let version: i64 = sqlx::query_scalar("select version from rows where key = $1")
        .bind(&k)
        .fetch_one(tx.conn())
        .await
        .expect("read");
    sqlx::query("update rows set version = $1, body = $2 where key = $3")
        .bind(version + 1)
        .bind(format!("{{\"n\":{n}}}"))
        .bind(&k)
        .execute(tx.conn())
        .await
        .expect("update");
    sqlx::query("insert into row_events (key, at) values ($1, $2)")
        .bind(&k)
        .bind(n)
        .execute(tx.conn())
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
}

type Job = Box<dyn FnOnce(&rusqlite::Connection) + Send>;

/// SQLite called directly: each thread owns a connection and runs whole requests, sent to it
/// as closures; the writer runs the writes that queue while it works in one transaction (a
/// savepoint each) and answers them after its one COMMIT, as the server's writer does.
struct Direct {
    readers: Vec<mpsc::Sender<Job>>,
    next: AtomicUsize,
    writer: mpsc::Sender<(Job, oneshot::Sender<()>)>,
}

fn open(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; \
         PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16000; PRAGMA temp_store = MEMORY;",
    )
    .expect("pragmas");
    conn
}

impl Direct {
    fn start(path: &std::path::Path) -> Direct {
        let readers = (0..READERS)
            .map(|_| {
                let (tx, rx) = mpsc::channel::<Job>();
                let conn = open(path);
                std::thread::spawn(move || {
                    for job in rx {
                        job(&conn);
                    }
                });
                tx
            })
            .collect();
        let (writer, rx) = mpsc::channel::<(Job, oneshot::Sender<()>)>();
        let conn = open(path);
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                group.extend(rx.try_iter().take(255));
                conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
                let mut done = Vec::with_capacity(group.len());
                for (job, reply) in group {
                    conn.execute_batch("SAVEPOINT w").expect("savepoint");
                    job(&conn);
                    conn.execute_batch("RELEASE w").expect("release");
                    done.push(reply);
                }
                conn.execute_batch("COMMIT").expect("commit");
                for reply in done {
                    let _ = reply.send(());
                }
            }
        });
        Direct {
            readers,
            next: AtomicUsize::new(0),
            writer,
        }
    }

    async fn read(&self) {
        let (done, answer) = oneshot::channel();
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i]
            .send(Box::new(move |conn| {
                let mut stmt = conn
                    .prepare_cached("select body from rows where key = ?1")
                    .expect("prepare");
                for _ in 0..3 {
                    let body: Option<String> =
                        stmt.query_row([key(random_row())], |r| r.get(0)).ok();
                    assert!(body.is_some());
                }
                let _ = done.send(());
            }))
            .expect("reader");
        answer.await.expect("read answered");
    }

    async fn write(&self, n: i64) {
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let k = key(random_row());
            let version: i64 = conn
                .prepare_cached("select version from rows where key = ?1")
                .expect("prepare")
                .query_row([&k], |r| r.get(0))
                .expect("read");
            conn.prepare_cached("update rows set version = ?1, body = ?2 where key = ?3")
                .expect("prepare")
                .execute(rusqlite::params![version + 1, format!("{{\"n\":{n}}}"), k])
                .expect("update");
            conn.prepare_cached("insert into row_events (key, at) values (?1, ?2)")
                .expect("prepare")
                .execute(rusqlite::params![k, n])
                .expect("insert");
        });
        self.writer.send((job, done)).expect("writer");
        answer.await.expect("write answered");
    }
}

struct Figure {
    design: &'static str,
    request: &'static str,
    requests: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    cpu_ms_per_request: f64,
}

async fn measure<F, Fut>(
    design: &'static str,
    request: &'static str,
    concurrency: usize,
    seconds: u64,
    run: F,
) -> Figure
where
    F: Fn(i64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let warm_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm_until {
        run(0).await;
    }
    let cpu_before = process_cpu_ms("self");
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicUsize::new(1));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let run = run.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let n = counter.fetch_add(1, Ordering::Relaxed) as i64;
                    let t = Instant::now();
                    run(n).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_ms("self") - cpu_before;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figure {
        design,
        request,
        requests: latencies.len(),
        seconds: elapsed,
        p50: at(0.50),
        p99: at(0.99),
        cpu_ms_per_request: cpu / latencies.len() as f64,
    }
}

async fn seed(db: &Db) {
    let mut conn = db.pool().acquire().await.expect("connection");
    sqlx::query(
        "create table rows (key text primary key, version integer not null, body text not null)",
    )
    .execute(&mut *conn)
    .await
    .expect("create rows");
    sqlx::query(
        "create table row_events (n integer primary key, key text not null, at integer not null)",
    )
    .execute(&mut *conn)
    .await
    .expect("create row_events");
    sqlx::query(
        "with recursive n(i) as (select 0 union all select i + 1 from n where i < $1) \
         insert into rows (key, version, body) \
         select printf('user-%08d', i), 1, printf('{\"name\":\"user %d\",\"emails\":[]}', i) from n",
    )
    .bind(ROWS - 1)
    .execute(&mut *conn)
    .await
    .expect("seed rows");
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let concurrency = env("BENCH_CONCURRENCY", 16);
    let seconds = env("BENCH_SECONDS", 5) as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let figures = runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("roundtrip.db");
        let db = Arc::new(
            Db::connect(&DatabaseConfig {
                url: DatabaseUrl::new(format!("sqlite://{}", path.display())),
                max_connections: READERS as u32,
                ..DatabaseConfig::default()
            })
            .await
            .expect("connect"),
        );
        seed(&db).await;
        let direct = Arc::new(Direct::start(&path));
        let mut figures = Vec::new();
        let d = db.clone();
        figures.push(
            measure(
                "sqlx (the server's)",
                "read",
                concurrency,
                seconds,
                move |_| {
                    let d = d.clone();
                    async move { sqlx_read(&d).await }
                },
            )
            .await,
        );
        let r = direct.clone();
        figures.push(
            measure("direct, one hop", "read", concurrency, seconds, move |_| {
                let r = r.clone();
                async move { r.read().await }
            })
            .await,
        );
        let d = db.clone();
        figures.push(
            measure(
                "sqlx (the server's)",
                "write",
                concurrency,
                seconds,
                move |n| {
                    let d = d.clone();
                    async move { sqlx_write(&d, n).await }
                },
            )
            .await,
        );
        let r = direct.clone();
        figures.push(
            measure("direct, one hop", "write", concurrency, seconds, move |n| {
                let r = r.clone();
                async move { r.write(n).await }
            })
            .await,
        );
        db.close().await;
        figures
    });
    print(&figures, concurrency);
}

fn print(figures: &[Figure], concurrency: usize) {
    println!("\n{concurrency} concurrent tasks, 2 runtime threads, {ROWS} rows, durable commits\n");
    println!("| request | design | requests/s | p50 (ms) | p99 (ms) | CPU per request (ms) |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut json = Vec::new();
    for f in figures {
        let rate = f.requests as f64 / f.seconds;
        println!(
            "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} |",
            f.request,
            f.design,
            rate,
            f.p50.as_secs_f64() * 1000.0,
            f.p99.as_secs_f64() * 1000.0,
            f.cpu_ms_per_request
        );
        json.push(serde_json::json!({
            "request": f.request, "design": f.design, "requests_per_second": rate,
            "p50_ms": f.p50.as_secs_f64() * 1000.0, "p99_ms": f.p99.as_secs_f64() * 1000.0,
            "cpu_ms_per_request": f.cpu_ms_per_request,
        }));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    // BENCH_JSON_NAME keeps a smoke run (`make test`) from replacing a measured run's file.
    let name = match std::env::var("BENCH_JSON_NAME") {
        Ok(prefix) => format!("{prefix}-roundtrip.json"),
        Err(_) => "roundtrip.json".into(),
    };
    std::fs::write(
        out.join(name),
        serde_json::to_string_pretty(&json).expect("json"),
    )
    .expect("write roundtrip.json");
}
