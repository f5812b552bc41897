//! Browser sessions, stored so that every server sharing the database can read them.
//! Reading a session re-reads its user and organisation in the same query: that is what
//! makes a deactivation take effect on the very next request.

use super::model::{OrgId, OrgSlug, UserId};
use super::orgs::{Org, OrgSettings};
use super::tokens::hash;
use super::users::{OrgRef, User, UserRow};
use super::{stored_json, Directory, Error, Result};
use crate::clock::Millis;
use crate::db::WriteTx;

/// The last-seen time is written at most this often, not on every request.
const TOUCH_GRANULARITY_MS: Millis = 60_000;

/// A new session's secrets: the cookie value and the token its forms carry.
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle_ms: Millis,
    pub absolute_ms: Millis,
}

/// A session that is alive, with its user and organisation as they are now.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id_hash: String,
    pub csrf_token: String,
    pub user: User,
    pub org_slug: OrgSlug,
    pub org_settings: OrgSettings,
    /// The display names of the user's groups, in order of their case-folded names.
    pub groups: Vec<String>,
}

/// Why a presented session does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    Unknown,
    Expired,
    /// The user is deactivated or deleted, or its epoch has moved on.
    UserGone,
    OrgDisabled,
}

/// A row of the view `session_rows`: the session, its organisation's slug and settings,
/// the user's group names, and the user.
#[derive(sqlx::FromRow)]
struct SessionRow {
    s_epoch: i64,
    csrf_token: String,
    s_created_at: Millis,
    last_seen_at: Millis,
    expires_at: Millis,
    slug: String,
    settings: String,
    group_names: String,
    #[sqlx(flatten)]
    user: UserRow,
}

