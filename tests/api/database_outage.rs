//! The database goes away under a running server (issue: bad input): while PostgreSQL is
//! unreachable, SCIM requests get 503 in SCIM's format within the acquire timeout instead of
//! hanging, and when it is back the server recovers on its own, with every acknowledged
//! write still there. The outage is made by a TCP relay between the server and PostgreSQL
//! that the test cuts and restores. SQLite has no server to lose: on SQLite the test only
//! checks that it is skipped for that reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::support::scim::{Scim, USER_URN};
use crate::support::{TestApp, PG_ENV};

/// A relay from a local port to PostgreSQL that can be cut (every connection dropped, the
/// port closed) and restored on the same port.
pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Relay {
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let relay = Self {
            addr,
            target,
            tasks: Arc::new(Mutex::new(JoinSet::new())),
        };
        relay.serve(listener).await;
        relay
    }

    async fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let tasks = self.tasks.clone();
        let mut guard = self.tasks.lock().await;
        guard.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let tasks = tasks.clone();
                tokio::spawn(async move {
                    tasks.lock().await.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                });
            }
        });
    }

    /// Drops every connection and closes the port: connecting is refused from now on.
    pub(crate) async fn cut(&self) {
        self.tasks.lock().await.abort_all();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    pub(crate) async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener).await;
    }
}

/// On PostgreSQL, a server that reaches its database through a relay the test can cut;
/// None on SQLite, whose database is a file in the server's own process.
pub(crate) async fn behind_relay() -> Option<(TestApp, Relay)> {
    let server = std::env::var(PG_ENV).ok()?;
    let relay = Relay::start(pg_target(&server)).await;
    let relay_addr = relay.addr;
    let app = TestApp::spawn_with(move |c| {
        let mut url = url::Url::parse(c.database.url.expose()).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(relay_addr.port())).unwrap();
        c.database.url = gatehouse::config::DatabaseUrl::new(url.to_string());
        c.database.acquire_timeout_ms = 1000;
    })
    .await;
    Some((app, relay))
}

fn pg_target(server: &str) -> SocketAddr {
    let url = url::Url::parse(server).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap_or(5432);
    let ip = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{ip}:{port}").parse().unwrap()
}

#[tokio::test]
async fn while_postgresql_is_away_scim_answers_503_and_recovers_without_losing_a_write() {
    let Some((app, relay)) = behind_relay().await else {
        // SQLite is a file in the server's own process: it cannot be away.
        return;
    };
    let scim = Scim::new(&app, "acme").await;
    let user = |name: &str| json!({"schemas": [USER_URN], "userName": name, "active": true});
    let kept = scim.post("/Users", user("before")).await;
    assert_eq!(kept.status, 201);

    relay.cut().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let r = client
        .post(app.url("/scim/v2/acme/Users"))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body(user("during").to_string())
        .send()
        .await
        .expect("an answer, not a hang");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/scim+json"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "503");
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    relay.restore().await;
    let mut recovered = None;
    for _ in 0..40 {
        let r = scim.post("/Users", user("after")).await;
        if r.status == 201 {
            recovered = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered.is_some(), "the server recovers on its own");
    let id = kept.body["id"].as_str().unwrap();
    assert_eq!(
        scim.get(&format!("/Users/{id}")).await.status,
        200,
        "the acknowledged write is there"
    );
    assert_eq!(
        scim.get("/Users?filter=userName%20eq%20%22during%22")
            .await
            .body["totalResults"],
        0
    );
}
