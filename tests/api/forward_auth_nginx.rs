//! The README's nginx snippet, run by Debian's nginx in front of a small upstream: a
//! signed-in request reaches the app with the user in headers; a deactivated user's request
//! is refused and sent to sign in.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Json;
use gatehouse::directory::Actor;
use serde_json::{json, Value};

use crate::sessions::{login, okta};
use crate::support::TestApp;

const NGINX: &str = "/usr/sbin/nginx";

/// The ```nginx block of the README's forward-auth section.
fn readme_snippet() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```nginx\n")
        .expect("the README has an nginx snippet")
        + "```nginx\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

/// An app that answers with every `X-Gatehouse-*` header it was given, as a JSON object.
pub async fn upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(get(|headers: HeaderMap| async move {
        let mut seen = serde_json::Map::new();
        for (name, value) in &headers {
            if let Some(rest) = name.as_str().strip_prefix("x-gatehouse-") {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                seen.insert(rest.to_string(), Value::String(value));
            }
        }
        Json(Value::Object(seen))
    }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Headers a client may send to pass as someone else: every one Gatehouse sets, and one
/// it does not (yet).
pub const FORGED: &[(&str, &str)] = &[
    ("x-gatehouse-user", "root@evil.example"),
    (
        "x-gatehouse-user-id",
        "00000000-0000-0000-0000-000000000000",
    ),
    ("x-gatehouse-email", "root@evil.example"),
    ("x-gatehouse-org", "globex"),
    ("x-gatehouse-groups", "Admins"),
    ("x-gatehouse-roles", "owner"),
    ("x-gatehouse-role", "owner"),
    ("x-gatehouse-token", "forged"),
];

/// Sends a request with every forged header; what the app saw, or the proxy's status when
/// the request did not reach it.
pub async fn forge(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
) -> Result<Value, u16> {
    let mut req = client.get(url);
    for (name, value) in FORGED {
        req = req.header(*name, *value);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", format!("gatehouse_session={c}"));
    }
    let r = req.send().await.unwrap();
    if r.status() != 200 {
        return Err(r.status().as_u16());
    }
    Ok(r.json().await.unwrap())
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_nginx(dir: &Path, server_block: &str) -> Nginx {
    assert!(
        Path::new(NGINX).exists(),
        "Debian's nginx is needed for this test: run `make deps`"
    );
    let d = dir.display();
    // One process (master_process off) so that it runs as the test's user, with every path
    // in the test's folder.
    let conf = format!(
        "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{}}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n{server_block}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(NGINX)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    Nginx(child)
}

#[tokio::test]
async fn nginx_with_the_readme_snippet_lets_a_signed_in_user_through_and_stops_a_deactivated_one() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let gatehouse_addr = app.base_url.trim_start_matches("http://").to_string();
    let app_addr = upstream().await;
    let port = free_port();
    let snippet = readme_snippet()
        .replace("127.0.0.1:8080", &gatehouse_addr)
        .replace("127.0.0.1:3000", &app_addr.to_string())
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let dir = tempfile::tempdir().unwrap();
    let _nginx = start_nginx(dir.path(), &snippet);
    let front = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("{front}/login")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert!(ready, "nginx did not start: {}", log());

    let mut a = okta("00u1", "ada@acme.test");
    a.groups = Some(vec!["Engineering".into()]);
    let cookie = login(&app, &org, &a).await.unwrap();
    let through = |cookie: String| {
        let req = client
            .get(format!("{front}/dashboard?x=1"))
            .header("cookie", format!("gatehouse_session={cookie}"));
        async move { req.send().await.unwrap() }
    };

    let r = through(cookie.clone()).await;
    assert_eq!(r.status(), 200, "{}", log());
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["user"], "ada@acme.test");
    assert_eq!(seen["org"], "acme");
    assert_eq!(seen["groups"], "Engineering");
    // A client cannot forge the headers: nginx replaces every one Gatehouse sets, and
    // passes no forged value where Gatehouse's is empty (this user has no role).
    let seen = forge(&client, &format!("{front}/dashboard"), Some(&cookie))
        .await
        .unwrap();
    assert_eq!(seen["user"], "ada@acme.test", "{seen:#}");
    assert_eq!(
        seen["user-id"],
        json!(user_id(&app, &org).await),
        "{seen:#}"
    );
    assert_eq!(seen["email"], "ada@acme.test");
    assert_eq!(seen["org"], "acme");
    assert_eq!(seen["groups"], "Engineering");
    assert!(seen.get("roles").is_none_or(|v| v == ""), "{seen:#}");
    assert!(seen.get("role").is_none_or(|v| v == ""), "{seen:#}");
    assert!(seen.get("token").is_none(), "{seen:#}");
    // Without a session the app is never reached.
    assert_eq!(
        forge(&client, &format!("{front}/dashboard"), None).await,
        Err(302)
    );
    // Gatehouse's own pages pass through to it.
    let r = client
        .get(format!("{front}/me"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    app.directory
        .set_active(org.id, user.id, false, &Actor::Cli)
        .await
        .unwrap();
    let r = through(cookie).await;
    assert_eq!(r.status(), 302, "refused and sent to sign in");
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.ends_with("/login?return_to=/dashboard?x=1"),
        "{location}"
    );
    let r = client
        .get(format!("{front}/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "no cookie: sign in first");
}

pub async fn user_id(app: &TestApp, org: &gatehouse::directory::Org) -> String {
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    user.id.to_string()
}
