//! Customer admins: users who administer their own organisation in the console. A user is
//! one when a platform admin has named it, or when it is a member of the IdP group that the
//! organisation's `admin_group` setting names (pushed by SCIM or asserted at login).

use crate::directory::model::{fold_case, OrgId, UserId};
use crate::directory::orgs::OrgSettings;
use crate::directory::{parse_id, Actor, Directory, Error, Result};

impl Directory {
    /// Whether the user administers the organisation, by name or by group. The caller has
    /// the organisation's settings at hand already (they name the group).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn is_org_admin(
        &self,
        org: OrgId,
        settings: &OrgSettings,
        user: UserId,
    ) -> Result<bool> {
        let group = settings
            .admin_group
            .as_deref()
            .map(fold_case)
            .unwrap_or_default();
        let found: i64 = sqlx::query_scalar(
            "select count(*) from org_admins where org_id = $1 and user_id = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_one(self.db().reads())
        .await?;
        if found > 0 || group.is_empty() {
            return Ok(found > 0);
        }
        let in_group: i64 = sqlx::query_scalar(
            "select count(*) from group_members m join groups g \
               on g.org_id = m.org_id and g.id = m.group_id \
             where m.org_id = $1 and m.user_id = $2 and g.display_name_key = $3",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(group)
        .fetch_one(self.db().reads())
        .await?;
        Ok(in_group > 0)
    }

    /// The users a platform admin has named admins of the organisation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn named_org_admins(&self, org: OrgId) -> Result<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "select user_id from org_admins where org_id = $1 order by created_at, user_id",
        )
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?;
        ids.iter().map(|id| parse_id(id, UserId::parse)).collect()
    }

    /// Names a user an admin of its organisation, or takes that away.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn set_org_admin(
        &self,
        org: OrgId,
        user: UserId,
        admin: bool,
        actor: &Actor,
    ) -> Result<()> {
        if self.user(org, user).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query("delete from org_admins where org_id = $1 and user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .execute(tx.conn())
            .await?;
        if admin {
            sqlx::query("insert into org_admins (org_id, user_id, created_at) values ($1, $2, $3)")
                .bind(org.to_string())
                .bind(user.to_string())
                .bind(now)
                .execute(tx.conn())
                .await?;
        }
        let action = if admin { "admin.grant" } else { "admin.revoke" };
        self.record(
            &mut tx,
            Some(org),
            actor,
            action,
            Some(user.to_string()),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
