//! Identity links: which user an IdP's subject on one connection is. Logins look here first,
//! before matching by userName or email, so a renamed user keeps its account.

use super::lists::in_default_order;
use super::{user_from_row, User, USER_COLUMNS};
use crate::db::{placeholders, WriteTx};
use crate::directory::model::{fold_case, OrgId, UserId};
use crate::directory::orgs::conflict;
use crate::directory::{parse_id, Actor, Directory, Result};

impl Directory {
    /// The user linked to `subject` on `connection`, if any.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn linked_user(
        &self,
        org: OrgId,
        connection: &str,
        subject: &str,
    ) -> Result<Option<UserId>> {
        let id: Option<String> = sqlx::query_scalar(
            "select user_id from identities where org_id = $1 and connection_id = $2 and subject = $3",
        )
        .bind(org.to_string())
        .bind(connection)
        .bind(subject)
        .fetch_optional(self.db().reads())
        .await?;
        id.map(|s| parse_id(&s, UserId::parse)).transpose()
    }

    /// Links `subject` on `connection` to a user of the same organisation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn link_identity(
        &self,
        org: OrgId,
        connection: &str,
        subject: &str,
        user: UserId,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.db().begin().await?;
        self.link_identity_in(&mut tx, org, (connection, subject), user, actor)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Links `(connection, subject)` to `user` inside the caller's transaction. A link the
    /// subject already has is a conflict (the transaction is then rolled back).
    pub(in crate::directory) async fn link_identity_in(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        (connection, subject): (&str, &str),
        user: UserId,
        actor: &Actor,
    ) -> Result<()> {
        let inserted = sqlx::query(
            "insert into identities (org_id, connection_id, subject, user_id, created_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(org.to_string())
        .bind(connection)
        .bind(subject)
        .bind(user.to_string())
        .bind(self.now())
        .execute(tx.conn())
        .await;
        if let Err(e) = inserted {
            let err = conflict(e, "identities_connection_subject_key", "subject", subject);
            return Err(tx.fail(err).await);
        }
        let detail = serde_json::json!({ "connection": connection, "subject": subject });
        self.record(
            tx,
            Some(org),
            actor,
            "identity.link",
            Some(user.to_string()),
            detail,
        )
        .await
    }
}

/// The user linked to `subject` on `connection`, if any, with its link in one statement,
/// inside a sign-in's transaction (every returning sign-in starts here).
pub(in crate::directory) async fn linked_user_in(
    tx: &mut WriteTx,
    org: OrgId,
    connection: &str,
    subject: &str,
) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "select {USER_COLUMNS} from users where org_id = $1 and id = ( \
           select user_id from identities \
           where org_id = $1 and connection_id = $2 and subject = $3)"
    ))
    .bind(org.to_string())
    .bind(connection)
    .bind(subject)
    .fetch_optional(tx.conn())
    .await?;
    row.map(user_from_row).transpose()
}

/// The users a login may be: those whose userName or any stored email equals one of
/// `names`, case-insensitively, soft-deleted ones included. Both are index lookups
/// (`users_org_user_name_key`, `user_emails_lookup_idx`).
pub(in crate::directory) async fn users_matching(
    tx: &mut WriteTx,
    org: OrgId,
    names: &[&str],
) -> Result<Vec<User>> {
    let mut keys: Vec<String> = names.iter().map(|n| fold_case(n.trim())).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let list = placeholders(2, keys.len());
    let sql = format!(
        "select {USER_COLUMNS} from users where org_id = $1 and id in ( \
           select id from users where org_id = $1 and user_name_key in ({list}) \
           union select user_id from user_emails where org_id = $1 and value_key in ({list}))"
    );
    let mut query = sqlx::query(&sql).bind(org.to_string());
    for key in &keys {
        query = query.bind(key);
    }
    in_default_order(query.fetch_all(tx.conn()).await?)
}
