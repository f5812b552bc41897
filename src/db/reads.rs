//! Statements outside any write transaction: the reads of every request.
//!
//! On PostgreSQL they go through sqlx's pool. On SQLite they go through connections leased
//! here instead, because sqlx's pool checks a connection with a ping when it hands it out
//! and again when it takes it back, and on SQLite each ping is a round trip to the
//! connection's worker thread: three hops for a one-statement read instead of one
//! (`one-statement` in BENCHMARKS.md). A SQLite connection is a file opened in this
//! process, with no server at the other end to hang up, so there is nothing for the pings
//! to find; a connection whose worker has stopped is dropped instead of taken back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Describe, Either, Execute, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Where reads run: use `&Reads` as a sqlx executor.
#[derive(Clone, Debug)]
pub struct Reads(Source);

#[derive(Clone, Debug)]
enum Source {
    Pool(AnyPool),
    Leased(Arc<Leases>),
}

/// SQLite's read connections: at most `permits` leased at once, the idle ones kept.
pub(super) struct Leases {
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
    options: AnyConnectOptions,
    busy_timeout_ms: u64,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// A leased connection, given back when dropped unless its worker has stopped.
struct Lease {
    conn: Option<AnyConnection>,
    leases: Arc<Leases>,
    _permit: OwnedSemaphorePermit,
}

impl Reads {
    pub(super) fn pool(pool: AnyPool) -> Self {
        Self(Source::Pool(pool))
    }

    pub(super) fn leased(
        options: AnyConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
        busy_timeout_ms: u64,
    ) -> Self {
        Self(Source::Leased(Arc::new(Leases {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_connections.max(1) as usize)),
            acquire_timeout,
            options,
            busy_timeout_ms,
        })))
    }

    /// Closes the idle connections; leases asked for afterwards fail with `PoolClosed`.
    pub(super) async fn close(&self) {
        match &self.0 {
            Source::Pool(pool) => pool.close().await,
            Source::Leased(leases) => {
                leases.permits.close();
                let idle = std::mem::take(&mut *leases.idle.lock().expect("idle connections"));
                for conn in idle {
                    let _ = conn.close().await;
                }
            }
        }
    }
}

impl Leases {
    async fn lease(self: &Arc<Self>) -> Result<Lease, sqlx::Error> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().expect("idle connections").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let mut conn = AnyConnection::connect_with(&self.options).await?;
                super::set_up(&mut conn, super::Backend::Sqlite, self.busy_timeout_ms).await?;
                conn
            }
        };
        Ok(Lease {
            conn: Some(conn),
            leases: self.clone(),
            _permit: permit,
        })
    }
}

impl Lease {
    fn conn(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }

    /// Drops the connection instead of giving it back, if `result` says its worker stopped.
    fn keep_if_sound<T>(&mut self, result: &Result<T, sqlx::Error>) {
        if matches!(result, Err(sqlx::Error::WorkerCrashed | sqlx::Error::Io(_))) {
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
                    .push(conn);
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
        match &self.0 {
            Source::Pool(pool) => {
                let pool = pool.clone();
                (&pool).fetch_many(query)
            }
            // Every caller reads whole results (fetch_all, fetch_one, execute), so the
            // results are collected on the lease and streamed from memory.
            Source::Leased(leases) => {
                let leases = leases.clone();
                futures_util::stream::once(async move {
                    let mut lease = leases.lease().await?;
                    let results: Result<Vec<_>, _> =
                        lease.conn().fetch_many(query).try_collect().await;
                    lease.keep_if_sound(&results);
                    results.map(|all| futures_util::stream::iter(all.into_iter().map(Ok)))
                })
                .try_flatten()
                .boxed()
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'r: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match &self.0 {
            Source::Pool(pool) => {
                let pool = pool.clone();
                (&pool).fetch_optional(query)
            }
            Source::Leased(leases) => {
                let leases = leases.clone();
                Box::pin(async move {
                    let mut lease = leases.lease().await?;
                    let result = lease.conn().fetch_optional(query).await;
                    lease.keep_if_sound(&result);
                    result
                })
            }
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'r: 'e,
    {
        match &self.0 {
            Source::Pool(pool) => {
                let pool = pool.clone();
                (&pool).prepare_with(sql, parameters)
            }
            Source::Leased(leases) => {
                let leases = leases.clone();
                Box::pin(async move {
                    let mut lease = leases.lease().await?;
                    let result = lease.conn().prepare_with(sql, parameters).await;
                    lease.keep_if_sound(&result);
                    result
                })
            }
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'r: 'e,
    {
        match &self.0 {
            Source::Pool(pool) => {
                let pool = pool.clone();
                (&pool).describe(sql)
            }
            Source::Leased(leases) => {
                let leases = leases.clone();
                Box::pin(async move {
                    let mut lease = leases.lease().await?;
                    let result = lease.conn().describe(sql).await;
                    lease.keep_if_sound(&result);
                    result
                })
            }
        }
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
        match &reads.0 {
            Source::Leased(leases) => leases,
            Source::Pool(_) => panic!("SQLite reads are leased"),
        }
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
