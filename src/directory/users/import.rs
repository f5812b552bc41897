//! Bulk import: many users in one transaction, with multi-row inserts. For seeding large
//! directories (benchmarks, migrations from another system); one event records the batch.
//! Each user passes the organisation's policy first, as any created user does.

use super::{User, UserData};
use crate::directory::changes::{ChangeKind, NewChange, Subject};
use crate::directory::model::{fold_case, OrgId, UserId};
use crate::directory::orgs::conflict;
use crate::directory::policy::check::check_user;
use crate::directory::policy::Violation;
use crate::directory::{Actor, Directory, Error, Result};

/// Rows per INSERT: 100 rows of 11 values stay far inside both backends' parameter limits.
const ROWS: usize = 100;

impl Directory {
    /// Creates all the users or none: a userName already taken, or a user the
    /// organisation's policy refuses, fails the whole batch (the refusal names the user,
    /// by its place in the batch and its userName, and the attribute). Users are checked
    /// and normalised (phone numbers, the default role) before anything is written.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn import_users(
        &self,
        org: OrgId,
        users: Vec<UserData>,
        actor: &Actor,
    ) -> Result<Vec<UserId>> {
        let policy_org = self
            .org(org)
            .await?
            .ok_or(Error::NotFound("organisation"))?;
        let mut users = users;
        for (n, data) in users.iter_mut().enumerate() {
            check_user(&policy_org, data, None).map_err(|v| {
                let user = format!("user {} ({})", n + 1, data.user_name.as_str());
                Violation::new(v.kind, &v.attribute, format!("{user}: {}", v.message))
            })?;
        }
        let now = self.now();
        let ids: Vec<UserId> = users.iter().map(|_| UserId::new()).collect();
        let mut tx = self.db().begin().await?;
        for (chunk, chunk_ids) in users.chunks(ROWS).zip(ids.chunks(ROWS)) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=11).map(|c| format!("${}", r * 11 + c)).collect();
                    format!("({}, 1)", p.join(", "))
                })
                .collect();
            let sql = format!(
                "insert into users (id, org_id, user_name, user_name_key, external_id, display_name, \
                 primary_email_key, active, profile, created_at, updated_at, version) values {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (data, id) in chunk.iter().zip(chunk_ids) {
                q = q
                    .bind(id.to_string())
                    .bind(org.to_string())
                    .bind(data.user_name.as_str().to_string())
                    .bind(data.user_name.key())
                    .bind(data.external_id.clone())
                    .bind(data.profile.display_name.clone())
                    .bind(data.profile.primary_email().map(fold_case))
                    .bind(data.active as i64)
                    .bind(serde_json::to_string(&data.profile).expect("a profile serialises"))
                    // One creation time for the batch: time-ordered (v7) ids, made in order
                    // above, keep the import order as the list order.
                    .bind(now)
                    .bind(now);
            }
            q.execute(tx.conn())
                .await
                .map_err(|e| conflict(e, "users_org_user_name_key", "userName", "in this batch"))?;
            for (data, id) in chunk.iter().zip(chunk_ids) {
                for key in data.profile.email_keys() {
                    sqlx::query(
                        "insert into user_emails (org_id, user_id, value_key) values ($1, $2, $3)",
                    )
                    .bind(org.to_string())
                    .bind(id.to_string())
                    .bind(key)
                    .execute(tx.conn())
                    .await?;
                }
            }
        }
        let detail = serde_json::json!({ "count": ids.len() });
        self.record(&mut tx, Some(org), actor, "user.import", None, detail)
            .await?;
        let created: Vec<User> = users
            .into_iter()
            .zip(&ids)
            .map(|(data, id)| User {
                id: *id,
                org_id: org,
                user_name: data.user_name,
                external_id: data.external_id,
                active: data.active,
                deleted: false,
                session_epoch: 0,
                profile: data.profile,
                created_at: now,
                updated_at: now,
                version: 1,
            })
            .collect();
        let changes: Vec<NewChange> = created
            .iter()
            .map(|u| NewChange::new(ChangeKind::UserCreated, Subject::User(u)))
            .collect();
        self.append_changes(&mut tx, org, actor, &changes).await?;
        tx.commit().await?;
        Ok(ids)
    }
}
