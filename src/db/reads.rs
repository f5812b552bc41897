//! The connections every statement runs on but SQLite's writes (which have a connection
//! of their own, `Writer`), leased and taken back by this module rather than by sqlx's
//! pool: the reads on both databases, and PostgreSQL's write transactions.
//!
//! sqlx's pool pings a connection when it hands it out and again when it takes it back.
//! On SQLite each ping is a round trip to the connection's worker thread, on PostgreSQL a
//! round trip to the server: a one-statement read paid for three. Here a SQLite connection
//! is never pinged (it is a file opened in this process, with no server at the other end to
//! hang up), and a PostgreSQL one only when it has sat idle for [`UNCHECKED_IDLE`] or more,
//! as every one has once the server has restarted: one given back moments ago was working
//! then. A connection whose statement failed for want of the connection (its worker
//! stopped, its socket broke) is dropped instead of taken back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyConnection, Connection, Describe, Either, Execute, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Backend;

/// How long a PostgreSQL connection may sit idle and still be handed out unchecked.
pub const UNCHECKED_IDLE: Duration = Duration::from_millis(50);

/// When a connection is closed rather than used again (sqlx's pool's defaults): one idle
/// this long is not needed, and one open this long is renewed, so that a server's caches
/// for a session and a proxy's idea of it never grow old.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub idle: Duration,
    pub lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(10 * 60),
            lifetime: Duration::from_secs(30 * 60),
        }
    }
}

/// A connection not leased, with when it was opened and when it was given back.
struct Idle {
    conn: AnyConnection,
    opened: Instant,
    since: Instant,
}

/// Where statements outside a write transaction run: use `&Reads` as a sqlx executor.
#[derive(Clone, Debug)]
pub struct Reads(Arc<Leases>);

/// The connections: at most `permits` leased at once, the idle ones kept (the most recently
/// given back on top).
pub(super) struct Leases {
    idle: Mutex<Vec<Idle>>,
    limits: Limits,
    /// How many connections have been opened, for the tests.
    opened: std::sync::atomic::AtomicUsize,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
    options: AnyConnectOptions,
    backend: Backend,
    busy_timeout_ms: u64,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("backend", &self.backend)
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// A leased connection, given back when dropped unless it has been found broken.
pub(super) struct Lease {
    conn: Option<AnyConnection>,
    opened: Instant,
    leases: Arc<Leases>,
    _permit: OwnedSemaphorePermit,
}

impl Reads {
    pub(super) fn new(
        options: AnyConnectOptions,
        backend: Backend,
        max_connections: u32,
        acquire_timeout: Duration,
        busy_timeout_ms: u64,
        limits: Limits,
    ) -> Self {
        Self(Arc::new(Leases {
            idle: Mutex::new(Vec::new()),
            limits,
            opened: Default::default(),
            permits: Arc::new(Semaphore::new(max_connections.max(1) as usize)),
            acquire_timeout,
            options,
            backend,
            busy_timeout_ms,
        }))
    }

    /// A connection of one's own until the lease is dropped: a write transaction's.
    pub(super) async fn lease(&self) -> Result<Lease, sqlx::Error> {
        self.0.lease().await
    }

    /// Closes the idle connections; leases asked for afterwards fail with `PoolClosed`.
    pub(super) async fn close(&self) {
        self.0.permits.close();
        let idle = std::mem::take(&mut *self.0.idle.lock().expect("idle connections"));
        for entry in idle {
            let _ = entry.conn.close().await;
        }
    }
}

impl Leases {
    /// Waits for a permit, then takes an idle connection (checked first if it has been
    /// idle long on PostgreSQL) or opens one; all of it within the acquire timeout.
    async fn lease(self: &Arc<Self>) -> Result<Lease, sqlx::Error> {
        tokio::time::timeout(self.acquire_timeout, self.lease_now())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    async fn lease_now(self: &Arc<Self>) -> Result<Lease, sqlx::Error> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let (conn, opened) = loop {
            let idle = self.idle.lock().expect("idle connections").pop();
            let Some(Idle {
                mut conn,
                opened,
                since,
            }) = idle
            else {
                break (self.open().await?, Instant::now());
            };
            if self.expired(opened, since, Instant::now()) {
                close_later(conn);
                continue;
            }
            if self.backend == Backend::Sqlite || since.elapsed() < UNCHECKED_IDLE {
                break (conn, opened);
            }
            match conn.ping().await {
                Ok(()) => break (conn, opened),
                Err(e) => tracing::info!(error = %e, "an idle connection was found broken"),
            }
        };
        Ok(Lease {
            conn: Some(conn),
            opened,
            leases: self.clone(),
            _permit: permit,
        })
    }

