//! Console password sign-in throttling: failures are counted per email (known to be an
//! admin's or not, so the answer never tells which emails exist), and too many within the
//! window lock that email for a while. The count lives in the database, so every server
//! sharing it enforces the same lock.

use crate::clock::Millis;
use crate::directory::{Directory, Result};

/// How failures are counted and how long a lock lasts.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub window_ms: Millis,
}

impl Directory {
    /// Until when an email is locked, if it is now.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login_locked_until(&self, email_key: &str) -> Result<Option<Millis>> {
        let until: Option<i64> = sqlx::query_scalar(
            "select locked_until from admin_login_failures where email_key = $1",
        )
        .bind(email_key)
        .fetch_optional(self.db().reads())
        .await?;
        Ok(until.filter(|u| *u > self.now()))
    }

    /// Counts a failed sign-in; returns until when the email is now locked, if this failure
    /// locked it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login_failed(
        &self,
        email_key: &str,
        policy: LockoutPolicy,
    ) -> Result<Option<Millis>> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "select failures, first_at from admin_login_failures where email_key = $1",
        )
        .bind(email_key)
        .fetch_optional(tx.conn())
        .await?;
        // A window that has passed starts counting again from this failure.
        let (failures, first_at) = match row {
            Some((n, first)) if now < first + policy.window_ms => (n + 1, first),
            _ => (1, now),
        };
        let locked_until = if failures >= i64::from(policy.max_failures.max(1)) {
            now + policy.window_ms
        } else {
            0
        };
        sqlx::query("delete from admin_login_failures where email_key = $1")
            .bind(email_key)
            .execute(tx.conn())
            .await?;
        // A lock starts a fresh window: the next failures after it count from zero.
        let (failures, first_at) = if locked_until > 0 {
            (0, now)
        } else {
            (failures, first_at)
        };
        sqlx::query(
            "insert into admin_login_failures (email_key, failures, first_at, locked_until) \
             values ($1, $2, $3, $4)",
        )
        .bind(email_key)
        .bind(failures)
        .bind(first_at)
        .bind(locked_until)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok((locked_until > 0).then_some(locked_until))
    }

    /// Forgets an email's failures after a successful sign-in.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login_succeeded(&self, email_key: &str) -> Result<()> {
        let mut tx = self.db().begin().await?;
        sqlx::query("delete from admin_login_failures where email_key = $1")
            .bind(email_key)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets failure counts whose window and lock are both over (an address spraying
    /// many emails would otherwise leave a row for each).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sweep_login_failures(&self, policy: LockoutPolicy) -> Result<u64> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let done = sqlx::query(
            "delete from admin_login_failures where locked_until <= $1 and first_at <= $2",
        )
        .bind(now)
        .bind(now - policy.window_ms)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
