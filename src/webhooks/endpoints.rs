//! Managing an organisation's endpoints, for the console, the API and the command line
//! alike: the checks a URL and its types must pass, new and rotated secrets (shown once,
//! stored sealed), and "send a test".

use crate::clock::Millis;
use crate::directory::changes::ChangeKind;
use crate::directory::webhooks::{Endpoint, EndpointSettings};
use crate::directory::{self, Actor, Directory, OrgId, WebhookId};
use crate::outbound::Outbound;
use crate::secrets::SecretBox;

use super::delivery::{self, Answer, Message};
use super::signature::Secret;

/// The longest URL accepted.
const MAX_URL_CHARS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Directory(#[from] directory::Error),
}

/// Checks a receiver URL: https, or http on a loopback address (as for IdP URLs), with a
/// host the outbound client would connect to. Returns it trimmed.
pub fn check_url(outbound: &Outbound, url: &str) -> Result<String, WebhookError> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(WebhookError::Invalid(format!(
            "the URL is longer than {MAX_URL_CHARS} characters"
        )));
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| WebhookError::Invalid(format!("{url:?} is not a URL: {e}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::Invalid(
            "the URL must not carry a user name or password; the signature authenticates deliveries".into(),
        ));
    }
    if !crate::sso::saml::metadata::idp_url_allowed(url) {
        return Err(WebhookError::Invalid(format!(
            "the URL must be https:// (http:// only on loopback addresses): {url}"
        )));
    }
    if let Some(why) = outbound.refusal(url) {
        return Err(WebhookError::Invalid(why));
    }
    Ok(url.to_string())
}

/// Change types from a comma-separated list (empty for all).
pub fn parse_types(raw: &str) -> Result<Vec<ChangeKind>, WebhookError> {
    ChangeKind::parse_list(raw).map_err(WebhookError::Invalid)
}

/// The checks every setting passes before it is stored.
fn checked(outbound: &Outbound, mut s: EndpointSettings) -> Result<EndpointSettings, WebhookError> {
    if let Some(url) = &s.url {
        s.url = Some(check_url(outbound, url)?);
    }
    if let Some(d) = &s.description {
        let d = d.trim();
        if d.chars().count() > 200 {
            return Err(WebhookError::Invalid(
                "the description is longer than 200 characters".into(),
            ));
        }
        s.description = Some(d.to_string());
    }
    Ok(s)
}

/// Registers an endpoint; returns it with its secret, which is shown this once.
pub async fn create(
    directory: &Directory,
    secrets: &SecretBox,
    outbound: &Outbound,
    org: OrgId,
    settings: EndpointSettings,
    actor: &Actor,
) -> Result<(Endpoint, String), WebhookError> {
    if settings.url.is_none() {
        return Err(WebhookError::Invalid("a webhook needs a url".into()));
    }
    let settings = checked(outbound, settings)?;
    let secret = Secret::generate().encode();
    let endpoint = directory
        .create_webhook(org, &settings, &secrets.seal(&secret), actor)
        .await?;
    Ok((endpoint, secret))
}

pub async fn update(
    directory: &Directory,
    outbound: &Outbound,
    org: OrgId,
    id: WebhookId,
    settings: EndpointSettings,
    actor: &Actor,
) -> Result<Endpoint, WebhookError> {
    let settings = checked(outbound, settings)?;
    Ok(directory.update_webhook(org, id, &settings, actor).await?)
}

/// A new secret; the current one keeps signing beside it for `overlap_ms`.
pub async fn rotate(
    directory: &Directory,
    secrets: &SecretBox,
    org: OrgId,
    id: WebhookId,
    overlap_ms: Millis,
    actor: &Actor,
) -> Result<(Endpoint, String), WebhookError> {
    let secret = Secret::generate().encode();
    let until = directory.now() + overlap_ms;
    let endpoint = directory
        .rotate_webhook_secret(org, id, &secrets.seal(&secret), until, actor)
        .await?;
    Ok((endpoint, secret))
}

/// Sends a `webhook.test` message, signed like any delivery but outside the sequence
/// (its id is its own), and says what the receiver answered.
pub async fn send_test(
    directory: &Directory,
    secrets: &SecretBox,
    outbound: &Outbound,
    endpoint: &Endpoint,
    actor: &Actor,
) -> Result<Answer, WebhookError> {
    let now = directory.now();
    let signing =
        delivery::signing_secrets(secrets, endpoint, now).map_err(WebhookError::Invalid)?;
    let id = format!("msg_test_{}", crate::random::token(12));
    let body = serde_json::json!({
        "type": "webhook.test",
        "time": crate::clock::rfc3339(now),
        "webhook": endpoint.id,
    });
    let answer = delivery::send(
        outbound,
        &endpoint.url,
        &signing,
        &Message::new(id, now, &body),
    )
    .await;
    let detail = serde_json::json!({ "status": answer.status, "reason": answer.error });
    let target = Some(endpoint.id.to_string());
    if answer.delivered() {
        directory
            .record_success(Some(endpoint.org_id), actor, "webhook.test", target, detail)
            .await?;
    } else {
        directory
            .record_failure_detail(Some(endpoint.org_id), actor, "webhook.test", target, detail)
            .await?;
    }
    Ok(answer)
}
