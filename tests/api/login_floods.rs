//! The sign-in doors that need no credential are bounded (the edge holds, item 3): posts to
//! the SAML ACS and calls of the OIDC callback are rate limited per organisation and client
//! address, a client's address comes from X-Forwarded-For only through a trusted proxy, and
//! identical refusals within `login.fold_seconds` are one event with a count.

use gatehouse::directory::Org;

use crate::policy_logins::{OidcIdp, SamlIdp};
use crate::support::scim::events;
use crate::support::TestApp;

/// Posts a forged SAMLResponse (not even XML) to the ACS; the status.
async fn forge(app: &TestApp, slug: &str, forwarded_for: Option<&str>) -> u16 {
    let mut req = app
        .client
        .post(app.url(&format!("/saml/{slug}/acs")))
        .form(&[("SAMLResponse", "Zm9yZ2Vk")]);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let r = req.send().await.unwrap();
    if r.status() == 429 {
        assert!(r.headers().contains_key("retry-after"));
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Too many sign-in attempts"));
        return 429;
    }
    r.status().as_u16()
}

async fn refused_logins(app: &TestApp, org: &Org) -> Vec<serde_json::Value> {
    events(app, org)
        .await
        .into_iter()
        .filter(|e| e.0 == "login" && e.1 == "failure")
        .map(|e| e.2)
        .collect()
}

#[tokio::test]
async fn a_flood_of_forged_posts_is_limited_per_client_and_organisation() {
    let app = TestApp::spawn_with(|c| {
        c.login.requests_per_second = 0.001;
        c.login.burst = 5;
    })
    .await;
    let acme = app.org("acme", &[]).await;
    SamlIdp::connect(&app, &acme).await;
    let globex = app.org("globex", &[]).await;
    SamlIdp::connect(&app, &globex).await;

    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(forge(&app, "acme", None).await);
    }
    assert_eq!(statuses, [403, 403, 403, 403, 403, 429, 429, 429]);
    // A forged X-Forwarded-For from a client that is not a trusted proxy changes nothing.
    assert_eq!(forge(&app, "acme", Some("203.0.113.50")).await, 429);
    assert_eq!(
        forge(&app, "globex", None).await,
        403,
        "each organisation apart"
    );
    // Five refusals, all identical: one event.
    assert_eq!(refused_logins(&app, &acme).await.len(), 1);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = TestApp::spawn_with(|c| {
        c.login.requests_per_second = 0.001;
        c.login.burst = 2;
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let acme = app.org("acme", &[]).await;
    SamlIdp::connect(&app, &acme).await;
    let one = Some("203.0.113.1");
    assert_eq!(forge(&app, "acme", one).await, 403);
    assert_eq!(forge(&app, "acme", one).await, 403);
    assert_eq!(forge(&app, "acme", one).await, 429);
    assert_eq!(forge(&app, "acme", Some("203.0.113.2")).await, 403);
    // A client's own entry left of the proxy's does not make it someone else.
    assert_eq!(
        forge(&app, "acme", Some("198.51.100.9, 203.0.113.1")).await,
        429
    );
}

#[tokio::test]
async fn identical_refusals_are_one_event_with_a_count() {
    let app = TestApp::spawn_with(|c| c.login.requests_per_second = 0.0).await;
    let acme = app.org("acme", &[]).await;
    SamlIdp::connect(&app, &acme).await;
    for _ in 0..20 {
        assert_eq!(forge(&app, "acme", None).await, 403);
    }
    let logged = refused_logins(&app, &acme).await;
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert!(logged[0].get("repeated").is_none());

    app.clock.advance_ms(61_000);
    assert_eq!(forge(&app, "acme", None).await, 403);
    let logged = refused_logins(&app, &acme).await;
    assert_eq!(logged.len(), 2, "{logged:#?}");
    let last = logged.iter().find(|d| d.get("repeated").is_some()).unwrap();
    assert_eq!(last["repeated"], 19, "{logged:#?}");
}

#[tokio::test]
async fn the_oidc_callback_is_bounded_the_same_way() {
    let app = TestApp::spawn_with(|c| {
        c.login.requests_per_second = 0.001;
        c.login.burst = 3;
    })
    .await;
    let acme = app.org("acme", &[]).await;
    OidcIdp::connect(&app, &acme).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app
            .client
            .get(app.url("/oidc/acme/callback?code=x&state=forged"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [403, 403, 403, 429, 429]);
    assert_eq!(refused_logins(&app, &acme).await.len(), 1);
}
