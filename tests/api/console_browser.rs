//! The admin console in a real browser (Debian's Chromium, driven by Playwright from
//! tests/browser/console.mjs): a platform admin sets up an organisation and later
//! deactivates one of its users, and adds a webhook endpoint; this test checks from the
//! outside what the clicks did.

use std::path::Path;
use std::process::Command;

use gatehouse::sso::saml::metadata::certificate_info;
use serde_json::json;

use crate::support::console::{create_platform_admin, PASSWORD};
use crate::support::saml_idp::{encode, response, Spec, TestIdp};
use crate::support::webhook_receiver::Receiver;
use crate::support::TestApp;

const ROOT: &str = "root@platform.test";

/// Runs one phase of the browser script; returns its standard output.
async fn browser_phase(phase: &str, envs: Vec<(&'static str, String)>) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console.mjs");
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/node_modules");
    assert!(
        Path::new(modules).join("playwright-core").is_dir(),
        "Playwright is not installed: run `make browser-deps` (make test does)"
    );
    let phase = phase.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(&phase)
            .envs(envs)
            .output()
            .expect("node runs (make deps installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the browser script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn auth_check(app: &TestApp, cookie: &str) -> u16 {
    app.auth_check(cookie).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_sets_up_an_organisation_and_offboards_a_user_in_a_real_browser() {
    let app = TestApp::spawn().await;
    create_platform_admin(&app, ROOT).await;
    let dir = tempfile::tempdir().unwrap();
    let idp = TestIdp::new("http://idp.browser.test/exk1");
    let metadata = dir.path().join("okta-metadata.xml");
    std::fs::write(&metadata, idp.metadata(&[&idp.cert_b64])).unwrap();
    let subject = certificate_info(&idp.cert_b64, app.directory.now())
        .unwrap()
        .subject;
    let csv_file = dir.path().join("events.csv");
    let common = common_envs(&app, &dir);

    // The admin creates the organisation, uploads the metadata and issues a token.
    let mut envs = common.clone();
    envs.push(("METADATA_FILE", metadata.display().to_string()));
    envs.push(("IDP_ENTITY_ID", idp.entity_id.clone()));
    envs.push(("CERT_SUBJECT", subject));
    let out = browser_phase("setup", envs).await;
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("TOKEN="))
        .expect("the script prints the token it saw")
        .to_string();

    // The token works for Okta's push; the metadata works for Okta's sign-in.
    let org = app.directory.org_by_slug("acme").await.unwrap().unwrap();
    let pushed = app
        .client
        .post(app.url("/scim/v2/acme/Users"))
        .bearer_auth(&token)
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "grace@acme.test",
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "emails": [{"value": "grace@acme.test", "primary": true}],
            "active": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201);
    let acs = app.url("/saml/acme/acs");
    let spec = Spec::new(
        &idp,
        &app.url("/saml/acme/metadata"),
        &acs,
        "grace@acme.test",
    );
    let signed_in = app
        .client
        .post(&acs)
        .form(&[("SAMLResponse", encode(&response(&idp, &spec)))])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        303,
        "{}",
        signed_in.text().await.unwrap()
    );
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("gatehouse_session=");
    assert_eq!(auth_check(&app, cookie).await, 200);

    // The admin finds the user, deactivates it and downloads the event log.
    let mut envs = common;
    envs.push(("USER_NAME", "grace@acme.test".to_string()));
    envs.push(("CSV_FILE", csv_file.display().to_string()));
    browser_phase("offboard", envs).await;
    assert_eq!(
        auth_check(&app, cookie).await,
        401,
        "the user's session stopped working"
    );
    let user = app
        .directory
        .user_by_user_name(org.id, "grace@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert!(!user.active);
    let csv = std::fs::read_to_string(&csv_file).unwrap();
    let line = csv
        .lines()
        .find(|l| l.contains("user.deactivate"))
        .unwrap_or_else(|| panic!("no deactivation in the CSV:\n{csv}"));
    assert!(
        line.contains(&user.id.to_string()) && line.contains("admin:"),
        "{line}"
    );

    // The admin adds a webhook endpoint and sends it a test: the secret the page showed
    // once is the one that signs what the receiver gets.
    let receiver = Receiver::start().await;
    let mut envs = common_envs(&app, &dir);
    envs.push(("WEBHOOK_URL", receiver.url.clone()));
    let out = browser_phase("webhook", envs).await;
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("SECRET=").map(str::to_string))
        .expect("the script prints the secret it saw");
    let got = receiver.wait_for(1).await;
    let test = got
        .iter()
        .find(|d| d.json()["type"] == "webhook.test")
        .unwrap_or_else(|| panic!("no test message: {got:?}"));
    assert!(test.signed_by(&secret), "{test:?}");
}

/// What every phase of the browser script needs: the server, the admin and the shared
/// browser profile.
fn common_envs(app: &TestApp, dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("BASE_URL", app.base_url.clone()),
        ("ADMIN_EMAIL", ROOT.to_string()),
        ("ADMIN_PASSWORD", PASSWORD.to_string()),
        (
            "STATE_FILE",
            dir.path().join("state.json").display().to_string(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_page_leads_a_real_browser_to_the_organisations_idp() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    // The IdP's sign-in page: a server of its own, on another origin.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sso_url = format!("http://{}/sso", listener.local_addr().unwrap());
    let idp_page = axum::Router::new().route(
        "/sso",
        axum::routing::get(|| async { axum::response::Html("<h1>IdP sign-in page</h1>") }),
    );
    tokio::spawn(async move { axum::serve(listener, idp_page).await });
    let mut idp = TestIdp::new("http://idp.browser.test/exk2");
    idp.sso_url = sso_url.clone();
    let xml = idp.metadata(&[&idp.cert_b64]);
    gatehouse::admin::ops::import_saml_metadata(
        &app.directory,
        &org,
        &xml,
        None,
        &gatehouse::directory::Actor::Cli,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    browser_phase(
        "signin",
        vec![
            ("BASE_URL", app.base_url.clone()),
            (
                "STATE_FILE",
                dir.path().join("s.json").display().to_string(),
            ),
            ("SIGNIN_EMAIL", "ada@acme.test".into()),
            ("IDP_SSO_URL", sso_url),
        ],
    )
    .await;
}
