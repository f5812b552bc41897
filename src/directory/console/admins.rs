//! Platform admins: console accounts that see every organisation.

use crate::directory::model::{AdminId, Email};
use crate::directory::orgs::conflict;
use crate::directory::{Actor, Directory, Result};

impl Directory {
    /// Creates a platform admin with an already-hashed password (see [`crate::password`]).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_admin(
        &self,
        email: &Email,
        password_hash: &str,
        actor: &Actor,
    ) -> Result<AdminId> {
        let id = AdminId::new();
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into admins (id, email, email_key, password_hash, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(email.as_str())
        .bind(email.key())
        .bind(password_hash)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, "admins_email_key", "email", email.as_str()))?;
        let detail = serde_json::json!({ "email": email });
        self.record(
            &mut tx,
            None,
            actor,
            "admin.create",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The stored password hash of an admin, by email (case-insensitive).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn admin_password_hash(&self, email: &Email) -> Result<Option<(AdminId, String)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("select id, password_hash from admins where email_key = $1")
                .bind(email.key())
                .fetch_optional(self.db().reads())
                .await?;
        row.map(|(id, hash)| Ok((crate::directory::parse_id(&id, AdminId::parse)?, hash)))
            .transpose()
    }

    /// The stored password hash of an admin, by id.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn admin_password_hash_by_id(&self, id: AdminId) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("select password_hash from admins where id = $1")
                .bind(id.to_string())
                .fetch_optional(self.db().reads())
                .await?,
        )
    }

    /// Sets an admin's password (already hashed) and ends that admin's console sessions,
    /// all but `keep` (the session of an admin changing its own password), in one
    /// transaction: a stolen session does not outlive the password that let it in.
    /// `action` is `admin.password.change` or `admin.password.reset`. The number of
    /// sessions ended; NotFound for an unknown admin.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_admin_password(
        &self,
        admin: AdminId,
        password_hash: &str,
        keep: Option<&str>,
        action: &str,
        actor: &Actor,
    ) -> Result<u64> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let updated =
            sqlx::query("update admins set password_hash = $1, updated_at = $2 where id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(admin.to_string())
                .execute(tx.conn())
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(crate::directory::Error::NotFound("admin"));
        }
        let ended = sqlx::query("delete from admin_sessions where admin_id = $1 and id_hash <> $2")
            .bind(admin.to_string())
            .bind(keep.unwrap_or(""))
            .execute(tx.conn())
            .await?
            .rows_affected();
        let detail = serde_json::json!({ "sessionsEnded": ended });
        self.record(
            &mut tx,
            None,
            actor,
            action,
            Some(admin.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}
