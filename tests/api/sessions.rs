//! The gate: Directory::sign_in, sessions, /me, /auth/check, logout, and the deactivation rule.

use gatehouse::directory::orgs::{Org, OrgChange};
use gatehouse::directory::{Actor, UserId};
use gatehouse::session::lifetimes;
use gatehouse::sso::{Assertion, LoginError, Refusal};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::scim::{events, Scim};
use crate::support::{user_data, TestApp};

pub fn okta(subject: &str, user_name: &str) -> Assertion {
    Assertion {
        connection: "okta".into(),
        subject: subject.into(),
        user_name: Some(user_name.into()),
        email: Some(user_name.into()),
        email_verified: true,
        trusted_user_name: true,
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        ..Assertion::default()
    }
}

/// Signs in through the gate and returns the session cookie's value.
pub async fn login(app: &TestApp, org: &Org, a: &Assertion) -> Result<String, LoginError> {
    let org = app.directory.org(org.id).await.unwrap().unwrap();
    let config = gatehouse::Config::default();
    let signed = app
        .directory
        .sign_in(&org, a, None, lifetimes(&config))
        .await?;
    Ok(signed.session.cookie)
}

async fn get(
    app: &TestApp,
    path: &str,
    cookie: &str,
    json: bool,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = app
        .client
        .get(app.url(path))
        .header("cookie", format!("gatehouse_session={cookie}"));
    if json {
        req = req.header("accept", "application/json");
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

#[tokio::test]
async fn a_session_of_an_active_user_works_at_me_and_auth_check() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let mut a = okta("00u1", "ada@acme.test");
    a.groups = Some(vec!["Engineering".into(), "Admins".into()]);
    let cookie = login(&app, &org, &a).await.unwrap();

    let (status, _, body) = get(&app, "/me", &cookie, true).await;
    assert_eq!(status, 200);
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["userName"], "ada@acme.test");
    assert_eq!(me["org"], "acme");
    assert_eq!(me["groups"], json!(["Admins", "Engineering"]));

    let (status, headers, body) = get(&app, "/me", &cookie, false).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("ada@acme.test") && body.contains("Sign out"),
        "{body}"
    );
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    let (status, headers, _) = get(&app, "/auth/check", &cookie, false).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-gatehouse-user"], "ada@acme.test");
    assert_eq!(headers["x-gatehouse-email"], "ada@acme.test");
    assert_eq!(headers["x-gatehouse-org"], "acme");
    assert_eq!(headers["x-gatehouse-groups"], "Admins,Engineering");

    let (status, _, _) = get(&app, "/auth/check", "made-up", false).await;
    assert_eq!(status, 401);
    let r = app.client.get(app.url("/auth/check")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no cookie at all");
}

#[tokio::test]
async fn after_deactivation_the_same_cookie_fails_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let cookie = login(&app, &scim.org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let other = login(&app, &scim.org, &okta("00u2", "bob@acme.test"))
        .await
        .unwrap();
    assert_eq!(get(&app, "/auth/check", &cookie, false).await.0, 200);

    let id = scim
        .list("/Users", &[("filter", "userName eq \"ada@acme.test\"")])
        .await
        .ids()[0]
        .clone();
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200);

    assert_eq!(get(&app, "/auth/check", &cookie, false).await.0, 401);
    assert_eq!(get(&app, "/me", &cookie, true).await.0, 401);
    assert_eq!(
        get(&app, "/auth/check", &other, false).await.0,
        200,
        "other users are untouched"
    );
    let uid = UserId::parse(&id).unwrap();
    assert_eq!(
        app.directory.session_count(scim.org.id, uid).await.unwrap(),
        0,
        "its sessions are gone"
    );

    // Reactivation does not revive an old session.
    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    assert_eq!(get(&app, "/auth/check", &cookie, false).await.0, 401);
}

