//! Lifecycle policies: `jit`, `on_deactivate`, `on_delete` and `session_lifetime`, through
//! SCIM, the admin API and real SAML and OIDC logins.

use gatehouse::directory::orgs::{Org, OrgChange};
use gatehouse::directory::{Actor, UserId};
use gatehouse::sso::saml::connection_id as saml_connection_id;
use reqwest::Method;
use serde_json::{json, Value};

use crate::policy_logins::{assert_refused, check, me, OidcIdp, SamlIdp};
use crate::support::api::Api;
use crate::support::scim::{events, Scim, USER_URN};
use crate::support::TestApp;

const HOUR: i64 = 3_600_000;

pub async fn set(app: &TestApp, org: &Org, change: &str) {
    app.directory
        .update_org(org.id, &[OrgChange::parse(change).unwrap()], &Actor::Cli)
        .await
        .unwrap();
}

/// A SCIM user with a work email, as Okta creates one.
async fn okta_user(scim: &Scim<'_>, user_name: &str) -> String {
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": user_name, "active": true,
                   "name": {"givenName": "Ada", "familyName": "Lovelace"},
                   "emails": [{"value": user_name, "type": "work", "primary": true}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A group with these members; its id.
async fn group(scim: &Scim<'_>, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    let r = scim
        .post("/Groups", json!({"displayName": name, "members": members}))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn member_ids(scim: &Scim<'_>, group: &str) -> Vec<String> {
    let r = scim.get(&format!("/Groups/{group}")).await;
    r.body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn deactivate(scim: &Scim<'_>, id: &str) -> crate::support::scim::Reply {
    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await
}

fn actions(log: &[(String, String, Value)]) -> Vec<&str> {
    log.iter().map(|e| e.0.as_str()).collect()
}

#[tokio::test]
async fn without_jit_only_users_provisioned_beforehand_sign_in_by_saml_and_oidc() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    set(&app, &scim.org, "jit=false").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let other = app.org("spoke", &[]).await;
    set(&app, &other, "jit=false").await;
    let oidc = OidcIdp::connect(&app, &other).await;

    let o = saml.login("new@plumm.test", "new@plumm.test").await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "do not have an account",
        "does not create users",
    )
    .await;
    let o = oidc.login("00u-new", "new@spoke.test", json!({})).await;
    assert_refused(
        &app,
        &other,
        &o,
        "do not have an account",
        "does not create users",
    )
    .await;
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 0);
    assert_eq!(app.directory.count_users(other.id).await.unwrap(), 0);

    // Provisioned by SCIM first: signs in, and is linked, not duplicated.
    let id = okta_user(&scim, "ada@plumm.test").await;
    let cookie = saml
        .login("ada@plumm.test", "ada@plumm.test")
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
    let made = app
        .directory
        .create_user(
            other.id,
            crate::support::user_data("bob@spoke.test"),
            &Actor::Cli,
        )
        .await
        .unwrap();
    let cookie = oidc
        .login("00u-bob", "bob@spoke.test", json!({}))
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(made.id));
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 1);
    assert_eq!(app.directory.count_users(other.id).await.unwrap(), 1);
}

#[tokio::test]
async fn on_deactivate_keep_keeps_the_data_and_refuses_sign_in() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = okta_user(&scim, "ada@plumm.test").await;
    let g = group(&scim, "Editors", &[&id]).await;
    let cookie = saml
        .login("ada@plumm.test", "ada@plumm.test")
        .await
        .session();

    let r = deactivate(&scim, &id).await;
    assert_eq!((r.status.as_u16(), &r.body["active"]), (200, &json!(false)));
    assert_eq!(check(&app, &cookie).await, 401, "its session ended");
    let r = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 200, "still there");
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["name"]["givenName"], "Ada");
    assert_eq!(
        member_ids(&scim, &g).await,
        vec![id.clone()],
        "memberships kept"
    );
    let o = saml.login("ada@plumm.test", "ada@plumm.test").await;
    assert_refused(&app, &scim.org, &o, "deactivated", "deactivated").await;

    // Reactivated: the same user, with its groups.
    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    let cookie = saml
        .login("ada@plumm.test", "ada@plumm.test")
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id));
    assert_eq!(me(&app, &cookie).await["groups"], json!(["Editors"]));
}

