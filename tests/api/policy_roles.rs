//! Roles: `roles`, `default_role`, `role_attribute`, `saml_attribute_role` and
//! `oidc_claim_role`, through SCIM, SAML and OIDC logins (`policy_logins`), `/me` and
//! `/auth/check`; and the assertions on those logins that the attribute tests share.

use gatehouse::directory::orgs::{Org, OrgChange};
use gatehouse::directory::users::User;
use gatehouse::directory::Actor;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::policy_logins::{OidcIdp, SamlIdp};
use crate::sessions::{login, okta};
use crate::support::scim::{events, Scim};
use crate::support::{user_data, TestApp};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const KLUE_ROLE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:klueRole";

/// Writes settings (`key=value`) as an operator would.
pub async fn set(app: &TestApp, org: &Org, changes: &[&str]) {
    let changes: Vec<OrgChange> = changes
        .iter()
        .map(|c| OrgChange::parse(c).unwrap_or_else(|e| panic!("{c}: {e:?}")))
        .collect();
    app.directory
        .update_org(org.id, &changes, &Actor::Cli)
        .await
        .unwrap();
}

/// The session cookie a successful login set (`gatehouse_session=...`).
pub fn session_of(r: &reqwest::Response) -> String {
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "a login that went through"
    );
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Asserts a login refused by the policy: a 403 page with `words`, no session, and a
/// login failure in the event log whose reason has `words` too.
pub async fn assert_refused(app: &TestApp, org: &Org, r: reqwest::Response, words: &str) {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none(), "no session");
    let page = r.text().await.unwrap();
    let escaped = words.replace('"', "&#34;");
    assert!(
        page.contains("settings do not let this account sign in")
            && (page.contains(words) || page.contains(&escaped)),
        "the page should say {words:?}: {page}"
    );
    let log = events(app, org).await;
    let last = log.iter().rev().find(|e| e.0 == "login").unwrap();
    assert_eq!(last.1, "failure");
    let reason = last.2["reason"].as_str().unwrap();
    assert!(reason.contains(words), "{reason:?} should say {words:?}");
}

/// `/me` as JSON and as HTML, and the headers of `/auth/check`, for a session cookie.
pub async fn seen_as(app: &TestApp, cookie: &str) -> (Value, String, reqwest::header::HeaderMap) {
    let get = |path: &str, accept: &str| {
        app.client
            .get(app.url(path))
            .header("cookie", cookie)
            .header("accept", accept)
            .send()
    };
    let me = get("/me", "application/json").await.unwrap();
    assert_eq!(me.status(), 200);
    let json = me.json().await.unwrap();
    let html = get("/me", "text/html").await.unwrap().text().await.unwrap();
    let check = get("/auth/check", "*/*").await.unwrap();
    assert_eq!(check.status(), 200);
    (json, html, check.headers().clone())
}

fn role_header(h: &reqwest::header::HeaderMap) -> Option<&str> {
    h.get("x-gatehouse-role").map(|v| v.to_str().unwrap())
}

async fn klue_like<'a>(app: &'a TestApp, slug: &str) -> Scim<'a> {
    let scim = Scim::new(app, slug).await;
    set(
        app,
        &scim.org,
        &["roles=admin,curator,consumer", "default_role=consumer"],
    )
    .await;
    scim
}

