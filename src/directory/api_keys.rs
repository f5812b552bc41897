//! Admin API keys for `/api/v1`. Like SCIM tokens: the secret (`gha_` and 256 random bits,
//! base64url) is shown once, only its SHA-256 is stored, and a presented secret is compared
//! with it in constant time. A key scoped to an organisation acts on that organisation only;
//! a key without one acts as a platform admin.

use serde::Serialize;

use super::model::{OrgId, UserId};
use super::tokens::{hash, HashedRow, NewSecret};
use super::{parse_id, Actor, Directory, Error, Result};
use crate::clock::Millis;

/// Every admin API key starts with this, so secret scanners can recognise a leaked one.
pub const KEY_PREFIX: &str = "gha_";
/// How many characters of the secret are kept in the clear to tell keys apart.
const SHOWN_CHARS: usize = 10;
/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    /// None: a platform-wide key.
    pub org_id: Option<OrgId>,
    /// The first characters of the secret.
    pub prefix: String,
    pub description: String,
    /// Who issued it, as the event log writes actors.
    pub created_by: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl ApiKeyInfo {
    /// "active", "expired" or "revoked", as of `now`.
    pub fn status(&self, now: Millis) -> &'static str {
        super::tokens::status(self.revoked_at, self.expires_at, now)
    }

    /// Who this key acts as, in the event log.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.id.clone())
    }
}

/// Which keys to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// Every key, platform-wide and scoped alike.
    All,
    /// The keys of one organisation.
    Org(OrgId),
}

/// Why a presented key was refused. Clients are told only that the key is not valid; the
/// server log gets the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyRefusal {
    Unknown,
    Expired,
    Revoked,
    /// The key's organisation is disabled: its keys stop with it.
    OrgDisabled,
    /// Whoever issued the key no longer holds the rights it was issued with (a customer
    /// admin who lost the organisation, or whose account ended; a platform admin removed).
    IssuerGone,
}

impl ApiKeyRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unknown => "unknown API key",
            Self::Expired => "API key has expired",
            Self::Revoked => "API key has been revoked",
            Self::OrgDisabled => "the API key's organisation is disabled",
            Self::IssuerGone => "whoever issued the API key no longer holds its rights",
        }
    }
}

const KEY_COLUMNS: &str = "id, org_id, prefix, key_hash, description, created_by, created_at, \
     expires_at, last_used_at, revoked_at";

