//! SCIM authentication: Bearer or Basic, for the token's own organisation only.

use base64::Engine;
use gatehouse::directory::Actor;

use crate::support::scim::{read, Scim};
use crate::support::TestApp;

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

/// RFC 6750 §2.1: `Bearer` and the token are separated by spaces only. A tab (or any
/// other character) there makes the header no credential: 401, and nothing is removed.
/// (Whitespace after the value is not part of it, RFC 9110 §5.5: the server never sees it.)
#[tokio::test]
async fn a_token_after_a_tab_or_other_whitespace_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let r = scim
        .post(
            "/Users",
            serde_json::json!({"schemas": [crate::support::scim::USER_URN], "userName": "kept"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let basic = |sep: &str| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("acme:{}", scim.token));
        format!("Basic{sep}{b64}")
    };
    for header in [
        format!("Bearer \t{}", scim.token),
        format!("Bearer\t{}", scim.token),
        format!("Bearer \u{b}{}", scim.token),
        basic(" \t"),
        basic("\t"),
    ] {
        let r = app
            .client
            .delete(app.url(&format!("/scim/v2/acme/Users/{id}")))
            .header("authorization", header.as_str())
            .send()
            .await;
        // A header value reqwest itself refuses (a vertical tab) never reaches the server.
        let Ok(r) = r else { continue };
        assert_eq!(r.status(), 401, "{header:?}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/scim+json"), "{ct}");
    }
    assert_eq!(
        scim.get(&format!("/Users/{id}")).await.status,
        200,
        "not deleted"
    );
    // The same token with one space works, as Basic does.
    let r = app
        .client
        .get(app.url(&format!("/scim/v2/acme/Users/{id}")))
        .header("authorization", basic(" "))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
