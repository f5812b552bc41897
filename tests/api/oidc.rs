//! OpenID Connect end to end against a provider served in the test.

use gatehouse::directory::connections::oidc::OidcConnection;
use gatehouse::directory::orgs::Org;
use gatehouse::directory::Actor;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::oidc_op::{Signing, TestOp};
use crate::support::scim::{events, Scim};
use crate::support::{gatehouse, stderr, stdout, TestApp, TestDb};

const CLIENT: &str = "gatehouse-test-client";

/// What the login redirect carried to the provider.
struct Started {
    state: String,
    nonce: String,
    challenge: String,
    browser: String,
}

struct Oidc<'a> {
    app: &'a TestApp,
    org: Org,
    op: TestOp,
}

impl<'a> Oidc<'a> {
    async fn new(app: &'a TestApp, org: Org, secret: Option<&str>) -> Oidc<'a> {
        let op = TestOp::start().await;
        let sealed = secret.map(|s| app_secrets(app).seal(s));
        let c = OidcConnection {
            org_id: org.id,
            issuer: op.issuer.clone(),
            client_id: CLIENT.into(),
            sealed_secret: sealed,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
        };
        app.directory
            .set_oidc_connection(&c, &Actor::Cli)
            .await
            .unwrap();
        Oidc { app, org, op }
    }

    async fn start(&self, return_to: &str) -> Started {
        let r = self
            .app
            .client
            .get(self.app.url(&format!("/oidc/{}/login", self.org.slug)))
            .query(&[("return_to", return_to)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{}", r.status());
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert!(
            location
                .as_str()
                .starts_with(&format!("{}/authorize", self.op.issuer)),
            "{location}"
        );
        let q = |k: &str| {
            location
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        assert_eq!(q("code_challenge_method"), "S256");
        assert_eq!(q("response_type"), "code");
        assert_eq!(q("client_id"), CLIENT);
        assert_eq!(
            q("redirect_uri"),
            self.app.url(&format!("/oidc/{}/callback", self.org.slug))
        );
        assert!(q("scope").split(' ').any(|s| s == "openid"));
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let browser = cookie
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("gatehouse_oidc=")
            .to_string();
        Started {
            state: q("state"),
            nonce: q("nonce"),
            challenge: q("code_challenge"),
            browser,
        }
    }

    fn claims(&self, s: &Started, sub: &str, email: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.op.issuer, "sub": sub, "aud": CLIENT, "exp": now + 300, "iat": now,
            "nonce": s.nonce, "email": email, "email_verified": true,
            "preferred_username": email, "given_name": "Ada", "family_name": "Lovelace",
        })
    }

    async fn callback(&self, query: &[(&str, &str)], browser: &str) -> reqwest::Response {
        self.app
            .client
            .get(self.app.url(&format!("/oidc/{}/callback", self.org.slug)))
            .query(query)
            .header("cookie", format!("gatehouse_oidc={browser}"))
            .send()
            .await
            .unwrap()
    }

    /// The whole login with a token made from `claims`, signed as asked.
    async fn login_with(&self, s: &Started, claims: &Value, signing: Signing) -> reqwest::Response {
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.op
            .grant(&code, &s.challenge, self.op.id_token(claims, signing));
        self.callback(&[("code", &code), ("state", &s.state)], &s.browser)
            .await
    }

    async fn refused(&self, r: reqwest::Response, why: &str) {
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "expected a refusal: {why}"
        );
        assert!(r.headers().get("set-cookie").is_none());
        let log = events(self.app, &self.org).await;
        let last = log
            .iter()
            .rev()
            .find(|e| e.0 == "login")
            .expect("a login event");
        assert_eq!(last.1, "failure");
        let reason = last.2["reason"].as_str().unwrap().to_lowercase();
        assert!(
            reason.contains(&why.to_lowercase()),
            "reason {reason:?} should mention {why:?}"
        );
    }
}

fn app_secrets(app: &TestApp) -> gatehouse::secrets::SecretBox {
    let config = gatehouse::config::SecretsConfig {
        key_file: app.secrets_file(),
        ..Default::default()
    };
    gatehouse::secrets::SecretBox::load(&config).unwrap()
}

async fn me(app: &TestApp, r: &reqwest::Response) -> Value {
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    app.client
        .get(app.url("/me"))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_login_with_pkce_creates_a_session_and_the_verifier_reaches_the_token_endpoint() {
    let app = TestApp::spawn().await;
    let oidc = Oidc::new(&app, app.org("acme", &["acme.test"]).await, None).await;
    let r = app.submit_login("ada@acme.test").await;
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/oidc/acme/login"),
        "/login leads to the provider"
    );
    let s = oidc.start("/me?from=oidc").await;
    let mut claims = oidc.claims(&s, "00u1", "ada@acme.test");
    claims["groups"] = json!(["Engineering"]);
    let r = oidc.login_with(&s, &claims, Signing::Good).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(r.headers()["location"], "/me?from=oidc");
    let body = me(&app, &r).await;
    assert_eq!(body["userName"], "ada@acme.test");
    assert_eq!(body["groups"], json!(["Engineering"]));

    let seen = oidc.op.seen.lock().unwrap();
    let (form, auth) = &seen.token_requests[0];
    assert!(
        form["code_verifier"].len() >= 43,
        "the verifier was sent: {form:?}"
    );
    assert_eq!(form["grant_type"], "authorization_code");
    assert!(auth.is_none(), "a public client sends no secret");
}

#[tokio::test]
async fn a_confidential_client_authenticates_with_its_secret_kept_encrypted() {
    let app = TestApp::spawn().await;
    let oidc = Oidc::new(&app, app.org("acme", &[]).await, Some("s3cret-value")).await;
    let stored: Option<String> = sqlx::query_scalar("select client_secret from oidc_connections")
        .fetch_one(app.directory.db().reads())
        .await
        .unwrap();
    assert!(!stored.unwrap().contains("s3cret-value"), "stored sealed");
    let s = oidc.start("/me").await;
    let r = oidc
        .login_with(&s, &oidc.claims(&s, "00u1", "ada@acme.test"), Signing::Good)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let seen = oidc.op.seen.lock().unwrap();
    let auth = seen.token_requests[0]
        .1
        .clone()
        .expect("client_secret_basic");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim_start_matches("Basic "))
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{CLIENT}:s3cret-value")
    );
}

