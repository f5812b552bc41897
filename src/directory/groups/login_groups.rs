//! Group memberships set by a login: the groups an IdP asserts (a SAML `groups` attribute,
//! an OIDC `groups` claim) become exactly the user's groups, created when missing. SCIM and
//! logins name the same groups, matched by displayName.

use std::collections::{BTreeMap, HashSet};

use super::{group_in, Group};
use crate::db::WriteTx;
use crate::directory::changes::{ChangeKind, NewChange, Subject};
use crate::directory::model::{fold_case, GroupId, OrgId, UserId};
use crate::directory::{Actor, Directory, Result};

impl Directory {
    /// Makes `names` the user's groups, inside the sign-in's transaction.
    pub(in crate::directory) async fn set_groups_from_login(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        user: UserId,
        names: &[String],
        actor: &Actor,
    ) -> Result<()> {
        let wanted_names: BTreeMap<String, &str> = names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(|n| (fold_case(n), n))
            .collect();
        let now = self.now();
        let mut wanted: HashSet<String> = HashSet::new();
        let mut created: Vec<String> = Vec::new();
        for (key, name) in &wanted_names {
            // ON CONFLICT keeps a concurrent first login from failing the transaction.
            let inserted = sqlx::query(
                "insert into groups (id, org_id, display_name, display_name_key, created_at, updated_at, version) \
                 values ($1, $2, $3, $4, $5, $5, 1) on conflict (org_id, display_name_key) do nothing",
            )
            .bind(GroupId::new().to_string())
            .bind(org.to_string())
            .bind(*name)
            .bind(key)
            .bind(now)
            .execute(tx.conn())
            .await?;
            let id: String = sqlx::query_scalar(
                "select id from groups where org_id = $1 and display_name_key = $2",
            )
            .bind(org.to_string())
            .bind(key)
            .fetch_one(tx.conn())
            .await?;
            if inserted.rows_affected() == 1 {
                created.push(id.clone());
            }
            wanted.insert(id);
        }
        let current: HashSet<String> = sqlx::query_scalar(
            "select group_id from group_members where org_id = $1 and user_id = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_all(tx.conn())
        .await?
        .into_iter()
        .collect();
        // In id order: two logins changing the same groups lock their rows in the same
        // order (PostgreSQL would otherwise fail one of them as a deadlock).
        let mut added: Vec<&String> = wanted.difference(&current).collect();
        let mut removed: Vec<&String> = current.difference(&wanted).collect();
        added.sort();
        removed.sort();
        for g in &added {
            sqlx::query(
                "insert into group_members (org_id, group_id, user_id, created_at) values ($1, $2, $3, $4) \
                 on conflict (group_id, user_id) do nothing",
            )
            .bind(org.to_string())
            .bind(*g)
            .bind(user.to_string())
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        for g in &removed {
            sqlx::query(
                "delete from group_members where org_id = $1 and group_id = $2 and user_id = $3",
            )
            .bind(org.to_string())
            .bind(*g)
            .bind(user.to_string())
            .execute(tx.conn())
            .await?;
        }
        for g in added.iter().chain(&removed) {
            sqlx::query("update groups set version = version + 1, updated_at = $1 where org_id = $2 and id = $3")
                .bind(now)
                .bind(org.to_string())
                .bind(*g)
                .execute(tx.conn())
                .await?;
        }
        if !added.is_empty() || !removed.is_empty() {
            let detail = serde_json::json!({ "groupsAdded": added, "groupsRemoved": removed });
            self.record(
                tx,
                Some(org),
                actor,
                "user.groups_from_login",
                Some(user.to_string()),
                detail,
            )
            .await?;
        }
        self.login_group_changes(tx, org, user, actor, (&created, &added, &removed))
            .await
    }

    /// The change feed's records of a login's group changes: groups it made, then the
    /// user added to and removed from groups, group by group in id order.
    async fn login_group_changes(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        user: UserId,
        actor: &Actor,
        (created, added, removed): (&[String], &[&String], &[&String]),
    ) -> Result<()> {
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for id in created
            .iter()
            .chain(added.iter().copied())
            .chain(removed.iter().copied())
        {
            if groups.contains_key(id) {
                continue;
            }
            if let Some(g) = GroupId::parse(id) {
                if let Some(group) = group_in(tx, org, g).await? {
                    groups.insert(id.clone(), group);
                }
            }
        }
        let member = [user.to_string()];
        let mut feed = Vec::new();
        for id in created {
            if let Some(g) = groups.get(id) {
                feed.push(NewChange::new(ChangeKind::GroupCreated, Subject::Group(g)));
            }
        }
        let mut sorted = |ids: &[&String], kind: ChangeKind| {
            let mut ids: Vec<&String> = ids.to_vec();
            ids.sort();
            for id in ids {
                if let Some(g) = groups.get(id) {
                    let change = NewChange::new(kind, Subject::Members(g, &member));
                    feed.push(change.because("groups asserted at login"));
                }
            }
        };
        sorted(added, ChangeKind::GroupMemberAdded);
        sorted(removed, ChangeKind::GroupMemberRemoved);
        self.append_changes(tx, org, actor, &feed).await
    }
}
