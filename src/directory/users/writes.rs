//! The one way a stored user changes: read in the write transaction, changed by the
//! caller, checked, and written with its event, its change record and, when `active`
//! flips, the session epoch, all in one transaction. SCIM PUT and PATCH, the console, the
//! admin API, a login that asserts a role and a delete that deactivates all come here, so
//! the deactivation rule and the retry on a lost race live in this file only.

use super::{
    activation_action, profile_json, user_from_row, user_in, write_email_keys, OrgRef, User,
    UserData, UserKey, USER_COLUMNS, WRITE_ATTEMPTS,
};
use crate::db::WriteTx;
use crate::directory::changes::{ChangeKind, NewChange, Subject};
use crate::directory::model::{fold_case, UserId};
use crate::directory::orgs::{conflict, Org};
use crate::directory::policy::check::check_user;
use crate::directory::policy::lifecycle::check_unique_emails;
use crate::directory::sessions::end_user_sessions;
use crate::directory::{Actor, Directory, Error, Result};

/// Who writes a user and what the write is called: the event log's action and the reason
/// the change feed gives.
#[derive(Debug, Clone, Copy)]
pub struct UserWrite<'a> {
    pub actor: &'a Actor,
    /// The event's action ("user.patch", "user.replace"). A write named for the
    /// activation change it makes ("user.deactivate") records that one event only.
    pub action: &'a str,
    /// Why, as the change feed says it; the action unless told otherwise.
    pub reason: &'a str,
}

impl<'a> UserWrite<'a> {
    pub fn new(actor: &'a Actor, action: &'a str) -> Self {
        Self {
            actor,
            action,
            reason: action,
        }
    }

    /// A write that only deactivates the user.
    pub fn deactivation(actor: &'a Actor) -> Self {
        Self::new(actor, activation_action(false))
    }

    pub fn because(self, reason: &'a str) -> Self {
        Self { reason, ..self }
    }
}

impl Directory {
    /// Changes a live user: `change` is given the user as the write transaction reads it
    /// and answers what to store (`None`: nothing, and the user is returned as it is). The
    /// result is checked against the organisation's policies, except when only `active`
    /// changes: deactivation is never refused. When `active` flips, the session epoch moves
    /// on (every session of the user stops at once) and, for a deactivation, the sessions
    /// end and `on_deactivate = delete` erases the user, whose last state is returned.
    ///
    /// On PostgreSQL another write may commit between the read and the write; the write
    /// then reads again and `change` runs again on what is there now, up to a few times
    /// (on SQLite writers take turns and this does not happen). An `If-Match` is checked in
    /// `change`, against the version it is given.
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn update_user<E: From<Error>>(
        &self,
        org: impl Into<OrgRef<'_>>,
        id: UserId,
        write: UserWrite<'_>,
        mut change: impl FnMut(&User) -> Result<Option<UserData>, E>,
    ) -> Result<User, E> {
        let policy_org = self.org_for_policy(OrgRef::traced(org)).await?;
        for _ in 0..WRITE_ATTEMPTS {
            let mut tx = self.db().begin().await.map_err(Error::from)?;
            match self
                .update_user_in(&mut tx, &policy_org, id, write, &mut change)
                .await
            {
                Ok(Some(user)) => {
                    tx.commit().await.map_err(Error::from)?;
                    return Ok(user);
                }
                // Dropped, the transaction rolls back: another write came first.
                Ok(None) => continue,
                Err(e) => return Err(tx.fail(e).await),
            }
        }
        Err(Error::Contended("user").into())
    }

    /// [`Self::update_user`]'s one attempt, inside the caller's transaction, which it
    /// leaves open. None: another write moved the user on since it was read here, nothing
    /// was written, and the transaction must be rolled back.
    pub(in crate::directory) async fn update_user_in<E: From<Error>>(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        id: UserId,
        write: UserWrite<'_>,
        change: &mut impl FnMut(&User) -> Result<Option<UserData>, E>,
    ) -> Result<Option<User>, E> {
        let current = user_in(tx, org.id, UserKey::Id(id))
            .await?
            .filter(|u| !u.deleted)
            .ok_or(Error::NotFound("user"))?;
        match change(&current)? {
            Some(data) => Ok(self.write_user(tx, org, &current, data, write).await?),
            None => Ok(Some(current)),
        }
    }

