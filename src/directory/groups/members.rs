//! Membership changes: incremental, batched and in one transaction, so a PATCH that adds
//! 10,000 members is a handful of statements, and concurrent PATCHes that add different
//! members to one group all take effect (no read-modify-write of the member list).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::db::WriteTx;
use crate::directory::model::{GroupId, OrgId};
use crate::directory::{Directory, Error, Result};

/// Ids per statement: well inside both backends' parameter limits.
const CHUNK: usize = 500;

/// A member as a client names it: the user's id and the `display` it sent. The id is
/// the client's text: one that is no live user of the organisation (or no UUID at all) is
/// left out and reported, never an error (Okta and Entra push stale ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub id: String,
    pub display: Option<String>,
}

/// What a membership change did, for the response and the event log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Ids that are not live users of the organisation: left out, and recorded.
    pub ignored: Vec<String>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// One change to a group's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    Add(Vec<MemberRef>),
    Remove(Vec<String>),
    RemoveAll,
}

impl Directory {
    /// Applies membership operations in order, inside the caller's transaction.
    pub(in crate::directory) async fn apply_member_ops(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        group: GroupId,
        ops: &[MemberOp],
    ) -> Result<MemberChanges> {
        let mut changes = MemberChanges::default();
        for op in ops {
            match op {
                MemberOp::Add(members) => {
                    self.add_members(tx, org, group, members, &mut changes)
                        .await?
                }
                MemberOp::Remove(ids) => remove_members(tx, org, group, ids, &mut changes).await?,
                MemberOp::RemoveAll => {
                    let all: Vec<String> = sqlx::query_scalar(
                        "select user_id from group_members where org_id = $1 and group_id = $2",
                    )
                    .bind(org.to_string())
                    .bind(group.to_string())
                    .fetch_all(tx.conn())
                    .await?;
                    sqlx::query("delete from group_members where org_id = $1 and group_id = $2")
                        .bind(org.to_string())
                        .bind(group.to_string())
                        .execute(tx.conn())
                        .await?;
                    changes.removed.extend(all);
                }
            }
        }
        // A member removed and added back in one request was neither.
        let added: HashSet<String> = changes.added.iter().cloned().collect();
        let removed: HashSet<String> = changes.removed.iter().cloned().collect();
        changes.added.retain(|a| !removed.contains(a));
        changes.removed.retain(|r| !added.contains(r));
        Ok(changes)
    }

    async fn add_members(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        group: GroupId,
        members: &[MemberRef],
        changes: &mut MemberChanges,
    ) -> Result<()> {
        let mut wanted: HashMap<String, Option<String>> = HashMap::new();
        for m in members {
            wanted.insert(m.id.clone(), m.display.clone());
        }
        let ids: Vec<String> = wanted.keys().cloned().collect();
        for chunk in ids.chunks(CHUNK) {
            let live: HashSet<String> = select_in(
                tx,
                "select id from users where org_id = $1 and deleted_at is null and id in",
                org,
                None,
                chunk,
            )
            .await?;
            let already: HashSet<String> = select_in(
                tx,
                "select user_id from group_members where org_id = $1 and group_id = $2 and user_id in",
                org,
                Some(group),
                chunk,
            )
            .await?;
            let now = self.now();
            for id in chunk {
                if !live.contains(id) {
                    changes.ignored.push(id.clone());
                    continue;
                }
                // The display is kept as last sent, also for an existing member.
                sqlx::query(
                    "insert into group_members (org_id, group_id, user_id, created_at, display) \
                     values ($1, $2, $3, $4, $5) \
                     on conflict (group_id, user_id) do update set display = excluded.display",
                )
                .bind(org.to_string())
                .bind(group.to_string())
                .bind(id)
                .bind(now)
                .bind(wanted[id].clone())
                .execute(tx.conn())
                .await?;
                if !already.contains(id) {
                    changes.added.push(id.clone());
                }
            }
        }
        Ok(())
    }
}

async fn remove_members(
    tx: &mut WriteTx,
    org: OrgId,
    group: GroupId,
    ids: &[String],
    changes: &mut MemberChanges,
) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let present = select_in(
            tx,
            "select user_id from group_members where org_id = $1 and group_id = $2 and user_id in",
            org,
            Some(group),
            chunk,
        )
        .await?;
        let (sql, binds) = in_list(
            "delete from group_members where org_id = $1 and group_id = $2 and user_id in",
            2,
            chunk,
        );
        let mut q = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(group.to_string());
        for b in binds {
            q = q.bind(b);
        }
        q.execute(tx.conn()).await?;
        changes
            .removed
            .extend(chunk.iter().filter(|i| present.contains(*i)).cloned());
    }
    Ok(())
}

/// `prefix ($n, $n+1, …)` with the values to bind after the first `fixed` parameters.
fn in_list<'a>(prefix: &str, fixed: usize, values: &'a [String]) -> (String, &'a [String]) {
    let list = crate::db::placeholders(fixed + 1, values.len());
    (format!("{prefix} ({list})"), values)
}

async fn select_in(
    tx: &mut WriteTx,
    prefix: &str,
    org: OrgId,
    group: Option<GroupId>,
    values: &[String],
) -> Result<HashSet<String>> {
    let fixed = 1 + usize::from(group.is_some());
    let (sql, binds) = in_list(prefix, fixed, values);
    let mut q = sqlx::query_scalar::<_, String>(&sql).bind(org.to_string());
    if let Some(g) = group {
        q = q.bind(g.to_string());
    }
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(tx.conn())
        .await
        .map_err(Error::from)?
        .into_iter()
        .collect())
}

/// Takes a user out of every group it is in, each group getting a new version (its ETag
/// changes with its members); returns those groups as they are afterwards, ordered by id,
/// for the change feed's `group.member_removed`.
pub(crate) async fn leave_every_group(
    tx: &mut WriteTx,
    org: OrgId,
    user: crate::directory::model::UserId,
    now: crate::clock::Millis,
) -> Result<Vec<super::Group>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "select group_id from group_members where org_id = $1 and user_id = $2 order by group_id",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_all(tx.conn())
    .await?;
    sqlx::query(
        "update groups set version = version + 1, updated_at = $3 \
         where org_id = $1 and id in \
           (select group_id from group_members where org_id = $1 and user_id = $2)",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    sqlx::query("delete from group_members where org_id = $1 and user_id = $2")
        .bind(org.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    let mut groups = Vec::with_capacity(ids.len());
    for id in ids.iter().filter_map(|id| GroupId::parse(id)) {
        if let Some(group) = super::group_in(tx, org, id).await? {
            groups.push(group);
        }
    }
    Ok(groups)
}
