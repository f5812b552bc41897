//! OIDC connection storage and pending login flows. The protocol lives in `sso::oidc`.

use serde::Serialize;

use crate::clock::Millis;
use crate::directory::model::OrgId;
use crate::directory::tokens::hash;
use crate::directory::{Actor, Directory, Result};

/// An organisation's OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OidcConnection {
    pub org_id: OrgId,
    pub issuer: String,
    pub client_id: String,
    /// Sealed with the secrets key; never serialised.
    #[serde(skip)]
    pub sealed_secret: Option<String>,
    pub scopes: Vec<String>,
}

/// The connection an organisation's OIDC links are recorded under.
pub fn connection_key(org: OrgId) -> String {
    format!("oidc:{org}")
}

/// Whether two issuer URLs name the same provider: equal but for a final slash, which
/// providers and admins add or leave out freely.
pub fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A flow waiting for its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFlow {
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

/// An `oidc_connections` row as `oidc_connection` reads it.
#[derive(sqlx::FromRow)]
struct OidcConnectionRow {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: String,
}

/// A pending flow as `take_oidc_flow` reads it.
#[derive(sqlx::FromRow)]
struct OidcFlowRow {
    org_id: String,
    browser_hash: String,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
    expires_at: Millis,
}

impl Directory {
    /// Sets (or replaces) an organisation's OpenID provider. A new issuer is another
    /// provider: the links its predecessor's subjects made are ended in the same
    /// transaction (a `sub` is unique only within its issuer, OIDC Core §2), so no account
    /// is reached by the new provider's users through the old provider's links.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_oidc_connection(&self, c: &OidcConnection, actor: &Actor) -> Result<()> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let previous: Option<String> =
            sqlx::query_scalar("select issuer from oidc_connections where org_id = $1")
                .bind(c.org_id.to_string())
                .fetch_optional(tx.conn())
                .await?;
        sqlx::query(
            "insert into oidc_connections (org_id, issuer, client_id, client_secret, scopes, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $6) on conflict (org_id) do update set issuer = excluded.issuer, \
             client_id = excluded.client_id, client_secret = excluded.client_secret, scopes = excluded.scopes, \
             updated_at = excluded.updated_at",
        )
        .bind(c.org_id.to_string())
        .bind(&c.issuer)
        .bind(&c.client_id)
        .bind(&c.sealed_secret)
        .bind(c.scopes.join(" "))
        .bind(now)
        .execute(tx.conn())
        .await?;
        let detail = serde_json::json!({
            "issuer": c.issuer, "clientId": c.client_id,
            "confidential": c.sealed_secret.is_some(), "scopes": c.scopes,
        });
        self.record(
            &mut tx,
            Some(c.org_id),
            actor,
            "oidc.connection.set",
            None,
            detail,
        )
        .await?;
        if let Some(old) = previous.filter(|old| !same_issuer(old, &c.issuer)) {
            let ended =
                sqlx::query("delete from identities where org_id = $1 and connection_id = $2")
                    .bind(c.org_id.to_string())
                    .bind(connection_key(c.org_id))
                    .execute(tx.conn())
                    .await?
                    .rows_affected();
            let detail = serde_json::json!({
                "from": old, "to": c.issuer, "linksEnded": ended,
            });
            self.record(
                &mut tx,
                Some(c.org_id),
                actor,
                "oidc.issuer.change",
                None,
                detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn oidc_connection(&self, org: OrgId) -> Result<Option<OidcConnection>> {
        let row = sqlx::query_as::<_, OidcConnectionRow>(
            "select issuer, client_id, client_secret, scopes from oidc_connections \
             where org_id = $1",
        )
        .bind(org.to_string())
        .fetch_optional(self.db().reads())
        .await?;
        Ok(row.map(|row| OidcConnection {
            org_id: org,
            issuer: row.issuer,
            client_id: row.client_id,
            sealed_secret: row.client_secret,
            scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
        }))
    }

    /// Records a flow under the hashes of its state and of the browser cookie.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn create_oidc_flow(
        &self,
        org: OrgId,
        state: &str,
        browser: &str,
        flow: &PendingFlow,
        ttl_ms: Millis,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query("delete from oidc_flows where expires_at <= $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "insert into oidc_flows (state_hash, org_id, browser_hash, nonce, pkce_verifier, return_to, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hash(state))
        .bind(org.to_string())
        .bind(hash(browser))
        .bind(&flow.nonce)
        .bind(&flow.pkce_verifier)
        .bind(&flow.return_to)
        .bind(now + ttl_ms)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the flow a state names: gone afterwards, whatever happens next. None when
    /// unknown, expired, of another organisation, or started by another browser.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn take_oidc_flow(
        &self,
        org: OrgId,
        state: &str,
        browser: Option<&str>,
    ) -> Result<Option<PendingFlow>> {
        let mut tx = self.db().begin().await?;
        let row = sqlx::query_as::<_, OidcFlowRow>(
            "select org_id, browser_hash, nonce, pkce_verifier, return_to, expires_at from oidc_flows where state_hash = $1",
        )
        .bind(hash(state))
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let deleted = sqlx::query("delete from oidc_flows where state_hash = $1")
            .bind(hash(state))
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        let ours = row.org_id == org.to_string()
            && browser.is_some_and(|b| hash(b) == row.browser_hash)
            && row.expires_at > self.now()
            && deleted.rows_affected() == 1;
        Ok(ours.then_some(PendingFlow {
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            return_to: row.return_to,
        }))
    }
}
