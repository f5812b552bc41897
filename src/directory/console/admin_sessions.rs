//! Console sessions. They are apart from end users' sessions (their own table and cookie)
//! and shorter. Every request re-checks what the session stands on: the platform admin
//! still exists; the customer admin is still an active user, under the same epoch, and
//! still an admin of its organisation; the setup link is neither revoked nor expired.

use crate::clock::Millis;
use crate::directory::model::{AdminId, OrgId, UserId};
use crate::directory::sessions::{Lifetimes, NewSession};
use crate::directory::tokens::hash;
use crate::directory::{parse_id, Directory, Result};

/// The last-seen time is written at most this often, not on every request.
const TOUCH_GRANULARITY_MS: Millis = 60_000;

/// Who a console session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A platform admin: every organisation.
    Platform { admin_id: AdminId, email: String },
    /// A user of one organisation who administers it, signed in through its own SSO.
    Customer {
        org_id: OrgId,
        user_id: UserId,
        user_name: String,
    },
    /// Whoever opened a setup link: that organisation's connections and tokens only.
    Setup { org_id: OrgId, link_id: String },
}

impl Principal {
    /// The one organisation this principal is confined to; None for a platform admin.
    pub fn org_scope(&self) -> Option<OrgId> {
        match self {
            Principal::Platform { .. } => None,
            Principal::Customer { org_id, .. } | Principal::Setup { org_id, .. } => Some(*org_id),
        }
    }

    /// Whether this principal may act on the organisation.
    pub fn can_manage(&self, org: OrgId) -> bool {
        self.org_scope().is_none_or(|o| o == org)
    }
}

/// A live console session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub id_hash: String,
    pub csrf_token: String,
    pub principal: Principal,
    pub expires_at: Millis,
}

/// What a new console session is for. A customer admin's session records the user's epoch,
/// so a deactivation ends it like the user's other sessions.
pub enum NewPrincipal {
    Platform(AdminId),
    Customer {
        org_id: OrgId,
        user_id: UserId,
        epoch: i64,
    },
    Setup {
        org_id: OrgId,
        link_id: String,
        link_expires_at: Millis,
    },
}

/// An `admin_sessions` row as `admin_session` reads it. Which of the principal's columns
/// are set depends on `kind`.
#[derive(sqlx::FromRow)]
struct AdminSessionRow {
    kind: String,
    admin_id: Option<String>,
    org_id: Option<String>,
    user_id: Option<String>,
    user_epoch: Option<i64>,
    link_id: Option<String>,
    csrf_token: String,
    last_seen_at: Millis,
    expires_at: Millis,
}

