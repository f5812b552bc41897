//! Proven domains (DESIGN.md, Login rules): a domain routes `/login` only once verified, by
//! the DNS TXT record its claim names (looked up at a real DNS server the test runs) or a
//! platform admin's approval; a domain belongs to one organisation at most.

use gatehouse::directory::Org;
use serde_json::{json, Value};

use crate::console_setup::{customer_admin, setup_session};
use crate::dns_server::DnsServer;
use crate::policy_logins::SamlIdp;
use crate::support::api::{assert_api_error, Api};
use crate::support::console::platform_admin;
use crate::support::TestApp;

async fn app_with_dns(zone: &str) -> (TestApp, DnsServer) {
    let dns = DnsServer::start(zone).await;
    let addr = dns.addr.to_string();
    let app = TestApp::spawn_with(|c| c.dns.resolver = addr).await;
    (app, dns)
}

/// Where `/login` sends an email: the SAML login of an organisation, or a status.
async fn login_route(app: &TestApp, email: &str) -> Result<String, u16> {
    let r = app.submit_login(email).await;
    match r.headers().get("location") {
        Some(l) => Ok(l.to_str().unwrap().to_string()),
        None => Err(r.status().as_u16()),
    }
}

async fn pending(api: &Api<'_>, slug: &str) -> Vec<Value> {
    let r = api.get(&format!("/orgs/{slug}/domains")).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    r.body["pending"].as_array().unwrap().clone()
}

async fn verified(app: &TestApp, org: &Org) -> Vec<String> {
    let org = app.directory.org(org.id).await.unwrap().unwrap();
    org.domains.iter().map(|d| d.as_str().to_string()).collect()
}

