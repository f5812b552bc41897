//! A webhook receiver for tests: a real HTTP server on a loopback port that keeps every
//! delivery (its headers and body bytes, exactly as received) and answers with a status
//! the test sets.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use gatehouse::webhooks::signature::Secret;
use serde_json::Value;

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Whether one of the signatures in the header is `secret`'s over this delivery.
    pub fn signed_by(&self, secret: &str) -> bool {
        let secret = Secret::parse(secret).expect("a whsec_ secret");
        let expected = secret.sign(&self.id, self.timestamp, &self.body);
        self.signature.split(' ').any(|s| s == expected)
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Delivery>>,
    status: AtomicU16,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    shared.received.lock().unwrap().push(Delivery {
        id: text("webhook-id"),
        timestamp: text("webhook-timestamp").parse().unwrap_or(-1),
        signature: text("webhook-signature"),
        body: body.to_vec(),
    });
    StatusCode::from_u16(shared.status.load(Ordering::SeqCst)).unwrap()
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// The status every delivery from now on is answered with.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (up to thirty seconds: the whole PostgreSQL suite runs beside it) until at
    /// least `n` deliveries have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..600 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} deliveries, got {:?}", self.received());
    }

    /// Waits long enough for the worker to have sent anything due (it looks every
    /// second), and returns what arrived.
    pub async fn settle(&self) -> Vec<Delivery> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.received()
    }
}
