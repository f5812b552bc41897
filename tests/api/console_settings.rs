//! The organisation settings page: every setting in one form, changes logged once.

use gatehouse::directory::orgs::ORG_KEYS;

use crate::console_setup::{customer_admin, events_of, setup_session};
use crate::support::console::{platform_admin, ConsoleUser};
use crate::support::TestApp;

/// The value of an attribute inside one tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')? + at;
    Some(tag[at..end].to_string())
}

/// What a browser sends for the page's settings form: every named input, except checkboxes
/// that are not checked.
fn browser_form(html: &str) -> Vec<(String, String)> {
    let start = html
        .find("<form method=\"post\" action=\"/admin/orgs/")
        .unwrap();
    let start = html[start..]
        .find("/settings\"")
        .map(|i| start + i)
        .expect("the settings form");
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut fields = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        let Some(name) = attr(tag, "name") else {
            continue;
        };
        let checkbox = attr(tag, "type").as_deref() == Some("checkbox");
        if checkbox && !tag.contains(" checked") {
            continue;
        }
        let value = attr(tag, "value").unwrap_or_else(|| "on".into());
        fields.push((name, value.replace("&#38;", "&").replace("&#34;", "\"")));
    }
    fields
}

/// Sets a field of a form (adds it when missing), or removes it with None.
fn set(form: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    form.retain(|(k, _)| k != name);
    if let Some(v) = value {
        form.push((name.into(), v.into()));
    }
}

async fn post_form(
    app: &TestApp,
    who: &ConsoleUser,
    form: &[(String, String)],
) -> reqwest::Response {
    who.client
        .post(app.url("/admin/orgs/acme/settings"))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_form_holds_every_setting_but_the_domains() {
    let app = TestApp::spawn().await;
    app.org("acme", &["acme.test"]).await;
    let admin = platform_admin(&app).await;
    let (status, page) = admin.get(&app, "/admin/orgs/acme/settings").await;
    assert_eq!(status, 200);
    for (key, _) in ORG_KEYS.iter().filter(|(k, _)| *k != "domains") {
        assert!(
            page.contains(&format!("name=\"{key}\"")),
            "{key} in the form"
        );
    }
    assert!(!page.contains("name=\"domains\""));
    assert!(page.contains("type=\"checkbox\" name=\"jit\""));
    assert!(page.contains("name=\"saml_clock_skew\" id=\"setting-saml_clock_skew\" value=\"120\""));
    assert!(page.contains("name=\"name\" id=\"setting-name\" value=\"acme\""));
    assert!(
        page.contains("create users on first login"),
        "descriptions as hints"
    );
    let form = browser_form(&page);
    assert!(
        form.iter().any(|(k, v)| k == "jit" && v == "true"),
        "jit is on"
    );
}

#[tokio::test]
async fn a_change_is_logged_once_and_shows_on_reload() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme/settings").await;
    let mut form = browser_form(&page);
    set(&mut form, "jit", None); // unchecked
    set(&mut form, "saml_clock_skew", Some("300"));
    set(&mut form, "admin_group", Some("IT Admins"));
    let before = events_of(&app, &org).await.len();
    let r = post_form(&app, &admin, &form).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme/settings?saved=1");
    let events = events_of(&app, &org).await;
    assert_eq!(events.len(), before + 1, "one event");
    let (actor, action, detail) = events.last().unwrap();
    assert_eq!(action, "org.update");
    assert!(actor.starts_with("admin:"), "{actor}");
    assert_eq!(
        detail["changes"],
        serde_json::json!({ "jit": false, "saml_clock_skew": 300, "admin_group": "IT Admins" })
    );
    let got = app.directory.org(org.id).await.unwrap().unwrap();
    assert!(!got.settings.jit);
    assert_eq!(got.settings.saml_clock_skew, 300);
    assert_eq!(got.settings.admin_group.as_deref(), Some("IT Admins"));
    assert!(got.settings.groups_from_login, "other switches unchanged");

    let (_, page) = admin.get(&app, "/admin/orgs/acme/settings?saved=1").await;
    assert!(page.contains("Settings saved."));
    let form = browser_form(&page);
    assert!(!form.iter().any(|(k, _)| k == "jit"), "jit is unchecked");
    assert!(form
        .iter()
        .any(|(k, v)| k == "saml_clock_skew" && v == "300"));
    assert!(form
        .iter()
        .any(|(k, v)| k == "admin_group" && v == "IT Admins"));

    // The same form again changes nothing and logs nothing.
    let r = post_form(&app, &admin, &form).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/acme/settings?saved=0");
    assert_eq!(events_of(&app, &org).await.len(), before + 1);

    // Clearing an optional setting.
    let mut form = form;
    set(&mut form, "admin_group", Some(""));
    assert_eq!(post_form(&app, &admin, &form).await.status(), 303);
    let got = app.directory.org(org.id).await.unwrap().unwrap();
    assert_eq!(got.settings.admin_group, None);
}

