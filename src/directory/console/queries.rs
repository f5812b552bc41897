//! Reads the console needs beyond SCIM's: groups in name order with keyset paging, member
//! counts, a group's members a page at a time, and the names behind ids that the event log
//! records (users, groups, platform admins), fetched for a whole page in one query.

use std::collections::HashMap;

use crate::db::placeholders;
use crate::directory::groups::{group_from_row, Group, GROUP_COLUMNS};
use crate::directory::model::{fold_case, like_contains, AdminId, GroupId, OrgId, UserId};
use crate::directory::users::{user_from_row, User, USER_COLUMNS};
use crate::directory::{parse_id, Directory, Result};

/// Ids per `in (...)` list: far inside both backends' parameter limits.
const CHUNK: usize = 500;

/// Which groups to list: a search text and where the previous page ended.
#[derive(Debug, Clone, Default)]
pub struct GroupSearch {
    /// Matched, case-insensitively, inside the displayName.
    pub text: Option<String>,
    /// The displayName key of the last group on the previous page (the cursor).
    pub after: Option<String>,
    pub limit: u32,
}

impl Directory {
    /// A page of an organisation's groups in displayName order. The page starts after a
    /// displayName key (the unique index's order), so any page costs what the first does.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn search_groups(&self, org: OrgId, search: &GroupSearch) -> Result<Vec<Group>> {
        let text = search
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| like_contains(&fold_case(t)))
            .unwrap_or_default();
        let rows = sqlx::query(&format!(
            "select {GROUP_COLUMNS} from groups \
             where org_id = $1 and display_name_key > $2 \
               and ($3 = '' or display_name_key like $3 escape '\\') \
             order by display_name_key limit $4"
        ))
        .bind(org.to_string())
        .bind(search.after.clone().unwrap_or_default())
        .bind(text)
        .bind(i64::from(search.limit.clamp(1, 500)))
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(group_from_row).collect()
    }

    /// How many members each of the given groups has (groups without any are left out).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn member_counts(
        &self,
        org: OrgId,
        groups: &[GroupId],
    ) -> Result<HashMap<GroupId, i64>> {
        let mut out = HashMap::new();
        for chunk in groups.chunks(CHUNK) {
            let sql = format!(
                "select group_id, count(*) from group_members \
                 where org_id = $1 and group_id in ({}) group by group_id",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(org.to_string());
            for g in chunk {
                q = q.bind(g.to_string());
            }
            for (id, count) in q.fetch_all(self.db().reads()).await? {
                out.insert(parse_id(&id, GroupId::parse)?, count);
            }
        }
        Ok(out)
    }

    /// Whether the group has more than `limit` members, counting no further than one past
    /// it: the cost does not grow with the group.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn group_has_more_members_than(
        &self,
        org: OrgId,
        group: GroupId,
        limit: u32,
    ) -> Result<bool> {
        let count: i64 = sqlx::query_scalar(
            "select count(*) from (select 1 from group_members \
             where org_id = $1 and group_id = $2 limit $3) m",
        )
        .bind(org.to_string())
        .bind(group.to_string())
        .bind(i64::from(limit) + 1)
        .fetch_one(self.db().reads())
        .await?;
        Ok(count > i64::from(limit))
    }

    /// A page of a group's members, in user id order (the membership key's order, so a
    /// group of any size is read a page at a time), starting after a user id.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn group_members_page(
        &self,
        org: OrgId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and id in \
               (select user_id from group_members \
                where org_id = $1 and group_id = $2 and user_id > $3 \
                order by user_id limit $4) \
             order by id"
        ))
        .bind(org.to_string())
        .bind(group.to_string())
        .bind(after.map(|u| u.to_string()).unwrap_or_default())
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// The userNames of the given users of an organisation (erased ones are left out).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn user_names(&self, org: OrgId, ids: &[UserId]) -> Result<HashMap<UserId, String>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let pairs = self
            .names_by_id(
                "select id, user_name from users where org_id = $1 and id in",
                Some(org),
                &ids,
            )
            .await?;
        pairs
            .into_iter()
            .map(|(id, name)| Ok((parse_id(&id, UserId::parse)?, name)))
            .collect()
    }

    /// The displayNames of the given groups of an organisation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn group_names(
        &self,
        org: OrgId,
        ids: &[GroupId],
    ) -> Result<HashMap<GroupId, String>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let pairs = self
            .names_by_id(
                "select id, display_name from groups where org_id = $1 and id in",
                Some(org),
                &ids,
            )
            .await?;
        pairs
            .into_iter()
            .map(|(id, name)| Ok((parse_id(&id, GroupId::parse)?, name)))
            .collect()
    }

    /// The emails of the given platform admins.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn admin_emails(&self, ids: &[AdminId]) -> Result<HashMap<AdminId, String>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let pairs = self
            .names_by_id("select id, email from admins where id in", None, &ids)
            .await?;
        pairs
            .into_iter()
            .map(|(id, email)| Ok((parse_id(&id, AdminId::parse)?, email)))
            .collect()
    }

    /// Runs `select_in (ids...)`, `$1` being the organisation when one is given.
    async fn names_by_id(
        &self,
        select_in: &str,
        org: Option<OrgId>,
        ids: &[String],
    ) -> Result<Vec<(String, String)>> {
        let first = if org.is_some() { 2 } else { 1 };
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!("{select_in} ({})", placeholders(first, chunk.len()));
            let mut q = sqlx::query_as::<_, (String, String)>(&sql);
            if let Some(org) = org {
                q = q.bind(org.to_string());
            }
            for id in chunk {
                q = q.bind(id.clone());
            }
            out.extend(q.fetch_all(self.db().reads()).await?);
        }
        Ok(out)
    }
}