impl Directory {
    /// Starts a console session. A setup session never outlives its link.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_admin_session(
        &self,
        who: NewPrincipal,
        lifetimes: Lifetimes,
    ) -> Result<NewSession> {
        let new = NewSession {
            cookie: crate::random::token(32),
            csrf_token: crate::random::token(32),
        };
        let now = self.now();
        let mut expires_at = now + lifetimes.absolute_ms;
        let (kind, admin, org, user, epoch, link) = match who {
            NewPrincipal::Platform(a) => ("platform", Some(a.to_string()), None, None, None, None),
            NewPrincipal::Customer {
                org_id,
                user_id,
                epoch,
            } => (
                "customer",
                None,
                Some(org_id.to_string()),
                Some(user_id.to_string()),
                Some(epoch),
                None,
            ),
            NewPrincipal::Setup {
                org_id,
                link_id,
                link_expires_at,
            } => {
                expires_at = expires_at.min(link_expires_at);
                (
                    "setup",
                    None,
                    Some(org_id.to_string()),
                    None,
                    None,
                    Some(link_id),
                )
            }
        };
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into admin_sessions (id_hash, kind, admin_id, org_id, user_id, user_epoch, \
             link_id, csrf_token, created_at, last_seen_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
        )
        .bind(hash(&new.cookie))
        .bind(kind)
        .bind(admin)
        .bind(org)
        .bind(user)
        .bind(epoch)
        .bind(link)
        .bind(&new.csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// The live console session a cookie names. A session that no longer stands (expired,
    /// or its admin, user or link gone) is deleted and None returned.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn admin_session(
        &self,
        cookie: &str,
        lifetimes: Lifetimes,
    ) -> Result<Option<AdminSession>> {
        let id_hash = hash(cookie);
        let row = sqlx::query_as::<_, AdminSessionRow>(
            "select kind, admin_id, org_id, user_id, user_epoch, link_id, csrf_token, \
                    last_seen_at, expires_at \
             from admin_sessions where id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(self.db().reads())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now = self.now();
        let expires_at = row.expires_at;
        let last_seen = row.last_seen_at;
        let principal = if now >= expires_at || now >= last_seen + lifetimes.idle_ms {
            None
        } else {
            self.standing_principal(&row).await?
        };
        let Some(principal) = principal else {
            self.end_admin_session_by_hash(&id_hash).await?;
            return Ok(None);
        };
        if now - last_seen >= TOUCH_GRANULARITY_MS {
            let mut tx = self.db().begin().await?;
            sqlx::query("update admin_sessions set last_seen_at = $1 where id_hash = $2")
                .bind(now)
                .bind(&id_hash)
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
        }
        Ok(Some(AdminSession {
            id_hash,
            csrf_token: row.csrf_token,
            principal,
            expires_at,
        }))
    }

    /// The principal a session row stands for, if it still stands.
    async fn standing_principal(&self, row: &AdminSessionRow) -> Result<Option<Principal>> {
        let org_id = row
            .org_id
            .as_deref()
            .map(|o| parse_id(o, OrgId::parse))
            .transpose()?;
        match (row.kind.as_str(), org_id) {
            ("platform", _) => {
                let id = parse_id(row.admin_id.as_deref().unwrap_or_default(), AdminId::parse)?;
                let email: Option<String> =
                    sqlx::query_scalar("select email from admins where id = $1")
                        .bind(id.to_string())
                        .fetch_optional(self.db().reads())
                        .await?;
                Ok(email.map(|email| Principal::Platform {
                    admin_id: id,
                    email,
                }))
            }
            ("customer", Some(org_id)) => {
                let user_id = parse_id(row.user_id.as_deref().unwrap_or_default(), UserId::parse)?;
                let epoch = row.user_epoch;
                let Some(user) = self.user(org_id, user_id).await? else {
                    return Ok(None);
                };
                let Some(org) = self.org(org_id).await? else {
                    return Ok(None);
                };
                let stands = user.can_sign_in()
                    && Some(user.session_epoch) == epoch
                    && org.settings.enabled
                    && self.is_org_admin(org_id, &org.settings, user_id).await?;
                Ok(stands.then(|| Principal::Customer {
                    org_id,
                    user_id,
                    user_name: user.user_name.as_str().to_string(),
                }))
            }
            ("setup", Some(org_id)) => {
                let link_id = row.link_id.clone().unwrap_or_default();
                let live: Option<i64> = sqlx::query_scalar(
                    "select expires_at from admin_links where id = $1 and org_id = $2 \
                     and kind = 'setup' and revoked_at is null",
                )
                .bind(&link_id)
                .bind(org_id.to_string())
                .fetch_optional(self.db().reads())
                .await?;
                Ok(live
                    .filter(|exp| *exp > self.now())
                    .map(|_| Principal::Setup { org_id, link_id }))
            }
            _ => Ok(None),
        }
    }

    /// Ends one console session (sign-out).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_admin_session(&self, cookie: &str) -> Result<()> {
        self.end_admin_session_by_hash(&hash(cookie)).await
    }

    async fn end_admin_session_by_hash(&self, id_hash: &str) -> Result<()> {
        let mut tx = self.db().begin().await?;
        sqlx::query("delete from admin_sessions where id_hash = $1")
            .bind(id_hash)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every console session past its idle or absolute timeout; returns how many.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sweep_admin_sessions(&self, lifetimes: Lifetimes) -> Result<u64> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let done =
            sqlx::query("delete from admin_sessions where expires_at <= $1 or last_seen_at <= $2")
                .bind(now)
                .bind(now - lifetimes.idle_ms)
                .execute(tx.conn())
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
