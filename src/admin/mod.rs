//! The admin console (`/admin`, server-rendered pages) and the JSON admin API (`/api/v1`).
//! Both call the directory; neither writes SQL of its own.
//!
//! Who may do what:
//! - a platform admin (email and password) sees every organisation;
//! - a customer admin (a user of the organisation, named admin or in its `admin_group`,
//!   signed in through its own SSO) sees its own organisation only;
//! - a setup link opens one organisation's connections and tokens, nothing else.

pub mod assets;
pub mod console;
pub mod event_words;
pub mod events;
pub mod events_csv;
pub mod groups;
pub mod login;
pub mod ops;
pub mod orgs;
pub mod user_actions;
pub mod users;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(login::home))
        .route("/admin/", get(login::home))
        .route("/admin/assets/console.css", get(assets::css))
        .route("/admin/assets/console.js", get(assets::js))
        .route("/admin/login", get(login::show).post(login::submit))
        .route("/admin/login/sso", post(login::sso_start))
        .route("/admin/sso", get(login::sso_finish))
        .route("/admin/logout", post(login::logout))
        .route(
            "/admin/first-admin",
            get(login::first_admin_form).post(login::first_admin_submit),
        )
        .route("/admin/setup", post(login::setup_link_use))
        .route("/admin/setup/{token}", get(login::setup_link_show))
        .route("/admin/orgs", get(orgs::list).post(orgs::create))
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
