//! What the directory does inside a user write because of the policy: erase a user that a
//! deactivation or a deletion removes, and keep email addresses unique. Each runs in the
//! caller's transaction, so the write and its consequence happen together or not at all.

use super::{OnDeactivate, Violation, ViolationKind};
use crate::db::{placeholders, WriteTx};
use crate::directory::changes::{self, ChangeKind, NewChange, Subject};
use crate::directory::model::{OrgId, UserId};
use crate::directory::orgs::Org;
use crate::directory::users::tombstones;
use crate::directory::users::{user_in, Profile, UserKey};
use crate::directory::{Actor, Directory, Error, Result};

/// With `unique_email`, refuses to give a user an email (compared in lower case) that
/// another user of the organisation has. Deactivated users count: they are kept to come
/// back. Soft-deleted ones do not: SCIM no longer shows them, so a client could neither see
/// nor fix the clash; a restore of one runs this check again and is refused if its email
/// was taken meanwhile. Only the emails the write adds are checked (all of them on a
/// create or restore; `before` is the stored user on a replace): users who shared an email
/// before the setting was turned on can still be updated and deactivated.
///
/// Runs after the user's own email rows are written, in the same transaction. Two writes
/// that give the same email to two users at once must not both pass: on SQLite, writes
/// already take turns; on PostgreSQL, each check first updates the organisation's row
/// (a no-op that takes its row lock), so the checks of one organisation run one after the
/// other, and each one's query sees what the one before it committed (READ COMMITTED takes
/// a fresh snapshot per statement). That lock is FOR NO KEY UPDATE, which the foreign-key
/// checks of inserts into the organisation's tables (FOR KEY SHARE) do not wait for.
///
/// When the check fails, the transaction is rolled back (see [`WriteTx::fail`]: the user's
/// rows are written by then) and must not be used again.
pub(crate) async fn check_unique_emails(
    tx: &mut WriteTx,
    org: &Org,
    user: UserId,
    profile: &Profile,
    before: Option<&Profile>,
) -> Result<()> {
    let taken = match taken_email(tx, org, user, profile, before).await {
        Ok(None) => return Ok(()),
        Ok(Some(taken)) => taken,
        Err(e) => return Err(tx.fail(e).await),
    };
    let violation = Violation::new(
        ViolationKind::Uniqueness,
        "emails",
        format!("emails value {taken:?} belongs to another user of this organisation"),
    );
    Err(tx.fail(Error::Policy(violation)).await)
}

/// In a write that creates a user, takes the organisation's unique-email turn (see
/// [`check_unique_emails`]) before the user's row is inserted, when the check will run.
///
/// On PostgreSQL, inserting a user locks the organisation's `org_user_positions` row (a
/// trigger counts positions), and erasing one does too. A replace that deactivates takes
/// the email turn, then may erase the user: organisation row first, positions row second.
/// A create must lock in the same order, or the two could each wait for the other's lock
/// (and PostgreSQL would fail one of them as a deadlock).
pub(crate) async fn email_turn_before_insert(
    tx: &mut WriteTx,
    org: &Org,
    profile: &Profile,
) -> Result<()> {
    if org.settings.policy.unique_email && !profile.email_keys().is_empty() {
        email_turn(tx, org.id).await?;
    }
    Ok(())
}

