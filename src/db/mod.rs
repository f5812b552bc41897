//! The database handle: one pool on sqlx's `Any` driver, so that every query is written once
//! and runs on SQLite and PostgreSQL alike (portable types only: TEXT ids, BIGINT times and
//! 0/1 flags). Backend differences live in the two migration folders and nowhere else.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::config::DatabaseConfig;

mod reads;

pub use reads::{Reads, UNCHECKED_IDLE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connections, and what they need to write safely.
#[derive(Clone)]
pub struct Db {
    /// sqlx's pool, for the migrations (and tests); every statement of the server runs on
    /// a connection of [`Reads`], or on SQLite's writer.
    pool: AnyPool,
    reads: Reads,
    backend: Backend,
    /// SQLite's writes, on a connection of their own (see [`Writer`]); None on PostgreSQL.
    writer: Option<Arc<Writer>>,
}

/// SQLite allows one writer at a time, and with `synchronous = FULL` every commit waits for
/// the disk. So this process writes through one connection, in turns, and commits in
/// groups: the writers that queue while a transaction is open run their own transactions
/// as savepoints inside it, and one COMMIT (one sync) makes the whole group durable. Each
/// writer returns only once the COMMIT that holds its work has succeeded, so a write is
/// still durable before it is answered; a writer that fails or gives up rolls back to its
/// savepoint and leaves the others' work alone.
///
/// A writer that succeeds leaves its savepoint open rather than releasing it: savepoints
/// nest, a later writer's ROLLBACK TO reaches back only to its own (the most recent of the
/// name), and the COMMIT releases them all. That is one round trip to SQLite's thread
/// fewer for every write, which is what the single writer spends its time on.
///
/// Taking turns in the process also keeps its writers from failing each other with
/// SQLITE_BUSY; the busy timeout still covers other processes (the CLI).
struct Writer {
    state: Arc<Mutex<WriterState>>,
}

struct WriterState {
    conn: AnyConnection,
    /// The transaction open on `conn`, if any: the group the next writer joins.
    group: Option<Arc<Group>>,
}

/// One group commit: how it ended, set once by the writer that commits it.
#[derive(Default)]
struct Group {
    outcome: OnceLock<Result<(), String>>,
}

const SAVEPOINT: &str = "SAVEPOINT gatehouse_write";
const BEGIN_GROUP: &str = "BEGIN IMMEDIATE; SAVEPOINT gatehouse_write";
const RELEASE: &str = "RELEASE gatehouse_write";
const UNDO: &str = "ROLLBACK TO gatehouse_write";

/// A write transaction: on PostgreSQL a transaction on a leased connection ([`Reads`]); on
/// SQLite a savepoint in the group transaction of [`Writer`], holding the writer's turn
/// until commit or rollback.
///
/// One dropped without a commit (an early `?` return after a write) is rolled back before
/// the turn is given up, so the next writer never sees its half-done work.
pub struct WriteTx {
    inner: Option<Inner>,
    /// Rung once the transaction has committed: those waiting for what it wrote (a long
    /// poll of the change feed) look again.
    bell: Option<Arc<Notify>>,
}

enum Inner {
    /// BEGIN has run on the lease's connection.
    Leased(reads::Lease),
    Grouped {
        turn: OwnedMutexGuard<WriterState>,
        group: Arc<Group>,
        writer: Arc<Mutex<WriterState>>,
    },
}

impl WriteTx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        match self
            .inner
            .as_mut()
            .expect("a transaction until commit or rollback")
        {
            Inner::Leased(lease) => lease.conn(),
            Inner::Grouped { turn, .. } => &mut turn.conn,
        }
    }

    /// Rings `bell` once the transaction has committed (never when it rolls back).
    pub fn ring_on_commit(&mut self, bell: Arc<Notify>) {
        self.bell = Some(bell);
    }

    /// Makes the transaction durable; on SQLite, returns once its group has committed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let bell = self.bell.take();
        let done = match self
            .inner
            .take()
            .expect("a transaction until commit or rollback")
        {
            Inner::Leased(lease) => run_to_end(end_leased(lease, "COMMIT")).await,
            Inner::Grouped {
                turn,
                group,
                writer,
            } => run_to_end(release_and_commit(turn, group, writer)).await,
        };
        if let (Ok(()), Some(bell)) = (&done, bell) {
            bell.notify_waiters();
        }
        done
    }

    /// Rolls back a transaction that failed with `err`, and gives `err` back. Where the
    /// failure may be a conflict with a concurrent write (a unique key taken), use this
    /// rather than dropping the transaction: on SQLite it also waits until the writes
    /// grouped before this one have committed, so that the caller's next read sees the row
    /// it conflicted with. The transaction must not be used afterwards.
    pub async fn fail<E>(&mut self, err: E) -> E {
        if let Some(inner) = self.inner.take() {
            if let Err(e) = (WriteTx {
                inner: Some(inner),
                bell: None,
            })
            .rollback()
            .await
            {
                tracing::warn!(error = %e, "rolling back a failed transaction failed");
            }
        }
        err
    }

    /// Undoes the transaction now, before the writer turn is given up.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        match self
            .inner
            .take()
            .expect("a transaction until commit or rollback")
        {
            Inner::Leased(lease) => run_to_end(end_leased(lease, "ROLLBACK")).await,
            Inner::Grouped {
                turn,
                group,
                writer,
            } => run_to_end(undo_and_commit(turn, group, writer)).await,
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        // The turn goes with the task, and is given up once the rollback has run.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let result = match inner {
                    Inner::Leased(lease) => end_leased(lease, "ROLLBACK").await,
                    Inner::Grouped {
                        turn,
                        group,
                        writer,
                    } => undo_and_commit(turn, group, writer).await,
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "rolling back an abandoned transaction failed");
                }
            });
        }
    }
}