#[tokio::test]
async fn on_deactivate_delete_erases_the_user_and_a_later_create_is_a_new_user() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "spoke").await;
    set(&app, &scim.org, "on_deactivate=delete").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = okta_user(&scim, "ada@spoke.test").await;
    let bob = okta_user(&scim, "bob@spoke.test").await;
    let g = group(&scim, "Agents", &[&id, &bob]).await;
    let cookie = saml
        .login("ada@spoke.test", "ada@spoke.test")
        .await
        .session();
    let uid = UserId::parse(&id).unwrap();
    assert_eq!(
        app.directory
            .user_identities(scim.org.id, uid)
            .await
            .unwrap()
            .len(),
        1
    );

    // Okta's deactivation: answered 200 with the user's last state, so the task succeeds.
    let r = deactivate(&scim, &id).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        (&r.body["id"], &r.body["active"]),
        (&json!(id), &json!(false))
    );
    // Then it is gone: by id, by filter (Okta's lookup finds no one and POSTs), from groups.
    scim.get(&format!("/Users/{id}")).await.assert_error(404);
    let found = scim
        .list("/Users", &[("filter", "userName eq \"ada@spoke.test\"")])
        .await;
    assert_eq!(found.body["totalResults"], 0);
    assert_eq!(member_ids(&scim, &g).await, vec![bob.clone()]);
    assert_eq!(check(&app, &cookie).await, 401);
    assert_eq!(app.directory.user(scim.org.id, uid).await.unwrap(), None);
    assert!(app
        .directory
        .user_identities(scim.org.id, uid)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.directory.session_count(scim.org.id, uid).await.unwrap(),
        0
    );
    let log = events(&app, &scim.org).await;
    let tail = &log[log.len() - 3..];
    assert_eq!(
        actions(tail),
        ["user.patch", "user.deactivate", "user.erase"]
    );
    assert_eq!(tail[2].2["because"], "on_deactivate=delete");

    // A reactivation by the old id finds nothing; Okta's reassignment POSTs: a fresh user.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    r.assert_error(404);
    let again = okta_user(&scim, "ada@spoke.test").await;
    assert_ne!(again, id, "a new id");
    assert!(
        member_ids(&scim, &g).await.iter().all(|m| *m != again),
        "no groups carried over"
    );
    let cookie = saml
        .login("ada@spoke.test", "ada@spoke.test")
        .await
        .session();
    assert_eq!(
        me(&app, &cookie).await["id"],
        json!(again),
        "the login finds the new user"
    );
}

