//! The connections every statement runs on, leased and taken back by this module rather
//! than by sqlx's pool.
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

/// Where statements outside a write transaction run: use `&Reads` as a sqlx executor.
#[derive(Clone, Debug)]
pub struct Reads(Arc<Leases>);

/// The connections: at most `permits` leased at once, the idle ones kept with the time
/// they were given back.
pub(super) struct Leases {
    idle: Mutex<Vec<(AnyConnection, Instant)>>,
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
    ) -> Self {
        Self(Arc::new(Leases {
            idle: Mutex::new(Vec::new()),
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
        for (conn, _) in idle {
            let _ = conn.close().await;
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
        let conn = loop {
            let idle = self.idle.lock().expect("idle connections").pop();
            let Some((mut conn, since)) = idle else {
                break self.open().await?;
            };
            if self.backend == Backend::Sqlite || since.elapsed() < UNCHECKED_IDLE {
                break conn;
            }
            match conn.ping().await {
                Ok(()) => break conn,
                Err(e) => tracing::info!(error = %e, "an idle connection was found broken"),
            }
        };
        Ok(Lease {
            conn: Some(conn),
            leases: self.clone(),
            _permit: permit,
        })
    }

    async fn open(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut conn = AnyConnection::connect_with(&self.options).await?;
        super::set_up(&mut conn, self.backend, self.busy_timeout_ms).await?;
        Ok(conn)
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
            Err(sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) => true,
            // SQLSTATE class 08 (connection exception) and 57P01-57P03: PostgreSQL ended
            // the connection (a shutdown, a terminated backend) or will not take it yet.
            Err(sqlx::Error::Database(e)) => e
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
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
                self.leases
                    .idle
                    .lock()
                    .expect("idle connections")
                    .push((conn, Instant::now()));
            }
        }
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
