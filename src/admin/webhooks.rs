//! `/admin/orgs/{slug}/webhooks`: an organisation's webhook endpoints in the console: each
//! with its status (a failing one stands out, with its last error), its recent attempts,
//! and the actions of the API: pause, resume, rotate the secret, send a test, redeliver
//! from a change, delete. A new or rotated secret is shown once, on the page that answers.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::console::{Console, Nav};
use crate::clock::rfc3339;
use crate::directory::orgs::Org;
use crate::directory::webhooks::{Endpoint, EndpointSettings};
use crate::directory::WebhookId;
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};
use crate::webhooks::endpoints::{self, WebhookError};

/// Attempts shown under each endpoint.
const SHOWN_ATTEMPTS: u32 = 5;

struct AttemptRow {
    seq: i64,
    attempt: i64,
    time: String,
    status: String,
    error: String,
}

struct EndpointRow {
    id: String,
    url: String,
    description: String,
    types: String,
    status: &'static str,
    delivered_through: i64,
    next_attempt: String,
    failing_since: String,
    last_error: String,
    attempts: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    nav: Nav,
    slug: String,
    endpoints: Vec<EndpointRow>,
    /// A secret just made (new endpoint or rotation): the endpoint and the secret.
    secret: Option<(String, String)>,
    /// What the last action did, or why it was refused.
    notice: Option<(bool, String)>,
    form_url: String,
    form_types: String,
    form_description: String,
    types_known: String,
}

#[derive(Deserialize)]
pub struct NewEndpointForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    types: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// For a redelivery: the change to start from.
    #[serde(default)]
    from: String,
}

/// What a rendering shows besides the endpoints.
#[derive(Default)]
struct Outcome {
    secret: Option<(String, String)>,
    notice: Option<(bool, String)>,
    form: Option<NewEndpointForm>,
}

async fn row(state: &AppState, e: Endpoint) -> Result<EndpointRow, PageError> {
    let attempts = state
        .directory
        .webhook_attempts(e.org_id, e.id, SHOWN_ATTEMPTS)
        .await?
        .into_iter()
        .map(|a| AttemptRow {
            seq: a.seq,
            attempt: a.attempt,
            time: rfc3339(a.at),
            status: a.status.map_or("no answer".into(), |s| s.to_string()),
            error: a.error.unwrap_or_default(),
        })
        .collect();
    let types: Vec<&str> = e.types.iter().map(|k| k.as_str()).collect();
    Ok(EndpointRow {
        id: e.id.to_string(),
        status: e.status(),
        types: if types.is_empty() {
            "every type".into()
        } else {
            types.join(", ")
        },
        delivered_through: e.delivered_through,
        next_attempt: if e.failures > 0 && e.failing_since.is_none() {
            rfc3339(e.next_attempt_at)
        } else {
            String::new()
        },
        failing_since: e.failing_since.map(rfc3339).unwrap_or_default(),
        last_error: e.last_error.unwrap_or_default(),
        url: e.url,
        description: e.description,
        attempts,
    })
}

async fn render(
    state: &AppState,
    console: &Console,
    org: &Org,
    status: StatusCode,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let mut rows = Vec::new();
    for e in state.directory.list_webhooks(org.id).await? {
        rows.push(row(state, e).await?);
    }
    let form = outcome.form.unwrap_or(NewEndpointForm {
        csrf: String::new(),
        url: String::new(),
        types: String::new(),
        description: String::new(),
    });
    let known: Vec<&str> = crate::directory::changes::ChangeKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let page = WebhooksPage {
        nav: console.nav(Some(org), "webhooks"),
        slug: org.slug.as_str().to_string(),
        endpoints: rows,
        secret: outcome.secret,
        notice: outcome.notice,
        form_url: form.url,
        form_types: form.types,
        form_description: form.description,
        types_known: known.join(", "),
    };
    Ok(console_page(status, &page))
}

/// `GET /admin/orgs/{slug}/webhooks`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let org = console.full_org(&state, &slug).await?;
    render(&state, &console, &org, StatusCode::OK, Outcome::default()).await
}

