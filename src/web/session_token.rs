//! The signed session token for the app behind Gatehouse (DESIGN.md, Change feed):
//! `/auth/check` adds `X-Gatehouse-Token`, a JWT (RFC 7519) of the session signed with
//! EdDSA over Ed25519 (RFC 8037), and `/.well-known/jwks.json` publishes the public keys
//! (RFC 7517) by `kid`. The newest key signs; after `session.token_key_rotation_days` a new
//! one is made, and the old stays published as long again, so every token it signed still
//! verifies until it expires. Keys are read from the database at most once a minute per
//! instance; every instance signs with the same keys.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{json, Value};

use crate::clock::Millis;
use crate::directory::sessions::LiveSession;
use crate::directory::token_keys::StoredKey;
use crate::state::AppState;

const DAY_MS: Millis = 86_400_000;
/// How long an instance trusts its copy of the keys.
const REREAD_AFTER: Duration = Duration::from_secs(60);
/// A new key is published this long before it signs, well beyond the time the key set may
/// be cached (`max-age` of the JWKS, an instance's copy): an app never meets a `kid` it
/// cannot find.
const PUBLISH_AHEAD_MS: Millis = 3_600_000;

#[derive(Default)]
pub struct TokenKeys {
    cached: Mutex<Option<(Instant, Vec<StoredKey>)>>,
    /// The signing key opened and parsed, by kid: /auth/check signs on every call.
    signer: Mutex<Option<(String, PKey<Private>)>>,
}

impl TokenKeys {
    async fn read(&self, state: &AppState) -> crate::directory::Result<Vec<StoredKey>> {
        if let Some((at, keys)) = &*self.cached.lock().expect("keys lock") {
            if at.elapsed() < REREAD_AFTER {
                return Ok(keys.clone());
            }
        }
        let keys = state.directory.token_keys().await?;
        *self.cached.lock().expect("keys lock") = Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// The key to sign with now: the newest that has been published long enough (the
    /// first key ever signs at once). Its successor is made ahead of the rotation.
    async fn signing(&self, state: &AppState) -> anyhow::Result<StoredKey> {
        let mut keys = self.read(state).await?;
        let now = state.directory.now();
        let rotation = rotation_ms(state);
        let due = keys
            .first()
            .is_none_or(|k| now - k.created_at >= rotation - PUBLISH_AHEAD_MS);
        if due {
            self.add(state, now, rotation).await?;
            keys = self.read(state).await?;
        }
        keys.iter()
            .find(|k| now - k.created_at >= PUBLISH_AHEAD_MS)
            .or(keys.last())
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no session token key is stored"))
    }

    /// The private half of `key`, opened once per key.
    fn private(&self, state: &AppState, key: &StoredKey) -> anyhow::Result<PKey<Private>> {
        let mut signer = self.signer.lock().expect("signer lock");
        if let Some((kid, private)) = &*signer {
            if *kid == key.kid {
                return Ok(private.clone());
            }
        }
        let pem = state.secrets.open(&key.sealed_private)?;
        let private = PKey::private_key_from_pem(pem.as_bytes())?;
        *signer = Some((key.kid.clone(), private.clone()));
        Ok(private)
    }

    async fn add(&self, state: &AppState, now: Millis, rotation: Millis) -> anyhow::Result<()> {
        let key = PKey::generate_ed25519()?;
        let stored = StoredKey {
            kid: crate::random::token(12),
            sealed_private: state
                .secrets
                .seal(&String::from_utf8(key.private_key_to_pem_pkcs8()?)?),
            public: URL_SAFE_NO_PAD.encode(key.raw_public_key()?),
            created_at: now,
        };
        // Keys older than two rotations were replaced at least one rotation ago.
        state
            .directory
            .add_token_key(&stored, now - 2 * rotation)
            .await?;
        *self.cached.lock().expect("keys lock") = None;
        Ok(())
    }
}

fn rotation_ms(state: &AppState) -> Millis {
    let days = state.config.session.token_key_rotation_days.max(1);
    i64::try_from(days).unwrap_or(i64::MAX / DAY_MS / 4) * DAY_MS
}

/// The token for a live session, or None when tokens are off.
pub async fn for_session(
    state: &AppState,
    session: &LiveSession,
) -> anyhow::Result<Option<String>> {
    let lifetime = state.config.session.token_seconds;
    if lifetime == 0 {
        return Ok(None);
    }
    let key = state.token_keys.signing(state).await?;
    let private = state.token_keys.private(state, &key)?;
    let now = state.directory.now().div_euclid(1000);
    let user = &session.user;
    let claims = json!({
        "iss": state.config.server.base_url(),
        "sub": user.id,
        "iat": now,
        "nbf": now,
        "exp": now + i64::try_from(lifetime).unwrap_or(i64::MAX / 2),
        "org": session.org_slug.as_str(),
        "org_id": user.org_id,
        "user_name": user.user_name.as_str(),
        "email": user.profile.primary_email(),
        "groups": session.groups,
        "epoch": user.session_epoch,
    });
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": key.kid });
    Ok(Some(sign(&private, &header, &claims)?))
}

fn sign(key: &PKey<Private>, header: &Value, claims: &Value) -> anyhow::Result<String> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signer = Signer::new_without_digest(key)?;
    let signature = signer.sign_oneshot_to_vec(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// `GET /.well-known/jwks.json`: every key a current token can be signed with.
pub async fn jwks(State(state): State<AppState>) -> Result<Response, super::pages::PageError> {
    let keys = state.token_keys.read(&state).await?;
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": k.kid, "x": k.public })
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        json!({ "keys": keys }).to_string(),
    )
        .into_response())
}
