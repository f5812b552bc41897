//! One delivery: a message (its id, time and body bytes) signed with each of the
//! endpoint's current secrets and POSTed through the outbound client, whose address checks
//! apply to webhook URLs as to every other fetch.

use crate::clock::Millis;
use crate::directory::webhooks::Endpoint;
use crate::directory::OrgId;
use crate::outbound::Outbound;
use crate::secrets::SecretBox;

use super::signature::{self, Secret};

/// A message as sent: the body is serialised once and sent as the very bytes signed.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    /// Seconds since the epoch, as `webhook-timestamp` carries it.
    pub timestamp: i64,
    pub body: Vec<u8>,
}

impl Message {
    pub fn new(id: String, now: Millis, body: &serde_json::Value) -> Self {
        Self {
            id,
            timestamp: now.div_euclid(1000),
            body: serde_json::to_vec(body).expect("JSON values serialise"),
        }
    }
}

/// The `webhook-id` of change `seq` of an organisation: the same for every attempt and
/// every endpoint, so a receiver drops a repeat by it (Standard Webhooks, "Idempotency").
pub fn message_id(org: OrgId, seq: i64) -> String {
    format!("msg_{}_{seq}", org.0.simple())
}

/// The secrets that sign for an endpoint at `now`: its own, and the one before the last
/// rotation while that still overlaps.
pub fn signing_secrets(
    secrets: &SecretBox,
    endpoint: &Endpoint,
    now: Millis,
) -> Result<Vec<Secret>, String> {
    let open = |sealed: &str| {
        let text = secrets.open(sealed).map_err(|e| e.to_string())?;
        Secret::parse(&text)
            .ok_or_else(|| "a stored webhook secret is not a whsec_ secret".to_string())
    };
    let mut out = vec![open(&endpoint.sealed_secret)?];
    if let Some((sealed, until)) = &endpoint.sealed_previous {
        if *until > now {
            out.push(open(sealed)?);
        }
    }
    Ok(out)
}

/// What the receiver made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Its HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why the delivery counts as failed, when it does: any status but 2xx, or no answer.
    pub error: Option<String>,
}

impl Answer {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Signs and sends one message.
pub async fn send(outbound: &Outbound, url: &str, secrets: &[Secret], message: &Message) -> Answer {
    let signature = signature::header(secrets, &message.id, message.timestamp, &message.body);
    let headers = [
        ("content-type", "application/json".to_string()),
        (
            "user-agent",
            concat!("Gatehouse/", env!("CARGO_PKG_VERSION")).to_string(),
        ),
        ("webhook-id", message.id.clone()),
        ("webhook-timestamp", message.timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    match outbound.post(url, &headers, message.body.clone()).await {
        Ok((status, _)) if status.is_success() => Answer {
            status: Some(status.as_u16()),
            error: None,
        },
        Ok((status, _)) => Answer {
            status: Some(status.as_u16()),
            error: Some(format!("the receiver answered {status}")),
        },
        Err(e) => Answer {
            status: None,
            error: Some(describe(&e)),
        },
    }
}

/// An outbound failure in words an operator can act on (reqwest's own text hides the
/// cause behind "error sending request").
fn describe(e: &crate::outbound::OutboundError) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
