//! An API key can do no more than the organisation and the person it was issued for: it
//! stops with a disabled organisation, with a customer admin who loses the organisation or
//! whose account ends, and so does every key such a key minted; a scoped key mints no key
//! with more rights than its own.

use gatehouse::directory::orgs::OrgChange;
use gatehouse::directory::{Actor, Org};
use serde_json::json;

use crate::support::api::Api;
use crate::support::{user_data, TestApp};

async fn status(app: &TestApp, secret: &str, slug: &str) -> u16 {
    app.client
        .get(app.url(&format!("/api/v1/orgs/{slug}")))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn set(app: &TestApp, org: &Org, change: &str) {
    app.directory
        .update_org(org.id, &[OrgChange::parse(change).unwrap()], &Actor::Cli)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_organisations_keys_stop_and_cannot_enable_it_again() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let scoped = Api::scoped(&app, &acme).await;
    let platform = Api::platform(&app).await;
    assert_eq!(status(&app, &scoped.secret, "acme").await, 200);

    set(&app, &acme, "enabled=false").await;
    assert_eq!(status(&app, &scoped.secret, "acme").await, 401);
    let r = scoped
        .patch("/orgs/acme/settings", json!({"enabled": true}))
        .await;
    assert_eq!(r.status, 401, "{:#}", r.body);
    assert_eq!(status(&app, &platform.secret, "acme").await, 200);

    let r = platform
        .patch("/orgs/acme/settings", json!({"enabled": true}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(status(&app, &scoped.secret, "acme").await, 200);
}

#[tokio::test]
async fn a_customer_admins_keys_end_when_it_loses_the_organisation() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let boss = d
        .create_user(acme.id, user_data("boss@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.set_org_admin(acme.id, boss.id, true, &Actor::Cli)
        .await
        .unwrap();
    let (first, first_secret) = d
        .create_api_key(Some(acme.id), "boss's", None, &Actor::OrgAdmin(boss.id))
        .await
        .unwrap();
    let (_, minted_secret) = d
        .create_api_key(Some(acme.id), "minted", None, &Actor::ApiKey(first.id))
        .await
        .unwrap();
    assert_eq!(status(&app, &first_secret.0, "acme").await, 200);
    assert_eq!(status(&app, &minted_secret.0, "acme").await, 200);

    d.set_org_admin(acme.id, boss.id, false, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(status(&app, &first_secret.0, "acme").await, 401);
    assert_eq!(
        status(&app, &minted_secret.0, "acme").await,
        401,
        "a key minted by the key has no more rights than its issuer"
    );

    d.set_org_admin(acme.id, boss.id, true, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(status(&app, &first_secret.0, "acme").await, 200);
    d.set_active(acme.id, boss.id, false, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        status(&app, &first_secret.0, "acme").await,
        401,
        "a deactivated admin's keys stop"
    );
    d.erase_user(acme.id, boss.id, &Actor::Cli).await.unwrap();
    assert_eq!(status(&app, &minted_secret.0, "acme").await, 401);
}

#[tokio::test]
async fn a_scoped_key_mints_no_key_with_more_rights() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    app.org("globex", &[]).await;
    let scoped = Api::scoped(&app, &acme).await;

    let r = scoped.post("/api-keys", json!({"org": null})).await;
    assert_eq!(r.status, 403, "no platform-wide key: {:#}", r.body);
    let r = scoped.post("/api-keys", json!({"org": "globex"})).await;
    assert_eq!(
        r.status, 404,
        "no key for another organisation: {:#}",
        r.body
    );
    let r = scoped.post("/api-keys", json!({})).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let secret = r.body["secret"].as_str().unwrap();
    assert_eq!(status(&app, secret, "acme").await, 200);
    assert_eq!(status(&app, secret, "globex").await, 404);
}
