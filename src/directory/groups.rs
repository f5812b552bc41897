//! Groups and their memberships. SCIM pushes them and logins name them; both reach the same
//! group through its case-insensitive displayName.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::model::{fold_case, GroupId, OrgId, UserId};
use super::orgs::conflict;
use super::{parse_id, Actor, Directory, Error, Result};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Ids that are not live users of the organisation are left out.
    pub members: Vec<UserId>,
}

const GROUP_COLUMNS: &str =
    "id, org_id, display_name, external_id, created_at, updated_at, version";

impl Directory {
    /// Creates a group with its first members.
    pub async fn create_group(&self, org: OrgId, new: NewGroup, actor: &Actor) -> Result<Group> {
        let display_name = new.display_name.trim();
        if display_name.is_empty() {
            return Err(Error::Invalid(super::ParseError(
                "displayName must not be empty".into(),
            )));
        }
        let id = GroupId::new();
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into groups (id, org_id, display_name, display_name_key, external_id, \
             created_at, updated_at, version) values ($1, $2, $3, $4, $5, $6, $6, 1)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(&new.display_name)
        .bind(fold_case(&new.display_name))
        .bind(&new.external_id)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| {
            conflict(
                e,
                "groups_org_display_name_key",
                "displayName",
                &new.display_name,
            )
        })?;
        let mut added = Vec::new();
        for member in &new.members {
            // Only live users of this organisation can be members: the select finds none
            // for an unknown id, a deleted user or another organisation's user.
            let inserted = sqlx::query(
                "insert into group_members (org_id, group_id, user_id, created_at) \
                 select org_id, $1, id, $2 from users \
                 where org_id = $3 and id = $4 and deleted_at is null",
            )
            .bind(id.to_string())
            .bind(now)
            .bind(org.to_string())
            .bind(member.to_string())
            .execute(tx.conn())
            .await?;
            if inserted.rows_affected() == 1 {
                added.push(member.to_string());
            }
        }
        let detail = serde_json::json!({ "displayName": new.display_name, "membersAdded": added });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "group.create",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Group {
            id,
            org_id: org,
            display_name: new.display_name,
            external_id: new.external_id,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    pub async fn group(&self, org: OrgId, id: GroupId) -> Result<Option<Group>> {
        let row = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups where org_id = $1 and id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(self.db().pool())
        .await?;
        row.map(group_from_row).transpose()
    }

    /// A group by displayName, compared case-insensitively.
    pub async fn group_by_display_name(&self, org: OrgId, name: &str) -> Result<Option<Group>> {
        let row = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups where org_id = $1 and display_name_key = $2"
        ))
        .bind(org.to_string())
        .bind(fold_case(name))
        .fetch_optional(self.db().pool())
        .await?;
        row.map(group_from_row).transpose()
    }

    /// The ids of a group's members.
    pub async fn group_member_ids(&self, org: OrgId, id: GroupId) -> Result<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "select user_id from group_members where org_id = $1 and group_id = $2 order by user_id",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_all(self.db().pool())
        .await?;
        ids.iter().map(|s| parse_id(s, UserId::parse)).collect()
    }

    /// The groups a user is a direct member of, by displayName.
    pub async fn user_groups(&self, org: OrgId, user: UserId) -> Result<Vec<Group>> {
        let rows = sqlx::query(
            "select g.id, g.org_id, g.display_name, g.external_id, g.created_at, g.updated_at, \
             g.version from group_members m join groups g on g.org_id = m.org_id and g.id = m.group_id \
             where m.org_id = $1 and m.user_id = $2 order by g.display_name_key",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_all(self.db().pool())
        .await?;
        rows.into_iter().map(group_from_row).collect()
    }
}

fn group_from_row(row: AnyRow) -> Result<Group> {
    Ok(Group {
        id: parse_id(&row.try_get::<String, _>("id")?, GroupId::parse)?,
        org_id: parse_id(&row.try_get::<String, _>("org_id")?, OrgId::parse)?,
        display_name: row.try_get("display_name")?,
        external_id: row.try_get("external_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
    })
}
