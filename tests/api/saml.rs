//! SAML SSO end to end: a test IdP signs real responses; every ACS check has a negative test.

use gatehouse::directory::connections::saml::SamlConnection;
use gatehouse::directory::orgs::{Org, OrgChange};
use gatehouse::directory::Actor;
use gatehouse::sso::saml::metadata::parse_idp_metadata;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::saml_idp::{
    assertion, encode, new_id, request_id_from_redirect, response, response_around, Signed, Spec,
    TestIdp, SHA1,
};
use crate::support::scim::{events, Scim};
use crate::support::{gatehouse, stderr, stdout, TestApp, TestDb};

struct Saml<'a> {
    app: &'a TestApp,
    org: Org,
    idp: TestIdp,
}

impl<'a> Saml<'a> {
    async fn new(app: &'a TestApp, org: Org) -> Saml<'a> {
        let idp = TestIdp::new("http://www.okta.com/exk1testidp");
        let s = Saml { app, org, idp };
        s.trust(&[&s.idp.cert_b64]).await;
        s
    }

    async fn trust(&self, certs: &[&str]) {
        let md = parse_idp_metadata(&self.idp.metadata(certs), self.app.directory.now()).unwrap();
        let c = SamlConnection {
            org_id: self.org.id,
            idp_entity_id: md.entity_id,
            sso_url: md.sso_url,
            certificates: md.certificates,
            retired: Vec::new(),
            metadata_url: None,
            created_at: 0,
            updated_at: 0,
        };
        self.app
            .directory
            .set_saml_connection(self.org.id, &c, &Actor::Cli)
            .await
            .unwrap();
    }

    fn acs(&self) -> String {
        self.app.url(&format!("/saml/{}/acs", self.org.slug))
    }

    fn sp_entity(&self) -> String {
        self.app.url(&format!("/saml/{}/metadata", self.org.slug))
    }

    fn spec(&self, name_id: &str) -> Spec {
        Spec::new(&self.idp, &self.sp_entity(), &self.acs(), name_id)
    }

    async fn post(&self, xml: &str, relay: Option<&str>) -> reqwest::Response {
        let mut form = vec![("SAMLResponse", encode(xml))];
        if let Some(r) = relay {
            form.push(("RelayState", r.to_string()));
        }
        self.app
            .client
            .post(self.acs())
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Starts an SP-initiated login; the request ID and the RelayState.
    async fn start(&self, return_to: &str) -> (String, String) {
        let r = self
            .app
            .client
            .get(self.app.url(&format!("/saml/{}/login", self.org.slug)))
            .query(&[("return_to", return_to)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{}", r.status());
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(&self.idp.sso_url), "{location}");
        request_id_from_redirect(&location)
    }

    /// Posts a response and expects a refusal whose logged reason contains `why`.
    async fn refused(&self, xml: &str, relay: Option<&str>, why: &str) {
        let r = self.post(xml, relay).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "expected a refusal for: {why}"
        );
        assert!(
            r.headers().get("set-cookie").is_none(),
            "no session for: {why}"
        );
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Sign-in failed") || page.contains("cannot sign in"),
            "{page}"
        );
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

fn cookie_of(r: &reqwest::Response) -> String {
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';')
        .next()
        .unwrap()
        .trim_start_matches("gatehouse_session=")
        .to_string()
}

async fn me(app: &TestApp, cookie: &str) -> (StatusCode, serde_json::Value) {
    let r = app
        .client
        .get(app.url("/me"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn sp_initiated_login_creates_a_session_and_goes_back() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &["acme.test"]).await).await;
    // /login finds the organisation by domain and sends the browser to its SAML login.
    let r = app.submit_login("ada@acme.test").await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/saml/acme/login"));

    let (id, relay) = saml.start("/me?tab=groups").await;
    assert!(
        !relay.contains("/me"),
        "RelayState is a reference, never the URL"
    );
    let mut spec = saml.spec("ada@acme.test");
    spec.in_response_to = Some(id);
    spec.attributes.push((
        "groups".into(),
        vec!["Engineering".into(), "Everyone".into()],
    ));
    let r = saml.post(&response(&saml.idp, &spec), Some(&relay)).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(r.headers()["location"], "/me?tab=groups");
    let cookie = cookie_of(&r);
    let (status, body) = me(&app, &cookie).await;
    assert_eq!(status, 200);
    assert_eq!(body["userName"], "ada@acme.test");
    assert_eq!(body["groups"], json!(["Engineering", "Everyone"]));
    let user = app
        .directory
        .user_by_user_name(saml.org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.profile.name.unwrap().given_name.as_deref(),
        Some("Ada"),
        "JIT from the attributes"
    );

    // The request was used: the same answer again is refused.
    saml.refused(&response(&saml.idp, &spec), Some(&relay), "answers request")
        .await;
}

#[tokio::test]
async fn idp_initiated_login_from_the_dashboard_tile() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let r = saml
        .post(&response(&saml.idp, &saml.spec("bob@acme.test")), None)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/me");
    assert_eq!(me(&app, &cookie_of(&r)).await.0, 200);

    // An unknown RelayState is a default landing page, checked like return_to.
    let r = saml
        .post(
            &response(&saml.idp, &saml.spec("bob@acme.test")),
            Some("https://evil.example/"),
        )
        .await;
    assert_eq!(r.headers()["location"], "/me");

    app.directory
        .update_org(
            saml.org.id,
            &[OrgChange::parse("idp_initiated=false").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
    saml.refused(
        &response(&saml.idp, &saml.spec("bob@acme.test")),
        None,
        "unsolicited",
    )
    .await;
}

#[tokio::test]
async fn a_response_while_the_database_is_away_is_a_503_page_and_signs_in_once_it_is_back() {
    let Some((app, relay)) = crate::database_outage::behind_relay().await else {
        return; // SQLite cannot be away (see database_outage.rs).
    };
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let xml = response(&saml.idp, &saml.spec("bob@acme.test"));
    relay.cut().await;
    let r = saml.post(&xml, None).await;
    crate::support::assert_unavailable_page(&r);
    relay.restore().await;
    // Nothing of the first post was kept: the same response is not taken for a replay.
    let r = saml.post(&xml, None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &cookie_of(&r)).await.0, 200);
}

#[tokio::test]
async fn a_scim_user_is_linked_and_a_deactivated_one_refused_with_its_session_already_dead() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = Saml::new(&app, scim.org.clone()).await;
    let id = scim.user("Ada@Acme.test").await;
    let r = saml
        .post(&response(&saml.idp, &saml.spec("ada@acme.test")), None)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = cookie_of(&r);
    assert_eq!(
        me(&app, &cookie).await.1["id"],
        json!(id),
        "linked, not duplicated"
    );
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 1);

