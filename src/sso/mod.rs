//! The SSO door. SAML and OIDC only turn protocol messages into an [`Assertion`];
//! [`sign_in::respond`] hands it to [`crate::directory::Directory::sign_in`], which decides
//! which user that is, or refuses, and records what happened, and answers the browser.

pub mod flood;
pub mod oidc;
pub mod return_to;
pub mod saml;
pub mod sign_in;

use crate::directory::{self, orgs::Org};
use crate::state::AppState;

pub use crate::directory::sign_in::{Assertion, LoginError, Refusal};

/// The organisation a browser path names, or a page that says there is none.
pub async fn org_page(state: &AppState, slug: &str) -> Result<Org, crate::web::pages::PageError> {
    state.directory.org_by_slug(slug).await?.ok_or_else(|| {
        crate::web::pages::PageError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Unknown organisation",
            format!("No organisation is called {slug:?}."),
        )
    })
}

/// Where the browser goes to sign in to an organisation: its SAML login route, else its
/// OIDC one, or None while it has no identity provider connected.
pub async fn sign_in_url(
    state: &AppState,
    org: &Org,
    return_to: &str,
) -> Result<Option<String>, directory::Error> {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    if state.directory.saml_connection(org.id).await?.is_some() {
        return Ok(Some(format!("/saml/{}/login?{query}", org.slug)));
    }
    if state.directory.oidc_connection(org.id).await?.is_some() {
        return Ok(Some(format!("/oidc/{}/login?{query}", org.slug)));
    }
    Ok(None)
}
