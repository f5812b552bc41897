//! What the console and the admin API do with users beyond SCIM: search them with keyset
//! paging (fast at any depth), list a user's linked identities, and erase a user for good.

use serde::Serialize;

use super::{user_from_row, User, USER_COLUMNS};
use crate::clock::Millis;
use crate::directory::changes::{ChangeKind, NewChange, Subject};
use crate::directory::model::{fold_case, like_contains, OrgId, UserId};
use crate::directory::policy::lifecycle::Erasure;
use crate::directory::{Actor, Directory, Error, Result};

/// Which users to list: a search text, a status, and where the previous page ended.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    /// Matched, case-insensitively, inside the userName, the primary email and the display
    /// name.
    pub text: Option<String>,
    /// Some(true): active users only; Some(false): deactivated ones only.
    pub active: Option<bool>,
    /// The userName key of the last user on the previous page (the cursor).
    pub after: Option<String>,
    pub limit: u32,
}

/// An IdP subject linked to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedIdentity {
    pub connection_id: String,
    pub subject: String,
    pub created_at: Millis,
}

impl Directory {
    /// A page of an organisation's users (soft-deleted ones left out), in userName order.
    /// The page starts after a userName key, so reading page 1,000 costs what page 1 does.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn search_users(&self, org: OrgId, search: &UserSearch) -> Result<Vec<User>> {
        let text = search
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| like_contains(&fold_case(t)));
        let active = match search.active {
            None => -1,
            Some(a) => i64::from(a),
        };
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users \
             where org_id = $1 and deleted_at is null and user_name_key > $2 \
               and ($3 = -1 or active = $3) \
               and ($4 = '' or user_name_key like $4 escape '\\' \
                    or primary_email_key like $4 escape '\\' \
                    or lower(display_name) like $4 escape '\\') \
             order by user_name_key limit $5"
        ))
        .bind(org.to_string())
        .bind(search.after.clone().unwrap_or_default())
        .bind(active)
        .bind(text.unwrap_or_default())
        .bind(i64::from(search.limit.clamp(1, 500)))
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// The IdP subjects linked to a user.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn user_identities(&self, org: OrgId, user: UserId) -> Result<Vec<LinkedIdentity>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select connection_id, subject, created_at from identities \
             where org_id = $1 and user_id = $2 order by created_at, connection_id",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_all(self.db().reads())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(connection_id, subject, created_at)| LinkedIdentity {
                connection_id,
                subject,
                created_at,
            })
            .collect())
    }

    /// Ends every session of a user, end-user and console alike, without deactivating it:
    /// the epoch moves on, so a session on any server is dead on its next request.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn sign_out_everywhere(&self, org: OrgId, id: UserId, actor: &Actor) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let done = sqlx::query(
            "update users set session_epoch = session_epoch + 1 where org_id = $1 and id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        for table in ["sessions", "admin_sessions"] {
            sqlx::query(&format!(
                "delete from {table} where org_id = $1 and user_id = $2"
            ))
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        }
        self.record(
            &mut tx,
            Some(org),
            actor,
            "user.sign_out",
            Some(id.to_string()),
            serde_json::json!({}),
        )
        .await?;
        let change = NewChange::new(ChangeKind::SessionRevoked, Subject::Sessions(id))
            .because("signed out everywhere");
        self.append_changes(&mut tx, org, actor, &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Erases a user for good, in one transaction: the user, its identity links, group
    /// memberships (the groups' versions move on), sessions and console sessions go. The
    /// event log keeps that it happened, by id.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn erase_user(&self, org: OrgId, id: UserId, actor: &Actor) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("select id from users where org_id = $1 and id = $2")
                .bind(org.to_string())
                .bind(id.to_string())
                .fetch_optional(tx.conn())
                .await?;
        if exists.is_none() {
            return Err(Error::NotFound("user"));
        }
        self.erase_in(&mut tx, org, id, actor, Erasure::ByAdmin)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
