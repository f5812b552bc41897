//! SCIM tokens: hashed at rest, scoped to one organisation, refused once expired or revoked.

use gatehouse::directory::tokens::{hash, TokenRefusal, TOKEN_PREFIX};
use gatehouse::directory::Actor;
use sqlx::Row;

use crate::support::TestApp;

#[tokio::test]
async fn tokens_are_stored_only_as_a_hash() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let (info, secret) = app
        .directory
        .create_token(acme.id, "okta", None, &Actor::Cli)
        .await
        .unwrap();
    let secret = secret.0;
    assert!(secret.starts_with(TOKEN_PREFIX));
    // 32 random bytes in unpadded base64url: 43 characters, 256 bits.
    assert_eq!(secret.len(), TOKEN_PREFIX.len() + 43);
    assert!(secret.starts_with(&info.prefix));

    let rows = sqlx::query("select * from scim_tokens")
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    for i in 0..row.len() {
        if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
            assert!(!text.contains(&secret), "column {i} holds the secret");
        }
    }
    assert_eq!(
        row.try_get::<String, _>("token_hash").unwrap(),
        hash(&secret)
    );
}

#[tokio::test]
async fn a_token_works_for_its_own_organisation_only() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let (info, secret) = d
        .create_token(acme.id, "", None, &Actor::Cli)
        .await
        .unwrap();

    let ok = d.verify_token(acme.id, &secret.0).await.unwrap().unwrap();
    assert_eq!(ok.id, info.id);
    assert_eq!(
        d.verify_token(globex.id, &secret.0).await.unwrap(),
        Err(TokenRefusal::WrongOrganisation)
    );
    assert_eq!(
        d.verify_token(acme.id, "ghs_not-a-token").await.unwrap(),
        Err(TokenRefusal::Unknown)
    );
    // One character off is a different token.
    let mut altered = secret.0.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        d.verify_token(acme.id, &altered).await.unwrap(),
        Err(TokenRefusal::Unknown)
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let hour = 3_600_000;
    let (_, secret) = d
        .create_token(acme.id, "short", Some(d.now() + hour), &Actor::Cli)
        .await
        .unwrap();
    assert!(d.verify_token(acme.id, &secret.0).await.unwrap().is_ok());
    app.clock.advance_ms(hour);
    assert_eq!(
        d.verify_token(acme.id, &secret.0).await.unwrap(),
        Err(TokenRefusal::Expired)
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let (info, secret) = d
        .create_token(acme.id, "", None, &Actor::Cli)
        .await
        .unwrap();
    assert!(d.verify_token(acme.id, &secret.0).await.unwrap().is_ok());

    // Another organisation cannot revoke it.
    assert!(d
        .revoke_token(globex.id, info.id, &Actor::Cli)
        .await
        .is_err());
    assert!(d.verify_token(acme.id, &secret.0).await.unwrap().is_ok());

    d.revoke_token(acme.id, info.id, &Actor::Cli).await.unwrap();
    assert_eq!(
        d.verify_token(acme.id, &secret.0).await.unwrap(),
        Err(TokenRefusal::Revoked)
    );
    let listed = d.list_tokens(acme.id).await.unwrap();
    assert!(listed[0].revoked_at.is_some());
}

#[tokio::test]
async fn last_use_is_kept_without_a_write_per_request() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let (_, secret) = d
        .create_token(acme.id, "", None, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(d.list_tokens(acme.id).await.unwrap()[0].last_used_at, None);

    d.verify_token(acme.id, &secret.0).await.unwrap().unwrap();
    let first = d.list_tokens(acme.id).await.unwrap()[0].last_used_at;
    assert_eq!(first, Some(d.now()));

    app.clock.advance_ms(10_000);
    d.verify_token(acme.id, &secret.0).await.unwrap().unwrap();
    assert_eq!(
        d.list_tokens(acme.id).await.unwrap()[0].last_used_at,
        first,
        "within a minute: no write"
    );

    app.clock.advance_ms(60_000);
    d.verify_token(acme.id, &secret.0).await.unwrap().unwrap();
    assert_eq!(
        d.list_tokens(acme.id).await.unwrap()[0].last_used_at,
        Some(d.now())
    );
}
