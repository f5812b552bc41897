//! `/admin/account`: a platform admin changes its own password (the current one required)
//! or resets another platform admin's. Either ends that admin's other console sessions.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::console::{Console, Nav};
use crate::directory::console::admin_sessions::Principal;
use crate::directory::{Email, Error};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    nav: Nav,
    min_length: usize,
    notice: Option<String>,
    problem: Option<String>,
}

fn render(
    console: &Console,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let page = AccountPage {
        nav: console.nav(None, "account"),
        min_length: crate::password::MIN_LENGTH,
        notice,
        problem,
    };
    console_page(status, &page)
}

fn refused(console: &Console, problem: impl Into<String>) -> Response {
    render(console, StatusCode::BAD_REQUEST, None, Some(problem.into()))
}

/// `GET /admin/account`.
pub async fn show(console: Console) -> Result<Response, PageError> {
    console.require_platform()?;
    Ok(render(&console, StatusCode::OK, None, None))
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/account/password`: the admin's own password; its other sessions end.
pub async fn change(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<ChangeForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    console.require_platform()?;
    let Principal::Platform { admin_id, .. } = console.principal() else {
        unreachable!("require_platform checked it");
    };
    let stored = state.directory.admin_password_hash_by_id(*admin_id).await?;
    if !stored.is_some_and(|h| crate::password::verify(&form.current, &h)) {
        return Ok(refused(
            &console,
            "The current password is not right; nothing changed.",
        ));
    }
    if form.password != form.confirm {
        return Ok(refused(
            &console,
            "The two new passwords differ; nothing changed.",
        ));
    }
    let hash = match crate::password::hash(&form.password) {
        Ok(h) => h,
        Err(e) => return Ok(refused(&console, format!("Not changed: {e}."))),
    };
    let ended = state
        .directory
        .set_admin_password(
            *admin_id,
            &hash,
            Some(&console.session.id_hash),
            "admin.password.change",
            &console.actor(),
        )
        .await?;
    let notice = format!("Your password is changed; {ended} other session(s) ended.");
    Ok(render(&console, StatusCode::OK, Some(notice), None))
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/account/reset`: another platform admin's password; all its sessions end.
pub async fn reset(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    console.require_platform()?;
    let unknown = || {
        refused(
            &console,
            "No platform admin has that email; nothing changed.",
        )
    };
    let Ok(email) = Email::parse(&form.email) else {
        return Ok(unknown());
    };
    let Some((admin, _)) = state.directory.admin_password_hash(&email).await? else {
        return Ok(unknown());
    };
    let hash = match crate::password::hash(&form.password) {
        Ok(h) => h,
        Err(e) => return Ok(refused(&console, format!("Not reset: {e}."))),
    };
    // Resetting one's own password here would skip the current-password check.
    let keep = match console.principal() {
        Principal::Platform { admin_id, .. } if *admin_id == admin => {
            return Ok(refused(
                &console,
                "Use \"Change your password\" for your own account.",
            ));
        }
        _ => None,
    };
    match state
        .directory
        .set_admin_password(admin, &hash, keep, "admin.password.reset", &console.actor())
        .await
    {
        Ok(ended) => {
            let notice = format!(
                "The password of {} is reset; {ended} session(s) of that admin ended.",
                email.as_str()
            );
            Ok(render(&console, StatusCode::OK, Some(notice), None))
        }
        Err(Error::NotFound(_)) => Ok(unknown()),
        Err(e) => Err(e.into()),
    }
}
