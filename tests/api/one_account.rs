//! One person, one account (DESIGN.md, Login rules): a login finds the user by every stored
//! email, SCIM adopts the user a first login made, a removed user's tombstone refuses its
//! next login, and only verified claims match. Each story ends with one user, and a SCIM
//! deactivation or DELETE refuses the next login and ends the session the person holds.

use gatehouse::directory::{Actor, UserId};
use serde_json::{json, Value};

use crate::policy_logins::{assert_refused, check, me, OidcIdp, SamlIdp};
use crate::support::scim::{events, Scim, USER_URN};
use crate::support::TestApp;

fn user(user_name: &str, email: &str) -> Value {
    json!({"schemas": [USER_URN], "userName": user_name, "active": true,
           "externalId": format!("okta-{user_name}"),
           "name": {"givenName": "Erin", "familyName": "Kay"},
           "emails": [{"value": email, "type": "work", "primary": true}]})
}

async fn create(scim: &Scim<'_>, user_name: &str, email: &str) -> String {
    let r = scim.post("/Users", user(user_name, email)).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// The users SCIM shows (totalResults counts the positions of soft-deleted ones too).
async fn user_count(scim: &Scim<'_>) -> usize {
    let r = scim.get("/Users?count=100").await;
    r.body["Resources"].as_array().map_or(0, Vec::len)
}

async fn deactivate(scim: &Scim<'_>, id: &str) {
    let ops = json!([{"op": "replace", "value": {"active": false}}]);
    let r = scim.patch(&format!("/Users/{id}"), ops).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
}

/// Story 1: SCIM made `erin.k` with the work email; the SAML NameID is the email. The
/// login is that user, not a twin, so SCIM's deactivation holds.
#[tokio::test]
async fn a_login_by_a_provisioned_users_email_is_that_user_and_its_deactivation_holds() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = create(&scim, "erin.k", "Erin@Acme.test").await;

    let cookie = saml
        .login("erin@acme.test", "erin@acme.test")
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
    assert_eq!(user_count(&scim).await, 1, "no second user");

    deactivate(&scim, &id).await;
    assert_eq!(check(&app, &cookie).await, 401, "the session ends at once");
    let o = saml.login("erin@acme.test", "erin@acme.test").await;
    assert_refused(&app, &scim.org, &o, "deactivated", "deactivated").await;
    assert_eq!(user_count(&scim).await, 1);
}

/// A secondary email matches too, and so does a NameID that is another user's email.
#[tokio::test]
async fn every_stored_email_matches_not_only_the_primary_one() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let mut body = user("erin.k", "erin@acme.test");
    body["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"value": "e.kay@acme.test", "type": "home"}));
    let r = scim.post("/Users", body).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();

    let cookie = saml.login("00u-erin", "E.Kay@acme.test").await.session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
    assert_eq!(user_count(&scim).await, 1);
}

