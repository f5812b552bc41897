//! SCIM tokens. The secret (`ghs_` and 256 random bits, base64url) is shown once; only its
//! SHA-256 is stored, and a presented secret is compared with it in constant time.

use std::sync::LazyLock;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use subtle::ConstantTimeEq;

use super::model::{OrgId, TokenId};
use super::{parse_id, Actor, Directory, Error, Result};
use crate::clock::Millis;

/// Every SCIM token starts with this, so secret scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "ghs_";
/// How many characters of the secret are kept in the clear to tell tokens apart.
const SHOWN_CHARS: usize = 10;
/// The last-used time is written at most this often, not on every request.
const LAST_USED_GRANULARITY_MS: Millis = 60_000;

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: TokenId,
    pub org_id: OrgId,
    /// The first characters of the secret.
    pub prefix: String,
    pub description: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl TokenInfo {
    /// "active", "expired" or "revoked", as of `now`.
    pub fn status(&self, now: Millis) -> &'static str {
        status(self.revoked_at, self.expires_at, now)
    }
}

/// A credential's state (SCIM token, API key) as of `now`: "active", "expired" or
/// "revoked"; revocation wins over expiry.
pub(super) fn status(
    revoked_at: Option<Millis>,
    expires_at: Option<Millis>,
    now: Millis,
) -> &'static str {
    if revoked_at.is_some() {
        "revoked"
    } else if expires_at.is_some_and(|t| t <= now) {
        "expired"
    } else {
        "active"
    }
}

/// Why a presented token was refused. Clients are told only "invalid token"; the event log
/// gets the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    /// Issued for another organisation.
    WrongOrganisation,
    Expired,
    Revoked,
}

impl TokenRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unknown => "unknown token",
            Self::WrongOrganisation => "token belongs to another organisation",
            Self::Expired => "token has expired",
            Self::Revoked => "token has been revoked",
        }
    }
}

/// A newly issued secret; it exists only until it has been shown.
pub struct NewSecret(pub String);

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(***)")
    }
}

const TOKEN_COLUMNS: &str =
    "id, org_id, prefix, token_hash, description, created_at, expires_at, last_used_at, revoked_at";

