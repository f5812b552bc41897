//! Real SAML and OIDC logins for the policy tests: an organisation's IdP (a test SAML IdP or
//! OpenID provider), a login through the server's own routes, and what the browser got.

use gatehouse::directory::connections::oidc::OidcConnection;
use gatehouse::directory::connections::saml::SamlConnection;
use gatehouse::directory::{Actor, Org};
use gatehouse::sso::saml::metadata::parse_idp_metadata;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::oidc_op::{Signing, TestOp};
use crate::support::saml_idp::{encode, response, Spec, TestIdp};
use crate::support::scim::events;
use crate::support::TestApp;

/// What the browser got back from a login.
#[derive(Debug)]
pub struct Outcome {
    pub status: StatusCode,
    /// The session cookie's value, when a session was made.
    pub cookie: Option<String>,
    pub page: String,
}

impl Outcome {
    async fn read(r: reqwest::Response, name: &str) -> Outcome {
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
            .filter(|v| !v.is_empty());
        Outcome {
            status: r.status(),
            cookie,
            page: r.text().await.unwrap(),
        }
    }

    /// The session cookie of a login that worked.
    #[track_caller]
    pub fn session(&self) -> String {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.page);
        self.cookie.clone().expect("a session cookie")
    }
}

/// Asserts that a login was refused with a page saying `says`, made no session, and that
/// the organisation's last login event is a failure whose reason mentions `why`.
pub async fn assert_refused(app: &TestApp, org: &Org, o: &Outcome, says: &str, why: &str) {
    assert_eq!(o.status, StatusCode::FORBIDDEN, "{}", o.page);
    assert!(o.cookie.is_none(), "no session");
    assert!(
        o.page.contains(says),
        "the page should say {says:?}: {}",
        o.page
    );
    let log = events(app, org).await;
    let last = log
        .iter()
        .rev()
        .find(|e| e.0 == "login")
        .expect("a login event");
    assert_eq!(last.1, "failure");
    let reason = last.2["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(why),
        "reason {reason:?} should mention {why:?}"
    );
}

/// The status `/auth/check` gives a session cookie.
pub async fn check(app: &TestApp, cookie: &str) -> u16 {
    app.auth_check(cookie).await.status().as_u16()
}

/// `/me` as JSON for a session cookie.
pub async fn me(app: &TestApp, cookie: &str) -> Value {
    app.client
        .get(app.url("/me"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// An organisation's SAML IdP; logins are IdP-initiated (the dashboard tile).
pub struct SamlIdp<'a> {
    pub app: &'a TestApp,
    pub org: Org,
    pub idp: TestIdp,
}

impl<'a> SamlIdp<'a> {
    pub async fn connect(app: &'a TestApp, org: &Org) -> SamlIdp<'a> {
        let idp = TestIdp::new("http://www.okta.com/exk1policy");
        let md = parse_idp_metadata(&idp.metadata(&[&idp.cert_b64]), app.directory.now()).unwrap();
        let c = SamlConnection {
            org_id: org.id,
            idp_entity_id: md.entity_id,
            sso_url: md.sso_url,
            certificates: md.certificates,
            retired: Vec::new(),
            metadata_url: None,
            created_at: 0,
            updated_at: 0,
        };
        app.directory
            .set_saml_connection(org.id, &c, &Actor::Cli)
            .await
            .unwrap();
        SamlIdp {
            app,
            org: org.clone(),
            idp,
        }
    }

    /// A valid response for `name_id` (also the email attribute), to adjust.
    pub fn spec(&self, name_id: &str) -> Spec {
        let acs = self.app.url(&format!("/saml/{}/acs", self.org.slug));
        let sp = self.app.url(&format!("/saml/{}/metadata", self.org.slug));
        Spec::new(&self.idp, &sp, &acs, name_id)
    }

    pub async fn login_with(&self, spec: &Spec) -> Outcome {
        Outcome::read(self.post(spec).await, "gatehouse_session").await
    }

    /// Posts the signed response to the ACS; the server's answer as it came.
    pub async fn post(&self, spec: &Spec) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(&format!("/saml/{}/acs", self.org.slug)))
            .form(&[("SAMLResponse", encode(&response(&self.idp, spec)))])
            .send()
            .await
            .unwrap()
    }

    /// A login of `name_id`, whose email is `email`.
    pub async fn login(&self, name_id: &str, email: &str) -> Outcome {
        let mut spec = self.spec(name_id);
        spec.attributes.retain(|(n, _)| n != "email");
        spec.attributes.push(("email".into(), vec![email.into()]));
        self.login_with(&spec).await
    }
}

/// An organisation's OpenID provider (a public client with PKCE).
pub struct OidcIdp<'a> {
    pub app: &'a TestApp,
    pub org: Org,
    pub op: TestOp,
}

const CLIENT: &str = "gatehouse-policy-client";

impl<'a> OidcIdp<'a> {
    pub async fn connect(app: &'a TestApp, org: &Org) -> OidcIdp<'a> {
        let op = TestOp::start().await;
        let c = OidcConnection {
            org_id: org.id,
            issuer: op.issuer.clone(),
            client_id: CLIENT.into(),
            sealed_secret: None,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
        };
        app.directory
            .set_oidc_connection(&c, &Actor::Cli)
            .await
            .unwrap();
        OidcIdp {
            app,
            org: org.clone(),
            op,
        }
    }

    /// A whole login of `sub` with a verified `email` (also its preferred_username), with
    /// `extra` claims added.
    pub async fn login(&self, sub: &str, email: &str, extra: Value) -> Outcome {
        Outcome::read(self.login_raw(sub, email, extra).await, "gatehouse_session").await
    }

    /// The same login; the callback's answer as it came.
    pub async fn login_raw(&self, sub: &str, email: &str, extra: Value) -> reqwest::Response {
        let r = self
            .app
            .client
            .get(self.app.url(&format!("/oidc/{}/login", self.org.slug)))
            .query(&[("return_to", "/me")])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{}", r.status());
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let q = |k: &str| {
            location
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let browser = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.op.issuer, "sub": sub, "aud": CLIENT, "exp": now + 300, "iat": now,
            "nonce": q("nonce"), "email": email, "email_verified": true,
            "preferred_username": email, "given_name": "Ada", "family_name": "Lovelace",
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.op.grant(
            &code,
            &q("code_challenge"),
            self.op.id_token(&claims, Signing::Good),
        );
        self.app
            .client
            .get(self.app.url(&format!("/oidc/{}/callback", self.org.slug)))
            .query(&[("code", code.as_str()), ("state", &q("state"))])
            .header("cookie", browser)
            .send()
            .await
            .unwrap()
    }
}