/// Ends a PostgreSQL transaction with `statement` (COMMIT or ROLLBACK). If that fails for
/// want of the connection, the connection goes with the lease rather than back.
async fn end_leased(mut lease: reads::Lease, statement: &'static str) -> Result<(), sqlx::Error> {
    let result = lease.conn().execute(statement).await.map(drop);
    lease.keep_if_sound(&result);
    result
}

/// Rolls the writer's savepoint back and releases it: its work is gone, the group's stays.
///
/// If the savepoint is gone, SQLite has rolled back the whole transaction itself (it does
/// on some errors: a full disk, an I/O error), and with it the group's other writes. The
/// group then ends here as failed, without a COMMIT: the next writer begins a new group
/// rather than a savepoint outside any transaction, which SQLite would commit on its own.
async fn undo(turn: &mut WriterState, group: &Group) {
    if let Err(e) = turn.conn.execute(UNDO).await {
        tracing::warn!(error = %e, "a write's savepoint is gone: its group is rolled back");
        let _ = group
            .outcome
            .set(Err(format!("the database rolled the group back: {e}")));
        turn.group = None;
        return;
    }
    if let Err(e) = turn.conn.execute(RELEASE).await {
        tracing::warn!(error = %e, "releasing an undone savepoint failed");
    }
}

/// Runs the end of a grouped write as a task of its own: a request given up halfway (a
/// client that went away) must not leave the group's transaction open, holding SQLite's
/// write lock and the other writers' work.
async fn run_to_end(
    end: impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'static,
) -> Result<(), sqlx::Error> {
    tokio::spawn(end)
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("ending a write stopped: {e}")))?
}

/// Gives up the turn with the writer's savepoint still open (see [`Writer`]) and waits for
/// the group's COMMIT.
async fn release_and_commit(
    turn: OwnedMutexGuard<WriterState>,
    group: Arc<Group>,
    writer: Arc<Mutex<WriterState>>,
) -> Result<(), sqlx::Error> {
    drop(turn);
    commit_group(writer, group).await
}

/// Undoes this writer's work; the group still commits, for the others' work in it.
async fn undo_and_commit(
    mut turn: OwnedMutexGuard<WriterState>,
    group: Arc<Group>,
    writer: Arc<Mutex<WriterState>>,
) -> Result<(), sqlx::Error> {
    undo(&mut turn, &group).await;
    drop(turn);
    let _ = commit_group(writer, group).await;
    Ok(())
}