/// Story 2: JIT first, SCIM later. Okta pushes `frank.f` with Frank's email: SCIM adopts
/// the JIT user (same id, session and groups), and its deactivation ends that session.
#[tokio::test]
async fn scim_adopts_the_user_a_first_login_made() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let mut spec = saml.spec("frank@acme.test");
    spec.attributes
        .push(("groups".into(), vec!["Staff".into()]));
    let cookie = saml.login_with(&spec).await.session();
    let jit = me(&app, &cookie).await;
    let jit_id = jit["id"].as_str().unwrap().to_string();
    assert_eq!(jit["userName"], "frank@acme.test");

    let r = scim
        .post("/Users", user("frank.f", "frank@acme.test"))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body["id"], json!(jit_id), "the same user, adopted");
    assert_eq!(r.body["userName"], "frank.f", "SCIM's attributes win");
    assert_eq!(r.body["externalId"], "okta-frank.f");
    assert_eq!(r.body["groups"][0]["display"], "Staff", "its groups kept");
    assert_eq!(user_count(&scim).await, 1);
    let log = events(&app, &scim.org).await;
    let adopted = log.iter().find(|e| e.0 == "user.adopt").expect("an event");
    assert_eq!(adopted.2["userName"], "frank.f");

    assert_eq!(check(&app, &cookie).await, 200, "its session kept");
    let again = saml
        .login("frank@acme.test", "frank@acme.test")
        .await
        .session();
    assert_eq!(me(&app, &again).await["id"], json!(jit_id), "its link kept");

    // A second push of the same user is a clash now: SCIM manages that user.
    let r = scim
        .post("/Users", user("frank.f2", "frank@acme.test"))
        .await;
    assert_eq!(
        r.status, 201,
        "an email may be shared when unique_email is off"
    );
    assert_ne!(
        r.body["id"],
        json!(jit_id),
        "a managed user is never adopted"
    );
    let r = scim
        .post("/Users", user("frank.f", "other@acme.test"))
        .await;
    assert_eq!(r.body["scimType"], "uniqueness", "{:#}", r.body);

    deactivate(&scim, &jit_id).await;
    assert_eq!(check(&app, &cookie).await, 401);
    assert_eq!(check(&app, &again).await, 401);
    let o = saml.login("frank@acme.test", "frank@acme.test").await;
    assert_eq!(o.status, 403, "refused: {}", o.page);
}

/// Only a user that JIT made and SCIM never wrote is adopted; an admin's user clashes as
/// before, and a create that matches a JIT user and another user adopts neither.
#[tokio::test]
async fn adoption_takes_only_an_unmanaged_jit_user_and_never_one_of_two() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    app.directory
        .create_user(
            scim.org.id,
            crate::support::user_data("admin.made"),
            &Actor::Cli,
        )
        .await
        .unwrap();
    let r = scim.post("/Users", user("admin.made", "a@acme.test")).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["scimType"], "uniqueness");

    let cookie = saml.login("gus@acme.test", "gus@acme.test").await.session();
    let jit_id = me(&app, &cookie).await["id"].clone();
    // userName matches the admin's user, email matches the JIT user: refused, unchanged.
    let r = scim
        .post("/Users", user("admin.made", "gus@acme.test"))
        .await;
    assert_eq!(r.status, 409, "{:#}", r.body);
    assert_eq!(r.body["scimType"], "uniqueness");
    let found = scim
        .get(&format!("/Users/{}", jit_id.as_str().unwrap()))
        .await;
    assert_eq!(found.body["userName"], "gus@acme.test", "not adopted");
}

/// Two users share the asserted email: the login is refused and the event names both.
#[tokio::test]
async fn a_login_that_matches_two_users_is_refused_and_creates_none() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let a = create(&scim, "hal.one", "hal@acme.test").await;
    let b = create(&scim, "hal.two", "hal@acme.test").await;

    let o = saml.login("hal@acme.test", "hal@acme.test").await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "More than one account",
        "more than one user",
    )
    .await;
    let log = events(&app, &scim.org).await;
    let refused = log.iter().rev().find(|e| e.0 == "login").unwrap();
    let reason = refused.2.to_string();
    assert!(reason.contains(&a) && reason.contains(&b), "{reason}");
    assert!(
        reason.contains("hal.one") && reason.contains("hal.two"),
        "{reason}"
    );
    assert_eq!(user_count(&scim).await, 2, "no third user");
}

