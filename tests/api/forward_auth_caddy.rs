//! The README's Caddy snippet, run by Debian's Caddy in front of the same small upstream as
//! the nginx test: a signed-in request reaches the app with the user in headers, a client's
//! own `X-Gatehouse-*` headers never do, with a session or without, and a deactivated user
//! is stopped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse::directory::Actor;
use serde_json::json;

use crate::forward_auth_nginx::{forge, free_port, upstream, user_id};
use crate::sessions::{login, okta};
use crate::support::TestApp;

const CADDY: &str = "/usr/bin/caddy";

/// The ```caddyfile block of the README's forward-auth section.
fn readme_snippet() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```caddyfile\n")
        .expect("the README has a Caddy snippet")
        + "```caddyfile\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

struct Caddy(Child);

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_caddy(dir: &Path, site: &str) -> Caddy {
    assert!(
        Path::new(CADDY).exists(),
        "Debian's caddy is needed for this test: run `make deps`"
    );
    // No admin endpoint and no automatic HTTPS: a plain listener on loopback, with its
    // state in the test's folder.
    let conf = format!("{{\n\tadmin off\n\tauto_https off\n}}\n{site}");
    let file = dir.join("Caddyfile");
    std::fs::write(&file, conf).unwrap();
    let child = Command::new(CADDY)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("caddy.log")).unwrap())
        .spawn()
        .expect("start caddy");
    Caddy(child)
}

#[tokio::test]
async fn caddy_with_the_readme_snippet_passes_only_gatehouses_headers() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let gatehouse_addr = app.base_url.trim_start_matches("http://").to_string();
    let app_addr = upstream().await;
    let port = free_port();
    let site = readme_snippet()
        .replace("127.0.0.1:8080", &gatehouse_addr)
        .replace("127.0.0.1:3000", &app_addr.to_string())
        .replace("app.example.com", &format!("http://127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let _caddy = start_caddy(dir.path(), &site);
    let front = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let log = || std::fs::read_to_string(dir.path().join("caddy.log")).unwrap_or_default();
    let mut ready = false;
    for _ in 0..200 {
        if client.get(format!("{front}/login")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "caddy did not start: {}", log());

    let mut a = okta("00u1", "ada@acme.test");
    a.groups = Some(vec!["Engineering".into(), "Sales, Europe".into()]);
    let cookie = login(&app, &org, &a).await.unwrap();

    let seen = forge(&client, &format!("{front}/dashboard"), Some(&cookie))
        .await
        .unwrap_or_else(|s| panic!("{s}: {}", log()));
    assert_eq!(seen["user"], "ada@acme.test", "{seen:#}");
    assert_eq!(
        seen["user-id"],
        json!(user_id(&app, &org).await),
        "{seen:#}"
    );
    assert_eq!(seen["email"], "ada@acme.test");
    assert_eq!(seen["org"], "acme");
    // A comma in a group name is encoded: it cannot add a group.
    assert_eq!(seen["groups"], "Engineering,Sales%2C Europe", "{seen:#}");
    assert!(seen.get("roles").is_none_or(|v| v == ""), "{seen:#}");
    assert!(seen.get("role").is_none_or(|v| v == ""), "{seen:#}");
    assert!(seen.get("token").is_none(), "{seen:#}");

    // Without a session, Gatehouse's 401 answers and the app is never reached.
    assert_eq!(
        forge(&client, &format!("{front}/dashboard"), None).await,
        Err(401)
    );
    // Gatehouse's own pages pass through to it.
    let r = client
        .get(format!("{front}/me"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .header("accept", "application/json")
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
    assert_eq!(
        forge(&client, &format!("{front}/dashboard"), Some(&cookie)).await,
        Err(401),
        "a deactivated user is stopped at once"
    );
}