/// `POST /admin/orgs/{slug}/webhooks`: registers an endpoint and shows its secret once.
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<NewEndpointForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.full_org(&state, &slug).await?;
    let made = match endpoints::parse_types(&form.types) {
        Ok(types) => {
            let settings = EndpointSettings {
                url: Some(form.url.clone()),
                description: Some(form.description.clone()),
                types: Some(types),
                paused: None,
            };
            let (dir, sec, out) = (&state.directory, &state.secrets, &state.outbound);
            endpoints::create(dir, sec, out, org.id, settings, &console.actor()).await
        }
        Err(e) => Err(e),
    };
    match made {
        Ok((e, secret)) => {
            let outcome = Outcome {
                secret: Some((e.id.to_string(), secret)),
                ..Default::default()
            };
            render(&state, &console, &org, StatusCode::OK, outcome).await
        }
        Err(WebhookError::Invalid(why)) => {
            let outcome = Outcome {
                notice: Some((false, format!("The webhook was not added: {why}"))),
                form: Some(form),
                ..Default::default()
            };
            render(&state, &console, &org, StatusCode::BAD_REQUEST, outcome).await
        }
        Err(WebhookError::Directory(e)) => Err(e.into()),
    }
}

/// `POST /admin/orgs/{slug}/webhooks/{id}/{action}`: pause, resume, rotate, test,
/// redeliver or delete.
pub async fn act(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id, action)): Path<(String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.full_org(&state, &slug).await?;
    let unknown = || {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown webhook",
            "This organisation has no such webhook.",
        )
        .back_to("/admin", "Back to the console")
    };
    let id = WebhookId::parse(&id).ok_or_else(unknown)?;
    let endpoint = match state.directory.webhook(org.id, id).await {
        Ok(e) => e,
        Err(crate::directory::Error::NotFound(_)) => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    let (dir, actor) = (&state.directory, console.actor());
    let back = Redirect::to(&format!("/admin/orgs/{}/webhooks", org.slug)).into_response();
    let outcome = match action.as_str() {
        "pause" | "resume" => {
            let settings = EndpointSettings {
                paused: Some(action == "pause"),
                ..Default::default()
            };
            dir.update_webhook(org.id, id, &settings, &actor).await?;
            return Ok(back);
        }
        "delete" => {
            dir.delete_webhook(org.id, id, &actor).await?;
            return Ok(back);
        }
        "rotate" => {
            let hours = state.config.webhooks.rotation_overlap_hours;
            let overlap = i64::try_from(hours * 3_600_000).unwrap_or(i64::MAX);
            let (_, secret) =
                endpoints::rotate(dir, &state.secrets, org.id, id, overlap, &actor).await?;
            let note =
                format!("The previous secret keeps signing beside the new one for {hours} hours.");
            Outcome {
                secret: Some((id.to_string(), secret)),
                notice: Some((true, note)),
                ..Default::default()
            }
        }
        "test" => {
            let answer =
                endpoints::send_test(dir, &state.secrets, &state.outbound, &endpoint, &actor)
                    .await?;
            let notice = match answer.error {
                None => (
                    true,
                    format!(
                        "The test message was delivered: the receiver answered {}.",
                        answer.status.unwrap_or(0)
                    ),
                ),
                Some(why) => (false, format!("The test message was not delivered: {why}.")),
            };
            Outcome {
                notice: Some(notice),
                ..Default::default()
            }
        }
        "redeliver" => {
            let from = form.from.trim().parse::<i64>();
            let done = match from {
                Ok(from) => dir
                    .redeliver_webhook(org.id, id, from, &actor)
                    .await
                    .map(|_| from),
                Err(_) => Err(crate::directory::ParseError(format!(
                    "the change to start from must be a number, not {:?}",
                    form.from
                ))
                .into()),
            };
            match done {
                Ok(from) => Outcome {
                    notice: Some((true, format!("Deliveries start again from change {from}."))),
                    ..Default::default()
                },
                Err(crate::directory::Error::Invalid(why)) => Outcome {
                    notice: Some((false, format!("Nothing was redelivered: {why}."))),
                    ..Default::default()
                },
                Err(e) => return Err(e.into()),
            }
        }
        _ => return Err(unknown()),
    };
    let status = match &outcome.notice {
        Some((false, _)) if action == "redeliver" => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    render(&state, &console, &org, status, outcome).await
}

impl From<WebhookError> for PageError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(why) => PageError::new(StatusCode::BAD_REQUEST, "Not done", why),
            WebhookError::Directory(e) => e.into(),
        }
    }
}