/// Waits for the writer's turn again, then: if another writer of the group has committed it,
/// that outcome is this writer's; otherwise every writer that queued meanwhile has had its
/// turn (the lock is fair), and this one commits the group.
async fn commit_group(
    writer: Arc<Mutex<WriterState>>,
    group: Arc<Group>,
) -> Result<(), sqlx::Error> {
    let mut turn = writer.lock_owned().await;
    if let Some(outcome) = group.outcome.get() {
        return outcome.clone().map_err(sqlx::Error::Protocol);
    }
    let result = turn.conn.execute("COMMIT").await.map(drop);
    if result.is_err() {
        let _ = turn.conn.execute("ROLLBACK").await;
    }
    let _ = group.outcome.set(
        result
            .as_ref()
            .map(|_| ())
            .map_err(|e| format!("the group commit failed: {e}")),
    );
    turn.group = None;
    result
}

impl Db {
    /// Connects to the configured database, creating a SQLite file and its folder if needed.
    pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = config.url.expose();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database URL {}", config.url))?;
        let busy_timeout_ms = config.busy_timeout_ms;
        let acquire_timeout = Duration::from_millis(config.acquire_timeout_ms.max(1));
        // Its first connection checks the URL on PostgreSQL; SQLite's writer does there.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move { set_up(conn, backend, busy_timeout_ms).await })
            });
        let pool = match backend {
            Backend::Postgres => pool.connect_with(options.clone()).await,
            Backend::Sqlite => Ok(pool.connect_lazy_with(options.clone())),
        }
        .with_context(|| format!("cannot connect to {}", config.url))?;
        let reads = Reads::new(
            options.clone(),
            backend,
            config.max_connections,
            acquire_timeout,
            busy_timeout_ms,
            reads::Limits::default(),
        );
        let writer = match backend {
            Backend::Sqlite => {
                let mut conn = AnyConnection::connect_with(&options)
                    .await
                    .with_context(|| format!("cannot connect to {}", config.url))?;
                set_up(&mut conn, backend, busy_timeout_ms).await?;
                // The savepoints a group leaves open keep their pages' old copies until its
                // COMMIT; in memory, rather than spilled to a temporary file past 64 KB.
                conn.execute("PRAGMA temp_store = MEMORY").await?;
                Some(Arc::new(Writer {
                    state: Arc::new(Mutex::new(WriterState { conn, group: None })),
                }))
            }
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            reads,
            backend,
            writer,
        })
    }

    /// Applies the migrations that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let result = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await,
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await
            }
        };
        result.context("applying migrations")
    }

    /// sqlx's pool, of one connection, for what needs a pool (migrations); statements use
    /// [`Db::reads`] or [`Db::begin`].
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where statements outside a write transaction run.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction. On SQLite it waits for the writer's turn and joins the
    /// open group transaction, or begins one.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        // A task of its own, so that a caller given up halfway leaves no open transaction
        // behind (nor a connection given back inside one): the WriteTx is then dropped,
        // and rolls back.
        let begun = match &self.writer {
            None => tokio::spawn(begin_leased(self.reads.clone())).await,
            Some(writer) => tokio::spawn(join_group(writer.state.clone())).await,
        };
        begun.map_err(|e| sqlx::Error::Protocol(format!("starting a write stopped: {e}")))?
    }

    /// Whether the database answers; for `/readyz`.
    pub async fn ping(&self) -> bool {
        let check = sqlx::query("SELECT 1").execute(&self.reads);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), check).await,
            Ok(Ok(_))
        )
    }

    pub async fn close(&self) {
        self.reads.close().await;
        self.pool.close().await;
    }
}

/// Leases a PostgreSQL connection and begins a transaction on it.
async fn begin_leased(reads: Reads) -> Result<WriteTx, sqlx::Error> {
    let mut lease = reads.lease().await?;
    let begun = lease.conn().execute("BEGIN").await.map(drop);
    lease.keep_if_sound(&begun);
    begun?;
    Ok(WriteTx {
        inner: Some(Inner::Leased(lease)),
        bell: None,
    })
}

