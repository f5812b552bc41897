//! The outbound client (the edge holds, item 2): SAML metadata URLs and OIDC discovery and
//! keys are fetched only from addresses the policy allows, no redirect is followed, and a
//! response is read up to its size cap and its time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::api::{assert_api_error, Api};
use crate::support::saml_idp::TestIdp;
use crate::support::TestApp;

/// A local server answering every path with `answer`; counts the requests it gets.
async fn serve(answer: axum::Router) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = answer.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{port}"), hits)
}

fn metadata_router() -> axum::Router {
    let idp = TestIdp::new("http://www.okta.com/exk-outbound");
    let xml = idp.metadata(&[&idp.cert_b64]);
    axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let xml = xml.clone();
            async move { xml }
        }),
    )
}

/// A production server: its public URL is not on loopback.
async fn production() -> TestApp {
    TestApp::spawn_with(|c| c.server.public_url = "https://sso.example.com".into()).await
}

#[tokio::test]
async fn a_production_server_fetches_nothing_from_loopback_private_or_metadata_addresses() {
    let app = production().await;
    app.org("acme", &[]).await;
    let api = Api::platform(&app).await;
    let (port, hits) = serve(metadata_router()).await;
    for (url, why) in [
        (format!("http://127.0.0.1:{port}/metadata"), "loopback"),
        (format!("http://localhost:{port}/metadata"), "loopback"),
        ("https://10.1.2.3/metadata".to_string(), "private"),
        (
            "https://169.254.169.254/latest/meta-data".to_string(),
            "link-local",
        ),
        ("https://[fd00:ec2::254]/".to_string(), "unique-local"),
    ] {
        let r = api
            .put("/orgs/acme/saml", json!({"metadata_url": url}))
            .await;
        let detail = assert_api_error(&r, 400, "invalid");
        assert!(detail.contains(why), "{url}: {detail}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no request left the server");
    let r = api
        .put(
            "/orgs/acme/oidc",
            json!({"issuer": format!("http://127.0.0.1:{port}"), "client_id": "c"}),
        )
        .await;
    assert_api_error(&r, 400, "invalid");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let r = api.get("/orgs/acme/saml").await;
    assert_eq!(r.body["configured"], false, "{:#}", r.body);
}

#[tokio::test]
async fn allow_private_addresses_lets_a_production_server_reach_a_private_idp() {
    let app = TestApp::spawn_with(|c| {
        c.server.public_url = "https://sso.example.com".into();
        c.outbound.allow_private_addresses = true;
    })
    .await;
    app.org("acme", &[]).await;
    let api = Api::platform(&app).await;
    let (port, hits) = serve(metadata_router()).await;
    let url = format!("http://127.0.0.1:{port}/metadata");
    let r = api
        .put("/orgs/acme/saml", json!({"metadata_url": url}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_a_large_or_slow_answer_is_cut_off() {
    let app = TestApp::spawn_with(|c| {
        c.outbound.max_response_bytes = 4096;
        c.outbound.timeout_seconds = 1;
    })
    .await;
    app.org("acme", &[]).await;
    let api = Api::platform(&app).await;
    let router = axum::Router::new()
        .route(
            "/redirect",
            axum::routing::get(|| async {
                axum::response::Redirect::temporary("http://169.254.169.254/latest/meta-data")
            }),
        )
        .route(
            "/large",
            axum::routing::get(|| async { format!("<x>{}</x>", "a".repeat(100_000)) }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                "late"
            }),
        );
    let (port, hits) = serve(router).await;
    let base = format!("http://127.0.0.1:{port}");
    for (path, says) in [
        ("/redirect", "307"),
        ("/large", "larger than 4096 bytes"),
        ("/slow", "cannot fetch"),
    ] {
        let r = api
            .put(
                "/orgs/acme/saml",
                json!({"metadata_url": format!("{base}{path}")}),
            )
            .await;
        let detail = assert_api_error(&r, 400, "invalid");
        assert!(detail.contains(says), "{path}: {detail}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "one request each, no redirect followed"
    );
}

#[tokio::test]
async fn an_oidc_discovery_document_cannot_send_the_key_fetch_inward() {
    // A development server (loopback allowed): the provider's own document names a
    // jwks_uri at the cloud metadata service.
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let api = Api::platform(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": "http://169.254.169.254/latest/meta-data/keys",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let router = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let r = api
        .put(
            "/orgs/acme/oidc",
            json!({"issuer": issuer, "client_id": "c"}),
        )
        .await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("link-local"), "{detail}");
    let r = api.get("/orgs/acme/oidc").await;
    assert_eq!(r.body["configured"], false, "{:#}", r.body);
}
