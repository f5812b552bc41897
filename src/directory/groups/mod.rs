//! Groups and their memberships. SCIM pushes them and logins name them; both reach the same
//! group through its case-insensitive displayName.

pub mod login_groups;
pub mod members;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::FromRow;

use crate::clock::Millis;
use crate::db::WriteTx;
use crate::directory::changes::{ChangeKind, NewChange, Subject};
use crate::directory::model::{fold_case, GroupId, OrgId, ParseError, UserId};
use crate::directory::orgs::conflict;
use crate::directory::{parse_id, Actor, Directory, Error, Result};
use members::{MemberChanges, MemberOp, MemberRef};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// A member as stored: the user and the `display` the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub id: UserId,
    pub display: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Ids that are not live users of the organisation are left out (and recorded).
    pub members: Vec<MemberRef>,
}

/// A change to a group: the fields to set, then the membership operations, in order.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    pub members: Vec<MemberOp>,
}

/// An indexed equality for group lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    DisplayName(String),
    ExternalId(String),
    Id(GroupId),
    Member(UserId),
}

pub(in crate::directory) const GROUP_COLUMNS: &str =
    "id, org_id, display_name, external_id, created_at, updated_at, version";

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::Invalid(ParseError(
            "displayName must not be empty".into(),
        )));
    }
    Ok(())
}