/// Story 3: SCIM DELETE, then the same person signs in: refused by the tombstone, until
/// SCIM creates the user again.
#[tokio::test]
async fn a_user_scim_deleted_is_not_made_again_at_its_next_login() {
    for on_delete in ["soft", "hard"] {
        let app = TestApp::spawn().await;
        let scim = Scim::new(&app, "acme").await;
        crate::policy_lifecycle::set(&app, &scim.org, &format!("on_delete={on_delete}")).await;
        let saml = SamlIdp::connect(&app, &scim.org).await;
        let id = create(&scim, "ivy.k", "ivy@acme.test").await;
        let cookie = saml.login("ivy@acme.test", "ivy@acme.test").await.session();

        assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
        assert_eq!(
            check(&app, &cookie).await,
            401,
            "{on_delete}: session ended"
        );
        for (name_id, email) in [
            ("ivy@acme.test", "ivy@acme.test"),
            ("ivy.k", "ivy.personal@elsewhere.test"), // the userName alone
            ("00u-ivy", "IVY@acme.test"),             // the email alone
        ] {
            let o = saml.login(name_id, email).await;
            assert_eq!(o.status, 403, "{on_delete} {name_id}: {}", o.page);
            assert!(o.page.contains("deactivated") || o.page.contains("removed"));
        }
        assert_eq!(user_count(&scim).await, 0, "{on_delete}: no user made");

        let again = create(&scim, "ivy.k", "ivy@acme.test").await;
        let cookie = saml.login("ivy@acme.test", "ivy@acme.test").await.session();
        assert_eq!(me(&app, &cookie).await["id"], json!(again), "{on_delete}");
    }
}

/// An erase buries hashed keys, refuses the next login, and replaces the person's data
/// in the event log with the hash.
#[tokio::test]
async fn an_erased_user_leaves_only_hashes_and_is_not_made_again() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = create(&scim, "jo.secret", "jo.secret@acme.test").await;
    saml.login("jo.secret@acme.test", "jo.secret@acme.test")
        .await
        .session();
    let uid = UserId::parse(&id).unwrap();
    app.directory
        .erase_user(scim.org.id, uid, &Actor::Cli)
        .await
        .unwrap();

    let o = saml
        .login("jo.secret@acme.test", "jo.secret@acme.test")
        .await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "removed by your organisation",
        "removed",
    )
    .await;
    let log = events(&app, &scim.org).await;
    let before_refusal = &log[..log.len() - 1];
    for (action, _, detail) in before_refusal {
        assert!(
            !detail.to_string().to_lowercase().contains("jo.secret"),
            "{action}: {detail}"
        );
    }
    assert!(
        before_refusal.iter().any(|e| e.2.get("erased").is_some()),
        "the events say an erased person was there"
    );
    let stored: Vec<String> = sqlx::query_scalar("select key_hash from user_tombstones")
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap();
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|k| k.len() == 64 && !k.contains("jo")));
}

/// OIDC: an unverified email never reaches an existing user (the nOAuth takeover), and a
/// `preferred_username` never matches.
#[tokio::test]
async fn an_oidc_login_with_an_unverified_email_does_not_reach_an_existing_user() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let oidc = OidcIdp::connect(&app, &scim.org).await;
    let victim = create(&scim, "kim@acme.test", "kim@acme.test").await;

    let o = oidc
        .login(
            "attacker-sub",
            "kim@acme.test",
            json!({"email_verified": false, "preferred_username": "kim@acme.test"}),
        )
        .await;
    assert_eq!(o.status, 403, "{}", o.page);
    assert!(o.cookie.is_none());
    assert_eq!(user_count(&scim).await, 1);
    let links = app
        .directory
        .user_identities(scim.org.id, UserId::parse(&victim).unwrap())
        .await
        .unwrap();
    assert!(links.is_empty(), "the attacker's subject is not linked");

    // A different preferred_username with the unverified email: a new user, who does not
    // get the unverified email either (a later SCIM create must not adopt it by that).
    let o = oidc
        .login(
            "attacker-sub",
            "kim@acme.test",
            json!({"email_verified": false, "preferred_username": "mallory"}),
        )
        .await;
    let cookie = o.session();
    let body = me(&app, &cookie).await;
    assert_ne!(body["id"], json!(victim));
    assert_eq!(body["userName"], "mallory");
    let mallory = scim
        .get(&format!("/Users/{}", body["id"].as_str().unwrap()))
        .await;
    assert!(mallory.body.get("emails").is_none(), "{:#}", mallory.body);

    // With the email verified, the same person is the existing user.
    let cookie = oidc
        .login("kim-sub", "kim@acme.test", json!({}))
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(victim));
}

