//! Users: the one user model. SCIM, SSO and the console all read and write users here, and
//! activation changes go through one operation that also ends the user's sessions.

pub mod admin;
pub mod identities;
pub mod import;
pub mod lists;
pub mod page_keys;
pub mod tombstones;
pub mod writes;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::FromRow;

use crate::clock::Millis;
use crate::db::WriteTx;
use crate::directory::changes::{ChangeKind, NewChange, Subject};
use crate::directory::model::{fold_case, OrgId, UserId, UserName};
use crate::directory::orgs::{conflict, Org};
use crate::directory::policy::check::check_user;
use crate::directory::policy::lifecycle::{check_unique_emails, email_turn_before_insert};
use crate::directory::policy::OnDelete;
use crate::directory::sessions::end_user_sessions;
use crate::directory::{parse_id, stored_json, Actor, Directory, Error, Result};
use writes::UserWrite;

/// A user of one organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub user_name: UserName,
    pub external_id: Option<String>,
    pub active: bool,
    /// Soft-deleted: hidden from SCIM and refused at login, but kept, so that a later
    /// create of the same userName brings the same record (and id) back.
    pub deleted: bool,
    /// Sessions made under an older epoch are dead.
    pub session_epoch: i64,
    pub profile: Profile,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Moves on every write; the SCIM ETag is made from it.
    pub version: i64,
}

impl User {
    /// What a client writes of this user, as it is now: the start of a change.
    pub fn data(&self) -> UserData {
        UserData {
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            active: self.active,
            profile: self.profile.clone(),
        }
    }

    /// Whether the user may hold a session at all.
    pub fn can_sign_in(&self) -> bool {
        self.active && !self.deleted
    }
}

/// Everything about a user that a client writes.
#[derive(Debug, Clone, PartialEq)]
pub struct UserData {
    pub user_name: UserName,
    pub external_id: Option<String>,
    pub active: bool,
    pub profile: Profile,
}

/// The user's attributes beyond the indexed ones. Multi-valued attributes are kept as the
/// client sent them (RFC 7643 §2.4), so they come back without added or changed members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ims: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub x509_certificates: Vec<Value>,
    /// The enterprise extension (RFC 7643 §4.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<Enterprise>,
    /// Further extension attributes, by schema URN.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, Value>,
    /// The client removed `active` (RFC 7644 §3.5.2.2): the user keeps its state, and the
    /// attribute is not shown until a client sets it again.
    #[serde(skip_serializing_if = "is_false")]
    pub active_removed: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// RFC 7643 §4.1.1 `name`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Name {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

/// RFC 7643 §4.3 enterprise user extension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Enterprise {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// `{value, $ref, displayName}` as sent (Entra sometimes sends a bare string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<Value>,
}

impl Profile {
    /// Lowercased email values, each once.
    pub fn email_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .emails
            .iter()
            .filter_map(|e| e.get("value").and_then(Value::as_str))
            .map(fold_case)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The values of the user's roles.
    pub fn role_values(&self) -> Vec<&str> {
        self.roles
            .iter()
            .filter_map(|r| r.get("value")?.as_str())
            .collect()
    }

    /// The primary email (RFC 7643 §2.4: at most one has `primary: true`), else the first.
    pub fn primary_email(&self) -> Option<&str> {
        fn value(e: &Value) -> Option<&str> {
            e.get("value").and_then(Value::as_str)
        }
        self.emails
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .and_then(value)
            .or_else(|| self.emails.iter().find_map(value))
    }
}

pub(in crate::directory) const USER_COLUMNS: &str =
    "id, org_id, user_name, external_id, active, deleted_at, \
    session_epoch, profile, created_at, updated_at, version";

/// The organisation a write is for: its id, or the organisation itself when the caller has
/// just read it (SCIM's authentication and a login both have), which spares the write
/// reading it again for its settings (a user's policy, a session's lifetime).
#[derive(Clone, Copy)]
pub enum OrgRef<'a> {
    Id(OrgId),
    Org(&'a Org),
}

impl From<OrgId> for OrgRef<'_> {
    fn from(id: OrgId) -> Self {
        OrgRef::Id(id)
    }
}

impl<'a> OrgRef<'a> {
    /// Resolves an operation's organisation argument and records it on the operation's
    /// span (declared `org = tracing::field::Empty`).
    pub fn traced(org: impl Into<OrgRef<'a>>) -> Self {
        let org = org.into();
        tracing::Span::current().record("org", tracing::field::display(org.id()));
        org
    }

    pub fn id(self) -> OrgId {
        match self {
            OrgRef::Id(id) => id,
            OrgRef::Org(org) => org.id,
        }
    }
}

