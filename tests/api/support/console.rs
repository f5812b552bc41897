//! Helpers for console and admin API tests: a browser-like client with cookies, signing in,
//! and reading CSRF tokens out of pages.

use gatehouse::directory::{Actor, Email};

use crate::support::TestApp;

pub const PASSWORD: &str = "correct horse battery staple";

/// A client that keeps cookies and does not follow redirects, like a browser a test steps.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_of(html: &str) -> String {
    field_value(html, "csrf").unwrap_or_else(|| panic!("no csrf field in:\n{html}"))
}

/// The value of the first input named `name` in a page.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A signed-in console user: its cookie jar and its session's CSRF token.
pub struct ConsoleUser {
    pub client: reqwest::Client,
    pub csrf: String,
}

impl ConsoleUser {
    /// GETs a console page; returns status and body.
    pub async fn get(&self, app: &TestApp, path: &str) -> (u16, String) {
        let r = self.client.get(app.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POSTs a form with this session's CSRF token added.
    pub async fn post(
        &self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        fields.extend_from_slice(form);
        self.client
            .post(app.url(path))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }
}

/// Follows a setup link as a browser does: the link (its secret goes into a cookie, and the
/// browser is sent on), then the page it opens; that page's status and HTML.
pub async fn setup_page(app: &TestApp, client: &reqwest::Client, secret: &str) -> (u16, String) {
    let r = client
        .get(app.url(&format!("/admin/setup/{secret}")))
        .send()
        .await
        .unwrap();
    if r.status() != 303 {
        return (r.status().as_u16(), r.text().await.unwrap());
    }
    assert_eq!(r.headers()["location"], "/admin/setup");
    let page = client.get(app.url("/admin/setup")).send().await.unwrap();
    (page.status().as_u16(), page.text().await.unwrap())
}

/// Creates a platform admin in the directory.
pub async fn create_platform_admin(app: &TestApp, email: &str) {
    let hash = gatehouse::password::hash(PASSWORD).unwrap();
    app.directory
        .create_admin(&Email::parse(email).unwrap(), &hash, &Actor::Cli)
        .await
        .unwrap();
}

/// GETs the sign-in page; returns its pre-sign-in CSRF token (the client keeps the cookie).
pub async fn login_page_csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let page = client.get(app.url("/admin/login")).send().await.unwrap();
    csrf_of(&page.text().await.unwrap())
}

/// Signs in with a password through the form; returns the response.
pub async fn password_login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = login_page_csrf(app, client).await;
    client
        .post(app.url("/admin/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// A platform admin, created and signed in.
pub async fn platform_admin(app: &TestApp) -> ConsoleUser {
    create_platform_admin(app, "root@platform.test").await;
    let client = browser();
    let r = password_login(app, &client, "root@platform.test", PASSWORD).await;
    assert_eq!(r.status(), 303, "sign-in should redirect");
    signed_in(app, client).await
}

/// The session CSRF token of a signed-in client, read from its start page.
pub async fn signed_in(app: &TestApp, client: reqwest::Client) -> ConsoleUser {
    let r = client.get(app.url("/admin")).send().await.unwrap();
    let start = r.headers()["location"].to_str().unwrap().to_string();
    let page = client.get(app.url(&start)).send().await.unwrap();
    assert_eq!(page.status(), 200, "start page {start}");
    let csrf = csrf_of(&page.text().await.unwrap());
    ConsoleUser { client, csrf }
}
