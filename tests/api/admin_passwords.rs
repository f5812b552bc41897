//! Admins that outlive their rights (the edge holds, item 4): a platform admin changes its
//! password only with the current one, a platform admin resets another's, and either ends
//! that admin's other console sessions at once.

use crate::console_setup::customer_admin;
use crate::support::console::{
    browser, create_platform_admin, password_login, signed_in, ConsoleUser, PASSWORD,
};
use crate::support::TestApp;

const NEW: &str = "a brand new passphrase";

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Option<ConsoleUser> {
    let client = browser();
    let r = password_login(app, &client, email, password).await;
    if r.status() != 303 {
        return None;
    }
    Some(signed_in(app, client).await)
}

/// Whether a console session still works.
async fn works(app: &TestApp, who: &ConsoleUser) -> bool {
    who.get(app, "/admin/orgs").await.0 == 200
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    create_platform_admin(&app, "root@platform.test").await;
    let here = sign_in(&app, "root@platform.test", PASSWORD).await.unwrap();
    let elsewhere = sign_in(&app, "root@platform.test", PASSWORD).await.unwrap();

    let change = |current: &'static str, password: &'static str, confirm: &'static str| {
        let here = &here;
        let app = &app;
        async move {
            here.post(
                app,
                "/admin/account/password",
                &[
                    ("current", current),
                    ("password", password),
                    ("confirm", confirm),
                ],
            )
            .await
        }
    };
    let r = change("wrong password!", NEW, NEW).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("current password is not right"));
    assert_eq!(change(PASSWORD, NEW, "something else").await.status(), 400);
    assert_eq!(change(PASSWORD, "short", "short").await.status(), 400);
    assert!(works(&app, &elsewhere).await, "nothing changed yet");
    assert!(sign_in(&app, "root@platform.test", NEW).await.is_none());

    let r = change(PASSWORD, NEW, NEW).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("other session(s) ended"));
    assert!(
        works(&app, &here).await,
        "the session that changed it goes on"
    );
    assert!(!works(&app, &elsewhere).await, "every other session ends");
    assert!(sign_in(&app, "root@platform.test", PASSWORD)
        .await
        .is_none());
    assert!(sign_in(&app, "root@platform.test", NEW).await.is_some());
}

#[tokio::test]
async fn a_platform_admin_resets_another_admins_password_and_ends_its_sessions() {
    let app = TestApp::spawn().await;
    create_platform_admin(&app, "root@platform.test").await;
    create_platform_admin(&app, "lost@platform.test").await;
    let root = sign_in(&app, "root@platform.test", PASSWORD).await.unwrap();
    let lost = sign_in(&app, "lost@platform.test", PASSWORD).await.unwrap();

    let r = root
        .post(
            &app,
            "/admin/account/reset",
            &[("email", "nobody@platform.test"), ("password", NEW)],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = root
        .post(
            &app,
            "/admin/account/reset",
            &[("email", "root@platform.test"), ("password", NEW)],
        )
        .await;
    assert_eq!(r.status(), 400, "not a way around the current password");
    assert!(works(&app, &lost).await);

    let r = root
        .post(
            &app,
            "/admin/account/reset",
            &[("email", "Lost@Platform.test"), ("password", NEW)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!works(&app, &lost).await, "the reset admin's sessions end");
    assert!(works(&app, &root).await);
    assert!(sign_in(&app, "lost@platform.test", PASSWORD)
        .await
        .is_none());
    assert!(sign_in(&app, "lost@platform.test", NEW).await.is_some());
}

#[tokio::test]
async fn only_platform_admins_reach_the_account_page_and_forms_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let customer = customer_admin(&app, &org, "boss").await;
    assert_eq!(customer.get(&app, "/admin/account").await.0, 403);
    let r = customer
        .post(
            &app,
            "/admin/account/reset",
            &[("email", "root@platform.test"), ("password", NEW)],
        )
        .await;
    assert_eq!(r.status(), 403);

    create_platform_admin(&app, "root@platform.test").await;
    let root = sign_in(&app, "root@platform.test", PASSWORD).await.unwrap();
    let r = root
        .client
        .post(app.url("/admin/account/password"))
        .form(&[("current", PASSWORD), ("password", NEW), ("confirm", NEW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    assert!(sign_in(&app, "root@platform.test", PASSWORD)
        .await
        .is_some());
}
