//! The admin console (`/admin`, server-rendered pages) and the JSON admin API (`/api/v1`).
//! Both call the directory; neither writes SQL of its own.
//!
//! Who may do what:
//! - a platform admin (email and password) sees every organisation;
//! - a customer admin (a user of the organisation, named admin or in its `admin_group`,
//!   signed in through its own SSO) sees its own organisation only;
//! - a setup link opens one organisation's connections and tokens, nothing else.

pub mod account;
pub mod api_keys;
pub mod assets;
pub mod console;
pub mod event_words;
pub mod events;
pub mod events_csv;
pub mod groups;
pub mod login;
pub mod ops;
pub mod orgs;
pub mod settings;
pub mod setup;
pub mod setup_domains;
pub mod setup_links;
pub mod setup_oidc;
pub mod setup_saml;
pub mod setup_tokens;
pub mod user_actions;
pub mod users;
pub mod webhooks;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;
use crate::web::pages::PageError;

/// Console paths answer with pages, failures included: a rejection that axum writes as
/// plain text (a form that is not a form, a missing field) becomes a page that says so.
async fn pages_only(req: Request, next: Next) -> Response {
    as_page(next.run(req).await)
}

/// A console page for an error response that is not a page already; anything else passes
/// unchanged. The server's outer layers use it too, for what they answer themselves.
pub fn as_page(response: Response) -> Response {
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_html {
        return response;
    }
    let message = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::BAD_REQUEST => {
            "The form could not be read. Go back, reload the page and try again."
        }
        StatusCode::PAYLOAD_TOO_LARGE => "What you sent is larger than this server accepts.",
        StatusCode::METHOD_NOT_ALLOWED => "This address does not take that kind of request.",
        _ => "The server could not finish this request.",
    };
    let title = status.canonical_reason().unwrap_or("Request refused");
    PageError::new(status, title, message)
        .back_to("/admin", "Back to the console")
        .into_response()
}

pub fn router() -> Router<AppState> {
    routes().layer(axum::middleware::from_fn(pages_only))
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(login::home))
        .route("/admin/", get(login::home))
        .route("/admin/assets/console.css", get(assets::css))
        .route("/admin/assets/console.js", get(assets::js))
        .route("/admin/login", get(login::show).post(login::submit))
        .route("/admin/login/sso", post(login::sso_start))
        .route("/admin/sso", get(login::sso_finish))
        .route("/admin/logout", post(login::logout))
        .route("/admin/account", get(account::show))
        .route("/admin/account/password", post(account::change))
        .route("/admin/account/reset", post(account::reset))
        .route(
            "/admin/first-admin",
            get(login::first_admin_form).post(login::first_admin_submit),
        )
        .route(
            "/admin/setup",
            get(login::setup_link_page).post(login::setup_link_use),
        )
        .route("/admin/setup/{token}", get(login::setup_link_show))
        .route("/admin/orgs", get(orgs::list).post(orgs::create))
        .route("/admin/orgs/{slug}", get(setup::show))
        .route("/admin/orgs/{slug}/domains", post(setup_domains::save))
        .route(
            "/admin/orgs/{slug}/domains/{domain}/check",
            post(setup_domains::check),
        )
        .route(
            "/admin/orgs/{slug}/domains/{domain}/approve",
            post(setup_domains::approve),
        )
        .route("/admin/orgs/{slug}/admins", post(setup::admins))
        .route("/admin/orgs/{slug}/tokens", post(setup_tokens::create))
        .route(
            "/admin/orgs/{slug}/tokens/{id}/revoke",
            post(setup_tokens::revoke),
        )
        .route("/admin/orgs/{slug}/saml", post(setup_saml::save))
        .route("/admin/orgs/{slug}/oidc", post(setup_oidc::save))
        .route("/admin/orgs/{slug}/setup-links", post(setup_links::create))
        .route(
            "/admin/orgs/{slug}/setup-links/{id}/revoke",
            post(setup_links::revoke),
        )
        .route(
            "/admin/orgs/{slug}/settings",
            get(settings::show).post(settings::save),
        )
        .route(
            "/admin/api-keys",
            get(api_keys::platform_page).post(api_keys::platform_create),
        )
        .route("/admin/api-keys/{id}/revoke", post(api_keys::revoke))
        .route(
            "/admin/orgs/{slug}/api-keys",
            get(api_keys::org_page).post(api_keys::org_create),
        )
        .route(
            "/admin/orgs/{slug}/webhooks",
            get(webhooks::show).post(webhooks::create),
        )
        .route(
            "/admin/orgs/{slug}/webhooks/{id}/{action}",
            post(webhooks::act),
        )
        .route("/admin/orgs/{slug}/users", get(users::list))
        .route("/admin/orgs/{slug}/users/{id}", get(users::show))
        .route(
            "/admin/orgs/{slug}/users/{id}/deactivate",
            post(user_actions::deactivate),
        )
        .route(
            "/admin/orgs/{slug}/users/{id}/reactivate",
            post(user_actions::reactivate),
        )
        .route(
            "/admin/orgs/{slug}/users/{id}/sign-out",
            post(user_actions::sign_out),
        )
        .route(
            "/admin/orgs/{slug}/users/{id}/erase",
            post(user_actions::erase),
        )
        .route("/admin/orgs/{slug}/groups", get(groups::list))
        .route("/admin/orgs/{slug}/groups/{id}", get(groups::show))
        .route("/admin/orgs/{slug}/events", get(events::list))
        .route("/admin/orgs/{slug}/events.csv", get(events_csv::download))
}