#[tokio::test]
async fn jit_linking_and_deactivation_work_as_in_the_gate() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let oidc = Oidc::new(&app, scim.org.clone(), None).await;
    let id = scim.user("ada@acme.test").await;
    let s = oidc.start("/me").await;
    let r = oidc
        .login_with(&s, &oidc.claims(&s, "00u1", "ada@acme.test"), Signing::Good)
        .await;
    assert_eq!(
        me(&app, &r).await["id"],
        json!(id),
        "a verified email links the SCIM user"
    );

    // An unverified email never links: the person gets no one else's account.
    scim.user("victim@acme.test").await;
    let s = oidc.start("/me").await;
    let mut claims = oidc.claims(&s, "attacker", "victim@acme.test");
    claims["email_verified"] = json!(false);
    claims["preferred_username"] = json!("attacker@elsewhere.test");
    let r = oidc.login_with(&s, &claims, Signing::Good).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        me(&app, &r).await["userName"],
        "attacker@elsewhere.test",
        "a new user, not the victim"
    );

    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    let s = oidc.start("/me").await;
    let r = oidc
        .login_with(&s, &oidc.claims(&s, "00u1", "ada@acme.test"), Signing::Good)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("deactivated"));
}

/// The failed login events of the organisation.
async fn login_failures(app: &TestApp, org: &Org) -> usize {
    let log = events(app, org).await;
    log.iter()
        .filter(|e| e.0 == "login" && e.1 == "failure")
        .count()
}

#[tokio::test]
async fn a_login_the_directory_refuses_is_one_event_and_the_page_says_why() {
    // No folding: a second event for the same refusal would be written, and counted.
    let app = TestApp::spawn_with(|c| c.login.fold_seconds = 0).await;
    let scim = Scim::new(&app, "acme").await;
    let oidc = Oidc::new(&app, scim.org.clone(), None).await;
    let id = scim.user("ada@acme.test").await;
    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    let before = login_failures(&app, &scim.org).await;
    let s = oidc.start("/me").await;
    let r = oidc
        .login_with(&s, &oidc.claims(&s, "00u1", "ada@acme.test"), Signing::Good)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains("deactivated"));
    assert_eq!(login_failures(&app, &scim.org).await, before + 1);
}