#[tokio::test]
async fn on_deactivate_delete_applies_to_put_the_console_path_and_the_api() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "spoke").await;
    set(&app, &scim.org, "on_deactivate=delete").await;

    // AIW apps: GET then PUT with active false.
    let id = okta_user(&scim, "ada@spoke.test").await;
    let mut body = scim.get(&format!("/Users/{id}")).await.body;
    body["active"] = json!(false);
    let r = scim.put(&format!("/Users/{id}"), body).await;
    assert_eq!((r.status.as_u16(), &r.body["active"]), (200, &json!(false)));
    scim.get(&format!("/Users/{id}")).await.assert_error(404);

    // The console's Deactivate button and the API call the same directory operation.
    let id = okta_user(&scim, "bob@spoke.test").await;
    let uid = UserId::parse(&id).unwrap();
    let last = app
        .directory
        .set_active(scim.org.id, uid, false, &Actor::Cli)
        .await
        .unwrap();
    assert!(!last.active);
    assert_eq!(app.directory.user(scim.org.id, uid).await.unwrap(), None);

    let id = okta_user(&scim, "cy@spoke.test").await;
    let api = Api::scoped(&app, &scim.org).await;
    let r = api
        .call(
            Method::POST,
            &format!("/orgs/spoke/users/{id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    scim.get(&format!("/Users/{id}")).await.assert_error(404);

    // A reactivation never erases, and a deactivation under `keep` keeps.
    set(&app, &scim.org, "on_deactivate=keep").await;
    let id = okta_user(&scim, "dee@spoke.test").await;
    assert_eq!(deactivate(&scim, &id).await.status, 200);
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    set(&app, &scim.org, "on_deactivate=delete").await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!((r.status.as_u16(), &r.body["active"]), (200, &json!(true)));
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
}

#[tokio::test]
async fn on_delete_soft_hides_the_user_refuses_sign_in_and_a_post_restores_it() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = okta_user(&scim, "ada@plumm.test").await;
    let cookie = saml
        .login("ada@plumm.test", "ada@plumm.test")
        .await
        .session();

    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    scim.get(&format!("/Users/{id}")).await.assert_error(404);
    scim.delete(&format!("/Users/{id}")).await.assert_error(404);
    assert_eq!(check(&app, &cookie).await, 401);
    let o = saml.login("ada@plumm.test", "ada@plumm.test").await;
    assert_refused(&app, &scim.org, &o, "deactivated", "deleted").await;

    let again = okta_user(&scim, "ada@plumm.test").await;
    assert_eq!(again, id, "restored, with its id");
    let cookie = saml
        .login("ada@plumm.test", "ada@plumm.test")
        .await
        .session();
    assert_eq!(me(&app, &cookie).await["id"], json!(id), "and its link");
}

#[tokio::test]
async fn on_delete_hard_erases_memberships_and_links_so_a_later_login_is_a_new_user() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    set(&app, &scim.org, "on_delete=hard").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let id = okta_user(&scim, "ada@acme.test").await;
    let g = group(&scim, "Staff", &[&id]).await;
    let cookie = saml.login("ada@acme.test", "ada@acme.test").await.session();
    let uid = UserId::parse(&id).unwrap();

    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    scim.get(&format!("/Users/{id}")).await.assert_error(404);
    scim.delete(&format!("/Users/{id}")).await.assert_error(404);
    assert!(member_ids(&scim, &g).await.is_empty());
    assert_eq!(check(&app, &cookie).await, 401);
    assert_eq!(
        app.directory.user(scim.org.id, uid).await.unwrap(),
        None,
        "no record kept"
    );
    assert_eq!(
        app.directory
            .linked_user(scim.org.id, &saml_connection_id(&scim.org), "ada@acme.test")
            .await
            .unwrap(),
        None
    );
    let log = events(&app, &scim.org).await;
    let erased = log.iter().find(|e| e.0 == "user.erase").unwrap();
    assert_eq!(erased.2["because"], "on_delete=hard");

    // The erased user's tombstone refuses the next login: JIT does not make it again.
    let o = saml.login("ada@acme.test", "ada@acme.test").await;
    assert_refused(
        &app,
        &scim.org,
        &o,
        "removed by your organisation",
        "removed",
    )
    .await;
    // Until SCIM creates the person again: a new user with a new id.
    let again = okta_user(&scim, "ada@acme.test").await;
    assert_ne!(again, id);
    let cookie = saml.login("ada@acme.test", "ada@acme.test").await.session();
    let body = me(&app, &cookie).await;
    assert_eq!(body["id"], json!(again));
    assert_eq!(body["userName"], "ada@acme.test");
    assert_eq!(body["groups"], json!([]));
}

