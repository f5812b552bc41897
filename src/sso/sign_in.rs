//! The last step of a sign-in through either door, once the IdP's answer is verified, so
//! that SAML and OIDC answer every outcome the same way.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::directory::orgs::Org;
use crate::session::{lifetimes, set_cookie};
use crate::sso::{resolve_login, Assertion, LoginError};
use crate::state::AppState;
use crate::web::pages::{page, Message, PageError};

/// Resolves the person (`resolve_login` links or creates the user and records the login,
/// refused or not, once), opens the session and answers: a redirect to `return_to` with
/// the session cookie; a 403 page saying why the person cannot sign in; a failure of
/// Gatehouse itself as a `PageError` (503 while the database is away, else 500), never a
/// refusal, and never a second event for the same login.
pub async fn respond(
    state: &AppState,
    org: &Org,
    asserted: &Assertion,
    return_to: &str,
) -> Result<Response, PageError> {
    match resolve_login(&state.directory, org, asserted).await {
        Ok(user) => {
            let session = state
                .directory
                .create_session(org, &user, lifetimes(&state.config))
                .await?;
            let cookie = set_cookie(&state.config, &session.cookie);
            Ok(([cookie], Redirect::to(return_to)).into_response())
        }
        Err(LoginError::Failed(e)) => Err(e.into()),
        Err(refused) => {
            let (_, message) = refused.refusal().unwrap_or_default();
            Ok(page(
                StatusCode::FORBIDDEN,
                &Message::new("You cannot sign in", &message),
            ))
        }
    }
}
