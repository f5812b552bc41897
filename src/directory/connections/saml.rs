//! SAML connection storage, outstanding AuthnRequests (single use) and the assertion replay
//! cache. The protocol itself lives in `sso::saml`.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::db::WriteTx;
use crate::directory::model::OrgId;
use crate::directory::{stored_json, Actor, Directory, Result};

/// An organisation's SAML identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SamlConnection {
    pub org_id: OrgId,
    pub idp_entity_id: String,
    pub sso_url: String,
    /// Base64 DER signing certificates; a signature by any of them is accepted, so a new
    /// certificate can be added before the old one is retired.
    pub certificates: Vec<String>,
    /// Certificates a metadata refresh removed, still accepted until their time ends.
    pub retired: Vec<RetiredCertificate>,
    pub metadata_url: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A signing certificate the IdP no longer publishes, trusted for an overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredCertificate {
    pub certificate: String,
    pub until: Millis,
}

impl SamlConnection {
    /// Every certificate whose signature a login may carry at `now`: the published ones
    /// and those retired less than their overlap ago.
    pub fn trusted_certificates(&self, now: Millis) -> Vec<String> {
        let mut all = self.certificates.clone();
        all.extend(
            self.retired
                .iter()
                .filter(|r| r.until > now && !all.contains(&r.certificate))
                .map(|r| r.certificate.clone())
                .collect::<Vec<_>>(),
        );
        all
    }
}

/// A request waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: String,
    pub relay_state: String,
    pub return_to: String,
}

/// A `saml_connections` row as `saml_connection` reads it.
#[derive(sqlx::FromRow)]
struct SamlConnectionRow {
    idp_entity_id: String,
    sso_url: String,
    certificates: String,
    retired_certificates: String,
    metadata_url: Option<String>,
    created_at: Millis,
    updated_at: Millis,
}

