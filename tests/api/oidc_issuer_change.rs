//! Connection changes are visible: a changed OIDC issuer is another provider. The links its
//! predecessor's subjects made end (a `sub` is unique only within its issuer), the change
//! is an event, and the console never carries the old provider's client secret over.

use gatehouse::directory::connections::oidc::OidcConnection;
use gatehouse::directory::{Actor, UserId};
use serde_json::json;

use crate::oidc_op::TestOp;
use crate::policy_logins::{me, OidcIdp};
use crate::support::console::platform_admin;
use crate::support::scim::events;
use crate::support::TestApp;

#[tokio::test]
async fn a_new_issuer_ends_the_old_issuers_links_and_reaches_no_one_through_them() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let first = OidcIdp::connect(&app, &org).await;
    let cookie = first
        .login("sub-1", "vic@acme.test", json!({}))
        .await
        .session();
    let victim = me(&app, &cookie).await["id"].as_str().unwrap().to_string();
    let victim_id = UserId::parse(&victim).unwrap();
    let links = || app.directory.user_identities(org.id, victim_id);
    assert_eq!(links().await.unwrap().len(), 1);

    // The same issuer saved again (with a final slash): the links stay.
    let mut same = app
        .directory
        .oidc_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    same.issuer.push('/');
    app.directory
        .set_oidc_connection(&same, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(links().await.unwrap().len(), 1);

    // Another provider: the old links end, and the event says how many.
    let second = OidcIdp::connect(&app, &org).await;
    assert!(links().await.unwrap().is_empty());
    let change: Vec<_> = events(&app, &org)
        .await
        .into_iter()
        .filter(|e| e.0 == "oidc.issuer.change")
        .collect();
    assert_eq!(change.len(), 1, "{change:?}");
    assert_eq!(change[0].2["linksEnded"], 1);
    assert_eq!(change[0].2["to"], json!(second.op.issuer));

    // The new provider's user with the same `sub` is not the victim.
    let cookie = second
        .login(
            "sub-1",
            "mallory@evil.test",
            json!({"email_verified": false, "preferred_username": "mallory"}),
        )
        .await
        .session();
    assert_ne!(me(&app, &cookie).await["id"], json!(victim));
}

#[tokio::test]
async fn the_console_does_not_keep_a_client_secret_for_another_issuer() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (one, two) = (TestOp::start().await, TestOp::start().await);
    let save = |issuer: String, fields: Vec<(&'static str, &'static str)>| {
        let admin = &admin;
        let app = &app;
        async move {
            let mut form = vec![("issuer", issuer.as_str()), ("client_id", "c")];
            form.extend(fields);
            let r = admin.post(app, "/admin/orgs/acme/oidc", &form).await;
            assert_eq!(r.status(), 303);
        }
    };
    save(one.issuer.clone(), vec![("client_secret", "first-secret")]).await;
    let stored = || app.directory.oidc_connection(org.id);
    assert!(stored().await.unwrap().unwrap().sealed_secret.is_some());
    save(one.issuer.clone(), vec![("keep_secret", "on")]).await;
    assert!(
        stored().await.unwrap().unwrap().sealed_secret.is_some(),
        "kept for the same issuer"
    );
    save(two.issuer.clone(), vec![("keep_secret", "on")]).await;
    let c: OidcConnection = stored().await.unwrap().unwrap();
    assert_eq!(c.issuer, two.issuer);
    assert!(
        c.sealed_secret.is_none(),
        "the old provider's secret is dropped"
    );
}
