//! The OpenID Connect connection on the setup page: issuer, client ID, client secret and
//! scopes, checked against the issuer's discovery document through [`crate::admin::ops`].

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::console::Console;
use super::ops::{configure_oidc, OidcSettings, SetupError};
use super::setup::{back_to, SetupPage};
use crate::directory::connections::oidc::same_issuer;
use crate::state::AppState;
use crate::web::pages::PageError;

/// The scopes asked for besides `openid` when the form leaves them empty.
pub const DEFAULT_SCOPES: &str = "email profile";

#[derive(Deserialize)]
pub struct OidcForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    /// "on" when the current secret is to stay although the secret field is empty.
    #[serde(default)]
    keep_secret: String,
    #[serde(default)]
    scopes: String,
}

/// `POST /admin/orgs/{slug}/oidc`.
pub async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<OidcForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    let secret = match client_secret(&state, &org, &form).await? {
        Ok(secret) => secret,
        Err(message) => return refuse(&state, &console, &org, &form, message).await,
    };
    let scopes = match form.scopes.trim() {
        "" => DEFAULT_SCOPES,
        s => s,
    };
    let settings = OidcSettings {
        issuer: form.issuer.clone(),
        client_id: form.client_id.clone(),
        client_secret: secret,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
    };
    let done = configure_oidc(
        &state.directory,
        &state.secrets,
        &state.outbound,
        &org,
        settings,
        &console.actor(),
    )
    .await;
    match done {
        Ok(_) => Ok(back_to(&org, "oidc")),
        Err(SetupError::Invalid(reason)) => {
            let message = format!("The OpenID Connect connection was not saved: {reason}.");
            refuse(&state, &console, &org, &form, message).await
        }
        Err(SetupError::Directory(e)) => Err(e.into()),
    }
}

/// The secret to store: the one typed in; else, when asked to keep it, the current one
/// (only while the issuer stays the same); else none (a public client, PKCE only). The
/// inner error is a message for the admin.
async fn client_secret(
    state: &AppState,
    org: &crate::directory::Org,
    form: &OidcForm,
) -> Result<Result<Option<String>, String>, PageError> {
    if !form.client_secret.is_empty() {
        return Ok(Ok(Some(form.client_secret.clone())));
    }
    if form.keep_secret != "on" {
        return Ok(Ok(None));
    }
    let current = state.directory.oidc_connection(org.id).await?;
    // A secret belongs to its provider: a new issuer never inherits the old one's.
    let current = current.filter(|c| same_issuer(&c.issuer, form.issuer.trim()));
    let Some(sealed) = current.and_then(|c| c.sealed_secret) else {
        return Ok(Ok(None));
    };
    Ok(match state.secrets.open(&sealed) {
        Ok(secret) => Ok(Some(secret)),
        Err(_) => Err(
            "The OpenID Connect connection was not saved: the stored client secret \
             cannot be read with this server's secrets key; enter the secret again."
                .to_string(),
        ),
    })
}

async fn refuse(
    state: &AppState,
    console: &Console,
    org: &crate::directory::Org,
    form: &OidcForm,
    message: String,
) -> Result<Response, PageError> {
    // The secret is not sent back into the page.
    SetupPage::refuse(state, console, org, "oidc", message, |e| {
        e.oidc_issuer = form.issuer.clone();
        e.oidc_client_id = form.client_id.clone();
        e.oidc_scopes = form.scopes.clone();
    })
    .await
}
