//! The last step of a sign-in through either door, once the IdP's answer is verified, so
//! that SAML and OIDC answer every outcome the same way.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::directory::orgs::Org;
use crate::directory::sign_in::Replay;
use crate::directory::Actor;
use crate::session::{lifetimes, set_cookie};
use crate::sso::{Assertion, LoginError};
use crate::state::AppState;
use crate::web::pages::{page, Message, PageError};

/// Signs the person in ([`crate::directory::Directory::sign_in`]: one transaction that
/// links or creates the user, opens the session and records the login, or records the
/// refusal once) and answers: a redirect to `return_to` with the session cookie; a 403
/// page saying why the person cannot sign in; a failure of Gatehouse itself as a
/// `PageError` (503 while the database is away, else 500), never a refusal. `replay`: the
/// assertion's one-time ID, for the door whose messages carry one (SAML, prefix `door`).
pub async fn respond(
    state: &AppState,
    org: &Org,
    asserted: &Assertion,
    replay: Option<(&str, Replay<'_>)>,
    return_to: &str,
) -> Result<Response, PageError> {
    let lifetimes = lifetimes(&state.config);
    let signed = state
        .directory
        .sign_in(org, asserted, replay.map(|(_, r)| r), lifetimes)
        .await;
    let refused = match signed {
        Ok(signed) => {
            let cookie = set_cookie(&state.config, &signed.session.cookie);
            return Ok(([cookie], Redirect::to(return_to)).into_response());
        }
        Err(LoginError::Failed(e)) => return Err(e.into()),
        Err(refused) => refused,
    };
    let (reason, message) = refused.refusal().unwrap_or_default();
    if let (LoginError::Replayed(_), Some((door, _))) = (&refused, replay) {
        // Anyone holding a copy can post it again: folded like the door's other refusals.
        let actor = Actor::Idp(asserted.connection.clone());
        state
            .floodgate
            .record_refusal(
                &state.directory,
                org.id,
                &actor,
                &format!("{door}: {reason}"),
            )
            .await?;
        let m = Message::new("Sign-in failed", &message).link("/login", "Go to the sign-in page");
        return Ok(page(StatusCode::FORBIDDEN, &m));
    }
    Ok(page(
        StatusCode::FORBIDDEN,
        &Message::new("You cannot sign in", &message),
    ))
}