    async fn open(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut conn = AnyConnection::connect_with(&self.options).await?;
        super::set_up(&mut conn, self.backend, self.busy_timeout_ms).await?;
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(conn)
    }

    /// Whether a connection opened at `opened` and idle since `since` is past its limits
    /// at `now` (one reading of the clock for a whole give-back).
    fn expired(&self, opened: Instant, since: Instant, now: Instant) -> bool {
        now.duration_since(opened) >= self.limits.lifetime
            || now.duration_since(since) >= self.limits.idle
    }

    /// Gives a connection back, and closes those that have waited past their limits
    /// (the oldest lie at the bottom, where a busy server's leases never reach).
    fn give_back(&self, conn: AnyConnection, opened: Instant) {
        let now = Instant::now();
        let mut idle = self.idle.lock().expect("idle connections");
        let mut i = 0;
        while i < idle.len() {
            if self.expired(idle[i].opened, idle[i].since, now) {
                close_later(idle.remove(i).conn);
            } else {
                i += 1;
            }
        }
        if self.expired(opened, now, now) {
            close_later(conn);
        } else {
            idle.push(Idle {
                conn,
                opened,
                since: now,
            });
        }
    }
}

impl Lease {
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }

    /// Drops the connection instead of giving it back, if `result` says it is broken.
    pub(super) fn keep_if_sound<T>(&mut self, result: &Result<T, sqlx::Error>) {
        let broken = match result {
            Err(sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_)) => true,
            Err(e) => super::connection_lost(e),
            Ok(_) => false,
        };
        if broken {
            self.conn = None;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.leases.permits.is_closed() {
                self.leases.give_back(conn, self.opened);
            }
        }
    }
}

/// Closes a connection politely (PostgreSQL is told, rather than finding a dropped
/// socket), in a task of its own.
fn close_later(conn: AnyConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = conn.close().await;
        });
    }
}

