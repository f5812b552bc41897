//! Reading users in sets: indexed lookups, stable pages and key-based (cursor) pages.
//!
//! The default order is creation order (`created_at`, then `id`). A position in it counts
//! soft-deleted users too: they keep their place but are not returned. So positions never
//! move while a client walks the list by `startIndex` (Okta's import), whatever is created
//! or deleted meanwhile: every user that lived throughout the walk is seen exactly once.
//! (Erasing a user, `on_delete=hard`, is the exception: the users after it move up one.)
//! A page by position costs the same at any depth and any directory size: see
//! [`Directory::users_page`].

use std::collections::HashMap;

use super::{user_from_row, User, USER_COLUMNS};
use crate::clock::Millis;
use crate::directory::model::{fold_case, GroupId, OrgId, UserId};
use crate::directory::{parse_id, Directory, Result};

/// The rows of an organisation after a key in the default order, soft-deleted ones too
/// (binds: org, created_at, id, limit, offset). The row-value comparison is what lets both
/// backends seek in `users_org_created_idx` (org_id, created_at, id) straight to the key.
/// SQLite bounds the spelled-out `created_at > $2 or (created_at = $2 and id > $3)` by
/// created_at alone, and walks every row of that created_at up to the key: a bulk import
/// gives thousands of users one created_at.
pub const USERS_AFTER_KEY: &str = "from users where org_id = $1 and (created_at, id) > ($2, $3) \
     order by created_at, id limit $4 offset $5";

/// An equality that an index answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    UserName(String),
    ExternalId(String),
    Email(String),
    Id(UserId),
}

/// Sortable columns (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    UserName,
    DisplayName,
    ExternalId,
    Created,
    LastModified,
}

impl UserSort {
    fn column(self) -> &'static str {
        match self {
            UserSort::UserName => "user_name_key",
            UserSort::DisplayName => "display_name",
            UserSort::ExternalId => "external_id",
            UserSort::Created => "created_at",
            UserSort::LastModified => "updated_at",
        }
    }
}

/// A place in the default order, for key-based paging (RFC 9865 cursors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserKey {
    pub created_at: Millis,
    pub id: UserId,
}

impl User {
    pub fn key(&self) -> UserKey {
        UserKey {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// Rows of users, in the default order (creation, then id). For lookups that return a
/// few rows: sorting them here keeps SQLite from answering an ORDER BY by walking the
/// organisation's users in creation order (tests/api/query_plans.rs).
pub(in crate::directory) fn in_default_order(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<User>> {
    let mut users = rows
        .into_iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>>>()?;
    users.sort_by_key(User::key);
    Ok(users)
}

/// One page by position.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The live users among the positions asked for, in order.
    pub users: Vec<User>,
    /// How many positions the list has.
    pub positions: i64,
}

impl Directory {
    /// Live users matching an indexed equality, in the default order.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn users_by_lookup(&self, org: OrgId, lookup: &UserLookup) -> Result<Vec<User>> {
        let (condition, value) = match lookup {
            UserLookup::UserName(v) => ("user_name_key = $2", fold_case(v)),
            UserLookup::ExternalId(v) => ("external_id = $2", v.clone()),
            UserLookup::Id(id) => ("id = $2", id.to_string()),
            UserLookup::Email(v) => (
                "id in (select user_id from user_emails where org_id = $1 and value_key = $2)",
                fold_case(v),
            ),
        };
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and deleted_at is null \
             and {condition}"
        ))
        .bind(org.to_string())
        .bind(value)
        .fetch_all(self.db().reads())
        .await?;
        in_default_order(rows)
    }

