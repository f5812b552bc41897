//! Connection changes are visible (issue: one person, one account): a metadata refresh that
//! replaces the IdP's signing certificate writes an event naming both certificates, shows in
//! the console, and keeps the old certificate trusted for `[saml] certificate_overlap_hours`.

use std::sync::{Arc, Mutex};

use gatehouse::directory::connections::saml::SamlConnection;
use gatehouse::directory::{Actor, Org};
use gatehouse::sso::saml::metadata::{fingerprint, parse_idp_metadata};
use gatehouse::sso::saml::refresh::{refresh_all, Refreshed};

use crate::support::console::platform_admin;
use crate::support::saml_idp::{encode, response, Spec, TestIdp};
use crate::support::scim::events;
use crate::support::TestApp;

const HOUR: i64 = 3_600_000;

/// Serves `doc` at a metadata URL; returns the URL.
async fn serve(doc: Arc<Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let server = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { doc.lock().unwrap().clone() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
    url
}

/// Posts a response signed by `idp` to the ACS; the status.
async fn login_signed_by(app: &TestApp, org: &Org, idp: &TestIdp) -> u16 {
    let acs = app.url(&format!("/saml/{}/acs", org.slug));
    let sp = app.url(&format!("/saml/{}/metadata", org.slug));
    let spec = Spec::new(idp, &sp, &acs, "ada@acme.test");
    let form = [("SAMLResponse", encode(&response(idp, &spec)))];
    let r = app.client.post(&acs).form(&form).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn a_refreshed_certificate_is_logged_shown_and_the_old_one_trusted_for_the_overlap() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let old = TestIdp::new("http://www.okta.com/exk1rotation");
    let new = old.rotated();
    let doc = Arc::new(Mutex::new(old.metadata(&[&old.cert_b64])));
    let url = serve(doc.clone()).await;
    let md = parse_idp_metadata(&doc.lock().unwrap().clone(), app.directory.now()).unwrap();
    let c = SamlConnection {
        org_id: org.id,
        idp_entity_id: md.entity_id,
        sso_url: md.sso_url,
        certificates: md.certificates,
        retired: Vec::new(),
        metadata_url: Some(url),
        created_at: 0,
        updated_at: 0,
    };
    app.directory
        .set_saml_connection(org.id, &c, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        login_signed_by(&app, &org, &new).await,
        403,
        "not trusted yet"
    );

    // The IdP switches to a new certificate in one step (no overlap in its metadata).
    *doc.lock().unwrap() = new.metadata(&[&new.cert_b64]);
    assert_eq!(
        refresh_all(&app.directory, &crate::support::outbound(), 24 * HOUR)
            .await
            .unwrap(),
        [Refreshed::Changed]
    );
    let change = events(&app, &org)
        .await
        .into_iter()
        .find(|e| e.0 == "saml.certificate.change")
        .expect("the rotation is an event");
    assert_eq!(
        change.2["added"],
        serde_json::json!([fingerprint(&new.cert_b64)])
    );
    assert_eq!(
        change.2["removed"],
        serde_json::json!([fingerprint(&old.cert_b64)])
    );
    assert!(
        change.2["removedTrustedUntil"].is_string(),
        "{:#}",
        change.2
    );

    // Both sign in during the overlap; the console shows the old one as retired.
    assert_eq!(login_signed_by(&app, &org, &new).await, 303);
    assert_eq!(login_signed_by(&app, &org, &old).await, 303, "overlap");
    let admin = platform_admin(&app).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("retired"), "{page}");
    assert!(page.contains(&fingerprint(&old.cert_b64)), "{page}");

    // After the overlap, only the new certificate is trusted.
    app.clock.advance_ms(25 * HOUR);
    assert_eq!(login_signed_by(&app, &org, &old).await, 403);
    assert_eq!(login_signed_by(&app, &org, &new).await, 303);
    // The next refresh forgets the retired certificate.
    refresh_all(&app.directory, &crate::support::outbound(), 24 * HOUR)
        .await
        .unwrap();
    let stored = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.retired.is_empty(), "{:?}", stored.retired);
}

#[tokio::test]
async fn with_no_overlap_a_dropped_certificate_stops_at_once() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let old = TestIdp::new("http://www.okta.com/exk1rotation0");
    let new = old.rotated();
    let doc = Arc::new(Mutex::new(old.metadata(&[&old.cert_b64])));
    let url = serve(doc.clone()).await;
    let md = parse_idp_metadata(&doc.lock().unwrap().clone(), app.directory.now()).unwrap();
    let c = SamlConnection {
        org_id: org.id,
        idp_entity_id: md.entity_id,
        sso_url: md.sso_url,
        certificates: md.certificates,
        retired: Vec::new(),
        metadata_url: Some(url),
        created_at: 0,
        updated_at: 0,
    };
    app.directory
        .set_saml_connection(org.id, &c, &Actor::Cli)
        .await
        .unwrap();
    *doc.lock().unwrap() = new.metadata(&[&new.cert_b64]);
    refresh_all(&app.directory, &crate::support::outbound(), 0)
        .await
        .unwrap();
    assert_eq!(login_signed_by(&app, &org, &old).await, 403);
    assert_eq!(login_signed_by(&app, &org, &new).await, 303);
}
