//! The signed session token (`X-Gatehouse-Token` on `/auth/check`) and its keys at
//! `/.well-known/jwks.json`, checked with an independent JWT library (jsonwebtoken): it
//! verifies with the published key and names the session; a tampered, expired or
//! wrongly-keyed token does not verify; a deactivated user gets none; keys rotate with the
//! successor published an hour ahead and the old one kept.

use gatehouse::clock::Clock;
use gatehouse::directory::Actor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::sessions::{login, okta};
use crate::support::TestApp;

const DAY_MS: i64 = 86_400_000;

async fn token(app: &TestApp, cookie: &str) -> String {
    let r = app.auth_check(cookie).await;
    assert_eq!(r.status(), 200);
    r.headers()["x-gatehouse-token"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The `kid` of every signing key stored, newest first.
async fn stored_kids(app: &TestApp) -> Vec<String> {
    let keys = app.directory.token_keys().await.unwrap();
    keys.into_iter().map(|k| k.kid).collect()
}

async fn jwks(app: &TestApp) -> JwkSet {
    let r = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Verifies `token` as an app would: the key named by its `kid` in the published set,
/// EdDSA only, the issuer, and the time window at `now_s`.
fn verify(set: &JwkSet, token: &str, issuer: &str, now_s: i64) -> Result<Value, String> {
    let kid = decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or(format!("kid {kid} is not published"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[issuer]);
    v.validate_exp = false;
    v.leeway = 0;
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    let claims = decode::<Value>(token, &key, &v)
        .map_err(|e| e.to_string())?
        .claims;
    let exp = claims["exp"].as_i64().unwrap();
    if now_s >= exp {
        return Err(format!("expired at {exp}, now {now_s}"));
    }
    Ok(claims)
}

async fn signed_in(app: &TestApp) -> (gatehouse::directory::Org, String) {
    let org = app.org("acme", &[]).await;
    let mut a = okta("00u1", "ada@acme.test");
    a.email = Some("ada@acme.test".into());
    a.groups = Some(vec!["Staff".into(), "Admins".into()]);
    (org.clone(), login(app, &org, &a).await.unwrap())
}

#[tokio::test]
async fn the_token_verifies_with_the_published_key_and_names_the_session() {
    let app = TestApp::spawn_with(|c| c.session.token_seconds = 60).await;
    let (org, cookie) = signed_in(&app).await;
    let t = token(&app, &cookie).await;
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 1);
    let now = app.clock.now_ms() / 1000;
    let claims = verify(&set, &t, &app.base_url, now).expect("verifies");
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["org"], "acme");
    assert_eq!(claims["org_id"], org.id.to_string());
    assert_eq!(claims["email"], "ada@acme.test");
    assert_eq!(claims["groups"], serde_json::json!(["Admins", "Staff"]));
    assert_eq!(claims["epoch"], user.session_epoch);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );

    // Tampered: another user's id in the claims, the signature kept.
    let parts: Vec<&str> = t.split('.').collect();
    let mut forged: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .unwrap(),
    )
    .unwrap();
    forged["sub"] = "someone-else".into();
    let body = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        forged.to_string(),
    );
    let tampered = format!("{}.{body}.{}", parts[0], parts[2]);
    assert!(verify(&set, &tampered, &app.base_url, now).is_err());
    // Expired: a minute later.
    assert!(verify(&set, &t, &app.base_url, now + 60).is_err());
    // Another issuer's key set does not verify it.
    let other = TestApp::spawn_with(|c| c.session.token_seconds = 60).await;
    let (_, other_cookie) = signed_in(&other).await;
    token(&other, &other_cookie).await;
    assert!(verify(&jwks(&other).await, &t, &app.base_url, now).is_err());
}

#[tokio::test]
async fn no_token_without_the_setting_or_for_a_deactivated_user() {
    let off = TestApp::spawn().await;
    let (_, cookie) = signed_in(&off).await;
    let r = off.auth_check(&cookie).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-gatehouse-token").is_none());
    assert_eq!(jwks(&off).await.keys.len(), 0);

    let app = TestApp::spawn_with(|c| c.session.token_seconds = 60).await;
    let (org, cookie) = signed_in(&app).await;
    token(&app, &cookie).await;
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    app.directory
        .set_active(org.id, user.id, false, &Actor::Cli)
        .await
        .unwrap();
    let r = app.auth_check(&cookie).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("x-gatehouse-token").is_none());
}

#[tokio::test]
async fn keys_rotate_with_the_successor_published_ahead_and_the_old_kept() {
    let app = TestApp::spawn_with(|c| {
        c.session.token_seconds = 60;
        c.session.token_key_rotation_days = 1;
    })
    .await;
    let (org, cookie) = signed_in(&app).await;
    let first = decode_header(&token(&app, &cookie).await)
        .unwrap()
        .kid
        .unwrap();
    // Sessions end within a day: sign in again as the clock moves.
    let fresh = || async {
        login(&app, &org, &okta("00u1", "ada@acme.test"))
            .await
            .unwrap()
    };
    // An hour before the rotation, the successor is made and published, not yet used.
    app.clock.advance_ms(DAY_MS - 3_600_000);
    let t = token(&app, &fresh().await).await;
    assert_eq!(decode_header(&t).unwrap().kid.unwrap(), first);
    let stored = stored_kids(&app).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    let second = stored[0].clone();
    assert_ne!(second, first);
    assert!(jwks(&app).await.find(&second).is_some(), "published ahead");
    // An hour on, the successor signs; the first is still published.
    app.clock.advance_ms(3_600_000);
    let t = token(&app, &fresh().await).await;
    assert_eq!(decode_header(&t).unwrap().kid.unwrap(), second);
    let now = app.clock.now_ms() / 1000;
    let published = jwks(&app).await;
    assert!(published.find(&first).is_some());
    verify(&published, &t, &app.base_url, now).expect("the new key verifies");
    // Two rotations on, the first key is gone; the one that signed until now is kept.
    app.clock.advance_ms(2 * DAY_MS);
    let t = token(&app, &fresh().await).await;
    let kids = stored_kids(&app).await;
    assert!(!kids.contains(&first), "{kids:?}");
    assert!(kids.contains(&second), "{kids:?}");
    assert_eq!(kids.len(), 2);
    assert_eq!(
        decode_header(&t).unwrap().kid.unwrap(),
        second,
        "the newest is not yet used"
    );
}
