//! SCIM tokens. The secret (`ghs_` and 256 random bits, base64url) is shown once; only its
//! SHA-256 is stored, and a presented secret is compared with it in constant time.

use std::sync::LazyLock;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::FromRow;
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
        let rows = sqlx::query_as::<_, TokenRow>(&format!(
            "select {TOKEN_COLUMNS} from scim_tokens where org_id = $1 order by created_at desc, id desc"
        ))
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter().map(TokenInfo::try_from).collect()
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
            .row_for_secret::<TokenRow>("scim_tokens", TOKEN_COLUMNS, "token_hash", secret)
            .await?
            .map(TokenInfo::try_from)
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
            .fetch_optional(self.db().reads())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let org = super::orgs::org_from_row(&row)?;
        let found = match JoinedTokenRow::from_row(&row)?.token() {
            Some(t) if same_hash(&t.token_hash, &presented) => Some(TokenInfo::try_from(t)?),
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
    pub(super) async fn row_for_secret<R: HashedRow>(
        &self,
        table: &str,
        columns: &str,
        hash_column: &str,
        secret: &str,
    ) -> Result<Option<R>> {
        let presented = hash(secret);
        let row = sqlx::query_as::<_, R>(&format!(
            "select {columns} from {table} where {hash_column} = $1"
        ))
        .bind(&presented)
        .fetch_optional(self.db().reads())
        .await?;
        Ok(row.filter(|r| same_hash(r.stored_hash(), &presented)))
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

/// A row of a table of credentials, which holds the hash of its secret (for
/// [`Directory::row_for_secret`]).
pub(super) trait HashedRow: for<'r> FromRow<'r, AnyRow> + Send + Unpin {
    fn stored_hash(&self) -> &str;
}

impl HashedRow for TokenRow {
    fn stored_hash(&self) -> &str {
        &self.token_hash
    }
}

/// A row found by a secret's hash holds that hash. Compared in constant time all the same,
/// which keeps that true even if the lookup ever becomes a prefix or range match.
fn same_hash(stored: &str, presented: &str) -> bool {
    bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))
}

/// A `scim_tokens` row ([`TOKEN_COLUMNS`]).
#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    org_id: String,
    prefix: String,
    token_hash: String,
    description: String,
    created_at: Millis,
    expires_at: Option<Millis>,
    last_used_at: Option<Millis>,
    revoked_at: Option<Millis>,
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = Error;

    fn try_from(row: TokenRow) -> Result<TokenInfo> {
        Ok(TokenInfo {
            id: parse_id(&row.id, TokenId::parse)?,
            org_id: parse_id(&row.org_id, OrgId::parse)?,
            prefix: row.prefix,
            description: row.description,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// The token's columns of `org_and_token`'s row, beside the organisation's: named with `t_`
/// before them, and null when the left join found no token.
#[derive(sqlx::FromRow)]
struct JoinedTokenRow {
    t_id: Option<String>,
    t_org_id: Option<String>,
    t_prefix: Option<String>,
    t_token_hash: Option<String>,
    t_description: Option<String>,
    t_created_at: Option<Millis>,
    t_expires_at: Option<Millis>,
    t_last_used_at: Option<Millis>,
    t_revoked_at: Option<Millis>,
}

impl JoinedTokenRow {
    /// The token, when the join found one.
    fn token(self) -> Option<TokenRow> {
        Some(TokenRow {
            id: self.t_id?,
            org_id: self.t_org_id?,
            prefix: self.t_prefix?,
            token_hash: self.t_token_hash?,
            description: self.t_description?,
            created_at: self.t_created_at?,
            expires_at: self.t_expires_at,
            last_used_at: self.t_last_used_at,
            revoked_at: self.t_revoked_at,
        })
    }
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