async fn stored(app: &TestApp, org: &Org, user_name: &str) -> User {
    app.directory
        .user_by_user_name(org.id, user_name)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn scim_users_get_the_default_role_and_a_role_outside_the_list_is_refused() {
    let app = TestApp::spawn().await;
    let scim = klue_like(&app, "klue").await;
    let allowed = "is not one of the allowed roles: admin, curator, consumer";

    // Without a role (Entra sends an empty list): the default, returned and stored.
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "ada@klue.test", "roles": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(
        r.body["roles"],
        json!([{"value": "consumer", "primary": true}])
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    let got = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(
        got.body["roles"],
        json!([{"value": "consumer", "primary": true}])
    );

    // POST, PUT and PATCH with a value outside the list, or in another case: 400.
    for role in ["boss", "Admin"] {
        let r = scim
            .post(
                "/Users",
                json!({"schemas": [USER_URN], "userName": format!("{role}@klue.test"),
                       "roles": [{"value": role}]}),
            )
            .await;
        let body = r.assert_error(400);
        assert_eq!(body["scimType"], "invalidValue");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("roles value \"{role}\" {allowed}")),
            "{detail}"
        );
    }
    let r = scim
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER_URN], "userName": "ada@klue.test",
                   "roles": [{"value": "superuser", "primary": true}]}),
        )
        .await;
    assert!(r.assert_error(400)["detail"]
        .as_str()
        .unwrap()
        .contains(allowed));
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "roles", "value": [{"value": "root"}]}]),
        )
        .await;
    assert!(r.assert_error(400)["detail"]
        .as_str()
        .unwrap()
        .contains("\"root\""));
    let got = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["roles"][0]["value"], "consumer", "nothing changed");

    // Allowed values pass; every member is checked, the primary one is the role.
    let r = scim
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER_URN], "userName": "ada@klue.test",
                   "roles": [{"value": "consumer"}, {"value": "curator", "primary": true}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let ada = stored(&app, &scim.org, "ada@klue.test").await;
    let policy = &app
        .directory
        .org(scim.org.id)
        .await
        .unwrap()
        .unwrap()
        .settings
        .policy;
    assert_eq!(
        gatehouse::directory::policy::attributes::role_of(policy, &ada).as_deref(),
        Some("curator")
    );
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "roles", "value": [{"value": "janitor"}]}]),
        )
        .await;
    assert!(r.assert_error(400)["detail"]
        .as_str()
        .unwrap()
        .contains("\"janitor\""));

    // A PATCH that removes the roles leaves the user with the default one.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "remove", "path": "roles"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        r.body["roles"],
        json!([{"value": "consumer", "primary": true}])
    );

    // The failures are in the event log, with what was refused.
    let log = events(&app, &scim.org).await;
    assert!(log.iter().any(|e| e.0 == "user.create"
        && e.1 == "failure"
        && e.2["reason"].as_str().unwrap_or_default().contains("boss")));
}

#[tokio::test]
async fn a_role_stored_before_the_list_changed_does_not_block_a_deactivation() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "klue").await;
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "old@klue.test", "roles": [{"value": "owner"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "no list: any role");
    let id = r.body["id"].as_str().unwrap().to_string();
    set(&app, &scim.org, &["roles=admin,consumer"]).await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(
        r.body["roles"],
        json!([{"value": "owner"}]),
        "kept as stored"
    );
    // A new value outside the list is still refused for that user.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "roles", "value": [{"value": "boss"}]}]),
        )
        .await;
    r.assert_error(400);
}

