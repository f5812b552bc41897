//! The keys that sign session tokens for the app (see `crate::web::session_token`). They
//! arrive and leave with the private half sealed.

use super::{Directory, Result};
use crate::clock::Millis;

/// A stored key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    #[sqlx(rename = "private_key")]
    pub sealed_private: String,
    /// The raw Ed25519 public key, base64url without padding (a JWK's `x`).
    #[sqlx(rename = "public_key")]
    pub public: String,
    pub created_at: Millis,
}

impl Directory {
    /// Every key, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn token_keys(&self) -> Result<Vec<StoredKey>> {
        Ok(sqlx::query_as::<_, StoredKey>(
            "select kid, private_key, public_key, created_at from token_keys \
             order by created_at desc, kid desc",
        )
        .fetch_all(self.db().reads())
        .await?)
    }

    /// Adds a key, and removes those made before `retire_before` (their successors have
    /// signed long enough for every token they signed to have expired), but never the two
    /// newest: the one added and the one that signed until it takes over.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_token_key(&self, key: &StoredKey, retire_before: Millis) -> Result<()> {
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into token_keys (kid, private_key, public_key, created_at) \
             values ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.sealed_private)
        .bind(&key.public)
        .bind(key.created_at)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "delete from token_keys where created_at < $1 and kid not in \
             (select kid from token_keys order by created_at desc, kid desc limit 2)",
        )
        .bind(retire_before)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