impl Directory {
    /// Issues a token for an organisation; returns it with its secret.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn create_token(
        &self,
        org: OrgId,
        description: &str,
        expires_at: Option<Millis>,
        actor: &Actor,
    ) -> Result<(TokenInfo, NewSecret)> {
        let secret = format!("{TOKEN_PREFIX}{}", crate::random::token(32));
        let info = TokenInfo {
            id: TokenId::new(),
            org_id: org,
            prefix: secret[..SHOWN_CHARS].to_string(),
            description: description.trim().to_string(),
            created_at: self.now(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into scim_tokens (id, org_id, prefix, token_hash, description, created_at, \
             expires_at) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(info.id.to_string())
        .bind(org.to_string())
        .bind(&info.prefix)
        .bind(hash(&secret))
        .bind(&info.description)
        .bind(info.created_at)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        let detail =
            serde_json::json!({ "description": info.description, "expiresAt": expires_at });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "token.create",
            Some(info.id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((info, NewSecret(secret)))
    }

    /// An organisation's tokens, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn list_tokens(&self, org: OrgId) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(&format!(
            "select {TOKEN_COLUMNS} from scim_tokens where org_id = $1 order by created_at desc, id desc"
        ))
        .bind(org.to_string())
        .fetch_all(self.db().pool())
        .await?;
        rows.into_iter()
            .map(|r| token_from_row(&r, &PLAIN))
            .collect()
    }

    /// Revokes a token of this organisation; revoking twice is harmless.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn revoke_token(&self, org: OrgId, id: TokenId, actor: &Actor) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let updated = sqlx::query(
            "update scim_tokens set revoked_at = coalesce(revoked_at, $1) where org_id = $2 and id = $3",
        )
        .bind(self.now())
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("token"));
        }
        self.record(
            &mut tx,
            Some(org),
            actor,
            "token.revoke",
            Some(id.to_string()),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a presented secret for an organisation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn verify_token(
        &self,
        org: OrgId,
        secret: &str,
    ) -> Result<Result<TokenInfo, TokenRefusal>> {
        let found = self
            .row_for_secret("scim_tokens", TOKEN_COLUMNS, "token_hash", secret)
            .await?
            .map(|row| token_from_row(&row, &PLAIN))
            .transpose()?;
        self.accept_token(org, PresentedToken { found }).await
    }

    /// The organisation a SCIM URL names, and the token presented, read in one statement:
    /// every SCIM request needs both. None when no organisation has the slug. The token is
    /// judged by [`Self::accept_token`], which the caller runs after its rate limit.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn org_and_token(
        &self,
        slug: &str,
        secret: &str,
    ) -> Result<Option<(super::Org, PresentedToken)>> {
        let presented = hash(secret);
        // Built once: every SCIM request runs it.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            let org_columns = super::orgs::ORG_COLUMNS
                .split(", ")
                .map(|c| format!("o.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            let token_columns = TOKEN_COLUMNS
                .split(", ")
                .map(|c| format!("t.{c} as t_{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "select {org_columns}, {token_columns} from org_rows o \
                 left join scim_tokens t on t.token_hash = $2 where o.slug = $1"
            )
        });
        let row = sqlx::query(&SQL)
            .bind(slug)
            .bind(&presented)
            .fetch_optional(self.db().pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let org = super::orgs::org_from_row(&row)?;
        let stored: Option<String> = row.try_get("t_token_hash")?;
        let found = match stored {
            Some(s) if same_hash(&s, &presented) => Some(token_from_row(&row, &ALIASED)?),
            _ => None,
        };
        Ok(Some((org, PresentedToken { found })))
    }

    /// Accepts a presented token for an organisation, or says why not; records its use.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn accept_token(
        &self,
        org: OrgId,
        presented: PresentedToken,
    ) -> Result<Result<TokenInfo, TokenRefusal>> {
        let Some(info) = presented.found else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        let now = self.now();
        if info.org_id != org {
            return Ok(Err(TokenRefusal::WrongOrganisation));
        }
        if info.revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Revoked));
        }
        if info.expires_at.is_some_and(|t| t <= now) {
            return Ok(Err(TokenRefusal::Expired));
        }
        self.touch_last_used("scim_tokens", &info.id.to_string(), info.last_used_at)
            .await?;
        Ok(Ok(info))
    }

    /// The row of `table` whose `hash_column` holds the hash of a presented secret (SCIM
    /// tokens, admin API keys), or None.
    pub(super) async fn row_for_secret(
        &self,
        table: &str,
        columns: &str,
        hash_column: &str,
        secret: &str,
    ) -> Result<Option<AnyRow>> {
        let presented = hash(secret);
        let row = sqlx::query(&format!(
            "select {columns} from {table} where {hash_column} = $1"
        ))
        .bind(&presented)
        .fetch_optional(self.db().pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: String = row.try_get(hash_column)?;
        Ok(same_hash(&stored, &presented).then_some(row))
    }

    /// Records that a credential of `table` was used, at most once a
    /// [`LAST_USED_GRANULARITY_MS`], so that a busy client does not write on every request.
    pub(super) async fn touch_last_used(
        &self,
        table: &str,
        id: &str,
        last_used_at: Option<Millis>,
    ) -> Result<()> {
        let now = self.now();
        if last_used_at.is_some_and(|t| now - t < LAST_USED_GRANULARITY_MS) {
            return Ok(());
        }
        let mut tx = self.db().begin().await?;
        sqlx::query(&format!(
            "update {table} set last_used_at = $1 where id = $2"
        ))
        .bind(now)
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Lowercase hex SHA-256: the only form of a secret that is stored.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A row found by a secret's hash holds that hash. Compared in constant time all the same,
/// which keeps that true even if the lookup ever becomes a prefix or range match.
fn same_hash(stored: &str, presented: &str) -> bool {
    bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))
}

/// The names a row gives the token's columns: as in the table, or with `t_` before them
/// (beside an organisation's, in `org_and_token`).
struct TokenNames {
    id: &'static str,
    org_id: &'static str,
    prefix: &'static str,
    description: &'static str,
    created_at: &'static str,
    expires_at: &'static str,
    last_used_at: &'static str,
    revoked_at: &'static str,
}

const PLAIN: TokenNames = TokenNames {
    id: "id",
    org_id: "org_id",
    prefix: "prefix",
    description: "description",
    created_at: "created_at",
    expires_at: "expires_at",
    last_used_at: "last_used_at",
    revoked_at: "revoked_at",
};

const ALIASED: TokenNames = TokenNames {
    id: "t_id",
    org_id: "t_org_id",
    prefix: "t_prefix",
    description: "t_description",
    created_at: "t_created_at",
    expires_at: "t_expires_at",
    last_used_at: "t_last_used_at",
    revoked_at: "t_revoked_at",
};

fn token_from_row(row: &AnyRow, n: &TokenNames) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: parse_id(&row.try_get::<String, _>(n.id)?, TokenId::parse)?,
        org_id: parse_id(&row.try_get::<String, _>(n.org_id)?, OrgId::parse)?,
        prefix: row.try_get(n.prefix)?,
        description: row.try_get(n.description)?,
        created_at: row.try_get(n.created_at)?,
        expires_at: row.try_get(n.expires_at)?,
        last_used_at: row.try_get(n.last_used_at)?,
        revoked_at: row.try_get(n.revoked_at)?,
    })
}

/// A presented SCIM token as found (or not) by its hash, before it is judged.
pub struct PresentedToken {
    found: Option<TokenInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