impl Directory {
    /// Starts a session for a user under its current epoch. Always a new id: a login never
    /// continues a session the browser brought (no fixation). It lasts the organisation's
    /// `session_lifetime` where it has one, else the server's absolute timeout.
    #[tracing::instrument(level = "debug", skip_all, fields(org = tracing::field::Empty))]
    pub async fn create_session(
        &self,
        org: impl Into<OrgRef<'_>>,
        user: &User,
        lifetimes: Lifetimes,
    ) -> Result<NewSession> {
        let org = OrgRef::traced(org);
        let org = self.org_for_policy(org).await?;
        let mut tx = self.db().begin().await?;
        let new = self.open_session(&mut tx, &org, user, lifetimes).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// [`Self::create_session`] inside the caller's transaction (a sign-in's).
    pub(in crate::directory) async fn open_session(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        user: &User,
        lifetimes: Lifetimes,
    ) -> Result<NewSession> {
        let new = NewSession {
            cookie: crate::random::token(32),
            csrf_token: crate::random::token(32),
        };
        let absolute_ms = org_lifetime_ms(&org.settings).unwrap_or(lifetimes.absolute_ms);
        let now = self.now();
        sqlx::query(
            "insert into sessions (id_hash, org_id, user_id, epoch, csrf_token, created_at, \
             last_seen_at, expires_at) values ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(hash(&new.cookie))
        .bind(org.id.to_string())
        .bind(user.id.to_string())
        .bind(user.session_epoch)
        .bind(&new.csrf_token)
        .bind(now)
        .bind(now + absolute_ms)
        .execute(tx.conn())
        .await?;
        Ok(new)
    }

    /// The live session a cookie names, or why there is none. One statement (the view
    /// `session_rows`) reads the session, its user, its organisation and the user's groups:
    /// `/auth/check` runs this on every request of the app behind.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn session(
        &self,
        cookie: &str,
        lifetimes: Lifetimes,
    ) -> Result<Result<LiveSession, SessionRefusal>> {
        let id_hash = hash(cookie);
        let row = sqlx::query_as::<_, SessionRow>(
            "select s_epoch, csrf_token, s_created_at, last_seen_at, expires_at, slug, settings, \
                    id, org_id, user_name, external_id, active, deleted_at, session_epoch, \
                    profile, created_at, updated_at, version, group_names \
             from session_rows where id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(self.db().reads())
        .await?;
        let Some(row) = row else {
            return Ok(Err(SessionRefusal::Unknown));
        };
        let now = self.now();
        let SessionRow {
            s_epoch: epoch,
            csrf_token,
            s_created_at: created_at,
            last_seen_at: last_seen,
            mut expires_at,
            slug,
            settings,
            group_names,
            user,
        } = row;
        let settings: OrgSettings = stored_json("organisation settings", &settings)?;
        let slug = OrgSlug::parse(&slug).map_err(|e| Error::Corrupt(e.0))?;
        let groups: Vec<String> = stored_json("group names", &group_names)?;
        let user = User::try_from(user)?;
        // The lifetime in force now (the organisation's, else the server's) bounds the
        // session too: shortening it ends the open sessions that are older at once.
        // Lengthening it does not prolong them: the end stored at sign-in stays (the sweep
        // relies on it); sessions made afterwards last longer.
        let lifetime = org_lifetime_ms(&settings).unwrap_or(lifetimes.absolute_ms);
        expires_at = expires_at.min(created_at + lifetime);
        let refusal = if now >= expires_at || now >= last_seen + lifetimes.idle_ms {
            Some(SessionRefusal::Expired)
        } else if !user.can_sign_in() || user.session_epoch != epoch {
            Some(SessionRefusal::UserGone)
        } else if !settings.enabled {
            Some(SessionRefusal::OrgDisabled)
        } else {
            None
        };
        if let Some(r) = refusal {
            self.end_session_by_hash(&id_hash).await?;
            return Ok(Err(r));
        }
        if now - last_seen >= TOUCH_GRANULARITY_MS {
            let mut tx = self.db().begin().await?;
            sqlx::query("update sessions set last_seen_at = $1 where id_hash = $2")
                .bind(now)
                .bind(&id_hash)
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
        }
        Ok(Ok(LiveSession {
            id_hash,
            csrf_token,
            user,
            org_slug: slug,
            org_settings: settings,
            groups,
        }))
    }

    /// Ends one session (sign-out).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_session(&self, cookie: &str) -> Result<()> {
        self.end_session_by_hash(&hash(cookie)).await
    }

    async fn end_session_by_hash(&self, id_hash: &str) -> Result<()> {
        let mut tx = self.db().begin().await?;
        sqlx::query("delete from sessions where id_hash = $1")
            .bind(id_hash)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every session past its idle or absolute timeout; returns how many.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sweep_sessions(&self, lifetimes: Lifetimes) -> Result<u64> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let done = sqlx::query("delete from sessions where expires_at <= $1 or last_seen_at <= $2")
            .bind(now)
            .bind(now - lifetimes.idle_ms)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// How many sessions a user holds (for the console, and tests).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn session_count(&self, org: OrgId, user: UserId) -> Result<i64> {
        Ok(
            sqlx::query_scalar("select count(*) from sessions where org_id = $1 and user_id = $2")
                .bind(org.to_string())
                .bind(user.to_string())
                .fetch_one(self.db().reads())
                .await?,
        )
    }
}

/// The organisation's `session_lifetime`, in milliseconds, where it sets one.
fn org_lifetime_ms(settings: &OrgSettings) -> Option<Millis> {
    settings
        .policy
        .session_lifetime
        .map(|hours| Millis::from(hours) * 3_600_000)
}

/// Removes a user's sessions inside the caller's transaction: deactivation and deletion
/// clear them at once, beside moving the epoch, which already makes them useless.
pub(super) async fn end_user_sessions(
    conn: &mut sqlx::AnyConnection,
    org: OrgId,
    user: UserId,
) -> Result<()> {
    sqlx::query("delete from sessions where org_id = $1 and user_id = $2")
        .bind(org.to_string())
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
