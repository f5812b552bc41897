//! Getting into the console: password sign-in, lockout and rate limit, CSRF on every form,
//! sign-out and timeouts, SSO for customer admins, setup links and the first-admin link.

use gatehouse::directory::orgs::OrgChange;
use gatehouse::directory::{Actor, Email};
use gatehouse::events::{list, EventQuery};

use crate::sessions::{login, okta};
use crate::support::console::{
    browser, create_platform_admin, csrf_of, field_value, login_page_csrf, password_login,
    platform_admin, signed_in, PASSWORD,
};
use crate::support::{user_data, TestApp, T0};

const ROOT: &str = "root@platform.test";

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

fn sets_console_cookie(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("gatehouse_admin="))
}

#[tokio::test]
async fn a_platform_admin_signs_in_with_a_password_and_a_wrong_one_is_refused() {
    let app = TestApp::spawn().await;
    create_platform_admin(&app, ROOT).await;
    let client = browser();

    let wrong = password_login(&app, &client, ROOT, "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    assert!(!sets_console_cookie(&wrong));
    assert!(wrong.text().await.unwrap().contains("do not match"));
    let unknown = password_login(&app, &client, "nobody@platform.test", PASSWORD).await;
    assert_eq!(
        unknown.status(),
        401,
        "an unknown email gets the same answer"
    );

    let right = password_login(&app, &client, "ROOT@platform.test", PASSWORD).await;
    assert_eq!(right.status(), 303);
    assert_eq!(location(&right), "/admin/orgs");
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Path=/admin")
            && cookie.contains("Max-Age=28800"),
        "{cookie}"
    );
    let page = client.get(app.url("/admin/orgs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains(ROOT));

    let failures: i64 = sqlx::query_scalar(
        "select count(*) from events where org_id is null and action = 'admin.login' \
         and outcome = 'failure'",
    )
    .fetch_one(app.directory.db().reads())
    .await
    .unwrap();
    assert_eq!(failures, 2, "both refusals are on record");
}

#[tokio::test]
async fn the_console_needs_its_own_session() {
    let app = TestApp::spawn().await;
    let r = browser().get(app.url("/admin/orgs")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/login");

    // An end user's session (even an org admin's) does not open the console by itself.
    let org = app.org("acme", &["acme.test"]).await;
    let cookie = login(&app, &org, &okta("s1", "ada@acme.test"))
        .await
        .unwrap();
    let r = browser()
        .get(app.url("/admin/orgs"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/login");
}

#[tokio::test]
async fn repeated_failures_lock_the_email_for_a_while() {
    let app = TestApp::spawn().await;
    create_platform_admin(&app, ROOT).await;
    let client = browser();
    for _ in 0..5 {
        let r = password_login(&app, &client, ROOT, "wrong password here").await;
        assert_eq!(r.status(), 401);
    }
    let locked = password_login(&app, &client, ROOT, PASSWORD).await;
    assert_eq!(
        locked.status(),
        429,
        "even the right password waits out the lock"
    );
    assert!(!sets_console_cookie(&locked));
    assert!(locked
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins"));

    app.clock.advance_ms(16 * 60_000);
    let after = password_login(&app, &client, ROOT, PASSWORD).await;
    assert_eq!(after.status(), 303, "the lock lifts after lockout_minutes");
}

#[tokio::test]
async fn many_attempts_from_one_address_are_slowed_down() {
    let app = TestApp::spawn().await;
    let client = browser();
    let csrf = login_page_csrf(&app, &client).await;
    let mut statuses = Vec::new();
    for i in 0..22 {
        let email = format!("spray{i}@platform.test");
        let r = client
            .post(app.url("/admin/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", &email),
                ("password", "guess guess guess"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[21], 429, "{statuses:?}");
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    create_platform_admin(&app, ROOT).await;
    let client = browser();
    login_page_csrf(&app, &client).await;
    let r = client
        .post(app.url("/admin/login"))
        .form(&[("csrf", "forged"), ("email", ROOT), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "sign-in needs the pre-sign-in token");

    let admin = platform_admin_again(&app).await;
    let forged = admin
        .client
        .post(app.url("/admin/orgs"))
        .form(&[("csrf", "forged"), ("slug", "evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let missing = admin
        .client
        .post(app.url("/admin/orgs"))
        .form(&[("slug", "evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    assert!(app.directory.org_by_slug("evil").await.unwrap().is_none());
    let out = admin
        .client
        .post(app.url("/admin/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 415, "not a form");
    assert!(out.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let out = admin
        .client
        .post(app.url("/admin/logout"))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 403, "even sign-out");
    assert_eq!(
        admin.get(&app, "/admin/orgs").await.0,
        200,
        "still signed in"
    );

    let made = admin
        .post(
            &app,
            "/admin/orgs",
            &[("slug", "good"), ("domains", "good.test")],
        )
        .await;
    assert_eq!(made.status(), 303);
    let org = app.directory.org_by_slug("good").await.unwrap().unwrap();
    let events = list(
        app.directory.db().reads(),
        org.id,
        &EventQuery {
            limit: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(events
        .iter()
        .any(|e| e.action == "org.create" && e.actor.starts_with("admin:")));
}

async fn platform_admin_again(app: &TestApp) -> crate::support::console::ConsoleUser {
    let client = browser();
    let r = password_login(app, &client, ROOT, PASSWORD).await;
    assert_eq!(r.status(), 303);
    signed_in(app, client).await
}

#[tokio::test]
async fn sign_out_and_timeouts_end_the_console_session() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let out = admin.post(&app, "/admin/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(admin.get(&app, "/admin/orgs").await.0, 303);

    let admin = platform_admin_again(&app).await;
    app.clock.advance_ms(29 * 60_000);
    assert_eq!(
        admin.get(&app, "/admin/orgs").await.0,
        200,
        "used within the idle timeout"
    );
    app.clock.advance_ms(31 * 60_000);
    assert_eq!(
        admin.get(&app, "/admin/orgs").await.0,
        303,
        "idle for 31 minutes"
    );

    let admin = platform_admin_again(&app).await;
    for _ in 0..16 {
        app.clock.advance_ms(29 * 60_000);
        assert_eq!(admin.get(&app, "/admin/orgs").await.0, 200);
    }
    app.clock.advance_ms(29 * 60_000);
    assert_eq!(
        admin.get(&app, "/admin/orgs").await.0,
        303,
        "past the 8-hour absolute timeout"
    );
}

/// Signs in a user of `org` through "SSO" (an end-user session) and asks for the console.
async fn sso_into_console(
    app: &TestApp,
    slug: &str,
    session: &str,
) -> (reqwest::Client, reqwest::Response) {
    let client = browser();
    let r = client
        .get(app.url(&format!("/admin/sso?org={slug}")))
        .header("cookie", format!("gatehouse_session={session}"))
        .send()
        .await
        .unwrap();
    (client, r)
}

#[tokio::test]
async fn a_customer_admin_signs_in_through_its_own_sso() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    app.org("other", &["other.test"]).await;
    let ada = login(&app, &org, &okta("s-ada", "ada@acme.test"))
        .await
        .unwrap();
    let ada_id = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap()
        .id;

    // Not an admin yet: refused, and the refusal is on record.
    let (_, r) = sso_into_console(&app, "acme", &ada).await;
    assert_eq!(r.status(), 403);
    assert!(!sets_console_cookie(&r));
    let failures = list(
        app.directory.db().reads(),
        org.id,
        &EventQuery {
            failures_only: true,
            limit: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        failures.iter().any(|e| e.action == "admin.login"),
        "{failures:?}"
    );

    // Named admin: a console session confined to its organisation.
    app.directory
        .set_org_admin(org.id, ada_id, true, &Actor::Cli)
        .await
        .unwrap();
    let (client, r) = sso_into_console(&app, "acme", &ada).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/orgs/acme");
    assert!(sets_console_cookie(&r));
    let home = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&home), "/admin/orgs/acme");
    let all = client.get(app.url("/admin/orgs")).send().await.unwrap();
    assert_eq!(
        all.status(),
        403,
        "the list of every organisation is for platform admins"
    );

    // A session of another organisation does not count for this one.
    let (_, r) = sso_into_console(&app, "other", &ada).await;
    assert_eq!(r.status(), 401);

    // Deactivating the user ends its console session too.
    app.directory
        .set_active(org.id, ada_id, false, &Actor::Cli)
        .await
        .unwrap();
    let after = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&after), "/admin/login");
}

#[tokio::test]
async fn members_of_the_admin_group_are_customer_admins_while_they_stay_members() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    app.directory
        .update_org(
            org.id,
            &[OrgChange::parse("admin_group=IT Admins").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
    let mut a = okta("s-bob", "bob@acme.test");
    a.groups = Some(vec!["it admins".into()]);
    let bob = login(&app, &org, &a).await.unwrap();
    let (client, r) = sso_into_console(&app, "acme", &bob).await;
    assert_eq!(
        r.status(),
        303,
        "a member of the group (matched case-insensitively)"
    );

    // Leaving the group (the next login asserts none) ends the console session.
    a.groups = Some(vec![]);
    login(&app, &org, &a).await.unwrap();
    let after = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&after), "/admin/login");
}

/// Opens a setup link like a browser: the page, then its button.
async fn open_setup_link(app: &TestApp, secret: &str) -> (reqwest::Client, reqwest::Response) {
    let client = browser();
    let (status, html) = crate::support::console::setup_page(app, &client, secret).await;
    if status != 200 {
        panic!("setup page {status}: {html}");
    }
    assert!(!html.contains(secret), "the page never shows the secret");
    let csrf = csrf_of(&html);
    let r = client
        .post(app.url("/admin/setup"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    (client, r)
}

#[tokio::test]
async fn a_setup_link_opens_one_organisation_once_until_it_expires_or_is_revoked() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let (link, secret) = app
        .directory
        .create_setup_link(org.id, "for Acme IT", T0 + 3_600_000, &Actor::Cli)
        .await
        .unwrap();

    let (client, r) = open_setup_link(&app, &secret).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/orgs/acme");
    let home = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&home), "/admin/orgs/acme", "the session works");
    assert_eq!(
        client
            .get(app.url("/admin/orgs"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // Once only.
    let again = browser()
        .get(app.url(&format!("/admin/setup/{secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
    assert!(again.text().await.unwrap().contains("already been used"));

    // Revoking the link ends the session it opened.
    app.directory
        .revoke_setup_link(org.id, &link.id, &Actor::Cli)
        .await
        .unwrap();
    let after = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&after), "/admin/login");

    // An expired link does not open; a link's session ends when the link expires.
    let (_, late) = app
        .directory
        .create_setup_link(org.id, "", T0 + 60_000, &Actor::Cli)
        .await
        .unwrap();
    let (_, fresh) = app
        .directory
        .create_setup_link(org.id, "", T0 + 120_000, &Actor::Cli)
        .await
        .unwrap();
    let (client, r) = open_setup_link(&app, &fresh).await;
    assert_eq!(r.status(), 303);
    app.clock.advance_ms(90_000);
    let expired = browser()
        .get(app.url(&format!("/admin/setup/{late}")))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    assert_eq!(
        location(&client.get(app.url("/admin")).send().await.unwrap()),
        "/admin/orgs/acme"
    );
    app.clock.advance_ms(60_000);
    assert_eq!(
        location(&client.get(app.url("/admin")).send().await.unwrap()),
        "/admin/login"
    );

    let unknown = browser()
        .get(app.url("/admin/setup/not-a-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 403);

    let used: Vec<String> = list(
        app.directory.db().reads(),
        org.id,
        &EventQuery {
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_iter()
    .map(|e| e.action)
    .collect();
    for action in ["setup_link.create", "setup_link.use", "setup_link.revoke"] {
        assert!(used.iter().any(|a| a == action), "{action} in {used:?}");
    }
}

#[tokio::test]
async fn the_first_admin_link_works_once_and_only_while_there_is_no_admin() {
    let app = TestApp::spawn().await;
    let secret = app
        .directory
        .create_first_admin_link(T0 + 3_600_000)
        .await
        .unwrap()
        .expect("no admin yet");
    let client = browser();
    let form = client
        .get(app.url(&format!("/admin/first-admin?token={secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert_eq!(field_value(&html, "token").unwrap(), secret);
    let csrf = csrf_of(&html);
    let post = |password: &'static str, confirm: &'static str| {
        client
            .post(app.url("/admin/first-admin"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("token", secret.as_str()),
                ("email", "first@ops.test"),
                ("password", password),
                ("confirm", confirm),
            ])
            .send()
    };
    assert_eq!(post("short", "short").await.unwrap().status(), 400);
    assert_eq!(
        post("a long enough password", "a different one!!")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        app.directory.count_admins().await.unwrap(),
        0,
        "refused forms create nothing"
    );
    let made = post("a long enough password", "a long enough password")
        .await
        .unwrap();
    assert_eq!(made.status(), 303);
    assert_eq!(
        client
            .get(app.url("/admin/orgs"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(app
        .directory
        .admin_password_hash(&Email::parse("first@ops.test").unwrap())
        .await
        .unwrap()
        .is_some());

    let again = browser()
        .get(app.url(&format!("/admin/first-admin?token={secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
    assert!(app
        .directory
        .create_first_admin_link(T0 + 3_600_000)
        .await
        .unwrap()
        .is_none());

    // An expired first-admin link (on a fresh server) does not open.
    let fresh = TestApp::spawn().await;
    let secret = fresh
        .directory
        .create_first_admin_link(T0 + 1000)
        .await
        .unwrap()
        .unwrap();
    fresh.clock.advance_ms(2000);
    let r = browser()
        .get(fresh.url(&format!("/admin/first-admin?token={secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let _ = user_data("unused");
}

#[tokio::test]
async fn old_sign_in_failures_are_swept_but_live_locks_are_kept() {
    use gatehouse::directory::console::admin_lockout::LockoutPolicy;
    let app = TestApp::spawn().await;
    let policy = LockoutPolicy {
        max_failures: 2,
        window_ms: 60_000,
    };
    let d = &app.directory;
    d.login_failed("a@x.test", policy).await.unwrap();
    assert!(d.login_failed("b@x.test", policy).await.unwrap().is_none());
    let locked = d.login_failed("b@x.test", policy).await.unwrap();
    assert_eq!(locked, Some(T0 + 60_000), "the second failure locks b");
    assert_eq!(d.sweep_login_failures(policy).await.unwrap(), 0);
    app.clock.advance_ms(30_000);
    assert_eq!(
        d.login_locked_until("b@x.test").await.unwrap(),
        Some(T0 + 60_000)
    );
    app.clock.advance_ms(31_000);
    assert_eq!(d.login_locked_until("b@x.test").await.unwrap(), None);
    assert_eq!(d.sweep_login_failures(policy).await.unwrap(), 2);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_in_the_format_of_its_path() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 1024).await;
    let big = "x".repeat(4096);
    let page = app
        .client
        .post(app.url("/admin/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 413);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let api = app
        .client
        .post(app.url("/api/v1/orgs"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 413);
    let body: serde_json::Value = api.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}