impl SamlConnectionRow {
    fn into_connection(self, org: OrgId) -> Result<SamlConnection> {
        Ok(SamlConnection {
            org_id: org,
            idp_entity_id: self.idp_entity_id,
            sso_url: self.sso_url,
            certificates: stored_json("SAML certificates", &self.certificates)?,
            retired: stored_json("retired SAML certificates", &self.retired_certificates)?,
            metadata_url: self.metadata_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// An outstanding AuthnRequest as `take_saml_request` reads it.
#[derive(sqlx::FromRow)]
struct SamlRequestRow {
    id: String,
    org_id: String,
    return_to: String,
    expires_at: Millis,
}

impl Directory {
    /// Sets (or replaces) an organisation's SAML connection.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn set_saml_connection(
        &self,
        org: OrgId,
        c: &SamlConnection,
        actor: &Actor,
    ) -> Result<()> {
        self.write_saml_connection(org, c, actor, None).await
    }

    /// Applies what a metadata refresh found. A change of signing certificates is an event
    /// of its own (`saml.certificate.change`, with `change` as its detail) in the same
    /// transaction, so the console's log shows the rotation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn refresh_saml_connection(
        &self,
        org: OrgId,
        c: &SamlConnection,
        change: Option<serde_json::Value>,
    ) -> Result<()> {
        self.write_saml_connection(org, c, &Actor::System, change)
            .await
    }

    async fn write_saml_connection(
        &self,
        org: OrgId,
        c: &SamlConnection,
        actor: &Actor,
        certificate_change: Option<serde_json::Value>,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into saml_connections (org_id, idp_entity_id, sso_url, certificates, metadata_url, created_at, updated_at, retired_certificates) \
             values ($1, $2, $3, $4, $5, $6, $6, $7) \
             on conflict (org_id) do update set idp_entity_id = excluded.idp_entity_id, \
               sso_url = excluded.sso_url, certificates = excluded.certificates, \
               metadata_url = excluded.metadata_url, updated_at = excluded.updated_at, \
               retired_certificates = excluded.retired_certificates",
        )
        .bind(org.to_string())
        .bind(&c.idp_entity_id)
        .bind(&c.sso_url)
        .bind(serde_json::to_string(&c.certificates).expect("strings serialise"))
        .bind(&c.metadata_url)
        .bind(now)
        .bind(serde_json::to_string(&c.retired).expect("certificates serialise"))
        .execute(tx.conn())
        .await?;
        let detail = serde_json::json!({
            "idpEntityId": c.idp_entity_id,
            "ssoUrl": c.sso_url,
            "certificates": c.certificates.len(),
            "metadataUrl": c.metadata_url,
        });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "saml.connection.set",
            None,
            detail,
        )
        .await?;
        if let Some(change) = certificate_change {
            self.record(
                &mut tx,
                Some(org),
                actor,
                "saml.certificate.change",
                None,
                change,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn saml_connection(&self, org: OrgId) -> Result<Option<SamlConnection>> {
        let row = sqlx::query_as::<_, SamlConnectionRow>(
            "select idp_entity_id, sso_url, certificates, retired_certificates, metadata_url, \
             created_at, updated_at from saml_connections where org_id = $1",
        )
        .bind(org.to_string())
        .fetch_optional(self.db().reads())
        .await?;
        row.map(|row| row.into_connection(org)).transpose()
    }

    /// Every connection set from a metadata URL, for the scheduled refresh.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn saml_connections_with_url(&self) -> Result<Vec<SamlConnection>> {
        let orgs: Vec<String> = sqlx::query_scalar(
            "select org_id from saml_connections where metadata_url is not null order by org_id",
        )
        .fetch_all(self.db().reads())
        .await?;
        let mut out = Vec::with_capacity(orgs.len());
        for org in orgs {
            let id = crate::directory::parse_id(&org, OrgId::parse)?;
            out.extend(self.saml_connection(id).await?);
        }
        Ok(out)
    }

    /// Records a new AuthnRequest: an ID of 128 random bits (an NCName, as SAML IDs must be)
    /// and an opaque RelayState that stands for `return_to`.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn create_saml_request(
        &self,
        org: OrgId,
        return_to: &str,
        ttl_ms: Millis,
    ) -> Result<PendingRequest> {
        let pending = PendingRequest {
            id: format!("_{}", crate::random::token(16)),
            relay_state: crate::random::token(24),
            return_to: return_to.to_string(),
        };
        let now = self.now();
        let mut tx = self.db().begin().await?;
        // Old requests go on the way; they can never be answered.
        sqlx::query("delete from saml_requests where expires_at <= $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "insert into saml_requests (id, relay_state, org_id, return_to, expires_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(&pending.id)
        .bind(&pending.relay_state)
        .bind(org.to_string())
        .bind(return_to)
        .bind(now + ttl_ms)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(pending)
    }

    /// Takes the outstanding request a RelayState names: it is gone afterwards, whatever
    /// happens next. None when there is none, it expired, or it belongs to another
    /// organisation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn take_saml_request(
        &self,
        org: OrgId,
        relay_state: &str,
    ) -> Result<Option<PendingRequest>> {
        let mut tx = self.db().begin().await?;
        let row = sqlx::query_as::<_, SamlRequestRow>(
            "select id, org_id, return_to, expires_at from saml_requests where relay_state = $1",
        )
        .bind(relay_state)
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let deleted = sqlx::query("delete from saml_requests where id = $1")
            .bind(&row.id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        let same_org = row.org_id == org.to_string();
        let alive = row.expires_at > self.now();
        // rows_affected guards against two posts of the same answer racing each other.
        Ok(
            (deleted.rows_affected() == 1 && same_org && alive).then(|| PendingRequest {
                id: row.id,
                relay_state: relay_state.to_string(),
                return_to: row.return_to,
            }),
        )
    }

    /// Remembers an assertion ID until `expires_at`, in the caller's transaction (a
    /// sign-in's). False when it is kept still: a replay. A record whose time has passed is
    /// taken over in the same statement, so a sign-in needs no sweep before it (expired
    /// records are swept by [`Self::sweep_seen_assertions`]). A concurrent sign-in with the
    /// same ID waits on the row until this transaction ends.
    pub(in crate::directory) async fn remember_assertion(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        assertion_id: &str,
        expires_at: Millis,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "insert into saml_assertions_seen (org_id, assertion_id, expires_at) values ($1, $2, $3) \
             on conflict (org_id, assertion_id) do update set expires_at = excluded.expires_at \
             where saml_assertions_seen.expires_at <= $4",
        )
        .bind(org.to_string())
        .bind(assertion_id)
        .bind(expires_at)
        .bind(self.now())
        .execute(tx.conn())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Deletes the assertion IDs whose time has passed; returns how many.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sweep_seen_assertions(&self) -> Result<u64> {
        let mut tx = self.db().begin().await?;
        let done = sqlx::query("delete from saml_assertions_seen where expires_at <= $1")
            .bind(self.now())
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