#[tokio::test]
async fn a_deleted_user_and_a_disabled_organisation_end_sessions_too() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ada = login(&app, &scim.org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let bob = login(&app, &scim.org, &okta("00u2", "bob@acme.test"))
        .await
        .unwrap();
    let id = scim
        .list("/Users", &[("filter", "userName eq \"ada@acme.test\"")])
        .await
        .ids()[0]
        .clone();
    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(get(&app, "/auth/check", &ada, false).await.0, 401);

    assert_eq!(get(&app, "/auth/check", &bob, false).await.0, 200);
    let off = OrgChange::parse("enabled=false").unwrap();
    app.directory
        .update_org(scim.org.id, &[off], &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(get(&app, "/auth/check", &bob, false).await.0, 401);
    let err = login(&app, &scim.org, &okta("00u2", "bob@acme.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::Refused(Refusal::OrgDisabled)),
        "{err:?}"
    );
}

#[tokio::test]
async fn sessions_end_after_the_idle_and_the_absolute_timeouts() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let cookie = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let minute = 60_000;
    // Used every 7 hours: alive, until 24 hours after sign-in.
    for _ in 0..3 {
        app.clock.advance_ms(7 * 60 * minute);
        assert_eq!(get(&app, "/auth/check", &cookie, false).await.0, 200);
    }
    app.clock.advance_ms(3 * 60 * minute + 1);
    assert_eq!(
        get(&app, "/auth/check", &cookie, false).await.0,
        401,
        "absolute timeout"
    );

    let idle = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    app.clock.advance_ms(8 * 60 * minute);
    assert_eq!(
        get(&app, "/auth/check", &idle, false).await.0,
        401,
        "idle timeout"
    );
}

#[tokio::test]
async fn jit_creates_once_and_links_the_subject() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let a = okta("00u1", "ada@acme.test");
    login(&app, &org, &a).await.unwrap();
    login(&app, &org, &a).await.unwrap();
    assert_eq!(app.directory.count_users(org.id).await.unwrap(), 1);
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.profile.name.unwrap().family_name.as_deref(),
        Some("Lovelace")
    );
    assert_eq!(
        app.directory
            .linked_user(org.id, "okta", "00u1")
            .await
            .unwrap(),
        Some(user.id)
    );
    let vias: Vec<String> = events(&app, &org)
        .await
        .into_iter()
        .filter(|e| e.0 == "login")
        .map(|e| e.2["via"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(vias, ["jit", "link"]);
}

#[tokio::test]
async fn a_scim_provisioned_user_is_linked_not_duplicated() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("Ada@Acme.test").await;
    login(&app, &scim.org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 1);
    let linked = app
        .directory
        .linked_user(scim.org.id, "okta", "00u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(linked.to_string(), id);
    // Renamed by SCIM later: the link still finds the user.
    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "userName", "value": "ada.l@acme.test"}]),
    )
    .await;
    login(&app, &scim.org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 1);
}

#[tokio::test]
async fn jit_refuses_a_deactivated_user_and_creates_no_duplicate() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let d = &app.directory;
    let u = d
        .create_user(org.id, user_data("ada@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.set_active(org.id, u.id, false, &Actor::Cli)
        .await
        .unwrap();
    for a in [okta("00u1", "ada@acme.test"), okta("00u1", "ADA@acme.test")] {
        let err = login(&app, &org, &a).await.unwrap_err();
        assert!(
            matches!(err, LoginError::Refused(Refusal::Deactivated)),
            "{err:?}"
        );
    }
    assert_eq!(
        d.count_users(org.id).await.unwrap(),
        1,
        "only the deactivated user"
    );
    let all = sqlx::query_scalar::<_, i64>("select count(*) from users")
        .fetch_one(d.db().reads())
        .await
        .unwrap();
    assert_eq!(all, 1, "no second record");
    assert!(
        !d.user(org.id, u.id).await.unwrap().unwrap().active,
        "not reactivated"
    );
    let (_, outcome, detail) = events(&app, &org)
        .await
        .into_iter()
        .rev()
        .find(|e| e.0 == "login")
        .unwrap();
    assert_eq!(outcome, "failure");
    assert!(
        detail["reason"].as_str().unwrap().contains("deactivated"),
        "{detail}"
    );

    // A deleted user is refused too, and never brought back by a login.
    d.set_active(org.id, u.id, true, &Actor::Cli).await.unwrap();
    d.delete_user(org.id, u.id, &Actor::Cli).await.unwrap();
    let err = login(&app, &org, &okta("00u9", "ada@acme.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::Refused(Refusal::Deleted)),
        "{err:?}"
    );
    assert!(d.user(org.id, u.id).await.unwrap().unwrap().deleted);
}

#[tokio::test]
async fn jit_can_be_turned_off_and_unverified_emails_never_match() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let d = &app.directory;
    d.update_org(
        org.id,
        &[OrgChange::parse("jit=false").unwrap()],
        &Actor::Cli,
    )
    .await
    .unwrap();
    let err = login(&app, &org, &okta("00u1", "new@acme.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::Refused(Refusal::JitDisabled)),
        "{err:?}"
    );

    d.create_user(org.id, user_data("victim@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let sneaky = Assertion {
        connection: "oidc".into(),
        subject: "attacker".into(),
        email: Some("victim@acme.test".into()),
        email_verified: false,
        ..Assertion::default()
    };
    assert!(login(&app, &org, &sneaky).await.is_err());
    assert_eq!(
        d.linked_user(org.id, "oidc", "attacker").await.unwrap(),
        None,
        "no takeover"
    );
}

#[tokio::test]
async fn two_first_logins_at_once_leave_one_user() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let a = okta("00u1", "ada@acme.test");
    let (x, y) = tokio::join!(login(&app, &scim.org, &a), login(&app, &scim.org, &a));
    x.unwrap();
    y.unwrap();
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 1);

    // A SCIM create racing a first login.
    let b = okta("00u2", "bob@acme.test");
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@acme.test"});
    let (jit, created) = tokio::join!(login(&app, &scim.org, &b), scim.post("/Users", body));
    jit.unwrap();
    assert!(
        matches!(created.status.as_u16(), 201 | 409),
        "{:#}",
        created.body
    );
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 2);
}

