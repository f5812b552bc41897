//! Setup links on the setup page (platform admins only): issuing one, shown once as a URL to
//! hand to the customer's IT admin, and revoking one, which also ends the session it opened.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::console::{Console, CsrfForm};
use super::setup::{back_to, SetupPage};
use crate::directory;
use crate::state::AppState;
use crate::web::pages::PageError;

/// The longest a setup link may live: 30 days.
const MAX_HOURS: u64 = 30 * 24;

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    expires_in_hours: String,
}

fn parse_hours(text: &str, default: u64) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(default);
    }
    let max = MAX_HOURS.max(default);
    match text.parse::<u64>() {
        Ok(h) if (1..=max).contains(&h) => Ok(h),
        _ => Err(format!(
            "The setup link was not issued: it must expire in a whole number of hours from 1 \
             to {max} (not {text:?})."
        )),
    }
}

/// `POST /admin/orgs/{slug}/setup-links`.
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    console.require_platform()?;
    let hours = match parse_hours(&form.expires_in_hours, state.config.admin.setup_link_hours) {
        Ok(hours) => hours,
        Err(message) => {
            return SetupPage::refuse(&state, &console, &org, "links", message, |e| {
                e.link_note = form.note.clone();
                e.link_hours = form.expires_in_hours.clone();
            })
            .await
        }
    };
    let expires_at = state.directory.now() + hours as i64 * 3_600_000;
    let (_, secret) = state
        .directory
        .create_setup_link(org.id, &form.note, expires_at, &console.actor())
        .await?;
    let mut page = SetupPage::load(&state, &console, &org).await?;
    page.new_link = Some(format!(
        "{}/admin/setup/{secret}",
        state.config.server.base_url()
    ));
    Ok(page.render())
}

/// `POST /admin/orgs/{slug}/setup-links/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    console.require_platform()?;
    match state
        .directory
        .revoke_setup_link(org.id, &id, &console.actor())
        .await
    {
        Ok(()) => Ok(back_to(&org, "links")),
        Err(directory::Error::NotFound(_)) => Err(PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown setup link",
            "This organisation has no such setup link, or it is revoked already.",
        )
        .back_to("/admin", "Back to the console")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_hours;

    #[test]
    fn expiry_is_whole_hours_with_a_default() {
        assert_eq!(parse_hours("", 72), Ok(72));
        assert_eq!(parse_hours("5", 72), Ok(5));
        assert!(parse_hours("0", 72).is_err());
        assert!(parse_hours("721", 72).is_err());
        assert!(parse_hours("soon", 72).is_err());
    }
}
