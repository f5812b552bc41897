//! The buttons on a user's page: deactivate, reactivate, sign out everywhere, and erase
//! (after the admin has typed the userName). Each checks the form's CSRF token first, acts
//! through the directory with the admin as actor (so the event log names the admin) and
//! sends the admin back with a 303.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::console::{Console, CsrfForm};
use super::users::{find, user_page};
use crate::directory::policy::OnDeactivate;
use crate::directory::{self, Org};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/orgs/{slug}/users/{id}/deactivate`: the user's sessions end at once.
pub async fn deactivate(
    state: State<AppState>,
    console: Console,
    path: Path<(String, String)>,
    form: Form<CsrfForm>,
) -> Result<Response, PageError> {
    set_active(state, console, path, form, false).await
}

/// `POST /admin/orgs/{slug}/users/{id}/reactivate`.
pub async fn reactivate(
    state: State<AppState>,
    console: Console,
    path: Path<(String, String)>,
    form: Form<CsrfForm>,
) -> Result<Response, PageError> {
    set_active(state, console, path, form, true).await
}

async fn set_active(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
    active: bool,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.full_org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    let result = state
        .directory
        .set_active(&org, user.id, active, &console.actor())
        .await;
    // Under on_deactivate=delete the user is gone now: back to the list.
    if !active && org.settings.policy.on_deactivate == OnDeactivate::Delete {
        return result
            .map(|_| Redirect::to(&format!("/admin/orgs/{}/users", org.slug)).into_response())
            .map_err(failed);
    }
    let done = if active { "reactivate" } else { "deactivate" };
    after(&org, &user.id.to_string(), done, result.map(|_| ()))
}

/// `POST /admin/orgs/{slug}/users/{id}/sign-out`: ends every session, leaves the user active.
pub async fn sign_out(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.full_org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    let result = state
        .directory
        .sign_out_everywhere(org.id, user.id, &console.actor())
        .await;
    after(&org, &user.id.to_string(), "sign-out", result)
}

/// `POST /admin/orgs/{slug}/users/{id}/erase`: only when `confirm` is the userName exactly.
pub async fn erase(
    State(state): State<AppState>,
    console: Console,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<EraseForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.full_org(&state, &slug).await?;
    let user = find(&state, &org, &id).await?;
    if form.confirm != user.user_name.as_str() {
        let mut page = user_page(&state, &console, &org, &user).await?;
        page.problem = Some(format!(
            "Nothing was erased: to erase this user, type its userName, {}, exactly.",
            user.user_name.as_str()
        ));
        return Ok(console_page(StatusCode::BAD_REQUEST, &page));
    }
    match state
        .directory
        .erase_user(org.id, user.id, &console.actor())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/admin/orgs/{}/users", org.slug)).into_response()),
        Err(e) => Err(failed(e)),
    }
}

/// Back to the user's page, or the page for what went wrong.
fn after(
    org: &Org,
    id: &str,
    done: &str,
    result: directory::Result<()>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(
            Redirect::to(&format!("/admin/orgs/{}/users/{id}?done={done}", org.slug))
                .into_response(),
        ),
        Err(e) => Err(failed(e)),
    }
}

/// A user that went away between the page and the button is a 404, like an unknown one.
fn failed(e: directory::Error) -> PageError {
    match e {
        directory::Error::NotFound(_) => PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown user",
            "This organisation has no such user (any more). Nothing was changed.",
        )
        .back_to("/admin", "Back to the console"),
        other => other.into(),
    }
}