impl Directory {
    /// Creates a group with its first members.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn create_group(
        &self,
        org: OrgId,
        new: NewGroup,
        actor: &Actor,
    ) -> Result<(Group, MemberChanges)> {
        check_name(&new.display_name)?;
        let id = GroupId::new();
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let inserted = sqlx::query(
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
        .await;
        if let Err(e) = inserted {
            let name = &new.display_name;
            let err = conflict(e, "groups_org_display_name_key", "displayName", name);
            return Err(tx.fail(err).await);
        }
        let changes = self
            .apply_member_ops(&mut tx, org, id, &[MemberOp::Add(new.members)])
            .await?;
        let detail = serde_json::json!({
            "displayName": new.display_name,
            "membersAdded": changes.added,
            "membersIgnored": changes.ignored,
        });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "group.create",
            Some(id.to_string()),
            detail,
        )
        .await?;
        let group = group_in(&mut tx, org, id)
            .await?
            .ok_or(Error::NotFound("group"))?;
        let mut feed = vec![NewChange::new(
            ChangeKind::GroupCreated,
            Subject::Group(&group),
        )];
        if !changes.added.is_empty() {
            let added = Subject::Members(&group, &changes.added);
            feed.push(NewChange::new(ChangeKind::GroupMemberAdded, added));
        }
        self.append_changes(&mut tx, org, actor, &feed).await?;
        tx.commit().await?;
        Ok((group, changes))
    }

    /// Changes a group in one transaction. The group's row is written first, which takes its
    /// lock: concurrent changes to one group queue up instead of overwriting each other.
    /// `if_version` fails the change with `PreconditionFailed` when the group has moved on.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn update_group(
        &self,
        org: OrgId,
        id: GroupId,
        update: GroupUpdate,
        if_version: Option<i64>,
        actor: &Actor,
    ) -> Result<(Group, MemberChanges)> {
        if let Some(name) = &update.display_name {
            check_name(name)?;
        }
        let mut tx = self.db().begin().await?;
        // What the group was called, to tell whether the update renamed it; only read
        // when the update names those attributes (a member change alone does not).
        let before = if update.display_name.is_some() || update.external_id.is_some() {
            group_in(&mut tx, org, id).await?
        } else {
            None
        };
        let (set_external, external) = match &update.external_id {
            Some(value) => (1i64, value.clone()),
            None => (0, None),
        };
        let updated = sqlx::query(
            "update groups set \
               display_name = coalesce($1, display_name), \
               display_name_key = coalesce($2, display_name_key), \
               external_id = case when $3 = 1 then $4 else external_id end, \
               updated_at = $5, version = version + 1 \
             where org_id = $6 and id = $7 and ($8 = 0 or version = $9)",
        )
        .bind(update.display_name.clone())
        .bind(update.display_name.as_deref().map(fold_case))
        .bind(set_external)
        .bind(external)
        .bind(self.now())
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(i64::from(if_version.is_some()))
        .bind(if_version.unwrap_or(0))
        .execute(tx.conn())
        .await;
        let updated = match updated {
            Ok(updated) => updated,
            Err(e) => {
                let name = update.display_name.as_deref().unwrap_or_default();
                let err = conflict(e, "groups_org_display_name_key", "displayName", name);
                return Err(tx.fail(err).await);
            }
        };
        if updated.rows_affected() == 0 {
            return Err(match (group_in(&mut tx, org, id).await?, if_version) {
                (Some(_), Some(v)) => Error::PreconditionFailed {
                    expected: v.to_string(),
                },
                _ => Error::NotFound("group"),
            });
        }
        let changes = self
            .apply_member_ops(&mut tx, org, id, &update.members)
            .await?;
        let mut detail = serde_json::json!({
            "membersAdded": changes.added,
            "membersRemoved": changes.removed,
            "membersIgnored": changes.ignored,
        });
        if let Some(name) = &update.display_name {
            detail["displayName"] = name.as_str().into();
        }
        self.record(
            &mut tx,
            Some(org),
            actor,
            "group.update",
            Some(id.to_string()),
            detail,
        )
        .await?;
        let group = group_in(&mut tx, org, id)
            .await?
            .ok_or(Error::NotFound("group"))?;
        let renamed = before.is_some_and(|b| {
            b.display_name != group.display_name || b.external_id != group.external_id
        });
        let mut feed = Vec::new();
        if renamed {
            feed.push(NewChange::new(
                ChangeKind::GroupUpdated,
                Subject::Group(&group),
            ));
        }
        if !changes.added.is_empty() {
            let added = Subject::Members(&group, &changes.added);
            feed.push(NewChange::new(ChangeKind::GroupMemberAdded, added));
        }
        if !changes.removed.is_empty() {
            let removed = Subject::Members(&group, &changes.removed);
            feed.push(NewChange::new(ChangeKind::GroupMemberRemoved, removed));
        }
        self.append_changes(&mut tx, org, actor, &feed).await?;
        tx.commit().await?;
        Ok((group, changes))
    }

    /// Deletes a group and its memberships; the users stay.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn delete_group(
        &self,
        org: OrgId,
        id: GroupId,
        if_version: Option<i64>,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let current = group_in(&mut tx, org, id)
            .await?
            .ok_or(Error::NotFound("group"))?;
        if let Some(v) = if_version.filter(|v| *v != current.version) {
            return Err(Error::PreconditionFailed {
                expected: v.to_string(),
            });
        }
        sqlx::query("delete from groups where org_id = $1 and id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        let detail = serde_json::json!({ "displayName": current.display_name });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "group.delete",
            Some(id.to_string()),
            detail,
        )
        .await?;
        let change = NewChange::new(ChangeKind::GroupDeleted, Subject::Group(&current));
        self.append_changes(&mut tx, org, actor, &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn group(&self, org: OrgId, id: GroupId) -> Result<Option<Group>> {
        let row = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups where org_id = $1 and id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(self.db().reads())
        .await?;
        row.map(group_from_row).transpose()
    }

    /// A group by displayName, compared case-insensitively.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn group_by_display_name(&self, org: OrgId, name: &str) -> Result<Option<Group>> {
        let found = self
            .groups_by_lookup(org, &GroupLookup::DisplayName(name.to_string()))
            .await?;
        Ok(found.into_iter().next())
    }

    /// Groups matching an indexed equality, in creation order.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn groups_by_lookup(&self, org: OrgId, lookup: &GroupLookup) -> Result<Vec<Group>> {
        let (condition, value) = match lookup {
            GroupLookup::DisplayName(v) => ("display_name_key = $2", fold_case(v)),
            GroupLookup::ExternalId(v) => ("external_id = $2", v.clone()),
            GroupLookup::Id(id) => ("id = $2", id.to_string()),
            GroupLookup::Member(user) => (
                "id in (select group_id from group_members where org_id = $1 and user_id = $2)",
                user.to_string(),
            ),
        };
        // Sorted here, not by ORDER BY: SQLite would answer an ORDER BY by walking the
        // organisation's groups in creation order (tests/api/query_plans.rs).
        let rows = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups where org_id = $1 and {condition}"
        ))
        .bind(org.to_string())
        .bind(value)
        .fetch_all(self.db().reads())
        .await?;
        let mut groups = rows
            .into_iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>>>()?;
        groups.sort_by_key(|g| (g.created_at, g.id));
        Ok(groups)
    }

    /// Every group of the organisation, in creation order.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn all_groups(&self, org: OrgId) -> Result<Vec<Group>> {
        self.groups_page(org, 0, i64::MAX).await.map(|(g, _)| g)
    }

    /// Groups by position in creation order, with the total.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn groups_page(
        &self,
        org: OrgId,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Group>, i64)> {
        let total: i64 = sqlx::query_scalar("select count(*) from groups where org_id = $1")
            .bind(org.to_string())
            .fetch_one(self.db().reads())
            .await?;
        if limit <= 0 {
            return Ok((vec![], total));
        }
        let rows = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups where org_id = $1 order by created_at, id limit $2 offset $3"
        ))
        .bind(org.to_string())
        .bind(limit)
        .bind(offset.max(0))
        .fetch_all(self.db().reads())
        .await?;
        Ok((
            rows.into_iter()
                .map(group_from_row)
                .collect::<Result<_>>()?,
            total,
        ))
    }

    /// The members of several groups, in one query per 500 groups.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn members_of_groups(
        &self,
        org: OrgId,
        groups: &[GroupId],
    ) -> Result<HashMap<GroupId, Vec<Member>>> {
        let mut out: HashMap<GroupId, Vec<Member>> = HashMap::new();
        for chunk in groups.chunks(500) {
            let sql = format!(
                "select group_id, user_id, display from group_members \
                 where org_id = $1 and group_id in ({}) order by group_id, created_at, user_id",
                crate::db::placeholders(2, chunk.len())
            );
            let mut q =
                sqlx::query_as::<_, (String, String, Option<String>)>(&sql).bind(org.to_string());
            for g in chunk {
                q = q.bind(g.to_string());
            }
            for (group, user, display) in q.fetch_all(self.db().reads()).await? {
                let group = parse_id(&group, GroupId::parse)?;
                out.entry(group).or_default().push(Member {
                    id: parse_id(&user, UserId::parse)?,
                    display,
                });
            }
        }
        Ok(out)
    }

    /// The ids of a group's members.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn group_member_ids(&self, org: OrgId, id: GroupId) -> Result<Vec<UserId>> {
        let mut members: Vec<UserId> = self
            .members_of_groups(org, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.id)
            .collect();
        members.sort();
        Ok(members)
    }

    /// The groups a user is a direct member of, by displayName.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn user_groups(&self, org: OrgId, user: UserId) -> Result<Vec<Group>> {
        let mut groups = self
            .groups_by_lookup(org, &GroupLookup::Member(user))
            .await?;
        groups.sort_by_key(|g| fold_case(&g.display_name));
        Ok(groups)
    }
}

pub(in crate::directory) async fn group_in(
    tx: &mut WriteTx,
    org: OrgId,
    id: GroupId,
) -> Result<Option<Group>> {
    let row = sqlx::query(&format!(
        "select {GROUP_COLUMNS} from groups where org_id = $1 and id = $2"
    ))
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.map(group_from_row).transpose()
}

/// A `groups` row as stored (`GROUP_COLUMNS`), before its ids are parsed.
#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    org_id: String,
    display_name: String,
    external_id: Option<String>,
    created_at: Millis,
    updated_at: Millis,
    version: i64,
}

impl TryFrom<GroupRow> for Group {
    type Error = Error;

    fn try_from(row: GroupRow) -> Result<Group> {
        Ok(Group {
            id: parse_id(&row.id, GroupId::parse)?,
            org_id: parse_id(&row.org_id, OrgId::parse)?,
            display_name: row.display_name,
            external_id: row.external_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

pub(in crate::directory) fn group_from_row(row: AnyRow) -> Result<Group> {
    Group::try_from(GroupRow::from_row(&row)?)
}
