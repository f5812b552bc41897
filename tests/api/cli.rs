//! The `gatehouse` binary, run as an operator would run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse::clock::SystemClock;
use gatehouse::config::{DatabaseConfig, DatabaseUrl};
use gatehouse::db::Db;
use gatehouse::directory::{Directory, TokenId};

use crate::support::{gatehouse, stderr, stdout, TestDb};

async fn directory(url: &str) -> Directory {
    let config = DatabaseConfig {
        url: DatabaseUrl::new(url),
        ..Default::default()
    };
    let db = Db::connect(&config).await.unwrap();
    Directory::new(db, std::sync::Arc::new(SystemClock))
}

#[tokio::test]
async fn an_operator_creates_an_organisation_and_manages_its_tokens() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    let run = |args: &[&str]| gatehouse(cwd, &db.url, args, None);

    let out = run(&[
        "org",
        "create",
        "acme",
        "--domain",
        "acme.test",
        "--name",
        "Acme",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["org", "show", "acme"]))).unwrap();
    assert_eq!(shown["domains"], serde_json::json!(["acme.test"]));
    assert_eq!(shown["settings"]["jit"], true);

    let out = run(&[
        "token",
        "create",
        "acme",
        "--description",
        "okta",
        "--expires-in",
        "90d",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let secret = printed.lines().last().unwrap().trim().to_string();
    assert!(
        secret.starts_with("ghs_") && !secret.contains(' '),
        "alone on the last line: {printed}"
    );

    let dir = directory(&db.url).await;
    let org = dir.org_by_slug("acme").await.unwrap().unwrap();
    let info = dir
        .verify_token(org.id, &secret)
        .await
        .unwrap()
        .expect("the printed token works");
    assert!(info.expires_at.is_some());

    let listed = stdout(&run(&["token", "list", "acme"]));
    assert!(listed.contains(&info.id.to_string()), "{listed}");
    assert!(
        listed.contains("okta") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "the list never shows the secret");

    let out = run(&["token", "revoke", "acme", &info.id.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        dir.verify_token(org.id, &secret).await.unwrap().is_err(),
        "revoked"
    );
    assert!(stdout(&run(&["token", "list", "acme"])).contains("revoked"));

    let out = run(&["token", "revoke", "acme", &TokenId::new().to_string()]);
    assert!(!out.status.success(), "an unknown token id is an error");
}

#[tokio::test]
async fn org_set_changes_settings_and_refuses_unknown_keys() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    let run = |args: &[&str]| gatehouse(cwd, &db.url, args, None);
    assert!(run(&["org", "create", "acme"]).status.success());
    let out = run(&[
        "org",
        "set",
        "acme",
        "jit=false",
        "domains=acme.test,acme.example",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["org", "show", "acme"]))).unwrap();
    assert_eq!(shown["settings"]["jit"], false);
    assert_eq!(
        shown["domains"],
        serde_json::json!(["acme.example", "acme.test"])
    );

    let out = run(&["org", "set", "acme", "colour=blue"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown setting"), "{}", stderr(&out));

    let out = run(&["org", "create", "Bad Slug"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("slug"), "{}", stderr(&out));
    let out = run(&["org", "show", "nobody"]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn admin_create_hashes_the_password_with_argon2id() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    let out = gatehouse(
        cwd,
        &db.url,
        &["admin", "create", "root@ops.test", "--password-stdin"],
        Some("a long enough password\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let dir = directory(&db.url).await;
    let email = gatehouse::directory::Email::parse("ROOT@ops.test").unwrap();
    let (_, hash) = dir.admin_password_hash(&email).await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(gatehouse::password::verify("a long enough password", &hash));

    let out = gatehouse(
        cwd,
        &db.url,
        &["admin", "create", "root@ops.test", "--password-stdin"],
        Some("another long password\n"),
    );
    assert!(!out.status.success(), "the same email twice");
    let out = gatehouse(
        cwd,
        &db.url,
        &["admin", "create", "new@ops.test", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!out.status.success(), "too short");

    let out = gatehouse(cwd, &db.url, &["admin", "create", "gen@ops.test"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let password = stdout(&out).lines().last().unwrap().to_string();
    let (_, hash) = dir
        .admin_password_hash(&gatehouse::directory::Email::parse("gen@ops.test").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        gatehouse::password::verify(&password, &hash),
        "the printed password works"
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = gatehouse(
        dir.path(),
        "sqlite://x.db",
        &["--config", "nope.toml", "migrate"],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope.toml"), "{}", stderr(&out));
}

/// `make run` in a fresh checkout: no configuration, no database, no folder.
#[tokio::test]
async fn serve_with_no_configuration_creates_its_sqlite_database_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("GATEHOUSE_DATABASE__URL")
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stdout = BufReader::new(stdout);
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    });
    let (line, stdout) = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .unwrap()
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("gatehouse listening on ")
        .expect(&line)
        .to_string();

    let r = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "trace-me-7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(dir.path().join("data/gatehouse.db").is_file());

    // No admin yet: the server printed a one-time link into the console's first-admin form.
    let reader = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let notice = lines.next().unwrap().unwrap();
        let link = lines.next().unwrap().unwrap();
        (notice, link)
    });
    let (notice, link) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(notice.contains("No platform admin"), "{notice}");
    let path = &link[link.find("/admin/first-admin?token=").expect(&link)..];
    let browser = crate::support::console::browser();
    let form = browser.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    let token = crate::support::console::field_value(&html, "token").unwrap();
    let csrf = crate::support::console::csrf_of(&html);
    let created = browser
        .post(format!("{base}/admin/first-admin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("email", "first@ops.test"),
            ("password", "a long enough password"),
            ("confirm", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    let orgs = browser
        .get(format!("{base}/admin/orgs"))
        .send()
        .await
        .unwrap();
    assert_eq!(orgs.status(), 200, "the new admin is signed in");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    // Every line logged while answering a request names that request.
    let logged = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains("/healthz")).collect();
    assert!(!lines.is_empty(), "the request was logged: {logged}");
    assert!(lines.iter().all(|l| l.contains("trace-me-7")), "{logged}");
}

// Several threads: the receiver answers while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_registers_tests_rotates_and_removes_a_webhook() {
    let db = TestDb::new().await;
    let cwd = db.dir.path();
    let run = |args: &[&str]| gatehouse(cwd, &db.url, args, None);
    assert!(run(&["org", "create", "acme"]).status.success());
    let receiver = crate::support::webhook_receiver::Receiver::start().await;

    let out = run(&[
        "webhook",
        "create",
        "acme",
        "--url",
        "https://10.0.0.1/hook",
    ]);
    assert!(!out.status.success(), "an inward URL is refused");
    assert!(stderr(&out).contains("private"), "{}", stderr(&out));
    let out = run(&[
        "webhook",
        "create",
        "acme",
        "--url",
        &receiver.url,
        "--types",
        "user.nope",
    ]);
    assert!(
        stderr(&out).contains("not a change type"),
        "{}",
        stderr(&out)
    );

    let out = run(&[
        "webhook",
        "create",
        "acme",
        "--url",
        &receiver.url,
        "--types",
        "user.created,user.deactivated",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let secret = printed.lines().last().unwrap().trim().to_string();
    assert!(
        secret.starts_with("whsec_") && !secret.contains(' '),
        "{printed}"
    );
    let dir = directory(&db.url).await;
    let org = dir.org_by_slug("acme").await.unwrap().unwrap();
    let hooks = dir.list_webhooks(org.id).await.unwrap();
    assert_eq!(hooks.len(), 1);
    let id = hooks[0].id.to_string();

    let listed = stdout(&run(&["webhook", "list", "acme"]));
    assert!(
        listed.contains(&id) && listed.contains("user.created,user.deactivated"),
        "{listed}"
    );
    assert!(!listed.contains(&secret));

    let out = run(&["webhook", "test", "acme", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = receiver.wait_for(1).await;
    assert!(got[0].signed_by(&secret), "the printed secret signs");

    assert!(stdout(&run(&["webhook", "pause", "acme", &id])).contains("paused"));
    assert!(dir.webhook(org.id, hooks[0].id).await.unwrap().paused);
    assert!(stdout(&run(&["webhook", "resume", "acme", &id])).contains("active"));

    let out = run(&["webhook", "rotate", "acme", &id, "--overlap-hours", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rotated = stdout(&out).lines().last().unwrap().trim().to_string();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    assert!(run(&["webhook", "test", "acme", &id]).status.success());
    let got = receiver.wait_for(2).await;
    assert!(got[1].signed_by(&rotated) && !got[1].signed_by(&secret));

    let out = run(&["webhook", "redeliver", "acme", &id, "--from", "5"]);
    assert!(!out.status.success(), "no change 5 exists yet");
    assert!(run(&["webhook", "redeliver", "acme", &id, "--from", "1"])
        .status
        .success());
    receiver.answer(500);
    let out = run(&["webhook", "test", "acme", &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("500"), "{}", stderr(&out));

    assert!(run(&["webhook", "delete", "acme", &id]).status.success());
    assert!(dir.list_webhooks(org.id).await.unwrap().is_empty());
    assert!(!run(&["webhook", "show", "acme", &id]).status.success());
}