#[tokio::test]
async fn saml_sets_the_role_at_jit_and_updates_it_at_later_logins() {
    let app = TestApp::spawn().await;
    let scim = klue_like(&app, "klue").await;
    let org = scim.org.clone();
    set(&app, &org, &["saml_attribute_role=klueRole"]).await;
    let saml = SamlIdp::connect(&app, &org).await;

    // JIT with a role: the new user has it, /me and /auth/check say it, SCIM returns it.
    let mut spec = saml.spec("ada@klue.test");
    spec.attributes
        .push(("klueRole".into(), vec!["curator".into()]));
    let cookie = session_of(&saml.post(&spec).await);
    let (me, html, headers) = seen_as(&app, &cookie).await;
    assert_eq!(me["role"], "curator");
    assert!(html.contains("<dt>Role</dt><dd>curator</dd>"), "{html}");
    assert_eq!(role_header(&headers), Some("curator"));
    let ada = stored(&app, &org, "ada@klue.test").await;
    let got = scim.get(&format!("/Users/{}", ada.id)).await;
    assert_eq!(
        got.body["roles"],
        json!([{"value": "curator", "primary": true}])
    );

    // A later login asserting another role updates it, through the event log.
    let mut spec = saml.spec("ada@klue.test");
    spec.attributes
        .push(("klueRole".into(), vec!["admin".into()]));
    let cookie = session_of(&saml.post(&spec).await);
    assert_eq!(seen_as(&app, &cookie).await.0["role"], "admin");
    let log = events(&app, &org).await;
    assert!(log
        .iter()
        .any(|e| e.0 == "user.role_from_login" && e.1 == "success"));

    // A role outside the list refuses the login, and the stored role stays.
    let mut spec = saml.spec("ada@klue.test");
    spec.attributes
        .push(("klueRole".into(), vec!["boss".into()]));
    let r = saml.post(&spec).await;
    assert_refused(
        &app,
        &org,
        r,
        r#"roles value "boss" is not one of the allowed roles"#,
    )
    .await;
    let ada = stored(&app, &org, "ada@klue.test").await;
    assert_eq!(ada.profile.role_values(), vec!["admin"]);

    // A login that says nothing about the role leaves it as it is.
    let cookie = session_of(&saml.post(&saml.spec("ada@klue.test")).await);
    assert_eq!(seen_as(&app, &cookie).await.0["role"], "admin");

    // JIT without a role: the default. JIT with a role outside the list: no user at all.
    let cookie = session_of(&saml.post(&saml.spec("bob@klue.test")).await);
    let (me, _, headers) = seen_as(&app, &cookie).await;
    assert_eq!(me["role"], "consumer");
    assert_eq!(role_header(&headers), Some("consumer"));
    let mut spec = saml.spec("eve@klue.test");
    spec.attributes
        .push(("klueRole".into(), vec!["owner".into()]));
    let r = saml.post(&spec).await;
    assert_refused(&app, &org, r, r#"roles value "owner""#).await;
    assert!(app
        .directory
        .user_by_user_name(org.id, "eve@klue.test")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_login_role_replaces_the_one_scim_gave() {
    // The IdP decides the role for both doors: its latest word wins.
    let app = TestApp::spawn().await;
    let scim = klue_like(&app, "klue").await;
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "ada@klue.test",
                   "name": {"givenName": "Ada"}, "roles": [{"value": "consumer", "display": "Consumer"}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let mut spec = saml.spec("ada@klue.test");
    spec.attributes.push(("role".into(), vec!["admin".into()]));
    let cookie = session_of(&saml.post(&spec).await);
    assert_eq!(seen_as(&app, &cookie).await.0["role"], "admin");
    let got = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(
        got.body["roles"],
        json!([{"value": "admin", "display": "Consumer"}]),
        "the member's value changes; the rest is kept as SCIM wrote it"
    );
    assert_eq!(got.body["id"], json!(id), "the same user, linked");
}

#[tokio::test]
async fn oidc_role_claim_sets_and_updates_the_role() {
    let app = TestApp::spawn().await;
    let scim = klue_like(&app, "appenate").await;
    let org = scim.org.clone();
    set(
        &app,
        &org,
        &[
            "roles=ReadOnly,User,Admin,EnterpriseAdmin",
            "default_role=User",
            "oidc_claim_role=app_role",
        ],
    )
    .await;
    let oidc = OidcIdp::connect(&app, &org).await;
    let r = oidc
        .login_raw(
            "00u1",
            "ada@appenate.test",
            json!({"app_role": "EnterpriseAdmin"}),
        )
        .await;
    let cookie = session_of(&r);
    let (me, html, headers) = seen_as(&app, &cookie).await;
    assert_eq!(me["role"], "EnterpriseAdmin");
    assert!(html.contains("EnterpriseAdmin"));
    assert_eq!(role_header(&headers), Some("EnterpriseAdmin"));

    // A claim as an array (Entra's app roles): its first value.
    let r = oidc
        .login_raw(
            "00u1",
            "ada@appenate.test",
            json!({"app_role": ["ReadOnly"]}),
        )
        .await;
    assert_eq!(seen_as(&app, &session_of(&r)).await.0["role"], "ReadOnly");

    // Outside the list (case-exact): refused, with the page naming the rule.
    let r = oidc
        .login_raw("00u1", "ada@appenate.test", json!({"app_role": "admin"}))
        .await;
    assert_refused(&app, &org, r, r#"roles value "admin" is not one of the allowed roles: ReadOnly, User, Admin, EnterpriseAdmin"#).await;
    // The default claim name `role` means nothing here; the user keeps ReadOnly.
    let r = oidc
        .login_raw("00u1", "ada@appenate.test", json!({"role": "Admin"}))
        .await;
    assert_eq!(seen_as(&app, &session_of(&r)).await.0["role"], "ReadOnly");
}

#[tokio::test]
async fn an_extension_attribute_can_hold_the_role() {
    let app = TestApp::spawn().await;
    let org = app.org("klue", &["klue.test"]).await;
    set(
        &app,
        &org,
        &[
            "roles=admin,curator,consumer",
            "default_role=consumer",
            &format!("role_attribute={KLUE_ROLE}"),
        ],
    )
    .await;
    // A created user gets the default role in the extension attribute.
    let bob = app
        .directory
        .create_user(org.id, user_data("bob@klue.test"), &Actor::Cli)
        .await
        .unwrap();
    let policy = app
        .directory
        .org(org.id)
        .await
        .unwrap()
        .unwrap()
        .settings
        .policy;
    let role_of = gatehouse::directory::policy::attributes::role_of;
    assert_eq!(role_of(&policy, &bob).as_deref(), Some("consumer"));
    assert!(bob.profile.roles.is_empty(), "not in SCIM roles");

    // A login's role goes to the same place; SCIM roles do not count as the role.
    let mut a = okta("00u1", "ada@klue.test");
    a.role = Some("curator".into());
    let cookie = login(&app, &org, &a).await.unwrap();
    let (me, _, headers) = seen_as(&app, &format!("gatehouse_session={cookie}")).await;
    assert_eq!(me["role"], "curator");
    assert_eq!(role_header(&headers), Some("curator"));
    let ada = stored(&app, &org, "ada@klue.test").await;
    assert_eq!(role_of(&policy, &ada).as_deref(), Some("curator"));

    // Values outside the list are refused there too, naming the attribute.
    let mut bad = user_data("eve@klue.test");
    gatehouse::directory::policy::attributes::set_role(&policy, &mut bad.profile, "boss").unwrap();
    let e = app
        .directory
        .create_user(org.id, bad, &Actor::Cli)
        .await
        .unwrap_err();
    let gatehouse::directory::Error::Policy(v) = e else {
        panic!("{e:?}")
    };
    assert_eq!(v.attribute, KLUE_ROLE);
    assert!(v.message.contains("\"boss\""), "{}", v.message);
}

#[tokio::test]
async fn without_a_role_the_role_header_is_empty() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    let saml = SamlIdp::connect(&app, &scim.org).await;
    let cookie = session_of(&saml.post(&saml.spec("ada@plumm.test")).await);
    let (me, html, headers) = seen_as(&app, &cookie).await;
    assert_eq!(me["role"], Value::Null);
    assert!(!html.contains("<dt>Role</dt>"));
    assert_eq!(role_header(&headers), Some(""));
    assert!(headers.get("x-gatehouse-user").is_some());

    // Without a list any role passes, and the role is the primary member of roles.
    let ada = stored(&app, &scim.org, "ada@plumm.test").await;
    let r = scim
        .patch(
            &format!("/Users/{}", ada.id),
            json!([{"op": "add", "path": "roles",
                    "value": [{"value": "Editor"}, {"value": "Owner", "primary": true}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let (me, _, headers) = seen_as(&app, &cookie).await;
    assert_eq!(me["role"], "Owner");
    assert_eq!(role_header(&headers), Some("Owner"));
    assert_eq!(me["roles"], json!(["Editor", "Owner"]));
}
