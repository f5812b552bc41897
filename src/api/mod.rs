//! The JSON admin API, `/api/v1/...`: what the console does, for automation. Callers
//! authenticate with an admin API key ([`auth`]); every answer is JSON, errors included
//! ([`error`]); every change goes through the directory and into the event log with the
//! key as actor. `docs/api.md` documents each endpoint.

pub mod auth;
pub mod changes;
pub mod connections;
pub mod domains;
pub mod error;
pub mod events;
pub mod extract;
pub mod groups;
pub mod keys;
pub mod orgs;
pub mod tokens;
pub mod users;
pub mod webhooks;

use axum::routing::{any, delete, get, post};
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs", get(orgs::list).post(orgs::create))
        .route("/api/v1/orgs/{slug}", get(orgs::show))
        .route(
            "/api/v1/orgs/{slug}/settings",
            axum::routing::patch(orgs::patch_settings),
        )
        .route("/api/v1/orgs/{slug}/domains", get(domains::list))
        .route(
            "/api/v1/orgs/{slug}/domains/{domain}/check",
            post(domains::check),
        )
        .route(
            "/api/v1/orgs/{slug}/domains/{domain}/approve",
            post(domains::approve),
        )
        .route(
            "/api/v1/orgs/{slug}/saml",
            get(connections::saml_show).put(connections::saml_put),
        )
        .route(
            "/api/v1/orgs/{slug}/oidc",
            get(connections::oidc_show).put(connections::oidc_put),
        )
        .route(
            "/api/v1/orgs/{slug}/tokens",
            get(tokens::list).post(tokens::create),
        )
        .route("/api/v1/orgs/{slug}/tokens/{id}", delete(tokens::revoke))
        .route("/api/v1/orgs/{slug}/users", get(users::list))
        .route(
            "/api/v1/orgs/{slug}/users/{id}",
            get(users::show).delete(users::erase),
        )
        .route(
            "/api/v1/orgs/{slug}/users/{id}/deactivate",
            post(users::deactivate),
        )
        .route(
            "/api/v1/orgs/{slug}/users/{id}/reactivate",
            post(users::reactivate),
        )
        .route(
            "/api/v1/orgs/{slug}/users/{id}/sign-out",
            post(users::sign_out),
        )
        .route("/api/v1/orgs/{slug}/groups", get(groups::list))
        .route("/api/v1/orgs/{slug}/groups/{id}", get(groups::show))
        .route("/api/v1/orgs/{slug}/events", get(events::list))
        .route("/api/v1/orgs/{slug}/changes", get(changes::list))
        .route("/api/v1/orgs/{slug}/snapshot", get(changes::snapshot))
        .route(
            "/api/v1/orgs/{slug}/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/orgs/{slug}/webhooks/{id}",
            get(webhooks::show)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/api/v1/orgs/{slug}/webhooks/{id}/rotate",
            post(webhooks::rotate),
        )
        .route(
            "/api/v1/orgs/{slug}/webhooks/{id}/test",
            post(webhooks::test),
        )
        .route(
            "/api/v1/orgs/{slug}/webhooks/{id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/api/v1/api-keys", get(keys::list).post(keys::create))
        .route("/api/v1/api-keys/{id}", delete(keys::revoke))
        .route("/api/v1", any(error::no_endpoint))
        .route("/api/v1/", any(error::no_endpoint))
        .route("/api/v1/{*rest}", any(error::no_endpoint))
        .layer(axum::middleware::from_fn(error::api_guard))
}
