//! The admin API on an organisation's connections: SAML metadata, OIDC, SCIM tokens.

use gatehouse::directory::Actor;
use reqwest::Method;
use serde_json::json;

use crate::oidc_op::TestOp;
use crate::support::api::{assert_api_error, logged, Api};
use crate::support::saml_idp::TestIdp;
use crate::support::scim::read;
use crate::support::TestApp;

/// Serves one document over http on a loopback address, as an IdP's metadata URL would.
async fn serve_metadata(xml: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let xml = xml.clone();
            async move { ([("content-type", "application/xml")], xml) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn saml_metadata_goes_in_as_json_as_xml_or_by_url_and_a_bad_document_changes_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;

    let r = api.get("/orgs/acme/saml").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["configured"], false);
    assert_eq!(r.body["sp"]["acs_url"], app.url("/saml/acme/acs"));
    assert_eq!(r.body["sp"]["entity_id"], app.url("/saml/acme/metadata"));

    let idp = TestIdp::new("http://www.okta.com/exk1");
    let r = api
        .put(
            "/orgs/acme/saml",
            json!({"metadata_xml": idp.metadata(&[&idp.cert_b64])}),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["configured"], true);
    assert_eq!(r.body["entity_id"], "http://www.okta.com/exk1");
    assert_eq!(r.body["sso_url"], idp.sso_url);
    assert_eq!(r.body["metadata_url"], json!(null));
    let cert = &r.body["certificates"][0];
    assert!(
        cert["subject"]
            .as_str()
            .unwrap()
            .contains("test-idp.example"),
        "{cert}"
    );
    assert!(!cert["not_after"].as_str().unwrap().is_empty());
    assert_eq!(cert["expired"], false);

    for bad in [
        json!({"metadata_xml": "<nope/>"}),
        json!({}),
        json!({"metadata_xml": "x", "metadata_url": "https://x.test"}),
    ] {
        let r = api.put("/orgs/acme/saml", bad).await;
        assert_api_error(&r, 400, "invalid");
    }
    // Certificates are made against the wall clock: bring the server's clock there.
    app.clock
        .advance_ms(chrono::Utc::now().timestamp_millis() - crate::support::T0);
    let expired = TestIdp::with_validity("http://other.example", -30, -1);
    let r = api
        .put(
            "/orgs/acme/saml",
            json!({"metadata_xml": expired.metadata(&[&expired.cert_b64])}),
        )
        .await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("expired"), "{detail}");
    let r = api
        .put(
            "/orgs/acme/saml",
            json!({"metadata_url": "http://idp.example/md"}),
        )
        .await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("https"), "{detail}");
    let r = api
        .raw(Method::PUT, "/orgs/acme/saml", "text/plain", "hello")
        .await;
    assert_api_error(&r, 415, "unsupported_media_type");
    let r = api.get("/orgs/acme/saml").await;
    assert_eq!(r.body["entity_id"], "http://www.okta.com/exk1", "unchanged");

    // The document itself as the body.
    let second = TestIdp::new("http://www.okta.com/exk2");
    let r = api
        .raw(
            Method::PUT,
            "/orgs/acme/saml",
            "application/samlmetadata+xml",
            &second.metadata(&[&second.cert_b64]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["entity_id"], "http://www.okta.com/exk2");

    // By URL: fetched, and the URL kept for the scheduled refresh.
    let third = TestIdp::new("http://www.okta.com/exk3");
    let url = serve_metadata(third.metadata(&[&third.cert_b64])).await;
    let r = api
        .put("/orgs/acme/saml", json!({"metadata_url": url}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["entity_id"], "http://www.okta.com/exk3");
    assert_eq!(r.body["metadata_url"], url);
    let stored = app
        .directory
        .saml_connection(acme.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.metadata_url.as_deref(), Some(url.as_str()));

    let sets: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0 == "saml.connection.set")
        .collect();
    assert_eq!(sets.len(), 3, "one per accepted document");
    assert!(sets.iter().all(|e| e.1 == api.actor()));
}

