//! The organisation setup page: values to copy, SCIM tokens, SAML and OIDC connections,
//! domains, customer admins and setup links, and who may use it.

use axum::routing::get;
use gatehouse::admin::console::lifetimes;
use gatehouse::directory::console::admin_sessions::NewPrincipal;
use gatehouse::directory::orgs::OrgChange;
use gatehouse::directory::{Actor, Org};
use gatehouse::Config;
use serde_json::Value;

use crate::oidc_op::TestOp;
use crate::support::console::{
    browser, csrf_of, password_login, platform_admin, signed_in, ConsoleUser, PASSWORD,
};
use crate::support::saml_idp::TestIdp;
use crate::support::{user_data, TestApp, T0};

/// The text of the element with this id (`<code id="...">TEXT</code>`).
pub fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].to_string())
}

/// A session opened with a setup link of `org`, the way a browser opens one.
pub async fn setup_session(app: &TestApp, org: &Org) -> ConsoleUser {
    let (_, secret) = app
        .directory
        .create_setup_link(org.id, "for IT", T0 + 3_600_000, &Actor::Cli)
        .await
        .unwrap();
    use_setup_link(app, &secret).await
}

/// Opens a setup link by its secret: its page, then its form.
pub async fn use_setup_link(app: &TestApp, secret: &str) -> ConsoleUser {
    let client = browser();
    let (status, html) = crate::support::console::setup_page(app, &client, secret).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let r = client
        .post(app.url("/admin/setup"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the setup link opens a session");
    signed_in(app, client).await
}

/// A customer admin of `org`: a user named admin, with a console session of its own.
pub async fn customer_admin(app: &TestApp, org: &Org, user_name: &str) -> ConsoleUser {
    let user = app
        .directory
        .create_user(org.id, user_data(user_name), &Actor::Cli)
        .await
        .unwrap();
    app.directory
        .set_org_admin(org.id, user.id, true, &Actor::Cli)
        .await
        .unwrap();
    let who = NewPrincipal::Customer {
        org_id: org.id,
        user_id: user.id,
        epoch: user.session_epoch,
    };
    let session = app
        .directory
        .create_admin_session(who, lifetimes(&Config::default()))
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("gatehouse_admin={}", session.cookie)
            .parse()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    ConsoleUser {
        client,
        csrf: session.csrf_token,
    }
}

/// Events of an organisation, oldest first: (actor, action, detail).
pub async fn events_of(app: &TestApp, org: &Org) -> Vec<(String, String, Value)> {
    let q = gatehouse::events::EventQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut list: Vec<_> = gatehouse::events::list(app.directory.db().reads(), org.id, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.detail))
        .collect();
    list.reverse();
    list
}

/// One part of a multipart/form-data body.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    /// Field name, file name, content.
    File(&'a str, &'a str, &'a [u8]),
}

/// A multipart/form-data body as a browser sends it; returns (content type, body).
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----gatehouse-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Part::File(name, file, content) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: text/xml\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(content);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs the SAML form as multipart, with this csrf.
async fn post_saml(
    app: &TestApp,
    who: &ConsoleUser,
    slug: &str,
    csrf: &str,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let mut all = vec![Part::Text("csrf", csrf)];
    all.extend(parts.iter().map(|p| match p {
        Part::Text(n, v) => Part::Text(n, v),
        Part::File(n, f, c) => Part::File(n, f, c),
    }));
    let (content_type, body) = multipart(&all);
    who.client
        .post(app.url(&format!("/admin/orgs/{slug}/saml")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Serves `body` at `/metadata` on a loopback port; returns its URL.
async fn serve_metadata(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/metadata", get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn scim_users_status(app: &TestApp, slug: &str, token: &str) -> u16 {
    app.client
        .get(app.url(&format!("/scim/v2/{slug}/Users")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn setup_page_shows_the_values_to_copy_into_the_idp() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let admin = platform_admin(&app).await;
    let (status, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert_eq!(status, 200);
    let base = &app.base_url;
    let expected = [
        ("scim-base-url", format!("{base}/scim/v2/acme")),
        ("sp-entity-id", format!("{base}/saml/acme/metadata")),
        ("acs-url", format!("{base}/saml/acme/acs")),
        ("sp-metadata-url", format!("{base}/saml/acme/metadata")),
        ("oidc-redirect-uri", format!("{base}/oidc/acme/callback")),
    ];
    for (id, value) in &expected {
        assert_eq!(text_of(&page, id).as_deref(), Some(value.as_str()), "{id}");
        assert!(
            page.contains(&format!("data-copy=\"{id}\"")),
            "copy button {id}"
        );
    }
    assert!(page.contains("href=\"/saml/acme/metadata\" download"));
    assert!(page.contains("acme.test"), "the domains are listed");

    // The SP entity ID follows the organisation's setting.
    let custom = OrgChange::parse("saml_sp_entity_id=urn:acme:sp").unwrap();
    app.directory
        .update_org(org.id, &[custom], &Actor::Cli)
        .await
        .unwrap();
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert_eq!(
        text_of(&page, "sp-entity-id").as_deref(),
        Some("urn:acme:sp")
    );
}

#[tokio::test]
async fn unknown_organisation_is_not_found() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    assert_eq!(admin.get(&app, "/admin/orgs/nope").await.0, 404);
}

#[tokio::test]
async fn token_secret_is_shown_once_works_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/tokens",
            &[
                ("description", "Okta provisioning"),
                ("expires_in_days", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let secret = text_of(&page, "new-token-secret").expect("the secret is shown");
    assert!(secret.starts_with("ghs_"), "{secret}");
    assert!(page.contains("data-copy=\"new-token-secret\""));
    assert!(page.contains("will not be shown again"));
    assert_eq!(scim_users_status(&app, "acme", &secret).await, 200);

    // Listed by prefix; the secret is not on the page again.
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(!page.contains(&secret), "the secret is shown once only");
    assert!(!page.contains("new-token-secret"));
    assert!(page.contains(&secret[..10]), "the prefix is listed");
    assert!(page.contains("Okta provisioning"));
    assert!(page.contains("never"), "no expiry");

    let tokens = app.directory.list_tokens(org.id).await.unwrap();
    assert_eq!(tokens.len(), 1);
    let id = tokens[0].id;
    let r = admin
        .post(&app, &format!("/admin/orgs/acme/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme#tokens");
    assert_eq!(scim_users_status(&app, "acme", &secret).await, 401);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("revoked"));
    assert!(
        !page.contains(&format!("/tokens/{id}/revoke")),
        "no second revoke button"
    );

    let events = events_of(&app, &org).await;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.1.starts_with("token."))
        .map(|e| (e.0.as_str(), e.1.as_str()))
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|(actor, _)| actor.starts_with("admin:")));
    assert_eq!(actions[0].1, "token.create");
    assert_eq!(actions[1].1, "token.revoke");
}

#[tokio::test]
async fn token_expiry_must_be_whole_days() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    for bad in ["0", "-3", "soon", "1.5", "99999"] {
        let r = admin
            .post(
                &app,
                "/admin/orgs/acme/tokens",
                &[("description", "x"), ("expires_in_days", bad)],
            )
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        let page = r.text().await.unwrap();
        assert!(page.contains("whole number of days"), "{bad}");
        assert!(!page.contains("new-token-secret"));
    }
    assert!(app.directory.list_tokens(org.id).await.unwrap().is_empty());

    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/tokens",
            &[("description", "x"), ("expires_in_days", "30")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let tokens = app.directory.list_tokens(org.id).await.unwrap();
    assert_eq!(tokens[0].expires_at, Some(T0 + 30 * 86_400_000));
    assert!(r.text().await.unwrap().contains("2026-01-31T00:00:00Z"));
}

fn assert_shows_connection(page: &str, idp: &TestIdp) {
    assert_eq!(
        text_of(page, "idp-entity-id").as_deref(),
        Some(idp.entity_id.as_str())
    );
    assert_eq!(
        text_of(page, "idp-sso-url").as_deref(),
        Some(idp.sso_url.as_str())
    );
    assert!(
        page.contains("test-idp.example"),
        "the certificate's subject"
    );
    assert!(
        page.contains("href=\"/saml/acme/login?return_to=/me\""),
        "test sign-in"
    );
}

#[tokio::test]
async fn saml_metadata_uploaded_as_a_file() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("id=\"saml-metadata-file\""));
    assert!(
        !page.contains("/saml/acme/login"),
        "no test sign-in before a connection"
    );

    let idp = TestIdp::new("http://www.okta.com/exk-file");
    let xml = idp.metadata(&[&idp.cert_b64]);
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[
            Part::File("metadata_file", "metadata.xml", xml.as_bytes()),
            Part::Text("metadata_xml", ""),
            Part::Text("metadata_url", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme#saml");
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert_shows_connection(&page, &idp);
    let c = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.idp_entity_id, idp.entity_id);
    assert_eq!(c.certificates, vec![idp.cert_b64.clone()]);
    assert_eq!(c.metadata_url, None);
    let events = events_of(&app, &org).await;
    let set = events.iter().find(|e| e.1.starts_with("saml.")).unwrap();
    assert!(set.0.starts_with("admin:"), "{set:?}");
}

#[tokio::test]
async fn saml_metadata_pasted_as_xml() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let idp = TestIdp::new("http://www.okta.com/exk-pasted");
    let xml = idp.metadata(&[&idp.cert_b64]);
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[
            Part::File("metadata_file", "", b""),
            Part::Text("metadata_xml", &xml),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert_shows_connection(&page, &idp);
    assert!(app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn saml_metadata_fetched_from_a_url() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let idp = TestIdp::new("http://www.okta.com/exk-url");
    let url = serve_metadata(idp.metadata(&[&idp.cert_b64])).await;
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[Part::Text("metadata_url", &url)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert_shows_connection(&page, &idp);
    assert_eq!(
        text_of(&page, "idp-metadata-url").as_deref(),
        Some(url.as_str())
    );
    let c = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.metadata_url.as_deref(), Some(url.as_str()));

    // A URL that answers nothing is refused with the reason.
    let dead = dead_url().await;
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[Part::Text("metadata_url", &format!("{dead}/metadata"))],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("cannot fetch the metadata"));
    let after = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, c, "nothing changed");
}

#[tokio::test]
async fn saml_metadata_is_given_exactly_one_way() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let idp = TestIdp::new("http://www.okta.com/exk-ways");
    let xml = idp.metadata(&[&idp.cert_b64]);
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[
            Part::File("metadata_file", "", b""),
            Part::Text("metadata_xml", "  "),
            Part::Text("metadata_url", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("one way"));
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[
            Part::File("metadata_file", "md.xml", xml.as_bytes()),
            Part::Text("metadata_xml", &xml),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("one way only"));
    assert!(app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn bad_saml_metadata_is_refused_and_the_old_connection_stays() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let idp = TestIdp::new("http://www.okta.com/exk-good");
    let good = idp.metadata(&[&idp.cert_b64]);
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[Part::Text("metadata_xml", &good)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let before = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();

    let other = TestIdp::new("http://www.okta.com/exk-other");
    let no_entity = other
        .metadata(&[&other.cert_b64])
        .replace(&format!("entityID=\"{}\"", other.entity_id), "");
    let no_cert = other.metadata(&[]);
    let cases = [
        (no_entity.as_str(), "the metadata has no entityID"),
        (no_cert.as_str(), "no signing certificate"),
        ("this is not xml", "not SAML metadata"),
    ];
    for (xml, reason) in cases {
        let r = post_saml(
            &app,
            &admin,
            "acme",
            &admin.csrf,
            &[Part::File("metadata_file", "bad.xml", xml.as_bytes())],
        )
        .await;
        assert_eq!(r.status(), 400, "{reason}");
        let page = r.text().await.unwrap();
        assert!(page.contains(reason), "{reason} in the page");
        assert!(page.contains("was not saved"));
        // The page still shows the connection that stays.
        assert_eq!(
            text_of(&page, "idp-entity-id").as_deref(),
            Some(idp.entity_id.as_str())
        );
    }
    let after = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_certificate_near_its_end_is_flagged() {
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    // TestIdp dates certificates from the real clock; the app's clock stands at T0.
    let days_to_t0 = (T0 / 1000 - chrono::Utc::now().timestamp()).div_euclid(86_400);
    let idp = TestIdp::with_validity(
        "http://www.okta.com/exk-soon",
        days_to_t0 - 300,
        days_to_t0 + 10,
    );
    let xml = idp.metadata(&[&idp.cert_b64]);
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[Part::Text("metadata_xml", &xml)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("class=\"alert warn\""), "a warning");
    assert!(page.contains("within 30 days"));
    assert!(
        page.contains("badge warn\">expires in"),
        "the certificate's badge"
    );

    // A healthy certificate gets no warning.
    let fresh = TestIdp::new("http://www.okta.com/exk-fresh");
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[Part::Text(
            "metadata_xml",
            &fresh.metadata(&[&fresh.cert_b64]),
        )],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(!page.contains("class=\"alert warn\""));
    assert!(page.contains("badge good\">valid"));

    // Back to the short-lived one, and past its end.
    let r = post_saml(
        &app,
        &admin,
        "acme",
        &admin.csrf,
        &[Part::Text("metadata_xml", &xml)],
    )
    .await;
    assert_eq!(r.status(), 303);
    app.clock.advance_ms(12 * 86_400_000);
    // The console session has timed out by then: sign in again.
    let client = browser();
    let r = password_login(&app, &client, "root@platform.test", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let admin = signed_in(&app, client).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("badge bad\">expired"), "expired");
}

/// An http URL on a loopback port where nothing listens.
async fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn oidc_connection_is_checked_against_the_issuer() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let op = TestOp::start().await;
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/oidc",
            &[
                ("issuer", op.issuer.as_str()),
                ("client_id", "gatehouse-client"),
                ("client_secret", "s3cret-value"),
                ("scopes", "email profile groups"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme#oidc");
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert_eq!(
        text_of(&page, "oidc-issuer").as_deref(),
        Some(op.issuer.as_str())
    );
    assert_eq!(
        text_of(&page, "oidc-client-id").as_deref(),
        Some("gatehouse-client")
    );
    assert!(page.contains("openid email profile groups"));
    assert!(!page.contains("s3cret-value"), "the secret is never shown");
    assert!(
        page.contains("href=\"/oidc/acme/login?return_to=/me\""),
        "test sign-in"
    );
    let c = app
        .directory
        .oidc_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert!(c.sealed_secret.is_some());

    // Saving again with the secret field empty keeps the secret when asked to ...
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/oidc",
            &[
                ("issuer", op.issuer.as_str()),
                ("client_id", "gatehouse-client"),
                ("keep_secret", "on"),
                ("scopes", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let kept = app
        .directory
        .oidc_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert!(kept.sealed_secret.is_some());
    assert_eq!(
        kept.scopes,
        ["openid", "email", "profile"],
        "default scopes"
    );
    // ... and makes a public client otherwise.
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/oidc",
            &[
                ("issuer", op.issuer.as_str()),
                ("client_id", "public-client"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let public = app
        .directory
        .oidc_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(public.sealed_secret, None);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("public client"));

    let events = events_of(&app, &org).await;
    let sets: Vec<_> = events
        .iter()
        .filter(|e| e.1 == "oidc.connection.set")
        .collect();
    assert_eq!(sets.len(), 3);
    assert!(sets.iter().all(|e| e.0.starts_with("admin:")));
}

#[tokio::test]
async fn oidc_issuer_that_does_not_answer_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let dead = dead_url().await;
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/oidc",
            &[("issuer", dead.as_str()), ("client_id", "c")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("was not saved"));
    assert!(page.contains(&dead), "the form keeps the issuer");
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/oidc",
            &[("issuer", "http://idp.example.com"), ("client_id", "c")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("https://"));
    assert!(app
        .directory
        .oidc_connection(org.id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn domains_are_replaced_and_another_organisations_refused() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    app.org("globex", &["globex.test"]).await;
    let admin = platform_admin(&app).await;
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/domains",
            &[("domains", "acme.example, Acme.Test")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let got = app.directory.org(org.id).await.unwrap().unwrap();
    let names: Vec<&str> = got.domains.iter().map(|d| d.as_str()).collect();
    assert_eq!(names, ["acme.example", "acme.test"]);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("acme.example"));

    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/domains",
            &[("domains", "acme.test, globex.test")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("globex.test is a verified domain of another"));
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/domains",
            &[("domains", "not a domain")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let after = app.directory.org(org.id).await.unwrap().unwrap();
    assert_eq!(after.domains, got.domains, "nothing changed");
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let admin = platform_admin(&app).await;
    let op = TestOp::start().await;
    let idp = TestIdp::new("http://www.okta.com/exk-csrf");
    let xml = idp.metadata(&[&idp.cert_b64]);
    for csrf in [None, Some("wrong-token")] {
        let form = |extra: &[(&'static str, &str)]| {
            let mut f: Vec<(String, String)> = extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some(c) = csrf {
                f.push(("csrf".into(), c.into()));
            }
            f
        };
        let posts = [
            ("/admin/orgs/acme/tokens", form(&[("description", "x")])),
            (
                "/admin/orgs/acme/domains",
                form(&[("domains", "evil.test")]),
            ),
            (
                "/admin/orgs/acme/oidc",
                form(&[("issuer", op.issuer.as_str()), ("client_id", "c")]),
            ),
            (
                "/admin/orgs/acme/setup-links",
                form(&[("note", "x"), ("expires_in_hours", "1")]),
            ),
        ];
        for (path, fields) in posts {
            let r = admin
                .client
                .post(app.url(path))
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{path} with {csrf:?}");
        }
        let r = post_saml(
            &app,
            &admin,
            "acme",
            csrf.unwrap_or(""),
            &[Part::Text("metadata_xml", &xml)],
        )
        .await;
        assert_eq!(r.status(), 403, "saml with {csrf:?}");
    }
    assert!(app.directory.list_tokens(org.id).await.unwrap().is_empty());
    assert!(app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .directory
        .oidc_connection(org.id)
        .await
        .unwrap()
        .is_none());
    assert!(app.directory.setup_links(org.id).await.unwrap().is_empty());
    let after = app.directory.org(org.id).await.unwrap().unwrap();
    assert_eq!(after.domains, org.domains);
}

/// The pages and forms of `acme`, as someone of another organisation tries them.
async fn assert_acme_is_closed_to(app: &TestApp, who: &ConsoleUser, acme: &Org) {
    assert_eq!(who.get(app, "/admin/orgs/acme").await.0, 404);
    let before = app.directory.list_tokens(acme.id).await.unwrap().len();
    let token = app
        .directory
        .create_token(acme.id, "acme's", None, &Actor::Cli)
        .await
        .unwrap()
        .0;
    let posts: [(String, Vec<(&str, &str)>); 5] = [
        ("/admin/orgs/acme/tokens".into(), vec![("description", "x")]),
        (
            format!("/admin/orgs/acme/tokens/{}/revoke", token.id),
            vec![],
        ),
        (
            "/admin/orgs/acme/domains".into(),
            vec![("domains", "x.test")],
        ),
        (
            "/admin/orgs/acme/oidc".into(),
            vec![("issuer", "https://x.test"), ("client_id", "c")],
        ),
        (
            "/admin/orgs/acme/admins".into(),
            vec![("user_name", "x"), ("admin", "true")],
        ),
    ];
    for (path, form) in posts {
        let r = who.post(app, &path, &form).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let idp = TestIdp::new("http://www.okta.com/exk-x");
    let r = post_saml(
        app,
        who,
        "acme",
        &who.csrf,
        &[Part::Text("metadata_xml", &idp.metadata(&[&idp.cert_b64]))],
    )
    .await;
    assert_eq!(r.status(), 404, "saml");
    let tokens = app.directory.list_tokens(acme.id).await.unwrap();
    assert_eq!(tokens.len(), before + 1, "no token issued");
    assert!(tokens[0].revoked_at.is_none(), "not revoked");
    assert!(app
        .directory
        .saml_connection(acme.id)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .directory
        .oidc_connection(acme.id)
        .await
        .unwrap()
        .is_none());
    app.directory
        .revoke_token(acme.id, token.id, &Actor::Cli)
        .await
        .unwrap();
}

#[tokio::test]
async fn another_organisations_admin_or_setup_link_gets_not_found() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let customer = customer_admin(&app, &globex, "it@globex.test").await;
    assert_eq!(customer.get(&app, "/admin/orgs/globex").await.0, 200);
    assert_acme_is_closed_to(&app, &customer, &acme).await;
    let setup = setup_session(&app, &globex).await;
    assert_eq!(setup.get(&app, "/admin/orgs/globex").await.0, 200);
    assert_acme_is_closed_to(&app, &setup, &acme).await;
}

#[tokio::test]
async fn setup_links_are_issued_used_and_revoked_through_the_page() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(
        page.contains("name=\"expires_in_hours\" value=\"72\""),
        "default expiry"
    );

    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/setup-links",
            &[("note", "for Jo at Acme IT"), ("expires_in_hours", "24")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let link = text_of(&page, "new-setup-link").expect("the link is shown");
    let prefix = format!("{}/admin/setup/", app.base_url);
    let secret = link.strip_prefix(&prefix).expect("a setup URL").to_string();
    assert!(page.contains("for Jo at Acme IT"));
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(!page.contains(&secret), "shown once");
    assert!(page.contains("unused"));
    let links = app.directory.setup_links(org.id).await.unwrap();
    assert_eq!(links[0].expires_at, T0 + 24 * 3_600_000);

    // The customer's IT admin opens it and lands on the setup page, with less on it.
    let it = use_setup_link(&app, &secret).await;
    let (status, page) = it.get(&app, "/admin/orgs/acme").await;
    assert_eq!(status, 200);
    assert!(page.contains("SCIM tokens"));
    assert!(
        !page.contains("id=\"admins\""),
        "no customer admins section"
    );
    assert!(!page.contains("id=\"links\""), "no setup links section");
    assert!(
        !page.contains("/admin/orgs/acme/settings"),
        "no settings tab"
    );
    let r = it
        .post(&app, "/admin/orgs/acme/tokens", &[("description", "Okta")])
        .await;
    assert_eq!(r.status(), 200, "a setup session issues tokens");
    let r = it
        .post(&app, "/admin/orgs/acme/setup-links", &[("note", "another")])
        .await;
    assert_eq!(r.status(), 403, "but not setup links");
    // Used once, it opens no second session.
    let again = browser();
    let page = again
        .get(app.url(&format!("/admin/setup/{secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);

    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("badge warn\">used"));
    let id = &links[0].id;
    let r = admin
        .post(
            &app,
            &format!("/admin/orgs/acme/setup-links/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme#links");
    let (status, _) = it.get(&app, "/admin/orgs/acme").await;
    assert_eq!(status, 303, "revoking ends the session it opened");
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("badge bad\">revoked"));

    let events = events_of(&app, &org).await;
    let token = events.iter().find(|e| e.1 == "token.create").unwrap();
    assert_eq!(token.0, format!("setup-link:{id}"));
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e.1.starts_with("setup_link."))
        .map(|e| e.1.as_str())
        .collect();
    assert_eq!(
        actions,
        ["setup_link.create", "setup_link.use", "setup_link.revoke"]
    );

    // Bad expiry: refused, nothing issued.
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/setup-links",
            &[("note", "x"), ("expires_in_hours", "0")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.directory.setup_links(org.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn platform_admins_name_customer_admins() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    app.directory
        .create_user(org.id, user_data("jo@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let group = OrgChange::parse("admin_group=Gatehouse Admins").unwrap();
    app.directory
        .update_org(org.id, &[group], &Actor::Cli)
        .await
        .unwrap();
    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/admins",
            &[("user_name", "JO@acme.test"), ("admin", "true")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, page) = admin.get(&app, "/admin/orgs/acme").await;
    assert!(page.contains("<td>jo@acme.test</td>"));
    assert!(page.contains("Gatehouse Admins"));
    assert!(page.contains("Make admin"));

    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/admins",
            &[("user_name", "nobody@acme.test"), ("admin", "true")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("No user called"));

    // A customer admin sees who administers the organisation but names nobody.
    let customer = customer_admin(&app, &org, "it@acme.test").await;
    let (status, page) = customer.get(&app, "/admin/orgs/acme").await;
    assert_eq!(status, 200);
    assert!(page.contains("<td>jo@acme.test</td>"));
    assert!(!page.contains("Make admin"));
    assert!(
        !page.contains("id=\"links\""),
        "setup links are for platform admins"
    );
    let r = customer
        .post(
            &app,
            "/admin/orgs/acme/admins",
            &[("user_name", "jo@acme.test"), ("admin", "false")],
        )
        .await;
    assert_eq!(r.status(), 403);

    let r = admin
        .post(
            &app,
            "/admin/orgs/acme/admins",
            &[("user_name", "jo@acme.test"), ("admin", "false")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let named = app.directory.named_org_admins(org.id).await.unwrap();
    assert_eq!(named.len(), 1, "only it@acme.test is left");
    let events = events_of(&app, &org).await;
    let grants: Vec<_> = events
        .iter()
        .filter(|e| e.1.starts_with("admin.") && e.0.starts_with("admin:"))
        .map(|e| e.1.as_str())
        .collect();
    assert_eq!(grants, ["admin.grant", "admin.revoke"]);
}
