//! The admin API (`/api/v1`): keys (CLI and directory), authentication, the reach of an
//! organisation's key, organisations and settings, and JSON errors everywhere.

use gatehouse::db::Backend;
use gatehouse::directory::api_keys::KeyScope;
use gatehouse::directory::Actor;
use reqwest::Method;
use serde_json::json;

use crate::support::api::{assert_api_error, logged, Api};
use crate::support::scim::read;
use crate::support::{gatehouse, stderr, stdout, TestApp, PG_ENV};

/// The URL of the running app's database, for the command line to work on.
async fn db_url(app: &TestApp) -> String {
    match app.backend() {
        Backend::Sqlite => {
            let secrets = std::path::PathBuf::from(app.secrets_file());
            format!(
                "sqlite://{}",
                secrets.with_file_name("gatehouse.db").display()
            )
        }
        Backend::Postgres => {
            let name: String = sqlx::query_scalar("select current_database()::text")
                .fetch_one(app.directory.db().reads())
                .await
                .unwrap();
            let mut url = url::Url::parse(&std::env::var(PG_ENV).unwrap()).unwrap();
            url.set_path(&name);
            url.to_string()
        }
    }
}

async fn get_with(app: &TestApp, path: &str, secret: &str) -> crate::support::scim::Reply {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    read(r).await
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_made_with_the_cli_open_the_api_until_revoked() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let url = db_url(&app).await;
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| gatehouse(cwd.path(), &url, args, None);

    let out = run(&[
        "api-key",
        "create",
        "--org",
        "acme",
        "--description",
        "terraform",
        "--expires-in",
        "30d",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let scoped = printed.lines().last().unwrap().trim().to_string();
    assert!(
        scoped.starts_with("gha_") && !scoped.contains(' '),
        "alone on the last line: {printed}"
    );
    assert_eq!(
        get_with(&app, "/api/v1/orgs/acme", &scoped).await.status,
        200
    );
    let r = get_with(&app, "/api/v1/orgs", &scoped).await;
    assert_api_error(&r, 403, "forbidden");

    let out = run(&["api-key", "create"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let platform = stdout(&out).lines().last().unwrap().trim().to_string();
    let r = get_with(&app, "/api/v1/orgs", &platform).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["orgs"][0]["slug"], "acme");

    let keys = app.directory.list_api_keys(KeyScope::All).await.unwrap();
    assert_eq!(keys.len(), 2);
    let scoped_key = keys.iter().find(|k| k.org_id == Some(acme.id)).unwrap();
    assert!(scoped_key.expires_at.is_some());
    assert_eq!(scoped_key.created_by, "cli");

    let listed = stdout(&run(&["api-key", "list"]));
    assert!(listed.contains(&scoped_key.id), "{listed}");
    assert!(
        listed.contains("terraform") && listed.contains("acme"),
        "{listed}"
    );
    assert!(listed.contains("(platform)"), "{listed}");
    assert!(
        !listed.contains(&scoped) && !listed.contains(&platform),
        "never the secret"
    );
    let only_acme = stdout(&run(&["api-key", "list", "--org", "acme"]));
    assert_eq!(
        only_acme.lines().count(),
        2,
        "header and one key: {only_acme}"
    );

    let out = run(&["api-key", "revoke", &scoped_key.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = get_with(&app, "/api/v1/orgs/acme", &scoped).await;
    assert_api_error(&r, 401, "unauthorized");
    assert!(stdout(&run(&["api-key", "list"])).contains("revoked"));
    assert!(!run(&["api-key", "revoke", "no-such-key"]).status.success());
    assert!(!run(&["api-key", "create", "--org", "nobody"])
        .status
        .success());

    let actions: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0.starts_with("api_key."))
        .map(|e| (e.0, e.1))
        .collect();
    assert_eq!(
        actions,
        [
            ("api_key.create".to_string(), "cli".to_string()),
            ("api_key.revoke".to_string(), "cli".to_string())
        ]
    );
}

#[tokio::test]
async fn missing_unknown_revoked_and_expired_keys_get_401_json() {
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let api = Api::platform(&app).await;
    assert_eq!(api.get("/orgs").await.status, 200);
    let used = app
        .directory
        .api_key(KeyScope::All, &api.key.id)
        .await
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some(), "last use is recorded");

    let r = read(
        app.client
            .get(app.url("/api/v1/orgs"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let detail = assert_api_error(&r, 401, "unauthorized");
    assert!(detail.contains("Bearer"), "{detail}");
    assert!(r
        .header("www-authenticate")
        .unwrap_or_default()
        .starts_with("Bearer"));
    let basic = app
        .client
        .get(app.url("/api/v1/orgs"))
        .basic_auth("acme", Some(&api.secret))
        .send()
        .await
        .unwrap();
    assert_api_error(&read(basic).await, 401, "unauthorized");
    let r = get_with(&app, "/api/v1/orgs", "gha_not-a-key").await;
    assert_api_error(&r, 401, "unauthorized");

    let (short, secret) = app
        .directory
        .create_api_key(
            None,
            "short",
            Some(app.directory.now() + 60_000),
            &Actor::Cli,
        )
        .await
        .unwrap();
    assert_eq!(get_with(&app, "/api/v1/orgs", &secret.0).await.status, 200);
    app.clock.advance_ms(60_000);
    let r = get_with(&app, "/api/v1/orgs", &secret.0).await;
    assert_api_error(&r, 401, "unauthorized");
    assert_eq!(short.status(app.directory.now()), "expired");

    app.directory
        .revoke_api_key(KeyScope::All, &api.key.id, &Actor::Cli)
        .await
        .unwrap();
    assert_api_error(&api.get("/orgs").await, 401, "unauthorized");
    assert_api_error(&api.get("/orgs/acme").await, 401, "unauthorized");
}

#[tokio::test]
async fn an_organisations_key_reaches_that_organisation_only() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    app.org("globex", &[]).await;
    let api = Api::scoped(&app, &acme).await;
    let platform = Api::platform(&app).await;

    assert_eq!(api.get("/orgs/acme").await.status, 200);
    let foreign = api.get("/orgs/globex").await;
    let unknown = api.get("/orgs/nobody").await;
    assert_api_error(&foreign, 404, "not_found");
    assert_api_error(&unknown, 404, "not_found");
    for path in [
        "/orgs/globex/users",
        "/orgs/globex/groups",
        "/orgs/globex/events",
        "/orgs/globex/tokens",
        "/orgs/globex/saml",
        "/orgs/globex/oidc",
    ] {
        assert_api_error(&api.get(path).await, 404, "not_found");
    }
    let r = api
        .patch("/orgs/globex/settings", json!({"jit": false}))
        .await;
    assert_api_error(&r, 404, "not_found");
    let r = api.post("/orgs/globex/tokens", json!({})).await;
    assert_api_error(&r, 404, "not_found");

    assert_api_error(&api.get("/orgs").await, 403, "forbidden");
    let r = api.post("/orgs", json!({"slug": "initech"})).await;
    assert_api_error(&r, 403, "forbidden");
    let r = api.post("/api-keys", json!({"org": null})).await;
    assert_api_error(&r, 403, "forbidden");
    let r = api.post("/api-keys", json!({"org": "globex"})).await;
    assert_api_error(&r, 404, "not_found");
    assert_api_error(&api.get("/api-keys?org=globex").await, 404, "not_found");

    // Its own organisation's keys: listed, created, revoked; never the platform's.
    let listed = api.get("/api-keys").await;
    assert_eq!(listed.status, 200);
    let ids: Vec<&str> = listed.body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [api.key.id.as_str()]);
    let r = api.delete(&format!("/api-keys/{}", platform.key.id)).await;
    assert_api_error(&r, 404, "not_found");
    assert_eq!(platform.get("/orgs").await.status, 200, "still works");

    let created = api
        .post(
            "/api-keys",
            json!({"description": "ci", "expires_in_days": 7}),
        )
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(created.body["api_key"]["org"], "acme");
    assert!(created.body["api_key"]["expires"].is_string());
    let secret = created.body["secret"].as_str().unwrap();
    assert!(secret.starts_with("gha_"));
    assert_eq!(
        get_with(&app, "/api/v1/orgs/acme", secret).await.status,
        200
    );
    let id = created.body["api_key"]["id"].as_str().unwrap();
    assert_eq!(api.delete(&format!("/api-keys/{id}")).await.status, 204);
    assert_api_error(
        &get_with(&app, "/api/v1/orgs/acme", secret).await,
        401,
        "unauthorized",
    );
    let actions: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0.starts_with("api_key.") && e.1 == api.actor())
        .map(|e| e.0)
        .collect();
    assert_eq!(actions, ["api_key.create", "api_key.revoke"]);
}

#[tokio::test]
async fn a_platform_key_manages_every_key() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::platform(&app).await;
    let scoped = Api::scoped(&app, &acme).await;

    let r = api
        .post("/api-keys", json!({"description": "deploy"}))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let deploy = r.body["secret"].as_str().unwrap().to_string();
    assert_eq!(r.body["api_key"]["org"], json!(null), "platform-wide");
    assert_eq!(r.body["api_key"]["created_by"], api.actor());
    let r = api.post("/api-keys", json!({"org": "acme"})).await;
    assert_eq!(r.body["api_key"]["org"], "acme");
    let r = api.post("/api-keys", json!({"org": "nobody"})).await;
    assert_api_error(&r, 404, "not_found");
    let r = api.post("/api-keys", json!({"expires_in_days": 0})).await;
    assert_api_error(&r, 400, "invalid");

    let all = api.get("/api-keys").await;
    assert_eq!(all.body["api_keys"].as_array().unwrap().len(), 4);
    let listed = all.body.to_string();
    assert!(
        !listed.contains(&deploy) && !listed.contains(&api.secret),
        "never a secret"
    );
    let acme_keys = api.get("/api-keys?org=acme").await;
    assert_eq!(acme_keys.body["api_keys"].as_array().unwrap().len(), 2);

    let r = api.delete(&format!("/api-keys/{}", scoped.key.id)).await;
    assert_eq!(r.status, 204);
    assert_api_error(&scoped.get("/orgs/acme").await, 401, "unauthorized");
    assert_api_error(&api.delete("/api-keys/nope").await, 404, "not_found");
}

#[tokio::test]
async fn a_platform_key_creates_reads_and_lists_organisations() {
    let app = TestApp::spawn().await;
    let api = Api::platform(&app).await;
    let r = api
        .post(
            "/orgs",
            json!({"slug": "globex", "name": "Globex", "domains": ["globex.test"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body["slug"], "globex");
    assert_eq!(r.body["name"], "Globex");
    assert_eq!(r.body["domains"], json!(["globex.test"]));
    assert_eq!(r.body["settings"]["jit"], true);

    let r = api.post("/orgs", json!({"slug": "globex"})).await;
    assert_api_error(&r, 409, "conflict");
    let r = api
        .post(
            "/orgs",
            json!({"slug": "other", "domains": ["globex.test"]}),
        )
        .await;
    assert_api_error(&r, 409, "conflict");
    let r = api.post("/orgs", json!({"slug": "Bad Slug"})).await;
    assert_api_error(&r, 400, "invalid");
    let r = api.post("/orgs", json!({"name": "no slug"})).await;
    assert_api_error(&r, 400, "invalid");

    let r = api.get("/orgs/globex").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["settings"]["saml_clock_skew"], 120);
    assert!(r.body["created"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-01T"));
    let r = api.get("/orgs").await;
    assert_eq!(r.body["orgs"].as_array().unwrap().len(), 1);

    let org = app.directory.org_by_slug("globex").await.unwrap().unwrap();
    let created: Vec<_> = logged(&app, &org)
        .await
        .into_iter()
        .filter(|e| e.0 == "org.create")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1, api.actor());
}

#[tokio::test]
async fn settings_change_all_together_or_not_at_all_and_are_logged_with_the_key() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;

    let r = api
        .patch(
            "/orgs/acme/settings",
            json!({"jit": false, "saml_clock_skew": 30, "admin_group": "IT Admins", "domains": ["acme.test", "acme.example"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["settings"]["jit"], false);
    assert_eq!(r.body["settings"]["saml_clock_skew"], 30);
    assert_eq!(r.body["settings"]["admin_group"], "IT Admins");
    // An organisation's own key names domains; they stay pending until proven.
    assert_eq!(r.body["domains"], json!([]));
    let r = api.get("/orgs/acme/domains").await;
    let pending: Vec<&str> = r.body["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["domain"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["acme.example", "acme.test"]);

    for (bad, named) in [
        (json!({"jit": true, "colour": "blue"}), "colour"),
        (
            json!({"jit": true, "saml_clock_skew": 9999}),
            "saml_clock_skew",
        ),
        (json!({"jit": true, "enabled": "maybe"}), "enabled"),
        (json!({"jit": true, "name": {"x": 1}}), "name"),
    ] {
        let r = api.patch("/orgs/acme/settings", bad).await;
        let detail = assert_api_error(&r, 400, "invalid");
        assert!(detail.contains(named), "{detail}");
    }
    let r = api.patch("/orgs/acme/settings", json!({})).await;
    assert_api_error(&r, 400, "invalid");
    let after = app.directory.org(acme.id).await.unwrap().unwrap();
    assert!(!after.settings.jit, "nothing of a refused change applied");

    let r = api
        .patch("/orgs/acme/settings", json!({"admin_group": null}))
        .await;
    assert_eq!(r.body["settings"]["admin_group"], json!(null));

    let updates: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0 == "org.update")
        .collect();
    assert_eq!(updates.len(), 2, "one event per accepted change");
    assert!(updates.iter().all(|e| e.1 == api.actor()));
}

#[tokio::test]
async fn every_error_under_api_v1_is_json() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;

    let r = api
        .raw(
            Method::PATCH,
            "/orgs/acme/settings",
            "application/json",
            "{\"jit\": ",
        )
        .await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("body"), "{detail}");
    let r = api
        .raw(
            Method::PATCH,
            "/orgs/acme/settings",
            "application/json",
            "[1, 2]",
        )
        .await;
    assert_api_error(&r, 400, "invalid");
    let r = api
        .raw(
            Method::POST,
            "/orgs/acme/tokens",
            "text/plain",
            "description=x",
        )
        .await;
    assert_api_error(&r, 415, "unsupported_media_type");
    let r = api
        .post("/orgs/acme/tokens", json!({"descripton": "typo"}))
        .await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("descripton"), "{detail}");

    for path in ["/nope", "/orgs/acme/nope", "/orgs/acme/users/x/y/z", ""] {
        let r = api.get(path).await;
        assert_api_error(&r, 404, "not_found");
    }
    let r = read(
        app.client
            .get(app.url("/api/v1/nope"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_api_error(&r, 404, "not_found");

    let r = api.delete("/orgs/acme").await;
    assert_api_error(&r, 405, "method_not_allowed");
    assert!(r.header("allow").is_some(), "{:?}", r.headers);
    let r = api.get("/orgs/acme/users?limit=lots").await;
    let detail = assert_api_error(&r, 400, "invalid");
    assert!(detail.contains("limit"), "{detail}");
    let r = api.get("/orgs/acme/users?cursor=%%%").await;
    assert_api_error(&r, 400, "invalid");
}
