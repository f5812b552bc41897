//! One-time links into the console. A setup link lets a customer's IT admin configure one
//! organisation's connections and tokens without an account; the first-admin link, printed
//! at first start, lets the first person create the first platform admin. Only a hash of a
//! link's secret is stored; a link works once, until it expires or is revoked.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::FromRow;

use crate::clock::Millis;
use crate::directory::model::{AdminId, Email, OrgId};
use crate::directory::orgs::conflict;
use crate::directory::tokens::hash;
use crate::directory::{parse_id, Actor, Directory, Error, Result};

/// A setup link as listed: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupLink {
    pub id: String,
    pub org_id: OrgId,
    pub note: String,
    pub created_by: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl SetupLink {
    /// "unused", "used", "expired" or "revoked", as of `now`.
    pub fn state(&self, now: Millis) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.used_at.is_some() {
            "used"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "unused"
        }
    }
}

/// Why a presented link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    Unknown,
    Used,
    Expired,
    Revoked,
}

impl LinkRefusal {
    pub fn message(self) -> &'static str {
        match self {
            Self::Unknown => "This link is not valid. Check that it was copied whole.",
            Self::Used => "This link has already been used. Ask for a new one.",
            Self::Expired => "This link has expired. Ask for a new one.",
            Self::Revoked => "This link has been revoked. Ask for a new one.",
        }
    }
}

const LINK_COLUMNS: &str =
    "id, kind, org_id, note, created_by, created_at, expires_at, used_at, revoked_at";

impl Directory {
    /// Issues a setup link for an organisation; returns it with its secret.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn create_setup_link(
        &self,
        org: OrgId,
        note: &str,
        expires_at: Millis,
        actor: &Actor,
    ) -> Result<(SetupLink, String)> {
        let secret = crate::random::token(32);
        let link = SetupLink {
            id: uuid::Uuid::now_v7().to_string(),
            org_id: org,
            note: note.trim().to_string(),
            created_by: actor.to_string(),
            created_at: self.now(),
            expires_at,
            used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db().begin().await?;
        insert_link(&mut tx, &link.id, "setup", Some(org), &secret, &link).await?;
        let detail = serde_json::json!({ "note": link.note, "expiresAt": expires_at });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "setup_link.create",
            Some(link.id.clone()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((link, secret))
    }

    /// An organisation's setup links, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn setup_links(&self, org: OrgId) -> Result<Vec<SetupLink>> {
        let rows = sqlx::query(&format!(
            "select {LINK_COLUMNS} from admin_links where org_id = $1 and kind = 'setup' \
             order by created_at desc, id desc"
        ))
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(link_from_row).collect()
    }

    /// Revokes a setup link; the sessions opened with it end too.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn revoke_setup_link(&self, org: OrgId, id: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let done = sqlx::query(
            "update admin_links set revoked_at = $1 where id = $2 and org_id = $3 \
             and kind = 'setup' and revoked_at is null",
        )
        .bind(self.now())
        .bind(id)
        .bind(org.to_string())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("setup link"));
        }
        sqlx::query("delete from admin_sessions where kind = 'setup' and link_id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        self.record(
            &mut tx,
            Some(org),
            actor,
            "setup_link.revoke",
            Some(id.to_string()),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The setup link a secret names, if it would open now; nothing is marked.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn peek_setup_link(&self, secret: &str) -> Result<Result<SetupLink, LinkRefusal>> {
        let row = sqlx::query(&format!(
            "select {LINK_COLUMNS} from admin_links where token_hash = $1 and kind = 'setup'"
        ))
        .bind(hash(secret))
        .fetch_optional(self.db().reads())
        .await?;
        let Some(link) = row.map(link_from_row).transpose()? else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        Ok(match refusal(&link, self.now()) {
            Some(r) => Err(r),
            None => Ok(link),
        })
    }

    /// Uses a setup link: marks it used (once only) and returns it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn use_setup_link(&self, secret: &str) -> Result<Result<SetupLink, LinkRefusal>> {
        let mut tx = self.db().begin().await?;
        let row = sqlx::query(&format!(
            "select {LINK_COLUMNS} from admin_links where token_hash = $1 and kind = 'setup'"
        ))
        .bind(hash(secret))
        .fetch_optional(tx.conn())
        .await?;
        let Some(link) = row.map(link_from_row).transpose()? else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        let now = self.now();
        if let Some(refusal) = refusal(&link, now) {
            return Ok(Err(refusal));
        }
        // `used_at is null` in the update makes two concurrent uses end with one winner.
        let done =
            sqlx::query("update admin_links set used_at = $1 where id = $2 and used_at is null")
                .bind(now)
                .bind(&link.id)
                .execute(tx.conn())
                .await?;
        if done.rows_affected() == 0 {
            return Ok(Err(LinkRefusal::Used));
        }
        self.record(
            &mut tx,
            Some(link.org_id),
            &Actor::System,
            "setup_link.use",
            Some(link.id.clone()),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(SetupLink {
            used_at: Some(now),
            ..link
        }))
    }

    /// How many platform admins exist.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn count_admins(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from admins")
            .fetch_one(self.db().reads())
            .await?)
    }

    /// Issues the first-admin link, valid until `expires_at`, when no platform admin exists
    /// yet; returns its secret, or None when there is an admin already.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_first_admin_link(&self, expires_at: Millis) -> Result<Option<String>> {
        if self.count_admins().await? > 0 {
            return Ok(None);
        }
        let secret = crate::random::token(32);
        let id = uuid::Uuid::now_v7().to_string();
        let link = SetupLink {
            id: id.clone(),
            org_id: OrgId::new(),
            note: "first admin".into(),
            created_by: Actor::System.to_string(),
            created_at: self.now(),
            expires_at,
            used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db().begin().await?;
        insert_link(&mut tx, &id, "first_admin", None, &secret, &link).await?;
        tx.commit().await?;
        Ok(Some(secret))
    }

    /// Whether a first-admin link would open now (for showing its form).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn check_first_admin_link(&self, secret: &str) -> Result<Result<(), LinkRefusal>> {
        let row = sqlx::query(&format!(
            "select {LINK_COLUMNS} from admin_links where token_hash = $1 and kind = 'first_admin'"
        ))
        .bind(hash(secret))
        .fetch_optional(self.db().reads())
        .await?;
        let Some(link) = row.map(link_from_row).transpose()? else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        if self.count_admins().await? > 0 {
            return Ok(Err(LinkRefusal::Used));
        }
        Ok(refusal(&link, self.now()).map_or(Ok(()), Err))
    }

    /// Creates the first platform admin through the first-admin link, in one transaction
    /// that also uses the link up. Refused once any admin exists.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn use_first_admin_link(
        &self,
        secret: &str,
        email: &Email,
        password_hash: &str,
    ) -> Result<Result<AdminId, LinkRefusal>> {
        if let Err(refusal) = self.check_first_admin_link(secret).await? {
            return Ok(Err(refusal));
        }
        let now = self.now();
        let id = AdminId::new();
        let mut tx = self.db().begin().await?;
        let done = sqlx::query(
            "update admin_links set used_at = $1 where token_hash = $2 \
             and kind = 'first_admin' and used_at is null",
        )
        .bind(now)
        .bind(hash(secret))
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Err(LinkRefusal::Used));
        }
        sqlx::query(
            "insert into admins (id, email, email_key, password_hash, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(email.as_str())
        .bind(email.key())
        .bind(password_hash)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, "admins_email_key", "email", email.as_str()))?;
        let detail = serde_json::json!({ "email": email, "via": "first-admin link" });
        self.record(
            &mut tx,
            None,
            &Actor::Admin(id),
            "admin.create",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(id))
    }
}