#[tokio::test]
async fn on_delete_deactivate_keeps_the_user_visible_and_inactive() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "klue").await;
    set(&app, &scim.org, "on_delete=deactivate").await;
    let oidc = OidcIdp::connect(&app, &scim.org).await;
    let id = okta_user(&scim, "ada@klue.test").await;
    let g = group(&scim, "Curators", &[&id]).await;
    let cookie = oidc
        .login("00u1", "ada@klue.test", json!({}))
        .await
        .session();
    let uid = UserId::parse(&id).unwrap();

    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    let r = scim.get(&format!("/Users/{id}")).await;
    assert_eq!((r.status.as_u16(), &r.body["active"]), (200, &json!(false)));
    assert_eq!(member_ids(&scim, &g).await, vec![id.clone()], "data kept");
    assert_eq!(check(&app, &cookie).await, 401);
    assert_eq!(
        app.directory.session_count(scim.org.id, uid).await.unwrap(),
        0
    );
    let o = oidc.login("00u1", "ada@klue.test", json!({})).await;
    assert_refused(&app, &scim.org, &o, "deactivated", "deactivated").await;
    let log = events(&app, &scim.org).await;
    assert!(log.iter().any(|e| e.0 == "user.deactivate"), "{log:?}");
    assert!(log.iter().all(|e| e.0 != "user.delete"), "not a deletion");
    assert_eq!(
        scim.delete(&format!("/Users/{id}")).await.status,
        204,
        "again: no change"
    );

    // Reactivated by Okta as usual.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!(r.body["active"], true);
    oidc.login("00u1", "ada@klue.test", json!({}))
        .await
        .session();

    // With on_deactivate=delete as well, the deactivation a DELETE means erases.
    set(&app, &scim.org, "on_deactivate=delete").await;
    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    scim.get(&format!("/Users/{id}")).await.assert_error(404);
}

#[tokio::test]
async fn session_lifetime_bounds_sessions_and_a_shorter_one_ends_open_sessions() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    set(&app, &scim.org, "session_lifetime=2").await;
    let cookie = saml.login("ada@acme.test", "ada@acme.test").await.session();
    app.clock.advance_ms(2 * HOUR - 60_000);
    assert_eq!(check(&app, &cookie).await, 200);
    app.clock.advance_ms(60_000);
    assert_eq!(check(&app, &cookie).await, 401, "2 hours at most");

    // Longer than the server's 24 hours: used every 7 hours (inside the idle timeout), it
    // lives past a day, until 30 hours.
    set(&app, &scim.org, "session_lifetime=30").await;
    let cookie = saml.login("ada@acme.test", "ada@acme.test").await.session();
    for _ in 0..4 {
        app.clock.advance_ms(7 * HOUR);
        assert_eq!(check(&app, &cookie).await, 200);
    }
    app.clock.advance_ms(2 * HOUR);
    assert_eq!(check(&app, &cookie).await, 401, "30 hours at most");

    // Shortened while sessions are open: they end on their next request once older. Back
    // to the server's 24 hours, a 30-hour session ends at 24.
    let cookie = saml.login("ada@acme.test", "ada@acme.test").await.session();
    set(&app, &scim.org, "session_lifetime=").await;
    for _ in 0..3 {
        app.clock.advance_ms(7 * HOUR);
        assert_eq!(check(&app, &cookie).await, 200);
    }
    app.clock.advance_ms(3 * HOUR);
    assert_eq!(check(&app, &cookie).await, 401, "24 hours now");
    let older = saml.login("ada@acme.test", "ada@acme.test").await.session();
    app.clock.advance_ms(90 * 60_000);
    let newer = saml.login("bob@acme.test", "bob@acme.test").await.session();
    assert_eq!(check(&app, &older).await, 200);
    set(&app, &scim.org, "session_lifetime=1").await;
    assert_eq!(
        check(&app, &older).await,
        401,
        "90 minutes old: past the new hour"
    );
    assert_eq!(check(&app, &newer).await, 200, "still inside it");
    app.clock.advance_ms(HOUR);
    assert_eq!(check(&app, &newer).await, 401);

    // Another organisation keeps the server's lifetime.
    let other = Scim::new(&app, "other").await;
    let oidc = OidcIdp::connect(&app, &other.org).await;
    let cookie = oidc
        .login("00u1", "cy@other.test", json!({}))
        .await
        .session();
    for _ in 0..3 {
        app.clock.advance_ms(7 * HOUR);
        assert_eq!(check(&app, &cookie).await, 200);
    }
    app.clock.advance_ms(3 * HOUR);
    assert_eq!(check(&app, &cookie).await, 401, "the server's 24 hours");
}