#[tokio::test]
async fn a_bad_value_is_refused_naming_the_setting() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme/settings").await;
    let mut form = browser_form(&page);
    set(&mut form, "name", Some("Acme Corporation"));
    set(&mut form, "saml_clock_skew", Some("9999"));
    let before = events_of(&app, &org).await.len();
    let r = post_form(&app, &admin, &form).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("Nothing was saved"));
    assert!(page.contains("saml_clock_skew: saml_clock_skew takes seconds from 0 to 600"));
    assert!(
        page.contains("value=\"9999\" aria-invalid=\"true\""),
        "the field is marked"
    );
    assert!(
        page.contains("value=\"Acme Corporation\""),
        "what was typed stays"
    );
    let got = app.directory.org(org.id).await.unwrap().unwrap();
    assert_eq!(got.name, "acme", "nothing changed");
    assert_eq!(got.settings.saml_clock_skew, 120);
    assert_eq!(events_of(&app, &org).await.len(), before);

    set(&mut form, "saml_clock_skew", Some("120"));
    set(&mut form, "oidc_claim_email", Some("  "));
    let r = post_form(&app, &admin, &form).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("oidc_claim_email"));
}

#[tokio::test]
async fn settings_refuse_a_missing_or_wrong_csrf_token() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let (_, page) = admin.get(&app, "/admin/orgs/acme/settings").await;
    let mut form = browser_form(&page);
    set(&mut form, "name", Some("Hijacked"));
    for csrf in [None, Some("forged")] {
        set(&mut form, "csrf", csrf);
        let r = post_form(&app, &admin, &form).await;
        assert_eq!(r.status(), 403, "{csrf:?}");
    }
    let got = app.directory.org(org.id).await.unwrap().unwrap();
    assert_eq!(got.name, "acme");
}

#[tokio::test]
async fn a_setup_link_does_not_open_settings() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let setup = setup_session(&app, &org).await;
    assert_eq!(setup.get(&app, "/admin/orgs/acme/settings").await.0, 403);
    let r = setup
        .post(&app, "/admin/orgs/acme/settings", &[("name", "Hijacked")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.directory.org(org.id).await.unwrap().unwrap().name,
        "acme"
    );
}

#[tokio::test]
async fn customer_admins_change_their_own_organisations_settings_only() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let it = customer_admin(&app, &acme, "it@acme.test").await;
    let r = it
        .post(&app, "/admin/orgs/acme/settings", &[("name", "Acme Inc")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.directory.org(acme.id).await.unwrap().unwrap().name,
        "Acme Inc"
    );
    let events = events_of(&app, &acme).await;
    let (actor, _, _) = events.iter().rev().find(|e| e.1 == "org.update").unwrap();
    assert!(actor.starts_with("org-admin:"), "{actor}");

    let outsider = customer_admin(&app, &globex, "it@globex.test").await;
    assert_eq!(outsider.get(&app, "/admin/orgs/acme/settings").await.0, 404);
    let r = outsider
        .post(&app, "/admin/orgs/acme/settings", &[("name", "Pwned")])
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.directory.org(acme.id).await.unwrap().unwrap().name,
        "Acme Inc"
    );
}