#[tokio::test]
async fn a_customers_domain_routes_no_login_until_its_txt_record_is_found() {
    let (app, dns) = app_with_dns("acme.test").await;
    let org = app.org("acme", &[]).await;
    SamlIdp::connect(&app, &org).await;
    let api = Api::scoped(&app, &org).await;

    let r = api
        .patch("/orgs/acme/settings", json!({"domains": ["acme.test"]}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["domains"], json!([]), "named, not verified");
    let claims = pending(&api, "acme").await;
    assert_eq!(claims.len(), 1);
    let record = &claims[0]["record"];
    assert_eq!(record["type"], "TXT");
    assert_eq!(record["name"], "_gatehouse-challenge.acme.test");
    let value = record["value"].as_str().unwrap().to_string();
    assert!(
        value.starts_with("gatehouse-domain-verification="),
        "{value}"
    );
    assert_eq!(
        login_route(&app, "ada@acme.test").await,
        Err(400),
        "a pending domain routes no one"
    );

    // Nothing published yet, then a wrong value (another organisation's, say): not proven.
    let r = api
        .post("/orgs/acme/domains/acme.test/check", json!({}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["verified"], false);
    assert!(
        r.body["problem"]
            .as_str()
            .unwrap()
            .contains("no TXT record"),
        "{:#}",
        r.body
    );
    dns.publish_txt(
        "_gatehouse-challenge.acme.test",
        "gatehouse-domain-verification=guess",
    )
    .await;
    let r = api
        .post("/orgs/acme/domains/acme.test/check", json!({}))
        .await;
    assert_eq!(r.body["verified"], false, "{:#}", r.body);
    assert!(verified(&app, &org).await.is_empty());
    let claims = pending(&api, "acme").await;
    assert!(
        claims[0]["problem"].as_str().unwrap().contains("none is"),
        "{claims:#?}"
    );
    assert_eq!(login_route(&app, "ada@acme.test").await, Err(400));

    // The record the claim names: the domain is verified, and /login routes by it.
    dns.publish_txt("_gatehouse-challenge.acme.test", &value)
        .await;
    let r = api
        .post("/orgs/acme/domains/acme.test/check", json!({}))
        .await;
    assert_eq!(r.body["verified"], true, "{:#}", r.body);
    assert_eq!(verified(&app, &org).await, ["acme.test"]);
    assert!(pending(&api, "acme").await.is_empty());
    let to = login_route(&app, "ada@acme.test").await.unwrap();
    assert!(to.starts_with("/saml/acme/login"), "{to}");
    let events = crate::support::api::logged(&app, &org).await;
    assert!(
        events.iter().any(|e| e.0 == "org.domain.verify"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_second_organisation_cannot_claim_a_verified_domain() {
    let (app, dns) = app_with_dns("acme.test").await;
    let acme = app.org("acme", &["acme.test"]).await;
    SamlIdp::connect(&app, &acme).await;
    let evil = app.org("evil", &[]).await;
    SamlIdp::connect(&app, &evil).await;
    let api = Api::scoped(&app, &evil).await;

    // Naming it is allowed (a claim routes nothing); proving it is not.
    let r = api
        .patch("/orgs/evil/settings", json!({"domains": ["acme.test"]}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let value = pending(&api, "evil").await[0]["record"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    dns.publish_txt("_gatehouse-challenge.acme.test", &value)
        .await;
    let r = api
        .post("/orgs/evil/domains/acme.test/check", json!({}))
        .await;
    assert_api_error(&r, 409, "conflict");
    let platform = Api::platform(&app).await;
    let r = platform
        .post("/orgs/evil/domains/acme.test/approve", json!({}))
        .await;
    assert_api_error(&r, 409, "conflict");
    let r = platform
        .patch("/orgs/evil/settings", json!({"domains": ["acme.test"]}))
        .await;
    assert_api_error(&r, 409, "conflict");

    assert!(verified(&app, &evil).await.is_empty());
    assert_eq!(verified(&app, &acme).await, ["acme.test"]);
    let to = login_route(&app, "ada@acme.test").await.unwrap();
    assert!(to.starts_with("/saml/acme/login"), "{to}");
}

#[tokio::test]
async fn only_a_platform_admin_approves_a_claim_and_a_scoped_key_cannot() {
    let (app, _dns) = app_with_dns("acme.test").await;
    let org = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &org).await;
    api.patch("/orgs/acme/settings", json!({"domains": ["acme.test"]}))
        .await;

    let r = api
        .post("/orgs/acme/domains/acme.test/approve", json!({}))
        .await;
    assert_api_error(&r, 403, "forbidden");
    let r = api
        .post("/orgs/acme/domains/other.test/check", json!({}))
        .await;
    assert_api_error(&r, 404, "not_found");
    assert!(verified(&app, &org).await.is_empty());

    let platform = Api::platform(&app).await;
    let r = platform
        .post("/orgs/acme/domains/acme.test/approve", json!({}))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(verified(&app, &org).await, ["acme.test"]);
    // A platform key's own list is verified as set.
    let r = platform
        .patch(
            "/orgs/acme/settings",
            json!({"domains": ["acme.test", "acme.example"]}),
        )
        .await;
    assert_eq!(
        r.body["domains"],
        json!(["acme.example", "acme.test"]),
        "{:#}",
        r.body
    );
}

#[tokio::test]
async fn the_console_shows_a_pending_domain_with_its_record_and_checks_it() {
    let (app, dns) = app_with_dns("acme.test").await;
    let org = app.org("acme", &[]).await;
    let it = setup_session(&app, &org).await;
    let r = it
        .post(
            &app,
            "/admin/orgs/acme/domains",
            &[("domains", "acme.test")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        verified(&app, &org).await.is_empty(),
        "a setup link names, never verifies"
    );
    let (_, page) = it.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("Pending domains"), "{page}");
    assert!(page.contains("_gatehouse-challenge.acme.test"));
    let value = app.directory.domain_claims(org.id).await.unwrap()[0].record_value();
    assert!(
        page.contains(&value),
        "the record to publish is on the page"
    );
    assert!(
        !page.contains("/domains/acme.test/approve"),
        "approval is the platform's"
    );

    let r = it
        .post(&app, "/admin/orgs/acme/domains/acme.test/check", &[])
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not verified yet"));
    // The customer's own admin cannot approve it either.
    let admin = customer_admin(&app, &org, "boss").await;
    let r = admin
        .post(&app, "/admin/orgs/acme/domains/acme.test/approve", &[])
        .await;
    assert_eq!(r.status(), 403);
    assert!(verified(&app, &org).await.is_empty());

    dns.publish_txt("_gatehouse-challenge.acme.test", &value)
        .await;
    let r = it
        .post(&app, "/admin/orgs/acme/domains/acme.test/check", &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(verified(&app, &org).await, ["acme.test"]);

    // The platform admin approves another pending domain from the page.
    it.post(
        &app,
        "/admin/orgs/acme/domains",
        &[("domains", "acme.test, acme.example")],
    )
    .await;
    let platform = platform_admin(&app).await;
    let (_, page) = platform.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("/domains/acme.example/approve"));
    let r = platform
        .post(&app, "/admin/orgs/acme/domains/acme.example/approve", &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(verified(&app, &org).await, ["acme.example", "acme.test"]);
}
