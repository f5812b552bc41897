//! Identity policies: `immutable_user_name`, `immutable_email`, `unique_email` and
//! `allowed_email_domains`, through SCIM, the directory and real SAML and OIDC logins.

use gatehouse::directory::policy::ViolationKind;
use gatehouse::directory::{Actor, Error, UserId};
use serde_json::{json, Value};

use crate::policy_lifecycle::set;
use crate::policy_logins::{assert_refused, me, OidcIdp, SamlIdp};
use crate::support::api::{assert_api_error, Api};
use crate::support::scim::{events, Reply, Scim, USER_URN};
use crate::support::{user_data, TestApp};

fn user(user_name: &str, emails: &[&str]) -> Value {
    let emails: Vec<Value> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"value": e, "type": if i == 0 { "work" } else { "home" }, "primary": i == 0}))
        .collect();
    json!({"schemas": [USER_URN], "userName": user_name, "emails": emails,
           "name": {"givenName": "Ada", "familyName": "Lovelace"}})
}

async fn create(scim: &Scim<'_>, user_name: &str, emails: &[&str]) -> String {
    let r = scim.post("/Users", user(user_name, emails)).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Asserts a SCIM policy refusal naming `attribute`, and returns its detail.
#[track_caller]
fn refused(r: &Reply, status: u16, scim_type: &str, attribute: &str) -> String {
    let body = r.assert_error(status);
    assert_eq!(body["scimType"], scim_type, "{body:#}");
    let detail = body["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains(attribute),
        "{detail:?} should name {attribute}"
    );
    detail
}

#[tokio::test]
async fn immutable_user_name_refuses_any_change_by_put_or_patch_and_lets_the_same_value_pass() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    set(&app, &scim.org, "immutable_user_name=true").await;
    let id = create(&scim, "ada@plumm.test", &["ada@plumm.test"]).await;
    let path = format!("/Users/{id}");

    let r = scim
        .put(&path, user("ada.l@plumm.test", &["ada@plumm.test"]))
        .await;
    refused(&r, 400, "mutability", "userName");
    // A change of case is a change: the app receives the userName as it is written.
    let r = scim
        .put(&path, user("Ada@plumm.test", &["ada@plumm.test"]))
        .await;
    refused(&r, 400, "mutability", "userName");
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "userName", "value": "ada.l@plumm.test"}]),
        )
        .await;
    refused(&r, 400, "mutability", "userName");
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "value": {"userName": "x@plumm.test"}}]),
        )
        .await;
    refused(&r, 400, "mutability", "userName");
    assert_eq!(scim.get(&path).await.body["userName"], "ada@plumm.test");
    let refusal = events(&app, &scim.org).await.pop().unwrap();
    assert_eq!(
        (refusal.0.as_str(), refusal.1.as_str()),
        ("user.patch", "failure")
    );

    // The same values again, and other changes, pass.
    let mut same = scim.get(&path).await.body;
    same["displayName"] = json!("Ada L.");
    let r = scim.put(&path, same).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "userName", "value": "ada@plumm.test"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);

    // Whatever the door: the directory itself refuses.
    let uid = UserId::parse(&id).unwrap();
    let err = app
        .directory
        .replace_user(
            scim.org.id,
            uid,
            user_data("other@plumm.test"),
            None,
            &Actor::Cli,
            "user.replace",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Policy(v) if v.kind == ViolationKind::Mutability && v.attribute == "userName"),
        "{err:?}"
    );

    // Off: a rename goes through.
    set(&app, &scim.org, "immutable_user_name=false").await;
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "userName", "value": "ada.l@plumm.test"}]),
        )
        .await;
    assert_eq!(r.body["userName"], "ada.l@plumm.test");
}

