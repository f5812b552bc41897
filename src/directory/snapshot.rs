//! The snapshot behind `GET /api/v1/orgs/{slug}/snapshot`: every live user and every group
//! of an organisation, in pages by id, for an app that starts from nothing and then follows
//! the change feed.

use super::groups::{group_from_row, Group, GROUP_COLUMNS};
use super::model::{GroupId, OrgId, UserId};
use super::users::{user_from_row, User, USER_COLUMNS};
use super::{Directory, Result};

impl Directory {
    /// Live users (not soft-deleted) with an id after `after`, in id order.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn snapshot_users(
        &self,
        org: OrgId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and deleted_at is null \
             and id > $2 order by id limit $3"
        ))
        .bind(org.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// Groups with an id after `after`, in id order.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn snapshot_groups(
        &self,
        org: OrgId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>> {
        let rows = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups where org_id = $1 and id > $2 \
             order by id limit $3"
        ))
        .bind(org.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(group_from_row).collect()
    }
}