/// Takes the writer's turn and opens a savepoint in the group transaction, beginning one
/// when none is open.
async fn join_group(writer: Arc<Mutex<WriterState>>) -> Result<WriteTx, sqlx::Error> {
    let mut turn = writer.clone().lock_owned().await;
    let group = match &turn.group {
        Some(group) => {
            let group = group.clone();
            if let Err(e) = turn.conn.execute(SAVEPOINT).await {
                drop(turn);
                let _ = commit_group(writer, group).await;
                return Err(e);
            }
            group
        }
        None => {
            // IMMEDIATE takes the write lock now, waiting out other processes' writes (busy
            // timeout), rather than failing at the first write of a read-first transaction.
            // The first savepoint goes in the same call (SQLite runs both); if either
            // failed, nothing of the group is kept.
            if let Err(e) = turn.conn.execute(BEGIN_GROUP).await {
                let _ = turn.conn.execute("ROLLBACK").await;
                return Err(e);
            }
            let group = Arc::new(Group::default());
            turn.group = Some(group.clone());
            group
        }
    };
    Ok(WriteTx {
        inner: Some(Inner::Grouped {
            turn,
            group,
            writer,
        }),
        bell: None,
    })
}

/// Settings every connection gets.
async fn set_up(
    conn: &mut AnyConnection,
    backend: Backend,
    busy_timeout_ms: u64,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        // WAL lets readers proceed during a write; FULL sync makes every commit durable;
        // foreign keys are off by default in SQLite.
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = FULL").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        conn.execute(&*format!("PRAGMA busy_timeout = {busy_timeout_ms}"))
            .await?;
        // Reads through a memory map shared by every connection, and a larger page cache,
        // keep an indexed lookup in a large directory off the read() system call path.
        conn.execute("PRAGMA mmap_size = 1073741824").await?;
        conn.execute("PRAGMA cache_size = -16000").await?;
    }
    Ok(())
}

/// Makes sure the folder of a SQLite file exists and asks the driver to create the file.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!("database.url must name a SQLite file, e.g. sqlite://data/gatehouse.db");
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// `$first, $first+1, …` for `n` parameters: the list inside `in (…)` when a statement
/// binds a batch of values after `first - 1` fixed ones.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an error says the connection is gone: its socket broke, or PostgreSQL ended it
/// or will not take it yet (SQLSTATE class 08, connection exception, and 57P01-57P03:
/// admin shutdown, crash shutdown, cannot connect now).
pub fn connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Whether an error is the violation of the unique constraint or index named `name`.
/// Both migration sets spell constraint names out, so one name serves both backends.
pub fn violates(err: &sqlx::Error, name: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.constraint() == Some(name)
                // SQLite reports no constraint name, only the columns, in its message:
                // "UNIQUE constraint failed: users.org_id, users.user_name_key". Its
                // indexes are named after the constraint, so the message is matched on
                // the columns listed for that name in UNIQUE_COLUMNS.
                || sqlite_unique_columns(name).is_some_and(|cols| db.message().ends_with(cols))
        }
        _ => false,
    }
}

/// The column list SQLite prints for each named unique constraint.
fn sqlite_unique_columns(name: &str) -> Option<&'static str> {
    UNIQUE_COLUMNS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, cols)| *cols)
}

const UNIQUE_COLUMNS: &[(&str, &str)] = &[
    ("orgs_slug_key", "orgs.slug"),
    ("org_domains_pkey", "org_domains.domain"),
    (
        "users_org_user_name_key",
        "users.org_id, users.user_name_key",
    ),
    (
        "groups_org_display_name_key",
        "groups.org_id, groups.display_name_key",
    ),
    (
        "identities_connection_subject_key",
        "identities.connection_id, identities.subject",
    ),
    ("scim_tokens_hash_key", "scim_tokens.token_hash"),
    ("admins_email_key", "admins.email_key"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_gets_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/g.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", file.display())).unwrap();
        assert!(url.ends_with("g.db?mode=rwc"), "{url}");
        assert!(dir.path().join("sub").is_dir());
        let url = prepare_sqlite_url(&format!("sqlite://{}?mode=ro", file.display())).unwrap();
        assert!(url.ends_with("?mode=ro"), "{url}");
    }

    #[test]
    fn memory_databases_are_refused() {
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
    }

    /// `.cargo/config.toml` builds SQLite without its memory statistics, whose one mutex
    /// every allocation of every connection's thread would otherwise take.
    #[tokio::test]
    async fn sqlite_is_built_without_memory_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DatabaseConfig {
            url: crate::config::DatabaseUrl::new(format!("sqlite://{}/m.db", dir.path().display())),
            ..DatabaseConfig::default()
        })
        .await
        .unwrap();
        let options: Vec<String> =
            sqlx::query_scalar("select compile_options from pragma_compile_options")
                .fetch_all(db.reads())
                .await
                .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }
}