impl<'a> From<&'a Org> for OrgRef<'a> {
    fn from(org: &'a Org) -> Self {
        OrgRef::Org(org)
    }
}

/// How many times a write that lost a race with another write is tried again.
pub(in crate::directory) const WRITE_ATTEMPTS: usize = 5;

impl Directory {
    /// Creates a user. A soft-deleted user with the same userName is brought back instead,
    /// with its id, and the new data; a SCIM create may adopt a user that a first login
    /// made (see [`Self::provision_user`]).
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn create_user(
        &self,
        org: impl Into<OrgRef<'_>>,
        data: UserData,
        actor: &Actor,
    ) -> Result<User> {
        let org = OrgRef::traced(org);
        Ok(self
            .insert_user(org, data, actor, true, origin(actor))
            .await?
            .0)
    }

    /// Creates a user as [`Self::create_user`] does, and says how. A SCIM create whose
    /// userName, externalId or email matches exactly one user, made by a first login (JIT)
    /// and never written by SCIM, takes that user over (DESIGN.md, Login rules): the same
    /// id, links, sessions and groups, with SCIM's attributes. Matching a JIT user and
    /// another user at once is a conflict; any other match is handled as by any create.
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn provision_user(
        &self,
        org: impl Into<OrgRef<'_>>,
        data: UserData,
        actor: &Actor,
    ) -> Result<(User, Provisioned)> {
        let org = OrgRef::traced(org);
        self.insert_user(org, data, actor, true, origin(actor))
            .await
    }

    /// Creates a user at its first login (JIT), inside the sign-in's transaction, only
    /// where no record at all holds the userName, deleted or not: a first login must never
    /// bring back a deleted user (JIT never reactivates anyone). `verified_name`: the
    /// userName comes from a claim the IdP vouches for. Only such a user may later be
    /// adopted by SCIM: one named by a claim the person chose (an OIDC
    /// `preferred_username`) would hand whoever chose it the account SCIM provisions under
    /// that name.
    pub(in crate::directory) async fn create_user_at_login(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        data: UserData,
        actor: &Actor,
        verified_name: bool,
    ) -> Result<User> {
        let origin = if verified_name {
            "jit"
        } else {
            "jit-unverified"
        };
        let created = self
            .insert_user_in(tx, org, data, actor, false, origin)
            .await?;
        Ok(created.0)
    }