/// A no-op update of the organisation's row, which takes its row lock until the end of
/// the transaction.
async fn email_turn(tx: &mut WriteTx, org: OrgId) -> Result<()> {
    sqlx::query("update orgs set settings = settings where id = $1")
        .bind(org.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// One of the email keys the write adds that another live user has, when the policy asks.
async fn taken_email(
    tx: &mut WriteTx,
    org: &Org,
    user: UserId,
    profile: &Profile,
    before: Option<&Profile>,
) -> Result<Option<String>> {
    let kept = before.map(Profile::email_keys).unwrap_or_default();
    let keys: Vec<String> = profile
        .email_keys()
        .into_iter()
        .filter(|k| !kept.contains(k))
        .collect();
    if !org.settings.policy.unique_email || keys.is_empty() {
        return Ok(None);
    }
    email_turn(tx, org.id).await?;
    let sql = format!(
        "select e.value_key from user_emails e \
         join users u on u.org_id = e.org_id and u.id = e.user_id \
         where e.org_id = $1 and e.user_id <> $2 and u.deleted_at is null \
           and e.value_key in ({}) \
         order by e.value_key limit 1",
        placeholders(3, keys.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql)
        .bind(org.id.to_string())
        .bind(user.to_string());
    for key in &keys {
        query = query.bind(key);
    }
    Ok(query.fetch_optional(tx.conn()).await?)
}

impl Directory {
    /// Under `on_deactivate=delete`, erases a user that the caller's transaction has just
    /// deactivated, and records it; says whether it did.
    ///
    /// The deactivating request itself succeeds, and SCIM answers its PATCH or PUT with 200
    /// and the user's last state (`active: false`): that is the answer Okta expects to a
    /// deactivation, so its task ends well. An error there would leave the task failed and
    /// retried, and a 404 would stop it. From then on the id is unknown (404), and a
    /// userName filter finds no one. Okta reactivates on reassignment by first looking the
    /// user up by userName: finding none, it POSTs, which makes a fresh user with a new id
    /// (the "a later reactivation is a fresh create"). A client that instead sends
    /// PATCH `active: true` to the old id gets 404, which is true: that user is gone.
    ///
    /// Only a deactivation (active to inactive) erases; users already inactive when the
    /// setting is turned on stay until an admin erases them, and creating a user with
    /// `active: false` is not a deactivation.
    pub(crate) async fn erase_deactivated(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        id: UserId,
        actor: &Actor,
    ) -> Result<bool> {
        if org.settings.policy.on_deactivate != OnDeactivate::Delete {
            return Ok(false);
        }
        self.erase_in(tx, org.id, id, actor, Erasure::OnDeactivate)
            .await?;
        Ok(true)
    }

    /// `on_delete=hard`: erases a live user (a soft-deleted one is not found, as for a
    /// soft delete), memberships and identity links included, so that a later login or
    /// create of the same person makes a new user with a new id.
    pub(crate) async fn hard_delete_user(
        &self,
        org: OrgId,
        id: UserId,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let live: Option<String> = sqlx::query_scalar(
            "select id from users where org_id = $1 and id = $2 and deleted_at is null",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
        if live.is_none() {
            return Err(Error::NotFound("user"));
        }
        self.erase_in(&mut tx, org, id, actor, Erasure::OnDelete)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Why a user is erased: by an admin, or by the rule that a deactivation or a deletion
/// follows. It says which change the feed shows and what the event log gives as the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Erasure {
    ByAdmin,
    /// `on_deactivate=delete`.
    OnDeactivate,
    /// `on_delete=hard`.
    OnDelete,
}

impl Erasure {
    fn because(self) -> Option<&'static str> {
        match self {
            Erasure::ByAdmin => None,
            Erasure::OnDeactivate => Some("on_deactivate=delete"),
            Erasure::OnDelete => Some("on_delete=hard"),
        }
    }

    /// A deletion is `user.deleted` to the app, whatever becomes of the row.
    fn kind(self) -> ChangeKind {
        match self {
            Erasure::OnDelete => ChangeKind::UserDeleted,
            Erasure::ByAdmin | Erasure::OnDeactivate => ChangeKind::UserErased,
        }
    }
}

impl Directory {
    /// Erases a user in the caller's transaction: its keys are buried (so its next login is
    /// refused, not answered with a new user) and its data in the event log and the change
    /// feed is replaced by a hash or its id; the groups it was in move their version on, its
    /// console sessions go, then the row, with its memberships, identity links, emails,
    /// sessions and admin grant (their foreign keys cascade). Records the `user.erase` event
    /// and the changes: the user's, then a `group.member_removed` for each group it left.
    pub(crate) async fn erase_in(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        id: UserId,
        actor: &Actor,
        why: Erasure,
    ) -> Result<()> {
        let now = self.now();
        if let Some(user) = user_in(tx, org, UserKey::Id(id)).await? {
            tombstones::bury(tx, &user, now).await?;
            tombstones::redact_events(tx, &user).await?;
        }
        changes::redact_user(tx, org, id).await?;
        let left = crate::directory::groups::members::leave_every_group(tx, org, id, now).await?;
        sqlx::query("delete from admin_sessions where org_id = $1 and user_id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        sqlx::query("delete from users where org_id = $1 and id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        let detail = match why.because() {
            Some(because) => serde_json::json!({ "because": because }),
            None => serde_json::json!({}),
        };
        self.record(
            tx,
            Some(org),
            actor,
            "user.erase",
            Some(id.to_string()),
            detail,
        )
        .await?;
        let mut erased = NewChange::new(why.kind(), Subject::UserId(id));
        erased.reason = why.because();
        let member = [id.to_string()];
        let mut changes = vec![erased];
        changes.extend(changes::left_groups(&left, &member, why.kind()));
        self.append_changes(tx, org, actor, &changes).await
    }
}