/// The same stories through OpenID Connect: a verified email finds the provisioned user,
/// SCIM DELETE ends the session, and the next login is refused, not a new user.
#[tokio::test]
async fn an_oidc_login_finds_the_provisioned_user_and_its_deletion_holds() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "klue").await;
    let oidc = OidcIdp::connect(&app, &scim.org).await;
    let id = create(&scim, "lea.m", "lea@klue.test").await;

    let cookie = oidc
        .login("00u-lea", "Lea@Klue.test", json!({}))
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
    assert_eq!(user_count(&scim).await, 1);

    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(check(&app, &cookie).await, 401);
    let o = oidc.login("00u-lea", "lea@klue.test", json!({})).await;
    assert_eq!(o.status, 403, "{}", o.page);
    // A new subject with the same email: still the removed person.
    let o = oidc.login("00u-other", "lea@klue.test", json!({})).await;
    assert_eq!(o.status, 403, "{}", o.page);
    assert_eq!(user_count(&scim).await, 0);
}

/// A user that a first login named by a claim its holder chose (an unverified OIDC
/// `preferred_username`) is never adopted: the SCIM create of that name clashes instead
/// of handing the account, and its links, to whoever chose the name.
#[tokio::test]
async fn scim_never_adopts_a_user_named_by_an_unverified_claim() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let oidc = OidcIdp::connect(&app, &scim.org).await;
    let cookie = oidc
        .login(
            "squatter",
            "nia@acme.test",
            json!({"email_verified": false, "preferred_username": "nia@acme.test"}),
        )
        .await
        .session();
    let squatter = me(&app, &cookie).await["id"].clone();

    let r = scim
        .post("/Users", user("nia@acme.test", "nia@acme.test"))
        .await;
    assert_eq!(r.status, 409, "{:#}", r.body);
    assert_eq!(r.body["scimType"], "uniqueness");
    let log = events(&app, &scim.org).await;
    assert!(!log.iter().any(|e| e.0 == "user.adopt"));
    assert_eq!(me(&app, &cookie).await["id"], squatter);

    // The same flow with a verified email is adopted.
    let cookie = oidc
        .login(
            "owner",
            "oli@acme.test",
            json!({"preferred_username": "oli@acme.test"}),
        )
        .await
        .session();
    let jit = me(&app, &cookie).await["id"].clone();
    let r = scim.post("/Users", user("oli.o", "oli@acme.test")).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body["id"], jit);
}

/// Another organisation's SCIM never adopts this one's users, and this one's tombstones
/// refuse nobody there.
#[tokio::test]
async fn adoption_and_tombstones_stay_inside_their_organisation() {
    let app = TestApp::spawn().await;
    let acme = Scim::new(&app, "acme").await;
    let globex = Scim::new(&app, "globex").await;
    let acme_saml = SamlIdp::connect(&app, &acme.org).await;
    let globex_saml = SamlIdp::connect(&app, &globex.org).await;
    let cookie = acme_saml
        .login("pat@shared.test", "pat@shared.test")
        .await
        .session();
    let acme_pat = me(&app, &cookie).await["id"].clone();

    let r = globex
        .post("/Users", user("pat@shared.test", "pat@shared.test"))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_ne!(r.body["id"], acme_pat, "a user of its own");
    let globex_pat = r.body["id"].as_str().unwrap().to_string();
    let still = acme
        .get(&format!("/Users/{}", acme_pat.as_str().unwrap()))
        .await;
    assert_eq!(still.status, 200);
    assert!(
        still.body.get("externalId").is_none(),
        "acme's user untouched"
    );

    // globex removes its Pat; acme's Pat still signs in.
    assert_eq!(
        globex.delete(&format!("/Users/{globex_pat}")).await.status,
        204
    );
    let o = globex_saml
        .login("pat@shared.test", "pat@shared.test")
        .await;
    assert_eq!(o.status, 403);
    acme_saml
        .login("pat@shared.test", "pat@shared.test")
        .await
        .session();
}