    async fn insert_user(
        &self,
        org: OrgRef<'_>,
        data: UserData,
        actor: &Actor,
        restore: bool,
        origin: &'static str,
    ) -> Result<(User, Provisioned)> {
        let policy_org = self.org_for_policy(org).await?;
        let mut tx = self.db().begin().await?;
        let created = self
            .insert_user_in(&mut tx, &policy_org, data, actor, restore, origin)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Writes a new (or restored, or adopted) user in the caller's transaction, which it
    /// leaves open; on a failure it has rolled it back.
    async fn insert_user_in(
        &self,
        tx: &mut WriteTx,
        policy_org: &Org,
        data: UserData,
        actor: &Actor,
        restore: bool,
        origin: &'static str,
    ) -> Result<(User, Provisioned)> {
        let mut data = data;
        let org = policy_org.id;
        check_user(policy_org, &mut data, None)?;
        let now = self.now();
        let scim = matches!(actor, Actor::ScimToken(_));
        email_turn_before_insert(tx, policy_org, &data.profile).await?;
        let adopt = if restore && scim {
            match adoptable(tx, org, &data).await {
                Ok(found) => found,
                Err(e) => return Err(tx.fail(e).await),
            }
        } else {
            None
        };
        let adopting = adopt.is_some();
        let existing = match adopt {
            Some(jit) => Some(jit),
            None => user_in(tx, org, UserKey::Name(&data.user_name.key())).await?,
        };
        let (user, before, (how, kind)) = match existing {
            Some(old) if (old.deleted && restore) || adopting => {
                let how = if adopting {
                    Provisioned::Adopted
                } else {
                    Provisioned::Restored
                };
                let epoch_step = i64::from(old.active != data.active);
                let row = sqlx::query(&format!(
                    "update users set user_name = $1, user_name_key = $2, external_id = $3, \
                     display_name = $4, primary_email_key = $5, active = $6, deleted_at = null, \
                     profile = $7, updated_at = $8, version = version + 1, \
                     scim_managed = case when $11 = 1 then 1 else scim_managed end, \
                     session_epoch = session_epoch + $12 \
                     where org_id = $9 and id = $10 returning {USER_COLUMNS}",
                ))
                .bind(data.user_name.as_str())
                .bind(data.user_name.key())
                .bind(&data.external_id)
                .bind(&data.profile.display_name)
                .bind(data.profile.primary_email().map(fold_case))
                .bind(data.active as i64)
                .bind(profile_json(&data.profile))
                .bind(now)
                .bind(org.to_string())
                .bind(old.id.to_string())
                .bind(scim as i64)
                .bind(epoch_step)
                .fetch_one(tx.conn())
                .await;
                let row = match row {
                    Ok(row) => row,
                    Err(e) => {
                        let name = data.user_name.as_str();
                        let err = conflict(e, "users_org_user_name_key", "userName", name);
                        return Err(tx.fail(err).await);
                    }
                };
                if epoch_step != 0 && !data.active {
                    end_user_sessions(tx.conn(), org, old.id).await?;
                }
                let kind = match how {
                    Provisioned::Adopted => ChangeKind::of_user_write(old.active, data.active),
                    _ => ChangeKind::UserCreated,
                };
                (user_from_row(row)?, Some(old.profile), (how, kind))
            }
            Some(_) => {
                let err = Error::Conflict {
                    field: "userName",
                    value: data.user_name.as_str().to_string(),
                };
                return Err(tx.fail(err).await);
            }
            None => {
                let id = UserId::new();
                let row = sqlx::query(&format!(
                    "insert into users (id, org_id, user_name, user_name_key, external_id, \
                     display_name, primary_email_key, active, profile, created_at, updated_at, \
                     version, created_by, scim_managed) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1, $11, $12) \
                     returning {USER_COLUMNS}",
                ))
                .bind(id.to_string())
                .bind(org.to_string())
                .bind(data.user_name.as_str())
                .bind(data.user_name.key())
                .bind(&data.external_id)
                .bind(&data.profile.display_name)
                .bind(data.profile.primary_email().map(fold_case))
                .bind(data.active as i64)
                .bind(profile_json(&data.profile))
                .bind(now)
                .bind(origin)
                .bind(scim as i64)
                .fetch_one(tx.conn())
                .await;
                let row = match row {
                    Ok(row) => row,
                    // Lost a race with a concurrent create of the same userName.
                    Err(e) => {
                        let name = data.user_name.as_str();
                        let err = conflict(e, "users_org_user_name_key", "userName", name);
                        return Err(tx.fail(err).await);
                    }
                };
                (
                    user_from_row(row)?,
                    None,
                    (Provisioned::Created, ChangeKind::UserCreated),
                )
            }
        };
        let id = user.id;
        write_email_keys(tx, org, id, &data.profile, before.as_ref()).await?;
        check_unique_emails(tx, policy_org, id, &data.profile, None).await?;
        if restore {
            // SCIM or an admin made this person (again): their earlier removal no longer
            // refuses their logins.
            tombstones::raise(tx, &user).await?;
        }
        let detail = serde_json::json!({ "userName": data.user_name, "active": data.active });
        self.record(
            tx,
            Some(org),
            actor,
            how.action(),
            Some(id.to_string()),
            detail,
        )
        .await?;
        let change = NewChange::new(kind, Subject::User(&user));
        self.append_changes(tx, org, actor, &[change]).await?;
        Ok((user, how))
    }

    /// The organisation a write is for: the one the caller holds, or read.
    pub(in crate::directory) async fn org_for_policy<'a>(
        &self,
        org: OrgRef<'a>,
    ) -> Result<Cow<'a, Org>> {
        match org {
            OrgRef::Org(o) => Ok(Cow::Borrowed(o)),
            OrgRef::Id(id) => Ok(Cow::Owned(
                self.org(id).await?.ok_or(Error::NotFound("organisation"))?,
            )),
        }
    }

    /// A user by id, soft-deleted ones included (check [`User::deleted`]).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn user(&self, org: OrgId, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(self.db().reads())
        .await?;
        row.map(user_from_row).transpose()
    }

    /// A user by userName, compared case-insensitively; soft-deleted ones included.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn user_by_user_name(&self, org: OrgId, user_name: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS} from users where org_id = $1 and user_name_key = $2"
        ))
        .bind(org.to_string())
        .bind(fold_case(user_name))
        .fetch_optional(self.db().reads())
        .await?;
        row.map(user_from_row).transpose()
    }

    /// Deletes a user as the organisation's `on_delete` says. `soft` (the default):
    /// hidden from SCIM from now on, every session ended, logins refused and group
    /// memberships left; the record itself stays (see [`Self::create_user`]). `hard`:
    /// erased. `deactivate`: deactivated, as by [`Self::set_active`], and still shown.
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn delete_user(
        &self,
        org: impl Into<OrgRef<'_>>,
        id: UserId,
        actor: &Actor,
    ) -> Result<()> {
        let org = OrgRef::traced(org);
        let policy_org = self.org_for_policy(org).await?;
        let org = policy_org.id;
        match policy_org.settings.policy.on_delete {
            OnDelete::Soft => {}
            OnDelete::Hard => return self.hard_delete_user(org, id, actor).await,
            OnDelete::Deactivate => {
                let reason = "user.delete, with on_delete=deactivate";
                let write = UserWrite::deactivation(actor).because(reason);
                return self
                    .update_user(&*policy_org, id, write, |user| {
                        Ok::<_, Error>(user.active.then(|| UserData {
                            active: false,
                            ..user.data()
                        }))
                    })
                    .await
                    .map(drop);
            }
        }
        let mut tx = self.db().begin().await?;
        let updated = sqlx::query(
            "update users set deleted_at = $1, session_epoch = session_epoch + 1, \
             updated_at = $1, version = version + 1 \
             where org_id = $2 and id = $3 and deleted_at is null",
        )
        .bind(self.now())
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        let deleted = user_in(&mut tx, org, UserKey::Id(id)).await?;
        if let Some(user) = &deleted {
            tombstones::bury(&mut tx, user, self.now()).await?;
        }
        end_user_sessions(tx.conn(), org, id).await?;
        let left =
            crate::directory::groups::members::leave_every_group(&mut tx, org, id, self.now())
                .await?;
        self.record(
            &mut tx,
            Some(org),
            actor,
            "user.delete",
            Some(id.to_string()),
            serde_json::json!({}),
        )
        .await?;
        let subject = match &deleted {
            Some(user) => Subject::User(user),
            None => Subject::UserId(id),
        };
        let member = [id.to_string()];
        let mut changes = vec![NewChange::new(ChangeKind::UserDeleted, subject)];
        changes.extend(crate::directory::changes::left_groups(
            &left,
            &member,
            ChangeKind::UserDeleted,
        ));
        self.append_changes(&mut tx, org, actor, &changes).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How [`Directory::provision_user`] answered a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    Created,
    /// A soft-deleted user with the userName, brought back with its id.
    Restored,
    /// A user that a first login made, now SCIM's, with its id, links and groups.
    Adopted,
}