#[tokio::test]
async fn groups_asserted_at_login_set_memberships_unless_turned_off() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let pushed = scim
        .post("/Groups", json!({"displayName": "Engineering"}))
        .await
        .body["id"]
        .clone();
    let mut a = okta("00u1", "ada@acme.test");
    a.groups = Some(vec!["engineering".into(), "Ops".into()]);
    login(&app, &scim.org, &a).await.unwrap();
    let user = app
        .directory
        .user_by_user_name(scim.org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    let names = |app: &TestApp| {
        let d = app.directory.clone();
        let org = scim.org.id;
        async move {
            d.user_groups(org, user.id)
                .await
                .unwrap()
                .into_iter()
                .map(|g| g.display_name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(&app).await,
        ["Engineering", "Ops"],
        "the SCIM-pushed group is the same group"
    );
    let r = scim
        .get(&format!("/Groups/{}", pushed.as_str().unwrap()))
        .await;
    assert_eq!(r.body["members"][0]["value"], json!(user.id));

    a.groups = Some(vec!["Ops".into()]);
    login(&app, &scim.org, &a).await.unwrap();
    assert_eq!(names(&app).await, ["Ops"]);

    app.directory
        .update_org(
            scim.org.id,
            &[OrgChange::parse("groups_from_login=false").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
    a.groups = Some(vec!["Sales".into()]);
    login(&app, &scim.org, &a).await.unwrap();
    assert_eq!(names(&app).await, ["Ops"], "left alone");
}

#[tokio::test]
async fn logout_needs_the_sessions_csrf_token() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let cookie = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let post = |csrf: &str| {
        app.client
            .post(app.url("/logout"))
            .header("cookie", format!("gatehouse_session={cookie}"))
            .form(&[("csrf", csrf)])
            .send()
    };
    let r = post("forged").await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        get(&app, "/auth/check", &cookie, false).await.0,
        200,
        "still signed in"
    );

    let (_, _, page) = get(&app, "/me", &cookie, false).await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = post(&csrf).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(get(&app, "/auth/check", &cookie, false).await.0, 401);
}

#[tokio::test]
async fn the_login_page_finds_the_organisation_and_refuses_foreign_return_to() {
    let app = TestApp::spawn().await;
    app.org("acme", &["acme.test"]).await;
    let r = app
        .client
        .get(app.url("/login?return_to=https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"return_to\" value=\"/me\""), "{page}");
    assert!(!page.contains("evil.example"));

    let r = app.submit_login("someone@unknown.test").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown.test"));

    // Found by domain; its identity provider is not connected yet, and the page says so.
    let r = app.submit_login("ada@ACME.test").await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("identity provider"));
    let r = app
        .client
        .get(app.url("/login?org=nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn expired_sessions_are_swept_from_the_table() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    let config = gatehouse::Config::default();
    assert_eq!(
        app.directory
            .sweep_sessions(lifetimes(&config))
            .await
            .unwrap(),
        0,
        "a live session stays"
    );
    assert_eq!(
        app.directory.session_count(org.id, user.id).await.unwrap(),
        1
    );
    app.clock.advance_ms(8 * 3_600_000);
    assert_eq!(
        app.directory
            .sweep_sessions(lifetimes(&config))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.directory.session_count(org.id, user.id).await.unwrap(),
        0
    );
}

/// The app's own sign-out button posts no token: a post from this server's pages or a
/// configured app origin (as `Origin` or `Sec-Fetch-Site` tell) signs out; one from
/// another site, or that says nothing of where it comes from, does not.
#[tokio::test]
async fn logout_from_the_apps_own_button_works_and_a_cross_site_one_does_not() {
    let app = TestApp::spawn_with(|c| {
        c.server.app_origins = vec!["https://app.acme.test".into()];
    })
    .await;
    let org = app.org("acme", &[]).await;
    let own = url::Url::parse(&app.base_url)
        .unwrap()
        .origin()
        .ascii_serialization();
    let session = || async {
        login(&app, &org, &okta("00u1", "ada@acme.test"))
            .await
            .unwrap()
    };
    let post = |cookie: String, headers: Vec<(&'static str, String)>| {
        let mut req = app
            .client
            .post(app.url("/logout"))
            .header("cookie", format!("gatehouse_session={cookie}"));
        for (n, v) in headers {
            req = req.header(n, v);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };

    for refused in [
        vec![("origin", "https://evil.example".to_string())],
        vec![("origin", "null".to_string())],
        vec![("sec-fetch-site", "cross-site".to_string())],
        vec![("sec-fetch-site", "same-site".to_string())],
        vec![
            ("origin", "https://evil.example".to_string()),
            ("sec-fetch-site", "same-origin".to_string()),
        ],
        vec![],
    ] {
        let cookie = session().await;
        assert_eq!(
            post(cookie.clone(), refused.clone()).await,
            403,
            "{refused:?}"
        );
        assert_eq!(
            get(&app, "/auth/check", &cookie, false).await.0,
            200,
            "{refused:?}"
        );
    }
    for allowed in [
        vec![("origin", own.clone())],
        vec![("origin", "https://app.acme.test".to_string())],
        vec![("sec-fetch-site", "same-origin".to_string())],
    ] {
        let cookie = session().await;
        assert_eq!(
            post(cookie.clone(), allowed.clone()).await,
            303,
            "{allowed:?}"
        );
        assert_eq!(
            get(&app, "/auth/check", &cookie, false).await.0,
            401,
            "{allowed:?}"
        );
    }
}

/// Login CSRF: the `/login` form needs the token of the browser's own sign-in page, so
/// another site cannot post an email and start a sign-in the person never asked for.
#[tokio::test]
async fn the_login_form_needs_the_token_of_its_own_page() {
    let app = TestApp::spawn().await;
    app.org("acme", &["acme.test"]).await;
    let post = |cookie: Option<String>, csrf: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = app.client.post(app.url("/login"));
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let mut form = vec![("email", "ada@acme.test")];
            if let Some(t) = csrf {
                form.push(("csrf", t));
            }
            req.form(&form).send().await.unwrap()
        }
    };
    // No token, a token without its cookie, a cookie with another token.
    for (cookie, csrf) in [
        (None, None),
        (None, Some("forged-token-forged-token-forged-token")),
        (
            Some("gatehouse_login_csrf=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string()),
            Some("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
        ),
    ] {
        let r = post(cookie, csrf).await;
        assert_eq!(r.status(), 403);
        assert!(r.headers().get("location").is_none(), "no sign-in started");
        assert!(r.text().await.unwrap().contains("sign-in form has expired"));
    }
    // The page's own token and cookie: found by domain (no IdP yet, so 409 says so).
    assert_eq!(app.submit_login("ada@acme.test").await.status(), 409);
}
