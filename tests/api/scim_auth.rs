//! SCIM authentication: Bearer or Basic, for the token's own organisation only.

use base64::Engine;
use gatehouse::directory::Actor;

use crate::helpers::TestApp;
use crate::scim_helpers::{read, Scim};

#[tokio::test]
async fn bearer_and_basic_with_the_slug_both_work() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    assert_eq!(scim.get("/Users").await.status, 200);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("acme:{}", scim.token));
    let r = app
        .client
        .get(format!("{}/Users", scim.base()))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_refusal_is_a_scim_401() {
    let app = TestApp::spawn().await;
    let acme = Scim::new(&app, "acme").await;
    let globex = Scim::new(&app, "globex").await;
    let url = format!("{}/Users", acme.base());

    // No credentials at all.
    let r = read(app.client.get(&url).send().await.unwrap()).await;
    r.assert_error(401);
    assert!(r.header("www-authenticate").unwrap().contains("Bearer"));

    // Another organisation's token on acme's URL.
    let r = read(
        app.client
            .get(&url)
            .bearer_auth(&globex.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(401);

    // Basic with acme's token but another slug as the user name.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("globex:{}", acme.token));
    let r = app
        .client
        .get(&url)
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    read(r).await.assert_error(401);

    // A made-up token, and a malformed header.
    read(
        app.client
            .get(&url)
            .bearer_auth("ghs_madeup")
            .send()
            .await
            .unwrap(),
    )
    .await
    .assert_error(401);
    let r = app
        .client
        .get(&url)
        .header("authorization", "Token x")
        .send()
        .await
        .unwrap();
    read(r).await.assert_error(401);

    // An organisation that does not exist answers exactly like a bad token.
    let r = app
        .client
        .get(app.url("/scim/v2/nobody/Users"))
        .bearer_auth(&acme.token)
        .send()
        .await
        .unwrap();
    read(r).await.assert_error(401);
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let d = &app.directory;
    let (info, secret) = d
        .create_token(scim.org.id, "", Some(d.now() + 60_000), &Actor::Cli)
        .await
        .unwrap();
    let url = format!("{}/Users", scim.base());
    let get = |token: String| {
        let req = app.client.get(&url).bearer_auth(token);
        async move { read(req.send().await.unwrap()).await }
    };
    assert_eq!(get(secret.0.clone()).await.status, 200);
    app.clock.advance_ms(60_000);
    get(secret.0.clone()).await.assert_error(401);

    assert_eq!(get(scim.token.clone()).await.status, 200);
    let first = d
        .list_tokens(scim.org.id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id != info.id)
        .unwrap();
    d.revoke_token(scim.org.id, first.id, &Actor::Cli)
        .await
        .unwrap();
    get(scim.token.clone()).await.assert_error(401);
}