impl Provisioned {
    fn action(self) -> &'static str {
        match self {
            Provisioned::Created => "user.create",
            Provisioned::Restored => "user.restore",
            Provisioned::Adopted => "user.adopt",
        }
    }
}

/// Who made a user, as stored in `users.created_by`.
fn origin(actor: &Actor) -> &'static str {
    match actor {
        Actor::Idp(_) => "jit",
        Actor::ScimToken(_) => "scim",
        _ => "admin",
    }
}

/// Who made a stored user, and whether SCIM has taken it over: the columns `adoptable`
/// reads beside `USER_COLUMNS`.
#[derive(sqlx::FromRow)]
struct Origin {
    created_by: String,
    scim_managed: i64,
}

/// The user a SCIM create adopts: the one live user whose userName, externalId or any
/// email matches the new user's, when a first login made it and SCIM never wrote it. None
/// when nothing matches, or what matches is not such a user (the create then goes on as
/// any create). A JIT user matched together with another user is a conflict: adopting
/// either would leave the other a second account of the same person.
async fn adoptable(tx: &mut WriteTx, org: OrgId, data: &UserData) -> Result<Option<User>> {
    let emails = data.profile.email_keys();
    let mut sql = format!(
        "select {USER_COLUMNS}, created_by, scim_managed from users where org_id = $1 \
         and deleted_at is null and id in ( \
           select id from users where org_id = $1 and user_name_key = $2 \
           union select id from users where org_id = $1 and external_id = $3"
    );
    if !emails.is_empty() {
        sql.push_str(&format!(
            " union select user_id from user_emails where org_id = $1 and value_key in ({})",
            crate::db::placeholders(4, emails.len())
        ));
    }
    // No ORDER BY: SQLite would then walk the organisation's users in creation order and
    // test each against the list (a scan of the whole organisation on every SCIM create);
    // without it, each listed id is one primary-key lookup. The few rows sort here.
    sql.push(')');
    let mut query = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(data.user_name.key())
        .bind(&data.external_id);
    for e in &emails {
        query = query.bind(e);
    }
    let rows = query.fetch_all(tx.conn()).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let origin = Origin::from_row(&row)?;
        let jit = origin.created_by == "jit" && origin.scim_managed == 0;
        found.push((user_from_row(row)?, jit));
    }
    found.sort_by_key(|(u, _)| u.key());
    match found.as_slice() {
        [(user, true)] => Ok(Some(user.clone())),
        many if many.len() > 1 && many.iter().any(|(_, jit)| *jit) => {
            let names: Vec<&str> = many.iter().map(|(u, _)| u.user_name.as_str()).collect();
            Err(Error::Conflict {
                field: "userName",
                value: format!(
                    "{} (it matches {} users: {})",
                    data.user_name.as_str(),
                    names.len(),
                    names.join(", ")
                ),
            })
        }
        _ => Ok(None),
    }
}

