//! SCIM tokens on the setup page: issuing one (its secret shown in that response only, never
//! stored, never in a URL) and revoking one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::console::{Console, CsrfForm};
use super::setup::{back_to, SetupPage};
use crate::directory::{self, TokenId};
use crate::state::AppState;
use crate::web::pages::PageError;

/// The longest expiry the form takes: ten years.
const MAX_DAYS: u32 = 3650;

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_in_days: String,
}

/// Days until expiry: empty for a token that never expires.
fn parse_days(text: &str) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(days) if (1..=MAX_DAYS).contains(&days) => Ok(Some(days)),
        _ => Err(format!(
            "The token was not issued: its expiry must be a whole number of days from 1 to \
             {MAX_DAYS}, or empty for a token that never expires (not {text:?})."
        )),
    }
}

/// `POST /admin/orgs/{slug}/tokens`: issues a token and shows its secret once.
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    let days = match parse_days(&form.expires_in_days) {
        Ok(days) => days,
        Err(message) => {
            return SetupPage::refuse(&state, &console, &org, "tokens", message, |e| {
                e.token_description = form.description.clone();
                e.token_days = form.expires_in_days.clone();
            })
            .await
        }
    };
    let expires_at = days.map(|d| state.directory.now() + i64::from(d) * 86_400_000);
    let (_, secret) = state
        .directory
        .create_token(org.id, &form.description, expires_at, &console.actor())
        .await?;
    let mut page = SetupPage::load(&state, &console, &org).await?;
    page.new_token = Some(secret.0);
    Ok(page.render())
}

/// `POST /admin/orgs/{slug}/tokens/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    let unknown = || {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown token",
            "This organisation has no such SCIM token.",
        )
        .back_to("/admin", "Back to the console")
    };
    let id = TokenId::parse(&id).ok_or_else(unknown)?;
    match state
        .directory
        .revoke_token(org.id, id, &console.actor())
        .await
    {
        Ok(()) => Ok(back_to(&org, "tokens")),
        Err(directory::Error::NotFound(_)) => Err(unknown()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_days;

    #[test]
    fn expiry_is_empty_or_whole_days() {
        assert_eq!(parse_days(""), Ok(None));
        assert_eq!(parse_days(" 90 "), Ok(Some(90)));
        assert!(parse_days("0").is_err());
        assert!(parse_days("-3").is_err());
        assert!(parse_days("1.5").is_err());
        assert!(parse_days("3651").is_err());
    }
}