fn refusal(link: &SetupLink, now: Millis) -> Option<LinkRefusal> {
    match link.state(now) {
        "revoked" => Some(LinkRefusal::Revoked),
        "used" => Some(LinkRefusal::Used),
        "expired" => Some(LinkRefusal::Expired),
        _ => None,
    }
}

async fn insert_link(
    tx: &mut crate::db::WriteTx,
    id: &str,
    kind: &str,
    org: Option<OrgId>,
    secret: &str,
    link: &SetupLink,
) -> Result<()> {
    sqlx::query(
        "insert into admin_links (id, kind, org_id, token_hash, note, created_by, created_at, \
         expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(kind)
    .bind(org.map(|o| o.to_string()))
    .bind(hash(secret))
    .bind(&link.note)
    .bind(&link.created_by)
    .bind(link.created_at)
    .bind(link.expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An `admin_links` row ([`LINK_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct LinkRow {
    id: String,
    org_id: Option<String>,
    note: String,
    created_by: String,
    created_at: Millis,
    expires_at: Millis,
    used_at: Option<Millis>,
    revoked_at: Option<Millis>,
}

impl TryFrom<LinkRow> for SetupLink {
    type Error = Error;

    fn try_from(row: LinkRow) -> Result<SetupLink> {
        Ok(SetupLink {
            id: row.id,
            org_id: match row.org_id {
                Some(o) => parse_id(&o, OrgId::parse)?,
                None => OrgId(uuid::Uuid::nil()),
            },
            note: row.note,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            revoked_at: row.revoked_at,
        })
    }
}

fn link_from_row(row: AnyRow) -> Result<SetupLink> {
    SetupLink::try_from(LinkRow::from_row(&row)?)
}