pub(in crate::directory) fn activation_action(active: bool) -> &'static str {
    if active {
        "user.reactivate"
    } else {
        "user.deactivate"
    }
}

pub(crate) enum UserKey<'a> {
    Id(UserId),
    Name(&'a str),
}

/// Reads a user inside a transaction, so a write sees its own changes.
pub(crate) async fn user_in(
    tx: &mut WriteTx,
    org: OrgId,
    key: UserKey<'_>,
) -> Result<Option<User>> {
    let (column, value) = match key {
        UserKey::Id(id) => ("id", id.to_string()),
        UserKey::Name(k) => ("user_name_key", k.to_string()),
    };
    let row = sqlx::query(&format!(
        "select {USER_COLUMNS} from users where org_id = $1 and {column} = $2"
    ))
    .bind(org.to_string())
    .bind(value)
    .fetch_optional(tx.conn())
    .await?;
    row.map(user_from_row).transpose()
}

/// Makes the user's email index rows match `profile`; `before` is the profile the rows
/// were written for (None for a new user, who has none). Most writes (a PATCH of `active`,
/// an Okta PUT repeating the same emails) leave the emails as they were, and then nothing
/// is written: each statement is a round trip inside the write transaction.
pub(in crate::directory) async fn write_email_keys(
    tx: &mut WriteTx,
    org: OrgId,
    id: UserId,
    profile: &Profile,
    before: Option<&Profile>,
) -> Result<()> {
    let keys = profile.email_keys();
    if let Some(before) = before {
        if before.email_keys() == keys {
            return Ok(());
        }
        sqlx::query("delete from user_emails where org_id = $1 and user_id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
    }
    if keys.is_empty() {
        return Ok(());
    }
    let values = (0..keys.len())
        .map(|i| format!("($1, $2, ${})", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("insert into user_emails (org_id, user_id, value_key) values {values}");
    let mut query = sqlx::query(&sql).bind(org.to_string()).bind(id.to_string());
    for key in keys {
        query = query.bind(key);
    }
    query.execute(tx.conn()).await?;
    Ok(())
}

pub(in crate::directory) fn profile_json(profile: &Profile) -> String {
    serde_json::to_string(profile).expect("a profile always serialises")
}

/// A `users` row as stored (`USER_COLUMNS`), before its ids, name and profile are parsed.
#[derive(sqlx::FromRow)]
pub(in crate::directory) struct UserRow {
    id: String,
    org_id: String,
    user_name: String,
    external_id: Option<String>,
    active: i64,
    deleted_at: Option<i64>,
    session_epoch: i64,
    profile: String,
    created_at: Millis,
    updated_at: Millis,
    version: i64,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<User> {
        Ok(User {
            id: parse_id(&row.id, UserId::parse)?,
            org_id: parse_id(&row.org_id, OrgId::parse)?,
            user_name: UserName::parse(&row.user_name).map_err(|e| Error::Corrupt(e.0))?,
            external_id: row.external_id,
            active: row.active != 0,
            deleted: row.deleted_at.is_some(),
            session_epoch: row.session_epoch,
            profile: stored_json("user profile", &row.profile)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

pub(in crate::directory) fn user_from_row(row: AnyRow) -> Result<User> {
    User::try_from(UserRow::from_row(&row)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn primary_email_prefers_the_primary_one() {
        let p = Profile {
            emails: vec![
                json!({"value": "Home@x.test", "type": "home"}),
                json!({"value": "Work@X.test", "type": "work", "primary": true}),
            ],
            ..Profile::default()
        };
        assert_eq!(p.primary_email(), Some("Work@X.test"));
        assert_eq!(p.email_keys(), vec!["home@x.test", "work@x.test"]);
    }

    #[test]
    fn profile_round_trips_multi_valued_attributes_exactly() {
        let emails = vec![json!({"value": "a@x.test", "type": "work"})];
        let p = Profile {
            emails: emails.clone(),
            ..Profile::default()
        };
        let back: Profile = serde_json::from_str(&profile_json(&p)).unwrap();
        assert_eq!(
            back.emails, emails,
            "no primary:false or other member is added"
        );
    }
}
