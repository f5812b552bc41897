//! The database handle: one pool on sqlx's `Any` driver, so that every query is written once
//! and runs on SQLite and PostgreSQL alike (portable types only: TEXT ids, BIGINT times and
//! 0/1 flags). Backend differences live in the two migration folders and nowhere else.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::DatabaseConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool and what it needs to write safely.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    // SQLite allows one writer at a time. Taking turns here, before BEGIN, keeps this
    // process's writers from failing each other with SQLITE_BUSY when a deferred
    // transaction upgrades to a write lock; the busy timeout still covers other processes.
    writer: Option<Arc<Mutex<()>>>,
}

/// A write transaction. On SQLite it also holds this process's writer turn.
///
/// One dropped without a commit (an early `?` return after a write) is rolled back before
/// the turn is given up: otherwise SQLite keeps its write lock until the connection is next
/// used, and the next writer, whose transaction began with a read, fails at once with
/// "database is locked" (SQLite cannot make it wait).
pub struct WriteTx {
    tx: Option<Transaction<'static, Any>>,
    turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.tx
            .as_mut()
            .expect("a transaction until commit or rollback")
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let tx = self
            .tx
            .take()
            .expect("a transaction until commit or rollback");
        tx.commit().await
    }

    /// Undoes the transaction now, before the writer turn is given up.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let tx = self
            .tx
            .take()
            .expect("a transaction until commit or rollback");
        tx.rollback().await
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let (Some(tx), turn) = (self.tx.take(), self.turn.take()) else {
            return;
        };
        // The turn goes with the task, and is given up once the rollback has run.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "rolling back an abandoned transaction failed");
                }
                drop(turn);
            });
        }
    }
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
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed during a write; FULL sync makes every
                        // commit durable; foreign keys are off by default in SQLite.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute(&*format!("PRAGMA busy_timeout = {busy_timeout_ms}"))
                            .await?;
                        // Reads through a memory map shared by every connection, and a
                        // larger page cache, keep an indexed lookup in a large directory
                        // off the read() system call path.
                        conn.execute("PRAGMA mmap_size = 1073741824").await?;
                        conn.execute("PRAGMA cache_size = -16000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to {}", config.url))?;
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self {
            pool,
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

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = match &self.writer {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        };
        Ok(WriteTx {
            tx: Some(self.pool.begin().await?),
            turn,
        })
    }

    /// Whether the database answers; for `/readyz`.
    pub async fn ping(&self) -> bool {
        let check = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), check).await,
            Ok(Ok(_))
        )
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
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
}
