//! Platform admins: console accounts that see every organisation.

use super::model::{AdminId, Email};
use super::orgs::conflict;
use super::{Actor, Directory, Result};

impl Directory {
    /// Creates a platform admin with an already-hashed password (see [`crate::password`]).
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
    pub async fn admin_password_hash(&self, email: &Email) -> Result<Option<(AdminId, String)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("select id, password_hash from admins where email_key = $1")
                .bind(email.key())
                .fetch_optional(self.db().pool())
                .await?;
        row.map(|(id, hash)| Ok((super::parse_id(&id, AdminId::parse)?, hash)))
            .transpose()
    }
}