impl<'r> Executor<'r> for &'_ Reads {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'r: 'e,
        E: 'q + Execute<'q, Any>,
    {
        // Every caller reads whole results (fetch_all, fetch_one, execute), so they are
        // collected on the lease and streamed from memory: no lease outlives its call.
        let leases = self.0.clone();
        futures_util::stream::once(async move {
            let mut lease = leases.lease().await?;
            let results: Result<Vec<_>, _> = lease.conn().fetch_many(query).try_collect().await;
            lease.keep_if_sound(&results);
            results.map(|all| futures_util::stream::iter(all.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'r: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let leases = self.0.clone();
        Box::pin(async move {
            let mut lease = leases.lease().await?;
            let result = lease.conn().fetch_optional(query).await;
            lease.keep_if_sound(&result);
            result
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'r: 'e,
    {
        let leases = self.0.clone();
        Box::pin(async move {
            let mut lease = leases.lease().await?;
            let result = lease.conn().prepare_with(sql, parameters).await;
            lease.keep_if_sound(&result);
            result
        })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'r: 'e,
    {
        let leases = self.0.clone();
        Box::pin(async move {
            let mut lease = leases.lease().await?;
            let result = lease.conn().describe(sql).await;
            lease.keep_if_sound(&result);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseConfig, DatabaseUrl};

    async fn sqlite(
        max_connections: u32,
        acquire_timeout_ms: u64,
    ) -> (tempfile::TempDir, super::super::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::Db::connect(&DatabaseConfig {
            url: DatabaseUrl::new(format!("sqlite://{}/r.db", dir.path().display())),
            max_connections,
            acquire_timeout_ms,
            ..DatabaseConfig::default()
        })
        .await
        .unwrap();
        (dir, db)
    }

    fn leases(reads: &Reads) -> &Arc<Leases> {
        &reads.0
    }

    fn idle(reads: &Reads) -> usize {
        leases(reads).idle.lock().unwrap().len()
    }

    async fn one(reads: &Reads) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("select 1").fetch_one(reads).await
    }

    #[tokio::test]
    async fn reads_take_back_their_connections_and_open_no_more_than_they_need() {
        let (_dir, db) = sqlite(4, 1_000).await;
        for _ in 0..10 {
            assert_eq!(one(db.reads()).await.unwrap(), 1);
        }
        assert_eq!(
            idle(db.reads()),
            1,
            "one read at a time needs one connection"
        );
        let rows: Vec<i64> = sqlx::query_scalar("select 1 union all select 2")
            .fetch_all(db.reads())
            .await
            .unwrap();
        assert_eq!(rows, [1, 2], "whole results come back through the lease");
        let many = futures_util::future::join_all((0..16).map(|_| one(db.reads()))).await;
        assert!(many.iter().all(|r| matches!(r, Ok(1))));
        assert!(idle(db.reads()) <= 4, "never more than max_connections");
    }

    #[tokio::test]
    async fn a_read_waits_for_a_connection_no_longer_than_the_acquire_timeout() {
        let (_dir, db) = sqlite(1, 50).await;
        let held = leases(db.reads()).lease().await.unwrap();
        assert!(matches!(
            one(db.reads()).await,
            Err(sqlx::Error::PoolTimedOut)
        ));
        drop(held);
        assert_eq!(
            one(db.reads()).await.unwrap(),
            1,
            "free again once given back"
        );
    }

    #[tokio::test]
    async fn a_connection_whose_worker_stopped_is_not_taken_back() {
        let (_dir, db) = sqlite(2, 1_000).await;
        let mut lease = leases(db.reads()).lease().await.unwrap();
        lease.keep_if_sound::<()>(&Err(sqlx::Error::WorkerCrashed));
        drop(lease);
        assert_eq!(idle(db.reads()), 0);
        let mut lease = leases(db.reads()).lease().await.unwrap();
        lease.keep_if_sound::<()>(&Err(sqlx::Error::RowNotFound));
        drop(lease);
        assert_eq!(
            idle(db.reads()),
            1,
            "a statement's own error leaves the connection sound"
        );
    }

    /// Reads on a SQLite file of their own, with the given limits.
    fn limited(dir: &tempfile::TempDir, limits: Limits) -> Reads {
        use std::str::FromStr;
        sqlx::any::install_default_drivers();
        let url =
            super::super::prepare_sqlite_url(&format!("sqlite://{}/l.db", dir.path().display()))
                .unwrap();
        let options = AnyConnectOptions::from_str(&url).unwrap();
        Reads::new(
            options,
            Backend::Sqlite,
            2,
            Duration::from_secs(1),
            1_000,
            limits,
        )
    }

    fn opened(reads: &Reads) -> usize {
        reads.0.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_connection_idle_past_its_limit_is_closed_and_a_new_one_opened() {
        let dir = tempfile::tempdir().unwrap();
        let reads = limited(
            &dir,
            Limits {
                idle: Duration::from_millis(500),
                lifetime: Duration::from_secs(60),
            },
        );
        one(&reads).await.unwrap();
        one(&reads).await.unwrap();
        assert_eq!(opened(&reads), 1, "reused while fresh");
        tokio::time::sleep(Duration::from_millis(700)).await;
        one(&reads).await.unwrap();
        assert_eq!(
            opened(&reads),
            2,
            "an idle one past its limit is not used again"
        );
        assert_eq!(idle(&reads), 1, "and not kept");
    }

    #[tokio::test]
    async fn a_connection_open_past_its_lifetime_is_renewed_though_always_busy() {
        let dir = tempfile::tempdir().unwrap();
        let reads = limited(
            &dir,
            Limits {
                idle: Duration::from_secs(60),
                lifetime: Duration::from_secs(1),
            },
        );
        let start = std::time::Instant::now();
        for _ in 0..5 {
            one(&reads).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(opened(&reads), 1, "one connection while it is young");
        tokio::time::sleep_until((start + Duration::from_millis(1_200)).into()).await;
        one(&reads).await.unwrap();
        assert_eq!(opened(&reads), 2, "renewed once its lifetime is over");
        assert_eq!(idle(&reads), 1);
    }

    #[tokio::test]
    async fn closed_reads_refuse_and_keep_nothing_open() {
        let (_dir, db) = sqlite(2, 1_000).await;
        one(db.reads()).await.unwrap();
        db.close().await;
        assert_eq!(idle(db.reads()), 0);
        assert!(matches!(
            one(db.reads()).await,
            Err(sqlx::Error::PoolClosed)
        ));
    }
}
