//! The console's API keys pages: platform admins issue platform-wide and organisation keys,
//! customer admins their own organisation's; the secret is shown once; revocation; CSRF.

use gatehouse::directory::api_keys::KeyScope;
use gatehouse::directory::console::admin_sessions::NewPrincipal;
use gatehouse::directory::Actor;

use crate::support::api::logged;
use crate::support::console::platform_admin;
use crate::support::{user_data, TestApp};

/// The secret a page shows, if any.
fn shown_secret(html: &str) -> Option<String> {
    let at = html.find("id=\"api-key-secret\">")?;
    let rest = &html[at + 20..];
    Some(rest[..rest.find('<')?].to_string())
}

async fn api_status(app: &TestApp, path: &str, secret: &str) -> u16 {
    app.client
        .get(app.url(path))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_platform_admin_issues_keys_sees_each_secret_once_and_revokes_them() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;

    let (status, page) = admin.get(&app, "/admin/api-keys").await;
    assert_eq!(status, 200);
    assert!(page.contains("No API key yet"), "{page}");
    assert!(page.contains("<option value=\"acme\">"), "{page}");
    assert!(
        page.contains("href=\"/admin/api-keys\""),
        "the top bar links here"
    );

    let r = admin
        .post(
            &app,
            "/admin/api-keys",
            &[
                ("description", "ci"),
                ("org", "acme"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let scoped = shown_secret(&page).expect("the secret is shown");
    assert!(scoped.starts_with("gha_"), "{scoped}");
    assert_eq!(api_status(&app, "/api/v1/orgs/acme", &scoped).await, 200);
    assert_eq!(api_status(&app, "/api/v1/orgs", &scoped).await, 403);

    let r = admin
        .post(
            &app,
            "/admin/api-keys",
            &[("description", "ops"), ("org", ""), ("expires_in_days", "")],
        )
        .await;
    let platform = shown_secret(&r.text().await.unwrap()).unwrap();
    assert_eq!(api_status(&app, "/api/v1/orgs", &platform).await, 200);

    let (_, page) = admin.get(&app, "/admin/api-keys").await;
    assert!(shown_secret(&page).is_none(), "shown once only");
    assert!(!page.contains(&scoped) && !page.contains(&platform));
    assert!(page.contains(&scoped[..10]), "the prefix tells keys apart");
    assert!(
        page.contains("platform-wide") && page.contains("ci"),
        "{page}"
    );

    let r = admin
        .post(
            &app,
            "/admin/api-keys",
            &[("org", "nobody"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = admin
        .post(
            &app,
            "/admin/api-keys",
            &[("org", ""), ("expires_in_days", "soon")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("days"));
    assert_eq!(
        app.directory
            .list_api_keys(KeyScope::All)
            .await
            .unwrap()
            .len(),
        2,
        "refused forms made no key"
    );

    let keys = app.directory.list_api_keys(KeyScope::All).await.unwrap();
    let acme_key = keys.iter().find(|k| k.org_id == Some(acme.id)).unwrap();
    let r = admin
        .post(
            &app,
            &format!("/admin/api-keys/{}/revoke", acme_key.id),
            &[("return_to", "/admin/api-keys")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/api-keys");
    assert_eq!(api_status(&app, "/api/v1/orgs/acme", &scoped).await, 401);
    let (_, page) = admin.get(&app, "/admin/api-keys").await;
    assert!(page.contains("revoked"));

    let events = logged(&app, &acme).await;
    let keyed: Vec<_> = events
        .iter()
        .filter(|e| e.0.starts_with("api_key."))
        .collect();
    assert_eq!(keyed.len(), 2, "{events:?}");
    assert!(keyed.iter().all(|e| e.1.starts_with("admin:")), "{keyed:?}");
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (_, secret) = app
        .directory
        .create_api_key(None, "x", None, &Actor::Cli)
        .await
        .unwrap();
    let key = &app.directory.list_api_keys(KeyScope::All).await.unwrap()[0];

    let r = admin
        .client
        .post(app.url("/admin/api-keys"))
        .form(&[("description", "forged"), ("org", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = admin
        .client
        .post(app.url(&format!("/admin/api-keys/{}/revoke", key.id)))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = admin
        .client
        .post(app.url("/admin/orgs/acme/api-keys"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.directory
            .list_api_keys(KeyScope::All)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api_status(&app, "/api/v1/orgs", &secret.0).await, 200);
}

/// A console session of another kind: its cookie and CSRF token.
async fn session(app: &TestApp, who: NewPrincipal) -> (String, String) {
    let config = gatehouse::Config::default();
    let new = app
        .directory
        .create_admin_session(who, gatehouse::admin::console::lifetimes(&config))
        .await
        .unwrap();
    (new.cookie, new.csrf_token)
}

#[tokio::test]
async fn a_customer_admin_manages_its_own_organisations_keys_only() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let user = d
        .create_user(acme.id, user_data("it@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.set_org_admin(acme.id, user.id, true, &Actor::Cli)
        .await
        .unwrap();
    let (globex_key, globex_secret) = d
        .create_api_key(Some(globex.id), "globex", None, &Actor::Cli)
        .await
        .unwrap();
    let who = NewPrincipal::Customer {
        org_id: acme.id,
        user_id: user.id,
        epoch: user.session_epoch,
    };
    let (cookie, csrf) = session(&app, who).await;
    let send = |req: reqwest::RequestBuilder| {
        req.header("cookie", format!("gatehouse_admin={cookie}"))
            .send()
    };

    let r = send(app.client.get(app.url("/admin/orgs/acme/api-keys")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("globex"),
        "another organisation's keys stay out"
    );
    assert!(!page.contains("<select name=\"org\""), "no choice of scope");
    for path in ["/admin/orgs/globex/api-keys", "/admin/api-keys"] {
        let r = send(app.client.get(app.url(path))).await.unwrap();
        assert!(
            matches!(r.status().as_u16(), 403 | 404),
            "{path}: {}",
            r.status()
        );
    }

    let r = send(
        app.client
            .post(app.url("/admin/orgs/acme/api-keys"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("description", "mine"),
                ("org", ""),
            ]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let secret = shown_secret(&r.text().await.unwrap()).unwrap();
    assert_eq!(api_status(&app, "/api/v1/orgs/acme", &secret).await, 200);
    assert_eq!(
        api_status(&app, "/api/v1/orgs", &secret).await,
        403,
        "not platform-wide"
    );
    let r = send(
        app.client
            .post(app.url("/admin/orgs/globex/api-keys"))
            .form(&[("csrf", csrf.as_str()), ("description", "theirs")]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);

    let r = send(
        app.client
            .post(app.url(&format!("/admin/api-keys/{}/revoke", globex_key.id)))
            .form(&[("csrf", csrf.as_str())]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404, "another organisation's key");
    assert_eq!(
        api_status(&app, "/api/v1/orgs/globex", &globex_secret.0).await,
        200
    );

    let mine = &d.list_api_keys(KeyScope::Org(acme.id)).await.unwrap()[0];
    let r = send(
        app.client
            .post(app.url(&format!("/admin/api-keys/{}/revoke", mine.id)))
            .form(&[("csrf", csrf.as_str())]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme/api-keys");
    assert_eq!(api_status(&app, "/api/v1/orgs/acme", &secret).await, 401);
    let actors: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0.starts_with("api_key."))
        .map(|e| e.1)
        .collect();
    assert_eq!(
        actors,
        [
            format!("org-admin:{}", user.id),
            format!("org-admin:{}", user.id)
        ]
    );
}

#[tokio::test]
async fn a_setup_link_session_cannot_reach_api_keys() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let expires = d.now() + 3_600_000;
    let (link, _) = d
        .create_setup_link(acme.id, "okta setup", expires, &Actor::Cli)
        .await
        .unwrap();
    let (key, secret) = d
        .create_api_key(Some(acme.id), "k", None, &Actor::Cli)
        .await
        .unwrap();
    let who = NewPrincipal::Setup {
        org_id: acme.id,
        link_id: link.id,
        link_expires_at: expires,
    };
    let (cookie, csrf) = session(&app, who).await;
    let send = |req: reqwest::RequestBuilder| {
        req.header("cookie", format!("gatehouse_admin={cookie}"))
            .send()
    };
    let r = send(app.client.get(app.url("/admin/orgs/acme/api-keys")))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = send(
        app.client
            .post(app.url("/admin/orgs/acme/api-keys"))
            .form(&[("csrf", csrf.as_str()), ("description", "x")]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = send(
        app.client
            .post(app.url(&format!("/admin/api-keys/{}/revoke", key.id)))
            .form(&[("csrf", csrf.as_str())]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(api_status(&app, "/api/v1/orgs/acme", &secret.0).await, 200);
    assert_eq!(d.list_api_keys(KeyScope::All).await.unwrap().len(), 1);
}
