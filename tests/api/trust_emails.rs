//! A connection's `trust_emails` setting (DESIGN.md, Login rules): an OIDC email matches an
//! existing user only with `email_verified: true` unless the organisation trusts its IdP's
//! emails (off by default); a SAML assertion's email matches unless the organisation turns
//! that trust off (on by default).

use gatehouse::directory::orgs::OrgChange;
use gatehouse::directory::{Actor, UserId};
use serde_json::json;

use crate::policy_logins::{me, OidcIdp, SamlIdp};
use crate::support::scim::{Scim, USER_URN};
use crate::support::TestApp;

async fn provision(scim: &Scim<'_>, user_name: &str, email: &str) -> String {
    let body = json!({"schemas": [USER_URN], "userName": user_name, "active": true,
                      "emails": [{"value": email, "type": "work", "primary": true}]});
    let r = scim.post("/Users", body).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn set(app: &TestApp, scim: &Scim<'_>, setting: &str) {
    app.directory
        .update_org(
            scim.org.id,
            &[OrgChange::parse(setting).unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_oidc_connection_that_trusts_its_emails_matches_an_unverified_one() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let oidc = OidcIdp::connect(&app, &scim.org).await;
    let id = provision(&scim, "lee.k", "lee@acme.test").await;
    let unverified = json!({"email_verified": false, "preferred_username": "lee-own-pick"});

    // The default: an unverified email reaches no one; the login is a new user.
    let cookie = oidc
        .login("sub-1", "lee@acme.test", unverified.clone())
        .await
        .session();
    assert_ne!(me(&app, &cookie).await["id"], json!(id));

    set(&app, &scim, "oidc_trust_emails=true").await;
    let cookie = oidc
        .login("sub-2", "lee@acme.test", unverified)
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
    let links = app
        .directory
        .user_identities(scim.org.id, UserId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(links.len(), 1, "the trusted email linked the subject");
}

#[tokio::test]
async fn a_saml_connection_that_distrusts_its_emails_matches_by_name_id_only() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = provision(&scim, "mo.k", "mo@acme.test").await;

    set(&app, &scim, "saml_trust_emails=false").await;
    // A NameID of its own with the provisioned user's email: not that user.
    let cookie = saml.login("00u-other", "mo@acme.test").await.session();
    let other = me(&app, &cookie).await;
    assert_ne!(other["id"], json!(id));
    assert!(
        other["emails"].as_array().is_none_or(Vec::is_empty),
        "an untrusted email is not kept: {other:#}"
    );
    // The NameID is the IdP's own identifier of the person: it still matches.
    let cookie = saml.login("mo.k", "mo@acme.test").await.session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));

    set(&app, &scim, "saml_trust_emails=true").await;
    let cookie = saml.login("00u-mo", "mo@acme.test").await.session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
}