#[tokio::test]
async fn oidc_is_checked_at_the_issuer_and_its_secret_never_comes_back() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;
    let op = TestOp::start().await;

    let r = api.get("/orgs/acme/oidc").await;
    assert_eq!(r.body["configured"], false);
    assert_eq!(r.body["redirect_uri"], app.url("/oidc/acme/callback"));

    let r = api
        .put(
            "/orgs/acme/oidc",
            json!({"issuer": op.issuer, "client_id": "gatehouse", "client_secret": "s3cret-value", "scopes": ["email", "profile"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["configured"], true);
    assert_eq!(r.body["issuer"], op.issuer);
    assert_eq!(r.body["client_id"], "gatehouse");
    assert_eq!(r.body["client_secret_set"], true);
    assert_eq!(r.body["scopes"], json!(["openid", "email", "profile"]));
    let shown = api.get("/orgs/acme/oidc").await;
    assert!(
        !shown.body.to_string().contains("s3cret"),
        "{:#}",
        shown.body
    );
    assert_eq!(shown.body["client_secret_set"], true);

    for bad in [
        json!({"issuer": "http://idp.example", "client_id": "x"}),
        json!({"issuer": op.issuer, "client_id": " "}),
        json!({"issuer": op.issuer}),
        json!({"issuer": "http://127.0.0.1:9/nothing-here", "client_id": "x"}),
    ] {
        let r = api.put("/orgs/acme/oidc", bad).await;
        assert_api_error(&r, 400, "invalid");
    }
    let stored = app
        .directory
        .oidc_connection(acme.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.client_id, "gatehouse", "unchanged by the refusals");

    // A public client: no secret.
    let r = api
        .put(
            "/orgs/acme/oidc",
            json!({"issuer": op.issuer, "client_id": "public"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["client_secret_set"], false);
    let sets: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0 == "oidc.connection.set")
        .collect();
    assert_eq!(sets.len(), 2);
    assert!(sets.iter().all(|e| e.1 == api.actor()));
}

#[tokio::test]
async fn scim_tokens_are_issued_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;

    let r = api
        .post(
            "/orgs/acme/tokens",
            json!({"description": "Okta provisioning", "expires_in_days": 365}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ghs_"));
    let id = r.body["token"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["token"]["status"], "active");
    assert!(secret.starts_with(r.body["token"]["prefix"].as_str().unwrap()));
    assert!(r.body["token"]["expires"]
        .as_str()
        .unwrap()
        .starts_with("2027-01-01"));

    let scim = |secret: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/scim/v2/acme/Users"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(scim(secret.clone()).await, 200);

    let listed = api.get("/orgs/acme/tokens").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["tokens"][0]["id"], id);
    assert_eq!(listed.body["tokens"][0]["description"], "Okta provisioning");
    assert!(listed.body["tokens"][0]["last_used"].is_string());
    assert!(!listed.body.to_string().contains(&secret));

    let r = api.delete(&format!("/orgs/acme/tokens/{id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(scim(secret).await, 401);
    let listed = api.get("/orgs/acme/tokens").await;
    assert_eq!(listed.body["tokens"][0]["status"], "revoked");

    assert_api_error(
        &api.delete("/orgs/acme/tokens/nope").await,
        404,
        "not_found",
    );
    let unknown = gatehouse::directory::TokenId::new();
    assert_api_error(
        &api.delete(&format!("/orgs/acme/tokens/{unknown}")).await,
        404,
        "not_found",
    );
    let r = api
        .post("/orgs/acme/tokens", json!({"expires_in_days": 0}))
        .await;
    assert_api_error(&r, 400, "invalid");
    // No body at all: a token without description or expiry.
    let r = read(
        app.client
            .post(app.url("/api/v1/orgs/acme/tokens"))
            .bearer_auth(&api.secret)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body["token"]["expires"], json!(null));

    // Another organisation's token cannot be revoked through this one.
    let globex = app.org("globex", &[]).await;
    let (other, _) = app
        .directory
        .create_token(globex.id, "x", None, &Actor::Cli)
        .await
        .unwrap();
    let r = api.delete(&format!("/orgs/acme/tokens/{}", other.id)).await;
    assert_api_error(&r, 404, "not_found");

    let actions: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0.starts_with("token.") && e.1 == api.actor())
        .map(|e| e.0)
        .collect();
    assert_eq!(actions, ["token.create", "token.revoke", "token.create"]);
}
