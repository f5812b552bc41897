//! The SP's key pairs for signing AuthnRequests, per organisation.

use serde::Serialize;
use uuid::Uuid;

use crate::clock::Millis;
use crate::directory::model::OrgId;
use crate::directory::{Actor, Directory, Error, Result};

/// A key pair in service. The private key never leaves the server.
#[derive(Clone, Serialize, sqlx::FromRow)]
pub struct SpKey {
    pub id: String,
    /// As stored: sealed by the secret box (see `sso::saml::sp_key::private_key`).
    #[serde(skip)]
    #[sqlx(rename = "private_key")]
    pub private_key_pem: String,
    /// Base64 DER.
    pub certificate: String,
    pub created_at: Millis,
}

impl std::fmt::Debug for SpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKey")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Directory {
    /// Keys in service, oldest first: the first signs, all are published.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn saml_sp_keys(&self, org: OrgId) -> Result<Vec<SpKey>> {
        Ok(sqlx::query_as::<_, SpKey>(
            "select id, private_key, certificate, created_at from saml_sp_keys \
             where org_id = $1 and retired_at is null order by created_at, id",
        )
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn add_saml_sp_key(
        &self,
        org: OrgId,
        private_key_pem: &str,
        certificate: &str,
        actor: &Actor,
    ) -> Result<SpKey> {
        let key = SpKey {
            id: Uuid::now_v7().to_string(),
            private_key_pem: private_key_pem.to_string(),
            certificate: certificate.to_string(),
            created_at: self.now(),
        };
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into saml_sp_keys (id, org_id, private_key, certificate, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(&key.id)
        .bind(org.to_string())
        .bind(private_key_pem)
        .bind(certificate)
        .bind(key.created_at)
        .execute(tx.conn())
        .await?;
        self.record(
            &mut tx,
            Some(org),
            actor,
            "saml.sp_key.add",
            Some(key.id.clone()),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn retire_saml_sp_key(&self, org: OrgId, id: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let updated = sqlx::query(
            "update saml_sp_keys set retired_at = $1 where org_id = $2 and id = $3 and retired_at is null",
        )
        .bind(self.now())
        .bind(org.to_string())
        .bind(id)
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("SP key"));
        }
        self.record(
            &mut tx,
            Some(org),
            actor,
            "saml.sp_key.retire",
            Some(id.to_string()),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