#[tokio::test]
async fn a_callback_while_the_database_is_away_is_a_503_page_not_a_refusal() {
    let Some((app, relay)) = crate::database_outage::behind_relay().await else {
        return; // SQLite cannot be away (see database_outage.rs).
    };
    let oidc = Oidc::new(&app, app.org("acme", &[]).await, None).await;
    let s = oidc.start("/me").await;
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    let claims = oidc.claims(&s, "00u1", "ada@acme.test");
    oidc.op.grant(
        &code,
        &s.challenge,
        oidc.op.id_token(&claims, Signing::Good),
    );
    relay.cut().await;
    let r = oidc
        .callback(&[("code", &code), ("state", &s.state)], &s.browser)
        .await;
    crate::support::assert_unavailable_page(&r);
    relay.restore().await;
}

#[tokio::test]
async fn every_callback_check_refuses_what_it_should() {
    // Every refusal's own event is read here: none folded into an earlier identical one.
    let app = TestApp::spawn_with(|c| c.login.fold_seconds = 0).await;
    let oidc = Oidc::new(&app, app.org("acme", &[]).await, None).await;

    // State: unknown, replayed, from another browser.
    let s = oidc.start("/me").await;
    oidc.refused(
        oidc.callback(&[("code", "x"), ("state", "made-up")], &s.browser)
            .await,
        "state",
    )
    .await;
    let good = oidc.claims(&s, "00u1", "ada@acme.test");
    assert_eq!(
        oidc.login_with(&s, &good, Signing::Good).await.status(),
        StatusCode::SEE_OTHER
    );
    oidc.refused(oidc.login_with(&s, &good, Signing::Good).await, "state")
        .await;
    let s = oidc.start("/me").await;
    oidc.refused(
        oidc.login_with(
            &Started {
                browser: "other-browser".into(),
                ..s
            },
            &good,
            Signing::Good,
        )
        .await,
        "state",
    )
    .await;

    let check = |change: fn(&mut Value), signing: Signing, why: &'static str| {
        let oidc = &oidc;
        async move {
            let s = oidc.start("/me").await;
            let mut claims = oidc.claims(&s, "00u1", "ada@acme.test");
            change(&mut claims);
            oidc.refused(oidc.login_with(&s, &claims, signing).await, why)
                .await;
        }
    };
    check(
        |c| c["nonce"] = json!("another-nonce"),
        Signing::Good,
        "nonce",
    )
    .await;
    check(|c| c["aud"] = json!("someone-else"), Signing::Good, "aud").await;
    check(
        |c| c["iss"] = json!("https://evil.example"),
        Signing::Good,
        "iss",
    )
    .await;
    check(
        |c| c["exp"] = json!(chrono::Utc::now().timestamp() - 600),
        Signing::Good,
        "expired",
    )
    .await;
    check(
        |c| c["iat"] = json!(chrono::Utc::now().timestamp() + 3600),
        Signing::Good,
        "iat",
    )
    .await;
    check(
        |c| c["aud"] = json!([CLIENT, "another-client"]),
        Signing::Good,
        "audience",
    )
    .await;
    check(|c| c["azp"] = json!("another-client"), Signing::Good, "azp").await;
    check(|_| {}, Signing::None, "id token was refused").await;
    check(|_| {}, Signing::HmacWithPublicKey, "id token was refused").await;
    check(|_| {}, Signing::Tampered, "signature").await;

    // The provider's own error answer.
    let s = oidc.start("/me").await;
    let r = oidc
        .callback(
            &[
                ("error", "access_denied"),
                ("error_description", "User is not assigned"),
                ("state", &s.state),
            ],
            &s.browser,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("access_denied"));
    let log = events(&app, &oidc.org).await;
    assert!(log.last().unwrap().2["reason"]
        .as_str()
        .unwrap()
        .contains("error=access_denied"));
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let oidc = Oidc::new(&app, app.org("acme", &[]).await, None).await;
    let fetches = || oidc.op.seen.lock().unwrap().jwks_fetches;

    // The provider rotates to a key it then publishes: one refetch, and the login works.
    let s = oidc.start("/me").await;
    let before = fetches();
    oidc.op.seen.lock().unwrap().publish_second_key = true;
    let r = oidc
        .login_with(
            &s,
            &oidc.claims(&s, "00u1", "ada@acme.test"),
            Signing::SecondKey,
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(fetches(), before + 1);

    // A kid that is still unknown right after: no second fetch within the minute, refused.
    oidc.op.seen.lock().unwrap().publish_second_key = false;
    let other = Oidc::new(&app, app.org("globex", &[]).await, None).await;
    let s = other.start("/me").await;
    let before = other.op.seen.lock().unwrap().jwks_fetches;
    let r = other
        .login_with(
            &s,
            &other.claims(&s, "00u9", "bob@globex.test"),
            Signing::SecondKey,
        )
        .await;
    other.refused(r, "id token was refused").await;
    assert_eq!(
        other.op.seen.lock().unwrap().jwks_fetches,
        before + 1,
        "fetched once, then refused"
    );
    let s = other.start("/me").await;
    let r = other
        .login_with(
            &s,
            &other.claims(&s, "00u9", "bob@globex.test"),
            Signing::SecondKey,
        )
        .await;
    other.refused(r, "id token was refused").await;
    assert_eq!(
        other.op.seen.lock().unwrap().jwks_fetches,
        before + 1,
        "not again within the minute"
    );
}