#[tokio::test]
async fn immutable_email_refuses_a_change_of_the_values_but_not_of_their_order_or_type() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    set(&app, &scim.org, "immutable_email=true").await;
    let id = create(&scim, "ada", &["ada@plumm.test", "ada@home.test"]).await;
    let path = format!("/Users/{id}");

    let r = scim
        .put(&path, user("ada", &["ada.l@plumm.test", "ada@home.test"]))
        .await;
    refused(&r, 400, "mutability", "emails");
    let r = scim.put(&path, user("ada", &["ada@plumm.test"])).await;
    refused(&r, 400, "mutability", "emails");
    let r = scim
        .put(&path, user("ada", &["ADA@plumm.test", "ada@home.test"]))
        .await;
    refused(&r, 400, "mutability", "emails");
    // Entra's in-place change of the work email.
    let r = scim
        .patch(
            &path,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@plumm.test"}]),
        )
        .await;
    refused(&r, 400, "mutability", "emails");
    let r = scim
        .patch(&path, json!([{"op": "remove", "path": "emails"}]))
        .await;
    refused(&r, 400, "mutability", "emails");

    // The same values in another order, with other types and primary: not a change.
    let r = scim
        .put(&path, user("ada", &["ada@home.test", "ada@plumm.test"]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "ada@home.test");

    // A user without an email may be given one (RFC 7643 §7: set while it has no value).
    let bare = scim.user("bob").await;
    let r = scim
        .patch(
            &format!("/Users/{bare}"),
            json!([{"op": "add", "path": "emails", "value": [{"value": "bob@plumm.test"}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = scim
        .patch(
            &format!("/Users/{bare}"),
            json!([{"op": "add", "path": "emails", "value": [{"value": "bob2@plumm.test"}]}]),
        )
        .await;
    refused(&r, 400, "mutability", "emails");
}

#[tokio::test]
async fn unique_email_refuses_a_taken_email_on_create_replace_and_jit() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "appenate").await;
    set(&app, &scim.org, "unique_email=true").await;
    let ada = create(&scim, "ada", &["ada@appenate.test"]).await;

    // Compared in lower case, whatever its type.
    let r = scim
        .post(
            "/Users",
            user("ada2", &["other@x.test", "ADA@appenate.test"]),
        )
        .await;
    let detail = refused(&r, 409, "uniqueness", "emails");
    assert!(detail.contains("ada@appenate.test"), "{detail}");
    let bob = create(&scim, "bob", &["bob@appenate.test"]).await;
    let r = scim
        .put(
            &format!("/Users/{bob}"),
            user("bob", &["Ada@Appenate.test"]),
        )
        .await;
    refused(&r, 409, "uniqueness", "emails");
    let r = scim
        .patch(
            &format!("/Users/{bob}"),
            json!([{"op": "add", "path": "emails", "value": [{"value": "ada@appenate.test", "type": "other"}]}]),
        )
        .await;
    refused(&r, 409, "uniqueness", "emails");
    // A user keeps its own email through a replace.
    let r = scim
        .put(
            &format!("/Users/{ada}"),
            user("ada", &["ada@appenate.test"]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);

    // A deactivated user keeps its email; a soft-deleted one does not hold it.
    scim.patch(
        &format!("/Users/{ada}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    let r = scim
        .post("/Users", user("ada2", &["ada@appenate.test"]))
        .await;
    refused(&r, 409, "uniqueness", "emails");
    assert_eq!(scim.delete(&format!("/Users/{ada}")).await.status, 204);
    let ada2 = create(&scim, "ada2", &["ada@appenate.test"]).await;
    // Restoring the deleted one now would give the email twice: refused.
    let r = scim
        .post("/Users", user("ada", &["ada@appenate.test"]))
        .await;
    refused(&r, 409, "uniqueness", "emails");

    // JIT: a first login whose email another user has is that user (matched by its stored
    // email), never a second user beside it.
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let cookie = saml.login("carol", "ada@appenate.test").await.session();
    assert_eq!(me(&app, &cookie).await["id"], json!(ada2));
    assert!(app
        .directory
        .user_by_user_name(scim.org.id, "carol")
        .await
        .unwrap()
        .is_none());
    let cookie = saml.login("dan", "dan@appenate.test").await.session();
    assert_eq!(me(&app, &cookie).await["userName"], "dan");

    // Off: two users may share an email. Turned on again, a write that adds no email
    // passes, so such users can still be updated and deactivated.
    set(&app, &scim.org, "unique_email=false").await;
    let eve = create(&scim, "eve", &["ada@appenate.test"]).await;
    set(&app, &scim.org, "unique_email=true").await;
    let mut body = user("eve", &["ada@appenate.test"]);
    body["displayName"] = json!("Eve");
    let r = scim.put(&format!("/Users/{eve}"), body).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = scim
        .patch(
            &format!("/Users/{eve}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = scim
        .put(
            &format!("/Users/{ada2}"),
            user("ada2", &["ada@appenate.test", "dan@appenate.test"]),
        )
        .await;
    refused(&r, 409, "uniqueness", "dan@appenate.test");
}

#[tokio::test]
async fn unique_email_holds_when_creates_race() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "appenate").await;
    set(&app, &scim.org, "unique_email=true").await;
    for round in 0..3 {
        let email = format!("same{round}@appenate.test");
        let posts = (0..6).map(|i| {
            let body = user(&format!("u{round}-{i}"), &[&email]);
            let scim = &scim;
            async move { scim.post("/Users", body).await }
        });
        let replies = futures_util::future::join_all(posts).await;
        let created = replies.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1, "{replies:#?}");
        for r in replies.iter().filter(|r| r.status != 201) {
            refused(r, 409, "uniqueness", "emails");
        }
    }
}

#[tokio::test]
async fn allowed_email_domains_refuses_outsiders_on_scim_and_at_login() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    set(&app, &scim.org, "domains=acme.test").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    // Made before the setting is turned on.
    let outsider = create(&scim, "mallory@gmail.test", &["mallory@gmail.test"]).await;
    saml.login("mallory@gmail.test", "mallory@gmail.test")
        .await
        .session();
    let bare = scim.user("nomail").await;
    set(&app, &scim.org, "allowed_email_domains=true").await;

    let r = scim.post("/Users", user("eve", &["eve@gmail.test"])).await;
    let detail = refused(&r, 400, "invalidValue", "emails");
    assert!(
        detail.contains("eve@gmail.test") && detail.contains("acme.test"),
        "{detail}"
    );
    let r = scim
        .post("/Users", user("eve", &["eve@acme.test", "eve@gmail.test"]))
        .await;
    refused(&r, 400, "invalidValue", "emails");
    let r = scim
        .post("/Users", user("eve", &["eve@eu.acme.test"]))
        .await;
    refused(&r, 400, "invalidValue", "emails");
    let r = scim.post("/Users", user("eve", &[])).await;
    refused(&r, 400, "invalidValue", "emails");
    let ada = create(&scim, "ada", &["ada@ACME.test"]).await;
    let r = scim
        .put(&format!("/Users/{ada}"), user("ada", &["ada@gmail.test"]))
        .await;
    refused(&r, 400, "invalidValue", "emails");

    // Deprovisioning is never blocked: the outsider can still be deactivated...
    let r = scim
        .patch(
            &format!("/Users/{outsider}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    // ...but not reactivated while its email is outside.
    let r = scim
        .patch(
            &format!("/Users/{outsider}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    refused(&r, 400, "invalidValue", "emails");
    set(&app, &scim.org, "allowed_email_domains=false").await;
    scim.patch(
        &format!("/Users/{outsider}"),
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    set(&app, &scim.org, "allowed_email_domains=true").await;

    // At login: the existing, linked outsider is refused, and so is a user with no email.
    let o = saml.login("mallory@gmail.test", "mallory@gmail.test").await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "do not let this account sign in",
        "mallory@gmail.test",
    )
    .await;
    let o = saml.login("nomail", "nomail@acme.test").await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "do not let this account sign in",
        "emails is required",
    )
    .await;
    let _ = bare;
    // JIT of an outsider is refused before any user is made; an insider signs in.
    let o = saml.login("trudy@gmail.test", "trudy@gmail.test").await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "do not let this account sign in",
        "trudy@gmail.test",
    )
    .await;
    assert!(app
        .directory
        .user_by_user_name(scim.org.id, "trudy@gmail.test")
        .await
        .unwrap()
        .is_none());
    let cookie = saml.login("ada", "ada@acme.test").await.session();
    assert_eq!(me(&app, &cookie).await["id"], json!(ada));
}

#[tokio::test]
async fn allowed_email_domains_refuses_an_outsider_at_an_oidc_login() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let oidc = OidcIdp::connect(&app, &org).await;
    let existing = app
        .directory
        .create_user(org.id, user_data("x@gmail.test"), &Actor::Cli)
        .await
        .unwrap();
    set(&app, &org, "allowed_email_domains=true").await;

    let o = oidc.login("00u1", "bob@gmail.test", json!({})).await;
    assert_refused(
        &app,
        &org,
        &o,
        "do not let this account sign in",
        "bob@gmail.test",
    )
    .await;
    // Matched by its verified email, but it has none stored at an allowed domain.
    let o = oidc.login("00u2", "x@gmail.test", json!({})).await;
    assert_refused(&app, &org, &o, "do not let this account sign in", "emails").await;
    assert!(
        app.directory
            .user_identities(org.id, existing.id)
            .await
            .unwrap()
            .is_empty(),
        "refused before it is linked"
    );
    let cookie = oidc
        .login("00u3", "ada@acme.test", json!({}))
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["userName"], "ada@acme.test");
}

/// Every door writes a user through the same checks: an outsider whose email the
/// organisation no longer allows is deactivated by the admin API and the console's
/// operation alike, and brought back by none of them while its email is outside.
#[tokio::test]
async fn an_outsider_is_deactivated_by_every_door_and_reactivated_by_none() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    set(&app, &scim.org, "domains=acme.test").await;
    let outsider = create(&scim, "mallory@gmail.test", &["mallory@gmail.test"]).await;
    set(&app, &scim.org, "allowed_email_domains=true").await;
    let api = Api::scoped(&app, &scim.org).await;
    let path = format!("/orgs/acme/users/{outsider}");

    let r = api.post(&format!("{path}/deactivate"), json!({})).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["active"], false);
    let r = api.post(&format!("{path}/reactivate"), json!({})).await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("mallory@gmail.test"), "{detail}");
    let d = &app.directory;
    let id = UserId::parse(&outsider).unwrap();
    let err = d
        .set_active(scim.org.id, id, true, &Actor::Cli)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Policy(v) if v.kind == ViolationKind::InvalidValue),
        "{err:?}"
    );
    assert!(!d.user(scim.org.id, id).await.unwrap().unwrap().active);

    // Once the email is inside, the same operation brings the user back.
    let r = scim
        .patch(
            &format!("/Users/{outsider}"),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "mallory@acme.test"}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = api.post(&format!("{path}/reactivate"), json!({})).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["active"], true);
}