    scim.patch(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!(me(&app, &cookie).await.0, 401, "the open session is dead");
    let r = saml
        .post(&response(&saml.idp, &saml.spec("ada@acme.test")), None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("deactivated"));
}

#[tokio::test]
async fn a_refused_response_is_used_up_and_refused_as_a_replay_once_its_cause_is_mended() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let saml = Saml::new(&app, scim.org.clone()).await;
    let id = scim.user("ada@acme.test").await;
    let active = |on: bool| json!([{"op": "replace", "value": {"active": on}}]);
    scim.patch(&format!("/Users/{id}"), active(false)).await;
    let captured = response(&saml.idp, &saml.spec("ada@acme.test"));
    saml.refused(&captured, None, "deactivated").await;

    // Reactivated, the person signs in with a new response; the old one stays refused.
    scim.patch(&format!("/Users/{id}"), active(true)).await;
    saml.refused(&captured, None, "replay").await;
    let fresh = response(&saml.idp, &saml.spec("ada@acme.test"));
    assert_eq!(
        saml.post(&fresh, None).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn certificate_rotation_accepts_both_then_only_the_new() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let next = saml.idp.rotated();
    saml.trust(&[&saml.idp.cert_b64, &next.cert_b64]).await;
    let ok = |idp: &TestIdp| {
        response(
            idp,
            &Spec::new(idp, &saml.sp_entity(), &saml.acs(), "r@acme.test"),
        )
    };
    assert_eq!(
        saml.post(&ok(&saml.idp), None).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        saml.post(&ok(&next), None).await.status(),
        StatusCode::SEE_OTHER
    );
    saml.trust(&[&next.cert_b64]).await;
    assert_eq!(
        saml.post(&ok(&next), None).await.status(),
        StatusCode::SEE_OTHER
    );
    saml.refused(&ok(&saml.idp), None, "signed").await;
}

#[tokio::test]
async fn okta_metadata_imports_through_the_command_line_and_bad_metadata_is_refused() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    assert!(gatehouse(cwd, &db.url, &["org", "create", "acme"], None)
        .status
        .success());
    let idp = TestIdp::new("http://www.okta.com/exk1okta");
    let file = cwd.join("okta.xml");
    std::fs::write(&file, idp.metadata(&[&idp.cert_b64])).unwrap();
    let out = gatehouse(
        cwd,
        &db.url,
        &["saml", "import-metadata", "acme", file.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("http://www.okta.com/exk1okta") && printed.contains("/saml/acme/acs"),
        "{printed}"
    );

    let expired = TestIdp::with_validity("http://www.okta.com/old", -400, -35);
    std::fs::write(&file, expired.metadata(&[&expired.cert_b64])).unwrap();
    let out = gatehouse(
        cwd,
        &db.url,
        &["saml", "import-metadata", "acme", file.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));

    std::fs::write(&file, idp.metadata(&[])).unwrap();
    let out = gatehouse(
        cwd,
        &db.url,
        &["saml", "import-metadata", "acme", file.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no signing certificate"),
        "{}",
        stderr(&out)
    );

    let out = gatehouse(
        cwd,
        &db.url,
        &[
            "saml",
            "import-metadata",
            "acme",
            "http://idp.example.com/metadata",
        ],
        None,
    );
    assert!(!out.status.success(), "plain http only on loopback");
}

#[tokio::test]
async fn sp_metadata_describes_the_acs_and_wants_signed_assertions() {
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let r = app
        .client
        .get(app.url("/saml/acme/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains(&format!(r#"entityID="{}""#, app.url("/saml/acme/metadata"))),
        "{xml}"
    );
    assert!(xml.contains(&format!(r#"Location="{}""#, app.url("/saml/acme/acs"))));
    assert!(xml.contains(r#"WantAssertionsSigned="true""#));
    assert!(xml.contains("nameid-format:emailAddress"));
}

#[tokio::test]
async fn every_acs_check_refuses_what_it_should() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let idp = &saml.idp;
    let base = || saml.spec("eve@acme.test");

    // Size, DTD, status, assertion count.
    let big = format!("{}{}", response(idp, &base()), " ".repeat(300 * 1024));
    saml.refused(&big, None, "larger than").await;
    let dtd = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{}", response(idp, &base()));
    saml.refused(&dtd, None, "dtd").await;
    let mut s = base();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into();
    saml.refused(&response(idp, &s), None, "status").await;
    let none = response_around(idp, &base(), "");
    saml.refused(&none, None, "0 assertions").await;

    // Signatures: none, a stranger's key, a change after signing, SHA-1.
    let mut s = base();
    s.signed = Signed::Neither;
    saml.refused(&response(idp, &s), None, "sign").await;
    let rogue = TestIdp::new(&idp.entity_id);
    saml.refused(&response(&rogue, &base()), None, "sign").await;
    let tampered = response(idp, &base()).replace(
        "eve@acme.test</saml2:NameID>",
        "admin@acme.test</saml2:NameID>",
    );
    saml.refused(&tampered, None, "sign").await;
    let mut s = base();
    s.algorithm = SHA1;
    saml.refused(&response(idp, &s), None, "sign").await;

    // Who it is from and for.
    let mut s = base();
    s.issuer = "http://www.okta.com/someone-else".into();
    saml.refused(&response(idp, &s), None, "issuer").await;
    let mut s = base();
    s.audience = Some("https://another-sp.example/metadata".into());
    saml.refused(&response(idp, &s), None, "audience").await;
    let mut s = base();
    s.audience = None;
    saml.refused(&response(idp, &s), None, "audience").await;
    let mut s = base();
    s.recipient = "https://another-sp.example/acs".into();
    saml.refused(&response(idp, &s), None, "recipient").await;
    for signed in [Signed::Both, Signed::Assertion] {
        let mut s = base();
        s.destination = "https://another-sp.example/acs".into();
        s.signed = signed;
        saml.refused(&response(idp, &s), None, "destination").await;
    }
    let mut s = base();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
    s.signed = Signed::Both;
    saml.refused(&response(idp, &s), None, "status").await;

    // Time windows, with the organisation's skew (120 s by default).
    let mut s = base();
    s.confirmation_not_on_or_after = -600;
    saml.refused(&response(idp, &s), None, "subjectconfirmation")
        .await;
    let mut s = base();
    s.not_before = 600;
    saml.refused(&response(idp, &s), None, "not valid until")
        .await;
    let mut s = base();
    s.not_on_or_after = -600;
    saml.refused(&response(idp, &s), None, "expired").await;
    let mut s = base();
    s.not_before = 60;
    assert_eq!(
        saml.post(&response(idp, &s), None).await.status(),
        StatusCode::SEE_OTHER,
        "within the skew"
    );

    // Requests: an answer to a request this browser did not start.
    let (_, relay) = saml.start("/me").await;
    let mut s = base();
    s.in_response_to = Some(new_id());
    saml.refused(&response(idp, &s), Some(&relay), "inresponseto")
        .await;
    let mut s = base();
    s.in_response_to = Some(new_id());
    saml.refused(&response(idp, &s), None, "answers request")
        .await;

    // Replay.
    let once = response(idp, &base());
    assert_eq!(saml.post(&once, None).await.status(), StatusCode::SEE_OTHER);
    saml.refused(&once, None, "replay").await;

    // A comment that splits the NameID: its signature still holds, its text does not.
    let split = response(idp, &saml.spec("admin@acme.test.evil.example")).replace(
        "admin@acme.test.evil.example</saml2:NameID>",
        "admin@acme.test<!---->.evil.example</saml2:NameID>",
    );
    saml.refused(&split, None, "comment").await;
    assert!(app
        .directory
        .user_by_user_name(saml.org.id, "admin@acme.test")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn signature_wrapping_variants_are_refused() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let idp = &saml.idp;
    let signed = assertion(idp, &saml.spec("eve@acme.test"));
    let mut evil_spec = saml.spec("admin@acme.test");
    evil_spec.signed = Signed::Neither;
    let evil = assertion(idp, &evil_spec);
    let mut outer = saml.spec("eve@acme.test");
    outer.signed = Signed::Neither;
    let variants = [
        (
            "evil before the signed assertion",
            format!("{evil}{signed}"),
        ),
        ("evil after the signed assertion", format!("{signed}{evil}")),
        (
            "signed assertion hidden in Extensions, evil in its place",
            format!("<saml2p:Extensions>{signed}</saml2p:Extensions>{evil}"),
        ),
        (
            "signed assertion nested inside the evil one",
            evil.replace("</saml2:Subject>", &format!("</saml2:Subject>{signed}")),
        ),
    ];
    for (name, body) in variants {
        let xml = response_around(idp, &outer, &body);
        let r = saml.post(&xml, None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        assert!(r.headers().get("set-cookie").is_none(), "{name}");
    }
    // A signed response whose signed assertion was swapped for an evil one.
    let mut both = saml.spec("eve@acme.test");
    both.signed = Signed::Response;
    let good = response(idp, &both);
    let start = good.find("<saml2:Assertion").unwrap();
    let end = good.find("</saml2:Assertion>").unwrap() + "</saml2:Assertion>".len();
    let swapped = format!("{}{}{}", &good[..start], evil, &good[end..]);
    let r = saml.post(&swapped, None).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "swapped assertion under a response signature"
    );
    assert!(
        app.directory
            .user_by_user_name(saml.org.id, "admin@acme.test")
            .await
            .unwrap()
            .is_none(),
        "never signed in as admin"
    );
}

#[tokio::test]
async fn metadata_from_a_url_is_fetched_again_and_changes_are_applied_and_logged() {
    use gatehouse::sso::saml::refresh::{refresh_all, Refreshed};
    use std::sync::{Arc, Mutex};

    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let idp = TestIdp::new("http://www.okta.com/exk1rotating");
    let next = idp.rotated();
    let served = Arc::new(Mutex::new(idp.metadata(&[&idp.cert_b64])));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let doc = served.clone();
    let server = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { doc.lock().unwrap().clone() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });

    let md = parse_idp_metadata(&served.lock().unwrap().clone(), app.directory.now()).unwrap();
    let c = SamlConnection {
        org_id: org.id,
        idp_entity_id: md.entity_id,
        sso_url: md.sso_url,
        certificates: md.certificates,
        retired: Vec::new(),
        metadata_url: Some(url),
        created_at: 0,
        updated_at: 0,
    };
    app.directory
        .set_saml_connection(org.id, &c, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        refresh_all(&app.directory, &crate::support::outbound(), 3_600_000)
            .await
            .unwrap(),
        [Refreshed::Unchanged]
    );

    *served.lock().unwrap() = idp.metadata(&[&idp.cert_b64, &next.cert_b64]);
    assert_eq!(
        refresh_all(&app.directory, &crate::support::outbound(), 3_600_000)
            .await
            .unwrap(),
        [Refreshed::Changed]
    );
    let stored = app
        .directory
        .saml_connection(org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.certificates,
        [idp.cert_b64.clone(), next.cert_b64.clone()]
    );
    let log = events(&app, &org).await;
    let last = log
        .iter()
        .rev()
        .find(|e| e.0 == "saml.connection.set")
        .unwrap();
    assert_eq!(last.2["certificates"], 2);

    // A broken document changes nothing, and says so in the log.
    *served.lock().unwrap() = "<not-metadata/>".into();
    let results = refresh_all(&app.directory, &crate::support::outbound(), 3_600_000)
        .await
        .unwrap();
    assert!(matches!(&results[0], Refreshed::Failed(_)), "{results:?}");
    assert_eq!(
        app.directory
            .saml_connection(org.id)
            .await
            .unwrap()
            .unwrap()
            .certificates
            .len(),
        2
    );
    let failed = events(&app, &org)
        .await
        .into_iter()
        .rev()
        .find(|e| e.0 == "saml.metadata.refresh")
        .unwrap();
    assert_eq!(failed.1, "failure");
}

/// Verifies an HTTP-Redirect signature (SAML Bindings §3.4.4.1) against a base64 DER
/// certificate: the signed octets are the query's SAMLRequest, RelayState and SigAlg as sent.
fn redirect_signed_by(location: &str, cert_b64: &str) -> bool {
    use base64::Engine;
    let query = location.split_once('?').unwrap().1;
    let parts: Vec<&str> = query.split('&').collect();
    let get = |k: &str| {
        parts
            .iter()
            .find(|p| p.starts_with(&format!("{k}=")))
            .copied()
    };
    let (Some(req), Some(relay), Some(alg), Some(sig)) = (
        get("SAMLRequest"),
        get("RelayState"),
        get("SigAlg"),
        get("Signature"),
    ) else {
        return false;
    };
    assert!(alg.contains("rsa-sha256"), "{alg}");
    let signed = format!("{req}&{relay}&{alg}");
    let sig = url::form_urlencoded::parse(sig.as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(cert_b64)
        .unwrap();
    let key = openssl::x509::X509::from_der(&der)
        .unwrap()
        .public_key()
        .unwrap();
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    v.update(signed.as_bytes()).unwrap();
    v.verify(&sig).unwrap_or(false)
}

fn metadata_certificates(xml: &str) -> Vec<String> {
    xml.split("<ds:X509Certificate>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn authn_requests_are_signed_when_asked_and_sp_keys_roll_over() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let login = || async {
        let r = app
            .client
            .get(app.url("/saml/acme/login"))
            .send()
            .await
            .unwrap();
        r.headers()["location"].to_str().unwrap().to_string()
    };
    let metadata = || async {
        app.client
            .get(app.url("/saml/acme/metadata"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(!login().await.contains("Signature="), "unsigned by default");
    assert!(metadata().await.contains(r#"AuthnRequestsSigned="false""#));

    app.directory
        .update_org(
            saml.org.id,
            &[OrgChange::parse("saml_sign_requests=true").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
    let md = metadata().await;
    assert!(md.contains(r#"AuthnRequestsSigned="true""#), "{md}");
    let first = metadata_certificates(&md);
    assert_eq!(first.len(), 1, "a key is made on first need");
    let stored: Vec<String> = sqlx::query_scalar("select private_key from saml_sp_keys")
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap();
    assert!(
        stored[0].starts_with("v1:") && !stored[0].contains("PRIVATE KEY"),
        "sealed at rest"
    );
    let location = login().await;
    assert!(redirect_signed_by(&location, &first[0]), "{location}");
    let (id, relay) = request_id_from_redirect(&location);
    assert!(
        id.starts_with('_') && id.len() >= 23,
        "128 random bits: {id}"
    );
    assert!(!relay.is_empty());

    // Rollover: a second key is published first, signs only once the first is retired.
    let (pem, cert) = gatehouse::sso::saml::sp_key::generate("next").unwrap();
    app.directory
        .add_saml_sp_key(saml.org.id, &pem, &cert, &Actor::Cli)
        .await
        .unwrap();
    let both = metadata_certificates(&metadata().await);
    assert_eq!(both, [first[0].clone(), cert.clone()]);
    assert!(
        redirect_signed_by(&login().await, &first[0]),
        "the older key still signs"
    );
    let old = app.directory.saml_sp_keys(saml.org.id).await.unwrap()[0]
        .id
        .clone();
    app.directory
        .retire_saml_sp_key(saml.org.id, &old, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        metadata_certificates(&metadata().await),
        std::slice::from_ref(&cert)
    );
    let location = login().await;
    assert!(redirect_signed_by(&location, &cert));
    assert!(
        !redirect_signed_by(&location, &first[0]),
        "a wrong certificate does not verify"
    );
}

#[tokio::test]
async fn encrypted_assertions_are_decrypted_inside_a_signed_response_only() {
    use crate::support::saml_idp::{encrypt, RSA_1_5, RSA_OAEP};
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let idp = &saml.idp;
    // Without an SP key there is nothing to decrypt with.
    let sealed_for = |cert: &str, transport: &str, name: &str| {
        let inner = assertion(idp, &saml.spec(name));
        encrypt(&inner, cert, transport)
    };
    let stranger = gatehouse::sso::saml::sp_key::generate("stranger")
        .unwrap()
        .1;
    let mut signed_response = saml.spec("enc@acme.test");
    signed_response.signed = Signed::Response;
    saml.refused(
        &response_around(
            idp,
            &signed_response,
            &sealed_for(&stranger, RSA_OAEP, "enc@acme.test"),
        ),
        None,
        "no sp key",
    )
    .await;

    app.directory
        .update_org(
            saml.org.id,
            &[OrgChange::parse("saml_encrypted_assertions=true").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
    let md = app
        .client
        .get(app.url("/saml/acme/metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("<md:KeyDescriptor><ds:KeyInfo"),
        "published for both uses: {md}"
    );
    let sp_cert = metadata_certificates(&md).remove(0);

    let ok = response_around(
        idp,
        &signed_response,
        &sealed_for(&sp_cert, RSA_OAEP, "enc@acme.test"),
    );
    let r = saml.post(&ok, None).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(
        me(&app, &cookie_of(&r)).await.1["userName"],
        "enc@acme.test"
    );

    // Not under a Response signature: refused, even though the assertion inside is signed.
    let mut unsigned_response = saml.spec("enc@acme.test");
    unsigned_response.signed = Signed::Neither;
    let bare = response_around(
        idp,
        &unsigned_response,
        &sealed_for(&sp_cert, RSA_OAEP, "enc@acme.test"),
    );
    saml.refused(&bare, None, "signed response").await;
    // PKCS#1 v1.5 key transport, and a key that is not ours.
    let weak = response_around(
        idp,
        &signed_response,
        &sealed_for(&sp_cert, RSA_1_5, "enc@acme.test"),
    );
    saml.refused(&weak, None, "pkcs#1 v1.5").await;
    let other = response_around(
        idp,
        &signed_response,
        &sealed_for(&stranger, RSA_OAEP, "enc@acme.test"),
    );
    let r = saml.post(&other, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn attribute_names_and_the_sp_entity_id_are_per_organisation_settings() {
    let app = TestApp::spawn().await;
    let saml = Saml::new(&app, app.org("acme", &[]).await).await;
    let changes: Vec<OrgChange> = [
        "saml_sp_entity_id=urn:acme:gatehouse",
        "saml_attribute_first_name=given",
        "saml_attribute_last_name=sn",
        "saml_attribute_email=mail",
        "saml_attribute_groups=memberOf",
    ]
    .iter()
    .map(|c| OrgChange::parse(c).unwrap())
    .collect();
    app.directory
        .update_org(saml.org.id, &changes, &Actor::Cli)
        .await
        .unwrap();
    let md = app
        .client
        .get(app.url("/saml/acme/metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains(r#"entityID="urn:acme:gatehouse""#), "{md}");

    let mut s = Spec::new(
        &saml.idp,
        "urn:acme:gatehouse",
        &saml.acs(),
        "00u-opaque-id",
    );
    s.attributes = vec![
        ("given".into(), vec!["Grace".into()]),
        ("sn".into(), vec!["Hopper".into()]),
        ("mail".into(), vec!["grace@acme.test".into()]),
        ("memberOf".into(), vec!["Navy".into()]),
    ];
    let r = saml.post(&response(&saml.idp, &s), None).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let user = app
        .directory
        .user_by_user_name(saml.org.id, "00u-opaque-id")
        .await
        .unwrap()
        .unwrap();
    let name = user.profile.name.clone().unwrap();
    assert_eq!(
        (name.given_name.as_deref(), name.family_name.as_deref()),
        (Some("Grace"), Some("Hopper"))
    );
    assert_eq!(user.profile.primary_email(), Some("grace@acme.test"));
    assert_eq!(
        app.directory
            .user_groups(saml.org.id, user.id)
            .await
            .unwrap()[0]
            .display_name,
        "Navy"
    );

    // The default audience no longer fits.
    saml.refused(
        &response(&saml.idp, &saml.spec("x@acme.test")),
        None,
        "audience",
    )
    .await;
}

#[tokio::test]
async fn a_connection_can_be_entered_field_by_field() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    assert!(gatehouse(cwd, &db.url, &["org", "create", "acme"], None)
        .status
        .success());
    let idp = TestIdp::new("http://idp.example/entity");
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        idp.cert_b64
    );
    std::fs::write(cwd.join("idp.pem"), pem).unwrap();
    let args = [
        "saml",
        "configure",
        "acme",
        "--entity-id",
        "http://idp.example/entity",
        "--sso-url",
        "https://idp.example/sso",
        "--certificate",
        "idp.pem",
    ];
    let out = gatehouse(cwd, &db.url, &args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(cwd.join("idp.pem"), "not a certificate").unwrap();
    let out = gatehouse(cwd, &db.url, &args, None);
    assert!(!out.status.success(), "a broken certificate is refused");
}