    /// Replaces everything a client writes (RFC 7644 §3.5.1 semantics: what is absent is
    /// cleared). `if_version` is the version the caller saw, when it names one.
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn replace_user(
        &self,
        org: impl Into<OrgRef<'_>>,
        id: UserId,
        data: UserData,
        if_version: Option<i64>,
        actor: &Actor,
        action: &str,
    ) -> Result<User> {
        let write = UserWrite::new(actor, action);
        self.update_user(org, id, write, |current| {
            match if_version.filter(|v| *v != current.version) {
                Some(expected) => Err(Error::PreconditionFailed {
                    expected: expected.to_string(),
                }),
                None => Ok(Some(data.clone())),
            }
        })
        .await
    }

    /// Deactivates or reactivates a user. Setting the state a user already has changes
    /// nothing.
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn set_active(
        &self,
        org: impl Into<OrgRef<'_>>,
        id: UserId,
        active: bool,
        actor: &Actor,
    ) -> Result<User> {
        let write = UserWrite::new(actor, activation_action(active));
        self.update_user(org, id, write, |user| {
            Ok((user.active != active).then(|| UserData {
                active,
                ..user.data()
            }))
        })
        .await
    }

    /// Writes `data` over `current` in `tx`. None: another write moved the user on since
    /// `current` was read, and nothing was written.
    async fn write_user(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        current: &User,
        mut data: UserData,
        write: UserWrite<'_>,
    ) -> Result<Option<User>> {
        // The policies let a deactivation through whatever the user holds (and may put a
        // value written before a rule into its form), and check a reactivation in full.
        if let Err(e) = check_user(org, &mut data, Some(current)) {
            return Err(tx.fail(e.into()).await);
        }
        let id = current.id;
        let epoch_step = i64::from(current.active != data.active);
        let stored = self
            .store_user(tx, org, current, &data, epoch_step, write.actor)
            .await;
        let user = match stored {
            Ok(Some(user)) => user,
            Ok(None) => return Ok(None),
            Err(e) => return Err(tx.fail(e).await),
        };
        write_email_keys(tx, org.id, id, &data.profile, Some(&current.profile)).await?;
        check_unique_emails(tx, org, id, &data.profile, Some(&current.profile)).await?;
        let activation = (epoch_step != 0).then(|| activation_action(data.active));
        if activation != Some(write.action) {
            let detail = serde_json::json!({ "userName": data.user_name });
            self.record_user_event(tx, org, id, write, write.action, detail)
                .await?;
        }
        if let Some(action) = activation {
            if !data.active {
                end_user_sessions(tx.conn(), org.id, id).await?;
            }
            let detail = serde_json::json!({});
            self.record_user_event(tx, org, id, write, action, detail)
                .await?;
        }
        let kind = ChangeKind::of_user_write(current.active, data.active);
        let change = NewChange::new(kind, Subject::User(&user)).because(write.reason);
        self.append_changes(tx, org.id, write.actor, &[change])
            .await?;
        // The caller gets the user's last state (`active: false`) though it is gone.
        if epoch_step != 0 && !data.active {
            self.erase_deactivated(tx, org, id, write.actor).await?;
        }
        Ok(Some(user))
    }

    /// The UPDATE itself, conditional on the version read. None: that version is gone.
    async fn store_user(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        current: &User,
        data: &UserData,
        epoch_step: i64,
        actor: &Actor,
    ) -> Result<Option<User>> {
        let updated = sqlx::query(&format!(
            "update users set user_name = $1, user_name_key = $2, external_id = $3, \
             display_name = $4, primary_email_key = $5, active = $6, profile = $7, \
             session_epoch = session_epoch + $8, updated_at = $9, version = version + 1, \
             scim_managed = case when $13 = 1 then 1 else scim_managed end \
             where org_id = $10 and id = $11 and version = $12 returning {USER_COLUMNS}",
        ))
        .bind(data.user_name.as_str())
        .bind(data.user_name.key())
        .bind(&data.external_id)
        .bind(&data.profile.display_name)
        .bind(data.profile.primary_email().map(fold_case))
        .bind(data.active as i64)
        .bind(profile_json(&data.profile))
        .bind(epoch_step)
        .bind(self.now())
        .bind(org.id.to_string())
        .bind(current.id.to_string())
        .bind(current.version)
        .bind(matches!(actor, Actor::ScimToken(_)) as i64)
        .fetch_optional(tx.conn())
        .await;
        match updated {
            Ok(row) => row.map(user_from_row).transpose(),
            Err(e) => {
                let name = data.user_name.as_str();
                Err(conflict(e, "users_org_user_name_key", "userName", name))
            }
        }
    }

    async fn record_user_event(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        id: UserId,
        write: UserWrite<'_>,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let target = Some(id.to_string());
        self.record(tx, Some(org.id), write.actor, action, target, detail)
            .await
    }
}