impl Directory {
    /// Issues a key, scoped to an organisation or (None) platform-wide; returns it with its
    /// secret. The event goes to the key's organisation (none for a platform-wide key).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_api_key(
        &self,
        org: Option<OrgId>,
        description: &str,
        expires_at: Option<Millis>,
        actor: &Actor,
    ) -> Result<(ApiKeyInfo, NewSecret)> {
        let secret = format!("{KEY_PREFIX}{}", crate::random::token(32));
        let info = ApiKeyInfo {
            id: uuid::Uuid::now_v7().to_string(),
            org_id: org,
            prefix: secret[..SHOWN_CHARS].to_string(),
            description: description.trim().to_string(),
            created_by: actor.to_string(),
            created_at: self.now(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into api_keys (id, org_id, prefix, key_hash, description, created_by, \
             created_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&info.id)
        .bind(org.map(|o| o.to_string()))
        .bind(&info.prefix)
        .bind(hash(&secret))
        .bind(&info.description)
        .bind(&info.created_by)
        .bind(info.created_at)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        let detail = serde_json::json!({
            "description": info.description,
            "expiresAt": expires_at,
            "scope": if org.is_some() { "organisation" } else { "platform" },
        });
        self.record(
            &mut tx,
            org,
            actor,
            "api_key.create",
            Some(info.id.clone()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((info, NewSecret(secret)))
    }

    /// Keys, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_api_keys(&self, scope: KeyScope) -> Result<Vec<ApiKeyInfo>> {
        let (condition, org) = match scope {
            KeyScope::All => ("$1 = ''", String::new()),
            KeyScope::Org(org) => ("org_id = $1", org.to_string()),
        };
        let rows = sqlx::query_as::<_, KeyRow>(&format!(
            "select {KEY_COLUMNS} from api_keys where {condition} \
             order by created_at desc, id desc"
        ))
        .bind(org)
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(ApiKeyInfo::try_from).collect()
    }

    /// One key by id, if it is within `scope`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn api_key(&self, scope: KeyScope, id: &str) -> Result<Option<ApiKeyInfo>> {
        let row = sqlx::query_as::<_, KeyRow>(&format!(
            "select {KEY_COLUMNS} from api_keys where id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db().reads())
        .await?;
        let key = row.map(ApiKeyInfo::try_from).transpose()?;
        Ok(key.filter(|k| match scope {
            KeyScope::All => true,
            KeyScope::Org(org) => k.org_id == Some(org),
        }))
    }

    /// Revokes a key within `scope`; revoking twice is harmless. A key outside the scope is
    /// not found, like one that does not exist.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_api_key(&self, scope: KeyScope, id: &str, actor: &Actor) -> Result<()> {
        let key = self
            .api_key(scope, id)
            .await?
            .ok_or(Error::NotFound("API key"))?;
        let mut tx = self.db().begin().await?;
        sqlx::query("update api_keys set revoked_at = coalesce(revoked_at, $1) where id = $2")
            .bind(self.now())
            .bind(&key.id)
            .execute(tx.conn())
            .await?;
        self.record(
            &mut tx,
            key.org_id,
            actor,
            "api_key.revoke",
            Some(key.id.clone()),
            serde_json::json!({ "prefix": key.prefix }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a presented secret.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn verify_api_key(&self, secret: &str) -> Result<Result<ApiKeyInfo, ApiKeyRefusal>> {
        let Some(row) = self
            .row_for_secret::<KeyRow>("api_keys", KEY_COLUMNS, "key_hash", secret)
            .await?
        else {
            return Ok(Err(ApiKeyRefusal::Unknown));
        };
        let info = ApiKeyInfo::try_from(row)?;
        let now = self.now();
        if info.revoked_at.is_some() {
            return Ok(Err(ApiKeyRefusal::Revoked));
        }
        if info.expires_at.is_some_and(|t| t <= now) {
            return Ok(Err(ApiKeyRefusal::Expired));
        }
        if let Some(refusal) = self.key_rights_ended(&info).await? {
            return Ok(Err(refusal));
        }
        self.touch_last_used("api_keys", &info.id, info.last_used_at)
            .await?;
        Ok(Ok(info))
    }
}

impl Directory {
    /// Why a key that is neither revoked nor expired must still stop: a key can do no more
    /// than the organisation and the person it was issued for. Checked on every use, so a
    /// change (an organisation disabled, an admin's grant taken away, a user deactivated or
    /// erased) takes effect at once, with no key to revoke by hand.
    async fn key_rights_ended(&self, key: &ApiKeyInfo) -> Result<Option<ApiKeyRefusal>> {
        let org = match key.org_id {
            Some(id) => match self.org(id).await? {
                Some(org) if org.settings.enabled => Some(org),
                _ => return Ok(Some(ApiKeyRefusal::OrgDisabled)),
            },
            None => None,
        };
        let root = self.root_issuer(&key.created_by).await?;
        let issuer = root.as_deref().and_then(|r| r.split_once(':'));
        let holds = match (issuer, &org) {
            (Some(("org-admin", user)), Some(org)) => match UserId::parse(user) {
                Some(user) => {
                    let live = self
                        .user(org.id, user)
                        .await?
                        .is_some_and(|u| u.can_sign_in());
                    live && self.is_org_admin(org.id, &org.settings, user).await?
                }
                None => false,
            },
            // A customer admin acts on its own organisation only: a key it issued that is
            // not scoped to it has no rights to inherit.
            (Some(("org-admin", _)), None) => false,
            (Some(("admin", admin)), _) => {
                let found: Option<String> =
                    sqlx::query_scalar("select id from admins where id = $1")
                        .bind(admin)
                        .fetch_optional(self.db().reads())
                        .await?;
                found.is_some()
            }
            // A chain of keys too long to follow, or one whose first key is gone.
            _ if root.is_none() => false,
            // The command line, a setup link: rights that do not end.
            _ => true,
        };
        Ok((!holds).then_some(ApiKeyRefusal::IssuerGone))
    }

    /// Who first issued a key that another key issued: a key minted by a key has the rights
    /// of the person behind the first one. None when the chain is broken or too long.
    async fn root_issuer(&self, created_by: &str) -> Result<Option<String>> {
        let mut issuer = created_by.to_string();
        for _ in 0..8 {
            let Some(parent) = issuer.strip_prefix("api-key:") else {
                return Ok(Some(issuer));
            };
            let next: Option<String> =
                sqlx::query_scalar("select created_by from api_keys where id = $1")
                    .bind(parent)
                    .fetch_optional(self.db().reads())
                    .await?;
            match next {
                Some(next) => issuer = next,
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// An `api_keys` row ([`KEY_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    id: String,
    org_id: Option<String>,
    prefix: String,
    key_hash: String,
    description: String,
    created_by: String,
    created_at: Millis,
    expires_at: Option<Millis>,
    last_used_at: Option<Millis>,
    revoked_at: Option<Millis>,
}

impl HashedRow for KeyRow {
    fn stored_hash(&self) -> &str {
        &self.key_hash
    }
}

impl TryFrom<KeyRow> for ApiKeyInfo {
    type Error = Error;

    fn try_from(row: KeyRow) -> Result<ApiKeyInfo> {
        Ok(ApiKeyInfo {
            id: row.id,
            org_id: row.org_id.map(|o| parse_id(&o, OrgId::parse)).transpose()?,
            prefix: row.prefix,
            description: row.description,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}