// Multi-threaded: the provider must answer while the test waits for the CLI process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_configure_checks_discovery_and_prints_the_redirect_uri() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    assert!(gatehouse(cwd, &db.url, &["org", "create", "acme"], None)
        .status
        .success());
    let op = TestOp::start().await;
    let out = gatehouse(
        cwd,
        &db.url,
        &[
            "oidc",
            "configure",
            "acme",
            "--issuer",
            &op.issuer,
            "--client-id",
            "c1",
            "--client-secret",
            "s1",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim_end().ends_with("/oidc/acme/callback"),
        "{}",
        stdout(&out)
    );
    let out = gatehouse(
        cwd,
        &db.url,
        &[
            "oidc",
            "configure",
            "acme",
            "--issuer",
            "https://issuer.invalid",
            "--client-id",
            "c1",
        ],
        None,
    );
    assert!(
        !out.status.success(),
        "an issuer that does not answer is refused"
    );
    let wrong = format!("{}/", op.issuer).replace("127.0.0.1", "localhost");
    let out = gatehouse(
        cwd,
        &db.url,
        &[
            "oidc",
            "configure",
            "acme",
            "--issuer",
            &wrong,
            "--client-id",
            "c1",
        ],
        None,
    );
    assert!(
        !out.status.success(),
        "an issuer that names another issuer is refused"
    );
    let out = gatehouse(
        cwd,
        &db.url,
        &[
            "oidc",
            "configure",
            "acme",
            "--issuer",
            "http://idp.example.com",
            "--client-id",
            "c1",
        ],
        None,
    );
    assert!(!out.status.success(), "plain http only on loopback");
}

#[tokio::test]
async fn claim_names_are_per_organisation_settings() {
    use gatehouse::directory::orgs::OrgChange;
    let app = TestApp::spawn().await;
    let oidc = Oidc::new(&app, app.org("acme", &[]).await, None).await;
    let changes: Vec<OrgChange> = [
        "oidc_claim_username=login",
        "oidc_claim_groups=roles_and_groups",
        "oidc_claim_given_name=first",
    ]
    .iter()
    .map(|c| OrgChange::parse(c).unwrap())
    .collect();
    app.directory
        .update_org(oidc.org.id, &changes, &Actor::Cli)
        .await
        .unwrap();
    let s = oidc.start("/me").await;
    let mut claims = oidc.claims(&s, "00u7", "grace@acme.test");
    claims["login"] = json!("ghopper");
    claims["first"] = json!("Grace");
    claims["roles_and_groups"] = json!(["Navy"]);
    let r = oidc.login_with(&s, &claims, Signing::Good).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let body = me(&app, &r).await;
    assert_eq!(body["userName"], "ghopper");
    assert_eq!(body["groups"], json!(["Navy"]));
    let user = app
        .directory
        .user_by_user_name(oidc.org.id, "ghopper")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.profile.name.unwrap().given_name.as_deref(),
        Some("Grace")
    );
}