    /// Every live user of the organisation, in the default order; for filters no index
    /// answers.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn all_users(&self, org: OrgId) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and deleted_at is null \
             order by created_at, id"
        ))
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// Positions `offset` to `offset + limit - 1` (0-based) of the default order.
    ///
    /// Costs the same whatever the directory's size and the page's place in it, once the
    /// position has been reached before: the number of positions is one row that triggers
    /// keep (`org_user_positions`), and the page starts from the remembered key of the row
    /// before it (see [`super::page_keys`]) with an index seek. A position not reached
    /// before is reached from the nearest remembered one (or the start) by OFFSET, once.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn users_page(&self, org: OrgId, offset: i64, limit: i64) -> Result<UserPage> {
        let (positions, renumbered) = self.user_positions(org).await?;
        if limit <= 0 {
            return Ok(UserPage {
                users: vec![],
                positions,
            });
        }
        let offset = offset.max(0);
        let keys = self.page_keys();
        let anchor = keys.anchor(org, renumbered, offset);
        let skip = offset - anchor.position;
        // When rows are passed over, the last of them is read too: its key leads to this
        // page, so that asking for the page again seeks to it.
        let (from, take) = if skip > 0 {
            (skip - 1, limit + 1)
        } else {
            (0, limit)
        };
        keys.count(&anchor, from);
        let rows = match anchor.key {
            None => {
                sqlx::query(&format!(
                    "select {USER_COLUMNS} from users where org_id = $1 \
                     order by created_at, id limit $2 offset $3"
                ))
                .bind(org.to_string())
                .bind(take)
                .bind(from)
                .fetch_all(self.db().reads())
                .await?
            }
            Some(after) => {
                sqlx::query(&format!("select {USER_COLUMNS} {USERS_AFTER_KEY}"))
                    .bind(org.to_string())
                    .bind(after.created_at)
                    .bind(after.id.to_string())
                    .bind(take)
                    .bind(from)
                    .fetch_all(self.db().reads())
                    .await?
            }
        };
        let mut read = rows
            .into_iter()
            .map(user_from_row)
            .collect::<Result<Vec<User>>>()?;
        if skip > 0 && !read.is_empty() {
            let before = read.remove(0);
            keys.remember(org, renumbered, offset, before.key());
        }
        if let Some(last) = read.last() {
            keys.remember(org, renumbered, offset + read.len() as i64, last.key());
        }
        // Soft-deleted users keep their positions but are not shown.
        read.retain(|u| !u.deleted);
        Ok(UserPage {
            users: read,
            positions,
        })
    }

    /// How many positions the organisation's user list has, and how many times positions
    /// may have moved (`org_user_positions`, kept by triggers). No row: no user yet.
    ///
    /// Read apart from the page's rows, as the count always was: a write committed between
    /// the two is seen by one and not the other, which paging by index allows (RFC 7644
    /// §3.4.2.4: clients should not expect repeatable results). So an erase committed just
    /// after this read can give one page that starts where positions stood a moment before
    /// (the key's continuation); keys remembered from that page carry the older count, and
    /// the next request, reading the newer one, does not use them.
    async fn user_positions(&self, org: OrgId) -> Result<(i64, i64)> {
        let row = sqlx::query_as::<_, (i64, i64)>(
            "select positions, renumbered from org_user_positions where org_id = $1",
        )
        .bind(org.to_string())
        .fetch_optional(self.db().reads())
        .await?;
        Ok(row.unwrap_or((0, 0)))
    }

    /// Live users sorted by a column, by position; with the live count.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn users_sorted(
        &self,
        org: OrgId,
        sort: UserSort,
        descending: bool,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<User>, i64)> {
        let total = self.count_users(org).await?;
        if limit <= 0 {
            return Ok((vec![], total));
        }
        let dir = if descending { "desc" } else { "asc" };
        // Users without a value sort last in either direction (RFC 7644 §3.4.2.3).
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and deleted_at is null \
             order by case when {col} is null then 1 else 0 end, {col} {dir}, id {dir} \
             limit $2 offset $3",
            col = sort.column()
        ))
        .bind(org.to_string())
        .bind(limit)
        .bind(offset.max(0))
        .fetch_all(self.db().reads())
        .await?;
        let users = rows.into_iter().map(user_from_row).collect::<Result<_>>()?;
        Ok((users, total))
    }

    /// Up to `limit` live users after `after` in the default order.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn users_after(
        &self,
        org: OrgId,
        after: Option<UserKey>,
        limit: i64,
    ) -> Result<Vec<User>> {
        let (at, id) = after.map_or((i64::MIN, String::new()), |k| {
            (k.created_at, k.id.to_string())
        });
        // A row-value comparison, to seek to the key (see USERS_AFTER_KEY).
        let rows = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and deleted_at is null \
             and (created_at, id) > ($2, $3) order by created_at, id limit $4"
        ))
        .bind(org.to_string())
        .bind(at)
        .bind(id)
        .bind(limit.max(0))
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// How many live users the organisation has.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn count_users(&self, org: OrgId) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "select count(*) from users where org_id = $1 and deleted_at is null",
        )
        .bind(org.to_string())
        .fetch_one(self.db().reads())
        .await?)
    }

    /// The direct groups of each user, in one query whatever the number of users.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn groups_of_users(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<(GroupId, String)>>> {
        let mut out: HashMap<UserId, Vec<(GroupId, String)>> = HashMap::new();
        // Chunks keep the parameter count within both backends' limits.
        for chunk in users.chunks(500) {
            let sql = format!(
                "select m.user_id, g.id, g.display_name from group_members m \
                 join groups g on g.org_id = m.org_id and g.id = m.group_id \
                 where m.org_id = $1 and m.user_id in ({}) order by g.display_name_key",
                crate::db::placeholders(2, chunk.len())
            );
            let mut query =
                sqlx::query_as::<_, (String, String, String)>(&sql).bind(org.to_string());
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for (user, group, name) in query.fetch_all(self.db().reads()).await? {
                let user = parse_id(&user, UserId::parse)?;
                let group = parse_id(&group, GroupId::parse)?;
                out.entry(user).or_default().push((group, name));
            }
        }
        Ok(out)
    }
}
